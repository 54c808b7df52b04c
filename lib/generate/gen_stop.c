/*
 * gen_stop.c - stop sequences: copying them and finding them in the
 * generated text.
 *
 * The generator keeps the text it has not released in one buffer (held
 * text followed by the newest piece) and asks llm__gen_stop_scan two
 * things: is there a stop sequence in it (then everything from its start
 * on is dropped), and if not, how much of its end could still grow into
 * one (that part is held back). Holding the longest such suffix is what
 * makes the matching exact across token boundaries: any occurrence that
 * starts in already released text would have needed that text to be held.
 *
 * The scan is the plain O(n * total stop bytes) comparison; n is bounded
 * by the longest stop sequence plus one token's text, so it is small.
 */
#include <string.h>

#include "generate/gen_internal.h"

int llm__gen_stop_init(llm__stopset *s, llm__obj *o, const llm__mem *mem,
                       const char *const *stop, size_t n, size_t max_allowed) {
    size_t i, total = 0, pos = 0;
    memset(s, 0, sizeof *s);
    if (n == 0)
        return LLM_OK;
    if (!stop)
        return llm__err(o, LLM_ERR_INVALID, "llm_gen_create: opts->stop is NULL but n_stop is %zu",
                        n);
    for (i = 0; i < n; i++) {
        size_t len;
        if (!stop[i])
            return llm__err(o, LLM_ERR_INVALID, "llm_gen_create: opts->stop[%zu] is NULL", i);
        len = strlen(stop[i]);
        if (len == 0)
            return llm__err(o, LLM_ERR_INVALID, "llm_gen_create: opts->stop[%zu] is empty", i);
        if (len > max_allowed)
            return llm__err(o, LLM_ERR_INVALID,
                            "llm_gen_create: opts->stop[%zu] is %zu bytes, more than the "
                            "%zu bytes the context's positions can ever produce", i, len,
                            max_allowed);
        total += len;
        if (len > s->max_len)
            s->max_len = len;
    }
    s->bytes = llm__mem_alloc(mem, total);
    s->off = llm__mem_alloc(mem, llm__mem_mul(n, sizeof *s->off));
    s->len = llm__mem_alloc(mem, llm__mem_mul(n, sizeof *s->len));
    if (!s->bytes || !s->off || !s->len) {
        s->n = n;
        s->n_bytes = total;
        llm__gen_stop_free(s, mem);
        return llm__err(o, LLM_ERR_NOMEM, "llm_gen_create: cannot copy %zu stop sequences", n);
    }
    for (i = 0; i < n; i++) {
        size_t len = strlen(stop[i]);
        memcpy(s->bytes + pos, stop[i], len);
        s->off[i] = pos;
        s->len[i] = len;
        pos += len;
    }
    s->n = n;
    s->n_bytes = total;
    return LLM_OK;
}

void llm__gen_stop_free(llm__stopset *s, const llm__mem *mem) {
    llm__mem_free(mem, s->bytes, s->n_bytes);
    llm__mem_free(mem, s->off, s->n * sizeof *s->off);
    llm__mem_free(mem, s->len, s->n * sizeof *s->len);
    memset(s, 0, sizeof *s);
}

int llm__gen_stop_scan(const llm__stopset *s, const char *text, size_t n, size_t *at,
                       size_t *keep) {
    size_t p, i, k;
    *at = n;
    *keep = 0;
    if (s->n == 0)
        return 0;
    /* earliest start of a whole occurrence */
    for (p = 0; p < n; p++)
        for (i = 0; i < s->n; i++)
            if (s->len[i] <= n - p && memcmp(text + p, s->bytes + s->off[i], s->len[i]) == 0) {
                *at = p;
                return 1;
            }
    /* longest suffix that is a proper prefix of a sequence */
    for (k = (n < s->max_len - 1 ? n : s->max_len - 1); k > 0; k--)
        for (i = 0; i < s->n; i++)
            if (s->len[i] > k && memcmp(text + n - k, s->bytes + s->off[i], k) == 0) {
                *keep = k;
                return 0;
            }
    return 0;
}
