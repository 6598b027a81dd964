package dev.puppetengine.nn;

import dev.puppetengine.autograd.F;
import dev.puppetengine.backend.ConvSpec;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Random;

import static dev.puppetengine.testing.GradCheck.randn;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The module tree (checkpoint key names, duplicates refused, counts), parameters before weights, Init and Layout, and
 * each layer's forward against the F ops it stands for (the model tests reach these only through whole blocks).
 */
class ModuleTest {
    static final CpuBackend CPU = CpuBackend.get();
    private final Random rng = new Random(11);

    @Test
    void keysFollowTheTreeAndNamesAreUnique() {
        Attention a = new Attention(4, 6, 2, 3, true, 2, 1e-6);
        assertEquals(List.of("group_norm.weight", "group_norm.bias", "to_q.weight", "to_q.bias", "to_k.weight", "to_k.bias",
                "to_v.weight", "to_v.bias", "to_out.0.weight", "to_out.0.bias"), List.copyOf(a.namedParameters().keySet()));
        assertEquals(List.of("group_norm", "to_q", "to_k", "to_v", "to_out"), List.copyOf(a.children().keySet()));
        assertEquals(2 * 4 + (4 * 6 + 6) + 2 * (6 * 6 + 6) + (6 * 4 + 4), a.parameterCount());
        assertEquals(List.of("net.0.proj.weight", "net.0.proj.bias", "net.2.weight", "net.2.bias"),
                List.copyOf(new FeedForward(4, 8, 5).namedParameters().keySet()));
        assertEquals(List.of("weight"), List.copyOf(new Linear(3, 2, false).namedParameters().keySet()));

        Container c = new Container();
        Linear l = new Linear(2, 2, true);
        assertSame(l, c.put("x", l));
        assertThrows(IllegalStateException.class, () -> c.put("x", new Linear(2, 2, true)));
        assertSame(l, c.children().get("x"), "a refused name leaves the first holder in place");
        Module m = new Module() {
            {
                param("w", Init.ones(), 2);
                add("c", new Container());
                assertThrows(IllegalStateException.class, () -> add("w", new Container()), "a child named as a parameter");
                assertThrows(IllegalStateException.class, () -> param("c", Init.ones(), 2), "a parameter named as a child");
                assertThrows(IllegalStateException.class, () -> param("w", Init.ones(), 2));
            }
        };
        assertEquals(List.of("w"), List.copyOf(m.namedParameters().keySet()), "refused names register nothing");
        assertEquals(2, m.parameterCount());
    }

    @Test
    void aParameterKnowsItsShapesBeforeItHasWeights() {
        Conv2d conv = new Conv2d(3, 5, 3, ConvSpec.of(1, 1), true);
        Parameter w = conv.weight;
        assertArrayEquals(new int[]{5, 3, 3, 3}, w.shape());
        assertArrayEquals(new int[]{5, 3, 3, 3}, w.checkpointShape());
        assertSame(Layout.CONV2D, w.layout());
        assertEquals(135, w.numel());
        assertEquals(Init.fanIn(27), w.init());
        assertFalse(w.isMaterialized());
        assertThrows(IllegalStateException.class, w::value);
        assertThrows(IllegalArgumentException.class, () -> w.set(Tensor.zeros(CPU, DType.F32, 5, 3, 3, 4)));
        Conv2d wide = new Conv2d(4, 2, 1, ConvSpec.of(1, 0), false);
        assertArrayEquals(new int[]{2, 4, 1, 1}, wide.weight.checkpointShape());
        assertNull(wide.bias);
        assertEquals(Init.zeros(), new Conv2d(4, 2, 3, ConvSpec.of(1, 1), true, true).bias.init());
        assertArrayEquals(new int[]{6, 4, 3, 1, 1}, new TemporalConv(4, 6).weight.checkpointShape());
        assertEquals(Init.fanIn(12), new TemporalConv(4, 6).bias.init());
        assertEquals(Init.fanIn(12), new TemporalConv(4, 6).weight.init());
        assertArrayEquals(new int[]{32, 4}, new FeedForward(4).namedParameters().get("net.0.proj.weight").shape(), "inner 4 x dim, doubled for the gate");
        ModuleList<Linear> list = new ModuleList<>();
        Linear first = list.append(new Linear(2, 2, true)), second = list.append(new Linear(2, 3, true));
        assertEquals(2, list.size());
        assertSame(second, list.get(1));
        assertEquals(List.of(first, second), list.items());
        assertEquals(List.of("0.weight", "0.bias", "1.weight", "1.bias"), List.copyOf(list.namedParameters().keySet()));
    }

    @Test
    void initsAreTorchDefaults() {
        assertEquals(new Init(Init.Kind.UNIFORM, 0.25), Init.fanIn(16));
        assertEquals(new Init(Init.Kind.CONSTANT, 0), Init.zeros());
        assertEquals(new Init(Init.Kind.CONSTANT, 1), Init.ones());
        assertEquals(new Init(Init.Kind.CONSTANT, -2), Init.constant(-2));
        assertEquals(new Init(Init.Kind.NORMAL, 0.02), Init.normal(0.02));
    }

