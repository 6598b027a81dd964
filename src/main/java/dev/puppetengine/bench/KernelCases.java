package dev.puppetengine.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.autograd.GemmRecorder;
import dev.puppetengine.autograd.GemmRecorder.Product;
import dev.puppetengine.backend.AttentionResult;
import dev.puppetengine.backend.Backend;
import dev.puppetengine.backend.ConvSpec;
import dev.puppetengine.backend.NormResult;
import dev.puppetengine.io.Json;
import dev.puppetengine.model.unet.UNetConfig;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Shape;
import dev.puppetengine.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The fused kernels at the shapes a UNet config runs them, level by level (level i: block_out_channels[i] channels
 * at side >> i, num_attention_heads[i] heads): spatial self-attention (all-to-first when the config says so: frame
 * 0's K/V per video, shared by its frames), spatial cross-attention to the context (the CLIP token, plus one token
 * per drag at levels with drag modules), temporal self-attention over the frames of each pixel, GroupNorm+SiLU per
 * frame (the spatial resnets, 4-D) and frame-pooled (the temporal resnets, 5-D), FiLM with gamma/beta as the two
 * channel halves of one drag-embedding tensor (as the model slices them) at drag levels, and the (3,1,1) temporal
 * conv. Forward and, where the Backend has one, backward. Attention exists at the cross-attention levels and in
 * the mid block (the last level), and with it the two GEMM epilogues the transformer blocks use in sampling: the
 * feed-forward projection with the GEGLU gate fused, and an out-projection with its residual add fused.
 */
public final class KernelCases {
    private KernelCases() {}

    public static List<OpCase> forConfig(UNetConfig cfg, int batch, int frames, int side, DType t) {
        List<OpCase> cases = new ArrayList<>();
        int levels = cfg.blockOutChannels().size();
        for (int i = 0; i < levels; i++) {
            int c = cfg.blockOutChannels().get(i), s = side >> i, heads = cfg.numAttentionHeads().get(i), hw = s * s, n = batch * frames;
            boolean cross = cfg.downBlockTypes().get(i).equals(UNetConfig.CROSS_DOWN), drags = cross && cfg.hasDrags();
            String l = "L" + i + " ";
            if (cross || i == levels - 1) {
                for (boolean bwd : new boolean[]{false, true}) {
                    if (cfg.allToFirstAttention()) cases.add(attention(l, "all_to_first", bwd, t, n, batch, hw, hw, c, heads));
                    else cases.add(attention(l, "self", bwd, t, n, n, hw, hw, c, heads));
                    cases.add(attention(l, "cross", bwd, t, n, n, hw, 1 + (drags ? cfg.numDrags() : 0), c, heads));
                    cases.add(attention(l, "temporal", bwd, t, batch * hw, batch * hw, frames, frames, c, heads));
                }
                cases.add(epilogue(l, "linear_geglu", t, n * hw, 8 * c, c));
                cases.add(epilogue(l, "linear_residual", t, n * hw, c, c));
            }
            double eps = cfg.resnetEpsDown().get(i);
            for (boolean bwd : new boolean[]{false, true}) {
                cases.add(groupNormSilu(l, bwd, t, new int[]{n, s, s, c}, cfg.normNumGroups(), eps));
                cases.add(groupNormSilu(l, bwd, t, new int[]{batch, frames, s, s, c}, cfg.normNumGroups(), eps));
                if (drags) cases.add(film(l, bwd, t, new int[]{n, s, s, c}));
            }
            ConvSpec temporal = new ConvSpec(1, 1, 1, 1, 0, 0);
            int[] x = {batch, frames, hw, c}, w = {c, 3, 1, c};
            for (String pass : new String[]{"forward", "backward_input", "backward_weight"})
                cases.add(GemmCases.of("temporal_conv", l, Product.conv(pass, t, x, w, temporal, pass.equals("forward"),
                        GemmRecorder.Epilogue.NONE), 1));
        }
        return cases;
    }

    /** q (bq, lq, c), k and v (bk, lk, c); query batch i reads key batch i / (bq / bk) as Backend.attention defines. */
    private static OpCase attention(String l, String variant, boolean bwd, DType t, int bq, int bk, int lq, int lk, int c, int heads) {
        ObjectNode s = spec("attention", bwd, t).put("variant", variant).put("bq", bq).put("bk", bk).put("lq", lq).put("lk", lk).put("c", c).put("heads", heads);
        String id = String.format(Locale.ROOT, "%sattn %s %s q %dx%dx%d kv %dx%d, %d heads", l, variant, bwd ? "bwd" : "fwd", bq, lq, c, bk, lk, heads);
        long fwdFlops = 4L * bq * lq * lk * c;      // QK^T and PV
        long qo = (long) bq * lq * c, kv = (long) bk * lk * c;
        // backward: recompute QK^T, then dV, dP, dQ, dK (flash-attention's count: 2.5x the forward); reads q k v o dO, writes dq dk dv
        long flops = bwd ? fwdFlops * 5 / 2 : fwdFlops, bytes = OpCase.bytes(t, bwd ? 4 * qo + 4 * kv : 2 * qo + 2 * kv);
        double scale = 1 / Math.sqrt((double) c / heads);
        return new OpCase(id, "attention", s, flops, bytes, 1, be -> {
            Tensor q = OpCase.random(be, t, bq, lq, c), k = OpCase.random(be, t, bk, lk, c), v = OpCase.random(be, t, bk, lk, c);
            if (!bwd) return () -> be.attention(q, k, v, heads, scale);
            AttentionResult saved = be.attention(q, k, v, heads, scale);
            Tensor g = OpCase.random(be, t, bq, lq, c);
            return () -> be.attentionBackward(q, k, v, saved, g, heads, scale);
        });
    }

