/*
 * backprop.c - the training forward (keeping activations) and the full
 * backward of GPT-2 and Llama models, for one micro-batch of B*T tokens.
 *
 * Invariants: the activation arena is laid out once by
 * llm__backprop_layout_acts for the trainer's B and T; every tensor the
 * backward reads was written by the forward of the same call. Parameter
 * gradients are only ever added to (+=), so K micro-batches accumulate;
 * the caller zeroes them before a step. The output head, its loss and
 * its backward are one fused kernel (lib/train/grad_xent.c) run by blocks
 * of tr->logit_rows rows and chunks of tr->logit_cols columns, so at most
 * LLM__TRAIN_LOGIT_FLOATS logits exist at once. Attention is tiled
 * (lib/model/attn.c, lib/train/grad_attn.c) and keeps only each row's
 * log-sum-exp: no B x NH x T x T buffer exists.
 *
 * Kernels: the forward uses the inference kernels of lib/model/ops.c
 * (llm__ops_*: embedding, products, norms with saved statistics) wherever
 * one exists, so training and inference compute the same function with
 * the same code; llm__grad_* (lib/train/grad_ops.c) supplies the
 * backwards, the pool-split element-wise forwards and RoPE by sequence;
 * attention is llm__attn_fwd (shared with inference) with the
 * recomputing backward llm__gattn_bwd, the head llm__gxent_fwd_bwd.
 *
 * Data parallelism: as soon as the backward has finished the final norm,
 * a block, or the embeddings, it tells allreduce.c (llm__allreduce_ready),
 * which hands the now final gradient buckets to the caller's reduce hook
 * on the step's last micro-batch, so communication overlaps the rest of
 * the backward.
 *
 * Shapes: N = B*T rows, C width, F MLP width, V vocabulary, NH/NKV query
 * and key/value heads of D, Ekv = NKV*D, W3 = C + 2*Ekv.
 */
#include <string.h>

#include "model/attn.h"
#include "model/ops.h"
#include "train/grad_attn.h"
#include "train/grad_xent.h"
#include "train/grad_ops.h"
#include "train/train.h"

static size_t pad_floats(size_t n) {
    const size_t q = LLM__ALIGN / sizeof(float);
    return (n + q - 1) / q * q;
}

void llm__backprop_bind_grads(llm_trainer *tr) {
    llm_model *m = tr->model;
    llm__grads *g = &tr->g;
    size_t i;
    uint32_t l;
    memset(g, 0, sizeof *g);
    memset(tr->g_layers, 0, m->cfg.n_layer * sizeof *tr->g_layers);
    g->layers = tr->g_layers;
    for (i = 0; i < m->n_tensors; i++) {
        float **slot = m->tensors[i].slot, **gs = NULL;
        const char *lo = (const char *)m->layers;
        const char *hi = (const char *)(m->layers + m->cfg.n_layer);
        if (slot == &m->tok_embd)
            gs = &g->tok_embd;
        else if (slot == &m->pos_embd)
            gs = &g->pos_embd;
        else if (slot == &m->out_norm)
            gs = &g->out_norm;
        else if (slot == &m->out_norm_b)
            gs = &g->out_norm_b;
        else if (slot == &m->output)
            gs = &g->output;
        else if ((const char *)slot >= lo && (const char *)slot < hi) {
            /* the same field of the same layer in the gradient struct */
            size_t byte = (size_t)((const char *)slot - lo);
            gs = (float **)(void *)((char *)g->layers + byte);
        }
        if (gs)
            *gs = tr->grads + tr->toff[i];
    }
    /* Views, exactly as the model binds them. */
    if (m->cfg.arch == LLM_ARCH_GPT2)
        for (l = 0; l < m->cfg.n_layer; l++) {
            llm__layer *L = &g->layers[l];
            const size_t C = m->cfg.n_embd, Ekv = m->n_embd_kv;
            L->wq = L->wqkv;
            L->wk = L->wqkv + C * C;
            L->wv = L->wqkv + (C + Ekv) * C;
            L->bq = L->bqkv;
            L->bk = L->bqkv + C;
            L->bv = L->bqkv + C + Ekv;
        }
    if (!(m->cfg.flags & LLM_CFG_UNTIED_OUTPUT))
        g->output = g->tok_embd;
}

