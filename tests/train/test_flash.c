/*
 * test_flash.c - the tiled attention (lib/model/attn.c, its backward
 * lib/train/grad_attn.c) and the fused, chunked cross-entropy
 * (lib/model/xent.c, lib/train/grad_xent.c) against independent oracles:
 *   - the naive double-precision references beside each kernel, over
 *     shapes that hit the tile edges (T not a multiple of the tile, T = 1
 *     decode with GQA, queries after a KV cache, T = 1024 with one head);
 *   - central finite differences in double of forwards written here from
 *     math.md 1 and 3 (attention and cross-entropy backwards);
 *   - the materialising attention of lib/train/grad_ops.c, itself checked
 *     against finite differences in test_grad_ops;
 *   - bit-identical results for 1 and 2 threads;
 *   - the trainer's activation memory growing linearly with T.
 * PyTorch parity of whole training steps with these kernels is
 * tests/train/torch_ref.py (train_torch).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/attn.h"
#include "model/xent.h"
#include "train/grad_attn.h"
#include "train/grad_ops.h"
#include "train/grad_xent.h"
#include "train/train.h"

static uint64_t rs = 977;
static double urand(void) { /* (-1, 1) */
    uint64_t z = (rs += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return ((double)(z >> 11) / 9007199254740992.0) * 2.0 - 1.0;
}

static float *rnd(size_t n, double s) {
    float *f = malloc(n * sizeof *f);
    size_t i;
    for (i = 0; i < n; i++)
        f[i] = (float)(urand() * s);
    return f;
}

/* max|a - b| / max|b| */
static double rel_ff(const float *a, const float *b, size_t n) {
    double e = 0.0, s = 0.0;
    size_t i;
    for (i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= e))
            e = d; /* NaN makes e NaN */
        if (fabs(b[i]) > s)
            s = fabs(b[i]);
    }
    return e / (s > 0 ? s : 1.0);
}

static double rel_fd(const float *a, const double *b, size_t n) {
    double e = 0.0, s = 0.0;
    size_t i;
    for (i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= e))
            e = d;
        if (fabs(b[i]) > s)
            s = fabs(b[i]);
    }
    return e / (s > 0 ? s : 1.0);
}

#define ASSERT_LE(err, tol, what)                                              \
    do {                                                                       \
        double e_ = (err);                                                     \
        if (!(e_ <= (tol)))                                                    \
            fail_msg("%s: relative error %.3e > %.1e", (what), e_, (double)(tol)); \
    } while (0)

static llm__pool *make_pool(int threads) {
    llm__pool *p = NULL;
    llm__mem mem;
    llm__mem_init(&mem, NULL, NULL);
    assert_int_equal(llm__pool_create(&p, threads, &mem), LLM_OK);
    return p;
}

/* ------------------------------------------------------------------------
 * Attention forward: tiled vs naive
 * ------------------------------------------------------------------------ */

/* One attention problem: fused q|k|v rows (pos0 == 0, as the trainer) or
 * separate q and a KV cache of pos0 + T rows (n_seq 1, as decode). */
typedef struct prob {
    llm__attn_args a;
    float *q, *k, *v, *qkv;
    size_t nq, nk, no; /* floats of q (or qkv), k, v each, out */
} prob;

static void prob_make(prob *p, size_t B, size_t T, size_t pos0, size_t NH, size_t NKV,
                      size_t D) {
    const size_t C = NH * D, Ekv = NKV * D;
    llm__attn_args *a = &p->a;
    memset(p, 0, sizeof *p);
    a->n_seq = B, a->T = T, a->pos0 = pos0;
    a->n_head = NH, a->n_head_kv = NKV, a->D = D;
    if (pos0 == 0) { /* the trainer's layout */
        const size_t W3 = C + 2 * Ekv;
        p->nq = B * T * W3;
        p->qkv = rnd(p->nq, 1.5);
        a->q = p->qkv, a->ldq = W3, a->q_seq = T * W3;
        a->k = p->qkv + C, a->ldk = W3, a->k_seq = T * W3;
        a->v = p->qkv + C + Ekv, a->ldv = W3, a->v_seq = T * W3;
    } else { /* the context's: q rows and a cache of keys 0..pos0+T-1 */
        assert_int_equal(B, 1);
        p->nq = T * C;
        p->nk = (pos0 + T) * Ekv;
        p->q = rnd(p->nq, 1.5);
        p->k = rnd(p->nk, 1.5);
        p->v = rnd(p->nk, 1.5);
        a->q = p->q, a->ldq = C, a->q_seq = T * C;
        a->k = p->k, a->ldk = Ekv;
        a->v = p->v, a->ldv = Ekv;
    }
    p->no = B * T * C;
    a->ldo = C, a->o_seq = T * C;
}

