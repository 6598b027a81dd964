package dev.puppetengine.backend.cuda;

import jcuda.driver.CUdeviceptr;
import jcuda.driver.JCudaDriver;

import java.util.ArrayDeque;
import java.util.HashMap;
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
    private long inUse, peak, reserved, cached;
    private volatile boolean poison;

    CudaAllocator(CudaBackend backend) { this.backend = backend; }

    static long sizeClass(long bytes) {
        long b = Math.max(bytes, 1);
        long step = b < SMALL ? SMALL_STEP : LARGE_STEP;
        return (b + step - 1) / step * step;
    }

    synchronized CUdeviceptr allocate(long bytes) {
        long size = sizeClass(bytes);
        ArrayDeque<CUdeviceptr> q = free.get(size);
        CUdeviceptr p = q == null ? null : q.poll();
        if (p != null) {
            cached -= size;
        } else {
            p = new CUdeviceptr();
            int rc = JCudaDriver.cuMemAlloc(p, size);
            if (rc != 0) {
                releaseCached();
                rc = JCudaDriver.cuMemAlloc(p, size);
                if (rc != 0) throw outOfMemory(bytes, size, rc);
            }
            reserved += size;
        }
        inUse += size;
        peak = Math.max(peak, inUse);
        // All-ones bytes are NaN in f32, bf16 and f16: an output element no kernel wrote shows up in any check.
        if (poison) Cu.check(JCudaDriver.cuMemsetD8Async(p, (byte) 0xff, size, backend.computeStream()), "cuMemsetD8Async (poison)");
        return p;
    }

    synchronized void free(CUdeviceptr p, long bytes) {
        long size = sizeClass(bytes);
        free.computeIfAbsent(size, s -> new ArrayDeque<>()).push(p);
        inUse -= size;
        cached += size;
    }

    /** Returns every cached block to the driver (after the queued work that may still read them). */
    synchronized void releaseCached() {
        if (cached == 0) return;
        backend.synchronize();
        for (Map.Entry<Long, ArrayDeque<CUdeviceptr>> e : free.entrySet()) {
            for (CUdeviceptr p : e.getValue()) {
                Cu.check(JCudaDriver.cuMemFree(p), "cuMemFree");
                reserved -= e.getKey();
            }
        }
        free.clear();
        cached = 0;
    }

    private CudaOutOfMemoryError outOfMemory(long bytes, long size, int rc) {
        long[] fr = new long[1], tot = new long[1];
        JCudaDriver.cuMemGetInfo(fr, tot);
        return new CudaOutOfMemoryError(String.format(
                "CUDA out of memory: asked for %s (%s as a size class); tensors hold %s, peak %s; the device has %s free of %s "
                        + "(driver code %d). Try a smaller batch or resolution, fewer frames, bf16 instead of fp32, gradient "
                        + "checkpointing, or closing other processes on this GPU (nvidia-smi shows them).",
                mib(bytes), mib(size), mib(inUse), mib(peak), mib(fr[0]), mib(tot[0]), rc));
    }

    private static String mib(long b) { return String.format("%.1f MiB", b / 1048576.0); }

    /** Testing aid: fill every block handed out with NaN bytes (stream-ordered, before the op that gets it). */
    void setPoison(boolean on) { poison = on; }

    synchronized long inUse() { return inUse; }

    synchronized long peak() { return peak; }

    synchronized long reserved() { return reserved; }

    synchronized void resetPeak() { peak = inUse; }
}
