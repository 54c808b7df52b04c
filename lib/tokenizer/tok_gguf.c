/*
 * tok_gguf.c - the tokenizer of a GGUF model file (tokenizer.ggml.* keys,
 * formats.md 2.2) for llm_tokenizer_load, and writing a tokenizer alone as
 * a GGUF file (no tensors) for llm_tokenizer_train's GGUF output.
 *
 * The GGUF reader/writer is lib/format/gguf.c, shared with the model part.
 * The keys are read into an llm__tok_spec and built by tok_spec.c; the
 * strings point into the file buffer, which lives until the build is done.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format/gguf.h"
#include "tokenizer/tok_internal.h"
#include "tokenizer/tok_spec.h"

static int32_t le32(const uint8_t *p) {
    return (int32_t)((uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
                     ((uint32_t)p[3] << 24));
}

static int from_gguf(llm_tokenizer **out, const llm__gguf *g, const char *path,
                     const llm_tokenizer_opts *o, const llm__mem *mem) {
    const llm__gguf_kv *kt = llm__gguf_find_kv(g, "tokenizer.ggml.tokens");
    const llm__gguf_kv *km = llm__gguf_find_kv(g, "tokenizer.ggml.merges");
    const llm__gguf_kv *ky = llm__gguf_find_kv(g, "tokenizer.ggml.token_type");
    const llm__gguf_kv *ks = llm__gguf_find_kv(g, "tokenizer.ggml.scores");
    llm__tok_spec spec;
    char model[32], pre[64];
    const char *s;
    size_t len, i, pos, n_str;
    const char **strs = NULL;
    size_t *lens = NULL;
    int32_t *types = NULL;
    float *scores = NULL;
    uint32_t u;
    int st, b;
    if (!kt)
        return llm__err(NULL, LLM_ERR_NOT_FOUND, "%s: the GGUF file has no tokenizer "
                        "(tokenizer.ggml.tokens)", path);
    if (kt->type != LLM__GGUF_ARRAY || kt->arr_type != LLM__GGUF_STRING || kt->n == 0)
        return llm__err(NULL, LLM_ERR_BAD_FILE, "%s: offset %zu: tokenizer.ggml.tokens is not "
                        "a non-empty array of strings", path, kt->value_offset);
    {
        /* the vocabulary cap before any array is sized by the count */
        llm__limits lim;
        llm__limits_tok(&lim, o);
        if (kt->n > lim.max_vocab)
            return llm__err(NULL, LLM_ERR_RANGE, "%s: offset %zu: vocabulary of %llu tokens "
                            "exceeds the cap max_vocab = %llu", path, kt->value_offset,
                            (unsigned long long)kt->n, (unsigned long long)lim.max_vocab);
    }
    if (km && (km->type != LLM__GGUF_ARRAY || km->arr_type != LLM__GGUF_STRING))
        return llm__err(NULL, LLM_ERR_BAD_FILE, "%s: offset %zu: tokenizer.ggml.merges is not "
                        "an array of strings", path, km->value_offset);
    if (ky && (ky->type != LLM__GGUF_ARRAY || ky->arr_type != LLM__GGUF_I32 || ky->n < kt->n))
        return llm__err(NULL, LLM_ERR_BAD_FILE, "%s: offset %zu: tokenizer.ggml.token_type must "
                        "be INT32[%llu]", path, ky->value_offset, (unsigned long long)kt->n);
    if (ks && (ks->type != LLM__GGUF_ARRAY || ks->arr_type != LLM__GGUF_F32 || ks->n < kt->n))
        return llm__err(NULL, LLM_ERR_BAD_FILE, "%s: offset %zu: tokenizer.ggml.scores must be "
                        "FLOAT32[%llu]", path, ks->value_offset, (unsigned long long)kt->n);
    memset(&spec, 0, sizeof spec);
    st = llm__gguf_get_str(g, "tokenizer.ggml.model", &s, &len, path, NULL);
    if (st == LLM_ERR_NOT_FOUND)
        return llm__err(NULL, LLM_ERR_BAD_FILE, "%s: tokenizer.ggml.model is missing", path);
    if (st)
        return st;
    snprintf(model, sizeof model, "%.*s", (int)(len < 31 ? len : 31), s);
    spec.model = model;
    st = llm__gguf_get_str(g, "tokenizer.ggml.pre", &s, &len, path, NULL);
    if (st == LLM_OK) {
        snprintf(pre, sizeof pre, "%.*s", (int)(len < 63 ? len : 63), s);
        spec.pre = pre;
    } else if (st != LLM_ERR_NOT_FOUND) {
        return st;
    }
    n_str = (size_t)kt->n + (km ? (size_t)km->n : 0);
    strs = llm__mem_calloc(mem, n_str, sizeof *strs);
    lens = llm__mem_calloc(mem, n_str, sizeof *lens);
    types = ky ? llm__mem_calloc(mem, (size_t)kt->n, sizeof *types) : NULL;
    scores = ks ? llm__mem_calloc(mem, (size_t)kt->n, sizeof *scores) : NULL;
    if (!strs || !lens || (ky && !types) || (ks && !scores)) {
        st = llm__err(NULL, LLM_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    for (i = 0, pos = 0; i < kt->n; i++)
        llm__gguf_arr_str_next(kt, &pos, &strs[i], &lens[i]);
    for (i = 0, pos = 0; km && i < km->n; i++)
        llm__gguf_arr_str_next(km, &pos, &strs[kt->n + i], &lens[kt->n + i]);
    for (i = 0; ky && i < kt->n; i++)
        types[i] = le32(ky->value + 4 * i);
    for (i = 0; ks && i < kt->n; i++) {
        int32_t bits = le32(ks->value + 4 * i);
        memcpy(&scores[i], &bits, 4);
    }
    spec.scores = scores;
    spec.n_tokens = (size_t)kt->n;
    spec.tokens = strs;
    spec.token_lens = lens;
    spec.token_types = types;
    spec.n_merges = km ? (size_t)km->n : 0;
    spec.merges = km ? strs + kt->n : NULL;
    spec.merge_lens = km ? lens + kt->n : NULL;
    spec.bos_id = spec.eos_id = spec.unk_id = spec.pad_id = -1;
    {
        static const char *const keys[4] = {
            "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
            "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id"};
        int32_t *dst[4] = {&spec.bos_id, &spec.eos_id, &spec.unk_id, &spec.pad_id};
        int k;
        for (k = 0; k < 4; k++) {
            st = llm__gguf_get_u32(g, keys[k], &u, path, NULL);
            if (st == LLM_OK && u < kt->n)
                *dst[k] = (int32_t)u;
            else if (st != LLM_OK && st != LLM_ERR_NOT_FOUND)
                goto done;
        }
    }
    b = 0;
    st = llm__gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b, path, NULL);
    if (st != LLM_OK && st != LLM_ERR_NOT_FOUND)
        goto done;
    spec.add_bos = b;
    {
        llm__limits lim;
        llm__limits_tok(&lim, o);
        st = llm__tok_from_spec(out, &spec, path, o->alloc, o->alloc_ud, &lim);
    }
done:
    llm__mem_free(mem, (void *)strs, n_str * sizeof *strs);
    llm__mem_free(mem, lens, n_str * sizeof *lens);
    if (types)
        llm__mem_free(mem, types, (size_t)kt->n * sizeof *types);
    if (scores)
        llm__mem_free(mem, scores, (size_t)kt->n * sizeof *scores);
    return st;
}

