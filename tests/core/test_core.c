/*
 * test_core.c - version, status codes, error messages, option structs,
 * allocator and log hooks, model config validation.
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

#include "llm.h"
#include "llm_core.h"

static void test_version(void **state) {
    (void)state;
    assert_int_equal(llm_version_number(), LLM_VERSION_NUMBER);
    assert_string_equal(llm_version_string(), LLM_VERSION_STRING);
    assert_int_equal(LLM_VERSION_NUMBER,
                     LLM_VERSION_MAJOR * 10000 + LLM_VERSION_MINOR * 100 + LLM_VERSION_PATCH);
    /* "M.m.p" spelled from the numeric macros */
    {
        char buf[32];
        snprintf(buf, sizeof buf, "%d.%d.%d", LLM_VERSION_MAJOR, LLM_VERSION_MINOR,
                 LLM_VERSION_PATCH);
        assert_string_equal(buf, llm_version_string());
    }
}

static void test_abi_check(void **state) {
    (void)state;
    assert_int_equal(llm_abi_check(LLM_VERSION_NUMBER, sizeof(llm_model_opts)), LLM_OK);
    /* an older minor of the same major with a smaller opts struct is fine */
    assert_int_equal(llm_abi_check(LLM_VERSION_MAJOR * 10000, sizeof(uint32_t)), LLM_OK);
    /* another major */
    assert_int_equal(llm_abi_check((LLM_VERSION_MAJOR + 1) * 10000, sizeof(llm_model_opts)),
                     LLM_ERR_ABI);
    assert_non_null(strstr(llm_last_errmsg(), "major"));
    /* a caller newer than the library */
    assert_int_equal(llm_abi_check(LLM_VERSION_NUMBER + 1, sizeof(llm_model_opts)), LLM_ERR_ABI);
    /* a caller whose struct is larger than ours */
    assert_int_equal(llm_abi_check(LLM_VERSION_NUMBER, sizeof(llm_model_opts) + 8), LLM_ERR_ABI);
    assert_int_equal(llm_abi_check(LLM_VERSION_NUMBER, 0), LLM_ERR_ABI);
}

static void test_status_str(void **state) {
    /* each code has its own name, which starts with the macro's name */
    static const struct { int code; const char *name; } codes[] = {
        {LLM_OK, "LLM_OK"}, {LLM_AGAIN, "LLM_AGAIN"}, {LLM_DONE, "LLM_DONE"},
        {LLM_ERR_INVALID, "LLM_ERR_INVALID"}, {LLM_ERR_IO, "LLM_ERR_IO"},
        {LLM_ERR_BAD_FILE, "LLM_ERR_BAD_FILE"}, {LLM_ERR_UNSUPPORTED, "LLM_ERR_UNSUPPORTED"},
        {LLM_ERR_NOMEM, "LLM_ERR_NOMEM"}, {LLM_ERR_RANGE, "LLM_ERR_RANGE"},
        {LLM_ERR_BUFFER_TOO_SMALL, "LLM_ERR_BUFFER_TOO_SMALL"},
        {LLM_ERR_CANCELLED, "LLM_ERR_CANCELLED"}, {LLM_ERR_INTERNAL, "LLM_ERR_INTERNAL"},
        {LLM_ERR_STATE, "LLM_ERR_STATE"}, {LLM_ERR_ABI, "LLM_ERR_ABI"},
        {LLM_ERR_NOT_FOUND, "LLM_ERR_NOT_FOUND"},
        {LLM_ERR_NO_CONVERGENCE, "LLM_ERR_NO_CONVERGENCE"},
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *s = llm_status_str(codes[i].code);
        size_t n = strlen(codes[i].name);
        assert_non_null(s);
        assert_memory_equal(s, codes[i].name, n);
        assert_int_equal(s[n], ':');
    }
    /* frozen values: a change here breaks every binding */
    assert_int_equal(LLM_ERR_INVALID, -1);
    assert_int_equal(LLM_ERR_BAD_FILE, -3);
    assert_int_equal(LLM_ERR_NOMEM, -5);
    assert_int_equal(LLM_ERR_BUFFER_TOO_SMALL, -7);
    assert_int_equal(LLM_ERR_CANCELLED, -8);
    assert_int_equal(LLM_ERR_NO_CONVERGENCE, -13);
    assert_string_equal(llm_status_str(-9999), "unknown status");
    assert_string_equal(llm_status_str(42), "unknown status");
}

