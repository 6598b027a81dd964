package dev.puppetengine.cli;

import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.io.safetensors.SafetensorsReader;
import dev.puppetengine.model.checkpoint.CheckpointException;
import dev.puppetengine.model.checkpoint.ComponentFile;
import dev.puppetengine.model.checkpoint.ModelDirectory;
import dev.puppetengine.model.unet.UNetConfig;
import dev.puppetengine.model.unet.UNetSpatioTemporalConditionModel;
import dev.puppetengine.pipeline.LoadedModel;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.testing.CliRun;
import org.apache.commons.io.FileUtils;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The embedded default: models/toy is the trained toy model (not the random one), small, and README's example runs on it. */
class ShippedModelTest {
    @Test
    void shippedToyModelIsTrainedSmallAndSamplesTheReadmeExample(@TempDir Path dir) throws Exception {
        ModelDirectory.Manifest m = ModelDirectory.read(EngineHome.defaultModel());
        assertEquals("toy", m.kind());
        assertEquals(64, m.resolution());
        long bytes = m.components().values().stream().mapToLong(ModelDirectory.Entry::bytes).sum();
        assertTrue(bytes <= 20L << 20, "models/toy must stay <= 20 MB, is " + bytes);
        Path out = dir.resolve("fish.gif");
        assertEquals(0, Main.run("sample", "--image", "examples/fish.png", "--drags", "examples/fish-drags.json", "--steps", "1", "--frames", "2",
                "--out", out.toString(), "--overlay"));
        assertTrue(Files.size(out) > 0);
    }

    /** Weights that do not fit the config mis-shape hundreds of tensors: the message names a few and counts the rest (was ~19,000 characters). */
    @Test
    void configThatDoesNotFitItsWeightsGivesOneShortMessage(@TempDir Path dir) throws Exception {
        Path m = TinyModel.write(dir.resolve("m"));
        var wider = new UNetSpatioTemporalConditionModel(UNetConfig.tiny(16, 14, 16));
        try (var r = SafetensorsReader.open(m.resolve("unet.safetensors"))) {
            String msg = assertThrows(CheckpointException.class,
                    () -> ComponentFile.check(r, wider.namedParameters())).getMessage();
            assertTrue(msg.contains("more mis-shaped tensor(s)") && msg.length() < 1000, msg.length() + ": " + msg);
        }
    }

