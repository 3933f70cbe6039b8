/* tfidf_stream: the record loops of tfidf fit and apply, on several threads.
 * apply reads a batch of lines and cuts it into chunks; the threads (the
 * calling one among them) take chunks off a shared counter, parse and
 * vectorise them into each chunk's own buffer, and the buffers are written
 * in order. fit formats the vectors of its held records the same way. The
 * output is the same bytes for any number of threads, and a thread that
 * starts late (the processors busy elsewhere) costs little: the others take
 * its chunks.
 *
 * Errors stay in order too: a chunk whose line its fast parser does not take
 * (a bad record, or one only cJSON reads) stops there; the calling thread
 * writes what came before, then reads that line and the rest of the chunk
 * itself with the full reader, which dies at a bad line with its message. */
#include "tfidf.h"

#include "core/common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* lines in a batch of apply, records in a batch of fit's output: bounded
 * memory */
#define BATCH 8192
/* lines or records in a chunk */
#define CHUNK 256
#define MAX_THREADS 64

typedef struct line_ref {
    size_t off, len; /* in the batch's bytes */
    long no;         /* line number, for messages */
} line_ref;

typedef struct chunk {
    size_t from, to, stopped; /* stopped: the first line not done */
    strbuf out;
} chunk;

/* a thread's own working memory */
typedef struct worker {
    tfidf_scratch scratch;
    tfidf_line_parser parser;
    sparse_vec v;
} worker;

typedef struct job {
    /* apply */
    const tfidf_model *m;
    const char *bytes;
    const line_ref *lines;
    /* fit */
    const tfidf_fitter *f;
    const char *held;
    const size_t *ends;
    /* both */
    chunk *chunks;
    size_t nchunks;
    atomic_size_t next;
    void (*run)(const struct job *, worker *, chunk *);
} job;

typedef struct thread_arg {
    job *j;
    worker *w;
} thread_arg;

static void append_x(strbuf *out, const sparse_vec *v)
{
    sb_adds(out, "\"x\":");
    tfidf_append_vector_json(out, v);
    sb_adds(out, "}\n");
}

static void apply_chunk(const job *j, worker *w, chunk *c)
{
    sb_clear(&c->out);
    for (size_t i = c->from; i < c->to; i++) {
        const char *text;
        size_t len;
        if (!tfidf_parse_line(&w->parser, j->bytes + j->lines[i].off, j->lines[i].len, &text, &len, &c->out)) {
            c->stopped = i;
            return;
        }
        tfidf_vectorize(j->m, &w->scratch, text, len, &w->v);
        append_x(&c->out, &w->v);
    }
    c->stopped = c->to;
}

static void fit_chunk(const job *j, worker *w, chunk *c)
{
    sb_clear(&c->out);
    for (size_t d = c->from; d < c->to; d++) {
        size_t start = d ? j->ends[d - 1] : 0;
        sb_addn(&c->out, j->held + start, j->ends[d] - start);
        tfidf_fitter_vector(j->f, j->m, d, &w->v);
        append_x(&c->out, &w->v);
    }
    c->stopped = c->to;
}

static void *take_chunks(void *arg)
{
    thread_arg *a = arg;
    job *j = a->j;
    size_t k;
    while ((k = atomic_fetch_add(&j->next, 1)) < j->nchunks) j->run(j, a->w, &j->chunks[k]);
    return NULL;
}

/* Cuts [base, base + n) into chunks and runs them on up to `threads`
 * threads, the calling one included (a thread that cannot start is simply
 * not there). */