static void prob_free(prob *p) { free(p->q), free(p->k), free(p->v), free(p->qkv); }

static void check_fwd(size_t B, size_t T, size_t pos0, size_t NH, size_t NKV, size_t D) {
    prob p;
    float *o_ref, *o[2], *l_ref, *l[2];
    llm__attn_args a;
    int th;
    prob_make(&p, B, T, pos0, NH, NKV, D);
    a = p.a;
    o_ref = malloc(p.no * 4), l_ref = malloc(B * NH * T * 4);
    a.out = o_ref, a.lse = l_ref;
    llm__attn_fwd_naive(&a);
    for (th = 1; th <= 2; th++) {
        llm__pool *pool = make_pool(th);
        o[th - 1] = malloc(p.no * 4), l[th - 1] = malloc(B * NH * T * 4);
        a.out = o[th - 1], a.lse = l[th - 1];
        llm__attn_fwd(pool, &a);
        /* outputs are averages of up to pos0+T values: their size falls as
         * 1/sqrt(keys) while float rounding of the sums does not */
        ASSERT_LE(rel_ff(o[th - 1], o_ref, p.no), 2e-6 * fmax(1.0, sqrt((double)(pos0 + T) / 256)),
                  "tiled attention output vs naive");
        ASSERT_LE(rel_ff(l[th - 1], l_ref, B * NH * T), 1e-6, "tiled attention lse vs naive");
        llm__pool_free(pool);
    }
    assert_memory_equal(o[0], o[1], p.no * 4);
    assert_memory_equal(l[0], l[1], B * NH * T * 4);
    /* lse is optional: the output does not change without it */
    a.out = o[1], a.lse = NULL;
    llm__attn_fwd(NULL, &a);
    assert_memory_equal(o[0], o[1], p.no * 4);
    free(o_ref), free(l_ref), free(o[0]), free(o[1]), free(l[0]), free(l[1]);
    prob_free(&p);
}

static void test_attn_fwd_shapes(void **state) {
    (void)state;
    check_fwd(3, 7, 0, 3, 3, 8);     /* tiny: the loop products */
    check_fwd(2, 100, 0, 4, 2, 64);  /* T not a multiple of the tile, GQA */
    check_fwd(2, 129, 0, 2, 1, 32);  /* MQA, one row past two tiles */
    check_fwd(1, 64, 0, 2, 2, 80);   /* exactly one tile, D not a power of 2 */
}

static void test_attn_fwd_cache(void **state) {
    (void)state;
    check_fwd(1, 1, 0, 4, 1, 16);    /* the first token alone */
    check_fwd(1, 1, 37, 8, 2, 16);   /* decode, GQA: heads of a KV head grouped */
    check_fwd(1, 1, 200, 6, 6, 64);  /* decode, MHA, several key tiles */
    check_fwd(1, 5, 70, 4, 1, 32);   /* a few tokens after a cache (loop path) */
    check_fwd(1, 90, 45, 4, 2, 64);  /* prefill after a cache, tiles off the diagonal */
    /* blocks of a few rows take wider key tiles (4096 / rows): several of them */
    check_fwd(1, 1, 5000, 2, 2, 16); /* decode, one row: two tiles of 4096 */
    check_fwd(1, 1, 3000, 8, 2, 16); /* decode, GQA groups of 4 rows: tiles of 1024 */
    check_fwd(1, 3, 2100, 4, 1, 8);  /* three tokens after a cache: tiles of 1360 */
}

