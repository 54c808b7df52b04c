/*
 * checkpoint.c - training checkpoints: GGUF files written atomically by
 * lib/format/gguf.c (temporary file, fsync, rename, fsync of the
 * directory).
 *
 * Layout (version 1):
 *   keys   general.type = "libllm.train.checkpoint", libllm.train.version,
 *          libllm.train.{arch, n_vocab, n_ctx, n_embd, n_layer, n_head,
 *          n_head_kv, n_ff, cfg_flags, norm_eps, rope_base} (the model
 *          config), libllm.train.{batch, seq_len, grad_accum} (what
 *          shapes a batch; batch is the global R*B of R data-parallel
 *          workers, so any R' with R'*B' = R*B resumes it), libllm.train.{step, rng, cursor} (u64),
 *          libllm.train.grad_norm (f64), libllm.train.crc32;
 *   tensors for each model tensor, in the model's order: "<name>",
 *          "adam.m.<name>", "adam.v.<name>", F32, GGUF shapes.
 * The CRC-32 (zlib) runs over the data of all tensors in that order, so a
 * flipped bit anywhere in the numbers is caught on load.
 *
 * Invariant: llm_trainer_load validates everything (keys, shapes, CRC)
 * before it changes a single byte of the trainer or model.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "format/gguf.h"
#include "train/train.h"

#define CKPT_TYPE "libllm.train.checkpoint"
#define CKPT_VERSION 1u

typedef struct ckpt_u32 {
    const char *key;
    uint32_t value;
} ckpt_u32;

/* The u32 keys that must match between a checkpoint and a trainer. */
static size_t shape_keys(const llm_trainer *tr, ckpt_u32 *k) {
    const llm_model_config *c = &tr->model->cfg;
    size_t n = 0;
#define K(name, v) (k[n].key = "libllm.train." name, k[n].value = (uint32_t)(v), n++)
    K("arch", c->arch);
    K("n_vocab", c->n_vocab);
    K("n_ctx", c->n_ctx);
    K("n_embd", c->n_embd);
    K("n_layer", c->n_layer);
    K("n_head", c->n_head);
    K("n_head_kv", c->n_head_kv);
    K("n_ff", c->n_ff);
    K("cfg_flags", c->flags);
    K("batch", tr->B * tr->R); /* global: R workers of B rows each */
    K("seq_len", tr->T);
    K("grad_accum", tr->K);
#undef K
    return n;
}

static void tensor_ne(const llm__tensor *t, uint64_t ne[4]) {
    ne[0] = t->n_dims == 2 ? t->dims[1] : t->dims[0];
    ne[1] = t->n_dims == 2 ? t->dims[0] : 1;
    ne[2] = ne[3] = 1;
}

static uLong crc_floats(uLong crc, const void *p, size_t n) {
    const unsigned char *b = p;
    size_t bytes = n * sizeof(float);
    while (bytes > 0) {
        uInt k = bytes > (1u << 30) ? (1u << 30) : (uInt)bytes;
        crc = crc32(crc, b, k);
        b += k;
        bytes -= k;
    }
    return crc;
}

