/*
 * test_model.c - white-box tests of the model core: GGUF reader/writer
 * (round trip bit-exact, hostile files: every truncation, bad counts,
 * types, offsets, duplicates, random corruption), model creation and
 * parameter counts (math.md 5.1/5.2 formulas), kernels against their naive
 * references and hand-computed values, loss edge cases (uniform logits =
 * ln V, extreme logits stay finite), argument checks, interrupt.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "llm.h"
#include "llm_core.h"
#include "format/gguf.h"
#include "model/model.h"
#include "model/ops.h"

/* ---------------------------------------------------------------- helpers */

static llm_model *tiny_model(int32_t arch, uint64_t seed) {
    llm_model_config c;
    llm_model *m = NULL;
    LLM_MODEL_CONFIG_INIT(&c);
    c.arch = arch;
    c.n_vocab = 37;
    c.n_ctx = 16;
    c.n_embd = 16;
    c.n_layer = 2;
    c.n_head = 4;
    c.n_head_kv = arch == LLM_ARCH_LLAMA ? 2 : 4;
    c.n_ff = arch == LLM_ARCH_LLAMA ? 24 : 0;
    assert_int_equal(llm_model_create(&m, &c, seed, NULL), LLM_OK);
    return m;
}

static unsigned char *read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    unsigned char *b;
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

static char g_tmp[256];

static const char *tmp_path(const char *name) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/llm_test_model_%ld_%s", (long)getpid(), name);
    return g_tmp;
}

/* A saved tiny model's bytes. */
static unsigned char *tiny_file(int32_t arch, size_t *n) {
    llm_model *m = tiny_model(arch, 7);
    const char *p = tmp_path("tiny.gguf");
    unsigned char *b;
    assert_int_equal(llm_model_save(m, p), LLM_OK);
    llm_model_free(m);
    b = read_file(p, n);
    unlink(p);
    return b;
}

/* ---------------------------------------------------------------- GGUF */

static void put_le(unsigned char *b, size_t off, uint64_t v, int n);
static size_t find_bytes(const unsigned char *b, size_t n, const char *s);

static void test_gguf_roundtrip(void **state) {
    llm__gguf_wkv kv[6];
    llm__gguf_wtensor t[2];
    const char *strs[3] = {"a", "", "x y"};
    size_t lens[3] = {1, 0, 3};
    int32_t ints[4] = {-1, 0, 7, INT32_MIN};
    float w[2 * 3] = {1.5f, -0.0f, 3.25f, 1e-40f, INFINITY, -2.0f};
    float b[3] = {0.1f, 0.2f, 0.3f};
    llm__mem mem;
    llm__gguf g;
    const llm__gguf_tensor *gt;
    unsigned char *buf;
    size_t n, pos = 0, len;
    const char *s;
    uint32_t u;
    float f;
    int bo;
    (void)state;
    memset(kv, 0, sizeof kv);
    kv[0].key = "general.architecture"; kv[0].type = LLM__GGUF_STRING; kv[0].str = "gpt2"; kv[0].str_len = 4;
    kv[1].key = "u32"; kv[1].type = LLM__GGUF_U32; kv[1].u = 4000000000u;
    kv[2].key = "f32"; kv[2].type = LLM__GGUF_F32; kv[2].f = 0.1f;
    kv[3].key = "flag"; kv[3].type = LLM__GGUF_BOOL; kv[3].u = 1;
    kv[4].key = "strs"; kv[4].type = LLM__GGUF_ARRAY; kv[4].arr_type = LLM__GGUF_STRING;
    kv[4].n = 3; kv[4].strs = strs; kv[4].str_lens = lens;
    kv[5].key = "ints"; kv[5].type = LLM__GGUF_ARRAY; kv[5].arr_type = LLM__GGUF_I32;
    kv[5].n = 4; kv[5].arr = ints;
    memset(t, 0, sizeof t);
    t[0].name = "w"; t[0].n_dims = 2; t[0].ne[0] = 3; t[0].ne[1] = 2; t[0].type = LLM__GGML_F32; t[0].data = w;
    t[1].name = "b"; t[1].n_dims = 1; t[1].ne[0] = 3; t[1].ne[1] = 1; t[1].type = LLM__GGML_F32; t[1].data = b;
    assert_int_equal(llm__gguf_write(tmp_path("rt.gguf"), kv, 6, t, 2, 64, NULL), LLM_OK);
    buf = read_file(tmp_path("rt.gguf"), &n);
    unlink(tmp_path("rt.gguf"));
    llm__mem_init(&mem, NULL, NULL);
    assert_int_equal(llm__gguf_parse(&g, buf, n, "rt.gguf", &mem, NULL), LLM_OK);
    assert_int_equal(g.alignment, 64);
    assert_int_equal(g.n_kv, 7); /* + general.alignment */
    assert_int_equal(llm__gguf_get_u32(&g, "u32", &u, "rt", NULL), LLM_OK);
    assert_int_equal(u, 4000000000u);
    assert_int_equal(llm__gguf_get_f32(&g, "f32", &f, "rt", NULL), LLM_OK);
    assert_true(f == 0.1f);
    assert_int_equal(llm__gguf_get_bool(&g, "flag", &bo, "rt", NULL), LLM_OK);
    assert_int_equal(bo, 1);
    assert_int_equal(llm__gguf_get_str(&g, "general.architecture", &s, &len, "rt", NULL), LLM_OK);
    assert_int_equal(len, 4);
    assert_memory_equal(s, "gpt2", 4);
    assert_int_equal(llm__gguf_get_u32(&g, "missing", &u, "rt", NULL), LLM_ERR_NOT_FOUND);
    assert_int_equal(llm__gguf_get_u32(&g, "f32", &u, "rt", NULL), LLM_ERR_BAD_FILE);
    {
        const llm__gguf_kv *k = llm__gguf_find_kv(&g, "strs");
        size_t i;
        assert_non_null(k);
        assert_int_equal(k->n, 3);
        for (i = 0; i < 3; i++) {
            llm__gguf_arr_str_next(k, &pos, &s, &len);
            assert_int_equal(len, lens[i]);
            assert_memory_equal(s, strs[i], len);
        }
        k = llm__gguf_find_kv(&g, "ints");
        assert_non_null(k);
        assert_memory_equal(k->value, ints, sizeof ints);
    }
    gt = llm__gguf_find_tensor(&g, "w");
    assert_non_null(gt);
    assert_int_equal(gt->ne[0], 3);
    assert_int_equal(gt->ne[1], 2);
    assert_int_equal(gt->file_offset % 64, 0);
    assert_memory_equal(gt->data, w, sizeof w); /* bit-exact, incl. -0, denormal, inf */
    gt = llm__gguf_find_tensor(&g, "b");
    assert_non_null(gt);
    assert_int_equal(gt->file_offset % 64, 0);
    assert_memory_equal(gt->data, b, sizeof b);
    llm__gguf_release(&g);
    /* general.alignment must be a UINT32 power of two. */
    {
        size_t at = find_bytes(buf, n, "general.alignment") + 17;
        put_le(buf, at + 4, 48, 4);
        assert_int_equal(llm__gguf_parse(&g, buf, n, "rt.gguf", &mem, NULL), LLM_ERR_BAD_FILE);
        assert_non_null(strstr(llm_last_errmsg(), "power of two"));
        put_le(buf, at + 4, 64, 4);
        put_le(buf, at, LLM__GGUF_I32, 4);
        assert_int_equal(llm__gguf_parse(&g, buf, n, "rt.gguf", &mem, NULL), LLM_ERR_BAD_FILE);
        put_le(buf, at, LLM__GGUF_U32, 4);
        assert_int_equal(llm__gguf_parse(&g, buf, n, "rt.gguf", &mem, NULL), LLM_OK);
        llm__gguf_release(&g);
    }
    free(buf);
}

