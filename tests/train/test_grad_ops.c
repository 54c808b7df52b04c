/*
 * test_grad_ops.c - every training kernel against an independent oracle.
 *
 * Forwards: compared with naive double-precision forwards written here
 * from math.md. Backwards: compared with central finite differences of
 * those double forwards, of the objective sum_i w_i * out_i with random w
 * (so dout = w). The kernels run in float on the float-rounded inputs,
 * the finite differences in double at the same point; the tolerance is a
 * relative max-norm error of 1e-4 (float rounding is ~1e-6 here, the
 * difference quotient's error ~1e-9).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define PI_D 3.14159265358979323846

#include "train/grad_ops.h"

static uint64_t rs = 12345;
static double urand(void) { /* (-1, 1) */
    uint64_t z = (rs += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return ((double)(z >> 11) / 9007199254740992.0) * 2.0 - 1.0;
}

/* n random floats scaled by s, and their double copy. */
static float *rnd_f(size_t n, double s, double **dcopy) {
    float *f = malloc(n * sizeof *f);
    size_t i;
    if (dcopy)
        *dcopy = malloc(n * sizeof **dcopy);
    for (i = 0; i < n; i++) {
        f[i] = (float)(urand() * s);
        if (dcopy)
            (*dcopy)[i] = f[i];
    }
    return f;
}

/* max|got - ref| / max|ref| */
static double rel_err(const float *got, const double *ref, size_t n) {
    double e = 0.0, s = 0.0;
    size_t i;
    for (i = 0; i < n; i++) {
        double d = fabs((double)got[i] - ref[i]);
        if (d > e)
            e = d;
        if (fabs(ref[i]) > s)
            s = fabs(ref[i]);
    }
    return e / (s > 0 ? s : 1.0);
}

#define ASSERT_REL(got, ref, n, tol, what)                                     \
    do {                                                                       \
        double e_ = rel_err((got), (ref), (n));                                \
        if (!(e_ <= (tol)))                                                    \
            fail_msg("%s: relative error %.3e > %.1e", (what), e_, (double)(tol)); \
    } while (0)

/* Central differences of f at x[0..n) (x is restored). */
typedef double (*objective_fn)(void *ctx);
static void fd_grad(objective_fn f, void *ctx, double *x, size_t n, double *g) {
    size_t i;
    for (i = 0; i < n; i++) {
        const double h = 1e-5 * (fabs(x[i]) > 1.0 ? fabs(x[i]) : 1.0);
        double x0 = x[i], fp, fm;
        x[i] = x0 + h;
        fp = f(ctx);
        x[i] = x0 - h;
        fm = f(ctx);
        x[i] = x0;
        g[i] = (fp - fm) / (2.0 * h);
    }
}

/* ------------------------------------------------------------------------
 * Norms
 * ------------------------------------------------------------------------ */

typedef struct norm_ctx {
    double *x, *g, *b, *w;
    size_t N, C;
    double eps;
    int rms;
    double *y; /* output of the last evaluation, (N, C) */
} norm_ctx;

static double norm_obj(void *p) {
    norm_ctx *c = p;
    double obj = 0.0;
    size_t n, k;
    for (n = 0; n < c->N; n++) {
        const double *x = c->x + n * c->C;
        double mu = 0.0, v = 0.0, r;
        if (!c->rms) {
            for (k = 0; k < c->C; k++)
                mu += x[k];
            mu /= (double)c->C;
        }
        for (k = 0; k < c->C; k++)
            v += (x[k] - mu) * (x[k] - mu);
        r = 1.0 / sqrt(v / (double)c->C + c->eps);
        for (k = 0; k < c->C; k++) {
            double y = (x[k] - mu) * r * c->g[k] + (c->rms ? 0.0 : c->b[k]);
            c->y[n * c->C + k] = y;
            obj += c->w[n * c->C + k] * y;
        }
    }
    return obj;
}

