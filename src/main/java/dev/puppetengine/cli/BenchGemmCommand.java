package dev.puppetengine.cli;

import dev.puppetengine.autograd.Autograd;
import dev.puppetengine.autograd.F;
import dev.puppetengine.autograd.GemmRecorder;
import dev.puppetengine.autograd.GradMode;
import dev.puppetengine.backend.Backend;
import dev.puppetengine.backend.RandomKind;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.bench.GemmCases;
import dev.puppetengine.bench.OpBench;
import dev.puppetengine.bench.OpCase;
import dev.puppetengine.io.Json;
import dev.puppetengine.model.drag.DragTensor;
import dev.puppetengine.model.unet.UNetConfig;
import dev.puppetengine.model.unet.UNetInputs;
import dev.puppetengine.model.unet.UNetOptions;
import dev.puppetengine.pipeline.DragPath;
import dev.puppetengine.pipeline.LoadedModel;
import dev.puppetengine.pipeline.SamplingOptions;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * ./puppet-engine bench gemm: every GEMM and convolution the UNet really runs, taken from a recorded run (one
 * CFG-batch forward, one training-batch forward + backward) by {@link GemmRecorder}, deduplicated with counts,
 * each timed alone on fresh random operands next to PyTorch; plus square bf16 products.
 */
@Command(name = "gemm", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Benchmark every matrix product and convolution the UNet runs against PyTorch on the same device.",
                "",
                "The list comes from a real run of the model, not a hand-written one: one forward at batch 2 (CFG sampling) and one "
                        + "forward + backward at batch 1 (training, every weight trainable) are recorded, including the input- and "
                        + "weight-gradient products of every linear and conv, and deduplicated with counts.",
                "Each distinct product is then timed alone through the same Backend op (fresh random operands, --warmup calls, median "
                        + "of --iters) with TFLOP/s and %% of the roofline (--peak-tflops and a device copy measured in the same run), next "
                        + "to PyTorch for the same shapes (torch.matmul, F.linear, F.conv2d, conv3d for the (3,1,1) temporal conv, "
                        + "aten.convolution_backward) and the speedup (PyTorch ms / our ms). Square bf16 products are added (--square).",
                "Attention's QK^T and PV products run inside the fused attention kernel, not as GEMMs: bench kernels times them.",
                "",
                "GPU: bench gemm --preset puppet-master --device cuda --dtype bf16 --peak-tflops 989 --json gemm.json",
                "(by default each shape runs on the faster of cuBLAS, where libcublas.so.12 loads, and our kernels; add JAVA_OPTS=-Dpuppet.cuda.gemm=mma to time our tensor-core GEMM and implicit-GEMM convolution alone; see docs/PERFORMANCE.md)."})
final class BenchGemmCommand implements Callable<Integer> {
    @Option(names = "--frames", description = "Frames, 1 to " + SamplingOptions.MAX_FRAMES + " (default: the UNet config's num_frames).")
    Integer frames;

    @Option(names = "--square", paramLabel = "N[,N...]|none",
            description = "Sizes of square bf16 products to add (default: 4096,8192 on a GPU, none on the CPU, where one 8192^3 product takes minutes).")
    String square;

    @Option(names = "--no-train", description = "Record only the sampling forward (no training batch, so no backward products).")
    boolean noTrain;

    @Mixin
    BenchModelArgs bench;

    @Mixin
    OpBenchArgs run;

