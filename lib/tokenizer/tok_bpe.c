/*
 * tok_bpe.c - byte-pair merging of one pre-token, and the hash functions
 * of the tokenizer's maps.
 *
 * Rule (tiktoken's byte_pair_merge, GPT-2's encoder.py): start from one
 * part per byte; while some adjacent pair of parts is in the pair map,
 * merge the pair of lowest rank, the leftmost one on ties; repeat.
 *
 * Two implementations of the same rule:
 *   llm__bpe_naive  O(n^2): scan all pair ranks for the minimum, merge,
 *                   shift. The reference; fastest for the short pieces
 *                   that real text consists of.
 *   llm__bpe_heap   O(n log n): a doubly linked list of parts and an
 *                   indexed min-heap keyed by (rank, position), so a
 *                   multi-megabyte piece (a long run of one letter) stays
 *                   fast. Positions are byte indices of a part's first
 *                   byte, so "leftmost" is "smallest position".
 * llm__bpe_piece picks by length; tests compare the two on random input.
 */
#include <string.h>

#include "tokenizer/tok_internal.h"

#define NAIVE_MAX 128 /* pieces up to this many bytes use the naive scan */

uint64_t llm__bpe_hash(const uint8_t *s, size_t len) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ ((uint64_t)len * 0xff51afd7ed558ccdull);
    uint64_t w;
    while (len >= 8) {
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
        s += 8;
        len -= 8;
    }
    if (len) {
        w = 0;
        memcpy(&w, s, len);
        h = (h ^ w) * 0x94d049bb133111ebull;
        h ^= h >> 29;
    }
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ull;
    h ^= h >> 32;
    return h;
}

static inline uint64_t pair_key(int32_t a, int32_t b) {
    return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
}

static inline size_t pair_slot(uint64_t key, size_t mask) {
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    return (size_t)(h ^ (h >> 29)) & mask;
}

int llm__bpe_pair(const llm_tokenizer *tok, int32_t a, int32_t b, uint32_t *rank, int32_t *id) {
    uint64_t key = pair_key(a, b);
    size_t i;
    if (!tok->pmap)
        return 0;
    for (i = pair_slot(key, tok->pmap_mask);; i = (i + 1) & tok->pmap_mask) {
        const tok_pslot *sl = &tok->pmap[i];
        if (sl->key == key) {
            *rank = sl->rank;
            *id = sl->id;
            return 1;
        }
        if (sl->key == UINT64_MAX)
            return 0;
    }
}

static inline uint32_t rank_of(const llm_tokenizer *tok, int32_t a, int32_t b, int32_t *id) {
    uint32_t r;
    /* negative ids (SentencePiece characters that are not pieces) never
     * merge */
    if (a >= 0 && b >= 0 && llm__bpe_pair(tok, a, b, &r, id))
        return r;
    return UINT32_MAX;
}

size_t llm__bpe_scratch_size(size_t len) {
    /* naive: rank[len] + merged[len]; heap: uint64 keys + 3 int32 arrays.
     * The block must be 8-byte aligned. */
    return llm__mem_mul(len ? len : 1, 5 * sizeof(int32_t));
}

static size_t merge_naive(const llm_tokenizer *tok, int32_t *ids, size_t len, void *scratch) {
    uint32_t *rk = scratch;        /* rk[i]: rank of pair (ids[i], ids[i+1]) */
    int32_t *mid = (int32_t *)scratch + len; /* merged id of that pair */
    size_t n = len, i;
    for (i = 0; i + 1 < n; i++)
        rk[i] = rank_of(tok, ids[i], ids[i + 1], &mid[i]);
    while (n > 1) {
        uint32_t best = UINT32_MAX;
        size_t b = 0;
        for (i = 0; i + 1 < n; i++)
            if (rk[i] < best) {
                best = rk[i];
                b = i;
            }
        if (best == UINT32_MAX)
            break;
        ids[b] = mid[b];
        /* drop part b+1 and the pair (b+1, b+2) */
        memmove(ids + b + 1, ids + b + 2, (n - b - 2) * sizeof *ids);
        if (b + 2 < n) {
            memmove(rk + b + 1, rk + b + 2, (n - b - 3) * sizeof *rk);
            memmove(mid + b + 1, mid + b + 2, (n - b - 3) * sizeof *mid);
        }
        n--;
        if (b + 1 < n)
            rk[b] = rank_of(tok, ids[b], ids[b + 1], &mid[b]);
        if (b > 0)
            rk[b - 1] = rank_of(tok, ids[b - 1], ids[b], &mid[b - 1]);
    }
    return n;
}

/* ---- indexed min-heap over positions, keyed by (rank, pos) ----
 * Each entry is one 64-bit key, rank << 32 | pos, so comparing keys is
 * comparing (rank, position) and a sift touches only the heap array. */

typedef struct bheap {
    uint64_t *key;  /* heap of keys */
    int32_t *where; /* where[pos]: index in key[], or -1 */
    size_t n;
} bheap;

static inline void h_put(bheap *h, size_t i, uint64_t k) {
    h->key[i] = k;
    h->where[(uint32_t)k] = (int32_t)i;
}

