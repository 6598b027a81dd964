package dev.puppetengine.train.data;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.ImageOutputStream;
import javax.imageio.stream.MemoryCacheImageOutputStream;
import java.awt.image.BufferedImage;
import java.awt.image.DataBufferInt;
import java.awt.image.Raster;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Path;

/**
 * 8-bit RGB PNG encoding and decoding of (H, W, 3) byte images. An encoder instance reuses one ImageIO
 * writer and an in-memory stream: {@code ImageIO.write} looks up a writer and goes through a disk cache on
 * every call, which costs about four times as much for the small frames of a clip dataset.
 */
public final class Png {
    private final ImageWriter writer = ImageIO.getImageWritersByFormatName("png").next();
    private final ImageWriteParam param = writer.getDefaultWriteParam();

    public Png() {
        // Mid compression: files within 1% of the smallest, twice as fast to write.
        param.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
        param.setCompressionQuality(0.5f);
    }

    /** Encodes {@code rgb} (height, width, 3), row-major, starting at {@code offset}. Not thread-safe. */
    public byte[] encode(byte[] rgb, int offset, int width, int height) throws IOException {
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        int[] px = ((DataBufferInt) img.getRaster().getDataBuffer()).getData();
        for (int i = 0, o = offset; i < px.length; i++, o += 3)
            px[i] = (rgb[o] & 0xff) << 16 | (rgb[o + 1] & 0xff) << 8 | (rgb[o + 2] & 0xff);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(width * height);
        try (ImageOutputStream out = new MemoryCacheImageOutputStream(bytes)) {
            writer.setOutput(out);
            writer.write(null, new IIOImage(img, null, null), param);
        }
        return bytes.toByteArray();
    }

    /** Decodes an 8-bit RGB PNG of the given size into {@code rgb} at {@code offset}; any other image is an error naming the file. */
    public static void decode(Path file, int width, int height, byte[] rgb, int offset) throws IOException {
        BufferedImage img = ImageIO.read(file.toFile());
        if (img == null) throw new IOException(file + ": not a readable PNG image");
        if (img.getWidth() != width || img.getHeight() != height)
            throw new IOException(file + ": expected " + width + "x" + height + " pixels, found " + img.getWidth() + "x" + img.getHeight());
        Raster r = img.getRaster();
        if (r.getNumBands() != 3 || img.getColorModel().getComponentSize(0) != 8)
            throw new IOException(file + ": expected 8-bit RGB without alpha, found " + r.getNumBands() + " bands of "
                    + img.getColorModel().getComponentSize(0) + " bits");
        int[] samples = r.getPixels(0, 0, width, height, (int[]) null);
        for (int i = 0; i < samples.length; i++) rgb[offset + i] = (byte) samples[i];
    }
}
