#include "threadpool.h"
#include "common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct worker {
    struct threadpool *pool;
    int id;
} worker;

struct threadpool {
    int size;
    pthread_t *threads;
    worker *workers;
    pthread_mutex_t lock;
    pthread_cond_t start, done;
    /* under lock: a new run bumps generation; running counts the workers
     * not yet through it */
    unsigned long generation;
    int running, stop;
    /* the current run, set under lock before generation moves */
    threadpool_fn fn;
    void *arg;
    int ntasks;
    atomic_int next;
};

static void run_tasks(threadpool *p, int thread)
{
    for (;;) {
        int t = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (t >= p->ntasks) return;
        p->fn(p->arg, t, thread);
    }
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    threadpool *p = w->pool;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (p->generation == seen && !p->stop) pthread_cond_wait(&p->start, &p->lock);
        if (p->stop) break;
        seen = p->generation;
        pthread_mutex_unlock(&p->lock);
        run_tasks(p, w->id);
        pthread_mutex_lock(&p->lock);
        if (--p->running == 0) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

threadpool *threadpool_new(int nthreads)
{
    threadpool *p = xcalloc(1, sizeof *p);
    p->size = nthreads < 1 ? 1 : nthreads;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->start, NULL);
    pthread_cond_init(&p->done, NULL);
    atomic_init(&p->next, 0);
    p->threads = xcalloc((size_t)p->size, sizeof *p->threads);
    p->workers = xcalloc((size_t)p->size, sizeof *p->workers);
    for (int i = 1; i < p->size; i++) {
        p->workers[i].pool = p;
        p->workers[i].id = i;
        int rc = pthread_create(&p->threads[i], NULL, worker_main, &p->workers[i]);
        if (rc != 0) die("cannot start a thread: %s", strerror(rc));
    }
    return p;
}

int threadpool_size(const threadpool *p)
{
    return p->size;
}

void threadpool_run(threadpool *p, int ntasks, threadpool_fn fn, void *arg)
{
    if (ntasks <= 0) return;
    if (p->size == 1 || ntasks == 1) {
        for (int t = 0; t < ntasks; t++) fn(arg, t, 0);
        return;
    }
    pthread_mutex_lock(&p->lock);
    p->fn = fn;
    p->arg = arg;
    p->ntasks = ntasks;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    p->running = p->size - 1;
    p->generation++;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->lock);
    run_tasks(p, 0);
    pthread_mutex_lock(&p->lock);
    while (p->running > 0) pthread_cond_wait(&p->done, &p->lock);
    pthread_mutex_unlock(&p->lock);
}

void threadpool_free(threadpool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->lock);
    for (int i = 1; i < p->size; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->start);
    pthread_cond_destroy(&p->done);
    free(p->threads);
    free(p->workers);
    free(p);
}

static long boundary(long n, int parts, int i, long align)
{
    if (i >= parts) return n;
    long b = (long)((double)n * i / parts);
    if (align > 1) b = (b + align / 2) / align * align;
    return b < n ? b : n;
}

void threadpool_part(long n, int parts, int i, long align, long *lo, long *hi)
{
    *lo = boundary(n, parts, i, align);
    *hi = boundary(n, parts, i + 1, align);
}