static void test_gguf_truncations(void **state) {
    int32_t archs[2] = {LLM_ARCH_GPT2, LLM_ARCH_LLAMA};
    int a;
    (void)state;
    for (a = 0; a < 2; a++) {
        size_t n, cut;
        unsigned char *b = tiny_file(archs[a], &n);
        llm_model *m = NULL;
        assert_int_equal(llm_model_load_mem(&m, b, n, NULL), LLM_OK);
        llm_model_free(m);
        for (cut = 0; cut < n; cut++) {
            /* A fresh copy of exactly `cut` bytes, so reading past it is a
             * heap overflow the sanitizer job would report. */
            unsigned char *p = malloc(cut ? cut : 1);
            int rc;
            memcpy(p, b, cut);
            rc = llm_model_load_mem(&m, p, cut, NULL);
            if (rc != LLM_ERR_BAD_FILE)
                fail_msg("truncation at %zu of %zu: status %d (%s)", cut, n, rc, llm_last_errmsg());
            assert_null(m);
            free(p);
        }
        free(b);
    }
}

/* Overwrites the little-endian integer of n bytes at off. */
static void put_le(unsigned char *b, size_t off, uint64_t v, int n) {
    int i;
    for (i = 0; i < n; i++)
        b[off + i] = (unsigned char)(v >> (8 * i));
}

static int load_bytes(const unsigned char *b, size_t n) {
    llm_model *m = NULL;
    int rc = llm_model_load_mem(&m, b, n, NULL);
    llm_model_free(m);
    return rc;
}

/* Offset of the first occurrence of a byte string. */
static size_t find_bytes(const unsigned char *b, size_t n, const char *s) {
    size_t k = strlen(s), i;
    for (i = 0; i + k <= n; i++)
        if (memcmp(b + i, s, k) == 0)
            return i;
    fail_msg("'%s' not found", s);
    return 0;
}

