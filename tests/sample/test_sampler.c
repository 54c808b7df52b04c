/*
 * test_sampler.c - the sampler chain on hand-computed examples.
 *
 * Oracles: closed-form softmax values computed here with libm's exp() in
 * double (independent of libllm's own exponential), hand-derived filtering
 * sets, Hugging Face's penalty formulas worked by hand, a Python
 * transcription of xoshiro256** and splitmix64 for the PRNG's known answers,
 * and a chi-square goodness-of-fit test of 200000 draws per configuration
 * against the distribution (fixed seeds, so the test cannot flake).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm.h"
#include "sample/sample_internal.h"

/* ---- helpers ---- */

static llm_sampler *mk(uint32_t V, uint64_t seed, uint32_t flags) {
    llm_sampler_opts o;
    llm_sampler *s = NULL;
    LLM_SAMPLER_OPTS_INIT(&o);
    o.n_vocab = V;
    o.seed = seed;
    o.flags = flags;
    assert_int_equal(llm_sampler_create(&s, &o), LLM_OK);
    assert_non_null(s);
    return s;
}

/* Expected softmax of x[i]/T over the tokens with keep[i] (double, libm). */
static void softmax_ref(double *p, const double *x, const int *keep, size_t n, double T) {
    double m = -INFINITY, sum = 0;
    size_t i;
    for (i = 0; i < n; i++)
        if (keep[i] && x[i] / T > m)
            m = x[i] / T;
    for (i = 0; i < n; i++) {
        p[i] = keep[i] ? exp(x[i] / T - m) : 0.0;
        sum += p[i];
    }
    for (i = 0; i < n; i++)
        p[i] /= sum;
}

static void probs_of(float *p, llm_sampler *s, const float *logits, size_t V) {
    size_t kept;
    assert_int_equal(llm_sampler_probs(p, &kept, s, logits, V), LLM_OK);
}

static void expect_probs(const float *got, const double *want, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) {
        if ((want[i] > 0) != (got[i] > 0) || fabs(got[i] - want[i]) > 2e-6 * want[i] + 1e-9) {
            print_error("token %zu: got %.9g want %.9g\n", i, (double)got[i], want[i]);
            fail();
        }
    }
}

/* ---- PRNG ---- */

static void test_rng_known_answers(void **state) {
    /* from a Python transcription of the published algorithms */
    static const uint64_t want0[4] = {0x99ec5f36cb75f2b4ull, 0xbf6e1f784956452aull,
                                      0x1a5f849d4933e6e0ull, 0x6aa594f1262d2d2cull};
    static const uint64_t want42[4] = {0x15780b2e0c2ec716ull, 0x6104d9866d113a7eull,
                                       0xae17533239e499a1ull, 0xecb8ad4703b360a1ull};
    llm__rng r;
    int i;
    (void)state;
    llm__rng_seed(&r, 0);
    for (i = 0; i < 4; i++)
        assert_true(llm__rng_next(&r) == want0[i]);
    llm__rng_seed(&r, 42);
    for (i = 0; i < 4; i++)
        assert_true(llm__rng_next(&r) == want42[i]);
    assert_true(llm__rng_mulhi(0xfedcba9876543210ull, 0x123456789abcdef1ull) ==
                0x121fa00ad77d7423ull);
    assert_true(llm__rng_mulhi(UINT64_MAX, UINT64_MAX) == 0xfffffffffffffffeull);
    assert_true(llm__rng_mulhi(UINT64_MAX, 10) == 9);
    assert_true(llm__rng_mulhi(0, 10) == 0);
}

/* ---- weights ---- */

static void test_weight_function(void **state) {
    /* 2^y against libm over the useful range, and monotone in z */
    float prev = 0.0f;
    int i;
    (void)state;
    assert_true(llm__chain_weight(3.0f, 3.0f, 1.0f, -50.0f) == 1.0f);
    for (i = -400000; i <= 0; i++) {
        float z = (float)i * 1e-4f; /* y in [-40, 0] with k = 1 */
        float w = llm__chain_weight(z, 0.0f, 1.0f, -50.0f);
        double want = exp2((double)z);
        assert_true(w >= prev);
        prev = w;
        if (fabs(w - want) > 1e-6 * want) {
            print_error("2^%g: got %.9g want %.9g\n", (double)z, (double)w, want);
            fail();
        }
    }
    /* masked tokens and the clamp give integer weight 0 */
    assert_true(llm__chain_wq(llm__chain_weight(-INFINITY, 0.0f, 1.0f, -50.0f), 48) == 0);
    assert_true(llm__chain_wq(1.0f, 48) == (UINT64_C(1) << 48));
    assert_true(llm__chain_wq(0.5f, 48) == (UINT64_C(1) << 47));
}

/* ---- the stages, each alone ---- */

static void test_plain_softmax(void **state) {
    const float logits[4] = {0.0f, 1.0f, -1.5f, 2.25f};
    const double x[4] = {0.0, 1.0, -1.5, 2.25};
    const int keep[4] = {1, 1, 1, 1};
    double want[4];
    float got[4];
    llm_sampler *s = mk(4, 1, 0);
    (void)state;
    softmax_ref(want, x, keep, 4, 1.0);
    probs_of(got, s, logits, 4);
    expect_probs(got, want, 4);
    llm_sampler_free(s);
}

static void test_temperature(void **state) {
    const float logits[5] = {0.5f, -1.0f, 2.0f, 1.0f, 0.0f};
    const double x[5] = {0.5, -1.0, 2.0, 1.0, 0.0};
    const int keep[5] = {1, 1, 1, 1, 1};
    static const float temps[] = {0.25f, 0.7f, 1.0f, 2.0f, 10.0f};
    double want[5];
    float got[5];
    size_t i;
    llm_sampler *s = mk(5, 1, 0);
    (void)state;
    for (i = 0; i < sizeof temps / sizeof temps[0]; i++) {
        assert_int_equal(llm_sampler_set_f32(s, LLM_SAMPLER_TEMP, temps[i]), LLM_OK);
        softmax_ref(want, x, keep, 5, (double)temps[i]);
        probs_of(got, s, logits, 5);
        expect_probs(got, want, 5);
    }
    llm_sampler_free(s);
}

