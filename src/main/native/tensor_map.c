// JNI access to the CUDA driver's cuTensorMapEncodeTiled and cuTensorMapEncodeIm2col, which JCuda 12.6 does not bind:
// the tensor maps the bulk tensor copy engine (TMA) reads, for kernels/gemm_wgmma.cu's warp-specialised GEMM. Java side:
// dev.puppetengine.backend.cuda.TensorMaps. The driver is found with dlopen (in a running engine JCuda has loaded it
// already), so this library links against nothing of CUDA and loads on machines without a GPU. Built by
// kernels/build.sh next to the fatbins (it needs cuda.h, which comes with nvcc).
#include <cuda.h>
#include <dlfcn.h>
#include <jni.h>
#include <stdint.h>

// glibc 2.34 moved dlopen/dlsym into libc under a new symbol version, so a build on a new system would not load on
// glibc < 2.34 (Ubuntu 20.04, RHEL 8), where JCuda's own natives do. Bind the original versions, which every glibc
// still exports.
#if defined(__x86_64__)
__asm__(".symver dlopen,dlopen@GLIBC_2.2.5");
__asm__(".symver dlsym,dlsym@GLIBC_2.2.5");
#elif defined(__aarch64__)
__asm__(".symver dlopen,dlopen@GLIBC_2.17");
__asm__(".symver dlsym,dlsym@GLIBC_2.17");
#endif

typedef CUresult (*EncodeTiled)(CUtensorMap*, CUtensorMapDataType, cuuint32_t, void*, const cuuint64_t*, const cuuint64_t*,
                                const cuuint32_t*, const cuuint32_t*, CUtensorMapInterleave, CUtensorMapSwizzle,
                                CUtensorMapL2promotion, CUtensorMapFloatOOBfill);

typedef CUresult (*EncodeIm2col)(CUtensorMap*, CUtensorMapDataType, cuuint32_t, void*, const cuuint64_t*, const cuuint64_t*,
                                 const int*, const int*, cuuint32_t, cuuint32_t, const cuuint32_t*, CUtensorMapInterleave,
                                 CUtensorMapSwizzle, CUtensorMapL2promotion, CUtensorMapFloatOOBfill);

// Status codes of our own, below every CUresult.
enum { NO_DRIVER = -1, NO_SYMBOL = -2, BAD_ARGUMENTS = -3 };

// The driver's function `name`, or null with *why set. The library handle is kept (a race only repeats the dlopen).
static void* driver(const char* name, int* why) {
  static void* lib;
  if (!lib) lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL);
  if (!lib) { *why = NO_DRIVER; return 0; }
  void* fn = dlsym(lib, name);
  if (!fn) *why = NO_SYMBOL;
  return fn;
}

// Reads a map's extent: dims[rank] elements and strides[rank - 1] bytes, all positive (BAD_ARGUMENTS otherwise).
static int extent(JNIEnv* env, jlongArray dims, jlongArray strides, jsize rank, cuuint64_t* gd, cuuint64_t* gs) {
  jlong d[5], s[4];
  (*env)->GetLongArrayRegion(env, dims, 0, rank, d);
  (*env)->GetLongArrayRegion(env, strides, 0, rank - 1, s);
  for (int i = 0; i < rank; i++) {
    if (d[i] <= 0 || (i < rank - 1 && s[i] <= 0)) return BAD_ARGUMENTS;
    gd[i] = (cuuint64_t)d[i];
    if (i < rank - 1) gs[i] = (cuuint64_t)s[i];
  }
  return 0;
}

// The encoder's result: the map's 16 words into out on success; the CUresult either way.
static jint result(JNIEnv* env, jlongArray out, CUresult rc, const CUtensorMap* map) {
  if (rc == CUDA_SUCCESS) (*env)->SetLongArrayRegion(env, out, 0, CU_TENSOR_MAP_NUM_QWORDS, (const jlong*)map->opaque);
  return (jint)rc;
}

