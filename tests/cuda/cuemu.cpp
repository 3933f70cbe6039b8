/* cuemu: the emulation behind cuemu.h (see there for what it checks). */
#include "cuemu.h"

#include <map>
#include <vector>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

uint3 threadIdx, blockIdx;
dim3 blockDim, gridDim;

namespace {

[[noreturn]] void fatal(const char *fmt, const char *a = "", const char *b = "")
{
    fprintf(stderr, "cuemu: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\n");
    abort();
}

/* ---- fibers ----
 * A thread is a fiber with its own stack. On x86-64 a switch is six pushed
 * registers and a stack pointer (ucontext's swapcontext makes a system
 * call each time, and a block switches thousands of times); elsewhere,
 * ucontext. */

enum { F_RUN, F_AT_BLOCK, F_AT_WARP, F_DONE };

struct fiber {
    void *sp;
#if !defined(__x86_64__)
    ucontext_t ctx;
#endif
    int state;
    uint3 idx;
    char *stack;
};

const size_t STACK = 256 << 10;
fiber fibers[1024];
int nfibers, current;
void *sched_sp;
#if !defined(__x86_64__)
ucontext_t sched;
#endif
const std::function<void()> *body;
const char *kernel_name;
unsigned char exchange[2][32][32][16]; /* two buffers, used in turn */
unsigned char exchange_turn[1024];
unsigned char *dyn_smem;
int reverse_order = -1;
long launches;
cudaError_t last_error = cudaSuccess;

} /* namespace */

#if defined(__x86_64__)
/* cuemu_switch(&save, to): saves the callee-saved registers on this stack
 * and its pointer in *save, continues on stack `to` */
extern "C" void cuemu_switch(void **save, void *to);
__asm__(".text\n"
        ".globl cuemu_switch\n"
        ".type cuemu_switch,@function\n"
        "cuemu_switch:\n"
        "    pushq %rbp\n    pushq %rbx\n    pushq %r12\n    pushq %r13\n    pushq %r14\n    pushq %r15\n"
        "    movq %rsp, (%rdi)\n"
        "    movq %rsi, %rsp\n"
        "    popq %r15\n    popq %r14\n    popq %r13\n    popq %r12\n    popq %rbx\n    popq %rbp\n"
        "    ret\n"
        ".size cuemu_switch, .-cuemu_switch\n");
#endif

