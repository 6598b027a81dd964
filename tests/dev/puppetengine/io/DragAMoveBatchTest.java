package dev.puppetengine.io;

import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.io.pickle.PickleException;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import dev.puppetengine.testing.SharedData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

import static dev.puppetengine.testing.TorchPickles.LITTLE;
import static dev.puppetengine.testing.TorchPickles.MAGIC;
import static dev.puppetengine.testing.TorchPickles.VERSION;
import static dev.puppetengine.testing.TorchPickles.bytes;
import static dev.puppetengine.testing.TorchPickles.contiguous;
import static dev.puppetengine.testing.TorchPickles.floats;
import static dev.puppetengine.testing.TorchPickles.keys;
import static dev.puppetengine.testing.TorchPickles.longs;
import static dev.puppetengine.testing.TorchPickles.pid;
import static dev.puppetengine.testing.TorchPickles.str;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DragAMoveBatchTest {
    private static final CpuBackend CPU = CpuBackend.get();

    private static Path fixture(String name) throws URISyntaxException {
        return Path.of(DragAMoveBatchTest.class.getResource("pickle/" + name).toURI());
    }

    private static float at(Tensor t, int flatIndex) {
        return (float) t.toDoubleArray()[flatIndex];
    }

    private static double sum(Tensor t) {
        double s = 0;
        for (double v : t.toDoubleArray()) s += v;
        return s;
    }

    /** Toy-sized batch in the real layout (tests/fixtures/make_torch_pickles.py), so this runs on a fresh clone. */
    @Test
    void readsTheBatchLayout() throws Exception {
        try (Scope s = Scope.open()) {
            DragAMoveBatch b = DragAMoveBatch.read(fixture("dragamove_tiny.pkl"), CPU);
            assertArrayEquals(new int[] {1, 2, 4, 2, 2}, b.latents().shape());
            assertArrayEquals(new int[] {1, 4, 2, 2}, b.condLatent().shape());
            assertArrayEquals(new int[] {1, 1, 8}, b.embedding().shape());
            assertArrayEquals(new int[] {1, 2, 3, 4}, b.drags().shape());
            assertEquals(DType.F32, b.latents().dtype());
            // numpy default_rng(0).standard_normal, as float32
            assertEquals(0.1257302165031433f, at(b.latents(), 0));
            assertEquals(-0.20917557179927826f, at(b.latents(), 31));
            assertEquals(-0.15922501683235168f, at(b.condLatent(), 0));
            assertEquals(1.9602583646774292f, at(b.condLatent(), 15));
            assertEquals(1.8016349077224731f, at(b.embedding(), 0));
            assertEquals(0.39512205123901367f, at(b.embedding(), 7));
            double[] drags = b.drags().toDoubleArray();
            for (int i = 0; i < 24; i++) assertEquals(i / 32.0, drags[i]);
            assertEquals("Laptop", b.category());
            assertEquals("10211", b.instanceIdx());
            assertEquals("000_total01", b.subsetIdx());
            assertEquals(5, b.cameraIdx());
            assertEquals(3, b.startMotionT());
            assertEquals(40, b.endMotionT());
            assertEquals(4, s.size(), "the four tensors belong to the caller's scope");
        }
    }

    /** A NaN or an infinity in a batch's tensor is refused naming the file and the tensor (eval sampled NaN frames from it). */
    @Test
    void rejectsTensorsThatAreNotFinite(@TempDir Path dir) throws Exception {
        byte[] good = Files.readAllBytes(fixture("dragamove_tiny.pkl"));
        Object[][] cases = {{-0.15922501683235168f, Float.NaN, "'cond_latent' is not finite (element 0 of 16 is NaN)"},
                {1.8016349077224731f, Float.POSITIVE_INFINITY, "'embedding' is not finite (element 0 of 8 is Infinity)"}};
        for (Object[] c : cases) {
            byte[] bad = good.clone(), was = le((float) c[0]);
            int at = 0;
            while (!Arrays.equals(bad, at, at + 4, was, 0, 4)) at++;   // the value's bytes in the embedded storage
            System.arraycopy(le((float) c[1]), 0, bad, at, 4);
            Path f = dir.resolve("bad.pkl");
            Files.write(f, bad);
            try (Scope s = Scope.open()) {
                PickleException e = assertThrows(PickleException.class, () -> DragAMoveBatch.read(f, CPU));
                assertEquals(f + ": " + c[2], e.getMessage());
                assertEquals(0, s.size(), "nothing uploaded is left behind");
            }
        }
    }

    private static byte[] le(float v) {
        return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(v).array();
    }

    @Test
    void rejectsAPickleThatIsNotABatch() throws Exception {
        Path other = fixture("embedded.pkl");
        PickleException e = assertThrows(PickleException.class, () -> DragAMoveBatch.read(other, CPU));
        assertTrue(e.getMessage().equals(other + ": missing key 'latents'"), e.getMessage());
    }

    /** Expected numbers from /work/shared/spec/tools/read_dragamove_pkl.py on the same files. */
    @Test
    void realTestBatchesMatchTheReferenceReader() throws IOException {
        Path dir = SharedData.require("dragamove-test");
        try (Scope s = Scope.open()) {
            DragAMoveBatch b = DragAMoveBatch.read(dir.resolve("00000.pkl"), CPU);
            assertArrayEquals(new int[] {1, 14, 4, 32, 32}, b.latents().shape());
            assertArrayEquals(new int[] {1, 4, 32, 32}, b.condLatent().shape());
            assertArrayEquals(new int[] {1, 1, 1024}, b.embedding().shape());
            assertArrayEquals(new int[] {1, 14, 5, 4}, b.drags().shape());
            assertEquals(2.422026f, at(b.latents(), 0));
            assertEquals(-0.8111367f, at(b.latents(), 57343));
            assertEquals(-0.5578344f, at(b.latents(), ((5 * 4 + 2) * 32 + 17) * 32 + 9));   // latents[0,5,2,17,9]
            assertEquals(25981.23241340585, sum(b.latents()), 1e-6);
            assertEquals(13.296875f, at(b.condLatent(), 0));
            assertEquals(-7.7070312f, at(b.condLatent(), (3 * 32 + 31) * 32));               // cond_latent[0,3,31,0]
            assertEquals(10354.829376220703, sum(b.condLatent()), 1e-6);
            assertEquals(0.38305664f, at(b.embedding(), 0));
            assertEquals(0.22741699f, at(b.embedding(), 1023));
            assertEquals(13.058710098266602, sum(b.embedding()), 1e-9);
            double[] drags = b.drags().toDoubleArray();
            int last = (13 * 5) * 4;                                                          // drags[0,13,0,:]
            assertArrayEquals(new double[] {0.63671875, 0.953125, 0.44719308614730835, 0.731080174446106}, Arrays.copyOfRange(drags, last, last + 4));
            assertEquals(41.634631514549255, sum(b.drags()), 1e-9);
            assertEquals("StorageFurniture", b.category());
            assertEquals("45194", b.instanceIdx());
            assertEquals("000_total01", b.subsetIdx());
            assertEquals(28, b.cameraIdx());
            assertEquals(33, b.startMotionT());
            assertEquals(7, b.endMotionT());

            DragAMoveBatch c = DragAMoveBatch.read(dir.resolve("00099.pkl"), CPU);
            assertEquals(2.089033f, at(c.latents(), 0));
            assertEquals(-0.07342033f, at(c.latents(), ((5 * 4 + 2) * 32 + 17) * 32 + 9));
            assertEquals(25229.36738526431, sum(c.latents()), 1e-6);
            assertEquals(-6.8554688f, at(c.condLatent(), (3 * 32 + 31) * 32));
            assertEquals(-1.0039062f, at(c.embedding(), 0));
            assertEquals(28.541548192501068, sum(c.drags()), 1e-9);
            assertEquals("Laptop", c.category());
            assertEquals("11075", c.instanceIdx());
            assertEquals(26, c.cameraIdx());
            assertEquals(26, c.startMotionT());
            assertEquals(0, c.endMotionT());
        }
    }

    /** All 100 files read; category and drag-count histograms as in ARCHITECTURE.md 7. */
    @Test
    void allHundredBatchesRead() throws IOException {
        Path dir = SharedData.require("dragamove-test");
        Map<String, Integer> categories = new TreeMap<>();
        Map<Integer, Integer> dragCounts = new TreeMap<>();
        for (int i = 0; i < 100; i++) {
            try (DragAMoveBatch b = DragAMoveBatch.read(dir.resolve(String.format(Locale.ROOT, "%05d.pkl", i)), CPU)) {
                categories.merge(b.category(), 1, Integer::sum);
                double[] d = b.drags().toDoubleArray();         // (1, 14, 5, 4): a drag counts when any frame is non-zero
                int used = 0;
                for (int k = 0; k < 5; k++) {
                    boolean any = false;
                    for (int f = 0; f < 14; f++) for (int c = 0; c < 4; c++) any |= d[(f * 5 + k) * 4 + c] != 0;
                    if (any) used++;
                }
                dragCounts.merge(used, 1, Integer::sum);
            }
        }
        assertEquals(Map.of("StorageFurniture", 50, "Laptop", 12, "Bucket", 11, "Dishwasher", 8, "Table", 8,
                "Refrigerator", 4, "Toilet", 3, "Safe", 2, "Box", 2), categories);
        assertEquals(Map.of(1, 86, 2, 9, 3, 4, 4, 1), dragCounts);
    }

    /**
     * A hand-made batch as a legacy torch.save file: the four float tensors over one storage of 64 floats (0, 1, 2, ...),
     * camera_idx, start_motion_t and end_motion_t the first elements 5, 3, 40 of an int64 storage of 64; each tensor given as
     * {name, storage type, shape[, storage offset]}.
     */
    private static Path batch(Path dir, Object[]... tensors) throws IOException {
        List<Object> dict = new ArrayList<>(List.of(0x80, 2, '}'));
        for (Object[] t : tensors) {
            String key = t[1].equals("FloatStorage") ? "0" : "1";
            dict.addAll(List.of(str((String) t[0]), contiguous(pid((String) t[1], key, 64, true), t.length > 3 ? (int) t[3] : 0, (int[]) t[2]), 's'));
        }
        for (String[] kv : new String[][] {{"category", "Laptop"}, {"instance_idx", "10211"}, {"subset_idx", "000_total01"}})
            dict.addAll(List.of(str(kv[0]), ']', str(kv[1]), 'a', 's'));
        dict.add('.');
        float[] ramp = new float[64];
        for (int i = 0; i < 64; i++) ramp[i] = i;
        Path f = dir.resolve("batch.pkl");
        Files.write(f, bytes(MAGIC, VERSION, LITTLE, bytes(dict.toArray()), keys("0", "1"), floats(64, ramp), longs(64, Arrays.copyOf(new long[] {5, 3, 40}, 64))));
        return f;
    }

    private static Object[] t(String name, String storage, int... shape) {
        return new Object[] {name, storage, shape};
    }

    private static final Object[] CAMERA = {"camera_idx", "LongStorage", new int[0], 0}, START = {"start_motion_t", "LongStorage", new int[0], 1},
            END = {"end_motion_t", "LongStorage", new int[0], 2};

    /** The four tensors at the given shapes (latents, cond_latent, embedding, drags), the three indices as they should be. */
    private static Path batch(Path dir, int[] l, int[] c, int[] e, int[] d) throws IOException {
        return batch(dir, t("latents", "FloatStorage", l), t("cond_latent", "FloatStorage", c), t("embedding", "FloatStorage", e),
                t("drags", "FloatStorage", d), CAMERA, START, END);
    }

    /**
     * Every shape the batch layout ties to another is checked: a batch whose latents, cond_latent, embedding and drags disagree
     * (each of the eleven relations broken alone) is refused naming the file and the four shapes, not sampled with a
     * mis-sized conditioning; a tensor of the wrong kind or rank, and an index that is not one int64, are refused naming the key.
     */
    @Test
    void aBatchWhoseTensorsDisagreeIsRefusedNamingTheFile(@TempDir Path dir) throws Exception {
        int[] l = {1, 2, 4, 2, 2}, c = {1, 4, 2, 2}, e = {1, 1, 8}, d = {1, 2, 3, 4};
        try (Scope s = Scope.open(); DragAMoveBatch b = DragAMoveBatch.read(batch(dir, l, c, e, d), CPU)) {   // the hand-made batch itself is good
            assertEquals(31.0, b.latents().toDoubleArray()[31]);
            assertEquals(5, b.cameraIdx());
            assertEquals(3, b.startMotionT());   // storage offset 1
            assertEquals(40, b.endMotionT());
        }
        int[][][] broken = {
                {{2, 2, 4, 2, 2}, c, e, d}, {{1, 2, 3, 2, 2}, c, e, d}, {l, {2, 4, 2, 2}, e, d}, {l, {1, 3, 2, 2}, e, d},
                {l, {1, 4, 1, 2}, e, d}, {l, {1, 4, 2, 1}, e, d}, {l, c, {2, 1, 8}, d}, {l, c, {1, 2, 8}, d},
                {l, c, e, {2, 2, 3, 4}}, {l, c, e, {1, 1, 3, 4}}, {l, c, e, {1, 2, 3, 3}}};
        for (int[][] x : broken) {
            Path f = batch(dir, x[0], x[1], x[2], x[3]);
            PickleException ex = assertThrows(PickleException.class, () -> DragAMoveBatch.read(f, CPU));
            assertEquals(f + ": inconsistent shapes: latents " + Arrays.toString(x[0]) + ", cond_latent " + Arrays.toString(x[1]) + ", embedding "
                    + Arrays.toString(x[2]) + ", drags " + Arrays.toString(x[3]) + " (expected (1,F,4,H,W), (1,4,H,W), (1,1,D), (1,F,K,4))", ex.getMessage());
        }
        Object[][] wrong = {
                {t("latents", "LongStorage", l), CAMERA, "'latents' must be a floating tensor of rank 5, found TorchTensor[1, 2, 4, 2, 2] I64"},
                {t("latents", "FloatStorage", 2, 4, 2, 2), CAMERA, "'latents' must be a floating tensor of rank 5, found TorchTensor[2, 4, 2, 2] F32"},
                {t("latents", "FloatStorage", l), new Object[] {"camera_idx", "FloatStorage", new int[0], 5},
                        "'camera_idx' must be a one-element int64 tensor, found TorchTensor[] F32"},
                {t("latents", "FloatStorage", l), t("camera_idx", "LongStorage", 2),
                        "'camera_idx' must be a one-element int64 tensor, found TorchTensor[2] I64"}};
        for (Object[] w : wrong) {
            Path f = batch(dir, (Object[]) w[0], t("cond_latent", "FloatStorage", c), t("embedding", "FloatStorage", e), t("drags", "FloatStorage", d), (Object[]) w[1], START, END);
            PickleException ex = assertThrows(PickleException.class, () -> DragAMoveBatch.read(f, CPU));
            assertEquals(f + ": " + w[2], ex.getMessage());
        }
    }

    /** Closing a batch frees its four tensors (a batch read outside any scope is freed by nothing else). */
    @Test
    void closingABatchClosesItsFourTensors(@TempDir Path dir) throws Exception {
        DragAMoveBatch b = DragAMoveBatch.read(batch(dir, new int[] {1, 2, 4, 2, 2}, new int[] {1, 4, 2, 2}, new int[] {1, 1, 8}, new int[] {1, 2, 3, 4}), CPU);
        b.close();
        assertTrue(b.latents().isClosed() && b.condLatent().isClosed() && b.embedding().isClosed() && b.drags().isClosed());
    }
}