size_t llm__backprop_layout_acts(llm_trainer *tr) {
    const llm_model *m = tr->model;
    const size_t B = tr->B, T = tr->T, N = B * T, C = m->cfg.n_embd, F = m->cfg.n_ff;
    const size_t NH = m->cfg.n_head, D = m->head_dim, V = m->cfg.n_vocab;
    const size_t W3 = C + 2 * (size_t)m->n_embd_kv;
    const int gpt2 = m->cfg.arch == LLM_ARCH_GPT2;
    float *base = tr->act_arena;
    llm__acts *a = &tr->a;
    size_t off = 0, R, Vc;
    uint32_t l;
    llm__xent_plan(N, V, LLM__TRAIN_LOGIT_FLOATS, 0, &R, &Vc);
    tr->logit_rows = R;
    tr->logit_cols = Vc;
#define TAKE(ptr, n)                                                           \
    do {                                                                       \
        if (base)                                                              \
            (ptr) = base + off;                                                \
        off += pad_floats(n);                                                  \
    } while (0)
    if (base) {
        memset(a, 0, sizeof *a);
        a->layers = tr->a_layers;
        memset(a->layers, 0, m->cfg.n_layer * sizeof *a->layers);
    }
    {
        llm__acts tmpa, *A0 = base ? a : &tmpa;
        TAKE(A0->encoded, N * C);
        for (l = 0; l < m->cfg.n_layer; l++) {
            llm__tlayer tmp, *L = base ? &a->layers[l] : &tmp;
            TAKE(L->ln1, N * C);
            if (gpt2)
                TAKE(L->ln1_mean, N);
            TAKE(L->ln1_rstd, N);
            TAKE(L->qkv, N * W3);
            TAKE(L->lse, B * NH * T);
            TAKE(L->atty, N * C);
            TAKE(L->res2, N * C);
            TAKE(L->ln2, N * C);
            if (gpt2)
                TAKE(L->ln2_mean, N);
            TAKE(L->ln2_rstd, N);
            TAKE(L->fc, N * F);
            if (!gpt2)
                TAKE(L->up, N * F);
            TAKE(L->fc_act, N * F);
            TAKE(L->res3, N * C);
        }
        TAKE(A0->lnf, N * C);
        if (gpt2)
            TAKE(A0->lnf_mean, N);
        TAKE(A0->lnf_rstd, N);
        TAKE(A0->losses, N);
        TAKE(A0->logits, llm__xent_scratch_floats(R, Vc));
        TAKE(A0->dres, N * C);
        TAKE(A0->dln, N * C);
        TAKE(A0->datty, N * C);
        TAKE(A0->dqkv, N * W3);
        TAKE(A0->dfc, N * F);
        if (!gpt2)
            TAKE(A0->dup, N * F);
        TAKE(A0->dfc_act, N * F);
        if (!gpt2) {
            TAKE(A0->rope_cos, T * (D / 2));
            TAKE(A0->rope_sin, T * (D / 2));
        }
    }
#undef TAKE
    if (base && !gpt2)
        llm__grad_rope_table(a->rope_cos, a->rope_sin, T, D, (double)m->cfg.rope_base);
    return off;
}

/* Norm forward of either architecture (gpt2: LayerNorm, llama: RMSNorm). */
static void norm_fwd(const llm_model *m, float *out, float *mean, float *rstd, const float *x,
                     const float *g, const float *b, size_t N) {
    if (m->cfg.arch == LLM_ARCH_GPT2)
        llm__ops_layernorm_stats(out, mean, rstd, x, g, b, N, m->cfg.n_embd, m->cfg.norm_eps);
    else
        llm__ops_rmsnorm_stats(out, rstd, x, g, N, m->cfg.n_embd, m->cfg.norm_eps);
}

static void norm_bwd(const llm_model *m, float *dx, float *dg, float *db, const float *dout,
                     const float *x, const float *g, const float *mean, const float *rstd,
                     size_t N) {
    if (m->cfg.arch == LLM_ARCH_GPT2)
        llm__grad_layernorm_bwd(dx, dg, db, dout, x, g, mean, rstd, N, m->cfg.n_embd);
    else
        llm__grad_rmsnorm_bwd(dx, dg, dout, x, g, rstd, N, m->cfg.n_embd);
}

/* The attention of block A in attn.h's terms: q, k, v are column ranges
 * of the fused rows qkv(N, W3); the output is atty(N, C). */
