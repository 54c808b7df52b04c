/*
 * attn.c - causal attention by tiles with an online softmax (flash
 * attention's forward), and its naive reference.
 *
 * For one block of query rows (at most LLM__ATTN_BR) the keys are visited
 * in tiles of LLM__ATTN_BC (wider for blocks of a few rows: decode).
 * Each row keeps a running maximum m, a running sum l and its output
 * accumulator O (written in place in `out`); for a
 * tile of scaled scores s (math.md 1.1, streaming form):
 *     m' = max(m, max_j s_j),  α = exp(m - m'),  p_j = exp(s_j - m'),
 *     l' = α l + Σ_j p_j,      O' = α O + Σ_j p_j v_j
 * and at the end O /= l, lse = m + log l. Memory is the two tiles on the
 * stack whatever T is: nothing of size T x T exists. Tiles entirely above
 * the diagonal are never visited; the one crossing it is masked entry by
 * entry (p = 0 exactly, so the product with V ignores it).
 *
 * Products: tiles of more than LLM__ATTN_SMALL rows go through llm__gemm
 * with a NULL pool (one thread: these calls run inside pool tasks; the
 * tiles are 64 x 64 x D products OpenBLAS runs near peak), smaller ones
 * (decode: one row, or the few query heads of a GQA group) through the
 * loops here, which stream K and V once, as a matrix-vector product does.
 *
 * Invariants: a task owns its output rows (and their lse), the order of
 * every sum is fixed by the tiling, so the result is the same bits for
 * any number of threads. No allocation.
 */
#include <math.h>
#include <string.h>

#include "llm_cpu.h"
#include "llm_matvec.h"
#include "model/attn.h"
#include "model/vexp.h"

/* Row blocks of at most this many rows use the loops, not sgemm. */
#define LLM__ATTN_SMALL 4

/* A block of query rows: row r at q + r*ldq, output o + r*ldo, lse +
 * r*ld_lse, absolute position p0 + r*pstep (pstep 1: consecutive tokens;
 * 0: heads of one token). */
typedef struct attn_rows {
    const float *q;
    size_t ldq;
    float *o;
    size_t ldo;
    float *lse;
    size_t ld_lse;
    size_t n, p0, pstep;
} attn_rows;

/* One block against keys 0..(its last position) of K, V (row strides
 * ldk, ldv; the KV head already applied). */
