/* Loading libllm and calling it starts no thread: the process still has
 * one thread (OpenBLAS's threaded builds would have started theirs at load
 * time, which is why libllm links the serial build). */
#include <dirent.h>
#include <stdio.h>

#include "llm.h"

static int count_threads(void) {
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    if (!d)
        return -1;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

int main(void) {
    llm_model_config c;
    int n;
    if (llm_version_number() != LLM_VERSION_NUMBER || LLM_MODEL_CONFIG_INIT(&c) != LLM_OK) {
        fprintf(stderr, "FAIL: library calls failed\n");
        return 1;
    }
    n = count_threads();
    if (n != 1) {
        fprintf(stderr, "FAIL: %d threads after loading libllm, expected 1\n", n);
        return 1;
    }
    printf("OK: 1 thread\n");
    return 0;
}
