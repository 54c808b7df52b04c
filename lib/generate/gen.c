/*
 * gen.c - the llm_gen handle: creating it over a context, a sampler and a
 * tokenizer, feeding prompts, and llm_gen_next, the one-forward-pass step
 * that everything else (llm_gen_step, llm_generate, the CLI) is built on.
 *
 * A call of llm_gen_next does exactly one of:
 *   - decode one chunk (<= n_ubatch) of the queued prompt; when that was
 *     the last chunk, also sample the first token (LLM_OK), else LLM_AGAIN;
 *   - decode the token returned by the previous call and sample the next;
 *   - hand out the tail of an ended turn (LLM_DONE), computing nothing.
 * Sampling (no forward pass) happens in the same call as the pass whose
 * logits it uses, so the caller never sees a call without progress except
 * LLM_DONE. An error leaves the state as it was, so the call can be
 * repeated: a failed decode changes neither the context (llm_ctx_decode
 * guarantees it) nor the queue/pending token; a failed sample keeps
 * need_sample and reads the context's logits again next time.
 *
 * Text path of a token: llm_tok_stream_decode (complete UTF-8 only) ->
 * appended to `hold` -> stop-sequence scan -> the releasable prefix is
 * copied to `piece` (lent to the caller), the undecided suffix stays in
 * `hold`. All sizes are bounded at create from the longest token and the
 * longest stop sequence, so no call allocates.
 *
 * This file only uses the public API of the context, sampler and
 * tokenizer. Two facts the public API does not offer directly are read at
 * create through bounds-only llm_ctx_forward calls (which compute
 * nothing): the model's n_vocab (the n_needed of a too-small logits
 * buffer) and the context's n_batch (the largest n_seq that is not
 * LLM_ERR_RANGE).
 */
#include <math.h>
#include <string.h>
#include <time.h>

#include "generate/gen_internal.h"

#define FN_CREATE "llm_gen_create"

uint64_t llm__gen_now_ns(void) {
#if defined(CLOCK_MONOTONIC)
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
#else
    /* C11 fallback: not monotonic, but good enough for a frame budget */
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
#endif
}

int llm__gen_is(const llm_gen *g) { return llm__obj_is(g, LLM__MAGIC_GEN); }

#define CHECK_GEN(g, fn)                                                        \
    do {                                                                        \
        if (!llm__gen_is(g))                                                    \
            return llm__err(NULL, LLM_ERR_INVALID, fn ": g is NULL or not a generator"); \
    } while (0)

int llm_gen_opts_init(llm_gen_opts *o, size_t struct_size) {
    return llm__opts_init(o, struct_size, "llm_gen_opts_init");
}

int llm_gen_result_init(llm_gen_result *r, size_t struct_size) {
    return llm__opts_init(r, struct_size, "llm_gen_result_init");
}

/* ------------------------------------------------------------------------
 * Create / free
 * ------------------------------------------------------------------------ */

static void gen_release(llm_gen *g) {
    const llm__mem *m = &g->obj.mem;
    llm__mem_free(m, g->queue, g->n_ctx * sizeof *g->queue);
    llm__mem_free(m, g->stop_tok, g->n_stop_tok * sizeof *g->stop_tok);
    llm__mem_free(m, g->masked, g->n_vocab * sizeof *g->masked);
    llm__mem_free(m, g->hold, g->hold_cap);
    llm__mem_free(m, g->piece, g->hold_cap + 1);
    llm__gen_stop_free(&g->stops, m);
    llm__obj_delete(g, sizeof *g);
}

void llm_gen_free(llm_gen *g) {
    if (llm__gen_is(g))
        gen_release(g);
}

/* n_vocab and n_batch of the context, from the documented bounds checks of
 * llm_ctx_forward (nothing is computed: the logits capacity is 0).
 * `zeros` holds n_ctx valid token ids. */
