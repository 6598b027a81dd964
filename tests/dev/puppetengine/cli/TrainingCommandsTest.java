package dev.puppetengine.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.backend.Backend;
import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.io.Json;
import dev.puppetengine.io.safetensors.SafetensorsReader;
import dev.puppetengine.model.checkpoint.ModelDirectory;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.train.RunDirectory;
import dev.puppetengine.train.TrainingCheckpoint;
import org.apache.commons.io.file.PathUtils;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.LongStream;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static dev.puppetengine.pipeline.SamplingOptions.MAX_STEPS;
import static dev.puppetengine.testing.CliRun.stderrOf;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The toy-model recipe end to end through the CLI, at a few steps each: every command's outputs, resume, refusals. */
class TrainingCommandsTest {
    /** Previews every --preview-every steps during the run, but not the last step's: that one follows the export, sampled once. */
    @Test
    void theLastStepIsPreviewedOnceAfterTheExport() {
        assertEquals(List.of(2L, 4L), LongStream.rangeClosed(1, 6).filter(s -> TrainCommand.Preview.during(s, 6, 2)).boxed().toList());
        assertEquals(List.of(1L, 2L), LongStream.rangeClosed(1, 3).filter(s -> TrainCommand.Preview.during(s, 3, 1)).boxed().toList());
        assertFalse(TrainCommand.Preview.during(5, 5, 10));
    }

