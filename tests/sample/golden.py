#!/usr/bin/python3
"""golden.py OUT - exact token sequences the sampler must draw.

A transcription, in numpy float32 and Python integers, of the algorithm
documented in llm.h ("Numbers") and lib/sample/chain.c: weights
2^((z - z_max) * log2(e)/T) from libllm's own exponential (floor split,
degree-7 Taylor polynomial of 2^f in float32 Horner form, exponent added
to the bits), integer weights floor(w * 2^shift), xoshiro256** seeded by
splitmix64, r = floor(x * total / 2^64), first candidate (ascending id)
whose running sum exceeds r. Different language, same specification: if
the C library ever weighs or draws differently on some platform or
compiler (FMA contraction, x87, a changed constant), test_sample_oracle
fails: each line also holds the exact integer total weight, which any
1-ulp change of any weight alters.
Only plain temperature sampling (optionally with top-k) is transcribed.
"""
import math
import sys

import numpy as np

M = (1 << 64) - 1
F = np.float32
C = [F(math.log(2) ** i / math.factorial(i)) for i in range(8)]


def splitmix(x):
    x = (x + 0x9e3779b97f4a7c15) & M
    z = x
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M
    return x, z ^ (z >> 31)


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M


class Rng:
    def __init__(self, seed):
        self.s = []
        x = seed
        for _ in range(4):
            x, o = splitmix(x)
            self.s.append(o)

    def next(self):
        s = self.s
        r = (rotl((s[1] * 5) & M, 7) * 9) & M
        t = (s[1] << 17) & M
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return r


def weight(z, zmax, k, ymin):
    y = F(F(z - zmax) * k)
    if y < ymin:
        y = ymin
    ni = int(y)  # toward zero
    if F(ni) > y:
        ni -= 1
    f = F(y - F(ni))
    p = C[7]
    for c in (C[6], C[5], C[4], C[3], C[2], C[1], F(1.0)):
        p = F(F(p * f) + c)
    bits = (int(np.array(p, dtype=np.float32).view(np.uint32)) + (ni << 23)) & 0xffffffff
    return np.array(bits, dtype=np.uint32).view(np.float32).item()


def shift_of(V):
    return min(62, 64 - V.bit_length())


def draws(logits, T, top_k, seed, n):
    V = len(logits)
    s = shift_of(V)
    z = [F(v) for v in logits]
    zmax = max(z)
    k = F(1.4426950408889634 / float(F(T)))
    ymin = F(-(s + 2))
    ids = list(range(V))
    if 0 < top_k < V:
        ids = sorted(ids, key=lambda i: (-float(z[i]), i))[:top_k]
        ids.sort()
    wq = {i: int(F(weight(z[i], zmax, k, ymin)) * F(2.0 ** s)) for i in ids}
    total = sum(wq.values())
    rng = Rng(seed)
    out = [total]
    for _ in range(n):
        r = (rng.next() * total) >> 64
        cum = 0
        for i in ids:
            cum += wq[i]
            if cum > r:
                out.append(i)
                break
    return out


def main():
    out = open(sys.argv[1], 'w')
    cases = [
        (37, 0.7, 0, 2026), (37, 1.0, 5, 7), (1000, 1.3, 0, 0), (1000, 0.25, 40, 123456789),
        (50257, 1.0, 0, 42), (50257, 0.8, 40, 1),
    ]
    for V, T, top_k, seed in cases:
        # integer-derived float32 logits (no libm), many exact ties:
        # z_i = float(m_i) * 0.01f - 5.0f, m_i = (7919 i + 13) mod 1009
        logits = [F(F(F((7919 * i + 13) % 1009) * F(0.01)) - F(5.0)) for i in range(V)]
        toks = draws(logits, T, top_k, seed, 40)  # [exact total weight, 40 tokens]
        out.write('golden %d %s %d %d %s\n' % (V, float(F(T)).hex(), top_k, seed,
                                               ' '.join(map(str, toks))))
    out.write('end\n')


if __name__ == '__main__':
    main()
