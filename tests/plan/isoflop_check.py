"""The IsoFLOP example (examples/scaling/isoflop.py), two ways.

usage: /usr/bin/python3 isoflop_check.py path/to/libllm path/to/isoflop.py [--train]

Without --train: the plan -> analysis -> PNG pipeline on SYNTHETIC runs drawn
from a known law (a test of the planning and fitting code, not a study).
Oracle: the law the runs are drawn from. Its compute-optimal exponent is
a = beta / (alpha + beta) = 0.28 / 0.62 = 0.4516 (Hoffmann et al. eq. 4);
the IsoFLOP minima (Approach 2) and the parametric fit (Approach 3) must both
find it from noisy runs, and the sweep must respect C = 6ND.

With --train: the real study in its --quick form (about 1-2 minutes on 2
cores): KJV corpus, BPE tokenizer, 2 budgets x 3 model sizes trained with
`libllm train`, `libllm fit`, PNG. Checked against facts outside the script:
every run's loss is the last val_loss of its own training log and is at least
1 nat below ln(V) (uniform guessing); every run costs its budget (6ND within
2%, D = steps * batch * ctx as trained); the best loss falls as compute grows;
the fitted law reproduces the measured losses; the PNG decodes.
"""
import csv
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

exe, script = sys.argv[1], sys.argv[2]
train = "--train" in sys.argv[3:]
tmp = tempfile.mkdtemp()
py = sys.executable
fails = []


def check(cond, what):
    if not cond:
        fails.append(what)
        print("FAIL:", what)


def check_png(path, size=None):
    with open(path, "rb") as f:
        check(f.read(8) == b"\x89PNG\r\n\x1a\n", "PNG signature of %s" % path)
    from PIL import Image
    with Image.open(path) as im:
        im.load()
        if size:
            check(im.size == size, "PNG size %s" % (im.size,))


def synthetic():
    sweep, runs, png = (os.path.join(tmp, f) for f in ("sweep.csv", "runs.csv", "iso.png"))
    # a GPT-2-vocabulary sweep at budgets where head-size-64 shapes exist
    subprocess.run([py, script, "plan", "--libllm", exe, "--budgets", "1e17,1e18,1e19",
                    "--sizes", "7", "--spread", "6", "--arch", "gpt2", "--vocab", "50257",
                    "--ctx", "1024", "--tokens-per-second", "20000", "--measured-params", "1e7",
                    "--out", sweep], check=True)
    with open(sweep) as f:
        rows = list(csv.DictReader(f))
    check(len(rows) >= 18, f"{len(rows)} planned runs")
    for r in rows:
        c, n, d = float(r["budget"]), float(r["params"]), float(r["tokens"])
        check(abs(6 * n * d / c - 1) < 1e-6, f"C = 6ND for {r}")
        check(abs(float(r["est_seconds"]) - c / (6 * 1e7 * 20000)) < 0.1, f"seconds {r}")
    subprocess.run([py, script, "synthetic", sweep, "--noise", "0.002", "--seed", "3",
                    "--out", runs], check=True)
    out = subprocess.run([py, script, "analyze", "--libllm", exe, runs, "--json", "--png", png,
                          "--title", "SYNTHETIC runs (pipeline test)"],
                         check=True, capture_output=True, text=True).stdout
    res = json.loads(out)
    a_true = 0.28 / 0.62
    check(abs(res["approach2"]["a"] - a_true) < 0.05, f"Approach 2 a {res['approach2']['a']}")
    check(abs(res["approach3"]["frontier"]["a"] - a_true) < 0.03,
          f"Approach 3 a {res['approach3']['frontier']['a']}")
    check(res["approach3"]["converged"] is True, "fit converged")
    check_png(png)
    return "synthetic pipeline OK: a2 %.4f a3 %.4f (true %.4f)" % (
        res["approach2"]["a"], res["approach3"]["frontier"]["a"], a_true)


def real_quick():
    out = os.path.join(tmp, "study")
    subprocess.run([py, script, "run", "--libllm", exe, "--out", out, "--quick"], check=True)
    with open(os.path.join(out, "runs.csv")) as f:
        rd = csv.reader(f)
        check(next(rd) == ["N", "D", "loss"], "runs.csv header")
        runs = [tuple(float(x) for x in row) for row in rd]
    with open(os.path.join(out, "runs-detail.csv")) as f:
        detail = list(csv.DictReader(f))
    with open(os.path.join(out, "summary.json")) as f:
        summary = json.load(f)
    st = summary["settings"]
    check(len(runs) == 6 and len(detail) == 6, f"{len(runs)} runs, expected 2 budgets x 3")
    budgets = sorted(float(b) for b in st["budgets"])
    best = {}
    for k, ((n, d, loss), r) in enumerate(zip(runs, detail)):
        check(math.isfinite(loss) and 0 < loss < math.log(st["vocab"]) - 1,
              f"run {k}: loss {loss} not finite or not 1 nat below ln V")
        check(n == float(r["params"]) and d == int(r["steps"]) * st["batch"] * st["ctx"],
              f"run {k}: N, D {n}, {d} vs the trained shape and steps {r}")
        with open(os.path.join(out, "logs", "run%02d.jsonl" % k)) as f:
            log = [json.loads(line) for line in f]
        vals = [j for j in log if "val_loss" in j]
        steps = [j["step"] for j in log if "loss" in j]
        check(len(steps) == int(r["steps"]) and steps[-1] == int(r["steps"]) - 1,
              f"run {k}: log has {len(steps)} steps, planned {r['steps']}")
        check(len(vals) == 1 and abs(vals[0]["val_loss"] - loss) < 1e-5,
              f"run {k}: runs.csv loss {loss} vs log {vals}")
        c = [b for b in budgets if abs(6 * n * d / b - 1) < 0.02]
        check(len(c) == 1, f"run {k}: 6ND = {6 * n * d:.4g} matches no budget {budgets}")
        if c:
            best[c[0]] = min(best.get(c[0], float("inf")), loss)
    bl = [best.get(b, float("nan")) for b in budgets]
    check(all(x > y for x, y in zip(bl, bl[1:])), f"best loss per budget {bl} not decreasing")
    fit = summary["approach3"]
    law = [fit[k] for k in ("E", "A", "B", "alpha", "beta")]
    check(all(math.isfinite(x) for x in law), f"fit {law}")
    # the law must reproduce the runs it was fitted to (RMS log error below 3%)
    E, A, B, al, be = law
    res = [math.log(E + A / n ** al + B / d ** be) - math.log(loss) for n, d, loss in runs]
    rms = math.sqrt(sum(x * x for x in res) / len(res))
    check(rms < 0.03, f"fitted law misses the runs: RMS log error {rms:.4f}")
    check_png(os.path.join(out, "isoflop.png"), (1200, 520))
    return "quick study OK: best losses %s, fit E %.3f A %.4g B %.4g alpha %.3f beta %.3f, " \
           "RMS %.4f, %.0f s" % (["%.4f" % x for x in bl], E, A, B, al, be, rms,
                                 summary["total_seconds"])


msg = real_quick() if train else synthetic()
if fails:
    sys.exit("%d check(s) failed; files kept in %s" % (len(fails), tmp))
shutil.rmtree(tmp)
print(msg)
