/*
 * tokenizer.c - the llm_tokenizer handle: building it from loaded tokens
 * and merges (the loaders in tok_load.c and tok_spec.c call the
 * llm__tokenizer_* builders), and the public encode/decode/look-up calls.
 *
 * Build order: llm__tokenizer_new, llm__tokenizer_set for each token,
 * llm__tokenizer_index (byte-string map; loaders of merge lists need it to
 * resolve merge text), llm__tokenizer_add_merge for each merge, then
 * llm__tokenizer_finish. After finish the handle is never written again;
 * every public function below only reads it, and failures after loading
 * are reported through the thread-local message only (see llm.h).
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

#define PIECE_STACK 256 /* pieces up to this long need no heap scratch */

/* ------------------------------------------------------------------------
 * Building
 * ------------------------------------------------------------------------ */

int llm__tokenizer_new(llm_tokenizer **out, size_t n_vocab, llm_alloc_fn alloc, void *ud,
                       const char *where, const llm__limits *lim) {
    llm_tokenizer *t;
    *out = NULL;
    if (n_vocab == 0 || n_vocab > (size_t)INT32_MAX)
        return llm__err(NULL, LLM_ERR_BAD_FILE, "%s: vocabulary size %zu out of range", where,
                        n_vocab);
    if (lim && n_vocab > lim->max_vocab)
        return llm__err(NULL, LLM_ERR_RANGE,
                        "%s: vocabulary of %zu tokens exceeds the cap max_vocab = %llu", where,
                        n_vocab, (unsigned long long)lim->max_vocab);
    t = llm__obj_new(sizeof *t, LLM__MAGIC_TOKENIZER, alloc, ud);
    if (!t)
        return llm__err(NULL, LLM_ERR_NOMEM, "%s: out of memory", where);
    t->kind = LLM__TOK_BYTE_BPE;
    t->n_vocab = n_vocab;
    t->cap_vocab = n_vocab;
    t->max_string = lim ? lim->max_string : UINT64_MAX;
    t->bos = t->eos = t->unk = t->pad = -1;
    t->tok_off = llm__mem_calloc(&t->obj.mem, n_vocab, sizeof *t->tok_off);
    t->tok_len = llm__mem_calloc(&t->obj.mem, n_vocab, sizeof *t->tok_len);
    t->tok_type = llm__mem_calloc(&t->obj.mem, n_vocab, 1);
    if (!t->tok_off || !t->tok_len || !t->tok_type) {
        llm__tokenizer_delete(t);
        return llm__err(NULL, LLM_ERR_NOMEM, "%s: out of memory (%zu tokens)", where, n_vocab);
    }
    *out = t;
    return LLM_OK;
}

/* Capacity of the merges array as allocated by add_merge. */
static size_t merges_cap(size_t n) {
    size_t c = 1;
    if (n == 0)
        return 0;
    while (c < n)
        c *= 2;
    return c;
}

void llm__tokenizer_delete(llm_tokenizer *t) {
    const llm__mem *m;
    if (!t)
        return;
    m = &t->obj.mem;
    llm__split_free(t);
    llm__mem_free(m, t->bytes, t->bytes_cap);
    llm__mem_free(m, t->tok_off, t->cap_vocab * sizeof *t->tok_off);
    llm__mem_free(m, t->tok_len, t->cap_vocab * sizeof *t->tok_len);
    llm__mem_free(m, t->tok_type, t->cap_vocab);
    llm__mem_free(m, t->vmap, (t->vmap ? t->vmap_mask + 1 : 0) * sizeof *t->vmap);
    llm__mem_free(m, t->merges, merges_cap(t->n_merges) * 2 * sizeof *t->merges);
    llm__mem_free(m, t->pmap, (t->pmap ? t->pmap_mask + 1 : 0) * sizeof *t->pmap);
    llm__mem_free(m, t->special, t->n_special * sizeof *t->special);
    llm__mem_free(m, t->scores, t->scores ? t->cap_vocab * sizeof *t->scores : 0);
    llm__tok_spec_free(t);
    llm__obj_delete(t, sizeof *t);
}

