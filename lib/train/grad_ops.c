/*
 * grad_ops.c - the backward kernels of every op of GPT-2 and Llama blocks
 * (math.md 1-3), in the order of their forwards in lib/model/ops.c, each
 * headed by a comment naming the forward it differentiates.
 *
 * Where the forwards live. Every op has ONE forward. Embedding, linear
 * layers, LayerNorm, RMSNorm, GELU, SwiGLU and RoPE use the inference
 * kernels of lib/model/ops.c (llm__ops_*; the norms save their mean/rstd
 * for the backward through the _stats forms), so the trainer's loss is
 * the evaluator's by construction. The backwards stay here rather than
 * beside their forwards in ops.c because lib/ is split by link
 * dependency (style.md 3.3, 3.5): lib/model must build and read without
 * trainer code, and ops.h states that rule. The llm__grad_*_fwd functions
 * kept below are thin adapters to the ops.c kernels in the trainer's
 * shapes (pool-split element-wise ranges, RoPE by sequence, the layouts
 * tests/train/test_grad_ops.c checks forward and backward in).
 *
 * Attention and the head's cross-entropy now run in their own files
 * (tiled: lib/model/attn.c, lib/train/grad_attn.c; fused by chunks:
 * lib/model/xent.c, lib/train/grad_xent.c). The materialising versions
 * below stay as references for their tests; as written before:
 *   - attention: llm__ops_attention computes one query row against a KV
 *     cache (decode) with its own loops, so pool workers never enter
 *     OpenBLAS; the trainer needs all T x T probabilities of every head
 *     kept for its backward, and computes them as llm__gemm products.
 *     The trainer's causal softmax uses llm__vexp, 2x faster than
 *     llm__ops_softmax (3.3 vs 6.8 ns a score, T = 512; relative error
 *     1.5e-6 against 5.8e-7), which ops.c cannot use without this file's
 *     compile options (lib/train/sources.cmake).
 *   - cross-entropy: llm__grad_crossentropy overwrites the logits with
 *     their gradient in one pass, vectorised (78 us a row of 50257 logits,
 *     relative error 1.4e-7); llm__ops_logsumexp, behind the public
 *     llm_cross_entropy, is exact in double and defines the loss for
 *     +-inf and NaN logits (272 us a row).
 *
 * Invariants: kernels never allocate; the only parallel ones (attention,
 * cross-entropy, the element-wise ops, and the products inside
 * llm__gemm) split work into disjoint outputs and reduce in a fixed
 * order, so a result is the same bits for any number of threads.
 * Statistics (means, variances, sums of products) are accumulated in
 * double: they are O(N*C), cheap next to the products, and keep the float
 * gradients within rounding of the double-precision finite differences
 * the tests compare them with.
 */
#include <math.h>
#include <string.h>

#include "llm_cpu.h"
#include "model/ops.h"
#include "model/vexp.h"
#include "train/grad_ops.h"

/* exp(x) that the compiler vectorizes: llm__vexp (lib/model/vexp.h;
 * glibc's expf and tanhf are scalar calls, and GELU and the softmax over
 * 50257 logits would spend most of their time there). */

/* tanh(u) = 1 - 2 / (e^{2u} + 1): exact limits ±1, absolute error ~1e-7. */
static inline float tanh_approx(float u) {
    return 1.0f - 2.0f / (llm__vexp(2.0f * u) + 1.0f);
}

/* ------------------------------------------------------------------------
 * Embedding: out = wte[tok] (+ wpe[pos])
 * ------------------------------------------------------------------------ */

/* Forward: llm__ops_embed (lib/model/ops.c); row n is at position n % T. */
void llm__grad_embed_fwd(float *out, const llm_token *tok, const float *wte, const float *wpe,
                         size_t N, size_t T, size_t C) {
    llm__ops_embed(out, tok, wte, wpe, N, T, 0, C);
}

