package dev.puppetengine.model;

import dev.puppetengine.autograd.Autograd;
import dev.puppetengine.autograd.F;
import dev.puppetengine.autograd.FlopCount;
import dev.puppetengine.autograd.GradMode;
import dev.puppetengine.backend.RandomKind;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.model.drag.DragEmbedding;
import dev.puppetengine.model.drag.DragRasterizer;
import dev.puppetengine.model.unet.BasicTransformerBlock;
import dev.puppetengine.model.unet.TransformerSpatioTemporalModel;
import dev.puppetengine.model.unet.UNetConfig;
import dev.puppetengine.model.unet.UNetInputs;
import dev.puppetengine.model.unet.UNetOptions;
import dev.puppetengine.model.unet.UNetSpatioTemporalConditionModel;
import dev.puppetengine.nn.Module;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.random.Philox;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.DeviceConstants;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import dev.puppetengine.testing.CheckpointingCheck;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Function;

import static dev.puppetengine.model.UNetGradientTest.inputs;
import static dev.puppetengine.model.UNetGradientTest.randn;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class UNetBehaviourTest {
    static final CpuBackend CPU = CpuBackend.get();

    private static double[] grad(ParameterStore ps, String name) {
        return ps.parameters().get(name).value().grad().toDoubleArray();
    }

    private static void backward(UNetSpatioTemporalConditionModel unet, ParameterStore ps, UNetInputs in, Tensor r, UNetOptions o) {
        ps.zeroGrad();
        try (Scope s = Scope.open()) {
            Autograd.backward(F.sum(F.mul(unet.forward(in, o), r)));
        }
    }

    @Test
    void checkpointingGivesTheSameGradientsWithLessPeakMemory() {
        UNetSpatioTemporalConditionModel unet = new UNetSpatioTemporalConditionModel(UNetConfig.tiny(16, 4, 32));
        Random rng = new Random(5);
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(unet, CPU, DType.F64, 2)) {
            ps.requireGrad(n -> true);
            UNetInputs in = inputs(rng, 1, 4, 16, 32, DType.F64);
            Tensor r = randn(rng, DType.F64, 1, 4, 16, 16, 4);
            CheckpointingCheck.sameGradientsLessMemory("tiny UNet (16ch, 4 frames, 16x16 latents)", ps,
                    List.of("down_blocks.0.resnets.0.spatial_res_block.conv1.weight", "up_blocks.3.drag_token_mlps.1.0.weight"), r,
                    checkpoint -> unet.forward(in, new UNetOptions(false, 0, 0, checkpoint, true)));
        }
    }

    @Test
    void dragFeaturesAreSampledWithoutGradient() {
        UNetSpatioTemporalConditionModel unet = new UNetSpatioTemporalConditionModel(UNetGradientTest.tinyConfig());
        Random rng = new Random(9);
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(unet, CPU, DType.F64, 4)) {
            ps.parameters().forEach((k, p) -> {                         // non-zero drag outputs
                if (k.contains("flow_convs") && k.contains("conv_out")) {
                    double[] v = p.value().toDoubleArray();
                    for (int i = 0; i < v.length; i++) v[i] = 0.05 * rng.nextGaussian();
                    p.value().copyFrom(v);
                }
            });
            ps.requireGrad(n -> true);
            UNetInputs in = inputs(rng, 1, 3, 8, 16, DType.F64);
            Tensor r = randn(rng, DType.F64, 1, 3, 8, 8, 4);
            backward(unet, ps, in, r, UNetOptions.INFERENCE);
            double[] upstreamDetached = grad(ps, "conv_in.weight"), mlpDetached = grad(ps, "up_blocks.3.drag_token_mlps.2.0.weight");
            backward(unet, ps, in, r, new UNetOptions(false, 0, 0, false, false));
            // the last drag layer has no token path downstream of it: its MLP gradient is the same either way
            assertArrayEquals(mlpDetached, grad(ps, "up_blocks.3.drag_token_mlps.2.0.weight"), 1e-12);
            assertFalse(Arrays.equals(upstreamDetached, grad(ps, "conv_in.weight")));
        }
    }

    @Test
    void allToFirstAttentionReadsOnlyFrameZeroKeysAndValues() {
        BasicTransformerBlock blk = new BasicTransformerBlock(8, 2, 4, 6, true);
        Random rng = new Random(1);
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(blk, CPU, DType.F64, 3);
             GradMode.Guard g = GradMode.noGrad()) {
            Tensor x = randn(rng, DType.F64, 3, 5, 8);          // one video, 3 frames, 5 tokens
            Tensor ctx = randn(rng, DType.F64, 3, 2, 6);
            double[] base = blk.forward(x, ctx, 3).toDoubleArray();
            double[] xv = x.toDoubleArray();
            double[] changed2 = xv.clone();
            for (int i = 2 * 40; i < 3 * 40; i++) changed2[i] += rng.nextGaussian();   // change frame 2
            double[] out2 = blk.forward(Tensor.of(CPU, DType.F64, new int[]{3, 5, 8}, changed2), ctx, 3).toDoubleArray();
            for (int i = 40; i < 80; i++) assertEquals(base[i], out2[i], 1e-12, "frame 1 must not see frame 2");
            double[] changed0 = xv.clone();
            for (int i = 0; i < 40; i++) changed0[i] += rng.nextGaussian();             // change frame 0
            double[] out0 = blk.forward(Tensor.of(CPU, DType.F64, new int[]{3, 5, 8}, changed0), ctx, 3).toDoubleArray();
            boolean frame2Moved = false, frame1Moved = false;
            for (int i = 80; i < 120; i++) frame2Moved |= Math.abs(base[i] - out2[i]) > 1e-6;
            assertTrue(frame2Moved, "frame 2 sees its own change");
            for (int i = 40; i < 80; i++) frame1Moved |= Math.abs(base[i] - out0[i]) > 1e-6;
            assertTrue(frame1Moved, "frame 1 attends to frame 0");
        }
    }

    /**
     * Frames are told apart only by the frame positional embedding, time_pos_embed(sinusoid(f)): with plain spatial
     * attention and one context for all frames the block is otherwise symmetric in the frames, so swapping frames 1 and 2
     * of the input swaps them in the output once that embedding is the same for every frame (linear_2's weight zeroed),
     * and does not with the real one.
     */
    @Test
    void framesAreToldApartByTheirPositionalEmbedding() {
        TransformerSpatioTemporalModel t = new TransformerSpatioTemporalModel(8, 2, 6, 2, false);
        Random rng = new Random(4);
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(t, CPU, DType.F64, 5);
             GradMode.Guard g = GradMode.noGrad()) {
            int frame = 2 * 2 * 8;                                       // one video of 3 frames of 2x2 pixels
            double[] x = randn(rng, DType.F64, 3, 2, 2, 8).toDoubleArray(), c = randn(rng, DType.F64, 2, 6).toDoubleArray();
            double[] ctx = new double[3 * c.length];
            for (int f = 0; f < 3; f++) System.arraycopy(c, 0, ctx, f * c.length, c.length);
            Tensor context = Tensor.of(CPU, DType.F64, new int[]{3, 2, 6}, ctx);
            Function<double[], double[]> run = v -> t.forward(Tensor.of(CPU, DType.F64, new int[]{3, 2, 2, 8}, v), context, 3).toDoubleArray();
            double[] a = swap12(run.apply(x), frame), b = run.apply(swap12(x, frame));
            double diff = 0;
            for (int i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
            assertTrue(diff > 1e-6, "frames 1 and 2 are told apart: " + diff);
            ps.parameters().get("time_pos_embed.linear_2.weight").value().copyFrom(new double[8 * 32]);
            assertArrayEquals(swap12(run.apply(x), frame), run.apply(swap12(x, frame)), 1e-12);
        }
    }

    private static double[] swap12(double[] v, int frame) {
        double[] w = v.clone();
        System.arraycopy(v, frame, w, 2 * frame, frame);
        System.arraycopy(v, 2 * frame, w, frame, frame);
        return w;
    }

    /** The zero-initialised output convs (the drag modules' among them) made random, so that drags change the output. */
    private static void liveDragOutputs(ParameterStore ps) {
        ps.parameters().forEach((k, p) -> {
            if (k.contains("conv_out")) CPU.fillRandom(p.value(), RandomKind.NORMAL, 5, 0);
        });
    }

    @Test
    void conditionDropoutZeroesWholeSamplesDeterministically() {
        UNetConfig cfg = UNetGradientTest.tinyConfig();
        UNetSpatioTemporalConditionModel unet = new UNetSpatioTemporalConditionModel(cfg);
        Random rng = new Random(2);
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(unet, CPU, DType.F32, 4);
             GradMode.Guard g = GradMode.noGrad()) {
            liveDragOutputs(ps);
            UNetInputs in = inputs(rng, 1, 3, 8, 16, DType.F32);
            UNetInputs noDrags = new UNetInputs(in.sample(), in.timestep(), in.imageLatents(), in.context(),
                    Tensor.zeros(CPU, DType.F32, 1, 3, 5, 4), null);
            double[] withDrags = unet.forward(in, UNetOptions.INFERENCE).toDoubleArray();
            double[] zeroDrags = unet.forward(noDrags, UNetOptions.INFERENCE).toDoubleArray();
            assertFalse(Arrays.equals(withDrags, zeroDrags), "drags change the output");
            // find a dropout stream position that drops (u < 0.1) and one that keeps
            long drop = -1, keep = -1;
            for (long off = 0; off < 1000 && (drop < 0 || keep < 0); off++) {
                if (Philox.uniform(77, off, 0) < cfg.condDropoutProb()) drop = drop < 0 ? off : drop;
                else keep = keep < 0 ? off : keep;
            }
            try (DeviceConstants memo = DeviceConstants.open()) {      // a sampler's memo open does not keep the first draw
                assertArrayEquals(zeroDrags, unet.forward(in, UNetOptions.training(77, drop, false)).toDoubleArray());
                assertArrayEquals(withDrags, unet.forward(in, UNetOptions.training(77, keep, false)).toDoubleArray());
            }
            // no drags at all (null) are zero drags
            assertArrayEquals(zeroDrags, unet.forward(new UNetInputs(in.sample(), in.timestep(), in.imageLatents(), in.context(), null, null),
                    UNetOptions.INFERENCE).toDoubleArray());
            for (int[] wrong : new int[][]{{1, 3, 5}, {2, 3, 5, 4}, {1, 2, 5, 4}, {1, 3, 4, 4}, {1, 3, 5, 2}}) {
                UNetInputs bad = new UNetInputs(in.sample(), in.timestep(), in.imageLatents(), in.context(), Tensor.zeros(CPU, DType.F32, wrong), null);
                var e = assertThrows(IllegalArgumentException.class, () -> unet.forward(bad, UNetOptions.INFERENCE), Arrays.toString(wrong));
                assertTrue(e.getMessage().startsWith("UNet: drags must have shape [1, 3, 5, 4], got "), e.getMessage());
            }
        }
    }

    /**
     * Spec 3.7: the drop is drawn for each sample b on its own: in a batch of two, a draw that drops one sample and keeps
     * the other gives exactly the inference output with that sample's drags zeroed.
     */
    @Test
    void conditionDropoutIsDrawnPerSample() {
        UNetConfig cfg = UNetGradientTest.tinyConfig();
        UNetSpatioTemporalConditionModel unet = new UNetSpatioTemporalConditionModel(cfg);
        Random rng = new Random(3);
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(unet, CPU, DType.F32, 4);
             GradMode.Guard g = GradMode.noGrad()) {
            liveDragOutputs(ps);
            UNetInputs in = inputs(rng, 2, 3, 8, 16, DType.F32);
            for (int dropped = 0; dropped < 2; dropped++) {
                double[] d = in.drags().toDoubleArray();
                Arrays.fill(d, dropped * d.length / 2, (dropped + 1) * d.length / 2, 0.0);   // that sample's drags zeroed by hand
                UNetInputs oneDropped = new UNetInputs(in.sample(), in.timestep(), in.imageLatents(), in.context(),
                        Tensor.of(CPU, DType.F32, in.drags().shape(), d), null);
                double[] expected = unet.forward(oneDropped, UNetOptions.INFERENCE).toDoubleArray();
                assertFalse(Arrays.equals(expected, unet.forward(in, UNetOptions.INFERENCE).toDoubleArray()), "sample " + dropped + "'s drags matter");
                // a draw that drops this sample, keeps the other, and would drop a third (the batch has none: never drawn)
                long off = 0;
                while (!(Philox.uniform(77, off, dropped) < cfg.condDropoutProb() && Philox.uniform(77, off, 1 - dropped) >= cfg.condDropoutProb()
                        && Philox.uniform(77, off, 2) < cfg.condDropoutProb())) off++;
                assertArrayEquals(expected, unet.forward(in, UNetOptions.training(77, off, false)).toDoubleArray(), "sample " + dropped + " dropped");
            }
        }
    }

    @Test
    void svdAndZeroConditionsRun() {
        UNetConfig c = UNetConfig.tiny(8, 2, 16);
        UNetConfig svd = new UNetConfig(c.inChannels(), c.outChannels(), c.blockOutChannels(), c.layersPerBlock(), c.downBlockTypes(),
                c.upBlockTypes(), c.numAttentionHeads(), 1, c.crossAttentionDim(), 8, 24, 2, 8, 0, 16, List.of(), 0,
                true, false, c.normNumGroups(), c.resnetEpsDown(), c.resnetEpsMid(), c.resnetEpsUp());
        UNetSpatioTemporalConditionModel unet = new UNetSpatioTemporalConditionModel(svd);
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(unet, CPU, DType.F32, 4);
             GradMode.Guard g = GradMode.noGrad()) {
            UNetInputs in = new UNetInputs(randn(new Random(1), DType.F32, 1, 2, 8, 8, 4), Tensor.of(CPU, DType.F32, new int[]{1}, 0.3),
                    Tensor.zeros(CPU, DType.F32, 1, 8, 8, 4), Tensor.zeros(CPU, DType.F32, 1, 1, 16), null,
                    Tensor.of(CPU, DType.F32, new int[]{1, 3}, 6, 127, 0.02));
            Tensor v = unet.forward(in, UNetOptions.INFERENCE);
            assertArrayEquals(new int[]{1, 2, 8, 8, 4}, v.shape());
            for (double d : v.toDoubleArray()) assertTrue(Double.isFinite(d));
            UNetInputs slower = new UNetInputs(in.sample(), in.timestep(), in.imageLatents(), in.context(), null,
                    Tensor.of(CPU, DType.F32, new int[]{1, 3}, 6, 20, 0.02));
            assertFalse(Arrays.equals(v.toDoubleArray(), unet.forward(slower, UNetOptions.INFERENCE).toDoubleArray()),
                    "the motion bucket id conditions the output (add_embedding)");
        }
    }

    /**
     * diffusers takes the block types in any order: a resnet-only block that downsamples (level 0), and cross-attention
     * levels that differ between the down and the up path, so each path's drag levels are needed (down 1, 2; up 2, 0).
     */
    @Test
    void blockTypesInAnotherOrderRun() {
        UNetConfig c = UNetConfig.tiny(8, 2, 16);
        String cd = UNetConfig.CROSS_DOWN, d = UNetConfig.DOWN, cu = UNetConfig.CROSS_UP, u = UNetConfig.UP;
        UNetConfig mixed = new UNetConfig(c.inChannels(), c.outChannels(), c.blockOutChannels(), c.layersPerBlock(), List.of(d, cd, cd, d),
                List.of(u, cu, u, cu), c.numAttentionHeads(), 1, c.crossAttentionDim(), c.additionTimeEmbedDim(), c.projectionClassEmbeddingsInputDim(),
                2, 8, c.numDrags(), c.posEmbedDim(), c.dragEmbedderOutChannels(), c.condDropoutProb(), false, true, c.normNumGroups(), c.resnetEpsDown(),
                c.resnetEpsMid(), c.resnetEpsUp());
        UNetSpatioTemporalConditionModel unet = new UNetSpatioTemporalConditionModel(mixed);
        assertTrue(unet.namedParameters().containsKey("down_blocks.0.downsamplers.0.conv.weight"));
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(unet, CPU, DType.F32, 4);
             GradMode.Guard g = GradMode.noGrad()) {
            Tensor v = unet.forward(inputs(new Random(6), 1, 2, 8, 16, DType.F32), UNetOptions.INFERENCE);
            assertArrayEquals(new int[]{1, 2, 8, 8, 4}, v.shape());
            for (double x : v.toDoubleArray()) assertTrue(Double.isFinite(x));
        }
    }

    /**
     * In a sampler's memo with gradients off, what the UNet computes from the weights and the drags alone (each drag
     * layer's FiLM embedding, each transformer's frame positional embedding) is computed in the first forward only:
     * the second does exactly those FLOPs less and gives the same bits. With gradients on nothing is reused.
     */
    @Test
    void dragFilmAndFramePositionsAreComputedOncePerSamplingMemo() {
        UNetConfig cfg = UNetGradientTest.tinyConfig();
        UNetSpatioTemporalConditionModel unet = new UNetSpatioTemporalConditionModel(cfg);
        Random rng = new Random(12);
        int frames = cfg.numFrames(), r = 8, levels = cfg.blockOutChannels().size();
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(unet, CPU, DType.F64, 4)) {
            ps.parameters().forEach((k, p) -> {                         // non-zero drag FiLM, so reusing a wrong one shows
                if (k.contains("flow_convs") && k.contains("conv_out")) {
                    double[] v = p.value().toDoubleArray();
                    for (int i = 0; i < v.length; i++) v[i] = 0.05 * rng.nextGaussian();
                    p.value().copyFrom(v);
                }
            });
            UNetInputs in = inputs(rng, 1, frames, r, 16, DType.F64);
            long expected;
            try (GradMode.Guard g = GradMode.noGrad(); Scope calls = Scope.open()) {   // those modules' own FLOPs, run directly
                FlopCount.start();
                stepInvariantCalls(unet, "", frames, r, levels);
                expected = FlopCount.stop();
            }
            assertTrue(expected > 0);
            try (GradMode.Guard g = GradMode.noGrad()) {
                FlopCount.start();
                double[] plain = unet.forward(in, UNetOptions.INFERENCE).toDoubleArray();
                long full = FlopCount.stop();
                try (DeviceConstants memo = DeviceConstants.open()) {
                    FlopCount.start();
                    double[] first = unet.forward(in, UNetOptions.INFERENCE).toDoubleArray();
                    assertEquals(full, FlopCount.stop(), "the first forward computes everything");
                    int kept = memo.size();
                    FlopCount.start();
                    double[] second = unet.forward(in, UNetOptions.INFERENCE).toDoubleArray();
                    assertEquals(full - expected, FlopCount.stop(), "the second reuses the drag FiLM and frame embeddings, nothing else");
                    assertEquals(kept, memo.size(), "nothing new memoised");
                    assertArrayEquals(plain, first, 0);
                    assertArrayEquals(plain, second, 0);
                }
            }
            try (GradMode.Guard g = GradMode.enableGrad(); DeviceConstants memo = DeviceConstants.open(); Scope graph = Scope.open()) {
                FlopCount.start();
                unet.forward(in, UNetOptions.INFERENCE);
                long first = FlopCount.stop();
                FlopCount.start();
                unet.forward(in, UNetOptions.INFERENCE);
                assertEquals(first, FlopCount.stop(), "with gradients on, nothing computed from weights is reused");
            }
        }
    }

    @Test
    void timeMixerAlphasAreMemoisedPerSamplingMemo() {
        UNetConfig cfg = UNetGradientTest.tinyConfig();
        UNetSpatioTemporalConditionModel unet = new UNetSpatioTemporalConditionModel(cfg);
        Random rng = new Random(13);
        List<AlphaBlender> blenders = new ArrayList<>();
        collect(unet, AlphaBlender.class, blenders);
        assertFalse(blenders.isEmpty());
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(unet, CPU, DType.F64, 4);
             GradMode.Guard g = GradMode.noGrad()) {
            UNetInputs in = inputs(rng, 1, cfg.numFrames(), 8, 16, DType.F64);
            Tensor a = randn(rng, DType.F64, 2, 3), b = randn(rng, DType.F64, 2, 3);
            int kept;
            try (DeviceConstants memo = DeviceConstants.open()) {
                unet.forward(in, UNetOptions.INFERENCE);
                kept = memo.size();
            }
            try (DeviceConstants memo = DeviceConstants.open()) {
                for (AlphaBlender m : blenders) {
                    double alpha = 1 / (1 + Math.exp(-m.namedParameters().get("mix_factor").value().item()));
                    double[] y = m.forward(a, b).toDoubleArray(), av = a.toDoubleArray(), bv = b.toDoubleArray();
                    for (int i = 0; i < y.length; i++) assertEquals(alpha * av[i] + (1 - alpha) * bv[i], y[i], 1e-15);
                    m.forward(a, b);
                }
                assertEquals(blenders.size(), memo.size(), "one alpha per time mixer, built on its first use only");
                unet.forward(in, UNetOptions.INFERENCE);
                assertEquals(kept, memo.size(), "the UNet's blends use exactly those alphas");
            }
        }
    }

    private static <M> void collect(Module m, Class<M> type, List<M> out) {
        if (type.isInstance(m)) out.add(type.cast(m));
        m.children().values().forEach(c -> collect(c, type, out));
    }

    /** Runs every DragEmbedding (on a raster of its level's size) and every frame positional MLP of the tree once. */
    private static void stepInvariantCalls(Module m, String path, int frames, int r, int levels) {
        if (m instanceof DragEmbedding e) {
            String[] p = path.split("\\.");                   // down_blocks.i.flow_convs.j or up_blocks.i.flow_convs.j
            int block = Integer.parseInt(p[1]), level = p[0].equals("down_blocks") ? block : levels - 1 - block;
            e.forward(Tensor.zeros(CPU, DType.F64, frames, r >> level, r >> level, DragRasterizer.CHANNELS_PER_DRAG * 5));
        } else if (m instanceof TimestepEmbedding t && path.endsWith("time_pos_embed")) {
            int c = t.namedParameters().get("linear_2.bias").shape()[0];
            t.forward(Tensor.zeros(CPU, DType.F64, frames, c));
        }
        m.children().forEach((name, child) -> stepInvariantCalls(child, path.isEmpty() ? name : path + "." + name, frames, r, levels));
    }

}
