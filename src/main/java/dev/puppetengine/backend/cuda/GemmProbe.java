package dev.puppetengine.backend.cuda;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Runs the tensor-core tiles' first validation in a child JVM before the engine's own: a kernel that faults on real
 * hardware (illegal instruction, misaligned address: a sticky error that ends the CUDA context, so every later
 * launch of the process fails too) or hangs takes the child down, not the engine, and only the tiles that passed
 * there are validated (again) and used here. The child validates one tile at a time, announcing each; after a crash,
 * or when a tile is silent for {@code puppet.cuda.gemm.probeTileSeconds} (default 30, counted from the child's
 * first tile line; only tile lines count, not other output; a pipeline deadlock), the tile it was on is dropped
 * and a new child takes the rest. Its start-up (JVM, CUDA context, modules) has
 * {@code puppet.cuda.gemm.probeStartSeconds} (default 120); a child that keeps reporting tiles is never stopped for
 * its total time. A fault caught as an exception is not enough to go on:
 * the child checks the context after each tile and exits if the error was sticky, so the next tile is not blamed for
 * it. Its log (why a tile failed) goes to this process's stderr. Costs a JVM start and a CUDA context (about two
 * seconds) once per process, at the first tensor-core product. {@code -Dpuppet.cuda.gemm.probe=false} skips it;
 * so does a process whose classpath a child cannot reuse.
 */
final class GemmProbe {
    private static final Logger LOG = LoggerFactory.getLogger(GemmProbe.class);
    static final String START = "probe-start ", OK = "probe-ok ", BAD = "probe-bad ";
    private static final String TILE_SECONDS = "puppet.cuda.gemm.probeTileSeconds", START_SECONDS = "puppet.cuda.gemm.probeStartSeconds";

    private GemmProbe() {}

    /** The child: validates each named tile on this machine's GPU and reports it on stdout. */
    public static void main(String[] args) throws Exception {
        exitWithParent();
        CudaGemm gemm = CudaBackend.get().gemm();
        // modules first, before any tile is announced: a GPU without their cubins JITs the PTX here (may take long),
        // which is start-up, not a hung tile
        for (String name : args) CudaBackend.get().loadModule(GemmTuner.Tile.of(name).module);
        for (String name : args) {
            GemmTuner.Tile t = GemmTuner.Tile.of(name);
            System.out.println(START + name);
            System.out.flush();
            boolean ok = gemm.validate(EnumSet.of(t)).contains(t);
            CudaBackend.get().synchronize();   // a sticky fault throws here: the child dies on this tile, not the next
            System.out.println((ok ? OK : BAD) + name);
            System.out.flush();
        }
    }

    /**
     * Ends this child when the engine that started it ends: an engine killed mid-probe (a timeout's SIGKILL, which runs
     * no finally) would otherwise leave it running, on a hung tile still holding the GPU. (Java polls a process that is
     * not its own child: within about 5 s.)
     */
    static void exitWithParent() {
        ProcessHandle.current().parent().ifPresent(engine -> engine.onExit().thenRun(() -> Runtime.getRuntime().halt(143)));
    }

    /** The tiles of {@code tiles} that passed validation in child processes; all of them when no child can run. */
    static Set<GemmTuner.Tile> survivors(Set<GemmTuner.Tile> tiles) {
        return survivors(tiles, GemmProbe.class.getName());
    }

