/*
 * fit.c - fitting the parametric scaling law L(N, D) = E + A/N^alpha +
 * B/D^beta to (N, D, loss) runs, as Hoffmann et al. 2022 did (§3.3 and
 * Appendix D.2): Huber loss (delta = 1e-3) on the residuals of log-loss,
 * L-BFGS (lbfgs.c), the best result over a grid of initialisations.
 *
 * Parametrisation (App. D.2): x = (a, b, e, alpha, beta) with A = e^a,
 * B = e^b, E = e^e, so that
 *   log L_hat_i = LSE(a - alpha log N_i, b - beta log D_i, e)
 * is smooth everywhere and A, B, E stay positive without constraints.
 * The log-sum-exp is evaluated with its maximum factored out, so no
 * exponential overflows for any start of the grid.
 *
 * The objective is the plain sum over runs (the paper's eq. 3). With
 * delta = 1e-3 it is small (~1e-5 per run), so convergence is judged on
 * the gradient alone, never on an absolute decrease of f (Besiroglu et al.
 * 2024 trace the original fit's bias to an optimiser that stopped early
 * on exactly such a loss-scale issue).
 */
#include <math.h>
#include <string.h>

#include "llm_core.h"
#include "plan/plan_internal.h"

#define NX 5 /* a, b, e, alpha, beta */

double llm__fit_huber(double r, double delta) {
    double ar = fabs(r);
    return ar <= delta ? 0.5 * r * r : delta * (ar - 0.5 * delta);
}

double llm__fit_objective(void *ud, const double *x, double *g, size_t n) {
    const llm__fit_data *d = ud;
    const double a = x[0], b = x[1], e = x[2], alpha = x[3], beta = x[4];
    double f = 0.0;
    size_t i;
    (void)n;
    memset(g, 0, NX * sizeof *g);
    for (i = 0; i < d->n; i++) {
        double u1 = a - alpha * d->log_n[i], u2 = b - beta * d->log_d[i], u3 = e;
        double m = u1 > u2 ? (u1 > u3 ? u1 : u3) : (u2 > u3 ? u2 : u3);
        double w1 = exp(u1 - m), w2 = exp(u2 - m), w3 = exp(u3 - m), s = w1 + w2 + w3;
        double r = m + log(s) - d->log_l[i];
        /* Huber'(r) = clamp(r, -delta, delta); d LSE / d u_k = w_k / s */
        double dh = r > d->delta ? d->delta : (r < -d->delta ? -d->delta : r);
        f += llm__fit_huber(r, d->delta);
        w1 *= dh / s;
        w2 *= dh / s;
        w3 *= dh / s;
        g[0] += w1;
        g[1] += w2;
        g[2] += w3;
        g[3] -= w1 * d->log_n[i];
        g[4] -= w2 * d->log_d[i];
    }
    return f;
}

int llm_fit_opts_init(llm_fit_opts *o, size_t struct_size) {
    return llm__opts_init(o, struct_size, "llm_fit_opts_init");
}

int llm_fit_result_init(llm_fit_result *r, size_t struct_size) {
    return llm__opts_init(r, struct_size, "llm_fit_result_init");
}

/* The grids of starts: values per coordinate. */
static const double paper_exp[] = {0.0, 0.5, 1.0, 1.5, 2.0};
static const double paper_e[] = {-1.0, -0.5, 0.0, 0.5, 1.0};
static const double paper_ab[] = {0.0, 5.0, 10.0, 15.0, 20.0, 25.0};
static const double coarse_exp[] = {0.5, 1.0};
static const double coarse_e[] = {-1.0, 0.0, 1.0};
static const double coarse_ab[] = {0.0, 10.0, 20.0};

typedef struct grid {
    const double *ex, *e, *ab;
    size_t n_ex, n_e, n_ab;
} grid;

#define GRID(x, y, z) {x, y, z, sizeof x / sizeof *x, sizeof y / sizeof *y, sizeof z / sizeof *z}