    /** Checkpoint (Cout, Cin, kh, kw) / (Cout, Cin, 3, 1, 1) and engine (Cout, kh, kw, Cin) layouts, element by element. */
    @Test
    void layoutsMoveTheChannelDim() {
        try (Scope s = Scope.open()) {
            Tensor ck = randn(rng, 2, 3, 4, 5);   // (Cout, Cin, kh, kw)
            Tensor en = Layout.CONV2D.toEngine(ck);
            assertArrayEquals(new int[]{2, 4, 5, 3}, en.shape());
            double[] c = ck.toDoubleArray(), e = en.toDoubleArray();
            assertEquals(c[((1 * 3 + 2) * 4 + 3) * 5 + 4], e[((1 * 4 + 3) * 5 + 4) * 3 + 2]);
            assertArrayEquals(c, Layout.CONV2D.toCheckpoint(en).toDoubleArray());
            Tensor ck3 = randn(rng, 2, 3, 3, 1, 1);
            Tensor en3 = Layout.CONV3D_TEMPORAL.toEngine(ck3);
            assertArrayEquals(new int[]{2, 3, 1, 3}, en3.shape());
            assertEquals(ck3.toDoubleArray()[(1 * 3 + 2) * 3 + 0], en3.toDoubleArray()[(1 * 3 + 0) * 3 + 2]);
            Tensor back = Layout.CONV3D_TEMPORAL.toCheckpoint(en3);
            assertArrayEquals(new int[]{2, 3, 3, 1, 1}, back.shape());
            assertArrayEquals(ck3.toDoubleArray(), back.toDoubleArray());
            Tensor t = randn(rng, 3, 2).transpose(0, 1);
            assertTrue(Layout.PLAIN.toEngine(t).isContiguous());
            assertArrayEquals(t.contiguous().toDoubleArray(), Layout.PLAIN.toCheckpoint(t).toDoubleArray());
            assertArrayEquals(new int[]{3, 2}, Layout.PLAIN.checkpointShape(new int[]{3, 2}));
        }
    }

    /** Each layer is the F op it names, with its own weights (biases present or absent as built). */
    @Test
    void layersForwardThroughTheirFOps() {
        try (Scope s = Scope.open()) {
            Linear noBias = new Linear(4, 3, false), proj = new Linear(4, 6, true), projNoBias = new Linear(4, 6, false);
            Conv2d conv = Conv2d.same(2, 3, 3), pointwise = new Conv2d(2, 3, 1, ConvSpec.of(1, 0), false);
            GroupNorm gn = new GroupNorm(2, 4, 1e-5);
            LayerNorm ln = new LayerNorm(4, 1e-5);
            TemporalConv tc = new TemporalConv(2, 3);
            Attention at = new Attention(4, 4, 2, 2, false, 2, 1e-5);
            FeedForward ff = new FeedForward(4, 3, 4);
            for (Module m : List.of(noBias, proj, projNoBias, conv, pointwise, gn, ln, tc, at, ff)) ParameterStore.initialize(m, CPU, DType.F64, 3);
            for (Parameter p : List.of(gn.weight, gn.bias, ln.weight, ln.bias)) p.value().copyFrom(randn(rng, 4).toDoubleArray());
            Tensor x = randn(rng, 2, 4), img = randn(rng, 1, 3, 3, 2), vid = randn(rng, 1, 3, 2, 2, 2), h = randn(rng, 1, 2, 2, 4);
            same(F.linear(x, noBias.weight.value(), null), noBias.forward(x));
            same(F.geglu(F.linear(x, proj.weight.value(), proj.bias.value())), proj.forwardGeglu(x));
            same(F.geglu(F.linear(x, projNoBias.weight.value(), null)), projNoBias.forwardGeglu(x));
            same(F.conv2d(img, pointwise.weight.value(), null, null, ConvSpec.of(1, 0)), pointwise.forward(img));
            assertEquals(ConvSpec.of(1, 1), conv.spec);
            same(F.conv2d(img, conv.weight.value(), conv.bias.value(), null, ConvSpec.of(1, 1)), conv.forward(img));
            same(F.groupNorm(h, gn.weight.value(), gn.bias.value(), 2, 1e-5, false), gn.forward(h));
            same(F.groupNorm(h, gn.weight.value(), gn.bias.value(), 2, 1e-5, true), gn.forwardSilu(h));
            same(F.layerNorm(x, ln.weight.value(), ln.bias.value(), 1e-5), ln.forward(x));
            same(F.temporalConv(vid, tc.weight.value(), tc.bias.value(), null), tc.forward(vid));
            Map<String, Parameter> fp = ff.namedParameters();
            same(F.linear(F.geglu(F.linear(x, fp.get("net.0.proj.weight").value(), fp.get("net.0.proj.bias").value())),
                    fp.get("net.2.weight").value(), fp.get("net.2.bias").value()), ff.forward(x, null));
            Tensor tokens = F.reshape(at.groupNorm.forward(h), 1, 4, 4), flat = F.reshape(h, 1, 4, 4);
            Tensor q = at.toQ.forward(tokens), k = at.toK.forward(tokens), v = at.toV.forward(tokens);
            Tensor want = F.add(at.toOut.forward(F.attention(q, k, v, 2, 1 / Math.sqrt(2))), flat);
            same(F.reshape(want, 1, 2, 2, 4), at.forwardImage(h));
            assertThrows(IllegalStateException.class, () -> new Attention(4, 4, 2, 2).forwardImage(h));
            assertThrows(IllegalArgumentException.class, () -> new GroupNorm(3, 4, 1e-5));
        }
    }

    private static void same(Tensor want, Tensor got) {
        assertArrayEquals(want.shape(), got.shape());
        assertArrayEquals(want.toDoubleArray(), got.toDoubleArray(), 1e-12);
    }
}
