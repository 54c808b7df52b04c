/*
 * test_trainer.c - the trainer through the public API.
 *
 * Oracles: the schedule formula evaluated here (math.md 4.3); the model
 * part's inference loss (llm_ctx_loss) for the training forward; bitwise
 * equality for determinism (1 vs 2 threads, repeated runs) and for resume
 * from a checkpoint; the unigram entropy of real English text, which a
 * model that learned anything must beat by far on held-out text;
 * hand-written files for the token loader; and error codes for bad input.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "llm.h"

static llm_model *make_model(int32_t arch, uint32_t V, uint32_t L, uint32_t C, uint32_t NH,
                             uint32_t NKV, uint32_t n_ctx, uint64_t seed) {
    llm_model_config c;
    llm_model *m = NULL;
    LLM_MODEL_CONFIG_INIT(&c);
    c.arch = arch;
    c.n_vocab = V;
    c.n_layer = L;
    c.n_embd = C;
    c.n_head = NH;
    c.n_head_kv = NKV;
    c.n_ctx = n_ctx;
    c.n_ff = arch == LLM_ARCH_LLAMA ? 3 * C : 0;
    assert_int_equal(llm_model_create(&m, &c, seed, NULL), LLM_OK);
    return m;
}

static void fill_tokens(llm_token *t, size_t n, uint32_t V, uint64_t seed) {
    size_t i;
    for (i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        t[i] = (llm_token)((seed >> 33) % V);
    }
}

static char tmpdir[256];

static int setup(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/llm_test_trainer_%ld", (long)getpid());
    return mkdir(tmpdir, 0700) == 0 ? 0 : -1;
}

static int teardown(void **state) {
    char cmd[300];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------------ */

static void test_schedule(void **state) {
    llm_model *m = make_model(LLM_ARCH_GPT2, 32, 1, 16, 2, 2, 16, 1);
    llm_trainer_opts o;
    llm_trainer *tr;
    const double lr = 6e-4, min_lr = 6e-5;
    const uint32_t W = 10;
    const uint64_t S = 100;
    uint64_t t;
    double got;
    (void)state;
    LLM_TRAINER_OPTS_INIT(&o);
    o.lr = lr;
    o.min_lr = min_lr;
    o.warmup_steps = W;
    o.total_steps = S;
    assert_int_equal(llm_trainer_create(&tr, m, &o), LLM_OK);
    for (t = 0; t < 130; t++) {
        double want;
        if (t < W)
            want = lr * (double)(t + 1) / (double)(W + 1);
        else if (t > S)
            want = min_lr;
        else
            want = min_lr + 0.5 * (1.0 + cos(3.14159265358979323846 * (double)(t - W) /
                                              (double)(S - W))) * (lr - min_lr);
        assert_int_equal(llm_trainer_lr(&got, tr, t), LLM_OK);
        assert_true(fabs(got - want) <= 1e-18 + 1e-15 * want);
    }
    /* spot values: first warmup step, the peak at W, the floor at S */
    assert_int_equal(llm_trainer_lr(&got, tr, 0), LLM_OK);
    assert_true(fabs(got - lr / 11.0) < 1e-18);
    assert_int_equal(llm_trainer_lr(&got, tr, W), LLM_OK);
    assert_true(fabs(got - lr) < 1e-18);
    assert_int_equal(llm_trainer_lr(&got, tr, S), LLM_OK);
    assert_true(fabs(got - min_lr) < 1e-18);
    llm_trainer_free(tr);
    o.schedule = LLM_SCHEDULE_CONSTANT;
    assert_int_equal(llm_trainer_create(&tr, m, &o), LLM_OK);
    for (t = 0; t < 200; t += 37) {
        assert_int_equal(llm_trainer_lr(&got, tr, t), LLM_OK);
        assert_true(got == lr);
    }
    llm_trainer_free(tr);
    llm_model_free(m);
}

