/*
 * bench_train.c - training throughput through the public API: full
 * optimizer steps (forward, backward, clipping, AdamW) of a GPT-2 or
 * Llama model created from scratch, on random tokens. Prints one line:
 *   bench=train impl=libllm name=<name> threads=<n> B=<b> T=<t> step_ms=<min>
 *         step_ms_mean=<mean> cpu_ms=<CPU time per step, all threads>
 *         tok_s=<from the min> peak_rss_mb=<z> loss0=<first loss>
 * On a shared machine the fastest step is the best estimate of the cost;
 * the CPU time per step is the work done, whatever the contention.
 * usage: bench_train NAME ARCH N_LAYER N_EMBD N_HEAD N_VOCAB B T STEPS THREADS
 * The first step is a warm-up and is not timed. bench_train.sh runs it
 * beside bench_train.py (PyTorch, same model and batches).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "llm.h"

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(int st, const void *h, const char *what) {
    fprintf(stderr, "bench_train: %s: %s: %s\n", what, llm_status_str(st), llm_errmsg(h));
    exit(1);
}

int main(int argc, char **argv) {
    llm_model_config c;
    llm_trainer_opts o;
    llm_model *m = NULL;
    llm_trainer *tr = NULL;
    llm_token *in, *tg;
    size_t n, i;
    int steps, s, st;
    uint64_t x = 1;
    float loss, loss0 = 0.0f;
    double t0, c0, dt, best = 1e30, total = 0.0, cpu;
    struct rusage ru;
    if (argc != 11) {
        fprintf(stderr, "usage: bench_train NAME ARCH N_LAYER N_EMBD N_HEAD N_VOCAB B T STEPS "
                        "THREADS\n");
        return 2;
    }
    LLM_MODEL_CONFIG_INIT(&c);
    c.arch = strcmp(argv[2], "llama") == 0 ? LLM_ARCH_LLAMA : LLM_ARCH_GPT2;
    c.n_layer = (uint32_t)atoi(argv[3]);
    c.n_embd = (uint32_t)atoi(argv[4]);
    c.n_head = (uint32_t)atoi(argv[5]);
    c.n_head_kv = 0;
    c.n_vocab = (uint32_t)atoi(argv[6]);
    c.n_ff = c.arch == LLM_ARCH_LLAMA ? 8 * c.n_embd / 3 : 0;
    c.n_ctx = (uint32_t)atoi(argv[8]);
    if ((st = llm_model_create(&m, &c, 1, NULL)) != LLM_OK)
        die(st, NULL, "llm_model_create");
    LLM_TRAINER_OPTS_INIT(&o);
    o.batch = (uint32_t)atoi(argv[7]);
    o.seq_len = (uint32_t)atoi(argv[8]);
    o.n_threads = (uint32_t)atoi(argv[10]);
    o.lr = 6e-4;
    o.weight_decay = 0.1;
    o.grad_clip = 1.0;
    o.beta2 = 0.95;
    steps = atoi(argv[9]);
    if ((st = llm_trainer_create(&tr, m, &o)) != LLM_OK)
        die(st, NULL, "llm_trainer_create");
    n = (size_t)o.batch * o.seq_len;
    in = malloc(n * sizeof *in);
    tg = malloc(n * sizeof *tg);
    for (i = 0; i < n; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        in[i] = (llm_token)((x >> 33) % c.n_vocab);
    }
    for (i = 0; i < n; i++)
        tg[i] = in[(i + 1) % n];
    if ((st = llm_trainer_step(&loss0, tr, in, tg, n)) != LLM_OK) /* warm-up */
        die(st, tr, "llm_trainer_step");
    c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    for (s = 0; s < steps; s++) {
        t0 = clock_s(CLOCK_MONOTONIC);
        if ((st = llm_trainer_step(&loss, tr, in, tg, n)) != LLM_OK)
            die(st, tr, "llm_trainer_step");
        dt = clock_s(CLOCK_MONOTONIC) - t0;
        best = dt < best ? dt : best;
        total += dt;
    }
    cpu = (clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0) / steps;
    getrusage(RUSAGE_SELF, &ru);
    printf("bench=train impl=libllm name=%s threads=%s B=%u T=%u step_ms=%.1f step_ms_mean=%.1f "
           "cpu_ms=%.1f tok_s=%.0f peak_rss_mb=%.0f loss0=%.4f\n",
           argv[1], argv[10], (unsigned)o.batch, (unsigned)o.seq_len, best * 1e3,
           total / steps * 1e3, cpu * 1e3, (double)n / best, (double)ru.ru_maxrss / 1024.0,
           (double)loss0);
    llm_trainer_free(tr);
    llm_model_free(m);
    free(in);
    free(tg);
    return 0;
}
