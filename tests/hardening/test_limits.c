/*
 * test_limits.c - hostile sizes in file headers (issue 9, "limits"): every
 * size read from a file is checked against the bytes that remain and
 * against overflow before it is used, so each of these tiny crafted files
 * is refused with LLM_ERR_BAD_FILE and a message naming the offset, at
 * once (no huge allocation is attempted, which the test checks with an
 * allocator that refuses anything above 1 MiB).
 *
 * The configurable caps (llm_model_opts / llm_tokenizer_opts max_tensors,
 * max_dim, max_vocab, max_string): for each cap and each reader, a real
 * file (the fuzz seeds) whose size is just above a lowered cap fails with
 * LLM_ERR_RANGE and a message naming the cap and its value, and the same
 * file loads once the cap equals its size (oracle: the sizes measured on
 * the file loaded with default caps). The default n_ctx of a context is
 * min(model n_ctx, LLM_CTX_DEFAULT_N_CTX), checked on a model that claims
 * 2^24 positions with an allocator that refuses anything above 64 MiB.
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

#ifndef SEEDS
#error SEEDS must name tests/fuzz/seeds
#endif

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

/* ---- configurable caps ---- */

/* Expects a RANGE refusal whose message names `needle` (the cap and its
 * value); EXPECT_CAP makes the call before it reads the handle. */
#define EXPECT_CAP(call, h, what, needle)                                      \
    do {                                                                       \
        int rc_ = (call);                                                      \
        expect_cap(rc_, (h), (what), (needle));                                \
    } while (0)
static void expect_cap(int rc, const void *handle, const char *what, const char *needle) {
    if (rc != LLM_ERR_RANGE)
        fail_msg("%s: status %d (%s), expected LLM_ERR_RANGE", what, rc, llm_last_errmsg());
    assert_null(handle);
    if (!strstr(llm_last_errmsg(), needle))
        fail_msg("%s: message '%s' lacks '%s'", what, llm_last_errmsg(), needle);
    printf("%-40s -> %s\n", what, llm_last_errmsg());
}

static int load_capped(llm_model **m, const char *path, uint64_t max_tensors, uint64_t max_dim,
                       uint64_t max_vocab, uint64_t max_string) {
    llm_model_opts o;
    LLM_MODEL_OPTS_INIT(&o);
    o.max_tensors = max_tensors;
    o.max_dim = max_dim;
    o.max_vocab = max_vocab;
    o.max_string = max_string;
    return llm_model_load(m, path, &o);
}

/* The sizes the caps bound, measured on a file loaded with the defaults. */
typedef struct model_sizes {
    size_t n_tensors;
    uint64_t max_tensor_dim; /* largest dimension of any tensor */
    uint64_t max_cfg_dim;    /* largest of n_ctx, n_embd, n_ff, n_head, n_layer */
    uint32_t n_vocab;
} model_sizes;

static void measure(model_sizes *z, const char *path) {
    llm_model *m = NULL;
    llm_model_config c;
    size_t i;
    assert_int_equal(llm_model_load(&m, path, NULL), LLM_OK);
    LLM_MODEL_CONFIG_INIT(&c);
    assert_int_equal(llm_model_get_config(&c, m), LLM_OK);
    assert_int_equal(llm_model_n_tensors(&z->n_tensors, m), LLM_OK);
    z->max_tensor_dim = 0;
    for (i = 0; i < z->n_tensors; i++) {
        const char *name;
        uint32_t nd, d;
        uint64_t dims[4];
        assert_int_equal(llm_model_tensor_name(&name, m, i), LLM_OK);
        assert_int_equal(llm_model_tensor_shape(&nd, dims, m, name), LLM_OK);
        for (d = 0; d < nd; d++)
            if (dims[d] > z->max_tensor_dim)
                z->max_tensor_dim = dims[d];
    }
    z->max_cfg_dim = c.n_ctx;
    if (c.n_embd > z->max_cfg_dim) z->max_cfg_dim = c.n_embd;
    if (c.n_ff > z->max_cfg_dim) z->max_cfg_dim = c.n_ff;
    if (c.n_head > z->max_cfg_dim) z->max_cfg_dim = c.n_head;
    if (c.n_layer > z->max_cfg_dim) z->max_cfg_dim = c.n_layer;
    z->n_vocab = c.n_vocab;
    llm_model_free(m);
}

