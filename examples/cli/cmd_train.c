/*
 * cmd_train.c - `libllm train`: train a GPT-2 or Llama model from scratch
 * (--config) or from a GGUF model (--model) on a token file or a text
 * file, with AdamW, warmup + cosine, clipping, gradient accumulation,
 * checkpoints that resume exactly, and a progress line per step.
 *
 * Data: a token file (.bin uint16 as nanoGPT writes, .u32, .i32, each
 * optionally .gz) is used as is; any other file is text, encoded with
 * --tokenizer PATH or the model's own tokenizer, or else as bytes (one
 * token per byte, vocabulary 256), nothing added.
 *
 * --distributed mpi (when built with libllm_mpi, LLM_CLI_HAVE_MPI): every
 * rank of `mpirun -np R libllm train ...` builds the same model and
 * trainer with per-rank batch B and attaches it to MPI, so the job trains
 * like one process with batch R*B. Only rank 0 prints and writes files;
 * every rank reads the data and the --resume checkpoint itself. A failed
 * rank exits without finalising MPI (a collective may be pending), and
 * mpirun then ends the job.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#ifdef LLM_CLI_HAVE_MPI
#include "llm_mpi.h"
#endif

static void usage(FILE *f) {
    fputs("Usage: libllm train (--config gpt2|llama [sizes] | --model INIT.gguf) --data FILE\n"
          "                    [--steps N] [--batch B] [--seq T] [--lr LR] [options]\n"
          "\n"
          "Train a model on next-token prediction and save it as GGUF.\n"
          "\n"
          "Model:\n"
          "  --config A          from scratch, architecture gpt2 or llama (alias\n"
          "                      --model-config), GPT-2 initialisation with --seed\n"
          "  --n-layer N --n-embd N --n-head N --n-head-kv N --n-ff N --n-ctx N\n"
          "  --n-vocab N         sizes (defaults: 4 layers, 128 wide, 4 heads, n_ctx =\n"
          "                      --seq, n_vocab from the tokenizer, 256 for bytes,\n"
          "                      50257 for token files; llama n_ff = 8/3 n_embd)\n"
          "  --untied            separate output matrix\n"
          "  --model M           fine-tune the GGUF model M (alias --init)\n"
          "Data:\n"
          "  --data FILE         .bin (uint16), .u32, .i32 token file (.gz allowed),\n"
          "                      or a text file\n"
          "  --tokenizer PATH    tokenizer for a text file (default: the model's,\n"
          "                      else bytes)\n"
          "  --shuffle           random windows (seeded) instead of sequential order\n"
          "  --val-fraction F    hold out the last fraction F of the tokens\n"
          "  --eval-every N      validation loss every N steps (default 100; and at\n"
          "                      the end)\n"
          "Optimisation:\n"
          "  --steps N           total optimizer steps (default 100)\n"
          "  --batch B --seq T   sequences per micro-batch (4) and their length (64)\n"
          "  --grad-accum K      micro-batches per step (1)\n"
          "  --lr LR --min-lr X  peak and floor learning rates (6e-4, lr/10)\n"
          "  --warmup W          linear warmup steps (0)\n"
          "  --schedule S        cosine (default) or constant\n"
          "  --weight-decay WD   AdamW decoupled decay of matrices (0.1)\n"
          "  --beta1 B --beta2 B --eps E   AdamW (0.9, 0.95, 1e-8)\n"
          "  --clip C            global gradient-norm clip, 0 = off (1.0)\n"
          "  --seed S            model init and batch RNG seed (1)\n"
          "  --threads N         threads (1)\n"
          "Distributed (data-parallel):\n"
          "  --distributed mpi   one rank of `mpirun -np R libllm train ...`: --batch is\n"
          "                      per rank (global batch R*B, same losses as one process\n"
          "                      with batch R*B); rank 0 prints and writes files\n"
          "  --reduce-timeout S  seconds a collective may take before the step fails\n"
          "                      with an error instead of hanging (120)\n"
          "Output:\n"
          "  --out OUT.gguf      save the trained model\n"
          "  --checkpoint F      save a training checkpoint at the end (and every\n"
          "                      --checkpoint-every N steps)\n"
          "  --resume F          continue from checkpoint F (same sizes, B, T, K)\n"
          "  --stop-at N         stop after step N (the schedule still spans --steps;\n"
          "                      continue later with --resume)\n"
          "  --json              one JSON line per step on stdout:\n"
          "                      {\"step\", \"loss\", \"lr\", \"grad_norm\", \"tokens_per_s\"}\n"
          "                      (distributed: also \"world_size\", \"comm_bytes\" this\n"
          "                      rank all-reduced and \"comm_wait_ms\" it waited)\n"
          "                      and {\"step\", \"val_loss\"}\n"
          "  --plot FILE.png     draw the loss curves (training blue, validation\n"
          "                      red; x: steps, y: loss, ranges printed on stderr)\n"
          "  --quiet             no progress line on stderr\n"
          "  -h, --help          show this help\n",
          f);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int is_token_file(const char *path) {
    char base[4096];
    size_t n = strlen(path);
    if (n >= sizeof base)
        return 0;
    memcpy(base, path, n + 1);
    if (ends_with(base, ".gz"))
        base[n - 3] = 0;
    return ends_with(base, ".bin") || ends_with(base, ".u32") || ends_with(base, ".i32");
}

typedef struct args {
    const char *config, *model, *data, *tokenizer, *out, *checkpoint, *resume, *schedule, *plot;
    const char *distributed;
    double reduce_timeout;
    unsigned long long n_layer, n_embd, n_head, n_head_kv, n_ff, n_ctx, n_vocab;
    unsigned long long steps, batch, seq, accum, warmup, seed, threads, eval_every, ckpt_every;
    unsigned long long stop_at;
    double lr, min_lr, wd, beta1, beta2, eps, clip, val_fraction;
    int untied, shuffle, json, quiet;
} args;

static int need(int argc, char **argv, int i) {
    if (i + 1 >= argc) {
        cli_usage_error("train", "train: %s needs a value", argv[i]);
        return 0;
    }
    return 1;
}

static int parse(args *a, int argc, char **argv) {
    int i;
    memset(a, 0, sizeof *a);
    a->n_layer = 4, a->n_embd = 128, a->n_head = 4;
    a->steps = 100, a->batch = 4, a->seq = 64, a->accum = 1, a->seed = 1, a->threads = 1;
    a->eval_every = 100;
    a->lr = 6e-4, a->min_lr = -1.0, a->wd = 0.1, a->beta1 = 0.9, a->beta2 = 0.95, a->eps = 1e-8;
    a->clip = 1.0;
    for (i = 1; i < argc; i++) {
        const char *o = argv[i];
        struct { const char *name; unsigned long long *p; } ints[] = {
            {"--n-layer", &a->n_layer}, {"--n-embd", &a->n_embd}, {"--n-head", &a->n_head},
            {"--n-head-kv", &a->n_head_kv}, {"--n-ff", &a->n_ff}, {"--n-ctx", &a->n_ctx},
            {"--n-vocab", &a->n_vocab}, {"--steps", &a->steps}, {"--batch", &a->batch},
            {"--seq", &a->seq}, {"--grad-accum", &a->accum}, {"--warmup", &a->warmup},
            {"--seed", &a->seed}, {"--threads", &a->threads}, {"--eval-every", &a->eval_every},
            {"--checkpoint-every", &a->ckpt_every}, {"--stop-at", &a->stop_at}};
        struct { const char *name; double *p; } dbls[] = {
            {"--lr", &a->lr}, {"--min-lr", &a->min_lr}, {"--weight-decay", &a->wd},
            {"--beta1", &a->beta1}, {"--beta2", &a->beta2}, {"--eps", &a->eps},
            {"--clip", &a->clip}, {"--val-fraction", &a->val_fraction},
            {"--reduce-timeout", &a->reduce_timeout}};
        struct { const char *name; const char **p; } strs[] = {
            {"--config", &a->config}, {"--model-config", &a->config}, {"--model", &a->model},
            {"--init", &a->model}, {"--data", &a->data}, {"--tokenizer", &a->tokenizer},
            {"--out", &a->out}, {"--checkpoint", &a->checkpoint}, {"--resume", &a->resume},
            {"--schedule", &a->schedule}, {"--plot", &a->plot},
            {"--distributed", &a->distributed}};
        size_t k;
        int done = 0;
        if (cli_is_help(o)) {
            usage(stdout);
            return -1;
        }
        for (k = 0; !done && k < sizeof ints / sizeof ints[0]; k++)
            if (strcmp(o, ints[k].name) == 0) {
                if (!need(argc, argv, i))
                    return CLI_USAGE;
                if (cli_parse_u64(argv[++i], ints[k].p) != 0 || *ints[k].p > UINT32_MAX * 1ull)
                    return cli_usage_error("train", "train: %s needs a non-negative integer, "
                                           "got '%s'", o, argv[i]);
                done = 1;
            }
        for (k = 0; !done && k < sizeof dbls / sizeof dbls[0]; k++)
            if (strcmp(o, dbls[k].name) == 0) {
                if (!need(argc, argv, i))
                    return CLI_USAGE;
                if (cli_parse_double(argv[++i], dbls[k].p) != 0 || !isfinite(*dbls[k].p) ||
                    *dbls[k].p < 0)
                    return cli_usage_error("train", "train: %s needs a non-negative number, "
                                           "got '%s'", o, argv[i]);
                done = 1;
            }
        for (k = 0; !done && k < sizeof strs / sizeof strs[0]; k++)
            if (strcmp(o, strs[k].name) == 0) {
                if (!need(argc, argv, i))
                    return CLI_USAGE;
                *strs[k].p = argv[++i];
                done = 1;
            }
        if (done)
            continue;
        if (strcmp(o, "--untied") == 0)
            a->untied = 1;
        else if (strcmp(o, "--shuffle") == 0)
            a->shuffle = 1;
        else if (strcmp(o, "--json") == 0)
            a->json = 1;
        else if (strcmp(o, "--quiet") == 0)
            a->quiet = 1;
        else
            return cli_usage_error("train", "train: unexpected argument '%s'", o);
    }
    if (!a->data)
        return cli_usage_error("train", "train: --data FILE is required");
    if (!a->config == !a->model)
        return cli_usage_error("train", "train: give exactly one of --config gpt2|llama and "
                               "--model INIT.gguf");
    if (a->config && strcmp(a->config, "gpt2") != 0 && strcmp(a->config, "llama") != 0)
        return cli_usage_error("train", "train: --config must be gpt2 or llama, got '%s'",
                               a->config);
    if (a->schedule && strcmp(a->schedule, "cosine") != 0 && strcmp(a->schedule, "constant") != 0)
        return cli_usage_error("train", "train: --schedule must be cosine or constant, got '%s'",
                               a->schedule);
    if (a->val_fraction >= 0.5)
        return cli_usage_error("train", "train: --val-fraction must be below 0.5");
    if (a->steps == 0 || a->batch == 0 || a->seq == 0 || a->accum == 0 || a->threads == 0)
        return cli_usage_error("train", "train: --steps, --batch, --seq, --grad-accum and "
                               "--threads must be positive");
    if (a->min_lr < 0)
        a->min_lr = a->lr / 10.0;
    if (a->distributed && strcmp(a->distributed, "mpi") != 0)
        return cli_usage_error("train", "train: --distributed must be mpi, got '%s'",
                               a->distributed);
#ifndef LLM_CLI_HAVE_MPI
    if (a->distributed)
        return cli_usage_error("train", "train: --distributed mpi: this libllm was built "
                               "without MPI (install libopenmpi-dev and rebuild)");
#endif
    if (a->reduce_timeout != 0 && !a->distributed)
        return cli_usage_error("train", "train: --reduce-timeout needs --distributed mpi");
    return 0;
}

/* Loads the training tokens: a token file, or text through a tokenizer
 * (or as bytes). */
