/*
 * data.c - token files for training: raw little-endian uint16 (.bin, the
 * format nanoGPT and llm.c write), uint32 (.u32), int32 (.i32), or bytes
 * as tokens, each possibly gzip-compressed.
 *
 * Invariants: the whole file is read through zlib's gzread (which passes
 * uncompressed files through unchanged), then converted; a size that is
 * not a whole number of tokens is an error, never silently truncated.
 * The result is owned by the caller (llm_free).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "llm_core.h"

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int32_t format_of(const char *path) {
    char base[4096];
    size_t n = strlen(path);
    if (n >= sizeof base)
        return -1;
    memcpy(base, path, n + 1);
    if (ends_with(base, ".gz"))
        base[n - 3] = 0;
    if (ends_with(base, ".bin"))
        return LLM_TOKENS_U16;
    if (ends_with(base, ".u32"))
        return LLM_TOKENS_U32;
    if (ends_with(base, ".i32"))
        return LLM_TOKENS_I32;
    return -1;
}

int llm_tokens_load(llm_token **out, size_t *n_out, const char *path, int32_t format) {
    llm__mem mem;
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0, width, n, i;
    llm_token *tok;
    gzFile f;
    FILE *probe;
    if (!out || !n_out || !path)
        return llm__err(NULL, LLM_ERR_INVALID, "llm_tokens_load: out, n_out or path is NULL");
    *out = NULL;
    *n_out = 0;
    if (format == LLM_TOKENS_AUTO) {
        format = format_of(path);
        if (format < 0)
            return llm__err(NULL, LLM_ERR_INVALID,
                            "llm_tokens_load: %s: unknown extension (expected .bin, .u32 or "
                            ".i32, optionally .gz); pass a format",
                            path);
    }
    if (format < LLM_TOKENS_U16 || format > LLM_TOKENS_BYTES)
        return llm__err(NULL, LLM_ERR_INVALID, "llm_tokens_load: unknown format %d", (int)format);
    width = format == LLM_TOKENS_U16 ? 2 : format == LLM_TOKENS_BYTES ? 1 : 4;
    probe = fopen(path, "rb");
    if (!probe)
        return llm__err(NULL, errno == ENOENT ? LLM_ERR_NOT_FOUND : LLM_ERR_IO,
                        "llm_tokens_load: %s: %s", path, strerror(errno));
    fclose(probe);
    f = gzopen(path, "rb");
    if (!f)
        return llm__err(NULL, LLM_ERR_IO, "llm_tokens_load: %s: cannot open", path);
    llm__mem_init(&mem, NULL, NULL);
    for (;;) {
        int got;
        if (cap - len < 65536) {
            size_t ncap = cap ? cap * 2 : 1 << 20;
            unsigned char *nb = llm__mem_realloc(&mem, buf, cap, ncap);
            if (!nb) {
                llm__mem_free(&mem, buf, cap);
                gzclose(f);
                return llm__err(NULL, LLM_ERR_NOMEM, "llm_tokens_load: %s: out of memory", path);
            }
            buf = nb;
            cap = ncap;
        }
        got = gzread(f, buf + len, (unsigned)(cap - len < (1u << 30) ? cap - len : (1u << 30)));
        if (got < 0) {
            int zerr;
            const char *msg = gzerror(f, &zerr);
            int rc = llm__err(NULL, zerr == Z_ERRNO ? LLM_ERR_IO : LLM_ERR_BAD_FILE,
                              "llm_tokens_load: %s: read failed after %zu bytes: %s", path, len,
                              msg ? msg : "?");
            llm__mem_free(&mem, buf, cap);
            gzclose(f);
            return rc;
        }
        if (got == 0)
            break;
        len += (size_t)got;
    }
    gzclose(f);
    if (len % width != 0) {
        llm__mem_free(&mem, buf, cap);
        return llm__err(NULL, LLM_ERR_BAD_FILE,
                        "llm_tokens_load: %s: %zu bytes is not a whole number of %zu-byte tokens",
                        path, len, width);
    }
    n = len / width;
    tok = llm__mem_alloc_owned(&mem, llm__mem_mul(n ? n : 1, sizeof *tok));
    if (!tok) {
        llm__mem_free(&mem, buf, cap);
        return llm__err(NULL, LLM_ERR_NOMEM, "llm_tokens_load: %s: out of memory for %zu tokens",
                        path, n);
    }
    for (i = 0; i < n; i++) {
        const unsigned char *p = buf + i * width;
        uint32_t v = width == 1 ? p[0]
                   : width == 2 ? (uint32_t)p[0] | (uint32_t)p[1] << 8
                                : (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                                      (uint32_t)p[3] << 24;
        if (v > (uint32_t)INT32_MAX) {
            llm_free(tok);
            llm__mem_free(&mem, buf, cap);
            return llm__err(NULL, LLM_ERR_BAD_FILE,
                            "llm_tokens_load: %s: offset %zu: token %lu does not fit an int32 id",
                            path, i * width, (unsigned long)v);
        }
        tok[i] = (llm_token)v;
    }
    llm__mem_free(&mem, buf, cap);
    *out = tok;
    *n_out = n;
    return LLM_OK;
}
