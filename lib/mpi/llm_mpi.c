/*
 * llm_mpi.c - libllm_mpi: the trainer's gradient all-reduce hook over MPI
 * (include/llm_mpi.h). The only file of libllm that includes mpi.h; it
 * uses libllm through its public API alone.
 *
 * Invariants:
 *   - every collective is non-blocking (MPI_Iallreduce, MPI_Ibarrier) and
 *     completed by wait_all(), which polls MPI_Testall until the handle's
 *     deadline; nothing here ever blocks in MPI without a deadline;
 *   - gradient buckets of one step are started in the trainer's order
 *     (identical on every rank, as MPI requires of collectives) and all
 *     completed by the finish hook before the trainer reads them; each
 *     new bucket first tests the pending ones so that MPI's progress
 *     engine advances them while the backward pass goes on;
 *   - after a timeout or an MPI error the handle is `broken`: a
 *     collective may still be pending, so nothing is started, the
 *     communicator is not freed and MPI is not finalised.
 * No global mutable state except the thread-local message of a failed
 * llm_mpi_create.
 */
#include <limits.h>
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "llm_mpi.h"

#define MPI_MAGIC 0x4c4c4d50u /* "LLMP" */
#define MPI_DEAD 0xdeadbeefu
#define ERRMSG_MAX 512
/* Largest count of one MPI call (its count is an int). */
#define MAX_COUNT ((size_t)1 << 30)

struct llm_mpi {
    uint32_t magic;
    int broken;           /* a collective failed: see the file comment */
    int owns_init;        /* llm_mpi_create called MPI_Init_thread */
    int rank, size;
    MPI_Comm comm;
    double timeout_s;
    llm_alloc_fn alloc;
    void *alloc_ud;
    MPI_Request *req;     /* [cap_req] pending requests of the current step */
    size_t n_req, cap_req;
    uint64_t bytes, n_coll;
    double wait_s;
    char errmsg[ERRMSG_MAX];
};

static _Thread_local char last_err[ERRMSG_MAX];

/* ---- memory ---- */

static void *default_alloc(void *ud, void *p, size_t osize, size_t nsize) {
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        free(p);
        return NULL;
    }
    return realloc(p, nsize);
}

/* ---- errors ---- */

static int fail(llm_mpi *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(llm_mpi *c, int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_err, sizeof last_err, fmt, ap);
    va_end(ap);
    if (c)
        memcpy(c->errmsg, last_err, sizeof c->errmsg);
    return status;
}

/* An MPI call failed: name it with MPI's own text. */
static int fail_mpi(llm_mpi *c, int err, const char *call) {
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(err, text, &len) != MPI_SUCCESS)
        snprintf(text, sizeof text, "MPI error %d", err);
    if (c)
        c->broken = 1;
    return fail(c, LLM_ERR_IO, "llm_mpi: rank %d of %d: %s failed: %s", c ? c->rank : -1,
                c ? c->size : -1, call, text);
}

#define CHECK_C(c, fn)                                                         \
    do {                                                                       \
        if (!(c) || (c)->magic != MPI_MAGIC)                                   \
            return fail(NULL, LLM_ERR_INVALID, fn ": handle is NULL or not an llm_mpi"); \
    } while (0)

/* A broken handle repeats its first failure (what the caller needs). */
#define CHECK_USABLE(c, fn)                                                    \
    do {                                                                       \
        if ((c)->broken) {                                                     \
            memcpy(last_err, (c)->errmsg, sizeof last_err);                    \
            return LLM_ERR_IO;                                                 \
        }                                                                      \
    } while (0)

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- waiting with a deadline ---- */

/* Completes every pending request or fails when the deadline passes.
 * Polls MPI_Testall (which also drives MPI's progress engine), yielding
 * the CPU between polls so that a waiting rank does not starve a peer
 * that shares its core. */
static int wait_all(llm_mpi *c, const char *what) {
    const double t0 = now_s(), deadline = t0 + c->timeout_s;
    long polls = 0;
    for (;;) {
        int done = 0, err;
        err = MPI_Testall((int)c->n_req, c->req, &done, MPI_STATUSES_IGNORE);
        if (err != MPI_SUCCESS)
            return fail_mpi(c, err, what);
        if (done)
            break;
        if (now_s() > deadline) {
            c->broken = 1;
            c->wait_s += now_s() - t0;
            return fail(c, LLM_ERR_IO,
                        "llm_mpi: rank %d of %d: %s did not complete within the timeout of "
                        "%g s: another rank died, hangs, or did not take part in this "
                        "collective; the communicator is unusable now",
                        c->rank, c->size, what, c->timeout_s);
        }
        if (++polls > 1000) {
            /* past the first fraction of a millisecond: sleep between
             * polls, longer the longer the wait (50 us, then 200 us after
             * 10 ms, 1 ms after 100 ms), so a rank waiting for a slow peer
             * costs little CPU and wakes up soon enough */
            const double waited = now_s() - t0;
            struct timespec ts = {0, waited < 0.01 ? 50000 : waited < 0.1 ? 200000 : 1000000};
            nanosleep(&ts, NULL);
        }
    }
    c->n_req = 0;
    c->wait_s += now_s() - t0;
    return LLM_OK;
}

