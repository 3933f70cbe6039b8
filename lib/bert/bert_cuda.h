/* bert_cuda: lib/bert on an NVIDIA GPU (CUDA + cuBLAS), and the device
 * switch the programs use (--device cpu|cuda|auto, --precision, --deterministic).
 *
 * Two layers:
 *  - bert_cuda_*: a model's GPU twin. Master weights, gradients and the two
 *    AdamW moments are fp32 on the device; activations and the matrix
 *    products' inputs are in the precision's type: fp32; fp32 with TF32
 *    matrix products; fp16 with dynamic loss scaling (torch's GradScaler
 *    rule); bf16. The forward, backward, gradient norm and AdamW keep
 *    lib/bert's contract (the CPU code is the specification: tests/cuda
 *    compares the two and the golden states of tests/golden/bert). Kernels
 *    are lib/bert/cuda/kernels.cuh, the model lib/bert/cuda/bert_cuda.cu.
 *  - bert_dev_*: lib/bert's training calls (forward, backward, zero_grad,
 *    clip_grad_norm, adamw_step), sent to the GPU twin for a model attached
 *    to one with bert_dev_attach, and to lib/bert unchanged otherwise. So the
 *    training loop and predict run either way; on the CPU they make exactly
 *    the calls they made before the GPU existed.
 *
 * Where things live: after a forward the host model holds what lib/bert's
 * forward leaves for its callers (m->acts.logits, probs and losses, m->loss,
 * m->weight_sum, m->B, m->T); the parameters and AdamW moments are on the
 * device, and come to the host with bert_dev_pull (checkpoints, the best
 * step's weights, saving) and go back with bert_dev_push after the host
 * changed them (a resumed checkpoint, restored best weights).
 *
 * Dropout on the GPU draws each forward's masks from Philox (lib/bert/cuda/
 * philox.h) keyed by one draw of the model's dropout generator, so a
 * checkpoint (which stores that generator) resumes to the same masks; the
 * masks differ from the CPU's. Without --deterministic, the embedding
 * gradients are scattered with float atomics (faster, order-dependent);
 * with it every reduction runs in a fixed order and two runs are bit
 * identical. Built without CUDA (no nvcc at build time), every bert_cuda_*
 * entry point reports "CUDA support was not built in" and auto is the CPU.
 * Built with it, the GPU code is lib/libpipeclf_cuda.so beside the programs'
 * bin/, which lib/bert/cuda/loader.c opens on the first bert_cuda_devices or
 * bert_cuda_new (a program that stays on the CPU never loads cuBLAS). */
#ifndef PIPECLF_BERT_CUDA_H
#define PIPECLF_BERT_CUDA_H

#include <stddef.h>

#include "bert.h"

typedef enum bert_device { BERT_DEVICE_CPU, BERT_DEVICE_CUDA, BERT_DEVICE_AUTO } bert_device;
typedef enum bert_precision { BERT_FP32, BERT_TF32, BERT_FP16, BERT_BF16 } bert_precision;

/* "cpu", "cuda", "auto"; returns -1 for another name. */
int bert_device_parse(const char *s, bert_device *d);
const char *bert_device_name(bert_device d);
/* "fp32", "tf32", "fp16", "bf16" (also "float32", "float16", "bfloat16");
 * returns -1 for another name. */
int bert_precision_parse(const char *s, bert_precision *p);
const char *bert_precision_name(bert_precision p);
/* The unit roundoff of the numbers a precision computes with (fp32 2^-24;
 * tf32 and fp16 2^-11, their 10 stored mantissa bits; bf16 2^-8): tests
 * scale their tolerances with it, as tol + |ref| * eps. */
double bert_precision_eps(bert_precision p);

/* ------------------------------------------------------------------------
 * Dynamic loss scaling for fp16, as torch.cuda.amp.GradScaler: the loss is
 * multiplied by `scale` before the backward; a step whose gradients
 * overflow (inf or NaN) is skipped and halves the scale; `interval` steps
 * in a row without overflow double it. */
typedef struct bert_loss_scaler {
    double scale;           /* current multiplier of the loss */
    double growth, backoff; /* 2 and 0.5 */
    long interval;          /* good steps before growing (torch: 2000) */
    long good_steps;        /* good steps since the last change */
    long skipped;           /* steps skipped so far */
} bert_loss_scaler;

void bert_loss_scaler_init(bert_loss_scaler *s, double init_scale, long interval);
/* After a backward: found_inf tells whether the scaled gradients
 * overflowed. Returns 1 when the optimizer step is to be taken, 0 when it
 * is skipped; updates the scale either way. */
int bert_loss_scaler_update(bert_loss_scaler *s, int found_inf);

/* ------------------------------------------------------------------------
 * The GPU twin. */

