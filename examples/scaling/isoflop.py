#!/usr/bin/python3
"""isoflop.py - a miniature IsoFLOP study with libllm (Hoffmann et al. 2022).

Subcommands (all figures come from the `libllm` CLI or from the runs):

  run       The whole study on this machine: writes the corpus (the King
            James Bible, Debian bible-kjv) and learns a BPE tokenizer on it,
            calibrates the training throughput, plans the sweep (`plan`),
            trains every run with `libllm train` (cosine schedule spanning the
            run's own steps, shuffled windows, fixed seed), records each run's
            final validation loss in runs.csv, fits the law (`libllm fit`) and
            draws the PNG (`analyze`). About 15 minutes on 2 cores by default;
            --quick (two budgets, three sizes) takes 1-2 minutes.
  plan      For each compute budget C, the model sizes to train: sizes spread
            around the compute-optimal N_opt(C) that `libllm plan` predicts,
            each turned into a concrete shape by `libllm plan --suggest-config`
            (exact parameter count n), with its token count D = C / (6 n).
            Writes the sweep as CSV (one training run per row).
  analyze   From finished runs (CSV N,D,loss): Chinchilla's Approach 2 (a
            parabola in log N through each IsoFLOP curve, its minimum N_opt,
            then the power law N_opt = k C^a) and Approach 3 (`libllm fit`:
            L(N, D) = E + A/N^alpha + B/D^beta and its frontier). Draws the
            IsoFLOP curves and both frontiers to a PNG (Pillow).
  synthetic Runs drawn from a known law at the planned (N, D), for testing the
            analysis only. They are NOT measurements.

Usage:
  isoflop.py run --libllm PATH [--out DIR] [--quick] [--budgets 4e11,1.2e12,3.6e12]
                 [--sizes 5] [--spread 3] [--approach 2] [--vocab 512] [--ctx 128] [--batch 8]
                 [--lr 3e-3] [--seed 1] [--threads 2] [--corpus FILE]
  isoflop.py plan --libllm PATH [--budgets 1e12,3e12,1e13] [--sizes 5]
                  [--spread 4] [--arch llama] [--vocab 512] [--ctx 128]
                  [--tokens-per-second R --measured-params M] [--out sweep.csv]
  isoflop.py analyze --libllm PATH runs.csv [--png isoflop.png] [--title T] [--json]
  isoflop.py synthetic sweep.csv [--noise 0.005] [--seed 1] [--out runs.csv]
"""
import argparse
import csv
import json
import math
import random
import subprocess
import sys


def libllm(exe, *args, allow=(0,)):
    """Runs the libllm CLI and parses its JSON output (exit codes in `allow`)."""
    p = subprocess.run([exe] + [str(a) for a in args], capture_output=True, text=True)
    if p.returncode not in allow or not p.stdout.strip():
        raise RuntimeError("libllm %s failed (%d): %s" % (" ".join(map(str, args)),
                                                          p.returncode, p.stderr.strip()))
    return json.loads(p.stdout)


# ---- plan -------------------------------------------------------------------