    /** x channels-last, 4-D (per-frame statistics) or 5-D (statistics pooled over the frames too). */
    private static OpCase groupNormSilu(String l, boolean bwd, DType t, int[] shape, int groups, double eps) {
        ObjectNode s = spec("group_norm_silu", bwd, t).put("groups", groups).put("eps", eps);
        s.set("shape", Json.mapper().valueToTree(shape));
        String id = String.format(Locale.ROOT, "%sgroupnorm+silu %s %s %s", l, shape.length == 5 ? "5-D" : "4-D", bwd ? "bwd" : "fwd", OpCase.dims(shape));
        long numel = Shape.numel(shape);
        int c = shape[shape.length - 1];
        return new OpCase(id, "group_norm_silu", s, 0, OpCase.bytes(t, (bwd ? 3 : 2) * numel), 1, be -> {
            Tensor x = OpCase.random(be, t, shape), gamma = OpCase.random(be, t, c), beta = OpCase.random(be, t, c);
            if (!bwd) return () -> be.groupNorm(x, gamma, beta, groups, eps, true);
            NormResult saved = be.groupNorm(x, gamma, beta, groups, eps, true);
            Tensor g = OpCase.random(be, t, shape);
            return () -> be.groupNormBackward(x, gamma, beta, saved, groups, true, g);
        });
    }

    /**
     * A drag layer's resblock output: the time mixer's blend of the spatial and temporal branch, then x * (1 + gamma) +
     * beta, gamma and beta the channel halves of one (..., 2C) tensor, as CrossAttnLayers slices them.
     */
    private static OpCase film(String l, boolean bwd, DType t, int[] shape) {
        ObjectNode s = spec("film", bwd, t);
        s.set("shape", Json.mapper().valueToTree(shape));
        String id = String.format(Locale.ROOT, "%sfilm %s %s", l, bwd ? "bwd" : "fwd", OpCase.dims(shape));
        long numel = Shape.numel(shape);
        int c = shape[3];
        // forward: 2 branches + gamma + beta read, y written; backward: 2 branches, gamma, gy read, 3 gradients, the
        // F32 dalpha terms (counted as one) and dbeta's copy of gy written
        return new OpCase(id, "film", s, 0, OpCase.bytes(t, (bwd ? 10 : 5) * numel), 1, be -> {
            Tensor x = OpCase.random(be, t, shape), y = OpCase.random(be, t, shape), alpha = OpCase.random(be, t, 1);
            Tensor gb = OpCase.random(be, t, shape[0], shape[1], shape[2], 2 * c);
            Tensor gamma = gb.narrow(3, 0, c), beta = gb.narrow(3, c, c);
            if (!bwd) return () -> be.blendFilm(x, y, alpha, gamma, beta);
            Tensor g = OpCase.random(be, t, shape);
            return () -> be.blendFilmBackward(x, y, alpha, gamma, g);
        });
    }

    /**
     * x (m, k) times w (n, k)^T + bias, finished in the product's epilogue: "linear_geglu" gates the n = 8C projection
     * down to n / 2 outputs, "linear_residual" adds a residual of the output's shape. Forward only (the fused GEGLU
     * is the no-gradient path).
     */
    private static OpCase epilogue(String l, String kind, DType t, int m, int n, int k) {
        ObjectNode s = spec(kind, false, t).put("m", m).put("n", n).put("k", k);
        boolean geglu = kind.equals("linear_geglu");
        String id = String.format(Locale.ROOT, "%s%s %dx%d w %dx%d", l, geglu ? "linear+geglu" : "linear+residual", m, k, n, k);
        long out = (long) m * (geglu ? n / 2 : n), bytes = OpCase.bytes(t, (long) m * k + (long) n * k + n + out * (geglu ? 1 : 2));
        return new OpCase(id, kind, s, 2L * m * n * k, bytes, 1, be -> {
            Tensor x = OpCase.random(be, t, m, k), w = OpCase.random(be, t, n, k), b = OpCase.random(be, t, n);
            if (geglu) return () -> be.linearGeglu(x, w, b);
            Tensor r = OpCase.random(be, t, m, n);
            return () -> be.linear(x, w, b, r);
        });
    }

    private static ObjectNode spec(String kind, boolean bwd, DType t) {
        return Json.mapper().createObjectNode().put("kind", kind).put("pass", bwd ? "backward" : "forward").put("dtype", t.name());
    }
}
