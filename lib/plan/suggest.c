/*
 * suggest.c - proposing a concrete model shape for a target parameter
 * count (llm_plan_suggest_config).
 *
 * The search is exhaustive over a small grid: n_layer in 1..256 and n_embd
 * a multiple of hs * g (head size hs, n_head = n_embd / hs, g the base's
 * query heads per key/value head, which is kept), with the aspect ratio
 * n_embd / n_layer in [32, 256]. Kaplan et al. 2020 (Figure 5) found the
 * loss within a few percent of its best over a wide range of shapes at
 * fixed N, and the published models lie in this range (GPT-2 small 64,
 * Chinchilla 70B 8192/80 = 102, GPT-3 175B 128). Each candidate is counted
 * exactly with llm__count_config, so the proposal's count is the count the
 * model loader and trainer will see.
 *
 * Selection: the smallest relative error; among the candidates within 1%
 * of the target (or of the best error when none is), the one whose aspect
 * ratio is closest to [64, 128] in log scale, then the smaller error, then
 * fewer layers (deterministic). The head size is 64 whenever a 64-head
 * shape is within 2.5% of the target; for models too small for that
 * (n_embd >= 64 and aspect >= 32 leave few shapes below ~1M parameters)
 * the head size of 32 or 16 that comes closest. The FFN width keeps the
 * base's n_ff / n_embd, rounded to a multiple of hs.
 */
#include <math.h>
#include <string.h>

#include "llm_core.h"
#include "plan/plan_internal.h"

/* head sizes tried, in order of preference; a size is taken when some
 * shape with it is within HEAD_TOL of the target */
#define HEAD_TOL 1.025
static const uint32_t head_sizes[] = {64, 32, 16};
#define MAX_LAYERS 256
#define ASPECT_MIN 32.0
#define ASPECT_MAX 256.0
#define PREF_MIN 64.0
#define PREF_MAX 128.0

typedef struct cand {
    llm_model_config cfg;
    uint64_t params;
    double err;    /* |log(params / target)| */
    double shape;  /* log distance of the aspect ratio to [PREF_MIN, PREF_MAX] */
} cand;

/* Builds the candidate (n_layer, n_embd) from base; 0 when invalid. */
static int make(cand *c, const llm_model_config *base, double ff_ratio, uint32_t group,
                uint32_t hs, uint32_t n_layer, uint32_t n_embd, double target) {
    llm_count k;
    double ff, aspect;
    c->cfg = *base;
    c->cfg.n_layer = n_layer;
    c->cfg.n_embd = n_embd;
    c->cfg.n_head = n_embd / hs;
    c->cfg.n_head_kv = c->cfg.n_head / group; /* n_embd is a multiple of 64 * group */
    ff = floor(ff_ratio * n_embd / hs + 0.5) * hs;
    c->cfg.n_ff = ff < hs ? hs : (uint32_t)ff;
    if (llm__count_config(&k, &c->cfg) != LLM_OK)
        return 0;
    c->params = k.n_params;
    c->err = fabs(log((double)k.n_params / target));
    aspect = (double)n_embd / n_layer;
    c->shape = aspect < PREF_MIN ? log(PREF_MIN / aspect)
               : aspect > PREF_MAX ? log(aspect / PREF_MAX) : 0.0;
    return 1;
}

/* Pass 1 finds the best error; pass 2 selects with the tolerance. */
static int search(cand *best, const llm_model_config *base, double ff_ratio, uint32_t group,
                  uint32_t hs, double target, double tol, int pass) {
    uint32_t L, j;
    cand c;
    int found = 0;
    /* n_embd steps by whole groups of heads, so that n_head_kv keeps the
     * base's query-heads-per-kv-head ratio */
    const uint32_t step = hs * group;
    for (L = 1; L <= MAX_LAYERS; L++) {
        uint32_t j0 = (uint32_t)ceil(ASPECT_MIN * L / step);
        uint32_t j1 = (uint32_t)floor(ASPECT_MAX * L / step);
        for (j = j0 < 1 ? 1 : j0; j <= j1; j++) {
            if (!make(&c, base, ff_ratio, group, hs, L, j * step, target))
                break;
            if (pass == 1) {
                if (!found || c.err < best->err)
                    *best = c;
                found = 1;
            } else if (c.err <= tol) {
                if (!found || c.shape < best->shape ||
                    (c.shape == best->shape && c.err < best->err))
                    *best = c;
                found = 1;
            }
            if ((double)c.params > 1.5 * target)
                break; /* counts grow with n_embd */
        }
    }
    return found;
}

int llm_plan_suggest_config(llm_model_config *out, uint64_t *out_params,
                            const llm_model_config *base, double target_params) {
    static const char fn[] = "llm_plan_suggest_config";
    llm_model_config b, check;
    cand best;
    double ff_ratio, tol;
    uint32_t group, hs;
    size_t i;
    int rc;
    if (!out)
        return llm__err(NULL, LLM_ERR_INVALID, "%s: out is NULL", fn);
    if (!(target_params > 0.0 && isfinite(target_params)))
        return llm__err(NULL, LLM_ERR_INVALID,
                        "%s: target_params = %g must be positive and finite", fn, target_params);
    if (base) {
        rc = llm__config_read(NULL, &b, base);
    } else {
        llm_model_config d;
        llm_model_config_init(&d, sizeof d);
        rc = llm__config_read(NULL, &b, &d);
    }
    if (rc != LLM_OK)
        return rc;
    ff_ratio = (double)b.n_ff / b.n_embd;
    group = b.n_head / b.n_head_kv;
    /* head size 64 when some shape is within 2.5%; otherwise the head size
     * (32, 16: the small models) that gets closest */
    memset(&best, 0, sizeof best);
    hs = 0;
    for (i = 0; i < sizeof head_sizes / sizeof head_sizes[0]; i++) {
        cand c;
        if (!search(&c, &b, ff_ratio, group, head_sizes[i], target_params, 0.0, 1))
            continue;
        if (hs == 0 || c.err < best.err) {
            best = c;
            hs = head_sizes[i];
        }
        if (best.err <= log(HEAD_TOL))
            break;
    }
    if (hs == 0 || best.err > log(1.5))
        return llm__err(NULL, LLM_ERR_RANGE,
                        "%s: no shape with n_layer <= %d, head size 64, 32 or 16 and aspect "
                        "ratio in [%g, %g] has within a factor 1.5 of target_params = %g "
                        "parameters (n_vocab %u, n_ctx %u)", fn, MAX_LAYERS, ASPECT_MIN,
                        ASPECT_MAX, target_params, (unsigned)b.n_vocab, (unsigned)b.n_ctx);
    tol = best.err > log(1.01) ? best.err : log(1.01);
    search(&best, &b, ff_ratio, group, hs, target_params, tol, 2);
    /* the proposal must pass the same validation as any config */
    rc = llm__config_read(NULL, &check, &best.cfg);
    if (rc != LLM_OK) {
        char why[LLM__ERRMSG_MAX];
        strncpy(why, llm_last_errmsg(), sizeof why - 1);
        why[sizeof why - 1] = '\0';
        return llm__err(NULL, LLM_ERR_INTERNAL, "%s: proposed an invalid config: %s", fn, why);
    }
    rc = llm__count_write_result(out, &best.cfg, sizeof best.cfg, fn, "llm_model_config");
    if (rc != LLM_OK)
        return rc;
    if (out_params)
        *out_params = best.params;
    return LLM_OK;
}
