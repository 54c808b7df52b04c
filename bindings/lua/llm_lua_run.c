/*
 * llm_lua_run.c - the sampler, trainer and generator classes of the Lua
 * module `llm`, and the planning functions. See llm_lua.c for the handle
 * and callback invariants.
 */
#include <math.h>
#include <string.h>

#include "llm_lua.h"

/* ---- sampler ---- */

static int32_t param_key(lua_State *L, int idx) {
    static const char *const names[] = {"temperature", "top_k", "top_p", "min_p",
                                        "repeat_penalty", "presence_penalty",
                                        "frequency_penalty", "penalty_last_n", NULL};
    static const int32_t keys[] = {LLM_SAMPLER_TEMP, LLM_SAMPLER_TOP_K, LLM_SAMPLER_TOP_P,
                                   LLM_SAMPLER_MIN_P, LLM_SAMPLER_REPEAT_PENALTY,
                                   LLM_SAMPLER_PRESENCE_PENALTY, LLM_SAMPLER_FREQUENCY_PENALTY,
                                   LLM_SAMPLER_PENALTY_LAST_N};
    if (lua_type(L, idx) == LUA_TSTRING)
        return keys[luaL_checkoption(L, idx, NULL, names)];
    return (int32_t)lb_check_int(L, idx, I32MIN, I32MAX);
}

int lb_l_sampler_create(lua_State *L) {
    llm_sampler_opts o;
    llm_sampler *s = NULL;
    llm_logit_bias *bias = NULL;
    size_t nb = 0;
    lh *u;
    luaL_checktype(L, 1, LUA_TTABLE);
    LLM_SAMPLER_OPTS_INIT(&o);
    o.n_vocab = (uint32_t)lb_field_int(L, 1, "n_vocab", 0, 0, U32MAX);
    o.seed = (uint64_t)lb_field_int(L, 1, "seed", 0, 0, SZMAX);
    if (lb_opt_field(L, 1, "temperature") && !lua_isnumber(L, -1))
        return luaL_error(L, "option 'temperature' must be a number");
    if (!lua_isnil(L, -1) && lua_tonumber(L, -1) == 0)
        o.flags |= LLM_SAMPLER_FLAG_GREEDY;
    else
        o.temperature = (float)lb_field_num(L, 1, "temperature", 0);
    lua_pop(L, 1);
    if (lb_field_bool(L, 1, "greedy"))
        o.flags |= LLM_SAMPLER_FLAG_GREEDY;
    if (lb_opt_field(L, 1, "auto_accept") && !lua_toboolean(L, -1))
        o.flags |= LLM_SAMPLER_FLAG_NO_AUTO_ACCEPT;
    lua_pop(L, 1);
    o.top_k = (int32_t)lb_field_int(L, 1, "top_k", 0, I32MIN, I32MAX);
    o.top_p = (float)lb_field_num(L, 1, "top_p", 0);
    o.min_p = (float)lb_field_num(L, 1, "min_p", 0);
    o.repeat_penalty = (float)lb_field_num(L, 1, "repeat_penalty", 0);
    o.presence_penalty = (float)lb_field_num(L, 1, "presence_penalty", 0);
    o.frequency_penalty = (float)lb_field_num(L, 1, "frequency_penalty", 0);
    o.penalty_last_n = (int32_t)lb_field_int(L, 1, "penalty_last_n", 0, I32MIN, I32MAX);
    if (lb_opt_field(L, 1, "logit_bias")) { /* {[token] = bias, ...} */
        int t = lua_gettop(L);
        luaL_checktype(L, t, LUA_TTABLE);
        lua_pushnil(L);
        while (lua_next(L, t)) {
            nb++;
            lua_pop(L, 1);
        }
        bias = lua_newuserdata(L, (nb ? nb : 1) * sizeof *bias);
        nb = 0;
        lua_pushnil(L);
        while (lua_next(L, t)) {
            if (!lua_isnumber(L, -1))
                return luaL_error(L, "option 'logit_bias' must map token ids to numbers");
            bias[nb].token = lb_to_i32(L, -2, "a logit_bias token id");
            bias[nb].bias = (float)lua_tonumber(L, -1);
            nb++;
            lua_pop(L, 1);
        }
    }
    o.logit_bias = bias;
    o.n_logit_bias = nb;
    CHECK(L, llm_sampler_create(&s, &o), NULL);
    u = lb_new_handle(L, K_SAMPLER, s, 1, NULL, NULL, 0);
    u->n_vocab = o.n_vocab;
    return 1;
}

/* Logits argument: a table of numbers, or a context (its latest logits, no copy). */
static const float *logits_arg(lua_State *L, int idx, size_t *n) {
    lh *c = llm_testudata(L, idx, lb_mt_names[K_CTX]);
    if (c) {
        const float *z = NULL;
        if (!c->h)
            luaL_error(L, "llm: context is closed");
        if (llm_ctx_logits(&z, c->h) < 0)
            lb_raise_status(L, LLM_ERR_STATE, c->h);
        *n = c->n_vocab;
        return z;
    }
    return lb_check_floats(L, idx, n);
}

/* s:sample(logits | ctx) -> token */
static int sm_sample(lua_State *L) {
    lua_settop(L, 2); /* optional args: pushes below must not look like them */
    llm_sampler *s = CHECKH(L, 1, K_SAMPLER);
    size_t n;
    const float *z = logits_arg(L, 2, &n);
    llm_token t = -1;
    CHECK(L, llm_sampler_sample(&t, s, z, n), s);
    lua_pushinteger(L, t);
    return 1;
}