static void test_top_k(void **state) {
    const float logits[6] = {1.0f, 4.0f, 2.0f, 3.0f, -1.0f, 0.0f};
    const double x[6] = {1.0, 4.0, 2.0, 3.0, -1.0, 0.0};
    int keep[6] = {0, 1, 0, 1, 0, 0}; /* k = 2: logits 4 and 3 */
    double want[6];
    float got[6];
    llm_sampler *s = mk(6, 1, 0);
    (void)state;
    assert_int_equal(llm_sampler_set_i32(s, LLM_SAMPLER_TOP_K, 2), LLM_OK);
    softmax_ref(want, x, keep, 6, 1.0);
    probs_of(got, s, logits, 6);
    expect_probs(got, want, 6);
    /* k = 1 is greedy-like; k >= V keeps everything */
    assert_int_equal(llm_sampler_set_i32(s, LLM_SAMPLER_TOP_K, 1), LLM_OK);
    probs_of(got, s, logits, 6);
    assert_true(got[1] == 1.0f);
    assert_int_equal(llm_sampler_set_i32(s, LLM_SAMPLER_TOP_K, 6), LLM_OK);
    memcpy(keep, (int[6]){1, 1, 1, 1, 1, 1}, sizeof keep);
    softmax_ref(want, x, keep, 6, 1.0);
    probs_of(got, s, logits, 6);
    expect_probs(got, want, 6);
    llm_sampler_free(s);
}

static void test_top_k_ties(void **state) {
    /* ties at the cut go to the lower id; masked tokens are never kept */
    const float logits[7] = {5.0f, 1.0f, 5.0f, 5.0f, -INFINITY, 5.0f, -INFINITY};
    float got[7];
    size_t kept;
    llm_sampler *s = mk(7, 1, 0);
    (void)state;
    assert_int_equal(llm_sampler_set_i32(s, LLM_SAMPLER_TOP_K, 2), LLM_OK);
    assert_int_equal(llm_sampler_probs(got, &kept, s, logits, 7), LLM_OK);
    assert_int_equal(kept, 2);
    assert_true(got[0] == 0.5f && got[2] == 0.5f);
    assert_true(got[3] == 0.0f && got[5] == 0.0f);
    /* -0 and +0 are the same logit: the tie goes to the lower id */
    {
        const float zs[3] = {-1.0f, -0.0f, 0.0f};
        llm_sampler *g = mk(3, 1, LLM_SAMPLER_FLAG_GREEDY);
        llm_token t;
        assert_int_equal(llm_sampler_sample(&t, g, zs, 3), LLM_OK);
        assert_int_equal(t, 1);
        assert_int_equal(llm_sampler_set_f32(g, LLM_SAMPLER_TEMP, 1.0f), LLM_OK);
        assert_int_equal(llm_sampler_set_i32(g, LLM_SAMPLER_TOP_K, 1), LLM_OK);
        assert_int_equal(llm_sampler_probs(got, &kept, g, zs, 3), LLM_OK);
        assert_true(got[1] == 1.0f && kept == 1);
        llm_sampler_free(g);
    }
    /* k larger than the number of unmasked tokens keeps the unmasked */
    assert_int_equal(llm_sampler_set_i32(s, LLM_SAMPLER_TOP_K, 6), LLM_OK);
    assert_int_equal(llm_sampler_probs(got, &kept, s, logits, 7), LLM_OK);
    assert_int_equal(kept, 5);
    assert_true(got[4] == 0.0f && got[6] == 0.0f);
    llm_sampler_free(s);
}

/* probabilities 0.5, 0.3, 0.15, 0.05 (as logits ln p), shuffled ids */
static const float P4_LOGITS[4] = {-1.89711998f /* ln .15 */, -0.69314718f /* ln .5 */,
                                   -2.99573227f /* ln .05 */, -1.20397280f /* ln .3 */};

static void test_top_p(void **state) {
    static const struct {
        float p;
        int keep[4];
    } cases[] = {
        {0.45f, {0, 1, 0, 0}}, /* 0.5 >= 0.45 */
        {0.75f, {0, 1, 0, 1}}, /* 0.5+0.3 */
        {0.85f, {1, 1, 0, 1}}, /* 0.95 */
        {0.99f, {1, 1, 1, 1}},
        {1.0f, {1, 1, 1, 1}},
    };
    double x[4], want[4];
    float got[4];
    size_t i, j;
    llm_sampler *s = mk(4, 1, 0);
    (void)state;
    for (j = 0; j < 4; j++)
        x[j] = P4_LOGITS[j];
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(llm_sampler_set_f32(s, LLM_SAMPLER_TOP_P, cases[i].p), LLM_OK);
        softmax_ref(want, x, cases[i].keep, 4, 1.0);
        probs_of(got, s, P4_LOGITS, 4);
        expect_probs(got, want, 4);
    }
    /* top-p after top-k renormalises over the top-k survivors:
     * k = 2 leaves .5/.8 = .625 and .3/.8 = .375; p = .6 keeps one */
    assert_int_equal(llm_sampler_set_i32(s, LLM_SAMPLER_TOP_K, 2), LLM_OK);
    assert_int_equal(llm_sampler_set_f32(s, LLM_SAMPLER_TOP_P, 0.6f), LLM_OK);
    probs_of(got, s, P4_LOGITS, 4);
    assert_true(got[1] == 1.0f);
    assert_int_equal(llm_sampler_set_f32(s, LLM_SAMPLER_TOP_P, 0.65f), LLM_OK);
    probs_of(got, s, P4_LOGITS, 4);
    assert_true(fabs(got[1] - 0.625) < 1e-6 && fabs(got[3] - 0.375) < 1e-6);
    llm_sampler_free(s);
}

static void test_min_p(void **state) {
    static const struct {
        float m;
        int keep[4];
    } cases[] = {
        {0.2f, {1, 1, 0, 1}}, /* >= 0.1: .5 .3 .15 */
        {0.5f, {0, 1, 0, 1}}, /* >= 0.25 */
        {0.7f, {0, 1, 0, 0}}, /* >= 0.35 */
        {1.0f, {0, 1, 0, 0}},
        {0.05f, {1, 1, 1, 1}},
    };
    double x[4], want[4];
    float got[4];
    size_t i, j;
    llm_sampler *s = mk(4, 1, 0);
    (void)state;
    for (j = 0; j < 4; j++)
        x[j] = P4_LOGITS[j];
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(llm_sampler_set_f32(s, LLM_SAMPLER_MIN_P, cases[i].m), LLM_OK);
        softmax_ref(want, x, cases[i].keep, 4, 1.0);
        probs_of(got, s, P4_LOGITS, 4);
        expect_probs(got, want, 4);
    }
    /* min_p 1 keeps exactly the most likely token, also after top-k */
    assert_int_equal(llm_sampler_set_f32(s, LLM_SAMPLER_MIN_P, 1.0f), LLM_OK);
    assert_int_equal(llm_sampler_set_i32(s, LLM_SAMPLER_TOP_K, 3), LLM_OK);
    probs_of(got, s, P4_LOGITS, 4);
    assert_true(got[1] == 1.0f && got[0] == 0.0f && got[3] == 0.0f);
    assert_int_equal(llm_sampler_set_i32(s, LLM_SAMPLER_TOP_K, 0), LLM_OK);
    /* min-p sees the tempered distribution: at T = 0.5 the ratios square,
     * .3/.5 -> .36, .15/.5 -> .09; min_p 0.2 keeps two */
    assert_int_equal(llm_sampler_set_f32(s, LLM_SAMPLER_MIN_P, 0.2f), LLM_OK);
    assert_int_equal(llm_sampler_set_f32(s, LLM_SAMPLER_TEMP, 0.5f), LLM_OK);
    {
        const int keep[4] = {0, 1, 0, 1};
        softmax_ref(want, x, keep, 4, 0.5);
        probs_of(got, s, P4_LOGITS, 4);
        expect_probs(got, want, 4);
    }
    llm_sampler_free(s);
}