/* Backward of llm__ops_embed. Serial: two rows may share a token. */
void llm__grad_embed_bwd(float *dwte, float *dwpe, const float *dout, const llm_token *tok,
                         size_t N, size_t T, size_t C) {
    size_t n, c;
    for (n = 0; n < N; n++) {
        const float *d = dout + n * C;             /* (C) */
        float *e = dwte + (size_t)tok[n] * C;      /* (C) */
        for (c = 0; c < C; c++)
            e[c] += d[c];
        if (dwpe) {
            float *p = dwpe + (n % T) * C;         /* (C) */
            for (c = 0; c < C; c++)
                p[c] += d[c];
        }
    }
}

/* ------------------------------------------------------------------------
 * Linear layers. Forward: llm__ops_matmul_ld (naive reference
 * llm__ops_matmul_naive); backward products through llm__gemm (naive
 * reference llm__gemm_naive in lib/core/gemm.c).
 * ------------------------------------------------------------------------ */

/* Forward: llm__ops_matmul_ld (lib/model/ops.c), the inference product
 * with a row stride, so training and inference share one kernel. */
void llm__grad_linear_fwd(llm__pool *pool, float *y, size_t ldy, const float *x, const float *W,
                          const float *b, size_t N, size_t I, size_t O, int accumulate) {
    llm__ops_matmul_ld(pool, y, ldy, x, W, b, N, I, O, accumulate);
}

/* Backward of llm__ops_matmul_ld. */
void llm__grad_linear_bwd(llm__pool *pool, float *dx, float *dW, float *db, const float *dy,
                          size_t ldy, const float *x, const float *W, size_t N, size_t I,
                          size_t O, int accumulate_dx) {
    /* dW(O,I) += dy(N,O)ᵀ · x(N,I) */
    llm__gemm(pool, 1, 0, (int)O, (int)I, (int)N, 1.0f, dy, (int)ldy, x, (int)I, 1.0f, dW,
              (int)I);
    /* dx(N,I) (+)= dy(N,O) · W(O,I) */
    if (dx)
        llm__gemm(pool, 0, 0, (int)N, (int)I, (int)O, 1.0f, dy, (int)ldy, W, (int)I,
                  accumulate_dx ? 1.0f : 0.0f, dx, (int)I);
    if (db)
        llm__grad_colsum(db, dy, N, O, ldy);
}

static LLM__CLONES void grad_colsum_v(float *out, const float *x, size_t N, size_t C, size_t ld) {
    size_t n, c;
    for (n = 0; n < N; n++)
        for (c = 0; c < C; c++)
            out[c] += x[n * ld + c];
}

void llm__grad_colsum(float *out, const float *x, size_t N, size_t C, size_t ld) {
    grad_colsum_v(out, x, N, C, ld);
}

/* ------------------------------------------------------------------------
 * LayerNorm
 * ------------------------------------------------------------------------ */

/* Forward: llm__ops_layernorm_stats (lib/model/ops.c). */
void llm__grad_layernorm_fwd(float *out, float *mean, float *rstd, const float *x,
                             const float *g, const float *b, size_t N, size_t C, float eps) {
    llm__ops_layernorm_stats(out, mean, rstd, x, g, b, N, C, eps);
}

/* Backward of llm__ops_layernorm_stats, with g' = dout*g and xhat=(x-mean)*rstd:
 *   dx = rstd * (g' - mean(g') - xhat * mean(g' * xhat)). */
static LLM__CLONES void grad_layernorm_bwd_v(float *dx, float *dg, float *db, const float *dout,
                                             const float *x, const float *g, const float *mean,
                                             const float *rstd, size_t N, size_t C) {
    size_t n, c;
    for (n = 0; n < N; n++) {
        const float *d = dout + n * C, *xr = x + n * C; /* (C) each */
        float *dxr = dx + n * C;                         /* (C) */
        const float m = mean[n], r = rstd[n];
        double sg = 0.0, sgx = 0.0;
        float mg, mgx;
        for (c = 0; c < C; c++) {
            float xh = (xr[c] - m) * r;
            float gg = d[c] * g[c];
            sg += gg;
            sgx += (double)gg * xh;
            dg[c] += d[c] * xh;
            db[c] += d[c];
        }
        mg = (float)(sg / (double)C);
        mgx = (float)(sgx / (double)C);
        for (c = 0; c < C; c++) {
            float xh = (xr[c] - m) * r;
            dxr[c] += r * (d[c] * g[c] - mg - xh * mgx);
        }
    }
}

