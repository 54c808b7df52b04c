/*
 * matvec_avx2.c - AVX2/FMA/F16C variants of the decode kernels
 * (llm_matvec.h). This file alone is compiled with -mavx2 -mfma -mf16c
 * (lib/core/sources.cmake) and is only entered when cpu.c found those
 * instructions, so the rest of the library stays baseline x86-64.
 *
 * F32: one weight row at a time, four accumulators to hide the FMA
 * latency. The rows stream from memory, which is the bound, and a single
 * sequential stream is what the hardware prefetchers follow best: taking
 * four rows per pass (sharing each load of x, which sits in L1 anyway)
 * made four short interleaved streams and read at 60-65% of the speed
 * (12-15 against 19-26 GB/s on one core of the EPYC here).
 * Q8_0: llama.cpp's int8 trick. maddubs multiplies unsigned by signed
 * bytes, so the weight's sign is moved onto the activation: |w| (as
 * unsigned, which is right even for -128) times sign(w) * x, then pairs
 * of int16 are summed to int32 by madd with ones; no overflow since
 * |x| <= 127 (2 * 128 * 127 < 32767). The 8 int32 lanes of a block are
 * converted to float and accumulated with the block's scale dw * dx.
 * Each weight block is loaded once for up to four activation rows.
 * Quantization is the reference's arithmetic in vectors: roundf (half
 * away from zero) is trunc(v) plus sign(v) where |v - trunc(v)| >= 0.5,
 * exact in float; so the blocks are bit-identical to the reference.
 */
#include <immintrin.h>

#include "llm_matvec.h"

static inline float hsum8(__m256 v) {
    __m128 lo = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
    return _mm_cvtss_f32(lo);
}

void llm__matvec_avx2_f32(float *y, const float *w, const float *x, size_t K, size_t r0,
                          size_t r1) {
    const size_t k32 = K & ~(size_t)31, k8 = K & ~(size_t)7;
    size_t r, k;
    for (r = r0; r < r1; r++) {
        const float *wr = w + r * K; /* (K) */
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        float t;
        for (k = 0; k < k32; k += 32) {
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(wr + k), _mm256_loadu_ps(x + k), a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(wr + k + 8), _mm256_loadu_ps(x + k + 8), a1);
            a2 = _mm256_fmadd_ps(_mm256_loadu_ps(wr + k + 16), _mm256_loadu_ps(x + k + 16), a2);
            a3 = _mm256_fmadd_ps(_mm256_loadu_ps(wr + k + 24), _mm256_loadu_ps(x + k + 24), a3);
        }
        for (; k < k8; k += 8)
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(wr + k), _mm256_loadu_ps(x + k), a0);
        t = hsum8(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
        for (; k < K; k++)
            t += wr[k] * x[k];
        y[r] += t;
    }
}

/* Σ_j |w_j| * (sign(w_j) x_j) of one block, as 8 float partial sums. */
static inline __m256 block_dot(__m256i aw, __m256i w, const int8_t *xq) {
    const __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)xq);
    const __m256i p16 = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(x, w));
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
}

void llm__matvec_avx2_q8(float *y, size_t ldy, const llm__q8_block *w, size_t ldw,
                         const llm__q8_block *xq, size_t M, size_t nb, size_t r0, size_t r1) {
    size_t r, i0, b;
    /* Weight row outermost: its blocks stay in L1 while every activation
     * row (the caller keeps them to a few KiB) passes over them. */
    for (r = r0; r < r1; r++) {
        const llm__q8_block *wr = w + r * ldw; /* (nb) */
        for (i0 = 0; i0 < M; i0 += 4) {
            const size_t m = M - i0 < 4 ? M - i0 : 4;
            const llm__q8_block *x0 = xq + i0 * nb;                    /* (nb) */
            const llm__q8_block *x1 = m > 1 ? x0 + nb : x0, *x2 = m > 2 ? x0 + 2 * nb : x0;
            const llm__q8_block *x3 = m > 3 ? x0 + 3 * nb : x0;
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            float *yr = y + i0 * ldy + r;
            if (m == 1) {
                /* Decode: two chains (even and odd blocks) hide the FMA
                 * latency, which would otherwise bound one row. */
                for (b = 0; b + 2 <= nb; b += 2) {
                    const __m256i w0 = _mm256_loadu_si256((const __m256i *)(const void *)wr[b].q);
                    const __m256i w1 =
                        _mm256_loadu_si256((const __m256i *)(const void *)wr[b + 1].q);
                    a0 = _mm256_fmadd_ps(block_dot(_mm256_sign_epi8(w0, w0), w0, x0[b].q),
                                         _mm256_set1_ps(_cvtsh_ss(wr[b].d) * _cvtsh_ss(x0[b].d)),
                                         a0);
                    a1 = _mm256_fmadd_ps(
                        block_dot(_mm256_sign_epi8(w1, w1), w1, x0[b + 1].q),
                        _mm256_set1_ps(_cvtsh_ss(wr[b + 1].d) * _cvtsh_ss(x0[b + 1].d)), a1);
                }
                if (b < nb) {
                    const __m256i w0 = _mm256_loadu_si256((const __m256i *)(const void *)wr[b].q);
                    a0 = _mm256_fmadd_ps(block_dot(_mm256_sign_epi8(w0, w0), w0, x0[b].q),
                                         _mm256_set1_ps(_cvtsh_ss(wr[b].d) * _cvtsh_ss(x0[b].d)),
                                         a0);
                }
                yr[0] += hsum8(_mm256_add_ps(a0, a1));
                continue;
            }
            for (b = 0; b < nb; b++) {
                const __m256i wv = _mm256_loadu_si256((const __m256i *)(const void *)wr[b].q);
                const __m256i aw = _mm256_sign_epi8(wv, wv);
                const float dw = _cvtsh_ss(wr[b].d);
                a0 = _mm256_fmadd_ps(block_dot(aw, wv, x0[b].q),
                                     _mm256_set1_ps(dw * _cvtsh_ss(x0[b].d)), a0);
                a1 = _mm256_fmadd_ps(block_dot(aw, wv, x1[b].q),
                                     _mm256_set1_ps(dw * _cvtsh_ss(x1[b].d)), a1);
                if (m > 2) {
                    a2 = _mm256_fmadd_ps(block_dot(aw, wv, x2[b].q),
                                         _mm256_set1_ps(dw * _cvtsh_ss(x2[b].d)), a2);
                    a3 = _mm256_fmadd_ps(block_dot(aw, wv, x3[b].q),
                                         _mm256_set1_ps(dw * _cvtsh_ss(x3[b].d)), a3);
                }
            }
            yr[0] += hsum8(a0);
            yr[ldy] += hsum8(a1);
            if (m > 2)
                yr[2 * ldy] += hsum8(a2);
            if (m > 3)
                yr[3 * ldy] += hsum8(a3);
        }
    }
}

