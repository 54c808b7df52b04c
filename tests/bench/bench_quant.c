/*
 * bench_quant.c - decode speed of F32 and Q8_0 weights against the memory
 * roofline, measured in one run:
 *
 *   read     streaming read bandwidth (sum of a 1 GiB float buffer, split
 *            over the threads, best of the ways readbw.h tries), the
 *            ceiling every decode figure is a share of: roofline tok/s =
 *            read GB/s / weight bytes per token;
 *   matvec   y = W·x for W of 50257 x 768 (GPT-2's output projection) as
 *            F32 and Q8_0, through the kernels libllm dispatches to
 *            (llm__qmat_matmul on a pool), GB/s of weights read;
 *   matmul   128 x 768 by 768 x 3072 and 128 x 3072 by 3072 x 768 products
 *            (GPT-2's MLP projections on a 128-token prompt): F32 sgemm,
 *            and the three ways of lib/model/qmat.c for Q8_0: the decode
 *            kernels (q8_int8), tiles dequantized to F32 then sgemm
 *            (q8_tiles_sgemm) and the int8 matrix kernel of
 *            lib/core/llm_q8gemm.h (q8_gemm, when the CPU has one); then
 *            q8_int8 and q8_gemm for M = 2, 4, 8, 16 rows, where qmat.c
 *            switches from the first to the second (the kernel's min_rows);
 *   prefill  tokens/s of one 128-token prompt (F32: OpenBLAS sgemm; Q8_0:
 *            the integer path of lib/model/qmat.c);
 *   decode   tokens/s of llm_ctx_decode, one token at a time after a
 *            16-token prompt, for GPT-2 124M dims (random weights,
 *            llm_model_create) saved as F32 and quantized with
 *            llm_model_quantize; bytes/token = the matrices read per token
 *            (each weight matrix once, the tied output included).
 *
 * One line per figure:
 *   bench=read threads= mb= pages= split= gb_s=   (one per way; the best is the ceiling)
 *   bench=matvec_<f32|q8> kernels= N= K= threads= ms= gb_s= roofline_pct=
 *   bench=matmul way=<f32_sgemm|q8_int8|q8_tiles_sgemm|q8_gemm> M= K= N= threads= ms= gflops=
 *   bench=prefill_<f32|q8> kernels= threads= tokens= tok_s=
 *   bench=decode_<f32|q8> kernels= load=mmap|read threads= tok_s= mb_per_tok= gb_s=
 *            roofline_pct= roofline_pct_adjacent= speedup=
 *   (roofline_pct: best tok/s against the run's read ceiling;
 *   roofline_pct_adjacent: the median over repetitions of each one's
 *   GB/s against a read test taken just before it. BENCH_NO_MMAP=1 loads
 *   the models with LLM_MODEL_NO_MMAP.)
 * Best of several repetitions (the machine is shared; load1 is the 1-minute
 * load average when the figure was taken).
 * usage: bench_quant WORKDIR [THREADS...]   (default threads: 1 2)
 * Kernel level: the CPU's best, or LLM_CPU=scalar|avx2|avx512. With
 * BENCH_QUANT_REUSE set, model files already in WORKDIR are reused; with
 * BENCH_QUANT_ONLY_MATVEC set, only the read and matvec figures are taken.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "format/gguf.h"
#include "llm_cpu.h"
#include "llm_matvec.h"
#include "llm_pool.h"
#include "llm_q8gemm.h"
#include "model/qmat.h"
#include "readbw.h"

static void die(int st, const void *h, const char *what) {
    fprintf(stderr, "bench_quant: %s: %s: %s\n", what, llm_status_str(st), llm_errmsg(h));
    exit(1);
}

/* ---- memory read ceiling: readbw.h (best of page sizes and splits) ---- */

/* ---- one matrix-vector product ---- */

