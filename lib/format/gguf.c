/*
 * gguf.c - GGUF v3 reader and atomic writer (formats.md section 1).
 *
 * Invariants of the reader: the input is untrusted. Every read goes
 * through the cursor `rd`, which checks the remaining byte count before
 * touching memory, so nothing outside [base, base+size) is ever read. The
 * counts in the header are checked against the bytes that remain (each
 * record has a minimum size) before anything is allocated, so a hostile
 * count cannot make us allocate more than a small multiple of the file
 * size. Duplicate keys and tensor names are found with a hash set, so a
 * hostile file with many records costs linear time. Integers are decoded
 * byte by byte as little-endian, so the code does not depend on the host.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format/gguf.h"
#include "format/limits.h"

#define GGUF_MAGIC 0x46554747u /* "GGUF" read as little-endian uint32 */
#define GGUF_MAX_ARRAY (1024ull * 1024 * 1024)

/* ------------------------------------------------------------------------
 * Type tables
 * ------------------------------------------------------------------------ */

/* Scalar metadata sizes; 0 for STRING/ARRAY/unknown. */
static size_t kv_scalar_size(uint32_t t) {
    switch (t) {
    case LLM__GGUF_U8: case LLM__GGUF_I8: case LLM__GGUF_BOOL: return 1;
    case LLM__GGUF_U16: case LLM__GGUF_I16: return 2;
    case LLM__GGUF_U32: case LLM__GGUF_I32: case LLM__GGUF_F32: return 4;
    case LLM__GGUF_U64: case LLM__GGUF_I64: case LLM__GGUF_F64: return 8;
    default: return 0;
    }
}

static const struct {
    uint32_t code;
    const char *name;
    size_t block;  /* elements per block */
    size_t bytes;  /* bytes per block */
} g_types[] = {
    {0, "F32", 1, 4},      {1, "F16", 1, 2},      {2, "Q4_0", 32, 18},
    {3, "Q4_1", 32, 20},   {6, "Q5_0", 32, 22},   {7, "Q5_1", 32, 24},
    {8, "Q8_0", 32, 34},   {9, "Q8_1", 32, 36},   {10, "Q2_K", 256, 84},
    {11, "Q3_K", 256, 110}, {12, "Q4_K", 256, 144}, {13, "Q5_K", 256, 176},
    {14, "Q6_K", 256, 210}, {15, "Q8_K", 256, 292}, {24, "I8", 1, 1},
    {25, "I16", 1, 2},     {26, "I32", 1, 4},     {27, "I64", 1, 8},
    {28, "F64", 1, 8},     {30, "BF16", 1, 2},
};

size_t llm__gguf_type_size(uint32_t type, size_t *block_elems) {
    size_t i;
    for (i = 0; i < sizeof g_types / sizeof g_types[0]; i++)
        if (g_types[i].code == type) {
            if (block_elems)
                *block_elems = g_types[i].block;
            return g_types[i].bytes;
        }
    if (block_elems)
        *block_elems = 0;
    return 0;
}

const char *llm__gguf_type_name(uint32_t type) {
    size_t i;
    for (i = 0; i < sizeof g_types / sizeof g_types[0]; i++)
        if (g_types[i].code == type)
            return g_types[i].name;
    return "unknown";
}

/* ------------------------------------------------------------------------
 * Bounds-checked cursor
 * ------------------------------------------------------------------------ */

typedef struct rd {
    const uint8_t *b;
    size_t size, pos;
    const char *path;
    llm__obj *err;
    const llm__limits *lim; /* never NULL; fields non-zero */
} rd;

static int rd_need(rd *r, uint64_t n, const char *what) {
    if (n > r->size - r->pos)
        return llm__err(r->err, LLM_ERR_BAD_FILE,
                        "%s: offset %zu: %s needs %llu bytes but only %zu remain "
                        "(truncated file?)",
                        r->path, r->pos, what, (unsigned long long)n, r->size - r->pos);
    return LLM_OK;
}

