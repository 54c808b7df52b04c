/*
 * mpi_group.c - one rank of the MPI fault tests, run as
 *     mpirun -np 2 mpi_group TIMEOUT_S CHECKPOINT RESULT skip|die
 * (driven by mpi_cli.py, which checks RESULT).
 *
 * Both ranks train a small model for two steps through libllm_mpi, check
 * that their weights are bitwise identical (llm_mpi_check_same) and that
 * a rank-dependent buffer is reported as different; rank 0 writes a
 * checkpoint. Then rank 1 skips the third step's collectives (`skip`:
 * it sleeps, as a hung peer would; `die`: it is killed by SIGKILL, and
 * mpirun runs with orte_abort_on_non_zero_status=0): rank 0 must get LLM_ERR_IO with a message about
 * the timeout within TIMEOUT_S (+ slack), its weights and step count must
 * be unchanged, the handle must then fail at once, and the checkpoint
 * must still load. Rank 0 writes "PASS ..." or "FAIL: ..." to RESULT and
 * exits without finalising MPI (a collective is pending by design).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "llm.h"
#include "llm_mpi.h"

#define T 16
#define B 2
#define NSTREAM 4000

static FILE *result;

static void finish(int ok, const char *fmt, ...) {
    va_list ap;
    if (result) {
        fputs(ok ? "PASS " : "FAIL: ", result);
        va_start(ap, fmt);
        vfprintf(result, fmt, ap);
        va_end(ap);
        fputc('\n', result);
        fclose(result);
    }
    fflush(stdout);
    /* no MPI_Finalize: a collective may be pending on purpose */
    _exit(ok ? 0 : 1);
}

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond))                                                           \
            finish(0, __VA_ARGS__);                                            \
    } while (0)

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static llm_model *make_model(void) {
    llm_model_config c;
    llm_model *m = NULL;
    LLM_MODEL_CONFIG_INIT(&c);
    c.arch = LLM_ARCH_GPT2;
    c.n_vocab = 96;
    c.n_layer = 2;
    c.n_embd = 32;
    c.n_head = 4;
    c.n_head_kv = 4;
    c.n_ff = 128;
    c.n_ctx = T;
    if (llm_model_create(&m, &c, 3, NULL) != LLM_OK)
        finish(0, "llm_model_create: %s", llm_last_errmsg());
    return m;
}

static llm_trainer *make_trainer(llm_model *m, uint32_t batch) {
    llm_trainer_opts o;
    llm_trainer *tr = NULL;
    LLM_TRAINER_OPTS_INIT(&o);
    o.batch = batch;
    o.seq_len = T;
    o.lr = 1e-3;
    o.grad_clip = 1.0;
    if (llm_trainer_create(&tr, m, &o) != LLM_OK)
        finish(0, "llm_trainer_create: %s", llm_last_errmsg());
    return tr;
}

/* All weights, concatenated (malloc'ed). */
static float *weights(const llm_model *m, size_t *n_out) {
    size_t nt, i, n = 0, off = 0;
    float *w;
    llm_model_n_tensors(&nt, m);
    for (i = 0; i < nt; i++) {
        const char *name;
        size_t k = 0;
        llm_model_tensor_name(&name, m, i);
        llm_model_tensor_copy(NULL, 0, &k, m, name);
        n += k;
    }
    w = malloc(n * sizeof *w);
    for (i = 0; w && i < nt; i++) {
        const char *name;
        size_t k = 0;
        llm_model_tensor_name(&name, m, i);
        llm_model_tensor_copy(w + off, n - off, &k, m, name);
        off += k;
    }
    *n_out = n;
    return w;
}

