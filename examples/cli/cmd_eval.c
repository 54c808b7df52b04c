/*
 * cmd_eval.c - `libllm eval`: mean cross-entropy, perplexity and bits per
 * byte of a model on a text file (tokenized with the model's tokenizer)
 * or on a file of token ids, with the windowed semantics of
 * llm_ctx_eval.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static void usage(FILE *f) {
    fputs("Usage: libllm eval --model M (--file F | --tokens F) [--ctx N] [--stride N]\n"
          "                   [--threads N] [--tokenizer PATH] [--json] [--quiet]\n"
          "\n"
          "Score a text with a model: every token except the first is predicted\n"
          "once, in windows of at most N predictions; each window starts where\n"
          "the previous one ended and its first token is context only. A BOS\n"
          "token is prepended when the tokenizer asks for it.\n"
          "\n"
          "Options:\n"
          "  --model M       GGUF model file (or HF checkpoint directory)\n"
          "  --file F        UTF-8 text, tokenized with the model's tokenizer (or\n"
          "                  --tokenizer PATH); bits per byte use its size\n"
          "  --tokens F      token ids as whitespace-separated integers (no bpb)\n"
          "  --ctx N         window length (default: the model's n_ctx)\n"
          "  --stride N      sliding windows: score N new tokens per window\n"
          "  --threads N     threads (default 1)\n"
          "  --json          print {\"tokens\", \"loss\", \"ppl\", \"bpb\"}\n"
          "  --quiet         no progress bar on stderr\n"
          "  -h, --help      show this help\n",
          f);
}

static int progress_bar(void *ud, const llm_progress *p) {
    (void)ud;
    if (p->total)
        fprintf(stderr, "\reval: %llu/%llu tokens (%3.0f%%)", (unsigned long long)p->done,
                (unsigned long long)p->total, 100.0 * (double)p->done / (double)p->total);
    return 0;
}

static int parse_u32(const char *opt, const char *s, uint32_t *out) {
    unsigned long long v;
    if (!s || cli_parse_u64(s, &v) != 0 || v > UINT32_MAX)
        return cli_usage_error("eval", "eval: %s needs a non-negative integer, got '%s'", opt,
                               s ? s : "");
    *out = (uint32_t)v;
    return 0;
}

/* Reads whitespace-separated decimal token ids. */
static int read_ids(const char *path, llm_token **ids, size_t *n) {
    char *text, *p, *end;
    size_t len, cap = 1024;
    if (cli_read_all(path, &text, &len))
        return CLI_FAIL;
    *ids = malloc(cap * sizeof **ids);
    *n = 0;
    p = text;
    text[len] = '\0';
    while (*ids) {
        long v;
        while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r' || *p == ',')
            p++;
        if (!*p)
            break;
        errno = 0;
        v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX) {
            fprintf(stderr, "libllm: error: %s: byte %ld: not a token id\n", path, (long)(p - text));
            free(text);
            free(*ids);
            return CLI_FAIL;
        }
        if (*n == cap) {
            llm_token *nb = realloc(*ids, 2 * cap * sizeof **ids);
            if (!nb)
                free(*ids);
            *ids = nb;
            cap *= 2;
            if (!nb)
                break;
        }
        (*ids)[(*n)++] = (llm_token)v;
        p = end;
    }
    free(text);
    if (!*ids)
        return cli_error("out of memory");
    return CLI_OK;
}

