/*
 * test_faults.c - allocation fault injection (issue 9). Every scenario is
 * run once per k = 1, 2, ... with an allocator (hard_alloc.h) that refuses
 * the k-th allocation, until a run makes fewer than k allocations. Each
 * run must:
 *   - fail with LLM_ERR_NOMEM (and a message in llm_last_errmsg()) or
 *     succeed with exactly the results of a run without faults;
 *   - leave 0 live bytes after its handles are freed, and report the
 *     right old size for every block it frees or resizes;
 *   - leave a handle whose call failed usable: the same call, retried
 *     without faults, gives the reference result.
 * The oracle for "the results" is the same scenario run with malloc.
 * Inputs are the fuzz seeds (tests/fuzz/seeds): small valid files of
 * every format.
 */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "hard_alloc.h"
#include "llm.h"

#ifndef SEEDS
#error SEEDS must name tests/fuzz/seeds
#endif

#define MAX_K 200000

static hard_alloc A;
static char tmpdir[256];
static const char text[] = "In the beginning God created the heaven and the earth. 123 caf\xc3\xa9!";

/* status check inside a scenario: NOMEM ends the run (after cleanup) */
#define NOMEM_OR_OK(rc)                                                       \
    do {                                                                      \
        if ((rc) == LLM_ERR_NOMEM) {                                          \
            if (atomic_load(&A.failed) == 0)                                  \
                fail_msg("line %d: NOMEM without an injected fault", __LINE__); \
            if (llm_last_errmsg()[0] == 0)                                    \
                fail_msg("line %d, k=%ld: NOMEM without a message", __LINE__, A.fail_at); \
            goto out;                                                         \
        }                                                                     \
        if ((rc) != LLM_OK)                                                   \
            fail_msg("status %d: %s", (rc), llm_last_errmsg());               \
    } while (0)

typedef void (*scenario_fn)(const void *arg);

/* Temporary files a failed save left in dir (saves must clean up). */
static int leftover_tmp(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!d)
        return 0;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp"))
            n++;
    closedir(d);
    return n;
}

/* Runs f with faults at k = 1, 2, ... until a run has no fault to inject. */
static long sweep(scenario_fn f, const void *arg) {
    long k;
    for (k = 1; k < MAX_K; k++) {
        hard_reset(&A, k);
        f(arg);
#ifndef HARD_IGNORE_SIZE /* defined only for local experiments */
        if (atomic_load(&A.bad_size) != 0)
            fail_msg("k=%ld: %ld frees/reallocs with a wrong old size", k,
                     atomic_load(&A.bad_size));
#endif
        if (atomic_load(&A.live) != 0)
            fail_msg("k=%ld: %lld bytes leaked", k, (long long)atomic_load(&A.live));
        if (atomic_load(&A.failed) == 0)
            return k - 1; /* allocations made by a complete run */
    }
    fail_msg("sweep did not end");
    return 0;
}

/* ---- tokenizers ---- */

typedef struct tok_case {
    const char *path;
    int32_t pattern;
    llm_token ref[256];
    size_t n_ref;
} tok_case;

static void tok_scenario(const void *arg) {
    const tok_case *c = arg;
    llm_tokenizer_opts o;
    llm_tokenizer *t = NULL;
    llm_token ids[256];
    size_t n = 0, nb = 0;
    char out[512];
    int rc;
    LLM_TOKENIZER_OPTS_INIT(&o);
    o.alloc = hard_fn;
    o.alloc_ud = &A;
    o.pattern = c->pattern;
    rc = llm_tokenizer_load(&t, c->path, &o);
    if (rc != LLM_OK)
        assert_null(t);
    NOMEM_OR_OK(rc);
    rc = llm_tokenizer_encode(ids, 256, &n, t, text, sizeof text - 1, 0);
    if (rc == LLM_ERR_NOMEM) {
        /* the tokenizer stays usable: retry without faults */
        long saved = A.fail_at;
        A.fail_at = 0;
        assert_int_equal(llm_tokenizer_encode(ids, 256, &n, t, text, sizeof text - 1, 0), LLM_OK);
        A.fail_at = saved;
    } else {
        assert_int_equal(rc, LLM_OK);
    }
    assert_int_equal(n, c->n_ref);
    assert_memory_equal(ids, c->ref, n * sizeof *ids);
    rc = llm_tokenizer_decode(out, sizeof out, &nb, t, ids, n, 0);
    assert_int_equal(rc, LLM_OK);
    assert_int_equal(nb, sizeof text - 1);
    assert_memory_equal(out, text, nb);
    /* saving allocates through the tokenizer's allocator too */
    {
        char path[400];
        snprintf(path, sizeof path, "%s/tok-save.gguf", tmpdir);
        rc = llm_tokenizer_save(t, path, LLM_TOK_FORMAT_GGUF);
        NOMEM_OR_OK(rc);
        snprintf(path, sizeof path, "%s/tok-save-hf", tmpdir);
        rc = llm_tokenizer_save(t, path, LLM_TOK_FORMAT_HF);
        NOMEM_OR_OK(rc);
    }
out:
    llm_tokenizer_free(t);
}

