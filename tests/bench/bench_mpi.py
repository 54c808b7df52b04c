#!/usr/bin/python3
"""bench_mpi.py - the peer of bench_mpi.sh: PyTorch data-parallel training
of the same GPT-2 model over torch.distributed (gloo, localhost), one
thread per process, per-rank batch B, gradients averaged with one
all_reduce of the flattened gradient after backward (no overlap), then
clip_grad_norm_(1.0) and AdamW. Prints one line:
  bench=mpi impl=pytorch-gloo world=<R> L= C= B= T= step_ms=<median> tok_s=<global>
  comm_bytes=<payload per step and rank>
usage: bench_mpi.py WORLD N_LAYER N_EMBD N_HEAD N_VOCAB B T STEPS
Run with OMP_WAIT_POLICY=PASSIVE (bench_mpi.sh does).
"""
import math
import os
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

WORLD, L, C, NH, V, B, T, STEPS = (int(a) for a in sys.argv[1:9])
F, D = 4 * C, C // NH


def worker(rank):
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT="29533")
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    torch.manual_seed(1)  # the same initial weights on every rank

    def p(*shape, std=0.02, fill=None):
        t = torch.empty(*shape)
        t.fill_(fill) if fill is not None else t.normal_(0, std)
        return t.requires_grad_()

    P = {"wte": p(V, C), "wpe": p(T, C), "lnf_g": p(C, fill=1.0), "lnf_b": p(C, fill=0.0)}
    for l in range(L):
        r = 0.02 / math.sqrt(2 * L)
        P.update({"ln1_g%d" % l: p(C, fill=1.0), "ln1_b%d" % l: p(C, fill=0.0),
                  "wqkv%d" % l: p(3 * C, C), "bqkv%d" % l: p(3 * C, fill=0.0),
                  "wo%d" % l: p(C, C, std=r), "bo%d" % l: p(C, fill=0.0),
                  "ln2_g%d" % l: p(C, fill=1.0), "ln2_b%d" % l: p(C, fill=0.0),
                  "wu%d" % l: p(F, C), "bu%d" % l: p(F, fill=0.0),
                  "wd%d" % l: p(C, F, std=r), "bd%d" % l: p(C, fill=0.0)})
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    ln = torch.nn.functional.layer_norm

    def loss_fn(inp, tgt):
        x = P["wte"][inp] + P["wpe"][None]
        for l in range(L):
            y = ln(x, (C,), P["ln1_g%d" % l], P["ln1_b%d" % l], 1e-5)
            q, k, v = (y @ P["wqkv%d" % l].T + P["bqkv%d" % l]).split(C, dim=-1)
            q, k, v = (t.view(B, T, NH, D).transpose(1, 2) for t in (q, k, v))
            s = (q @ k.transpose(-1, -2)) / math.sqrt(D)
            a = torch.softmax(s.masked_fill(~mask, float("-inf")), -1) @ v
            x = x + a.transpose(1, 2).reshape(B, T, C) @ P["wo%d" % l].T + P["bo%d" % l]
            y = ln(x, (C,), P["ln2_g%d" % l], P["ln2_b%d" % l], 1e-5)
            h = torch.nn.functional.gelu(y @ P["wu%d" % l].T + P["bu%d" % l], approximate="tanh")
            x = x + h @ P["wd%d" % l].T + P["bd%d" % l]
        x = ln(x, (C,), P["lnf_g"], P["lnf_b"], 1e-5)
        return torch.nn.functional.cross_entropy((x @ P["wte"].T).view(-1, V), tgt.view(-1))

    params = list(P.values())
    opt = torch.optim.AdamW([{"params": [t for t in params if t.dim() >= 2],
                              "weight_decay": 0.1},
                             {"params": [t for t in params if t.dim() < 2],
                              "weight_decay": 0.0}], lr=6e-4, betas=(0.9, 0.95))
    g = torch.Generator().manual_seed(100 + rank)
    inp = torch.randint(0, V, (B, T), generator=g)
    tgt = torch.roll(inp.view(-1), -1).view(B, T)
    n_floats = sum(t.numel() for t in params)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(inp, tgt)
        loss.backward()
        flat = torch.cat([t.grad.view(-1) for t in params])
        dist.all_reduce(flat)
        flat /= WORLD
        off = 0
        for t in params:
            t.grad.copy_(flat[off:off + t.numel()].view_as(t))
            off += t.numel()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()

    step()  # warm-up
    times = []
    for _ in range(STEPS):
        dist.barrier()
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    if rank == 0:
        times.sort()
        med = times[len(times) // 2]
        print("bench=mpi impl=pytorch-gloo world=%d L=%d C=%d B=%d T=%d step_ms=%.1f tok_s=%.0f "
              "comm_bytes=%d" % (WORLD, L, C, B, T, med * 1e3, WORLD * B * T / med,
                                 4 * n_floats if WORLD > 1 else 0), flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    mp.spawn(worker, nprocs=WORLD)
