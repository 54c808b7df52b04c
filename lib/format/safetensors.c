/*
 * safetensors.c - safetensors reader (formats.md 3.1-3.3).
 *
 * Invariant: nothing outside [buf, buf+size) is read; the JSON header is
 * parsed into its own document (json.c copies what it needs), and tensor
 * data pointers are computed only after their offsets were checked.
 */
#include <stdlib.h>
#include <string.h>

#include "format/json.h"
#include "format/safetensors.h"

#define ST_MAX_HEADER 100000000ull

static int dtype_bits(const char *d) {
    static const struct { const char *n; int bits; } t[] = {
        {"BOOL", 8}, {"U8", 8}, {"I8", 8}, {"F8_E5M2", 8}, {"F8_E4M3", 8},
        {"I16", 16}, {"U16", 16}, {"F16", 16}, {"BF16", 16},
        {"I32", 32}, {"U32", 32}, {"F32", 32}, {"F64", 64}, {"I64", 64}, {"U64", 64},
    };
    size_t i;
    for (i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(t[i].n, d) == 0)
            return t[i].bits;
    return 0;
}

void llm__st_release(llm__st *st) {
    size_t i;
    if (!st || !st->t)
        return;
    for (i = 0; i < st->n; i++)
        if (st->t[i].name)
            llm__mem_free(&st->mem, st->t[i].name, strlen(st->t[i].name) + 1);
    llm__mem_free(&st->mem, st->t, st->cap * sizeof *st->t);
    st->t = NULL;
    st->n = 0;
}

const llm__st_tensor *llm__st_find(const llm__st *st, const char *name) {
    size_t i;
    for (i = 0; i < st->n; i++)
        if (strcmp(st->t[i].name, name) == 0)
            return &st->t[i];
    return NULL;
}

static int cmp_begin(const void *a, const void *b) {
    const llm__st_tensor *x = *(const llm__st_tensor *const *)a;
    const llm__st_tensor *y = *(const llm__st_tensor *const *)b;
    return x->data < y->data ? -1 : x->data > y->data;
}