static void test_attn_fwd_long(void **state) {
    (void)state;
    check_fwd(1, 1024, 0, 1, 1, 64); /* long sequence, one head */
}

/* Large scores (a dominant key): the online rescaling must not overflow
 * and must match the naive two-pass softmax. */
static void test_attn_fwd_large_scores(void **state) {
    prob p;
    float *o1, *o2;
    llm__attn_args a;
    size_t i;
    (void)state;
    prob_make(&p, 1, 150, 0, 2, 2, 16);
    for (i = 0; i < p.nq; i++)
        p.qkv[i] *= 12.0f; /* scores of order 100s */
    a = p.a;
    o1 = malloc(p.no * 4), o2 = malloc(p.no * 4);
    a.out = o1;
    llm__attn_fwd_naive(&a);
    a.out = o2;
    llm__attn_fwd(NULL, &a);
    /* float scores of size ~500 carry absolute errors ~500 * 6e-8 = 3e-5,
     * which exp turns into relative errors of the weights of that size */
    ASSERT_LE(rel_ff(o2, o1, p.no), 1e-4, "tiled attention with large scores");
    for (i = 0; i < p.no; i++)
        assert_true(isfinite(o2[i]));
    free(o1), free(o2);
    prob_free(&p);
}

/* ------------------------------------------------------------------------
 * Attention backward
 * ------------------------------------------------------------------------ */

/* Tiled backward vs the naive (double) one and vs the materialising
 * kernels of grad_ops.c; 1 and 2 threads give the same bits. */
static void check_bwd(size_t B, size_t T, size_t NH, size_t NKV, size_t D, int with_old) {
    prob p;
    llm__attn_args a;
    const size_t C = NH * D, W3 = C + 2 * NKV * D, N = B * T;
    float *out = malloc(N * C * 4), *lse = malloc(B * NH * T * 4), *dout = rnd(N * C, 1.0);
    float *g_ref = malloc(N * W3 * 4), *g[2];
    int th;
    prob_make(&p, B, T, 0, NH, NKV, D);
    a = p.a;
    a.out = out, a.lse = lse;
    llm__attn_fwd(NULL, &a);
    llm__gattn_bwd_naive(&a, dout, g_ref, g_ref + C, g_ref + C + NKV * D);
    for (th = 1; th <= 2; th++) {
        llm__pool *pool = make_pool(th);
        g[th - 1] = malloc(N * W3 * 4);
        memset(g[th - 1], 0x7f, N * W3 * 4); /* garbage: the kernel overwrites */
        llm__gattn_bwd(pool, &a, dout, g[th - 1], g[th - 1] + C, g[th - 1] + C + NKV * D);
        ASSERT_LE(rel_ff(g[th - 1], g_ref, N * W3), 1e-5, "tiled attention backward vs naive");
        llm__pool_free(pool);
    }
    assert_memory_equal(g[0], g[1], N * W3 * 4);
    if (with_old) { /* the materialising kernels, finite-difference checked elsewhere */
        float *att = malloc(B * NH * T * T * 4), *datt = malloc(B * NH * T * T * 4);
        float *o2 = malloc(N * C * 4), *g2 = malloc(N * W3 * 4);
        llm__grad_attention_fwd(NULL, o2, att, p.qkv, B, T, NH, NKV, D);
        ASSERT_LE(rel_ff(out, o2, N * C), 2e-6, "tiled vs materialising attention forward");
        llm__grad_attention_bwd(NULL, g2, datt, dout, p.qkv, att, B, T, NH, NKV, D);
        ASSERT_LE(rel_ff(g[0], g2, N * W3), 2e-5, "tiled vs materialising attention backward");
        free(att), free(datt), free(o2), free(g2);
    }
    free(out), free(lse), free(dout), free(g_ref), free(g[0]), free(g[1]);
    prob_free(&p);
}