/* s:probs(logits | ctx) -> {probs}, n_kept */
static int sm_probs(lua_State *L) {
    lua_settop(L, 2); /* optional args: pushes below must not look like them */
    llm_sampler *s = CHECKH(L, 1, K_SAMPLER);
    size_t n, kept = 0;
    const float *z = logits_arg(L, 2, &n);
    float *p = lua_newuserdata(L, (n ? n : 1) * sizeof *p);
    CHECK(L, llm_sampler_probs(p, &kept, s, z, n), s);
    lb_push_floats(L, p, n);
    lua_pushinteger(L, (lua_Integer)kept);
    return 2;
}

static int sm_accept(lua_State *L) {
    lua_settop(L, 2); /* optional args: pushes below must not look like them */
    llm_sampler *s = CHECKH(L, 1, K_SAMPLER);
    CHECK(L, llm_sampler_accept(s, (llm_token)lb_check_int(L, 2, I32MIN, I32MAX)), s);
    return 0;
}

static int sm_reset(lua_State *L) {
    lua_settop(L, 2); /* optional args: pushes below must not look like them */
    llm_sampler *s = CHECKH(L, 1, K_SAMPLER);
    CHECK(L, llm_sampler_reset(s, (uint64_t)lb_opt_int(L, 2, 0, 0, SZMAX)), s);
    return 0;
}

static int param_type(lua_State *L, int32_t key) {
    llm_sampler_param_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    CHECK(L, llm_sampler_param_bounds(&info, key), NULL);
    return info.type;
}

/* s:set(key, value): key is a name ("temperature", "top_k", ...) or LLM_SAMPLER_* */
static int sm_set(lua_State *L) {
    lua_settop(L, 3); /* optional args: pushes below must not look like them */
    llm_sampler *s = CHECKH(L, 1, K_SAMPLER);
    int32_t key = param_key(L, 2);
    if (param_type(L, key) == LLM_PARAM_I32)
        CHECK(L, llm_sampler_set_i32(s, key, (int32_t)lb_check_int(L, 3, I32MIN, I32MAX)), s);
    else
        CHECK(L, llm_sampler_set_f32(s, key, (float)luaL_checknumber(L, 3)), s);
    return 0;
}

static int sm_get(lua_State *L) {
    lua_settop(L, 2); /* optional args: pushes below must not look like them */
    llm_sampler *s = CHECKH(L, 1, K_SAMPLER);
    int32_t key = param_key(L, 2);
    if (param_type(L, key) == LLM_PARAM_I32) {
        int32_t v = 0;
        CHECK(L, llm_sampler_get_i32(&v, s, key), s);
        lua_pushinteger(L, v);
    } else {
        float v = 0;
        CHECK(L, llm_sampler_get_f32(&v, s, key), s);
        lua_pushnumber(L, v);
    }
    return 1;
}

/* llm.param_bounds(key) -> {name, type = "f32"|"i32", min, max, min_open, default} */
static int l_param_bounds(lua_State *L) {
    lua_settop(L, 1); /* optional args: pushes below must not look like them */
    llm_sampler_param_info info;
    int32_t key = param_key(L, 1);
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    CHECK(L, llm_sampler_param_bounds(&info, key), NULL);
    lua_newtable(L);
    lua_pushstring(L, info.name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, info.type == LLM_PARAM_F32 ? "f32" : "i32");
    lua_setfield(L, -2, "type");
    lb_set_num(L, "min", info.min);
    lb_set_num(L, "max", info.max);
    lb_set_num(L, "default", info.def);
    lua_pushboolean(L, (info.flags & LLM_PARAM_MIN_OPEN) != 0);
    lua_setfield(L, -2, "min_open");
    return 1;
}

/* ---- trainer ---- */

static int l_trainer_create(lua_State *L) {
    lua_settop(L, 2); /* optional args: pushes below must not look like them */
    lh *mu = lb_check_lh(L, 1, K_MODEL), *u;
    llm_trainer_opts o;
    llm_trainer *tr = NULL;
    llm_model_config cfg;
    int pidx[1] = {1}, rc;
    lb_check_opts(L, 2);
    LLM_TRAINER_OPTS_INIT(&o);
    if (lb_field_bool(L, 2, "shuffle"))
        o.flags |= LLM_TRAIN_SHUFFLE;
#define U(f) o.f = (uint32_t)lb_field_int(L, 2, #f, 0, 0, U32MAX)
    U(n_threads); U(batch); U(seq_len); U(grad_accum); U(warmup_steps);
#undef U
    if (lb_opt_field(L, 2, "schedule") && lua_type(L, -1) == LUA_TSTRING)
        o.schedule = strcmp(lua_tostring(L, -1), "constant") == 0 ? LLM_SCHEDULE_CONSTANT
                     : strcmp(lua_tostring(L, -1), "cosine") == 0  ? LLM_SCHEDULE_COSINE : -1;
    else
        o.schedule = (int32_t)lb_field_int(L, 2, "schedule", 0, I32MIN, I32MAX);
    lua_pop(L, 1);
    o.total_steps = (uint64_t)lb_field_int(L, 2, "total_steps", 0, 0, SZMAX);
    o.seed = (uint64_t)lb_field_int(L, 2, "seed", 0, 0, SZMAX);
#define D(f) o.f = lb_field_num(L, 2, #f, 0)
    D(lr); D(min_lr); D(beta1); D(beta2); D(eps); D(weight_decay); D(grad_clip);
#undef D
    LLM_MODEL_CONFIG_INIT(&cfg);
    CHECK(L, llm_model_get_config(&cfg, mu->h), mu->h);
    u = lb_new_handle(L, K_TRAINER, NULL, 1, pidx, &mu, 1);
    lb_opt_field(L, 2, "progress");
    lb_cb_set(L, &u->cb[0], -1);
    lua_pop(L, 1);
    if (u->cb[0].fn != LUA_NOREF) {
        o.progress = lb_progress_tramp;
        o.progress_ud = &u->cb[0];
    }
    rc = llm_trainer_create(&tr, mu->h, &o);
    if (rc < 0) {
        lb_do_close(L, u, 1);
        return lb_raise_status(L, rc, NULL);
    }
    u->h = tr;
    u->batch_tokens = (size_t)(o.batch ? o.batch : 4) *
                      (o.seq_len ? o.seq_len : (cfg.n_ctx < 64 ? cfg.n_ctx : 64)) *
                      (o.grad_accum ? o.grad_accum : 1);
    return 1;
}

