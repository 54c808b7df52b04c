/*
 * fuzz_tok_check.h - the properties every loaded tokenizer must have on
 * any input bytes (llm.h, tokenizer API): encode succeeds with at most
 * len + 2 ids, every id decodes, decode(encode(x)) == x with and without
 * LLM_TOK_PARSE_SPECIAL, the streaming decoder gives the same bytes when
 * fed one id at a time, and every id's piece maps back to a token.
 * A violation aborts (a finding for libFuzzer and replay alike).
 */
#ifndef LLM_FUZZ_TOK_CHECK_H
#define LLM_FUZZ_TOK_CHECK_H

#include "fuzz_common.h"
#include "llm.h"

static inline void fuzz_tok_roundtrip(const llm_tokenizer *tok, const uint8_t *text, size_t len,
                               uint32_t flags) {
    size_t n_ids = 0, n_bytes = 0, cap = len + 2, i, total = 0;
    llm_token *ids = malloc((cap ? cap : 1) * sizeof *ids);
    char *out = NULL;
    llm_tok_stream st;
    int rc;
    FUZZ_CHECK(ids != NULL);
    rc = llm_tokenizer_encode(ids, cap, &n_ids, tok, text, len, flags);
    if (rc == LLM_ERR_UNSUPPORTED || rc == LLM_ERR_NOMEM) { /* documented refusals */
        free(ids);
        return;
    }
    FUZZ_CHECK(rc == LLM_OK);
    FUZZ_CHECK(n_ids <= len + 2);
    rc = llm_tokenizer_decode(NULL, 0, &n_bytes, tok, ids, n_ids, 0);
    FUZZ_CHECK(rc == LLM_OK || rc == LLM_ERR_BUFFER_TOO_SMALL);
    out = malloc(n_bytes ? n_bytes : 1);
    FUZZ_CHECK(out != NULL);
    FUZZ_CHECK(llm_tokenizer_decode(out, n_bytes, &n_bytes, tok, ids, n_ids, 0) == LLM_OK);
    /* SentencePiece vocabularies without a byte piece for some byte map
     * it to <unk> (llm.h), which cannot round-trip */
    for (i = 0; i < n_ids; i++)
        if (ids[i] == llm_tokenizer_special_id(tok, LLM_TOK_UNK))
            goto done;
    /* A SentencePiece vocabulary with no " " piece encodes the dummy prefix
     * as the byte token <0x20>, which decode keeps (as SentencePiece does):
     * the one accepted difference (reported; real vocabularies have " "). */
    if (n_bytes == len + 1 && out[0] == ' ' && memcmp(out + 1, text, len) == 0)
        goto done;
    if (n_bytes != len || (len && memcmp(out, text, len) != 0)) {
        fprintf(stderr, "round trip: %zu bytes in, %zu out (flags %u)\n", len, n_bytes, flags);
        abort();
    }
    /* streaming, one id at a time, raw bytes: the same text */
    FUZZ_CHECK(llm_tok_stream_init(&st, sizeof st, 0) == LLM_OK);
    for (i = 0; i < n_ids; i++) {
        char piece[4096];
        size_t np = 0;
        rc = llm_tok_stream_decode(piece, sizeof piece, &np, tok, &st, &ids[i], 1);
        if (rc == LLM_ERR_BUFFER_TOO_SMALL) /* a huge token: skip the stream check */
            goto done;
        FUZZ_CHECK(rc == LLM_OK);
        FUZZ_CHECK(total + np <= len && memcmp(out + total, piece, np) == 0);
        total += np;
    }
    {
        char piece[8];
        size_t np = 0;
        FUZZ_CHECK(llm_tok_stream_flush(piece, sizeof piece, &np, &st) == LLM_OK);
        FUZZ_CHECK(total + np == len && memcmp(out + total, piece, np) == 0);
    }
    /* each id's piece maps back to a token with the same bytes (byte-fallback
     * tokens of SentencePiece vocabularies are neither ordinary nor special,
     * so their raw byte may be NOT_FOUND) */
    for (i = 0; i < n_ids && i < 64; i++) {
        char piece[4096], again[4096];
        size_t np = 0, na = 0;
        llm_token back = -1;
        if (llm_tokenizer_token_to_piece(piece, sizeof piece, &np, tok, ids[i]) != LLM_OK)
            continue;
        rc = llm_tokenizer_piece_to_token(&back, tok, piece, np);
        FUZZ_CHECK(rc == LLM_OK || rc == LLM_ERR_NOT_FOUND);
        if (rc == LLM_OK) {
            FUZZ_CHECK(llm_tokenizer_token_to_piece(again, sizeof again, &na, tok, back) ==
                       LLM_OK);
            FUZZ_CHECK(na == np && memcmp(again, piece, np) == 0);
        } else {
            FUZZ_CHECK(back == -1);
        }
    }
done:
    free(out);
    free(ids);
}

/* Sanity of a freshly loaded tokenizer: the accessors answer in range and
 * encode/decode hold on a fixed text and on the fuzz input itself. */
static inline void fuzz_tok_exercise(const llm_tokenizer *tok, const uint8_t *data, size_t n) {
    static const char fixed[] = "Hello, world! 123 <|endoftext|> \xc3\xa9\xe2\x82\xac \xff\xfe";
    size_t nv = llm_tokenizer_n_vocab(tok);
    int k;
    FUZZ_CHECK(nv > 0);
    for (k = LLM_TOK_BOS; k <= LLM_TOK_PAD; k++) {
        llm_token id = llm_tokenizer_special_id(tok, k);
        FUZZ_CHECK(id >= -1 && (id < 0 || (size_t)id < nv));
    }
    fuzz_tok_roundtrip(tok, (const uint8_t *)fixed, sizeof fixed - 1, 0);
    fuzz_tok_roundtrip(tok, (const uint8_t *)fixed, sizeof fixed - 1, LLM_TOK_PARSE_SPECIAL);
    fuzz_tok_roundtrip(tok, data, n < 256 ? n : 256, 0);
}

#endif
