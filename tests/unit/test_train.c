/* lib/bert/trainloop, lib/bert/schedule, lib/bert/tokdata and lib/bert/checkpoint on the tiny
 * random-initialised model of tests/golden/bert (2 layers, hidden 64):
 *
 *  - schedules: every step's learning rate under the linear, cosine and
 *    constant schedules with warmup (as steps or a ratio) equals the rate
 *    transformers' schedules gave a torch optimizer (golden schedules.json,
 *    tests/ref/bert_ref.py schedules);
 *  - parity: six steps of the trainer (file order, micro-batches of 4 x 2
 *    accumulated, class weights, clipping, AdamW with weight decay, linear
 *    warmup) against the same run in PyTorch + transformers (golden
 *    train_ref/expected.json, bert_ref.py train): each step's loss, rate and
 *    gradient norm, the final weights (sums and sampled elements) and the
 *    validation loss and predictions;
 *  - gradient accumulation: batch 8 = 4 x 2 = 2 x 4, final weights to 1e-5;
 *  - resume: a run killed with SIGKILL (in a child process) and resumed from
 *    its checkpoint ends with bit-identical weights and log, with dropout,
 *    shuffling, bucketing and evaluation on;
 *  - early stopping: training stops `patience` evaluations after the best
 *    one and the returned weights are that step's, bit for bit;
 *  - bucketing and dynamic padding; a NaN loss; checkpoint file errors. */
#include "bert/bert.h"
#include "check.h"
#include "bert/checkpoint.h"
#include "core/common.h"
#include "bert/schedule.h"
#include "bert/tokdata.h"
#include "bert/trainloop.h"
#include "train_fixture.h"

#include <cblas.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[64];

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("FAIL open %s\n", path);
        exit(1);
    }
    strbuf b = {0};
    char buf[65536];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) sb_addn(&b, buf, got);
    fclose(f);
    return b.s;
}