static int load_data(const args *a, const llm_tokenizer *tok, llm_token **ids, size_t *n,
                     int *bytes) {
    int rc;
    *bytes = 0;
    if (is_token_file(a->data)) {
        rc = llm_tokens_load(ids, n, a->data, LLM_TOKENS_AUTO);
        return rc ? cli_status_error(rc, NULL, "cannot read tokens from %s", a->data) : 0;
    }
    if (!tok) {
        *bytes = 1;
        rc = llm_tokens_load(ids, n, a->data, LLM_TOKENS_BYTES);
        return rc ? cli_status_error(rc, NULL, "cannot read %s", a->data) : 0;
    } else {
        char *text;
        size_t len, need = 0;
        llm_token *buf;
        if (cli_read_all(a->data, &text, &len))
            return CLI_FAIL;
        rc = llm_tokenizer_encode(NULL, 0, &need, tok, text, len, 0);
        if (rc != LLM_OK && rc != LLM_ERR_BUFFER_TOO_SMALL) {
            free(text);
            return cli_status_error(rc, NULL, "cannot tokenize %s", a->data);
        }
        buf = malloc((need ? need : 1) * sizeof *buf);
        if (!buf) {
            free(text);
            return cli_error("out of memory for %zu tokens", need);
        }
        rc = llm_tokenizer_encode(buf, need, n, tok, text, len, 0);
        free(text);
        if (rc) {
            free(buf);
            return cli_status_error(rc, NULL, "cannot tokenize %s", a->data);
        }
        /* hand it over in a libllm-owned block so one free path serves all */
        *ids = buf;
        *bytes = 2; /* malloc'ed */
        return 0;
    }
}