/* The thread-local message of one thread is not seen by another. */
static void *other_thread(void *arg) {
    char *out = arg;
    strcpy(out, llm_last_errmsg()); /* empty: nothing failed on this thread */
    llm_model_opts_init(NULL, 0);  /* fails here only */
    return NULL;
}

static void test_errmsg_thread_local(void **state) {
    pthread_t t;
    char seen[LLM__ERRMSG_MAX] = "unset";
    (void)state;
    assert_int_equal(llm__err(NULL, LLM_ERR_IO, "main thread %d", 7), LLM_ERR_IO);
    assert_string_equal(llm_last_errmsg(), "main thread 7");
    assert_string_equal(llm_errmsg(NULL), "main thread 7");
    assert_int_equal(pthread_create(&t, NULL, other_thread, seen), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_string_equal(seen, "");
    assert_string_equal(llm_last_errmsg(), "main thread 7");
}

static void test_errmsg_handle(void **state) {
    llm__obj *o;
    uint32_t junk[4] = {1, 2, 3, 4};
    (void)state;
    o = llm__obj_new(sizeof *o, LLM__MAGIC_MODEL, NULL, NULL);
    assert_non_null(o);
    assert_string_equal(llm_errmsg(o), "");
    assert_int_equal(llm__err(o, LLM_ERR_BAD_FILE, "%s: offset %d: bad magic", "x.gguf", 0),
                     LLM_ERR_BAD_FILE);
    assert_string_equal(llm_errmsg(o), "x.gguf: offset 0: bad magic");
    assert_string_equal(llm_last_errmsg(), "x.gguf: offset 0: bad magic");
    /* a long message is cut, never overflowing */
    {
        char big[2000];
        memset(big, 'a', sizeof big - 1);
        big[sizeof big - 1] = 0;
        llm__err(o, LLM_ERR_INVALID, "%s", big);
        assert_int_equal(strlen(llm_errmsg(o)), LLM__ERRMSG_MAX - 1);
    }
    assert_string_equal(llm_errmsg(junk), "llm_errmsg: not a libllm handle");
    llm__obj_delete(o, sizeof *o);
    llm__obj_delete(NULL, 0);
}

/* ---- allocator hook ---- */

typedef struct counting {
    size_t live_bytes;
    size_t calls;
    int fail_after; /* fail the n-th allocation; -1 never */
} counting;

static void *counting_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    counting *c = ud;
    c->calls++;
    if (nsize == 0) {
        if (ptr)
            c->live_bytes -= osize;
        free(ptr);
        return NULL;
    }
    if (c->fail_after == 0)
        return NULL;
    if (c->fail_after > 0)
        c->fail_after--;
    ptr = realloc(ptr, nsize);
    if (ptr)
        c->live_bytes += nsize - osize;
    return ptr;
}

static void test_allocator_hooks(void **state) {
    counting c = {0, 0, -1};
    llm__mem m;
    void *p, *q;
    (void)state;
    llm__mem_init(&m, counting_alloc, &c);
    p = llm__mem_alloc(&m, 100);
    assert_non_null(p);
    assert_int_equal(c.live_bytes, 100);
    p = llm__mem_realloc(&m, p, 100, 300);
    assert_int_equal(c.live_bytes, 300);
    llm__mem_free(&m, p, 300);
    assert_int_equal(c.live_bytes, 0);

    /* aligned blocks are aligned, zeroed and fully returned */
    q = llm__mem_alloc_aligned(&m, 1000);
    assert_non_null(q);
    assert_int_equal((uintptr_t)q % LLM__ALIGN, 0);
    assert_int_equal(((unsigned char *)q)[999], 0);
    llm__mem_free_aligned(&m, q);
    assert_int_equal(c.live_bytes, 0);

    /* caller-owned blocks go back to their own allocator through llm_free */
    q = llm__mem_alloc_owned(&m, 64);
    assert_non_null(q);
    assert_int_equal((uintptr_t)q % _Alignof(max_align_t), 0);
    memset(q, 0xab, 64);
    assert_true(c.live_bytes > 64);
    llm_free(q);
    assert_int_equal(c.live_bytes, 0);
    llm_free(NULL);

    /* overflowing sizes fail without calling the hook with a wrapped size */
    c.calls = 0;
    assert_null(llm__mem_calloc(&m, SIZE_MAX / 2, 3));
    assert_null(llm__mem_alloc_aligned(&m, SIZE_MAX - 8));
    assert_int_equal(c.calls, 0);
    assert_int_equal(llm__mem_mul(SIZE_MAX, 2), SIZE_MAX);
    assert_int_equal(llm__mem_mul(3, 5), 15);

    /* a failing hook makes the allocation fail */
    c.fail_after = 0;
    assert_null(llm__mem_alloc(&m, 10));
    assert_null(llm__obj_new(sizeof(llm__obj), LLM__MAGIC_CTX, counting_alloc, &c));
    assert_int_equal(llm__obj_live(), 0);
}