static void test_greedy(void **state) {
    const float logits[5] = {1.0f, 3.0f, -2.0f, 3.0f, 2.9f};
    llm_token t = -1;
    float got[5];
    llm_sampler *s = mk(5, 9, LLM_SAMPLER_FLAG_GREEDY | LLM_SAMPLER_FLAG_NO_AUTO_ACCEPT);
    llm_sampler *ref = mk(5, 9, LLM_SAMPLER_FLAG_NO_AUTO_ACCEPT);
    float temp = -1;
    int i;
    (void)state;
    assert_int_equal(llm_sampler_get_f32(&temp, s, LLM_SAMPLER_TEMP), LLM_OK);
    assert_true(temp == 0.0f);
    /* tie between ids 1 and 3: the lower id wins, every time */
    for (i = 0; i < 10; i++) {
        assert_int_equal(llm_sampler_sample(&t, s, logits, 5), LLM_OK);
        assert_int_equal(t, 1);
    }
    probs_of(got, s, logits, 5);
    assert_true(got[1] == 1.0f && got[3] == 0.0f);
    /* greedy consumed no random numbers: switching to T = 1 now draws the
     * same tokens as a fresh sampler with the same seed */
    assert_int_equal(llm_sampler_set_f32(s, LLM_SAMPLER_TEMP, 1.0f), LLM_OK);
    for (i = 0; i < 50; i++) {
        llm_token a, b;
        assert_int_equal(llm_sampler_sample(&a, s, logits, 5), LLM_OK);
        assert_int_equal(llm_sampler_sample(&b, ref, logits, 5), LLM_OK);
        assert_int_equal(a, b);
    }
    /* a tiny positive (even denormal) temperature is a limit of sampling:
     * the two tied maxima share everything */
    assert_int_equal(llm_sampler_set_f32(s, LLM_SAMPLER_TEMP, 1e-40f), LLM_OK);
    probs_of(got, s, logits, 5);
    assert_true(got[1] == 0.5f && got[3] == 0.5f && got[4] == 0.0f);
    assert_int_equal(llm_sampler_set_f32(s, LLM_SAMPLER_TEMP, 1e6f), LLM_OK);
    probs_of(got, s, logits, 5);
    for (i = 0; i < 5; i++)
        assert_true(fabs(got[i] - 0.2) < 1e-5);
    /* temperature 0 through the setter is greedy too */
    assert_int_equal(llm_sampler_set_f32(s, LLM_SAMPLER_TEMP, 0.0f), LLM_OK);
    assert_int_equal(llm_sampler_sample(&t, s, logits, 5), LLM_OK);
    assert_int_equal(t, 1);
    llm_sampler_free(s);
    llm_sampler_free(ref);
}

static void test_logit_bias(void **state) {
    const float logits[4] = {1.0f, 2.0f, 0.0f, 0.5f};
    const llm_logit_bias bias[3] = {{1, -INFINITY}, {2, 1.0f}, {2, 0.25f}};
    const double x[4] = {1.0, 0.0 /* masked */, 1.25, 0.5};
    const int keep[4] = {1, 0, 1, 1};
    double want[4];
    float got[4];
    llm_sampler_opts o;
    llm_sampler *s = NULL;
    llm_token t;
    int i;
    (void)state;
    LLM_SAMPLER_OPTS_INIT(&o);
    o.n_vocab = 4;
    o.logit_bias = bias;
    o.n_logit_bias = 3;
    assert_int_equal(llm_sampler_create(&s, &o), LLM_OK);
    softmax_ref(want, x, keep, 4, 1.0);
    probs_of(got, s, logits, 4);
    expect_probs(got, want, 4);
    for (i = 0; i < 200; i++) {
        assert_int_equal(llm_sampler_sample(&t, s, logits, 4), LLM_OK);
        assert_true(t != 1);
    }
    llm_sampler_free(s);
}

/* Hugging Face semantics worked by hand:
 * logits 2, -2, 1, 0.5; window [0, 1, 0] (last_n 64); r = 2:
 *   z0 = 2/2 = 1, z1 = -2*2 = -4; then freq .5, presence .25:
 *   z0 = 1 - (2*.5 + .25) = -0.25, z1 = -4 - (.5 + .25) = -4.75. */
static void test_penalties(void **state) {
    const float logits[4] = {2.0f, -2.0f, 1.0f, 0.5f};
    const int keep[4] = {1, 1, 1, 1};
    double want[4];
    float got[4];
    llm_sampler *s = mk(4, 1, 0);
    (void)state;
    assert_int_equal(llm_sampler_accept(s, 0), LLM_OK);
    assert_int_equal(llm_sampler_accept(s, 1), LLM_OK);
    assert_int_equal(llm_sampler_accept(s, 0), LLM_OK);
    /* repetition only */
    assert_int_equal(llm_sampler_set_f32(s, LLM_SAMPLER_REPEAT_PENALTY, 2.0f), LLM_OK);
    softmax_ref(want, (const double[4]){1.0, -4.0, 1.0, 0.5}, keep, 4, 1.0);
    probs_of(got, s, logits, 4);
    expect_probs(got, want, 4);
    /* all three */
    assert_int_equal(llm_sampler_set_f32(s, LLM_SAMPLER_FREQUENCY_PENALTY, 0.5f), LLM_OK);
    assert_int_equal(llm_sampler_set_f32(s, LLM_SAMPLER_PRESENCE_PENALTY, 0.25f), LLM_OK);
    softmax_ref(want, (const double[4]){-0.25, -4.75, 1.0, 0.5}, keep, 4, 1.0);
    probs_of(got, s, logits, 4);
    expect_probs(got, want, 4);
    /* window of 2: [1, 0], each once: z0 = 1 - .75, z1 = -4 - .75 */
    assert_int_equal(llm_sampler_set_i32(s, LLM_SAMPLER_PENALTY_LAST_N, 2), LLM_OK);
    softmax_ref(want, (const double[4]){0.25, -4.75, 1.0, 0.5}, keep, 4, 1.0);
    probs_of(got, s, logits, 4);
    expect_probs(got, want, 4);
    /* growing the window again keeps only what the window of 2 held */
    assert_int_equal(llm_sampler_set_i32(s, LLM_SAMPLER_PENALTY_LAST_N, 100), LLM_OK);
    probs_of(got, s, logits, 4);
    expect_probs(got, want, 4);
    /* a penalty below 1 boosts: r = 0.5 on z0 = 2 gives 4, z1 -> -1 */
    assert_int_equal(llm_sampler_set_f32(s, LLM_SAMPLER_FREQUENCY_PENALTY, 0.0f), LLM_OK);
    assert_int_equal(llm_sampler_set_f32(s, LLM_SAMPLER_PRESENCE_PENALTY, 0.0f), LLM_OK);
    assert_int_equal(llm_sampler_set_f32(s, LLM_SAMPLER_REPEAT_PENALTY, 0.5f), LLM_OK);
    softmax_ref(want, (const double[4]){4.0, -1.0, 1.0, 0.5}, keep, 4, 1.0);
    probs_of(got, s, logits, 4);
    expect_probs(got, want, 4);
    /* reset empties the window */
    assert_int_equal(llm_sampler_reset(s, 3), LLM_OK);
    softmax_ref(want, (const double[4]){2.0, -2.0, 1.0, 0.5}, keep, 4, 1.0);
    probs_of(got, s, logits, 4);
    expect_probs(got, want, 4);
    llm_sampler_free(s);
}

