/*
 * ops.c - forward kernels (math.md sections 1-3), each with the formula it
 * implements; inference and the trainer share them (ops.h). Sums of
 * squares and softmax normalisers accumulate in double where a row can be
 * long, so results do not depend on summation order more than float
 * rounding of the inputs does. No kernel allocates; none depends on the
 * thread count (the pool splits disjoint outputs).
 *
 * Which implementation was kept where both paths had one (measured with
 * gcc -O3 on this machine, 2^20 values): GELU as x·σ(2u) with libm expf
 * (3.4 ns a value, relative error 9.7e-7 on |x| < 3) over the trainer's
 * 0.5x(1 + tanh u) with a polynomial tanh (2.9-7.6 ns, 7.1e-5: 1 + tanh u
 * cancels); SwiGLU with expf (3.0-4.5 ns, 1.8e-7) over the polynomial exp
 * (4.3-6.1 ns, 2.1e-7); LayerNorm and RMSNorm were the same arithmetic
 * (kept bit for bit); the product keeps the decode path's own
 * matrix-vector kernel; RoPE uses float ω_i as PyTorch's float32
 * inv_freq (inference bits unchanged). Attention runs tiled in attn.c
 * for inference and training alike; llm__ops_attention below (one row,
 * probabilities materialised) serves LLM_CTX_ATTENTION's capture. The
 * losses of contexts and trainer are fused with the head in xent.c;
 * llm__ops_logsumexp stays the exact one of llm_cross_entropy. The
 * backwards are in lib/train/grad_ops.c, grad_attn.c and grad_xent.c.
 */
#include <math.h>
#include <string.h>

#include "format/gguf.h"
#include "llm_cpu.h"
#include "llm_matvec.h"
#include "model/ops.h"
#include "model/qmv.h"
#include "model/vexp.h"

/* ------------------------------------------------------------------------
 * Embedding
 * ------------------------------------------------------------------------ */

/* out[n] = wte[tok[n]] + wpe[pos0 + n % T]: a copy, or one add per value. */
void llm__ops_embed(float *out, const llm_token *tok, const float *wte, const float *wpe,
                    size_t N, size_t T, size_t pos0, size_t C) {
    size_t n, c;
    for (n = 0; n < N; n++) {
        const float *e = wte + (size_t)tok[n] * C; /* (C) */
        float *o = out + n * C;                    /* (C) */
        if (wpe) {
            const float *p = wpe + (pos0 + n % T) * C; /* (C) */
            for (c = 0; c < C; c++)
                o[c] = e[c] + p[c];
        } else {
            memcpy(o, e, C * sizeof *o);
        }
    }
}

/* ------------------------------------------------------------------------
 * Matrix product
 * ------------------------------------------------------------------------ */

void llm__ops_matmul_ld(llm__pool *pool, float *y, size_t ldy, const float *x, const float *w,
                        const float *b, size_t M, size_t K, size_t N, int accumulate) {
    size_t i, j;
    if (M == 0 || N == 0)
        return;
    if (M == 1) {
        /* One row (decoding) is memory-bound, so our own matrix-vector
         * kernels split over the pool, bias and all (lib/model/qmv.c),
         * not sgemm. */
        const llm__qmv_part p = {y, w, LLM__GGML_F32, b, N, accumulate};
        llm__qmv_run(pool, &p, 1, x, K, LLM__QMV_NONE);
        return;
    }
    /* Bias first, then the product is added on top (beta = 1). */
    if (!accumulate) {
        if (b) {
            for (i = 0; i < M; i++)
                memcpy(y + i * ldy, b, N * sizeof(float));
        } else {
            for (i = 0; i < M; i++)
                memset(y + i * ldy, 0, N * sizeof(float));
        }
    } else if (b) {
        for (i = 0; i < M; i++)
            for (j = 0; j < N; j++)
                y[i * ldy + j] += b[j];
    }
    /* One sgemm: llm__gemm serialises calls into the serial OpenBLAS,
     * which must not be entered by two threads at once (core gemm.c). */
    llm__gemm(pool, 0, 1, (int)M, (int)N, (int)K, 1.0f, x, (int)K, w, (int)K, 1.0f, y, (int)ldy);
}