static void test_default_allocator(void **state) {
    counting c = {0, 0, -1};
    llm__obj *o;
    (void)state;
    assert_int_equal(llm_set_allocator(counting_alloc, &c), LLM_OK);
    o = llm__obj_new(sizeof *o, LLM__MAGIC_SAMPLER, NULL, NULL);
    assert_non_null(o);
    assert_int_equal(c.live_bytes, sizeof *o);
    /* cannot change the process hooks while a handle is live */
    assert_int_equal(llm_set_allocator(NULL, NULL), LLM_ERR_STATE);
    assert_non_null(strstr(llm_last_errmsg(), "still live"));
    assert_int_equal(llm_set_log(NULL, NULL, LLM_LOG_ERROR), LLM_ERR_STATE);
    llm__obj_delete(o, sizeof *o);
    assert_int_equal(c.live_bytes, 0);
    assert_int_equal(llm_set_allocator(NULL, NULL), LLM_OK);
}

/* ---- log hook ---- */

typedef struct log_seen {
    int n;
    int level;
    char last[256];
} log_seen;

static void log_hook(void *ud, int32_t level, const char *msg) {
    log_seen *s = ud;
    s->n++;
    s->level = level;
    snprintf(s->last, sizeof s->last, "%s", msg);
}

static void test_log(void **state) {
    log_seen s = {0, 0, ""};
    (void)state;
    /* silent by default */
    assert_false(llm__log_enabled(LLM_LOG_ERROR));
    llm__log(LLM_LOG_ERROR, "nobody hears this");
    assert_int_equal(llm_set_log(log_hook, &s, 5), LLM_ERR_INVALID);
    assert_int_equal(llm_set_log(log_hook, &s, -1), LLM_ERR_INVALID);
    assert_int_equal(llm_set_log(log_hook, &s, LLM_LOG_INFO), LLM_OK);
    llm__log(LLM_LOG_INFO, "loaded %d tensors", 12);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.level, LLM_LOG_INFO);
    assert_string_equal(s.last, "loaded 12 tensors");
    llm__log(LLM_LOG_DEBUG, "filtered out");
    assert_int_equal(s.n, 1);
    /* errors are logged at DEBUG level once enabled */
    assert_int_equal(llm_set_log(log_hook, &s, LLM_LOG_DEBUG), LLM_OK);
    llm__err(NULL, LLM_ERR_RANGE, "token %d", 99);
    assert_int_equal(s.n, 2);
    assert_non_null(strstr(s.last, "token 99"));
    assert_non_null(strstr(s.last, "LLM_ERR_RANGE"));
    assert_int_equal(llm_set_log(NULL, NULL, LLM_LOG_WARN), LLM_OK);
    llm__log(LLM_LOG_ERROR, "silent again");
    assert_int_equal(s.n, 2);
}

/* ---- option structs ---- */

/* What a future header might add to llm_model_opts. */
typedef struct future_opts {
    llm_model_opts base;
    uint64_t new_field;
} future_opts;

static void test_opts(void **state) {
    llm_model_opts o, got;
    future_opts f;
    uint32_t tiny = 4;
    (void)state;
    assert_int_equal(LLM_MODEL_OPTS_INIT(&o), LLM_OK);
    assert_int_equal(o.struct_size, sizeof o);
    assert_int_equal(o.flags, 0);
    assert_null(o.alloc);
    assert_int_equal(llm_model_opts_init(NULL, sizeof o), LLM_ERR_INVALID);
    assert_non_null(strstr(llm_last_errmsg(), "NULL"));
    assert_int_equal(llm_model_opts_init(&o, 2), LLM_ERR_INVALID);

    /* NULL means all defaults */
    memset(&got, 0x55, sizeof got);
    assert_int_equal(llm__opts_read(NULL, &got, sizeof got, NULL, "opts"), LLM_OK);
    assert_int_equal(got.struct_size, sizeof got);
    assert_int_equal(got.flags, 0);

    /* an older caller: only struct_size, everything else default */
    memset(&got, 0x55, sizeof got);
    assert_int_equal(llm__opts_read(NULL, &got, sizeof got, &tiny, "opts"), LLM_OK);
    assert_int_equal(got.flags, 0);
    assert_null(got.progress);

    /* a newer caller with an all-zero tail is accepted, a set tail refused */
    memset(&f, 0, sizeof f);
    f.base.struct_size = sizeof f;
    f.base.flags = LLM_MODEL_NO_MMAP;
    assert_int_equal(llm__opts_read(NULL, &got, sizeof got, &f, "llm_model_opts"), LLM_OK);
    assert_int_equal(got.flags, LLM_MODEL_NO_MMAP);
    f.new_field = 1;
    assert_int_equal(llm__opts_read(NULL, &got, sizeof got, &f, "llm_model_opts"),
                     LLM_ERR_UNSUPPORTED);
    assert_non_null(strstr(llm_last_errmsg(), "upgrade"));

    /* uninitialised struct_size */
    memset(&o, 0, sizeof o);
    assert_int_equal(llm__opts_read(NULL, &got, sizeof got, &o, "llm_model_opts"),
                     LLM_ERR_INVALID);
    assert_non_null(strstr(llm_last_errmsg(), "init"));
}

