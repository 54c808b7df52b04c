/*
 * log.c - the process-wide log hook.
 *
 * The library is silent unless the host installs a hook: nothing is ever
 * written to stdout or stderr. Messages are formatted into a stack buffer
 * (no allocation), cut at LOG_LINE_MAX bytes, and delivered synchronously
 * on the calling thread.
 */
#include <stdio.h>

#include "llm_core.h"

#define LOG_LINE_MAX 1024

/* Set only while no handle is live (checked), read without locking. */
static llm_log_fn g_log_fn;
static void *g_log_ud;
static int g_log_max = LLM_LOG_WARN;

int llm_set_log(llm_log_fn fn, void *ud, int32_t max_level) {
    if (max_level < 0 || max_level > LLM_LOG_DEBUG)
        return llm__err(NULL, LLM_ERR_INVALID,
                        "llm_set_log: max_level %d is outside [0, %d]",
                        (int)max_level, LLM_LOG_DEBUG);
    if (llm__obj_live() != 0)
        return llm__err(NULL, LLM_ERR_STATE,
                        "llm_set_log: %ld handle(s) still live; set the log "
                        "hook before creating any handle", llm__obj_live());
    g_log_fn = fn;
    g_log_ud = fn ? ud : NULL;
    g_log_max = max_level;
    return LLM_OK;
}

int llm__log_enabled(int level) { return g_log_fn != NULL && level <= g_log_max; }

void llm__logv(int level, const char *fmt, va_list ap) {
    char line[LOG_LINE_MAX];
    if (!llm__log_enabled(level))
        return;
    vsnprintf(line, sizeof line, fmt, ap);
    g_log_fn(g_log_ud, level, line);
}

void llm__log(int level, const char *fmt, ...) {
    va_list ap;
    if (!llm__log_enabled(level))
        return;
    va_start(ap, fmt);
    llm__logv(level, fmt, ap);
    va_end(ap);
}
