/*
 * xent.h - cross-entropy of the output head without the logits: the
 * product z = x·Wᵀ, the log-sum-exp and the loss, fused and done block of
 * rows by chunk of the vocabulary (xent.c), so that at most R x Vc logits
 * exist at once instead of N x V (math.md 3). Used by the context's losses
 * (llm_ctx_loss, llm_ctx_eval) and, with the backward of
 * lib/train/grad_xent.c, by the trainer.
 *
 * Per row n, over the chunks c of columns: the online log-sum-exp
 *     m' = max(m, max_c z),  l' = l·exp(m - m') + Σ_c exp(z - m')
 * and the target's logit z[y] when y falls in the chunk; at the end
 * lse = m + log l and the negative log-likelihood is lse - z[y].
 */
#ifndef LLM_XENT_H
#define LLM_XENT_H

#include "llm_pool.h"

typedef struct llm__xent_args {
    size_t N, C, V;
    const float *x;        /* (N, C) hidden states (final-normed) */
    const float *w;        /* (V, C) output matrix */
    const llm_token *tgt;  /* (N) targets in [0, V); a negative target skips its row */
    size_t R, Vc;          /* rows per block, columns per chunk (llm__xent_plan) */
    float *scratch;        /* llm__xent_scratch_floats(R, Vc) floats */
} llm__xent_args;

/* Row statistics of one block, in the tail of the scratch. */
typedef struct llm__xent_stats {
    float *m;   /* (R) running max */
    float *zy;  /* (R) the target's logit */
    double *l;  /* (R) running sum of exp(z - m) */
} llm__xent_stats;

/* Blocking for N rows of V logits within `budget` floats of logits.
 * fwd_only: only the loss is wanted, chunks over V cost nothing extra, so
 * R = min(N, 256) and Vc fills the budget. Otherwise (the trainer, whose
 * backward must see each chunk again): whole rows of V (Vc = V, no
 * recomputation) in as few balanced blocks as the budget allows, unless
 * fewer than 64 rows would fit; then R = min(N, 256) and Vc fills the
 * budget (the backward recomputes each chunk). Results are multiples of
 * 16 (or N, V themselves) and at least 1. */
LLM_INTERNAL void llm__xent_plan(size_t N, size_t V, size_t budget, int fwd_only, size_t *R,
                                 size_t *Vc);
/* Floats of scratch for blocks of R rows and chunks of Vc columns. */
LLM_INTERNAL size_t llm__xent_scratch_floats(size_t R, size_t Vc);
/* Points s into the scratch of `a`. */
LLM_INTERNAL void llm__xent_stats_of(llm__xent_stats *s, const llm__xent_args *a);

/* Statistics (m, l, zy in the scratch) of rows r0..r0+nr-1 (nr <= R)
 * over all chunks; on return the scratch's first nr x nc floats hold the
 * last chunk's logits (row stride nc = its width). */
LLM_INTERNAL void llm__xent_block(llm__pool *pool, const llm__xent_args *a, size_t r0,
                                  size_t nr);

/* nll[n] = lse(z_n) - z_n[y_n] for every row (0 for skipped rows), in
 * double. Never allocates; the same bits for any pool size. */
LLM_INTERNAL void llm__xent_fwd(llm__pool *pool, double *nll, const llm__xent_args *a);

/* The reference: each row's logits in double, then the log-sum-exp with
 * libm's exp (no scratch). */
LLM_INTERNAL void llm__xent_fwd_naive(double *nll, const float *x, const float *w,
                                      const llm_token *tgt, size_t N, size_t C, size_t V);

#endif
