/*
 * llm_lua_model.c - the tokenizer, model and context classes of the Lua
 * module `llm`, and the convenience layer (llm.load, m:tokenize,
 * m:detokenize, m:generate, m:evaluate). See llm_lua.c for the handle and
 * callback invariants.
 */
#include <math.h>
#include <string.h>

#include "llm_lua.h"

/* ---- tokenizer ---- */

static int32_t pattern_arg(lua_State *L, int t) {
    int32_t p = 0;
    if (lb_opt_field(L, t, "pattern")) {
        if (lua_type(L, -1) == LUA_TSTRING) {
            const char *s = lua_tostring(L, -1);
            p = strcmp(s, "gpt2") == 0     ? LLM_TOK_PATTERN_GPT2
                : strcmp(s, "cl100k") == 0 ? LLM_TOK_PATTERN_CL100K
                : strcmp(s, "o200k") == 0  ? LLM_TOK_PATTERN_O200K
                                           : -1;
            if (p < 0)
                luaL_error(L, "option 'pattern' must be gpt2, cl100k or o200k");
        } else {
            p = lb_to_i32(L, -1, "option 'pattern'");
        }
    }
    lua_pop(L, 1);
    return p;
}

/* llm.tokenizer_load(path [, {pattern=, special={...}}]) */
static int l_tokenizer_load(lua_State *L) {
    lua_settop(L, 2); /* optional args: pushes below must not look like them */
    const char *path = luaL_checkstring(L, 1);
    llm_tokenizer_opts o;
    llm_tokenizer *t = NULL;
    size_t n;
    const char **sp;
    lb_check_opts(L, 2);
    LLM_TOKENIZER_OPTS_INIT(&o);
    o.pattern = pattern_arg(L, 2);
    sp = lb_field_strings(L, 2, "special", &n);
    o.special = sp;
    o.n_special = (uint32_t)n;
    CHECK(L, llm_tokenizer_load(&t, path, &o), NULL);
    lb_new_handle(L, K_TOK, t, 1, NULL, NULL, 0);
    return 1;
}

/* llm.tokenizer_train(files, {vocab_size=, pattern=, min_frequency=, special=, progress=}) */
static int l_tokenizer_train(lua_State *L) {
    lua_settop(L, 2); /* optional args: pushes below must not look like them */
    llm_tokenizer_train_opts o;
    llm_tokenizer *t = NULL;
    const char **files;
    size_t nf = 0, ns = 0, i;
    lcb cb;
    int rc;
    if (lua_type(L, 1) == LUA_TSTRING) {
        files = lua_newuserdata(L, sizeof *files);
        files[0] = lua_tostring(L, 1);
        nf = 1;
    } else {
        luaL_checktype(L, 1, LUA_TTABLE);
        nf = llm_rawlen(L, 1);
        files = lua_newuserdata(L, (nf + 1) * sizeof *files);
        for (i = 0; i < nf; i++) {
            lua_rawgeti(L, 1, (int)i + 1);
            if (lua_type(L, -1) != LUA_TSTRING)
                return luaL_error(L, "bad argument #1: file %d must be a string", (int)i + 1);
            files[i] = lua_tostring(L, -1);
            lua_pop(L, 1);
        }
    }
    luaL_checktype(L, 2, LUA_TTABLE);
    LLM_TOKENIZER_TRAIN_OPTS_INIT(&o);
    o.pattern = pattern_arg(L, 2);
    o.vocab_size = (uint32_t)lb_field_int(L, 2, "vocab_size", 0, 0, U32MAX);
    o.min_frequency = (uint32_t)lb_field_int(L, 2, "min_frequency", 0, 0, U32MAX);
    o.special = lb_field_strings(L, 2, "special", &ns);
    o.n_special = (uint32_t)ns;
    lb_opt_field(L, 2, "progress");
    lb_cb_set(L, &cb, -1);
    if (cb.fn != LUA_NOREF) {
        o.progress = lb_progress_tramp;
        o.progress_ud = &cb;
    }
    rc = llm_tokenizer_train(&t, files, nf, &o);
    if (cb.err != LUA_NOREF) {
        llm_tokenizer_free(t);
        luaL_unref(L, LUA_REGISTRYINDEX, cb.fn);
        cb.fn = LUA_NOREF;
        lb_cb_rethrow(L, &cb);
    }
    lb_cb_free(L, &cb);
    CHECK(L, rc, NULL);
    lb_new_handle(L, K_TOK, t, 1, NULL, NULL, 0);
    return 1;
}

static int t_n_vocab(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)llm_tokenizer_n_vocab(CHECKH(L, 1, K_TOK)));
    return 1;
}

static int32_t special_kind(lua_State *L, int idx) {
    if (lua_type(L, idx) == LUA_TSTRING) {
        const char *s = lua_tostring(L, idx);
        if (!strcmp(s, "bos")) return LLM_TOK_BOS;
        if (!strcmp(s, "eos")) return LLM_TOK_EOS;
        if (!strcmp(s, "unk")) return LLM_TOK_UNK;
        if (!strcmp(s, "pad")) return LLM_TOK_PAD;
        luaL_argerror(L, idx, "expected bos, eos, unk or pad");
    }
    return (int32_t)lb_check_int(L, idx, I32MIN, I32MAX);
}

static int t_special_id(lua_State *L) {
    lua_settop(L, 2); /* optional args: pushes below must not look like them */
    const llm_tokenizer *t = CHECKH(L, 1, K_TOK);
    lua_pushinteger(L, llm_tokenizer_special_id(t, special_kind(L, 2)));
    return 1;
}

static int t_add_bos(lua_State *L) {
    lua_pushboolean(L, llm_tokenizer_add_bos(CHECKH(L, 1, K_TOK)) == 1);
    return 1;
}