void llm__grad_layernorm_bwd(float *dx, float *dg, float *db, const float *dout, const float *x,
                             const float *g, const float *mean, const float *rstd, size_t N,
                             size_t C) {
    grad_layernorm_bwd_v(dx, dg, db, dout, x, g, mean, rstd, N, C);
}

/* ------------------------------------------------------------------------
 * RMSNorm
 * ------------------------------------------------------------------------ */

/* Forward: llm__ops_rmsnorm_stats (lib/model/ops.c). */
void llm__grad_rmsnorm_fwd(float *out, float *rstd, const float *x, const float *g, size_t N,
                           size_t C, float eps) {
    llm__ops_rmsnorm_stats(out, rstd, x, g, N, C, eps);
}

/* Backward of llm__ops_rmsnorm_stats: dx = rstd * (g' - xhat * mean(g' * xhat)). */
static LLM__CLONES void grad_rmsnorm_bwd_v(float *dx, float *dg, const float *dout, const float *x,
                                           const float *g, const float *rstd, size_t N, size_t C) {
    size_t n, c;
    for (n = 0; n < N; n++) {
        const float *d = dout + n * C, *xr = x + n * C; /* (C) each */
        float *dxr = dx + n * C;                         /* (C) */
        const float r = rstd[n];
        double sgx = 0.0;
        float mgx;
        for (c = 0; c < C; c++) {
            float xh = xr[c] * r;
            sgx += (double)d[c] * g[c] * xh;
            dg[c] += d[c] * xh;
        }
        mgx = (float)(sgx / (double)C);
        for (c = 0; c < C; c++)
            dxr[c] += r * (d[c] * g[c] - xr[c] * r * mgx);
    }
}

void llm__grad_rmsnorm_bwd(float *dx, float *dg, const float *dout, const float *x,
                           const float *g, const float *rstd, size_t N, size_t C) {
    grad_rmsnorm_bwd_v(dx, dg, dout, x, g, rstd, N, C);
}

/* ------------------------------------------------------------------------
 * GELU (tanh approximation)
 * ------------------------------------------------------------------------ */

#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */

/* Backward of llm__ops_gelu_to (lib/model/ops.c, the forward, in the
 * sigmoid form x·σ(2u) of the same function):
 * gelu'(x) = 0.5(1+tanh u) + 0.5 x (1-tanh²u) sqrt(2/π)(1 + 3·0.044715 x²) */
static LLM__CLONES void gelu_bwd(float *dx, const float *dout, const float *x, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) {
        float v = x[i];
        float u = GELU_K * (v + 0.044715f * v * v * v);
        float t = tanh_approx(u);
        float du = GELU_K * (1.0f + 3.0f * 0.044715f * v * v);
        dx[i] = dout[i] * (0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * du);
    }
}

/* ------------------------------------------------------------------------
 * SwiGLU
 * ------------------------------------------------------------------------ */

/* Backward of llm__ops_swiglu_to (lib/model/ops.c):
 * silu'(a) = σ(a)(1 + a(1 - σ(a))) */
static LLM__CLONES void swiglu_bwd(float *da, float *db, const float *dh, const float *a,
                                   const float *b, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) {
        float s = 1.0f / (1.0f + llm__vexp(-a[i]));
        float silu = a[i] * s;
        float dsilu = s * (1.0f + a[i] * (1.0f - s));
        float g = dh[i];
        da[i] = g * b[i] * dsilu;
        db[i] = g * silu;
    }
}

/* ------------------------------------------------------------------------
 * Element-wise ops on the pool: each task takes a contiguous range, so the
 * result is the same for any number of threads.
 * ------------------------------------------------------------------------ */

typedef struct ew_job {
    int op; /* 0 gelu fwd, 1 gelu bwd, 2 swiglu fwd, 3 swiglu bwd */
    float *o1, *o2;
    const float *i1, *i2, *i3;
    size_t n;
} ew_job;

