/*
 * trainer.c - the llm_trainer handle: options, memory, optimizer steps,
 * evaluation, batch selection and queries.
 *
 * Invariants: everything a step needs is allocated by llm_trainer_create;
 * a step either completes (weights, moments and step count advance
 * together) or fails before the update and leaves them untouched. The
 * gradient arena is zeroed at the start of every step. Token ids are
 * validated before any arithmetic, so the kernels may index with them.
 * With reduce hooks (allreduce.c) a step scales by the global batch and
 * waits for every reduction before it can return, failed or not.
 */
#include <math.h>
#include <string.h>

#include "train/train.h"

int llm_trainer_opts_init(llm_trainer_opts *o, size_t struct_size) {
    return llm__opts_init(o, struct_size, "llm_trainer_opts_init");
}

static size_t pad_floats(size_t n) {
    const size_t q = LLM__ALIGN / sizeof(float);
    return (n + q - 1) / q * q;
}

void llm_trainer_free(llm_trainer *tr) {
    const llm__mem *mem;
    if (!llm__obj_is(tr, LLM__MAGIC_TRAINER))
        return;
    mem = &tr->obj.mem;
    llm__pool_free(tr->pool);
    llm__mem_free_aligned(mem, tr->grads);
    llm__mem_free_aligned(mem, tr->adam_m);
    llm__mem_free_aligned(mem, tr->adam_v);
    llm__mem_free_aligned(mem, tr->act_arena);
    llm__allreduce_free(tr);
    if (tr->norm_parts)
        llm__mem_free(mem, tr->norm_parts,
                      (llm__adamw_norm_parts(tr->n_floats) + 1) * sizeof(double));
    if (tr->model) {
        /* the sizes they were allocated with (llm_trainer_create) */
        llm__mem_free(mem, tr->toff, (tr->n_tensors ? tr->n_tensors : 1) * sizeof *tr->toff);
        llm__mem_free(mem, tr->g_layers, (tr->model->cfg.n_layer + 1) * sizeof *tr->g_layers);
        llm__mem_free(mem, tr->a_layers, (tr->model->cfg.n_layer + 1) * sizeof *tr->a_layers);
    }
    llm__obj_delete(tr, sizeof *tr);
}

/* Fails the constructor, keeping the handle's message for the caller. */
static int fail(llm_trainer *tr, llm_trainer **out, int rc) {
    char msg[LLM__ERRMSG_MAX];
    memcpy(msg, tr->obj.errmsg, sizeof msg);
    llm_trainer_free(tr);
    *out = NULL;
    return llm__err(NULL, rc, "%s", msg);
}

static int finite_in(double x, double lo, double hi) {
    return isfinite(x) && x >= lo && x <= hi;
}

