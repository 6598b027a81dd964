package dev.puppetengine.autograd;

import dev.puppetengine.backend.ConvSpec;
import dev.puppetengine.backend.UnaryOp;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;

import static dev.puppetengine.testing.GradCheck.check;
import static dev.puppetengine.testing.GradCheck.randn;
import static dev.puppetengine.testing.GradCheck.uniform;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Finite-difference gradient checks (float64, odd sizes) for every differentiable operation in {@link F}. */
class OpGradTest {
    private final Random rng = new Random(7);

    @Test
    void addSubMulDivWithBroadcasting() {
        check("add", x -> F.add(x[0], x[1]), randn(rng, 3, 5), randn(rng, 1, 5));
        check("sub", x -> F.sub(x[0], x[1]), randn(rng, 2, 3, 5), randn(rng, 3, 1));
        check("mul", x -> F.mul(x[0], x[1]), randn(rng, 2, 3, 5), randn(rng, 5));
        check("div", x -> F.div(x[0], x[1]), randn(rng, 3, 5), uniform(rng, 0.5, 2, 3, 1));
    }

    /**
     * A broadcast factor's gradient in bf16 or f16 (a mix factor, a per-channel scale) sums products whose terms nearly
     * cancel, so each product must not be rounded to bf16/f16 before the sum. Here every pair contributes
     * (1 + 2^-7)^2 - 1.015625 = 2^-14, but (1 + 2^-7)^2 rounds to 1.015625 in both: rounded first, the gradient is 0.
     */
    @Test
    void lowPrecisionBroadcastGradientSumsUnroundedProducts() {
        int pairs = 1024;
        double e = 1 + Math.pow(2, -7);
        double[] xv = new double[2 * pairs], gv = new double[2 * pairs];
        for (int i = 0; i < pairs; i++) {
            xv[2 * i] = e;
            gv[2 * i] = e;
            xv[2 * i + 1] = 1.015625;
            gv[2 * i + 1] = -1;
        }
        var cpu = CpuBackend.get();
        for (var low : List.of(DType.BF16, DType.F16)) {
            Tensor x = Tensor.of(cpu, low, new int[]{2 * pairs}, xv), gy = Tensor.of(cpu, low, new int[]{2 * pairs}, gv);
            Tensor a = Autograd.requireGrad(Tensor.of(cpu, low, new int[]{1}, 0.5));
            Autograd.backward(F.mul(x, a), gy);
            assertEquals(pairs * Math.pow(2, -14), a.grad().toDoubleArray()[0], 0,
                    "the exact sum of " + 2 * pairs + " " + low + " products");
        }
    }

    /**
     * A cast's gradient is the incoming one, cast back to the input's dtype (no finite difference: the F32 rounding of
     * the forward would swamp it). Values exact in F32, so the F64 leaf must receive them unchanged.
     */
    @Test
    void aCastPassesTheGradientBackInTheInputsDtype() {
        var cpu = CpuBackend.get();
        Tensor x = Autograd.requireGrad(Tensor.of(cpu, DType.F64, new int[]{2, 2}, 0.1, -2, 3, 0.7));
        Tensor c = Tensor.of(cpu, DType.F32, new int[]{2, 2}, 0.5, -1.25, 3, 0.75);
        Autograd.backward(F.sum(F.mul(F.to(x, DType.F32), c)));
        assertEquals(DType.F64, x.grad().dtype());
        assertArrayEquals(new double[]{0.5, -1.25, 3, 0.75}, x.grad().toDoubleArray(), 0);
    }

    @Test
    void unaryFunctions() {
        for (UnaryOp op : UnaryOp.values()) {
            boolean positive = op == UnaryOp.LOG || op == UnaryOp.SQRT;
            // STEP: both sides of its one kink, well away from it (its derivative is 0 there)
            Tensor x = positive ? uniform(rng, 0.5, 2, 3, 7)
                    : op == UnaryOp.STEP ? Tensor.of(CpuBackend.get(), DType.F64, new int[]{2, 3}, -2, -0.5, -0.1, 0.1, 0.5, 2) : randn(rng, 3, 7);
            check(op.name(), a -> F.unary(op, a[0]), x);
        }
        check("affine", x -> F.affine(x[0], 1.7, -0.3), randn(rng, 4, 3));
        // inputs away from the kinks (finite differences straddle none): 1 inside, 0 beyond either bound
        check("clamp", x -> F.clamp(x[0], -0.5, 0.5), Tensor.of(CpuBackend.get(), DType.F64, new int[]{2, 3}, -2, -0.3, 0.1, 0.45, 0.7, 3));
    }

