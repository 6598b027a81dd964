package dev.puppetengine.backend.cuda;

import dev.puppetengine.backend.AdamParams;
import dev.puppetengine.backend.AttentionDims;
import dev.puppetengine.backend.AttentionResult;
import dev.puppetengine.backend.Backend;
import dev.puppetengine.backend.BinaryOp;
import dev.puppetengine.backend.ConvGeometry;
import dev.puppetengine.backend.ConvSpec;
import dev.puppetengine.backend.DeviceGraph;
import dev.puppetengine.backend.NormResult;
import dev.puppetengine.backend.OpChecks;
import dev.puppetengine.backend.RandomKind;
import dev.puppetengine.backend.UnaryOp;
import dev.puppetengine.tensor.DType;
import dev.puppetengine.tensor.HostTransfers;
import dev.puppetengine.tensor.Scope;
import dev.puppetengine.tensor.Shape;
import dev.puppetengine.tensor.Storage;
import dev.puppetengine.tensor.Tensor;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUfunction;
import jcuda.driver.CUfunction_attribute;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.CUstreamCaptureMode;
import jcuda.driver.JCudaDriver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The GPU backend on JCuda's driver API (the only code that imports JCuda): the device's primary context, a
 * compute stream that runs every kernel and a copy stream for transfers, the caching allocator, pinned staging
 * for host transfers, fatbins loaded once from {@code /kernels/<name>.fatbin} with function handles cached by
 * name, and the GEMM interface ({@link CudaGemm}). Kernels compute in fp32 on f32/bf16/f16 storage; F64 tensors
 * can be stored and copied but not computed on. Inputs may be strided views: elementwise kernels take strides,
 * the others get a contiguous copy first. Every failed call throws {@link CudaException} naming the call or
 * kernel; with {@code -Dpuppet.cuda.sync=true} each launch is followed by a synchronize so an asynchronous
 * fault is pinned on the kernel that caused it.
 */
public final class CudaBackend implements Backend {
    private static final Logger LOG = LoggerFactory.getLogger(CudaBackend.class);
    /** cubins and PTX come from CUDA 13's nvcc: drivers of the R580 branch (CUDA 13.0) or newer. */
    static final int MIN_DRIVER = 13000;
    private static final int THREADS = 256;
    private static final long STAGING_BYTES = 16L << 20;
    private static final boolean SYNC_EACH = Boolean.getBoolean("puppet.cuda.sync");
    private static final CUdeviceptr NULL = new CUdeviceptr();

    private static CudaBackend instance;
    private static CudaUnavailableException failure;   // the first probe's answer, kept: JCuda cannot retry a failed load

    private final CUdevice device = new CUdevice();
    private final CUcontext context = new CUcontext();
    private final CUstream compute = new CUstream(), copy = new CUstream();
    private final CUevent computeDone = new CUevent();
    private final String deviceName;
    private final int multiprocessors;
    private final int smMajor, smMinor;
    private final int driverVersion;
    private final CudaAllocator allocator = new CudaAllocator(this);
    private final Map<String, CUmodule> modules = new HashMap<>();
    private final Map<String, CUfunction> functions = new HashMap<>();
    private final ThreadLocal<Boolean> contextBound = ThreadLocal.withInitial(() -> false);
    private Pointer staging;
    private ByteBuffer stagingBuf;
    private CudaGemm gemm;
    private volatile Thread capturing;   // the thread capturing a CUDA graph on the compute stream, if any

    /** The process-wide CUDA backend on device 0, created on first use. */
    public static synchronized CudaBackend get() throws CudaUnavailableException {
        if (instance != null) return instance;
        if (failure != null) throw failure;
        try {
            instance = new CudaBackend();
            return instance;
        } catch (CudaUnavailableException e) {
            failure = e;
            throw e;
        } catch (CudaException e) {   // a driver call failing after cuInit (an exclusive-process GPU in use, no memory): unusable here
            failure = new CudaUnavailableException(CudaUnavailableException.Reason.INIT_FAILED, "CUDA initialisation failed: " + e.getMessage(), e);
            throw failure;
        }
    }

    /** What to do about the driver binding not loading, in one line. */
    static String linkFailure(LinkageError e) {
        if (Cu.messages(e).contains("libcuda.so.1"))
            return "libcuda.so.1 (the NVIDIA driver library) is not installed or not on the loader path: install NVIDIA driver 580 or "
                    + "newer (in a container, start it with GPU access, e.g. docker run --gpus all)";
        return "JCuda's native driver binding did not load: " + Cu.linkFailure(e);
    }

    private CudaBackend() throws CudaUnavailableException {
        try {
            JCudaDriver.setExceptionsEnabled(false);
            int rc = JCudaDriver.cuInit(0);
            if (rc == CUresult.CUDA_ERROR_NO_DEVICE)
                throw new CudaUnavailableException(CudaUnavailableException.Reason.NO_DEVICE, "no CUDA device: the NVIDIA driver is installed but sees no GPU (cuInit: CUDA_ERROR_NO_DEVICE)", null);
            if (rc == 803 /* CUDA_ERROR_SYSTEM_DRIVER_MISMATCH */)
                throw new CudaUnavailableException(CudaUnavailableException.Reason.DRIVER_TOO_OLD, "libcuda and the loaded NVIDIA kernel module differ in version (cuInit: CUDA_ERROR_SYSTEM_DRIVER_MISMATCH); reboot or reinstall driver 580 or newer", null);
            if (rc != 0)
                throw new CudaUnavailableException(CudaUnavailableException.Reason.INIT_FAILED, "cuInit failed: " + CUresult.stringFor(rc), null);
        } catch (LinkageError e) {   // UnsatisfiedLinkError first, NoClassDefFoundError on later tries
            throw new CudaUnavailableException(CudaUnavailableException.Reason.LIBCUDA_MISSING, linkFailure(e), e);
        }
        int[] count = new int[1], ver = new int[1];
        Cu.check(JCudaDriver.cuDeviceGetCount(count), "cuDeviceGetCount");
        if (count[0] == 0) throw new CudaUnavailableException(CudaUnavailableException.Reason.NO_DEVICE, "no CUDA device (cuDeviceGetCount = 0)", null);
        Cu.check(JCudaDriver.cuDriverGetVersion(ver), "cuDriverGetVersion");
        driverVersion = ver[0];
        if (ver[0] < MIN_DRIVER)
            throw new CudaUnavailableException(CudaUnavailableException.Reason.DRIVER_TOO_OLD, String.format(Locale.ROOT,
                    "the NVIDIA driver supports CUDA %d.%d, but the kernels were built with CUDA 13: install driver 580 or newer",
                    ver[0] / 1000, ver[0] % 1000 / 10), null);
        Cu.check(JCudaDriver.cuDeviceGet(device, 0), "cuDeviceGet");
        int[] a = new int[1];
        Cu.check(JCudaDriver.cuDeviceGetAttribute(a, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device), "cuDeviceGetAttribute");
        smMajor = a[0];
        Cu.check(JCudaDriver.cuDeviceGetAttribute(a, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device), "cuDeviceGetAttribute");
        smMinor = a[0];
        Cu.check(JCudaDriver.cuDeviceGetAttribute(a, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, device), "cuDeviceGetAttribute");
        multiprocessors = a[0];
        byte[] nm = new byte[256];
        Cu.check(JCudaDriver.cuDeviceGetName(nm, nm.length, device), "cuDeviceGetName");
        deviceName = new String(nm).trim().replace("\0", "");
        if (smMajor < 8)
            throw new CudaUnavailableException(CudaUnavailableException.Reason.GPU_TOO_OLD, deviceName + " is sm_" + smMajor + smMinor
                    + "; the kernels need sm_80 (Ampere) or newer", null);
        Cu.check(JCudaDriver.cuDevicePrimaryCtxRetain(context, device), "cuDevicePrimaryCtxRetain");
        int made = 0;   // handles created so far: JCuda stores whatever the driver left in a failed create's handle
        try {
            bind();
            Cu.check(JCudaDriver.cuStreamCreate(compute, 1 /* CU_STREAM_NON_BLOCKING */), "cuStreamCreate");
            made = 1;
            Cu.check(JCudaDriver.cuStreamCreate(copy, 1), "cuStreamCreate");
            made = 2;
            Cu.check(JCudaDriver.cuEventCreate(computeDone, 2 /* CU_EVENT_DISABLE_TIMING */), "cuEventCreate");
            made = 3;
            try {
                module("copy");   // fails early, with the reason, when the fatbins are missing or too new for the driver
            } catch (CudaException e) {
                String msg = e.getMessage();   // any other load failure (a corrupt image, out of memory) is not the driver's age
                CudaUnavailableException.Reason r = msg.contains(NOT_BUILT) ? CudaUnavailableException.Reason.KERNELS_MISSING
                        : msg.contains(TOO_OLD) ? CudaUnavailableException.Reason.DRIVER_TOO_OLD : CudaUnavailableException.Reason.INIT_FAILED;
                throw new CudaUnavailableException(r, e.getMessage(), e);
            }
            gemm = new CudaGemm(this);
        } catch (RuntimeException | CudaUnavailableException e) {
            // give back what this start took, so a failed start leaves nothing behind
            if (made >= 3) JCudaDriver.cuEventDestroy(computeDone);
            if (made >= 2) JCudaDriver.cuStreamDestroy(copy);
            if (made >= 1) JCudaDriver.cuStreamDestroy(compute);
            JCudaDriver.cuDevicePrimaryCtxRelease(device);
            throw e;
        }
        LOG.info("CUDA backend on {} (sm_{}{}), driver CUDA {}.{}", deviceName, smMajor, smMinor, ver[0] / 1000, ver[0] % 1000 / 10);
    }

    @Override
    public String name() { return "cuda"; }

    public String deviceName() { return deviceName; }

    /** The device's name and compute capability, e.g. "NVIDIA H100 80GB HBM3 sm_90": what tuned choices are valid for. */
    String deviceKey() { return deviceName + " sm_" + smMajor + smMinor; }

    int multiprocessors() { return multiprocessors; }

    /** The CUDA version the driver supports, as cuDriverGetVersion says it (13000 for 13.0). */
    int driverVersion() { return driverVersion; }

