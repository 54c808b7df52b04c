/*
 * count.c - exact parameter counts and per-token FLOPs of a model
 * configuration (llm_count_*).
 *
 * Parameter counts are exact integers in uint64_t with overflow checks;
 * they must agree tensor by tensor with what the model loader allocates
 * (docs/math.md 5.1 for gpt2, 5.2 for llama). FLOPs are doubles: the
 * Kaplan et al. 2020 approximation (eq. 2.2) and Chinchilla's Appendix F
 * count (docs/math.md 5.3, 5.4). Configs are read with llm__config_read so
 * the defaults (n_ff = 4C for gpt2, n_head_kv = n_head) and the validation
 * are the same as everywhere else in libllm.
 *
 * Result structs are written through llm__count_write_result, which honours
 * the caller's struct_size (the struct may come from an older or newer
 * header than the library's).
 */
#include <math.h>
#include <string.h>

#include "llm_core.h"
#include "plan/plan_internal.h"

int llm__count_write_result(void *dst, const void *full, size_t full_size, const char *fn,
                            const char *what) {
    uint32_t size;
    if (!dst)
        return llm__err(NULL, LLM_ERR_INVALID, "%s: out is NULL", fn);
    memcpy(&size, dst, sizeof size);
    if (size < sizeof(uint32_t))
        return llm__err(NULL, LLM_ERR_INVALID,
                        "%s: out->struct_size is %u; fill the %s with its init function first",
                        fn, (unsigned)size, what);
    memcpy((char *)dst + sizeof size, (const char *)full + sizeof size,
           (size < full_size ? size : full_size) - sizeof size);
    if (size > full_size) /* fields this library does not know: "not provided" */
        memset((char *)dst + full_size, 0, size - full_size);
    return LLM_OK;
}

int llm_count_init(llm_count *c, size_t struct_size) {
    return llm__opts_init(c, struct_size, "llm_count_init");
}

/* Overflow-checked uint64 arithmetic: the flag sticks once set. */
typedef struct acc {
    uint64_t v;
    int overflow;
} acc;

static uint64_t mul(acc *a, uint64_t x, uint64_t y) {
    if (x != 0 && y > UINT64_MAX / x) {
        a->overflow = 1;
        return 0;
    }
    return x * y;
}

static void add(acc *a, uint64_t x) {
    if (x > UINT64_MAX - a->v)
        a->overflow = 1;
    else
        a->v += x;
}

