/*
 * tok_spm.c - SentencePiece-style BPE (Llama 1/2, llama2.c tokenizer.bin,
 * formats.md 6.2): loading tokenizer.bin and encoding.
 *
 * Pieces are stored with plain spaces (llama2.c's export replaces U+2581
 * by ' '), byte-fallback pieces "<0xNN>" as the byte they stand for.
 * Files: llama2.c's tokenizer.bin, and SentencePiece's own .model file (a
 * protobuf ModelProto, read here with a small bounds-checked wire-format
 * reader: pieces = 1 {piece = 1, score = 2, type = 3}, trainer_spec = 2
 * {model_type = 3, unk/bos/eos/pad_id = 40..43}, normalizer_spec = 3
 * {name = 1, precompiled_charsmap = 2, add_dummy_prefix = 3,
 * remove_extra_whitespaces = 4, escape_whitespaces = 5}).
 * Encoding follows SentencePiece's bpe_model.cc:
 *   1. the text gets a dummy ' ' in front (add_dummy_prefix);
 *   2. it is cut into UTF-8 characters (an invalid byte is a character of
 *      its own), each the piece of the same text or "no piece";
 *   3. repeatedly the adjacent pair whose concatenation is a piece with
 *      the highest score is merged, the leftmost on ties (the shared merge
 *      loop of tok_bpe.c on a pair map ranked by score, tokenizer.c);
 *   4. a character that is no piece becomes its bytes' <0xNN> pieces
 *      (byte fallback), or <unk> without them.
 * Speed: when no piece has a space after a non-space (true for
 * SentencePiece's default split_by_whitespace), no merge can cross the
 * point before a space that follows a non-space, so the text is merged in
 * such segments instead of as one sequence.
 */
#include <stdio.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

#define SEG_STACK 256

