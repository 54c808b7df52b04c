/*
 * qmv.h - the products of one decoded token (a single row of
 * activations), several weight matrices and the element-wise step after
 * them in one pool job (qmv.c).
 */
#ifndef LLM_QMV_H
#define LLM_QMV_H

#include "llm_core.h"
#include "llm_matvec.h"
#include "llm_pool.h"

/* One product y(N) = w(N,K) · x(K) + b(N) (b may be NULL; accumulate != 0
 * adds to y, e.g. the residual stream), w stored as `type` (F32 or Q8_0,
 * lib/model/qmat.h). */
typedef struct llm__qmv_part {
    float *y;
    const void *w;
    uint32_t type;
    const float *b;
    size_t N;
    int accumulate;
} llm__qmv_part;

/* What follows the products, per output row. */
#define LLM__QMV_NONE   0
#define LLM__QMV_GELU   1 /* y = gelu(y) for every part */
#define LLM__QMV_SWIGLU 2 /* two parts of equal N, gate then up:
                             gate = silu(gate) * up (llm__ops_swiglu) */

/* Longest row (K) done in one pass with Q8_0 parts: the quantized row is
 * a 16 KiB buffer on the stack. Longer rows fall back to one
 * llm__qmat_matmul per part. */
#define LLM__QMV_MAX_K 15360

/* Computes every part for the one row x (K floats), with the same values
 * as llm__qmat_matmul(..., M = 1, ...) per part followed by `act`, in one
 * job on `pool` (NULL: the calling thread). The outputs must not overlap
 * each other or x. */
LLM_INTERNAL void llm__qmv_run(llm__pool *pool, const llm__qmv_part *parts, size_t n_parts,
                               const float *x, size_t K, int act);

#endif
