/*
 * test_train.c - llm_tokenizer_train through the API: option checks,
 * target size reached, merges valid (each made of earlier tokens, as the
 * saved merges.txt shows), determinism, progress reports and
 * cancellation, save/load round trip in both formats. The merge-by-merge
 * comparison with an independent trainer is train_ref.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "llm.h"
#include "llm_core.h"

static char g_corpus[256], g_dir[256];

static int setup(void **state) {
    FILE *f;
    uint64_t x = 12345;
    int i, j, k;
    static const char *const syl[] = {
        "the", "of", "and", "lo", "rd", "sha", "ll", "un", "to", "thee", "thou", "ki", "ng",
        "sa", "id", "be", "ga", "ve", "ri", "on", "ma", "ne", "st", "er", "in", "ch", "il",
        "dr", "en", "is", "ra", "el", "\xc3\xa9", "t\xc3\xa9", "\xe6\x97\xa5", "12", "7"};
    (void)state;
    snprintf(g_corpus, sizeof g_corpus, "/tmp/llm_train_%ld.txt", (long)getpid());
    snprintf(g_dir, sizeof g_dir, "/tmp/llm_train_%ld", (long)getpid());
    f = fopen(g_corpus, "wb");
    if (!f)
        return -1;
    for (i = 0; i < 4000; i++) {
        for (j = 0; j < 12; j++) {
            int n_syl;
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            n_syl = 1 + (int)((x >> 60) % 3);
            if (j)
                fputc(' ', f);
            for (k = 0; k < n_syl; k++) {
                x = x * 6364136223846793005ull + 1442695040888963407ull;
                /* a skewed choice: low indices are more frequent */
                fputs(syl[((x >> 33) % 37) * ((x >> 20) % 37) / 37], f);
            }
        }
        fputs(i % 7 ? ".\n" : "\n\n", f);
    }
    fclose(f);
    return 0;
}

static int teardown(void **state) {
    char p[512];
    (void)state;
    remove(g_corpus);
    snprintf(p, sizeof p, "%s/vocab.json", g_dir);
    remove(p);
    snprintf(p, sizeof p, "%s/merges.txt", g_dir);
    remove(p);
    snprintf(p, sizeof p, "%s/tokenizer_config.json", g_dir);
    remove(p);
    snprintf(p, sizeof p, "%s.gguf", g_dir);
    remove(p);
    rmdir(g_dir);
    return 0;
}

static int n_reports;
static int on_progress(void *ud, const llm_progress *p) {
    int stop_at = *(int *)ud;
    assert_int_equal(p->phase, LLM_PHASE_TOKENIZER_TRAIN);
    assert_true(p->done <= p->total);
    n_reports++;
    return stop_at && n_reports >= stop_at;
}

static llm_tokenizer *train(uint32_t vocab, int *stop_at, int expect) {
    llm_tokenizer_train_opts o;
    llm_tokenizer *t = (llm_tokenizer *)1;
    const char *files[1];
    files[0] = g_corpus;
    LLM_TOKENIZER_TRAIN_OPTS_INIT(&o);
    o.vocab_size = vocab;
    o.progress = on_progress;
    o.progress_ud = stop_at;
    n_reports = 0;
    assert_int_equal(llm_tokenizer_train(&t, files, 1, &o), expect);
    if (expect != LLM_OK)
        assert_null(t);
    return t;
}

#define SAMPLE "the lord said \xc3\xa9t\xc3\xa9<|endoftext|>"

