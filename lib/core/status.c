/*
 * status.c - status code names and error detail messages.
 *
 * Two channels carry the detail of a failure (abi.md, rule 3): the handle
 * the call was made on (SQLite's errmsg), and a thread-local buffer that
 * also covers constructors which never produced a handle (libgit2's
 * git_error_last). llm__err() fills both, so a binding can always read
 * llm_last_errmsg() right after any failed call on the same thread.
 */
#include <stdio.h>
#include <string.h>

#include "llm_core.h"

const char *llm_status_str(int status) {
    switch (status) {
    case LLM_OK:                   return "LLM_OK: success";
    case LLM_AGAIN:                return "LLM_AGAIN: not finished, call again";
    case LLM_DONE:                 return "LLM_DONE: finished";
    case LLM_ERR_INVALID:          return "LLM_ERR_INVALID: invalid argument";
    case LLM_ERR_IO:               return "LLM_ERR_IO: input/output error";
    case LLM_ERR_BAD_FILE:         return "LLM_ERR_BAD_FILE: malformed or truncated data";
    case LLM_ERR_UNSUPPORTED:      return "LLM_ERR_UNSUPPORTED: not supported";
    case LLM_ERR_NOMEM:            return "LLM_ERR_NOMEM: out of memory";
    case LLM_ERR_RANGE:            return "LLM_ERR_RANGE: value out of range";
    case LLM_ERR_BUFFER_TOO_SMALL: return "LLM_ERR_BUFFER_TOO_SMALL: output buffer too small";
    case LLM_ERR_CANCELLED:        return "LLM_ERR_CANCELLED: cancelled by a callback";
    case LLM_ERR_INTERNAL:         return "LLM_ERR_INTERNAL: internal error";
    case LLM_ERR_STATE:            return "LLM_ERR_STATE: call not valid in this state";
    case LLM_ERR_ABI:              return "LLM_ERR_ABI: incompatible library version";
    case LLM_ERR_NOT_FOUND:        return "LLM_ERR_NOT_FOUND: not found";
    case LLM_ERR_NO_CONVERGENCE:   return "LLM_ERR_NO_CONVERGENCE: did not converge";
    default:                       return "unknown status";
    }
}

static _Thread_local char tl_errmsg[LLM__ERRMSG_MAX];

int llm__errv(llm__obj *o, int status, const char *fmt, va_list ap) {
    /* Format into a local buffer first: an argument may be
     * llm_last_errmsg() itself (re-reporting a nested failure), and
     * vsnprintf must not read from the buffer it writes. */
    char buf[LLM__ERRMSG_MAX];
    vsnprintf(buf, sizeof buf, fmt, ap);
    memcpy(tl_errmsg, buf, sizeof tl_errmsg);
    if (o) {
        memcpy(o->errmsg, tl_errmsg, sizeof o->errmsg);
        o->status = status;
    }
    if (llm__log_enabled(LLM_LOG_DEBUG))
        llm__log(LLM_LOG_DEBUG, "%s (%s)", tl_errmsg, llm_status_str(status));
    return status;
}

int llm__err(llm__obj *o, int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    llm__errv(o, status, fmt, ap);
    va_end(ap);
    return status;
}

const char *llm_last_errmsg(void) { return tl_errmsg; }

const char *llm_errmsg(const void *handle) {
    const llm__obj *o = handle;
    if (!o)
        return tl_errmsg;
    switch (o->magic) {
    case LLM__MAGIC_MODEL:
    case LLM__MAGIC_TOKENIZER:
    case LLM__MAGIC_CTX:
    case LLM__MAGIC_SAMPLER:
    case LLM__MAGIC_TRAINER:
    case LLM__MAGIC_GEN:
        return o->errmsg;
    case LLM__MAGIC_DEAD:
        return "llm_errmsg: the handle was already freed";
    default:
        return "llm_errmsg: not a libllm handle";
    }
}

int llm__progress(llm__obj *o, llm_progress_fn fn, void *ud, int32_t phase,
                  uint64_t done, uint64_t total) {
    llm_progress p;
    if (!fn)
        return LLM_OK;
    p.struct_size = (uint32_t)sizeof p;
    p.phase = phase;
    p.done = done;
    p.total = total;
    if (fn(ud, &p) != 0)
        return llm__err(o, LLM_ERR_CANCELLED,
                        "cancelled by the progress callback at %llu of %llu",
                        (unsigned long long)done, (unsigned long long)total);
    return LLM_OK;
}