static void ew_task(void *arg, int task, int n_tasks) {
    const ew_job *j = arg;
    size_t lo = j->n * (size_t)task / (size_t)n_tasks;
    size_t hi = j->n * (size_t)(task + 1) / (size_t)n_tasks;
    size_t k = hi - lo;
    switch (j->op) {
    case 0: llm__ops_gelu_to(j->o1 + lo, j->i1 + lo, k); break;
    case 1: gelu_bwd(j->o1 + lo, j->i1 + lo, j->i2 + lo, k); break;
    case 2: llm__ops_swiglu_to(j->o1 + lo, j->i1 + lo, j->i2 + lo, k); break;
    default: swiglu_bwd(j->o1 + lo, j->o2 + lo, j->i1 + lo, j->i2 + lo, j->i3 + lo, k); break;
    }
}

static void ew_run(llm__pool *pool, int op, float *o1, float *o2, const float *i1,
                   const float *i2, const float *i3, size_t n) {
    ew_job j;
    int tasks = llm__pool_size(pool);
    j.op = op;
    j.o1 = o1, j.o2 = o2, j.i1 = i1, j.i2 = i2, j.i3 = i3;
    j.n = n;
    if (n < 4096)
        tasks = 1;
    llm__pool_run(tasks > 1 ? pool : NULL, ew_task, &j, tasks);
}

void llm__grad_gelu_fwd(llm__pool *pool, float *out, const float *x, size_t n) {
    ew_run(pool, 0, out, NULL, x, NULL, NULL, n);
}

void llm__grad_gelu_bwd(llm__pool *pool, float *dx, const float *dout, const float *x, size_t n) {
    ew_run(pool, 1, dx, NULL, dout, x, NULL, n);
}

void llm__grad_swiglu_fwd(llm__pool *pool, float *h, const float *a, const float *b, size_t n) {
    ew_run(pool, 2, h, NULL, a, b, NULL, n);
}

void llm__grad_swiglu_bwd(llm__pool *pool, float *da, float *db, const float *dh, const float *a,
                          const float *b, size_t n) {
    ew_run(pool, 3, da, db, dh, a, b, n);
}

/* Naive references of the four element-wise kernels: libm in double. */
void llm__grad_ew_naive(int op, float *o1, float *o2, const float *i1, const float *i2,
                        const float *i3, size_t n) {
    const double k = 0.7978845608028654;
    size_t i;
    for (i = 0; i < n; i++) {
        double x = op == 1 ? i2[i] : i1[i], u, t, s;
        switch (op) {
        case 0: /* gelu forward: o1 = gelu(i1) */
            o1[i] = (float)(0.5 * x * (1.0 + tanh(k * (x + 0.044715 * x * x * x))));
            break;
        case 1: /* gelu backward: o1 = i1 * gelu'(i2) */
            u = k * (x + 0.044715 * x * x * x);
            t = tanh(u);
            o1[i] = (float)(i1[i] * (0.5 * (1.0 + t) +
                                     0.5 * x * (1.0 - t * t) * k * (1.0 + 3.0 * 0.044715 * x * x)));
            break;
        case 2: /* swiglu forward: o1 = silu(i1) * i2 */
            o1[i] = (float)(x / (1.0 + exp(-x)) * i2[i]);
            break;
        default: /* swiglu backward: (o1, o2) = d(gate), d(up) from dh = i1, a = i2, b = i3 */
            x = i2[i];
            s = 1.0 / (1.0 + exp(-x));
            o1[i] = (float)(i1[i] * i3[i] * s * (1.0 + x * (1.0 - s)));
            o2[i] = (float)(i1[i] * x * s);
            break;
        }
    }
}

/* ------------------------------------------------------------------------
 * RoPE
 * ------------------------------------------------------------------------ */

/* Forward and backward: llm__ops_rope_table and llm__ops_rope_rows
 * (lib/model/ops.c); the backward is the inverse rotation (sign -1). */
void llm__grad_rope_table(float *cos_t, float *sin_t, size_t T, size_t D, double base) {
    llm__ops_rope_table(cos_t, sin_t, 0, T, D, base);
}