def plan_sweep(exe, budgets, sizes, spread, approach="3", arch="llama", vocab=512, ctx=128,
               batch=8, tokens_per_second=0.0, measured_params=0.0):
    """One row per training run: for each budget, `sizes` shapes spread
    log-uniformly over [N_opt/spread, N_opt*spread], with D = C / (6 n)."""
    rows = []
    for c in budgets:
        opt = libllm(exe, "plan", "--compute", c, "--approach", approach, "--json")
        for i in range(sizes):
            f = spread ** (2.0 * i / (sizes - 1) - 1.0) if sizes > 1 else 1.0
            target = opt["params"] * f
            try:
                j = libllm(exe, "plan", "--params", target, "--suggest-config",
                           "--arch", arch, "--vocab", vocab, "--ctx", ctx, "--json")
            except RuntimeError as e:
                print("skipped C=%.3g N=%.3g: %s" % (c, target, e), file=sys.stderr)
                continue
            cfg = j["config"]
            n = cfg["n_params"]
            if any(r["budget"] == "%.6g" % c and abs(r["params"] / n - 1) < 0.15 for r in rows):
                print("skipped C=%.3g N=%.3g: the shape proposed (%d parameters) is within 15%% "
                      "of one already planned" % (c, target, n), file=sys.stderr)
                continue
            d = c / (6.0 * n)
            row = {"budget": "%.6g" % c, "target_params": "%.6g" % target,
                   "arch": cfg["arch"], "n_vocab": cfg["n_vocab"], "n_ctx": cfg["n_ctx"],
                   "n_layer": cfg["n_layer"], "n_embd": cfg["n_embd"],
                   "n_head": cfg["n_head"], "n_head_kv": cfg["n_head_kv"],
                   "n_ff": cfg["n_ff"], "params": n, "tokens": "%.0f" % d,
                   "steps": math.ceil(d / (batch * cfg["n_ctx"]))}
            if tokens_per_second:
                m = measured_params or n
                row["est_seconds"] = "%.1f" % (d / (tokens_per_second * m / n))
            rows.append(row)
    if not rows:
        raise RuntimeError("no run could be planned (budgets too small for any shape?)")
    return rows


def write_csv(path, rows):
    out = open(path, "w", newline="") if path else sys.stdout
    w = csv.DictWriter(out, fieldnames=list(rows[0].keys()))
    w.writeheader()
    w.writerows(rows)
    if path:
        out.close()


def cmd_plan(a):
    rows = plan_sweep(a.libllm, [float(x) for x in a.budgets.split(",")], a.sizes, a.spread,
                      a.approach, a.arch, a.vocab, a.ctx, a.batch, a.tokens_per_second,
                      a.measured_params)
    write_csv(a.out, rows)
    if a.tokens_per_second:
        total = sum(float(r["est_seconds"]) for r in rows)
        print("estimated total training time: %.0f s (%.1f min)" % (total, total / 60),
              file=sys.stderr)


# ---- synthetic (pipeline test only) -------------------------------------------

def cmd_synthetic(a):
    E, A, B, al, be = (float(x) for x in a.law.split(","))
    rng = random.Random(a.seed)
    out = open(a.out, "w", newline="") if a.out else sys.stdout
    out.write("N,D,loss\n")
    with open(a.sweep) as f:
        for r in csv.DictReader(f):
            n, d = float(r["params"]), float(r["tokens"])
            loss = (E + A / n ** al + B / d ** be) * math.exp(rng.gauss(0.0, a.noise))
            out.write("%.17g,%.17g,%.17g\n" % (n, d, loss))


# ---- analyze --------------------------------------------------------------------

def read_runs(path):
    runs = []
    with open(path) as f:
        rd = csv.reader(f)
        next(rd)
        for line, row in enumerate(rd, start=2):
            if not row or row[0].startswith("#"):
                continue
            try:
                n, d, l = (float(x) for x in row[:3])
            except ValueError:
                sys.exit("%s:%d: expected N,D,loss" % (path, line))
            runs.append((n, d, l))
    return runs


def group_by_budget(runs, tol=0.02):
    """Runs whose C = 6ND agree within `tol` (relative) form one IsoFLOP curve."""
    groups = []
    for n, d, l in sorted(runs, key=lambda r: 6 * r[0] * r[1]):
        c = 6 * n * d
        if groups and abs(c / groups[-1][0] - 1) <= tol:
            groups[-1][1].append((n, d, l))
        else:
            groups.append([c, [(n, d, l)]])
    return groups


def fit_parabola(xs, ys):
    """Least squares y = p0 + p1 x + p2 x^2 (normal equations, 3x3)."""
    s = [sum(x ** k for x in xs) for k in range(5)]
    t = [sum(y * x ** k for x, y in zip(xs, ys)) for k in range(3)]
    m = [[s[0], s[1], s[2], t[0]], [s[1], s[2], s[3], t[1]], [s[2], s[3], s[4], t[2]]]
    for i in range(3):
        piv = max(range(i, 3), key=lambda r: abs(m[r][i]))
        m[i], m[piv] = m[piv], m[i]
        for r in range(3):
            if r != i:
                f = m[r][i] / m[i][i]
                m[r] = [a - f * b for a, b in zip(m[r], m[i])]
    return [m[i][3] / m[i][i] for i in range(3)]