static void test_gguf_hostile(void **state) {
    size_t n, off;
    unsigned char *b = tiny_file(LLM_ARCH_LLAMA, &n), *c = malloc(n);
    const char *msg;
    (void)state;
#define FRESH() memcpy(c, b, n)
    FRESH(); c[0] = 'X';
    assert_int_equal(load_bytes(c, n), LLM_ERR_BAD_FILE);
    assert_non_null(strstr(llm_last_errmsg(), "magic"));
    FRESH(); put_le(c, 4, 1, 4);
    assert_int_equal(load_bytes(c, n), LLM_ERR_BAD_FILE);
    FRESH(); put_le(c, 4, 0x03000000u, 4);
    assert_int_equal(load_bytes(c, n), LLM_ERR_BAD_FILE);
    assert_non_null(strstr(llm_last_errmsg(), "big-endian"));
    /* Counts that overflow or cannot fit. */
    FRESH(); put_le(c, 8, UINT64_MAX, 8);
    assert_int_equal(load_bytes(c, n), LLM_ERR_BAD_FILE);
    FRESH(); put_le(c, 8, (uint64_t)1 << 60, 8);
    assert_int_equal(load_bytes(c, n), LLM_ERR_BAD_FILE);
    FRESH(); put_le(c, 16, UINT64_MAX / 2, 8);
    assert_int_equal(load_bytes(c, n), LLM_ERR_BAD_FILE);
    msg = llm_last_errmsg();
    assert_non_null(strstr(msg, "<memory>"));
    assert_non_null(strstr(msg, "offset 16"));
    /* First key's length: huge. */
    FRESH(); put_le(c, 24, (uint64_t)1 << 62, 8);
    assert_int_equal(load_bytes(c, n), LLM_ERR_BAD_FILE);
    /* First value type unknown (key "general.architecture" is 20 bytes). */
    FRESH(); put_le(c, 24 + 8 + 20, 13, 4);
    assert_int_equal(load_bytes(c, n), LLM_ERR_BAD_FILE);
    /* Tensor info fields: find the first tensor name, then n_dims etc. */
    off = find_bytes(b, n, "token_embd.weight") + 17;
    FRESH(); put_le(c, off, 5, 4); /* n_dims 5 */
    assert_int_equal(load_bytes(c, n), LLM_ERR_BAD_FILE);
    FRESH(); put_le(c, off + 4, (uint64_t)1 << 63, 8); /* negative ne[0] */
    assert_int_equal(load_bytes(c, n), LLM_ERR_BAD_FILE);
    FRESH(); put_le(c, off + 4, (uint64_t)1 << 40, 8); put_le(c, off + 12, (uint64_t)1 << 40, 8);
    assert_int_equal(load_bytes(c, n), LLM_ERR_BAD_FILE); /* element count overflow / past end */
    FRESH(); put_le(c, off + 20, 4, 4); /* removed type code Q4_2 */
    assert_int_equal(load_bytes(c, n), LLM_ERR_BAD_FILE);
    assert_non_null(strstr(llm_last_errmsg(), "unknown type"));
    FRESH(); put_le(c, off + 20, 8, 4); /* Q8_0 with a row of 16: not a block multiple */
    assert_int_equal(load_bytes(c, n), LLM_ERR_BAD_FILE);
    FRESH(); put_le(c, off + 24, 32, 8); /* offset not the packed one */
    assert_int_equal(load_bytes(c, n), LLM_ERR_BAD_FILE);
    assert_non_null(strstr(llm_last_errmsg(), "token_embd.weight"));
    /* A shape that disagrees with the metadata: claim a wider embedding. */
    FRESH(); put_le(c, off + 4, 17, 8);
    assert_int_equal(load_bytes(c, n), LLM_ERR_BAD_FILE);
    /* Duplicate tensor name: rename the second tensor to the first's. */
    off = find_bytes(b, n, "blk.0.attn_norm.weight");
    FRESH(); memcpy(c + off, "token_embd.weight\0\0\0\0\0", 22);
    put_le(c, off - 8, 17, 8);
    assert_int_equal(load_bytes(c, n - 5), LLM_ERR_BAD_FILE);
    /* A tensor the architecture does not have / one that is missing. */
    off = find_bytes(b, n, "output_norm.weight");
    FRESH(); memcpy(c + off, "output_nerm", 11);
    assert_int_equal(load_bytes(c, n), LLM_ERR_BAD_FILE);
    assert_non_null(strstr(llm_last_errmsg(), "output_nerm.weight"));
    /* Unknown architecture. */
    off = find_bytes(b, n, "llama");
    FRESH(); memcpy(c + off, "lamaX", 5);
    assert_int_equal(load_bytes(c, n), LLM_ERR_UNSUPPORTED);
    /* Random corruption: must never crash; status is whatever it is. */
    {
        uint64_t s = 12345;
        int it;
        for (it = 0; it < 3000; it++) {
            int k, flips;
            FRESH();
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            flips = 1 + (int)((s >> 33) % 4);
            for (k = 0; k < flips; k++) {
                s = s * 6364136223846793005ull + 1442695040888963407ull;
                /* Bias the corruption towards the header and metadata. */
                c[(s >> 33) % (it % 2 ? n : (n < 1200 ? n : 1200))] ^= (unsigned char)(1u << ((s >> 20) % 8));
            }
            (void)load_bytes(c, n);
        }
    }
#undef FRESH
    free(c);
    free(b);
}

/* mmap (zero-copy), NO_MMAP (read into memory) and load_mem (copied)
 * give the same tensors; unknown flags are refused. */
static void test_load_modes(void **state) {
    llm_model *src = tiny_model(LLM_ARCH_GPT2, 21), *a = NULL, *b = NULL, *c = NULL;
    llm_model_opts o;
    const char *p = tmp_path("modes.gguf");
    unsigned char *buf;
    size_t n, i, nt;
    (void)state;
    assert_int_equal(llm_model_save(src, p), LLM_OK);
    assert_int_equal(llm_model_load(&a, p, NULL), LLM_OK);
    LLM_MODEL_OPTS_INIT(&o);
    o.flags = LLM_MODEL_NO_MMAP;
    assert_int_equal(llm_model_load(&b, p, &o), LLM_OK);
    buf = read_file(p, &n);
    assert_int_equal(llm_model_load_mem(&c, buf, n, NULL), LLM_OK);
    memset(buf, 0xff, n); /* the copy must not depend on the caller's buffer */
    free(buf);
    assert_int_equal(llm_model_n_tensors(&nt, src), LLM_OK);
    for (i = 0; i < nt; i++) {
        const char *name;
        const float *d0, *d1, *d2, *d3;
        size_t n0, n1, n2, n3;
        assert_int_equal(llm_model_tensor_name(&name, src, i), LLM_OK);
        assert_int_equal(llm_model_tensor_data(&d0, &n0, src, name), LLM_OK);
        assert_int_equal(llm_model_tensor_data(&d1, &n1, a, name), LLM_OK);
        assert_int_equal(llm_model_tensor_data(&d2, &n2, b, name), LLM_OK);
        assert_int_equal(llm_model_tensor_data(&d3, &n3, c, name), LLM_OK);
        assert_int_equal(n0, n1);
        assert_int_equal(n0, n2);
        assert_int_equal(n0, n3);
        assert_memory_equal(d0, d1, n0 * sizeof(float));
        assert_memory_equal(d0, d2, n0 * sizeof(float));
        assert_memory_equal(d0, d3, n0 * sizeof(float));
    }
    llm_model_free(a);
    llm_model_free(b);
    llm_model_free(c);
    o.flags = 0x80;
    assert_int_equal(llm_model_load(&a, p, &o), LLM_ERR_UNSUPPORTED);
    assert_null(a);
    unlink(p);
    llm_model_free(src);
}

static void test_load_errors(void **state) {
    llm_model *m = (llm_model *)1;
    (void)state;
    assert_int_equal(llm_model_load(&m, "/nonexistent/x.gguf", NULL), LLM_ERR_NOT_FOUND);
    assert_null(m);
    assert_non_null(strstr(llm_last_errmsg(), "/nonexistent/x.gguf"));
    assert_int_equal(llm_model_load(NULL, "x", NULL), LLM_ERR_INVALID);
    assert_int_equal(llm_model_load(&m, NULL, NULL), LLM_ERR_INVALID);
    assert_int_equal(llm_model_load(&m, "/dev/null", NULL), LLM_ERR_IO);
    llm_model_free(NULL);
}

