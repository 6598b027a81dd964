package dev.puppetengine.backend.cuda;

import dev.puppetengine.backend.cuda.GemmTuner.Tile;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The child-process tile validation without a GPU: a stand-in child reports, fails or crashes on cue. */
class GemmProbeTest {
    /**
     * The stand-in child: "passes" every tile except the one named by puppet.test.probeBad; halts on
     * puppet.test.probeCrash; hangs on puppet.test.probeHang (printing other lines on puppet.test.probeChatter); starts puppet.test.probeSlowStart seconds late; takes
     * puppet.test.probeTileMillis per tile.
     */
    public static final class FakeChild {
        public static void main(String[] args) throws InterruptedException {
            GemmProbe.exitWithParent();   // as the real child does (also: no stand-in outlives a test JVM killed by a timeout)
            Thread.sleep(1000L * Integer.getInteger("puppet.test.probeSlowStart", 0));   // a cold JVM and CUDA context
            for (String name : args) {
                System.out.println(GemmProbe.START + name);
                System.out.flush();
                if (name.equals(System.getProperty("puppet.test.probeCrash"))) Runtime.getRuntime().halt(134);   // as a CUDA fault would end it
                if (name.equals(System.getProperty("puppet.test.probeHang"))) Thread.sleep(Long.MAX_VALUE);      // a deadlocked pipeline
                if (name.equals(System.getProperty("puppet.test.probeChatter")))   // hung, but something keeps writing to stdout
                    while (true) { System.out.println("[simt] still waiting"); Thread.sleep(200); }
                Thread.sleep(Integer.getInteger("puppet.test.probeTileMillis", 0));   // a slow but working validation
                System.out.println((name.equals(System.getProperty("puppet.test.probeBad")) ? GemmProbe.BAD : GemmProbe.OK) + name);
            }
        }
    }

    @Test
    void parseFindsTheTileAChildDiedOn() {
        Set<Tile> asked = EnumSet.of(Tile.T128x128, Tile.T128x64, Tile.W128x256);
        GemmProbe.Outcome o = GemmProbe.parse(List.of("some log line", GemmProbe.START + "128x128", GemmProbe.OK + "128x128",
                GemmProbe.START + "128x64", GemmProbe.BAD + "128x64", GemmProbe.START + "wgmma-128x256"), asked);
        assertEquals(EnumSet.of(Tile.T128x128), o.ok());
        assertEquals(EnumSet.of(Tile.T128x64), o.bad());
        assertEquals(Tile.W128x256, o.crashed());
        assertNull(GemmProbe.parse(List.of(GemmProbe.START + "64x128"), asked).crashed(), "a tile it was not asked about is ignored");
        // a child that ended right after a verdict died on no tile
        assertNull(GemmProbe.parse(List.of(GemmProbe.START + "128x128", GemmProbe.OK + "128x128"), asked).crashed());
        assertNull(GemmProbe.parse(List.of(GemmProbe.START + "128x64", GemmProbe.BAD + "128x64"), asked).crashed());
    }

    @Test
    void aCrashCostsOnlyTheTileItHappenedOn() {
        Set<Tile> all = EnumSet.of(Tile.T128x128, Tile.T128x64, Tile.T64x128, Tile.W128x128, Tile.WS128x256);
        System.setProperty("puppet.test.probeCrash", "64x128");
        System.setProperty("puppet.test.probeBad", "wgmma-ws-128x256");
        try {
            // the first child dies on 64x128; a second one takes the tiles after it
            assertEquals(EnumSet.of(Tile.T128x128, Tile.T128x64, Tile.W128x128), GemmProbe.survivors(all, FakeChild.class.getName()));
        } finally {
            System.clearProperty("puppet.test.probeCrash");
            System.clearProperty("puppet.test.probeBad");
        }
        assertEquals(all, GemmProbe.survivors(all, FakeChild.class.getName()));
    }

    @Test
    void aHungTileIsStoppedAndDroppedButASlowStartIsNotAHang() {
        Set<Tile> all = EnumSet.of(Tile.T128x128, Tile.W128x128, Tile.WS128x256, Tile.TMA128x128);
        System.setProperty("puppet.cuda.gemm.probeTileSeconds", "2");
        try {
            System.setProperty("puppet.test.probeHang", "wgmma-ws-128x256");
            System.setProperty("puppet.test.probeSlowStart", "4");   // seconds: longer than a tile may be silent
            System.setProperty("puppet.test.probeBad", "wgmma-tma-128x128");   // which only a child that got to speak can say
            long t0 = System.nanoTime();
            assertEquals(EnumSet.of(Tile.T128x128, Tile.W128x128), GemmProbe.survivors(all, FakeChild.class.getName()));
            assertTrue(System.nanoTime() - t0 < 60_000_000_000L, "stopped after the tile's silence, not the whole child's limit");
        } finally {
            System.clearProperty("puppet.cuda.gemm.probeTileSeconds");
            System.clearProperty("puppet.test.probeHang");
            System.clearProperty("puppet.test.probeSlowStart");
            System.clearProperty("puppet.test.probeBad");
        }
    }

