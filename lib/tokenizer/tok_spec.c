/*
 * tok_spec.c - the tokenizer as GGUF stores it (tok_spec.h): building a
 * tokenizer from tokenizer.ggml.* arrays, and the arrays of a tokenizer
 * for writing a GGUF file.
 *
 * GGUF conventions (llama.cpp, formats.md 2.2): ordinary and byte tokens
 * are written in GPT-2's byte alphabet; control, user-defined and unused
 * tokens as their raw text; merges as "left right" in rank order. Ids with
 * no token (the holes of cl100k) are written as "<|unused_ID|>" of type
 * UNUSED, so that every id has a token as GGUF requires.
 *
 * A tiktoken rank vocabulary has no merge list; the list is derived the
 * way Hugging Face converts tiktoken files: the merge of token t is the
 * pair that BPE reaches on t's bytes using only ranks below t's.
 *
 * The view for llm__tok_get_spec is built on first use and published with
 * a compare-and-swap, so a shared (immutable) tokenizer stays safe when
 * two threads ask at once: the loser frees its copy.
 */
#include <stdio.h>
#include <string.h>

#include "tokenizer/tok_internal.h"
#include "tokenizer/tok_spec.h"

typedef struct spec_view {
    char *blob;
    size_t blob_len;
    const char **tokens;
    size_t *token_lens;
    int32_t *types;
    size_t n_tokens;
    const char **merges;
    size_t *merge_lens;
    size_t n_merges;
    size_t merges_cap; /* allocated entries of merges/merge_lens (>= 1) */
} spec_view;

static void view_free(const llm__mem *m, spec_view *v) {
    if (!v)
        return;
    llm__mem_free(m, v->blob, v->blob_len);
    llm__mem_free(m, (void *)v->tokens, v->n_tokens * sizeof *v->tokens);
    llm__mem_free(m, v->token_lens, v->n_tokens * sizeof *v->token_lens);
    llm__mem_free(m, v->types, v->n_tokens * sizeof *v->types);
    llm__mem_free(m, (void *)v->merges, v->merges_cap * sizeof *v->merges);
    llm__mem_free(m, v->merge_lens, v->merges_cap * sizeof *v->merge_lens);
    llm__mem_free(m, v, sizeof *v);
}

void llm__tok_spec_free(llm_tokenizer *tok) {
    spec_view *v = atomic_load(&tok->spec_view);
    view_free(&tok->obj.mem, v);
    atomic_store(&tok->spec_view, NULL);
}

/* Bytes of the alphabet form of b[0..n): 1 or 2 per byte. */
static size_t alpha_len(const uint8_t *b, size_t n) {
    size_t k = 0, i;
    for (i = 0; i < n; i++)
        k += llm__tokload_byte_cp(b[i]) < 0x80 ? 1 : 2;
    return k;
}

static char *alpha_put(char *o, const uint8_t *b, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) {
        uint32_t cp = llm__tokload_byte_cp(b[i]);
        if (cp < 0x80) {
            *o++ = (char)cp;
        } else {
            *o++ = (char)(0xC0 | (cp >> 6));
            *o++ = (char)(0x80 | (cp & 0x3F));
        }
    }
    return o;
}

static int is_ord(int t) { return t == LLM__TT_NORMAL || t == LLM__TT_BYTE; }

/* The merge that makes token id in a rank vocabulary: BPE on its bytes
 * with ranks < id must end in exactly two parts. */
