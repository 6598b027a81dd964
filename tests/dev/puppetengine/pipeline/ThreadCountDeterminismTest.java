package dev.puppetengine.pipeline;

import dev.puppetengine.autograd.F;
import dev.puppetengine.autograd.GradMode;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.io.image.ClipPreprocess;
import dev.puppetengine.io.image.ImageFiles;
import dev.puppetengine.io.image.ImageTensors;
import dev.puppetengine.io.image.ModelInput;
import dev.puppetengine.io.image.RgbImage;
import dev.puppetengine.model.drag.DragTensor;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import dev.puppetengine.train.TrainerChild;
import dev.puppetengine.train.TrainingCheckpoint;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The same seed gives the same bits whatever the number of CPU threads (the claim of the CPU backend's Parallel): a
 * sampling of the toy model and two training steps of a tiny UNet, each in child JVMs whose common pool has 1 and 4
 * threads (more threads than this machine has cores is fine: the split of the work is what matters). Both run with
 * F64 weights: the backend computes in double whatever the dtype, and rounding each result to F32 (or the frames to
 * 8 bits) hid a summation order that followed the thread count; at F64 it changes the bits.
 */
class ThreadCountDeterminismTest {
    @TempDir
    Path tmp;

    @Test
    void samplingGivesTheSameBitsOnOneThreadAndOnFour() throws Exception {
        String one = child(1, ThreadCountDeterminismTest.class.getName()), four = child(4, ThreadCountDeterminismTest.class.getName());
        assertEquals(one, four);
    }

    @Test
    void trainingGivesTheSameCheckpointOnOneThreadAndOnFour() throws Exception {
        Path one = tmp.resolve("one"), four = tmp.resolve("four");
        child(1, TrainerChild.class.getName(), one.toString(), "2", "f64");
        child(4, TrainerChild.class.getName(), four.toString(), "2", "f64");
        Path a = TrainingCheckpoint.latest(one), b = TrainingCheckpoint.latest(four);
        assertEquals("step-00000002", a.getFileName().toString());
        for (String f : new String[]{"weights.safetensors", "optimizer.safetensors", "ema.safetensors"})
            assertArrayEquals(Files.readAllBytes(a.resolve(f)), Files.readAllBytes(b.resolve(f)), f);
    }

    /** Runs {@code main} in a JVM whose common fork-join pool has {@code threads} threads; its output. */
    private static String child(int threads, String main, String... args) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx1g", "-Djava.util.concurrent.ForkJoinPool.common.parallelism=" + threads,
                "-cp", System.getProperty("java.class.path"), main));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the child did not end");
        assertEquals(0, p.exitValue(), out);
        return out;
    }

    /**
     * The sampling child: PuppetMaster's stages on the toy model (F64, 2 frames, 2 steps, seed 3) with one drag; prints
     * a SHA-256 of each stage's values (image embedding, latents, decoded video) as doubles.
     */
    public static void main(String[] args) throws Exception {
        CpuBackend cpu = CpuBackend.get();
        SamplingOptions o = SamplingOptions.defaults().withSteps(2).withFrames(2).withSeed(3);
        try (LoadedModel m = LoadedModel.load(Path.of("models/toy"), cpu, DType.F64); Scope s = Scope.open(); GradMode.Guard ng = GradMode.noGrad()) {
            RgbImage input = ModelInput.prepare(ImageFiles.readRgb(Path.of("examples/fish.png")), m.resolution());
            Tensor emb = m.clip.embed(ClipPreprocess.toTensor(cpu, input, m.clip.config().imageSize()));
            Tensor z = m.vae.encodeMean(ImageTensors.toTensor(cpu, List.of(input)));
            Tensor drags = Tensor.of(cpu, DType.F32, new int[]{1, o.frames(), DragTensor.SLOTS, 4},
                    DragPath.tensor(List.of(DragPath.line(0.2, 0.5, 0.3, 0.6)), o.frames()));
            Tensor latents = new EulerSampler(m.unet).sample(z, F.reshape(emb, 1, 1, emb.size(1)), drags, o, null);
            int[] ls = latents.shape();
            Tensor video = m.vae.decode(F.scale(F.reshape(latents, ls[0] * ls[1], ls[2], ls[3], ls[4]), 1 / m.vae.scalingFactor()), o.frames());
            System.out.println("embedding " + sha256(emb) + "\nlatents " + sha256(latents) + "\nvideo " + sha256(video));
        }
    }

    private static String sha256(Tensor t) throws Exception {
        double[] v = t.toDoubleArray();
        ByteBuffer b = ByteBuffer.allocate(v.length * Double.BYTES);
        b.asDoubleBuffer().put(v);
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b.array()));
    }
}
