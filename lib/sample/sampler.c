/*
 * sampler.c - the llm_sampler handle: options, parameters (enum-keyed
 * setters and their bounds), the penalty window, and the public sample /
 * probs calls that run the chain of chain.c.
 *
 * The penalty window is a ring of hist_cap slots holding the last
 * hist_len <= last_n accepted tokens; count[] mirrors it (occurrences per
 * token) and is updated incrementally on every accept and eviction, so
 * the penalties cost O(window) per token, never O(V). All memory is
 * allocated at create; the only later allocation is a PENALTY_LAST_N
 * setter that asks for a window larger than any before.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "sample_internal.h"

/* ------------------------------------------------------------------------
 * Parameter table
 * ------------------------------------------------------------------------ */

typedef struct param_desc {
    int32_t key;
    const char *name;
    int32_t type;
    uint32_t flags;
    double min, max, def;
    const char *range; /* for error messages */
} param_desc;

static const param_desc PARAMS[] = {
    {LLM_SAMPLER_TEMP, "LLM_SAMPLER_TEMP", LLM_PARAM_F32, 0, 0.0, 1e6, 1.0, "[0, 1e6]"},
    {LLM_SAMPLER_TOP_K, "LLM_SAMPLER_TOP_K", LLM_PARAM_I32, 0, 0.0, 2147483647.0, 0.0,
     "[0, 2147483647]"},
    {LLM_SAMPLER_TOP_P, "LLM_SAMPLER_TOP_P", LLM_PARAM_F32, LLM_PARAM_MIN_OPEN, 0.0, 1.0, 1.0,
     "(0, 1]"},
    {LLM_SAMPLER_MIN_P, "LLM_SAMPLER_MIN_P", LLM_PARAM_F32, 0, 0.0, 1.0, 0.0, "[0, 1]"},
    {LLM_SAMPLER_REPEAT_PENALTY, "LLM_SAMPLER_REPEAT_PENALTY", LLM_PARAM_F32, 0, 1e-3, 1e3, 1.0,
     "[1e-3, 1e3]"},
    {LLM_SAMPLER_PRESENCE_PENALTY, "LLM_SAMPLER_PRESENCE_PENALTY", LLM_PARAM_F32, 0, -1e6, 1e6,
     0.0, "[-1e6, 1e6]"},
    {LLM_SAMPLER_FREQUENCY_PENALTY, "LLM_SAMPLER_FREQUENCY_PENALTY", LLM_PARAM_F32, 0, -1e6,
     1e6, 0.0, "[-1e6, 1e6]"},
    {LLM_SAMPLER_PENALTY_LAST_N, "LLM_SAMPLER_PENALTY_LAST_N", LLM_PARAM_I32, 0, 1.0, 1048576.0,
     64.0, "[1, 1048576]"},
};

#define N_PARAMS (sizeof PARAMS / sizeof PARAMS[0])

static const param_desc *param_find(int32_t key) {
    size_t i;
    for (i = 0; i < N_PARAMS; i++)
        if (PARAMS[i].key == key)
            return &PARAMS[i];
    return NULL;
}

/* 1 when v is inside the parameter's range (NaN never is). */
static int param_ok(const param_desc *d, double v) {
    if (!(v <= d->max))
        return 0;
    if (d->flags & LLM_PARAM_MIN_OPEN)
        return v > d->min;
    return v >= d->min;
}

int llm_sampler_param_bounds(llm_sampler_param_info *out, int32_t key) {
    const param_desc *d = NULL;
    llm_sampler_param_info info;
    uint32_t size;
    if (!out)
        return llm__err(NULL, LLM_ERR_INVALID, "llm_sampler_param_bounds: out is NULL");
    size = out->struct_size;
    if (size < sizeof(uint32_t))
        return llm__err(NULL, LLM_ERR_INVALID,
                        "llm_sampler_param_bounds: out->struct_size is %u; set it to "
                        "sizeof(llm_sampler_param_info)", (unsigned)size);
    d = param_find(key);
    if (!d)
        return llm__err(NULL, LLM_ERR_UNSUPPORTED,
                        "llm_sampler_param_bounds: unknown sampler key %ld", (long)key);
    memset(&info, 0, sizeof info);
    info.struct_size = size;
    info.type = d->type;
    info.flags = d->flags;
    info.min = d->min;
    info.max = d->max;
    info.def = d->def;
    info.name = d->name;
    memcpy(out, &info, size < sizeof info ? size : sizeof info);
    return LLM_OK;
}