static void attn_args(llm__attn_args *att, const llm__tlayer *A, size_t B, size_t T, size_t NH,
                      size_t NKV, size_t D) {
    const size_t C = NH * D, Ekv = NKV * D, W3 = C + 2 * Ekv;
    memset(att, 0, sizeof *att);
    att->n_seq = B;
    att->T = T;
    att->n_head = NH;
    att->n_head_kv = NKV;
    att->D = D;
    att->q = A->qkv, att->ldq = W3, att->q_seq = T * W3;
    att->k = A->qkv + C, att->ldk = W3, att->k_seq = T * W3;
    att->v = A->qkv + C + Ekv, att->ldv = W3, att->v_seq = T * W3;
    att->out = A->atty, att->ldo = C, att->o_seq = T * C;
    att->lse = A->lse;
}

double llm__backprop_run(llm_trainer *tr, const llm_token *inputs, const llm_token *targets,
                         float dscale) {
    const llm_model *m = tr->model;
    llm__pool *pool = tr->pool;
    llm__acts *a = &tr->a;
    const llm__grads *g = &tr->g;
    const size_t B = tr->B, T = tr->T, N = B * T, C = m->cfg.n_embd, F = m->cfg.n_ff;
    const size_t NH = m->cfg.n_head, NKV = m->cfg.n_head_kv, D = m->head_dim;
    const size_t V = m->cfg.n_vocab, Ekv = m->n_embd_kv, W3 = C + 2 * Ekv;
    const size_t nL = m->cfg.n_layer;
    const int gpt2 = m->cfg.arch == LLM_ARCH_GPT2;
    const float *x;
    double loss_sum = 0.0;
    llm__attn_args att;
    size_t l, n;

    /* ---- forward ---- */
    llm__ops_embed(a->encoded, inputs, m->tok_embd, gpt2 ? m->pos_embd : NULL, N, T, 0, C);
    for (l = 0; l < nL; l++) {
        const llm__layer *P = &m->layers[l];
        llm__tlayer *A = &a->layers[l];
        x = l ? a->layers[l - 1].res3 : a->encoded; /* (N, C) block input */
        norm_fwd(m, A->ln1, A->ln1_mean, A->ln1_rstd, x, P->attn_norm, P->attn_norm_b, N);
        if (P->wqkv) {
            llm__ops_matmul_ld(pool, A->qkv, W3, A->ln1, P->wqkv, P->bqkv, N, C, W3, 0);
        } else {
            llm__ops_matmul_ld(pool, A->qkv, W3, A->ln1, P->wq, P->bq, N, C, C, 0);
            llm__ops_matmul_ld(pool, A->qkv + C, W3, A->ln1, P->wk, P->bk, N, C, Ekv, 0);
            llm__ops_matmul_ld(pool, A->qkv + C + Ekv, W3, A->ln1, P->wv, P->bv, N, C, Ekv,
                               0);
        }
        if (!gpt2) {
            llm__grad_rope(A->qkv, W3, 0, NH, D, N, T, a->rope_cos, a->rope_sin, 1);
            llm__grad_rope(A->qkv, W3, C, NKV, D, N, T, a->rope_cos, a->rope_sin, 1);
        }
        attn_args(&att, A, B, T, NH, NKV, D);
        llm__attn_fwd(pool, &att);
        /* res2 = x + atty·woᵀ + bo */
        memcpy(A->res2, x, N * C * sizeof *x);
        llm__ops_matmul_ld(pool, A->res2, C, A->atty, P->wo, P->bo, N, C, C, 1);
        norm_fwd(m, A->ln2, A->ln2_mean, A->ln2_rstd, A->res2, P->ffn_norm, P->ffn_norm_b, N);
        if (gpt2) {
            llm__ops_matmul_ld(pool, A->fc, F, A->ln2, P->w_up, P->b_up, N, C, F, 0);
            llm__grad_gelu_fwd(pool, A->fc_act, A->fc, N * F);
        } else {
            llm__ops_matmul_ld(pool, A->fc, F, A->ln2, P->w_gate, NULL, N, C, F, 0);
            llm__ops_matmul_ld(pool, A->up, F, A->ln2, P->w_up, NULL, N, C, F, 0);
            llm__grad_swiglu_fwd(pool, A->fc_act, A->fc, A->up, N * F);
        }
        /* res3 = res2 + fc_act·w_downᵀ + b_down */
        memcpy(A->res3, A->res2, N * C * sizeof *x);
        llm__ops_matmul_ld(pool, A->res3, C, A->fc_act, P->w_down, P->b_down, N, F, C, 1);
    }
    x = nL ? a->layers[nL - 1].res3 : a->encoded;
    norm_fwd(m, a->lnf, a->lnf_mean, a->lnf_rstd, x, m->out_norm, m->out_norm_b, N);

    /* ---- head and loss, fused with the head's backward (grad_xent.c) ---- */
    {
        llm__xent_args xa;
        xa.N = N, xa.C = C, xa.V = V;
        xa.x = a->lnf;
        xa.w = m->output;
        xa.tgt = targets;
        xa.R = tr->logit_rows, xa.Vc = tr->logit_cols;
        xa.scratch = a->logits;
        llm__gxent_fwd_bwd(pool, a->losses, a->dln, g->output, &xa, dscale);
    }
    for (n = 0; n < N; n++)
        loss_sum += a->losses[n];
    if (dscale == 0.0f)
        return loss_sum;

    /* ---- backward ---- */
    memset(a->dres, 0, N * C * sizeof *a->dres);
    norm_bwd(m, a->dres, g->out_norm, g->out_norm_b, a->dln, x, m->out_norm, a->lnf_mean,
             a->lnf_rstd, N);
    llm__allreduce_ready(tr, 0); /* final norm and untied output are final */
    for (l = nL; l-- > 0;) {
        const llm__layer *P = &m->layers[l];
        const llm__layer *G = &g->layers[l];
        llm__tlayer *A = &a->layers[l];
        x = l ? a->layers[l - 1].res3 : a->encoded;
        /* MLP; dres = d(res3) */
        llm__grad_linear_bwd(pool, a->dfc_act, G->w_down, G->b_down, a->dres, C, A->fc_act,
                             P->w_down, N, F, C, 0);
        if (gpt2) {
            llm__grad_gelu_bwd(pool, a->dfc, a->dfc_act, A->fc, N * F);
            llm__grad_linear_bwd(pool, a->dln, G->w_up, G->b_up, a->dfc, F, A->ln2, P->w_up, N,
                                 C, F, 0);
        } else {
            llm__grad_swiglu_bwd(pool, a->dfc, a->dup, a->dfc_act, A->fc, A->up, N * F);
            llm__grad_linear_bwd(pool, a->dln, G->w_gate, NULL, a->dfc, F, A->ln2, P->w_gate, N,
                                 C, F, 0);
            llm__grad_linear_bwd(pool, a->dln, G->w_up, NULL, a->dup, F, A->ln2, P->w_up, N, C,
                                 F, 1);
        }
        norm_bwd(m, a->dres, G->ffn_norm, G->ffn_norm_b, a->dln, A->res2, P->ffn_norm,
                 A->ln2_mean, A->ln2_rstd, N);
        /* attention; dres = d(res2) */
        llm__grad_linear_bwd(pool, a->datty, G->wo, G->bo, a->dres, C, A->atty, P->wo, N, C, C,
                             0);
        attn_args(&att, A, B, T, NH, NKV, D);
        llm__gattn_bwd(pool, &att, a->datty, a->dqkv, a->dqkv + C, a->dqkv + C + Ekv);
        if (!gpt2) {
            llm__grad_rope(a->dqkv, W3, 0, NH, D, N, T, a->rope_cos, a->rope_sin, -1);
            llm__grad_rope(a->dqkv, W3, C, NKV, D, N, T, a->rope_cos, a->rope_sin, -1);
        }
        if (P->wqkv) {
            llm__grad_linear_bwd(pool, a->dln, G->wqkv, G->bqkv, a->dqkv, W3, A->ln1, P->wqkv, N,
                                 C, W3, 0);
        } else {
            llm__grad_linear_bwd(pool, a->dln, G->wq, G->bq, a->dqkv, W3, A->ln1, P->wq, N, C, C,
                                 0);
            llm__grad_linear_bwd(pool, a->dln, G->wk, G->bk, a->dqkv + C, W3, A->ln1, P->wk, N,
                                 C, Ekv, 1);
            llm__grad_linear_bwd(pool, a->dln, G->wv, G->bv, a->dqkv + C + Ekv, W3, A->ln1,
                                 P->wv, N, C, Ekv, 1);
        }
        norm_bwd(m, a->dres, G->attn_norm, G->attn_norm_b, a->dln, x, P->attn_norm,
                 A->ln1_mean, A->ln1_rstd, N);
        llm__allreduce_ready(tr, 1 + (nL - 1 - l)); /* block l is final */
    }
    llm__grad_embed_bwd(g->tok_embd, gpt2 ? g->pos_embd : NULL, a->dres, inputs, N, T, C);
    llm__allreduce_ready(tr, nL + 1); /* embeddings */
    return loss_sum;
}
