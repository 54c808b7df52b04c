/*
 * tok_train.c - learning byte-level BPE merges from text
 * (llm_tokenizer_train).
 *
 * 1. Count pre-tokens. The files are read through zlib's gzread (plain
 *    text passes through unchanged), in chunks cut right after a newline
 *    that is followed by an ASCII letter or digit: no alternative of the
 *    three split patterns can match across such a point, so the pieces are
 *    exactly those of the whole file, whatever the chunk size.
 * 2. Each distinct piece is a "word": its count and its symbols (token
 *    ids, initially one per byte).
 * 3. Pair statistics: pair -> (count weighted by word counts, list of words
 *    that contain it). A max-heap of (count, left, right) with lazy
 *    invalidation picks the next merge: an entry whose count is stale is
 *    pushed again with the current count. Ties go to the smaller (left,
 *    right) ids, so training is deterministic.
 * 4. A merge rewrites only the words on the pair's list and updates the
 *    counts of the neighbouring pairs incrementally (never a recount).
 * Merges whose bytes already form a token reuse it (different pairs may
 * spell the same bytes), so tokens stay unique.
 */
#include <string.h>
#include <zlib.h>

#include "tokenizer/tok_internal.h"

/* ---- a growable array ---- */
typedef struct vec {
    void *p;
    size_t n, cap; /* elements */
} vec;

static int vec_reserve(const llm__mem *m, vec *v, size_t need, size_t elem) {
    size_t nc;
    void *np;
    if (need <= v->cap)
        return 0;
    nc = v->cap ? v->cap : 16;
    while (nc < need) {
        if (nc > SIZE_MAX / 4 / elem)
            return -1;
        nc *= 2;
    }
    np = llm__mem_realloc(m, v->p, v->cap * elem, nc * elem);
    if (!np)
        return -1;
    v->p = np;
    v->cap = nc;
    return 0;
}

static void vec_free(const llm__mem *m, vec *v, size_t elem) {
    llm__mem_free(m, v->p, v->cap * elem);
    v->p = NULL;
    v->n = v->cap = 0;
}

typedef struct word {
    uint64_t count;
    size_t off;  /* bytes in the piece arena, then symbols in syms */
    uint32_t len; /* bytes, then current symbol count */
    uint32_t stamp; /* last merge that rewrote it (+1) */
} word;

typedef struct pair {
    uint64_t key;   /* (left << 32) | right; UINT64_MAX empty */
    int64_t count;
    uint32_t *w;    /* words that contained it when counted (may repeat) */
    uint32_t nw, capw;
    uint32_t merged; /* already in the merge list */
} pair;

typedef struct hentry {
    int64_t count;
    int32_t a, b;
} hentry;

typedef struct trainer {
    llm__mem mem;
    const llm_tokenizer_train_opts *o;
    /* words */
    vec words;      /* word */
    vec arena;      /* uint8 piece bytes */
    uint32_t *wmap; /* piece hash -> word index + 1 */
    size_t wmap_cap;
    int32_t *syms;  /* symbols of all words */
    /* pairs */
    pair *pairs;
    size_t pairs_cap, n_pairs;
    vec heap;       /* hentry */
    vec touched;    /* uint64 pair keys changed in the current merge */
    /* tokens so far */
    vec tok_off, tok_len; /* uint32 */
    vec tbytes;     /* uint8 */
    uint32_t *tmap; /* token bytes hash -> id + 1 */
    size_t tmap_cap;
    uint32_t applied; /* merges applied so far: stamps words per merge */
} trainer;

/* ---- counting pieces ---- */

static int wmap_grow(trainer *T) {
    size_t nc = T->wmap_cap ? T->wmap_cap * 2 : 1024, i;
    uint32_t *nm = llm__mem_calloc(&T->mem, nc, sizeof *nm);
    const word *w = T->words.p;
    if (!nm)
        return -1;
    for (i = 0; i < T->words.n; i++) {
        const uint8_t *b = (const uint8_t *)T->arena.p + w[i].off;
        size_t h = (size_t)llm__bpe_hash(b, w[i].len) & (nc - 1);
        while (nm[h])
            h = (h + 1) & (nc - 1);
        nm[h] = (uint32_t)i + 1;
    }
    llm__mem_free(&T->mem, T->wmap, T->wmap_cap * sizeof *T->wmap);
    T->wmap = nm;
    T->wmap_cap = nc;
    return 0;
}

