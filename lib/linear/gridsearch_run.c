/* gridsearch_run: the search itself (gs_run). The candidates fall into
 * chains, one per fold and setting of the options that do not vary along a
 * chain; a chain's blocks (the candidates of one C and class weight, which
 * differ only in max_iter and are fitted together by logreg_train_multi)
 * are the units of work, "jobs". In fast mode a job starts from fits of
 * earlier jobs of its chain (warm_start), so it waits for them; a pool of
 * threads takes the ready jobs, likely-longest chains first, so that the
 * jobs of one chain also run side by side where their inputs allow (the
 * other class weights of a C once the first one is fitted). The results do
 * not depend on the order: each job's inputs are fixed. */
#define _GNU_SOURCE /* qsort_r */
#include "gridsearch.h"
#include "core/common.h"
#include "core/progress.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* a chain: one fold and candidates that differ only in C, class weight and
 * max_iter (fast mode) or only in max_iter (exact mode), ordered by C
 * ascending, then class weight (the grid's order), then max_iter
 * descending */
typedef struct chain {
    size_t fold;
    size_t *cands;
    size_t ncands;
    size_t layout; /* its slot in the pool's layouts */
} chain;

typedef struct job job;
struct job {
    const chain *ch;
    size_t from, to;   /* its candidates: ch->cands[from..to) */
    double C;
    size_t order;      /* its chain's place in the likely-longest-first order */
    size_t level;      /* its C's place in the chain, + 1 off the root (below) */
    size_t cw;         /* its class weight's rank; is_root: the chain's first */
    int is_root;
    /* the fits its warm start reads (warm_start): the chain's first class
     * weight (the root) at the C before the one before, at the C before
     * and at this C; its own class weight at the C before */
    job *root_prev2, *root_prev, *root_cur, *own_prev;
    size_t waiting;    /* inputs not fitted yet */
    size_t readers;    /* jobs still to run that read its fit */
    job **readers_of;  /* the jobs that read its fit */
    size_t nreaders;
    logreg_model *fit; /* the largest max_iter's fit, while readers > 0 */
};

typedef struct layout_slot {
    size_t fold;
    const lr_params *p; /* a candidate with the slot's penalty and intercept */
    lr_layout *layout;
    int state;          /* 0: not made, 1: being made, 2: ready */
    size_t jobs_left;   /* its jobs not finished: at 0 the layout is freed */
} layout_slot;

typedef struct pool {
    const lr_data *d;
    const gs_grid *g;
    size_t k;
    gs_scoring scoring;
    int exact;
    const size_t *cw_rank; /* each candidate's class weight: its value's place in the grid */
    size_t **train, *ntrain, **test, *ntest;
    job *jobs;
    size_t njobs, ndone, nfits;
    job **ready;           /* a heap, the job to run next on top (job_before) */
    size_t nready;
    layout_slot *slots;
    size_t nslots;
    pthread_mutex_t mu;
    pthread_cond_t changed; /* a job became ready, the last one ended, or a layout was made */
    gs_result *r;
    progress bar;           /* over the jobs done */
} pool;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double evaluate(const pool *p, const logreg_model *m, size_t fold)
{
    const lr_data *d = p->d;
    size_t n = p->ntest[fold];
    size_t *truth = xmalloc(2 * n * sizeof *truth), *pred = truth + n;
    for (size_t t = 0; t < n; t++) {
        size_t i = p->test[fold][t];
        size_t a = d->rowptr[i];
        sparse_vec x = {d->rowptr[i + 1] - a, 0, d->idx + a, d->val + a, d->dim};
        truth[t] = d->cls[i];
        pred[t] = logreg_predict(m, &x);
    }
    double s = gs_score(p->scoring, truth, pred, n, d->nclasses);
    free(truth);
    return s;
}

static int same_fit(const logreg_model *a, const logreg_model *b)
{
    return memcmp(a->n_iter, b->n_iter, a->nvec * sizeof *a->n_iter) == 0 &&
           memcmp(a->intercept, b->intercept, a->nvec * sizeof *a->intercept) == 0 &&
           memcmp(a->coef, b->coef, a->nvec * (size_t)a->dim * sizeof *a->coef) == 0;
}

/* ---------------------------------------------------------- warm starts */

/* Where a fast-mode fit starts. The chain's first class weight (the root)
 * goes up the C values: from its fit at the C before, or, with two fits
 * before, on the line through them in log C (the L2 solutions' path is
 * smooth in log C; L1's is where its set of nonzero weights stays).
 * Another class weight starts from the root's fit at this C moved by its
 * own difference from the root at the C before: class weights change the
 * costs by ~20% on the tweet grid, the next C by 2x, and the difference
 * between two class weights' solutions changes slowly along C. On the
 * tweet study's grid these starts take a quarter fewer Newton steps than
 * each class weight's own fit at the C before. */
static void warm_start(lr_fit_opts *o, const job *j)
{
    if (j->is_root) {
        if (!j->root_prev) return;
        o->warm = j->root_prev->fit;
        if (j->root_prev2) {
            double Cp = j->root_prev->C, Cpp = j->root_prev2->C;
            double step = (log(j->C) - log(Cp)) / (log(Cp) - log(Cpp));
            o->shift[0] = j->root_prev->fit;
            o->shift_coef[0] = step;
            o->shift[1] = j->root_prev2->fit;
            o->shift_coef[1] = -step;
        }
        return;
    }
    if (!j->root_cur) {
        o->warm = j->own_prev ? j->own_prev->fit : NULL;
        return;
    }
    o->warm = j->root_cur->fit;
    if (j->own_prev && j->root_prev) {
        o->shift[0] = j->own_prev->fit;
        o->shift_coef[0] = 1;
        o->shift[1] = j->root_prev->fit;
        o->shift_coef[1] = -1;
    }
}

/* ------------------------------------------------------------ the queue */

/* Which ready job runs first: the likely-longest chains' first; within a
 * chain, by C, where the root at one C goes with the other class weights
 * at the C before, ahead of them (the root's path is the chain's longest
 * road, and the others at a C wait for it). */
static int job_before(const job *a, const job *b)
{
    if (a->order != b->order) return a->order < b->order;
    if (a->level != b->level) return a->level < b->level;
    if (a->is_root != b->is_root) return a->is_root;
    return a->cw < b->cw;
}

static void heap_push(pool *p, job *j)
{
    size_t i = p->nready++;
    while (i > 0 && job_before(j, p->ready[(i - 1) / 2])) {
        p->ready[i] = p->ready[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    p->ready[i] = j;
}

static job *heap_pop(pool *p)
{
    job *top = p->ready[0], *last = p->ready[--p->nready];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= p->nready) break;
        if (c + 1 < p->nready && job_before(p->ready[c + 1], p->ready[c])) c++;
        if (!job_before(p->ready[c], last)) break;
        p->ready[i] = p->ready[c];
        i = c;
    }
    if (p->nready) p->ready[i] = last;
    return top;
}

/* ---------------------------------------------------------- running jobs */

/* the fold's rows laid out for the slot's options, made by the first job
 * that needs them (the others wait) */
static const lr_layout *get_layout(pool *p, size_t slot)
{
    layout_slot *s = &p->slots[slot];
    pthread_mutex_lock(&p->mu);
    while (s->state == 1) pthread_cond_wait(&p->changed, &p->mu);
    if (s->state == 2) {
        pthread_mutex_unlock(&p->mu);
        return s->layout;
    }
    s->state = 1;
    pthread_mutex_unlock(&p->mu);
    lr_layout *l = logreg_layout_new(p->d, p->train[s->fold], p->ntrain[s->fold], s->p, !p->exact);
    pthread_mutex_lock(&p->mu);
    s->layout = l;
    s->state = 2;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->mu);
    return l;
}

