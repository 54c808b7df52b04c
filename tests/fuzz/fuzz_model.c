/*
 * fuzz_model.c - fuzz target for GGUF model loading (lib/model/model.c on
 * top of lib/format/gguf.c and the embedded tokenizer, tok_gguf.c) through
 * the public llm_model_load_mem. A file that loads must be fully usable:
 * its config, tensors and shapes answer, a small context can be created
 * and can decode two tokens, and its tokenizer (if any) keeps the
 * round-trip properties. Any other input must fail with a status.
 */
#include "fuzz_tok_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    llm_model *m = NULL;
    llm_model_config cfg;
    llm_ctx_opts co;
    llm_ctx *ctx = NULL;
    size_t nt = 0, i;
    uint64_t np = 0;
    int rc;
    /* a private copy without slack, so ASan sees any over-read */
    uint8_t *buf = malloc(size ? size : 1);
    FUZZ_CHECK(buf != NULL);
    memcpy(buf, data, size);
    rc = llm_model_load_mem(&m, buf, size, NULL);
    if (rc != LLM_OK) {
        FUZZ_CHECK(m == NULL && rc < 0 && llm_last_errmsg()[0] != 0);
        free(buf);
        return 0;
    }
    free(buf); /* the model must not keep pointers into the caller's buffer */
    LLM_MODEL_CONFIG_INIT(&cfg);
    FUZZ_CHECK(llm_model_get_config(&cfg, m) == LLM_OK);
    FUZZ_CHECK(cfg.n_vocab > 0 && cfg.n_embd > 0 && cfg.n_layer > 0);
    FUZZ_CHECK(llm_model_n_params(&np, m) == LLM_OK);
    FUZZ_CHECK(llm_model_n_tensors(&nt, m) == LLM_OK);
    for (i = 0; i < nt; i++) {
        const char *name = NULL;
        const float *d = NULL;
        size_t ne = 0;
        uint32_t nd = 0;
        uint64_t dims[4];
        volatile float sink;
        FUZZ_CHECK(llm_model_tensor_name(&name, m, i) == LLM_OK && name);
        FUZZ_CHECK(llm_model_tensor_shape(&nd, dims, m, name) == LLM_OK);
        FUZZ_CHECK(llm_model_tensor_data(&d, &ne, m, name) == LLM_OK);
        if (ne) {
            sink = d[0];
            sink = d[ne - 1];
            (void)sink;
        }
    }
    LLM_CTX_OPTS_INIT(&co);
    co.n_ctx = cfg.n_ctx < 8 ? cfg.n_ctx : 8;
    rc = llm_ctx_create(&ctx, m, &co);
    FUZZ_CHECK(rc == LLM_OK || rc == LLM_ERR_RANGE || rc == LLM_ERR_NOMEM);
    if (rc == LLM_OK) {
        llm_token toks[2] = {0, (llm_token)(1 % cfg.n_vocab)};
        const float *logits = NULL;
        rc = llm_ctx_decode(&logits, ctx, toks, co.n_ctx >= 2 ? 2 : 1);
        FUZZ_CHECK(rc == LLM_OK);
        FUZZ_CHECK(logits != NULL);
        llm_ctx_free(ctx);
    }
    if (llm_model_tokenizer(m)) {
        static const uint8_t text[] = "fuzz the embedded tokenizer \xe2\x82\xac";
        fuzz_tok_roundtrip(llm_model_tokenizer(m), text, sizeof text - 1, 0);
    }
    llm_model_free(m);
    return 0;
}