static int t_is_special(lua_State *L) {
    lua_settop(L, 2); /* optional args: pushes below must not look like them */
    const llm_tokenizer *t = CHECKH(L, 1, K_TOK);
    lua_pushinteger(L, llm_tokenizer_is_special(t, (llm_token)lb_check_int(L, 2, I32MIN, I32MAX)));
    return 1;
}

static int encode_text(lua_State *L, const llm_tokenizer *t, int sidx, uint32_t flags) {
    size_t len, n = 0;
    const char *s = luaL_checklstring(L, sidx, &len);
    llm_token *ids = lua_newuserdata(L, (len + 1) * sizeof *ids);
    CHECK(L, llm_tokenizer_encode(ids, len + 1, &n, t, s, len, flags), NULL);
    lb_push_tokens(L, ids, n);
    return 1;
}

/* t:encode(text [, {special=bool, bos=bool}]) -> {ids} */
static int t_encode(lua_State *L) {
    lua_settop(L, 3); /* optional args: pushes below must not look like them */
    const llm_tokenizer *t = CHECKH(L, 1, K_TOK);
    uint32_t flags = 0;
    lb_check_opts(L, 3);
    if (lb_field_bool(L, 3, "special"))
        flags |= LLM_TOK_PARSE_SPECIAL;
    if (lb_field_bool(L, 3, "bos"))
        flags |= LLM_TOK_ADD_BOS;
    return encode_text(L, t, 2, flags);
}

static int decode_ids(lua_State *L, const llm_tokenizer *t, int idx, uint32_t flags) {
    size_t n, need = 0, cap;
    llm_token *ids = lb_check_tokens(L, idx, &n);
    char *buf;
    int rc;
    cap = 16 * n + 16;
    buf = lua_newuserdata(L, cap);
    rc = llm_tokenizer_decode(buf, cap, &need, t, ids, n, flags);
    if (rc == LLM_ERR_BUFFER_TOO_SMALL) {
        cap = need;
        buf = lua_newuserdata(L, cap ? cap : 1);
        rc = llm_tokenizer_decode(buf, cap, &need, t, ids, n, flags);
    }
    CHECK(L, rc, NULL);
    lua_pushlstring(L, buf, need);
    return 1;
}

/* t:decode(ids [, {skip_special=bool}]) -> bytes */
static int t_decode(lua_State *L) {
    lua_settop(L, 3); /* optional args: pushes below must not look like them */
    const llm_tokenizer *t = CHECKH(L, 1, K_TOK);
    lb_check_opts(L, 3);
    return decode_ids(L, t, 2, lb_field_bool(L, 3, "skip_special") ? LLM_TOK_SKIP_SPECIAL : 0);
}

static int t_token_to_piece(lua_State *L) {
    lua_settop(L, 2); /* optional args: pushes below must not look like them */
    const llm_tokenizer *t = CHECKH(L, 1, K_TOK);
    llm_token id = (llm_token)lb_check_int(L, 2, I32MIN, I32MAX);
    char small[256];
    size_t need = 0;
    int rc = llm_tokenizer_token_to_piece(small, sizeof small, &need, t, id);
    if (rc == LLM_ERR_BUFFER_TOO_SMALL) {
        char *buf = lua_newuserdata(L, need);
        rc = llm_tokenizer_token_to_piece(buf, need, &need, t, id);
        CHECK(L, rc, NULL);
        lua_pushlstring(L, buf, need);
        return 1;
    }
    CHECK(L, rc, NULL);
    lua_pushlstring(L, small, need);
    return 1;
}

static int t_piece_to_token(lua_State *L) {
    lua_settop(L, 2); /* optional args: pushes below must not look like them */
    const llm_tokenizer *t = CHECKH(L, 1, K_TOK);
    size_t len;
    const char *s = luaL_checklstring(L, 2, &len);
    llm_token id = -1;
    CHECK(L, llm_tokenizer_piece_to_token(&id, t, s, len), NULL);
    lua_pushinteger(L, id);
    return 1;
}

/* t:save(path [, "hf"|"gguf"]) */
static int t_save(lua_State *L) {
    lua_settop(L, 3); /* optional args: pushes below must not look like them */
    const llm_tokenizer *t = CHECKH(L, 1, K_TOK);
    const char *path = luaL_checkstring(L, 2);
    const char *fmt = luaL_optstring(L, 3, "hf");
    int32_t f = strcmp(fmt, "hf") == 0 ? LLM_TOK_FORMAT_HF
                : strcmp(fmt, "gguf") == 0 ? LLM_TOK_FORMAT_GGUF : -1;
    if (f < 0)
        return luaL_argerror(L, 3, "expected \"hf\" or \"gguf\"");
    CHECK(L, llm_tokenizer_save(t, path, f), NULL);
    return 0;
}

/* t:stream([{replace=bool, skip_special=bool}]) -> stream */
static int t_stream(lua_State *L) {
    lua_settop(L, 2); /* optional args: pushes below must not look like them */
    lh *t = lb_check_lh(L, 1, K_TOK), *s;
    int pidx[1] = {1};
    uint32_t flags = 0;
    lb_check_opts(L, 2);
    if (lb_field_bool(L, 2, "replace"))
        flags |= LLM_TOK_STREAM_REPLACE;
    if (lb_field_bool(L, 2, "skip_special"))
        flags |= LLM_TOK_STREAM_SKIP_SPECIAL;
    s = lb_new_handle(L, K_STREAM, t->h, 0, pidx, &t, 1);
    CHECK(L, LLM_TOK_STREAM_INIT(&s->stream, flags), NULL);
    return 1;
}