/* ------------------------------------------------------------------------
 * Penalty window
 * ------------------------------------------------------------------------ */

static void window_evict(llm_sampler *s) {
    llm_token t = s->hist[s->hist_head];
    s->count[t]--;
    s->hist_head = (s->hist_head + 1) % s->hist_cap;
    s->hist_len--;
}

static void window_push(llm_sampler *s, llm_token t) {
    while (s->hist_len >= (size_t)s->last_n)
        window_evict(s);
    s->hist[(s->hist_head + s->hist_len) % s->hist_cap] = t;
    s->hist_len++;
    s->count[t]++;
}

/* Sets the window length to n, keeping the newest tokens; grows the ring
 * (the only allocation after create) when n exceeds its capacity. */
static int window_resize(llm_sampler *s, int32_t n, const char *fn) {
    if ((size_t)n > s->hist_cap) {
        llm_token *h = llm__mem_alloc(&s->obj.mem, llm__mem_mul((size_t)n, sizeof *h));
        size_t j;
        if (!h)
            return llm__err(&s->obj, LLM_ERR_NOMEM,
                            "%s: cannot allocate a penalty window of %ld tokens", fn, (long)n);
        for (j = 0; j < s->hist_len; j++)
            h[j] = s->hist[(s->hist_head + j) % s->hist_cap];
        llm__mem_free(&s->obj.mem, s->hist, s->hist_cap * sizeof *s->hist);
        s->hist = h;
        s->hist_cap = (size_t)n;
        s->hist_head = 0;
    }
    s->last_n = n;
    while (s->hist_len > (size_t)n)
        window_evict(s);
    return LLM_OK;
}

/* ------------------------------------------------------------------------
 * Create / free
 * ------------------------------------------------------------------------ */

int llm_sampler_opts_init(llm_sampler_opts *o, size_t struct_size) {
    /* every default is zero (see llm_sampler_opts) */
    return llm__opts_init(o, struct_size, "llm_sampler_opts_init");
}

static void sampler_release(llm_sampler *s) {
    size_t V = s->n_vocab;
    const llm__mem *m = &s->obj.mem;
    llm__mem_free(m, s->bias, s->n_bias * sizeof *s->bias);
    llm__mem_free(m, s->hist, s->hist_cap * sizeof *s->hist);
    llm__mem_free_aligned(m, s->count);
    llm__mem_free_aligned(m, s->z);
    llm__mem_free_aligned(m, s->w);
    llm__mem_free_aligned(m, s->keys);
    llm__mem_free_aligned(m, s->bitmap);
    llm__mem_free_aligned(m, s->blocks);
    (void)V;
    llm__obj_delete(s, sizeof *s);
}

void llm_sampler_free(llm_sampler *s) {
    if (!llm__obj_is(s, LLM__MAGIC_SAMPLER))
        return;
    sampler_release(s);
}

/* Checks one option field; `what` names it, `range` its valid values. */
#define OPT_CHECK(cond, what, range, val)                                              \
    do {                                                                              \
        if (!(cond))                                                                  \
            return llm__err(NULL, LLM_ERR_INVALID,                                    \
                            "llm_sampler_create: opts->%s is %g; valid: %s", (what),  \
                            (double)(val), (range));                                  \
    } while (0)