    /** Compute capability as 10 * major + minor (90 for H100 / H200). */
    int computeCapability() { return smMajor * 10 + smMinor; }

    /** Whether a CUDA graph is being captured on the compute stream (nothing can be timed or synchronized then). */
    boolean capturing() { return capturing != null; }

    /** Device time of the work {@code launches} queues on the compute stream, in milliseconds (synchronizes). */
    @Override
    public double timeMillis(Runnable launches) {
        bind();
        CUevent start = new CUevent(), stop = new CUevent();
        Cu.check(JCudaDriver.cuEventCreate(start, 0), "cuEventCreate");
        Cu.check(JCudaDriver.cuEventCreate(stop, 0), "cuEventCreate");
        try {
            Cu.check(JCudaDriver.cuEventRecord(start, compute), "cuEventRecord");
            launches.run();
            Cu.check(JCudaDriver.cuEventRecord(stop, compute), "cuEventRecord");
            Cu.check(JCudaDriver.cuEventSynchronize(stop), "cuEventSynchronize");
            float[] ms = new float[1];
            Cu.check(JCudaDriver.cuEventElapsedTime(ms, start, stop), "cuEventElapsedTime");
            return ms[0];
        } finally {
            JCudaDriver.cuEventDestroy(start);
            JCudaDriver.cuEventDestroy(stop);
        }
    }

    public boolean usesCublas() { return gemm.usesCublas(); }

    CudaGemm gemm() { return gemm; }

    /** Which GEMM paths served products since the last call (e.g. "wgmma-128x256", "cublas"), first use first. */
    public List<String> gemmPathsUsed() { return gemm.drainPaths(); }

    CudaAllocator allocator() { return allocator; }

    CUstream computeStream() { return compute; }

    /** The driver API's current context is per thread: make ours current on whichever thread calls in. */
    void bind() {
        if (!contextBound.get()) {
            Cu.check(JCudaDriver.cuCtxSetCurrent(context), "cuCtxSetCurrent");
            contextBound.set(true);
        }
    }

    // ---- modules and launches -------------------------------------------------------------------------

    private static final String NOT_BUILT = "is missing from the classpath", TOO_OLD = "the driver is too old for this fatbin";

