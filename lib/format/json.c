/*
 * json.c - strict RFC 8259 parser into a flat, immutable document.
 *
 * Layout of a document:
 *   vals[]  every value in document order (pre-order); vals[0] is the root.
 *   kids[]  for each array/object, the indices of its children stored
 *           contiguously (objects: key, value, key, value, ...); a
 *           container's `u.c.first` is its first slot in kids[], `n` the
 *           number of elements (members for objects).
 *   arena   decoded strings, each followed by a NUL. Decoding never makes
 *           a string longer than its quoted source (an escape of k source
 *           bytes yields at most k-2 bytes, and the two quotes become one
 *           NUL), so an arena of len+1 bytes always suffices.
 * While parsing, children are pushed on a scratch stack; when a container
 * closes, its children are copied from the top of that stack into kids[].
 * Recursion depth is bounded by LLM__JSON_MAX_DEPTH.
 */
#include <errno.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include "format/json.h"

typedef struct json_value {
    uint8_t type;     /* LLM__JSON_* */
    uint8_t is_int;   /* number written as an integer that fits int64 */
    uint32_t line;    /* 1-based line of the first byte (saturates) */
    uint32_t n;       /* elements / members of a container */
    size_t off;       /* byte offset of the first byte in the source */
    union {
        double d;     /* number, when !is_int */
        int64_t i;    /* number, when is_int */
        struct { size_t pos, len; } s;  /* string: arena position, bytes */
        size_t first; /* container: first slot in kids[] */
    } u;
} json_value;

struct llm__json {
    llm__mem mem;
    json_value *vals;
    size_t n_vals, cap_vals;
    uint32_t *kids;
    size_t n_kids, cap_kids;
    char *arena;
    size_t arena_len, arena_cap;
};

/* Parser state: lives on the C stack during llm__json_parse only. */
typedef struct json_parser {
    llm__json *doc;
    llm__obj *err;
    const unsigned char *p, *end, *start;
    const char *what;
    uint32_t line;
    const unsigned char *line_start;
    uint32_t *stack;  /* children of open containers */
    size_t n_stack, cap_stack;
    int status;       /* first error, LLM_OK while none */
} json_parser;

static int fail(json_parser *ps, const unsigned char *at, int status, const char *msg) {
    size_t off = (size_t)(at - ps->start);
    size_t line = ps->line, col;
    /* the column counts bytes from the start of the current line; `at` may
     * lie before line_start only for errors reported at a value's start,
     * which is always on the current line */
    col = at >= ps->line_start ? (size_t)(at - ps->line_start) + 1 : 1;
    if (ps->status == LLM_OK) {
        if (status == LLM_ERR_NOMEM)
            ps->status = llm__err(ps->err, status, "%s: out of memory while parsing JSON "
                                  "(at byte %zu)", ps->what, off);
        else
            ps->status = llm__err(ps->err, status, "%s: byte %zu (line %zu, column %zu): %s",
                                  ps->what, off, line, col, msg);
    }
    return ps->status;
}

static int grow(const llm__mem *m, void **p, size_t *cap, size_t need, size_t elem) {
    size_t ncap;
    void *np;
    if (need <= *cap)
        return 0;
    ncap = *cap ? *cap : 64;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2 / elem)
            return -1;
        ncap *= 2;
    }
    np = llm__mem_realloc(m, *p, *cap * elem, llm__mem_mul(ncap, elem));
    if (!np)
        return -1;
    *p = np;
    *cap = ncap;
    return 0;
}

static void skip_ws(json_parser *ps) {
    const unsigned char *p = ps->p;
    while (p < ps->end) {
        unsigned char c = *p;
        if (c == ' ' || c == '\t' || c == '\r') {
            p++;
        } else if (c == '\n') {
            p++;
            if (ps->line < UINT32_MAX)
                ps->line++;
            ps->line_start = p;
        } else {
            break;
        }
    }
    ps->p = p;
}

/* Appends a value; returns its index or LLM__JSON_NONE when out of memory. */
static llm__json_val new_value(json_parser *ps, int type) {
    llm__json *d = ps->doc;
    json_value *v;
    if (d->n_vals >= UINT32_MAX - 1 ||
        grow(&d->mem, (void **)&d->vals, &d->cap_vals, d->n_vals + 1, sizeof *d->vals)) {
        fail(ps, ps->p, LLM_ERR_NOMEM, "");
        return LLM__JSON_NONE;
    }
    v = &d->vals[d->n_vals];
    memset(v, 0, sizeof *v);
    v->type = (uint8_t)type;
    v->line = ps->line;
    v->off = (size_t)(ps->p - ps->start);
    return (llm__json_val)d->n_vals++;
}

