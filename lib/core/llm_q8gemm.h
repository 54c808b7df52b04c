/*
 * llm_q8gemm.h - Q8_0 x Q8_0 matrix products of many activation rows
 * (prefill, evaluation): q8gemm.c (packing, the plain-C reference, the
 * run-time choice), q8gemm_avx512.c (AVX-512 VNNI) and q8gemm_avx2.c
 * (AVX2, which takes the same packed rows and flips the offset back to
 * use vpmaddubsw with the signs moved onto the activations).
 *
 * Arithmetic: the decode kernels' (llm_matvec.h, llm__matvec_q8_ref): for
 * weight rows r in [r0, r1) and activation rows i < M,
 *     y[i * ldy + r] += Σ_b dw_b · dx_b · Σ_j qw_b[j] · qx_b[j]
 * with each block's integer sum exact in int32 and the float sum taken
 * over b in order; results differ from the reference only by float
 * rounding (a fused multiply-add per block instead of mul + add).
 *
 * Packed activations. The VNNI kernel puts 16 activation rows in the 16
 * lanes of a vector and broadcasts 4 weight bytes to all lanes straight
 * from the GGUF block (vpdpbusd with a memory broadcast), so every lane of
 * every vpdpbusd belongs to one (activation row, weight row, block) and a
 * block's 32 products end in one lane after 8 vpdpbusd: one int->float
 * conversion, one scale product and one FMA per 16 x 32 multiply-adds
 * (instead of per 2 x 32 with two blocks per vector). The activations are
 * therefore repacked once per product into panels of 16 rows:
 *     panel p (rows 16p .. 16p+15), block b:  llm__q8gemm_blk
 *         xu[k][lane][t] = qx[16p + lane, b][4k + t] + 128   (uint8)
 *         d[lane]        = dx[16p + lane, b]                 (float)
 * stored panel-major: block (p, b) at xp[p * nb + b]. vpdpbusd multiplies
 * unsigned by signed bytes, so the activations carry an offset of 128
 * (|qx| <= 127: 1 .. 255, exact) and the kernel starts each block's int32
 * sum at -128 · Σ_j qw_b[j], which removes it exactly (weights may be any
 * int8, -128 included). Rows of the last panel past M are zero (d = 0)
 * and never stored.
 *
 * Every output element is computed by one call, in an order that depends
 * only on K, so results do not depend on how weight rows are shared out
 * among threads.
 */
#ifndef LLM_Q8GEMM_H
#define LLM_Q8GEMM_H

#include "llm_matvec.h"

#define LLM__Q8GEMM_LANES 16 /* activation rows per panel */

/* One block of a panel: 16 activation rows' quants (offset by 128, grouped
 * by 4 bytes as vpdpbusd takes them) and their scales. 576 bytes. */
typedef struct llm__q8gemm_blk {
    uint8_t xu[LLM__Q8_BLOCK / 4][LLM__Q8GEMM_LANES][4];
    float d[LLM__Q8GEMM_LANES];
} llm__q8gemm_blk;

/* Bytes of the packed form of M rows of nb blocks (whole panels). */
LLM_INTERNAL size_t llm__q8gemm_packed_bytes(size_t M, size_t nb);
/* Packs blocks [b0, b0 + n) of activation row i (src: n blocks quantized
 * by a quant kernel, |q| <= 127) into xp, the packed form of rows of nb
 * blocks. */
LLM_INTERNAL void llm__q8gemm_pack(llm__q8gemm_blk *xp, size_t nb, size_t i, size_t b0,
                                   const llm__q8_block *src, size_t n);
/* Zeroes rows M .. (end of M's last panel) of every block. */
LLM_INTERNAL void llm__q8gemm_pad(llm__q8gemm_blk *xp, size_t M, size_t nb);

/* For every weight row r in [r0, r1) and activation row i < M:
 *     y[i * ldy + r] += Σ_{b < nb} dw_b · dx_b · Σ_j qw_b[j] · qx_b[j]
 * W's row r starts at block w + r * ldw (ldw >= nb); xp holds the M rows
 * packed (llm__q8gemm_pack, nb blocks per row, padded). Never allocates;
 * uses under 16 KiB of stack. */
typedef void (*llm__q8gemm_fn)(float *y, size_t ldy, const llm__q8_block *w, size_t ldw,
                               const llm__q8gemm_blk *xp, size_t M, size_t nb, size_t r0,
                               size_t r1);

typedef struct llm__q8gemm_kernel {
    const char *name; /* "scalar", "avx2", "avx512vnni" */
    llm__q8gemm_fn fn;
    /* Rows of activations from which this kernel is faster than the
     * decode kernels of the same level (llm_matvec.h), measured with
     * tests/bench/bench_quant.c (bench=matmul lines with M = 2 .. 16):
     * lib/model/qmat.c uses it from there on. */
    size_t min_rows;
} llm__q8gemm_kernel;

/* The kernel of one level and feature set (tests), or NULL when this build
 * or this CPU has none for it. */
LLM_INTERNAL const llm__q8gemm_kernel *llm__q8gemm_at(int level, uint32_t features);
/* The vector kernel for this process (llm__cpu_level/llm__cpu_features),
 * or NULL when there is none: the plain-C reference is far slower than
 * the other products of lib/model/qmat.c, so callers then use those. */
LLM_INTERNAL const llm__q8gemm_kernel *llm__q8gemm_get(void);

/* Plain-C reference (the tests' kernel oracle besides the double one). */
LLM_INTERNAL void llm__q8gemm_ref(float *y, size_t ldy, const llm__q8_block *w, size_t ldw,
                                  const llm__q8gemm_blk *xp, size_t M, size_t nb, size_t r0,
                                  size_t r1);
/* AVX2 + FMA + F16C (q8gemm_avx2.c) and AVX-512 F/BW/VL + VNNI
 * (q8gemm_avx512.c): only when the CPU has them. */
LLM_INTERNAL void llm__q8gemm_avx2(float *y, size_t ldy, const llm__q8_block *w, size_t ldw,
                                   const llm__q8gemm_blk *xp, size_t M, size_t nb, size_t r0,
                                   size_t r1);
LLM_INTERNAL void llm__q8gemm_avx512vnni(float *y, size_t ldy, const llm__q8_block *w,
                                         size_t ldw, const llm__q8gemm_blk *xp, size_t M,
                                         size_t nb, size_t r0, size_t r1);

#endif
