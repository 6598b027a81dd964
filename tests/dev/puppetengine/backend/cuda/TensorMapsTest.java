package dev.puppetengine.backend.cuda;

import dev.puppetengine.backend.Backends;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The TMA tensor maps of gemm_wgmma.cu's warp-specialised GEMM, without a GPU: their plans and the JNI library. */
class TensorMapsTest {
    @Test
    void plansUseTheKernelsBoxesAndByteStrides() {
        // A of x W^T: x (448 tokens x 320 channels) K-major, a 128-row tile: one 64 x 128 box per k step
        TensorMaps.Plan a = (TensorMaps.Plan) TensorMaps.plan(CudaGemm.dense(320, 0, 448, 320), true, 128, 1);
        assertArrayEquals(new long[]{320, 448}, a.dims());
        assertArrayEquals(new long[]{640}, a.strideBytes());
        assertArrayEquals(new int[]{64, 128}, a.box());
        // B (k = 320 rows of n = 1280 contiguous), MN-major, batched: 64 x 64 boxes (one per 64-wide strip), rank 3
        TensorMaps.Plan b = (TensorMaps.Plan) TensorMaps.plan(CudaGemm.dense(1288, 320 * 1288, 320, 1280), false, 256, 2);
        assertEquals(3, b.rank());
        assertEquals(3, b.mode(), "the kernel's rank_b argument");
        assertArrayEquals(new long[]{1280, 320, 2}, b.dims());
        assertArrayEquals(new long[]{2576, 2 * 320 * 1288}, b.strideBytes());
        assertArrayEquals(new int[]{64, 64, 1}, b.box());
        // one matrix shared by every batch entry (batch stride 0): rank 2, the batch coordinate unused
        TensorMaps.Plan shared = (TensorMaps.Plan) TensorMaps.plan(CudaGemm.dense(64, 0, 300, 64), true, 256, 4);
        assertEquals(2, shared.rank());
        assertArrayEquals(new int[]{64, 256}, shared.box());
        assertNull(TensorMaps.plan(CudaGemm.dense(8, 0, 72, 0), true, 128, 1), "k = 0: nothing to copy (the driver refuses a zero dim)");
        assertNull(TensorMaps.plan(CudaGemm.dense(64, 0, 0, 64), true, 128, 1), "no rows: nothing to copy either");
        TensorMaps.Plan one = (TensorMaps.Plan) TensorMaps.plan(CudaGemm.dense(64, 300 * 64, 300, 64), true, 256, 1);
        assertEquals(2, one.mode(), "one batch entry: its batch stride is never stepped");
    }

    /** The Operand struct of the im2col of x (n, h, w, cin) for a k x k conv, stride s, padding p. */
    private static long[] gather(int n, int h, int w, int cin, int k, int s, int p) {
        int ho = (h + 2 * p - k) / s + 1, wo = (w + 2 * p - k) / s + 1;
        return new long[]{0, 0, (long) n * ho * wo, (long) k * k * cin, 1, h, w, cin, k, ho, wo, s, s, p, p, 1, 1};
    }