namespace {

[[noreturn]] void fiber_main()
{
    (*body)();
    fibers[current].state = F_DONE;
#if defined(__x86_64__)
    cuemu_switch(&fibers[current].sp, sched_sp);
#else
    setcontext(&sched);
#endif
    abort(); /* a finished fiber is never resumed */
}

void yield(int state)
{
    fibers[current].state = state;
#if defined(__x86_64__)
    cuemu_switch(&fibers[current].sp, sched_sp);
#else
    swapcontext(&fibers[current].ctx, &sched);
#endif
}

void start_fiber(fiber *f)
{
#if defined(__x86_64__)
    /* a stack that cuemu_switch pops into fiber_main: six registers, then
     * the "return address", placed so fiber_main starts with the stack
     * aligned as after a call */
    uintptr_t top = ((uintptr_t)f->stack + STACK) & ~(uintptr_t)15;
    void **sp = (void **)(top - 16);
    sp[0] = (void *)fiber_main;
    sp -= 6;
    for (int k = 0; k < 6; k++) sp[k] = NULL;
    f->sp = sp;
#else
    getcontext(&f->ctx);
    f->ctx.uc_stack.ss_sp = f->stack;
    f->ctx.uc_stack.ss_size = STACK;
    f->ctx.uc_link = NULL;
    makecontext(&f->ctx, (void (*)())fiber_main, 0);
#endif
}

void resume(int i)
{
#if defined(__x86_64__)
    cuemu_switch(&sched_sp, fibers[i].sp);
#else
    swapcontext(&sched, &fibers[i].ctx);
#endif
}

void run_block(int n)
{
    for (int i = 0; i < n; i++) {
        fiber *f = &fibers[i];
        if (!f->stack) {
            f->stack = (char *)mmap(NULL, STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (f->stack == MAP_FAILED) fatal("cannot map a fiber stack");
        }
        f->state = F_RUN;
        exchange_turn[i] = 0;
        f->idx.x = (unsigned)i % blockDim.x;
        f->idx.y = ((unsigned)i / blockDim.x) % blockDim.y;
        f->idx.z = (unsigned)i / (blockDim.x * blockDim.y);
        start_fiber(f);
    }
    nfibers = n;
    for (;;) {
        int alive = 0, at_block = 0;
        for (int i = 0; i < n; i++) {
            alive += fibers[i].state != F_DONE;
            at_block += fibers[i].state == F_AT_BLOCK;
        }
        if (!alive) break;
        if (at_block == alive)
            for (int i = 0; i < n; i++)
                if (fibers[i].state == F_AT_BLOCK) fibers[i].state = F_RUN;
        for (int w = 0; w * 32 < n; w++) {
            int live = 0, waiting = 0, exited = 0;
            for (int i = w * 32; i < n && i < w * 32 + 32; i++) {
                live += fibers[i].state != F_DONE;
                exited += fibers[i].state == F_DONE;
                waiting += fibers[i].state == F_AT_WARP;
            }
            if (waiting && waiting == live) {
                if (exited) fatal("kernel %s: a warp shuffle or __syncwarp with lanes that have exited", kernel_name);
                for (int i = w * 32; i < n && i < w * 32 + 32; i++)
                    if (fibers[i].state == F_AT_WARP) fibers[i].state = F_RUN;
            }
        }
        int progressed = 0;
        for (int k = 0; k < n; k++) {
            const int i = reverse_order ? n - 1 - k : k;
            if (fibers[i].state != F_RUN) continue;
            current = i;
            threadIdx = fibers[i].idx;
            resume(i);
            progressed = 1;
        }
        if (!progressed)
            fatal("kernel %s: deadlock: threads wait at a barrier (__syncthreads or a warp shuffle) that others "
                  "never reach", kernel_name);
    }
}

/* ---- device memory ---- */

struct allocation {
    char *map;
    size_t maplen, size;
};
std::map<uintptr_t, allocation> allocations; /* by start address */

const allocation *find_alloc(const void *p, uintptr_t *start)
{
    const uintptr_t a = (uintptr_t)p;
    auto it = allocations.upper_bound(a);
    if (it == allocations.begin()) return NULL;
    --it;
    if (a >= it->first + it->second.size && !(a == it->first && it->second.size == 0)) return NULL;
    *start = it->first;
    return &it->second;
}

bool device_range(const void *p, size_t n)
{
    uintptr_t start;
    const allocation *al = find_alloc(p, &start);
    return al && (uintptr_t)p + n <= start + al->size;
}

cudaError_t fail(cudaError_t e)
{
    last_error = e;
    return e;
}

} /* namespace */

/* ---- launches ---- */

void cuemu_set_order(int reverse)
{
    reverse_order = reverse;
}

long cuemu_launches()
{
    return launches;
}

void *cuemu_dynamic_smem()
{
    return dyn_smem;
}

int cuemu_lane()
{
    return current % 32;
}

void __syncthreads()
{
    yield(F_AT_BLOCK);
}

void __syncwarp(unsigned)
{
    yield(F_AT_WARP);
}

void cuemu_warp_exchange(const void *mine, void *theirs, int src, size_t size)
{
    /* one barrier a shuffle: a lane that races ahead to its next shuffle
     * writes the other buffer, which nobody reads before that barrier */
    const int w = current / 32, lane = current % 32, turn = exchange_turn[current];
    exchange_turn[current] ^= 1;
    if (size > sizeof exchange[0][0][0]) fatal("warp exchange of a value wider than 16 bytes");
    if (w * 32 + src >= nfibers || src < 0) src = lane;
    memcpy(exchange[turn][w][lane], mine, size);
    yield(F_AT_WARP);
    memcpy(theirs, exchange[turn][w][src], size);
}

void cuemu_launch(const char *name, dim3 grid, dim3 block, size_t smem, const std::function<void()> &fn)
{
    if (reverse_order < 0) {
        const char *o = getenv("CUEMU_ORDER");
        reverse_order = o && strcmp(o, "reverse") == 0;
    }
    const size_t threads = (size_t)block.x * block.y * block.z;
    if (!block.x || !block.y || !block.z || !grid.x || !grid.y || !grid.z || threads > 1024 || block.z > 64 ||
        grid.y > 65535 || grid.z > 65535 || grid.x > 2147483647u || smem > 48 * 1024) {
        last_error = cudaErrorInvalidConfiguration;
        return;
    }
    launches++;
    kernel_name = name;
    body = &fn;
    blockDim = block;
    gridDim = grid;
    unsigned char *smem_buf = smem ? (unsigned char *)malloc(smem) : NULL;
    for (unsigned z = 0; z < grid.z; z++)
        for (unsigned y = 0; y < grid.y; y++)
            for (unsigned x = 0; x < grid.x; x++) {
                blockIdx.x = x, blockIdx.y = y, blockIdx.z = z;
                if (smem_buf) memset(smem_buf, 0xff, smem);
                dyn_smem = smem_buf;
                run_block((int)threads);
            }
    free(smem_buf);
    dyn_smem = NULL;
}

/* ---- the runtime ---- */

cudaError_t cudaGetDeviceCount(int *count)
{
    const char *n = getenv("CUEMU_DEVICES");
    *count = n ? atoi(n) : 1;
    return *count ? cudaSuccess : fail(cudaErrorNoDevice);
}

cudaError_t cudaSetDevice(int device)
{
    return device == 0 ? cudaSuccess : fail(cudaErrorInvalidDevice);
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp *prop, int device)
{
    if (device != 0) return fail(cudaErrorInvalidDevice);
    memset(prop, 0, sizeof *prop);
    snprintf(prop->name, sizeof prop->name, "cuemu (the CPU emulation of tests/cuda)");
    prop->major = 9;
    prop->minor = 0;
    prop->multiProcessorCount = 1;
    prop->totalGlobalMem = (size_t)80 << 30;
    prop->sharedMemPerBlock = 48 << 10;
    prop->maxThreadsPerBlock = 1024;
    prop->warpSize = 32;
    return cudaSuccess;
}

cudaError_t cudaFuncGetAttributes(cudaFuncAttributes *attr, const void *)
{
    memset(attr, 0, sizeof *attr);
    attr->maxThreadsPerBlock = 1024;
    return cudaSuccess;
}

cudaError_t cudaMalloc(void **p, size_t size)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE), body_len = (size + 15) / 16 * 16;
    const size_t maplen = (body_len + page - 1) / page * page + page;
    char *map = (char *)mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) return fail(cudaErrorMemoryAllocation);
    mprotect(map + maplen - page, page, PROT_NONE);
    char *start = map + maplen - page - body_len;
    memset(start, 0xff, body_len);
    allocations[(uintptr_t)start] = allocation{map, maplen, size};
    *p = start;
    return cudaSuccess;
}

