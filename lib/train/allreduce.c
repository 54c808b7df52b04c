/*
 * allreduce.c - data-parallel training without a transport: the gradient
 * buckets of a trainer and the calls of the caller's reduce hooks
 * (llm_trainer_set_reduce, include/llm.h).
 *
 * Buckets: the gradient arena holds the tensors in the model's order
 * (embeddings, block 0 .. block L-1, final norm, untied output). Each
 * tensor gets the stage of the backward pass after which its gradient is
 * final (0: final norm and untied output, right after the head;
 * 1 + (L-1-l): block l; L+1: the embeddings, which also collect the tied
 * output's gradient and come last). A bucket is a maximal run of tensors
 * adjacent in the arena with the same stage, so it is one contiguous
 * range; buckets are stored sorted by stage (then arena offset), which is
 * the order in which a step passes them to the hook, identical on every
 * worker (the hooks are collectives).
 *
 * Invariants: buckets cover every tensor exactly once; the padding between
 * two tensors of one bucket is zero on every worker, so it sums to zero;
 * after llm__allreduce_finish returned LLM_OK no reduction is in flight.
 * A hook failure is remembered in tr->red_rc (the first one wins) and
 * stops further bucket calls of the step; finish still waits for the
 * buckets that were started, so no transport writes into the gradients
 * after the step returned.
 */
#include <string.h>

#include "train/train.h"

struct llm__bucket {
    size_t off;   /* first float in the gradient arena */
    size_t n;     /* floats, from the first tensor's start to the last's end */
    size_t stage; /* see the file comment */
};

int llm_reduce_hooks_init(llm_reduce_hooks *o, size_t struct_size) {
    return llm__opts_init(o, struct_size, "llm_reduce_hooks_init");
}

/* Stage of tensor i: which part of the backward finalises its gradient. */
static size_t stage_of(const llm_model *m, size_t i) {
    float **slot = m->tensors[i].slot;
    const char *lo = (const char *)m->layers;
    const char *hi = (const char *)(m->layers + m->cfg.n_layer);
    const size_t L = m->cfg.n_layer;
    if ((const char *)slot >= lo && (const char *)slot < hi) {
        size_t l = (size_t)((const char *)slot - lo) / sizeof(llm__layer);
        return 1 + (L - 1 - l);
    }
    if (slot == &m->tok_embd || slot == &m->pos_embd)
        return L + 1;
    return 0; /* out_norm, out_norm_b, untied output */
}

int llm__allreduce_layout(llm_trainer *tr) {
    const llm_model *m = tr->model;
    const size_t nt = tr->n_tensors;
    struct llm__bucket *b;
    size_t i, n = 0, j;
    tr->R = 1;
    tr->rank = 0;
    b = llm__mem_calloc(&tr->obj.mem, nt ? nt : 1, sizeof *b);
    if (!b)
        return llm__err(&tr->obj, LLM_ERR_NOMEM, "llm_trainer_create: out of memory for buckets");
    for (i = 0; i < nt; i++) {
        const size_t st = stage_of(m, i), end = tr->toff[i] + m->tensors[i].n;
        if (n > 0 && b[n - 1].stage == st)
            b[n - 1].n = end - b[n - 1].off; /* grows over the zero padding */
        else {
            b[n].off = tr->toff[i];
            b[n].n = m->tensors[i].n;
            b[n].stage = st;
            n++;
        }
    }
    /* insertion sort by (stage, off): n is about n_layer + 3 */
    for (i = 1; i < n; i++) {
        struct llm__bucket x = b[i];
        for (j = i; j > 0 && (b[j - 1].stage > x.stage ||
                              (b[j - 1].stage == x.stage && b[j - 1].off > x.off));
             j--)
            b[j] = b[j - 1];
        b[j] = x;
    }
    tr->buckets = b;
    tr->n_buckets = n;
    return LLM_OK;
}

void llm__allreduce_free(llm_trainer *tr) {
    if (tr->buckets)
        llm__mem_free(&tr->obj.mem, tr->buckets,
                      (tr->n_tensors ? tr->n_tensors : 1) * sizeof *tr->buckets);
    tr->buckets = NULL;
}