static int tr_step_or_eval(lua_State *L, int step) {
    lua_settop(L, 3); /* optional args: pushes below must not look like them */
    lh *u = lb_check_lh(L, 1, K_TRAINER);
    size_t n, nt;
    llm_token *in = lb_check_tokens(L, 2, &n), *tg = lb_check_tokens(L, 3, &nt);
    float loss = 0;
    if (n != nt)
        return luaL_error(L, "llm: inputs (%d) and targets (%d) differ in length", (int)n,
                          (int)nt);
    u->cb[0].L = L;
    {
        int rc;
        u->busy++;
        rc = step ? llm_trainer_step(&loss, u->h, in, tg, n) : llm_trainer_eval(&loss, u->h, in, tg, n);
        u->busy--;
        lb_cb_rethrow(L, &u->cb[0]);
        CHECK(L, rc, u->h);
    }
    lua_pushnumber(L, loss);
    return 1;
}

/* tr:step(inputs, targets) -> loss before the update */
static int tr_step(lua_State *L) { return tr_step_or_eval(L, 1); }
static int tr_eval(lua_State *L) { return tr_step_or_eval(L, 0); }

static int tr_lr(lua_State *L) {
    lua_settop(L, 2); /* optional args: pushes below must not look like them */
    llm_trainer *t = CHECKH(L, 1, K_TRAINER);
    double v = 0;
    CHECK(L, llm_trainer_lr(&v, t, (uint64_t)lb_check_int(L, 2, 0, SZMAX)), t);
    lua_pushnumber(L, v);
    return 1;
}

static int tr_n_steps(lua_State *L) {
    llm_trainer *t = CHECKH(L, 1, K_TRAINER);
    uint64_t v = 0;
    CHECK(L, llm_trainer_n_steps(&v, t), t);
    lb_push_count(L, (lua_Number)v);
    return 1;
}

static int tr_grad_norm(lua_State *L) {
    llm_trainer *t = CHECKH(L, 1, K_TRAINER);
    double v = 0;
    CHECK(L, llm_trainer_grad_norm(&v, t), t);
    lua_pushnumber(L, v);
    return 1;
}

static int tr_grad(lua_State *L) {
    lua_settop(L, 2); /* optional args: pushes below must not look like them */
    llm_trainer *t = CHECKH(L, 1, K_TRAINER);
    const char *name = luaL_checkstring(L, 2);
    size_t need = 0;
    float *buf;
    int rc = llm_trainer_grad_copy(NULL, 0, &need, t, name);
    if (rc != LLM_ERR_BUFFER_TOO_SMALL)
        CHECK(L, rc, t);
    buf = lua_newuserdata(L, (need ? need : 1) * sizeof *buf);
    CHECK(L, llm_trainer_grad_copy(buf, need, &need, t, name), t);
    lb_push_floats(L, buf, need);
    return 1;
}

/* tr:next_batch(stream) -> inputs, targets */
static int tr_next_batch(lua_State *L) {
    lua_settop(L, 2); /* optional args: pushes below must not look like them */
    lh *u = lb_check_lh(L, 1, K_TRAINER);
    size_t n;
    llm_token *s = lb_check_tokens(L, 2, &n);
    llm_token *in = lua_newuserdata(L, u->batch_tokens * sizeof *in);
    llm_token *tg = lua_newuserdata(L, u->batch_tokens * sizeof *tg);
    CHECK(L, llm_trainer_next_batch(in, tg, u->h, s, n), u->h);
    lb_push_tokens(L, in, u->batch_tokens);
    lb_push_tokens(L, tg, u->batch_tokens);
    return 2;
}

static int tr_save(lua_State *L) {
    lua_settop(L, 2); /* optional args: pushes below must not look like them */
    llm_trainer *t = CHECKH(L, 1, K_TRAINER);
    CHECK(L, llm_trainer_save(t, luaL_checkstring(L, 2)), t);
    return 0;
}

