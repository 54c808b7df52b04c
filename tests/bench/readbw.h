/*
 * readbw.h - the memory read ceiling of the decode benchmarks (roofline.c,
 * bench_quant.c): how fast THREADS threads can stream a buffer far larger
 * than any cache. Decode figures are quoted as a share of it, so it has to
 * be the best this machine does, not one way of reading:
 *
 *   - the loop is vector loads into eight independent accumulators (AVX2
 *     when the CPU has it, whatever the file is compiled for), so it is
 *     bound by memory, not by an add chain;
 *   - two ways of sharing the buffer among threads: contiguous halves
 *     (split=halves) and 2 MiB chunks dealt round robin (split=chunks,
 *     which is how the decode's pool splits a matrix: both threads then
 *     stream from nearby addresses);
 *   - two page sizes: 4 KiB pages as malloc gives them (pages=4k) and
 *     transparent huge pages asked for with madvise (pages=huge; when the
 *     kernel grants them: /sys/kernel/mm/transparent_hugepage).
 *
 * The callers print one line per variant; the ceiling is the best of them
 * (report.py takes the maximum of all read lines at a thread count).
 * Header-only because the two programs are built differently (roofline.c
 * by roofline.sh with -march=native, bench_quant.c by CMake); it also
 * gives them their clock and load-average helpers.
 */
#ifndef LLM_BENCH_READBW_H
#define LLM_BENCH_READBW_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#define READBW_MAX_THREADS 64
#define READBW_CHUNK ((size_t)2 << 20 >> 2) /* floats per 2 MiB chunk */

/* Seconds on the monotonic clock (also the timer of the programs that
 * include this header). */
static double readbw_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The 1-minute load average (-1 when unknown): the machine is shared, and
 * figures taken under load are lower bounds. */
static double readbw_load1(void) {
    double l = -1.0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1.0;
        fclose(f);
    }
    return l;
}

/* Sum of p[0..n), n a multiple of 64: 64 independent partial sums. */
static float readbw_sum_c(const float *p, size_t n) {
    float acc[64] = {0};
    size_t i;
    int l;
    for (i = 0; i < n; i += 64)
        for (l = 0; l < 64; l++)
            acc[l] += p[i + l];
    for (l = 1; l < 64; l++)
        acc[0] += acc[l];
    return acc[0];
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2"))) static float readbw_sum_avx2(const float *p, size_t n) {
    __m256 a[8];
    size_t i;
    int l;
    for (l = 0; l < 8; l++)
        a[l] = _mm256_setzero_ps();
    for (i = 0; i < n; i += 64)
        for (l = 0; l < 8; l++)
            a[l] = _mm256_add_ps(a[l], _mm256_loadu_ps(p + i + 8 * l));
    for (l = 1; l < 8; l++)
        a[0] = _mm256_add_ps(a[0], a[l]);
    {
        float t[8], s = 0.0f;
        _mm256_storeu_ps(t, a[0]);
        for (l = 0; l < 8; l++)
            s += t[l];
        return s;
    }
}
#endif

static float readbw_sum(const float *p, size_t n) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (__builtin_cpu_supports("avx2"))
        return readbw_sum_avx2(p, n);
#endif
    return readbw_sum_c(p, n);
}

typedef struct {
    const float *p;
    size_t n;      /* floats in the buffer, a multiple of READBW_CHUNK */
    int t, threads, chunked;
    float sum;
} readbw_job;

static void *readbw_run(void *v) {
    readbw_job *j = v;
    float s = 0.0f;
    if (j->chunked) {
        size_t c;
        for (c = (size_t)j->t * READBW_CHUNK; c < j->n; c += (size_t)j->threads * READBW_CHUNK)
            s += readbw_sum(j->p + c, READBW_CHUNK);
    } else {
        size_t per = j->n / (size_t)j->threads / 64 * 64;
        s = readbw_sum(j->p + (size_t)j->t * per, per);
    }
    j->sum = s;
    return NULL;
}

/* Best GB/s of `reps` passes over buf[0..n) by `threads` threads. */
static double readbw_measure(const float *buf, size_t n, int threads, int chunked, int reps) {
    pthread_t tid[READBW_MAX_THREADS];
    readbw_job job[READBW_MAX_THREADS];
    double best = 1e30, sum = 0.0;
    int t, rep;
    if (threads < 1 || threads > READBW_MAX_THREADS)
        return 0.0;
    for (rep = 0; rep < reps; rep++) {
        double t0;
        for (t = 0; t < threads; t++) {
            job[t].p = buf;
            job[t].n = n;
            job[t].t = t;
            job[t].threads = threads;
            job[t].chunked = chunked;
        }
        t0 = readbw_now();
        for (t = 1; t < threads; t++)
            if (pthread_create(&tid[t], NULL, readbw_run, &job[t]) != 0) {
                fprintf(stderr, "readbw: pthread_create failed\n");
                exit(1);
            }
        readbw_run(&job[0]);
        for (t = 1; t < threads; t++)
            pthread_join(tid[t], NULL);
        t0 = readbw_now() - t0;
        if (t0 < best)
            best = t0;
        for (t = 0; t < threads; t++)
            sum += job[t].sum;
    }
    if (sum == 12345.678) /* keep the sums alive */
        fputc('!', stderr);
    return (double)n * sizeof(float) / best / 1e9;
}

/* A buffer of `mb` MiB (rounded down to whole chunks), every page touched.
 * huge: 2 MiB aligned and madvise(MADV_HUGEPAGE) before the first touch.
 * *n gets its length in floats. Free with free(). */
static float *readbw_alloc(size_t mb, int huge, size_t *n) {
    const size_t bytes = mb * 1048576 / (READBW_CHUNK * sizeof(float)) * (READBW_CHUNK * sizeof(float));
    float *buf;
    size_t i;
    if (bytes == 0)
        return NULL;
    buf = huge ? aligned_alloc((size_t)2 << 20, bytes) : malloc(bytes);
    if (!buf)
        return NULL;
#ifdef MADV_HUGEPAGE
    if (huge)
        (void)madvise(buf, bytes, MADV_HUGEPAGE);
#endif
    *n = bytes / sizeof(float);
    for (i = 0; i < *n; i++)
        buf[i] = (float)(i & 1023) * (1.0f / 1024.0f);
    return buf;
}

/* Prints one line per variant (prefix, then "threads= mb= pages= split=
 * gb_s= load1=", load1 from `load`) and returns the best GB/s. */
static double readbw_ceiling(const char *prefix, size_t mb, int threads, int reps,
                             double (*load)(void)) {
    double best = 0.0;
    int huge, chunked;
    for (huge = 0; huge < 2; huge++) {
        size_t n = 0;
        float *buf = readbw_alloc(mb, huge, &n);
        if (!buf) {
            fprintf(stderr, "readbw: cannot allocate %zu MiB\n", mb);
            exit(1);
        }
        for (chunked = 0; chunked < (threads > 1 ? 2 : 1); chunked++) {
            double g = readbw_measure(buf, n, threads, chunked, reps);
            printf("%s threads=%d mb=%zu pages=%s split=%s gb_s=%.2f load1=%.2f\n", prefix,
                   threads, n * sizeof(float) >> 20, huge ? "huge" : "4k",
                   chunked ? "chunks" : "halves", g, load());
            fflush(stdout);
            if (g > best)
                best = g;
        }
        free(buf);
    }
    return best;
}

#endif
