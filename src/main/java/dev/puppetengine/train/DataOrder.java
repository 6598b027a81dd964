package dev.puppetengine.train;

import dev.puppetengine.random.Philox;
import dev.puppetengine.random.Streams;

/**
 * The order clips are visited in: epoch e is a Fisher-Yates shuffle of 0..n-1 drawn from the Philox DATA
 * stream at counter e, so position p of the run always maps to the same clip: a resumed run needs only the
 * micro-step counter to continue the same sequence.
 */
public final class DataOrder {
    private final int n;
    private final long seed;
    private int cachedEpoch = -1;
    private int[] cached;

    public DataOrder(int n, long seed) {
        if (n < 1) throw new IllegalArgumentException("the training set is empty");
        this.n = n;
        this.seed = seed;
    }

    /** The clip at global position p (epoch p / n). */
    public int clipAt(long p) {
        int epoch = (int) (p / n);
        if (epoch != cachedEpoch) {
            cached = permutation(epoch);
            cachedEpoch = epoch;
        }
        return cached[(int) (p % n)];
    }

    int[] permutation(int epoch) {
        int[] perm = new int[n];
        for (int i = 0; i < n; i++) perm[i] = i;
        long off = Streams.offset(epoch, Streams.DATA);
        for (int i = n - 1; i > 0; i--) {
            int j = (int) (Philox.uniform(seed, off, n - 1 - i) * (i + 1));
            int t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        return perm;
    }
}
