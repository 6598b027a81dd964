package dev.puppetengine.model.drag;

import dev.puppetengine.autograd.Autograd;
import dev.puppetengine.autograd.F;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

class DragConditioningTest {
    /**
     * A bf16 UNet still samples drag tokens at the float32 drags (spec 3.5): rounded to bf16, the spec's 11.1 target
     * x 0.563824 would become 0.5625, 0.04 of a cell off at r = 32.
     */
    @Test
    void pointsKeepFullPrecisionInABf16Model() {
        float u = 0.563824f, v = 0.265625f;   // at r = 32: px = 17.5424, py = 8 (a cell centre)
        float[] drags = {u, v, u, v, u, v, 0.25f, 0.75f};   // (B=1, F=2, K=1, 4): start, current target
        try (Scope s = Scope.open()) {
            DragConditioning dc = DragConditioning.build(drags, 1, 2, 1, Set.of(32), 32, CpuBackend.get(), DType.BF16);
            assertEquals(DType.F32, dc.start().dtype());
            assertEquals(DType.F32, dc.target().dtype());
            assertArrayEquals(new double[]{u, v, u, v}, dc.start().toDoubleArray(), 0);
            assertArrayEquals(new double[]{u, v, 0.25f, 0.75f}, dc.target().toDoubleArray(), 0);

            double[] oneHot = new double[2 * 32 * 32];                // bf16 features, 1 at (y 8, x 18) of each frame
            oneHot[8 * 32 + 18] = oneHot[32 * 32 + 8 * 32 + 18] = 1;
            Tensor h = Tensor.of(CpuBackend.get(), DType.BF16, new int[]{2, 32, 32, 1}, oneHot);
            double[] w = F.gridSamplePoints(h, dc.start()).toDoubleArray();
            double ax = u * 32.0f - 0.5f - 17;                     // the bilinear weight of x = 18
            assertEquals(Tensor.of(CpuBackend.get(), DType.BF16, new int[]{1}, ax).item(), w[0], 0, "weight " + ax + ", not 0.5");
        }
    }

    /**
     * Two videos of two frames with two slots each, video 0 using slot 0 and video 1 slot 1, all points at cell centres of
     * r = 4 (u = (j + 0.5) / 4), where the positional samples are the table's rows themselves.
     */
    private static final int B = 2, FRAMES = 2, K = 2, R = 4, P = 4, C = 2, X = 3;

    private static float[] twoVideos() {
        float[] d = new float[B * FRAMES * K * 4];
        put(d, 0, 0, 0, 0.125f, 0.375f, 0.125f, 0.375f);
        put(d, 0, 1, 0, 0.125f, 0.375f, 0.625f, 0.875f);
        put(d, 1, 0, 1, 0.875f, 0.125f, 0.875f, 0.125f);
        put(d, 1, 1, 1, 0.875f, 0.125f, 0.375f, 0.625f);
        return d;
    }

    private static void put(float[] d, int video, int frame, int slot, float... v) {
        System.arraycopy(v, 0, d, ((video * FRAMES + frame) * K + slot) * 4, 4);
    }