static int tr_load(lua_State *L) {
    lua_settop(L, 2); /* optional args: pushes below must not look like them */
    llm_trainer *t = CHECKH(L, 1, K_TRAINER);
    CHECK(L, llm_trainer_load(t, luaL_checkstring(L, 2)), t);
    return 0;
}

/* llm.tokens_load(path [, format]) -> {ids} (format: 0 auto .. 4 bytes) */
static int l_tokens_load(lua_State *L) {
    lua_settop(L, 2); /* optional args: pushes below must not look like them */
    llm_token *ids = NULL;
    size_t n = 0, i;
    const char *path = luaL_checkstring(L, 1);
    int32_t fmt = (int32_t)lb_opt_int(L, 2, LLM_TOKENS_AUTO, 0, 100);
    CHECK(L, llm_tokens_load(&ids, &n, path, fmt), NULL);
    if (!lua_checkstack(L, 4)) {
        llm_free(ids);
        return luaL_error(L, "llm: out of Lua stack");
    }
    lua_createtable(L, (int)n, 0); /* may raise a memory error: ids leak then */
    for (i = 0; i < n; i++) {
        lua_pushinteger(L, ids[i]);
        lua_rawseti(L, -2, (int)i + 1);
    }
    llm_free(ids);
    return 1;
}

/* ---- generation ---- */

static const char *gen_status(int st) {
    return st == LLM_OK ? "ok" : st == LLM_AGAIN ? "again" : "done";
}

static void gen_opts(lua_State *L, int t, llm_gen_opts *o, lcb *tcb, lcb *pcb) {
    size_t n;
    lb_check_opts(L, t);
    LLM_GEN_OPTS_INIT(o);
    if (lb_field_bool(L, t, "ignore_eos")) o->flags |= LLM_GEN_IGNORE_EOS;
    if (lb_field_bool(L, t, "parse_special")) o->flags |= LLM_GEN_PARSE_SPECIAL;
    if (lb_field_bool(L, t, "skip_special")) o->flags |= LLM_GEN_SKIP_SPECIAL;
    if (lb_field_bool(L, t, "replace_invalid")) o->flags |= LLM_GEN_REPLACE_INVALID;
    if (lb_field_bool(L, t, "no_prompt_penalty")) o->flags |= LLM_GEN_NO_PROMPT_PENALTY;
    o->max_tokens = (uint32_t)lb_field_int(L, t, "max_tokens", 0, 0, U32MAX);
    o->n_ubatch = (uint32_t)lb_field_int(L, t, "n_ubatch", 0, 0, U32MAX);
    o->stop = lb_field_strings(L, t, "stop", &n); /* userdata left on the stack */
    o->n_stop = n;
    if (lb_opt_field(L, t, "stop_tokens")) { /* leaves the id array in place of the table */
        o->stop_tokens = lb_check_tokens(L, lua_gettop(L), &n);
        o->n_stop_tokens = n;
        lua_remove(L, -2);
    }
    lb_opt_field(L, t, "on_token");
    lb_cb_set(L, tcb, -1);
    lua_pop(L, 1);
    if (tcb->fn != LUA_NOREF) {
        o->on_token = lb_token_tramp;
        o->on_token_ud = tcb;
    }
    lb_opt_field(L, t, "progress");
    lb_cb_set(L, pcb, -1);
    lua_pop(L, 1);
    if (pcb->fn != LUA_NOREF) {
        o->progress = lb_progress_tramp;
        o->progress_ud = pcb;
    }
}

/* llm.generator(ctx, sampler, tokenizer|nil [, opts]) */
static int l_gen_create(lua_State *L) {
    lua_settop(L, 4); /* optional args: pushes below must not look like them */
    lh *c = lb_check_lh(L, 1, K_CTX), *s = lb_check_lh(L, 2, K_SAMPLER), *t = NULL, *u;
    lh *parents[3];
    int pidx[3] = {1, 2, 3}, rc;
    llm_gen_opts o;
    llm_gen *g = NULL;
    if (!lua_isnoneornil(L, 3))
        t = lb_check_lh(L, 3, K_TOK);
    parents[0] = c;
    parents[1] = s;
    parents[2] = t;
    u = lb_new_handle(L, K_GEN, NULL, 1, pidx, parents, 3);
    gen_opts(L, 4, &o, &u->cb[1], &u->cb[0]);
    rc = llm_gen_create(&g, c->h, s->h, t ? t->h : NULL, &o);
    if (rc < 0) {
        lb_do_close(L, u, 1);
        return lb_raise_status(L, rc, NULL);
    }
    lua_pop(L, 2); /* the stop arrays (copied by create) */
    u->h = g;
    return 1;
}

/* The generator decodes on its context, whose own progress callback may
 * run too: both are bound to this lua_State for the call. */
#define GEN_CALL(L, u, expr, rcvar)                                                          \
    do {                                                                                   \
        lh *c_ = (u)->parent[0];                                                           \
        (u)->cb[0].L = (L);                                                                \
        (u)->cb[1].L = (L);                                                                \
        c_->cb[0].L = (L);                                                                 \
        (u)->busy++;                                                                       \
        c_->busy++;                                                                        \
        rcvar = (expr);                                                                    \
        (u)->busy--;                                                                       \
        c_->busy--;                                                                        \
        lb_cb_rethrow((L), &(u)->cb[0]);                                                      \
        lb_cb_rethrow((L), &(u)->cb[1]);                                                      \
        lb_cb_rethrow((L), &c_->cb[0]);                                                       \
        if (rcvar < 0)                                                                     \
            return lb_raise_status((L), rcvar, NULL);                                         \
    } while (0)

