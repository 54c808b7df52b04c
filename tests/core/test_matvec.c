/*
 * test_matvec.c - the decode kernels of every instruction-set level this
 * CPU has (llm__matvec_at: scalar, avx2, avx512, avx512vnni) against
 * independent oracles, over odd sizes:
 *   - F32 matrix-vector: a double-precision dot product, error bounded by
 *     a multiple of float epsilon times Σ|w·x|;
 *   - Q8_0 products: the exact integer sums Σ qw·qx times dw·dx in double
 *     (weights include -128), with M activation rows, a sub-range of
 *     weight rows, row strides ldw > nb and ldy > N, accumulating into y;
 *   - dequantizers: bit for bit the reference (d * q);
 *   - activation quantizers: bit for bit the reference quantizer, itself
 *     checked against hand-computed blocks (ties round away from zero,
 *     all-zero blocks);
 *   - fp16 conversion: exhaustive over all 65536 half values (round trip,
 *     and the midpoint between neighbours rounds to the even one);
 *   - llm__qmat_matmul on 1 and 2 threads: identical bits, and equal to
 *     the exact product of the quantized operands; rows longer than the
 *     activation buffer (segments of K) included; the dequantized-tile
 *     sgemm path (many rows, several tiles) against the double product.
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
#include "model/qmat.h"

static uint64_t g_rng = 0x1234567887654321ull;
static uint32_t rnd(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 16);
}
static float frand(void) { return (float)((int)(rnd() % 20001) - 10000) / 10000.0f; }

/* The kernel sets this CPU can run, with their names. */
static const llm__matvec_kernels *g_sets[4];
static int g_n_sets;

static int setup(void **state) {
    const int lv[4] = {LLM__CPU_SCALAR, LLM__CPU_AVX2, LLM__CPU_AVX512, LLM__CPU_AVX512};
    const uint32_t ft[4] = {0, 0, 0, LLM__CPU_VNNI};
    int i;
    (void)state;
    g_n_sets = 0;
    for (i = 0; i < 4; i++) {
        const llm__matvec_kernels *k = llm__matvec_at(lv[i], ft[i]);
        if (k)
            g_sets[g_n_sets++] = k;
    }
    print_message("kernel sets on this CPU:");
    for (i = 0; i < g_n_sets; i++)
        print_message(" %s", g_sets[i]->name);
    print_message("\n");
    return 0;
}

static void test_fp16_exhaustive(void **state) {
    uint32_t h;
    (void)state;
    for (h = 0; h < 0x10000; h++) {
        const uint16_t hh = (uint16_t)h;
        const float f = llm__q8_fp16_to_f32(hh);
        if ((hh & 0x7c00) == 0x7c00 && (hh & 0x3ff)) { /* NaN stays NaN */
            assert_true(isnan(f));
            assert_true((llm__q8_fp16_from_f32(f) & 0x7c00) == 0x7c00 &&
                        (llm__q8_fp16_from_f32(f) & 0x3ff));
            continue;
        }
        assert_int_equal(llm__q8_fp16_from_f32(f), hh);
        /* Midpoint to the next half of larger magnitude (finite only). */
        if ((hh & 0x7fff) < 0x7bff) {
            const float g = llm__q8_fp16_to_f32((uint16_t)(hh + 1));
            const float mid = (f + g) / 2; /* exact: halves have 11 bits */
            const uint16_t even = (hh & 1) ? (uint16_t)(hh + 1) : hh;
            assert_int_equal(llm__q8_fp16_from_f32(mid), even);
            assert_int_equal(llm__q8_fp16_from_f32(nextafterf(mid, 2 * g)), (uint16_t)(hh + 1));
            assert_int_equal(llm__q8_fp16_from_f32(nextafterf(mid, 0)), hh);
        }
    }
    /* Overflow: 65520 (half an ulp above 65504) and up go to infinity. */
    assert_int_equal(llm__q8_fp16_from_f32(65519.996f), 0x7bff);
    assert_int_equal(llm__q8_fp16_from_f32(65520.0f), 0x7c00);
    assert_int_equal(llm__q8_fp16_from_f32(-1e30f), 0xfc00);
    assert_int_equal(llm__q8_fp16_from_f32(1e-30f), 0);
}