static int make_model(const args *a, llm_model **m, const llm_tokenizer *tok, int bytes) {
    llm_model_config c;
    int rc;
    if (a->model) {
        rc = llm_model_load(m, a->model, NULL);
        return rc ? cli_status_error(rc, NULL, "cannot load %s", a->model) : 0;
    }
    LLM_MODEL_CONFIG_INIT(&c);
    c.arch = strcmp(a->config, "llama") == 0 ? LLM_ARCH_LLAMA : LLM_ARCH_GPT2;
    c.n_layer = (uint32_t)a->n_layer;
    c.n_embd = (uint32_t)a->n_embd;
    c.n_head = (uint32_t)a->n_head;
    c.n_head_kv = (uint32_t)a->n_head_kv;
    c.n_ff = (uint32_t)a->n_ff;
    if (c.arch == LLM_ARCH_LLAMA && c.n_ff == 0)
        c.n_ff = (uint32_t)((8 * a->n_embd / 3 + 63) / 64 * 64);
    c.n_ctx = (uint32_t)(a->n_ctx ? a->n_ctx : a->seq);
    c.n_vocab = a->n_vocab ? (uint32_t)a->n_vocab
              : tok        ? (uint32_t)llm_tokenizer_n_vocab(tok)
              : bytes == 1 ? 256u
                           : 50257u;
    c.flags = a->untied ? LLM_CFG_UNTIED_OUTPUT : 0;
    rc = llm_model_create(m, &c, a->seed, NULL);
    return rc ? cli_status_error(rc, NULL, "cannot create the model") : 0;
}

