/*
 * model.c - the llm_model handle: tensor layout per architecture, creation
 * with GPT-2 style initialisation, GGUF load (mmap, zero-copy F32, F16 and
 * BF16 converted) and GGUF save with llama.cpp's names and metadata.
 *
 * Invariants: layout_build() is the single place that knows which tensors
 * an architecture has, their names and shapes; create, load and save all
 * walk the same table, so a file we write is a file we read. Every
 * pointer in llm_model points at n floats that stay valid until
 * llm_model_free. The loader trusts nothing in the file: shapes are
 * compared with the config before any data is touched, and the GGUF
 * parser has already checked that every tensor lies inside the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format/gguf.h"
#include "llm_matvec.h"
#include "format/limits.h"
#include "model/model.h"
#include "model/qmat.h"
#include "tokenizer/tok_spec.h"

static const char *arch_name(int32_t arch) {
    return arch == LLM_ARCH_LLAMA ? "llama" : "gpt2";
}

/* ------------------------------------------------------------------------
 * Layout
 * ------------------------------------------------------------------------ */

static void add_tensor(llm_model *m, size_t *i, float **slot, uint32_t *type_slot,
                       uint32_t n_dims, uint64_t d0, uint64_t d1, const char *fmt, int layer) {
    llm__tensor *t = &m->tensors[*i];
    if (layer >= 0)
        snprintf(t->name, sizeof t->name, "blk.%d.%s", layer, fmt);
    else
        snprintf(t->name, sizeof t->name, "%s", fmt);
    t->n_dims = n_dims;
    t->dims[0] = d0;
    t->dims[1] = n_dims == 2 ? d1 : 1;
    t->n = (size_t)(t->dims[0] * t->dims[1]);
    t->slot = slot;
    t->type_slot = type_slot;
    t->type = LLM__GGML_F32;
    t->nbytes = t->n * sizeof(float);
    t->data = NULL;
    (*i)++;
}

/* Builds (or, with m->tensors NULL, counts) the tensor table of m->cfg.
 * Order follows llama.cpp's converters: embeddings, blocks, final norm,
 * output. */
static size_t layout_fill(llm_model *m, int fill) {
    const llm_model_config *c = &m->cfg;
    const uint64_t C = c->n_embd, V = c->n_vocab, F = c->n_ff, Ekv = m->n_embd_kv;
    const int gpt2 = c->arch == LLM_ARCH_GPT2;
    const int qkv_bias = (c->flags & LLM_CFG_QKV_BIAS) != 0;
    size_t i = 0;
    uint32_t l;
    llm__tensor dummy[1];
    llm__tensor *saved = m->tensors;
    if (!fill)
        m->tensors = dummy; /* counting: write every entry over one scratch slot */
#define ADD(slot, nd, d0, d1, fmt, layer) ADDT(slot, NULL, nd, d0, d1, fmt, layer)
#define ADDT(slot, tslot, nd, d0, d1, fmt, layer)                              \
    do {                                                                       \
        add_tensor(m, &i, (slot), (tslot), (nd), (d0), (d1), (fmt), (layer));  \
        if (!fill)                                                             \
            i--, count++;                                                      \
    } while (0)
    {
        size_t count = 0;
        ADDT(&m->tok_embd, &m->tok_embd_type, 2, V, C, "token_embd.weight", -1);
        if (gpt2)
            ADD(&m->pos_embd, 2, c->n_ctx, C, "position_embd.weight", -1);
        for (l = 0; l < c->n_layer; l++) {
            llm__layer *L = fill ? &m->layers[l] : NULL;
#define S(f) (L ? &L->f : NULL)
#define TS(f) (L ? &L->f##_type : NULL)
            ADD(S(attn_norm), 1, C, 0, "attn_norm.weight", (int)l);
            if (gpt2) {
                ADD(S(attn_norm_b), 1, C, 0, "attn_norm.bias", (int)l);
                ADDT(S(wqkv), TS(wqkv), 2, C + 2 * Ekv, C, "attn_qkv.weight", (int)l);
                ADD(S(bqkv), 1, C + 2 * Ekv, 0, "attn_qkv.bias", (int)l);
            } else {
                ADDT(S(wq), TS(wq), 2, C, C, "attn_q.weight", (int)l);
                ADDT(S(wk), TS(wk), 2, Ekv, C, "attn_k.weight", (int)l);
                ADDT(S(wv), TS(wv), 2, Ekv, C, "attn_v.weight", (int)l);
                if (qkv_bias) {
                    ADD(S(bq), 1, C, 0, "attn_q.bias", (int)l);
                    ADD(S(bk), 1, Ekv, 0, "attn_k.bias", (int)l);
                    ADD(S(bv), 1, Ekv, 0, "attn_v.bias", (int)l);
                }
            }
            ADDT(S(wo), TS(wo), 2, C, C, "attn_output.weight", (int)l);
            if (gpt2)
                ADD(S(bo), 1, C, 0, "attn_output.bias", (int)l);
            ADD(S(ffn_norm), 1, C, 0, "ffn_norm.weight", (int)l);
            if (gpt2)
                ADD(S(ffn_norm_b), 1, C, 0, "ffn_norm.bias", (int)l);
            if (!gpt2)
                ADDT(S(w_gate), TS(w_gate), 2, F, C, "ffn_gate.weight", (int)l);
            ADDT(S(w_up), TS(w_up), 2, F, C, "ffn_up.weight", (int)l);
            if (gpt2)
                ADD(S(b_up), 1, F, 0, "ffn_up.bias", (int)l);
            ADDT(S(w_down), TS(w_down), 2, C, F, "ffn_down.weight", (int)l);
            if (gpt2)
                ADD(S(b_down), 1, C, 0, "ffn_down.bias", (int)l);
#undef S
#undef TS
        }
        ADD(&m->out_norm, 1, C, 0, "output_norm.weight", -1);
        if (gpt2)
            ADD(&m->out_norm_b, 1, C, 0, "output_norm.bias", -1);
        if (c->flags & LLM_CFG_UNTIED_OUTPUT)
            ADDT(&m->output, &m->output_type, 2, V, C, "output.weight", -1);
#undef ADD
#undef ADDT
        if (!fill) {
            m->tensors = saved;
            return count;
        }
    }
    return i;
}

/* Allocates layers and the tensor table for m->cfg (already validated). */
static int layout_build(llm_model *m) {
    size_t n;
    m->head_dim = m->cfg.n_embd / m->cfg.n_head;
    m->n_embd_kv = m->head_dim * m->cfg.n_head_kv;
    m->layers = llm__mem_calloc(&m->obj.mem, m->cfg.n_layer, sizeof *m->layers);
    if (!m->layers)
        return llm__err(&m->obj, LLM_ERR_NOMEM, "model: out of memory for %u layers",
                        (unsigned)m->cfg.n_layer);
    n = layout_fill(m, 0);
    m->tensors = llm__mem_calloc(&m->obj.mem, n, sizeof *m->tensors);
    if (!m->tensors)
        return llm__err(&m->obj, LLM_ERR_NOMEM, "model: out of memory for the tensor table");
    m->n_tensors = layout_fill(m, 1);
    return LLM_OK;
}

/* After every slot is set: derive views (gpt2's fused QKV, tied output). */
static void bind_views(llm_model *m) {
    uint32_t l;
    const size_t C = m->cfg.n_embd, Ekv = m->n_embd_kv;
    size_t i;
    for (i = 0; i < m->n_tensors; i++) {
        *m->tensors[i].slot = m->tensors[i].data;
        if (m->tensors[i].type_slot)
            *m->tensors[i].type_slot = m->tensors[i].type;
    }
    if (m->cfg.arch == LLM_ARCH_GPT2)
        for (l = 0; l < m->cfg.n_layer; l++) {
            llm__layer *L = &m->layers[l];
            /* Row r of the fused matrix starts r row-sizes in, whatever
             * the storage type (Q8_0 rows are C / 32 blocks). */
            char *base = (char *)L->wqkv;
            size_t row = llm__qmat_row_bytes(L->wqkv_type, C);
            L->wq = L->wqkv;
            L->wk = (float *)(void *)(base + C * row);
            L->wv = (float *)(void *)(base + (C + Ekv) * row);
            L->wq_type = L->wk_type = L->wv_type = L->wqkv_type;
            L->bq = L->bqkv;
            L->bk = L->bqkv + C;
            L->bv = L->bqkv + C + Ekv;
        }
    if (!(m->cfg.flags & LLM_CFG_UNTIED_OUTPUT)) {
        m->output = m->tok_embd;
        m->output_type = m->tok_embd_type;
    }
}

