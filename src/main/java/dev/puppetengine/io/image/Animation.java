package dev.puppetengine.io.image;

import java.util.Collections;
import java.util.List;

/** Frames of an animation, all the same size, each shown for its delay in milliseconds. */
public record Animation(List<RgbImage> frames, List<Integer> delaysMs) {
    public Animation {
        frames = List.copyOf(frames);
        delaysMs = List.copyOf(delaysMs);
        if (frames.isEmpty()) throw new IllegalArgumentException("an animation needs at least one frame");
        if (frames.size() != delaysMs.size()) {
            throw new IllegalArgumentException(frames.size() + " frames but " + delaysMs.size() + " delays");
        }
        RgbImage first = frames.get(0);
        for (int i = 0; i < frames.size(); i++) {
            RgbImage f = frames.get(i);
            if (f.width() != first.width() || f.height() != first.height()) {
                throw new IllegalArgumentException("frame " + i + " is " + f.width() + "x" + f.height() + ", frame 0 is "
                        + first.width() + "x" + first.height());
            }
            if (delaysMs.get(i) < 0) throw new IllegalArgumentException("frame " + i + " has a negative delay " + delaysMs.get(i));
        }
    }

    /** Every frame shown for the same time. */
    public static Animation uniform(List<RgbImage> frames, int delayMs) {
        return new Animation(frames, Collections.nCopies(frames.size(), delayMs));
    }

    public int width() { return frames.get(0).width(); }

    public int height() { return frames.get(0).height(); }
}