static int ensure_req(llm_mpi *c, size_t need) {
    MPI_Request *r;
    size_t cap;
    if (need <= c->cap_req)
        return LLM_OK;
    cap = c->cap_req ? c->cap_req : 16;
    while (cap < need)
        cap *= 2;
    r = c->alloc(c->alloc_ud, c->req, c->cap_req * sizeof *r, cap * sizeof *r);
    if (!r)
        return fail(c, LLM_ERR_NOMEM, "llm_mpi: rank %d: out of memory for %zu requests",
                    c->rank, cap);
    c->req = r;
    c->cap_req = cap;
    return LLM_OK;
}

/* Starts an in-place sum of n elements of `type` (elem bytes each), in
 * chunks that fit MPI's int counts. */
static int start_sum(llm_mpi *c, void *buf, size_t n, MPI_Datatype type, size_t elem,
                     const char *what) {
    size_t done = 0;
    int rc;
    if ((rc = ensure_req(c, c->n_req + n / MAX_COUNT + 1)) != LLM_OK)
        return rc;
    while (done < n) {
        size_t k = n - done < MAX_COUNT ? n - done : MAX_COUNT;
        int err = MPI_Iallreduce(MPI_IN_PLACE, (char *)buf + done * elem, (int)k, type, MPI_SUM,
                                 c->comm, &c->req[c->n_req]);
        if (err != MPI_SUCCESS)
            return fail_mpi(c, err, what);
        c->n_req++;
        c->n_coll++;
        done += k;
    }
    c->bytes += (uint64_t)n * elem;
    return LLM_OK;
}

/* ---- the trainer's hooks ---- */

static int hook_reduce(void *ud, float *buf, size_t n, uint32_t bucket) {
    llm_mpi *c = ud;
    char what[96];
    int rc, done = 0;
    CHECK_USABLE(c, "llm_mpi");
    snprintf(what, sizeof what, "MPI_Iallreduce of gradient bucket %u (%zu floats)",
             (unsigned)bucket, n);
    if ((rc = start_sum(c, buf, n, MPI_FLOAT, sizeof(float), what)) != LLM_OK)
        return rc;
    /* progress the buckets already in flight (their completion is
     * checked again by the finish hook) */
    if (MPI_Testall((int)c->n_req, c->req, &done, MPI_STATUSES_IGNORE) == MPI_SUCCESS && done)
        c->n_req = 0;
    return LLM_OK;
}

static int hook_finish(void *ud) {
    llm_mpi *c = ud;
    CHECK_USABLE(c, "llm_mpi");
    return wait_all(c, "the gradient all-reduce (MPI_Iallreduce)");
}

static int hook_reduce_f64(void *ud, double *buf, size_t n) {
    llm_mpi *c = ud;
    int rc;
    CHECK_USABLE(c, "llm_mpi");
    if ((rc = start_sum(c, buf, n, MPI_DOUBLE, sizeof(double), "MPI_Iallreduce of the loss")) !=
        LLM_OK)
        return rc;
    return wait_all(c, "the loss all-reduce (MPI_Iallreduce)");
}

static const char *hook_errmsg(void *ud) {
    const llm_mpi *c = ud;
    return c->errmsg;
}

/* ---- public functions ---- */

int llm_mpi_opts_init(llm_mpi_opts *o, size_t struct_size) {
    if (!o || struct_size < sizeof(uint32_t) || struct_size > UINT32_MAX)
        return fail(NULL, LLM_ERR_INVALID, "llm_mpi_opts_init: o is NULL or struct_size %zu "
                    "is out of range", struct_size);
    memset(o, 0, struct_size);
    o->struct_size = (uint32_t)struct_size;
    return LLM_OK;
}

