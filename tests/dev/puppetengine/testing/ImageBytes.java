package dev.puppetengine.testing;

import dev.puppetengine.io.image.RgbImage;

import javax.imageio.ImageIO;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32;

/** Image files made byte by byte: ones that carry an EXIF orientation tag (JPEG APP1, PNG eXIf), and header-only PNGs. */
public final class ImageBytes {
    private ImageBytes() {}

    /** A TIFF block (IFD0 with a SHORT orientation entry after a dummy one) in the given byte order. */
    public static byte[] tiff(int orientation, ByteOrder order) {
        ByteBuffer b = ByteBuffer.allocate(8 + 2 + 2 * 12 + 4).order(order);
        b.put(order == ByteOrder.LITTLE_ENDIAN ? (byte) 'I' : (byte) 'M').put(order == ByteOrder.LITTLE_ENDIAN ? (byte) 'I' : (byte) 'M')
                .putShort((short) 42).putInt(8).putShort((short) 2);
        b.putShort((short) 0x010f).putShort((short) 2).putInt(4).put("Cam\0".getBytes(StandardCharsets.US_ASCII));   // Make, inline
        b.putShort((short) 0x0112).putShort((short) 3).putInt(1).putShort((short) orientation).putShort((short) 0);
        b.putInt(0);   // no next IFD
        return b.array();
    }

    /** A baseline JPEG of {@code img} with an APP1 "Exif" segment holding {@code tiff}, right after its SOI marker. */
    public static byte[] jpeg(RgbImage img, byte[] tiff) throws IOException {
        ByteArrayOutputStream plain = new ByteArrayOutputStream();
        if (!ImageIO.write(img.toBufferedImage(), "jpg", plain)) throw new IOException("no JPEG writer");
        byte[] j = plain.toByteArray();
        byte[] payload = concat("Exif\0\0".getBytes(StandardCharsets.US_ASCII), tiff);
        ByteBuffer app1 = ByteBuffer.allocate(4 + payload.length).put((byte) 0xff).put((byte) 0xe1).putShort((short) (payload.length + 2)).put(payload);
        return concat(concat(java.util.Arrays.copyOf(j, 2), app1.array()), java.util.Arrays.copyOfRange(j, 2, j.length));
    }

    /** A PNG of {@code img} with an eXIf chunk holding {@code tiff} right after IHDR (before the pixels, as the chunk's spec asks). */
    public static byte[] png(RgbImage img, byte[] tiff) throws IOException {
        ByteArrayOutputStream plain = new ByteArrayOutputStream();
        if (!ImageIO.write(img.toBufferedImage(), "png", plain)) throw new IOException("no PNG writer");
        byte[] p = plain.toByteArray();
        int afterIhdr = PNG_SIGNATURE.length + 4 + 4 + 13 + 4;
        return concat(concat(java.util.Arrays.copyOf(p, afterIhdr), pngChunk("eXIf", tiff)), java.util.Arrays.copyOfRange(p, afterIhdr, p.length));
    }

    private static final byte[] PNG_SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

    /** A PNG chunk: length, type, data and the CRC of type and data. */
    private static byte[] pngChunk(String type, byte[] data) {
        byte[] t = type.getBytes(StandardCharsets.US_ASCII);
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(data);
        return ByteBuffer.allocate(12 + data.length).putInt(data.length).put(t).put(data).putInt((int) crc.getValue()).array();
    }

    /** A PNG of only an IHDR that declares a width x height 8-bit RGB image (valid CRCs: only the size can be wrong), and IEND. */
    public static byte[] headerOnlyPng(int width, int height) {
        byte[] ihdr = ByteBuffer.allocate(13).putInt(width).putInt(height).put(new byte[]{8, 2, 0, 0, 0}).array();
        return concat(concat(PNG_SIGNATURE, pngChunk("IHDR", ihdr)), pngChunk("IEND", new byte[0]));
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