static int count_piece(void *ud, const uint8_t *s, size_t len) {
    trainer *T = ud;
    size_t h;
    word *w;
    if (len > UINT32_MAX)
        return llm__err(NULL, LLM_ERR_UNSUPPORTED, "llm_tokenizer_train: a pre-token longer "
                        "than 4 GiB");
    if (2 * (T->words.n + 1) > T->wmap_cap && wmap_grow(T))
        return llm__err(NULL, LLM_ERR_NOMEM, "llm_tokenizer_train: out of memory");
    h = (size_t)llm__bpe_hash(s, len) & (T->wmap_cap - 1);
    for (;; h = (h + 1) & (T->wmap_cap - 1)) {
        uint32_t k = T->wmap[h];
        if (!k)
            break;
        w = (word *)T->words.p + (k - 1);
        if (w->len == len && memcmp((uint8_t *)T->arena.p + w->off, s, len) == 0) {
            w->count++;
            return LLM_OK;
        }
    }
    if (T->words.n >= UINT32_MAX - 1 ||
        vec_reserve(&T->mem, &T->words, T->words.n + 1, sizeof(word)) ||
        vec_reserve(&T->mem, &T->arena, T->arena.n + len, 1))
        return llm__err(NULL, LLM_ERR_NOMEM, "llm_tokenizer_train: out of memory");
    w = (word *)T->words.p + T->words.n;
    w->count = 1;
    w->off = T->arena.n;
    w->len = (uint32_t)len;
    w->stamp = 0;
    memcpy((uint8_t *)T->arena.p + T->arena.n, s, len);
    T->arena.n += len;
    T->wmap[h] = (uint32_t)++T->words.n;
    return LLM_OK;
}

/* A safe cut: just after a '\n' followed by an ASCII letter or digit. */
static size_t last_cut(const uint8_t *b, size_t n) {
    size_t i;
    for (i = n; i > 1; i--) {
        uint8_t c = b[i - 1];
        if (b[i - 2] == '\n' && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                 (c >= '0' && c <= '9')))
            return i - 1;
    }
    return 0;
}

static int count_file(trainer *T, const llm_tokenizer *splitter, const char *path) {
    gzFile f = gzopen(path, "rb");
    size_t cap = 1 << 20, have = 0;
    uint8_t *buf;
    int st = LLM_OK, eof = 0;
    if (!f)
        return llm__err(NULL, LLM_ERR_IO, "%s: cannot open", path);
    buf = llm__mem_alloc(&T->mem, cap);
    if (!buf) {
        gzclose(f);
        return llm__err(NULL, LLM_ERR_NOMEM, "llm_tokenizer_train: out of memory");
    }
    while (st == LLM_OK && !eof) {
        int got;
        size_t cut;
        if (have == cap) { /* no cut point in the whole buffer: grow it */
            uint8_t *nb = cap > SIZE_MAX / 2 ? NULL : llm__mem_realloc(&T->mem, buf, cap, cap * 2);
            if (!nb) {
                st = llm__err(NULL, LLM_ERR_NOMEM, "llm_tokenizer_train: out of memory");
                break;
            }
            buf = nb;
            cap *= 2;
        }
        got = gzread(f, buf + have, (unsigned)((cap - have) > (1u << 30) ? (1u << 30)
                                                                          : (cap - have)));
        if (got < 0) {
            int e;
            const char *msg = gzerror(f, &e);
            st = llm__err(NULL, LLM_ERR_IO, "%s: read error after %zu bytes: %s", path, have,
                          msg ? msg : "?");
            break;
        }
        have += (size_t)got;
        eof = got == 0;
        cut = eof ? have : last_cut(buf, have);
        if (cut == 0)
            continue;
        st = llm__split_run(splitter, buf, cut, count_piece, T);
        memmove(buf, buf + cut, have - cut);
        have -= cut;
    }
    llm__mem_free(&T->mem, buf, cap);
    gzclose(f);
    return st;
}

