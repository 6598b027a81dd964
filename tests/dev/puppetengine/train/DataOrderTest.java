package dev.puppetengine.train;

import dev.puppetengine.random.Philox;
import dev.puppetengine.random.Streams;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The order clips are visited in: a function of (seed, position) only, so a resumed run continues the same sequence. */
class DataOrderTest {
    /** Fisher-Yates from the back, written out independently: swap k draws Philox uniform k of the DATA stream at counter epoch. */
    private static int[] shuffle(int n, long seed, int epoch) {
        int[] perm = new int[n];
        for (int i = 0; i < n; i++) perm[i] = i;
        for (int k = 0; k < n - 1; k++) {
            int i = n - 1 - k;
            int j = (int) (Philox.uniform(seed, Streams.offset(epoch, Streams.DATA), k) * (i + 1));
            int t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        return perm;
    }

    @Test
    void eachEpochIsTheSeededShuffle() {
        int n = 7;
        DataOrder order = new DataOrder(n, 42);
        int[] identity = {0, 1, 2, 3, 4, 5, 6};
        for (int epoch = 0; epoch < 5; epoch++) {
            int[] expected = shuffle(n, 42, epoch), got = new int[n];
            for (int i = 0; i < n; i++) got[i] = order.clipAt((long) n * epoch + i);
            assertArrayEquals(expected, got, "epoch " + epoch);
            int[] sorted = got.clone();
            Arrays.sort(sorted);
            assertArrayEquals(identity, sorted, "epoch " + epoch + " visits every clip once");
        }
        assertFalse(Arrays.equals(shuffle(n, 42, 0), shuffle(n, 42, 1)), "epochs are shuffled afresh");
        assertFalse(Arrays.equals(shuffle(n, 42, 0), shuffle(n, 43, 0)), "the seed matters");
    }

    /** Positions asked for out of order, across epochs, and by a fresh instance (a resumed run) give the same clips. */
    @Test
    void anyPositionMapsToTheSameClip() {
        DataOrder order = new DataOrder(5, 9);
        long[] positions = {23, 2, 24, 0, 500_000_003L, 21};
        for (long p : positions) {
            int epoch = (int) (p / 5);
            assertEquals(shuffle(5, 9, epoch)[(int) (p % 5)], order.clipAt(p), "position " + p);
            assertEquals(order.clipAt(p), new DataOrder(5, 9).clipAt(p), "position " + p);
        }
    }

    @Test
    void aSingleClipAndAnEmptySet() {
        DataOrder one = new DataOrder(1, 3);
        for (long p = 0; p < 4; p++) assertEquals(0, one.clipAt(p));
        assertEquals("the training set is empty", assertThrows(IllegalArgumentException.class, () -> new DataOrder(0, 3)).getMessage());
    }
}
