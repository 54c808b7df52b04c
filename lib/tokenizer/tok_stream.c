/*
 * tok_stream.c - streaming decode: ids -> text, never splitting a UTF-8
 * sequence across calls.
 *
 * A UTF-8 validator (RFC 3629 table: shortest forms only, no surrogates,
 * at most U+10FFFF) runs over the held bytes followed by the new tokens'
 * bytes. Complete valid sequences are emitted; a byte that cannot continue
 * the current sequence ends it as a "maximal subpart" (emitted raw, or as
 * one U+FFFD) and is then looked at again as a possible start; a sequence
 * still incomplete at the end is held in the caller's state.
 * Nothing is committed to the state unless the whole output fits, so a
 * LLM_ERR_BUFFER_TOO_SMALL call can simply be repeated with a bigger
 * buffer.
 */
#include <string.h>

#include "tokenizer/tok_internal.h"

typedef struct sink {
    char *out;
    size_t cap, n;
    int replace;
} sink;

static void put(sink *k, const void *p, size_t n) {
    if (k->n + n <= k->cap)
        memcpy(k->out + k->n, p, n);
    k->n += n;
}

/* emits an invalid maximal subpart */
static void put_bad(sink *k, const uint8_t *p, size_t n) {
    if (k->replace)
        put(k, "\xEF\xBF\xBD", 3);
    else
        put(k, p, n);
}

typedef struct u8state {
    uint8_t seq[4];
    uint32_t len;  /* bytes in seq */
    uint32_t need; /* total length of the sequence being read */
} u8state;

static void feed(u8state *u, sink *k, uint8_t b) {
    for (;;) {
        if (u->len == 0) {
            if (b < 0x80) {
                put(k, &b, 1);
            } else if (b >= 0xC2 && b <= 0xF4) {
                u->seq[0] = b;
                u->len = 1;
                u->need = b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
            } else {
                put_bad(k, &b, 1);
            }
            return;
        }
        {
            uint8_t lo = 0x80, hi = 0xBF, c = u->seq[0];
            if (u->len == 1) {
                if (c == 0xE0) lo = 0xA0;
                else if (c == 0xED) hi = 0x9F;
                else if (c == 0xF0) lo = 0x90;
                else if (c == 0xF4) hi = 0x8F;
            }
            if (b >= lo && b <= hi) {
                u->seq[u->len++] = b;
                if (u->len == u->need) {
                    put(k, u->seq, u->len);
                    u->len = 0;
                }
                return;
            }
            /* b cannot continue: the held bytes are a maximal subpart */
            put_bad(k, u->seq, u->len);
            u->len = 0;
            /* and b starts afresh (loop) */
        }
    }
}

int llm_tok_stream_init(llm_tok_stream *s, size_t struct_size, uint32_t flags) {
    int st = llm__opts_init(s, struct_size, "llm_tok_stream_init");
    if (st)
        return st;
    if (struct_size < sizeof *s)
        return llm__err(NULL, LLM_ERR_INVALID, "llm_tok_stream_init: struct_size %zu is smaller "
                        "than this library's llm_tok_stream (%zu)", struct_size, sizeof *s);
    if (flags & ~(LLM_TOK_STREAM_REPLACE | LLM_TOK_STREAM_SKIP_SPECIAL))
        return llm__err(NULL, LLM_ERR_INVALID, "llm_tok_stream_init: unknown flags 0x%x",
                        (unsigned)flags);
    s->flags = flags;
    return LLM_OK;
}

static int check_stream(const llm_tok_stream *s, const char *fn) {
    if (!s || s->struct_size < sizeof *s || s->n_pending > 3)
        return llm__err(NULL, LLM_ERR_INVALID, "%s: the stream is NULL or not initialised "
                        "with llm_tok_stream_init", fn);
    return LLM_OK;
}

static void load_state(u8state *u, const llm_tok_stream *s) {
    memcpy(u->seq, s->pending, 4);
    u->len = s->n_pending;
    u->need = 0;
    if (u->len)
        u->need = u->seq[0] < 0xE0 ? 2 : u->seq[0] < 0xF0 ? 3 : 4;
}

