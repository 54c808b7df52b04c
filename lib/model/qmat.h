/*
 * qmat.h - weight matrices stored as F32 or Q8_0 (qmat.c): products and
 * embedding rows, whatever the storage type (model.h says which matrices
 * may be quantized).
 */
#ifndef LLM_QMAT_H
#define LLM_QMAT_H

#include "llm_core.h"
#include "llm_pool.h"

/* Bytes of one row of K values stored as `type` (F32 or Q8_0). */
LLM_INTERNAL size_t llm__qmat_row_bytes(uint32_t type, size_t K);

/* Floats of the scratch llm__qmat_matmul uses for products of many rows
 * with a Q8_0 matrix (a context reserves it when its model has one). */
#define LLM__QMAT_TILE_FLOATS ((size_t)1 << 20) /* 4 MiB */
/* Rows of x from which a Q8_0 product is done as dequantized tiles times
 * sgemm rather than with integer dot products (tests/bench/bench_quant.c:
 * 128 x 768 x 3072 at 1 thread, 6.9 ms against 10.2 ms). */
#define LLM__QMAT_SGEMM_ROWS 16

/* y(M,N) = x(M,K) · w(N,K)ᵀ + b(N) (b may be NULL; accumulate != 0 adds
 * to y), w stored as `type`. F32 is llm__ops_matmul. Q8_0 (K a multiple
 * of 32), as llama.cpp computes it: the rows of x are quantized to Q8_0
 * blocks and multiplied with integer dot products by the kernel of this
 * CPU (lib/core/matvec*.c), weight rows split across the pool; a few rows
 * of x at a time share each pass over w. With M >= LLM__QMAT_SGEMM_ROWS
 * and a scratch `tile` of LLM__QMAT_TILE_FLOATS floats (else NULL), the
 * same values are multiplied as floats instead: rows of x rounded through
 * Q8_0 and tiles of w dequantized, times llm__gemm, which is faster for
 * many rows; results agree with the integer path up to float rounding. */
LLM_INTERNAL void llm__qmat_matmul(llm__pool *pool, float *tile, float *y, const float *x,
                                   const void *w, uint32_t type, const float *b, size_t M,
                                   size_t K, size_t N, int accumulate);

/* out(N,C) = wte[tok[n]] (+ wpe[pos0 + n % T]) as llm__ops_embed, with
 * the rows of wte stored as `type` (Q8_0 rows are dequantized). */
LLM_INTERNAL void llm__qmat_embed(float *out, const llm_token *tok, const void *wte,
                                  uint32_t type, const float *wpe, size_t N, size_t T,
                                  size_t pos0, size_t C);

#endif
