/*
 * tok_internal.h - the tokenizer handle and the functions the tokenizer
 * files share.
 *
 * Representation (byte-level BPE): every token id names a byte string;
 * ordinary tokens are found by their bytes through `vmap`, merges through
 * `pmap`, which maps an adjacent pair of token ids to (rank, merged id).
 * Encoding repeatedly merges the adjacent pair of lowest rank, leftmost on
 * ties, which is what tiktoken does and (because a merge never has a lower
 * rank than the merges that built its parts) also what GPT-2's encoder.py
 * and Hugging Face produce.
 *   - Merge-list vocabularies (vocab.bpe, merges.txt, tokenizer.json,
 *     GGUF): the pair map holds exactly the listed merges, rank = line.
 *   - Rank vocabularies (.tiktoken, and GPT-2's encoder.json whose ids
 *     are ranks): tiktoken merges two adjacent parts whenever their
 *     concatenation is a token, with that token's rank as priority. The
 *     pair map then holds every split of every token into two tokens, with
 *     rank = the merged token's id; `whole_lookup` makes a piece that is a
 *     token by itself encode as that token without merging, as tiktoken
 *     does.
 * Special tokens are kept out of vmap/pmap: they are only produced by the
 * special-token scan (LLM_TOK_PARSE_SPECIAL) and looked up by piece.
 *
 * SentencePiece-style vocabularies (kind LLM__TOK_SPM, tok_spm.c) use the
 * same maps: vmap holds the NORMAL/USER pieces (spaces stored as ' '),
 * pmap every split of a piece into two pieces ranked by the piece's score,
 * and byte_id the <0xNN> byte-fallback tokens; there is no split pattern.
 *
 * The handle is immutable after loading; encode/decode only read it and
 * keep their state on the stack or in per-call scratch memory.
 */
#ifndef LLM_TOK_INTERNAL_H
#define LLM_TOK_INTERNAL_H

#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>

#include "format/limits.h"
#include "llm_core.h"

/* GGUF token types (formats.md 2.2); 0 marks an id with no token. */
#define LLM__TT_NONE    0
#define LLM__TT_NORMAL  1
#define LLM__TT_UNKNOWN 2
#define LLM__TT_CONTROL 3
#define LLM__TT_USER    4
#define LLM__TT_UNUSED  5
#define LLM__TT_BYTE    6

/* Vocabulary kinds. */
#define LLM__TOK_BYTE_BPE 1 /* GPT-2 style byte-level BPE */
#define LLM__TOK_SPM      2 /* SentencePiece-style BPE (llama2.c, Llama 1/2) */

typedef struct tok_vslot {
    uint32_t hash; /* low 32 bits of the byte hash (0 allowed) */
    int32_t id;    /* -1: empty */
} tok_vslot;

typedef struct tok_pslot {
    uint64_t key;  /* (left << 32) | right; UINT64_MAX: empty */
    uint32_t rank;
    int32_t id;    /* merged token */
} tok_pslot;

struct llm_tokenizer {
    llm__obj obj;
    int32_t kind;          /* LLM__TOK_* */
    int32_t pattern;       /* LLM_TOK_PATTERN_* */
    int32_t whole_lookup;  /* 1: a piece that is a token encodes as it (tiktoken) */
    int32_t rank_vocab;    /* 1: merges derived from ranks (see above) */
    /* SentencePiece (tok_spm.c): pieces store spaces as ' ' (not U+2581) */
    float *scores;         /* [cap_vocab] piece scores, or NULL */
    int32_t add_space_prefix; /* prepend ' ' to text; drop it when decoding */
    int32_t spm_segments;  /* no piece has a space after a non-space: merge
                              the text in segments cut before such spaces */

    uint64_t max_string;   /* cap on one token's bytes while building (limits.h) */
    size_t n_vocab;        /* ids are 0 .. n_vocab-1 (holes have type NONE) */
    size_t cap_vocab;      /* allocated entries of the tok_* arrays (>= n_vocab) */
    uint8_t *bytes;        /* all token bytes back to back */
    size_t bytes_len, bytes_cap;
    uint32_t *tok_off;     /* [n_vocab] start in bytes */
    uint32_t *tok_len;     /* [n_vocab] length */
    uint8_t *tok_type;     /* [n_vocab] LLM__TT_* */

