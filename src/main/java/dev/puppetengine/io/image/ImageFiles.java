package dev.puppetengine.io.image;

import dev.puppetengine.io.AtomicFile;
import dev.puppetengine.io.InputFileException;

import javax.imageio.IIOException;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.ComponentColorModel;
import java.awt.image.Raster;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Reads still images (PNG, JPEG, BMP, TIFF, the first frame of a GIF; anything javax.imageio decodes) into 8-bit
 * RGBA the way PIL would see them, and writes PNGs and directories of PNG frames atomically.
 *
 * <p>Pixel values come from the decoded samples, not through Java2D's colour management, because PIL
 * applies none: grey is replicated to R=G=B (Java2D would treat it as linear grey and brighten it), an
 * embedded ICC profile is ignored (a JPEG's is dropped before decoding: the JDK's reader would convert from it),
 * and 16-bit samples keep their high byte (PIL's "RGB;16B" unpacking). Palette images go through their palette,
 * CMYK (and YCCK) JPEGs through PIL's arithmetic CMYK -> RGB (Java2D's CMYK colour space takes ink as linear
 * light and washes them out). A JPEG cut short is refused, as PIL refuses it (the JDK's decoder only warns, and
 * completes it in grey). JPEG decoding is the JDK's libjpeg; it can differ from PIL's libjpeg-turbo by a unit
 * here and there, so only lossless formats are bit-exact end to end.
 */
public final class ImageFiles {
    /** What {@link #readRgba} reads: the formats the JDK's javax.imageio decodes (and WBMP, which has no signature to tell it by). */
    private static final String FORMATS = "PNG, JPEG, GIF, BMP or TIFF";

    private ImageFiles() {}

    /** The image as RGBA; without an alpha channel every pixel is opaque. Errors name the file. */
    public static RgbaImage readRgba(Path file) throws IOException {
        if (Files.isDirectory(file)) throw new InputFileException("cannot read image " + file + ": it is a directory, not an image file");
        if (!Files.isRegularFile(file)) throw new NoSuchFileException(file.toString(), null, "no such image file");
        if (Files.size(file) == 0) throw new InputFileException("cannot read image " + file + ": the file is empty");
        // ImageIO gives no stream, and no reason, for a file it may not read
        if (!Files.isReadable(file)) throw new AccessDeniedException(file.toString(), null, "permission denied");
        try (ImageInputStream opened = ImageIO.createImageInputStream(file.toFile())) {
            if (opened == null) throw new InputFileException("cannot open image " + file);
            ImageReader reader = readerFor(opened, file);
            try {
                ImageInputStream in = isJpeg(reader) ? withoutIccProfile(opened, file) : opened;   // in memory, when a copy: no close
                reader.setInput(in);
                if (reader.getFormatName().equalsIgnoreCase("gif")) return GifFiles.decode(reader, file, 1).get(0).image();
                int w = reader.getWidth(0), h = reader.getHeight(0);
                checkSize(file, w, h);
                List<String> truncated = new ArrayList<>();
                // the JPEG decoder only warns about a cut file, and fills what is missing with grey; PIL refuses it
                reader.addIIOReadWarningListener((r, warning) -> { if (warning.startsWith("Truncated File")) truncated.add(warning); });
                BufferedImage img = reader.read(0);
                if (!truncated.isEmpty()) throw new IIOException(truncated.get(0));
                return toRgba(img);
            } catch (IIOException | EOFException | RuntimeException e) {
                // Decoders report corrupt input with arbitrary runtime exceptions, and a truncated one (BMP's) with a bare
                // EOFException; all of them are bad-file errors.
                throw unreadable(file, reader, e);
            } finally {
                reader.dispose();
            }
        }
    }

    /** The image composited onto white (spec 1.2; opaque images are returned unchanged). */
    public static RgbImage readRgb(Path file) throws IOException {
        return readRgba(file).compositeOntoWhite();
    }

    /** Writes a PNG atomically (temporary file, fsync, rename). */
    public static void writePng(Path file, RgbImage image) throws IOException {
        AtomicFile.writeBytes(file, new PngEncoder().encode(image));
    }

