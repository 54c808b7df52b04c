/*
 * cmd_tokenizer_train.c - `libllm tokenizer-train`: learn a byte-level BPE
 * vocabulary from text files and save it (HF vocab.json + merges.txt, and
 * optionally tokenizer.gguf).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static void usage(FILE *f) {
    fputs("Usage: libllm tokenizer-train --file F [--file F2 ...] --vocab-size V\n"
          "                              [--pattern gpt2|cl100k|o200k] --out DIR\n"
          "                              [--special TEXT ...] [--min-frequency N]\n"
          "                              [--gguf] [--quiet] [--json]\n"
          "\n"
          "Learn byte-level BPE merges from the text files (plain or .gz) and write\n"
          "DIR/vocab.json, DIR/merges.txt and DIR/tokenizer_config.json, which\n"
          "'libllm tokenize --tokenizer DIR' loads.\n"
          "\n"
          "Options:\n"
          "  --file F           a training text (repeatable)\n"
          "  --vocab-size V     vocabulary size: 256 bytes + merges + special tokens\n"
          "  --pattern P        pre-tokenization: gpt2 (default), cl100k or o200k\n"
          "  --out DIR          output directory (created if missing)\n"
          "  --special TEXT     a special token (repeatable; default <|endoftext|>)\n"
          "  --min-frequency N  never merge pairs seen fewer than N times (default 2)\n"
          "  --gguf             also write DIR/tokenizer.gguf\n"
          "  --quiet            no progress on standard error\n"
          "  --json             print a JSON summary\n"
          "  -h, --help         show this help\n",
          f);
}

static int progress(void *ud, const llm_progress *p) {
    (void)ud;
    fprintf(stderr, "\rmerges: %llu / %llu", (unsigned long long)p->done,
            (unsigned long long)p->total);
    return 0;
}

int cmd_tokenizer_train(int argc, char **argv) {
    const char **files = calloc((size_t)argc, sizeof *files);
    const char **special = calloc((size_t)argc, sizeof *special);
    const char *out = NULL;
    size_t n_files = 0, n_special = 0;
    unsigned long long v = 0, mf = 0;
    int quiet = 0, json = 0, gguf = 0, i, st, rc = CLI_OK;
    llm_tokenizer_train_opts o;
    llm_tokenizer *tok = NULL;
    struct timespec t0, t1;
    double secs;
    if (!files || !special) {
        free(files);
        free((void *)special);
        return cli_error("out of memory");
    }
    LLM_TOKENIZER_TRAIN_OPTS_INIT(&o);
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            usage(stdout);
            goto end;
        } else if (strcmp(a, "--file") == 0 && i + 1 < argc) {
            files[n_files++] = argv[++i];
        } else if (strcmp(a, "--special") == 0 && i + 1 < argc) {
            special[n_special++] = argv[++i];
        } else if (strcmp(a, "--out") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (strcmp(a, "--vocab-size") == 0 && i + 1 < argc) {
            if (cli_parse_u64(argv[++i], &v) || v > 0x7fffffff) {
                rc = cli_usage_error("tokenizer-train", "tokenizer-train: bad --vocab-size '%s'",
                                     argv[i]);
                goto end;
            }
        } else if (strcmp(a, "--min-frequency") == 0 && i + 1 < argc) {
            if (cli_parse_u64(argv[++i], &mf) || mf > 0xffffffffu) {
                rc = cli_usage_error("tokenizer-train", "tokenizer-train: bad --min-frequency "
                                     "'%s'", argv[i]);
                goto end;
            }
        } else if (strcmp(a, "--pattern") == 0 && i + 1 < argc) {
            if (cli_tok_pattern(argv[++i], &o.pattern)) {
                rc = cli_usage_error("tokenizer-train", "tokenizer-train: unknown pattern '%s'",
                                     argv[i]);
                goto end;
            }
        } else if (strcmp(a, "--gguf") == 0) {
            gguf = 1;
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = 1;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else {
            rc = cli_usage_error("tokenizer-train", "tokenizer-train: unexpected argument '%s'",
                                 a);
            goto end;
        }
    }
    if (!n_files || !out || !v) {
        rc = cli_usage_error("tokenizer-train",
                             "tokenizer-train: --file, --vocab-size and --out are required");
        goto end;
    }
    o.vocab_size = (uint32_t)v;
    o.min_frequency = (uint32_t)mf;
    o.n_special = (uint32_t)n_special;
    o.special = n_special ? special : NULL;
    if (!quiet && !json)
        o.progress = progress;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    st = llm_tokenizer_train(&tok, files, n_files, &o);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    if (o.progress)
        fputc('\n', stderr);
    if (st) {
        rc = cli_status_error(st, NULL, "training failed");
        goto end;
    }
    st = llm_tokenizer_save(tok, out, LLM_TOK_FORMAT_HF);
    if (st == LLM_OK && gguf) {
        char *p = malloc(strlen(out) + 32);
        if (!p) {
            rc = cli_error("out of memory");
            goto end;
        }
        sprintf(p, "%s/tokenizer.gguf", out);
        st = llm_tokenizer_save(tok, p, LLM_TOK_FORMAT_GGUF);
        free(p);
    }
    if (st) {
        rc = cli_status_error(st, NULL, "cannot save to '%s'", out);
        goto end;
    }
    if (json) {
        printf("{\"vocab_size\": %zu, \"seconds\": %.3f, \"out\": ", llm_tokenizer_n_vocab(tok),
               secs);
        cli_json_string(stdout, out);
        printf("}\n");
    } else if (!quiet) {
        printf("trained %zu tokens in %.2f s; wrote %s/vocab.json and %s/merges.txt\n",
               llm_tokenizer_n_vocab(tok), secs, out, out);
    }
end:
    llm_tokenizer_free(tok);
    free(files);
    free((void *)special);
    return rc;
}