static void test_attn_bwd_shapes(void **state) {
    (void)state;
    check_bwd(2, 6, 4, 1, 4, 1);    /* tiny, MQA */
    check_bwd(3, 7, 3, 3, 8, 1);    /* tiny, MHA */
    check_bwd(2, 100, 4, 2, 64, 1); /* two query blocks, GQA, sgemm tiles */
    check_bwd(1, 1, 2, 1, 16, 1);   /* T = 1 */
}

static void test_attn_bwd_long(void **state) {
    (void)state;
    check_bwd(1, 1024, 1, 1, 64, 0);
}

/* Finite differences in double of Σ w·O for O = attention(q, k, v) (math.md
 * 1.1, written here), against the tiled backward with dO = w. */
typedef struct fd_att {
    double *qkv, *w;
    size_t B, T, NH, NKV, D;
} fd_att;

static double fd_att_obj(const fd_att *c) {
    const size_t C = c->NH * c->D, W3 = C + 2 * c->NKV * c->D, rep = c->NH / c->NKV;
    double obj = 0.0;
    size_t b, h, i, k, d;
    for (b = 0; b < c->B; b++)
        for (h = 0; h < c->NH; h++)
            for (i = 0; i < c->T; i++) {
                double s[64], mx = -1e300, sum = 0.0;
                const double *q = c->qkv + (b * c->T + i) * W3 + h * c->D;
                for (k = 0; k <= i; k++) {
                    const double *kk = c->qkv + (b * c->T + k) * W3 + C + (h / rep) * c->D;
                    double acc = 0.0;
                    for (d = 0; d < c->D; d++)
                        acc += q[d] * kk[d];
                    s[k] = acc / sqrt((double)c->D);
                    mx = s[k] > mx ? s[k] : mx;
                }
                for (k = 0; k <= i; k++)
                    sum += (s[k] = exp(s[k] - mx));
                for (d = 0; d < c->D; d++) {
                    double acc = 0.0;
                    for (k = 0; k <= i; k++)
                        acc += s[k] / sum *
                               c->qkv[(b * c->T + k) * W3 + C + c->NKV * c->D + (h / rep) * c->D + d];
                    obj += c->w[(b * c->T + i) * C + h * c->D + d] * acc;
                }
            }
    return obj;
}

static void test_attn_bwd_fd(void **state) {
    const size_t B = 2, T = 9, NH = 4, NKV = 2, D = 6, C = NH * D, W3 = C + 2 * NKV * D;
    const size_t N = B * T;
    prob p;
    llm__attn_args a;
    fd_att c;
    float *out = malloc(N * C * 4), *lse = malloc(B * NH * T * 4), *w = rnd(N * C, 1.0);
    float *g = malloc(N * W3 * 4);
    double *fd = malloc(N * W3 * 8);
    size_t i;
    (void)state;
    prob_make(&p, B, T, 0, NH, NKV, D);
    c.qkv = malloc(N * W3 * 8), c.w = malloc(N * C * 8);
    c.B = B, c.T = T, c.NH = NH, c.NKV = NKV, c.D = D;
    for (i = 0; i < N * W3; i++)
        c.qkv[i] = p.qkv[i];
    for (i = 0; i < N * C; i++)
        c.w[i] = w[i];
    for (i = 0; i < N * W3; i++) {
        const double h = 1e-5, x0 = c.qkv[i];
        double fp, fm;
        c.qkv[i] = x0 + h;
        fp = fd_att_obj(&c);
        c.qkv[i] = x0 - h;
        fm = fd_att_obj(&c);
        c.qkv[i] = x0;
        fd[i] = (fp - fm) / (2 * h);
    }
    a = p.a;
    a.out = out, a.lse = lse;
    llm__attn_fwd(NULL, &a);
    llm__gattn_bwd(NULL, &a, w, g, g + C, g + C + NKV * D);
    ASSERT_LE(rel_fd(g, fd, N * W3), 1e-4, "tiled attention backward vs finite differences");
    free(out), free(lse), free(w), free(g), free(fd), free(c.qkv), free(c.w);
    prob_free(&p);
}

/* ------------------------------------------------------------------------
 * Fused cross-entropy
 * ------------------------------------------------------------------------ */

