/*
 * matvec.c - plain-C reference kernels of the decode path and the
 * run-time choice among them and the vector variants (llm_matvec.h).
 *
 * The references are the oracle of the kernel tests and the kernels of
 * CPUs without AVX2. The F32 one keeps eight independent partial sums, so
 * that the compiler vectorises it for the baseline SSE2 without
 * reassociating one long sum. The Q8_0 one sums each block in int32
 * (exact: 32 products of at most 128 * 127) and scales it by dw * dx.
 *
 * The tables below are constant data; which one a process uses is a pure
 * function of the CPU level detected once (cpu.c).
 */
#include "llm_cpu.h"
#include "llm_matvec.h"

_Static_assert(sizeof(llm__q8_block) == 34, "a Q8_0 block is 34 bytes, as in GGUF");

void llm__matvec_f32_ref(float *y, const float *w, const float *x, size_t K, size_t r0,
                         size_t r1) {
    size_t r;
    for (r = r0; r < r1; r++)
        y[r] += llm__dot_f32(w + r * K, x, K);
}

void llm__matvec_q8_ref(float *y, size_t ldy, const llm__q8_block *w, size_t ldw,
                        const llm__q8_block *xq,
                        size_t M, size_t nb, size_t r0, size_t r1) {
    size_t r, i, b, j;
    for (r = r0; r < r1; r++) {
        const llm__q8_block *wr = w + r * ldw; /* (nb) blocks of row r */
        for (i = 0; i < M; i++) {
            const llm__q8_block *xr = xq + i * nb; /* (nb) */
            float s = 0.0f;
            for (b = 0; b < nb; b++) {
                int32_t acc = 0;
                for (j = 0; j < LLM__Q8_BLOCK; j++)
                    acc += (int32_t)wr[b].q[j] * (int32_t)xr[b].q[j];
                s += (float)acc *
                     (llm__q8_fp16_to_f32(wr[b].d) * llm__q8_fp16_to_f32(xr[b].d));
            }
            y[i * ldy + r] += s;
        }
    }
}

static const llm__matvec_kernels k_scalar = {
    "scalar", llm__matvec_f32_ref, llm__matvec_q8_ref, llm__q8_quantize_ref, llm__q8_dequantize};
#ifdef LLM_X86_KERNELS
static const llm__matvec_kernels k_avx2 = {
    "avx2", llm__matvec_avx2_f32, llm__matvec_avx2_q8, llm__matvec_avx2_quant,
    llm__matvec_avx2_dequant};
/* AVX-512 without VNNI (Skylake-X): the int8 dot products of AVX2 are as
 * fast as emulating vpdpbusd with 512-bit maddubs/madd pairs. */
static const llm__matvec_kernels k_avx512 = {
    "avx512", llm__matvec_avx512_f32, llm__matvec_avx2_q8, llm__matvec_avx512_quant,
    llm__matvec_avx512_dequant};
static const llm__matvec_kernels k_avx512vnni = {
    "avx512vnni", llm__matvec_avx512_f32, llm__matvec_avx512_q8vnni, llm__matvec_avx512_quant,
    llm__matvec_avx512_dequant};
#endif

const llm__matvec_kernels *llm__matvec_at(int level, uint32_t features) {
    if (level > llm__cpu_level_hw() ||
        ((features & LLM__CPU_VNNI) && !(llm__cpu_features_hw() & LLM__CPU_VNNI)))
        return NULL;
    if (level <= LLM__CPU_SCALAR)
        return &k_scalar;
#ifdef LLM_X86_KERNELS
    if (level == LLM__CPU_AVX2)
        return &k_avx2;
    return (features & LLM__CPU_VNNI) ? &k_avx512vnni : &k_avx512;
#else
    return NULL;
#endif
}

const llm__matvec_kernels *llm__matvec_get(void) {
    const llm__matvec_kernels *k = llm__matvec_at(llm__cpu_level(), llm__cpu_features());
    return k ? k : &k_scalar;
}