/* The training forward computes the same loss as the model's evaluator. */
static void check_loss_vs_ctx(int32_t arch, uint32_t NKV) {
    llm_model *m = make_model(arch, 50, 2, 32, 4, NKV, 24, 7);
    llm_trainer_opts o;
    llm_trainer *tr;
    llm_ctx *ctx;
    llm_ctx_opts co;
    llm_token in[2 * 16], tg[2 * 16];
    float loss;
    double ref;
    LLM_TRAINER_OPTS_INIT(&o);
    o.batch = 2;
    o.seq_len = 16;
    assert_int_equal(llm_trainer_create(&tr, m, &o), LLM_OK);
    fill_tokens(in, 32, 50, 3);
    fill_tokens(tg, 32, 50, 4);
    assert_int_equal(llm_trainer_eval(&loss, tr, in, tg, 32), LLM_OK);
    LLM_CTX_OPTS_INIT(&co);
    co.n_batch = 32;
    assert_int_equal(llm_ctx_create(&ctx, m, &co), LLM_OK);
    assert_int_equal(llm_ctx_loss(&ref, NULL, ctx, in, tg, 2, 16), LLM_OK);
    if (!(fabs(loss - ref) <= 1e-5 * ref))
        fail_msg("arch %d: trainer loss %.9g, llm_ctx_loss %.9g", (int)arch, (double)loss, ref);
    llm_ctx_free(ctx);
    llm_trainer_free(tr);
    llm_model_free(m);
}

static void test_loss_matches_inference(void **state) {
    (void)state;
    check_loss_vs_ctx(LLM_ARCH_GPT2, 4);
    check_loss_vs_ctx(LLM_ARCH_LLAMA, 2);
}

/* ------------------------------------------------------------------------ */

/* Trains `steps` steps on batches drawn from `stream` (shuffled), recording
 * the losses; starts from checkpoint `resume` when not NULL and saves to
 * `save` after `save_at` steps when not NULL. */
static void run(float *losses, llm_model **model_out, int32_t arch, int threads, int steps,
                const char *resume, const char *save, int save_at, uint64_t model_seed) {
    llm_model *m = make_model(arch, 40, 2, 32, 4, arch == LLM_ARCH_LLAMA ? 2 : 4, 16,
                              model_seed);
    llm_trainer_opts o;
    llm_trainer *tr;
    llm_token stream[3000], in[2 * 2 * 8], tg[2 * 2 * 8];
    uint64_t done = 0;
    int s;
    /* a learnable stream: token t+1 = (3 t + 1) mod 40, one in 5 random */
    fill_tokens(stream, 3000, 40, 99);
    for (s = 1; s < 3000; s++)
        if (stream[s] % 5 != 0)
            stream[s] = (3 * stream[s - 1] + 1) % 40;
    LLM_TRAINER_OPTS_INIT(&o);
    o.flags = LLM_TRAIN_SHUFFLE;
    o.n_threads = (uint32_t)threads;
    o.batch = 2;
    o.seq_len = 8;
    o.grad_accum = 2;
    o.lr = 1e-2;
    o.min_lr = 1e-3;
    o.warmup_steps = 2;
    o.total_steps = (uint64_t)steps;
    o.weight_decay = 0.1;
    o.grad_clip = 0.5;
    o.beta2 = 0.95;
    o.seed = 42;
    assert_int_equal(llm_trainer_create(&tr, m, &o), LLM_OK);
    if (resume) {
        assert_int_equal(llm_trainer_load(tr, resume), LLM_OK);
        assert_int_equal(llm_trainer_n_steps(&done, tr), LLM_OK);
    }
    for (s = (int)done; s < steps; s++) {
        assert_int_equal(llm_trainer_next_batch(in, tg, tr, stream, 3000), LLM_OK);
        assert_int_equal(llm_trainer_step(&losses[s], tr, in, tg, 32), LLM_OK);
        if (save && s + 1 == save_at) {
            assert_int_equal(llm_trainer_save(tr, save), LLM_OK);
            break;
        }
    }
    llm_trainer_free(tr);
    *model_out = m;
}

