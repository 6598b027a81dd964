package dev.puppetengine.io.image;

import dev.puppetengine.io.AtomicFile;
import org.jcodec.api.transcode.PixelStore;
import org.jcodec.api.transcode.SinkImpl;
import org.jcodec.api.transcode.VideoFrameWithPacket;
import org.jcodec.common.Codec;
import org.jcodec.common.Format;
import org.jcodec.common.io.FileChannelWrapper;
import org.jcodec.common.io.NIOUtils;
import org.jcodec.common.model.ColorSpace;
import org.jcodec.common.model.Packet;
import org.jcodec.common.model.Picture;
import org.jcodec.scale.ColorUtil;
import org.jcodec.scale.Transform;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Set;

/**
 * H.264 video (Baseline profile, 4:2:0, video range) in an MP4 container (JCodec's ISO-BMFF muxer, which
 * it calls MOV; the file's brand is isom/mp41), encoded in pure Java by JCodec. Both frame sides must be
 * even for the 4:2:0 chroma. Lossy: a decoded 256 x 256 Drag-a-Move frame differs from its source by about
 * one level per channel on average (ffmpeg's decoder).
 */
public final class Mp4Files {
    private Mp4Files() {}

    /** Writes the frames at {@code fps} frames per second, atomically. */
    public static void write(Path file, List<RgbImage> frames, int fps) throws IOException {
        if (frames.isEmpty()) throw new IllegalArgumentException("no frames to write to " + file);
        if (fps <= 0) throw new IllegalArgumentException("fps must be positive, got " + fps);
        RgbImage first = frames.get(0);
        if (first.width() % 2 != 0 || first.height() % 2 != 0) {
            throw new IllegalArgumentException("H.264 (YUV 4:2:0) needs even frame sides, got " + first.width() + "x" + first.height()
                    + " for " + file);
        }
        AtomicFile.writePath(file, temp -> encode(temp, frames, fps));
    }

    private static void encode(Path path, List<RgbImage> frames, int fps) throws IOException {
        RgbImage first = frames.get(0);
        Transform toVideoRange = ColorUtil.getTransform(ColorSpace.RGB, ColorSpace.YUV420);
        try (FileChannelWrapper out = NIOUtils.writableChannel(path.toFile())) {
            SinkImpl sink = SinkImpl.createWithStream(out, Format.MOV, Codec.H264, null);
            sink.init();
            for (int i = 0; i < frames.size(); i++) {
                RgbImage f = frames.get(i);
                if (f.width() != first.width() || f.height() != first.height()) {
                    throw new IllegalArgumentException("frame " + i + " is " + f.width() + "x" + f.height() + ", frame 0 is "
                            + first.width() + "x" + first.height());
                }
                Picture yuv = Picture.create(f.width(), f.height(), ColorSpace.YUV420);
                toVideoRange.transform(toPicture(f), yuv);
                // Players read an H.264 stream without range signalling as video range (Y 16..235). JCodec's
                // encoder accepts only pictures labelled full range (YUV420J) but codes the planes as given,
                // so it gets video-range planes under that label; its own SequenceEncoder would store full
                // range and players would show crushed shadows and clipped highlights.
                Picture labelled = Picture.createPicture(f.width(), f.height(), yuv.getData(), ColorSpace.YUV420J);
                Packet timing = Packet.createPacket(null, i, fps, 1, i, Packet.FrameType.KEY, null);
                sink.outputVideoFrame(new VideoFrameWithPacket(timing, new PixelStore.LoanerPicture(labelled, 0)));
            }
            sink.finish();
        }
        clearTimes(path);
    }

    /** Boxes on the path to the ones that carry times (ISO/IEC 14496-12). */
    private static final Set<String> CONTAINERS = Set.of("moov", "trak", "mdia");
    /** Full boxes whose creation and modification times follow version and flags. */
    private static final Set<String> TIMED = Set.of("mvhd", "tkhd", "mdhd");

    /**
     * Sets the creation and modification times JCodec takes from the clock to 0 ("unknown", as ffmpeg writes without
     * a creation_time), so the same frames give the same bytes on every run, as GIFs and PNG frames do.
     */
    private static void clearTimes(Path path) throws IOException {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            clearTimes(path, ch, 0, ch.size());
        }
    }

    private static void clearTimes(Path path, FileChannel ch, long from, long end) throws IOException {
        ByteBuffer head = ByteBuffer.allocate(16);
        for (long at = from; at + 8 <= end; ) {
            head.clear().limit(16);
            ch.read(head, at);
            long size = Integer.toUnsignedLong(head.getInt(0)), header = 8;
            String type = new String(head.array(), 4, 4, StandardCharsets.ISO_8859_1);
            if (size == 1) {   // a 64-bit size follows the type (JCodec's mdat)
                size = head.getLong(8);
                header = 16;
            } else if (size == 0) {   // to the end of the enclosing box
                size = end - at;
            }
            if (size < header || at + size > end) throw new IOException(path + ": the encoder wrote box '" + type + "' at byte " + at + " with size " + size);
            if (CONTAINERS.contains(type)) clearTimes(path, ch, at + header, at + size);
            if (TIMED.contains(type)) {
                ByteBuffer version = ByteBuffer.allocate(1);
                ch.read(version, at + header);
                int width = version.get(0) == 1 ? 8 : 4;
                ch.write(ByteBuffer.allocate(2 * width), at + header + 4);
            }
            at += size;
        }
    }

    /** JCodec's packed RGB picture stores each byte as value - 128. */
    private static Picture toPicture(RgbImage image) {
        Picture pic = Picture.create(image.width(), image.height(), ColorSpace.RGB);
        byte[] dst = pic.getPlaneData(0);
        byte[] src = image.pixels();
        for (int i = 0; i < src.length; i++) dst[i] = (byte) ((src[i] & 0xff) - 128);
        return pic;
    }
}
