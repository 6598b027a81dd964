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
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

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
        return java.nio.ByteBuffer.allocate(4).order(java.nio.ByteOrder.LITTLE_ENDIAN).putFloat(v).array();
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
}