/* ---- tokens ---- */

static int32_t tok_find(const trainer *T, const uint8_t *b, size_t n, size_t *slot) {
    size_t h = (size_t)llm__bpe_hash(b, n) & (T->tmap_cap - 1);
    const uint32_t *off = T->tok_off.p, *len = T->tok_len.p;
    for (;; h = (h + 1) & (T->tmap_cap - 1)) {
        uint32_t k = T->tmap[h];
        if (!k)
            break;
        if (len[k - 1] == n && memcmp((uint8_t *)T->tbytes.p + off[k - 1], b, n) == 0) {
            *slot = h;
            return (int32_t)(k - 1);
        }
    }
    *slot = h;
    return -1;
}

/* Id of the token a+b, created if new; -1 on out of memory. */
static int32_t tok_concat(trainer *T, int32_t a, int32_t b) {
    uint32_t *off, *len;
    size_t la, lb, slot, start;
    int32_t id;
    off = T->tok_off.p;
    len = T->tok_len.p;
    la = len[a];
    lb = len[b];
    if (vec_reserve(&T->mem, &T->tbytes, T->tbytes.n + la + lb, 1))
        return -1;
    start = T->tbytes.n;
    memcpy((uint8_t *)T->tbytes.p + start, (uint8_t *)T->tbytes.p + off[a], la);
    memcpy((uint8_t *)T->tbytes.p + start + la, (uint8_t *)T->tbytes.p + off[b], lb);
    id = tok_find(T, (uint8_t *)T->tbytes.p + start, la + lb, &slot);
    if (id >= 0)
        return id; /* the bytes appended above are simply overwritten later */
    if (vec_reserve(&T->mem, &T->tok_off, T->tok_off.n + 1, sizeof(uint32_t)) ||
        vec_reserve(&T->mem, &T->tok_len, T->tok_len.n + 1, sizeof(uint32_t)))
        return -1;
    id = (int32_t)T->tok_off.n;
    ((uint32_t *)T->tok_off.p)[T->tok_off.n++] = (uint32_t)start;
    ((uint32_t *)T->tok_len.p)[T->tok_len.n++] = (uint32_t)(la + lb);
    T->tbytes.n += la + lb;
    T->tmap[slot] = (uint32_t)id + 1;
    return id;
}

/* ---- pairs ---- */

static pair *pair_get(trainer *T, int32_t a, int32_t b, int create) {
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b, h;
    size_t i;
    if (create && 2 * (T->n_pairs + 1) > T->pairs_cap) {
        size_t nc = T->pairs_cap ? T->pairs_cap * 2 : 4096, j;
        pair *np = llm__mem_alloc(&T->mem, llm__mem_mul(nc, sizeof *np));
        if (!np)
            return NULL;
        for (j = 0; j < nc; j++)
            np[j].key = UINT64_MAX;
        for (j = 0; j < T->pairs_cap; j++) {
            if (T->pairs[j].key == UINT64_MAX)
                continue;
            h = T->pairs[j].key * 0x9E3779B97F4A7C15ull;
            for (i = (size_t)(h >> 20) & (nc - 1); np[i].key != UINT64_MAX; i = (i + 1) & (nc - 1))
                ;
            np[i] = T->pairs[j];
        }
        llm__mem_free(&T->mem, T->pairs, T->pairs_cap * sizeof *T->pairs);
        T->pairs = np;
        T->pairs_cap = nc;
    }
    if (!T->pairs_cap)
        return NULL;
    h = key * 0x9E3779B97F4A7C15ull;
    for (i = (size_t)(h >> 20) & (T->pairs_cap - 1);; i = (i + 1) & (T->pairs_cap - 1)) {
        pair *p = &T->pairs[i];
        if (p->key == key)
            return p;
        if (p->key == UINT64_MAX) {
            if (!create)
                return NULL;
            memset(p, 0, sizeof *p);
            p->key = key;
            T->n_pairs++;
            return p;
        }
    }
}