/* Fits the job's candidates and records their scores; keeps the largest
 * max_iter's fit where later jobs read it. Returns the distinct fits. */
static size_t run_job(pool *p, job *j)
{
    gs_result *r = p->r;
    const lr_params *cand = p->g->cand;
    const chain *ch = j->ch;
    const lr_params *cp = &cand[ch->cands[j->from]];
    size_t n = j->to - j->from, nm = 0, fits = 0;
    long *max_iters = xmalloc(n * sizeof *max_iters);
    logreg_model **models = xmalloc(n * sizeof *models);
    double *score = xmalloc(n * sizeof *score);
    for (size_t q = j->from; q < j->to; q++) { /* distinct max_iter values, largest first */
        long mi = cand[ch->cands[q]].max_iter;
        if (!nm || mi != max_iters[nm - 1]) max_iters[nm++] = mi;
    }
    lr_fit_opts o = {NULL, !p->exact, !p->exact, get_layout(p, ch->layout), {NULL, NULL}, {0, 0}};
    if (!p->exact) warm_start(&o, j);
    double t0 = now();
    logreg_train_multi(p->d, p->train[ch->fold], p->ntrain[ch->fold], cp, &o, max_iters, nm, models);
    double took = now() - t0;
    for (size_t i = 0; i < nm; i++) {
        int again = i && same_fit(models[i], models[i - 1]);
        score[i] = again ? score[i - 1] : evaluate(p, models[i], ch->fold);
        fits += !again;
    }
    for (size_t q = j->from, i = 0; q < j->to; q++) {
        size_t c = ch->cands[q], at = c * p->k + ch->fold;
        while (max_iters[i] != cand[c].max_iter) i++;
        const logreg_model *m = models[i];
        int used = 0;
        for (size_t v = 0; v < m->nvec; v++)
            if (m->n_iter[v] > used) used = m->n_iter[v];
        r->score[at] = score[i];
        r->fit_time[at] = took;
        r->hit_max_iter[at] = used >= cand[c].max_iter;
        r->stalled[at] = m->nstalled > 0;
    }
    for (size_t i = 0; i < nm; i++) {
        if (i == 0 && j->nreaders) j->fit = models[0];
        else logreg_free(models[i]);
    }
    free(max_iters);
    free(models);
    free(score);
    return fits;
}

