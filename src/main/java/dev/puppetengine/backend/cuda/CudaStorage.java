package dev.puppetengine.backend.cuda;

import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.Storage;
import jcuda.driver.CUdeviceptr;

import java.nio.ByteBuffer;

/** A device buffer from the caching allocator; host reads/writes go through the backend's pinned staging. */
final class CudaStorage extends Storage {
    private final CudaBackend owner;
    final CUdeviceptr ptr;

    CudaStorage(CudaBackend owner, DType dtype, long numel) {
        super(owner, dtype, numel);
        this.owner = owner;
        this.ptr = owner.allocator().allocate(numel * dtype.bytes());
    }

    @Override
    protected void free() { owner.allocator().free(ptr, bytes()); }

    @Override
    public void read(long elemOffset, ByteBuffer dst) { owner.download(ptr, elemOffset * dtype().bytes(), dst); }

    @Override
    public void write(long elemOffset, ByteBuffer src) { owner.upload(ptr, elemOffset * dtype().bytes(), src); }
}
