/*
 * vexp.h - exp(x) for float, written so that loops calling it vectorize
 * (glibc's expf is a scalar call). Header-only (static inline): the
 * attention (attn.c, lib/train/grad_attn.c) and fused cross-entropy
 * (xent.c, lib/train/grad_xent.c) kernels spend their element-wise time
 * here, and each is compiled with -fno-trapping-math -fno-math-errno so
 * the clamps become vector min/max (sources.cmake).
 *
 * Cephes' expf: x = n ln2 + r with |r| <= ln2/2, e^r by a degree-7
 * polynomial, 2^n put into the exponent bits; relative error about 1e-7.
 * The input is clamped to [-87, 88] (results 1.6e-38 .. 1.7e38), so a
 * very negative argument gives a tiny positive number, not 0: callers
 * that need exact zeros (masked scores) write them explicitly. NaN stays
 * NaN. Also used by the backward kernels (lib/train/grad_ops.c).
 */
#ifndef LLM_VEXP_H
#define LLM_VEXP_H

#include <stdint.h>
#include <string.h>

static inline float llm__vexp(float x) {
    float n, r, p, scale;
    uint32_t bits;
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    /* round to nearest without a libm call: add and subtract 1.5 * 2^23 */
    n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    /* A NaN input makes n NaN, and converting NaN to an integer is
     * undefined (UBSan, found by fuzz_model): take exponent 0 instead; p
     * is NaN already, so the result stays NaN. A select, so it vectorizes. */
    n = n == n ? n : 0.0f;
    bits = (uint32_t)((int32_t)n + 127) << 23;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

#endif
