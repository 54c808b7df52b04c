/*
 * opts.c - reading option structs that start with their own size.
 *
 * An option struct may come from a caller compiled against an older
 * header (smaller struct_size: the missing fields read as zero, which
 * always means "default") or a newer one (larger struct_size: accepted
 * only when the fields this library does not know are all zero, so a
 * request it cannot honour is refused instead of silently ignored, as the
 * Linux kernel's copy_struct_from_user does).
 */
#include <string.h>

#include "llm_core.h"

int llm__opts_init(void *o, size_t size, const char *fn) {
    if (!o)
        return llm__err(NULL, LLM_ERR_INVALID, "%s: the struct pointer is NULL", fn);
    if (size < sizeof(uint32_t) || size > UINT32_MAX)
        return llm__err(NULL, LLM_ERR_INVALID,
                        "%s: struct_size %zu is not a struct size; pass sizeof *o",
                        fn, size);
    memset(o, 0, size);
    *(uint32_t *)o = (uint32_t)size;
    return LLM_OK;
}

int llm__opts_read(llm__obj *o, void *dst, size_t dst_size, const void *src,
                   const char *what) {
    uint32_t src_size;
    const unsigned char *tail;
    size_t i;
    memset(dst, 0, dst_size);
    *(uint32_t *)dst = (uint32_t)dst_size;
    if (!src)
        return LLM_OK;
    memcpy(&src_size, src, sizeof src_size);
    if (src_size < sizeof(uint32_t))
        return llm__err(o, LLM_ERR_INVALID,
                        "%s.struct_size is %u; fill the struct with its init "
                        "function first", what, (unsigned)src_size);
    memcpy(dst, src, src_size < dst_size ? src_size : dst_size);
    *(uint32_t *)dst = (uint32_t)dst_size;
    tail = (const unsigned char *)src;
    for (i = dst_size; i < src_size; i++)
        if (tail[i] != 0)
            return llm__err(o, LLM_ERR_UNSUPPORTED,
                            "%s: byte %zu is set, but this libllm %s knows only "
                            "the first %zu bytes of the struct (upgrade libllm)",
                            what, i, LLM_VERSION_STRING, dst_size);
    return LLM_OK;
}

int llm_model_opts_init(llm_model_opts *o, size_t struct_size) {
    /* All defaults are zero: mmap on, process allocator, no progress. */
    return llm__opts_init(o, struct_size, "llm_model_opts_init");
}