static void test_quantize_reference(void **state) {
    float x[64];
    llm__q8_block b[2];
    int j;
    (void)state;
    /* Block 0: amax 127 so d = 1, id = 1: q = roundf(x), ties away from 0. */
    x[0] = 127.0f;
    for (j = 1; j < 32; j++)
        x[j] = (float)(j - 16) + 0.5f;
    /* Block 1: all zero: d = 0, q = 0. */
    for (j = 32; j < 64; j++)
        x[j] = 0.0f;
    llm__q8_quantize_ref(b, x, 64);
    assert_int_equal(b[0].d, 0x3c00); /* 1.0 */
    assert_int_equal(b[0].q[0], 127);
    for (j = 1; j < 32; j++) {
        const int want = j - 16 >= 0 ? j - 16 + 1 : j - 16; /* k + 0.5 -> k+1 or k for negatives */
        assert_int_equal(b[0].q[j], want);
    }
    assert_int_equal(b[1].d, 0);
    for (j = 0; j < 32; j++)
        assert_int_equal(b[1].q[j], 0);
    /* Dequantize: d * q. */
    {
        float y[64];
        llm__q8_dequantize(y, b, 64);
        assert_true(y[0] == 127.0f && y[1] == -15.0f && y[31] == 16.0f && y[40] == 0.0f);
    }
}

static void fill_crafted(float *x, size_t k, int kind) {
    size_t j;
    for (j = 0; j < k; j++) {
        switch (kind) {
        case 0: x[j] = frand(); break;
        case 1: x[j] = frand() * 1e-6f; break;          /* fp16-subnormal scale */
        case 2: x[j] = frand() * 3e5f; break;
        case 3: /* halves: ties of roundf when d = 1 */
            x[j] = (j % 32 == 0) ? 127.0f : (float)((int)(rnd() % 255) - 127) / 2.0f;
            break;
        case 4: x[j] = (j % 7 == 0) ? 0.0f : frand() * (float)(1 + j % 5); break;
        case 5: /* infinities: d = inf, id = 0, every q = 0 */
            x[j] = (j % 53 == 5) ? -INFINITY : frand();
            break;
        default: /* NaN: where amax lands depends on the order of max() */
            x[j] = (j % 37 == 3) ? NAN : frand();
            break;
        }
    }
}

static void test_quant_kernels_bitexact(void **state) {
    static float x[32 * 40];
    static llm__q8_block want[40], got[40];
    int s, kind, rep;
    (void)state;
    for (s = 0; s < g_n_sets; s++)
        for (kind = 0; kind < 6; kind++)
            for (rep = 0; rep < 20; rep++) {
                const size_t k = 32 * (1 + rnd() % 40);
                fill_crafted(x, k, kind);
                llm__q8_quantize_ref(want, x, k);
                memset(got, 0x55, sizeof got);
                g_sets[s]->quant(got, x, k);
                if (memcmp(want, got, k / 32 * sizeof *got) != 0)
                    fail_msg("%s quantizer differs from the reference (kind %d, k %zu)",
                             g_sets[s]->name, kind, k);
            }
    /* Dequantization kernels: bit for bit the reference (one product). */
    for (s = 0; s < g_n_sets; s++)
        for (rep = 0; rep < 20; rep++) {
            static float a[32 * 40], b2[32 * 40];
            const size_t k = 32 * (1 + rnd() % 40);
            size_t i;
            for (i = 0; i < k / 32; i++) {
                size_t j;
                want[i].d = (uint16_t)(rnd() & 0x7bff); /* any finite half, both signs */
                want[i].d |= (uint16_t)((rnd() & 1) << 15);
                for (j = 0; j < 32; j++)
                    want[i].q[j] = (int8_t)(rnd() & 0xff);
            }
            llm__q8_dequantize(a, want, k);
            g_sets[s]->dequant(b2, want, k);
            if (memcmp(a, b2, k * sizeof *a) != 0)
                fail_msg("%s dequantizer differs from the reference (k %zu)", g_sets[s]->name, k);
        }
    /* NaN in a block: no bit-exactness promised (max() and NaN), but every
     * kernel gives int8 values in [-127, 127] (the products rely on it). */
    for (s = 0; s < g_n_sets; s++)
        for (rep = 0; rep < 20; rep++) {
            const size_t k = 32 * (1 + rnd() % 40);
            size_t b, j;
            fill_crafted(x, k, 6);
            g_sets[s]->quant(got, x, k);
            for (b = 0; b < k / 32; b++)
                for (j = 0; j < 32; j++)
                    if (got[b].q[j] < -127)
                        fail_msg("%s: NaN block gave %d", g_sets[s]->name, got[b].q[j]);
        }
}

