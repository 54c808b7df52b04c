/*
 * qmat.h - weight matrices stored as F32 or Q8_0 (qmat.c): products and
 * embedding rows, whatever the storage type (model.h says which matrices
 * may be quantized).
 */
#ifndef LLM_QMAT_H
#define LLM_QMAT_H

#include "llm_core.h"
#include "llm_matvec.h"
#include "llm_pool.h"

/* Bytes of one row of K values stored as `type` (F32 or Q8_0). */
LLM_INTERNAL size_t llm__qmat_row_bytes(uint32_t type, size_t K);

/* Floats of the scratch llm__qmat_matmul uses for products of many rows
 * with a Q8_0 matrix (a context reserves it when its model has one). */
#define LLM__QMAT_TILE_FLOATS ((size_t)1 << 20) /* 4 MiB */
/* Rows of x from which a Q8_0 product is done as dequantized tiles times
 * sgemm rather than with integer dot products, on CPUs without the int8
 * matrix kernel (tests/bench/bench_quant.c: 128 x 768 x 3072 at 1 thread,
 * 6.9 ms against 10.2 ms). A context lends the tile from this many rows of
 * batch (lib/model/ctx.c). */
#define LLM__QMAT_SGEMM_ROWS 16

/* y(M,N) = x(M,K) · w(N,K)ᵀ + b(N) (b may be NULL; accumulate != 0 adds
 * to y), w stored as `type`. F32 is llm__ops_matmul. Q8_0 (K a multiple
 * of 32), as llama.cpp computes it: the rows of x are quantized to Q8_0
 * blocks and multiplied with integer dot products by the kernel of this
 * CPU (lib/core/matvec*.c), weight rows split across the pool; a few rows
 * of x at a time share each pass over w. With a scratch `tile` of
 * LLM__QMAT_TILE_FLOATS floats (else NULL): the int8 matrix kernel
 * (lib/core/llm_q8gemm.h) when the CPU has one, from its min_rows rows,
 * else from LLM__QMAT_SGEMM_ROWS rows the same values multiplied as
 * floats (rows of x rounded through Q8_0, tiles of w dequantized, times
 * llm__gemm); results agree with the decode kernels up to float rounding
 * and never depend on the pool's size. */
LLM_INTERNAL void llm__qmat_matmul(llm__pool *pool, float *tile, float *y, const float *x,
                                   const void *w, uint32_t type, const float *b, size_t M,
                                   size_t K, size_t N, int accumulate);

/* The ways of a Q8_0 product (llm__qmat_matmul_q8). */
#define LLM__QMAT_AUTO  0 /* llm__qmat_matmul's choice */
#define LLM__QMAT_INT8  1 /* the decode kernels (llm_matvec.h), any M */
#define LLM__QMAT_TILES 2 /* dequantized tiles of w times sgemm (needs tile) */
#define LLM__QMAT_GEMM  3 /* the int8 matrix kernel (needs tile and the CPU's kernel) */

/* y(M,N) += x(M,K) · w(N,K)ᵀ for Q8_0 w (no bias) by one way: the product
 * of llm__qmat_matmul without the bias, for tests and benchmarks that
 * compare the ways. Returns the way used, or -1 (nothing done) when `way`
 * cannot run here (no tile, no kernel on this CPU, K too long) or is not
 * one of the LLM__QMAT_* values. */
LLM_INTERNAL int llm__qmat_matmul_q8(llm__pool *pool, float *tile, float *y, const float *x,
                                     const llm__q8_block *w, size_t M, size_t K, size_t N,
                                     int way);

/* out(N,C) = wte[tok[n]] (+ wpe[pos0 + n % T]) as llm__ops_embed, with
 * the rows of wte stored as `type` (Q8_0 rows are dequantized). */
LLM_INTERNAL void llm__qmat_embed(float *out, const llm_token *tok, const void *wte,
                                  uint32_t type, const float *wpe, size_t N, size_t T,
                                  size_t pos0, size_t C);

#endif
