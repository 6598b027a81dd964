package dev.puppetengine.bench;

import dev.puppetengine.autograd.GemmRecorder.Epilogue;
import dev.puppetengine.autograd.GemmRecorder.Product;
import dev.puppetengine.backend.ConvSpec;
import dev.puppetengine.tensor.DType;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The ids (the key PyTorch's results merge by), spec and traffic of GemmCases on small products, each counted here
 * from the shapes, and the Backend op each times. BenchOpsTest checks the model's products, not these sums.
 */
class GemmCasesTest {
    private static OpCase gemm(String kind, String pass, int batch, boolean ta, boolean tb, boolean bias, Epilogue e) {
        return GemmCases.of("g", "p ", new Product(kind, pass, DType.BF16, batch, 4, 6, 8, ta, tb, bias, e, null, null, null), 3);
    }

    private static OpCase conv(String pass, int[] w, ConvSpec spec, boolean bias, Epilogue e) {
        return GemmCases.of("g", "", Product.conv(pass, DType.F32, new int[]{2, 5, 5, 3}, w, spec, bias, e), 1);
    }

    /** Its id, bytes and the one Backend call it times. */
    private static void is(OpCase c, String id, long bytes, String call) {
        assertEquals(id, c.id());
        assertEquals(bytes, c.bytes(), id);
        assertEquals(List.of(call), OpCaseTest.timedCalls(c), id);
    }

    @Test
    void matrixProductsAreNamedAndCountedFromTheirShapes() {
        // m 4, n 6, k 8 in BF16: A (m k) and B (k n) read, C (m n) written; GEGLU writes half of C, a residual is read too
        OpCase geglu = gemm("linear", "forward", 1, false, false, true, Epilogue.GEGLU);
        is(geglu, "p linear fwd 4x6x8 +bias +geglu", 2 * (32 + 48 + 12), "linearGeglu([4, 8], [6, 8], [6])");
        assertEquals("g", geglu.group());
        assertEquals(3, geglu.count());
        assertEquals(2L * 4 * 6 * 8, geglu.flops());
        assertEquals("linear forward BF16 true geglu 4 6 8", String.join(" ", List.of(geglu.spec().get("kind").asText(),
                geglu.spec().get("pass").asText(), geglu.spec().get("dtype").asText(), geglu.spec().get("bias").asText(),
                geglu.spec().get("epilogue").asText(), geglu.spec().get("m").asText(), geglu.spec().get("n").asText(), geglu.spec().get("k").asText())));
        is(gemm("linear", "forward", 1, false, false, false, Epilogue.RESIDUAL), "p linear fwd 4x6x8 +residual", 2 * (32 + 48 + 2 * 24), "linear([4, 8], [6, 8], null, [4, 6])");
        is(gemm("linear", "forward", 1, false, false, false, Epilogue.NONE), "p linear fwd 4x6x8", 2 * (32 + 48 + 24), "linear([4, 8], [6, 8], null, null)");
        is(gemm("matmul", "backward_input", 3, true, false, false, Epilogue.NONE), "p matmul dX 3*4x6x8 aT", 2 * 3 * (32 + 48 + 24), "matmul([3, 4, 8], [3, 8, 6])");
        is(gemm("matmul", "backward_weight", 1, false, true, false, Epilogue.NONE), "p matmul dW 4x6x8 bT", 2 * (32 + 48 + 24), "matmul([4, 8], [8, 6])");
    }

    @Test
    void convolutionsAreNamedAndCountedFromTheirShapes() {
        // x 2x5x5x3 (150), w 4x3x3x3 (108) in F32; 'same' padding keeps y 2x5x5x4 (200), stride 2 unpadded gives 2x2x2x4 (32)
        OpCase same = conv("forward", new int[]{4, 3, 3, 3}, ConvSpec.of(1, 1), true, Epilogue.RESIDUAL);
        is(same, "conv3x3 fwd 2x5x5x3 -> 4 +bias +residual", 4 * (150 + 108 + 2 * 200),
                "conv2d([2, 5, 5, 3], [4, 3, 3, 3], [4], [2, 5, 5, 4], _)");
        assertEquals(2L * 2 * 5 * 5 * 4 * 3 * 3 * 3, same.flops());
        assertEquals("[2,5,5,3] [4,3,3,3] [1,1] [1,1,1,1] false", String.join(" ", same.spec().get("x").toString(), same.spec().get("w").toString(),
                same.spec().get("stride").toString(), same.spec().get("pad").toString(), same.spec().get("temporal").asText()));
        is(conv("backward_input", new int[]{4, 3, 3, 3}, ConvSpec.of(2, 0), false, Epilogue.NONE), "conv3x3 dX 2x5x5x3 s2,2 pad[0, 0, 0, 0] -> 4",
                4 * (150 + 108 + 32), "conv2dBackwardInput([2, 2, 2, 4], [4, 3, 3, 3], _, _)");
        is(conv("backward_weight", new int[]{4, 3, 3, 3}, new ConvSpec(1, 2, 1, 1, 0, 1), false, Epilogue.NONE),
                "conv3x3 dW 2x5x5x3 s1,2 pad[1, 1, 0, 1] -> 4", 4 * (150 + 108 + 2 * 5 * 2 * 4),
                "conv2dBackwardWeight([2, 5, 2, 4], [2, 5, 5, 3], _, _)");
        OpCase temporal = conv("forward", new int[]{4, 3, 1, 3}, new ConvSpec(1, 1, 1, 1, 0, 0), false, Epilogue.NONE);
        is(temporal, "tconv3x1x1 fwd 2x5x5x3 -> 4", 4 * (150 + 36 + 200), "conv2d([2, 5, 5, 3], [4, 3, 1, 3], null, null, _)");
        assertEquals("true", temporal.spec().get("temporal").asText());
    }

    /** Read and write of about the largest case's bytes, but at least 1 MiB and at most 1 GiB. */
    @Test
    void theCopyMovesTheLargestCasesBytesWithinItsBounds() {
        OpCase small = gemm("linear", "forward", 1, false, false, false, Epilogue.NONE);
        is(GemmCases.copy(List.of(small), DType.BF16), "copy BF16 0.5 MiB", 1 << 20, "copy([262144], _)");
        OpCase mid = GemmCases.of("g", "", new Product("matmul", "forward", DType.F32, 1, 1024, 1024, 1024, false, false, false, Epilogue.NONE,
                null, null, null), 1);   // 12 MiB
        OpCase copy = GemmCases.copy(List.of(small, mid), DType.F32);
        assertEquals("copy F32 6.0 MiB", copy.id());
        assertEquals(12L << 20, copy.bytes());
        assertEquals(0, copy.flops());
        assertEquals(3L << 19, copy.spec().get("numel").asLong());
        OpCase huge = GemmCases.of("g", "", new Product("matmul", "forward", DType.F32, 1, 1 << 15, 1 << 15, 1 << 15, false, false, false,
                Epilogue.NONE, null, null, null), 1);
        assertEquals("copy F32 512.0 MiB", GemmCases.copy(List.of(huge), DType.F32).id());
    }
}
