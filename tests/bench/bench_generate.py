"""
bench_generate.py [small|gpt2|all] [threads] - the PyTorch peer of
bench_generate.c: the same shapes (random weights), a 16-token prompt, then
100 tokens generated one at a time with a KV cache (float32, eager, no
autograd) and top-k 40 / T 0.8 sampling (torch.topk + torch.multinomial).
Prints the same kind of line (impl=torch). Run with
OMP_WAIT_POLICY=PASSIVE /usr/bin/python3.
"""
import math
import sys
import time

import torch
import torch.nn.functional as F

N_TOK = 100


class GPT2:
    def __init__(self, V, T, C, L, NH):
        g = torch.Generator().manual_seed(1)
        r = lambda *s: torch.randn(*s, generator=g) * 0.02
        self.V, self.C, self.L, self.NH = V, C, L, NH
        self.wte, self.wpe = r(V, C), r(T, C)
        self.blocks = [dict(ln1=(torch.ones(C), torch.zeros(C)), qkv=(r(3 * C, C), torch.zeros(3 * C)),
                            proj=(r(C, C), torch.zeros(C)), ln2=(torch.ones(C), torch.zeros(C)),
                            fc=(r(4 * C, C), torch.zeros(4 * C)), out=(r(C, 4 * C), torch.zeros(C)))
                       for _ in range(L)]
        self.lnf = (torch.ones(C), torch.zeros(C))

    def step(self, ids, cache, pos):  # ids (T,) -> logits of the last position (V,)
        C, NH = self.C, self.NH
        T = ids.shape[0]
        x = self.wte[ids] + self.wpe[pos:pos + T]
        for l, b in enumerate(self.blocks):
            h = F.layer_norm(x, (C,), *b["ln1"])
            q, k, v = F.linear(h, *b["qkv"]).split(C, dim=-1)
            k_all = torch.cat([cache[l][0], k]) if cache[l] else k
            v_all = torch.cat([cache[l][1], v]) if cache[l] else v
            cache[l] = (k_all, v_all)
            sh = lambda t: t.view(t.shape[0], NH, C // NH).transpose(0, 1)
            att = sh(q) @ sh(k_all).transpose(-1, -2) / math.sqrt(C // NH)  # (NH, T, S)
            if T > 1:  # the prompt, from position 0: causal mask
                att = att.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
            a = torch.softmax(att, -1) @ sh(v_all)
            x = x + F.linear(a.transpose(0, 1).reshape(T, C), *b["proj"])
            h = F.layer_norm(x, (C,), *b["ln2"])
            x = x + F.linear(F.gelu(F.linear(h, *b["fc"]), approximate="tanh"), *b["out"])
        x = F.layer_norm(x[-1], (C,), *self.lnf)
        return x @ self.wte.t()


def sample(logits, g):
    v, i = torch.topk(logits / 0.8, 40)
    return int(i[torch.multinomial(torch.softmax(v, -1), 1, generator=g)])


def run(name, C, L, NH, threads):
    torch.set_num_threads(threads)
    m = GPT2(50257, 256, C, L, NH)
    g = torch.Generator().manual_seed(7)
    ids = torch.tensor([100 + 7 * i for i in range(16)])
    cache = [None] * L
    lat = []
    with torch.no_grad():
        t0 = time.perf_counter()
        logits = m.step(ids, cache, 0)
        t = sample(logits, g)
        prompt_ms = (time.perf_counter() - t0) * 1e3
        for pos in range(16, 16 + N_TOK - 1):
            t0 = time.perf_counter()
            logits = m.step(torch.tensor([t]), cache, pos)
            t = sample(logits, g)
            lat.append(time.perf_counter() - t0)
        ts = time.perf_counter()
        for _ in range(200):
            sample(logits, g)
        ts = (time.perf_counter() - ts) / 200
    mean = sum(lat) / len(lat)
    lat.sort()
    print("bench=generate_next impl=torch model=%s V=50257 C=%d L=%d n_ctx=256 threads=%d tokens=%d "
          "prompt_ms=%.3f ms_per_token=%.3f p50=%.3f p99=%.3f tokens_per_s=%.1f sample_us=%.1f "
          "sample_share=%.1f%%" % (name, C, L, threads, N_TOK, prompt_ms, mean * 1e3,
                                   lat[len(lat) // 2] * 1e3, lat[int((len(lat) - 1) * 0.99)] * 1e3,
                                   1 / mean, ts * 1e6, 100 * ts / mean))


def main():
    which = sys.argv[1] if len(sys.argv) > 1 else "all"
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    if which in ("small", "all"):
        run("small", 128, 4, 4, threads)
    if which in ("gpt2", "all"):
        run("gpt2-124M", 768, 12, 12, threads)


if __name__ == "__main__":
    main()
