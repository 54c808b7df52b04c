/*
 * q8gemm_avx512.c - the AVX-512 VNNI kernel of the Q8_0 x Q8_0 products of
 * many activation rows (llm_q8gemm.h). Only this file (and the decode
 * kernels of matvec_avx512.c) is compiled with -mavx512f -mavx512bw
 * -mavx512vl -mavx512dq -mavx512vnni -mf16c (lib/core/sources.cmake);
 * q8gemm.c enters it only when the CPU has VNNI.
 *
 * Micro-tile: 16 activation rows (one packed panel, one per vector lane)
 * by RW = 8 weight rows. For each block b, the panel's 8 vectors of
 * unsigned quants stay in registers, and each weight row's 32 quants are
 * taken 4 bytes at a time as memory broadcasts straight from the GGUF
 * block (no repacking of w, which is read once per panel from L1):
 *     a_r = -128 · Σ qw_r,b                      (per weight row, integer)
 *     a_r = vpdpbusd(a_r, xu_k, bcast(qw_r,b[4k .. 4k+3]))   k = 0..7
 *     f_r = fma(float(a_r), dx_b · dw_r,b, f_r)
 * so lane i of a_r is Σ_j qw · qx exactly (the offset of 128 cancels),
 * and per 512 multiply-adds the float work is one conversion, one scale
 * product and one FMA. Eight independent vpdpbusd chains cover the
 * instruction's latency. The integer corrections and the float scales of
 * the RW rows are computed once per row group and K segment (SEG blocks,
 * so the stack use stays under 9 KiB whatever K) and serve every panel.
 * Loops: chunks of panels that fit in L2 (CHUNK_BYTES), then groups of RW
 * weight rows (their blocks stay in L1), then K segments, then the
 * panels of the chunk; a full 16 x 8 tile is added to y after a transpose
 * in registers, a partial one element by element. A panel of at most 8
 * rows (few rows, or the last panel) runs on 256-bit vectors: the same
 * operations on its 8 lanes, at twice the rate.
 *
 * Measured (Zen 4, one thread, tests/bench/bench_quant.c's shapes): about
 * 300 GFLOP/s for 128 x 768 by 3072 x 768, where vpdpbusd, the FMA and the
 * product of scales (11 512-bit operations per 512 multiply-adds, sharing
 * the two FMA pipes) bound it near 330 at 3.5 GHz; OpenBLAS's sgemm peaks
 * at 16 multiply-adds per cycle there.
 *
 * Order of the arithmetic for one output: blocks in order within a K
 * segment (one float accumulator lane), the segment's sum added to y,
 * segments in order. It depends on K only: not on the row range, the
 * group an output row falls in (a short last group repeats its last row
 * in the unused slots and drops them), nor on M.
 */
#include <immintrin.h>
#include <string.h>

#include "llm_q8gemm.h"

#define RW  8   /* weight rows per micro-tile (neg_offset_sums and add_tile assume 8) */
#define SEG 128 /* blocks per K segment: cw + dw = SEG * RW * 8 bytes = 8 KiB */
#define NK  (LLM__Q8_BLOCK / 4) /* vpdpbusd steps per block */
#define CHUNK_BYTES ((size_t)256 << 10) /* packed activations per chunk (L2 is 1 MiB+) */

static inline int32_t load4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Σ_j (q[j] + 128) of one block in the four qwords of the result
 * (vpsadbw against zero; q + 128 is q with the top bit flipped). */
static inline __m256i offset_sums(const int8_t *q) {
    const __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)q);
    return _mm256_sad_epu8(_mm256_xor_si256(v, _mm256_set1_epi8((char)0x80)),
                           _mm256_setzero_si256());
}

/* cw[r] = -128 · Σ_j q[j] of block b of the RW rows wr (RW = 8): the
 * rows' vpsadbw sums are reduced together by two rounds of vphaddd (their
 * odd dwords are zero) and a sum of the two 128-bit halves. */
static inline void neg_offset_sums(int32_t cw[RW], const llm__q8_block *const wr[RW], size_t b) {
    __m256i h[4];
    int r;
    for (r = 0; r < 4; r++) /* per 128-bit lane: row 2r's two sums, then row 2r+1's */
        h[r] = _mm256_hadd_epi32(offset_sums(wr[2 * r][b].q), offset_sums(wr[2 * r + 1][b].q));
    h[0] = _mm256_hadd_epi32(h[0], h[1]); /* lane: rows 0-3, half of each block */
    h[2] = _mm256_hadd_epi32(h[2], h[3]); /* rows 4-7 */
    h[0] = _mm256_add_epi32(_mm256_permute2x128_si256(h[0], h[2], 0x20),
                            _mm256_permute2x128_si256(h[0], h[2], 0x31)); /* rows 0-7 */
    h[0] = _mm256_mullo_epi32(_mm256_sub_epi32(h[0], _mm256_set1_epi32(128 * LLM__Q8_BLOCK)),
                              _mm256_set1_epi32(-128));
    _mm256_storeu_si256((__m256i *)(void *)cw, h[0]);
}

