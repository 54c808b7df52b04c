/*
 * ctx.c - the llm_ctx handle: KV cache, scratch memory and the forward
 * pass of both architectures; cross-entropy loss and windowed evaluation.
 *
 * Invariants: all memory of a context is one aligned block allocated in
 * llm_ctx_create and sized by ctx_layout (llm_ctx_estimate_bytes reports
 * the same figure), so no call after creation allocates. kcache/vcache
 * rows 0..n_past-1 of every layer hold the keys/values (after RoPE) of the
 * tokens decoded so far; a failed or cancelled call leaves n_past and
 * those rows as they were. The forward pass is one code path for both
 * architectures: the config selects norm, position encoding and MLP.
 * Its kernels are lib/model/ops.c's, which the trainer's forward shares;
 * RoPE angles are tabulated once per call for the positions it covers.
 *
 * Attention is tiled with an online softmax (attn.c: no T x T scores,
 * except the materialising kernel of a layer captured for
 * LLM_CTX_ATTENTION); losses are fused with the output head and chunked
 * over the vocabulary (xent.c: R x Vc logits at once, not rows of V).
 *
 * Threads: a context with n_threads > 1 owns a thread pool (llm__pool,
 * n_threads - 1 workers started at create) on which attention heads,
 * norms, activations and matrix-vector products run; with n_threads = 1
 * nothing but the calling thread computes. Matrix products with several
 * rows are one OpenBLAS sgemm under the process-wide BLAS lock
 * (lib/core/gemm.c: the serial OpenBLAS is not thread-safe).
 */
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "format/gguf.h"
#include "model/attn.h"
#include "model/model.h"
#include "model/ops.h"
#include "model/qmat.h"
#include "model/qmv.h"
#include "model/xent.h"

/* Rows of logits computed at a time for losses: bounds the scratch
 * (LOGIT_ROWS * n_vocab floats) while keeping the output matrix, read
 * once per chunk, from dominating the memory traffic. */
#define LOGIT_ROWS 256
/* Logits held at once by the fused loss of an F32 output matrix (xent.c):
 * 1M floats (4 MB), blocks of 256 rows by chunks of 4096 columns, whose
 * product is still an efficient sgemm. */
#define XENT_FLOATS ((size_t)1 << 20)

struct llm_ctx {
    llm__obj obj;
    const llm_model *model;
    llm_ctx_opts opts;
    size_t n_ctx;       /* positions in the KV cache */
    size_t n_batch;     /* tokens per forward step */
    int n_threads;
    llm__pool *pool;    /* NULL when n_threads == 1 */
    size_t n_past;      /* tokens in the KV cache */
    atomic_int interrupt;
    float *mem;         /* the one block everything below points into */
    float *kcache;      /* (L, NKV, n_ctx, D): head-major, see run_blocks */
    float *vcache;      /* (L, NKV, n_ctx, D) */
    float *x;           /* (n_batch, C) residual stream */
    float *xn;          /* (n_batch, C) normed input of a sub-block */
    float *q;           /* (n_batch, C) */
    float *k;           /* (n_batch, Ekv) */
    float *v;           /* (n_batch, Ekv) */
    float *att;         /* (n_batch, C) attention output before projection */
    float *h;           /* (n_batch, F) MLP hidden (gate for llama) */
    float *h2;          /* (n_batch, F) llama up projection */
    float *scores;      /* (n_threads, n_ctx) scores of the captured layer, one row per thread */
    float *logits;      /* (logit_rows, V); row 0 is the decode result */
    size_t logit_rows;  /* min(n_batch, LOGIT_ROWS) */
    size_t xent_R;      /* F32 output: rows per block of the fused loss (xent.h), */
    size_t xent_Vc;     /* columns per chunk; logits then holds that scratch */
    float *rope_cos;    /* (n_batch, D/2) llama: RoPE tables of the current step */
    float *rope_sin;    /* (n_batch, D/2) */
    llm_token *tokbuf;  /* (n_batch) token staging for windowed eval */
    float *att_probs;   /* (n_ctx, n_ctx) captured probabilities, or NULL */
    float *qtile;       /* (LLM__QMAT_TILE_FLOATS) dequantized Q8_0 rows, or NULL */
    int32_t cap_layer;  /* layer/head to capture, -1: none */
    int32_t cap_head;
    size_t cap_rows;    /* rows of att_probs written by the latest call */
    int has_logits;     /* logits row 0 belongs to the latest decode */
};

/* ------------------------------------------------------------------------
 * Options and sizing
 * ------------------------------------------------------------------------ */

int llm_ctx_opts_init(llm_ctx_opts *o, size_t struct_size) {
    return llm__opts_init(o, struct_size, "llm_ctx_opts_init");
}

typedef struct ctx_sizes {
    size_t n_ctx, n_batch, off[17], total; /* floats */
    size_t xent_R, xent_Vc;                /* fused loss blocking (F32 output) */
} ctx_sizes;

static size_t pad16(size_t n) { return (n + 15) / 16 * 16; }