int llm__tokenizer_set(llm_tokenizer *t, int32_t id, const void *bytes, size_t len, int type,
                       const char *where) {
    if (id < 0 || (size_t)id >= t->n_vocab)
        return llm__err(NULL, LLM_ERR_BAD_FILE, "%s: token id %ld out of range [0, %zu)",
                        where, (long)id, t->n_vocab);
    if (t->tok_type[id] != LLM__TT_NONE)
        return llm__err(NULL, LLM_ERR_BAD_FILE, "%s: token id %ld is defined twice", where,
                        (long)id);
    if (len == 0)
        return llm__err(NULL, LLM_ERR_BAD_FILE, "%s: token id %ld is empty", where, (long)id);
    if (len > t->max_string)
        return llm__err(NULL, LLM_ERR_RANGE,
                        "%s: token id %ld has %zu bytes, above the cap max_string = %llu", where,
                        (long)id, len, (unsigned long long)t->max_string);
    if (len > UINT32_MAX - t->bytes_len || t->bytes_len + len > UINT32_MAX)
        return llm__err(NULL, LLM_ERR_BAD_FILE, "%s: token texts exceed 4 GiB", where);
    if (t->bytes_len + len > t->bytes_cap) {
        size_t ncap = t->bytes_cap ? t->bytes_cap : 4096;
        uint8_t *nb;
        while (ncap < t->bytes_len + len)
            ncap *= 2;
        nb = llm__mem_realloc(&t->obj.mem, t->bytes, t->bytes_cap, ncap);
        if (!nb)
            return llm__err(NULL, LLM_ERR_NOMEM, "%s: out of memory", where);
        t->bytes = nb;
        t->bytes_cap = ncap;
    }
    memcpy(t->bytes + t->bytes_len, bytes, len);
    t->tok_off[id] = (uint32_t)t->bytes_len;
    t->tok_len[id] = (uint32_t)len;
    t->tok_type[id] = (uint8_t)type;
    t->bytes_len += len;
    return LLM_OK;
}

/* Tokens that BPE produces and the byte-string map holds: byte-level BPE
 * has NORMAL and BYTE tokens; SentencePiece has NORMAL and USER_DEFINED
 * pieces (its BYTE tokens <0xNN> are only the byte fallback). */
static int in_map(const llm_tokenizer *t, int type) {
    if (t->kind == LLM__TOK_SPM)
        return type == LLM__TT_NORMAL || type == LLM__TT_USER;
    return type == LLM__TT_NORMAL || type == LLM__TT_BYTE;
}
/* Special tokens: matched by the special-token scan, skipped by
 * LLM_TOK_SKIP_SPECIAL. */
static int is_special_tok(const llm_tokenizer *t, int type) {
    if (t->kind == LLM__TOK_SPM)
        return type == LLM__TT_CONTROL || type == LLM__TT_UNKNOWN;
    return type == LLM__TT_CONTROL || type == LLM__TT_USER || type == LLM__TT_UNKNOWN;
}

int32_t llm__tokenizer_find(const llm_tokenizer *t, const void *bytes, size_t len) {
    uint64_t h = llm__bpe_hash(bytes, len);
    size_t i;
    if (!t->vmap)
        return -1;
    for (i = (size_t)(h >> 32) & t->vmap_mask;; i = (i + 1) & t->vmap_mask) {
        const tok_vslot *s = &t->vmap[i];
        if (s->id < 0)
            return -1;
        if (s->hash == (uint32_t)h && t->tok_len[s->id] == len &&
            memcmp(t->bytes + t->tok_off[s->id], bytes, len) == 0)
            return s->id;
    }
}

static size_t pow2_at_least(size_t n) {
    size_t p = 16;
    while (p < n)
        p *= 2;
    return p;
}

