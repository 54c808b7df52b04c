#!/usr/bin/python3
"""oracle.py OUT - expected sampler distributions computed with PyTorch.

Writes random cases (logits, logit bias, token window and parameters) and
the distribution the sampler chain of llm.h must produce, computed here
independently from the definitions in docs/math.md section 7:
  float32, in this order: z += bias; for each distinct window token t with
  count c: z = where(z < 0, z * r, z / r) (Hugging Face's
  RepetitionPenaltyLogitsProcessor), z -= c * freq + pres;
  then float64: z / T; top-k (torch.topk); softmax; top-p = shortest prefix
  of the descending order with cumulative probability >= p; min-p = keep
  p_i >= min_p * p_max; renormalise. T == 0: one-hot torch.argmax.
Cases whose filtering decision lies within 1e-4 of a threshold are redrawn,
so that float rounding cannot flip a token in or out (the C side keeps
probabilities to ~1e-6 relative). Numbers are written with float.hex().
"""
import random
import struct
import sys

import torch


def f32(v):
    """The float32 value nearest v (the sampler's parameters are floats)."""
    return struct.unpack('f', struct.pack('f', v))[0]


def chain(z, bias, hist, T, k, p, mp, r, pres, freq, last_n):
    z = z.clone()
    for t, b in bias:
        z[t] = z[t] + torch.tensor(b, dtype=torch.float32)
    window = hist[-last_n:] if last_n > 0 else []
    counts = {}
    for t in window:
        counts[t] = counts.get(t, 0) + 1
    if counts and (r != 1.0 or pres != 0.0 or freq != 0.0):
        ids = torch.tensor(sorted(counts), dtype=torch.long)
        c = torch.tensor([counts[t] for t in sorted(counts)], dtype=torch.float32)
        v = z[ids]
        if r != 1.0:
            rr = torch.tensor(r, dtype=torch.float32)
            v = torch.where(v < 0, v * rr, v / rr)
        v = v - (c * torch.tensor(freq, dtype=torch.float32)
                 + torch.tensor(pres, dtype=torch.float32))
        z[ids] = v
    V = z.numel()
    if T == 0.0:
        out = torch.zeros(V, dtype=torch.float64)
        out[int(torch.argmax(z))] = 1.0
        return out, True
    x = z.double() / T
    keep = torch.isfinite(x)
    if 0 < k < V:
        vals, idx = torch.topk(x, k)
        kth = float(vals[-1])
        # a (near) tie at the k-th value would make the set depend on
        # tie-breaking or rounding; with kth = -inf all finite tokens stay
        below = x[x < kth]
        if kth != float('-inf') and (int((x == kth).sum()) > 1 or
                                     (below.numel() and float(below.max()) > kth - 1e-4)):
            return None, False
        m = torch.zeros(V, dtype=torch.bool)
        m[idx] = True
        keep &= m
    xs = torch.where(keep, x, torch.tensor(float('-inf'), dtype=torch.float64))
    prob = torch.softmax(xs, 0)
    if p < 1.0:
        sp, si = torch.sort(prob, descending=True)
        cum = torch.cumsum(sp, 0)
        n = int((cum < p).sum()) + 1
        n = min(n, V)
        if (cum - p).abs().min() < 1e-4:
            return None, False
        m = torch.zeros(V, dtype=torch.bool)
        m[si[:n]] = True
        keep &= m
        xs = torch.where(keep, x, torch.tensor(float('-inf'), dtype=torch.float64))
        prob = torch.softmax(xs, 0)
    if mp > 0.0:
        ratio = prob / prob.max()
        if ((ratio - mp).abs() < 1e-4).any():
            return None, False
        keep &= ratio >= mp
        xs = torch.where(keep, x, torch.tensor(float('-inf'), dtype=torch.float64))
        prob = torch.softmax(xs, 0)
    return prob, True


def main():
    out = open(sys.argv[1], 'w')
    rng = random.Random(20261128)
    torch.manual_seed(7)
    n_cases = 0
    sizes = [2, 5, 8, 33, 100, 1000, 5000]
    while n_cases < 240:
        V = rng.choice(sizes)
        scale = rng.choice([0.5, 1.0, 3.0, 8.0])
        z = (torch.randn(V, dtype=torch.float32) * scale)
        if V > 4 and rng.random() < 0.3:  # some masked tokens
            for _ in range(rng.randint(1, V // 4)):
                z[rng.randrange(V)] = float('-inf')
            if not torch.isfinite(z).any():
                continue
        T = f32(rng.choice([0.0, 0.25, 0.7, 1.0, 1.0, 1.5, 3.0]))
        k = rng.choice([0, 0, 1, 2, 5, 40, 300])
        p = f32(rng.choice([1.0, 1.0, 0.95, 0.8, 0.5, 0.1]))
        mp = f32(rng.choice([0.0, 0.0, 0.02, 0.1, 0.5]))
        r = f32(rng.choice([1.0, 1.0, 1.3, 0.8]))
        pres = f32(rng.choice([0.0, 0.0, 0.5, -0.3]))
        freq = f32(rng.choice([0.0, 0.0, 0.25, 1.0]))
        last_n = rng.choice([1, 4, 64])
        hist = [rng.randrange(V) for _ in range(rng.choice([0, 1, 3, 10, 80]))]
        bias = [(rng.randrange(V), rng.choice([-2.5, 1.0, 0.5, float('-inf')]))
                for _ in range(rng.choice([0, 0, 1, 3]))]
        zb = z.clone()
        for t, b in bias:
            zb[t] += b
        if not torch.isfinite(zb).any():
            continue
        prob, ok = chain(z, bias, hist, T, k, p, mp, r, pres, freq, last_n)
        if not ok:
            continue
        n_cases += 1
        out.write('case %d %d %s %d %s %s %s %s %s %d %d %d\n' % (
            n_cases, V, float(T).hex(), k, float(p).hex(), float(mp).hex(), float(r).hex(),
            float(pres).hex(), float(freq).hex(), last_n, len(bias), len(hist)))
        out.write('bias %s\n' % ' '.join('%d %s' % (t, float(b).hex()) for t, b in bias))
        out.write('hist %s\n' % ' '.join(str(t) for t in hist))
        out.write('logits %s\n' % ' '.join(float(v).hex() for v in z.tolist()))
        out.write('probs %s\n' % ' '.join(float(v).hex() for v in prob.tolist()))
    out.write('end\n')
    out.close()


if __name__ == '__main__':
    main()
