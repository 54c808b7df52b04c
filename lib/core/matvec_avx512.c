/*
 * matvec_avx512.c - AVX-512 variants of the decode kernels
 * (llm_matvec.h). Only this file is compiled with -mavx512f -mavx512bw
 * -mavx512vl -mavx512dq -mavx512vnni -mf16c (lib/core/sources.cmake);
 * cpu.c decides at run time whether it may be entered (the VNNI kernel
 * only when the VNNI bit is set).
 *
 * F32: as the AVX2 kernel with 16-wide vectors, and a masked load for the
 * last K % 16 values instead of a scalar tail.
 * Q8_0 with VNNI: two blocks per 512-bit vector. vpdpbusd multiplies
 * unsigned by signed bytes and sums groups of four into int32, so as in
 * the AVX2 kernel the weight's sign moves onto the activation (|w| as
 * unsigned is right even for -128; |x| <= 127 so -x never overflows).
 * Lanes 0-7 hold block b's sums and lanes 8-15 block b+1's; a vector of
 * their two scales dw * dx multiplies them into the float accumulator.
 * Decoding (one activation row) stores the row once as unsigned x + 128
 * instead and subtracts 128·Σw with a second vpdpbusd (dot2u).
 * Quantization: the reference's arithmetic (llm_matvec.h), 16 lanes at a
 * time, rounding as in matvec_avx2.c, narrowed with vpmovsdb.
 */
#include <immintrin.h>

#include "llm_matvec.h"

void llm__matvec_avx512_f32(float *y, const float *w, const float *x, size_t K, size_t r0,
                            size_t r1) {
    const size_t k64 = K & ~(size_t)63, k16 = K & ~(size_t)15;
    const __mmask16 tail = (__mmask16)((1u << (K & 15)) - 1);
    size_t r, k;
    for (r = r0; r < r1; r++) {
        const float *wr = w + r * K; /* (K) */
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (k = 0; k < k64; k += 64) {
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(wr + k), _mm512_loadu_ps(x + k), a0);
            a1 = _mm512_fmadd_ps(_mm512_loadu_ps(wr + k + 16), _mm512_loadu_ps(x + k + 16), a1);
            a2 = _mm512_fmadd_ps(_mm512_loadu_ps(wr + k + 32), _mm512_loadu_ps(x + k + 32), a2);
            a3 = _mm512_fmadd_ps(_mm512_loadu_ps(wr + k + 48), _mm512_loadu_ps(x + k + 48), a3);
        }
        for (; k < k16; k += 16)
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(wr + k), _mm512_loadu_ps(x + k), a0);
        if (tail)
            a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, wr + k),
                                 _mm512_maskz_loadu_ps(tail, x + k), a1);
        y[r] += _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
    }
}

/* The 32 quants of blocks b and b+1 in one vector. */
static inline __m512i load2(const llm__q8_block *blk) {
    const __m256i lo = _mm256_loadu_si256((const __m256i *)(const void *)blk[0].q);
    const __m256i hi = _mm256_loadu_si256((const __m256i *)(const void *)blk[1].q);
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* dw0*dx0 in lanes 0-7, dw1*dx1 in lanes 8-15. */
static inline __m512 scale2(float s0, float s1) {
    return _mm512_mask_blend_ps((__mmask16)0xff00, _mm512_set1_ps(s0), _mm512_set1_ps(s1));
}

/* Σ w*x per 4-byte group of two blocks: |w| (unsigned) · (x negated where w < 0). */
static inline __m512 dot2(__m512i aw, __mmask64 neg, __m512i x) {
    const __m512i sx = _mm512_mask_sub_epi8(x, neg, _mm512_setzero_si512(), x);
    return _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(_mm512_setzero_si512(), aw, sx));
}

/* Decode (one activation row): Σ w*x per 4-byte group of two blocks, the
 * activation stored once as xu = x + 128 (unsigned, 0..255): vpdpbusd
 * gives Σ xu*w = Σ x*w + 128 Σ w, and a second one with 128 in every byte
 * the correction; both exact in int32, so the sums equal dot2's. Two
 * multiply-adds replace abs, sign mask and negation per pair: 1.55x the
 * blocks per second from L2 (tests/bench/bench_quant.c, matvec_q8). */
static inline __m512 dot2u(__m512i w, const uint8_t *xu) {
    const __m512i x = _mm512_loadu_si512((const void *)xu);
    const __m512i z = _mm512_setzero_si512();
    return _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_dpbusd_epi32(z, x, w),
                                               _mm512_dpbusd_epi32(z, _mm512_set1_epi8((char)0x80), w)));
}

/* Longest activation row the decode loop offsets on the stack (blocks):
 * 480 is what lib/model/qmat.c and qmv.c pass at most. */
#define DECODE_MAX_NB 480

/* One block (an odd last one) with 256-bit VNNI. */
static inline __m256 dot1(__m256i aw, __m256i w, const int8_t *xq) {
    const __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)xq);
    return _mm256_cvtepi32_ps(
        _mm256_dpbusd_epi32(_mm256_setzero_si256(), aw, _mm256_sign_epi8(x, w)));
}

