/*
 * alloc.c - allocation through Lua-style hooks, and handle headers.
 *
 * Every byte libllm allocates goes through an llm_alloc_fn: the handle's
 * own (from its options) or the process default captured when the handle
 * was created. The hook follows lua_Alloc, so it is told the old size of
 * every block it frees or resizes; we therefore always pass sizes back.
 * Blocks handed to the caller (released with llm_free, which gets no size
 * and no allocator) carry a small header recording both.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "llm_core.h"

static void *default_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, nsize);
}

/* Process-wide default: may change only while no handle is live, so a
 * handle's allocator never changes under it. */
static llm_alloc_fn g_alloc = default_alloc;
static void *g_alloc_ud = NULL;
static atomic_long g_live_handles;

void llm__mem_hint_huge(const llm__mem *m, void *p, size_t n) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    /* Only blocks of the C library's allocator (a caller's hook may hand
     * out memory it manages itself), and only the 2 MiB pages wholly
     * inside the block. A hint: where transparent huge pages are off, or
     * the block was already touched, nothing changes. */
    const uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1), hi = ((uintptr_t)p + n) & ~(huge - 1);
    if (m->fn == default_alloc && p && hi > lo)
        (void)madvise((void *)lo, (size_t)(hi - lo), MADV_HUGEPAGE);
#else
    (void)m;
    (void)p;
    (void)n;
#endif
}

int llm_set_allocator(llm_alloc_fn fn, void *ud) {
    if (atomic_load(&g_live_handles) != 0)
        return llm__err(NULL, LLM_ERR_STATE,
                        "llm_set_allocator: %ld handle(s) still live; set the "
                        "allocator before creating any handle",
                        atomic_load(&g_live_handles));
    g_alloc = fn ? fn : default_alloc;
    g_alloc_ud = fn ? ud : NULL;
    return LLM_OK;
}

void llm__mem_init(llm__mem *m, llm_alloc_fn fn, void *ud) {
    if (fn) {
        m->fn = fn;
        m->ud = ud;
    } else {
        m->fn = g_alloc;
        m->ud = g_alloc_ud;
    }
}

size_t llm__mem_mul(size_t a, size_t b) {
    if (a != 0 && b > SIZE_MAX / a)
        return SIZE_MAX;
    return a * b;
}

void *llm__mem_alloc(const llm__mem *m, size_t n) {
    if (n == SIZE_MAX) /* the result of an overflowing size computation */
        return NULL;
    /* A zero-byte request still returns a unique block; the hook is told
     * 1 byte, and llm__mem_free(m, p, 0) tells it 1 byte again. */
    return m->fn(m->ud, NULL, 0, n ? n : 1);
}

void *llm__mem_calloc(const llm__mem *m, size_t count, size_t size) {
    size_t n = llm__mem_mul(count, size);
    void *p;
    if (n == SIZE_MAX)
        return NULL;
    p = llm__mem_alloc(m, n);
    if (p)
        memset(p, 0, n ? n : 1);
    return p;
}

void *llm__mem_realloc(const llm__mem *m, void *p, size_t osize, size_t nsize) {
    if (nsize == SIZE_MAX)
        return NULL;
    if (p == NULL)
        return llm__mem_alloc(m, nsize);
    return m->fn(m->ud, p, osize, nsize ? nsize : 1);
}

void llm__mem_free(const llm__mem *m, void *p, size_t n) {
    if (p)
        m->fn(m->ud, p, n ? n : 1, 0);
}

/* Aligned blocks: over-allocate, and keep the raw pointer and the raw size
 * in the bytes just below the aligned address. */
typedef struct aligned_hdr {
    void *raw;
    size_t raw_size;
} aligned_hdr;

void *llm__mem_alloc_aligned(const llm__mem *m, size_t n) {
    size_t extra = LLM__ALIGN + sizeof(aligned_hdr);
    size_t raw_size;
    unsigned char *raw;
    uintptr_t a;
    aligned_hdr *h;
    if (n > SIZE_MAX - extra)
        return NULL;
    raw_size = n + extra;
    raw = llm__mem_alloc(m, raw_size);
    if (!raw)
        return NULL;
    a = ((uintptr_t)raw + sizeof(aligned_hdr) + LLM__ALIGN - 1) & ~(uintptr_t)(LLM__ALIGN - 1);
    h = (aligned_hdr *)a - 1;
    h->raw = raw;
    h->raw_size = raw_size;
    memset((void *)a, 0, n);
    return (void *)a;
}

void llm__mem_free_aligned(const llm__mem *m, void *p) {
    aligned_hdr *h;
    if (!p)
        return;
    h = (aligned_hdr *)p - 1;
    llm__mem_free(m, h->raw, h->raw_size);
}

/* Blocks owned by the caller remember their allocator, because llm_free()
 * receives nothing but the pointer. The header is padded to 32 bytes so the
 * payload keeps max_align_t alignment. */
typedef union owned_hdr {
    struct {
        llm_alloc_fn fn;
        void *ud;
        size_t size;
    } s;
    max_align_t align;
    unsigned char pad[32];
} owned_hdr;

void *llm__mem_alloc_owned(const llm__mem *m, size_t n) {
    owned_hdr *h;
    if (n > SIZE_MAX - sizeof(owned_hdr))
        return NULL;
    h = llm__mem_alloc(m, sizeof(owned_hdr) + n);
    if (!h)
        return NULL;
    h->s.fn = m->fn;
    h->s.ud = m->ud;
    h->s.size = sizeof(owned_hdr) + n;
    return h + 1;
}

void llm_free(void *ptr) {
    owned_hdr *h;
    if (!ptr)
        return;
    h = (owned_hdr *)ptr - 1;
    h->s.fn(h->s.ud, h, h->s.size, 0);
}

/* ------------------------------------------------------------------------
 * Handle headers
 * ------------------------------------------------------------------------ */

void *llm__obj_new(size_t size, uint32_t magic, llm_alloc_fn fn, void *ud) {
    llm__mem m;
    llm__obj *o;
    llm__mem_init(&m, fn, ud);
    o = llm__mem_calloc(&m, 1, size);
    if (!o)
        return NULL;
    o->magic = magic;
    o->mem = m;
    atomic_fetch_add(&g_live_handles, 1);
    return o;
}

void llm__obj_delete(void *handle, size_t size) {
    llm__obj *o = handle;
    llm__mem m;
    if (!o)
        return;
    m = o->mem;
    o->magic = LLM__MAGIC_DEAD; /* a later use of a freed handle is caught more often */
    llm__mem_free(&m, o, size);
    atomic_fetch_sub(&g_live_handles, 1);
}

long llm__obj_live(void) { return atomic_load(&g_live_handles); }

int llm__obj_is(const void *h, uint32_t magic) {
    return h != NULL && ((const llm__obj *)h)->magic == magic;
}
