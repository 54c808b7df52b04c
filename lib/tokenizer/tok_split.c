/*
 * tok_split.c - pre-tokenization: cutting text into the pieces that BPE
 * merges within, with the exact regexes of tiktoken (formats.md 5.1).
 *
 * Engine: PCRE2 (Debian libpcre2-dev). It has what the patterns need and
 * linear-time engines lack (the look-ahead in `\s+(?!\S)`), full Unicode
 * general-category tables for \p{L}, \p{N}, \p{Lu}..., Unicode caseless
 * matching for `(?i:'s|...)` (so 'ſ' U+017F matches like s, as in Rust's
 * regex crate used by tiktoken), a JIT compiler (speed), and
 * PCRE2_MATCH_INVALID_UTF, which lets us run the pattern over arbitrary
 * bytes: invalid UTF-8 is simply never matched.
 *
 * One deliberate rewrite: tiktoken's `\s` is Unicode White_Space (Rust
 * regex), while PCRE2's `\s` in UCP mode is "Z category or \t\n\v\f\r",
 * which lacks U+0085 and includes U+180E. We therefore spell White_Space
 * out as a class (WS below) and substitute it for every \s and \S.
 *
 * Bytes the pattern cannot match (only invalid UTF-8, since every valid
 * character is covered by some alternative of each pattern) form pieces of
 * their own, maximal runs between matches.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

/* Unicode White_Space (PropList.txt), as used by Rust's regex for \s. */
#define WS "\\t\\n\\x0B\\f\\r\\x20\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}" \
           "\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"

/* GPT-2 / r50k / p50k:
 * 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static const char pat_gpt2[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" WS "\\p{L}\\p{N}]+"
    "|[" WS "]+(?![^" WS "])|[" WS "]+";

/* cl100k_base:
 * (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
 *  ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
static const char pat_cl100k[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
    "| ?[^" WS "\\p{L}\\p{N}]+[\\r\\n]*|[" WS "]*[\\r\\n]+|[" WS "]+(?![^" WS "])|[" WS "]+";

/* o200k_base: seven alternatives (formats.md 5.1). */
static const char pat_o200k[] =
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
    "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*"
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
    "|\\p{N}{1,3}"
    "| ?[^" WS "\\p{L}\\p{N}]+[\\r\\n/]*"
    "|[" WS "]*[\\r\\n]+"
    "|[" WS "]+(?![^" WS "])"
    "|[" WS "]+";

const char *llm__split_pattern(int32_t pattern) {
    switch (pattern) {
    case LLM_TOK_PATTERN_GPT2: return pat_gpt2;
    case LLM_TOK_PATTERN_CL100K: return pat_cl100k;
    case LLM_TOK_PATTERN_O200K: return pat_o200k;
    default: return NULL;
    }
}

/* PCRE2's allocator hooks get no block size on free, ours needs it: keep
 * the size in a header in front of each block. */
typedef union pc_hdr {
    size_t size;
    max_align_t align;
} pc_hdr;

static void *pc_malloc(PCRE2_SIZE size, void *ud) {
    const llm__mem *m = ud;
    pc_hdr *h;
    if (size > SIZE_MAX - sizeof *h)
        return NULL;
    h = llm__mem_alloc(m, size + sizeof *h);
    if (!h)
        return NULL;
    h->size = size + sizeof *h;
    return h + 1;
}

static void pc_free(void *p, void *ud) {
    const llm__mem *m = ud;
    pc_hdr *h;
    if (!p)
        return;
    h = (pc_hdr *)p - 1;
    llm__mem_free(m, h, h->size);
}