/* Resolves defaults and computes the offsets of every buffer. */
static int ctx_layout(llm__obj *err, const llm_model *m, const llm_ctx_opts *o, ctx_sizes *s) {
    const llm_model_config *c = &m->cfg;
    size_t C = c->n_embd, Ekv = m->n_embd_kv, F = c->n_ff, V = c->n_vocab, L = c->n_layer;
    size_t i = 0, t = 0, sz[16];
    if (o->flags & ~(uint32_t)LLM_CTX_ATTENTION)
        return llm__err(err, LLM_ERR_UNSUPPORTED, "llm_ctx_opts: unknown flags 0x%x",
                        (unsigned)(o->flags & ~(uint32_t)LLM_CTX_ATTENTION));
    /* Default n_ctx: the model's, but at most LLM_CTX_DEFAULT_N_CTX. A
     * file's context_length alone must not decide how much a default
     * context allocates (a 7 KB GGUF may claim 2^24 positions: ~5.5 GB of
     * KV cache); callers that want more ask for it explicitly. */
    s->n_ctx = o->n_ctx ? o->n_ctx
                        : (c->n_ctx < LLM_CTX_DEFAULT_N_CTX ? c->n_ctx : LLM_CTX_DEFAULT_N_CTX);
    if (c->arch == LLM_ARCH_GPT2 && s->n_ctx > c->n_ctx)
        return llm__err(err, LLM_ERR_RANGE,
                        "llm_ctx_opts.n_ctx %zu exceeds the model's %u learned positions",
                        s->n_ctx, (unsigned)c->n_ctx);
    if (s->n_ctx > (1u << 24))
        return llm__err(err, LLM_ERR_RANGE, "llm_ctx_opts.n_ctx %zu is too large", s->n_ctx);
    s->n_batch = o->n_batch ? o->n_batch : s->n_ctx;
    if (s->n_batch > (1u << 24))
        return llm__err(err, LLM_ERR_RANGE, "llm_ctx_opts.n_batch %zu is too large", s->n_batch);
    if (o->n_threads > 1024)
        return llm__err(err, LLM_ERR_RANGE, "llm_ctx_opts.n_threads %u is too large",
                        (unsigned)o->n_threads);
    sz[0] = llm__mem_mul(llm__mem_mul(L, s->n_ctx), Ekv); /* kcache */
    sz[1] = sz[0];                                        /* vcache */
    /* Every size with llm__mem_mul (SIZE_MAX on overflow, refused below),
     * so no product can wrap even where size_t is 32 bits. */
    sz[2] = llm__mem_mul(s->n_batch, C);                  /* x */
    sz[3] = sz[2];                                        /* xn */
    sz[4] = sz[2];                                        /* q */
    sz[5] = llm__mem_mul(s->n_batch, Ekv);                /* k */
    sz[6] = sz[5];                                        /* v */
    sz[7] = sz[2];                                        /* att */
    sz[8] = llm__mem_mul(s->n_batch, F);                  /* h */
    sz[9] = c->arch == LLM_ARCH_LLAMA ? sz[8] : 0;        /* h2 */
    /* scores: only the materialising attention of a captured layer uses them */
    sz[10] = (o->flags & LLM_CTX_ATTENTION)
                 ? llm__mem_mul(s->n_ctx, o->n_threads ? o->n_threads : 1) : 0;
    if (m->output_type == LLM__GGML_F32) {
        /* logits: the decode row, and the fused loss's chunk of logits
         * (R x Vc, XENT_FLOATS at most), never LOGIT_ROWS whole rows */
        llm__xent_plan(s->n_batch, V, XENT_FLOATS, 1, &s->xent_R, &s->xent_Vc);
        sz[11] = llm__xent_scratch_floats(s->xent_R, s->xent_Vc);
        sz[11] = sz[11] > V ? sz[11] : V;
    } else { /* quantized output: rows of logits, scored row by row */
        s->xent_R = s->xent_Vc = 0;
        sz[11] = llm__mem_mul(s->n_batch < LOGIT_ROWS ? s->n_batch : LOGIT_ROWS, V);
    }
    sz[12] = c->arch == LLM_ARCH_LLAMA ? llm__mem_mul(s->n_batch, 2 * (m->head_dim / 2))
                                       : 0;                /* rope */
    sz[13] = (s->n_batch * sizeof(llm_token) + sizeof(float) - 1) / sizeof(float);
    sz[14] = (o->flags & LLM_CTX_ATTENTION) ? llm__mem_mul(s->n_ctx, s->n_ctx) : 0;
    /* qtile: scratch of Q8_0 products of more than one row (the int8
     * matrix kernel packs the activations there, from 2 rows; without
     * one, dequantized tiles of w from LLM__QMAT_SGEMM_ROWS) */
    sz[15] = llm__model_is_quantized(m) && s->n_batch >= 2 ? LLM__QMAT_TILE_FLOATS : 0;
    for (i = 0; i < 16; i++) {
        if (sz[i] > SIZE_MAX / 8 - t)
            return llm__err(err, LLM_ERR_NOMEM, "llm_ctx: the requested sizes overflow");
        s->off[i] = t;
        t += pad16(sz[i]);
    }
    s->total = t;
    return LLM_OK;
}

int llm_ctx_estimate_bytes(size_t *out, const llm_model *model, const llm_ctx_opts *opts_in) {
    llm_ctx_opts o;
    ctx_sizes s;
    int rc;
    if (!out)
        return llm__err(NULL, LLM_ERR_INVALID, "llm_ctx_estimate_bytes: out is NULL");
    if (!llm__obj_is(model, LLM__MAGIC_MODEL))
        return llm__err(NULL, LLM_ERR_INVALID, "llm_ctx_estimate_bytes: model is NULL or not a model");
    if ((rc = llm__opts_read(NULL, &o, sizeof o, opts_in, "llm_ctx_opts")) != LLM_OK)
        return rc;
    if ((rc = ctx_layout(NULL, model, &o, &s)) != LLM_OK)
        return rc;
    *out = s.total * sizeof(float) + LLM__ALIGN + 64 + sizeof(llm_ctx);
    return LLM_OK;
}