    @Test
    void datasetTrainVaeFitEncoderPrepareTrainPlotAndSample(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("clips"), model = TinyModel.write(dir.resolve("m0"));
        assertEquals(0, Main.run("dataset", "--out", data.toString(), "--count", "6", "--size", "64", "--frames", "4"));

        Path vae = dir.resolve("vae");
        String vaeSaid = stderrOf(0, "train-vae", "--model", model.toString(), "--data", data.toString(), "--out", vae.toString(),
                "--steps", "2", "--batch-size", "1", "--window", "2", "--checkpoint-every", "1", "--gradient-checkpointing");
        // encoding up to 64 clips for the scaling factor after the last step (a minute for the toy recipe) says so, then shows a bar
        assertTrue(vaeSaid.contains("latent scaling factor: encoding the frames of 5 training clips"), vaeSaid);
        assertTrue(vaeSaid.contains("latent scaling factor 1/std = ") && vaeSaid.contains("; wrote " + vae.resolve("model")), vaeSaid);
        assertTrue(Files.isRegularFile(vae.resolve("model/manifest.json")));
        assertTrue(Files.size(vae.resolve("loss.png")) > 0);
        assertEquals(2, Files.readAllLines(vae.resolve("log.jsonl")).size());
        String vaeSource = ModelDirectory.read(vae.resolve("model")).source();   // the run appended to the model's history; no ", EMA" without --ema
        assertTrue(vaeSource.endsWith("; then train-vae on " + data + " (2 steps)"), vaeSource);
        // the decoder alone, checkpointed (the frozen encoder then runs without recording)
        String decSaid = stderrOf(0, "train-vae", "--model", model.toString(), "--data", data.toString(), "--out", dir.resolve("vae-dec").toString(),
                "--steps", "1", "--batch-size", "1", "--window", "2", "--decoder-only", "--gradient-checkpointing");
        assertTrue(decSaid.contains("latent scaling factor kept (encoder unchanged) = ") && !decSaid.contains("encoding the frames"), decSaid);
        assertEquals(1, Files.readAllLines(dir.resolve("vae-dec").resolve("log.jsonl")).size());
        // the encoder is unchanged, so is the scaling factor (latents prepared with the start model stay usable); a full run sets 1/std
        try (var m0 = Training.load(model); var dec = Training.load(dir.resolve("vae-dec/model")); var full = Training.load(vae.resolve("model"))) {
            assertEquals(m0.vae.config().scalingFactor(), dec.vae.config().scalingFactor());
            assertNotEquals(m0.vae.config().scalingFactor(), full.vae.config().scalingFactor());
            // and only the full run trained the encoder
            String encoderWeight = "encoder.conv_in.weight";
            double[] start = m0.vaeWeights().parameters().get(encoderWeight).value().toDoubleArray();
            assertArrayEquals(start, dec.vaeWeights().parameters().get(encoderWeight).value().toDoubleArray());
            assertFalse(Arrays.equals(start, full.vaeWeights().parameters().get(encoderWeight).value().toDoubleArray()));
        }
        try (RunDirectory held = RunDirectory.lock(vae)) {   // one run at a time per run directory
            assertEquals(2, Main.run("train-vae", "--model", model.toString(), "--data", data.toString(), "--out", vae.toString(),
                    "--steps", "2", "--batch-size", "1", "--window", "2", "--checkpoint-every", "1", "--gradient-checkpointing"));
        }

        Path enc = dir.resolve("enc");
        assertEquals(0, Main.run("fit-image-encoder", "--model", vae.resolve("model").toString(), "--data", data.toString(), "--out", enc.toString(),
                "--steps", "2", "--batch-size", "2", "--gradient-checkpointing"));
        // it trained the model's own encoder in place (the store that owns it; exit closed it once, cleanly): only the
        // image encoder changed, and it carries no head
        var before = ModelDirectory.read(vae.resolve("model")).components();
        var after = ModelDirectory.read(enc.resolve("model")).components();
        assertEquals(before.get("unet").sha256(), after.get("unet").sha256());
        assertEquals(before.get("vae").sha256(), after.get("vae").sha256());
        assertNotEquals(before.get("image_encoder").sha256(), after.get("image_encoder").sha256());
        assertEquals(before.get("image_encoder").parameters(), after.get("image_encoder").parameters());
        // prepare loads only the encoders, and only when there is work: a copy of the model whose UNet file is zeros
        // (same size, so the manifest's checks pass) prepares; with its image encoder zeroed too it still finds its work done
        Path prepared = dir.resolve("prepared"), encoders = dir.resolve("encoders");
        PathUtils.copyDirectory(enc.resolve("model"), encoders);
        var files = ModelDirectory.read(encoders).components();
        zero(encoders.resolve(files.get("unet").file()));
        String preparedSaid = stderrOf(0, "prepare", "--model", encoders.toString(), "--data", data.toString(), "--out", prepared.toString());
        assertFalse(preparedSaid.contains("continuing an unfinished prepare"), preparedSaid);   // a fresh prepare continues nothing
        zero(encoders.resolve(files.get("image_encoder").file()));
        String preparedAgain = stderrOf(0, "prepare", "--model", encoders.toString(), "--data", data.toString(), "--out", prepared.toString());
        assertTrue(preparedAgain.contains(prepared.resolve("prepared.safetensors") + " already holds this prepare"), preparedAgain);
        // malformed inputs are bad input (exit 2), not an environment failure (exit 1)
        Path broken = dir.resolve("broken");
        Files.createDirectories(broken);
        Files.writeString(broken.resolve("dataset.json"), "{\"format\": ");
        assertEquals(2, Main.run("prepare", "--model", enc.resolve("model").toString(), "--data", broken.toString(), "--out", dir.resolve("p2").toString()));
        assertEquals(2, Main.run("train", "--model", enc.resolve("model").toString(), "--data", broken.toString(), "--out", dir.resolve("r2").toString(),
                "--steps", "1"));

        Path run = dir.resolve("run");
        String[] train = {"train", "--model", enc.resolve("model").toString(), "--data", prepared.toString(), "--out", run.toString(),
                "--steps", "2", "--checkpoint-every", "1", "--preview-clips", data.toString(), "--preview-every", "1", "--preview-steps", "1",
                "--ema", "0.9", "--kind", "toy-test"};
        String trainSaid = stderrOf(0, train);
        assertFalse(trainSaid.contains("warning: preview"), trainSaid);   // finite previews: nothing to warn of
        assertTrue(trainSaid.lines().anyMatch(l -> l.startsWith("train 100%") && l.contains(" loss ") && !l.contains(" scale ")), trainSaid);   // F32: no loss scale
        for (String f : new String[]{"model/manifest.json", "previews/step-1.gif", "previews/step-2.gif", "loss.png", "config.json"})
            assertTrue(Files.isRegularFile(run.resolve(f)), f);
        assertTrue(Files.readString(run.resolve("model/manifest.json")).contains("\"toy-test\""));
        String trainSource = ModelDirectory.read(run.resolve("model")).source();
        assertTrue(trainSource.endsWith("; then train on " + prepared + " from " + enc.resolve("model") + " (2 steps, EMA)"), trainSource);
        assertExportsTheEma(run, "unet", "conv_in.weight");   // --ema 0.9: its EMA weights, as train-vae and fit-image-encoder export theirs

        // finished run: running it again resumes at the end (no new steps, and says so); other settings are refused
        String again = stderrOf(0, train);
        assertTrue(again.contains("train: " + enc.resolve("model") + " on cpu, F32" + System.lineSeparator()), again);   // no mixed precision to say
        assertTrue(again.contains("the run had already finished its 2 steps; nothing trained"), again);
        assertEquals(2, Files.readAllLines(run.resolve("log.jsonl")).size());
        String[] other = train.clone();
        other[8] = "3";
        String differs = stderrOf(2, other);
        assertTrue(differs.contains("training.steps 2 -> 3"), "names the setting that differs: " + differs);
        // while another run holds the directory (this process here, another one in use) a second is refused at once
        try (RunDirectory held = RunDirectory.lock(run)) {
            String busy = stderrOf(2, train);
            assertTrue(busy.contains("error: " + run + ": another train, train-vae or fit-image-encoder is writing there; wait for it to end or choose another --out"),
                    busy);
        }
        String[] big = train.clone();
        big[6] = dir.resolve("r-big").toString();
        big[2] = dir.resolve("absent").toString();   // refused before any model loads (here there is none to load)
        big = Stream.concat(Arrays.stream(big), Stream.of("--batch-size", "5000")).toArray(String[]::new);
        String tooBig = stderrOf(2, big);
        assertTrue(tooBig.contains("error: --batch-size 5000 is larger than the 5 training clips of " + prepared), tooBig);
        assertFalse(Files.exists(dir.resolve("r-big")), "a run refused at its start leaves no --out directory behind");
        // a run begun by an engine with another random-stream layout is not resumed with other draws
        Path config = run.resolve("config.json");
        String saved = Files.readString(config);
        ObjectNode older = (ObjectNode) Json.mapper().readTree(saved);
        older.remove("random_streams");
        Files.writeString(config, older.toString());
        String layout = stderrOf(2, train);
        assertTrue(layout.contains(config + ": this run directory was begun by an earlier engine, which did not record random_streams: resuming it"
                + " could not be checked to go on as it began; use a new --out directory"), layout);
        ((ObjectNode) older.get("training")).remove("seed");
        Files.writeString(config, older.toString());
        assertTrue(stderrOf(2, train).contains("which did not record training.seed, random_streams:"));
        ((ObjectNode) older.get("training")).put("knob", 1);   // a field this engine does not have
        Files.writeString(config, older.toString());
        assertTrue(stderrOf(2, train).contains("begun by another version of the engine, which did not record training.seed, random_streams and recorded"
                + " training.knob, unknown to this one: resuming it could not be checked"));
        ((ObjectNode) older.get("training")).remove("knob");
        ((ObjectNode) older.get("training")).put("steps", 3);   // a setting that differs too: named as such
        Files.writeString(config, older.toString());
        String both = stderrOf(2, train);
        assertTrue(both.contains("started with other settings or inputs (training.seed (absent) -> 1024, training.steps 3 -> 2, random_streams (absent: an"
                + " engine before 2026-12-01) -> 2"), both);
        // a run begun before its inputs were recorded resumes as it was
        older = (ObjectNode) Json.mapper().readTree(saved);
        older.remove("inputs");
        Files.writeString(config, older.toString());
        assertEquals(0, Main.run(train));
        Files.writeString(config, saved);
        // resumed on other data, or from another model, it is refused naming what differs
        Path data2 = dir.resolve("clips2"), prepared2 = dir.resolve("prepared2");
        assertEquals(0, Main.run("dataset", "--out", data2.toString(), "--count", "2", "--size", "64", "--frames", "4", "--seed", "9"));
        assertEquals(0, Main.run("prepare", "--model", enc.resolve("model").toString(), "--data", data2.toString(), "--out", prepared2.toString()));
        String[] otherData = train.clone();
        otherData[4] = prepared2.toString();
        String dataDiffers = stderrOf(2, otherData);
        assertTrue(dataDiffers.contains("inputs.data.bytes") || dataDiffers.contains("inputs.data.metadata.dataset"), dataDiffers);
        // data prepared with another VAE (m0's scaling factor is not the trained VAE's) is refused before training
        String otherVae = stderrOf(2, "train", "--model", model.toString(), "--data", prepared.toString(), "--out", dir.resolve("r-m0").toString(), "--steps", "1");
        assertTrue(otherVae.contains("prepared with a VAE of scaling factor"), otherVae);
        // a preview from clips with no validation split (2 clips: all train) is refused naming the option
        String noPreview = stderrOf(2, "train", "--model", enc.resolve("model").toString(), "--data", prepared.toString(), "--out", dir.resolve("r-np").toString(),
                "--steps", "1", "--preview-clips", data2.toString());
        assertTrue(noPreview.contains("error: --preview-clips " + data2 + " has no validation clips to preview"), noPreview);
        // mixed precision: a bf16 UNet with fp32 master weights, moments and loss; checkpoints keep the fp32 masters
        Path runBf16 = dir.resolve("run-bf16");
        String said = stderrOf(0, "train", "--model", enc.resolve("model").toString(), "--data", prepared.toString(), "--out", runBf16.toString(),   // F32 weights
                "--steps", "1", "--device", "cpu", "--dtype", "bf16", "--export-dtype", "fp32", "--trainable", "drag-attention");
        assertTrue(said.contains("on cpu, BF16 weights and activations; F32 master weights, moments and loss"), said);
        // fp16 likewise, with dynamic loss scaling: each log line has the scale (after the step: this toy's first step
        // overflows fp16 at 2^16 and is skipped, halving it, when tried)
        Path runF16 = dir.resolve("run-fp16");
        String f16 = stderrOf(0, "train", "--model", enc.resolve("model").toString(), "--data", prepared.toString(), "--out", runF16.toString(),
                "--steps", "1", "--device", "cpu", "--dtype", "fp16", "--trainable", "drag-attention");
        assertTrue(f16.contains("on cpu, F16 weights and activations; F32 master weights, moments and loss; dynamic loss scaling"), f16);
        assertTrue(Files.readString(runF16.resolve("log.jsonl")).contains(",\"loss_scale\":"), Files.readString(runF16.resolve("log.jsonl")));
        assertTrue(f16.contains("|g| inf (step skipped)") && f16.contains("  scale "), f16);   // the bar says the skip and the scale
        assertTrue(f16.contains("trained steps 1..1 (1 skipped by fp16 loss scaling: their gradients overflowed, log.jsonl \"skipped\")"), f16);
        for (String[] bad : new String[][]{{"--kind", " "}, {"--export-dtype", "int8"}})   // refused before any work
            stderrOf(2, "train", "--model", enc.resolve("model").toString(), "--data", prepared.toString(), "--out", dir.resolve("bad").toString(),
                    "--steps", "1", bad[0], bad[1]);
        assertFalse(Files.exists(dir.resolve("bad")));
        try (SafetensorsReader r = SafetensorsReader.open(TrainingCheckpoint.latest(runBf16).resolve("weights.safetensors"))) {
            for (var e : r.entries())   // trained tensors: their fp32 masters; frozen ones: the bf16 tensors the UNet ran with
                assertEquals(e.name().contains(".attn1.") || e.name().contains(".attn2.") || e.name().contains("flow_convs") || e.name().contains("drag_token_mlps")
                        ? DType.F32 : DType.BF16, e.dtype(), e.name());
        }
        // --export-dtype fp32 exports the trained weights' fp32 masters, not the bf16 copies the UNet computed with, and the
        // frozen ones as the source model has them
        try (SafetensorsReader r = SafetensorsReader.open(runBf16.resolve("model/unet.safetensors"));
             SafetensorsReader src = SafetensorsReader.open(enc.resolve("model").resolve("unet.safetensors"));
             SafetensorsReader master = SafetensorsReader.open(TrainingCheckpoint.latest(runBf16).resolve("weights.safetensors"));
             Scope s = Scope.open()) {
            Backend cpu = CpuBackend.get();
            String trained = r.entries().stream().map(e -> e.name()).filter(n -> n.contains(".attn1.to_q.weight")).findFirst().orElseThrow();
            double[] w = r.load(trained, cpu, DType.F32).toDoubleArray();
            long finer = Arrays.stream(w).filter(v -> (Float.floatToRawIntBits((float) v) & 0xFFFF) != 0).count();
            assertTrue(finer > w.length / 2, finer + " of " + w.length + " exported values of " + trained + " have more precision than bf16");
            assertArrayEquals(master.load(trained, cpu, DType.F32).toDoubleArray(), w, "the trained weight is its checkpoint's fp32 master");
            assertArrayEquals(src.load("conv_in.weight", cpu, DType.F32).toDoubleArray(), r.load("conv_in.weight", cpu, DType.F32).toDoubleArray(),
                    "a frozen weight is exported as the source had it");
        }
        assertTrue(Files.readString(runBf16.resolve("log.jsonl")).contains("\"loss\":"));
        Path empty = dir.resolve("empty.jsonl");
        Files.writeString(empty, "not json\n{\"step\": 1}\n");
        assertEquals(2, Main.run("plot", empty.toString(), "--out", dir.resolve("e.png").toString()));

        Path png = dir.resolve("curve.png");
        assertEquals(0, Main.run("plot", run.toString(), "--out", png.toString()));
        assertTrue(Files.size(png) > 0);
        assertEquals(2, Main.run("plot", dir.resolve("nothing").toString()));

        // trained on the unscaled noisy latent: the exported model says so, and is not trained on further with scaling
        Path runRaw = dir.resolve("run-raw");
        // (with a prepare-work folder beside prepared.safetensors, as an unfinished prepare leaves: said, and trained on the file there)
        Files.createDirectory(prepared.resolve("prepare-work"));
        String raw = stderrOf(0, "train", "--model", enc.resolve("model").toString(), "--data", prepared.toString(), "--out", runRaw.toString(), "--steps", "1",
                "--unscaled-input");
        Files.delete(prepared.resolve("prepare-work"));
        assertTrue(raw.contains("note: " + prepared.resolve("prepare-work") + " holds an unfinished prepare; training on the prepared.safetensors an earlier"
                + " prepare left there"), raw);
        assertTrue(raw.contains("wrote " + runRaw.resolve("model") + " (its manifest says unet_input unscaled"), raw);
        String rawSource = ModelDirectory.read(runRaw.resolve("model")).source();
        assertTrue(rawSource.endsWith(" (1 steps, unscaled input)"), rawSource);
        assertEquals(ModelDirectory.UNSCALED, ModelDirectory.read(runRaw.resolve("model")).unetInput());
        Path runRawBf16 = dir.resolve("run-raw-bf16");   // so from bf16 weights, exported from the fp32 masters
        assertEquals(0, Main.run("train", "--model", enc.resolve("model").toString(), "--data", prepared.toString(), "--out", runRawBf16.toString(), "--steps", "1",
                "--unscaled-input", "--device", "cpu", "--dtype", "bf16", "--export-dtype", "fp32", "--trainable", "drag-attention"));
        assertEquals(ModelDirectory.UNSCALED, ModelDirectory.read(runRawBf16.resolve("model")).unetInput());
        assertTrue(ModelDirectory.read(run.resolve("model")).scalesUNetInput());
        assertEquals(2, Main.run("train", "--model", runRaw.resolve("model").toString(), "--data", prepared.toString(), "--out", dir.resolve("r3").toString(),
                "--steps", "1"));

        // a run directory, or one of its checkpoints, given as a model: the message points at the model
        String runAsModel = stderrOf(2, "sample", "--model", run.toString(), "--image", data.resolve("clips/000000/frame_00.png").toString(), "--out",
                dir.resolve("x.gif").toString());
        assertTrue(runAsModel.contains("the model a training run exported is " + run.resolve("model")), runAsModel);
        String checkpointAsModel = stderrOf(2, "sample", "--model", TrainingCheckpoint.latest(run).toString(), "--image",
                data.resolve("clips/000000/frame_00.png").toString(), "--out", dir.resolve("x.gif").toString());
        assertTrue(checkpointAsModel.contains("it is a training checkpoint"), checkpointAsModel);

        Path gif = dir.resolve("s.gif");
        assertEquals(0, Main.run("sample", "--model", run.resolve("model").toString(), "--image", data.resolve("clips/000000/frame_00.png").toString(),
                "--drag", "10,10:20,20", "--steps", "1", "--frames", "4", "--out", gif.toString()));
        assertFalse(Files.size(gif) == 0);
    }

