/*
 * limits.h - the caps on sizes read from untrusted files (issue 9):
 * tensor count, tensor dimensions and model sizes, vocabulary size and
 * string lengths. The caller sets them in llm_model_opts and
 * llm_tokenizer_opts (0 = the documented default below); the readers
 * check every such number against its cap before using it, and the error
 * names the cap (its option field), its value and where the number was
 * found (file, offset, tensor or key).
 *
 * Invariant: an llm__limits passed to a reader always has every field
 * non-zero (llm__limits_init resolves the zeros), so readers compare
 * without special cases. A NULL llm__limits pointer means the defaults.
 */
#ifndef LLM_LIMITS_H
#define LLM_LIMITS_H

#include "llm_core.h"

/* Defaults, also documented in llm.h (llm_model_opts). Each is far above
 * what any published model needs (the largest have about 2,000 tensors,
 * a 262,144-token vocabulary and 10M positions), so they only stop
 * hostile files. */
#define LLM__DEFAULT_MAX_TENSORS 65536ull
#define LLM__DEFAULT_MAX_DIM     16777216ull    /* 2^24 */
#define LLM__DEFAULT_MAX_VOCAB   4194304ull     /* 2^22 */
#define LLM__DEFAULT_MAX_STRING  1073741824ull  /* 2^30 = 1 GiB */

typedef struct llm__limits {
    uint64_t max_tensors; /* tensors in a file or a model */
    uint64_t max_dim;     /* each tensor dimension; n_ctx, n_embd, n_ff, n_head, n_layer */
    uint64_t max_vocab;   /* token ids, special tokens included */
    uint64_t max_string;  /* bytes of one string: metadata key or value,
                             string-array element, token text */
} llm__limits;

/* Fills *l from the option fields (0 = default). */
LLM_INTERNAL void llm__limits_init(llm__limits *l, uint64_t max_tensors, uint64_t max_dim,
                                   uint64_t max_vocab, uint64_t max_string);
/* The caps of a model load / a tokenizer load (opts already read with
 * llm__opts_read, so fields past the caller's struct_size are 0). */
LLM_INTERNAL void llm__limits_model(llm__limits *l, const llm_model_opts *o);
LLM_INTERNAL void llm__limits_tok(llm__limits *l, const llm_tokenizer_opts *o);
/* `l`, or the defaults when l is NULL. */
LLM_INTERNAL const llm__limits *llm__limits_or_default(const llm__limits *l);

#endif