/* Fills defaults and checks every field; errors name the field. */
static int check_opts(llm_trainer *tr, llm_trainer_opts *o) {
    const llm_model *m = tr->model;
    llm__obj *e = &tr->obj;
    if (o->flags & ~(uint32_t)LLM_TRAIN_SHUFFLE)
        return llm__err(e, LLM_ERR_UNSUPPORTED, "llm_trainer_create: unknown flags 0x%x",
                        (unsigned)(o->flags & ~(uint32_t)LLM_TRAIN_SHUFFLE));
    if (o->n_threads == 0)
        o->n_threads = 1;
    if (o->batch == 0)
        o->batch = 4;
    if (o->seq_len == 0)
        o->seq_len = m->cfg.n_ctx < 64 ? m->cfg.n_ctx : 64;
    if (o->grad_accum == 0)
        o->grad_accum = 1;
    if (o->lr == 0.0)
        o->lr = 6e-4;
    if (o->beta1 == 0.0)
        o->beta1 = 0.9;
    if (o->beta2 == 0.0)
        o->beta2 = 0.999;
    if (o->eps == 0.0)
        o->eps = 1e-8;
    if (o->n_threads > 1024)
        return llm__err(e, LLM_ERR_INVALID, "llm_trainer_create: n_threads %u is not in [1, 1024]",
                        (unsigned)o->n_threads);
    if (o->seq_len > m->cfg.n_ctx)
        return llm__err(e, LLM_ERR_RANGE,
                        "llm_trainer_create: seq_len %u exceeds the model's n_ctx %u",
                        (unsigned)o->seq_len, (unsigned)m->cfg.n_ctx);
    if ((uint64_t)o->batch * o->seq_len > (1u << 24) || o->grad_accum > (1u << 20))
        return llm__err(e, LLM_ERR_INVALID,
                        "llm_trainer_create: batch*seq_len %llu (max 2^24) or grad_accum %u "
                        "(max 2^20) too large",
                        (unsigned long long)o->batch * o->seq_len, (unsigned)o->grad_accum);
    if (o->schedule != LLM_SCHEDULE_COSINE && o->schedule != LLM_SCHEDULE_CONSTANT)
        return llm__err(e, LLM_ERR_INVALID, "llm_trainer_create: unknown schedule %d",
                        (int)o->schedule);
    if (!finite_in(o->lr, 0.0, 1e3) || o->lr <= 0.0)
        return llm__err(e, LLM_ERR_INVALID, "llm_trainer_create: lr %g is not in (0, 1000]",
                        o->lr);
    if (!finite_in(o->min_lr, 0.0, o->lr))
        return llm__err(e, LLM_ERR_INVALID, "llm_trainer_create: min_lr %g is not in [0, lr=%g]",
                        o->min_lr, o->lr);
    if (!finite_in(o->beta1, 0.0, 1.0) || o->beta1 >= 1.0)
        return llm__err(e, LLM_ERR_INVALID, "llm_trainer_create: beta1 %g is not in [0, 1)",
                        o->beta1);
    if (!finite_in(o->beta2, 0.0, 1.0) || o->beta2 >= 1.0)
        return llm__err(e, LLM_ERR_INVALID, "llm_trainer_create: beta2 %g is not in [0, 1)",
                        o->beta2);
    if (!finite_in(o->eps, 0.0, 1.0) || o->eps <= 0.0)
        return llm__err(e, LLM_ERR_INVALID, "llm_trainer_create: eps %g is not in (0, 1]",
                        o->eps);
    if (!finite_in(o->weight_decay, 0.0, 1e3))
        return llm__err(e, LLM_ERR_INVALID,
                        "llm_trainer_create: weight_decay %g is not in [0, 1000]",
                        o->weight_decay);
    if (!finite_in(o->grad_clip, 0.0, 1e30))
        return llm__err(e, LLM_ERR_INVALID,
                        "llm_trainer_create: grad_clip %g is not finite and >= 0", o->grad_clip);
    return LLM_OK;
}

int llm_trainer_create(llm_trainer **out, llm_model *model, const llm_trainer_opts *opts_in) {
    llm_trainer_opts o;
    llm_trainer *tr;
    llm__obj tmp;
    size_t i, off = 0, bytes;
    int rc;
    if (!out)
        return llm__err(NULL, LLM_ERR_INVALID, "llm_trainer_create: out is NULL");
    *out = NULL;
    if (!llm__obj_is(model, LLM__MAGIC_MODEL))
        return llm__err(NULL, LLM_ERR_INVALID, "llm_trainer_create: model is NULL or not a model");
    /* Gradients and AdamW work on F32 weights; a quantized model would
     * need dequantizing first (load the F32 file instead). */
    if (llm__model_is_quantized(model))
        return llm__err(NULL, LLM_ERR_UNSUPPORTED,
                        "llm_trainer_create: the model has quantized (Q8_0) weights; training "
                        "needs an F32 model");
    memset(&tmp, 0, sizeof tmp);
    llm__mem_init(&tmp.mem, NULL, NULL);
    if ((rc = llm__opts_read(&tmp, &o, sizeof o, opts_in, "llm_trainer_opts")) != LLM_OK)
        return rc;
    tr = llm__obj_new(sizeof *tr, LLM__MAGIC_TRAINER, o.alloc, o.alloc_ud);
    if (!tr)
        return llm__err(NULL, LLM_ERR_NOMEM, "llm_trainer_create: out of memory for the handle");
    tr->model = model;
    if ((rc = check_opts(tr, &o)) != LLM_OK)
        return fail(tr, out, rc);
    tr->opts = o;
    tr->B = o.batch;
    tr->T = o.seq_len;
    tr->K = o.grad_accum;
    tr->rng = o.seed;
    if ((rc = llm__model_make_writable(model)) != LLM_OK) {
        llm__err(&tr->obj, rc, "llm_trainer_create: %s", model->obj.errmsg);
        return fail(tr, out, rc);
    }
    if ((rc = llm__pool_create(&tr->pool, (int)o.n_threads, &tr->obj.mem)) != LLM_OK) {
        llm__err(&tr->obj, rc, "llm_trainer_create: cannot start %u threads",
                 (unsigned)o.n_threads);
        return fail(tr, out, rc);
    }
    tr->n_tensors = model->n_tensors;
    tr->toff = llm__mem_calloc(&tr->obj.mem, tr->n_tensors ? tr->n_tensors : 1, sizeof *tr->toff);
    tr->g_layers = llm__mem_calloc(&tr->obj.mem, model->cfg.n_layer + 1, sizeof *tr->g_layers);
    tr->a_layers = llm__mem_calloc(&tr->obj.mem, model->cfg.n_layer + 1, sizeof *tr->a_layers);
    if (!tr->toff || !tr->g_layers || !tr->a_layers)
        return fail(tr, out, llm__err(&tr->obj, LLM_ERR_NOMEM, "llm_trainer_create: out of memory"));
    for (i = 0; i < tr->n_tensors; i++) {
        tr->toff[i] = off;
        off += pad_floats(model->tensors[i].n);
    }
    tr->n_floats = off;
    bytes = llm__mem_mul(off ? off : 1, sizeof(float));
    tr->grads = llm__mem_alloc_aligned(&tr->obj.mem, bytes);
    tr->grad_scale = 1.0f;
    tr->adam_m = llm__mem_alloc_aligned(&tr->obj.mem, bytes);
    tr->adam_v = llm__mem_alloc_aligned(&tr->obj.mem, bytes);
    tr->norm_parts = llm__mem_calloc(&tr->obj.mem, llm__adamw_norm_parts(off) + 1, sizeof(double));
    if (!tr->grads || !tr->adam_m || !tr->adam_v || !tr->norm_parts)
        return fail(tr, out, llm__err(&tr->obj, LLM_ERR_NOMEM,
                                      "llm_trainer_create: cannot allocate 3 x %zu bytes for "
                                      "gradients and AdamW moments", bytes));
    llm__backprop_bind_grads(tr);
    if ((rc = llm__allreduce_layout(tr)) != LLM_OK)
        return fail(tr, out, rc);
    tr->act_floats = llm__backprop_layout_acts(tr);
    tr->act_arena = llm__mem_alloc_aligned(&tr->obj.mem, llm__mem_mul(tr->act_floats, sizeof(float)));
    if (!tr->act_arena)
        return fail(tr, out, llm__err(&tr->obj, LLM_ERR_NOMEM,
                                      "llm_trainer_create: cannot allocate %zu bytes of "
                                      "activations (B=%zu, T=%zu)",
                                      tr->act_floats * sizeof(float), tr->B, tr->T));
    llm__backprop_layout_acts(tr);
    *out = tr;
    return LLM_OK;
}

