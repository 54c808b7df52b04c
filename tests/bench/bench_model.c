/*
 * bench_model.c - model-core benchmark through the public API: prefill
 * tokens/s for a 128-token prompt, decode tokens/s with the KV cache, and
 * evaluation tokens/s at B=8, T=256 (llm_ctx_loss). One line per figure:
 *   bench=model_<what> impl=libllm model=<name> threads=<n> tok_s=<x> ...
 * usage: bench_model MODEL.gguf NAME THREADS [noeval]
 * Run by tests/bench/bench_model.py, which prints PyTorch's figures for the
 * same weights beside these, and by bench_llamacpp.sh (with noeval: prefill
 * and decode only, the figures llama-bench gives) beside llama.cpp's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "llm.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(int st, const void *h, const char *what) {
    fprintf(stderr, "bench_model: %s: %s: %s\n", what, llm_status_str(st), llm_errmsg(h));
    exit(1);
}

int main(int argc, char **argv) {
    llm_model *m = NULL;
    llm_ctx *c = NULL;
    llm_ctx_opts o;
    llm_model_config cfg;
    llm_token *toks, *tgt;
    const float *lg;
    double t0, best, loss = 0.0;
    int st, rep, i, threads, eval;
    const int P = 128, ND = 128, B = 8, T = 256;
    uint64_t s = 42;
    if (argc != 4 && !(argc == 5 && strcmp(argv[4], "noeval") == 0)) {
        fprintf(stderr, "usage: bench_model MODEL.gguf NAME THREADS [noeval]\n");
        return 2;
    }
    eval = argc == 4;
    threads = atoi(argv[3]);
    {
        llm_model_opts mo;
        LLM_MODEL_OPTS_INIT(&mo);
        if (getenv("BENCH_NO_MMAP"))
            mo.flags |= LLM_MODEL_NO_MMAP;
        st = llm_model_load(&m, argv[1], &mo);
    }
    if (st != LLM_OK)
        die(st, NULL, "load");
    LLM_MODEL_CONFIG_INIT(&cfg);
    llm_model_get_config(&cfg, m);
    toks = malloc((size_t)B * T * sizeof *toks);
    tgt = malloc((size_t)B * T * sizeof *tgt);
    for (i = 0; i < B * T; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        toks[i] = (llm_token)((s >> 33) % cfg.n_vocab);
    }
    for (i = 0; i < B * T; i++)
        tgt[i] = toks[(i + 1) % (B * T)];
    LLM_CTX_OPTS_INIT(&o);
    o.n_ctx = 512;
    o.n_batch = (uint32_t)(B * T);
    o.n_threads = (uint32_t)threads;
    if ((st = llm_ctx_create(&c, m, &o)) != LLM_OK)
        die(st, NULL, "ctx");

    /* Prefill: the prompt in one decode call (logits of the last token). */
    best = 1e30;
    for (rep = 0; rep < 3; rep++) {
        llm_ctx_reset(c);
        t0 = now();
        if ((st = llm_ctx_decode(&lg, c, toks, (size_t)P)) != LLM_OK)
            die(st, c, "prefill");
        if (now() - t0 < best)
            best = now() - t0;
    }
    printf("bench=model_prefill impl=libllm model=%s threads=%d tokens=%d tok_s=%.1f\n", argv[2],
           threads, P, P / best);

    /* Decode: one token per call after the prompt. */
    best = 1e30;
    for (rep = 0; rep < 2; rep++) {
        llm_ctx_reset(c);
        if ((st = llm_ctx_decode(&lg, c, toks, (size_t)P)) != LLM_OK)
            die(st, c, "prefill");
        t0 = now();
        for (i = 0; i < ND; i++)
            if ((st = llm_ctx_decode(&lg, c, toks + P + i, 1)) != LLM_OK)
                die(st, c, "decode");
        if (now() - t0 < best)
            best = now() - t0;
    }
    {
        uint64_t np;
        llm_model_n_params(&np, m);
        printf("bench=model_decode impl=libllm model=%s threads=%d tokens=%d tok_s=%.2f "
               "weight_gb_s=%.2f\n",
               argv[2], threads, ND, ND / best, (double)np * 4.0 * ND / best / 1e9);
    }

    /* Evaluation: forward + cross-entropy of B x T tokens. */
    best = 1e30;
    for (rep = 0; rep < 2 * eval; rep++) {
        t0 = now();
        if ((st = llm_ctx_loss(&loss, NULL, c, toks, tgt, (size_t)B, (size_t)T)) != LLM_OK)
            die(st, c, "loss");
        if (now() - t0 < best)
            best = now() - t0;
    }
    if (eval)
        printf("bench=model_eval impl=libllm model=%s threads=%d B=%d T=%d tok_s=%.1f loss=%.4f\n",
               argv[2], threads, B, T, B * T / best, loss);
    llm_ctx_free(c);
    llm_model_free(m);
    free(toks);
    free(tgt);
    return 0;
}