/* s:decode(ids) -> the text complete so far */
static int s_decode(lua_State *L) {
    lh *s = lb_check_lh(L, 1, K_STREAM);
    size_t n, need = 0, cap;
    llm_token *ids = lb_check_tokens(L, 2, &n);
    char *buf;
    int rc;
    if (!s->parent[0]->h)
        return luaL_error(L, "llm: tokenizer is closed");
    cap = 3 * (16 * n + 4) + 3;
    buf = lua_newuserdata(L, cap);
    rc = llm_tok_stream_decode(buf, cap, &need, s->h, &s->stream, ids, n);
    if (rc == LLM_ERR_BUFFER_TOO_SMALL) {
        buf = lua_newuserdata(L, need);
        rc = llm_tok_stream_decode(buf, need, &need, s->h, &s->stream, ids, n);
    }
    CHECK(L, rc, NULL);
    lua_pushlstring(L, buf, need);
    return 1;
}

static int s_flush(lua_State *L) {
    lh *s = lb_check_lh(L, 1, K_STREAM);
    if (!s->parent[0]->h)
        return luaL_error(L, "llm: tokenizer is closed");
    char buf[16];
    size_t need = 0;
    CHECK(L, llm_tok_stream_flush(buf, sizeof buf, &need, &s->stream), NULL);
    lua_pushlstring(L, buf, need);
    return 1;
}

/* ---- model ---- */

static void model_opts(lua_State *L, int t, llm_model_opts *o, lcb *cb) {
    lb_check_opts(L, t);
    LLM_MODEL_OPTS_INIT(o);
    if (lb_field_bool(L, t, "no_mmap"))
        o->flags |= LLM_MODEL_NO_MMAP;
    lb_opt_field(L, t, "progress");
    lb_cb_set(L, cb, -1);
    lua_pop(L, 1);
    if (cb->fn != LUA_NOREF) {
        o->progress = lb_progress_tramp;
        o->progress_ud = cb;
    }
}

/* Pushes a model handle for m, with the convenience tokenizer: the one at
 * tok_idx (a tokenizer handle) or the model's own. */
static int push_model(lua_State *L, llm_model *m, int tok_idx) {
    int midx;
    lh *u = lb_new_handle(L, K_MODEL, m, 1, NULL, NULL, 0);
    midx = lua_gettop(L);
    if (tok_idx) {
        u->tok = lb_check_lh(L, tok_idx, K_TOK);
        lb_uv_set(L, midx, "tok", tok_idx);
    } else {
        const llm_tokenizer *t = llm_model_tokenizer(m);
        if (t) {
            int pidx[1] = {midx};
            lh *tu = lb_new_handle(L, K_TOK, (void *)t, 0, pidx, &u, 1);
            u->tok = tu;
            lb_uv_set(L, midx, "tok", -1);
            lua_pop(L, 1);
        }
    }
    return 1;
}

typedef int (*model_loader)(llm_model **, const char *, const llm_model_opts *);

static int load_with(lua_State *L, model_loader fn) {
    lua_settop(L, 2); /* optional args: pushes below must not look like them */
    const char *path = luaL_checkstring(L, 1);
    llm_model_opts o;
    lcb cb;
    llm_model *m = NULL;
    int rc;
    model_opts(L, 2, &o, &cb);
    rc = fn(&m, path, &o);
    if (cb.err != LUA_NOREF) {
        llm_model_free(m);
        luaL_unref(L, LUA_REGISTRYINDEX, cb.fn);
        cb.fn = LUA_NOREF;
        lb_cb_rethrow(L, &cb);
    }
    lb_cb_free(L, &cb);
    CHECK(L, rc, NULL);
    return push_model(L, m, 0);
}

/* llm.model_load(path [, {no_mmap=, progress=fn(phase, done, total)}]) */
static int l_model_load(lua_State *L) { return load_with(L, llm_model_load); }
/* llm.model_import(path [, opts]): HF directory, llama2.c checkpoint, GGUF */
static int l_model_import(lua_State *L) { return load_with(L, llm_model_import); }

/* llm.model_load_mem(bytes [, opts]) */
static int l_model_load_mem(lua_State *L) {
    lua_settop(L, 2); /* optional args: pushes below must not look like them */
    size_t len;
    const char *buf = luaL_checklstring(L, 1, &len);
    llm_model_opts o;
    lcb cb;
    llm_model *m = NULL;
    int rc;
    model_opts(L, 2, &o, &cb);
    rc = llm_model_load_mem(&m, buf, len, &o);
    if (cb.err != LUA_NOREF) {
        llm_model_free(m);
        luaL_unref(L, LUA_REGISTRYINDEX, cb.fn);
        cb.fn = LUA_NOREF;
        lb_cb_rethrow(L, &cb);
    }
    lb_cb_free(L, &cb);
    CHECK(L, rc, NULL);
    return push_model(L, m, 0);
}

/* llm.model_create(config_table [, seed]) */
static int l_model_create(lua_State *L) {
    lua_settop(L, 2); /* optional args: pushes below must not look like them */
    llm_model_config c;
    llm_model *m = NULL;
    uint64_t seed;
    luaL_checktype(L, 1, LUA_TTABLE);
    lb_cfg_from_table(L, 1, &c);
    seed = (uint64_t)lb_opt_int(L, 2, 0, 0, SZMAX);
    CHECK(L, llm_model_create(&m, &c, seed, NULL), NULL);
    return push_model(L, m, 0);
}