/* with the lock held: the job's inputs are read no more by it, and the
 * jobs that read its fit are one input nearer to ready */
static void finish(pool *p, job *j, size_t fits)
{
    p->nfits += fits;
    p->ndone++;
    progress_update(&p->bar, (long)p->ndone, NULL);
    layout_slot *slot = &p->slots[j->ch->layout];
    if (--slot->jobs_left == 0) {
        logreg_layout_free(slot->layout);
        slot->layout = NULL;
    }
    job *in[] = {j->root_prev2, j->root_prev, j->root_cur, j->own_prev};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
        if (in[i] && --in[i]->readers == 0) {
            logreg_free(in[i]->fit);
            in[i]->fit = NULL;
        }
    for (size_t i = 0; i < j->nreaders; i++)
        if (--j->readers_of[i]->waiting == 0) heap_push(p, j->readers_of[i]);
}

static void *worker(void *arg)
{
    pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->nready && p->ndone < p->njobs) pthread_cond_wait(&p->changed, &p->mu);
        if (!p->nready) break;
        job *j = heap_pop(p);
        pthread_mutex_unlock(&p->mu);
        size_t fits = run_job(p, j);
        pthread_mutex_lock(&p->mu);
        finish(p, j, fits);
        pthread_cond_broadcast(&p->changed);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* --------------------------------------------------------- chains, jobs */

/* the same text, or both without one (a key their sub-grids lack: the
 * base option's value) */
static int same_text(const char *a, const char *b)
{
    return a && b ? strcmp(a, b) == 0 : a == b;
}

/* the same candidate but for max_iter and the keys of free_keys? (every
 * other grid value has the same text, a key that one's sub-grid lacks and
 * the other's sets counting as different even where the values agree;
 * everything outside the grid comes from one base) */
static int same_but(const gs_grid *g, size_t a, size_t b, const char *const *free_keys, size_t nfree)
{
    for (size_t i = 0; i < g->nkeys; i++) {
        const char *key = g->keys[i];
        int is_free = strcmp(key, "max_iter") == 0;
        for (size_t f = 0; f < nfree; f++) is_free |= strcmp(key, free_keys[f]) == 0;
        if (is_free) continue;
        if (!same_text(g->text[a * g->nkeys + i], g->text[b * g->nkeys + i])) return 0;
    }
    return 1;
}

/* the order of a chain: C ascending, then class weight, then max_iter
 * descending, then grid order */
static int cmp_chain(const void *a, const void *b, void *arg)
{
    const pool *p = arg;
    const lr_params *cand = p->g->cand;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    if (cand[i].C != cand[j].C) return cand[i].C < cand[j].C ? -1 : 1;
    if (p->cw_rank[i] != p->cw_rank[j]) return p->cw_rank[i] < p->cw_rank[j] ? -1 : 1;
    if (cand[i].max_iter != cand[j].max_iter) return cand[i].max_iter > cand[j].max_iter ? -1 : 1;
    return i < j ? -1 : i > j;
}