static void check_norm(int rms) {
    const size_t N = 5, C = 24;
    double *xd, *gd, *bd, *wd, *ref = malloc(N * C * sizeof *ref);
    float *x = rnd_f(N * C, 2.0, &xd), *g = rnd_f(C, 1.0, &gd), *b = rnd_f(C, 0.5, &bd);
    float *w = rnd_f(N * C, 1.0, &wd);
    float *y = malloc(N * C * 4), *mean = malloc(N * 4), *rstd = malloc(N * 4);
    float *dx = calloc(N * C, 4), *dg = calloc(C, 4), *db = calloc(C, 4);
    double *fx = malloc(N * C * 8), *fg = malloc(C * 8), *fb = malloc(C * 8);
    norm_ctx c = {xd, gd, bd, wd, N, C, 1e-5, rms, ref};
    size_t i;
    for (i = 0; i < N * C; i++)
        x[i] += 0.3f * (float)i / (float)(N * C), xd[i] = x[i]; /* non-zero means */
    norm_obj(&c);
    if (rms) {
        llm__grad_rmsnorm_fwd(y, rstd, x, g, N, C, 1e-5f);
        llm__grad_rmsnorm_bwd(dx, dg, w, x, g, rstd, N, C);
    } else {
        llm__grad_layernorm_fwd(y, mean, rstd, x, g, b, N, C, 1e-5f);
        llm__grad_layernorm_bwd(dx, dg, db, w, x, g, mean, rstd, N, C);
    }
    ASSERT_REL(y, ref, N * C, 1e-5, rms ? "rmsnorm forward" : "layernorm forward");
    fd_grad(norm_obj, &c, xd, N * C, fx);
    fd_grad(norm_obj, &c, gd, C, fg);
    ASSERT_REL(dx, fx, N * C, 1e-4, "norm dx");
    ASSERT_REL(dg, fg, C, 1e-4, "norm dgain");
    if (!rms) {
        fd_grad(norm_obj, &c, bd, C, fb);
        ASSERT_REL(db, fb, C, 1e-4, "layernorm dbias");
    }
    /* dx accumulates (+=): a second call doubles it */
    if (rms)
        llm__grad_rmsnorm_bwd(dx, dg, w, x, g, rstd, N, C);
    else
        llm__grad_layernorm_bwd(dx, dg, db, w, x, g, mean, rstd, N, C);
    for (i = 0; i < N * C; i++)
        fx[i] *= 2.0;
    ASSERT_REL(dx, fx, N * C, 1e-4, "norm dx accumulates");
    free(xd), free(gd), free(bd), free(wd), free(ref), free(x), free(g), free(b), free(w);
    free(y), free(mean), free(rstd), free(dx), free(dg), free(db), free(fx), free(fg), free(fb);
}

static void test_layernorm(void **state) {
    (void)state;
    check_norm(0);
}

static void test_rmsnorm(void **state) {
    (void)state;
    check_norm(1);
}

/* ------------------------------------------------------------------------
 * Linear layer (through llm__gemm, 1 and 2 threads)
 * ------------------------------------------------------------------------ */

typedef struct lin_ctx {
    double *x, *W, *b, *w, *y;
    size_t N, I, O;
} lin_ctx;

static double lin_obj(void *p) {
    lin_ctx *c = p;
    double obj = 0.0;
    size_t n, o, i;
    for (n = 0; n < c->N; n++)
        for (o = 0; o < c->O; o++) {
            double acc = c->b[o];
            for (i = 0; i < c->I; i++)
                acc += c->x[n * c->I + i] * c->W[o * c->I + i];
            c->y[n * c->O + o] = acc;
            obj += c->w[n * c->O + o] * acc;
        }
    return obj;
}

