/*
 * xent.c - the output head's cross-entropy fused with its product, by
 * blocks of rows and chunks of the vocabulary (xent.h), and the naive
 * reference.
 *
 * Each chunk's logits Z(nr, nc) = X_block · W_chunkᵀ are one llm__gemm
 * sliced over the pool; the row statistics are then updated by the pool,
 * rows split into one contiguous range per thread. Within a row the
 * maximum and the sum run in 16 float lanes in a fixed order and the sum
 * is added to the row's double total, so results are the same bits for
 * any number of threads. exp is llm__vexp (vexp.h, relative error 1e-7),
 * which the public llm_cross_entropy does not use: it keeps the exact
 * double libm path of lib/model/ops.c for arbitrary caller logits
 * (infinities, NaN); here logits come from a finite model and a product.
 *
 * Invariants: the scratch holds one chunk of logits (R x Vc, row stride
 * the chunk's width) followed by the statistics of one block; no
 * allocation.
 */
#include <math.h>
#include <string.h>

#include "llm_cpu.h"
#include "model/vexp.h"
#include "model/xent.h"

#define XENT_LANES 16

static size_t round16(size_t n) { return (n + 15) / 16 * 16; }

void llm__xent_plan(size_t N, size_t V, size_t budget, int fwd_only, size_t *R, size_t *Vc) {
    size_t r, vc, blocks;
    if (N == 0)
        N = 1;
    if (V == 0)
        V = 1;
    if (budget < 16 * 64)
        budget = 16 * 64;
    if (!fwd_only && budget / V >= 64) {
        /* whole rows: as few blocks as fit, balanced */
        r = budget / V;
        if (r >= N) {
            *R = N;
        } else {
            blocks = (N + r - 1) / r;
            r = (N + blocks - 1) / blocks;
            r = round16(r);
            *R = r < N ? r : N;
            if (*R * V > budget) /* rounding up overshot: round down */
                *R = *R > 16 ? *R - 16 : *R;
        }
        *Vc = V;
        return;
    }
    r = N < 256 ? N : 256;
    vc = budget / r;
    if (vc >= V)
        vc = V;
    else
        vc = vc >= 16 ? vc / 16 * 16 : 16;
    *R = r;
    *Vc = vc;
}

static size_t stats_off(size_t R, size_t Vc) {
    return (R * Vc + 2 * R + 1) & ~(size_t)1; /* even: the doubles that follow are aligned */
}

size_t llm__xent_scratch_floats(size_t R, size_t Vc) { return stats_off(R, Vc) + 2 * R; }

void llm__xent_stats_of(llm__xent_stats *s, const llm__xent_args *a) {
    s->m = a->scratch + a->R * a->Vc;
    s->zy = s->m + a->R;
    s->l = (double *)(void *)(a->scratch + stats_off(a->R, a->Vc));
}

typedef struct xent_job {
    const llm__xent_args *a;
    llm__xent_stats st;
    size_t r0, nr, v0, nc;
    int first; /* the block's first chunk: initialise the statistics */
} xent_job;

