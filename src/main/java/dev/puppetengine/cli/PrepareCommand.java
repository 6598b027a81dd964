package dev.puppetengine.cli;

import dev.puppetengine.backend.Backend;
import dev.puppetengine.model.checkpoint.ModelDirectory;
import dev.puppetengine.model.unet.UNetConfig;
import dev.puppetengine.model.vae.VaeConfig;
import dev.puppetengine.pipeline.LoadedModel;
import dev.puppetengine.train.GracefulStop;
import dev.puppetengine.train.PreparedData;
import dev.puppetengine.train.PreparedDataWriter;
import dev.puppetengine.train.data.ClipDataset;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;

/** ./puppet-engine prepare: precompute VAE latents and image embeddings of a clip dataset for training. */
@Command(name = "prepare", mixinStandardHelpOptions = true,
        description = {"Encode a clip dataset once with the model's VAE and image encoder, for training.",
                "Each frame's VAE posterior (mean and std) and frame 0's image embedding go into OUT/prepared.safetensors, with the clips'"
                        + " drags and the candidate tracks training chooses drags from for every batch.",
                "Memory stays that of one clip, whatever the dataset's size; the disk holds the set twice while the file is assembled at the end.",
                "Resumable: stopped for any reason, the same command continues from what OUT/prepare-work/ last recorded (every 10 s,"
                        + " and on Ctrl-C);"
                        + " with another model, dataset or --dtype it is refused until OUT/prepare-work/ is removed.",
                "Run again once finished, it does nothing; with other settings it is refused while OUT/prepared.safetensors is there."})
final class PrepareCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Model directory whose VAE and image encoder to use.")
    Path model;

    @Option(names = "--data", required = true, description = "Clip dataset.")
    Path data;

    @Option(names = "--out", required = true, description = "Output directory.")
    Path out;

    @Mixin
    DeviceArgs target;

    @Override
    public Integer call() throws Exception {
        OutputPaths.directory("--out", out, false);
        // Settings first, weights last: a prepare already done, or refused, is known before the encoders load (seconds to minutes).
        ModelDirectory.Manifest man = SamplingArgs.fromModel(model, () -> ModelDirectory.read(model));
        VaeConfig vae = SamplingArgs.fromModel(model, () -> LoadedModel.config(model, man, "vae", VaeConfig.class));
        double scalingFactor = vae.scalingFactor();
        ClipDataset ds = ClipDataset.open(data);
        checkClipSize(ds, vae.downscaleFactor(), man);
        Map<String, String> checksums = new TreeMap<>();   // what train compares with its model's (a hand-written manifest may lack them)
        for (String c : new String[]{"vae", "image_encoder"}) {
            ModelDirectory.Entry e = man.components().get(c);
            if (e != null && e.sha256() != null) checksums.put(c + "_sha256", e.sha256());
        }
        Backend backend = target.backend();
        try (PreparedDataWriter w = PreparedDataWriter.open(out, ds, scalingFactor, backend, target.dtype(), checksums)) {
            if (w.finished()) {
                System.err.printf(Locale.ROOT, "%s already holds this prepare (same dataset, encoders and dtype): nothing to do%n", out.resolve(PreparedData.FILE));
                return 0;
            }
            // the signal handler after the load: a Ctrl-C while the encoders load has nothing to commit and ends it at once
            try (LoadedModel.Encoders enc = SamplingArgs.fromModel(model, () -> LoadedModel.loadEncoders(model, man, backend, target.dtype()));
                 GracefulStop stop = w.stopOnSignal(120);
                 ProgressBar bar = ProgressBars.of("prepare", ds.count(), null, w.done())) {
                if (w.done() > 0) ProgressBars.println(String.format(Locale.ROOT, "continuing an unfinished prepare: %d of %d clips were encoded", w.done(), ds.count()));
                int outside = w.run(enc.vae, enc.clip, bar::stepTo);
                if (w.stopped()) {   // still inside: the JVM exits as soon as the stop is closed; the message first
                    ProgressBars.println(String.format(Locale.ROOT, "stopped after %d of %d clips, all kept in %s; the same command continues", w.done(), ds.count(),
                            out.resolve(PreparedDataWriter.WORK)));
                    return 130;
                }
                if (outside > 0) ProgressBars.println(String.format(Locale.ROOT, "note: %d candidate tracks leave the image somewhere and were left out (the drag tensor holds points in the image)", outside));
            }
            System.err.printf(Locale.ROOT, "wrote %s (%d clips, %d for training)%n", out.resolve(PreparedData.FILE), ds.count(), ds.trainCount());
        }
        return 0;
    }

    /**
     * Clips the model's UNet could not train on are refused now, not at train's first step after minutes of encoding.
     * Only where the UNet file's header reads: prepare needs the encoders alone, and train checks the latents again.
     */
    private void checkClipSize(ClipDataset ds, int vaeFactor, ModelDirectory.Manifest man) {
        UNetConfig unet;
        try {
            unet = LoadedModel.config(model, man, "unet", UNetConfig.class);
        } catch (IOException | RuntimeException e) {
            return;
        }
        int side = vaeFactor * unet.latentMultiple();
        if (ds.width() % vaeFactor != 0 || ds.height() % vaeFactor != 0 || !unet.takesLatents(ds.height() / vaeFactor, ds.width() / vaeFactor))
            throw new UserError(data + ": clips are " + ds.width() + "x" + ds.height() + " px; " + model + " trains on square clips whose side is a multiple of "
                    + side + " px (its VAE downscales by " + vaeFactor + ", its UNet needs latents divisible by " + unet.latentMultiple()
                    + "): make the dataset with such a --size");
    }
}