/* CUDA devices this process can use: > 0 their number; 0 none (why gets the
 * reason, e.g. "no CUDA-capable device is detected"); -1 when pipeclf was
 * built without CUDA. why may be NULL. */
int bert_cuda_devices(char *why, size_t whylen);

typedef struct bert_cuda_options {
    bert_precision precision;
    int deterministic;       /* fixed-order reductions everywhere */
    int device;              /* CUDA device index (default 0) */
    double init_loss_scale;  /* fp16 (default 65536, as torch) */
    long loss_scale_interval; /* fp16 (default 2000) */
} bert_cuda_options;

void bert_cuda_options_default(bert_cuda_options *o);

typedef struct bert_cuda bert_cuda;

/* Creates m's twin on the device and uploads its parameters (and AdamW
 * moments, when m has them). NULL on failure, with the reason in err (no
 * device, out of memory, a GPU the build has no code for). */
bert_cuda *bert_cuda_new(bert_model *m, const bert_cuda_options *o, char *err, size_t errlen);
void bert_cuda_free(bert_cuda *g);

/* As bert_forward, bert_backward, ... of lib/bert, for the model g was made
 * from. A failing CUDA call ends the program with the CUDA error. */
int bert_cuda_forward(bert_cuda *g, bert_model *m, const bert_batch *b, int training);
void bert_cuda_backward(bert_cuda *g, bert_model *m, double denominator);
void bert_cuda_zero_grad(bert_cuda *g);
/* The global L2 norm of the (unscaled) gradients; clipping to max_norm is
 * applied by the next AdamW step (one pass over the parameters, not two).
 * With fp16, an overflow gives an infinite or NaN norm: the next AdamW
 * step is then skipped (see bert_cuda_adamw_step). */
float bert_cuda_clip_grad_norm(bert_cuda *g, float max_norm);
/* One AdamW step, as bert_adamw_step (m->step counts the steps taken).
 * Returns 1, or 0 when fp16 loss scaling skipped the step. */
int bert_cuda_adamw_step(bert_cuda *g, bert_model *m, const bert_adamw *o);

/* What bert_cuda_pull and bert_cuda_push move. */
enum {
    BERT_SYNC_PARAMS = 1,    /* m->params */
    BERT_SYNC_OPTIMIZER = 2, /* m->adam_m, m->adam_v (allocated on pull when the GPU has taken a step) */
    BERT_SYNC_GRADS = 4,     /* m->grads, pull only: as clip_grad_norm leaves them (clipped, unscaled) */
};
void bert_cuda_pull(bert_cuda *g, bert_model *m, int what);
void bert_cuda_push(bert_cuda *g, const bert_model *m, int what);

/* The fp16 loss scaler (NULL for the other precisions). */
const bert_loss_scaler *bert_cuda_scaler(const bert_cuda *g);
/* Sets the fp16 scaler's state (scale, good_steps, skipped) from s, as a
 * resumed checkpoint had it; growth, backoff and interval stay this twin's
 * options. A no-op for the other precisions. */
void bert_cuda_set_scaler(bert_cuda *g, const bert_loss_scaler *s);
/* "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs)" */
const char *bert_cuda_describe(const bert_cuda *g);

/* ------------------------------------------------------------------------
 * The device switch. */

/* Runs m on the device `want` names: CPU attaches nothing; AUTO is CUDA when
 * bert_cuda_devices() finds a device, else the CPU; CUDA without a device
 * or without CUDA support is an error. Returns the device used (CPU or
 * CUDA), or -1 with the reason in err. o NULL: the defaults. */
int bert_dev_attach(bert_model *m, bert_device want, const bert_cuda_options *o, char *err, size_t errlen);
/* Frees m's GPU twin (a no-op for a model on the CPU); before bert_free. */
void bert_dev_detach(bert_model *m);
/* m's GPU twin, or NULL when m runs on the CPU. */
bert_cuda *bert_dev_cuda(const bert_model *m);

int bert_dev_forward(bert_model *m, const bert_batch *b, int training);
void bert_dev_backward(bert_model *m, double denominator);
void bert_dev_zero_grad(bert_model *m);
float bert_dev_clip_grad_norm(bert_model *m, float max_norm);
/* Returns 1 when the step was taken, 0 when fp16 loss scaling skipped it. */
int bert_dev_adamw_step(bert_model *m, const bert_adamw *o);
/* Whether a non-finite gradient norm is an expected event that skips the
 * step (fp16 loss scaling) rather than a failed run. */
int bert_dev_skips_nonfinite(const bert_model *m);
/* Device -> host and host -> device (BERT_SYNC_* flags); on the CPU no-ops,
 * but for a push of the weights, which moves m->params_gen (the host wrote
 * them: bf16's copies are made again). */
void bert_dev_pull(bert_model *m, int what);
void bert_dev_push(bert_model *m, int what);

#endif