int llm__st_parse(llm__st *st, const void *buf, size_t size, const char *path,
                  const llm__mem *mem, llm__obj *err) {
    const uint8_t *b = buf;
    uint64_t hlen = 0, data_size, end_prev = 0;
    llm__json *doc = NULL;
    llm__json_val root;
    size_t i, k, n_members = 0, n = 0;
    llm__st_tensor **order = NULL;
    int rc = LLM_OK;

    memset(st, 0, sizeof *st);
    st->mem = *mem;
    if (size < 8)
        return llm__err(err, LLM_ERR_BAD_FILE, "%s: %zu bytes is too short for a safetensors file",
                        path, size);
    for (i = 0; i < 8; i++)
        hlen |= (uint64_t)b[i] << (8 * i);
    if (hlen > ST_MAX_HEADER || hlen > size - 8)
        return llm__err(err, LLM_ERR_BAD_FILE,
                        "%s: offset 0: header length %llu exceeds the file or 100 MB", path,
                        (unsigned long long)hlen);
    if (hlen == 0 || b[8] != '{')
        return llm__err(err, LLM_ERR_BAD_FILE, "%s: offset 8: the header is not a JSON object", path);
    data_size = size - 8 - hlen;
    if ((rc = llm__json_parse(&doc, err, mem, (const char *)b + 8, (size_t)hlen, path)) != LLM_OK)
        return rc;
    root = llm__json_root(doc);
    if (llm__json_type(doc, root) != LLM__JSON_OBJECT) {
        llm__json_free(doc);
        return llm__err(err, LLM_ERR_BAD_FILE, "%s: offset 8: the header is not a JSON object", path);
    }
    n_members = llm__json_count(doc, root);
    st->cap = n_members ? n_members : 1;
    st->t = llm__mem_calloc(mem, st->cap, sizeof *st->t);
    order = llm__mem_calloc(mem, n_members ? n_members : 1, sizeof *order);
    if (!st->t || !order) {
        rc = llm__err(err, LLM_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    n = 0;
    for (i = 0; i < n_members; i++) {
        llm__json_val key = llm__json_key_at(doc, root, i), v = llm__json_value_at(doc, root, i);
        llm__json_val dt, shape, offs;
        llm__st_tensor *t = &st->t[n];
        size_t klen;
        const char *kname = llm__json_str(doc, key, &klen);
        const char *dts;
        int64_t begin, end, d;
        uint64_t bits;
        int db;
        size_t at = 8 + llm__json_offset(doc, v);
        if (strcmp(kname, "__metadata__") == 0)
            continue;
        if (llm__json_type(doc, v) != LLM__JSON_OBJECT) {
            rc = llm__err(err, LLM_ERR_BAD_FILE, "%s: offset %zu: entry '%s' is not an object",
                          path, at, kname);
            goto done;
        }
        dt = llm__json_get(doc, v, "dtype");
        shape = llm__json_get(doc, v, "shape");
        offs = llm__json_get(doc, v, "data_offsets");
        dts = llm__json_str(doc, dt, NULL);
        if (!dts || llm__json_type(doc, shape) != LLM__JSON_ARRAY ||
            llm__json_type(doc, offs) != LLM__JSON_ARRAY || llm__json_count(doc, offs) != 2 ||
            !llm__json_int64(doc, llm__json_at(doc, offs, 0), &begin) ||
            !llm__json_int64(doc, llm__json_at(doc, offs, 1), &end) || begin < 0 || end < begin) {
            rc = llm__err(err, LLM_ERR_BAD_FILE,
                          "%s: offset %zu: tensor '%s' needs dtype, shape and data_offsets "
                          "[begin, end] with 0 <= begin <= end",
                          path, at, kname);
            goto done;
        }
        db = dtype_bits(dts);
        if (db == 0 || strlen(dts) >= sizeof t->dtype) {
            rc = llm__err(err, LLM_ERR_UNSUPPORTED, "%s: offset %zu: tensor '%s' has dtype '%s'",
                          path, at, kname, dts);
            goto done;
        }
        if (llm__json_count(doc, shape) > LLM__ST_MAX_DIMS) {
            rc = llm__err(err, LLM_ERR_BAD_FILE, "%s: offset %zu: tensor '%s' has too many dims",
                          path, at, kname);
            goto done;
        }
        strcpy(t->dtype, dts);
        t->n_dims = (uint32_t)llm__json_count(doc, shape);
        t->n_elements = 1;
        for (k = 0; k < t->n_dims; k++) {
            if (!llm__json_int64(doc, llm__json_at(doc, shape, k), &d) || d < 0 ||
                (d > 0 && t->n_elements > (UINT64_MAX / 64) / (uint64_t)d)) {
                rc = llm__err(err, LLM_ERR_BAD_FILE,
                              "%s: offset %zu: tensor '%s': bad or overflowing shape", path, at,
                              kname);
                goto done;
            }
            t->shape[k] = (uint64_t)d;
            t->n_elements *= (uint64_t)d;
        }
        bits = t->n_elements * (uint64_t)db;
        if (bits % 8 != 0 || (uint64_t)(end - begin) != bits / 8 || (uint64_t)end > data_size) {
            rc = llm__err(err, LLM_ERR_BAD_FILE,
                          "%s: offset %zu: tensor '%s': data_offsets [%lld, %lld) disagree with "
                          "its shape and dtype or lie outside the %llu data bytes",
                          path, at, kname, (long long)begin, (long long)end,
                          (unsigned long long)data_size);
            goto done;
        }
        t->name = llm__json_strdup(doc, key, mem, NULL);
        if (!t->name) { /* a NUL inside the name, or no memory */
            rc = memchr(kname, 0, klen)
                     ? llm__err(err, LLM_ERR_BAD_FILE, "%s: offset %zu: bad tensor name", path, at)
                     : llm__err(err, LLM_ERR_NOMEM, "%s: out of memory", path);
            goto done;
        }
        t->data = b + 8 + hlen + begin;
        t->nbytes = (size_t)(end - begin);
        order[n] = t;
        n++;
        st->n = n;
    }
    /* Names unique; data contiguous from 0 to the end of the file. */
    for (i = 0; i < n; i++)
        for (k = i + 1; k < n && n <= 4096; k++)
            if (strcmp(st->t[i].name, st->t[k].name) == 0) {
                rc = llm__err(err, LLM_ERR_BAD_FILE, "%s: duplicate tensor '%s'", path,
                              st->t[i].name);
                goto done;
            }
    qsort(order, n, sizeof *order, cmp_begin);
    for (i = 0; i < n; i++) {
        uint64_t begin = (uint64_t)(order[i]->data - (b + 8 + hlen));
        if (begin != end_prev) {
            rc = llm__err(err, LLM_ERR_BAD_FILE,
                          "%s: tensor '%s' starts at data offset %llu, expected %llu (hole or "
                          "overlap)",
                          path, order[i]->name, (unsigned long long)begin,
                          (unsigned long long)end_prev);
            goto done;
        }
        end_prev = begin + order[i]->nbytes;
    }
    if (end_prev != data_size)
        rc = llm__err(err, LLM_ERR_BAD_FILE,
                      "%s: the tensors cover %llu of the %llu data bytes (truncated or padded file)",
                      path, (unsigned long long)end_prev, (unsigned long long)data_size);
done:
    llm__mem_free(mem, order, (n_members ? n_members : 1) * sizeof *order);
    llm__json_free(doc);
    if (rc != LLM_OK) {
        st->n = n; /* entries 0..n-1 own their names */
        llm__st_release(st);
    }
    return rc;
}
