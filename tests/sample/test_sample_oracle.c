/*
 * test_sample_oracle.c - the sampler chain against PyTorch.
 *
 * oracle.py (run by CTest just before, path in $LLM_SAMPLE_ORACLE) writes
 * random cases: logits (some masked), logit bias, token window and every
 * parameter, with the expected final distribution computed by torch from
 * the definitions in math.md section 7. For each case this test
 *   - builds a sampler with those options (bias through the options,
 *     window through llm_sampler_accept),
 *   - checks llm_sampler_probs against torch: the same set of kept tokens,
 *     and |p - q| <= 1e-5 q + 1e-9 (the chain keeps ~1e-6 relative),
 *   - runs the naive reference (full sorts) and the fast path on the same
 *     input and requires bit-identical candidates, weights and draws.
 * golden.py (path in $LLM_SAMPLE_GOLDEN) gives exact token sequences for
 * fixed seeds from a Python transcription of the documented algorithm.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm.h"
#include "sample/sample_internal.h"

typedef struct ocase {
    int id;
    size_t V;
    double T, p, mp, r, pres, freq;
    int k, last_n;
    size_t n_bias, n_hist;
    llm_logit_bias *bias;
    llm_token *hist;
    float *logits;
    double *probs;
} ocase;

static char *next_tok(char **cur) {
    char *s = *cur, *e;
    while (*s == ' ' || *s == '\n')
        s++;
    if (!*s)
        return NULL;
    e = s;
    while (*e && *e != ' ' && *e != '\n')
        e++;
    if (*e)
        *e++ = 0;
    *cur = e;
    return s;
}

/* Reads a whole line (lines are long: up to 5000 hex floats). */
static char *read_line(FILE *f) {
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    int ch;
    assert_non_null(buf);
    while ((ch = fgetc(f)) != EOF && ch != '\n') {
        if (n + 2 > cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        buf[n++] = (char)ch;
    }
    if (ch == EOF && n == 0) {
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    return buf;
}

static double num(char **cur) {
    char *t = next_tok(cur);
    assert_non_null(t);
    if (strcmp(t, "-inf") == 0)
        return -INFINITY;
    return strtod(t, NULL);
}

/* Returns 0 at "end". */
static int read_case(FILE *f, ocase *c) {
    char *line = read_line(f), *cur;
    size_t i;
    assert_non_null(line);
    cur = line;
    if (strcmp(next_tok(&cur), "end") == 0) {
        free(line);
        return 0;
    }
    c->id = (int)num(&cur);
    c->V = (size_t)num(&cur);
    c->T = num(&cur);
    c->k = (int)num(&cur);
    c->p = num(&cur);
    c->mp = num(&cur);
    c->r = num(&cur);
    c->pres = num(&cur);
    c->freq = num(&cur);
    c->last_n = (int)num(&cur);
    c->n_bias = (size_t)num(&cur);
    c->n_hist = (size_t)num(&cur);
    free(line);
    c->bias = calloc(c->n_bias + 1, sizeof *c->bias);
    c->hist = calloc(c->n_hist + 1, sizeof *c->hist);
    c->logits = calloc(c->V, sizeof *c->logits);
    c->probs = calloc(c->V, sizeof *c->probs);
    assert_true(c->bias && c->hist && c->logits && c->probs);
    line = read_line(f);
    cur = line;
    assert_string_equal(next_tok(&cur), "bias");
    for (i = 0; i < c->n_bias; i++) {
        c->bias[i].token = (llm_token)num(&cur);
        c->bias[i].bias = (float)num(&cur);
    }
    free(line);
    line = read_line(f);
    cur = line;
    assert_string_equal(next_tok(&cur), "hist");
    for (i = 0; i < c->n_hist; i++)
        c->hist[i] = (llm_token)num(&cur);
    free(line);
    line = read_line(f);
    cur = line;
    assert_string_equal(next_tok(&cur), "logits");
    for (i = 0; i < c->V; i++)
        c->logits[i] = (float)num(&cur);
    free(line);
    line = read_line(f);
    cur = line;
    assert_string_equal(next_tok(&cur), "probs");
    for (i = 0; i < c->V; i++)
        c->probs[i] = num(&cur);
    free(line);
    return 1;
}

static void free_case(ocase *c) {
    free(c->bias);
    free(c->hist);
    free(c->logits);
    free(c->probs);
}

static llm_sampler *make(const ocase *c, uint64_t seed) {
    llm_sampler_opts o;
    llm_sampler *s = NULL;
    size_t i;
    LLM_SAMPLER_OPTS_INIT(&o);
    o.n_vocab = (uint32_t)c->V;
    o.seed = seed;
    if (c->T == 0.0)
        o.flags |= LLM_SAMPLER_FLAG_GREEDY;
    else
        o.temperature = (float)c->T;
    o.top_k = c->k;
    o.top_p = (float)c->p;
    o.min_p = (float)c->mp;
    o.repeat_penalty = (float)c->r;
    o.presence_penalty = (float)c->pres;
    o.frequency_penalty = (float)c->freq;
    o.penalty_last_n = c->last_n;
    o.logit_bias = c->bias;
    o.n_logit_bias = c->n_bias;
    assert_int_equal(llm_sampler_create(&s, &o), LLM_OK);
    for (i = 0; i < c->n_hist; i++)
        assert_int_equal(llm_sampler_accept(s, c->hist[i]), LLM_OK);
    return s;
}

/* Snapshot of a chain result: ids (or all) and integer weights. */
typedef struct snap {
    size_t n;
    uint64_t total;
    uint64_t *ids;
    uint64_t *wq;
    int all;
} snap;

static void take(snap *sn, const llm_sampler *s, const llm__cands *c) {
    size_t i;
    sn->n = c->n;
    sn->total = c->total;
    sn->all = c->ids == NULL;
    sn->ids = calloc(c->n + 1, sizeof *sn->ids);
    sn->wq = calloc(c->n + 1, sizeof *sn->wq);
    assert_true(sn->ids && sn->wq);
    for (i = 0; i < c->n; i++) {
        uint64_t id = c->ids ? c->ids[i] : i;
        sn->ids[i] = id;
        sn->wq[i] = llm__chain_wq(s->w[id], s->shift);
    }
}

static void test_oracle(void **state) {
    const char *path = getenv("LLM_SAMPLE_ORACLE");
    FILE *f;
    ocase c;
    int n_cases = 0, n_draw_cmp = 0;
    (void)state;
    assert_non_null(path);
    f = fopen(path, "r");
    assert_non_null(f);
    while (read_case(f, &c)) {
        llm_sampler *s = make(&c, (uint64_t)c.id);
        float *probs = calloc(c.V, sizeof *probs);
        size_t i, kept = 0, kept_ref = 0;
        llm__cands cf, cn;
        snap a, b;
        assert_non_null(probs);
        assert_int_equal(llm_sampler_probs(probs, &kept, s, c.logits, c.V), LLM_OK);
        for (i = 0; i < c.V; i++) {
            double q = c.probs[i];
            kept_ref += q > 0;
            if ((q > 0) != (probs[i] > 0) || fabs(probs[i] - q) > 1e-5 * q + 1e-9) {
                print_error("case %d token %zu: libllm %.9g, torch %.9g\n", c.id, i,
                            (double)probs[i], q);
                fail();
            }
        }
        assert_int_equal(kept, kept_ref);

        /* fast vs naive: identical candidates, weights and draws */
        assert_int_equal(llm__chain_run(s, c.logits, LLM__CHAIN_FAST, &cf, "test"), LLM_OK);
        take(&a, s, &cf);
        assert_int_equal(llm__chain_run(s, c.logits, LLM__CHAIN_NAIVE, &cn, "test"), LLM_OK);
        take(&b, s, &cn);
        assert_int_equal(a.n, b.n);
        assert_int_equal(a.total, b.total);
        assert_memory_equal(a.ids, b.ids, a.n * sizeof *a.ids);
        assert_memory_equal(a.wq, b.wq, a.n * sizeof *a.wq);
        if (!cf.greedy) {
            uint64_t x = 0x9e3779b97f4a7c15ull * (uint64_t)c.id;
            int j;
            for (j = 0; j < 16; j++, x = x * 6364136223846793005ull + 1442695040888963407ull) {
                llm_token tf, tn;
                assert_int_equal(llm__chain_run(s, c.logits, LLM__CHAIN_FAST, &cf, "test"), LLM_OK);
                tf = llm__chain_draw(s, &cf, x);
                assert_int_equal(llm__chain_run(s, c.logits, LLM__CHAIN_NAIVE, &cn, "test"), LLM_OK);
                tn = llm__chain_draw(s, &cn, x);
                assert_int_equal(tf, tn);
                assert_true(c.probs[tf] > 0);
                n_draw_cmp++;
            }
        }
        free(a.ids);
        free(a.wq);
        free(b.ids);
        free(b.wq);
        free(probs);
        llm_sampler_free(s);
        free_case(&c);
        n_cases++;
    }
    fclose(f);
    assert_true(n_cases >= 200);
    assert_true(n_draw_cmp > 1000);
}

/* golden.py's exact token sequences (a Python transcription of the
 * documented weights, PRNG and draw): bit-for-bit reproducibility. */
static void test_golden_draws(void **state) {
    const char *path = getenv("LLM_SAMPLE_GOLDEN");
    FILE *f;
    char *line;
    int n_lines = 0;
    (void)state;
    assert_non_null(path);
    f = fopen(path, "r");
    assert_non_null(f);
    while ((line = read_line(f)) != NULL) {
        char *cur = line;
        llm_sampler_opts o;
        llm_sampler *s = NULL;
        float *logits;
        size_t V, i;
        int j;
        if (strcmp(next_tok(&cur), "end") == 0) {
            free(line);
            break;
        }
        LLM_SAMPLER_OPTS_INIT(&o);
        V = (size_t)num(&cur);
        o.n_vocab = (uint32_t)V;
        o.temperature = (float)num(&cur);
        o.top_k = (int32_t)num(&cur);
        o.seed = (uint64_t)num(&cur);
        o.flags = LLM_SAMPLER_FLAG_NO_AUTO_ACCEPT;
        logits = malloc(V * sizeof *logits);
        assert_non_null(logits);
        for (i = 0; i < V; i++)
            logits[i] = (float)((7919 * i + 13) % 1009) * 0.01f - 5.0f;
        assert_int_equal(llm_sampler_create(&s, &o), LLM_OK);
        {
            llm__cands c;
            char *tt = next_tok(&cur);
            assert_non_null(tt);
            assert_int_equal(llm__chain_run(s, logits, LLM__CHAIN_FAST, &c, "test"), LLM_OK);
            if (c.total != strtoull(tt, NULL, 10)) {
                print_error("golden line %d: total weight %llu, want %s\n", n_lines + 1,
                            (unsigned long long)c.total, tt);
                fail();
            }
        }
        for (j = 0; j < 40; j++) {
            llm_token t;
            long want = (long)num(&cur);
            assert_int_equal(llm_sampler_sample(&t, s, logits, V), LLM_OK);
            if (t != want) {
                print_error("golden line %d draw %d: got %ld want %ld\n", n_lines + 1, j,
                            (long)t, want);
                fail();
            }
        }
        llm_sampler_free(s);
        free(logits);
        free(line);
        n_lines++;
    }
    fclose(f);
    assert_int_equal(n_lines, 6);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oracle),
        cmocka_unit_test(test_golden_draws),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