/* The corrections and scales of blocks [0, ns) of the RW rows wr. */
static void group_meta(int32_t cw[SEG][RW], float dw[SEG][RW], const llm__q8_block *const wr[RW],
                       size_t ns) {
    size_t b;
    int r;
    for (b = 0; b < ns; b++) {
        neg_offset_sums(cw[b], wr, b);
        for (r = 0; r < RW; r++)
            dw[b][r] = _cvtsh_ss(wr[r][b].d);
    }
}

/* y[i * ldy + r] += f[r][i] for the 16 x 8 tile: the accumulators hold
 * columns of y (lane = activation row), so they are transposed in
 * registers into rows of 8 (one add per element, as the scalar loop of a
 * partial tile: the same bits). */
static inline void add_tile(float *y, size_t ldy, const __m512 f[RW]) {
    __m512 t[8], u[8];
    int c, h;
    for (c = 0; c < 4; c++) { /* per 128-bit lane L: f[2c][4L+j], f[2c+1][4L+j] interleaved */
        t[2 * c] = _mm512_unpacklo_ps(f[2 * c], f[2 * c + 1]);     /* j = 0, 1 */
        t[2 * c + 1] = _mm512_unpackhi_ps(f[2 * c], f[2 * c + 1]); /* j = 2, 3 */
    }
    for (h = 0; h < 2; h++) { /* u[4h + j], lane L: f[4h .. 4h+3][4L + j] */
        u[4 * h + 0] = _mm512_shuffle_ps(t[4 * h], t[4 * h + 2], _MM_SHUFFLE(1, 0, 1, 0));
        u[4 * h + 1] = _mm512_shuffle_ps(t[4 * h], t[4 * h + 2], _MM_SHUFFLE(3, 2, 3, 2));
        u[4 * h + 2] = _mm512_shuffle_ps(t[4 * h + 1], t[4 * h + 3], _MM_SHUFFLE(1, 0, 1, 0));
        u[4 * h + 3] = _mm512_shuffle_ps(t[4 * h + 1], t[4 * h + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (c = 0; c < 4; c++) { /* rows 4L + c, L = 0..3: lanes L of u[c] then of u[4 + c] */
        const __m512 lo = _mm512_shuffle_f32x4(u[c], u[4 + c], _MM_SHUFFLE(1, 0, 1, 0));
        const __m512 hi = _mm512_shuffle_f32x4(u[c], u[4 + c], _MM_SHUFFLE(3, 2, 3, 2));
        const __m512 r01 = _mm512_shuffle_f32x4(lo, lo, _MM_SHUFFLE(3, 1, 2, 0)); /* rows c, 4+c */
        const __m512 r23 = _mm512_shuffle_f32x4(hi, hi, _MM_SHUFFLE(3, 1, 2, 0)); /* 8+c, 12+c */
        float *y0 = y + (size_t)c * ldy, *y1 = y + (size_t)(4 + c) * ldy;
        float *y2 = y + (size_t)(8 + c) * ldy, *y3 = y + (size_t)(12 + c) * ldy;
        _mm256_storeu_ps(y0, _mm256_add_ps(_mm256_loadu_ps(y0), _mm512_castps512_ps256(r01)));
        _mm256_storeu_ps(y1, _mm256_add_ps(_mm256_loadu_ps(y1), _mm512_extractf32x8_ps(r01, 1)));
        _mm256_storeu_ps(y2, _mm256_add_ps(_mm256_loadu_ps(y2), _mm512_castps512_ps256(r23)));
        _mm256_storeu_ps(y3, _mm256_add_ps(_mm256_loadu_ps(y3), _mm512_extractf32x8_ps(r23, 1)));
    }
}

/* The micro-tile: f[r] (lane i) = Σ_{b < ns} dw_r,b · dx_i,b · Σ_j qw · qx
 * for the 16 rows of panel blocks xb and the RW weight rows wr. */
static inline void tile_dot(__m512 f[RW], const llm__q8gemm_blk *xb,
                            const llm__q8_block *const wr[RW], const int32_t cw[SEG][RW],
                            const float dw[SEG][RW], size_t ns) {
    size_t b;
    int r, k;
    for (r = 0; r < RW; r++)
        f[r] = _mm512_setzero_ps();
    for (b = 0; b < ns; b++) {
        __m512i x[NK], a[RW];
        const __m512 dx = _mm512_loadu_ps(xb[b].d);
#pragma GCC unroll 8
        for (k = 0; k < NK; k++)
            x[k] = _mm512_loadu_si512((const void *)xb[b].xu[k]);
#pragma GCC unroll 8
        for (r = 0; r < RW; r++)
            a[r] = _mm512_set1_epi32(cw[b][r]);
        /* k outer: the RW chains are independent, hiding vpdpbusd's latency */
#pragma GCC unroll 8
        for (k = 0; k < NK; k++) {
#pragma GCC unroll 8
            for (r = 0; r < RW; r++)
                a[r] = _mm512_dpbusd_epi32(a[r], x[k],
                                           _mm512_set1_epi32(load4(wr[r][b].q + 4 * k)));
        }
#pragma GCC unroll 8
        for (r = 0; r < RW; r++)
            f[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(a[r]),
                                   _mm512_mul_ps(dx, _mm512_set1_ps(dw[b][r])), f[r]);
    }
}

/* tile_dot for a panel of at most 8 rows: the same operations on the
 * first 8 lanes only (256-bit vectors, so twice the rate; the same bits). */
static inline void tile_dot8(__m256 f[RW], const llm__q8gemm_blk *xb,
                             const llm__q8_block *const wr[RW], const int32_t cw[SEG][RW],
                             const float dw[SEG][RW], size_t ns) {
    size_t b;
    int r, k;
    for (r = 0; r < RW; r++)
        f[r] = _mm256_setzero_ps();
    for (b = 0; b < ns; b++) {
        __m256i x[NK], a[RW];
        const __m256 dx = _mm256_loadu_ps(xb[b].d);
#pragma GCC unroll 8
        for (k = 0; k < NK; k++)
            x[k] = _mm256_loadu_si256((const __m256i *)(const void *)xb[b].xu[k]);
#pragma GCC unroll 8
        for (r = 0; r < RW; r++)
            a[r] = _mm256_set1_epi32(cw[b][r]);
#pragma GCC unroll 8
        for (k = 0; k < NK; k++) {
#pragma GCC unroll 8
            for (r = 0; r < RW; r++)
                a[r] = _mm256_dpbusd_epi32(a[r], x[k],
                                           _mm256_set1_epi32(load4(wr[r][b].q + 4 * k)));
        }
#pragma GCC unroll 8
        for (r = 0; r < RW; r++)
            f[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(a[r]),
                                   _mm256_mul_ps(dx, _mm256_set1_ps(dw[b][r])), f[r]);
    }
}

void llm__q8gemm_avx512vnni(float *y, size_t ldy, const llm__q8_block *w, size_t ldw,
                            const llm__q8gemm_blk *xp, size_t M, size_t nb, size_t r0,
                            size_t r1) {
    int32_t cw[SEG][RW]; /* -128 · Σ qw of block s0 + b of group row r */
    float dw[SEG][RW];   /* its scale */
    float out[RW][LLM__Q8GEMM_LANES];
    const size_t panels = (M + LLM__Q8GEMM_LANES - 1) / LLM__Q8GEMM_LANES;
    /* Panels per chunk: the chunk's packed rows (pc · nb · 576 bytes) stay
     * in L2 while every weight row of the range passes over them. */
    const size_t pc = nb * sizeof(llm__q8gemm_blk) < CHUNK_BYTES
                          ? CHUNK_BYTES / (nb * sizeof(llm__q8gemm_blk))
                          : 1;
    size_t c0, c1, g, s0, p, i;
    int r;
    for (c0 = 0; c0 < panels; c0 = c1) {
        c1 = panels - c0 < pc ? panels : c0 + pc;
        for (g = r0; g < r1; g += RW) {
            const size_t nr = r1 - g < RW ? r1 - g : RW;
            for (s0 = 0; s0 < nb; s0 += SEG) {
                const size_t ns = nb - s0 < SEG ? nb - s0 : SEG;
                const llm__q8_block *wr[RW]; /* (ns) blocks of each group row */
                for (r = 0; r < RW; r++)
                    wr[r] = w + (g + ((size_t)r < nr ? (size_t)r : nr - 1)) * ldw + s0;
                group_meta(cw, dw, wr, ns);
                for (p = c0; p < c1; p++) {
                    const size_t lanes = M - p * LLM__Q8GEMM_LANES < LLM__Q8GEMM_LANES
                                             ? M - p * LLM__Q8GEMM_LANES
                                             : LLM__Q8GEMM_LANES;
                    if (lanes <= LLM__Q8GEMM_LANES / 2) {
                        __m256 f8[RW];
                        tile_dot8(f8, xp + p * nb + s0, wr, cw, dw, ns);
                        for (r = 0; r < RW; r++)
                            _mm256_storeu_ps(out[r], f8[r]);
                    } else {
                        __m512 f[RW];
                        tile_dot(f, xp + p * nb + s0, wr, cw, dw, ns);
                        if (nr == RW && lanes == LLM__Q8GEMM_LANES) {
                            add_tile(y + p * LLM__Q8GEMM_LANES * ldy + g, ldy, f);
                            continue;
                        }
                        for (r = 0; r < RW; r++)
                            _mm512_storeu_ps(out[r], f[r]);
                    }
                    for (i = 0; i < lanes; i++) {
                        float *yr = y + (p * LLM__Q8GEMM_LANES + i) * ldy + g; /* (nr) */
                        for (r = 0; (size_t)r < nr; r++)
                            yr[r] += out[r][i];
                    }
                }
            }
        }
    }
}