static int derive_merge(const llm_tokenizer *t, int32_t id, int32_t *l, int32_t *r) {
    int32_t parts[256];
    size_t n = t->tok_len[id], i;
    const uint8_t *b = t->bytes + t->tok_off[id];
    if (n < 2 || n > 256)
        return 0;
    for (i = 0; i < n; i++)
        parts[i] = t->byte_id[b[i]];
    while (n > 2) {
        uint32_t best = UINT32_MAX, rk;
        int32_t m, bm = -1;
        size_t bi = 0;
        for (i = 0; i + 1 < n; i++)
            if (llm__bpe_pair(t, parts[i], parts[i + 1], &rk, &m) && rk < (uint32_t)id &&
                rk < best) {
                best = rk;
                bi = i;
                bm = m;
            }
        if (bm < 0)
            return 0;
        parts[bi] = bm;
        memmove(parts + bi + 1, parts + bi + 2, (n - bi - 2) * sizeof *parts);
        n--;
    }
    *l = parts[0];
    *r = parts[1];
    return 1;
}

static spec_view *build_view(const llm_tokenizer *t) {
    const llm__mem *m = &t->obj.mem;
    spec_view *v = llm__mem_calloc(m, 1, sizeof *v);
    int32_t *derived = NULL; /* [2*n] for rank vocabularies without a list */
    size_t n_der = 0, id, k, len = 0;
    const int32_t *mg;
    size_t n_mg;
    char *o;
    if (!v)
        return NULL;
    v->n_tokens = t->n_vocab;
    if (t->kind == LLM__TOK_SPM) {
        mg = NULL;
        n_mg = 0;
    } else if (t->n_merges == 0 && t->rank_vocab) {
        derived = llm__mem_alloc(m, llm__mem_mul(t->n_vocab, 2 * sizeof *derived));
        if (!derived)
            goto fail;
        for (id = 0; id < t->n_vocab; id++) {
            int32_t l, r;
            if (is_ord(t->tok_type[id]) && derive_merge(t, (int32_t)id, &l, &r)) {
                derived[2 * n_der] = l;
                derived[2 * n_der + 1] = r;
                n_der++;
            }
        }
        mg = derived;
        n_mg = n_der;
    } else {
        mg = t->merges;
        n_mg = t->n_merges;
    }
    v->n_merges = n_mg;
    /* sizes */
    for (id = 0; id < t->n_vocab; id++) {
        int ty = t->tok_type[id];
        if (ty == LLM__TT_NONE)
            len += 32;
        else if (t->kind == LLM__TOK_SPM)
            len += ty == LLM__TT_BYTE ? 7 : 3 * t->tok_len[id]; /* ' ' -> U+2581 */
        else if (is_ord(ty))
            len += alpha_len(t->bytes + t->tok_off[id], t->tok_len[id]);
        else
            len += t->tok_len[id];
    }
    for (k = 0; k < n_mg; k++)
        len += alpha_len(t->bytes + t->tok_off[mg[2 * k]], t->tok_len[mg[2 * k]]) + 1 +
               alpha_len(t->bytes + t->tok_off[mg[2 * k + 1]], t->tok_len[mg[2 * k + 1]]);
    v->blob_len = len ? len : 1;
    v->blob = llm__mem_alloc(m, v->blob_len);
    v->tokens = llm__mem_calloc(m, t->n_vocab, sizeof *v->tokens);
    v->token_lens = llm__mem_calloc(m, t->n_vocab, sizeof *v->token_lens);
    v->types = llm__mem_calloc(m, t->n_vocab, sizeof *v->types);
    v->merges_cap = n_mg ? n_mg : 1;
    v->merges = llm__mem_calloc(m, v->merges_cap, sizeof *v->merges);
    v->merge_lens = llm__mem_calloc(m, v->merges_cap, sizeof *v->merge_lens);
    if (!v->blob || !v->tokens || !v->token_lens || !v->types || !v->merges || !v->merge_lens)
        goto fail;
    o = v->blob;
    for (id = 0; id < t->n_vocab; id++) {
        int ty = t->tok_type[id];
        char *s = o;
        if (ty == LLM__TT_NONE) {
            o += snprintf(o, 32, "<|unused_%zu|>", id);
            v->types[id] = LLM__TT_UNUSED;
        } else if (t->kind == LLM__TOK_SPM) {
            const uint8_t *b = t->bytes + t->tok_off[id];
            size_t j;
            if (ty == LLM__TT_BYTE) {
                o += snprintf(o, 7, "<0x%02X>", b[0]);
            } else if (ty == LLM__TT_NORMAL || ty == LLM__TT_USER) {
                for (j = 0; j < t->tok_len[id]; j++) {
                    if (b[j] == ' ') {
                        memcpy(o, "\xE2\x96\x81", 3);
                        o += 3;
                    } else {
                        *o++ = (char)b[j];
                    }
                }
            } else {
                memcpy(o, b, t->tok_len[id]);
                o += t->tok_len[id];
            }
            v->types[id] = ty;
        } else if (is_ord(ty)) {
            o = alpha_put(o, t->bytes + t->tok_off[id], t->tok_len[id]);
            v->types[id] = t->tok_len[id] == 1 ? LLM__TT_NORMAL : ty;
        } else {
            memcpy(o, t->bytes + t->tok_off[id], t->tok_len[id]);
            o += t->tok_len[id];
            v->types[id] = ty;
        }
        v->tokens[id] = s;
        v->token_lens[id] = (size_t)(o - s);
    }
    for (k = 0; k < n_mg; k++) {
        char *s = o;
        o = alpha_put(o, t->bytes + t->tok_off[mg[2 * k]], t->tok_len[mg[2 * k]]);
        *o++ = ' ';
        o = alpha_put(o, t->bytes + t->tok_off[mg[2 * k + 1]], t->tok_len[mg[2 * k + 1]]);
        v->merges[k] = s;
        v->merge_lens[k] = (size_t)(o - s);
    }
    if (derived)
        llm__mem_free(m, derived, t->n_vocab * 2 * sizeof *derived);
    return v;
fail:
    if (derived)
        llm__mem_free(m, derived, t->n_vocab * 2 * sizeof *derived);
    view_free(m, v);
    return NULL;
}