/* llm.load(path [, {tokenizer=path|tokenizer}]) : the convenience entry */
static int l_load(lua_State *L) {
    lua_settop(L, 2); /* optional args: pushes below must not look like them */
    const char *path = luaL_checkstring(L, 1);
    llm_model *m = NULL;
    int tok_idx = 0;
    lb_check_opts(L, 2);
    if (lb_opt_field(L, 2, "tokenizer")) {
        if (lua_type(L, -1) == LUA_TSTRING) {
            llm_tokenizer *t = NULL;
            CHECK(L, llm_tokenizer_load(&t, lua_tostring(L, -1), NULL), NULL);
            lb_new_handle(L, K_TOK, t, 1, NULL, NULL, 0);
        } else {
            lb_check_lh(L, -1, K_TOK);
            lua_pushvalue(L, -1);
        }
        tok_idx = lua_gettop(L);
    }
    CHECK(L, llm_model_import(&m, path, NULL), NULL);
    return push_model(L, m, tok_idx);
}

static int m_save(lua_State *L) {
    lua_settop(L, 2); /* optional args: pushes below must not look like them */
    llm_model *m = CHECKH(L, 1, K_MODEL);
    CHECK(L, llm_model_save(m, luaL_checkstring(L, 2)), m);
    return 0;
}

static int m_config(lua_State *L) {
    llm_model *m = CHECKH(L, 1, K_MODEL);
    llm_model_config c;
    LLM_MODEL_CONFIG_INIT(&c);
    CHECK(L, llm_model_get_config(&c, m), m);
    lb_push_cfg(L, &c);
    return 1;
}

static int m_n_params(lua_State *L) {
    llm_model *m = CHECKH(L, 1, K_MODEL);
    uint64_t n = 0;
    CHECK(L, llm_model_n_params(&n, m), m);
    lb_push_count(L, (lua_Number)n);
    return 1;
}

static int m_file_type(lua_State *L) {
    llm_model *m = CHECKH(L, 1, K_MODEL);
    uint32_t v = 0;
    CHECK(L, llm_model_file_type(&v, m), m);
    lua_pushinteger(L, v);
    return 1;
}

/* m:tensor_type(name) -> 0 (F32) or 8 (Q8_0) (llm_model_tensor_type) */
static int m_tensor_type(lua_State *L) {
    lua_settop(L, 2); /* optional args: pushes below must not look like them */
    llm_model *m = CHECKH(L, 1, K_MODEL);
    uint32_t t = 0;
    CHECK(L, llm_model_tensor_type(&t, m, luaL_checkstring(L, 2)), m);
    lua_pushinteger(L, t);
    return 1;
}

/* llm.quantize(in_path, out_path [, {type = "q8_0"}]) (llm_model_quantize) */
static int l_quantize(lua_State *L) {
    lua_settop(L, 3); /* optional args: pushes below must not look like them */
    const char *in = luaL_checkstring(L, 1), *out = luaL_checkstring(L, 2);
    llm_quantize_opts o;
    LLM_QUANTIZE_OPTS_INIT(&o);
    lb_check_opts(L, 3);
    if (lb_opt_field(L, 3, "type")) {
        const char *t = luaL_checkstring(L, -1);
        if (strcmp(t, "q8_0") != 0 && strcmp(t, "Q8_0") != 0)
            return luaL_error(L, "quantize: type must be \"q8_0\", not \"%s\"", t);
        o.type = LLM_TYPE_Q8_0;
        lua_pop(L, 1);
    }
    CHECK(L, llm_model_quantize(in, out, &o), NULL);
    return 0;
}

static int m_n_tensors(lua_State *L) {
    llm_model *m = CHECKH(L, 1, K_MODEL);
    size_t n = 0;
    CHECK(L, llm_model_n_tensors(&n, m), m);
    lua_pushinteger(L, (lua_Integer)n);
    return 1;
}

/* m:tensor_name(i): 0-based as in C */
static int m_tensor_name(lua_State *L) {
    lua_settop(L, 2); /* optional args: pushes below must not look like them */
    llm_model *m = CHECKH(L, 1, K_MODEL);
    const char *name = NULL;
    CHECK(L, llm_model_tensor_name(&name, m, (size_t)lb_check_int(L, 2, 0, SZMAX)), m);
    lua_pushstring(L, name);
    return 1;
}

static int m_tensor_names(lua_State *L) {
    llm_model *m = CHECKH(L, 1, K_MODEL);
    size_t n = 0, i;
    CHECK(L, llm_model_n_tensors(&n, m), m);
    lua_createtable(L, (int)n, 0);
    for (i = 0; i < n; i++) {
        const char *name = NULL;
        CHECK(L, llm_model_tensor_name(&name, m, i), m);
        lua_pushstring(L, name);
        lua_rawseti(L, -2, (int)i + 1);
    }
    return 1;
}

static int m_tensor_shape(lua_State *L) {
    lua_settop(L, 2); /* optional args: pushes below must not look like them */
    llm_model *m = CHECKH(L, 1, K_MODEL);
    uint32_t nd = 0, i;
    uint64_t dims[4];
    CHECK(L, llm_model_tensor_shape(&nd, dims, m, luaL_checkstring(L, 2)), m);
    lua_createtable(L, (int)nd, 0);
    for (i = 0; i < nd; i++) {
        lb_push_count(L, (lua_Number)dims[i]);
        lua_rawseti(L, -2, (int)i + 1);
    }
    return 1;
}

/* m:tensor_data(name) -> lightuserdata (const float *), n: zero-copy for
 * LuaJIT FFI (ffi.cast("const float *", p)); valid while m is open. */
static int m_tensor_data(lua_State *L) {
    lua_settop(L, 2); /* optional args: pushes below must not look like them */
    llm_model *m = CHECKH(L, 1, K_MODEL);
    const float *d = NULL;
    size_t n = 0;
    CHECK(L, llm_model_tensor_data(&d, &n, m, luaL_checkstring(L, 2)), m);
    lua_pushlightuserdata(L, (void *)d);
    lua_pushinteger(L, (lua_Integer)n);
    return 2;
}