cudaError_t cudaFree(void *p)
{
    if (!p) return cudaSuccess;
    auto it = allocations.find((uintptr_t)p);
    if (it == allocations.end()) return fail(cudaErrorInvalidValue);
    munmap(it->second.map, it->second.maplen);
    allocations.erase(it);
    return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t *free_b, size_t *total_b)
{
    *free_b = *total_b = (size_t)80 << 30;
    return cudaSuccess;
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t n, cudaMemcpyKind kind)
{
    if (n == 0) return cudaSuccess;
    const bool dst_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
    const bool src_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
    if ((dst_dev && !device_range(dst, n)) || (src_dev && !device_range(src, n)) ||
        (kind == cudaMemcpyHostToDevice && device_range(src, 1)) || (kind == cudaMemcpyDeviceToHost && device_range(dst, 1)))
        return fail(cudaErrorInvalidValue);
    memcpy(dst, src, n);
    return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t n, cudaMemcpyKind kind, cudaStream_t)
{
    return cudaMemcpy(dst, src, n, kind);
}

cudaError_t cudaMemset(void *p, int v, size_t n)
{
    if (n && !device_range(p, n)) return fail(cudaErrorInvalidValue);
    memset(p, v, n);
    return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void *p, int v, size_t n, cudaStream_t)
{
    return cudaMemset(p, v, n);
}

