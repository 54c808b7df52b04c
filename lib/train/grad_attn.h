/*
 * grad_attn.h - backward of the tiled causal attention of
 * lib/model/attn.c (llm__attn_fwd) by recomputation (flash attention 2):
 * no T x T matrix is stored; the scores of each tile are recomputed from
 * Q, K and the saved per-row log-sum-exp.
 */
#ifndef LLM_GRAD_ATTN_H
#define LLM_GRAD_ATTN_H

#include "model/attn.h"

/* Gradients of the forward described by `a` (pos0 must be 0: queries and
 * keys are the same T tokens, as in training), given a->out (O, as the
 * forward wrote it), a->lse (as the forward wrote it) and dout (dO, laid
 * out like out). dq, dk, dv are laid out like q, k, v (same strides) and
 * are overwritten (dk/dv of a KV head sum over its query heads). Tasks
 * are (sequence, KV head) pairs; the same bits for any pool size. */
LLM_INTERNAL void llm__gattn_bwd(llm__pool *pool, const llm__attn_args *a, const float *dout,
                                 float *dq, float *dk, float *dv);

/* The reference: math.md 1.3 row by row in double, probabilities
 * recomputed from the scores (no saved state but q, k, v, dout). */
LLM_INTERNAL void llm__gattn_bwd_naive(const llm__attn_args *a, const float *dout, float *dq,
                                       float *dk, float *dv);

#endif