static int push_child(json_parser *ps, llm__json_val v) {
    if (grow(&ps->doc->mem, (void **)&ps->stack, &ps->cap_stack, ps->n_stack + 1,
             sizeof *ps->stack))
        return fail(ps, ps->p, LLM_ERR_NOMEM, "");
    ps->stack[ps->n_stack++] = v;
    return LLM_OK;
}

/* Moves the top `count` stack entries into kids[] for container c. */
static int close_container(json_parser *ps, llm__json_val c, size_t count, size_t n) {
    llm__json *d = ps->doc;
    if (grow(&d->mem, (void **)&d->kids, &d->cap_kids, d->n_kids + count, sizeof *d->kids))
        return fail(ps, ps->p, LLM_ERR_NOMEM, "");
    if (count) /* kids may still be NULL for empty containers */
        memcpy(d->kids + d->n_kids, ps->stack + ps->n_stack - count, count * sizeof *d->kids);
    d->vals[c].u.first = d->n_kids;
    d->vals[c].n = (uint32_t)n;
    d->n_kids += count;
    ps->n_stack -= count;
    return LLM_OK;
}

/* Length of the valid UTF-8 sequence starting at p (first byte >= 0x80),
 * or 0 when it is invalid (RFC 3629 table: shortest form, no surrogates,
 * at most U+10FFFF). */
static size_t utf8_len(const unsigned char *p, const unsigned char *end) {
    unsigned char c = p[0];
    size_t n, i;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n)
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return n;
}

