/*
 * version.c - run-time version query and the ABI check bindings call.
 */
#include "llm_core.h"

uint32_t llm_version_number(void) { return LLM_VERSION_NUMBER; }

const char *llm_version_string(void) { return LLM_VERSION_STRING; }

int llm_abi_check(uint32_t header_version, size_t model_opts_size) {
    uint32_t major = header_version / 10000;
    if (major != LLM_VERSION_MAJOR)
        return llm__err(NULL, LLM_ERR_ABI,
                        "llm_abi_check: caller built for libllm %u.x, but the "
                        "loaded library is %s (different major version)",
                        (unsigned)major, LLM_VERSION_STRING);
    if (header_version > LLM_VERSION_NUMBER)
        return llm__err(NULL, LLM_ERR_ABI,
                        "llm_abi_check: caller built against libllm %u.%u.%u, "
                        "newer than the loaded %s",
                        (unsigned)major, (unsigned)(header_version / 100 % 100),
                        (unsigned)(header_version % 100), LLM_VERSION_STRING);
    if (model_opts_size < sizeof(uint32_t) || model_opts_size > sizeof(llm_model_opts))
        return llm__err(NULL, LLM_ERR_ABI,
                        "llm_abi_check: caller's llm_model_opts is %zu bytes, "
                        "this library's is %zu (header and library disagree)",
                        model_opts_size, sizeof(llm_model_opts));
    return LLM_OK;
}
