/*
 * train_ref.c - writes what libllm's trainer computes, for torch_ref.py to
 * compare with PyTorch autograd and torch.optim.AdamW.
 *
 *   train_ref grads OUT arch L C NH NKV F V T B flags seed
 *       one micro-batch: weights (randomised, biases and gains too),
 *       tokens, the loss and the gradient of every tensor;
 *   train_ref steps OUT arch L C NH NKV F V T B flags seed
 *                   n_steps K lr min_lr warmup total wd clip beta2
 *       n_steps optimizer steps through the public API: initial weights,
 *       every batch, each step's loss, grad norm and lr, final weights;
 *   train_ref adamw OUT n steps lr wd beta1 beta2 eps seed
 *       the AdamW kernel alone on random parameters and gradients.
 *
 * Output: one JSON line describing the blobs, then the raw little-endian
 * data (int32 tokens, float32 tensors, float64 scalars) in that order.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm.h"
#include "train/train.h"

static uint64_t rng_state = 1;
static uint64_t rnd(void) {
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double unif(void) { return ((double)(rnd() >> 11) + 0.5) / 9007199254740992.0; }
static float gauss(double sd) {
    return (float)(sd * sqrt(-2.0 * log(unif())) * cos(6.283185307179586 * unif()));
}

static int die(const char *what, int rc, const void *h) {
    fprintf(stderr, "train_ref: %s: %s: %s\n", what, llm_status_str(rc), llm_errmsg(h));
    return 1;
}

static void write_header(FILE *f, const llm_model *m, const char *mode, const char *extra) {
    size_t i;
    const llm_model_config *c = &m->cfg;
    fprintf(f,
            "{\"mode\": \"%s\", \"arch\": \"%s\", \"n_vocab\": %u, \"n_ctx\": %u, "
            "\"n_embd\": %u, \"n_layer\": %u, \"n_head\": %u, \"n_head_kv\": %u, \"n_ff\": %u, "
            "\"norm_eps\": %.9g, \"rope_base\": %.9g, \"untied\": %d, \"qkv_bias\": %d, %s, "
            "\"tensors\": [",
            mode, c->arch == LLM_ARCH_GPT2 ? "gpt2" : "llama", c->n_vocab, c->n_ctx, c->n_embd,
            c->n_layer, c->n_head, c->n_head_kv, c->n_ff, (double)c->norm_eps,
            (double)c->rope_base, (c->flags & LLM_CFG_UNTIED_OUTPUT) ? 1 : 0,
            (c->flags & LLM_CFG_QKV_BIAS) ? 1 : 0, extra);
    for (i = 0; i < m->n_tensors; i++) {
        fprintf(f, "%s[\"%s\", [%llu", i ? ", " : "", m->tensors[i].name,
                (unsigned long long)m->tensors[i].dims[0]);
        if (m->tensors[i].n_dims == 2)
            fprintf(f, ", %llu", (unsigned long long)m->tensors[i].dims[1]);
        fputs("]]", f);
    }
    fputs("]}\n", f);
}

static void write_weights(FILE *f, const llm_model *m) {
    size_t i;
    for (i = 0; i < m->n_tensors; i++)
        fwrite(m->tensors[i].data, sizeof(float), m->tensors[i].n, f);
}

static int make_model(llm_model **m, char **a, int arch_only_gpt2_ok) {
    llm_model_config c;
    int rc;
    (void)arch_only_gpt2_ok;
    LLM_MODEL_CONFIG_INIT(&c);
    c.arch = strcmp(a[0], "gpt2") == 0 ? LLM_ARCH_GPT2 : LLM_ARCH_LLAMA;
    c.n_layer = (uint32_t)atoi(a[1]);
    c.n_embd = (uint32_t)atoi(a[2]);
    c.n_head = (uint32_t)atoi(a[3]);
    c.n_head_kv = (uint32_t)atoi(a[4]);
    c.n_ff = (uint32_t)atoi(a[5]);
    c.n_vocab = (uint32_t)atoi(a[6]);
    c.n_ctx = (uint32_t)atoi(a[7]) + 3; /* more positions than used */
    c.flags = (uint32_t)atoi(a[9]);
    rc = llm_model_create(m, &c, (uint64_t)atoll(a[10]), NULL);
    if (rc)
        return die("llm_model_create", rc, NULL);
    return 0;
}