    tok_vslot *vmap;       /* ordinary tokens by bytes; size vmap_mask+1 */
    size_t vmap_mask;
    int32_t byte_id[256];  /* the token of each single byte */

    size_t n_merges;
    int32_t *merges;       /* [2*n_merges] (left, right) in rank order */
    tok_pslot *pmap;       /* size pmap_mask+1 */
    size_t pmap_mask;

    size_t n_special;
    int32_t *special;      /* ids of special tokens, longest text first */
    uint8_t special_first[256]; /* 1 for bytes that start a special token */

    int32_t bos, eos, unk, pad; /* -1: none */
    int32_t add_bos;       /* the vocabulary asks for BOS on documents */

    void *re;              /* pcre2_code_8 * of the split pattern */
    void *gctx;            /* pcre2_general_context_8 * (our allocator) */

    /* GGUF view (tok_spec.c): built on first request, published with an
     * atomic compare-and-swap so concurrent readers stay safe */
    _Atomic(void *) spec_view;
};

/* ---- tokenizer.c: building ---- */

/* A new empty handle with n_vocab ids (all holes). `lim` holds the caps of
 * the load options (limits.h: n_vocab above max_vocab, and later a token
 * longer than max_string, fail with LLM_ERR_RANGE naming the cap); NULL
 * for tokenizers the library builds itself (training), which are not
 * capped. */
LLM_INTERNAL int llm__tokenizer_new(llm_tokenizer **out, size_t n_vocab, llm_alloc_fn alloc,
                                    void *ud, const char *where, const llm__limits *lim);
LLM_INTERNAL void llm__tokenizer_delete(llm_tokenizer *tok);
/* Sets token `id` to bytes[0..len) with type `type`; fails on an id set
 * twice. */
LLM_INTERNAL int llm__tokenizer_set(llm_tokenizer *tok, int32_t id, const void *bytes,
                                    size_t len, int type, const char *where);
/* Builds the byte-string map of ordinary tokens and byte_id (again, when
 * called twice). Duplicate tokens and missing byte tokens are errors. */
LLM_INTERNAL int llm__tokenizer_index(llm_tokenizer *tok, const char *where);
/* Appends a merge (left, right) with the next rank. */
LLM_INTERNAL int llm__tokenizer_add_merge(llm_tokenizer *tok, int32_t left, int32_t right,
                                          const char *where);
/* Ends loading: builds the maps (duplicate tokens and missing byte tokens
 * are errors), derives merges from ranks when tok->rank_vocab, sorts the
 * special tokens, compiles the split pattern. */
LLM_INTERNAL int llm__tokenizer_finish(llm_tokenizer *tok, const char *where);
/* Id of the ordinary token with these bytes, or -1. */
LLM_INTERNAL int32_t llm__tokenizer_find(const llm_tokenizer *tok, const void *bytes,
                                         size_t len);

/* ---- tok_bpe.c: merging ---- */

/* Merges the bytes of one pre-token into ids. `ids` must hold `len`
 * entries (never more are produced); `scratch` must hold
 * llm__bpe_scratch_size(len) bytes, 8-byte aligned. Returns the number of
 * ids. */
LLM_INTERNAL size_t llm__bpe_scratch_size(size_t len);
LLM_INTERNAL size_t llm__bpe_piece(const llm_tokenizer *tok, const uint8_t *s, size_t len,
                                   int32_t *ids, void *scratch);
/* The two algorithms behind llm__bpe_piece, exposed for tests: the naive
 * O(n^2) scan (reference, used for short pieces) and the heap version. */
LLM_INTERNAL size_t llm__bpe_naive(const llm_tokenizer *tok, const uint8_t *s, size_t len,
                                   int32_t *ids, void *scratch);