    /**
     * Writes {@code frame_000.png, frame_001.png, ...} (at least three digits, more when there are 1000+
     * frames) into a directory that appears complete or not at all. One that exists is replaced whole (no frame of
     * the earlier video stays) when it holds nothing but frames ({@link #holdsOnlyFrames}); a user's files never are.
     */
    public static void writePngFrames(Path dir, List<RgbImage> frames) throws IOException {
        if (frames.isEmpty()) throw new IllegalArgumentException("no frames to write to " + dir);
        String pattern = framePattern(frames.size());
        if (Files.isDirectory(dir) && !holdsOnlyFrames(dir))
            throw new FileAlreadyExistsException(dir.toString(), null, "output directory holds files other than PNG frames (frame_NNN.png); remove them or choose another");
        AtomicFile.replaceDirectory(dir, temp -> {
            PngEncoder png = new PngEncoder();
            for (int i = 0; i < frames.size(); i++) Files.write(temp.resolve(String.format(Locale.ROOT, pattern, i)), png.encode(frames.get(i)));
        });
    }

    /** The format of {@code count} frames' names: three digits, or as many as the last index has. */
    static String framePattern(int count) {
        return "frame_%0" + Math.max(3, String.valueOf(count - 1).length()) + "d.png";
    }

    private static final Pattern FRAME_NAME = Pattern.compile("frame_\\d{3,}\\.png");