/* Rows [lo, hi) of the block: fold chunk (v0, nc) into m, l, zy. */
static LLM__CLONES void xent_rows(void *arg, int task, int n_tasks) {
    const xent_job *J = arg;
    const size_t lo = J->nr * (size_t)task / (size_t)n_tasks;
    const size_t hi = J->nr * (size_t)(task + 1) / (size_t)n_tasks;
    const float *Z = J->a->scratch; /* (nr, nc) */
    size_t r, v, k;
    for (r = lo; r < hi; r++) {
        const float *z = Z + r * J->nc; /* (nc) */
        const llm_token y = J->a->tgt[J->r0 + r];
        float mx[XENT_LANES], acc[XENT_LANES], m, mold;
        double sum = 0.0;
        for (k = 0; k < XENT_LANES; k++)
            mx[k] = z[0], acc[k] = 0.0f;
        for (v = 0; v + XENT_LANES <= J->nc; v += XENT_LANES)
            for (k = 0; k < XENT_LANES; k++)
                mx[k] = z[v + k] > mx[k] ? z[v + k] : mx[k];
        for (; v < J->nc; v++)
            mx[0] = z[v] > mx[0] ? z[v] : mx[0];
        m = mx[0];
        for (k = 1; k < XENT_LANES; k++)
            m = mx[k] > m ? mx[k] : m;
        mold = J->first ? -INFINITY : J->st.m[r];
        if (mold > m)
            m = mold;
        if (J->first)
            J->st.zy[r] = 0.0f;
        if (y >= 0 && (size_t)y >= J->v0 && (size_t)y < J->v0 + J->nc)
            J->st.zy[r] = z[(size_t)y - J->v0];
        for (v = 0; v + XENT_LANES <= J->nc; v += XENT_LANES)
            for (k = 0; k < XENT_LANES; k++)
                acc[k] += llm__vexp(z[v + k] - m);
        for (; v < J->nc; v++)
            acc[0] += llm__vexp(z[v] - m);
        for (k = 0; k < XENT_LANES; k++)
            sum += acc[k];
        if (J->first)
            J->st.l[r] = sum;
        else
            J->st.l[r] = J->st.l[r] * exp((double)mold - (double)m) + sum;
        J->st.m[r] = m;
    }
}

void llm__xent_block(llm__pool *pool, const llm__xent_args *a, size_t r0, size_t nr) {
    xent_job J;
    int tasks = llm__pool_size(pool);
    size_t v0;
    J.a = a;
    llm__xent_stats_of(&J.st, a);
    J.r0 = r0;
    J.nr = nr;
    if ((size_t)tasks > nr)
        tasks = (int)nr;
    for (v0 = 0; v0 < a->V; v0 += a->Vc) {
        J.v0 = v0;
        J.nc = a->V - v0 < a->Vc ? a->V - v0 : a->Vc;
        J.first = v0 == 0;
        /* Z(nr, nc) = X_block(nr, C) · W_chunk(nc, C)ᵀ */
        llm__gemm(pool, 0, 1, (int)nr, (int)J.nc, (int)a->C, 1.0f, a->x + r0 * a->C, (int)a->C,
                  a->w + v0 * a->C, (int)a->C, 0.0f, a->scratch, (int)J.nc);
        llm__pool_run(tasks > 1 ? pool : NULL, xent_rows, &J, tasks < 1 ? 1 : tasks);
    }
}

void llm__xent_fwd(llm__pool *pool, double *nll, const llm__xent_args *a) {
    llm__xent_stats st;
    size_t r0, r;
    llm__xent_stats_of(&st, a);
    for (r0 = 0; r0 < a->N; r0 += a->R) {
        const size_t nr = a->N - r0 < a->R ? a->N - r0 : a->R;
        llm__xent_block(pool, a, r0, nr);
        for (r = 0; r < nr; r++)
            nll[r0 + r] = a->tgt[r0 + r] < 0
                              ? 0.0
                              : ((double)st.m[r] + log(st.l[r])) - (double)st.zy[r];
    }
}

void llm__xent_fwd_naive(double *nll, const float *x, const float *w, const llm_token *tgt,
                         size_t N, size_t C, size_t V) {
    size_t n, v, c;
    for (n = 0; n < N; n++) {
        double mx = -INFINITY, sum = 0.0, zy = 0.0;
        if (tgt[n] < 0) {
            nll[n] = 0.0;
            continue;
        }
        for (v = 0; v < V; v++) { /* pass 1: the max */
            double z = 0.0;
            for (c = 0; c < C; c++)
                z += (double)x[n * C + c] * w[v * C + c];
            mx = z > mx ? z : mx;
            if (v == (size_t)tgt[n])
                zy = z;
        }
        for (v = 0; v < V; v++) { /* pass 2: the sum */
            double z = 0.0;
            for (c = 0; c < C; c++)
                z += (double)x[n * C + c] * w[v * C + c];
            sum += exp(z - mx);
        }
        nll[n] = mx + log(sum) - zy;
    }
}