    /**
     * With --ema, train-vae and fit-image-encoder export the EMA weights (as train does), not the last step's, and say so in
     * the exported manifest's source, as train's does.
     */
    @Test
    void trainVaeAndFitImageEncoderExportTheEmaWeights(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("clips"), model = TinyModel.write(dir.resolve("m0"));
        assertEquals(0, Main.run("dataset", "--out", data.toString(), "--count", "2", "--size", "64", "--frames", "2"));
        Path vae = dir.resolve("vae"), enc = dir.resolve("enc");
        assertEquals(0, Main.run("train-vae", "--model", model.toString(), "--data", data.toString(), "--out", vae.toString(),
                "--steps", "1", "--batch-size", "1", "--window", "2", "--ema", "0.5"));
        assertEquals(0, Main.run("fit-image-encoder", "--model", model.toString(), "--data", data.toString(), "--out", enc.toString(),
                "--steps", "1", "--batch-size", "1", "--ema", "0.5"));
        for (String[] c : new String[][]{{"vae", vae.toString(), "decoder.conv_out.weight"}, {"image_encoder", enc.toString(), "visual_projection.weight"}}) {
            Path run = Path.of(c[1]);
            String source = ModelDirectory.read(run.resolve("model")).source();
            assertTrue(source.endsWith(" (1 steps, EMA)"), source);
            assertExportsTheEma(run, c[0], c[2]);
        }
    }

