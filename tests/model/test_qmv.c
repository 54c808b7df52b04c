/*
 * test_qmv.c - the fused decode products (lib/model/qmv.c) against the
 * unfused path they replace, and against an independent oracle:
 *   - for F32 and Q8_0 weights (and a mix), Q|K|V-like parts of different
 *     N with biases, a residual part (accumulate), GPT-2's up + GELU and
 *     Llama's gate/up + SwiGLU: bit for bit the bias, then one kernel call
 *     over all rows per part (the F32 matrix-vector kernel; Q8_0 through
 *     qmat.c's integer decode path), then llm__ops_gelu / llm__ops_swiglu;
 *   - identical bits on pools of 1, 2 and 3 threads;
 *   - F32 outputs within a float bound of a double-precision product plus
 *     bias (and the activation evaluated in double), so that the
 *     comparison above cannot pass with both paths wrong;
 *   - Q8_0 rows longer than the stack buffer (the per-part fallback).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "format/gguf.h"
#include "llm_matvec.h"
#include "llm_pool.h"
#include "model/ops.h"
#include "model/qmat.h"
#include "model/qmv.h"

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static float frand(void) { /* uniform in [-1, 1) */
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (float)((g_rng >> 40) & 0xffffff) / 8388608.0f - 1.0f;
}

typedef struct mat {
    size_t N, K;
    uint32_t type;
    float *wf;          /* (N, K) the float weights (Q8_0: dequantized) */
    void *w;            /* as stored */
    float *b;           /* (N) or NULL */
} mat;

static void mat_make(mat *m, size_t N, size_t K, uint32_t type, int bias) {
    size_t i;
    m->N = N;
    m->K = K;
    m->type = type;
    m->wf = malloc(N * K * sizeof(float));
    assert_non_null(m->wf);
    for (i = 0; i < N * K; i++)
        m->wf[i] = frand();
    if (type == LLM__GGML_Q8_0) {
        llm__q8_block *q = malloc(N * (K / 32) * sizeof *q);
        assert_non_null(q);
        llm__q8_quantize_ref(q, m->wf, N * K);
        llm__q8_dequantize(m->wf, q, N * K);
        m->w = q;
    } else {
        m->w = m->wf;
    }
    m->b = NULL;
    if (bias) {
        m->b = malloc(N * sizeof(float));
        for (i = 0; i < N; i++)
            m->b[i] = frand();
    }
}

static void mat_free(mat *m) {
    if (m->w != m->wf)
        free(m->w);
    free(m->wf);
    free(m->b);
}

/* The unfused path: per part the bias (or the residual plus the bias),
 * then one call of this CPU's kernel over all rows (F32) or the Q8_0
 * decode path of qmat.c, then the activation. */
static void unfused(float **y, mat *m, size_t n, const float *x, int act, const int *acc) {
    size_t i, r;
    for (i = 0; i < n; i++) {
        if (!acc[i] && m[i].b)
            memcpy(y[i], m[i].b, m[i].N * sizeof(float));
        else if (!acc[i])
            memset(y[i], 0, m[i].N * sizeof(float));
        else if (m[i].b)
            for (r = 0; r < m[i].N; r++)
                y[i][r] += m[i].b[r];
        if (m[i].type == LLM__GGML_Q8_0)
            assert_int_equal(llm__qmat_matmul_q8(NULL, NULL, y[i], x, m[i].w, 1, m[i].K, m[i].N,
                                                 LLM__QMAT_INT8),
                             LLM__QMAT_INT8);
        else
            llm__matvec_get()->f32(y[i], m[i].w, x, m[i].K, 0, m[i].N);
    }
    if (act == LLM__QMV_GELU)
        for (i = 0; i < n; i++)
            llm__ops_gelu(y[i], m[i].N);
    else if (act == LLM__QMV_SWIGLU)
        llm__ops_swiglu(y[0], y[1], m[0].N);
}

/* Double-precision oracle for F32 parts: (y0 if acc) + b + w·x, then act. */
static double oracle(const mat *m, const float *x, size_t r, double y0) {
    double s = y0 + (m->b ? m->b[r] : 0.0);
    size_t k;
    for (k = 0; k < m->K; k++)
        s += (double)m->wf[r * m->K + k] * x[k];
    return s;
}