int llm__count_config(llm_count *out, const llm_model_config *c) {
    const uint64_t V = c->n_vocab, C = c->n_embd, L = c->n_layer, T = c->n_ctx;
    const uint64_t NH = c->n_head, hd = C / NH, F = c->n_ff;
    const uint64_t q = NH * hd;                        /* query width (= C) */
    const uint64_t kv = (uint64_t)c->n_head_kv * hd;   /* key/value width */
    acc layer = {0, 0}, emb = {0, 0}, rest = {0, 0}, total = {0, 0};
    double mlp_mats, s = (double)T, fwd_layer;

    memset(out, 0, sizeof *out);
    out->struct_size = (uint32_t)sizeof *out;
    if (c->arch == LLM_ARCH_GPT2) {
        /* ln_1, ln_2: weight and bias each */
        add(&layer, mul(&layer, 4, C));
        /* c_attn (C -> 3C) with bias; c_proj (C -> C) with bias */
        add(&layer, mul(&layer, C, q + 2 * kv));
        add(&layer, q + 2 * kv);
        add(&layer, mul(&layer, q, C));
        add(&layer, C);
        /* c_fc (C -> F) + bias; c_proj (F -> C) + bias */
        add(&layer, mul(&layer, C, F));
        add(&layer, F);
        add(&layer, mul(&layer, F, C));
        add(&layer, C);
        /* wte and wpe */
        add(&emb, mul(&emb, V, C));
        add(&emb, mul(&emb, T, C));
        /* ln_f */
        add(&rest, 2 * C);
        mlp_mats = 2.0;
    } else {
        /* input and post-attention RMSNorm gains */
        add(&layer, 2 * C);
        /* q, k, v, o projections, optional Q/K/V biases */
        add(&layer, mul(&layer, C, q));
        add(&layer, mul(&layer, C, 2 * kv));
        add(&layer, mul(&layer, q, C));
        if (c->flags & LLM_CFG_QKV_BIAS)
            add(&layer, q + 2 * kv);
        /* SwiGLU: gate and up (C -> F), down (F -> C) */
        add(&layer, mul(&layer, 3, mul(&layer, C, F)));
        add(&emb, mul(&emb, V, C));
        add(&rest, C); /* final norm */
        mlp_mats = 3.0;
    }
    if (c->flags & LLM_CFG_UNTIED_OUTPUT)
        add(&emb, mul(&emb, V, C));
    add(&rest, mul(&rest, L, layer.v));
    add(&total, emb.v);
    add(&total, rest.v);
    if (layer.overflow || emb.overflow || rest.overflow || total.overflow)
        return llm__err(NULL, LLM_ERR_RANGE,
                        "llm_count_model: the parameter count of this config "
                        "overflows 64 bits (n_vocab %u, n_embd %u, n_layer %u, n_ff %u)",
                        (unsigned)c->n_vocab, (unsigned)c->n_embd, (unsigned)c->n_layer,
                        (unsigned)c->n_ff);
    out->n_params = total.v;
    out->n_params_embedding = emb.v;
    out->n_params_non_embedding = rest.v;

    /* Kaplan et al. eq. 2.2: C_fwd = 2N + 2 n_layer n_ctx d_model */
    out->flops_fwd_kaplan = 2.0 * (double)rest.v + 2.0 * (double)L * s * (double)C;

    /* Chinchilla Appendix F per sequence of s tokens, divided by s */
    fwd_layer = 2.0 * (double)C * (double)(q + 2 * kv) /* Q, K, V projections */
                + 2.0 * s * (double)q                   /* key @ query logits */
                + 3.0 * (double)NH * s                  /* softmax */
                + 2.0 * s * (double)q                   /* softmax @ value */
                + 2.0 * (double)q * (double)C           /* output projection */
                + 2.0 * mlp_mats * (double)C * (double)F; /* dense block */
    out->flops_fwd_chinchilla_embed = 2.0 * (double)V * (double)C   /* embeddings */
                                      + 2.0 * (double)C * (double)V; /* final logits */
    out->flops_fwd_chinchilla = out->flops_fwd_chinchilla_embed + (double)L * fwd_layer;

    out->flops_train_kaplan = 3.0 * out->flops_fwd_kaplan;
    out->flops_train_chinchilla = 3.0 * out->flops_fwd_chinchilla;
    out->flops_train_6n = 6.0 * (double)total.v;
    return LLM_OK;
}

int llm_count_model(llm_count *out, const llm_model_config *cfg) {
    llm_model_config c;
    llm_count full;
    int rc;
    if (!out)
        return llm__err(NULL, LLM_ERR_INVALID, "llm_count_model: out is NULL");
    if (!cfg)
        return llm__err(NULL, LLM_ERR_INVALID, "llm_count_model: cfg is NULL");
    rc = llm__config_read(NULL, &c, cfg);
    if (rc != LLM_OK)
        return rc;
    rc = llm__count_config(&full, &c);
    if (rc != LLM_OK)
        return rc;
    return llm__count_write_result(out, &full, sizeof full, "llm_count_model", "llm_count");
}

int llm_count_train_flops(double *out_flops, const llm_model_config *cfg, double n_tokens,
                          int32_t method) {
    llm_model_config c;
    llm_count k;
    int rc;
    double per_token;
    if (!out_flops)
        return llm__err(NULL, LLM_ERR_INVALID, "llm_count_train_flops: out_flops is NULL");
    if (!cfg)
        return llm__err(NULL, LLM_ERR_INVALID, "llm_count_train_flops: cfg is NULL");
    if (!(n_tokens > 0.0 && isfinite(n_tokens)))
        return llm__err(NULL, LLM_ERR_INVALID,
                        "llm_count_train_flops: n_tokens = %g must be positive and finite",
                        n_tokens);
    if (method != LLM_FLOPS_6N && method != LLM_FLOPS_KAPLAN && method != LLM_FLOPS_CHINCHILLA)
        return llm__err(NULL, LLM_ERR_INVALID,
                        "llm_count_train_flops: method %d is not LLM_FLOPS_6N (1), "
                        "LLM_FLOPS_KAPLAN (2) or LLM_FLOPS_CHINCHILLA (3)", (int)method);
    rc = llm__config_read(NULL, &c, cfg);
    if (rc != LLM_OK)
        return rc;
    rc = llm__count_config(&k, &c);
    if (rc != LLM_OK)
        return rc;
    per_token = method == LLM_FLOPS_6N       ? k.flops_train_6n
                : method == LLM_FLOPS_KAPLAN ? k.flops_train_kaplan
                                             : k.flops_train_chinchilla;
    *out_flops = per_token * n_tokens;
    return LLM_OK;
}
