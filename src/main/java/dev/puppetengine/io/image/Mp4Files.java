package dev.puppetengine.io.image;

import dev.puppetengine.io.AtomicFiles;
import org.jcodec.api.SequenceEncoder;
import org.jcodec.common.Codec;
import org.jcodec.common.Format;
import org.jcodec.common.io.FileChannelWrapper;
import org.jcodec.common.io.NIOUtils;
import org.jcodec.common.model.ColorSpace;
import org.jcodec.common.model.Picture;
import org.jcodec.common.model.Rational;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * H.264 video in an MP4 (ISO base media) container, encoded in pure Java by JCodec. Frames are converted
 * to YUV 4:2:0, so both sides must be even. JCodec's encoder uses a fixed quantiser: the file is lossy
 * but close to the frames (a few levels per channel on smooth content).
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
        AtomicFiles.write(file, temp -> encode(temp, frames, fps));
    }

    private static void encode(Path path, List<RgbImage> frames, int fps) throws IOException {
        RgbImage first = frames.get(0);
        try (FileChannelWrapper out = NIOUtils.writableChannel(path.toFile())) {
            SequenceEncoder encoder = new SequenceEncoder(out, Rational.R(fps, 1), Format.MOV, Codec.H264, null);
            for (int i = 0; i < frames.size(); i++) {
                RgbImage f = frames.get(i);
                if (f.width() != first.width() || f.height() != first.height()) {
                    throw new IllegalArgumentException("frame " + i + " is " + f.width() + "x" + f.height() + ", frame 0 is "
                            + first.width() + "x" + first.height());
                }
                encoder.encodeNativeFrame(toPicture(f));
            }
            encoder.finish();
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
