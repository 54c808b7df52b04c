/*
 * qmat.c - products and embedding lookups of weight matrices stored as F32
 * or Q8_0 (qmat.h). F32 goes to lib/model/ops.c unchanged.
 *
 * Q8_0 product, as llama.cpp computes it: each row of x is quantized to
 * Q8_0 blocks (the activation's own scale per 32 values), and every
 * output is Σ_b dw_b·dx_b·(qw_b · qx_b) with the int8 dot products of the
 * CPU's kernel (AVX-512 VNNI, AVX2, or the plain-C reference). The
 * quantized activations live in a 16 KiB buffer on the calling thread's
 * stack (the kernels never allocate): as many rows of x as fit are
 * quantized at once and share one pass over w, whose rows are split
 * across the pool; a row longer than the buffer is done in segments of
 * K, each adding its partial sum. Every output element is computed by one
 * thread in a fixed order, so results do not depend on n_threads.
 *
 * Products of several rows, when the caller lends a scratch tile of
 * LLM__QMAT_TILE_FLOATS floats, take one of two other ways:
 *   - the int8 matrix kernel (llm_q8gemm.h: AVX-512 VNNI or AVX2) from
 *     its min_rows rows: the same arithmetic as above, with the rows of x
 *     quantized by the same quant kernel and packed into the tile in
 *     panels of 16 (as many as fit; split over the pool by panels), then
 *     the weight rows split over the pool, w read once per pass;
 *   - else (no such kernel) from LLM__QMAT_SGEMM_ROWS rows: dense float
 *     math, rows of x rounded through Q8_0 and tiles of w dequantized to
 *     F32 (split over the pool), multiplied with llm__gemm.
 * Measured with tests/bench/bench_quant.c (one thread, Zen 4, best of 5;
 * x 128 x 768 by w 3072 x 768, then x 128 x 3072 by w 768 x 3072): VNNI
 * matrix kernel 2.0 / 2.0 ms (300 GFLOP/s), dequantized tiles + sgemm
 * 6.5 / 7.7 ms, decode kernels 9.8 / 9.8 ms (F32 sgemm: 6.7 / 7.0 ms);
 * with LLM_CPU=avx2, AVX2 matrix kernel 5.4 / 5.0 ms, tiles + sgemm 6.5 /
 * 7.8 ms (OpenBLAS's own AVX-512 sgemm). With few rows (768
 * x 3072): the VNNI kernel 0.20, 0.20, 0.21, 0.31 ms for M = 2, 4, 8, 16
 * (one panel, eight lanes wide up to 8 rows) against 0.29, 0.30, 0.61,
 * 1.21 ms for the decode kernels (four rows at a time), hence its
 * min_rows of 2 (q8gemm.c has the AVX2 figures: 7). The tiles + sgemm way
 * is slower than either matrix kernel at every M measured. Every way
 * computes each output element on one thread in an order fixed by K, so
 * results do not depend on n_threads; the ways agree with each other up
 * to float rounding.
 */
#include <string.h>

#include "format/gguf.h"
#include "llm_pool.h"
#include "llm_matvec.h"
#include "llm_q8gemm.h"
#include "model/ops.h"
#include "model/qmat.h"
#include "model/qmv.h"

/* Activation blocks quantized per pass: 480 * 34 bytes = 16 KiB. */
#define QBUF_BLOCKS 480

size_t llm__qmat_row_bytes(uint32_t type, size_t K) {
    return type == LLM__GGML_Q8_0 ? llm__q8_row_bytes(K) : K * sizeof(float);
}

typedef struct q8_job {
    float *y;                 /* (M, ldy) output rows of this pass */
    size_t ldy;
    const llm__q8_block *w;   /* first block of the segment in row 0 */
    size_t ldw;               /* blocks per weight row */
    const llm__q8_block *xq;  /* (M, nb) quantized activations */
    size_t M, nb, N, chunk;
    llm__mv_q8_fn kern;
} q8_job;

static void q8_task(void *arg, int task, int n_tasks) {
    const q8_job *j = arg;
    size_t lo = (size_t)task * j->chunk, hi;
    (void)n_tasks;
    if (lo >= j->N)
        return;
    hi = j->N - lo < j->chunk ? j->N : lo + j->chunk;
    j->kern(j->y, j->ldy, j->w, j->ldw, j->xq, j->M, j->nb, lo, hi);
}

