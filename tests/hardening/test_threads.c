/*
 * test_threads.c - the thread-safety promises of llm.h (issue 9):
 *   - one model shared by N contexts in N threads (each context also with
 *     its own worker threads) gives logits bit-identical to the same runs
 *     done one after another;
 *   - one tokenizer shared by N threads encodes and decodes exactly as
 *     sequential calls do;
 *   - llm_last_errmsg() is per thread: N threads failing at the same time
 *     each read their own message;
 *   - the log hook may be called from any thread (counted atomically).
 * Oracle: the sequential results. Run it in a -DLLM_SANITIZE=thread build
 * (CTest label "tsan") to have ThreadSanitizer check the same runs.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "llm.h"

#ifndef SEEDS
#error SEEDS must name tests/fuzz/seeds
#endif

#define NT 4
#define NTOK 12

static llm_model *model;
static size_t n_vocab;
static atomic_long n_logged;

static void log_fn(void *ud, int32_t level, const char *msg) {
    (void)ud;
    (void)level;
    (void)msg;
    atomic_fetch_add(&n_logged, 1);
}

/* ---- one model, N contexts ---- */

typedef struct run {
    int seed;
    uint32_t threads;
    float *logits; /* NTOK * n_vocab: the logits after each decoded token */
    int rc;
} run;

static void *ctx_run(void *arg) {
    run *r = arg;
    llm_ctx_opts o;
    llm_ctx *ctx = NULL;
    int i;
    LLM_CTX_OPTS_INIT(&o);
    o.n_ctx = 16;
    o.n_threads = r->threads;
    r->rc = llm_ctx_create(&ctx, model, &o);
    if (r->rc != LLM_OK)
        return NULL;
    for (i = 0; i < NTOK && r->rc == LLM_OK; i++) {
        llm_token t = (llm_token)((r->seed * 31 + i * 7) % (int)n_vocab);
        const float *lg = NULL;
        r->rc = llm_ctx_decode(&lg, ctx, &t, 1);
        if (r->rc == LLM_OK)
            memcpy(r->logits + (size_t)i * n_vocab, lg, n_vocab * sizeof *lg);
    }
    llm_ctx_free(ctx);
    return NULL;
}

static void test_shared_model(void **state) {
    run seq[NT], par[NT];
    pthread_t th[NT];
    int i, rep;
    (void)state;
    for (i = 0; i < NT; i++) {
        seq[i].seed = par[i].seed = i;
        seq[i].threads = par[i].threads = (uint32_t)(1 + (i & 1));
        seq[i].logits = malloc(NTOK * n_vocab * sizeof(float));
        par[i].logits = malloc(NTOK * n_vocab * sizeof(float));
        ctx_run(&seq[i]);
        assert_int_equal(seq[i].rc, LLM_OK);
    }
    for (rep = 0; rep < 3; rep++) {
        for (i = 0; i < NT; i++)
            assert_int_equal(pthread_create(&th[i], NULL, ctx_run, &par[i]), 0);
        for (i = 0; i < NT; i++) {
            pthread_join(th[i], NULL);
            assert_int_equal(par[i].rc, LLM_OK);
            assert_memory_equal(par[i].logits, seq[i].logits, NTOK * n_vocab * sizeof(float));
        }
    }
    for (i = 0; i < NT; i++) {
        free(seq[i].logits);
        free(par[i].logits);
    }
    printf("%d contexts on one model in %d threads x 3: logits identical to sequential runs\n",
           NT, NT);
}

/* ---- one tokenizer, N threads ---- */

static const char *texts[NT] = {
    "In the beginning God created the heaven and the earth.",
    "Grüße aus Köln, naïve café 日本語 \xff\xfe bytes",
    "<|endoftext|> special tokens <|endoftext|> and numbers 1234567",
    "   spaces\t\ttabs\n\nnewlines don't I'll we've",
};

typedef struct tok_run {
    const llm_tokenizer *tok;
    int which;
    llm_token ids[256];
    size_t n;
    int ok;
} tok_run;

static void *tok_thread(void *arg) {
    tok_run *r = arg;
    const char *t = texts[r->which];
    size_t len = strlen(t), rep;
    r->ok = 1;
    for (rep = 0; rep < 50 && r->ok; rep++) {
        llm_token ids[256];
        size_t n = 0, nb = 0;
        char out[512];
        if (llm_tokenizer_encode(ids, 256, &n, r->tok, t, len, LLM_TOK_PARSE_SPECIAL) != LLM_OK)
            r->ok = 0;
        else if (rep == 0) {
            memcpy(r->ids, ids, n * sizeof *ids);
            r->n = n;
        } else if (n != r->n || memcmp(ids, r->ids, n * sizeof *ids) != 0)
            r->ok = 0;
        if (r->ok && (llm_tokenizer_decode(out, sizeof out, &nb, r->tok, ids, n, 0) != LLM_OK ||
                      nb != len || memcmp(out, t, len) != 0))
            r->ok = 0;
    }
    return NULL;
}