int llm_trainer_save(llm_trainer *tr, const char *path) {
    llm__gguf_wkv kv[24];
    ckpt_u32 sk[16];
    llm__gguf_wtensor *wt;
    char (*names)[LLM__GGUF_MAX_NAME];
    size_t n_kv = 0, n_sk, i, nt;
    uLong crc = crc32(0L, Z_NULL, 0);
    int rc;
    if (!llm__obj_is(tr, LLM__MAGIC_TRAINER))
        return llm__err(NULL, LLM_ERR_INVALID, "llm_trainer_save: trainer is NULL or not a trainer");
    if (!path)
        return llm__err(&tr->obj, LLM_ERR_INVALID, "llm_trainer_save: path is NULL");
    nt = tr->n_tensors;
    wt = llm__mem_calloc(&tr->obj.mem, 3 * nt + 1, sizeof *wt);
    names = llm__mem_calloc(&tr->obj.mem, 2 * nt + 1, sizeof *names);
    if (!wt || !names) {
        llm__mem_free(&tr->obj.mem, wt, (3 * nt + 1) * sizeof *wt);
        llm__mem_free(&tr->obj.mem, names, (2 * nt + 1) * sizeof *names);
        return llm__err(&tr->obj, LLM_ERR_NOMEM, "llm_trainer_save: out of memory");
    }
    for (i = 0; i < nt; i++) {
        const llm__tensor *t = &tr->model->tensors[i];
        const float *src[3];
        size_t j;
        src[0] = t->data;
        src[1] = tr->adam_m + tr->toff[i];
        src[2] = tr->adam_v + tr->toff[i];
        snprintf(names[2 * i], LLM__GGUF_MAX_NAME, "adam.m.%s", t->name);
        snprintf(names[2 * i + 1], LLM__GGUF_MAX_NAME, "adam.v.%s", t->name);
        for (j = 0; j < 3; j++) {
            llm__gguf_wtensor *w = &wt[3 * i + j];
            w->name = j == 0 ? t->name : names[2 * i + j - 1];
            w->n_dims = t->n_dims;
            tensor_ne(t, w->ne);
            w->type = LLM__GGML_F32;
            w->data = src[j];
            crc = crc_floats(crc, src[j], t->n);
        }
    }
    memset(kv, 0, sizeof kv);
    kv[n_kv].key = "general.type";
    kv[n_kv].type = LLM__GGUF_STRING;
    kv[n_kv].str = CKPT_TYPE;
    kv[n_kv++].str_len = strlen(CKPT_TYPE);
    kv[n_kv].key = "libllm.train.version";
    kv[n_kv].type = LLM__GGUF_U32;
    kv[n_kv++].u = CKPT_VERSION;
    n_sk = shape_keys(tr, sk);
    for (i = 0; i < n_sk; i++) {
        kv[n_kv].key = sk[i].key;
        kv[n_kv].type = LLM__GGUF_U32;
        kv[n_kv++].u = sk[i].value;
    }
    kv[n_kv].key = "libllm.train.norm_eps";
    kv[n_kv].type = LLM__GGUF_F32;
    kv[n_kv++].f = tr->model->cfg.norm_eps;
    kv[n_kv].key = "libllm.train.rope_base";
    kv[n_kv].type = LLM__GGUF_F32;
    kv[n_kv++].f = tr->model->cfg.rope_base;
    kv[n_kv].key = "libllm.train.step";
    kv[n_kv].type = LLM__GGUF_U64;
    kv[n_kv++].u = tr->step;
    kv[n_kv].key = "libllm.train.rng";
    kv[n_kv].type = LLM__GGUF_U64;
    kv[n_kv++].u = tr->rng;
    kv[n_kv].key = "libllm.train.cursor";
    kv[n_kv].type = LLM__GGUF_U64;
    kv[n_kv++].u = tr->cursor;
    kv[n_kv].key = "libllm.train.grad_norm";
    kv[n_kv].type = LLM__GGUF_F64;
    kv[n_kv++].f = tr->grad_norm;
    kv[n_kv].key = "libllm.train.crc32";
    kv[n_kv].type = LLM__GGUF_U32;
    kv[n_kv++].u = (uint32_t)crc;
    rc = llm__gguf_write(path, kv, n_kv, wt, 3 * nt, 0, &tr->obj);
    llm__mem_free(&tr->obj.mem, wt, (3 * nt + 1) * sizeof *wt);
    llm__mem_free(&tr->obj.mem, names, (2 * nt + 1) * sizeof *names);
    return rc;
}

/* Reads a u64 key stored as U64 (the getters of gguf.h stop at 32 bits). */
static int get_u64(const llm__gguf *g, const char *key, uint64_t *out) {
    const llm__gguf_kv *kv = llm__gguf_find_kv(g, key);
    uint64_t v = 0;
    int i;
    if (!kv || kv->type != LLM__GGUF_U64)
        return LLM_ERR_NOT_FOUND;
    for (i = 0; i < 8; i++)
        v |= (uint64_t)kv->value[i] << (8 * i);
    *out = v;
    return LLM_OK;
}