/* ---------------------------------------------------------------- model */

static void test_create_counts(void **state) {
    llm_model_config c;
    llm_model *m = NULL, *m2 = NULL;
    uint64_t np, E = 16, V = 37, T = 16, L = 2, F = 24, Hkv = 2, D = 4;
    const float *d1, *d2;
    size_t n1, n2, i;
    double ss = 0;
    (void)state;
    m = tiny_model(LLM_ARCH_GPT2, 1);
    assert_int_equal(llm_model_n_params(&np, m), LLM_OK);
    /* math.md 5.1: V·E + T·E + L·(12E² + 13E) + 2E */
    assert_int_equal(np, V * E + T * E + L * (12 * E * E + 13 * E) + 2 * E);
    llm_model_free(m);
    m = tiny_model(LLM_ARCH_LLAMA, 1);
    assert_int_equal(llm_model_n_params(&np, m), LLM_OK);
    /* math.md 5.2 (tied): V·E + L·(2E + E·E + 2·E·Hkv·D + E·E + 3·E·F) + E */
    assert_int_equal(np, V * E + L * (2 * E + 2 * E * E + 2 * E * Hkv * D + 3 * E * F) + E);
    c.struct_size = 0;
    assert_int_equal(llm_model_get_config(&c, m), LLM_ERR_INVALID);
    LLM_MODEL_CONFIG_INIT(&c);
    assert_int_equal(llm_model_get_config(&c, m), LLM_OK);
    assert_int_equal(c.arch, LLM_ARCH_LLAMA);
    assert_int_equal(c.n_head_kv, 2);
    assert_true(c.rope_base == 10000.0f);
    /* Same seed, same weights; GPT-2 init statistics. */
    m2 = tiny_model(LLM_ARCH_LLAMA, 1);
    assert_int_equal(llm_model_tensor_data(&d1, &n1, m, "blk.1.ffn_gate.weight"), LLM_OK);
    assert_int_equal(llm_model_tensor_data(&d2, &n2, m2, "blk.1.ffn_gate.weight"), LLM_OK);
    assert_int_equal(n1, F * E);
    assert_memory_equal(d1, d2, n1 * sizeof(float));
    llm_model_free(m2);
    {
        llm_model_config big;
        LLM_MODEL_CONFIG_INIT(&big);
        big.n_vocab = 64; big.n_ctx = 8; big.n_embd = 256; big.n_layer = 8; big.n_head = 4;
        big.n_head_kv = 0; big.n_ff = 0;
        assert_int_equal(llm_model_create(&m2, &big, 3, NULL), LLM_OK);
        assert_int_equal(llm_model_tensor_data(&d1, &n1, m2, "blk.0.ffn_up.weight"), LLM_OK);
        for (i = 0; i < n1; i++)
            ss += (double)d1[i] * d1[i];
        assert_true(fabs(sqrt(ss / n1) - 0.02) < 0.0005);
        ss = 0;
        assert_int_equal(llm_model_tensor_data(&d1, &n1, m2, "blk.3.ffn_down.weight"), LLM_OK);
        for (i = 0; i < n1; i++)
            ss += (double)d1[i] * d1[i];
        assert_true(fabs(sqrt(ss / n1) - 0.02 / 4.0) < 0.0002); /* 1/sqrt(2*8) */
        assert_int_equal(llm_model_tensor_data(&d1, &n1, m2, "blk.0.attn_qkv.bias"), LLM_OK);
        for (i = 0; i < n1; i++)
            assert_true(d1[i] == 0.0f);
        assert_int_equal(llm_model_tensor_data(&d1, &n1, m2, "output_norm.weight"), LLM_OK);
        for (i = 0; i < n1; i++)
            assert_true(d1[i] == 1.0f);
        llm_model_free(m2);
    }
    {
        float buf[4];
        size_t need = 0;
        uint32_t nd;
        uint64_t dims[4];
        const char *name;
        size_t nt;
        assert_int_equal(llm_model_tensor_copy(buf, 4, &need, m, "token_embd.weight"),
                         LLM_ERR_BUFFER_TOO_SMALL);
        assert_int_equal(need, V * E);
        assert_int_equal(llm_model_tensor_shape(&nd, dims, m, "blk.0.attn_k.weight"), LLM_OK);
        assert_int_equal(nd, 2);
        assert_int_equal(dims[0], Hkv * D);
        assert_int_equal(dims[1], E);
        assert_int_equal(llm_model_tensor_shape(&nd, dims, m, "nope"), LLM_ERR_NOT_FOUND);
        assert_non_null(strstr(llm_errmsg(m), "nope"));
        assert_int_equal(llm_model_n_tensors(&nt, m), LLM_OK);
        assert_int_equal(llm_model_tensor_name(&name, m, 0), LLM_OK);
        assert_string_equal(name, "token_embd.weight");
        assert_int_equal(llm_model_tensor_name(&name, m, nt), LLM_ERR_RANGE);
        assert_null(llm_model_tokenizer(m));
    }
    llm_model_free(m);
    /* A config far too large is refused at once (no walk over 2^31 layers). */
    LLM_MODEL_CONFIG_INIT(&c);
    c.n_layer = 0x7fffffff;
    assert_int_equal(llm_model_create(&m, &c, 0, NULL), LLM_ERR_NOMEM);
    assert_null(m);
    /* Bad configs are refused with the field named. */
    LLM_MODEL_CONFIG_INIT(&c);
    c.n_head = 5;
    assert_int_equal(llm_model_create(&m, &c, 0, NULL), LLM_ERR_INVALID);
    assert_null(m);
    assert_non_null(strstr(llm_last_errmsg(), "n_head"));
}

/* ---------------------------------------------------------------- kernels */

/* Attention: the BLAS form against the naive loops on random data, with
 * GQA (8 query heads over 2 KV heads) at several positions. */
