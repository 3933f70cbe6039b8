/* lowp_matmul: the encoder's Linear layers in int8 or bf16 on the CPU
 * (predict --precision int8|bf16, bert-train --precision bf16), as oneDNN
 * matmul primitives; the numbers are lib/bert/quant.h's.
 *
 * A model gets a bert_lowp with bert_lowp_attach; from then on bert_forward
 * computes the six Linear layers of each encoder layer here, the rest of
 * the model as before, in fp32 (bert.c's dense_rows is the one hook).
 *
 * int8: weights s8 (quant.h), activations quantized per token at each
 * call to qmax = 127 levels each side (ties to even), given to oneDNN as u8
 * with a zero point of qmax + 1, the form VNNI's and AMX's u8 x s8
 * instructions take; the int32 products lose the zero point's share,
 * (qmax + 1) * sum_k q_w[n][k], exactly, so the result is sum_k q_x q_w as a
 * symmetric s8 x s8 product would give, then y = that * s_x * s_w[n] + b[n]
 * in fp32. On a CPU without VNNI (no AVX512-VNNI or AVX-VNNI) oneDNN's
 * int8 kernels add pairs of u8 x s8 products into int16 with saturation,
 * which full-range inputs overflow: there activations get qmax = 63 (7 bits,
 * PyTorch's reduce_range on x86), whose pairs cannot overflow, so that the
 * int32 sums stay exact; results then differ a little from a VNNI CPU's.
 * bf16: weights and activations rounded to bf16, fp32 products and sums
 * (AMX-BF16 or AVX512-BF16, else oneDNN's own emulation); where oneDNN has
 * no bf16 matmul at all (CPUs without AVX-512), the same rounded numbers go
 * through OpenBLAS's sgemm, whose fp32 products of bf16 values are exact.
 *
 * Threads: bert_forward splits the rows (tokens) of each Linear layer over
 * lib/bert's threads (--threads), and each thread runs oneDNN on its rows
 * single-threaded, as it does OpenBLAS: Debian's libdnnl runs on OpenMP
 * (libgomp), so each calling thread's OpenMP thread count is set to 1 and
 * oneDNN starts no threads of its own. Results do not depend on the number
 * of threads for int8 (integer sums); for bf16 they may in the last bits.
 *
 * Through oneDNN a call computes its rows in blocks of at most
 * BERT_LOWP_BLOCK rows, so that a block's numbers stay in cache.
 * Primitives depend on the number of rows M: they are made before each
 * forward's parallel part (bert_lowp_prepare) for every multiple of 16 up
 * to BERT_LOWP_BLOCK (a bounded set, kept for the life of the model), the
 * rows of a block past its M computed on scratch and dropped.
 *
 * Training (bf16 only; int8 is for inference): bert_backward computes the
 * two products of each of those Linear layers here too, the input gradient
 * dX = dY W and the weight gradient dW += dY^T X, with dY, W and X rounded
 * to bf16 and fp32 sums (the same fallback to OpenBLAS on rounded values);
 * biases, LayerNorm, softmax, GELU, the attention's own products, the
 * pooler, the classifier and the loss stay fp32, and so do the weights the
 * optimizer updates (master weights) and its moments. The bf16 weights are
 * rounded again from the fp32 ones when m->params_gen has moved
 * (bert_lowp_sync, at the start of each forward and backward): once per
 * optimizer step, whatever the gradient accumulation. dW's sum over tokens
 * goes by chunks of 512 rows, each chunk's product added to dW in fp32. */
#ifndef PIPECLF_LOWP_MATMUL_H
#define PIPECLF_LOWP_MATMUL_H

#include "bert.h"
#include "quant.h"

/* The most rows a product takes at once: a block's quantized rows, its
 * int32 (or fp32) products and fp32 results stay in the core's L2 cache
 * (the intermediate dense: 64 x 1536 x 4 bytes of products beside its
 * 590 kB of int8 weights) instead of streaming through memory, which cost
 * more than the products themselves (perf, MiniLM on 32 x 128 tokens). */
