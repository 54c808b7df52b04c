/*
 * llm_lua.c - the Lua module `llm`: require "llm" loads llm.so. This file:
 * handles and their lifetime, argument helpers, core functions and
 * registration; llm_lua_model.c and llm_lua_run.c hold the classes.
 *
 * A thin layer over the C ABI, written against the Lua 5.4 API with the
 * few shims the Lua 5.1 API (LuaJIT) needs. Failed calls raise Lua errors
 * whose message is libllm's status name plus its detail message.
 *
 * Invariants:
 * - Every libllm handle lives in a full userdata `lh` with its own
 *   metatable (luaL_checkudata gives type safety). lh.h is NULL after
 *   close; every method checks it first and raises "llm: <kind> is
 *   closed", so a closed handle can never reach C.
 * - A child (context, trainer, generator, borrowed tokenizer, token
 *   stream) holds its parents in its uservalue table, so the garbage
 *   collector never frees a parent first (Lua finalizes objects in the
 *   reverse order of their creation within a cycle, and a parent is
 *   reachable from each live child). lh.n_children counts the open
 *   children (token streams excepted: they check their tokenizer on each
 *   call); closing a parent explicitly while children are open is an
 *   error instead of a dangling pointer in C (unreachable children are
 *   collected first). lh.busy marks a handle inside a C call that may run
 *   callbacks; closing it from such a callback is an error too.
 * - Lua callbacks (progress, on_token) are kept in the registry (refs in
 *   lh.cb) and called with lua_pcall; an error in one is stored, the C
 *   side is told to stop, and the error is re-raised after the C call
 *   returned, so no longjmp ever crosses libllm's frames.
 * - Temporary arrays are Lua userdata (collected even when an argument
 *   error unwinds the stack), never malloc.
 * - llm_set_allocator is not bound (see bindings/not-bound.txt): its hook
 *   may run on libllm's worker threads, where calling into a lua_State is
 *   not allowed; llm_set_log is bound through a buffer (see "logging").
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "llm_lua.h"

/* ---- Lua 5.1 / LuaJIT shims ---- */
#if LUA_VERSION_NUM < 502
void lb_setfuncs(lua_State *L, const luaL_Reg *l) {
    for (; l->name; l++) {
        lua_pushcfunction(L, l->func);
        lua_setfield(L, -2, l->name);
    }
}
void *lb_testudata(lua_State *L, int i, const char *tname) {
    void *p = lua_touserdata(L, i);
    if (p && lua_getmetatable(L, i)) {
        luaL_getmetatable(L, tname);
        if (!lua_rawequal(L, -1, -2))
            p = NULL;
        lua_pop(L, 2);
        return p;
    }
    return NULL;
}
#endif

/* ---- handles ---- */

const char *const lb_mt_names[K_COUNT] = {"llm.tokenizer", "llm.model", "llm.context",
                                             "llm.sampler", "llm.trainer", "llm.generator",
                                             "llm.tok_stream"};
const char *const lb_kind_names[K_COUNT] = {"tokenizer", "model", "context", "sampler",
                                               "trainer", "generator", "token stream"};


static void cb_init(lcb *c) {
    c->L = NULL;
    c->fn = LUA_NOREF;
    c->err = LUA_NOREF;
}

/* Raises a Lua error for a failed libllm status. */
int lb_raise_status(lua_State *L, int status, const void *handle) {
    const char *detail = handle ? llm_errmsg(handle) : NULL;
    if (!detail || !*detail)
        detail = llm_last_errmsg();
    if (detail && *detail)
        return luaL_error(L, "%s: %s", llm_status_str(status), detail);
    return luaL_error(L, "%s", llm_status_str(status));
}


/* Re-raises the error a callback stored, if any. */
void lb_cb_rethrow(lua_State *L, lcb *c) {
    if (c && c->err != LUA_NOREF) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, c->err);
        luaL_unref(L, LUA_REGISTRYINDEX, c->err);
        c->err = LUA_NOREF;
        lua_error(L);
    }
}

