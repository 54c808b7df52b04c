/*
 * q8gemm_avx2.c - the AVX2 kernel of the Q8_0 x Q8_0 products of many
 * activation rows (llm_q8gemm.h), for CPUs without AVX-512 VNNI. Only
 * this file (and matvec_avx2.c) is compiled with -mavx2 -mfma -mf16c
 * (lib/core/sources.cmake); q8gemm.c enters it only when the CPU has AVX2.
 *
 * Micro-tile: the 16 activation rows of a packed panel (two vectors of 8
 * lanes; one when the panel has at most 8 rows) by RW = 2 weight rows,
 * weights taken 4 bytes at a time as broadcasts from the GGUF block as in
 * q8gemm_avx512.c, each broadcast serving both vectors (16 registers do
 * not hold more accumulators). Without vpdpbusd the products
 * are vpmaddubsw (unsigned x signed bytes -> int16 pair sums) then
 * vpmaddwd by ones (-> int32). vpmaddubsw saturates above 32767, so the
 * offset activations of the panel (up to 255) cannot be used as they
 * are: the signs move onto the activations instead (as matvec_avx2.c),
 *     |qw| (unsigned, exact for -128)  x  sign(qx, qw)  (|qx| <= 127),
 * whose pair sums stay within 2 * 128 * 127 = 32512. The |qw| of the RW
 * rows are computed once per row group and K segment (SEG blocks: 8 KiB
 * of stack) and broadcast like the weights; qx is the panel's quant with
 * the top bit flipped back. Per block: a_r = Σ_j qw·qx exactly in int32,
 * then f_r = fma(float(a_r), dx · dw_r, f_r): the operations, and so the
 * bits, of the AVX-512 kernel.
 *
 * Order of the arithmetic for one output: blocks in order within a K
 * segment, the segment's sum added to y, segments in order: it depends on
 * K only, and is the AVX-512 kernel's (same SEG), so both give the same
 * bits. Measured on Zen 4 with LLM_CPU=avx2 (one thread): 113 GFLOP/s for
 * 128 x 768 by 3072 x 768, against 92 for dequantized tiles + sgemm.
 */
#include <immintrin.h>
#include <string.h>

#include "llm_q8gemm.h"

#define RW  2  /* weight rows per micro-tile */
#define SEG 128 /* blocks per K segment: |qw| = SEG * RW * 32 bytes = 8 KiB */
#define NK  (LLM__Q8_BLOCK / 4)
#define CHUNK_BYTES ((size_t)256 << 10) /* packed activations per chunk */

static inline int32_t load4(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* f[h][r] (lane i) = Σ_{b < ns} dw_r,b · dx_8h+i,b · Σ_j qw · qx for the
 * panel blocks xb (both halves, nh of them) and the RW weight rows wr. */
static inline void tile_dot(__m256 f[2][RW], const llm__q8gemm_blk *xb, size_t nh,
                            const llm__q8_block *const wr[RW],
                            const uint8_t aw[SEG][RW][LLM__Q8_BLOCK], const float dw[SEG][RW],
                            size_t ns) {
    const __m256i ones = _mm256_set1_epi16(1), top = _mm256_set1_epi8((char)0x80);
    size_t b, h;
    int r, k;
    for (h = 0; h < 2; h++)
        for (r = 0; r < RW; r++)
            f[h][r] = _mm256_setzero_ps();
    for (b = 0; b < ns; b++) {
        __m256i a[2][RW];
        for (h = 0; h < 2; h++)
            for (r = 0; r < RW; r++)
                a[h][r] = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (k = 0; k < NK; k++) {
            const __m256i x0 = _mm256_xor_si256(
                _mm256_loadu_si256((const __m256i *)(const void *)xb[b].xu[k][0]), top);
            const __m256i x1 = _mm256_xor_si256(
                _mm256_loadu_si256((const __m256i *)(const void *)xb[b].xu[k][8]), top);
#pragma GCC unroll 4
            for (r = 0; r < RW; r++) {
                const __m256i wv = _mm256_set1_epi32(load4(wr[r][b].q + 4 * k));
                const __m256i av = _mm256_set1_epi32(load4(aw[b][r] + 4 * k));
                a[0][r] = _mm256_add_epi32(
                    a[0][r],
                    _mm256_madd_epi16(_mm256_maddubs_epi16(av, _mm256_sign_epi8(x0, wv)), ones));
                if (nh > 1)
                    a[1][r] = _mm256_add_epi32(
                        a[1][r], _mm256_madd_epi16(
                                     _mm256_maddubs_epi16(av, _mm256_sign_epi8(x1, wv)), ones));
            }
        }
        for (h = 0; h < 2; h++) {
            const __m256 dx = _mm256_loadu_ps(xb[b].d + 8 * h);
#pragma GCC unroll 4
            for (r = 0; r < RW; r++)
                f[h][r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(a[h][r]),
                                          _mm256_mul_ps(dx, _mm256_set1_ps(dw[b][r])), f[h][r]);
        }
    }
}

void llm__q8gemm_avx2(float *y, size_t ldy, const llm__q8_block *w, size_t ldw,
                      const llm__q8gemm_blk *xp, size_t M, size_t nb, size_t r0, size_t r1) {
    uint8_t aw[SEG][RW][LLM__Q8_BLOCK]; /* |qw| of block s0 + b of group row r */
    float dw[SEG][RW];                  /* its scale */
    float out[RW][8];
    const size_t panels = (M + LLM__Q8GEMM_LANES - 1) / LLM__Q8GEMM_LANES;
    const size_t pc = nb * sizeof(llm__q8gemm_blk) < CHUNK_BYTES
                          ? CHUNK_BYTES / (nb * sizeof(llm__q8gemm_blk))
                          : 1;
    size_t c0, c1, g, s0, p, h, b, i;
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
                for (b = 0; b < ns; b++)
                    for (r = 0; r < RW; r++) {
                        const __m256i q =
                            _mm256_loadu_si256((const __m256i *)(const void *)wr[r][b].q);
                        _mm256_storeu_si256((__m256i *)(void *)aw[b][r], _mm256_abs_epi8(q));
                        dw[b][r] = _cvtsh_ss(wr[r][b].d);
                    }
                for (p = c0; p < c1; p++) {
                    const size_t lanes = M - p * LLM__Q8GEMM_LANES < LLM__Q8GEMM_LANES
                                             ? M - p * LLM__Q8GEMM_LANES
                                             : LLM__Q8GEMM_LANES;
                    __m256 f[2][RW];
                    tile_dot(f, xp + p * nb + s0, lanes > 8 ? 2 : 1, wr, aw, dw, ns);
                    for (h = 0; 8 * h < lanes; h++) {
                        const size_t hl = lanes - 8 * h < 8 ? lanes - 8 * h : 8;
                        for (r = 0; r < RW; r++)
                            _mm256_storeu_ps(out[r], f[h][r]);
                        for (i = 0; i < hl; i++) {
                            float *yr = y + (p * LLM__Q8GEMM_LANES + 8 * h + i) * ldy + g;
                            for (r = 0; (size_t)r < nr; r++)
                                yr[r] += out[r][i];
                        }
                    }
                }
            }
        }
    }
}
