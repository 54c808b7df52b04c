/*
 * cmd_quantize.c - `libllm quantize IN OUT --type q8_0`: write a GGUF
 * model with its weight matrices quantized (llm_model_quantize).
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static void usage(FILE *f) {
    fputs("Usage: libllm quantize IN.gguf OUT.gguf [--type q8_0] [--json]\n"
          "\n"
          "Quantize a model's weight matrices, as llama.cpp's llama-quantize does:\n"
          "every 2-D weight matrix whose rows are a multiple of 32 values (token\n"
          "embedding and output included) becomes Q8_0 (blocks of 32 weights, an\n"
          "fp16 scale and 32 int8 values, same rounding as llama.cpp, so files\n"
          "interoperate both ways); the position embedding, norms and biases\n"
          "stay F32. IN is any GGUF model libllm loads (F32, F16, BF16, Q8_0).\n"
          "The output is written atomically (temporary file, then rename).\n"
          "\n"
          "Options:\n"
          "  --type T    quantization type: q8_0 (the default and only one)\n"
          "  --json      print {\"in\": ..., \"out\": ..., \"type\": ..., \"bytes_in\": ...,\n"
          "              \"bytes_out\": ...} on success\n"
          "  -h, --help  show this help\n",
          f);
}

static long long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

int cmd_quantize(int argc, char **argv) {
    const char *in = NULL, *out = NULL;
    llm_quantize_opts o;
    int i, st, json = 0;
    LLM_QUANTIZE_OPTS_INIT(&o);
    o.type = LLM_TYPE_Q8_0;
    for (i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return CLI_OK;
        } else if (strcmp(argv[i], "--type") == 0) {
            if (i + 1 >= argc)
                return cli_usage_error("quantize", "quantize: --type needs a value (q8_0)");
            i++;
            if (strcmp(argv[i], "q8_0") != 0 && strcmp(argv[i], "Q8_0") != 0)
                return cli_usage_error("quantize", "quantize: unknown --type '%s' (q8_0)",
                                       argv[i]);
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return cli_usage_error("quantize", "quantize: unknown option '%s'", argv[i]);
        } else if (!in) {
            in = argv[i];
        } else if (!out) {
            out = argv[i];
        } else {
            return cli_usage_error("quantize", "quantize: unexpected argument '%s'", argv[i]);
        }
    }
    if (!in || !out)
        return cli_usage_error("quantize", "quantize: IN and OUT are required");
    st = llm_model_quantize(in, out, &o);
    if (st)
        return cli_status_error(st, NULL, "cannot quantize '%s' to '%s'", in, out);
    if (json) {
        printf("{\"in\": ");
        cli_json_string(stdout, in);
        printf(", \"out\": ");
        cli_json_string(stdout, out);
        printf(", \"type\": \"q8_0\", \"bytes_in\": %lld, \"bytes_out\": %lld}\n",
               file_size(in), file_size(out));
    } else {
        fprintf(stderr, "libllm: wrote %s (Q8_0, %lld bytes; %lld before)\n", out,
                file_size(out), file_size(in));
    }
    return CLI_OK;
}