cudaError_t cudaStreamCreate(cudaStream_t *s)
{
    *s = (cudaStream_t)malloc(16);
    return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t s)
{
    free((void *)s);
    return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t)
{
    return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize()
{
    return cudaSuccess;
}

cudaError_t cudaGetLastError()
{
    cudaError_t e = last_error;
    last_error = cudaSuccess;
    return e;
}

cudaError_t cudaPeekAtLastError()
{
    return last_error;
}

const char *cudaGetErrorString(cudaError_t e)
{
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    default: return "unknown error";
    }
}

struct CUevent_st {
    double t;
};

cudaError_t cudaEventCreate(cudaEvent_t *e)
{
    *e = (cudaEvent_t)calloc(1, sizeof(CUevent_st));
    return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ((CUevent_st *)e)->t = ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
    return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t)
{
    return cudaSuccess;
}

cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b)
{
    *ms = (float)(((CUevent_st *)b)->t - ((CUevent_st *)a)->t);
    return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t e)
{
    free((void *)e);
    return cudaSuccess;
}

/* ---- cuBLAS ---- */

struct cublasContext {
    cublasMath_t math;
    cublasAtomicsMode_t atomics;
};

cublasStatus_t cublasCreate_v2(cublasHandle_t *h)
{
    *h = (cublasHandle_t)calloc(1, sizeof(cublasContext));
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy_v2(cublasHandle_t h)
{
    free(h);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream_v2(cublasHandle_t, cudaStream_t)
{
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t, void *ws, size_t n)
{
    return n == 0 || device_range(ws, n) ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_INVALID_VALUE;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t h, cublasMath_t mode)
{
    h->math = mode;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetAtomicsMode(cublasHandle_t h, cublasAtomicsMode_t mode)
{
    h->atomics = mode;
    return CUBLAS_STATUS_SUCCESS;
}

const char *cublasGetStatusString(cublasStatus_t s)
{
    switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "CUBLAS_STATUS_INTERNAL_ERROR";
    }
}

namespace {

size_t type_size(cudaDataType t)
{
    return t == CUDA_R_32F ? 4 : 2;
}

float load(const void *p, cudaDataType t, size_t i)
{
    if (t == CUDA_R_32F) return ((const float *)p)[i];
    if (t == CUDA_R_16F) return __half2float(((const __half *)p)[i]);
    return __bfloat162float(((const __nv_bfloat16 *)p)[i]);
}

void store(void *p, cudaDataType t, size_t i, float v)
{
    if (t == CUDA_R_32F) ((float *)p)[i] = v;
    else if (t == CUDA_R_16F) ((__half *)p)[i] = __float2half_rn(v);
    else ((__nv_bfloat16 *)p)[i] = __float2bfloat16_rn(v);
}

/* fp32 to TF32 (10 mantissa bits), round to nearest even */
float tf32(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0xfffu + ((u >> 13) & 1u)) & 0xffffe000u;
    memcpy(&x, &u, 4);
    return x;
}

/* the bytes a column-major rows x cols matrix with leading dimension ld spans */
size_t span(int rows, int cols, int ld, cudaDataType t)
{
    return rows && cols ? ((size_t)(cols - 1) * ld + rows) * type_size(t) : 0;
}

cublasStatus_t gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                    const void *alpha, const void *A, cudaDataType at, int lda, long long sa, const void *B,
                    cudaDataType bt, int ldb, long long sb, const void *beta, void *C, cudaDataType ct, int ldc,
                    long long sc, int batch, cublasComputeType_t compute)
{
    if (m < 0 || n < 0 || k < 0 || batch < 0) return CUBLAS_STATUS_INVALID_VALUE;
    if ((ta != CUBLAS_OP_N && ta != CUBLAS_OP_T) || (tb != CUBLAS_OP_N && tb != CUBLAS_OP_T))
        return CUBLAS_STATUS_INVALID_VALUE;
    const int arows = ta == CUBLAS_OP_N ? m : k, acols = ta == CUBLAS_OP_N ? k : m;
    const int brows = tb == CUBLAS_OP_N ? k : n, bcols = tb == CUBLAS_OP_N ? n : k;
    if (lda < std::max(1, arows) || ldb < std::max(1, brows) || ldc < std::max(1, m)) return CUBLAS_STATUS_INVALID_VALUE;
    const bool f32 = at == CUDA_R_32F && bt == CUDA_R_32F && ct == CUDA_R_32F;
    const bool lowp = at == bt && (at == CUDA_R_16F || at == CUDA_R_16BF) && (ct == at || ct == CUDA_R_32F);
    const bool tf = compute == CUBLAS_COMPUTE_32F_FAST_TF32 || (compute == CUBLAS_COMPUTE_32F && f32 &&
                                                                h->math == CUBLAS_TF32_TENSOR_OP_MATH);
    if (compute == CUBLAS_COMPUTE_32F) {
        if (!f32 && !lowp) return CUBLAS_STATUS_NOT_SUPPORTED;
    } else if (compute == CUBLAS_COMPUTE_32F_FAST_TF32 || compute == CUBLAS_COMPUTE_32F_PEDANTIC) {
        if (!f32) return CUBLAS_STATUS_NOT_SUPPORTED;
    } else {
        return CUBLAS_STATUS_NOT_SUPPORTED;
    }
    for (int b = 0; b < batch; b++) {
        const char *Ab = (const char *)A + (size_t)b * sa * type_size(at);
        const char *Bb = (const char *)B + (size_t)b * sb * type_size(bt);
        char *Cb = (char *)C + (size_t)b * sc * type_size(ct);
        if ((m && k && !device_range(Ab, span(arows, acols, lda, at))) ||
            (k && n && !device_range(Bb, span(brows, bcols, ldb, bt))) || (m && n && !device_range(Cb, span(m, n, ldc, ct))))
            return CUBLAS_STATUS_INVALID_VALUE;
    }
    const float al = *(const float *)alpha, be = *(const float *)beta;
    /* op(A) row by row and op(B) column by column, in float (TF32-rounded
     * when the compute type says so), so the inner loop is contiguous */
    std::vector<float> opa((size_t)m * k), opb((size_t)n * k);
    for (int b = 0; b < batch; b++) {
        const char *Ab = (const char *)A + (size_t)b * sa * type_size(at);
        const char *Bb = (const char *)B + (size_t)b * sb * type_size(bt);
        char *Cb = (char *)C + (size_t)b * sc * type_size(ct);
        for (int i = 0; i < m; i++)
            for (int l = 0; l < k; l++) {
                const float x = load(Ab, at, ta == CUBLAS_OP_N ? (size_t)l * lda + i : (size_t)i * lda + l);
                opa[(size_t)i * k + l] = tf ? tf32(x) : x;
            }
        for (int j = 0; j < n; j++)
            for (int l = 0; l < k; l++) {
                const float y = load(Bb, bt, tb == CUBLAS_OP_N ? (size_t)j * ldb + l : (size_t)l * ldb + j);
                opb[(size_t)j * k + l] = tf ? tf32(y) : y;
            }
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++) {
                const float *x = &opa[(size_t)i * k], *y = &opb[(size_t)j * k];
                float acc = 0.0f;
                for (int l = 0; l < k; l++) acc += x[l] * y[l];
                const size_t ci = (size_t)j * ldc + i;
                /* beta 0: C is not read (it may hold anything) */
                store(Cb, ct, ci, be == 0.0f ? al * acc : al * acc + be * load(Cb, ct, ci));
            }
    }
    return CUBLAS_STATUS_SUCCESS;
}

} /* namespace */

cublasStatus_t cublasGemmEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                            const void *alpha, const void *A, cudaDataType at, int lda, const void *B, cudaDataType bt,
                            int ldb, const void *beta, void *C, cudaDataType ct, int ldc, cublasComputeType_t compute,
                            cublasGemmAlgo_t)
{
    return gemm(h, ta, tb, m, n, k, alpha, A, at, lda, 0, B, bt, ldb, 0, beta, C, ct, ldc, 0, 1, compute);
}

cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                                          int k, const void *alpha, const void *A, cudaDataType at, int lda,
                                          long long sa, const void *B, cudaDataType bt, int ldb, long long sb,
                                          const void *beta, void *C, cudaDataType ct, int ldc, long long sc, int batch,
                                          cublasComputeType_t compute, cublasGemmAlgo_t)
{
    return gemm(h, ta, tb, m, n, k, alpha, A, at, lda, sa, B, bt, ldb, sb, beta, C, ct, ldc, sc, batch, compute);
}