    /** {@code run}'s exported {@code component} has its last checkpoint's EMA value of {@code tensor} (in the export's dtype), not the last step's. */
    private static void assertExportsTheEma(Path run, String component, String tensor) throws Exception {
        try (SafetensorsReader exported = SafetensorsReader.open(run.resolve("model").resolve(component + ".safetensors"));
             SafetensorsReader ema = SafetensorsReader.open(TrainingCheckpoint.latest(run).resolve("ema.safetensors"));
             SafetensorsReader last = SafetensorsReader.open(TrainingCheckpoint.latest(run).resolve("weights.safetensors"));
             Scope s = Scope.open()) {
            Backend cpu = CpuBackend.get();
            DType dtype = exported.entry(tensor).dtype();   // --export-dtype's: the checkpoint's values rounded to it
            double[] w = exported.load(tensor, cpu, dtype).toDoubleArray();
            assertArrayEquals(ema.load(tensor, cpu, dtype).toDoubleArray(), w, component);
            assertFalse(Arrays.equals(last.load(tensor, cpu, dtype).toDoubleArray(), w), component + ": the EMA differs from the last step's weights");
        }
    }

    /**
     * fit-image-encoder's head predicts the latent of the data's frames, also where they are not the model's resolution (as
     * prepare takes them); --export-dtype sets the exported model's dtype, and a bad one is refused before any work.
     */
    @Test
    void fitImageEncoderOnFramesLargerThanTheModelResolution(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("clips96"), model = TinyModel.write(dir.resolve("m0"));
        assertEquals(0, Main.run("dataset", "--out", data.toString(), "--count", "2", "--size", "96", "--frames", "2"));
        String said = stderrOf(0, "fit-image-encoder", "--model", model.toString(), "--data", data.toString(), "--out", dir.resolve("enc").toString(),
                "--steps", "1", "--batch-size", "1", "--export-dtype", "bf16");
        assertTrue(said.contains("wrote " + dir.resolve("enc/model")), said);
        try (SafetensorsReader exported = SafetensorsReader.open(dir.resolve("enc/model/image_encoder.safetensors"))) {
            assertEquals(DType.BF16, exported.entry("visual_projection.weight").dtype());
        }
        for (String command : new String[]{"train-vae", "fit-image-encoder"}) {
            said = stderrOf(2, command, "--model", model.toString(), "--data", data.toString(), "--out", dir.resolve("bad").toString(), "--export-dtype", "int8");
            assertTrue(said.contains("--export-dtype"), said);
            assertFalse(Files.exists(dir.resolve("bad")), command);
        }
    }