static void assert_same_weights(const llm_model *a, const llm_model *b) {
    size_t n, i;
    assert_int_equal(llm_model_n_tensors(&n, a), LLM_OK);
    for (i = 0; i < n; i++) {
        const char *name;
        const float *da, *db;
        size_t na, nb;
        assert_int_equal(llm_model_tensor_name(&name, a, i), LLM_OK);
        assert_int_equal(llm_model_tensor_data(&da, &na, a, name), LLM_OK);
        assert_int_equal(llm_model_tensor_data(&db, &nb, b, name), LLM_OK);
        assert_int_equal(na, nb);
        if (memcmp(da, db, na * sizeof *da) != 0)
            fail_msg("tensor %s differs", name);
    }
}

static void check_resume(int32_t arch) {
    float straight[8], first[8], second[8];
    llm_model *a, *b, *c;
    char path[300];
    int s;
    snprintf(path, sizeof path, "%s/resume_%d.ckpt", tmpdir, (int)arch);
    run(straight, &a, arch, 2, 8, NULL, NULL, 0, 5);
    run(first, &b, arch, 2, 8, NULL, path, 4, 5);
    /* a fresh model with other weights: everything must come from the file */
    run(second, &c, arch, 2, 8, path, NULL, 0, 6);
    for (s = 0; s < 4; s++)
        assert_true(memcmp(&straight[s], &first[s], sizeof(float)) == 0);
    for (s = 4; s < 8; s++)
        if (memcmp(&straight[s], &second[s], sizeof(float)) != 0)
            fail_msg("step %d: straight %.9g, resumed %.9g", s, (double)straight[s],
                     (double)second[s]);
    assert_true(straight[7] < straight[0]); /* and it learns */
    assert_same_weights(a, c);
    llm_model_free(a);
    llm_model_free(b);
    llm_model_free(c);
}

static void test_resume_gpt2(void **state) {
    (void)state;
    check_resume(LLM_ARCH_GPT2);
}

static void test_resume_llama(void **state) {
    (void)state;
    check_resume(LLM_ARCH_LLAMA);
}

/* Clipping: llm_trainer_grad_copy after a clipped step gives the
 * unclipped gradient times clip_grad_norm_'s coefficient, bit for bit (the
 * optimizer applies the coefficient as it reads the gradient; the torch
 * parity tests check the clipped updates). */
static void test_clipped_grad_copy(void **state) {
    llm_model *m0 = make_model(LLM_ARCH_GPT2, 40, 2, 16, 2, 2, 16, 1);
    llm_model *m1 = make_model(LLM_ARCH_GPT2, 40, 2, 16, 2, 2, 16, 1);
    llm_trainer *t0 = NULL, *t1 = NULL;
    llm_trainer_opts o;
    llm_token in[16], tg[16];
    double n0, n1, coef;
    float l0, l1;
    size_t n, i, k, len;
    (void)state;
    fill_tokens(in, 16, 40, 5);
    fill_tokens(tg, 16, 40, 6);
    LLM_TRAINER_OPTS_INIT(&o);
    o.batch = 2;
    o.seq_len = 8;
    o.grad_clip = 0.0;
    assert_int_equal(llm_trainer_create(&t0, m0, &o), LLM_OK);
    o.grad_clip = 1e-3; /* far below any norm here: always clips */
    assert_int_equal(llm_trainer_create(&t1, m1, &o), LLM_OK);
    assert_int_equal(llm_trainer_step(&l0, t0, in, tg, 16), LLM_OK);
    assert_int_equal(llm_trainer_step(&l1, t1, in, tg, 16), LLM_OK);
    assert_true(l0 == l1);
    assert_int_equal(llm_trainer_grad_norm(&n0, t0), LLM_OK);
    assert_int_equal(llm_trainer_grad_norm(&n1, t1), LLM_OK);
    assert_true(n0 == n1 && n0 > 1e-2);
    coef = 1e-3 / (n1 + 1e-6);
    assert_int_equal(llm_model_n_tensors(&n, m1), LLM_OK);
    for (i = 0; i < n; i++) {
        const char *name;
        float *g0, *g1;
        assert_int_equal(llm_model_tensor_name(&name, m1, i), LLM_OK);
        assert_int_equal(llm_trainer_grad_copy(NULL, 0, &len, t1, name), LLM_ERR_BUFFER_TOO_SMALL);
        g0 = malloc(len * sizeof *g0);
        g1 = malloc(len * sizeof *g1);
        assert_int_equal(llm_trainer_grad_copy(g0, len, NULL, t0, name), LLM_OK);
        assert_int_equal(llm_trainer_grad_copy(g1, len, NULL, t1, name), LLM_OK);
        for (k = 0; k < len; k++)
            if (g1[k] != g0[k] * (float)coef)
                fail_msg("%s[%zu]: clipped %.9g, want %.9g", name, k, (double)g1[k],
                         (double)(g0[k] * (float)coef));
        free(g0);
        free(g1);
    }
    llm_trainer_free(t0);
    llm_trainer_free(t1);
    llm_model_free(m0);
    llm_model_free(m1);
}