static void test_model_caps(void **state) {
    static const char *const files[] = {SEEDS "/model/gpt2_tok.gguf",
                                        SEEDS "/model/llama_spm.gguf",
                                        SEEDS "/model/llama_gqa.gguf"};
    size_t f;
    char needle[96];
    (void)state;
    for (f = 0; f < sizeof files / sizeof files[0]; f++) {
        const char *path = files[f];
        model_sizes z;
        llm_model *m = NULL;
        uint64_t all_dims;
        measure(&z, path);
        printf("%s: %zu tensors, largest tensor dim %llu, largest config size %llu, "
               "vocab %u\n", path, z.n_tensors, (unsigned long long)z.max_tensor_dim,
               (unsigned long long)z.max_cfg_dim, (unsigned)z.n_vocab);
        /* tensor count: refused at the header (offset 8), before any index
         * is allocated */
        snprintf(needle, sizeof needle, "max_tensors = %zu", z.n_tensors - 1);
        EXPECT_CAP(load_capped(&m, path, z.n_tensors - 1, 0, 0, 0), m, "GGUF tensor count",
                   needle);
        assert_non_null(strstr(llm_last_errmsg(), "offset 8"));
        assert_int_equal(load_capped(&m, path, z.n_tensors, 0, 0, 0), LLM_OK);
        llm_model_free(m);
        /* a tensor dimension: the message names the tensor */
        snprintf(needle, sizeof needle, "max_dim = %llu",
                 (unsigned long long)(z.max_tensor_dim - 1));
        EXPECT_CAP(load_capped(&m, path, 0, z.max_tensor_dim - 1, 0, 0), m,
                   "GGUF tensor dimension", needle);
        assert_non_null(strstr(llm_last_errmsg(), "tensor '"));
        /* a config size (n_ctx, ...) above every tensor dimension */
        all_dims = z.max_tensor_dim > z.max_cfg_dim ? z.max_tensor_dim : z.max_cfg_dim;
        if (z.max_cfg_dim > z.max_tensor_dim) {
            snprintf(needle, sizeof needle, "max_dim = %llu",
                     (unsigned long long)z.max_tensor_dim);
            EXPECT_CAP(load_capped(&m, path, 0, z.max_tensor_dim, 0, 0), m, "config size",
                       needle);
        }
        assert_int_equal(load_capped(&m, path, 0, all_dims, 0, 0), LLM_OK);
        llm_model_free(m);
        /* vocabulary */
        snprintf(needle, sizeof needle, "n_vocab = %u exceeds the cap max_vocab = %u",
                 (unsigned)z.n_vocab, (unsigned)z.n_vocab - 1);
        EXPECT_CAP(load_capped(&m, path, 0, 0, z.n_vocab - 1, 0), m, "model vocabulary",
                   needle);
        assert_int_equal(load_capped(&m, path, 0, 0, z.n_vocab, 0), LLM_OK);
        llm_model_free(m);
        /* strings: the first key, "general.architecture" (20 bytes), at
         * offset 24 */
        EXPECT_CAP(load_capped(&m, path, 0, 0, 0, 19), m, "GGUF string length",
                   "offset 24: metadata key length 20 exceeds the cap max_string = 19");
        /* the longest string in these files is below 4 KiB */
        assert_int_equal(load_capped(&m, path, 0, 0, 0, 4096), LLM_OK);
        llm_model_free(m);
    }
}

