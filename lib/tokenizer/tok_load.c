/*
 * tok_load.c - reading vocabulary files into a tokenizer:
 *   OpenAI GPT-2   encoder.json + vocab.bpe        (formats.md 5.4)
 *   Hugging Face   vocab.json + merges.txt [+ tokenizer_config.json]
 *   Hugging Face   tokenizer.json (BPE model, ByteLevel pre-tokenizer)
 *   tiktoken       *.tiktoken ("base64 rank" lines)
 *
 * Token texts in the JSON/merges files are written in GPT-2's byte
 * alphabet (each byte shown as one printable character, formats.md 5.2);
 * they are turned back into raw bytes here, so the tokenizer itself only
 * ever sees bytes. Added/special tokens are stored as their raw text.
 *
 * Which tokens are special: in JSON vocabularies, a token of two or more
 * bytes that no merge produces can never come out of BPE; those are the
 * special tokens (<|endoftext|> ...), plus HF added_tokens. Semantics of
 * merging (see tok_internal.h): encoder.json/vocab.bpe and .tiktoken use
 * tiktoken's rank rule (the oracle for those files), HF files their merge
 * list. Every error names the file and the line, entry or byte offset.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "format/json.h"
#include "tokenizer/tok_internal.h"

/* ---- GPT-2 byte alphabet ---- */

static int printable(unsigned b) {
    return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
}

uint32_t llm__tokload_byte_cp(uint8_t b) {
    unsigned n = 0, i;
    if (printable(b))
        return b;
    for (i = 0; i < b; i++)
        n += !printable(i);
    return 256 + n;
}

int llm__tokload_cp_byte(uint32_t cp) {
    unsigned i, n = 0;
    if (cp < 256)
        return printable(cp) ? (int)cp : -1;
    if (cp >= 256 + 68)
        return -1;
    for (i = 0; i < 256; i++)
        if (!printable(i) && n++ == cp - 256)
            return (int)i;
    return -1;
}

typedef struct alpha {
    int16_t cp_byte[324]; /* code point -> byte, -1 */
} alpha;

static void alpha_init(alpha *a) {
    uint32_t cp;
    for (cp = 0; cp < 324; cp++)
        a->cp_byte[cp] = (int16_t)llm__tokload_cp_byte(cp);
}

/* Decodes alphabet text (valid UTF-8) into bytes; out holds >= n bytes.
 * Returns the byte count, or (size_t)-1 for a character outside it. */
static size_t alpha_decode(const alpha *a, const char *s, size_t n, uint8_t *out) {
    const uint8_t *p = (const uint8_t *)s, *e = p + n;
    size_t k = 0;
    while (p < e) {
        uint32_t cp;
        if (p[0] < 0x80) {
            cp = p[0];
            p++;
        } else if ((p[0] & 0xE0) == 0xC0 && p + 1 < e) {
            cp = ((uint32_t)(p[0] & 0x1F) << 6) | (p[1] & 0x3F);
            p += 2;
        } else {
            return (size_t)-1; /* 3/4-byte characters are all outside */
        }
        if (cp >= 324 || a->cp_byte[cp] < 0)
            return (size_t)-1;
        out[k++] = (uint8_t)a->cp_byte[cp];
    }
    return k;
}

/* ---- files ---- */

typedef struct file_buf {
    char *data; /* NUL-terminated copy of the file */
    size_t len, cap;
} file_buf;

