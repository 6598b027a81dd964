package dev.puppetengine.backend.cuda;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The CUDA graph pool's bookkeeping, on fake addresses (no GPU): reuse only within its capture, reserved while the graph lives. */
class GraphPoolTest {
    /** A fake upstream (the caching allocator): hands out fresh addresses, records what comes back. */
    static final class Fake implements GraphPool.Upstream<Long> {
        long next = 0x1000;
        final List<Long> given = new ArrayList<>(), returned = new ArrayList<>();
        final Map<Long, Integer> holders = new IdentityHashMap<>();   // shared by its pools, as CudaAllocator's

        GraphPool<Long> pool() { return new GraphPool<>(this, holders); }

        @Override public Long allocate(long size) {
            Long a = next;              // a new Long object per block: the pool tracks blocks by identity
            next += size;
            given.add(a);
            return a;
        }

        @Override public void free(Long block, long size) { returned.add(block); }
    }

    @Test
    void blocksFreedDuringTheCaptureAreReusedWithinIt() {
        Fake up = new Fake();
        GraphPool<Long> p = up.pool();
        Long a = p.allocate(512), b = p.allocate(1024);
        p.free(a, 512);
        Long c = p.allocate(512);               // same size class: the freed block, not a new one
        assertSame(a, c);
        Long d = p.allocate(2048);              // no free block of that class: upstream
        assertEquals(3, up.given.size());
        assertEquals(1, p.reused());
        assertEquals(512 + 1024 + 2048, p.ownedBytes());
        assertNotEquals(b, d);
        assertTrue(up.returned.isEmpty());
    }

    @Test
    void aBlockFromBeforeTheCaptureFreedDuringItStaysWithTheGraph() {
        Fake up = new Fake();
        Long before = up.allocate(1024);        // an eager tensor's block, read by the captured nodes
        GraphPool<Long> p = up.pool();
        p.adopt(before, 1024);
        assertNotEquals(before, p.allocate(1024), "never handed out again: a captured writer would change what the next replay reads");
        p.seal();
        assertTrue(up.returned.isEmpty(), "reserved while the graph lives: no eager tensor may overwrite it");
        assertEquals(2048, p.ownedBytes());
        p.release();
        assertEquals(List.of(before), up.returned, "the adopted block goes back; the one allocated in the capture is still live");
        assertThrows(IllegalStateException.class, () -> p.adopt(before, 1024), "only during the capture");
    }

    /** An earlier graph's output freed during a later capture belongs to the later graph from then on. */
    @Test
    void aBlockOfAnotherGraphFreedDuringACaptureMovesToIt() {
        Fake up = new Fake();
        GraphPool<Long> first = up.pool();
        Long out = first.allocate(1024);                        // the first graph's output, still held by a tensor
        first.seal();
        GraphPool<Long> second = up.pool();
        first.handOver(out, 1024, second);
        assertEquals(1024, first.ownedBytes(), "the first graph still writes it");
        assertEquals(1024, second.ownedBytes());
        first.release();
        assertTrue(up.returned.isEmpty(), "destroying the first graph does not free what the second reads");
        second.seal();
        second.release();
        assertEquals(List.of(out), up.returned, "it goes back with the second graph");
        // refusals leave the receiving pool as it was (each checked before it adopts anything)
        GraphPool<Long> third = up.pool(), receiver = up.pool();
        Long mine = third.allocate(512), reserved = third.allocate(512);
        assertThrows(IllegalStateException.class, () -> third.handOver(mine, 512, receiver), "not from a pool still capturing");
        third.free(reserved, 512);
        third.seal();
        assertThrows(IllegalStateException.class, () -> third.handOver(mine, 1024, receiver), "its size class");
        assertThrows(IllegalStateException.class, () -> third.handOver(reserved, 512, receiver), "freed: reserved, not live");
        assertThrows(IllegalStateException.class, () -> first.handOver(out, 1024, receiver), "no longer held");
        assertThrows(IllegalStateException.class, () -> third.handOver(mine, 512, new Fake().pool()), "another allocator's pool");
        assertEquals(0, receiver.ownedBytes());
        third.handOver(mine, 512, receiver);
        assertEquals(512, receiver.ownedBytes());
        assertThrows(IllegalStateException.class, () -> receiver.adopt(mine, 512), "adopted twice");
        assertEquals(512, receiver.ownedBytes());
    }

