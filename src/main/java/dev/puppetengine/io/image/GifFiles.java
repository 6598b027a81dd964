package dev.puppetengine.io.image;

import dev.puppetengine.io.AtomicFile;
import dev.puppetengine.io.InputFileException;
import org.w3c.dom.Node;

import javax.imageio.IIOException;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.FileImageOutputStream;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.ImageOutputStream;
import java.awt.image.BufferedImage;
import java.io.EOFException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Animated GIFs through javax.imageio. Writing: one frame per image with its own delay, looping forever
 * (the NETSCAPE2.0 extension with loop count 0, as PIL writes {@code loop=0}); the JDK writer builds each
 * frame's 256-colour palette. Reading: frames are composited onto the logical screen as a viewer shows them
 * (partial frames at their offsets, transparent pixels keeping what is below, the disposal methods), since
 * encoders such as PIL store only the changed rectangle of each frame. Never-painted pixels are transparent
 * and come out white in the RGB frames.
 */
public final class GifFiles {
    private static final String IMAGE_FORMAT = "javax_imageio_gif_image_1.0";
    private static final String STREAM_FORMAT = "javax_imageio_gif_stream_1.0";
    /** The fastest rate browsers play: a delay of 2 hundredths of a second; they slow 0 or 1 down to about 10 fps. */
    public static final int MAX_FPS = 50;

    private GifFiles() {}

    /** One composited frame and how long it is shown. */
    record Frame(RgbaImage image, int delayMs) {}

    /** Writes an animated GIF atomically. Delays are stored in GIF's unit of 10 ms (rounded), at least 20 ms ({@link #MAX_FPS}). */
    public static void write(Path file, Animation animation) throws IOException {
        AtomicFile.writePath(file, temp -> encode(temp, animation));
    }

    /** Every frame, composited, onto white. */
    public static Animation read(Path file) throws IOException {
        return read(file, Integer.MAX_VALUE, null);
    }