/* m:tensor(name) -> {floats} (a copy, llm_model_tensor_copy) */
static int m_tensor(lua_State *L) {
    lua_settop(L, 2); /* optional args: pushes below must not look like them */
    llm_model *m = CHECKH(L, 1, K_MODEL);
    const char *name = luaL_checkstring(L, 2);
    size_t need = 0;
    float *buf;
    int rc = llm_model_tensor_copy(NULL, 0, &need, m, name);
    if (rc != LLM_ERR_BUFFER_TOO_SMALL)
        CHECK(L, rc, m);
    buf = lua_newuserdata(L, (need ? need : 1) * sizeof *buf);
    CHECK(L, llm_model_tensor_copy(buf, need, &need, m, name), m);
    lb_push_floats(L, buf, need);
    return 1;
}

/* m:tokenizer() -> the convenience tokenizer (given to llm.load, or the
 * model file's own, borrowed) or nil */
static int m_tokenizer(lua_State *L) {
    lh *u = lb_check_lh(L, 1, K_MODEL);
    if (!u->tok) {
        lua_pushnil(L);
        return 1;
    }
    llm_getuv(L, 1);
    lua_getfield(L, -1, "tok");
    return 1;
}

/* m:set_tokenizer(tok | nil): the model takes ownership of tok
 * (llm_model_set_tokenizer); tok stays usable until the model is closed.
 * The previous embedded tokenizer is closed (an error if objects still use it). */
static int m_set_tokenizer(lua_State *L) {
    lh *m, *t = NULL, *old;
    lua_settop(L, 2);
    m = lb_check_lh(L, 1, K_MODEL);
    if (!lua_isnil(L, 2)) {
        t = lb_check_lh(L, 2, K_TOK);
        if (!t->owned)
            return luaL_argerror(L, 2, "this tokenizer is owned by a model already");
    }
    old = m->tok && !m->tok->owned && m->tok != t ? m->tok : NULL;
    if (old && old->n_children > 0)
        lua_gc(L, LUA_GCCOLLECT, 0);
    if (old && old->n_children > 0)
        return luaL_error(L, "llm: the model's current tokenizer is still used by %d "
                             "object(s); close them first", old->n_children);
    CHECK(L, llm_model_set_tokenizer(m->h, t ? t->h : NULL), m->h);
    if (old)
        lb_do_close(L, old, 1); /* freed by the library: only mark it */
    if (t) {
        t->owned = 0;
        t->parent[0] = m;
        m->n_children++;
        llm_getuv(L, 2);
        lua_pushvalue(L, 1);
        lua_rawseti(L, -2, 1);
        lua_pop(L, 1);
    }
    m->tok = t;
    lb_uv_set(L, 1, "tok", 2);
    return 0;
}

/* ---- context ---- */

static void ctx_opts(lua_State *L, int t, llm_ctx_opts *o) {
    lb_check_opts(L, t);
    LLM_CTX_OPTS_INIT(o);
    o->n_ctx = (uint32_t)lb_field_int(L, t, "n_ctx", 0, 0, U32MAX);
    o->n_batch = (uint32_t)lb_field_int(L, t, "n_batch", 0, 0, U32MAX);
    o->n_threads = (uint32_t)lb_field_int(L, t, "n_threads", 0, 0, U32MAX);
    if (lb_field_bool(L, t, "attention"))
        o->flags |= LLM_CTX_ATTENTION;
}

/* m:ctx_estimate_bytes([opts]) */
static int m_ctx_estimate_bytes(lua_State *L) {
    lua_settop(L, 2); /* optional args: pushes below must not look like them */
    llm_model *m = CHECKH(L, 1, K_MODEL);
    llm_ctx_opts o;
    size_t n = 0;
    ctx_opts(L, 2, &o);
    CHECK(L, llm_ctx_estimate_bytes(&n, m, &o), m);
    lb_push_count(L, (lua_Number)n);
    return 1;
}

lh *lb_make_ctx(lua_State *L, int midx, int oidx) {
    lh *mu = lb_check_lh(L, midx, K_MODEL), *c;
    llm_ctx_opts o;
    llm_ctx *ctx = NULL;
    llm_model_config cfg;
    int pidx[1];
    ctx_opts(L, oidx, &o);
    LLM_MODEL_CONFIG_INIT(&cfg);
    CHECKP(L, llm_model_get_config(&cfg, mu->h), mu->h);
    /* the callback goes into the handle: create it first, then the ctx */
    pidx[0] = midx < 0 ? lua_gettop(L) + midx + 1 : midx;
    c = lb_new_handle(L, K_CTX, NULL, 1, pidx, &mu, 1);
    lb_opt_field(L, oidx, "progress");
    lb_cb_set(L, &c->cb[0], -1);
    lua_pop(L, 1);
    if (c->cb[0].fn != LUA_NOREF) {
        o.progress = lb_progress_tramp;
        o.progress_ud = &c->cb[0];
    }
    {
        int rc = llm_ctx_create(&ctx, mu->h, &o);
        if (rc < 0) {
            lb_do_close(L, c, 1);
            lb_raise_status(L, rc, NULL);
        }
    }
    c->h = ctx;
    c->n_vocab = cfg.n_vocab;
    return c;
}

/* llm.context(model [, {n_ctx=, n_batch=, n_threads=, attention=, progress=}]) */
static int l_ctx_create(lua_State *L) {
    lua_settop(L, 2); /* optional args: pushes below must not look like them */
    lb_make_ctx(L, 1, 2);
    return 1;
}

/* Runs a computing call on a context with its progress callback bound to
 * this lua_State, re-raising a callback error. */
#define CTX_CALL(L, c, expr)                                                                \
    do {                                                                                   \
        int rc_;                                                                           \
        (c)->cb[0].L = (L);                                                                \
        (c)->busy++;                                                                       \
        rc_ = (expr);                                                                      \
        (c)->busy--;                                                                       \
        lb_cb_rethrow((L), &(c)->cb[0]);                                                      \
        if (rc_ < 0)                                                                       \
            return lb_raise_status((L), rc_, (c)->h);                                         \
    } while (0)