    @Override
    public Integer call() throws Exception {
        if (run.finishEarlier("bench gemm", bench)) return 0;
        OpBench.Options opts = run.options(bench);
        List<Integer> squares = new ArrayList<>();
        try {
            if (square != null && !square.equals("none")) for (String s : square.split(",")) squares.add(Integer.parseInt(s.strip()));
        } catch (NumberFormatException e) {
            throw new UserError("--square: expected sizes such as 4096,8192 or none, got " + square);
        }
        for (int n : squares) if (n < 1) throw new UserError("--square: sizes must be positive, got " + n);
        if (frames != null) SamplingArgs.checkFrames(frames);
        Map<GemmRecorder.Product, Integer> sampling, training = Map.of();
        List<String> errors = new ArrayList<>();
        Backend backend;
        DType dt;
        String what;
        try (LoadedModel m = bench.open()) {
            backend = m.unetWeights().backend();
            dt = m.unetWeights().dtype();
            int f = frames != null ? frames : m.unet.config().numFrames(), side = m.resolution() / m.vae.config().downscaleFactor();
            what = String.format(Locale.ROOT, "bench gemm: %s (%s), %d frames, latents %dx%d, %s %s", bench.label(), m.manifest.kind(), f, side, side,
                    backend.name(), dt);
            System.err.println(what + ": recording a CFG forward" + (noTrain ? "" : " and a training step"));
            sampling = record(() -> unetPass(m, 2, f, side, false), "the CFG forward", errors);
            if (!noTrain) training = record(() -> unetPass(m, 1, f, side, true), "the training step", errors);
        }
        if (square == null && !(backend instanceof CpuBackend)) squares = List.of(4096, 8192);
        List<OpCase> cases = new ArrayList<>();
        sampling.forEach((p, n) -> cases.add(GemmCases.of("cfg-b2", "cfg-b2 ", p, n)));
        training.forEach((p, n) -> cases.add(GemmCases.of("train-b1", "train-b1 ", p, n)));
        for (int n : squares) cases.add(GemmCases.of("square", "square ", GemmRecorder.Product.square(DType.BF16, n), 1));
        cases.add(0, GemmCases.copy(cases, dt));     // first: the bandwidth roofline, measured on a warm device
        var header = Json.mapper().createObjectNode().put("model", bench.label()).put("dtype", dt.name());
        header.set("recording_errors", Json.mapper().valueToTree(errors));
        OpBench.run(backend, what, header, cases, opts);
        return 0;
    }

    /**
     * The products {@code pass} issues. Shapes are recorded before each backend call, so a pass that fails part-way
     * (a CUDA error or out of memory on a first GPU run) still yields the products it reached: reported, not fatal.
     */
    private static Map<GemmRecorder.Product, Integer> record(Runnable pass, String what, List<String> errors) {
        Map<GemmRecorder.Product, Integer> seen;
        GemmRecorder.start();
        try {
            pass.run();
        } catch (RuntimeException e) {
            errors.add(what + ": " + e);
            System.err.println("bench gemm: " + what + " failed (" + e + "); benchmarking the products recorded before the failure");
        } finally {
            seen = GemmRecorder.stop();
        }
        return seen;
    }

    /** One UNet call on random inputs of the real shapes; with {@code train}, all weights trainable and a backward. */
    private static void unetPass(LoadedModel m, int batch, int frames, int side, boolean train) {
        Backend be = m.unetWeights().backend();
        DType dt = m.unetWeights().dtype();
        UNetConfig c = m.unet.config();
        try (Scope s = Scope.open(); GradMode.Guard g = train ? GradMode.enableGrad() : GradMode.noGrad()) {
            int latentCh = c.outChannels();
            Tensor sample = random(be, dt, batch, frames, side, side, latentCh);
            Tensor image = random(be, dt, batch, side, side, c.inChannels() - latentCh);
            Tensor context = random(be, dt, batch, 1, c.crossAttentionDim());
            Tensor t = Tensor.full(be, DType.F32, 0.5, batch);
            float[] one = DragPath.tensor(List.of(DragPath.line(0.3, 0.5, 0.6, 0.55), DragPath.line(0.7, 0.3, 0.7, 0.1)), frames);
            float[] d = new float[one.length * batch];
            for (int i = 0; i < batch; i++) System.arraycopy(one, 0, d, i * one.length, one.length);
            Tensor drags = Tensor.of(be, dt, new int[]{batch, frames, DragTensor.SLOTS, 4}, d);
            UNetInputs in = new UNetInputs(sample, t, image, context, drags, null);
            if (!train) {
                m.unet.forward(in, UNetOptions.INFERENCE);
                return;
            }
            m.unetWeights().requireGrad(name -> true);
            try {
                Tensor v = m.unet.forward(in, UNetOptions.training(0, 0, false));
                Autograd.backward(F.mean(F.square(v)));
            } finally {
                m.unetWeights().zeroGrad();
            }
        }
    }

    private static Tensor random(Backend b, DType dt, int... shape) {
        Tensor t = b.empty(dt, shape);
        b.fillRandom(t, RandomKind.NORMAL, 7, 0);
        return t;
    }
}
