/*
 * test_reduce.c - the trainer's gradient all-reduce hook without any
 * transport (MPI-free): two trainers on two threads of this process are
 * the two workers of a group, exchanging their buffers through a fake
 * asynchronous all-reduce (record in `reduce`, exchange in `finish`).
 *
 * Oracles: a single trainer with the global batch R*B (losses and gradient
 * norms within 1e-5 relative at every step, the data rows it would take);
 * bitwise equality of the two workers' weights (identical AdamW on all
 * workers); bitwise equality with no hooks for a group of one; the
 * gradient arena itself (white box) for the bucket layout and for the
 * overlap with the backward pass; checkpoints crossing 2 -> 1 and 1 -> 2
 * workers; a failing hook (status, message, nothing updated).
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "train/train.h"

#define V 64
#define T 8
#define B 2   /* per worker */
#define K 2   /* micro-batches per step */
#define R 2   /* workers */
#define STEPS 5
#define NSTREAM 3000

static llm_model *make_model(int32_t arch) {
    llm_model_config c;
    llm_model *m = NULL;
    LLM_MODEL_CONFIG_INIT(&c);
    c.arch = arch;
    c.n_vocab = V;
    c.n_layer = 2;
    c.n_embd = 32;
    c.n_head = 4;
    c.n_head_kv = arch == LLM_ARCH_LLAMA ? 2 : 4;
    c.n_ctx = 16;
    c.n_ff = arch == LLM_ARCH_LLAMA ? 64 : 0;
    assert_int_equal(llm_model_create(&m, &c, 7, NULL), LLM_OK);
    return m;
}

static llm_token stream[NSTREAM];

static void fill_stream(void) {
    uint64_t s = 12345;
    size_t i;
    for (i = 0; i < NSTREAM; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        stream[i] = (llm_token)((s >> 33) % V);
    }
}

static llm_trainer *make_trainer(llm_model *m, uint32_t batch, uint32_t flags) {
    llm_trainer_opts o;
    llm_trainer *tr = NULL;
    LLM_TRAINER_OPTS_INIT(&o);
    o.batch = batch;
    o.seq_len = T;
    o.grad_accum = K;
    o.lr = 3e-3;
    o.warmup_steps = 2;
    o.total_steps = 20;
    o.weight_decay = 0.1;
    o.grad_clip = 0.5; /* small enough to clip: the global norm matters */
    o.flags = flags;
    o.seed = 99;
    assert_int_equal(llm_trainer_create(&tr, m, &o), LLM_OK);
    return tr;
}

static char tmpdir[256];

static int setup(void **state) {
    (void)state;
    fill_stream();
    snprintf(tmpdir, sizeof tmpdir, "/tmp/llm_test_reduce_%ld", (long)getpid());
    return mkdir(tmpdir, 0700) == 0 ? 0 : -1;
}