    /**
     * As {@link #read(Path)}, refusing a GIF of more than {@code maxFrames} frames before decoding any: each is held whole,
     * so a megabyte of one-pixel frames on a 256x256 screen asked for tens of gigabytes. {@code expected} says where
     * {@code maxFrames} comes from, ending the refusal "FILE has N frames but ...".
     */
    public static Animation read(Path file, int maxFrames, String expected) throws IOException {
        if (!Files.isRegularFile(file)) throw new NoSuchFileException(file.toString(), null, "no such GIF file");
        try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
            if (in == null) throw new InputFileException("cannot open GIF " + file);
            ImageReader reader = ImageFiles.readerFor(in, file);
            try {
                if (!reader.getFormatName().equalsIgnoreCase("gif")) {
                    throw new InputFileException("cannot read " + file + " as a GIF: it is " + reader.getFormatName());
                }
                reader.setInput(in);
                int count = reader.getNumImages(true);
                if (count > maxFrames) throw new InputFileException(file + " has " + count + " frames but " + expected);
                List<Frame> frames = decode(reader, file, count);
                return new Animation(frames.stream().map(f -> f.image().compositeOntoWhite()).toList(),
                        frames.stream().map(Frame::delayMs).toList());
            } catch (IIOException | EOFException | RuntimeException e) {
                throw ImageFiles.unreadable(file, reader, e);
            } finally {
                reader.dispose();
            }
        }
    }

    /** The first {@code count} frames of the GIF {@code reader} is positioned on, composited on the logical screen. */
    static List<Frame> decode(ImageReader reader, Path file, int count) throws IOException {
        IIOMetadataNode screen = child((IIOMetadataNode) reader.getStreamMetadata().getAsTree(STREAM_FORMAT), "LogicalScreenDescriptor");
        int width = intAttr(screen, "logicalScreenWidth"), height = intAttr(screen, "logicalScreenHeight");
        ImageFiles.checkSize(file, width, height);
        int[] canvas = new int[width * height]; // ARGB; 0 is transparent
        int[] beforeFrame = null;
        String disposal = "none";
        int[] rect = null;
        List<Frame> frames = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            ImageFiles.checkSize(file, reader.getWidth(i), reader.getHeight(i));   // a frame may declare more than its screen, and is decoded whole
            BufferedImage part = reader.read(i);
            IIOMetadataNode meta = (IIOMetadataNode) reader.getImageMetadata(i).getAsTree(IMAGE_FORMAT);
            // The previous frame's disposal applies before this frame is drawn.
            if (disposal.equals("restoreToBackgroundColor")) clear(canvas, width, height, rect);
            else if (disposal.equals("restoreToPrevious") && beforeFrame != null) canvas = beforeFrame;
            IIOMetadataNode descriptor = child(meta, "ImageDescriptor");
            rect = new int[] {intAttr(descriptor, "imageLeftPosition"), intAttr(descriptor, "imageTopPosition"), part.getWidth(), part.getHeight()};
            IIOMetadataNode control = optionalChild(meta, "GraphicControlExtension");
            disposal = control == null ? "none" : control.getAttribute("disposalMethod");
            beforeFrame = disposal.equals("restoreToPrevious") ? canvas.clone() : null;
            paint(canvas, width, height, part, rect);
            frames.add(new Frame(argbToRgba(canvas, width, height), control == null ? 0 : 10 * intAttr(control, "delayTime")));
        }
        return frames;
    }

    private static void paint(int[] canvas, int width, int height, BufferedImage part, int[] rect) {
        int[] argb = part.getRGB(0, 0, rect[2], rect[3], null, 0, rect[2]);
        for (int y = Math.max(0, -rect[1]); y < rect[3] && rect[1] + y < height; y++) {
            for (int x = Math.max(0, -rect[0]); x < rect[2] && rect[0] + x < width; x++) {
                int v = argb[y * rect[2] + x];
                if ((v >>> 24) != 0) canvas[(rect[1] + y) * width + rect[0] + x] = v; // GIF transparency is all or nothing
            }
        }
    }

    private static void clear(int[] canvas, int width, int height, int[] rect) {
        for (int y = Math.max(0, rect[1]); y < Math.min(height, rect[1] + rect[3]); y++) {
            for (int x = Math.max(0, rect[0]); x < Math.min(width, rect[0] + rect[2]); x++) canvas[y * width + x] = 0;
        }
    }

    private static RgbaImage argbToRgba(int[] argb, int width, int height) {
        byte[] out = new byte[argb.length * 4];
        for (int i = 0; i < argb.length; i++) {
            out[4 * i] = (byte) (argb[i] >> 16);
            out[4 * i + 1] = (byte) (argb[i] >> 8);
            out[4 * i + 2] = (byte) argb[i];
            out[4 * i + 3] = (byte) (argb[i] >>> 24);
        }
        return new RgbaImage(width, height, out);
    }

    private static void encode(Path path, Animation animation) throws IOException {
        ImageWriter writer = ImageIO.getImageWritersByFormatName("gif").next();
        try (ImageOutputStream out = new FileImageOutputStream(path.toFile())) {
            writer.setOutput(out);
            writer.prepareWriteSequence(null);
            ImageWriteParam param = writer.getDefaultWriteParam();
            for (int i = 0; i < animation.frames().size(); i++) {
                BufferedImage img = animation.frames().get(i).toBufferedImage();
                IIOMetadata meta = writer.getDefaultImageMetadata(ImageTypeSpecifier.createFromRenderedImage(img), param);
                IIOMetadataNode root = (IIOMetadataNode) meta.getAsTree(IMAGE_FORMAT);
                IIOMetadataNode control = childOrNew(root, "GraphicControlExtension");
                control.setAttribute("disposalMethod", "none");
                control.setAttribute("userInputFlag", "FALSE");
                control.setAttribute("transparentColorFlag", "FALSE");
                control.setAttribute("transparentColorIndex", "0");
                control.setAttribute("delayTime", Integer.toString(Math.max(100 / MAX_FPS, Math.round(animation.delaysMs().get(i) / 10f))));
                if (i == 0) root.appendChild(loopForever());
                meta.setFromTree(IMAGE_FORMAT, root);
                writer.writeToSequence(new IIOImage(img, null, meta), param);
            }
            writer.endWriteSequence();
        } finally {
            writer.dispose();
        }
    }

    /** NETSCAPE2.0 application extension: sub-block 1, loop count 0 (little-endian) = repeat forever. */
    private static IIOMetadataNode loopForever() {
        IIOMetadataNode ext = new IIOMetadataNode("ApplicationExtension");
        ext.setAttribute("applicationID", "NETSCAPE");
        ext.setAttribute("authenticationCode", "2.0");
        ext.setUserObject(new byte[] {1, 0, 0});
        IIOMetadataNode list = new IIOMetadataNode("ApplicationExtensions");
        list.appendChild(ext);
        return list;
    }

    private static IIOMetadataNode childOrNew(IIOMetadataNode parent, String name) {
        IIOMetadataNode c = optionalChild(parent, name);
        if (c == null) {
            c = new IIOMetadataNode(name);
            parent.appendChild(c);
        }
        return c;
    }

    private static IIOMetadataNode child(IIOMetadataNode parent, String name) throws IIOException {
        IIOMetadataNode c = optionalChild(parent, name);
        if (c == null) throw new IIOException("GIF metadata has no " + name);
        return c;
    }

    private static IIOMetadataNode optionalChild(IIOMetadataNode parent, String name) {
        for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n.getNodeName().equals(name)) return (IIOMetadataNode) n;
        }
        return null;
    }

    private static int intAttr(IIOMetadataNode node, String name) throws IIOException {
        try {
            return Integer.parseInt(node.getAttribute(name));
        } catch (NumberFormatException e) {
            throw new IIOException("GIF metadata " + node.getNodeName() + "." + name + " is not a number: '" + node.getAttribute(name) + "'");
        }
    }
}