    @Test
    void stride1GathersWith64ChannelMultiplesGetIm2colPlans() {
        // the UNet's 3x3 convs at 32x32 with 320 channels, CFG batch of 2 x 14 frames
        TensorMaps.Im2colPlan a = (TensorMaps.Im2colPlan) TensorMaps.plan(gather(28, 32, 32, 320, 3, 1, 1), true, 128, 1);
        assertArrayEquals(new long[]{320, 32, 32, 28}, a.dims());
        assertArrayEquals(new long[]{640, 640 * 32, 640 * 32 * 32}, a.strideBytes());
        assertArrayEquals(new int[]{-1, -1}, a.lower(), "the window starts at -pad");
        assertArrayEquals(new int[]{-1, -1}, a.upper(), "and ends pad - (k - 1) past the image: 32 positions, one per output pixel");
        assertEquals(64, a.channels());
        assertEquals(128, a.pixels(), "K-major (conv forward): a box is the tile's 128 pixels");
        assertEquals(TensorMaps.IM2COL, a.mode());
        assertEquals(64, ((TensorMaps.Im2colPlan) TensorMaps.plan(gather(28, 32, 32, 320, 3, 1, 1), false, 256, 1)).pixels(),
                "MN-major (weight gradient): pixels run along K, 64 per k step");
        TensorMaps.Im2colPlan pointwise = (TensorMaps.Im2colPlan) TensorMaps.plan(gather(2, 8, 8, 128, 1, 1, 0), true, 128, 1);
        assertArrayEquals(new int[]{0, 0}, pointwise.lower());
        assertArrayEquals(new int[]{0, 0}, pointwise.upper());
        // the temporal conv: kernel (3, 1), padding (1, 0) over (frames, pixels): W = the 1024 pixels, H = the 14 frames
        long[] temporal = {0, 0, 2 * 14 * 1024, 3 * 320, 1, 14, 1024, 320, 1, 14, 1024, 1, 1, 1, 0, 1, 1};
        TensorMaps.Im2colPlan t = (TensorMaps.Im2colPlan) TensorMaps.plan(temporal, true, 128, 1);
        assertArrayEquals(new long[]{320, 1024, 14, 2}, t.dims());
        assertArrayEquals(new int[]{0, -1}, t.lower(), "W first: no padding along pixels, one frame along time");
        assertArrayEquals(new int[]{0, -1}, t.upper());
        // the downsamplers: stride 2, 32x32 -> 16x16, pad 1: window 31 wide from -1, traversed in steps of 2
        TensorMaps.Im2colPlan down = (TensorMaps.Im2colPlan) TensorMaps.plan(gather(2, 32, 32, 320, 3, 2, 1), true, 128, 1);
        assertArrayEquals(new int[]{-1, -1}, down.lower());
        assertArrayEquals(new int[]{-2, -2}, down.upper(), "(16 - 1) * 2 + 1 - 32 - 1");
        assertArrayEquals(new int[]{2, 2}, down.step());
        assertArrayEquals(new int[]{1, 1}, a.step());
        // what stays on cp.async: channels not a multiple of 64 (the 8-channel conv_in), and a dilated gather (a
        // downsampler's input gradient reads gy with zeros between its pixels, which TMA's im2col mode cannot insert)
        assertNull(TensorMaps.plan(gather(2, 32, 32, 8, 3, 1, 1), true, 128, 1));
        long[] dilated = gather(2, 16, 16, 320, 3, 1, 1);
        dilated[15] = dilated[16] = 2;
        assertNull(TensorMaps.plan(dilated, true, 128, 1));
        for (int d : new int[]{15, 16}) {   // dilated along one dim only
            long[] one = gather(2, 16, 16, 320, 3, 1, 1);
            one[d] = 2;
            assertNull(TensorMaps.plan(one, true, 128, 1), "dilation in operand word " + d);
        }
        // the driver's limits: traversal strides up to 8 per dim, rank 4's window corners in [-128, 127]
        long[] s8 = gather(1, 64, 64, 64, 3, 8, 1);
        assertArrayEquals(new int[]{8, 8}, ((TensorMaps.Im2colPlan) TensorMaps.plan(s8, true, 128, 1)).step());
        for (int d : new int[]{11, 12}) {
            long[] s9 = s8.clone();
            s9[d] = 9;
            assertNull(TensorMaps.plan(s9, true, 128, 1), "stride 9 in operand word " + d);
        }
        // pad 128 with a 257-tap window keeps an 8x8 output: both corners at -128, in range; pad 129 not
        assertArrayEquals(new int[]{-128, -128}, ((TensorMaps.Im2colPlan) TensorMaps.plan(gather(1, 8, 8, 64, 257, 1, 128), true, 128, 1)).upper());
        assertNull(TensorMaps.plan(gather(1, 8, 8, 64, 259, 1, 129), true, 128, 1));
        // a crop (padding -127) puts the lower corner at 127, in range; -128 not
        assertArrayEquals(new int[]{127, 127}, ((TensorMaps.Im2colPlan) TensorMaps.plan(gather(1, 300, 300, 64, 1, 1, -127), true, 128, 1)).lower());
        assertNull(TensorMaps.plan(gather(1, 300, 300, 64, 1, 1, -128), true, 128, 1));
    }

