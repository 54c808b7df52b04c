/*
 * fuzz_common.h - helpers shared by the fuzz targets whose parsers read
 * files or directories rather than memory: a private scratch directory
 * (one per process, under $TMPDIR or /tmp, removed at exit), writing the
 * input to a file in it, and splitting one input into several files at a
 * separator line, so libFuzzer can mutate multi-file formats (a vocab plus
 * its merges, a config.json plus its safetensors) as one byte string.
 *
 * Header-only (static functions) so each target stays one translation
 * unit for both replay.c and libFuzzer.
 */
#ifndef LLM_FUZZ_COMMON_H
#define LLM_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Separator between the files of a multi-file input. */
#define FUZZ_SEP "\n--8<--\n"

static char fuzz_dir_[512];

static inline void fuzz_cleanup_(void) {
    char cmd[600];
    if (fuzz_dir_[0]) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_dir_);
        if (system(cmd) != 0) {
            /* nothing more to do: a leftover temp dir is harmless */
        }
    }
}

/* The scratch directory (created on first use); aborts when impossible,
 * since a fuzz run without it would test nothing. */
static inline const char *fuzz_dir(void) {
    if (!fuzz_dir_[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(fuzz_dir_, sizeof fuzz_dir_, "%s/llmfuzz.XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(fuzz_dir_)) {
            perror("mkdtemp");
            abort();
        }
        atexit(fuzz_cleanup_);
    }
    return fuzz_dir_;
}

/* dir/name (name may contain one '/' level created by fuzz_subdir). */
static inline const char *fuzz_path(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/%s", fuzz_dir(), name);
    return buf;
}

/* Writes data[0..n) to dir/name and returns the full path in buf. */
static inline const char *fuzz_write(char *buf, size_t cap, const char *name, const void *data,
                              size_t n) {
    FILE *f;
    fuzz_path(buf, cap, name);
    f = fopen(buf, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) {
        perror(buf);
        abort();
    }
    return buf;
}

/* Removes dir/name (file) if it exists. */
static inline void fuzz_unlink(const char *name) {
    char p[600];
    unlink(fuzz_path(p, sizeof p, name));
}

/* Splits data[0..n) at FUZZ_SEP into at most max parts; returns the count
 * (parts after the last separator are all in the final part). */
static inline size_t fuzz_split(const uint8_t *data, size_t n, const uint8_t **part, size_t *len,
                         size_t max) {
    size_t k = 0, sl = strlen(FUZZ_SEP);
    const uint8_t *p = data, *end = data + n;
    while (k + 1 < max) {
        const uint8_t *q = NULL, *s;
        for (s = p; s + sl <= end; s++)
            if (*s == FUZZ_SEP[0] && memcmp(s, FUZZ_SEP, sl) == 0) {
                q = s;
                break;
            }
        if (!q)
            break;
        part[k] = p;
        len[k] = (size_t)(q - p);
        k++;
        p = q + sl;
    }
    part[k] = p;
    len[k] = (size_t)(end - p);
    return k + 1;
}

/* A failed invariant: report it and crash, so both libFuzzer and replay
 * record the input. */
#define FUZZ_CHECK(cond)                                                           \
    do {                                                                           \
        if (!(cond)) {                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                               \
        }                                                                          \
    } while (0)

#endif
