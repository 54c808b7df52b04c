/*
 * plan.c - compute-optimal planning with Chinchilla's three approaches
 * (llm_plan_*): given a budget C, or a model size N, or a token count D,
 * the other two, the loss the parametric law predicts, and wall-clock time.
 *
 * Invariant: every plan satisfies C = 6 N D up to rounding (D is always
 * computed as C / (6 N), or N as C / (6 D)), the FLOP model under which
 * all three approaches' power laws were stated (Hoffmann et al. 2022, §3).
 * Per approach, N_opt(C) = k C^a:
 *   1, 2: k, a from llm_plan_constants (approach1_*, approach2_*);
 *   3:    N_opt = G (C/6)^a, so k = G 6^-a, with a = beta / (alpha + beta)
 *         and G = (alpha A / (beta B))^(1/(alpha+beta)) (eq. 4).
 * The inverse questions invert that power law in closed form. Wall-clock
 * time converts through a measured training throughput at constant FLOP/s.
 */
#include <math.h>
#include <string.h>

#include "llm_core.h"
#include "plan/plan_internal.h"

int llm_plan_init(llm_plan *p, size_t struct_size) {
    return llm__opts_init(p, struct_size, "llm_plan_init");
}

/* N_opt(C) = coef * C^a for `approach` (constants already read). */
static void power_law(const llm_plan_constants *k, int32_t approach, double *coef, double *a) {
    if (approach == 1) {
        *coef = k->approach1_coef;
        *a = k->approach1_a;
    } else if (approach == 2) {
        *coef = k->approach2_coef;
        *a = k->approach2_a;
    } else {
        double s = k->alpha + k->beta;
        double g = pow(k->alpha * k->A / (k->beta * k->B), 1.0 / s);
        *a = k->beta / s;
        *coef = g * pow(6.0, -*a);
    }
}

static double law(const llm_plan_constants *k, double n, double d) {
    return k->E + k->A / pow(n, k->alpha) + k->B / pow(d, k->beta);
}

/* Common argument checks; reads the constants into *kc. */
static int check(llm_plan_constants *kc, const void *out, const llm_plan_constants *k,
                 int32_t approach, double value, const char *fn, const char *what) {
    if (!out)
        return llm__err(NULL, LLM_ERR_INVALID, "%s: out is NULL", fn);
    if (approach < 1 || approach > 3)
        return llm__err(NULL, LLM_ERR_INVALID, "%s: approach %d is not 1, 2 or 3", fn,
                        (int)approach);
    if (!(value > 0.0 && isfinite(value)))
        return llm__err(NULL, LLM_ERR_INVALID, "%s: %s = %g must be positive and finite", fn,
                        what, value);
    return llm__constants_read(kc, k, fn);
}

/* Fills and writes a plan from (C, N, D). */
static int finish(llm_plan *out, const llm_plan_constants *k, int32_t approach, double c,
                  double n, double d, const char *fn) {
    llm_plan p;
    if (!(isfinite(c) && isfinite(n) && isfinite(d) && c > 0.0 && n > 0.0 && d > 0.0))
        return llm__err(NULL, LLM_ERR_RANGE,
                        "%s: the plan is outside the range of a double (C %g, N %g, D %g)",
                        fn, c, n, d);
    memset(&p, 0, sizeof p);
    p.struct_size = (uint32_t)sizeof p;
    p.approach = approach;
    p.compute = c;
    p.params = n;
    p.tokens = d;
    p.tokens_per_param = d / n;
    p.loss = law(k, n, d);
    return llm__count_write_result(out, &p, sizeof p, fn, "llm_plan");
}

int llm_plan_for_compute(llm_plan *out, const llm_plan_constants *k, int32_t approach,
                         double compute) {
    static const char fn[] = "llm_plan_for_compute";
    llm_plan_constants kc;
    double coef, a, n;
    int rc = check(&kc, out, k, approach, compute, fn, "compute");
    if (rc != LLM_OK)
        return rc;
    power_law(&kc, approach, &coef, &a);
    n = coef * pow(compute, a);
    return finish(out, &kc, approach, compute, n, compute / (6.0 * n), fn);
}

int llm_plan_for_params(llm_plan *out, const llm_plan_constants *k, int32_t approach,
                        double params) {
    static const char fn[] = "llm_plan_for_params";
    llm_plan_constants kc;
    double coef, a, c;
    int rc = check(&kc, out, k, approach, params, fn, "params");
    if (rc != LLM_OK)
        return rc;
    power_law(&kc, approach, &coef, &a);
    /* N = coef C^a  <=>  C = (N / coef)^(1/a) */
    c = pow(params / coef, 1.0 / a);
    return finish(out, &kc, approach, c, params, c / (6.0 * params), fn);
}

