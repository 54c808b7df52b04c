/*
 * fuzz_safetensors.c - fuzz target for the safetensors reader
 * (lib/format/safetensors.c): any bytes are refused with a status or
 * give tensors whose bytes all lie inside the buffer (touched here, so
 * ASan sees an out-of-bounds claim) and whose sizes agree with shapes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "format/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    llm__mem mem;
    llm__st st;
    size_t i;
    uint8_t *buf = malloc(size ? size : 1);
    FUZZ_CHECK(buf != NULL);
    memcpy(buf, data, size);
    llm__mem_init(&mem, NULL, NULL);
    if (llm__st_parse(&st, buf, size, "fuzz.safetensors", &mem, NULL) == LLM_OK) {
        volatile uint8_t sink = 0;
        for (i = 0; i < st.n; i++) {
            const llm__st_tensor *t = llm__st_find(&st, st.t[i].name);
            FUZZ_CHECK(t != NULL);
            FUZZ_CHECK(t->data >= buf && t->data + t->nbytes <= buf + size);
            if (t->nbytes) {
                sink ^= t->data[0];
                sink ^= t->data[t->nbytes - 1];
            }
        }
        (void)sink;
        llm__st_release(&st);
    }
    free(buf);
    return 0;
}
