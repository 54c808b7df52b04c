/*
 * main.c - the `libllm` command-line tool: global options and dispatch.
 *
 * Usage: libllm [--version] [--help] <command> [<args>]
 *
 * Each subcommand is a cmd_<name>() in cmd_<name>.c; adding one means one
 * declaration and one line in the table below.
 */
#include <string.h>

#include "cli.h"

static int cmd_help(int argc, char **argv);

static const cli_command commands[] = {
    {"help", "show help for a command", cmd_help},
    {"version", "print the library version", cmd_version},
    {"tokenize", "encode text into token ids", cmd_tokenize},
    {"detokenize", "decode token ids into text", cmd_detokenize},
    {"tokenizer-train", "learn a BPE vocabulary from text", cmd_tokenizer_train},
    {"plan", "compute-optimal model size, tokens and loss (Chinchilla)", cmd_plan},
    {"fit", "fit a scaling law L(N, D) to your runs (CSV)", cmd_fit},
    {"info", "show a model's architecture and sizes", cmd_info},
    {"eval", "loss, perplexity and bits per byte of a model on a text", cmd_eval},
    {"convert", "convert a Hugging Face checkpoint to GGUF", cmd_convert},
    {"quantize", "quantize a model's weight matrices to Q8_0", cmd_quantize},
    {"attention", "show which tokens a layer/head attends to (table, PNG)", cmd_attention},
    {"train", "train a model on a text or token file (AdamW)", cmd_train},
    {"generate", "continue a prompt with a model, streaming the text", cmd_generate},
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

static const cli_command *find_command(const char *name) {
    size_t i;
    for (i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void usage(FILE *f) {
    size_t i;
    fputs("Usage: libllm [--version] [--help] <command> [<args>]\n"
          "\n"
          "libllm is a command-line front end to the libllm library.\n"
          "\n"
          "Commands:\n",
          f);
    for (i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-18s %s\n", commands[i].name, commands[i].summary);
    fputs("\n"
          "Run 'libllm <command> --help' for a command's options.\n"
          "Exit status: 0 on success, 1 when the work failed, 2 for a bad\n"
          "command line.\n",
          f);
}

/* `libllm help [command]` is `libllm [command] --help`. */
static int cmd_help(int argc, char **argv) {
    const cli_command *c;
    char *sub_argv[3];
    if (argc < 2) {
        usage(stdout);
        return CLI_OK;
    }
    if (argc > 2)
        return cli_usage_error("help", "help: expected one command name, got %d", argc - 1);
    if (cli_is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    c = find_command(argv[1]);
    if (!c)
        return cli_usage_error(NULL, "unknown command '%s'", argv[1]);
    sub_argv[0] = argv[1];
    sub_argv[1] = "--help";
    sub_argv[2] = NULL;
    return c->run(2, sub_argv);
}

int main(int argc, char **argv) {
    const cli_command *c;
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (cli_is_help(argv[1])) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("libllm %s\n", llm_version_string());
        return CLI_OK;
    }
    if (argv[1][0] == '-')
        return cli_usage_error(NULL, "unknown option '%s'", argv[1]);
    c = find_command(argv[1]);
    if (!c)
        return cli_usage_error(NULL, "unknown command '%s'", argv[1]);
    return c->run(argc - 1, argv + 1);
}
