#!/usr/bin/python3
"""torch_ref.py - checks libllm's trainer against PyTorch.

Runs train_ref (the C side) for a configuration, reads what it wrote, and
recomputes the same thing with a GPT-2 / Llama model written here by hand
in torch (no transformers package), from math.md:

  grads  one micro-batch: loss and the gradient of every tensor vs
         autograd in float64 (max |diff| / max |ref| <= 1e-4 per tensor);
  steps  n optimizer steps (grad accumulation, clip_grad_norm_, warmup +
         cosine as nanoGPT's get_lr, weight decay on >= 2-dim tensors only)
         vs torch.optim.AdamW in float32: losses within 1e-4 relative,
         final weights within 1e-4 of the weight scale;
  adamw  the AdamW kernel vs torch.optim.AdamW (1e-6).

Usage: torch_ref.py TRAIN_REF_EXE WORKDIR
Exit status 0 when every check passes; prints one line per check.
"""
import json
import math
import os
import subprocess
import sys

import numpy as np
import torch

torch.set_num_threads(1)
EXE, WORK = sys.argv[1], sys.argv[2]
os.makedirs(WORK, exist_ok=True)
failures = []


def check(name, ok, detail):
    print(("ok   " if ok else "FAIL ") + name + ": " + detail, flush=True)
    if not ok:
        failures.append(name)


def run(args):
    subprocess.run([EXE] + [str(a) for a in args], check=True)


def read(path):
    with open(path, "rb") as f:
        head = json.loads(f.readline())
        blob = f.read()
    return head, blob


class Reader:
    def __init__(self, blob):
        self.b, self.o = blob, 0

    def take(self, dtype, n):
        a = np.frombuffer(self.b, dtype=dtype, count=n, offset=self.o)
        self.o += a.nbytes
        return a


def numel(shape):
    return int(np.prod(shape))


def read_tensors(r, head):
    out = {}
    for name, shape in head["tensors"]:
        out[name] = r.take(np.float32, numel(shape)).reshape(shape).copy()
    return out


def rope_tables(T, D, base, dtype):
    i = np.arange(D // 2, dtype=np.float64)
    inv = base ** (-2.0 * i / D)
    ang = np.arange(T, dtype=np.float64)[:, None] * inv[None, :]
    return (torch.tensor(np.cos(ang).astype(np.float32), dtype=dtype),
            torch.tensor(np.sin(ang).astype(np.float32), dtype=dtype))


def rope(x, cos, sin):
    # x (B, T, H, D); interleaved pairs (x[2i], x[2i+1])
    a, b = x[..., 0::2], x[..., 1::2]
    c, s = cos[None, :, None, :], sin[None, :, None, :]
    out = torch.stack((a * c - b * s, a * s + b * c), dim=-1)
    return out.flatten(-2)


def forward(h, P, inp, tgt, B, T):
    """Mean next-token cross-entropy of the hand-written model."""
    C, NH, NKV = h["n_embd"], h["n_head"], h["n_head_kv"]
    D = C // NH
    Ekv = NKV * D
    gpt2 = h["arch"] == "gpt2"
    eps = h["norm_eps"]
    dtype = P["token_embd.weight"].dtype

    def norm(x, pre):
        if gpt2:
            return torch.nn.functional.layer_norm(x, (C,), P[pre + ".weight"], P[pre + ".bias"], eps)
        r = torch.rsqrt((x * x).mean(-1, keepdim=True) + eps)
        return x * r * P[pre + ".weight"]

    x = P["token_embd.weight"][inp]  # (B, T, C)
    if gpt2:
        x = x + P["position_embd.weight"][:T][None]
    else:
        cos, sin = rope_tables(T, D, h["rope_base"], dtype)
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    for l in range(h["n_layer"]):
        pre = "blk.%d." % l
        y = norm(x, pre + "attn_norm")
        if gpt2:
            qkv = y @ P[pre + "attn_qkv.weight"].T + P[pre + "attn_qkv.bias"]
            q, k, v = qkv[..., :C], qkv[..., C:C + Ekv], qkv[..., C + Ekv:]
        else:
            q = y @ P[pre + "attn_q.weight"].T
            k = y @ P[pre + "attn_k.weight"].T
            v = y @ P[pre + "attn_v.weight"].T
            if h["qkv_bias"]:
                q = q + P[pre + "attn_q.bias"]
                k = k + P[pre + "attn_k.bias"]
                v = v + P[pre + "attn_v.bias"]
        q = q.view(B, T, NH, D)
        k = k.view(B, T, NKV, D)
        v = v.view(B, T, NKV, D)
        if not gpt2:
            q, k = rope(q, cos, sin), rope(k, cos, sin)
        rep = NH // NKV
        k = k.repeat_interleave(rep, dim=2)  # KV head j serves heads j*rep ..
        v = v.repeat_interleave(rep, dim=2)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # (B, H, T, D)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(D)
        s = s.masked_fill(~mask, float("-inf"))
        a = torch.softmax(s, dim=-1) @ v
        a = a.transpose(1, 2).reshape(B, T, C)
        o = a @ P[pre + "attn_output.weight"].T
        if gpt2:
            o = o + P[pre + "attn_output.bias"]
        x = x + o
        y = norm(x, pre + "ffn_norm")
        if gpt2:
            f = torch.nn.functional.gelu(y @ P[pre + "ffn_up.weight"].T + P[pre + "ffn_up.bias"],
                                         approximate="tanh")
            x = x + f @ P[pre + "ffn_down.weight"].T + P[pre + "ffn_down.bias"]
        else:
            g = torch.nn.functional.silu(y @ P[pre + "ffn_gate.weight"].T)
            u = y @ P[pre + "ffn_up.weight"].T
            x = x + (g * u) @ P[pre + "ffn_down.weight"].T
    x = norm(x, "output_norm")
    W = P["output.weight"] if "output.weight" in P else P["token_embd.weight"]
    logits = x @ W.T
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1))


