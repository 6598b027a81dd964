package dev.puppetengine.backend.cuda;

import dev.puppetengine.backend.DeviceGraph;
import dev.puppetengine.tensor.Tensor;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.JCudaDriver;

/** An instantiated capture ({@link CudaBackend#captureGraph}): replayed with cuGraphLaunch, its memory in a private pool. */
final class CudaGraph implements DeviceGraph {
    private final CudaBackend backend;
    private final CUgraph graph;
    private final CUgraphExec exec;
    private final GraphPool<CUdeviceptr> pool;
    private final Tensor output;
    private boolean closed;

    CudaGraph(CudaBackend backend, CUgraph graph, CUgraphExec exec, GraphPool<CUdeviceptr> pool, Tensor output) {
        this.backend = backend;
        this.graph = graph;
        this.exec = exec;
        this.pool = pool;
        this.output = output;
    }

    @Override
    public void replay() {
        if (closed) throw new IllegalStateException("replay of a closed CUDA graph");
        backend.launchGraph(exec);
    }

    @Override
    public Tensor output() { return output; }

    /**
     * Destroys the executable graph (a launch still in flight completes first: the driver frees it afterwards) and the
     * graph, then releases the pool. Its blocks return to the caching allocator, whose stream-ordered reuse puts any
     * new user after the queued replays.
     */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        try {
            backend.bind();   // the closing thread may not have the context current
            Cu.check(JCudaDriver.cuGraphExecDestroy(exec), "cuGraphExecDestroy");
            Cu.check(JCudaDriver.cuGraphDestroy(graph), "cuGraphDestroy");
        } finally {
            backend.allocator().releasePool(pool);
        }
    }
}