/* Start number k of the grid (alpha, beta, e, a, b from slowest to fastest). */
static void grid_start(const grid *gr, size_t k, double *x) {
    x[1] = gr->ab[k % gr->n_ab];
    k /= gr->n_ab;
    x[0] = gr->ab[k % gr->n_ab];
    k /= gr->n_ab;
    x[2] = gr->e[k % gr->n_e];
    k /= gr->n_e;
    x[4] = gr->ex[k % gr->n_ex];
    k /= gr->n_ex;
    x[3] = gr->ex[k % gr->n_ex];
}

static void fill_result(llm_fit_result *r, const double *x, double f, int converged,
                        uint32_t n_starts, uint32_t n_conv, uint64_t iters) {
    memset(r, 0, sizeof *r);
    r->struct_size = (uint32_t)sizeof *r;
    r->converged = converged;
    r->A = exp(x[0]);
    r->B = exp(x[1]);
    r->E = exp(x[2]);
    r->alpha = x[3];
    r->beta = x[4];
    r->objective = f;
    if (r->alpha > 0.0 && r->beta > 0.0) {
        double s = r->alpha + r->beta;
        r->frontier_a = r->beta / s;
        r->frontier_b = r->alpha / s;
        r->frontier_G = pow(r->alpha * r->A / (r->beta * r->B), 1.0 / s);
    }
    r->n_starts = n_starts;
    r->n_converged = n_conv;
    r->iterations = iters;
}

static int check_array(const double *v, size_t n, const char *name) {
    size_t i;
    if (!v)
        return llm__err(NULL, LLM_ERR_INVALID, "llm_fit_scaling_law: %s is NULL", name);
    for (i = 0; i < n; i++)
        if (!(v[i] > 0.0 && isfinite(v[i])))
            return llm__err(NULL, LLM_ERR_INVALID,
                            "llm_fit_scaling_law: %s[%zu] = %g must be positive and finite",
                            name, i, v[i]);
    return LLM_OK;
}