/* Caps on created models: the tensor count of the layout and the sizes. */
static void test_create_caps(void **state) {
    llm_model_config c;
    llm_model_opts o;
    llm_model *m = NULL;
    size_t n;
    (void)state;
    LLM_MODEL_CONFIG_INIT(&c);
    c.arch = LLM_ARCH_LLAMA;
    c.n_vocab = 64;
    c.n_ctx = 128;
    c.n_embd = 16;
    c.n_head = 2;
    c.n_head_kv = 2;
    c.n_layer = 3;
    c.n_ff = 32;
    assert_int_equal(llm_model_create(&m, &c, 1, NULL), LLM_OK);
    assert_int_equal(llm_model_n_tensors(&n, m), LLM_OK);
    llm_model_free(m);
    LLM_MODEL_OPTS_INIT(&o);
    o.max_tensors = n - 1;
    EXPECT_CAP(llm_model_create(&m, &c, 1, &o), m, "created model tensor count", "max_tensors");
    o.max_tensors = n;
    assert_int_equal(llm_model_create(&m, &c, 1, &o), LLM_OK);
    llm_model_free(m);
    LLM_MODEL_OPTS_INIT(&o);
    o.max_dim = 127;
    EXPECT_CAP(llm_model_create(&m, &c, 1, &o), m, "created model n_ctx",
               "n_ctx = 128 exceeds the cap max_dim = 127");
    o.max_dim = 128;
    o.max_vocab = 63;
    EXPECT_CAP(llm_model_create(&m, &c, 1, &o), m, "created model n_vocab",
               "n_vocab = 64 exceeds the cap max_vocab = 63");
    o.max_vocab = 64;
    assert_int_equal(llm_model_create(&m, &c, 1, &o), LLM_OK);
    llm_model_free(m);
}

/* A Hugging Face directory (config.json + model.safetensors + vocab.json
 * + merges.txt) unpacked from the import fuzz seed (parts separated by
 * "\n--8<--\n"). */
static void unpack_hf(const char *seed, const char *dir) {
    static const char *const names[4] = {"config.json", "model.safetensors", "vocab.json",
                                         "merges.txt"};
    static const char sep[] = "\n--8<--\n";
    FILE *f = fopen(seed, "rb");
    char *buf, *p, *end;
    long n;
    int k;
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    buf[n] = 0;
    p = buf;
    end = buf + n;
    for (k = 0; k < 4 && p < end; k++) {
        char path[512];
        char *q = NULL, *s;
        for (s = p; k < 3 && s + (sizeof sep - 1) <= end; s++)
            if (memcmp(s, sep, sizeof sep - 1) == 0) {
                q = s;
                break;
            }
        size_t len;
        FILE *o;
        len = q ? (size_t)(q - p) : (size_t)(end - p);
        snprintf(path, sizeof path, "%s/%s", dir, names[k]);
        o = fopen(path, "wb");
        assert_non_null(o);
        assert_int_equal(fwrite(p, 1, len, o), len);
        fclose(o);
        p = q ? q + sizeof sep - 1 : end;
    }
    free(buf);
}

static int import_capped(llm_model **m, const char *dir, uint64_t max_tensors, uint64_t max_dim,
                         uint64_t max_vocab) {
    llm_model_opts o;
    LLM_MODEL_OPTS_INIT(&o);
    o.max_tensors = max_tensors;
    o.max_dim = max_dim;
    o.max_vocab = max_vocab;
    return llm_model_import(m, dir, &o);
}

static void test_import_caps(void **state) {
    char dir[] = "/tmp/llm-limits-hf-XXXXXX", path[600];
    llm_model *m = NULL;
    llm_model_config c;
    size_t nt;
    uint64_t dmax;
    static const char *const names[4] = {"config.json", "model.safetensors", "vocab.json",
                                         "merges.txt"};
    int k;
    (void)state;
    assert_non_null(mkdtemp(dir));
    unpack_hf(SEEDS "/import_hf/gpt2_tok.txt", dir);
    assert_int_equal(llm_model_import(&m, dir, NULL), LLM_OK);
    LLM_MODEL_CONFIG_INIT(&c);
    assert_int_equal(llm_model_get_config(&c, m), LLM_OK);
    assert_int_equal(llm_model_n_tensors(&nt, m), LLM_OK);
    assert_non_null(llm_model_tokenizer(m));
    llm_model_free(m);
    m = NULL;
    dmax = c.n_ff > c.n_vocab ? c.n_ff : c.n_vocab; /* the largest dimension here */
    printf("%s: %zu tensors, n_vocab %u, n_ff %u\n", dir, nt, (unsigned)c.n_vocab,
           (unsigned)c.n_ff);
    EXPECT_CAP(import_capped(&m, dir, nt - 1, 0, 0), m, "HF import tensor count", "max_tensors");
    assert_int_equal(import_capped(&m, dir, nt, 0, 0), LLM_OK);
    llm_model_free(m);
    m = NULL;
    EXPECT_CAP(import_capped(&m, dir, 0, dmax - 1, 0), m, "HF import dimension", "max_dim");
    assert_int_equal(import_capped(&m, dir, 0, dmax, 0), LLM_OK);
    llm_model_free(m);
    m = NULL;
    EXPECT_CAP(import_capped(&m, dir, 0, 0, c.n_vocab - 1), m, "HF import vocabulary",
               "max_vocab");
    assert_int_equal(import_capped(&m, dir, 0, 0, c.n_vocab), LLM_OK);
    llm_model_free(m);
    for (k = 0; k < 4; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[k]);
        unlink(path);
    }
    rmdir(dir);
}

