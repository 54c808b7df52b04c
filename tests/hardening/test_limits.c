/*
 * test_limits.c - hostile sizes in file headers (issue 9, "limits"): every
 * size read from a file is checked against the bytes that remain and
 * against overflow before it is used, so each of these tiny crafted files
 * is refused with LLM_ERR_BAD_FILE and a message naming the offset, at
 * once (no huge allocation is attempted, which the test checks with an
 * allocator that refuses anything above 1 MiB).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "format/json.h"
#include "format/safetensors.h"
#include "llm.h"

/* ---- a bounded allocator: anything above 1 MiB is refused and counted ---- */
static long n_big;
static void *small_alloc(void *ud, void *p, size_t osize, size_t nsize) {
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        free(p);
        return NULL;
    }
    if (nsize > (1u << 20)) {
        n_big++;
        return NULL;
    }
    return realloc(p, nsize);
}

/* ---- GGUF builder ---- */
typedef struct gb {
    uint8_t b[4096];
    size_t n;
} gb;
static void put(gb *g, const void *p, size_t n) {
    memcpy(g->b + g->n, p, n);
    g->n += n;
}
static void u32(gb *g, uint32_t v) { put(g, &v, 4); }
static void u64(gb *g, uint64_t v) { put(g, &v, 8); }
static void str(gb *g, const char *s) {
    u64(g, strlen(s));
    put(g, s, strlen(s));
}
static void header(gb *g, uint64_t n_tensors, uint64_t n_kv) {
    g->n = 0;
    put(g, "GGUF", 4);
    u32(g, 3);
    u64(g, n_tensors);
    u64(g, n_kv);
}

static void expect_bad_gguf(const gb *g, const char *what, const char *needle) {
    llm_model_opts o;
    llm_model *m = NULL;
    int rc;
    LLM_MODEL_OPTS_INIT(&o);
    o.alloc = small_alloc;
    n_big = 0;
    rc = llm_model_load_mem(&m, g->b, g->n, &o);
    if (rc != LLM_ERR_BAD_FILE)
        fail_msg("%s: status %d (%s)", what, rc, llm_last_errmsg());
    assert_null(m);
    assert_int_equal(n_big, 0);
    if (!strstr(llm_last_errmsg(), needle))
        fail_msg("%s: message '%s' lacks '%s'", what, llm_last_errmsg(), needle);
    printf("%-40s -> %s\n", what, llm_last_errmsg());
}

static void test_gguf_sizes(void **state) {
    gb g;
    (void)state;
    header(&g, UINT64_MAX / 2, 0);
    expect_bad_gguf(&g, "tensor count 2^63", "offset 8");
    header(&g, 0, 1ull << 40);
    expect_bad_gguf(&g, "metadata count 2^40", "offset 16");
    header(&g, 0, 1);
    u64(&g, 1ull << 62); /* key length */
    put(&g, "abcdefghijklmnop", 16);
    expect_bad_gguf(&g, "key length 2^62", "offset 24");
    header(&g, 0, 1);
    str(&g, "general.x");
    u32(&g, 9); /* array */
    u32(&g, 0); /* of u8 */
    u64(&g, 1ull << 40);
    expect_bad_gguf(&g, "array of 2^40 bytes", "offset");
    header(&g, 0, 1);
    str(&g, "general.x");
    u32(&g, 8); /* string */
    u64(&g, UINT64_MAX);
    expect_bad_gguf(&g, "string length 2^64-1", "offset");
    header(&g, 1, 0);
    str(&g, "t");
    u32(&g, 3);
    u64(&g, 1ull << 32);
    u64(&g, 1ull << 32);
    u64(&g, 1ull << 32);
    u32(&g, 0);
    u64(&g, 0);
    expect_bad_gguf(&g, "tensor of 2^96 elements", "overflow");
    header(&g, 1, 0);
    str(&g, "t");
    u32(&g, 5);
    for (int k = 0; k < 5; k++)
        u64(&g, 1);
    u32(&g, 0);
    u64(&g, 0);
    expect_bad_gguf(&g, "tensor with 5 dimensions", "dimensions");
    header(&g, 1, 0);
    str(&g, "t");
    u32(&g, 1);
    u64(&g, 1024);
    u32(&g, 0);
    u64(&g, 0); /* data would need 4 KiB; the file ends here */
    expect_bad_gguf(&g, "tensor data past the end", "offset");
    header(&g, 1, 0);
    str(&g, "t");
    u32(&g, 1);
    u64(&g, 4);
    u32(&g, 0);
    u64(&g, UINT64_MAX - 7); /* offset wraps around */
    expect_bad_gguf(&g, "tensor offset 2^64-8", "offset");
}

