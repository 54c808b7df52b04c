/*
 * train.h - the llm_trainer handle as the training files see it.
 *
 * Memory (all allocated by llm_trainer_create, nothing later):
 *   - grads, adam_m, adam_v: three arenas laid out exactly like the
 *     model's tensor table (tensor i at offset toff[i], padded to
 *     LLM__ALIGN), so parameter, gradient and moments of one tensor share
 *     an index; `g` gives the gradients the model's typed names (views
 *     included: gpt2's wq/wk/wv inside wqkv, a tied output == tok_embd);
 *   - acts: one arena with the activations of one micro-batch (B*T rows)
 *     that the backward needs, per layer, llm.c style;
 *   - bwd: scratch of the backward pass, shared by all layers.
 */
#ifndef LLM_TRAIN_H
#define LLM_TRAIN_H

#include "llm_pool.h"
#include "model/model.h"

/* Gradients under the model's names; every pointer aims into grads. */
typedef struct llm__grads {
    float *tok_embd;    /* (V, C) */
    float *pos_embd;    /* (n_ctx, C); gpt2 */
    float *out_norm;    /* (C) */
    float *out_norm_b;  /* (C); gpt2 */
    float *output;      /* (V, C); == tok_embd when tied */
    llm__layer *layers; /* [n_layer], same fields as the model's */
} llm__grads;

/* Activations of one block for N = B*T rows. */
typedef struct llm__tlayer {
    float *ln1;      /* (N, C) normalised block input */
    float *ln1_mean; /* (N) gpt2 */
    float *ln1_rstd; /* (N) */
    float *qkv;      /* (N, W3) q|k|v; llama: q and k after RoPE */
    float *lse;      /* (B, NH, T) log-sum-exp of each attention row's scores (attn.h) */
    float *atty;     /* (N, C) attention output before the projection */
    float *res2;     /* (N, C) residual stream after attention */
    float *ln2;      /* (N, C) */
    float *ln2_mean; /* (N) gpt2 */
    float *ln2_rstd; /* (N) */
    float *fc;       /* (N, F) gpt2: pre-GELU; llama: gate pre-activation */
    float *up;       /* (N, F) llama: up projection */
    float *fc_act;   /* (N, F) gpt2: gelu(fc); llama: silu(gate)*up */
    float *res3;     /* (N, C) block output */
} llm__tlayer;

typedef struct llm__acts {
    float *encoded;  /* (N, C) embeddings, input of block 0 */
    llm__tlayer *layers;
    float *lnf;      /* (N, C) final norm output */
    float *lnf_mean; /* (N) gpt2 */
    float *lnf_rstd; /* (N) */
    float *losses;   /* (N) per-position loss */
    float *logits;   /* llm__xent_scratch_floats(R, Vc): one chunk of logits / their gradient */
    /* backward scratch */
    float *dres;     /* (N, C) gradient of the residual stream */
    float *dln;      /* (N, C) gradient of a norm output */
    float *datty;    /* (N, C) */
    float *dqkv;     /* (N, W3) */
    float *dfc;      /* (N, F) */
    float *dup;      /* (N, F) llama */
    float *dfc_act;  /* (N, F) */
    float *rope_cos; /* (T, D/2) llama */
    float *rope_sin; /* (T, D/2) llama */
} llm__acts;

/* Most floats of logits held at once (256 MB): the head, its loss and
 * its backward run fused by blocks of R rows and chunks of Vc columns
 * (lib/model/xent.h, lib/train/grad_xent.c; llm__xent_plan picks R, Vc).
 * Larger blocks read the V x C output matrix and its gradient fewer
 * times; whole rows (Vc = V) avoid recomputing logits. Measured (CPU ms
 * of the head of 2048 rows, C = 384, V = 50257, 2 threads, bench_attn):
 * all rows at once 2673 (393 MB), R = 1024 2655 (196 MB), R = 512 2711
 * (98 MB), R = 304 2831 (58 MB), R = 160 2977 (31 MB); chunks of 4096
 * columns, recomputed, 3823 (32 MB). */
#define LLM__TRAIN_LOGIT_FLOATS ((size_t)1 << 26)