/* each candidate's class weight as the place of its value among the grid's
 * class_weight values (all 0 when the grid has none; the base's, for the
 * candidates of sub-grids without class_weight, is a value of its own) */
static size_t *class_weight_ranks(const gs_grid *g)
{
    size_t *rank = xcalloc(g->ncand, sizeof *rank), key = g->nkeys;
    for (size_t i = 0; i < g->nkeys; i++)
        if (strcmp(g->keys[i], "class_weight") == 0) key = i;
    if (key == g->nkeys) return rank;
    const char **seen = NULL;
    size_t nseen = 0;
    for (size_t c = 0; c < g->ncand; c++) {
        const char *text = g->text[c * g->nkeys + key];
        size_t r = 0;
        while (r < nseen && !same_text(seen[r], text)) r++;
        if (r == nseen) {
            seen = xrealloc(seen, (nseen + 1) * sizeof *seen);
            seen[nseen++] = text;
        }
        rank[c] = r;
    }
    free(seen);
    return rank;
}

/* likely-longest chains first: L1, then the largest C (a chain's last), so
 * that no thread is left with one long fit at the end */
static int cmp_chain_cost(const void *a, const void *b, void *params)
{
    const chain *x = a, *y = b;
    const lr_params *cand = params, *px = &cand[x->cands[x->ncands - 1]], *py = &cand[y->cands[y->ncands - 1]];
    if (px->penalty != py->penalty) return px->penalty == LR_L1 ? -1 : 1;
    if (px->C != py->C) return px->C > py->C ? -1 : 1;
    if (x->cands[0] != y->cands[0]) return x->cands[0] < y->cands[0] ? -1 : 1;
    return x->fold < y->fold ? -1 : x->fold > y->fold;
}

/* the layout slot of a chain: one per fold and setting of the penalty and
 * intercept */
static size_t layout_slot_of(pool *p, size_t fold, const lr_params *c)
{
    for (size_t s = 0; s < p->nslots; s++) {
        const lr_params *o = p->slots[s].p;
        if (p->slots[s].fold == fold && o->penalty == c->penalty && o->fit_intercept == c->fit_intercept &&
            o->intercept_scaling == c->intercept_scaling)
            return s;
    }
    p->slots[p->nslots] = (layout_slot){fold, c, NULL, 0, 0};
    return p->nslots++;
}

/* The jobs of the chains, their inputs (fast mode) and the readers of
 * each; the ones with no inputs are ready. */
