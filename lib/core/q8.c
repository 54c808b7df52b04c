/*
 * q8.c - the Q8_0 block format: fp16 scales, the reference quantizer and
 * dequantization (llm_matvec.h, formats.md 1.5).
 *
 * The quantizer follows llama.cpp's quantize_row_q8_0_ref operation for
 * operation (float amax, d = amax / 127 in float, id = 1/d, roundf of
 * x * id, d rounded to fp16 only when stored), so a tensor quantized here
 * is byte-identical to one quantized by llama.cpp from the same F32
 * values. The fp16 conversions are integer code: they do not depend on
 * the floating-point rounding mode or on F16C being present.
 */
#include <math.h>
#include <string.h>

#include "llm_matvec.h"

uint16_t llm__q8_fp16_from_f32(float f) {
    uint32_t x, ax, sign, e, m, h, rest;
    memcpy(&x, &f, 4);
    sign = (x >> 16) & 0x8000u;
    ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) /* inf, or NaN made quiet */
        return (uint16_t)(sign | (ax > 0x7f800000u ? 0x7e00u : 0x7c00u));
    if (ax >= 0x477ff000u) /* >= 65520 = 65504 + half an ulp: ties go to inf */
        return (uint16_t)(sign | 0x7c00u);
    e = ax >> 23;
    if (e < 113) {
        /* Below 2^-14: a binary16 subnormal, units of 2^-24. The value is
         * m * 2^(e - 150) = m * 2^-24 >> s with s = 126 - e. */
        uint32_t s = 126 - e, q, rem, half;
        if (e == 0 || s > 24)
            return (uint16_t)sign; /* below 2^-25: rounds to zero */
        m = 0x800000u | (ax & 0x7fffffu);
        q = m >> s;
        rem = m & ((1u << s) - 1);
        half = 1u << (s - 1);
        if (rem > half || (rem == half && (q & 1)))
            q++;
        return (uint16_t)(sign | q);
    }
    h = ((e - 112) << 10) | ((ax & 0x7fffffu) >> 13);
    rest = ax & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1)))
        h++; /* a carry into the exponent is the correct rounding */
    return (uint16_t)(sign | h);
}

float llm__q8_fp16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    uint32_t bits;
    float f;
    if (exp == 0) {
        f = (float)man * 5.9604644775390625e-8f; /* man * 2^-24, exact */
        return sign ? -f : f;
    }
    if (exp == 31)
        bits = sign | 0x7f800000u | (man << 13);
    else
        bits = sign | ((exp + 112u) << 23) | (man << 13);
    memcpy(&f, &bits, 4);
    return f;
}

void llm__q8_quantize_ref(llm__q8_block *dst, const float *x, size_t k) {
    size_t b, j, nb = k / LLM__Q8_BLOCK;
    for (b = 0; b < nb; b++) {
        const float *xb = x + b * LLM__Q8_BLOCK; /* (32) */
        float amax = 0.0f, d, id;
        for (j = 0; j < LLM__Q8_BLOCK; j++) {
            float v = fabsf(xb[j]);
            amax = amax > v ? amax : v;
        }
        d = amax / 127.0f;
        id = d != 0.0f ? 1.0f / d : 0.0f;
        dst[b].d = llm__q8_fp16_from_f32(d);
        for (j = 0; j < LLM__Q8_BLOCK; j++) {
            /* |v| <= 127 for finite x. With NaN input (amax then depends
             * on where max() met the NaN) v is clamped, and NaN becomes 0,
             * rather than an undefined conversion. */
            const float v = roundf(xb[j] * id);
            dst[b].q[j] = (int8_t)(v != v      ? 0.0f
                                   : v > 127.0f  ? 127.0f
                                   : v < -127.0f ? -127.0f
                                                 : v);
        }
    }
}

void llm__q8_dequantize(float *dst, const llm__q8_block *src, size_t k) {
    size_t b, j, nb = k / LLM__Q8_BLOCK;
    for (b = 0; b < nb; b++) {
        float d = llm__q8_fp16_to_f32(src[b].d);
        for (j = 0; j < LLM__Q8_BLOCK; j++)
            dst[b * LLM__Q8_BLOCK + j] = d * (float)src[b].q[j];
    }
}

size_t llm__q8_row_bytes(size_t k) { return k / LLM__Q8_BLOCK * sizeof(llm__q8_block); }