LLM_INTERNAL size_t llm__bpe_heap(const llm_tokenizer *tok, const uint8_t *s, size_t len,
                                  int32_t *ids, void *scratch);
/* Merges an initial sequence ids[0..n) in place (negative ids never
 * merge); returns the new length. scratch as for llm__bpe_piece(n). */
LLM_INTERNAL size_t llm__bpe_merge(const llm_tokenizer *tok, int32_t *ids, size_t n,
                                   void *scratch);
/* Pair look-up: rank and merged id of (a, b), or 0 when they do not merge. */
LLM_INTERNAL int llm__bpe_pair(const llm_tokenizer *tok, int32_t a, int32_t b,
                               uint32_t *rank, int32_t *id);
LLM_INTERNAL uint64_t llm__bpe_hash(const uint8_t *s, size_t len);

/* ---- tok_split.c: pre-tokenization ---- */

/* The pattern string of LLM_TOK_PATTERN_* `pattern` in PCRE2 syntax, or NULL. */
LLM_INTERNAL const char *llm__split_pattern(int32_t pattern);
/* Compiles tok->pattern into tok->re (with JIT). */
LLM_INTERNAL int llm__split_compile(llm_tokenizer *tok, const char *where);
LLM_INTERNAL void llm__split_free(llm_tokenizer *tok);

/* Callback for each pre-token piece; returns LLM_OK to go on. */
typedef int (*llm__split_fn)(void *ud, const uint8_t *s, size_t len);
/* Cuts text[0..len) into pieces: the pattern's matches, and runs of bytes
 * the pattern cannot match (invalid UTF-8) as pieces of their own. */
LLM_INTERNAL int llm__split_run(const llm_tokenizer *tok, const uint8_t *text, size_t len,
                                llm__split_fn fn, void *ud);

/* ---- tok_load.c: files ---- */

LLM_INTERNAL int llm__tokload_path(llm_tokenizer **out, const char *path,
                                   const llm_tokenizer_opts *o);
/* GPT-2's byte <-> character alphabet (formats.md 5.2): the code point of
 * byte b, and the byte of code point cp (or -1). */
LLM_INTERNAL uint32_t llm__tokload_byte_cp(uint8_t b);
LLM_INTERNAL int llm__tokload_cp_byte(uint32_t cp);

/* ---- tok_spm.c ---- */
/* llama2.c tokenizer.bin. */
LLM_INTERNAL int llm__tokspm_load_bin(llm_tokenizer **out, const char *path,
                                      const llm_tokenizer_opts *o);
/* SentencePiece's .model file (BPE models with identity normalisation). */
LLM_INTERNAL int llm__tokspm_load_model(llm_tokenizer **out, const char *path,
                                        const llm_tokenizer_opts *o);
/* Decides spm_segments after the tokens are set. */
LLM_INTERNAL void llm__tokspm_prepare(llm_tokenizer *tok);
/* Encodes text[0..len) (no special tokens); emit is called per id. */
typedef int (*llm__emit_fn)(void *ud, const int32_t *ids, size_t n);
LLM_INTERNAL int llm__tokspm_encode(const llm_tokenizer *tok, const uint8_t *text, size_t len,
                                    int at_start, llm__emit_fn emit, void *ud);

/* ---- tok_gguf.c ---- */
/* The tokenizer stored in a GGUF file (tokenizer.ggml.* keys). */
LLM_INTERNAL int llm__tokgguf_load(llm_tokenizer **out, const char *path,
                                   const llm_tokenizer_opts *o);
/* Writes the tokenizer alone as a GGUF file (atomically). */
LLM_INTERNAL int llm__tokgguf_save(const llm_tokenizer *tok, const char *path);

/* ---- tok_spec.c ---- */
LLM_INTERNAL void llm__tok_spec_free(llm_tokenizer *tok);
/* Marks multi-byte ordinary tokens that no merge produces as control
 * tokens (tok_load.c) and re-indexes. */
LLM_INTERNAL int llm__tokload_mark_unreachable(llm_tokenizer *tok, const char *where);

#endif