static int read_opts(llm_sampler_opts *o, const llm_sampler_opts *src) {
    int st;
    size_t i;
    if (!src)
        return llm__err(NULL, LLM_ERR_INVALID,
                        "llm_sampler_create: opts is NULL; opts->n_vocab is required");
    if ((st = llm__opts_read(NULL, o, sizeof *o, src, "llm_sampler_opts")) != LLM_OK)
        return st;
    if (o->flags & ~(LLM_SAMPLER_FLAG_GREEDY | LLM_SAMPLER_FLAG_NO_AUTO_ACCEPT))
        return llm__err(NULL, LLM_ERR_UNSUPPORTED,
                        "llm_sampler_create: opts->flags has unknown bits 0x%x",
                        (unsigned)(o->flags & ~(LLM_SAMPLER_FLAG_GREEDY |
                                                LLM_SAMPLER_FLAG_NO_AUTO_ACCEPT)));
    OPT_CHECK(o->n_vocab > 0 && o->n_vocab <= (uint32_t)INT32_MAX, "n_vocab",
              "[1, 2147483647] (required)", o->n_vocab);
    OPT_CHECK(o->top_k >= 0, "top_k", "0 (off) or >= 1", o->top_k);
    OPT_CHECK(o->temperature == 0.0f || (o->temperature > 0.0f && o->temperature <= 1e6f),
              "temperature", "0 (default 1) or (0, 1e6]; greedy is LLM_SAMPLER_FLAG_GREEDY",
              o->temperature);
    OPT_CHECK(o->top_p >= 0.0f && o->top_p <= 1.0f, "top_p", "0 (default 1) or (0, 1]",
              o->top_p);
    OPT_CHECK(o->min_p >= 0.0f && o->min_p <= 1.0f, "min_p", "[0, 1]", o->min_p);
    OPT_CHECK(o->repeat_penalty == 0.0f ||
                  (o->repeat_penalty >= 1e-3f && o->repeat_penalty <= 1e3f),
              "repeat_penalty", "0 (default 1) or [1e-3, 1e3]", o->repeat_penalty);
    OPT_CHECK(o->presence_penalty >= -1e6f && o->presence_penalty <= 1e6f, "presence_penalty",
              "[-1e6, 1e6]", o->presence_penalty);
    OPT_CHECK(o->frequency_penalty >= -1e6f && o->frequency_penalty <= 1e6f,
              "frequency_penalty", "[-1e6, 1e6]", o->frequency_penalty);
    OPT_CHECK(o->penalty_last_n >= 0 && o->penalty_last_n <= 1048576, "penalty_last_n",
              "0 (default 64) or [1, 1048576]", o->penalty_last_n);
    OPT_CHECK(o->reserved0 == 0, "reserved0", "0", o->reserved0);
    if (o->n_logit_bias > 0 && !o->logit_bias)
        return llm__err(NULL, LLM_ERR_INVALID,
                        "llm_sampler_create: opts->logit_bias is NULL but n_logit_bias is %zu",
                        o->n_logit_bias);
    for (i = 0; i < o->n_logit_bias; i++) {
        const llm_logit_bias *b = &o->logit_bias[i];
        if (b->token < 0 || (uint32_t)b->token >= o->n_vocab)
            return llm__err(NULL, LLM_ERR_INVALID,
                            "llm_sampler_create: opts->logit_bias[%zu].token is %ld; valid: "
                            "[0, %u)", i, (long)b->token, (unsigned)o->n_vocab);
        if (!(b->bias == -INFINITY || (b->bias >= -FLT_MAX && b->bias <= FLT_MAX)))
            return llm__err(NULL, LLM_ERR_INVALID,
                            "llm_sampler_create: opts->logit_bias[%zu].bias is %g; valid: "
                            "finite or -INFINITY", i, (double)b->bias);
    }
    return LLM_OK;
}

