// The public header compiles as C++11 and links from C++: extern "C"
// linkage, no C-only constructs.
#include "llm.h"

#include <cstdio>
#include <cstring>

int main() {
    llm_model_opts o;
    if (LLM_MODEL_OPTS_INIT(&o) != LLM_OK || o.struct_size != sizeof o) {
        std::fprintf(stderr, "opts init failed\n");
        return 1;
    }
    if (std::strcmp(llm_version_string(), LLM_VERSION_STRING) != 0) {
        std::fprintf(stderr, "version mismatch\n");
        return 1;
    }
    if (llm_abi_check(LLM_VERSION_NUMBER, sizeof(llm_model_opts)) != LLM_OK) {
        std::fprintf(stderr, "abi check: %s\n", llm_last_errmsg());
        return 1;
    }
    std::printf("C++ OK: libllm %s\n", llm_version_string());
    return 0;
}
