/*
 * fuzz_tok_load.c - fuzz target for every tokenizer file loader
 * (lib/tokenizer/tok_load.c, tok_spm.c, tok_gguf.c) through the public
 * llm_tokenizer_load, which reads paths: the input is written to files in
 * a scratch directory. Compiled once per format with FUZZ_TOK_FORMAT:
 *   1 GPT-2 directory: encoder.json FUZZ_SEP vocab.bpe
 *   2 Hugging Face directory: vocab.json FUZZ_SEP merges.txt
 *     [FUZZ_SEP tokenizer_config.json]
 *   3 tokenizer.json      4 *.tiktoken     5 llama2.c tokenizer.bin
 *   6 SentencePiece .model                 7 GGUF (tokenizer.ggml.*)
 * Any bytes must give a status (never a crash, leak or out-of-bounds
 * access); a tokenizer that loads must keep the round-trip properties of
 * fuzz_tok_check.h.
 */
#include <sys/stat.h>

#include "fuzz_tok_check.h"

#ifndef FUZZ_TOK_FORMAT
#error define FUZZ_TOK_FORMAT
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[600], tmp[600];
    const uint8_t *part[3];
    size_t len[3], np;
    llm_tokenizer *tok = NULL;
    int rc;
    (void)part, (void)len, (void)np, (void)tmp;
#if FUZZ_TOK_FORMAT == 1 || FUZZ_TOK_FORMAT == 2
    fuzz_path(path, sizeof path, "d");
    mkdir(path, 0700);
    np = fuzz_split(data, size, part, len, 3);
#  if FUZZ_TOK_FORMAT == 1
    if (np < 2)
        return 0;
    fuzz_write(tmp, sizeof tmp, "d/encoder.json", part[0], len[0]);
    fuzz_write(tmp, sizeof tmp, "d/vocab.bpe", part[1], len[1]);
#  else
    if (np < 2)
        return 0;
    fuzz_write(tmp, sizeof tmp, "d/vocab.json", part[0], len[0]);
    fuzz_write(tmp, sizeof tmp, "d/merges.txt", part[1], len[1]);
    if (np == 3)
        fuzz_write(tmp, sizeof tmp, "d/tokenizer_config.json", part[2], len[2]);
    else
        fuzz_unlink("d/tokenizer_config.json");
#  endif
#elif FUZZ_TOK_FORMAT == 3
    fuzz_write(path, sizeof path, "tokenizer.json", data, size);
#elif FUZZ_TOK_FORMAT == 4
    fuzz_write(path, sizeof path, "fuzz.tiktoken", data, size);
#elif FUZZ_TOK_FORMAT == 5
    fuzz_write(path, sizeof path, "tokenizer.bin", data, size);
#elif FUZZ_TOK_FORMAT == 6
    fuzz_write(path, sizeof path, "tokenizer.model", data, size);
#elif FUZZ_TOK_FORMAT == 7
    fuzz_write(path, sizeof path, "tokenizer.gguf", data, size);
#endif
    {
        /* a rank file of no known size needs the split scheme named */
        llm_tokenizer_opts o;
        LLM_TOKENIZER_OPTS_INIT(&o);
        if (FUZZ_TOK_FORMAT == 4)
            o.pattern = LLM_TOK_PATTERN_GPT2;
        rc = llm_tokenizer_load(&tok, path, &o);
    }
    if (rc == LLM_OK) {
        FUZZ_CHECK(tok != NULL);
        fuzz_tok_exercise(tok, data, size);
        llm_tokenizer_free(tok);
    } else {
        FUZZ_CHECK(tok == NULL && rc < 0);
        FUZZ_CHECK(llm_last_errmsg()[0] != 0);
    }
    return 0;
}
