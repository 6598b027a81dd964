package dev.puppetengine.autograd;

import dev.puppetengine.backend.ConvSpec;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.GradFn;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;
import java.util.function.Function;

import static dev.puppetengine.testing.GradCheck.CPU;
import static dev.puppetengine.testing.GradCheck.randn;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The engine around the ops: when a node is recorded, how backward starts and accumulates, and the exact shape ops. */
class AutogradTest {
    private final Random rng = new Random(3);
    private Scope scope;

    @BeforeEach
    void open() { scope = Scope.open(); }

    @AfterEach
    void close() { scope.close(); }

    /**
     * An op records a node only in grad mode and when an input requires grad: else its result is a plain tensor (no
     * node holding saved inputs, nothing to backpropagate). Checked both ways, then that it does record otherwise.
     */
    private static void recordsOnlyWhenAGradientIsWanted(String name, Function<Tensor[], Tensor> op, Tensor... inputs) {
        Tensor y = op.apply(inputs);
        assertFalse(y.requiresGrad(), name + ": no input requires grad");
        assertNull(y.gradFn(), name);
        for (Tensor t : inputs) Autograd.requireGrad(t);
        try (GradMode.Guard g = GradMode.noGrad()) {
            y = op.apply(inputs);
        }
        assertFalse(y.requiresGrad(), name + ": no-grad mode");
        assertNull(y.gradFn(), name);
        assertTrue(op.apply(inputs).requiresGrad(), name + ": recording");
    }

    @Test
    void opsRecordOnlyWhenAGradientIsWanted() {
        recordsOnlyWhenAGradientIsWanted("add", x -> F.add(x[0], x[1]), randn(rng, 3, 4), randn(rng, 3, 4));
        recordsOnlyWhenAGradientIsWanted("gelu", x -> F.gelu(x[0]), randn(rng, 3, 4));
        recordsOnlyWhenAGradientIsWanted("affine", x -> F.affine(x[0], 2, 1), randn(rng, 3, 4));
        recordsOnlyWhenAGradientIsWanted("clamp", x -> F.clamp(x[0], -1, 1), randn(rng, 3, 4));
        recordsOnlyWhenAGradientIsWanted("blendFilm", x -> F.blendFilm(x[0], x[1], x[2], x[3], x[4]),
                randn(rng, 2, 3), randn(rng, 2, 3), randn(rng, 1), randn(rng, 2, 3), randn(rng, 2, 3));
        recordsOnlyWhenAGradientIsWanted("sumTo", x -> F.sumTo(x[0], 1, 4), randn(rng, 3, 4));
        recordsOnlyWhenAGradientIsWanted("matmul", x -> F.matmul(x[0], x[1]), randn(rng, 3, 4), randn(rng, 4, 5));
        recordsOnlyWhenAGradientIsWanted("linear", x -> F.linear(x[0], x[1], x[2]), randn(rng, 3, 4), randn(rng, 5, 4), randn(rng, 5));
        recordsOnlyWhenAGradientIsWanted("conv2d", x -> F.conv2d(x[0], x[1], x[2], null, ConvSpec.of(1, 1)), randn(rng, 1, 4, 4, 2), randn(rng, 3, 3, 3, 2),
                randn(rng, 3));
        recordsOnlyWhenAGradientIsWanted("groupNorm", x -> F.groupNorm(x[0], x[1], x[2], 2, 1e-5, true), randn(rng, 2, 3, 4), randn(rng, 4), randn(rng, 4));
        recordsOnlyWhenAGradientIsWanted("layerNorm", x -> F.layerNorm(x[0], x[1], x[2], 1e-5), randn(rng, 3, 4), randn(rng, 4), randn(rng, 4));
        recordsOnlyWhenAGradientIsWanted("geglu", x -> F.geglu(x[0]), randn(rng, 3, 4));
        recordsOnlyWhenAGradientIsWanted("attention", x -> F.attention(x[0], x[1], x[2], 2, 0.5), randn(rng, 1, 3, 4), randn(rng, 1, 3, 4), randn(rng, 1, 3, 4));
        recordsOnlyWhenAGradientIsWanted("reshape", x -> F.reshape(x[0], 12), randn(rng, 3, 4));
        recordsOnlyWhenAGradientIsWanted("permute", x -> F.permute(x[0], 1, 0), randn(rng, 3, 4));
        recordsOnlyWhenAGradientIsWanted("contiguous", x -> F.contiguous(x[0]), randn(rng, 3, 4));
        recordsOnlyWhenAGradientIsWanted("narrow", x -> F.narrow(x[0], 0, 1, 2), randn(rng, 3, 4));
        recordsOnlyWhenAGradientIsWanted("expand", x -> F.expand(x[0], 3, 4), randn(rng, 1, 4));
        recordsOnlyWhenAGradientIsWanted("concat", x -> F.concat(List.of(x[0], x[1]), 0), randn(rng, 3, 4), randn(rng, 2, 4));
        recordsOnlyWhenAGradientIsWanted("to", x -> F.to(x[0], DType.F32), randn(rng, 3, 4));
        recordsOnlyWhenAGradientIsWanted("upsample", x -> F.upsampleNearest2x(x[0]), randn(rng, 1, 2, 2, 3));
        Tensor points = Tensor.of(CPU, DType.F64, new int[]{1, 1, 2}, 0.3, 0.6);
        recordsOnlyWhenAGradientIsWanted("gridSample", x -> F.gridSamplePoints(x[0], points), randn(rng, 1, 2, 2, 3));
        Tensor x = Autograd.requireGrad(randn(rng, 3, 4));   // a checkpoint records in grad mode whatever its inputs: fn may use parameters
        try (GradMode.Guard g = GradMode.noGrad()) {
            assertFalse(F.checkpoint(in -> F.mul(in[0], in[0]), x).requiresGrad(), "checkpoint: no-grad mode");
        }
    }