int cmd_eval(int argc, char **argv) {
    const char *model_path = NULL, *file = NULL, *tokens_path = NULL, *tok_path = NULL;
    uint32_t window = 0, stride = 0, threads = 1;
    int json = 0, quiet = 0, i, st, rc = CLI_FAIL;
    llm_model *m = NULL;
    llm_tokenizer *own_tok = NULL;
    const llm_tokenizer *tok;
    llm_ctx *ctx = NULL;
    llm_ctx_opts o;
    llm_model_config c;
    llm_token *ids = NULL;
    size_t n_ids = 0, n_bytes = 0;
    double nll = 0.0, loss, ppl;
    uint64_t n_pred = 0;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (cli_is_help(a)) {
            usage(stdout);
            return CLI_OK;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = 1;
        } else if (strcmp(a, "--model") == 0 || strcmp(a, "--file") == 0 ||
                   strcmp(a, "--tokens") == 0 || strcmp(a, "--tokenizer") == 0) {
            if (!v)
                return cli_usage_error("eval", "eval: %s needs a value", a);
            if (a[2] == 'm')
                model_path = v;
            else if (a[2] == 'f')
                file = v;
            else if (strcmp(a, "--tokens") == 0)
                tokens_path = v;
            else
                tok_path = v;
            i++;
        } else if (strcmp(a, "--ctx") == 0 || strcmp(a, "--stride") == 0 ||
                   strcmp(a, "--threads") == 0) {
            uint32_t *dst = a[2] == 'c' ? &window : a[2] == 's' ? &stride : &threads;
            if (parse_u32(a, v, dst))
                return CLI_USAGE;
            i++;
        } else {
            return cli_usage_error("eval", "eval: unknown argument '%s'", a);
        }
    }
    if (!model_path)
        return cli_usage_error("eval", "eval: --model is required");
    if (!file == !tokens_path)
        return cli_usage_error("eval", "eval: give exactly one of --file and --tokens");
    if (threads == 0 || threads > 256)
        return cli_usage_error("eval", "eval: --threads must be in 1..256");
    st = llm_model_import(&m, model_path, NULL);
    if (st)
        return cli_status_error(st, NULL, "cannot load '%s'", model_path);
    LLM_MODEL_CONFIG_INIT(&c);
    llm_model_get_config(&c, m);
    if (window == 0)
        window = c.n_ctx;
    if (window < 1 || (c.arch == LLM_ARCH_GPT2 && window > c.n_ctx)) {
        rc = cli_usage_error("eval", "eval: --ctx must be in 1..%u for this model", (unsigned)c.n_ctx);
        goto out;
    }
    if (stride > window) {
        rc = cli_usage_error("eval", "eval: --stride must not exceed --ctx");
        goto out;
    }
    if (file) {
        char *text;
        size_t len, need = 0;
        uint32_t flags = 0;
        if (tok_path) {
            if ((st = llm_tokenizer_load(&own_tok, tok_path, NULL)) != LLM_OK) {
                rc = cli_status_error(st, NULL, "cannot load tokenizer '%s'", tok_path);
                goto out;
            }
            tok = own_tok;
        } else {
            tok = llm_model_tokenizer(m);
        }
        if (!tok) {
            rc = cli_error("'%s' has no tokenizer; pass --tokenizer PATH or use --tokens",
                           model_path);
            goto out;
        }
        if (cli_read_all(file, &text, &len))
            goto out;
        n_bytes = len;
        if (llm_tokenizer_add_bos(tok))
            flags |= LLM_TOK_ADD_BOS;
        ids = malloc((len + 2) * sizeof *ids);
        if (!ids) {
            free(text);
            rc = cli_error("out of memory");
            goto out;
        }
        st = llm_tokenizer_encode(ids, len + 2, &need, tok, text, len, flags);
        free(text);
        if (st) {
            rc = cli_status_error(st, tok, "cannot tokenize '%s'", file);
            goto out;
        }
        n_ids = need;
    } else if (read_ids(tokens_path, &ids, &n_ids)) {
        goto out;
    }
    LLM_CTX_OPTS_INIT(&o);
    o.n_ctx = window;
    /* Several windows per forward step use the threads better. */
    o.n_batch = window >= 2048 ? window : (window * 4 > 2048 ? 2048 / window * window : window * 4);
    o.n_threads = threads;
    if (!quiet && isatty(2) && n_ids > 4 * (size_t)window)
        o.progress = progress_bar;
    if ((st = llm_ctx_create(&ctx, m, &o)) != LLM_OK) {
        rc = cli_status_error(st, NULL, "cannot create a context");
        goto out;
    }
    st = llm_ctx_eval(&nll, &n_pred, ctx, ids, n_ids, window, stride);
    if (o.progress)
        fputc('\n', stderr);
    if (st) {
        rc = cli_status_error(st, ctx, "evaluation failed");
        goto out;
    }
    loss = n_pred ? nll / (double)n_pred : NAN;
    ppl = exp(loss);
    if (json) {
        printf("{\"tokens\": %llu, \"loss\": %.9g, \"ppl\": %.9g, \"bpb\": ",
               (unsigned long long)n_pred, loss, ppl);
        if (n_bytes)
            printf("%.9g", nll / (log(2.0) * (double)n_bytes));
        else
            printf("null");
        printf(", \"nll_sum\": %.12g, \"bytes\": %zu, \"ctx\": %u, \"stride\": %u}\n", nll,
               n_bytes, (unsigned)window, (unsigned)(stride ? stride : window));
    } else {
        printf("tokens: %llu\nloss:   %.6f nats/token\nppl:    %.4f\n",
               (unsigned long long)n_pred, loss, ppl);
        if (n_bytes)
            printf("bpb:    %.6f bits/byte (%zu bytes)\n", nll / (log(2.0) * (double)n_bytes),
                   n_bytes);
    }
    rc = CLI_OK;
out:
    free(ids);
    llm_ctx_free(ctx);
    llm_tokenizer_free(own_tok);
    llm_model_free(m);
    return rc;
}