static void test_attention_vs_naive(void **state) {
    enum { NH = 8, NKV = 2, D = 16, P = 37, S = NKV * D + 3 };
    static float q[NH * D], k[P * S], v[P * S], o1[NH * D], o2[NH * D], sc[P];
    size_t i, pos;
    uint64_t s = 5;
    (void)state;
    for (i = 0; i < NH * D; i++)
        q[i] = (float)((s = s * 6364136223846793005ull + 1) >> 40) / (float)(1 << 22) - 2.0f;
    for (i = 0; i < P * S; i++) {
        k[i] = (float)((s = s * 6364136223846793005ull + 1) >> 40) / (float)(1 << 22) - 2.0f;
        v[i] = (float)((s = s * 6364136223846793005ull + 1) >> 40) / (float)(1 << 24) - 0.5f;
    }
    for (pos = 0; pos < P; pos += 6) {
        llm__ops_attention(o1, q, k, v, S, pos, NH, NKV, D, 0, NH, sc);
        llm__ops_attention_naive(o2, q, k, v, S, pos, NH, NKV, D, 0, NH, sc);
        for (i = 0; i < NH * D; i++)
            assert_true(fabsf(o1[i] - o2[i]) < 1e-5f);
    }
}

static void test_kernels(void **state) {
    enum { M = 7, K = 33, N = 19 };
    float x[M * K], w[N * K], b[N], y1[M * N], y2[M * N];
    size_t i;
    uint64_t s = 99;
    (void)state;
    for (i = 0; i < M * K; i++)
        x[i] = (float)((s = s * 6364136223846793005ull + 1) >> 40) / (float)(1 << 24) - 0.5f;
    for (i = 0; i < N * K; i++)
        w[i] = (float)((s = s * 6364136223846793005ull + 1) >> 40) / (float)(1 << 24) - 0.5f;
    for (i = 0; i < N; i++)
        b[i] = (float)i * 0.1f;
    for (i = 0; i < M * N; i++)
        y1[i] = y2[i] = 1.0f;
    llm__ops_matmul(NULL, y1, x, w, b, M, K, N, 1);
    llm__ops_matmul_naive(y2, x, w, b, M, K, N, 1);
    for (i = 0; i < M * N; i++)
        assert_true(fabsf(y1[i] - y2[i]) < 1e-5f);
    llm__ops_matmul(NULL, y1, x, w, NULL, M, K, N, 0);
    llm__ops_matmul_naive(y2, x, w, NULL, M, K, N, 0);
    for (i = 0; i < M * N; i++)
        assert_true(fabsf(y1[i] - y2[i]) < 1e-5f);
    {
        /* LayerNorm of (1,2,3,4): mean 2.5, var 1.25. */
        float v[4] = {1, 2, 3, 4}, g[4] = {1, 1, 2, 1}, bb[4] = {0, 0, 0, 1}, out[4];
        float r = 1.0f / sqrtf(1.25f + 1e-5f);
        llm__ops_layernorm(out, v, g, bb, 1, 4, 1e-5f);
        assert_true(fabsf(out[0] - (-1.5f * r)) < 1e-6f);
        assert_true(fabsf(out[2] - (2 * 0.5f * r)) < 1e-6f);
        assert_true(fabsf(out[3] - (1.5f * r + 1)) < 1e-6f);
        /* RMSNorm: mean square 7.5. */
        llm__ops_rmsnorm(out, v, g, 1, 4, 0.0f);
        assert_true(fabsf(out[1] - 2 / sqrtf(7.5f)) < 1e-6f);
        assert_true(fabsf(out[2] - 6 / sqrtf(7.5f)) < 1e-6f);
    }
    {
        /* GELU tanh at hand-computed points; SiLU·up. */
        float v[3] = {0.0f, 1.0f, -2.0f}, up[3] = {1, 2, 3};
        llm__ops_gelu(v, 3);
        assert_true(fabsf(v[0]) < 1e-7f);
        assert_true(fabsf(v[1] - 0.8411920f) < 1e-6f);
        assert_true(fabsf(v[2] - (-0.0454023f)) < 1e-6f);
        {
            /* The sigmoid form against the tanh form over a wide range,
             * including values where exp overflows. */
            static float a[4001], b2[4001];
            size_t k;
            for (k = 0; k < 4001; k++)
                a[k] = b2[k] = -100.0f + 0.05f * (float)k;
            llm__ops_gelu(a, 4001);
            llm__ops_gelu_naive(b2, 4001);
            for (k = 0; k < 4001; k++)
                assert_true(fabsf(a[k] - b2[k]) <= 2e-6f * (1.0f + fabsf(b2[k])));
        }
        v[0] = 0.0f; v[1] = 1.0f; v[2] = -2.0f;
        llm__ops_swiglu(v, up, 3);
        assert_true(fabsf(v[1] - 2 * 0.7310586f) < 1e-6f);
        assert_true(fabsf(v[2] - 3 * (-0.2384058f)) < 1e-6f);
    }
    {
        /* RoPE: rotating a pair by pos·ω, and a rotation keeps the norm. */
        float v[4] = {1, 0, 0, 1}, inv[2] = {1.0f, 0.01f};
        llm__ops_rope(v, 1, 4, 3, inv);
        assert_true(fabsf(v[0] - cosf(3.0f)) < 1e-6f);
        assert_true(fabsf(v[1] - sinf(3.0f)) < 1e-6f);
        assert_true(fabsf(v[2] - (-sinf(0.03f))) < 1e-6f);
        assert_true(fabsf(v[3] - cosf(0.03f)) < 1e-6f);
    }
    {
        /* Attention with one key returns that value; GQA head mapping. */
        float q[4 * 2] = {1, 2, 3, 4, 5, 6, 7, 8}, k[2 * 2] = {1, 1, 1, 1}, v[2 * 2] = {9, 8, 7, 6};
        float out[8], sc[1];
        llm__ops_attention(out, q, k, v, 4, 0, 4, 2, 2, 0, 4, sc);
        assert_true(out[0] == 9 && out[1] == 8 && out[2] == 9 && out[3] == 8);
        assert_true(out[4] == 7 && out[5] == 6 && out[6] == 7 && out[7] == 6);
    }
}

/* ---------------------------------------------------------------- loss */

