/*
 * test_json.c - the strict JSON reader (lib/format/json.c): values,
 * escapes, UTF-8 checks, numbers, depth limit, error positions, and
 * allocation failure at every step (via a failing allocator).
 * Oracle: hand-written expected values from RFC 8259 / RFC 3629.
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
#include "llm_core.h"
#include "format/json.h"

/* Allocator that counts live bytes and can fail after N allocations. */
typedef struct counting {
    long allocs_left; /* < 0: never fail */
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
    if (c->allocs_left == 0)
        return NULL;
    if (c->allocs_left > 0)
        c->allocs_left--;
    {
        void *p = realloc(ptr, nsize);
        if (p)
            c->live += (long long)nsize - (long long)(ptr ? osize : 0);
        return p;
    }
}

static llm__json *parse_ok(const char *text) {
    llm__mem m;
    llm__json *doc = NULL;
    llm__mem_init(&m, NULL, NULL);
    assert_int_equal(llm__json_parse(&doc, NULL, &m, text, strlen(text), "t.json"), LLM_OK);
    assert_non_null(doc);
    return doc;
}

static int parse_status(const char *text, size_t len) {
    llm__mem m;
    llm__json *doc = (llm__json *)1;
    int st;
    llm__mem_init(&m, NULL, NULL);
    st = llm__json_parse(&doc, NULL, &m, text, len, "bad.json");
    if (st == LLM_OK)
        llm__json_free(doc);
    else
        assert_null(doc);
    return st;
}

static void test_values(void **state) {
    llm__json *d;
    llm__json_val r, v;
    size_t n;
    int64_t i;
    (void)state;
    d = parse_ok(" {\"a\": [1, -2, 3.5, true, false, null, \"x\"], \"b\": {}, \"c\": [] ,"
                 "\"a\": 7}\n");
    r = llm__json_root(d);
    assert_int_equal(llm__json_type(d, r), LLM__JSON_OBJECT);
    assert_int_equal(llm__json_count(d, r), 4);
    /* duplicate key: the last wins */
    v = llm__json_get(d, r, "a");
    assert_int_equal(llm__json_type(d, v), LLM__JSON_NUMBER);
    assert_true(llm__json_int64(d, v, &i));
    assert_int_equal(i, 7);
    v = llm__json_value_at(d, r, 0);
    assert_int_equal(llm__json_type(d, v), LLM__JSON_ARRAY);
    assert_int_equal(llm__json_count(d, v), 7);
    assert_true(llm__json_int64(d, llm__json_at(d, v, 1), &i));
    assert_int_equal(i, -2);
    assert_false(llm__json_int64(d, llm__json_at(d, v, 2), &i));
    assert_true(llm__json_num(d, llm__json_at(d, v, 2)) == 3.5);
    assert_int_equal(llm__json_bool(d, llm__json_at(d, v, 3)), 1);
    assert_int_equal(llm__json_bool(d, llm__json_at(d, v, 4)), 0);
    assert_int_equal(llm__json_type(d, llm__json_at(d, v, 5)), LLM__JSON_NULL);
    assert_int_equal(llm__json_bool(d, llm__json_at(d, v, 5)), -1);
    assert_string_equal(llm__json_str(d, llm__json_at(d, v, 6), &n), "x");
    assert_int_equal(n, 1);
    assert_int_equal(llm__json_at(d, v, 7), LLM__JSON_NONE);
    assert_string_equal(llm__json_str(d, llm__json_key_at(d, r, 1), NULL), "b");
    assert_int_equal(llm__json_count(d, llm__json_get(d, r, "b")), 0);
    assert_int_equal(llm__json_type(d, llm__json_get(d, r, "c")), LLM__JSON_ARRAY);
    assert_int_equal(llm__json_get(d, r, "zz"), LLM__JSON_NONE);
    /* accessors on NONE / wrong types */
    assert_int_equal(llm__json_type(d, LLM__JSON_NONE), LLM__JSON_INVALID);
    assert_int_equal(llm__json_count(d, LLM__JSON_NONE), 0);
    assert_null(llm__json_str(d, r, &n));
    assert_int_equal(llm__json_get(d, v, "a"), LLM__JSON_NONE);
    assert_int_equal(llm__json_line(d, r), 1);
    assert_int_equal(llm__json_offset(d, r), 1);
    llm__json_free(d);

    /* scalars at the root, BOM skipped */
    d = parse_ok("\xEF\xBB\xBF\"only\"");
    assert_string_equal(llm__json_str(d, 0, NULL), "only");
    llm__json_free(d);
    d = parse_ok("[[[[]]], {\"k\": [{}]}]");
    assert_int_equal(llm__json_count(d, 0), 2);
    assert_int_equal(llm__json_count(d, llm__json_at(d, llm__json_at(d, 0, 0), 0)), 1);
    llm__json_free(d);
}