static LLM__CLONES void attn_block(const attn_rows *R, const float *K, size_t ldk, const float *V,
                       size_t ldv, size_t D, float scale) {
    float S[LLM__ATTN_BR * LLM__ATTN_BC]; /* (nr, BC) scores, then probabilities */
    float m[LLM__ATTN_BR];                /* running max per row */
    double l[LLM__ATTN_BR];               /* running sum per row */
    const size_t nr = R->n, p_last = R->p0 + (nr - 1) * R->pstep;
    const int small = nr <= LLM__ATTN_SMALL;
    /* keys per tile: few rows (decode) take wider tiles of the same
     * buffer, so the online rescaling runs less often */
    const size_t BC = small ? LLM__ATTN_BR * LLM__ATTN_BC / nr / 16 * 16 : LLM__ATTN_BC;
    size_t r, c, d, j0;
    for (r = 0; r < nr; r++) {
        m[r] = -INFINITY;
        l[r] = 0.0;
        memset(R->o + r * R->ldo, 0, D * sizeof(float));
    }
    for (j0 = 0; j0 <= p_last; j0 += BC) {
        const size_t nc = p_last + 1 - j0 < BC ? p_last + 1 - j0 : BC;
        const float *Kt = K + j0 * ldk, *Vt = V + j0 * ldv; /* (nc, D) each */
        /* S(nr, nc) = scale · Q Ktᵀ */
        if (small) {
            for (r = 0; r < nr; r++)
                for (c = 0; c < nc; c++)
                    S[r * BC + c] = llm__dot_f32(R->q + r * R->ldq, Kt + c * ldk, D) * scale;
        } else {
            llm__gemm(NULL, 0, 1, (int)nr, (int)nc, (int)D, scale, R->q, (int)R->ldq, Kt,
                      (int)ldk, 0.0f, S, (int)BC);
        }
        /* online softmax update, row by row */
        for (r = 0; r < nr; r++) {
            const size_t pos = R->p0 + r * R->pstep;
            float *s = S + r * BC, mx, mnew, alpha;
            float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            size_t valid = pos < j0 ? 0 : pos - j0 + 1;
            double sum;
            if (valid > nc)
                valid = nc;
            if (valid == 0) { /* no key of this tile is visible to this row */
                memset(s, 0, nc * sizeof *s);
                continue;
            }
            mx = s[0];
            for (c = 1; c < valid; c++)
                mx = s[c] > mx ? s[c] : mx;
            mnew = mx > m[r] ? mx : m[r];
            for (c = 0; c < valid; c++)
                s[c] = llm__vexp(s[c] - mnew);
            for (c = valid; c < nc; c++)
                s[c] = 0.0f;
            for (c = 0; c + 8 <= valid; c += 8)
                for (d = 0; d < 8; d++)
                    acc[d] += s[c + d];
            for (; c < valid; c++)
                acc[0] += s[c];
            sum = ((double)acc[0] + acc[4]) + ((double)acc[1] + acc[5]) +
                  ((double)acc[2] + acc[6]) + ((double)acc[3] + acc[7]);
            if (m[r] == -INFINITY) { /* first visible tile: O is still 0 */
                l[r] = sum;
            } else if (mnew != m[r]) {
                float *o = R->o + r * R->ldo;
                alpha = llm__vexp(m[r] - mnew);
                l[r] = l[r] * alpha + sum;
                for (d = 0; d < D; d++)
                    o[d] *= alpha;
            } else {
                l[r] += sum;
            }
            m[r] = mnew;
        }
        /* O(nr, D) += P(nr, nc) · Vt(nc, D) */
        if (small) {
            for (r = 0; r < nr; r++) {
                float *o = R->o + r * R->ldo;
                for (c = 0; c < nc; c++) {
                    const float p = S[r * BC + c], *vc = Vt + c * ldv;
                    if (p == 0.0f)
                        continue;
                    for (d = 0; d < D; d++)
                        o[d] += p * vc[d];
                }
            }
        } else {
            llm__gemm(NULL, 0, 0, (int)nr, (int)D, (int)nc, 1.0f, S, (int)BC, Vt, (int)ldv,
                      1.0f, R->o, (int)R->ldo);
        }
    }
    for (r = 0; r < nr; r++) {
        float *o = R->o + r * R->ldo;
        const float inv = (float)(1.0 / l[r]);
        for (d = 0; d < D; d++)
            o[d] *= inv;
        if (R->lse)
            R->lse[r * R->ld_lse] = (float)((double)m[r] + log(l[r]));
    }
}

typedef struct attn_job {
    const llm__attn_args *a;
    size_t n_qb;     /* query blocks per (sequence, head) */
    int grouped;     /* T == 1 with GQA: one block = the heads of a KV head */
    float scale;
} attn_job;