int llm__split_compile(llm_tokenizer *tok, const char *where) {
    const char *pat = llm__split_pattern(tok->pattern);
    pcre2_general_context *g;
    pcre2_compile_context *cc;
    pcre2_code *re;
    int ec;
    PCRE2_SIZE eo;
    if (!pat)
        return llm__err(NULL, LLM_ERR_INVALID, "%s: unknown split pattern %d", where,
                        (int)tok->pattern);
    g = pcre2_general_context_create(pc_malloc, pc_free, &tok->obj.mem);
    if (!g)
        return llm__err(NULL, LLM_ERR_NOMEM, "%s: out of memory (PCRE2 context)", where);
    tok->gctx = g;
    cc = pcre2_compile_context_create(g);
    if (!cc)
        return llm__err(NULL, LLM_ERR_NOMEM, "%s: out of memory (PCRE2 context)", where);
    re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
                       PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &ec, &eo, cc);
    pcre2_compile_context_free(cc);
    if (!re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(ec, msg, sizeof msg);
        /* 121 is PCRE2's compile error "failed to allocate heap memory"
         * (it has no public macro); the patterns themselves are constants */
        return llm__err(NULL, ec == 121 ? LLM_ERR_NOMEM : LLM_ERR_INTERNAL,
                        "%s: split pattern does not compile at offset %zu: %s", where,
                        (size_t)eo, (const char *)msg);
    }
    /* JIT is an optimisation: where the platform lacks it, pcre2_match
     * interprets the same pattern with the same results */
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    tok->re = re;
    return LLM_OK;
}

void llm__split_free(llm_tokenizer *tok) {
    if (tok->re)
        pcre2_code_free(tok->re);
    if (tok->gctx)
        pcre2_general_context_free(tok->gctx);
    tok->re = NULL;
    tok->gctx = NULL;
}

int llm__split_run(const llm_tokenizer *tok, const uint8_t *text, size_t len,
                   llm__split_fn fn, void *ud) {
    const pcre2_code *re = tok->re;
    pcre2_match_data *md;
    pcre2_match_context *mc = NULL;
    pcre2_jit_stack *js = NULL;
    size_t pos = 0;
    int st = LLM_OK, jit;
    size_t info = 0;
    if (len == 0)
        return LLM_OK;
    jit = pcre2_pattern_info(re, PCRE2_INFO_JITSIZE, &info) == 0 && info > 0;
    md = pcre2_match_data_create(1, tok->gctx);
    /* PCRE2's default match limit (10 million steps) is hit by one long
     * white-space run: `\s*[\r\n]+` first scans the run and gives it back
     * step by step. That work is linear in the run, and runs are consumed
     * whole by the next alternative, so lift the limit rather than fail. */
    mc = md ? pcre2_match_context_create(tok->gctx) : NULL;
    if (!mc) {
        pcre2_match_data_free(md);
        return llm__err(NULL, LLM_ERR_NOMEM, "llm_tokenizer_encode: out of memory");
    }
    pcre2_set_match_limit(mc, UINT32_MAX);
    pcre2_set_heap_limit(mc, UINT32_MAX); /* interpreter only (no JIT) */
    while (pos < len && st == LLM_OK) {
        PCRE2_SIZE *ov;
        size_t s, e;
        int rc = jit ? pcre2_jit_match(re, text, len, pos, 0, md, mc)
                     : pcre2_match(re, text, len, pos, 0, md, mc);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT && !js) {
            /* a long run the default 32 KiB JIT stack cannot hold: retry
             * with a big private stack (allocated lazily, rarely needed) */
            js = pcre2_jit_stack_create(64 * 1024, 256 * 1024 * 1024, tok->gctx);
            if (!js) {
                st = llm__err(NULL, LLM_ERR_NOMEM, "llm_tokenizer_encode: out of memory");
                break;
            }
            pcre2_jit_stack_assign(mc, NULL, js);
            continue;
        }
        if (rc == PCRE2_ERROR_NOMATCH) {
            st = fn(ud, text + pos, len - pos); /* trailing invalid bytes */
            break;
        }
        if (rc < 0) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(rc, msg, sizeof msg);
            st = llm__err(NULL, rc == PCRE2_ERROR_NOMEMORY ? LLM_ERR_NOMEM : LLM_ERR_INTERNAL,
                          "llm_tokenizer_encode: pattern match failed at byte %zu: %s", pos,
                          (const char *)msg);
            break;
        }
        ov = pcre2_get_ovector_pointer(md);
        s = ov[0];
        e = ov[1];
        if (s > pos)
            st = fn(ud, text + pos, s - pos); /* invalid bytes before the match */
        if (st != LLM_OK)
            break;
        if (e <= s) { /* no pattern matches empty text; be safe anyway */
            if (s >= len)
                break;
            e = s + 1;
        }
        st = fn(ud, text + s, e - s);
        pos = e;
    }
    if (js)
        pcre2_jit_stack_free(js);
    if (mc)
        pcre2_match_context_free(mc);
    pcre2_match_data_free(md);
    return st;
}