static void test_linear(void **state) {
    const size_t N = 70, I = 33, O = 80; /* large enough for the pooled path */
    double *xd, *Wd, *bd, *wd, *yref = malloc(N * O * 8);
    float *x = rnd_f(N * I, 1.0, &xd), *W = rnd_f(O * I, 0.3, &Wd), *b = rnd_f(O, 0.5, &bd);
    float *w = rnd_f(N * O, 1.0, &wd);
    double *fx = malloc(N * I * 8), *fW = malloc(O * I * 8), *fb = malloc(O * 8);
    lin_ctx c = {xd, Wd, bd, wd, yref, N, I, O};
    int threads;
    (void)state;
    lin_obj(&c);
    fd_grad(lin_obj, &c, xd, N * I, fx);
    fd_grad(lin_obj, &c, Wd, O * I, fW);
    fd_grad(lin_obj, &c, bd, O, fb);
    lin_obj(&c); /* the output of the unperturbed point again */
    for (threads = 1; threads <= 2; threads++) {
        llm__pool *pool = NULL;
        llm__mem mem;
        float *y = malloc(N * O * 4), *dx = calloc(N * I, 4), *dW = calloc(O * I, 4);
        float *db = calloc(O, 4);
        llm__mem_init(&mem, NULL, NULL);
        assert_int_equal(llm__pool_create(&pool, threads, &mem), LLM_OK);
        llm__grad_linear_fwd(pool, y, O, x, W, b, N, I, O, 0);
        ASSERT_REL(y, yref, N * O, 1e-5, "linear forward");
        llm__grad_linear_bwd(pool, dx, dW, db, w, O, x, W, N, I, O, 0);
        ASSERT_REL(dx, fx, N * I, 1e-4, "linear dx");
        ASSERT_REL(dW, fW, O * I, 1e-4, "linear dW");
        ASSERT_REL(db, fb, O, 1e-4, "linear db");
        llm__pool_free(pool);
        free(y), free(dx), free(dW), free(db);
    }
    free(xd), free(Wd), free(bd), free(wd), free(yref), free(x), free(W), free(b), free(w);
    free(fx), free(fW), free(fb);
}

/* ------------------------------------------------------------------------
 * Activations
 * ------------------------------------------------------------------------ */

typedef struct act_ctx {
    double *a, *b, *w;
    size_t n;
    int swiglu;
} act_ctx;

static double act_obj(void *p) {
    act_ctx *c = p;
    double obj = 0.0;
    size_t i;
    for (i = 0; i < c->n; i++) {
        double x = c->a[i], y;
        if (c->swiglu)
            y = x / (1.0 + exp(-x)) * c->b[i];
        else
            y = 0.5 * x * (1.0 + tanh(sqrt(2.0 / PI_D) * (x + 0.044715 * x * x * x)));
        obj += c->w[i] * y;
    }
    return obj;
}

static void test_gelu(void **state) {
    const size_t n = 200;
    double *ad, *wd, *fa = malloc(n * 8), *yref = malloc(n * 8);
    float *a = rnd_f(n, 4.0, &ad), *w = rnd_f(n, 1.0, &wd), *y = malloc(n * 4), *da = malloc(n * 4);
    act_ctx c = {ad, NULL, wd, n, 0};
    size_t i;
    (void)state;
    for (i = 0; i < n; i++) /* forward, one element at a time */
        yref[i] = 0.5 * ad[i] * (1.0 + tanh(sqrt(2.0 / PI_D) * (ad[i] + 0.044715 * pow(ad[i], 3))));
    llm__grad_gelu_fwd(NULL, y, a, n);
    ASSERT_REL(y, yref, n, 1e-6, "gelu forward");
    llm__grad_gelu_bwd(NULL, da, w, a, n);
    fd_grad(act_obj, &c, ad, n, fa);
    ASSERT_REL(da, fa, n, 1e-4, "gelu backward");
    {   /* and the naive references agree with both */
        float *ny = malloc(n * 4), *nd = malloc(n * 4);
        double *yd = malloc(n * 8), *dd = malloc(n * 8);
        llm__grad_ew_naive(0, ny, NULL, a, NULL, NULL, n);
        llm__grad_ew_naive(1, nd, NULL, w, a, NULL, n);
        for (i = 0; i < n; i++)
            yd[i] = ny[i], dd[i] = nd[i];
        ASSERT_REL(y, yd, n, 1e-6, "gelu forward vs naive");
        ASSERT_REL(da, dd, n, 1e-6, "gelu backward vs naive");
        ASSERT_REL(nd, fa, n, 1e-6, "naive gelu backward vs finite differences");
        free(ny), free(nd), free(yd), free(dd);
    }
    free(ad), free(wd), free(fa), free(yref), free(a), free(w), free(y), free(da);
}

