/*
 * test_q8gemm.c - the Q8_0 x Q8_0 matrix kernels of many activation rows
 * (lib/core/llm_q8gemm.h) and their use by llm__qmat_matmul:
 *   - packing: the plain-C kernel over packed rows gives bit for bit what
 *     the decode reference llm__matvec_q8_ref gives over the unpacked
 *     blocks (same arithmetic), and padded lanes are zero;
 *   - every kernel this CPU can run (scalar reference, AVX2, AVX-512 VNNI)
 *     against an oracle in exact integers and double: Σ_b dw·dx·Σ qw·qx,
 *     and the vector kernels bit for bit against each other (the same
 *     operations in the same order),
 *     with weights of -128 (whole blocks of them), zero weight and
 *     activation scales, odd block counts, K segments of the vector
 *     kernel (more than 128 blocks), M and weight-row ranges that are not
 *     multiples of the 16 x 8 tile, strides ldw > nb and ldy > N, adding
 *     to y; outputs outside the range must keep their bits;
 *   - llm__qmat_matmul_q8, each way (decode kernels, dequantized tiles +
 *     sgemm, int8 matrix kernel) on pools of 1, 2 and 3 threads: identical
 *     bits across thread counts, equal to the exact product of the
 *     quantized operands within float rounding, several passes of x rows
 *     through the tile included; and llm__qmat_matmul's choice of way.
 *     The matrix kernel there is the process's (LLM_CPU caps it: CTest
 *     runs this file again with avx2 and scalar).
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
#include "llm_cpu.h"
#include "llm_matvec.h"
#include "llm_pool.h"
#include "llm_q8gemm.h"
#include "model/qmat.h"

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 16);
}
static float frand(void) { return (float)((int)(rnd() % 20001) - 10000) / 10000.0f; }

/* Random weight rows: quants anywhere in [-128, 127] with -128 frequent,
 * some blocks all -128, some with scale 0, scales over a few decades. */
static void fill_weights(llm__q8_block *w, size_t n) {
    size_t b, j;
    for (b = 0; b < n; b++) {
        const uint32_t kind = rnd() % 16;
        w[b].d = kind == 0 ? 0 : llm__q8_fp16_from_f32(ldexpf(1.0f + frand() * 0.5f,
                                                              -(int)(rnd() % 12)));
        for (j = 0; j < LLM__Q8_BLOCK; j++)
            w[b].q[j] = kind == 1 ? -128 : rnd() % 8 == 0 ? -128 : (int8_t)(rnd() & 0xff);
    }
}

/* Activation rows quantized by the reference (|q| <= 127), with whole
 * zero blocks (scale 0) and full-scale values. */
static void fill_acts(llm__q8_block *xq, size_t rows, size_t nb) {
    float v[LLM__Q8_BLOCK];
    size_t b, j;
    for (b = 0; b < rows * nb; b++) {
        const uint32_t kind = rnd() % 10;
        for (j = 0; j < LLM__Q8_BLOCK; j++)
            v[j] = kind == 0 ? 0.0f : frand() * (kind == 1 ? 1000.0f : 3.0f);
        llm__q8_quantize_ref(xq + b, v, LLM__Q8_BLOCK);
    }
}

/* Σ_b dw·dx·Σ qw·qx in exact integers and double; *mag gets Σ |terms|. */
static double q8_exact(const llm__q8_block *w, const llm__q8_block *x, size_t nb, double *mag) {
    double s = 0, m = 0;
    size_t b, j;
    for (b = 0; b < nb; b++) {
        int64_t acc = 0;
        double t;
        for (j = 0; j < LLM__Q8_BLOCK; j++)
            acc += (int64_t)w[b].q[j] * x[b].q[j];
        t = (double)acc * (double)llm__q8_fp16_to_f32(w[b].d) *
            (double)llm__q8_fp16_to_f32(x[b].d);
        s += t;
        m += fabs(t);
    }
    *mag = m;
    return s;
}

static llm__q8gemm_blk *pack_rows(const llm__q8_block *xq, size_t M, size_t nb) {
    llm__q8gemm_blk *xp = malloc(llm__q8gemm_packed_bytes(M, nb));
    size_t i;
    assert_non_null(xp);
    memset(xp, 0xa5, llm__q8gemm_packed_bytes(M, nb)); /* garbage the pad must overwrite */
    for (i = 0; i < M; i++) {
        /* in two pieces, as a caller packing a long row by segments */
        llm__q8gemm_pack(xp, nb, i, 0, xq + i * nb, nb / 2);
        llm__q8gemm_pack(xp, nb, i, nb / 2, xq + i * nb + nb / 2, nb - nb / 2);
    }
    llm__q8gemm_pad(xp, M, nb);
    return xp;
}

