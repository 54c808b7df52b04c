/*
 * test_stream.c - streaming decode (llm_tok_stream_*) with the GPT-2
 * vocabulary. Oracles: the identity (concatenated chunks + flush == the
 * bytes of the ids, for any chunking), UTF-8 validity of every chunk of a
 * valid text, and hand-computed U+FFFD replacements following Unicode's
 * "maximal subpart" practice (the same as Python's errors="replace").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm.h"

static llm_tokenizer *g_tok;
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

static int setup(void **state) {
    (void)state;
    return llm_tokenizer_load(&g_tok, LLM_TOK_GPT2_DIR, NULL) == LLM_OK ? 0 : -1;
}
static int teardown(void **state) {
    (void)state;
    llm_tokenizer_free(g_tok);
    return 0;
}

/* 1 when s[0..n) is valid UTF-8 (independent, table-driven check) */
static int valid_utf8(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t l, k;
        if (s[i] < 0x80) { i++; continue; }
        if ((s[i] & 0xE0) == 0xC0) { l = 2; cp = s[i] & 0x1F; }
        else if ((s[i] & 0xF0) == 0xE0) { l = 3; cp = s[i] & 0x0F; }
        else if ((s[i] & 0xF8) == 0xF0) { l = 4; cp = s[i] & 0x07; }
        else return 0;
        if (i + l > n) return 0;
        for (k = 1; k < l; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((l == 2 && cp < 0x80) || (l == 3 && cp < 0x800) || (l == 4 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += l;
    }
    return 1;
}

static void stream_check(const uint8_t *text, size_t len, int valid) {
    llm_token *ids = malloc((len + 1) * sizeof *ids);
    char *out = malloc(len + 16), chunk[4096];
    size_t n = 0, pos = 0, got = 0, i;
    llm_tok_stream s;
    assert_int_equal(llm_tokenizer_encode(ids, len + 1, &n, g_tok, text, len, 0), LLM_OK);
    assert_int_equal(LLM_TOK_STREAM_INIT(&s, 0), LLM_OK);
    while (pos < n) {
        size_t step = 1 + rnd() % 4, nb;
        if (step > n - pos)
            step = n - pos;
        assert_int_equal(llm_tok_stream_decode(chunk, sizeof chunk, &nb, g_tok, &s, ids + pos,
                                               step), LLM_OK);
        if (valid)
            assert_true(valid_utf8((const uint8_t *)chunk, nb));
        memcpy(out + got, chunk, nb);
        got += nb;
        pos += step;
    }
    {
        size_t nb;
        assert_int_equal(llm_tok_stream_flush(chunk, sizeof chunk, &nb, &s), LLM_OK);
        if (valid)
            assert_int_equal(nb, 0);
        memcpy(out + got, chunk, nb);
        got += nb;
    }
    assert_int_equal(got, len);
    assert_memory_equal(out, text, len);
    (void)i;
    free(ids);
    free(out);
}

static void test_roundtrip_chunks(void **state) {
    static const char *frags[] = {"a", " ", "\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac",
                                  "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd", "\xe2\x80\x8d", "\n",
                                  "\xcc\x81", "word", "\xd7\xa9\xd7\x9c"};
    size_t t;
    (void)state;
    for (t = 0; t < 2000; t++) {
        uint8_t buf[512];
        size_t len = 0, k, m = rnd() % 40;
        int valid = t % 4 != 0;
        for (k = 0; k < m; k++) {
            if (valid) {
                const char *f = frags[rnd() % (sizeof frags / sizeof frags[0])];
                memcpy(buf + len, f, strlen(f));
                len += strlen(f);
            } else {
                buf[len++] = (uint8_t)rnd();
            }
        }
        if (valid)
            assert_true(valid_utf8(buf, len));
        stream_check(buf, len, valid);
    }
}

/* Decodes `bytes` as byte tokens one byte per call with REPLACE. */
static void replace_case(const char *bytes, size_t len, const char *want) {
    llm_tok_stream s;
    char out[64];
    size_t got = 0, i, nb;
    assert_int_equal(LLM_TOK_STREAM_INIT(&s, LLM_TOK_STREAM_REPLACE), LLM_OK);
    for (i = 0; i < len; i++) {
        llm_token id;
        assert_int_equal(llm_tokenizer_piece_to_token(&id, g_tok, bytes + i, 1), LLM_OK);
        assert_int_equal(llm_tok_stream_decode(out + got, sizeof out - got, &nb, g_tok, &s, &id,
                                               1), LLM_OK);
        got += nb;
    }
    assert_int_equal(llm_tok_stream_flush(out + got, sizeof out - got, &nb, &s), LLM_OK);
    got += nb;
    if (got != strlen(want) || memcmp(out, want, got) != 0)
        fail_msg("replacement of a %zu-byte input: got %zu bytes", len, got);
}

#define R "\xEF\xBF\xBD"
static void test_replacement(void **state) {
    (void)state;
    replace_case("\xff", 1, R);
    replace_case("\xe6\x97", 2, R);             /* incomplete at the end: one U+FFFD */
    replace_case("\xe6\x97" "A", 3, R "A");
    replace_case("\xed\xa0\x80", 3, R R R);     /* surrogate: ED is a subpart alone */
    replace_case("\xf0\x9f\x91" "A", 4, R "A");
    replace_case("\xc0\xaf", 2, R R);           /* overlong */
    replace_case("\xf4\x90\x80\x80", 4, R R R R); /* above U+10FFFF */
    replace_case("\xe2\x82\xac", 3, "\xe2\x82\xac"); /* valid euro sign, split over 3 calls */
    replace_case("\x80\x80", 2, R R);
    replace_case("a\xc3", 2, "a" R);
}

static void test_buffer_and_args(void **state) {
    llm_tok_stream s;
    llm_token id;
    char out[8];
    size_t nb;
    (void)state;
    assert_int_equal(llm_tok_stream_init(NULL, sizeof s, 0), LLM_ERR_INVALID);
    assert_int_equal(LLM_TOK_STREAM_INIT(&s, 0x100), LLM_ERR_INVALID);
    assert_int_equal(LLM_TOK_STREAM_INIT(&s, 0), LLM_OK);
    /* " world" is 6 bytes: too small leaves the state alone */
    id = 995;
    assert_int_equal(llm_tok_stream_decode(out, 3, &nb, g_tok, &s, &id, 1),
                     LLM_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(nb, 6);
    assert_int_equal(llm_tok_stream_decode(out, 8, &nb, g_tok, &s, &id, 1), LLM_OK);
    assert_int_equal(nb, 6);
    id = 50257;
    assert_int_equal(llm_tok_stream_decode(out, 8, &nb, g_tok, &s, &id, 1), LLM_ERR_RANGE);
    assert_int_equal(llm_tok_stream_decode(out, 8, &nb, NULL, &s, &id, 1), LLM_ERR_INVALID);
    assert_int_equal(llm_tok_stream_decode(out, 8, &nb, g_tok, NULL, &id, 1), LLM_ERR_INVALID);
    /* a held byte: first half of "é" (0xC3 is token 127's byte? look it up) */
    assert_int_equal(llm_tokenizer_piece_to_token(&id, g_tok, "\xc3", 1), LLM_OK);
    assert_int_equal(llm_tok_stream_decode(out, 8, &nb, g_tok, &s, &id, 1), LLM_OK);
    assert_int_equal(nb, 0);
    assert_int_equal(llm_tok_stream_flush(out, 0, &nb, &s), LLM_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(nb, 1);
    assert_int_equal(llm_tok_stream_flush(out, 8, &nb, &s), LLM_OK);
    assert_int_equal(nb, 1);
    assert_int_equal((uint8_t)out[0], 0xc3);
    assert_int_equal(llm_tok_stream_flush(out, 8, &nb, &s), LLM_OK);
    assert_int_equal(nb, 0);
    /* skip special */
    assert_int_equal(LLM_TOK_STREAM_INIT(&s, LLM_TOK_STREAM_SKIP_SPECIAL), LLM_OK);
    id = 50256;
    assert_int_equal(llm_tok_stream_decode(out, 8, &nb, g_tok, &s, &id, 1), LLM_OK);
    assert_int_equal(nb, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_chunks),
        cmocka_unit_test(test_replacement),
        cmocka_unit_test(test_buffer_and_args),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
