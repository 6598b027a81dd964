package dev.puppetengine.random;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/**
 * Against PyTorch's own output: {@code torch.manual_seed(137)}, then five {@code torch.randint(0, 0xFFFFFFFF, [1])},
 * {@code torch.zeros(8).normal_()} (the scalar path), one randint, {@code torch.zeros(16).normal_()} (the blocked
 * path) and one more randint, as printed by PyTorch (values published with llm.c's rand.h, which checks the same).
 */
class TorchCpuGeneratorTest {
    private static final long[] INTS_BEFORE = {4053805790L, 2173880614L, 380293709L, 1237255315L, 2986595568L};
    private static final double[] SCALAR_8 = {0.7947664260864258, 1.4369317293167114, -0.2292192131280899, 0.47556325793266296,
            -0.6334410905838013, -0.5791953802108765, -0.0925704762339592, -0.8659197092056274};
    private static final double[] BLOCKED_16 = {-1.2813878059387207, -2.646395683288574, -0.06569503247737885, 0.2180829495191574,
            -0.46536165475845337, -0.33108410239219666, 2.5485482215881348, 0.10425379872322083, 0.8460659980773926, 0.9462448358535767,
            -0.2913765013217926, 0.34313806891441345, -1.1186704635620117, -0.18305328488349915, -2.3153159618377686, 0.3961987793445587};

    @Test
    void drawsWhatTorchDrawsForTheSameSeed() {
        TorchCpuGenerator g = new TorchCpuGenerator(137);
        for (long want : INTS_BEFORE) assertEquals(want, Integer.toUnsignedLong(g.nextInt()));
        float[] scalar = g.normal(8);
        for (int i = 0; i < 8; i++) assertEquals(SCALAR_8[i], scalar[i], 2 * Math.ulp((float) SCALAR_8[i]), "scalar path, value " + i);
        assertEquals(2186503452L, Integer.toUnsignedLong(g.nextInt()));
        float[] blocked = g.normal(16);
        for (int i = 0; i < 16; i++) assertEquals(BLOCKED_16[i], blocked[i], 2 * Math.ulp((float) BLOCKED_16[i]), "blocked path, value " + i);
        assertEquals(2756748748L, Integer.toUnsignedLong(g.nextInt()), "both paths consumed what torch consumes");
    }

    @Test
    void aCountNotAMultipleOf16RedrawsTheLastBlock() {
        float[] n17 = new TorchCpuGenerator(5).normal(17), n16 = new TorchCpuGenerator(5).normal(16);
        assertEquals(n16[0], n17[0], 0, "value 0 comes from the first block, as for 16");
        assertNotEquals(n16[1], n17[1], "values 1..16 are the last 16 positions, recomputed from fresh uniforms");
        TorchCpuGenerator g = new TorchCpuGenerator(5);
        g.normal(17);
        TorchCpuGenerator h = new TorchCpuGenerator(5);
        for (int i = 0; i < 17 + 16; i++) h.nextInt();
        assertEquals(h.nextInt(), g.nextInt(), "17 values take 17 + 16 uniforms");
        TorchCpuGenerator tail = new TorchCpuGenerator(5);
        for (int i = 0; i < 17; i++) tail.nextInt();
        float[] last16 = tail.normal(16);                   // the 16 fresh uniforms, transformed as a block of their own
        for (int i = 0; i < 16; i++) assertEquals(last16[i], n17[i + 1], 0, "value " + (i + 1));
    }
}
