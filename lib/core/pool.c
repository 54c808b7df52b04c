/*
 * pool.c - a small fork-join thread pool owned by one handle.
 *
 * libllm starts no thread unless a handle's options ask for more than one
 * (games need that), and never keeps a process-wide pool: each context
 * owns its pool and joins its threads when freed. The caller's thread
 * takes part in every job, so n_threads = 2 starts one worker.
 *
 * A job is a parallel for: fn(arg, task, n_tasks) for task in
 * [0, n_tasks). Tasks are claimed through an atomic counter, so uneven
 * tasks balance themselves. Between jobs a worker first polls for the
 * next one for LLM__POOL_SPIN_NS, then sleeps on a condition variable: a
 * decoding step posts a job every few tens of microseconds, and waking a
 * sleeping thread costs about as much, while an idle game must not burn a
 * core (after the short poll nothing runs). The caller waits for the end
 * of a job the same way.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "llm_pool.h"

/* How long a thread polls before it sleeps (see above). */
#define LLM__POOL_SPIN_NS 50000

struct llm__pool {
    llm__mem mem;
    int n_threads;            /* workers + the caller */
    pthread_t *workers;       /* [n_threads - 1] */
    pthread_mutex_t lock;
    pthread_cond_t wake;      /* a new job, or shutdown */
    pthread_cond_t done;      /* the last task of a job finished */
    _Atomic uint64_t generation; /* bumped per job, under lock; polled without */
    int active;               /* workers inside run_tasks, under lock */
    int shutdown;
    /* the current job */
    llm__pool_fn fn;
    void *arg;
    int n_tasks;
    atomic_int next_task;     /* next task index to claim */
    atomic_int tasks_left;    /* tasks not finished yet */
};

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Polls until *g differs from `seen` (g not NULL) or *left reaches 0 (g
 * NULL), or LLM__POOL_SPIN_NS pass. Returns 1 when it happened. */
static int spin_until(_Atomic uint64_t *g, uint64_t seen, atomic_int *left) {
    uint64_t start = 0;
    unsigned i;
    for (i = 0;; i++) {
        if (g ? atomic_load_explicit(g, memory_order_acquire) != seen
              : atomic_load_explicit(left, memory_order_acquire) == 0)
            return 1;
        if ((i & 63) == 0) {
            uint64_t t = now_ns();
            if (i == 0)
                start = t;
            else if (t - start > LLM__POOL_SPIN_NS)
                return 0;
        }
        cpu_relax();
    }
}

static void run_tasks(llm__pool *p) {
    int t;
    while ((t = atomic_fetch_add(&p->next_task, 1)) < p->n_tasks) {
        p->fn(p->arg, t, p->n_tasks);
        if (atomic_fetch_sub(&p->tasks_left, 1) == 1) {
            pthread_mutex_lock(&p->lock);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->lock);
        }
    }
}

static void *worker_main(void *arg) {
    llm__pool *p = arg;
    uint64_t seen = 0;
    for (;;) {
        /* shutdown also bumps the generation, so the poll sees it */
        spin_until(&p->generation, seen, NULL);
        pthread_mutex_lock(&p->lock);
        while (!p->shutdown && p->generation == seen)
            pthread_cond_wait(&p->wake, &p->lock);
        if (p->shutdown) {
            pthread_mutex_unlock(&p->lock);
            return NULL;
        }
        seen = p->generation;
        p->active++;
        pthread_mutex_unlock(&p->lock);
        run_tasks(p);
        /* Leave the job under the lock, so that llm__pool_run never posts
         * the next job (rewriting fn, arg, n_tasks and the counters) while
         * a worker of this one may still read them. */
        pthread_mutex_lock(&p->lock);
        if (--p->active == 0)
            pthread_cond_signal(&p->done);
        pthread_mutex_unlock(&p->lock);
    }
}

int llm__pool_create(llm__pool **out, int n_threads, const llm__mem *m) {
    llm__pool *p;
    int i;
    *out = NULL;
    if (n_threads <= 1)
        return LLM_OK; /* no pool: llm__pool_run runs jobs inline */
    p = llm__mem_calloc(m, 1, sizeof *p);
    if (!p)
        return LLM_ERR_NOMEM;
    p->mem = *m;
    p->workers = llm__mem_calloc(m, (size_t)(n_threads - 1), sizeof *p->workers);
    if (!p->workers) {
        llm__mem_free(m, p, sizeof *p);
        return LLM_ERR_NOMEM;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    for (i = 0; i < n_threads - 1; i++) {
        if (pthread_create(&p->workers[i], NULL, worker_main, p) != 0) {
            p->n_threads = i + 1; /* join the ones that started */
            llm__pool_free(p);
            return LLM_ERR_NOMEM;
        }
    }
    p->n_threads = n_threads;
    *out = p;
    return LLM_OK;
}

void llm__pool_free(llm__pool *p) {
    int i;
    llm__mem m;
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->shutdown = 1;
    p->generation++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (i = 0; i < p->n_threads - 1; i++)
        pthread_join(p->workers[i], NULL);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    m = p->mem;
    llm__mem_free(&m, p->workers, (size_t)(p->n_threads > 1 ? p->n_threads - 1 : 1) * sizeof *p->workers);
    llm__mem_free(&m, p, sizeof *p);
}

int llm__pool_size(const llm__pool *p) { return p ? p->n_threads : 1; }

void llm__pool_run(llm__pool *p, llm__pool_fn fn, void *arg, int n_tasks) {
    int t;
    if (n_tasks <= 0)
        return;
    if (!p || n_tasks == 1) {
        for (t = 0; t < n_tasks; t++)
            fn(arg, t, n_tasks);
        return;
    }
    pthread_mutex_lock(&p->lock);
    while (p->active > 0) /* a late worker of the previous job */
        pthread_cond_wait(&p->done, &p->lock);
    p->fn = fn;
    p->arg = arg;
    p->n_tasks = n_tasks;
    atomic_store(&p->next_task, 0);
    atomic_store(&p->tasks_left, n_tasks);
    p->generation++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);

    run_tasks(p);

    spin_until(NULL, 0, &p->tasks_left);
    pthread_mutex_lock(&p->lock);
    while (atomic_load(&p->tasks_left) > 0 || p->active > 0)
        pthread_cond_wait(&p->done, &p->lock);
    pthread_mutex_unlock(&p->lock);
}
