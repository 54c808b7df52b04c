/*
 * cli.h - shared helpers of the libllm command-line tool.
 *
 * Conventions of every subcommand:
 *   - `int cmd_<name>(int argc, char **argv)`, argv[0] is the subcommand;
 *   - `--help`/`-h` prints the usage to stdout and returns 0;
 *   - results go to stdout (JSON with --json), diagnostics to stderr;
 *   - exit status: CLI_OK (0), CLI_FAIL (1) when the work failed,
 *     CLI_USAGE (2) for a bad command line.
 */
#ifndef LLM_CLI_H
#define LLM_CLI_H

#include <stdio.h>

#include "llm.h"

#define CLI_OK 0
#define CLI_FAIL 1
#define CLI_USAGE 2

#if defined(__GNUC__)
#define CLI_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CLI_PRINTF(f, a)
#endif

/* A subcommand: its name, a one-line summary and its entry point. */
typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} cli_command;

/* "libllm: error: <message>" on stderr; returns CLI_FAIL. */
int cli_error(const char *fmt, ...) CLI_PRINTF(1, 2);
/* Usage error: message plus "try 'libllm <cmd> --help'"; returns CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) CLI_PRINTF(2, 3);
/* Reports a failed libllm call: what was attempted, the status name and
 * the library's detail message (of `handle`, or the thread's last one). */
int cli_status_error(int status, const void *handle, const char *fmt, ...) CLI_PRINTF(3, 4);

/* 1 when arg is -h or --help. */
int cli_is_help(const char *arg);

/* Parses a whole decimal/scientific number; returns 0 on success. */
int cli_parse_double(const char *s, double *out);
/* Parses a whole non-negative integer (no sign, no trailing junk, no
 * overflow); returns 0 on success. */
int cli_parse_u64(const char *s, unsigned long long *out);

/* Writes s as a JSON string literal (with quotes and escapes). */
void cli_json_string(FILE *f, const char *s);

/* Writes an RGB image of w x h pixels as a PNG file: rows holds h rows of
 * 1 + 3*w bytes, each a PNG filter byte (0: none) then R, G, B per pixel.
 * Returns CLI_OK, or CLI_FAIL with the error printed. */
int cli_write_png(const char *path, const unsigned char *rows, size_t w, size_t h);

/* Subcommands (one cmd_<name>.c each). */
int cmd_version(int argc, char **argv);
/* ==== subcommand declarations: add yours below ==== */
int cmd_tokenize(int argc, char **argv);
int cmd_detokenize(int argc, char **argv);
int cmd_tokenizer_train(int argc, char **argv);
/* Shared by tokenize/detokenize (cmd_tokenize.c): a --pattern name to
 * LLM_TOK_PATTERN_* (0 on success), and reading a whole file or stdin
 * (path NULL) into a malloc'ed buffer (CLI_OK, or an error printed). */
int cli_tok_pattern(const char *s, int32_t *out);
int cli_read_all(const char *path, char **data, size_t *len);
/* Opens the tokenizer of --tokenizer PATH (into *tok) or of the model file
 * --model M (into *model; the tokenizer belongs to it); *use is the one to
 * call. Prints the error and returns CLI_FAIL on failure. */
int cli_tok_open(const char *tpath, const char *mpath, const llm_tokenizer_opts *o,
                 llm_tokenizer **tok, llm_model **model, const llm_tokenizer **use);
int cmd_plan(int argc, char **argv);
int cmd_fit(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_attention(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_generate(int argc, char **argv);

#endif