static int probe_ctx(llm_gen *g, const llm_token *zeros) {
    size_t need = 0, lo = 1, hi = g->n_ctx;
    int rc = llm_ctx_forward(NULL, 0, &need, g->ctx, zeros, 1, 1, LLM_FORWARD_LAST);
    if (rc != LLM_ERR_BUFFER_TOO_SMALL || need == 0)
        return llm__err(NULL, rc < 0 ? rc : LLM_ERR_INTERNAL,
                        FN_CREATE ": cannot read the context's vocabulary size: %s",
                        llm_errmsg(g->ctx));
    g->n_vocab = need;
    while (lo < hi) {
        size_t mid = lo + (hi - lo + 1) / 2;
        rc = llm_ctx_forward(NULL, 0, &need, g->ctx, zeros, mid, 1, LLM_FORWARD_LAST);
        if (rc == LLM_ERR_BUFFER_TOO_SMALL)
            lo = mid;
        else if (rc == LLM_ERR_RANGE)
            hi = mid - 1;
        else
            return llm__err(NULL, rc < 0 ? rc : LLM_ERR_INTERNAL,
                            FN_CREATE ": cannot read the context's batch size: %s",
                            llm_errmsg(g->ctx));
    }
    g->n_batch = lo;
    return LLM_OK;
}

/* The sampler must take logits of the model's n_vocab: one llm_sampler_probs
 * call on zero logits checks it without touching the sampler's state. */
static int check_sampler(llm_gen *g) {
    float *tmp = llm__mem_calloc(&g->obj.mem, g->n_vocab, 2 * sizeof(float));
    int rc;
    if (!tmp)
        return llm__err(NULL, LLM_ERR_NOMEM, FN_CREATE ": out of memory");
    rc = llm_sampler_probs(tmp + g->n_vocab, NULL, g->smpl, tmp, g->n_vocab);
    llm__mem_free(&g->obj.mem, tmp, g->n_vocab * 2 * sizeof(float));
    if (rc != LLM_OK)
        return llm__err(NULL, LLM_ERR_INVALID,
                        FN_CREATE ": the sampler does not accept the model's %zu logits: %s",
                        g->n_vocab, llm_errmsg(g->smpl));
    return LLM_OK;
}

/* Longest text of one token the model can produce (ids the tokenizer does
 * not know give no text). */
static size_t longest_token(const llm_gen *g) {
    char buf[256];
    size_t id, n, best = 0, V = llm_tokenizer_n_vocab(g->tok);
    if (V > g->n_vocab)
        V = g->n_vocab;
    for (id = 0; id < V; id++) {
        int rc = llm_tokenizer_token_to_piece(buf, sizeof buf, &n, g->tok, (llm_token)id);
        if ((rc == LLM_OK || rc == LLM_ERR_BUFFER_TOO_SMALL) && n > best)
            best = n;
    }
    return best;
}

