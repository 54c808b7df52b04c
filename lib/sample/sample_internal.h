/*
 * sample_internal.h - the sampler handle and the chain kernels shared by
 * sampler.c (public API), chain.c (stages) and rng.c (PRNG).
 *
 * Invariants of a live llm_sampler:
 *   - z, w, keys and count hold n_vocab entries each (bitmap one bit per
 *     token) and are allocated at create; nothing is allocated per token.
 *   - count[t] is the number of occurrences of token t in the penalty
 *     window hist (a ring of hist_cap slots, oldest at hist_head, hist_len
 *     <= last_n <= hist_cap entries); its top bit is only set transiently
 *     while the penalties run.
 *   - parameters hold their effective values: temp 0 means greedy, top_p 1
 *     and min_p 0 and top_k 0 mean off, repeat 1 means off.
 * Weights: a token's weight is w = 2^(y) with y = (z - z_max) * log2(e)/T
 * evaluated by llm__chain_weight (float, monotone non-decreasing in z),
 * and its integer weight wq = floor(w * 2^shift). All sums, the top-p cut
 * and the draw use wq, so they are exact and order-independent.
 */
#ifndef LLM_SAMPLE_INTERNAL_H
#define LLM_SAMPLE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "llm_core.h"

/* ---- rng.c: xoshiro256** seeded with splitmix64 ---- */
typedef struct llm__rng {
    uint64_t s[4];
} llm__rng;

LLM_INTERNAL void llm__rng_seed(llm__rng *r, uint64_t seed);
LLM_INTERNAL uint64_t llm__rng_next(llm__rng *r);
/* floor(x * n / 2^64): maps a uniform 64-bit x to [0, n) (bias <= n/2^64). */
LLM_INTERNAL uint64_t llm__rng_mulhi(uint64_t x, uint64_t n);

/* ---- the handle ---- */
struct llm_sampler {
    llm__obj obj;
    uint32_t n_vocab;     /* V */
    uint32_t flags;       /* LLM_SAMPLER_FLAG_* */
    unsigned shift;       /* s: the most likely token weighs 2^s */
    /* parameters (effective values, see the invariants above) */
    float temp;
    int32_t top_k;
    float top_p;
    float min_p;
    float repeat;
    float presence;
    float frequency;
    int32_t last_n;
    llm__rng rng;
    llm_logit_bias *bias; /* [n_bias], copied from the options */
    size_t n_bias;
    /* penalty window */
    llm_token *hist;      /* [hist_cap] ring */
    size_t hist_cap, hist_head, hist_len;
    uint32_t *count;      /* [V] occurrences in the window */
    /* scratch, [V] each */
    float *z;             /* penalized logits */
    float *w;             /* float weights 2^y (valid for candidates) */
    uint64_t *keys;       /* candidate lists: sort keys or ids */
    uint64_t *bitmap;     /* [(V+63)/64] all zero between calls */
    uint64_t *blocks;     /* [(V+63)/64] integer weight per 64 tokens */
};

/* ---- chain.c ---- */

/* Which implementation of the selection stages to run: the optimised one
 * (heap top-k, bucketed top-p) or the naive reference (full sort). Both
 * give bit-identical candidates, weights and draws. */
#define LLM__CHAIN_FAST  0
#define LLM__CHAIN_NAIVE 1

/* The result of running the chain on one logit vector. */
typedef struct llm__cands {
    /* NULL: every token is a candidate (weights s->w[0..V)); otherwise
     * n token ids in ascending order (as uint64 values). */
    const uint64_t *ids;
    size_t n;
    uint64_t total;       /* sum of the integer weights of the candidates */
    const uint64_t *blocks; /* ids == NULL: the sums per 64 tokens (or NULL) */
    int32_t greedy;       /* 1 when temperature 0 picked ids[0] */
} llm__cands;

/* Runs stages 1-6 of the chain (llm.h) on logits[0..V) into s's scratch.
 * Returns LLM_OK or LLM_ERR_INVALID (recorded on s, messages start with
 * `fn`, the public caller's name) for NaN/+inf logits or when every token
 * is masked. Does not touch the PRNG or the window. */
LLM_INTERNAL int llm__chain_run(llm_sampler *s, const float *logits, int impl,
                                llm__cands *c, const char *fn);
/* The draw (stage 7): the candidate at which the running sum of integer
 * weights (ascending id order) first exceeds r = floor(x * total / 2^64).
 * With block sums the walk skips whole blocks; the sums are exact, so the
 * token is the same. */
LLM_INTERNAL llm_token llm__chain_draw(const llm_sampler *s, const llm__cands *c,
                                       uint64_t x);
/* Integer weight of a float weight for shift s: floor(w * 2^s). */
LLM_INTERNAL uint64_t llm__chain_wq(float w, unsigned shift);
/* The weight 2^y of a logit, y = (z - zmax) * k clamped at -(shift + 2)
 * (where the integer weight is 0 anyway); k = log2(e)/T. */
LLM_INTERNAL float llm__chain_weight(float z, float zmax, float k, float ymin);
/* Sorts n uint64 values ascending (insertion sort below 24, else heap
 * sort: no recursion, no allocation). */
LLM_INTERNAL void llm__chain_sort(uint64_t *a, size_t n);
/* Sort key of (z, id) such that ascending keys mean z descending, then id
 * ascending. z must not be NaN; -0 and +0 are the same key. */
LLM_INTERNAL uint64_t llm__chain_key(float z, uint32_t id);
/* Top-k selection: the min(k, number of finite logits) best (z desc, id
 * asc) tokens of z[0..V) as sort keys in keys[], sorted. Returns the count.
 * impl FAST uses a bounded heap (O(V log k)); NAIVE sorts all tokens. */
LLM_INTERNAL size_t llm__chain_top_k(uint64_t *keys, const float *z, size_t V,
                                     size_t k, int impl);

#endif /* LLM_SAMPLE_INTERNAL_H */