static void test_loss_edges(void **state) {
    enum { V = 1000, R = 3 };
    static float z[R * V];
    llm_token t[R] = {0, 999, 500};
    float lp[R];
    double loss;
    size_t i;
    (void)state;
    /* Uniform logits: loss = ln V for any constant. */
    for (i = 0; i < R * V; i++)
        z[i] = i < V ? 0.0f : (i < 2 * V ? 1e30f : -1e30f);
    assert_int_equal(llm_cross_entropy(&loss, lp, z, t, R, V), LLM_OK);
    assert_true(fabs(loss - log(1000.0)) < 1e-9);
    for (i = 0; i < R; i++)
        assert_true(fabs(lp[i] + log(1000.0)) < 1e-5);
    /* Extreme logits: huge gaps, -inf entries; finite, no NaN. */
    for (i = 0; i < R * V; i++)
        z[i] = -INFINITY;
    z[0] = 3e38f;        /* row 0: target has all the mass */
    z[V + 999] = -3e38f; /* row 1: target far below the rest */
    z[V + 3] = 3e38f;
    z[2 * V + 500] = 1e30f;
    z[2 * V + 501] = 1e30f;
    assert_int_equal(llm_cross_entropy(&loss, lp, z, t, R, V), LLM_OK);
    assert_true(isfinite(lp[0]) && lp[0] == 0.0f);
    assert_true(lp[1] < -1e38f); /* -6e38 nats: beyond float, the double loss stays finite */
    assert_true(fabs(lp[2] + log(2.0)) < 1e-6);
    assert_true(isfinite(loss));
    /* Ignored targets; all ignored gives NaN; out of range refused. */
    t[1] = -100;
    assert_int_equal(llm_cross_entropy(&loss, lp, z, t, R, V), LLM_OK);
    assert_true(fabs(loss - log(2.0) / 2) < 1e-6);
    assert_true(lp[1] == 0.0f);
    t[0] = t[1] = t[2] = -1;
    assert_int_equal(llm_cross_entropy(&loss, NULL, z, t, R, V), LLM_OK);
    assert_true(isnan(loss));
    t[0] = V;
    assert_int_equal(llm_cross_entropy(&loss, NULL, z, t, R, V), LLM_ERR_RANGE);
    assert_int_equal(llm_cross_entropy(NULL, NULL, z, t, R, V), LLM_ERR_INVALID);
}

/* ---------------------------------------------------------------- ctx */

static int stop_at_first(void *ud, const llm_progress *p) {
    (void)p;
    return ++*(int *)ud >= 1;
}