int llm_fit_scaling_law(llm_fit_result *out, const double *params, const double *tokens,
                        const double *loss, size_t n_runs, const llm_fit_opts *opts) {
    static const char fn[] = "llm_fit_scaling_law";
    static const grid grids[] = {GRID(paper_exp, paper_e, paper_ab),
                                 GRID(coarse_exp, coarse_e, coarse_ab)};
    llm_fit_opts o;
    llm_fit_result res;
    llm__fit_data data;
    llm__mem mem;
    double *logs, best_x[NX] = {0.0, 0.0, 0.0, 0.0, 0.0}, best_f = HUGE_VAL;
    const grid *gr;
    size_t n_starts, k, i;
    uint32_t n_conv = 0;
    uint64_t iters = 0;
    int best_conv = 0, rc = LLM_OK, have_best = 0;

    if (!out)
        return llm__err(NULL, LLM_ERR_INVALID, "%s: out is NULL", fn);
    if (n_runs < NX)
        return llm__err(NULL, LLM_ERR_INVALID,
                        "%s: n_runs = %zu; fitting 5 parameters needs at least 5 runs", fn,
                        n_runs);
    if ((rc = check_array(params, n_runs, "params")) != LLM_OK ||
        (rc = check_array(tokens, n_runs, "tokens")) != LLM_OK ||
        (rc = check_array(loss, n_runs, "loss")) != LLM_OK)
        return rc;
    rc = llm__opts_read(NULL, &o, sizeof o, opts, "llm_fit_opts");
    if (rc != LLM_OK)
        return rc;
    if (o.max_iter == 0)
        o.max_iter = 1000;
    if (o.huber_delta == 0.0)
        o.huber_delta = 1e-3;
    if (o.grad_tol == 0.0)
        o.grad_tol = 1e-9;
    if (!(o.huber_delta > 0.0 && isfinite(o.huber_delta)))
        return llm__err(NULL, LLM_ERR_INVALID, "%s: opts.huber_delta = %g must be positive",
                        fn, o.huber_delta);
    if (!(o.grad_tol > 0.0 && isfinite(o.grad_tol)))
        return llm__err(NULL, LLM_ERR_INVALID, "%s: opts.grad_tol = %g must be positive", fn,
                        o.grad_tol);
    if (o.grid != LLM_FIT_GRID_PAPER && o.grid != LLM_FIT_GRID_COARSE)
        return llm__err(NULL, LLM_ERR_UNSUPPORTED,
                        "%s: opts.grid = %d is not LLM_FIT_GRID_PAPER (0) or "
                        "LLM_FIT_GRID_COARSE (1)", fn, (int)o.grid);
    if (o.reserved0 != 0)
        return llm__err(NULL, LLM_ERR_INVALID, "%s: opts.reserved0 must be 0", fn);
    {
        /* the caller's result struct must be initialised before any work */
        uint32_t size;
        memcpy(&size, out, sizeof size);
        if (size < sizeof(uint32_t))
            return llm__err(NULL, LLM_ERR_INVALID,
                            "%s: out->struct_size is %u; fill the llm_fit_result with "
                            "llm_fit_result_init first", fn, (unsigned)size);
    }

    /* log N, log D, log L for all runs: one block */
    llm__mem_init(&mem, o.alloc, o.alloc_ud);
    logs = llm__mem_alloc(&mem, llm__mem_mul(llm__mem_mul(3, n_runs), sizeof *logs));
    if (!logs)
        return llm__err(NULL, LLM_ERR_NOMEM, "%s: out of memory for %zu runs", fn, n_runs);
    for (i = 0; i < n_runs; i++) {
        logs[i] = log(params[i]);
        logs[n_runs + i] = log(tokens[i]);
        logs[2 * n_runs + i] = log(loss[i]);
    }
    data.log_n = logs;
    data.log_d = logs + n_runs;
    data.log_l = logs + 2 * n_runs;
    data.n = n_runs;
    data.delta = o.huber_delta;

    gr = &grids[o.grid];
    n_starts = gr->n_ex * gr->n_ex * gr->n_e * gr->n_ab * gr->n_ab;
    for (k = 0; k < n_starts; k++) {
        double x[NX];
        llm__lbfgs_result r;
        grid_start(gr, k, x);
        llm__lbfgs_minimize(&r, x, NX, llm__fit_objective, &data, o.max_iter, o.grad_tol);
        iters += r.iterations;
        if (r.converged)
            n_conv++;
        if (isfinite(r.f) && (!have_best || r.f < best_f)) {
            best_f = r.f;
            memcpy(best_x, x, sizeof x);
            best_conv = r.converged;
            have_best = 1;
        }
        rc = llm__progress(NULL, o.progress, o.progress_ud, LLM_PHASE_FIT, k + 1, n_starts);
        if (rc != LLM_OK) {
            n_starts = k + 1;
            break;
        }
    }
    llm__mem_free(&mem, logs, llm__mem_mul(llm__mem_mul(3, n_runs), sizeof *logs));
    if (!have_best) {
        if (rc != LLM_OK)
            return rc;
        return llm__err(NULL, LLM_ERR_NO_CONVERGENCE,
                        "%s: the objective was not finite at any of the %zu starts", fn,
                        n_starts);
    }
    fill_result(&res, best_x, best_f, best_conv, (uint32_t)n_starts, n_conv, iters);
    llm__count_write_result(out, &res, sizeof res, fn, "llm_fit_result");
    if (rc != LLM_OK)
        return rc; /* cancelled: the best so far is written */
    if (n_conv == 0)
        return llm__err(NULL, LLM_ERR_NO_CONVERGENCE,
                        "%s: none of the %zu starts reached max |gradient| <= %g within %u "
                        "iterations; the best found (objective %.6g) is in out", fn, n_starts,
                        o.grad_tol, (unsigned)o.max_iter, best_f);
    return LLM_OK;
}
