/*
 * rng.c - the sampler's PRNG: xoshiro256** (Blackman and Vigna, 2018)
 * seeded by four outputs of splitmix64, written from the published
 * recurrences. Integer arithmetic only, so a seed gives the same stream on
 * every platform. The state can never be all zero: splitmix64 outputs are
 * a bijection of distinct counters, so four consecutive ones are never all
 * zero together.
 */
#include "sample_internal.h"

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void llm__rng_seed(llm__rng *r, uint64_t seed) {
    uint64_t x = seed;
    int i;
    for (i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

uint64_t llm__rng_next(llm__rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* High 64 bits of the 128-bit product, from 32-bit halves (portable C11,
 * no __int128 needed). */
uint64_t llm__rng_mulhi(uint64_t x, uint64_t n) {
    uint64_t xl = x & 0xffffffffu, xh = x >> 32;
    uint64_t nl = n & 0xffffffffu, nh = n >> 32;
    uint64_t ll = xl * nl, lh = xl * nh, hl = xh * nl, hh = xh * nh;
    uint64_t mid = (ll >> 32) + (lh & 0xffffffffu) + (hl & 0xffffffffu);
    return hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
}