static void bench_matvec(int threads, double bw) {
    const size_t N = 50257, K = 768;
    float *wf = malloc(N * K * sizeof *wf), *x = malloc(K * sizeof *x), *y = malloc(N * sizeof *y);
    llm__q8_block *wq = malloc(N * (K / 32) * sizeof *wq);
    llm__pool *pool = NULL;
    llm__mem mem;
    size_t i;
    int pass;
    llm__mem_init(&mem, NULL, NULL);
    if (!wf || !x || !y || !wq || llm__pool_create(&pool, threads, &mem) != LLM_OK) {
        fprintf(stderr, "bench_quant: out of memory\n");
        exit(1);
    }
    for (i = 0; i < N * K; i++)
        wf[i] = (float)((i * 2654435761u) % 2001) / 1000.0f - 1.0f;
    for (i = 0; i < K; i++)
        x[i] = (float)(i % 17) / 8.0f - 1.0f;
    for (i = 0; i < N; i++)
        llm__q8_quantize_ref(wq + i * (K / 32), wf + i * K, K);
    for (pass = 0; pass < 2; pass++) {
        const uint32_t type = pass ? LLM__GGML_Q8_0 : LLM__GGML_F32;
        const void *w = pass ? (const void *)wq : (const void *)wf;
        const double bytes = pass ? (double)N * llm__q8_row_bytes(K) : (double)N * K * 4;
        double best = 1e30;
        int rep;
        for (rep = 0; rep < 15; rep++) {
            double t0 = readbw_now();
            llm__qmat_matmul(pool, NULL, y, x, w, type, NULL, 1, K, N, 0);
            t0 = readbw_now() - t0;
            if (t0 < best)
                best = t0;
        }
        printf("bench=matvec_%s kernels=%s N=%zu K=%zu threads=%d ms=%.3f gb_s=%.2f "
               "roofline_pct=%.1f load1=%.2f\n",
               pass ? "q8" : "f32", llm__matvec_get()->name, N, K, threads, best * 1e3,
               bytes / best / 1e9, 100.0 * bytes / best / 1e9 / bw, readbw_load1());
    }
    llm__pool_free(pool);
    free(wf);
    free(x);
    free(y);
    free(wq);
}

/* ---- products of several rows (prefill): the two ways for Q8_0 ---- */

static void bench_matmul(int threads) {
    /* {M, K, N, all ways}: the MLP up and down projections of a 128-token
     * prompt, then few rows (where the decode kernels and the int8 matrix
     * kernel meet: llm_q8gemm.h's min_rows) */
    static const size_t shapes[][4] = {{128, 768, 3072, 1}, {128, 3072, 768, 1},
                                       {2, 768, 3072, 0},   {4, 768, 3072, 0},
                                       {8, 768, 3072, 0},   {16, 768, 3072, 0}};
    const size_t MK = 128 * 3072, NK = 3072 * 768;
    float *wf = malloc(NK * sizeof *wf), *x = malloc(MK * sizeof *x);
    float *y = malloc(128 * 3072 * sizeof *y), *tile = malloc(LLM__QMAT_TILE_FLOATS * sizeof *tile);
    llm__q8_block *wq = malloc(NK / 32 * sizeof *wq);
    const llm__q8gemm_kernel *gk = llm__q8gemm_get();
    llm__pool *pool = NULL;
    llm__mem mem;
    size_t i, sh;
    int way;
    llm__mem_init(&mem, NULL, NULL);
    if (!wf || !x || !y || !tile || !wq || llm__pool_create(&pool, threads, &mem) != LLM_OK)
        exit(1);
    for (i = 0; i < NK; i++)
        wf[i] = (float)((i * 2654435761u) % 2001) / 1000.0f - 1.0f;
    for (i = 0; i < MK; i++)
        x[i] = (float)(i % 17) / 8.0f - 1.0f;
    for (sh = 0; sh < sizeof shapes / sizeof *shapes; sh++) {
        const size_t M = shapes[sh][0], K = shapes[sh][1], N = shapes[sh][2];
        for (i = 0; i < N; i++) /* w (N, K) from the same values */
            llm__q8_quantize_ref(wq + i * (K / 32), wf + i * K, K);
        for (way = 0; way < 4; way++) {
            static const char *names[] = {"f32_sgemm", "q8_int8", "q8_tiles_sgemm", "q8_gemm"};
            static const int q8way[] = {0, LLM__QMAT_INT8, LLM__QMAT_TILES, LLM__QMAT_GEMM};
            const int reps = M < 16 ? 50 : 5;
            double best = 1e30;
            int rep;
            if ((way == 3 && !gk) || (!shapes[sh][3] && (way == 0 || way == 2)))
                continue; /* no int8 matrix kernel on this CPU / level; few rows: two ways */
            for (rep = 0; rep < reps; rep++) {
                double t0 = readbw_now();
                if (way == 0) {
                    llm__qmat_matmul(pool, NULL, y, x, wf, LLM__GGML_F32, NULL, M, K, N, 0);
                } else { /* as llm__qmat_matmul without bias: zero y, add the product */
                    memset(y, 0, M * N * sizeof *y);
                    llm__qmat_matmul_q8(pool, tile, y, x, wq, M, K, N, q8way[way]);
                }
                t0 = readbw_now() - t0;
                if (t0 < best)
                    best = t0;
            }
            printf("bench=matmul way=%s kernels=%s M=%zu K=%zu N=%zu threads=%d ms=%.3f "
                   "gflops=%.1f load1=%.2f\n",
                   names[way], way == 3 ? gk->name : llm__matvec_get()->name, M, K, N, threads,
                   best * 1e3, 2.0 * M * N * K / best / 1e9, readbw_load1());
        }
    }
    llm__pool_free(pool);
    free(wf);
    free(x);
    free(y);
    free(tile);
    free(wq);
}