static uint64_t le(const uint8_t *p, int n) {
    uint64_t v = 0;
    int i;
    for (i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static int rd_u32(rd *r, uint32_t *v, const char *what) {
    int rc = rd_need(r, 4, what);
    if (rc)
        return rc;
    *v = (uint32_t)le(r->b + r->pos, 4);
    r->pos += 4;
    return LLM_OK;
}

static int rd_u64(rd *r, uint64_t *v, const char *what) {
    int rc = rd_need(r, 8, what);
    if (rc)
        return rc;
    *v = le(r->b + r->pos, 8);
    r->pos += 8;
    return LLM_OK;
}

/* A length-prefixed string; *s points into the buffer. */
static int rd_str(rd *r, const char **s, size_t *len, const char *what) {
    uint64_t n;
    size_t at = r->pos;
    int rc = rd_u64(r, &n, what);
    if (rc)
        return rc;
    /* Truncation first: a malformed file is BAD_FILE whatever the caps. */
    if (n > r->size - r->pos)
        return llm__err(r->err, LLM_ERR_BAD_FILE,
                        "%s: offset %zu: %s length %llu exceeds the %zu bytes that remain "
                        "(truncated file?)",
                        r->path, at, what, (unsigned long long)n, r->size - r->pos);
    if (n > r->lim->max_string)
        return llm__err(r->err, LLM_ERR_RANGE,
                        "%s: offset %zu: %s length %llu exceeds the cap max_string = %llu",
                        r->path, at, what, (unsigned long long)n,
                        (unsigned long long)r->lim->max_string);
    *s = (const char *)r->b + r->pos;
    *len = (size_t)n;
    r->pos += (size_t)n;
    return LLM_OK;
}

/* ------------------------------------------------------------------------
 * Duplicate detection: open-addressing set of (pointer, length) strings
 * ------------------------------------------------------------------------ */

typedef struct strset {
    const char **s;
    size_t *len;
    size_t cap; /* power of two, >= 2 * entries */
} strset;

static uint64_t fnv1a(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    size_t i;
    for (i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static int strset_init(strset *st, const llm__mem *m, size_t n) {
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    st->cap = cap;
    st->s = llm__mem_calloc(m, cap, sizeof *st->s);
    st->len = llm__mem_calloc(m, cap, sizeof *st->len);
    return st->s && st->len ? LLM_OK : LLM_ERR_NOMEM;
}

static void strset_free(strset *st, const llm__mem *m) {
    llm__mem_free(m, st->s, st->cap * sizeof *st->s);
    llm__mem_free(m, st->len, st->cap * sizeof *st->len);
}

/* Returns 1 if (s, n) was already present, else inserts it and returns 0. */
static int strset_add(strset *st, const char *s, size_t n) {
    size_t i = (size_t)fnv1a(s, n) & (st->cap - 1);
    while (st->s[i]) {
        if (st->len[i] == n && memcmp(st->s[i], s, n) == 0)
            return 1;
        i = (i + 1) & (st->cap - 1);
    }
    st->s[i] = s;
    st->len[i] = n;
    return 0;
}

/* ------------------------------------------------------------------------
 * Parser
 * ------------------------------------------------------------------------ */

static int parse_kv(rd *r, llm__gguf_kv *kv) {
    uint32_t type;
    size_t at;
    int rc;
    if ((rc = rd_str(r, &kv->key, &kv->key_len, "metadata key")) != 0)
        return rc;
    if (kv->key_len == 0)
        return llm__err(r->err, LLM_ERR_BAD_FILE, "%s: offset %zu: empty metadata key",
                        r->path, r->pos - 8);
    at = r->pos;
    if ((rc = rd_u32(r, &type, "metadata value type")) != 0)
        return rc;
    kv->type = type;
    kv->n = 1;
    kv->arr_type = 0;
    if (type == LLM__GGUF_ARRAY) {
        uint32_t et;
        uint64_t n, i;
        size_t esz;
        at = r->pos;
        if ((rc = rd_u32(r, &et, "array element type")) != 0)
            return rc;
        if (et == LLM__GGUF_ARRAY || (et != LLM__GGUF_STRING && kv_scalar_size(et) == 0))
            return llm__err(r->err, LLM_ERR_BAD_FILE,
                            "%s: offset %zu: key '%.*s': invalid array element type %u",
                            r->path, at, (int)(kv->key_len > 200 ? 200 : kv->key_len),
                            kv->key, (unsigned)et);
        at = r->pos;
        if ((rc = rd_u64(r, &n, "array length")) != 0)
            return rc;
        esz = et == LLM__GGUF_STRING ? 8 : kv_scalar_size(et);
        if (n > GGUF_MAX_ARRAY || n * esz > r->size - r->pos)
            return llm__err(r->err, LLM_ERR_BAD_FILE,
                            "%s: offset %zu: key '%.*s': array of %llu elements does "
                            "not fit in the %zu remaining bytes",
                            r->path, at, (int)(kv->key_len > 200 ? 200 : kv->key_len),
                            kv->key, (unsigned long long)n, r->size - r->pos);
        kv->arr_type = et;
        kv->n = n;
        kv->value = r->b + r->pos;
        kv->value_offset = r->pos;
        if (et == LLM__GGUF_STRING) {
            for (i = 0; i < n; i++) {
                const char *s;
                size_t len;
                if ((rc = rd_str(r, &s, &len, "array string")) != 0)
                    return rc;
            }
        } else {
            r->pos += (size_t)(n * esz);
        }
        return LLM_OK;
    }
    kv->value = r->b + r->pos;
    kv->value_offset = r->pos;
    if (type == LLM__GGUF_STRING) {
        const char *s;
        size_t len;
        return rd_str(r, &s, &len, "string value");
    }
    if (kv_scalar_size(type) == 0)
        return llm__err(r->err, LLM_ERR_BAD_FILE,
                        "%s: offset %zu: key '%.*s': unknown value type %u", r->path, at,
                        (int)(kv->key_len > 200 ? 200 : kv->key_len), kv->key,
                        (unsigned)type);
    if ((rc = rd_need(r, kv_scalar_size(type), "metadata value")) != 0)
        return rc;
    r->pos += kv_scalar_size(type);
    return LLM_OK;
}

static int parse_tensor_info(rd *r, llm__gguf_tensor *t) {
    const char *name;
    size_t len, at = r->pos, block, tsize;
    uint32_t j;
    uint64_t ne_total = 1;
    int rc;
    t->info_offset = at;
    if ((rc = rd_str(r, &name, &len, "tensor name")) != 0)
        return rc;
    if (len == 0 || len >= LLM__GGUF_MAX_NAME || memchr(name, 0, len))
        return llm__err(r->err, LLM_ERR_BAD_FILE,
                        "%s: offset %zu: tensor name of %zu bytes is empty, longer "
                        "than 63 bytes or contains NUL",
                        r->path, at, len);
    memcpy(t->name, name, len);
    t->name[len] = '\0';
    at = r->pos;
    if ((rc = rd_u32(r, &t->n_dims, "tensor n_dims")) != 0)
        return rc;
    if (t->n_dims > LLM__GGUF_MAX_DIMS)
        return llm__err(r->err, LLM_ERR_BAD_FILE,
                        "%s: offset %zu: tensor '%s' has %u dimensions (at most 4)",
                        r->path, at, t->name, (unsigned)t->n_dims);
    for (j = 0; j < LLM__GGUF_MAX_DIMS; j++)
        t->ne[j] = 1;
    for (j = 0; j < t->n_dims; j++) {
        at = r->pos;
        if ((rc = rd_u64(r, &t->ne[j], "tensor dimension")) != 0)
            return rc;
        if (t->ne[j] > (uint64_t)INT64_MAX)
            return llm__err(r->err, LLM_ERR_BAD_FILE,
                            "%s: offset %zu: tensor '%s' dimension %u is negative",
                            r->path, at, t->name, (unsigned)j);
    }
    /* Element count without overflow (ggml's int64 rule, formats.md 1.7.12). */
    for (j = 0; j < LLM__GGUF_MAX_DIMS; j++) {
        if (t->ne[j] != 0 && ne_total > (uint64_t)INT64_MAX / t->ne[j])
            return llm__err(r->err, LLM_ERR_BAD_FILE,
                            "%s: offset %zu: tensor '%s': element count overflows",
                            r->path, t->info_offset, t->name);
        ne_total *= t->ne[j];
    }
    /* The cap is checked after the overflow test, so that a file that is
     * malformed (BAD_FILE) is reported as such whatever the caps. */
    for (j = 0; j < t->n_dims; j++)
        if (t->ne[j] > r->lim->max_dim)
            return llm__err(r->err, LLM_ERR_RANGE,
                            "%s: offset %zu: tensor '%s' dimension %u is %llu, above the cap "
                            "max_dim = %llu",
                            r->path, t->info_offset, t->name, (unsigned)j,
                            (unsigned long long)t->ne[j], (unsigned long long)r->lim->max_dim);
    t->n_elements = ne_total;
    at = r->pos;
    if ((rc = rd_u32(r, &t->type, "tensor type")) != 0)
        return rc;
    tsize = llm__gguf_type_size(t->type, &block);
    if (tsize == 0)
        return llm__err(r->err, LLM_ERR_BAD_FILE,
                        "%s: offset %zu: tensor '%s' has unknown type code %u",
                        r->path, at, t->name, (unsigned)t->type);
    if (t->ne[0] % block != 0)
        return llm__err(r->err, LLM_ERR_BAD_FILE,
                        "%s: offset %zu: tensor '%s': row length %llu is not a "
                        "multiple of the %s block size %zu",
                        r->path, at, t->name, (unsigned long long)t->ne[0],
                        llm__gguf_type_name(t->type), block);
    if (ne_total / block > SIZE_MAX / tsize)
        return llm__err(r->err, LLM_ERR_BAD_FILE,
                        "%s: offset %zu: tensor '%s': byte size overflows", r->path,
                        at, t->name);
    t->nbytes = (size_t)(ne_total / block) * tsize;
    return rd_u64(r, &t->rel_offset, "tensor offset");
}

void llm__gguf_release(llm__gguf *g) {
    if (!g)
        return;
    llm__mem_free(&g->mem, g->kv, g->kv_cap * sizeof *g->kv);
    llm__mem_free(&g->mem, g->tensors, g->tensors_cap * sizeof *g->tensors);
    g->kv = NULL;
    g->tensors = NULL;
    g->n_kv = g->n_tensors = 0;
}

int llm__gguf_parse(llm__gguf *g, const void *buf, size_t size, const char *path,
                    const llm__mem *mem, llm__obj *err) {
    return llm__gguf_parse_ex(g, buf, size, path, mem, err, NULL);
}

int llm__gguf_parse_ex(llm__gguf *g, const void *buf, size_t size, const char *path,
                       const llm__mem *mem, llm__obj *err, const llm__limits *lim) {
    rd r;
    uint32_t magic;
    uint64_t n_tensors, n_kv, expect = 0;
    size_t i, at;
    strset st;
    int rc;
    const llm__gguf_kv *al;

    memset(g, 0, sizeof *g);
    g->mem = *mem;
    g->base = buf;
    g->size = size;
    r.b = buf;
    r.size = size;
    r.pos = 0;
    r.path = path ? path : "<buffer>";
    r.err = err;
    r.lim = llm__limits_or_default(lim);
    if (!buf && size)
        return llm__err(err, LLM_ERR_INVALID, "%s: NULL buffer", r.path);

    if ((rc = rd_u32(&r, &magic, "magic")) != 0)
        return rc;
    if (magic != GGUF_MAGIC)
        return llm__err(err, LLM_ERR_BAD_FILE,
                        "%s: offset 0: bad magic 0x%08x (not a GGUF file)", r.path,
                        (unsigned)magic);
    if ((rc = rd_u32(&r, &g->version, "version")) != 0)
        return rc;
    if (g->version != 2 && g->version != 3)
        return llm__err(err, LLM_ERR_BAD_FILE,
                        "%s: offset 4: GGUF version %u is not supported (2 or 3%s)",
                        r.path, (unsigned)g->version,
                        (g->version & 0xFFFF) == 0 ? "; byte-swapped big-endian file?" : "");
    if ((rc = rd_u64(&r, &n_tensors, "tensor count")) != 0)
        return rc;
    if ((rc = rd_u64(&r, &n_kv, "metadata count")) != 0)
        return rc;
    /* Minimum record sizes: KV = key (8+1) + type 4 + value 1 = 14 bytes;
     * tensor info = name (8+1) + n_dims 4 + type 4 + offset 8 = 25 bytes. */
    if (n_kv > (r.size - r.pos) / 14)
        return llm__err(err, LLM_ERR_BAD_FILE,
                        "%s: offset 16: metadata count %llu cannot fit in a file of %zu bytes",
                        r.path, (unsigned long long)n_kv, size);
    if (n_tensors > (r.size - r.pos) / 25)
        return llm__err(err, LLM_ERR_BAD_FILE,
                        "%s: offset 8: tensor count %llu cannot fit in a file of %zu bytes",
                        r.path, (unsigned long long)n_tensors, size);
    if (n_tensors > r.lim->max_tensors)
        return llm__err(err, LLM_ERR_RANGE,
                        "%s: offset 8: tensor count %llu exceeds the cap max_tensors = %llu",
                        r.path, (unsigned long long)n_tensors,
                        (unsigned long long)r.lim->max_tensors);

    g->kv_cap = n_kv ? (size_t)n_kv : 1;
    g->tensors_cap = n_tensors ? (size_t)n_tensors : 1;
    g->kv = llm__mem_calloc(mem, g->kv_cap, sizeof *g->kv);
    g->tensors = llm__mem_calloc(mem, g->tensors_cap, sizeof *g->tensors);
    if (!g->kv || !g->tensors) {
        llm__gguf_release(g);
        return llm__err(err, LLM_ERR_NOMEM, "%s: out of memory for the GGUF index", r.path);
    }

    /* Metadata. */
    if (strset_init(&st, mem, (size_t)n_kv) != LLM_OK) {
        strset_free(&st, mem);
        llm__gguf_release(g);
        return llm__err(err, LLM_ERR_NOMEM, "%s: out of memory", r.path);
    }
    for (i = 0; i < n_kv; i++) {
        at = r.pos;
        rc = parse_kv(&r, &g->kv[i]);
        if (rc == LLM_OK && strset_add(&st, g->kv[i].key, g->kv[i].key_len))
            rc = llm__err(err, LLM_ERR_BAD_FILE, "%s: offset %zu: duplicate key '%.*s'",
                          r.path, at, (int)(g->kv[i].key_len > 200 ? 200 : g->kv[i].key_len),
                          g->kv[i].key);
        if (rc)
            break;
    }
    strset_free(&st, mem);
    if (rc) {
        llm__gguf_release(g);
        return rc;
    }
    g->n_kv = (size_t)n_kv;

    /* Alignment (formats.md 1.6). */
    g->alignment = LLM__GGUF_DEFAULT_ALIGNMENT;
    al = llm__gguf_find_kv(g, "general.alignment");
    if (al) {
        uint32_t a;
        if (al->type != LLM__GGUF_U32) {
            rc = llm__err(err, LLM_ERR_BAD_FILE,
                          "%s: offset %zu: general.alignment must be UINT32 (type %u)",
                          r.path, al->value_offset, (unsigned)al->type);
            llm__gguf_release(g);
            return rc;
        }
        a = (uint32_t)le(al->value, 4);
        if (a == 0 || (a & (a - 1)) != 0) {
            rc = llm__err(err, LLM_ERR_BAD_FILE,
                          "%s: offset %zu: general.alignment %u is not a power of two",
                          r.path, al->value_offset, (unsigned)a);
            llm__gguf_release(g);
            return rc;
        }
        g->alignment = a;
    }

    /* Tensor infos. */
    if (strset_init(&st, mem, (size_t)n_tensors) != LLM_OK) {
        strset_free(&st, mem);
        llm__gguf_release(g);
        return llm__err(err, LLM_ERR_NOMEM, "%s: out of memory", r.path);
    }
    for (i = 0; rc == LLM_OK && i < n_tensors; i++) {
        llm__gguf_tensor *t = &g->tensors[i];
        rc = parse_tensor_info(&r, t);
        /* strset keeps pointers: it points at the copy inside the tensor. */
        if (rc == LLM_OK && strset_add(&st, t->name, strlen(t->name)))
            rc = llm__err(err, LLM_ERR_BAD_FILE, "%s: offset %zu: duplicate tensor name '%s'",
                          r.path, t->info_offset, t->name);
    }
    strset_free(&st, mem);
    if (rc) {
        llm__gguf_release(g);
        return rc;
    }
    g->n_tensors = (size_t)n_tensors;

    /* Data blob: starts at the padded end of the infos; offsets follow the
     * ggml layout exactly; every tensor (with its padding) inside the file. */
    g->data_start = r.pos;
    if (n_tensors > 0) {
        size_t pad = (g->alignment - r.pos % g->alignment) % g->alignment;
        if (pad > size - r.pos) {
            llm__gguf_release(g);
            return llm__err(err, LLM_ERR_BAD_FILE,
                            "%s: offset %zu: file ends before the tensor data (truncated)",
                            r.path, r.pos);
        }
        g->data_start = r.pos + pad;
    }
    for (i = 0; i < n_tensors; i++) {
        llm__gguf_tensor *t = &g->tensors[i];
        uint64_t off = t->rel_offset, padded;
        if (off != expect) {
            /* Sizes follow from shape and type, so a tensor whose data has
             * the wrong size shows as the next offset disagreeing: name
             * both tensors. */
            char prev[LLM__GGUF_MAX_NAME + 96] = "";
            if (i > 0)
                snprintf(prev, sizeof prev, "; the data of '%s' (%s) is %zu bytes",
                         g->tensors[i - 1].name, llm__gguf_type_name(g->tensors[i - 1].type),
                         g->tensors[i - 1].nbytes);
            rc = llm__err(err, LLM_ERR_BAD_FILE,
                            "%s: tensor '%s' (info at offset %zu): data offset %llu, "
                            "expected %llu (tensors must be packed in info order, each "
                            "padded to %u bytes%s)",
                            r.path, t->name, t->info_offset, (unsigned long long)off,
                            (unsigned long long)expect, (unsigned)g->alignment, prev);
            llm__gguf_release(g);
            return rc;
        }
        padded = (uint64_t)t->nbytes + (g->alignment - t->nbytes % g->alignment) % g->alignment;
        if (padded < t->nbytes || padded > (uint64_t)(size - g->data_start) ||
            expect > (uint64_t)(size - g->data_start) - padded) {
            rc = llm__err(err, LLM_ERR_BAD_FILE,
                            "%s: tensor '%s': data [%llu, %llu) is not within the file "
                            "(%zu bytes; truncated?)",
                            r.path, t->name,
                            (unsigned long long)(g->data_start + off),
                            (unsigned long long)(g->data_start + off + t->nbytes), size);
            llm__gguf_release(g);
            return rc;
        }
        t->file_offset = g->data_start + (size_t)off;
        t->data = g->base + t->file_offset;
        expect += padded;
    }
    return LLM_OK;
}

/* ------------------------------------------------------------------------
 * Lookups and typed getters
 * ------------------------------------------------------------------------ */

const llm__gguf_kv *llm__gguf_find_kv(const llm__gguf *g, const char *key) {
    size_t i, n = strlen(key);
    for (i = 0; i < g->n_kv; i++)
        if (g->kv[i].key_len == n && memcmp(g->kv[i].key, key, n) == 0)
            return &g->kv[i];
    return NULL;
}

const llm__gguf_tensor *llm__gguf_find_tensor(const llm__gguf *g, const char *name) {
    size_t i;
    for (i = 0; i < g->n_tensors; i++)
        if (strcmp(g->tensors[i].name, name) == 0)
            return &g->tensors[i];
    return NULL;
}

static int wrong_type(const llm__gguf_kv *kv, const char *key, const char *want,
                      const char *path, llm__obj *err) {
    return llm__err(err, LLM_ERR_BAD_FILE, "%s: offset %zu: key '%s' has type %u, expected %s",
                    path ? path : "<buffer>", kv->value_offset, key, (unsigned)kv->type, want);
}

int llm__gguf_get_u32(const llm__gguf *g, const char *key, uint32_t *out, const char *path,
                      llm__obj *err) {
    const llm__gguf_kv *kv = llm__gguf_find_kv(g, key);
    uint64_t v;
    int neg = 0;
    if (!kv)
        return LLM_ERR_NOT_FOUND;
    switch (kv->type) {
    case LLM__GGUF_U8: v = kv->value[0]; break;
    case LLM__GGUF_U16: v = le(kv->value, 2); break;
    case LLM__GGUF_U32: v = le(kv->value, 4); break;
    case LLM__GGUF_U64: v = le(kv->value, 8); break;
    case LLM__GGUF_I8: v = kv->value[0]; neg = (v & 0x80u) != 0; break;
    case LLM__GGUF_I16: v = le(kv->value, 2); neg = (v & 0x8000u) != 0; break;
    case LLM__GGUF_I32: v = le(kv->value, 4); neg = (v & 0x80000000u) != 0; break;
    case LLM__GGUF_I64: v = le(kv->value, 8); neg = (v >> 63) != 0; break;
    default: return wrong_type(kv, key, "an unsigned integer", path, err);
    }
    if (neg || v > UINT32_MAX)
        return llm__err(err, LLM_ERR_BAD_FILE, "%s: offset %zu: key '%s': value out of range",
                        path ? path : "<buffer>", kv->value_offset, key);
    *out = (uint32_t)v;
    return LLM_OK;
}

int llm__gguf_get_f32(const llm__gguf *g, const char *key, float *out, const char *path,
                      llm__obj *err) {
    const llm__gguf_kv *kv = llm__gguf_find_kv(g, key);
    if (!kv)
        return LLM_ERR_NOT_FOUND;
    if (kv->type == LLM__GGUF_F32) {
        uint32_t b = (uint32_t)le(kv->value, 4);
        memcpy(out, &b, 4);
    } else if (kv->type == LLM__GGUF_F64) {
        uint64_t b = le(kv->value, 8);
        double d;
        memcpy(&d, &b, 8);
        *out = (float)d;
    } else {
        return wrong_type(kv, key, "FLOAT32", path, err);
    }
    return LLM_OK;
}

int llm__gguf_get_bool(const llm__gguf *g, const char *key, int *out, const char *path,
                       llm__obj *err) {
    const llm__gguf_kv *kv = llm__gguf_find_kv(g, key);
    if (!kv)
        return LLM_ERR_NOT_FOUND;
    if (kv->type != LLM__GGUF_BOOL)
        return wrong_type(kv, key, "BOOL", path, err);
    *out = kv->value[0] != 0;
    return LLM_OK;
}

int llm__gguf_get_str(const llm__gguf *g, const char *key, const char **s, size_t *len,
                      const char *path, llm__obj *err) {
    const llm__gguf_kv *kv = llm__gguf_find_kv(g, key);
    if (!kv)
        return LLM_ERR_NOT_FOUND;
    if (kv->type != LLM__GGUF_STRING)
        return wrong_type(kv, key, "STRING", path, err);
    *len = (size_t)le(kv->value, 8);
    *s = (const char *)kv->value + 8;
    return LLM_OK;
}

void llm__gguf_arr_str_next(const llm__gguf_kv *kv, size_t *pos, const char **s, size_t *len) {
    const uint8_t *p = kv->value + *pos;
    *len = (size_t)le(p, 8);
    *s = (const char *)p + 8;
    *pos += 8 + *len;
}

/* ------------------------------------------------------------------------
 * Writer
 * ------------------------------------------------------------------------ */

typedef struct wr {
    FILE *f;
    int failed;
    uint64_t pos;
} wr;

static void w_bytes(wr *w, const void *p, size_t n) {
    if (!w->failed && n && fwrite(p, 1, n, w->f) != n)
        w->failed = 1;
    w->pos += n;
}

static void w_le(wr *w, uint64_t v, int n) {
    uint8_t b[8];
    int i;
    for (i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    w_bytes(w, b, (size_t)n);
}

static void w_str(wr *w, const char *s, size_t n) {
    w_le(w, n, 8);
    w_bytes(w, s, n);
}

static void w_scalar(wr *w, uint32_t type, uint64_t u, double f) {
    if (type == LLM__GGUF_F32) {
        float x = (float)f;
        uint32_t b;
        memcpy(&b, &x, 4);
        w_le(w, b, 4);
    } else if (type == LLM__GGUF_F64) {
        uint64_t b;
        memcpy(&b, &f, 8);
        w_le(w, b, 8);
    } else {
        w_le(w, u, (int)kv_scalar_size(type));
    }
}

static void w_pad(wr *w, uint32_t align) {
    static const uint8_t zeros[64];
    size_t pad = (size_t)((align - w->pos % align) % align);
    while (pad > 0) {
        size_t k = pad < sizeof zeros ? pad : sizeof zeros;
        w_bytes(w, zeros, k);
        pad -= k;
    }
}

static size_t tensor_bytes(const llm__gguf_wtensor *t) {
    size_t block, ts = llm__gguf_type_size(t->type, &block);
    uint64_t n = 1;
    uint32_t j;
    for (j = 0; j < t->n_dims; j++)
        n *= t->ne[j];
    return block ? (size_t)(n / block) * ts : 0;
}

int llm__gguf_write(const char *path, const llm__gguf_wkv *kv, size_t n_kv,
                    const llm__gguf_wtensor *t, size_t n_t, uint32_t alignment,
                    llm__obj *err) {
    llm__mem mem;
    char *tmp;
    size_t plen, i, j;
    int fd, rc = LLM_OK, saved;
    wr w;
    uint64_t off = 0;
    int add_align;

    if (err)
        mem = err->mem;
    else
        llm__mem_init(&mem, NULL, NULL);
    if (alignment == 0)
        alignment = LLM__GGUF_DEFAULT_ALIGNMENT;
    if ((alignment & (alignment - 1)) != 0)
        return llm__err(err, LLM_ERR_INVALID, "%s: alignment %u is not a power of two",
                        path, (unsigned)alignment);
    for (i = 0; i < n_t; i++) {
        size_t block;
        if (llm__gguf_type_size(t[i].type, &block) == 0 || t[i].n_dims > 4 ||
            strlen(t[i].name) >= LLM__GGUF_MAX_NAME || t[i].ne[0] % block != 0)
            return llm__err(err, LLM_ERR_INVALID, "%s: tensor '%s' cannot be written",
                            path, t[i].name);
    }
    add_align = alignment != LLM__GGUF_DEFAULT_ALIGNMENT;

    plen = strlen(path);
    tmp = llm__mem_alloc(&mem, plen + 16);
    if (!tmp)
        return llm__err(err, LLM_ERR_NOMEM, "%s: out of memory", path);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", 12);
    fd = mkstemp(tmp);
    if (fd < 0) {
        saved = errno;
        llm__mem_free(&mem, tmp, plen + 16);
        return llm__err(err, LLM_ERR_IO, "%s: cannot create a temporary file beside it: %s",
                        path, strerror(saved));
    }
    /* mkstemp creates mode 0600; give the file the usual permissions. */
    (void)fchmod(fd, 0644);
    w.f = fdopen(fd, "wb");
    w.failed = w.f == NULL;
    w.pos = 0;
    if (w.f) {
        w_le(&w, GGUF_MAGIC, 4);
        w_le(&w, 3, 4);
        w_le(&w, n_t, 8);
        w_le(&w, n_kv + (size_t)add_align, 8);
        if (add_align) {
            w_str(&w, "general.alignment", 17);
            w_le(&w, LLM__GGUF_U32, 4);
            w_le(&w, alignment, 4);
        }
        for (i = 0; i < n_kv; i++) {
            const llm__gguf_wkv *k = &kv[i];
            w_str(&w, k->key, strlen(k->key));
            w_le(&w, k->type, 4);
            if (k->type == LLM__GGUF_STRING) {
                w_str(&w, k->str, k->str_len);
            } else if (k->type == LLM__GGUF_ARRAY) {
                w_le(&w, k->arr_type, 4);
                w_le(&w, k->n, 8);
                if (k->arr_type == LLM__GGUF_STRING) {
                    for (j = 0; j < k->n; j++)
                        w_str(&w, k->strs[j], k->str_lens ? k->str_lens[j] : strlen(k->strs[j]));
                } else {
                    /* Numeric arrays are given packed little-endian (the
                     * host order on every platform we build for). */
                    w_bytes(&w, k->arr, k->n * kv_scalar_size(k->arr_type));
                }
            } else {
                w_scalar(&w, k->type, k->u, k->f);
            }
        }
        for (i = 0; i < n_t; i++) {
            size_t nb = tensor_bytes(&t[i]);
            w_str(&w, t[i].name, strlen(t[i].name));
            w_le(&w, t[i].n_dims, 4);
            for (j = 0; j < t[i].n_dims; j++)
                w_le(&w, t[i].ne[j], 8);
            w_le(&w, t[i].type, 4);
            w_le(&w, off, 8);
            off += nb + (alignment - nb % alignment) % alignment;
        }
        if (n_t > 0)
            w_pad(&w, alignment);
        for (i = 0; i < n_t; i++) {
            w_bytes(&w, t[i].data, tensor_bytes(&t[i]));
            w_pad(&w, alignment);
        }
        if (fflush(w.f) != 0 || fsync(fileno(w.f)) != 0)
            w.failed = 1;
        saved = errno;
        if (fclose(w.f) != 0)
            w.failed = 1;
    } else {
        saved = errno;
        close(fd);
    }
    if (w.failed) {
        unlink(tmp);
        rc = llm__err(err, LLM_ERR_IO, "%s: writing failed: %s", path, strerror(saved));
    } else if (rename(tmp, path) != 0) {
        saved = errno;
        unlink(tmp);
        rc = llm__err(err, LLM_ERR_IO, "%s: cannot rename the temporary file into place: %s",
                      path, strerror(saved));
    } else {
        /* Make the rename durable: fsync the directory. */
        char *slash = strrchr(tmp, '/');
        int dfd;
        if (slash) {
            slash[1] = '\0';
            dfd = open(tmp, O_RDONLY);
        } else {
            dfd = open(".", O_RDONLY);
        }
        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
    }
    llm__mem_free(&mem, tmp, plen + 16);
    return rc;
}