static int pair_add(trainer *T, int32_t a, int32_t b, int64_t c, uint32_t w) {
    pair *p = pair_get(T, a, b, 1);
    if (!p)
        return -1;
    p->count += c;
    if (c > 0) {
        if (p->nw == 0 || p->w[p->nw - 1] != w) {
            if (p->nw == p->capw) {
                uint32_t nc = p->capw ? p->capw * 2 : 4;
                uint32_t *nw = llm__mem_realloc(&T->mem, p->w, p->capw * sizeof *nw,
                                                (size_t)nc * sizeof *nw);
                if (!nw)
                    return -1;
                p->w = nw;
                p->capw = nc;
            }
            p->w[p->nw++] = w;
        }
        if (vec_reserve(&T->mem, &T->touched, T->touched.n + 1, sizeof(uint64_t)))
            return -1;
        ((uint64_t *)T->touched.p)[T->touched.n++] = p->key;
    }
    return 0;
}

/* Heap order: larger count first, then smaller (a, b). */
static int h_before(const hentry *x, const hentry *y) {
    if (x->count != y->count)
        return x->count > y->count;
    if (x->a != y->a)
        return x->a < y->a;
    return x->b < y->b;
}

static int heap_push(trainer *T, int64_t count, int32_t a, int32_t b) {
    hentry *h;
    size_t i;
    if (vec_reserve(&T->mem, &T->heap, T->heap.n + 1, sizeof(hentry)))
        return -1;
    h = T->heap.p;
    i = T->heap.n++;
    h[i].count = count;
    h[i].a = a;
    h[i].b = b;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        hentry t;
        if (!h_before(&h[i], &h[p]))
            break;
        t = h[i];
        h[i] = h[p];
        h[p] = t;
        i = p;
    }
    return 0;
}

static hentry heap_pop(trainer *T) {
    hentry *h = T->heap.p, top = h[0];
    size_t i = 0, n = --T->heap.n;
    h[0] = h[n];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        hentry t;
        if (l < n && h_before(&h[l], &h[m]))
            m = l;
        if (r < n && h_before(&h[r], &h[m]))
            m = r;
        if (m == i)
            break;
        t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
    return top;
}

/* Rewrites every word containing (a, b) with z, updating pair counts. */
static int apply_merge(trainer *T, int32_t a, int32_t b, int32_t z, uint32_t stamp) {
    pair *p = pair_get(T, a, b, 0);
    uint32_t *wl, nw, capw, k;
    word *words = T->words.p;
    if (!p)
        return 0;
    /* the list may move while pairs are added: take it over */
    wl = p->w;
    nw = p->nw;
    capw = p->capw;
    p->merged = 1;
    p->w = NULL;
    p->nw = p->capw = 0;
    T->touched.n = 0;
    for (k = 0; k < nw; k++) {
        word *w = &words[wl[k]];
        int32_t *s = T->syms + w->off;
        uint32_t n = w->len, i = 0, o = 0;
        int64_t c = (int64_t)w->count;
        if (w->stamp == stamp)
            continue;
        w->stamp = stamp;
        while (i < n) {
            if (i + 1 < n && s[i] == a && s[i + 1] == b) {
                if (o > 0 && (pair_add(T, s[o - 1], a, -c, wl[k]) ||
                              pair_add(T, s[o - 1], z, c, wl[k])))
                    goto fail;
                if (i + 2 < n && (pair_add(T, b, s[i + 2], -c, wl[k]) ||
                                  pair_add(T, z, s[i + 2], c, wl[k])))
                    goto fail;
                if (pair_add(T, a, b, -c, wl[k]))
                    goto fail;
                s[o++] = z;
                i += 2;
            } else {
                s[o++] = s[i++];
            }
        }
        w->len = o;
    }
    llm__mem_free(&T->mem, wl, (size_t)capw * sizeof *wl);
    /* push the final counts of the pairs that grew */
    for (k = 0; k < T->touched.n; k++) {
        uint64_t key = ((uint64_t *)T->touched.p)[k];
        pair *q = pair_get(T, (int32_t)(key >> 32), (int32_t)(uint32_t)key, 0);
        if (q && q->count > 0 && heap_push(T, q->count, (int32_t)(key >> 32),
                                           (int32_t)(uint32_t)key))
            return -1;
    }
    return 0;
fail: /* out of memory: the list taken over above is ours to free */
    llm__mem_free(&T->mem, wl, (size_t)capw * sizeof *wl);
    return -1;
}

