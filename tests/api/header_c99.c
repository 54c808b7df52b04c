/* The public header must compile on its own as strict C99 (with
 * -pedantic-errors -Werror) and declare every type it uses. */
#include "llm.h"

int llm_header_c99_check(void);
int llm_header_c99_check(void) {
    llm_model_opts o;
    llm_model_config c;
    llm_progress p;
    (void)p;
    if (LLM_MODEL_OPTS_INIT(&o) != LLM_OK)
        return 1;
    return LLM_MODEL_CONFIG_INIT(&c);
}