int llm_ctx_create(llm_ctx **out, const llm_model *model, const llm_ctx_opts *opts_in) {
    llm_ctx_opts o;
    ctx_sizes s;
    llm_ctx *c;
    int rc;
    if (!out)
        return llm__err(NULL, LLM_ERR_INVALID, "llm_ctx_create: out is NULL");
    *out = NULL;
    if (!llm__obj_is(model, LLM__MAGIC_MODEL))
        return llm__err(NULL, LLM_ERR_INVALID, "llm_ctx_create: model is NULL or not a model");
    if ((rc = llm__opts_read(NULL, &o, sizeof o, opts_in, "llm_ctx_opts")) != LLM_OK)
        return rc;
    if ((rc = ctx_layout(NULL, model, &o, &s)) != LLM_OK)
        return rc;
    c = llm__obj_new(sizeof *c, LLM__MAGIC_CTX, o.alloc, o.alloc_ud);
    if (!c)
        return llm__err(NULL, LLM_ERR_NOMEM, "llm_ctx_create: out of memory");
    c->mem = llm__mem_alloc_aligned(&c->obj.mem, llm__mem_mul(s.total, sizeof(float)));
    if (!c->mem) {
        llm__obj_delete(c, sizeof *c);
        return llm__err(NULL, LLM_ERR_NOMEM,
                        "llm_ctx_create: cannot allocate %zu bytes of KV cache and scratch",
                        s.total * sizeof(float));
    }
    c->model = model;
    c->opts = o;
    c->n_ctx = s.n_ctx;
    c->n_batch = s.n_batch;
    c->n_threads = o.n_threads ? (int)o.n_threads : 1;
    atomic_init(&c->interrupt, 0);
    if (c->n_threads > 1 && (rc = llm__pool_create(&c->pool, c->n_threads, &c->obj.mem)) != LLM_OK) {
        llm__mem_free_aligned(&c->obj.mem, c->mem);
        llm__obj_delete(c, sizeof *c);
        return llm__err(NULL, rc, "llm_ctx_create: cannot start %d threads", (int)o.n_threads);
    }
    c->kcache = c->mem + s.off[0];
    c->vcache = c->mem + s.off[1];
    c->x = c->mem + s.off[2];
    c->xn = c->mem + s.off[3];
    c->q = c->mem + s.off[4];
    c->k = c->mem + s.off[5];
    c->v = c->mem + s.off[6];
    c->att = c->mem + s.off[7];
    c->h = c->mem + s.off[8];
    c->h2 = c->mem + s.off[9];
    c->scores = c->mem + s.off[10];
    c->logits = c->mem + s.off[11];
    c->logit_rows = s.n_batch < LOGIT_ROWS ? s.n_batch : LOGIT_ROWS;
    c->xent_R = s.xent_R;
    c->xent_Vc = s.xent_Vc;
    c->rope_cos = c->mem + s.off[12];
    c->rope_sin = c->rope_cos + s.n_batch * (model->head_dim / 2);
    c->tokbuf = (llm_token *)(c->mem + s.off[13]);
    c->att_probs = (o.flags & LLM_CTX_ATTENTION) ? c->mem + s.off[14] : NULL;
    c->qtile = llm__model_is_quantized(model) && s.n_batch >= 2 ? c->mem + s.off[15] : NULL;
    c->cap_layer = c->cap_head = -1;
    *out = c;
    return LLM_OK;
}

void llm_ctx_free(llm_ctx *c) {
    if (!llm__obj_is(c, LLM__MAGIC_CTX))
        return;
    llm__pool_free(c->pool);
    llm__mem_free_aligned(&c->obj.mem, c->mem);
    llm__obj_delete(c, sizeof *c);
}

void llm_ctx_interrupt(llm_ctx *c) {
    if (llm__obj_is(c, LLM__MAGIC_CTX))
        atomic_store(&c->interrupt, 1);
}

/* ------------------------------------------------------------------------
 * Forward pass
 * ------------------------------------------------------------------------ */

static int check_cancel(llm_ctx *c) {
    if (atomic_exchange(&c->interrupt, 0))
        return llm__err(&c->obj, LLM_ERR_CANCELLED, "interrupted by llm_ctx_interrupt");
    return LLM_OK;
}

static int check_tokens(llm_ctx *c, const llm_token *tok, size_t n, const char *fn) {
    size_t i;
    const uint32_t V = c->model->cfg.n_vocab;
    for (i = 0; i < n; i++)
        if (tok[i] < 0 || (uint32_t)tok[i] >= V)
            return llm__err(&c->obj, LLM_ERR_RANGE,
                            "%s: token %ld at position %zu is outside [0, %u)", fn,
                            (long)tok[i], i, (unsigned)V);
    return LLM_OK;
}

/* Attention of one layer as (row, head) items, items [task*per,
 * (task+1)*per) per task: rows are tokens b*T + t, heads the query heads.
 * Each task has its own n_ctx slice of c->scores. */
typedef struct att_job {
    llm_ctx *c;
    size_t l, T, pos0, n_items, per;
    int cache;
} att_job;

static void att_task(void *arg, int task, int n_tasks) {
    const att_job *j = arg;
    llm_ctx *c = j->c;
    const llm_model *m = c->model;
    const size_t C = m->cfg.n_embd, Ekv = m->n_embd_kv, D = m->head_dim;
    const size_t NH = m->cfg.n_head, NKV = m->cfg.n_head_kv;
    size_t it = (size_t)task * j->per, end = it + j->per;
    float *scores = c->scores + (size_t)task * c->n_ctx;
    (void)n_tasks;
    if (end > j->n_items)
        end = j->n_items;
    for (; it < end; it++) {
        const size_t row = it / NH, h = it % NH, b = row / j->T, t = row % j->T;
        const size_t pos = (j->cache ? j->pos0 : 0) + t;
        const float *k, *v;
        if (j->cache) {
            /* head-major cache: KV head h / rep is its own (n_ctx, D)
             * matrix, so the kernel sees one group of rep query heads
             * and a single KV head at offset 0 */
            const size_t rep = NH / NKV, g = h / rep;
            k = c->kcache + (j->l * NKV + g) * c->n_ctx * D;
            v = c->vcache + (j->l * NKV + g) * c->n_ctx * D;
            llm__ops_attention(c->att + row * C + g * rep * D, c->q + row * C + g * rep * D, k,
                               v, D, pos, rep, 1, D, h % rep, h % rep + 1, scores);
        } else {
            k = c->k + b * j->T * Ekv;
            v = c->v + b * j->T * Ekv;
            llm__ops_attention(c->att + row * C, c->q + row * C, k, v, Ekv, pos, NH, NKV, D, h,
                               h + 1, scores);
        }
        if (c->att_probs && b == 0 && (int32_t)j->l == c->cap_layer && (int32_t)h == c->cap_head) {
            float *dst = c->att_probs + pos * c->n_ctx;
            memcpy(dst, scores, (pos + 1) * sizeof(float));
            memset(dst + pos + 1, 0, (c->n_ctx - pos - 1) * sizeof(float));
        }
    }
}