static void test_train_basic(void **state) {
    int zero = 0;
    llm_tokenizer *a = train(600, &zero, LLM_OK), *b = train(600, &zero, LLM_OK);
    llm_token id, ids1[64], ids2[64];
    size_t n1, n2, i;
    char piece[512];
    (void)state;
    assert_int_equal(llm_tokenizer_n_vocab(a), 600);
    assert_true(n_reports >= 1);
    assert_int_equal(llm_tokenizer_special_id(a, LLM_TOK_EOS), 599);
    /* deterministic: every token has the same bytes in both runs */
    for (i = 0; i < 600; i++) {
        char pa[256], pb[256];
        size_t la, lb;
        assert_int_equal(llm_tokenizer_token_to_piece(pa, sizeof pa, &la, a, (llm_token)i), 0);
        assert_int_equal(llm_tokenizer_token_to_piece(pb, sizeof pb, &lb, b, (llm_token)i), 0);
        assert_int_equal(la, lb);
        assert_memory_equal(pa, pb, la);
    }
    /* frequent words became single tokens */
    assert_int_equal(llm_tokenizer_piece_to_token(&id, a, " the", 4), LLM_OK);
    assert_int_equal(llm_tokenizer_encode(ids1, 64, &n1, a, "the of the", 10, 0), LLM_OK);
    assert_int_equal(n1, 3);
    /* save in both forms and load back: same ids */
    assert_int_equal(llm_tokenizer_save(a, g_dir, LLM_TOK_FORMAT_HF), LLM_OK);
    snprintf(piece, sizeof piece, "%s.gguf", g_dir);
    assert_int_equal(llm_tokenizer_save(a, piece, LLM_TOK_FORMAT_GGUF), LLM_OK);
    llm_tokenizer_free(b);
    assert_int_equal(llm_tokenizer_load(&b, g_dir, NULL), LLM_OK);
    assert_int_equal(llm_tokenizer_n_vocab(b), 600);
    assert_int_equal(llm_tokenizer_is_special(b, 599), 1);
    assert_int_equal(llm_tokenizer_encode(ids2, 64, &n2, b,
                                          SAMPLE, strlen(SAMPLE),
                                          LLM_TOK_PARSE_SPECIAL), LLM_OK);
    assert_int_equal(llm_tokenizer_encode(ids1, 64, &n1, a,
                                          SAMPLE, strlen(SAMPLE),
                                          LLM_TOK_PARSE_SPECIAL), LLM_OK);
    assert_int_equal(n1, n2);
    assert_memory_equal(ids1, ids2, n1 * sizeof *ids1);
    assert_int_equal(ids1[n1 - 1], 599);
    llm_tokenizer_free(b);
    assert_int_equal(llm_tokenizer_load(&b, piece, NULL), LLM_OK);
    assert_int_equal(llm_tokenizer_encode(ids2, 64, &n2, b,
                                          SAMPLE, strlen(SAMPLE),
                                          LLM_TOK_PARSE_SPECIAL), LLM_OK);
    assert_int_equal(n1, n2);
    assert_memory_equal(ids1, ids2, n1 * sizeof *ids1);
    llm_tokenizer_free(a);
    llm_tokenizer_free(b);
}

static void test_train_cancel_and_args(void **state) {
    int stop = 2;
    llm_tokenizer_train_opts o;
    llm_tokenizer *t = NULL;
    const char *files[1] = {g_corpus};
    const char *bad[1] = {"/nonexistent/corpus.txt"};
    const char *sp[1] = {"x"};
    (void)state;
    train(2000, &stop, LLM_ERR_CANCELLED);
    assert_int_equal(n_reports, 2);
    /* a small corpus cannot fill a big vocabulary: training stops early */
    {
        int zero = 0;
        t = train(100000, &zero, LLM_OK);
        assert_true(llm_tokenizer_n_vocab(t) < 100000);
        assert_true(llm_tokenizer_n_vocab(t) > 300);
        llm_tokenizer_free(t);
    }
    LLM_TOKENIZER_TRAIN_OPTS_INIT(&o);
    assert_int_equal(llm_tokenizer_train(&t, files, 1, &o), LLM_ERR_INVALID); /* no size */
    o.vocab_size = 1000;
    assert_int_equal(llm_tokenizer_train(NULL, files, 1, &o), LLM_ERR_INVALID);
    assert_int_equal(llm_tokenizer_train(&t, NULL, 1, &o), LLM_ERR_INVALID);
    assert_int_equal(llm_tokenizer_train(&t, files, 0, &o), LLM_ERR_INVALID);
    assert_int_equal(llm_tokenizer_train(&t, bad, 1, &o), LLM_ERR_IO);
    assert_non_null(strstr(llm_last_errmsg(), "/nonexistent/corpus.txt"));
    o.pattern = 9;
    assert_int_equal(llm_tokenizer_train(&t, files, 1, &o), LLM_ERR_INVALID);
    o.pattern = LLM_TOK_PATTERN_O200K;
    o.n_special = 1;
    o.special = sp;
    assert_int_equal(llm_tokenizer_train(&t, files, 1, &o), LLM_ERR_INVALID);
    o.n_special = 0;
    o.vocab_size = 256;
    assert_int_equal(llm_tokenizer_train(&t, files, 1, &o), LLM_ERR_INVALID);
    o.vocab_size = 300;
    assert_int_equal(llm_tokenizer_train(&t, files, 1, &o), LLM_OK);
    assert_int_equal(llm_tokenizer_n_vocab(t), 300);
    assert_int_equal(llm_tokenizer_save(t, g_dir, 7), LLM_ERR_INVALID);
    assert_int_equal(llm_tokenizer_save(NULL, g_dir, LLM_TOK_FORMAT_HF), LLM_ERR_INVALID);
    assert_int_equal(llm_tokenizer_save(t, "/nonexistent/dir/x", LLM_TOK_FORMAT_HF),
                     LLM_ERR_IO);
    llm_tokenizer_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_basic),
        cmocka_unit_test(test_train_cancel_and_args),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