/* g:feed(text | {ids}) */
static int g_feed(lua_State *L) {
    lua_settop(L, 2); /* optional args: pushes below must not look like them */
    lh *u = lb_check_lh(L, 1, K_GEN);
    int rc;
    if (lua_type(L, 2) == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, 2, &len);
        GEN_CALL(L, u, llm_gen_feed_text(u->h, s, len), rc);
    } else {
        size_t n;
        llm_token *ids;
        if (!lua_istable(L, 2))
            return luaL_argerror(L, 2, "expected a string or a table of token ids");
        ids = lb_check_tokens(L, 2, &n);
        GEN_CALL(L, u, llm_gen_feed_tokens(u->h, ids, n), rc);
    }
    return 0;
}

/* g:next() -> "ok"|"again"|"done", token (-1 if none), text piece */
static int g_next(lua_State *L) {
    lh *u = lb_check_lh(L, 1, K_GEN);
    llm_token tok = -1;
    const char *text = NULL;
    size_t n = 0;
    int rc;
    GEN_CALL(L, u, llm_gen_next(&tok, &text, &n, u->h), rc);
    lua_pushstring(L, gen_status(rc));
    lua_pushinteger(L, tok);
    lua_pushlstring(L, text ? text : "", n);
    return 3;
}

/* g:step(budget_us [, max_tokens]) -> "again"|"done", {tokens}, text:
 * forward passes while they fit in the budget (for a frame loop) */
static int g_step(lua_State *L) {
    lua_settop(L, 3); /* optional args: pushes below must not look like them */
    lh *u = lb_check_lh(L, 1, K_GEN);
    uint64_t budget = (uint64_t)lb_check_int(L, 2, 0, SZMAX);
    size_t cap = (size_t)lb_opt_int(L, 3, 64, 1, 1 << 20), mp = 0, nt = 0, nx = 0;
    llm_token *toks;
    char *text;
    int rc;
    CHECK(L, llm_gen_max_piece(&mp, u->h), NULL);
    toks = lua_newuserdata(L, cap * sizeof *toks);
    text = lua_newuserdata(L, mp * (cap + 1));
    GEN_CALL(L, u, llm_gen_step(toks, cap, &nt, text, mp * (cap + 1), &nx, u->h, budget), rc);
    lua_pushstring(L, gen_status(rc));
    lb_push_tokens(L, toks, nt);
    lua_pushlstring(L, text, nx);
    return 3;
}

static int g_cancel(lua_State *L) {
    CHECK(L, llm_gen_cancel(CHECKH(L, 1, K_GEN)), NULL);
    return 0;
}

static int g_reset(lua_State *L) {
    CHECK(L, llm_gen_reset(CHECKH(L, 1, K_GEN)), NULL);
    return 0;
}

/* g:reason() -> "running"|"eos"|"stop"|"max_tokens"|"ctx_full"|"cancelled", code */
static int g_reason(lua_State *L) {
    int32_t r = 0;
    CHECK(L, llm_gen_reason(&r, CHECKH(L, 1, K_GEN)), NULL);
    lua_pushstring(L, llm_gen_reason_str(r));
    lua_pushinteger(L, r);
    return 2;
}

static int g_max_piece(lua_State *L) {
    size_t n = 0;
    CHECK(L, llm_gen_max_piece(&n, CHECKH(L, 1, K_GEN)), NULL);
    lua_pushinteger(L, (lua_Integer)n);
    return 1;
}

static void push_result(lua_State *L, const llm_gen_result *r) {
    lua_newtable(L);
    lua_pushstring(L, llm_gen_reason_str(r->reason));
    lua_setfield(L, -2, "reason");
    lb_set_int(L, "n_prompt", (lua_Number)r->n_prompt);
    lb_set_int(L, "n_tokens", (lua_Number)r->n_tokens);
    lb_set_int(L, "n_text", (lua_Number)r->n_text);
    lb_set_int(L, "n_past", (lua_Number)r->n_past);
    lb_set_num(L, "prompt_seconds", r->prompt_seconds);
    lb_set_num(L, "gen_seconds", r->gen_seconds);
    lb_set_num(L, "last_pass_seconds", r->last_pass_seconds);
}

static int g_result(lua_State *L) {
    llm_gen_result r;
    LLM_GEN_RESULT_INIT(&r);
    CHECK(L, llm_gen_get_result(&r, CHECKH(L, 1, K_GEN)), NULL);
    push_result(L, &r);
    return 1;
}

static int l_gen_reason_str(lua_State *L) {
    lua_settop(L, 1); /* optional args: pushes below must not look like them */
    lua_pushstring(L, llm_gen_reason_str((int32_t)lb_check_int(L, 1, I32MIN, I32MAX)));
    return 1;
}

/* Runs llm_generate over ctx, smpl, tok (handles at indices) with the
 * prompt at pidx and options at oidx; pushes {tokens, text, reason, ...}. */
