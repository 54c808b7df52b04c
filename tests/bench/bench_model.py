"""
bench_model.py - model-core benchmark: libllm beside PyTorch, same weights.

For GPT-2 124M dims and a 110M Llama (dim 768, 12 layers, 12 heads, hidden
2048, vocab 32000, tied) with random weights: prefill tok/s of a 128-token
prompt, decode tok/s with a KV cache, evaluation tok/s at B=8, T=256.
libllm runs in its own process (tests/model/bench_model, the public API);
PyTorch runs here with the same weights and thread count.

usage: OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 tests/bench/bench_model.py BUILD_DIR [THREADS]
(the script sets OMP_WAIT_POLICY=PASSIVE itself before importing torch)
"""
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import torch  # noqa: E402
import torch.nn.functional as Fn  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "model"))
import llmref  # noqa: E402

P, ND, B, T = 128, 128, 8, 256


def gpt2_weights(V=50257, NP=1024, C=768, L=12, seed=1):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g) * 0.02
    w = {"wte": r(V, C), "wpe": r(NP, C), "lnf_w": torch.ones(C), "lnf_b": torch.zeros(C), "layers": []}
    for _ in range(L):
        w["layers"].append({"ln1_w": torch.ones(C), "ln1_b": torch.zeros(C),
                            "qkv": r(3 * C, C), "qkv_b": torch.zeros(3 * C),
                            "o": r(C, C), "o_b": torch.zeros(C),
                            "ln2_w": torch.ones(C), "ln2_b": torch.zeros(C),
                            "up": r(4 * C, C), "up_b": torch.zeros(4 * C),
                            "down": r(C, 4 * C), "down_b": torch.zeros(C)})
    return w


def gpt2_gguf(w, path, NH=12):
    C = w["wte"].shape[1]
    t = [("token_embd.weight", w["wte"]), ("position_embd.weight", w["wpe"])]
    for l, lw in enumerate(w["layers"]):
        b = "blk.%d." % l
        t += [(b + "attn_norm.weight", lw["ln1_w"]), (b + "attn_norm.bias", lw["ln1_b"]),
              (b + "attn_qkv.weight", lw["qkv"]), (b + "attn_qkv.bias", lw["qkv_b"]),
              (b + "attn_output.weight", lw["o"]), (b + "attn_output.bias", lw["o_b"]),
              (b + "ffn_norm.weight", lw["ln2_w"]), (b + "ffn_norm.bias", lw["ln2_b"]),
              (b + "ffn_up.weight", lw["up"]), (b + "ffn_up.bias", lw["up_b"]),
              (b + "ffn_down.weight", lw["down"]), (b + "ffn_down.bias", lw["down_b"])]
    t += [("output_norm.weight", w["lnf_w"]), ("output_norm.bias", w["lnf_b"])]
    kv = [("general.architecture", "str", "gpt2"), ("gpt2.context_length", "u32", w["wpe"].shape[0]),
          ("gpt2.embedding_length", "u32", C), ("gpt2.block_count", "u32", len(w["layers"])),
          ("gpt2.feed_forward_length", "u32", 4 * C), ("gpt2.attention.head_count", "u32", NH),
          ("gpt2.attention.layer_norm_epsilon", "f32", 1e-5)]
    llmref.write_gguf(path, kv, [(n, a.numpy()) for n, a in t])


