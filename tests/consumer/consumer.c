/* A program outside the project, built against an installed libllm with
 * pkg-config and with find_package(libllm): it checks the ABI and prints
 * the version. */
#include <stdio.h>
#include <string.h>

#include <llm.h>

int main(void) {
    int rc = llm_abi_check(LLM_VERSION_NUMBER, sizeof(llm_model_opts));
    if (rc != LLM_OK) {
        fprintf(stderr, "consumer: %s: %s\n", llm_status_str(rc), llm_last_errmsg());
        return 1;
    }
    if (strcmp(llm_version_string(), LLM_VERSION_STRING) != 0) {
        fprintf(stderr, "consumer: header %s, library %s\n", LLM_VERSION_STRING,
                llm_version_string());
        return 1;
    }
    printf("consumer OK: libllm %s\n", llm_version_string());
    return 0;
}