static cJSON *read_json(const char *path)
{
    char *s = slurp(path);
    cJSON *j = cJSON_Parse(s);
    free(s);
    if (!j) {
        printf("FAIL parse %s\n", path);
        exit(1);
    }
    return j;
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* ------------------------------------------------------------------------ */

static void test_schedules(void)
{
    cJSON *all = read_json(GOLDEN "schedules.json"), *c;
    int n = 0, warm_ok = 1, lr_ok = 1;
    double worst = 0;
    cJSON_ArrayForEach(c, all) {
        sched_kind k;
        if (sched_parse(cJSON_GetObjectItemCaseSensitive(c, "schedule")->valuestring, &k) < 0) lr_ok = 0;
        long total = (long)num(c, "total");
        long warmup = sched_warmup_steps((long)num(c, "warmup_steps"), num(c, "warmup_ratio"), total);
        if (warmup != (long)num(c, "warmup")) warm_ok = 0;
        const cJSON *lrs = cJSON_GetObjectItemCaseSensitive(c, "lrs"), *v;
        long t = 0;
        cJSON_ArrayForEach(v, lrs) {
            double ours = num(c, "lr") * sched_lambda(k, t, warmup, total), ref = v->valuedouble;
            double d = fabs(ours - ref);
            if (d > worst) worst = d;
            if (d > 1e-15 * fabs(ref)) lr_ok = 0;
            t++;
        }
        if (t != total) lr_ok = 0;
        n++;
    }
    CHECK("schedule: 9 reference schedules read", n == 9);
    CHECK("schedule: warmup steps from a ratio as TrainingArguments.get_warmup_steps", warm_ok);
    char name[160];
    snprintf(name, sizeof name,
             "schedule: linear, cosine, constant with warmup = transformers' rate at every step (max diff %.3g)",
             worst);
    CHECK(name, lr_ok);
    cJSON_Delete(all);
}

/* ------------------------------------------------------------------------ */

static void test_parity(void)
{
    cJSON *ref = read_json(GOLDEN "train_ref/expected.json");
    const cJSON *hyper = cJSON_GetObjectItemCaseSensitive(ref, "hyper");
    train_fixture f;
    fixture_open(&f, 1);
    float cw[3];
    for (int k = 0; k < 3; k++) cw[k] = (float)cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(hyper, "class_weights"), k)->valuedouble;
    bert_set_class_weights(&f.m, cw);
    f.o.shuffle = 0;
    f.o.batch_size = 4;
    f.o.grad_accum = 2; /* the reference takes each step of 8 in one batch */
    f.o.epochs = (long)num(hyper, "epochs");
    f.o.lr = num(hyper, "lr");
    f.o.weight_decay = num(hyper, "weight_decay");
    f.o.max_grad_norm = num(hyper, "max_grad_norm");
    f.o.warmup_steps = (long)num(hyper, "warmup_steps");
    train_result res;
    int rc = train_run(&f.m, &f.tr, NULL, &f.o, &res, NULL, NULL);
    CHECK("parity: the run ends", rc == 0 && res.steps == (long)num(ref, "total_steps"));

    /* each step's record in the log against the reference */
    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(ref, "steps");
    double dloss = 0, dlr = 0, dnorm = 0;
    int nlines = 0;
    for (char *line = res.log.s, *nl; line && *line; line = nl + 1, nlines++) {
        nl = strchr(line, '\n');
        *nl = '\0';
        cJSON *rec = cJSON_Parse(line), *want = cJSON_GetArrayItem(steps, nlines);
        if (!rec || !want) break;
        double a = fabs(num(rec, "train_loss") - num(want, "loss")), b = fabs(num(rec, "lr") - num(want, "lr"));
        double c = fabs(num(rec, "grad_norm") - num(want, "grad_norm")) / num(want, "grad_norm");
        if (!(a <= dloss)) dloss = a;
        if (!(b <= dlr)) dlr = b;
        if (!(c <= dnorm)) dnorm = c;
        cJSON_Delete(rec);
        *nl = '\n';
    }
    char name[200];
    CHECK("parity: a log record per step", nlines == cJSON_GetArraySize(steps));
    snprintf(name, sizeof name, "parity: every step's loss to 1e-5 (max diff %.3g)", dloss);
    CHECK(name, dloss <= 1e-5);
    snprintf(name, sizeof name, "parity: every step's learning rate (max diff %.3g)", dlr);
    CHECK(name, dlr <= 1e-15);
    snprintf(name, sizeof name, "parity: every step's gradient norm before clipping to 1e-5 relative (max %.3g)", dnorm);
    CHECK(name, dnorm <= 1e-5);

    /* final weights: per tensor sums and sampled elements */
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(ref, "params"), *t;
    double dsum = 0, dval = 0;
    int ntensors = 0, missing = 0;
    cJSON_ArrayForEach(t, params) {
        int i = bert_find_tensor(&f.m, t->string);
        if (i < 0) {
            missing++;
            continue;
        }
        ntensors++;
        if (is_key_bias(t->string)) continue; /* rounding noise that AdamW amplifies */
        const float *p = f.m.params + f.m.tensors[i].offset;
        double s = 0, l2 = 0;
        for (size_t k = 0; k < f.m.tensors[i].numel; k++) {
            s += p[k];
            l2 += (double)p[k] * p[k];
        }
        double e = fabs(sqrt(l2) - num(t, "l2")) / num(t, "l2");
        if (e > dsum) dsum = e;
        const cJSON *idx = cJSON_GetObjectItemCaseSensitive(t, "idx"), *val = cJSON_GetObjectItemCaseSensitive(t, "val");
        for (int k = 0; k < cJSON_GetArraySize(idx); k++) {
            double d = fabs(p[cJSON_GetArrayItem(idx, k)->valueint] - cJSON_GetArrayItem(val, k)->valuedouble);
            if (d > dval) dval = d;
        }
    }
    CHECK("parity: every tensor of the reference is in the model", missing == 0 && ntensors == f.m.num_tensors);
    snprintf(name, sizeof name, "parity: final weights' L2 norm per tensor to 1e-6 relative (max %.3g)", dsum);
    CHECK(name, dsum <= 1e-6);
    snprintf(name, sizeof name, "parity: final weights, 24 elements per tensor, to 1e-5 (max diff %.3g)", dval);
    CHECK(name, dval <= 1e-5);

    eval_result e;
    int *pred = xmalloc(f.va.n * sizeof *pred);
    train_evaluate(&f.m, &f.va, 5, &e, pred);
    snprintf(name, sizeof name, "parity: validation loss to 1e-5 (diff %.3g)", fabs(e.loss - num(ref, "val_loss")));
    CHECK(name, fabs(e.loss - num(ref, "val_loss")) <= 1e-5);
    int same = 1;
    for (size_t i = 0; i < f.va.n; i++) same &= pred[i] == cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(ref, "val_pred"), (int)i)->valueint;
    CHECK("parity: validation predictions equal", same);
    free(pred);
    train_result_free(&res);
    fixture_close(&f);
    cJSON_Delete(ref);
}