static void make_jobs(pool *p, chain *chains, size_t nchains)
{
    const lr_params *cand = p->g->cand;
    size_t njobs = 0;
    for (size_t h = 0; h < nchains; h++)
        for (size_t q = 0; q < chains[h].ncands; q++)
            njobs += q == 0 || cand[chains[h].cands[q]].C != cand[chains[h].cands[q - 1]].C ||
                     p->cw_rank[chains[h].cands[q]] != p->cw_rank[chains[h].cands[q - 1]];
    p->jobs = xcalloc(njobs, sizeof *p->jobs);
    p->ready = xmalloc(njobs * sizeof *p->ready);
    for (size_t h = 0; h < nchains; h++) {
        const chain *ch = &chains[h];
        size_t nranks = 0, root = p->cw_rank[ch->cands[0]], level = 0;
        for (size_t q = 0; q < ch->ncands; q++)
            if (p->cw_rank[ch->cands[q]] + 1 > nranks) nranks = p->cw_rank[ch->cands[q]] + 1;
        /* each class weight's job at the C before and at this C */
        job **prev = xcalloc(nranks, sizeof *prev), **cur = xcalloc(nranks, sizeof *cur), *root_prev2 = NULL;
        for (size_t q = 0, end; q < ch->ncands; q = end) {
            size_t c = ch->cands[q], rank = p->cw_rank[c];
            for (end = q; end < ch->ncands && cand[ch->cands[end]].C == cand[c].C &&
                          p->cw_rank[ch->cands[end]] == rank;
                 end++)
                ;
            if (q > 0 && cand[c].C != cand[ch->cands[q - 1]].C) {
                root_prev2 = prev[root];
                memcpy(prev, cur, nranks * sizeof *prev);
                memset(cur, 0, nranks * sizeof *cur);
                level++;
            }
            job *j = &p->jobs[p->njobs++];
            p->slots[ch->layout].jobs_left++;
            *j = (job){.ch = ch, .from = q, .to = end, .C = cand[c].C, .order = h, .cw = rank,
                       .is_root = rank == root};
            j->level = level + !j->is_root;
            if (!p->exact) {
                if (j->is_root) {
                    j->root_prev = prev[root];
                    j->root_prev2 = j->root_prev ? root_prev2 : NULL;
                } else {
                    j->root_cur = cur[root];
                    j->root_prev = cur[root] ? prev[root] : NULL;
                    j->own_prev = prev[rank];
                }
            }
            cur[rank] = j;
        }
        free(prev);
        free(cur);
    }
    /* readers: count, then list */
    for (size_t i = 0; i < p->njobs; i++) {
        job *j = &p->jobs[i], *in[] = {j->root_prev2, j->root_prev, j->root_cur, j->own_prev};
        for (size_t k = 0; k < 4; k++)
            if (in[k]) {
                in[k]->nreaders++;
                j->waiting++;
            }
    }
    for (size_t i = 0; i < p->njobs; i++) {
        job *j = &p->jobs[i];
        j->readers_of = xmalloc((j->nreaders ? j->nreaders : 1) * sizeof *j->readers_of);
        j->readers = j->nreaders;
        j->nreaders = 0;
    }
    for (size_t i = 0; i < p->njobs; i++) {
        job *j = &p->jobs[i], *in[] = {j->root_prev2, j->root_prev, j->root_cur, j->own_prev};
        for (size_t k = 0; k < 4; k++)
            if (in[k]) in[k]->readers_of[in[k]->nreaders++] = j;
        if (!j->waiting) heap_push(p, j);
    }
}

/* ---------------------------------------------------------------- gs_run */