def test_grads(label, cfg):
    path = os.path.join(WORK, "grads_%s.bin" % label)
    run(["grads", path] + cfg)
    h, blob = read(path)
    B, T = h["B"], h["T"]
    r = Reader(blob)
    inp = torch.tensor(r.take(np.int32, B * T).astype(np.int64)).view(B, T)
    tgt = torch.tensor(r.take(np.int32, B * T).astype(np.int64)).view(B, T)
    W = read_tensors(r, h)
    G = read_tensors(r, h)
    P = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in W.items()}
    loss = forward(h, P, inp, tgt, B, T)
    loss.backward()
    rel = abs(loss.item() - h["loss"]) / abs(loss.item())
    check(label + " loss", rel < 1e-5, "libllm %.9g torch %.9g rel %.2e" % (h["loss"], loss.item(), rel))
    worst, worst_name = 0.0, ""
    for name, t in P.items():
        ref = t.grad.numpy()
        got = G[name].astype(np.float64)
        scale = np.abs(ref).max()
        err = np.abs(got - ref).max() / (scale if scale > 0 else 1.0)
        if err > worst:
            worst, worst_name = err, name
        if err > 1e-4:
            check(label + " grad " + name, False, "rel err %.2e (scale %.3g)" % (err, scale))
    check(label + " grads", worst <= 1e-4,
          "%d tensors, worst rel err %.2e (%s)" % (len(P), worst, worst_name))


def get_lr(it, h):
    lr, min_lr, W, S = h["lr"], h["min_lr"], h["warmup"], h["total"]
    if it < W:
        return lr * (it + 1) / (W + 1)
    if it > S:
        return min_lr
    ratio = (it - W) / (S - W)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (lr - min_lr)