static double gelu_d(double v) {
    return 0.5 * v * (1.0 + tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
}

static void check_case(uint32_t type0, uint32_t type1, size_t K, int act, int bias, int accumulate) {
    const size_t Ns[3] = {act == LLM__QMV_SWIGLU ? 200 : 96, act == LLM__QMV_SWIGLU ? 200 : 40, 40};
    const size_t n = act == LLM__QMV_GELU ? 1 : act == LLM__QMV_SWIGLU ? 2 : 3;
    mat m[3];
    float *x = malloc(K * sizeof(float)), *want[3], *got[3], *init[3];
    llm__qmv_part P[3];
    int acc[3], threads;
    size_t i, r;
    llm__mem mem;
    llm__mem_init(&mem, NULL, NULL);
    for (i = 0; i < K; i++)
        x[i] = frand();
    for (i = 0; i < n; i++) {
        mat_make(&m[i], Ns[i], K, i == 1 ? type1 : type0, bias);
        want[i] = malloc(Ns[i] * sizeof(float));
        got[i] = malloc(Ns[i] * sizeof(float));
        init[i] = malloc(Ns[i] * sizeof(float));
        for (r = 0; r < Ns[i]; r++)
            init[i][r] = frand();
        acc[i] = accumulate && act == LLM__QMV_NONE;
    }
    memcpy(want[0], init[0], Ns[0] * sizeof(float));
    for (i = 1; i < n; i++)
        memcpy(want[i], init[i], Ns[i] * sizeof(float));
    unfused(want, m, n, x, act, acc);
    for (threads = 1; threads <= 3; threads++) {
        llm__pool *pool = NULL;
        assert_int_equal(llm__pool_create(&pool, threads, &mem), LLM_OK);
        for (i = 0; i < n; i++) {
            memcpy(got[i], init[i], Ns[i] * sizeof(float));
            P[i].y = got[i];
            P[i].w = m[i].w;
            P[i].type = m[i].type;
            P[i].b = m[i].b;
            P[i].N = Ns[i];
            P[i].accumulate = acc[i];
        }
        llm__qmv_run(pool, P, n, x, K, act);
        for (i = 0; i < n; i++)
            assert_memory_equal(got[i], want[i], Ns[i] * sizeof(float));
        llm__pool_free(pool);
    }
    /* the oracle, for F32 parts (Q8_0 ones are covered by test_matvec) */
    for (i = 0; i < n; i++) {
        if (m[i].type != LLM__GGML_F32)
            continue;
        for (r = 0; r < Ns[i]; r++) {
            double v = oracle(&m[i], x, r, acc[i] ? init[i][r] : 0.0), tol;
            double sabs = fabs(v) + K; /* |w|, |x| <= 1: Σ|w·x| <= K */
            if (act == LLM__QMV_GELU)
                v = gelu_d(v);
            else if (act == LLM__QMV_SWIGLU && i == 0 && m[1].type == LLM__GGML_F32) {
                double u = oracle(&m[1], x, r, 0.0);
                v = v / (1.0 + exp(-v)) * u;
                sabs *= 1.0 + fabs(u);
            } else if (act == LLM__QMV_SWIGLU) {
                continue;
            }
            tol = 1e-5 * sabs;
            if (fabs(got[0 + i][r] - v) > tol)
                fail_msg("part %zu row %zu: %.9g, oracle %.9g", i, r, (double)got[i][r], v);
        }
    }
    for (i = 0; i < n; i++) {
        mat_free(&m[i]);
        free(want[i]);
        free(got[i]);
        free(init[i]);
    }
    free(x);
}

static void test_qkv(void **st) {
    (void)st;
    check_case(LLM__GGML_F32, LLM__GGML_F32, 768, LLM__QMV_NONE, 1, 0);
    check_case(LLM__GGML_Q8_0, LLM__GGML_Q8_0, 768, LLM__QMV_NONE, 1, 0);
    check_case(LLM__GGML_F32, LLM__GGML_Q8_0, 256, LLM__QMV_NONE, 0, 0);
}

static void test_residual(void **st) {
    (void)st;
    check_case(LLM__GGML_F32, LLM__GGML_F32, 300, LLM__QMV_NONE, 1, 1);
    check_case(LLM__GGML_Q8_0, LLM__GGML_Q8_0, 320, LLM__QMV_NONE, 0, 1);
}

static void test_gelu(void **st) {
    (void)st;
    check_case(LLM__GGML_F32, LLM__GGML_F32, 512, LLM__QMV_GELU, 1, 0);
    check_case(LLM__GGML_Q8_0, LLM__GGML_Q8_0, 512, LLM__QMV_GELU, 1, 0);
}

static void test_swiglu(void **st) {
    (void)st;
    check_case(LLM__GGML_F32, LLM__GGML_F32, 384, LLM__QMV_SWIGLU, 0, 0);
    check_case(LLM__GGML_Q8_0, LLM__GGML_Q8_0, 384, LLM__QMV_SWIGLU, 0, 0);
}

static void test_long_rows(void **st) {
    (void)st;
    /* K beyond the 16 KiB quantized-row buffer: the per-part fallback */
    check_case(LLM__GGML_Q8_0, LLM__GGML_Q8_0, LLM__QMV_MAX_K + 64, LLM__QMV_SWIGLU, 0, 0);
    check_case(LLM__GGML_Q8_0, LLM__GGML_F32, LLM__QMV_MAX_K + 32, LLM__QMV_NONE, 1, 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qkv),      cmocka_unit_test(test_residual),
        cmocka_unit_test(test_gelu),     cmocka_unit_test(test_swiglu),
        cmocka_unit_test(test_long_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