int lb_run_generate(lua_State *L, lh *c, lh *s, lh *t, int pidx, int oidx) {
    size_t plen, cap, nt = 0, nx = 0, tcap;
    const char *prompt = luaL_checklstring(L, pidx, &plen);
    llm_gen_opts o;
    llm_gen_result r;
    llm_token *toks;
    char *text;
    lcb tcb, pcb;
    int rc;
    gen_opts(L, oidx, &o, &tcb, &pcb);
    cap = o.max_tokens ? o.max_tokens : 64;
    o.max_tokens = 0;
    toks = lua_newuserdata(L, cap * sizeof *toks);
    tcap = 64 * cap + 64;
    text = lua_newuserdata(L, tcap);
    LLM_GEN_RESULT_INIT(&r);
    c->cb[0].L = L;
    c->busy++;
    s->busy++;
    t->busy++;
    rc = llm_generate(toks, cap, &nt, text, tcap, &nx, &r, c->h, s->h, t->h, prompt, plen, &o);
    c->busy--;
    s->busy--;
    t->busy--;
    if (rc == LLM_ERR_BUFFER_TOO_SMALL && nx > tcap) {
        text = lua_newuserdata(L, nx);
        tcap = nx;
        /* the tokens are complete: their text is their decode */
        rc = llm_tokenizer_decode(text, tcap, &nx, t->h, toks, nt, 0);
    }
    {
        /* re-raise a callback error only after the refs are released */
        int err_ref = tcb.err != LUA_NOREF ? tcb.err : pcb.err;
        if (err_ref == tcb.err)
            tcb.err = LUA_NOREF;
        else
            pcb.err = LUA_NOREF;
        lb_cb_free(L, &tcb);
        lb_cb_free(L, &pcb);
        if (err_ref != LUA_NOREF) {
            lua_rawgeti(L, LUA_REGISTRYINDEX, err_ref);
            luaL_unref(L, LUA_REGISTRYINDEX, err_ref);
            return lua_error(L);
        }
    }
    lb_cb_rethrow(L, &c->cb[0]);
    CHECK(L, rc, c->h);
    push_result(L, &r);
    lb_push_tokens(L, toks, nt);
    lua_setfield(L, -2, "tokens");
    lua_pushlstring(L, text, nx);
    lua_setfield(L, -2, "text");
    return 1;
}

/* llm.generate(ctx, sampler, tokenizer, prompt [, opts]) -> {tokens, text, reason, ...} */
static int l_generate(lua_State *L) {
    lua_settop(L, 5); /* optional args: pushes below must not look like them */
    lh *c = lb_check_lh(L, 1, K_CTX), *s = lb_check_lh(L, 2, K_SAMPLER), *t = lb_check_lh(L, 3, K_TOK);
    return lb_run_generate(L, c, s, t, 4, 5);
}

/* ---- planning ---- */

static void push_plan(lua_State *L, const llm_plan *p) {
    lua_newtable(L);
    lb_set_int(L, "approach", p->approach);
    lb_set_num(L, "compute", p->compute);
    lb_set_num(L, "params", p->params);
    lb_set_num(L, "tokens", p->tokens);
    lb_set_num(L, "tokens_per_param", p->tokens_per_param);
    lb_set_num(L, "loss", p->loss);
}

/* Constants argument: nil (Hoffmann 2022), a preset number or name, or a
 * table of fields (E, A, B, alpha, beta, approach1_a, ...; preset= base). */
static const llm_plan_constants *constants_arg(lua_State *L, int idx, llm_plan_constants *k) {
    static const char *const presets[] = {"", "hoffmann2022", "hoffmann2022-unrounded",
                                          "besiroglu2024", NULL};
    if (lua_isnoneornil(L, idx))
        return NULL;
    if (lua_type(L, idx) == LUA_TSTRING) {
        int p = luaL_checkoption(L, idx, NULL, presets);
        CHECKP(L, llm_plan_constants_preset(k, sizeof *k, p), NULL);
        return k;
    }
    if (lua_type(L, idx) == LUA_TNUMBER) {
        CHECKP(L, llm_plan_constants_preset(k, sizeof *k, (int32_t)lb_check_int(L, idx, 0, 100)),
              NULL);
        return k;
    }
    luaL_checktype(L, idx, LUA_TTABLE);
    LLM_PLAN_CONSTANTS_INIT(k);
    if (lb_opt_field(L, idx, "preset")) {
        int32_t p = lua_type(L, -1) == LUA_TSTRING ? luaL_checkoption(L, -1, NULL, presets)
                                                  : lb_to_i32(L, -1, "option 'preset'");
        CHECKP(L, llm_plan_constants_preset(k, sizeof *k, p), NULL);
    }
    lua_pop(L, 1);
#define D(f) k->f = lb_field_num(L, idx, #f, k->f)
    D(E); D(A); D(B); D(alpha); D(beta); D(approach1_a); D(approach1_coef); D(approach2_a);
    D(approach2_coef);
#undef D
    return k;
}

/* llm.plan_constants([preset]) -> table of the constants */
static int l_plan_constants(lua_State *L) {
    lua_settop(L, 1); /* optional args: pushes below must not look like them */
    llm_plan_constants k;
    if (!constants_arg(L, 1, &k))
        CHECK(L, LLM_PLAN_CONSTANTS_INIT(&k), NULL);
    lua_newtable(L);
    lb_set_int(L, "preset", k.preset);
    lb_set_num(L, "E", k.E);
    lb_set_num(L, "A", k.A);
    lb_set_num(L, "B", k.B);
    lb_set_num(L, "alpha", k.alpha);
    lb_set_num(L, "beta", k.beta);
    lb_set_num(L, "approach1_a", k.approach1_a);
    lb_set_num(L, "approach1_coef", k.approach1_coef);
    lb_set_num(L, "approach2_a", k.approach2_a);
    lb_set_num(L, "approach2_coef", k.approach2_coef);
    return 1;
}