static int get_f64(const llm__gguf *g, const char *key, double *out) {
    const llm__gguf_kv *kv = llm__gguf_find_kv(g, key);
    uint64_t v = 0;
    int i;
    if (!kv || kv->type != LLM__GGUF_F64)
        return LLM_ERR_NOT_FOUND;
    for (i = 0; i < 8; i++)
        v |= (uint64_t)kv->value[i] << (8 * i);
    memcpy(out, &v, 8);
    return LLM_OK;
}

/* Checks the parsed checkpoint against the trainer; fills the three data
 * pointers per tensor. Changes nothing. */
static int validate(llm_trainer *tr, const llm__gguf *g, const char *path,
                    const unsigned char **src, uint64_t *step, uint64_t *rng, uint64_t *cursor,
                    double *gnorm) {
    llm__obj *e = &tr->obj;
    ckpt_u32 sk[16];
    const char *type;
    size_t type_len, n_sk, i, j;
    uint32_t u, crc_file;
    uLong crc = crc32(0L, Z_NULL, 0);
    int rc;
    rc = llm__gguf_get_str(g, "general.type", &type, &type_len, path, e);
    if (rc != LLM_OK || type_len != strlen(CKPT_TYPE) || memcmp(type, CKPT_TYPE, type_len) != 0)
        return llm__err(e, LLM_ERR_BAD_FILE,
                        "llm_trainer_load: %s: not a libllm training checkpoint (general.type)",
                        path);
    if (llm__gguf_get_u32(g, "libllm.train.version", &u, path, e) != LLM_OK || u != CKPT_VERSION)
        return llm__err(e, LLM_ERR_BAD_FILE,
                        "llm_trainer_load: %s: unsupported checkpoint version", path);
    n_sk = shape_keys(tr, sk);
    for (i = 0; i < n_sk; i++) {
        rc = llm__gguf_get_u32(g, sk[i].key, &u, path, e);
        if (rc == LLM_ERR_NOT_FOUND)
            return llm__err(e, LLM_ERR_BAD_FILE, "llm_trainer_load: %s: key '%s' is missing",
                            path, sk[i].key);
        if (rc != LLM_OK)
            return rc;
        if (u != sk[i].value)
            return llm__err(e, LLM_ERR_STATE,
                            "llm_trainer_load: %s: '%s' is %u in the checkpoint but %u in this "
                            "trainer", path, sk[i].key, (unsigned)u, (unsigned)sk[i].value);
    }
    if (get_u64(g, "libllm.train.step", step) || get_u64(g, "libllm.train.rng", rng) ||
        get_u64(g, "libllm.train.cursor", cursor) ||
        get_f64(g, "libllm.train.grad_norm", gnorm) ||
        llm__gguf_get_u32(g, "libllm.train.crc32", &crc_file, path, e) != LLM_OK)
        return llm__err(e, LLM_ERR_BAD_FILE,
                        "llm_trainer_load: %s: step, rng, cursor, grad_norm or crc32 missing",
                        path);
    if (g->n_tensors != 3 * tr->n_tensors)
        return llm__err(e, LLM_ERR_STATE,
                        "llm_trainer_load: %s: %zu tensors, expected %zu for this model", path,
                        g->n_tensors, 3 * tr->n_tensors);
    for (i = 0; i < tr->n_tensors; i++) {
        const llm__tensor *t = &tr->model->tensors[i];
        uint64_t ne[4];
        tensor_ne(t, ne);
        for (j = 0; j < 3; j++) {
            char name[LLM__GGUF_MAX_NAME];
            const llm__gguf_tensor *gt;
            if (j == 0)
                snprintf(name, sizeof name, "%s", t->name);
            else
                snprintf(name, sizeof name, "adam.%c.%s", j == 1 ? 'm' : 'v', t->name);
            gt = llm__gguf_find_tensor(g, name);
            if (!gt)
                return llm__err(e, LLM_ERR_STATE, "llm_trainer_load: %s: tensor '%s' is missing",
                                path, name);
            if (gt->type != LLM__GGML_F32 || gt->ne[0] != ne[0] || gt->ne[1] != ne[1] ||
                gt->ne[2] != 1 || gt->ne[3] != 1)
                return llm__err(e, LLM_ERR_STATE,
                                "llm_trainer_load: %s: tensor '%s' has type %s and shape "
                                "[%llu, %llu], expected F32 [%llu, %llu]",
                                path, name, llm__gguf_type_name(gt->type),
                                (unsigned long long)gt->ne[0], (unsigned long long)gt->ne[1],
                                (unsigned long long)ne[0], (unsigned long long)ne[1]);
            src[3 * i + j] = gt->data;
            crc = crc_floats(crc, gt->data, t->n);
        }
    }
    if ((uint32_t)crc != crc_file)
        return llm__err(e, LLM_ERR_BAD_FILE,
                        "llm_trainer_load: %s: CRC-32 of the tensor data is %08lx, the file "
                        "says %08lx: the file is corrupt",
                        path, (unsigned long)crc, (unsigned long)crc_file);
    return LLM_OK;
}