static void test_pack(void **state) {
    const size_t M = 21, nb = 5, N = 7, pm = 32; /* two panels, the second 5/16 full */
    llm__q8_block w[7 * 5], xq[21 * 5];
    float y1[21 * 7], y2[21 * 7];
    llm__q8gemm_blk *xp;
    size_t i, b, k;
    (void)state;
    assert_int_equal(llm__q8gemm_packed_bytes(M, nb), 2 * nb * 576);
    assert_int_equal(llm__q8gemm_packed_bytes(16, nb), nb * 576);
    fill_weights(w, N * nb);
    fill_acts(xq, M, nb);
    xp = pack_rows(xq, M, nb);
    /* layout: byte t of group k of lane i is qx[4k + t] + 128 */
    for (i = 0; i < M; i++)
        for (b = 0; b < nb; b++) {
            const llm__q8gemm_blk *p = xp + i / 16 * nb + b;
            for (k = 0; k < 32; k++)
                assert_int_equal(p->xu[k / 4][i % 16][k % 4], xq[i * nb + b].q[k] + 128);
            assert_true(p->d[i % 16] == llm__q8_fp16_to_f32(xq[i * nb + b].d));
        }
    for (i = M; i < pm; i++) /* padded lanes */
        for (b = 0; b < nb; b++) {
            const llm__q8gemm_blk *p = xp + nb + b;
            for (k = 0; k < 32; k++)
                assert_int_equal(p->xu[k / 4][i % 16][k % 4], 0);
            assert_true(p->d[i % 16] == 0.0f);
        }
    /* the reference over packed rows = the decode reference, bit for bit */
    for (i = 0; i < M * N; i++)
        y1[i] = y2[i] = frand();
    llm__q8gemm_ref(y1, N, w, nb, xp, M, nb, 0, N);
    llm__matvec_q8_ref(y2, N, w, nb, xq, M, nb, 0, N);
    assert_memory_equal(y1, y2, sizeof y1);
    free(xp);
}

static void test_kernels(void **state) {
    const int lv[3] = {LLM__CPU_SCALAR, LLM__CPU_AVX2, LLM__CPU_AVX512};
    const uint32_t ft[3] = {0, 0, LLM__CPU_VNNI};
    /* {M, nb, N, r0, r1} */
    static const size_t cases[][5] = {
        {1, 1, 3, 0, 3},     {5, 3, 29, 3, 26},   {16, 24, 16, 0, 16}, {17, 7, 40, 1, 40},
        {40, 129, 19, 2, 19}, {33, 300, 9, 0, 9}, {3, 256, 12, 4, 12}, {48, 2, 100, 0, 97}};
    const llm__q8gemm_kernel *kerns[3];
    int l, n_k = 0;
    size_t c;
    (void)state;
    for (l = 0; l < 3; l++)
        if ((kerns[n_k] = llm__q8gemm_at(lv[l], ft[l])) != NULL)
            print_message("q8gemm kernel %s\n", kerns[n_k++]->name);
    assert_true(n_k >= 1 && strcmp(kerns[0]->name, "scalar") == 0); /* runs everywhere */
    for (c = 0; c < sizeof cases / sizeof *cases; c++) {
        const size_t M = cases[c][0], nb = cases[c][1], N = cases[c][2];
        const size_t r0 = cases[c][3], r1 = cases[c][4], ldw = nb + 2, ldy = N + 3;
        llm__q8_block *w = malloc(N * ldw * sizeof *w), *xq = malloc(M * nb * sizeof *xq);
        float *y0 = malloc(M * ldy * sizeof *y0), *y[3];
        llm__q8gemm_blk *xp;
        size_t i, r;
        assert_true(w && xq && y0);
        fill_weights(w, N * ldw);
        fill_acts(xq, M, nb);
        xp = pack_rows(xq, M, nb);
        for (i = 0; i < M * ldy; i++)
            y0[i] = frand() * 4.0f;
        for (l = 0; l < n_k; l++) {
            const char *name = kerns[l]->name;
            assert_non_null(y[l] = malloc(M * ldy * sizeof *y[l]));
            memcpy(y[l], y0, M * ldy * sizeof *y0);
            kerns[l]->fn(y[l], ldy, w, ldw, xp, M, nb, r0, r1);
            for (i = 0; i < M; i++)
                for (r = 0; r < ldy; r++) {
                    const float got = y[l][i * ldy + r];
                    double mag, want;
                    if (r < r0 || r >= r1) { /* untouched */
                        if (memcmp(&got, &y0[i * ldy + r], sizeof got) != 0)
                            fail_msg("%s: y[%zu,%zu] outside [%zu,%zu) changed", name, i, r,
                                     r0, r1);
                        continue;
                    }
                    want = y0[i * ldy + r] + q8_exact(w + r * ldw, xq + i * nb, nb, &mag);
                    /* float sums of nb + 1 terms: a few ulps of the magnitudes each */
                    if (fabs(got - want) >
                        2.0 * (double)(nb + 2) * 6e-8 * (mag + fabs(y0[i * ldy + r])) + 1e-30)
                        fail_msg("%s M %zu nb %zu (%zu,%zu): %.9g vs %.9g (mag %g)", name, M,
                                 nb, i, r, got, want, mag);
                }
            /* the vector kernels do the same operations in the same order */
            if (l > 1 && memcmp(y[l], y[1], M * ldy * sizeof *y0) != 0)
                fail_msg("%s and %s differ (M %zu nb %zu)", name, kerns[1]->name, M, nb);
        }
        for (l = 0; l < n_k; l++)
            free(y[l]);
        free(xp);
        free(w);
        free(xq);
        free(y0);
    }
}