int llm_tok_stream_decode(char *out, size_t max_bytes, size_t *n_bytes,
                          const llm_tokenizer *tok, llm_tok_stream *s, const llm_token *ids,
                          size_t n) {
    static const char fn[] = "llm_tok_stream_decode";
    sink k;
    u8state u;
    size_t i, j;
    int st, seen;
    if (!n_bytes)
        return llm__err(NULL, LLM_ERR_INVALID, "%s: n_bytes is NULL", fn);
    *n_bytes = 0;
    if (!llm__obj_is(tok, LLM__MAGIC_TOKENIZER))
        return llm__err(NULL, LLM_ERR_INVALID, "%s: tok is NULL or not a tokenizer", fn);
    if ((st = check_stream(s, fn)) != LLM_OK)
        return st;
    LLM__CHECK_ARG(NULL, out || max_bytes == 0, fn, "out is NULL but max_bytes > 0");
    LLM__CHECK_ARG(NULL, ids || n == 0, fn, "ids is NULL but n > 0");
    for (i = 0; i < n; i++)
        if (ids[i] < 0 || (size_t)ids[i] >= tok->n_vocab ||
            tok->tok_type[ids[i]] == LLM__TT_NONE)
            return llm__err(NULL, LLM_ERR_RANGE, "%s: ids[%zu] = %ld is not a token id "
                            "(vocabulary of %zu)", fn, i, (long)ids[i], tok->n_vocab);
    k.out = out;
    k.cap = max_bytes;
    k.n = 0;
    k.replace = (s->flags & LLM_TOK_STREAM_REPLACE) != 0;
    load_state(&u, s);
    /* SentencePiece drops the dummy-prefix space of the stream's first
     * text piece; reserved[0] bit 0 records that it was seen */
    seen = (s->reserved[0] & 1) || tok->kind != LLM__TOK_SPM || !tok->add_space_prefix;
    for (i = 0; i < n; i++) {
        const uint8_t *b = tok->bytes + tok->tok_off[ids[i]];
        size_t len = tok->tok_len[ids[i]];
        int special = llm_tokenizer_is_special(tok, ids[i]) == 1;
        if ((s->flags & LLM_TOK_STREAM_SKIP_SPECIAL) && special)
            continue;
        if (!seen && !special) {
            seen = 1;
            if (b[0] == ' ' && tok->tok_type[ids[i]] != LLM__TT_BYTE) {
                b++;
                len--;
            }
        }
        if (u.len == 0) {
            /* fast path: copy the leading ASCII run in one go */
            for (j = 0; j < len && b[j] < 0x80; j++)
                ;
            put(&k, b, j);
        } else {
            j = 0;
        }
        for (; j < len; j++)
            feed(&u, &k, b[j]);
    }
    *n_bytes = k.n;
    if (k.n > max_bytes)
        return llm__err(NULL, LLM_ERR_BUFFER_TOO_SMALL,
                        "%s: %zu bytes needed, the buffer holds %zu", fn, k.n, max_bytes);
    memcpy(s->pending, u.seq, 4);
    s->n_pending = u.len;
    if (seen)
        s->reserved[0] |= 1;
    return LLM_OK;
}

int llm_tok_stream_flush(char *out, size_t max_bytes, size_t *n_bytes, llm_tok_stream *s) {
    static const char fn[] = "llm_tok_stream_flush";
    sink k;
    int st;
    if (!n_bytes)
        return llm__err(NULL, LLM_ERR_INVALID, "%s: n_bytes is NULL", fn);
    *n_bytes = 0;
    if ((st = check_stream(s, fn)) != LLM_OK)
        return st;
    LLM__CHECK_ARG(NULL, out || max_bytes == 0, fn, "out is NULL but max_bytes > 0");
    k.out = out;
    k.cap = max_bytes;
    k.n = 0;
    k.replace = (s->flags & LLM_TOK_STREAM_REPLACE) != 0;
    if (s->n_pending)
        put_bad(&k, s->pending, s->n_pending);
    *n_bytes = k.n;
    if (k.n > max_bytes)
        return llm__err(NULL, LLM_ERR_BUFFER_TOO_SMALL,
                        "%s: %zu bytes needed, the buffer holds %zu", fn, k.n, max_bytes);
    s->n_pending = 0;
    memset(s->pending, 0, sizeof s->pending);
    s->reserved[0] = 0;
    return LLM_OK;
}
