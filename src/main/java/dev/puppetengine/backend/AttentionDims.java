package dev.puppetengine.backend;

import dev.puppetengine.tensor.Shape;
import dev.puppetengine.tensor.Tensor;

/**
 * The shapes of one attention call, q (Bq, Lq, C) with k and v (Bk, Lk, C), heads as contiguous C / heads slices;
 * query batch i reads key/value batch i / rep (rep = Bq / Bk). Checked once here for every backend.
 */
public record AttentionDims(int bq, int lq, int bk, int lk, int c, int heads) {
    public static AttentionDims of(Tensor q, Tensor k, Tensor v, int heads) {
        int[] qs = q.shape(), ks = k.shape();
        OpChecks.require(qs.length == 3 && ks.length == 3 && k.sameShape(v), "attention expects q (Bq,Lq,C), k and v (Bk,Lk,C); got "
                + Shape.str(qs) + ", " + Shape.str(ks) + ", " + Shape.str(v.shape()));
        OpChecks.require(qs[2] == ks[2], "attention: q has " + qs[2] + " channels, k has " + ks[2]);
        OpChecks.require(ks[0] > 0 && qs[0] % ks[0] == 0, "attention: query batch " + qs[0] + " is not a multiple of key batch " + ks[0]);
        OpChecks.require(heads > 0 && qs[2] % heads == 0, "attention: " + qs[2] + " channels not divisible by " + heads + " heads");
        OpChecks.require(qs[1] > 0 && ks[1] > 0, "attention needs at least one query and one key, got Lq " + qs[1] + ", Lk " + ks[1]);
        return new AttentionDims(qs[0], qs[1], ks[0], ks[1], qs[2], heads);
    }

    /** Head width C / heads. */
    public int d() { return c / heads; }

    /** Query batches per key/value batch. */
    public int rep() { return bq / bk; }
}
