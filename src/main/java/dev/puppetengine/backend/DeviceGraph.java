package dev.puppetengine.backend;

import dev.puppetengine.tensor.Tensor;

/**
 * Device work captured once ({@link Backend#captureGraph}) and replayed: on CUDA one cuGraphLaunch on the compute
 * stream instead of hundreds of kernel launches. The captured work reads its inputs from fixed device buffers (update
 * them before each {@link #replay}) and writes {@link #output} (a fixed buffer, overwritten by every replay).
 */
public interface DeviceGraph extends AutoCloseable {
    /** Queues one run of the captured work (asynchronously, ordered after the work queued before). */
    void replay();

    /** The captured body's result: valid after a replay, overwritten by the next one. */
    Tensor output();

    /** Destroys the graph and releases its memory pool (tensors still holding pool memory give it back when closed). */
    @Override
    void close();
}
