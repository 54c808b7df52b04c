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
 *
 * Handing over a job takes no lock while the threads are polling: the
 * caller publishes it by an atomic generation number, and the mutex is
 * only taken to sleep or to wake a sleeper (the flags `sleepers` and
 * `caller_asleep` say whether anyone sleeps). An earlier version posted
 * every job under the mutex, and a polling worker that saw it at once
 * then blocked on the mutex the caller still held: 5-14 us per job on
 * this 2-core VM, a few percent of a decoding step of 60 jobs.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include "llm_pool.h"

/* How long a thread polls before it sleeps (see above). */
#define LLM__POOL_SPIN_NS 50000

struct llm__pool {
    llm__mem mem;
    int n_threads;            /* workers + the caller */
    pthread_t *workers;       /* [n_threads - 1] */
    pthread_mutex_t lock;     /* only to sleep and to wake sleepers */
    pthread_cond_t wake;      /* a new job, or shutdown */
    pthread_cond_t done;      /* the last task of a job finished */
    /* Even: the job of that number is published (or, at 0, none yet);
     * odd: the caller is writing the next job. */
    _Atomic uint64_t generation;
    atomic_int active;        /* workers inside a job */
    atomic_int sleepers;      /* workers asleep (or about to be) on wake */
    atomic_int caller_asleep; /* the caller asleep (or about to be) on done */
    atomic_int shutdown;
    /* the current job: written only while generation is odd and no worker
     * is active, read by workers after they see it published */
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

/* A published job other than `seen`, or 0 when none came within
 * LLM__POOL_SPIN_NS of polling. */
static uint64_t spin_for_job(llm__pool *p, uint64_t seen) {
    uint64_t start = 0, g;
    unsigned i;
    for (i = 0;; i++) {
        g = atomic_load(&p->generation);
        if (g != seen && !(g & 1))
            return g;
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

/* 1 when the job's tasks are all done within LLM__POOL_SPIN_NS of polling. */
static int spin_for_end(llm__pool *p) {
    uint64_t start = 0;
    unsigned i;
    for (i = 0;; i++) {
        if (atomic_load(&p->tasks_left) == 0)
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
        /* The last task wakes a caller that went to sleep. Its flag is
         * set under the lock before it checks tasks_left, and read here
         * after the decrement (both sequentially consistent), so one of
         * the two sees the other; signalling under the lock cannot slip
         * in before the caller waits. */
        if (atomic_fetch_sub(&p->tasks_left, 1) == 1 && atomic_load(&p->caller_asleep)) {
            pthread_mutex_lock(&p->lock);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->lock);
        }
    }
}

static void *worker_main(void *arg) {
    llm__pool *p = arg;
    uint64_t seen = 0, g;
    for (;;) {
        if ((g = spin_for_job(p, seen)) == 0) {
            /* Sleep. The same handshake as the caller's: sleepers is
             * raised before generation is read again, and the caller
             * reads sleepers after publishing, so one of the two sees
             * the other. */
            pthread_mutex_lock(&p->lock);
            atomic_fetch_add(&p->sleepers, 1);
            while ((g = atomic_load(&p->generation)) == seen || (g & 1))
                pthread_cond_wait(&p->wake, &p->lock);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->lock);
        }
        if (atomic_load(&p->shutdown))
            return NULL;
        /* Enter job g, unless the caller has moved on: it closes a job
         * (odd generation) before it waits for active to drain, so a
         * worker that entered after that backs out here and never reads
         * a job while it is being written. */
        atomic_fetch_add(&p->active, 1);
        if (atomic_load(&p->generation) == g) {
            seen = g;
            run_tasks(p);
        }
        atomic_fetch_sub(&p->active, 1);
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
    atomic_store(&p->shutdown, 1);
    atomic_fetch_add(&p->generation, 2); /* a "job" every worker sees */
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
    uint64_t g;
    unsigned i;
    int t;
    if (n_tasks <= 0)
        return;
    if (!p || n_tasks == 1) {
        for (t = 0; t < n_tasks; t++)
            fn(arg, t, n_tasks);
        return;
    }
    /* Close the previous job, then wait for the workers still inside it
     * (a worker that saw it late and is finding no task left). */
    g = atomic_load(&p->generation);
    atomic_store(&p->generation, g + 1);
    for (i = 0; atomic_load(&p->active) > 0; i++) {
        if (i >= 4096)
            sched_yield(); /* a descheduled worker: let it run */
        else
            cpu_relax();
    }
    p->fn = fn;
    p->arg = arg;
    p->n_tasks = n_tasks;
    atomic_store(&p->next_task, 0);
    atomic_store(&p->tasks_left, n_tasks);
    atomic_store(&p->generation, g + 2); /* publish */
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->lock);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->lock);
    }

    run_tasks(p);

    if (!spin_for_end(p)) {
        pthread_mutex_lock(&p->lock);
        atomic_store(&p->caller_asleep, 1);
        while (atomic_load(&p->tasks_left) > 0)
            pthread_cond_wait(&p->done, &p->lock);
        atomic_store(&p->caller_asleep, 0);
        pthread_mutex_unlock(&p->lock);
    }
}
