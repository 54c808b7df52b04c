/*
 * adamw.c - the optimizer side of a step: learning-rate schedule
 * (nanoGPT's get_lr), global-norm clipping (clip_grad_norm_) and AdamW
 * (torch.optim.AdamW, single-tensor form), math.md section 4.
 *
 * Invariants: scalars are computed in double exactly as PyTorch computes
 * them in Python (bias corrections, step size) and applied to F32
 * tensors as PyTorch's F32 kernels do (one float multiply-add per
 * operation, in torch's order). Weight decay touches only tensors with
 * two or more dimensions (embeddings and matrices), never biases or norm
 * gains. A tied output matrix is one tensor, updated once.
 */
#include <math.h>
#include <string.h>

#include "llm_cpu.h"
#include "train/train.h"

double llm__adamw_lr(const llm_trainer_opts *o, uint64_t step) {
    const double W = (double)o->warmup_steps, S = (double)o->total_steps;
    double ratio, coeff;
    if (o->schedule == LLM_SCHEDULE_CONSTANT)
        return o->lr;
    if ((double)step < W)
        return o->lr * ((double)step + 1.0) / (W + 1.0);
    if (o->total_steps == 0)
        return o->lr; /* no horizon given: constant after the warmup */
    if ((double)step > S)
        return o->min_lr;
    if (S <= W)
        return o->min_lr; /* a decay phase of zero length ends at the floor */
    ratio = ((double)step - W) / (S - W);
    coeff = 0.5 * (1.0 + cos(3.14159265358979323846 * ratio));
    return o->min_lr + coeff * (o->lr - o->min_lr);
}

/* The gradient arena is cut into fixed chunks of NORM_CHUNK floats whose
 * sums of squares are taken in parallel and added in chunk order, so the
 * norm does not depend on the thread count. Padding between tensors is
 * zero, so the arena's sum is the sum over tensors. */
#define NORM_CHUNK 65536

typedef struct norm_job {
    const float *g;
    double *parts;
    size_t n, n_parts;
} norm_job;

static LLM__CLONES void norm_task(void *arg, int task, int n_tasks) {
    const norm_job *j = arg;
    size_t c, i;
    for (c = (size_t)task; c < j->n_parts; c += (size_t)n_tasks) {
        size_t lo = c * NORM_CHUNK, hi = lo + NORM_CHUNK < j->n ? lo + NORM_CHUNK : j->n;
        /* 8 double lanes in a fixed order, so the loop vectorizes */
        double lane[8] = {0}, s = 0.0;
        size_t k;
        for (i = lo; i + 8 <= hi; i += 8)
            for (k = 0; k < 8; k++)
                lane[k] += (double)j->g[i + k] * j->g[i + k];
        for (; i < hi; i++)
            lane[0] += (double)j->g[i] * j->g[i];
        for (k = 0; k < 8; k++)
            s += lane[k];
        j->parts[c] = s;
    }
}

size_t llm__adamw_norm_parts(size_t n_floats) {
    return (n_floats + NORM_CHUNK - 1) / NORM_CHUNK;
}

/* Norm of norms, as clip_grad_norm_ (norm_type 2): sqrt(sum of squares). */
double llm__adamw_grad_norm(const llm_trainer *tr) {
    norm_job j;
    size_t c;
    double total = 0.0;
    j.g = tr->grads;
    j.parts = tr->norm_parts;
    j.n = tr->n_floats;
    j.n_parts = llm__adamw_norm_parts(tr->n_floats);
    llm__pool_run(tr->pool, norm_task, &j, llm__pool_size(tr->pool));
    for (c = 0; c < j.n_parts; c++)
        total += tr->norm_parts[c];
    return sqrt(total);
}

