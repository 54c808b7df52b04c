/*
 * fuzz_import.c - fuzz target for llm_model_import (lib/model/import.c).
 * FUZZ_IMPORT 1: a Hugging Face directory, input = config.json FUZZ_SEP
 * model.safetensors [FUZZ_SEP tokenizer vocab.json FUZZ_SEP merges.txt].
 * FUZZ_IMPORT 2: a llama2.c checkpoint file.
 * FUZZ_IMPORT 3: a sharded Hugging Face directory, input = config.json
 * FUZZ_SEP model.safetensors.index.json FUZZ_SEP model-00001-of-00002
 * FUZZ_SEP model-00002-of-00002 (.safetensors). A model that imports must be
 * usable (config, a context, one decode step); anything else must fail
 * with a status.
 */
#include <sys/stat.h>

#include "fuzz_tok_check.h"

#ifndef FUZZ_IMPORT
#error define FUZZ_IMPORT
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[600], tmp[600];
    llm_model *m = NULL;
    int rc;
#if FUZZ_IMPORT == 1
    const uint8_t *part[4];
    size_t len[4], np;
    np = fuzz_split(data, size, part, len, 4);
    if (np < 2)
        return 0;
    fuzz_path(path, sizeof path, "hf");
    mkdir(path, 0700);
    fuzz_write(tmp, sizeof tmp, "hf/config.json", part[0], len[0]);
    fuzz_write(tmp, sizeof tmp, "hf/model.safetensors", part[1], len[1]);
    if (np == 4) {
        fuzz_write(tmp, sizeof tmp, "hf/vocab.json", part[2], len[2]);
        fuzz_write(tmp, sizeof tmp, "hf/merges.txt", part[3], len[3]);
    } else {
        fuzz_unlink("hf/vocab.json");
        fuzz_unlink("hf/merges.txt");
    }
#elif FUZZ_IMPORT == 3
    const uint8_t *part[4];
    size_t len[4];
    if (fuzz_split(data, size, part, len, 4) < 4)
        return 0;
    fuzz_path(path, sizeof path, "sh");
    mkdir(path, 0700);
    fuzz_write(tmp, sizeof tmp, "sh/config.json", part[0], len[0]);
    fuzz_write(tmp, sizeof tmp, "sh/model.safetensors.index.json", part[1], len[1]);
    fuzz_write(tmp, sizeof tmp, "sh/model-00001-of-00002.safetensors", part[2], len[2]);
    fuzz_write(tmp, sizeof tmp, "sh/model-00002-of-00002.safetensors", part[3], len[3]);
#else
    (void)tmp;
    fuzz_write(path, sizeof path, "model.bin", data, size);
#endif
    rc = llm_model_import(&m, path, NULL);
    if (rc == LLM_OK) {
        llm_model_config cfg;
        llm_ctx_opts co;
        llm_ctx *ctx = NULL;
        LLM_MODEL_CONFIG_INIT(&cfg);
        FUZZ_CHECK(llm_model_get_config(&cfg, m) == LLM_OK);
        LLM_CTX_OPTS_INIT(&co);
        co.n_ctx = cfg.n_ctx < 4 ? cfg.n_ctx : 4;
        rc = llm_ctx_create(&ctx, m, &co);
        FUZZ_CHECK(rc == LLM_OK || rc == LLM_ERR_RANGE || rc == LLM_ERR_NOMEM);
        if (rc == LLM_OK) {
            llm_token t = 0;
            const float *logits = NULL;
            FUZZ_CHECK(llm_ctx_decode(&logits, ctx, &t, 1) == LLM_OK);
            llm_ctx_free(ctx);
        }
        if (llm_model_tokenizer(m)) {
            static const uint8_t text[] = "imported tokenizer";
            fuzz_tok_roundtrip(llm_model_tokenizer(m), text, sizeof text - 1, 0);
        }
        llm_model_free(m);
    } else {
        FUZZ_CHECK(m == NULL && rc < 0 && llm_last_errmsg()[0] != 0);
    }
    return 0;
}