    /**
     * train-vae refuses, naming the data and the factor, frames the VAE cannot give back (sides not a multiple of its
     * downscale factor), and, naming the option, a --window longer than the clips; it and fit-image-encoder refuse a
     * --batch-size larger than the training split before the model loads.
     */
    @Test
    void trainVaeRefusesFramesThatAreNotWholeLatents(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("clips68"), model = TinyModel.write(dir.resolve("m0")), out = dir.resolve("vae");
        assertEquals(0, Main.run("dataset", "--out", data.toString(), "--count", "2", "--size", "68", "--frames", "2"));
        String said = stderrOf(2, "train-vae", "--model", model.toString(), "--data", data.toString(), "--out", out.toString(),
                "--steps", "1", "--batch-size", "1", "--window", "2");
        assertTrue(said.contains("error: " + data + ": frames of 68x68 pixels; the VAE of " + model + " needs sides that are multiples of 8"), said);
        assertFalse(Files.exists(out), "a run refused at its start leaves no --out directory behind");
        Path data64 = dir.resolve("clips64");
        assertEquals(0, Main.run("dataset", "--out", data64.toString(), "--count", "2", "--size", "64", "--frames", "2"));
        for (String window : new String[]{"3", "0"}) {
            said = stderrOf(2, "train-vae", "--model", model.toString(), "--data", data64.toString(), "--out", out.toString(), "--window", window);
            assertTrue(said.contains("error: --window " + window + ": the clips of " + data64 + " have 2 frames; give 1 to 2"), said);
        }
        assertFalse(Files.exists(out));
        // the window needs only the clips: refused before the model loads (here there is none to load)
        said = stderrOf(2, "train-vae", "--model", dir.resolve("absent").toString(), "--data", data64.toString(), "--out", out.toString(), "--window", "3");
        assertTrue(said.contains("error: --window 3: the clips of " + data64 + " have 2 frames; give 1 to 2"), said);
        assertFalse(Files.exists(out));
        // a --window of 1 is taken (the run then stops at the missing model)
        said = stderrOf(2, "train-vae", "--model", dir.resolve("absent").toString(), "--data", data64.toString(), "--out", out.toString(), "--window", "1",
                "--batch-size", "1");
        assertTrue(said.contains(dir.resolve("absent").toString()) && !said.contains("--window"), said);
        // so is a --batch-size larger than the training split (both clips), by train-vae and fit-image-encoder alike
        for (String command : new String[]{"train-vae", "fit-image-encoder"}) {
            said = stderrOf(2, command, "--model", dir.resolve("absent").toString(), "--data", data64.toString(), "--out", out.toString(), "--batch-size", "3",
                    command.equals("train-vae") ? "--window=2" : "--steps=1");
            assertTrue(said.contains("error: --batch-size 3 is larger than the 2 training clips of " + data64), command + ": " + said);
            assertFalse(Files.exists(out));
        }
    }

