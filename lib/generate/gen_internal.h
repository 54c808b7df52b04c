/*
 * gen_internal.h - the llm_gen handle as gen.c (handle, feed, next),
 * gen_run.c (budgeted stepping, llm_generate) and gen_stop.c (stop
 * sequences) see it.
 *
 * Invariants of a live generator:
 *   - every buffer is allocated by llm_gen_create; nothing later allocates
 *     (llm_gen_feed_text lets the tokenizer allocate its encode scratch);
 *   - queue[q_head..q_len) are tokens accepted by a feed and not yet
 *     decoded; q_len <= n_ctx - n_past of the context;
 *   - `pending` is the last token returned with LLM_OK and not yet decoded
 *     (-1 when none): it is decoded by the next generating call, or
 *     queued first by the next turn's feed;
 *   - hold[0..n_hold) is complete UTF-8 text (as the tokenizer's stream
 *     released it) not yet given to the caller because it may be the
 *     start of a stop sequence; it never contains a whole stop sequence.
 *     Once the turn has ended (reason != 0) it is the tail that the first
 *     LLM_DONE call hands out;
 *   - piece is what the latest call lent to the caller (NUL-terminated).
 */
#ifndef LLM_GEN_INTERNAL_H
#define LLM_GEN_INTERNAL_H

#include "llm_core.h"

/* ---- gen_stop.c: stop sequences ---- */

/* A set of stop sequences, copied into one block. */
typedef struct llm__stopset {
    char *bytes;     /* all sequences back to back */
    size_t *off;     /* [n] start of each in bytes */
    size_t *len;     /* [n] length (>= 1) */
    size_t n;
    size_t max_len;  /* longest sequence (0 when n == 0) */
    size_t n_bytes;  /* total bytes */
} llm__stopset;

/* Copies n NUL-terminated sequences into *s through mem. An empty
 * sequence or one longer than `max_allowed` bytes is LLM_ERR_INVALID
 * (reported on o, naming stop[i]). */
LLM_INTERNAL int llm__gen_stop_init(llm__stopset *s, llm__obj *o, const llm__mem *mem,
                                    const char *const *stop, size_t n, size_t max_allowed);
LLM_INTERNAL void llm__gen_stop_free(llm__stopset *s, const llm__mem *mem);

/* Scans text[0..n). When a stop sequence occurs, returns 1 with *at = the
 * start of the earliest occurrence (the text before it may be released).
 * Otherwise returns 0 with *keep = the length of the longest suffix of
 * the text that is a proper prefix of some sequence (it must be held
 * back; the rest may be released). */
LLM_INTERNAL int llm__gen_stop_scan(const llm__stopset *s, const char *text, size_t n,
                                    size_t *at, size_t *keep);

/* ---- gen.c: the handle ---- */

struct llm_gen {
    llm__obj obj;
    llm_ctx *ctx;                /* borrowed */
    llm_sampler *smpl;           /* borrowed */
    const llm_tokenizer *tok;    /* borrowed, may be NULL */
    llm_gen_opts opts;           /* as given (stop/stop_tokens pointers not used) */
    size_t n_vocab;              /* the model's, = length of the logits */
    size_t n_ctx;                /* positions of the context */
    size_t n_batch;              /* the context's tokens per forward step */
    size_t n_ubatch;             /* prompt tokens per call, <= n_batch */
    llm_token eos;               /* -1: none (or outside the model's vocabulary) */
    llm_token *stop_tok;         /* [n_stop_tok] */
    size_t n_stop_tok;
    llm__stopset stops;
    llm_token *queue;            /* [n_ctx] tokens to decode */
    size_t q_head, q_len;
    float *masked;               /* [n_vocab] logits with EOS masked; IGNORE_EOS only */
    char *hold;                  /* [hold_cap] held text, then newly decoded text */
    size_t n_hold, hold_cap;
    char *piece;                 /* [hold_cap + 1] lent to the caller */
    size_t n_piece;
    size_t max_piece;            /* most bytes one call lends */
    llm_tok_stream stream;       /* UTF-8 completeness across tokens */
    /* turn state */
    int active;                  /* a feed started a turn */
    int32_t reason;              /* LLM_GEN_*; RUNNING while the turn runs */
    int tail_pending;            /* the tail in hold was not handed out yet */
    int need_sample;             /* the context's logits await sampling */
    llm_token pending;
    uint64_t n_prompt, n_prompt_total, n_gen, n_text;
    uint64_t ns_prompt, ns_gen, ns_last;
};

/* Monotonic clock in nanoseconds. */
LLM_INTERNAL uint64_t llm__gen_now_ns(void);
/* 1 when g is a live generator. */
LLM_INTERNAL int llm__gen_is(const llm_gen *g);

#endif
