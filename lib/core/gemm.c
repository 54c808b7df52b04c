/*
 * gemm.c - matrix products: the reference loop and the pooled BLAS path.
 *
 * Every large product in libllm goes through llm__gemm, which hands
 * slices of C to cblas_sgemm of the serial OpenBLAS on the handle's own
 * thread pool. Slicing C (rather than K) keeps each slice's result
 * independent, so the answer does not depend on the number of threads:
 * the same bits for 1 or 8 threads, which keeps training reproducible.
 */
#include <cblas.h>

#include "llm_pool.h"

void llm__gemm_naive(int trans_a, int trans_b, int M, int N, int K, float alpha,
                     const float *A, int lda, const float *B, int ldb, float beta,
                     float *C, int ldc) {
    int i, j, k;
    for (i = 0; i < M; i++) {
        for (j = 0; j < N; j++) {
            double acc = 0.0; /* double: the reference must be the accurate one */
            for (k = 0; k < K; k++) {
                float a = trans_a ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                float b = trans_b ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                acc += (double)a * b;
            }
            C[(size_t)i * ldc + j] = (float)(alpha * acc + (beta == 0.0f ? 0.0 : (double)beta * C[(size_t)i * ldc + j]));
        }
    }
}

typedef struct gemm_job {
    int trans_a, trans_b, M, N, K;
    float alpha, beta;
    const float *A, *B;
    float *C;
    int lda, ldb, ldc;
    int split_rows; /* 1: slices of rows of C (M); 0: slices of columns (N) */
    int chunk;      /* rows or columns per task */
} gemm_job;

static void gemm_task(void *arg, int task, int n_tasks) {
    const gemm_job *g = arg;
    int lo = task * g->chunk;
    int extent = g->split_rows ? g->M : g->N;
    int n = extent - lo < g->chunk ? extent - lo : g->chunk;
    (void)n_tasks;
    if (n <= 0)
        return;
    if (g->split_rows) {
        /* rows lo..lo+n of op(A) and of C */
        const float *a = g->trans_a ? g->A + lo : g->A + (size_t)lo * g->lda;
        cblas_sgemm(CblasRowMajor, g->trans_a ? CblasTrans : CblasNoTrans,
                    g->trans_b ? CblasTrans : CblasNoTrans, n, g->N, g->K, g->alpha, a, g->lda,
                    g->B, g->ldb, g->beta, g->C + (size_t)lo * g->ldc, g->ldc);
    } else {
        /* columns lo..lo+n of op(B) and of C */
        const float *b = g->trans_b ? g->B + (size_t)lo * g->ldb : g->B + lo;
        cblas_sgemm(CblasRowMajor, g->trans_a ? CblasTrans : CblasNoTrans,
                    g->trans_b ? CblasTrans : CblasNoTrans, g->M, n, g->K, g->alpha, g->A, g->lda,
                    b, g->ldb, g->beta, g->C + lo, g->ldc);
    }
}

void llm__gemm(llm__pool *pool, int trans_a, int trans_b, int M, int N, int K, float alpha,
               const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    int threads = llm__pool_size(pool);
    gemm_job g;
    int extent, tasks;
    if (M <= 0 || N <= 0)
        return;
    /* Small products are not worth waking a thread for. */
    if (threads == 1 || (double)M * N * K < 64.0 * 64.0 * 64.0) {
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                    trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta,
                    C, ldc);
        return;
    }
    g.trans_a = trans_a; g.trans_b = trans_b;
    g.M = M; g.N = N; g.K = K;
    g.alpha = alpha; g.beta = beta;
    g.A = A; g.B = B; g.C = C;
    g.lda = lda; g.ldb = ldb; g.ldc = ldc;
    g.split_rows = M >= N;
    extent = g.split_rows ? M : N;
    /* One slice per thread, a multiple of 16 so the slices keep the
     * kernels' vector widths; fall back to one task when too narrow. */
    g.chunk = (extent + threads - 1) / threads;
    g.chunk = (g.chunk + 15) & ~15;
    tasks = (extent + g.chunk - 1) / g.chunk;
    llm__pool_run(pool, gemm_task, &g, tasks);
}
