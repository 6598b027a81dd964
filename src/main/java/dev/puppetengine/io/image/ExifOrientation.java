package dev.puppetengine.io.image;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The EXIF orientation of a JPEG or PNG (tag 0x0112: how a viewer turns the stored pixels before showing them), and
 * that turn applied. {@link ImageFiles} ignores it, as the reference pipeline (PIL's Image.open) does: a photo a phone
 * took upright may be stored sideways, and then the model sees it sideways unless the caller applies the turn.
 */
public final class ExifOrientation {
    /** Tag values 1 to 8; 1 is "as stored". */
    public static final int NORMAL = 1;

    private static final List<String> NAMES = List.of("as stored", "mirrored left to right", "turned 180 degrees",
            "mirrored top to bottom", "mirrored along the main diagonal (transposed)", "turned 90 degrees clockwise",
            "mirrored along the other diagonal (transversed)", "turned 90 degrees counterclockwise");

    private ExifOrientation() {}

    /**
     * The orientation {@code file} records, or {@link #NORMAL} when it records none, or one this cannot read: EXIF is
     * advice to viewers, and damaged advice is no reason to refuse pixels that decode. Read from the file's bytes, not
     * the JDK's metadata, which refuses a JPEG whose EXIF segment comes before its JFIF one.
     */
    public static int of(Path file) throws IOException {
        try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(file)))) {
            byte[] exif = exifBlock(in);
            return exif == null ? NORMAL : fromExif(exif);
        } catch (EOFException cut) {
            return NORMAL;
        }
    }

    /** The longest EXIF block read: IFD0, which holds the orientation, comes first; the rest (a thumbnail, say) is not needed. */
    private static final int MAX_BLOCK = 1 << 20;

    /** A JPEG's APP1 "Exif" segment (among those before its scan) or a PNG's eXIf chunk; null for none, or another format. */
    private static byte[] exifBlock(DataInputStream in) throws IOException {
        int a = in.readUnsignedByte(), b = in.readUnsignedByte();
        if (a == 0xff && b == 0xd8) {   // JPEG: segments FF <marker> <length counting itself> <payload>
            while (true) {
                if (in.readUnsignedByte() != 0xff) return null;
                int marker = in.readUnsignedByte();
                while (marker == 0xff) marker = in.readUnsignedByte();   // fill bytes
                if (marker == 0xda || marker == 0xd9) return null;       // the scan (or the end): metadata comes before it
                if (marker == 0x01 || marker >= 0xd0 && marker <= 0xd8) continue;   // markers without a payload
                int length = in.readUnsignedShort() - 2;
                if (length < 0) return null;
                byte[] payload = in.readNBytes(length);
                if (marker == 0xe1 && payload.length > 6 && new String(payload, 0, 6, StandardCharsets.ISO_8859_1).equals("Exif\0\0")) return payload;
            }
        }
        if (a == 0x89 && b == 'P') {   // PNG: after the 8-byte signature, chunks <length> <type> <data> <CRC>
            in.skipNBytes(6);
            while (true) {
                long length = in.readInt() & 0xffffffffL;
                String type = new String(in.readNBytes(4), StandardCharsets.ISO_8859_1);
                if (type.equals("IEND")) return null;
                if (type.equals("eXIf")) return in.readNBytes((int) Math.min(length, MAX_BLOCK));
                in.skipNBytes(length + 4);
            }
        }
        return null;
    }

    /**
     * The orientation tag of IFD0 in an EXIF block: a TIFF header ("II" or "MM", 42, the IFD's offset), after the
     * "Exif\0\0" that JPEG's APP1 (and some PNG writers) put first. Anything out of bounds or off the format gives NORMAL.
     */
    static int fromExif(byte[] exif) {
        int tiff = exif.length >= 6 && exif[0] == 'E' && exif[1] == 'x' && exif[2] == 'i' && exif[3] == 'f' && exif[4] == 0 && exif[5] == 0 ? 6 : 0;
        if (exif.length - tiff < 8) return NORMAL;
        ByteBuffer b = ByteBuffer.wrap(exif);
        if (exif[tiff] == 'I' && exif[tiff + 1] == 'I') b.order(ByteOrder.LITTLE_ENDIAN);
        else if (exif[tiff] != 'M' || exif[tiff + 1] != 'M') return NORMAL;
        if ((b.getShort(tiff + 2) & 0xffff) != 42) return NORMAL;
        long ifd = tiff + (b.getInt(tiff + 4) & 0xffffffffL);
        if (ifd + 2 > exif.length) return NORMAL;
        int entries = b.getShort((int) ifd) & 0xffff;
        for (int i = 0; i < entries; i++) {
            long e = ifd + 2 + 12L * i;
            if (e + 12 > exif.length) return NORMAL;
            int at = (int) e;
            if ((b.getShort(at) & 0xffff) != 0x0112) continue;
            int type = b.getShort(at + 2) & 0xffff, value = b.getShort(at + 8) & 0xffff;   // SHORT, count 1: the value sits in the entry
            return type == 3 && b.getInt(at + 4) == 1 && value >= 1 && value <= 8 ? value : NORMAL;
        }
        return NORMAL;
    }

    /** How a viewer shows an image with {@code orientation}, in words ("turned 90 degrees clockwise"). */
    public static String describe(int orientation) {
        check(orientation);
        return NAMES.get(orientation - 1);
    }

    /** {@code image} as a viewer shows it: transposing orientations (5 to 8) swap width and height. */
    public static RgbImage apply(RgbImage image, int orientation) {
        check(orientation);
        if (orientation == NORMAL) return image;
        int w = image.width(), h = image.height();
        boolean swap = orientation >= 5;
        int ow = swap ? h : w, oh = swap ? w : h;
        byte[] src = image.pixels(), out = new byte[src.length];
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++) {
                // the stored pixel that shows at (x, y)
                int sx, sy;
                switch (orientation) {
                    case 2 -> { sx = w - 1 - x; sy = y; }
                    case 3 -> { sx = w - 1 - x; sy = h - 1 - y; }
                    case 4 -> { sx = x; sy = h - 1 - y; }
                    case 5 -> { sx = y; sy = x; }
                    case 6 -> { sx = y; sy = h - 1 - x; }
                    case 7 -> { sx = w - 1 - y; sy = h - 1 - x; }
                    default -> { sx = w - 1 - y; sy = x; }   // 8
                }
                System.arraycopy(src, (sy * w + sx) * 3, out, (y * ow + x) * 3, 3);
            }
        return new RgbImage(ow, oh, out);
    }

    private static void check(int orientation) {
        if (orientation < 1 || orientation > 8) throw new IllegalArgumentException("EXIF orientation must be 1 to 8, got " + orientation);
    }
}
