/*
 * safetensors.h - safetensors reader (formats.md section 3).
 *
 * llm__st_parse validates a whole file held in memory the way the
 * reference Rust crate does: header length bounds, a JSON object header
 * (parsed with lib/format/json.c), known dtypes, shapes whose byte sizes
 * do not overflow and equal END - BEGIN, tensors covering the data buffer
 * contiguously without holes or overlaps, and the buffer ending exactly
 * at the file's end. After success every tensor's bytes lie inside the
 * buffer. Duplicate tensor names are refused.
 */
#ifndef LLM_SAFETENSORS_H
#define LLM_SAFETENSORS_H

#include "llm_core.h"

#define LLM__ST_MAX_DIMS 8

typedef struct llm__st_tensor {
    char *name;                    /* NUL-terminated copy */
    char dtype[12];                /* "F32", "F16", "BF16", ... */
    uint32_t n_dims;
    uint64_t shape[LLM__ST_MAX_DIMS];
    uint64_t n_elements;
    const uint8_t *data;
    size_t nbytes;
} llm__st_tensor;

typedef struct llm__st {
    size_t n;
    llm__st_tensor *t;
    size_t cap;                    /* allocated length of t */
    llm__mem mem;
} llm__st;

LLM_INTERNAL int llm__st_parse(llm__st *st, const void *buf, size_t size, const char *path,
                               const llm__mem *mem, llm__obj *err);
LLM_INTERNAL void llm__st_release(llm__st *st);
LLM_INTERNAL const llm__st_tensor *llm__st_find(const llm__st *st, const char *name);

#endif
