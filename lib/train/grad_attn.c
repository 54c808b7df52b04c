/*
 * grad_attn.c - backward of the tiled causal attention (lib/model/attn.c)
 * by recomputation, flash attention 2 style, and its naive reference.
 *
 * Per query head, query block (rows i, at most LLM__ATTN_BR) and key tile
 * (keys j, at most LLM__ATTN_BC, none above the diagonal), with the
 * forward's saved lse_i and Δ_i = Σ_c dO[i,c]·O[i,c] (math.md 1.3):
 *     P  = exp(scale·Q Kᵀ - lse)        (masked entries exactly 0)
 *     dP = dO Vᵀ
 *     dV += Pᵀ dO
 *     dS = P ∘ (dP - Δ)
 *     dQ += scale · dS K
 *     dK += scale · dSᵀ Q
 * Nothing of size T x T exists: two tiles on the stack (32 KB).
 *
 * Work split: one task per (sequence, KV head). A task owns the dK, dV
 * rows of its KV head and the dQ rows of the query heads that share it,
 * so it accumulates straight into them, in a fixed order (query heads,
 * then query blocks, then key tiles): no atomics, no per-thread copies,
 * the same bits for any number of threads. The cost is parallelism
 * limited to B * n_head_kv tasks (48 in the benchmark configurations).
 *
 * Products of tiles go through llm__gemm with a NULL pool (one thread,
 * inside a pool task); tiny ones (T of a few tokens) through loops here.
 */
#include <math.h>
#include <string.h>

#include "llm_cpu.h"
#include "model/vexp.h"
#include "train/grad_attn.h"

/* Products with fewer multiply-adds than this use the loops. */
#define GATTN_SMALL_MACS 32768