/* The decode case (one activation row of nb <= DECODE_MAX_NB blocks):
 * the row offset to unsigned once, then per weight row four blocks per
 * step on two chains; the last nb % 4 blocks as the general kernel does
 * them, so every row's sum is in the same order as there. */
static void q8_decode(float *y, const llm__q8_block *w, size_t ldw, const llm__q8_block *xq,
                      size_t nb, size_t r0, size_t r1) {
    uint8_t xu[DECODE_MAX_NB * LLM__Q8_BLOCK]; /* (nb*32) the activation row + 128 */
    float dx[DECODE_MAX_NB];                   /* (nb) its scales */
    size_t r, b;
    for (b = 0; b < nb; b++) {
        const __m256i q = _mm256_loadu_si256((const __m256i *)(const void *)xq[b].q);
        _mm256_storeu_si256((__m256i *)(void *)(xu + b * LLM__Q8_BLOCK),
                            _mm256_xor_si256(q, _mm256_set1_epi8((char)0x80)));
        dx[b] = _cvtsh_ss(xq[b].d);
    }
    for (r = r0; r < r1; r++) {
        const llm__q8_block *wr = w + r * ldw; /* (nb) */
        __m512 a0 = _mm512_setzero_ps(), a1 = a0;
        float tail = 0.0f;
        for (b = 0; b + 4 <= nb; b += 4) {
            const __m512i w0 = load2(wr + b), w1 = load2(wr + b + 2);
            a0 = _mm512_fmadd_ps(dot2u(w0, xu + b * LLM__Q8_BLOCK),
                                 scale2(_cvtsh_ss(wr[b].d) * dx[b], _cvtsh_ss(wr[b + 1].d) * dx[b + 1]),
                                 a0);
            a1 = _mm512_fmadd_ps(dot2u(w1, xu + (b + 2) * LLM__Q8_BLOCK),
                                 scale2(_cvtsh_ss(wr[b + 2].d) * dx[b + 2],
                                        _cvtsh_ss(wr[b + 3].d) * dx[b + 3]),
                                 a1);
        }
        a0 = _mm512_add_ps(a0, a1);
        if (b + 2 <= nb) {
            const __m512i wv = load2(wr + b);
            a0 = _mm512_fmadd_ps(dot2(_mm512_abs_epi8(wv), _mm512_movepi8_mask(wv), load2(xq + b)),
                                 scale2(_cvtsh_ss(wr[b].d) * dx[b], _cvtsh_ss(wr[b + 1].d) * dx[b + 1]),
                                 a0);
            b += 2;
        }
        if (b < nb) {
            const __m256i wv = _mm256_loadu_si256((const __m256i *)(const void *)wr[b].q);
            __m256 p = _mm256_mul_ps(dot1(_mm256_sign_epi8(wv, wv), wv, xq[b].q),
                                     _mm256_set1_ps(_cvtsh_ss(wr[b].d) * dx[b]));
            __m128 t = _mm_add_ps(_mm256_castps256_ps128(p), _mm256_extractf128_ps(p, 1));
            t = _mm_add_ps(t, _mm_movehl_ps(t, t));
            t = _mm_add_ss(t, _mm_movehdup_ps(t));
            tail = _mm_cvtss_f32(t);
        }
        y[r] += _mm512_reduce_add_ps(a0) + tail;
    }
}

