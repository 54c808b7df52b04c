/*
 * cmd_version.c - `libllm version`: the library's version and ABI.
 */
#include <string.h>

#include "cli.h"

static void usage(FILE *f) {
    fputs("Usage: libllm version [--json]\n"
          "\n"
          "Print the version of the libllm library in use (which may differ\n"
          "from the version the tool was built with) and its ABI major.\n"
          "\n"
          "Options:\n"
          "  --json      print {\"version\": ..., \"version_number\": ..., \"abi\": ...}\n"
          "  -h, --help  show this help\n",
          f);
}

int cmd_version(int argc, char **argv) {
    int json = 0, i;
    uint32_t v;
    for (i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return CLI_OK;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else {
            return cli_usage_error("version", "version: unexpected argument '%s'", argv[i]);
        }
    }
    v = llm_version_number();
    if (json) {
        printf("{\"version\": ");
        cli_json_string(stdout, llm_version_string());
        printf(", \"version_number\": %u, \"abi\": %u, \"header_version\": ",
               (unsigned)v, (unsigned)(v / 10000));
        cli_json_string(stdout, LLM_VERSION_STRING);
        printf("}\n");
    } else {
        printf("libllm %s (ABI %u)\n", llm_version_string(), (unsigned)(v / 10000));
    }
    return CLI_OK;
}