static void test_ctx_args(void **state) {
    llm_model *m = tiny_model(LLM_ARCH_LLAMA, 5);
    llm_ctx *c = NULL;
    llm_ctx_opts o;
    llm_token toks[20] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
    float logits[37 * 20];
    const float *lg, *lg2;
    float first[37];
    size_t need = 0, est = 0, np;
    double nll;
    uint64_t npred;
    int calls = 0;
    (void)state;
    LLM_CTX_OPTS_INIT(&o);
    o.n_ctx = 8;
    o.n_batch = 4;
    assert_int_equal(llm_ctx_estimate_bytes(&est, m, &o), LLM_OK);
    assert_true(est > 2 * 2 * 8 * 8 * sizeof(float));
    assert_int_equal(llm_ctx_create(&c, m, &o), LLM_OK);
    assert_int_equal(llm_ctx_forward(logits, 37, &need, c, toks, 1, 2, 0), LLM_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(need, 74);
    assert_int_equal(llm_ctx_forward(logits, 37 * 20, NULL, c, toks, 1, 5, 0), LLM_ERR_RANGE);
    assert_int_equal(llm_ctx_forward(logits, 37 * 20, NULL, c, toks, 3, 2, 0), LLM_ERR_RANGE);
    toks[1] = 37;
    assert_int_equal(llm_ctx_forward(logits, 37 * 20, NULL, c, toks, 1, 2, 0), LLM_ERR_RANGE);
    assert_non_null(strstr(llm_errmsg(c), "position 1"));
    toks[1] = -1;
    assert_int_equal(llm_ctx_decode(&lg, c, toks, 2), LLM_ERR_RANGE);
    toks[1] = 2;
    assert_int_equal(llm_ctx_logits(&lg, c), LLM_ERR_STATE);
    /* Decode 6 tokens in chunks of n_batch 4, then past n_ctx. */
    assert_int_equal(llm_ctx_decode(&lg, c, toks, 6), LLM_OK);
    memcpy(first, lg, sizeof first);
    assert_int_equal(llm_ctx_n_past(&np, c), LLM_OK);
    assert_int_equal(np, 6);
    assert_int_equal(llm_ctx_decode(&lg, c, toks, 3), LLM_ERR_RANGE);
    assert_int_equal(llm_ctx_n_past(&np, c), LLM_OK);
    assert_int_equal(np, 6);
    /* Interrupt: the next call stops, the cache stays at 6, then works. */
    llm_ctx_interrupt(c);
    assert_int_equal(llm_ctx_decode(&lg, c, toks + 6, 1), LLM_ERR_CANCELLED);
    assert_int_equal(llm_ctx_n_past(&np, c), LLM_OK);
    assert_int_equal(np, 6);
    assert_int_equal(llm_ctx_truncate(c, 7), LLM_ERR_RANGE);
    assert_int_equal(llm_ctx_truncate(c, 5), LLM_OK);
    assert_int_equal(llm_ctx_decode(&lg2, c, toks + 5, 1), LLM_OK);
    /* Same 6 tokens, same logits (up to rounding: the first run processed
     * token 5 in a chunk of 2 rows, sgemm; this one alone, sgemv). */
    for (need = 0; need < 37; need++)
        assert_true(fabsf(lg2[need] - first[need]) <= 1e-5f * (1.0f + fabsf(first[need])));
    assert_int_equal(llm_ctx_logits(&lg, c), LLM_OK);
    assert_ptr_equal(lg, lg2);
    /* Eval of 1 token predicts nothing; window beyond n_batch refused. */
    assert_int_equal(llm_ctx_eval(&nll, &npred, c, toks, 1, 0, 0), LLM_OK);
    assert_int_equal(npred, 0);
    assert_int_equal(llm_ctx_eval(&nll, &npred, c, toks, 10, 8, 0), LLM_ERR_RANGE);
    assert_int_equal(llm_ctx_eval(&nll, &npred, c, toks, 10, 4, 5), LLM_ERR_INVALID);
    assert_int_equal(llm_ctx_eval(&nll, &npred, c, toks, 10, 4, 0), LLM_OK);
    assert_int_equal(npred, 9);
    llm_ctx_free(c);
    /* Progress callback cancelling an eval. */
    o.progress = stop_at_first;
    o.progress_ud = &calls;
    assert_int_equal(llm_ctx_create(&c, m, &o), LLM_OK);
    assert_int_equal(llm_ctx_eval(&nll, &npred, c, toks, 20, 4, 0), LLM_ERR_CANCELLED);
    llm_ctx_free(c);
    /* gpt2 cannot exceed its learned positions. */
    llm_model_free(m);
    m = tiny_model(LLM_ARCH_GPT2, 5);
    o.n_ctx = 17;
    assert_int_equal(llm_ctx_create(&c, m, &o), LLM_ERR_RANGE);
    assert_null(c);
    assert_int_equal(llm_ctx_create(&c, NULL, NULL), LLM_ERR_INVALID);
    llm_ctx_free(NULL);
    llm_ctx_interrupt(NULL);
    llm_model_free(m);
}

/* Threads: a 2-thread context gives the same logits as a 1-thread one. */
static void test_ctx_threads(void **state) {
    llm_model_config cfg;
    llm_model *m = NULL;
    llm_ctx *c1 = NULL, *c2 = NULL;
    llm_ctx_opts o;
    llm_token toks[64];
    static float a[2 * 32 * 300], b[2 * 32 * 300];
    size_t i;
    (void)state;
    LLM_MODEL_CONFIG_INIT(&cfg);
    cfg.arch = LLM_ARCH_LLAMA;
    cfg.n_vocab = 300; cfg.n_ctx = 64; cfg.n_embd = 128; cfg.n_layer = 2; cfg.n_head = 4;
    cfg.n_head_kv = 2; cfg.n_ff = 256;
    assert_int_equal(llm_model_create(&m, &cfg, 11, NULL), LLM_OK);
    for (i = 0; i < 64; i++)
        toks[i] = (llm_token)((i * 37) % 300);
    LLM_CTX_OPTS_INIT(&o);
    assert_int_equal(llm_ctx_create(&c1, m, &o), LLM_OK);
    o.n_threads = 2;
    assert_int_equal(llm_ctx_create(&c2, m, &o), LLM_OK);
    assert_int_equal(llm_ctx_forward(a, sizeof a / 4, NULL, c1, toks, 2, 32, 0), LLM_OK);
    assert_int_equal(llm_ctx_forward(b, sizeof b / 4, NULL, c2, toks, 2, 32, 0), LLM_OK);
    assert_memory_equal(a, b, sizeof a);
    /* Decoding (matrix-vector products split by rows) too. */
    for (i = 0; i < 6; i++) {
        const float *l1, *l2;
        assert_int_equal(llm_ctx_decode(&l1, c1, toks + i, 1), LLM_OK);
        assert_int_equal(llm_ctx_decode(&l2, c2, toks + i, 1), LLM_OK);
        assert_memory_equal(l1, l2, 300 * sizeof(float));
    }
    llm_ctx_free(c1);
    llm_ctx_free(c2);
    llm_model_free(m);
}

/* Counting allocator: decoding must not allocate after llm_ctx_create. */
static long g_allocs;

static void *counting_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    g_allocs++;
    return realloc(ptr, nsize);
}

static void test_decode_no_alloc(void **state) {
    llm_model *m = tiny_model(LLM_ARCH_LLAMA, 3);
    llm_ctx *c = NULL;
    llm_ctx_opts o;
    llm_token t = 5;
    const float *lg;
    double loss;
    llm_token in[4] = {1, 2, 3, 4}, tg[4] = {2, 3, 4, 5};
    long before;
    int i;
    (void)state;
    LLM_CTX_OPTS_INIT(&o);
    o.alloc = counting_alloc;
    o.n_threads = 2;
    assert_int_equal(llm_ctx_create(&c, m, &o), LLM_OK);
    before = g_allocs;
    assert_true(before > 0);
    for (i = 0; i < 12; i++)
        assert_int_equal(llm_ctx_decode(&lg, c, &t, 1), LLM_OK);
    assert_int_equal(llm_ctx_truncate(c, 3), LLM_OK);
    assert_int_equal(llm_ctx_decode(&lg, c, in, 4), LLM_OK);
    assert_int_equal(llm_ctx_loss(&loss, NULL, c, in, tg, 1, 4), LLM_OK);
    assert_int_equal(g_allocs, before);
    llm_ctx_free(c);
    llm_model_free(m);
}

/* One model, two contexts computing in two threads at once (decode, and
 * batched forwards whose products go through OpenBLAS sgemm): the same
 * logits as one after the other. This also guards the BLAS lock: the
 * serial OpenBLAS corrupts concurrent sgemms without it. */
enum { SH_V = 300, SH_T = 48 };
typedef struct dec_job {
    const llm_model *m;
    float out[SH_V];
    float fwd[2 * SH_T * SH_V];
    int rc, mismatches;
} dec_job;

