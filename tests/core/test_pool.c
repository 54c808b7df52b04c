/*
 * test_pool.c - the thread pool and llm__gemm: every task runs once,
 * threads exist only when asked for, and the pooled product equals the
 * naive reference for every transpose combination and awkward sizes, with
 * the same bits for any thread count.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "llm_pool.h"

static int count_threads(void) {
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    if (!d)
        return -1;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

typedef struct hits {
    atomic_int count[1000];
} hits;

static void mark(void *arg, int task, int n_tasks) {
    hits *h = arg;
    (void)n_tasks;
    atomic_fetch_add(&h->count[task], 1);
}

static void test_pool_runs_each_task_once(void **state) {
    llm__mem m;
    llm__pool *p = NULL;
    static hits h;
    int i, job;
    (void)state;
    llm__mem_init(&m, NULL, NULL);
    assert_int_equal(count_threads(), 1);
    assert_int_equal(llm__pool_create(&p, 1, &m), LLM_OK);
    assert_null(p); /* one thread: no pool, no thread */
    assert_int_equal(count_threads(), 1);
    assert_int_equal(llm__pool_size(p), 1);

    assert_int_equal(llm__pool_create(&p, 3, &m), LLM_OK);
    assert_non_null(p);
    assert_int_equal(count_threads(), 3);
    for (job = 0; job < 200; job++) {
        int n = 1 + job * 5 % 1000;
        memset(&h, 0, sizeof h);
        llm__pool_run(p, mark, &h, n);
        for (i = 0; i < n; i++)
            assert_int_equal(atomic_load(&h.count[i]), 1);
        assert_int_equal(atomic_load(&h.count[n < 1000 ? n : 999]), n < 1000 ? 0 : 1);
    }
    llm__pool_free(p);
    assert_int_equal(count_threads(), 1); /* all joined */
    llm__pool_free(NULL);
}

static float frand(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((*s >> 40) / (double)(1ULL << 24)) * 2.0f - 1.0f;
}

static void check_gemm(llm__pool *p1, llm__pool *p2, int ta, int tb, int M, int N, int K) {
    uint64_t s = (uint64_t)(M * 131 + N * 7 + K + ta * 3 + tb);
    int lda = ta ? M + 1 : K + 2, ldb = tb ? K + 3 : N + 1, ldc = N + 4;
    size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb, nc = (size_t)M * ldc;
    float *A = malloc(na * sizeof *A), *B = malloc(nb * sizeof *B);
    float *C0 = malloc(nc * sizeof *C0), *C1 = malloc(nc * sizeof *C1), *C2 = malloc(nc * sizeof *C2);
    size_t i;
    int r, c;
    for (i = 0; i < na; i++) A[i] = frand(&s);
    for (i = 0; i < nb; i++) B[i] = frand(&s);
    for (i = 0; i < nc; i++) C0[i] = C1[i] = C2[i] = frand(&s);
    llm__gemm_naive(ta, tb, M, N, K, 0.5f, A, lda, B, ldb, 0.25f, C0, ldc);
    llm__gemm(p1, ta, tb, M, N, K, 0.5f, A, lda, B, ldb, 0.25f, C1, ldc);
    llm__gemm(p2, ta, tb, M, N, K, 0.5f, A, lda, B, ldb, 0.25f, C2, ldc);
    for (r = 0; r < M; r++)
        for (c = 0; c < N; c++) {
            size_t k = (size_t)r * ldc + c;
            /* float accumulation over K terms of size <= 0.5 */
            assert_true(fabsf(C1[k] - C0[k]) <= 1e-5f * (float)K + 1e-6f);
            /* thread count never changes the bits */
            assert_memory_equal(&C1[k], &C2[k], sizeof(float));
        }
    free(A); free(B); free(C0); free(C1); free(C2);
}

static void test_gemm_matches_reference(void **state) {
    llm__mem m;
    llm__pool *p2 = NULL, *p3 = NULL;
    static const int sizes[][3] = {{1, 1, 1}, {3, 5, 7}, {64, 64, 64}, {100, 37, 129},
                                   {37, 300, 65}, {257, 129, 96}, {1, 768, 768}, {130, 2, 300},
                                   /* large enough to be sliced: by columns, by rows,
                                    * slices that end inside a 64-wide block */
                                   {300, 500, 200}, {1000, 70, 50}, {200, 64, 1000},
                                   {129, 1023, 33}};
    size_t i;
    int ta, tb;
    (void)state;
    llm__mem_init(&m, NULL, NULL);
    assert_int_equal(llm__pool_create(&p2, 2, &m), LLM_OK);
    assert_int_equal(llm__pool_create(&p3, 3, &m), LLM_OK);
    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (ta = 0; ta < 2; ta++)
            for (tb = 0; tb < 2; tb++) {
                check_gemm(NULL, p2, ta, tb, sizes[i][0], sizes[i][1], sizes[i][2]);
                check_gemm(p2, p3, ta, tb, sizes[i][0], sizes[i][1], sizes[i][2]);
            }
    llm__pool_free(p3);
    llm__pool_free(p2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_runs_each_task_once),
        cmocka_unit_test(test_gemm_matches_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