int llm__tokgguf_load(llm_tokenizer **out, const char *path, const llm_tokenizer_opts *o) {
    llm__mem mem;
    llm__gguf g;
    struct stat sb;
    void *map;
    int fd, st;
    if (o->n_special)
        return llm__err(NULL, LLM_ERR_UNSUPPORTED, "%s: opts.special is not supported for "
                        "GGUF tokenizers", path);
    llm__mem_init(&mem, o->alloc, o->alloc_ud);
    /* a model file may be large: map it rather than read it */
    fd = open(path, O_RDONLY);
    if (fd < 0)
        return llm__err(NULL, LLM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fd, &sb) != 0 || sb.st_size <= 0) {
        close(fd);
        return llm__err(NULL, LLM_ERR_BAD_FILE, "%s: empty or unreadable file", path);
    }
    map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return llm__err(NULL, LLM_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
    {
        llm__limits lim;
        llm__limits_tok(&lim, o);
        st = llm__gguf_parse_ex(&g, map, (size_t)sb.st_size, path, &mem, NULL, &lim);
    }
    if (st == LLM_OK) {
        st = from_gguf(out, &g, path, o, &mem);
        llm__gguf_release(&g);
    }
    munmap(map, (size_t)sb.st_size);
    if (st == LLM_OK && o->pattern && (*out)->kind != LLM__TOK_SPM &&
        o->pattern != (*out)->pattern) {
        /* an explicit split scheme overrides the file's */
        (*out)->pattern = o->pattern;
        llm__split_free(*out);
        st = llm__split_compile(*out, path);
        if (st) {
            llm_tokenizer_free(*out);
            *out = NULL;
        }
    }
    return st;
}