def linfit(xs, ys):
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    return my - slope * mx, slope


def analyze(exe, runs_path):
    """Approach 2 (IsoFLOP parabolas) in Python, Approach 3 by `libllm fit`.
    Every budget with runs becomes a curve; its parabola and minimum are set
    only when it has >= 3 runs and positive curvature."""
    runs = read_runs(runs_path)
    curves = []
    for c, g in group_by_budget(runs):
        cv = {"budget": c, "runs": g, "parabola": None, "n_opt": None, "loss_opt": None,
              "best": min(g, key=lambda r: r[2])}
        curves.append(cv)
        if len(g) < 3:
            print("budget %.3g: %d run(s), need 3 for a parabola" % (c, len(g)),
                  file=sys.stderr)
            continue
        xs = [math.log(n) for n, _, _ in g]
        p = fit_parabola(xs, [l for _, _, l in g])
        if p[2] <= 0:
            print("budget %.3g: no minimum (curvature %.3g)" % (c, p[2]), file=sys.stderr)
            continue
        x_opt = -p[1] / (2 * p[2])
        cv.update(parabola=p, n_opt=math.exp(x_opt),
                  loss_opt=p[0] + p[1] * x_opt + p[2] * x_opt ** 2)
    result = {"budgets": [{"compute": cv["budget"], "runs": len(cv["runs"]),
                           "best_params": cv["best"][0], "best_tokens": cv["best"][1],
                           "best_loss": cv["best"][2]} for cv in curves],
              "approach2": None, "approach3": None}
    fitted = [cv for cv in curves if cv["parabola"]]
    if len(fitted) >= 2:
        lk, slope = linfit([math.log(cv["budget"]) for cv in fitted],
                           [math.log(cv["n_opt"]) for cv in fitted])
        result["approach2"] = {"a": slope, "b": 1 - slope, "coef": math.exp(lk),
                               "minima": [{"compute": cv["budget"], "params": cv["n_opt"],
                                           "tokens": cv["budget"] / (6 * cv["n_opt"]),
                                           "loss": cv["loss_opt"]} for cv in fitted]}
    # exit 1 = no start converged; the best fit found is still printed
    result["approach3"] = libllm(exe, "fit", runs_path, "--json", allow=(0, 1))
    return curves, result


def print_result(result):
    for b in result["budgets"]:
        print("C %.3g: %d runs, best loss %.4f at N %d, D %.0f"
              % (b["compute"], b["runs"], b["best_loss"], b["best_params"], b["best_tokens"]))
    if result["approach2"]:
        r2 = result["approach2"]
        print("Approach 2 (IsoFLOP parabolas): N_opt = %.4g C^%.4f, D_opt ~ C^%.4f"
              % (r2["coef"], r2["a"], r2["b"]))
        for m in r2["minima"]:
            print("  C %.3g: N_opt %.4g, D_opt %.4g, loss %.4f"
                  % (m["compute"], m["params"], m["tokens"], m["loss"]))
    fit = result["approach3"]
    print("Approach 3 (libllm fit): L = %.4f + %.4g/N^%.4f + %.4g/D^%.4f; "
          "N_opt = %.4g (C/6)^%.4f (converged: %s)"
          % (fit["E"], fit["A"], fit["alpha"], fit["B"], fit["beta"],
             fit["frontier"]["G"], fit["frontier"]["a"], fit["converged"]))


def cmd_analyze(a):
    curves, result = analyze(a.libllm, a.runs)
    if a.json:
        print(json.dumps(result, indent=1))
    else:
        print_result(result)
    if a.png:
        draw_png(a.png, curves, result, a.title)
        print("wrote %s" % a.png, file=sys.stderr)


# ---- run: the study on this machine ---------------------------------------------------

def run_lr(a, r):
    return a.lr * (128.0 / int(r["n_embd"])) ** a.lr_width_exp


