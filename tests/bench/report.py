#!/usr/bin/python3
"""
report.py [FILE...] - derived figures from the benchmarks' own lines
(`bench=... key=value ...`, read from FILEs or stdin, as run_all.sh
collects them). Prints, one line each:

  bench=roofline_share  what=prefill|decode|eval|train impl= model= type= threads=
                        achieved=<GFLOP/s or GB/s> ceiling=<same unit> pct=
      the share of the machine's ceiling measured in the same run
      (roofline.c): decode reads its weight bytes once per token, so
      weight_bytes x tok/s / read bandwidth; prefill, eval and training are
      compute-bound, so FLOPs per token x tok/s / sgemm peak. FLOPs per
      token: 2·N for inference and 6·N for training (N = the weights of the
      matrix products, the tied output head included, embeddings' lookups
      not; a prefill computes the head for its last token only, so there
      the head counts once per prompt), plus causal attention: Q·Kᵀ and P·V cost 4·C FLOPs per layer per
      past position, over (T+1)/2 positions on average for a prompt or
      sequence of T tokens; training adds twice that for the backward pass.
      The ceilings are the best figure of all roofline lines at that thread
      count (sgemm: any shape and split; read: the streaming sum).
  bench=ratio what= model= type= threads= impl=libllm peer= libllm= peer_value= ratio= [target= met=]
      libllm's figure over the peer's from the same run (tokens/s; for
      train also peak memory, where lower is better and the target is
      ratio <= 1).
  bench=scaling what= impl= model= type= t1= tN= threads=N ratio= [target= met=]
      tokens/s at N threads over 1 thread, same implementation.
The targets are issue #10's. Lines with status= (skipped, unsupported,
failed) are passed over.

report.py --markdown FILE... prints the same figures as a Markdown table
(one row per figure and thread count: libllm, PyTorch, llama.cpp, the
ratios and libllm's roofline share) for tests/bench/README.md.
"""
import re
import sys
from collections import defaultdict

# name -> (layers, width, ffn width, vocab, gated ffn, position table rows)
DIMS = {
    "gpt2-124M": (12, 768, 3072, 50257, False, 1024),
    "gpt2_124m": (12, 768, 3072, 50257, False, None),
    "gpt2_6l384": (6, 384, 1536, 50257, False, None),
    "llama-110M": (12, 768, 2048, 32000, True, 0),
    "llama-15M": (6, 288, 768, 32000, True, 0),
}
PROMPT = 128  # bench_model / llama-bench prompt length

TARGETS = {  # (what, model or None, peer) -> minimum ratio
    ("train", "gpt2_6l384", "pytorch"): 1.4,
    ("train", "gpt2_124m", "pytorch"): 1.6,
    ("eval", None, "torch"): 1.3,
    ("prefill", None, "llamacpp"): 0.95,
}
SCALING_TARGET = {"prefill": 1.8, "eval": 1.8, "train": 1.8}
DECODE_PCT_TARGET = 90.0

KV = re.compile(r'(\w+)=("[^"]*"|\S+)')


def parse(lines):
    out = []
    for line in lines:
        if not line.startswith("bench="):
            continue
        d = {k: v.strip('"') for k, v in KV.findall(line)}
        if "status" in d:
            continue
        out.append(d)
    return out


def n_blocks(name):
    """Weights of the blocks' matrix products."""
    L, C, F, V, gated, _ = DIMS[name]
    return L * (4 * C * C + (3 if gated else 2) * C * F)


def n_matmul(name):
    """... plus the output head (V x C)."""
    return n_blocks(name) + DIMS[name][3] * DIMS[name][1]


def n_total(name):
    """All parameters (what bench_model's llm_model_n_params counts)."""
    L, C, F, V, gated, npos = DIMS[name]
    n = n_matmul(name)
    if gated:
        return n + L * 2 * C + C
    return n + (npos or 0) * C + L * (4 * C + 3 * C + C + F + C) + 2 * C


def attn_flops(name, T):
    L, C = DIMS[name][0], DIMS[name][1]
    return 4.0 * L * C * (T + 1) / 2.0