int main(int argc, char **argv) {
    llm_mpi *c = NULL;
    llm_mpi_opts mo;
    llm_model *m;
    llm_trainer *tr;
    static llm_token stream[NSTREAM];
    llm_token in[B * T], tg[B * T];
    uint32_t rank = 0, world = 0;
    uint64_t s = 77, steps;
    double timeout, t0, dt;
    float loss;
    float *w_before, *w_after;
    size_t n, n2, i;
    int rc;
    if (argc != 5 || (strcmp(argv[4], "skip") != 0 && strcmp(argv[4], "die") != 0)) {
        fprintf(stderr, "usage: mpi_group TIMEOUT_S CHECKPOINT RESULT skip|die\n");
        return 2;
    }
    timeout = atof(argv[1]);
    /* argument checks that need no MPI (they fail before MPI_Init) */
    LLM_MPI_OPTS_INIT(&mo);
    if (llm_mpi_create(NULL, &mo) != LLM_ERR_INVALID) {
        fprintf(stderr, "llm_mpi_create(NULL) was accepted\n");
        return 1;
    }
    mo.timeout_s = -1.0;
    if (llm_mpi_create(&c, &mo) != LLM_ERR_INVALID || c != NULL ||
        !strstr(llm_mpi_last_errmsg(), "timeout_s")) {
        fprintf(stderr, "a negative timeout was accepted: %s\n", llm_mpi_last_errmsg());
        return 1;
    }
    LLM_MPI_OPTS_INIT(&mo);
    mo.timeout_s = timeout;
    if ((rc = llm_mpi_create(&c, &mo)) != LLM_OK) {
        fprintf(stderr, "llm_mpi_create: %s\n", llm_mpi_last_errmsg());
        return 1;
    }
    llm_mpi_rank(&rank, c);
    llm_mpi_world_size(&world, c);
    if (rank == 0) {
        result = fopen(argv[3], "w");
        if (!result)
            return 1;
    }
    CHECK(llm_mpi_rank(NULL, c) == LLM_ERR_INVALID && llm_mpi_world_size(&world, NULL) ==
              LLM_ERR_INVALID && llm_mpi_attach(c, NULL) == LLM_ERR_INVALID &&
              llm_mpi_check_same(c, NULL, 4, "x") == LLM_ERR_INVALID &&
              llm_mpi_stats(NULL, NULL, NULL, NULL) == LLM_ERR_INVALID,
          "an invalid argument was accepted");
    CHECK(strstr(llm_mpi_errmsg(c), "NULL") != NULL, "no message for a NULL argument: '%s'",
          llm_mpi_errmsg(c));
    CHECK(world == 2, "run with mpirun -np 2 (world size %u)", (unsigned)world);
    for (i = 0; i < NSTREAM; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        stream[i] = (llm_token)((s >> 33) % 96);
    }
    m = make_model();
    tr = make_trainer(m, B);
    CHECK(llm_mpi_attach(c, tr) == LLM_OK, "llm_mpi_attach: %s", llm_mpi_errmsg(c));

    /* two good steps */
    for (i = 0; i < 2; i++) {
        CHECK(llm_trainer_next_batch(in, tg, tr, stream, NSTREAM) == LLM_OK, "next_batch: %s",
              llm_errmsg(tr));
        rc = llm_trainer_step(&loss, tr, in, tg, B * T);
        CHECK(rc == LLM_OK, "step %zu: %s", i, llm_errmsg(tr));
    }
    /* identical weights on both ranks (the same AdamW everywhere) */
    w_before = weights(m, &n);
    CHECK(w_before != NULL, "out of memory");
    rc = llm_mpi_check_same(c, w_before, n * sizeof *w_before, "the weights after 2 steps");
    CHECK(rc == LLM_OK, "weights differ between ranks: %s", llm_mpi_errmsg(c));
    /* and a buffer that does differ is caught */
    rc = llm_mpi_check_same(c, &rank, sizeof rank, "the rank number");
    CHECK(rc == LLM_ERR_STATE && strstr(llm_mpi_errmsg(c), "the rank number differs"),
          "check_same on different data gave %d: %s", rc, llm_mpi_errmsg(c));
    if (rank == 0)
        CHECK(llm_trainer_save(tr, argv[2]) == LLM_OK, "save: %s", llm_errmsg(tr));
    CHECK(llm_mpi_barrier(c) == LLM_OK, "barrier: %s", llm_mpi_errmsg(c));

    /* step 3: rank 1 does not take part (a hung peer) */
    CHECK(llm_trainer_next_batch(in, tg, tr, stream, NSTREAM) == LLM_OK, "next_batch");
    if (rank == 1) {
        if (strcmp(argv[4], "die") == 0)
            raise(SIGKILL);
        sleep((unsigned)(3 * timeout + 5)); /* stay alive: mpirun would end the job */
        _exit(0);
    }
    t0 = now_s();
    rc = llm_trainer_step(&loss, tr, in, tg, B * T);
    dt = now_s() - t0;
    CHECK(rc == LLM_ERR_IO, "the step with a silent peer returned %d (%s) after %.2f s", rc,
          llm_errmsg(tr), dt);
    CHECK(dt >= 0.9 * timeout && dt <= timeout + 5.0,
          "the error came after %.2f s, the timeout is %g s", dt, timeout);
    CHECK(strstr(llm_errmsg(tr), "did not complete within the timeout") &&
              strstr(llm_errmsg(tr), "rank 0 of 2"),
          "unclear message: %s", llm_errmsg(tr));
    /* nothing changed */
    llm_trainer_n_steps(&steps, tr);
    CHECK(steps == 2, "the failed step counted (%llu steps)", (unsigned long long)steps);
    w_after = weights(m, &n2);
    CHECK(w_after && n2 == n && memcmp(w_before, w_after, n * sizeof *w_after) == 0,
          "the failed step changed the weights");
    /* the handle is broken: later collectives fail at once */
    t0 = now_s();
    rc = llm_mpi_barrier(c);
    CHECK(rc == LLM_ERR_IO && now_s() - t0 < 0.5, "barrier after the failure gave %d", rc);
    /* the checkpoint is intact (global batch 2*B: a single trainer of 2*B) */
    {
        llm_model *m2 = make_model();
        llm_trainer *t2 = make_trainer(m2, 2 * B);
        float *w2;
        size_t n3;
        CHECK(llm_trainer_load(t2, argv[2]) == LLM_OK, "the checkpoint does not load: %s",
              llm_errmsg(t2));
        llm_trainer_n_steps(&steps, t2);
        CHECK(steps == 2, "checkpoint step %llu", (unsigned long long)steps);
        w2 = weights(m2, &n3);
        CHECK(w2 && n3 == n && memcmp(w2, w_before, n * sizeof *w2) == 0,
              "the checkpoint's weights are not those of step 2");
        free(w2);
    }
    finish(1, "timeout error after %.2f s (timeout %g s): %s", dt, timeout, llm_errmsg(tr));
    return 0;
}
