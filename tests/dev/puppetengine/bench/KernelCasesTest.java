package dev.puppetengine.bench;

import dev.puppetengine.model.unet.UNetConfig;
import dev.puppetengine.tensor.DType;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * KernelCases of a tiny Puppet-Master config (channels 8/16/16/16, heads 1/2/2/2, 5 drags) and its SVD base, batch 1,
 * 2 frames, side 8, in BF16: the ids, FLOPs and bytes of level 0's cases counted here from their shapes, and the
 * Backend op a case times. BenchOpsTest checks the toy preset's shapes, not these sums.
 */
class KernelCasesTest {
    private static final UNetConfig PUPPET = UNetConfig.tiny(8, 2, 16);

    /** The cases; each one's op makes one Backend call. */
    private static List<OpCase> cases(UNetConfig cfg) {
        List<OpCase> cases = KernelCases.forConfig(cfg, 1, 2, 8, DType.BF16);
        for (OpCase c : cases) assertEquals(1, OpCaseTest.timedCalls(c).size(), c.id());
        return cases;
    }

    private static OpCase one(List<OpCase> cases, String id, long flops, long bytes) {
        List<OpCase> m = cases.stream().filter(c -> c.id().equals(id)).toList();
        assertEquals(1, m.size(), id + " in " + cases.stream().map(OpCase::id).toList());
        assertEquals(flops, m.get(0).flops(), id);
        assertEquals(bytes, m.get(0).bytes(), id);
        return m.get(0);
    }