def flops_per_token(what, d):
    name = d.get("model") or d.get("name")
    if name not in DIMS:
        return None
    if what == "prefill":
        # Both libllm and llama-bench compute the logits of the last prompt
        # token only: the head's cost is spread over the prompt.
        P = int(d.get("tokens", PROMPT))
        L, C, F, V = DIMS[name][:4]
        return 2.0 * n_blocks(name) + 2.0 * V * C / P + attn_flops(name, P)
    if what == "eval":
        return 2.0 * n_matmul(name) + attn_flops(name, int(d["T"]))
    if what == "train":
        return 6.0 * n_matmul(name) + 3.0 * attn_flops(name, int(d["T"]))
    return None


def fmt_target(ratio, target, higher=True):
    if target is None:
        return ""
    met = ratio >= target if higher else ratio <= target
    return " target=%s%.2f met=%s" % (">=" if higher else "<=", target, "yes" if met else "no")


def main():
    lines = []
    args = sys.argv[1:]
    markdown = bool(args) and args[0] == "--markdown"
    if markdown:
        args = args[1:]
    if args:
        for p in args:
            with open(p) as f:
                lines += f.readlines()
    else:
        lines = sys.stdin.readlines()
    recs = parse(lines)

    peak, bw = defaultdict(float), defaultdict(float)
    for d in recs:
        if d["bench"] == "roofline" and d.get("what") == "sgemm":
            peak[int(d["threads"])] = max(peak[int(d["threads"])], float(d["gflops"]))
        elif d["bench"] == "roofline" and d.get("what") == "read":
            bw[int(d["threads"])] = max(bw[int(d["threads"])], float(d["gb_s"]))

    # Best tokens/s per (what, impl, model, type, threads), and peak memory for train.
    best, rss, first = {}, {}, {}
    for d in recs:
        b = d["bench"]
        if b.startswith("model_"):
            what, name = b[6:], d.get("model")
        elif b == "train":
            what, name = "train", d.get("name")
        else:
            continue
        if "tok_s" not in d:
            continue
        impl = d.get("impl", "?")
        typ = d.get("type", "f32")
        t = int(d["threads"])
        key = (what, impl, name, typ, t)
        tok_s = float(d["tok_s"])
        if key not in best or tok_s > best[key]:
            best[key] = tok_s
            first[key] = d
        if "peak_rss_mb" in d:
            rss[key] = min(rss.get(key, 1e30), float(d["peak_rss_mb"]))

    out = []
    share = {}
    for key in sorted(best):
        what, impl, name, typ, t = key
        d, tok_s = first[key], best[key]
        if what == "decode":
            if t not in bw or name not in DIMS and "weight_bytes" not in d:
                continue
            wbytes = float(d["weight_bytes"]) if "weight_bytes" in d else 4.0 * n_total(name)
            got = wbytes * tok_s / 1e9
            pct = 100.0 * got / bw[t]
            tgt = fmt_target(pct, DECODE_PCT_TARGET) if impl == "libllm" else ""
            share[key] = pct
            out.append("bench=roofline_share what=decode impl=%s model=%s type=%s threads=%d achieved=%.2f "
                  "ceiling=%.2f unit=GB/s pct=%.1f%s" % (impl, name, typ, t, got, bw[t], pct, tgt))
        else:
            fl = flops_per_token(what, dict(d, model=name))
            if fl is None or t not in peak:
                continue
            got = fl * tok_s / 1e9
            share[key] = 100.0 * got / peak[t]
            out.append("bench=roofline_share what=%s impl=%s model=%s type=%s threads=%d achieved=%.1f "
                  "ceiling=%.1f unit=GFLOP/s pct=%.1f" % (what, impl, name, typ, t, got, peak[t],
                                                          100.0 * got / peak[t]))

    for key in sorted(best):
        what, impl, name, typ, t = key
        if impl != "libllm":
            continue
        for (w2, peer, n2, ty2, t2), v in sorted(best.items()):
            if (w2, n2, ty2, t2) != (what, name, typ, t) or peer == "libllm":
                continue
            r = best[key] / v
            tgt = TARGETS.get((what, name, peer), TARGETS.get((what, None, peer)))
            out.append("bench=ratio what=%s model=%s type=%s threads=%d impl=libllm peer=%s libllm=%.2f "
                  "peer_value=%.2f unit=tok/s ratio=%.2f%s"
                  % (what, name, typ, t, peer, best[key], v, r, fmt_target(r, tgt)))
            pk = (w2, peer, n2, ty2, t2)
            if key in rss and pk in rss:
                r = rss[key] / rss[pk]
                out.append("bench=ratio what=train_peak_rss model=%s type=%s threads=%d impl=libllm peer=%s "
                      "libllm=%.0f peer_value=%.0f unit=MB ratio=%.2f%s"
                      % (name, typ, t, peer, rss[key], rss[pk], r, fmt_target(r, 1.0, higher=False)))

    for key in sorted(best):
        what, impl, name, typ, t = key
        if t == 1:
            continue
        one = (what, impl, name, typ, 1)
        if one not in best:
            continue
        r = best[key] / best[one]
        tgt = SCALING_TARGET.get(what) if impl == "libllm" else None
        out.append("bench=scaling what=%s impl=%s model=%s type=%s threads=%d t1=%.2f tN=%.2f ratio=%.2f%s"
              % (what, impl, name, typ, t, best[one], best[key], r, fmt_target(r, tgt)))
    ratio_sgemm = peak.get(2, 0) / peak[1] if peak.get(1) else None
    if ratio_sgemm:
        out.append("bench=scaling what=sgemm_peak impl=openblas threads=2 t1=%.1f tN=%.1f ratio=%.2f"
              % (peak[1], peak[2], ratio_sgemm))
    if bw.get(1) and bw.get(2):
        out.append("bench=scaling what=read_bandwidth impl=memory threads=2 t1=%.2f tN=%.2f ratio=%.2f"
              % (bw[1], bw[2], bw[2] / bw[1]))

    if markdown:
        print_markdown(best, rss, share, peak, bw)
    else:
        print("\n".join(out))


