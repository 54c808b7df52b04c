/*
 * tok_batch.c - test helper for check_tiktoken.js: loads a tokenizer once
 * and encodes many files, printing one line of ids per file (as `libllm
 * tokenize` would), so the edge-case comparison does not pay a tokenizer
 * load per case. It also checks decode(encode(x)) == x for every file and
 * exits 1 if a round trip fails.
 * With --via-spec the tokenizer is first converted to its GGUF form and
 * rebuilt from it (llm__tok_get_spec / llm__tok_from_spec), so the same
 * comparison checks that a tokenizer survives a model file unchanged.
 * With --via-gguf F it is saved as the GGUF file F (llm_tokenizer_save) and
 * loaded back from it (llm_tokenizer_load).
 * Usage: tok_batch TOKENIZER [--via-spec | --via-gguf F] [--special] FILE...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm.h"
#include "tokenizer/tok_spec.h"

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)n + 1);
        if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        }
        *len = (size_t)n;
    }
    fclose(f);
    return buf;
}

int main(int argc, char **argv) {
    llm_tokenizer *tok = NULL;
    uint32_t flags = 0;
    int i = 2, bad = 0;
    if (argc < 2) {
        fprintf(stderr, "usage: tok_batch TOKENIZER [--via-spec | --via-gguf F] [--special] FILE...\n");
        return 2;
    }
    if (llm_tokenizer_load(&tok, argv[1], NULL) != LLM_OK) {
        fprintf(stderr, "tok_batch: %s\n", llm_last_errmsg());
        return 1;
    }
    if (i < argc && strcmp(argv[i], "--via-spec") == 0) {
        llm__tok_spec spec;
        llm_tokenizer *t2 = NULL;
        if (llm__tok_get_spec(tok, &spec) != LLM_OK ||
            llm__tok_from_spec(&t2, &spec, "spec", NULL, NULL, NULL) != LLM_OK) {
            fprintf(stderr, "tok_batch: via spec: %s\n", llm_last_errmsg());
            return 1;
        }
        llm_tokenizer_free(tok);
        tok = t2;
        i++;
    }
    if (i + 1 < argc && strcmp(argv[i], "--via-gguf") == 0) {
        llm_tokenizer *t2 = NULL;
        if (llm_tokenizer_save(tok, argv[i + 1], LLM_TOK_FORMAT_GGUF) != LLM_OK ||
            llm_tokenizer_load(&t2, argv[i + 1], NULL) != LLM_OK) {
            fprintf(stderr, "tok_batch: via GGUF: %s\n", llm_last_errmsg());
            return 1;
        }
        llm_tokenizer_free(tok);
        tok = t2;
        i += 2;
    }
    if (i < argc && strcmp(argv[i], "--special") == 0) {
        flags = LLM_TOK_PARSE_SPECIAL;
        i++;
    }
    for (; i < argc; i++) {
        size_t len = 0, n = 0, nb = 0, k;
        char *text = slurp(argv[i], &len), *back;
        llm_token *ids;
        if (!text) {
            fprintf(stderr, "tok_batch: cannot read %s\n", argv[i]);
            return 1;
        }
        ids = malloc((len + 2) * sizeof *ids);
        back = malloc(len + 1);
        if (!ids || !back ||
            llm_tokenizer_encode(ids, len + 2, &n, tok, text, len, flags) != LLM_OK ||
            llm_tokenizer_decode(back, len + 1, &nb, tok, ids, n, 0) != LLM_OK) {
            fprintf(stderr, "tok_batch: %s: %s\n", argv[i], llm_last_errmsg());
            return 1;
        }
        if (nb != len || memcmp(back, text, len) != 0) {
            fprintf(stderr, "tok_batch: %s: decode(encode(x)) != x\n", argv[i]);
            bad = 1;
        }
        if (!(flags & LLM_TOK_PARSE_SPECIAL)) {
            llm_tok_stream s;
            size_t got = 0, part;
            char *sb = malloc(len + 8);
            LLM_TOK_STREAM_INIT(&s, 0);
            for (k = 0; sb && k < n; k++) {
                if (llm_tok_stream_decode(sb + got, len + 8 - got, &part, tok, &s, &ids[k], 1)) {
                    fprintf(stderr, "tok_batch: %s: stream: %s\n", argv[i], llm_last_errmsg());
                    return 1;
                }
                got += part;
            }
            if (sb && llm_tok_stream_flush(sb + got, len + 8 - got, &part, &s) == LLM_OK)
                got += part;
            if (!sb || got != len || memcmp(sb, text, len) != 0) {
                fprintf(stderr, "tok_batch: %s: streaming decode != x\n", argv[i]);
                bad = 1;
            }
            free(sb);
        }
        for (k = 0; k < n; k++)
            printf(k ? " %ld" : "%ld", (long)ids[k]);
        putchar('\n');
        free(ids);
        free(back);
        free(text);
    }
    llm_tokenizer_free(tok);
    return bad || fflush(stdout) != 0;
}
