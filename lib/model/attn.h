/*
 * attn.h - causal multi-head attention (math.md 1) without a T x T
 * matrix: flash-style tiles with an online softmax (attn.c), used by
 * inference (prefill against the KV cache, decode, batched forward and
 * losses in lib/model/ctx.c) and by the trainer's forward
 * (lib/train/backprop.c). The backward, by recomputation from the saved
 * per-row log-sum-exp, is lib/train/grad_attn.c (llm__gattn_*).
 *
 * Layout: every tensor is addressed by (sequence b, row t, head) through
 * a base pointer, a row stride and a sequence stride, so one description
 * covers the trainer's fused q|k|v rows, the context's separate q, k, v
 * and the KV cache:
 *   query head h of token t of sequence b:  q + b*q_seq + t*ldq + h*D
 *   key/value head j of key p of sequence b: k + b*k_seq + p*ldk + j*k_hs
 *                                            (k_hs, v_hs: D when 0)
 *   output head h of token t:               out + b*o_seq + t*ldo + h*D
 * Token t is at absolute position pos0 + t and attends keys 0..pos0+t
 * (the causal mask "key index <= query position"); query head h reads
 * KV head h / (n_head / n_head_kv) (GQA, math.md 1.2).
 */
#ifndef LLM_ATTN_H
#define LLM_ATTN_H

#include "llm_pool.h"

typedef struct llm__attn_args {
    size_t n_seq;            /* B sequences */
    size_t T;                /* queries per sequence */
    size_t pos0;             /* absolute position of query 0; keys 0..pos0+T-1 exist */
    size_t n_head, n_head_kv, D;
    const float *q;          /* see the file comment */
    size_t ldq, q_seq;
    const float *k;
    size_t ldk, k_seq;
    const float *v;
    size_t ldv, v_seq;
    /* Floats between KV heads: 0 means D (heads side by side in a row,
     * as in the projections' output); a head-major cache sets n_ctx * D.
     * Forward only: the backward (grad_attn.c) takes 0. */
    size_t k_hs, v_hs;
    float *out;
    size_t ldo, o_seq;
    /* (n_seq, n_head, T) log Σ_j exp(s_j) of each query row's scaled
     * scores s (natural log, max included), for the backward; may be NULL. */
    float *lse;
} llm__attn_args;

/* Query rows per tile and keys per tile. 64 x 64 tiles with D = 64 are
 * products OpenBLAS runs at full speed (measured 50-60 GFLOP/s a core
 * here, own SSE loops 10-17), and two tiles of scores fit in 32 KB. */
#define LLM__ATTN_BR 64
#define LLM__ATTN_BC 64

/* out = softmax(q kᵀ / sqrt(D), causal) v, over the pool by (sequence,
 * head, query block); with T == 1 and GQA, the query heads sharing a KV
 * head form one block. Fills lse when not NULL. Never allocates (tiles
 * live on the stack, 32 KB); the same bits for any pool size. */
LLM_INTERNAL void llm__attn_fwd(llm__pool *pool, const llm__attn_args *a);

/* The reference: each query row on its own, in double, scores computed
 * twice (max, then the weighted sum) instead of stored. */
LLM_INTERNAL void llm__attn_fwd_naive(const llm__attn_args *a);

#endif
