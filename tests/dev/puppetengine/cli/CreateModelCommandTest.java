package dev.puppetengine.cli;

import dev.puppetengine.backend.cpu.CpuBackend;
import dev.puppetengine.model.checkpoint.ModelDirectory;
import dev.puppetengine.testing.CliRun;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** create-model --force replaces a model directory or an empty one, and refuses, deleting nothing, any other directory. */
class CreateModelCommandTest {
    @TempDir
    Path dir;

    private static CliRun create(Path out, String... extra) {
        List<String> args = new ArrayList<>(List.of("create-model", "--out", out.toString()));
        args.addAll(List.of(extra));
        return CliRun.of(args.toArray(new String[0]));
    }

    private List<String> listing() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    /**
     * Each weight is made as it is written, not all first: puppet-master's 9 GB of fp32 weights ran out of the default heap.
     * The CPU backend's peak while the toy model is written stays a fraction of its weights' 30 MB.
     */
    @Test
    void weightsAreMadeOneAtATime() {
        CpuBackend cpu = CpuBackend.get();
        cpu.resetPeak();
        long before = cpu.bytesInUse();
        CliRun made = create(dir.resolve("toy"));
        assertEquals(0, made.code(), made.err());
        long peak = cpu.peakBytes() - before, weights = 4L * (7_047_722 + 512_463 + 34_304);
        assertTrue(peak < weights / 4, "peak " + peak + " bytes beside the weights' " + weights);
    }

    @Test
    void forceReplacesOnlyAModelDirectoryOrAnEmptyOne() throws Exception {
        Path notes = Files.createDirectory(dir.resolve("notes"));
        Files.writeString(notes.resolve("notes.txt"), "precious");
        CliRun refused = create(notes, "--force");
        assertEquals(2, refused.code(), refused.err());
        assertTrue(refused.err().contains(notes + " is not an engine model directory (no manifest.json of format puppet-engine-model)"
                + " and not empty: refusing to delete it; choose another --out"), refused.err());
        assertEquals(1, refused.err().strip().lines().count(), refused.err());
        assertEquals("precious", Files.readString(notes.resolve("notes.txt")));
        assertEquals(List.of("notes"), listing(), "nothing written beside it");

        // another program's manifest.json is not the engine's
        Path foreign = Files.createDirectory(dir.resolve("foreign"));
        Files.writeString(foreign.resolve("manifest.json"), "{\"format\": \"something-else\"}");
        assertEquals(2, create(foreign, "--force").code());
        assertTrue(Files.exists(foreign.resolve("manifest.json")));

        Path empty = Files.createDirectory(dir.resolve("empty"));
        CliRun noForce = create(empty);
        assertEquals(2, noForce.code());
        assertTrue(noForce.err().contains(empty + " already exists (use --force to replace it)"), noForce.err());
        CliRun first = create(empty, "--force");
        assertEquals(0, first.code(), first.err());
        String sha = ModelDirectory.read(empty).components().get("unet").sha256();
        ModelDirectory.read(empty).components().forEach((k, v) -> assertTrue(first.out().lines().anyMatch(l -> l.startsWith(k + " ")
                && l.contains(" " + v.tensors() + " tensors ") && l.endsWith("bytes  sha256 " + v.sha256())), k + ": " + first.out()));
        assertTrue(first.out().endsWith("wrote " + empty + "\n"), first.out());
        CliRun again = create(empty, "--force", "--seed", "1");   // a model directory: replaced
        assertEquals(0, again.code(), again.err());
        assertNotEquals(sha, ModelDirectory.read(empty).components().get("unet").sha256());
        assertEquals(List.of("empty", "foreign", "notes"), listing(), "temporary siblings left");
    }

    /** A dtype or a preset the engine does not know is refused naming the option, as by every command that takes them. */
    @Test
    void anUnknownDtypeOrPresetIsRefusedNamingTheOption() {
        CliRun r = create(dir.resolve("m"), "--dtype", "int8");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("error: --dtype: unknown dtype 'int8'"), r.err());
        assertFalse(Files.exists(dir.resolve("m")));
        String preset = "error: --preset: unknown model preset 'nope' (expected puppet-master, svd-img2vid or toy)";
        assertEquals(preset, CliRun.stderrOf(2, "create-model", "--preset", "nope", "--out", dir.resolve("m").toString()).strip());
        assertEquals(preset, CliRun.stderrOf(2, "describe", "--preset", "nope").strip());
        assertEquals(preset, CliRun.stderrOf(2, "bench", "sample", "--preset", "nope").strip());
        assertFalse(Files.exists(dir.resolve("m")));
    }

    /**
     * What a write cut short left beside --out (a kill during the temporary directory's fill) is named with its size, not
     * removed: another run may be writing there. Nothing is noted when there is none.
     */
    @Test
    void leftoversOfAWriteCutShortAreNoted() throws Exception {
        Path out = dir.resolve("m"), left = Files.createDirectory(dir.resolve("m.tmp-1a2b"));
        Files.write(left.resolve("unet.safetensors"), new byte[3 << 19]);
        Files.createDirectory(dir.resolve("other.tmp-3c"));   // another output's: not named
        CliRun r = create(out, "--preset", "toy");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("note: beside " + out + ": 1 leftover of writes cut short (a kill or crash), 1.5 MiB: m.tmp-1a2b; remove it unless"
                + " another run is writing there now"), r.err());
        assertTrue(Files.isDirectory(left), "noted, not removed");
        CliRun clean = create(dir.resolve("n"), "--preset", "toy");
        assertFalse(clean.err().contains("leftover"), clean.err());
        // --out a symbolic link: the write goes beside what it names, and so do its leftovers
        Path elsewhere = Files.createDirectory(dir.resolve("elsewhere")), link = Files.createSymbolicLink(dir.resolve("linked"), elsewhere.resolve("m2"));
        Files.createDirectory(elsewhere.resolve("m2.tmp-4d"));
        CliRun linked = create(link, "--preset", "toy");
        assertEquals(0, linked.code(), linked.err());
        assertTrue(linked.err().contains("note: beside " + link + ": 1 leftover of writes cut short (a kill or crash), 0.0 MiB: m2.tmp-4d;"), linked.err());
        assertTrue(Files.isSymbolicLink(link) && Files.isDirectory(elsewhere.resolve("m2")), "the model is written where the link points");
    }
}