/* Sequence by sequence: row n is at position n % T. */
void llm__grad_rope(float *x, size_t ld, size_t col, size_t n_heads, size_t D, size_t N,
                    size_t T, const float *cos_t, const float *sin_t, int sign) {
    size_t n0;
    if (T == 0)
        return;
    for (n0 = 0; n0 < N; n0 += T)
        llm__ops_rope_rows(x + n0 * ld + col, ld, N - n0 < T ? N - n0 : T, n_heads, D, cos_t,
                           sin_t, sign);
}

/* ------------------------------------------------------------------------
 * Causal attention with grouped-query heads
 *
 * Head by head, each product through llm__gemm on the pool. (Running
 * heads in parallel, each with a serial product, would call OpenBLAS
 * from several threads at once, which Debian's serial OpenBLAS does not
 * survive: its buffer allocator has no lock.) Scores are computed as
 * full T x T products and the upper triangle then zeroed: twice the
 * arithmetic of a triangular loop, but at BLAS speed. dK and dV of a
 * KV head sum over its query heads in head order.
 * ------------------------------------------------------------------------ */

/* Row-wise causal softmax of P(T, T) in place: row i keeps keys 0..i. */
static void causal_softmax(float *P, size_t T) {
    size_t i, k;
    for (i = 0; i < T; i++) {
        float *p = P + i * T; /* (T) */
        float mx = p[0], sum = 0.0f, inv;
        for (k = 1; k <= i; k++)
            mx = p[k] > mx ? p[k] : mx;
        for (k = 0; k <= i; k++) {
            p[k] = llm__vexp(p[k] - mx);
            sum += p[k];
        }
        inv = 1.0f / sum;
        for (k = 0; k <= i; k++)
            p[k] *= inv;
        for (k = i + 1; k < T; k++)
            p[k] = 0.0f;
    }
}

void llm__grad_attention_fwd(llm__pool *pool, float *out, float *att, const float *qkv,
                             size_t B, size_t T, size_t NH, size_t NKV, size_t D) {
    const size_t C = NH * D, W3 = C + 2 * NKV * D, rep = NH / NKV;
    const float scale = (float)(1.0 / sqrt((double)D));
    size_t b, h;
    for (b = 0; b < B; b++)
        for (h = 0; h < NH; h++) {
            const size_t j = h / rep;
            const float *Q = qkv + b * T * W3 + h * D;                /* (T, D) ld W3 */
            const float *K = qkv + b * T * W3 + C + j * D;            /* (T, D) ld W3 */
            const float *Vv = qkv + b * T * W3 + C + NKV * D + j * D; /* (T, D) ld W3 */
            float *P = att + (b * NH + h) * T * T;                    /* (T, T) */
            float *O = out + b * T * C + h * D;                       /* (T, D) ld C */
            /* S = scale * Q Kᵀ; P = softmax(S) causal; O = P V */
            llm__gemm(pool, 0, 1, (int)T, (int)T, (int)D, scale, Q, (int)W3, K, (int)W3, 0.0f,
                      P, (int)T);
            causal_softmax(P, T);
            llm__gemm(pool, 0, 0, (int)T, (int)D, (int)T, 1.0f, P, (int)T, Vv, (int)W3, 0.0f,
                      O, (int)C);
        }
}

/* Backward (math.md 1.3), per query head h of KV head j:
 *   dP = dO Vᵀ;  dV_j += Pᵀ dO;  dS = P ⊙ (dP - rowsum(P ⊙ dP));
 *   dQ_h = scale dS K_j;  dK_j += scale dSᵀ Q_h. */