static int val_loss(llm_trainer *tr, const llm_token *val, size_t n_val, size_t BT, float *out) {
    /* up to 16 micro-batches of B rows of T, laid out from the split's start */
    size_t n_mb = (n_val - 1) / BT, i;
    llm_token *in, *tg;
    int rc;
    if (n_mb > 16)
        n_mb = 16;
    if (n_mb == 0)
        return LLM_ERR_RANGE;
    in = malloc(n_mb * BT * sizeof *in);
    tg = malloc(n_mb * BT * sizeof *tg);
    if (!in || !tg) {
        free(in);
        free(tg);
        return LLM_ERR_NOMEM;
    }
    for (i = 0; i < n_mb * BT; i++) {
        in[i] = val[i];
        tg[i] = val[i + 1];
    }
    rc = llm_trainer_eval(out, tr, in, tg, n_mb * BT);
    free(in);
    free(tg);
    return rc;
}

/* ---- --plot: the loss curves as a PNG (cli_write_png), no text ---- */

#define PW 800
#define PH 480
#define PM 40 /* margin */

static void plot_px(unsigned char *img, long x, long y, const unsigned char rgb[3]) {
    if (x < 0 || y < 0 || x >= PW || y >= PH)
        return;
    memcpy(img + (size_t)y * (1 + 3 * PW) + 1 + 3 * (size_t)x, rgb, 3);
}