static void run_job(job *j, worker *w, int threads, size_t base, size_t n)
{
    j->nchunks = (n + CHUNK - 1) / CHUNK;
    for (size_t k = 0; k < j->nchunks; k++) {
        j->chunks[k].from = base + k * CHUNK;
        j->chunks[k].to = base + ((k + 1) * CHUNK < n ? (k + 1) * CHUNK : n);
    }
    atomic_store(&j->next, 0);
    size_t helpers = (size_t)threads - 1;
    if (helpers > j->nchunks - 1) helpers = j->nchunks - 1;
    pthread_t tid[MAX_THREADS];
    thread_arg args[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    for (size_t t = 0; t <= helpers; t++) args[t] = (thread_arg){j, &w[t]};
    for (size_t t = 1; t <= helpers; t++) started[t] = pthread_create(&tid[t], NULL, take_chunks, &args[t]) == 0;
    take_chunks(&args[0]);
    for (size_t t = 1; t <= helpers; t++)
        if (started[t]) pthread_join(tid[t], NULL);
}

static int clamp_threads(int threads) { return threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads; }

static worker *workers_new(int threads, const tfidf_reader *r)
{
    worker *w = xcalloc((size_t)threads, sizeof *w);
    for (int t = 0; t < threads; t++) {
        tfidf_scratch_init(&w[t].scratch);
        if (r) tfidf_line_parser_init(&w[t].parser, r->p.field, r->p.drop_text);
    }
    return w;
}

static void workers_free(worker *w, int threads, chunk *chunks)
{
    for (int t = 0; t < threads; t++) {
        tfidf_scratch_free(&w[t].scratch);
        tfidf_line_parser_free(&w[t].parser);
        sparse_free(&w[t].v);
    }
    free(w);
    for (size_t k = 0; k < BATCH / CHUNK; k++) sb_free(&chunks[k].out);
    free(chunks);
}

void tfidf_apply_stream(const tfidf_model *m, tfidf_reader *r, FILE *out, int threads)
{
    threads = clamp_threads(threads);
    worker *w = workers_new(threads, r);
    job j = {.m = m, .run = apply_chunk, .chunks = xcalloc(BATCH / CHUNK, sizeof(chunk))};
    strbuf bytes = {0}, one = {0};
    line_ref *lines = xmalloc(BATCH * sizeof *lines);
    for (;;) {
        size_t n = 0, len;
        const char *line;
        sb_clear(&bytes);
        while (n < BATCH && tfidf_reader_line(r, &line, &len)) {
            lines[n++] = (line_ref){bytes.len, len, r->in.line};
            sb_addn(&bytes, line, len);
        }
        if (n == 0) break;
        j.bytes = bytes.s;
        j.lines = lines;
        run_job(&j, w, threads, 0, n);
        for (size_t k = 0; k < j.nchunks; k++) {
            chunk *c = &j.chunks[k];
            fwrite(sb_str(&c->out), 1, c->out.len, out); /* empty when its first line was bad */
            /* what the chunk left: one line at a time, errors and all */
            for (size_t i = c->stopped; i < c->to; i++) {
                const char *text;
                sb_clear(&one);
                tfidf_reader_record(r, bytes.s + lines[i].off, lines[i].len, lines[i].no, &text, &len, &one);
                tfidf_vectorize(m, &w[0].scratch, text, len, &w[0].v);
                append_x(&one, &w[0].v);
                fwrite(one.s, 1, one.len, out);
            }
        }
        if (ferror(out)) break;
    }
    workers_free(w, threads, j.chunks);
    free(lines);
    sb_free(&bytes);
    sb_free(&one);
}

void tfidf_fit_write(const tfidf_fitter *f, const tfidf_model *m, const char *held, const size_t *ends, size_t n,
                     FILE *out, int threads)
{
    threads = clamp_threads(threads);
    worker *w = workers_new(threads, NULL);
    job j = {.f = f, .m = m, .held = held, .ends = ends, .run = fit_chunk,
             .chunks = xcalloc(BATCH / CHUNK, sizeof(chunk))};
    for (size_t start = 0; start < n && !ferror(out); start += BATCH) {
        run_job(&j, w, threads, start, n - start < BATCH ? n - start : BATCH);
        for (size_t k = 0; k < j.nchunks; k++) fwrite(sb_str(&j.chunks[k].out), 1, j.chunks[k].out.len, out);
    }
    workers_free(w, threads, j.chunks);
}
