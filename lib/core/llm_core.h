/*
 * llm_core.h - internal services shared by every part of libllm: handle
 * headers, error reporting, allocation, logging and option structs.
 *
 * Nothing here is exported. Internal functions that cross files carry the
 * llm__ prefix (two underscores) and LLM_INTERNAL; the word after the
 * prefix names the file that defines them:
 *   llm__err_*  status.c     llm__mem_*  alloc.c     llm__obj_*  alloc.c
 *   llm__log*   log.c        llm__opts_* opts.c      llm__config_* config.c
 */
#ifndef LLM_CORE_H
#define LLM_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "llm.h"

#if defined(__GNUC__)
#  define LLM_INTERNAL __attribute__((visibility("hidden")))
#  define LLM_PRINTF(f, a) __attribute__((format(printf, f, a)))
#  define LLM_LIKELY(x) __builtin_expect(!!(x), 1)
#  define LLM_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#  define LLM_INTERNAL
#  define LLM_PRINTF(f, a)
#  define LLM_LIKELY(x) (x)
#  define LLM_UNLIKELY(x) (x)
#endif

/* ------------------------------------------------------------------------
 * Allocation (alloc.c)
 * ------------------------------------------------------------------------ */

/* An allocator as a handle sees it: the hook and its user data. A handle
 * copies the process default at creation, so changing the default later
 * never mixes allocators within one handle. */
typedef struct llm__mem {
    llm_alloc_fn fn;
    void *ud;
} llm__mem;

/* Alignment of llm__mem_alloc_aligned blocks: one cache line, which also
 * satisfies AVX-512 loads and what GGUF asks of tensor data. */
#define LLM__ALIGN 64

LLM_INTERNAL void llm__mem_init(llm__mem *m, llm_alloc_fn fn, void *ud);
/* Each returns NULL on failure or when a size computation overflows. */
LLM_INTERNAL void *llm__mem_alloc(const llm__mem *m, size_t n);
LLM_INTERNAL void *llm__mem_calloc(const llm__mem *m, size_t count, size_t size);
LLM_INTERNAL void *llm__mem_realloc(const llm__mem *m, void *p, size_t osize, size_t nsize);
LLM_INTERNAL void llm__mem_free(const llm__mem *m, void *p, size_t n);
/* Asks the kernel for transparent huge pages for the untouched block p of
 * n bytes from m (Linux madvise; only the C library's allocator's blocks).
 * For large read-mostly buffers: weights streamed once per decoded token
 * read about 20% faster from 2 MiB pages (fewer TLB misses, and the
 * hardware prefetchers stop at page boundaries). */
LLM_INTERNAL void llm__mem_hint_huge(const llm__mem *m, void *p, size_t n);
/* Zeroed, LLM__ALIGN-aligned block; free with llm__mem_free_aligned. */
LLM_INTERNAL void *llm__mem_alloc_aligned(const llm__mem *m, size_t n);
LLM_INTERNAL void llm__mem_free_aligned(const llm__mem *m, void *p);
/* A block handed to the caller, to be released with llm_free(). */
LLM_INTERNAL void *llm__mem_alloc_owned(const llm__mem *m, size_t n);
/* a*b, or SIZE_MAX when it overflows (so the allocation then fails). */
LLM_INTERNAL size_t llm__mem_mul(size_t a, size_t b);

/* ------------------------------------------------------------------------
 * Handle header (alloc.c, status.c)
 * ------------------------------------------------------------------------ */

#define LLM__ERRMSG_MAX 512

/* Type tags: the first word of every handle, checked by llm_errmsg() and
 * by the argument checks of each public function. */
#define LLM__MAGIC_MODEL     0x4c4c4d4du /* "LLMM" */
#define LLM__MAGIC_TOKENIZER 0x4c4c4d54u /* "LLMT" */
#define LLM__MAGIC_CTX       0x4c4c4d43u /* "LLMC" */
#define LLM__MAGIC_SAMPLER   0x4c4c4d53u /* "LLMS" */
#define LLM__MAGIC_TRAINER   0x4c4c4d52u /* "LLMR" */
#define LLM__MAGIC_GEN       0x4c4c4d47u /* "LLMG" */
#define LLM__MAGIC_DEAD      0xdeadbeefu /* written by llm__obj_delete */