def train_args(a, r, steps, tok, corpus):
    """`libllm train` arguments of one run: the planned shape, a cosine
    schedule spanning exactly this run's steps (Chinchilla sec. 3.2, fn. 7),
    5% linear warmup, shuffled windows, the same seed for every run, and one
    validation pass over the held-out tail at the end. The peak learning
    rate shrinks with width, lr(w) = lr * (128 / w)^lr_width_exp: narrow
    models train best at higher rates (Chinchilla, too, lowered the rate as
    models grew), and one rate for all would bias the study towards one end
    of the size range."""
    lr = run_lr(a, r)
    return ["train", "--config", r["arch"], "--n-layer", r["n_layer"], "--n-embd", r["n_embd"],
            "--n-head", r["n_head"], "--n-head-kv", r["n_head_kv"], "--n-ff", r["n_ff"],
            "--n-ctx", r["n_ctx"], "--n-vocab", r["n_vocab"],
            "--tokenizer", tok, "--data", corpus, "--val-fraction", a.val_fraction,
            "--steps", steps, "--eval-every", steps, "--batch", a.batch, "--seq", r["n_ctx"],
            "--lr", "%.4g" % lr, "--min-lr", "%.4g" % (lr / 10), "--warmup", max(1, steps // 20),
            "--schedule", "cosine", "--shuffle", "--seed", a.seed, "--threads", a.threads,
            "--json", "--quiet"]


def train(exe, args, log):
    """Runs one training; returns (final validation loss, median tokens/s)."""
    with open(log, "w") as f:
        p = subprocess.run([exe] + [str(x) for x in args], stdout=f, stderr=subprocess.PIPE,
                           text=True)
    if p.returncode != 0:
        raise RuntimeError("libllm %s failed (%d): %s" % (" ".join(map(str, args)),
                                                          p.returncode, p.stderr.strip()))
    val, tps = None, []
    with open(log) as f:
        for line in f:
            j = json.loads(line)
            if "val_loss" in j:
                val = j["val_loss"]
            elif "tokens_per_s" in j:
                tps.append(j["tokens_per_s"])
    if val is None or not math.isfinite(val):
        raise RuntimeError("no finite final validation loss in %s" % log)
    tps.sort()
    return val, (tps[len(tps) // 2] if tps else 0.0)


def cmd_run(a):
    import os
    import time

    t0 = time.time()
    exe = os.path.abspath(a.libllm)
    here = os.path.dirname(os.path.abspath(__file__))
    # The sweep is centred on a published N_opt(C): Approach 2's (about 12
    # tokens per parameter here) brackets the optima measured on this corpus;
    # --quick uses Approach 3's larger N_opt so that the smallest shape of its
    # smallest budget stays above the smallest one suggest-config can make.
    if a.quick:
        budgets, sizes, spread, approach = "2e11,6e11", 3, 2.0, "3"
    else:
        budgets, sizes, spread, approach = "4e11,1.2e12,3.6e12", 5, 3.0, "2"
    budgets = [float(x) for x in (a.budgets or budgets).split(",")]
    sizes = a.sizes or sizes
    spread = a.spread or spread
    approach = a.approach or approach
    out = a.out
    os.makedirs(os.path.join(out, "logs"), exist_ok=True)

    # 1. corpus and tokenizer
    corpus = a.corpus
    if not corpus:
        corpus = os.path.join(out, "kjv.txt")
        if not os.path.exists(corpus):
            subprocess.run(["sh", os.path.join(here, "..", "demo", "kjv-corpus.sh"), corpus],
                           check=True)
    tok = os.path.join(out, "tok%d" % a.vocab)
    if not os.path.exists(os.path.join(tok, "vocab.json")):
        libllm(exe, "tokenizer-train", "--file", corpus, "--vocab-size", a.vocab,
               "--pattern", "gpt2", "--out", tok, "--quiet", "--json")
    print("corpus %s (%d bytes), BPE tokenizer of %d tokens in %s"
          % (corpus, os.path.getsize(corpus), a.vocab, tok), file=sys.stderr)

    # 2. calibration: the compute-optimal shape of the smallest budget, 30 steps
    opt = libllm(exe, "plan", "--compute", budgets[0], "--approach", approach, "--json")
    cal = libllm(exe, "plan", "--params", opt["params"], "--suggest-config", "--arch", a.arch,
                 "--vocab", a.vocab, "--ctx", a.ctx, "--json")["config"]
    _, tps = train(exe, train_args(a, cal, 30, tok, corpus), os.path.join(out, "logs",
                                                                          "calibration.jsonl"))
    print("calibration: %d parameters at %.0f tokens/s" % (cal["n_params"], tps),
          file=sys.stderr)

    # 3. the sweep
    rows = plan_sweep(exe, budgets, sizes, spread, approach, a.arch, a.vocab, a.ctx, a.batch,
                      tps, cal["n_params"])
    write_csv(os.path.join(out, "sweep.csv"), rows)
    est = sum(float(r["est_seconds"]) for r in rows)
    print("%d runs planned in %s; estimated training time %.0f s"
          % (len(rows), os.path.join(out, "sweep.csv"), est), file=sys.stderr)

    # 4. train each run; D is what was actually trained (whole steps)
    runs_csv = os.path.join(out, "runs.csv")
    detail = []
    with open(runs_csv, "w") as f:
        f.write("N,D,loss\n")
    for k, r in enumerate(rows):
        steps = max(1, round(float(r["tokens"]) / (a.batch * int(r["n_ctx"]))))
        d = steps * a.batch * int(r["n_ctx"])
        t = time.time()
        log = os.path.join(out, "logs", "run%02d.jsonl" % k)
        val, rtps = train(exe, train_args(a, r, steps, tok, corpus), log)
        sec = time.time() - t
        with open(runs_csv, "a") as f:
            f.write("%d,%d,%.6f\n" % (r["params"], d, val))
        detail.append(dict(r, steps=steps, tokens=d, lr="%.4g" % run_lr(a, r),
                           val_loss="%.6f" % val,
                           seconds="%.1f" % sec, tokens_per_s="%.0f" % rtps))
        print("[%2d/%d] C %s  N %7d (%d x %d)  D %8d  %5d steps  val loss %.4f  %5.1f s"
              % (k + 1, len(rows), r["budget"], r["params"], r["n_layer"], r["n_embd"], d,
                 steps, val, sec), file=sys.stderr)
    write_csv(os.path.join(out, "runs-detail.csv"), detail)

    # 5. fit and draw
    curves, result = analyze(exe, runs_csv)
    png = os.path.join(out, "isoflop.png")
    draw_png(png, curves, result, a.title or "IsoFLOP study: KJV Bible, %s, BPE V=%d, T=%d, "
             "B=%d, lr %g (128/w)^%g (%s)" % (a.arch, a.vocab, a.ctx, a.batch, a.lr,
                                               a.lr_width_exp,
                                  "quick" if a.quick else "default"))
    result["total_seconds"] = time.time() - t0
    result["settings"] = {"budgets": budgets, "sizes": sizes, "spread": spread,
                          "approach": approach, "quick": a.quick,
                          "arch": a.arch, "vocab": a.vocab, "ctx": a.ctx, "batch": a.batch,
                          "lr": a.lr, "lr_width_exp": a.lr_width_exp, "seed": a.seed,
                          "threads": a.threads,
                          "val_fraction": a.val_fraction, "calibration_tokens_per_s": tps,
                          "calibration_params": cal["n_params"]}
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(result, f, indent=1)
    print_result(result)
    print("total time %.0f s; wrote %s, %s, %s" % (result["total_seconds"], runs_csv, png,
                                                  os.path.join(out, "summary.json")))


# ---- PNG (Pillow) ------------------------------------------------------------------

COLORS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
          (140, 86, 75), (227, 119, 194), (127, 127, 127)]


def draw_png(path, curves, result, title):
    from PIL import Image, ImageDraw

    W, H, P = 1200, 520, 70
    img = Image.new("RGB", (W, H), "white")
    dr = ImageDraw.Draw(img)
    panels = [(P, 40, W // 2 - 30, H - P), (W // 2 + P, 40, W - 30, H - P)]
    if title:
        dr.text((W // 2 - 4 * len(title), 6), title, fill="black")

    def axes(box, xlo, xhi, ylo, yhi, xlabel, ylabel, logy):
        x0, y0, x1, y1 = box
        dr.rectangle(box, outline="black")
        dr.text((x0 + (x1 - x0) // 2 - 60, y1 + 30), xlabel, fill="black")
        dr.text((x0 - 60, y0 - 25), ylabel, fill="black")
        # ticks at 1, 2 and 5 x 10^e when the axis spans less than 3 decades
        subs = (1, 2, 5) if xhi - xlo < 3 else (1,)
        for e in range(math.floor(xlo), math.floor(xhi) + 1):
            for m in subs:
                lx = e + math.log10(m)
                if not xlo <= lx <= xhi:
                    continue
                px = x0 + (lx - xlo) / (xhi - xlo) * (x1 - x0)
                dr.line([(px, y1), (px, y1 - (6 if m == 1 else 3))], fill="black")
                dr.text((px - 12, y1 + 8), "%de%d" % (m, e), fill="black")
        for k in range(5):
            v = ylo + (yhi - ylo) * k / 4
            py = y1 - (v - ylo) / (yhi - ylo) * (y1 - y0)
            dr.line([(x0, py), (x0 + 6, py)], fill="black")
            dr.text((x0 - 55, py - 6), ("%.3g" % 10 ** v) if logy else ("%.3f" % v), fill="black")

        def to(x, y):
            return (x0 + (x - xlo) / (xhi - xlo) * (x1 - x0),
                    y1 - (y - ylo) / (yhi - ylo) * (y1 - y0))
        return to

    # left: IsoFLOP curves, loss vs log10 N, with the fitted parabolas
    allr = [r for cv in curves for r in cv["runs"]]
    if allr:
        xlo = math.log10(min(r[0] for r in allr)) - 0.1
        xhi = math.log10(max(r[0] for r in allr)) + 0.1
        ylo = min(r[2] for r in allr) - 0.02
        yhi = max(r[2] for r in allr) + 0.02
        to = axes(panels[0], xlo, xhi, ylo, yhi, "parameters N (log)", "final loss", False)
        for i, cv in enumerate(curves):
            col = COLORS[i % len(COLORS)]
            p = cv["parabola"]
            xs = [math.log10(r[0]) for r in cv["runs"]]
            pts = []
            for k in range(61 if p else 0):
                lx = min(xs) + (max(xs) - min(xs)) * k / 60
                x = lx * math.log(10)
                y = p[0] + p[1] * x + p[2] * x * x
                if ylo <= y <= yhi:
                    pts.append(to(lx, y))
            if len(pts) > 1:
                dr.line(pts, fill=col, width=2)
            elif not p and len(xs) > 1:  # no parabola: join the runs
                dr.line([to(math.log10(n), l) for n, _, l in sorted(cv["runs"])], fill=col)
            for n, _, l in cv["runs"]:
                cx, cy = to(math.log10(n), l)
                dr.ellipse([cx - 4, cy - 4, cx + 4, cy + 4], fill=col)
            if p and ylo <= cv["loss_opt"] <= yhi and xlo <= math.log10(cv["n_opt"]) <= xhi:
                mx, my = to(math.log10(cv["n_opt"]), cv["loss_opt"])
                dr.line([(mx - 7, my - 7), (mx + 7, my + 7)], fill="black", width=2)
                dr.line([(mx - 7, my + 7), (mx + 7, my - 7)], fill="black", width=2)
            dr.text((panels[0][2] - 130, panels[0][1] + 10 + 14 * i), "C = %.2g" % cv["budget"],
                    fill=col)
    # right: frontier, log10 N_opt vs log10 C
    if curves:
        # the parabola minima (x) or, without a parabola, the best run
        cs = [math.log10(cv["budget"]) for cv in curves]
        ns = [math.log10(cv["n_opt"] if cv["n_opt"] else cv["best"][0]) for cv in curves]
        xlo, xhi = min(cs) - 0.5, max(cs) + 0.5
        fr = result["approach3"]["frontier"]
        n3 = [math.log10(fr["G"]) + fr["a"] * (x - math.log10(6)) for x in (xlo, xhi)] \
            if fr["G"] > 0 else []
        ylo = min(ns + n3) - 0.3
        yhi = max(ns + n3) + 0.3
        to = axes(panels[1], xlo, xhi, ylo, yhi, "compute C (FLOPs, log)", "N_opt (log)", True)
        for x, y in zip(cs, ns):
            cx, cy = to(x, y)
            dr.ellipse([cx - 5, cy - 5, cx + 5, cy + 5], fill=(0, 0, 0))
        r2 = result["approach2"]
        if r2:
            dr.line([to(x, math.log10(r2["coef"]) + r2["a"] * x) for x in (xlo, xhi)],
                    fill=COLORS[1], width=2)
            dr.text((panels[1][0] + 10, panels[1][1] + 10),
                    "Approach 2: N_opt ~ C^%.3f" % r2["a"], fill=COLORS[1])
        if n3:
            dr.line([to(x, y) for x, y in zip((xlo, xhi), n3)], fill=COLORS[0], width=2)
            dr.text((panels[1][0] + 10, panels[1][1] + 26),
                    "Approach 3 (libllm fit): N_opt ~ C^%.3f" % fr["a"], fill=COLORS[0])
    img.save(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("run", help="the whole study on this machine")
    p.add_argument("--libllm", required=True)
    p.add_argument("--out", default="isoflop-study", help="working directory")
    p.add_argument("--quick", action="store_true", help="2 budgets x 3 sizes (CI)")
    p.add_argument("--budgets", help="default 4e11,1.2e12,3.6e12 (quick: 2e11,6e11)")
    p.add_argument("--sizes", type=int, help="model sizes per budget (5; quick 3)")
    p.add_argument("--spread", type=float, help="sizes span N_opt/s..N_opt*s (3; quick 2)")
    p.add_argument("--approach", help="N_opt(C) the sizes are centred on (2; quick 3)")
    p.add_argument("--arch", default="llama")
    p.add_argument("--vocab", type=int, default=512)
    p.add_argument("--ctx", type=int, default=128)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=3e-3, help="peak rate at width 128")
    p.add_argument("--lr-width-exp", type=float, default=0.5,
                   help="lr(w) = lr (128/w)^x; 0 = the same rate for all widths")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--val-fraction", type=float, default=0.02)
    p.add_argument("--corpus", help="text file (default: the KJV Bible via kjv-corpus.sh)")
    p.add_argument("--title", default="")
    p = sub.add_parser("plan")
    p.add_argument("--libllm", required=True)
    p.add_argument("--budgets", default="1e12,3e12,1e13")
    p.add_argument("--sizes", type=int, default=5)
    p.add_argument("--spread", type=float, default=4.0)
    p.add_argument("--approach", default="3")
    p.add_argument("--arch", default="llama")
    p.add_argument("--vocab", type=int, default=512)
    p.add_argument("--ctx", type=int, default=128)
    p.add_argument("--batch", type=int, default=8, help="sequences per step (for 'steps')")
    p.add_argument("--tokens-per-second", type=float, default=0.0)
    p.add_argument("--measured-params", type=float, default=0.0)
    p.add_argument("--out")
    p = sub.add_parser("analyze")
    p.add_argument("--libllm", required=True)
    p.add_argument("runs")
    p.add_argument("--png")
    p.add_argument("--title", default="", help="caption at the top of the PNG")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("synthetic")
    p.add_argument("sweep")
    p.add_argument("--law", default="1.69,406.4,410.7,0.34,0.28")
    p.add_argument("--noise", type=float, default=0.005)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out")
    a = ap.parse_args()
    {"run": cmd_run, "plan": cmd_plan, "analyze": cmd_analyze,
     "synthetic": cmd_synthetic}[a.cmd](a)


if __name__ == "__main__":
    main()