int llm__tok_get_spec(const llm_tokenizer *tok, llm__tok_spec *spec) {
    spec_view *v;
    if (!llm__obj_is(tok, LLM__MAGIC_TOKENIZER) || !spec)
        return llm__err(NULL, LLM_ERR_INVALID, "llm__tok_get_spec: NULL argument");
    v = atomic_load(&((llm_tokenizer *)tok)->spec_view);
    if (!v) {
        void *expected = NULL;
        v = build_view(tok);
        if (!v)
            return llm__err(NULL, LLM_ERR_NOMEM, "tokenizer: out of memory building its GGUF "
                            "form");
        /* the handle is shared and otherwise read-only: publish atomically */
        if (!atomic_compare_exchange_strong(&((llm_tokenizer *)tok)->spec_view, &expected,
                                            (void *)v)) {
            view_free(&tok->obj.mem, v);
            v = expected;
        }
    }
    memset(spec, 0, sizeof *spec);
    spec->model = tok->kind == LLM__TOK_SPM ? "llama" : "gpt2";
    spec->pre = tok->kind == LLM__TOK_SPM ? NULL
              : tok->pattern == LLM_TOK_PATTERN_CL100K ? "llama-bpe"
              : tok->pattern == LLM_TOK_PATTERN_O200K ? "gpt-4o" : "gpt-2";
    spec->n_tokens = v->n_tokens;
    spec->tokens = v->tokens;
    spec->token_lens = v->token_lens;
    spec->scores = tok->scores;
    spec->token_types = v->types;
    spec->n_merges = v->n_merges;
    spec->merges = v->n_merges ? v->merges : NULL;
    spec->merge_lens = v->n_merges ? v->merge_lens : NULL;
    spec->bos_id = tok->bos;
    spec->eos_id = tok->eos;
    spec->unk_id = tok->unk;
    spec->pad_id = tok->pad;
    spec->add_bos = tok->add_bos;
    return LLM_OK;
}

/* ---- from a spec ---- */

/* Alphabet text -> bytes (tok_load.c has its own table-driven copy for
 * speed; here the files are small enough for the plain function). */