    /**
     * The other order: the later graph (or its failed capture) goes first. The earlier graph's replays still write
     * the block, so it must stay reserved until that graph is gone too.
     */
    @Test
    void aBlockHandedOverStaysReservedWhileTheGraphThatWritesItLives() {
        for (boolean captured : new boolean[]{true, false}) {
            Fake up = new Fake();
            GraphPool<Long> first = up.pool();
            Long out = first.allocate(1024);                    // every replay of the first graph writes it
            first.seal();
            GraphPool<Long> second = up.pool();
            first.handOver(out, 1024, second);
            if (captured) second.seal();
            second.release();                                   // second graph destroyed, or its capture failed
            assertTrue(up.returned.isEmpty(), "still written by the first graph's replays (second " + (captured ? "destroyed" : "never captured") + ")");
            first.release();
            assertEquals(List.of(out), up.returned, "it goes back with the last graph that uses it");
        }
    }

    @Test
    void sealedPoolKeepsFreedBlocksReservedAndRefusesAllocations() {
        Fake up = new Fake();
        GraphPool<Long> p = up.pool();
        Long a = p.allocate(512), out = p.allocate(512);
        p.free(a, 512);
        p.seal();
        assertThrows(IllegalStateException.class, () -> p.allocate(512));   // after the capture nothing comes from here
        assertTrue(up.returned.isEmpty(), "a block freed during the capture is still the graph's");
        p.free(out, 512);                       // the graph output's tensor closed while the graph lives
        assertTrue(up.returned.isEmpty(), "freed while sealed: still reserved (every replay writes it)");
        assertEquals(1024, p.ownedBytes());
    }

    @Test
    void releaseGivesBackFreeBlocksNowAndLiveOnesWhenTheyAreFreed() {
        Fake up = new Fake();
        GraphPool<Long> p = up.pool();
        Long a = p.allocate(512), out = p.allocate(4096);
        p.free(a, 512);
        p.seal();
        p.release();                            // graph destroyed; the output tensor still holds its block
        assertEquals(List.of(a), up.returned);
        assertEquals(1, p.liveBlocks());
        p.free(out, 4096);
        assertEquals(List.of(a, out), up.returned);
        assertEquals(0, p.ownedBytes());
        p.release();                            // idempotent
        assertEquals(2, up.returned.size());
        assertThrows(IllegalStateException.class, () -> p.allocate(512));
    }

    @Test
    void failedCaptureReleasesEverything() {
        Fake up = new Fake();
        GraphPool<Long> p = up.pool();
        Long a = p.allocate(512), b = p.allocate(512);
        p.free(a, 512);
        p.free(b, 512);
        p.release();                            // straight from CAPTURING
        Set<Long> back = new HashSet<>(up.returned);
        assertEquals(Set.of(a, b), back);
        assertEquals(0, p.ownedBytes());
    }

    @Test
    void misuseIsRefused() {
        Fake up = new Fake();
        GraphPool<Long> p = up.pool();
        Long a = p.allocate(512);
        assertThrows(IllegalStateException.class, () -> p.free(Long.valueOf(a), 512), "a block the pool does not hold (identity)");
        assertThrows(IllegalStateException.class, () -> p.free(a, 1024), "wrong size");
        p.free(a, 512);
        assertThrows(IllegalStateException.class, () -> p.free(a, 512), "double free");
        assertEquals(GraphPool.State.CAPTURING, p.state());
        p.seal();
        assertThrows(IllegalStateException.class, p::seal);
        assertEquals(GraphPool.State.SEALED, p.state());
        p.release();
        assertEquals(GraphPool.State.RELEASED, p.state());
    }
}
