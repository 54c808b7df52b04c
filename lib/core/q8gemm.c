/*
 * q8gemm.c - packing of activation rows for the Q8_0 x Q8_0 products of
 * many rows, their plain-C reference kernel, and the run-time choice of
 * kernel (llm_q8gemm.h).
 *
 * The reference reads the packed layout (so the tests check the packing
 * and the vector kernel against it and against a double-precision oracle
 * computed from the unpacked blocks) and does the arithmetic of
 * llm__matvec_q8_ref operation for operation: an exact int32 sum per
 * block, times dw * dx, summed over blocks in float.
 *
 * Dispatch: AVX-512 with VNNI runs q8gemm_avx512.c; AVX2, and AVX-512
 * without VNNI (where emulating vpdpbusd costs as much as the AVX2
 * sequence), run q8gemm_avx2.c; plain C has no fast kernel (the caller
 * then uses the decode kernels or dequantized tiles + sgemm). The table
 * below is constant data; which entry a process uses is a pure function
 * of the CPU level detected once (cpu.c).
 */
#include <stdint.h>
#include <string.h>

#include "llm_cpu.h"
#include "llm_q8gemm.h"

_Static_assert(sizeof(llm__q8gemm_blk) == 576, "a packed block is 16 x 32 bytes + 16 scales");

size_t llm__q8gemm_packed_bytes(size_t M, size_t nb) {
    const size_t panels = (M + LLM__Q8GEMM_LANES - 1) / LLM__Q8GEMM_LANES;
    return llm__mem_mul(llm__mem_mul(panels, nb), sizeof(llm__q8gemm_blk));
}

void llm__q8gemm_pack(llm__q8gemm_blk *xp, size_t nb, size_t i, size_t b0,
                      const llm__q8_block *src, size_t n) {
    const size_t lane = i % LLM__Q8GEMM_LANES;
    llm__q8gemm_blk *p = xp + i / LLM__Q8GEMM_LANES * nb + b0; /* (n) blocks of row i's panel */
    size_t b, j;
    for (b = 0; b < n; b++) {
        uint8_t u[LLM__Q8_BLOCK]; /* qx + 128 in two's complement: flip the top bit */
        memcpy(u, src[b].q, LLM__Q8_BLOCK);
        for (j = 0; j < LLM__Q8_BLOCK; j++)
            u[j] ^= 0x80u;
        for (j = 0; j < LLM__Q8_BLOCK / 4; j++) /* 4-byte groups, 64 bytes apart */
            memcpy(p[b].xu[j][lane], u + 4 * j, 4);
        p[b].d[lane] = llm__q8_fp16_to_f32(src[b].d);
    }
}

void llm__q8gemm_pad(llm__q8gemm_blk *xp, size_t M, size_t nb) {
    const size_t lane0 = M % LLM__Q8GEMM_LANES;
    llm__q8gemm_blk *p = xp + M / LLM__Q8GEMM_LANES * nb; /* the last, partial panel */
    size_t b, k;
    if (lane0 == 0)
        return;
    for (b = 0; b < nb; b++) {
        for (k = 0; k < LLM__Q8_BLOCK / 4; k++)
            memset(p[b].xu[k][lane0], 0, (LLM__Q8GEMM_LANES - lane0) * 4);
        memset(p[b].d + lane0, 0, (LLM__Q8GEMM_LANES - lane0) * sizeof(float));
    }
}

void llm__q8gemm_ref(float *y, size_t ldy, const llm__q8_block *w, size_t ldw,
                     const llm__q8gemm_blk *xp, size_t M, size_t nb, size_t r0, size_t r1) {
    size_t r, i, b, j;
    for (r = r0; r < r1; r++) {
        const llm__q8_block *wr = w + r * ldw; /* (nb) blocks of weight row r */
        for (i = 0; i < M; i++) {
            const llm__q8gemm_blk *xb = xp + i / LLM__Q8GEMM_LANES * nb; /* (nb) */
            const size_t lane = i % LLM__Q8GEMM_LANES;
            float s = 0.0f;
            for (b = 0; b < nb; b++) {
                int32_t acc = 0;
                for (j = 0; j < LLM__Q8_BLOCK; j++)
                    acc += (int32_t)wr[b].q[j] *
                           ((int32_t)xb[b].xu[j / 4][lane][j % 4] - 128);
                s += (float)acc * (llm__q8_fp16_to_f32(wr[b].d) * xb[b].d[lane]);
            }
            y[i * ldy + r] += s;
        }
    }
}

/* min_rows, measured on Zen 4 (one thread, w 3072 x 768): the VNNI
 * kernel takes 0.20 ms for 2 to 8 rows against 0.29 ms for the VNNI decode
 * kernel with 2 (which does one row in 0.08 ms); the AVX2 kernel
 * (LLM_CPU=avx2) 0.40-0.43 ms for 2 to 8 rows against the AVX2 decode
 * kernel's 0.15, 0.27, 0.42, 0.54, 0.55 ms for 2, 4, 6, 7, 8. The
 * reference is never faster than the decode kernels: llm__q8gemm_get
 * never returns it. */
static const llm__q8gemm_kernel k_scalar = {"scalar", llm__q8gemm_ref, SIZE_MAX};
#ifdef LLM_X86_KERNELS
static const llm__q8gemm_kernel k_avx2 = {"avx2", llm__q8gemm_avx2, 7};
static const llm__q8gemm_kernel k_avx512vnni = {"avx512vnni", llm__q8gemm_avx512vnni, 2};
#endif

const llm__q8gemm_kernel *llm__q8gemm_at(int level, uint32_t features) {
    if (level > llm__cpu_level_hw() ||
        ((features & LLM__CPU_VNNI) && !(llm__cpu_features_hw() & LLM__CPU_VNNI)))
        return NULL;
    if (level <= LLM__CPU_SCALAR)
        return &k_scalar;
#ifdef LLM_X86_KERNELS
    if (level >= LLM__CPU_AVX512 && (features & LLM__CPU_VNNI))
        return &k_avx512vnni;
    if (level >= LLM__CPU_AVX2)
        return &k_avx2;
#endif
    return NULL;
}

const llm__q8gemm_kernel *llm__q8gemm_get(void) {
    const int level = llm__cpu_level();
    return level > LLM__CPU_SCALAR ? llm__q8gemm_at(level, llm__cpu_features()) : NULL;
}
