package dev.puppetengine.io;

import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.cli.UserError;
import dev.puppetengine.io.image.ImageFiles;
import dev.puppetengine.io.safetensors.SafetensorsEntry;
import dev.puppetengine.io.safetensors.SafetensorsReader;
import dev.puppetengine.model.checkpoint.CheckpointException;
import dev.puppetengine.model.checkpoint.ModelDirectory;
import dev.puppetengine.model.clip.ClipVisionConfig;
import dev.puppetengine.model.clip.ClipVisionModelWithProjection;
import dev.puppetengine.model.vae.AutoencoderKLTemporalDecoder;
import dev.puppetengine.model.vae.VaeConfig;
import dev.puppetengine.nn.ParameterStore;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.train.PreparedData;
import dev.puppetengine.train.PreparedDataWriter;
import dev.puppetengine.train.data.ClipDataset;
import dev.puppetengine.train.data.synthetic.ProgressListener;
import dev.puppetengine.train.data.synthetic.SyntheticDataset;
import org.apache.commons.io.FileUtils;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Damaged input files, the way disks, downloads and hand edits damage them (bytes changed, the file cut short, a digit
 * or bracket in the header), must be read or refused with an error naming the file: an IOException, an
 * IllegalArgumentException or the CLI's user errors, never another unchecked exception, a hang or an OOM.
 * The model files, an image, a clip dataset's manifest and drags, and a prepared training set are tried here (the
 * torch pickle reader has its own in UnpicklerTest).
 */
class CorruptInputTest {
    private static final int TRIALS = 120;

    @TempDir
    Path dir;

    private interface Reader {
        void read(Path damaged) throws Exception;
    }

    /** Damages {@code good} TRIALS times; each copy is put where {@code reader} reads it. */
    private void damage(Path good, Reader reader) throws Exception {
        byte[] bytes = Files.readAllBytes(good);
        Random rng = new Random(good.getFileName().toString().hashCode());
        Path f = dir.resolve("damaged-" + good.getFileName());
        for (int trial = 0; trial < TRIALS; trial++) {
            byte[] bad = Arrays.copyOf(bytes, bytes.length);
            switch (trial % 3) {
                case 0 -> { for (int k = 1 + rng.nextInt(4); k > 0; k--) bad[rng.nextInt(bad.length)] = (byte) rng.nextInt(256); }
                case 1 -> bad = Arrays.copyOf(bytes, rng.nextInt(bytes.length));
                default -> bad[rng.nextInt(Math.min(bad.length, 400))] = (byte) "0123456789-e,[]{}\"".charAt(rng.nextInt(18));   // in a JSON header
            }
            Files.write(f, bad);
            try {
                reader.read(f);
            } catch (IOException | IllegalArgumentException | CheckpointException | UserError refused) {
                assertTrue(String.valueOf(refused.getMessage()).contains(dir.toString()),
                        good.getFileName() + " trial " + trial + ": the message names no file: " + refused);
            } catch (Throwable escaped) {
                throw new AssertionError(good.getFileName() + " trial " + trial + " escaped as " + escaped, escaped);
            }
        }
    }

    /** Puts {@code damaged} at {@code place} (under the temp folder) before reading. */
    private static void put(Path damaged, Path place) throws IOException {
        Files.createDirectories(place.getParent());
        Files.copy(damaged, place, StandardCopyOption.REPLACE_EXISTING);
    }

    @Test
    void modelFilesAndImages() throws Exception {
        damage(Path.of("models/toy/vae.safetensors"), f -> {
            try (SafetensorsReader r = SafetensorsReader.open(f); Scope s = Scope.open()) {
                for (SafetensorsEntry e : r.entries()) r.load(e.name(), CpuBackend.get(), DType.F32);
            }
        });
        Path model = dir.resolve("model");
        FileUtils.copyDirectory(Path.of("models/toy").toFile(), model.toFile(), p -> !p.getName().equals("unet.safetensors"));
        damage(Path.of("models/toy/manifest.json"), f -> {
            put(f, model.resolve(ModelDirectory.MANIFEST));
            ModelDirectory.read(model);
        });
        damage(Path.of("examples/fish.png"), ImageFiles::readRgb);
    }

    @Test
    void clipDatasetsAndPreparedSets() throws Exception {
        Path clips = dir.resolve("clips");
        SyntheticDataset.generate(clips, 2, 3, 32, 2, ProgressListener.NONE);
        Path prepared = dir.resolve("prepared");
        AutoencoderKLTemporalDecoder vae = new AutoencoderKLTemporalDecoder(VaeConfig.tiny(8));
        ClipVisionModelWithProjection clip = new ClipVisionModelWithProjection(ClipVisionConfig.tiny(32, 8, 16));
        try (ParameterStore v = ParameterStore.initialize(vae, CpuBackend.get(), DType.F32, 1);
             ParameterStore c = ParameterStore.initialize(clip, CpuBackend.get(), DType.F32, 2);
             PreparedDataWriter w = PreparedDataWriter.open(prepared, ClipDataset.open(clips), vae.scalingFactor(), CpuBackend.get(), DType.F32, Map.of())) {
            w.run(vae, clip, null);
        }
        Path copy = dir.resolve("copy");
        FileUtils.copyDirectory(clips.toFile(), copy.toFile());
        damage(clips.resolve("dataset.json"), f -> {
            put(f, copy.resolve("dataset.json"));
            ClipDataset.open(copy);
        });
        Files.copy(clips.resolve("dataset.json"), copy.resolve("dataset.json"), StandardCopyOption.REPLACE_EXISTING);
        damage(clips.resolve("clips/000000/drags.json"), f -> {
            put(f, copy.resolve("clips/000000/drags.json"));
            ClipDataset.open(copy).read(0);
        });
        Path set = dir.resolve("set");
        damage(prepared.resolve(PreparedData.FILE), f -> {
            put(f, set.resolve(PreparedData.FILE));
            try (PreparedData p = PreparedData.open(set); Scope s = Scope.open()) {
                for (int i = 0; i < p.size(); i++) p.batch(new int[]{i}, 1, i, CpuBackend.get(), DType.F32);
            }
        });
    }
}
