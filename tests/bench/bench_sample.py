#!/usr/bin/python3
"""bench_sample.py LOGITS.f32 - PyTorch's equivalent of bench_sample.c.

Times, on the same 50257 logits, the PyTorch way of drawing one token:
  default:  torch.multinomial(torch.softmax(z / T, -1), 1)
  top_k40:  v, i = torch.topk(z, 40); i[torch.multinomial(torch.softmax(v / T, -1), 1)]
  top_p0.9: sort + softmax + cumsum mask (the usual nucleus recipe) + multinomial
  greedy:   torch.argmax(z)
and prints the same line format as the C benchmark (impl=torch).
Run with OMP_WAIT_POLICY=PASSIVE (bench_sample.sh sets it).
"""
import sys
import time

import torch


def bench(name, fn):
    for _ in range(20):
        fn()
    n = 0
    t0 = time.perf_counter_ns()
    while True:
        fn()
        n += 1
        dt = time.perf_counter_ns() - t0
        if dt > 4e8 and n >= 20:
            break
    print('bench=sample cfg=%s impl=torch V=%d n=%d ns_per_sample=%.0f threads=%d' %
          (name, V, n, dt / n, torch.get_num_threads()))


z = torch.from_file(sys.argv[1], dtype=torch.float32, size=50257)
V = z.numel()
gen = torch.Generator().manual_seed(1)


def default():
    return torch.multinomial(torch.softmax(z / 1.0, -1), 1, generator=gen)


def top_k40():
    v, i = torch.topk(z, 40)
    return i[torch.multinomial(torch.softmax(v / 1.0, -1), 1, generator=gen)]


def top_p09():
    p = torch.softmax(z / 1.0, -1)
    sp, si = torch.sort(p, descending=True)
    cum = torch.cumsum(sp, -1)
    keep = (cum - sp) < 0.9
    sp = sp * keep
    return si[torch.multinomial(sp, 1, generator=gen)]


def greedy():
    return torch.argmax(z)


bench('default', default)
bench('top_k40', top_k40)
bench('top_p0.9', top_p09)
bench('greedy', greedy)
