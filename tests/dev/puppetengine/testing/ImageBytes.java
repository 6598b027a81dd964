package dev.puppetengine.testing;

import dev.puppetengine.io.image.RgbImage;

import java.awt.image.BufferedImage;
import java.awt.image.DataBuffer;
import java.awt.image.Raster;
import java.awt.image.WritableRaster;
import javax.imageio.ImageIO;
import javax.imageio.metadata.IIOMetadataNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.zip.CRC32;
import javax.imageio.IIOImage;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.stream.ImageOutputStream;

/**
 * Image files made byte by byte: ones that carry an EXIF orientation tag (JPEG APP1, PNG eXIf), header-only PNGs, JPEGs with an
 * ICC profile, and four-component (CMYK, YCCK) JPEGs as Photoshop writes them.
 */
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
        return concat(concat(Arrays.copyOf(j, 2), app1.array()), Arrays.copyOfRange(j, 2, j.length));
    }

    /** A PNG of {@code img} with an eXIf chunk holding {@code tiff} right after IHDR (before the pixels, as the chunk's spec asks). */
    public static byte[] png(RgbImage img, byte[] tiff) throws IOException {
        ByteArrayOutputStream plain = new ByteArrayOutputStream();
        if (!ImageIO.write(img.toBufferedImage(), "png", plain)) throw new IOException("no PNG writer");
        byte[] p = plain.toByteArray();
        int afterIhdr = PNG_SIGNATURE.length + 4 + 4 + 13 + 4;
        return concat(concat(Arrays.copyOf(p, afterIhdr), pngChunk("eXIf", tiff)), Arrays.copyOfRange(p, afterIhdr, p.length));
    }

    /** {@code jpeg} with an APP2 "ICC_PROFILE" segment holding {@code profile} after its first segment (ImageIO's APP0, or {@link #jpeg}'s APP1). */
    public static byte[] withIccProfile(byte[] jpeg, byte[] profile) {
        byte[] id = "ICC_PROFILE\0".getBytes(StandardCharsets.US_ASCII);
        ByteBuffer app2 = ByteBuffer.allocate(4 + id.length + 2 + profile.length).put((byte) 0xff).put((byte) 0xe2)
                .putShort((short) (2 + id.length + 2 + profile.length)).put(id).put((byte) 1).put((byte) 1).put(profile);   // chunk 1 of 1
        int afterApp0 = 4 + ((jpeg[4] & 0xff) << 8 | (jpeg[5] & 0xff));
        return concat(concat(Arrays.copyOf(jpeg, afterApp0), app2.array()), Arrays.copyOfRange(jpeg, afterApp0, jpeg.length));
    }

    /**
     * A w x h four-component JPEG whose every pixel stores {@code stored} (C, M, Y, K as the file holds them: Adobe's inverted
     * convention, 255 = no ink), with an Adobe APP14 marker and no JFIF, at quality 1. {@code ycck}: encoded as YCCK (Adobe
     * transform 2: the inverted C, M, Y taken as R, G, B and turned to YCbCr, as libjpeg does), else as plain CMYK (transform 0).
     */
    public static byte[] cmykJpeg(int w, int h, int[] stored, boolean ycck) throws IOException {
        int[] samples = stored.clone();
        if (ycck) {   // libjpeg's cmyk_ycck_convert: r = 255 - C, ...; then JFIF's RGB -> YCbCr
            double r = 255 - stored[0], g = 255 - stored[1], b = 255 - stored[2];
            samples[0] = (int) Math.round(0.299 * r + 0.587 * g + 0.114 * b);
            samples[1] = (int) Math.round(-0.168736 * r - 0.331264 * g + 0.5 * b + 128);
            samples[2] = (int) Math.round(0.5 * r - 0.418688 * g - 0.081312 * b + 128);
        }
        WritableRaster raster = Raster.createInterleavedRaster(DataBuffer.TYPE_BYTE, w, h, 4, null);
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) raster.setPixel(x, y, samples);
        ImageWriter writer = ImageIO.getImageWritersByFormatName("jpeg").next();
        try {
            ImageWriteParam param = writer.getDefaultWriteParam();
            param.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
            param.setCompressionQuality(1f);
            IIOMetadata meta = writer.getDefaultImageMetadata(
                    ImageTypeSpecifier.createFromBufferedImageType(BufferedImage.TYPE_3BYTE_BGR), param);
            String format = "javax_imageio_jpeg_image_1.0";
            IIOMetadataNode root = (IIOMetadataNode) meta.getAsTree(format);
            IIOMetadataNode variety = (IIOMetadataNode) root.getElementsByTagName("JPEGvariety").item(0);
            while (variety.hasChildNodes()) variety.removeChild(variety.getFirstChild());   // no JFIF: it would say YCbCr
            IIOMetadataNode markers = (IIOMetadataNode) root.getElementsByTagName("markerSequence").item(0);
            IIOMetadataNode adobe = new IIOMetadataNode("app14Adobe");
            adobe.setAttribute("version", "101");
            adobe.setAttribute("flags0", "0");
            adobe.setAttribute("flags1", "0");
            adobe.setAttribute("transform", ycck ? "2" : "0");
            markers.insertBefore(adobe, markers.getFirstChild());
            IIOMetadataNode sof = (IIOMetadataNode) root.getElementsByTagName("sof").item(0), sos = (IIOMetadataNode) root.getElementsByTagName("sos").item(0);
            while (sof.hasChildNodes()) sof.removeChild(sof.getFirstChild());
            while (sos.hasChildNodes()) sos.removeChild(sos.getFirstChild());
            sof.setAttribute("numFrameComponents", "4");
            sos.setAttribute("numScanComponents", "4");
            for (int c = 0; c < 4; c++) {
                String table = ycck && (c == 1 || c == 2) ? "1" : "0";   // chroma tables for Cb and Cr only
                IIOMetadataNode component = new IIOMetadataNode("componentSpec");
                component.setAttribute("componentId", String.valueOf(c + 1));
                component.setAttribute("HsamplingFactor", "1");
                component.setAttribute("VsamplingFactor", "1");
                component.setAttribute("QtableSelector", table);
                sof.appendChild(component);
                IIOMetadataNode scan = new IIOMetadataNode("scanComponentSpec");
                scan.setAttribute("componentSelector", String.valueOf(c + 1));
                scan.setAttribute("dcHuffTable", table);
                scan.setAttribute("acHuffTable", table);
                sos.appendChild(scan);
            }
            meta.setFromTree(format, root);
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (ImageOutputStream out = ImageIO.createImageOutputStream(bytes)) {
                writer.setOutput(out);
                writer.write(null, new IIOImage(raster, null, meta), param);
            }
            return bytes.toByteArray();
        } finally {
            writer.dispose();
        }
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
        byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