int llm_gen_create(llm_gen **out, llm_ctx *ctx, llm_sampler *smpl, const llm_tokenizer *tok,
                   const llm_gen_opts *opts) {
    const uint32_t known = LLM_GEN_IGNORE_EOS | LLM_GEN_PARSE_SPECIAL | LLM_GEN_SKIP_SPECIAL |
                           LLM_GEN_REPLACE_INVALID | LLM_GEN_NO_PROMPT_PENALTY;
    llm_gen_opts o;
    llm_gen *g;
    size_t i, tok_max = 0, new_max = 0, hold_max;
    uint32_t sflags = 0;
    int rc;
    if (!out)
        return llm__err(NULL, LLM_ERR_INVALID, FN_CREATE ": out is NULL");
    *out = NULL;
    if (!ctx)
        return llm__err(NULL, LLM_ERR_INVALID, FN_CREATE ": ctx is NULL");
    if (!smpl)
        return llm__err(NULL, LLM_ERR_INVALID, FN_CREATE ": smpl is NULL");
    if ((rc = llm__opts_read(NULL, &o, sizeof o, opts, "llm_gen_opts")) != LLM_OK)
        return rc;
    if (o.flags & ~known)
        return llm__err(NULL, LLM_ERR_UNSUPPORTED, FN_CREATE ": unknown flags 0x%x in opts->flags",
                        (unsigned)(o.flags & ~known));
    if (o.n_stop > 0 && !tok)
        return llm__err(NULL, LLM_ERR_INVALID,
                        FN_CREATE ": stop sequences (opts->n_stop %zu) need a tokenizer", o.n_stop);
    if (o.n_stop_tokens > 0 && !o.stop_tokens)
        return llm__err(NULL, LLM_ERR_INVALID,
                        FN_CREATE ": opts->stop_tokens is NULL but n_stop_tokens is %zu",
                        o.n_stop_tokens);
    g = llm__obj_new(sizeof *g, LLM__MAGIC_GEN, o.alloc, o.alloc_ud);
    if (!g)
        return llm__err(NULL, LLM_ERR_NOMEM, FN_CREATE ": cannot allocate the handle");
    g->ctx = ctx;
    g->smpl = smpl;
    g->tok = tok;
    g->opts = o;
    g->pending = -1;
    g->eos = -1;
    if ((rc = llm_ctx_n_ctx(&g->n_ctx, ctx)) != LLM_OK) {
        llm__err(NULL, rc, FN_CREATE ": %s", llm_errmsg(NULL));
        goto fail;
    }
    g->queue = llm__mem_calloc(&g->obj.mem, g->n_ctx, sizeof *g->queue);
    if (!g->queue) {
        rc = llm__err(NULL, LLM_ERR_NOMEM, FN_CREATE ": cannot allocate a queue of %zu tokens",
                      g->n_ctx);
        goto fail;
    }
    if ((rc = probe_ctx(g, g->queue)) != LLM_OK || (rc = check_sampler(g)) != LLM_OK)
        goto fail;
    g->n_ubatch = o.n_ubatch == 0 || o.n_ubatch > g->n_batch ? g->n_batch : o.n_ubatch;

    for (i = 0; i < o.n_stop_tokens; i++)
        if (o.stop_tokens[i] < 0 || (size_t)o.stop_tokens[i] >= g->n_vocab) {
            rc = llm__err(NULL, LLM_ERR_INVALID,
                          FN_CREATE ": opts->stop_tokens[%zu] = %ld is outside [0, %zu)", i,
                          (long)o.stop_tokens[i], g->n_vocab);
            goto fail;
        }
    if (o.n_stop_tokens > 0) {
        g->stop_tok = llm__mem_alloc(&g->obj.mem, llm__mem_mul(o.n_stop_tokens, sizeof *g->stop_tok));
        if (!g->stop_tok) {
            rc = llm__err(NULL, LLM_ERR_NOMEM, FN_CREATE ": out of memory");
            goto fail;
        }
        memcpy(g->stop_tok, o.stop_tokens, o.n_stop_tokens * sizeof *g->stop_tok);
        g->n_stop_tok = o.n_stop_tokens;
    }

    if (tok) {
        llm_token eos = llm_tokenizer_special_id(tok, LLM_TOK_EOS);
        g->eos = eos >= 0 && (size_t)eos < g->n_vocab ? eos : -1;
        tok_max = longest_token(g);
        /* llm_tok_stream_decode writes at most 3 * (held + token bytes) + 3
         * bytes per token (U+FFFD for every byte in the worst case) */
        new_max = (o.flags & LLM_GEN_REPLACE_INVALID) ? 3 * (tok_max + 3) + 3 : tok_max + 3;
        if ((rc = llm__gen_stop_init(&g->stops, NULL, &g->obj.mem, o.stop, o.n_stop,
                                     llm__mem_mul(g->n_ctx, new_max))) != LLM_OK)
            goto fail;
        if (o.flags & LLM_GEN_REPLACE_INVALID)
            sflags |= LLM_TOK_STREAM_REPLACE;
        if (o.flags & LLM_GEN_SKIP_SPECIAL)
            sflags |= LLM_TOK_STREAM_SKIP_SPECIAL;
    }
    LLM_TOK_STREAM_INIT(&g->stream, sflags);
    /* held text (< longest stop) + one token's text; the tail adds at most
     * 4 flushed bytes instead of a token */
    hold_max = g->stops.max_len ? g->stops.max_len - 1 : 0;
    g->hold_cap = hold_max + (new_max > 4 ? new_max : 4);
    g->max_piece = g->hold_cap;
    g->hold = llm__mem_alloc(&g->obj.mem, g->hold_cap);
    g->piece = llm__mem_alloc(&g->obj.mem, g->hold_cap + 1);
    if ((o.flags & LLM_GEN_IGNORE_EOS) && g->eos >= 0)
        g->masked = llm__mem_alloc(&g->obj.mem, llm__mem_mul(g->n_vocab, sizeof *g->masked));
    if (!g->hold || !g->piece || ((o.flags & LLM_GEN_IGNORE_EOS) && g->eos >= 0 && !g->masked)) {
        rc = llm__err(NULL, LLM_ERR_NOMEM, FN_CREATE ": cannot allocate the text buffers");
        goto fail;
    }
    g->piece[0] = '\0';
    *out = g;
    return LLM_OK;
fail:
    gen_release(g);
    return rc;
}

