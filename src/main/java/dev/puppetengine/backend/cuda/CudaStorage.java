package dev.puppetengine.backend.cuda;

import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Storage;
import jcuda.driver.CUdeviceptr;

import java.nio.ByteBuffer;

/** A device buffer from the caching allocator (or, made during a CUDA graph capture, from the graph's private pool); host reads/writes go through the backend's pinned staging. */
final class CudaStorage extends Storage {
    private final CudaBackend owner;
    private final CudaAllocator.Block block;
    final CUdeviceptr ptr;

    CudaStorage(CudaBackend owner, DType dtype, long numel) {
        super(owner, dtype, numel);
        this.owner = owner;
        this.block = owner.allocator().allocate(numel * dtype.bytes());
        this.ptr = block.ptr();
    }

    @Override
    protected void free() { owner.allocator().free(block, bytes()); }

    @Override
    protected void readBytes(long elemOffset, ByteBuffer dst) { owner.download(ptr, elemOffset * dtype().bytes(), dst); }

    @Override
    protected void writeBytes(long elemOffset, ByteBuffer src) { owner.upload(ptr, elemOffset * dtype().bytes(), src); }
}