static void trainer_free(trainer *T) {
    size_t i;
    for (i = 0; i < T->pairs_cap; i++)
        if (T->pairs[i].key != UINT64_MAX)
            llm__mem_free(&T->mem, T->pairs[i].w, T->pairs[i].capw * sizeof(uint32_t));
    llm__mem_free(&T->mem, T->pairs, T->pairs_cap * sizeof *T->pairs);
    llm__mem_free(&T->mem, T->wmap, T->wmap_cap * sizeof *T->wmap);
    llm__mem_free(&T->mem, T->tmap, T->tmap_cap * sizeof *T->tmap);
    vec_free(&T->mem, &T->words, sizeof(word));
    vec_free(&T->mem, &T->arena, 1);
    vec_free(&T->mem, &T->heap, sizeof(hentry));
    vec_free(&T->mem, &T->touched, sizeof(uint64_t));
    vec_free(&T->mem, &T->tok_off, sizeof(uint32_t));
    vec_free(&T->mem, &T->tok_len, sizeof(uint32_t));
    vec_free(&T->mem, &T->tbytes, 1);
}

int llm_tokenizer_train_opts_init(llm_tokenizer_train_opts *o, size_t struct_size) {
    return llm__opts_init(o, struct_size, "llm_tokenizer_train_opts_init");
}

/* GPT-2's byte order: printable bytes ascending, then the others. */
static void byte_order(uint8_t order[256]) {
    int b, k = 0, pass;
    for (pass = 0; pass < 2; pass++)
        for (b = 0; b < 256; b++) {
            int printable = llm__tokload_byte_cp((uint8_t)b) == (uint32_t)b;
            if (printable == (pass == 0))
                order[k++] = (uint8_t)b;
        }
}

