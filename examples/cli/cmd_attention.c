/*
 * cmd_attention.c - `libllm attention`: which tokens a chosen layer and
 * head attends to, as a table and optionally a PNG heat map (written by
 * cli_write_png in cli.c).
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f) {
    fputs("Usage: libllm attention --model M (--text T | --tokens IDS) --layer L --head H\n"
          "                        [--png FILE] [--json]\n"
          "\n"
          "Run the model over a text and print the attention probabilities of\n"
          "one layer and query head (0-based): row i is token i, column j how\n"
          "much token i attends to token j (causal: j <= i).\n"
          "\n"
          "Options:\n"
          "  --model M     GGUF model file or HF checkpoint directory\n"
          "  --text T      text, tokenized with the model's tokenizer (or --tokenizer)\n"
          "  --tokens IDS  comma- or space-separated token ids instead of text\n"
          "  --tokenizer P tokenizer file or directory (default: the model's own)\n"
          "  --layer L     layer index\n"
          "  --head H      query head index\n"
          "  --png FILE    also write a heat map (white 0 .. dark red 1)\n"
          "  --json        print {\"tokens\": [...], \"probs\": [[...], ...]}\n"
          "  -h, --help    show this help\n",
          f);
}

/* n x n matrix of probabilities as an RGB image, `cell` pixels per entry. */
static int write_png(const char *path, const float *p, size_t n, size_t stride) {
    const size_t cell = n <= 16 ? 24 : n <= 64 ? 8 : n <= 256 ? 2 : 1, w = n * cell;
    const size_t row_bytes = 1 + 3 * w;
    unsigned char *raw = malloc(row_bytes * w);
    size_t y, x;
    int rc;
    if (!raw)
        return cli_error("out of memory for the image");
    for (y = 0; y < w; y++) {
        unsigned char *r = raw + y * row_bytes;
        r[0] = 0; /* filter: none */
        for (x = 0; x < w; x++) {
            float v = p[(y / cell) * stride + x / cell];
            if (v < 0)
                v = 0;
            if (v > 1)
                v = 1;
            /* white -> red -> dark red */
            r[1 + 3 * x] = (unsigned char)(255 - 115 * v);
            r[2 + 3 * x] = (unsigned char)(255 * (1 - v));
            r[3 + 3 * x] = (unsigned char)(255 * (1 - v));
        }
    }
    rc = cli_write_png(path, raw, w, w);
    free(raw);
    return rc;
}

static void print_piece(const llm_tokenizer *tok, llm_token id, int json) {
    char buf[64];
    size_t n = 0;
    if (tok && llm_tokenizer_token_to_piece(buf, sizeof buf - 1, &n, tok, id) == LLM_OK) {
        buf[n] = '\0';
        if (json) {
            cli_json_string(stdout, buf);
        } else {
            size_t i;
            for (i = 0; i < n && i < 12; i++)
                putchar((unsigned char)buf[i] < 32 ? '.' : buf[i]);
            for (; i < 12; i++)
                putchar(' ');
        }
    } else {
        printf(json ? "\"%ld\"" : "%-12ld", (long)id);
    }
}

