package dev.puppetengine.model;

import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.model.unet.UNetConfig;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.testing.Parity;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Runs without a GPU. Calibrates and checks the verdict of {@link UNetGpuParityTest} on the CPU: the same network,
 * problem and judgement, with the CPU's F32 / BF16 runs as the "device". A correct device is as accurate as the CPU
 * at the same precision, so these pass by construction of the bound; what this test adds is (1) the measured CPU
 * errors behind the documented base tolerances, printed, and held to them where the docs say they hold, and (2) proof
 * that the verdict fails for a device that is wrong by a small amount in one tensor or leaves a NaN.
 */
class ParityToleranceTest {
    static final CpuBackend CPU = CpuBackend.get();

    @Test
    void cpuPrecisionErrorsAreWhatTheDocsSayAndABugFails() {
        UNetConfig cfg = UNetGpuParityTest.config();
        UNetGpuParityTest.Problem pr = UNetGpuParityTest.problem(cfg, UNetGpuParityTest.SEED);
        var opt = UNetGpuParityTest.options(false);
        var ref32 = UNetGpuParityTest.reference(cfg, pr, DType.F32, opt);
        var f32 = UNetGpuParityTest.run(cfg, pr, CPU, DType.F32, opt);
        var ref16 = UNetGpuParityTest.reference(cfg, pr, DType.BF16, opt);
        var bf16 = UNetGpuParityTest.run(cfg, pr, CPU, DType.BF16, opt);

        // (1) F32: every tensor within the base tolerance; BF16: the output within its base tolerance.
        Parity p32 = new Parity("CPU F32 vs F64");
        UNetGpuParityTest.compareAll(p32, ref32, f32, UNetGpuParityTest.TOL_F32, UNetGpuParityTest.floor(ref32));
        System.out.println(p32.report(8));
        assertTrue(p32.allOk(), p32.report(12));
        Parity p16 = new Parity("CPU BF16 vs F64 (for information: gradients are dominated by bf16 rounding)");
        UNetGpuParityTest.compareAll(p16, ref16, bf16, UNetGpuParityTest.TOL_BF16, UNetGpuParityTest.floor(ref16));
        System.out.println(p16.report(8));
        assertTrue(p16.entries().get(0).name().equals("output") && p16.entries().get(0).ok(), p16.entries().get(0).line());

        // (2) the verdict: a copy of the CPU run passes; one gradient off by 0.1% of its norm fails, as does one NaN.
        assertTrue(UNetGpuParityTest.judge("cpu as device", ref32, f32, f32, UNetGpuParityTest.TOL_F32).allOk());
        String victim = "grad down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_k.weight";
        var wrong = tamper(f32, victim, (v, i) -> v + (i == 3 ? 1e-3 * norm(f32.values().get(victim)) : 0));
        Parity bad = UNetGpuParityTest.judge("tampered", ref32, f32, wrong, UNetGpuParityTest.TOL_F32);
        assertFalse(bad.allOk());
        assertEquals(List.of(victim), bad.entries().stream().filter(e -> !e.ok()).map(Parity.Entry::name).toList());
        var nan = tamper(bf16, "output", (v, i) -> i == 7 ? Double.NaN : v);
        Parity badNan = UNetGpuParityTest.judge("NaN", ref16, bf16, nan, UNetGpuParityTest.TOL_BF16);
        assertEquals(List.of("output"), badNan.entries().stream().filter(e -> !e.ok()).map(Parity.Entry::name).toList());
        assertTrue(badNan.report(3).contains("non-finite"), badNan.report(3));
    }

    private static double norm(double[] v) {
        return Math.sqrt(Arrays.stream(v).map(x -> x * x).sum());
    }

    interface Edit {
        double apply(double value, int index);
    }

    /** A copy of {@code o} with tensor {@code name}'s elements edited. */
    private static UNetGpuParityTest.Outcome tamper(UNetGpuParityTest.Outcome o, String name, Edit edit) {
        Map<String, double[]> v = new LinkedHashMap<>(o.values());
        double[] t = v.get(name).clone();
        for (int i = 0; i < t.length; i++) t[i] = edit.apply(t[i], i);
        v.put(name, t);
        return new UNetGpuParityTest.Outcome(v, o.shapes());
    }
}
