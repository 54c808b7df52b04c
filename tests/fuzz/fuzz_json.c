/*
 * fuzz_json.c - fuzz target for the JSON reader (lib/format/json.c):
 * any bytes either parse into a document that can be walked completely,
 * or fail with a status; never a crash, leak or read past the buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t walk(const llm__json *doc, llm__json_val v, int depth) {
    size_t i, n, sum = 1;
    if (depth > 100000)
        return sum;
    n = llm__json_count(doc, v);
    for (i = 0; i < n; i++)
        sum += walk(doc, llm__json_at(doc, v, i), depth + 1);
    return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    llm__mem mem;
    llm__json *doc = NULL;
    /* a private copy without slack, so ASan sees any over-read */
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    llm__mem_init(&mem, NULL, NULL);
    if (llm__json_parse(&doc, NULL, &mem, buf, size, "fuzz.json") == LLM_OK) {
        walk(doc, llm__json_root(doc), 0);
        llm__json_free(doc);
    }
    free(buf);
    return 0;
}