def gpt2_forward(w, ids, cache, pos0, NH=12, last_only=False):
    """ids (B, T); cache: list of [k, v] per layer (B, NH, t, D) or None entries."""
    Bn, Tn = ids.shape
    C = w["wte"].shape[1]
    D = C // NH
    x = w["wte"][ids] + w["wpe"][pos0:pos0 + Tn]
    for l, lw in enumerate(w["layers"]):
        h = Fn.layer_norm(x, (C,), lw["ln1_w"], lw["ln1_b"], 1e-5)
        q, k, v = Fn.linear(h, lw["qkv"], lw["qkv_b"]).split(C, dim=-1)
        q = q.view(Bn, Tn, NH, D).transpose(1, 2)
        k = k.view(Bn, Tn, NH, D).transpose(1, 2)
        v = v.view(Bn, Tn, NH, D).transpose(1, 2)
        if cache is not None:
            if cache[l] is not None:
                k = torch.cat([cache[l][0], k], 2)
                v = torch.cat([cache[l][1], v], 2)
            cache[l] = (k, v)
        S = q @ k.transpose(-1, -2) / D ** 0.5
        if Tn > 1:
            S = S + torch.full((Tn, k.shape[2]), float("-inf")).triu(k.shape[2] - Tn + 1)
        o = (S.softmax(-1) @ v).transpose(1, 2).reshape(Bn, Tn, C)
        x = x + Fn.linear(o, lw["o"], lw["o_b"])
        h = Fn.layer_norm(x, (C,), lw["ln2_w"], lw["ln2_b"], 1e-5)
        x = x + Fn.linear(Fn.gelu(Fn.linear(h, lw["up"], lw["up_b"]), approximate="tanh"), lw["down"], lw["down_b"])
    if last_only:
        x = x[:, -1:]
    x = Fn.layer_norm(x, (C,), w["lnf_w"], w["lnf_b"], 1e-5)
    return Fn.linear(x, w["wte"])


def llama_weights(V=32000, C=768, L=12, F=2048, seed=2):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g) * 0.02
    w = {"emb": r(V, C), "norm": torch.ones(C), "layers": []}
    for _ in range(L):
        w["layers"].append({"an": torch.ones(C), "q": r(C, C), "k": r(C, C), "v": r(C, C), "o": r(C, C),
                            "fn": torch.ones(C), "gate": r(F, C), "up": r(F, C), "down": r(C, F)})
    return w


def llama_gguf(w, path, NH=12, NP=1024):
    C = w["emb"].shape[1]
    F = w["layers"][0]["gate"].shape[0]
    t = [("token_embd.weight", w["emb"])]
    for l, lw in enumerate(w["layers"]):
        b = "blk.%d." % l
        t += [(b + "attn_norm.weight", lw["an"]),
              (b + "attn_q.weight", llmref.LlamaRef.permute(lw["q"], NH)),
              (b + "attn_k.weight", llmref.LlamaRef.permute(lw["k"], NH)),
              (b + "attn_v.weight", lw["v"]), (b + "attn_output.weight", lw["o"]),
              (b + "ffn_norm.weight", lw["fn"]), (b + "ffn_gate.weight", lw["gate"]),
              (b + "ffn_up.weight", lw["up"]), (b + "ffn_down.weight", lw["down"])]
    t.append(("output_norm.weight", w["norm"]))
    kv = [("general.architecture", "str", "llama"), ("llama.context_length", "u32", NP),
          ("llama.embedding_length", "u32", C), ("llama.block_count", "u32", len(w["layers"])),
          ("llama.feed_forward_length", "u32", F), ("llama.attention.head_count", "u32", NH),
          ("llama.attention.head_count_kv", "u32", NH),
          ("llama.attention.layer_norm_rms_epsilon", "f32", 1e-5),
          ("llama.rope.freq_base", "f32", 10000.0), ("llama.vocab_size", "u32", w["emb"].shape[0])]
    llmref.write_gguf(path, kv, [(n, a.contiguous().numpy()) for n, a in t])


