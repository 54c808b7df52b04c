/*
 * grad_ops.h - the training kernels: each op's backward, listed next to
 * the forward it differentiates (math.md sections 1-3).
 *
 * Conventions: row-major F32; N rows (tokens, N = B*T), C width, F MLP
 * width, V vocabulary, NH query heads, NKV key/value heads, D head size,
 * W3 = C + 2*NKV*D the width of a fused q|k|v row. A backward writes the
 * gradient of its input with "+=" when the input is the residual stream
 * (so the two branches of a residual add up), and parameter gradients
 * always with "+=" (they accumulate over micro-batches). Reductions run in
 * a fixed order, so results do not depend on the thread count.
 *
 * Forwards: each op has one, in lib/model/ops.c where inference uses the
 * same op (llm__ops_*); the llm__grad_*_fwd below are adapters to them in
 * the trainer's shapes. backprop.c calls the ops kernels directly where an
 * adapter only forwards (embedding, linear, norms: those adapters serve
 * tests/train/test_grad_ops.c, which checks each forward/backward pair in
 * these shapes). Attention and cross-entropy have their own files
 * (lib/model/attn.c + grad_attn.c, lib/model/xent.c + grad_xent.c); the
 * materialising versions kept here are references for their tests.
 */
#ifndef LLM_GRAD_OPS_H
#define LLM_GRAD_OPS_H

#include "llm_pool.h"

/* ---- embedding ---- */

/* out(N,C) = wte[tok[n]] (+ wpe[n % T] when wpe is not NULL): llm__ops_embed. */
LLM_INTERNAL void llm__grad_embed_fwd(float *out, const llm_token *tok, const float *wte,
                                      const float *wpe, size_t N, size_t T, size_t C);
/* dwte[tok[n]] += dout[n]; dwpe[n % T] += dout[n] (dwpe may be NULL). */
LLM_INTERNAL void llm__grad_embed_bwd(float *dwte, float *dwpe, const float *dout,
                                      const llm_token *tok, size_t N, size_t T, size_t C);

/* ---- linear layer y = x·Wᵀ + b: forward llm__ops_matmul_ld ---- */

/* y(N,O) = x(N,I)·W(O,I)ᵀ + b(O); ldy is y's row stride (>= O). With
 * accumulate, the product is added to y (bias still added once). */
LLM_INTERNAL void llm__grad_linear_fwd(llm__pool *pool, float *y, size_t ldy, const float *x,
                                       const float *W, const float *b, size_t N, size_t I,
                                       size_t O, int accumulate);
/* dx(N,I) (= or +=, by accumulate_dx) dy·W; dW(O,I) += dyᵀ·x; db(O) += Σ dy.
 * dy has row stride ldy; dx or db may be NULL. */
LLM_INTERNAL void llm__grad_linear_bwd(llm__pool *pool, float *dx, float *dW, float *db,
                                       const float *dy, size_t ldy, const float *x,
                                       const float *W, size_t N, size_t I, size_t O,
                                       int accumulate_dx);

/* ---- LayerNorm (GPT-2), math.md 2.1 ---- */

/* out(N,C) = (x-mean)*rstd*g + b; saves mean(N) and rstd(N):
 * llm__ops_layernorm_stats. */
LLM_INTERNAL void llm__grad_layernorm_fwd(float *out, float *mean, float *rstd, const float *x,
                                          const float *g, const float *b, size_t N, size_t C,
                                          float eps);
/* dx(N,C) += ..., dg(C) += Σ dout*xhat, db(C) += Σ dout. */
LLM_INTERNAL void llm__grad_layernorm_bwd(float *dx, float *dg, float *db, const float *dout,
                                          const float *x, const float *g, const float *mean,
                                          const float *rstd, size_t N, size_t C);

/* ---- RMSNorm (Llama), math.md 2.2 ---- */

/* out(N,C) = x*rstd*g; saves rstd(N): llm__ops_rmsnorm_stats. */
LLM_INTERNAL void llm__grad_rmsnorm_fwd(float *out, float *rstd, const float *x, const float *g,
                                        size_t N, size_t C, float eps);
/* dx(N,C) += ..., dg(C) += Σ dout*x*rstd. */
LLM_INTERNAL void llm__grad_rmsnorm_bwd(float *dx, float *dg, const float *dout, const float *x,
                                        const float *g, const float *rstd, size_t N, size_t C);

/* ---- GELU, tanh form (GPT-2), math.md 2.3 ---- */

/* Element-wise kernels split n into one range per pool thread; the
 * forwards run llm__ops_gelu_to / llm__ops_swiglu_to on each range. */
LLM_INTERNAL void llm__grad_gelu_fwd(llm__pool *pool, float *out, const float *x, size_t n);
/* dx[i] = dout[i] * gelu'(x[i]) (overwrites). */
LLM_INTERNAL void llm__grad_gelu_bwd(llm__pool *pool, float *dx, const float *dout,
                                     const float *x, size_t n);