static void test_swiglu(void **state) {
    const size_t n = 200;
    double *ad, *bd, *wd, *fa = malloc(n * 8), *fb = malloc(n * 8), *yref = malloc(n * 8);
    float *a = rnd_f(n, 4.0, &ad), *b = rnd_f(n, 2.0, &bd), *w = rnd_f(n, 1.0, &wd);
    float *h = malloc(n * 4), *da = malloc(n * 4), *db = malloc(n * 4);
    act_ctx c = {ad, bd, wd, n, 1};
    size_t i;
    (void)state;
    for (i = 0; i < n; i++)
        yref[i] = ad[i] / (1.0 + exp(-ad[i])) * bd[i];
    llm__grad_swiglu_fwd(NULL, h, a, b, n);
    ASSERT_REL(h, yref, n, 1e-6, "swiglu forward");
    llm__grad_swiglu_bwd(NULL, da, db, w, a, b, n);
    fd_grad(act_obj, &c, ad, n, fa);
    fd_grad(act_obj, &c, bd, n, fb);
    ASSERT_REL(da, fa, n, 1e-4, "swiglu d(gate)");
    ASSERT_REL(db, fb, n, 1e-4, "swiglu d(up)");
    {
        float *nh = malloc(n * 4), *na = malloc(n * 4), *nb = malloc(n * 4);
        double *hd = malloc(n * 8), *ad2 = malloc(n * 8), *bd2 = malloc(n * 8);
        llm__grad_ew_naive(2, nh, NULL, a, b, NULL, n);
        llm__grad_ew_naive(3, na, nb, w, a, b, n);
        for (i = 0; i < n; i++)
            hd[i] = nh[i], ad2[i] = na[i], bd2[i] = nb[i];
        ASSERT_REL(h, hd, n, 1e-6, "swiglu forward vs naive");
        ASSERT_REL(da, ad2, n, 1e-6, "swiglu d(gate) vs naive");
        ASSERT_REL(db, bd2, n, 1e-6, "swiglu d(up) vs naive");
        free(nh), free(na), free(nb), free(hd), free(ad2), free(bd2);
    }
    free(ad), free(bd), free(wd), free(fa), free(fb), free(yref), free(a), free(b), free(w);
    free(h), free(da), free(db);
}

/* ------------------------------------------------------------------------
 * RoPE
 * ------------------------------------------------------------------------ */

typedef struct rope_ctx {
    double *x, *w;
    size_t N, T, H, D, ld, col;
    double base;
} rope_ctx;

static double rope_obj(void *p) {
    rope_ctx *c = p;
    double obj = 0.0;
    size_t n, h, i;
    for (n = 0; n < c->N; n++)
        for (h = 0; h < c->H; h++)
            for (i = 0; i < c->D / 2; i++) {
                const double *v = c->x + n * c->ld + c->col + h * c->D;
                double ang = (double)(n % c->T) * pow(c->base, -2.0 * (double)i / (double)c->D);
                double a = v[2 * i], b = v[2 * i + 1];
                /* the kernel rounds cos/sin to float: use the same values */
                double cs = (float)cos(ang), sn = (float)sin(ang);
                size_t o = n * c->ld + c->col + h * c->D + 2 * i;
                obj += c->w[o] * (a * cs - b * sn) + c->w[o + 1] * (a * sn + b * cs);
            }
    return obj;
}