    /** Whether {@code dir} holds nothing but {@code frame_NNN.png} files, as {@link #writePngFrames} writes (or nothing). */
    public static boolean holdsOnlyFrames(Path dir) throws IOException {
        try (var entries = Files.list(dir)) {
            return entries.allMatch(p -> FRAME_NAME.matcher(p.getFileName().toString()).matches() && Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS));
        }
    }

    private static boolean isJpeg(ImageReader reader) throws IOException {
        return reader.getOriginatingProvider().getFormatNames()[0].equalsIgnoreCase("jpeg");
    }

    /**
     * The JPEG {@code in} without its ICC profile (APP2 "ICC_PROFILE" segments, which come before the first scan), else {@code in}
     * itself, at its start. With a profile the JDK's reader converts the pixels from it to sRGB (or refuses the file when the profile
     * does not fit it); PIL, and so this class, ignores it.
     */
    static ImageInputStream withoutIccProfile(ImageInputStream in, Path file) throws IOException {
        List<long[]> profile = new ArrayList<>();   // [offset, length] of each segment to drop
        byte[] id = "ICC_PROFILE\0".getBytes(StandardCharsets.US_ASCII);
        in.seek(2);   // after SOI
        while (true) {
            int ff = in.read(), marker = in.read();
            if (ff != 0xff || marker < 0 || marker == 0xda || marker == 0xd9) break;   // not a marker, the end, or the first scan
            if (marker == 0xff) { in.seek(in.getStreamPosition() - 1); continue; }    // a fill byte
            if (marker == 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue;     // no length
            long start = in.getStreamPosition() - 2;
            int length = in.readUnsignedShort();
            if (length < 2) break;
            if (marker == 0xe2 && length >= 2 + id.length) {
                byte[] head = new byte[id.length];
                in.readFully(head);
                if (Arrays.equals(head, id)) profile.add(new long[] {start, 2 + length});
            }
            in.seek(start + 2 + length);
        }
        in.seek(0);
        if (profile.isEmpty()) return in;
        long size = in.length() >= 0 ? in.length() : Files.size(file);
        if (size > Integer.MAX_VALUE - 8) return in;   // too large to copy: left as it is
        byte[] all = new byte[(int) size];
        in.readFully(all);
        in.seek(0);
        ByteArrayOutputStream out = new ByteArrayOutputStream(all.length);
        int at = 0;
        for (long[] segment : profile) {
            out.write(all, at, (int) segment[0] - at);
            at = (int) Math.min(all.length, segment[0] + segment[1]);   // a segment may claim to run past the end
        }
        out.write(all, at, all.length - at);
        return new MemoryCacheImageInputStream(new ByteArrayInputStream(out.toByteArray()));
    }

    static ImageReader readerFor(ImageInputStream in, Path file) throws IOException {
        Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
        if (!readers.hasNext()) {
            String kind = unreadKind(in);
            throw new InputFileException("cannot read image " + file + ": " + (kind == null ? "unsupported or unrecognised format" : "unsupported format: " + kind)
                    + " (expected " + FORMATS + ")");
        }
        return readers.next();
    }

    /** "a WebP image" (HEIF, AVIF, JPEG XL): a common format this class does not read that {@code in} starts as, else null. */
    private static String unreadKind(ImageInputStream in) throws IOException {
        byte[] head = new byte[12];
        in.mark();
        int n;
        try {
            n = in.read(head);
        } finally {
            in.reset();
        }
        String text = new String(head, 0, Math.max(n, 0), StandardCharsets.ISO_8859_1);
        if (n >= 2 && (head[0] & 0xff) == 0xff && head[1] == 0x0a || text.startsWith("\0\0\0\fJXL ")) return "a JPEG XL image";
        if (text.startsWith("RIFF") && text.startsWith("WEBP", 8)) return "a WebP image";
        if (n == 12 && text.startsWith("ftyp", 4)) {
            String brand = text.substring(8, 12);
            if (brand.equals("avif") || brand.equals("avis")) return "an AVIF image";
            if (List.of("heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1").contains(brand)) return "a HEIF (HEIC) image";
        }
        return null;
    }

    /**
     * The most pixels an image may have: PIL's (Image.open refuses more as a decompression bomb), so the reference pipeline
     * takes no image refused here. It keeps the RGBA bytes one Java array, and refuses from the header a kilobyte's JPEG
     * that claims 20000x20000 (the decoder fills what its data lacks with grey, for half a minute).
     */
    static final long MAX_PIXELS = 2L * (1024 * 1024 * 1024 / 4 / 3);

    /** Bytes per pixel a decode holds at its peak: the decoder's raster and the RGBA copy, up to 4 bytes each. */
    static final int DECODE_BYTES_PER_PIXEL = 8;

    /**
     * Refuses a declared size of zero, or one too large to hold, from the header before anything is decoded (else the
     * pixel count overflows and a valid file is reported as corrupt, or a kilobyte's header asks the heap for gigabytes).
     */
    static void checkSize(Path file, int w, int h) throws IOException {
        checkSize(file, w, h, Runtime.getRuntime().maxMemory());
    }

    static void checkSize(Path file, int w, int h, long heap) throws IOException {
        if (w <= 0 || h <= 0) throw zeroSize(file, w, h);
        long pixels = (long) w * h;
        if (pixels > MAX_PIXELS)
            throw new InputFileException("cannot read image " + file + ": " + w + "x" + h + " is too large (" + pixels + " pixels, at most " + MAX_PIXELS + ", PIL's limit)");
        if (pixels * DECODE_BYTES_PER_PIXEL > heap)
            throw new InputFileException("cannot read image " + file + ": " + w + "x" + h + " needs about " + (pixels * DECODE_BYTES_PER_PIXEL >> 20)
                    + " MiB to decode, more than this JVM's " + (heap >> 20) + " MiB heap (raise -Xmx through JAVA_OPTS, or give a smaller image)");
    }

    static IOException zeroSize(Path file, int w, int h) {
        return new InputFileException("cannot read image " + file + ": it has zero size (" + w + "x" + h + ")");
    }

    /** A failure of {@code reader}; a header that declares a zero dimension gets the clearer zero-size message. */
    static IOException unreadable(Path file, ImageReader reader, Exception cause) {
        int[] declared = declaredSize(file);
        if (declared != null && (declared[0] == 0 || declared[1] == 0)) return zeroSize(file, declared[0], declared[1]);
        String format = reader.getOriginatingProvider().getFormatNames()[0].toUpperCase(Locale.ROOT);
        // Java 17.0.3 and older refuse every CMYK and YCCK JPEG so (JDK-8274735, fixed in 17.0.4): not a corrupt file
        if (format.equals("JPEG") && "Unsupported Image Type".equals(cause.getMessage()))
            return new InputFileException("cannot read image " + file + ": a JPEG this Java runtime (" + System.getProperty("java.version")
                    + ") cannot decode (Unsupported Image Type: CMYK and YCCK JPEGs need Java 17.0.4 or newer); use a newer Java, or save the image as RGB", cause);
        String why = cause instanceof EOFException ? "end of file reached" : cause.getMessage() != null ? cause.getMessage() : cause.getClass().getSimpleName();
        return new InputFileException("cannot read image " + file + ": corrupt or truncated " + format + " (" + why + ")", cause);
    }

    /** Width and height from a PNG, GIF or BMP header, or null when the header is not one of those. */
    private static int[] declaredSize(Path file) {
        byte[] head = new byte[26];
        try (InputStream in = Files.newInputStream(file)) {
            if (in.readNBytes(head, 0, head.length) < head.length) return null;
        } catch (IOException e) {
            return null;
        }
        ByteBuffer be = ByteBuffer.wrap(head), le = ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN);
        if ((head[0] & 0xff) == 0x89 && head[1] == 'P' && head[2] == 'N' && head[3] == 'G') return new int[] {be.getInt(16), be.getInt(20)};
        if (head[0] == 'G' && head[1] == 'I' && head[2] == 'F') return new int[] {le.getShort(6) & 0xffff, le.getShort(8) & 0xffff};
        if (head[0] == 'B' && head[1] == 'M') return new int[] {le.getInt(18), Math.abs(le.getInt(22))};
        return null;
    }

    /** Straight-alpha RGBA of a decoded image, from its samples where the colour model allows (see class doc). */
    static RgbaImage toRgba(BufferedImage img) {
        int w = img.getWidth(), h = img.getHeight();
        byte[] out = new byte[w * h * 4];
        ColorModel cm = img.getColorModel();
        if (isCmyk(cm)) {
            // PIL's convert("RGB") of CMYK (Convert.c, cmyk2rgb): R = (255 - K) - C * (255 - K) / 255, rounded as its MULDIV255;
            // no colour management. The JPEG reader gives ink values (it undoes Adobe's inverted storage), as PIL's "CMYK;I" does.
            Raster raster = img.getRaster();
            int[] row = new int[w * 4];
            for (int y = 0; y < h; y++) {
                raster.getPixels(0, y, w, 1, row);
                for (int x = 0, o = y * w * 4; x < w; x++, o += 4) {
                    int nk = 255 - row[4 * x + 3];
                    for (int c = 0; c < 3; c++) {
                        int t = row[4 * x + c] * nk + 128;
                        out[o + c] = (byte) Math.max(0, nk - (((t >> 8) + t) >> 8));
                    }
                    out[o + 3] = (byte) 255;
                }
            }
        } else if (hasPlainSamples(cm)) {
            Raster raster = img.getRaster();
            int bands = raster.getNumBands();
            int colours = cm.getNumColorComponents();
            int shift = cm.getComponentSize(0) - 8;
            int[] row = new int[w * bands];
            for (int y = 0; y < h; y++) {
                raster.getPixels(0, y, w, 1, row);
                for (int x = 0, o = y * w * 4; x < w; x++, o += 4) {
                    int p = x * bands;
                    for (int c = 0; c < 3; c++) out[o + c] = (byte) (row[p + (colours == 1 ? 0 : c)] >> shift);
                    out[o + 3] = cm.hasAlpha() ? (byte) (row[p + colours] >> shift) : (byte) 255;
                }
            }
        } else {
            int[] argb = img.getRGB(0, 0, w, h, null, 0, w);
            for (int i = 0; i < argb.length; i++) {
                out[4 * i] = (byte) (argb[i] >> 16);
                out[4 * i + 1] = (byte) (argb[i] >> 8);
                out[4 * i + 2] = (byte) argb[i];
                out[4 * i + 3] = (byte) (argb[i] >>> 24);
            }
        }
        return new RgbaImage(w, h, out);
    }

    /** Four 8-bit CMYK samples, no alpha (a CMYK or YCCK JPEG as the JDK decodes it, a CMYK TIFF). */
    private static boolean isCmyk(ColorModel cm) {
        if (!(cm instanceof ComponentColorModel) || cm.hasAlpha() || cm.getColorSpace().getType() != ColorSpace.TYPE_CMYK) return false;
        if (cm.getNumComponents() != 4) return false;
        for (int s : cm.getComponentSize()) if (s != 8) return false;
        return true;
    }

    /** One sample per component, 8 or 16 bits, grey or RGB, straight alpha: samples are the pixel values. */
    private static boolean hasPlainSamples(ColorModel cm) {
        if (!(cm instanceof ComponentColorModel) || cm.isAlphaPremultiplied()) return false;
        int type = cm.getColorSpace().getType();
        if (type != ColorSpace.TYPE_GRAY && type != ColorSpace.TYPE_RGB) return false;
        int bits = cm.getComponentSize(0);
        for (int s : cm.getComponentSize()) if (s != bits) return false;
        return bits == 8 || bits == 16;
    }
}