static llm_token *rnd_targets(size_t N, size_t V, int with_skips) {
    llm_token *t = malloc(N * sizeof *t);
    size_t n;
    for (n = 0; n < N; n++)
        t[n] = (llm_token)((urand() * 0.5 + 0.5) * (double)V) % (llm_token)V;
    t[0] = 0;
    t[N - 1] = (llm_token)V - 1; /* first and last column */
    if (with_skips)
        t[N / 2] = -1;
    return t;
}

static void check_xent_fwd(size_t N, size_t C, size_t V, size_t budget) {
    float *x = rnd(N * C, 1.0), *w = rnd(V * C, 1.0);
    llm_token *tgt = rnd_targets(N, V, 1);
    double *ref = malloc(N * 8), *got[2];
    llm__xent_args a;
    int th;
    llm__xent_fwd_naive(ref, x, w, tgt, N, C, V);
    a.N = N, a.C = C, a.V = V, a.x = x, a.w = w, a.tgt = tgt;
    llm__xent_plan(N, V, budget, 1, &a.R, &a.Vc);
    a.scratch = malloc(llm__xent_scratch_floats(a.R, a.Vc) * 4);
    for (th = 1; th <= 2; th++) {
        llm__pool *pool = make_pool(th);
        size_t n;
        double e = 0.0;
        got[th - 1] = malloc(N * 8);
        llm__xent_fwd(pool, got[th - 1], &a);
        for (n = 0; n < N; n++)
            e = fmax(e, fabs(got[th - 1][n] - ref[n]) / fmax(1.0, fabs(ref[n])));
        ASSERT_LE(e, 2e-6, "fused cross-entropy loss vs naive");
        assert_true(got[th - 1][N / 2] == 0.0); /* skipped row */
        llm__pool_free(pool);
    }
    assert_memory_equal(got[0], got[1], N * 8);
    free(x), free(w), free(tgt), free(ref), free(got[0]), free(got[1]), free(a.scratch);
}

static void test_xent_fwd(void **state) {
    (void)state;
    check_xent_fwd(37, 24, 1000, 1 << 20);     /* one chunk */
    check_xent_fwd(37, 24, 1000, 37 * 100);    /* chunks of 96 columns, the last 40 */
    check_xent_fwd(300, 16, 517, 16 * 64);     /* blocks of 256 rows, chunks of 16 */
    check_xent_fwd(1, 8, 5, 1);                /* one row, budget below the minimum */
}

static void check_gxent(size_t N, size_t C, size_t V, size_t budget, float dscale) {
    float *x = rnd(N * C, 1.0), *w = rnd(V * C, 1.0);
    llm_token *tgt = rnd_targets(N, V, 0);
    float *loss_ref = malloc(N * 4), *dx_ref = malloc(N * C * 4), *dw_ref = rnd(V * C, 0.1);
    float *loss[2], *dx[2], *dw[2];
    llm__xent_args a;
    int th;
    a.N = N, a.C = C, a.V = V, a.x = x, a.w = w, a.tgt = tgt;
    llm__xent_plan(N, V, budget, 0, &a.R, &a.Vc);
    a.scratch = malloc(llm__xent_scratch_floats(a.R, a.Vc) * 4);
    for (th = 1; th <= 2; th++) {
        llm__pool *pool = make_pool(th);
        loss[th - 1] = malloc(N * 4);
        dx[th - 1] = malloc(N * C * 4);
        dw[th - 1] = malloc(V * C * 4);
        memcpy(dw[th - 1], dw_ref, V * C * 4); /* dw accumulates onto this */
        memset(dx[th - 1], 0x7f, N * C * 4);   /* dx is overwritten */
        llm__gxent_fwd_bwd(pool, loss[th - 1], dx[th - 1], dw[th - 1], &a, dscale);
        llm__pool_free(pool);
    }
    llm__gxent_naive(loss_ref, dx_ref, dw_ref, x, w, tgt, N, C, V, dscale);
    ASSERT_LE(rel_ff(loss[0], loss_ref, N), 2e-6, "fused cross-entropy loss vs naive");
    if (dscale != 0.0f) {
        ASSERT_LE(rel_ff(dx[0], dx_ref, N * C), 1e-5, "fused cross-entropy dx vs naive");
        ASSERT_LE(rel_ff(dw[0], dw_ref, V * C), 1e-5, "fused cross-entropy dw vs naive");
    }
    assert_memory_equal(loss[0], loss[1], N * 4);
    assert_memory_equal(dx[0], dx[1], N * C * 4);
    assert_memory_equal(dw[0], dw[1], V * C * 4);
    free(x), free(w), free(tgt), free(loss_ref), free(dx_ref), free(dw_ref), free(a.scratch);
    for (th = 0; th < 2; th++)
        free(loss[th]), free(dx[th]), free(dw[th]);
}