static int read_file(const llm__mem *m, const char *path, file_buf *fb) {
    FILE *f = fopen(path, "rb");
    size_t cap = 1 << 16, len = 0;
    char *buf;
    fb->data = NULL;
    fb->len = fb->cap = 0;
    if (!f)
        return llm__err(NULL, errno == ENOENT ? LLM_ERR_NOT_FOUND : LLM_ERR_IO,
                        "%s: cannot open: %s", path, strerror(errno));
    buf = llm__mem_alloc(m, cap);
    for (;;) {
        size_t got;
        if (!buf) {
            fclose(f);
            return llm__err(NULL, LLM_ERR_NOMEM, "%s: out of memory reading the file", path);
        }
        got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (len < cap - 1) {
            if (ferror(f)) {
                int e = errno;
                llm__mem_free(m, buf, cap);
                fclose(f);
                return llm__err(NULL, LLM_ERR_IO, "%s: read error after %zu bytes: %s", path,
                                len, strerror(e));
            }
            break;
        }
        {
            char *nb = cap > SIZE_MAX / 2 ? NULL : llm__mem_realloc(m, buf, cap, cap * 2);
            if (!nb)
                llm__mem_free(m, buf, cap);
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    buf[len] = '\0';
    fb->data = buf;
    fb->len = len;
    fb->cap = cap;
    return LLM_OK;
}

static void free_file(const llm__mem *m, file_buf *fb) {
    if (fb->data)
        llm__mem_free(m, fb->data, fb->cap);
    fb->data = NULL;
}

static int is_dir(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* ---- shared steps ---- */

typedef struct loader {
    const llm_tokenizer_opts *o;
    llm__mem mem;      /* for temporary buffers (the caller's allocator) */
    alpha al;
    uint8_t *tmp;      /* decode buffer */
    size_t tmp_cap;
} loader;

static int tmp_reserve(loader *L, size_t n) {
    if (n <= L->tmp_cap)
        return 0;
    {
        size_t nc = n < 256 ? 256 : n * 2;
        uint8_t *nb = llm__mem_realloc(&L->mem, L->tmp, L->tmp_cap, nc);
        if (!nb)
            return -1;
        L->tmp = nb;
        L->tmp_cap = nc;
    }
    return 0;
}

static void loader_done(loader *L) {
    llm__mem_free(&L->mem, L->tmp, L->tmp_cap);
    L->tmp = NULL;
    L->tmp_cap = 0;
}

/* Finds the id of a special token by text among the loaded tokens, -1. */
static int32_t find_text(const llm_tokenizer *t, const char *s, size_t n) {
    size_t id;
    for (id = 0; id < t->n_vocab; id++)
        if (t->tok_type[id] != LLM__TT_NONE && t->tok_len[id] == n &&
            memcmp(t->bytes + t->tok_off[id], s, n) == 0)
            return (int32_t)id;
    return -1;
}

/* Marks multi-byte ordinary tokens that no merge produces as special, and
 * re-indexes. Needs an index (to resolve merges) before the call. */
int llm__tokload_mark_unreachable(llm_tokenizer *t, const char *where) {
    uint8_t *made = llm__mem_calloc(&t->obj.mem, t->n_vocab, 1);
    size_t k, id, changed = 0;
    uint8_t small[256];
    if (!made)
        return llm__err(NULL, LLM_ERR_NOMEM, "%s: out of memory", where);
    for (k = 0; k < t->n_merges; k++) {
        int32_t l = t->merges[2 * k], r = t->merges[2 * k + 1], m;
        size_t ll = t->tok_len[l], rl = t->tok_len[r];
        if (ll + rl > sizeof small)
            continue; /* such long tokens are never special */
        memcpy(small, t->bytes + t->tok_off[l], ll);
        memcpy(small + ll, t->bytes + t->tok_off[r], rl);
        m = llm__tokenizer_find(t, small, ll + rl);
        if (m >= 0)
            made[m] = 1;
    }
    for (id = 0; id < t->n_vocab; id++)
        if (t->tok_type[id] == LLM__TT_NORMAL && t->tok_len[id] >= 2 && !made[id] &&
            (t->tok_len[id] <= sizeof small)) {
            t->tok_type[id] = LLM__TT_CONTROL;
            changed++;
        }
    llm__mem_free(&t->obj.mem, made, t->n_vocab);
    return changed ? llm__tokenizer_index(t, where) : LLM_OK;
}

/* User specials from the options, then BOS/EOS defaults, then finish. */
static int finish_common(llm_tokenizer *t, const llm_tokenizer_opts *o, const char *where) {
    size_t i;
    int st;
    for (i = 0; i < o->n_special; i++) {
        const char *s = o->special[i];
        size_t n = strlen(s);
        int32_t id = find_text(t, s, n);
        if (id >= 0) {
            if (t->tok_type[id] == LLM__TT_NORMAL || t->tok_type[id] == LLM__TT_BYTE)
                return llm__err(NULL, LLM_ERR_INVALID,
                                "%s: opts.special[%zu] \"%s\" is an ordinary token (%ld)",
                                where, i, s, (long)id);
            continue;
        }
        t->n_vocab++;
        st = llm__tokenizer_set(t, (int32_t)(t->n_vocab - 1), s, n, LLM__TT_USER, where);
        if (st)
            return st;
    }
    if (t->eos < 0)
        t->eos = find_text(t, "<|endoftext|>", 13);
    if (t->bos < 0)
        t->bos = t->eos;
    if (o->pattern)
        t->pattern = o->pattern;
    return llm__tokenizer_finish(t, where);
}

static int new_tok(llm_tokenizer **t, size_t n_base, const llm_tokenizer_opts *o,
                   const char *where) {
    int st;
    llm__limits lim;
    if (n_base > (size_t)INT32_MAX - o->n_special)
        return llm__err(NULL, LLM_ERR_BAD_FILE, "%s: vocabulary too large", where);
    llm__limits_tok(&lim, o);
    st = llm__tokenizer_new(t, n_base + o->n_special, o->alloc, o->alloc_ud, where, &lim);
    if (st == LLM_OK)
        (*t)->n_vocab = n_base;
    return st;
}

/* ---- JSON vocabularies ---- */

/* Largest id of a {"text": id} object; checks ids are integers. */
static int vocab_max_id(const llm__json *d, llm__json_val obj, const char *where, size_t *max) {
    size_t i, n = llm__json_count(d, obj);
    *max = 0;
    if (llm__json_type(d, obj) != LLM__JSON_OBJECT)
        return llm__err(NULL, LLM_ERR_BAD_FILE, "%s: byte %zu: the vocabulary is not a JSON "
                        "object", where, llm__json_offset(d, obj));
    if (n == 0)
        return llm__err(NULL, LLM_ERR_BAD_FILE, "%s: the vocabulary is empty", where);
    for (i = 0; i < n; i++) {
        llm__json_val v = llm__json_value_at(d, obj, i);
        int64_t id;
        if (!llm__json_int64(d, v, &id) || id < 0 || id >= INT32_MAX)
            return llm__err(NULL, LLM_ERR_BAD_FILE,
                            "%s: line %zu: token \"%s\": id is not an integer in [0, 2^31-1)",
                            where, llm__json_line(d, v),
                            llm__json_str(d, llm__json_key_at(d, obj, i), NULL));
        if ((size_t)id > *max)
            *max = (size_t)id;
    }
    return LLM_OK;
}

/* Sets every token of a {"text": id} object; ids in `skip` (non-zero)
 * were set already as added tokens. */
static int vocab_set(loader *L, llm_tokenizer *t, const llm__json *d, llm__json_val obj,
                     const uint8_t *skip, const char *where) {
    size_t i, n = llm__json_count(d, obj);
    int st;
    for (i = 0; i < n; i++) {
        llm__json_val k = llm__json_key_at(d, obj, i);
        int64_t id;
        size_t klen, blen;
        const char *ks = llm__json_str(d, k, &klen);
        llm__json_int64(d, llm__json_value_at(d, obj, i), &id);
        if (skip && skip[id])
            continue;
        if (tmp_reserve(L, klen))
            return llm__err(NULL, LLM_ERR_NOMEM, "%s: out of memory", where);
        blen = alpha_decode(&L->al, ks, klen, L->tmp);
        if (blen == (size_t)-1)
            return llm__err(NULL, LLM_ERR_BAD_FILE,
                            "%s: line %zu: token \"%s\" (id %ld) has a character outside "
                            "GPT-2's byte alphabet", where, llm__json_line(d, k), ks, (long)id);
        st = llm__tokenizer_set(t, (int32_t)id, L->tmp, blen, LLM__TT_NORMAL, where);
        if (st)
            return st;
    }
    return LLM_OK;
}

/* Resolves alphabet text to an ordinary token id (-1 if none). */
static int32_t alpha_find(loader *L, const llm_tokenizer *t, const char *s, size_t n) {
    size_t b;
    if (tmp_reserve(L, n + 1))
        return -2;
    b = alpha_decode(&L->al, s, n, L->tmp);
    if (b == (size_t)-1 || b == 0)
        return -1;
    return llm__tokenizer_find(t, L->tmp, b);
}

static int add_merge_text(loader *L, llm_tokenizer *t, const char *a, size_t an, const char *b,
                          size_t bn, const char *where, size_t line) {
    int32_t l = alpha_find(L, t, a, an), r;
    if (l == -2)
        return llm__err(NULL, LLM_ERR_NOMEM, "%s: out of memory", where);
    r = alpha_find(L, t, b, bn);
    if (r == -2)
        return llm__err(NULL, LLM_ERR_NOMEM, "%s: out of memory", where);
    if (l < 0 || r < 0)
        return llm__err(NULL, LLM_ERR_BAD_FILE, "%s: line %zu: merge \"%.*s %.*s\" names a token "
                        "that is not in the vocabulary (\"%.*s\")", where, line, (int)an, a,
                        (int)bn, b, l < 0 ? (int)an : (int)bn, l < 0 ? a : b);
    return llm__tokenizer_add_merge(t, l, r, where);
}

/* merges.txt / vocab.bpe: "#version" first line skipped, one "a b" merge
 * per line (split at the first space after the first character). */
static int merges_txt(loader *L, llm_tokenizer *t, const file_buf *fb, const char *where) {
    const char *p = fb->data, *e = p + fb->len;
    size_t line = 0;
    int st;
    while (p < e) {
        const char *nl = memchr(p, '\n', (size_t)(e - p)), *sp;
        size_t n;
        if (!nl)
            nl = e;
        line++;
        n = (size_t)(nl - p);
        if (n && p[n - 1] == '\r')
            n--;
        if (n == 0 || (line == 1 && n >= 8 && memcmp(p, "#version", 8) == 0)) {
            p = nl + 1;
            continue;
        }
        sp = n > 1 ? memchr(p + 1, ' ', n - 1) : NULL;
        if (!sp || sp == p + n - 1 || memchr(sp + 1, ' ', (size_t)(p + n - sp - 1)))
            return llm__err(NULL, LLM_ERR_BAD_FILE,
                            "%s: line %zu: a merge must be two tokens separated by one space",
                            where, line);
        st = add_merge_text(L, t, p, (size_t)(sp - p), sp + 1, (size_t)(p + n - sp - 1), where,
                            line);
        if (st)
            return st;
        p = nl + 1;
    }
    return LLM_OK;
}

/* tokenizer_config.json: add_bos_token, bos_token, eos_token (a string or
 * {"content": ...}), added_tokens_decoder {"id": {"content", "special"}}. */
static int apply_config(llm_tokenizer *t, const llm__json *d, const char *where) {
    llm__json_val r = llm__json_root(d), v;
    static const char *const names[2] = {"bos_token", "eos_token"};
    int i, b;
    if (llm__json_type(d, r) != LLM__JSON_OBJECT)
        return llm__err(NULL, LLM_ERR_BAD_FILE, "%s: not a JSON object", where);
    b = llm__json_bool(d, llm__json_get(d, r, "add_bos_token"));
    if (b >= 0)
        t->add_bos = b;
    for (i = 0; i < 2; i++) {
        const char *s;
        size_t n;
        int32_t id;
        v = llm__json_get(d, r, names[i]);
        if (llm__json_type(d, v) == LLM__JSON_OBJECT)
            v = llm__json_get(d, v, "content");
        s = llm__json_str(d, v, &n);
        if (!s)
            continue;
        id = find_text(t, s, n);
        if (id < 0)
            return llm__err(NULL, LLM_ERR_BAD_FILE, "%s: line %zu: %s \"%s\" is not a token",
                            where, llm__json_line(d, v), names[i], s);
        if (i == 0)
            t->bos = id;
        else
            t->eos = id;
    }
    return LLM_OK;
}

static int load_vocab_merges(llm_tokenizer **out, const char *vocab_path,
                             const char *merges_path, const char *config_path, int openai,
                             const llm_tokenizer_opts *o) {
    loader L;
    file_buf vf = {0}, mf = {0}, cf = {0};
    llm__json *vd = NULL, *cd = NULL;
    llm_tokenizer *t = NULL;
    size_t max_id;
    int st;
    memset(&L, 0, sizeof L);
    L.o = o;
    llm__mem_init(&L.mem, o->alloc, o->alloc_ud);
    alpha_init(&L.al);
    st = read_file(&L.mem, vocab_path, &vf);
    if (!st)
        st = llm__json_parse(&vd, NULL, &L.mem, vf.data, vf.len, vocab_path);
    free_file(&L.mem, &vf);
    if (!st)
        st = vocab_max_id(vd, llm__json_root(vd), vocab_path, &max_id);
    if (!st)
        st = new_tok(&t, max_id + 1, o, vocab_path);
    if (!st)
        st = vocab_set(&L, t, vd, llm__json_root(vd), NULL, vocab_path);
    llm__json_free(vd);
    if (!st)
        st = llm__tokenizer_index(t, vocab_path);
    if (!st)
        st = read_file(&L.mem, merges_path, &mf);
    if (!st)
        st = merges_txt(&L, t, &mf, merges_path);
    free_file(&L.mem, &mf);
    if (!st)
        st = llm__tokload_mark_unreachable(t, vocab_path);
    if (!st && openai) {
        /* encoder.json ids are tiktoken ranks when the 256 bytes come first
         * and merge k makes token 256 + k (tiktoken's data-gym check) */
        size_t k, ok = t->n_merges + 256 <= t->n_vocab;
        for (k = 0; ok && k < 256; k++)
            ok = t->byte_id[k] >= 0 && t->byte_id[k] < 256;
        for (k = 0; ok && k < t->n_merges; k++) {
            int32_t id = (int32_t)(256 + k), l = t->merges[2 * k], r = t->merges[2 * k + 1];
            const uint8_t *b = t->bytes + t->tok_off[id];
            ok = t->tok_type[id] == LLM__TT_NORMAL &&
                 t->tok_len[id] == t->tok_len[l] + t->tok_len[r] &&
                 memcmp(b, t->bytes + t->tok_off[l], t->tok_len[l]) == 0 &&
                 memcmp(b + t->tok_len[l], t->bytes + t->tok_off[r], t->tok_len[r]) == 0;
        }
        t->rank_vocab = t->whole_lookup = (int32_t)ok;
    }
    if (!st && config_path && file_exists(config_path)) {
        st = read_file(&L.mem, config_path, &cf);
        if (!st)
            st = llm__json_parse(&cd, NULL, &L.mem, cf.data, cf.len, config_path);
        free_file(&L.mem, &cf);
        if (!st)
            st = apply_config(t, cd, config_path);
        llm__json_free(cd);
    }
    if (!st)
        st = finish_common(t, o, vocab_path);
    loader_done(&L);
    if (st) {
        llm__tokenizer_delete(t);
        return st;
    }
    *out = t;
    return LLM_OK;
}

/* tokenizer.json's pre_tokenizer: ByteLevel, or Sequence[Split(regex),
 * ByteLevel(use_regex=false)] with one of the known regexes. */
static int hf_pretok(const llm__json *d, llm__json_val pt, const char *where, int32_t *pattern) {
    static const struct { const char *re; int32_t p; } known[] = {
        {"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
         LLM_TOK_PATTERN_GPT2},
        {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}"
         "\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", LLM_TOK_PATTERN_CL100K},
    };
    const char *type = llm__json_str(d, llm__json_get(d, pt, "type"), NULL);
    size_t i, n;
    if (type && strcmp(type, "ByteLevel") == 0) {
        if (llm__json_bool(d, llm__json_get(d, pt, "add_prefix_space")) != 0)
            return llm__err(NULL, LLM_ERR_UNSUPPORTED, "%s: line %zu: ByteLevel add_prefix_space "
                            "is not false (not supported)", where, llm__json_line(d, pt));
        if (llm__json_bool(d, llm__json_get(d, pt, "use_regex")) != 0 && *pattern == 0)
            *pattern = LLM_TOK_PATTERN_GPT2;
        return LLM_OK;
    }
    if (type && strcmp(type, "Sequence") == 0) {
        llm__json_val arr = llm__json_get(d, pt, "pretokenizers");
        int st;
        n = llm__json_count(d, arr);
        for (i = 0; i < n; i++) {
            llm__json_val e = llm__json_at(d, arr, i);
            const char *et = llm__json_str(d, llm__json_get(d, e, "type"), NULL);
            if (et && strcmp(et, "Split") == 0) {
                const char *re = llm__json_str(
                    d, llm__json_get(d, llm__json_get(d, e, "pattern"), "Regex"), NULL);
                size_t k;
                for (k = 0; re && k < sizeof known / sizeof known[0]; k++)
                    if (strcmp(re, known[k].re) == 0)
                        *pattern = known[k].p;
                if (*pattern == 0)
                    return llm__err(NULL, LLM_ERR_UNSUPPORTED,
                                    "%s: line %zu: Split pre-tokenizer with an unknown regex",
                                    where, llm__json_line(d, e));
            } else if ((st = hf_pretok(d, e, where, pattern)) != LLM_OK) {
                return st;
            }
        }
        return LLM_OK;
    }
    return llm__err(NULL, LLM_ERR_UNSUPPORTED, "%s: line %zu: pre_tokenizer \"%s\" is not "
                    "supported (ByteLevel BPE only)", where, llm__json_line(d, pt),
                    type ? type : "?");
}

static int load_tokenizer_json(llm_tokenizer **out, const char *path,
                               const llm_tokenizer_opts *o) {
    loader L;
    file_buf fb = {0};
    llm__json *d = NULL;
    llm_tokenizer *t = NULL;
    llm__json_val r, model, vocab, merges, added;
    size_t max_id = 0, i, n;
    uint8_t *is_added = NULL;
    int32_t pattern = 0;
    const char *type;
    int st;
    memset(&L, 0, sizeof L);
    L.o = o;
    llm__mem_init(&L.mem, o->alloc, o->alloc_ud);
    alpha_init(&L.al);
    st = read_file(&L.mem, path, &fb);
    if (!st)
        st = llm__json_parse(&d, NULL, &L.mem, fb.data, fb.len, path);
    free_file(&L.mem, &fb);
    if (st)
        return st;
    r = llm__json_root(d);
    model = llm__json_get(d, r, "model");
    vocab = llm__json_get(d, model, "vocab");
    merges = llm__json_get(d, model, "merges");
    added = llm__json_get(d, r, "added_tokens");
    type = llm__json_str(d, llm__json_get(d, model, "type"), NULL);
    if (llm__json_type(d, model) != LLM__JSON_OBJECT) {
        st = llm__err(NULL, LLM_ERR_BAD_FILE, "%s: no \"model\" object", path);
    } else if (type && strcmp(type, "BPE") != 0) {
        st = llm__err(NULL, LLM_ERR_UNSUPPORTED, "%s: line %zu: model type \"%s\" is not "
                      "supported (BPE only)", path, llm__json_line(d, model), type);
    } else if (llm__json_type(d, merges) != LLM__JSON_ARRAY) {
        st = llm__err(NULL, LLM_ERR_BAD_FILE, "%s: model.merges is missing or not an array",
                      path);
    } else if (llm__json_bool(d, llm__json_get(d, model, "byte_fallback")) == 1) {
        st = llm__err(NULL, LLM_ERR_UNSUPPORTED, "%s: model.byte_fallback is not supported",
                      path);
    } else if (llm__json_type(d, llm__json_get(d, r, "normalizer")) > LLM__JSON_NULL) {
        st = llm__err(NULL, LLM_ERR_UNSUPPORTED, "%s: line %zu: normalizers are not supported",
                      path, llm__json_line(d, llm__json_get(d, r, "normalizer")));
    } else {
        llm__json_val pt = llm__json_get(d, r, "pre_tokenizer");
        st = llm__json_type(d, pt) == LLM__JSON_OBJECT
                 ? hf_pretok(d, pt, path, &pattern)
                 : llm__err(NULL, LLM_ERR_UNSUPPORTED, "%s: no pre_tokenizer (ByteLevel BPE "
                            "expected)", path);
    }
    if (!st)
        st = vocab_max_id(d, vocab, path, &max_id);
    n = llm__json_count(d, added);
    for (i = 0; !st && i < n; i++) {
        int64_t id;
        llm__json_val e = llm__json_at(d, added, i);
        if (!llm__json_int64(d, llm__json_get(d, e, "id"), &id) || id < 0 || id >= INT32_MAX ||
            !llm__json_str(d, llm__json_get(d, e, "content"), NULL))
            st = llm__err(NULL, LLM_ERR_BAD_FILE,
                          "%s: line %zu: added_tokens[%zu] needs an integer id and a content",
                          path, llm__json_line(d, e), i);
        else if ((size_t)id > max_id)
            max_id = (size_t)id;
    }
    if (!st)
        st = new_tok(&t, max_id + 1, o, path);
    if (!st) {
        is_added = llm__mem_calloc(&L.mem, max_id + 1, 1);
        if (!is_added)
            st = llm__err(NULL, LLM_ERR_NOMEM, "%s: out of memory", path);
    }
    for (i = 0; !st && i < n; i++) {
        int64_t id;
        size_t cl;
        llm__json_val e = llm__json_at(d, added, i);
        const char *c = llm__json_str(d, llm__json_get(d, e, "content"), &cl);
        int special = llm__json_bool(d, llm__json_get(d, e, "special")) == 1;
        llm__json_int64(d, llm__json_get(d, e, "id"), &id);
        st = llm__tokenizer_set(t, (int32_t)id, c, cl, special ? LLM__TT_CONTROL : LLM__TT_USER,
                                path);
        if (!st)
            is_added[id] = 1;
    }
    if (!st)
        st = vocab_set(&L, t, d, vocab, is_added, path);
    if (!st)
        st = llm__tokenizer_index(t, path);
    n = llm__json_count(d, merges);
    for (i = 0; !st && i < n; i++) {
        llm__json_val e = llm__json_at(d, merges, i);
        size_t line = llm__json_line(d, e), sl, al, bl;
        const char *s = llm__json_str(d, e, &sl), *a, *b;
        if (s) {
            const char *sp = sl > 1 ? memchr(s + 1, ' ', sl - 1) : NULL;
            if (!sp || memchr(sp + 1, ' ', (size_t)(s + sl - sp - 1))) {
                st = llm__err(NULL, LLM_ERR_BAD_FILE,
                              "%s: line %zu: merge %zu must be two tokens and one space", path,
                              line, i);
                break;
            }
            st = add_merge_text(&L, t, s, (size_t)(sp - s), sp + 1, (size_t)(s + sl - sp - 1),
                                path, line);
        } else if (llm__json_count(d, e) == 2 &&
                   (a = llm__json_str(d, llm__json_at(d, e, 0), &al)) != NULL &&
                   (b = llm__json_str(d, llm__json_at(d, e, 1), &bl)) != NULL) {
            st = add_merge_text(&L, t, a, al, b, bl, path, line);
        } else {
            st = llm__err(NULL, LLM_ERR_BAD_FILE,
                          "%s: line %zu: merge %zu is neither \"a b\" nor [\"a\", \"b\"]", path,
                          line, i);
        }
    }
    if (!st)
        st = llm__tokload_mark_unreachable(t, path);
    if (!st) {
        t->whole_lookup = llm__json_bool(d, llm__json_get(d, model, "ignore_merges")) == 1;
        t->pattern = pattern ? pattern : LLM_TOK_PATTERN_GPT2;
        st = finish_common(t, o, path);
    }
    if (is_added)
        llm__mem_free(&L.mem, is_added, max_id + 1);
    llm__json_free(d);
    loader_done(&L);
    if (st) {
        llm__tokenizer_delete(t);
        return st;
    }
    *out = t;
    return LLM_OK;
}

/* ---- tiktoken rank files ---- */

static int b64_val(int c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Strict base64 with '=' padding; returns the byte count or -1. */
static long b64_decode(const char *s, size_t n, uint8_t *out) {
    size_t i, k = 0;
    if (n == 0 || n % 4)
        return -1;
    for (i = 0; i < n; i += 4) {
        int a = b64_val(s[i]), b = b64_val(s[i + 1]), c, d;
        int last = i + 4 == n;
        if (a < 0 || b < 0)
            return -1;
        out[k++] = (uint8_t)((a << 2) | (b >> 4));
        if (last && s[i + 2] == '=') {
            if (s[i + 3] != '=' || (b & 15))
                return -1;
            break;
        }
        c = b64_val(s[i + 2]);
        if (c < 0)
            return -1;
        out[k++] = (uint8_t)(((b & 15) << 4) | (c >> 2));
        if (last && s[i + 3] == '=') {
            if (c & 3)
                return -1;
            break;
        }
        d = b64_val(s[i + 3]);
        if (d < 0)
            return -1;
        out[k++] = (uint8_t)(((c & 3) << 6) | d);
    }
    return (long)k;
}

typedef struct scheme_special {
    int32_t pattern;
    size_t n_ranks; /* the scheme's rank count: specials apply only then */
    const char *text;
    int32_t id;
} scheme_special;

static const scheme_special g_scheme_specials[] = {
    {LLM_TOK_PATTERN_GPT2, 50256, "<|endoftext|>", 50256},
    {LLM_TOK_PATTERN_CL100K, 100256, "<|endoftext|>", 100257},
    {LLM_TOK_PATTERN_CL100K, 100256, "<|fim_prefix|>", 100258},
    {LLM_TOK_PATTERN_CL100K, 100256, "<|fim_middle|>", 100259},
    {LLM_TOK_PATTERN_CL100K, 100256, "<|fim_suffix|>", 100260},
    {LLM_TOK_PATTERN_CL100K, 100256, "<|endofprompt|>", 100276},
    {LLM_TOK_PATTERN_O200K, 199998, "<|endoftext|>", 199999},
    {LLM_TOK_PATTERN_O200K, 199998, "<|endofprompt|>", 200018},
};

static int load_tiktoken(llm_tokenizer **out, const char *path, const llm_tokenizer_opts *o) {
    llm__mem mem;
    file_buf fb = {0};
    llm_tokenizer *t = NULL;
    const char *p, *e;
    size_t n_lines = 0, line = 0, n_ranks, max_id, i;
    long prev = -1;
    int32_t pattern = o->pattern;
    uint8_t buf[768];
    int st;
    llm__mem_init(&mem, o->alloc, o->alloc_ud);
    st = read_file(&mem, path, &fb);
    if (st)
        return st;
    for (p = fb.data, e = p + fb.len; p < e; p++)
        n_lines += *p == '\n';
    if (fb.len && fb.data[fb.len - 1] != '\n')
        n_lines++;
    n_ranks = n_lines;
    if (!pattern)
        pattern = n_ranks == 50256 || n_ranks == 50280 ? LLM_TOK_PATTERN_GPT2
                : n_ranks == 100256 ? LLM_TOK_PATTERN_CL100K
                : n_ranks == 199998 ? LLM_TOK_PATTERN_O200K : 0;
    if (!pattern) {
        free_file(&mem, &fb);
        return llm__err(NULL, LLM_ERR_INVALID, "%s: %zu ranks match no known encoding; set "
                        "opts.pattern (LLM_TOK_PATTERN_*) to choose the split", path, n_ranks);
    }
    max_id = n_ranks ? n_ranks - 1 : 0;
    for (i = 0; i < sizeof g_scheme_specials / sizeof g_scheme_specials[0]; i++)
        if (g_scheme_specials[i].pattern == pattern && g_scheme_specials[i].n_ranks == n_ranks &&
            (size_t)g_scheme_specials[i].id > max_id)
            max_id = (size_t)g_scheme_specials[i].id;
    st = new_tok(&t, max_id + 1, o, path);
    for (p = fb.data, e = p + fb.len; !st && p < e;) {
        const char *nl = memchr(p, '\n', (size_t)(e - p)), *sp;
        size_t n;
        long len, rank = 0;
        const char *q;
        if (!nl)
            nl = e;
        line++;
        n = (size_t)(nl - p);
        sp = memchr(p, ' ', n);
        if (!sp || sp == p || sp + 1 == p + n || (size_t)(sp - p) > sizeof buf * 4 / 3) {
            st = llm__err(NULL, LLM_ERR_BAD_FILE, "%s: line %zu: expected \"base64 rank\"",
                          path, line);
            break;
        }
        for (q = sp + 1; q < p + n; q++) {
            if (*q < '0' || *q > '9' || rank > INT32_MAX / 10) {
                rank = -1;
                break;
            }
            rank = rank * 10 + (*q - '0');
        }
        len = b64_decode(p, (size_t)(sp - p), buf);
        if (len <= 0)
            st = llm__err(NULL, LLM_ERR_BAD_FILE, "%s: line %zu: invalid base64 token", path,
                          line);
        else if (rank < 0 || (size_t)rank > max_id)
            st = llm__err(NULL, LLM_ERR_BAD_FILE, "%s: line %zu: rank is not an integer below "
                          "%zu", path, line, max_id + 1);
        else if (rank <= prev)
            st = llm__err(NULL, LLM_ERR_BAD_FILE, "%s: line %zu: rank %ld out of order (after "
                          "%ld)", path, line, rank, prev);
        else
            st = llm__tokenizer_set(t, (int32_t)rank, buf, (size_t)len, LLM__TT_NORMAL, path);
        prev = rank;
        p = nl + 1;
    }
    free_file(&mem, &fb);
    for (i = 0; !st && i < sizeof g_scheme_specials / sizeof g_scheme_specials[0]; i++) {
        const scheme_special *s = &g_scheme_specials[i];
        if (s->pattern == pattern && s->n_ranks == n_ranks)
            st = llm__tokenizer_set(t, s->id, s->text, strlen(s->text), LLM__TT_CONTROL, path);
    }
    if (!st) {
        t->rank_vocab = 1;
        t->whole_lookup = 1;
        t->pattern = pattern;
        st = finish_common(t, o, path);
    }
    if (st) {
        llm__tokenizer_delete(t);
        return st;
    }
    *out = t;
    return LLM_OK;
}

/* ---- dispatch ---- */

static int join(char *out, size_t cap, const char *dir, const char *name) {
    int n = snprintf(out, cap, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int llm__tokload_path(llm_tokenizer **out, const char *path, const llm_tokenizer_opts *o) {
    if (is_dir(path)) {
        char a[4096], b[4096], c[4096];
        if (join(a, sizeof a, path, "encoder.json") || join(b, sizeof b, path, "vocab.bpe") ||
            join(c, sizeof c, path, "tokenizer_config.json"))
            return llm__err(NULL, LLM_ERR_INVALID, "%s: path too long", path);
        if (file_exists(a) && file_exists(b))
            return load_vocab_merges(out, a, b, c, 1, o);
        if (join(a, sizeof a, path, "vocab.json") || join(b, sizeof b, path, "merges.txt"))
            return llm__err(NULL, LLM_ERR_INVALID, "%s: path too long", path);
        if (file_exists(a) && file_exists(b))
            return load_vocab_merges(out, a, b, c, 0, o);
        if (join(a, sizeof a, path, "tokenizer.json"))
            return llm__err(NULL, LLM_ERR_INVALID, "%s: path too long", path);
        if (file_exists(a))
            return load_tokenizer_json(out, a, o);
        if (join(a, sizeof a, path, "tokenizer.model"))
            return llm__err(NULL, LLM_ERR_INVALID, "%s: path too long", path);
        if (file_exists(a))
            return llm__tokspm_load_model(out, a, o);
        return llm__err(NULL, LLM_ERR_NOT_FOUND, "%s: no encoder.json+vocab.bpe, "
                        "vocab.json+merges.txt, tokenizer.json or tokenizer.model in this "
                        "directory", path);
    }
    if (!file_exists(path))
        return llm__err(NULL, LLM_ERR_NOT_FOUND, "%s: no such file or directory", path);
    if (ends_with(path, ".json"))
        return load_tokenizer_json(out, path, o);
    if (ends_with(path, ".gguf"))
        return llm__tokgguf_load(out, path, o);
    if (ends_with(path, ".bin"))
        return llm__tokspm_load_bin(out, path, o);
    if (ends_with(path, ".model"))
        return llm__tokspm_load_model(out, path, o);
    if (ends_with(path, ".tiktoken"))
        return load_tiktoken(out, path, o);
    {
        /* sniff: "GGUF" magic; a JSON text starts with '{'; a rank file
         * with base64 */
        FILE *f = fopen(path, "rb");
        char head[4] = {0};
        size_t got = f ? fread(head, 1, 4, f) : 0;
        int ch = got ? (unsigned char)head[0] : EOF;
        if (f)
            fclose(f);
        if (got == 4 && memcmp(head, "GGUF", 4) == 0)
            return llm__tokgguf_load(out, path, o);
        if (ch == '{')
            return load_tokenizer_json(out, path, o);
        if (ch != EOF && b64_val(ch) >= 0)
            return load_tiktoken(out, path, o);
    }
    return llm__err(NULL, LLM_ERR_UNSUPPORTED, "%s: not a known tokenizer file (tokenizer.json, "
                    "*.tiktoken, or a directory with vocab files)", path);
}
