/*
 * cmd_generate.c - `libllm generate`: continue a prompt with a model,
 * streaming the text to stdout as it is produced (llm_gen_next), or
 * printing one JSON object with --json. --interactive reads further
 * prompts from stdin, line by line, keeping the context between them.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_STOP 32

static void usage(FILE *f) {
    fputs("Usage: libllm generate --model M --prompt TEXT [-n N] [--temp T] [--top-k K]\n"
          "                       [--top-p P] [--min-p P] [--repeat-penalty R] [--seed S]\n"
          "                       [--stop STR]... [--threads N] [--ctx N] [--tokenizer PATH]\n"
          "                       [--ignore-eos] [--no-mmap] [--interactive] [--json]\n"
          "\n"
          "Continue TEXT with the model, printing the new text as it is produced.\n"
          "A BOS token is prepended when the tokenizer asks for it. Generation\n"
          "ends at EOS, at a stop string (not printed), after N tokens or when\n"
          "the context is full.\n"
          "\n"
          "Options:\n"
          "  --model M            GGUF model file (or HF checkpoint directory)\n"
          "  --tokenizer PATH     tokenizer (default: the model's own)\n"
          "  --prompt TEXT        the prompt (optional with --interactive)\n"
          "  -n, --max-tokens N   most tokens to generate (default 128, 0: until the\n"
          "                       context is full)\n"
          "  --temp T             temperature (default 1; 0: greedy)\n"
          "  --top-k K            keep the K most likely tokens (default off)\n"
          "  --top-p P            nucleus sampling in (0, 1] (default off)\n"
          "  --min-p P            drop tokens below P x the most likely (default off)\n"
          "  --repeat-penalty R   repetition penalty over the last 64 tokens (default 1)\n"
          "  --seed S             sampler seed (default 0; same seed, same text)\n"
          "  --stop STR           stop string (repeatable, up to 32)\n"
          "  --threads N          threads (default 1)\n"
          "  --ctx N              context length (default: the model's n_ctx, at most 4096)\n"
          "  --ignore-eos         never stop at EOS (it is masked out)\n"
          "  --no-mmap            read the weights into memory instead of mapping the\n"
          "                       file: slower to start, uses transparent huge pages\n"
          "                       where the system allows, which decodes faster\n"
          "  --interactive        after the prompt, read prompts from stdin line by\n"
          "                       line; the context is kept between them\n"
          "  --json               print {\"prompt_tokens\", \"tokens\", \"text\", \"reason\",\n"
          "                       \"tokens_per_s\"} instead of streaming\n"
          "  -h, --help           show this help\n",
          f);
}

/* Growing byte buffer for --json. */
typedef struct buf {
    char *p;
    size_t n, cap;
} buf;

static int buf_add(buf *b, const void *src, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *np;
        while (cap < b->n + n + 1)
            cap *= 2;
        np = realloc(b->p, cap);
        if (!np)
            return -1;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
    b->p[b->n] = '\0';
    return 0;
}

/* JSON string of bytes[0..n) (valid UTF-8: the generator replaces invalid
 * bytes with --json). */
static void json_bytes(FILE *f, const char *s, size_t n) {
    size_t i;
    fputc('"', f);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"') fputs("\\\"", f);
        else if (c == '\\') fputs("\\\\", f);
        else if (c == '\n') fputs("\\n", f);
        else if (c == '\r') fputs("\\r", f);
        else if (c == '\t') fputs("\\t", f);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

static void json_ids(FILE *f, const llm_token *ids, size_t n) {
    size_t i;
    fputc('[', f);
    for (i = 0; i < n; i++)
        fprintf(f, i ? ", %ld" : "%ld", (long)ids[i]);
    fputc(']', f);
}

/* One turn after a feed: generates until LLM_DONE, streaming (or
 * collecting, with json) the text and collecting the tokens. */
static int run_turn(llm_gen *g, int json, buf *text, buf *toks, double *seconds,
                    int32_t *reason) {
    llm_gen_result r;
    int st;
    for (;;) {
        llm_token t;
        const char *piece;
        size_t n;
        st = llm_gen_next(&t, &piece, &n, g);
        if (st < 0)
            return cli_status_error(st, NULL, "generation failed");
        if (st == LLM_OK && buf_add(toks, &t, sizeof t))
            return cli_error("out of memory");
        if (n) {
            if (json) {
                if (buf_add(text, piece, n))
                    return cli_error("out of memory");
            } else {
                fwrite(piece, 1, n, stdout);
                fflush(stdout);
            }
        }
        if (st == LLM_DONE)
            break;
    }
    LLM_GEN_RESULT_INIT(&r);
    llm_gen_get_result(&r, g);
    *seconds = r.prompt_seconds + r.gen_seconds;
    *reason = r.reason;
    return CLI_OK;
}

