/*
 * fuzz_gguf.c - fuzz target for the GGUF reader (lib/format/gguf.c): any
 * bytes are rejected with a status or give a file whose every key and
 * tensor can be looked up; never a crash or a read outside the buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    llm__mem mem;
    llm__gguf g;
    size_t i;
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    llm__mem_init(&mem, NULL, NULL);
    if (llm__gguf_parse(&g, buf, size, "fuzz.gguf", &mem, NULL) == LLM_OK) {
        volatile uint8_t sink = 0;
        for (i = 0; i < g.n_kv; i++) {
            char key[256];
            size_t n = g.kv[i].key_len < sizeof key - 1 ? g.kv[i].key_len : sizeof key - 1;
            memcpy(key, g.kv[i].key, n);
            key[n] = 0;
            (void)llm__gguf_find_kv(&g, key);
        }
        for (i = 0; i < g.n_tensors; i++) {
            const llm__gguf_tensor *t = llm__gguf_find_tensor(&g, g.tensors[i].name);
            /* touch the first and last byte of the data the reader vouched for */
            if (t && t->nbytes) {
                sink ^= t->data[0];
                sink ^= t->data[t->nbytes - 1];
            }
        }
        (void)sink;
        llm__gguf_release(&g);
    }
    free(buf);
    return 0;
}
