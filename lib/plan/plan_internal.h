/*
 * plan_internal.h - internal interface of the scaling-law part (lib/plan):
 * constants (constants.c), accounting (count.c), L-BFGS (lbfgs.c) and the
 * fitting objective (fit.c), shared between its files and white-box tests.
 */
#ifndef LLM_PLAN_INTERNAL_H
#define LLM_PLAN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "llm_core.h"

/* constants.c --------------------------------------------------------- */

/* Approach 1 and 2 coefficients derived from the paper (see constants.c). */
LLM_INTERNAL double llm__constants_approach1_coef(void);
LLM_INTERNAL double llm__constants_approach2_coef(void);
/* Reads caller constants (NULL: the default set), zero fields take the
 * default set's value; checks the domain. `fn` names the caller. */
LLM_INTERNAL int llm__constants_read(llm_plan_constants *dst, const llm_plan_constants *src,
                                     const char *fn);

/* count.c ------------------------------------------------------------- */

/* Counts for an already validated config (llm__config_read'd); returns
 * LLM_ERR_RANGE when a count overflows 64 bits. */
LLM_INTERNAL int llm__count_config(llm_count *out, const llm_model_config *c);
/* Copies `full` (full_size bytes, a result struct) into the caller's
 * struct `dst` whose struct_size says how much room it has. */
LLM_INTERNAL int llm__count_write_result(void *dst, const void *full, size_t full_size,
                                         const char *fn, const char *what);

/* lbfgs.c ------------------------------------------------------------- */

/* Objective: returns f(x) and stores its gradient in g (both of size n). */
typedef double (*llm__lbfgs_fn)(void *ud, const double *x, double *g, size_t n);

#define LLM__LBFGS_MAX_N 8   /* dimensions (the fit has 5) */
#define LLM__LBFGS_M 10      /* correction pairs kept */

typedef struct llm__lbfgs_result {
    double f;           /* objective at x */
    double gmax;        /* max |gradient| at x */
    uint32_t iterations;
    int converged;      /* gmax <= grad_tol */
    int stalled;        /* the line search found no decrease: x is the best point */
} llm__lbfgs_result;

/* Minimises fn from x (n <= LLM__LBFGS_MAX_N, updated in place) with
 * limited-memory BFGS (Nocedal 1980; two-loop recursion) and a line
 * search satisfying the strong Wolfe conditions (c1 = 1e-4, c2 = 0.9;
 * Nocedal & Wright, Algorithms 3.5 and 3.6). No allocation. */
LLM_INTERNAL void llm__lbfgs_minimize(llm__lbfgs_result *res, double *x, size_t n,
                                      llm__lbfgs_fn fn, void *ud, uint32_t max_iter,
                                      double grad_tol);

/* Strong Wolfe line search along direction d from x (f0, g0 = f, grad at
 * x; g0.d < 0). On return xt = x + t d, ft and gt its value and gradient.
 * Returns 1 when a point meeting both conditions was found, 0 when it
 * gave up (then xt is the best point with sufficient decrease seen, or x
 * itself with t = 0). */
LLM_INTERNAL int llm__lbfgs_wolfe(double *t_io, double *xt, double *ft, double *gt,
                                  const double *x, double f0, const double *g0,
                                  const double *d, size_t n, llm__lbfgs_fn fn, void *ud);

/* fit.c --------------------------------------------------------------- */

/* Data of the fitting objective (log N, log D, log L per run). */
typedef struct llm__fit_data {
    const double *log_n, *log_d, *log_l;
    size_t n;
    double delta;  /* Huber threshold */
} llm__fit_data;

/* Huber_delta(r): r^2/2 for |r| <= delta, delta(|r| - delta/2) beyond. */
LLM_INTERNAL double llm__fit_huber(double r, double delta);
/* The objective of llm_fit_scaling_law at x = (a, b, e, alpha, beta) and
 * its gradient; ud is an llm__fit_data. */
LLM_INTERNAL double llm__fit_objective(void *ud, const double *x, double *g, size_t n);

#endif /* LLM_PLAN_INTERNAL_H */