/* ---- SwiGLU (Llama), math.md 2.4 ---- */

/* h[i] = silu(a[i]) * b[i]. */
LLM_INTERNAL void llm__grad_swiglu_fwd(llm__pool *pool, float *h, const float *a,
                                       const float *b, size_t n);
/* da[i] = dh*b*silu'(a), db[i] = dh*silu(a) (overwrite). */
LLM_INTERNAL void llm__grad_swiglu_bwd(llm__pool *pool, float *da, float *db, const float *dh,
                                       const float *a, const float *b, size_t n);

/* Naive references of the element-wise kernels (libm, double): op 0 gelu
 * forward (o1 = gelu(i1)), 1 gelu backward (o1 = i1 * gelu'(i2)), 2 swiglu
 * forward (o1 = silu(i1) * i2), 3 swiglu backward (o1, o2 = d(gate),
 * d(up) from dh = i1, gate = i2, up = i3). */
LLM_INTERNAL void llm__grad_ew_naive(int op, float *o1, float *o2, const float *i1,
                                     const float *i2, const float *i3, size_t n);

/* ---- RoPE, interleaved pairs (x[2i], x[2i+1]), math.md 2.5 ---- */

/* Tables cos/sin(T, D/2) of positions 0..T-1: llm__ops_rope_table. */
LLM_INTERNAL void llm__grad_rope_table(float *cos_t, float *sin_t, size_t T, size_t D,
                                       double base);
/* Rotates, in place, n_heads heads of size D of every row of x(N, ld),
 * starting at column `col`; row n is at position n % T (llm__ops_rope_rows
 * sequence by sequence). sign = +1 is the
 * forward rotation R(φ), sign = -1 its inverse Rᵀ = R(-φ), which is the
 * backward (the rotation is orthogonal). */
LLM_INTERNAL void llm__grad_rope(float *x, size_t ld, size_t col, size_t n_heads, size_t D,
                                 size_t N, size_t T, const float *cos_t, const float *sin_t,
                                 int sign);

/* ---- causal multi-head attention with GQA, math.md 1 ---- */

/* The materialising kernels: the trainer now runs the tiled attention of
 * lib/model/attn.c and lib/train/grad_attn.c, which keep no T x T
 * matrix; these stay as the second reference its tests compare with
 * (tests/train/test_flash.c), themselves checked against finite
 * differences in tests/train/test_grad_ops.c.
 * qkv(B*T, W3) holds q (NH heads) | k (NKV heads) | v (NKV heads) per row.
 * out(B*T, NH*D): concatenated heads; att(B, NH, T, T): the softmax
 * probabilities (zero above the diagonal), kept for the backward.
 * Head by head; each product through llm__gemm on the pool. */
LLM_INTERNAL void llm__grad_attention_fwd(llm__pool *pool, float *out, float *att,
                                          const float *qkv, size_t B, size_t T, size_t NH,
                                          size_t NKV, size_t D);
/* dqkv(B*T, W3) = gradient of qkv (overwritten); datt(B, NH, T, T) is
 * scratch. dout(B*T, NH*D). */
LLM_INTERNAL void llm__grad_attention_bwd(llm__pool *pool, float *dqkv, float *datt,
                                          const float *dout, const float *qkv,
                                          const float *att, size_t B, size_t T, size_t NH,
                                          size_t NKV, size_t D);
/* Naive loops in double of the same forward, for the tests. */
LLM_INTERNAL void llm__grad_attention_fwd_naive(float *out, float *att, const float *qkv,
                                                size_t B, size_t T, size_t NH, size_t NKV,
                                                size_t D);

/* ---- cross-entropy with log-sum-exp, math.md 3 ---- */

/* Over materialised logits; the trainer now runs the head fused with its
 * loss and backward by chunks (lib/train/grad_xent.c). */

/* For each of N rows of logits(N, V) with targets tgt(N): loss[n] =
 * LSE(z) - z[tgt]. When dscale != 0 the row is overwritten by its
 * gradient dscale*(softmax(z) - onehot(tgt)); otherwise the rows are used
 * as scratch (overwritten by exp(z - max)). Rows in parallel. */
LLM_INTERNAL void llm__grad_crossentropy(llm__pool *pool, float *logits, float *loss,
                                         const llm_token *tgt, size_t N, size_t V,
                                         float dscale);

/* The same in double with libm's exp, row by row (the reference). */
LLM_INTERNAL void llm__grad_crossentropy_naive(float *logits, float *loss, const llm_token *tgt,
                                               size_t N, size_t V, float dscale);

/* ---- reductions ---- */

/* out(C) += Σ_n x(n, C) with row stride ld (bias gradients). */
LLM_INTERNAL void llm__grad_colsum(float *out, const float *x, size_t N, size_t C, size_t ld);

#endif
