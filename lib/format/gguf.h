/*
 * gguf.h - GGUF v3 reader and writer (formats.md section 1).
 *
 * Reader: llm__gguf_parse validates a whole file held in memory (an mmap
 * or a buffer) before anything uses it: magic, version, every count
 * against the bytes that remain, string and array lengths, known value and
 * tensor types, alignment, duplicate keys and tensor names, and tensor
 * offsets laid out exactly as ggml lays them out (formats.md 1.6/1.7).
 * After a successful parse every pointer in the llm__gguf struct points
 * inside [base, base + size) and every tensor's bytes lie inside the data
 * blob, so the users never re-check bounds. Errors name the file and the
 * byte offset of the offending field.
 *
 * Writer: llm__gguf_write lays out a file the way ggml does (tensors in
 * info order, each padded to the alignment, no gaps) and writes it
 * atomically: a temporary file in the target's directory, fsync, rename.
 */
#ifndef LLM_GGUF_H
#define LLM_GGUF_H

#include "llm_core.h"

/* Metadata value types (gguf_type). */
enum {
    LLM__GGUF_U8 = 0, LLM__GGUF_I8 = 1, LLM__GGUF_U16 = 2, LLM__GGUF_I16 = 3,
    LLM__GGUF_U32 = 4, LLM__GGUF_I32 = 5, LLM__GGUF_F32 = 6, LLM__GGUF_BOOL = 7,
    LLM__GGUF_STRING = 8, LLM__GGUF_ARRAY = 9, LLM__GGUF_U64 = 10,
    LLM__GGUF_I64 = 11, LLM__GGUF_F64 = 12
};

/* Tensor element types (ggml_type) this code names. */
enum {
    LLM__GGML_F32 = 0, LLM__GGML_F16 = 1, LLM__GGML_Q8_0 = 8, LLM__GGML_BF16 = 30
};

#define LLM__GGUF_MAX_DIMS 4
#define LLM__GGUF_MAX_NAME 64 /* names are at most 63 bytes, as ggml requires */
#define LLM__GGUF_DEFAULT_ALIGNMENT 32

/* One metadata record; all pointers point into the parsed buffer. */
typedef struct llm__gguf_kv {
    const char *key;      /* not NUL-terminated */
    size_t key_len;
    uint32_t type;        /* LLM__GGUF_* */
    uint32_t arr_type;    /* element type when type == ARRAY */
    uint64_t n;           /* array length (1 for scalars) */
    const uint8_t *value; /* first byte of the value (after the array header) */
    size_t value_offset;  /* its byte offset in the file, for messages */
} llm__gguf_kv;

typedef struct llm__gguf_tensor {
    char name[LLM__GGUF_MAX_NAME]; /* NUL-terminated */
    uint32_t n_dims;
    uint64_t ne[LLM__GGUF_MAX_DIMS]; /* ne[0] innermost; unused dims are 1 */
    uint32_t type;                   /* ggml type code */
    uint64_t n_elements;
    size_t nbytes;
    const uint8_t *data;             /* inside the data blob */
    uint64_t rel_offset;             /* offset as stored, relative to the blob */
    size_t file_offset;              /* absolute offset of the data */
    size_t info_offset;              /* offset of the info record, for messages */
} llm__gguf_tensor;

typedef struct llm__gguf {
    const uint8_t *base;
    size_t size;
    uint32_t version;
    uint32_t alignment;
    size_t n_kv;
    llm__gguf_kv *kv;           /* [n_kv] */
    size_t n_tensors;
    llm__gguf_tensor *tensors;  /* [n_tensors] */
    size_t data_start;          /* absolute offset of the tensor-data blob */
    size_t kv_cap, tensors_cap; /* allocated lengths of kv and tensors */
    llm__mem mem;
} llm__gguf;

/* Parses and validates buf[0..size). `path` names the file in messages.
 * On failure returns LLM_ERR_BAD_FILE (or NOMEM/UNSUPPORTED) recorded on
 * `err`, and *g holds nothing to release. The buffer must outlive g. */