/* ------------------------------------------------------------------------
 * Turns and feeding
 * ------------------------------------------------------------------------ */

/* Clears the per-turn state (not the queue or the pending token). */
static void turn_start(llm_gen *g) {
    g->reason = LLM_GEN_RUNNING;
    g->tail_pending = 0;
    g->need_sample = 0;
    g->n_prompt = g->n_gen = g->n_text = 0;
    g->n_prompt_total = 0;
    g->ns_prompt = g->ns_gen = 0;
    g->n_hold = 0;
    g->stream.n_pending = 0;
    memset(g->stream.pending, 0, sizeof g->stream.pending);
}

/* Prepares the queue for a feed: compacts it, starts a new turn when the
 * previous one ended (queueing its pending token). Returns the number of
 * free positions after what is queued, or an error status < 0. */
static int feed_begin(llm_gen *g, const char *fn, size_t *room) {
    size_t n_past = 0, queued;
    int rc;
    if (g->active && g->reason == LLM_GEN_RUNNING && (g->n_gen > 0 || g->pending >= 0))
        return llm__err(NULL, LLM_ERR_STATE,
                        "%s: a turn is generating; wait for LLM_DONE or call llm_gen_cancel", fn);
    /* never drop text silently: the ended turn's tail goes out first */
    if (g->tail_pending)
        return llm__err(NULL, LLM_ERR_STATE,
                        "%s: the previous turn has ended but its LLM_DONE (with its last text) "
                        "was not collected; call llm_gen_next first", fn);
    if ((rc = llm_ctx_n_past(&n_past, g->ctx)) != LLM_OK)
        return llm__err(NULL, rc, "%s: %s", fn, llm_errmsg(NULL));
    if (g->q_head == g->q_len) {
        g->q_head = g->q_len = 0;
    } else if (g->q_head > 0) {
        memmove(g->queue, g->queue + g->q_head, (g->q_len - g->q_head) * sizeof *g->queue);
        g->q_len -= g->q_head;
        g->q_head = 0;
    }
    queued = g->q_len + (g->reason != LLM_GEN_RUNNING && g->pending >= 0);
    if (n_past + queued > g->n_ctx)
        return llm__err(NULL, LLM_ERR_RANGE,
                        "%s: the context is full (%zu of %zu positions used)", fn, n_past, g->n_ctx);
    *room = g->n_ctx - n_past - queued;
    return LLM_OK;
}

/* Commits n new tokens at queue[q_len + carry ..): queues the pending token
 * of an ended turn first, records the prompt in the sampler, starts the
 * turn. */