/* Moves every norm gain and bias away from 1 and 0, so their gradients
 * matter, and scales matrices up a little so attention is not uniform. */
static void randomise(llm_model *m) {
    size_t i, j;
    for (i = 0; i < m->n_tensors; i++) {
        llm__tensor *t = &m->tensors[i];
        for (j = 0; j < t->n; j++) {
            if (t->n_dims == 1)
                t->data[j] += gauss(0.1);
            else
                t->data[j] *= 5.0f;
        }
    }
}

int main(int argc, char **argv) {
    FILE *f;
    if (argc < 3) {
        fprintf(stderr, "usage: see the header of train_ref.c\n");
        return 2;
    }
    if (strcmp(argv[1], "adamw") == 0 && argc == 11) {
        size_t n = (size_t)atol(argv[3]), i;
        int steps = atoi(argv[4]), s;
        double lr = atof(argv[5]), wd = atof(argv[6]), b1 = atof(argv[7]), b2 = atof(argv[8]),
               eps = atof(argv[9]);
        float *p = calloc(n, 4), *g = calloc(n * (size_t)steps, 4), *m = calloc(n, 4),
              *v = calloc(n, 4);
        rng_state = (uint64_t)atoll(argv[10]);
        for (i = 0; i < n; i++)
            p[i] = gauss(1.0);
        for (i = 0; i < n * (size_t)steps; i++)
            g[i] = gauss(i % 7 == 0 ? 1e-3 : 1.0);
        f = fopen(argv[2], "wb");
        if (!f)
            return 1;
        fprintf(f, "{\"mode\": \"adamw\", \"n\": %zu, \"steps\": %d, \"lr\": %.17g, \"wd\": %.17g, "
                   "\"beta1\": %.17g, \"beta2\": %.17g, \"eps\": %.17g}\n",
                n, steps, lr, wd, b1, b2, eps);
        fwrite(p, 4, n, f);
        fwrite(g, 4, n * (size_t)steps, f);
        for (s = 0; s < steps; s++)
            llm__adamw_tensor(p, g + (size_t)s * n, 1.0f, m, v, n, lr, b1, b2, eps, wd,
                              (uint64_t)s + 1);
        fwrite(p, 4, n, f);
        fclose(f);
        free(p), free(g), free(m), free(v);
        return 0;
    }
    if (strcmp(argv[1], "grads") == 0 && argc == 14) {
        llm_model *m;
        llm_trainer *tr;
        llm_trainer_opts o;
        size_t T = (size_t)atoi(argv[10]), B = (size_t)atoi(argv[11]), N = B * T, i;
        llm_token *in, *tg;
        double loss;
        char extra[128];
        int rc;
        if (make_model(&m, argv + 3, 1))
            return 1;
        randomise(m);
        rng_state = (uint64_t)atoll(argv[13]) + 7;
        LLM_TRAINER_OPTS_INIT(&o);
        o.batch = (uint32_t)B;
        o.seq_len = (uint32_t)T;
        o.n_threads = 2;
        if ((rc = llm_trainer_create(&tr, m, &o)) != LLM_OK)
            return die("llm_trainer_create", rc, NULL);
        in = malloc(N * sizeof *in);
        tg = malloc(N * sizeof *tg);
        for (i = 0; i < N; i++) {
            in[i] = (llm_token)(rnd() % m->cfg.n_vocab);
            tg[i] = (llm_token)(rnd() % m->cfg.n_vocab);
        }
        /* the head in chunks of 5 rows (and a shorter last one) for the
         * untied configurations; one chunk for the others */
        if (m->cfg.flags & LLM_CFG_UNTIED_OUTPUT)
            tr->logit_rows = 5;
        memset(tr->grads, 0, tr->n_floats * sizeof(float));
        loss = llm__backprop_run(tr, in, tg, (float)(1.0 / (double)N)) / (double)N;
        f = fopen(argv[2], "wb");
        if (!f)
            return 1;
        snprintf(extra, sizeof extra, "\"B\": %zu, \"T\": %zu, \"loss\": %.17g", B, T, loss);
        write_header(f, m, "grads", extra);
        fwrite(in, 4, N, f);
        fwrite(tg, 4, N, f);
        write_weights(f, m);
        for (i = 0; i < m->n_tensors; i++)
            fwrite(tr->grads + tr->toff[i], 4, m->tensors[i].n, f);
        fclose(f);
        llm_trainer_free(tr);
        llm_model_free(m);
        free(in), free(tg);
        return 0;
    }
    if (strcmp(argv[1], "steps") == 0 && argc == 23) {
        llm_model *m;
        llm_trainer *tr;
        llm_trainer_opts o;
        size_t T = (size_t)atoi(argv[10]), B = (size_t)atoi(argv[11]);
        int n_steps = atoi(argv[14]), s;
        size_t K = (size_t)atoi(argv[15]), n = K * B * T, i;
        llm_token *in, *tg;
        double *rec;
        char extra[512];
        int rc;
        if (make_model(&m, argv + 3, 1))
            return 1;
        randomise(m);
        rng_state = (uint64_t)atoll(argv[13]) + 11;
        LLM_TRAINER_OPTS_INIT(&o);
        o.batch = (uint32_t)B;
        o.seq_len = (uint32_t)T;
        o.grad_accum = (uint32_t)K;
        o.n_threads = 2;
        o.lr = atof(argv[16]);
        o.min_lr = atof(argv[17]);
        o.warmup_steps = (uint32_t)atoi(argv[18]);
        o.total_steps = (uint64_t)atoll(argv[19]);
        o.weight_decay = atof(argv[20]);
        o.grad_clip = atof(argv[21]);
        o.beta2 = atof(argv[22]);
        f = fopen(argv[2], "wb");
        if (!f)
            return 1;
        snprintf(extra, sizeof extra,
                 "\"B\": %zu, \"T\": %zu, \"K\": %zu, \"steps\": %d, \"lr\": %.17g, "
                 "\"min_lr\": %.17g, \"warmup\": %u, \"total\": %llu, \"wd\": %.17g, "
                 "\"clip\": %.17g, \"beta1\": 0.9, \"beta2\": %.17g, \"eps\": 1e-8",
                 B, T, K, n_steps, o.lr, o.min_lr, (unsigned)o.warmup_steps,
                 (unsigned long long)o.total_steps, o.weight_decay, o.grad_clip, o.beta2);
        write_header(f, m, "steps", extra);
        write_weights(f, m);
        if ((rc = llm_trainer_create(&tr, m, &o)) != LLM_OK)
            return die("llm_trainer_create", rc, NULL);
        in = malloc(n * sizeof *in);
        tg = malloc(n * sizeof *tg);
        rec = malloc(3 * (size_t)n_steps * sizeof *rec);
        for (s = 0; s < n_steps; s++) {
            float loss;
            /* a learnable stream: mostly t+1 = f(t), some noise */
            for (i = 0; i < n; i++) {
                in[i] = (llm_token)(rnd() % m->cfg.n_vocab);
                tg[i] = rnd() % 4 ? (llm_token)((in[i] * 7 + 3) % (llm_token)m->cfg.n_vocab)
                                  : (llm_token)(rnd() % m->cfg.n_vocab);
            }
            fwrite(in, 4, n, f);
            fwrite(tg, 4, n, f);
            if ((rc = llm_trainer_lr(&rec[3 * s + 2], tr, (uint64_t)s)) != LLM_OK ||
                (rc = llm_trainer_step(&loss, tr, in, tg, n)) != LLM_OK)
                return die("llm_trainer_step", rc, tr);
            rec[3 * s] = loss;
            llm_trainer_grad_norm(&rec[3 * s + 1], tr);
        }
        fwrite(rec, 8, 3 * (size_t)n_steps, f);
        write_weights(f, m);
        fclose(f);
        llm_trainer_free(tr);
        llm_model_free(m);
        free(in), free(tg), free(rec);
        return 0;
    }
    fprintf(stderr, "train_ref: bad arguments (see the header of train_ref.c)\n");
    return 2;
}