void llm__matvec_avx512_q8vnni(float *y, size_t ldy, const llm__q8_block *w,
                               size_t ldw, const llm__q8_block *xq, size_t M, size_t nb, size_t r0,
                               size_t r1) {
    size_t r, i0, b, i;
    if (M == 1 && nb <= DECODE_MAX_NB) {
        q8_decode(y, w, ldw, xq, nb, r0, r1);
        return;
    }
    /* Weight row outermost: its blocks stay in L1 while every activation
     * row (the caller keeps them to a few KiB) passes over them. */
    for (r = r0; r < r1; r++) {
        const llm__q8_block *wr = w + r * ldw; /* (nb) */
        for (i0 = 0; i0 < M; i0 += 4) {
            const size_t m = M - i0 < 4 ? M - i0 : 4;
            const llm__q8_block *xr[4]; /* activation rows i0 .. i0+m-1, (nb) blocks each */
            __m512 acc[4];
            float tail[4] = {0, 0, 0, 0};
            for (i = 0; i < 4; i++) {
                xr[i] = xq + (i0 + (i < m ? i : 0)) * nb;
                acc[i] = _mm512_setzero_ps();
            }
            b = 0;

            if (m > 1) {
                /* Four activation rows (rows past m repeat row i0 and are
                 * dropped), unrolled so the accumulators stay in registers. */
                __m512 c0 = acc[0], c1 = acc[1], c2 = acc[2], c3 = acc[3];
                for (; b + 2 <= nb; b += 2) {
                    const __m512i wv = load2(wr + b);
                    const __m512i aw = _mm512_abs_epi8(wv);
                    const __mmask64 neg = _mm512_movepi8_mask(wv);
                    const __m512 dw = scale2(_cvtsh_ss(wr[b].d), _cvtsh_ss(wr[b + 1].d));
#define ROW(c, x)                                                                      \
    c = _mm512_fmadd_ps(dot2(aw, neg, load2((x) + b)),                                \
                        _mm512_mul_ps(dw, scale2(_cvtsh_ss((x)[b].d), _cvtsh_ss((x)[b + 1].d))), \
                        c)
                    ROW(c0, xr[0]);
                    ROW(c1, xr[1]);
                    ROW(c2, xr[2]);
                    ROW(c3, xr[3]);
#undef ROW
                }
                acc[0] = c0;
                acc[1] = c1;
                acc[2] = c2;
                acc[3] = c3;
            }
            for (; b + 2 <= nb; b += 2) {
                const __m512i wv = load2(wr + b);
                const __m512i aw = _mm512_abs_epi8(wv);
                const __mmask64 neg = _mm512_movepi8_mask(wv);
                const float dw0 = _cvtsh_ss(wr[b].d), dw1 = _cvtsh_ss(wr[b + 1].d);
                for (i = 0; i < m; i++)
                    acc[i] = _mm512_fmadd_ps(
                        dot2(aw, neg, load2(xr[i] + b)),
                        scale2(dw0 * _cvtsh_ss(xr[i][b].d), dw1 * _cvtsh_ss(xr[i][b + 1].d)),
                        acc[i]);
            }
            if (b < nb) {
                const __m256i wv = _mm256_loadu_si256((const __m256i *)(const void *)wr[b].q);
                const __m256i aw = _mm256_sign_epi8(wv, wv);
                const float dw = _cvtsh_ss(wr[b].d);
                for (i = 0; i < m; i++) {
                    __m256 p = _mm256_mul_ps(dot1(aw, wv, xr[i][b].q),
                                             _mm256_set1_ps(dw * _cvtsh_ss(xr[i][b].d)));
                    __m128 s = _mm_add_ps(_mm256_castps256_ps128(p), _mm256_extractf128_ps(p, 1));
                    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
                    s = _mm_add_ss(s, _mm_movehdup_ps(s));
                    tail[i] = _mm_cvtss_f32(s);
                }
            }
            for (i = 0; i < m; i++)
                y[(i0 + i) * ldy + r] += _mm512_reduce_add_ps(acc[i]) + tail[i];
        }
    }
}

void llm__matvec_avx512_quant(llm__q8_block *dst, const float *x, size_t k) {
    size_t b, nb = k / LLM__Q8_BLOCK;
    const __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f);
    for (b = 0; b < nb; b++) {
        const float *xb = x + b * LLM__Q8_BLOCK; /* (32) */
        const __m512 v0 = _mm512_loadu_ps(xb), v1 = _mm512_loadu_ps(xb + 16);
        const float amax =
            _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
        const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        __m512 p[2];
        int h;
        dst[b].d = llm__q8_fp16_from_f32(d);
        p[0] = _mm512_mul_ps(v0, _mm512_set1_ps(id));
        p[1] = _mm512_mul_ps(v1, _mm512_set1_ps(id));
        for (h = 0; h < 2; h++) {
            const __m512 t = _mm512_roundscale_ps(p[h], _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
            const __mmask16 ge = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(p[h], t)), half,
                                                    _CMP_GE_OQ);
            /* ±1 with the sign of p: OR the sign bit into 1.0 */
            const __m512 step = _mm512_castsi512_ps(_mm512_or_si512(
                _mm512_and_si512(_mm512_castps_si512(p[h]), _mm512_set1_epi32((int)0x80000000u)),
                _mm512_castps_si512(one)));
            __m512 rnd = _mm512_mask_add_ps(t, ge, t, step);
            /* NaN -> 0, then clamp to [-127, 127], as the reference */
            rnd = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(rnd, rnd, _CMP_ORD_Q), rnd);
            rnd = _mm512_max_ps(_mm512_min_ps(rnd, _mm512_set1_ps(127.0f)),
                                _mm512_set1_ps(-127.0f));
            _mm_storeu_si128((__m128i *)(void *)(dst[b].q + 16 * h),
                             _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(rnd)));
        }
    }
}

void llm__matvec_avx512_dequant(float *dst, const llm__q8_block *src, size_t k) {
    size_t b, h, nb = k / LLM__Q8_BLOCK;
    for (b = 0; b < nb; b++) {
        const __m512 d = _mm512_set1_ps(_cvtsh_ss(src[b].d));
        for (h = 0; h < 2; h++) {
            const __m128i q8 = _mm_loadu_si128((const __m128i *)(const void *)(src[b].q + 16 * h));
            _mm512_storeu_ps(dst + b * LLM__Q8_BLOCK + 16 * h,
                             _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q8))));
        }
    }
}