/* ---- decode ---- */

/* Bytes of weights one decoded token reads: every matrix once (the tied
 * output is the token embedding, read whole for the logits), norms and
 * biases; the position embedding contributes one row. */
static double bytes_per_token(const llm_model *m) {
    size_t n, i, ne;
    double total = 0;
    llm_model_n_tensors(&n, m);
    for (i = 0; i < n; i++) {
        const char *name;
        uint32_t type, nd;
        uint64_t dims[4];
        llm_model_tensor_name(&name, m, i);
        llm_model_tensor_type(&type, m, name);
        llm_model_tensor_shape(&nd, dims, m, name);
        ne = (size_t)(dims[0] * dims[1]);
        if (strcmp(name, "position_embd.weight") == 0)
            ne = (size_t)dims[1];
        total += type == LLM_TYPE_Q8_0 ? (double)ne / 32 * 34 : (double)ne * 4;
    }
    return total;
}

#define REPS 7 /* decode repetitions */

static double bench_decode(const char *path, const char *tag, int threads, double bw,
                           double f32_tok_s) {
    llm_model *m = NULL;
    llm_ctx *c = NULL;
    llm_ctx_opts o;
    llm_token prompt[16], t;
    const float *lg;
    double best = 0, bpt, pct[REPS], mid;
    int st, rep, i, j;
    const int ND = 48;
    size_t n_rd = 0;
    float *rd = readbw_alloc(512, 0, &n_rd); /* (n_rd) the adjacent read test */
    llm_model_opts mo;
    LLM_MODEL_OPTS_INIT(&mo);
    if (getenv("BENCH_NO_MMAP"))
        mo.flags |= LLM_MODEL_NO_MMAP;
    if (!rd)
        die(LLM_ERR_NOMEM, NULL, "read buffer");
    if ((st = llm_model_load(&m, path, &mo)) != LLM_OK)
        die(st, NULL, path);
    bpt = bytes_per_token(m);
    LLM_CTX_OPTS_INIT(&o);
    o.n_ctx = 256;
    o.n_batch = 128;
    o.n_threads = (uint32_t)threads;
    if ((st = llm_ctx_create(&c, m, &o)) != LLM_OK)
        die(st, NULL, "ctx");
    for (i = 0; i < 16; i++)
        prompt[i] = (llm_token)(i * 997 % 50257);
    /* The memory bandwidth of a shared machine drifts from minute to
     * minute (30-50 GB/s here), so each repetition is set against a read
     * test taken just before it (the same threads, 512 MiB, 4 KiB pages,
     * chunks), and the share reported is the median of those ratios. */
    for (rep = 0; rep < REPS; rep++) {
        double t0, adj = readbw_measure(rd, n_rd, threads, 1, 3);
        llm_ctx_reset(c);
        if ((st = llm_ctx_decode(&lg, c, prompt, 16)) != LLM_OK)
            die(st, c, "prefill");
        t0 = readbw_now();
        for (i = 0; i < ND; i++) {
            t = (llm_token)((i * 7919 + 3) % 50257);
            if ((st = llm_ctx_decode(&lg, c, &t, 1)) != LLM_OK)
                die(st, c, "decode");
        }
        t0 = ND / (readbw_now() - t0);
        if (t0 > best)
            best = t0;
        pct[rep] = 100.0 * t0 * bpt / 1e9 / adj;
    }
    for (i = 1; i < REPS; i++) /* insertion sort for the median */
        for (j = i; j > 0 && pct[j - 1] > pct[j]; j--) {
            double x = pct[j];
            pct[j] = pct[j - 1];
            pct[j - 1] = x;
        }
    mid = pct[REPS / 2];
    free(rd);
    {
        /* Prefill: one 128-token prompt (products of 128 rows: sgemm for
         * F32, the integer Q8_0 path for Q8_0). */
        llm_token pp[128];
        double pbest = 0;
        for (i = 0; i < 128; i++)
            pp[i] = (llm_token)((i * 4099 + 11) % 50257);
        for (rep = 0; rep < 3; rep++) {
            double t0;
            llm_ctx_reset(c);
            t0 = readbw_now();
            if ((st = llm_ctx_decode(&lg, c, pp, 128)) != LLM_OK)
                die(st, c, "prefill");
            t0 = 128 / (readbw_now() - t0);
            if (t0 > pbest)
                pbest = t0;
        }
        printf("bench=prefill_%s model=gpt2-124M kernels=%s threads=%d tokens=128 tok_s=%.1f "
               "load1=%.2f\n",
               tag, llm__matvec_get()->name, threads, pbest, readbw_load1());
    }
    printf("bench=decode_%s model=gpt2-124M kernels=%s load=%s threads=%d tok_s=%.1f "
           "mb_per_tok=%.1f gb_s=%.2f roofline_tok_s=%.1f roofline_pct=%.1f "
           "roofline_pct_adjacent=%.1f",
           tag, llm__matvec_get()->name, getenv("BENCH_NO_MMAP") ? "read" : "mmap", threads, best,
           bpt / 1e6, best * bpt / 1e9, bw * 1e9 / bpt, 100.0 * best * bpt / 1e9 / bw, mid);
    if (f32_tok_s > 0)
        printf(" speedup_vs_f32=%.2f", best / f32_tok_s);
    printf(" load1=%.2f\n", readbw_load1());
    llm_ctx_free(c);
    llm_model_free(m);
    return best;
}

