/*
 * limits.c - resolving the caps of limits.h from option structs. The
 * readers (gguf.c, the tokenizer builders, the model loaders) do the
 * checks themselves, where they know the file offset or tensor name for
 * the message.
 */
#include "format/limits.h"

static uint64_t or_default(uint64_t v, uint64_t d) { return v ? v : d; }

void llm__limits_init(llm__limits *l, uint64_t max_tensors, uint64_t max_dim,
                      uint64_t max_vocab, uint64_t max_string) {
    l->max_tensors = or_default(max_tensors, LLM__DEFAULT_MAX_TENSORS);
    l->max_dim = or_default(max_dim, LLM__DEFAULT_MAX_DIM);
    l->max_vocab = or_default(max_vocab, LLM__DEFAULT_MAX_VOCAB);
    l->max_string = or_default(max_string, LLM__DEFAULT_MAX_STRING);
}

void llm__limits_model(llm__limits *l, const llm_model_opts *o) {
    llm__limits_init(l, o->max_tensors, o->max_dim, o->max_vocab, o->max_string);
}

void llm__limits_tok(llm__limits *l, const llm_tokenizer_opts *o) {
    llm__limits_init(l, 0, 0, o->max_vocab, o->max_string);
}

const llm__limits *llm__limits_or_default(const llm__limits *l) {
    static const llm__limits defaults = {LLM__DEFAULT_MAX_TENSORS, LLM__DEFAULT_MAX_DIM,
                                         LLM__DEFAULT_MAX_VOCAB, LLM__DEFAULT_MAX_STRING};
    return l ? l : &defaults;
}