static void test_xent_bwd(void **state) {
    (void)state;
    check_gxent(50, 24, 700, 1 << 20, 0.02f);  /* whole rows, one block */
    check_gxent(300, 24, 700, 100 * 700, 0.02f); /* whole rows, balanced blocks */
    check_gxent(50, 24, 700, 50 * 96, 0.02f);  /* chunks of 96 columns: recomputed */
    check_gxent(20, 8, 33, 16 * 64, 1.0f);     /* budget below the minimum */
    check_gxent(50, 24, 700, 50 * 96, 0.0f);   /* forward only, chunks */
    check_gxent(50, 24, 700, 1 << 20, 0.0f);   /* forward only, whole rows */
}

/* Finite differences in double of dscale·Σ_n nll_n (math.md 3) against
 * dx and dw, chunked (Vc < V, so the gradient pass recomputes logits). */
typedef struct fd_ce {
    double *x, *w;
    const llm_token *t;
    size_t N, C, V;
} fd_ce;

static double fd_ce_obj(const fd_ce *c) {
    double obj = 0.0;
    size_t n, v, k;
    for (n = 0; n < c->N; n++) {
        double mx = -1e300, s = 0.0, z[64];
        for (v = 0; v < c->V; v++) {
            z[v] = 0.0;
            for (k = 0; k < c->C; k++)
                z[v] += c->x[n * c->C + k] * c->w[v * c->C + k];
            mx = z[v] > mx ? z[v] : mx;
        }
        for (v = 0; v < c->V; v++)
            s += exp(z[v] - mx);
        obj += 0.5 * (mx + log(s) - z[c->t[n]]);
    }
    return obj;
}

static void fd_all(fd_ce *c, double *p, size_t n, double *g) {
    size_t i;
    for (i = 0; i < n; i++) {
        const double h = 1e-5, x0 = p[i];
        double fp, fm;
        p[i] = x0 + h;
        fp = fd_ce_obj(c);
        p[i] = x0 - h;
        fm = fd_ce_obj(c);
        p[i] = x0;
        g[i] = (fp - fm) / (2 * h);
    }
}

static void test_xent_bwd_fd(void **state) {
    const size_t N = 7, C = 5, V = 53;
    float *x = rnd(N * C, 2.0), *w = rnd(V * C, 2.0), loss[7];
    float *dx = malloc(N * C * 4), *dw = calloc(V * C, 4);
    llm_token *tgt = rnd_targets(N, V, 0);
    double *fx = malloc(N * C * 8), *fw = malloc(V * C * 8);
    fd_ce c;
    llm__xent_args a;
    size_t i;
    (void)state;
    c.x = malloc(N * C * 8), c.w = malloc(V * C * 8), c.t = tgt, c.N = N, c.C = C, c.V = V;
    for (i = 0; i < N * C; i++)
        c.x[i] = x[i];
    for (i = 0; i < V * C; i++)
        c.w[i] = w[i];
    fd_all(&c, c.x, N * C, fx);
    fd_all(&c, c.w, V * C, fw);
    a.N = N, a.C = C, a.V = V, a.x = x, a.w = w, a.tgt = tgt;
    a.R = 4, a.Vc = 16; /* two blocks, four chunks (the last 5 wide) */
    a.scratch = malloc(llm__xent_scratch_floats(a.R, a.Vc) * 4);
    llm__gxent_fwd_bwd(NULL, loss, dx, dw, &a, 0.5f);
    ASSERT_LE(rel_fd(dx, fx, N * C), 1e-4, "fused cross-entropy dx vs finite differences");
    ASSERT_LE(rel_fd(dw, fw, V * C), 1e-4, "fused cross-entropy dw vs finite differences");
    free(x), free(w), free(dx), free(dw), free(tgt), free(fx), free(fw), free(c.x), free(c.w);
    free(a.scratch);
}

