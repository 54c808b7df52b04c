/*
 * test_fit.c - the L-BFGS optimiser and the scaling-law fit (lib/plan:
 * lbfgs.c, fit.c).
 *
 * Oracles: central finite differences for the objective's gradient; the
 * known minimum of Rosenbrock's function; the strong Wolfe conditions
 * checked directly on a returned step; and synthetic data drawn from a
 * known law (fixed seed), from which the fit must recover the law - and
 * reach an objective no larger than at the true parameters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "llm.h"
#include "plan/plan_internal.h"

/* ---- deterministic noise: PCG-style LCG + Box-Muller ---------------- */

static uint64_t rng_state;
static double urand(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return ((double)(rng_state >> 11) + 0.5) / 9007199254740992.0;
}
static double nrand(void) {
    double u = urand(), v = urand();
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* Chinchilla's printed law (App. D.2) as the ground truth */
#define TE 1.69
#define TA 406.4
#define TB 410.7
#define TALPHA 0.34
#define TBETA 0.28

#define NRUNS 64

/* 8 x 8 grid: N in [1e7, 1e10], D in [1e9, 1e12], loss * exp(sigma z) */
static size_t make_runs(double *n, double *d, double *l, double sigma, uint64_t seed) {
    size_t i, j, k = 0;
    rng_state = seed;
    for (i = 0; i < 8; i++)
        for (j = 0; j < 8; j++, k++) {
            n[k] = 1e7 * pow(1e3, (double)i / 7.0);
            d[k] = 1e9 * pow(1e3, (double)j / 7.0);
            l[k] = (TE + TA / pow(n[k], TALPHA) + TB / pow(d[k], TBETA)) * exp(sigma * nrand());
        }
    return k;
}

/* ---- objective and gradient ----------------------------------------- */

static void test_huber(void **state) {
    (void)state;
    assert_true(llm__fit_huber(0.0005, 1e-3) == 0.5 * 0.0005 * 0.0005);
    assert_true(llm__fit_huber(-0.003, 1e-3) == 1e-3 * (0.003 - 0.0005));
    /* continuous at the threshold */
    assert_true(fabs(llm__fit_huber(1e-3, 1e-3) - 0.5e-6) < 1e-20);
}

static void test_objective_gradient(void **state) {
    double n[NRUNS], d[NRUNS], l[NRUNS], ln[NRUNS], ld[NRUNS], ll[NRUNS];
    static const double points[][5] = {
        {6.0, 6.0, 0.5, 0.34, 0.28}, {2.0, 9.0, -0.4, 0.7, 0.5}, {12.0, 1.0, 1.0, 1.2, 0.1}};
    llm__fit_data data;
    size_t i, p, j;
    (void)state;
    make_runs(n, d, l, 0.02, 7);
    for (i = 0; i < NRUNS; i++) {
        ln[i] = log(n[i]);
        ld[i] = log(d[i]);
        ll[i] = log(l[i]);
    }
    data.log_n = ln;
    data.log_d = ld;
    data.log_l = ll;
    data.n = NRUNS;
    for (p = 0; p < 3; p++) {
        /* both Huber regimes: a large delta (quadratic) and the paper's */
        double deltas[2] = {1.0, 1e-3};
        size_t q;
        for (q = 0; q < 2; q++) {
            double x[5], g[5], gp[5], xp[5];
            data.delta = deltas[q];
            memcpy(x, points[p], sizeof x);
            llm__fit_objective(&data, x, g, 5);
            for (j = 0; j < 5; j++) {
                const double h = 1e-6;
                double fp, fm, fd;
                memcpy(xp, x, sizeof x);
                xp[j] += h;
                fp = llm__fit_objective(&data, xp, gp, 5);
                xp[j] -= 2 * h;
                fm = llm__fit_objective(&data, xp, gp, 5);
                fd = (fp - fm) / (2 * h);
                if (!(fabs(fd - g[j]) <= 1e-6 * (fabs(g[j]) + 1e-3)))
                    fail_msg("point %zu delta %g coord %zu: grad %.10g, central diff %.10g", p,
                             deltas[q], j, g[j], fd);
            }
        }
    }
}

/* ---- L-BFGS --------------------------------------------------------- */

/* extended Rosenbrock: sum over pairs of 100 (x2 - x1^2)^2 + (1 - x1)^2 */
static double rosen(void *ud, const double *x, double *g, size_t n) {
    double f = 0.0;
    size_t i;
    int *calls = ud;
    (*calls)++;
    memset(g, 0, n * sizeof *g);
    for (i = 0; i + 1 < n; i += 2) {
        double t1 = x[i + 1] - x[i] * x[i], t2 = 1.0 - x[i];
        f += 100.0 * t1 * t1 + t2 * t2;
        g[i] += -400.0 * x[i] * t1 - 2.0 * t2;
        g[i + 1] += 200.0 * t1;
    }
    return f;
}

static void test_lbfgs_rosenbrock(void **state) {
    double x[6] = {-1.2, 1.0, -1.2, 1.0, 0.0, 3.0};
    llm__lbfgs_result r;
    int calls = 0;
    size_t i;
    (void)state;
    llm__lbfgs_minimize(&r, x, 6, rosen, &calls, 500, 1e-10);
    assert_true(r.converged);
    assert_true(r.gmax <= 1e-10);
    for (i = 0; i < 6; i++)
        assert_true(fabs(x[i] - 1.0) < 1e-8);
    assert_true(r.f < 1e-18);
    assert_true(r.iterations < 200);
}

static void test_wolfe_conditions(void **state) {
    /* from Rosenbrock's classic start along -g: the step returned meets
     * both strong Wolfe conditions, checked here from their definitions */
    double x[2] = {-1.2, 1.0}, g0[2], d[2], xt[2], gt[2], ft, t = 1e-3, f0;
    int calls = 0, ok;
    (void)state;
    f0 = rosen(&calls, x, g0, 2);
    d[0] = -g0[0];
    d[1] = -g0[1];
    ok = llm__lbfgs_wolfe(&t, xt, &ft, gt, x, f0, g0, d, 2, rosen, &calls);
    assert_int_equal(ok, 1);
    assert_true(t > 0.0);
    assert_true(ft <= f0 + 1e-4 * t * (g0[0] * d[0] + g0[1] * d[1]));
    assert_true(fabs(gt[0] * d[0] + gt[1] * d[1]) <= 0.9 * fabs(g0[0] * d[0] + g0[1] * d[1]));
    assert_true(fabs(xt[0] - (x[0] + t * d[0])) < 1e-15);
    /* an ascent "direction" cannot meet sufficient decrease: gives up, t = 0 */
    d[0] = g0[0];
    d[1] = g0[1];
    t = 1.0;
    ok = llm__lbfgs_wolfe(&t, xt, &ft, gt, x, f0, g0, d, 2, rosen, &calls);
    assert_int_equal(ok, 0);
    assert_true(t == 0.0 && ft == f0);
}

/* ---- the fit -------------------------------------------------------- */

static void test_fit_exact(void **state) {
    double n[NRUNS], d[NRUNS], l[NRUNS];
    llm_fit_result r;
    (void)state;
    make_runs(n, d, l, 0.0, 1);
    LLM_FIT_RESULT_INIT(&r);
    assert_int_equal(llm_fit_scaling_law(&r, n, d, l, NRUNS, NULL), LLM_OK);
    assert_int_equal(r.converged, 1);
    assert_int_equal(r.n_starts, 4500);
    assert_true(r.n_converged > 0 && r.n_converged <= 4500);
    assert_true(fabs(r.E / TE - 1.0) < 1e-6);
    assert_true(fabs(r.A / TA - 1.0) < 1e-5);
    assert_true(fabs(r.B / TB - 1.0) < 1e-5);
    assert_true(fabs(r.alpha - TALPHA) < 1e-7);
    assert_true(fabs(r.beta - TBETA) < 1e-7);
    assert_true(r.objective < 1e-20);
    /* frontier = eq. 4 of the paper with the true constants */
    assert_true(fabs(r.frontier_a - TBETA / (TALPHA + TBETA)) < 1e-7);
    assert_true(fabs(r.frontier_b - TALPHA / (TALPHA + TBETA)) < 1e-7);
    assert_true(fabs(r.frontier_G / pow(TALPHA * TA / (TBETA * TB), 1.0 / (TALPHA + TBETA)) -
                     1.0) < 1e-5);
}

static double objective_at(const double *n, const double *d, const double *l, double E,
                           double A, double B, double alpha, double beta) {
    double ln[NRUNS], ld[NRUNS], ll[NRUNS], x[5] = {log(A), log(B), log(E), alpha, beta}, g[5];
    llm__fit_data data;
    size_t i;
    for (i = 0; i < NRUNS; i++) {
        ln[i] = log(n[i]);
        ld[i] = log(d[i]);
        ll[i] = log(l[i]);
    }
    data.log_n = ln;
    data.log_d = ld;
    data.log_l = ll;
    data.n = NRUNS;
    data.delta = 1e-3;
    return llm__fit_objective(&data, x, g, 5);
}

static void test_fit_noisy(void **state) {
    /* 0.5% multiplicative noise (seed 42) plus three outliers +30%, which
     * the Huber loss must shrug off */
    double n[NRUNS], d[NRUNS], l[NRUNS], tol_exp = 0.02;
    llm_fit_result r;
    llm_plan_constants k;
    llm_plan p;
    (void)state;
    make_runs(n, d, l, 0.005, 42);
    l[5] *= 1.3;
    l[22] *= 1.3;
    l[47] *= 1.3;
    LLM_FIT_RESULT_INIT(&r);
    assert_int_equal(llm_fit_scaling_law(&r, n, d, l, NRUNS, NULL), LLM_OK);
    assert_int_equal(r.converged, 1);
    assert_true(fabs(r.alpha - TALPHA) < tol_exp);
    assert_true(fabs(r.beta - TBETA) < tol_exp);
    assert_true(fabs(r.E - TE) < 0.05);
    assert_true(fabs(log(r.A / TA)) < log(1.5));
    assert_true(fabs(log(r.B / TB)) < log(1.5));
    assert_true(fabs(r.frontier_a - TBETA / (TALPHA + TBETA)) < 0.02);
    /* a minimiser: no worse than the truth */
    assert_true(r.objective <= objective_at(n, d, l, TE, TA, TB, TALPHA, TBETA));
    /* the fitted law plugs into the planner (Approach 3) */
    memset(&k, 0, sizeof k);
    k.struct_size = sizeof k;
    k.E = r.E;
    k.A = r.A;
    k.B = r.B;
    k.alpha = r.alpha;
    k.beta = r.beta;
    LLM_PLAN_INIT(&p);
    assert_int_equal(llm_plan_for_compute(&p, &k, 3, 1e21), LLM_OK);
    assert_true(fabs(p.params / (r.frontier_G * pow(1e21 / 6.0, r.frontier_a)) - 1.0) < 1e-9);
    /* the coarse grid lands on the same minimum here */
    {
        llm_fit_opts o;
        llm_fit_result rc;
        LLM_FIT_OPTS_INIT(&o);
        LLM_FIT_RESULT_INIT(&rc);
        o.grid = LLM_FIT_GRID_COARSE;
        assert_int_equal(llm_fit_scaling_law(&rc, n, d, l, NRUNS, &o), LLM_OK);
        assert_int_equal(rc.n_starts, 108);
        assert_true(fabs(rc.objective / r.objective - 1.0) < 1e-9);
        assert_true(fabs(rc.alpha - r.alpha) < 1e-6);
    }
}

static int stop_after_3(void *ud, const llm_progress *p) {
    int *seen = ud;
    assert_int_equal(p->phase, LLM_PHASE_FIT);
    assert_int_equal(p->total, 108);
    assert_int_equal(p->done, (uint64_t)(*seen + 1));
    (*seen)++;
    return p->done >= 3;
}

static void test_fit_no_convergence_and_cancel(void **state) {
    double n[NRUNS], d[NRUNS], l[NRUNS];
    llm_fit_result r;
    llm_fit_opts o;
    int seen = 0;
    (void)state;
    make_runs(n, d, l, 0.005, 3);
    LLM_FIT_OPTS_INIT(&o);
    LLM_FIT_RESULT_INIT(&r);
    o.grid = LLM_FIT_GRID_COARSE;
    o.max_iter = 2; /* far too few */
    assert_int_equal(llm_fit_scaling_law(&r, n, d, l, NRUNS, &o), LLM_ERR_NO_CONVERGENCE);
    assert_non_null(strstr(llm_last_errmsg(), "best found"));
    assert_int_equal(r.converged, 0);
    assert_int_equal(r.n_converged, 0);
    assert_int_equal(r.n_starts, 108);
    assert_true(isfinite(r.objective) && r.objective > 0.0 && r.E > 0.0);
    /* cancellation after 3 starts: best so far written */
    o.max_iter = 0;
    o.progress = stop_after_3;
    o.progress_ud = &seen;
    LLM_FIT_RESULT_INIT(&r);
    assert_int_equal(llm_fit_scaling_law(&r, n, d, l, NRUNS, &o), LLM_ERR_CANCELLED);
    assert_int_equal(seen, 3);
    assert_int_equal(r.n_starts, 3);
    assert_true(isfinite(r.objective));
}

static void test_fit_bad_inputs(void **state) {
    double n[NRUNS], d[NRUNS], l[NRUNS];
    llm_fit_result r;
    llm_fit_opts o;
    (void)state;
    make_runs(n, d, l, 0.0, 1);
    LLM_FIT_RESULT_INIT(&r);
    assert_int_equal(llm_fit_scaling_law(NULL, n, d, l, NRUNS, NULL), LLM_ERR_INVALID);
    assert_int_equal(llm_fit_scaling_law(&r, NULL, d, l, NRUNS, NULL), LLM_ERR_INVALID);
    assert_non_null(strstr(llm_last_errmsg(), "params"));
    assert_int_equal(llm_fit_scaling_law(&r, n, d, l, 4, NULL), LLM_ERR_INVALID);
    assert_non_null(strstr(llm_last_errmsg(), "n_runs"));
    l[7] = -2.0;
    assert_int_equal(llm_fit_scaling_law(&r, n, d, l, NRUNS, NULL), LLM_ERR_INVALID);
    assert_non_null(strstr(llm_last_errmsg(), "loss[7]"));
    l[7] = 3.0;
    d[9] = NAN;
    assert_int_equal(llm_fit_scaling_law(&r, n, d, l, NRUNS, NULL), LLM_ERR_INVALID);
    assert_non_null(strstr(llm_last_errmsg(), "tokens[9]"));
    d[9] = 1e10;
    n[0] = INFINITY;
    assert_int_equal(llm_fit_scaling_law(&r, n, d, l, NRUNS, NULL), LLM_ERR_INVALID);
    assert_non_null(strstr(llm_last_errmsg(), "params[0]"));
    n[0] = 1e7;
    LLM_FIT_OPTS_INIT(&o);
    o.grid = 7;
    assert_int_equal(llm_fit_scaling_law(&r, n, d, l, NRUNS, &o), LLM_ERR_UNSUPPORTED);
    o.grid = 0;
    o.huber_delta = -1.0;
    assert_int_equal(llm_fit_scaling_law(&r, n, d, l, NRUNS, &o), LLM_ERR_INVALID);
    assert_non_null(strstr(llm_last_errmsg(), "huber_delta"));
    r.struct_size = 0;
    assert_int_equal(llm_fit_scaling_law(&r, n, d, l, NRUNS, NULL), LLM_ERR_INVALID);
    assert_non_null(strstr(llm_last_errmsg(), "struct_size"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_huber),
        cmocka_unit_test(test_objective_gradient),
        cmocka_unit_test(test_lbfgs_rosenbrock),
        cmocka_unit_test(test_wolfe_conditions),
        cmocka_unit_test(test_fit_exact),
        cmocka_unit_test(test_fit_noisy),
        cmocka_unit_test(test_fit_no_convergence_and_cancel),
        cmocka_unit_test(test_fit_bad_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
