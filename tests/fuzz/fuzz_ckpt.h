/*
 * fuzz_ckpt.h - the tiny model and trainer that fuzz_checkpoint loads
 * checkpoints into, shared with make_seeds.c so the seed checkpoint
 * matches (a checkpoint only loads into a trainer of the same shapes).
 */
#ifndef LLM_FUZZ_CKPT_H
#define LLM_FUZZ_CKPT_H

#include "llm.h"

static inline int fuzz_ckpt_make(llm_model **m, llm_trainer **tr) {
    llm_model_config c;
    llm_trainer_opts o;
    int rc;
    LLM_MODEL_CONFIG_INIT(&c);
    c.arch = LLM_ARCH_LLAMA;
    c.n_vocab = 16;
    c.n_ctx = 8;
    c.n_embd = 8;
    c.n_layer = 1;
    c.n_head = 2;
    c.n_head_kv = 1;
    c.n_ff = 16;
    *m = NULL;
    *tr = NULL;
    if ((rc = llm_model_create(m, &c, 42, NULL)) != LLM_OK)
        return rc;
    LLM_TRAINER_OPTS_INIT(&o);
    o.batch = 1;
    o.seq_len = 4;
    o.lr = 1e-2;
    if ((rc = llm_trainer_create(tr, *m, &o)) != LLM_OK) {
        llm_model_free(*m);
        *m = NULL;
    }
    return rc;
}

#endif
