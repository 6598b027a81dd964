package dev.puppetengine.train.data.synthetic;

import dev.puppetengine.train.data.synthetic.MotionTiming.Easing;
import org.junit.jupiter.api.Test;

import java.util.EnumSet;
import java.util.Set;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Motion progress against clip time, from the easing formulas worked by hand. */
class MotionTimingTest {
    @Test
    void progressRunsFromDelayToFinishAlongItsEasing() {
        MotionTiming linear = new MotionTiming(Easing.LINEAR, 0.2, 0.7, false);
        assertEquals(0, linear.at(0.1), 0, "not started before the delay");
        assertEquals(0.5, linear.at(0.45), 1e-12, "half-way between delay and finish");
        assertEquals(1, linear.at(0.9), 0, "done after the finish");
        assertEquals(0.15625, new MotionTiming(Easing.SMOOTH, 0, 1, false).at(0.25), 1e-12, "0.25^2 x (3 - 0.5)");
        assertEquals(0.25, new MotionTiming(Easing.EASE_IN, 0.5, 1, false).at(0.75), 1e-12, "u = 0.5: u^2");
        assertEquals(0.75, new MotionTiming(Easing.EASE_OUT, 0, 1, false).at(0.5), 1e-12, "1 - (1 - 0.5)^2");
    }

    /** A reversed motion (a drawer closing) starts where the forward one ends. */
    @Test
    void aReversedMotionRunsBackwards() {
        MotionTiming closing = new MotionTiming(Easing.EASE_IN, 0, 1, true);
        assertEquals(1, closing.at(0), 0);
        assertEquals(0.75, closing.at(0.5), 1e-12);
        assertEquals(0, closing.at(1), 0);
    }

    /** Random timings: 30% reversed (closing), half delayed (by up to 0.3), half finishing early (from 0.7), every easing. */
    @Test
    void randomTimingsMixDirectionsDelaysAndEasings() {
        SplittableRandom rng = new SplittableRandom(2);
        int n = 4000, reversed = 0, delayed = 0, early = 0;
        Set<Easing> easings = EnumSet.noneOf(Easing.class);
        for (int i = 0; i < n; i++) {
            MotionTiming t = MotionTiming.random(rng);
            easings.add(t.easing());
            if (t.reversed()) reversed++;
            if (t.delay() > 0) delayed++;
            if (t.finish() < 1) early++;
            assertTrue(t.delay() < 0.3 && t.finish() >= 0.7, t.toString());
        }
        assertEquals(0.3, reversed / (double) n, 0.03);
        assertEquals(0.5, delayed / (double) n, 0.03);
        assertEquals(0.5, early / (double) n, 0.03);
        assertEquals(EnumSet.allOf(Easing.class), easings);
    }

    /** Clip time of frame f: 0 at the first frame, 1 at the last (where every motion has finished). */
    @Test
    void clipTimeRunsFromTheFirstFrameToTheLast() {
        SceneBuilder b = new SceneBuilder(new SplittableRandom(1), 32, 15);
        assertEquals(0, b.time(0), 0);
        assertEquals(0.5, b.time(7), 0);
        assertEquals(1, b.time(14), 0);
    }
}