static void matmul_q8(llm__pool *pool, float *y, const float *x, const llm__q8_block *w,
                      size_t M, size_t K, size_t N) {
    llm__q8_block buf[QBUF_BLOCKS]; /* (rows, seg) quantized activations */
    const llm__matvec_kernels *kern = llm__matvec_get();
    const size_t nbK = K / LLM__Q8_BLOCK;
    const size_t seg = nbK < QBUF_BLOCKS ? nbK : QBUF_BLOCKS;
    const size_t rows = QBUF_BLOCKS / seg;
    const int threads = llm__pool_size(pool);
    size_t i0, k0, i;
    q8_job j;
    if (nbK == 0)
        return;
    j.ldy = N;
    j.ldw = nbK;
    j.xq = buf;
    j.N = N;
    j.kern = kern->q8;
    /* Four tasks per thread, each a multiple of 4 rows: tasks are claimed
     * dynamically, so the caller keeps working while a sleeping worker
     * wakes up instead of waiting for it at the end of the job. */
    j.chunk = ((N + 4 * (size_t)threads - 1) / (4 * (size_t)threads) + 3) & ~(size_t)3;
    for (i0 = 0; i0 < M; i0 += rows) {
        j.M = M - i0 < rows ? M - i0 : rows;
        j.y = y + i0 * N;
        for (k0 = 0; k0 < nbK; k0 += seg) {
            j.nb = nbK - k0 < seg ? nbK - k0 : seg;
            j.w = w + k0;
            for (i = 0; i < j.M; i++)
                kern->quant(buf + i * j.nb, x + (i0 + i) * K + k0 * LLM__Q8_BLOCK,
                            j.nb * LLM__Q8_BLOCK);
            if (threads == 1 || N * j.nb * j.M < 512) {
                q8_job one = j;
                one.chunk = N;
                q8_task(&one, 0, 1);
            } else {
                llm__pool_run(pool, q8_task, &j, (int)((N + j.chunk - 1) / j.chunk));
            }
        }
    }
}

/* y(M,N) += x · wᵀ by tiles of w dequantized into tile (TR rows of K). */
typedef struct deq_job {
    float *tile;
    const llm__q8_block *w;
    size_t K, r0, nr, per;
    llm__q8_dequant_fn dequant;
} deq_job;

static void deq_task(void *arg, int task, int n_tasks) {
    const deq_job *j = arg;
    const size_t nb = j->K / LLM__Q8_BLOCK, lo = (size_t)task * j->per;
    size_t r, hi;
    (void)n_tasks;
    if (lo >= j->nr)
        return;
    hi = j->nr - lo < j->per ? j->nr : lo + j->per;
    for (r = lo; r < hi; r++)
        j->dequant(j->tile + r * j->K, j->w + (j->r0 + r) * nb, j->K);
}

/* The same product as matmul_q8, as dense float math: tile holds up to R
 * rows of x rounded through Q8_0 (quantized with the CPU's kernel, then
 * dequantized: exactly the activations the integer path multiplies; at
 * most half the tile) and TR rows of w dequantized in the rest; each pair
 * is one sgemm. So the result equals the integer path's up to float
 * rounding, and forward and decode agree. w is dequantized once per R rows
 * of x (once for a prompt of up to 170 tokens with rows of 3072), which
 * costs 1/(2R) of the product; few, large sgemm calls keep OpenBLAS's
 * packing of x small. */
static void matmul_tiles(llm__pool *pool, float *tile, float *y, const float *x,
                         const llm__q8_block *w, size_t M, size_t K, size_t N) {
    const llm__matvec_kernels *kern = llm__matvec_get();
    const size_t R = M < (LLM__QMAT_TILE_FLOATS / 2) / K ? M : (LLM__QMAT_TILE_FLOATS / 2) / K;
    const size_t TR = (LLM__QMAT_TILE_FLOATS - R * K) / K;
    const size_t nbK = K / LLM__Q8_BLOCK;
    const int threads = llm__pool_size(pool);
    float *xr = tile, *wt = tile + R * K; /* (R, K) rounded x, (TR, K) dequantized w */
    llm__q8_block buf[QBUF_BLOCKS];
    size_t i0, i, k0, mr;
    deq_job j;
    j.tile = wt;
    j.w = w;
    j.K = K;
    j.dequant = kern->dequant;
    for (i0 = 0; i0 < M; i0 += R) {
        mr = M - i0 < R ? M - i0 : R;
        for (i = 0; i < mr; i++)
            for (k0 = 0; k0 < nbK; k0 += QBUF_BLOCKS) {
                const size_t nb = nbK - k0 < QBUF_BLOCKS ? nbK - k0 : QBUF_BLOCKS;
                kern->quant(buf, x + (i0 + i) * K + k0 * LLM__Q8_BLOCK, nb * LLM__Q8_BLOCK);
                kern->dequant(xr + i * K + k0 * LLM__Q8_BLOCK, buf, nb * LLM__Q8_BLOCK);
            }
        for (j.r0 = 0; j.r0 < N; j.r0 += TR) {
            j.nr = N - j.r0 < TR ? N - j.r0 : TR;
            j.per = (j.nr + (size_t)threads - 1) / (size_t)threads;
            llm__pool_run(pool, deq_task, &j, (int)((j.nr + j.per - 1) / j.per));
            /* y[i0:i0+mr, r0:r0+nr] += xr · wtᵀ */
            llm__gemm(pool, 0, 1, (int)mr, (int)j.nr, (int)K, 1.0f, xr, (int)K, wt, (int)K,
                      1.0f, y + i0 * N + j.r0, (int)N);
        }
    }
}