typedef int (*plan_fn)(llm_plan *, const llm_plan_constants *, int32_t, double);

static int plan_with(lua_State *L, plan_fn fn) {
    lua_settop(L, 3); /* optional args: pushes below must not look like them */
    double v = luaL_checknumber(L, 1);
    int32_t approach = (int32_t)lb_opt_int(L, 2, 3, I32MIN, I32MAX);
    llm_plan_constants k;
    const llm_plan_constants *kp = constants_arg(L, 3, &k);
    llm_plan p;
    LLM_PLAN_INIT(&p);
    CHECK(L, fn(&p, kp, approach, v), NULL);
    push_plan(L, &p);
    return 1;
}

/* llm.plan_for_compute(C [, approach [, constants]]) -> {compute, params, tokens, ...} */
static int l_plan_for_compute(lua_State *L) { return plan_with(L, llm_plan_for_compute); }
static int l_plan_for_params(lua_State *L) { return plan_with(L, llm_plan_for_params); }
static int l_plan_for_tokens(lua_State *L) { return plan_with(L, llm_plan_for_tokens); }

/* llm.plan_loss(N, D [, constants]) */
static int l_plan_loss(lua_State *L) {
    lua_settop(L, 3); /* optional args: pushes below must not look like them */
    double n = luaL_checknumber(L, 1), d = luaL_checknumber(L, 2), out = 0;
    llm_plan_constants k;
    const llm_plan_constants *kp = constants_arg(L, 3, &k);
    CHECK(L, llm_plan_loss(&out, kp, n, d), NULL);
    lua_pushnumber(L, out);
    return 1;
}

/* llm.plan_seconds(tokens, tokens_per_second [, params [, measured_params]]) */
static int l_plan_seconds(lua_State *L) {
    lua_settop(L, 4); /* optional args: pushes below must not look like them */
    double out = 0;
    CHECK(L, llm_plan_seconds(&out, luaL_checknumber(L, 1), luaL_checknumber(L, 2),
                              luaL_optnumber(L, 3, 0), luaL_optnumber(L, 4, 0)),
          NULL);
    lua_pushnumber(L, out);
    return 1;
}

/* llm.plan_budget(seconds, tokens_per_second, measured_params) -> FLOPs */
static int l_plan_budget(lua_State *L) {
    lua_settop(L, 3); /* optional args: pushes below must not look like them */
    double out = 0;
    CHECK(L, llm_plan_budget(&out, luaL_checknumber(L, 1), luaL_checknumber(L, 2),
                             luaL_checknumber(L, 3)),
          NULL);
    lua_pushnumber(L, out);
    return 1;
}

/* llm.plan_suggest_config(target_params [, base_config]) -> config, n_params */
static int l_plan_suggest_config(lua_State *L) {
    lua_settop(L, 2); /* optional args: pushes below must not look like them */
    double target = luaL_checknumber(L, 1);
    llm_model_config base, out;
    uint64_t n = 0;
    if (!lua_isnoneornil(L, 2))
        lb_cfg_from_table(L, 2, &base);
    LLM_MODEL_CONFIG_INIT(&out);
    CHECK(L, llm_plan_suggest_config(&out, &n, lua_isnoneornil(L, 2) ? NULL : &base, target),
          NULL);
    lb_push_cfg(L, &out);
    lb_push_count(L, (lua_Number)n);
    return 2;
}

/* llm.count_model(config) -> {n_params, ..., flops_train_6n} */
static int l_count_model(lua_State *L) {
    lua_settop(L, 1); /* optional args: pushes below must not look like them */
    llm_model_config c;
    llm_count k;
    lb_cfg_from_table(L, 1, &c);
    LLM_COUNT_INIT(&k);
    CHECK(L, llm_count_model(&k, &c), NULL);
    lua_newtable(L);
    lb_set_int(L, "n_params", (lua_Number)k.n_params);
    lb_set_int(L, "n_params_embedding", (lua_Number)k.n_params_embedding);
    lb_set_int(L, "n_params_non_embedding", (lua_Number)k.n_params_non_embedding);
    lb_set_num(L, "flops_fwd_kaplan", k.flops_fwd_kaplan);
    lb_set_num(L, "flops_fwd_chinchilla", k.flops_fwd_chinchilla);
    lb_set_num(L, "flops_fwd_chinchilla_embed", k.flops_fwd_chinchilla_embed);
    lb_set_num(L, "flops_train_kaplan", k.flops_train_kaplan);
    lb_set_num(L, "flops_train_chinchilla", k.flops_train_chinchilla);
    lb_set_num(L, "flops_train_6n", k.flops_train_6n);
    return 1;
}

/* llm.count_train_flops(config, n_tokens [, method = 1 (6N) | 2 | 3]) */
static int l_count_train_flops(lua_State *L) {
    lua_settop(L, 3); /* optional args: pushes below must not look like them */
    llm_model_config c;
    double out = 0;
    lb_cfg_from_table(L, 1, &c);
    CHECK(L, llm_count_train_flops(&out, &c, luaL_checknumber(L, 2),
                                   (int32_t)lb_opt_int(L, 3, LLM_FLOPS_6N, I32MIN, I32MAX)),
          NULL);
    lua_pushnumber(L, out);
    return 1;
}