#define CHECK_TR(tr, fn)                                                       \
    do {                                                                       \
        if (!llm__obj_is((tr), LLM__MAGIC_TRAINER))                            \
            return llm__err(NULL, LLM_ERR_INVALID, fn ": trainer is NULL or not a trainer"); \
    } while (0)

/* Checks pointers, the count and every token id. */
static int check_tokens(llm_trainer *tr, const char *fn, const llm_token *inputs,
                        const llm_token *targets, size_t n_tokens, size_t unit, int exact) {
    const int32_t V = (int32_t)tr->model->cfg.n_vocab;
    size_t i;
    if (!inputs || !targets)
        return llm__err(&tr->obj, LLM_ERR_INVALID, "%s: inputs or targets is NULL", fn);
    if (n_tokens == 0 || n_tokens % unit != 0)
        return llm__err(&tr->obj, LLM_ERR_INVALID,
                        "%s: n_tokens %zu is not %s (B=%zu, T=%zu, K=%zu)", fn, n_tokens,
                        exact ? "K*B*T" : "a positive multiple of B*T",
                        tr->B, tr->T, tr->K);
    if (exact && n_tokens != unit)
        return llm__err(&tr->obj, LLM_ERR_INVALID, "%s: n_tokens %zu != K*B*T = %zu", fn,
                        n_tokens, unit);
    for (i = 0; i < n_tokens; i++) {
        if (inputs[i] < 0 || inputs[i] >= V)
            return llm__err(&tr->obj, LLM_ERR_RANGE,
                            "%s: inputs[%zu] = %d is outside the vocabulary [0, %d)", fn, i,
                            (int)inputs[i], (int)V);
        if (targets[i] < 0 || targets[i] >= V)
            return llm__err(&tr->obj, LLM_ERR_RANGE,
                            "%s: targets[%zu] = %d is outside the vocabulary [0, %d)", fn, i,
                            (int)targets[i], (int)V);
    }
    return LLM_OK;
}