static void test_shared_tokenizer(void **state) {
    static const char *paths[3] = {SEEDS "/tok_gguf/bpe.gguf", SEEDS "/tok_bin/spm.bin",
                                   SEEDS "/tok_json/tokenizer.json"};
    int p;
    (void)state;
    for (p = 0; p < 3; p++) {
        llm_tokenizer *tok = NULL;
        tok_run seq[NT], par[NT];
        pthread_t th[NT];
        int i;
        assert_int_equal(llm_tokenizer_load(&tok, paths[p], NULL), LLM_OK);
        for (i = 0; i < NT; i++) {
            memset(&seq[i], 0, sizeof seq[i]);
            seq[i].tok = tok;
            seq[i].which = i;
            par[i] = seq[i];
            tok_thread(&seq[i]);
            assert_true(seq[i].ok);
        }
        for (i = 0; i < NT; i++)
            assert_int_equal(pthread_create(&th[i], NULL, tok_thread, &par[i]), 0);
        for (i = 0; i < NT; i++) {
            pthread_join(th[i], NULL);
            assert_true(par[i].ok);
            assert_int_equal(par[i].n, seq[i].n);
            assert_memory_equal(par[i].ids, seq[i].ids, seq[i].n * sizeof(llm_token));
        }
        llm_tokenizer_free(tok);
        printf("%s shared by %d threads: ids identical to sequential\n", paths[p], NT);
    }
}

/* ---- concurrent saves of shared handles (lazy GGUF view, CAS) ---- */

typedef struct save_run {
    const llm_tokenizer *tok;
    char path[64];
    int rc;
} save_run;

static void *save_thread(void *arg) {
    save_run *r = arg;
    r->rc = r->tok ? llm_tokenizer_save(r->tok, r->path, LLM_TOK_FORMAT_GGUF)
                   : llm_model_save(model, r->path);
    return NULL;
}

static int same_bytes(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb, ca, cb;
    while (same) {
        ca = fgetc(fa);
        cb = fgetc(fb);
        if (ca != cb)
            same = 0;
        if (ca == EOF)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

static void test_concurrent_saves(void **state) {
    int kind, i;
    (void)state;
    for (kind = 0; kind < 2; kind++) {
        llm_tokenizer *tok = NULL;
        save_run r[NT];
        pthread_t th[NT];
        if (kind == 0) /* fresh: its GGUF view is built by the racing saves */
            assert_int_equal(llm_tokenizer_load(&tok, SEEDS "/tok_bin/spm.bin", NULL), LLM_OK);
        for (i = 0; i < NT; i++) {
            r[i].tok = tok;
            snprintf(r[i].path, sizeof r[i].path, "/tmp/llm-thr-%d-%d-%d.gguf", (int)getpid(),
                     kind, i);
            assert_int_equal(pthread_create(&th[i], NULL, save_thread, &r[i]), 0);
        }
        for (i = 0; i < NT; i++) {
            pthread_join(th[i], NULL);
            assert_int_equal(r[i].rc, LLM_OK);
        }
        for (i = 1; i < NT; i++)
            assert_true(same_bytes(r[0].path, r[i].path));
        for (i = 0; i < NT; i++)
            remove(r[i].path);
        llm_tokenizer_free(tok);
    }
    printf("%d concurrent saves of one tokenizer and of one model: identical files\n", NT);
}

/* ---- last error per thread ---- */

static pthread_barrier_t barrier;
static llm_tokenizer *err_tok;

static void *err_thread(void *arg) {
    int me = (int)(intptr_t)arg, rep, ok = 1;
    for (rep = 0; rep < 200; rep++) {
        llm_token bad = (llm_token)(100000 + me * 1000 + rep);
        char out[8], want[32];
        size_t nb;
        int rc = llm_tokenizer_decode(out, sizeof out, &nb, err_tok, &bad, 1, 0);
        pthread_barrier_wait(&barrier); /* everyone has failed; now read */
        snprintf(want, sizeof want, "%ld", (long)bad);
        if (rc != LLM_ERR_RANGE || !strstr(llm_last_errmsg(), want))
            ok = 0;
        pthread_barrier_wait(&barrier);
    }
    return (void *)(intptr_t)ok;
}

static void test_last_error_per_thread(void **state) {
    pthread_t th[NT];
    int i;
    (void)state;
    assert_int_equal(llm_tokenizer_load(&err_tok, SEEDS "/tok_gguf/bpe.gguf", NULL), LLM_OK);
    pthread_barrier_init(&barrier, NULL, NT);
    for (i = 0; i < NT; i++)
        assert_int_equal(pthread_create(&th[i], NULL, err_thread, (void *)(intptr_t)i), 0);
    for (i = 0; i < NT; i++) {
        void *ok;
        pthread_join(th[i], &ok);
        assert_true((intptr_t)ok == 1);
    }
    pthread_barrier_destroy(&barrier);
    llm_tokenizer_free(err_tok);
    assert_true(atomic_load(&n_logged) >= NT * 200); /* each failure logged at DEBUG */
    printf("last error: %d threads x 200 simultaneous failures, each read its own message; "
           "%ld log calls\n", NT, atomic_load(&n_logged));
}

int main(int argc, char **argv) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_model),
        cmocka_unit_test(test_shared_tokenizer),
        cmocka_unit_test(test_concurrent_saves),
        cmocka_unit_test(test_last_error_per_thread),
    };
    llm_model_config c;
    int rc;
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    /* the log hook must be set before any handle exists */
    if (llm_set_log(log_fn, NULL, LLM_LOG_DEBUG) != LLM_OK)
        return 1;
    if (llm_model_load(&model, SEEDS "/model/gpt2_tok.gguf", NULL) != LLM_OK)
        return 1;
    LLM_MODEL_CONFIG_INIT(&c);
    llm_model_get_config(&c, model);
    n_vocab = c.n_vocab;
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    llm_model_free(model);
    return rc;
}
