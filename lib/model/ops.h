/*
 * ops.h - forward kernels of the Transformer blocks (math.md sections 1-3).
 *
 * All tensors are row-major F32. Shapes use M rows (tokens), K inputs,
 * N outputs, C width, D head size. Each kernel that has an optimised form
 * keeps a naive reference beside it (llm__ops_*_naive) for the tests; the
 * backward of each op belongs right after its forward in ops.c.
 */
#ifndef LLM_OPS_H
#define LLM_OPS_H

#include "llm_core.h"
#include "llm_pool.h"

/* y(M,N) = x(M,K) · w(N,K)ᵀ + b(N) (b may be NULL); with accumulate != 0
 * the product is added to y instead of overwriting it. M > 1: one
 * OpenBLAS sgemm under the process-wide BLAS lock; M == 1: our own
 * matrix-vector kernel split across `pool` (NULL: the calling thread). */
LLM_INTERNAL void llm__ops_matmul(llm__pool *pool, float *y, const float *x, const float *w, const float *b,
                                  size_t M, size_t K, size_t N, int accumulate);
LLM_INTERNAL void llm__ops_matmul_naive(float *y, const float *x, const float *w,
                                        const float *b, size_t M, size_t K, size_t N,
                                        int accumulate);

/* LayerNorm over rows of C (biased variance): y = (x-μ)/sqrt(σ²+eps)·g + b. */
LLM_INTERNAL void llm__ops_layernorm(float *y, const float *x, const float *g, const float *b,
                                     size_t M, size_t C, float eps);
/* RMSNorm over rows of C: y = x/sqrt(mean(x²)+eps)·g. */
LLM_INTERNAL void llm__ops_rmsnorm(float *y, const float *x, const float *g, size_t M,
                                   size_t C, float eps);
/* GELU, tanh approximation, in place over n values. */
LLM_INTERNAL void llm__ops_gelu(float *x, size_t n);
LLM_INTERNAL void llm__ops_gelu_naive(float *x, size_t n);
/* SwiGLU: gate[i] = silu(gate[i]) * up[i], in place over n values. */
LLM_INTERNAL void llm__ops_swiglu(float *gate, const float *up, size_t n);
/* RoPE, interleaved pairs (x[2i], x[2i+1]) of each of n_heads heads of
 * size D, at position pos, with inv_freq[i] = base^(-2i/D), in place. */
LLM_INTERNAL void llm__ops_rope(float *x, size_t n_heads, size_t D, size_t pos,
                                const float *inv_freq);
/* Softmax in place over n values (max-subtracted). */
LLM_INTERNAL void llm__ops_softmax(float *x, size_t n);

/* Causal attention of one query token at absolute position `pos`.
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
