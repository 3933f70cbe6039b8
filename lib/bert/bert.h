/* bert: BertForSequenceClassification in fp32 on the CPU — forward, backward
 * and AdamW — written to be read: it is the specification the GPU code will
 * be tested against, and it matches HuggingFace transformers + PyTorch
 * (tests/unit/test_bert.c against a golden state from tests/ref/bert_ref.py).
 *
 * The model: embeddings (word + token type + absolute position, LayerNorm,
 * dropout) -> N encoder layers (self-attention with the padding mask added
 * to the scores as HF does, output dense + dropout + residual + LayerNorm,
 * intermediate dense + GELU, output dense + dropout + residual + LayerNorm)
 * -> pooler (dense on [CLS] + tanh) -> dropout -> classifier -> softmax
 * cross-entropy (mean over the batch, optional class weights).
 *
 * Layout, after llm.c: every parameter lives in one contiguous buffer
 * (params), gradients and the two AdamW moments in buffers of the same
 * layout; tensors[] names each slice with its HF name. The query, key and
 * value weights of a layer are stacked in one [3H, H] slice so one GEMM
 * computes all three. Each layer's forward saves what its backward needs;
 * backward adds into grads (+=), so gradient accumulation over micro-batches
 * is just several forward/backward calls before one optimizer step. Matrix
 * products go through cblas_sgemm (OpenBLAS), the encoder's Linear layers
 * through oneDNN in int8 or bf16 when predict asks, and in bf16, forward
 * and backward, when bert-train does (bert_model.lowp, lowp_matmul.h); exp, GELU, softmax, LayerNorm
 * and AdamW loops through lib/core/vmath. Only the rows of tokens are computed:
 * padding, which HF computes and then masks, is skipped (bert_acts.rows).
 *
 * Threads: each call runs on lib/core/threadpool with as many threads as
 * openblas_get_num_threads() gives when it starts (what bert-train's and
 * predict's --threads set through openblas_set_num_threads); OpenBLAS runs
 * single-threaded inside, each thread calling it on its own part: row
 * ranges of the token-wise work (dense layers, LayerNorm, GELU, dropout,
 * residuals), (sequence, head) pairs of the attention, row ranges of the
 * weight gradients, element ranges of AdamW. Parts are fixed by index, and
 * reductions over tokens run in token order, so a thread count gives the
 * same bits every run. The dropout masks are drawn from one stream in the
 * same order whatever the threads. OpenBLAS's thread count is process-wide:
 * calls on two models must not run at the same time from two threads. */
#ifndef PIPECLF_BERT_H
#define PIPECLF_BERT_H

#include <stddef.h>
#include <stdint.h>

#include "bertconfig.h"
#include "core/prng.h"

/* One layer's parameters (pointers into params or grads). */
typedef struct bert_layer_weights {
    float *qkv_w, *qkv_b;          /* [3H, H], [3H]: attention.self.{query,key,value} */
    float *attn_out_w, *attn_out_b; /* [H, H], [H]: attention.output.dense */
    float *ln1_w, *ln1_b;          /* [H]: attention.output.LayerNorm */
    float *fc_w, *fc_b;            /* [I, H], [I]: intermediate.dense */
    float *proj_w, *proj_b;        /* [H, I], [H]: output.dense */
    float *ln2_w, *ln2_b;          /* [H]: output.LayerNorm */
} bert_layer_weights;

typedef struct bert_weights {
    float *word_emb, *pos_emb, *type_emb; /* [V, H], [P, H], [TV, H] */
    float *emb_ln_w, *emb_ln_b;           /* [H] */
    bert_layer_weights *layers;           /* num_layers */
    float *pool_w, *pool_b;               /* [H, H], [H]: bert.pooler.dense */
    float *cls_w, *cls_b;                 /* [C, H], [C]: classifier */
} bert_weights;

/* A named slice of the parameter buffer. */
typedef struct bert_tensor {
    char *name;        /* HF name: "bert.encoder.layer.0.attention.self.query.weight" */
    size_t offset, numel;
    int ndim, shape[2];
    int no_decay;      /* a bias or LayerNorm parameter: AdamW does not decay it */
} bert_tensor;

/* What one layer's forward keeps for its backward: one row per computed
 * token (bert_acts.rows of them, see there), dropout masks per token of the
 * batch ([B*T] rows, padding included). */
