package dev.puppetengine.backend.cuda;

import jcuda.driver.CUdeviceptr;

/**
 * What JCuda keeps protected on a device pointer: its address (for tables kernels read, such as multi-tensor Adam's)
 * and the byte offset it carries past its cuMemAlloc base (256-byte aligned, so the offset decides the 16-byte
 * alignment the tensor-core GEMM needs). Read through a subclass, the one place that knows JCuda's internals.
 */
final class DevicePointers extends CUdeviceptr {
    private DevicePointers(CUdeviceptr p) { super(p); }

    static long address(CUdeviceptr p) {
        DevicePointers d = new DevicePointers(p);
        return d.getNativePointer() + d.getByteOffset();
    }

    static long byteOffset(CUdeviceptr p) {
        return new DevicePointers(p).getByteOffset();
    }
}