static size_t unalpha(const char *s, size_t n, uint8_t *out) {
    const uint8_t *p = (const uint8_t *)s, *e = p + n;
    size_t k = 0;
    while (p < e) {
        uint32_t cp;
        int b;
        if (p[0] < 0x80) {
            cp = *p++;
        } else if ((p[0] & 0xE0) == 0xC0 && p + 1 < e && (p[1] & 0xC0) == 0x80) {
            cp = ((uint32_t)(p[0] & 0x1F) << 6) | (p[1] & 0x3F);
            p += 2;
        } else {
            return (size_t)-1;
        }
        b = llm__tokload_cp_byte(cp);
        if (b < 0)
            return (size_t)-1;
        out[k++] = (uint8_t)b;
    }
    return k;
}

static int32_t find_alpha(const llm_tokenizer *t, const char *s, size_t n, uint8_t *buf) {
    size_t b = unalpha(s, n, buf);
    if (b == (size_t)-1 || b == 0)
        return -1;
    return llm__tokenizer_find(t, buf, b);
}

/* SentencePiece pieces as GGUF stores them: U+2581 for spaces, byte
 * pieces as "<0xNN>" text. */
static int spm_from_spec(llm_tokenizer **out, const llm__tok_spec *spec, const char *where,
                         llm_alloc_fn alloc, void *ud, const llm__limits *lim) {
    llm_tokenizer *t = NULL;
    uint8_t *buf = NULL;
    size_t i, maxlen = 1;
    llm__mem mem;
    int st;
    if (!spec->scores)
        return llm__err(NULL, LLM_ERR_BAD_FILE, "%s: SentencePiece tokenizer without "
                        "tokenizer.ggml.scores", where);
    if ((st = llm__tokenizer_new(&t, spec->n_tokens, alloc, ud, where, lim)) != LLM_OK)
        return st;
    t->kind = LLM__TOK_SPM;
    llm__mem_init(&mem, alloc, ud);
    for (i = 0; i < spec->n_tokens; i++)
        if (spec->token_lens[i] > maxlen)
            maxlen = spec->token_lens[i];
    buf = llm__mem_alloc(&mem, maxlen);
    t->scores = llm__mem_calloc(&t->obj.mem, t->cap_vocab, sizeof *t->scores);
    if (!buf || !t->scores) {
        st = llm__err(NULL, LLM_ERR_NOMEM, "%s: out of memory", where);
        goto done;
    }
    for (i = 0; i < spec->n_tokens && st == LLM_OK; i++) {
        int ty = spec->token_types ? spec->token_types[i] : LLM__TT_NORMAL;
        const uint8_t *s = (const uint8_t *)spec->tokens[i];
        size_t n = spec->token_lens[i], k = 0, j;
        if (ty == 0)
            ty = LLM__TT_NORMAL;
        if (ty < LLM__TT_NORMAL || ty > LLM__TT_BYTE || (!s && n)) {
            st = llm__err(NULL, LLM_ERR_BAD_FILE, "%s: token %zu: bad type %ld or no text",
                          where, i, (long)ty);
            break;
        }
        t->scores[i] = spec->scores[i];
        if (ty == LLM__TT_BYTE) {
            unsigned v;
            char tmp[8];
            if (n != 6 || (memcpy(tmp, s, 6), tmp[6] = 0, sscanf(tmp, "<0x%2X>", &v) != 1)) {
                st = llm__err(NULL, LLM_ERR_BAD_FILE, "%s: byte token %zu is not \"<0xNN>\"",
                              where, i);
                break;
            }
            buf[0] = (uint8_t)v;
            k = 1;
        } else if (ty == LLM__TT_NORMAL || ty == LLM__TT_USER) {
            for (j = 0; j < n; j++) {
                if (j + 2 < n && s[j] == 0xE2 && s[j + 1] == 0x96 && s[j + 2] == 0x81) {
                    buf[k++] = ' ';
                    j += 2;
                } else {
                    buf[k++] = s[j];
                }
            }
        } else {
            memcpy(buf, s, n);
            k = n;
        }
        st = llm__tokenizer_set(t, (int32_t)i, buf, k, ty, where);
    }
    if (st == LLM_OK) {
        const int32_t ids[4] = {spec->bos_id, spec->eos_id, spec->unk_id, spec->pad_id};
        int32_t *dst[4] = {&t->bos, &t->eos, &t->unk, &t->pad};
        int q;
        for (q = 0; q < 4; q++)
            *dst[q] = ids[q] >= 0 && (size_t)ids[q] < t->n_vocab ? ids[q] : -1;
        t->add_bos = spec->add_bos != 0;
        t->add_space_prefix = 1;
        st = llm__tokenizer_index(t, where);
    }
    if (st == LLM_OK) {
        llm__tokspm_prepare(t);
        st = llm__tokenizer_finish(t, where);
    }
done:
    llm__mem_free(&mem, buf, maxlen);
    if (st) {
        llm__tokenizer_delete(t);
        return st;
    }
    *out = t;
    return LLM_OK;
}