    /**
     * A run stopped by a non-finite loss (--lr 1e30 without clipping: the weights of step 1 overflow the next step's loss)
     * exits 1 saying where it stopped, and its loss curve up to the failure is drawn.
     */
    @Test
    void aDivergedRunStillDrawsItsLossCurve(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("clips"), model = TinyModel.write(dir.resolve("m0")), out = dir.resolve("enc");
        assertEquals(0, Main.run("dataset", "--out", data.toString(), "--count", "2", "--size", "64", "--frames", "2"));
        String said = stderrOf(1, "fit-image-encoder", "--model", model.toString(), "--data", data.toString(), "--out", out.toString(), "--steps", "3",
                "--batch-size", "1", "--lr", "1e30", "--max-grad-norm", "0");
        assertTrue(said.contains("error: training stopped: "), said);
        assertTrue(Files.size(out.resolve("loss.png")) > 0);
        assertFalse(Files.exists(out.resolve("model")));
    }

    /** A batch may hold every training clip once, not more: the check's edge (each clip twice in a batch is refused). */
    @Test
    void batchSizeMayEqualTheTrainingClips() {
        TrainingOptions options = new TrainingOptions();
        options.batchSize = 5;
        options.checkBatchSize(5, Path.of("clips"));
        options.batchSize = 6;
        assertEquals("--batch-size 6 is larger than the 5 training clips of clips",
                assertThrows(UserError.class, () -> options.checkBatchSize(5, Path.of("clips"))).getMessage());
    }