static void test_xent_plan(void **state) {
    size_t R, Vc;
    (void)state;
    /* the trainer's benchmark shape: whole rows in balanced blocks */
    llm__xent_plan(2048, 50257, (size_t)1 << 25, 0, &R, &Vc);
    assert_int_equal(Vc, 50257);
    assert_true(R * Vc <= ((size_t)1 << 25) && R % 16 == 0 && R >= 64);
    assert_int_equal((2048 + R - 1) / R, (2048 + 667 - 1) / 667); /* fewest blocks */
    /* everything fits: one block */
    llm__xent_plan(100, 1000, 1 << 20, 0, &R, &Vc);
    assert_int_equal(R, 100), assert_int_equal(Vc, 1000);
    /* a vocabulary too large for 64 whole rows: chunks of columns */
    llm__xent_plan(2048, 1 << 20, (size_t)1 << 25, 0, &R, &Vc);
    assert_int_equal(R, 256);
    assert_true(Vc < (1u << 20) && R * Vc <= ((size_t)1 << 25) && Vc % 16 == 0);
    /* loss only: rows of 256, chunks filling the budget */
    llm__xent_plan(2048, 50257, (size_t)1 << 20, 1, &R, &Vc);
    assert_int_equal(R, 256), assert_int_equal(Vc, 4096);
}

/* ------------------------------------------------------------------------
 * The trainer: activation memory linear in T
 * ------------------------------------------------------------------------ */

static size_t act_floats(size_t T) {
    llm_model_config c;
    llm_trainer_opts o;
    llm_model *m = NULL;
    llm_trainer *tr = NULL;
    size_t n;
    LLM_MODEL_CONFIG_INIT(&c);
    c.arch = LLM_ARCH_LLAMA;
    c.n_layer = 2, c.n_embd = 32, c.n_head = 4, c.n_head_kv = 2, c.n_vocab = 64;
    c.n_ff = 64, c.n_ctx = 2048;
    assert_int_equal(llm_model_create(&m, &c, 1, NULL), LLM_OK);
    LLM_TRAINER_OPTS_INIT(&o);
    o.batch = 1, o.seq_len = (uint32_t)T;
    assert_int_equal(llm_trainer_create(&tr, m, &o), LLM_OK);
    n = tr->act_floats;
    llm_trainer_free(tr);
    llm_model_free(m);
    return n;
}

static void test_trainer_memory_linear(void **state) {
    size_t a1 = act_floats(512), a2 = act_floats(2048);
    (void)state;
    /* 4x the tokens: 4x the activations (a T x T buffer per head would
     * make it 16x at these sizes: 2048^2 * 4 heads * 2 layers floats). */
    if (!((double)a2 <= 4.1 * (double)a1))
        fail_msg("activation floats %zu at T=512, %zu at T=2048: not linear", a1, a2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attn_fwd_shapes),      cmocka_unit_test(test_attn_fwd_cache),
        cmocka_unit_test(test_attn_fwd_long),        cmocka_unit_test(test_attn_fwd_large_scores),
        cmocka_unit_test(test_attn_bwd_shapes),      cmocka_unit_test(test_attn_bwd_long),
        cmocka_unit_test(test_attn_bwd_fd),          cmocka_unit_test(test_xent_fwd),
        cmocka_unit_test(test_xent_bwd),             cmocka_unit_test(test_xent_bwd_fd),
        cmocka_unit_test(test_xent_plan),            cmocka_unit_test(test_trainer_memory_linear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
