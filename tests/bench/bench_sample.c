/*
 * bench_sample.c - nanoseconds per llm_sampler_sample call at V = 50257
 * (GPT-2's vocabulary), one machine-readable line per configuration:
 *   bench=sample cfg=<name> impl=libllm V=50257 n=<calls> ns_per_sample=<x>
 * plus, for the truncating configurations, the naive reference chain
 * (full sort) as impl=libllm_naive. Logits are N(0, 3^2) from a fixed
 * seed, written to argv[1] (raw float32) when given, so that
 * bench_sample.py can time PyTorch on the same vector.
 * Usage: bench_sample [logits.f32 [cfg]] (run by tests/bench/bench_sample.sh);
 * with cfg only that configuration runs (for profiling).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "llm.h"
#include "sample/sample_internal.h"

enum { V = 50257 };

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

typedef struct cfg {
    const char *name;
    float temp, top_p, min_p;
    int32_t top_k;
} cfg;

int main(int argc, char **argv) {
    static const cfg cfgs[] = {
        {"default", 1.0f, 1.0f, 0.0f, 0},           /* full softmax + draw */
        {"top_k40", 1.0f, 1.0f, 0.0f, 40},
        {"top_p0.9", 1.0f, 0.9f, 0.0f, 0},          /* bucketed top-p, no top-k */
        {"llamacpp", 0.8f, 0.95f, 0.05f, 40},       /* k 40, p .95, min-p .05, T .8 */
        {"greedy", 0.0f, 1.0f, 0.0f, 0},
    };
    float *logits = malloc(V * sizeof *logits);
    uint64_t st = 12345;
    llm_sampler_opts o;
    llm_sampler *s = NULL;
    size_t i, c;
    volatile long sink = 0;
    if (!logits)
        return 1;
    for (i = 0; i < V; i += 2) { /* Box-Muller from a 64-bit LCG */
        double u1, u2, r;
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        u1 = ((st >> 11) + 1.0) / 9007199254740993.0;
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        u2 = (st >> 11) / 9007199254740992.0;
        r = sqrt(-2.0 * log(u1));
        logits[i] = (float)(3.0 * r * cos(6.283185307179586 * u2));
        if (i + 1 < V)
            logits[i + 1] = (float)(3.0 * r * sin(6.283185307179586 * u2));
    }
    if (argc > 1) {
        FILE *f = fopen(argv[1], "wb");
        if (!f || fwrite(logits, sizeof *logits, V, f) != V)
            return 1;
        fclose(f);
    }
    LLM_SAMPLER_OPTS_INIT(&o);
    o.n_vocab = V;
    o.seed = 1;
    o.flags = LLM_SAMPLER_FLAG_NO_AUTO_ACCEPT;
    if (llm_sampler_create(&s, &o) != LLM_OK)
        return 1;
    for (c = 0; c < sizeof cfgs / sizeof cfgs[0]; c++) {
        int impl;
        if (argc > 2 && strcmp(argv[2], cfgs[c].name) != 0)
            continue;
        llm_sampler_set_f32(s, LLM_SAMPLER_TEMP, cfgs[c].temp);
        llm_sampler_set_f32(s, LLM_SAMPLER_TOP_P, cfgs[c].top_p);
        llm_sampler_set_f32(s, LLM_SAMPLER_MIN_P, cfgs[c].min_p);
        llm_sampler_set_i32(s, LLM_SAMPLER_TOP_K, cfgs[c].top_k);
        for (impl = 0; impl < 2; impl++) {
            double t0, dt;
            long n = 0;
            if (impl == 1 && cfgs[c].top_k == 0 && cfgs[c].top_p == 1.0f)
                continue; /* nothing is sorted: the naive path is the same */
            /* warm up, then run for about 0.4 s */
            t0 = now_ns();
            do {
                llm_token t;
                if (impl == 0) {
                    if (llm_sampler_sample(&t, s, logits, V) != LLM_OK)
                        return 1;
                } else {
                    llm__cands cd;
                    if (llm__chain_run(s, logits, LLM__CHAIN_NAIVE, &cd, "test") != LLM_OK)
                        return 1;
                    t = llm__chain_draw(s, &cd, llm__rng_next(&s->rng));
                }
                sink += t;
                n++;
                dt = now_ns() - t0;
            } while (dt < 4e8 || n < 20);
            printf("bench=sample cfg=%s impl=%s V=%d n=%ld ns_per_sample=%.0f\n", cfgs[c].name,
                   impl ? "libllm_naive" : "libllm", V, n, dt / (double)n);
        }
    }
    llm_sampler_free(s);
    free(logits);
    return sink == -1;
}