int llm_trainer_step(float *loss_out, llm_trainer *tr, const llm_token *inputs,
                     const llm_token *targets, size_t n_tokens) {
    const size_t BT = tr && llm__obj_is(tr, LLM__MAGIC_TRAINER) ? tr->B * tr->T : 0;
    const llm_trainer_opts *o;
    double loss_sum = 0.0, loss, norm, lr, all;
    float dscale;
    size_t k;
    int rc, dist;
    CHECK_TR(tr, "llm_trainer_step");
    o = &tr->opts;
    if ((rc = check_tokens(tr, "llm_trainer_step", inputs, targets, n_tokens, BT * tr->K, 1)) != LLM_OK)
        return rc;
    memset(tr->grads, 0, tr->n_floats * sizeof *tr->grads);
    tr->grad_scale = 1.0f;
    /* mean over all R*K*B*T positions of the global batch: every loss term
     * weighs 1/(R*K*B*T), so the hooks' sum is the global mean */
    dist = tr->red.struct_size != 0;
    all = (double)BT * (double)tr->K * (double)tr->R;
    dscale = (float)(1.0 / all);
    for (k = 0; k < tr->K; k++) {
        const int reduce_now = dist && k + 1 == tr->K;
        if (reduce_now) { /* the last backward passes final buckets on */
            tr->red_armed = 1;
            tr->red_next = 0;
            tr->red_rc = LLM_OK;
        }
        loss_sum += llm__backprop_run(tr, inputs + k * BT, targets + k * BT, dscale);
        /* wait before anything can return: no reduction may still write
         * into the gradients once the step is over */
        if (reduce_now && (rc = llm__allreduce_finish(tr, &loss_sum)) != LLM_OK)
            return rc;
        if ((rc = llm__progress(&tr->obj, o->progress, o->progress_ud, LLM_PHASE_TRAIN_STEP,
                                tr->step, o->total_steps)) != LLM_OK)
            return rc;
    }
    loss = loss_sum / all;
    norm = llm__adamw_grad_norm(tr);
    if (!isfinite(loss) || !isfinite(norm))
        return llm__err(&tr->obj, LLM_ERR_NO_CONVERGENCE,
                        "llm_trainer_step: step %llu: the loss (%g) or gradient norm (%g) is "
                        "not finite; the weights were not updated",
                        (unsigned long long)tr->step, loss, norm);
    if (o->grad_clip > 0.0) {
        /* clip_grad_norm_: coef = max_norm / (total + 1e-6), clamped to 1 */
        double coef = o->grad_clip / (norm + 1e-6);
        if (coef < 1.0)
            tr->grad_scale = (float)coef; /* applied by the update */
    }
    lr = llm__adamw_lr(o, tr->step);
    llm__adamw_update(tr, lr, tr->step + 1);
    tr->step++;
    tr->grad_norm = norm;
    if (loss_out)
        *loss_out = (float)loss;
    return LLM_OK;
}

int llm_trainer_eval(float *loss_out, llm_trainer *tr, const llm_token *inputs,
                     const llm_token *targets, size_t n_tokens) {
    double sum = 0.0;
    size_t BT, i;
    int rc;
    CHECK_TR(tr, "llm_trainer_eval");
    BT = tr->B * tr->T;
    if (!loss_out)
        return llm__err(&tr->obj, LLM_ERR_INVALID, "llm_trainer_eval: loss_out is NULL");
    if ((rc = check_tokens(tr, "llm_trainer_eval", inputs, targets, n_tokens, BT, 0)) != LLM_OK)
        return rc;
    for (i = 0; i < n_tokens; i += BT)
        sum += llm__backprop_run(tr, inputs + i, targets + i, 0.0f);
    *loss_out = (float)(sum / (double)n_tokens);
    if (!isfinite(*loss_out))
        return llm__err(&tr->obj, LLM_ERR_NO_CONVERGENCE, "llm_trainer_eval: the loss is %g",
                        (double)*loss_out);
    return LLM_OK;
}

int llm_trainer_lr(double *out, const llm_trainer *tr, uint64_t step) {
    CHECK_TR(tr, "llm_trainer_lr");
    if (!out)
        return llm__err((llm__obj *)(uintptr_t)&tr->obj, LLM_ERR_INVALID,
                        "llm_trainer_lr: out is NULL");
    *out = llm__adamw_lr(&tr->opts, step);
    return LLM_OK;
}

int llm_trainer_n_steps(uint64_t *out, const llm_trainer *tr) {
    CHECK_TR(tr, "llm_trainer_n_steps");
    if (!out)
        return llm__err((llm__obj *)(uintptr_t)&tr->obj, LLM_ERR_INVALID,
                        "llm_trainer_n_steps: out is NULL");
    *out = tr->step;
    return LLM_OK;
}