int llm_sampler_create(llm_sampler **out, const llm_sampler_opts *opts) {
    llm_sampler_opts o;
    llm_sampler *s;
    size_t V;
    unsigned bl;
    int st;
    if (!out)
        return llm__err(NULL, LLM_ERR_INVALID, "llm_sampler_create: out is NULL");
    *out = NULL;
    if ((st = read_opts(&o, opts)) != LLM_OK)
        return st;
    s = llm__obj_new(sizeof *s, LLM__MAGIC_SAMPLER, o.alloc, o.alloc_ud);
    if (!s)
        return llm__err(NULL, LLM_ERR_NOMEM, "llm_sampler_create: cannot allocate the handle");
    V = o.n_vocab;
    s->n_vocab = o.n_vocab;
    s->flags = o.flags;
    /* shift: V * 2^shift < 2^64, so the exact uint64 sums cannot overflow */
    for (bl = 0; bl < 64 && (UINT64_C(1) << bl) <= (uint64_t)V; bl++)
        ;
    s->shift = 64 - bl > 62 ? 62 : 64 - bl;
    s->temp = (o.flags & LLM_SAMPLER_FLAG_GREEDY) ? 0.0f
              : o.temperature == 0.0f            ? 1.0f
                                                 : o.temperature;
    s->top_k = o.top_k;
    s->top_p = o.top_p == 0.0f ? 1.0f : o.top_p;
    s->min_p = o.min_p;
    s->repeat = o.repeat_penalty == 0.0f ? 1.0f : o.repeat_penalty;
    s->presence = o.presence_penalty;
    s->frequency = o.frequency_penalty;
    s->last_n = o.penalty_last_n == 0 ? 64 : o.penalty_last_n;
    llm__rng_seed(&s->rng, o.seed);

    s->hist_cap = (size_t)s->last_n;
    s->hist = llm__mem_alloc(&s->obj.mem, llm__mem_mul(s->hist_cap, sizeof *s->hist));
    s->count = llm__mem_alloc_aligned(&s->obj.mem, llm__mem_mul(V, sizeof *s->count));
    s->z = llm__mem_alloc_aligned(&s->obj.mem, llm__mem_mul(V, sizeof *s->z));
    s->w = llm__mem_alloc_aligned(&s->obj.mem, llm__mem_mul(V, sizeof *s->w));
    s->keys = llm__mem_alloc_aligned(&s->obj.mem, llm__mem_mul(V, sizeof *s->keys));
    s->bitmap = llm__mem_alloc_aligned(&s->obj.mem, llm__mem_mul((V + 63) / 64, sizeof *s->bitmap));
    s->blocks = llm__mem_alloc_aligned(&s->obj.mem, llm__mem_mul((V + 63) / 64, sizeof *s->blocks));
    if (o.n_logit_bias > 0) {
        s->bias = llm__mem_alloc(&s->obj.mem, llm__mem_mul(o.n_logit_bias, sizeof *s->bias));
        if (s->bias) {
            memcpy(s->bias, o.logit_bias, o.n_logit_bias * sizeof *s->bias);
            s->n_bias = o.n_logit_bias;
        }
    }
    if (!s->hist || !s->count || !s->z || !s->w || !s->keys || !s->bitmap || !s->blocks ||
        (o.n_logit_bias > 0 && !s->bias)) {
        if (!s->hist)
            s->hist_cap = 0;
        sampler_release(s);
        return llm__err(NULL, LLM_ERR_NOMEM,
                        "llm_sampler_create: cannot allocate the scratch for %zu tokens", V);
    }
    *out = s;
    return LLM_OK;
}

/* ------------------------------------------------------------------------
 * State
 * ------------------------------------------------------------------------ */

int llm_sampler_accept(llm_sampler *s, llm_token token) {
    if (!llm__obj_is(s, LLM__MAGIC_SAMPLER))
        return llm__err(NULL, LLM_ERR_INVALID, "llm_sampler_accept: s is not a sampler");
    if (token < 0 || (uint32_t)token >= s->n_vocab)
        return llm__err(&s->obj, LLM_ERR_INVALID,
                        "llm_sampler_accept: token %ld is outside [0, %u)", (long)token,
                        (unsigned)s->n_vocab);
    window_push(s, token);
    return LLM_OK;
}

int llm_sampler_reset(llm_sampler *s, uint64_t seed) {
    if (!llm__obj_is(s, LLM__MAGIC_SAMPLER))
        return llm__err(NULL, LLM_ERR_INVALID, "llm_sampler_reset: s is not a sampler");
    while (s->hist_len > 0)
        window_evict(s);
    s->hist_head = 0;
    llm__rng_seed(&s->rng, seed);
    return LLM_OK;
}