def test_steps(label, cfg):
    path = os.path.join(WORK, "steps_%s.bin" % label)
    run(["steps", path] + cfg)
    h, blob = read(path)
    B, T, K, S = h["B"], h["T"], h["K"], h["steps"]
    r = Reader(blob)
    W0 = read_tensors(r, h)
    P = {k: torch.tensor(v, dtype=torch.float32, requires_grad=True) for k, v in W0.items()}
    decay = [t for k, t in P.items() if t.dim() >= 2]
    nodecay = [t for k, t in P.items() if t.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": h["wd"]},
                             {"params": nodecay, "weight_decay": 0.0}],
                            lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"])
    losses = []
    for s in range(S):
        inp = torch.tensor(r.take(np.int32, K * B * T).astype(np.int64)).view(K, B, T)
        tgt = torch.tensor(r.take(np.int32, K * B * T).astype(np.int64)).view(K, B, T)
        lr = get_lr(s, h)
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad()
        tot = 0.0
        for k in range(K):
            loss = forward(h, P, inp[k], tgt[k], B, T) / K
            loss.backward()
            tot += loss.item()
        norm = torch.nn.utils.clip_grad_norm_(list(P.values()), h["clip"]) if h["clip"] > 0 else None
        opt.step()
        losses.append((tot, lr, norm.item() if norm is not None else None))
    rec = r.take(np.float64, 3 * S).reshape(S, 3)
    W1 = read_tensors(r, h)
    worst = 0.0
    for s in range(S):
        rl = abs(rec[s, 0] - losses[s][0]) / abs(losses[s][0])
        worst = max(worst, rl)
        lr_ok = abs(rec[s, 2] - losses[s][1]) <= 1e-15 * max(1.0, losses[s][1])
        if not lr_ok:
            check("%s lr step %d" % (label, s), False, "%r vs %r" % (rec[s, 2], losses[s][1]))
        if losses[s][2] is not None and abs(rec[s, 1] - losses[s][2]) > 1e-4 * losses[s][2]:
            check("%s grad norm step %d" % (label, s), False, "%g vs %g" % (rec[s, 1], losses[s][2]))
    check(label + " losses", worst <= 1e-4,
          "%d steps, first %.6f last %.6f (torch %.6f), worst rel %.2e"
          % (S, rec[0, 0], rec[-1, 0], losses[-1][0], worst))
    wworst, wname = 0.0, ""
    C, Ekv = h["n_embd"], h["n_head_kv"] * (h["n_embd"] // h["n_head"])
    for name, t in P.items():
        ref, got = t.detach().numpy().copy(), W1[name].copy()
        # The loss does not depend on the key bias (it shifts all scores of
        # a query equally): its true gradient is 0 and both sides hold only
        # rounding noise, which Adam scales up to lr-sized steps of random
        # sign. Those entries cannot agree, so they are left out.
        if name.endswith("attn_qkv.bias"):
            ref[C:C + Ekv] = got[C:C + Ekv] = 0
        if name.endswith("attn_k.bias"):
            continue
        err = np.abs(got - ref).max() / max(np.abs(ref).max(), 1e-3)
        if err > wworst:
            wworst, wname = err, name
    check(label + " weights", wworst <= 1e-4, "final weights worst rel %.2e (%s)" % (wworst, wname))


def test_adamw():
    path = os.path.join(WORK, "adamw.bin")
    n, steps = 4096, 5
    run(["adamw", path, n, steps, 3e-3, 0.1, 0.9, 0.95, 1e-8, 5])
    h, blob = read(path)
    r = Reader(blob)
    p0 = r.take(np.float32, n).copy()
    g = r.take(np.float32, n * steps).reshape(steps, n)
    p1 = r.take(np.float32, n)
    t = torch.tensor(p0, requires_grad=True)
    opt = torch.optim.AdamW([t], lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"],
                            weight_decay=h["wd"])
    for s in range(steps):
        t.grad = torch.tensor(g[s].copy())
        opt.step()
    err = np.abs(p1 - t.detach().numpy()).max()
    check("adamw kernel", err <= 1e-6, "%d params x %d steps, max abs diff %.2e" % (n, steps, err))


# arch L C NH NKV F V T B flags seed
GPT2 = ["gpt2", 2, 32, 4, 4, 0, 61, 9, 3, 0, 1]
GPT2_UNTIED = ["gpt2", 1, 24, 3, 3, 40, 50, 7, 2, 1, 2]
LLAMA_GQA = ["llama", 2, 32, 4, 2, 48, 61, 9, 3, 0, 3]
LLAMA_BIAS = ["llama", 1, 32, 4, 1, 40, 37, 6, 2, 3, 4]

test_adamw()
test_grads("gpt2", GPT2)
test_grads("gpt2-untied", GPT2_UNTIED)
test_grads("llama-gqa", LLAMA_GQA)
test_grads("llama-mqa-bias-untied", LLAMA_BIAS)
# ... n_steps K lr min_lr warmup total wd clip beta2
test_steps("gpt2", GPT2 + [10, 2, 3e-3, 3e-4, 3, 10, 0.1, 1.0, 0.95])
test_steps("llama-gqa", LLAMA_GQA + [10, 2, 3e-3, 3e-4, 3, 10, 0.1, 1.0, 0.95])
test_steps("llama-noclip", LLAMA_BIAS + [6, 1, 1e-2, 0.0, 0, 4, 0.0, 0.0, 0.999])

if failures:
    print("FAILED: " + ", ".join(failures))
    sys.exit(1)
print("all torch checks passed")