def llama_forward(w, ids, cache, pos0, NH=12, last_only=False):
    Bn, Tn = ids.shape
    C = w["emb"].shape[1]
    D = C // NH
    x = w["emb"][ids]
    inv = 1.0 / (10000.0 ** (torch.arange(0, D, 2, dtype=torch.float32) / D))
    ang = torch.arange(pos0, pos0 + Tn, dtype=torch.float32)[:, None] * inv[None]
    cos, sin = torch.cat((ang, ang), -1).cos(), torch.cat((ang, ang), -1).sin()
    rms = lambda x, g: x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * g
    for l, lw in enumerate(w["layers"]):
        h = rms(x, lw["an"])
        q = Fn.linear(h, lw["q"]).view(Bn, Tn, NH, D).transpose(1, 2)
        k = Fn.linear(h, lw["k"]).view(Bn, Tn, NH, D).transpose(1, 2)
        v = Fn.linear(h, lw["v"]).view(Bn, Tn, NH, D).transpose(1, 2)
        q = q * cos + llmref.rotate_half(q) * sin
        k = k * cos + llmref.rotate_half(k) * sin
        if cache is not None:
            if cache[l] is not None:
                k = torch.cat([cache[l][0], k], 2)
                v = torch.cat([cache[l][1], v], 2)
            cache[l] = (k, v)
        S = q @ k.transpose(-1, -2) / D ** 0.5
        if Tn > 1:
            S = S + torch.full((Tn, k.shape[2]), float("-inf")).triu(k.shape[2] - Tn + 1)
        o = (S.softmax(-1) @ v).transpose(1, 2).reshape(Bn, Tn, C)
        x = x + Fn.linear(o, lw["o"])
        h = rms(x, lw["fn"])
        x = x + Fn.linear(Fn.silu(Fn.linear(h, lw["gate"])) * Fn.linear(h, lw["up"]), lw["down"])
    if last_only:
        x = x[:, -1:]
    return Fn.linear(rms(x, w["norm"]), w["emb"])


def torch_bench(name, fwd, w, V, threads):
    torch.set_num_threads(threads)
    # The same token stream as bench_model.c (its LCG), so the two eval
    # losses must agree: a check that both ran the same model.
    st, vals = 42, []
    for _ in range(B * T):
        st = (st * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        vals.append((st >> 33) % V)
    toks = torch.tensor(vals).reshape(B, T)
    n_layers = len(w["layers"])
    with torch.no_grad():
        best = 1e30
        for _ in range(3):
            t0 = time.perf_counter()
            fwd(w, toks[:1, :P], [None] * n_layers, 0, last_only=True)
            best = min(best, time.perf_counter() - t0)
        print("bench=model_prefill impl=torch model=%s threads=%d tokens=%d tok_s=%.1f" % (name, threads, P, P / best))
        best = 1e30
        for _ in range(2):
            cache = [None] * n_layers
            fwd(w, toks[:1, :P], cache, 0, last_only=True)
            t0 = time.perf_counter()
            for i in range(ND):
                fwd(w, toks[:1, P + i:P + i + 1], cache, P + i)
            best = min(best, time.perf_counter() - t0)
        print("bench=model_decode impl=torch model=%s threads=%d tokens=%d tok_s=%.2f" % (name, threads, ND, ND / best))
        best = 1e30
        tgt = torch.roll(toks.reshape(-1), -1).reshape(B, T)
        for _ in range(2):
            t0 = time.perf_counter()
            lg = fwd(w, toks, None, 0)
            loss = Fn.cross_entropy(lg.reshape(-1, V), tgt.reshape(-1))
            best = min(best, time.perf_counter() - t0)
        print("bench=model_eval impl=torch model=%s threads=%d B=%d T=%d tok_s=%.1f loss=%.4f" %
              (name, threads, B, T, B * T / best, loss.item()))


def main():
    build = sys.argv[1]
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    exe = os.path.join(build, "tests", "model", "bench_model")
    subprocess.run(["cmake", "--build", build, "--target", "bench_model", "-j2"], check=True,
                   stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory() as tmp:
        for name, mk, save, fwd, V in (("gpt2-124M", gpt2_weights, gpt2_gguf, gpt2_forward, 50257),
                                       ("llama-110M", llama_weights, llama_gguf, llama_forward, 32000)):
            w = mk()
            path = os.path.join(tmp, name + ".gguf")
            save(w, path)
            sys.stdout.flush()
            subprocess.run([exe, path, name, str(threads)], check=True)
            torch_bench(name, fwd, w, V, threads)
            sys.stdout.flush()
            os.unlink(path)


if __name__ == "__main__":
    main()
