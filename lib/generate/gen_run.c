/*
 * gen_run.c - loops over llm_gen_next: budgeted stepping for frame loops
 * (llm_gen_step) and the one-call convenience llm_generate.
 *
 * llm_gen_step's time rule: after each call it continues only if the time
 * used so far plus the duration of the latest forward pass (a monotonic
 * clock's measure, kept by gen.c) still fits the budget. So a step
 * overshoots the budget by at most the error of that estimate, and it
 * always makes progress (one call at least). When a call ends the turn
 * (stop sequence, max_tokens, a callback), the LLM_DONE call that hands
 * out the tail follows in the same step: it computes nothing.
 */
#include <string.h>

#include "generate/gen_internal.h"

int llm_gen_step(llm_token *tokens, size_t max_tokens, size_t *n_tokens, char *text,
                 size_t text_cap, size_t *n_text, llm_gen *g, uint64_t budget_us) {
    static const char fn[] = "llm_gen_step";
    uint64_t start, budget_ns;
    size_t nt = 0, nx = 0;
    if (n_tokens)
        *n_tokens = 0;
    if (n_text)
        *n_text = 0;
    if (!llm__gen_is(g))
        return llm__err(NULL, LLM_ERR_INVALID, "%s: g is NULL or not a generator", fn);
    if (!n_tokens)
        return llm__err(NULL, LLM_ERR_INVALID, "%s: n_tokens is NULL", fn);
    if (!tokens && max_tokens > 0)
        return llm__err(NULL, LLM_ERR_INVALID, "%s: tokens is NULL but max_tokens is %zu", fn,
                        max_tokens);
    if (tokens && max_tokens == 0)
        return llm__err(NULL, LLM_ERR_INVALID, "%s: max_tokens is 0", fn);
    if (text && !n_text)
        return llm__err(NULL, LLM_ERR_INVALID, "%s: n_text is NULL", fn);
    if (text && text_cap < g->max_piece) {
        *n_text = g->max_piece;
        return llm__err(NULL, LLM_ERR_BUFFER_TOO_SMALL,
                        "%s: text_cap %zu is below llm_gen_max_piece (%zu)", fn, text_cap,
                        g->max_piece);
    }
    budget_ns = budget_us > UINT64_MAX / 1000u ? UINT64_MAX : budget_us * 1000u;
    start = llm__gen_now_ns();
    for (;;) {
        llm_token t;
        const char *piece;
        size_t n_piece;
        uint64_t used;
        int rc = llm_gen_next(&t, &piece, &n_piece, g);
        if (rc < 0)
            return rc;
        if (rc == LLM_OK && tokens)
            tokens[nt] = t;
        if (rc == LLM_OK)
            *n_tokens = ++nt;
        if (text && n_piece) {
            memcpy(text + nx, piece, n_piece);
            nx += n_piece;
            *n_text = nx;
        }
        if (rc == LLM_DONE)
            return LLM_DONE;
        /* the turn just ended: its LLM_DONE costs no forward pass, take it
         * now if its tail fits */
        if (g->reason != LLM_GEN_RUNNING && (!text || text_cap - nx >= g->n_hold))
            continue;
        if (tokens && nt == max_tokens)
            return LLM_AGAIN;
        if (text && text_cap - nx < g->max_piece)
            return LLM_AGAIN;
        used = llm__gen_now_ns() - start;
        if (used >= budget_ns || budget_ns - used < g->ns_last)
            return LLM_AGAIN;
    }
}

int llm_generate(llm_token *tokens, size_t max_tokens, size_t *n_tokens, char *text,
                 size_t text_cap, size_t *n_text, llm_gen_result *result, llm_ctx *ctx,
                 llm_sampler *smpl, const llm_tokenizer *tok, const char *prompt,
                 size_t prompt_len, const llm_gen_opts *opts) {
    static const char fn[] = "llm_generate";
    llm_gen_opts o;
    llm_gen *g = NULL;
    size_t nt = 0, nx = 0;
    int rc;
    if (n_tokens)
        *n_tokens = 0;
    if (n_text)
        *n_text = 0;
    if (!n_tokens)
        return llm__err(NULL, LLM_ERR_INVALID, "%s: n_tokens is NULL", fn);
    if (!tokens || max_tokens == 0)
        return llm__err(NULL, LLM_ERR_INVALID, "%s: tokens is NULL or max_tokens is 0", fn);
    if (!text && text_cap > 0)
        return llm__err(NULL, LLM_ERR_INVALID, "%s: text is NULL but text_cap is %zu", fn,
                        text_cap);
    if (!tok)
        return llm__err(NULL, LLM_ERR_INVALID, "%s: tok is NULL (the prompt is text)", fn);
    if (result && result->struct_size < sizeof(uint32_t))
        return llm__err(NULL, LLM_ERR_INVALID, "%s: result->struct_size is not set", fn);
    if ((rc = llm__opts_read(NULL, &o, sizeof o, opts, "llm_gen_opts")) != LLM_OK)
        return rc;
    if (o.max_tokens == 0 || o.max_tokens > max_tokens)
        o.max_tokens = max_tokens > UINT32_MAX ? UINT32_MAX : (uint32_t)max_tokens;
    if ((rc = llm_gen_create(&g, ctx, smpl, tok, &o)) != LLM_OK)
        return rc;
    if ((rc = llm_gen_feed_text(g, prompt, prompt_len)) != LLM_OK)
        goto out;
    for (;;) {
        llm_token t;
        const char *piece;
        size_t n_piece;
        rc = llm_gen_next(&t, &piece, &n_piece, g);
        if (rc < 0)
            goto out;
        if (rc == LLM_OK)
            tokens[nt++] = t;
        if (n_piece && text && nx < text_cap)
            memcpy(text + nx, piece, text_cap - nx < n_piece ? text_cap - nx : n_piece);
        nx += n_piece;
        if (rc == LLM_DONE)
            break;
    }
    rc = LLM_OK;
    if (text && nx < text_cap)
        text[nx] = '\0';
    if (text && nx > text_cap)
        rc = llm__err(NULL, LLM_ERR_BUFFER_TOO_SMALL,
                      "%s: the text is %zu bytes, the buffer holds %zu", fn, nx, text_cap);
out:
    *n_tokens = nt;
    if (n_text)
        *n_text = nx;
    if (result)
        llm_gen_get_result(result, g);
    llm_gen_free(g);
    return rc;
}