/* The three ways of a Q8_0 product on 1, 2, 3 threads. */
static void test_qmat_ways(void **state) {
    /* {M, K, N}: small, tile-ragged, K segments (130 blocks), several
     * passes of x rows through the tile (57 panels of 130 blocks > 4 MiB) */
    static const size_t cases[][3] = {
        {5, 64, 8}, {37, 96, 45}, {16, 32 * 130, 19}, {130, 768, 61}, {900, 32 * 130, 12}};
    float *tile = malloc(LLM__QMAT_TILE_FLOATS * sizeof *tile);
    llm__mem mem;
    llm__pool *pools[3] = {NULL, NULL, NULL};
    size_t c;
    int p, way;
    (void)state;
    assert_non_null(tile);
    llm__mem_init(&mem, NULL, NULL);
    for (p = 1; p < 3; p++)
        assert_int_equal(llm__pool_create(&pools[p], p + 1, &mem), LLM_OK);
    /* unavailable ways do nothing and say so */
    assert_int_equal(llm__qmat_matmul_q8(NULL, NULL, NULL, NULL, NULL, 4, 64, 4, LLM__QMAT_GEMM),
                     -1);
    assert_int_equal(
        llm__qmat_matmul_q8(NULL, NULL, NULL, NULL, NULL, 4, 64, 4, LLM__QMAT_TILES), -1);
    assert_int_equal(llm__qmat_matmul_q8(NULL, tile, NULL, NULL, NULL, 4, 64, 4, 9), -1);
    for (c = 0; c < sizeof cases / sizeof *cases; c++) {
        const size_t M = cases[c][0], K = cases[c][1], N = cases[c][2], nb = K / 32;
        float *x = malloc(M * K * sizeof *x), *wf = malloc(N * K * sizeof *wf);
        float *y[3], *bias = malloc(N * sizeof *bias);
        double *exact = malloc(M * N * sizeof *exact), *mag = malloc(M * N * sizeof *mag);
        llm__q8_block *w = malloc(N * nb * sizeof *w), *xq = malloc(M * nb * sizeof *xq);
        size_t i, r;
        assert_true(x && wf && bias && exact && mag && w && xq);
        for (p = 0; p < 3; p++)
            assert_non_null(y[p] = malloc(M * N * sizeof *y[p]));
        for (i = 0; i < M * K; i++)
            x[i] = frand() * (i % 97 == 0 ? 30.0f : 1.0f);
        for (i = 0; i < N * K; i++)
            wf[i] = frand();
        for (i = 0; i < N; i++)
            bias[i] = frand();
        for (r = 0; r < N; r++)
            llm__q8_quantize_ref(w + r * nb, wf + r * K, K);
        for (i = 0; i < 32; i++) /* a -128 weight: w comes from any GGUF */
            w[(i * 7) % (N * nb)].q[i] = -128;
        for (i = 0; i < M; i++) /* every kernel quantizer is bit-exact to the reference */
            llm__q8_quantize_ref(xq + i * nb, x + i * K, K);
        for (i = 0; i < M; i++)
            for (r = 0; r < N; r++)
                exact[i * N + r] = q8_exact(w + r * nb, xq + i * nb, nb, &mag[i * N + r]);
        for (way = LLM__QMAT_INT8; way <= LLM__QMAT_GEMM; way++) {
            for (p = 0; p < 3; p++) {
                int got;
                for (i = 0; i < M * N; i++)
                    y[p][i] = 0.25f;
                got = llm__qmat_matmul_q8(pools[p], tile, y[p], x, w, M, K, N, way);
                if (got == -1) {
                    /* only the int8 matrix kernel may be missing (CPU) */
                    assert_int_equal(way, LLM__QMAT_GEMM);
                    assert_null(llm__q8gemm_get());
                    break;
                }
                assert_int_equal(got, way);
                if (p > 0 && memcmp(y[0], y[p], M * N * sizeof *y[0]) != 0)
                    fail_msg("way %d M %zu K %zu N %zu: %d threads differ from 1", way, M, K, N,
                             p + 1);
            }
            if (p < 3)
                continue;
            for (i = 0; i < M; i++)
                for (r = 0; r < N; r++) {
                    const double want = 0.25 + exact[i * N + r];
                    if (fabs(y[0][i * N + r] - want) > 1e-6 * (mag[i * N + r] + 0.25))
                        fail_msg("way %d M %zu K %zu N %zu (%zu,%zu): %.9g vs %.9g", way, M, K,
                                 N, i, r, y[0][i * N + r], want);
                }
        }
        /* llm__qmat_matmul: the int8 matrix kernel from its min_rows rows
         * when the CPU has one, with the bias under the product */
        if (llm__q8gemm_get() && M >= llm__q8gemm_get()->min_rows) {
            assert_int_equal(llm__qmat_matmul_q8(NULL, tile, NULL, NULL, NULL, M, K, 0,
                                                 LLM__QMAT_AUTO),
                             LLM__QMAT_GEMM);
            for (p = 0; p < 3; p++)
                llm__qmat_matmul(pools[p], tile, y[p], x, w, LLM__GGML_Q8_0, bias, M, K, N, 0);
            for (p = 1; p < 3; p++)
                assert_memory_equal(y[0], y[p], M * N * sizeof *y[0]);
            for (i = 0; i < M; i++)
                for (r = 0; r < N; r++) {
                    const double want = bias[r] + exact[i * N + r];
                    if (fabs(y[0][i * N + r] - want) > 1e-6 * (mag[i * N + r] + fabs(bias[r])))
                        fail_msg("auto M %zu K %zu N %zu (%zu,%zu): %.9g vs %.9g", M, K, N, i,
                                 r, y[0][i * N + r], want);
                }
        }
        for (p = 0; p < 3; p++)
            free(y[p]);
        free(x);
        free(wf);
        free(bias);
        free(exact);
        free(mag);
        free(w);
        free(xq);
    }
    {   /* K = 0 adds nothing, whatever the way */
        float y0[4] = {1, 2, 3, 4};
        for (way = LLM__QMAT_INT8; way <= LLM__QMAT_GEMM; way++) {
            const int got = llm__qmat_matmul_q8(pools[1], tile, y0, NULL, NULL, 2, 0, 2, way);
            assert_true(got == way || (got == -1 && way == LLM__QMAT_GEMM));
            assert_true(y0[0] == 1 && y0[1] == 2 && y0[2] == 3 && y0[3] == 4);
        }
    }
    /* without a tile, llm__qmat_matmul stays on the decode kernels */
    assert_int_equal(llm__qmat_matmul_q8(NULL, NULL, NULL, NULL, NULL, 64, 64, 0, LLM__QMAT_AUTO),
                     LLM__QMAT_INT8);
    for (p = 1; p < 3; p++)
        llm__pool_free(pools[p]);
    free(tile);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pack),
        cmocka_unit_test(test_kernels),
        cmocka_unit_test(test_qmat_ways),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