int llm_mpi_create(llm_mpi **out, const llm_mpi_opts *opts) {
    llm_mpi_opts o;
    llm_alloc_fn alloc;
    llm_mpi *c;
    MPI_Comm base;
    int inited = 0, finalized = 0, provided = 0, err;
    if (!out)
        return fail(NULL, LLM_ERR_INVALID, "llm_mpi_create: out is NULL");
    *out = NULL;
    memset(&o, 0, sizeof o);
    if (opts) {
        /* the struct_size rules of llm.h: read what the caller has, a
         * larger struct must have a zero tail */
        size_t n = opts->struct_size, i;
        if (n < sizeof(uint32_t))
            return fail(NULL, LLM_ERR_INVALID, "llm_mpi_create: opts->struct_size %zu is too "
                        "small (use LLM_MPI_OPTS_INIT)", n);
        for (i = sizeof o; i < n; i++)
            if (((const unsigned char *)opts)[i] != 0)
                return fail(NULL, LLM_ERR_INVALID, "llm_mpi_create: opts is newer than this "
                            "library and sets a field it does not know (byte %zu)", i);
        memcpy(&o, opts, n < sizeof o ? n : sizeof o);
    }
    if (o.flags != 0)
        return fail(NULL, LLM_ERR_INVALID, "llm_mpi_create: flags 0x%x must be 0",
                    (unsigned)o.flags);
    if (o.timeout_s == 0.0)
        o.timeout_s = 120.0;
    if (!(o.timeout_s > 0.0 && o.timeout_s <= 1e6))
        return fail(NULL, LLM_ERR_INVALID, "llm_mpi_create: timeout_s %g is not in (0, 1e6]",
                    o.timeout_s);
    alloc = o.alloc ? o.alloc : default_alloc;
    MPI_Finalized(&finalized);
    if (finalized)
        return fail(NULL, LLM_ERR_UNSUPPORTED, "llm_mpi_create: MPI was already finalised");
    MPI_Initialized(&inited);
    if (!inited) {
        err = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
        if (err != MPI_SUCCESS)
            return fail_mpi(NULL, err, "llm_mpi_create: MPI_Init_thread");
    } else {
        MPI_Query_thread(&provided);
    }
    c = alloc(o.alloc_ud, NULL, 0, sizeof *c);
    if (!c)
        return fail(NULL, LLM_ERR_NOMEM, "llm_mpi_create: out of memory");
    memset(c, 0, sizeof *c);
    c->magic = MPI_MAGIC;
    c->owns_init = !inited;
    c->alloc = alloc;
    c->alloc_ud = o.alloc_ud;
    c->timeout_s = o.timeout_s;
    c->comm = MPI_COMM_NULL;
    if (provided < MPI_THREAD_FUNNELED) {
        fail(c, LLM_ERR_UNSUPPORTED, "llm_mpi_create: MPI provides thread level %d, below "
             "MPI_THREAD_FUNNELED (the trainer runs worker threads)", provided);
        llm_mpi_free(c);
        return LLM_ERR_UNSUPPORTED;
    }
    base = o.comm ? *(const MPI_Comm *)o.comm : MPI_COMM_WORLD;
    err = MPI_Comm_dup(base, &c->comm);
    if (err == MPI_SUCCESS)
        err = MPI_Comm_set_errhandler(c->comm, MPI_ERRORS_RETURN);
    if (err == MPI_SUCCESS)
        err = MPI_Comm_rank(c->comm, &c->rank);
    if (err == MPI_SUCCESS)
        err = MPI_Comm_size(c->comm, &c->size);
    if (err != MPI_SUCCESS) {
        fail_mpi(c, err, "llm_mpi_create: MPI_Comm_dup/rank/size");
        c->broken = 0; /* nothing is pending: free may clean up */
        llm_mpi_free(c);
        return LLM_ERR_IO;
    }
    *out = c;
    return LLM_OK;
}

void llm_mpi_free(llm_mpi *c) {
    int finalized = 0;
    if (!c || c->magic != MPI_MAGIC)
        return;
    if (!c->broken) {
        if (c->comm != MPI_COMM_NULL)
            MPI_Comm_free(&c->comm);
        MPI_Finalized(&finalized);
        if (c->owns_init && !finalized)
            MPI_Finalize();
    }
    if (c->req)
        c->alloc(c->alloc_ud, c->req, c->cap_req * sizeof *c->req, 0);
    c->magic = MPI_DEAD;
    c->alloc(c->alloc_ud, c, sizeof *c, 0);
}

int llm_mpi_rank(uint32_t *out, const llm_mpi *c) {
    CHECK_C(c, "llm_mpi_rank");
    if (!out)
        return fail((llm_mpi *)(uintptr_t)c, LLM_ERR_INVALID, "llm_mpi_rank: out is NULL");
    *out = (uint32_t)c->rank;
    return LLM_OK;
}