int llm_trainer_set_reduce(llm_trainer *tr, const llm_reduce_hooks *hooks) {
    llm_reduce_hooks h;
    int rc;
    if (!llm__obj_is(tr, LLM__MAGIC_TRAINER))
        return llm__err(NULL, LLM_ERR_INVALID,
                        "llm_trainer_set_reduce: trainer is NULL or not a trainer");
    if (!hooks) {
        memset(&tr->red, 0, sizeof tr->red);
        tr->R = 1;
        tr->rank = 0;
        return LLM_OK;
    }
    if ((rc = llm__opts_read(&tr->obj, &h, sizeof h, hooks, "llm_reduce_hooks")) != LLM_OK)
        return rc;
    if (h.world_size == 0)
        h.world_size = 1;
    if (h.flags != 0)
        return llm__err(&tr->obj, LLM_ERR_INVALID, "llm_trainer_set_reduce: flags 0x%x must be 0",
                        (unsigned)h.flags);
    if (!h.reduce || !h.reduce_f64)
        return llm__err(&tr->obj, LLM_ERR_INVALID,
                        "llm_trainer_set_reduce: hooks->reduce and hooks->reduce_f64 are required");
    if (h.rank >= h.world_size)
        return llm__err(&tr->obj, LLM_ERR_INVALID,
                        "llm_trainer_set_reduce: rank %u is not in [0, world_size=%u)",
                        (unsigned)h.rank, (unsigned)h.world_size);
    if ((uint64_t)h.world_size * tr->B * tr->T > ((uint64_t)1 << 32))
        return llm__err(&tr->obj, LLM_ERR_INVALID,
                        "llm_trainer_set_reduce: world_size %u x batch %zu x seq_len %zu tokens "
                        "per micro-batch is too large (max 2^32)",
                        (unsigned)h.world_size, tr->B, tr->T);
    tr->red = h;
    tr->R = h.world_size;
    tr->rank = h.rank;
    return LLM_OK;
}

int llm_trainer_buckets(size_t *n_buckets, size_t *n_floats, const llm_trainer *tr,
                        size_t bucket) {
    llm__obj *e;
    if (!llm__obj_is(tr, LLM__MAGIC_TRAINER))
        return llm__err(NULL, LLM_ERR_INVALID,
                        "llm_trainer_buckets: trainer is NULL or not a trainer");
    e = (llm__obj *)(uintptr_t)&tr->obj;
    if (!n_buckets)
        return llm__err(e, LLM_ERR_INVALID, "llm_trainer_buckets: n_buckets is NULL");
    *n_buckets = tr->n_buckets;
    if (bucket >= tr->n_buckets)
        return llm__err(e, LLM_ERR_RANGE, "llm_trainer_buckets: bucket %zu is not in [0, %zu)",
                        bucket, tr->n_buckets);
    if (n_floats)
        *n_floats = tr->buckets[bucket].n;
    return LLM_OK;
}

/* The hook's own message, or a placeholder. */
static const char *hook_msg(const llm_trainer *tr) {
    const char *s = tr->red.errmsg ? tr->red.errmsg(tr->red.ud) : NULL;
    return s && *s ? s : "(the hook gave no message)";
}

void llm__allreduce_ready(llm_trainer *tr, size_t stage) {
    size_t i;
    if (!tr->red_armed)
        return;
    /* buckets are sorted by stage and stages arrive in increasing order,
     * so the next ones to pass start at red_next */
    for (i = tr->red_next; i < tr->n_buckets && tr->buckets[i].stage <= stage; i++) {
        const struct llm__bucket *b = &tr->buckets[i];
        int rc;
        tr->red_next = i + 1;
        if (tr->red_rc != LLM_OK)
            continue; /* a failed step passes nothing more; finish reports it */
        rc = tr->red.reduce(tr->red.ud, tr->grads + b->off, b->n, (uint32_t)i);
        if (rc != LLM_OK)
            tr->red_rc = llm__err(&tr->obj, rc < 0 ? rc : LLM_ERR_INTERNAL,
                                  "llm_trainer_step: step %llu, rank %zu of %zu: the gradient "
                                  "all-reduce of bucket %zu (%zu floats) failed: %s",
                                  (unsigned long long)tr->step, tr->rank, tr->R, i, b->n,
                                  hook_msg(tr));
    }
}

int llm__allreduce_finish(llm_trainer *tr, double *loss_sum) {
    int rc;
    /* a backward always reaches the last stage; this only matters for a
     * model whose stages were not all announced */
    llm__allreduce_ready(tr, (size_t)-1);
    tr->red_armed = 0;
    if (tr->red.finish && tr->red_next > 0) {
        rc = tr->red.finish(tr->red.ud);
        if (rc != LLM_OK && tr->red_rc == LLM_OK)
            tr->red_rc = llm__err(&tr->obj, rc < 0 ? rc : LLM_ERR_INTERNAL,
                                  "llm_trainer_step: step %llu, rank %zu of %zu: waiting for the "
                                  "gradient all-reduce of %zu buckets failed: %s",
                                  (unsigned long long)tr->step, tr->rank, tr->R, tr->red_next,
                                  hook_msg(tr));
    }
    if (tr->red_rc != LLM_OK)
        return tr->red_rc;
    rc = tr->red.reduce_f64(tr->red.ud, loss_sum, 1);
    if (rc != LLM_OK)
        return llm__err(&tr->obj, rc < 0 ? rc : LLM_ERR_INTERNAL,
                        "llm_trainer_step: step %llu, rank %zu of %zu: the all-reduce of the "
                        "loss failed: %s",
                        (unsigned long long)tr->step, tr->rank, tr->R, hook_msg(tr));
    return LLM_OK;
}
