/*
 * cli.c - error reporting, number parsing, JSON output and the PNG writer
 * of the CLI.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cli.h"

int cli_error(const char *fmt, ...) {
    va_list ap;
    fputs("libllm: error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_FAIL;
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fputs("libllm: error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (cmd)
        fprintf(stderr, "\nTry 'libllm %s --help'.\n", cmd);
    else
        fputs("\nTry 'libllm --help'.\n", stderr);
    return CLI_USAGE;
}

int cli_status_error(int status, const void *handle, const char *fmt, ...) {
    va_list ap;
    const char *detail = llm_errmsg(handle);
    fputs("libllm: error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, ": %s", llm_status_str(status));
    if (detail && *detail)
        fprintf(stderr, ": %s", detail);
    fputc('\n', stderr);
    return CLI_FAIL;
}

int cli_is_help(const char *arg) {
    return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

int cli_parse_double(const char *s, double *out) {
    char *end;
    double v;
    if (!s || !*s)
        return -1;
    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

int cli_parse_u64(const char *s, unsigned long long *out) {
    char *end;
    unsigned long long v;
    if (!s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

void cli_json_string(FILE *f, const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', f);
    for (; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

/* ---- PNG (RGB, 8 bits, one zlib IDAT chunk): --png of attention, --plot of train ---- */

static void be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* length, type, data, CRC-32 of type and data */
static int png_chunk(FILE *f, const char *type, const unsigned char *data, uint32_t n) {
    unsigned char hdr[8], crc[4];
    uLong c = crc32(0L, Z_NULL, 0);
    be32(hdr, n);
    memcpy(hdr + 4, type, 4);
    c = crc32(c, (const Bytef *)type, 4);
    if (n)
        c = crc32(c, data, n);
    be32(crc, (uint32_t)c);
    return fwrite(hdr, 1, 8, f) != 8 || (n && fwrite(data, 1, n, f) != n) ||
           fwrite(crc, 1, 4, f) != 4;
}

int cli_write_png(const char *path, const unsigned char *rows, size_t w, size_t h) {
    const size_t bytes = (1 + 3 * w) * h;
    uLongf zlen = compressBound((uLong)bytes);
    unsigned char *z, ihdr[13];
    FILE *f;
    int bad;
    if (w == 0 || h == 0 || w > 0x7fffffffu || h > 0x7fffffffu)
        return cli_error("cannot write '%s': image of %zu x %zu pixels", path, w, h);
    z = malloc(zlen);
    if (!z)
        return cli_error("out of memory for the image");
    if (compress2(z, &zlen, rows, (uLong)bytes, 9) != Z_OK) {
        free(z);
        return cli_error("zlib compression failed");
    }
    f = fopen(path, "wb");
    if (!f) {
        free(z);
        return cli_error("cannot create '%s'", path);
    }
    be32(ihdr, (uint32_t)w);
    be32(ihdr + 4, (uint32_t)h);
    ihdr[8] = 8; /* bit depth */
    ihdr[9] = 2; /* truecolour */
    ihdr[10] = ihdr[11] = ihdr[12] = 0; /* deflate, adaptive filters, no interlace */
    bad = fwrite("\x89PNG\r\n\x1a\n", 1, 8, f) != 8 || png_chunk(f, "IHDR", ihdr, 13) ||
          png_chunk(f, "IDAT", z, (uint32_t)zlen) || png_chunk(f, "IEND", NULL, 0);
    bad |= fclose(f) != 0;
    free(z);
    return bad ? cli_error("cannot write '%s'", path) : CLI_OK;
}
