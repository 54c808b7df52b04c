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

static void fuzz_tok_roundtrip(const llm_tokenizer *tok, const uint8_t *text, size_t len,
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
    /* each id is a token whose piece maps back to an id with the same bytes */
    for (i = 0; i < n_ids && i < 64; i++) {
        char piece[4096];
        size_t np = 0;
        llm_token back = -1;
        if (llm_tokenizer_token_to_piece(piece, sizeof piece, &np, tok, ids[i]) != LLM_OK)
            continue;
        FUZZ_CHECK(llm_tokenizer_piece_to_token(&back, tok, piece, np) == LLM_OK);
        FUZZ_CHECK(back >= 0);
    }
done:
    free(out);
    free(ids);
}

/* Sanity of a freshly loaded tokenizer: the accessors answer in range and
 * encode/decode hold on a fixed text and on the fuzz input itself. */
static void fuzz_tok_exercise(const llm_tokenizer *tok, const uint8_t *data, size_t n) {
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