static void test_auto_accept(void **state) {
    /* sample() records its token (penalty applies to it next time) unless
     * LLM_SAMPLER_FLAG_NO_AUTO_ACCEPT */
    const float logits[3] = {5.0f, 0.0f, 0.0f};
    float got[3];
    llm_token t;
    llm_sampler *s = mk(3, 1, LLM_SAMPLER_FLAG_GREEDY);
    llm_sampler *n = mk(3, 1, LLM_SAMPLER_FLAG_GREEDY | LLM_SAMPLER_FLAG_NO_AUTO_ACCEPT);
    (void)state;
    assert_int_equal(llm_sampler_set_f32(s, LLM_SAMPLER_PRESENCE_PENALTY, 10.0f), LLM_OK);
    assert_int_equal(llm_sampler_set_f32(n, LLM_SAMPLER_PRESENCE_PENALTY, 10.0f), LLM_OK);
    assert_int_equal(llm_sampler_sample(&t, s, logits, 3), LLM_OK);
    assert_int_equal(t, 0);
    assert_int_equal(llm_sampler_sample(&t, s, logits, 3), LLM_OK);
    assert_int_equal(t, 1); /* 5 - 10 < 0: token 1 (lower id of the tie) */
    assert_int_equal(llm_sampler_sample(&t, n, logits, 3), LLM_OK);
    assert_int_equal(llm_sampler_sample(&t, n, logits, 3), LLM_OK);
    assert_int_equal(t, 0);
    probs_of(got, n, logits, 3);
    assert_true(got[0] == 1.0f);
    llm_sampler_free(s);
    llm_sampler_free(n);
}

/* ---- reproducibility ---- */

static void test_seeds(void **state) {
    enum { V = 1000, N = 2000 };
    float *logits = malloc(V * sizeof *logits);
    llm_token *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
    llm_sampler *s1 = mk(V, 1234, 0), *s2 = mk(V, 1234, 0), *s3 = mk(V, 1235, 0);
    int i, diff = 0;
    (void)state;
    assert_true(logits && a && b);
    for (i = 0; i < V; i++)
        logits[i] = (float)sin(i * 0.37) * 3.0f;
    for (i = 0; i < N; i++) {
        llm_token t3;
        assert_int_equal(llm_sampler_sample(&a[i], s1, logits, V), LLM_OK);
        assert_int_equal(llm_sampler_sample(&b[i], s2, logits, V), LLM_OK);
        assert_int_equal(llm_sampler_sample(&t3, s3, logits, V), LLM_OK);
        assert_int_equal(a[i], b[i]);
        diff += t3 != a[i];
    }
    assert_true(diff > N / 2); /* another seed, another stream */
    /* reset(seed) replays the stream (and clears the window) */
    assert_int_equal(llm_sampler_reset(s1, 1234), LLM_OK);
    for (i = 0; i < N; i++) {
        llm_token t;
        assert_int_equal(llm_sampler_sample(&t, s1, logits, V), LLM_OK);
        assert_int_equal(t, a[i]);
    }
    llm_sampler_free(s1);
    llm_sampler_free(s2);
    llm_sampler_free(s3);
    free(logits);
    free(a);
    free(b);
}

/* Samplers share no state: two threads, each with its own sampler of the
 * same seed, draw exactly the sequence one thread draws alone. */
enum { TH_V = 5000, TH_N = 3000 };

typedef struct th_arg {
    const float *logits;
    llm_token out[TH_N];
    int status;
} th_arg;

static void *th_run(void *p) {
    th_arg *a = p;
    llm_sampler_opts o;
    llm_sampler *s = NULL;
    int i;
    LLM_SAMPLER_OPTS_INIT(&o);
    o.n_vocab = TH_V;
    o.seed = 77;
    o.top_p = 0.9f;
    o.repeat_penalty = 1.2f;
    a->status = llm_sampler_create(&s, &o);
    for (i = 0; i < TH_N && a->status == LLM_OK; i++)
        a->status = llm_sampler_sample(&a->out[i], s, a->logits, TH_V);
    llm_sampler_free(s);
    return NULL;
}

static void test_threads(void **state) {
    static th_arg one, a, b;
    static float logits[TH_V];
    pthread_t ta, tb;
    int i;
    (void)state;
    for (i = 0; i < TH_V; i++)
        logits[i] = (float)sin(i * 1.7) * 5.0f;
    one.logits = a.logits = b.logits = logits;
    th_run(&one);
    assert_int_equal(pthread_create(&ta, NULL, th_run, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, th_run, &b), 0);
    assert_int_equal(pthread_join(ta, NULL), 0);
    assert_int_equal(pthread_join(tb, NULL), 0);
    assert_int_equal(one.status, LLM_OK);
    assert_int_equal(a.status, LLM_OK);
    assert_int_equal(b.status, LLM_OK);
    assert_memory_equal(one.out, a.out, sizeof one.out);
    assert_memory_equal(one.out, b.out, sizeof one.out);
}

/* ---- chi-square goodness of fit of the draws ---- */

/* Critical values of chi-square at alpha = 0.001 for 1..9 degrees of
 * freedom; with fixed seeds the test is deterministic, the level only says
 * how far from the distribution a correct sampler would almost never be. */
static const double CHI2_CRIT[10] = {0, 10.83, 13.82, 16.27, 18.47, 20.52,
                                     22.46, 24.32, 26.12, 27.88};