static int c_interrupt(lua_State *L) {
    llm_ctx_interrupt(CHECKH(L, 1, K_CTX));
    return 0;
}

/* c:forward(tokens [, n_seq [, last_only]]) -> {floats} flat, row-major
 * (n_seq, n_tokens, n_vocab) or (n_seq, n_vocab) */
static int c_forward(lua_State *L) {
    lua_settop(L, 4); /* optional args: pushes below must not look like them */
    lh *c = lb_check_lh(L, 1, K_CTX);
    size_t n, n_seq = (size_t)lb_opt_int(L, 3, 1, 1, SZMAX), rows, cap;
    llm_token *ids = lb_check_tokens(L, 2, &n);
    int last = lua_toboolean(L, 4);
    float *out;
    if (n % n_seq)
        return luaL_argerror(L, 3, "the token count is not a multiple of n_seq");
    rows = last ? n_seq : n;
    cap = rows * c->n_vocab;
    out = lua_newuserdata(L, (cap ? cap : 1) * sizeof *out);
    CTX_CALL(L, c, llm_ctx_forward(out, cap, NULL, c->h, ids, n_seq, n / n_seq,
                                   last ? LLM_FORWARD_LAST : 0));
    lb_push_floats(L, out, cap);
    return 1;
}

/* c:decode(tokens) -> lightuserdata to the logits (valid until the next
 * computing call; c:logits() copies them into a table) */
static int c_decode(lua_State *L) {
    lh *c = lb_check_lh(L, 1, K_CTX);
    size_t n;
    llm_token *ids = lb_check_tokens(L, 2, &n);
    const float *z = NULL;
    CTX_CALL(L, c, llm_ctx_decode(&z, c->h, ids, n));
    lua_pushlightuserdata(L, (void *)z);
    return 1;
}

/* c:logits() -> {n_vocab floats} of the latest decode */
static int c_logits(lua_State *L) {
    lh *c = lb_check_lh(L, 1, K_CTX);
    const float *z = NULL;
    CHECK(L, llm_ctx_logits(&z, c->h), c->h);
    lb_push_floats(L, z, c->n_vocab);
    return 1;
}

static int c_n_past(lua_State *L) {
    llm_ctx *c = CHECKH(L, 1, K_CTX);
    size_t n = 0;
    CHECK(L, llm_ctx_n_past(&n, c), c);
    lua_pushinteger(L, (lua_Integer)n);
    return 1;
}

static int c_n_ctx(lua_State *L) {
    llm_ctx *c = CHECKH(L, 1, K_CTX);
    size_t n = 0;
    CHECK(L, llm_ctx_n_ctx(&n, c), c);
    lua_pushinteger(L, (lua_Integer)n);
    return 1;
}

static int c_truncate(lua_State *L) {
    lua_settop(L, 2); /* optional args: pushes below must not look like them */
    llm_ctx *c = CHECKH(L, 1, K_CTX);
    CHECK(L, llm_ctx_truncate(c, (size_t)lb_check_int(L, 2, 0, SZMAX)), c);
    return 0;
}

static int c_reset(lua_State *L) {
    llm_ctx *c = CHECKH(L, 1, K_CTX);
    CHECK(L, llm_ctx_reset(c), c);
    return 0;
}

static int c_capture_attention(lua_State *L) {
    lua_settop(L, 3); /* optional args: pushes below must not look like them */
    llm_ctx *c = CHECKH(L, 1, K_CTX);
    int32_t layer = (int32_t)lb_check_int(L, 2, I32MIN, I32MAX);
    int32_t head = (int32_t)lb_opt_int(L, 3, 0, I32MIN, I32MAX);
    CHECK(L, llm_ctx_capture_attention(c, layer, head), c);
    return 0;
}

/* c:attention() -> { {row 1: weights over keys 1..1}, {row 2 ...}, ... } */
static int c_attention(lua_State *L) {
    llm_ctx *c = CHECKH(L, 1, K_CTX);
    const float *p = NULL;
    size_t rows = 0, stride = 0, r;
    CHECK(L, llm_ctx_attention(&p, &rows, &stride, c), c);
    lua_createtable(L, (int)rows, 0);
    for (r = 0; r < rows; r++) {
        lb_push_floats(L, p + r * stride, r + 1);
        lua_rawseti(L, -2, (int)r + 1);
    }
    return 1;
}

/* c:loss(inputs, targets [, n_seq]) -> loss, {logprobs} */
static int c_loss(lua_State *L) {
    lua_settop(L, 4); /* optional args: pushes below must not look like them */
    lh *c = lb_check_lh(L, 1, K_CTX);
    size_t n, nt, n_seq = (size_t)lb_opt_int(L, 4, 1, 1, SZMAX);
    llm_token *in = lb_check_tokens(L, 2, &n), *tg = lb_check_tokens(L, 3, &nt);
    float *lp;
    double loss = 0;
    if (n != nt)
        return luaL_error(L, "llm: inputs (%d) and targets (%d) differ in length", (int)n,
                          (int)nt);
    if (n % n_seq)
        return luaL_argerror(L, 4, "the token count is not a multiple of n_seq");
    lp = lua_newuserdata(L, (n ? n : 1) * sizeof *lp);
    CTX_CALL(L, c, llm_ctx_loss(&loss, lp, c->h, in, tg, n_seq, n / n_seq));
    lua_pushnumber(L, loss);
    lb_push_floats(L, lp, n);
    return 2;
}