    @Test
    void level0OfPuppetMasterIsCountedFromItsShapes() {
        List<OpCase> cases = cases(PUPPET);
        // 3 drag levels: 6 attention, 2 epilogue, 4 GroupNorm+SiLU, 2 FiLM, 3 temporal conv cases; the mid block no FiLM
        assertEquals(3 * 17 + 15, cases.size());
        // all-to-first: q (2 frames, 64 pixels, 8 channels), k/v frame 0's (1, 64, 8); 2 bytes each
        OpCase a2f = one(cases, "L0 attn all_to_first fwd q 2x64x8 kv 1x64, 1 heads", 4L * 2 * 64 * 64 * 8, 2 * (2 * 1024 + 2 * 512));
        assertEquals("attention forward BF16 all_to_first 2 1 64 64 8 1", specOf(a2f, "kind", "pass", "dtype", "variant", "bq", "bk", "lq", "lk", "c", "heads"));
        assertEquals("backward", one(cases, "L0 attn all_to_first bwd q 2x64x8 kv 1x64, 1 heads", 4L * 2 * 64 * 64 * 8 * 5 / 2,
                2 * (4 * 1024 + 4 * 512)).spec().get("pass").asText());
        OpCase cross = one(cases, "L0 attn cross fwd q 2x64x8 kv 2x6, 1 heads", 4L * 2 * 64 * 6 * 8, 2 * (2 * 1024 + 2 * 96));   // CLIP + 5 drags
        // softmax scale 1 / sqrt(head size): 8 channels in 1 head at level 0, 16 in 2 at level 1
        String scale = String.valueOf(1 / Math.sqrt(8));
        assertEquals(List.of("attention([2, 64, 8], [2, 6, 8], [2, 6, 8], 1, " + scale + ")"), OpCaseTest.timedCalls(cross));
        assertEquals(List.of("attentionBackward([2, 16, 16], [1, 16, 16], [1, 16, 16], _, [2, 16, 16], 2, " + scale + ")"),
                OpCaseTest.timedCalls(one(cases, "L1 attn all_to_first bwd q 2x16x16 kv 1x16, 2 heads", 4L * 2 * 16 * 16 * 16 * 5 / 2,
                        2 * (4 * 512 + 4 * 256))));
        one(cases, "L3 attn cross fwd q 2x1x16 kv 2x1, 2 heads", 4L * 2 * 16, 2 * (2 * 32 + 2 * 32));                    // mid: CLIP only
        one(cases, "L0 attn temporal bwd q 64x2x8 kv 64x2, 1 heads", 4L * 64 * 2 * 2 * 8 * 5 / 2, 2 * (4 * 1024 + 4 * 1024));
        // x (128, 8) and w (64, 8) read with the bias (64); GEGLU writes 128 x 32; the residual's is read and written
        assertEquals(List.of("linearGeglu([128, 8], [64, 8], [64])"),
                OpCaseTest.timedCalls(one(cases, "L0 linear+geglu 128x8 w 64x8", 2L * 128 * 64 * 8, 2 * (1024 + 512 + 64 + 4096))));
        assertEquals(List.of("linear([128, 8], [8, 8], [8], [128, 8])"),
                OpCaseTest.timedCalls(one(cases, "L0 linear+residual 128x8 w 8x8", 2L * 128 * 8 * 8, 2 * (1024 + 64 + 8 + 2 * 1024))));
        // 1024 elements: GroupNorm reads x, writes y (backward: reads x and gy, writes dx); FiLM as KernelCases.film says
        OpCase gn = one(cases, "L0 groupnorm+silu 4-D fwd 2x8x8x8", 0, 2 * 2 * 1024);
        assertEquals("group_norm_silu forward 8 1.0E-6 [2,8,8,8]", specOf(gn, "kind", "pass", "groups", "eps", "shape"));
        assertEquals(List.of("groupNorm([2, 8, 8, 8], [8], [8], 8, 1.0E-6, _)"), OpCaseTest.timedCalls(gn));
        assertEquals(List.of("groupNormBackward([1, 2, 8, 8, 8], [8], [8], _, 8, _, [1, 2, 8, 8, 8])"),
                OpCaseTest.timedCalls(one(cases, "L0 groupnorm+silu 5-D bwd 1x2x8x8x8", 0, 2 * 3 * 1024)));
        // gamma and beta: the two channel halves of one (2, 8, 8, 16) tensor
        assertEquals(List.of("blendFilm([2, 8, 8, 8], [2, 8, 8, 8], [1], [2, 8, 8, 8], [2, 8, 8, 8])"),
                OpCaseTest.timedCalls(one(cases, "L0 film fwd 2x8x8x8", 0, 2 * 5 * 1024)));
        assertEquals(List.of("blendFilmBackward([2, 8, 8, 8], [2, 8, 8, 8], [1], [2, 8, 8, 8], [2, 8, 8, 8])"),
                OpCaseTest.timedCalls(one(cases, "L0 film bwd 2x8x8x8", 0, 2 * 10 * 1024)));
        one(cases, "L0 tconv3x1x1 dW 1x2x64x8 -> 8", 2L * 1 * 2 * 64 * 8 * 3 * 8, 2 * (1024 + 192 + 1024));
        assertTrue(cases.stream().noneMatch(c -> c.id().startsWith("L3 film")));
    }

    @Test
    void svdAttendsToItselfAndToTheClipTokenOnly() {
        List<OpCase> cases = cases(PUPPET.svdBase());
        assertEquals(4 * 15, cases.size());
        one(cases, "L0 attn self fwd q 2x64x8 kv 2x64, 1 heads", 4L * 2 * 64 * 64 * 8, 2 * (2 * 1024 + 2 * 1024));
        one(cases, "L0 attn cross bwd q 2x64x8 kv 2x1, 1 heads", 4L * 2 * 64 * 8 * 5 / 2, 2 * (4 * 1024 + 4 * 16));
        assertTrue(cases.stream().noneMatch(c -> c.id().contains("film")));
    }

    private static String specOf(OpCase c, String... fields) {
        StringBuilder b = new StringBuilder();
        for (String f : fields) b.append(b.isEmpty() ? "" : " ").append(c.spec().get(f).isContainerNode() ? c.spec().get(f).toString() : c.spec().get(f).asText());
        return b.toString();
    }
}
