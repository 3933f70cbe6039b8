/* The CUDA side of lib/bert/bert_cuda.h in a build without CUDA (no nvcc, or
 * SANITIZE=1: see mk/cuda.mk): no device is ever found, and every entry
 * point says that CUDA support was not built in. The CPU path (lib/bert)
 * is the whole program then. */
#include "bert/bert_cuda.h"
#include "core/common.h"

#include <stdio.h>

#define NOT_BUILT "CUDA support was not built in (pipeclf was built without nvcc, or with SANITIZE=1)"

int bert_cuda_devices(char *why, size_t whylen)
{
    if (why) snprintf(why, whylen, "%s", NOT_BUILT);
    return -1;
}

bert_cuda *bert_cuda_new(bert_model *m, const bert_cuda_options *o, char *err, size_t errlen)
{
    (void)m, (void)o;
    snprintf(err, errlen, "%s", NOT_BUILT);
    return NULL;
}

/* Unreachable without a twin (bert_cuda_new never makes one); they die
 * rather than pretend. */
void bert_cuda_free(bert_cuda *g)
{
    (void)g;
}

int bert_cuda_forward(bert_cuda *g, bert_model *m, const bert_batch *b, int training)
{
    (void)g, (void)m, (void)b, (void)training;
    die("%s", NOT_BUILT);
}

void bert_cuda_backward(bert_cuda *g, bert_model *m, double denominator)
{
    (void)g, (void)m, (void)denominator;
    die("%s", NOT_BUILT);
}

void bert_cuda_zero_grad(bert_cuda *g)
{
    (void)g;
    die("%s", NOT_BUILT);
}

float bert_cuda_clip_grad_norm(bert_cuda *g, float max_norm)
{
    (void)g, (void)max_norm;
    die("%s", NOT_BUILT);
}

int bert_cuda_adamw_step(bert_cuda *g, bert_model *m, const bert_adamw *o)
{
    (void)g, (void)m, (void)o;
    die("%s", NOT_BUILT);
}

void bert_cuda_pull(bert_cuda *g, bert_model *m, int what)
{
    (void)g, (void)m, (void)what;
    die("%s", NOT_BUILT);
}

void bert_cuda_push(bert_cuda *g, const bert_model *m, int what)
{
    (void)g, (void)m, (void)what;
    die("%s", NOT_BUILT);
}

const bert_loss_scaler *bert_cuda_scaler(const bert_cuda *g)
{
    (void)g;
    return NULL;
}

void bert_cuda_set_scaler(bert_cuda *g, const bert_loss_scaler *s)
{
    (void)g, (void)s;
    die("%s", NOT_BUILT);
}

const char *bert_cuda_describe(const bert_cuda *g)
{
    (void)g;
    return NOT_BUILT;
}