static void test_threads_same_bits(void **state) {
    float l1[5], l2[5];
    llm_model *a, *b;
    (void)state;
    run(l1, &a, LLM_ARCH_LLAMA, 1, 5, NULL, NULL, 0, 9);
    run(l2, &b, LLM_ARCH_LLAMA, 2, 5, NULL, NULL, 0, 9);
    assert_memory_equal(l1, l2, sizeof l1);
    assert_same_weights(a, b);
    llm_model_free(a);
    llm_model_free(b);
}

/* ------------------------------------------------------------------------ */

static void test_checkpoint_errors(void **state) {
    float losses[4];
    llm_model *m, *other;
    llm_trainer *tr;
    llm_trainer_opts o;
    char path[300], bad[300];
    FILE *f;
    long size;
    unsigned char *buf;
    const float *w;
    float before;
    size_t n;
    (void)state;
    snprintf(path, sizeof path, "%s/err.ckpt", tmpdir);
    snprintf(bad, sizeof bad, "%s/bad.ckpt", tmpdir);
    run(losses, &m, LLM_ARCH_GPT2, 1, 2, NULL, path, 2, 5);
    LLM_TRAINER_OPTS_INIT(&o);
    o.batch = 2;
    o.seq_len = 8;
    o.grad_accum = 2;
    assert_int_equal(llm_trainer_create(&tr, m, &o), LLM_OK);
    assert_int_equal(llm_trainer_load(tr, "/nonexistent/x.ckpt"), LLM_ERR_NOT_FOUND);
    assert_int_equal(llm_trainer_load(NULL, path), LLM_ERR_INVALID);
    assert_int_equal(llm_trainer_load(tr, NULL), LLM_ERR_INVALID);
    /* flip one bit of the last tensor's data: the CRC catches it */
    f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)size);
    assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    buf[size - 5] ^= 0x10;
    f = fopen(bad, "wb");
    fwrite(buf, 1, (size_t)size, f);
    fclose(f);
    assert_int_equal(llm_model_tensor_data(&w, &n, m, "token_embd.weight"), LLM_OK);
    before = w[0];
    assert_int_equal(llm_trainer_load(tr, bad), LLM_ERR_BAD_FILE);
    assert_non_null(strstr(llm_errmsg(tr), "CRC"));
    /* truncated */
    f = fopen(bad, "wb");
    fwrite(buf, 1, (size_t)size / 2, f);
    fclose(f);
    assert_int_equal(llm_trainer_load(tr, bad), LLM_ERR_BAD_FILE);
    assert_true(w[0] == before); /* nothing changed by the failures */
    llm_trainer_free(tr);
    /* another batch shape */
    o.batch = 3;
    assert_int_equal(llm_trainer_create(&tr, m, &o), LLM_OK);
    assert_int_equal(llm_trainer_load(tr, path), LLM_ERR_STATE);
    assert_non_null(strstr(llm_errmsg(tr), "batch"));
    llm_trainer_free(tr);
    /* another model */
    other = make_model(LLM_ARCH_GPT2, 40, 1, 32, 4, 4, 16, 1);
    o.batch = 2;
    assert_int_equal(llm_trainer_create(&tr, other, &o), LLM_OK);
    assert_int_equal(llm_trainer_load(tr, path), LLM_ERR_STATE);
    assert_non_null(strstr(llm_errmsg(tr), "n_layer"));
    llm_trainer_free(tr);
    /* saving where the directory does not exist fails cleanly */
    assert_int_equal(llm_trainer_create(&tr, m, &o), LLM_OK);
    assert_int_equal(llm_trainer_save(tr, "/nonexistent/dir/x.ckpt"), LLM_ERR_IO);
    llm_trainer_free(tr);
    llm_model_free(other);
    llm_model_free(m);
    free(buf);
}