static void chi_square_run(llm_sampler *s, const float *logits, size_t V, const double *want) {
    enum { N = 200000 };
    long count[16] = {0};
    double chi2 = 0;
    int i, df = -1;
    size_t j;
    assert_true(V <= 16);
    for (i = 0; i < N; i++) {
        llm_token t;
        assert_int_equal(llm_sampler_sample(&t, s, logits, V), LLM_OK);
        count[t]++;
    }
    for (j = 0; j < V; j++) {
        if (want[j] == 0) {
            assert_int_equal(count[j], 0);
            continue;
        }
        chi2 += (count[j] - N * want[j]) * (count[j] - N * want[j]) / (N * want[j]);
        df++;
    }
    if (df >= 1) {
        if (chi2 > CHI2_CRIT[df]) {
            print_error("chi2 = %g with %d degrees of freedom\n", chi2, df);
            fail();
        }
    }
}

static void test_chi_square(void **state) {
    const float logits[10] = {0.3f, -1.2f, 2.0f, 0.9f, -0.4f, 1.6f, 0.0f, -2.5f, 1.1f, 0.6f};
    double x[10], want[10];
    int keep[10];
    size_t j;
    (void)state;
    for (j = 0; j < 10; j++) {
        x[j] = logits[j];
        keep[j] = 1;
    }
    /* T = 1 */
    {
        llm_sampler *s = mk(10, 11, LLM_SAMPLER_FLAG_NO_AUTO_ACCEPT);
        softmax_ref(want, x, keep, 10, 1.0);
        chi_square_run(s, logits, 10, want);
        /* T = 0.6 */
        assert_int_equal(llm_sampler_set_f32(s, LLM_SAMPLER_TEMP, 0.6f), LLM_OK);
        softmax_ref(want, x, keep, 10, 0.6);
        chi_square_run(s, logits, 10, want);
        llm_sampler_free(s);
    }
    /* top-k 4 at T = 1.3: ids 2 (2.0), 5 (1.6), 8 (1.1), 3 (0.9) */
    {
        llm_sampler *s = mk(10, 12, LLM_SAMPLER_FLAG_NO_AUTO_ACCEPT);
        int kk[10] = {0, 0, 1, 1, 0, 1, 0, 0, 1, 0};
        assert_int_equal(llm_sampler_set_i32(s, LLM_SAMPLER_TOP_K, 4), LLM_OK);
        assert_int_equal(llm_sampler_set_f32(s, LLM_SAMPLER_TEMP, 1.3f), LLM_OK);
        softmax_ref(want, x, kk, 10, (double)1.3f);
        chi_square_run(s, logits, 10, want);
        llm_sampler_free(s);
    }
    /* top-p 0.7 at T = 1: cumulative over 2, 5, 8, 3, 9, 0 ... */
    {
        llm_sampler *s = mk(10, 13, LLM_SAMPLER_FLAG_NO_AUTO_ACCEPT);
        static const int order[10] = {2, 5, 8, 3, 9, 0, 6, 4, 1, 7};
        int kp[10] = {0};
        double full[10], cum = 0;
        softmax_ref(full, x, keep, 10, 1.0);
        for (j = 0; j < 10 && cum < 0.7; j++) {
            cum += full[order[j]];
            kp[order[j]] = 1;
        }
        assert_int_equal(llm_sampler_set_f32(s, LLM_SAMPLER_TOP_P, 0.7f), LLM_OK);
        softmax_ref(want, x, kp, 10, 1.0);
        chi_square_run(s, logits, 10, want);
        llm_sampler_free(s);
    }
    /* min-p 0.3 at T = 1: keep logits >= 2.0 + ln 0.3 = 0.796 */
    {
        llm_sampler *s = mk(10, 14, LLM_SAMPLER_FLAG_NO_AUTO_ACCEPT);
        int km[10];
        for (j = 0; j < 10; j++)
            km[j] = x[j] >= 2.0 + log(0.3);
        assert_int_equal(llm_sampler_set_f32(s, LLM_SAMPLER_MIN_P, 0.3f), LLM_OK);
        softmax_ref(want, x, km, 10, 1.0);
        chi_square_run(s, logits, 10, want);
        llm_sampler_free(s);
    }
}

/* A sampler that draws from the wrong distribution must fail the test:
 * the same draws against a slightly different distribution (T = 1 vs the
 * T = 1.05 the sampler uses) exceed the critical value. */
static void test_chi_square_has_power(void **state) {
    enum { N = 200000 };
    const float logits[10] = {0.3f, -1.2f, 2.0f, 0.9f, -0.4f, 1.6f, 0.0f, -2.5f, 1.1f, 0.6f};
    double x[10], want[10], chi2 = 0;
    int keep[10];
    long count[10] = {0};
    size_t j;
    int i;
    llm_sampler *s = mk(10, 11, LLM_SAMPLER_FLAG_NO_AUTO_ACCEPT);
    (void)state;
    for (j = 0; j < 10; j++) {
        x[j] = logits[j];
        keep[j] = 1;
    }
    assert_int_equal(llm_sampler_set_f32(s, LLM_SAMPLER_TEMP, 1.05f), LLM_OK);
    for (i = 0; i < N; i++) {
        llm_token t;
        assert_int_equal(llm_sampler_sample(&t, s, logits, 10), LLM_OK);
        count[t]++;
    }
    softmax_ref(want, x, keep, 10, 1.0);
    for (j = 0; j < 10; j++)
        chi2 += (count[j] - N * want[j]) * (count[j] - N * want[j]) / (N * want[j]);
    assert_true(chi2 > CHI2_CRIT[9]);
    llm_sampler_free(s);
}

/* ---- fast path == naive reference at full vocabulary size ---- */