/* ------------------------------------------------------------------------
 * Parameters
 * ------------------------------------------------------------------------ */

static int param_lookup(const param_desc **out, llm_sampler *s, int32_t key, int32_t type,
                        const char *fn) {
    const param_desc *d = NULL;
    if (!llm__obj_is(s, LLM__MAGIC_SAMPLER))
        return llm__err(NULL, LLM_ERR_INVALID, "%s: s is not a sampler", fn);
    d = param_find(key);
    if (!d)
        return llm__err(&s->obj, LLM_ERR_UNSUPPORTED, "%s: unknown sampler key %ld", fn,
                        (long)key);
    if (d->type != type)
        return llm__err(&s->obj, LLM_ERR_INVALID, "%s: %s is an %s parameter; use %s", fn,
                        d->name, d->type == LLM_PARAM_F32 ? "f32" : "i32",
                        d->type == LLM_PARAM_F32 ? "llm_sampler_set_f32/get_f32"
                                                 : "llm_sampler_set_i32/get_i32");
    *out = d;
    return LLM_OK;
}

int llm_sampler_set_f32(llm_sampler *s, int32_t key, float value) {
    const param_desc *d = NULL;
    int st = param_lookup(&d, s, key, LLM_PARAM_F32, "llm_sampler_set_f32");
    if (st != LLM_OK)
        return st;
    if (!param_ok(d, (double)value))
        return llm__err(&s->obj, LLM_ERR_INVALID, "llm_sampler_set_f32: %s = %g is out of "
                        "range; valid: %s", d->name, (double)value, d->range);
    switch (key) {
    case LLM_SAMPLER_TEMP: s->temp = value; break;
    case LLM_SAMPLER_TOP_P: s->top_p = value; break;
    case LLM_SAMPLER_MIN_P: s->min_p = value; break;
    case LLM_SAMPLER_REPEAT_PENALTY: s->repeat = value; break;
    case LLM_SAMPLER_PRESENCE_PENALTY: s->presence = value; break;
    case LLM_SAMPLER_FREQUENCY_PENALTY: s->frequency = value; break;
    default: return llm__err(&s->obj, LLM_ERR_INTERNAL, "llm_sampler_set_f32: key %ld", (long)key);
    }
    return LLM_OK;
}

int llm_sampler_set_i32(llm_sampler *s, int32_t key, int32_t value) {
    const param_desc *d = NULL;
    int st = param_lookup(&d, s, key, LLM_PARAM_I32, "llm_sampler_set_i32");
    if (st != LLM_OK)
        return st;
    if (!param_ok(d, (double)value))
        return llm__err(&s->obj, LLM_ERR_INVALID, "llm_sampler_set_i32: %s = %ld is out of "
                        "range; valid: %s", d->name, (long)value, d->range);
    switch (key) {
    case LLM_SAMPLER_TOP_K: s->top_k = value; break;
    case LLM_SAMPLER_PENALTY_LAST_N: return window_resize(s, value, "llm_sampler_set_i32");
    default: return llm__err(&s->obj, LLM_ERR_INTERNAL, "llm_sampler_set_i32: key %ld", (long)key);
    }
    return LLM_OK;
}

int llm_sampler_get_f32(float *out, llm_sampler *s, int32_t key) {
    const param_desc *d = NULL;
    int st = param_lookup(&d, s, key, LLM_PARAM_F32, "llm_sampler_get_f32");
    if (st != LLM_OK)
        return st;
    if (!out)
        return llm__err(&s->obj, LLM_ERR_INVALID, "llm_sampler_get_f32: out is NULL");
    switch (key) {
    case LLM_SAMPLER_TEMP: *out = s->temp; break;
    case LLM_SAMPLER_TOP_P: *out = s->top_p; break;
    case LLM_SAMPLER_MIN_P: *out = s->min_p; break;
    case LLM_SAMPLER_REPEAT_PENALTY: *out = s->repeat; break;
    case LLM_SAMPLER_PRESENCE_PENALTY: *out = s->presence; break;
    case LLM_SAMPLER_FREQUENCY_PENALTY: *out = s->frequency; break;
    default: return llm__err(&s->obj, LLM_ERR_INTERNAL, "llm_sampler_get_f32: key %ld", (long)key);
    }
    return LLM_OK;
}

