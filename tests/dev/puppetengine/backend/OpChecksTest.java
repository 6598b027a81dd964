package dev.puppetengine.backend;

import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import dev.puppetengine.testing.DeviceUnderTest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Bad operands: every op names itself, the operand and the shapes, and the CPU reference and the CUDA backend
 * refuse the same call with the same message (both go through {@link OpChecks}, {@link ConvGeometry},
 * {@link AttentionDims}).
 */
class OpChecksTest {
    private static Tensor t(Backend b, int... shape) { return b.empty(DType.F32, shape); }

    /** Each bad call, by the message it must raise. */
    private static Map<String, Consumer<Backend>> badCalls() {
        Map<String, Consumer<Backend>> m = new LinkedHashMap<>();
        m.put("copyInto: shapes [2, 3] and [3, 2] differ", b -> b.copyInto(t(b, 2, 3), t(b, 3, 2)));
        m.put("axpby: shapes [2, 3] and [2] differ", b -> b.axpby(1, t(b, 2, 3), 1, t(b, 2)));
        m.put("sumTo: [2, 3] does not broadcast from [2]", b -> b.sumTo(t(b, 2, 3), new int[]{2}));
        m.put("clamp: bounds [1.0, -1.0] are not lo <= hi", b -> b.clamp(t(b, 2, 3), 1, -1));
        m.put("clamp: bounds [NaN, 1.0] are not lo <= hi", b -> b.clamp(t(b, 2, 3), Double.NaN, 1));
        m.put("matmul needs rank >= 2, got [3] x [3, 2]", b -> b.matmul(t(b, 3), t(b, 3, 2)));
        m.put("matmul: inner dims differ in [2, 3] x [4, 2]", b -> b.matmul(t(b, 2, 3), t(b, 4, 2)));
        m.put("linear: weight [5, 4] does not take inputs [2, 3]", b -> b.linear(t(b, 2, 3), t(b, 5, 4), null));
        m.put("linear: inputs [3, 0] have no features", b -> b.linear(t(b, 3, 0), t(b, 4, 0), null));
        m.put("linear: bias must have shape [5]", b -> b.linear(t(b, 2, 3), t(b, 5, 3), t(b, 4)));
        m.put("linear: residual [2, 4] must have the output's shape [2, 5]", b -> b.linear(t(b, 2, 3), t(b, 5, 3), null, t(b, 2, 4)));
        m.put("linearGeglu: the projection needs an even number of outputs (values then gates), got 5",
                b -> b.linearGeglu(t(b, 2, 3), t(b, 5, 3), null));
        m.put("geglu: last dim 5 is odd", b -> b.geglu(t(b, 2, 5)));
        m.put("conv2d expects x (N,H,W,Cin) and w (Cout,kh,kw,Cin), got [4, 4, 3], [8, 3, 3, 3]",
                b -> b.conv2d(t(b, 4, 4, 3), t(b, 8, 3, 3, 3), null, ConvSpec.of(1, 1)));
        m.put("conv2d: input has 3 channels, weight expects 4", b -> b.conv2d(t(b, 1, 4, 4, 3), t(b, 8, 3, 3, 4), null, ConvSpec.of(1, 1)));
        m.put("conv2d: empty output for input [1, 2, 2, 3] kernel 3x3 " + ConvSpec.of(1, 0),
                b -> b.conv2d(t(b, 1, 2, 2, 3), t(b, 8, 3, 3, 3), null, ConvSpec.of(1, 0)));
        m.put("conv2d: empty output for input [1, 2, 4, 3] kernel 3x3 " + ConvSpec.of(1, 0),   // no rows, two columns
                b -> b.conv2d(t(b, 1, 2, 4, 3), t(b, 8, 3, 3, 3), null, ConvSpec.of(1, 0)));
        m.put("conv2d: empty output for input [1, 4, 2, 3] kernel 3x3 " + ConvSpec.of(1, 0),
                b -> b.conv2d(t(b, 1, 4, 2, 3), t(b, 8, 3, 3, 3), null, ConvSpec.of(1, 0)));
        m.put("conv2d: residual [1, 4, 4, 7] must have the output's shape [1, 4, 4, 8]",
                b -> b.conv2d(t(b, 1, 4, 4, 3), t(b, 8, 3, 3, 3), null, t(b, 1, 4, 4, 7), ConvSpec.of(1, 1)));
        m.put("conv2d: empty output for input [1, 2, 2, 3] kernel 3x3 " + ConvSpec.of(2, 0),   // (2 - 3) / 2 truncates to 0
                b -> b.conv2d(t(b, 1, 2, 2, 3), t(b, 8, 3, 3, 3), null, ConvSpec.of(2, 0)));
        m.put("groupNorm: gamma [2, 2] must have shape [4]", b -> b.groupNorm(t(b, 1, 2, 4), t(b, 2, 2), t(b, 4), 2, 1e-5, false));
        m.put("layerNorm: gamma [5] must have shape [2]", b -> b.layerNorm(t(b, 2, 2), t(b, 5), t(b, 2), 1e-5));
        m.put("layerNorm: beta [3] must have shape [4]", b -> b.layerNorm(t(b, 2, 4).permute(1, 0).contiguous().permute(1, 0), null, t(b, 3), 1e-5));
        m.put("blendFilm: a blend needs alpha of shape [1], got []", b -> b.blendFilm(t(b, 2, 3), t(b, 2, 3), t(b), null, null));
        m.put("groupNorm needs (N, ..., C), got [6]", b -> b.groupNorm(t(b, 6), null, null, 2, 1e-5, false));
        m.put("groupNorm: 6 channels not divisible by 4 groups", b -> b.groupNorm(t(b, 1, 2, 6), null, null, 4, 1e-5, false));
        m.put("groupNorm: 6 channels not divisible by 0 groups", b -> b.groupNorm(t(b, 1, 2, 6), null, null, 0, 1e-5, false));
        m.put("layerNorm needs (..., C), got []", b -> b.layerNorm(t(b), null, null, 1e-5));
        m.put("attention: q has 8 channels, k has 6", b -> b.attention(t(b, 1, 2, 8), t(b, 1, 3, 6), t(b, 1, 3, 6), 2, 1));
        m.put("attention: query batch 3 is not a multiple of key batch 2", b -> b.attention(t(b, 3, 2, 8), t(b, 2, 3, 8), t(b, 2, 3, 8), 2, 1));
        m.put("attention expects q (Bq,Lq,C), k and v (Bk,Lk,C); got [1, 2, 8], [1, 3, 8], [1, 4, 8]",
                b -> b.attention(t(b, 1, 2, 8), t(b, 1, 3, 8), t(b, 1, 4, 8), 2, 1));
        m.put("attention: query batch 2 is not a multiple of key batch 0", b -> b.attention(t(b, 2, 2, 8), t(b, 0, 3, 8), t(b, 0, 3, 8), 2, 1));
        m.put("attention: 8 channels not divisible by 3 heads", b -> b.attention(t(b, 1, 2, 8), t(b, 1, 3, 8), t(b, 1, 3, 8), 3, 1));
        m.put("attention: 8 channels not divisible by 0 heads", b -> b.attention(t(b, 1, 2, 8), t(b, 1, 3, 8), t(b, 1, 3, 8), 0, 1));
        m.put("attention needs at least one query and one key, got Lq 0, Lk 3", b -> b.attention(t(b, 1, 0, 8), t(b, 1, 3, 8), t(b, 1, 3, 8), 2, 1));
        m.put("attention needs at least one query and one key, got Lq 2, Lk 0", b -> b.attention(t(b, 1, 2, 8), t(b, 1, 0, 8), t(b, 1, 0, 8), 2, 1));
        m.put("gegluBackward: gradient [2, 4] must have the output's shape [2, 3]", b -> b.gegluBackward(t(b, 2, 6), t(b, 2, 4)));
        m.put("upsampleNearest2xBackward expects (N,2H,2W,C), got [1, 5, 4, 3]", b -> b.upsampleNearest2xBackward(t(b, 1, 5, 4, 3)));
        m.put("gridSamplePointsBackward: gradient [1, 5, 4] must be (N,K,C) = [1, 5, 3]",
                b -> b.gridSamplePointsBackward(t(b, 1, 5, 4), t(b, 1, 5, 2), new int[]{1, 4, 4, 3}));
        m.put("upsampleNearest2x expects (N,H,W,C), got [2, 2, 3]", b -> b.upsampleNearest2x(t(b, 2, 2, 3)));
        m.put("gridSamplePoints expects feat (N,H,W,C) and points (N,K,2), got [1, 4, 4, 3], [1, 5, 3]",
                b -> b.gridSamplePoints(t(b, 1, 4, 4, 3), t(b, 1, 5, 3)));
        m.put("gridSamplePoints expects feat (N,H,W,C) and points (N,K,2), got [1, 4, 4], [1, 5, 2]",   // the backward's feature map too
                b -> b.gridSamplePointsBackward(t(b, 1, 5, 3), t(b, 1, 5, 2), new int[]{1, 4, 4}));
        m.put("blendFilm: b [3, 2] must have a's shape [2, 3]", b -> b.blendFilm(t(b, 2, 3), t(b, 3, 2), t(b, 1), null, null));
        m.put("blendFilm: a blend needs alpha of shape [1], got none", b -> b.blendFilm(t(b, 2, 3), t(b, 2, 3), null, null, null));
        m.put("blendFilm: gamma and beta come together", b -> b.blendFilm(t(b, 2, 3), null, null, t(b, 2, 3), null));
        m.put("blendFilm: beta [3, 2] must have a's shape [2, 3]", b -> b.blendFilm(t(b, 2, 3), null, null, t(b, 2, 3), t(b, 3, 2)));
        m.put("blendFilm: gamma [3, 2] must have a's shape [2, 3]", b -> b.blendFilmBackward(t(b, 2, 3), null, null, t(b, 3, 2), t(b, 2, 3)));
        m.put("concat of no tensors", b -> b.concat(List.of(), 0));
        m.put("concat: ranks differ", b -> b.concat(List.of(t(b, 2, 3), t(b, 3)), 0));
        m.put("concat along 1: shapes [2, 3] and [3, 2] differ", b -> b.concat(List.of(t(b, 2, 3), t(b, 3, 2)), 1));
        return m;
    }

    private static void refusesEveryBadCall(Backend b) {
        try (Scope ignored = Scope.open()) {
            badCalls().forEach((message, call) ->
                    assertEquals(message, assertThrows(IllegalArgumentException.class, () -> call.accept(b), message).getMessage()));
        }
    }

    /** A stride below 1 or a negative padding, in any of the six fields, is refused. */
    @Test
    void convSpecRefusesEachBadField() {
        for (int f = 0; f < 6; f++) {
            int[] v = {1, 1, 0, 0, 0, 0};
            v[f] = f < 2 ? 0 : -1;
            assertThrows(IllegalArgumentException.class, () -> new ConvSpec(v[0], v[1], v[2], v[3], v[4], v[5]), "field " + f);
        }
    }

    @Test
    void cpuReferenceRefusesBadOperandsByName() {
        refusesEveryBadCall(CpuBackend.get());
    }

    @Test
    @Tag("gpu")
    void cudaRefusesTheSameCallsWithTheSameWords() {
        refusesEveryBadCall(DeviceUnderTest.require());
    }
}