/* Row-wise and element-wise kernels shared out over the pool: each task
 * takes a contiguous range of rows (norms) or of F-wide rows (MLP
 * activations), so the result is the same for any number of threads. */
enum { EW_LAYERNORM, EW_RMSNORM, EW_GELU, EW_SWIGLU };

typedef struct ew_job {
    int op;
    float *y;
    const float *x, *g, *b;
    size_t rows, width, per;
    float eps;
} ew_job;

static void ew_task(void *arg, int task, int n_tasks) {
    const ew_job *j = arg;
    size_t r0 = (size_t)task * j->per, n;
    (void)n_tasks;
    if (r0 >= j->rows)
        return;
    n = j->rows - r0 < j->per ? j->rows - r0 : j->per;
    switch (j->op) {
    case EW_LAYERNORM:
        llm__ops_layernorm(j->y + r0 * j->width, j->x + r0 * j->width, j->g, j->b, n, j->width,
                           j->eps);
        break;
    case EW_RMSNORM:
        llm__ops_rmsnorm(j->y + r0 * j->width, j->x + r0 * j->width, j->g, n, j->width, j->eps);
        break;
    case EW_GELU:
        llm__ops_gelu(j->y + r0 * j->width, n * j->width);
        break;
    default:
        llm__ops_swiglu(j->y + r0 * j->width, j->x + r0 * j->width, n * j->width);
        break;
    }
}

static void ew_run(llm_ctx *c, int op, float *y, const float *x, const float *g, const float *b,
                   size_t rows, size_t width, float eps) {
    ew_job j;
    int threads = llm__pool_size(c->pool);
    j.op = op;
    j.y = y;
    j.x = x;
    j.g = g;
    j.b = b;
    j.rows = rows;
    j.width = width;
    j.eps = eps;
    j.per = (rows + (size_t)threads - 1) / (size_t)threads;
    if (threads == 1 || rows < 2) {
        j.per = rows;
        ew_task(&j, 0, 1);
    } else {
        llm__pool_run(c->pool, ew_task, &j, (int)((rows + j.per - 1) / j.per));
    }
}

/* xn(M, C) = norm(x) with gain g (and bias b): LayerNorm for GPT-2,
 * RMSNorm (b unused) for Llama. */
static void norm_rows(llm_ctx *c, const float *g, const float *b, size_t M) {
    const llm_model_config *cfg = &c->model->cfg;
    if (cfg->arch == LLM_ARCH_GPT2)
        ew_run(c, EW_LAYERNORM, c->xn, c->x, g, b, M, cfg->n_embd, cfg->norm_eps);
    else
        ew_run(c, EW_RMSNORM, c->xn, c->x, g, NULL, M, cfg->n_embd, cfg->norm_eps);
}

/* Runs embedding and all blocks over n_seq sequences of T tokens (rows
 * b*T + t), the first at absolute position pos0. With `cache`, n_seq is 1
 * and keys/values go to rows pos0.. of the KV cache; otherwise each
 * sequence attends to its own rows of c->k / c->v. On return c->xn holds
 * the final-normed hidden states. */