void llm__grad_attention_bwd(llm__pool *pool, float *dqkv, float *datt, const float *dout,
                             const float *qkv, const float *att, size_t B, size_t T, size_t NH,
                             size_t NKV, size_t D) {
    const size_t C = NH * D, W3 = C + 2 * NKV * D, rep = NH / NKV;
    const float scale = (float)(1.0 / sqrt((double)D));
    size_t b, h, i, k;
    for (b = 0; b < B; b++)
        for (i = 0; i < T; i++) /* dK, dV of this sequence accumulate: start at 0 */
            memset(dqkv + (b * T + i) * W3 + C, 0, 2 * NKV * D * sizeof *dqkv);
    for (b = 0; b < B; b++)
        for (h = 0; h < NH; h++) {
            const size_t j = h / rep;
            const float *Q = qkv + b * T * W3 + h * D;                /* (T, D) ld W3 */
            const float *K = qkv + b * T * W3 + C + j * D;            /* (T, D) ld W3 */
            const float *Vv = qkv + b * T * W3 + C + NKV * D + j * D; /* (T, D) ld W3 */
            const float *P = att + (b * NH + h) * T * T;              /* (T, T) */
            const float *dO = dout + b * T * C + h * D;               /* (T, D) ld C */
            float *dP = datt + (b * NH + h) * T * T;                  /* (T, T) */
            float *dQ = dqkv + b * T * W3 + h * D;                    /* (T, D) ld W3 */
            float *dK = dqkv + b * T * W3 + C + j * D;                /* (T, D) ld W3 */
            float *dV = dqkv + b * T * W3 + C + NKV * D + j * D;      /* (T, D) ld W3 */
            llm__gemm(pool, 0, 1, (int)T, (int)T, (int)D, 1.0f, dO, (int)C, Vv, (int)W3, 0.0f,
                      dP, (int)T);
            llm__gemm(pool, 1, 0, (int)T, (int)D, (int)T, 1.0f, P, (int)T, dO, (int)C, 1.0f, dV,
                      (int)W3);
            for (i = 0; i < T; i++) {
                const float *p = P + i * T; /* (T) */
                float *dp = dP + i * T;     /* (T) becomes dS */
                double s = 0.0;
                float sf;
                for (k = 0; k <= i; k++)
                    s += (double)p[k] * dp[k];
                sf = (float)s;
                for (k = 0; k <= i; k++)
                    dp[k] = p[k] * (dp[k] - sf);
                for (k = i + 1; k < T; k++)
                    dp[k] = 0.0f;
            }
            llm__gemm(pool, 0, 0, (int)T, (int)D, (int)T, scale, dP, (int)T, K, (int)W3, 0.0f, dQ,
                      (int)W3);
            llm__gemm(pool, 1, 0, (int)T, (int)D, (int)T, scale, dP, (int)T, Q, (int)W3, 1.0f, dK,
                      (int)W3);
        }
}

void llm__grad_attention_fwd_naive(float *out, float *att, const float *qkv, size_t B, size_t T,
                                   size_t NH, size_t NKV, size_t D) {
    const size_t C = NH * D, W3 = C + 2 * NKV * D, rep = NH / NKV;
    const double scale = 1.0 / sqrt((double)D);
    size_t b, h, i, k, d;
    for (b = 0; b < B; b++)
        for (h = 0; h < NH; h++) {
            const size_t j = h / rep;
            float *P = att + (b * NH + h) * T * T;
            for (i = 0; i < T; i++) {
                const float *q = qkv + (b * T + i) * W3 + h * D;
                double mx = -INFINITY, sum = 0.0;
                double s[4096];
                for (k = 0; k <= i; k++) {
                    const float *kk = qkv + (b * T + k) * W3 + C + j * D;
                    double acc = 0.0;
                    for (d = 0; d < D; d++)
                        acc += (double)q[d] * kk[d];
                    s[k] = acc * scale;
                    if (s[k] > mx)
                        mx = s[k];
                }
                for (k = 0; k <= i; k++) {
                    s[k] = exp(s[k] - mx);
                    sum += s[k];
                }
                for (k = 0; k < T; k++)
                    P[i * T + k] = k <= i ? (float)(s[k] / sum) : 0.0f;
                for (d = 0; d < D; d++) {
                    double acc = 0.0;
                    for (k = 0; k <= i; k++)
                        acc += s[k] / sum * qkv[(b * T + k) * W3 + C + NKV * D + j * D + d];
                    out[(b * T + i) * C + h * D + d] = (float)acc;
                }
            }
        }
}