static void test_rope(void **state) {
    const size_t T = 7, N = 2 * T, H = 3, D = 8, ld = 40, col = 5;
    double *xd, *wd, *fx = malloc(N * ld * 8), *yref = malloc(N * ld * 8);
    float *x = rnd_f(N * ld, 1.0, &xd), *w = rnd_f(N * ld, 1.0, &wd), *y = malloc(N * ld * 4);
    float *cs = malloc(T * D / 2 * 4), *sn = malloc(T * D / 2 * 4), *dx = malloc(N * ld * 4);
    rope_ctx c = {xd, wd, N, T, H, D, ld, col, 10000.0};
    size_t i, j;
    (void)state;
    for (i = 0; i < N * ld; i++) { /* columns outside the heads carry no weight */
        size_t k = i % ld;
        if (k < col || k >= col + H * D)
            w[i] = 0.0f, wd[i] = 0.0;
    }
    llm__grad_rope_table(cs, sn, T, D, 10000.0);
    /* forward: the derivative of a linear map applied to unit vectors */
    memcpy(y, x, N * ld * 4);
    llm__grad_rope(y, ld, col, H, D, N, T, cs, sn, 1);
    for (i = 0; i < N * ld; i++)
        yref[i] = xd[i];
    for (i = 0; i < N; i++)
        for (j = 0; j < H * D / 2; j++) {
            size_t p = (j % (D / 2)), o = i * ld + col + 2 * j;
            double ang = (double)(i % T) * pow(10000.0, -2.0 * (double)p / (double)D);
            double a = xd[o], b = xd[o + 1], cc = (float)cos(ang), ss = (float)sin(ang);
            yref[o] = a * cc - b * ss;
            yref[o + 1] = a * ss + b * cc;
        }
    ASSERT_REL(y, yref, N * ld, 1e-6, "rope forward");
    memcpy(dx, w, N * ld * 4);
    llm__grad_rope(dx, ld, col, H, D, N, T, cs, sn, -1);
    fd_grad(rope_obj, &c, xd, N * ld, fx);
    ASSERT_REL(dx, fx, N * ld, 1e-4, "rope backward");
    free(xd), free(wd), free(fx), free(yref), free(x), free(w), free(y), free(cs), free(sn);
    free(dx);
}

/* ------------------------------------------------------------------------
 * Attention
 * ------------------------------------------------------------------------ */

typedef struct att_ctx {
    double *qkv, *w;
    size_t B, T, NH, NKV, D;
    double *out;
} att_ctx;

static double att_obj(void *p) {
    att_ctx *c = p;
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
                    if (s[k] > mx)
                        mx = s[k];
                }
                for (k = 0; k <= i; k++)
                    sum += (s[k] = exp(s[k] - mx));
                for (d = 0; d < c->D; d++) {
                    double acc = 0.0;
                    for (k = 0; k <= i; k++)
                        acc += s[k] / sum *
                               c->qkv[(b * c->T + k) * W3 + C + c->NKV * c->D + (h / rep) * c->D + d];
                    c->out[(b * c->T + i) * C + h * c->D + d] = acc;
                    obj += c->w[(b * c->T + i) * C + h * c->D + d] * acc;
                }
            }
    return obj;
}