int llm_mpi_world_size(uint32_t *out, const llm_mpi *c) {
    CHECK_C(c, "llm_mpi_world_size");
    if (!out)
        return fail((llm_mpi *)(uintptr_t)c, LLM_ERR_INVALID, "llm_mpi_world_size: out is NULL");
    *out = (uint32_t)c->size;
    return LLM_OK;
}

int llm_mpi_attach(llm_mpi *c, llm_trainer *tr) {
    llm_reduce_hooks h;
    size_t n_buckets = 0;
    int rc;
    CHECK_C(c, "llm_mpi_attach");
    CHECK_USABLE(c, "llm_mpi_attach");
    if (!tr)
        return fail(c, LLM_ERR_INVALID, "llm_mpi_attach: trainer is NULL");
    /* one request per bucket (more only for buckets above 2^30 floats) */
    rc = llm_trainer_buckets(&n_buckets, NULL, tr, 0);
    if (rc != LLM_OK && rc != LLM_ERR_RANGE)
        return fail(c, rc, "llm_mpi_attach: %s", llm_errmsg(tr));
    if ((rc = ensure_req(c, n_buckets + 2)) != LLM_OK)
        return rc;
    LLM_REDUCE_HOOKS_INIT(&h);
    h.rank = (uint32_t)c->rank;
    h.world_size = (uint32_t)c->size;
    h.reduce = hook_reduce;
    h.finish = hook_finish;
    h.reduce_f64 = hook_reduce_f64;
    h.errmsg = hook_errmsg;
    h.ud = c;
    if ((rc = llm_trainer_set_reduce(tr, &h)) != LLM_OK)
        return fail(c, rc, "llm_mpi_attach: %s", llm_errmsg(tr));
    return LLM_OK;
}

int llm_mpi_barrier(llm_mpi *c) {
    int err, rc;
    CHECK_C(c, "llm_mpi_barrier");
    CHECK_USABLE(c, "llm_mpi_barrier");
    if ((rc = ensure_req(c, c->n_req + 1)) != LLM_OK)
        return rc;
    err = MPI_Ibarrier(c->comm, &c->req[c->n_req]);
    if (err != MPI_SUCCESS)
        return fail_mpi(c, err, "MPI_Ibarrier");
    c->n_req++;
    c->n_coll++;
    return wait_all(c, "a barrier (MPI_Ibarrier)");
}

int llm_mpi_check_same(llm_mpi *c, const void *data, size_t n, const char *what) {
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ull, mm[2];
    size_t i;
    int err, rc;
    CHECK_C(c, "llm_mpi_check_same");
    CHECK_USABLE(c, "llm_mpi_check_same");
    if ((!data && n) || !what)
        return fail(c, LLM_ERR_INVALID, "llm_mpi_check_same: data or what is NULL");
    for (i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    /* min and max in one sum-free pass: reduce (h, ~h) with MPI_MAX */
    mm[0] = h;
    mm[1] = ~h;
    if ((rc = ensure_req(c, c->n_req + 1)) != LLM_OK)
        return rc;
    err = MPI_Iallreduce(MPI_IN_PLACE, mm, 2, MPI_UINT64_T, MPI_MAX, c->comm, &c->req[c->n_req]);
    if (err != MPI_SUCCESS)
        return fail_mpi(c, err, "MPI_Iallreduce (check_same)");
    c->n_req++;
    c->n_coll++;
    if ((rc = wait_all(c, "the consistency check (MPI_Iallreduce)")) != LLM_OK)
        return rc;
    if (mm[0] != h || ~mm[1] != h)
        return fail(c, LLM_ERR_STATE,
                    "llm_mpi_check_same: rank %d of %d: %s differs between ranks (every rank "
                    "must start from the same model, options, data and checkpoint)",
                    c->rank, c->size, what);
    return LLM_OK;
}

int llm_mpi_stats(uint64_t *bytes, uint64_t *n_collectives, double *wait_s, const llm_mpi *c) {
    CHECK_C(c, "llm_mpi_stats");
    if (bytes)
        *bytes = c->bytes;
    if (n_collectives)
        *n_collectives = c->n_coll;
    if (wait_s)
        *wait_s = c->wait_s;
    return LLM_OK;
}

const char *llm_mpi_errmsg(const llm_mpi *c) {
    if (!c)
        return last_err;
    if (c->magic != MPI_MAGIC)
        return "llm_mpi_errmsg: not an llm_mpi handle";
    return c->errmsg;
}

const char *llm_mpi_last_errmsg(void) {
    return last_err;
}