static int run_blocks(llm_ctx *c, const llm_token *tok, size_t n_seq, size_t T, size_t pos0,
                      int cache) {
    const llm_model *m = c->model;
    const llm_model_config *cfg = &m->cfg;
    const size_t C = cfg->n_embd, Ekv = m->n_embd_kv, F = cfg->n_ff, D = m->head_dim;
    const size_t M = n_seq * T, NH = cfg->n_head, NKV = cfg->n_head_kv;
    const int gpt2 = cfg->arch == LLM_ARCH_GPT2;
    size_t l, b;
    int rc;

    /* Angles of positions pos0..pos0+T-1, shared by all layers. */
    if (!gpt2)
        llm__ops_rope_table(c->rope_cos, c->rope_sin, pos0, T, D, (double)cfg->rope_base);
    /* x = wte[tok] (+ wpe[pos]) */
    llm__qmat_embed(c->x, tok, m->tok_embd, m->tok_embd_type, gpt2 ? m->pos_embd : NULL, M, T,
                    pos0, C);

    for (l = 0; l < cfg->n_layer; l++) {
        const llm__layer *L = &m->layers[l];
        if ((rc = check_cancel(c)) != LLM_OK)
            return rc;
        /* Attention sub-block: x += Wo · attn(norm(x)) + bo */
        norm_rows(c, L->attn_norm, L->attn_norm_b, M);
        if (M == 1) { /* decode: one job for the three (qmv.c) */
            const llm__qmv_part P[3] = {{c->q, L->wq, L->wq_type, L->bq, C, 0},
                                        {c->k, L->wk, L->wk_type, L->bk, Ekv, 0},
                                        {c->v, L->wv, L->wv_type, L->bv, Ekv, 0}};
            llm__qmv_run(c->pool, P, 3, c->xn, C, LLM__QMV_NONE);
        } else {
            llm__qmat_matmul(c->pool, c->qtile, c->q, c->xn, L->wq, L->wq_type, L->bq, M, C, C,
                             0);
            llm__qmat_matmul(c->pool, c->qtile, c->k, c->xn, L->wk, L->wk_type, L->bk, M, C,
                             Ekv, 0);
            llm__qmat_matmul(c->pool, c->qtile, c->v, c->xn, L->wv, L->wv_type, L->bv, M, C,
                             Ekv, 0);
        }
        if (!gpt2)
            for (b = 0; b < n_seq; b++) {
                llm__ops_rope_rows(c->q + b * T * C, C, T, NH, D, c->rope_cos, c->rope_sin, 1);
                llm__ops_rope_rows(c->k + b * T * Ekv, Ekv, T, NKV, D, c->rope_cos, c->rope_sin,
                                   1);
            }
        if (cache) {
            /* The cache is head-major, (NKV, n_ctx, D) per layer: decoding
             * reads each head's keys and values as one sequential stream
             * (rows of D floats back to back) instead of D floats every
             * Ekv, which the hardware prefetchers follow far better
             * (attention was 8% of a GPT-2 124M decode step). */
            float *kc = c->kcache + l * NKV * c->n_ctx * D; /* (NKV, n_ctx, D) */
            float *vc = c->vcache + l * NKV * c->n_ctx * D;
            size_t t, g;
            for (g = 0; g < NKV; g++)
                for (t = 0; t < T; t++) {
                    memcpy(kc + (g * c->n_ctx + pos0 + t) * D, c->k + t * Ekv + g * D,
                           D * sizeof(float));
                    memcpy(vc + (g * c->n_ctx + pos0 + t) * D, c->v + t * Ekv + g * D,
                           D * sizeof(float));
                }
        }
        if (c->att_probs && (int32_t)l == c->cap_layer) {
            /* Capturing this layer's probabilities (LLM_CTX_ATTENTION):
             * the materialising kernel, row by row, keeps them. */
            att_job j;
            int threads = llm__pool_size(c->pool);
            j.c = c;
            j.l = l;
            j.T = T;
            j.pos0 = pos0;
            j.cache = cache;
            j.n_items = M * NH;
            j.per = (j.n_items + (size_t)threads - 1) / (size_t)threads;
            if (threads == 1 || j.n_items < 2) {
                j.per = j.n_items;
                att_task(&j, 0, 1);
            } else {
                llm__pool_run(c->pool, att_task, &j, (int)((j.n_items + j.per - 1) / j.per));
            }
        } else {
            /* Tiled attention with an online softmax (attn.c): keys of
             * the cache rows 0..pos0+T-1, or of each sequence's own rows. */
            llm__attn_args A;
            memset(&A, 0, sizeof A);
            A.n_seq = n_seq;
            A.T = T;
            A.pos0 = cache ? pos0 : 0;
            A.n_head = NH;
            A.n_head_kv = NKV;
            A.D = D;
            A.q = c->q, A.ldq = C, A.q_seq = T * C;
            A.out = c->att, A.ldo = C, A.o_seq = T * C;
            if (cache) {
                A.k = c->kcache + l * NKV * c->n_ctx * D, A.ldk = D, A.k_seq = 0;
                A.v = c->vcache + l * NKV * c->n_ctx * D, A.ldv = D, A.v_seq = 0;
                A.k_hs = A.v_hs = c->n_ctx * D;
            } else {
                A.k = c->k, A.ldk = Ekv, A.k_seq = T * Ekv;
                A.v = c->v, A.ldv = Ekv, A.v_seq = T * Ekv;
            }
            llm__attn_fwd(c->pool, &A);
        }
        llm__qmat_matmul(c->pool, c->qtile, c->x, c->att, L->wo, L->wo_type, L->bo, M, C, C, 1);

        /* MLP sub-block: x += down(act(norm(x))) */
        norm_rows(c, L->ffn_norm, L->ffn_norm_b, M);
        if (M == 1) { /* decode: products and activation in one job */
            const llm__qmv_part P[2] = {
                {c->h, gpt2 ? L->w_up : L->w_gate, gpt2 ? L->w_up_type : L->w_gate_type,
                 gpt2 ? L->b_up : NULL, F, 0},
                {c->h2, L->w_up, L->w_up_type, NULL, F, 0}};
            llm__qmv_run(c->pool, P, gpt2 ? 1 : 2, c->xn, C,
                         gpt2 ? LLM__QMV_GELU : LLM__QMV_SWIGLU);
        } else if (gpt2) {
            llm__qmat_matmul(c->pool, c->qtile, c->h, c->xn, L->w_up, L->w_up_type, L->b_up, M,
                             C, F, 0);
            ew_run(c, EW_GELU, c->h, NULL, NULL, NULL, M, F, 0.0f);
        } else {
            llm__qmat_matmul(c->pool, c->qtile, c->h, c->xn, L->w_gate, L->w_gate_type, NULL, M,
                             C, F, 0);
            llm__qmat_matmul(c->pool, c->qtile, c->h2, c->xn, L->w_up, L->w_up_type, NULL, M, C,
                             F, 0);
            ew_run(c, EW_SWIGLU, c->h, c->h2, NULL, NULL, M, F, 0.0f);
        }
        llm__qmat_matmul(c->pool, c->qtile, c->x, c->h, L->w_down, L->w_down_type, L->b_down, M,
                         F, C, 1);
    }
    norm_rows(c, m->out_norm, m->out_norm_b, M);
    return LLM_OK;
}

/* logits(n, V) = rows(n, C) · outputᵀ */
static void project(const llm_ctx *c, float *logits, const float *rows, size_t n) {
    llm__qmat_matmul(c->pool, c->qtile, logits, rows, c->model->output, c->model->output_type,
                     NULL, n, c->model->cfg.n_embd, c->model->cfg.n_vocab, 0);
}

#define CHECK_CTX(c, fn)                                                       \
    do {                                                                       \
        if (!llm__obj_is((c), LLM__MAGIC_CTX))                                 \
            return llm__err(NULL, LLM_ERR_INVALID, fn ": ctx is NULL or not a context"); \
    } while (0)

