/*
 * cpu_pool.c - a small fixed thread pool for the CPU backend's fast path.
 *
 * One job at a time: the caller publishes (fn, arg, n, grain), wakes the workers, works on the
 * job itself as thread 0, and waits until every worker has finished. Workers take chunks of
 * `grain` items from an atomic counter, so uneven chunks balance themselves. Idle workers sleep
 * on a condition variable (no spinning), so they do not compete with BLAS or other processes.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "cpu/cpu_internal.h"

struct cpu_pool;

typedef struct cpu_worker {
    struct cpu_pool *pool;
    int tid;
    pthread_t th;
} cpu_worker;

struct cpu_pool {
    int nworkers;               /* threads besides the caller */
    cpu_worker *workers;
    pthread_mutex_t mu;
    pthread_cond_t cv_work;     /* signalled when a new job is published or on stop */
    pthread_cond_t cv_done;     /* signalled when the last worker finishes a job */
    uint64_t gen;               /* job generation; workers wait for it to change */
    int pending;                /* workers still busy with the current job */
    bool stop;
    /* the current job */
    cpu_task_fn fn;
    void *arg;
    int64_t n, grain;
    atomic_llong next;          /* next unclaimed item */
};

/* Claims chunks of the current job until none are left. */
static void run_chunks(struct cpu_pool *p, cpu_task_fn fn, void *arg, int64_t n, int64_t grain, int tid) {
    for (;;) {
        int64_t b = (int64_t)atomic_fetch_add(&p->next, (long long)grain);
        if (b >= n) break;
        int64_t e = b + grain < n ? b + grain : n;
        fn(arg, b, e, tid);
    }
}

static void *worker_main(void *v) {
    cpu_worker *w = v;
    struct cpu_pool *p = w->pool;
    uint64_t seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->gen == seen) pthread_cond_wait(&p->cv_work, &p->mu);
        if (p->stop) break;
        seen = p->gen;
        cpu_task_fn fn = p->fn;
        void *arg = p->arg;
        int64_t n = p->n, grain = p->grain;
        pthread_mutex_unlock(&p->mu);
        run_chunks(p, fn, arg, n, grain, w->tid);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0) pthread_cond_signal(&p->cv_done);
    }
    pthread_mutex_unlock(&p->mu);
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
    pthread_cond_init(&p->cv_done, NULL);
    atomic_init(&p->next, 0);
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
    p->stop = true;
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nworkers; i++) pthread_join(p->workers[i].th, NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv_work);
    pthread_cond_destroy(&p->cv_done);
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
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->n = n;
    p->grain = grain;
    atomic_store(&p->next, 0);
    p->pending = p->nworkers;
    p->gen++;
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    run_chunks(p, fn, arg, n, grain, 0);
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0) pthread_cond_wait(&p->cv_done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

int cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}