static int parse_f(const char *opt, const char *v, float *out) {
    double d;
    if (!v || cli_parse_double(v, &d))
        return cli_usage_error("generate", "generate: %s needs a number, got '%s'", opt,
                               v ? v : "");
    *out = (float)d;
    return 0;
}

static int parse_u(const char *opt, const char *v, unsigned long long max,
                   unsigned long long *out) {
    if (!v || cli_parse_u64(v, out) || *out > max)
        return cli_usage_error("generate", "generate: %s needs an integer in 0..%llu, got '%s'",
                               opt, max, v ? v : "");
    return 0;
}

int cmd_generate(int argc, char **argv) {
    const char *model_path = NULL, *tok_path = NULL, *prompt = NULL;
    const char *stop[MAX_STOP];
    size_t n_stop = 0;
    unsigned long long max_tokens = 128, top_k = 0, seed = 0, threads = 1, n_ctx = 0;
    float temp = 1.0f, top_p = 0.0f, min_p = 0.0f, repeat = 0.0f;
    int json = 0, interactive = 0, ignore_eos = 0, no_mmap = 0, i, st, rc = CLI_FAIL;
    llm_model *m = NULL;
    llm_tokenizer *own_tok = NULL;
    const llm_tokenizer *tok;
    llm_ctx *ctx = NULL;
    llm_sampler *s = NULL;
    llm_gen *g = NULL;
    llm_model_config cfg;
    llm_ctx_opts co;
    llm_sampler_opts so;
    llm_gen_opts go;
    llm_token *ids = NULL;
    size_t n_ids = 0;
    buf text = {0}, toks = {0};
    double seconds = 0;
    int32_t reason = 0;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (cli_is_help(a)) {
            usage(stdout);
            return CLI_OK;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--interactive") == 0) {
            interactive = 1;
        } else if (strcmp(a, "--ignore-eos") == 0) {
            ignore_eos = 1;
        } else if (strcmp(a, "--no-mmap") == 0) {
            no_mmap = 1;
        } else if (strcmp(a, "--model") == 0 || strcmp(a, "--tokenizer") == 0 ||
                   strcmp(a, "--prompt") == 0 || strcmp(a, "--stop") == 0) {
            if (!v)
                return cli_usage_error("generate", "generate: %s needs a value", a);
            if (a[2] == 'm')
                model_path = v;
            else if (a[2] == 't')
                tok_path = v;
            else if (a[2] == 'p')
                prompt = v;
            else if (n_stop == MAX_STOP)
                return cli_usage_error("generate", "generate: at most %d --stop strings",
                                       MAX_STOP);
            else if (!*v)
                return cli_usage_error("generate", "generate: --stop needs a non-empty string");
            else
                stop[n_stop++] = v;
            i++;
        } else if (strcmp(a, "--temp") == 0 || strcmp(a, "--top-p") == 0 ||
                   strcmp(a, "--min-p") == 0 || strcmp(a, "--repeat-penalty") == 0) {
            float *dst = strcmp(a, "--temp") == 0 ? &temp : a[2] == 'r' ? &repeat : a[2] == 'm' ? &min_p : &top_p;
            if (parse_f(a, v, dst))
                return CLI_USAGE;
            i++;
        } else if (strcmp(a, "-n") == 0 || strcmp(a, "--max-tokens") == 0) {
            if (parse_u(a, v, UINT32_MAX, &max_tokens))
                return CLI_USAGE;
            i++;
        } else if (strcmp(a, "--top-k") == 0) {
            if (parse_u(a, v, INT32_MAX, &top_k))
                return CLI_USAGE;
            i++;
        } else if (strcmp(a, "--seed") == 0) {
            if (parse_u(a, v, UINT64_MAX, &seed))
                return CLI_USAGE;
            i++;
        } else if (strcmp(a, "--threads") == 0) {
            if (parse_u(a, v, 256, &threads) || threads == 0)
                return cli_usage_error("generate", "generate: --threads must be in 1..256");
            i++;
        } else if (strcmp(a, "--ctx") == 0) {
            if (parse_u(a, v, UINT32_MAX, &n_ctx))
                return CLI_USAGE;
            i++;
        } else {
            return cli_usage_error("generate", "generate: unknown argument '%s'", a);
        }
    }
    if (!model_path)
        return cli_usage_error("generate", "generate: --model is required");
    if (!prompt && !interactive)
        return cli_usage_error("generate", "generate: --prompt is required");
    if (temp < 0.0f)
        return cli_usage_error("generate", "generate: --temp must be >= 0");
    if (interactive && json)
        return cli_usage_error("generate", "generate: --interactive and --json do not mix");

    {
        llm_model_opts mo;
        LLM_MODEL_OPTS_INIT(&mo);
        if (no_mmap)
            mo.flags |= LLM_MODEL_NO_MMAP;
        if ((st = llm_model_import(&m, model_path, &mo)) != LLM_OK)
            return cli_status_error(st, NULL, "cannot load '%s'", model_path);
    }
    LLM_MODEL_CONFIG_INIT(&cfg);
    llm_model_get_config(&cfg, m);
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
        rc = cli_error("'%s' has no tokenizer; pass --tokenizer PATH", model_path);
        goto out;
    }
    LLM_CTX_OPTS_INIT(&co);
    co.n_ctx = (uint32_t)n_ctx;
    co.n_threads = (uint32_t)threads;
    if ((st = llm_ctx_create(&ctx, m, &co)) != LLM_OK) {
        rc = cli_status_error(st, NULL, "cannot create a context");
        goto out;
    }
    LLM_SAMPLER_OPTS_INIT(&so);
    so.n_vocab = cfg.n_vocab;
    so.seed = seed;
    so.top_k = (int32_t)top_k;
    so.top_p = top_p;
    so.min_p = min_p;
    so.repeat_penalty = repeat;
    if (temp == 0.0f)
        so.flags |= LLM_SAMPLER_FLAG_GREEDY;
    else
        so.temperature = temp;
    if ((st = llm_sampler_create(&s, &so)) != LLM_OK) {
        rc = cli_status_error(st, NULL, "invalid sampler options");
        goto out;
    }
    LLM_GEN_OPTS_INIT(&go);
    go.max_tokens = (uint32_t)max_tokens;
    go.stop = stop;
    go.n_stop = n_stop;
    if (json)
        go.flags |= LLM_GEN_REPLACE_INVALID;
    if (ignore_eos)
        go.flags |= LLM_GEN_IGNORE_EOS;
    if ((st = llm_gen_create(&g, ctx, s, tok, &go)) != LLM_OK) {
        rc = cli_status_error(st, NULL, "cannot create the generator");
        goto out;
    }

    if (prompt) {
        size_t len = strlen(prompt);
        uint32_t flags = llm_tokenizer_add_bos(tok) ? LLM_TOK_ADD_BOS : 0;
        ids = malloc((len + 2) * sizeof *ids);
        if (!ids) {
            rc = cli_error("out of memory");
            goto out;
        }
        if ((st = llm_tokenizer_encode(ids, len + 2, &n_ids, tok, prompt, len, flags)) != LLM_OK) {
            rc = cli_status_error(st, NULL, "cannot tokenize the prompt");
            goto out;
        }
        if (n_ids == 0) {
            rc = cli_error("the prompt is empty");
            goto out;
        }
        if ((st = llm_gen_feed_tokens(g, ids, n_ids)) != LLM_OK) {
            rc = cli_status_error(st, NULL, "cannot feed the prompt");
            goto out;
        }
        if (run_turn(g, json, &text, &toks, &seconds, &reason) != CLI_OK)
            goto out;
        if (json) {
            size_t n_tok = toks.n / sizeof(llm_token);
            printf("{\"prompt_tokens\": ");
            json_ids(stdout, ids, n_ids);
            printf(", \"tokens\": ");
            json_ids(stdout, (const llm_token *)(void *)toks.p, n_tok);
            printf(", \"text\": ");
            json_bytes(stdout, text.p ? text.p : "", text.n);
            printf(", \"reason\": \"%s\", \"tokens_per_s\": %.3f}\n", llm_gen_reason_str(reason),
                   seconds > 0 ? (double)n_tok / seconds : 0.0);
        } else {
            fputc('\n', stdout);
            fprintf(stderr, "[%zu tokens, %s, %.1f tokens/s]\n", toks.n / sizeof(llm_token),
                    llm_gen_reason_str(reason),
                    seconds > 0 ? (double)(toks.n / sizeof(llm_token)) / seconds : 0.0);
        }
    }
    if (interactive) {
        char line[4096];
        for (;;) {
            size_t len;
            fputs("> ", stderr);
            fflush(stderr);
            if (!fgets(line, sizeof line, stdin))
                break;
            len = strlen(line);
            toks.n = 0;
            st = llm_gen_feed_text(g, line, len);
            if (st == LLM_ERR_RANGE) {
                fprintf(stderr, "[the context is full: starting over]\n");
                llm_gen_reset(g);
                st = llm_gen_feed_text(g, line, len);
            }
            if (st != LLM_OK) {
                rc = cli_status_error(st, NULL, "cannot feed the prompt");
                goto out;
            }
            if (run_turn(g, 0, &text, &toks, &seconds, &reason) != CLI_OK)
                goto out;
            fputc('\n', stdout);
            fprintf(stderr, "[%zu tokens, %s]\n", toks.n / sizeof(llm_token),
                    llm_gen_reason_str(reason));
        }
    }
    rc = CLI_OK;
out:
    free(ids);
    free(text.p);
    free(toks.p);
    llm_gen_free(g);
    llm_sampler_free(s);
    llm_ctx_free(ctx);
    llm_tokenizer_free(own_tok);
    llm_model_free(m);
    return rc;
}
