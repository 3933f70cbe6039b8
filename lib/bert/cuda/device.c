/* The device switch of lib/bert/bert_cuda.h: option names, the fp16 loss scaler,
 * and the models attached to a GPU twin. Plain C, built with or without
 * CUDA (the CUDA side is lib/bert/cuda/bert_cuda.cu, or lib/bert/cuda/stub.c). */
#include "bert/bert_cuda.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int bert_device_parse(const char *s, bert_device *d)
{
    static const char *const names[] = {"cpu", "cuda", "auto"};
    for (int i = 0; i < 3; i++)
        if (strcmp(s, names[i]) == 0) {
            *d = (bert_device)i;
            return 0;
        }
    return -1;
}

const char *bert_device_name(bert_device d)
{
    return d == BERT_DEVICE_CUDA ? "cuda" : d == BERT_DEVICE_AUTO ? "auto" : "cpu";
}

int bert_precision_parse(const char *s, bert_precision *p)
{
    static const struct {
        const char *name;
        bert_precision p;
    } names[] = {{"fp32", BERT_FP32}, {"float32", BERT_FP32}, {"tf32", BERT_TF32}, {"fp16", BERT_FP16},
                 {"float16", BERT_FP16}, {"bf16", BERT_BF16}, {"bfloat16", BERT_BF16}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i].name) == 0) {
            *p = names[i].p;
            return 0;
        }
    return -1;
}

const char *bert_precision_name(bert_precision p)
{
    switch (p) {
    case BERT_TF32: return "tf32";
    case BERT_FP16: return "fp16";
    case BERT_BF16: return "bf16";
    case BERT_FP32: break;
    }
    return "fp32";
}

double bert_precision_eps(bert_precision p)
{
    switch (p) {
    case BERT_TF32:
    case BERT_FP16: return ldexp(1.0, -11);
    case BERT_BF16: return ldexp(1.0, -8);
    case BERT_FP32: break;
    }
    return ldexp(1.0, -24);
}

void bert_loss_scaler_init(bert_loss_scaler *s, double init_scale, long interval)
{
    memset(s, 0, sizeof *s);
    s->scale = init_scale;
    s->growth = 2.0;
    s->backoff = 0.5;
    s->interval = interval;
}

/* torch.cuda.amp.GradScaler.update: an overflow backs off and restarts the
 * count; `interval` clean steps in a row grow the scale. */
int bert_loss_scaler_update(bert_loss_scaler *s, int found_inf)
{
    if (found_inf) {
        s->scale *= s->backoff;
        s->good_steps = 0;
        s->skipped++;
        return 0;
    }
    if (++s->good_steps >= s->interval) {
        s->scale *= s->growth;
        s->good_steps = 0;
    }
    return 1;
}

void bert_cuda_options_default(bert_cuda_options *o)
{
    memset(o, 0, sizeof *o);
    o->precision = BERT_FP32;
    o->init_loss_scale = 65536.0;
    o->loss_scale_interval = 2000;
}

/* ------------------------------------------------------------------------
 * Attached models. lib/bert's model struct has no room for a device, so the
 * pairing lives here; a process runs a model or two, so a short table. */

#define MAX_ATTACHED 16

static struct {
    const bert_model *m;
    bert_cuda *g;
} attached[MAX_ATTACHED];

bert_cuda *bert_dev_cuda(const bert_model *m)
{
    for (int i = 0; i < MAX_ATTACHED; i++)
        if (attached[i].m == m && m) return attached[i].g;
    return NULL;
}

int bert_dev_attach(bert_model *m, bert_device want, const bert_cuda_options *o, char *err, size_t errlen)
{
    if (want == BERT_DEVICE_CPU) return BERT_DEVICE_CPU;
    char why[256] = "";
    int n = bert_cuda_devices(why, sizeof why);
    if (n <= 0) {
        if (want == BERT_DEVICE_AUTO) return BERT_DEVICE_CPU;
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    if (bert_dev_cuda(m)) return BERT_DEVICE_CUDA;
    int slot = 0;
    while (slot < MAX_ATTACHED && attached[slot].m) slot++;
    if (slot == MAX_ATTACHED) {
        snprintf(err, errlen, "more than %d models on the GPU at once", MAX_ATTACHED);
        return -1;
    }
    bert_cuda_options defaults;
    bert_cuda_options_default(&defaults);
    bert_cuda *g = bert_cuda_new(m, o ? o : &defaults, err, errlen);
    if (!g) return -1;
    attached[slot].m = m;
    attached[slot].g = g;
    return BERT_DEVICE_CUDA;
}

void bert_dev_detach(bert_model *m)
{
    for (int i = 0; i < MAX_ATTACHED; i++)
        if (attached[i].m == m && m) {
            bert_cuda_free(attached[i].g);
            attached[i].m = NULL;
            attached[i].g = NULL;
        }
}

int bert_dev_forward(bert_model *m, const bert_batch *b, int training)
{
    bert_cuda *g = bert_dev_cuda(m);
    return g ? bert_cuda_forward(g, m, b, training) : bert_forward(m, b, training);
}

void bert_dev_backward(bert_model *m, double denominator)
{
    bert_cuda *g = bert_dev_cuda(m);
    if (g) bert_cuda_backward(g, m, denominator);
    else bert_backward(m, denominator);
}

void bert_dev_zero_grad(bert_model *m)
{
    bert_cuda *g = bert_dev_cuda(m);
    if (g) bert_cuda_zero_grad(g);
    else bert_zero_grad(m);
}

float bert_dev_clip_grad_norm(bert_model *m, float max_norm)
{
    bert_cuda *g = bert_dev_cuda(m);
    return g ? bert_cuda_clip_grad_norm(g, max_norm) : bert_clip_grad_norm(m, max_norm);
}

int bert_dev_adamw_step(bert_model *m, const bert_adamw *o)
{
    bert_cuda *g = bert_dev_cuda(m);
    if (g) return bert_cuda_adamw_step(g, m, o);
    bert_adamw_step(m, o);
    return 1;
}

int bert_dev_skips_nonfinite(const bert_model *m)
{
    bert_cuda *g = bert_dev_cuda(m);
    return g && bert_cuda_scaler(g) != NULL;
}

void bert_dev_pull(bert_model *m, int what)
{
    bert_cuda *g = bert_dev_cuda(m);
    if (g) bert_cuda_pull(g, m, what);
}

void bert_dev_push(bert_model *m, int what)
{
    bert_cuda *g = bert_dev_cuda(m);
    if (g) bert_cuda_push(g, m, what);
    else if (what & BERT_SYNC_PARAMS) m->params_gen++; /* bf16 on the CPU: its weights again (lowp_matmul.h) */
}