/* Appends one key of each kind to kv[*n]. */
static void put(llm__gguf_wkv *kv, size_t *n, const char *key, uint32_t type) {
    memset(&kv[*n], 0, sizeof kv[*n]);
    kv[*n].key = key;
    kv[*n].type = type;
    ++*n;
}

size_t llm__tokgguf_kv(llm__gguf_wkv *kv, const llm__tok_spec *spec) {
    static const char *const id_keys[4] = {
        "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
        "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id"};
    const int32_t ids[4] = {spec->bos_id, spec->eos_id, spec->unk_id, spec->pad_id};
    size_t n = 0, i;
    llm__gguf_wkv *k;
    put(kv, &n, "tokenizer.ggml.model", LLM__GGUF_STRING);
    kv[n - 1].str = spec->model;
    kv[n - 1].str_len = strlen(spec->model);
    if (spec->pre) {
        put(kv, &n, "tokenizer.ggml.pre", LLM__GGUF_STRING);
        kv[n - 1].str = spec->pre;
        kv[n - 1].str_len = strlen(spec->pre);
    }
    put(kv, &n, "tokenizer.ggml.tokens", LLM__GGUF_ARRAY);
    k = &kv[n - 1];
    k->arr_type = LLM__GGUF_STRING;
    k->n = spec->n_tokens;
    k->strs = spec->tokens;
    k->str_lens = spec->token_lens;
    if (spec->scores) {
        put(kv, &n, "tokenizer.ggml.scores", LLM__GGUF_ARRAY);
        kv[n - 1].arr_type = LLM__GGUF_F32;
        kv[n - 1].n = spec->n_tokens;
        kv[n - 1].arr = spec->scores;
    }
    if (spec->token_types) {
        put(kv, &n, "tokenizer.ggml.token_type", LLM__GGUF_ARRAY);
        kv[n - 1].arr_type = LLM__GGUF_I32;
        kv[n - 1].n = spec->n_tokens;
        kv[n - 1].arr = spec->token_types;
    }
    if (spec->n_merges) {
        put(kv, &n, "tokenizer.ggml.merges", LLM__GGUF_ARRAY);
        k = &kv[n - 1];
        k->arr_type = LLM__GGUF_STRING;
        k->n = spec->n_merges;
        k->strs = spec->merges;
        k->str_lens = spec->merge_lens;
    }
    for (i = 0; i < 4; i++)
        if (ids[i] >= 0) {
            put(kv, &n, id_keys[i], LLM__GGUF_U32);
            kv[n - 1].u = (uint64_t)ids[i];
        }
    put(kv, &n, "tokenizer.ggml.add_bos_token", LLM__GGUF_BOOL);
    kv[n - 1].u = spec->add_bos != 0;
    return n;
}

int llm__tokgguf_save(const llm_tokenizer *tok, const char *path) {
    llm__tok_spec spec;
    llm__gguf_wkv kv[1 + LLM__TOK_GGUF_MAX_KV];
    size_t n = 1;
    int st;
    if ((st = llm__tok_get_spec(tok, &spec)) != LLM_OK)
        return st;
    memset(kv, 0, sizeof kv[0]);
    kv[0].key = "general.architecture";
    kv[0].type = LLM__GGUF_STRING;
    kv[0].str = "tokenizer";
    kv[0].str_len = 9;
    n += llm__tokgguf_kv(kv + 1, &spec);
    return llm__gguf_write(path, kv, n, NULL, 0, 0, NULL);
}
