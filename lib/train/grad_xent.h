/*
 * grad_xent.h - the output head's cross-entropy with its backward, fused
 * and chunked (lib/model/xent.h): the logits' gradient
 * G = dscale·(softmax(z) - onehot(y)) is formed chunk by chunk and
 * consumed at once by the two products dX = G·W and dW += Gᵀ·X, so the
 * N x V logits and their gradient never exist.
 */
#ifndef LLM_GRAD_XENT_H
#define LLM_GRAD_XENT_H

#include "model/xent.h"

/* loss[n] = lse(z_n) - z_n[y_n] for the rows of `a` (0 for a negative
 * target); with dscale != 0 also dx(N, C) = dscale·Σ_v (p_v - [v = y])·w_v
 * (overwritten) and dw(V, C) += dscale·Σ_n (p - onehot)ᵀ x_n (added).
 * With a->Vc < V the logits of each chunk are computed twice (once for
 * the statistics, once for the gradient); with Vc = V once. The same
 * bits for any pool size. */
LLM_INTERNAL void llm__gxent_fwd_bwd(llm__pool *pool, float *loss, float *dx, float *dw,
                                     const llm__xent_args *a, float dscale);

/* The reference in double: logits of each row, libm exp, the gradients
 * by their definitions. dx overwritten, dw added to. */
LLM_INTERNAL void llm__gxent_naive(float *loss, float *dx, float *dw, const float *x,
                                   const float *w, const llm_token *tgt, size_t N, size_t C,
                                   size_t V, float dscale);

#endif