/* ---- many rows with the int8 kernel of llm_q8gemm.h ---- */

/* Rows of x one pass packs into the tile (whole panels), 0 when not even
 * one panel of K fits. */
static size_t gemm_rows(size_t K) {
    const size_t panel = llm__q8gemm_packed_bytes(LLM__Q8GEMM_LANES, K / LLM__Q8_BLOCK);
    return panel ? LLM__QMAT_TILE_FLOATS * sizeof(float) / panel * LLM__Q8GEMM_LANES : 0;
}

typedef struct gemm_job {
    float *y;                  /* (M, N) output rows of this pass */
    const float *x;            /* (M, K) activation rows of this pass */
    const llm__q8_block *w;    /* (N, nb) weights */
    llm__q8gemm_blk *xp;       /* (M, nb) packed activations (the tile) */
    size_t M, K, nb, N, chunk;
    llm__q8gemm_fn fn;
    llm__q8_quant_fn quant;
} gemm_job;

/* Task t quantizes and packs panel t (rows 16t .. 16t+15). */
static void pack_task(void *arg, int task, int n_tasks) {
    const gemm_job *j = arg;
    llm__q8_block buf[QBUF_BLOCKS]; /* (seg) quantized blocks of one row */
    const size_t i0 = (size_t)task * LLM__Q8GEMM_LANES;
    const size_t i1 = j->M - i0 < LLM__Q8GEMM_LANES ? j->M : i0 + LLM__Q8GEMM_LANES;
    size_t i, k0;
    (void)n_tasks;
    for (i = i0; i < i1; i++)
        for (k0 = 0; k0 < j->nb; k0 += QBUF_BLOCKS) {
            const size_t n = j->nb - k0 < QBUF_BLOCKS ? j->nb - k0 : QBUF_BLOCKS;
            j->quant(buf, j->x + i * j->K + k0 * LLM__Q8_BLOCK, n * LLM__Q8_BLOCK);
            llm__q8gemm_pack(j->xp, j->nb, i, k0, buf, n);
        }
}

static void gemm_task(void *arg, int task, int n_tasks) {
    const gemm_job *j = arg;
    const size_t lo = (size_t)task * j->chunk;
    (void)n_tasks;
    if (lo < j->N)
        j->fn(j->y, j->N, j->w, j->nb, j->xp, j->M, j->nb, lo,
              j->N - lo < j->chunk ? j->N : lo + j->chunk);
}

/* y(M,N) += x · wᵀ: as many rows of x as the tile holds are quantized
 * (the CPU's quant kernel, as matmul_q8) and packed into it, split over
 * the pool by panels; then the weight rows are split over the pool, each
 * task running the kernel over every packed row, so w is read once per
 * pass. */