    /** train-vae's --window and --kl-weight are settings of the run: resuming it with others is refused, naming them. */
    @Test
    void trainVaeIsNotResumedWithAnotherWindowOrKlWeight(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("clips"), model = TinyModel.write(dir.resolve("m0")), out = dir.resolve("vae");
        assertEquals(0, Main.run("dataset", "--out", data.toString(), "--count", "2", "--size", "64", "--frames", "3"));
        String[] run = {"train-vae", "--model", model.toString(), "--data", data.toString(), "--out", out.toString(), "--steps", "1", "--batch-size", "1",
                "--window", "2", "--kl-weight", "1e-6"};
        assertEquals(0, Main.run(run));
        for (String[] other : new String[][]{{"12", "3", "inputs.objective.window 2 -> 3"}, {"14", "0.5", "inputs.objective.kl_weight 1.0E-6 -> 0.5"}}) {
            String[] changed = run.clone();
            changed[Integer.parseInt(other[0])] = other[1];
            String said = stderrOf(2, changed);
            assertTrue(said.contains(other[2]), said);
        }
    }

    /** dataset refuses a frame side, frame count or clip count the generator cannot make naming the options, before any --out is made (one clip it makes). */
    @Test
    void datasetNamesTheOptionsOfClipsItCannotGenerate(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("clips");
        String said = stderrOf(2, "dataset", "--out", out.toString(), "--count", "2", "--size", "16");
        assertTrue(said.contains("error: --size 16, --frames 14: image size 16 px: at least 32 needed"), said);
        said = stderrOf(2, "dataset", "--out", out.toString(), "--count", "2", "--frames", "1");
        assertTrue(said.contains("error: --size 64, --frames 1: frames 1: a clip needs at least 2"), said);
        assertEquals("error: --count must be >= 1", stderrOf(2, "dataset", "--out", out.toString(), "--count", "0").strip());
        assertFalse(Files.exists(out));
        Path file = Files.writeString(dir.resolve("file"), "x");
        assertEquals("error: --out " + file + " is a file; a directory is needed here", stderrOf(2, "dataset", "--out", file.toString(), "--count", "1").strip());
        assertTrue(stderrOf(0, "dataset", "--out", out.toString(), "--count", "1", "--size", "32", "--frames", "2").contains("1 clips written"));   // one clip is a dataset
    }