static void tok_reference(tok_case *c) {
    llm_tokenizer_opts o;
    llm_tokenizer *t = NULL;
    LLM_TOKENIZER_OPTS_INIT(&o);
    o.pattern = c->pattern;
    if (llm_tokenizer_load(&t, c->path, &o) != LLM_OK)
        fail_msg("%s: %s", c->path, llm_last_errmsg());
    assert_int_equal(llm_tokenizer_encode(c->ref, 256, &c->n_ref, t, text, sizeof text - 1, 0),
                     LLM_OK);
    llm_tokenizer_free(t);
}

/* Writes the parts of a joined fuzz seed (FUZZ_SEP) as files of a directory. */
static void split_seed(const char *seed, const char *dir, const char *const *names, int n) {
    static const char sep[] = "\n--8<--\n";
    FILE *f = fopen(seed, "rb");
    char *buf, *p, *end;
    long sz;
    int i;
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)sz + 1);
    assert_int_equal(fread(buf, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    mkdir(dir, 0700);
    p = buf;
    end = buf + sz;
    for (i = 0; i < n; i++) {
        char path[512];
        char *q = NULL, *s;
        FILE *o;
        for (s = p; s + sizeof sep - 1 <= end; s++)
            if (memcmp(s, sep, sizeof sep - 1) == 0) {
                q = s;
                break;
            }
        if (!q)
            q = end;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        o = fopen(path, "wb");
        assert_non_null(o);
        fwrite(p, 1, (size_t)(q - p), o);
        fclose(o);
        p = q + (q < end ? sizeof sep - 1 : 0);
    }
    free(buf);
}

static void test_tokenizers(void **state) {
    static const char *hf_names[3] = {"vocab.json", "merges.txt", "tokenizer_config.json"};
    static const char *gpt2_names[2] = {"encoder.json", "vocab.bpe"};
    char hfdir[400], gpt2dir[400];
    tok_case cases[8];
    const char *paths[8];
    int32_t pats[8] = {0};
    size_t i, n = 0;
    (void)state;
    snprintf(hfdir, sizeof hfdir, "%s/hf", tmpdir);
    snprintf(gpt2dir, sizeof gpt2dir, "%s/gpt2", tmpdir);
    split_seed(SEEDS "/tok_hfdir/bpe.txt", hfdir, hf_names, 3);
    split_seed(SEEDS "/tok_gpt2dir/bpe.txt", gpt2dir, gpt2_names, 2);
    paths[n++] = hfdir;
    paths[n++] = gpt2dir;
    paths[n++] = SEEDS "/tok_json/tokenizer.json";
    pats[n] = LLM_TOK_PATTERN_GPT2;
    paths[n++] = SEEDS "/tok_tiktoken/bpe.tiktoken";
    paths[n++] = SEEDS "/tok_gguf/bpe.gguf";
    paths[n++] = SEEDS "/tok_gguf/spm.gguf";
    paths[n++] = SEEDS "/tok_bin/spm.bin";
    paths[n++] = SEEDS "/tok_model/spm.model";
    for (i = 0; i < n; i++) {
        long allocs;
        memset(&cases[i], 0, sizeof cases[i]);
        cases[i].path = paths[i];
        cases[i].pattern = pats[i];
        tok_reference(&cases[i]);
        allocs = sweep(tok_scenario, &cases[i]);
        printf("tokenizer %s: %ld allocations swept\n", paths[i], allocs);
    }
    {
        char hfsave[400];
        snprintf(hfsave, sizeof hfsave, "%s/tok-save-hf", tmpdir);
        assert_int_equal(leftover_tmp(tmpdir), 0);
        assert_int_equal(leftover_tmp(hfsave), 0);
    }
}

static void train_scenario(const void *arg) {
    const char *corpus = arg;
    llm_tokenizer_train_opts o;
    llm_tokenizer *t = NULL;
    llm_token ids[256];
    size_t n = 0;
    int rc;
    LLM_TOKENIZER_TRAIN_OPTS_INIT(&o);
    o.alloc = hard_fn;
    o.alloc_ud = &A;
    o.vocab_size = 280;
    o.min_frequency = 1;
    rc = llm_tokenizer_train(&t, &corpus, 1, &o);
    if (rc != LLM_OK)
        assert_null(t);
    NOMEM_OR_OK(rc);
    assert_int_equal(llm_tokenizer_n_vocab(t), 280);
    rc = llm_tokenizer_encode(ids, 256, &n, t, text, sizeof text - 1, 0);
    if (rc != LLM_ERR_NOMEM)
        assert_int_equal(rc, LLM_OK);
out:
    llm_tokenizer_free(t);
}

static void test_tokenizer_train(void **state) {
    char corpus[400];
    FILE *f;
    int i;
    (void)state;
    snprintf(corpus, sizeof corpus, "%s/corpus.txt", tmpdir);
    f = fopen(corpus, "w");
    for (i = 0; i < 20; i++)
        fputs(text, f);
    fclose(f);
    printf("tokenizer train: %ld allocations swept\n", sweep(train_scenario, corpus));
}

/* ---- models and contexts ---- */

typedef struct model_case {
    int how;          /* 0 load, 1 load NO_MMAP, 2 load_mem, 3 create, 4 import */
    const char *path;
    const void *buf;
    size_t size;
    float ref[512];
    size_t n_ref;
} model_case;

static int model_open(llm_model **m, const model_case *c, llm_alloc_fn fn, void *ud) {
    llm_model_opts o;
    LLM_MODEL_OPTS_INIT(&o);
    o.alloc = fn;
    o.alloc_ud = ud;
    switch (c->how) {
    case 1:
        o.flags = LLM_MODEL_NO_MMAP;
        /* fallthrough */
    case 0:
        return llm_model_load(m, c->path, &o);
    case 2:
        return llm_model_load_mem(m, c->buf, c->size, &o);
    case 3: {
        llm_model_config cfg;
        LLM_MODEL_CONFIG_INIT(&cfg);
        cfg.arch = LLM_ARCH_LLAMA;
        cfg.n_vocab = 32;
        cfg.n_ctx = 16;
        cfg.n_embd = 16;
        cfg.n_layer = 2;
        cfg.n_head = 4;
        cfg.n_head_kv = 2;
        cfg.n_ff = 24;
        return llm_model_create(m, &cfg, 7, &o);
    }
    default:
        return llm_model_import(m, c->path, &o);
    }
}

/* decode 3 tokens and keep the last logits (first n_ref values) */
static int model_logits(const llm_model *m, float *dst, size_t *n, llm_alloc_fn fn, void *ud,
                        uint32_t threads) {
    llm_ctx_opts co;
    llm_ctx *ctx = NULL;
    llm_model_config cfg;
    const float *lg = NULL;
    llm_token toks[3] = {1, 2, 3};
    float fw[3 * 512];
    size_t need = 0;
    int rc;
    LLM_MODEL_CONFIG_INIT(&cfg);
    assert_int_equal(llm_model_get_config(&cfg, m), LLM_OK);
    LLM_CTX_OPTS_INIT(&co);
    co.n_ctx = 8;
    co.n_threads = threads;
    co.alloc = fn;
    co.alloc_ud = ud;
    rc = llm_ctx_create(&ctx, m, &co);
    if (rc != LLM_OK) {
        assert_null(ctx);
        return rc;
    }
    /* no call after create allocates (llm.h); an injected fault cannot
     * reach them, so these must succeed */
    assert_int_equal(llm_ctx_decode(&lg, ctx, toks, 3), LLM_OK);
    *n = cfg.n_vocab < 512 ? cfg.n_vocab : 512;
    memcpy(dst, lg, *n * sizeof *dst);
    assert_int_equal(llm_ctx_forward(fw, sizeof fw / sizeof fw[0], &need, ctx, toks, 1, 3, 0),
                     LLM_OK);
    /* the forward pass without cache gives the decode's last row (up to
     * rounding: the two paths sum in different orders) */
    {
        size_t i;
        for (i = 0; i < *n; i++)
            assert_true(fabsf(fw[2 * cfg.n_vocab + i] - dst[i]) <= 1e-4f * (1.0f + fabsf(dst[i])));
    }
    llm_ctx_free(ctx);
    return LLM_OK;
}

static void model_scenario(const void *arg) {
    const model_case *c = arg;
    llm_model *m = NULL;
    float lg[512];
    size_t n = 0;
    int rc;
    llm_status_str(0);
    rc = model_open(&m, c, hard_fn, &A);
    if (rc != LLM_OK)
        assert_null(m);
    NOMEM_OR_OK(rc);
    rc = model_logits(m, lg, &n, NULL, NULL, 1);
    assert_int_equal(rc, LLM_OK);
    assert_int_equal(n, c->n_ref);
    assert_memory_equal(lg, c->ref, n * sizeof *lg);
    {
        char path[400];
        snprintf(path, sizeof path, "%s/model-save.gguf", tmpdir);
        rc = llm_model_save(m, path);
        NOMEM_OR_OK(rc);
    }
out:
    llm_model_free(m);
}

static void ctx_scenario(const void *arg) {
    const model_case *c = arg;
    static llm_model *m; /* opened once with malloc */
    float lg[512];
    size_t n = 0;
    int rc, threads;
    if (!m)
        assert_int_equal(model_open(&m, c, NULL, NULL), LLM_OK);
    for (threads = 1; threads <= 2; threads++) {
        rc = model_logits(m, lg, &n, hard_fn, &A, (uint32_t)threads);
        NOMEM_OR_OK(rc);
        assert_int_equal(n, c->n_ref);
        assert_memory_equal(lg, c->ref, n * sizeof *lg);
    }
out:
    return;
}

static void *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    void *b;
    long sz;
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    b = malloc((size_t)sz);
    assert_int_equal(fread(b, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    *n = (size_t)sz;
    return b;
}

static void test_models(void **state) {
    static const char *hf_names[2] = {"config.json", "model.safetensors"};
    char hfdir[400];
    model_case c;
    int how;
    (void)state;
    snprintf(hfdir, sizeof hfdir, "%s/hfmodel", tmpdir);
    split_seed(SEEDS "/import_hf/llama.txt", hfdir, hf_names, 2);
    for (how = 0; how <= 4; how++) {
        llm_model *m = NULL;
        memset(&c, 0, sizeof c);
        c.how = how;
        c.path = how == 4 ? hfdir : SEEDS "/model/gpt2_tok.gguf";
        if (how == 2)
            c.buf = slurp(c.path, &c.size);
        assert_int_equal(model_open(&m, &c, NULL, NULL), LLM_OK);
        assert_int_equal(model_logits(m, c.ref, &c.n_ref, NULL, NULL, 1), LLM_OK);
        llm_model_free(m);
        printf("model (way %d): %ld allocations swept\n", how, sweep(model_scenario, &c));
        if (how == 0)
            printf("ctx create + decode + forward: %ld allocations swept\n",
                   sweep(ctx_scenario, &c));
        free((void *)c.buf);
    }
    assert_int_equal(leftover_tmp(tmpdir), 0);
}

/* ---- sampler ---- */

static void sampler_scenario(const void *arg) {
    const llm_token *ref = arg;
    llm_sampler_opts o;
    llm_sampler *s = NULL;
    float logits[64];
    llm_token tok = -1;
    int i, rc;
    for (i = 0; i < 64; i++)
        logits[i] = (float)((i * 37) % 64) / 16.0f;
    llm_sampler_opts_init(&o, sizeof o);
    o.alloc = hard_fn;
    o.alloc_ud = &A;
    o.n_vocab = 64;
    o.seed = 5;
    o.top_k = 10;
    o.repeat_penalty = 1.3f;
    rc = llm_sampler_create(&s, &o);
    if (rc != LLM_OK)
        assert_null(s);
    NOMEM_OR_OK(rc);
    for (i = 0; i < 4; i++) {
        assert_int_equal(llm_sampler_sample(&tok, s, logits, 64), LLM_OK);
        if (ref)
            assert_int_equal(tok, ref[i]);
    }
    /* the only setter that may allocate: on NOMEM nothing changes */
    rc = llm_sampler_set_i32(s, LLM_SAMPLER_PENALTY_LAST_N, 4096);
    if (rc == LLM_ERR_NOMEM) {
        int32_t v = 0;
        assert_int_equal(llm_sampler_get_i32(&v, s, LLM_SAMPLER_PENALTY_LAST_N), LLM_OK);
        assert_int_equal(v, 64);
    } else {
        assert_int_equal(rc, LLM_OK);
    }
    assert_int_equal(llm_sampler_sample(&tok, s, logits, 64), LLM_OK);
out:
    llm_sampler_free(s);
}

static void test_sampler(void **state) {
    llm_sampler_opts o;
    llm_sampler *s = NULL;
    float logits[64];
    llm_token ref[4];
    int i;
    (void)state;
    for (i = 0; i < 64; i++)
        logits[i] = (float)((i * 37) % 64) / 16.0f;
    llm_sampler_opts_init(&o, sizeof o);
    o.n_vocab = 64;
    o.seed = 5;
    o.top_k = 10;
    o.repeat_penalty = 1.3f;
    assert_int_equal(llm_sampler_create(&s, &o), LLM_OK);
    for (i = 0; i < 4; i++)
        assert_int_equal(llm_sampler_sample(&ref[i], s, logits, 64), LLM_OK);
    llm_sampler_free(s);
    printf("sampler: %ld allocations swept\n", sweep(sampler_scenario, ref));
}

/* ---- generator ---- */

static llm_model *gen_model;

static void gen_scenario(const void *arg) {
    const llm_token *ref = arg;
    llm_ctx_opts co;
    llm_ctx *ctx = NULL;
    llm_sampler_opts so;
    llm_sampler *s = NULL;
    llm_gen_opts go;
    llm_gen *g = NULL;
    const llm_tokenizer *tok = llm_model_tokenizer(gen_model);
    llm_token t;
    int i = 0, rc;
    LLM_CTX_OPTS_INIT(&co);
    co.n_ctx = 16;
    co.alloc = hard_fn;
    co.alloc_ud = &A;
    llm_sampler_opts_init(&so, sizeof so);
    so.alloc = hard_fn;
    so.alloc_ud = &A;
    so.n_vocab = (uint32_t)llm_tokenizer_n_vocab(tok);
    so.seed = 11;
    LLM_GEN_OPTS_INIT(&go);
    go.alloc = hard_fn;
    go.alloc_ud = &A;
    go.max_tokens = 4;
    go.flags = LLM_GEN_IGNORE_EOS;
    rc = llm_ctx_create(&ctx, gen_model, &co);
    NOMEM_OR_OK(rc);
    rc = llm_sampler_create(&s, &so);
    NOMEM_OR_OK(rc);
    rc = llm_gen_create(&g, ctx, s, tok, &go);
    if (rc != LLM_OK)
        assert_null(g);
    NOMEM_OR_OK(rc);
    rc = llm_gen_feed_text(g, "In the", 6);
    NOMEM_OR_OK(rc); /* the tokenizer's scratch comes from the model's allocator: never fails here */
    while ((rc = llm_gen_next(&t, NULL, NULL, g)) != LLM_DONE) {
        assert_true(rc == LLM_OK || rc == LLM_AGAIN);
        if (rc == LLM_OK) {
            assert_true(i < 4);
            if (ref)
                assert_int_equal(t, ref[i]);
            i++;
        }
    }
    assert_int_equal(i, 4);
out:
    llm_gen_free(g);
    llm_sampler_free(s);
    llm_ctx_free(ctx);
}

static void test_generator(void **state) {
    llm_token ref[4];
    llm_ctx *ctx = NULL;
    llm_sampler_opts so;
    llm_sampler *s = NULL;
    llm_gen_opts go;
    size_t n = 0;
    llm_ctx_opts co;
    (void)state;
    assert_int_equal(llm_model_load(&gen_model, SEEDS "/model/gpt2_tok.gguf", NULL), LLM_OK);
    LLM_CTX_OPTS_INIT(&co);
    co.n_ctx = 16;
    assert_int_equal(llm_ctx_create(&ctx, gen_model, &co), LLM_OK);
    llm_sampler_opts_init(&so, sizeof so);
    so.n_vocab = (uint32_t)llm_tokenizer_n_vocab(llm_model_tokenizer(gen_model));
    so.seed = 11;
    assert_int_equal(llm_sampler_create(&s, &so), LLM_OK);
    LLM_GEN_OPTS_INIT(&go);
    go.max_tokens = 4;
    go.flags = LLM_GEN_IGNORE_EOS;
    assert_int_equal(llm_generate(ref, 4, &n, NULL, 0, NULL, NULL, ctx, s,
                                  llm_model_tokenizer(gen_model), "In the", 6, &go),
                     LLM_OK);
    assert_int_equal(n, 4);
    llm_sampler_free(s);
    llm_ctx_free(ctx);
    printf("ctx + sampler + generator: %ld allocations swept\n", sweep(gen_scenario, ref));
    llm_model_free(gen_model);
}

/* ---- trainer ---- */

static void trainer_scenario(const void *arg) {
    const float *ref = arg;
    llm_model_config cfg;
    llm_model *m = NULL;
    llm_trainer_opts o;
    llm_trainer *tr = NULL;
    llm_token in[8] = {1, 2, 3, 4, 5, 6, 7, 8}, tg[8] = {2, 3, 4, 5, 6, 7, 8, 9};
    float loss = 0;
    char path[400];
    int rc;
    LLM_MODEL_CONFIG_INIT(&cfg);
    cfg.arch = LLM_ARCH_GPT2;
    cfg.n_vocab = 16;
    cfg.n_ctx = 8;
    cfg.n_embd = 8;
    cfg.n_layer = 1;
    cfg.n_head = 2;
    cfg.n_head_kv = 2;
    cfg.n_ff = 16;
    assert_int_equal(llm_model_create(&m, &cfg, 3, NULL), LLM_OK);
    LLM_TRAINER_OPTS_INIT(&o);
    o.alloc = hard_fn;
    o.alloc_ud = &A;
    o.batch = 2;
    o.seq_len = 4;
    o.lr = 1e-2;
    rc = llm_trainer_create(&tr, m, &o);
    if (rc != LLM_OK)
        assert_null(tr);
    NOMEM_OR_OK(rc);
    assert_int_equal(llm_trainer_step(&loss, tr, in, tg, 8), LLM_OK); /* allocates nothing */
    if (ref)
        assert_memory_equal(&loss, ref, sizeof loss);
    snprintf(path, sizeof path, "%s/ckpt.gguf", tmpdir);
    rc = llm_trainer_save(tr, path);
    NOMEM_OR_OK(rc);
    rc = llm_trainer_load(tr, path);
    NOMEM_OR_OK(rc);
out:
    llm_trainer_free(tr);
    llm_model_free(m);
}

static void test_trainer(void **state) {
    (void)state;
    printf("trainer create + step + save + load: %ld allocations swept\n",
           sweep(trainer_scenario, NULL));
}

int main(int argc, char **argv) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokenizers), cmocka_unit_test(test_tokenizer_train),
        cmocka_unit_test(test_models),     cmocka_unit_test(test_sampler),
        cmocka_unit_test(test_generator),  cmocka_unit_test(test_trainer),
    };
    int rc;
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/llm-faults.XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            rc = rc ? rc : 1;
    }
    return rc;
}