void gs_run(const lr_data *d, const gs_grid *g, const size_t *fold_of, size_t k, gs_scoring s, const gs_opts *o,
            gs_result *r)
{
    memset(r, 0, sizeof *r);
    size_t nc = g->ncand;
    r->ncand = nc;
    r->k = k;
    r->exact = o->exact;
    r->score = xcalloc(nc * k, sizeof *r->score);
    r->fit_time = xcalloc(nc * k, sizeof *r->fit_time);
    r->hit_max_iter = xcalloc(nc * k, sizeof *r->hit_max_iter);
    r->stalled = xcalloc(nc * k, sizeof *r->stalled);
    r->mean = xcalloc(nc, sizeof *r->mean);
    r->std = xcalloc(nc, sizeof *r->std);
    r->mean_time = xcalloc(nc, sizeof *r->mean_time);
    r->std_time = xcalloc(nc, sizeof *r->std_time);
    r->rank = xcalloc(nc, sizeof *r->rank);

    pool p = {0};
    p.d = d;
    p.g = g;
    p.k = k;
    p.scoring = s;
    p.exact = o->exact;
    p.r = r;
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.changed, NULL);
    p.train = xcalloc(k, sizeof *p.train);
    p.test = xcalloc(k, sizeof *p.test);
    p.ntrain = xcalloc(k, sizeof *p.ntrain);
    p.ntest = xcalloc(k, sizeof *p.ntest);
    for (size_t f = 0; f < k; f++) {
        p.train[f] = xmalloc(d->n * sizeof *p.train[f]);
        p.test[f] = xmalloc(d->n * sizeof *p.test[f]);
    }
    for (size_t i = 0; i < d->n; i++)
        for (size_t f = 0; f < k; f++) {
            if (fold_of[i] == f) p.test[f][p.ntest[f]++] = i;
            else p.train[f][p.ntrain[f]++] = i;
        }

    /* the chains: candidates that differ only in max_iter (exact), or in C,
     * class weight and max_iter (fast) */
    static const char *const free_fast[] = {"C", "class_weight"};
    size_t nfree = o->exact ? 0 : 2;
    size_t *cw_rank = class_weight_ranks(g);
    p.cw_rank = cw_rank;
    size_t ngroups = 0;
    size_t **members = xmalloc(nc * sizeof *members), *nmembers = xcalloc(nc, sizeof *nmembers);
    for (size_t c = 0; c < nc; c++) {
        size_t gi = ngroups;
        for (size_t h = 0; h < ngroups && gi == ngroups; h++)
            if (same_but(g, members[h][0], c, free_fast, nfree)) gi = h;
        if (gi == ngroups) members[ngroups++] = xmalloc(nc * sizeof **members);
        members[gi][nmembers[gi]++] = c;
    }
    for (size_t h = 0; h < ngroups; h++) qsort_r(members[h], nmembers[h], sizeof **members, cmp_chain, &p);
    size_t nchains = ngroups * k;
    chain *chains = xmalloc(nchains * sizeof *chains);
    for (size_t h = 0; h < ngroups; h++)
        for (size_t f = 0; f < k; f++) chains[h * k + f] = (chain){f, members[h], nmembers[h], 0};
    qsort_r(chains, nchains, sizeof *chains, cmp_chain_cost, g->cand);
    p.slots = xmalloc(nchains * sizeof *p.slots);
    for (size_t h = 0; h < nchains; h++) chains[h].layout = layout_slot_of(&p, chains[h].fold, &g->cand[chains[h].cands[0]]);
    make_jobs(&p, chains, nchains);

    /* a job: one fold's fit for one set of options (the max_iter values
     * of a grid share it) */
    progress_start_unit(&p.bar, o->progress, (long)p.njobs, 0, "fits", 1);
    size_t nthreads = (size_t)(o->jobs < 1 ? 1 : o->jobs);
    if (nthreads > p.njobs) nthreads = p.njobs;
    if (nthreads <= 1) {
        worker(&p);
    } else {
        pthread_t *th = xmalloc(nthreads * sizeof *th);
        for (size_t t = 0; t < nthreads; t++)
            if (pthread_create(&th[t], NULL, worker, &p) != 0) die("cannot start a thread");
        for (size_t t = 0; t < nthreads; t++) pthread_join(th[t], NULL);
        free(th);
    }
    progress_end(&p.bar);
    r->nfits = p.nfits;

    for (size_t c = 0; c < nc; c++) {
        double sum = 0, tsum = 0;
        for (size_t f = 0; f < k; f++) {
            size_t at = c * k + f;
            sum += r->score[at];
            tsum += r->fit_time[at];
            r->nhit += (size_t)r->hit_max_iter[at];
            r->nstalled += (size_t)(r->stalled[at] && !r->hit_max_iter[at]);
        }
        r->mean[c] = sum / (double)k;
        r->mean_time[c] = tsum / (double)k;
        double v = 0, tv = 0;
        for (size_t f = 0; f < k; f++) {
            double e = r->score[c * k + f] - r->mean[c], te = r->fit_time[c * k + f] - r->mean_time[c];
            v += e * e;
            tv += te * te;
        }
        r->std[c] = sqrt(v / (double)k);
        r->std_time[c] = sqrt(tv / (double)k);
    }
    /* scikit-learn's rankdata(-mean, method='min'); the best is the first of rank 1 */
    for (size_t c = 0; c < nc; c++) {
        int better = 0;
        for (size_t o2 = 0; o2 < nc; o2++) better += r->mean[o2] > r->mean[c];
        r->rank[c] = 1 + better;
    }
    r->best = 0;
    while (r->rank[r->best] != 1) r->best++;

    for (size_t i = 0; i < p.njobs; i++) {
        logreg_free(p.jobs[i].fit);
        free(p.jobs[i].readers_of);
    }
    free(p.jobs);
    free(p.ready);
    for (size_t i = 0; i < p.nslots; i++) logreg_layout_free(p.slots[i].layout);
    free(p.slots);
    free(chains);
    for (size_t h = 0; h < ngroups; h++) free(members[h]);
    free(members);
    free(cw_rank);
    free(nmembers);
    for (size_t f = 0; f < k; f++) {
        free(p.train[f]);
        free(p.test[f]);
    }
    free(p.train);
    free(p.test);
    free(p.ntrain);
    free(p.ntest);
    pthread_mutex_destroy(&p.mu);
    pthread_cond_destroy(&p.changed);
}

void gs_result_free(gs_result *r)
{
    free(r->score);
    free(r->fit_time);
    free(r->hit_max_iter);
    free(r->stalled);
    free(r->mean);
    free(r->std);
    free(r->mean_time);
    free(r->std_time);
    free(r->rank);
    memset(r, 0, sizeof *r);
}

