/* threadpool: a fixed set of threads for fork-join loops (lib/bert's layers).
 * threadpool_run hands out tasks 0..n-1 to the pool's threads and to the
 * caller, and returns when all are done. Which thread runs a task is left to
 * chance, so results stay deterministic when each task's output depends only
 * on its index: split work by index (threadpool_part), never by thread, and
 * use the thread number only to pick per-thread scratch memory.
 * Idle threads sleep on a condition variable (no spinning: the machines this
 * runs on are often shared). A pool of 1 runs everything on the caller. */
#ifndef PIPECLF_THREADPOOL_H
#define PIPECLF_THREADPOOL_H

typedef struct threadpool threadpool;

/* fn(arg, task, thread): thread in [0, size), the caller being 0 */
typedef void (*threadpool_fn)(void *arg, int task, int thread);

/* nthreads threads in all, the caller among them (nthreads - 1 are started);
 * dies if a thread cannot be started. */
threadpool *threadpool_new(int nthreads);
int threadpool_size(const threadpool *p);
/* Runs fn for every task in [0, ntasks); not reentrant (one run at a time,
 * and not from inside a task). */
void threadpool_run(threadpool *p, int ntasks, threadpool_fn fn, void *arg);
void threadpool_free(threadpool *p);

/* [*lo, *hi): part i of n items split into `parts` contiguous parts as equal
 * as possible, boundaries rounded to multiples of align (>= 1). */
void threadpool_part(long n, int parts, int i, long align, long *lo, long *hi);

#endif