/* llm.fit_scaling_law(params, tokens, loss [, {grid=, max_iter=, huber_delta=,
 * grad_tol=, progress=}]) -> {E, A, B, alpha, beta, ...}; raises when no
 * start converged (the message says so) */
static int l_fit_scaling_law(lua_State *L) {
    lua_settop(L, 4); /* optional args: pushes below must not look like them */
    size_t n1, n2, n3;
    double *p = lb_check_doubles(L, 1, &n1), *d = lb_check_doubles(L, 2, &n2),
           *l = lb_check_doubles(L, 3, &n3);
    llm_fit_opts o;
    llm_fit_result r;
    lcb cb;
    int rc;
    if (n1 != n2 || n1 != n3)
        return luaL_error(L, "llm: params, tokens and loss differ in length");
    lb_check_opts(L, 4);
    LLM_FIT_OPTS_INIT(&o);
    if (lb_opt_field(L, 4, "grid") && lua_type(L, -1) == LUA_TSTRING)
        o.grid = strcmp(lua_tostring(L, -1), "coarse") == 0 ? LLM_FIT_GRID_COARSE
                 : strcmp(lua_tostring(L, -1), "paper") == 0 ? LLM_FIT_GRID_PAPER : -1;
    else
        o.grid = (int32_t)lb_field_int(L, 4, "grid", 0, I32MIN, I32MAX);
    lua_pop(L, 1);
    o.max_iter = (uint32_t)lb_field_int(L, 4, "max_iter", 0, 0, U32MAX);
    o.huber_delta = lb_field_num(L, 4, "huber_delta", 0);
    o.grad_tol = lb_field_num(L, 4, "grad_tol", 0);
    lb_opt_field(L, 4, "progress");
    lb_cb_set(L, &cb, -1);
    lua_pop(L, 1);
    if (cb.fn != LUA_NOREF) {
        o.progress = lb_progress_tramp;
        o.progress_ud = &cb;
    }
    LLM_FIT_RESULT_INIT(&r);
    rc = llm_fit_scaling_law(&r, p, d, l, n1, &o);
    if (cb.err != LUA_NOREF) {
        luaL_unref(L, LUA_REGISTRYINDEX, cb.fn);
        cb.fn = LUA_NOREF;
        lb_cb_rethrow(L, &cb);
    }
    lb_cb_free(L, &cb);
    CHECK(L, rc, NULL);
    lua_newtable(L);
    lua_pushboolean(L, r.converged);
    lua_setfield(L, -2, "converged");
    lb_set_num(L, "E", r.E);
    lb_set_num(L, "A", r.A);
    lb_set_num(L, "B", r.B);
    lb_set_num(L, "alpha", r.alpha);
    lb_set_num(L, "beta", r.beta);
    lb_set_num(L, "objective", r.objective);
    lb_set_num(L, "frontier_a", r.frontier_a);
    lb_set_num(L, "frontier_b", r.frontier_b);
    lb_set_num(L, "frontier_G", r.frontier_G);
    lb_set_int(L, "n_starts", r.n_starts);
    lb_set_int(L, "n_converged", r.n_converged);
    lb_set_num(L, "iterations", (lua_Number)r.iterations);
    return 1;
}

/* ---- registration tables ---- */

const luaL_Reg lb_run_functions[] = {
    {"sampler", lb_l_sampler_create},
    {"param_bounds", l_param_bounds},
    {"trainer", l_trainer_create},
    {"tokens_load", l_tokens_load},
    {"generator", l_gen_create},
    {"generate", l_generate},
    {"gen_reason_str", l_gen_reason_str},
    {"count_model", l_count_model},
    {"count_train_flops", l_count_train_flops},
    {"plan_constants", l_plan_constants},
    {"plan_for_compute", l_plan_for_compute},
    {"plan_for_params", l_plan_for_params},
    {"plan_for_tokens", l_plan_for_tokens},
    {"plan_loss", l_plan_loss},
    {"plan_seconds", l_plan_seconds},
    {"plan_budget", l_plan_budget},
    {"plan_suggest_config", l_plan_suggest_config},
    {"fit_scaling_law", l_fit_scaling_law},
    {NULL, NULL},
};

const luaL_Reg lb_sampler_methods[] = {
    {"sample", sm_sample}, {"probs", sm_probs}, {"accept", sm_accept}, {"reset", sm_reset},
    {"set", sm_set}, {"get", sm_get}, {NULL, NULL},
};
const luaL_Reg lb_trainer_methods[] = {
    {"step", tr_step}, {"eval", tr_eval}, {"lr", tr_lr}, {"n_steps", tr_n_steps},
    {"grad_norm", tr_grad_norm}, {"grad", tr_grad}, {"next_batch", tr_next_batch},
    {"save", tr_save}, {"load", tr_load}, {NULL, NULL},
};
const luaL_Reg lb_gen_methods[] = {
    {"feed", g_feed}, {"next", g_next}, {"step", g_step}, {"cancel", g_cancel},
    {"reset", g_reset}, {"reason", g_reason}, {"max_piece", g_max_piece},
    {"result", g_result}, {NULL, NULL},
};