static void test_json_depth(void **state) {
    size_t n = 200000, i;
    char *s = malloc(n);
    llm__mem mem;
    llm__json *doc = NULL;
    (void)state;
    for (i = 0; i < n; i++)
        s[i] = i < n / 2 ? '[' : ']';
    llm__mem_init(&mem, NULL, NULL);
    assert_int_equal(llm__json_parse(&doc, NULL, &mem, s, n, "deep.json"), LLM_ERR_BAD_FILE);
    assert_null(doc);
    assert_non_null(strstr(llm_last_errmsg(), "deep.json"));
    printf("%-40s -> %s\n", "JSON nested 100000 deep", llm_last_errmsg());
    free(s);
}

static void test_safetensors_sizes(void **state) {
    uint8_t b[64];
    uint64_t hl = UINT64_MAX - 4;
    llm__mem mem;
    llm__st st;
    static const char h[] = "{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,8],"
                            "\"data_offsets\":[0,0]}}";
    uint8_t *big;
    (void)state;
    llm__mem_init(&mem, small_alloc, NULL);
    memcpy(b, &hl, 8);
    memset(b + 8, ' ', sizeof b - 8);
    n_big = 0;
    assert_int_equal(llm__st_parse(&st, b, sizeof b, "h.safetensors", &mem, NULL),
                     LLM_ERR_BAD_FILE);
    printf("%-40s -> %s\n", "safetensors header length 2^64-5", llm_last_errmsg());
    /* a shape whose byte size overflows */
    big = malloc(8 + sizeof h - 1);
    hl = sizeof h - 1;
    memcpy(big, &hl, 8);
    memcpy(big + 8, h, sizeof h - 1);
    assert_int_equal(llm__st_parse(&st, big, 8 + sizeof h - 1, "s.safetensors", &mem, NULL),
                     LLM_ERR_BAD_FILE);
    printf("%-40s -> %s\n", "safetensors shape 2^62 x 8", llm_last_errmsg());
    assert_int_equal(n_big, 0);
    free(big);
}

/* llama2.c header whose size formula wraps around 2^64 (a 6 MB file that
 * claims dim 2^19 and 2^24 layers). */
static void test_llama2c_overflow(void **state) {
    char path[] = "/tmp/llm-limits-XXXXXX";
    int32_t h[7] = {1 << 19, 699050, 1 << 24, 1, 1, 1, 1};
    size_t floats = 1572864, i;
    FILE *f;
    int fd = mkstemp(path);
    llm_model *m = NULL;
    llm_model_opts o;
    int rc;
    float zero[4096] = {0};
    (void)state;
    assert_true(fd >= 0);
    f = fdopen(fd, "wb");
    fwrite(h, 4, 7, f);
    for (i = 0; i < floats; i += 4096)
        fwrite(zero, 4, 4096, f);
    fclose(f);
    LLM_MODEL_OPTS_INIT(&o);
    o.alloc = small_alloc;
    n_big = 0;
    rc = llm_model_import(&m, path, &o);
    unlink(path);
    assert_null(m);
    printf("%-40s -> %d %s\n", "llama2.c size formula overflow", rc, llm_last_errmsg());
    assert_int_equal(rc, LLM_ERR_BAD_FILE);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gguf_sizes),
        cmocka_unit_test(test_json_depth),
        cmocka_unit_test(test_safetensors_sizes),
        cmocka_unit_test(test_llama2c_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
