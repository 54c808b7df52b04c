/*
 * roofline.c - the machine's two ceilings, measured in the same run as the
 * other benchmarks so that their figures can be given as a share of them:
 *
 *   sgemm   single-precision GEMM throughput of the OpenBLAS build that
 *           libllm links (roofline.sh links this program against the very
 *           libopenblas that `ldd libllm.so` resolves), C[M,N] = A[M,K]·B[K,N]
 *           row-major, FLOPs = 2·M·N·K. Two shapes: a square 1024³ (the
 *           peak) and the prefill-like 128×3072×768 (GPT-2's MLP up
 *           projection on a 128-token prompt).
 *   read    memory read bandwidth: a streaming float sum over a 1 GiB buffer
 *           (far above any cache), bytes read ÷ time, in each of the ways
 *           readbw.h tries (4 KiB or huge pages; halves or chunks per
 *           thread); the ceiling is the best of them.
 *
 * Each at 1 thread and at THREADS threads (default 2). With more than one
 * thread the work is split into contiguous row blocks, one per POSIX thread,
 * each calling the BLAS once (sgemm) or summing its share (read), as
 * lib/core/gemm.c slices products over libllm's pool. When the linked
 * OpenBLAS is the OpenMP build, each calling thread first sets its own
 * OpenMP thread count to 1 (that build reads it on every call), so the split
 * is ours in both cases and the figure is what libllm's products can reach;
 * a second sgemm line with split=blas gives the threaded BLAS's own figure
 * (one call, THREADS OpenMP or pthreads workers) when there is one.
 * (With Debian's serial build, concurrent calls may share a packing buffer
 * and compute wrong products; the time is still the time of the work, and
 * libllm does not link that build by default.)
 *
 * Every figure is the best of several repetitions (the machine is shared: the
 * fastest run is the best estimate of the ceiling). One line per figure:
 *   bench=roofline what=sgemm shape=square M= N= K= threads= split= gflops= load1=
 *   bench=roofline what=read threads= mb= pages=4k|huge split=halves|chunks gb_s= load1=
 * where load1 is the 1-minute load average when the figure was taken.
 *
 * usage: roofline [THREADS] [READ_MB]
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "readbw.h"

/* The CBLAS entry points we need, declared here rather than through
 * <cblas.h>: Debian's OpenBLAS serial and threaded builds ship different
 * include directories, and the ABI is the same. */