/* Bresenham line, 2 pixels thick. */
static void plot_line(unsigned char *img, long x0, long y0, long x1, long y1,
                      const unsigned char rgb[3]) {
    long dx = labs(x1 - x0), dy = -labs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    long err = dx + dy;
    for (;;) {
        long e2 = 2 * err; /* both tests use the error before this step */
        plot_px(img, x0, y0, rgb);
        plot_px(img, x0, y0 + 1, rgb);
        if (x0 == x1 && y0 == y1)
            break;
        if (e2 >= dy)
            err += dy, x0 += sx;
        if (e2 <= dx)
            err += dx, y0 += sy;
    }
}

/* Training losses tl[0..n) at steps first..first+n-1, validation losses vl
 * at steps vs[0..nv), on x in [0, total]. */
static int write_plot(const char *path, const float *tl, size_t n, uint64_t first,
                      const float *vl, const uint64_t *vs, size_t nv, uint64_t total) {
    static const unsigned char axis[3] = {96, 96, 96}, blue[3] = {31, 119, 180},
                               red[3] = {214, 39, 40}, grid[3] = {225, 225, 225};
    const size_t row = 1 + 3 * PW;
    unsigned char *img = malloc(row * PH);
    float lo = 1e30f, hi = -1e30f;
    size_t i, y;
    int rc, k;
    if (!img)
        return cli_error("out of memory for the plot");
    memset(img, 255, row * PH);
    for (y = 0; y < PH; y++)
        img[y * row] = 0; /* PNG filter byte: none */
    for (i = 0; i < n; i++)
        lo = tl[i] < lo ? tl[i] : lo, hi = tl[i] > hi ? tl[i] : hi;
    for (i = 0; i < nv; i++)
        lo = vl[i] < lo ? vl[i] : lo, hi = vl[i] > hi ? vl[i] : hi;
    if (!(hi > lo))
        hi = lo + 1.0f;
#define PX(step) (PM + (long)((double)(step) / (double)(total > 1 ? total - 1 : 1) * (PW - 2 * PM)))
#define PY(v) (PH - PM - (long)(((double)(v) - lo) / ((double)hi - lo) * (PH - 2 * PM)))
    for (k = 1; k < 4; k++) /* quarter grid lines */
        plot_line(img, PM, PM + k * (PH - 2 * PM) / 4, PW - PM, PM + k * (PH - 2 * PM) / 4, grid);
    plot_line(img, PM, PH - PM, PW - PM, PH - PM, axis);
    plot_line(img, PM, PM, PM, PH - PM, axis);
    for (i = 1; i < n; i++)
        plot_line(img, PX(first + i - 1), PY(tl[i - 1]), PX(first + i), PY(tl[i]), blue);
    for (i = 0; i < nv; i++) {
        long x = PX(vs[i]), yv = PY(vl[i]), d;
        for (d = -3; d <= 3; d++) /* a cross at each validation point */
            plot_px(img, x + d, yv + d, red), plot_px(img, x + d, yv - d, red);
        if (i)
            plot_line(img, PX(vs[i - 1]), PY(vl[i - 1]), x, yv, red);
    }
#undef PX
#undef PY
    fprintf(stderr, "plot: x = steps 0..%llu, y = loss %.4f..%.4f\n",
            (unsigned long long)(total ? total - 1 : 0), (double)lo, (double)hi);
    rc = cli_write_png(path, img, PW, PH);
    free(img);
    return rc;
}