static void test_strings(void **state) {
    llm__json *d;
    size_t n;
    const char *s;
    llm__mem m;
    char *dup;
    (void)state;
    llm__mem_init(&m, NULL, NULL);
    d = parse_ok("[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\", \"\\u0041\\u00e9\\u20AC\\ud83d\\ude00\","
                 " \"a\\u0000b\", \"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\", \"\"]");
    s = llm__json_str(d, llm__json_at(d, 0, 0), &n);
    assert_int_equal(n, 8);
    assert_memory_equal(s, "\"\\/\b\f\n\r\t", 8);
    s = llm__json_str(d, llm__json_at(d, 0, 1), &n);
    /* A, e-acute (2 bytes), euro (3 bytes), U+1F600 from a surrogate pair (4) */
    assert_int_equal(n, 10);
    assert_memory_equal(s, "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10);
    s = llm__json_str(d, llm__json_at(d, 0, 2), &n);
    assert_int_equal(n, 3);
    assert_memory_equal(s, "a\0b", 3);
    assert_null(llm__json_strdup(d, llm__json_at(d, 0, 2), &m, NULL)); /* has NUL */
    s = llm__json_str(d, llm__json_at(d, 0, 3), &n);
    assert_int_equal(n, 9);
    assert_memory_equal(s, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9);
    s = llm__json_str(d, llm__json_at(d, 0, 4), &n);
    assert_int_equal(n, 0);
    assert_string_equal(s, "");
    dup = llm__json_strdup(d, llm__json_at(d, 0, 3), &m, &n);
    assert_non_null(dup);
    assert_int_equal(n, 9);
    assert_string_equal(dup, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    llm__mem_free(&m, dup, n + 1);
    llm__json_free(d);
}

static void test_numbers(void **state) {
    llm__json *d;
    int64_t i;
    (void)state;
    d = parse_ok("[0, -0, 9223372036854775807, -9223372036854775808, 9223372036854775808,"
                 " 1e2, 1.5e-3, -2.0, 1E400, 12345678901234567890123, 0.1, 4.0e15]");
    assert_true(llm__json_int64(d, llm__json_at(d, 0, 0), &i) && i == 0);
    assert_true(llm__json_int64(d, llm__json_at(d, 0, 1), &i) && i == 0);
    assert_true(llm__json_int64(d, llm__json_at(d, 0, 2), &i) && i == INT64_MAX);
    assert_true(llm__json_int64(d, llm__json_at(d, 0, 3), &i) && i == INT64_MIN);
    /* 2^63 does not fit int64, and as a double it is beyond 2^53 */
    assert_false(llm__json_int64(d, llm__json_at(d, 0, 4), &i));
    assert_true(llm__json_num(d, llm__json_at(d, 0, 4)) == 9223372036854775808.0);
    assert_true(llm__json_int64(d, llm__json_at(d, 0, 5), &i) && i == 100);
    assert_true(llm__json_num(d, llm__json_at(d, 0, 6)) == 1.5e-3);
    assert_true(llm__json_int64(d, llm__json_at(d, 0, 7), &i) && i == -2);
    assert_false(llm__json_int64(d, llm__json_at(d, 0, 8), &i)); /* inf */
    assert_false(llm__json_int64(d, llm__json_at(d, 0, 9), &i));
    assert_true(llm__json_num(d, llm__json_at(d, 0, 10)) == 0.1);
    assert_true(llm__json_int64(d, llm__json_at(d, 0, 11), &i) && i == 4000000000000000LL);
    llm__json_free(d);
}

static void test_malformed(void **state) {
    static const char *bad[] = {
        "", "   ", "{", "[", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "{'a':1}",
        "[1 2]", "01", "-", "1.", ".5", "1e", "1e+", "+1", "NaN", "Infinity", "-Infinity",
        "tru", "nul", "falsey", "[true false]", "\"abc", "\"\\x\"", "\"\\u12\"",
        "\"\\u12G4\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"",
        "\"a\tb\"", "\"a\nb\"", "\"\x01\"", "[1] [2]", "{} x", "// c\n1", "/* c */ 1",
        "[1]\x00", "\"\xc0\xaf\"", "\"\xe0\x80\xaf\"", "\"\xed\xa0\x80\"",
        "\"\xf4\x90\x80\x80\"", "\"\xf5\x80\x80\x80\"", "\"\x80\"", "\"\xc3\"",
        "\"\xe2\x82\"", "\"\xff\"", "[\"a\",]", "{\"a\":}", "{,}", "[,1]", "\xEF\xBB",
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len = strlen(bad[i]);
        if (strcmp(bad[i], "[1]") == 0)
            len = 4; /* the "[1]\x00" case: a NUL after the value */
        if (parse_status(bad[i], len) != LLM_ERR_BAD_FILE)
            fail_msg("accepted malformed input #%zu: %s", i, bad[i]);
        assert_non_null(strstr(llm_last_errmsg(), "bad.json"));
    }
    /* embedded NUL inside the text is not whitespace */
    assert_int_equal(parse_status("[1,\0 2]", 7), LLM_ERR_BAD_FILE);
}

static void test_error_position(void **state) {
    const char *t = "{\n  \"a\": [1,\n    2,, 3]\n}";
    (void)state;
    assert_int_equal(parse_status(t, strlen(t)), LLM_ERR_BAD_FILE);
    /* the second comma is at byte 19, line 3, column 7 */
    assert_non_null(strstr(llm_last_errmsg(), "bad.json: byte 19 (line 3, column 7)"));
}

static void test_depth(void **state) {
    char *t = malloc(2 * 1000 + 1);
    size_t i;
    llm__json *d;
    llm__mem m;
    (void)state;
    llm__mem_init(&m, NULL, NULL);
    for (i = 0; i < 1000; i++) {
        t[i] = '[';
        t[2000 - 1 - i] = ']';
    }
    t[2000] = '\0';
    assert_int_equal(parse_status(t, 2000), LLM_ERR_BAD_FILE);
    assert_non_null(strstr(llm_last_errmsg(), "nesting"));
    /* exactly the limit is fine */
    assert_int_equal(llm__json_parse(&d, NULL, &m, t + 1000 - LLM__JSON_MAX_DEPTH,
                                     2 * LLM__JSON_MAX_DEPTH, "deep"), LLM_OK);
    llm__json_free(d);
    assert_int_equal(parse_status(t + 1000 - LLM__JSON_MAX_DEPTH - 1,
                                  2 * LLM__JSON_MAX_DEPTH + 2), LLM_ERR_BAD_FILE);
    free(t);
}

static void test_alloc_failure(void **state) {
    /* fail at every allocation in turn: never a crash or leak */
    const char *t = "{\"vocab\": {\"a\": 1, \"b\": 2, \"ccc\": [1,2,3,4,5,6,7,8,9,10,11,12,"
                    "13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,"
                    "35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,"
                    "57,58,59,60,61,62,63,64,65,66,67,68,69,70,71,72]}, \"x\": "
                    "1.00000000000000000000000000000000000000000000000000000000000000000"
                    "00000000000000000000000000000000000000000000000000000000000000000"
                    "000000000000000000000000000001}";
    long k;
    int ok = 0;
    (void)state;
    for (k = 0; k < 100 && !ok; k++) {
        counting c = {k, 0};
        llm__mem m;
        llm__json *d = NULL;
        int st;
        llm__mem_init(&m, count_alloc, &c);
        st = llm__json_parse(&d, NULL, &m, t, strlen(t), "oom.json");
        if (st == LLM_OK) {
            ok = 1;
            assert_true(llm__json_num(d, llm__json_get(d, 0, "x")) == 1.0);
            llm__json_free(d);
        } else {
            assert_int_equal(st, LLM_ERR_NOMEM);
            assert_null(d);
        }
        assert_int_equal(c.live, 0);
    }
    assert_true(ok);
}

static void test_large_vocab(void **state) {
    /* a 100k-entry object, as vocab.json files are */
    size_t cap = 100000 * 24 + 16, len = 0, i;
    char *t = malloc(cap);
    llm__json *d;
    int64_t id;
    (void)state;
    t[len++] = '{';
    for (i = 0; i < 100000; i++)
        len += (size_t)sprintf(t + len, "%s\"t\\u00e9%zu\": %zu", i ? "," : "", i, i);
    t[len++] = '}';
    d = NULL;
    {
        llm__mem m;
        llm__mem_init(&m, NULL, NULL);
        assert_int_equal(llm__json_parse(&d, NULL, &m, t, len, "big"), LLM_OK);
    }
    assert_int_equal(llm__json_count(d, 0), 100000);
    assert_true(llm__json_int64(d, llm__json_value_at(d, 0, 99999), &id) && id == 99999);
    assert_string_equal(llm__json_str(d, llm__json_key_at(d, 0, 12345), NULL), "t\xc3\xa9" "12345");
    llm__json_free(d);
    free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),       cmocka_unit_test(test_strings),
        cmocka_unit_test(test_numbers),      cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_error_position), cmocka_unit_test(test_depth),
        cmocka_unit_test(test_alloc_failure), cmocka_unit_test(test_large_vocab),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