/* C(M,N) = alpha · op(A) op(B) + beta · C, row-major, as llm__gemm. */
static void tile_mm(int ta, int tb, size_t M, size_t N, size_t K, float alpha, const float *A,
                    size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc) {
    size_t i, j, k;
    if (M * N * K >= GATTN_SMALL_MACS) {
        llm__gemm(NULL, ta, tb, (int)M, (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C,
                  (int)ldc);
        return;
    }
    for (i = 0; i < M; i++)
        for (j = 0; j < N; j++) {
            float s = 0.0f;
            for (k = 0; k < K; k++)
                s += (ta ? A[k * lda + i] : A[i * lda + k]) * (tb ? B[j * ldb + k] : B[k * ldb + j]);
            C[i * ldc + j] = alpha * s + (beta == 0.0f ? 0.0f : beta * C[i * ldc + j]);
        }
}

typedef struct gattn_job {
    const llm__attn_args *a;
    const float *dout;
    float *dq, *dk, *dv;
    float scale;
} gattn_job;

static LLM__CLONES void gattn_task(void *arg, int task, int n_tasks) {
    const gattn_job *J = arg;
    const llm__attn_args *a = J->a;
    const size_t T = a->T, D = a->D, rep = a->n_head / a->n_head_kv;
    const size_t b = (size_t)task / a->n_head_kv, j = (size_t)task % a->n_head_kv;
    const float *K = a->k + b * a->k_seq + j * D; /* (T, D) ld ldk */
    const float *V = a->v + b * a->v_seq + j * D; /* (T, D) ld ldv */
    float *dK = J->dk + b * a->k_seq + j * D;     /* (T, D) ld ldk */
    float *dV = J->dv + b * a->v_seq + j * D;     /* (T, D) ld ldv */
    float P[LLM__ATTN_BR * LLM__ATTN_BC];         /* (nr, BC) probabilities */
    float dS[LLM__ATTN_BR * LLM__ATTN_BC];        /* (nr, BC) dP, then dS */
    float lse[LLM__ATTN_BR], delta[LLM__ATTN_BR];
    size_t u, i0, r, c, j0;
    (void)n_tasks;
    for (r = 0; r < T; r++) {
        memset(dK + r * a->ldk, 0, D * sizeof(float));
        memset(dV + r * a->ldv, 0, D * sizeof(float));
    }
    for (u = 0; u < rep; u++) {
        const size_t h = j * rep + u;
        const float *Q = a->q + b * a->q_seq + h * D;   /* (T, D) ld ldq */
        const float *O = a->out + b * a->o_seq + h * D; /* (T, D) ld ldo */
        const float *dO = J->dout + b * a->o_seq + h * D;
        const float *L = a->lse + (b * a->n_head + h) * T; /* (T) */
        float *dQ = J->dq + b * a->q_seq + h * D;       /* (T, D) ld ldq */
        for (r = 0; r < T; r++)
            memset(dQ + r * a->ldq, 0, D * sizeof(float));
        for (i0 = 0; i0 < T; i0 += LLM__ATTN_BR) {
            const size_t nr = T - i0 < LLM__ATTN_BR ? T - i0 : LLM__ATTN_BR;
            const float *Qb = Q + i0 * a->ldq, *dOb = dO + i0 * a->ldo;
            float *dQb = dQ + i0 * a->ldq;
            for (r = 0; r < nr; r++) {
                const float *o = O + (i0 + r) * a->ldo, *g = dOb + r * a->ldo;
                double s = 0.0;
                size_t d;
                for (d = 0; d < D; d++)
                    s += (double)o[d] * g[d];
                delta[r] = (float)s;
                lse[r] = L[i0 + r];
            }
            for (j0 = 0; j0 < i0 + nr; j0 += LLM__ATTN_BC) {
                const size_t nc = i0 + nr - j0 < LLM__ATTN_BC ? i0 + nr - j0 : LLM__ATTN_BC;
                const float *Kt = K + j0 * a->ldk, *Vt = V + j0 * a->ldv;
                /* P = exp(scale Q Ktᵀ - lse), causal */
                tile_mm(0, 1, nr, nc, D, J->scale, Qb, a->ldq, Kt, a->ldk, 0.0f, P,
                        LLM__ATTN_BC);
                for (r = 0; r < nr; r++) {
                    float *p = P + r * LLM__ATTN_BC;
                    const size_t pos = i0 + r;
                    size_t valid = pos < j0 ? 0 : pos - j0 + 1;
                    if (valid > nc)
                        valid = nc;
                    for (c = 0; c < valid; c++)
                        p[c] = llm__vexp(p[c] - lse[r]);
                    for (c = valid; c < nc; c++)
                        p[c] = 0.0f;
                }
                /* dP = dO Vtᵀ; dV_t += Pᵀ dO */
                tile_mm(0, 1, nr, nc, D, 1.0f, dOb, a->ldo, Vt, a->ldv, 0.0f, dS, LLM__ATTN_BC);
                tile_mm(1, 0, nc, D, nr, 1.0f, P, LLM__ATTN_BC, dOb, a->ldo, 1.0f,
                        dV + j0 * a->ldv, a->ldv);
                /* dS = P ∘ (dP - Δ) */
                for (r = 0; r < nr; r++) {
                    float *ds = dS + r * LLM__ATTN_BC;
                    const float *p = P + r * LLM__ATTN_BC;
                    const float dl = delta[r];
                    for (c = 0; c < nc; c++)
                        ds[c] = p[c] * (ds[c] - dl);
                }
                /* dQ_b += scale dS Kt; dK_t += scale dSᵀ Q_b */
                tile_mm(0, 0, nr, D, nc, J->scale, dS, LLM__ATTN_BC, Kt, a->ldk, 1.0f, dQb,
                        a->ldq);
                tile_mm(1, 0, nc, D, nr, J->scale, dS, LLM__ATTN_BC, Qb, a->ldq, 1.0f,
                        dK + j0 * a->ldk, a->ldk);
            }
        }
    }
}

void llm__gattn_bwd(llm__pool *pool, const llm__attn_args *a, const float *dout, float *dq,
                    float *dk, float *dv) {
    gattn_job J;
    if (a->n_seq == 0 || a->T == 0 || a->n_head == 0)
        return;
    J.a = a;
    J.dout = dout;
    J.dq = dq;
    J.dk = dk;
    J.dv = dv;
    J.scale = 1.0f / sqrtf((float)a->D);
    llm__pool_run(pool, gattn_task, &J, (int)(a->n_seq * a->n_head_kv));
}

void llm__gattn_bwd_naive(const llm__attn_args *a, const float *dout, float *dq, float *dk,
                          float *dv) {
    const size_t T = a->T, D = a->D, rep = a->n_head / a->n_head_kv;
    const double scale = 1.0 / sqrt((double)D);
    size_t b, h, i, p, d;
    for (b = 0; b < a->n_seq; b++) {
        for (i = 0; i < T; i++) {
            for (h = 0; h < a->n_head; h++)
                memset(dq + b * a->q_seq + i * a->ldq + h * D, 0, D * sizeof(float));
            for (h = 0; h < a->n_head_kv; h++) {
                memset(dk + b * a->k_seq + i * a->ldk + h * D, 0, D * sizeof(float));
                memset(dv + b * a->v_seq + i * a->ldv + h * D, 0, D * sizeof(float));
            }
        }
        for (h = 0; h < a->n_head; h++) {
            const size_t j = h / rep;
            for (i = 0; i < T; i++) {
                const float *q = a->q + b * a->q_seq + i * a->ldq + h * D;
                const float *g = dout + b * a->o_seq + i * a->ldo + h * D;
                double mx = -INFINITY, sum = 0.0, delta = 0.0;
                /* scores and probabilities of row i (keys 0..i) */
                for (p = 0; p <= i; p++) {
                    const float *k = a->k + b * a->k_seq + p * a->ldk + j * D;
                    double s = 0.0;
                    for (d = 0; d < D; d++)
                        s += (double)q[d] * k[d];
                    mx = s * scale > mx ? s * scale : mx;
                }
                for (p = 0; p <= i; p++) {
                    const float *k = a->k + b * a->k_seq + p * a->ldk + j * D;
                    double s = 0.0;
                    for (d = 0; d < D; d++)
                        s += (double)q[d] * k[d];
                    sum += exp(s * scale - mx);
                }
                /* Δ_i = Σ_p P_p dP_p with dP_p = dO_i · v_p */
                for (p = 0; p <= i; p++) {
                    const float *k = a->k + b * a->k_seq + p * a->ldk + j * D;
                    const float *v = a->v + b * a->v_seq + p * a->ldv + j * D;
                    double s = 0.0, dp = 0.0;
                    for (d = 0; d < D; d++) {
                        s += (double)q[d] * k[d];
                        dp += (double)g[d] * v[d];
                    }
                    delta += exp(s * scale - mx) / sum * dp;
                }
                for (p = 0; p <= i; p++) {
                    const float *k = a->k + b * a->k_seq + p * a->ldk + j * D;
                    const float *v = a->v + b * a->v_seq + p * a->ldv + j * D;
                    float *dqi = dq + b * a->q_seq + i * a->ldq + h * D;
                    float *dkp = dk + b * a->k_seq + p * a->ldk + j * D;
                    float *dvp = dv + b * a->v_seq + p * a->ldv + j * D;
                    double s = 0.0, dp = 0.0, P, dS;
                    for (d = 0; d < D; d++) {
                        s += (double)q[d] * k[d];
                        dp += (double)g[d] * v[d];
                    }
                    P = exp(s * scale - mx) / sum;
                    dS = P * (dp - delta);
                    for (d = 0; d < D; d++) {
                        dvp[d] = (float)(dvp[d] + P * g[d]);
                        dqi[d] = (float)(dqi[d] + scale * dS * k[d]);
                        dkp[d] = (float)(dkp[d] + scale * dS * q[d]);
                    }
                }
            }
        }
    }
}