static void *dec_thread(void *arg) {
    dec_job *j = arg;
    llm_ctx *c = NULL;
    llm_token toks[2 * SH_T];
    const float *lg = NULL;
    int i, rep;
    llm_ctx_opts o;
    for (i = 0; i < 2 * SH_T; i++)
        toks[i] = (llm_token)((i * 53 + 7) % SH_V);
    LLM_CTX_OPTS_INIT(&o);
    o.n_batch = 2 * SH_T;
    j->rc = llm_ctx_create(&c, j->m, &o);
    for (i = 0; j->rc == LLM_OK && i < 10; i++)
        j->rc = llm_ctx_decode(&lg, c, toks + i, 1);
    if (j->rc == LLM_OK)
        memcpy(j->out, lg, sizeof j->out);
    if (j->rc == LLM_OK)
        j->rc = llm_ctx_forward(j->fwd, 2 * SH_T * SH_V, NULL, c, toks, 2, SH_T, 0);
    for (rep = 0; j->rc == LLM_OK && rep < 15; rep++) {
        static __thread float tmp[2 * SH_T * SH_V];
        j->rc = llm_ctx_forward(tmp, 2 * SH_T * SH_V, NULL, c, toks, 2, SH_T, 0);
        if (memcmp(tmp, j->fwd, sizeof tmp) != 0)
            j->mismatches++;
    }
    llm_ctx_free(c);
    return NULL;
}

static void test_model_shared_by_threads(void **state) {
    llm_model_config cfg;
    llm_model *m = NULL;
    static dec_job a, b, ref;
    pthread_t ta, tb;
    (void)state;
    LLM_MODEL_CONFIG_INIT(&cfg);
    cfg.n_vocab = SH_V; cfg.n_ctx = SH_T; cfg.n_embd = 128; cfg.n_layer = 2; cfg.n_head = 4;
    cfg.n_head_kv = 0; cfg.n_ff = 0;
    assert_int_equal(llm_model_create(&m, &cfg, 8, NULL), LLM_OK);
    a.m = b.m = ref.m = m;
    dec_thread(&ref);
    assert_int_equal(ref.rc, LLM_OK);
    assert_int_equal(pthread_create(&ta, NULL, dec_thread, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, dec_thread, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(a.rc, LLM_OK);
    assert_int_equal(b.rc, LLM_OK);
    assert_int_equal(ref.mismatches, 0);
    assert_int_equal(a.mismatches, 0);
    assert_int_equal(b.mismatches, 0);
    assert_memory_equal(a.out, ref.out, sizeof a.out);
    assert_memory_equal(b.out, ref.out, sizeof b.out);
    assert_memory_equal(a.fwd, ref.fwd, sizeof a.fwd);
    assert_memory_equal(b.fwd, ref.fwd, sizeof b.fwd);
    llm_model_free(m);
}

/* llm__ops_matmul from two threads at once on products of many shapes
 * must give the single-threaded bits: the serial OpenBLAS corrupts
 * concurrent sgemms unless the BLAS lock serialises them. */
enum { MT_SHAPES = 40, MT_CALLS = 20000 };
static int mt_M[MT_SHAPES], mt_N[MT_SHAPES], mt_K[MT_SHAPES];
static float *mt_x[MT_SHAPES], *mt_w[MT_SHAPES], *mt_ref[MT_SHAPES];

static void *mt_thread(void *arg) {
    unsigned s = (unsigned)(size_t)arg;
    float *y = malloc(sizeof(float) * 64 * 300);
    long bad = 0;
    int it;
    for (it = 0; it < MT_CALLS; it++) {
        int c = (int)((s = s * 1103515245u + 12345u) >> 8) % MT_SHAPES;
        llm__ops_matmul(NULL, y, mt_x[c], mt_w[c], NULL, (size_t)mt_M[c], (size_t)mt_K[c],
                        (size_t)mt_N[c], 0);
        if (memcmp(y, mt_ref[c], sizeof(float) * (size_t)(mt_M[c] * mt_N[c])) != 0)
            bad++;
    }
    free(y);
    return (void *)bad;
}

static void test_matmul_concurrent(void **state) {
    pthread_t t[2];
    void *r0, *r1;
    int c, i;
    unsigned s = 3;
    (void)state;
    for (c = 0; c < MT_SHAPES; c++) {
        mt_M[c] = 2 + (int)((s = s * 1103515245u + 12345u) >> 8) % 62;
        mt_N[c] = 1 + (int)((s = s * 1103515245u + 12345u) >> 8) % 300;
        mt_K[c] = 8 + (int)((s = s * 1103515245u + 12345u) >> 8) % 250;
        mt_x[c] = malloc(sizeof(float) * (size_t)(mt_M[c] * mt_K[c]));
        mt_w[c] = malloc(sizeof(float) * (size_t)(mt_N[c] * mt_K[c]));
        mt_ref[c] = malloc(sizeof(float) * (size_t)(mt_M[c] * mt_N[c]));
        for (i = 0; i < mt_M[c] * mt_K[c]; i++)
            mt_x[c][i] = (float)((s = s * 1103515245u + 12345u) >> 8) / 16777216.0f - 0.5f;
        for (i = 0; i < mt_N[c] * mt_K[c]; i++)
            mt_w[c][i] = (float)((s = s * 1103515245u + 12345u) >> 8) / 16777216.0f - 0.5f;
        llm__ops_matmul(NULL, mt_ref[c], mt_x[c], mt_w[c], NULL, (size_t)mt_M[c],
                        (size_t)mt_K[c], (size_t)mt_N[c], 0);
    }
    assert_int_equal(pthread_create(&t[0], NULL, mt_thread, (void *)(size_t)7), 0);
    assert_int_equal(pthread_create(&t[1], NULL, mt_thread, (void *)(size_t)11), 0);
    pthread_join(t[0], &r0);
    pthread_join(t[1], &r1);
    assert_int_equal((long)r0, 0);
    assert_int_equal((long)r1, 0);
    for (c = 0; c < MT_SHAPES; c++) {
        free(mt_x[c]);
        free(mt_w[c]);
        free(mt_ref[c]);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gguf_roundtrip),
        cmocka_unit_test(test_gguf_truncations),
        cmocka_unit_test(test_gguf_hostile),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_load_modes),
        cmocka_unit_test(test_create_counts),
        cmocka_unit_test(test_kernels),
        cmocka_unit_test(test_attention_vs_naive),
        cmocka_unit_test(test_loss_edges),
        cmocka_unit_test(test_ctx_args),
        cmocka_unit_test(test_ctx_threads),
        cmocka_unit_test(test_decode_no_alloc),
        cmocka_unit_test(test_model_shared_by_threads),
        cmocka_unit_test(test_matmul_concurrent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