static void test_fast_equals_naive_large(void **state) {
    enum { V = 50257 };
    static const struct {
        float T, p, m;
        int k;
    } cfg[] = {
        {1.0f, 1.0f, 0.0f, 40},  {0.8f, 0.95f, 0.05f, 40}, {1.0f, 0.9f, 0.0f, 0},
        {1.0f, 0.5f, 0.0f, 0},   {1.0f, 1.0f, 0.1f, 0},    {2.0f, 0.99f, 0.0f, 1000},
        {0.5f, 1.0f, 0.0f, 1},   {1.0f, 0.999f, 0.0f, 0},  {1.0f, 1.0f, 0.0f, 30000},
        {1.0f, 1.0f, 0.0f, 0},   {0.3f, 1.0f, 0.0f, 0},
    };
    float *logits = malloc(V * sizeof *logits);
    uint64_t *ids = malloc(V * sizeof *ids), *wq = malloc(V * sizeof *wq);
    llm_sampler *s = mk(V, 5, 0);
    uint64_t st = 88172645463325252ull;
    size_t c, i, rep;
    (void)state;
    assert_true(logits && ids && wq);
    for (rep = 0; rep < 2; rep++) {
        for (i = 0; i < V; i++) {
            double u;
            st ^= st << 13;
            st ^= st >> 7;
            st ^= st << 17;
            u = (double)(st >> 11) / 9007199254740992.0;
            /* rep 1: coarse values, so that ties are everywhere */
            logits[i] = rep == 0 ? (float)(8.0 * u - 4.0) : (float)floor(16.0 * u) * 0.5f;
        }
        for (c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
            llm__cands cf, cn;
            size_t n;
            uint64_t total;
            int d;
            assert_int_equal(llm_sampler_set_f32(s, LLM_SAMPLER_TEMP, cfg[c].T), LLM_OK);
            assert_int_equal(llm_sampler_set_f32(s, LLM_SAMPLER_TOP_P, cfg[c].p), LLM_OK);
            assert_int_equal(llm_sampler_set_f32(s, LLM_SAMPLER_MIN_P, cfg[c].m), LLM_OK);
            assert_int_equal(llm_sampler_set_i32(s, LLM_SAMPLER_TOP_K, cfg[c].k), LLM_OK);
            assert_int_equal(llm__chain_run(s, logits, LLM__CHAIN_FAST, &cf, "test"), LLM_OK);
            n = cf.n;
            total = cf.total;
            for (i = 0; i < n; i++) {
                ids[i] = cf.ids ? cf.ids[i] : i;
                wq[i] = llm__chain_wq(s->w[ids[i]], s->shift);
            }
            assert_int_equal(llm__chain_run(s, logits, LLM__CHAIN_NAIVE, &cn, "test"), LLM_OK);
            assert_int_equal(cn.n, n);
            assert_true(cn.total == total);
            for (i = 0; i < n; i++) {
                uint64_t id = cn.ids ? cn.ids[i] : i;
                assert_true(id == ids[i]);
                assert_true(llm__chain_wq(s->w[id], s->shift) == wq[i]);
            }
            for (d = 0; d < 8; d++) {
                uint64_t x = 0x9e3779b97f4a7c15ull * (uint64_t)(d + 1) * (c + 7);
                llm_token a, b;
                assert_int_equal(llm__chain_run(s, logits, LLM__CHAIN_FAST, &cf, "test"), LLM_OK);
                a = llm__chain_draw(s, &cf, x);
                assert_int_equal(llm__chain_run(s, logits, LLM__CHAIN_NAIVE, &cn, "test"), LLM_OK);
                b = llm__chain_draw(s, &cn, x);
                assert_int_equal(a, b);
            }
            if (cfg[c].k > 0 && cfg[c].p == 1.0f && cfg[c].m == 0.0f && cfg[c].k < V)
                assert_int_equal(n, (size_t)cfg[c].k);
        }
    }
    llm_sampler_free(s);
    free(logits);
    free(ids);
    free(wq);
}

/* ---- bad input ---- */

static void test_bad_logits(void **state) {
    float logits[4] = {0.0f, 1.0f, NAN, 2.0f};
    float p[4];
    llm_token t = 77;
    llm_sampler *s = mk(4, 1, 0);
    (void)state;
    assert_int_equal(llm_sampler_sample(&t, s, logits, 4), LLM_ERR_INVALID);
    assert_int_equal(t, 77);
    assert_non_null(strstr(llm_errmsg(s), "logits[2] is NaN"));
    logits[2] = INFINITY;
    assert_int_equal(llm_sampler_probs(p, NULL, s, logits, 4), LLM_ERR_INVALID);
    assert_non_null(strstr(llm_errmsg(s), "logits[2] is +inf"));
    logits[0] = logits[1] = logits[2] = logits[3] = -INFINITY;
    assert_int_equal(llm_sampler_sample(&t, s, logits, 4), LLM_ERR_INVALID);
    assert_non_null(strstr(llm_errmsg(s), "every token is masked"));
    logits[3] = 0.0f; /* one unmasked token: always drawn */
    assert_int_equal(llm_sampler_sample(&t, s, logits, 4), LLM_OK);
    assert_int_equal(t, 3);
    /* overflow to +inf under a penalty is reported */
    logits[3] = 3e38f;
    assert_int_equal(llm_sampler_accept(s, 3), LLM_OK);
    assert_int_equal(llm_sampler_set_f32(s, LLM_SAMPLER_REPEAT_PENALTY, 0.5f), LLM_OK);
    assert_int_equal(llm_sampler_sample(&t, s, logits, 4), LLM_ERR_INVALID);
    assert_non_null(strstr(llm_errmsg(s), "token 3"));
    /* wrong sizes and NULLs */
    logits[3] = 0.0f;
    assert_int_equal(llm_sampler_sample(&t, s, logits, 5), LLM_ERR_INVALID);
    assert_non_null(strstr(llm_errmsg(s), "n_vocab is 5"));
    assert_int_equal(llm_sampler_sample(NULL, s, logits, 4), LLM_ERR_INVALID);
    assert_int_equal(llm_sampler_sample(&t, s, NULL, 4), LLM_ERR_INVALID);
    assert_int_equal(llm_sampler_sample(&t, NULL, logits, 4), LLM_ERR_INVALID);
    assert_int_equal(llm_sampler_probs(logits, NULL, s, logits, 4), LLM_ERR_INVALID);
    assert_int_equal(llm_sampler_accept(s, 4), LLM_ERR_INVALID);
    assert_int_equal(llm_sampler_accept(s, -1), LLM_ERR_INVALID);
    assert_int_equal(llm_sampler_accept(NULL, 0), LLM_ERR_INVALID);
    assert_int_equal(llm_sampler_reset(NULL, 0), LLM_ERR_INVALID);
    llm_sampler_free(s);
    llm_sampler_free(NULL);
}

