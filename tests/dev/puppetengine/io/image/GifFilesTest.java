package dev.puppetengine.io.image;

import dev.puppetengine.io.InputFileException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Node;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.ImageWriter;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.ImageOutputStream;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

class GifFilesTest {
    @TempDir
    Path dir;

    @Test
    void roundTripKeepsFramesDelaysAndLoopsForever() throws IOException {
        // Few colours, so the writer's palette holds them exactly and the round trip is lossless.
        List<RgbImage> frames = List.of(solid(16, 12, 255, 0, 0), solid(16, 12, 0, 128, 255), ImageFilesTest.pattern(16, 12).crop(0, 0, 16, 12));
        quantise(frames.get(2));
        Path file = dir.resolve("anim.gif");
        GifFiles.write(file, new Animation(frames, List.of(100, 250, 40)));

        Animation back = GifFiles.read(file);
        assertEquals(3, back.frames().size());
        assertEquals(16, back.width());
        assertEquals(12, back.height());
        assertEquals(List.of(100, 250, 40), back.delaysMs());
        for (int i = 0; i < 3; i++) assertArrayEquals(frames.get(i).pixels(), back.frames().get(i).pixels(), "frame " + i);
        assertEquals("NETSCAPE2.0 loop 0", loopExtension(file));
        try (var files = Files.list(dir)) {
            assertEquals(List.of(file), files.toList());
        }
    }

    /** Refused before any frame is decoded: a DragAMove example's GIF of a hundred thousand tiny frames was decoded whole, each held at its screen's size. */
    @Test
    void moreFramesThanExpectedAreRefusedNamingTheFile() throws IOException {
        Path file = dir.resolve("long.gif");
        GifFiles.write(file, new Animation(List.of(solid(4, 4, 255, 0, 0), solid(4, 4, 0, 0, 255), solid(4, 4, 0, 255, 0)), List.of(100, 100, 100)));
        assertEquals(file + " has 3 frames but 2 were expected", assertThrows(IOException.class, () -> GifFiles.read(file, 2, "2 were expected")).getMessage());
        assertEquals(3, GifFiles.read(file, 3, "3 were expected").frames().size());
    }

    /** Browsers play a delay of 0 or 10 ms at about 100 ms: the shortest stored is 20 ms (50 fps). */
    @Test
    void delaysShorterThanBrowsersHonourAreStoredAs20Ms() throws IOException {
        List<RgbImage> frames = List.of(solid(4, 4, 255, 0, 0), solid(4, 4, 0, 0, 255), solid(4, 4, 0, 255, 0), solid(4, 4, 0, 0, 0));
        Path file = dir.resolve("fast.gif");
        GifFiles.write(file, new Animation(frames, List.of(0, 10, 14, 30)));
        assertEquals(List.of(20, 20, 20, 30), GifFiles.read(file).delaysMs());
    }

    @Test
    void partialFramesWrittenByPillowCompositeAsPillowShowsThem() throws IOException {
        Animation anim = GifFiles.read(Fixtures.path("gif/pil_partial.gif"));
        RgbImage strip = ImageFiles.readRgb(Fixtures.path("gif/pil_partial_frames.png"));
        assertEquals(List.of(100, 200, 50, 100, 300), anim.delaysMs());
        for (int i = 0; i < 5; i++) {
            assertArrayEquals(strip.crop(0, 30 * i, 40, 30).pixels(), anim.frames().get(i).pixels(), "frame " + i);
        }
    }

    @Test
    void disposalMethodsAreApplied() throws IOException {
        Path file = dir.resolve("disposal.gif");
        writeRaw(file, new Object[][] {
                {solid(4, 4, 255, 0, 0), 0, 0, "none"},
                {solid(2, 2, 0, 0, 255), 1, 1, "restoreToPrevious"},
                {solid(1, 1, 0, 255, 0), 0, 0, "restoreToBackgroundColor"},
                {solid(1, 1, 0, 255, 0), 3, 3, "none"},
        });
        List<RgbImage> f = GifFiles.read(file).frames();
        assertEquals(0, f.get(1).get(1, 1, 0)); // blue square drawn
        assertEquals(255, f.get(1).get(1, 1, 2));
        assertEquals(255, f.get(2).get(1, 1, 0)); // ... and undone: red again
        assertEquals(0, f.get(2).get(1, 1, 2));
        assertArrayEquals(new int[] {0, 255, 0}, rgb(f.get(2), 0, 0));
        assertArrayEquals(new int[] {255, 255, 255}, rgb(f.get(3), 0, 0)); // cleared to background (white)
        assertArrayEquals(new int[] {0, 255, 0}, rgb(f.get(3), 3, 3));
        assertArrayEquals(new int[] {255, 0, 0}, rgb(f.get(3), 2, 2));
    }

