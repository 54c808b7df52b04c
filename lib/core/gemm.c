/*
 * gemm.c - matrix products: the reference loop and the BLAS path.
 *
 * Every large product in libllm goes through llm__gemm, i.e. through
 * cblas_sgemm of OpenBLAS. The result does not depend on the number of
 * threads of the calling context (one sgemm, same blocking), which keeps
 * training and evaluation reproducible bit for bit.
 */
#include <cblas.h>
#include <pthread.h>

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

/* Debian's serial OpenBLAS (the build libllm links, so that loading it
 * starts no thread) is built without USE_LOCKING: its packing-buffer
 * allocator is not thread-safe, and two threads inside cblas_sgemm at
 * once can be handed the same buffer and compute wrong products (seen
 * here: a few wrong products per thousand concurrent calls). Every call
 * therefore holds this process-wide lock, and a product is not split
 * across the pool. The pool still runs the element-wise, attention and
 * matrix-vector kernels, which are libllm's own. */
static pthread_mutex_t g_blas_lock = PTHREAD_MUTEX_INITIALIZER;

void llm__gemm(llm__pool *pool, int trans_a, int trans_b, int M, int N, int K, float alpha,
               const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    (void)pool; /* kept in the signature: a reentrant BLAS would slice C over it */
    if (M <= 0 || N <= 0)
        return;
    pthread_mutex_lock(&g_blas_lock);
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    pthread_mutex_unlock(&g_blas_lock);
}