    @Test
    void backwardRefusesARootItCannotStartFrom() {
        Tensor x = Autograd.requireGrad(randn(rng, 3)), y = F.square(x);
        assertThrows(IllegalArgumentException.class, () -> Autograd.backward(y), "three elements, no gradient given");
        assertThrows(IllegalArgumentException.class, () -> Autograd.backward(y, randn(rng, 2)), "gradient of another shape");
        assertThrows(IllegalArgumentException.class, () -> Autograd.backward(randn(rng, 1)), "nothing requires grad");
        assertThrows(IllegalArgumentException.class, () -> Autograd.requireGrad(y), "y is not a leaf");
    }

    /** Leaves add up the gradients of separate backward passes (micro-steps); a graph is consumed by its first. */
    @Test
    void gradientsAccumulateOverPassesAndAGraphRunsOnce() {
        Tensor x = Autograd.requireGrad(Tensor.of(CPU, DType.F64, new int[]{2}, 1, 2));
        Autograd.backward(F.sum(F.mul(x, x)));
        Tensor loss = F.sum(F.affine(x, 3, 0));
        Autograd.backward(loss);
        assertArrayEquals(new double[]{2 + 3, 4 + 3}, x.grad().toDoubleArray());
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Autograd.backward(loss));
        assertTrue(e.getMessage().contains("a second time"), e.getMessage());
    }

    /** Only bf16/f16 gradients are widened to F32 before a broadcast reduction: an F64 one keeps every bit. */
    @Test
    void anF64BroadcastGradientIsNotRoundedThroughF32() {
        Tensor x = Tensor.of(CPU, DType.F64, new int[]{2}, 1 + 0x1p-40, 1), a = Autograd.requireGrad(Tensor.of(CPU, DType.F64, new int[]{1}, 3));
        Autograd.backward(F.sum(F.mul(x, a)));
        assertEquals(2 + 0x1p-40, a.grad().item(), 0);
    }

    @Test
    void shapeOpsTakeNegativeDimsAndAnyRank() {
        Tensor x = Tensor.of(CPU, DType.F64, new int[]{2, 3}, 0, 1, 2, 3, 4, 5);
        assertArrayEquals(new int[]{1, 2, 3}, F.unsqueeze(x, 0).shape());
        assertArrayEquals(new int[]{2, 3, 1}, F.unsqueeze(x, -1).shape());
        assertArrayEquals(new int[]{2, 1, 3}, F.unsqueeze(x, -2).shape());
        Tensor t = F.transpose(F.reshape(x, 1, 2, 3), 0, 2);
        assertArrayEquals(new int[]{3, 2, 1}, t.shape());
        assertArrayEquals(new double[]{0, 3, 1, 4, 2, 5}, t.contiguous().toDoubleArray());
        Tensor[] parts = F.split(x, 1, 1, 2);
        assertArrayEquals(new double[]{0, 3}, parts[0].contiguous().toDoubleArray());
        assertArrayEquals(new double[]{1, 2, 4, 5}, parts[1].contiguous().toDoubleArray());
        assertThrows(IllegalArgumentException.class, () -> F.split(x, 1, 1, 1));
        assertSame(x, F.to(x, DType.F64), "already that dtype: the tensor itself");
        assertThrows(IllegalArgumentException.class, () -> F.temporalConv(randn(rng, 1, 3, 2, 2), randn(rng, 2, 3, 1, 2), null, null));
    }

    /** diffusers' Timesteps (flip_sin_to_cos, shift 0): frequencies exp(-ln(10000) j / half), cosines first. */
    @Test
    void sinusoidalEmbeddingIsCosinesThenSines() {
        double f1 = Math.pow(10000, -0.5);   // dim 4: frequencies 1 and 10000^(-1/2)
        Tensor t = Tensor.of(CPU, DType.F64, new int[]{2}, 0, 2.5);
        double[] want = {1, 1, 0, 0, Math.cos(2.5), Math.cos(2.5 * f1), Math.sin(2.5), Math.sin(2.5 * f1)};
        assertArrayEquals(want, F.sinusoidal(t, 4).toDoubleArray(), 1e-15);
    }

    /** A checkpointed block may take an absent (null) input: it gets no gradient, the others theirs. */
    @Test
    void checkpointPassesNullInputsThrough() {
        Tensor x = Autograd.requireGrad(Tensor.of(CPU, DType.F64, new int[]{2}, 1, -3));
        Autograd.backward(F.sum(F.checkpoint(in -> in[1] == null ? F.mul(in[0], in[0]) : in[1], x, null)));
        assertArrayEquals(new double[]{2, -6}, x.grad().toDoubleArray());
    }

    /** A leaf has one accumulator, made on first use and kept, so two uses of it sum into one gradient node. */
    @Test
    void aLeafKeepsOneAccumulator() {
        Tensor x = Autograd.requireGrad(randn(rng, 2));
        Node acc = Autograd.producer(x);
        assertSame(acc, Autograd.producer(x));
        assertSame(acc, x.gradFn());
        assertTrue(Autograd.isLeaf(x));
    }

    /** A gradFn autograd did not make (another engine's) is refused, not silently replaced by an accumulator. */
    @Test
    void aForeignGradFnIsRefused() {
        Tensor x = randn(rng, 2);
        x.setRequiresGrad(true);
        x.setGradFn(new GradFn() {});
        assertThrows(IllegalStateException.class, () -> F.square(x));
    }

    /** needs(i) is whether input i leads to a leaf wanting a gradient; null and constant inputs do not. */
    @Test
    void aNodeNeedsOnlyTheGradientsOfInputsThatRequireThem() {
        Tensor x = Autograd.requireGrad(randn(rng, 2)), c = randn(rng, 2);
        Node n = new Node("probe", x, c, null) {
            @Override
            protected Tensor[] backward(Tensor gy) { return new Tensor[3]; }
        };
        assertTrue(n.needs(0));
        assertFalse(n.needs(1));
        assertFalse(n.needs(2));
    }

    /** A node may return fewer gradients than it has inputs: the missing ones count as none. */
    @Test
    void aNodeMayReturnFewerGradientsThanInputs() {
        Tensor x = Autograd.requireGrad(randn(rng, 2)), w = Autograd.requireGrad(randn(rng, 2));
        Tensor y = Autograd.attach(randn(rng, 2), new Node("first only", x, w) {
            @Override
            protected Tensor[] backward(Tensor gy) { return new Tensor[]{gy.alias()}; }
        });
        Autograd.backward(F.sum(y));
        assertArrayEquals(new double[]{1, 1}, x.grad().toDoubleArray());
        assertNull(w.grad());
        Tensor z = Autograd.attach(randn(rng, 2), new Node("none", x) {
            @Override
            protected Tensor[] backward(Tensor gy) { return new Tensor[0]; }
        });
        Autograd.backward(F.sum(z));
        assertArrayEquals(new double[]{1, 1}, x.grad().toDoubleArray(), "unchanged");
    }

    /** A node handing a leaf a gradient of another shape is a bug in that node: refused, not accumulated. */
    @Test
    void aLeafRefusesAGradientOfAnotherShape() {
        Tensor x = Autograd.requireGrad(randn(rng, 2));
        Tensor y = Autograd.attach(randn(rng, 3), new Node("wrong shape", x) {
            @Override
            protected Tensor[] backward(Tensor gy) { return new Tensor[]{gy.alias()}; }
        });
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Autograd.backward(F.sum(y)));
        assertTrue(e.getMessage().contains("for leaf [2]"), e.getMessage());
        assertNull(x.grad());
    }

    @Test
    void meanIsTheSumOverTheCount() {
        Tensor x = Autograd.requireGrad(Tensor.of(CPU, DType.F64, new int[]{2, 2}, 1, 2, 3, 6));
        Tensor m = F.mean(x);
        assertEquals(3, m.item());
        Autograd.backward(m);
        assertArrayEquals(new double[]{0.25, 0.25, 0.25, 0.25}, x.grad().toDoubleArray());
    }

    @Test
    void detachKeepsTheValuesAndCutsTheGraph() {
        Tensor x = Autograd.requireGrad(Tensor.of(CPU, DType.F64, new int[]{2}, 1, -2));
        Tensor d = F.detach(F.square(x));
        assertArrayEquals(new double[]{1, 4}, d.toDoubleArray());
        assertFalse(d.requiresGrad());
        assertNull(d.gradFn());
    }

    /**
     * block(true) is a checkpoint: one node over the block; block(false) records the block's own ops. Node names are what
     * a second backward's message names (group norm's says whether the SiLU was fused).
     */
    @Test
    void aCheckpointedBlockIsOneCheckpointNode() {
        Tensor x = Autograd.requireGrad(randn(rng, 3));
        assertEquals("Node(checkpoint)", F.block(true, in -> F.square(F.square(in[0])), x).gradFn().toString());
        assertEquals("Node(square)", F.block(false, in -> F.square(F.square(in[0])), x).gradFn().toString());
        Tensor h = Autograd.requireGrad(randn(rng, 1, 2, 4)), gamma = randn(rng, 4), beta = randn(rng, 4);
        assertEquals("Node(groupNormSilu)", F.groupNorm(h, gamma, beta, 2, 1e-5, true).gradFn().toString());
        assertEquals("Node(groupNorm)", F.groupNorm(h, gamma, beta, 2, 1e-5, false).gradFn().toString());
    }

    /**
     * The blend factor's gradient (the backend's is F32) reaches alpha's producer in alpha's dtype, as every gradient
     * reaches a node in its output's: a bf16 op's backward kernel is not handed an F32 gradient.
     */
    @Test
    void theBlendFactorsGradientArrivesInAlphasDtype() {
        for (DType t : List.of(DType.F64, DType.BF16)) {
            Tensor a = Tensor.of(CPU, t, new int[]{2}, 1.5, 0), b = Tensor.of(CPU, t, new int[]{2}, 0, 0);
            Tensor p = Autograd.requireGrad(Tensor.of(CPU, t, new int[]{1}, 0.5));
            DType[] seen = new DType[1];
            Tensor alpha = Autograd.attach(p.alias(), new Node("probe", p) {
                @Override
                protected Tensor[] backward(Tensor gy) {
                    seen[0] = gy.dtype();
                    return new Tensor[]{gy.alias()};
                }
            });
            Autograd.backward(F.sum(F.blendFilm(a, b, alpha, null, null)));
            assertEquals(t, seen[0]);
            assertEquals(1.5, p.grad().item(), 0);
        }
    }
}