void llm__ops_matmul(llm__pool *pool, float *y, const float *x, const float *w, const float *b,
                     size_t M, size_t K, size_t N, int accumulate) {
    llm__ops_matmul_ld(pool, y, N, x, w, b, M, K, N, accumulate);
}

void llm__ops_matmul_naive(float *y, const float *x, const float *w, const float *b, size_t M,
                           size_t K, size_t N, int accumulate) {
    size_t i, j, k;
    for (i = 0; i < M; i++)
        for (j = 0; j < N; j++) {
            double s = b ? b[j] : 0.0;
            for (k = 0; k < K; k++)
                s += (double)x[i * K + k] * w[j * K + k];
            y[i * N + j] = accumulate ? y[i * N + j] + (float)s : (float)s;
        }
}

/* ------------------------------------------------------------------------
 * Normalisation
 * ------------------------------------------------------------------------ */

/* μ = mean(x), σ² = mean((x-μ)²) (biased, as torch.nn.LayerNorm),
 * y = (x-μ)·r·g + b, r = 1/sqrt(σ²+eps); μ and r are saved per row when
 * mean/rstd are not NULL (the trainer's backward reads them). */
static LLM__CLONES void ops_layernorm_stats_v(float *y, float *mean, float *rstd, const float *x,
                                              const float *g, const float *b, size_t M, size_t C,
                                              float eps) {
    size_t i, j;
    for (i = 0; i < M; i++) {
        const float *xr = x + i * C; /* (C) */
        float *yr = y + i * C;       /* (C) */
        double mu = 0.0, var = 0.0;
        float r, m;
        for (j = 0; j < C; j++)
            mu += xr[j];
        mu /= (double)C;
        for (j = 0; j < C; j++) {
            double d = xr[j] - mu;
            var += d * d;
        }
        var /= (double)C;
        r = (float)(1.0 / sqrt(var + eps));
        m = (float)mu;
        for (j = 0; j < C; j++)
            yr[j] = (xr[j] - m) * r * g[j] + (b ? b[j] : 0.0f);
        if (mean)
            mean[i] = m;
        if (rstd)
            rstd[i] = r;
    }
}

void llm__ops_layernorm_stats(float *y, float *mean, float *rstd, const float *x, const float *g,
                              const float *b, size_t M, size_t C, float eps) {
    ops_layernorm_stats_v(y, mean, rstd, x, g, b, M, C, eps);
}

void llm__ops_layernorm(float *y, const float *x, const float *g, const float *b, size_t M,
                        size_t C, float eps) {
    llm__ops_layernorm_stats(y, NULL, NULL, x, g, b, M, C, eps);
}

/* y = x · r · g, r = 1/sqrt(mean(x²) + eps), saved per row when rstd is
 * not NULL. */
static LLM__CLONES void ops_rmsnorm_stats_v(float *y, float *rstd, const float *x, const float *g,
                                            size_t M, size_t C, float eps) {
    size_t i, j;
    for (i = 0; i < M; i++) {
        const float *xr = x + i * C; /* (C) */
        float *yr = y + i * C;       /* (C) */
        double ss = 0.0;
        float r;
        for (j = 0; j < C; j++)
            ss += (double)xr[j] * xr[j];
        r = (float)(1.0 / sqrt(ss / (double)C + eps));
        for (j = 0; j < C; j++)
            yr[j] = xr[j] * r * g[j];
        if (rstd)
            rstd[i] = r;
    }
}

void llm__ops_rmsnorm_stats(float *y, float *rstd, const float *x, const float *g, size_t M,
                            size_t C, float eps) {
    ops_rmsnorm_stats_v(y, rstd, x, g, M, C, eps);
}

void llm__ops_rmsnorm(float *y, const float *x, const float *g, size_t M, size_t C, float eps) {
    llm__ops_rmsnorm_stats(y, NULL, x, g, M, C, eps);
}

/* ------------------------------------------------------------------------
 * Activations
 * ------------------------------------------------------------------------ */

/* gelu(x) = 0.5·x·(1 + tanh(u)), u = sqrt(2/π)·(x + 0.044715·x³).
 * Since 0.5·(1 + tanh(u)) = σ(2u), this is x / (1 + exp(-2u)): one exp
 * instead of tanhf (which costs an expm1f and more), with no cancellation.
 * The exp is llm__vexp (model/vexp.h), so the loop vectorizes (compiled
 * per vector level, LLM__CLONES); its clamp at exp(88) = 1.7e38 still
 * gives -0 in the limit of very negative x (x / 1.7e38 underflows). */
