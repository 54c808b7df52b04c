/*
 * grad_xent.c - backward of the fused, chunked cross-entropy of the
 * output head (lib/model/xent.c), and its naive reference.
 *
 * Per block of rows, when its whole rows fit (Vc = V, the trainer's
 * default: see llm__xent_plan): the logits Z = X_block · Wᵀ, one pass per
 * row that leaves G = dscale · (softmax(z) - onehot(y)) in place (max,
 * exp kept and summed, scaled), then the two products of the head's
 * backward, dX_block = G · W and dW += Gᵀ · X_block.
 * Otherwise, by chunks of columns: pass 1 is llm__xent_block (the online
 * log-sum-exp over the chunks, math.md 3); pass 2 recomputes each chunk's
 * logits, turns them into G = dscale · (exp(z - m) / l - onehot(y)) and
 * applies the two products to that chunk:
 *     dX_block (=, then +=) G · W_chunk      dW_chunk += Gᵀ · X_block
 * Products are llm__gemm sliced over the pool. Memory: one chunk of
 * logits (R x Vc).
 *
 * Invariants: rows are split over the pool into contiguous ranges and
 * every product is one llm__gemm, so the result is the same bits for any
 * number of threads; no allocation.
 */
#include <math.h>
#include <string.h>

#include "llm_cpu.h"
#include "model/vexp.h"
#include "train/grad_xent.h"

typedef struct gxent_job {
    const llm__xent_args *a;
    llm__xent_stats st;
    size_t r0, nr, v0, nc;
    float dscale;
    float *loss; /* (N) */
} gxent_job;

/* Rows [lo, hi) of the chunk in the scratch become their gradient. */
static LLM__CLONES void gxent_rows(void *arg, int task, int n_tasks) {
    const gxent_job *J = arg;
    const size_t lo = J->nr * (size_t)task / (size_t)n_tasks;
    const size_t hi = J->nr * (size_t)(task + 1) / (size_t)n_tasks;
    size_t r, v;
    for (r = lo; r < hi; r++) {
        float *z = J->a->scratch + r * J->nc; /* (nc) */
        const llm_token y = J->a->tgt[J->r0 + r];
        const float m = J->st.m[r], s = (float)((double)J->dscale / J->st.l[r]);
        if (y < 0) { /* skipped row: no gradient */
            memset(z, 0, J->nc * sizeof *z);
            continue;
        }
        for (v = 0; v < J->nc; v++)
            z[v] = llm__vexp(z[v] - m) * s;
        if ((size_t)y >= J->v0 && (size_t)y < J->v0 + J->nc)
            z[(size_t)y - J->v0] -= J->dscale;
    }
}

/* Whole rows (Vc >= V), rows [lo, hi) of the block: one pass as the
 * loss needs (max, then exp(z - m) kept in place and summed), the loss,
 * then with dscale != 0 the gradient dscale·(exp(z - m)/l - onehot) in
 * place: every logit is read twice and exp computed once. */
#define GX_LANES 16
static LLM__CLONES void gxent_whole_rows(void *arg, int task, int n_tasks) {
    const gxent_job *J = arg;
    const size_t lo = J->nr * (size_t)task / (size_t)n_tasks;
    const size_t hi = J->nr * (size_t)(task + 1) / (size_t)n_tasks;
    const size_t V = J->a->V;
    size_t r, v, k;
    for (r = lo; r < hi; r++) {
        float *z = J->a->scratch + r * V; /* (V) */
        const llm_token y = J->a->tgt[J->r0 + r];
        float mx[GX_LANES], acc[GX_LANES], m, zy, s;
        double sum = 0.0;
        if (y < 0) {
            J->loss[J->r0 + r] = 0.0f;
            memset(z, 0, V * sizeof *z);
            continue;
        }
        zy = z[y];
        for (k = 0; k < GX_LANES; k++)
            mx[k] = z[0], acc[k] = 0.0f;
        for (v = 0; v + GX_LANES <= V; v += GX_LANES)
            for (k = 0; k < GX_LANES; k++)
                mx[k] = z[v + k] > mx[k] ? z[v + k] : mx[k];
        for (; v < V; v++)
            mx[0] = z[v] > mx[0] ? z[v] : mx[0];
        m = mx[0];
        for (k = 1; k < GX_LANES; k++)
            m = mx[k] > m ? mx[k] : m;
        for (v = 0; v < V; v++)
            z[v] = llm__vexp(z[v] - m);
        for (v = 0; v + GX_LANES <= V; v += GX_LANES)
            for (k = 0; k < GX_LANES; k++)
                acc[k] += z[v + k];
        for (; v < V; v++)
            acc[0] += z[v];
        for (k = 0; k < GX_LANES; k++)
            sum += acc[k];
        J->loss[J->r0 + r] = (float)(((double)m + log(sum)) - (double)zy);
        if (J->dscale == 0.0f)
            continue;
        s = (float)((double)J->dscale / sum);
        for (v = 0; v < V; v++)
            z[v] *= s;
        z[y] -= J->dscale;
    }
}

