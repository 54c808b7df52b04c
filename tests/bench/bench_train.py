#!/usr/bin/python3
"""bench_train.py - PyTorch's training throughput for the model bench_train
times: the same architecture and sizes written by hand (tests/train/torch_ref.py's
forward, float32), the same batch (random tokens, targets shifted by one),
AdamW (weight decay 0.1 on >= 2-dim tensors, betas (0.9, 0.95)),
clip_grad_norm_(1.0). Prints one line like bench_train.c:
  bench=train impl=pytorch name=<name> threads=<n> B= T= step_ms=<min> step_ms_mean=
  cpu_ms=<CPU per step> tok_s=<from the min> peak_rss_mb= loss0=
usage: bench_train.py NAME ARCH N_LAYER N_EMBD N_HEAD N_VOCAB B T STEPS THREADS
Run with OMP_WAIT_POLICY=PASSIVE (bench_train.sh does).
"""
import math
import resource
import sys
import time

import torch

name, arch = sys.argv[1], sys.argv[2]
L, C, NH, V, B, T, STEPS, THREADS = (int(a) for a in sys.argv[3:11])
torch.set_num_threads(THREADS)
torch.manual_seed(1)
gpt2 = arch == "gpt2"
F = 4 * C if gpt2 else 8 * C // 3
D = C // NH


def p(*shape, std=0.02, fill=None):
    t = torch.empty(*shape)
    if fill is not None:
        t.fill_(fill)
    else:
        t.normal_(0, std)
    return t.requires_grad_()


P = {"wte": p(V, C), "lnf_g": p(C, fill=1.0)}
if gpt2:
    P["wpe"] = p(T, C)
    P["lnf_b"] = p(C, fill=0.0)
for l in range(L):
    r = 0.02 / math.sqrt(2 * L)
    P["ln1_g%d" % l] = p(C, fill=1.0)
    P["ln2_g%d" % l] = p(C, fill=1.0)
    P["wo%d" % l] = p(C, C, std=r)
    P["wd%d" % l] = p(C, F, std=r)
    P["wu%d" % l] = p(F, C)
    if gpt2:
        P["ln1_b%d" % l] = p(C, fill=0.0)
        P["ln2_b%d" % l] = p(C, fill=0.0)
        P["wqkv%d" % l] = p(3 * C, C)
        P["bqkv%d" % l] = p(3 * C, fill=0.0)
        P["bo%d" % l] = p(C, fill=0.0)
        P["bu%d" % l] = p(F, fill=0.0)
        P["bd%d" % l] = p(C, fill=0.0)
    else:
        P["wqkv%d" % l] = p(3 * C, C)
        P["wg%d" % l] = p(F, C)

mask = torch.ones(T, T, dtype=torch.bool).tril()
inv = 10000.0 ** (-2.0 * torch.arange(D // 2, dtype=torch.float64) / D)
ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
cos, sin = ang.cos().float()[None, :, None, :], ang.sin().float()[None, :, None, :]


def rope(x):
    a, b = x[..., 0::2], x[..., 1::2]
    return torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1).flatten(-2)


def norm(x, g, b):
    if gpt2:
        return torch.nn.functional.layer_norm(x, (C,), g, b, 1e-5)
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + 1e-5) * g


def loss_fn(inp, tgt):
    x = P["wte"][inp]
    if gpt2:
        x = x + P["wpe"][:T][None]
    for l in range(L):
        y = norm(x, P["ln1_g%d" % l], P.get("ln1_b%d" % l))
        qkv = y @ P["wqkv%d" % l].T
        if gpt2:
            qkv = qkv + P["bqkv%d" % l]
        q, k, v = qkv.split(C, dim=-1)
        q, k, v = (t.view(B, T, NH, D) for t in (q, k, v))
        if not gpt2:
            q, k = rope(q), rope(k)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        s = (q @ k.transpose(-1, -2)) / math.sqrt(D)
        a = torch.softmax(s.masked_fill(~mask, float("-inf")), -1) @ v
        o = a.transpose(1, 2).reshape(B, T, C) @ P["wo%d" % l].T
        if gpt2:
            o = o + P["bo%d" % l]
        x = x + o
        y = norm(x, P["ln2_g%d" % l], P.get("ln2_b%d" % l))
        if gpt2:
            h = torch.nn.functional.gelu(y @ P["wu%d" % l].T + P["bu%d" % l], approximate="tanh")
            x = x + h @ P["wd%d" % l].T + P["bd%d" % l]
        else:
            h = torch.nn.functional.silu(y @ P["wg%d" % l].T) * (y @ P["wu%d" % l].T)
            x = x + h @ P["wd%d" % l].T
    x = norm(x, P["lnf_g"], P.get("lnf_b"))
    logits = x @ P["wte"].T
    return torch.nn.functional.cross_entropy(logits.view(-1, V), tgt.view(-1))


decay = [t for t in P.values() if t.dim() >= 2]
nodecay = [t for t in P.values() if t.dim() < 2]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                         {"params": nodecay, "weight_decay": 0.0}], lr=6e-4, betas=(0.9, 0.95))
inp = torch.randint(0, V, (B, T))
tgt = torch.roll(inp.view(-1), -1).view(B, T)


def step():
    opt.zero_grad(set_to_none=True)
    loss = loss_fn(inp, tgt)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(list(P.values()), 1.0)
    opt.step()
    return loss.item()


loss0 = step()  # warm-up
times = []
c0 = time.process_time()
for _ in range(STEPS):
    t0 = time.perf_counter()
    step()
    times.append(time.perf_counter() - t0)
cpu = (time.process_time() - c0) / STEPS
best = min(times)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
print("bench=train impl=pytorch name=%s threads=%d B=%d T=%d step_ms=%.1f step_ms_mean=%.1f "
      "cpu_ms=%.1f tok_s=%.0f peak_rss_mb=%.0f loss0=%.4f"
      % (name, THREADS, B, T, best * 1e3, sum(times) / STEPS * 1e3, cpu * 1e3, B * T / best,
         rss, loss0))