PEERS = (("torch", "PyTorch"), ("pytorch", "PyTorch"), ("llamacpp", "llama.cpp"))


def print_markdown(best, rss, share, peak, bw):
    print("| figure | threads | libllm | PyTorch | llama.cpp | libllm ÷ peer | libllm share of roofline |")
    print("|---|---|---|---|---|---|---|")
    for t in sorted(set(peak) | set(bw)):
        print("| ceilings: sgemm GFLOP/s, read GB/s | %d | %.0f, %.1f | | | | |" % (t, peak.get(t, 0), bw.get(t, 0)))
    rows = sorted({(w, n, ty, t) for (w, i, n, ty, t) in best})
    order = {"prefill": 0, "decode": 1, "eval": 2, "train": 3}
    rows.sort(key=lambda r: (order.get(r[0], 9), r[1], r[2], r[3]))
    for what, name, typ, t in rows:
        lib = best.get((what, "libllm", name, typ, t))
        cells, ratios = [], []
        for impl in ("torch", "llamacpp"):
            v = best.get((what, impl, name, typ, t))
            if v is None and impl == "torch":
                v = best.get((what, "pytorch", name, typ, t))
            cells.append("%.1f" % v if v else "")
            if v and lib:
                ratios.append("%.2f (%s)" % (lib / v, "PyTorch" if impl == "torch" else "llama.cpp"))
        sh = share.get((what, "libllm", name, typ, t))
        unit = "tok/s"
        label = "%s %s%s" % (what, name, "" if typ == "f32" else " " + typ.upper())
        k = (what, "libllm", name, typ, t)
        mem = ""
        pk = (what, "pytorch", name, typ, t)
        if k in rss and pk in rss:
            mem = "; peak RSS %.0f vs %.0f MB" % (rss[k], rss[pk])
        print("| %s (%s) | %d | %s | %s | %s | %s%s | %s |"
              % (label, unit, t, "%.1f" % lib if lib else "", cells[0], cells[1], ", ".join(ratios), mem,
                 "%.0f%%" % sh if sh is not None else ""))
    print()
    print("| 2 threads ÷ 1 thread | libllm | PyTorch | llama.cpp |")
    print("|---|---|---|---|")
    for what, name, typ in sorted({(w, n, ty) for (w, n, ty, t) in rows},
                                  key=lambda r: (order.get(r[0], 9), r[1], r[2])):
        cells = []
        for impls in (("libllm",), ("torch", "pytorch"), ("llamacpp",)):
            c = ""
            for impl in impls:
                one, two = best.get((what, impl, name, typ, 1)), best.get((what, impl, name, typ, 2))
                if one and two:
                    c = "%.2f" % (two / one)
            cells.append(c)
        print("| %s %s%s | %s | %s | %s |" % (what, name, "" if typ == "f32" else " " + typ.upper(), *cells))


if __name__ == "__main__":
    main()
