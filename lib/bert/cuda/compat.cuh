/* compat: what the CUDA backend takes from CUDA, from the real toolkit or,
 * with CUEMU defined, from the CPU emulation of tests/cuda/cuemu.h (which
 * runs these same kernels on the host for the CPU-only test suite); plus
 * the few spellings the two disagree on: a kernel launch (the emulation
 * cannot parse <<< >>>) and dynamic shared memory. */
#ifndef PIPECLF_CUDA_COMPAT_CUH
#define PIPECLF_CUDA_COMPAT_CUH

#ifdef CUEMU
#include "cuemu.h"
#else
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#define DYNAMIC_SMEM(type, name)                                                                                     \
    extern __shared__ __align__(16) unsigned char name##_bytes_[];                                                   \
    type *name = reinterpret_cast<type *>(name##_bytes_)
#endif

/* Ends the program on a failed CUDA call; each program that includes this
 * header defines it (the library dies with the program's name, the harness
 * prints a FAIL line). */
static void cuda_fatal(const char *what, const char *detail, const char *file, int line);

#define CUDA_CHECK(call)                                                                                             \
    do {                                                                                                             \
        cudaError_t e_ = (call);                                                                                     \
        if (e_ != cudaSuccess) cuda_fatal(#call, cudaGetErrorString(e_), __FILE__, __LINE__);                        \
    } while (0)

/* kernel<<<grid, block, smem, stream>>>(args...), then the launch error (a
 * bad configuration, a GPU the build has no code for) checked at once. */
template <typename... KArgs, typename... Args>
static inline void launch(const char *name, void (*kernel)(KArgs...), dim3 grid, dim3 block, size_t smem,
                          cudaStream_t stream, Args... args)
{
#ifdef CUEMU
    (void)stream;
    cuemu_launch(name, grid, block, smem, [=]() { kernel(static_cast<KArgs>(args)...); });
#else
    kernel<<<grid, block, smem, stream>>>(static_cast<KArgs>(args)...);
#endif
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) cuda_fatal(name, cudaGetErrorString(e), __FILE__, __LINE__);
}

#endif