/* Every handle struct starts with this member, so that any handle pointer
 * is also an llm__obj pointer. */
typedef struct llm__obj {
    uint32_t magic;                 /* LLM__MAGIC_* */
    int32_t status;                 /* status of the latest failed call */
    llm__mem mem;                   /* the handle's allocator */
    char errmsg[LLM__ERRMSG_MAX];   /* detail of the latest failed call */
} llm__obj;

/* Allocates a zeroed handle of `size` bytes with the allocator (fn, ud)
 * (fn NULL: process default), tags it and counts it as live. */
LLM_INTERNAL void *llm__obj_new(size_t size, uint32_t magic, llm_alloc_fn fn, void *ud);
/* Releases a handle made by llm__obj_new. NULL is a no-op. */
LLM_INTERNAL void llm__obj_delete(void *handle, size_t size);
/* Number of live handles (the process-wide hooks may change only at 0). */
LLM_INTERNAL long llm__obj_live(void);
/* 1 when h is non-NULL and tagged `magic`. */
LLM_INTERNAL int llm__obj_is(const void *h, uint32_t magic);

/* ------------------------------------------------------------------------
 * Errors (status.c)
 * ------------------------------------------------------------------------ */

/* Records a failure: formats the message into the handle (when o is not
 * NULL) and into the calling thread's last-error buffer, logs it at DEBUG
 * level, and returns `status` so callers can write
 *     return llm__err(&m->obj, LLM_ERR_BAD_FILE, "%s: offset %zu: ...", ...);
 */
LLM_INTERNAL int llm__err(llm__obj *o, int status, const char *fmt, ...) LLM_PRINTF(3, 4);
LLM_INTERNAL int llm__errv(llm__obj *o, int status, const char *fmt, va_list ap) LLM_PRINTF(3, 0);

/* Argument checks that report the function and argument by name. */
#define LLM__CHECK_ARG(obj, cond, fn, what)                                   \
    do {                                                                      \
        if (LLM_UNLIKELY(!(cond)))                                            \
            return llm__err((obj), LLM_ERR_INVALID, "%s: %s", (fn), (what));  \
    } while (0)

/* ------------------------------------------------------------------------
 * Logging (log.c)
 * ------------------------------------------------------------------------ */

/* 1 when a message of `level` would be delivered (lets callers skip
 * formatting expensive messages). */
LLM_INTERNAL int llm__log_enabled(int level);
LLM_INTERNAL void llm__log(int level, const char *fmt, ...) LLM_PRINTF(2, 3);
LLM_INTERNAL void llm__logv(int level, const char *fmt, va_list ap) LLM_PRINTF(2, 0);

/* ------------------------------------------------------------------------
 * Option structs (opts.c)
 * ------------------------------------------------------------------------ */

/* Copies the caller's option struct `src` (NULL = all defaults) into the
 * library's own `dst` of `dst_size` bytes, following the struct_size rules
 * in llm.h: fields beyond the caller's struct_size read as zero; a caller
 * struct larger than dst_size must have an all-zero tail. `what` names the
 * struct in error messages. On success dst->struct_size == dst_size. */
LLM_INTERNAL int llm__opts_read(llm__obj *o, void *dst, size_t dst_size,
                                const void *src, const char *what);
/* Start of every *_opts_init: zero `size` bytes and set struct_size.
 * Fails with LLM_ERR_INVALID for NULL or size < 4 or size > UINT32_MAX. */
LLM_INTERNAL int llm__opts_init(void *o, size_t size, const char *fn);

/* ------------------------------------------------------------------------
 * Model configuration (config.c)
 * ------------------------------------------------------------------------ */

/* Reads a caller config, fills the defaults that zero stands for, and
 * checks it (positive sizes, heads dividing the width, n_head_kv dividing
 * n_head, known arch and flags). Errors name the offending field. */
LLM_INTERNAL int llm__config_read(llm__obj *o, llm_model_config *dst,
                                  const llm_model_config *src);

/* Progress report helper: calls fn (when set) and turns a non-zero answer
 * into LLM_ERR_CANCELLED recorded on `o`. */
LLM_INTERNAL int llm__progress(llm__obj *o, llm_progress_fn fn, void *ud,
                               int32_t phase, uint64_t done, uint64_t total);

#endif /* LLM_CORE_H */
