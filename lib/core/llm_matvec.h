/*
 * llm_matvec.h - the Q8_0 block format (q8.c) and the matrix-vector
 * kernels of the decode path with their run-time dispatch (matvec.c,
 * matvec_avx2.c, matvec_avx512.c).
 *
 * Q8_0 is ggml's type 8 (formats.md 1.5): a row of K weights (K a
 * multiple of 32) is K/32 blocks of 34 bytes, each an IEEE fp16 scale d
 * then 32 int8 values q; weight j of a block is d * q[j]. Files written
 * by llama.cpp and by libllm hold the same bytes for the same weights.
 *
 * Kernels: every optimised kernel has a plain-C reference (the *_ref
 * ones, which the tests use as the oracle and which run where no vector
 * unit is present). Which variant runs is chosen per process from
 * llm__cpu_level() (llm_cpu.h; LLM_CPU=scalar|avx2|avx512 caps it). Each
 * output row is computed by one call on one thread, so results do not
 * depend on how rows are shared out; they do differ in the last bits
 * between instruction sets (summation order).
 */
#ifndef LLM_MATVEC_H
#define LLM_MATVEC_H

#include "llm_core.h"

/* Dot product with eight independent partial sums, so the compiler can
 * keep them in vector registers without reassociating a single sum. The
 * portable kernel of the decode products (matvec.c's reference) and of
 * the attention scores (lib/model/ops.c, attn.c); inline, as attention
 * calls it once per (query, key) pair with short rows. */
static inline float llm__dot_f32(const float *a, const float *b, size_t n) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t i = 0, j;
    float s;
    for (; i + 8 <= n; i += 8)
        for (j = 0; j < 8; j++)
            acc[j] += a[i + j] * b[i + j];
    s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; i < n; i++)
        s += a[i] * b[i];
    return s;
}

#define LLM__Q8_BLOCK 32 /* weights per Q8_0 block (ggml's QK8_0) */

/* One Q8_0 block, byte for byte as in a GGUF file (34 bytes, no padding:
 * only 2-byte alignment is assumed, GGUF packs blocks back to back). */
typedef struct llm__q8_block {
    uint16_t d;                  /* fp16 scale, little-endian bits */
    int8_t q[LLM__Q8_BLOCK];     /* quants; d * q[j] is the value */
} llm__q8_block;

/* ---- Q8_0 format (q8.c) ---- */

/* IEEE binary16 <-> binary32; f32 -> f16 rounds to nearest, ties to even,
 * overflows to infinity, keeps NaN a (quiet) NaN. */
LLM_INTERNAL uint16_t llm__q8_fp16_from_f32(float f);
LLM_INTERNAL float llm__q8_fp16_to_f32(uint16_t h);
/* Quantizes k values (k a multiple of 32) exactly as llama.cpp's
 * quantize_row_q8_0_ref: per block amax = max|x|, d = amax / 127,
 * id = d ? 1/d : 0, q[j] = roundf(x[j] * id) (half away from zero), d
 * stored as fp16. |q| <= 127 for finite input. */
LLM_INTERNAL void llm__q8_quantize_ref(llm__q8_block *dst, const float *x, size_t k);
/* dst[j] = d * q[j] for k values (k a multiple of 32). */
LLM_INTERNAL void llm__q8_dequantize(float *dst, const llm__q8_block *src, size_t k);
/* Bytes of a (rows, k) Q8_0 matrix: rows * k / 32 * 34. */
LLM_INTERNAL size_t llm__q8_row_bytes(size_t k);

/* ---- kernels ---- */

/* y[r] += W[r, 0..K) · x[0..K) for every row r in [r0, r1); W is (N, K)
 * row-major F32. */
typedef void (*llm__mv_f32_fn)(float *y, const float *w, const float *x, size_t K, size_t r0,
                               size_t r1);
/* For every weight row r in [r0, r1) and activation row i < M:
 *     y[i * ldy + r] += Σ_{b < nb} dw_b · dx_b · Σ_j qw_b[j] · qx_b[j]
 * W's row r starts at block w + r * ldw (ldw >= nb, so a caller may take
 * a range of each row's blocks); xq is (M, nb) blocks quantized by a quant
 * kernel (so |qx| <= 127; weight quants may be any int8, -128 included). */
typedef void (*llm__mv_q8_fn)(float *y, size_t ldy, const llm__q8_block *w, size_t ldw,
                              const llm__q8_block *xq, size_t M, size_t nb, size_t r0,
                              size_t r1);
/* Quantizes an activation row: bit for bit llm__q8_quantize_ref. */
typedef void (*llm__q8_quant_fn)(llm__q8_block *dst, const float *x, size_t k);
/* Dequantizes k values: bit for bit llm__q8_dequantize (one product). */
typedef void (*llm__q8_dequant_fn)(float *dst, const llm__q8_block *src, size_t k);

/* A set of kernels for one instruction-set level. */
typedef struct llm__matvec_kernels {
    const char *name; /* "scalar", "avx2", "avx512", "avx512vnni" */
    llm__mv_f32_fn f32;
    llm__mv_q8_fn q8;
    llm__q8_quant_fn quant;
    llm__q8_dequant_fn dequant;
} llm__matvec_kernels;

/* The kernels for this process (llm__cpu_level/llm__cpu_features). */
LLM_INTERNAL const llm__matvec_kernels *llm__matvec_get(void);
/* The kernels of one level and feature set (tests), or NULL when this
 * build or this CPU cannot run them. */
LLM_INTERNAL const llm__matvec_kernels *llm__matvec_at(int level, uint32_t features);

/* Plain-C references. */
LLM_INTERNAL void llm__matvec_f32_ref(float *y, const float *w, const float *x, size_t K,
                                      size_t r0, size_t r1);
LLM_INTERNAL void llm__matvec_q8_ref(float *y, size_t ldy, const llm__q8_block *w,
                                     size_t ldw, const llm__q8_block *xq, size_t M, size_t nb,
                                     size_t r0, size_t r1);

/* Vector variants (matvec_avx2.c, matvec_avx512.c): only called when the
 * CPU has the instructions. */
LLM_INTERNAL void llm__matvec_avx2_f32(float *y, const float *w, const float *x, size_t K,
                                       size_t r0, size_t r1);
LLM_INTERNAL void llm__matvec_avx2_q8(float *y, size_t ldy, const llm__q8_block *w,
                                      size_t ldw, const llm__q8_block *xq, size_t M, size_t nb,
                                      size_t r0, size_t r1);
LLM_INTERNAL void llm__matvec_avx2_quant(llm__q8_block *dst, const float *x, size_t k);
LLM_INTERNAL void llm__matvec_avx2_dequant(float *dst, const llm__q8_block *src, size_t k);
LLM_INTERNAL void llm__matvec_avx512_f32(float *y, const float *w, const float *x, size_t K,
                                         size_t r0, size_t r1);
LLM_INTERNAL void llm__matvec_avx512_q8vnni(float *y, size_t ldy, const llm__q8_block *w,
                                            size_t ldw, const llm__q8_block *xq, size_t M,
                                            size_t nb, size_t r0, size_t r1);
LLM_INTERNAL void llm__matvec_avx512_quant(llm__q8_block *dst, const float *x, size_t k);
LLM_INTERNAL void llm__matvec_avx512_dequant(float *dst, const llm__q8_block *src, size_t k);

#endif
