/*
 * bench_tokenizer.c - tokenizer throughput, one thread:
 *   encode: MB/s and tokens/s over a corpus (best of R runs) per vocabulary
 *   train:  seconds to learn an 8k vocabulary from the corpus
 * Prints one machine-readable line per measurement; bench_tokenizer.sh
 * runs it beside the npm tiktoken package (bench_tokenizer.js).
 * Usage: bench_tokenizer CORPUS REPEATS NAME=TOKENIZER_PATH...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "llm.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
    FILE *f;
    char *text;
    long len;
    int reps, a, r;
    if (argc < 4) {
        fprintf(stderr, "usage: bench_tokenizer CORPUS REPEATS NAME=TOKENIZER...\n");
        return 2;
    }
    f = fopen(argv[1], "rb");
    if (!f || fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
        return fprintf(stderr, "cannot read %s\n", argv[1]), 1;
    text = malloc((size_t)len);
    if (!text || fread(text, 1, (size_t)len, f) != (size_t)len)
        return fprintf(stderr, "cannot read %s\n", argv[1]), 1;
    fclose(f);
    reps = atoi(argv[2]);
    for (a = 3; a < argc; a++) {
        char *eq = strchr(argv[a], '=');
        llm_tokenizer *tok = NULL;
        llm_token *ids = malloc(((size_t)len + 1) * sizeof *ids);
        size_t n = 0;
        double t0, best = 1e30, load;
        if (!eq || !ids)
            return 2;
        *eq = '\0';
        t0 = now();
        if (llm_tokenizer_load(&tok, eq + 1, NULL) != LLM_OK)
            return fprintf(stderr, "%s: %s\n", eq + 1, llm_last_errmsg()), 1;
        load = now() - t0;
        for (r = 0; r < reps; r++) {
            t0 = now();
            if (llm_tokenizer_encode(ids, (size_t)len + 1, &n, tok, text, (size_t)len, 0))
                return fprintf(stderr, "encode: %s\n", llm_last_errmsg()), 1;
            t0 = now() - t0;
            if (t0 < best)
                best = t0;
        }
        printf("bench=tokenizer_encode impl=libllm encoding=%s bytes=%ld tokens=%zu "
               "seconds=%.4f mb_s=%.2f tokens_s=%.0f load_s=%.3f\n",
               argv[a], len, n, best, (double)len / best / 1e6, (double)n / best, load);
        fflush(stdout);
        llm_tokenizer_free(tok);
        free(ids);
    }
    {
        llm_tokenizer_train_opts o;
        llm_tokenizer *tok = NULL;
        const char *files[1];
        double t0;
        files[0] = argv[1];
        LLM_TOKENIZER_TRAIN_OPTS_INIT(&o);
        o.vocab_size = 8192;
        t0 = now();
        if (llm_tokenizer_train(&tok, files, 1, &o) != LLM_OK)
            return fprintf(stderr, "train: %s\n", llm_last_errmsg()), 1;
        printf("bench=tokenizer_train impl=libllm vocab_size=%zu bytes=%ld seconds=%.3f\n",
               llm_tokenizer_n_vocab(tok), len, now() - t0);
        llm_tokenizer_free(tok);
    }
    free(text);
    return 0;
}
