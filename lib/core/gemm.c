/*
 * gemm.c - matrix products: the reference loop and the BLAS path.
 *
 * Every large product in libllm goes through llm__gemm, i.e. through
 * cblas_sgemm of OpenBLAS, always with one OpenBLAS thread: parallelism
 * comes from slicing C over the context's pool, so OpenBLAS never starts
 * a thread team of its own and the two never compete for the cores.
 *
 * Slicing cuts C into one column block per thread (or row block when C is
 * taller than wide) at multiples of LLM__GEMM_ALIGN: one slice per thread
 * because each slice re-packs the whole of the other operand. OpenBLAS's
 * large-product path computes each element of C with the same kernel and
 * the same order over K wherever the cut falls, so the result is bit-
 * identical for every thread count (the pool test checks this), which
 * keeps training and evaluation reproducible across machines. Its
 * small-product path (products of at most 100^3 multiply-adds on
 * AVX-512) rounds differently, so a product is sliced only when every
 * slice keeps at least LLM__GEMM_MIN_SLICE multiply-adds.
 *
 * Which OpenBLAS build, and why (cmake/LlmBlas.cmake): the OpenMP build is
 * reentrant and starts no thread at load; with LLM_BLAS_REENTRANT unset
 * (the serial build, whose buffer allocator has no lock) every call holds
 * one process-wide lock and products are not sliced.
 */
#include <cblas.h>
#include <pthread.h>

#include "llm_pool.h"

/* Slices start at multiples of this many rows or columns, so that each
 * slice but the last is made of whole register tiles of the kernel. */
#define LLM__GEMM_ALIGN 64
/* Multiply-adds a slice must keep: above OpenBLAS's small-product limit
 * (see above), and worth a wake-up of the pool (about 40 us of work). */
#define LLM__GEMM_MIN_SLICE ((double)2 * 1024 * 1024)

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

#ifdef LLM_BLAS_REENTRANT
/* libgomp's per-thread thread count, which the OpenMP build of OpenBLAS
 * reads on every call. Declared here rather than through <omp.h>, which
 * only GCC ships (clang's comes with libomp, not installed). */
int omp_get_max_threads(void);
void omp_set_num_threads(int n);

static void sgemm1(int trans_a, int trans_b, int M, int N, int K, float alpha,
                   const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    /* One OpenBLAS thread for this call only: the caller's own OpenMP
     * setting (a host program may use OpenMP) is put back afterwards. */
    int prev = omp_get_max_threads();
    if (prev != 1)
        omp_set_num_threads(1);
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    if (prev != 1)
        omp_set_num_threads(prev);
}
#else
/* The serial OpenBLAS: see the file comment. */
static pthread_mutex_t g_blas_lock = PTHREAD_MUTEX_INITIALIZER;

static void sgemm1(int trans_a, int trans_b, int M, int N, int K, float alpha,
                   const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    pthread_mutex_lock(&g_blas_lock);
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    pthread_mutex_unlock(&g_blas_lock);
}
#endif

typedef struct {
    int trans_a, trans_b, M, N, K, lda, ldb, ldc;
    float alpha, beta;
    const float *A, *B;
    float *C;
    int by_rows; /* 1: slices are row blocks of C, 0: column blocks */
    int n_blocks; /* LLM__GEMM_ALIGN-wide blocks along the sliced side */
} gemm_job;

/* Slice t of n covers blocks [nb*t/n, nb*(t+1)/n) of LLM__GEMM_ALIGN rows
 * or columns, the last one cut at `extent`. */
static void slice_range(int *lo, int *hi, int extent, int n_blocks, int task, int n_tasks) {
    *lo = (int)((long long)n_blocks * task / n_tasks) * LLM__GEMM_ALIGN;
    *hi = (int)((long long)n_blocks * (task + 1) / n_tasks) * LLM__GEMM_ALIGN;
    if (*hi > extent)
        *hi = extent;
}

/* The narrowest slice's extent. */
static int slice_min(int extent, int n_blocks, int n_tasks) {
    int t, lo, hi, min = extent;
    for (t = 0; t < n_tasks; t++) {
        slice_range(&lo, &hi, extent, n_blocks, t, n_tasks);
        if (hi - lo < min)
            min = hi - lo;
    }
    return min;
}

static void gemm_slice(void *arg, int task, int n_tasks) {
    const gemm_job *j = arg;
    int lo, hi;
    slice_range(&lo, &hi, j->by_rows ? j->M : j->N, j->n_blocks, task, n_tasks);
    if (hi <= lo)
        return;
    if (j->by_rows) {
        /* rows lo..hi of op(A) are rows of A, or columns of A when transposed */
        const float *a = j->trans_a ? j->A + lo : j->A + (size_t)lo * j->lda;
        sgemm1(j->trans_a, j->trans_b, hi - lo, j->N, j->K, j->alpha, a, j->lda, j->B, j->ldb,
               j->beta, j->C + (size_t)lo * j->ldc, j->ldc);
    } else {
        /* columns lo..hi of op(B) are columns of B, or rows of B when transposed */
        const float *b = j->trans_b ? j->B + (size_t)lo * j->ldb : j->B + lo;
        sgemm1(j->trans_a, j->trans_b, j->M, hi - lo, j->K, j->alpha, j->A, j->lda, b, j->ldb,
               j->beta, j->C + lo, j->ldc);
    }
}

void llm__gemm(llm__pool *pool, int trans_a, int trans_b, int M, int N, int K, float alpha,
               const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    gemm_job j;
    int n_threads = llm__pool_size(pool), extent, n_tasks;
    if (M <= 0 || N <= 0)
        return;
#ifndef LLM_BLAS_REENTRANT
    n_threads = 1;
#endif
    /* Slice the longer side: each slice re-packs the whole of the other
     * operand, so cutting the short side would repeat the big packing. */
    j.by_rows = M > N;
    extent = j.by_rows ? M : N;
    j.n_blocks = (extent + LLM__GEMM_ALIGN - 1) / LLM__GEMM_ALIGN;
    n_tasks = n_threads < j.n_blocks ? n_threads : j.n_blocks;
    /* every slice keeps LLM__GEMM_MIN_SLICE multiply-adds */
    while (n_tasks > 1 && (double)slice_min(extent, j.n_blocks, n_tasks) * ((double)M * N / extent) * K <
                              LLM__GEMM_MIN_SLICE)
        n_tasks--;
    if (n_tasks <= 1) {
        sgemm1(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    j.trans_a = trans_a; j.trans_b = trans_b;
    j.M = M; j.N = N; j.K = K;
    j.lda = lda; j.ldb = ldb; j.ldc = ldc;
    j.alpha = alpha; j.beta = beta;
    j.A = A; j.B = B; j.C = C;
    llm__pool_run(pool, gemm_slice, &j, n_tasks);
}
