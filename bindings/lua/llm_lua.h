/*
 * llm_lua.h - internals shared by the files of the Lua module `llm`
 * (llm_lua.c: handles, argument helpers, core functions, registration;
 * llm_lua_model.c: tokenizer, model, context and the convenience layer;
 * llm_lua_run.c: sampler, trainer, generation and planning).
 *
 * Cross-file functions carry the lb_ prefix; the module is built with
 * hidden visibility, so only luaopen_llm is exported. The invariants of
 * handles and callbacks are described at the top of llm_lua.c.
 */
#ifndef LLM_LUA_H
#define LLM_LUA_H

#include <lauxlib.h>
#include <lua.h>
#include <stddef.h>
#include <stdint.h>

#include "llm.h"

/* ---- Lua 5.1 / LuaJIT shims ---- */
#if LUA_VERSION_NUM < 502
void lb_setfuncs(lua_State *L, const luaL_Reg *l);
void *lb_testudata(lua_State *L, int i, const char *tname);
#define llm_setfuncs(L, l) lb_setfuncs((L), (l))
#define llm_testudata(L, i, t) lb_testudata((L), (i), (t))
#define llm_rawlen(L, i) lua_objlen((L), (i))
#define llm_newudata(L, sz) lua_newuserdata((L), (sz))
#define llm_setuv(L, i) lua_setfenv((L), (i))
#define llm_getuv(L, i) lua_getfenv((L), (i))
#else
#define llm_setfuncs(L, l) luaL_setfuncs((L), (l), 0)
#define llm_rawlen(L, i) lua_rawlen((L), (i))
#define llm_newudata(L, sz) lua_newuserdatauv((L), (sz), 1)
#define llm_setuv(L, i) lua_setiuservalue((L), (i), 1)
#define llm_getuv(L, i) lua_getiuservalue((L), (i), 1)
#define llm_testudata(L, i, t) luaL_testudata((L), (i), (t))
#endif

/* ---- handles ---- */

enum { K_TOK, K_MODEL, K_CTX, K_SAMPLER, K_TRAINER, K_GEN, K_STREAM, K_COUNT };
extern const char *const lb_mt_names[K_COUNT];
extern const char *const lb_kind_names[K_COUNT];

/* A Lua callback in the registry, with the state to call it on and the
 * error it raised (a registry ref too). */
typedef struct lcb {
    lua_State *L;
    int fn;  /* LUA_NOREF when unset */
    int err; /* LUA_NOREF when no error is pending */
} lcb;

typedef struct lh {
    void *h;             /* the C handle, NULL after close */
    int kind;            /* K_* */
    int owned;           /* 1: freed by close/__gc; 0: borrowed (model's tokenizer) */
    int open;            /* 1 from creation until close (h may still be NULL while
                            the C constructor runs) */
    int n_children;      /* open children that borrow this handle */
    int busy;            /* inside a C call that may run Lua callbacks: closing
                            it from such a callback is refused */
    struct lh *parent[3];
    lcb cb[2];           /* persistent callbacks: progress, on_token */
    uint32_t n_vocab;    /* ctx/sampler: logits length */
    size_t batch_tokens; /* trainer: K*B*T */
    struct lh *tok;      /* model: tokenizer of the convenience layer (or NULL) */
    llm_tok_stream stream; /* K_STREAM only */
} lh;

/* Raises a Lua error (status name + detail message) for a negative status. */
#define CHECK(L, expr, handle)                                                              \
    do {                                                                                   \
        int rc_ = (expr);                                                                  \
        if (rc_ < 0)                                                                       \
            return lb_raise_status((L), rc_, (handle));                                       \
    } while (0)

/* CHECK for functions returning a pointer (lb_raise_status never returns). */
#define CHECKP(L, expr, handle)                                                             \
    do {                                                                                   \
        int rc_ = (expr);                                                                  \
        if (rc_ < 0) {                                                                     \
            lb_raise_status((L), rc_, (handle));                                              \
            return NULL;                                                                   \
        }                                                                                  \
    } while (0)
#define CHECKH(L, i, k) (lb_check_lh((L), (i), (k))->h)

#define U32MAX 4294967295.0
#define I32MIN (-2147483648.0)
#define I32MAX 2147483647.0
#define SZMAX 9007199254740992.0 /* 2^53: every Lua number below is exact */

/* ---- shared functions ---- */
int lb_raise_status(lua_State *L, int status, const void *handle);
void lb_cb_rethrow(lua_State *L, lcb *c);
void lb_cb_set(lua_State *L, lcb *c, int idx);
void lb_cb_free(lua_State *L, lcb *c);
int lb_progress_tramp(void *ud, const llm_progress *p);
int lb_token_tramp(void *ud, llm_token token, const char *text, size_t n_text);
lh *lb_new_handle(lua_State *L, int kind, void *h, int owned, const int *pidx, lh **parents, int n_parents);
void lb_uv_set(lua_State *L, int ud, const char *key, int idx);
lh *lb_check_lh(lua_State *L, int idx, int kind);
int lb_do_close(lua_State *L, lh *u, int force);
lua_Number lb_check_int(lua_State *L, int idx, lua_Number lo, lua_Number hi);
int32_t lb_to_i32(lua_State *L, int idx, const char *what);
lua_Number lb_opt_int(lua_State *L, int idx, lua_Number def, lua_Number lo, lua_Number hi);
int lb_opt_field(lua_State *L, int t, const char *k);
lua_Number lb_field_num(lua_State *L, int t, const char *k, lua_Number def);
lua_Number lb_field_int(lua_State *L, int t, const char *k, lua_Number def, lua_Number lo, lua_Number hi);
int lb_field_bool(lua_State *L, int t, const char *k);
void lb_check_opts(lua_State *L, int t);
llm_token *lb_check_tokens(lua_State *L, int idx, size_t *n);
float *lb_check_floats(lua_State *L, int idx, size_t *n);
double *lb_check_doubles(lua_State *L, int idx, size_t *n);
const char **lb_field_strings(lua_State *L, int t, const char *k, size_t *n);
void lb_push_tokens(lua_State *L, const llm_token *t, size_t n);
void lb_push_floats(lua_State *L, const float *f, size_t n);
void lb_push_count(lua_State *L, lua_Number v);
void lb_set_num(lua_State *L, const char *k, lua_Number v);
void lb_set_int(lua_State *L, const char *k, lua_Number v);
void lb_cfg_from_table(lua_State *L, int t, llm_model_config *c);
void lb_push_cfg(lua_State *L, const llm_model_config *c);
lh *lb_make_ctx(lua_State *L, int midx, int oidx);
int lb_l_sampler_create(lua_State *L);
int lb_run_generate(lua_State *L, lh *c, lh *s, lh *t, int pidx, int oidx);

/* ---- per-file tables, registered by luaopen_llm ---- */
extern const luaL_Reg lb_model_functions[];
extern const luaL_Reg lb_run_functions[];
extern const luaL_Reg lb_tok_methods[];
extern const luaL_Reg lb_stream_methods[];
extern const luaL_Reg lb_model_methods[];
extern const luaL_Reg lb_ctx_methods[];
extern const luaL_Reg lb_sampler_methods[];
extern const luaL_Reg lb_trainer_methods[];
extern const luaL_Reg lb_gen_methods[];

#endif /* LLM_LUA_H */
