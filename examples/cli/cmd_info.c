/*
 * cmd_info.c - `libllm info MODEL [--json]`: a model file's configuration.
 */
#include <string.h>

#include "cli.h"

static void usage(FILE *f) {
    fputs("Usage: libllm info MODEL [--json]\n"
          "\n"
          "Print the architecture and sizes of a model: a GGUF file or a\n"
          "Hugging Face checkpoint directory.\n"
          "\n"
          "Options:\n"
          "  --json      print one JSON object: arch, n_params, n_layer, n_embd,\n"
          "              n_head, n_head_kv, n_ff, n_ctx, vocab_size, file_type,\n"
          "              tokenizer\n"
          "  -h, --help  show this help\n",
          f);
}

static const char *ftype_name(uint32_t t) {
    switch (t) {
    case 0: return "F32";
    case 1: return "F16";
    case 7: return "Q8_0";
    case 32: return "BF16";
    default: return "other";
    }
}

int cmd_info(int argc, char **argv) {
    const char *path = NULL;
    int json = 0, i, st;
    llm_model *m = NULL;
    llm_model_config c;
    uint64_t np;
    uint32_t ft;
    const char *arch;
    for (i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return CLI_OK;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return cli_usage_error("info", "info: unknown option '%s'", argv[i]);
        } else if (!path) {
            path = argv[i];
        } else {
            return cli_usage_error("info", "info: unexpected argument '%s'", argv[i]);
        }
    }
    if (!path)
        return cli_usage_error("info", "info: a MODEL path is required");
    st = llm_model_import(&m, path, NULL);
    if (st)
        return cli_status_error(st, NULL, "cannot load '%s'", path);
    LLM_MODEL_CONFIG_INIT(&c);
    if ((st = llm_model_get_config(&c, m)) != LLM_OK ||
        (st = llm_model_n_params(&np, m)) != LLM_OK ||
        (st = llm_model_file_type(&ft, m)) != LLM_OK) {
        st = cli_status_error(st, m, "cannot query '%s'", path);
        llm_model_free(m);
        return st;
    }
    arch = c.arch == LLM_ARCH_LLAMA ? "llama" : "gpt2";
    if (json) {
        printf("{\"path\": ");
        cli_json_string(stdout, path);
        printf(", \"arch\": \"%s\", \"n_params\": %llu, \"n_layer\": %u, \"n_embd\": %u, "
               "\"n_head\": %u, \"n_head_kv\": %u, \"n_ff\": %u, \"n_ctx\": %u, "
               "\"vocab_size\": %u, \"norm_eps\": %g, \"rope_base\": %g, \"tied_output\": %s, "
               "\"qkv_bias\": %s, \"file_type\": \"%s\", \"tokenizer\": %s}\n",
               arch, (unsigned long long)np, (unsigned)c.n_layer, (unsigned)c.n_embd,
               (unsigned)c.n_head, (unsigned)c.n_head_kv, (unsigned)c.n_ff, (unsigned)c.n_ctx,
               (unsigned)c.n_vocab, (double)c.norm_eps, (double)c.rope_base,
               (c.flags & LLM_CFG_UNTIED_OUTPUT) ? "false" : "true",
               (c.flags & LLM_CFG_QKV_BIAS) ? "true" : "false", ftype_name(ft),
               llm_model_tokenizer(m) ? "true" : "false");
    } else {
        printf("path:        %s\n", path);
        printf("arch:        %s\n", arch);
        printf("n_params:    %llu\n", (unsigned long long)np);
        printf("n_layer:     %u\n", (unsigned)c.n_layer);
        printf("n_embd:      %u\n", (unsigned)c.n_embd);
        printf("n_head:      %u\n", (unsigned)c.n_head);
        printf("n_head_kv:   %u\n", (unsigned)c.n_head_kv);
        printf("n_ff:        %u\n", (unsigned)c.n_ff);
        printf("n_ctx:       %u\n", (unsigned)c.n_ctx);
        printf("vocab_size:  %u\n", (unsigned)c.n_vocab);
        printf("output:      %s\n", (c.flags & LLM_CFG_UNTIED_OUTPUT) ? "untied" : "tied");
        printf("file_type:   %s\n", ftype_name(ft));
        printf("tokenizer:   %s\n", llm_model_tokenizer(m) ? "yes" : "no");
    }
    llm_model_free(m);
    return CLI_OK;
}
