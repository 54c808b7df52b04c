"""CLI checks for `libllm plan` and `libllm fit` (run by CTest).

usage: /usr/bin/python3 cli_check.py path/to/libllm [--torch]

Every figure printed by the CLI is recomputed here independently, in
Python, from the paper's published numbers (Hoffmann et al. 2022: Table 2
exponents, Table 3 rows, Appendix D.2 fit, eq. 4) and from hand-derived
parameter-count formulas. With --torch, the fit is also checked against an
independent implementation of the objective in PyTorch (float64) and
against torch.optim.LBFGS (strong Wolfe line search) started from a few
points: the C fit's objective must be no worse than PyTorch's best.
"""
import json
import math
import os
import random
import subprocess
import sys
import tempfile

EXE = sys.argv[1]
USE_TORCH = "--torch" in sys.argv[2:]
FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what)


def rel(a, b):
    return abs(a - b) / abs(b)


def run(*args):
    p = subprocess.run([EXE] + list(args), capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def run_json(*args):
    rc, out, err = run(*args)
    check(rc == 0, f"{args}: exit {rc}, stderr {err!r}")
    return json.loads(out)


# ---- published constants (the paper) -----------------------------------
E, A, B, ALPHA, BETA = 1.69, 406.4, 410.7, 0.34, 0.28          # App. D.2
TABLE3 = [(400e6, 1.92e19), (1e9, 1.21e20), (10e9, 1.23e22), (67e9, 5.76e23),
          (175e9, 3.85e24), (280e9, 9.90e24), (520e9, 3.43e25), (1e12, 1.27e26),
          (10e12, 1.30e28)]


def law(n, d):
    return E + A / n ** ALPHA + B / d ** BETA


def approach3_n(c):
    g = (ALPHA * A / (BETA * B)) ** (1 / (ALPHA + BETA))
    return g * (c / 6) ** (BETA / (ALPHA + BETA))


K1 = math.exp(sum(math.log(n) - 0.5 * math.log(c) for n, c in TABLE3) / len(TABLE3))


def gpt2_params(V, T, C, L, F):
    # wte + wpe + L * (2 LN + qkv + proj + fc + proj) + ln_f
    return V * C + T * C + L * (4 * C + 3 * C * C + 3 * C + C * C + C + 2 * C * F + F + C) + 2 * C


def llama_params(V, C, L, H, Hkv, F, untied):
    hd = C // H
    layer = 2 * C + C * C + 2 * C * Hkv * hd + C * C + 3 * C * F
    return V * C * (2 if untied else 1) + L * layer + C


# ---- plan --compute -----------------------------------------------------
for c in (1e19, 1e21, 5.76e23):
    j = run_json("plan", "--compute", repr(c), "--json")
    check(set(j) >= {"compute", "params", "tokens", "tokens_per_param", "loss"}, f"fields {j}")
    check(j["compute"] == c, f"compute {j['compute']} != {c}")
    check(rel(6 * j["params"] * j["tokens"], c) < 1e-9, f"6ND != C at {c}")
    check(rel(j["tokens_per_param"], j["tokens"] / j["params"]) < 1e-12, "tokens_per_param")
    check(rel(j["params"], approach3_n(c)) < 1e-9, f"approach 3 N at {c}: {j['params']}")
    check(rel(j["loss"], law(j["params"], j["tokens"])) < 1e-12, f"loss at {c}")
    j1 = run_json("plan", "--compute", repr(c), "--approach", "1", "--json")
    check(rel(j1["params"], K1 * c ** 0.5) < 1e-9, f"approach 1 N at {c}")
    j2 = run_json("plan", "--compute", repr(c), "--approach", "2", "--json")
    # Approach 2: anchored at D_opt(5.76e23) = 1.4e12 (Figure 3), b = 0.51
    check(rel(j2["tokens"], 1.4e12 * (c / 5.76e23) ** 0.51) < 1e-9, f"approach 2 D at {c}")

# ---- inverse questions ----------------------------------------------------
j = run_json("plan", "--params", "70e9", "--approach", "1", "--json")
check(rel(j["compute"], (70e9 / K1) ** 2) < 1e-9, "--params 70e9 compute")
check(j["params"] == 70e9, "--params kept")
j = run_json("plan", "--tokens", "1.4e12", "--json")
check(rel(approach3_n(j["compute"]), j["params"]) < 1e-9, "--tokens: N is optimal for C")
check(j["tokens"] == 1.4e12 and rel(6 * j["params"] * j["tokens"], j["compute"]) < 1e-9,
      "--tokens consistency")

# ---- constants sets and a custom law --------------------------------------
j = run_json("plan", "--compute", "5.76e23", "--constants", "hoffmann2022-unrounded", "--json")
check(rel(j["params"], 40e9) < 0.02, f"Figure 4: 40B at Gopher's budget, got {j['params']}")
j = run_json("plan", "--compute", "6e20", "--law", "1,100,100,0.3,0.3", "--json")
check(rel(j["params"], 1e10) < 1e-12 and rel(j["tokens"], 1e10) < 1e-12, "symmetric law")

# ---- wall clock -------------------------------------------------------------
j = run_json("plan", "--compute", "1e19", "--tokens-per-second", "25000", "--json")
check(rel(j["seconds"], j["tokens"] / 25000) < 1e-12, "seconds = D / R")
j = run_json("plan", "--compute", "1e19", "--tokens-per-second", "25000",
             "--measured-params", "1e7", "--json")
check(rel(j["seconds"], j["tokens"] / (25000 * 1e7 / j["params"])) < 1e-12, "rescaled seconds")

# how much fits in an hour at 25,000 tokens/s measured on a 1e7-parameter model
j = run_json("plan", "--seconds", "3600", "--tokens-per-second", "25000",
             "--measured-params", "1e7", "--json")
check(rel(j["compute"], 6 * 1e7 * 25000 * 3600) < 1e-12, "--seconds budget C = 6 M R S")
check(rel(j["seconds"], 3600) < 1e-9, "--seconds round trip")
rc, out, err = run("plan", "--seconds", "3600", "--tokens-per-second", "25000")
check(rc == 2 and "measured-params" in err, f"--seconds without M: {rc} {err!r}")

# ---- --suggest-config: exact count recomputed here --------------------------
j = run_json("plan", "--params", "124e6", "--suggest-config", "--json")
cfg = j["config"]
n = gpt2_params(cfg["n_vocab"], cfg["n_ctx"], cfg["n_embd"], cfg["n_layer"], cfg["n_ff"])
check(cfg["n_params"] == n, f"suggested gpt2 count {cfg['n_params']} != {n}")
check(rel(n, 124e6) < 0.01, f"suggested gpt2 count {n} not within 1% of 124e6")
check(cfg["n_embd"] == 64 * cfg["n_head"], "head size 64")
if (cfg["n_layer"], cfg["n_embd"]) == (12, 768):
    # GPT-2 small: Kaplan training FLOPs/token 3 * (2 * 85,056,000 + 2 * 12 * 1024 * 768)
    check(cfg["train_flops_per_token"]["kaplan"] == 566959104, "Kaplan FLOPs of GPT-2 small")
    check(cfg["train_flops_per_token"]["6n"] == 6 * 124439808, "6N of GPT-2 small")
else:
    check(False, f"124M did not give GPT-2 small's shape: {cfg}")
check(32 <= cfg["n_embd"] / cfg["n_layer"] <= 256, "aspect ratio range")
j = run_json("plan", "--compute", "1e21", "--suggest-config", "--arch", "llama", "--vocab",
             "32000", "--ctx", "2048", "--json")
cfg = j["config"]
n = llama_params(cfg["n_vocab"], cfg["n_embd"], cfg["n_layer"], cfg["n_head"],
                 cfg["n_head_kv"], cfg["n_ff"], True)
check(cfg["n_params"] == n, f"suggested llama count {cfg['n_params']} != {n}")
check(rel(n, j["params"]) < 0.01, "suggested llama within 1% of N_opt")

# ---- bad command lines and inputs --------------------------------------------
for args in (["--compute", "-1"], ["--compute", "0"], ["--compute", "nan"],
             ["--compute", "inf"], ["--compute", "1e21", "--approach", "4"], [],
             ["--compute", "1e21", "--params", "1e9"], ["--tokens", "abc"]):
    rc, out, err = run("plan", *args)
    check(rc == 2 and "error" in err, f"plan {args}: exit {rc}, stderr {err!r}")
rc, out, err = run("plan", "--params", "1e300")
check(rc == 1 and "LLM_ERR_RANGE" in err, f"plan --params 1e300: {rc} {err!r}")

# ---- fit ----------------------------------------------------------------------
tmp = tempfile.mkdtemp()
rng = random.Random(1234)
rows = []
for i in range(8):
    for k in range(8):
        nn = 1e7 * 1e3 ** (i / 7)
        dd = 1e9 * 1e3 ** (k / 7)
        rows.append((nn, dd, law(nn, dd) * math.exp(rng.gauss(0, 0.005))))
csv = os.path.join(tmp, "runs.csv")
with open(csv, "w") as f:
    f.write("N,D,loss\n")
    for r in rows:
        f.write("%.17g,%.17g,%.17g\n" % r)
fit = run_json("fit", csv, "--json")
check(fit["converged"] is True and fit["n_runs"] == 64, f"fit converged {fit}")
check(abs(fit["alpha"] - ALPHA) < 0.02 and abs(fit["beta"] - BETA) < 0.02,
      f"fit exponents {fit['alpha']} {fit['beta']}")
check(abs(fit["E"] - E) < 0.05, f"fit E {fit['E']}")
fr = fit["frontier"]
check(abs(fr["a"] - fit["beta"] / (fit["alpha"] + fit["beta"])) < 1e-12, "frontier a")
check(rel(fr["G"], (fit["alpha"] * fit["A"] / (fit["beta"] * fit["B"]))
          ** (1 / (fit["alpha"] + fit["beta"]))) < 1e-9, "frontier G")


def huber(r, delta=1e-3):
    return 0.5 * r * r if abs(r) <= delta else delta * (abs(r) - 0.5 * delta)


obj_true = sum(huber(math.log(law(nn, dd)) - math.log(ll)) for nn, dd, ll in rows)
check(fit["objective"] <= obj_true, f"fit objective {fit['objective']} > truth {obj_true}")
obj_py = sum(huber(math.log(fit["E"] + fit["A"] / nn ** fit["alpha"] + fit["B"] / dd ** fit["beta"])
                   - math.log(ll)) for nn, dd, ll in rows)
check(rel(obj_py, fit["objective"]) < 1e-6, f"objective recomputed {obj_py} vs {fit['objective']}")

# bad CSV rows: the line number is reported
bad_cases = [
    ("N,D,loss\n1e8,1e10,3.1\n1e8,abc,3.0\n", ":3:"),
    ("N,D,loss\n\n1e8,1e10,3.1\n1e9,1e10,-3.0\n", ":4:"),
    ("N,D,loss\n1e8,1e10\n", ":2:"),
    ("1e8,1e10,3.1\n", ":1:"),
    ("N,D,loss\n1e8,1e10,3.1\n", "at least 5"),
]
for text, want in bad_cases:
    p = os.path.join(tmp, "bad.csv")
    with open(p, "w") as f:
        f.write(text)
    rc, out, err = run("fit", p)
    check(rc == 1 and want in err, f"fit {text!r}: exit {rc}, stderr {err!r}")
rc, out, err = run("fit", os.path.join(tmp, "missing.csv"))
check(rc == 1 and "cannot open" in err, "missing file")

if USE_TORCH:
    import torch

    torch.set_default_dtype(torch.float64)
    ln = torch.tensor([math.log(r[0]) for r in rows])
    ld = torch.tensor([math.log(r[1]) for r in rows])
    ll = torch.tensor([math.log(r[2]) for r in rows])
    hub = torch.nn.HuberLoss(reduction="sum", delta=1e-3)

    def objective(x):
        pred = torch.logsumexp(torch.stack([x[0] - x[3] * ln, x[1] - x[4] * ld,
                                            x[2].expand_as(ln)]), dim=0)
        return hub(pred, ll)

    xc = torch.tensor([math.log(fit["A"]), math.log(fit["B"]), math.log(fit["E"]),
                       fit["alpha"], fit["beta"]])
    check(rel(objective(xc).item(), fit["objective"]) < 1e-9,
          f"torch objective at the C fit {objective(xc).item()} vs {fit['objective']}")
    best = None
    for start in ([5.0, 5.0, 0.5, 0.5, 0.5], [10.0, 10.0, 0.0, 0.5, 0.5],
                  [6.0, 6.0, 0.5, 0.3, 0.3], [0.0, 5.0, 1.0, 1.0, 0.5]):
        x = torch.tensor(start, requires_grad=True)
        opt = torch.optim.LBFGS([x], lr=1, max_iter=2000, tolerance_grad=1e-12,
                                tolerance_change=1e-16, history_size=10,
                                line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            f = objective(x)
            f.backward()
            return f

        for _ in range(5):
            opt.step(closure)
        f = objective(x).item()
        if best is None or f < best[0]:
            best = (f, x.detach().clone())
    check(fit["objective"] <= best[0] * (1 + 1e-6),
          f"C fit objective {fit['objective']} worse than torch's {best[0]}")
    check(abs(best[1][3].item() - fit["alpha"]) < 1e-3 and abs(best[1][4].item() - fit["beta"]) < 1e-3,
          f"torch minimum {best[1].tolist()} vs C fit")
    print("torch best objective %.10g, C fit %.10g" % (best[0], fit["objective"]))

if FAILS:
    print("%d check(s) failed" % len(FAILS))
    sys.exit(1)
print("all CLI checks passed")
