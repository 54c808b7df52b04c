"""The IsoFLOP example's pipeline (examples/scaling/isoflop.py) end to end
on SYNTHETIC runs drawn from a known law - a test of the planning and
analysis code, not a scaling study (that needs the trainer).

usage: /usr/bin/python3 isoflop_check.py path/to/libllm path/to/isoflop.py

Oracles: the law the runs are drawn from. Its compute-optimal exponent is
a = beta / (alpha + beta) = 0.28 / 0.62 = 0.4516 (Hoffmann et al. eq. 4);
the IsoFLOP minima (Approach 2) and the parametric fit (Approach 3) must
both find it from noisy runs, and the sweep must respect C = 6ND.
"""
import csv
import json
import os
import subprocess
import sys
import tempfile

exe, script = sys.argv[1], sys.argv[2]
tmp = tempfile.mkdtemp()
sweep, runs, png = (os.path.join(tmp, f) for f in ("sweep.csv", "runs.csv", "iso.png"))
py = sys.executable
fails = []


def check(cond, what):
    if not cond:
        fails.append(what)
        print("FAIL:", what)


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
with open(png, "rb") as f:
    check(f.read(8) == b"\x89PNG\r\n\x1a\n", "PNG written")
if fails:
    sys.exit("%d check(s) failed" % len(fails))
print("isoflop pipeline OK: a2 %.4f a3 %.4f (true %.4f)" %
      (res["approach2"]["a"], res["approach3"]["frontier"]["a"], a_true))