int llm_trainer_load(llm_trainer *tr, const char *path) {
    llm__gguf g;
    FILE *f;
    unsigned char *buf = NULL;
    const unsigned char **src = NULL;
    long sz;
    size_t size, i;
    uint64_t step = 0, rng = 0, cursor = 0;
    double gnorm = 0.0;
    int rc;
    if (!llm__obj_is(tr, LLM__MAGIC_TRAINER))
        return llm__err(NULL, LLM_ERR_INVALID, "llm_trainer_load: trainer is NULL or not a trainer");
    if (!path)
        return llm__err(&tr->obj, LLM_ERR_INVALID, "llm_trainer_load: path is NULL");
    f = fopen(path, "rb");
    if (!f)
        return llm__err(&tr->obj, errno == ENOENT ? LLM_ERR_NOT_FOUND : LLM_ERR_IO,
                        "llm_trainer_load: %s: %s", path, strerror(errno));
    {
        /* a directory opens fine on Linux and "seeks" to LONG_MAX */
        struct stat st;
        if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
            fclose(f);
            return llm__err(&tr->obj, LLM_ERR_INVALID,
                            "llm_trainer_load: %s: not a regular file", path);
        }
    }
    if (fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return llm__err(&tr->obj, LLM_ERR_IO, "llm_trainer_load: %s: cannot seek", path);
    }
    size = (size_t)sz;
    buf = llm__mem_alloc_aligned(&tr->obj.mem, size ? size : 1);
    if (!buf) {
        fclose(f);
        return llm__err(&tr->obj, LLM_ERR_NOMEM, "llm_trainer_load: %s: out of memory (%zu bytes)",
                        path, size);
    }
    if (fread(buf, 1, size, f) != size) {
        fclose(f);
        llm__mem_free_aligned(&tr->obj.mem, buf);
        return llm__err(&tr->obj, LLM_ERR_IO, "llm_trainer_load: %s: read failed", path);
    }
    fclose(f);
    rc = llm__gguf_parse(&g, buf, size, path, &tr->obj.mem, &tr->obj);
    if (rc != LLM_OK) {
        llm__mem_free_aligned(&tr->obj.mem, buf);
        return rc;
    }
    src = llm__mem_calloc(&tr->obj.mem, 3 * tr->n_tensors + 1, sizeof *src);
    if (!src) {
        rc = llm__err(&tr->obj, LLM_ERR_NOMEM, "llm_trainer_load: out of memory");
        goto done;
    }
    rc = validate(tr, &g, path, src, &step, &rng, &cursor, &gnorm);
    if (rc != LLM_OK)
        goto done;
    for (i = 0; i < tr->n_tensors; i++) {
        const llm__tensor *t = &tr->model->tensors[i];
        memcpy(t->data, src[3 * i], t->n * sizeof(float));
        memcpy(tr->adam_m + tr->toff[i], src[3 * i + 1], t->n * sizeof(float));
        memcpy(tr->adam_v + tr->toff[i], src[3 * i + 2], t->n * sizeof(float));
    }
    tr->step = step;
    tr->rng = rng;
    tr->cursor = cursor;
    tr->grad_norm = gnorm;
done:
    llm__mem_free(&tr->obj.mem, (void *)src, (3 * tr->n_tensors + 1) * sizeof *src);
    llm__gguf_release(&g);
    llm__mem_free_aligned(&tr->obj.mem, buf);
    return rc;
}