static int feed_commit(llm_gen *g, size_t n, int carry, const char *fn) {
    size_t i, first = g->q_len + (size_t)carry;
    if (g->q_len + (size_t)carry + n == 0)
        return llm__err(NULL, LLM_ERR_INVALID, "%s: the prompt is empty and nothing is queued", fn);
    if (!(g->opts.flags & LLM_GEN_NO_PROMPT_PENALTY))
        for (i = 0; i < n; i++)
            llm_sampler_accept(g->smpl, g->queue[first + i]);
    if (!g->active || g->reason != LLM_GEN_RUNNING) {
        turn_start(g);
        g->active = 1;
        g->n_prompt_total = g->q_len; /* left over from a cancelled prompt */
    }
    if (carry) {
        g->queue[g->q_len] = g->pending;
        g->pending = -1;
    }
    g->q_len += (size_t)carry + n;
    g->n_prompt_total += (size_t)carry + n;
    g->need_sample = 0; /* new tokens to decode: older logits are stale */
    return LLM_OK;
}

int llm_gen_feed_tokens(llm_gen *g, const llm_token *ids, size_t n) {
    static const char fn[] = "llm_gen_feed_tokens";
    size_t room = 0, i;
    int carry, rc;
    CHECK_GEN(g, "llm_gen_feed_tokens");
    if (!ids && n > 0)
        return llm__err(NULL, LLM_ERR_INVALID, "%s: ids is NULL but n is %zu", fn, n);
    for (i = 0; i < n; i++)
        if (ids[i] < 0 || (size_t)ids[i] >= g->n_vocab)
            return llm__err(NULL, LLM_ERR_RANGE, "%s: ids[%zu] = %ld is outside [0, %zu)", fn, i,
                            (long)ids[i], g->n_vocab);
    if ((rc = feed_begin(g, fn, &room)) != LLM_OK)
        return rc;
    if (n > room)
        return llm__err(NULL, LLM_ERR_RANGE,
                        "%s: a prompt of %zu tokens does not fit the %zu free positions of the "
                        "context (n_ctx %zu)", fn, n, room, g->n_ctx);
    carry = g->reason != LLM_GEN_RUNNING && g->pending >= 0;
    if (n > 0)
        memcpy(g->queue + g->q_len + carry, ids, n * sizeof *ids);
    return feed_commit(g, n, carry, fn);
}

int llm_gen_feed_text(llm_gen *g, const char *text, size_t len) {
    static const char fn[] = "llm_gen_feed_text";
    size_t room = 0, n = 0, n_past = 0, i;
    uint32_t flags = 0;
    llm_token *dst;
    int carry, rc;
    CHECK_GEN(g, "llm_gen_feed_text");
    if (!g->tok)
        return llm__err(NULL, LLM_ERR_INVALID, "%s: the generator has no tokenizer", fn);
    if (!text && len > 0)
        return llm__err(NULL, LLM_ERR_INVALID, "%s: text is NULL but len is %zu", fn, len);
    if ((rc = feed_begin(g, fn, &room)) != LLM_OK)
        return rc;
    carry = g->reason != LLM_GEN_RUNNING && g->pending >= 0;
    llm_ctx_n_past(&n_past, g->ctx);
    if (n_past == 0 && g->q_len == 0 && !carry && llm_tokenizer_add_bos(g->tok))
        flags |= LLM_TOK_ADD_BOS;
    if (g->opts.flags & LLM_GEN_PARSE_SPECIAL)
        flags |= LLM_TOK_PARSE_SPECIAL;
    dst = g->queue + g->q_len + carry;
    rc = llm_tokenizer_encode(dst, room, &n, g->tok, text ? text : "", len, flags);
    if (rc == LLM_ERR_BUFFER_TOO_SMALL)
        return llm__err(NULL, LLM_ERR_RANGE,
                        "%s: a prompt of %zu tokens does not fit the %zu free positions of the "
                        "context (n_ctx %zu)", fn, n, room, g->n_ctx);
    if (rc != LLM_OK)
        return llm__err(NULL, rc, "%s: %s", fn, llm_last_errmsg());
    for (i = 0; i < n; i++)
        if ((size_t)dst[i] >= g->n_vocab)
            return llm__err(NULL, LLM_ERR_RANGE,
                            "%s: prompt token %zu (id %ld) is outside the model's vocabulary of "
                            "%zu", fn, i, (long)dst[i], g->n_vocab);
    return feed_commit(g, n, carry, fn);
}