// A tiled tensor map of 16-bit elements (bf16 or f16) at `address`: dims[rank] elements (innermost first),
// strides[rank - 1] bytes, box[rank] elements, 128-byte swizzle, zero fill past the edges, 256-byte L2 promotion.
// Writes the 16 words of the map into out; returns CUDA_SUCCESS (0), the driver's CUresult, or a code above.
JNIEXPORT jint JNICALL Java_dev_puppetengine_backend_cuda_TensorMaps_encode16(JNIEnv* env, jclass cls, jlongArray out, jboolean bf16,
                                                                             jlong address, jlongArray dims, jlongArray strides,
                                                                             jintArray box) {
  (void)cls;
  jsize rank = (*env)->GetArrayLength(env, dims);
  if (rank < 1 || rank > 5 || (*env)->GetArrayLength(env, strides) != rank - 1 || (*env)->GetArrayLength(env, box) != rank ||
      (*env)->GetArrayLength(env, out) != CU_TENSOR_MAP_NUM_QWORDS)
    return BAD_ARGUMENTS;
  cuuint64_t gd[5], gs[4];
  if (extent(env, dims, strides, rank, gd, gs)) return BAD_ARGUMENTS;
  jint b[5];
  (*env)->GetIntArrayRegion(env, box, 0, rank, b);
  cuuint32_t bd[5], es[5];
  for (int i = 0; i < rank; i++) {
    if (b[i] <= 0) return BAD_ARGUMENTS;
    bd[i] = (cuuint32_t)b[i];
    es[i] = 1;
  }
  int why = 0;
  EncodeTiled fn = (EncodeTiled)driver("cuTensorMapEncodeTiled", &why);
  if (!fn) return why;
  CUtensorMap map;
  CUresult rc = fn(&map, bf16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16, (cuuint32_t)rank,
                   (void*)(uintptr_t)address, gd, gs, bd, es, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                   CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  return result(env, out, rc, &map);
}

// An im2col tensor map of 16-bit elements over a channels-last image batch at `address`: dims[4] = (C, W, H, N),
// strides[3] bytes, the pixel window's corners lower[2] / upper[2] and traversal strides step[2] (W, H: innermost
// first, as the dims), `channels` per pixel and `pixels` per box, 128-byte swizzle, zero fill. Results as encode16.
JNIEXPORT jint JNICALL Java_dev_puppetengine_backend_cuda_TensorMaps_encodeIm2col16(JNIEnv* env, jclass cls, jlongArray out, jboolean bf16,
                                                                                   jlong address, jlongArray dims, jlongArray strides,
                                                                                   jintArray lower, jintArray upper, jintArray step,
                                                                                   jint channels, jint pixels) {
  (void)cls;
  if ((*env)->GetArrayLength(env, dims) != 4 || (*env)->GetArrayLength(env, strides) != 3 || (*env)->GetArrayLength(env, lower) != 2 ||
      (*env)->GetArrayLength(env, upper) != 2 || (*env)->GetArrayLength(env, step) != 2 ||
      (*env)->GetArrayLength(env, out) != CU_TENSOR_MAP_NUM_QWORDS || channels <= 0 || pixels <= 0)
    return BAD_ARGUMENTS;
  cuuint64_t gd[4], gs[3];
  if (extent(env, dims, strides, 4, gd, gs)) return BAD_ARGUMENTS;
  jint lo[2], hi[2], st[2];
  (*env)->GetIntArrayRegion(env, lower, 0, 2, lo);
  (*env)->GetIntArrayRegion(env, upper, 0, 2, hi);
  (*env)->GetIntArrayRegion(env, step, 0, 2, st);
  if (st[0] < 1 || st[0] > 8 || st[1] < 1 || st[1] > 8) return BAD_ARGUMENTS;
  cuuint32_t es[4] = {1, (cuuint32_t)st[0], (cuuint32_t)st[1], 1};
  int lower_c[2] = {lo[0], lo[1]}, upper_c[2] = {hi[0], hi[1]};
  int why = 0;
  EncodeIm2col fn = (EncodeIm2col)driver("cuTensorMapEncodeIm2col", &why);
  if (!fn) return why;
  CUtensorMap map;
  CUresult rc = fn(&map, bf16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 4, (void*)(uintptr_t)address, gd, gs,
                   lower_c, upper_c, (cuuint32_t)channels, (cuuint32_t)pixels, es, CU_TENSOR_MAP_INTERLEAVE_NONE,
                   CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  return result(env, out, rc, &map);
}
