/*
 * llm_cpu.h - what the CPU can run (cpu.c), detected once per process.
 *
 * libllm is built for the baseline x86-64 (no -march=native in the
 * installed library); the few kernels that need wider vectors live in
 * their own translation units compiled for AVX2 or AVX-512 and are chosen
 * at run time from the level reported here (lib/core/matvec.c).
 *
 * Override for tests and benchmarks: the environment variable
 *     LLM_CPU=scalar | avx2 | avx512
 * read once, at the first detection, caps the level (it never raises it
 * above what the CPU and the OS support; an unknown value is ignored).
 * The result is computed once (pthread_once) and never changes after, so
 * it is not mutable global state: every thread sees the same answer.
 */
#ifndef LLM_CPU_H
#define LLM_CPU_H

#include "llm_core.h"

/* For plain-C element-wise loops that run several times faster with wider
 * vectors (AdamW, the softmax rows of the cross-entropy, norms, GELU):
 * GCC compiles the function once per level and the dynamic loader picks
 * the one the CPU runs (target_clones, an ifunc resolved at load). The
 * results are the same bits on every level: the library is built as ISO
 * C11, where GCC contracts no a*b+c into an FMA (-ffp-contract=off), and
 * vector division and square root are exactly rounded like the scalar
 * ones. LLM_CPU does not reach these (it only caps the hand-written
 * kernels). Other compilers and targets get the baseline build.
 * Only on static functions: GCC 12 exports the ifunc of a non-static
 * clone whatever its visibility, so an internal llm__ function is a
 * plain call into a static cloned body. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && \
    !defined(LLM_NO_CLONES)
#define LLM__CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define LLM__CLONES
#endif

/* Instruction-set levels, ordered: each includes the ones below it. */
#define LLM__CPU_SCALAR 0 /* plain C (the reference kernels) */
#define LLM__CPU_AVX2   1 /* AVX2 + FMA + F16C */
#define LLM__CPU_AVX512 2 /* AVX-512 F, BW, VL, DQ (+ the AVX2 level) */

/* Feature bits beyond the level. */
#define LLM__CPU_VNNI 0x1u /* AVX512-VNNI (vpdpbusd), only reported at level AVX512 */

/* The level in use: the best the CPU and OS support, capped by LLM_CPU.
 * Thread-safe; cheap after the first call. */
LLM_INTERNAL int llm__cpu_level(void);
/* LLM__CPU_* feature bits in use (same rules). */
LLM_INTERNAL uint32_t llm__cpu_features(void);
/* The level the hardware supports, ignoring LLM_CPU (for tests that run
 * every variant the machine has). */
LLM_INTERNAL int llm__cpu_level_hw(void);
LLM_INTERNAL uint32_t llm__cpu_features_hw(void);
/* "scalar", "avx2", "avx512" (or "avx512vnni" with the VNNI bit). */
LLM_INTERNAL const char *llm__cpu_name(int level, uint32_t features);

#endif