    /** describe --verify: the shipped files match their manifest's sha256; one flipped byte is found and named. */
    @Test
    void verifyChecksEveryComponentsSha256(@TempDir Path dir) throws Exception {
        Path toy = EngineHome.defaultModel();
        assertEquals(List.of(), ModelDirectory.verify(toy));
        assertEquals(0, Main.run("describe", "--verify", toy.toString()));
        // --keys and --preset describe a preset: with --verify they are refused, not ignored
        assertEquals(2, Main.run("describe", "--verify", toy.toString(), "--keys"));
        assertEquals(2, Main.run("describe", "--verify", toy.toString(), "--preset", "toy"));
        Path copy = dir.resolve("toy");
        Files.createDirectories(copy);
        try (var s = Files.list(toy)) {
            for (Path f : s.toList()) Files.copy(f, copy.resolve(f.getFileName()));
        }
        byte[] vae = Files.readAllBytes(copy.resolve("vae.safetensors"));
        vae[vae.length - 3] ^= 1;                                      // a weight byte: sizes and headers stay valid
        Files.write(copy.resolve("vae.safetensors"), vae);
        List<String> bad = ModelDirectory.verify(copy);
        assertEquals(1, bad.size(), bad.toString());
        assertTrue(bad.get(0).contains("vae.safetensors") && bad.get(0).contains("'vae'"), bad.get(0));
        assertEquals(2, Main.run("describe", "--verify", copy.toString()));
        // files cut short or missing (an interrupted copy) are named with the others, not only the first of them
        for (String f : new String[]{"unet.safetensors", "image_encoder.safetensors"})
            Files.write(copy.resolve(f), Arrays.copyOf(Files.readAllBytes(copy.resolve(f)), 100));
        Files.delete(copy.resolve("image_encoder.safetensors"));   // and a file missing altogether
        bad = ModelDirectory.verify(copy);
        assertEquals(3, bad.size(), bad.toString());
        for (String c : new String[]{"'unet'", "'vae'", "image_encoder.safetensors: missing (component 'image_encoder')"}) assertTrue(bad.toString().contains(c), bad.toString());
        Files.createDirectory(copy.resolve("image_encoder.safetensors"));   // a directory where the file should be
        assertTrue(ModelDirectory.verify(copy).toString().contains("image_encoder.safetensors: a directory, expected its .safetensors file (component 'image_encoder')"));
        // a weight that is not finite with a matching sha256 (written so, e.g. converted from a damaged checkpoint before convert
        // checked its values): loading and sampling gave NaN frames, said nowhere which tensor
        Path nan = dir.resolve("nan");
        FileUtils.copyDirectory(toy.toFile(), nan.toFile());
        Path encoder = nan.resolve("image_encoder.safetensors");
        long n;
        try (SafetensorsReader r = SafetensorsReader.open(encoder);
             FileChannel ch = FileChannel.open(encoder, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(len, 0);
            ch.write(ByteBuffer.wrap(new byte[]{(byte) 0xc1, 0x7f}), 8 + len.getLong(0) + r.entry("visual_projection.weight").begin() + 2);   // a bf16 NaN payload
            n = r.entry("visual_projection.weight").byteSize() / 2;
        }
        Files.writeString(nan.resolve(ModelDirectory.MANIFEST), Files.readString(nan.resolve(ModelDirectory.MANIFEST))
                .replace(ModelDirectory.read(toy).components().get("image_encoder").sha256(), ModelDirectory.sha256(encoder)));
        assertEquals(List.of(encoder + ": tensor visual_projection.weight is not finite (element 1 of " + n
                + " is NaN) (component 'image_encoder'): loading refuses it"), ModelDirectory.verify(nan));
        assertEquals(2, Main.run("describe", "--verify", nan.toString()));
        String refused = assertThrows(CheckpointException.class,
                () -> LoadedModel.load(nan, CpuBackend.get(), DType.F32)).getMessage();
        assertEquals(encoder + ": tensor visual_projection.weight is not finite (element 1 of " + n + " is NaN): the file is damaged, or was written"
                + " from weights that were not finite", refused, "loading refuses it too (it sampled NaN frames)");
        // verify and loading say the same of a file cut short: loading stops at the first
        String cut = copy.resolve("unet.safetensors") + ": 100 bytes, the manifest says ";
        assertTrue(ModelDirectory.verify(copy).toString().contains(cut), ModelDirectory.verify(copy).toString());
        String load = assertThrows(CheckpointException.class, () -> ModelDirectory.read(copy)).getMessage();
        assertTrue(load.startsWith(cut) && load.endsWith("(truncated or replaced?) (component 'unet')"), load);
        // describe --verify's bar: the bytes said read come to verifyBytes exactly, whether a file matches, differs or holds a NaN
        for (Path d : new Path[]{toy, nan, copy}) {
            long[] said = {0};
            ModelDirectory.verify(d, k -> said[0] += k);
            assertEquals(ModelDirectory.verifyBytes(d), said[0], d.toString());
        }
        long sizes = 0;
        for (String f : new String[]{"unet.safetensors", "vae.safetensors", "image_encoder.safetensors"}) sizes += Files.size(toy.resolve(f));
        assertEquals(sizes, ModelDirectory.verifyBytes(toy), "each file read once");
        CliRun r = CliRun.of("describe", "--verify", toy.toString());
        assertEquals(0, r.code(), r.err());
        long mib = (sizes + (1 << 20) - 1) >> 20;   // whole MiB, rounded up
        assertTrue(r.err().lines().anyMatch(l -> l.startsWith("verify 100%") && l.contains(" " + mib + "/" + mib + " MiB")), mib + " MiB: " + r.err());
        assertEquals(toy + ": every component file matches its manifest sha256 and holds finite weights\n", r.out());
    }
}