static int teardown(void **state) {
    char cmd[300];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------------
 * The fake transport: R threads, a barrier, a shared scratch buffer.
 * ------------------------------------------------------------------------ */

#define MAXB 64

typedef struct group {
    pthread_barrier_t bar;
    float *scratch;
    size_t cap;
    /* per rank: the buffers recorded by reduce since the last finish */
    float *buf[R][MAXB];
    size_t n[R][MAXB];
    uint32_t id[R][MAXB];
    size_t nb[R];
    double *dbuf[R];
    /* checks, asserted on the main thread */
    int order_bad;     /* a bucket index out of sequence */
    int finish_calls[R];
    int fail_rank, fail_bucket; /* inject a failure (-1: none) */
    int failed;        /* the injected failure happened: peers' f64 fails */
} group;

typedef struct worker {
    group *g;
    int rank;
    llm_trainer *tr;
    llm_model *m;
    int rc[STEPS];
    float loss[STEPS];
    double norm[STEPS];
    llm_token in[STEPS][K * B * T], tg[STEPS][K * B * T];
    int n_steps;
    uint64_t first;
} worker;

static int fake_reduce(void *ud, float *buf, size_t n, uint32_t bucket) {
    worker *w = ud;
    group *g = w->g;
    size_t k = g->nb[w->rank];
    if (w->rank == g->fail_rank && (int)bucket == g->fail_bucket) {
        g->failed = 1; /* read by the peer after the finish barriers */
        return LLM_ERR_IO;
    }
    if (k >= MAXB || bucket != k)
        g->order_bad = 1;
    if (k < MAXB) {
        g->buf[w->rank][k] = buf;
        g->n[w->rank][k] = n;
        g->id[w->rank][k] = bucket;
        g->nb[w->rank] = k + 1;
    }
    return LLM_OK;
}

/* Sums bucket by bucket: rank 0 adds into the scratch, both copy out. */
static int fake_finish(void *ud) {
    worker *w = ud;
    group *g = w->g;
    size_t k, i, nb;
    g->finish_calls[w->rank]++;
    pthread_barrier_wait(&g->bar);
    nb = g->nb[0] < g->nb[1] ? g->nb[0] : g->nb[1];
    for (k = 0; k < nb; k++) {
        if (w->rank == 0) {
            const size_t n = g->n[0][k];
            if (n != g->n[1][k] || n > g->cap)
                g->order_bad = 1;
            else
                for (i = 0; i < n; i++)
                    g->scratch[i] = g->buf[0][k][i] + g->buf[1][k][i];
        }
        pthread_barrier_wait(&g->bar);
        if (g->n[0][k] == g->n[1][k] && g->n[0][k] <= g->cap)
            memcpy(g->buf[w->rank][k], g->scratch, g->n[w->rank][k] * sizeof(float));
        pthread_barrier_wait(&g->bar);
    }
    g->nb[w->rank] = 0;
    pthread_barrier_wait(&g->bar);
    return LLM_OK;
}

static int fake_f64(void *ud, double *buf, size_t n) {
    worker *w = ud;
    group *g = w->g;
    double sum;
    if (n != 1)
        return LLM_ERR_INVALID;
    if (g->failed) /* a real transport would time out waiting for the peer */
        return LLM_ERR_IO;
    g->dbuf[w->rank] = buf;
    pthread_barrier_wait(&g->bar);
    sum = *g->dbuf[0] + *g->dbuf[1];
    pthread_barrier_wait(&g->bar);
    *buf = sum;
    return LLM_OK;
}

static const char *fake_errmsg(void *ud) {
    (void)ud;
    return "fake transport: peer 1 vanished";
}

static void attach(worker *w) {
    llm_reduce_hooks h;
    LLM_REDUCE_HOOKS_INIT(&h);
    h.rank = (uint32_t)w->rank;
    h.world_size = R;
    h.reduce = fake_reduce;
    h.finish = fake_finish;
    h.reduce_f64 = fake_f64;
    h.errmsg = fake_errmsg;
    h.ud = w;
    assert_int_equal(llm_trainer_set_reduce(w->tr, &h), LLM_OK);
}

static void *run_worker(void *arg) {
    worker *w = arg;
    int s;
    for (s = 0; s < w->n_steps; s++) {
        w->rc[s] = llm_trainer_next_batch(w->in[s], w->tg[s], w->tr, stream, NSTREAM);
        if (w->rc[s] == LLM_OK)
            w->rc[s] = llm_trainer_step(&w->loss[s], w->tr, w->in[s], w->tg[s], K * B * T);
        llm_trainer_grad_norm(&w->norm[s], w->tr);
        if (w->rc[s] != LLM_OK)
            break;
    }
    return NULL;
}

static void group_init(group *g, size_t cap) {
    memset(g, 0, sizeof *g);
    pthread_barrier_init(&g->bar, NULL, R);
    g->scratch = calloc(cap, sizeof(float));
    g->cap = cap;
    g->fail_rank = -1;
    g->fail_bucket = -1;
}

static void run_group(worker w[R]) {
    pthread_t th[R];
    int r;
    for (r = 0; r < R; r++)
        assert_int_equal(pthread_create(&th[r], NULL, run_worker, &w[r]), 0);
    for (r = 0; r < R; r++)
        pthread_join(th[r], NULL);
}

/* The single-process reference: batch R*B, same everything else. */
typedef struct ref_run {
    float loss[STEPS];
    double norm[STEPS];
    llm_token in[STEPS][K * R * B * T], tg[STEPS][K * R * B * T];
} ref_run;

static void run_ref(llm_trainer *tr, ref_run *ref, int first, int last) {
    int s;
    for (s = first; s < last; s++) {
        assert_int_equal(llm_trainer_next_batch(ref->in[s], ref->tg[s], tr, stream, NSTREAM),
                         LLM_OK);
        assert_int_equal(llm_trainer_step(&ref->loss[s], tr, ref->in[s], ref->tg[s],
                                          K * R * B * T),
                         LLM_OK);
        llm_trainer_grad_norm(&ref->norm[s], tr);
    }
}

static void assert_rel(double got, double want, double tol, const char *what, int step) {
    double rel = fabs(got - want) / (fabs(want) > 1e-30 ? fabs(want) : 1e-30);
    if (rel > tol) {
        print_error("%s at step %d: %.9g vs %.9g (relative %.3g > %.3g)\n", what, step, got,
                    want, rel, tol);
        fail();
    }
}

/* Worker r's rows of each micro-batch are rows [r*B, r*B+B) of the
 * reference's micro-batch. */
static void assert_rows(const worker *w, const ref_run *ref, int s) {
    size_t k;
    for (k = 0; k < K; k++) {
        const size_t mine = k * B * T, theirs = k * R * B * T + (size_t)w->rank * B * T;
        assert_memory_equal(w->in[s] + mine, ref->in[s] + theirs, B * T * sizeof(llm_token));
        assert_memory_equal(w->tg[s] + mine, ref->tg[s] + theirs, B * T * sizeof(llm_token));
    }
}

static void assert_same_weights(llm_model *a, llm_model *b) {
    size_t nt, i;
    assert_int_equal(llm_model_n_tensors(&nt, a), LLM_OK);
    for (i = 0; i < nt; i++) {
        const char *name;
        size_t n;
        float *x, *y;
        assert_int_equal(llm_model_tensor_name(&name, a, i), LLM_OK);
        llm_model_tensor_copy(NULL, 0, &n, a, name);
        x = malloc(n * sizeof *x);
        y = malloc(n * sizeof *y);
        assert_int_equal(llm_model_tensor_copy(x, n, NULL, a, name), LLM_OK);
        assert_int_equal(llm_model_tensor_copy(y, n, NULL, b, name), LLM_OK);
        if (memcmp(x, y, n * sizeof *x) != 0) {
            print_error("tensor %s differs between the workers\n", name);
            fail();
        }
        free(x);
        free(y);
    }
}

/* Two workers against one trainer with the global batch. */
static void group_vs_single(int32_t arch, uint32_t flags) {
    llm_model *mref = make_model(arch);
    llm_trainer *tref = make_trainer(mref, R * B, flags);
    ref_run *ref = calloc(1, sizeof *ref);
    worker *w = calloc(R, sizeof *w);
    group *g = malloc(sizeof *g);
    int r, s;
    run_ref(tref, ref, 0, STEPS);
    group_init(g, tref->n_floats);
    for (r = 0; r < R; r++) {
        w[r].g = g;
        w[r].rank = r;
        w[r].m = make_model(arch);
        w[r].tr = make_trainer(w[r].m, B, flags);
        w[r].n_steps = STEPS;
        attach(&w[r]);
    }
    run_group(w);
    assert_int_equal(g->order_bad, 0);
    for (s = 0; s < STEPS; s++) {
        for (r = 0; r < R; r++) {
            assert_int_equal(w[r].rc[s], LLM_OK);
            assert_rows(&w[r], ref, s);
            /* the reported loss is the global mean, the same on each worker */
            assert_rel(w[r].loss[s], ref->loss[s], 1e-5, "loss", s);
            assert_rel(w[r].norm[s], ref->norm[s], 1e-5, "gradient norm", s);
        }
        assert_true(w[0].loss[s] == w[1].loss[s]);
    }
    for (r = 0; r < R; r++)
        assert_int_equal(g->finish_calls[r], STEPS);
    /* clipping was active, so the global norm was used */
    assert_true(ref->norm[0] > 0.5);
    assert_same_weights(w[0].m, w[1].m);
    for (r = 0; r < R; r++) {
        llm_trainer_free(w[r].tr);
        llm_model_free(w[r].m);
    }
    llm_trainer_free(tref);
    llm_model_free(mref);
    pthread_barrier_destroy(&g->bar);
    free(g->scratch);
    free(g);
    free(w);
    free(ref);
}

static void test_group_gpt2(void **state) {
    (void)state;
    group_vs_single(LLM_ARCH_GPT2, 0);
}

static void test_group_llama_shuffle(void **state) {
    (void)state;
    group_vs_single(LLM_ARCH_LLAMA, LLM_TRAIN_SHUFFLE);
}

/* ------------------------------------------------------------------------
 * A group of one with a synchronous hook: the same bits as no hook, and
 * the buckets: order, coverage of the arena, overlap with the backward.
 * ------------------------------------------------------------------------ */

typedef struct solo {
    llm_trainer *tr;
    size_t calls, covered;
    int early_ok;   /* at every bucket but the last, the embeddings were still zero */
    int last_nonzero;
    int bad;
    size_t emb_off, emb_n;
} solo;

static int solo_reduce(void *ud, float *buf, size_t n, uint32_t bucket) {
    solo *s = ud;
    llm_trainer *tr = s->tr;
    size_t nb = 0, nf = 0, off = (size_t)(buf - tr->grads), i;
    int zero = 1;
    if (llm_trainer_buckets(&nb, &nf, tr, bucket) != LLM_OK || nf != n || bucket != s->calls ||
        off + n > tr->n_floats)
        s->bad = 1;
    for (i = 0; i < s->emb_n; i++)
        if (tr->grads[s->emb_off + i] != 0.0f)
            zero = 0;
    if (bucket + 1 < nb && !zero)
        s->early_ok = 0;
    if (bucket + 1 == nb)
        s->last_nonzero = !zero;
    s->covered += n;
    s->calls++;
    return LLM_OK;
}

static int solo_f64(void *ud, double *buf, size_t n) {
    (void)ud;
    (void)buf;
    return n == 1 ? LLM_OK : LLM_ERR_INVALID;
}

static void test_solo_hook(void **state) {
    llm_model *m1 = make_model(LLM_ARCH_GPT2), *m2 = make_model(LLM_ARCH_GPT2);
    llm_trainer *plain, *hooked;
    llm_reduce_hooks h;
    llm_token in[B * T], tg[B * T];
    solo s;
    float l1, l2;
    size_t nb, i, total = 0, nf;
    llm_trainer_opts o;
    (void)state;
    LLM_TRAINER_OPTS_INIT(&o);
    o.batch = B;
    o.seq_len = T;
    o.grad_accum = 1;
    assert_int_equal(llm_trainer_create(&plain, m1, &o), LLM_OK);
    assert_int_equal(llm_trainer_create(&hooked, m2, &o), LLM_OK);
    memset(&s, 0, sizeof s);
    s.tr = hooked;
    s.early_ok = 1;
    /* position_embd (tensor 1) only gets its gradient at the very end of
     * the backward (token_embd already gets the tied head's) */
    s.emb_off = hooked->toff[1];
    s.emb_n = hooked->model->tensors[1].n;
    LLM_REDUCE_HOOKS_INIT(&h);
    h.world_size = 1;
    h.reduce = solo_reduce;
    h.reduce_f64 = solo_f64;
    h.ud = &s;
    assert_int_equal(llm_trainer_set_reduce(hooked, &h), LLM_OK);
    /* buckets: head, one per block, embeddings; they cover every tensor */
    assert_int_equal(llm_trainer_buckets(&nb, &nf, hooked, 0), LLM_OK);
    assert_int_equal(nb, 2 + 2);
    for (i = 0; i < nb; i++) {
        assert_int_equal(llm_trainer_buckets(&nb, &nf, hooked, i), LLM_OK);
        total += nf;
    }
    {
        size_t params = 0, nt, j;
        llm_model_n_tensors(&nt, m2);
        for (j = 0; j < nt; j++)
            params += hooked->model->tensors[j].n;
        /* padding inside a bucket is counted, so total >= params, and
         * below params + one cache line of padding per tensor */
        assert_true(total >= params && total < params + nt * 16);
    }
    assert_int_equal(llm_trainer_buckets(&nb, &nf, hooked, nb), LLM_ERR_RANGE);
    for (i = 0; i < 3; i++) {
        assert_int_equal(llm_trainer_next_batch(in, tg, plain, stream, NSTREAM), LLM_OK);
        assert_int_equal(llm_trainer_step(&l1, plain, in, tg, B * T), LLM_OK);
        assert_int_equal(llm_trainer_next_batch(in, tg, hooked, stream, NSTREAM), LLM_OK);
        s.calls = 0;
        assert_int_equal(llm_trainer_step(&l2, hooked, in, tg, B * T), LLM_OK);
        assert_int_equal(s.calls, nb);
        assert_true(l1 == l2); /* a group of one changes no bit */
    }
    assert_int_equal(s.bad, 0);
    assert_true(s.early_ok);     /* buckets went out before the backward ended */
    assert_true(s.last_nonzero); /* and the embeddings last, once final */
    assert_int_equal(s.covered, 3 * total);
    /* detaching gives a single process again */
    assert_int_equal(llm_trainer_set_reduce(hooked, NULL), LLM_OK);
    s.calls = 0;
    assert_int_equal(llm_trainer_next_batch(in, tg, hooked, stream, NSTREAM), LLM_OK);
    assert_int_equal(llm_trainer_step(&l2, hooked, in, tg, B * T), LLM_OK);
    assert_int_equal(s.calls, 0);
    llm_trainer_free(plain);
    llm_trainer_free(hooked);
    llm_model_free(m1);
    llm_model_free(m2);
}

/* ------------------------------------------------------------------------
 * Checkpoints cross group sizes with the same global batch.
 * ------------------------------------------------------------------------ */

static void test_checkpoint_cross(void **state) {
    char p2[300], p1[300];
    llm_model *mref = make_model(LLM_ARCH_GPT2);
    llm_trainer *tref = make_trainer(mref, R * B, 0);
    ref_run *ref = calloc(1, sizeof *ref);
    worker *w = calloc(R, sizeof *w);
    group *g = malloc(sizeof *g);
    llm_model *m1;
    llm_trainer *t1, *wrong;
    int r, s;
    (void)state;
    snprintf(p2, sizeof p2, "%s/by2.ckpt", tmpdir);
    snprintf(p1, sizeof p1, "%s/by1.ckpt", tmpdir);
    run_ref(tref, ref, 0, 2);
    assert_int_equal(llm_trainer_save(tref, p1), LLM_OK);
    run_ref(tref, ref, 2, STEPS);
    group_init(g, tref->n_floats);

    /* 2 workers for 2 steps, rank 0 writes; then 1 trainer resumes */
    for (r = 0; r < R; r++) {
        w[r].g = g;
        w[r].rank = r;
        w[r].m = make_model(LLM_ARCH_GPT2);
        w[r].tr = make_trainer(w[r].m, B, 0);
        w[r].n_steps = 2;
        attach(&w[r]);
    }
    run_group(w);
    assert_int_equal(llm_trainer_save(w[0].tr, p2), LLM_OK);
    m1 = make_model(LLM_ARCH_GPT2);
    t1 = make_trainer(m1, R * B, 0);
    assert_int_equal(llm_trainer_load(t1, p2), LLM_OK);
    for (s = 2; s < STEPS; s++) {
        llm_token in[K * R * B * T], tg[K * R * B * T];
        float loss;
        assert_int_equal(llm_trainer_next_batch(in, tg, t1, stream, NSTREAM), LLM_OK);
        assert_memory_equal(in, ref->in[s], sizeof in);
        assert_int_equal(llm_trainer_step(&loss, t1, in, tg, K * R * B * T), LLM_OK);
        assert_rel(loss, ref->loss[s], 1e-5, "loss after resuming 2 -> 1", s);
    }
    /* a single trainer with only the per-worker batch does not match */
    {
        llm_model *m = make_model(LLM_ARCH_GPT2);
        wrong = make_trainer(m, B, 0);
        assert_int_equal(llm_trainer_load(wrong, p2), LLM_ERR_STATE);
        assert_non_null(strstr(llm_errmsg(wrong), "batch"));
        llm_trainer_free(wrong);
        llm_model_free(m);
    }

    /* 1 -> 2: both workers load the single trainer's step-2 checkpoint */
    for (r = 0; r < R; r++) {
        llm_trainer_free(w[r].tr);
        llm_model_free(w[r].m);
        w[r].m = make_model(LLM_ARCH_GPT2);
        w[r].tr = make_trainer(w[r].m, B, 0);
        attach(&w[r]); /* before the load: the checkpoint's batch is global */
        assert_int_equal(llm_trainer_load(w[r].tr, p1), LLM_OK);
        w[r].n_steps = STEPS - 2;
    }
    run_group(w);
    for (s = 0; s < STEPS - 2; s++)
        for (r = 0; r < R; r++) {
            assert_int_equal(w[r].rc[s], LLM_OK);
            assert_rel(w[r].loss[s], ref->loss[s + 2], 1e-5, "loss after resuming 1 -> 2",
                       s + 2);
        }
    assert_same_weights(w[0].m, w[1].m);
    for (r = 0; r < R; r++) {
        llm_trainer_free(w[r].tr);
        llm_model_free(w[r].m);
    }
    llm_trainer_free(t1);
    llm_model_free(m1);
    llm_trainer_free(tref);
    llm_model_free(mref);
    pthread_barrier_destroy(&g->bar);
    free(g->scratch);
    free(g);
    free(w);
    free(ref);
}

/* ------------------------------------------------------------------------
 * Failures and argument checks.
 * ------------------------------------------------------------------------ */

static void test_hook_failure(void **state) {
    worker *w = calloc(R, sizeof *w);
    group *g = malloc(sizeof *g);
    float *before, *after;
    size_t n;
    uint64_t steps;
    int r;
    (void)state;
    for (r = 0; r < R; r++) {
        w[r].rank = r;
        w[r].m = make_model(LLM_ARCH_GPT2);
        w[r].tr = make_trainer(w[r].m, B, 0);
        w[r].n_steps = 1;
        w[r].g = g;
    }
    group_init(g, w[0].tr->n_floats);
    g->fail_rank = 1;
    g->fail_bucket = 2;
    for (r = 0; r < R; r++)
        attach(&w[r]);
    llm_model_tensor_copy(NULL, 0, &n, w[1].m, "blk.0.attn_qkv.weight");
    before = malloc(n * sizeof *before);
    after = malloc(n * sizeof *after);
    assert_int_equal(llm_model_tensor_copy(before, n, NULL, w[1].m, "blk.0.attn_qkv.weight"),
                     LLM_OK);
    run_group(w);
    /* rank 1's transport failed at bucket 2; rank 0 learns it at the loss */
    assert_int_equal(w[0].rc[0], LLM_ERR_IO);
    assert_non_null(strstr(llm_errmsg(w[0].tr), "loss"));
    assert_int_equal(w[1].rc[0], LLM_ERR_IO);
    assert_non_null(strstr(llm_errmsg(w[1].tr), "bucket 2"));
    assert_non_null(strstr(llm_errmsg(w[1].tr), "rank 1 of 2"));
    assert_non_null(strstr(llm_errmsg(w[1].tr), "peer 1 vanished"));
    /* the buckets already started were still waited for */
    assert_int_equal(g->finish_calls[1], 1);
    assert_int_equal(llm_trainer_n_steps(&steps, w[1].tr), LLM_OK);
    assert_int_equal(steps, 0);
    assert_int_equal(llm_model_tensor_copy(after, n, NULL, w[1].m, "blk.0.attn_qkv.weight"),
                     LLM_OK);
    assert_memory_equal(before, after, n * sizeof *before);
    free(before);
    free(after);
    for (r = 0; r < R; r++) {
        llm_trainer_free(w[r].tr);
        llm_model_free(w[r].m);
    }
    pthread_barrier_destroy(&g->bar);
    free(g->scratch);
    free(g);
    free(w);
}

static void test_set_reduce_args(void **state) {
    llm_model *m = make_model(LLM_ARCH_GPT2);
    llm_trainer *tr = make_trainer(m, B, 0);
    llm_reduce_hooks h;
    llm_token in[K * B * T], tg[K * B * T];
    size_t nb;
    (void)state;
    LLM_REDUCE_HOOKS_INIT(&h);
    assert_int_equal(llm_trainer_set_reduce(NULL, &h), LLM_ERR_INVALID);
    assert_int_equal(llm_trainer_set_reduce(tr, &h), LLM_ERR_INVALID); /* no functions */
    assert_non_null(strstr(llm_errmsg(tr), "reduce"));
    h.reduce = solo_reduce;
    h.reduce_f64 = solo_f64;
    h.world_size = 2;
    h.rank = 2;
    assert_int_equal(llm_trainer_set_reduce(tr, &h), LLM_ERR_INVALID);
    assert_non_null(strstr(llm_errmsg(tr), "rank 2"));
    h.rank = 1;
    h.flags = 4;
    assert_int_equal(llm_trainer_set_reduce(tr, &h), LLM_ERR_INVALID);
    h.flags = 0;
    h.world_size = 1u << 30;
    assert_int_equal(llm_trainer_set_reduce(tr, &h), LLM_ERR_INVALID);
    assert_int_equal(llm_reduce_hooks_init(NULL, sizeof h), LLM_ERR_INVALID);
    assert_int_equal(llm_trainer_buckets(NULL, NULL, tr, 0), LLM_ERR_INVALID);
    assert_int_equal(llm_trainer_buckets(&nb, NULL, NULL, 0), LLM_ERR_INVALID);
    /* a stream too short for the group's global batch */
    h.world_size = 400;
    h.rank = 3;
    assert_int_equal(llm_trainer_set_reduce(tr, &h), LLM_OK);
    assert_int_equal(llm_trainer_next_batch(in, tg, tr, stream, NSTREAM), LLM_ERR_RANGE);
    assert_non_null(strstr(llm_errmsg(tr), "R=400"));
    llm_trainer_free(tr);
    llm_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_gpt2),
        cmocka_unit_test(test_group_llama_shuffle),
        cmocka_unit_test(test_solo_hook),
        cmocka_unit_test(test_checkpoint_cross),
        cmocka_unit_test(test_hook_failure),
        cmocka_unit_test(test_set_reduce_args),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