/* torch/optim/adamw.py, _single_tensor_adamw (amsgrad off, maximize off):
 *   param.mul_(1 - lr*wd); exp_avg.lerp_(grad, 1-beta1);
 *   exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1-beta2);
 *   step_size = lr / (1 - beta1^t); bc2_sqrt = sqrt(1 - beta2^t);
 *   denom = exp_avg_sq.sqrt() / bc2_sqrt + eps;
 *   param.addcdiv_(exp_avg, denom, value=-step_size).
 * The gradient enters as g * gscale: clip_grad_norm_'s grad.mul_(coef)
 * done here (1 when not clipping: x * 1 is x), which saves a read and a
 * write of every gradient per step. Compiled per vector level
 * (LLM__CLONES): at the baseline's 4 lanes the divisions and square root
 * made it compute-bound (11 GB/s against 24 with AVX-512, one thread). */
static LLM__CLONES void adamw_tensor_v(float *p, const float *g, float gscale, float *m, float *v,
                                       size_t n, double lr, double beta1, double beta2, double eps,
                                       double wd, uint64_t t) {
    const float decay = (float)(1.0 - lr * wd);
    const float w1 = (float)(1.0 - beta1), b2 = (float)beta2, w2 = (float)(1.0 - beta2);
    const double bc1 = 1.0 - pow(beta1, (double)t), bc2 = 1.0 - pow(beta2, (double)t);
    const float step_size = (float)(lr / bc1), bc2_sqrt = (float)sqrt(bc2);
    const float e = (float)eps;
    /* lerp as ATen computes it, from the nearer end: m + w1 (g - m) when
     * w1 < 0.5, else g - (g - m)(1 - w1); written as one form with
     * loop-invariant coefficients so the loop vectorizes */
    const int near_m = w1 < 0.5f;
    const float lw = near_m ? w1 : -(1.0f - w1);
    const float keep_decay = wd != 0.0 ? decay : 1.0f;
    size_t i;
    for (i = 0; i < n; i++) {
        float pi = p[i] * keep_decay, gi = g[i] * gscale;
        float mi = m[i], vi = v[i], denom;
        mi = (near_m ? mi : gi) + lw * (gi - mi);
        vi = vi * b2 + w2 * (gi * gi);
        denom = sqrtf(vi) / bc2_sqrt + e;
        pi = pi + (-step_size) * (mi / denom);
        p[i] = pi;
        m[i] = mi;
        v[i] = vi;
    }
}

void llm__adamw_tensor(float *p, const float *g, float gscale, float *m, float *v,
                       size_t n, double lr, double beta1, double beta2, double eps,
                       double wd, uint64_t t) {
    adamw_tensor_v(p, g, gscale, m, v, n, lr, beta1, beta2, eps, wd, t);
}

typedef struct upd_job {
    float *p, *m, *v;
    const float *g;
    float gscale;
    size_t n;
    double lr, beta1, beta2, eps, wd;
    uint64_t t;
} upd_job;

static void upd_task(void *arg, int task, int n_tasks) {
    const upd_job *j = arg;
    size_t lo = j->n * (size_t)task / (size_t)n_tasks;
    size_t hi = j->n * (size_t)(task + 1) / (size_t)n_tasks;
    llm__adamw_tensor(j->p + lo, j->g + lo, j->gscale, j->m + lo, j->v + lo, hi - lo, j->lr,
                      j->beta1, j->beta2, j->eps, j->wd, j->t);
}

/* Element-wise, so splitting a tensor across threads changes no bit. */
void llm__adamw_update(llm_trainer *tr, double lr, uint64_t t) {
    const llm_trainer_opts *o = &tr->opts;
    size_t i;
    for (i = 0; i < tr->n_tensors; i++) {
        const llm__tensor *te = &tr->model->tensors[i];
        upd_job j;
        j.p = te->data;
        j.g = tr->grads + tr->toff[i];
        j.gscale = tr->grad_scale;
        j.m = tr->adam_m + tr->toff[i];
        j.v = tr->adam_v + tr->toff[i];
        j.n = te->n;
        j.lr = lr;
        j.beta1 = o->beta1;
        j.beta2 = o->beta2;
        j.eps = o->eps;
        j.wd = te->n_dims >= 2 ? o->weight_decay : 0.0;
        j.t = t;
        if (te->n < 65536)
            upd_task(&j, 0, 1);
        else
            llm__pool_run(tr->pool, upd_task, &j, llm__pool_size(tr->pool));
    }
}
