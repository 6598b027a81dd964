package dev.puppetengine.backend.cuda;

import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUresult;
import jcuda.driver.CUstreamCaptureMode;
import jcuda.driver.JCudaDriver;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Caching device allocator. Blocks are rounded to size classes (512 B steps below 1 MiB, 2 MiB steps above) and
 * kept on per-class free lists when tensors close, so a training step's allocations are served from the cache
 * after the first step. Reuse is stream-ordered: every kernel runs on the one compute stream and transfers finish
 * before their host call returns, so a block freed while kernels that read it are still queued can be handed to
 * the next allocation, whose kernels the stream orders after them. On out-of-memory it empties the cache and
 * retries once before failing with a message that says what was asked, what is in use and what to try.
 */
final class CudaAllocator {
    private static final long SMALL = 1L << 20, SMALL_STEP = 512, LARGE_STEP = 2L << 20;

    private final CudaBackend backend;
    private final Map<Long, ArrayDeque<CUdeviceptr>> free = new HashMap<>();
    private long inUse, peak, cached;
    private volatile boolean poison;

    CudaAllocator(CudaBackend backend) { this.backend = backend; }

    static long sizeClass(long bytes) {
        long b = Math.max(bytes, 1);
        long step = b < SMALL ? SMALL_STEP : LARGE_STEP;
        return (b + step - 1) / step * step;
    }

    /** A device block and the graph pool it came from (null: the caching allocator itself). */
    record Block(CUdeviceptr ptr, GraphPool<CUdeviceptr> pool) {}

    private final GraphPool.Upstream<CUdeviceptr> upstream = new GraphPool.Upstream<>() {
        @Override public CUdeviceptr allocate(long size) { return allocateClass(size, size); }
        @Override public void free(CUdeviceptr block, long size) { freeClass(block, size); }
    };
    private final Map<CUdeviceptr, Integer> poolHolders = new IdentityHashMap<>();   // shared by every graph pool
    private GraphPool<CUdeviceptr> capture;   // the pool of the capture in progress, if any
    private Thread captureThread;             // the thread whose allocations go to it

    synchronized Block allocate(long bytes) {
        if (poison) backend.notForeignCapture("poison memset");   // from another thread it would land in that graph, not run now
        long size = sizeClass(bytes);
        GraphPool<CUdeviceptr> pool = capture != null && Thread.currentThread() == captureThread ? capture : null;
        CUdeviceptr p = pool != null ? pool.allocate(size) : allocateClass(bytes, size);
        // All-ones bytes are NaN in f32, bf16 and f16: an output element no kernel wrote shows up in any check.
        // (During a capture this memset becomes a graph node: stream-ordered before the op, as eagerly.)
        if (poison) Cu.check(JCudaDriver.cuMemsetD8Async(p, (byte) 0xff, size, backend.computeStream()), "cuMemsetD8Async (poison)");
        return new Block(p, pool);
    }

    /** A block of size class {@code size} from the free list, else from the driver. */
    private CUdeviceptr allocateClass(long bytes, long size) {
        ArrayDeque<CUdeviceptr> q = free.get(size);
        CUdeviceptr p = q == null ? null : q.poll();
        if (p != null) {
            cached -= size;
        } else {
            p = new CUdeviceptr();
            int rc = capture != null ? allocRelaxed(p, size) : JCudaDriver.cuMemAlloc(p, size);
            if (rc != 0) {
                // Only a real out-of-memory is one: an earlier kernel's fault (e.g. 700, illegal address) often
                // surfaces at the next allocation, and must say so rather than advise a smaller batch.
                notOutOfMemory(rc, size);
                // Emptying the cache synchronizes and frees: illegal inside a capture. The capture fails, the caller runs eagerly.
                if (capture != null) throw new CudaOutOfMemoryError(outOfMemory(bytes, size, rc).getMessage() + " (during CUDA graph capture)");
                releaseCached();
                rc = JCudaDriver.cuMemAlloc(p, size);
                notOutOfMemory(rc, size);
                if (rc != 0) throw outOfMemory(bytes, size, rc);
            }
        }
        inUse += size;
        peak = Math.max(peak, inUse);
        return p;
    }

    /** Throws the driver's own error for a failed cuMemAlloc other than CUDA_ERROR_OUT_OF_MEMORY. */
    private static void notOutOfMemory(int rc, long size) {
        if (rc != CUresult.CUDA_ERROR_OUT_OF_MEMORY) Cu.check(rc, "cuMemAlloc(" + size + " bytes)");
    }

