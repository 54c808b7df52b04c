/*
 * embed.c - embedding libllm in a C host (a game engine, say) with the
 * host's own memory accounting and log sink.
 *
 * What it shows:
 *   - llm_set_allocator: every allocation libllm makes for its handles goes
 *     through host_alloc (Lua's lua_Alloc contract), which keeps a running
 *     total and a peak, and refuses to go beyond a budget (libllm then
 *     returns LLM_ERR_NOMEM and stays consistent);
 *   - llm_set_log: libllm's log lines go to the host's logger;
 *   - llm_ctx_estimate_bytes: planning a context's memory before creating it;
 *   - the step-wise generator (llm_gen_step) driven by a frame loop with a
 *     time budget per frame, with n_threads = 1 so libllm starts no threads.
 *
 * usage: embed MODEL.gguf [PROMPT] [BUDGET_MB]
 * With no model, it builds a tiny random model in memory and shows the
 * allocator and budget on it (no text, the model has no tokenizer).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "llm.h"

/* ---- the host's allocator: a budgeted, counting lua_Alloc ---- */
typedef struct host_mem {
    size_t used, peak, budget, n_calls;
} host_mem;

static void *host_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    host_mem *m = ud;
    m->n_calls++;
    if (nsize == 0) {
        if (ptr)
            m->used -= osize;
        free(ptr);
        return NULL;
    }
    if (m->budget && m->used - (ptr ? osize : 0) + nsize > m->budget)
        return NULL; /* over budget: libllm reports LLM_ERR_NOMEM */
    {
        void *p = realloc(ptr, nsize);
        if (!p)
            return NULL;
        m->used = m->used - (ptr ? osize : 0) + nsize;
        if (m->used > m->peak)
            m->peak = m->used;
        return p;
    }
}

