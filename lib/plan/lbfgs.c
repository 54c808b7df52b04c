/*
 * lbfgs.c - limited-memory BFGS with a strong Wolfe line search, for the
 * small smooth problems of lib/plan (the scaling-law fit has 5 unknowns).
 *
 * Method: Nocedal 1980 (the two-loop recursion over the last M correction
 * pairs s = x_{k+1} - x_k, y = g_{k+1} - g_k, initial inverse Hessian
 * gamma I with gamma = s.y / y.y of the newest pair), and the line search
 * of Nocedal & Wright, "Numerical Optimization" (2nd ed.), Algorithm 3.5
 * (bracketing) and 3.6 (zoom), with safeguarded cubic interpolation. The
 * accepted step t satisfies the strong Wolfe conditions
 *   f(x + t d) <= f(x) + c1 t g.d       (sufficient decrease)
 *   |g(x + t d).d| <= c2 |g.d|           (curvature)
 * with c1 = 1e-4, c2 = 0.9, which guarantees s.y > 0 so the BFGS update
 * keeps a positive-definite inverse Hessian. Pairs with s.y too small
 * (round-off) are skipped rather than stored.
 *
 * Invariants: n <= LLM__LBFGS_MAX_N, all work arrays are on the stack (no
 * allocation); x always holds the best point accepted so far and f, g its
 * value and gradient; a non-finite objective is treated as +infinity, so
 * the line search backs off from regions where the objective overflows.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "llm_core.h"
#include "plan/plan_internal.h"

#define C1 1e-4
#define C2 0.9
#define MAX_BRACKET 40
#define MAX_ZOOM 40
#define EPS_F 1e-12

static double dot(const double *a, const double *b, size_t n) {
    double s = 0.0;
    size_t i;
    for (i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static double amax(const double *a, size_t n) {
    double m = 0.0;
    size_t i;
    for (i = 0; i < n; i++)
        if (fabs(a[i]) > m)
            m = fabs(a[i]);
    return m;
}

/* phi(t) = f(x + t d): evaluates it, its gradient and phi'(t) = g.d. */
static double eval(double t, double *xt, double *gt, double *dphi, const double *x,
                   const double *d, size_t n, llm__lbfgs_fn fn, void *ud) {
    size_t i;
    double f;
    for (i = 0; i < n; i++)
        xt[i] = x[i] + t * d[i];
    f = fn(ud, xt, gt, n);
    *dphi = dot(gt, d, n);
    if (!isfinite(f) || !isfinite(*dphi)) {
        *dphi = HUGE_VAL;
        return HUGE_VAL;
    }
    return f;
}

/* Minimiser of the cubic through (a, fa, da), (b, fb, db), kept inside
 * [lo + 0.1 w, hi - 0.1 w] of the interval; bisection when the cubic has
 * no usable minimum (Nocedal & Wright eq. 3.59). */
static double cubic_step(double a, double fa, double da, double b, double fb, double db) {
    double lo = a < b ? a : b, hi = a < b ? b : a, w = hi - lo, t;
    double d1, d2sq, d2;
    if (!isfinite(fa) || !isfinite(fb) || !isfinite(da) || !isfinite(db))
        return 0.5 * (a + b);
    d1 = da + db - 3.0 * (fa - fb) / (a - b);
    d2sq = d1 * d1 - da * db;
    if (d2sq < 0.0)
        return 0.5 * (a + b);
    d2 = (b > a ? 1.0 : -1.0) * sqrt(d2sq);
    if (db - da + 2.0 * d2 == 0.0)
        return 0.5 * (a + b);
    t = b - (b - a) * (db + d2 - d1) / (db - da + 2.0 * d2);
    if (!(t >= lo + 0.1 * w && t <= hi - 0.1 * w))
        t = 0.5 * (a + b);
    return t;
}