static void attn_task(void *arg, int task, int n_tasks) {
    const attn_job *J = arg;
    const llm__attn_args *a = J->a;
    const size_t rep = a->n_head / a->n_head_kv, D = a->D;
    size_t it = (size_t)task, b, h, j;
    attn_rows R;
    (void)n_tasks;
    if (J->grouped) {
        /* task = (b, j): the rep query heads of KV head j, token 0 */
        b = it / a->n_head_kv;
        j = it % a->n_head_kv;
        R.q = a->q + b * a->q_seq + j * rep * D;
        R.ldq = D;
        R.o = a->out + b * a->o_seq + j * rep * D;
        R.ldo = D;
        R.lse = a->lse ? a->lse + (b * a->n_head + j * rep) * a->T : NULL;
        R.ld_lse = a->T;
        R.n = rep;
        R.p0 = a->pos0;
        R.pstep = 0;
    } else {
        /* task = (b, h, query block); the last blocks (the most keys)
         * first, so that the dynamic task claiming balances the tail */
        size_t qb = J->n_qb - 1 - it % J->n_qb, i0;
        it /= J->n_qb;
        h = it % a->n_head;
        b = it / a->n_head;
        j = h / rep;
        i0 = qb * LLM__ATTN_BR;
        R.q = a->q + b * a->q_seq + i0 * a->ldq + h * D;
        R.ldq = a->ldq;
        R.o = a->out + b * a->o_seq + i0 * a->ldo + h * D;
        R.ldo = a->ldo;
        R.lse = a->lse ? a->lse + (b * a->n_head + h) * a->T + i0 : NULL;
        R.ld_lse = 1;
        R.n = a->T - i0 < LLM__ATTN_BR ? a->T - i0 : LLM__ATTN_BR;
        R.p0 = a->pos0 + i0;
        R.pstep = 1;
    }
    attn_block(&R, a->k + b * a->k_seq + j * (a->k_hs ? a->k_hs : D), a->ldk,
               a->v + b * a->v_seq + j * (a->v_hs ? a->v_hs : D), a->ldv, D, J->scale);
}

void llm__attn_fwd(llm__pool *pool, const llm__attn_args *a) {
    attn_job J;
    size_t items;
    if (a->n_seq == 0 || a->T == 0 || a->n_head == 0)
        return;
    J.a = a;
    J.scale = 1.0f / sqrtf((float)a->D);
    J.grouped = a->T == 1 && a->n_head > a->n_head_kv;
    J.n_qb = (a->T + LLM__ATTN_BR - 1) / LLM__ATTN_BR;
    items = J.grouped ? a->n_seq * a->n_head_kv : a->n_seq * a->n_head * J.n_qb;
    llm__pool_run(pool, attn_task, &J, (int)items);
}

void llm__attn_fwd_naive(const llm__attn_args *a) {
    const size_t rep = a->n_head / a->n_head_kv, D = a->D;
    const double scale = 1.0 / sqrt((double)D);
    size_t b, h, t, p, d;
    for (b = 0; b < a->n_seq; b++)
        for (h = 0; h < a->n_head; h++)
            for (t = 0; t < a->T; t++) {
                const float *q = a->q + b * a->q_seq + t * a->ldq + h * D;
                const float *K = a->k + b * a->k_seq + (h / rep) * (a->k_hs ? a->k_hs : D);
                const float *V = a->v + b * a->v_seq + (h / rep) * (a->v_hs ? a->v_hs : D);
                float *o = a->out + b * a->o_seq + t * a->ldo + h * D;
                const size_t last = a->pos0 + t; /* keys 0..last */
                double mx = -INFINITY, sum = 0.0;
                for (p = 0; p <= last; p++) {
                    double s = 0.0;
                    for (d = 0; d < D; d++)
                        s += (double)q[d] * K[p * a->ldk + d];
                    s *= scale;
                    mx = s > mx ? s : mx;
                }
                for (d = 0; d < D; d++)
                    o[d] = 0.0f;
                {
                    double acc[512];
                    size_t d0;
                    /* weighted sum in double, D in chunks of 512 */
                    for (d0 = 0; d0 < D; d0 += 512) {
                        const size_t nd = D - d0 < 512 ? D - d0 : 512;
                        memset(acc, 0, sizeof acc);
                        sum = 0.0;
                        for (p = 0; p <= last; p++) {
                            double s = 0.0, e;
                            for (d = 0; d < D; d++)
                                s += (double)q[d] * K[p * a->ldk + d];
                            e = exp(s * scale - mx);
                            sum += e;
                            for (d = 0; d < nd; d++)
                                acc[d] += e * V[p * a->ldv + d0 + d];
                        }
                        for (d = 0; d < nd; d++)
                            o[d0 + d] = (float)(acc[d] / sum);
                    }
                }
                if (a->lse)
                    a->lse[(b * a->n_head + h) * a->T + t] = (float)(mx + log(sum));
            }
}
