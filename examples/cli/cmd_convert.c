/*
 * cmd_convert.c - `libllm convert SRC OUT.gguf`: import a Hugging Face
 * checkpoint directory (or re-write a GGUF file) as an F32 GGUF file.
 */
#include <string.h>

#include "cli.h"

static void usage(FILE *f) {
    fputs("Usage: libllm convert SRC OUT.gguf [--tokenizer PATH]\n"
          "\n"
          "Convert a model to GGUF (F32 tensors, llama.cpp names and metadata).\n"
          "SRC is a Hugging Face checkpoint directory (config.json of a\n"
          "GPT2LMHeadModel or LlamaForCausalLM with model.safetensors or sharded\n"
          "model-*.safetensors + model.safetensors.index.json, plus tokenizer\n"
          "files when present), a llama2.c checkpoint (.bin, legacy or version 1;\n"
          "its tokenizer.bin is not converted) or a GGUF file (F32/F16/BF16).\n"
          "The output is written atomically (temporary file, then rename).\n"
          "\n"
          "Options:\n"
          "  --tokenizer PATH  store this tokenizer in the GGUF (e.g. llama2.c's\n"
          "                    tokenizer.bin, or any file llm_tokenizer_load reads)\n"
          "  -h, --help  show this help\n",
          f);
}

int cmd_convert(int argc, char **argv) {
    const char *src = NULL, *dst = NULL, *tok_path = NULL;
    llm_model *m = NULL;
    uint64_t np = 0;
    int i, st;
    for (i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return CLI_OK;
        } else if (strcmp(argv[i], "--tokenizer") == 0) {
            if (i + 1 >= argc)
                return cli_usage_error("convert", "convert: --tokenizer needs a path");
            tok_path = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return cli_usage_error("convert", "convert: unknown option '%s'", argv[i]);
        } else if (!src) {
            src = argv[i];
        } else if (!dst) {
            dst = argv[i];
        } else {
            return cli_usage_error("convert", "convert: unexpected argument '%s'", argv[i]);
        }
    }
    if (!src || !dst)
        return cli_usage_error("convert", "convert: SRC and OUT.gguf are required");
    st = llm_model_import(&m, src, NULL);
    if (st)
        return cli_status_error(st, NULL, "cannot import '%s'", src);
    if (tok_path) {
        llm_tokenizer *tok = NULL;
        if ((st = llm_tokenizer_load(&tok, tok_path, NULL)) != LLM_OK) {
            llm_model_free(m);
            return cli_status_error(st, NULL, "cannot load tokenizer '%s'", tok_path);
        }
        if ((st = llm_model_set_tokenizer(m, tok)) != LLM_OK) {
            st = cli_status_error(st, m, "cannot use tokenizer '%s'", tok_path);
            llm_tokenizer_free(tok);
            llm_model_free(m);
            return st;
        }
    }
    st = llm_model_save(m, dst);
    if (st) {
        st = cli_status_error(st, m, "cannot write '%s'", dst);
        llm_model_free(m);
        return st;
    }
    llm_model_n_params(&np, m);
    fprintf(stderr, "libllm: wrote %s (%llu parameters%s)\n", dst, (unsigned long long)np,
            llm_model_tokenizer(m) ? ", with tokenizer" : "");
    llm_model_free(m);
    return CLI_OK;
}