#define BERT_LOWP_BLOCK 64

typedef enum bert_lowp_type { BERT_LOWP_INT8 = 1, BERT_LOWP_BF16 = 2 } bert_lowp_type;
typedef struct bert_lowp bert_lowp;

/* "int8", "bf16" */
const char *bert_lowp_name(bert_lowp_type t);

/* Computes m's encoder Linear layers in t from now on. For int8 the
 * weights are q (taken over) when given (an int8 directory's, quant_read),
 * else quantized from m's fp32 weights. Returns 0, or -1 with the message
 * in m->err (a weight that is not finite, no usable oneDNN primitive). A
 * model already attached is detached first. */
int bert_lowp_attach(bert_model *m, bert_lowp_type t, bert_int8 *q);
void bert_lowp_detach(bert_model *m);
/* The precision m's Linear layers run in: 0 for fp32. */
int bert_lowp_kind(const bert_model *m);
/* The int8 weights of an int8-attached model (NULL otherwise). */
const bert_int8 *bert_lowp_int8(const bert_model *m);
/* int8: the activation levels each side of 0 (127, or 63 without VNNI). */
int bert_lowp_act_qmax(const bert_model *m);
/* What oneDNN runs on this CPU, e.g. "int8 (brg:avx512_core_amx_int8,
 * 8-bit activations)", for messages and tests. */
const char *bert_lowp_describe(const bert_model *m);

/* For bert_forward. Before the rows of a forward are split into `parts`
 * ranges (threadpool_part(rows, parts, t, align)): makes the primitives
 * and per-thread scratch those ranges need. Caller's thread, outside the
 * parallel part. */
void bert_lowp_prepare(bert_model *m, int rows, int parts, long align);
/* How many rows a product takes at once: BERT_LOWP_BLOCK, or 0 for all of
 * them where OpenBLAS computes (bf16 without a oneDNN matmul), since it
 * packs the weights anew at every call. */
long bert_lowp_block(const bert_model *m);
/* Rows [r0, r1) of out[., N] = in[., K] W^T + b for dense `dense` of layer
 * `layer`, on lib/bert's thread `thread` (its own scratch), a block of
 * rows at a time. */
void bert_lowp_rows(bert_model *m, int layer, int dense, int thread, float *out, const float *in, const float *b,
                    long r0, long r1);

/* Training (bf16). The bf16 weights again from the fp32 ones when
 * m->params_gen moved since they were made; a no-op otherwise, and for int8. */
void bert_lowp_sync(bert_model *m);
/* Before a backward's parallel parts (caller's thread), for its `rows`:
 * each thread's buffers. Dies for an int8 model (inference only). */
void bert_lowp_prepare_backward(bert_model *m, int threads, int rows);
/* Rows [r0, r1) of the input of dense `dense` (of the layer going
 * backward), rounded to bf16 once for every thread's share of its weight
 * gradient; all rows before bert_lowp_dw_rows. */
void bert_lowp_keep_input(bert_model *m, int dense, const float *in, long r0, long r1);
/* Rows [r0, r1) of din[., nin] (+= when accumulate, else =) dout[., nout] W
 * for dense `dense` of layer `layer`, on lib/bert's thread `thread`. */
void bert_lowp_din_rows(bert_model *m, int layer, int dense, int thread, float *din, const float *dout, long r0,
                        long r1, int accumulate);
/* Rows [o0, o1) of dW[nout, nin] += dout[rows, nout]^T in[rows, nin], in
 * as bert_lowp_keep_input kept it (`in` read only by the OpenBLAS fallback). */
void bert_lowp_dw_rows(bert_model *m, int layer, int dense, int thread, float *dw, const float *dout, const float *in,
                       int rows, long o0, long o1);

#endif