void lb_cb_set(lua_State *L, lcb *c, int idx) {
    cb_init(c);
    if (!lua_isnoneornil(L, idx)) {
        luaL_checktype(L, idx, LUA_TFUNCTION);
        lua_pushvalue(L, idx);
        c->fn = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    c->L = L;
}

void lb_cb_free(lua_State *L, lcb *c) {
    if (c->fn != LUA_NOREF)
        luaL_unref(L, LUA_REGISTRYINDEX, c->fn);
    if (c->err != LUA_NOREF)
        luaL_unref(L, LUA_REGISTRYINDEX, c->err);
    cb_init(c);
}

/* Calls the callback with the nargs values on top of c->L's stack;
 * returns 1 (stop) when it raised an error or returned a true value. */
static int cb_call(lcb *c, int nargs) {
    lua_State *L = c->L;
    int stop;
    if (c->err != LUA_NOREF) {
        lua_pop(L, nargs);
        return 1;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->fn);
    lua_insert(L, -(nargs + 1));
    if (lua_pcall(L, nargs, 1, 0) != 0) {
        c->err = luaL_ref(L, LUA_REGISTRYINDEX);
        return 1;
    }
    stop = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return stop;
}

int lb_progress_tramp(void *ud, const llm_progress *p) {
    lcb *c = ud;
    lua_State *L = c->L;
    if (!lua_checkstack(L, 8))
        return 1;
    lua_pushinteger(L, p->phase);
    lua_pushnumber(L, (lua_Number)p->done);
    lua_pushnumber(L, (lua_Number)p->total);
    return cb_call(c, 3);
}

int lb_token_tramp(void *ud, llm_token token, const char *text, size_t n_text) {
    lcb *c = ud;
    lua_State *L = c->L;
    if (!lua_checkstack(L, 8))
        return 1;
    lua_pushinteger(L, token);
    lua_pushlstring(L, text, n_text);
    return cb_call(c, 2);
}

/* Creates a handle userdata of `kind` with parents p0..p2 (may be NULL),
 * whose stack indices are given so that they are stored in the uservalue. */
lh *lb_new_handle(lua_State *L, int kind, void *h, int owned, const int *pidx, lh **parents,
                      int n_parents) {
    int i;
    lh *u = llm_newudata(L, sizeof *u);
    memset(u, 0, sizeof *u);
    u->kind = kind;
    u->owned = owned;
    u->open = 1;
    cb_init(&u->cb[0]);
    cb_init(&u->cb[1]);
    lua_newtable(L);
    for (i = 0; i < n_parents; i++) {
        if (parents[i]) {
            lua_pushvalue(L, pidx[i]);
            lua_rawseti(L, -2, i + 1);
            u->parent[i] = parents[i];
            if (kind != K_STREAM) /* a stream only checks its tokenizer per call */
                parents[i]->n_children++;
        }
    }
    llm_setuv(L, -2);
    luaL_getmetatable(L, lb_mt_names[kind]);
    lua_setmetatable(L, -2);
    u->h = h; /* only now: __gc frees it from here on */
    return u;
}

/* Stores the value at idx under `key` in the uservalue of the udata at ud. */
void lb_uv_set(lua_State *L, int ud, const char *key, int idx) {
    ud = ud < 0 ? lua_gettop(L) + ud + 1 : ud;
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    llm_getuv(L, ud);
    lua_pushvalue(L, idx);
    lua_setfield(L, -2, key);
    lua_pop(L, 1);
}

lh *lb_check_lh(lua_State *L, int idx, int kind) {
    lh *u = luaL_checkudata(L, idx, lb_mt_names[kind]);
    if (!u->h)
        luaL_error(L, "llm: %s is closed", lb_kind_names[kind]);
    return u;
}

/* Frees the C handle (idempotent). Errors when open children remain,
 * unless `force` (the finalizer: children are gone by then). */
int lb_do_close(lua_State *L, lh *u, int force) {
    int i;
    if (!u->open)
        return 0;
    if (u->busy)
        return luaL_error(L, "llm: cannot close this %s from inside one of its own calls "
                             "(a callback)", lb_kind_names[u->kind]);
    if (u->n_children > 0 && !force) {
        /* children that are unreachable but not yet collected do not count */
        lua_gc(L, LUA_GCCOLLECT, 0);
    }
    if (u->n_children > 0 && !force)
        return luaL_error(L, "llm: cannot close this %s: %d object(s) created from it are "
                             "still open; close them first",
                          lb_kind_names[u->kind], u->n_children);
    u->open = 0;
    if (u->owned && u->h) {
        switch (u->kind) {
        case K_TOK: llm_tokenizer_free(u->h); break;
        case K_MODEL: llm_model_free(u->h); break;
        case K_CTX: llm_ctx_free(u->h); break;
        case K_SAMPLER: llm_sampler_free(u->h); break;
        case K_TRAINER: llm_trainer_free(u->h); break;
        case K_GEN: llm_gen_free(u->h); break;
        default: break;
        }
    }
    u->h = NULL;
    for (i = 0; i < 3; i++) {
        if (u->parent[i]) {
            if (u->kind != K_STREAM)
                u->parent[i]->n_children--;
            u->parent[i] = NULL;
        }
    }
    lb_cb_free(L, &u->cb[0]);
    lb_cb_free(L, &u->cb[1]);
    return 0;
}

static int m_close(lua_State *L) {
    lh *u = lua_touserdata(L, 1);
    int k;
    for (k = 0; k < K_COUNT; k++)
        if (llm_testudata(L, 1, lb_mt_names[k]))
            break;
    if (k == K_COUNT)
        return luaL_argerror(L, 1, "expected an llm handle");
    if (u->kind == K_MODEL && u->tok && u->tok->h && !u->tok->owned)
        lb_do_close(L, u->tok, 0); /* the borrowed tokenizer goes with its model */
    return lb_do_close(L, u, 0);
}

static int m_gc(lua_State *L) {
    lh *u = lua_touserdata(L, 1);
    if (u)
        lb_do_close(L, u, 1);
    return 0;
}

static int m_tostring(lua_State *L) {
    lh *u = lua_touserdata(L, 1);
    if (u->h)
        lua_pushfstring(L, "llm.%s (%p)", lb_kind_names[u->kind], u->h);
    else
        lua_pushfstring(L, "llm.%s (closed)", lb_kind_names[u->kind]);
    return 1;
}

static int m_is_closed(lua_State *L) {
    lh *u = lua_touserdata(L, 1);
    luaL_argcheck(L, u != NULL, 1, "expected an llm handle");
    lua_pushboolean(L, u->h == NULL);
    return 1;
}

/* ---- argument helpers ---- */

lua_Number lb_check_int(lua_State *L, int idx, lua_Number lo, lua_Number hi) {
    lua_Number n = luaL_checknumber(L, idx);
    if (n != floor(n) || n < lo || n > hi)
        luaL_argerror(L, idx, lua_pushfstring(L, "expected an integer in [%f, %f]",
                                              (double)lo, (double)hi));
    return n;
}

/* The value at idx (a table field, say) as an int32, or a Lua error naming
 * `what`: casting an out-of-range double to an integer would be undefined. */
int32_t lb_to_i32(lua_State *L, int idx, const char *what) {
    lua_Number n;
    if (!lua_isnumber(L, idx))
        return (int32_t)luaL_error(L, "%s must be an integer", what);
    n = lua_tonumber(L, idx);
    if (n != floor(n) || n < I32MIN || n > I32MAX)
        return (int32_t)luaL_error(L, "%s must be a 32-bit integer", what);
    return (int32_t)n;
}

lua_Number lb_opt_int(lua_State *L, int idx, lua_Number def, lua_Number lo, lua_Number hi) {
    return lua_isnoneornil(L, idx) ? def : lb_check_int(L, idx, lo, hi);
}


/* Field of the options table at `t` (or nil when t is absent). */
int lb_opt_field(lua_State *L, int t, const char *k) {
    if (lua_isnoneornil(L, t)) {
        lua_pushnil(L);
        return 0;
    }
    lua_getfield(L, t, k);
    return !lua_isnil(L, -1);
}

lua_Number lb_field_num(lua_State *L, int t, const char *k, lua_Number def) {
    lua_Number v = def;
    if (lb_opt_field(L, t, k)) {
        if (!lua_isnumber(L, -1))
            luaL_error(L, "option '%s' must be a number", k);
        v = lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

lua_Number lb_field_int(lua_State *L, int t, const char *k, lua_Number def, lua_Number lo,
                            lua_Number hi) {
    lua_Number v = lb_field_num(L, t, k, def);
    if (v != floor(v) || v < lo || v > hi)
        luaL_error(L, "option '%s' must be an integer in [%f, %f]", k, (double)lo, (double)hi);
    return v;
}

int lb_field_bool(lua_State *L, int t, const char *k) {
    int v = 0;
    if (lb_opt_field(L, t, k))
        v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

void lb_check_opts(lua_State *L, int t) {
    if (!lua_isnoneornil(L, t))
        luaL_checktype(L, t, LUA_TTABLE);
}

/* Reads a table of token ids at idx into a new userdata array (pushed). */
llm_token *lb_check_tokens(lua_State *L, int idx, size_t *n) {
    size_t i, len;
    llm_token *a;
    luaL_checktype(L, idx, LUA_TTABLE);
    len = llm_rawlen(L, idx);
    a = lua_newuserdata(L, (len ? len : 1) * sizeof *a);
    for (i = 0; i < len; i++) {
        lua_Number v;
        lua_rawgeti(L, idx, (int)i + 1);
        if (!lua_isnumber(L, -1))
            luaL_error(L, "bad argument #%d: token ids must be integers (item %d is a %s)", idx,
                       (int)i + 1, luaL_typename(L, -1));
        v = lua_tonumber(L, -1);
        if (v != floor(v) || v < I32MIN || v > I32MAX)
            luaL_error(L, "bad argument #%d: item %d (%f) is not a 32-bit integer", idx,
                       (int)i + 1, (double)v);
        a[i] = (llm_token)v;
        lua_pop(L, 1);
    }
    *n = len;
    return a;
}

float *lb_check_floats(lua_State *L, int idx, size_t *n) {
    size_t i, len;
    float *a;
    luaL_checktype(L, idx, LUA_TTABLE);
    len = llm_rawlen(L, idx);
    a = lua_newuserdata(L, (len ? len : 1) * sizeof *a);
    for (i = 0; i < len; i++) {
        lua_rawgeti(L, idx, (int)i + 1);
        if (!lua_isnumber(L, -1))
            luaL_error(L, "bad argument #%d: item %d must be a number", idx, (int)i + 1);
        a[i] = (float)lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
    *n = len;
    return a;
}

double *lb_check_doubles(lua_State *L, int idx, size_t *n) {
    size_t i, len;
    double *a;
    luaL_checktype(L, idx, LUA_TTABLE);
    len = llm_rawlen(L, idx);
    a = lua_newuserdata(L, (len ? len : 1) * sizeof *a);
    for (i = 0; i < len; i++) {
        lua_rawgeti(L, idx, (int)i + 1);
        if (!lua_isnumber(L, -1))
            luaL_error(L, "bad argument #%d: item %d must be a number", idx, (int)i + 1);
        a[i] = lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
    *n = len;
    return a;
}

/* Reads an optional array of strings (field k of table t) into a
 * userdata array of pointers (pushed; the strings stay referenced by the
 * options table during the call). */
const char **lb_field_strings(lua_State *L, int t, const char *k, size_t *n) {
    const char **a = NULL;
    size_t i, len;
    *n = 0;
    if (!lb_opt_field(L, t, k)) {
        lua_pop(L, 1);
        lua_pushnil(L);
        return NULL;
    }
    if (lua_type(L, -1) == LUA_TSTRING) { /* a single string */
        a = lua_newuserdata(L, sizeof *a);
        a[0] = lua_tostring(L, -2);
        lua_remove(L, -2);
        *n = 1;
        return a;
    }
    if (!lua_istable(L, -1))
        luaL_error(L, "option '%s' must be a string or a table of strings", k);
    len = llm_rawlen(L, -1);
    a = lua_newuserdata(L, (len + 1) * sizeof *a);
    for (i = 0; i < len; i++) {
        lua_rawgeti(L, -2, (int)i + 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "option '%s': item %d must be a string", k, (int)i + 1);
        a[i] = lua_tostring(L, -1);
        lua_pop(L, 1); /* still referenced by the table */
    }
    a[len] = NULL;
    lua_remove(L, -2);
    *n = len;
    return a;
}

void lb_push_tokens(lua_State *L, const llm_token *t, size_t n) {
    size_t i;
    lua_createtable(L, (int)n, 0);
    for (i = 0; i < n; i++) {
        lua_pushinteger(L, t[i]);
        lua_rawseti(L, -2, (int)i + 1);
    }
}

void lb_push_floats(lua_State *L, const float *f, size_t n) {
    size_t i;
    lua_createtable(L, (int)n, 0);
    for (i = 0; i < n; i++) {
        lua_pushnumber(L, f[i]);
        lua_rawseti(L, -2, (int)i + 1);
    }
}

/* Pushes a count as an integer when it is exactly representable. */
void lb_push_count(lua_State *L, lua_Number v) {
    if (v == floor(v) && fabs(v) < 9.0e15)
        lua_pushinteger(L, (lua_Integer)v);
    else
        lua_pushnumber(L, v);
}

void lb_set_num(lua_State *L, const char *k, lua_Number v) {
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

void lb_set_int(lua_State *L, const char *k, lua_Number v) {
    lb_push_count(L, v);
    lua_setfield(L, -2, k);
}

/* ---- core ---- */

static int l_version(lua_State *L) {
    lua_pushstring(L, llm_version_string());
    return 1;
}

static int l_version_number(lua_State *L) {
    lua_pushnumber(L, (lua_Number)llm_version_number());
    return 1;
}

static int l_status_str(lua_State *L) {
    lua_Number n = luaL_checknumber(L, 1);
    if (n != (lua_Number)(int)n)
        return luaL_argerror(L, 1, "status codes are integers");
    lua_pushstring(L, llm_status_str((int)n));
    return 1;
}

/* llm.abi_check(version, model_opts_size) -> status code (0 = compatible) */
static int l_abi_check(lua_State *L) {
    lua_settop(L, 2); /* optional args: pushes below must not look like them */
    uint32_t v = (uint32_t)lb_check_int(L, 1, 0, U32MAX);
    size_t sz = (size_t)lb_opt_int(L, 2, (lua_Number)sizeof(llm_model_opts), 0, SZMAX);
    lua_pushinteger(L, llm_abi_check(v, sz));
    return 1;
}

/* llm.errmsg(handle|nil) -> the detail message of the latest failure */
static int l_errmsg(lua_State *L) {
    const void *h = NULL;
    if (!lua_isnoneornil(L, 1)) {
        lh *u = lua_touserdata(L, 1);
        luaL_argcheck(L, u != NULL, 1, "expected an llm handle or nil");
        if (!u->h)
            return luaL_error(L, "llm: %s is closed", lb_kind_names[u->kind]);
        h = u->h;
    }
    lua_pushstring(L, llm_errmsg(h));
    return 1;
}

static int l_last_errmsg(lua_State *L) {
    lua_pushstring(L, llm_last_errmsg());
    return 1;
}

/* ---- logging ----
 * libllm's log hook may run on any thread using the library (context and
 * trainer workers), where no lua_State may be touched. So the hook only
 * copies each line into a small ring buffer under a mutex, and Lua drains it
 * with llm.log_lines() on its own thread (a game polls it once per frame).
 * The buffer is process-wide, like the hook: every lua_State that loaded
 * the module shares it. Lines beyond LOG_CAP unread ones are counted as
 * dropped, oldest first; a line is cut at LOG_LINE - 1 bytes. */
#define LOG_CAP 256
#define LOG_LINE 240
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    int32_t level;
    char msg[LOG_LINE];
} log_ring[LOG_CAP];
static size_t log_head, log_count, log_dropped;

static void log_hook(void *ud, int32_t level, const char *msg) {
    size_t slot;
    (void)ud;
    pthread_mutex_lock(&log_mu);
    if (log_count == LOG_CAP) { /* overwrite the oldest line */
        log_head = (log_head + 1) % LOG_CAP;
        log_count--;
        log_dropped++;
    }
    slot = (log_head + log_count) % LOG_CAP;
    log_ring[slot].level = level;
    snprintf(log_ring[slot].msg, LOG_LINE, "%s", msg ? msg : "");
    log_count++;
    pthread_mutex_unlock(&log_mu);
}

/* llm.set_log(max_level | nil): collect libllm's log lines of level <=
 * max_level (1 error .. 4 debug) for llm.log_lines(); nil stops. Like
 * llm_set_log, only before the first handle exists (else LLM_ERR_STATE). */
static int l_set_log(lua_State *L) {
    int32_t level;
    lua_settop(L, 1);
    level = lua_isnil(L, 1) ? 0 : (int32_t)lb_check_int(L, 1, 0, LLM_LOG_DEBUG);
    CHECK(L, llm_set_log(level ? log_hook : NULL, NULL, level), NULL);
    return 0;
}

/* llm.log_lines() -> { {level = n, msg = s}, ... } (oldest first), dropped:
 * the lines collected since the last call, and how many were lost. */
static int l_log_lines(lua_State *L) {
    /* copy out under the lock, build the tables after unlocking: a Lua
     * memory error must never unwind with the mutex held */
    typedef struct { int32_t level; char msg[LOG_LINE]; } line;
    line *copy = lua_newuserdata(L, LOG_CAP * sizeof *copy);
    size_t i, n, dropped;
    pthread_mutex_lock(&log_mu);
    n = log_count;
    dropped = log_dropped;
    for (i = 0; i < n; i++) {
        size_t slot = (log_head + i) % LOG_CAP;
        copy[i].level = log_ring[slot].level;
        memcpy(copy[i].msg, log_ring[slot].msg, LOG_LINE);
    }
    log_head = (log_head + n) % LOG_CAP;
    log_count = 0;
    log_dropped = 0;
    pthread_mutex_unlock(&log_mu);
    lua_createtable(L, (int)n, 0);
    for (i = 0; i < n; i++) {
        lua_createtable(L, 0, 2);
        lua_pushinteger(L, copy[i].level);
        lua_setfield(L, -2, "level");
        lua_pushstring(L, copy[i].msg);
        lua_setfield(L, -2, "msg");
        lua_rawseti(L, -2, (int)i + 1);
    }
    lua_pushinteger(L, (lua_Integer)dropped);
    return 2;
}

/* ---- model config tables ---- */

void lb_cfg_from_table(lua_State *L, int t, llm_model_config *c) {
    int given_head = 0, given_embd = 0;
    LLM_MODEL_CONFIG_INIT(c);
    if (lua_isnoneornil(L, t))
        return;
    luaL_checktype(L, t, LUA_TTABLE);
    if (lb_opt_field(L, t, "arch") && lua_type(L, -1) == LUA_TSTRING) { /* "gpt2" | "llama" */
        const char *a = lua_tostring(L, -1);
        c->arch = strcmp(a, "llama") == 0 ? LLM_ARCH_LLAMA : strcmp(a, "gpt2") == 0 ? LLM_ARCH_GPT2 : -1;
        if (c->arch < 0)
            luaL_error(L, "option 'arch' must be \"gpt2\", \"llama\" or a number");
    } else {
        c->arch = (int32_t)lb_field_int(L, t, "arch", c->arch, I32MIN, I32MAX);
    }
    lua_pop(L, 1);
    given_head = lb_opt_field(L, t, "n_head");
    lua_pop(L, 1);
    given_embd = lb_opt_field(L, t, "n_embd") || lb_opt_field(L, t, "arch");
    lua_pop(L, 1);
    if (given_head)
        c->n_head_kv = 0;
    if (given_embd)
        c->n_ff = 0;
#define U(f) c->f = (uint32_t)lb_field_int(L, t, #f, c->f, 0, U32MAX)
    U(n_vocab); U(n_ctx); U(n_embd); U(n_layer); U(n_head); U(n_head_kv); U(n_ff); U(flags);
#undef U
    c->norm_eps = (float)lb_field_num(L, t, "norm_eps", c->norm_eps);
    c->rope_base = (float)lb_field_num(L, t, "rope_base", c->rope_base);
}

void lb_push_cfg(lua_State *L, const llm_model_config *c) {
    lua_newtable(L);
    lb_set_int(L, "arch", c->arch);
    lb_set_int(L, "n_vocab", c->n_vocab);
    lb_set_int(L, "n_ctx", c->n_ctx);
    lb_set_int(L, "n_embd", c->n_embd);
    lb_set_int(L, "n_layer", c->n_layer);
    lb_set_int(L, "n_head", c->n_head);
    lb_set_int(L, "n_head_kv", c->n_head_kv);
    lb_set_int(L, "n_ff", c->n_ff);
    lb_set_num(L, "norm_eps", c->norm_eps);
    lb_set_num(L, "rope_base", c->rope_base);
    lb_set_int(L, "flags", c->flags);
}

/* ---- registration ---- */

static const luaL_Reg functions[] = {
    {"version", l_version},
    {"version_number", l_version_number},
    {"status_str", l_status_str},
    {"abi_check", l_abi_check},
    {"errmsg", l_errmsg},
    {"last_errmsg", l_last_errmsg},
    {"set_log", l_set_log},
    {"log_lines", l_log_lines},
    {NULL, NULL},
};

static void new_class(lua_State *L, int kind, const luaL_Reg *methods) {
    luaL_newmetatable(L, lb_mt_names[kind]);
    lua_newtable(L); /* __index */
    llm_setfuncs(L, methods);
    lua_pushcfunction(L, m_close);
    lua_setfield(L, -2, "close");
    lua_pushcfunction(L, m_is_closed);
    lua_setfield(L, -2, "is_closed");
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, m_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, m_close);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, m_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushstring(L, "llm handle");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
}

static void set_const(lua_State *L, const char *k, lua_Number v) {
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

#if defined(__GNUC__)
__attribute__((visibility("default")))
#endif
int luaopen_llm(lua_State *L);

int luaopen_llm(lua_State *L) {
    /* Refuse to load against an incompatible libllm.so. */
    int rc = llm_abi_check(LLM_VERSION_NUMBER, sizeof(llm_model_opts));
    if (rc != LLM_OK)
        return lb_raise_status(L, rc, NULL);
    new_class(L, K_TOK, lb_tok_methods);
    new_class(L, K_MODEL, lb_model_methods);
    new_class(L, K_CTX, lb_ctx_methods);
    new_class(L, K_SAMPLER, lb_sampler_methods);
    new_class(L, K_TRAINER, lb_trainer_methods);
    new_class(L, K_GEN, lb_gen_methods);
    new_class(L, K_STREAM, lb_stream_methods);
    lua_newtable(L);
    llm_setfuncs(L, functions);
    llm_setfuncs(L, lb_model_functions);
    llm_setfuncs(L, lb_run_functions);
    lua_pushstring(L, LLM_VERSION_STRING);
    lua_setfield(L, -2, "_VERSION");
    set_const(L, "ARCH_GPT2", LLM_ARCH_GPT2);
    set_const(L, "ARCH_LLAMA", LLM_ARCH_LLAMA);
    set_const(L, "CFG_UNTIED_OUTPUT", LLM_CFG_UNTIED_OUTPUT);
    set_const(L, "CFG_QKV_BIAS", LLM_CFG_QKV_BIAS);
    set_const(L, "TOKENS_AUTO", LLM_TOKENS_AUTO);
    set_const(L, "TOKENS_U16", LLM_TOKENS_U16);
    set_const(L, "TOKENS_U32", LLM_TOKENS_U32);
    set_const(L, "TOKENS_I32", LLM_TOKENS_I32);
    set_const(L, "TOKENS_BYTES", LLM_TOKENS_BYTES);
    set_const(L, "FLOPS_6N", LLM_FLOPS_6N);
    set_const(L, "FLOPS_KAPLAN", LLM_FLOPS_KAPLAN);
    set_const(L, "FLOPS_CHINCHILLA", LLM_FLOPS_CHINCHILLA);
    set_const(L, "PHASE_LOAD", LLM_PHASE_LOAD);
    set_const(L, "PHASE_PREFILL", LLM_PHASE_PREFILL);
    set_const(L, "PHASE_DECODE", LLM_PHASE_DECODE);
    set_const(L, "PHASE_TRAIN_STEP", LLM_PHASE_TRAIN_STEP);
    set_const(L, "PHASE_EVAL", LLM_PHASE_EVAL);
    set_const(L, "PHASE_TOKENIZER_TRAIN", LLM_PHASE_TOKENIZER_TRAIN);
    set_const(L, "PHASE_CONVERT", LLM_PHASE_CONVERT);
    set_const(L, "PHASE_FIT", LLM_PHASE_FIT);
    return 1;
}