int llm_ctx_forward(float *logits, size_t logits_cap, size_t *n_needed, llm_ctx *c,
                    const llm_token *tokens, size_t n_seq, size_t n_tokens, uint32_t flags) {
    size_t V, need, b;
    int rc;
    CHECK_CTX(c, "llm_ctx_forward");
    V = c->model->cfg.n_vocab;
    if (flags & ~(uint32_t)LLM_FORWARD_LAST)
        return llm__err(&c->obj, LLM_ERR_UNSUPPORTED, "llm_ctx_forward: unknown flags 0x%x",
                        (unsigned)(flags & ~(uint32_t)LLM_FORWARD_LAST));
    if (!tokens || n_seq == 0 || n_tokens == 0)
        return llm__err(&c->obj, LLM_ERR_INVALID,
                        "llm_ctx_forward: tokens is NULL or n_seq/n_tokens is 0");
    if (n_tokens > c->n_ctx)
        return llm__err(&c->obj, LLM_ERR_RANGE,
                        "llm_ctx_forward: %zu tokens per sequence exceed the context's n_ctx %zu",
                        n_tokens, c->n_ctx);
    if (n_seq > c->n_batch / n_tokens)
        return llm__err(&c->obj, LLM_ERR_RANGE,
                        "llm_ctx_forward: %zu x %zu tokens exceed the context's n_batch %zu",
                        n_seq, n_tokens, c->n_batch);
    need = (flags & LLM_FORWARD_LAST) ? n_seq * V : n_seq * n_tokens * V;
    if (n_needed)
        *n_needed = need;
    if (logits_cap < need)
        return llm__err(&c->obj, LLM_ERR_BUFFER_TOO_SMALL,
                        "llm_ctx_forward: logits buffer holds %zu floats, %zu needed", logits_cap,
                        need);
    if (!logits)
        return llm__err(&c->obj, LLM_ERR_INVALID, "llm_ctx_forward: logits is NULL");
    if ((rc = check_tokens(c, tokens, n_seq * n_tokens, "llm_ctx_forward")) != LLM_OK)
        return rc;
    if ((rc = run_blocks(c, tokens, n_seq, n_tokens, 0, 0)) != LLM_OK)
        return rc;
    c->cap_rows = n_tokens;
    if (flags & LLM_FORWARD_LAST) {
        for (b = 0; b < n_seq; b++)
            project(c, logits + b * V, c->xn + (b * n_tokens + n_tokens - 1) * c->model->cfg.n_embd, 1);
    } else {
        project(c, logits, c->xn, n_seq * n_tokens);
    }
    return LLM_OK;
}

int llm_ctx_decode(const float **logits, llm_ctx *c, const llm_token *tokens, size_t n_tokens) {
    size_t done = 0, n_past0;
    int rc;
    CHECK_CTX(c, "llm_ctx_decode");
    if (!tokens || n_tokens == 0)
        return llm__err(&c->obj, LLM_ERR_INVALID, "llm_ctx_decode: tokens is NULL or n_tokens is 0");
    if (n_tokens > c->n_ctx - c->n_past)
        return llm__err(&c->obj, LLM_ERR_RANGE,
                        "llm_ctx_decode: %zu tokens after %zu in the cache exceed n_ctx %zu",
                        n_tokens, c->n_past, c->n_ctx);
    if ((rc = check_tokens(c, tokens, n_tokens, "llm_ctx_decode")) != LLM_OK)
        return rc;
    n_past0 = c->n_past;
    c->has_logits = 0;
    while (done < n_tokens) {
        size_t n = n_tokens - done < c->n_batch ? n_tokens - done : c->n_batch;
        rc = run_blocks(c, tokens + done, 1, n, c->n_past, 1);
        if (rc == LLM_OK && n_tokens > c->n_batch)
            rc = llm__progress(&c->obj, c->opts.progress, c->opts.progress_ud,
                               LLM_PHASE_PREFILL, done + n, n_tokens);
        if (rc != LLM_OK) {
            c->n_past = n_past0;
            return rc;
        }
        c->n_past += n;
        done += n;
        if (done == n_tokens)
            project(c, c->logits, c->xn + (n - 1) * c->model->cfg.n_embd, 1);
    }
    c->has_logits = 1;
    c->cap_rows = c->n_past;
    if (logits)
        *logits = c->logits;
    return LLM_OK;
}

int llm_ctx_capture_attention(llm_ctx *c, int32_t layer, int32_t head) {
    CHECK_CTX(c, "llm_ctx_capture_attention");
    if (!c->att_probs)
        return llm__err(&c->obj, LLM_ERR_STATE,
                        "llm_ctx_capture_attention: the context was created without "
                        "LLM_CTX_ATTENTION in llm_ctx_opts.flags");
    if (layer < 0) {
        c->cap_layer = c->cap_head = -1;
        return LLM_OK;
    }
    if ((uint32_t)layer >= c->model->cfg.n_layer || head < 0 ||
        (uint32_t)head >= c->model->cfg.n_head)
        return llm__err(&c->obj, LLM_ERR_RANGE,
                        "llm_ctx_capture_attention: layer %d / head %d outside [0, %u) / [0, %u)",
                        (int)layer, (int)head, (unsigned)c->model->cfg.n_layer,
                        (unsigned)c->model->cfg.n_head);
    c->cap_layer = layer;
    c->cap_head = head;
    c->cap_rows = 0;
    return LLM_OK;
}

int llm_ctx_attention(const float **probs, size_t *n_rows, size_t *row_stride, const llm_ctx *c) {
    CHECK_CTX(c, "llm_ctx_attention");
    if (!probs || !n_rows || !row_stride)
        return llm__err((llm__obj *)(uintptr_t)&c->obj, LLM_ERR_INVALID,
                        "llm_ctx_attention: probs, n_rows or row_stride is NULL");
    if (!c->att_probs || c->cap_layer < 0)
        return llm__err((llm__obj *)(uintptr_t)&c->obj, LLM_ERR_STATE,
                        "llm_ctx_attention: no layer/head is being captured");
    *probs = c->att_probs;
    *n_rows = c->cap_rows;
    *row_stride = c->n_ctx;
    return LLM_OK;
}