    /**
     * A short digest of the named fatbins as built into this jar: tuned choices are only trusted for the kernels they
     * were validated and timed with (a rebuilt kernel is validated again). "absent" for a module not built.
     */
    static String kernelsDigest(String... names) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            for (String name : names) {
                try (InputStream in = CudaBackend.class.getResourceAsStream("/kernels/" + name + ".fatbin")) {
                    sha.update((name + (in == null ? ":absent;" : ":")).getBytes(StandardCharsets.UTF_8));
                    if (in != null) sha.update(in.readAllBytes());
                }
            }
            return HexFormat.of().formatHex(sha.digest(), 0, 6);
        } catch (IOException | NoSuchAlgorithmException e) {
            throw new CudaException("reading the GEMM fatbins: " + e.getMessage(), e);
        }
    }

    /** Loads kernels/{@code name}.fatbin now (else at its first launch). */
    void loadModule(String name) { module(name); }

    private synchronized CUmodule module(String name) {
        CUmodule m = modules.get(name);
        if (m != null) return m;
        String res = "/kernels/" + name + ".fatbin";
        byte[] bytes;
        try (InputStream in = CudaBackend.class.getResourceAsStream(res)) {
            if (in == null) throw new CudaException(res + " " + NOT_BUILT + ": the build had no nvcc (kernels/build.sh), "
                    + "rebuild with CUDA 13 installed (mvn -Dcuda.require=true package)");
            bytes = in.readAllBytes();
        } catch (IOException e) {
            throw new CudaException("reading " + res + ": " + e.getMessage(), e);
        }
        m = new CUmodule();
        int rc = JCudaDriver.cuModuleLoadData(m, bytes);
        if (rc == CUresult.CUDA_ERROR_NO_BINARY_FOR_GPU || rc == CUresult.CUDA_ERROR_UNSUPPORTED_PTX_VERSION)
            throw new CudaException("cuModuleLoadData(" + res + "): " + CUresult.stringFor(rc) + ": " + TOO_OLD
                    + " (built with CUDA 13 for sm_80/86/89/90a + compute_80 PTX) or the GPU (sm_" + smMajor + smMinor
                    + ") is not covered; install driver 580 or newer");
        Cu.check(rc, "cuModuleLoadData(" + res + ")");
        modules.put(name, m);
        return m;
    }

    private synchronized CUfunction function(String mod, String fn) {
        String key = mod + "/" + fn;
        CUfunction f = functions.get(key);
        if (f == null) {
            f = new CUfunction();
            Cu.check(JCudaDriver.cuModuleGetFunction(f, module(mod), fn), "cuModuleGetFunction(" + key + ")");
            functions.put(key, f);
        }
        return f;
    }

    /**
     * Launches kernel {@code mod/fn}. Arguments: CUdeviceptr (null for a null pointer), Integer, Long, Float, Double,
     * long[] / int[] (a struct passed by value, e.g. a {@code Layout}).
     */
    void launch(String mod, String fn, long gx, int gy, int gz, int bx, int by, int smem, Object... args) {
        // the hardware's grid limits, said before the driver's bare INVALID_VALUE; negative: a size computation wrapped
        if (gx < 0 || gy < 0 || gz < 0 || gx > Integer.MAX_VALUE || gy > 65535 || gz > 65535)
            throw new IllegalArgumentException(fn + ": grid of " + gx + " x " + gy + " x " + gz + " blocks (limits 2^31-1 x 65535 x 65535)");
        if (gx == 0 || gy == 0 || gz == 0) return;
        bind();
        notForeignCapture("kernel " + mod + "/" + fn);
        Pointer[] ps = new Pointer[args.length];
        for (int i = 0; i < args.length; i++) {
            Object a = args[i];
            if (a == null) ps[i] = Pointer.to(NULL);
            else if (a instanceof CUdeviceptr) ps[i] = Pointer.to((CUdeviceptr) a);
            else if (a instanceof Integer) ps[i] = Pointer.to(new int[]{(Integer) a});
            else if (a instanceof Long) ps[i] = Pointer.to(new long[]{(Long) a});
            else if (a instanceof Float) ps[i] = Pointer.to(new float[]{(Float) a});
            else if (a instanceof Double) ps[i] = Pointer.to(new double[]{(Double) a});
            else if (a instanceof long[]) ps[i] = Pointer.to((long[]) a);
            else if (a instanceof int[]) ps[i] = Pointer.to((int[]) a);
            else throw new IllegalArgumentException("kernel argument " + i + " of " + fn + ": " + a.getClass());
        }
        CUfunction f = function(mod, fn);
        if (smem > 48 * 1024) allowSharedMemory(f, mod + "/" + fn, smem);
        Cu.check(JCudaDriver.cuLaunchKernel(f, (int) gx, gy, gz, bx, by, 1, smem, compute, Pointer.to(ps), null),
                "launch of kernel " + mod + "/" + fn);
        checkAfterLaunch("kernel " + mod + "/" + fn);
    }

    /** Dynamic shared memory granted per kernel beyond the default 48 KB (cuFuncSetAttribute, once per kernel and size). */
    private final Map<String, Integer> sharedGranted = new HashMap<>();

    private synchronized void allowSharedMemory(CUfunction f, String key, int bytes) {
        if (sharedGranted.getOrDefault(key, 0) >= bytes) return;
        Cu.check(JCudaDriver.cuFuncSetAttribute(f, CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes),
                "cuFuncSetAttribute(" + key + ", " + bytes + " bytes of dynamic shared memory)");
        sharedGranted.put(key, bytes);
    }

    void checkAfterLaunch(String what) {
        // A capturing stream cannot be synchronized: -Dpuppet.cuda.sync=true is suspended inside a capture.
        if (SYNC_EACH && capturing == null) Cu.check(JCudaDriver.cuStreamSynchronize(compute), what + " (synchronize after launch)");
    }

    /** A grid-stride launch over n elements. */
    void launch1d(String mod, String fn, long n, Object... args) {
        if (n <= 0) return;
        launch(mod, fn, Math.min((n + THREADS - 1) / THREADS, 1L << 20), 1, 1, THREADS, 1, 0, args);
    }

    // ---- memory and transfers -------------------------------------------------------------------------

    @Override
    public Storage allocate(DType dtype, long numel) {
        bind();
        return new CudaStorage(this, dtype, numel);
    }

    @Override
    public long bytesInUse() { return allocator.inUse(); }

    @Override
    public long peakBytes() { return allocator.peak(); }

    @Override
    public void resetPeak() { allocator.resetPeak(); }

    /** Testing aid (the op harness): every new allocation is NaN-filled first, so unwritten outputs fail checks. */
    public void setPoisonAllocations(boolean on) { allocator.setPoison(on); }

    /** Returns the allocator's cached blocks to the driver. */
    public void emptyCache() { allocator.releaseCached(); }

    @Override
    public void synchronize() {
        bind();
        noCapture("synchronize");
        Cu.check(JCudaDriver.cuStreamSynchronize(compute), "cuStreamSynchronize(compute)");
    }

    @Override
    public void close() {
        synchronize();
        allocator.releaseCached();
    }

    private ByteBuffer staging() {
        if (staging == null) {
            staging = new Pointer();
            Cu.check(JCudaDriver.cuMemAllocHost(staging, STAGING_BYTES), "cuMemAllocHost(" + STAGING_BYTES + ")");
            stagingBuf = staging.getByteBuffer(0, STAGING_BYTES);
        }
        return stagingBuf;
    }

    /** Host -> device through pinned staging on the copy stream; returns when the bytes are on the device. */
    synchronized void upload(CUdeviceptr base, long byteOffset, ByteBuffer src) {
        bind();
        noCapture("host-to-device upload");
        ByteBuffer st = staging();
        ByteBuffer s = src.duplicate();
        long at = byteOffset;
        // Kernels queued earlier may still read the destination: the copy waits for them.
        Cu.check(JCudaDriver.cuEventRecord(computeDone, compute), "cuEventRecord");
        Cu.check(JCudaDriver.cuStreamWaitEvent(copy, computeDone, 0), "cuStreamWaitEvent");
        while (s.hasRemaining()) {
            int n = (int) Math.min(s.remaining(), STAGING_BYTES);
            st.clear();
            ByteBuffer part = s.slice();
            part.limit(n);
            st.put(part);
            s.position(s.position() + n);
            Cu.check(JCudaDriver.cuMemcpyHtoDAsync(base.withByteOffset(at), staging, n, copy), "cuMemcpyHtoDAsync(" + n + " bytes)");
            Cu.check(JCudaDriver.cuStreamSynchronize(copy), "cuStreamSynchronize(copy) after upload");
            at += n;
        }
        src.position(src.limit());
    }

    /** Device -> host after the queued kernels that write the source. */
    synchronized void download(CUdeviceptr base, long byteOffset, ByteBuffer dst) {
        bind();
        noCapture("device-to-host download");
        ByteBuffer st = staging();
        Cu.check(JCudaDriver.cuEventRecord(computeDone, compute), "cuEventRecord");
        Cu.check(JCudaDriver.cuStreamWaitEvent(copy, computeDone, 0), "cuStreamWaitEvent");
        long at = byteOffset;
        while (dst.hasRemaining()) {
            int n = (int) Math.min(dst.remaining(), STAGING_BYTES);
            Cu.check(JCudaDriver.cuMemcpyDtoHAsync(staging, base.withByteOffset(at), n, copy), "cuMemcpyDtoHAsync(" + n + " bytes)");
            Cu.check(JCudaDriver.cuStreamSynchronize(copy), "cuStreamSynchronize(copy) after download (an earlier kernel may have failed)");
            st.clear();
            st.limit(n);
            dst.put(st);
            at += n;
        }
    }

    // ---- CUDA graphs ----------------------------------------------------------------------------------

    /** Work from another thread while one thread captures would be recorded into its graph: refused. */
    void notForeignCapture(String what) {
        Thread c = capturing;
        if (c != null && c != Thread.currentThread())
            throw new CudaException(what + " from thread " + Thread.currentThread().getName() + " while thread " + c.getName()
                    + " captures a CUDA graph on the compute stream (the backend is not usable from two threads during a capture)");
    }

    /** Host transfers and synchronisation cannot be part of a graph (the pinned staging and the copy stream stay out of it). */
    private void noCapture(String what) {
        Thread c = capturing;
        if (c == Thread.currentThread())
            throw new CudaException(what + " during CUDA graph capture: the captured work may only queue device work "
                    + "(upload inputs before the capture, read results after a replay)");
        notForeignCapture(what);
    }

    @Override
    public String graphUnavailable() { return null; }

    /**
     * Captures {@code body}'s kernels and cuBLAS calls on the compute stream (cuStreamBeginCapture, thread-local
     * mode: an unsafe driver call from this thread fails the capture instead of corrupting it, other threads are
     * not affected) into an instantiated graph. Allocations of this thread come from a private pool for the
     * capture (see {@link GraphPool}); host transfers are refused. On any failure the capture is ended, whatever
     * was made is destroyed, the pool released, and a CudaException naming the failed call is thrown. Other threads
     * must not use this backend while a capture runs: their launches are refused once the capture has begun, but one
     * already past that check would be recorded into the graph (the sampler captures from its own thread only).
     */
    @Override
    public DeviceGraph captureGraph(Supplier<Tensor> body) {
        bind();
        notForeignCapture("cuStreamBeginCapture");
        GraphPool<CUdeviceptr> pool = allocator.beginCapture();
        capturing = Thread.currentThread();
        boolean inCapture = false;
        Tensor out = null;
        CUgraph graph = null;
        CUgraphExec exec = null;
        try {
            Cu.check(JCudaDriver.cuStreamBeginCapture(compute, CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL),
                    "cuStreamBeginCapture(compute, thread-local)");
            inCapture = true;
            try (HostTransfers.Guard g = HostTransfers.forbid("CUDA graph capture")) {
                out = body.get();
            }
            if (out == null) throw new IllegalArgumentException("captured body returned no tensor");
            inCapture = false;
            CUgraph made = new CUgraph();
            Cu.check(JCudaDriver.cuStreamEndCapture(compute, made), "cuStreamEndCapture");
            graph = made;
            CUgraphExec e = new CUgraphExec();
            Cu.check(JCudaDriver.cuGraphInstantiate(e, graph, 0), "cuGraphInstantiate");
            exec = e;
            allocator.endCapture(pool, true);
            LOG.info("CUDA graph captured: {} of private pool for the graph", String.format(Locale.ROOT, "%.1f MiB", pool.ownedBytes() / 1048576.0));
            return new CudaGraph(this, graph, exec, pool, out);
        } catch (RuntimeException | Error e) {
            if (inCapture) {                       // the body failed: leave capture mode, discard what was recorded
                CUgraph partial = new CUgraph();
                if (JCudaDriver.cuStreamEndCapture(compute, partial) == CUresult.CUDA_SUCCESS) JCudaDriver.cuGraphDestroy(partial);
            }
            if (exec != null) JCudaDriver.cuGraphExecDestroy(exec);
            if (graph != null) JCudaDriver.cuGraphDestroy(graph);
            if (out != null) out.close();
            allocator.endCapture(pool, false);
            throw e instanceof CudaException ce ? new CudaException("CUDA graph capture failed: " + ce.getMessage(), ce)
                    : new CudaException("CUDA graph capture failed: " + e, e);
        } finally {
            capturing = null;
        }
    }

    /** cuGraphLaunch on the compute stream. */
    void launchGraph(CUgraphExec exec) {
        bind();
        notForeignCapture("cuGraphLaunch");
        if (capturing == Thread.currentThread()) throw new CudaException("cuGraphLaunch during a capture");
        Cu.check(JCudaDriver.cuGraphLaunch(exec, compute), "cuGraphLaunch");
        checkAfterLaunch("cuGraphLaunch");
    }

    // ---- helpers --------------------------------------------------------------------------------------

    /** Element type codes shared with kernels/common.cuh. */
    static int code(DType t) {
        switch (t) {
            case F32: return 0;
            case BF16: return 1;
            case F16: return 2;
            case F64: return 3;
            case I32: return 4;
            case I64: return 5;
            case U8: case BOOL: return 6;
            default: throw new AssertionError(t);
        }
    }

    private CudaStorage storage(Tensor t) {
        Storage s = t.storage();
        if (!(s instanceof CudaStorage) || s.backend() != this)
            throw new IllegalArgumentException("cuda op got a tensor on " + s.backend().name() + ": move it with tensor.to(backend) first");
        return (CudaStorage) s;
    }

    /** A contiguous bias tensor as the GEMM epilogue's per-column bias, or null. */
    private CudaGemm.Bias bias(Tensor b) { return b == null ? null : new CudaGemm.Bias(ptr(b), b.dtype()); }

    /** Device address of the tensor's first element (its offset applied). */
    CUdeviceptr ptr(Tensor t) {
        return storage(t).ptr.withByteOffset(t.offset() * t.dtype().bytes());
    }

    private static CUdeviceptr ptrOrNull(CudaBackend b, Tensor t) { return t == null ? null : b.ptr(t); }

    private static void require(boolean ok, String what) {
        if (!ok) throw new IllegalArgumentException(what);
    }

    private static void computable(Tensor t, String op) {
        DType d = t.dtype();
        if (d != DType.F32 && d != DType.BF16 && d != DType.F16)
            throw new UnsupportedOperationException("cuda " + op + " on " + d + " tensors: CUDA kernels compute on F32, BF16 or F16 storage "
                    + "(F64 is for the CPU reference; copy to F32 first)");
    }

    /** A contiguous handle of {@code t} in dtype {@code d}: an alias when it already is, else a copy. The caller closes it. */
    private Tensor contig(Tensor t, DType d) {
        return t.dtype() == d && t.isContiguous() ? t.alias() : copy(t, d);
    }

    private Tensor contig(Tensor t) { return contig(t, t.dtype()); }

    private Tensor contigOrNull(Tensor t, DType d) { return t == null ? null : contig(t, d); }

    private Tensor contigOrNull(Tensor t) { return t == null ? null : contig(t); }

    /** Strides of {@code t} broadcast (numpy rules, right-aligned) to {@code shape}. */
    private static long[] bstrides(Tensor t, int[] shape) {
        int[] s = t.shape();
        long[] st = t.strides(), out = new long[shape.length];
        int lead = shape.length - s.length;
        for (int i = lead; i < shape.length; i++) out[i] = s[i - lead] == 1 ? 0 : st[i - lead];
        return out;
    }

    /**
     * The kernels' {@code Layout} struct: rank, sizes, and up to three operands' strides, after dropping size-1
     * dims and merging dims that are contiguous for every operand (usually leaving rank 1 or 2), then the sizes' fast
     * divisors ({@code setDivisors}). Public for tests.
     */
    public static long[] layout(int[] shape, long[]... strides) {
        List<long[]> dims = new ArrayList<>();   // {size, st0, st1, st2}
        for (int d = 0; d < shape.length; d++) {
            if (shape[d] == 1) continue;
            long[] e = new long[4];
            e[0] = shape[d];
            for (int o = 0; o < strides.length; o++) e[1 + o] = strides[o][d];
            if (!dims.isEmpty()) {
                long[] prev = dims.get(dims.size() - 1);
                boolean merge = true;
                for (int o = 0; o < strides.length; o++) merge &= prev[1 + o] == e[1 + o] * e[0];
                if (merge) {
                    prev[0] *= e[0];
                    for (int o = 0; o < strides.length; o++) prev[1 + o] = e[1 + o];
                    continue;
                }
            }
            dims.add(e);
        }
        if (dims.size() > 8) throw new UnsupportedOperationException("cuda: a strided view of rank " + dims.size()
                + " after merging dims: the layout kernels take 8, so even a copy of it cannot run here; build it from views of rank 8 or less");
        long[] L = new long[41];
        L[0] = dims.size();
        for (int d = 0; d < dims.size(); d++) {
            long[] e = dims.get(d);
            L[1 + d] = e[0];
            for (int o = 0; o < 3; o++) L[9 + o * 8 + d] = e[1 + o];
        }
        setDivisors(L);
        return L;
    }

    /**
     * Layout.div: every size's {@link CudaGemm#fastDivisor} when the sizes multiply to 1 .. 2^31 - 1 (the kernels'
     * offsets() then decode an index in 32 bits), else zeros (64-bit divisions). After any change to the sizes.
     */
    private static void setDivisors(long[] L) {
        int rank = (int) L[0];
        long n = 1;
        for (int d = 0; d < rank; d++) n *= L[1 + d];
        boolean small = rank > 0 && n > 0 && n <= Integer.MAX_VALUE;
        for (int d = 0; d < 8; d++) L[33 + d] = small && d < rank ? CudaGemm.fastDivisor(L[1 + d]) : 0;
    }

    // ---- data movement --------------------------------------------------------------------------------

    @Override
    public Tensor copy(Tensor x, DType dtype) {
        Tensor out = empty(dtype, x.shape());
        copyKernel(x, out);
        return out;
    }

    private void copyKernel(Tensor src, Tensor dst) {
        int[] s = dst.shape();
        long[] L = layout(s, dst.strides(), src.strides());
        long chunks = src.dtype() == dst.dtype() ? inChunks16(L, dst.dtype(), dst.offset(), src.offset()) : 0;
        if (chunks > 0) launch1d("copy", "copy16", chunks, L, chunks, ptr(dst), ptr(src));
        else launch1d("copy", "copy_cast", Shape.numel(s), L, Shape.numel(s), ptr(dst), code(dst.dtype()), ptr(src), code(src.dtype()));
    }

    /**
     * A same-dtype copy's Layout {@code L} rewritten in 16-byte chunks (kernels/copy.cu copy16), and their count; 0 (L
     * untouched) unless the innermost dim is contiguous on both sides, every row is whole chunks, and both views start
     * 16-byte aligned (offsets in elements of t; device allocations are 256-byte aligned). Public for tests.
     */
    public static long inChunks16(long[] L, DType t, long dstOffset, long srcOffset) {
        int rank = (int) L[0], bytes = t.bytes(), per = 16 / bytes;
        if (rank == 0 || 16 % bytes != 0 || (dstOffset * bytes) % 16 != 0 || (srcOffset * bytes) % 16 != 0) return 0;
        int last = rank - 1;
        if (L[9 + last] != 1 || L[17 + last] != 1 || L[1 + last] % per != 0) return 0;
        for (int d = 0; d < last; d++) if (L[9 + d] % per != 0 || L[17 + d] % per != 0) return 0;
        long chunks = 1;
        L[1 + last] /= per;
        for (int d = 0; d < rank; d++) {
            if (d < last) {
                L[9 + d] /= per;
                L[17 + d] /= per;
            }
            chunks *= L[1 + d];
        }
        setDivisors(L);
        return chunks;
    }

    @Override
    public void copyInto(Tensor src, Tensor dst) {
        OpChecks.sameShape("copyInto", src, dst);
        if (storage(src) == storage(dst)) {   // may overlap: read everything first, as the CPU reference does
            try (Tensor tmp = copy(src, src.dtype())) { copyKernel(tmp, dst); }
        } else {
            copyKernel(src, dst);
        }
    }

    @Override
    public void fill(Tensor dst, double value) {
        int[] s = dst.shape();
        launch1d("copy", "fill", Shape.numel(s), layout(s, dst.strides()), Shape.numel(s), ptr(dst), code(dst.dtype()), value);
    }

    @Override
    public void fillRandom(Tensor dst, RandomKind kind, long seed, long offset) {
        int[] s = dst.shape();
        long n = Shape.numel(s);
        launch1d("philox", "philox_fill", (n + 3) / 4, layout(s, dst.strides()), n, ptr(dst), code(dst.dtype()),
                kind == RandomKind.NORMAL ? 1 : 0, seed, offset);
    }

    // ---- elementwise ----------------------------------------------------------------------------------

    @Override
    public Tensor binary(BinaryOp op, Tensor a, Tensor b) {
        computable(a, "binary");
        int[] shape = Shape.broadcast(a.shape(), b.shape());
        Tensor out = empty(a.dtype(), shape);
        binaryInto(op, a, b, out);
        return out;
    }

    /** out = a (op) b with broadcasting; out may be a itself (in-place bias add). */
    private void binaryInto(BinaryOp op, Tensor a, Tensor b, Tensor out) {
        int[] shape = out.shape();
        try (Tensor bb = b.dtype() == a.dtype() ? b.alias() : copy(b, a.dtype())) {
            launch1d("elementwise", "binary", Shape.numel(shape), layout(shape, out.strides(), bstrides(a, shape), bstrides(bb, shape)),
                    Shape.numel(shape), op.ordinal(), ptr(out), ptr(a), ptr(bb), code(a.dtype()));
        }
    }

    @Override
    public Tensor unary(UnaryOp op, Tensor x) {
        computable(x, "unary");
        Tensor out = empty(x.dtype(), x.shape());
        int[] s = x.shape();
        launch1d("elementwise", "unary", Shape.numel(s), layout(s, out.strides(), x.strides()), Shape.numel(s), op.ordinal(),
                ptr(out), code(out.dtype()), ptr(x), code(x.dtype()));
        return out;
    }

    @Override
    public Tensor unaryBackward(UnaryOp op, Tensor x, Tensor gy) {
        computable(gy, "unaryBackward");
        OpChecks.sameShape("unaryBackward", x, gy);
        Tensor out = empty(gy.dtype(), x.shape());
        int[] s = x.shape();
        launch1d("elementwise", "unary_backward", Shape.numel(s), layout(s, out.strides(), x.strides(), gy.strides()), Shape.numel(s),
                op.ordinal(), ptr(out), code(out.dtype()), ptr(x), code(x.dtype()), ptr(gy), code(gy.dtype()));
        return out;
    }

    @Override
    public Tensor affineFrom(Tensor x, Tensor coef, int scaleAt, int shiftAt) {
        computable(x, "affineFrom");
        require(coef.dtype() == DType.F64 && coef.isContiguous() && coef.dim() == 1, "affineFrom: coefficients must be a contiguous F64 vector, got " + coef);
        require(scaleAt >= 0 && scaleAt < coef.numel() && shiftAt < coef.numel(), "affineFrom: coefficient index out of range");
        Tensor out = empty(x.dtype(), x.shape());
        int[] s = x.shape();
        launch1d("elementwise", "affine_dev", Shape.numel(s), layout(s, out.strides(), x.strides()), Shape.numel(s),
                ptr(out), code(out.dtype()), ptr(x), code(x.dtype()), ptr(coef), scaleAt, shiftAt);
        return out;
    }

    @Override
    public Tensor affine(Tensor x, double scale, double shift) {
        computable(x, "affine");
        Tensor out = empty(x.dtype(), x.shape());
        int[] s = x.shape();
        launch1d("elementwise", "affine", Shape.numel(s), layout(s, out.strides(), x.strides()), Shape.numel(s),
                ptr(out), code(out.dtype()), ptr(x), code(x.dtype()), scale, shift);
        return out;
    }

    @Override
    public Tensor clamp(Tensor x, double lo, double hi) {
        OpChecks.clampBounds(lo, hi);
        computable(x, "clamp");
        Tensor out = empty(x.dtype(), x.shape());
        int[] s = x.shape();
        launch1d("elementwise", "clamp", Shape.numel(s), layout(s, out.strides(), x.strides()), Shape.numel(s),
                ptr(out), code(out.dtype()), ptr(x), code(x.dtype()), lo, hi);
        return out;
    }

    @Override
    public void axpby(double a, Tensor x, double b, Tensor y) {
        OpChecks.sameShape("axpby", x, y);
        computable(y, "axpby");
        int[] s = y.shape();
        launch1d("elementwise", "axpby", Shape.numel(s), layout(s, y.strides(), x.strides()), Shape.numel(s),
                a, ptr(x), code(x.dtype()), b, ptr(y), code(y.dtype()));
    }

    @Override
    public Tensor sumTo(Tensor x, int[] shape) {
        OpChecks.sumTo(x.shape(), shape);
        computable(x, "sumTo");
        return sumTo(x, shape, x.dtype());
    }

    /** sumTo into an {@code outType} result; x may also be F64 (this backend's own partial terms). */
    private Tensor sumTo(Tensor x, int[] shape, DType outType) {
        int[] xs = x.shape();
        Tensor out = empty(outType, shape);
        int lead = xs.length - shape.length;
        long[] xst = x.strides(), ost = Shape.contiguousStrides(shape);
        List<Integer> kept = new ArrayList<>(), red = new ArrayList<>();
        for (int d = 0; d < xs.length; d++) {
            if (d >= lead && shape[d - lead] == xs[d]) kept.add(d);
            else red.add(d);
        }
        int[] ks = new int[kept.size()], rs = new int[red.size()];
        long[] kx = new long[ks.length], ko = new long[ks.length], rx = new long[rs.length];
        for (int i = 0; i < ks.length; i++) { int d = kept.get(i); ks[i] = xs[d]; kx[i] = xst[d]; ko[i] = ost[d - lead]; }
        for (int i = 0; i < rs.length; i++) { int d = red.get(i); rs[i] = xs[d]; rx[i] = xst[d]; }
        long nOut = Shape.numel(shape), nRed = Shape.numel(rs);
        if (nOut == 0) return out;
        Object[] args = {layout(ks, kx, ko), layout(rs, rx), nOut, nRed, ptr(out), code(out.dtype()), ptr(x), code(x.dtype())};
        if (nRed >= 256) launch("reduce", "sum_to_block", Math.min(nOut, 1L << 20), 1, 1, THREADS, 1, 0, args);
        else launch1d("reduce", "sum_to_thread", nOut, args);
        return out;
    }

    // ---- matrix products ------------------------------------------------------------------------------

    /** Batch dims of a broadcast operand merged into one stride, or -1 when they do not merge. */
    private static long batchStride(int[] batch, long[] st) {
        long stride = 0;
        boolean first = true;
        for (int d = batch.length - 1; d >= 0; d--) {
            if (batch[d] == 1) continue;
            if (first) { stride = st[d]; first = false; }
            else if (st[d] != stride * batchSpan(batch, d + 1)) return -1;
        }
        return stride;
    }

    /** Elements spanned by the non-unit batch dims after d, in units of the innermost one's stride (1 when none). */
    private static long batchSpan(int[] batch, int from) {
        long n = 1;
        for (int d = from; d < batch.length; d++) n *= batch[d];
        return n;
    }

    @Override
    public Tensor matmul(Tensor a, Tensor b) {
        int[] as = a.shape(), bs = b.shape(), batch = OpChecks.matmulBatch(as, bs);
        computable(a, "matmul");
        int m = as[as.length - 2], k = as[as.length - 1], n = bs[bs.length - 1];
        int[] so = Arrays.copyOf(batch, batch.length + 2);
        so[batch.length] = m;
        so[batch.length + 1] = n;
        Tensor out = empty(a.dtype(), so);
        int nb = Shape.numelInt(batch);
        try (Tensor a2 = batched(a, batch, m, k, a.dtype()); Tensor b2 = batched(b, batch, k, n, a.dtype())) {
            gemm.gemm(nb, m, n, k, 1f, mat(a2, batch), mat(b2, batch), 0f, new CudaGemm.Mat(ptr(out), out.dtype(), n, 1, (long) m * n));
        }
        return out;
    }

    /** {@code t} broadcast to (batch..., r, c) in dtype d, copied contiguous only when its batch dims do not merge. */
    private Tensor batched(Tensor t, int[] batch, int r, int c, DType d) {
        int[] full = Arrays.copyOf(batch, batch.length + 2);
        full[batch.length] = r;
        full[batch.length + 1] = c;
        Tensor v = t.expand(full);
        if (v.dtype() == d && batchStride(batch, Arrays.copyOf(v.strides(), batch.length)) >= 0) return v;
        try (v) { return copy(v, d); }
    }

    private CudaGemm.Mat mat(Tensor t, int[] batch) {
        long[] st = t.strides();
        int r = st.length;
        return new CudaGemm.Mat(ptr(t), t.dtype(), st[r - 2], st[r - 1], batchStride(batch, Arrays.copyOf(st, batch.length)));
    }

    @Override
    public Tensor linear(Tensor x, Tensor w, Tensor bias, Tensor residual) {
        int[] os = OpChecks.linear(x, w, bias);
        OpChecks.residual("linear", residual, os);
        return product(x, w, bias, residual, false, os);
    }

    @Override
    public Tensor linearGeglu(Tensor x, Tensor w, Tensor bias) {
        int[] os = OpChecks.linearGeglu(x, w, bias);
        return product(x, w, bias, null, true, os);
    }

    /** x (..., K) w^T through the GEMM with its epilogue (bias, residual or GEGLU) into a new tensor of shape os. */
    private Tensor product(Tensor x, Tensor w, Tensor bias, Tensor residual, boolean geglu, int[] os) {
        computable(x, "linear");
        int k = w.size(1), n = w.size(0);
        int rows = CudaGemm.dim(x.numel() / Math.max(k, 1), "cuda linear: rows of x");
        Tensor out = empty(x.dtype(), os);
        try (Tensor x2 = contig(x); Tensor w2 = w.dtype() == x.dtype() ? w.alias() : copy(w, x.dtype()); Tensor b2 = contigOrNull(bias);
             Tensor r2 = contigOrNull(residual, x.dtype())) {
            // B (K, N) = w^T: element (kk, j) at w[j, kk].
            gemm.gemm(1, rows, n, k, 1f, new CudaGemm.Mat(ptr(x2), x2.dtype(), k, 1, 0),
                    new CudaGemm.Mat(ptr(w2), w2.dtype(), w2.stride(1), w2.stride(0), 0), 0f,
                    new CudaGemm.Mat(ptr(out), out.dtype(), os[os.length - 1], 1, 0),
                    new CudaGemm.Epilogue(bias(b2), r2 == null ? null : new CudaGemm.Mat(ptr(r2), r2.dtype(), n, 1, 0), geglu));
        }
        return out;
    }

    // ---- convolution: implicit GEMM on the tensor-core kernels, else im2col (kernels/conv.cu) + GEMM in image chunks ----

    private static final long COL_BUDGET_BYTES = 256L << 20;

    /** The im2col / col2im kernels' geometry words for a chunk of {@code images} images. */
    private static int[] convStruct(ConvGeometry g, int images) {
        ConvSpec s = g.s();
        return new int[]{images, g.h(), g.w(), g.cin(), g.kh(), g.kw(), g.ho(), g.wo(), s.strideH(), s.strideW(), s.padTop(), s.padLeft()};
    }

    /** The column matrix of all n images, for the implicit-GEMM path. */
    private static CudaGemm.Im2col im2col(ConvGeometry g, CUdeviceptr x, DType t) {
        ConvSpec s = g.s();
        return new CudaGemm.Im2col(x, t, (long) g.n() * g.ho() * g.wo(), g.h(), g.w(), g.cin(), g.kh(), g.kw(), g.ho(), g.wo(),
                s.strideH(), s.strideW(), s.padTop(), s.padLeft());
    }

    /** The explicit column matrix (imgs * Ho * Wo, KK) of images i0 .. i0 + imgs - 1 of x (contiguous) into col. */
    private void im2colChunk(ConvGeometry g, Tensor x, int i0, int imgs, Tensor col) {
        CUdeviceptr xi = ptr(x).withByteOffset((long) i0 * g.h() * g.w() * g.cin() * x.dtype().bytes());
        launch1d("conv", "im2col", (long) imgs * g.ho() * g.wo() * g.kk(), convStruct(g, imgs), xi, code(x.dtype()), ptr(col));
    }

    /** N * Ho * Wo, the products' row count (an int for the GEMM kernels). */
    private static int outPixels(ConvGeometry g) {
        return CudaGemm.dim((long) g.n() * g.ho() * g.wo(), "cuda conv2d: output pixels (N x Ho x Wo)");
    }

    /** Images per explicit-column chunk: as many as fit COL_BUDGET_BYTES of columns, at least one. */
    private static int chunk(ConvGeometry g, DType t) {
        long perImage = (long) g.ho() * g.wo() * g.kk() * t.bytes();
        return (int) Math.max(1, Math.min(g.n(), COL_BUDGET_BYTES / Math.max(perImage, 1)));
    }

    @Override
    public Tensor conv2d(Tensor x, Tensor w, Tensor bias, Tensor residual, ConvSpec spec) {
        ConvGeometry g = ConvGeometry.of(x.shape(), w.shape(), spec);
        computable(x, "conv2d");
        DType t = x.dtype();
        OpChecks.residual("conv2d", residual, g.outShape());
        Tensor y = empty(t, g.outShape());
        long kk = g.kk(), pix = (long) g.ho() * g.wo();
        try (Tensor x2 = contig(x); Tensor w2 = contig(w, t); Tensor b2 = contigOrNull(bias); Tensor r2 = contigOrNull(residual, t)) {
            CudaGemm.Mat wT = new CudaGemm.Mat(ptr(w2), t, 1, kk, 0);               // (KK, Cout) view of w (Cout, KK)
            CudaGemm.Mat ym = new CudaGemm.Mat(ptr(y), t, g.cout(), 1, 0);
            CudaGemm.Epilogue ep = CudaGemm.Epilogue.of(bias(b2), r2 == null ? null : new CudaGemm.Mat(ptr(r2), t, g.cout(), 1, 0));
            if (g.pointwise()) {
                gemm.gemm(1, outPixels(g), g.cout(), g.cin(), 1f, new CudaGemm.Mat(ptr(x2), t, g.cin(), 1, 0), wT, 0f, ym, ep);
            } else {
                Runnable columns = () -> {   // explicit im2col columns in chunks, each a dense product
                    int chunk = chunk(g, t);
                    try (Tensor col = empty(t, (int) (chunk * pix), (int) kk)) {
                        for (int i0 = 0; i0 < g.n(); i0 += chunk) {
                            int imgs = Math.min(chunk, g.n() - i0);
                            im2colChunk(g, x2, i0, imgs, col);
                            long yOff = i0 * pix * g.cout() * t.bytes();
                            CudaGemm.Mat ri = r2 == null ? null : new CudaGemm.Mat(ptr(r2).withByteOffset(yOff), t, g.cout(), 1, 0);
                            gemm.gemm(1, (int) (imgs * pix), g.cout(), (int) kk, 1f, new CudaGemm.Mat(ptr(col), t, kk, 1, 0), wT, 0f,
                                    new CudaGemm.Mat(ptr(y).withByteOffset(yOff), t, g.cout(), 1, 0), CudaGemm.Epilogue.of(ep.bias(), ri));
                        }
                    }
                };
                if (!gemm.implicit(outPixels(g), g.cout(), (int) kk, 1f, im2col(g, ptr(x2), t), wT, 0f, ym, ep, columns, null)) columns.run();
            }
        }
        return y;
    }

    @Override
    public Tensor conv2dBackwardInput(Tensor gy, Tensor w, int[] xShape, ConvSpec spec) {
        ConvGeometry g = ConvGeometry.of(xShape, w.shape(), spec);
        computable(gy, "conv2dBackwardInput");
        DType t = gy.dtype();
        Tensor dx = empty(t, xShape.clone());
        long kk = g.kk(), pix = (long) g.ho() * g.wo();
        try (Tensor gy2 = contig(gy); Tensor w2 = contig(w, t)) {
            CudaGemm.Mat wm = new CudaGemm.Mat(ptr(w2), t, kk, 1, 0);                // (Cout, KK)
            CudaGemm.Mat dxm = new CudaGemm.Mat(ptr(dx), t, g.cin(), 1, 0);
            if (g.pointwise()) {
                gemm.gemm(1, outPixels(g), g.cin(), g.cout(), 1f, new CudaGemm.Mat(ptr(gy2), t, g.cout(), 1, 0), wm, 0f, dxm);
            } else {
                Runnable columns = () -> {   // gy times W into column gradients, gathered back by col2im (writes dx in full)
                    // dcol in F32 (col2im sums up to kh*kw of its entries per input element), so chunked by F32's size
                    int chunk = chunk(g, DType.F32);
                    try (Tensor dcol = empty(DType.F32, (int) (chunk * pix), (int) kk)) {
                        for (int i0 = 0; i0 < g.n(); i0 += chunk) {
                            int imgs = Math.min(chunk, g.n() - i0);
                            CUdeviceptr gi = ptr(gy2).withByteOffset(i0 * pix * g.cout() * t.bytes());
                            gemm.gemm(1, (int) (imgs * pix), (int) kk, g.cout(), 1f, new CudaGemm.Mat(gi, t, g.cout(), 1, 0), wm, 0f,
                                    new CudaGemm.Mat(ptr(dcol), DType.F32, kk, 1, 0));
                            CUdeviceptr xi = ptr(dx).withByteOffset((long) i0 * g.h() * g.w() * g.cin() * t.bytes());
                            launch1d("conv", "col2im", (long) imgs * g.h() * g.w() * g.cin(), convStruct(g, imgs), ptr(dcol), code(DType.F32), xi, code(t));
                        }
                    }
                };
                if (!backwardInputImplicit(g, gy2, w2, dxm, columns)) columns.run();
            }
        }
        return dx;
    }

    /**
     * dx is the convolution of gy (as an Ho x Wo image of Cout channels, dilated by the stride: stride - 1 zeros
     * between its pixels; padded by kh-1-padTop and kw-1-padLeft) with the flipped weights, stride 1, output H x W:
     * one implicit GEMM, no column buffer and no col2im. At stride s, (s^2 - 1) / s^2 of the gathered products are
     * zeros (the columns path has none, but writes and reads kh x kw column gradients per input element): the tuner
     * times both. False, having written nothing to dx, where the tensor-core path does not take it or the tuner
     * timed {@code columns} (the explicit path, CudaGemm#implicit) faster.
     */
    private boolean backwardInputImplicit(ConvGeometry g, Tensor gy, Tensor w, CudaGemm.Mat dx, Runnable columns) {
        ConvSpec s = g.s();
        DType t = gy.dtype();
        try (Tensor wf = empty(t, g.kh(), g.kw(), g.cout(), g.cin())) {
            CudaGemm.Im2col a = new CudaGemm.Im2col(ptr(gy), t, (long) g.n() * g.h() * g.w(), g.ho(), g.wo(), g.cout(), g.kh(), g.kw(),
                    g.h(), g.w(), 1, 1, g.kh() - 1 - s.padTop(), g.kw() - 1 - s.padLeft(), s.strideH(), s.strideW());
            CudaGemm.Mat b = new CudaGemm.Mat(ptr(wf), t, g.cin(), 1, 0);          // (kh*kw*Cout, Cin), N-major
            if (CudaGemm.mmaPlan(1, (int) a.pixels(), g.cin(), (int) a.cols(), a, 0, b, 0) == null || !gemm.implicitAvailable()) return false;
            return gemm.implicit((int) a.pixels(), g.cin(), (int) a.cols(), 1f, a, b, 0f, dx, CudaGemm.Epilogue.NONE, columns,
                    () -> launch1d("conv", "flip_weights", w.numel(), g.cout(), g.kh(), g.kw(), g.cin(), ptr(w), code(t), ptr(wf)));
        }
    }

    @Override
    public Tensor conv2dBackwardWeight(Tensor gy, Tensor x, int[] wShape, ConvSpec spec) {
        ConvGeometry g = ConvGeometry.of(x.shape(), wShape, spec);
        computable(gy, "conv2dBackwardWeight");
        DType t = gy.dtype();
        long kk = g.kk(), pix = (long) g.ho() * g.wo();
        // dW (Cout, KK) = gy^T (Cout, P) x col (P, KK), accumulated over chunks in F32.
        try (Tensor acc = empty(DType.F32, g.cout(), (int) kk); Tensor gy2 = contig(gy); Tensor x2 = contig(x, t)) {
            CudaGemm.Mat dw = new CudaGemm.Mat(ptr(acc), DType.F32, kk, 1, 0);
            CudaGemm.Mat gyT = new CudaGemm.Mat(ptr(gy2), t, 1, g.cout(), 0);    // (Cout, P) view of gy (P, Cout)
            if (g.pointwise()) {
                gemm.gemm(1, g.cout(), g.cin(), outPixels(g), 1f, gyT, new CudaGemm.Mat(ptr(x2), t, g.cin(), 1, 0), 0f, dw);
            } else {
                Runnable columns = () -> {   // explicit columns in chunks, accumulated (the first chunk overwrites dW)
                    int chunk = chunk(g, t);
                    try (Tensor col = empty(t, (int) (chunk * pix), (int) kk)) {
                        for (int i0 = 0; i0 < g.n(); i0 += chunk) {
                            int imgs = Math.min(chunk, g.n() - i0);
                            im2colChunk(g, x2, i0, imgs, col);
                            CUdeviceptr gi = ptr(gy2).withByteOffset(i0 * pix * g.cout() * t.bytes());
                            gemm.gemm(1, g.cout(), (int) kk, (int) (imgs * pix), 1f, new CudaGemm.Mat(gi, t, 1, g.cout(), 0),
                                    new CudaGemm.Mat(ptr(col), t, kk, 1, 0), i0 == 0 ? 0f : 1f, dw);
                        }
                    }
                };
                if (!gemm.implicit(g.cout(), (int) kk, outPixels(g), 1f, gyT, im2col(g, ptr(x2), t), 0f, dw, CudaGemm.Epilogue.NONE, columns, null))
                    columns.run();
            }
            try (Tensor a4 = acc.reshape(wShape)) { return copy(a4, t); }
        }
    }

    // ---- normalisation and modulation -----------------------------------------------------------------

    /**
     * The dtype norm.cu reads gamma and beta in: gamma's (or beta's), so the module's parameters go as they are, not
     * cast to F32 on every call (two small copy launches per norm).
     */
    private static DType affineType(Tensor gamma, Tensor beta) {
        return gamma != null ? gamma.dtype() : beta != null ? beta.dtype() : DType.F32;
    }

    /** The rows (pixels) N S of a norm's input: the kernels index them in 32 bits (norm.cu). */
    private static int normRows(long n, long s) {
        if (n * s > Integer.MAX_VALUE)
            throw new IllegalArgumentException("norm over " + n + " x " + s + " rows of channels: at most 2^31-1 rows on the GPU");
        return (int) (n * s);
    }

    private NormResult norm(Tensor x, Tensor gamma, Tensor beta, long n, long s, int c, int groups, double eps, boolean silu, int[] statShape) {
        computable(x, "norm");
        int rows = normRows(n, s);
        Tensor y = empty(x.dtype(), x.shape());
        Tensor mean = empty(DType.F32, statShape), rstd = empty(DType.F32, statShape);
        DType pt = affineType(gamma, beta);
        try (Tensor x2 = contig(x); Tensor g2 = contigOrNull(gamma, pt); Tensor b2 = contigOrNull(beta, pt);
             Tensor meanLo = empty(DType.F32, statShape)) {   // what the F32 mean leaves out, for the forward only
            launch("norm", "norm_stats", n * groups, 1, 1, THREADS, 1, 0, ptr(x2), code(x2.dtype()), s, c, groups, eps, ptr(mean), ptr(rstd),
                    ptr(meanLo));
            launch("norm", "norm_apply", Math.min((rows + 31L) / 32, 1L << 20), 1, 1, 32, 8, 0, ptr(x2), code(x2.dtype()), rows,
                    CudaGemm.fastDivisor(Math.max(s, 1)), c, groups, ptr(mean), ptr(meanLo), ptr(rstd), ptrOrNull(this, g2), ptrOrNull(this, b2), code(pt), silu ? 1 : 0, ptr(y));
        }
        return new NormResult(y, mean, rstd);
    }

    private Tensor[] normBackward(Tensor x, Tensor gamma, Tensor beta, NormResult saved, long n, long s, int c, int groups, boolean silu, Tensor gy) {
        computable(gy, "normBackward");
        int rows = normRows(n, s);
        DType pt = gamma != null ? gamma.dtype() : x.dtype();
        Tensor dx = empty(gy.dtype(), x.shape()), dg = empty(pt, c), db = empty(pt, c);
        int chunks = Math.max(1, Math.min(512, rows / 256));
        DType at = affineType(gamma, beta);
        try (Tensor x2 = contig(x); Tensor gy2 = contig(gy); Tensor g2 = contigOrNull(gamma, at); Tensor b2 = contigOrNull(beta, at);
             Tensor mean = contig(saved.mean(), DType.F32); Tensor rstd = contig(saved.rstd(), DType.F32);
             Tensor pg = empty(DType.F32, chunks, c); Tensor pb = empty(DType.F32, chunks, c)) {
            launch("norm", "norm_backward_dx", n * groups, 1, 1, THREADS, 1, 0, ptr(x2), code(x2.dtype()), ptr(gy2), code(gy2.dtype()),
                    s, c, groups, ptr(mean), ptr(rstd), ptrOrNull(this, g2), ptrOrNull(this, b2), code(at), silu ? 1 : 0, ptr(dx), code(dx.dtype()));
            launch("norm", "norm_backward_params", (c + 31) / 32, chunks, 1, 32, 8, 0, ptr(x2), code(x2.dtype()), ptr(gy2), code(gy2.dtype()),
                    rows, CudaGemm.fastDivisor(Math.max(s, 1)), c, groups, ptr(mean), ptr(rstd), ptrOrNull(this, g2), ptrOrNull(this, b2), code(at), silu ? 1 : 0,
                    ptr(pg), ptr(pb));
            launch1d("reduce", "column_sum", c, ptr(pg), (long) chunks, (long) c, ptr(dg), code(pt));
            launch1d("reduce", "column_sum", c, ptr(pb), (long) chunks, (long) c, ptr(db), code(pt));
        }
        return new Tensor[]{dx, dg, db};
    }

    @Override
    public NormResult groupNorm(Tensor x, Tensor gamma, Tensor beta, int groups, double eps, boolean silu) {
        int[] s = x.shape();
        OpChecks.groupNorm(s, groups, gamma, beta);
        int n = s[0], c = s[s.length - 1];
        long sp = Shape.numel(s) / Math.max((long) n * c, 1);
        return norm(x, gamma, beta, n, sp, c, groups, eps, silu, new int[]{n, groups});
    }

    @Override
    public Tensor[] groupNormBackward(Tensor x, Tensor gamma, Tensor beta, NormResult saved, int groups, boolean silu, Tensor gy) {
        int[] s = x.shape();
        int n = s[0], c = s[s.length - 1];
        long sp = Shape.numel(s) / Math.max((long) n * c, 1);
        return normBackward(x, gamma, beta, saved, n, sp, c, groups, silu, gy);
    }

    @Override
    public NormResult layerNorm(Tensor x, Tensor gamma, Tensor beta, double eps) {
        int[] s = x.shape();
        OpChecks.layerNorm(s, gamma, beta);
        int c = s[s.length - 1];
        long rows = Shape.numel(s) / Math.max(c, 1);
        return norm(x, gamma, beta, rows, 1, c, 1, eps, false, Arrays.copyOf(s, s.length - 1));
    }

    @Override
    public Tensor[] layerNormBackward(Tensor x, Tensor gamma, NormResult saved, Tensor gy) {
        int[] s = x.shape();
        int c = s[s.length - 1];
        long rows = Shape.numel(s) / Math.max(c, 1);
        return normBackward(x, gamma, null, saved, rows, 1, c, 1, false, gy);
    }

    /**
     * The row stride film.cu reads gamma and beta with in place (FilmRows): both of dtype t, rows of the last dim's C
     * elements with one stride, the same for both (C when contiguous, 2C for the channel halves of one tensor, as the
     * model slices the drag embedding), and under 2^31 elements where not contiguous. -1 otherwise (or without gamma):
     * copy them contiguous first. Public for tests.
     */
    public static long filmRowStride(Tensor gamma, Tensor beta, DType t) {
        if (gamma == null || gamma.dtype() != t || beta.dtype() != t) return -1;
        int[] shape = gamma.shape();
        int c = shape[shape.length - 1];
        long[] L = layout(shape, gamma.strides(), beta.strides());
        if (L[0] == 0 || (L[0] == 1 && L[9] == 1 && L[17] == 1)) return c;   // contiguous (or one element)
        boolean rows = L[0] == 2 && L[2] == c && L[10] == 1 && L[18] == 1 && L[9] == L[17] && L[9] >= c;
        return rows && gamma.numel() <= Integer.MAX_VALUE ? L[9] : -1;
    }

    /** gamma or beta as film.cu reads it: the view itself where filmRowStride accepted it (gs >= 0), else a contiguous copy. */
    private Tensor filmOperand(Tensor x, long gs, DType t) {
        return x == null ? null : gs >= 0 ? x.alias() : contig(x, t);
    }

    @Override
    public Tensor blendFilm(Tensor a, Tensor b, Tensor alpha, Tensor gamma, Tensor beta) {
        OpChecks.blendFilm(a, b, alpha, gamma, beta);
        computable(a, "blendFilm");
        DType t = a.dtype();
        Tensor out = empty(t, a.shape());
        int c = a.size(-1);
        long gs = filmRowStride(gamma, beta, t);   // -1: copy them contiguous (row stride C)
        try (Tensor a2 = contig(a); Tensor b2 = contigOrNull(b, t); Tensor g2 = filmOperand(gamma, gs, t); Tensor e2 = filmOperand(beta, gs, t)) {
            launch1d("film", "blend_film_forward", a.numel(), a.numel(), ptr(a2), ptrOrNull(this, b2), ptrOrNull(this, b == null ? null : alpha),
                    b == null ? 0 : code(alpha.dtype()), ptrOrNull(this, g2), ptrOrNull(this, e2), c, CudaGemm.fastDivisor(Math.max(c, 1)),
                    Math.max(gs, c), ptr(out), code(t));
        }
        return out;
    }

    @Override
    public Tensor[] blendFilmBackward(Tensor a, Tensor b, Tensor alpha, Tensor gamma, Tensor gy) {
        OpChecks.blendFilm(a, b, alpha, gamma);
        computable(gy, "blendFilmBackward");
        DType t = a.dtype(), tg = gy.dtype();
        long n = a.numel();
        Tensor da = empty(tg, a.shape()), db = b == null ? null : empty(tg, a.shape()), dg = gamma == null ? null : empty(tg, a.shape());
        // dalpha = sum of gy * (1 + gamma) * (a - b): per-element terms in F64 (they cancel), then one reduction
        int c = a.size(-1);
        long gs = filmRowStride(gamma, gamma, t);
        try (Tensor a2 = contig(a); Tensor b2 = contigOrNull(b, t); Tensor g2 = filmOperand(gamma, gs, t); Tensor gy2 = contig(gy);
             Tensor terms = b == null ? null : empty(DType.F64, a.shape())) {
            launch1d("film", "blend_film_backward", n, n, ptr(a2), ptrOrNull(this, b2), ptrOrNull(this, b == null ? null : alpha),
                    b == null ? 0 : code(alpha.dtype()), ptrOrNull(this, g2), c, CudaGemm.fastDivisor(Math.max(c, 1)), Math.max(gs, c),
                    code(t), ptr(gy2), code(tg), ptr(da), ptrOrNull(this, db), ptrOrNull(this, dg), ptrOrNull(this, terms));
            Tensor dal = terms == null ? null : sumTo(terms, new int[]{1}, DType.F32);
            return new Tensor[]{da, db, dal, dg, gamma == null ? null : copy(gy, tg)};
        }
    }

    @Override
    public Tensor geglu(Tensor p) {
        int[] os = OpChecks.geglu(p.shape());
        computable(p, "geglu");
        int d = os[os.length - 1];
        long rows = Shape.numel(os) / Math.max(d, 1);
        Tensor out = empty(p.dtype(), os);
        try (Tensor p2 = contig(p)) {
            launch1d("geglu", "geglu_forward", rows * d, rows, d, ptr(p2), code(p2.dtype()), ptr(out));
        }
        return out;
    }

    @Override
    public Tensor gegluBackward(Tensor p, Tensor gy) {
        int[] s = p.shape();
        OpChecks.gegluBackward(s, gy);
        int two = s[s.length - 1], d = two / 2;
        computable(gy, "gegluBackward");
        long rows = Shape.numel(s) / Math.max(two, 1);
        Tensor dp = empty(gy.dtype(), s);
        try (Tensor p2 = contig(p); Tensor gy2 = contig(gy)) {
            launch1d("geglu", "geglu_backward", rows * d, rows, d, ptr(p2), code(p2.dtype()), ptr(gy2), code(gy2.dtype()), ptr(dp));
        }
        return dp;
    }

    // ---- attention (kernels/attention_mma.cu for bf16/f16 head dim 64, else kernels/attention.cu) ------

    private static final int ATTN_WARPS = 4, ATTN_DMAX = 512;

    /** kernels/attention.cu's entry for this head dim: 8 channels per lane up to 256, the "_wide" one (16) up to 512. */
    private static String attentionEntry(String kernel, AttentionDims dm) { return dm.d() > 256 ? kernel + "_wide" : kernel; }

    /** Keys (or queries) per shared-memory tile of kernels/attention.cu: two d-wide float rows plus two floats each, within 48 KiB. */
    private static int attentionTile(AttentionDims dm) { return Math.max(1, Math.min(64, (48 * 1024 / 4) / (2 * dm.d() + 2))); }

    private static AttentionDims attnDims(Tensor q, Tensor k, Tensor v, int heads) {
        AttentionDims dm = AttentionDims.of(q, k, v, heads);
        if (dm.d() > ATTN_DMAX)
            throw new UnsupportedOperationException("cuda attention: head dim " + dm.d() + " > " + ATTN_DMAX + " (kernels/attention.cu keeps a row in registers)");
        if ((long) Math.max(dm.lq(), dm.lk()) > 65535L * ATTN_WARPS)   // rows of ATTN_WARPS along grid y (at most 65535)
            throw new UnsupportedOperationException("cuda attention: sequence length " + Math.max(dm.lq(), dm.lk()) + " > " + 65535L * ATTN_WARPS);
        return dm;
    }

    @Override
    public AttentionResult attention(Tensor q, Tensor k, Tensor v, int heads, double scale) {
        AttentionDims dm = attnDims(q, k, v, heads);
        computable(q, "attention");
        DType t = q.dtype();
        Tensor out = empty(t, q.shape()), lse = empty(DType.F32, dm.bq(), heads, dm.lq());
        int tile = attentionTile(dm);
        try (Tensor q2 = contig(q); Tensor k2 = contig(k, t); Tensor v2 = contig(v, t)) {
            if (tensorCoreAttention(dm, q2, k2, v2)) {
                launch("attention_mma", "attention_mma_forward_" + (t == DType.BF16 ? "bf16" : "f16"), (long) dm.bq() * heads, (dm.lq() + 63) / 64, 1,
                        128, 1, 0, ptr(q2), ptr(k2), ptr(v2), dm.bq(), dm.lq(), dm.bk(), dm.lk(), dm.c(), heads, (float) scale, ptr(out), code(t), ptr(lse));
                return new AttentionResult(out, lse);
            }
            launch("attention", attentionEntry("attention_forward", dm), (long) dm.bq() * heads, (dm.lq() + ATTN_WARPS - 1) / ATTN_WARPS, 1, 32 * ATTN_WARPS, 1,
                    2 * tile * dm.d() * 4, ptr(q2), ptr(k2), ptr(v2), code(t), dm.bq(), dm.lq(), dm.bk(), dm.lk(), dm.c(), heads, (float) scale,
                    tile, ptr(out), ptr(lse));
        }
        return new AttentionResult(out, lse);
    }

    /** -Dpuppet.cuda.attention=simple keeps attention on kernels/attention.cu (to compare the two on a GPU). */
    private static final boolean SIMPLE_ATTENTION = "simple".equals(System.getProperty("puppet.cuda.attention"));

    /**
     * Whether kernels/attention_mma.cu takes this attention (forward, or backward with gOut): bf16 or f16, head
     * dim 64 (every SVD / Puppet-Master attention), and 16-byte aligned rows for its cp.async copies (C % 8 == 0,
     * every tensor starting on 16 bytes).
     */
    private static boolean tensorCoreAttention(AttentionDims dm, Tensor... qkv) {
        if (SIMPLE_ATTENTION || dm.d() != 64 || dm.c() % 8 != 0) return false;
        if (qkv[0].dtype() != DType.BF16 && qkv[0].dtype() != DType.F16) return false;
        for (Tensor x : qkv) if (x.dtype() != qkv[0].dtype() || (x.offset() * x.dtype().bytes()) % 16 != 0) return false;
        return true;
    }

    @Override
    public Tensor[] attentionBackward(Tensor q, Tensor k, Tensor v, AttentionResult saved, Tensor gOut, int heads, double scale) {
        AttentionDims dm = attnDims(q, k, v, heads);
        computable(gOut, "attentionBackward");
        DType t = q.dtype(), tg = gOut.dtype();
        Tensor dq = empty(tg, q.shape()), dk = empty(tg, k.shape()), dv = empty(tg, v.shape());
        int tile = attentionTile(dm), rowsQ = (dm.lq() + ATTN_WARPS - 1) / ATTN_WARPS, rowsK = (dm.lk() + ATTN_WARPS - 1) / ATTN_WARPS;
        try (Tensor q2 = contig(q); Tensor k2 = contig(k, t); Tensor v2 = contig(v, t); Tensor o2 = contig(saved.out(), t);
             Tensor lse = contig(saved.lse(), DType.F32); Tensor go = contig(gOut); Tensor delta = empty(DType.F32, dm.bq(), heads, dm.lq())) {
            launch("attention", "attention_delta", (long) dm.bq() * heads, rowsQ, 1, 32 * ATTN_WARPS, 1, 0,
                    ptr(o2), code(t), ptr(go), code(tg), dm.bq(), dm.lq(), dm.c(), heads, ptr(delta));
            if (tg == t && tensorCoreAttention(dm, q2, k2, v2, go)) {
                String dt = t == DType.BF16 ? "bf16" : "f16";
                launch("attention_mma", "attention_mma_backward_dq_" + dt, (long) dm.bq() * heads, (dm.lq() + 63) / 64, 1, 128, 1, 0,
                        ptr(q2), ptr(k2), ptr(v2), ptr(go), ptr(lse), ptr(delta), dm.bq(), dm.lq(), dm.bk(), dm.lk(), dm.c(), heads,
                        (float) scale, ptr(dq), code(tg));
                launch("attention_mma", "attention_mma_backward_dkv_" + dt, (long) dm.bk() * heads, (dm.lk() + 63) / 64, 1, 128, 1, 0,
                        ptr(q2), ptr(k2), ptr(v2), ptr(go), ptr(lse), ptr(delta), dm.bq(), dm.lq(), dm.bk(), dm.lk(), dm.c(), heads,
                        (float) scale, ptr(dk), ptr(dv), code(tg));
                return new Tensor[]{dq, dk, dv};
            }
            launch("attention", attentionEntry("attention_backward_dq", dm), (long) dm.bq() * heads, rowsQ, 1, 32 * ATTN_WARPS, 1, 2 * tile * dm.d() * 4,
                    ptr(q2), ptr(k2), ptr(v2), code(t), ptr(go), code(tg), ptr(lse), ptr(delta), dm.bq(), dm.lq(), dm.bk(), dm.lk(), dm.c(),
                    heads, (float) scale, tile, ptr(dq));
            launch("attention", attentionEntry("attention_backward_dkv", dm), (long) dm.bk() * heads, rowsK, 1, 32 * ATTN_WARPS, 1, (2 * tile * dm.d() + 2 * tile) * 4,
                    ptr(q2), ptr(k2), ptr(v2), code(t), ptr(go), code(tg), ptr(lse), ptr(delta), dm.bq(), dm.lq(), dm.bk(), dm.lk(), dm.c(),
                    heads, (float) scale, tile, ptr(dk), ptr(dv));
        }
        return new Tensor[]{dq, dk, dv};
    }

    // ---- resampling -----------------------------------------------------------------------------------

    @Override
    public Tensor upsampleNearest2x(Tensor x) {
        int[] s = x.shape();
        OpChecks.upsample(s);
        computable(x, "upsampleNearest2x");
        Tensor y = empty(x.dtype(), s[0], 2 * s[1], 2 * s[2], s[3]);
        try (Tensor x2 = contig(x)) {
            launch1d("resample", "upsample2x_forward", y.numel(), s[0], s[1], s[2], s[3], ptr(x2), code(x2.dtype()), ptr(y));
        }
        return y;
    }

    @Override
    public Tensor upsampleNearest2xBackward(Tensor gy) {
        int[] s = gy.shape();
        OpChecks.upsampleBackward(s);
        computable(gy, "upsampleNearest2xBackward");
        int n = s[0], h = s[1] / 2, w = s[2] / 2, c = s[3];
        Tensor dx = empty(gy.dtype(), n, h, w, c);
        try (Tensor g2 = contig(gy)) {
            launch1d("resample", "upsample2x_backward", dx.numel(), n, h, w, c, ptr(g2), code(g2.dtype()), ptr(dx));
        }
        return dx;
    }

    @Override
    public Tensor gridSamplePoints(Tensor feat, Tensor points) {
        int[] fs = feat.shape(), ps = points.shape();
        OpChecks.gridSample(fs, ps);
        computable(feat, "gridSamplePoints");
        int n = fs[0], h = fs[1], w = fs[2], c = fs[3], k = ps[1];
        Tensor out = empty(feat.dtype(), n, k, c);
        try (Tensor f2 = contig(feat); Tensor p2 = contig(points, DType.F32)) {
            launch1d("grid_sample", "grid_sample_forward", (long) n * k * c, n, h, w, c, k, ptr(f2), code(f2.dtype()), ptr(p2), ptr(out));
        }
        return out;
    }

    @Override
    public Tensor gridSamplePointsBackward(Tensor gy, Tensor points, int[] featShape) {
        OpChecks.gridSampleBackward(gy.shape(), points.shape(), featShape);
        computable(gy, "gridSamplePointsBackward");
        int n = featShape[0], h = featShape[1], w = featShape[2], c = featShape[3], k = points.size(1);
        try (Tensor acc = empty(DType.F32, featShape.clone()); Tensor g2 = contig(gy); Tensor p2 = contig(points, DType.F32)) {
            fill(acc, 0);
            launch1d("grid_sample", "grid_sample_backward", (long) n * c, n, h, w, c, k, ptr(g2), code(g2.dtype()), ptr(p2), ptr(acc));
            return copy(acc, gy.dtype());
        }
    }

    // ---- optimiser ------------------------------------------------------------------------------------

    /** Elements per block of the multi-tensor Adam launch: 8 per thread. */
    private static final long ADAM_CHUNK = 8L * THREADS;

    /**
     * Every tensor of the step in one launch of {@code adam_step}: the per-tensor pointers and dtypes go to the
     * device in a table (the gradients are fresh tensors each step, so they cannot be baked in). Everything is
     * validated before any tensor is touched, so a bad argument leaves the whole step undone.
     */
    @Override
    public void adamStep(List<Tensor> params, List<Tensor> grads, List<Tensor> m, List<Tensor> v, AdamParams p, List<Tensor> lowPrecision) {
        int nt = params.size();
        for (int i = 0; i < nt; i++) {
            Tensor w = params.get(i), low = lowPrecision == null ? null : lowPrecision.get(i);
            for (Tensor s : new Tensor[]{w, m.get(i), v.get(i)})
                require(s.dtype() == DType.F32 && s.isContiguous(), "adamStep: parameters and moments must be contiguous F32, got " + s);
            computable(grads.get(i), "adamStep");
            // The kernel indexes every operand by the parameter's element count: a shorter one would be read out of bounds.
            for (Tensor s : new Tensor[]{grads.get(i), m.get(i), v.get(i), low})
                require(s == null || s.numel() == w.numel(), "adamStep: tensor " + i + " has " + w.numel() + " parameters, but got " + s);
        }
        double bc1 = 1 - Math.pow(p.beta1(), p.step()), bc2 = 1 - Math.pow(p.beta2(), p.step());
        // Owns this step's temporaries: contiguous copies of strided gradients, contiguous stand-ins for strided low
        // copies (copied into place after the update) and the table; freed in stream order after the launch.
        try (Scope temps = Scope.open()) {
            long[][] rows = new long[nt][];
            List<Tensor[]> stridedLow = new ArrayList<>();   // {stand-in, destination}
            for (int i = 0; i < nt; i++) {
                Tensor w = params.get(i), low = lowPrecision == null ? null : lowPrecision.get(i), g = contig(grads.get(i)), target = low;
                if (low != null && !low.isContiguous()) {
                    target = empty(low.dtype(), low.shape());
                    stridedLow.add(new Tensor[]{target, low});
                }
                rows[i] = new long[]{w.numel(), DevicePointers.address(ptr(w)), DevicePointers.address(ptr(g)), DevicePointers.address(ptr(m.get(i))), DevicePointers.address(ptr(v.get(i))),
                        target == null ? 0 : DevicePointers.address(ptr(target)), code(g.dtype()), target == null ? 0 : code(target.dtype())};
            }
            long[] words = adamTable(ADAM_CHUNK, rows);
            if (words[nt] == 0) return;   // no tensors, or all empty
            Tensor table = empty(DType.I64, words.length);
            ByteBuffer bytes = ByteBuffer.allocate(words.length * Long.BYTES).order(ByteOrder.LITTLE_ENDIAN);
            bytes.asLongBuffer().put(words);
            // A host transfer: on the device when write returns, and queued after earlier kernels that used the block.
            table.storage().write(0, bytes);
            launch("adam", "adam_step", words[nt], 1, 1, THREADS, 1, 0, ptr(table), nt, ADAM_CHUNK, p.lr(), p.beta1(), p.beta2(), p.eps(),
                    p.weightDecay(), p.decoupled() ? 1 : 0, bc1, bc2, p.gradScale());
            for (Tensor[] c : stridedLow) copyKernel(c[0], c[1]);
        }
    }

    /**
     * The table {@code adam_step} reads (its layout is documented in kernels/adam.cu): the first block of each
     * tensor, ceil(n / chunk) blocks per tensor, ending with the grid size; then each tensor's 8 words {n, p, g, m, v,
     * low (0: none), g's dtype code, low's dtype code}, as given in {@code tensors}. Public for tests.
     */
    public static long[] adamTable(long chunk, long[]... tensors) {
        int nt = tensors.length;
        long[] words = new long[nt + 1 + 8 * nt];
        for (int t = 0; t < nt; t++) {
            require(tensors[t].length == 8, "adamTable: 8 words per tensor, got " + tensors[t].length);
            words[t + 1] = words[t] + (tensors[t][0] + chunk - 1) / chunk;
            System.arraycopy(tensors[t], 0, words, nt + 1 + 8 * t, 8);
        }
        return words;
    }
}