    /**
     * Whole frames, pixel by pixel: a frame cleared to the background clears its rectangle and nothing more, and a frame
     * reaching past the screen's right and bottom edges is drawn and cleared up to them (a GIF may declare such a frame).
     */
    @Test
    void backgroundDisposalClearsExactlyTheFramesRectangleClippedToTheScreen() throws IOException {
        Path file = dir.resolve("clip.gif");
        writeRaw(file, new Object[][] {
                {solid(4, 4, 255, 0, 0), 0, 0, "none"},
                {solid(2, 2, 0, 0, 255), 1, 1, "restoreToBackgroundColor"},
                {solid(1, 1, 0, 255, 0), 0, 0, "none"},
                {solid(2, 2, 0, 0, 255), 3, 3, "restoreToBackgroundColor"},
                {solid(1, 1, 0, 255, 0), 0, 3, "none"},
        });
        List<RgbImage> f = GifFiles.read(file).frames();
        assertFrame(f.get(1), "rrrr", "rbbr", "rbbr", "rrrr");
        assertFrame(f.get(2), "grrr", "rwwr", "rwwr", "rrrr");
        assertFrame(f.get(3), "grrr", "rwwr", "rwwr", "rrrb");
        assertFrame(f.get(4), "grrr", "rwwr", "rwwr", "grrw");
    }

    /** rows of r (red), g (green), b (blue), w (white), one letter a pixel. */
    private static void assertFrame(RgbImage frame, String... rows) {
        Map<Character, int[]> colours = Map.of('r', new int[] {255, 0, 0}, 'g', new int[] {0, 255, 0},
                'b', new int[] {0, 0, 255}, 'w', new int[] {255, 255, 255});
        assertEquals(rows.length, frame.height());
        for (int y = 0; y < rows.length; y++) {
            assertEquals(rows[y].length(), frame.width());
            for (int x = 0; x < rows[y].length(); x++) assertArrayEquals(colours.get(rows[y].charAt(x)), rgb(frame, x, y), "pixel " + x + "," + y);
        }
    }

    /** The writer ends the stream with GIF's trailer (0x3B): without it the file is truncated as far as the format goes. */
    @Test
    void aWrittenGifEndsWithTheTrailer() throws IOException {
        Path file = dir.resolve("t.gif");
        GifFiles.write(file, Animation.uniform(List.of(solid(2, 2, 1, 2, 3), solid(2, 2, 3, 2, 1)), 100));
        byte[] bytes = Files.readAllBytes(file);
        assertEquals(0x3b, bytes[bytes.length - 1]);
    }

    @Test
    void aMissingFileOrOneNotAGifIsNamed() throws IOException {
        Path missing = dir.resolve("nope.gif");
        assertEquals(missing + ": no such GIF file", assertThrows(NoSuchFileException.class, () -> GifFiles.read(missing)).getMessage());
        Path png = dir.resolve("still.gif");
        ImageFiles.writePng(png, solid(2, 2, 0, 0, 0));
        assertEquals("cannot read " + png + " as a GIF: it is png", assertThrows(InputFileException.class, () -> GifFiles.read(png)).getMessage());
    }

    private static int[] rgb(RgbImage img, int x, int y) {
        return new int[] {img.get(x, y, 0), img.get(x, y, 1), img.get(x, y, 2)};
    }