/* c:eval(tokens [, window [, stride]]) -> nll_sum, n_predicted */
static int c_eval(lua_State *L) {
    lua_settop(L, 4); /* optional args: pushes below must not look like them */
    lh *c = lb_check_lh(L, 1, K_CTX);
    size_t n;
    llm_token *ids = lb_check_tokens(L, 2, &n);
    size_t window = (size_t)lb_opt_int(L, 3, 0, 0, SZMAX), stride = (size_t)lb_opt_int(L, 4, 0, 0, SZMAX);
    double nll = 0;
    uint64_t np = 0;
    CTX_CALL(L, c, llm_ctx_eval(&nll, &np, c->h, ids, n, window, stride));
    lua_pushnumber(L, nll);
    lb_push_count(L, (lua_Number)np);
    return 2;
}

/* llm.cross_entropy(logits, targets, n_vocab) -> loss, {logprobs} */
static int l_cross_entropy(lua_State *L) {
    lua_settop(L, 3); /* optional args: pushes below must not look like them */
    size_t nz, nt, V = (size_t)lb_check_int(L, 3, 1, SZMAX);
    float *z = lb_check_floats(L, 1, &nz), *lp;
    llm_token *t = lb_check_tokens(L, 2, &nt);
    double loss = 0;
    if (nz != nt * V)
        return luaL_error(L, "llm: %d logits are not %d rows of %d", (int)nz, (int)nt, (int)V);
    lp = lua_newuserdata(L, (nt ? nt : 1) * sizeof *lp);
    CHECK(L, llm_cross_entropy(&loss, lp, z, t, nt, V), NULL);
    lua_pushnumber(L, loss);
    lb_push_floats(L, lp, nt);
    return 2;
}

/* ---- convenience layer on models ---- */

static lh *need_tok(lua_State *L, lh *m) {
    if (!m->tok)
        luaL_error(L, "llm: this model has no tokenizer: llm.load(path, {tokenizer = PATH})");
    if (!m->tok->h)
        luaL_error(L, "llm: tokenizer is closed");
    return m->tok;
}

/* m:tokenize(text [, {special=, bos=}]) -> {ids}; BOS when the tokenizer asks */
static int m_tokenize(lua_State *L) {
    lua_settop(L, 3); /* optional args: pushes below must not look like them */
    lh *m = lb_check_lh(L, 1, K_MODEL), *t = need_tok(L, m);
    uint32_t flags = llm_tokenizer_add_bos(t->h) == 1 ? LLM_TOK_ADD_BOS : 0;
    lb_check_opts(L, 3);
    if (lb_field_bool(L, 3, "special"))
        flags |= LLM_TOK_PARSE_SPECIAL;
    if (lb_opt_field(L, 3, "bos"))
        flags = lua_toboolean(L, -1) ? (flags | LLM_TOK_ADD_BOS) : (flags & ~LLM_TOK_ADD_BOS);
    lua_pop(L, 1);
    return encode_text(L, t->h, 2, flags);
}

static int m_detokenize(lua_State *L) {
    lua_settop(L, 3); /* optional args: pushes below must not look like them */
    lh *m = lb_check_lh(L, 1, K_MODEL), *t = need_tok(L, m);
    lb_check_opts(L, 3);
    return decode_ids(L, t->h, 2, lb_field_bool(L, 3, "skip_special") ? LLM_TOK_SKIP_SPECIAL : 0);
}

/* m:generate(prompt [, {max_tokens=, temperature=, top_k=, top_p=, min_p=,
 * repeat_penalty=, seed=, stop=, ctx=, on_token=}]) -> {tokens, text, reason}.
 * A fresh context and sampler per call; temperature 0 is greedy. */
static int m_generate(lua_State *L) {
    lh *m = lb_check_lh(L, 1, K_MODEL), *t = need_tok(L, m), *c, *s;
    int top, sidx;
    llm_model_config cfg;
    luaL_checkstring(L, 2);
    lb_check_opts(L, 3);
    LLM_MODEL_CONFIG_INIT(&cfg);
    CHECK(L, llm_model_get_config(&cfg, m->h), m->h);
    lua_settop(L, 3);
    /* context options {n_ctx = opts.ctx} */
    lua_newtable(L);
    lua_pushnumber(L, lb_field_int(L, 3, "ctx", 0, 0, U32MAX));
    lua_setfield(L, -2, "n_ctx");
    c = lb_make_ctx(L, 1, 4); /* index 5 */
    /* sampler options */
    lua_newtable(L);
    lua_pushnumber(L, cfg.n_vocab);
    lua_setfield(L, -2, "n_vocab");
    {
        static const char *const keys[] = {"temperature", "top_k", "top_p", "min_p",
                                           "repeat_penalty", "seed", NULL};
        int i;
        for (i = 0; keys[i]; i++) {
            if (!lua_isnil(L, 3)) {
                lua_getfield(L, 3, keys[i]);
                lua_setfield(L, -2, keys[i]);
            }
        }
    }
    lua_pushcfunction(L, lb_l_sampler_create);
    lua_insert(L, -2);
    lua_call(L, 1, 1); /* index 7 */
    sidx = lua_gettop(L);
    s = lb_check_lh(L, sidx, K_SAMPLER);
    top = lua_gettop(L);
    if (!lua_isnil(L, 3)) {
        /* generation options: max_tokens, stop, on_token */
        lua_newtable(L);
        lua_getfield(L, 3, "max_tokens");
        lua_setfield(L, -2, "max_tokens");
        lua_getfield(L, 3, "stop");
        lua_setfield(L, -2, "stop");
        lua_getfield(L, 3, "on_token");
        lua_setfield(L, -2, "on_token");
    } else {
        lua_newtable(L);
    }
    if (!lb_field_int(L, top + 1, "max_tokens", 0, 0, U32MAX)) {
        lua_pushinteger(L, 64);
        lua_setfield(L, top + 1, "max_tokens");
    }
    {
        int n = lb_run_generate(L, c, s, t, 2, top + 1);
        /* free the temporaries now rather than at the next GC */
        lua_pushvalue(L, -1);
        lua_replace(L, 2);
        lb_do_close(L, lua_touserdata(L, sidx), 1);
        lb_do_close(L, c, 1);
        lua_settop(L, 2);
        return n;
    }
}

