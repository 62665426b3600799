/*
 * cpu_pool.c - a small fixed thread pool for the CPU backend's fast path.
 *
 * One job at a time: the caller publishes (fn, arg, n, grain), bumps the job generation, works on
 * the job itself as thread 0, and waits until every worker has finished. Workers take chunks of
 * `grain` items from an atomic counter, so uneven chunks balance themselves.
 *
 * Waiting: a model forward runs thousands of short ops back to back, so a worker that finished a
 * job first spins briefly (with a pause, yielding now and then) watching for the next generation,
 * and only then sleeps on a condition variable. The caller waits for the last worker the same
 * way. So steady-state dispatch costs no syscalls, and an idle pool costs no CPU.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "cpu/cpu_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif
#include <sched.h>

#define POOL_SPIN 20000     /* spin iterations before a worker sleeps (well under a millisecond) */

struct cpu_pool;

typedef struct cpu_worker {
    struct cpu_pool *pool;
    int tid;
    pthread_t th;
} cpu_worker;

struct cpu_pool {
    int nworkers;               /* threads besides the caller */
    cpu_worker *workers;
    pthread_mutex_t mu;         /* guards sleeping on cv_work */
    pthread_cond_t cv_work;     /* broadcast when a new job is published or on stop */
    atomic_ullong gen;          /* job generation; workers wait for it to change */
    atomic_int pending;         /* workers still busy with the current job */
    atomic_bool stop;
    /* the current job, written before gen is bumped (release) and read after (acquire) */
    cpu_task_fn fn;
    void *arg;
    int64_t n, grain;
    atomic_llong next;          /* next unclaimed item */
};

/* Claims chunks of the current job until none are left. */
static void run_chunks(struct cpu_pool *p, int tid) {
    for (;;) {
        int64_t b = (int64_t)atomic_fetch_add(&p->next, (long long)p->grain);
        if (b >= p->n) break;
        int64_t e = b + p->grain < p->n ? b + p->grain : p->n;
        p->fn(p->arg, b, e, tid);
    }
}

/* Waits until gen differs from seen (or stop): spin first, then sleep. */
static uint64_t wait_gen(struct cpu_pool *p, uint64_t seen) {
    for (int i = 0; i < POOL_SPIN; i++) {
        uint64_t g = atomic_load_explicit(&p->gen, memory_order_acquire);
        if (g != seen || atomic_load(&p->stop)) return g;
        if ((i & 255) == 255) sched_yield(); else cpu_relax();
    }
    pthread_mutex_lock(&p->mu);
    uint64_t g;
    while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen && !atomic_load(&p->stop))
        pthread_cond_wait(&p->cv_work, &p->mu);
    pthread_mutex_unlock(&p->mu);
    return g;
}

static void *worker_main(void *v) {
    cpu_worker *w = v;
    struct cpu_pool *p = w->pool;
    uint64_t seen = 0;
    for (;;) {
        seen = wait_gen(p, seen);
        if (atomic_load(&p->stop)) break;
        run_chunks(p, w->tid);
        atomic_fetch_sub_explicit(&p->pending, 1, memory_order_release);
    }
    return NULL;
}

cpu_pool *cpu_pool_new(int nthreads) {
    struct cpu_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->nworkers = nthreads - 1;
    p->workers = calloc((size_t)(nthreads > 1 ? nthreads - 1 : 1), sizeof *p->workers);
    if (!p->workers) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv_work, NULL);
    atomic_init(&p->next, 0);
    atomic_init(&p->gen, 0);
    atomic_init(&p->pending, 0);
    atomic_init(&p->stop, false);
    for (int i = 0; i < p->nworkers; i++) {
        p->workers[i].pool = p;
        p->workers[i].tid = i + 1;
        if (pthread_create(&p->workers[i].th, NULL, worker_main, &p->workers[i]) != 0) {
            p->nworkers = i;  /* destroy joins only the ones that started */
            cpu_pool_destroy(&p);
            return NULL;
        }
    }
    return p;
}

void cpu_pool_destroy(cpu_pool **pp) {
    if (!pp || !*pp) return;
    struct cpu_pool *p = *pp;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, true);
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nworkers; i++) pthread_join(p->workers[i].th, NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv_work);
    free(p->workers);
    free(p);
    *pp = NULL;
}

void cpu_parallel_for(se_cpu *c, int64_t n, int64_t grain, cpu_task_fn fn, void *arg) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    struct cpu_pool *p = c->pool;
    if (!p || p->nworkers == 0 || n <= grain) {
        fn(arg, 0, n, 0);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    p->n = n;
    p->grain = grain;
    atomic_store(&p->next, 0);
    atomic_store(&p->pending, p->nworkers);
    pthread_mutex_lock(&p->mu);  /* so a worker between its check and its sleep cannot miss it */
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    run_chunks(p, 0);
    /* wait for the workers still inside the job (they find no chunks left and check out) */
    for (unsigned i = 0; atomic_load_explicit(&p->pending, memory_order_acquire) > 0; i++)
        if ((i & 63) == 63) sched_yield(); else cpu_relax();
}

/* CPUs this process may run on (its affinity mask, which respects taskset and container
 * cpusets), falling back to the online count. */
int cpu_count(void) {
#ifdef __linux__
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}