void llm__gxent_fwd_bwd(llm__pool *pool, float *loss, float *dx, float *dw,
                        const llm__xent_args *a, float dscale) {
    gxent_job J;
    size_t r0, r;
    int tasks = llm__pool_size(pool);
    J.a = a;
    J.dscale = dscale;
    J.loss = loss;
    llm__xent_stats_of(&J.st, a);
    for (r0 = 0; r0 < a->N; r0 += a->R) {
        const size_t nr = a->N - r0 < a->R ? a->N - r0 : a->R;
        const float *Xb = a->x + r0 * a->C; /* (nr, C) */
        size_t v0;
        int t = (size_t)tasks > nr ? (int)nr : tasks;
        if (a->Vc >= a->V) { /* whole rows: one pass over the logits */
            J.r0 = r0;
            J.nr = nr;
            llm__gemm(pool, 0, 1, (int)nr, (int)a->V, (int)a->C, 1.0f, Xb, (int)a->C, a->w,
                      (int)a->C, 0.0f, a->scratch, (int)a->V);
            llm__pool_run(t > 1 ? pool : NULL, gxent_whole_rows, &J, t < 1 ? 1 : t);
            if (dscale != 0.0f) {
                llm__gemm(pool, 0, 0, (int)nr, (int)a->C, (int)a->V, 1.0f, a->scratch,
                          (int)a->V, a->w, (int)a->C, 0.0f, dx + r0 * a->C, (int)a->C);
                llm__gemm(pool, 1, 0, (int)a->V, (int)a->C, (int)nr, 1.0f, a->scratch,
                          (int)a->V, Xb, (int)a->C, 1.0f, dw, (int)a->C);
            }
            continue;
        }
        llm__xent_block(pool, a, r0, nr);
        for (r = 0; r < nr; r++)
            loss[r0 + r] = a->tgt[r0 + r] < 0
                               ? 0.0f
                               : (float)(((double)J.st.m[r] + log(J.st.l[r])) -
                                         (double)J.st.zy[r]);
        if (dscale == 0.0f)
            continue;
        J.r0 = r0;
        J.nr = nr;
        for (v0 = 0; v0 < a->V; v0 += a->Vc) {
            J.v0 = v0;
            J.nc = a->V - v0 < a->Vc ? a->V - v0 : a->Vc;
            if (a->Vc < a->V) /* pass 1 overwrote it: recompute this chunk */
                llm__gemm(pool, 0, 1, (int)nr, (int)J.nc, (int)a->C, 1.0f, Xb, (int)a->C,
                          a->w + v0 * a->C, (int)a->C, 0.0f, a->scratch, (int)J.nc);
            llm__pool_run(t > 1 ? pool : NULL, gxent_rows, &J, t < 1 ? 1 : t);
            /* dX_block (=, +=) G(nr, nc) · W_chunk(nc, C) */
            llm__gemm(pool, 0, 0, (int)nr, (int)a->C, (int)J.nc, 1.0f, a->scratch, (int)J.nc,
                      a->w + v0 * a->C, (int)a->C, v0 == 0 ? 0.0f : 1.0f, dx + r0 * a->C,
                      (int)a->C);
            /* dW_chunk(nc, C) += Gᵀ · X_block(nr, C) */
            llm__gemm(pool, 1, 0, (int)J.nc, (int)a->C, (int)nr, 1.0f, a->scratch, (int)J.nc,
                      Xb, (int)a->C, 1.0f, dw + v0 * a->C, (int)a->C);
        }
    }
}

void llm__gxent_naive(float *loss, float *dx, float *dw, const float *x, const float *w,
                      const llm_token *tgt, size_t N, size_t C, size_t V, float dscale) {
    size_t n, v, c;
    for (n = 0; n < N; n++) {
        const float *xn = x + n * C; /* (C) */
        double mx = -INFINITY, sum = 0.0, zy = 0.0;
        for (c = 0; c < C; c++)
            dx[n * C + c] = 0.0f;
        if (tgt[n] < 0) {
            loss[n] = 0.0f;
            continue;
        }
        for (v = 0; v < V; v++) {
            double z = 0.0;
            for (c = 0; c < C; c++)
                z += (double)xn[c] * w[v * C + c];
            mx = z > mx ? z : mx;
            if (v == (size_t)tgt[n])
                zy = z;
        }
        for (v = 0; v < V; v++) {
            double z = 0.0;
            for (c = 0; c < C; c++)
                z += (double)xn[c] * w[v * C + c];
            sum += exp(z - mx);
        }
        loss[n] = (float)(mx + log(sum) - zy);
        if (dscale == 0.0f)
            continue;
        for (v = 0; v < V; v++) {
            double z = 0.0, g;
            for (c = 0; c < C; c++)
                z += (double)xn[c] * w[v * C + c];
            g = dscale * (exp(z - mx) / sum - (v == (size_t)tgt[n] ? 1.0 : 0.0));
            for (c = 0; c < C; c++) {
                dx[n * C + c] = (float)(dx[n * C + c] + g * w[v * C + c]);
                dw[v * C + c] = (float)(dw[v * C + c] + g * xn[c]);
            }
        }
    }
}