int cmd_train(int argc, char **argv) {
    args a;
    llm_tokenizer *own_tok = NULL;
    const llm_tokenizer *tok = NULL;
    llm_model *m = NULL;
    llm_trainer *tr = NULL;
    llm_trainer_opts o;
    llm_token *ids = NULL, *in = NULL, *tg = NULL;
    size_t n = 0, n_train, n_val = 0, BT, ntok, i, n_tl = 0, n_vl = 0;
    uint64_t step = 0, first_step = 0, *vsteps = NULL;
    float *tlosses = NULL, *vlosses = NULL;
    int rc, bytes = 0, status = CLI_FAIL;
    double t0, t_start;
    int32_t n_vocab;
    uint32_t rank = 0, world = 1;
#ifdef LLM_CLI_HAVE_MPI
    llm_mpi *mpi = NULL;
    uint64_t comm_bytes = 0, comm_prev = 0;
    double comm_wait = 0.0, comm_wait_prev = 0.0;
#endif
    if ((rc = parse(&a, argc, argv)) != 0)
        return rc < 0 ? CLI_OK : rc;
#ifdef LLM_CLI_HAVE_MPI
    if (a.distributed) {
        llm_mpi_opts mo;
        LLM_MPI_OPTS_INIT(&mo);
        mo.timeout_s = a.reduce_timeout;
        if ((rc = llm_mpi_create(&mpi, &mo)) != LLM_OK) {
            fprintf(stderr, "libllm: error: cannot start MPI: %s: %s\n", llm_status_str(rc),
                    llm_mpi_last_errmsg());
            return CLI_FAIL;
        }
        llm_mpi_rank(&rank, mpi);
        llm_mpi_world_size(&world, mpi);
        if (rank != 0) /* only rank 0 prints (errors excepted) and writes */
            a.quiet = 1, a.json = 0;
    }
#endif
    if (a.tokenizer) {
        rc = llm_tokenizer_load(&own_tok, a.tokenizer, NULL);
        if (rc)
            return cli_status_error(rc, NULL, "cannot load the tokenizer %s", a.tokenizer);
        tok = own_tok;
    }
    if (a.model) {
        if (make_model(&a, &m, NULL, 0))
            goto done;
        if (!tok)
            tok = llm_model_tokenizer(m);
    }
    if (load_data(&a, tok, &ids, &n, &bytes))
        goto done;
    if (!m && make_model(&a, &m, tok, bytes))
        goto done;
    if (own_tok && !a.model) {
        /* a model from scratch keeps its tokenizer, so --out holds both */
        if ((rc = llm_model_set_tokenizer(m, own_tok)) != LLM_OK) {
            cli_status_error(rc, m, "cannot attach the tokenizer to the model");
            goto done;
        }
        own_tok = NULL; /* the model owns it now; tok stays valid */
    }
    {
        llm_model_config c;
        LLM_MODEL_CONFIG_INIT(&c);
        llm_model_get_config(&c, m);
        n_vocab = (int32_t)c.n_vocab;
    }
    for (i = 0; i < n; i++)
        if (ids[i] >= n_vocab) {
            cli_error("%s: token %zu is %d, outside the model's vocabulary of %d (use --n-vocab)",
                      a.data, i, (int)ids[i], (int)n_vocab);
            goto done;
        }
    LLM_TRAINER_OPTS_INIT(&o);
    o.flags = a.shuffle ? LLM_TRAIN_SHUFFLE : 0;
    o.n_threads = (uint32_t)a.threads;
    o.batch = (uint32_t)a.batch;
    o.seq_len = (uint32_t)a.seq;
    o.grad_accum = (uint32_t)a.accum;
    o.schedule = a.schedule && strcmp(a.schedule, "constant") == 0 ? LLM_SCHEDULE_CONSTANT
                                                                   : LLM_SCHEDULE_COSINE;
    o.warmup_steps = (uint32_t)a.warmup;
    o.total_steps = a.steps;
    o.lr = a.lr;
    o.min_lr = a.min_lr;
    o.beta1 = a.beta1;
    o.beta2 = a.beta2;
    o.eps = a.eps;
    o.weight_decay = a.wd;
    o.grad_clip = a.clip;
    o.seed = a.seed;
    if ((rc = llm_trainer_create(&tr, m, &o)) != LLM_OK) {
        cli_status_error(rc, NULL, "cannot create the trainer");
        goto done;
    }
#ifdef LLM_CLI_HAVE_MPI
    /* before the resume: the checkpoint holds the global batch R*B */
    if (mpi && (rc = llm_mpi_attach(mpi, tr)) != LLM_OK) {
        cli_error("rank %u: cannot join the MPI group: %s: %s", (unsigned)rank,
                  llm_status_str(rc), llm_mpi_errmsg(mpi));
        goto done;
    }
#endif
    if (a.resume && (rc = llm_trainer_load(tr, a.resume)) != LLM_OK) {
        cli_status_error(rc, tr, "cannot resume from %s", a.resume);
        goto done;
    }
#ifdef LLM_CLI_HAVE_MPI
    if (mpi) {
        /* every rank must hold the same tokens and start at the same step */
        uint64_t st = 0;
        llm_trainer_n_steps(&st, tr);
        if ((rc = llm_mpi_check_same(mpi, ids, n * sizeof *ids, "the training data")) !=
                LLM_OK ||
            (rc = llm_mpi_check_same(mpi, &st, sizeof st, "the starting step")) != LLM_OK) {
            cli_error("rank %u: %s: %s", (unsigned)rank, llm_status_str(rc),
                      llm_mpi_errmsg(mpi));
            goto done;
        }
    }
#endif
    BT = a.batch * a.seq;
    ntok = BT * a.accum;
    n_val = a.val_fraction > 0 ? (size_t)((double)n * a.val_fraction) : 0;
    n_train = n - n_val;
    if (n_train < BT * world + 1) {
        cli_error("%s: %zu training tokens, fewer than one batch of R*B*T+1 = %zu", a.data,
                  n_train, BT * world + 1);
        goto done;
    }
    if (n_val && n_val < BT + 1) {
        cli_error("--val-fraction %g leaves %zu tokens, fewer than one batch of B*T+1 = %zu",
                  a.val_fraction, n_val, BT + 1);
        goto done;
    }
    in = malloc(ntok * sizeof *in);
    tg = malloc(ntok * sizeof *tg);
    if (a.plot) {
        tlosses = malloc(a.steps * sizeof *tlosses);
        vlosses = malloc(a.steps * sizeof *vlosses);
        vsteps = malloc(a.steps * sizeof *vsteps);
    }
    if (!in || !tg || (a.plot && (!tlosses || !vlosses || !vsteps))) {
        cli_error("out of memory");
        goto done;
    }
    llm_trainer_n_steps(&step, tr);
    first_step = step;
    if (!a.quiet)
        fprintf(stderr, "train: %zu tokens (%zu validation), %llu steps of %zu tokens%s\n", n,
                n_val, a.steps, ntok * world, world > 1 ? " (all ranks)" : "");
    if (!a.quiet && a.distributed)
        fprintf(stderr, "train: %u MPI ranks, batch %llu per rank, global batch %llu\n",
                (unsigned)world, a.batch, a.batch * world);
    t_start = now_s();
    for (; step < a.steps && (!a.stop_at || step < a.stop_at); step++) {
        float loss;
        double lr, gn, dt, tps;
        llm_trainer_lr(&lr, tr, step);
        t0 = now_s();
        if ((rc = llm_trainer_next_batch(in, tg, tr, ids, n_train)) != LLM_OK ||
            (rc = llm_trainer_step(&loss, tr, in, tg, ntok)) != LLM_OK) {
            if (!a.quiet)
                fputc('\n', stderr);
            cli_status_error(rc, tr, "step %llu failed%s", (unsigned long long)step,
                             a.checkpoint ? "; the last checkpoint is kept" : "");
            goto done;
        }
        dt = now_s() - t0;
        tps = (double)ntok * world / dt; /* the whole group's tokens */
        if (tlosses)
            tlosses[n_tl++] = loss;
        llm_trainer_grad_norm(&gn, tr);
#ifdef LLM_CLI_HAVE_MPI
        if (a.json && mpi) {
            llm_mpi_stats(&comm_bytes, NULL, &comm_wait, mpi);
            printf("{\"step\": %llu, \"loss\": %.9g, \"lr\": %.6g, \"grad_norm\": %.6g, "
                   "\"tokens_per_s\": %.1f, \"world_size\": %u, \"comm_bytes\": %llu, "
                   "\"comm_wait_ms\": %.3f}\n",
                   (unsigned long long)step, (double)loss, lr, gn, tps, (unsigned)world,
                   (unsigned long long)(comm_bytes - comm_prev),
                   1e3 * (comm_wait - comm_wait_prev));
            comm_prev = comm_bytes;
            comm_wait_prev = comm_wait;
        } else
#endif
        if (a.json)
            printf("{\"step\": %llu, \"loss\": %.9g, \"lr\": %.6g, \"grad_norm\": %.6g, "
                   "\"tokens_per_s\": %.1f}\n",
                   (unsigned long long)step, (double)loss, lr, gn, tps);
        if (!a.quiet) {
            double el = now_s() - t_start, eta = el / (double)(step + 1 - 0) *
                                                 (double)(a.steps - step - 1);
            fprintf(stderr, "\rstep %llu/%llu  loss %.4f  lr %.3g  %.0f tok/s  ETA %.0fs   ",
                    (unsigned long long)step + 1, a.steps, (double)loss, lr, tps, eta);
        }
        if (n_val && ((step + 1) % (a.eval_every ? a.eval_every : 100) == 0 ||
                      step + 1 == a.steps)) {
            float vl;
            if ((rc = val_loss(tr, ids + n_train, n_val, BT, &vl)) != LLM_OK) {
                cli_status_error(rc, tr, "validation at step %llu failed",
                                 (unsigned long long)step);
                goto done;
            }
            if (a.json)
                printf("{\"step\": %llu, \"val_loss\": %.6f}\n", (unsigned long long)step,
                       (double)vl);
            if (vlosses) {
                vlosses[n_vl] = vl;
                vsteps[n_vl++] = step;
            }
            if (!a.quiet)
                fprintf(stderr, "\nstep %llu: validation loss %.4f\n",
                        (unsigned long long)step + 1, (double)vl);
        }
        if (a.json)
            fflush(stdout);
        if (rank == 0 && a.checkpoint && a.ckpt_every && (step + 1) % a.ckpt_every == 0 &&
            (rc = llm_trainer_save(tr, a.checkpoint)) != LLM_OK) {
            cli_status_error(rc, tr, "cannot save the checkpoint %s", a.checkpoint);
            goto done;
        }
    }
    if (!a.quiet)
        fputc('\n', stderr);
#ifdef LLM_CLI_HAVE_MPI
    if (mpi && !a.quiet) {
        uint64_t nb = 0;
        double ws = 0.0;
        llm_mpi_stats(&nb, NULL, &ws, mpi);
        if (step > first_step)
            fprintf(stderr, "mpi: %u ranks, %llu bytes all-reduced per step and rank, %.3f s "
                    "spent waiting for collectives\n", (unsigned)world,
                    (unsigned long long)(nb / (step - first_step)), ws);
    }
#endif
    if (rank == 0 && a.checkpoint && (rc = llm_trainer_save(tr, a.checkpoint)) != LLM_OK) {
        cli_status_error(rc, tr, "cannot save the checkpoint %s", a.checkpoint);
        goto done;
    }
    if (rank == 0 && a.out && (rc = llm_model_save(m, a.out)) != LLM_OK) {
        cli_status_error(rc, m, "cannot save the model %s", a.out);
        goto done;
    }
    if (rank == 0 && a.plot && n_tl && write_plot(a.plot, tlosses, n_tl, first_step, vlosses, vsteps, n_vl,
                                     a.steps) != CLI_OK)
        goto done;
    status = CLI_OK;
done:
    free(in);
    free(tg);
    free(tlosses);
    free(vlosses);
    free(vsteps);
    if (bytes == 2)
        free(ids);
    else
        llm_free(ids);
    llm_trainer_free(tr);
    llm_model_free(m);
    llm_tokenizer_free(own_tok);
#ifdef LLM_CLI_HAVE_MPI
    /* on failure MPI is left as it is (a collective may be pending, and
     * MPI_Finalize would wait for the other ranks): the exit status tells
     * mpirun to end the job */
    if (mpi && status == CLI_OK)
        llm_mpi_free(mpi);
#endif
    return status;
}
