/*
 * config.c - the model configuration struct: defaults and validation.
 *
 * The model loader, the trainer's initialiser and the scaling-law
 * accounting all read configs through llm__config_read, so a config that
 * one part accepts is accepted by all, with the same defaults.
 */
#include "llm_core.h"

int llm_model_config_init(llm_model_config *c, size_t struct_size) {
    int rc = llm__opts_init(c, struct_size, "llm_model_config_init");
    if (rc != LLM_OK)
        return rc;
    /* GPT-2 small (124M). Each field is set only if the caller's struct
     * has room for it. */
#define SET(field, value)                                                     \
    if (struct_size >= offsetof(llm_model_config, field) + sizeof c->field)   \
        c->field = (value)
    SET(arch, LLM_ARCH_GPT2);
    SET(n_vocab, 50257);
    SET(n_ctx, 1024);
    SET(n_embd, 768);
    SET(n_layer, 12);
    SET(n_head, 12);
    SET(n_head_kv, 12);
    SET(n_ff, 3072);
    SET(norm_eps, 1e-5f);
    SET(rope_base, 10000.0f);
#undef SET
    return LLM_OK;
}

int llm__config_read(llm__obj *o, llm_model_config *c, const llm_model_config *src) {
    const uint32_t known_flags = LLM_CFG_UNTIED_OUTPUT | LLM_CFG_QKV_BIAS;
    int rc;
    if (!src)
        return llm__err(o, LLM_ERR_INVALID, "model config: NULL pointer");
    rc = llm__opts_read(o, c, sizeof *c, src, "llm_model_config");
    if (rc != LLM_OK)
        return rc;
    if (c->arch != LLM_ARCH_GPT2 && c->arch != LLM_ARCH_LLAMA)
        return llm__err(o, LLM_ERR_UNSUPPORTED,
                        "model config: arch %d is not LLM_ARCH_GPT2 (1) or "
                        "LLM_ARCH_LLAMA (2)", (int)c->arch);
    if (c->flags & ~known_flags)
        return llm__err(o, LLM_ERR_UNSUPPORTED,
                        "model config: unknown flags 0x%x", (unsigned)(c->flags & ~known_flags));
#define POSITIVE(field)                                                       \
    if (c->field == 0)                                                        \
        return llm__err(o, LLM_ERR_INVALID, "model config: " #field " must be > 0")
    POSITIVE(n_vocab);
    POSITIVE(n_ctx);
    POSITIVE(n_embd);
    POSITIVE(n_layer);
    POSITIVE(n_head);
#undef POSITIVE
    if (c->n_vocab > (uint32_t)INT32_MAX)
        return llm__err(o, LLM_ERR_RANGE, "model config: n_vocab %u does not fit a token id",
                        (unsigned)c->n_vocab);
    if (c->n_embd % c->n_head != 0)
        return llm__err(o, LLM_ERR_INVALID,
                        "model config: n_embd %u is not a multiple of n_head %u",
                        (unsigned)c->n_embd, (unsigned)c->n_head);
    if (c->arch == LLM_ARCH_LLAMA && (c->n_embd / c->n_head) % 2 != 0)
        return llm__err(o, LLM_ERR_INVALID,
                        "model config: head size %u must be even for RoPE",
                        (unsigned)(c->n_embd / c->n_head));
    if (c->n_head_kv == 0)
        c->n_head_kv = c->n_head;
    if (c->n_head_kv > c->n_head || c->n_head % c->n_head_kv != 0)
        return llm__err(o, LLM_ERR_INVALID,
                        "model config: n_head_kv %u must divide n_head %u",
                        (unsigned)c->n_head_kv, (unsigned)c->n_head);
    if (c->arch == LLM_ARCH_GPT2) {
        if (c->n_head_kv != c->n_head)
            return llm__err(o, LLM_ERR_UNSUPPORTED,
                            "model config: gpt2 has no grouped-query attention "
                            "(n_head_kv %u != n_head %u)",
                            (unsigned)c->n_head_kv, (unsigned)c->n_head);
        c->flags |= LLM_CFG_QKV_BIAS;
        if (c->n_ff == 0) {
            if (c->n_embd > UINT32_MAX / 4)
                return llm__err(o, LLM_ERR_RANGE,
                                "model config: n_embd %u is too large for n_ff = 4*n_embd",
                                (unsigned)c->n_embd);
            c->n_ff = 4 * c->n_embd;
        }
    } else if (c->n_ff == 0) {
        return llm__err(o, LLM_ERR_INVALID, "model config: llama needs n_ff > 0");
    }
    if (c->norm_eps == 0.0f)
        c->norm_eps = 1e-5f;
    if (c->rope_base == 0.0f)
        c->rope_base = 10000.0f;
    if (!(c->norm_eps > 0.0f && c->norm_eps < 1.0f))
        return llm__err(o, LLM_ERR_INVALID, "model config: norm_eps %g is not in (0, 1)",
                        (double)c->norm_eps);
    if (!(c->rope_base > 1.0f && c->rope_base < 1e30f))
        return llm__err(o, LLM_ERR_INVALID, "model config: rope_base %g must be > 1",
                        (double)c->rope_base);
    return LLM_OK;
}