int cmd_attention(int argc, char **argv) {
    const char *model_path = NULL, *text = NULL, *tokens = NULL, *png = NULL, *tok_path = NULL;
    long layer = -1, head = -1;
    int json = 0, i, st, rc = CLI_FAIL;
    llm_model *m = NULL;
    llm_tokenizer *own_tok = NULL;
    const llm_tokenizer *tok = NULL;
    llm_ctx *ctx = NULL;
    llm_ctx_opts o;
    llm_token *ids = NULL;
    size_t n = 0, rows, stride, r, c;
    const float *probs, *lg;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (cli_is_help(a)) {
            usage(stdout);
            return CLI_OK;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (!v) {
            return cli_usage_error("attention", "attention: %s needs a value or is unknown", a);
        } else if (strcmp(a, "--model") == 0) {
            model_path = v, i++;
        } else if (strcmp(a, "--text") == 0) {
            text = v, i++;
        } else if (strcmp(a, "--tokens") == 0) {
            tokens = v, i++;
        } else if (strcmp(a, "--tokenizer") == 0) {
            tok_path = v, i++;
        } else if (strcmp(a, "--png") == 0) {
            png = v, i++;
        } else if (strcmp(a, "--layer") == 0 || strcmp(a, "--head") == 0) {
            unsigned long long x;
            if (cli_parse_u64(v, &x) || x > 1000000)
                return cli_usage_error("attention", "attention: %s needs an index, got '%s'", a, v);
            if (a[2] == 'l')
                layer = (long)x;
            else
                head = (long)x;
            i++;
        } else {
            return cli_usage_error("attention", "attention: unknown argument '%s'", a);
        }
    }
    if (!model_path || layer < 0 || head < 0 || !text == !tokens)
        return cli_usage_error("attention",
                               "attention: --model, --layer, --head and one of --text/--tokens are required");
    if ((st = llm_model_import(&m, model_path, NULL)) != LLM_OK)
        return cli_status_error(st, NULL, "cannot load '%s'", model_path);
    if (tok_path) {
        if ((st = llm_tokenizer_load(&own_tok, tok_path, NULL)) != LLM_OK) {
            rc = cli_status_error(st, NULL, "cannot load tokenizer '%s'", tok_path);
            goto out;
        }
        tok = own_tok;
    } else {
        tok = llm_model_tokenizer(m);
    }
    if (text) {
        size_t len = strlen(text), need = 0;
        if (!tok) {
            rc = cli_error("'%s' has no tokenizer; pass --tokenizer or --tokens", model_path);
            goto out;
        }
        ids = malloc((len + 2) * sizeof *ids);
        if (!ids) {
            rc = cli_error("out of memory");
            goto out;
        }
        st = llm_tokenizer_encode(ids, len + 2, &need, tok, text, len,
                                  llm_tokenizer_add_bos(tok) ? LLM_TOK_ADD_BOS : 0);
        if (st) {
            rc = cli_status_error(st, tok, "cannot tokenize the text");
            goto out;
        }
        n = need;
    } else {
        const char *p = tokens;
        ids = malloc((strlen(tokens) / 2 + 2) * sizeof *ids);
        while (ids && *p) {
            char *end;
            long v;
            while (*p == ' ' || *p == ',')
                p++;
            if (!*p)
                break;
            v = strtol(p, &end, 10);
            if (end == p || v < 0 || v > INT32_MAX) {
                rc = cli_usage_error("attention", "attention: bad token id near '%s'", p);
                goto out;
            }
            ids[n++] = (llm_token)v;
            p = end;
        }
    }
    if (n == 0) {
        rc = cli_error("no tokens to run");
        goto out;
    }
    LLM_CTX_OPTS_INIT(&o);
    o.n_ctx = (uint32_t)n;
    o.flags = LLM_CTX_ATTENTION;
    if ((st = llm_ctx_create(&ctx, m, &o)) != LLM_OK) {
        rc = cli_status_error(st, NULL, "cannot create a context for %zu tokens", n);
        goto out;
    }
    if ((st = llm_ctx_capture_attention(ctx, (int32_t)layer, (int32_t)head)) != LLM_OK ||
        (st = llm_ctx_decode(&lg, ctx, ids, n)) != LLM_OK ||
        (st = llm_ctx_attention(&probs, &rows, &stride, ctx)) != LLM_OK) {
        rc = cli_status_error(st, ctx, "attention failed");
        goto out;
    }
    if (json) {
        printf("{\"layer\": %ld, \"head\": %ld, \"tokens\": [", layer, head);
        for (r = 0; r < rows; r++) {
            if (r)
                printf(", ");
            print_piece(tok, ids[r], 1);
        }
        printf("], \"probs\": [");
        for (r = 0; r < rows; r++) {
            printf(r ? ", [" : "[");
            for (c = 0; c <= r; c++)
                printf(c ? ", %.6g" : "%.6g", (double)probs[r * stride + c]);
            printf("]");
        }
        printf("]}\n");
    } else {
        printf("layer %ld head %ld: row = query token, column = attended token\n", layer, head);
        printf("%-12s", "");
        for (c = 0; c < rows; c++)
            printf(" %5zu", c);
        printf("\n");
        for (r = 0; r < rows; r++) {
            print_piece(tok, ids[r], 0);
            for (c = 0; c <= r; c++)
                printf(" %5.3f", (double)probs[r * stride + c]);
            printf("\n");
        }
    }
    rc = png ? write_png(png, probs, rows, stride) : CLI_OK;
out:
    free(ids);
    llm_ctx_free(ctx);
    llm_tokenizer_free(own_tok);
    llm_model_free(m);
    return rc;
}