/* ---- model config ---- */

static void test_config(void **state) {
    llm_model_config c, r;
    (void)state;
    assert_int_equal(LLM_MODEL_CONFIG_INIT(&c), LLM_OK);
    assert_int_equal(c.arch, LLM_ARCH_GPT2);
    assert_int_equal(c.n_vocab, 50257);
    assert_int_equal(llm__config_read(NULL, &r, &c), LLM_OK);
    assert_int_equal(r.n_ff, 3072);
    assert_true(r.flags & LLM_CFG_QKV_BIAS);

    c.n_head = 7; /* 768 % 7 != 0 */
    assert_int_equal(llm__config_read(NULL, &r, &c), LLM_ERR_INVALID);
    assert_non_null(strstr(llm_last_errmsg(), "n_head"));
    c.n_head = 12;
    c.n_layer = 0;
    assert_int_equal(llm__config_read(NULL, &r, &c), LLM_ERR_INVALID);
    assert_non_null(strstr(llm_last_errmsg(), "n_layer"));
    c.n_layer = 12;
    c.arch = 99;
    assert_int_equal(llm__config_read(NULL, &r, &c), LLM_ERR_UNSUPPORTED);
    c.arch = LLM_ARCH_LLAMA;
    c.n_head_kv = 5;
    assert_int_equal(llm__config_read(NULL, &r, &c), LLM_ERR_INVALID);
    assert_non_null(strstr(llm_last_errmsg(), "n_head_kv"));
    c.n_head_kv = 4;
    c.n_ff = 2048;
    c.norm_eps = 0;
    c.rope_base = 0;
    assert_int_equal(llm__config_read(NULL, &r, &c), LLM_OK);
    assert_true(r.norm_eps == 1e-5f);
    assert_true(r.rope_base == 10000.0f);
    c.flags = 0x80;
    assert_int_equal(llm__config_read(NULL, &r, &c), LLM_ERR_UNSUPPORTED);
    assert_int_equal(llm__config_read(NULL, &r, NULL), LLM_ERR_INVALID);
}

static int progress_stop_at_3(void *ud, const llm_progress *p) {
    int *calls = ud;
    (*calls)++;
    return p->done >= 3;
}

static void test_progress(void **state) {
    llm__obj *o = llm__obj_new(sizeof *o, LLM__MAGIC_TRAINER, NULL, NULL);
    int calls = 0;
    uint64_t i;
    int rc = LLM_OK;
    (void)state;
    for (i = 0; i < 10 && rc == LLM_OK; i++)
        rc = llm__progress(o, progress_stop_at_3, &calls, LLM_PHASE_TRAIN_STEP, i, 10);
    assert_int_equal(rc, LLM_ERR_CANCELLED);
    assert_int_equal(calls, 4);
    assert_non_null(strstr(llm_errmsg(o), "cancelled"));
    assert_int_equal(llm__progress(o, NULL, NULL, LLM_PHASE_EVAL, 0, 0), LLM_OK);
    llm__obj_delete(o, sizeof *o);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_abi_check),
        cmocka_unit_test(test_status_str),
        cmocka_unit_test(test_errmsg_thread_local),
        cmocka_unit_test(test_errmsg_handle),
        cmocka_unit_test(test_allocator_hooks),
        cmocka_unit_test(test_default_allocator),
        cmocka_unit_test(test_log),
        cmocka_unit_test(test_opts),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_progress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
