/*
 * qmv.c - the matrix-vector products of one decoded token, several weight
 * matrices per pool job (qmv.h).
 *
 * Decoding a token is a chain of products with one row of activations,
 * each reading a weight matrix once; nothing else costs much. Run one
 * job per matrix and every job ends in a barrier where the threads wait
 * for the slowest share, and the small steps between products (bias,
 * GELU, SwiGLU) run on the calling thread while the others wait. Here
 *   - the products that read the same input (Q, K and V; gate and up)
 *     are one job over their rows laid end to end;
 *   - the bias, the residual add and the activation are done by the task
 *     that owns the rows, right after its dot products;
 *   - gate and up share rows: a task computes rows [lo, hi) of both and
 *     writes silu(gate) * up for them.
 * So a GPT-2 layer is four jobs (QKV, attention, output, MLP up + GELU,
 * down) and a Llama layer five, instead of seven and nine.
 *
 * Arithmetic: exactly llm__qmat_matmul's for one row (the same kernels
 * on the same rows: F32 through the CPU's f32 kernel, Q8_0 with the row
 * quantized once by the CPU's quant kernel), then the same element-wise
 * functions (lib/model/ops.c), so results do not depend on the thread
 * count nor on whether products were fused. Every output row is written
 * by one task.
 */
#include <string.h>

#include "format/gguf.h"
#include "model/ops.h"
#include "model/qmat.h"
#include "model/qmv.h"

/* Rows per task: a few per thread so that the caller keeps working while
 * a sleeping worker wakes, each a multiple of 16 rows (the kernels take
 * rows one at a time, so this only keeps tasks off shared cache lines of
 * y). */
static size_t chunk_rows(size_t n, int threads) {
    size_t c = (n + 4 * (size_t)threads - 1) / (4 * (size_t)threads);
    c = (c + 15) & ~(size_t)15;
    return c ? c : 16;
}

typedef struct qmv_job {
    const llm__qmv_part *part;
    size_t n_parts, K;
    const float *x;             /* (K) */
    const llm__q8_block *xq;    /* (K/32) x quantized, when a part is Q8_0 */
    const llm__matvec_kernels *kern;
    int act;                    /* LLM__QMV_* */
    size_t chunk, n_rows;       /* rows per task; rows of the laid-out space */
} qmv_job;

/* y[lo, hi) of one part before the products: the bias, added to the
 * residual when accumulating. */
static void rows_init(const llm__qmv_part *p, size_t lo, size_t hi) {
    size_t r;
    if (!p->accumulate) {
        if (p->b)
            memcpy(p->y + lo, p->b + lo, (hi - lo) * sizeof(float));
        else
            memset(p->y + lo, 0, (hi - lo) * sizeof(float));
    } else if (p->b) {
        for (r = lo; r < hi; r++)
            p->y[r] += p->b[r];
    }
}

/* y[lo, hi) of one part: bias or residual first, then the dot products. */
static void part_rows(const qmv_job *j, const llm__qmv_part *p, size_t lo, size_t hi) {
    rows_init(p, lo, hi);
    if (p->type == LLM__GGML_Q8_0) {
        const size_t nb = j->K / LLM__Q8_BLOCK;
        j->kern->q8(p->y, 0, (const llm__q8_block *)p->w, nb, j->xq, 1, nb, lo, hi);
    } else {
        j->kern->f32(p->y, (const float *)p->w, j->x, j->K, lo, hi);
    }
}

static void qmv_task(void *arg, int task, int n_tasks) {
    const qmv_job *j = arg;
    size_t lo = (size_t)task * j->chunk, hi = lo + j->chunk, base = 0, i;
    (void)n_tasks;
    if (hi > j->n_rows)
        hi = j->n_rows;
    if (lo >= hi)
        return;
    if (j->act == LLM__QMV_SWIGLU) {
        /* parts 0 (gate) and 1 (up) share the row space */
        part_rows(j, &j->part[0], lo, hi);
        part_rows(j, &j->part[1], lo, hi);
        llm__ops_swiglu(j->part[0].y + lo, j->part[1].y + lo, hi - lo);
        return;
    }
    for (i = 0; i < j->n_parts && base < hi; i++) {
        const llm__qmv_part *p = &j->part[i];
        const size_t a = lo > base ? lo - base : 0, b = hi - base < p->N ? hi - base : p->N;
        if (a < b) {
            part_rows(j, p, a, b);
            if (j->act == LLM__QMV_GELU)
                llm__ops_gelu(p->y + a, b - a);
        }
        base += p->N;
    }
}

void llm__qmv_run(llm__pool *pool, const llm__qmv_part *parts, size_t n_parts, const float *x,
                  size_t K, int act) {
    llm__q8_block xq[LLM__QMV_MAX_K / LLM__Q8_BLOCK]; /* (K/32) x quantized: 16 KiB */
    qmv_job j;
    size_t i, n_tasks;
    int q8 = 0;
    if (n_parts == 0 || K == 0)
        return;
    for (i = 0; i < n_parts; i++)
        q8 |= parts[i].type == LLM__GGML_Q8_0;
    if (q8 && K > LLM__QMV_MAX_K) {
        /* rows too long for the stack buffer: one product at a time (the
         * Q8_0 decode path of qmat.c works in segments of K), then the
         * activation */
        for (i = 0; i < n_parts; i++) {
            if (parts[i].type == LLM__GGML_Q8_0) {
                rows_init(&parts[i], 0, parts[i].N);
                llm__qmat_matmul_q8(pool, NULL, parts[i].y, x, (const llm__q8_block *)parts[i].w,
                                    1, K, parts[i].N, LLM__QMAT_INT8);
            } else {
                llm__qmv_run(pool, &parts[i], 1, x, K, LLM__QMV_NONE); /* F32: one pass */
            }
        }
        if (act == LLM__QMV_SWIGLU)
            llm__ops_swiglu(parts[0].y, parts[1].y, parts[0].N);
        else if (act == LLM__QMV_GELU)
            for (i = 0; i < n_parts; i++)
                llm__ops_gelu(parts[i].y, parts[i].N);
        return;
    }
    j.part = parts;
    j.n_parts = n_parts;
    j.K = K;
    j.x = x;
    j.xq = xq;
    j.kern = llm__matvec_get();
    j.act = act;
    j.n_rows = 0;
    for (i = 0; i < n_parts; i++)
        j.n_rows = act == LLM__QMV_SWIGLU ? parts[0].N : j.n_rows + parts[i].N;
    if (q8)
        j.kern->quant(xq, x, K);
    j.chunk = chunk_rows(j.n_rows, llm__pool_size(pool));
    n_tasks = (j.n_rows + j.chunk - 1) / j.chunk;
    if (llm__pool_size(pool) == 1 || j.n_rows * K < 4096) {
        j.chunk = j.n_rows;
        qmv_task(&j, 0, 1);
    } else {
        llm__pool_run(pool, qmv_task, &j, (int)n_tasks);
    }
}
