#!/usr/bin/python3
"""isoflop.py - plan and analyse a miniature IsoFLOP study with libllm.

Subcommands (all figures come from the `libllm` CLI or from the runs):

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
  synthetic Runs drawn from a known law at the planned (N, D), for testing this
            pipeline only. They are NOT measurements.

The training step between `plan` and `analyze` needs libllm's trainer (see
README.md): until it exists, this script plans and analyses but trains nothing.

Usage:
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


def libllm(exe, *args):
    p = subprocess.run([exe] + [str(a) for a in args], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("libllm %s failed (%d): %s" % (" ".join(map(str, args)),
                                                          p.returncode, p.stderr.strip()))
    return json.loads(p.stdout)


# ---- plan -------------------------------------------------------------------

def cmd_plan(a):
    budgets = [float(x) for x in a.budgets.split(",")]
    rows = []
    for c in budgets:
        opt = libllm(a.libllm, "plan", "--compute", c, "--approach", a.approach, "--json")
        # sizes log-spaced over [N_opt / spread, N_opt * spread]
        for i in range(a.sizes):
            f = a.spread ** (2.0 * i / (a.sizes - 1) - 1.0) if a.sizes > 1 else 1.0
            target = opt["params"] * f
            try:
                j = libllm(a.libllm, "plan", "--params", target, "--suggest-config",
                           "--arch", a.arch, "--vocab", a.vocab, "--ctx", a.ctx, "--json")
            except RuntimeError as e:
                print("skipped C=%.3g N=%.3g: %s" % (c, target, e), file=sys.stderr)
                continue
            cfg = j["config"]
            n = cfg["n_params"]
            d = c / (6.0 * n)
            row = {"budget": "%.6g" % c, "target_params": "%.6g" % target,
                   "arch": cfg["arch"], "n_vocab": cfg["n_vocab"], "n_ctx": cfg["n_ctx"],
                   "n_layer": cfg["n_layer"], "n_embd": cfg["n_embd"],
                   "n_head": cfg["n_head"], "n_head_kv": cfg["n_head_kv"],
                   "n_ff": cfg["n_ff"], "params": n, "tokens": "%.0f" % d,
                   "steps": math.ceil(d / (a.batch * cfg["n_ctx"]))}
            if a.tokens_per_second:
                m = a.measured_params or n
                row["est_seconds"] = "%.1f" % (d / (a.tokens_per_second * m / n))
            rows.append(row)
    out = open(a.out, "w", newline="") if a.out else sys.stdout
    w = csv.DictWriter(out, fieldnames=list(rows[0].keys()))
    w.writeheader()
    w.writerows(rows)
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


def cmd_analyze(a):
    runs = read_runs(a.runs)
    curves = []
    for c, g in group_by_budget(runs):
        if len(g) < 3:
            print("budget %.3g: %d run(s), need 3 for a parabola; skipped" % (c, len(g)),
                  file=sys.stderr)
            continue
        xs = [math.log(n) for n, _, _ in g]
        p = fit_parabola(xs, [l for _, _, l in g])
        if p[2] <= 0:
            print("budget %.3g: no minimum (curvature %.3g); skipped" % (c, p[2]),
                  file=sys.stderr)
            continue
        x_opt = -p[1] / (2 * p[2])
        curves.append({"budget": c, "runs": g, "parabola": p, "n_opt": math.exp(x_opt),
                       "loss_opt": p[0] + p[1] * x_opt + p[2] * x_opt ** 2})
    result = {"approach2": None, "approach3": None}
    if len(curves) >= 2:
        lk, slope = linfit([math.log(cv["budget"]) for cv in curves],
                           [math.log(cv["n_opt"]) for cv in curves])
        result["approach2"] = {"a": slope, "b": 1 - slope, "coef": math.exp(lk),
                               "minima": [{"compute": cv["budget"], "params": cv["n_opt"],
                                           "tokens": cv["budget"] / (6 * cv["n_opt"]),
                                           "loss": cv["loss_opt"]} for cv in curves]}
    fit = libllm(a.libllm, "fit", a.runs, "--json")
    result["approach3"] = fit
    if a.json:
        print(json.dumps(result, indent=1))
    else:
        if result["approach2"]:
            r2 = result["approach2"]
            print("Approach 2 (IsoFLOP parabolas): N_opt = %.4g C^%.4f, D_opt ~ C^%.4f"
                  % (r2["coef"], r2["a"], r2["b"]))
            for m in r2["minima"]:
                print("  C %.3g: N_opt %.4g, D_opt %.4g, loss %.4f"
                      % (m["compute"], m["params"], m["tokens"], m["loss"]))
        print("Approach 3 (libllm fit): L = %.4f + %.4g/N^%.4f + %.4g/D^%.4f; "
              "N_opt = %.4g (C/6)^%.4f (converged: %s)"
              % (fit["E"], fit["A"], fit["alpha"], fit["B"], fit["beta"],
                 fit["frontier"]["G"], fit["frontier"]["a"], fit["converged"]))
    if a.png:
        draw_png(a.png, curves, result, a.title)
        print("wrote %s" % a.png, file=sys.stderr)


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
        for e in range(math.ceil(xlo), math.floor(xhi) + 1):
            px = x0 + (e - xlo) / (xhi - xlo) * (x1 - x0)
            dr.line([(px, y1), (px, y1 - 6)], fill="black")
            dr.text((px - 12, y1 + 8), "1e%d" % e, fill="black")
        for k in range(5):
            v = ylo + (yhi - ylo) * k / 4
            py = y1 - (v - ylo) / (yhi - ylo) * (y1 - y0)
            dr.line([(x0, py), (x0 + 6, py)], fill="black")
            dr.text((x0 - 55, py - 6), ("1e%.1f" % v) if logy else ("%.3f" % v), fill="black")

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
            for k in range(61):
                lx = min(xs) + (max(xs) - min(xs)) * k / 60
                x = lx * math.log(10)
                y = p[0] + p[1] * x + p[2] * x * x
                if ylo <= y <= yhi:
                    pts.append(to(lx, y))
            if len(pts) > 1:
                dr.line(pts, fill=col, width=2)
            for n, _, l in cv["runs"]:
                cx, cy = to(math.log10(n), l)
                dr.ellipse([cx - 4, cy - 4, cx + 4, cy + 4], fill=col)
            mx, my = to(math.log10(cv["n_opt"]), cv["loss_opt"])
            dr.line([(mx - 7, my - 7), (mx + 7, my + 7)], fill="black", width=2)
            dr.line([(mx - 7, my + 7), (mx + 7, my - 7)], fill="black", width=2)
            dr.text((panels[0][2] - 130, panels[0][1] + 10 + 14 * i), "C = %.2g" % cv["budget"],
                    fill=col)
    # right: frontier, log10 N_opt vs log10 C
    if curves:
        cs = [math.log10(cv["budget"]) for cv in curves]
        ns = [math.log10(cv["n_opt"]) for cv in curves]
        xlo, xhi = min(cs) - 0.5, max(cs) + 0.5
        fr = result["approach3"]["frontier"]
        n3 = [math.log10(fr["G"]) + fr["a"] * (x - math.log10(6)) for x in (xlo, xhi)] \
            if fr["G"] > 0 else []
        ylo = min(ns + n3) - 0.3
        yhi = max(ns + n3) + 0.3
        to = axes(panels[1], xlo, xhi, ylo, yhi, "compute C (FLOPs, log)", "N_opt (log10)", True)
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
    {"plan": cmd_plan, "analyze": cmd_analyze, "synthetic": cmd_synthetic}[a.cmd](a)


if __name__ == "__main__":
    main()
