/* A small persistent thread pool for minidl's parallel kernels (used by conv.pyx).
 *
 * Why not OpenMP: NumPy's OpenBLAS keeps its worker threads spinning for a while after every
 * matrix product, and libgomp's idle workers spin too (without yielding). On a 2-core machine
 * the two spinners share a core: a convolution right after a Linear layer's GEMM took 8 ms
 * instead of 0.5 ms, waiting a whole scheduler time slice for its second thread. These
 * workers instead wait with sched_yield() (so a busy OpenBLAS worker, which also yields, gets
 * the core) for a short while, then sleep on a condition variable; and items are handed out
 * one at a time, so a worker that is slow to start delays the caller by one item at most.
 *
 *   md_pool_run(fn, ctx, n_items, n_threads): calls fn(ctx, item, worker) for every item in
 *   [0, n_items), on up to n_threads threads (the caller is worker 0), and returns when all
 *   are done. Worker ids are < n_threads (index per-thread scratch with them). If the pool is
 *   busy (another Python thread is running a kernel) or threads are unavailable, the caller
 *   runs every item itself.
 *
 * Without POSIX threads (e.g. MSVC) everything runs on the caller.
 */
#ifndef MINIDL_THREADPOOL_H
#define MINIDL_THREADPOOL_H

#include <stddef.h>

typedef void (*md_task_fn)(void *ctx, ptrdiff_t item, int worker);

#define MD_POOL_MAX 64

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#include <sched.h>
#include <time.h>

typedef struct {
    pthread_mutex_t run_lock;     /* one job at a time */
    pthread_mutex_t lock;         /* guards the fields below, with `wake` */
    pthread_cond_t wake;
    int started;                  /* worker threads created */
    int sleeping;                 /* workers blocked on `wake` */
    unsigned long generation;     /* bumped for every job */
    md_task_fn fn;
    void *ctx;
    ptrdiff_t n_items;
    int n_threads;                /* threads taking part in the current job */
    ptrdiff_t next;               /* next item to hand out (atomic) */
    int closed;                   /* the caller has finished its share: no one may join (atomic) */
    int active;                   /* workers inside the current job (atomic) */
} md_pool_t;

static md_pool_t md_pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
                            0, 0, 0, NULL, NULL, 0, 0, 0, 1, 0};

static double md_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Take items until none are left. */
static void md_pool_drain(int worker)
{
    md_task_fn fn = md_pool.fn;
    void *ctx = md_pool.ctx;
    ptrdiff_t n = md_pool.n_items, item;
    while ((item = __atomic_fetch_add(&md_pool.next, 1, __ATOMIC_ACQ_REL)) < n)
        fn(ctx, item, worker);
}

#define MD_POOL_SPIN_SECONDS 2e-3   /* yield-spin this long for the next job, then sleep */

static void *md_pool_worker(void *arg)
{
    int worker = (int)(ptrdiff_t)arg;
    unsigned long seen = 0;
    for (;;) {
        /* Wait for a new job: yield-spin first (waking a sleeping thread costs up to a few
           hundred µs on a virtual machine), then sleep. */
        double deadline = md_now() + MD_POOL_SPIN_SECONDS;
        unsigned long gen;
        while ((gen = __atomic_load_n(&md_pool.generation, __ATOMIC_ACQUIRE)) == seen && md_now() < deadline)
            sched_yield();
        if (gen == seen) {
            pthread_mutex_lock(&md_pool.lock);
            md_pool.sleeping++;
            while ((gen = __atomic_load_n(&md_pool.generation, __ATOMIC_ACQUIRE)) == seen)
                pthread_cond_wait(&md_pool.wake, &md_pool.lock);
            md_pool.sleeping--;
            pthread_mutex_unlock(&md_pool.lock);
        }
        seen = gen;
        /* Join, then check the job is still this one and open: the caller posts no new job
           while a worker is inside (active > 0), and joins no one after closing. A worker that
           wakes late skips the job; the caller has done its items. */
        __atomic_add_fetch(&md_pool.active, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&md_pool.generation, __ATOMIC_SEQ_CST) == gen &&
            !__atomic_load_n(&md_pool.closed, __ATOMIC_SEQ_CST) && worker < md_pool.n_threads)
            md_pool_drain(worker);
        __atomic_sub_fetch(&md_pool.active, 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

static void md_pool_after_fork_in_child(void)
{
    /* The workers do not exist in a forked child: start over. */
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t fresh_cond = PTHREAD_COND_INITIALIZER;
    md_pool.run_lock = fresh;
    md_pool.lock = fresh;
    md_pool.wake = fresh_cond;
    md_pool.started = 0;
    md_pool.sleeping = 0;
    md_pool.active = 0;
    md_pool.closed = 1;
}

/* Make sure `want` - 1 workers exist; returns how many threads can take part (>= 1). */
static int md_pool_grow(int want)
{
    static int fork_handler = 0;
    if (!fork_handler) {
        pthread_atfork(NULL, NULL, md_pool_after_fork_in_child);
        fork_handler = 1;
    }
    if (want > MD_POOL_MAX)
        want = MD_POOL_MAX;
    while (md_pool.started + 1 < want) {
        pthread_t thread;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int failed = pthread_create(&thread, &attr, md_pool_worker, (void *)(ptrdiff_t)(md_pool.started + 1));
        pthread_attr_destroy(&attr);
        if (failed)
            break;
        md_pool.started++;
    }
    return md_pool.started + 1 < want ? md_pool.started + 1 : want;
}

static void md_pool_run(md_task_fn fn, void *ctx, ptrdiff_t n_items, int n_threads)
{
    if (n_threads > n_items)
        n_threads = (int)n_items;
    if (n_threads <= 1 || pthread_mutex_trylock(&md_pool.run_lock) != 0) {
        for (ptrdiff_t i = 0; i < n_items; i++)
            fn(ctx, i, 0);
        return;
    }
    n_threads = md_pool_grow(n_threads);
    while (__atomic_load_n(&md_pool.active, __ATOMIC_SEQ_CST))   /* a late joiner of the last job */
        sched_yield();
    md_pool.fn = fn;
    md_pool.ctx = ctx;
    md_pool.n_items = n_items;
    md_pool.n_threads = n_threads;
    __atomic_store_n(&md_pool.next, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&md_pool.closed, 0, __ATOMIC_SEQ_CST);
    pthread_mutex_lock(&md_pool.lock);
    __atomic_add_fetch(&md_pool.generation, 1, __ATOMIC_SEQ_CST);
    if (md_pool.sleeping)
        pthread_cond_broadcast(&md_pool.wake);
    pthread_mutex_unlock(&md_pool.lock);
    md_pool_drain(0);
    /* All items are handed out; wait for the workers still computing theirs. */
    __atomic_store_n(&md_pool.closed, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&md_pool.active, __ATOMIC_SEQ_CST))
        sched_yield();
    pthread_mutex_unlock(&md_pool.run_lock);
}

#else  /* no POSIX threads: run on the caller */

static void md_pool_run(md_task_fn fn, void *ctx, ptrdiff_t n_items, int n_threads)
{
    (void)n_threads;
    for (ptrdiff_t i = 0; i < n_items; i++)
        fn(ctx, i, 0);
}

#endif
#endif
