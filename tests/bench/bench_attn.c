/*
 * bench_attn.c - the tiled attention and the fused cross-entropy against
 * the materialising kernels they replaced (white-box, llm_internal), at
 * the trainer benchmark's shapes. Prints one line per kernel:
 *   bench=<attn_fwd|attn_bwd|head> impl=<tiled|materialising|fused_R<r>_Vc<c>|rows>
 *         threads=<n> B= T= ... ms=<best wall> cpu_ms=<CPU of all threads, best run>
 *         extra_mb=<scratch the kernel needs>
 * usage: bench_attn B T NH D V C THREADS REPS
 * (e.g. 8 256 6 64 50257 384 2 3: the 6-layer 384-wide GPT-2 of
 * bench_train.sh, one layer's attention and the head of one micro-batch).
 * Build: cmake --build BUILD --target bench_attn.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/attn.h"
#include "model/ops.h"
#include "model/xent.h"
#include "train/grad_attn.h"
#include "train/grad_ops.h"
#include "train/grad_xent.h"

static double clk(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *rnd(size_t n, float s) {
    float *f = malloc(n * sizeof *f);
    uint64_t x = 88172645463325252ull;
    size_t i;
    for (i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        f[i] = s * ((float)(x >> 40) / 16777216.0f - 0.5f);
    }
    return f;
}

typedef struct timing {
    double wall, cpu;
} timing;

#define TIME(reps, best, stmt)                                                 \
    do {                                                                       \
        int r_;                                                                \
        (best).wall = (best).cpu = 1e30;                                       \
        for (r_ = 0; r_ < (reps); r_++) {                                      \
            double w_ = clk(CLOCK_MONOTONIC), c_ = clk(CLOCK_PROCESS_CPUTIME_ID); \
            stmt;                                                              \
            w_ = clk(CLOCK_MONOTONIC) - w_;                                    \
            c_ = clk(CLOCK_PROCESS_CPUTIME_ID) - c_;                           \
            if (w_ < (best).wall)                                              \
                (best).wall = w_;                                              \
            if (c_ < (best).cpu)                                               \
                (best).cpu = c_;                                               \
        }                                                                      \
    } while (0)

int main(int argc, char **argv) {
    size_t B, T, NH, D, V, C, W3, N, i;
    int threads, reps;
    llm__pool *pool = NULL;
    llm__mem mem;
    float *qkv, *out, *lse, *att, *datt, *dout, *dqkv;
    timing t;
    if (argc != 9) {
        fprintf(stderr, "usage: bench_attn B T NH D V C THREADS REPS\n");
        return 2;
    }
    B = (size_t)atol(argv[1]), T = (size_t)atol(argv[2]), NH = (size_t)atol(argv[3]);
    D = (size_t)atol(argv[4]), V = (size_t)atol(argv[5]), C = (size_t)atol(argv[6]);
    threads = atoi(argv[7]), reps = atoi(argv[8]);
    W3 = 3 * NH * D, N = B * T;
    llm__mem_init(&mem, NULL, NULL);
    if (llm__pool_create(&pool, threads, &mem) != LLM_OK)
        return 1;

    /* ---- attention of one layer (MHA), forward and backward ---- */
    qkv = rnd(N * W3, 2.0f), dout = rnd(N * NH * D, 1.0f);
    out = malloc(N * NH * D * 4), lse = malloc(B * NH * T * 4), dqkv = malloc(N * W3 * 4);
    {
        llm__attn_args a;
        memset(&a, 0, sizeof a);
        a.n_seq = B, a.T = T, a.n_head = NH, a.n_head_kv = NH, a.D = D;
        a.q = qkv, a.ldq = W3, a.q_seq = T * W3;
        a.k = qkv + NH * D, a.ldk = W3, a.k_seq = T * W3;
        a.v = qkv + 2 * NH * D, a.ldv = W3, a.v_seq = T * W3;
        a.out = out, a.ldo = NH * D, a.o_seq = T * NH * D;
        a.lse = lse;
        TIME(reps, t, llm__attn_fwd(pool, &a));
        printf("bench=attn_fwd impl=tiled threads=%d B=%zu T=%zu NH=%zu D=%zu ms=%.2f cpu_ms=%.2f "
               "extra_mb=%.2f\n", threads, B, T, NH, D, t.wall * 1e3, t.cpu * 1e3,
               (double)(B * NH * T * 4) / 1048576.0);
        TIME(reps, t, llm__gattn_bwd(pool, &a, dout, dqkv, dqkv + NH * D, dqkv + 2 * NH * D));
        printf("bench=attn_bwd impl=tiled threads=%d B=%zu T=%zu NH=%zu D=%zu ms=%.2f cpu_ms=%.2f "
               "extra_mb=%.2f\n", threads, B, T, NH, D, t.wall * 1e3, t.cpu * 1e3, 0.0);
    }
    att = malloc(B * NH * T * T * 4), datt = malloc(B * NH * T * T * 4);
    TIME(reps, t, llm__grad_attention_fwd(pool, out, att, qkv, B, T, NH, NH, D));
    printf("bench=attn_fwd impl=materialising threads=%d B=%zu T=%zu NH=%zu D=%zu ms=%.2f "
           "cpu_ms=%.2f extra_mb=%.2f\n", threads, B, T, NH, D, t.wall * 1e3, t.cpu * 1e3,
           (double)(B * NH * T * T * 4) / 1048576.0);
    TIME(reps, t, llm__grad_attention_bwd(pool, dqkv, datt, dout, qkv, att, B, T, NH, NH, D));
    printf("bench=attn_bwd impl=materialising threads=%d B=%zu T=%zu NH=%zu D=%zu ms=%.2f "
           "cpu_ms=%.2f extra_mb=%.2f\n", threads, B, T, NH, D, t.wall * 1e3, t.cpu * 1e3,
           (double)(B * NH * T * T * 4) / 1048576.0);
    free(att), free(datt), free(qkv), free(dout), free(out), free(lse), free(dqkv);

    /* ---- decode: one query per head against a KV cache of T rows ---- */
    {
        const size_t E = NH * D, reps_d = 200;
        float *q = rnd(E, 2.0f), *kc = rnd(T * E, 2.0f), *vc = rnd(T * E, 2.0f);
        float *o = malloc(E * 4), *sc = malloc(T * 4);
        llm__attn_args a;
        size_t r;
        memset(&a, 0, sizeof a);
        a.n_seq = 1, a.T = 1, a.pos0 = T - 1, a.n_head = NH, a.n_head_kv = NH, a.D = D;
        a.q = q, a.ldq = E, a.q_seq = E;
        a.k = kc, a.ldk = E;
        a.v = vc, a.ldv = E;
        a.out = o, a.ldo = E, a.o_seq = E;
        TIME(reps, t, for (r = 0; r < reps_d; r++) llm__attn_fwd(NULL, &a));
        printf("bench=attn_decode impl=tiled threads=1 pos=%zu NH=%zu D=%zu us=%.2f\n", T - 1, NH,
               D, t.wall * 1e6 / (double)reps_d);
        TIME(reps, t, for (r = 0; r < reps_d; r++)
                          llm__ops_attention(o, q, kc, vc, E, T - 1, NH, NH, D, 0, NH, sc));
        printf("bench=attn_decode impl=rowwise threads=1 pos=%zu NH=%zu D=%zu us=%.2f\n", T - 1,
               NH, D, t.wall * 1e6 / (double)reps_d);
        free(q), free(kc), free(vc), free(o), free(sc);
    }

    /* ---- the head: logits, loss, dX, dW for N rows ---- */
    {
        float *x = rnd(N * C, 2.0f), *w = rnd(V * C, 0.1f), *dx = malloc(N * C * 4);
        float *dw = calloc(V * C, 4), *loss = malloc(N * 4);
        llm_token *tgt = malloc(N * sizeof *tgt);
        static const size_t budgets[] = {(size_t)1 << 27, (size_t)1 << 26, (size_t)1 << 25,
                                         (size_t)1 << 24,
                                         (size_t)1 << 23};
        for (i = 0; i < N; i++)
            tgt[i] = (llm_token)((i * 7919) % V);
        { /* the replaced path: all N x V logits, then loss, then dX and dW */
            float *z = malloc(N * V * 4);
            TIME(reps, t, {
                llm__gemm(pool, 0, 1, (int)N, (int)V, (int)C, 1.0f, x, (int)C, w, (int)C, 0.0f,
                          z, (int)V);
                llm__grad_crossentropy(pool, z, loss, tgt, N, V, 1.0f / (float)N);
                llm__grad_linear_bwd(pool, dx, dw, NULL, z, V, x, w, N, C, V, 0);
            });
            printf("bench=head impl=rows_N%zu threads=%d N=%zu C=%zu V=%zu ms=%.1f cpu_ms=%.1f "
                   "extra_mb=%.1f\n", N, threads, N, C, V, t.wall * 1e3, t.cpu * 1e3,
                   (double)N * V * 4 / 1048576.0);
            free(z);
        }
        for (i = 0; i < sizeof budgets / sizeof *budgets + 1; i++) {
            llm__xent_args a;
            a.N = N, a.C = C, a.V = V, a.x = x, a.w = w, a.tgt = tgt;
            if (i < sizeof budgets / sizeof *budgets) {
                llm__xent_plan(N, V, budgets[i], 0, &a.R, &a.Vc);
            } else { /* the two-pass chunked form: recompute each chunk */
                a.R = N < 2048 ? N : 2048;
                a.Vc = 4096;
            }
            a.scratch = malloc(llm__xent_scratch_floats(a.R, a.Vc) * 4);
            TIME(reps, t, llm__gxent_fwd_bwd(pool, loss, dx, dw, &a, 1.0f / (float)N));
            printf("bench=head impl=fused_R%zu_Vc%zu threads=%d N=%zu C=%zu V=%zu ms=%.1f "
                   "cpu_ms=%.1f extra_mb=%.1f\n", a.R, a.Vc, threads, N, C, V, t.wall * 1e3,
                   t.cpu * 1e3, (double)llm__xent_scratch_floats(a.R, a.Vc) * 4 / 1048576.0);
            free(a.scratch);
        }
    }
    llm__pool_free(pool);
    return 0;
}