static void check_attention(size_t NH, size_t NKV) {
    const size_t B = 2, T = 6, D = 4, C = NH * D, W3 = C + 2 * NKV * D, N = B * T;
    double *qd, *wd, *fq = malloc(N * W3 * 8), *oref = malloc(N * C * 8);
    float *qkv = rnd_f(N * W3, 1.5, &qd), *w = rnd_f(N * C, 1.0, &wd);
    float *out[2], *att[2], *dq[2], *datt = malloc(B * NH * T * T * 4);
    float *nout = malloc(N * C * 4), *natt = malloc(B * NH * T * T * 4);
    att_ctx c = {qd, wd, B, T, NH, NKV, D, oref};
    int threads;
    att_obj(&c);
    fd_grad(att_obj, &c, qd, N * W3, fq);
    att_obj(&c); /* the output of the unperturbed point again */
    llm__grad_attention_fwd_naive(nout, natt, qkv, B, T, NH, NKV, D);
    ASSERT_REL(nout, oref, N * C, 1e-6, "attention naive forward");
    for (threads = 1; threads <= 2; threads++) {
        llm__pool *pool = NULL;
        llm__mem mem;
        float **o = &out[threads - 1], **a = &att[threads - 1], **g = &dq[threads - 1];
        llm__mem_init(&mem, NULL, NULL);
        assert_int_equal(llm__pool_create(&pool, threads, &mem), LLM_OK);
        *o = malloc(N * C * 4), *a = malloc(B * NH * T * T * 4), *g = malloc(N * W3 * 4);
        llm__grad_attention_fwd(pool, *o, *a, qkv, B, T, NH, NKV, D);
        ASSERT_REL(*o, oref, N * C, 1e-5, "attention forward");
        llm__grad_attention_bwd(pool, *g, datt, w, qkv, *a, B, T, NH, NKV, D);
        ASSERT_REL(*g, fq, N * W3, 1e-4, "attention backward dqkv");
        llm__pool_free(pool);
    }
    /* the same bits for 1 and 2 threads */
    assert_memory_equal(out[0], out[1], N * C * 4);
    assert_memory_equal(dq[0], dq[1], N * W3 * 4);
    free(qd), free(wd), free(fq), free(oref), free(qkv), free(w), free(datt), free(nout);
    free(natt);
    for (threads = 0; threads < 2; threads++)
        free(out[threads]), free(att[threads]), free(dq[threads]);
}

static void test_attention_mha(void **state) {
    (void)state;
    check_attention(3, 3);
}

static void test_attention_gqa(void **state) {
    (void)state;
    check_attention(4, 2);
    check_attention(4, 1);
}

/* ------------------------------------------------------------------------
 * Cross-entropy and embeddings
 * ------------------------------------------------------------------------ */

typedef struct ce_ctx {
    double *z;
    const llm_token *y;
    size_t N, V;
    double scale;
} ce_ctx;

static double ce_obj(void *p) {
    ce_ctx *c = p;
    double obj = 0.0;
    size_t n, v;
    for (n = 0; n < c->N; n++) {
        const double *z = c->z + n * c->V;
        double s = 0.0;
        for (v = 0; v < c->V; v++)
            s += exp(z[v]);
        obj += c->scale * (log(s) - z[c->y[n]]);
    }
    return obj;
}