/* ------------------------------------------------------------------------ */

/* The final weights of a run of f's options in batches of batch x accum,
 * without dropout */
static float *train_batches(const train_fixture *f, int batch, int accum)
{
    train_options o = f->o;
    o.batch_size = batch;
    o.grad_accum = accum;
    return train_tiny(&o, 3, 0, &f->tr, NULL, NULL, NULL, NULL, NULL);
}

static void test_accumulation(void)
{
    train_fixture f;
    fixture_open(&f, 3);
    f.o.epochs = 2;
    f.o.lr = 1e-4;
    f.o.seed = 5;
    float *a = train_batches(&f, 8, 1), *b = train_batches(&f, 4, 2), *c = train_batches(&f, 2, 4);
    const double dab = weights_max_diff(&f.m, a, b), dac = weights_max_diff(&f.m, a, c);
    char name[160];
    snprintf(name, sizeof name, "accumulation: 6 steps of batch 8 = of 4 x 2 accumulated, weights to 1e-5 (max diff %.3g)", dab);
    CHECK(name, dab <= 1e-5);
    snprintf(name, sizeof name, "accumulation: ... = of 2 x 4 accumulated (max diff %.3g)", dac);
    CHECK(name, dac <= 1e-5);
    free(a);
    free(b);
    free(c);
    fixture_close(&f);
}

/* ------------------------------------------------------------------------ */

/* A run of 15 steps with dropout, bucketing, evaluation every 2 steps and a
 * checkpoint every 3; crash_after > 0 runs it in a child that kills itself
 * after that step. Returns the final weights (NULL for the child's run). */
static float *resumable_run(const tok_dataset *tr, const tok_dataset *va, const char *ckpt, int resume, long crash_after,
                            strbuf *log, long *resumed_from, int *status)
{
    train_options o;
    resumable_options(&o, 3, ckpt, resume);
    o.crash_after = crash_after;
    return train_tiny(&o, 9, 0.1, tr, va, NULL, log, resumed_from, status);
}

