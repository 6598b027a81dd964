package dev.puppetengine.convert;

import dev.puppetengine.cli.Main;
import dev.puppetengine.io.safetensors.SafetensorsReader;
import dev.puppetengine.io.safetensors.SafetensorsWriter;
import dev.puppetengine.model.ModelPresets;
import dev.puppetengine.model.vae.AutoencoderKLTemporalDecoder;
import dev.puppetengine.nn.Parameter;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Shape;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Conversion streams: the full-size SVD VAE (195 MB in fp16) converts in a child JVM whose heap is 64 MB. */
class ConvertMemoryTest {
    private static final int HEAP_MB = 64;

    @TempDir
    Path dir;

    @Test
    void convertsAFileOfNearlyThreeHeaps() throws Exception {
        Map<String, Parameter> params = new AutoencoderKLTemporalDecoder(ModelPresets.named("puppet-master").vae()).namedParameters();
        List<SafetensorsWriter.Item> items = new ArrayList<>();
        params.forEach((k, p) -> items.add(new SafetensorsWriter.Item(k, DType.F16, p.checkpointShape(), out -> {
            int n = Shape.numelInt(p.checkpointShape());
            ByteBuffer b = ByteBuffer.allocate(2 * n).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < n; i++) b.putShort((short) (0x3c00 + (i & 0x3ff)));     // fp16 values in [1, 2)
            out.put(b.flip());
        })));
        Path in = dir.resolve("vae.safetensors"), out = dir.resolve("model");
        SafetensorsWriter.write(in, Map.of(), items);
        long size = Files.size(in);
        assertTrue(size > (2L * HEAP_MB) << 20, "input " + size + " bytes");

        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-Xmx" + HEAP_MB + "m", "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "convert", in.toString(), "--out", out.toString()).redirectErrorStream(true).redirectOutput(dir.resolve("log.txt").toFile()).start();
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "conversion did not finish");
        String log = Files.readString(dir.resolve("log.txt"));
        assertEquals(0, p.exitValue(), log);
        assertTrue(log.contains("vae.safetensors"), log);
        try (SafetensorsReader r = SafetensorsReader.open(out.resolve("vae.safetensors"))) {
            assertEquals(params.size(), r.entries().size());
            assertEquals(DType.BF16, r.entry("decoder.conv_in.weight").dtype());
        }
        assertTrue(Math.abs(Files.size(out.resolve("vae.safetensors")) - size) < (1 << 20));
        assertTrue(new File(out.toFile(), "manifest.json").isFile());
    }
}