    @Test
    void matmulBatchedAndBroadcast() {
        check("matmul", x -> F.matmul(x[0], x[1]), randn(rng, 3, 5), randn(rng, 5, 7));
        check("matmul-batched", x -> F.matmul(x[0], x[1]), randn(rng, 2, 3, 5), randn(rng, 2, 5, 4));
        check("matmul-broadcast", x -> F.matmul(x[0], x[1]), randn(rng, 2, 3, 5), randn(rng, 5, 4));
        check("matmul-transposed", x -> F.matmul(F.transpose(x[0], 0, 1), x[1]), randn(rng, 5, 3), randn(rng, 5, 4));
    }

    @Test
    void linearWithAndWithoutBias() {
        check("linear", x -> F.linear(x[0], x[1], x[2]), randn(rng, 2, 3, 5), randn(rng, 7, 5), randn(rng, 7));
        check("linear-nobias", x -> F.linear(x[0], x[1], null), randn(rng, 3, 5), randn(rng, 7, 5));
        check("linear-residual", x -> F.linear(x[0], x[1], x[2], x[3]), randn(rng, 2, 3, 5), randn(rng, 7, 5), randn(rng, 7), randn(rng, 2, 3, 7));
        check("linearGeglu", x -> F.linearGeglu(x[0], x[1], x[2]), randn(rng, 3, 5), randn(rng, 8, 5), randn(rng, 8));
    }

    @Test
    void conv2dKernelsStridesPaddings() {
        check("conv3x3", x -> F.conv2d(x[0], x[1], x[2], null, ConvSpec.of(1, 1)), randn(rng, 2, 5, 6, 3), randn(rng, 4, 3, 3, 3), randn(rng, 4));
        check("conv1x1", x -> F.conv2d(x[0], x[1], x[2], null, ConvSpec.of(1, 0)), randn(rng, 2, 5, 3, 3), randn(rng, 5, 1, 1, 3), randn(rng, 5));
        check("conv3x3-s2", x -> F.conv2d(x[0], x[1], x[2], null, ConvSpec.of(2, 1)), randn(rng, 1, 7, 5, 3), randn(rng, 2, 3, 3, 3), randn(rng, 2));
        check("conv3x3-s2-asym", x -> F.conv2d(x[0], x[1], x[2], null, new ConvSpec(2, 2, 0, 1, 0, 1)), randn(rng, 1, 6, 7, 2), randn(rng, 3, 3, 3, 2), randn(rng, 3));
        check("conv-k14-s14", x -> F.conv2d(x[0], x[1], null, null, ConvSpec.of(14, 0)), randn(rng, 1, 28, 42, 3), randn(rng, 3, 14, 14, 3));
        check("conv3x3-residual", x -> F.conv2d(x[0], x[1], x[2], x[3], ConvSpec.of(1, 1)), randn(rng, 2, 5, 6, 3), randn(rng, 4, 3, 3, 3), randn(rng, 4), randn(rng, 2, 5, 6, 4));
    }

    @Test
    void temporalConv() {
        check("temporalConv", x -> F.temporalConv(x[0], x[1], x[2], null), randn(rng, 2, 5, 3, 2, 3), randn(rng, 4, 3, 1, 3), randn(rng, 4));
        check("temporalConv-residual", x -> F.temporalConv(x[0], x[1], x[2], x[3]), randn(rng, 2, 5, 3, 2, 3), randn(rng, 4, 3, 1, 3), randn(rng, 4), randn(rng, 2, 5, 3, 2, 4));
    }

    @Test
    void groupNorm4dAnd5dWithAndWithoutSilu() {
        check("groupNorm4d", x -> F.groupNorm(x[0], x[1], x[2], 2, 1e-5, false), randn(rng, 2, 3, 5, 6), randn(rng, 6), randn(rng, 6));
        check("groupNorm5d-silu", x -> F.groupNorm(x[0], x[1], x[2], 3, 1e-6, true), randn(rng, 2, 3, 2, 3, 6), randn(rng, 6), randn(rng, 6));
        // the resnets' norm + SiLU on 4-D (GroupNorm.forwardSilu), the frame-pooled norm without it, one channel per group
        check("groupNorm4d-silu", x -> F.groupNorm(x[0], x[1], x[2], 2, 1e-5, true), randn(rng, 2, 3, 5, 6), randn(rng, 6), randn(rng, 6));
        check("groupNorm5d", x -> F.groupNorm(x[0], x[1], x[2], 3, 1e-6, false), randn(rng, 2, 3, 2, 3, 6), randn(rng, 6), randn(rng, 6));
        check("groupNorm-one-channel-per-group-silu", x -> F.groupNorm(x[0], x[1], x[2], 5, 1e-5, true), randn(rng, 2, 3, 4, 5), randn(rng, 5),
                randn(rng, 5));
    }