int llm_tokenizer_train(llm_tokenizer **out, const char *const *files, size_t n_files,
                        const llm_tokenizer_train_opts *opts) {
    static const char fn[] = "llm_tokenizer_train";
    static const char *const default_special[1] = {"<|endoftext|>"};
    llm_tokenizer_train_opts o;
    trainer T;
    llm_tokenizer *splitter = NULL, *t = NULL;
    const char *const *special;
    size_t n_special, i, target, n_merges = 0, syms_n = 0;
    uint8_t order[256];
    uint32_t min_freq;
    vec merges = {0}; /* int32 pairs (left, right) */
    int st;
    if (!out)
        return llm__err(NULL, LLM_ERR_INVALID, "%s: out is NULL", fn);
    *out = NULL;
    if (!files || n_files == 0)
        return llm__err(NULL, LLM_ERR_INVALID, "%s: no input files", fn);
    for (i = 0; i < n_files; i++)
        if (!files[i])
            return llm__err(NULL, LLM_ERR_INVALID, "%s: files[%zu] is NULL", fn, i);
    if ((st = llm__opts_read(NULL, &o, sizeof o, opts, "llm_tokenizer_train_opts")) != LLM_OK)
        return st;
    if (o.flags)
        return llm__err(NULL, LLM_ERR_INVALID, "%s: opts.flags must be 0", fn);
    if (o.pattern < 0 || o.pattern > LLM_TOK_PATTERN_O200K)
        return llm__err(NULL, LLM_ERR_INVALID, "%s: opts.pattern %ld is not an "
                        "LLM_TOK_PATTERN_* value", fn, (long)o.pattern);
    special = o.n_special ? o.special : default_special;
    n_special = o.n_special ? o.n_special : 1;
    if (!special)
        return llm__err(NULL, LLM_ERR_INVALID, "%s: opts.special is NULL", fn);
    for (i = 0; i < n_special; i++)
        if (!special[i] || strlen(special[i]) < 2)
            return llm__err(NULL, LLM_ERR_INVALID, "%s: opts.special[%zu] must be a text of "
                            "at least 2 bytes", fn, i);
    if (o.vocab_size < 256 + n_special || o.vocab_size > (uint32_t)INT32_MAX)
        return llm__err(NULL, LLM_ERR_INVALID, "%s: opts.vocab_size %u must be at least 256 + "
                        "%zu special tokens", fn, (unsigned)o.vocab_size, n_special);
    target = o.vocab_size - 256 - n_special;
    min_freq = o.min_frequency ? o.min_frequency : 2;

    memset(&T, 0, sizeof T);
    T.o = &o;
    llm__mem_init(&T.mem, o.alloc, o.alloc_ud);
    /* a bare tokenizer handle just to run the split pattern */
    st = llm__tokenizer_new(&splitter, 1, o.alloc, o.alloc_ud, fn, NULL);
    if (st)
        return st;
    splitter->pattern = o.pattern ? o.pattern : LLM_TOK_PATTERN_GPT2;
    st = llm__split_compile(splitter, fn);
    for (i = 0; st == LLM_OK && i < n_files; i++)
        st = count_file(&T, splitter, files[i]);
    if (st)
        goto done;

    /* tokens: the 256 bytes in GPT-2's order */
    byte_order(order);
    T.tmap_cap = 1024;
    while (T.tmap_cap < 2 * (256 + target + 1))
        T.tmap_cap *= 2;
    T.tmap = llm__mem_calloc(&T.mem, T.tmap_cap, sizeof *T.tmap);
    if (!T.tmap || vec_reserve(&T.mem, &T.tbytes, 256, 1) ||
        vec_reserve(&T.mem, &T.tok_off, 256, sizeof(uint32_t)) ||
        vec_reserve(&T.mem, &T.tok_len, 256, sizeof(uint32_t))) {
        st = llm__err(NULL, LLM_ERR_NOMEM, "%s: out of memory", fn);
        goto done;
    }
    {
        int32_t id_of_byte[256];
        word *w = T.words.p;
        for (i = 0; i < 256; i++) {
            size_t slot;
            ((uint8_t *)T.tbytes.p)[i] = order[i];
            ((uint32_t *)T.tok_off.p)[i] = (uint32_t)i;
            ((uint32_t *)T.tok_len.p)[i] = 1;
            T.tbytes.n = T.tok_off.n = T.tok_len.n = i + 1;
            tok_find(&T, &order[i], 1, &slot);
            T.tmap[slot] = (uint32_t)i + 1;
            id_of_byte[order[i]] = (int32_t)i;
        }
        /* symbols of every word, and the initial pair counts */
        T.syms = llm__mem_alloc(&T.mem, llm__mem_mul(T.arena.n ? T.arena.n : 1, sizeof(int32_t)));
        if (!T.syms) {
            st = llm__err(NULL, LLM_ERR_NOMEM, "%s: out of memory", fn);
            goto done;
        }
        syms_n = T.arena.n ? T.arena.n : 1;
        for (i = 0; i < T.words.n; i++) {
            const uint8_t *b = (const uint8_t *)T.arena.p + w[i].off;
            int32_t *s = T.syms + w[i].off;
            uint32_t k;
            for (k = 0; k < w[i].len; k++)
                s[k] = id_of_byte[b[k]];
            for (k = 0; k + 1 < w[i].len; k++)
                if (pair_add(&T, s[k], s[k + 1], (int64_t)w[i].count, (uint32_t)i)) {
                    st = llm__err(NULL, LLM_ERR_NOMEM, "%s: out of memory", fn);
                    goto done;
                }
        }
        for (i = 0; i < T.pairs_cap; i++)
            if (T.pairs[i].key != UINT64_MAX && T.pairs[i].count > 0 &&
                heap_push(&T, T.pairs[i].count, (int32_t)(T.pairs[i].key >> 32),
                          (int32_t)(uint32_t)T.pairs[i].key)) {
                st = llm__err(NULL, LLM_ERR_NOMEM, "%s: out of memory", fn);
                goto done;
            }
    }
    /* the merge loop */
    while (T.tok_off.n - 256 < target && T.heap.n > 0) {
        hentry e = heap_pop(&T);
        pair *p = pair_get(&T, e.a, e.b, 0);
        int32_t z;
        int again;
        if (!p || p->count != e.count) {
            if (p && p->count > 0 && heap_push(&T, p->count, e.a, e.b)) {
                st = llm__err(NULL, LLM_ERR_NOMEM, "%s: out of memory", fn);
                goto done;
            }
            continue; /* stale entry */
        }
        if (e.count < (int64_t)min_freq)
            break;
        /* a pair can reappear only through a reused token; it is then
         * merged again in the words but listed once */
        again = p->merged != 0;
        z = tok_concat(&T, e.a, e.b);
        if (z < 0 || apply_merge(&T, e.a, e.b, z, ++T.applied) ||
            (!again && vec_reserve(&T.mem, &merges, 2 * (n_merges + 1), sizeof(int32_t)))) {
            st = llm__err(NULL, LLM_ERR_NOMEM, "%s: out of memory", fn);
            goto done;
        }
        if (again)
            continue;
        ((int32_t *)merges.p)[2 * n_merges] = e.a;
        ((int32_t *)merges.p)[2 * n_merges + 1] = e.b;
        merges.n = 2 * ++n_merges;
        if (n_merges % 64 == 0 &&
            (st = llm__progress(NULL, o.progress, o.progress_ud, LLM_PHASE_TOKENIZER_TRAIN,
                                T.tok_off.n - 256, target)) != LLM_OK)
            goto done;
    }
    if ((st = llm__progress(NULL, o.progress, o.progress_ud, LLM_PHASE_TOKENIZER_TRAIN,
                            T.tok_off.n - 256, target)) != LLM_OK)
        goto done;

    /* the tokenizer: tokens, merges (HF semantics), specials */
    {
        size_t n_tok = T.tok_off.n;
        const uint32_t *off = T.tok_off.p, *len = T.tok_len.p;
        st = llm__tokenizer_new(&t, n_tok + n_special, o.alloc, o.alloc_ud, fn, NULL);
        for (i = 0; st == LLM_OK && i < n_tok; i++)
            st = llm__tokenizer_set(t, (int32_t)i, (const uint8_t *)T.tbytes.p + off[i], len[i],
                                    LLM__TT_NORMAL, fn);
        for (i = 0; st == LLM_OK && i < n_special; i++)
            st = llm__tokenizer_set(t, (int32_t)(n_tok + i), special[i], strlen(special[i]),
                                    LLM__TT_CONTROL, fn);
        if (st == LLM_OK)
            st = llm__tokenizer_index(t, fn);
        for (i = 0; st == LLM_OK && i < n_merges; i++)
            st = llm__tokenizer_add_merge(t, ((int32_t *)merges.p)[2 * i],
                                          ((int32_t *)merges.p)[2 * i + 1], fn);
        if (st == LLM_OK) {
            int32_t eot = -1;
            for (i = 0; i < n_special; i++)
                if (strcmp(special[i], "<|endoftext|>") == 0)
                    eot = (int32_t)(n_tok + i);
            t->bos = t->eos = eot >= 0 ? eot : (int32_t)n_tok;
            t->pattern = splitter->pattern;
            st = llm__tokenizer_finish(t, fn);
        }
    }
done:
    vec_free(&T.mem, &merges, sizeof(int32_t));
    llm__mem_free(&T.mem, T.syms, syms_n * sizeof(int32_t));
    trainer_free(&T);
    llm__tokenizer_delete(splitter);
    if (st) {
        llm__tokenizer_delete(t);
        return st;
    }
    *out = t;
    return LLM_OK;
}
