/*
 * llm_lua.c - the Lua module `llm`: require "llm" loads llm.so.
 *
 * A thin layer over the C ABI, written against the Lua 5.4 API with the
 * few shims the Lua 5.1 API (LuaJIT) needs. Failed calls raise Lua errors
 * whose message is libllm's status name plus its detail message.
 */
#include <lauxlib.h>
#include <lua.h>

#include "llm.h"

#if LUA_VERSION_NUM < 502
/* Lua 5.1 / LuaJIT: register functions into the table on the top. */
static void llm_setfuncs(lua_State *L, const luaL_Reg *l) {
    for (; l->name; l++) {
        lua_pushcfunction(L, l->func);
        lua_setfield(L, -2, l->name);
    }
}
#else
#define llm_setfuncs(L, l) luaL_setfuncs((L), (l), 0)
#endif

/* Raises a Lua error for a failed libllm status. */
static int raise_status(lua_State *L, int status, const void *handle) {
    const char *detail = llm_errmsg(handle);
    if (detail && *detail)
        return luaL_error(L, "%s: %s", llm_status_str(status), detail);
    return luaL_error(L, "%s", llm_status_str(status));
}

/* llm.version() -> "MAJOR.MINOR.PATCH" of the loaded library */
static int l_version(lua_State *L) {
    lua_pushstring(L, llm_version_string());
    return 1;
}

/* llm.version_number() -> MAJOR*10000 + MINOR*100 + PATCH */
static int l_version_number(lua_State *L) {
    lua_pushnumber(L, (lua_Number)llm_version_number());
    return 1;
}

/* llm.status_str(code) -> name and meaning of a status code */
static int l_status_str(lua_State *L) {
    lua_Number n = luaL_checknumber(L, 1);
    if (n != (lua_Number)(int)n)
        return luaL_argerror(L, 1, "status codes are integers");
    lua_pushstring(L, llm_status_str((int)n));
    return 1;
}

static const luaL_Reg functions[] = {
    {"version", l_version},
    {"version_number", l_version_number},
    {"status_str", l_status_str},
    {NULL, NULL},
};

#if defined(__GNUC__)
__attribute__((visibility("default")))
#endif
int luaopen_llm(lua_State *L);

int luaopen_llm(lua_State *L) {
    /* Refuse to load against an incompatible libllm.so. */
    int rc = llm_abi_check(LLM_VERSION_NUMBER, sizeof(llm_model_opts));
    if (rc != LLM_OK)
        return raise_status(L, rc, NULL);
    lua_newtable(L);
    llm_setfuncs(L, functions);
    lua_pushstring(L, LLM_VERSION_STRING);
    lua_setfield(L, -2, "_VERSION");
    return 1;
}
