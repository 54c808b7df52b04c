/*
 * cmd_tokenize.c - `libllm tokenize`: text -> token ids, one line of ids
 * separated by single spaces (the format `libllm detokenize` reads).
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f) {
    fputs("Usage: libllm tokenize (--tokenizer PATH | --model M)\n"
          "                       [--pattern gpt2|cl100k|o200k] [--file F] [--special]\n"
          "                       [--bos] [--count] [--json]\n"
          "\n"
          "Encode the bytes of F (standard input when no file is given) and print the\n"
          "token ids separated by single spaces, followed by a newline.\n"
          "\n"
          "Options:\n"
          "  --tokenizer PATH  a directory with encoder.json+vocab.bpe or\n"
          "                    vocab.json+merges.txt, a tokenizer.json, a .tiktoken file,\n"
          "                    a GGUF file or a llama2.c tokenizer.bin\n"
          "  --model M         use the tokenizer stored in the model file M\n"
          "  --pattern P       split scheme for .tiktoken files: gpt2, cl100k or o200k\n"
          "                    (default: inferred from the vocabulary size)\n"
          "  --file F          read the text from F instead of standard input\n"
          "  --special         parse special-token text such as <|endoftext|> as special\n"
          "                    tokens (default: plain text)\n"
          "  --bos             prepend the BOS token\n"
          "  --count           print only the number of tokens\n"
          "  --json            print {\"n_tokens\": N, \"ids\": [...]}\n"
          "  -h, --help        show this help\n",
          f);
}

int cli_tok_pattern(const char *s, int32_t *out) {
    if (strcmp(s, "gpt2") == 0 || strcmp(s, "r50k") == 0 || strcmp(s, "r50k_base") == 0)
        *out = LLM_TOK_PATTERN_GPT2;
    else if (strcmp(s, "cl100k") == 0 || strcmp(s, "cl100k_base") == 0)
        *out = LLM_TOK_PATTERN_CL100K;
    else if (strcmp(s, "o200k") == 0 || strcmp(s, "o200k_base") == 0)
        *out = LLM_TOK_PATTERN_O200K;
    else
        return -1;
    return 0;
}

int cli_read_all(const char *path, char **data, size_t *len) {
    FILE *f = path ? fopen(path, "rb") : stdin;
    size_t cap = 1 << 16, n = 0;
    char *buf;
    if (!f)
        return cli_error("cannot open '%s'", path);
    buf = malloc(cap);
    for (;;) {
        size_t got;
        if (!buf) {
            if (path)
                fclose(f);
            return cli_error("out of memory reading '%s'", path ? path : "stdin");
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap)
            break;
        {
            char *nb = realloc(buf, cap * 2);
            if (!nb)
                free(buf);
            buf = nb;
            cap *= 2;
        }
    }
    if (ferror(f)) {
        free(buf);
        if (path)
            fclose(f);
        return cli_error("read error on '%s'", path ? path : "stdin");
    }
    if (path)
        fclose(f);
    *data = buf;
    *len = n;
    return CLI_OK;
}

int cli_tok_open(const char *tpath, const char *mpath, const llm_tokenizer_opts *o,
                 llm_tokenizer **tok, llm_model **model, const llm_tokenizer **use) {
    int st;
    *tok = NULL;
    *model = NULL;
    *use = NULL;
    if (tpath) {
        st = llm_tokenizer_load(tok, tpath, o);
        if (st)
            return cli_status_error(st, NULL, "cannot load tokenizer '%s'", tpath);
        *use = *tok;
        return CLI_OK;
    }
    st = llm_model_load(model, mpath, NULL);
    if (st)
        return cli_status_error(st, NULL, "cannot load model '%s'", mpath);
    *use = llm_model_tokenizer(*model);
    if (!*use) {
        llm_model_free(*model);
        *model = NULL;
        return cli_error("model '%s' has no tokenizer", mpath);
    }
    return CLI_OK;
}

int cmd_tokenize(int argc, char **argv) {
    const char *tpath = NULL, *mpath = NULL, *file = NULL;
    int json = 0, count = 0, i, st;
    uint32_t flags = 0;
    llm_tokenizer_opts o;
    llm_tokenizer *tok = NULL;
    llm_model *model = NULL;
    const llm_tokenizer *use;
    char *text = NULL;
    size_t len = 0, n = 0, k;
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
                return cli_usage_error("tokenize", "tokenize: unknown pattern '%s' (gpt2, "
                                       "cl100k or o200k)", argv[i]);
        } else if (strcmp(a, "--special") == 0) {
            flags |= LLM_TOK_PARSE_SPECIAL;
        } else if (strcmp(a, "--bos") == 0) {
            flags |= LLM_TOK_ADD_BOS;
        } else if (strcmp(a, "--count") == 0) {
            count = 1;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else {
            return cli_usage_error("tokenize", "tokenize: unexpected argument '%s'", a);
        }
    }
    if (!tpath == !mpath)
        return cli_usage_error("tokenize", "tokenize: give one of --tokenizer PATH or --model M");
    if (cli_tok_open(tpath, mpath, &o, &tok, &model, &use))
        return CLI_FAIL;
    if (cli_read_all(file, &text, &len)) {
        llm_tokenizer_free(tok);
        llm_model_free(model);
        return CLI_FAIL;
    }
    ids = malloc((len + 2) * sizeof *ids);
    if (!ids) {
        free(text);
        llm_tokenizer_free(tok);
        llm_model_free(model);
        return cli_error("out of memory");
    }
    st = llm_tokenizer_encode(ids, len + 2, &n, use, text, len, flags);
    free(text);
    llm_tokenizer_free(tok);
    llm_model_free(model);
    if (st) {
        free(ids);
        return cli_status_error(st, NULL, "cannot encode '%s'", file ? file : "stdin");
    }
    if (count && !json) {
        printf("%zu\n", n);
    } else {
        if (json)
            printf("{\"n_tokens\": %zu%s", n, count ? "}\n" : ", \"ids\": [");
        if (!count) {
            for (k = 0; k < n; k++)
                printf(k ? (json ? ", %ld" : " %ld") : "%ld", (long)ids[k]);
            fputs(json ? "]}\n" : "\n", stdout);
        }
    }
    free(ids);
    if (fflush(stdout) != 0)
        return cli_error("cannot write the output");
    return CLI_OK;
}
