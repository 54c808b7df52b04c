/*
 * fuzz_checkpoint.c - fuzz target for the training checkpoint loader
 * (lib/train/checkpoint.c, llm_trainer_load). The input is written to a
 * file and loaded into a fixed tiny trainer (fuzz_ckpt.h). llm.h promises
 * "Errors (nothing changed)": on failure the weights and the step count
 * must be exactly as before; on success one training step must run.
 */
#include "fuzz_ckpt.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static llm_model *model;
static llm_trainer *trainer;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[600];
    float before[128], after[128];
    size_t nb = 0, na = 0;
    uint64_t steps0 = 0, steps1 = 0;
    int rc;
    if (!trainer)
        FUZZ_CHECK(fuzz_ckpt_make(&model, &trainer) == LLM_OK);
    FUZZ_CHECK(llm_model_tensor_copy(before, 128, &nb, model, "token_embd.weight") == LLM_OK);
    FUZZ_CHECK(llm_trainer_n_steps(&steps0, trainer) == LLM_OK);
    fuzz_write(path, sizeof path, "ckpt.gguf", data, size);
    rc = llm_trainer_load(trainer, path);
    FUZZ_CHECK(llm_trainer_n_steps(&steps1, trainer) == LLM_OK);
    if (rc != LLM_OK) {
        FUZZ_CHECK(rc < 0);
        FUZZ_CHECK(llm_model_tensor_copy(after, 128, &na, model, "token_embd.weight") == LLM_OK);
        FUZZ_CHECK(na == nb && memcmp(before, after, nb * sizeof *before) == 0);
        FUZZ_CHECK(steps0 == steps1);
    } else {
        llm_token in[4] = {1, 2, 3, 4}, tg[4] = {2, 3, 4, 5};
        float loss = 0;
        rc = llm_trainer_step(&loss, trainer, in, tg, 4);
        FUZZ_CHECK(rc == LLM_OK || rc == LLM_ERR_NO_CONVERGENCE);
    }
    return 0;
}