int llm_plan_for_tokens(llm_plan *out, const llm_plan_constants *k, int32_t approach,
                        double tokens) {
    static const char fn[] = "llm_plan_for_tokens";
    llm_plan_constants kc;
    double coef, a, c;
    int rc = check(&kc, out, k, approach, tokens, fn, "tokens");
    if (rc != LLM_OK)
        return rc;
    power_law(&kc, approach, &coef, &a);
    /* D = C / (6 coef C^a) = C^(1-a) / (6 coef)  <=>  C = (6 coef D)^(1/(1-a)) */
    c = pow(6.0 * coef * tokens, 1.0 / (1.0 - a));
    return finish(out, &kc, approach, c, c / (6.0 * tokens), tokens, fn);
}

int llm_plan_loss(double *out_loss, const llm_plan_constants *k, double params, double tokens) {
    static const char fn[] = "llm_plan_loss";
    llm_plan_constants kc;
    int rc;
    if (!out_loss)
        return llm__err(NULL, LLM_ERR_INVALID, "%s: out_loss is NULL", fn);
    if (!(params > 0.0 && isfinite(params)))
        return llm__err(NULL, LLM_ERR_INVALID, "%s: params = %g must be positive and finite",
                        fn, params);
    if (!(tokens > 0.0 && isfinite(tokens)))
        return llm__err(NULL, LLM_ERR_INVALID, "%s: tokens = %g must be positive and finite",
                        fn, tokens);
    rc = llm__constants_read(&kc, k, fn);
    if (rc != LLM_OK)
        return rc;
    *out_loss = law(&kc, params, tokens);
    return LLM_OK;
}

int llm_plan_seconds(double *out_seconds, double tokens, double tokens_per_second,
                     double params, double measured_params) {
    static const char fn[] = "llm_plan_seconds";
    double rate = tokens_per_second;
    if (!out_seconds)
        return llm__err(NULL, LLM_ERR_INVALID, "%s: out_seconds is NULL", fn);
    if (!(tokens > 0.0 && isfinite(tokens)))
        return llm__err(NULL, LLM_ERR_INVALID, "%s: tokens = %g must be positive and finite",
                        fn, tokens);
    if (!(tokens_per_second > 0.0 && isfinite(tokens_per_second)))
        return llm__err(NULL, LLM_ERR_INVALID,
                        "%s: tokens_per_second = %g must be positive and finite", fn,
                        tokens_per_second);
    if (!(measured_params >= 0.0 && isfinite(measured_params)))
        return llm__err(NULL, LLM_ERR_INVALID,
                        "%s: measured_params = %g must be 0 or positive and finite", fn,
                        measured_params);
    if (measured_params > 0.0) {
        if (!(params > 0.0 && isfinite(params)))
            return llm__err(NULL, LLM_ERR_INVALID,
                            "%s: params = %g must be positive and finite when "
                            "measured_params is given", fn, params);
        /* the same FLOP/s: 6 * measured_params * rate = 6 * params * rate' */
        rate = tokens_per_second * measured_params / params;
    }
    *out_seconds = tokens / rate;
    return LLM_OK;
}

int llm_plan_budget(double *out_compute, double seconds, double tokens_per_second,
                    double measured_params) {
    static const char fn[] = "llm_plan_budget";
    if (!out_compute)
        return llm__err(NULL, LLM_ERR_INVALID, "%s: out_compute is NULL", fn);
    if (!(seconds > 0.0 && isfinite(seconds)))
        return llm__err(NULL, LLM_ERR_INVALID, "%s: seconds = %g must be positive and finite",
                        fn, seconds);
    if (!(tokens_per_second > 0.0 && isfinite(tokens_per_second)))
        return llm__err(NULL, LLM_ERR_INVALID,
                        "%s: tokens_per_second = %g must be positive and finite", fn,
                        tokens_per_second);
    if (!(measured_params > 0.0 && isfinite(measured_params)))
        return llm__err(NULL, LLM_ERR_INVALID,
                        "%s: measured_params = %g must be positive and finite", fn,
                        measured_params);
    *out_compute = 6.0 * measured_params * tokens_per_second * seconds;
    if (!isfinite(*out_compute))
        return llm__err(NULL, LLM_ERR_RANGE, "%s: the budget overflows a double", fn);
    return LLM_OK;
}