/* ------------------------------------------------------------------------
 * Ending a turn
 * ------------------------------------------------------------------------ */

/* Ends the turn. Except for a stop sequence (which drops everything from
 * its start), the held text plus the stream's incomplete bytes become the
 * tail that the next LLM_DONE hands out. */
static void finish(llm_gen *g, int32_t reason) {
    if (g->reason != LLM_GEN_RUNNING)
        return;
    g->reason = reason;
    if (reason == LLM_GEN_STOP) {
        g->n_hold = 0;
        g->stream.n_pending = 0;
        memset(g->stream.pending, 0, sizeof g->stream.pending);
    } else if (g->tok) {
        size_t nb = 0;
        /* hold_cap keeps >= 4 bytes beyond the held text */
        if (llm_tok_stream_flush(g->hold + g->n_hold, g->hold_cap - g->n_hold, &nb, &g->stream) ==
            LLM_OK)
            g->n_hold += nb;
    }
    g->tail_pending = 1;
}

static void set_piece(llm_gen *g, const char *src, size_t n) {
    if (n)
        memmove(g->piece, src, n);
    g->piece[n] = '\0';
    g->n_piece = n;
    g->n_text += n;
}

/* The LLM_DONE answer: the tail once, then nothing. */
static int deliver_done(llm_gen *g) {
    if (g->tail_pending) {
        g->tail_pending = 0;
        set_piece(g, g->hold, g->n_hold);
        g->n_hold = 0;
        if (g->n_piece && g->opts.on_token)
            (void)g->opts.on_token(g->opts.on_token_ud, -1, g->piece, g->n_piece);
    }
    return LLM_DONE;
}

int llm_gen_cancel(llm_gen *g) {
    CHECK_GEN(g, "llm_gen_cancel");
    if (g->active)
        finish(g, LLM_GEN_CANCELLED);
    return LLM_OK;
}

int llm_gen_reset(llm_gen *g) {
    int rc;
    CHECK_GEN(g, "llm_gen_reset");
    if ((rc = llm_ctx_reset(g->ctx)) != LLM_OK)
        return llm__err(NULL, rc, "llm_gen_reset: %s", llm_errmsg(NULL));
    turn_start(g);
    g->active = 0;
    g->q_head = g->q_len = 0;
    g->pending = -1;
    g->ns_last = 0;
    g->n_piece = 0;
    g->piece[0] = '\0';
    return LLM_OK;
}

/* ------------------------------------------------------------------------
 * The step
 * ------------------------------------------------------------------------ */

static int is_end_token(const llm_gen *g, llm_token t) {
    size_t i;
    if (t == g->eos)
        return 1;
    for (i = 0; i < g->n_stop_tok; i++)
        if (g->stop_tok[i] == t)
            return 1;
    return 0;
}

