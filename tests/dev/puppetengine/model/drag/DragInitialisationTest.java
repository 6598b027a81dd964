package dev.puppetengine.model.drag;

import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.model.unet.UNetConfig;
import dev.puppetengine.model.unet.UNetSpatioTemporalConditionModel;
import dev.puppetengine.nn.Parameter;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Spec 3.8: a fresh model's flow_convs.*.conv_out weight and bias are exactly 0 (so the FiLM is the identity); every
 * other DragEmbedding conv and both token-MLP linears keep PyTorch's default init, weight and bias ~ U(-1/sqrt(fan_in),
 * 1/sqrt(fan_in)) with fan_in = in x kh x kw of the weight; the token MLP is not zero-initialised.
 */
class DragInitialisationTest {
    @Test
    void dragOutputConvsStartAtZeroAndTheRestAtTorchDefaults() {
        UNetSpatioTemporalConditionModel unet = new UNetSpatioTemporalConditionModel(UNetConfig.tiny(8, 2, 16));
        try (Scope s = Scope.open(); ParameterStore ps = ParameterStore.initialize(unet, CpuBackend.get(), DType.F64, 7)) {
            Map<String, Parameter> p = ps.parameters();
            int zeroed = 0, uniform = 0;
            for (Map.Entry<String, Parameter> e : p.entrySet()) {
                String k = e.getKey();
                if (!k.contains(".flow_convs.") && !k.contains(".drag_token_mlps.")) continue;
                double[] v = e.getValue().value().toDoubleArray();
                if (k.contains(".flow_convs.") && k.contains(".conv_out.")) {
                    for (double x : v) assertEquals(0.0, x, k);
                    zeroed++;
                    continue;
                }
                String weightKey = k.endsWith(".bias") ? k.substring(0, k.length() - "bias".length()) + "weight" : k;
                int[] w = p.get(weightKey).checkpointShape();
                long fanIn = 1;
                for (int i = 1; i < w.length; i++) fanIn *= w[i];
                double bound = 1 / Math.sqrt(fanIn), max = 0;
                for (double x : v) {
                    assertTrue(Math.abs(x) <= bound, k + ": " + x + " outside +-" + bound);
                    max = Math.max(max, Math.abs(x));
                }
                if (v.length >= 64) assertTrue(max > 0.8 * bound, k + ": largest |w| " + max + " for bound " + bound + " (a narrower init?)");
                assertTrue(max > 0, k + " is all zero");
                uniform++;
            }
            assertEquals(15 * 2, zeroed, "15 drag layers, conv_out weight and bias");
            assertEquals(15 * (2 * 5 + 4), uniform, "conv_in + blocks.0-3 (weight, bias) and the MLP's two linears, per layer");
        }
    }
}