    @Test
    void aBatchOfVideosWithSeveralSlotsKeepsEachPointInItsRow() {
        float[] d = twoVideos();
        try (Scope s = Scope.open()) {
            DragConditioning dc = DragConditioning.build(d, B, FRAMES, K, Set.of(R, 2), P, CpuBackend.get(), DType.F32);
            double[] start = new double[B * FRAMES * K * 2], target = new double[start.length];
            for (int i = 0; i < B * FRAMES * K; i++) {
                start[2 * i] = d[4 * i]; start[2 * i + 1] = d[4 * i + 1];
                target[2 * i] = d[4 * i + 2]; target[2 * i + 1] = d[4 * i + 3];
            }
            assertArrayEquals(new int[]{B * FRAMES, K, 2}, dc.start().shape());
            assertArrayEquals(start, dc.start().toDoubleArray(), 0);
            assertArrayEquals(target, dc.target().toDoubleArray(), 0);

            DragConditioning.Level lv = dc.level(R);
            assertArrayEquals(new int[]{B * FRAMES, R, R, 6 * K}, lv.raster().shape());
            float[] raster = DragRasterizer.rasterize(d, B, FRAMES, K, R);
            double[] got = lv.raster().toDoubleArray();
            for (int i = 0; i < raster.length; i++) assertEquals(raster[i], got[i], 0, "raster value " + i);
            assertArrayEquals(new int[]{B * FRAMES, K, P}, lv.posStart().shape());
            assertArrayEquals(new int[]{B * FRAMES, K, P}, lv.posTarget().shape());
            double[] table = SinCosTable.table(R, P), ps = lv.posStart().toDoubleArray(), pt = lv.posTarget().toDoubleArray();
            for (int n = 0; n < B * FRAMES; n++) {
                int slot = n / FRAMES;                                  // the slot video n / FRAMES uses
                int row = n * K + slot;
                int startCell = DragRasterizer.cell((float) start[2 * row + 1], R) * R + DragRasterizer.cell((float) start[2 * row], R);
                int targetCell = DragRasterizer.cell((float) target[2 * row + 1], R) * R + DragRasterizer.cell((float) target[2 * row], R);
                for (int j = 0; j < P; j++) {
                    assertEquals(table[startCell * P + j], ps[row * P + j], 1e-6, "pos(start) of image " + n + ", value " + j);
                    assertEquals(table[targetCell * P + j], pt[row * P + j], 1e-6, "pos(target) of image " + n + ", value " + j);
                }
            }
            assertArrayEquals(new int[]{B * FRAMES, 2, 2, 6 * K}, dc.level(2).raster().shape());
            String msg = assertThrows(IllegalStateException.class, () -> dc.level(8)).getMessage();
            assertEquals("no drag raster built for resolution 8", msg);
        }
    }

    /**
     * The context is [clip, tokens]: an absent slot's token is zero (video 0's slot 1, video 1's slot 0), a present
     * one's not; the features get a gradient through the tokens only when not detached.
     */
    @Test
    void theContextMasksAbsentSlotsAndDetachesTheFeatures() {
        DragTokenMlp mlp = new DragTokenMlp(2 * C + 2 * P, X);
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(mlp, CpuBackend.get(), DType.F64, 5)) {
            DragConditioning dc = DragConditioning.build(twoVideos(), B, FRAMES, K, Set.of(R), P, CpuBackend.get(), DType.F64);
            double[] clip = new double[B * FRAMES * X], feat = new double[B * FRAMES * R * R * C];
            for (int i = 0; i < clip.length; i++) clip[i] = i + 1;
            for (int i = 0; i < feat.length; i++) feat[i] = Math.sin(i);
            Tensor clipContext = Tensor.of(CpuBackend.get(), DType.F64, new int[]{B * FRAMES, 1, X}, clip);
            for (boolean detach : new boolean[]{true, false}) {
                Tensor h = Tensor.of(CpuBackend.get(), DType.F64, new int[]{B * FRAMES, R, R, C}, feat);
                h.setRequiresGrad(true);
                Tensor ctx = dc.context(h, R, mlp, clipContext, detach);
                assertArrayEquals(new int[]{B * FRAMES, 1 + K, X}, ctx.shape());
                double[] v = ctx.toDoubleArray();
                for (int n = 0; n < B * FRAMES; n++) {
                    for (int j = 0; j < X; j++) assertEquals(clip[n * X + j], v[(n * (1 + K)) * X + j], 0, "clip row of image " + n);
                    int present = n / FRAMES;
                    for (int slot = 0; slot < K; slot++)
                        for (int j = 0; j < X; j++) {
                            double token = v[(n * (1 + K) + 1 + slot) * X + j];
                            if (slot == present) assertNotEquals(0.0, token, "image " + n + ", slot " + slot);
                            else assertEquals(0.0, token, 0, "absent slot: image " + n + ", slot " + slot);
                        }
                }
                if (detach) assertFalse(ctx.requiresGrad(), "detached (and the weights not trained): nothing records a graph to the features");
                else {
                    Autograd.backward(F.sum(ctx));
                    assertNotNull(h.grad(), "not detached: the tokens' gradient reaches the features");
                }
            }
        }
    }
}