LLM_INTERNAL int llm__gguf_parse(llm__gguf *g, const void *buf, size_t size,
                                 const char *path, const llm__mem *mem, llm__obj *err);
LLM_INTERNAL void llm__gguf_release(llm__gguf *g);
/* llm__gguf_parse with caps (limits.h; NULL: the defaults): a tensor
 * count, tensor dimension or string length beyond its cap is refused with
 * LLM_ERR_RANGE naming the cap, its value and the offset. */
struct llm__limits;
LLM_INTERNAL int llm__gguf_parse_ex(llm__gguf *g, const void *buf, size_t size,
                                    const char *path, const llm__mem *mem, llm__obj *err,
                                    const struct llm__limits *lim);

/* Bytes per block and elements per block of a ggml type; 0 when unknown. */
LLM_INTERNAL size_t llm__gguf_type_size(uint32_t type, size_t *block_elems);
LLM_INTERNAL const char *llm__gguf_type_name(uint32_t type);

/* Lookups; NULL when absent. */
LLM_INTERNAL const llm__gguf_kv *llm__gguf_find_kv(const llm__gguf *g, const char *key);
LLM_INTERNAL const llm__gguf_tensor *llm__gguf_find_tensor(const llm__gguf *g, const char *name);

/* Typed getters: LLM_ERR_NOT_FOUND when absent (no message recorded, so a
 * caller may fall back to a default), LLM_ERR_BAD_FILE naming the key when
 * present with another type. get_u32 accepts any integer type whose value
 * fits; get_f32 accepts F32 or F64. */
LLM_INTERNAL int llm__gguf_get_u32(const llm__gguf *g, const char *key, uint32_t *out,
                                   const char *path, llm__obj *err);
LLM_INTERNAL int llm__gguf_get_f32(const llm__gguf *g, const char *key, float *out,
                                   const char *path, llm__obj *err);
LLM_INTERNAL int llm__gguf_get_bool(const llm__gguf *g, const char *key, int *out,
                                    const char *path, llm__obj *err);
LLM_INTERNAL int llm__gguf_get_str(const llm__gguf *g, const char *key, const char **s,
                                   size_t *len, const char *path, llm__obj *err);

/* Iterates an array of strings: element i's bytes. `kv` must be a parsed
 * ARRAY of STRING; *pos is a cursor starting at 0, advanced per call (the
 * strings were validated by the parser, so this cannot fail). */
LLM_INTERNAL void llm__gguf_arr_str_next(const llm__gguf_kv *kv, size_t *pos,
                                         const char **s, size_t *len);

/* ---- writer ---- */

typedef struct llm__gguf_wkv {
    const char *key;
    uint32_t type;            /* LLM__GGUF_*; ARRAY uses arr_type/arr/n */
    uint64_t u;               /* integer/bool scalar value */
    double f;                 /* F32/F64 scalar value */
    const char *str;          /* STRING value */
    size_t str_len;
    uint32_t arr_type;        /* element type of an ARRAY */
    size_t n;                 /* ARRAY length */
    const void *arr;          /* numeric elements, packed little-endian */
    const char *const *strs;  /* STRING elements */
    const size_t *str_lens;
} llm__gguf_wkv;

typedef struct llm__gguf_wtensor {
    const char *name;
    uint32_t n_dims;
    uint64_t ne[LLM__GGUF_MAX_DIMS];
    uint32_t type;
    const void *data;         /* nbytes computed from ne and type */
} llm__gguf_wtensor;

/* Writes a GGUF v3 file atomically with the given alignment (0: 32; it is
 * stored as general.alignment when not 32). */
LLM_INTERNAL int llm__gguf_write(const char *path, const llm__gguf_wkv *kv, size_t n_kv,
                                 const llm__gguf_wtensor *t, size_t n_t,
                                 uint32_t alignment, llm__obj *err);

#endif