    @Test
    void smallTensorsLoseBit21OfWord1OnDriversUpTo13_1() {
        // extents: the last element's end, not dims' product (a padded row stride counts its padding, the last row's does not)
        TensorMaps.MapPlan x = TensorMaps.plan(CudaGemm.dense(72, 0, 136, 64), true, 128, 1);
        assertEquals(2 * (135 * 72 + 64), x.extentBytes());
        TensorMaps.MapPlan batched = TensorMaps.plan(CudaGemm.dense(1288, 320 * 1288, 320, 1280), false, 256, 2);
        assertEquals(2 * (320 * 1288 + 319 * 1288 + 1280), batched.extentBytes());
        TensorMaps.MapPlan im2col = TensorMaps.plan(gather(2, 8, 8, 64, 3, 1, 1), true, 128, 1);
        assertEquals(2 * 2 * 8 * 8 * 64, im2col.extentBytes());
        long[] words = new long[16];
        Arrays.fill(words, -1L);
        long[] map = words.clone();
        TensorMaps.smallTensorWorkaround(map, x, 13000);
        assertEquals(~(1L << 21), map[1], "CUDA 13.0, 19 KiB: bit 21 of word 1 cleared, nothing else");
        for (int i = 0; i < 16; i++) if (i != 1) assertEquals(-1L, map[i]);
        map = words.clone();
        TensorMaps.smallTensorWorkaround(map, im2col, 13010);
        assertEquals(~(1L << 21), map[1], "13.1 too, and im2col maps too");
        map = words.clone();
        TensorMaps.smallTensorWorkaround(map, x, 13020);
        assertArrayEquals(words, map, "a later driver: untouched");
        map = words.clone();
        TensorMaps.smallTensorWorkaround(map, batched, 13000);
        assertArrayEquals(words, map, "1.6 MiB: untouched");
        TensorMaps.MapPlan edge = TensorMaps.plan(CudaGemm.dense(64, 0, 1024, 64), true, 128, 1);
        assertEquals(TensorMaps.SMALL_TENSOR_BYTES, edge.extentBytes());
        map = words.clone();
        TensorMaps.smallTensorWorkaround(map, edge, 13000);
        assertArrayEquals(words, map, "exactly 128 KiB is not under it");
    }

    /** What an encode failure says: the JNI shim's own codes, else the driver's CUresult by name. */
    @Test
    void encodeFailuresAreNamed() {
        assertEquals("libcuda.so.1 (the CUDA driver) did not load", TensorMaps.reason(-1));
        assertTrue(TensorMaps.reason(-2).contains("no tensor-map encoder"), TensorMaps.reason(-2));
        assertTrue(TensorMaps.reason(-3).startsWith("bad arguments"), TensorMaps.reason(-3));
        assertEquals("CUresult 1 (CUDA_ERROR_INVALID_VALUE)", TensorMaps.reason(1));
    }

    @Test
    void theLibraryLoadsOrSaysWhyAndEncodeNamesTheDriversAnswer() throws CudaUnavailableException {
        String why = TensorMaps.unavailable();
        // on sm_90 the library must be there (else every "wgmma-tma" tile silently runs as another tile)
        boolean hopper = Backends.cudaUnavailableReason() == null && CudaBackend.get().computeCapability() == 90;
        if (hopper) assertNull(why, "sm_90: the TMA tensor-map library must load");
        if (TensorMapsTest.class.getResource("/kernels/libpuppet_tensor_map.so") == null) {
            assertTrue(why != null && why.contains("kernels/build.sh"), String.valueOf(why));
            return;
        }
        assertNull(why, "the JNI library links against nothing of CUDA: it loads with or without a GPU");
        TensorMaps.MapPlan p = TensorMaps.plan(CudaGemm.dense(320, 0, 448, 320), true, 128, 1);
        long address = 1L << 32;   // 16-byte aligned; encoding reads no memory
        // on an sm_90 device (the driver initialised by the backend) the map must encode; elsewhere the error says why not
        try {
            long[] map = TensorMaps.encode(p, true, address, 13000);
            assertEquals(16, map.length);
            assertTrue(Arrays.stream(map).anyMatch(w -> w != 0), "an encoded map is not all zero");
        } catch (CudaException e) {
            if (hopper) throw e;
            assertTrue(e.getMessage().contains("cuTensorMapEncodeTiled(dims [320, 448], strides [640] B, box [64, 128]"), e.getMessage());
            assertTrue(e.getMessage().contains("libcuda.so.1") || e.getMessage().contains("CUresult"), e.getMessage());
        }
        try {   // an im2col map likewise
            assertEquals(16, TensorMaps.encode(TensorMaps.plan(gather(2, 8, 8, 64, 3, 1, 1), true, 128, 1), true, address, 13000).length);
        } catch (CudaException e) {
            if (hopper) throw e;
            assertTrue(e.getMessage().contains("cuTensorMapEncodeIm2col(dims [64, 8, 8, 2]"), e.getMessage());
        }
        CudaException bad = assertThrows(CudaException.class, () -> TensorMaps.encode(new TensorMaps.Plan(new long[]{64, 0}, new long[]{128}, new int[]{64, 1}), true, address, 13000));
        assertTrue(bad.getMessage().contains("bad arguments"), "checked before the driver is asked: " + bad.getMessage());
    }
}