enum { CBLAS_ROW_MAJOR = 101, CBLAS_NO_TRANS = 111 };
void cblas_sgemm(int order, int transa, int transb, int m, int n, int k, float alpha,
                 const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
int openblas_get_parallel(void);
void openblas_set_num_threads(int n);
char *openblas_get_config(void);
/* libgomp's per-thread thread count, weak: absent unless the OpenMP build
 * of OpenBLAS is linked (roofline.sh links libgomp when libllm does). */
void omp_set_num_threads(int n) __attribute__((weak));

#define MAX_THREADS 64

/* ---- sgemm ------------------------------------------------------------ */

typedef struct {
    const float *a, *b; /* A [m, k] (this thread's rows), B [k, n] */
    float *c;           /* C [m, n] (this thread's rows) */
    int m, n, k;
} gemm_job;

static void *gemm_run(void *p) {
    gemm_job *j = p;
    if (omp_set_num_threads)
        omp_set_num_threads(1);
    if (j->m > 0)
        cblas_sgemm(CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, CBLAS_NO_TRANS, j->m, j->n, j->k, 1.0f, j->a,
                    j->k, j->b, j->n, 0.0f, j->c, j->n);
    return NULL;
}

/* C = A·B with the M rows split over `threads` POSIX threads (the calling
 * thread takes the first block). */
static void gemm_split(const float *a, const float *b, float *c, int m, int n, int k,
                       int threads) {
    pthread_t tid[MAX_THREADS];
    gemm_job job[MAX_THREADS];
    int t, r0 = 0;
    for (t = 0; t < threads; t++) {
        int rows = m / threads + (t < m % threads);
        job[t].a = a + (size_t)r0 * k;
        job[t].b = b;
        job[t].c = c + (size_t)r0 * n;
        job[t].m = rows;
        job[t].n = n;
        job[t].k = k;
        r0 += rows;
    }
    for (t = 1; t < threads; t++)
        if (pthread_create(&tid[t], NULL, gemm_run, &job[t]) != 0) {
            fprintf(stderr, "roofline: pthread_create failed\n");
            exit(1);
        }
    gemm_run(&job[0]);
    for (t = 1; t < threads; t++)
        pthread_join(tid[t], NULL);
}

static void bench_sgemm(const char *shape, int m, int n, int k, int threads, int blas_split) {
    float *a = malloc((size_t)m * k * sizeof *a), *b = malloc((size_t)k * n * sizeof *b);
    float *c = malloc((size_t)m * n * sizeof *c);
    double best = 1e30, t0, dt, total = 0.0, flops = 2.0 * m * n * k;
    size_t i;
    int rep;
    if (!a || !b || !c) {
        fprintf(stderr, "roofline: out of memory\n");
        exit(1);
    }
    /* Small values of both signs: no denormals, no overflow. */
    for (i = 0; i < (size_t)m * k; i++)
        a[i] = (float)((int)(i * 7919u % 201u) - 100) * 1e-3f;
    for (i = 0; i < (size_t)k * n; i++)
        b[i] = (float)((int)(i * 104729u % 199u) - 99) * 1e-3f;
    /* Repeat until ~1.5 s of work or 40 runs, at least 5; keep the fastest. */
    for (rep = 0; rep < 40 && (rep < 5 || total < 1.5); rep++) {
        t0 = readbw_now();
        if (blas_split) {
            if (omp_set_num_threads)
                omp_set_num_threads(threads);
            openblas_set_num_threads(threads);
            cblas_sgemm(CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, CBLAS_NO_TRANS, m, n, k, 1.0f, a, k, b,
                        n, 0.0f, c, n);
        } else {
            gemm_split(a, b, c, m, n, k, threads);
        }
        dt = readbw_now() - t0;
        total += dt;
        if (dt < best)
            best = dt;
    }
    if (openblas_get_parallel())
        openblas_set_num_threads(1);
    if (omp_set_num_threads)
        omp_set_num_threads(1);
    printf("bench=roofline what=sgemm shape=%s M=%d N=%d K=%d threads=%d split=%s gflops=%.1f "
           "ms=%.3f check=%.4g load1=%.2f\n",
           shape, m, n, k, threads, blas_split ? "blas" : "rows", flops / best / 1e9, best * 1e3,
           (double)c[(size_t)m * n / 2 + 1], readbw_load1());
    fflush(stdout);
    free(a);
    free(b);
    free(c);
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    size_t mb = argc > 2 ? (size_t)atol(argv[2]) : 1024;
    int t, par;
    if (argc > 3 || threads < 1 || threads > MAX_THREADS || mb < 16) {
        fprintf(stderr, "usage: roofline [THREADS (1..%d, default 2)] [READ_MB (>= 16, default "
                        "1024)]\n",
                MAX_THREADS);
        return 2;
    }
    par = openblas_get_parallel();
    printf("bench=roofline what=blas parallel=%s config=\"%s\"\n",
           par == 0 ? "serial" : par == 1 ? "pthreads" : "openmp", openblas_get_config());
    if (par)
        openblas_set_num_threads(1);
    if (omp_set_num_threads)
        omp_set_num_threads(1);

    /* One thread, then THREADS (when more than one). */
    for (t = 1; t <= threads; t = t == threads ? threads + 1 : threads) {
        readbw_ceiling("bench=roofline what=read", mb, t, 5, readbw_load1);
        bench_sgemm("square", 1024, 1024, 1024, t, 0);
        bench_sgemm("prefill", 128, 3072, 768, t, 0);
        if (par && t > 1)
            bench_sgemm("square", 1024, 1024, 1024, t, 1);
    }
    return 0;
}