/* m:evaluate(text [, {ctx=, stride=, threads=}]) -> {loss, ppl, tokens, nll_sum, bpb}
 * as `libllm eval --json` (BOS when the tokenizer asks for it). */
static int m_evaluate(lua_State *L) {
    lua_settop(L, 3); /* optional args: pushes below must not look like them */
    lh *m = lb_check_lh(L, 1, K_MODEL), *t, *c;
    llm_model_config cfg;
    size_t len = 0, n_ids = 0, window, stride, n_batch;
    const char *text = NULL;
    llm_token *ids;
    double nll = 0, loss;
    uint64_t np = 0;
    lb_check_opts(L, 3);
    LLM_MODEL_CONFIG_INIT(&cfg);
    CHECK(L, llm_model_get_config(&cfg, m->h), m->h);
    window = (size_t)lb_field_int(L, 3, "ctx", 0, 0, U32MAX);
    stride = (size_t)lb_field_int(L, 3, "stride", 0, 0, U32MAX);
    if (!window)
        window = cfg.n_ctx;
    if (lua_type(L, 2) == LUA_TSTRING) {
        t = need_tok(L, m);
        text = lua_tolstring(L, 2, &len);
        ids = lua_newuserdata(L, (len + 2) * sizeof *ids);
        CHECK(L, llm_tokenizer_encode(ids, len + 2, &n_ids, t->h, text, len,
                                      llm_tokenizer_add_bos(t->h) == 1 ? LLM_TOK_ADD_BOS : 0),
              NULL);
    } else {
        ids = lb_check_tokens(L, 2, &n_ids);
    }
    n_batch = window >= 2048 ? window : (window * 4 > 2048 ? 2048 / window * window : window * 4);
    lua_newtable(L);
    lua_pushnumber(L, (lua_Number)window);
    lua_setfield(L, -2, "n_ctx");
    lua_pushnumber(L, (lua_Number)n_batch);
    lua_setfield(L, -2, "n_batch");
    lua_pushnumber(L, lb_field_int(L, 3, "threads", 1, 1, 256));
    lua_setfield(L, -2, "n_threads");
    c = lb_make_ctx(L, 1, lua_gettop(L));
    {
        int rc = llm_ctx_eval(&nll, &np, c->h, ids, n_ids, window, stride);
        if (rc < 0) {
            lua_pushfstring(L, "%s: %s", llm_status_str(rc), llm_errmsg(c->h));
            lb_do_close(L, c, 1);
            return lua_error(L);
        }
    }
    lb_do_close(L, c, 1);
    loss = np ? nll / (double)np : NAN;
    lua_newtable(L);
    lb_set_num(L, "loss", loss);
    lb_set_num(L, "ppl", exp(loss));
    lb_set_int(L, "tokens", (lua_Number)np);
    lb_set_num(L, "nll_sum", nll);
    if (len) {
        lb_set_num(L, "bpb", nll / (log(2.0) * (double)len));
    }
    return 1;
}

/* ---- registration tables ---- */

const luaL_Reg lb_model_functions[] = {
    {"load", l_load},
    {"tokenizer_load", l_tokenizer_load},
    {"tokenizer_train", l_tokenizer_train},
    {"model_load", l_model_load},
    {"model_load_mem", l_model_load_mem},
    {"model_import", l_model_import},
    {"model_create", l_model_create},
    {"context", l_ctx_create},
    {"cross_entropy", l_cross_entropy},
    {"quantize", l_quantize},
    {NULL, NULL},
};

const luaL_Reg lb_tok_methods[] = {
    {"n_vocab", t_n_vocab}, {"special_id", t_special_id}, {"add_bos", t_add_bos},
    {"is_special", t_is_special}, {"encode", t_encode}, {"decode", t_decode},
    {"token_to_piece", t_token_to_piece}, {"piece_to_token", t_piece_to_token},
    {"save", t_save}, {"stream", t_stream}, {NULL, NULL},
};
const luaL_Reg lb_stream_methods[] = {
    {"decode", s_decode}, {"flush", s_flush}, {NULL, NULL},
};
const luaL_Reg lb_model_methods[] = {
    {"save", m_save}, {"config", m_config}, {"n_params", m_n_params},
    {"file_type", m_file_type}, {"n_tensors", m_n_tensors}, {"tensor_name", m_tensor_name},
    {"tensor_type", m_tensor_type}, {"tensor_names", m_tensor_names}, {"tensor_shape", m_tensor_shape},
    {"tensor_data", m_tensor_data}, {"tensor", m_tensor}, {"tokenizer", m_tokenizer}, {"set_tokenizer", m_set_tokenizer},
    {"ctx_estimate_bytes", m_ctx_estimate_bytes}, {"context", l_ctx_create},
    {"tokenize", m_tokenize}, {"detokenize", m_detokenize}, {"generate", m_generate},
    {"evaluate", m_evaluate}, {NULL, NULL},
};
const luaL_Reg lb_ctx_methods[] = {
    {"interrupt", c_interrupt}, {"forward", c_forward}, {"decode", c_decode},
    {"logits", c_logits}, {"n_past", c_n_past}, {"n_ctx", c_n_ctx}, {"truncate", c_truncate},
    {"reset", c_reset}, {"capture_attention", c_capture_attention},
    {"attention", c_attention}, {"loss", c_loss}, {"eval", c_eval}, {NULL, NULL},
};