static void test_bad_inputs(void **state) {
    llm_model *m = make_model(LLM_ARCH_LLAMA, 30, 1, 16, 2, 1, 16, 3);
    llm_trainer_opts o;
    llm_trainer *tr = (llm_trainer *)1;
    llm_token in[2 * 8], tg[2 * 8];
    const float *w;
    float loss = -1.0f, before;
    uint64_t steps;
    size_t n;
    (void)state;
    LLM_TRAINER_OPTS_INIT(&o);
    assert_int_equal(llm_trainer_create(NULL, m, &o), LLM_ERR_INVALID);
    assert_int_equal(llm_trainer_create(&tr, NULL, &o), LLM_ERR_INVALID);
    assert_null(tr);
    o.lr = -1.0;
    assert_int_equal(llm_trainer_create(&tr, m, &o), LLM_ERR_INVALID);
    assert_non_null(strstr(llm_last_errmsg(), "lr"));
    o.lr = NAN;
    assert_int_equal(llm_trainer_create(&tr, m, &o), LLM_ERR_INVALID);
    o.lr = 0.0;
    o.beta2 = 1.0;
    assert_int_equal(llm_trainer_create(&tr, m, &o), LLM_ERR_INVALID);
    o.beta2 = 0.0;
    o.seq_len = 17;
    assert_int_equal(llm_trainer_create(&tr, m, &o), LLM_ERR_RANGE);
    o.seq_len = 8;
    o.flags = 0x80;
    assert_int_equal(llm_trainer_create(&tr, m, &o), LLM_ERR_UNSUPPORTED);
    o.flags = 0;
    o.schedule = 7;
    assert_int_equal(llm_trainer_create(&tr, m, &o), LLM_ERR_INVALID);
    o.schedule = 0;
    o.batch = 2;
    assert_int_equal(llm_trainer_create(&tr, m, &o), LLM_OK);
    fill_tokens(in, 16, 30, 1);
    fill_tokens(tg, 16, 30, 2);
    assert_int_equal(llm_model_tensor_data(&w, &n, m, "token_embd.weight"), LLM_OK);
    before = w[in[0] * 16];
    assert_int_equal(llm_trainer_step(&loss, NULL, in, tg, 16), LLM_ERR_INVALID);
    assert_int_equal(llm_trainer_step(&loss, tr, NULL, tg, 16), LLM_ERR_INVALID);
    assert_int_equal(llm_trainer_step(&loss, tr, in, NULL, 16), LLM_ERR_INVALID);
    assert_int_equal(llm_trainer_step(&loss, tr, in, tg, 15), LLM_ERR_INVALID);
    assert_non_null(strstr(llm_errmsg(tr), "K*B*T"));
    assert_int_equal(llm_trainer_step(&loss, tr, in, tg, 0), LLM_ERR_INVALID);
    in[5] = 30;
    assert_int_equal(llm_trainer_step(&loss, tr, in, tg, 16), LLM_ERR_RANGE);
    assert_non_null(strstr(llm_errmsg(tr), "inputs[5]"));
    in[5] = 0;
    tg[9] = -1;
    assert_int_equal(llm_trainer_step(&loss, tr, in, tg, 16), LLM_ERR_RANGE);
    assert_non_null(strstr(llm_errmsg(tr), "targets[9]"));
    tg[9] = 1;
    assert_true(loss == -1.0f);
    assert_true(w[in[0] * 16] == before);
    assert_int_equal(llm_trainer_n_steps(&steps, tr), LLM_OK);
    assert_int_equal(steps, 0);
    assert_int_equal(llm_trainer_step(&loss, tr, in, tg, 16), LLM_OK);
    assert_true(loss > 0.0f && w[in[0] * 16] != before);
    assert_int_equal(llm_trainer_n_steps(&steps, tr), LLM_OK);
    assert_int_equal(steps, 1);
    assert_int_equal(llm_trainer_eval(&loss, tr, in, tg, 8), LLM_ERR_INVALID);
    assert_int_equal(llm_trainer_eval(NULL, tr, in, tg, 16), LLM_ERR_INVALID);
    assert_int_equal(llm_trainer_next_batch(in, tg, tr, in, 16), LLM_ERR_RANGE);
    assert_int_equal(llm_trainer_lr(NULL, tr, 0), LLM_ERR_INVALID);
    assert_int_equal(llm_trainer_grad_copy(NULL, 0, &n, tr, "no.such"), LLM_ERR_NOT_FOUND);
    assert_int_equal(llm_trainer_grad_copy(NULL, 0, &n, tr, "output_norm.weight"),
                     LLM_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(n, 16);
    llm_trainer_free(tr);
    llm_trainer_free(NULL);
    llm_model_free(m);
}

static int cancel_second(void *ud, const llm_progress *p) {
    int *calls = ud;
    assert_int_equal(p->phase, LLM_PHASE_TRAIN_STEP);
    return ++*calls == 2; /* stop during the second micro-batch's report */
}

/* A cancelled step and a step with a NaN loss change nothing. */
static void test_cancel_and_nan(void **state) {
    llm_model *m = make_model(LLM_ARCH_GPT2, 30, 1, 16, 2, 2, 16, 3);
    llm_trainer_opts o;
    llm_trainer *tr;
    llm_token in[2 * 2 * 8], tg[2 * 2 * 8];
    const float *w;
    float *wr, loss = -1.0f, before;
    uint64_t steps;
    size_t n;
    int calls = 0;
    (void)state;
    LLM_TRAINER_OPTS_INIT(&o);
    o.batch = 2;
    o.seq_len = 8;
    o.grad_accum = 2;
    o.progress = cancel_second;
    o.progress_ud = &calls;
    assert_int_equal(llm_trainer_create(&tr, m, &o), LLM_OK);
    fill_tokens(in, 32, 30, 1);
    fill_tokens(tg, 32, 30, 2);
    assert_int_equal(llm_model_tensor_data(&w, &n, m, "blk.0.ffn_up.weight"), LLM_OK);
    before = w[0];
    assert_int_equal(llm_trainer_step(&loss, tr, in, tg, 32), LLM_ERR_CANCELLED);
    assert_int_equal(calls, 2);
    assert_true(w[0] == before && loss == -1.0f);
    assert_int_equal(llm_trainer_n_steps(&steps, tr), LLM_OK);
    assert_int_equal(steps, 0);
    assert_int_equal(llm_trainer_step(&loss, tr, in, tg, 32), LLM_OK); /* calls 3, 4 */
    assert_true(w[0] != before);
    /* a NaN weight: the step reports it and updates nothing */
    assert_int_equal(llm_model_tensor_data(&w, &n, m, "output_norm.weight"), LLM_OK);
    wr = (float *)(uintptr_t)w; /* the trainer's model is writable */
    wr[3] = NAN;
    assert_int_equal(llm_model_tensor_data(&w, &n, m, "blk.0.ffn_up.weight"), LLM_OK);
    before = w[0];
    loss = -1.0f;
    assert_int_equal(llm_trainer_step(&loss, tr, in, tg, 32), LLM_ERR_NO_CONVERGENCE);
    assert_non_null(strstr(llm_errmsg(tr), "not finite"));
    assert_true(w[0] == before && loss == -1.0f);
    assert_int_equal(llm_trainer_n_steps(&steps, tr), LLM_OK);
    assert_int_equal(steps, 1);
    llm_trainer_free(tr);
    llm_model_free(m);
}

/* ------------------------------------------------------------------------ */

static void write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static void test_tokens_load(void **state) {
    const unsigned char u16[] = {1, 0, 0xff, 0xff, 0x34, 0x12};
    const unsigned char u32[] = {1, 0, 0, 0, 0x78, 0x56, 0x34, 0x12};
    const unsigned char neg[] = {0, 0, 0, 0x80};
    char p[300];
    llm_token *t;
    size_t n;
    gzFile gz;
    (void)state;
    snprintf(p, sizeof p, "%s/a.bin", tmpdir);
    write_file(p, u16, sizeof u16);
    assert_int_equal(llm_tokens_load(&t, &n, p, LLM_TOKENS_AUTO), LLM_OK);
    assert_int_equal(n, 3);
    assert_int_equal(t[0], 1);
    assert_int_equal(t[1], 65535);
    assert_int_equal(t[2], 0x1234);
    llm_free(t);
    assert_int_equal(llm_tokens_load(&t, &n, p, LLM_TOKENS_BYTES), LLM_OK);
    assert_int_equal(n, 6);
    assert_int_equal(t[1], 0);
    assert_int_equal(t[2], 255);
    llm_free(t);
    snprintf(p, sizeof p, "%s/a.u32", tmpdir);
    write_file(p, u32, sizeof u32);
    assert_int_equal(llm_tokens_load(&t, &n, p, LLM_TOKENS_AUTO), LLM_OK);
    assert_int_equal(n, 2);
    assert_int_equal(t[1], 0x12345678);
    llm_free(t);
    snprintf(p, sizeof p, "%s/odd.bin", tmpdir);
    write_file(p, u16, 5);
    assert_int_equal(llm_tokens_load(&t, &n, p, LLM_TOKENS_AUTO), LLM_ERR_BAD_FILE);
    assert_null(t);
    snprintf(p, sizeof p, "%s/neg.u32", tmpdir);
    write_file(p, neg, sizeof neg);
    assert_int_equal(llm_tokens_load(&t, &n, p, LLM_TOKENS_AUTO), LLM_ERR_BAD_FILE);
    snprintf(p, sizeof p, "%s/x.txt", tmpdir);
    write_file(p, u16, sizeof u16);
    assert_int_equal(llm_tokens_load(&t, &n, p, LLM_TOKENS_AUTO), LLM_ERR_INVALID);
    assert_int_equal(llm_tokens_load(&t, &n, "/nonexistent.bin", 0), LLM_ERR_NOT_FOUND);
    assert_int_equal(llm_tokens_load(NULL, &n, p, 0), LLM_ERR_INVALID);
    /* gzip-compressed */
    snprintf(p, sizeof p, "%s/c.bin.gz", tmpdir);
    gz = gzopen(p, "wb");
    assert_non_null(gz);
    assert_int_equal(gzwrite(gz, u16, sizeof u16), (int)sizeof u16);
    gzclose(gz);
    assert_int_equal(llm_tokens_load(&t, &n, p, LLM_TOKENS_AUTO), LLM_OK);
    assert_int_equal(n, 3);
    assert_int_equal(t[2], 0x1234);
    llm_free(t);
}

/* The sequential order of the issue: windows of B*T+1 from a cursor that
 * advances by B*T and wraps when fewer than B*T+1 tokens remain. */
static void test_next_batch_sequential(void **state) {
    llm_model *m = make_model(LLM_ARCH_GPT2, 100, 1, 16, 2, 2, 16, 1);
    llm_trainer_opts o;
    llm_trainer *tr;
    llm_token stream[20], in[6], tg[6];
    int i, call;
    const int starts[] = {0, 6, 12, 0, 6};
    (void)state;
    for (i = 0; i < 20; i++)
        stream[i] = i;
    LLM_TRAINER_OPTS_INIT(&o);
    o.batch = 2;
    o.seq_len = 3;
    assert_int_equal(llm_trainer_create(&tr, m, &o), LLM_OK);
    for (call = 0; call < 5; call++) {
        assert_int_equal(llm_trainer_next_batch(in, tg, tr, stream, 20), LLM_OK);
        for (i = 0; i < 6; i++) {
            assert_int_equal(in[i], starts[call] + i);
            assert_int_equal(tg[i], starts[call] + i + 1);
        }
    }
    llm_trainer_free(tr);
    llm_model_free(m);
}

/* ------------------------------------------------------------------------ */

/* A small model learns English text given as bytes (vocabulary 256):
 * held-out loss at least 0.5 nats below the unigram entropy of the
 * training bytes (about 3.2 nats), which no model that ignores context
 * can beat. */
static void check_learns(int32_t arch, int steps) {
    const char *path = getenv("LLM_TEST_TEXT");
    llm_token *text, *train, *in, *tg;
    size_t n, n_val, v0, n_train, i;
    double counts[256] = {0}, H = 0.0, val_sum = 0.0;
    llm_model *m;
    llm_trainer_opts o;
    llm_trainer *tr;
    float loss = 0.0f, first = 0.0f, val;
    int s, w;
    if (!path)
        path = "/usr/share/common-licenses/GPL-3";
    assert_int_equal(llm_tokens_load(&text, &n, path, LLM_TOKENS_BYTES), LLM_OK);
    assert_true(n > 20000);
    /* held out: 8 blocks of 8 windows of 65 bytes from the middle; the
     * training stream is the rest, joined */
    n_val = 8 * 8 * 65;
    v0 = n / 2;
    n_train = n - n_val;
    train = malloc(n_train * sizeof *train);
    memcpy(train, text, v0 * sizeof *train);
    memcpy(train + v0, text + v0 + n_val, (n - v0 - n_val) * sizeof *train);
    for (i = 0; i < n_train; i++)
        counts[train[i]] += 1.0;
    for (i = 0; i < 256; i++)
        if (counts[i] > 0)
            H -= counts[i] / (double)n_train * log(counts[i] / (double)n_train);
    m = make_model(arch, 256, 2, 64, 4, arch == LLM_ARCH_LLAMA ? 2 : 4, 64, 1);
    LLM_TRAINER_OPTS_INIT(&o);
    o.n_threads = 2;
    o.batch = 8;
    o.seq_len = 64;
    o.lr = 1e-2;
    o.min_lr = 1e-3;
    o.warmup_steps = 10;
    o.total_steps = (uint64_t)steps;
    o.weight_decay = 0.1;
    o.grad_clip = 1.0;
    o.beta2 = 0.95;
    o.flags = LLM_TRAIN_SHUFFLE;
    assert_int_equal(llm_trainer_create(&tr, m, &o), LLM_OK);
    in = malloc(512 * sizeof *in);
    tg = malloc(512 * sizeof *tg);
    for (s = 0; s < steps; s++) {
        assert_int_equal(llm_trainer_next_batch(in, tg, tr, train, n_train), LLM_OK);
        assert_int_equal(llm_trainer_step(&loss, tr, in, tg, 512), LLM_OK);
        if (s == 0)
            first = loss;
    }
    for (w = 0; w < 8; w++) {
        for (i = 0; i < 512; i++) {
            in[i] = text[v0 + (size_t)w * 520 + (i / 64) * 65 + i % 64];
            tg[i] = text[v0 + (size_t)w * 520 + (i / 64) * 65 + i % 64 + 1];
        }
        assert_int_equal(llm_trainer_eval(&val, tr, in, tg, 512), LLM_OK);
        val_sum += val;
    }
    val = (float)(val_sum / 8.0);
    print_message("arch %d: unigram entropy %.3f nats, loss %.3f -> %.3f, held-out %.3f\n",
                  (int)arch, H, (double)first, (double)loss, (double)val);
    assert_true(first > 5.0f);        /* ~ln 256 at the start */
    assert_true(val < H - 0.5);       /* far below the unigram entropy */
    llm_trainer_free(tr);
    llm_model_free(m);
    llm_free(text);
    free(train);
    free(in);
    free(tg);
}

static void test_learns_text_gpt2(void **state) {
    (void)state;
    check_learns(LLM_ARCH_GPT2, 600);
}

static void test_learns_text_llama(void **state) {
    (void)state;
    check_learns(LLM_ARCH_LLAMA, 600);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedule),
        cmocka_unit_test(test_loss_matches_inference),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_cancel_and_nan),
        cmocka_unit_test(test_tokens_load),
        cmocka_unit_test(test_next_batch_sequential),
        cmocka_unit_test(test_threads_same_bits),
        cmocka_unit_test(test_clipped_grad_copy),
        cmocka_unit_test(test_resume_gpt2),
        cmocka_unit_test(test_resume_llama),
        cmocka_unit_test(test_checkpoint_errors),
        cmocka_unit_test(test_learns_text_gpt2),
        cmocka_unit_test(test_learns_text_llama),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