    /** The child's overall limit is for its start-up: a child that reports every tile in time is never stopped for its total. */
    @Test
    void aChildThatKeepsReportingIsNotStoppedPartWay() {
        Set<Tile> all = EnumSet.of(Tile.T128x128, Tile.T128x64, Tile.T64x128, Tile.W128x128, Tile.W128x256);
        System.setProperty("puppet.cuda.gemm.probeStartSeconds", "2");
        System.setProperty("puppet.test.probeTileMillis", "1000");   // 5 s in all, each tile well within its 30 s
        try {
            assertEquals(all, GemmProbe.survivors(all, FakeChild.class.getName()));
        } finally {
            System.clearProperty("puppet.cuda.gemm.probeStartSeconds");
            System.clearProperty("puppet.test.probeTileMillis");
        }
    }

    /** Only the child's own tile lines count as progress: other output on its stdout does not hide a hung tile. */
    @Test
    void otherOutputDoesNotHideAHungTile() {
        Set<Tile> all = EnumSet.of(Tile.T128x128, Tile.T128x64, Tile.T64x128);
        System.setProperty("puppet.cuda.gemm.probeTileSeconds", "2");
        System.setProperty("puppet.test.probeChatter", "128x64");
        try {
            assertEquals(EnumSet.of(Tile.T128x128, Tile.T64x128),
                    assertTimeoutPreemptively(Duration.ofSeconds(60), () -> GemmProbe.survivors(all, FakeChild.class.getName())));
        } finally {
            System.clearProperty("puppet.cuda.gemm.probeTileSeconds");
            System.clearProperty("puppet.test.probeChatter");
        }
    }

    /** A child silent from its start (a hung JVM or CUDA context start) is stopped after probeStartSeconds. */
    @Test
    void aChildHungInStartUpIsStoppedAndValidationStaysHere() {
        Set<Tile> all = EnumSet.of(Tile.T128x128, Tile.W128x256);
        System.setProperty("puppet.cuda.gemm.probeStartSeconds", "2");
        System.setProperty("puppet.test.probeSlowStart", "600");
        try {
            assertEquals(all, assertTimeoutPreemptively(Duration.ofSeconds(60), () -> GemmProbe.survivors(all, FakeChild.class.getName())));
        } finally {
            System.clearProperty("puppet.cuda.gemm.probeStartSeconds");
            System.clearProperty("puppet.test.probeSlowStart");
        }
    }

    /** The engine's stand-in: starts a child hung on its tile (its lines on this stdout), prints the child's pid, waits. */
    public static final class FakeEngine {
        public static void main(String[] args) throws Exception {
            Process child = new ProcessBuilder(GemmProbe.javaBinary(), "-cp", System.getProperty("java.class.path"),
                    "-Dpuppet.test.probeHang=128x128", FakeChild.class.getName(), "128x128").inheritIO().start();
            System.out.println("child " + child.pid());
            System.out.flush();
            Thread.sleep(Long.MAX_VALUE);
        }
    }

    /** An engine killed mid-probe (SIGKILL: its finally never runs) takes its child with it, hung tile or not. */
    @Test
    void aChildEndsWithAKilledEngine() throws Exception {
        Process engine = new ProcessBuilder(GemmProbe.javaBinary(), "-cp", System.getProperty("java.class.path"), FakeEngine.class.getName())
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        ProcessHandle child = null;
        try (BufferedReader out = new BufferedReader(new InputStreamReader(engine.getInputStream(), StandardCharsets.UTF_8))) {
            for (String l; (l = out.readLine()) != null && !l.startsWith(GemmProbe.START); )   // the child's first tile: it is running
                if (l.startsWith("child ")) child = ProcessHandle.of(Long.parseLong(l.substring(6))).orElseThrow();
            assertTrue(child != null && child.isAlive(), "the stand-in engine started no child");
            engine.destroyForcibly().waitFor();
            ProcessHandle c = child;
            assertTimeoutPreemptively(Duration.ofSeconds(30), () -> c.onExit().get(), "the child outlived its engine");
        } finally {
            engine.destroyForcibly();
            if (child != null) child.destroyForcibly();
        }
    }

    @Test
    void aChildThatCannotStartLeavesValidationToThisProcess() {
        Set<Tile> all = EnumSet.of(Tile.T128x128, Tile.W128x256);
        assertEquals(all, GemmProbe.survivors(all, "dev.puppetengine.NoSuchMainClass"));
    }
}
