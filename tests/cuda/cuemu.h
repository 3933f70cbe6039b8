/* cuemu: a CPU emulation of the CUDA the backend uses (the runtime calls,
 * kernel launches with blocks, warps, __syncthreads and warp shuffles, and
 * cublasGemmEx / cublasGemmStridedBatchedEx), so that the CPU-only test
 * suite runs lib/bert/cuda's real kernels and model code (compiled with g++ and
 * CUEMU defined; lib/bert/cuda/compat.cuh includes this instead of the toolkit's
 * runtime). It is a checker, not a simulator of speed:
 *
 *  - each block runs its threads as cooperative fibers: a thread runs until
 *    it reaches __syncthreads or a warp shuffle, and a barrier opens only
 *    when every live thread of the block (or lane of the warp) is at it; a
 *    barrier some threads never reach is reported as a deadlock, as is a
 *    warp shuffle some lane skips. Threads run in index order, or reversed
 *    (cuemu_set_order(1), CUEMU_ORDER=reverse), which turns a missing
 *    barrier into a wrong result;
 *  - device memory ends on an inaccessible page (an overrun by 16 bytes or
 *    more faults at once), freed memory is unmapped, and new memory is
 *    filled with 0xff bytes (NaN as floats), so a kernel that reads what
 *    nothing wrote gives NaN;
 *  - cuBLAS checks its arguments (leading dimensions, type combinations,
 *    the operands lie inside device allocations) as cuBLAS does, computes
 *    in fp32 in a fixed order, and rounds TF32 inputs to TF32;
 *  - launch configurations are checked against the hardware limits (1024
 *    threads, 48 KiB of shared memory, grid dimensions). */
#ifndef PIPECLF_CUEMU_H
#define PIPECLF_CUEMU_H

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <functional>
#include <math.h>
#include <stddef.h>

#undef __shared__
/* blocks run one at a time, so a function's statics are the block's shared memory */
#define __shared__ static
#define DYNAMIC_SMEM(type, name) type *name = reinterpret_cast<type *>(cuemu_dynamic_smem())

extern uint3 threadIdx, blockIdx;
extern dim3 blockDim, gridDim;
static const int warpSize = 32;

void cuemu_launch(const char *name, dim3 grid, dim3 block, size_t smem, const std::function<void()> &body);
void *cuemu_dynamic_smem();
/* 0: threads in index order; 1: reversed (also CUEMU_ORDER=reverse) */
void cuemu_set_order(int reverse);
/* kernel launches so far */
long cuemu_launches();

void __syncthreads();
void __syncwarp(unsigned mask = 0xffffffffu);
/* this lane's value out, lane src's value in (a warp-wide exchange: every
 * live lane of the warp takes part) */
void cuemu_warp_exchange(const void *mine, void *theirs, int src, size_t size);
int cuemu_lane();

template <typename T> T __shfl_xor_sync(unsigned, T v, int lane_mask, int = 32)
{
    T r;
    cuemu_warp_exchange(&v, &r, cuemu_lane() ^ lane_mask, sizeof(T));
    return r;
}

template <typename T> T __shfl_down_sync(unsigned, T v, unsigned delta, int width = 32)
{
    T r;
    const int lane = cuemu_lane(), src = lane + (int)delta;
    cuemu_warp_exchange(&v, &r, (src % width) < (lane % width) || src >= 32 ? lane : src, sizeof(T));
    return r;
}

template <typename T> T __shfl_sync(unsigned, T v, int src, int = 32)
{
    T r;
    cuemu_warp_exchange(&v, &r, src & 31, sizeof(T));
    return r;
}

/* one OS thread runs every fiber: an atomic is a plain read-modify-write */
inline float atomicAdd(float *p, float v)
{
    float old = *p;
    *p = old + v;
    return old;
}

inline double atomicAdd(double *p, double v)
{
    double old = *p;
    *p = old + v;
    return old;
}

template <typename T> T __ldg(const T *p) { return *p; }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
using std::max;
using std::min;

#endif