    /** An animation: at least one frame, one delay per frame, none negative (0 is taken), every frame frame 0's size. */
    @Test
    void anAnimationChecksItsFramesAndDelays() {
        RgbImage a = solid(4, 4, 1, 2, 3);
        Animation ok = Animation.uniform(List.of(a, a), 0);
        assertEquals(List.of(0, 0), ok.delaysMs());
        assertEquals(4, ok.width());
        assertEquals("an animation needs at least one frame",
                assertThrows(IllegalArgumentException.class, () -> new Animation(List.of(), List.of())).getMessage());
        assertEquals("2 frames but 1 delays", assertThrows(IllegalArgumentException.class, () -> new Animation(List.of(a, a), List.of(10))).getMessage());
        assertEquals("frame 1 has a negative delay -1",
                assertThrows(IllegalArgumentException.class, () -> new Animation(List.of(a, a), List.of(10, -1))).getMessage());
        assertEquals("frame 2 is 5x4, frame 0 is 4x4",
                assertThrows(IllegalArgumentException.class, () -> Animation.uniform(List.of(a, a, solid(5, 4, 0, 0, 0)), 10)).getMessage());
        assertEquals("frame 1 is 4x5, frame 0 is 4x4",
                assertThrows(IllegalArgumentException.class, () -> Animation.uniform(List.of(a, solid(4, 5, 0, 0, 0)), 10)).getMessage());
    }

    static RgbImage solid(int w, int h, int r, int g, int b) {
        RgbImage img = RgbImage.blank(w, h);
        for (int i = 0; i < w * h; i++) {
            img.pixels()[3 * i] = (byte) r;
            img.pixels()[3 * i + 1] = (byte) g;
            img.pixels()[3 * i + 2] = (byte) b;
        }
        return img;
    }

    /** Keeps two levels per channel (8 colours). */
    private static void quantise(RgbImage img) {
        for (int i = 0; i < img.pixels().length; i++) img.pixels()[i] = (byte) ((img.pixels()[i] & 0x80) != 0 ? 255 : 0);
    }

    private static String loopExtension(Path file) throws IOException {
        try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
            ImageReader reader = ImageIO.getImageReaders(in).next();
            reader.setInput(in);
            IIOMetadataNode root = (IIOMetadataNode) reader.getImageMetadata(0).getAsTree("javax_imageio_gif_image_1.0");
            IIOMetadataNode ext = (IIOMetadataNode) root.getElementsByTagName("ApplicationExtension").item(0);
            assertNotNull(ext, "no application extension");
            byte[] data = (byte[]) ext.getUserObject();
            return ext.getAttribute("applicationID") + ext.getAttribute("authenticationCode") + " loop " + ((data[1] & 0xff) | (data[2] & 0xff) << 8);
        }
    }

    /** A GIF with each frame {image, left, top, disposal} on a screen the size of the first frame. */
    private static void writeRaw(Path file, Object[][] frames) throws IOException {
        ImageWriter writer = ImageIO.getImageWritersByFormatName("gif").next();
        try (ImageOutputStream out = ImageIO.createImageOutputStream(file.toFile())) {
            writer.setOutput(out);
            writer.prepareWriteSequence(null);
            for (Object[] f : frames) {
                BufferedImage img = ((RgbImage) f[0]).toBufferedImage();
                IIOMetadata meta = writer.getDefaultImageMetadata(ImageTypeSpecifier.createFromRenderedImage(img), null);
                IIOMetadataNode root = (IIOMetadataNode) meta.getAsTree("javax_imageio_gif_image_1.0");
                for (Node n = root.getFirstChild(); n != null; n = n.getNextSibling()) {
                    IIOMetadataNode node = (IIOMetadataNode) n;
                    if (node.getNodeName().equals("ImageDescriptor")) {
                        node.setAttribute("imageLeftPosition", f[1].toString());
                        node.setAttribute("imageTopPosition", f[2].toString());
                    } else if (node.getNodeName().equals("GraphicControlExtension")) {
                        node.setAttribute("disposalMethod", (String) f[3]);
                    }
                }
                meta.setFromTree("javax_imageio_gif_image_1.0", root);
                writer.writeToSequence(new IIOImage(img, null, meta), null);
            }
            writer.endWriteSequence();
        } finally {
            writer.dispose();
        }
    }
}