static void h_up(bheap *h, size_t i) {
    uint64_t k = h->key[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h->key[p] <= k)
            break;
        h_put(h, i, h->key[p]);
        i = p;
    }
    h_put(h, i, k);
}

static void h_down(bheap *h, size_t i) {
    uint64_t k = h->key[i];
    for (;;) {
        size_t l = 2 * i + 1, m;
        if (l >= h->n)
            break;
        m = l + 1 < h->n && h->key[l + 1] < h->key[l] ? l + 1 : l;
        if (h->key[m] >= k)
            break;
        h_put(h, i, h->key[m]);
        i = m;
    }
    h_put(h, i, k);
}

static void h_remove(bheap *h, int32_t pos) {
    size_t i;
    if (h->where[pos] < 0)
        return;
    i = (size_t)h->where[pos];
    h->where[pos] = -1;
    h->n--;
    if (i != h->n) {
        uint64_t k = h->key[h->n];
        h->key[i] = k;
        h_up(h, i);
        h_down(h, (size_t)h->where[(uint32_t)k]);
    }
}

/* Sets the rank of position pos (UINT32_MAX removes it). */
static void h_set(bheap *h, int32_t pos, uint32_t r) {
    uint64_t k = ((uint64_t)r << 32) | (uint32_t)pos;
    if (r == UINT32_MAX) {
        h_remove(h, pos);
        return;
    }
    if (h->where[pos] < 0) {
        h->key[h->n] = k;
        h->n++;
        h_up(h, h->n - 1);
    } else {
        size_t i = (size_t)h->where[pos];
        h->key[i] = k;
        h_up(h, i);
        h_down(h, (size_t)h->where[pos]);
    }
}

static size_t merge_heap(const llm_tokenizer *tok, int32_t *ids, size_t len, void *scratch) {
    /* part ids live in ids[pos] at their first byte's position; scratch
     * (8-byte aligned): the keys (uint64), then next, prev, where (int32),
     * 20 bytes per position */
    bheap h;
    int32_t *next, *prev;
    size_t i, n;
    int32_t first = 0, p;
    h.key = scratch;
    next = (int32_t *)(void *)(h.key + len);
    prev = next + len;
    h.where = prev + len;
    h.n = 0;
    if (len == 0)
        return 0;
    for (i = 0; i < len; i++) {
        next[i] = i + 1 < len ? (int32_t)(i + 1) : -1;
        prev[i] = (int32_t)i - 1;
        h.where[i] = -1;
    }
    for (i = 0; i + 1 < len; i++) {
        int32_t m;
        h_set(&h, (int32_t)i, rank_of(tok, ids[i], ids[i + 1], &m));
    }
    while (h.n > 0) {
        int32_t a = (int32_t)(uint32_t)h.key[0], b = next[a], m, c;
        uint32_t r;
        if (!llm__bpe_pair(tok, ids[a], ids[b], &r, &m))
            return 0; /* cannot happen: the heap only holds merging pairs */
        ids[a] = m;
        h_remove(&h, b);
        c = next[b];
        next[a] = c;
        if (c >= 0)
            prev[c] = a;
        h_set(&h, a, c >= 0 ? rank_of(tok, ids[a], ids[c], &m) : UINT32_MAX);
        if (prev[a] >= 0)
            h_set(&h, prev[a], rank_of(tok, ids[prev[a]], ids[a], &m));
    }
    /* compact the surviving parts to the front */
    n = 0;
    for (p = first; p >= 0; p = next[p])
        ids[n++] = ids[p];
    return n;
}

size_t llm__bpe_naive(const llm_tokenizer *tok, const uint8_t *s, size_t len, int32_t *ids,
                      void *scratch) {
    size_t i;
    for (i = 0; i < len; i++)
        ids[i] = tok->byte_id[s[i]];
    return merge_naive(tok, ids, len, scratch);
}

size_t llm__bpe_heap(const llm_tokenizer *tok, const uint8_t *s, size_t len, int32_t *ids,
                     void *scratch) {
    size_t i;
    for (i = 0; i < len; i++)
        ids[i] = tok->byte_id[s[i]];
    return merge_heap(tok, ids, len, scratch);
}

size_t llm__bpe_merge(const llm_tokenizer *tok, int32_t *ids, size_t n, void *scratch) {
    if (n < 2)
        return n;
    return n <= NAIVE_MAX ? merge_naive(tok, ids, n, scratch) : merge_heap(tok, ids, n, scratch);
}

size_t llm__bpe_piece(const llm_tokenizer *tok, const uint8_t *s, size_t len, int32_t *ids,
                      void *scratch) {
    if (len == 0)
        return 0;
    if (len == 1) {
        ids[0] = tok->byte_id[s[0]];
        return 1;
    }
    if (tok->whole_lookup) {
        int32_t id = llm__tokenizer_find(tok, s, len);
        if (id >= 0) {
            ids[0] = id;
            return 1;
        }
    }
    if (len <= NAIVE_MAX)
        return llm__bpe_naive(tok, s, len, ids, scratch);
    return llm__bpe_heap(tok, s, len, ids, scratch);
}
