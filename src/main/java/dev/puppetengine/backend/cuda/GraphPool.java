package dev.puppetengine.backend.cuda;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * The private memory pool of one CUDA graph. A graph bakes the address of every buffer it touches into its nodes,
 * so those blocks must belong to the graph for as long as it lives:
 *
 * <ul>
 *   <li>{@code CAPTURING}: allocations made by the capturing thread come from here. A block freed during the capture
 *       goes to this pool's own free list and may be handed out again <em>within the same capture</em> (a single-stream
 *       capture orders the later writer after the earlier readers, exactly as eager stream order does); otherwise
 *       a new block is taken from upstream (the caching allocator).</li>
 *   <li>{@code SEALED} (after the capture, while the graph lives): no allocations; a freed block stays reserved
 *       (every replay writes it again), never handed to anyone else.</li>
 *   <li>{@code RELEASED} (graph destroyed, or capture failed): every block not held by a live tensor goes back
 *       upstream now, the rest as their tensors close.</li>
 * </ul>
 *
 * A block allocated before the capture and freed by the capturing thread during it was read by captured nodes, so
 * it is {@linkplain #adopt adopted}: reserved for the graph, but never handed out again, not even within the capture
 * (its contents come from before the graph, which never rewrites them; a captured writer would change what the next
 * replay reads). A block of another graph's pool freed during the capture is {@linkplain #handOver handed over}:
 * then both pools hold it, and it goes upstream only when the last of them gives it back ({@code holders}, shared
 * by every pool of one allocator).
 *
 * Bookkeeping only, over an opaque block type, so it is unit-tested on the CPU with fake addresses. Not thread-safe:
 * the caller (CudaAllocator) holds its lock. Sizes are size classes.
 */
final class GraphPool<B> {
    /** Where blocks come from and go back to. */
    interface Upstream<B> {
        B allocate(long size);

        void free(B block, long size);
    }

    enum State { CAPTURING, SEALED, RELEASED }

    private final Upstream<B> upstream;
    private final Map<B, Integer> holders;                          // per block: how many pools own it (all pools of the upstream)
    private final Map<B, Long> owned = new IdentityHashMap<>();     // every block taken from upstream and not given back
    private final Map<B, Boolean> live = new IdentityHashMap<>();   // owned blocks a tensor holds now
    private final Map<Long, ArrayDeque<B>> free = new HashMap<>();  // reusable during the capture
    private State state = State.CAPTURING;
    private long ownedBytes, reused;

    /** {@code holders}: one identity map shared by every pool of {@code upstream}. */
    GraphPool(Upstream<B> upstream, Map<B, Integer> holders) {
        this.upstream = upstream;
        this.holders = holders;
    }

    State state() { return state; }

    B allocate(long size) {
        if (state != State.CAPTURING) throw new IllegalStateException("graph pool allocation while " + state + " (only during its capture)");
        ArrayDeque<B> q = free.get(size);
        B b = q == null ? null : q.poll();
        if (b != null) {
            reused++;
        } else {
            b = upstream.allocate(size);
            own(b, size);
        }
        live.put(b, Boolean.TRUE);
        return b;
    }

    void free(B block, long size) {
        Long have = owned.get(block);
        if (have == null || !live.containsKey(block))
            throw new IllegalStateException("block freed to a graph pool that does not hold it live");
        if (have != size) throw new IllegalStateException("block of " + have + " bytes freed as " + size);
        live.remove(block);
        switch (state) {
            case CAPTURING -> free.computeIfAbsent(size, s -> new ArrayDeque<>()).push(block);
            case SEALED -> { }                                      // stays reserved for the graph
            case RELEASED -> giveBack(block, size);
        }
    }

    /**
     * A block from upstream, allocated before the capture and freed during it: captured nodes read its address and
     * contents, so handing it back upstream would let a later eager tensor overwrite what every replay reads, and
     * reusing it in the capture would let a captured writer do the same from the second replay on. It is reserved
     * while the graph lives and given back on release.
     */
    void adopt(B block, long size) {
        if (state != State.CAPTURING) throw new IllegalStateException("graph pool adoption while " + state + " (only during its capture)");
        if (owned.containsKey(block)) throw new IllegalStateException("block adopted by a graph pool that already holds it");
        own(block, size);
    }

    private void own(B block, long size) {
        owned.put(block, size);
        ownedBytes += size;
        holders.merge(block, 1, Integer::sum);
    }

    /**
     * A live block of this (sealed or released) pool freed by the capture of another graph, whose nodes read it: the
     * capturing pool {@code to} {@linkplain #adopt adopts} it, and this one keeps it while its graph lives (every
     * replay of this graph writes it). Either graph may be destroyed first (or the capture fail): the block goes
     * upstream with the last pool that holds it, never while a graph that reads or writes it can still replay.
     */
    void handOver(B block, long size, GraphPool<B> to) {
        if (state == State.CAPTURING) throw new IllegalStateException("hand-over from a pool still capturing");
        if (to.holders != holders) throw new IllegalStateException("hand-over between pools of different allocators");
        Long have = owned.get(block);
        if (have == null || !live.containsKey(block)) throw new IllegalStateException("block handed over by a graph pool that does not hold it live");
        if (have != size) throw new IllegalStateException("block of " + have + " bytes handed over as " + size);
        to.adopt(block, size);
        free(block, size);   // sealed: stays reserved here; released: this pool lets go, the adopter still holds it
    }

    /** The capture ended: nothing more is allocated here; freed blocks stay reserved. */
    void seal() {
        if (state != State.CAPTURING) throw new IllegalStateException("seal while " + state);
        state = State.SEALED;
        free.clear();
    }

    /** The graph is gone (or never was): blocks no tensor holds go upstream now, the others when freed. Idempotent. */
    void release() {
        if (state == State.RELEASED) return;
        state = State.RELEASED;
        free.clear();
        for (B b : new ArrayList<>(owned.keySet()))
            if (!live.containsKey(b)) giveBack(b, owned.get(b));
    }

    private void giveBack(B block, long size) {
        owned.remove(block);
        ownedBytes -= size;
        if (holders.merge(block, -1, Integer::sum) == 0) {
            holders.remove(block);
            upstream.free(block, size);
        }
    }

    /** Bytes taken from upstream and not yet given back. */
    long ownedBytes() { return ownedBytes; }

    /** Blocks held by live tensors. */
    int liveBlocks() { return live.size(); }

    /** Allocations served from blocks freed earlier in the same capture. */
    long reused() { return reused; }
}