static void test_f32_kernels(void **state) {
    static const size_t Ks[] = {1, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 773};
    static const size_t Ns[] = {1, 2, 3, 4, 5, 7, 9, 13};
    int s;
    size_t a, c, i, r;
    (void)state;
    for (s = 0; s < g_n_sets; s++)
        for (a = 0; a < sizeof Ks / sizeof *Ks; a++)
            for (c = 0; c < sizeof Ns / sizeof *Ns; c++) {
                const size_t K = Ks[a], N = Ns[c], r0 = N > 2 ? 1 : 0, r1 = N;
                float *w = malloc(N * K * sizeof *w), *x = malloc(K * sizeof *x);
                float y[16], y0[16];
                assert_non_null(w);
                assert_non_null(x);
                for (i = 0; i < N * K; i++)
                    w[i] = frand();
                for (i = 0; i < K; i++)
                    x[i] = frand();
                for (r = 0; r < N; r++)
                    y[r] = y0[r] = frand();
                g_sets[s]->f32(y, w, x, K, r0, r1);
                for (r = 0; r < N; r++) {
                    double exact = y0[r], mag = fabs(y0[r]);
                    if (r >= r0 && r < r1)
                        for (i = 0; i < K; i++) {
                            exact += (double)w[r * K + i] * x[i];
                            mag += fabs((double)w[r * K + i] * x[i]);
                        }
                    if (fabs(y[r] - exact) > 4e-7 * mag * (1 + log2((double)K + 1)) + 1e-30)
                        fail_msg("%s f32: K %zu N %zu row %zu: %.9g vs %.9g", g_sets[s]->name,
                                 K, N, r, y[r], exact);
                }
                free(w);
                free(x);
            }
}

/* Exact value of Σ_b dw·dx·Σ qw·qx for weight row wr and activation row xr. */
static double q8_exact(const llm__q8_block *wr, const llm__q8_block *xr, size_t nb, double *mag) {
    double s = 0;
    size_t b, j;
    *mag = 0;
    for (b = 0; b < nb; b++) {
        long acc = 0;
        const double sc = (double)llm__q8_fp16_to_f32(wr[b].d) * llm__q8_fp16_to_f32(xr[b].d);
        for (j = 0; j < 32; j++)
            acc += (long)wr[b].q[j] * xr[b].q[j];
        s += sc * (double)acc;
        *mag += fabs(sc) * 32 * 128 * 127;
    }
    return s;
}

static void test_q8_kernels(void **state) {
    static const size_t NBs[] = {1, 2, 3, 5, 8, 24, 25};
    int s;
    size_t a, M, N, i, r, b, j;
    (void)state;
    for (s = 0; s < g_n_sets; s++)
        for (a = 0; a < sizeof NBs / sizeof *NBs; a++)
            for (M = 1; M <= 6; M++)
                for (N = 1; N <= 9; N += 2) {
                    const size_t nb = NBs[a], ldw = nb + 2, ldy = N + 3, r0 = N > 3 ? 2 : 0;
                    llm__q8_block *w = malloc(N * ldw * sizeof *w);
                    llm__q8_block *xq = malloc(M * nb * sizeof *xq);
                    float *x = malloc(M * nb * 32 * sizeof *x);
                    float *y = malloc(M * ldy * sizeof *y), *y0 = malloc(M * ldy * sizeof *y0);
                    assert_true(w && xq && x && y && y0);
                    for (i = 0; i < N * ldw; i++) {
                        w[i].d = llm__q8_fp16_from_f32(frand() * 0.01f);
                        for (j = 0; j < 32; j++)
                            w[i].q[j] = (int8_t)(rnd() & 0xff); /* -128 .. 127 */
                    }
                    fill_crafted(x, M * nb * 32, (int)(a % 5));
                    for (i = 0; i < M; i++)
                        g_sets[s]->quant(xq + i * nb, x + i * nb * 32, nb * 32);
                    for (i = 0; i < M * ldy; i++)
                        y[i] = y0[i] = frand();
                    g_sets[s]->q8(y, ldy, w, ldw, xq, M, nb, r0, N);
                    for (i = 0; i < M; i++)
                        for (r = 0; r < ldy; r++) {
                            double mag = 0, exact = y0[i * ldy + r];
                            if (r >= r0 && r < N)
                                exact += q8_exact(w + r * ldw, xq + i * nb, nb, &mag);
                            mag += fabs(y0[i * ldy + r]);
                            if (fabs(y[i * ldy + r] - exact) > 1e-6 * mag + 1e-30)
                                fail_msg("%s q8: nb %zu M %zu N %zu (%zu,%zu): %.9g vs %.9g",
                                         g_sets[s]->name, nb, M, N, i, r, y[i * ldy + r], exact);
                        }
                    (void)b;
                    free(w);
                    free(xq);
                    free(x);
                    free(y);
                    free(y0);
                }
}