typedef struct bert_layer_acts {
    float *qkv;              /* [BT, 3H] */
    float *probs;            /* [B, nh, T, T] attention probabilities, before dropout; sequence
                                b's [L, L] (L = seq_len[b]) at the start of each [T, T] */
    uint8_t *probs_keep;     /* [B, nh, T, T] dropout mask (NULL without dropout) */
    float *ctx;              /* [BT, H] attention output, heads side by side */
    uint8_t *attn_keep;      /* [BT, H] dropout mask on the attention output dense */
    float *ln1_in, *ln1_mean, *ln1_rstd, *ln1_out; /* [BT, H], [BT], [BT], [BT, H] */
    float *fc_pre, *fc_act;  /* [BT, I] before and after the activation */
    float *fc_dact;          /* [BT, I] the activation's derivative at fc_pre, kept by a
                                training forward (NULL until one runs) */
    uint8_t *proj_keep;      /* [BT, H] dropout mask on the output dense */
    float *ln2_in, *ln2_mean, *ln2_rstd, *out;     /* out: the layer's output */
} bert_layer_acts;

typedef struct bert_acts {
    int *ids, *types;        /* [BT] copies of the batch's token ids and types */
    int *labels;             /* [B] copy of its labels */
    /* The rows computed: every token with mask 1, each sequence's first
     * token (the pooler reads it) and every position of a sequence with no
     * token at all, in batch order; the other padding is skipped, since
     * nothing reads it: a padding key gets attention probability exactly 0
     * and a padding query's output goes nowhere, in HF's model as here. Row
     * r is token row_src[r] = b*T + t; sequence b has rows [seq_row[b],
     * seq_row[b] + seq_len[b]). Activations are [rows, ...]. */
    int rows;
    int *row_src;            /* [BT] */
    int *seq_row, *seq_len;  /* [B] */
    float *mask_add;         /* [rows] 0 for a token, -FLT_MAX for padding (HF's additive mask) */
    float *emb_in, *emb_mean, *emb_rstd, *emb_ln; /* embedding sum, LayerNorm */
    uint8_t *emb_keep;
    float *emb_out;          /* [BT, H] input of layer 0 */
    bert_layer_acts *layers;
    float *pooled;           /* [B, H] tanh(dense([CLS])) */
    uint8_t *pooled_keep;
    float *cls_in;           /* [B, H] pooled after dropout */
    float *logits, *probs;   /* [B, C] */
    float *losses;           /* [B] per-example loss (unweighted) */
} bert_acts;

/* Scratch for backward (activation gradients), reused by every layer. */
typedef struct bert_scratch {
    float *a, *b, *c, *d, *e, *f; /* [BT, H] each */
    float *fc;               /* [BT, I] */
    float *qkv;              /* [BT, 3H] */
    float *tt, *tt2;         /* [threads, T, T]: one [T, T] per thread */
    uint8_t *keep_tt;        /* [threads, T, T]: a sequence's attention dropout mask */
    int threads;             /* how many tt/tt2/keep_tt hold */
    float *pooled, *cls;     /* [B, H] */
    float *cls_tok;          /* [B, H] the last layer's [CLS] rows */
    float *dlogits;          /* [B, C] */
} bert_scratch;

typedef struct bert_model {
    bert_config cfg;
    int num_labels;
    size_t num_params;
    float *params, *grads;   /* num_params each */
    float *adam_m, *adam_v;  /* allocated by the first bert_adamw_step */
    long step;               /* AdamW steps taken */
    bert_tensor *tensors;
    int num_tensors;
    bert_weights w, g;       /* views of params and grads */
    float *class_weights;    /* [C] or NULL: plain mean cross-entropy */

    /* activations, sized for max_b x max_t and reallocated when a batch is larger */
    int max_b, max_t, acts_masks; /* acts_masks: dropout masks allocated */
    int acts_train;          /* training buffers (fc_dact) allocated */
    /* Set by the caller for prediction (predict): forwards keep no
     * activations for a backward, and the layers take turns with one set of
     * buffers, 1/num_layers of the memory and its page faults; a backward
     * is refused. */
    int no_grad;
    int acts_shared;         /* the buffers were made that way */
    bert_acts acts;
    bert_scratch scr;
    int B, T;                /* the last forward's batch */
    int have_labels;
    float loss;              /* the last forward's mean loss, when it had labels */
    double weight_sum;       /* its sum of example weights (B without class weights) */
    int training;            /* the last forward ran with dropout */
    prng dropout_rng;

    struct threadpool *pool; /* the threads of the last call (see Threads above) */
    int blas_threads;        /* OpenBLAS's count, restored when a call ends */

    char **fresh;            /* tensors not in the loaded file, initialised at random */
    int num_fresh;
    /* NULL: every Linear layer in fp32. Else the encoder's Linear layers run
     * in int8 or bf16 (lowp_matmul.h; predict --precision, bert-train
     * --precision bf16); int8 is for inference: a backward after an int8
     * forward is refused. */
    struct bert_lowp *lowp;
    /* Moves whenever params change (bert_adamw_step; whoever writes params
     * otherwise adds 1), so that the bf16 copies of the weights (lowp) are
     * rounded again once, before the next forward. */
    unsigned long params_gen;
    char err[MODEL_ERR_MAX];
} bert_model;