int llm__tok_from_spec(llm_tokenizer **out, const llm__tok_spec *spec, const char *where,
                       llm_alloc_fn alloc, void *ud, const llm__limits *lim) {
    llm_tokenizer *t = NULL;
    uint8_t *buf = NULL;
    size_t i, maxlen = 0;
    llm__mem mem;
    int st;
    int32_t pattern;
    if (!out)
        return llm__err(NULL, LLM_ERR_INVALID, "llm__tok_from_spec: out is NULL");
    *out = NULL;
    if (!where)
        where = "tokenizer";
    if (!spec || !spec->model || !spec->tokens || !spec->token_lens || spec->n_tokens == 0 ||
        (spec->n_merges && (!spec->merges || !spec->merge_lens)))
        return llm__err(NULL, LLM_ERR_INVALID, "%s: incomplete tokenizer description", where);
    if (strcmp(spec->model, "llama") == 0)
        return spm_from_spec(out, spec, where, alloc, ud, lim);
    if (strcmp(spec->model, "gpt2") != 0)
        return llm__err(NULL, LLM_ERR_UNSUPPORTED, "%s: tokenizer.ggml.model \"%s\" is not "
                        "supported (\"gpt2\" byte-level BPE or \"llama\" SentencePiece BPE)",
                        where, spec->model);
    if (!spec->pre || strcmp(spec->pre, "gpt-2") == 0 || strcmp(spec->pre, "default") == 0)
        pattern = LLM_TOK_PATTERN_GPT2;
    else if (strcmp(spec->pre, "llama-bpe") == 0 || strcmp(spec->pre, "llama3") == 0 ||
             strcmp(spec->pre, "cl100k") == 0)
        pattern = LLM_TOK_PATTERN_CL100K;
    else if (strcmp(spec->pre, "gpt-4o") == 0 || strcmp(spec->pre, "o200k") == 0)
        pattern = LLM_TOK_PATTERN_O200K;
    else
        return llm__err(NULL, LLM_ERR_UNSUPPORTED, "%s: tokenizer.ggml.pre \"%s\" is not a "
                        "known pre-tokenizer (gpt-2, llama-bpe, gpt-4o)", where, spec->pre);
    st = llm__tokenizer_new(&t, spec->n_tokens, alloc, ud, where, lim);
    if (st)
        return st;
    llm__mem_init(&mem, alloc, ud);
    for (i = 0; i < spec->n_tokens; i++)
        if (spec->token_lens[i] > maxlen)
            maxlen = spec->token_lens[i];
    for (i = 0; i < spec->n_merges; i++)
        if (spec->merge_lens[i] > maxlen)
            maxlen = spec->merge_lens[i];
    buf = llm__mem_alloc(&mem, maxlen + 1);
    if (!buf) {
        st = llm__err(NULL, LLM_ERR_NOMEM, "%s: out of memory", where);
        goto done;
    }
    for (i = 0; i < spec->n_tokens; i++) {
        int ty = spec->token_types ? spec->token_types[i] : LLM__TT_NORMAL;
        const char *s = spec->tokens[i];
        size_t n = spec->token_lens[i], b;
        if (ty == 0)
            ty = LLM__TT_NORMAL;
        if (ty < LLM__TT_NORMAL || ty > LLM__TT_BYTE) {
            st = llm__err(NULL, LLM_ERR_BAD_FILE, "%s: token %zu has unknown type %ld", where,
                          i, (long)ty);
            goto done;
        }
        if (!s && n) {
            st = llm__err(NULL, LLM_ERR_BAD_FILE, "%s: token %zu has no text", where, i);
            goto done;
        }
        if (ty == LLM__TT_NORMAL || ty == LLM__TT_BYTE) {
            b = unalpha(s, n, buf);
            if (b == (size_t)-1) {
                st = llm__err(NULL, LLM_ERR_BAD_FILE, "%s: token %zu (\"%.*s\") has a character "
                              "outside GPT-2's byte alphabet", where, i, (int)(n < 40 ? n : 40),
                              s);
                goto done;
            }
            st = llm__tokenizer_set(t, (int32_t)i, buf, b, ty, where);
        } else {
            st = llm__tokenizer_set(t, (int32_t)i, s, n, ty, where);
        }
        if (st)
            goto done;
    }
    if ((st = llm__tokenizer_index(t, where)) != LLM_OK)
        goto done;
    for (i = 0; i < spec->n_merges; i++) {
        const char *s = spec->merges[i], *sp;
        size_t n = spec->merge_lens[i];
        int32_t l, r;
        /* split at the first space after the first character (llama.cpp) */
        sp = s && n > 1 ? memchr(s + 1, ' ', n - 1) : NULL;
        if (!sp) {
            st = llm__err(NULL, LLM_ERR_BAD_FILE, "%s: merge %zu is not \"left right\"", where,
                          i);
            goto done;
        }
        l = find_alpha(t, s, (size_t)(sp - s), buf);
        r = find_alpha(t, sp + 1, (size_t)(s + n - sp - 1), buf);
        if (l < 0 || r < 0) {
            st = llm__err(NULL, LLM_ERR_BAD_FILE, "%s: merge %zu (\"%.*s\") names a token that "
                          "is not in the vocabulary", where, i, (int)(n < 60 ? n : 60), s);
            goto done;
        }
        if ((st = llm__tokenizer_add_merge(t, l, r, where)) != LLM_OK)
            goto done;
    }
    if (!spec->token_types && (st = llm__tokload_mark_unreachable(t, where)) != LLM_OK)
        goto done;
    {
        const int32_t ids[4] = {spec->bos_id, spec->eos_id, spec->unk_id, spec->pad_id};
        int32_t *dst[4] = {&t->bos, &t->eos, &t->unk, &t->pad};
        int k;
        for (k = 0; k < 4; k++)
            *dst[k] = ids[k] >= 0 && (size_t)ids[k] < t->n_vocab ? ids[k] : -1;
    }
    t->add_bos = spec->add_bos != 0;
    if (t->add_bos && t->bos < 0) {
        st = llm__err(NULL, LLM_ERR_BAD_FILE, "%s: add_bos_token is set but there is no BOS "
                      "token", where);
        goto done;
    }
    t->pattern = pattern;
    /* tiktoken-derived vocabularies (cl100k, o200k) encode a piece that is
     * a token as that token, as llama.cpp's ignore_merges does */
    t->whole_lookup = pattern != LLM_TOK_PATTERN_GPT2;
    st = llm__tokenizer_finish(t, where);
done:
    if (buf)
        llm__mem_free(&mem, buf, maxlen + 1);
    if (st) {
        llm__tokenizer_delete(t);
        return st;
    }
    *out = t;
    return LLM_OK;
}