    @Test
    void layerNorm() {
        check("layerNorm", x -> F.layerNorm(x[0], x[1], x[2], 1e-5), randn(rng, 2, 3, 7), randn(rng, 7), randn(rng, 7));
    }

    @Test
    void filmGeglu() {
        // the resblock output: blend then FiLM, each alone, and both (every input's gradient, the mix logit's too)
        check("blend+film", x -> F.blendFilm(x[0], x[1], F.sigmoid(x[2]), x[3], x[4]), randn(rng, 2, 3, 5), randn(rng, 2, 3, 5), randn(rng, 1),
                randn(rng, 2, 3, 5), randn(rng, 2, 3, 5));
        check("film", x -> F.blendFilm(x[0], null, null, x[1], x[2]), randn(rng, 2, 3, 5), randn(rng, 2, 3, 5), randn(rng, 2, 3, 5));
        // gamma and beta as the drag embedding gives them: the two channel halves of one tensor (strided views whose
        // gradients meet in one leaf)
        check("blend+film-channel-halves", x -> F.blendFilm(x[0], x[1], F.sigmoid(x[2]), F.narrow(x[3], 2, 0, 5), F.narrow(x[3], 2, 5, 5)),
                randn(rng, 2, 3, 5), randn(rng, 2, 3, 5), randn(rng, 1), randn(rng, 2, 3, 10));
        check("geglu", x -> F.geglu(x[0]), randn(rng, 3, 2, 10));
    }

    @Test
    void attentionLayouts() {
        // spatial self-attention: (N, HW, C)
        check("attn-self", x -> F.attention(x[0], x[1], x[2], 3, 0.4), randn(rng, 2, 5, 6), randn(rng, 2, 5, 6), randn(rng, 2, 5, 6));
        // all-to-first: 2 videos x 3 frames of queries, K/V from each video's frame 0
        check("attn-all-to-first", x -> {
            Tensor z = x[0];                       // (B*F, L, C) tokens
            Tensor first = F.reshape(F.narrow(F.reshape(z, 2, 3, 5, 4), 1, 0, 1), 2, 5, 4);
            return F.attention(z, first, first, 2, 0.5);
        }, randn(rng, 6, 5, 4));
        // cross-attention to a short context and temporal cross (query batch = videos x pixels)
        check("attn-cross", x -> F.attention(x[0], x[1], x[2], 2, 0.5), randn(rng, 3, 7, 4), randn(rng, 3, 6, 4), randn(rng, 3, 6, 4));
        check("attn-temporal-cross", x -> F.attention(x[0], x[1], x[2], 1, 0.5), randn(rng, 6, 5, 4), randn(rng, 2, 6, 4), randn(rng, 2, 6, 4));
    }

    @Test
    void shapesConcatNarrowExpand() {
        check("concat", x -> F.concat(List.of(x[0], x[1]), 1), randn(rng, 2, 3, 4), randn(rng, 2, 2, 4));
        check("narrow", x -> F.narrow(x[0], 1, 1, 2), randn(rng, 2, 4, 3));
        check("permute", x -> F.contiguous(F.permute(x[0], 2, 0, 1)), randn(rng, 2, 4, 3));
        check("expand", x -> F.expand(x[0], 3, 4, 5), randn(rng, 4, 1));
        check("reshape", x -> F.reshape(F.transpose(x[0], 0, 1), 12), randn(rng, 3, 4));
    }

    @Test
    void upsampleAndGridSample() {
        check("upsample2x", x -> F.upsampleNearest2x(x[0]), randn(rng, 2, 3, 5, 3));
        Tensor pts = uniform(rng, -0.1, 1.1, 2, 5, 2);   // inside and beyond the border
        check("gridSamplePoints", x -> F.gridSamplePoints(x[0], pts), randn(rng, 2, 4, 5, 3));
    }

    @Test
    void reductionsLossesEmbeddings() {
        check("sum", x -> F.sum(x[0]), randn(rng, 3, 4));
        check("mean", x -> F.mean(x[0]), randn(rng, 3, 4));
        check("sumTo", x -> F.sumTo(x[0], 1, 4), randn(rng, 3, 4));
        check("mse", x -> F.mse(x[0], x[1]), randn(rng, 3, 4), randn(rng, 3, 4));
        check("sinusoidal", x -> F.sinusoidal(x[0], 8), randn(rng, 3));
        check("blend", x -> F.blendFilm(x[0], x[1], F.sigmoid(x[2]), null, null), randn(rng, 2, 3), randn(rng, 2, 3), randn(rng, 1));
    }

    @Test
    void checkpointMatchesDirect() {
        Tensor w = randn(rng, 4, 4);
        check("checkpoint", x -> F.checkpoint(in -> F.silu(F.linear(in[0], in[1], null)), x[0], x[1]), randn(rng, 3, 4), w);
    }
}
