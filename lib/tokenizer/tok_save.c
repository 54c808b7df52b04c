/*
 * tok_save.c - writing a tokenizer to disk (llm_tokenizer_save):
 *   HF    DIR/vocab.json, DIR/merges.txt, DIR/tokenizer_config.json
 *   GGUF  one file (tok_gguf.c)
 *
 * vocab.json and merges.txt spell every token in GPT-2's byte alphabet,
 * special tokens included (so that a special token with spaces or
 * non-ASCII bytes survives; for the usual <|...|> texts the alphabet form
 * is the text itself). Loading marks tokens no merge produces as special
 * again, and tokenizer_config.json names BOS and EOS by their text.
 *
 * Each file is written atomically: a temporary file in the same
 * directory, fsync, rename over the target. A reader sees the old file or
 * the new one, never a mix; a crash leaves at most a stray temporary.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tokenizer/tok_internal.h"
#include "tokenizer/tok_spec.h"

typedef struct sbuf {
    const llm__mem *m;
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const void *s, size_t n) {
    if (b->oom)
        return;
    if (b->n + n > b->cap) {
        size_t nc = b->cap ? b->cap : 1 << 16;
        char *np;
        while (nc < b->n + n)
            nc *= 2;
        np = llm__mem_realloc(b->m, b->p, b->cap, nc);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

/* A JSON string literal of UTF-8 text s[0..n) (valid UTF-8 expected:
 * alphabet text always is; other bytes are escaped as \u00XX). */
static void sb_json(sbuf *b, const char *s, size_t n) {
    size_t i;
    sb_put(b, "\"", 1);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            sb_put(b, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            sb_put(b, esc, 6);
        } else {
            sb_put(b, &s[i], 1);
        }
    }
    sb_put(b, "\"", 1);
}

/* Alphabet form of raw bytes. */
static void sb_alpha(sbuf *b, const uint8_t *s, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) {
        uint32_t cp = llm__tokload_byte_cp(s[i]);
        char u[2];
        if (cp < 0x80) {
            u[0] = (char)cp;
            sb_put(b, u, 1);
        } else {
            u[0] = (char)(0xC0 | (cp >> 6));
            u[1] = (char)(0x80 | (cp & 0x3F));
            sb_put(b, u, 2);
        }
    }
}

static int write_atomic(const char *path, const void *data, size_t n) {
    size_t plen = strlen(path);
    char tmp[4096];
    int fd, e;
    const char *p = data;
    if (plen + 16 > sizeof tmp)
        return llm__err(NULL, LLM_ERR_INVALID, "%s: path too long", path);
    snprintf(tmp, sizeof tmp, "%s.tmpXXXXXX", path);
    fd = mkstemp(tmp);
    if (fd < 0)
        return llm__err(NULL, LLM_ERR_IO, "%s: cannot create a temporary file: %s", path,
                        strerror(errno));
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            e = errno;
            close(fd);
            unlink(tmp);
            return llm__err(NULL, LLM_ERR_IO, "%s: write failed: %s", tmp, strerror(e));
        }
        p += w;
        n -= (size_t)w;
    }
    /* mkstemp makes 0600 files; vocabulary files are ordinary data */
    if (fchmod(fd, 0644) != 0 || fsync(fd) != 0) {
        e = errno;
        close(fd);
        unlink(tmp);
        return llm__err(NULL, LLM_ERR_IO, "%s: fsync failed: %s", tmp, strerror(e));
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        e = errno;
        unlink(tmp);
        return llm__err(NULL, LLM_ERR_IO, "%s: cannot rename the temporary file into place: "
                        "%s", path, strerror(e));
    }
    return LLM_OK;
}

static int save_hf(const llm_tokenizer *t, const char *dir) {
    llm__tok_spec spec;
    sbuf b;
    char path[4096];
    size_t id, k;
    int st, first = 1;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return llm__err(NULL, LLM_ERR_IO, "%s: cannot create the directory: %s", dir,
                        strerror(errno));
    if (strlen(dir) + 32 > sizeof path)
        return llm__err(NULL, LLM_ERR_INVALID, "%s: path too long", dir);
    if ((st = llm__tok_get_spec(t, &spec)) != LLM_OK)
        return st;
    memset(&b, 0, sizeof b);
    b.m = &t->obj.mem;
    /* vocab.json: one token per line, in id order */
    sb_str(&b, "{");
    for (id = 0; id < t->n_vocab; id++) {
        sbuf one;
        if (t->tok_type[id] == LLM__TT_NONE)
            continue;
        sb_str(&b, first ? "\n  " : ",\n  ");
        first = 0;
        memset(&one, 0, sizeof one);
        one.m = &t->obj.mem;
        sb_alpha(&one, t->bytes + t->tok_off[id], t->tok_len[id]);
        if (one.oom)
            b.oom = 1;
        else
            sb_json(&b, one.p, one.n);
        llm__mem_free(&t->obj.mem, one.p, one.cap);
        {
            char num[32];
            snprintf(num, sizeof num, ": %zu", id);
            sb_str(&b, num);
        }
    }
    sb_str(&b, "\n}\n");
    snprintf(path, sizeof path, "%s/vocab.json", dir);
    st = b.oom ? llm__err(NULL, LLM_ERR_NOMEM, "%s: out of memory", path)
               : write_atomic(path, b.p, b.n);
    /* merges.txt */
    b.n = 0;
    sb_str(&b, "#version: 0.2\n");
    for (k = 0; k < spec.n_merges; k++) {
        sb_put(&b, spec.merges[k], spec.merge_lens[k]);
        sb_put(&b, "\n", 1);
    }
    snprintf(path, sizeof path, "%s/merges.txt", dir);
    if (st == LLM_OK)
        st = b.oom ? llm__err(NULL, LLM_ERR_NOMEM, "%s: out of memory", path)
                   : write_atomic(path, b.p, b.n);
    /* tokenizer_config.json */
    b.n = 0;
    sb_str(&b, t->add_bos ? "{\n  \"add_bos_token\": true" : "{\n  \"add_bos_token\": false");
    if (t->bos >= 0) {
        sb_str(&b, ",\n  \"bos_token\": ");
        sb_json(&b, (const char *)t->bytes + t->tok_off[t->bos], t->tok_len[t->bos]);
    }
    if (t->eos >= 0) {
        sb_str(&b, ",\n  \"eos_token\": ");
        sb_json(&b, (const char *)t->bytes + t->tok_off[t->eos], t->tok_len[t->eos]);
    }
    sb_str(&b, "\n}\n");
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    if (st == LLM_OK)
        st = b.oom ? llm__err(NULL, LLM_ERR_NOMEM, "%s: out of memory", path)
                   : write_atomic(path, b.p, b.n);
    llm__mem_free(&t->obj.mem, b.p, b.cap);
    return st;
}

int llm_tokenizer_save(const llm_tokenizer *tok, const char *path, int32_t format) {
    static const char fn[] = "llm_tokenizer_save";
    if (!llm__obj_is(tok, LLM__MAGIC_TOKENIZER))
        return llm__err(NULL, LLM_ERR_INVALID, "%s: tok is NULL or not a tokenizer", fn);
    if (!path)
        return llm__err(NULL, LLM_ERR_INVALID, "%s: path is NULL", fn);
    if (format == LLM_TOK_FORMAT_HF)
        return save_hf(tok, path);
    if (format == LLM_TOK_FORMAT_GGUF)
        return llm__tokgguf_save(tok, path);
    return llm__err(NULL, LLM_ERR_INVALID, "%s: format %ld is not an LLM_TOK_FORMAT_* value", fn,
                    (long)format);
}
