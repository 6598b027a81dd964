package dev.puppetengine.train;

import dev.puppetengine.backend.Backend;
import dev.puppetengine.backend.RandomKind;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/** Synthetic prepared clips for trainer tests: clip i's tensors are Philox streams keyed by i. */
final class RandomClips implements TrainingData {
    final int n, frames, side, ctx;

    RandomClips(int n, int frames, int side, int ctx) {
        this.n = n;
        this.frames = frames;
        this.side = side;
        this.ctx = ctx;
    }

    @Override
    public int size() { return n; }

    private static Tensor stream(Backend be, DType t, long seed, int... shape) {
        Tensor x = be.empty(t, shape);
        be.fillRandom(x, RandomKind.NORMAL, seed, 0);
        return x;
    }

    @Override
    public EdmLoss.Batch batch(int[] clips, long seed, long microStep, Backend be, DType dt) {
        List<Tensor> lat = new ArrayList<>(), cond = new ArrayList<>(), emb = new ArrayList<>(), drags = new ArrayList<>();
        for (int c : clips) {
            lat.add(stream(be, dt.full(), 1000 + c, 1, frames, side, side, 4));
            cond.add(stream(be, dt, 2000 + c, 1, side, side, 4));
            emb.add(stream(be, dt, 3000 + c, 1, 1, ctx));
            double[] d = new double[frames * 5 * 4];
            for (int f = 0; f < frames; f++) {
                d[f * 20] = 0.25 + 0.05 * (c % 5);
                d[f * 20 + 1] = 0.5;
                d[f * 20 + 2] = d[f * 20] + 0.3 * f / Math.max(frames - 1, 1);
                d[f * 20 + 3] = 0.5;
            }
            drags.add(Tensor.of(be, DType.F32, new int[]{1, frames, 5, 4}, d));
        }
        return new EdmLoss.Batch(be.concat(lat, 0), be.concat(cond, 0), be.concat(emb, 0), be.concat(drags, 0));
    }
}