static void matmul_gemm(llm__pool *pool, float *tile, llm__q8gemm_fn fn, float *y,
                        const float *x, const llm__q8_block *w, size_t M, size_t K, size_t N) {
    const size_t R = gemm_rows(K);
    const int threads = llm__pool_size(pool);
    size_t i0, panels;
    gemm_job j;
    j.w = w;
    j.xp = (llm__q8gemm_blk *)(void *)tile;
    j.K = K;
    j.nb = K / LLM__Q8_BLOCK;
    j.N = N;
    j.fn = fn;
    j.quant = llm__matvec_get()->quant;
    /* Four tasks per thread, multiples of the kernel's 8-row groups:
     * claimed dynamically, as in matmul_q8. */
    j.chunk = ((N + 4 * (size_t)threads - 1) / (4 * (size_t)threads) + 7) & ~(size_t)7;
    for (i0 = 0; i0 < M; i0 += R) {
        j.M = M - i0 < R ? M - i0 : R;
        j.x = x + i0 * K;
        j.y = y + i0 * N;
        panels = (j.M + LLM__Q8GEMM_LANES - 1) / LLM__Q8GEMM_LANES;
        llm__q8gemm_pad(j.xp, j.M, j.nb);
        if (threads == 1) {
            size_t t;
            for (t = 0; t < panels; t++)
                pack_task(&j, (int)t, (int)panels);
            j.chunk = N;
            gemm_task(&j, 0, 1);
        } else {
            llm__pool_run(pool, pack_task, &j, (int)panels);
            llm__pool_run(pool, gemm_task, &j, (int)((N + j.chunk - 1) / j.chunk));
        }
    }
}

void llm__qmat_matmul(llm__pool *pool, float *tile, float *y, const float *x, const void *w,
                      uint32_t type, const float *b, size_t M, size_t K, size_t N,
                      int accumulate) {
    size_t i, jj;
    if (type != LLM__GGML_Q8_0) {
        llm__ops_matmul(pool, y, x, (const float *)w, b, M, K, N, accumulate);
        return;
    }
    if (M == 0 || N == 0)
        return;
    if (M == 1) { /* decoding: the matrix-vector job of lib/model/qmv.c */
        const llm__qmv_part p = {y, w, type, b, N, accumulate};
        llm__qmv_run(pool, &p, 1, x, K, LLM__QMV_NONE);
        return;
    }
    /* Bias first, then the product is added on top, as llm__ops_matmul. */
    if (!accumulate) {
        for (i = 0; i < M; i++) {
            if (b)
                memcpy(y + i * N, b, N * sizeof(float));
            else
                memset(y + i * N, 0, N * sizeof(float));
        }
    } else if (b) {
        for (i = 0; i < M; i++)
            for (jj = 0; jj < N; jj++)
                y[i * N + jj] += b[jj];
    }
    llm__qmat_matmul_q8(pool, tile, y, x, (const llm__q8_block *)w, M, K, N, LLM__QMAT_AUTO);
}

int llm__qmat_matmul_q8(llm__pool *pool, float *tile, float *y, const float *x,
                        const llm__q8_block *w, size_t M, size_t K, size_t N, int way) {
    const llm__q8gemm_kernel *gk = llm__q8gemm_get();
    const int gemm_ok = tile && gk && gemm_rows(K) > 0;
    const int tiles_ok = tile && K <= LLM__QMAT_TILE_FLOATS / 2;
    if (way == LLM__QMAT_AUTO)
        way = gemm_ok && M >= gk->min_rows ? LLM__QMAT_GEMM
              : tiles_ok && M >= LLM__QMAT_SGEMM_ROWS ? LLM__QMAT_TILES
                                                      : LLM__QMAT_INT8;
    if ((way == LLM__QMAT_GEMM && !gemm_ok) || (way == LLM__QMAT_TILES && !tiles_ok) ||
        way < LLM__QMAT_INT8 || way > LLM__QMAT_GEMM)
        return -1;
    if (M == 0 || N == 0 || K < LLM__Q8_BLOCK) /* K = 0: nothing to add */
        return way;
    if (way == LLM__QMAT_GEMM)
        matmul_gemm(pool, tile, gk->fn, y, x, w, M, K, N);
    else if (way == LLM__QMAT_TILES)
        matmul_tiles(pool, tile, y, x, w, M, K, N);
    else
        matmul_q8(pool, y, x, w, M, K, N);
    return way;
}

void llm__qmat_embed(float *out, const llm_token *tok, const void *wte, uint32_t type,
                     const float *wpe, size_t N, size_t T, size_t pos0, size_t C) {
    size_t n, c;
    if (type != LLM__GGML_Q8_0) {
        llm__ops_embed(out, tok, (const float *)wte, wpe, N, T, pos0, C);
        return;
    }
    for (n = 0; n < N; n++) {
        const llm__q8_block *e = (const llm__q8_block *)wte + (size_t)tok[n] * (C / LLM__Q8_BLOCK);
        float *o = out + n * C; /* (C) */
        llm__matvec_get()->dequant(o, e, C);
        if (wpe) {
            const float *p = wpe + (pos0 + n % T) * C; /* (C) */
            for (c = 0; c < C; c++)
                o[c] += p[c];
        }
    }
}