int llm__tokenizer_index(llm_tokenizer *t, const char *where) {
    size_t id, n_ord = 0, cap;
    if (t->vmap) { /* re-indexing after token types changed */
        llm__mem_free(&t->obj.mem, t->vmap, (t->vmap_mask + 1) * sizeof *t->vmap);
        t->vmap = NULL;
    }
    for (id = 0; id < t->n_vocab; id++)
        n_ord += in_map(t, t->tok_type[id]);
    cap = pow2_at_least(n_ord * 2 + 1);
    t->vmap = llm__mem_alloc(&t->obj.mem, llm__mem_mul(cap, sizeof *t->vmap));
    if (!t->vmap)
        return llm__err(NULL, LLM_ERR_NOMEM, "%s: out of memory", where);
    t->vmap_mask = cap - 1;
    for (id = 0; id < cap; id++)
        t->vmap[id].id = -1;
    for (id = 0; id < 256; id++)
        t->byte_id[id] = -1;
    for (id = 0; id < t->n_vocab; id++) {
        /* an empty token (a hole) may have no byte store behind it yet */
        const uint8_t *b = t->tok_len[id] ? t->bytes + t->tok_off[id] : t->bytes;
        size_t len = t->tok_len[id], i;
        uint64_t h;
        if (t->kind == LLM__TOK_SPM && t->tok_type[id] == LLM__TT_BYTE && len == 1)
            t->byte_id[b[0]] = (int32_t)id; /* byte fallback */
        if (!in_map(t, t->tok_type[id]))
            continue;
        h = llm__bpe_hash(b, len);
        for (i = (size_t)(h >> 32) & t->vmap_mask;; i = (i + 1) & t->vmap_mask) {
            tok_vslot *s = &t->vmap[i];
            if (s->id < 0) {
                s->id = (int32_t)id;
                s->hash = (uint32_t)h;
                break;
            }
            if (s->hash == (uint32_t)h && t->tok_len[s->id] == len &&
                memcmp(t->bytes + t->tok_off[s->id], b, len) == 0)
                return llm__err(NULL, LLM_ERR_BAD_FILE,
                                "%s: tokens %ld and %zu have the same bytes (duplicate token)",
                                where, (long)s->id, id);
        }
        if (len == 1 && t->kind != LLM__TOK_SPM)
            t->byte_id[b[0]] = (int32_t)id;
    }
    for (id = 0; id < 256 && t->kind != LLM__TOK_SPM; id++)
        if (t->byte_id[id] < 0)
            return llm__err(NULL, LLM_ERR_BAD_FILE,
                            "%s: no token for the single byte 0x%02zx (byte-level BPE needs "
                            "all 256)", where, id);
    return LLM_OK;
}

int llm__tokenizer_add_merge(llm_tokenizer *t, int32_t left, int32_t right, const char *where) {
    if (left < 0 || right < 0 || (size_t)left >= t->n_vocab || (size_t)right >= t->n_vocab)
        return llm__err(NULL, LLM_ERR_BAD_FILE, "%s: merge %zu names an unknown token", where,
                        t->n_merges + 1);
    /* grow by doubling, tracked through the power-of-two count */
    if ((t->n_merges & (t->n_merges - 1)) == 0) {
        size_t ncap = t->n_merges ? t->n_merges * 2 : 1;
        int32_t *nm = llm__mem_realloc(&t->obj.mem, t->merges, t->n_merges * 2 * sizeof *nm,
                                       llm__mem_mul(ncap, 2 * sizeof *nm));
        if (!nm)
            return llm__err(NULL, LLM_ERR_NOMEM, "%s: out of memory", where);
        t->merges = nm;
    }
    t->merges[2 * t->n_merges] = left;
    t->merges[2 * t->n_merges + 1] = right;
    t->n_merges++;
    return LLM_OK;
}

static int pair_insert(llm_tokenizer *t, int32_t a, int32_t b, uint32_t rank, int32_t id,
                       const char *where, size_t merge_no) {
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    size_t i;
    for (i = (size_t)(h ^ (h >> 29)) & t->pmap_mask;; i = (i + 1) & t->pmap_mask) {
        tok_pslot *s = &t->pmap[i];
        if (s->key == UINT64_MAX) {
            s->key = key;
            s->rank = rank;
            s->id = id;
            return LLM_OK;
        }
        if (s->key == key) {
            if (t->rank_vocab || t->kind == LLM__TOK_SPM)
                return LLM_OK; /* same pair, same result: one entry is enough */
            return llm__err(NULL, LLM_ERR_BAD_FILE, "%s: merge %zu repeats merge %u", where,
                            merge_no, s->rank + 1);
        }
    }
}

static int pmap_alloc(llm_tokenizer *t, size_t n_pairs, const char *where) {
    size_t cap = pow2_at_least(n_pairs * 2 + 1), i;
    t->pmap = llm__mem_alloc(&t->obj.mem, llm__mem_mul(cap, sizeof *t->pmap));
    if (!t->pmap)
        return llm__err(NULL, LLM_ERR_NOMEM, "%s: out of memory (%zu merges)", where, n_pairs);
    t->pmap_mask = cap - 1;
    for (i = 0; i < cap; i++)
        t->pmap[i].key = UINT64_MAX;
    return LLM_OK;
}

