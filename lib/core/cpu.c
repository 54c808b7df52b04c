/*
 * cpu.c - CPU feature detection for run-time kernel dispatch.
 *
 * __builtin_cpu_supports reads CPUID through libgcc, which also checks
 * that the OS saves the wider registers (XGETBV: YMM state for AVX, ZMM
 * and opmask state for AVX-512), so a level reported here is usable.
 * Detection runs once per process under pthread_once; afterwards the two
 * words below are only read. The LLM_CPU environment variable (llm_cpu.h)
 * is read at that one detection: set it before the first libllm call.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "llm_cpu.h"

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_level_hw, g_level;            /* written once, in detect() */
static uint32_t g_features_hw, g_features; /* written once, in detect() */

static void detect(void) {
    int level = LLM__CPU_SCALAR, cap = LLM__CPU_AVX512;
    uint32_t feat = 0;
    const char *env;
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        level = LLM__CPU_AVX2;
    if (level == LLM__CPU_AVX2 && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq"))
        level = LLM__CPU_AVX512;
    if (level == LLM__CPU_AVX512 && __builtin_cpu_supports("avx512vnni"))
        feat |= LLM__CPU_VNNI;
#endif
    g_level_hw = level;
    g_features_hw = feat;
    env = getenv("LLM_CPU");
    if (env) {
        if (strcmp(env, "scalar") == 0)
            cap = LLM__CPU_SCALAR;
        else if (strcmp(env, "avx2") == 0)
            cap = LLM__CPU_AVX2;
        else if (strcmp(env, "avx512") == 0)
            cap = LLM__CPU_AVX512;
    }
    if (level > cap)
        level = cap;
    g_level = level;
    g_features = level == LLM__CPU_AVX512 ? feat : 0;
    llm__log(LLM_LOG_DEBUG, "cpu: kernels for %s (hardware: %s)",
             llm__cpu_name(g_level, g_features), llm__cpu_name(g_level_hw, g_features_hw));
}

int llm__cpu_level(void) {
    pthread_once(&g_once, detect);
    return g_level;
}

uint32_t llm__cpu_features(void) {
    pthread_once(&g_once, detect);
    return g_features;
}

int llm__cpu_level_hw(void) {
    pthread_once(&g_once, detect);
    return g_level_hw;
}

uint32_t llm__cpu_features_hw(void) {
    pthread_once(&g_once, detect);
    return g_features_hw;
}

const char *llm__cpu_name(int level, uint32_t features) {
    if (level >= LLM__CPU_AVX512)
        return (features & LLM__CPU_VNNI) ? "avx512vnni" : "avx512";
    return level == LLM__CPU_AVX2 ? "avx2" : "scalar";
}