    /**
     * cuMemAlloc while a capture (thread-local mode) is in progress: it is a "potentially unsafe" call there, so this
     * thread switches to relaxed mode around it and back. Safe for us: the block is reserved for the graph by its pool
     * and never freed while the graph lives (the same reasoning as PyTorch's cudaMallocMaybeCapturing).
     */
    private static int allocRelaxed(CUdeviceptr p, long size) {
        int[] mode = {CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_RELAXED};
        Cu.check(JCudaDriver.cuThreadExchangeStreamCaptureMode(mode), "cuThreadExchangeStreamCaptureMode(relaxed)");
        try {
            return JCudaDriver.cuMemAlloc(p, size);
        } finally {
            Cu.check(JCudaDriver.cuThreadExchangeStreamCaptureMode(mode), "cuThreadExchangeStreamCaptureMode(restore)");
        }
    }

    synchronized void free(Block b, long bytes) {
        long size = sizeClass(bytes);
        if (capture != null && Thread.currentThread() == captureThread && b.pool() != capture) {
            // captured nodes read it: the new graph keeps it, whether it was eager or an earlier graph's output
            // (then the earlier graph, which writes it, keeps it too)
            if (b.pool() != null) b.pool().handOver(b.ptr(), size, capture);
            else capture.adopt(b.ptr(), size);
        } else if (b.pool() != null) {
            b.pool().free(b.ptr(), size);
        } else {
            freeClass(b.ptr(), size);
        }
    }

    private void freeClass(CUdeviceptr p, long size) {
        free.computeIfAbsent(size, s -> new ArrayDeque<>()).push(p);
        inUse -= size;
        cached += size;
    }

    /** From now until {@link #endCapture}, the calling thread's allocations come from a new private pool. */
    synchronized GraphPool<CUdeviceptr> beginCapture() {
        if (capture != null) throw new IllegalStateException("a CUDA graph capture is already in progress (on " + captureThread.getName() + ")");
        capture = new GraphPool<>(upstream, poolHolders);
        captureThread = Thread.currentThread();
        return capture;
    }

    /** Ends routing to the pool: sealed for the graph when the capture succeeded, else released. */
    synchronized void endCapture(GraphPool<CUdeviceptr> pool, boolean succeeded) {
        if (capture == pool) {
            capture = null;
            captureThread = null;
        }
        if (succeeded) pool.seal();
        else pool.release();
    }

    /** The graph is destroyed: its pool's blocks go back to the cache (those still held by tensors when they close). */
    synchronized void releasePool(GraphPool<CUdeviceptr> pool) { pool.release(); }

    /** Returns every cached block to the driver (after the queued work that may still read them). */
    synchronized void releaseCached() {
        if (cached == 0) return;
        if (capture != null) throw new IllegalStateException("emptying the CUDA allocator cache during a graph capture");
        backend.synchronize();
        for (ArrayDeque<CUdeviceptr> blocks : free.values())
            for (CUdeviceptr p : blocks) Cu.check(JCudaDriver.cuMemFree(p), "cuMemFree");
        free.clear();
        cached = 0;
    }

    private CudaOutOfMemoryError outOfMemory(long bytes, long size, int rc) {
        long[] fr = new long[1], tot = new long[1];
        JCudaDriver.cuMemGetInfo(fr, tot);
        return new CudaOutOfMemoryError(String.format(Locale.ROOT,
                "CUDA out of memory: asked for %s (%s as a size class); tensors hold %s, peak %s; the device has %s free of %s "
                        + "(driver code %d). Try a smaller batch or resolution, fewer frames, bf16 instead of fp32, gradient "
                        + "checkpointing, or closing other processes on this GPU (nvidia-smi shows them).",
                mib(bytes), mib(size), mib(inUse), mib(peak), mib(fr[0]), mib(tot[0]), rc));
    }

    private static String mib(long b) { return String.format(Locale.ROOT, "%.1f MiB", b / 1048576.0); }

    /** Testing aid: fill every block handed out with NaN bytes (stream-ordered, before the op that gets it). */
    void setPoison(boolean on) { poison = on; }

    synchronized long inUse() { return inUse; }

    synchronized long peak() { return peak; }

    synchronized void resetPeak() { peak = inUse; }
}