int llm_ctx_logits(const float **logits, const llm_ctx *c) {
    CHECK_CTX(c, "llm_ctx_logits");
    if (!logits)
        return llm__err((llm__obj *)(uintptr_t)&c->obj, LLM_ERR_INVALID, "llm_ctx_logits: logits is NULL");
    if (!c->has_logits)
        return llm__err((llm__obj *)(uintptr_t)&c->obj, LLM_ERR_STATE,
                        "llm_ctx_logits: no decode has produced logits since the last reset");
    *logits = c->logits;
    return LLM_OK;
}

int llm_ctx_n_past(size_t *out, const llm_ctx *c) {
    CHECK_CTX(c, "llm_ctx_n_past");
    if (!out)
        return llm__err((llm__obj *)(uintptr_t)&c->obj, LLM_ERR_INVALID, "llm_ctx_n_past: out is NULL");
    *out = c->n_past;
    return LLM_OK;
}

int llm_ctx_n_ctx(size_t *out, const llm_ctx *c) {
    CHECK_CTX(c, "llm_ctx_n_ctx");
    if (!out)
        return llm__err((llm__obj *)(uintptr_t)&c->obj, LLM_ERR_INVALID, "llm_ctx_n_ctx: out is NULL");
    *out = c->n_ctx;
    return LLM_OK;
}

int llm_ctx_truncate(llm_ctx *c, size_t n_keep) {
    CHECK_CTX(c, "llm_ctx_truncate");
    if (n_keep > c->n_past)
        return llm__err(&c->obj, LLM_ERR_RANGE,
                        "llm_ctx_truncate: n_keep %zu is beyond the %zu cached tokens", n_keep,
                        c->n_past);
    /* Rows beyond n_keep are simply overwritten by the next decode. */
    c->n_past = n_keep;
    c->has_logits = 0;
    if (c->cap_rows > n_keep)
        c->cap_rows = n_keep;
    return LLM_OK;
}

int llm_ctx_reset(llm_ctx *c) {
    CHECK_CTX(c, "llm_ctx_reset");
    c->n_past = 0;
    c->has_logits = 0;
    c->cap_rows = 0;
    atomic_store(&c->interrupt, 0);
    return LLM_OK;
}

/* ------------------------------------------------------------------------
 * Loss
 * ------------------------------------------------------------------------ */

/* Adds the log-probabilities of `targets` under `n` rows of logits:
 * lp = z[y] - LSE(z). Negative targets are ignored (lp 0). */
static void score_rows(const float *logits, size_t n, size_t V, const llm_token *targets,
                       float *logprobs, double *sum, uint64_t *count) {
    size_t i;
    for (i = 0; i < n; i++) {
        double lp = 0.0;
        if (targets[i] >= 0) {
            float m;
            double ls = llm__ops_logsumexp(logits + i * V, V, &m);
            lp = ((double)logits[i * V + (size_t)targets[i]] - (double)m) - ls;
            *sum += lp;
            (*count)++;
        }
        if (logprobs)
            logprobs[i] = (float)lp;
    }
}

int llm_cross_entropy(double *loss, float *logprobs, const float *logits,
                      const llm_token *targets, size_t n_rows, size_t n_vocab) {
    size_t i;
    double sum = 0.0;
    uint64_t count = 0;
    if (!loss || !logits || !targets || n_vocab == 0)
        return llm__err(NULL, LLM_ERR_INVALID,
                        "llm_cross_entropy: loss, logits or targets is NULL or n_vocab is 0");
    for (i = 0; i < n_rows; i++)
        if (targets[i] >= 0 && (size_t)targets[i] >= n_vocab)
            return llm__err(NULL, LLM_ERR_RANGE,
                            "llm_cross_entropy: target %ld at row %zu is outside [0, %zu)",
                            (long)targets[i], i, n_vocab);
    score_rows(logits, n_rows, n_vocab, targets, logprobs, &sum, &count);
    *loss = count ? -sum / (double)count : NAN;
    return LLM_OK;
}

/* Log-probabilities of `targets` under n final-normed rows (n, C): the
 * fused, chunked head and log-sum-exp of xent.c for an F32 output matrix,
 * else the rows' logits in chunks of logit_rows and score_rows. */
static void score_hidden(llm_ctx *c, const float *rows, size_t n, const llm_token *targets,
                         float *logprobs, double *sum, uint64_t *count) {
    const size_t C = c->model->cfg.n_embd, V = c->model->cfg.n_vocab;
    size_t r0, r;
    if (c->xent_R) {
        llm__xent_args xa;
        llm__xent_stats st;
        xa.N = n, xa.C = C, xa.V = V;
        xa.x = rows;
        xa.w = c->model->output;
        xa.tgt = targets;
        xa.R = c->xent_R, xa.Vc = c->xent_Vc;
        xa.scratch = c->logits;
        llm__xent_stats_of(&st, &xa);
        for (r0 = 0; r0 < n; r0 += xa.R) {
            const size_t nr = n - r0 < xa.R ? n - r0 : xa.R;
            llm__xent_block(c->pool, &xa, r0, nr);
            for (r = 0; r < nr; r++) {
                double lp = 0.0;
                if (targets[r0 + r] >= 0) {
                    lp = (double)st.zy[r] - ((double)st.m[r] + log(st.l[r]));
                    *sum += lp;
                    (*count)++;
                }
                if (logprobs)
                    logprobs[r0 + r] = (float)lp;
            }
        }
        return;
    }
    for (r0 = 0; r0 < n; r0 += c->logit_rows) {
        const size_t nr = n - r0 < c->logit_rows ? n - r0 : c->logit_rows;
        project(c, c->logits, rows + r0 * C, nr);
        score_rows(c->logits, nr, V, targets + r0, logprobs ? logprobs + r0 : NULL, sum, count);
    }
}

