#!/bin/sh
# bench_mpi.sh BUILD_DIR [STEPS] - data-parallel scaling from 1 to 2
# processes on this machine, one thread each: `libllm train --distributed
# mpi` under mpirun beside PyTorch over torch.distributed (gloo), same
# GPT-2 model (4 layers, 256 wide, 4 heads, vocabulary 256 = bytes),
# T=128, per-rank batch B=8. Prints one line per run:
#   bench=mpi impl=libllm|pytorch-gloo world=R ... step_ms=<median> tok_s=<global>
#     comm_bytes=<payload all-reduced per step and rank>
#     comm_wait_ms=<median time a step waited for the all-reduce, libllm>
# then, per implementation, the weak-scaling efficiency
#   tok_s(2 processes, B each) / (2 * tok_s(1 process, B))
# and the strong-scaling one at the same global batch 2B
#   tok_s(2 processes, B each) / (2 * tok_s(1 process, 2B)),
# both from the median step and (libllm, *_best) from the fastest step,
# which other load on the machine distorts less,
# and (libllm) the CPU time of a step of global batch 2B in one process
# over that of the two ranks together (cpu_efficiency: the extra work of
# distribution, which other load on the machine does not distort).
set -e
BUILD=${1:?usage: bench_mpi.sh BUILD_DIR [STEPS]}
STEPS=${2:-12}
HERE=$(cd "$(dirname "$0")" && pwd)
CLI=$BUILD/examples/cli/libllm
DATA=/usr/share/common-licenses/GPL-3
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_plm_rsh_agent=
L=4 C=256 NH=4 V=256 B=8 T=128
MPIRUN="mpirun --allow-run-as-root --oversubscribe --bind-to none"

# runs a command, adds a line cpu_s=<CPU seconds of all its processes>
cpu_run() {
  /usr/bin/python3 -c '
import resource, subprocess, sys
p = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, text=True)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
sys.stdout.write(p.stdout)
print("cpu_s=%.3f" % (r.ru_utime + r.ru_stime))' "$@"
}

# median tokens/s and comm bytes of the steps after the first two; CPU
# time per step of all processes, without the start-up: (CPU of the run -
# CPU of the same run with 2 steps) / (STEPS - 2); $2 is that 2-step CPU
summ() {
  /usr/bin/python3 -c '
import json, sys
lines = sys.stdin.read().splitlines()
cpu = float([l for l in lines if l.startswith("cpu_s=")][0][6:]) - float(sys.argv[3])
rows = [json.loads(l) for l in lines if "\"loss\"" in l][2:]
tps = sorted(r["tokens_per_s"] for r in rows)
med = tps[len(tps) // 2]
waits = sorted(r.get("comm_wait_ms", 0.0) for r in rows)
print("step_ms=%.1f tok_s=%.0f tok_s_best=%.0f comm_bytes=%d comm_wait_ms=%.2f "
      "cpu_ms_per_step=%.0f" % (1e3 * int(sys.argv[1]) / med, med, tps[-1],
       rows[-1].get("comm_bytes", 0),
       waits[len(waits) // 2], 1e3 * cpu / (int(sys.argv[2]) - 2)))' "$1" "$STEPS" "$2"
}

args() { # per-rank batch
  echo "train --config gpt2 --n-layer $L --n-embd $C --n-head $NH --data $DATA --seq $T" \
       "--batch $1 --steps $STEPS --json --quiet --threads 1"
}

c0() { cpu_run "$@" --steps 2 | sed -n "s/^cpu_s=//p"; }
l1=$(cpu_run $CLI $(args $B) | summ $((B * T)) $(c0 $CLI $(args $B)))
echo "bench=mpi impl=libllm world=1 L=$L C=$C B=$B T=$T $l1"
l1b=$(cpu_run $CLI $(args $((2 * B))) | summ $((2 * B * T)) $(c0 $CLI $(args $((2 * B)))))
echo "bench=mpi impl=libllm world=1 L=$L C=$C B=$((2 * B)) T=$T $l1b"
l2=$(cpu_run $MPIRUN -np 2 $CLI $(args $B) --distributed mpi |
     summ $((2 * B * T)) $(c0 $MPIRUN -np 2 $CLI $(args $B) --distributed mpi))
echo "bench=mpi impl=libllm world=2 L=$L C=$C B=$B T=$T $l2"

p1=$(/usr/bin/python3 "$HERE/bench_mpi.py" 1 $L $C $NH $V $B $T $STEPS)
echo "$p1"
p1b=$(/usr/bin/python3 "$HERE/bench_mpi.py" 1 $L $C $NH $V $((2 * B)) $T $STEPS)
echo "$p1b"
p2=$(/usr/bin/python3 "$HERE/bench_mpi.py" 2 $L $C $NH $V $B $T $STEPS)
echo "$p2"

eff() { # name one one_2B two
  /usr/bin/python3 -c '
import sys
def tps(s, key="tok_s="): return float(s.split(" " + key)[1].split()[0])
a, b, c = (tps(s) for s in sys.argv[2:5])
line = "bench=mpi_scaling impl=%s weak_efficiency=%.3f strong_efficiency=%.3f" % (
    sys.argv[1], c / (2 * a), c / (2 * b))
if "tok_s_best=" in sys.argv[2]:
    a, b, c = (tps(s, "tok_s_best=") for s in sys.argv[2:5])
    line += " weak_efficiency_best=%.3f strong_efficiency_best=%.3f" % (c / (2 * a), c / (2 * b))
print(line)' "$1" "$2" "$3" "$4"
}
eff libllm "$l1" "$l1b" "$l2"
# CPU work per global batch of 2B: one process vs two ranks (1.0 = the
# split adds no work; independent of other load on the machine)
/usr/bin/python3 -c '
import sys
def cpu(s): return float(s.split("cpu_ms_per_step=")[1].split()[0])
print("bench=mpi_cpu impl=libllm cpu_ms_1x2B=%.0f cpu_ms_2xB=%.0f cpu_efficiency=%.3f" %
      (cpu(sys.argv[1]), cpu(sys.argv[2]), cpu(sys.argv[1]) / cpu(sys.argv[2])))' "$l1b" "$l2"
eff pytorch-gloo "$p1" "$p1b" "$p2"