/* Text of the new token t: decode, stop scan, release. */
static int emit_text(llm_gen *g, llm_token t) {
    size_t nb = 0, at, keep, rel;
    int rc, stopped = 0;
    if (!g->tok) {
        set_piece(g, g->hold, 0);
        return LLM_OK;
    }
    rc = llm_tok_stream_decode(g->hold + g->n_hold, g->hold_cap - g->n_hold, &nb, g->tok,
                               &g->stream, &t, 1);
    if (rc == LLM_ERR_RANGE)
        nb = 0; /* an id the tokenizer does not have: no text */
    else if (rc != LLM_OK)
        return llm__err(NULL, rc == LLM_ERR_BUFFER_TOO_SMALL ? LLM_ERR_INTERNAL : rc,
                        "llm_gen_next: decoding token %ld: %s", (long)t, llm_last_errmsg());
    g->n_hold += nb;
    if (llm__gen_stop_scan(&g->stops, g->hold, g->n_hold, &at, &keep)) {
        rel = at;
        stopped = 1;
    } else {
        rel = g->n_hold - keep;
    }
    set_piece(g, g->hold, rel);
    memmove(g->hold, g->hold + rel, g->n_hold - rel);
    g->n_hold -= rel;
    if (stopped)
        finish(g, LLM_GEN_STOP);
    return LLM_OK;
}

int llm_gen_next(llm_token *token, const char **text, size_t *n_text, llm_gen *g) {
    const float *logits = NULL;
    uint64_t t0, t1;
    llm_token t;
    int rc;
    if (token)
        *token = -1;
    if (text)
        *text = "";
    if (n_text)
        *n_text = 0;
    CHECK_GEN(g, "llm_gen_next");
    g->n_piece = 0;
    g->piece[0] = '\0';
    if (text)
        *text = g->piece;
    if (!g->active)
        return llm__err(NULL, LLM_ERR_STATE, "llm_gen_next: no prompt was fed");
    if (g->reason != LLM_GEN_RUNNING)
        goto done;

    t0 = llm__gen_now_ns();
    if (g->need_sample) {
        /* a previous sample failed: the logits are still in the context */
        if ((rc = llm_ctx_logits(&logits, g->ctx)) != LLM_OK)
            return llm__err(NULL, rc, "llm_gen_next: %s", llm_errmsg(g->ctx));
    } else if (g->q_head < g->q_len) {
        size_t n = g->q_len - g->q_head;
        if (n > g->n_ubatch)
            n = g->n_ubatch;
        rc = llm_ctx_decode(&logits, g->ctx, g->queue + g->q_head, n);
        t1 = llm__gen_now_ns();
        if (rc == LLM_ERR_CANCELLED) {
            finish(g, LLM_GEN_CANCELLED);
            goto done;
        }
        if (rc != LLM_OK)
            return llm__err(NULL, rc, "llm_gen_next: decoding the prompt: %s", llm_errmsg(g->ctx));
        g->q_head += n;
        g->n_prompt += n;
        g->ns_last = t1 - t0;
        g->ns_prompt += t1 - t0;
        if (llm__progress(NULL, g->opts.progress, g->opts.progress_ud, LLM_PHASE_PREFILL,
                          g->n_prompt, g->n_prompt_total) != LLM_OK) {
            finish(g, LLM_GEN_CANCELLED);
            goto done;
        }
        if (g->q_head < g->q_len)
            return LLM_AGAIN;
        g->q_head = g->q_len = 0;
        g->need_sample = 1;
        t0 = llm__gen_now_ns(); /* sampling counts as generation time */
    } else {
        size_t n_past = 0;
        if (g->pending < 0)
            return llm__err(NULL, LLM_ERR_STATE, "llm_gen_next: nothing to decode");
        llm_ctx_n_past(&n_past, g->ctx);
        if (n_past >= g->n_ctx) {
            finish(g, LLM_GEN_CTX_FULL);
            goto done;
        }
        rc = llm_ctx_decode(&logits, g->ctx, &g->pending, 1);
        if (rc == LLM_ERR_CANCELLED) {
            finish(g, LLM_GEN_CANCELLED);
            goto done;
        }
        if (rc != LLM_OK)
            return llm__err(NULL, rc, "llm_gen_next: decoding token %ld: %s", (long)g->pending,
                            llm_errmsg(g->ctx));
        g->pending = -1;
        g->need_sample = 1;
        g->ns_last = llm__gen_now_ns() - t0;
    }

    /* sample */
    if (g->masked) {
        memcpy(g->masked, logits, g->n_vocab * sizeof *logits);
        g->masked[g->eos] = -INFINITY;
        logits = g->masked;
    }
    if ((rc = llm_sampler_sample(&t, g->smpl, logits, g->n_vocab)) != LLM_OK)
        return llm__err(NULL, rc, "llm_gen_next: sampling: %s", llm_errmsg(g->smpl));
    g->need_sample = 0;
    if (is_end_token(g, t)) {
        finish(g, LLM_GEN_EOS);
        g->ns_gen += llm__gen_now_ns() - t0;
        goto done;
    }
    g->pending = t;
    g->n_gen++;
    if ((rc = emit_text(g, t)) != LLM_OK)
        return rc; /* only for an internal inconsistency */
    if (g->opts.on_token && g->opts.on_token(g->opts.on_token_ud, t, g->piece, g->n_piece) != 0)
        finish(g, LLM_GEN_CANCELLED);
    if (llm__progress(NULL, g->opts.progress, g->opts.progress_ud, LLM_PHASE_DECODE, g->n_gen,
                      g->opts.max_tokens) != LLM_OK)
        finish(g, LLM_GEN_CANCELLED);
    if (g->opts.max_tokens && g->n_gen >= g->opts.max_tokens)
        finish(g, LLM_GEN_MAX_TOKENS);
    g->ns_gen += llm__gen_now_ns() - t0;
    if (token)
        *token = t;
    if (n_text)
        *n_text = g->n_piece;
    return LLM_OK;
done:
    deliver_done(g);
    if (n_text)
        *n_text = g->n_piece;
    return LLM_DONE;
}

