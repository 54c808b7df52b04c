/*
 * ops.h - forward kernels of the Transformer blocks (math.md sections 1-3),
 * the ONE forward of each op, used by inference (lib/model/ctx.c) and by
 * the trainer's forward (lib/train/backprop.c) alike.
 *
 * All tensors are row-major F32. Shapes use M rows (tokens), K inputs,
 * N outputs, C width, D head size. Each kernel that has an optimised form
 * keeps a naive reference beside it (llm__ops_*_naive, or the reference
 * named in its comment) for the tests. Where the trainer needs more than
 * inference (saved statistics, a row stride, an output separate from the
 * input), the kernel takes it as an optional argument and the inference
 * form is a one-line wrapper.
 *
 * The backward of each op is NOT here: lib/ is split by link dependency
 * (style.md 3.3/3.5), and lib/model must build and read without trainer
 * code. The backwards are in lib/train/grad_ops.c in the order of this
 * file, each headed by a comment naming its forward.
 */
#ifndef LLM_OPS_H
#define LLM_OPS_H

#include "llm_core.h"
#include "llm_pool.h"

/* out(N,C) = wte[tok[n]] (+ wpe[pos0 + n % T] when wpe is not NULL): N
 * rows of sequences of T tokens, the first token at absolute position
 * pos0. Token ids must already be checked against the vocabulary. */
LLM_INTERNAL void llm__ops_embed(float *out, const llm_token *tok, const float *wte,
                                 const float *wpe, size_t N, size_t T, size_t pos0, size_t C);

/* y(M,N) = x(M,K) · w(N,K)ᵀ + b(N) (b may be NULL); with accumulate != 0
 * the product is added to y instead of overwriting it. M > 1: one
 * OpenBLAS sgemm under the process-wide BLAS lock; M == 1: our own
 * matrix-vector kernel split across `pool` (NULL: the calling thread). */
LLM_INTERNAL void llm__ops_matmul(llm__pool *pool, float *y, const float *x, const float *w, const float *b,
                                  size_t M, size_t K, size_t N, int accumulate);
/* The same with y's row stride ldy >= N (the trainer writes q|k|v into
 * column ranges of one fused row). llm__ops_matmul is ldy = N. */
LLM_INTERNAL void llm__ops_matmul_ld(llm__pool *pool, float *y, size_t ldy, const float *x,
                                     const float *w, const float *b, size_t M, size_t K,
                                     size_t N, int accumulate);
LLM_INTERNAL void llm__ops_matmul_naive(float *y, const float *x, const float *w,
                                        const float *b, size_t M, size_t K, size_t N,
                                        int accumulate);

/* LayerNorm over rows of C (biased variance): y = (x-μ)/sqrt(σ²+eps)·g + b
 * (b may be NULL). The _stats form also saves mean(M) and rstd(M) =
 * 1/sqrt(σ²+eps) for the trainer's backward (either may be NULL). */
LLM_INTERNAL void llm__ops_layernorm_stats(float *y, float *mean, float *rstd, const float *x,
                                           const float *g, const float *b, size_t M, size_t C,
                                           float eps);
LLM_INTERNAL void llm__ops_layernorm(float *y, const float *x, const float *g, const float *b,
                                     size_t M, size_t C, float eps);
/* RMSNorm over rows of C: y = x/sqrt(mean(x²)+eps)·g; the _stats form
 * also saves rstd(M) (may be NULL). */
LLM_INTERNAL void llm__ops_rmsnorm_stats(float *y, float *rstd, const float *x, const float *g,
                                         size_t M, size_t C, float eps);
LLM_INTERNAL void llm__ops_rmsnorm(float *y, const float *x, const float *g, size_t M,
                                   size_t C, float eps);
/* GELU, tanh approximation: out[i] = gelu(x[i]) over n values (out may
 * be x); llm__ops_gelu works in place. */
LLM_INTERNAL void llm__ops_gelu_to(float *out, const float *x, size_t n);
LLM_INTERNAL void llm__ops_gelu(float *x, size_t n);
LLM_INTERNAL void llm__ops_gelu_naive(float *x, size_t n);
/* SwiGLU: h[i] = silu(gate[i]) * up[i] over n values (h may be gate);
 * llm__ops_swiglu works in place on gate. */
LLM_INTERNAL void llm__ops_swiglu_to(float *h, const float *gate, const float *up, size_t n);
LLM_INTERNAL void llm__ops_swiglu(float *gate, const float *up, size_t n);
/* RoPE, interleaved pairs (x[2i], x[2i+1]) of each head of size D.
 * Tables cos/sin(T, D/2) for positions pos0..pos0+T-1, angle pos·ω_i with
 * ω_i = (float)base^(-2i/D). */
LLM_INTERNAL void llm__ops_rope_table(float *cos_t, float *sin_t, size_t pos0, size_t T,
                                      size_t D, double base);
/* Rotates, in place, n_heads heads of every row r of x(n_rows, ld) by the
 * angles of table row r; sign = +1 the forward, -1 its inverse (which is
 * the backward, the trainer's). */
LLM_INTERNAL void llm__ops_rope_rows(float *x, size_t ld, size_t n_rows, size_t n_heads,
                                     size_t D, const float *cos_t, const float *sin_t, int sign);
/* Naive reference: n_heads heads of one row at position pos, with
 * inv_freq[i] = ω_i, angles computed on the spot; same bits. */
LLM_INTERNAL void llm__ops_rope(float *x, size_t n_heads, size_t D, size_t pos,
                                const float *inv_freq);
/* Softmax in place over n values (max-subtracted). */
LLM_INTERNAL void llm__ops_softmax(float *x, size_t n);

/* Causal attention of one query token at absolute position `pos`, its
 * probabilities materialised in `scores`: the kernel of LLM_CTX_ATTENTION's
 * captured layer (every other attention runs tiled, lib/model/attn.h).
 * q: (NH*D); k, v: rows 0..pos of the sequence's keys and values, row
 * stride kv_stride floats, KV head j at offset j*D; out: (NH*D); scores:
 * scratch of pos+1 floats. Computes query heads h0..h1-1 only (so heads
 * can be shared out to threads). Query head h reads KV head h / (NH/NKV). */
LLM_INTERNAL void llm__ops_attention(float *out, const float *q, const float *k,
                                     const float *v, size_t kv_stride, size_t pos,
                                     size_t n_head, size_t n_head_kv, size_t D,
                                     size_t h0, size_t h1, float *scores);
LLM_INTERNAL void llm__ops_attention_naive(float *out, const float *q, const float *k,
                                           const float *v, size_t kv_stride, size_t pos,
                                           size_t n_head, size_t n_head_kv, size_t D,
                                           size_t h0, size_t h1, float *scores);

/* Log-softmax statistics of one row of logits: *max = m = max z and the
 * return value log Σ exp(z - m) in double, so that log p(y) =
 * (z[y] - m) - return value keeps full precision even for huge logits. */
LLM_INTERNAL double llm__ops_logsumexp(const float *z, size_t n, float *max);

#endif
