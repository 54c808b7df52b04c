/*
 * tok_spec.h - a tokenizer as plain arrays, the form GGUF stores it in
 * (tokenizer.ggml.* keys, formats.md section 2.2).
 *
 * This is the seam between the tokenizer and the model-file code: the
 * GGUF reader builds a tokenizer from a spec it filled from the file, and
 * the GGUF writer asks a tokenizer for its spec to store it. Neither side
 * needs the other's internals.
 */
#ifndef LLM_TOK_SPEC_H
#define LLM_TOK_SPEC_H

#include "format/gguf.h"
#include "format/limits.h"
#include "llm_core.h"

typedef struct llm__tok_spec {
    const char *model;   /* tokenizer.ggml.model: "gpt2" (byte-level BPE) or "llama" (SentencePiece BPE) */
    const char *pre;     /* tokenizer.ggml.pre: "gpt-2", "llama-bpe" (cl100k split), "gpt-4o" (o200k split), or NULL */
    size_t n_tokens;
    const char *const *tokens;  /* [n_tokens] token texts as GGUF stores them (byte-level: GPT-2 unicode alphabet) */
    const size_t *token_lens;   /* [n_tokens] byte lengths (tokens may contain NUL) */
    const float *scores;        /* [n_tokens] or NULL (SentencePiece merge scores) */
    const int32_t *token_types; /* [n_tokens] or NULL (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte) */
    size_t n_merges;
    const char *const *merges;  /* [n_merges] "left right" in rank order, or NULL/0 for SentencePiece */
    const size_t *merge_lens;   /* [n_merges] byte lengths */
    int32_t bos_id, eos_id, unk_id, pad_id; /* -1 when absent */
    int32_t add_bos;            /* 1: prepend BOS when encoding a document */
} llm__tok_spec;

/* Builds a tokenizer from a spec; every array is copied. `where` names the
 * source (a file path) in error messages; errors are recorded on `err`
 * (may be NULL) and in the thread-local message. `alloc`/`ud` as in the
 * options structs (NULL: process default). `lim`: the caps of the load
 * options (vocabulary size, token length; NULL: not capped). */
LLM_INTERNAL int llm__tok_from_spec(llm_tokenizer **out, const llm__tok_spec *spec,
                                    const char *where, llm_alloc_fn alloc, void *ud,
                                    const llm__limits *lim);

/* Fills *spec with views into `tok` (valid while tok lives) for writing
 * a GGUF file. */
LLM_INTERNAL int llm__tok_get_spec(const llm_tokenizer *tok, llm__tok_spec *spec);

/* The tokenizer.ggml.* keys of a spec, for a GGUF writer: fills at most
 * LLM__TOK_GGUF_MAX_KV entries of kv (views into spec) and returns how
 * many. Shared by the model writer and the tokenizer-only GGUF file. */
#define LLM__TOK_GGUF_MAX_KV 12
LLM_INTERNAL size_t llm__tokgguf_kv(llm__gguf_wkv *kv, const llm__tok_spec *spec);

#endif