static void test_bad_opts(void **state) {
    llm_sampler_opts o;
    llm_sampler *s = (llm_sampler *)&o;
    const llm_logit_bias bad_tok = {9, 1.0f}, bad_nan = {1, NAN}, bad_inf = {1, INFINITY};
    (void)state;
    assert_int_equal(llm_sampler_create(NULL, NULL), LLM_ERR_INVALID);
    assert_int_equal(llm_sampler_create(&s, NULL), LLM_ERR_INVALID);
    assert_null(s);
    assert_non_null(strstr(llm_last_errmsg(), "n_vocab"));
#define BAD(field, value, code, text)                                      \
    do {                                                                   \
        LLM_SAMPLER_OPTS_INIT(&o);                                         \
        o.n_vocab = 4;                                                     \
        o.field = value;                                                   \
        s = (llm_sampler *)&o;                                             \
        assert_int_equal(llm_sampler_create(&s, &o), code);                \
        assert_null(s);                                                    \
        assert_non_null(strstr(llm_last_errmsg(), text));                  \
    } while (0)
    BAD(n_vocab, 0, LLM_ERR_INVALID, "n_vocab");
    BAD(temperature, -0.5f, LLM_ERR_INVALID, "temperature");
    BAD(temperature, NAN, LLM_ERR_INVALID, "temperature");
    BAD(top_p, 1.5f, LLM_ERR_INVALID, "top_p is 1.5");
    BAD(top_p, -0.1f, LLM_ERR_INVALID, "top_p");
    BAD(top_k, -1, LLM_ERR_INVALID, "top_k is -1");
    BAD(min_p, 2.0f, LLM_ERR_INVALID, "min_p");
    BAD(repeat_penalty, -1.0f, LLM_ERR_INVALID, "repeat_penalty");
    BAD(presence_penalty, INFINITY, LLM_ERR_INVALID, "presence_penalty");
    BAD(frequency_penalty, NAN, LLM_ERR_INVALID, "frequency_penalty");
    BAD(penalty_last_n, -1, LLM_ERR_INVALID, "penalty_last_n");
    BAD(flags, 0x100u, LLM_ERR_UNSUPPORTED, "flags");
    BAD(n_logit_bias, 1, LLM_ERR_INVALID, "logit_bias is NULL");
    LLM_SAMPLER_OPTS_INIT(&o);
    o.n_vocab = 4;
    o.n_logit_bias = 1;
    o.logit_bias = &bad_tok;
    assert_int_equal(llm_sampler_create(&s, &o), LLM_ERR_INVALID);
    assert_non_null(strstr(llm_last_errmsg(), "logit_bias[0].token is 9"));
    o.logit_bias = &bad_nan;
    assert_int_equal(llm_sampler_create(&s, &o), LLM_ERR_INVALID);
    o.logit_bias = &bad_inf;
    assert_int_equal(llm_sampler_create(&s, &o), LLM_ERR_INVALID);
    assert_int_equal(llm_sampler_opts_init(NULL, sizeof o), LLM_ERR_INVALID);
    assert_int_equal(llm_sampler_opts_init(&o, 2), LLM_ERR_INVALID);
    /* an older caller's shorter struct: the missing fields are defaults */
    {
        llm_sampler_opts small;
        float t = 0;
        memset(&small, 0, sizeof small);
        small.struct_size = (uint32_t)offsetof(llm_sampler_opts, top_k);
        small.n_vocab = 4;
        small.top_k = 5; /* beyond struct_size: must be ignored */
        assert_int_equal(llm_sampler_create(&s, &small), LLM_OK);
        assert_int_equal(llm_sampler_get_f32(&t, s, LLM_SAMPLER_TEMP), LLM_OK);
        assert_true(t == 1.0f);
        {
            int32_t k = -1;
            assert_int_equal(llm_sampler_get_i32(&k, s, LLM_SAMPLER_TOP_K), LLM_OK);
            assert_int_equal(k, 0);
        }
        llm_sampler_free(s);
    }
#undef BAD
}

static void test_setters_and_bounds(void **state) {
    static const int32_t keys[] = {LLM_SAMPLER_TEMP, LLM_SAMPLER_TOP_K, LLM_SAMPLER_TOP_P,
                                   LLM_SAMPLER_MIN_P, LLM_SAMPLER_REPEAT_PENALTY,
                                   LLM_SAMPLER_PRESENCE_PENALTY, LLM_SAMPLER_FREQUENCY_PENALTY,
                                   LLM_SAMPLER_PENALTY_LAST_N};
    llm_sampler *s = mk(8, 1, 0);
    llm_sampler_param_info pi;
    size_t i;
    (void)state;
    /* every key: defaults match a fresh sampler, the bounds are accepted,
     * just outside them is refused with a message naming key and range */
    for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        memset(&pi, 0, sizeof pi);
        pi.struct_size = sizeof pi;
        assert_int_equal(llm_sampler_param_bounds(&pi, keys[i]), LLM_OK);
        assert_non_null(pi.name);
        assert_true(pi.min <= pi.def && pi.def <= pi.max);
        if (pi.type == LLM_PARAM_F32) {
            float v = -7, lo = (float)pi.min, hi = (float)pi.max;
            float below = (pi.flags & LLM_PARAM_MIN_OPEN) ? lo : nextafterf(lo, -INFINITY);
            assert_int_equal(llm_sampler_get_f32(&v, s, keys[i]), LLM_OK);
            assert_true(v == (float)pi.def);
            if (!(pi.flags & LLM_PARAM_MIN_OPEN))
                assert_int_equal(llm_sampler_set_f32(s, keys[i], lo), LLM_OK);
            assert_int_equal(llm_sampler_set_f32(s, keys[i], hi), LLM_OK);
            assert_int_equal(llm_sampler_set_f32(s, keys[i], below), LLM_ERR_INVALID);
            assert_non_null(strstr(llm_errmsg(s), pi.name));
            assert_non_null(strstr(llm_errmsg(s), "valid:"));
            assert_int_equal(llm_sampler_set_f32(s, keys[i], nextafterf(hi, INFINITY)),
                             LLM_ERR_INVALID);
            assert_int_equal(llm_sampler_set_f32(s, keys[i], NAN), LLM_ERR_INVALID);
            assert_int_equal(llm_sampler_get_f32(&v, s, keys[i]), LLM_OK);
            assert_true(v == hi); /* refused values change nothing */
            assert_int_equal(llm_sampler_set_f32(s, keys[i], (float)pi.def), LLM_OK);
            assert_int_equal(llm_sampler_set_i32(s, keys[i], 1), LLM_ERR_INVALID);
            assert_non_null(strstr(llm_errmsg(s), "f32"));
        } else {
            int32_t v = -7;
            assert_int_equal(pi.type, LLM_PARAM_I32);
            assert_int_equal(llm_sampler_get_i32(&v, s, keys[i]), LLM_OK);
            assert_int_equal(v, (int32_t)pi.def);
            assert_int_equal(llm_sampler_set_i32(s, keys[i], (int32_t)pi.min), LLM_OK);
            assert_int_equal(llm_sampler_set_i32(s, keys[i], (int32_t)pi.min - 1),
                             LLM_ERR_INVALID);
            assert_non_null(strstr(llm_errmsg(s), pi.name));
            if (pi.max < 2147483647.0)
                assert_int_equal(llm_sampler_set_i32(s, keys[i], (int32_t)pi.max + 1),
                                 LLM_ERR_INVALID);
            assert_int_equal(llm_sampler_set_i32(s, keys[i], (int32_t)pi.def), LLM_OK);
            assert_int_equal(llm_sampler_set_f32(s, keys[i], 1.0f), LLM_ERR_INVALID);
        }
    }
    /* top-p: 0 is outside (0, 1] */
    assert_int_equal(llm_sampler_set_f32(s, LLM_SAMPLER_TOP_P, 0.0f), LLM_ERR_INVALID);
    assert_non_null(strstr(llm_errmsg(s), "LLM_SAMPLER_TOP_P = 0 is out of range; valid: (0, 1]"));
    /* unknown keys */
    assert_int_equal(llm_sampler_set_f32(s, 999, 1.0f), LLM_ERR_UNSUPPORTED);
    assert_int_equal(llm_sampler_set_i32(s, 0, 1), LLM_ERR_UNSUPPORTED);
    pi.struct_size = sizeof pi;
    assert_int_equal(llm_sampler_param_bounds(&pi, 999), LLM_ERR_UNSUPPORTED);
    assert_int_equal(llm_sampler_param_bounds(NULL, LLM_SAMPLER_TEMP), LLM_ERR_INVALID);
    pi.struct_size = 0;
    assert_int_equal(llm_sampler_param_bounds(&pi, LLM_SAMPLER_TEMP), LLM_ERR_INVALID);
    /* a caller's smaller struct is written only up to its struct_size */
    {
        unsigned char buf[sizeof pi + 8];
        llm_sampler_param_info *pp = (llm_sampler_param_info *)(void *)buf;
        memset(buf, 0xAB, sizeof buf);
        pp->struct_size = (uint32_t)offsetof(llm_sampler_param_info, min);
        assert_int_equal(llm_sampler_param_bounds(pp, LLM_SAMPLER_TOP_P), LLM_OK);
        assert_int_equal(pp->type, LLM_PARAM_F32);
        assert_int_equal(pp->flags, LLM_PARAM_MIN_OPEN);
        assert_int_equal(buf[offsetof(llm_sampler_param_info, min)], 0xAB);
    }
    assert_int_equal(llm_sampler_set_f32(NULL, LLM_SAMPLER_TEMP, 1.0f), LLM_ERR_INVALID);
    assert_int_equal(llm_sampler_get_f32(NULL, s, LLM_SAMPLER_TEMP), LLM_ERR_INVALID);
    llm_sampler_free(s);
}