int llm_ctx_loss(double *loss, float *logprobs, llm_ctx *c, const llm_token *inputs,
                 const llm_token *targets, size_t n_seq, size_t n_tokens) {
    size_t M, r, V;
    double sum = 0.0;
    uint64_t count = 0;
    int rc;
    CHECK_CTX(c, "llm_ctx_loss");
    if (!loss || !inputs || !targets || n_seq == 0 || n_tokens == 0)
        return llm__err(&c->obj, LLM_ERR_INVALID,
                        "llm_ctx_loss: loss, inputs or targets is NULL or a size is 0");
    if (n_tokens > c->n_ctx || n_seq > c->n_batch / n_tokens)
        return llm__err(&c->obj, LLM_ERR_RANGE,
                        "llm_ctx_loss: %zu x %zu tokens exceed the context (n_ctx %zu, n_batch %zu)",
                        n_seq, n_tokens, c->n_ctx, c->n_batch);
    M = n_seq * n_tokens;
    V = c->model->cfg.n_vocab;
    if ((rc = check_tokens(c, inputs, M, "llm_ctx_loss (inputs)")) != LLM_OK)
        return rc;
    for (r = 0; r < M; r++)
        if (targets[r] >= 0 && (size_t)targets[r] >= V)
            return llm__err(&c->obj, LLM_ERR_RANGE,
                            "llm_ctx_loss: target %ld at position %zu is outside [0, %zu)",
                            (long)targets[r], r, V);
    if ((rc = run_blocks(c, inputs, n_seq, n_tokens, 0, 0)) != LLM_OK)
        return rc;
    c->has_logits = 0; /* the logits scratch is reused below */
    score_hidden(c, c->xn, M, targets, logprobs, &sum, &count);
    *loss = count ? -sum / (double)count : NAN;
    return LLM_OK;
}

/* Windowed evaluation (issue semantics): targets t[s+1 .. e] of a step are
 * scored from inputs t[max(0, e-window) .. e-1]; steps advance by
 * `stride` targets. With stride == window, window k scores
 * t[k·w+1 .. (k+1)·w] from t[k·w .. (k+1)·w-1]. Consecutive steps with
 * the same input length and target count are batched. */
int llm_ctx_eval(double *nll_sum, uint64_t *n_predicted, llm_ctx *c, const llm_token *tokens,
                 size_t n_tokens, size_t window, size_t stride) {
    size_t C, n_targets, step_start, max_seq;
    double sum = 0.0;
    uint64_t count = 0;
    int rc;
    CHECK_CTX(c, "llm_ctx_eval");
    if (!nll_sum || !n_predicted || (!tokens && n_tokens))
        return llm__err(&c->obj, LLM_ERR_INVALID,
                        "llm_ctx_eval: nll_sum, n_predicted or tokens is NULL");
    if (window == 0)
        window = c->n_ctx < c->n_batch ? c->n_ctx : c->n_batch;
    if (window > c->n_ctx || window > c->n_batch)
        return llm__err(&c->obj, LLM_ERR_RANGE,
                        "llm_ctx_eval: window %zu exceeds the context (n_ctx %zu, n_batch %zu)",
                        window, c->n_ctx, c->n_batch);
    if (stride == 0)
        stride = window;
    if (stride > window)
        return llm__err(&c->obj, LLM_ERR_INVALID,
                        "llm_ctx_eval: stride %zu is larger than the window %zu", stride, window);
    if ((rc = check_tokens(c, tokens, n_tokens, "llm_ctx_eval")) != LLM_OK)
        return rc;
    *nll_sum = 0.0;
    *n_predicted = 0;
    if (n_tokens < 2)
        return LLM_OK;
    C = c->model->cfg.n_embd;
    n_targets = n_tokens - 1;
    max_seq = c->n_batch / window;
    c->has_logits = 0;
    step_start = 0; /* targets scored so far: t[1 .. step_start] */
    while (step_start < n_targets) {
        /* Describe the first step of a group, then extend the group with
         * following steps of identical shape. */
        size_t e = step_start + stride < n_targets ? step_start + stride : n_targets;
        size_t a = e > window ? e - window : 0;
        size_t len = e - a, n_score = e - step_start, g = 0, b;
        size_t s = step_start;
        while (g < max_seq && s < n_targets) {
            size_t e2 = s + stride < n_targets ? s + stride : n_targets;
            size_t a2 = e2 > window ? e2 - window : 0;
            if (e2 - a2 != len || e2 - s != n_score)
                break;
            memcpy(c->tokbuf + g * len, tokens + a2, len * sizeof(llm_token));
            g++;
            s = e2;
        }
        if ((rc = run_blocks(c, c->tokbuf, g, len, 0, 0)) != LLM_OK)
            return rc;
        for (b = 0; b < g; b++) {
            /* Seq b's inputs are t[a_b .. a_b+len-1]; its scored rows are
             * the last n_score ones, predicting t[a_b+len-n_score+1 ..]. */
            size_t e_b = step_start + (b + 1) * stride;
            size_t a_b, first_row;
            if (e_b > n_targets)
                e_b = n_targets;
            a_b = e_b - len;
            first_row = len - n_score;
            score_hidden(c, c->xn + (b * len + first_row) * C, n_score,
                         tokens + a_b + first_row + 1, NULL, &sum, &count);
        }
        step_start = s;
        if ((rc = llm__progress(&c->obj, c->opts.progress, c->opts.progress_ud, LLM_PHASE_EVAL,
                                step_start, n_targets)) != LLM_OK)
            return rc;
    }
    *nll_sum = -sum;
    *n_predicted = count;
    return LLM_OK;
}
