/*
 * llm_mpi.h - libllm_mpi, the optional MPI transport of libllm's
 * data-parallel training: an implementation of the trainer's gradient
 * all-reduce hook (llm_trainer_set_reduce in llm.h) over Open MPI, with
 * deadlines on every collective.
 *
 * libllm itself never links MPI; this small library (libllm_mpi.so.0,
 * symbols llm_mpi_*) is built only when MPI's development files are
 * found. Programs using it are launched with mpirun, e.g.
 *     mpirun -np 2 ./my_trainer
 * Every rank builds the same model and trainer (same options, per-rank
 * batch B), creates one llm_mpi, attaches it, and then makes the same
 * calls in the same order; the group trains like one trainer with batch
 * world_size * B (see llm.h, "Data-parallel training").
 *
 * Conventions are libllm's (llm.h): int status (LLM_OK or a negative
 * LLM_ERR_*), out-parameters first, *out = NULL on a failed
 * constructor, NULL-safe free. Details of a failure: llm_mpi_errmsg(c),
 * or llm_mpi_last_errmsg() when llm_mpi_create failed. One thread at a
 * time per handle; MPI is initialised with MPI_THREAD_FUNNELED (only the
 * thread that created the handle calls MPI; the trainer's worker threads
 * never do). MPI itself may run helper threads (Open MPI starts a
 * progress thread in MPI_Init); libllm_mpi starts none.
 *
 * Faults: every collective (the gradient buckets, the loss, barriers,
 * checks) is started non-blocking and polled with MPI_Test until a
 * deadline of timeout_s seconds; a peer that died, hangs or skipped the
 * collective therefore surfaces as LLM_ERR_IO with a message naming the
 * rank, the collective and the timeout, instead of a hang. After such a
 * failure the handle is broken: every later call fails at once, and
 * llm_mpi_free no longer finalises MPI (a collective is still pending);
 * the process should report the error and exit. Open MPI's mpirun
 * usually ends the other ranks of the job once one exits with a non-zero
 * status.
 */
#ifndef LLM_MPI_H
#define LLM_MPI_H

#include <stddef.h>
#include <stdint.h>

#include "llm.h"

#if defined(__GNUC__) && __GNUC__ >= 4
#  define LLM_MPI_API __attribute__((visibility("default")))
#else
#  define LLM_MPI_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* One rank's view of a communicator. Opaque. */
typedef struct llm_mpi llm_mpi;

typedef struct llm_mpi_opts {
    uint32_t struct_size;
    uint32_t flags;       /* reserved, must be 0 */
    double timeout_s;     /* deadline of each collective in seconds (0: 120);
                             at most 1e6 */
    const void *comm;     /* address of an MPI_Comm to use (duplicated);
                             NULL: MPI_COMM_WORLD */
    llm_alloc_fn alloc;   /* the handle and its request table (NULL:
                             malloc/realloc/free); MPI allocates its own
                             memory, which no hook reaches */
    void *alloc_ud;
} llm_mpi_opts;

LLM_MPI_API int llm_mpi_opts_init(llm_mpi_opts *o, size_t struct_size);
#define LLM_MPI_OPTS_INIT(o) llm_mpi_opts_init((o), sizeof *(o))

/* Initialises MPI when nobody has yet (MPI_Init_thread, FUNNELED; then
 * llm_mpi_free finalises it), duplicates the communicator and sets it to
 * return errors instead of aborting. Errors: LLM_ERR_INVALID (NULL out,
 * options out of range), LLM_ERR_UNSUPPORTED (MPI was initialised with
 * less than FUNNELED threading, or already finalised), LLM_ERR_IO (MPI
 * failed), LLM_ERR_NOMEM. */
LLM_MPI_API int llm_mpi_create(llm_mpi **out, const llm_mpi_opts *opts);
/* Frees the handle: frees the duplicated communicator and finalises MPI
 * if llm_mpi_create initialised it, unless a collective failed (then
 * neither, since MPI could hang). NULL is a no-op. Call it after every
 * trainer attached to it is freed or detached. */
LLM_MPI_API void llm_mpi_free(llm_mpi *c);

/* This process's rank and the number of ranks. */
LLM_MPI_API int llm_mpi_rank(uint32_t *out, const llm_mpi *c);
LLM_MPI_API int llm_mpi_world_size(uint32_t *out, const llm_mpi *c);

/* Makes `tr` this rank's worker of the group: llm_trainer_set_reduce
 * with hooks that pass each gradient bucket to MPI_Iallreduce (MPI_SUM,
 * in place) as soon as the backward pass has finished it, and wait for
 * all of them (deadline) before the optimizer update. `c` must outlive
 * the trainer (or a later llm_trainer_set_reduce(tr, NULL)). Attach
 * before llm_trainer_load, since the checkpoint's batch is the global
 * one. Errors: LLM_ERR_INVALID, LLM_ERR_NOMEM, LLM_ERR_STATE (broken
 * handle), and those of llm_trainer_set_reduce (message copied). */
LLM_MPI_API int llm_mpi_attach(llm_mpi *c, llm_trainer *tr);

/* Waits until every rank called it, or fails after the timeout. */
LLM_MPI_API int llm_mpi_barrier(llm_mpi *c);

/* Checks that every rank passes the same n bytes (compared through a
 * 64-bit FNV-1a hash, min and max across ranks), e.g. a configuration
 * or the initial weights. `what` names the data in the message. Errors:
 * LLM_ERR_STATE (ranks differ: the message says so), LLM_ERR_IO
 * (timeout, MPI error), LLM_ERR_INVALID. */
LLM_MPI_API int llm_mpi_check_same(llm_mpi *c, const void *data, size_t n, const char *what);

/* Traffic so far on this rank: payload bytes passed to all-reduces
 * (gradients and loss; an allreduce of n bytes moves about
 * 2*(R-1)/R*n bytes per rank on a ring), the number of collectives
 * started, and the seconds spent waiting for them to complete (the part
 * that did not overlap computation). Any out-pointer may be NULL. */
LLM_MPI_API int llm_mpi_stats(uint64_t *bytes, uint64_t *n_collectives, double *wait_s,
                              const llm_mpi *c);

/* Detail of the latest failed call on c ("" if none); owned by c, valid
 * until the next call on c. NULL c gives llm_mpi_last_errmsg(). */
LLM_MPI_API const char *llm_mpi_errmsg(const llm_mpi *c);
/* Detail of the calling thread's latest failed llm_mpi_* call. */
LLM_MPI_API const char *llm_mpi_last_errmsg(void);

#ifdef __cplusplus
}
#endif

#endif /* LLM_MPI_H */
