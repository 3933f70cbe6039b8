/* quant: the numbers of predict's low precisions on the CPU, and the int8
 * model directory (predict --save-quantized; docs/quantized_format.md).
 *
 * int8 is PyTorch's dynamic quantization of nn.Linear
 * (torch.quantization.quantize_dynamic) with per-channel weights: each
 * weight row (output channel) is symmetric int8, q = round(w / s) with
 * s = max|w_row| / 127, so w ~ q * s; activations are quantized on the fly,
 * one symmetric scale per token (row); the products accumulate in int32 and
 * are scaled back to fp32, where the bias is added. bf16 rounds weights and
 * activations to bfloat16 (round to nearest even) and accumulates in fp32.
 * Which layers: the six Linear layers of every encoder layer (query, key,
 * value, attention output, intermediate, output); embeddings, LayerNorm,
 * the attention's own products and softmax, GELU, residuals, the pooler
 * and the classifier stay fp32. lowp_matmul.h computes with these numbers.
 *
 * The int8 directory is a BERT model directory whose model.safetensors holds
 * each of those weights as an I8 tensor under its HF name and its scales as
 * an F32 tensor NAME_scale (".weight" -> ".weight_scale"), everything else
 * F32, and whose config.json says so in "quantization" (QUANT_SCHEME). */
#ifndef PIPECLF_QUANT_H
#define PIPECLF_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "bert.h"
#include "safetensors.h"

#define QUANT_SCHEME "dynamic-int8-per-channel"
#define QUANT_FORMAT_VERSION 1

/* The Linear layers of an encoder layer, as lib/bert stores them
 * (query, key and value stacked in one [3H, H] matrix). */
enum bert_dense { BERT_DENSE_QKV, BERT_DENSE_ATTN_OUT, BERT_DENSE_FC, BERT_DENSE_PROJ, BERT_DENSES };

/* Its weight in m->params, [rows, cols] (torch's [out_features, in_features]). */
float *bert_dense_weight(const bert_model *m, int layer, int dense, int *rows, int *cols);

/* ------------------------------------------------------------------------
 * Numbers. */

/* Symmetric int8 of a row: scale = max|x| / qmax, q = round(x / scale)
 * (to nearest, ties to even) clamped to [-qmax, qmax]. Returns the scale,
 * 0 for a row of zeros (its q all 0). NaN goes to -qmax; callers check
 * finiteness where it matters. */
float quant_row_int8(const float *x, size_t n, int qmax, int8_t *q);
/* An activation row for oneDNN's u8 x s8 products: q = round(x * qmax /
 * max|x|) (ties to even) clamped to [-qmax, qmax], stored as u[i] = q +
 * qmax + 1 (a zero point of qmax + 1). Returns the scale max|x| / qmax (0
 * for a row of zeros). Vectorised: the hot loop of int8 inference. */
float quant_row_u8(const float *x, size_t n, int qmax, uint8_t *u);
/* x rounded to bfloat16 (nearest, ties to even; NaN stays NaN), as bits */
uint16_t quant_bf16_bits(float x);
/* quant_bf16_bits of n values (vectorised) */
void quant_bf16_row(const float *x, size_t n, uint16_t *out);
static inline float quant_bf16_float(uint16_t b)
{
    union { uint32_t u; float f; } v = {.u = (uint32_t)b << 16};
    return v.f;
}

/* ------------------------------------------------------------------------
 * A model's int8 weights: per encoder layer and dense, q [rows, cols] and
 * one positive, finite scale per row. */
typedef struct bert_int8 {
    int layers;
    int8_t **q;    /* [layers * BERT_DENSES] */
    float **scale; /* [layers * BERT_DENSES] */
} bert_int8;

/* Quantizes m's fp32 weights (a row of zeros gets scale 1). Returns NULL,
 * with the message in err (MODEL_ERR_MAX), when a weight is not finite. */
bert_int8 *quant_from_model(const bert_model *m, char *err);
/* Reads them from an int8 directory's weights file f and writes w = q * s
 * into m->params, so the model's fp32 view stays meaningful. Returns NULL,
 * with "FILE: tensor NAME: ..." in err, for a missing tensor, a wrong dtype
 * or shape, or a scale that is not positive and finite. */
bert_int8 *quant_read(bert_model *m, const st_file *f, char *err);
void quant_free(bert_int8 *q);

/* ------------------------------------------------------------------------
 * The directory. */

/* Whether config.json (its JSON) declares int8 weights; 0 without
 * "quantization", 1 with ours, -1 (message in err naming path) for another
 * scheme or version. */
int quant_config_check(const cJSON *config, const char *path, char *err);
/* Whether an HF tensor name is one that an int8 directory stores as I8. */
int quant_is_int8_name(const char *name);
/* Writes m with its int8 weights q into dir: vocab and tokenizer files
 * copied from src_dir (when there), model.safetensors (I8 weights, F32
 * scales, the rest F32), config.json with "quantization" last, after the
 * old weights were removed first, so that no mix of two models is ever a
 * loadable directory. Dies on a system error. */
void quant_save_dir(const bert_model *m, const bert_int8 *q, const char *src_dir, const char *dir);

#endif