int llm__model_is_quantized(const llm_model *m) {
    size_t i;
    for (i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].type != LLM__GGML_F32)
            return 1;
    return 0;
}

/* Floats for tensor t rounded up so every tensor starts LLM__ALIGN-aligned. */
static size_t padded_floats(size_t n) {
    const size_t q = LLM__ALIGN / sizeof(float);
    return (n + q - 1) / q * q;
}

llm__tensor *llm__model_find(const llm_model *m, const char *name) {
    size_t i;
    for (i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0)
            return &m->tensors[i];
    return NULL;
}

/* ------------------------------------------------------------------------
 * Handle lifetime
 * ------------------------------------------------------------------------ */

static llm_model *model_new(const llm_model_opts *opts_in, llm_model_opts *opts) {
    llm_model *m;
    llm__obj tmp;
    memset(&tmp, 0, sizeof tmp);
    llm__mem_init(&tmp.mem, NULL, NULL);
    if (llm__opts_read(&tmp, opts, sizeof *opts, opts_in, "llm_model_opts") != LLM_OK)
        return NULL;
    m = llm__obj_new(sizeof *m, LLM__MAGIC_MODEL, opts->alloc, opts->alloc_ud);
    if (!m)
        llm__err(NULL, LLM_ERR_NOMEM, "model: out of memory for the handle");
    return m;
}

void llm_model_free(llm_model *m) {
    if (!llm__obj_is(m, LLM__MAGIC_MODEL))
        return;
    llm_tokenizer_free(m->tok);
    if (m->map)
        munmap(m->map, m->map_size);
    llm__mem_free(&m->obj.mem, m->file_buf, m->file_buf_size);
    llm__mem_free_aligned(&m->obj.mem, m->arena);
    llm__mem_free(&m->obj.mem, m->tensors, m->n_tensors * sizeof *m->tensors);
    llm__mem_free(&m->obj.mem, m->layers, m->cfg.n_layer * sizeof *m->layers);
    llm__obj_delete(m, sizeof *m);
}

/* Fails a constructor: keeps the message in the thread-local buffer (the
 * handle that held it is about to go away). */
static int fail(llm_model *m, llm_model **out, int rc) {
    char msg[LLM__ERRMSG_MAX];
    snprintf(msg, sizeof msg, "%s", m->obj.errmsg);
    llm_model_free(m);
    *out = NULL;
    return llm__err(NULL, rc, "%s", msg);
}

/* ------------------------------------------------------------------------
 * Create with random initialisation
 * ------------------------------------------------------------------------ */

/* splitmix64: a small, well-mixed deterministic generator; the same seed
 * gives the same model on every platform. */
static uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rng_uniform(uint64_t *s) { /* (0, 1) */
    return ((double)(rng_next(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* Box-Muller, one value per call (simplicity over speed: init is rare). */
static float rng_normal(uint64_t *s, double std) {
    double u1 = rng_uniform(s), u2 = rng_uniform(s);
    return (float)(std * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* The caps of llm_model_opts (limits.h) on a validated config; `where`
 * names the file or "model". Checked before anything is sized by the
 * config, so a capped-out file allocates nothing big. */
static int config_caps(llm_model *m, const llm__limits *lim, const char *where) {
    const llm_model_config *c = &m->cfg;
    const struct {
        const char *name;
        uint32_t v;
    } dims[] = {{"n_ctx", c->n_ctx}, {"n_embd", c->n_embd}, {"n_ff", c->n_ff},
                {"n_head", c->n_head}, {"n_layer", c->n_layer}};
    size_t i;
    for (i = 0; i < sizeof dims / sizeof dims[0]; i++)
        if (dims[i].v > lim->max_dim)
            return llm__err(&m->obj, LLM_ERR_RANGE,
                            "%s: %s = %u exceeds the cap max_dim = %llu (llm_model_opts)", where,
                            dims[i].name, (unsigned)dims[i].v,
                            (unsigned long long)lim->max_dim);
    if (c->n_vocab > lim->max_vocab)
        return llm__err(&m->obj, LLM_ERR_RANGE,
                        "%s: n_vocab = %u exceeds the cap max_vocab = %llu (llm_model_opts)",
                        where, (unsigned)c->n_vocab, (unsigned long long)lim->max_vocab);
    return LLM_OK;
}

/* The tensor count of the layout against max_tensors. */
static int tensor_caps(llm_model *m, const llm__limits *lim, const char *where) {
    if (m->n_tensors > lim->max_tensors)
        return llm__err(&m->obj, LLM_ERR_RANGE,
                        "%s: the config needs %zu tensors, above the cap max_tensors = %llu "
                        "(llm_model_opts)",
                        where, m->n_tensors, (unsigned long long)lim->max_tensors);
    return LLM_OK;
}

int llm__model_alloc(llm_model **out, const llm_model_config *config,
                     const llm_model_opts *opts_in) {
    llm_model_opts opts;
    llm_model *m;
    size_t i, total = 0, off = 0;
    int rc;
    *out = NULL;
    m = model_new(opts_in, &opts);
    if (!m)
        return llm__err(NULL, LLM_ERR_NOMEM, "%s", llm_last_errmsg());
    if ((rc = llm__config_read(&m->obj, &m->cfg, config)) != LLM_OK)
        return fail(m, out, rc);
    {
        /* Refuse absurd sizes before walking n_layer layers: an upper bound
         * of the parameter count, in double so it cannot overflow. */
        const llm_model_config *c = &m->cfg;
        double C = c->n_embd, est = (double)c->n_layer * (4.0 * C * C + 3.0 * C * c->n_ff + 8.0 * C) +
                                    2.0 * (double)c->n_vocab * C + (double)c->n_ctx * C;
        if (est * sizeof(float) > (double)(SIZE_MAX / 4) || est > 1e12)
            return fail(m, out, llm__err(&m->obj, LLM_ERR_NOMEM,
                                         "model: this config needs about %.3g parameters", est));
    }
    {
        llm__limits lim;
        llm__limits_model(&lim, &opts);
        if ((rc = config_caps(m, &lim, "model")) != LLM_OK)
            return fail(m, out, rc);
    }
    if ((rc = layout_build(m)) != LLM_OK)
        return fail(m, out, rc);
    {
        llm__limits lim;
        llm__limits_model(&lim, &opts);
        if ((rc = tensor_caps(m, &lim, "model")) != LLM_OK)
            return fail(m, out, rc);
    }
    for (i = 0; i < m->n_tensors; i++) {
        if (m->tensors[i].n > (SIZE_MAX / 8 - total))
            return fail(m, out, llm__err(&m->obj, LLM_ERR_NOMEM, "model: too large"));
        total += padded_floats(m->tensors[i].n);
    }
    m->arena = llm__mem_alloc_aligned(&m->obj.mem, llm__mem_mul(total, sizeof(float)));
    if (!m->arena)
        return fail(m, out, llm__err(&m->obj, LLM_ERR_NOMEM,
                                     "model: cannot allocate %zu bytes of weights",
                                     total * sizeof(float)));
    m->arena_floats = total;
    for (i = 0; i < m->n_tensors; i++) {
        m->tensors[i].data = m->arena + off;
        off += padded_floats(m->tensors[i].n);
    }
    bind_views(m);
    *out = m;
    return LLM_OK;
}

int llm_model_create(llm_model **out, const llm_model_config *config, uint64_t seed,
                     const llm_model_opts *opts_in) {
    llm_model *m;
    size_t i;
    uint64_t rng = seed;
    double resid_std;
    int rc;
    if (!out)
        return llm__err(NULL, LLM_ERR_INVALID, "llm_model_create: out is NULL");
    *out = NULL;
    if (!config)
        return llm__err(NULL, LLM_ERR_INVALID, "llm_model_create: config is NULL");
    if ((rc = llm__model_alloc(&m, config, opts_in)) != LLM_OK)
        return rc;
    /* GPT-2 init (nanoGPT/llm.c): N(0, 0.02) for matrices and embeddings,
     * residual output projections scaled by 1/sqrt(2L), zero biases, unit
     * norm gains. */
    resid_std = 0.02 / sqrt(2.0 * m->cfg.n_layer);
    for (i = 0; i < m->n_tensors; i++) {
        llm__tensor *t = &m->tensors[i];
        size_t j;
        if (ends_with(t->name, ".bias")) {
            /* arena is zeroed */
        } else if (t->n_dims == 1) {
            for (j = 0; j < t->n; j++)
                t->data[j] = 1.0f;
        } else {
            double std = (ends_with(t->name, "attn_output.weight") ||
                          ends_with(t->name, "ffn_down.weight")) ? resid_std : 0.02;
            for (j = 0; j < t->n; j++)
                t->data[j] = rng_normal(&rng, std);
        }
    }
    *out = m;
    return LLM_OK;
}

/* ------------------------------------------------------------------------
 * Load
 * ------------------------------------------------------------------------ */

static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    uint32_t bits;
    float f;
    if (exp == 0) {
        /* zero or subnormal: man * 2^-24 */
        f = (float)man * 5.9604644775390625e-8f;
        return sign ? -f : f;
    }
    if (exp == 31)
        bits = sign | 0x7f800000u | (man << 13);
    else
        bits = sign | ((exp + 112u) << 23) | (man << 13);
    memcpy(&f, &bits, 4);
    return f;
}

static float bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* Reads a required or optional u32 hyper-parameter "<arch>.<name>". */
static int hp_u32(llm_model *m, const llm__gguf *g, const char *path, const char *arch,
                  const char *name, uint32_t *out, int required) {
    char key[128];
    int rc;
    snprintf(key, sizeof key, "%s.%s", arch, name);
    rc = llm__gguf_get_u32(g, key, out, path, &m->obj);
    if (rc == LLM_ERR_NOT_FOUND && required)
        return llm__err(&m->obj, LLM_ERR_BAD_FILE, "%s: required key '%s' is missing", path, key);
    /* llama.cpp also allows per-layer arrays for some keys; we take scalars
     * (an array is refused by the typed getter as a type mismatch). */
    return rc == LLM_ERR_NOT_FOUND ? LLM_OK : rc;
}

static int hp_f32(llm_model *m, const llm__gguf *g, const char *path, const char *arch,
                  const char *name, float *out, int required) {
    char key[128];
    int rc;
    snprintf(key, sizeof key, "%s.%s", arch, name);
    rc = llm__gguf_get_f32(g, key, out, path, &m->obj);
    if (rc == LLM_ERR_NOT_FOUND && required)
        return llm__err(&m->obj, LLM_ERR_BAD_FILE, "%s: required key '%s' is missing", path, key);
    return rc == LLM_ERR_NOT_FOUND ? LLM_OK : rc;
}

static int config_from_gguf(llm_model *m, const llm__gguf *g, const char *path) {
    llm_model_config c;
    const char *arch;
    size_t arch_len;
    const llm__gguf_tensor *te;
    char an[8];
    uint32_t u = 0;
    int rc;
    llm_model_config_init(&c, sizeof c);
    c.n_ff = 0;
    c.n_head_kv = 0;
    rc = llm__gguf_get_str(g, "general.architecture", &arch, &arch_len, path, &m->obj);
    if (rc == LLM_ERR_NOT_FOUND)
        return llm__err(&m->obj, LLM_ERR_BAD_FILE, "%s: key 'general.architecture' is missing",
                        path);
    if (rc)
        return rc;
    if (arch_len == 4 && memcmp(arch, "gpt2", 4) == 0)
        c.arch = LLM_ARCH_GPT2;
    else if (arch_len == 5 && memcmp(arch, "llama", 5) == 0)
        c.arch = LLM_ARCH_LLAMA;
    else
        return llm__err(&m->obj, LLM_ERR_UNSUPPORTED,
                        "%s: architecture '%.*s' is not supported (gpt2, llama)", path,
                        (int)(arch_len > 64 ? 64 : arch_len), arch);
    snprintf(an, sizeof an, "%s", arch_name(c.arch));
    if ((rc = hp_u32(m, g, path, an, "context_length", &c.n_ctx, 1)) ||
        (rc = hp_u32(m, g, path, an, "embedding_length", &c.n_embd, 1)) ||
        (rc = hp_u32(m, g, path, an, "block_count", &c.n_layer, 1)) ||
        (rc = hp_u32(m, g, path, an, "feed_forward_length", &c.n_ff, 1)) ||
        (rc = hp_u32(m, g, path, an, "attention.head_count", &c.n_head, 1)) ||
        (rc = hp_u32(m, g, path, an, "attention.head_count_kv", &c.n_head_kv, 0)))
        return rc;
    if (c.arch == LLM_ARCH_GPT2)
        rc = hp_f32(m, g, path, an, "attention.layer_norm_epsilon", &c.norm_eps, 1);
    else
        rc = hp_f32(m, g, path, an, "attention.layer_norm_rms_epsilon", &c.norm_eps, 1);
    if (rc)
        return rc;
    if ((rc = hp_f32(m, g, path, an, "rope.freq_base", &c.rope_base, 0)) != 0)
        return rc;
    if (c.n_head == 0 || c.n_embd % c.n_head != 0)
        return llm__err(&m->obj, LLM_ERR_BAD_FILE,
                        "%s: embedding_length %u is not a multiple of head_count %u", path,
                        (unsigned)c.n_embd, (unsigned)c.n_head);
    u = 0;
    if ((rc = hp_u32(m, g, path, an, "attention.key_length", &u, 0)) != 0)
        return rc;
    if (u && u != c.n_embd / c.n_head)
        return llm__err(&m->obj, LLM_ERR_UNSUPPORTED,
                        "%s: attention.key_length %u differs from n_embd/n_head", path, (unsigned)u);
    u = 0;
    if ((rc = hp_u32(m, g, path, an, "attention.value_length", &u, 0)) != 0)
        return rc;
    if (u && u != c.n_embd / c.n_head)
        return llm__err(&m->obj, LLM_ERR_UNSUPPORTED,
                        "%s: attention.value_length %u differs from n_embd/n_head", path, (unsigned)u);
    u = 0;
    if ((rc = hp_u32(m, g, path, an, "rope.dimension_count", &u, 0)) != 0)
        return rc;
    if (c.arch == LLM_ARCH_LLAMA && u && u != c.n_embd / c.n_head)
        return llm__err(&m->obj, LLM_ERR_UNSUPPORTED,
                        "%s: rope.dimension_count %u differs from the head size %u", path,
                        (unsigned)u, (unsigned)(c.n_embd / c.n_head));
    if (llm__gguf_find_kv(g, "llama.rope.scaling.type") ||
        llm__gguf_find_tensor(g, "rope_freqs.weight"))
        return llm__err(&m->obj, LLM_ERR_UNSUPPORTED, "%s: RoPE scaling is not supported", path);
    /* Vocabulary size: the token embedding's outer dimension. */
    te = llm__gguf_find_tensor(g, "token_embd.weight");
    if (!te || te->n_dims != 2)
        return llm__err(&m->obj, LLM_ERR_BAD_FILE,
                        "%s: tensor 'token_embd.weight' is missing or not 2-D", path);
    if (te->ne[1] == 0 || te->ne[1] > (uint64_t)INT32_MAX)
        return llm__err(&m->obj, LLM_ERR_BAD_FILE, "%s: token_embd.weight: bad vocabulary size",
                        path);
    c.n_vocab = (uint32_t)te->ne[1];
    /* Bound the sizes that drive allocations by what the file holds: every
     * block has several tensors, and the embedding fixes the width. */
    if (c.n_layer > g->n_tensors)
        return llm__err(&m->obj, LLM_ERR_BAD_FILE,
                        "%s: block_count %u but the file has only %zu tensors", path,
                        (unsigned)c.n_layer, g->n_tensors);
    if (te->ne[0] != c.n_embd)
        return llm__err(&m->obj, LLM_ERR_BAD_FILE,
                        "%s: token_embd.weight rows have %llu values, embedding_length is %u",
                        path, (unsigned long long)te->ne[0], (unsigned)c.n_embd);
    u = 0;
    if ((rc = hp_u32(m, g, path, an, "vocab_size", &u, 0)) != 0)
        return rc;
    if (u && u != c.n_vocab)
        return llm__err(&m->obj, LLM_ERR_BAD_FILE,
                        "%s: %s.vocab_size %u disagrees with token_embd.weight (%u rows)", path,
                        an, (unsigned)u, (unsigned)c.n_vocab);
    if (llm__gguf_find_tensor(g, "output.weight"))
        c.flags |= LLM_CFG_UNTIED_OUTPUT;
    if (c.arch == LLM_ARCH_LLAMA && llm__gguf_find_tensor(g, "blk.0.attn_q.bias"))
        c.flags |= LLM_CFG_QKV_BIAS;
    if ((rc = llm__config_read(&m->obj, &m->cfg, &c)) != LLM_OK) {
        char msg[LLM__ERRMSG_MAX];
        snprintf(msg, sizeof msg, "%s", m->obj.errmsg);
        return llm__err(&m->obj, rc == LLM_ERR_UNSUPPORTED ? rc : LLM_ERR_BAD_FILE, "%s: %s",
                        path, msg);
    }
    return LLM_OK;
}

/* Builds the embedded tokenizer from tokenizer.ggml.* keys, if any and if
 * the tokenizer part is linked in. */
static int tokenizer_from_gguf(llm_model *m, const llm__gguf *g, const char *path,
                               const llm_model_opts *opts);

/* Floats of arena that tensor t takes (Q8_0 blocks rounded up to floats). */
static size_t tensor_floats(const llm__tensor *t) {
    return padded_floats((t->nbytes + sizeof(float) - 1) / sizeof(float));
}

/* 1 when the file's bytes of gt can be used in place: F32 on a 4-byte
 * boundary, or Q8_0 (blocks need only 2-byte alignment) on a 2-byte one. */
static int in_place(const llm__gguf_tensor *gt, int zero_copy) {
    return zero_copy && ((gt->type == LLM__GGML_F32 && gt->file_offset % 4 == 0) ||
                         (gt->type == LLM__GGML_Q8_0 && gt->file_offset % 2 == 0));
}

/* Binds every expected tensor: F32 and Q8_0 (aligned, in a mapping) by
 * pointer, F32 / Q8_0 otherwise copied and F16 / BF16 converted into the
 * arena. Q8_0 is accepted for the matrices only (type_slot set); its byte
 * size was checked by the GGUF parser (rows a multiple of 32 values,
 * rows * cols / 32 * 34 bytes inside the file). */
static int bind_gguf_tensors(llm_model *m, const llm__gguf *g, const char *path,
                             int zero_copy, const llm_model_opts *opts) {
    size_t i, need = 0, off = 0;
    int rc;
    for (i = 0; i < g->n_tensors; i++)
        if (!llm__model_find(m, g->tensors[i].name))
            return llm__err(&m->obj, LLM_ERR_BAD_FILE,
                            "%s: unexpected tensor '%s' for a %s model with this config", path,
                            g->tensors[i].name, arch_name(m->cfg.arch));
    for (i = 0; i < m->n_tensors; i++) {
        llm__tensor *t = &m->tensors[i];
        const llm__gguf_tensor *gt = llm__gguf_find_tensor(g, t->name);
        uint64_t ne0 = t->n_dims == 2 ? t->dims[1] : t->dims[0];
        uint64_t ne1 = t->n_dims == 2 ? t->dims[0] : 1;
        if (!gt)
            return llm__err(&m->obj, LLM_ERR_BAD_FILE, "%s: tensor '%s' is missing", path,
                            t->name);
        if (gt->n_dims != t->n_dims || gt->ne[0] != ne0 || gt->ne[1] != ne1)
            return llm__err(&m->obj, LLM_ERR_BAD_FILE,
                            "%s: tensor '%s' has shape {%llu, %llu} (GGUF order), the config "
                            "needs {%llu, %llu}",
                            path, t->name, (unsigned long long)gt->ne[0],
                            (unsigned long long)gt->ne[1], (unsigned long long)ne0,
                            (unsigned long long)ne1);
        if (gt->type == LLM__GGML_Q8_0 && !t->type_slot)
            return llm__err(&m->obj, LLM_ERR_UNSUPPORTED,
                            "%s: tensor '%s' is Q8_0; only the weight matrices may be "
                            "quantized (norms, biases and position embeddings are F32)",
                            path, t->name);
        if (gt->type != LLM__GGML_F32 && gt->type != LLM__GGML_F16 &&
            gt->type != LLM__GGML_BF16 && gt->type != LLM__GGML_Q8_0)
            return llm__err(&m->obj, LLM_ERR_UNSUPPORTED,
                            "%s: tensor '%s' has type %s; only F32, F16, BF16 and Q8_0 are "
                            "supported",
                            path, t->name, llm__gguf_type_name(gt->type));
        if (gt->type == LLM__GGML_Q8_0) {
            /* The parser derived nbytes from the shape; check it anyway, as
             * the kernels read exactly this many bytes. */
            if (ne0 % LLM__Q8_BLOCK != 0 || gt->nbytes != (size_t)ne1 * llm__q8_row_bytes(ne0))
                return llm__err(&m->obj, LLM_ERR_BAD_FILE,
                                "%s: tensor '%s': Q8_0 data of %zu bytes does not match "
                                "{%llu, %llu}", path, t->name, gt->nbytes,
                                (unsigned long long)ne0, (unsigned long long)ne1);
            t->type = LLM__GGML_Q8_0;
            t->nbytes = gt->nbytes;
        }
        if (!in_place(gt, zero_copy))
            need += tensor_floats(t);
    }
    if (need) {
        m->arena = llm__mem_alloc_aligned(&m->obj.mem, llm__mem_mul(need, sizeof(float)));
        if (!m->arena)
            return llm__err(&m->obj, LLM_ERR_NOMEM, "%s: cannot allocate %zu bytes of weights",
                            path, need * sizeof(float));
        m->arena_floats = need;
    }
    for (i = 0; i < m->n_tensors; i++) {
        llm__tensor *t = &m->tensors[i];
        const llm__gguf_tensor *gt = llm__gguf_find_tensor(g, t->name);
        size_t j;
        if (in_place(gt, zero_copy)) {
            /* The mapping is read-only; the model never writes weights
             * (llm__model_make_writable copies them first). */
            t->data = (float *)(uintptr_t)gt->data;
        } else {
            t->data = m->arena + off;
            off += tensor_floats(t);
            if (gt->type == LLM__GGML_F32 || gt->type == LLM__GGML_Q8_0) {
                memcpy(t->data, gt->data, t->nbytes);
            } else {
                for (j = 0; j < t->n; j++) {
                    uint16_t h = (uint16_t)(gt->data[2 * j] | (gt->data[2 * j + 1] << 8));
                    t->data[j] = gt->type == LLM__GGML_F16 ? f16_to_f32(h) : bf16_to_f32(h);
                }
            }
        }
        if ((i & 15) == 15 &&
            (rc = llm__progress(&m->obj, opts->progress, opts->progress_ud, LLM_PHASE_LOAD,
                                i + 1, m->n_tensors)) != LLM_OK)
            return rc;
    }
    bind_views(m);
    return LLM_OK;
}

static int load_from_buffer(llm_model *m, const void *buf, size_t size, const char *path,
                            int zero_copy, const llm_model_opts *opts) {
    llm__gguf g;
    llm__limits lim;
    int rc;
    uint32_t ft = 0;
    llm__limits_model(&lim, opts);
    rc = llm__gguf_parse_ex(&g, buf, size, path, &m->obj.mem, &m->obj, &lim);
    if (rc)
        return rc;
    rc = config_from_gguf(m, &g, path);
    if (rc == LLM_OK)
        rc = config_caps(m, &lim, path);
    if (rc == LLM_OK)
        rc = layout_build(m);
    if (rc == LLM_OK)
        rc = bind_gguf_tensors(m, &g, path, zero_copy, opts);
    if (rc == LLM_OK)
        rc = tokenizer_from_gguf(m, &g, path, opts);
    if (rc == LLM_OK) {
        if (llm__gguf_get_u32(&g, "general.file_type", &ft, path, NULL) == LLM_OK) {
            m->file_type = ft;
        } else {
            /* No key: name the type of the largest tensor (1 F16, 32 BF16). */
            const llm__gguf_tensor *te = llm__gguf_find_tensor(&g, "token_embd.weight");
            m->file_type = te->type == LLM__GGML_F16    ? 1
                           : te->type == LLM__GGML_BF16 ? 32
                           : te->type == LLM__GGML_Q8_0 ? 7
                                                        : 0;
        }
    }
    llm__gguf_release(&g);
    return rc;
}

int llm_model_load(llm_model **out, const char *path, const llm_model_opts *opts_in) {
    llm_model_opts opts;
    llm_model *m;
    struct stat st;
    int fd, rc, saved;
    if (!out)
        return llm__err(NULL, LLM_ERR_INVALID, "llm_model_load: out is NULL");
    *out = NULL;
    if (!path)
        return llm__err(NULL, LLM_ERR_INVALID, "llm_model_load: path is NULL");
    m = model_new(opts_in, &opts);
    if (!m)
        return llm__err(NULL, LLM_ERR_NOMEM, "%s", llm_last_errmsg());
    if (opts.flags & ~LLM_MODEL_NO_MMAP)
        return fail(m, out, llm__err(&m->obj, LLM_ERR_UNSUPPORTED,
                                     "llm_model_load: unknown flags 0x%x",
                                     (unsigned)(opts.flags & ~LLM_MODEL_NO_MMAP)));
    fd = open(path, O_RDONLY);
    if (fd < 0) {
        saved = errno;
        return fail(m, out, llm__err(&m->obj, saved == ENOENT ? LLM_ERR_NOT_FOUND : LLM_ERR_IO,
                                     "%s: cannot open: %s", path, strerror(saved)));
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return fail(m, out, llm__err(&m->obj, LLM_ERR_IO, "%s: not a regular file", path));
    }
    if (st.st_size == 0) {
        close(fd);
        return fail(m, out, llm__err(&m->obj, LLM_ERR_BAD_FILE, "%s: empty file", path));
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return fail(m, out, llm__err(&m->obj, LLM_ERR_UNSUPPORTED, "%s: file too large", path));
    }
    if (!(opts.flags & LLM_MODEL_NO_MMAP)) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            saved = errno;
            close(fd);
            return fail(m, out, llm__err(&m->obj, LLM_ERR_IO, "%s: mmap failed: %s", path,
                                         strerror(saved)));
        }
        m->map = p;
        m->map_size = (size_t)st.st_size;
        close(fd);
        rc = load_from_buffer(m, m->map, m->map_size, path, 1, &opts);
    } else {
        size_t done = 0, n = (size_t)st.st_size;
        m->file_buf = llm__mem_alloc(&m->obj.mem, n);
        if (!m->file_buf) {
            close(fd);
            return fail(m, out, llm__err(&m->obj, LLM_ERR_NOMEM,
                                         "%s: cannot allocate %zu bytes", path, n));
        }
        m->file_buf_size = n;
        llm__mem_hint_huge(&m->obj.mem, m->file_buf, n);
        while (done < n) {
            ssize_t k = read(fd, (char *)m->file_buf + done, n - done);
            if (k <= 0) {
                saved = k < 0 ? errno : EIO;
                if (k < 0 && saved == EINTR)
                    continue;
                close(fd);
                return fail(m, out, llm__err(&m->obj, LLM_ERR_IO, "%s: read failed: %s", path,
                                             strerror(saved)));
            }
            done += (size_t)k;
        }
        close(fd);
        rc = load_from_buffer(m, m->file_buf, n, path, 1, &opts);
    }
    if (rc)
        return fail(m, out, rc);
    *out = m;
    return LLM_OK;
}

int llm_model_load_mem(llm_model **out, const void *buf, size_t size,
                       const llm_model_opts *opts_in) {
    llm_model_opts opts;
    llm_model *m;
    int rc;
    if (!out)
        return llm__err(NULL, LLM_ERR_INVALID, "llm_model_load_mem: out is NULL");
    *out = NULL;
    if (!buf)
        return llm__err(NULL, LLM_ERR_INVALID, "llm_model_load_mem: buf is NULL");
    m = model_new(opts_in, &opts);
    if (!m)
        return llm__err(NULL, LLM_ERR_NOMEM, "%s", llm_last_errmsg());
    /* The caller's buffer is not ours to keep: copy every tensor. */
    rc = load_from_buffer(m, buf, size, "<memory>", 0, &opts);
    if (rc)
        return fail(m, out, rc);
    *out = m;
    return LLM_OK;
}

int llm__model_make_writable(llm_model *m) {
    size_t i, need = 0, off = 0;
    float *arena;
    if (!m->map && !m->file_buf)
        return LLM_OK;
    for (i = 0; i < m->n_tensors; i++)
        need += tensor_floats(&m->tensors[i]);
    arena = llm__mem_alloc_aligned(&m->obj.mem, llm__mem_mul(need, sizeof(float)));
    if (!arena)
        return llm__err(&m->obj, LLM_ERR_NOMEM, "model: cannot allocate %zu bytes of weights",
                        need * sizeof(float));
    for (i = 0; i < m->n_tensors; i++) {
        memcpy(arena + off, m->tensors[i].data, m->tensors[i].nbytes);
        m->tensors[i].data = arena + off;
        off += tensor_floats(&m->tensors[i]);
    }
    bind_views(m);
    llm__mem_free_aligned(&m->obj.mem, m->arena);
    m->arena = arena;
    m->arena_floats = need;
    if (m->map)
        munmap(m->map, m->map_size);
    llm__mem_free(&m->obj.mem, m->file_buf, m->file_buf_size);
    m->map = m->file_buf = NULL;
    m->map_size = m->file_buf_size = 0;
    return LLM_OK;
}

/* ------------------------------------------------------------------------
 * Embedded tokenizer (tokenizer.ggml.*, formats.md 2.2)
 * ------------------------------------------------------------------------ */

static int tokenizer_from_gguf(llm_model *m, const llm__gguf *g, const char *path,
                               const llm_model_opts *opts) {
    const llm__gguf_kv *kt = llm__gguf_find_kv(g, "tokenizer.ggml.tokens");
    const llm__gguf_kv *km = llm__gguf_find_kv(g, "tokenizer.ggml.merges");
    const llm__gguf_kv *ks = llm__gguf_find_kv(g, "tokenizer.ggml.scores");
    const llm__gguf_kv *ky = llm__gguf_find_kv(g, "tokenizer.ggml.token_type");
    llm__tok_spec spec;
    const char *model_s = NULL, *pre_s = NULL;
    size_t model_len = 0, pre_len = 0, i, pos;
    char model_buf[32], pre_buf[64];
    char **strs = NULL;
    size_t *lens = NULL;
    float *scores = NULL;
    int32_t *types = NULL;
    size_t n_strs = 0;
    uint32_t u;
    int rc = LLM_OK, b;
    if (!kt)
        return LLM_OK; /* no tokenizer in the file */
    if (kt->type != LLM__GGUF_ARRAY || kt->arr_type != LLM__GGUF_STRING)
        return llm__err(&m->obj, LLM_ERR_BAD_FILE,
                        "%s: offset %zu: tokenizer.ggml.tokens is not an array of strings",
                        path, kt->value_offset);
    if (km && (km->type != LLM__GGUF_ARRAY || km->arr_type != LLM__GGUF_STRING))
        return llm__err(&m->obj, LLM_ERR_BAD_FILE,
                        "%s: offset %zu: tokenizer.ggml.merges is not an array of strings",
                        path, km->value_offset);
    {
        /* the vocabulary cap before any array is sized by the count */
        llm__limits lim;
        llm__limits_model(&lim, opts);
        if (kt->n > lim.max_vocab)
            return llm__err(&m->obj, LLM_ERR_RANGE,
                            "%s: offset %zu: tokenizer of %llu tokens exceeds the cap "
                            "max_vocab = %llu (llm_model_opts)",
                            path, kt->value_offset, (unsigned long long)kt->n,
                            (unsigned long long)lim.max_vocab);
    }
    if (ks && (ks->type != LLM__GGUF_ARRAY || ks->arr_type != LLM__GGUF_F32 || ks->n < kt->n))
        return llm__err(&m->obj, LLM_ERR_BAD_FILE,
                        "%s: offset %zu: tokenizer.ggml.scores must be FLOAT32[%llu]", path,
                        ks->value_offset, (unsigned long long)kt->n);
    if (ky && (ky->type != LLM__GGUF_ARRAY || ky->arr_type != LLM__GGUF_I32 || ky->n < kt->n))
        return llm__err(&m->obj, LLM_ERR_BAD_FILE,
                        "%s: offset %zu: tokenizer.ggml.token_type must be INT32[%llu]", path,
                        ky->value_offset, (unsigned long long)kt->n);
    memset(&spec, 0, sizeof spec);
    rc = llm__gguf_get_str(g, "tokenizer.ggml.model", &model_s, &model_len, path, &m->obj);
    if (rc == LLM_ERR_NOT_FOUND)
        return llm__err(&m->obj, LLM_ERR_BAD_FILE, "%s: tokenizer.ggml.model is missing", path);
    if (rc)
        return rc;
    snprintf(model_buf, sizeof model_buf, "%.*s", (int)(model_len < 31 ? model_len : 31), model_s);
    spec.model = model_buf;
    rc = llm__gguf_get_str(g, "tokenizer.ggml.pre", &pre_s, &pre_len, path, &m->obj);
    if (rc == LLM_OK) {
        snprintf(pre_buf, sizeof pre_buf, "%.*s", (int)(pre_len < 63 ? pre_len : 63), pre_s);
        spec.pre = pre_buf;
    } else if (rc != LLM_ERR_NOT_FOUND) {
        return rc;
    }
    n_strs = (size_t)kt->n + (km ? (size_t)km->n : 0);
    /* GGUF strings are not NUL-terminated: the spec takes pointer + length,
     * so pointers into the file suffice. */
    strs = llm__mem_calloc(&m->obj.mem, n_strs ? n_strs : 1, sizeof *strs);
    lens = llm__mem_calloc(&m->obj.mem, n_strs ? n_strs : 1, sizeof *lens);
    if (ks)
        scores = llm__mem_calloc(&m->obj.mem, (size_t)kt->n ? (size_t)kt->n : 1, sizeof *scores);
    if (ky)
        types = llm__mem_calloc(&m->obj.mem, (size_t)kt->n ? (size_t)kt->n : 1, sizeof *types);
    if (!strs || !lens || (ks && !scores) || (ky && !types)) {
        rc = llm__err(&m->obj, LLM_ERR_NOMEM, "%s: out of memory for the tokenizer", path);
        goto done;
    }
    for (i = 0, pos = 0; i < kt->n; i++) {
        const char *s;
        llm__gguf_arr_str_next(kt, &pos, &s, &lens[i]);
        strs[i] = (char *)(uintptr_t)s;
    }
    if (km)
        for (i = 0, pos = 0; i < km->n; i++) {
            const char *s;
            llm__gguf_arr_str_next(km, &pos, &s, &lens[kt->n + i]);
            strs[kt->n + i] = (char *)(uintptr_t)s;
        }
    for (i = 0; ks && i < kt->n; i++) {
        uint32_t bits = (uint32_t)ks->value[4 * i] | ((uint32_t)ks->value[4 * i + 1] << 8) |
                        ((uint32_t)ks->value[4 * i + 2] << 16) |
                        ((uint32_t)ks->value[4 * i + 3] << 24);
        memcpy(&scores[i], &bits, 4);
    }
    for (i = 0; ky && i < kt->n; i++) {
        uint32_t bits = (uint32_t)ky->value[4 * i] | ((uint32_t)ky->value[4 * i + 1] << 8) |
                        ((uint32_t)ky->value[4 * i + 2] << 16) |
                        ((uint32_t)ky->value[4 * i + 3] << 24);
        types[i] = (int32_t)bits;
    }
    spec.n_tokens = (size_t)kt->n;
    spec.tokens = (const char *const *)strs;
    spec.token_lens = lens;
    spec.scores = scores;
    spec.token_types = types;
    spec.n_merges = km ? (size_t)km->n : 0;
    spec.merges = km ? (const char *const *)(strs + kt->n) : NULL;
    spec.merge_lens = km ? lens + kt->n : NULL;
    spec.bos_id = spec.eos_id = spec.unk_id = spec.pad_id = -1;
#define SPECIAL(key, field)                                                    \
    do {                                                                       \
        int r_ = llm__gguf_get_u32(g, key, &u, path, &m->obj);                 \
        if (r_ == LLM_OK && u < kt->n)                                         \
            spec.field = (int32_t)u;                                           \
        else if (r_ != LLM_OK && r_ != LLM_ERR_NOT_FOUND) {                    \
            rc = r_;                                                           \
            goto done;                                                         \
        }                                                                      \
    } while (0)
    SPECIAL("tokenizer.ggml.bos_token_id", bos_id);
    SPECIAL("tokenizer.ggml.eos_token_id", eos_id);
    SPECIAL("tokenizer.ggml.unknown_token_id", unk_id);
    SPECIAL("tokenizer.ggml.padding_token_id", pad_id);
#undef SPECIAL
    b = 0;
    rc = llm__gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b, path, &m->obj);
    if (rc == LLM_ERR_NOT_FOUND) {
        /* llama.cpp's default: SentencePiece models add BOS, BPE ones not. */
        b = strcmp(spec.model, "llama") == 0;
        rc = LLM_OK;
    }
    if (rc)
        goto done;
    spec.add_bos = b;
    {
        llm__limits lim;
        llm__limits_model(&lim, opts);
        rc = llm__tok_from_spec(&m->tok, &spec, path, opts->alloc, opts->alloc_ud, &lim);
    }
    if (rc) {
        char msg[LLM__ERRMSG_MAX];
        snprintf(msg, sizeof msg, "%s", llm_last_errmsg());
        rc = llm__err(&m->obj, rc, "%s", msg);
    }
done:
    llm__mem_free(&m->obj.mem, strs, (n_strs ? n_strs : 1) * sizeof *strs);
    llm__mem_free(&m->obj.mem, lens, (n_strs ? n_strs : 1) * sizeof *lens);
    if (scores)
        llm__mem_free(&m->obj.mem, scores, ((size_t)kt->n ? (size_t)kt->n : 1) * sizeof *scores);
    if (types)
        llm__mem_free(&m->obj.mem, types, ((size_t)kt->n ? (size_t)kt->n : 1) * sizeof *types);
    return rc;
}

/* ------------------------------------------------------------------------
 * Save
 * ------------------------------------------------------------------------ */

#define MAX_SAVE_KV 40

static void kv_u32(llm__gguf_wkv *kv, size_t *n, const char *key, uint32_t v) {
    memset(&kv[*n], 0, sizeof kv[*n]);
    kv[*n].key = key;
    kv[*n].type = LLM__GGUF_U32;
    kv[*n].u = v;
    (*n)++;
}

static void kv_f32(llm__gguf_wkv *kv, size_t *n, const char *key, float v) {
    memset(&kv[*n], 0, sizeof kv[*n]);
    kv[*n].key = key;
    kv[*n].type = LLM__GGUF_F32;
    kv[*n].f = v;
    (*n)++;
}

static void kv_str(llm__gguf_wkv *kv, size_t *n, const char *key, const char *s, size_t len) {
    memset(&kv[*n], 0, sizeof kv[*n]);
    kv[*n].key = key;
    kv[*n].type = LLM__GGUF_STRING;
    kv[*n].str = s;
    kv[*n].str_len = len;
    (*n)++;
}

/* 1 when tensor t is quantized by `libllm quantize`: as llama.cpp, every
 * 2-D weight matrix (token embedding and output included) whose rows are
 * whole blocks; the position embedding, norms and biases stay F32. */
static int quantizable(const llm__tensor *t) {
    return t->type_slot != NULL && t->type == LLM__GGML_F32 && t->n_dims == 2 &&
           t->dims[1] % LLM__Q8_BLOCK == 0;
}

/* Writes m as GGUF; with qtype Q8_0 the quantizable F32 matrices are
 * quantized on the way (tensors already Q8_0 are written as they are).
 * `fn` names the public function in messages. */
static int save_gguf(llm_model *m, const char *path, uint32_t qtype, const char *fn,
                     llm_progress_fn progress, void *progress_ud) {
    llm__gguf_wkv kv[MAX_SAVE_KV];
    char keys[16][64];
    llm__gguf_wtensor *wt;
    const char *an;
    size_t n_kv = 0, i, nk = 0, qbytes = 0, qoff = 0;
    unsigned char *qbuf = NULL;
    int any_q8 = 0;
    llm__tok_spec spec;
    int rc = LLM_OK;
    for (i = 0; i < m->n_tensors; i++) {
        const llm__tensor *t = &m->tensors[i];
        if (qtype == LLM__GGML_Q8_0 && quantizable(t))
            qbytes += llm__q8_row_bytes((size_t)t->dims[1]) * (size_t)t->dims[0];
        if (t->type == LLM__GGML_Q8_0 || (qtype == LLM__GGML_Q8_0 && quantizable(t)))
            any_q8 = 1;
    }
    an = arch_name(m->cfg.arch);
#define KEY(suffix) (snprintf(keys[nk], sizeof keys[nk], "%s.%s", an, suffix), keys[nk++])
    kv_str(kv, &n_kv, "general.architecture", an, strlen(an));
    kv_str(kv, &n_kv, "general.name", "libllm", 6);
    /* llama_ftype: ALL_F32 = 0, MOSTLY_Q8_0 = 7; quantized files also
     * carry the quantization version gguf-py writes (2). */
    kv_u32(kv, &n_kv, "general.file_type", any_q8 ? 7 : 0);
    if (any_q8)
        kv_u32(kv, &n_kv, "general.quantization_version", 2);
    kv_u32(kv, &n_kv, KEY("context_length"), m->cfg.n_ctx);
    kv_u32(kv, &n_kv, KEY("embedding_length"), m->cfg.n_embd);
    kv_u32(kv, &n_kv, KEY("block_count"), m->cfg.n_layer);
    kv_u32(kv, &n_kv, KEY("feed_forward_length"), m->cfg.n_ff);
    kv_u32(kv, &n_kv, KEY("attention.head_count"), m->cfg.n_head);
    if (m->cfg.arch == LLM_ARCH_GPT2) {
        kv_f32(kv, &n_kv, KEY("attention.layer_norm_epsilon"), m->cfg.norm_eps);
    } else {
        kv_u32(kv, &n_kv, KEY("vocab_size"), m->cfg.n_vocab);
        kv_u32(kv, &n_kv, KEY("attention.head_count_kv"), m->cfg.n_head_kv);
        kv_f32(kv, &n_kv, KEY("attention.layer_norm_rms_epsilon"), m->cfg.norm_eps);
        kv_f32(kv, &n_kv, KEY("rope.freq_base"), m->cfg.rope_base);
        kv_u32(kv, &n_kv, KEY("rope.dimension_count"), m->head_dim);
    }
#undef KEY
    if (m->tok && (rc = llm__tok_get_spec(m->tok, &spec)) != LLM_OK) {
        char msg[LLM__ERRMSG_MAX];
        snprintf(msg, sizeof msg, "%s", llm_last_errmsg());
        return llm__err(&m->obj, rc, "%s: %s: the tokenizer cannot be stored: %s", fn, path,
                        msg);
    }
    if (m->tok)
        n_kv += llm__tokgguf_kv(&kv[n_kv], &spec);
    wt = llm__mem_calloc(&m->obj.mem, m->n_tensors, sizeof *wt);
    if (qbytes)
        qbuf = llm__mem_alloc(&m->obj.mem, qbytes);
    if (!wt || (qbytes && !qbuf)) {
        rc = llm__err(&m->obj, LLM_ERR_NOMEM, "%s: out of memory (%zu bytes of quantized "
                      "weights)", fn, qbytes);
        goto done;
    }
    for (i = 0; i < m->n_tensors; i++) {
        const llm__tensor *t = &m->tensors[i];
        wt[i].name = t->name;
        wt[i].n_dims = t->n_dims;
        wt[i].ne[0] = t->n_dims == 2 ? t->dims[1] : t->dims[0];
        wt[i].ne[1] = t->n_dims == 2 ? t->dims[0] : 1;
        wt[i].ne[2] = wt[i].ne[3] = 1;
        wt[i].type = t->type;
        wt[i].data = t->data;
        if (qtype == LLM__GGML_Q8_0 && quantizable(t)) {
            /* (rows, cols / 32) blocks, quantized row by row */
            const size_t rows = (size_t)t->dims[0], cols = (size_t)t->dims[1];
            const size_t rb = llm__q8_row_bytes(cols);
            size_t r;
            for (r = 0; r < rows; r++)
                llm__q8_quantize_ref((llm__q8_block *)(void *)(qbuf + qoff + r * rb),
                                     t->data + r * cols, cols);
            wt[i].type = LLM__GGML_Q8_0;
            wt[i].data = qbuf + qoff;
            qoff += rows * rb;
        }
        if ((rc = llm__progress(&m->obj, progress, progress_ud, LLM_PHASE_CONVERT, i + 1,
                                m->n_tensors)) != LLM_OK)
            goto done;
    }
    rc = llm__gguf_write(path, kv, n_kv, wt, m->n_tensors, 0, &m->obj);
done:
    llm__mem_free(&m->obj.mem, qbuf, qbytes);
    if (wt)
        llm__mem_free(&m->obj.mem, wt, m->n_tensors * sizeof *wt);
    return rc;
}

int llm_model_save(const llm_model *mc, const char *path) {
    llm_model *m = (llm_model *)(uintptr_t)mc; /* only its error slot is written */
    if (!llm__obj_is(m, LLM__MAGIC_MODEL))
        return llm__err(NULL, LLM_ERR_INVALID, "llm_model_save: model is NULL or not a model");
    if (!path)
        return llm__err(&m->obj, LLM_ERR_INVALID, "llm_model_save: path is NULL");
    return save_gguf(m, path, LLM__GGML_F32, "llm_model_save", NULL, NULL);
}

int llm_quantize_opts_init(llm_quantize_opts *o, size_t struct_size) {
    return llm__opts_init(o, struct_size, "llm_quantize_opts_init");
}

int llm_model_quantize(const char *in_path, const char *out_path,
                       const llm_quantize_opts *opts_in) {
    llm_quantize_opts opts;
    llm_model_opts mo;
    llm_model *m = NULL;
    llm__obj tmp;
    int rc;
    memset(&tmp, 0, sizeof tmp);
    llm__mem_init(&tmp.mem, NULL, NULL);
    if (!in_path || !out_path)
        return llm__err(NULL, LLM_ERR_INVALID, "llm_model_quantize: %s is NULL",
                        !in_path ? "in_path" : "out_path");
    if ((rc = llm__opts_read(&tmp, &opts, sizeof opts, opts_in, "llm_quantize_opts")) != LLM_OK)
        return llm__err(NULL, rc, "%s", tmp.errmsg);
    if (opts.type == 0)
        opts.type = LLM_TYPE_Q8_0;
    if (opts.type != LLM_TYPE_Q8_0)
        return llm__err(NULL, LLM_ERR_UNSUPPORTED,
                        "llm_quantize_opts.type %u is not supported (only LLM_TYPE_Q8_0 = 8)",
                        (unsigned)opts.type);
    if (opts.flags != 0)
        return llm__err(NULL, LLM_ERR_UNSUPPORTED, "llm_quantize_opts.flags 0x%x: unknown flags",
                        (unsigned)opts.flags);
    llm_model_opts_init(&mo, sizeof mo);
    mo.alloc = opts.alloc;
    mo.alloc_ud = opts.alloc_ud;
    if ((rc = llm_model_load(&m, in_path, &mo)) != LLM_OK)
        return rc; /* the message is the thread's last error */
    rc = save_gguf(m, out_path, LLM__GGML_Q8_0, "llm_model_quantize", opts.progress,
                   opts.progress_ud);
    if (rc) {
        char msg[LLM__ERRMSG_MAX];
        snprintf(msg, sizeof msg, "%s", m->obj.errmsg);
        llm_model_free(m);
        return llm__err(NULL, rc, "%s", msg);
    }
    llm_model_free(m);
    return LLM_OK;
}

/* ------------------------------------------------------------------------
 * Queries
 * ------------------------------------------------------------------------ */

#define CHECK_MODEL(m, fn)                                                     \
    do {                                                                       \
        if (!llm__obj_is((m), LLM__MAGIC_MODEL))                               \
            return llm__err(NULL, LLM_ERR_INVALID, fn ": model is NULL or not a model"); \
    } while (0)

int llm_model_get_config(llm_model_config *out, const llm_model *m) {
    uint32_t size;
    CHECK_MODEL(m, "llm_model_get_config");
    if (!out)
        return llm__err((llm__obj *)(uintptr_t)&m->obj, LLM_ERR_INVALID,
                        "llm_model_get_config: out is NULL");
    size = out->struct_size;
    if (size < sizeof(uint32_t))
        return llm__err((llm__obj *)(uintptr_t)&m->obj, LLM_ERR_INVALID,
                        "llm_model_get_config: out->struct_size is %u; initialise it with "
                        "llm_model_config_init", (unsigned)size);
    /* Copy what the caller's struct has room for. */
    memcpy(out, &m->cfg, size < sizeof m->cfg ? size : sizeof m->cfg);
    if (size > sizeof m->cfg)
        memset((char *)out + sizeof m->cfg, 0, size - sizeof m->cfg);
    out->struct_size = size;
    return LLM_OK;
}

int llm_model_n_params(uint64_t *out, const llm_model *m) {
    size_t i;
    uint64_t n = 0;
    CHECK_MODEL(m, "llm_model_n_params");
    if (!out)
        return llm__err((llm__obj *)(uintptr_t)&m->obj, LLM_ERR_INVALID,
                        "llm_model_n_params: out is NULL");
    for (i = 0; i < m->n_tensors; i++)
        n += m->tensors[i].n;
    *out = n;
    return LLM_OK;
}

int llm_model_file_type(uint32_t *out, const llm_model *m) {
    CHECK_MODEL(m, "llm_model_file_type");
    if (!out)
        return llm__err((llm__obj *)(uintptr_t)&m->obj, LLM_ERR_INVALID,
                        "llm_model_file_type: out is NULL");
    *out = m->file_type;
    return LLM_OK;
}

int llm_model_n_tensors(size_t *out, const llm_model *m) {
    CHECK_MODEL(m, "llm_model_n_tensors");
    if (!out)
        return llm__err((llm__obj *)(uintptr_t)&m->obj, LLM_ERR_INVALID,
                        "llm_model_n_tensors: out is NULL");
    *out = m->n_tensors;
    return LLM_OK;
}

int llm_model_tensor_name(const char **out, const llm_model *m, size_t index) {
    CHECK_MODEL(m, "llm_model_tensor_name");
    if (!out)
        return llm__err((llm__obj *)(uintptr_t)&m->obj, LLM_ERR_INVALID,
                        "llm_model_tensor_name: out is NULL");
    if (index >= m->n_tensors)
        return llm__err((llm__obj *)(uintptr_t)&m->obj, LLM_ERR_RANGE,
                        "llm_model_tensor_name: index %zu >= %zu tensors", index, m->n_tensors);
    *out = m->tensors[index].name;
    return LLM_OK;
}

static int find_named(llm__tensor **t, const llm_model *m, const char *name, const char *fn) {
    if (!name)
        return llm__err((llm__obj *)(uintptr_t)&m->obj, LLM_ERR_INVALID, "%s: name is NULL", fn);
    *t = llm__model_find(m, name);
    if (!*t)
        return llm__err((llm__obj *)(uintptr_t)&m->obj, LLM_ERR_NOT_FOUND,
                        "%s: the model has no tensor '%s'", fn, name);
    return LLM_OK;
}

int llm_model_tensor_shape(uint32_t *n_dims, uint64_t *dims, const llm_model *m,
                           const char *name) {
    llm__tensor *t;
    int rc;
    CHECK_MODEL(m, "llm_model_tensor_shape");
    if (!n_dims || !dims)
        return llm__err((llm__obj *)(uintptr_t)&m->obj, LLM_ERR_INVALID,
                        "llm_model_tensor_shape: n_dims or dims is NULL");
    if ((rc = find_named(&t, m, name, "llm_model_tensor_shape")) != LLM_OK)
        return rc;
    *n_dims = t->n_dims;
    dims[0] = t->dims[0];
    dims[1] = t->n_dims == 2 ? t->dims[1] : 1;
    dims[2] = dims[3] = 1;
    return LLM_OK;
}

int llm_model_tensor_data(const float **data, size_t *n_elements, const llm_model *m,
                          const char *name) {
    llm__tensor *t;
    int rc;
    CHECK_MODEL(m, "llm_model_tensor_data");
    if (!data || !n_elements)
        return llm__err((llm__obj *)(uintptr_t)&m->obj, LLM_ERR_INVALID,
                        "llm_model_tensor_data: data or n_elements is NULL");
    if ((rc = find_named(&t, m, name, "llm_model_tensor_data")) != LLM_OK)
        return rc;
    if (t->type != LLM__GGML_F32)
        return llm__err((llm__obj *)(uintptr_t)&m->obj, LLM_ERR_UNSUPPORTED,
                        "llm_model_tensor_data: '%s' is stored as %s, not F32; "
                        "llm_model_tensor_copy dequantizes it", name,
                        llm__gguf_type_name(t->type));
    *data = t->data;
    *n_elements = t->n;
    return LLM_OK;
}

int llm_model_tensor_copy(float *dst, size_t cap, size_t *n_needed, const llm_model *m,
                          const char *name) {
    llm__tensor *t;
    int rc;
    CHECK_MODEL(m, "llm_model_tensor_copy");
    if ((rc = find_named(&t, m, name, "llm_model_tensor_copy")) != LLM_OK)
        return rc;
    if (n_needed)
        *n_needed = t->n;
    if (cap < t->n)
        return llm__err((llm__obj *)(uintptr_t)&m->obj, LLM_ERR_BUFFER_TOO_SMALL,
                        "llm_model_tensor_copy: '%s' has %zu elements, the buffer %zu", name,
                        t->n, cap);
    if (!dst)
        return llm__err((llm__obj *)(uintptr_t)&m->obj, LLM_ERR_INVALID,
                        "llm_model_tensor_copy: dst is NULL");
    if (t->type == LLM__GGML_Q8_0)
        llm__q8_dequantize(dst, (const llm__q8_block *)(const void *)t->data, t->n);
    else
        memcpy(dst, t->data, t->n * sizeof(float));
    return LLM_OK;
}

int llm_model_tensor_type(uint32_t *type, const llm_model *m, const char *name) {
    llm__tensor *t;
    int rc;
    CHECK_MODEL(m, "llm_model_tensor_type");
    if (!type)
        return llm__err((llm__obj *)(uintptr_t)&m->obj, LLM_ERR_INVALID,
                        "llm_model_tensor_type: type is NULL");
    if ((rc = find_named(&t, m, name, "llm_model_tensor_type")) != LLM_OK)
        return rc;
    *type = t->type;
    return LLM_OK;
}

int llm_model_set_tokenizer(llm_model *m, llm_tokenizer *tok) {
    CHECK_MODEL(m, "llm_model_set_tokenizer");
    if (tok && !llm__obj_is(tok, LLM__MAGIC_TOKENIZER))
        return llm__err(&m->obj, LLM_ERR_INVALID,
                        "llm_model_set_tokenizer: tok is not a tokenizer");
    if (tok && llm_tokenizer_n_vocab(tok) > m->cfg.n_vocab)
        return llm__err(&m->obj, LLM_ERR_RANGE,
                        "llm_model_set_tokenizer: the tokenizer has %zu ids, the model's "
                        "vocabulary only %u",
                        llm_tokenizer_n_vocab(tok),
                        (unsigned)m->cfg.n_vocab);
    if (m->tok != tok)
        llm_tokenizer_free(m->tok);
    m->tok = tok;
    return LLM_OK;
}

const llm_tokenizer *llm_model_tokenizer(const llm_model *m) {
    if (!llm__obj_is(m, LLM__MAGIC_MODEL))
        return NULL;
    return m->tok;
}