static int hex4(const unsigned char *p, unsigned *out) {
    unsigned v = 0;
    int i;
    for (i = 0; i < 4; i++) {
        unsigned char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp) {
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ps->p is at the opening quote. */
static int parse_string(json_parser *ps, llm__json_val *out) {
    llm__json *d = ps->doc;
    const unsigned char *p = ps->p + 1, *end = ps->end;
    char *o = d->arena + d->arena_len;
    char *o0 = o;
    llm__json_val v = new_value(ps, LLM__JSON_STRING);
    if (v == LLM__JSON_NONE)
        return ps->status;
    for (;;) {
        const unsigned char *run = p;
        /* copy plain ASCII in one go */
        while (p < end && *p != '"' && *p != '\\' && *p >= 0x20 && *p < 0x80)
            p++;
        memcpy(o, run, (size_t)(p - run));
        o += p - run;
        if (p >= end)
            return fail(ps, ps->p, LLM_ERR_BAD_FILE, "unterminated string");
        if (*p == '"') {
            p++;
            break;
        }
        if (*p < 0x20)
            return fail(ps, p, LLM_ERR_BAD_FILE,
                        "raw control character in a string (must be escaped)");
        if (*p >= 0x80) {
            size_t n = utf8_len(p, end);
            if (!n)
                return fail(ps, p, LLM_ERR_BAD_FILE, "invalid UTF-8 in a string");
            memcpy(o, p, n);
            o += n;
            p += n;
            continue;
        }
        /* backslash escape */
        if (end - p < 2)
            return fail(ps, p, LLM_ERR_BAD_FILE, "unterminated escape");
        switch (p[1]) {
        case '"': *o++ = '"'; p += 2; break;
        case '\\': *o++ = '\\'; p += 2; break;
        case '/': *o++ = '/'; p += 2; break;
        case 'b': *o++ = '\b'; p += 2; break;
        case 'f': *o++ = '\f'; p += 2; break;
        case 'n': *o++ = '\n'; p += 2; break;
        case 'r': *o++ = '\r'; p += 2; break;
        case 't': *o++ = '\t'; p += 2; break;
        case 'u': {
            unsigned cp, lo;
            if (end - p < 6 || hex4(p + 2, &cp))
                return fail(ps, p, LLM_ERR_BAD_FILE, "\\u must be followed by 4 hex digits");
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return fail(ps, p, LLM_ERR_BAD_FILE,
                            "lone low surrogate escape (no UTF-8 form)");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (end - p < 12 || p[6] != '\\' || p[7] != 'u' || hex4(p + 8, &lo) ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return fail(ps, p, LLM_ERR_BAD_FILE,
                                "high surrogate escape not followed by a low surrogate "
                                "escape (no UTF-8 form)");
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            }
            o += put_utf8(o, cp);
            p += 6;
            break;
        }
        default:
            return fail(ps, p, LLM_ERR_BAD_FILE, "invalid escape sequence");
        }
    }
    *o++ = '\0';
    d->vals[v].u.s.pos = d->arena_len;
    d->vals[v].u.s.len = (size_t)(o - o0) - 1;
    d->arena_len += (size_t)(o - o0);
    ps->p = p;
    *out = v;
    return LLM_OK;
}

/* Locale-independent strtod of s[0..n): the grammar was checked already;
 * only the decimal point may need to follow the C library's locale. */
static int to_double(const llm__mem *m, const unsigned char *s, size_t n, double *out) {
    char small[128];
    char *buf = small, *endp;
    const char *dp = localeconv()->decimal_point;
    double r;
    size_t i;
    if (n + 1 > sizeof small) {
        buf = llm__mem_alloc(m, n + 1);
        if (!buf)
            return -1;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (dp && dp[0] && dp[0] != '.' && !dp[1])
        for (i = 0; i < n; i++)
            if (buf[i] == '.')
                buf[i] = dp[0];
    errno = 0;
    r = strtod(buf, &endp); /* overflow gives +-HUGE_VAL, which we accept */
    if (buf != small)
        llm__mem_free(m, buf, n + 1);
    *out = r;
    return 0;
}

static int parse_number(json_parser *ps, llm__json_val *out) {
    const unsigned char *p = ps->p, *end = ps->end, *s = p;
    int neg = 0, frac = 0;
    uint64_t mag = 0;
    int overflow = 0;
    llm__json_val v;
    if (p < end && *p == '-') {
        neg = 1;
        p++;
    }
    if (p >= end || *p < '0' || *p > '9')
        return fail(ps, p, LLM_ERR_BAD_FILE, "invalid number (digit expected)");
    if (*p == '0') {
        p++;
        if (p < end && *p >= '0' && *p <= '9')
            return fail(ps, s, LLM_ERR_BAD_FILE, "invalid number (leading zero)");
    } else {
        while (p < end && *p >= '0' && *p <= '9') {
            unsigned dgt = (unsigned)(*p - '0');
            if (mag > (UINT64_MAX - dgt) / 10)
                overflow = 1;
            else
                mag = mag * 10 + dgt;
            p++;
        }
    }
    if (p < end && *p == '.') {
        frac = 1;
        p++;
        if (p >= end || *p < '0' || *p > '9')
            return fail(ps, p, LLM_ERR_BAD_FILE, "invalid number (digit expected after '.')");
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        frac = 1;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || *p < '0' || *p > '9')
            return fail(ps, p, LLM_ERR_BAD_FILE, "invalid number (digit expected in exponent)");
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    v = new_value(ps, LLM__JSON_NUMBER);
    if (v == LLM__JSON_NONE)
        return ps->status;
    if (!frac && !overflow && (neg ? mag <= (uint64_t)INT64_MAX + 1 : mag <= (uint64_t)INT64_MAX)) {
        ps->doc->vals[v].is_int = 1;
        ps->doc->vals[v].u.i = neg ? (mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag)
                                   : (int64_t)mag;
    } else {
        double d;
        if (to_double(&ps->doc->mem, s, (size_t)(p - s), &d))
            return fail(ps, s, LLM_ERR_NOMEM, "");
        ps->doc->vals[v].u.d = d;
    }
    ps->p = p;
    *out = v;
    return LLM_OK;
}

static int match_word(json_parser *ps, const char *w, int type, llm__json_val *out) {
    size_t n = strlen(w);
    llm__json_val v;
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, w, n) != 0)
        return fail(ps, ps->p, LLM_ERR_BAD_FILE, "invalid literal (expected a JSON value)");
    v = new_value(ps, type);
    if (v == LLM__JSON_NONE)
        return ps->status;
    ps->p += n;
    *out = v;
    return LLM_OK;
}

static int parse_value(json_parser *ps, llm__json_val *out, int depth);

static int parse_container(json_parser *ps, llm__json_val *out, int depth, int is_obj) {
    llm__json_val c = new_value(ps, is_obj ? LLM__JSON_OBJECT : LLM__JSON_ARRAY);
    size_t base = ps->n_stack, n = 0;
    char close = is_obj ? '}' : ']';
    if (c == LLM__JSON_NONE)
        return ps->status;
    if (depth >= LLM__JSON_MAX_DEPTH)
        return fail(ps, ps->p, LLM_ERR_BAD_FILE, "nesting deeper than 512 levels");
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        *out = c;
        return close_container(ps, c, 0, 0);
    }
    for (;;) {
        llm__json_val k, v;
        if (is_obj) {
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != '"')
                return fail(ps, ps->p, LLM_ERR_BAD_FILE, "object key (a string) expected");
            if (parse_string(ps, &k) || push_child(ps, k))
                return ps->status;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':')
                return fail(ps, ps->p, LLM_ERR_BAD_FILE, "':' expected after an object key");
            ps->p++;
        }
        if (parse_value(ps, &v, depth + 1) || push_child(ps, v))
            return ps->status;
        n++;
        if (n > UINT32_MAX - 1)
            return fail(ps, ps->p, LLM_ERR_BAD_FILE, "too many elements in a container");
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            break;
        }
        return fail(ps, ps->p, LLM_ERR_BAD_FILE,
                    is_obj ? "',' or '}' expected in an object"
                           : "',' or ']' expected in an array");
    }
    *out = c;
    return close_container(ps, c, ps->n_stack - base, n);
}