/* A batch: B sequences of T tokens, row-major [B*T]. */
typedef struct bert_batch {
    int B, T;
    const int *input_ids;
    const int *token_type_ids; /* NULL: all 0 */
    const int *attention_mask; /* 1 token, 0 padding; NULL: all 1 */
    const int *labels;         /* [B] class ids; NULL: no loss (prediction) */
} bert_batch;

typedef struct bert_adamw {
    float lr, beta1, beta2, eps, weight_decay;
} bert_adamw;

/* Sets up a model for cfg (taken over by the model) with num_labels
 * classes: parameter buffers allocated, initialised as HF's _init_weights
 * does (normal(0, initializer_range) weights and embeddings, zero biases,
 * LayerNorm 1/0, padding row 0) from seed. Returns 0 or -1 (m->err). */
int bert_init(bert_model *m, bert_config *cfg, int num_labels, uint64_t seed);

/* Loads an HF model directory: config.json and model.safetensors (or
 * pytorch_model.bin). Names may carry the "bert." prefix or not (a bare
 * BertModel checkpoint), and old LayerNorm.gamma/beta names are accepted.
 * The pooler and classifier may be absent: they are initialised from seed
 * and listed in m->fresh, as HF does (with our PRNG, so not HF's values). num_labels 0 takes the config's
 * id2label. Errors (missing tensor, shape mismatch, unsupported config)
 * return -1 with the message in m->err. */
int bert_load(bert_model *m, const char *dir, int num_labels, uint64_t seed);
/* bert_load with flags. An int8 directory (predict --save-quantized:
 * "quantization" in its config.json, lib/bert/quant.h) is refused by
 * bert_load, as fine-tuning cannot start from int8 weights; with
 * BERT_LOAD_INT8 it loads, its int8 weights attached (lowp_matmul.h) and
 * their dequantized values in params. */
enum { BERT_LOAD_INT8 = 1 };
int bert_load_flags(bert_model *m, const char *dir, int num_labels, uint64_t seed, int flags);
/* Copies the tensors of a safetensors file that the model has (same names
 * as bert_load) into an initialised model; the others keep their values.
 * Returns how many were copied, or -1 (shape mismatch, bad file). */
int bert_load_safetensors(bert_model *m, const char *path);

/* Writes config.json and model.safetensors into dir (created if needed),
 * each atomically; transformers loads the result. id2label comes from
 * m->cfg.labels (set with bert_config_set_labels(&m->cfg, ...)), or HF's
 * LABEL_i names when the config has none. Dies on a system error. */
void bert_save(const bert_model *m, const char *dir);
/* Only its config.json, with key: value (a copy; key NULL: none) set at the
 * top level. A "quantization" entry that m's config came with is dropped
 * unless key sets it again: the file describes the weights written beside. */
void bert_save_config(const bert_model *m, const char *dir, const char *key, const cJSON *value);
/* The tokenizer's files that from_dir has (vocab.txt, tokenizer_config.json,
 * special_tokens_map.json, tokenizer.json) copied into dir, each
 * atomically, so that a model written there tokenizes as its source did. */
void bert_copy_tokenizer(const char *from_dir, const char *dir);

/* Index of the tensor with this HF name, or -1. */
int bert_find_tensor(const bert_model *m, const char *name);

/* Optional class weights for the cross-entropy (copied; NULL: none). */
void bert_set_class_weights(bert_model *m, const float *w);
/* Seeds the dropout masks of training forwards. */
void bert_seed_dropout(bert_model *m, uint64_t seed);

/* Forward pass; training = 1 applies dropout (config probabilities).
 * Fills m->acts.logits/probs and, with labels, m->loss. Returns 0, or -1 for
 * an invalid batch (token id out of the vocabulary, sequence longer than
 * max_position_embeddings, label out of range) with the message in m->err. */
int bert_forward(bert_model *m, const bert_batch *b, int training);
/* Backward pass of the last forward (which had labels): adds the gradient of
 * sum_i w_i * loss_i / denominator to m->grads. denominator 0 uses the
 * batch's own weight sum (the batch mean, as torch's cross_entropy); for
 * gradient accumulation pass the weight sum of the whole accumulated batch. */
void bert_backward(bert_model *m, double denominator);
void bert_zero_grad(bert_model *m);
/* torch.nn.utils.clip_grad_norm_: scales grads so their global L2 norm is at
 * most max_norm; returns the norm before clipping. */
float bert_clip_grad_norm(bert_model *m, float max_norm);
/* One torch.optim.AdamW step (decoupled weight decay, skipped for bias and
 * LayerNorm tensors); increments m->step. */
void bert_adamw_step(bert_model *m, const bert_adamw *opt);

void bert_free(bert_model *m);

#endif
