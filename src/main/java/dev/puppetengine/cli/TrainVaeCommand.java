package dev.puppetengine.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.puppetengine.autograd.F;
import dev.puppetengine.autograd.GradMode;
import dev.puppetengine.io.Json;
import dev.puppetengine.io.image.ImageTensors;
import dev.puppetengine.io.image.RgbImage;
import dev.puppetengine.pipeline.LoadedModel;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.train.Adam;
import dev.puppetengine.train.GracefulStop;
import dev.puppetengine.train.RunDirectory;
import dev.puppetengine.train.Trainer;
import dev.puppetengine.train.TrainingCheckpoint;
import dev.puppetengine.train.TrainingConfig;
import dev.puppetengine.train.VaeObjective;
import dev.puppetengine.train.data.ClipDataset;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.InterruptedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** ./puppet-engine train-vae: trains a model's VAE on clips (toy models; SVD's VAE is used frozen). */
@Command(name = "train-vae", mixinStandardHelpOptions = true, sortOptions = false, defaultValueProvider = TrainingOptions.ForTrainVae.class,
        description = {"Train the VAE of a (toy) model on a clip dataset, then set its latent scaling factor to 1/std of its latents"
                        + " (with --decoder-only the encoder is unchanged, and so is the factor).",
                "Writes OUT/model (the input model with the trained VAE); resumable: run again to continue."})
final class TrainVaeCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Starting model directory.")
    Path model;

    @Option(names = "--data", required = true, description = "Clip dataset (./puppet-engine dataset).")
    Path data;

    @Option(names = "--out", required = true, description = "Run directory (checkpoints, log.jsonl, loss.png, model/).")
    Path out;

    @Option(names = "--window", defaultValue = "4", description = "Consecutive frames per training sample (default: ${DEFAULT-VALUE}).")
    int window;

    @Option(names = "--kl-weight", defaultValue = "1e-6", description = "Weight of the KL term (default: ${DEFAULT-VALUE}).")
    double klWeight;

    @Option(names = "--decoder-only", description = "Train only the decoder (the encoder and its latent scaling factor, and so latents already prepared, stay as they are).")
    boolean decoderOnly;

    @Mixin
    TrainingOptions training;

    @Override
    public Integer call() throws Exception {
        TrainingConfig cfg = training.config(decoderOnly ? "decoder" : "all", true);
        DType export = training.exportDtype();
        if (!(klWeight >= 0 && klWeight < Double.POSITIVE_INFINITY))   // refused now, naming the option, not after the model has loaded
            throw new UserError("--kl-weight must be a finite number >= 0, got " + klWeight);
        OutputPaths.directory("--out", out, false);
        ClipDataset ds = ClipDataset.open(data);
        if (window < 1 || window > ds.frames())   // the clips alone bound it: refused before the model loads
            throw new UserError("--window " + window + ": the clips of " + data + " have " + ds.frames() + " frames; give 1 to " + ds.frames());
        training.checkBatchSize(ds.trainCount(), data);
        try (RunDirectory run = RunDirectory.lock(out); LoadedModel m = Training.load(model)) {
            int f = m.vae.config().downscaleFactor();   // else the decoder gives back frames (side / f) * f pixels wide
            if (ds.width() % f != 0 || ds.height() % f != 0)
                throw new UserError(data + ": frames of " + ds.width() + "x" + ds.height() + " pixels; the VAE of " + model + " needs sides that are multiples of " + f);
            String vaeJson = Json.mapper().writeValueAsString(m.vae.config());
            // --window and --kl-weight shape the loss: recorded in config.json, so that the run is not resumed with others
            ObjectNode inputs = Training.inputs(m, ds.manifest().toJson());
            inputs.putObject("objective").put("window", window).put("kl_weight", klWeight);
            Trainer t = new Trainer(run, new VaeObjective(m.vae, m.vaeWeights(), ds, window, klWeight, cfg.seed()), m.vaeWeights(), vaeJson, cfg)
                    .inputs(inputs);
            Path ckpt = Training.run(t, cfg, "vae", out);
            if (ckpt == null) return 0;
            double factor;
            try (GracefulStop note = Training.exporting(out)) {   // the scaling factor's pass too: a minute of encoding for the toy
                TrainingCheckpoint.loadWeights(ckpt, cfg.emaDecay() > 0, m.vaeWeights());   // with --ema its EMA weights, as train exports
                // the encoder, hence its latents and data prepared with them, is unchanged by --decoder-only: so is their scale
                factor = decoderOnly ? m.vae.config().scalingFactor() : scalingFactor(m, ds);
                String json = Json.mapper().writeValueAsString(m.vae.config().withScalingFactor(factor));
                m.save(out.resolve("model"), m.manifest.kind(), Training.source("train-vae", data, cfg),
                        m.manifest.scalesUNetInput(), export, Map.of("vae", json), true);
            }
            System.err.printf(Locale.ROOT, "latent scaling factor %s = %.5f; wrote %s%n", decoderOnly ? "kept (encoder unchanged)" : "1/std", factor, out.resolve("model"));
        }
        return 0;
    }

    /**
     * 1 / the std of the posterior means over up to 64 training clips' frames (a minute of encoding for the toy on 2
     * cores: with a bar); refused where the latents are constant (an encoder collapsed by training): 1/0 is no factor.
     */
    static double scalingFactor(LoadedModel m, ClipDataset ds) throws Exception {
        double mean = 0, m2 = 0;   // Welford: constant latents give exactly 0, where E[x^2] - E[x]^2 can round to either side of it
        long n = 0;
        int clips = Math.min(64, ds.trainCount());
        System.err.printf(Locale.ROOT, "latent scaling factor: encoding the frames of %d training clips%n", clips);
        try (GradMode.Guard g = GradMode.noGrad(); ProgressBar bar = ProgressBars.of("latent std", clips, null)) {
            for (int i = 0; i < clips; i++, bar.step()) {
                if (Thread.interrupted()) throw new InterruptedIOException("the latent scaling factor's pass was interrupted");   // a signal's stop
                try (Scope s = Scope.open()) {
                    var c = ds.read(i);
                    List<RgbImage> frames = new ArrayList<>();
                    for (int f = 0; f < ds.frames(); f++) frames.add(c.frame(f));
                    for (double v : m.vae.encodeMean(F.to(ImageTensors.toTensor(m.vaeWeights().backend(), frames), DType.F32)).toDoubleArray()) {
                        double d = v - mean;
                        mean += d / ++n;
                        m2 += d * (v - mean);
                    }
                }
            }
        }
        double std = Math.sqrt(m2 / n), factor = 1 / std;
        if (!(factor < Double.POSITIVE_INFINITY))   // NaN too: non-finite latents
            throw new Adam.NonFiniteException(String.format(Locale.ROOT, "the trained encoder's latents have std %s over %d values, so 1/std is no latent "
                    + "scaling factor; no model was written, the run's checkpoints stay (train again with a lower --lr, or --decoder-only)", std, n));
        return factor;
    }
}
