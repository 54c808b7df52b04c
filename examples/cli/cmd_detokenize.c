/*
 * cmd_detokenize.c - `libllm detokenize`: token ids -> the bytes they
 * stand for, written to standard output unchanged.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f) {
    fputs("Usage: libllm detokenize (--tokenizer PATH | --model M)\n"
          "                         [--pattern gpt2|cl100k|o200k] [--file F] [--skip-special]\n"
          "\n"
          "Read decimal token ids separated by white space (or commas, or a JSON\n"
          "array as printed by 'libllm tokenize --json' ids) from F or standard input\n"
          "and write the bytes they decode to, unchanged, to standard output.\n"
          "\n"
          "Options:\n"
          "  --tokenizer PATH  as for 'libllm tokenize'\n"
          "  --model M         use the tokenizer stored in the model file M\n"
          "  --pattern P       split scheme for .tiktoken files: gpt2, cl100k or o200k\n"
          "  --file F          read the ids from F instead of standard input\n"
          "  --skip-special    leave out the text of special tokens\n"
          "  -h, --help        show this help\n",
          f);
}

int cmd_detokenize(int argc, char **argv) {
    const char *tpath = NULL, *mpath = NULL, *file = NULL;
    int i, st;
    uint32_t flags = 0;
    llm_tokenizer_opts o;
    llm_tokenizer *tok = NULL;
    llm_model *model = NULL;
    const llm_tokenizer *use;
    char *text = NULL, *p, *out;
    size_t len = 0, n = 0, cap = 1024, nb = 0;
    llm_token *ids;
    LLM_TOKENIZER_OPTS_INIT(&o);
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            usage(stdout);
            return CLI_OK;
        } else if (strcmp(a, "--tokenizer") == 0 && i + 1 < argc) {
            tpath = argv[++i];
        } else if (strcmp(a, "--model") == 0 && i + 1 < argc) {
            mpath = argv[++i];
        } else if (strcmp(a, "--file") == 0 && i + 1 < argc) {
            file = argv[++i];
        } else if (strcmp(a, "--pattern") == 0 && i + 1 < argc) {
            if (cli_tok_pattern(argv[++i], &o.pattern))
                return cli_usage_error("detokenize", "detokenize: unknown pattern '%s'", argv[i]);
        } else if (strcmp(a, "--skip-special") == 0) {
            flags |= LLM_TOK_SKIP_SPECIAL;
        } else {
            return cli_usage_error("detokenize", "detokenize: unexpected argument '%s'", a);
        }
    }
    if (!tpath == !mpath)
        return cli_usage_error("detokenize", "detokenize: give one of --tokenizer PATH or --model M");
    if (cli_read_all(file, &text, &len))
        return CLI_FAIL;
    ids = malloc((len / 2 + 1) * sizeof *ids); /* each id needs a digit and a separator */
    if (!ids) {
        free(text);
        return cli_error("out of memory");
    }
    for (p = text; p < text + len;) {
        char *end;
        long v;
        if (strchr(" \t\r\n,[]", *p)) {
            p++;
            continue;
        }
        if (*p < '0' || *p > '9') {
            free(ids);
            free(text);
            return cli_error("invalid input at byte %zu: ids must be non-negative integers",
                             (size_t)(p - text));
        }
        errno = 0;
        v = strtol(p, &end, 10);
        if (errno || v > INT32_MAX || (end < text + len && !strchr(" \t\r\n,[]", *end))) {
            free(ids);
            free(text);
            return cli_error("invalid id at byte %zu", (size_t)(p - text));
        }
        ids[n++] = (llm_token)v;
        p = end;
    }
    free(text);
    if (cli_tok_open(tpath, mpath, &o, &tok, &model, &use)) {
        free(ids);
        return CLI_FAIL;
    }
    out = malloc(cap);
    st = out ? llm_tokenizer_decode(out, cap, &nb, use, ids, n, flags) : LLM_ERR_NOMEM;
    if (st == LLM_ERR_BUFFER_TOO_SMALL) {
        free(out);
        cap = nb;
        out = malloc(cap ? cap : 1);
        st = out ? llm_tokenizer_decode(out, cap, &nb, use, ids, n, flags) : LLM_ERR_NOMEM;
    }
    free(ids);
    llm_tokenizer_free(tok);
    llm_model_free(model);
    if (st) {
        free(out);
        return cli_status_error(st, NULL, "cannot decode");
    }
    if (fwrite(out, 1, nb, stdout) != nb || fflush(stdout) != 0) {
        free(out);
        return cli_error("cannot write the output");
    }
    free(out);
    return CLI_OK;
}
