/*
 * constants.c - the one table of published scaling-law constants and the
 * planner's constant sets (llm_plan_constants).
 *
 * Every number the planner uses comes from this file, with its source.
 * Where the paper publishes no coefficient for a power law, the
 * coefficient is DERIVED here from numbers the paper does publish, and
 * the derivation is done in code (not pasted as a literal) so that it can
 * be checked:
 *
 *   Approach 1 (training-curve envelope). Table 2 gives only the exponents
 *   a = b = 0.50. Table 3 of the paper lists "the projections from Approach
 *   1" of the compute-optimal FLOPs for nine model sizes (400M to 10T).
 *   With a fixed at 0.50, the coefficient k of N_opt = k C^a is the
 *   least-squares fit in log space: log k = mean_i(log N_i - a log C_i).
 *   It gives k = 0.08933, which reproduces every Table 3 row within 2.2%
 *   (the table's FLOPs come from the Appendix F count, not 6ND, and its
 *   points need not lie exactly on a power law of exponent 0.50).
 *
 *   Approach 2 (IsoFLOP profiles). Table 2 gives a = 0.49, b = 0.51 and no
 *   coefficient; the paper's Table A3 (Approach 2 projections) was not
 *   accessible when this was written. The only published point of the
 *   Approach 2 fit we could read is Figure 3's projection for Gopher's
 *   budget, C = 5.76e23 FLOPs: D_opt = 1.4T tokens (figure label). We
 *   anchor D_opt = k_D C^0.51 there, and N_opt = C / (6 D_opt), i.e.
 *   k = 1 / (6 k_D) = 0.15615, giving N_opt(5.76e23) = 68.6B.
 *
 *   Approach 3 (parametric loss). The coefficient is the closed form
 *   G = (alpha A / (beta B))^(1/(alpha+beta)) of eq. (4) with the fitted
 *   E, A, B, alpha, beta, so nothing needs deriving.
 *
 * Exponents: b = 1 - a for all three published pairs (0.50/0.50,
 * 0.49/0.51, 0.46/0.54), so D_opt = C / (6 N_opt) keeps C = 6ND exact.
 *
 * Sources (the paper's PDF was read through transcriptions, see
 * shared docs/math.md sections 5 and 6):
 *   [H22]  Hoffmann et al. 2022, "Training Compute-Optimal Large Language
 *          Models", arXiv:2203.15556: Table 2 (exponents), Table 3
 *          (Approach 1 projections), Figure 3 (Approach 2, Gopher budget),
 *          Appendix D.2 (E = 1.69, A = 406.4, B = 410.7, alpha = 0.34,
 *          beta = 0.28). Transcription: viktor-shcherb/msc_thesis,
 *          references/2022-12-chinchilla-scaling-laws/sections/03_*.md.
 *   [E24]  The unrounded Appendix D.2 fit as quoted in Epoch AI's
 *          replication code (epoch-research/analyzing-chinchilla,
 *          data_analysis.ipynb): log A = 6.00734, log B = 6.01792,
 *          log E = 0.52672, alpha = 0.33917, beta = 0.28491. Unlike the
 *          rounded values, these reproduce the paper's own projection of
 *          40B parameters for Gopher's budget (Figure 4) and Table 2's
 *          a = 0.46.
 *   [B24]  Besiroglu et al. 2024, "Chinchilla Scaling: A replication
 *          attempt", arXiv:2404.10102, Table 1: A = 482.01, B = 2085.43,
 *          E = 1.817, alpha = 0.3478, beta = 0.3658
 *          (as tabulated in docs/math.md section 6.3).
 */
#include <math.h>
#include <string.h>

#include "llm_core.h"
#include "plan/plan_internal.h"

/* [H22] Table 3: (parameters, FLOPs) projected by Approach 1. */
static const double table3_approach1[][2] = {
    {400e6, 1.92e19}, {1e9, 1.21e20},   {10e9, 1.23e22},
    {67e9, 5.76e23},  {175e9, 3.85e24}, {280e9, 9.90e24},
    {520e9, 3.43e25}, {1e12, 1.27e26},  {10e12, 1.30e28},
};

/* [H22] Gopher's training budget and Figure 3's Approach 2 projection. */
#define GOPHER_FLOPS 5.76e23
#define FIG3_APPROACH2_TOKENS 1.4e12

/* [H22] Table 2 exponents a (N_opt ~ C^a). */
#define APPROACH1_A 0.50
#define APPROACH2_A 0.49

/* The parametric-law constant sets: E, A, B, alpha, beta. */
static const struct {
    int32_t preset;
    double E, A, B, alpha, beta;
} law_table[] = {
    /* [H22] App. D.2, as printed */
    {LLM_CONSTANTS_HOFFMANN2022, 1.69, 406.4, 410.7, 0.34, 0.28},
    /* [E24] unrounded; E, A, B given as logs there */
    {LLM_CONSTANTS_HOFFMANN2022_UNROUNDED, 0.0 /* exp(0.52672) */,
     0.0 /* exp(6.00734) */, 0.0 /* exp(6.01792) */, 0.33917, 0.28491},
    /* [B24] Table 1 */
    {LLM_CONSTANTS_BESIROGLU2024, 1.817, 482.01, 2085.43, 0.3478, 0.3658},
};