/* ---- allocations ---- */

typedef struct counting {
    long calls;
    long live_bytes;
} counting;

static void *count_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    counting *c = ud;
    c->calls++;
    if (nsize == 0) {
        c->live_bytes -= (long)osize;
        free(ptr);
        return NULL;
    }
    c->live_bytes += (long)nsize - (long)(ptr ? osize : 0);
    return realloc(ptr, nsize);
}

static void test_no_allocation_per_token(void **state) {
    enum { V = 50257 };
    counting cnt = {0, 0};
    llm_sampler_opts o;
    llm_sampler *s = NULL;
    float *logits = malloc(V * sizeof *logits), *p = malloc(V * sizeof *p);
    const llm_logit_bias b = {7, -INFINITY};
    long after_create;
    int i;
    (void)state;
    assert_true(logits && p);
    for (i = 0; i < V; i++)
        logits[i] = (float)cos(i * 0.001) * 4.0f;
    LLM_SAMPLER_OPTS_INIT(&o);
    o.n_vocab = V;
    o.alloc = count_alloc;
    o.alloc_ud = &cnt;
    o.top_p = 0.9f;
    o.repeat_penalty = 1.1f;
    o.frequency_penalty = 0.1f;
    o.logit_bias = &b;
    o.n_logit_bias = 1;
    assert_int_equal(llm_sampler_create(&s, &o), LLM_OK);
    after_create = cnt.calls;
    assert_true(after_create > 0);
    for (i = 0; i < 300; i++) {
        llm_token t;
        if (i == 100)
            assert_int_equal(llm_sampler_set_i32(s, LLM_SAMPLER_TOP_K, 40), LLM_OK);
        if (i == 200)
            assert_int_equal(llm_sampler_set_f32(s, LLM_SAMPLER_TEMP, 0.0f), LLM_OK);
        assert_int_equal(llm_sampler_sample(&t, s, logits, V), LLM_OK);
        assert_true(t != 7);
    }
    assert_int_equal(llm_sampler_probs(p, NULL, s, logits, V), LLM_OK);
    assert_int_equal(llm_sampler_reset(s, 5), LLM_OK);
    assert_int_equal(llm_sampler_set_i32(s, LLM_SAMPLER_PENALTY_LAST_N, 32), LLM_OK);
    assert_int_equal(cnt.calls, after_create);
    llm_sampler_free(s);
    assert_int_equal(cnt.live_bytes, 0);
    free(logits);
    free(p);
}

/* Fails the n-th allocation (counting from 0); -1 never fails. */
typedef struct faulty {
    long calls, fail_at, live_bytes;
} faulty;

static void *faulty_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    faulty *f = ud;
    if (nsize == 0) {
        f->live_bytes -= (long)osize;
        free(ptr);
        return NULL;
    }
    if (f->calls++ == f->fail_at)
        return NULL;
    f->live_bytes += (long)nsize - (long)(ptr ? osize : 0);
    return realloc(ptr, nsize);
}

static void test_out_of_memory(void **state) {
    const llm_logit_bias b = {1, 0.5f};
    llm_sampler_opts o;
    faulty f;
    long n;
    int done = 0;
    (void)state;
    for (n = 0; !done && n < 100; n++) {
        llm_sampler *s = (llm_sampler *)&o;
        int st;
        f.calls = 0;
        f.fail_at = n;
        f.live_bytes = 0;
        LLM_SAMPLER_OPTS_INIT(&o);
        o.n_vocab = 1000;
        o.alloc = faulty_alloc;
        o.alloc_ud = &f;
        o.logit_bias = &b;
        o.n_logit_bias = 1;
        st = llm_sampler_create(&s, &o);
        if (st == LLM_OK) {
            done = 1; /* every allocation succeeded */
            /* growing the window is the one later allocation: it may fail
             * cleanly and leave the sampler as it was */
            f.fail_at = f.calls;
            assert_int_equal(llm_sampler_set_i32(s, LLM_SAMPLER_PENALTY_LAST_N, 5000),
                             LLM_ERR_NOMEM);
            {
                int32_t v = 0;
                assert_int_equal(llm_sampler_get_i32(&v, s, LLM_SAMPLER_PENALTY_LAST_N), LLM_OK);
                assert_int_equal(v, 64);
            }
            assert_int_equal(llm_sampler_accept(s, 3), LLM_OK);
            llm_sampler_free(s);
        } else {
            assert_int_equal(st, LLM_ERR_NOMEM);
            assert_null(s);
        }
        assert_int_equal(f.live_bytes, 0);
    }
    assert_true(done && n > 3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng_known_answers),
        cmocka_unit_test(test_weight_function),
        cmocka_unit_test(test_plain_softmax),
        cmocka_unit_test(test_temperature),
        cmocka_unit_test(test_top_k),
        cmocka_unit_test(test_top_k_ties),
        cmocka_unit_test(test_top_p),
        cmocka_unit_test(test_min_p),
        cmocka_unit_test(test_greedy),
        cmocka_unit_test(test_logit_bias),
        cmocka_unit_test(test_penalties),
        cmocka_unit_test(test_auto_accept),
        cmocka_unit_test(test_seeds),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_chi_square),
        cmocka_unit_test(test_chi_square_has_power),
        cmocka_unit_test(test_fast_equals_naive_large),
        cmocka_unit_test(test_bad_logits),
        cmocka_unit_test(test_bad_opts),
        cmocka_unit_test(test_setters_and_bounds),
        cmocka_unit_test(test_no_allocation_per_token),
        cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