int llm_trainer_grad_norm(double *out, const llm_trainer *tr) {
    CHECK_TR(tr, "llm_trainer_grad_norm");
    if (!out)
        return llm__err((llm__obj *)(uintptr_t)&tr->obj, LLM_ERR_INVALID,
                        "llm_trainer_grad_norm: out is NULL");
    *out = tr->grad_norm;
    return LLM_OK;
}

int llm_trainer_grad_copy(float *dst, size_t cap, size_t *n_needed, const llm_trainer *tr,
                          const char *name) {
    llm__obj *e;
    size_t i;
    CHECK_TR(tr, "llm_trainer_grad_copy");
    e = (llm__obj *)(uintptr_t)&tr->obj;
    if (!name)
        return llm__err(e, LLM_ERR_INVALID, "llm_trainer_grad_copy: name is NULL");
    for (i = 0; i < tr->n_tensors; i++)
        if (strcmp(tr->model->tensors[i].name, name) == 0)
            break;
    if (i == tr->n_tensors)
        return llm__err(e, LLM_ERR_NOT_FOUND, "llm_trainer_grad_copy: the model has no tensor '%s'",
                        name);
    if (n_needed)
        *n_needed = tr->model->tensors[i].n;
    if (cap < tr->model->tensors[i].n)
        return llm__err(e, LLM_ERR_BUFFER_TOO_SMALL,
                        "llm_trainer_grad_copy: '%s' has %zu elements, the buffer %zu", name,
                        tr->model->tensors[i].n, cap);
    if (!dst)
        return llm__err(e, LLM_ERR_INVALID, "llm_trainer_grad_copy: dst is NULL");
    memcpy(dst, tr->grads + tr->toff[i], tr->model->tensors[i].n * sizeof *dst);
    if (tr->grad_scale != 1.0f) { /* the clipped gradient the step used */
        size_t k;
        for (k = 0; k < tr->model->tensors[i].n; k++)
            dst[k] *= tr->grad_scale;
    }
    return LLM_OK;
}

/* ------------------------------------------------------------------------
 * Batches
 * ------------------------------------------------------------------------ */

/* splitmix64 */
static uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n), n > 0, without modulo bias (rejection). */
static uint64_t rng_below(uint64_t *s, uint64_t n) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do
        x = rng_next(s);
    while (x >= limit);
    return x % n;
}

int llm_trainer_next_batch(llm_token *inputs, llm_token *targets, llm_trainer *tr,
                           const llm_token *stream, size_t n_stream) {
    size_t BT, GBT, k, b;
    CHECK_TR(tr, "llm_trainer_next_batch");
    /* With R workers every worker walks the global batch of R*B rows (the
     * cursor and the RNG advance as for a single trainer with batch R*B,
     * so checkpoints do not depend on R) and keeps rows [rank*B, rank*B+B). */
    BT = tr->B * tr->T;
    GBT = BT * tr->R;
    if (!inputs || !targets || !stream)
        return llm__err(&tr->obj, LLM_ERR_INVALID,
                        "llm_trainer_next_batch: inputs, targets or stream is NULL");
    if (n_stream < GBT + 1)
        return llm__err(&tr->obj, LLM_ERR_RANGE,
                        "llm_trainer_next_batch: the stream has %zu tokens, fewer than one "
                        "batch of R*B*T+1 = %zu (R=%zu workers)",
                        n_stream, GBT + 1, tr->R);
    for (k = 0; k < tr->K; k++) {
        llm_token *in = inputs + k * BT, *tg = targets + k * BT;
        if (tr->opts.flags & LLM_TRAIN_SHUFFLE) {
            for (b = 0; b < tr->B * tr->R; b++) {
                size_t s = (size_t)rng_below(&tr->rng, (uint64_t)(n_stream - tr->T)), row;
                if (b / tr->B != tr->rank)
                    continue; /* another worker's row */
                row = b % tr->B;
                memcpy(in + row * tr->T, stream + s, tr->T * sizeof *in);
                memcpy(tg + row * tr->T, stream + s + 1, tr->T * sizeof *tg);
            }
        } else {
            if (tr->cursor + GBT + 1 > n_stream)
                tr->cursor = 0;
            memcpy(in, stream + tr->cursor + tr->rank * BT, BT * sizeof *in);
            memcpy(tg, stream + tr->cursor + tr->rank * BT + 1, BT * sizeof *tg);
            tr->cursor += GBT;
            if (tr->cursor + GBT + 1 > n_stream)
                tr->cursor = 0;
        }
    }
    return LLM_OK;
}
