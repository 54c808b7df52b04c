/*
 * llm_pool.h - per-handle fork-join thread pool (pool.c) and the matrix
 * product that runs on it (gemm.c).
 */
#ifndef LLM_POOL_H
#define LLM_POOL_H

#include "llm_core.h"

typedef struct llm__pool llm__pool;

/* fn(arg, task, n_tasks) is called once for each task in [0, n_tasks),
 * from the caller's thread and the workers, in no particular order. */
typedef void (*llm__pool_fn)(void *arg, int task, int n_tasks);

/* Starts n_threads - 1 workers. With n_threads <= 1 no thread is started
 * and *out is NULL, which every other call accepts as "run inline". */
LLM_INTERNAL int llm__pool_create(llm__pool **out, int n_threads, const llm__mem *m);
/* Joins the workers and frees the pool. NULL is a no-op. */
LLM_INTERNAL void llm__pool_free(llm__pool *p);
/* Threads taking part in a job (1 for a NULL pool). */
LLM_INTERNAL int llm__pool_size(const llm__pool *p);
/* Runs a job and returns when all its tasks are done. One job at a time:
 * the pool belongs to one handle, used by one thread at a time. */
LLM_INTERNAL void llm__pool_run(llm__pool *p, llm__pool_fn fn, void *arg, int n_tasks);

/* Row-major single-precision matrix product
 *     C[M,N] = alpha * op(A)[M,K] . op(B)[K,N] + beta * C[M,N]
 * where op(X) is X (trans 0) or its transpose (trans 1), as cblas_sgemm
 * with CblasRowMajor. Sliced over `pool` (NULL: the calling thread); the
 * result is bit-identical for any pool size (gemm.c). Thread-safe, but
 * must not be given the pool from inside one of that pool's tasks (pass
 * NULL there: the pool runs one job at a time). */
LLM_INTERNAL void llm__gemm(llm__pool *pool, int trans_a, int trans_b, int M, int N, int K,
                            float alpha, const float *A, int lda, const float *B, int ldb,
                            float beta, float *C, int ldc);
/* The naive reference the tests compare llm__gemm against. */
LLM_INTERNAL void llm__gemm_naive(int trans_a, int trans_b, int M, int N, int K, float alpha,
                                  const float *A, int lda, const float *B, int ldb,
                                  float beta, float *C, int ldc);

#endif