static void test_resume(void)
{
    train_fixture f; /* f.m: the model the checkpoint is read into */
    fixture_open(&f, 9);
    const size_t nb = f.m.num_params * sizeof(float);
    char ckpt[128];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.bin", tmpdir);
    strbuf log0 = {0}, log1 = {0}, log2 = {0};
    long from0, from1, from2;
    int status = 0;
    float *whole = resumable_run(&f.tr, &f.va, NULL, 0, 0, &log0, &from0, &status);

    resumable_run(&f.tr, &f.va, ckpt, 0, 7, NULL, NULL, &status);
    CHECK("resume: the child run was killed by SIGKILL after step 7", WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    float *resumed = resumable_run(&f.tr, &f.va, ckpt, 1, 0, &log1, &from1, &status);
    CHECK("resume: continued from the checkpoint of step 6", from1 == 6);
    CHECK("resume: killed at step 7 and resumed: bit-identical final weights", memcmp(whole, resumed, nb) == 0);
    CHECK("resume: ... and the same log, byte for byte", log0.len == log1.len && memcmp(log0.s, log1.s, log0.len) == 0);

    unlink(ckpt);
    resumable_run(&f.tr, &f.va, ckpt, 0, 9, NULL, NULL, &status);
    float *again = resumable_run(&f.tr, &f.va, ckpt, 1, 0, &log2, &from2, &status);
    CHECK("resume: killed right after the checkpoint of step 9: bit-identical weights",
          from2 == 9 && memcmp(whole, again, nb) == 0);
    free(again);
    /* the checkpoint of the finished run: a resume only restores the best */
    again = resumable_run(&f.tr, &f.va, ckpt, 1, 0, &log2, &from2, &status);
    CHECK("resume: of a finished run takes no step and gives the same weights",
          from2 == 15 && memcmp(whole, again, nb) == 0 && log2.len == log0.len);

    /* the checkpoint file's own checks */
    train_state s = {0};
    s.n = f.tr.n;
    char err[MODEL_ERR_MAX];
    CHECK("checkpoint: reads back", checkpoint_read(ckpt, &f.m, &s, err, sizeof err) == 0 && s.step == 15 && s.finished);
    char *bytes = slurp(ckpt), cut[140];
    struct stat sb;
    stat(ckpt, &sb);
    snprintf(cut, sizeof cut, "%s/cut.bin", tmpdir);
    FILE *out = fopen(cut, "wb");
    fwrite(bytes, 1, (size_t)sb.st_size - 100, out);
    fclose(out);
    int rc = checkpoint_read(cut, &f.m, &s, err, sizeof err);
    CHECK("checkpoint: a truncated file is refused", rc < 0 && strstr(err, "truncated checkpoint"));
    out = fopen(cut, "wb");
    fputs("PK\003\004 not a checkpoint", out);
    fclose(out);
    rc = checkpoint_read(cut, &f.m, &s, err, sizeof err);
    CHECK("checkpoint: another file is not a checkpoint", rc < 0 && strstr(err, "not a bert-train checkpoint"));
    s.n = f.tr.n + 1;
    rc = checkpoint_read(ckpt, &f.m, &s, err, sizeof err);
    CHECK("checkpoint: another training set size is refused", rc < 0 && strstr(err, "training examples"));
    bert_model other;
    bert_config small;
    bert_config_init(&small, 512, 32, 2, 4, 128, 64);
    bert_init(&other, &small, 3, 1);
    s.n = f.tr.n;
    rc = checkpoint_read(ckpt, &other, &s, err, sizeof err);
    CHECK("checkpoint: another model size is refused", rc < 0 && strstr(err, "parameters"));
    bert_free(&other);
    unlink(cut);
    unlink(ckpt);
    free(bytes);
    train_state_free(&s);
    free(whole);
    free(resumed);
    free(again);
    sb_free(&log0);
    sb_free(&log1);
    sb_free(&log2);
    fixture_close(&f);
}

/* ------------------------------------------------------------------------ */

typedef struct eval_trace {
    int n;
    long step[64];
    eval_result r[64];
    float *params[64];
} eval_trace;

static void record_eval(void *ctx, long step, const eval_result *r, const bert_model *m)
{
    eval_trace *t = ctx;
    if (t->n == 64) return;
    t->step[t->n] = step;
    t->r[t->n] = *r;
    t->params[t->n] = copy_floats(m->params, m->num_params);
    t->n++;
}

/* Trains f's model as f's options say, recording every evaluation in t;
 * returns train_run's return */
static int traced_run(train_fixture *f, eval_trace *t, train_result *res)
{
    memset(t, 0, sizeof *t);
    return train_run(&f->m, &f->tr, &f->va, &f->o, res, record_eval, t);
}

/* The first evaluation with the best loss (by_accuracy: accuracy) */
static int first_best(const eval_trace *t, int by_accuracy)
{
    int ib = 0;
    for (int i = 1; i < t->n; i++)
        if (by_accuracy ? t->r[i].accuracy > t->r[ib].accuracy : t->r[i].loss < t->r[ib].loss) ib = i;
    return ib;
}

static void trace_free(eval_trace *t)
{
    for (int i = 0; i < t->n; i++) free(t->params[i]);
}

static void test_early_stopping(void)
{
    train_fixture f;
    fixture_open(&f, 4);
    const size_t nb = f.m.num_params * sizeof(float);
    f.o.batch_size = 4;
    f.o.epochs = 20;
    f.o.lr = 3e-3;
    f.o.seed = 4;
    f.o.eval_every = 1;
    f.o.metric = METRIC_LOSS;
    f.o.patience = 3;
    eval_trace t;
    train_result res;
    int rc = traced_run(&f, &t, &res);
    int ib = first_best(&t, 0);
    CHECK("early stop: the run stops early, its best step before the last",
          rc == 0 && res.stopped_early && t.n > 3 && res.best_step < res.steps && res.steps < 100);
    CHECK("early stop: the best step is the first with the lowest validation loss",
          res.best_step == t.step[ib] && res.best.loss == t.r[ib].loss);
    CHECK("early stop: stopped after exactly `patience` evaluations without improvement", t.n - 1 - ib == 3);
    CHECK("early stop: the returned weights are the best step's, bit for bit",
          memcmp(f.m.params, t.params[ib], nb) == 0);
    CHECK("early stop: the restored weights score what the best step scored",
          memcmp(&res.final, &res.best, sizeof res.final) == 0);
    trace_free(&t);
    train_result_free(&res);

    /* accuracy: ties do not count as improvements */
    bert_free(&f.m);
    load_tiny(&f.m, 4);
    f.o.metric = METRIC_ACCURACY;
    f.o.patience = 2;
    rc = traced_run(&f, &t, &res);
    ib = first_best(&t, 1);
    CHECK("early stop: by accuracy, the first step reaching the maximum is the best",
          rc == 0 && res.best_step == t.step[ib] && memcmp(f.m.params, t.params[ib], nb) == 0);
    trace_free(&t);
    train_result_free(&res);
    fixture_close(&f);
}

/* ------------------------------------------------------------------------ */

static void synthetic(tok_dataset *d, size_t n)
{
    memset(d, 0, sizeof *d);
    d->name = xstrdup("synthetic");
    d->n = n;
    d->ex = xcalloc(n, sizeof *d->ex);
    prng r;
    prng_seed(&r, 77, 0);
    for (size_t i = 0; i < n; i++) {
        d->ex[i].len = 1 + (int)prng_below(&r, 60);
        d->ex[i].off = d->ntok;
        d->ex[i].label = (int)(i % 3);
        d->ex[i].label_name = xstrdup("x");
        d->ntok += (size_t)d->ex[i].len;
    }
    d->ids = xmalloc(d->ntok * sizeof(int));
    d->types = xmalloc(d->ntok * sizeof(int));
    d->mask = xmalloc(d->ntok * sizeof(int));
    for (size_t k = 0; k < d->ntok; k++) d->ids[k] = 5 + (int)(k % 100), d->types[k] = (int)(k % 2), d->mask[k] = 1;
}

static size_t padding(const tok_dataset *d, const size_t *order, size_t batch)
{
    size_t pad = 0;
    for (size_t s = 0; s < d->n; s += batch) {
        size_t e = s + batch < d->n ? s + batch : d->n;
        int mx = 0;
        for (size_t i = s; i < e; i++)
            if (d->ex[order[i]].len > mx) mx = d->ex[order[i]].len;
        for (size_t i = s; i < e; i++) pad += (size_t)(mx - d->ex[order[i]].len);
    }
    return pad;
}

static void test_bucketing(void)
{
    tok_dataset d;
    synthetic(&d, 1000);
    size_t *a = xmalloc(d.n * sizeof *a), *b = xmalloc(d.n * sizeof *b), *c = xmalloc(d.n * sizeof *c);
    prng r;
    prng_seed(&r, 1, 2);
    tokdata_epoch_order(&d, a, &r, 0, 0, 8);
    int ident = 1;
    for (size_t i = 0; i < d.n; i++) ident &= a[i] == i;
    CHECK("order: without shuffling, file order", ident);
    prng_seed(&r, 1, 2);
    tokdata_epoch_order(&d, a, &r, 1, 0, 8);
    prng_seed(&r, 1, 2);
    tokdata_epoch_order(&d, b, &r, 1, 1, 8);
    prng_seed(&r, 1, 2);
    tokdata_epoch_order(&d, c, &r, 1, 1, 8);
    char *seen = xcalloc(d.n, 1);
    int perm = 1;
    for (size_t i = 0; i < d.n; i++) {
        if (b[i] >= d.n || seen[b[i]]) perm = 0;
        else seen[b[i]] = 1;
    }
    CHECK("bucket: every example once per epoch", perm);
    CHECK("bucket: the same seed gives the same order", memcmp(b, c, d.n * sizeof *b) == 0);
    int sorted = 1;
    for (size_t s = 0; s + 8 <= d.n; s += 8)
        for (size_t i = s + 1; i < s + 8; i++) sorted &= d.ex[b[i]].len <= d.ex[b[i - 1]].len;
    CHECK("bucket: a batch holds a run of the chunk's length order", sorted);
    size_t pa = padding(&d, a, 8), pb = padding(&d, b, 8);
    char name[160];
    snprintf(name, sizeof name, "bucket: padding tokens %zu, without bucketing %zu: below a tenth", pb, pa);
    CHECK(name, pb * 10 < pa);
    /* the batches still come in random order: the first batch is not
     * always the longest, nor are batch lengths sorted */
    int desc = 1;
    for (size_t s = 8; s + 8 <= 400; s += 8) desc &= d.ex[b[s]].len <= d.ex[b[s - 8]].len;
    CHECK("bucket: batches are shuffled within the chunk", !desc);

    /* dynamic padding: a batch is as long as its longest sequence */
    tok_batch tb = {0};
    size_t idx[3] = {0, 1, 2};
    const bert_batch *bt = tokdata_batch(&tb, &d, idx, 3, 0, 1);
    int T = 0;
    for (int i = 0; i < 3; i++)
        if (d.ex[i].len > T) T = d.ex[i].len;
    int ok = bt->B == 3 && bt->T == T;
    for (int i = 0; i < 3 && ok; i++)
        for (int t = 0; t < T; t++) {
            size_t o = (size_t)i * T + t;
            if (t < d.ex[i].len) ok &= bt->input_ids[o] == d.ids[d.ex[i].off + t] && bt->attention_mask[o] == 1 &&
                                        bt->token_type_ids[o] == d.types[d.ex[i].off + t];
            else ok &= bt->input_ids[o] == 0 && bt->attention_mask[o] == 0 && bt->token_type_ids[o] == 0;
        }
    ok &= bt->labels && bt->labels[2] == 2;
    CHECK("batch: padded to its longest sequence with the pad id, mask 0, type 0", ok);
    tok_batch_free(&tb);

    /* records to predict: labels not read */
    bert_model m;
    load_tiny(&m, 1);
    tok_dataset un;
    tokdata_read(&un, GOLDEN "train_ref/train.jsonl", NULL, &m.cfg);
    int unlabelled = un.n == 20;
    for (size_t i = 0; i < un.n; i++) unlabelled &= un.ex[i].label == -1 && un.ex[i].label_name == NULL;
    CHECK("tokdata: read without labels (records to predict)", unlabelled);
    tokdata_free(&un);
    bert_free(&m);
    free(seen);
    free(a);
    free(b);
    free(c);
    tokdata_free(&d);
}

/* ------------------------------------------------------------------------ */

static void test_nan(void)
{
    train_fixture f;
    fixture_open(&f, 6);
    f.o.batch_size = 4;
    f.o.lr = 1e30;
    f.o.max_grad_norm = 0;
    f.o.epochs = 5;
    train_result res;
    int rc = train_run(&f.m, &f.tr, NULL, &f.o, &res, NULL, NULL);
    int lines = 0;
    for (size_t i = 0; i < res.log.len; i++) lines += res.log.s[i] == '\n';
    char want[64], name[400];
    snprintf(want, sizeof want, "step %d: the ", lines + 1);
    snprintf(name, sizeof name, "nan: a learning rate of 1e30 stops the run, naming the step after the log's last (%s)",
             res.err);
    CHECK(name, rc < 0 && strstr(res.err, want) && (strstr(res.err, "NaN") || strstr(res.err, "infinite")));
    train_result_free(&res);
    fixture_close(&f);
}

int main(void)
{
    openblas_set_num_threads(1);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_train.XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    test_schedules();
    test_parity();
    test_accumulation();
    test_resume();
    test_early_stopping();
    test_bucketing();
    test_nan();
    rmdir(tmpdir);
    return check_exit();
}