/* ---- the host's logger ---- */
static void host_log(void *ud, int32_t level, const char *msg) {
    static const char *const names[] = {"?", "error", "warn", "info", "debug"};
    (void)ud;
    fprintf(stderr, "[libllm %s] %s\n", names[level >= 1 && level <= 4 ? level : 0], msg);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int fail(const char *what, int rc, const void *handle) {
    fprintf(stderr, "embed: %s: %s: %s\n", what, llm_status_str(rc),
            handle ? llm_errmsg(handle) : llm_last_errmsg());
    return 1;
}

int main(int argc, char **argv) {
    host_mem mem = {0, 0, 0, 0};
    llm_model *model = NULL;
    llm_ctx *ctx = NULL;
    llm_sampler *smpl = NULL;
    llm_gen *gen = NULL;
    llm_ctx_opts co;
    llm_sampler_opts so;
    llm_gen_opts go;
    llm_model_config cfg;
    const llm_tokenizer *tok;
    const char *prompt = argc > 2 ? argv[2] : "And God said";
    size_t est = 0, n_tok = 0, n_text = 0, max_piece = 0, before;
    int rc, frame = 0, status = 1;
    char *text = NULL;
    llm_token toks[16];

    if (argc > 3)
        mem.budget = (size_t)strtoul(argv[3], NULL, 10) << 20;
    /* Process-wide hooks: set before the first handle exists. */
    if ((rc = llm_set_allocator(host_alloc, &mem)) != LLM_OK)
        return fail("llm_set_allocator", rc, NULL);
    if ((rc = llm_set_log(host_log, NULL, LLM_LOG_INFO)) != LLM_OK)
        return fail("llm_set_log", rc, NULL);

    if (argc > 1) {
        llm_model_opts mo;
        LLM_MODEL_OPTS_INIT(&mo);
        mo.flags = LLM_MODEL_NO_MMAP; /* weights through the allocator too */
        if ((rc = llm_model_load(&model, argv[1], &mo)) != LLM_OK)
            return fail("llm_model_load", rc, NULL);
    } else {
        llm_model_config c;
        LLM_MODEL_CONFIG_INIT(&c);
        c.n_vocab = 512;
        c.n_ctx = 64;
        c.n_embd = 64;
        c.n_layer = 2;
        c.n_head = 2;
        c.n_head_kv = 0;
        c.n_ff = 0;
        if ((rc = llm_model_create(&model, &c, 1, NULL)) != LLM_OK)
            return fail("llm_model_create", rc, NULL);
    }
    LLM_MODEL_CONFIG_INIT(&cfg);
    llm_model_get_config(&cfg, model);
    printf("model: %u layers, width %u, vocab %u; host memory in use %zu bytes\n", cfg.n_layer,
           cfg.n_embd, cfg.n_vocab, mem.used);

    LLM_CTX_OPTS_INIT(&co);
    co.n_ctx = cfg.n_ctx < 256 ? cfg.n_ctx : 256;
    co.n_threads = 1; /* the library starts no thread of its own */
    if ((rc = llm_ctx_estimate_bytes(&est, model, &co)) != LLM_OK)
        return fail("llm_ctx_estimate_bytes", rc, model);
    printf("a context of %u positions needs %zu bytes\n", co.n_ctx, est);
    before = mem.used;
    if ((rc = llm_ctx_create(&ctx, model, &co)) != LLM_OK) {
        fail("llm_ctx_create", rc, NULL);
        goto out;
    }
    printf("llm_ctx_create took %zu bytes from the host allocator\n", mem.used - before);

    LLM_SAMPLER_OPTS_INIT(&so);
    so.n_vocab = cfg.n_vocab;
    so.seed = 42;
    so.top_k = 40;
    if ((rc = llm_sampler_create(&smpl, &so)) != LLM_OK) {
        fail("llm_sampler_create", rc, NULL);
        goto out;
    }
    tok = llm_model_tokenizer(model);
    LLM_GEN_OPTS_INIT(&go);
    go.max_tokens = 32;
    if ((rc = llm_gen_create(&gen, ctx, smpl, tok, &go)) != LLM_OK) {
        fail("llm_gen_create", rc, NULL);
        goto out;
    }
    if (tok) {
        rc = llm_gen_feed_text(gen, prompt, strlen(prompt));
    } else {
        llm_token start[3] = {1, 2, 3};
        rc = llm_gen_feed_tokens(gen, start, 3);
    }
    if (rc != LLM_OK) {
        fail("feeding the prompt", rc, NULL);
        goto out;
    }
    llm_gen_max_piece(&max_piece, gen);
    text = malloc(max_piece * 16 + 1);
    if (!text)
        goto out;
    printf("%s", tok ? prompt : "[ids]");
    /* The frame loop: at most 2 ms of libllm work per 16 ms frame. */
    for (;;) {
        double t0 = now_s(), spent;
        size_t i;
        rc = llm_gen_step(toks, 16, &n_tok, text, max_piece * 16, &n_text, gen, 2000);
        if (rc < 0) {
            fail("llm_gen_step", rc, NULL);
            goto out;
        }
        if (tok)
            fwrite(text, 1, n_text, stdout);
        else
            for (i = 0; i < n_tok; i++)
                printf(" %d", (int)toks[i]);
        fflush(stdout);
        frame++;
        spent = now_s() - t0; /* a game would render here for the rest of its 16 ms */
        if (spent > 0.1)
            fprintf(stderr, "[frame %d took %.1f ms: one forward pass is longer than the "
                            "budget]\n", frame, spent * 1e3);
        if (rc == LLM_DONE)
            break;
    }
    {
        int32_t reason = 0;
        llm_gen_reason(&reason, gen);
        printf("\n[%d frames, ended by %s]\n", frame, llm_gen_reason_str(reason));
    }
    status = 0;
out:
    free(text);
    llm_gen_free(gen);
    llm_sampler_free(smpl);
    llm_ctx_free(ctx);
    llm_model_free(model);
    printf("host allocator: %zu calls, peak %zu bytes, %zu bytes still in use\n", mem.n_calls,
           mem.peak, mem.used);
    if (mem.used != 0)
        status = 1; /* every block libllm took was given back */
    /* the hooks may be changed again now that no handle is live */
    llm_set_allocator(NULL, NULL);
    llm_set_log(NULL, NULL, 0);
    return status;
}