static LLM__CLONES void ops_gelu_to_v(float *out, const float *x, size_t n) {
    const float s2 = 2.0f * 0.7978845608028654f; /* 2·sqrt(2/pi) */
    size_t i;
    for (i = 0; i < n; i++) {
        float v = x[i];
        out[i] = v / (1.0f + llm__vexp(-s2 * (v + 0.044715f * v * v * v)));
    }
}

void llm__ops_gelu_to(float *out, const float *x, size_t n) {
    ops_gelu_to_v(out, x, n);
}

void llm__ops_gelu(float *x, size_t n) { llm__ops_gelu_to(x, x, n); }

/* The textbook tanh form, kept as the reference for the tests. */
void llm__ops_gelu_naive(float *x, size_t n) {
    const float s = 0.7978845608028654f;
    size_t i;
    for (i = 0; i < n; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + tanhf(s * (v + 0.044715f * v * v * v)));
    }
}

/* silu(a)·b with silu(a) = a·σ(a) = a / (1 + exp(-a)), exp by llm__vexp
 * as in GELU. */
static LLM__CLONES void ops_swiglu_to_v(float *h, const float *gate, const float *up, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) {
        float a = gate[i];
        h[i] = a / (1.0f + llm__vexp(-a)) * up[i];
    }
}

void llm__ops_swiglu_to(float *h, const float *gate, const float *up, size_t n) {
    ops_swiglu_to_v(h, gate, up, n);
}

void llm__ops_swiglu(float *gate, const float *up, size_t n) {
    llm__ops_swiglu_to(gate, gate, up, n);
}

/* ------------------------------------------------------------------------
 * Rotary position embedding (NORM / interleaved pairs, formats.md 2.5)
 * ------------------------------------------------------------------------ */

/* cos/sin(T, D/2) of the angle (pos0 + t)·ω_i, ω_i = base^(-2i/D)
 * rounded to float as PyTorch's float32 inv_freq is. The product and
 * cos/sin are in double: pos·ω can be large, and float sin/cos of a
 * rounded angle would differ from PyTorch's result more than necessary. */
void llm__ops_rope_table(float *cos_t, float *sin_t, size_t pos0, size_t T, size_t D,
                         double base) {
    size_t t, i, half = D / 2;
    for (i = 0; i < half; i++) {
        const float w = (float)pow(base, -2.0 * (double)i / (double)D);
        for (t = 0; t < T; t++) {
            double ang = (double)(pos0 + t) * w;
            cos_t[t * half + i] = (float)cos(ang);
            sin_t[t * half + i] = (float)sin(ang);
        }
    }
}

/* sign +1, R(φ): a' = a cos - b sin, b' = a sin + b cos.
 * sign -1, R(φ)ᵀ = R(-φ), the backward (the rotation is orthogonal). */
void llm__ops_rope_rows(float *x, size_t ld, size_t n_rows, size_t n_heads, size_t D,
                        const float *cos_t, const float *sin_t, int sign) {
    size_t r, h, i, half = D / 2;
    for (r = 0; r < n_rows; r++) {
        const float *cs = cos_t + r * half, *sn = sin_t + r * half; /* (D/2) */
        for (h = 0; h < n_heads; h++) {
            float *v = x + r * ld + h * D; /* (D) one head */
            for (i = 0; i < half; i++) {
                float a = v[2 * i], b = v[2 * i + 1];
                float c = cs[i], s = sign > 0 ? sn[i] : -sn[i];
                v[2 * i] = a * c - b * s;
                v[2 * i + 1] = a * s + b * c;
            }
        }
    }
}

/* The reference: one position, the angles computed on the spot. */
void llm__ops_rope(float *x, size_t n_heads, size_t D, size_t pos, const float *inv_freq) {
    size_t h, i;
    for (i = 0; i < D / 2; i++) {
        double ang = (double)pos * inv_freq[i];
        float c = (float)cos(ang), s = (float)sin(ang);
        for (h = 0; h < n_heads; h++) {
            float *p = x + h * D + 2 * i;
            float a = p[0], b = p[1];
            p[0] = a * c - b * s;
            p[1] = a * s + b * c;
        }
    }
}