static void test_crossentropy(void **state) {
    const size_t N = 6, V = 37;
    double *zd, *fz = malloc(N * V * 8), lref[6];
    float *z = rnd_f(N * V, 5.0, &zd), loss[6], loss2[6];
    float *z2 = malloc(N * V * 4);
    llm_token y[6] = {0, 36, 5, 5, 17, 2};
    ce_ctx c = {zd, y, N, V, 1.0};
    size_t n, v;
    (void)state;
    z[3 * V + 4] = 60.0f, zd[3 * V + 4] = 60.0; /* a dominant logit: LSE must not overflow */
    for (n = 0; n < N; n++) {
        double mx = -1e300, s = 0.0;
        for (v = 0; v < V; v++)
            mx = zd[n * V + v] > mx ? zd[n * V + v] : mx;
        for (v = 0; v < V; v++)
            s += exp(zd[n * V + v] - mx);
        lref[n] = mx + log(s) - zd[n * V + y[n]];
    }
    memcpy(z2, z, N * V * 4);
    llm__grad_crossentropy(NULL, z2, loss2, y, N, V, 0.0f); /* forward only */
    c.scale = 0.25;
    llm__grad_crossentropy(NULL, z, loss, y, N, V, 0.25f);
    ASSERT_REL(loss, lref, N, 1e-6, "cross-entropy loss");
    ASSERT_REL(loss2, lref, N, 1e-6, "cross-entropy loss (forward only)");
    fd_grad(ce_obj, &c, zd, N * V, fz);
    ASSERT_REL(z, fz, N * V, 1e-4, "cross-entropy dlogits");
    {   /* the naive reference, 1 and 2 threads */
        float *zn = malloc(N * V * 4), ln[6];
        double *zdn = malloc(N * V * 8), lnd[6];
        llm__pool *pool = NULL;
        llm__mem mem;
        for (n = 0; n < N * V; n++)
            zn[n] = (float)zd[n];
        llm__grad_crossentropy_naive(zn, ln, y, N, V, 0.25f);
        for (n = 0; n < N * V; n++)
            zdn[n] = zn[n];
        for (n = 0; n < N; n++)
            lnd[n] = ln[n];
        ASSERT_REL(ln, lref, N, 1e-7, "naive cross-entropy loss");
        ASSERT_REL(z, zdn, N * V, 1e-6, "cross-entropy dlogits vs naive");
        llm__mem_init(&mem, NULL, NULL);
        assert_int_equal(llm__pool_create(&pool, 2, &mem), LLM_OK);
        for (n = 0; n < N * V; n++)
            zn[n] = (float)zd[n];
        llm__grad_crossentropy(pool, zn, ln, y, N, V, 0.25f);
        assert_memory_equal(zn, z, N * V * 4); /* same bits with 2 threads */
        assert_memory_equal(ln, loss, N * 4);
        (void)lnd;
        llm__pool_free(pool);
        free(zn), free(zdn);
    }
    free(zd), free(fz), free(z), free(z2);
}

static void test_embedding(void **state) {
    const size_t T = 3, N = 6, C = 4, V = 5;
    const llm_token tok[6] = {1, 4, 1, 0, 1, 3};
    float *wte = rnd_f(V * C, 1.0, NULL), *wpe = rnd_f(T * C, 1.0, NULL);
    float *out = malloc(N * C * 4), *dout = rnd_f(N * C, 1.0, NULL);
    float *dwte = calloc(V * C, 4), *dwpe = calloc(T * C, 4);
    double ewte[20] = {0}, ewpe[12] = {0};
    size_t n, c;
    (void)state;
    llm__grad_embed_fwd(out, tok, wte, wpe, N, T, C);
    for (n = 0; n < N; n++)
        for (c = 0; c < C; c++)
            assert_true(out[n * C + c] == wte[tok[n] * C + c] + wpe[(n % T) * C + c]);
    llm__grad_embed_bwd(dwte, dwpe, dout, tok, N, T, C);
    /* the objective is linear: its gradient is the sum of dout rows */
    for (n = 0; n < N; n++)
        for (c = 0; c < C; c++) {
            ewte[tok[n] * C + c] += dout[n * C + c];
            ewpe[(n % T) * C + c] += dout[n * C + c];
        }
    ASSERT_REL(dwte, ewte, V * C, 1e-6, "embedding dwte");
    ASSERT_REL(dwpe, ewpe, T * C, 1e-6, "embedding dwpe");
    for (c = 0; c < C; c++) /* token 2 never appears */
        assert_true(dwte[2 * C + c] == 0.0f);
    free(wte), free(wpe), free(out), free(dout), free(dwte), free(dwpe);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embedding),   cmocka_unit_test(test_layernorm),
        cmocka_unit_test(test_rmsnorm),     cmocka_unit_test(test_linear),
        cmocka_unit_test(test_gelu),        cmocka_unit_test(test_swiglu),
        cmocka_unit_test(test_rope),        cmocka_unit_test(test_attention_mha),
        cmocka_unit_test(test_attention_gqa), cmocka_unit_test(test_crossentropy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