    /** Each out-of-range training option is refused naming the option, not TrainingConfig's JSON field, before any data or model is read. */
    @Test
    void trainingOptionsAreRefusedNamingTheOption(@TempDir Path dir) throws Exception {
        String[][] bad = {{"--steps", "0", "--steps must be >= 1, got 0"}, {"--batch-size", "0", "--batch-size must be >= 1, got 0"},
                {"--accumulation", "0", "--accumulation must be >= 1, got 0"}, {"--warmup", "-1", "--warmup must be >= 0, got -1"},
                {"--checkpoint-every", "0", "--checkpoint-every must be >= 1, got 0"}, {"--keep", "0", "--keep must be >= 1, got 0"},
                {"--lr", "0", "--lr must be a finite number > 0, got 0.0"}, {"--weight-decay", "-1", "--weight-decay must be a finite number >= 0, got -1.0"},
                {"--max-grad-norm", "-1", "--max-grad-norm must be a finite number >= 0 (0: no clipping), got -1.0"},
                {"--ema", "1", "--ema must be in [0, 1) (0: no EMA), got 1.0"}};
        String missing = dir.resolve("missing").toString(), out = dir.resolve("run").toString();
        for (String[] b : bad)
            for (String command : new String[]{"train", "train-vae", "fit-image-encoder"})
                assertEquals("error: " + b[2], stderrOf(2, command, "--model", missing, "--data", missing, "--out", out, b[0], b[1]).strip(), command + " " + b[0]);
        for (String kl : new String[]{"-1", "NaN", "Infinity"})   // train-vae's own, named, before the data or the model is read
            assertEquals("error: --kl-weight must be a finite number >= 0, got " + Double.parseDouble(kl),
                    stderrOf(2, "train-vae", "--model", missing, "--data", missing, "--out", out, "--kl-weight", kl).strip());
        assertEquals("error: --trainable must be all or drag-attention, got 'decoder'",
                stderrOf(2, "train", "--model", missing, "--data", missing, "--out", out, "--trainable", "decoder").strip());
        Path file = Files.writeString(dir.resolve("file"), "x");   // an --out that is a file: refused as such, not by the run directory's lock
        for (String command : new String[]{"train", "train-vae", "fit-image-encoder", "prepare"})
            assertEquals("error: --out " + file + " is a file; a directory is needed here",
                    stderrOf(2, command, "--model", missing, "--data", missing, "--out", file.toString()).strip(), command);
        // train's own preview options, refused naming them; their edges are taken (the run then stops at the missing data)
        assertEquals("error: --preview-every must be >= 1", stderrOf(2, "train", "--model", missing, "--data", missing, "--out", out, "--preview-every", "0").strip());
        assertEquals("error: --preview-steps must be 1 to " + MAX_STEPS + ", got 0",
                stderrOf(2, "train", "--model", missing, "--data", missing, "--out", out, "--preview-steps", "0").strip());
        for (String[] edge : new String[][]{{"--preview-every", "1"}, {"--preview-steps", "1"}, {"--preview-steps", String.valueOf(MAX_STEPS)}}) {
            String said = stderrOf(2, "train", "--model", missing, "--data", missing, "--out", out, "--preview-clips", missing, edge[0], edge[1]).strip();
            assertTrue(said.startsWith("error: " + missing + ": no prepared.safetensors"), edge[0] + " " + edge[1] + ": " + said);
            // without clips to preview they would be ignored
            assertEquals("error: " + edge[0] + " needs --preview-clips (the clips whose first validation clip is previewed)",
                    stderrOf(2, "train", "--model", missing, "--data", missing, "--out", out, edge[0], edge[1]).strip());
        }
        assertFalse(Files.exists(dir.resolve("run")));
    }

    /**
     * prepare refuses clips whose latents the model's UNet cannot take (32 px: 4x4 latents, where the tiny UNet halves
     * three times), naming the size to use, before it encodes anything; train refused them only at its first step.
     */
    @Test
    void prepareRefusesClipsTheUNetCannotTrainOn(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("clips32"), model = TinyModel.write(dir.resolve("m0")), out = dir.resolve("prep");
        assertEquals(0, Main.run("dataset", "--out", data.toString(), "--count", "2", "--size", "32", "--frames", "2"));
        String said = stderrOf(2, "prepare", "--model", model.toString(), "--data", data.toString(), "--out", out.toString());
        assertTrue(said.contains("error: " + data + ": clips are 32x32 px; " + model + " trains on square clips whose side is a multiple of 64 px"
                + " (its VAE downscales by 8, its UNet needs latents divisible by 8)"), said);
        assertFalse(Files.exists(out), "a prepare refused at its start leaves no --out directory behind");
    }

    /** A file given as the clip dataset is said to be one, not "FILE/dataset.json: not found". */
    @Test
    void aFileGivenAsTheClipDatasetIsSaidToBeAFile(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("clips.json"), "{}");
        assertEquals("error: " + file + " is a file, not a clip dataset directory",
                stderrOf(2, "train-vae", "--model", dir.resolve("missing").toString(), "--data", file.toString(), "--out", dir.resolve("run").toString()).strip());
    }

    /** Overwrites a file with as many zero bytes: still the manifest's size, no longer a safetensors file. */
    private static void zero(Path file) throws IOException {
        Files.write(file, new byte[Math.toIntExact(Files.size(file))]);
    }
}