/* ------------------------------------------------------------------------
 * Softmax and attention
 * ------------------------------------------------------------------------ */

static LLM__CLONES void ops_softmax_v(float *x, size_t n) {
    size_t i;
    float m = -INFINITY;
    double sum = 0.0;
    for (i = 0; i < n; i++)
        if (x[i] > m)
            m = x[i];
    if (m == -INFINITY) { /* every entry masked: define the result as uniform 0 */
        memset(x, 0, n * sizeof *x);
        return;
    }
    for (i = 0; i < n; i++) {
        x[i] = expf(x[i] - m);
        sum += x[i];
    }
    for (i = 0; i < n; i++)
        x[i] = (float)(x[i] / sum);
}

void llm__ops_softmax(float *x, size_t n) {
    ops_softmax_v(x, n);
}

/* Per head: S[j] = q·k_j·s over keys 0..pos, softmax, O = Σ_j P[j]·v_j.
 * Own loops (dot with vector partial sums, and an axpy the compiler
 * vectorises), so pool workers never enter OpenBLAS concurrently. */
void llm__ops_attention(float *out, const float *q, const float *k, const float *v,
                        size_t kv_stride, size_t pos, size_t n_head, size_t n_head_kv, size_t D,
                        size_t h0, size_t h1, float *scores) {
    const size_t n_rep = n_head / n_head_kv;
    const float scale = 1.0f / sqrtf((float)D);
    size_t h, j, d;
    for (h = h0; h < h1; h++) {
        const size_t kvo = (h / n_rep) * D;
        const float *qh = q + h * D;
        float *oh = out + h * D;
        for (j = 0; j <= pos; j++)
            scores[j] = llm__dot_f32(qh, k + j * kv_stride + kvo, D) * scale;
        llm__ops_softmax(scores, pos + 1);
        memset(oh, 0, D * sizeof *oh);
        for (j = 0; j <= pos; j++) {
            const float p = scores[j], *vj = v + j * kv_stride + kvo;
            for (d = 0; d < D; d++)
                oh[d] += p * vj[d];
        }
    }
}

void llm__ops_attention_naive(float *out, const float *q, const float *k, const float *v,
                              size_t kv_stride, size_t pos, size_t n_head, size_t n_head_kv,
                              size_t D, size_t h0, size_t h1, float *scores) {
    const size_t n_rep = n_head / n_head_kv;
    const float scale = 1.0f / sqrtf((float)D);
    size_t h, j, d;
    for (h = h0; h < h1; h++) {
        const float *qh = q + h * D;
        const size_t kvo = (h / n_rep) * D;
        float *oh = out + h * D;
        /* S[j] = q·k_j / sqrt(D) for keys 0..pos (the causal mask). */
        for (j = 0; j <= pos; j++) {
            const float *kj = k + j * kv_stride + kvo;
            float s = 0.0f;
            for (d = 0; d < D; d++)
                s += qh[d] * kj[d];
            scores[j] = s * scale;
        }
        llm__ops_softmax(scores, pos + 1);
        /* O = Σ_j P[j] v_j */
        memset(oh, 0, D * sizeof *oh);
        for (j = 0; j <= pos; j++) {
            const float *vj = v + j * kv_stride + kvo;
            const float p = scores[j];
            for (d = 0; d < D; d++)
                oh[d] += p * vj[d];
        }
    }
}

/* ------------------------------------------------------------------------
 * Loss support
 * ------------------------------------------------------------------------ */

/* LSE(z) = m + log Σ exp(z - m), m = max z; returns the second term.
 * +inf or NaN logits propagate (NaN/inf results); -inf entries add 0. */
double llm__ops_logsumexp(const float *z, size_t n, float *max) {
    size_t i;
    float m = -INFINITY;
    double s = 0.0;
    for (i = 0; i < n; i++)
        if (z[i] > m || z[i] != z[i])
            m = z[i];
    *max = m;
    if (m == -INFINITY || m != m || m == INFINITY)
        return m != m ? (double)m : 0.0;
    for (i = 0; i < n; i++)
        s += exp((double)z[i] - (double)m);
    return log(s);
}