/* Tokenizer files of every format: vocabulary size and token length. */
static void test_tokenizer_caps(void **state) {
    static const char *const files[] = {
        SEEDS "/tok_gguf/bpe.gguf", SEEDS "/tok_gguf/spm.gguf", SEEDS "/tok_bin/spm.bin",
        SEEDS "/tok_json/tokenizer.json", SEEDS "/tok_tiktoken/bpe.tiktoken",
        SEEDS "/tok_model/spm.model"};
    size_t f;
    char needle[96];
    (void)state;
    for (f = 0; f < sizeof files / sizeof files[0]; f++) {
        const char *path = files[f];
        llm_tokenizer *t = NULL;
        llm_tokenizer_opts o;
        size_t n, id, longest = 0;
        /* a tiktoken file of this size names no scheme: say which */
        int32_t pattern = strstr(path, ".tiktoken") ? LLM_TOK_PATTERN_GPT2 : 0;
        LLM_TOKENIZER_OPTS_INIT(&o);
        o.pattern = pattern;
        assert_int_equal(llm_tokenizer_load(&t, path, &o), LLM_OK);
        n = llm_tokenizer_n_vocab(t);
        for (id = 0; id < n; id++) {
            char buf[4096];
            size_t len;
            if (llm_tokenizer_token_to_piece(buf, sizeof buf, &len, t, (llm_token)id) == LLM_OK &&
                len > longest)
                longest = len;
        }
        llm_tokenizer_free(t);
        printf("%s: %zu ids, longest token %zu bytes\n", path, n, longest);
        assert_true(longest > 1);
        o.max_vocab = n - 1;
        snprintf(needle, sizeof needle, "exceeds the cap max_vocab = %zu", n - 1);
        EXPECT_CAP(llm_tokenizer_load(&t, path, &o), t, "tokenizer vocabulary", needle);
        assert_non_null(strstr(llm_last_errmsg(), path));
        o.max_vocab = n;
        assert_int_equal(llm_tokenizer_load(&t, path, &o), LLM_OK);
        llm_tokenizer_free(t);
        /* a token (or, in a GGUF file, its stored string) longer than the cap */
        LLM_TOKENIZER_OPTS_INIT(&o);
        o.pattern = pattern;
        o.max_string = longest - 1;
        snprintf(needle, sizeof needle, "exceeds the cap max_string = %zu", longest - 1);
        if (strstr(path, ".gguf") == NULL)
            snprintf(needle, sizeof needle, "above the cap max_string = %zu", longest - 1);
        EXPECT_CAP(llm_tokenizer_load(&t, path, &o), t, "tokenizer token length", needle);
        o.max_string = 4096;
        assert_int_equal(llm_tokenizer_load(&t, path, &o), LLM_OK);
        llm_tokenizer_free(t);
    }
}

/* ---- the default n_ctx of a context ---- */

static size_t biggest;
static void *budget_alloc(void *ud, void *p, size_t osize, size_t nsize) {
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        free(p);
        return NULL;
    }
    if (nsize > biggest)
        biggest = nsize;
    if (nsize > (64u << 20))
        return NULL;
    return realloc(p, nsize);
}