static int parse_value(json_parser *ps, llm__json_val *out, int depth) {
    skip_ws(ps);
    if (ps->p >= ps->end)
        return fail(ps, ps->p, LLM_ERR_BAD_FILE, "unexpected end of text (a value expected)");
    switch (*ps->p) {
    case '{': return parse_container(ps, out, depth, 1);
    case '[': return parse_container(ps, out, depth, 0);
    case '"': return parse_string(ps, out);
    case 't': return match_word(ps, "true", LLM__JSON_TRUE, out);
    case 'f': return match_word(ps, "false", LLM__JSON_FALSE, out);
    case 'n': return match_word(ps, "null", LLM__JSON_NULL, out);
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
            return parse_number(ps, out);
        return fail(ps, ps->p, LLM_ERR_BAD_FILE, "unexpected character (a value expected)");
    }
}

void llm__json_free(llm__json *doc) {
    llm__mem m;
    if (!doc)
        return;
    m = doc->mem;
    llm__mem_free(&m, doc->vals, doc->cap_vals * sizeof *doc->vals);
    llm__mem_free(&m, doc->kids, doc->cap_kids * sizeof *doc->kids);
    llm__mem_free(&m, doc->arena, doc->arena_cap);
    llm__mem_free(&m, doc, sizeof *doc);
}

int llm__json_parse(llm__json **out, llm__obj *err, const llm__mem *mem, const char *buf,
                    size_t len, const char *what) {
    json_parser ps;
    llm__json *d;
    llm__json_val root;
    if (!out)
        return llm__err(err, LLM_ERR_INVALID, "llm__json_parse: out is NULL");
    *out = NULL;
    if (!what)
        what = "JSON";
    if (!mem || (!buf && len))
        return llm__err(err, LLM_ERR_INVALID, "%s: llm__json_parse: NULL buffer", what);
    if (len >= SIZE_MAX - 1)
        return llm__err(err, LLM_ERR_RANGE, "%s: text too large", what);
    d = llm__mem_calloc(mem, 1, sizeof *d);
    if (!d)
        return llm__err(err, LLM_ERR_NOMEM, "%s: out of memory", what);
    d->mem = *mem;
    d->arena_cap = len + 1;
    d->arena = llm__mem_alloc(mem, d->arena_cap);
    if (!d->arena) {
        d->arena_cap = 0;
        llm__json_free(d);
        return llm__err(err, LLM_ERR_NOMEM, "%s: out of memory (%zu bytes)", what, len + 1);
    }
    memset(&ps, 0, sizeof ps);
    ps.doc = d;
    ps.err = err;
    ps.start = ps.p = (const unsigned char *)(buf ? buf : "");
    ps.end = ps.start + len;
    ps.what = what;
    ps.line = 1;
    ps.line_start = ps.start;
    ps.status = LLM_OK;
    if (len >= 3 && memcmp(ps.p, "\xEF\xBB\xBF", 3) == 0)
        ps.p += 3, ps.line_start = ps.p;
    if (parse_value(&ps, &root, 0) == LLM_OK) {
        skip_ws(&ps);
        if (ps.p != ps.end)
            fail(&ps, ps.p, LLM_ERR_BAD_FILE, "text after the JSON value");
    }
    llm__mem_free(mem, ps.stack, ps.cap_stack * sizeof *ps.stack);
    if (ps.status != LLM_OK) {
        llm__json_free(d);
        return ps.status;
    }
    *out = d;
    return LLM_OK;
}