/* ------------------------------------------------------------------------
 * Queries
 * ------------------------------------------------------------------------ */

int llm_gen_reason(int32_t *out, const llm_gen *g) {
    CHECK_GEN(g, "llm_gen_reason");
    if (!out)
        return llm__err(NULL, LLM_ERR_INVALID, "llm_gen_reason: out is NULL");
    *out = g->reason;
    return LLM_OK;
}

const char *llm_gen_reason_str(int32_t reason) {
    switch (reason) {
    case LLM_GEN_RUNNING:    return "running";
    case LLM_GEN_EOS:        return "eos";
    case LLM_GEN_STOP:       return "stop";
    case LLM_GEN_MAX_TOKENS: return "max_tokens";
    case LLM_GEN_CTX_FULL:   return "ctx_full";
    case LLM_GEN_CANCELLED:  return "cancelled";
    default:                 return "unknown";
    }
}

int llm_gen_max_piece(size_t *out, const llm_gen *g) {
    CHECK_GEN(g, "llm_gen_max_piece");
    if (!out)
        return llm__err(NULL, LLM_ERR_INVALID, "llm_gen_max_piece: out is NULL");
    *out = g->max_piece;
    return LLM_OK;
}

int llm_gen_get_result(llm_gen_result *out, const llm_gen *g) {
    llm_gen_result r;
    size_t n_past = 0;
    uint32_t size;
    CHECK_GEN(g, "llm_gen_get_result");
    if (!out || out->struct_size < sizeof(uint32_t))
        return llm__err(NULL, LLM_ERR_INVALID,
                        "llm_gen_get_result: out is NULL or its struct_size is not set");
    size = out->struct_size;
    memset(&r, 0, sizeof r);
    llm_ctx_n_past(&n_past, g->ctx);
    r.reason = g->reason;
    r.n_prompt = g->n_prompt;
    r.n_tokens = g->n_gen;
    r.n_text = g->n_text;
    r.n_past = n_past;
    r.prompt_seconds = (double)g->ns_prompt * 1e-9;
    r.gen_seconds = (double)g->ns_gen * 1e-9;
    r.last_pass_seconds = (double)g->ns_last * 1e-9;
    r.struct_size = size;
    memcpy(out, &r, size < sizeof r ? size : sizeof r);
    return LLM_OK;
}