static void test_default_n_ctx(void **state) {
    llm_model_config c;
    llm_model *m = NULL, *m2 = NULL;
    llm_ctx *ctx = NULL;
    llm_ctx_opts o;
    size_t n, est;
    char path[] = "/tmp/llm-limits-ctx-XXXXXX";
    int fd;
    (void)state;
    /* A llama model (no position table) that claims 2^24 positions. */
    LLM_MODEL_CONFIG_INIT(&c);
    c.arch = LLM_ARCH_LLAMA;
    c.n_vocab = 32;
    c.n_ctx = 1u << 24;
    c.n_embd = 16;
    c.n_head = 2;
    c.n_head_kv = 2;
    c.n_layer = 2;
    c.n_ff = 32;
    assert_int_equal(llm_model_create(&m, &c, 7, NULL), LLM_OK);
    /* ... saved and loaded back, as a stranger's file would come */
    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(llm_model_save(m, path), LLM_OK);
    llm_model_free(m);
    assert_int_equal(llm_model_load(&m2, path, NULL), LLM_OK);
    unlink(path);
    LLM_MODEL_CONFIG_INIT(&c);
    assert_int_equal(llm_model_get_config(&c, m2), LLM_OK);
    assert_int_equal(c.n_ctx, 1u << 24);
    /* n_ctx = 0: LLM_CTX_DEFAULT_N_CTX positions, well inside 64 MiB */
    LLM_CTX_OPTS_INIT(&o);
    o.alloc = budget_alloc;
    biggest = 0;
    assert_int_equal(llm_ctx_create(&ctx, m2, &o), LLM_OK);
    assert_int_equal(llm_ctx_n_ctx(&n, ctx), LLM_OK);
    assert_int_equal(n, LLM_CTX_DEFAULT_N_CTX);
    assert_int_equal(llm_ctx_estimate_bytes(&est, m2, &o), LLM_OK);
    printf("default context of a 2^24-position model: n_ctx %zu, %zu bytes estimated, "
           "largest block %zu\n", n, est, biggest);
    assert_true(biggest <= est);
    llm_ctx_free(ctx);
    /* asking for all 2^24 positions explicitly is allowed, and its size is
     * what the estimate says: 2 * L * n_ctx * Ekv floats of KV cache alone */
    o.n_ctx = 1u << 24;
    o.n_batch = 64;
    assert_int_equal(llm_ctx_estimate_bytes(&est, m2, &o), LLM_OK);
    assert_true(est >= (size_t)2 * 2 * (1u << 24) * 16 * sizeof(float));
    printf("explicit n_ctx 2^24: %zu bytes estimated\n", est);
    ctx = NULL;
    assert_int_equal(llm_ctx_create(&ctx, m2, &o), LLM_ERR_NOMEM); /* the 64 MiB budget */
    assert_null(ctx);
    printf("%-40s -> %s\n", "explicit n_ctx 2^24 over a 64 MiB budget", llm_last_errmsg());
    /* a model whose n_ctx is below the default keeps its own */
    LLM_MODEL_CONFIG_INIT(&c);
    c.arch = LLM_ARCH_GPT2;
    c.n_vocab = 32;
    c.n_ctx = 100;
    c.n_embd = 16;
    c.n_head = 2;
    c.n_head_kv = 2;
    c.n_layer = 1;
    assert_int_equal(llm_model_create(&m, &c, 7, NULL), LLM_OK);
    assert_int_equal(llm_ctx_create(&ctx, m, NULL), LLM_OK);
    assert_int_equal(llm_ctx_n_ctx(&n, ctx), LLM_OK);
    assert_int_equal(n, 100);
    llm_ctx_free(ctx);
    llm_model_free(m);
    llm_model_free(m2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gguf_sizes),
        cmocka_unit_test(test_json_depth),
        cmocka_unit_test(test_safetensors_sizes),
        cmocka_unit_test(test_llama2c_overflow),
        cmocka_unit_test(test_model_caps),
        cmocka_unit_test(test_create_caps),
        cmocka_unit_test(test_import_caps),
        cmocka_unit_test(test_tokenizer_caps),
        cmocka_unit_test(test_default_n_ctx),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