/* Length of the UTF-8 character at p (1 for an invalid byte). */
static size_t char_len(const uint8_t *p, const uint8_t *e) {
    uint8_t c = p[0], lo = 0x80, hi = 0xBF;
    size_t n, i;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else
        return 1;
    if ((size_t)(e - p) < n || p[1] < lo || p[1] > hi)
        return 1;
    for (i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 1;
    return n;
}

typedef struct seg_buf {
    int32_t *ids;
    void *scr;
    size_t cap; /* symbols */
    int heap;
    int32_t s_ids[SEG_STACK];
    uint64_t s_scr[SEG_STACK * 5 / 2]; /* 20 bytes per position, 8-aligned */
} seg_buf;

static int seg_reserve(const llm_tokenizer *t, seg_buf *b, size_t n) {
    int32_t *ni;
    void *ns;
    if (n <= b->cap)
        return LLM_OK;
    ni = llm__mem_alloc(&t->obj.mem, llm__mem_mul(n, sizeof *ni));
    ns = ni ? llm__mem_alloc(&t->obj.mem, llm__bpe_scratch_size(n)) : NULL;
    if (!ns) {
        llm__mem_free(&t->obj.mem, ni, n * sizeof *ni);
        return llm__err(NULL, LLM_ERR_NOMEM, "llm_tokenizer_encode: out of memory");
    }
    if (b->heap) {
        llm__mem_free(&t->obj.mem, b->ids, b->cap * sizeof *b->ids);
        llm__mem_free(&t->obj.mem, b->scr, llm__bpe_scratch_size(b->cap));
    }
    b->ids = ni;
    b->scr = ns;
    b->cap = n;
    b->heap = 1;
    return LLM_OK;
}

/* Merges one segment s[0..n) and emits its ids. */
static int encode_segment(const llm_tokenizer *t, seg_buf *b, const uint8_t *s, size_t n,
                          llm__emit_fn emit, void *ud) {
    size_t i, k = 0, m;
    int st;
    if ((st = seg_reserve(t, b, n)) != LLM_OK)
        return st;
    for (i = 0; i < n;) {
        size_t cl = char_len(s + i, s + n);
        int32_t id = llm__tokenizer_find(t, s + i, cl);
        /* not a piece: remember where the character is, as -(2 + offset) */
        b->ids[k++] = id >= 0 ? id : -(int32_t)(2 + i);
        i += cl;
    }
    m = llm__bpe_merge(t, b->ids, k, b->scr);
    for (i = 0; i < m; i++) {
        int32_t id = b->ids[i];
        if (id >= 0) {
            st = emit(ud, &id, 1);
        } else {
            size_t off = (size_t)(-(id + 2)), cl = char_len(s + off, s + n), j;
            for (j = 0; j < cl && st == LLM_OK; j++) {
                int32_t fb = t->byte_id[s[off + j]];
                if (fb < 0) {
                    if (t->unk < 0)
                        return llm__err(NULL, LLM_ERR_UNSUPPORTED,
                                        "llm_tokenizer_encode: a character has no piece and the "
                                        "vocabulary has neither byte pieces nor <unk>");
                    st = emit(ud, &t->unk, 1);
                    break; /* one <unk> per character */
                }
                st = emit(ud, &fb, 1);
            }
        }
        if (st)
            return st;
    }
    return LLM_OK;
}

int llm__tokspm_encode(const llm_tokenizer *t, const uint8_t *text, size_t len, int at_start,
                       llm__emit_fn emit, void *ud) {
    seg_buf b;
    size_t pos = 0;
    int st = LLM_OK;
    uint8_t first[SEG_STACK + 1], *fb = first;
    if (len == 0)
        return LLM_OK;
    memset(&b, 0, offsetof(seg_buf, s_ids));
    b.ids = b.s_ids;
    b.scr = b.s_scr;
    b.cap = SEG_STACK;
    while (pos < len && st == LLM_OK) {
        size_t end = len;
        if (t->spm_segments) {
            /* the segment ends before a space that follows a non-space */
            for (end = pos + 1; end < len; end++)
                if (text[end] == ' ' && text[end - 1] != ' ')
                    break;
        }
        if (pos == 0 && at_start && t->add_space_prefix) {
            /* the dummy prefix joins the first segment */
            size_t n = end + 1;
            if (n > sizeof first) {
                fb = llm__mem_alloc(&t->obj.mem, n);
                if (!fb) {
                    st = llm__err(NULL, LLM_ERR_NOMEM, "llm_tokenizer_encode: out of memory");
                    break;
                }
            }
            fb[0] = ' ';
            memcpy(fb + 1, text, end);
            st = encode_segment(t, &b, fb, n, emit, ud);
            if (fb != first)
                llm__mem_free(&t->obj.mem, fb, n);
        } else {
            st = encode_segment(t, &b, text + pos, end - pos, emit, ud);
        }
        pos = end;
    }
    if (b.heap) {
        llm__mem_free(&t->obj.mem, b.ids, b.cap * sizeof *b.ids);
        llm__mem_free(&t->obj.mem, b.scr, llm__bpe_scratch_size(b.cap));
    }
    return st;
}

void llm__tokspm_prepare(llm_tokenizer *t) {
    size_t id;
    /* segments are safe unless a piece has a space after a non-space */
    t->spm_segments = 1;
    for (id = 0; id < t->n_vocab && t->spm_segments; id++) {
        const uint8_t *p;
        size_t k;
        if (t->tok_type[id] != LLM__TT_NORMAL && t->tok_type[id] != LLM__TT_USER)
            continue;
        p = t->bytes + t->tok_off[id]; /* holes may have no byte store at all */
        for (k = 1; k < t->tok_len[id]; k++)
            if (p[k] == ' ' && p[k - 1] != ' ')
                t->spm_segments = 0;
    }
}

/* ---- llama2.c tokenizer.bin ---- */

static int hexval(uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Reads a whole file into a block of max(size, 1) bytes from mem. */
static int read_whole(const char *path, const llm__mem *mem, uint8_t **out, long *out_sz) {
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long sz = 0;
    *out = NULL;
    if (!f)
        return llm__err(NULL, LLM_ERR_IO, "%s: cannot open", path);
    if (fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
        !(buf = llm__mem_alloc(mem, (size_t)sz ? (size_t)sz : 1)) ||
        fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
        fclose(f);
        llm__mem_free(mem, buf, (size_t)sz ? (size_t)sz : 1);
        return llm__err(NULL, buf ? LLM_ERR_IO : LLM_ERR_NOMEM, "%s: cannot read the file",
                        path);
    }
    fclose(f);
    *out = buf;
    *out_sz = sz;
    return LLM_OK;
}


int llm__tokspm_load_bin(llm_tokenizer **out, const char *path, const llm_tokenizer_opts *o) {
    llm__mem mem;
    long sz = 0;
    uint8_t *buf = NULL;
    size_t pos, n_tok = 0, id;
    llm_tokenizer *t = NULL;
    int st = LLM_OK, pass;
    if (o->n_special || o->pattern)
        return llm__err(NULL, LLM_ERR_UNSUPPORTED, "%s: opts.pattern and opts.special do not "
                        "apply to SentencePiece tokenizers", path);
    llm__mem_init(&mem, o->alloc, o->alloc_ud);
    if ((st = read_whole(path, &mem, &buf, &sz)) != LLM_OK)
        return st;
    /* pass 0 counts and checks the records, pass 1 stores them */
    for (pass = 0; pass < 2 && st == LLM_OK; pass++) {
        uint32_t maxlen;
        if ((size_t)sz < 4) {
            st = llm__err(NULL, LLM_ERR_BAD_FILE, "%s: too short for a tokenizer.bin header",
                          path);
            break;
        }
        memcpy(&maxlen, buf, 4);
        for (pos = 4, id = 0; pos < (size_t)sz && st == LLM_OK; id++) {
            float score;
            int32_t len;
            const uint8_t *p;
            int type = LLM__TT_NORMAL;
            uint8_t byte;
            if ((size_t)sz - pos < 8) {
                st = llm__err(NULL, LLM_ERR_BAD_FILE, "%s: offset %zu: truncated record of "
                              "token %zu", path, pos, id);
                break;
            }
            memcpy(&score, buf + pos, 4);
            memcpy(&len, buf + pos + 4, 4);
            if (len <= 0 || (uint32_t)len > maxlen || (size_t)len > (size_t)sz - pos - 8) {
                st = llm__err(NULL, LLM_ERR_BAD_FILE, "%s: offset %zu: token %zu has length %ld "
                              "(max_token_length %lu, %zu bytes left)", path, pos + 4, id,
                              (long)len, (unsigned long)maxlen, (size_t)sz - pos - 8);
                break;
            }
            p = buf + pos + 8;
            if (pass == 1) {
                const uint8_t *text = p;
                size_t tl = (size_t)len;
                if (len == 6 && p[0] == '<' && p[1] == '0' && p[2] == 'x' && p[5] == '>' &&
                    hexval(p[3]) >= 0 && hexval(p[4]) >= 0) {
                    byte = (uint8_t)(hexval(p[3]) * 16 + hexval(p[4]));
                    text = &byte;
                    tl = 1;
                    type = LLM__TT_BYTE;
                } else if ((len == 5 && memcmp(p, "<unk>", 5) == 0)) {
                    type = LLM__TT_UNKNOWN;
                    t->unk = (int32_t)id;
                } else if (len == 5 && memcmp(p, "\n<s>\n", 5) == 0) {
                    type = LLM__TT_CONTROL;
                    t->bos = (int32_t)id;
                } else if (len == 6 && memcmp(p, "\n</s>\n", 6) == 0) {
                    type = LLM__TT_CONTROL;
                    t->eos = (int32_t)id;
                }
                t->scores[id] = score;
                st = llm__tokenizer_set(t, (int32_t)id, text, tl, type, path);
            }
            pos += 8 + (size_t)len;
        }
        if (st == LLM_OK && pass == 0 && id == 0)
            st = llm__err(NULL, LLM_ERR_BAD_FILE, "%s: no tokens after the header", path);
        if (st == LLM_OK && pass == 0) {
            n_tok = id;
            llm__limits lim;
            llm__limits_tok(&lim, o);
            st = llm__tokenizer_new(&t, n_tok ? n_tok : 1, o->alloc, o->alloc_ud, path, &lim);
            if (st == LLM_OK) {
                t->kind = LLM__TOK_SPM;
                t->scores = llm__mem_calloc(&t->obj.mem, t->cap_vocab, sizeof *t->scores);
                if (!t->scores)
                    st = llm__err(NULL, LLM_ERR_NOMEM, "%s: out of memory", path);
            }
        }
    }
    llm__mem_free(&mem, buf, (size_t)sz ? (size_t)sz : 1);
    if (st == LLM_OK) {
        t->add_space_prefix = 1;
        t->add_bos = t->bos >= 0;
        st = llm__tokenizer_index(t, path);
    }
    if (st == LLM_OK) {
        llm__tokspm_prepare(t);
        st = llm__tokenizer_finish(t, path);
    }
    if (st) {
        llm__tokenizer_delete(t);
        return st;
    }
    *out = t;
    return LLM_OK;
}

/* ---- SentencePiece .model (protobuf) ---- */

typedef struct pb {
    const uint8_t *p, *end;
} pb;

/* Reads a varint; 0 on success. */
static int pb_varint(pb *r, uint64_t *v) {
    uint64_t x = 0;
    int shift = 0;
    while (r->p < r->end && shift < 64) {
        uint8_t b = *r->p++;
        x |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
        shift += 7;
    }
    return -1;
}

/* Next field: number, wire type, and for wire type 2 the sub-message or
 * bytes in *sub; 32-bit values in *u32, varints in *v. 1 at the end, -1 on
 * malformed input. */
static int pb_next(pb *r, uint32_t *field, uint32_t *wt, pb *sub, uint64_t *v, uint32_t *u32) {
    uint64_t tag, len;
    if (r->p >= r->end)
        return 1;
    if (pb_varint(r, &tag) || (tag >> 3) == 0 || (tag >> 3) > UINT32_MAX)
        return -1;
    *field = (uint32_t)(tag >> 3);
    *wt = (uint32_t)(tag & 7);
    switch (*wt) {
    case 0:
        return pb_varint(r, v) ? -1 : 0;
    case 1:
        if (r->end - r->p < 8)
            return -1;
        r->p += 8;
        return 0;
    case 2:
        if (pb_varint(r, &len) || len > (uint64_t)(r->end - r->p))
            return -1;
        sub->p = r->p;
        sub->end = r->p + len;
        r->p += len;
        return 0;
    case 5:
        if (r->end - r->p < 4)
            return -1;
        memcpy(u32, r->p, 4); /* little-endian on the wire; hosts are too */
        r->p += 4;
        return 0;
    default:
        return -1;
    }
}

typedef struct spm_info {
    size_t n_pieces;
    uint64_t model_type;                  /* 1 unigram (default), 2 BPE */
    int64_t ids[4];                       /* unk, bos, eos, pad */
    int add_dummy_prefix, remove_extra_ws, escape_ws;
    int identity;                         /* no normalisation */
    char norm_name[32];
} spm_info;

static int spm_scan(const uint8_t *buf, size_t n, spm_info *in, const char *path) {
    pb r = {buf, buf + n}, sub;
    uint32_t f, wt, u32;
    uint64_t v;
    int rc;
    memset(in, 0, sizeof *in);
    in->model_type = 1;
    in->ids[0] = 0, in->ids[1] = 1, in->ids[2] = 2, in->ids[3] = -1;
    in->add_dummy_prefix = in->remove_extra_ws = in->escape_ws = 1;
    in->identity = 1;
    while ((rc = pb_next(&r, &f, &wt, &sub, &v, &u32)) == 0) {
        if (f == 1 && wt == 2) {
            in->n_pieces++;
        } else if (f == 2 && wt == 2) {
            pb t = sub, s2;
            while ((rc = pb_next(&t, &f, &wt, &s2, &v, &u32)) == 0)
                if (wt == 0 && f == 3)
                    in->model_type = v;
                else if (wt == 0 && f >= 40 && f <= 43)
                    in->ids[f - 40] = (int64_t)(int32_t)(uint32_t)v;
            if (rc < 0)
                break;
        } else if (f == 3 && wt == 2) {
            pb t = sub, s2;
            while ((rc = pb_next(&t, &f, &wt, &s2, &v, &u32)) == 0) {
                if (f == 1 && wt == 2) {
                    size_t l = (size_t)(s2.end - s2.p);
                    snprintf(in->norm_name, sizeof in->norm_name, "%.*s",
                             (int)(l < 31 ? l : 31), (const char *)s2.p);
                    in->identity = l == 8 && memcmp(s2.p, "identity", 8) == 0;
                } else if (f == 2 && wt == 2 && s2.end > s2.p && !in->norm_name[0]) {
                    in->identity = 0; /* a character map without a name */
                } else if (wt == 0 && f == 3) {
                    in->add_dummy_prefix = v != 0;
                } else if (wt == 0 && f == 4) {
                    in->remove_extra_ws = v != 0;
                } else if (wt == 0 && f == 5) {
                    in->escape_ws = v != 0;
                }
            }
            if (rc < 0)
                break;
        }
    }
    if (rc < 0)
        return llm__err(NULL, LLM_ERR_BAD_FILE, "%s: offset %zu: malformed protobuf",
                        path, (size_t)(r.p - buf));
    return LLM_OK;
}

int llm__tokspm_load_model(llm_tokenizer **out, const char *path, const llm_tokenizer_opts *o) {
    llm__mem mem;
    long sz = 0;
    uint8_t *buf = NULL, *txt = NULL;
    size_t txt_cap = 0, id = 0;
    spm_info in;
    llm_tokenizer *t = NULL;
    pb r, sub;
    uint32_t fno, wt, u32;
    uint64_t v;
    int st, rc;
    if (o->n_special || o->pattern)
        return llm__err(NULL, LLM_ERR_UNSUPPORTED, "%s: opts.pattern and opts.special do not "
                        "apply to SentencePiece tokenizers", path);
    llm__mem_init(&mem, o->alloc, o->alloc_ud);
    if ((st = read_whole(path, &mem, &buf, &sz)) != LLM_OK)
        return st;
    st = spm_scan(buf, (size_t)sz, &in, path);
    if (st == LLM_OK && in.n_pieces == 0)
        st = llm__err(NULL, LLM_ERR_BAD_FILE, "%s: no pieces (not a SentencePiece model?)", path);
    else if (st == LLM_OK && in.model_type != 2)
        st = llm__err(NULL, LLM_ERR_UNSUPPORTED, "%s: SentencePiece model type %llu is not "
                      "supported (only BPE, 2; unigram is 1)", path,
                      (unsigned long long)in.model_type);
    else if (st == LLM_OK && !in.identity)
        st = llm__err(NULL, LLM_ERR_UNSUPPORTED, "%s: normalization \"%s\" is not supported "
                      "(only \"identity\", as Llama uses)", path,
                      in.norm_name[0] ? in.norm_name : "charsmap");
    else if (st == LLM_OK && (in.remove_extra_ws || !in.escape_ws))
        st = llm__err(NULL, LLM_ERR_UNSUPPORTED, "%s: remove_extra_whitespaces=true or "
                      "escape_whitespaces=false is not supported", path);
    if (st == LLM_OK) {
        llm__limits lim;
        llm__limits_tok(&lim, o);
        st = llm__tokenizer_new(&t, in.n_pieces, o->alloc, o->alloc_ud, path, &lim);
    }
    if (st == LLM_OK) {
        t->kind = LLM__TOK_SPM;
        t->scores = llm__mem_calloc(&t->obj.mem, t->cap_vocab, sizeof *t->scores);
        if (!t->scores)
            st = llm__err(NULL, LLM_ERR_NOMEM, "%s: out of memory", path);
    }
    r.p = buf;
    r.end = buf + sz;
    while (st == LLM_OK && (rc = pb_next(&r, &fno, &wt, &sub, &v, &u32)) == 0) {
        pb q = sub, s2;
        const uint8_t *piece = NULL;
        size_t plen = 0, k = 0, j;
        float score = 0;
        int type = LLM__TT_NORMAL;
        uint32_t f2;
        if (fno != 1 || wt != 2)
            continue;
        while ((rc = pb_next(&q, &f2, &wt, &s2, &v, &u32)) == 0) {
            if (f2 == 1 && wt == 2) {
                piece = s2.p;
                plen = (size_t)(s2.end - s2.p);
            } else if (f2 == 2 && wt == 5) {
                memcpy(&score, &u32, 4);
            } else if (f2 == 3 && wt == 0) {
                type = (int)v;
            }
        }
        if (rc < 0 || !piece || plen == 0 || type < LLM__TT_NORMAL || type > LLM__TT_BYTE) {
            st = llm__err(NULL, LLM_ERR_BAD_FILE, "%s: piece %zu is malformed (no text or "
                          "type %d)", path, id, type);
            break;
        }
        if (plen > txt_cap) {
            uint8_t *nt = llm__mem_realloc(&mem, txt, txt_cap, plen);
            if (!nt) {
                st = llm__err(NULL, LLM_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            txt = nt;
            txt_cap = plen;
        }
        if (type == LLM__TT_BYTE) {
            if (plen != 6 || memcmp(piece, "<0x", 3) != 0 || piece[5] != '>' ||
                hexval(piece[3]) < 0 || hexval(piece[4]) < 0) {
                st = llm__err(NULL, LLM_ERR_BAD_FILE, "%s: byte piece %zu is not <0xNN>", path,
                              id);
                break;
            }
            txt[k++] = (uint8_t)(hexval(piece[3]) * 16 + hexval(piece[4]));
        } else if (type == LLM__TT_NORMAL || type == LLM__TT_USER) {
            for (j = 0; j < plen; j++) {
                if (j + 2 < plen && piece[j] == 0xE2 && piece[j + 1] == 0x96 &&
                    piece[j + 2] == 0x81) {
                    txt[k++] = ' ';
                    j += 2;
                } else {
                    txt[k++] = piece[j];
                }
            }
        } else {
            memcpy(txt, piece, plen);
            k = plen;
        }
        t->scores[id] = score;
        st = llm__tokenizer_set(t, (int32_t)id, txt, k, type, path);
        id++;
    }
    llm__mem_free(&mem, txt, txt_cap);
    llm__mem_free(&mem, buf, (size_t)sz ? (size_t)sz : 1);
    if (st == LLM_OK) {
        int32_t *dst[4] = {&t->unk, &t->bos, &t->eos, &t->pad};
        int q;
        for (q = 0; q < 4; q++)
            *dst[q] = in.ids[q] >= 0 && (size_t)in.ids[q] < t->n_vocab ? (int32_t)in.ids[q] : -1;
        t->add_space_prefix = in.add_dummy_prefix;
        t->add_bos = t->bos >= 0; /* Llama's convention (HF LlamaTokenizer) */
        st = llm__tokenizer_index(t, path);
    }
    if (st == LLM_OK) {
        llm__tokspm_prepare(t);
        st = llm__tokenizer_finish(t, path);
    }
    if (st) {
        llm__tokenizer_delete(t);
        return st;
    }
    *out = t;
    return LLM_OK;
}