/* Merge-list vocabulary: each merge (l, r) makes the token bytes(l)+bytes(r). */
static int build_pairs_from_merges(llm_tokenizer *t, const char *where) {
    size_t k;
    uint8_t small[256];
    int st = pmap_alloc(t, t->n_merges, where);
    if (st)
        return st;
    for (k = 0; k < t->n_merges; k++) {
        int32_t l = t->merges[2 * k], r = t->merges[2 * k + 1], id;
        size_t ll = t->tok_len[l], rl = t->tok_len[r], n = ll + rl;
        uint8_t *buf = small;
        if (!in_map(t, t->tok_type[l]) || !in_map(t, t->tok_type[r]))
            return llm__err(NULL, LLM_ERR_BAD_FILE,
                            "%s: merge %zu uses a special or undefined token (%ld %ld)", where,
                            k + 1, (long)l, (long)r);
        if (n > sizeof small) {
            buf = llm__mem_alloc(&t->obj.mem, n);
            if (!buf)
                return llm__err(NULL, LLM_ERR_NOMEM, "%s: out of memory", where);
        }
        memcpy(buf, t->bytes + t->tok_off[l], ll);
        memcpy(buf + ll, t->bytes + t->tok_off[r], rl);
        id = llm__tokenizer_find(t, buf, n);
        if (buf != small)
            llm__mem_free(&t->obj.mem, buf, n);
        if (id < 0)
            return llm__err(NULL, LLM_ERR_BAD_FILE,
                            "%s: merge %zu (tokens %ld + %ld) makes a token that is not in the "
                            "vocabulary", where, k + 1, (long)l, (long)r);
        st = pair_insert(t, l, r, (uint32_t)k, id, where, k + 1);
        if (st)
            return st;
    }
    return LLM_OK;
}

/* Doubles the pair map (rank vocabularies grow it while deriving pairs). */
static int pmap_grow(llm_tokenizer *t, const char *where) {
    tok_pslot *old = t->pmap;
    size_t ocap = t->pmap_mask + 1, i;
    int st;
    t->pmap = NULL;
    if ((st = pmap_alloc(t, ocap, where)) != LLM_OK) { /* 2*ocap+1 -> 4*ocap slots */
        t->pmap = old;
        return st;
    }
    for (i = 0; i < ocap; i++)
        if (old[i].key != UINT64_MAX)
            pair_insert(t, (int32_t)(old[i].key >> 32), (int32_t)(uint32_t)old[i].key,
                        old[i].rank, old[i].id, where, 0);
    llm__mem_free(&t->obj.mem, old, ocap * sizeof *old);
    return LLM_OK;
}

/* Rank vocabulary (tiktoken): every split of every token into two tokens
 * is a merge whose rank is the token's id. One pass; the map doubles when
 * it gets half full. */
static int build_pairs_from_ranks(llm_tokenizer *t, const char *where) {
    size_t id, n_pairs = 0;
    int st = pmap_alloc(t, t->n_vocab, where);
    if (st)
        return st;
    for (id = 0; id < t->n_vocab; id++) {
        const uint8_t *b = t->bytes + t->tok_off[id];
        size_t len = t->tok_len[id], k;
        if (!in_map(t, t->tok_type[id]) || len < 2)
            continue;
        for (k = 1; k < len; k++) {
            int32_t l = llm__tokenizer_find(t, b, k), r;
            if (l < 0)
                continue;
            r = llm__tokenizer_find(t, b + k, len - k);
            if (r < 0)
                continue;
            if (2 * (n_pairs + 1) > t->pmap_mask + 1 && (st = pmap_grow(t, where)) != LLM_OK)
                return st;
            if ((st = pair_insert(t, l, r, (uint32_t)id, (int32_t)id, where, 0)) != LLM_OK)
                return st;
            n_pairs++;
        }
    }
    return LLM_OK;
}

typedef struct scored {
    float score;
    int32_t id;
} scored;