/* llm__qmat_matmul: bias, threads, K longer than the activation buffer. */
static void test_qmat_matmul(void **state) {
    /* {M, K, N}: decode, small M, K beyond the 480-block activation
     * buffer, and (M >= 16) tiles: one, and several of x rows and w rows. */
    static const size_t cases[][3] = {{1, 64, 37},        {3, 96, 20},         {7, 768, 50},
                                      {2, 32 * 500, 9},   {33, 64, 11},        {20, 32 * 320, 70},
                                      {130, 32 * 64, 300}, {40, 32 * 1000, 40}};
    llm__mem mem;
    llm__pool *pool = NULL;
    size_t c, i, r;
    (void)state;
    llm__mem_init(&mem, NULL, NULL);
    assert_int_equal(llm__pool_create(&pool, 2, &mem), LLM_OK);
    for (c = 0; c < sizeof cases / sizeof *cases; c++) {
        const size_t M = cases[c][0], K = cases[c][1], N = cases[c][2], nb = K / 32;
        float *wf = malloc(N * K * sizeof *wf), *x = malloc(M * K * sizeof *x);
        float *bias = malloc(N * sizeof *bias), *y1 = malloc(M * N * sizeof *y1);
        float *y2 = malloc(M * N * sizeof *y2);
        llm__q8_block *w = malloc(N * nb * sizeof *w), *xq = malloc(M * nb * sizeof *xq);
        assert_true(wf && x && bias && y1 && y2 && w && xq);
        for (i = 0; i < N * K; i++)
            wf[i] = frand();
        for (i = 0; i < M * K; i++)
            x[i] = frand();
        for (i = 0; i < N; i++)
            bias[i] = frand();
        for (r = 0; r < N; r++)
            llm__q8_quantize_ref(w + r * nb, wf + r * K, K);
        for (i = 0; i < M; i++)
            llm__q8_quantize_ref(xq + i * nb, x + i * K, K);
        llm__qmat_matmul(NULL, NULL, y1, x, w, LLM__GGML_Q8_0, bias, M, K, N, 0);
        llm__qmat_matmul(pool, NULL, y2, x, w, LLM__GGML_Q8_0, bias, M, K, N, 0);
        assert_memory_equal(y1, y2, M * N * sizeof *y1);
        for (i = 0; i < M; i++)
            for (r = 0; r < N; r++) {
                double mag, exact = bias[r] + q8_exact(w + r * nb, xq + i * nb, nb, &mag);
                if (fabs(y1[i * N + r] - exact) > 1e-6 * (mag + fabs(bias[r])))
                    fail_msg("qmat M %zu K %zu N %zu (%zu,%zu): %.9g vs %.9g", M, K, N, i, r,
                             y1[i * N + r], exact);
            }
        /* With a scratch tile and M >= LLM__QMAT_SGEMM_ROWS: the same
         * quantized operands multiplied as floats (x rounded through Q8_0,
         * w dequantized, sgemm): equal to the exact product within float
         * rounding. Several tiles of x rows and of w rows when K is long. */
        if (M >= LLM__QMAT_SGEMM_ROWS) {
            float *tile = malloc(LLM__QMAT_TILE_FLOATS * sizeof *tile);
            assert_non_null(tile);
            llm__qmat_matmul(pool, tile, y2, x, w, LLM__GGML_Q8_0, bias, M, K, N, 0);
            for (i = 0; i < M; i++)
                for (r = 0; r < N; r++) {
                    double mag, exact = bias[r] + q8_exact(w + r * nb, xq + i * nb, nb, &mag);
                    if (fabs(y2[i * N + r] - exact) > 1e-6 * (mag + fabs(bias[r])))
                        fail_msg("qmat tiles M %zu K %zu N %zu (%zu,%zu): %.9g vs %.9g", M, K,
                                 N, i, r, y2[i * N + r], exact);
                }
            free(tile);
        }
        /* accumulate = 1 adds on top */
        memcpy(y2, y1, M * N * sizeof *y1);
        llm__qmat_matmul(pool, NULL, y2, x, w, LLM__GGML_Q8_0, NULL, M, K, N, 1);
        for (i = 0; i < M * N; i++)
            assert_true(fabs(y2[i] - (2 * y1[i] - bias[i % N])) <= 1e-4 * (fabs(y1[i]) + 1));
        free(wf);
        free(x);
        free(bias);
        free(y1);
        free(y2);
        free(w);
        free(xq);
    }
    llm__pool_free(pool);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fp16_exhaustive),
        cmocka_unit_test(test_quantize_reference),
        cmocka_unit_test(test_quant_kernels_bitexact),
        cmocka_unit_test(test_f32_kernels),
        cmocka_unit_test(test_q8_kernels),
        cmocka_unit_test(test_qmat_matmul),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