int main(int argc, char **argv) {
    char f32[4096], q8[4096];
    int threads[8] = {1, 2}, nt = 2, i, st;
    double bw[8];
    llm_model *m = NULL;
    llm_model_config cfg;
    if (argc < 2) {
        fprintf(stderr, "usage: bench_quant WORKDIR [THREADS...]\n");
        return 2;
    }
    if (argc > 2)
        for (nt = 0; nt < 8 && nt + 2 < argc; nt++)
            threads[nt] = atoi(argv[nt + 2]);
    snprintf(f32, sizeof f32, "%s/gpt2-124m-f32.gguf", argv[1]);
    snprintf(q8, sizeof q8, "%s/gpt2-124m-q8_0.gguf", argv[1]);
    LLM_MODEL_CONFIG_INIT(&cfg); /* GPT-2 small: V 50257, T 1024, C 768, L 12 */
    if (!getenv("BENCH_QUANT_REUSE") || access(f32, R_OK) != 0 || access(q8, R_OK) != 0) {
        if ((st = llm_model_create(&m, &cfg, 1, NULL)) != LLM_OK)
            die(st, NULL, "create");
        if ((st = llm_model_save(m, f32)) != LLM_OK)
            die(st, m, "save");
        llm_model_free(m);
        if ((st = llm_model_quantize(f32, q8, NULL)) != LLM_OK)
            die(st, NULL, "quantize");
    }

    for (i = 0; i < nt; i++)
        bw[i] = readbw_ceiling("bench=read", 1024, threads[i], 5, readbw_load1);
    for (i = 0; i < nt; i++)
        bench_matvec(threads[i], bw[i]);
    if (getenv("BENCH_QUANT_ONLY_MATVEC"))
        return 0;
    for (i = 0; i < nt; i++)
        bench_matmul(threads[i]);
    for (i = 0; i < nt; i++) {
        double f = bench_decode(f32, "f32", threads[i], bw[i], 0);
        bench_decode(q8, "q8", threads[i], bw[i], f);
    }
    return 0;
}