static int by_score_desc(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* SentencePiece: every split of a piece into two pieces merges into it;
 * priority = the piece's score, higher first. Ranks number the distinct
 * scores in decreasing order, so equal scores tie and the leftmost pair
 * wins, as in SentencePiece's BPE (bpe_model.cc). */
static int build_pairs_spm(llm_tokenizer *t, const char *where) {
    size_t id, n = 0, i, n_pairs = 0;
    scored *sc;
    uint32_t *rank;
    int st = LLM_OK;
    if (!t->scores)
        return llm__err(NULL, LLM_ERR_BAD_FILE, "%s: SentencePiece vocabulary without scores",
                        where);
    sc = llm__mem_alloc(&t->obj.mem, llm__mem_mul(t->n_vocab, sizeof *sc));
    rank = llm__mem_alloc(&t->obj.mem, llm__mem_mul(t->n_vocab, sizeof *rank));
    if (!sc || !rank) {
        st = llm__err(NULL, LLM_ERR_NOMEM, "%s: out of memory", where);
        goto done;
    }
    for (id = 0; id < t->n_vocab; id++)
        if (in_map(t, t->tok_type[id]) && t->tok_len[id] >= 2) {
            sc[n].score = t->scores[id];
            sc[n++].id = (int32_t)id;
        }
    qsort(sc, n, sizeof *sc, by_score_desc);
    for (i = 0; i < n; i++)
        rank[sc[i].id] = i > 0 && sc[i].score == sc[i - 1].score ? rank[sc[i - 1].id]
                                                                   : (uint32_t)i;
    if ((st = pmap_alloc(t, t->n_vocab, where)) != LLM_OK)
        goto done;
    for (i = 0; i < n && st == LLM_OK; i++) {
        int32_t c = sc[i].id;
        const uint8_t *b = t->bytes + t->tok_off[c];
        size_t len = t->tok_len[c], k;
        for (k = 1; k < len && st == LLM_OK; k++) {
            int32_t l = llm__tokenizer_find(t, b, k), r;
            if (l < 0 || (r = llm__tokenizer_find(t, b + k, len - k)) < 0)
                continue;
            if (2 * (n_pairs + 1) > t->pmap_mask + 1 && (st = pmap_grow(t, where)) != LLM_OK)
                break;
            st = pair_insert(t, l, r, rank[c], c, where, 0);
            n_pairs++;
        }
    }
done:
    llm__mem_free(&t->obj.mem, sc, t->n_vocab * sizeof *sc);
    llm__mem_free(&t->obj.mem, rank, t->n_vocab * sizeof *rank);
    return st;
}

int llm__tokenizer_finish(llm_tokenizer *t, const char *where) {
    size_t id, n = 0, i, j;
    int st;
    if (!t->vmap && (st = llm__tokenizer_index(t, where)) != LLM_OK)
        return st;
    st = t->kind == LLM__TOK_SPM ? build_pairs_spm(t, where)
       : t->rank_vocab           ? build_pairs_from_ranks(t, where)
                                 : build_pairs_from_merges(t, where);
    if (st)
        return st;
    /* special tokens, longest first so that the scan prefers the longest
     * match at a position (insertion sort: there are few) */
    for (id = 0; id < t->n_vocab; id++)
        n += is_special_tok(t, t->tok_type[id]);
    if (n) {
        t->special = llm__mem_alloc(&t->obj.mem, llm__mem_mul(n, sizeof *t->special));
        if (!t->special)
            return llm__err(NULL, LLM_ERR_NOMEM, "%s: out of memory", where);
        for (id = 0; id < t->n_vocab; id++) {
            if (!is_special_tok(t, t->tok_type[id]))
                continue;
            for (i = t->n_special; i > 0 && t->tok_len[t->special[i - 1]] < t->tok_len[id]; i--)
                t->special[i] = t->special[i - 1];
            t->special[i] = (int32_t)id;
            t->n_special++;
        }
        for (i = 0; i < t->n_special; i++) {
            const uint8_t *b = t->bytes + t->tok_off[t->special[i]];
            t->special_first[b[0]] = 1;
            for (j = 0; j < i; j++) {
                const uint8_t *c = t->bytes + t->tok_off[t->special[j]];
                if (t->tok_len[t->special[j]] == t->tok_len[t->special[i]] &&
                    memcmp(b, c, t->tok_len[t->special[i]]) == 0)
                    return llm__err(NULL, LLM_ERR_BAD_FILE,
                                    "%s: special tokens %ld and %ld have the same text", where,
                                    (long)t->special[j], (long)t->special[i]);
            }
        }
    }
    if (t->kind == LLM__TOK_SPM)
        return LLM_OK; /* no split pattern: SentencePiece merges whole text */
    if (!t->pattern)
        t->pattern = LLM_TOK_PATTERN_GPT2;
    return llm__split_compile(t, where);
}

/* ------------------------------------------------------------------------
 * Public functions
 * ------------------------------------------------------------------------ */

int llm_tokenizer_opts_init(llm_tokenizer_opts *o, size_t struct_size) {
    return llm__opts_init(o, struct_size, "llm_tokenizer_opts_init");
}

int llm_tokenizer_load(llm_tokenizer **out, const char *path, const llm_tokenizer_opts *opts) {
    llm_tokenizer_opts o;
    int st;
    if (!out)
        return llm__err(NULL, LLM_ERR_INVALID, "llm_tokenizer_load: out is NULL");
    *out = NULL;
    if (!path)
        return llm__err(NULL, LLM_ERR_INVALID, "llm_tokenizer_load: path is NULL");
    st = llm__opts_read(NULL, &o, sizeof o, opts, "llm_tokenizer_opts");
    if (st)
        return st;
    if (o.flags)
        return llm__err(NULL, LLM_ERR_INVALID, "llm_tokenizer_load: opts.flags 0x%x: no flags "
                        "are defined", (unsigned)o.flags);
    if (o.pattern < LLM_TOK_PATTERN_DEFAULT || o.pattern > LLM_TOK_PATTERN_O200K)
        return llm__err(NULL, LLM_ERR_INVALID, "llm_tokenizer_load: opts.pattern %ld is not an "
                        "LLM_TOK_PATTERN_* value", (long)o.pattern);
    if (o.n_special && !o.special)
        return llm__err(NULL, LLM_ERR_INVALID,
                        "llm_tokenizer_load: opts.n_special is %u but opts.special is NULL",
                        (unsigned)o.n_special);
    for (size_t i = 0; i < o.n_special; i++)
        if (!o.special[i] || !o.special[i][0])
            return llm__err(NULL, LLM_ERR_INVALID,
                            "llm_tokenizer_load: opts.special[%zu] is NULL or empty", i);
    return llm__tokload_path(out, path, &o);
}

void llm_tokenizer_free(llm_tokenizer *tok) {
    if (!tok || !llm__obj_is(tok, LLM__MAGIC_TOKENIZER))
        return;
    llm__tokenizer_delete(tok);
}

#define CHECK_TOK(tok, fn)                                                             \
    do {                                                                               \
        if (!llm__obj_is((tok), LLM__MAGIC_TOKENIZER))                                 \
            return llm__err(NULL, LLM_ERR_INVALID, "%s: tok is NULL or not a tokenizer", \
                            (fn));                                                     \
    } while (0)

size_t llm_tokenizer_n_vocab(const llm_tokenizer *tok) {
    return llm__obj_is(tok, LLM__MAGIC_TOKENIZER) ? tok->n_vocab : 0;
}

llm_token llm_tokenizer_special_id(const llm_tokenizer *tok, int32_t kind) {
    if (!llm__obj_is(tok, LLM__MAGIC_TOKENIZER))
        return -1;
    switch (kind) {
    case LLM_TOK_BOS: return tok->bos;
    case LLM_TOK_EOS: return tok->eos;
    case LLM_TOK_UNK: return tok->unk;
    case LLM_TOK_PAD: return tok->pad;
    default: return -1;
    }
}

int32_t llm_tokenizer_add_bos(const llm_tokenizer *tok) {
    return llm__obj_is(tok, LLM__MAGIC_TOKENIZER) && tok->add_bos && tok->bos >= 0;
}

int32_t llm_tokenizer_is_special(const llm_tokenizer *tok, llm_token id) {
    if (!llm__obj_is(tok, LLM__MAGIC_TOKENIZER) || id < 0 || (size_t)id >= tok->n_vocab ||
        tok->tok_type[id] == LLM__TT_NONE)
        return -1;
    return is_special_tok(tok, tok->tok_type[id]);
}

/* Encoding state of one call (on the caller's stack). */
typedef struct enc_ctx {
    const llm_tokenizer *tok;
    llm_token *ids;
    size_t cap, n;
    int32_t *tmp;     /* piece ids when they do not fit in ids */
    void *scr;        /* bpe scratch */
    size_t piece_cap; /* tmp/scr hold pieces up to this length */
    int heap;         /* tmp/scr are heap blocks (piece_cap bytes each way) */
    int32_t s_tmp[PIECE_STACK];
    uint64_t s_scr[PIECE_STACK * 5 / 2]; /* 20 bytes per position, 8-aligned */
} enc_ctx;

static void enc_release(enc_ctx *c) {
    if (c->heap) {
        llm__mem_free(&c->tok->obj.mem, c->tmp, c->piece_cap * sizeof *c->tmp);
        llm__mem_free(&c->tok->obj.mem, c->scr, llm__bpe_scratch_size(c->piece_cap));
    }
}

static int enc_emit(enc_ctx *c, int32_t id) {
    if (c->n < c->cap)
        c->ids[c->n] = id;
    c->n++;
    return LLM_OK;
}

static int enc_piece(void *ud, const uint8_t *s, size_t len) {
    enc_ctx *c = ud;
    int32_t *out;
    size_t n, i;
    if (len > c->piece_cap) {
        size_t ncap = len;
        int32_t *nt = llm__mem_alloc(&c->tok->obj.mem, llm__mem_mul(ncap, sizeof *nt));
        void *ns = nt ? llm__mem_alloc(&c->tok->obj.mem, llm__bpe_scratch_size(ncap)) : NULL;
        if (!ns) {
            llm__mem_free(&c->tok->obj.mem, nt, ncap * sizeof *nt);
            return llm__err(NULL, LLM_ERR_NOMEM,
                            "llm_tokenizer_encode: out of memory (piece of %zu bytes)", len);
        }
        enc_release(c);
        c->tmp = nt;
        c->scr = ns;
        c->piece_cap = ncap;
        c->heap = 1;
    }
    /* write straight into the caller's buffer when the worst case fits */
    out = c->cap - (c->n < c->cap ? c->n : c->cap) >= len ? c->ids + c->n : c->tmp;
    n = llm__bpe_piece(c->tok, s, len, out, c->scr);
    if (out == c->tmp) {
        for (i = 0; i < n; i++)
            enc_emit(c, out[i]);
    } else {
        c->n += n;
    }
    return LLM_OK;
}

static int enc_ids(void *ud, const int32_t *ids, size_t n) {
    size_t i;
    for (i = 0; i < n; i++)
        enc_emit(ud, ids[i]);
    return LLM_OK;
}

/* One run of text without special tokens. */
static int enc_text(enc_ctx *c, const uint8_t *s, size_t len, int at_start) {
    if (c->tok->kind == LLM__TOK_SPM)
        return llm__tokspm_encode(c->tok, s, len, at_start, enc_ids, c);
    return llm__split_run(c->tok, s, len, enc_piece, c);
}

/* Position and id of the first special token at or after `from`, longest
 * match at the earliest position; returns 0 when there is none. */
static int next_special(const llm_tokenizer *t, const uint8_t *s, size_t len, size_t from,
                        size_t *at, int32_t *id) {
    size_t p, k;
    for (p = from; p < len; p++) {
        if (!t->special_first[s[p]])
            continue;
        for (k = 0; k < t->n_special; k++) {
            int32_t sid = t->special[k];
            size_t sl = t->tok_len[sid];
            if (sl <= len - p && memcmp(s + p, t->bytes + t->tok_off[sid], sl) == 0) {
                *at = p;
                *id = sid;
                return 1;
            }
        }
    }
    return 0;
}

int llm_tokenizer_encode(llm_token *ids, size_t max_ids, size_t *n_ids, const llm_tokenizer *tok,
                         const void *text, size_t len, uint32_t flags) {
    static const char fn[] = "llm_tokenizer_encode";
    enc_ctx c;
    const uint8_t *s = text;
    int st = LLM_OK;
    CHECK_TOK(tok, fn);
    LLM__CHECK_ARG(NULL, n_ids, fn, "n_ids is NULL");
    *n_ids = 0;
    LLM__CHECK_ARG(NULL, ids || max_ids == 0, fn, "ids is NULL but max_ids > 0");
    LLM__CHECK_ARG(NULL, text || len == 0, fn, "text is NULL but len > 0");
    if (flags & ~(LLM_TOK_PARSE_SPECIAL | LLM_TOK_ADD_BOS))
        return llm__err(NULL, LLM_ERR_INVALID, "%s: unknown flags 0x%x", fn,
                        (unsigned)(flags & ~(LLM_TOK_PARSE_SPECIAL | LLM_TOK_ADD_BOS)));
    if ((flags & LLM_TOK_ADD_BOS) && tok->bos < 0)
        return llm__err(NULL, LLM_ERR_UNSUPPORTED, "%s: LLM_TOK_ADD_BOS, but the tokenizer has "
                        "no BOS token", fn);
    memset(&c, 0, offsetof(enc_ctx, s_tmp));
    c.tok = tok;
    c.ids = ids;
    c.cap = max_ids;
    c.tmp = c.s_tmp;
    c.scr = c.s_scr;
    c.piece_cap = PIECE_STACK;
    if (flags & LLM_TOK_ADD_BOS)
        enc_emit(&c, tok->bos);
    if ((flags & LLM_TOK_PARSE_SPECIAL) && tok->n_special) {
        size_t pos = 0, at;
        int32_t sid;
        /* SentencePiece's dummy prefix goes before the first text that no
         * other text precedes, even after leading special tokens: decode
         * drops the leading space of the first text piece, so this keeps
         * decode(encode(x)) == x for text such as "<s> Hello" */
        int first = 1;
        while (st == LLM_OK && pos < len) {
            if (!next_special(tok, s, len, pos, &at, &sid)) {
                st = enc_text(&c, s + pos, len - pos, first);
                break;
            }
            st = enc_text(&c, s + pos, at - pos, first);
            if (at > pos)
                first = 0;
            enc_emit(&c, sid);
            pos = at + tok->tok_len[sid];
        }
    } else {
        st = enc_text(&c, s, len, 1);
    }
    enc_release(&c);
    if (st != LLM_OK)
        return st;
    *n_ids = c.n;
    if (c.n > max_ids)
        return llm__err(NULL, LLM_ERR_BUFFER_TOO_SMALL,
                        "%s: %zu ids needed, the buffer holds %zu", fn, c.n, max_ids);
    return LLM_OK;
}

/* raw: the bytes of each token as they are (token_to_piece), without
 * SentencePiece's removal of the dummy prefix */
static int decode_ids(char *out, size_t max_bytes, size_t *n_bytes, const llm_tokenizer *tok,
                      const llm_token *ids, size_t n, uint32_t flags, int raw, const char *fn) {
    size_t i, total = 0;
    CHECK_TOK(tok, fn);
    LLM__CHECK_ARG(NULL, n_bytes, fn, "n_bytes is NULL");
    *n_bytes = 0;
    LLM__CHECK_ARG(NULL, out || max_bytes == 0, fn, "out is NULL but max_bytes > 0");
    LLM__CHECK_ARG(NULL, ids || n == 0, fn, "ids is NULL but n > 0");
    if (flags & ~LLM_TOK_SKIP_SPECIAL)
        return llm__err(NULL, LLM_ERR_INVALID, "%s: unknown flags 0x%x", fn,
                        (unsigned)(flags & ~LLM_TOK_SKIP_SPECIAL));
    /* SentencePiece: the dummy prefix (a space in front of the first
     * piece of text) is removed, as its decoder does */
    int strip = !raw && tok->kind == LLM__TOK_SPM && tok->add_space_prefix;
    for (i = 0; i < n; i++) {
        llm_token id = ids[i];
        size_t l;
        const uint8_t *b;
        if (id < 0 || (size_t)id >= tok->n_vocab || tok->tok_type[id] == LLM__TT_NONE)
            return llm__err(NULL, LLM_ERR_RANGE,
                            "%s: ids[%zu] = %ld is not a token id (vocabulary of %zu)", fn, i,
                            (long)id, tok->n_vocab);
        if (is_special_tok(tok, tok->tok_type[id])) {
            if (flags & LLM_TOK_SKIP_SPECIAL)
                continue;
        } else if (strip) {
            strip = 0;
            if (tok->bytes[tok->tok_off[id]] == ' ' && tok->tok_type[id] != LLM__TT_BYTE) {
                b = tok->bytes + tok->tok_off[id] + 1;
                l = tok->tok_len[id] - 1;
                goto copy;
            }
        }
        b = tok->bytes + tok->tok_off[id];
        l = tok->tok_len[id];
    copy:
        if (l && total + l <= max_bytes) /* l == 0: out may be NULL (size query) */
            memcpy(out + total, b, l);
        total += l;
    }
    *n_bytes = total;
    if (total > max_bytes)
        return llm__err(NULL, LLM_ERR_BUFFER_TOO_SMALL,
                        "%s: %zu bytes needed, the buffer holds %zu", fn, total, max_bytes);
    return LLM_OK;
}

int llm_tokenizer_decode(char *out, size_t max_bytes, size_t *n_bytes, const llm_tokenizer *tok,
                         const llm_token *ids, size_t n, uint32_t flags) {
    return decode_ids(out, max_bytes, n_bytes, tok, ids, n, flags, 0, "llm_tokenizer_decode");
}

int llm_tokenizer_token_to_piece(char *out, size_t max_bytes, size_t *n_bytes,
                                 const llm_tokenizer *tok, llm_token id) {
    return decode_ids(out, max_bytes, n_bytes, tok, &id, 1, 0, 1,
                      "llm_tokenizer_token_to_piece");
}

int llm_tokenizer_piece_to_token(llm_token *id, const llm_tokenizer *tok, const void *piece,
                                 size_t len) {
    static const char fn[] = "llm_tokenizer_piece_to_token";
    size_t k;
    int32_t r;
    CHECK_TOK(tok, fn);
    LLM__CHECK_ARG(NULL, id, fn, "id is NULL");
    *id = -1;
    LLM__CHECK_ARG(NULL, piece || len == 0, fn, "piece is NULL but len > 0");
    r = len ? llm__tokenizer_find(tok, piece, len) : -1;
    for (k = 0; r < 0 && k < tok->n_special; k++) {
        int32_t sid = tok->special[k];
        if (tok->tok_len[sid] == len && memcmp(tok->bytes + tok->tok_off[sid], piece, len) == 0)
            r = sid;
    }
    if (r < 0)
        return llm__err(NULL, LLM_ERR_NOT_FOUND, "%s: no token has these %zu bytes", fn, len);
    *id = r;
    return LLM_OK;
}