double llm__constants_approach1_coef(void) {
    /* least squares in log space with the exponent fixed (see top) */
    size_t i, n = sizeof table3_approach1 / sizeof table3_approach1[0];
    double s = 0.0;
    for (i = 0; i < n; i++)
        s += log(table3_approach1[i][0]) - APPROACH1_A * log(table3_approach1[i][1]);
    return exp(s / (double)n);
}

double llm__constants_approach2_coef(void) {
    /* D_opt(C_G) = k_D C_G^(1-a) = 1.4e12 and N_opt = C / (6 D_opt) */
    double k_d = FIG3_APPROACH2_TOKENS / pow(GOPHER_FLOPS, 1.0 - APPROACH2_A);
    return 1.0 / (6.0 * k_d);
}

/* Fills every field of a full-size struct from preset `p` (known valid). */
static void fill_preset(llm_plan_constants *k, int32_t p) {
    size_t i;
    memset(k, 0, sizeof *k);
    k->struct_size = (uint32_t)sizeof *k;
    k->preset = p;
    for (i = 0; i < sizeof law_table / sizeof law_table[0]; i++) {
        if (law_table[i].preset != p)
            continue;
        k->E = law_table[i].E;
        k->A = law_table[i].A;
        k->B = law_table[i].B;
        k->alpha = law_table[i].alpha;
        k->beta = law_table[i].beta;
    }
    if (p == LLM_CONSTANTS_HOFFMANN2022_UNROUNDED) {
        /* exp() cannot appear in a static initialiser */
        k->E = exp(0.52672);
        k->A = exp(6.00734);
        k->B = exp(6.01792);
    }
    k->approach1_a = APPROACH1_A;
    k->approach1_coef = llm__constants_approach1_coef();
    k->approach2_a = APPROACH2_A;
    k->approach2_coef = llm__constants_approach2_coef();
}

static int known_preset(int32_t p) {
    return p == LLM_CONSTANTS_HOFFMANN2022 || p == LLM_CONSTANTS_HOFFMANN2022_UNROUNDED ||
           p == LLM_CONSTANTS_BESIROGLU2024;
}

int llm_plan_constants_preset(llm_plan_constants *k, size_t struct_size, int32_t preset) {
    llm_plan_constants full;
    int rc;
    if (!known_preset(preset))
        return llm__err(NULL, LLM_ERR_INVALID,
                        "llm_plan_constants_preset: preset %d is not one of "
                        "LLM_CONSTANTS_HOFFMANN2022 (1), _HOFFMANN2022_UNROUNDED (2), "
                        "BESIROGLU2024 (3)", (int)preset);
    rc = llm__opts_init(k, struct_size, "llm_plan_constants_preset");
    if (rc != LLM_OK)
        return rc;
    fill_preset(&full, preset);
    /* copy only what the caller's struct has room for */
    memcpy((char *)k + sizeof(uint32_t), (const char *)&full + sizeof(uint32_t),
           (struct_size < sizeof full ? struct_size : sizeof full) - sizeof(uint32_t));
    return LLM_OK;
}

int llm_plan_constants_init(llm_plan_constants *k, size_t struct_size) {
    if (!k)
        return llm__err(NULL, LLM_ERR_INVALID, "llm_plan_constants_init: k is NULL");
    return llm_plan_constants_preset(k, struct_size, LLM_CONSTANTS_HOFFMANN2022);
}

/* positive and finite */
static int pos(double x) { return x > 0.0 && isfinite(x); }

int llm__constants_read(llm_plan_constants *dst, const llm_plan_constants *src,
                        const char *fn) {
    llm_plan_constants def;
    int rc;
    fill_preset(&def, LLM_CONSTANTS_HOFFMANN2022);
    if (!src) {
        *dst = def;
        return LLM_OK;
    }
    rc = llm__opts_read(NULL, dst, sizeof *dst, src, "llm_plan_constants");
    if (rc != LLM_OK)
        return rc;
    /* zero means "the default set's value" (ABI rule: zero is default) */
#define DEFAULT_IF_ZERO(f)                                                    \
    if (dst->f == 0.0)                                                        \
        dst->f = def.f;                                                       \
    else if (!pos(dst->f))                                                    \
        return llm__err(NULL, LLM_ERR_INVALID,                                \
                        "%s: constants." #f " = %g must be positive and finite", fn, dst->f)
    DEFAULT_IF_ZERO(E);
    DEFAULT_IF_ZERO(A);
    DEFAULT_IF_ZERO(B);
    DEFAULT_IF_ZERO(alpha);
    DEFAULT_IF_ZERO(beta);
    DEFAULT_IF_ZERO(approach1_a);
    DEFAULT_IF_ZERO(approach1_coef);
    DEFAULT_IF_ZERO(approach2_a);
    DEFAULT_IF_ZERO(approach2_coef);
#undef DEFAULT_IF_ZERO
    if (!(dst->approach1_a < 1.0))
        return llm__err(NULL, LLM_ERR_INVALID,
                        "%s: constants.approach1_a = %g must be in (0, 1)", fn, dst->approach1_a);
    if (!(dst->approach2_a < 1.0))
        return llm__err(NULL, LLM_ERR_INVALID,
                        "%s: constants.approach2_a = %g must be in (0, 1)", fn, dst->approach2_a);
    return LLM_OK;
}