/* ------------------------------------------------------------------------
 * Cross-entropy
 * ------------------------------------------------------------------------ */

typedef struct ce_job {
    float *logits, *loss;
    const llm_token *tgt;
    size_t N, V;
    float dscale;
} ce_job;

/* max over z[0..V) in 16 lanes (a > b ? a : b is what maxps does). */
#define CE_LANES 16
static float ce_max(const float *z, size_t V) {
    float m[CE_LANES], mx;
    size_t v, k;
    for (k = 0; k < CE_LANES; k++)
        m[k] = z[0];
    for (v = 0; v + CE_LANES <= V; v += CE_LANES)
        for (k = 0; k < CE_LANES; k++)
            m[k] = z[v + k] > m[k] ? z[v + k] : m[k];
    for (; v < V; v++)
        m[0] = z[v] > m[0] ? z[v] : m[0];
    mx = m[0];
    for (k = 1; k < CE_LANES; k++)
        mx = m[k] > mx ? m[k] : mx;
    return mx;
}

/* z[v] = exp(z[v] - mx) for all v; returns their sum, accumulated in 16
 * float lanes (a fixed order) and added up in double. */
static double ce_exp_sum(float *z, size_t V, float mx) {
    float acc[CE_LANES] = {0};
    double sum = 0.0;
    size_t v, k;
    for (v = 0; v < V; v++)
        z[v] = llm__vexp(z[v] - mx);
    for (v = 0; v + CE_LANES <= V; v += CE_LANES)
        for (k = 0; k < CE_LANES; k++)
            acc[k] += z[v + k];
    for (; v < V; v++)
        acc[0] += z[v];
    for (k = 0; k < CE_LANES; k++)
        sum += acc[k];
    return sum;
}

static LLM__CLONES void ce_task(void *arg, int task, int n_tasks) {
    const ce_job *j = arg;
    size_t lo = j->N * (size_t)task / (size_t)n_tasks;
    size_t hi = j->N * (size_t)(task + 1) / (size_t)n_tasks;
    size_t n, v;
    for (n = lo; n < hi; n++) {
        float *z = j->logits + n * j->V; /* (V) */
        const size_t y = (size_t)j->tgt[n];
        const float zy = z[y], mx = ce_max(z, j->V);
        const double sum = ce_exp_sum(z, j->V, mx);
        j->loss[n] = (float)((double)mx + log(sum) - (double)zy);
        if (j->dscale != 0.0f) {
            /* z holds exp(z - max): dz = dscale * (softmax(z) - onehot(y)) */
            const float scale = (float)((double)j->dscale / sum);
            for (v = 0; v < j->V; v++)
                z[v] *= scale;
            z[y] -= j->dscale;
        }
    }
}

void llm__grad_crossentropy_naive(float *logits, float *loss, const llm_token *tgt, size_t N,
                                  size_t V, float dscale) {
    size_t n, v;
    for (n = 0; n < N; n++) {
        float *z = logits + n * V; /* (V) */
        double mx = z[0], sum = 0.0;
        for (v = 1; v < V; v++)
            mx = z[v] > mx ? z[v] : mx;
        for (v = 0; v < V; v++)
            sum += exp((double)z[v] - mx);
        loss[n] = (float)(mx + log(sum) - (double)z[tgt[n]]);
        if (dscale != 0.0f) {
            for (v = 0; v < V; v++)
                z[v] = (float)(dscale * (exp((double)z[v] - mx) / sum - (v == (size_t)tgt[n])));
        }
    }
}

void llm__grad_crossentropy(llm__pool *pool, float *logits, float *loss, const llm_token *tgt,
                            size_t N, size_t V, float dscale) {
    ce_job j;
    int tasks = llm__pool_size(pool);
    j.logits = logits;
    j.loss = loss;
    j.tgt = tgt;
    j.N = N;
    j.V = V;
    j.dscale = dscale;
    if ((size_t)tasks > N)
        tasks = (int)N;
    llm__pool_run(pool, ce_task, &j, tasks < 1 ? 1 : tasks);
}