/* roundf(v) for |v| < 2^23: trunc, then one step away from zero when the
 * dropped fraction is at least one half. */
static inline __m256 round_away(__m256 v) {
    const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256 frac = _mm256_and_ps(_mm256_sub_ps(v, t), absmask);
    const __m256 step = _mm256_or_ps(_mm256_andnot_ps(absmask, v), _mm256_set1_ps(1.0f));
    const __m256 ge = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    const __m256 r = _mm256_add_ps(t, _mm256_and_ps(ge, step));
    /* NaN -> 0, then clamp to [-127, 127], as the reference (only NaN
     * input can reach either) */
    const __m256 n = _mm256_and_ps(r, _mm256_cmp_ps(r, r, _CMP_ORD_Q));
    return _mm256_max_ps(_mm256_min_ps(n, _mm256_set1_ps(127.0f)), _mm256_set1_ps(-127.0f));
}

void llm__matvec_avx2_quant(llm__q8_block *dst, const float *x, size_t k) {
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    size_t b, nb = k / LLM__Q8_BLOCK;
    for (b = 0; b < nb; b++) {
        const float *xb = x + b * LLM__Q8_BLOCK; /* (32) */
        __m256 v0 = _mm256_loadu_ps(xb), v1 = _mm256_loadu_ps(xb + 8);
        __m256 v2 = _mm256_loadu_ps(xb + 16), v3 = _mm256_loadu_ps(xb + 24);
        __m256 mx = _mm256_max_ps(
            _mm256_max_ps(_mm256_and_ps(v0, absmask), _mm256_and_ps(v1, absmask)),
            _mm256_max_ps(_mm256_and_ps(v2, absmask), _mm256_and_ps(v3, absmask)));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
        __m256i i0, i1, i2, i3, p;
        float amax, d, id;
        __m256 vid;
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        amax = _mm_cvtss_f32(m4);
        d = amax / 127.0f;
        id = d != 0.0f ? 1.0f / d : 0.0f;
        dst[b].d = llm__q8_fp16_from_f32(d);
        vid = _mm256_set1_ps(id);
        i0 = _mm256_cvtps_epi32(round_away(_mm256_mul_ps(v0, vid)));
        i1 = _mm256_cvtps_epi32(round_away(_mm256_mul_ps(v1, vid)));
        i2 = _mm256_cvtps_epi32(round_away(_mm256_mul_ps(v2, vid)));
        i3 = _mm256_cvtps_epi32(round_away(_mm256_mul_ps(v3, vid)));
        /* int32 -> int8 packs work within 128-bit lanes; the permute puts
         * the eight 4-byte groups back in order. */
        p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
        p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)(void *)dst[b].q, p);
    }
}

void llm__matvec_avx2_dequant(float *dst, const llm__q8_block *src, size_t k) {
    size_t b, h, nb = k / LLM__Q8_BLOCK;
    for (b = 0; b < nb; b++) {
        const __m256 d = _mm256_set1_ps(_cvtsh_ss(src[b].d));
        for (h = 0; h < 4; h++) {
            const __m128i q8 = _mm_loadl_epi64((const __m128i *)(const void *)(src[b].q + 8 * h));
            _mm256_storeu_ps(dst + b * LLM__Q8_BLOCK + 8 * h,
                             _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q8))));
        }
    }
}