static const json_value *val(const llm__json *doc, llm__json_val v) {
    if (!doc || v == LLM__JSON_NONE || v >= doc->n_vals)
        return NULL;
    return &doc->vals[v];
}

llm__json_val llm__json_root(const llm__json *doc) {
    return doc && doc->n_vals ? 0 : LLM__JSON_NONE;
}

int llm__json_type(const llm__json *doc, llm__json_val v) {
    const json_value *x = val(doc, v);
    return x ? x->type : LLM__JSON_INVALID;
}

size_t llm__json_count(const llm__json *doc, llm__json_val v) {
    const json_value *x = val(doc, v);
    if (!x || (x->type != LLM__JSON_ARRAY && x->type != LLM__JSON_OBJECT))
        return 0;
    return x->n;
}

llm__json_val llm__json_at(const llm__json *doc, llm__json_val arr, size_t i) {
    const json_value *x = val(doc, arr);
    if (!x || x->type != LLM__JSON_ARRAY || i >= x->n)
        return LLM__JSON_NONE;
    return doc->kids[x->u.first + i];
}

llm__json_val llm__json_key_at(const llm__json *doc, llm__json_val obj, size_t i) {
    const json_value *x = val(doc, obj);
    if (!x || x->type != LLM__JSON_OBJECT || i >= x->n)
        return LLM__JSON_NONE;
    return doc->kids[x->u.first + 2 * i];
}

llm__json_val llm__json_value_at(const llm__json *doc, llm__json_val obj, size_t i) {
    const json_value *x = val(doc, obj);
    if (!x || x->type != LLM__JSON_OBJECT || i >= x->n)
        return LLM__JSON_NONE;
    return doc->kids[x->u.first + 2 * i + 1];
}

llm__json_val llm__json_get(const llm__json *doc, llm__json_val obj, const char *key) {
    const json_value *x = val(doc, obj);
    size_t i, klen;
    if (!x || x->type != LLM__JSON_OBJECT || !key)
        return LLM__JSON_NONE;
    klen = strlen(key);
    for (i = x->n; i-- > 0;) {
        const json_value *k = &doc->vals[doc->kids[x->u.first + 2 * i]];
        if (k->u.s.len == klen && memcmp(doc->arena + k->u.s.pos, key, klen) == 0)
            return doc->kids[x->u.first + 2 * i + 1];
    }
    return LLM__JSON_NONE;
}

const char *llm__json_str(const llm__json *doc, llm__json_val v, size_t *len) {
    const json_value *x = val(doc, v);
    if (!x || x->type != LLM__JSON_STRING) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = x->u.s.len;
    return doc->arena + x->u.s.pos;
}

char *llm__json_strdup(const llm__json *doc, llm__json_val v, const llm__mem *mem,
                       size_t *len) {
    size_t n;
    const char *s = llm__json_str(doc, v, &n);
    char *r;
    if (!s || !mem || memchr(s, '\0', n))
        return NULL;
    r = llm__mem_alloc(mem, n + 1);
    if (!r)
        return NULL;
    memcpy(r, s, n + 1);
    if (len)
        *len = n;
    return r;
}

double llm__json_num(const llm__json *doc, llm__json_val v) {
    const json_value *x = val(doc, v);
    if (!x || x->type != LLM__JSON_NUMBER)
        return 0.0;
    return x->is_int ? (double)x->u.i : x->u.d;
}

int llm__json_int64(const llm__json *doc, llm__json_val v, int64_t *out) {
    const json_value *x = val(doc, v);
    double d;
    if (!x || x->type != LLM__JSON_NUMBER)
        return 0;
    if (x->is_int) {
        if (out)
            *out = x->u.i;
        return 1;
    }
    d = x->u.d;
    /* 2^53: beyond it a double no longer names one integer */
    if (!(d >= -9007199254740992.0 && d <= 9007199254740992.0) || d != (double)(int64_t)d)
        return 0;
    if (out)
        *out = (int64_t)d;
    return 1;
}

int llm__json_bool(const llm__json *doc, llm__json_val v) {
    const json_value *x = val(doc, v);
    if (!x)
        return -1;
    if (x->type == LLM__JSON_TRUE)
        return 1;
    if (x->type == LLM__JSON_FALSE)
        return 0;
    return -1;
}

size_t llm__json_offset(const llm__json *doc, llm__json_val v) {
    const json_value *x = val(doc, v);
    return x ? x->off : 0;
}

size_t llm__json_line(const llm__json *doc, llm__json_val v) {
    const json_value *x = val(doc, v);
    return x ? x->line : 0;
}