int llm__lbfgs_wolfe(double *t_io, double *xt, double *ft, double *gt, const double *x,
                     double f0, const double *g0, const double *d, size_t n,
                     llm__lbfgs_fn fn, void *ud) {
    const double dphi0 = dot(g0, d, n);
    /* round-off allowance on f (Hager & Zhang's approximate Wolfe idea):
     * near a minimum f stops changing in floating point before the
     * gradient vanishes, so a step whose f is within eps_f of f0 and whose
     * slope meets the curvature condition is accepted on the evidence of
     * the derivative, which still carries information there */
    const double eps_f = EPS_F * fabs(f0);
    double t = *t_io, t_prev = 0.0, f_prev = f0, dphi_prev = dphi0, f, dphi;
    double t_lo, f_lo, d_lo, t_hi, f_hi, d_hi;
    /* best point with sufficient decrease, for when the search gives up */
    double best_t = 0.0, best_f = f0;
    double x_best[LLM__LBFGS_MAX_N], g_best[LLM__LBFGS_MAX_N];
    int i;

    memcpy(x_best, x, n * sizeof *x);
    memcpy(g_best, g0, n * sizeof *g0);
#define KEEP_IF_BETTER()                                                      \
    if (f <= f0 + C1 * t * dphi0 && f < best_f) {                             \
        best_t = t;                                                           \
        best_f = f;                                                           \
        memcpy(x_best, xt, n * sizeof *xt);                                   \
        memcpy(g_best, gt, n * sizeof *gt);                                   \
    }

    /* Algorithm 3.5: grow t until the minimum along d is bracketed */
    for (i = 0; i < MAX_BRACKET; i++) {
        f = eval(t, xt, gt, &dphi, x, d, n, fn, ud);
        if (f > f0 + C1 * t * dphi0 + eps_f || (i > 0 && f > f_prev + eps_f)) {
            t_lo = t_prev, f_lo = f_prev, d_lo = dphi_prev;
            t_hi = t, f_hi = f, d_hi = dphi;
            goto zoom;
        }
        KEEP_IF_BETTER();
        if (fabs(dphi) <= -C2 * dphi0)
            goto accept;
        if (dphi >= 0.0) {
            t_lo = t, f_lo = f, d_lo = dphi;
            t_hi = t_prev, f_hi = f_prev, d_hi = dphi_prev;
            goto zoom;
        }
        t_prev = t, f_prev = f, dphi_prev = dphi;
        t *= 4.0;
    }
    goto give_up;

zoom:
    /* Algorithm 3.6: shrink [t_lo, t_hi]; t_lo always has the lowest f
     * among the points with sufficient decrease */
    for (i = 0; i < MAX_ZOOM; i++) {
        t = cubic_step(t_lo, f_lo, d_lo, t_hi, f_hi, d_hi);
        f = eval(t, xt, gt, &dphi, x, d, n, fn, ud);
        if (f > f0 + C1 * t * dphi0 + eps_f || f > f_lo + eps_f) {
            t_hi = t, f_hi = f, d_hi = dphi;
        } else {
            KEEP_IF_BETTER();
            if (fabs(dphi) <= -C2 * dphi0)
                goto accept;
            if (dphi * (t_hi - t_lo) >= 0.0)
                t_hi = t_lo, f_hi = f_lo, d_hi = d_lo;
            t_lo = t, f_lo = f, d_lo = dphi;
        }
        if (fabs(t_hi - t_lo) <= DBL_EPSILON * fabs(t_lo))
            break; /* the interval vanished in round-off */
    }
give_up:
    *t_io = best_t;
    *ft = best_f;
    memcpy(xt, x_best, n * sizeof *xt);
    memcpy(gt, g_best, n * sizeof *gt);
    return 0;
accept:
    *t_io = t;
    *ft = f;
    return 1;
#undef KEEP_IF_BETTER
}

void llm__lbfgs_minimize(llm__lbfgs_result *res, double *x, size_t n, llm__lbfgs_fn fn,
                         void *ud, uint32_t max_iter, double grad_tol) {
    double s[LLM__LBFGS_M][LLM__LBFGS_MAX_N], y[LLM__LBFGS_M][LLM__LBFGS_MAX_N];
    double rho[LLM__LBFGS_M], al[LLM__LBFGS_M];
    double g[LLM__LBFGS_MAX_N], d[LLM__LBFGS_MAX_N], xt[LLM__LBFGS_MAX_N], gt[LLM__LBFGS_MAX_N];
    double f, ft, t, gamma = 1.0;
    size_t i, j;
    int head = 0, count = 0; /* ring buffer of correction pairs */
    uint32_t it;

    memset(res, 0, sizeof *res);
    f = fn(ud, x, g, n);
    if (!isfinite(f)) {
        res->f = f;
        res->gmax = HUGE_VAL;
        res->stalled = 1;
        return;
    }
    for (it = 0; it < max_iter; it++) {
        double gd, sy, yy;
        int ok;
        res->gmax = amax(g, n);
        if (res->gmax <= grad_tol) {
            res->converged = 1;
            break;
        }
        /* two-loop recursion: d = -H g */
        for (i = 0; i < n; i++)
            d[i] = -g[i];
        for (j = 0; j < (size_t)count; j++) {
            int k = (head - 1 - (int)j + LLM__LBFGS_M) % LLM__LBFGS_M;
            al[k] = rho[k] * dot(s[k], d, n);
            for (i = 0; i < n; i++)
                d[i] -= al[k] * y[k][i];
        }
        for (i = 0; i < n; i++)
            d[i] *= gamma;
        for (j = (size_t)count; j-- > 0;) {
            int k = (head - 1 - (int)j + LLM__LBFGS_M) % LLM__LBFGS_M;
            double b = rho[k] * dot(y[k], d, n);
            for (i = 0; i < n; i++)
                d[i] += s[k][i] * (al[k] - b);
        }
        gd = dot(g, d, n);
        if (!(gd < 0.0)) { /* not a descent direction: restart from -g */
            count = 0;
            gamma = 1.0;
            for (i = 0; i < n; i++)
                d[i] = -g[i];
            gd = dot(g, d, n);
        }
        /* unit step once curvature is known; before, a step of length 1 */
        t = count > 0 ? 1.0 : 1.0 / sqrt(-gd);
        ok = llm__lbfgs_wolfe(&t, xt, &ft, gt, x, f, g, d, n, fn, ud);
        if (t == 0.0) {
            if (count > 0) { /* retry once along steepest descent */
                count = 0;
                gamma = 1.0;
                continue;
            }
            res->stalled = 1;
            break;
        }
        (void)ok;
        /* new pair; skipped when its curvature is lost in round-off */
        for (i = 0; i < n; i++) {
            s[head][i] = xt[i] - x[i];
            y[head][i] = gt[i] - g[i];
        }
        sy = dot(s[head], y[head], n);
        yy = dot(y[head], y[head], n);
        if (sy > DBL_EPSILON * yy && yy > 0.0) {
            rho[head] = 1.0 / sy;
            gamma = sy / yy;
            head = (head + 1) % LLM__LBFGS_M;
            if (count < LLM__LBFGS_M)
                count++;
        }
        memcpy(x, xt, n * sizeof *x);
        memcpy(g, gt, n * sizeof *g);
        f = ft;
    }
    res->f = f;
    res->gmax = amax(g, n);
    if (res->gmax <= grad_tol)
        res->converged = 1;
    res->iterations = it;
}