    /** {@code mainClass}: the child's entry (tests put a stand-in there). */
    static Set<GemmTuner.Tile> survivors(Set<GemmTuner.Tile> tiles, String mainClass) {
        String cp = System.getProperty("java.class.path", "");
        if (cp.isEmpty()) {
            LOG.warn("GEMM tile probe skipped: no java.class.path for a child process; tiles are validated in this process only");
            return tiles;
        }
        Set<GemmTuner.Tile> passed = EnumSet.noneOf(GemmTuner.Tile.class), todo = EnumSet.copyOf(tiles);
        while (!todo.isEmpty()) {
            List<String> cmd = new ArrayList<>(List.of(javaBinary(), "-cp", cp));
            System.getProperties().stringPropertyNames().stream().filter(k -> k.startsWith("puppet.") && !k.equals("puppet.cuda.gemm.probe"))
                    .sorted().forEach(k -> cmd.add("-D" + k + "=" + System.getProperty(k)));
            cmd.add("-Dpuppet.cuda.gemm.probe=false");
            cmd.add(mainClass);
            for (GemmTuner.Tile t : todo) cmd.add(t.suffix());
            List<String> lines = new ArrayList<>();
            AtomicLong lastLine = new AtomicLong(0);   // the last tile line; 0: none yet (starting up)
            long silentLimit = TimeUnit.SECONDS.toNanos(Long.getLong(TILE_SECONDS, 30)), startLimit = TimeUnit.SECONDS.toNanos(Long.getLong(START_SECONDS, 120));
            long started = System.nanoTime();
            int exit;
            try {
                Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
                Thread reader = new Thread(() -> {
                    try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                        for (String l; (l = r.readLine()) != null; ) {
                            synchronized (lines) { lines.add(l); }
                            // progress is a tile line: other output (a library's, the emulator's) must not hide a hung tile
                            if (l.startsWith(START) || l.startsWith(OK) || l.startsWith(BAD)) lastLine.set(System.nanoTime());
                        }
                    } catch (IOException ignored) {   // the child died: what it said so far is in `lines`
                    }
                }, "gemm-probe-reader");
                reader.setDaemon(true);
                reader.start();
                try {
                    while (!p.waitFor(1, TimeUnit.SECONDS)) {
                        long now = System.nanoTime(), last = lastLine.get();
                        // no limit on the total once it speaks: stopped part-way, the working tile it was on would be blamed
                        if (last == 0 ? now - started > startLimit : now - last > silentLimit) {
                            LOG.error("GEMM tile probe child {} s: stopping it", last == 0 ? "said nothing (start-up hung?) in " + (now - started) / 1_000_000_000L
                                    : "silent (a hung tile?) for " + (now - last) / 1_000_000_000L);
                            break;
                        }
                    }
                } finally {
                    if (p.isAlive()) { p.destroyForcibly(); p.waitFor(); }
                }
                reader.join(5000);
                exit = p.exitValue();
            } catch (IOException e) {
                LOG.warn("GEMM tile probe could not start a child JVM ({}); tiles are validated in this process only", e.getMessage());
                return tiles;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return passed;
            }
            Outcome o;
            synchronized (lines) { o = parse(lines, todo); }
            if (!o.bad().isEmpty())
                LOG.error("tensor-core GEMM tile(s) {} failed validation in the probe child (its log above says why): never used in this process", o.bad());
            passed.addAll(o.ok());
            todo.removeAll(o.ok());
            todo.removeAll(o.bad());
            String said;
            synchronized (lines) { said = String.join(" | ", lines.subList(Math.max(0, lines.size() - 5), lines.size())); }
            if (o.crashed() != null) {
                LOG.error("tensor-core GEMM tile {} took down the validation child (exit {}; its last output: {}): never used in this process",
                        o.crashed().suffix(), exit, said);
                todo.remove(o.crashed());
            } else if (!todo.isEmpty() && o.ok().isEmpty() && o.bad().isEmpty()) {
                LOG.warn("GEMM tile probe child exited with {} before validating anything ({}); tiles are validated in this process only", exit, said);
                passed.addAll(todo);
                break;
            } else if (!todo.isEmpty()) {   // it died between two tiles: the rest go to a new child
                LOG.warn("GEMM tile probe child exited with {} between tiles; retrying {}", exit, todo);
            }
        }
        return passed;
    }

    /** What a child reported: the tiles that passed, that failed, and the one it was on when it died (or null). */
    record Outcome(Set<GemmTuner.Tile> ok, Set<GemmTuner.Tile> bad, GemmTuner.Tile crashed) {}

    static Outcome parse(List<String> lines, Set<GemmTuner.Tile> asked) {
        Set<GemmTuner.Tile> ok = EnumSet.noneOf(GemmTuner.Tile.class), bad = EnumSet.noneOf(GemmTuner.Tile.class);
        GemmTuner.Tile open = null;
        for (String l : lines) {
            GemmTuner.Tile t;
            if (l.startsWith(START) && (t = asked(l.substring(START.length()), asked)) != null) open = t;
            else if (l.startsWith(OK) && (t = asked(l.substring(OK.length()), asked)) != null) { ok.add(t); if (t == open) open = null; }
            else if (l.startsWith(BAD) && (t = asked(l.substring(BAD.length()), asked)) != null) { bad.add(t); if (t == open) open = null; }
        }
        return new Outcome(ok, bad, open);
    }

    private static GemmTuner.Tile asked(String name, Set<GemmTuner.Tile> asked) {
        GemmTuner.Tile t = GemmTuner.Tile.of(name.trim());
        return t != null && asked.contains(t) ? t : null;
    }

    static String javaBinary() {
        return ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    }
}
