package dev.puppetengine.backend.cuda;

import jcuda.driver.CUresult;

/** Return-code checking: every driver call goes through {@link #check}, so no error is silently dropped. */
final class Cu {
    private Cu() {}

    static void check(int rc, String call) {
        if (rc != CUresult.CUDA_SUCCESS) {
            if (rc == CUresult.CUDA_ERROR_OUT_OF_MEMORY) throw new CudaOutOfMemoryError(call + " failed: CUDA_ERROR_OUT_OF_MEMORY");
            throw new CudaException(call + " failed: " + CUresult.stringFor(rc) + " (" + rc + ")");
        }
    }
}
