/*
 * fuzz_tokens.c - fuzz target for llm_tokens_load (lib/train/data.c):
 * token files, raw or gzip-compressed (detected by magic). The first
 * input byte picks the format (AUTO by extension .bin/.u32/.i32, U16,
 * U32, I32, BYTES); the rest is the file. Loaded ids must be
 * non-negative and, for raw files, their count must match the size.
 */
#include "fuzz_common.h"
#include "llm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *names[3] = {"t.bin", "t.u32", "t.i32"};
    static const size_t tsize[3] = {2, 4, 4};
    char path[600];
    llm_token *ids = NULL;
    size_t n = 0, i;
    int32_t fmt;
    int rc, which;
    if (size < 1)
        return 0;
    fmt = (int32_t)(data[0] % 5);
    which = (data[0] >> 3) % 3;
    fuzz_write(path, sizeof path, fmt == LLM_TOKENS_AUTO ? names[which] : "t.dat", data + 1,
               size - 1);
    rc = llm_tokens_load(&ids, &n, path, fmt);
    if (rc == LLM_OK) {
        int gz = size >= 3 && data[1] == 0x1f && data[2] == 0x8b;
        size_t ts = fmt == LLM_TOKENS_AUTO ? tsize[which]
                    : fmt == LLM_TOKENS_U16 ? 2 : fmt == LLM_TOKENS_BYTES ? 1 : 4;
        FUZZ_CHECK(ids != NULL || n == 0);
        if (!gz)
            FUZZ_CHECK(n * ts == size - 1);
        for (i = 0; i < n; i++)
            FUZZ_CHECK(ids[i] >= 0);
        llm_free(ids);
    } else {
        FUZZ_CHECK(rc < 0 && ids == NULL);
    }
    return 0;
}
