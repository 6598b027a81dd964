package dev.puppetengine.cli;

import dev.puppetengine.io.Json;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.pipeline.LoadedModel;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.train.GracefulStop;
import dev.puppetengine.train.ImageEncoderFit;
import dev.puppetengine.train.RunDirectory;
import dev.puppetengine.train.Trainer;
import dev.puppetengine.train.TrainingCheckpoint;
import dev.puppetengine.train.TrainingConfig;
import dev.puppetengine.train.data.ClipDataset;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;

/** ./puppet-engine fit-image-encoder: fits a toy model's image encoder by distilling its VAE (see ImageEncoderFit). */
@Command(name = "fit-image-encoder", mixinStandardHelpOptions = true, sortOptions = false,
        defaultValueProvider = TrainingOptions.ForFitImageEncoder.class,
        description = {"Fit the image encoder of a toy model to predict each frame's VAE latent.",
                "Its token must predict the frame's VAE latent through a linear head (a stand-in for CLIP's contrastive training), starting"
                        + " from the model's encoder weights. Writes OUT/model; resumable."})
final class FitImageEncoderCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Model directory with a trained VAE.")
    Path model;

    @Option(names = "--data", required = true, description = "Clip dataset.")
    Path data;

    @Option(names = "--out", required = true, description = "Run directory.")
    Path out;

    @Mixin
    TrainingOptions training;

    @Override
    public Integer call() throws Exception {
        TrainingConfig cfg = training.config("all", true);
        DType export = training.exportDtype();
        OutputPaths.directory("--out", out, false);
        ClipDataset ds = ClipDataset.open(data);
        training.checkBatchSize(ds.trainCount(), data);
        try (RunDirectory run = RunDirectory.lock(out); LoadedModel m = Training.load(model)) {
            ImageEncoderFit fit = new ImageEncoderFit(m.clip, m.vae, ds, cfg.seed());
            // The encoder trains in the store that owns it (closed with the model); the head's parameters join that store.
            ParameterStore store = m.imageEncoderWeights();
            fit.attachHead(store);
            String json = Json.mapper().writeValueAsString(m.clip.config());
            Path ckpt = Training.run(new Trainer(run, fit, store, json, cfg).inputs(Training.inputs(m, ds.manifest().toJson())), cfg, "image encoder", out);
            if (ckpt == null) return 0;
            try (GracefulStop note = Training.exporting(out)) {
                TrainingCheckpoint.loadWeights(ckpt, cfg.emaDecay() > 0, store);   // with --ema its EMA weights, as train exports
                m.save(out.resolve("model"), m.manifest.kind(), Training.source("fit-image-encoder", data, cfg),
                        m.manifest.scalesUNetInput(), export, Map.of(), true);
            }
            System.err.println("wrote " + out.resolve("model"));
        }
        return 0;
    }
}
