/* The CUDA side of lib/bert/bert_cuda.h in a CUDA build: the GPU code
 * (lib/bert/cuda/bert_cuda.cu, linked with cuBLAS and the CUDA runtime) is the
 * shared library libpipeclf_cuda.so beside the programs' lib/ directory,
 * loaded the first time a program asks for a device. Linking cuBLAS into
 * the programs themselves cost every start of predict and bert-train about
 * 60 ms and 26,000 page faults, whether or not a GPU was wanted; now only
 * --device cuda or auto pays that.
 *
 * The library finds the programs' own functions (die, xcalloc, the loss
 * scaler, ...) among the few symbols they export (lib/bert/cuda/exports.list)
 * and binds its own bert_cuda_* calls to itself (-Bsymbolic), so these
 * forwarders and the library's definitions of the same names do not meet. Where it cannot
 * be loaded, no device is found and bert_cuda_new says why, as stub.c does
 * in a build without CUDA. */
#include "bert/bert_cuda.h"
#include "core/common.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#define CUDA_LIBRARY "libpipeclf_cuda.so"

/* every entry point of lib/bert/bert_cuda.h's CUDA side: name, return type, parameters */
#define CUDA_FUNCTIONS(X)                                                                           \
    X(devices, int, (char *why, size_t whylen))                                                     \
    X(new, bert_cuda *, (bert_model * m, const bert_cuda_options *o, char *err, size_t errlen))     \
    X(free, void, (bert_cuda * g))                                                                  \
    X(forward, int, (bert_cuda * g, bert_model *m, const bert_batch *b, int training))              \
    X(backward, void, (bert_cuda * g, bert_model *m, double denominator))                           \
    X(zero_grad, void, (bert_cuda * g))                                                             \
    X(clip_grad_norm, float, (bert_cuda * g, float max_norm))                                       \
    X(adamw_step, int, (bert_cuda * g, bert_model *m, const bert_adamw *o))                         \
    X(pull, void, (bert_cuda * g, bert_model *m, int what))                                         \
    X(push, void, (bert_cuda * g, const bert_model *m, int what))                                   \
    X(scaler, const bert_loss_scaler *, (const bert_cuda *g))                                       \
    X(set_scaler, void, (bert_cuda * g, const bert_loss_scaler *s))                                 \
    X(describe, const char *, (const bert_cuda *g))

static struct {
#define FIELD(name, ret, params) ret(*name) params;
    CUDA_FUNCTIONS(FIELD)
#undef FIELD
    int loaded;
    char why[512];
} cuda;

static pthread_once_t cuda_once = PTHREAD_ONCE_INIT;

static void load(void)
{
    void *h = dlopen(CUDA_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(cuda.why, sizeof cuda.why, "cannot load the CUDA backend: %s", dlerror());
        return;
    }
#define RESOLVE(name, ret, params)                                                                          \
    if (!(*(void **)&cuda.name = dlsym(h, "bert_cuda_" #name))) {                                           \
        snprintf(cuda.why, sizeof cuda.why, "the CUDA backend %s has no bert_cuda_" #name, CUDA_LIBRARY);   \
        return;                                                                                             \
    }
    CUDA_FUNCTIONS(RESOLVE)
#undef RESOLVE
    cuda.loaded = 1;
}

/* 1 once the library is in; else 0 with the reason in cuda.why */
static int loaded(void)
{
    pthread_once(&cuda_once, load);
    return cuda.loaded;
}

int bert_cuda_devices(char *why, size_t whylen)
{
    if (loaded()) return cuda.devices(why, whylen);
    if (why) snprintf(why, whylen, "%s", cuda.why);
    return -1;
}

bert_cuda *bert_cuda_new(bert_model *m, const bert_cuda_options *o, char *err, size_t errlen)
{
    if (loaded()) return cuda.new(m, o, err, errlen);
    snprintf(err, errlen, "%s", cuda.why);
    return NULL;
}

/* The rest take a twin, which only a loaded library makes (a NULL one, as
 * free, scaler and describe may get, needs no library). */
void bert_cuda_free(bert_cuda *g)
{
    if (g) cuda.free(g);
}

const bert_loss_scaler *bert_cuda_scaler(const bert_cuda *g) { return g ? cuda.scaler(g) : NULL; }

const char *bert_cuda_describe(const bert_cuda *g) { return g ? cuda.describe(g) : "no GPU twin"; }

int bert_cuda_forward(bert_cuda *g, bert_model *m, const bert_batch *b, int training)
{
    return cuda.forward(g, m, b, training);
}

void bert_cuda_backward(bert_cuda *g, bert_model *m, double denominator) { cuda.backward(g, m, denominator); }

void bert_cuda_zero_grad(bert_cuda *g) { cuda.zero_grad(g); }

float bert_cuda_clip_grad_norm(bert_cuda *g, float max_norm) { return cuda.clip_grad_norm(g, max_norm); }

int bert_cuda_adamw_step(bert_cuda *g, bert_model *m, const bert_adamw *o) { return cuda.adamw_step(g, m, o); }

void bert_cuda_pull(bert_cuda *g, bert_model *m, int what) { cuda.pull(g, m, what); }

void bert_cuda_push(bert_cuda *g, const bert_model *m, int what) { cuda.push(g, m, what); }

void bert_cuda_set_scaler(bert_cuda *g, const bert_loss_scaler *s) { cuda.set_scaler(g, s); }