int llm_sampler_get_i32(int32_t *out, llm_sampler *s, int32_t key) {
    const param_desc *d = NULL;
    int st = param_lookup(&d, s, key, LLM_PARAM_I32, "llm_sampler_get_i32");
    if (st != LLM_OK)
        return st;
    if (!out)
        return llm__err(&s->obj, LLM_ERR_INVALID, "llm_sampler_get_i32: out is NULL");
    switch (key) {
    case LLM_SAMPLER_TOP_K: *out = s->top_k; break;
    case LLM_SAMPLER_PENALTY_LAST_N: *out = s->last_n; break;
    default: return llm__err(&s->obj, LLM_ERR_INTERNAL, "llm_sampler_get_i32: key %ld", (long)key);
    }
    return LLM_OK;
}

/* ------------------------------------------------------------------------
 * Sampling
 * ------------------------------------------------------------------------ */

static int check_call(llm_sampler *s, const float *logits, size_t n_vocab, const void *out,
                      const char *fn) {
    if (!llm__obj_is(s, LLM__MAGIC_SAMPLER))
        return llm__err(NULL, LLM_ERR_INVALID, "%s: s is not a sampler", fn);
    LLM__CHECK_ARG(&s->obj, out != NULL, fn, "the output pointer is NULL");
    LLM__CHECK_ARG(&s->obj, logits != NULL, fn, "logits is NULL");
    if (n_vocab != s->n_vocab)
        return llm__err(&s->obj, LLM_ERR_INVALID,
                        "%s: n_vocab is %zu but the sampler was created for %u tokens", fn,
                        n_vocab, (unsigned)s->n_vocab);
    return LLM_OK;
}

int llm_sampler_sample(llm_token *out, llm_sampler *s, const float *logits, size_t n_vocab) {
    llm__cands c;
    llm_token t;
    int st = check_call(s, logits, n_vocab, out, "llm_sampler_sample");
    if (st != LLM_OK)
        return st;
    if ((st = llm__chain_run(s, logits, LLM__CHAIN_FAST, &c, "llm_sampler_sample")) != LLM_OK)
        return st;
    t = c.greedy ? (llm_token)c.ids[0] : llm__chain_draw(s, &c, llm__rng_next(&s->rng));
    if (!(s->flags & LLM_SAMPLER_FLAG_NO_AUTO_ACCEPT))
        window_push(s, t);
    *out = t;
    return LLM_OK;
}

int llm_sampler_probs(float *probs, size_t *n_kept, llm_sampler *s, const float *logits,
                      size_t n_vocab) {
    llm__cands c;
    size_t i, kept = 0;
    double inv;
    int st = check_call(s, logits, n_vocab, probs, "llm_sampler_probs");
    if (st != LLM_OK)
        return st;
    LLM__CHECK_ARG(&s->obj, (const void *)probs != (const void *)logits, "llm_sampler_probs",
                   "probs must not alias logits");
    if ((st = llm__chain_run(s, logits, LLM__CHAIN_FAST, &c, "llm_sampler_probs")) != LLM_OK)
        return st;
    inv = 1.0 / (double)c.total;
    if (c.ids == NULL) {
        for (i = 0; i < n_vocab; i++) {
            uint64_t q = llm__chain_wq(s->w[i], s->shift);
            probs[i] = (float)((double)q * inv);
            kept += q != 0;
        }
    } else {
        memset(probs, 0, n_vocab * sizeof *probs);
        for (i = 0; i < c.n; i++) {
            uint64_t q = llm__chain_wq(s->w[c.ids[i]], s->shift);
            probs[c.ids[i]] = (float)((double)q * inv);
            kept += q != 0;
        }
    }
    if (n_kept)
        *n_kept = kept;
    return LLM_OK;
}