struct llm_trainer {
    llm__obj obj;
    llm_model *model;          /* borrowed, written at each step */
    llm_trainer_opts opts;     /* defaults resolved */
    llm__pool *pool;
    size_t B, T, K;
    size_t logit_rows;         /* R, rows per block of the fused head (xent.h) */
    size_t logit_cols;         /* Vc, columns per chunk of the fused head */
    size_t n_tensors;
    size_t *toff;              /* [n_tensors] offset of tensor i in the arenas */
    size_t n_floats;           /* floats per arena (padded) */
    float *grads;              /* gradient arena */
    float *adam_m, *adam_v;    /* AdamW first and second moments */
    llm__grads g;
    llm__layer *g_layers;      /* [n_layer] storage of g.layers */
    float *act_arena;
    size_t act_floats;
    llm__acts a;
    llm__tlayer *a_layers;     /* [n_layer] storage of a.layers */
    /* progress of the run (checkpointed) */
    uint64_t step;             /* optimizer steps done */
    uint64_t rng;              /* splitmix64 state of the batch sampler */
    uint64_t cursor;           /* sequential data cursor, in tokens */
    double grad_norm;          /* of the latest step, before clipping */
    float grad_scale;          /* clipping coefficient of the latest step (1: none);
                                  grads holds the gradient before it */
    double *norm_parts;        /* [llm__adamw_norm_parts(n_floats)] partial sums */
    /* data-parallel group (allreduce.c); R = 1, rank 0 without hooks */
    llm_reduce_hooks red;      /* struct_size 0: no hooks */
    size_t R, rank;
    struct llm__bucket *buckets; /* [n_buckets] in the order they are reduced */
    size_t n_buckets;
    int red_armed;             /* this backward is the step's last: pass buckets */
    int red_rc;                /* first hook failure of the step (LLM_OK: none) */
    size_t red_next;           /* buckets passed so far in this step */
};

/* allreduce.c: the gradient buckets and the calls of the reduce hooks. */
/* Builds tr->buckets from the tensor table (llm_trainer_create). */
LLM_INTERNAL int llm__allreduce_layout(llm_trainer *tr);
LLM_INTERNAL void llm__allreduce_free(llm_trainer *tr);
/* The backward pass reached `stage` (0: the final norm and the output
 * matrix are done; 1 + (n_layer-1-l): block l is done; n_layer + 1: the
 * embeddings are done): passes the buckets of that stage to the reduce
 * hook when the step armed it. */
LLM_INTERNAL void llm__allreduce_ready(llm_trainer *tr, size_t stage);
/* After the last backward of a step: waits for the buckets, sums
 * *loss_sum across the workers; errors recorded on tr. */
LLM_INTERNAL int llm__allreduce_finish(llm_trainer *tr, double *loss_sum);

/* backprop.c: forward of one micro-batch of B*T tokens; with dscale != 0
 * also the backward, adding dscale * d(sum of losses) to the gradients.
 * Returns the sum of the B*T losses (double). Inputs are validated. */
LLM_INTERNAL double llm__backprop_run(llm_trainer *tr, const llm_token *inputs,
                                      const llm_token *targets, float dscale);
/* Points tr->g at the gradient arena following the model's tensor table. */
LLM_INTERNAL void llm__backprop_bind_grads(llm_trainer *tr);
/* Floats the activation arena needs; with tr->act_arena set, points tr->a
 * into it. */
LLM_INTERNAL size_t llm__backprop_layout_acts(llm_trainer *tr);

/* adamw.c */
/* Learning rate of step `step` (math.md 4.3). */
LLM_INTERNAL double llm__adamw_lr(const llm_trainer_opts *o, uint64_t step);
/* Entries of tr->norm_parts for an arena of n_floats. */
LLM_INTERNAL size_t llm__adamw_norm_parts(size_t n_floats);
/* Global L2 norm of all gradients (double accumulation in fixed chunks). */
LLM_INTERNAL double llm__adamw_grad_norm(const llm_trainer *tr);
/* One AdamW update of every tensor at learning rate lr with the
 * gradients times tr->grad_scale (the clipping coefficient, applied here
 * rather than in a pass of its own); `t` is the 1-based step used in the
 * bias corrections. */
LLM_INTERNAL void llm__adamw_update(llm_trainer *tr, double lr, uint64_t t);
/* The update of one tensor of n floats with gradient g[i] * gscale (the
 * float product clip_grad_norm_'s in-place multiply makes; exposed for
 * the torch test). */
LLM_INTERNAL void llm__adamw_tensor(float *p, const float *g, float gscale, float *m, float *v,
                                    size_t n, double lr, double beta1, double beta2, double eps,
                                    double wd, uint64_t t);

#endif
