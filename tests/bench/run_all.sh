#!/bin/sh
# run_all.sh BUILD_DIR [OUT] - every benchmark of tests/bench, libllm beside
# its peer in the same run, at 1 and 2 threads, then the derived figures.
#
# BUILD_DIR is a Release build (cmake -DCMAKE_BUILD_TYPE=Release). All
# `bench=...` lines go to stdout and to OUT (default
# BUILD_DIR/bench-<UTC date>.txt); lines starting with # say what ran and
# when, with the load average. Order:
#   1. roofline.sh          sgemm GFLOP/s and memory read GB/s (1, 2 threads)
#   2. bench_model.py       prefill / decode / eval, libllm then PyTorch per model
#   3. bench_train          training steps, libllm then PyTorch per config
#   4. bench_llamacpp.sh    prefill / decode F32 and Q8_0, libllm then llama.cpp
#                           (a status=skipped line when the peer is not installed:
#                           tests/bench/llamacpp_setup.sh installs it)
#   5. bench_quant.sh       F32 vs Q8_0 decode and matvec (when present)
#   6. tokenizer, sampling and generation benches, and bench_mpi.sh (data
#      parallel, when mpirun is installed) (BENCH_QUICK=1 skips them)
#   7. roofline.sh again (the ceilings are the best of both runs)
#   8. report.py            roofline shares, libllm/peer ratios, 2-vs-1-thread
#                           scaling, each against issue #10's target
# Every implementation runs at each thread count in BENCH_THREADS (default
# "1 2"); implementations alternate, model by model, so a burst of load
# from elsewhere on a shared machine hits both. A bench that fails leaves a
# `bench=<name> status=failed` line and the rest still run. Environment:
#   BENCH_THREADS="1 2"   thread counts
#   BENCH_TRAIN_STEPS=3   timed training steps per run (after one warm-up)
#   BENCH_QUICK=1         skip step 6
#   LLAMACPP_DIR          where llamacpp_setup.sh put llama.cpp
# Takes about 20 minutes on a quiet 2-core machine.
B=${1:?usage: run_all.sh BUILD_DIR [OUT]}
B=$(cd "$B" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${2:-$B/bench-$(date -u +%Y%m%dT%H%M%SZ).txt}
THREADS=${BENCH_THREADS:-1 2}
STEPS=${BENCH_TRAIN_STEPS:-3}
MAXT=1
for t in $THREADS; do [ "$t" -gt "$MAXT" ] && MAXT=$t; done
export OMP_WAIT_POLICY=PASSIVE
: >"$OUT"

note() { echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) load=$(cut -d' ' -f1-3 /proc/loadavg) $*" | tee -a "$OUT"; }

# run NAME CMD... : runs CMD, keeps its bench= lines, records a failure.
run() {
  name=$1
  shift
  note "$name: $*"
  "$@" 2>"$B/bench-stderr.txt" | tee -a "$OUT"
  rc=$(cat "$B/bench-rc" 2>/dev/null || echo 0)
  if [ -s "$B/bench-stderr.txt" ]; then
    sed 's/^/# stderr: /' "$B/bench-stderr.txt" | tail -5 | tee -a "$OUT"
  fi
  rm -f "$B/bench-rc"
  [ "$rc" = 0 ] || echo "bench=$name status=failed rc=$rc" | tee -a "$OUT"
}
# rc CMD... : CMD's exit status survives the pipe into tee through a file.
rc() { "$@"; echo $? >"$B/bench-rc"; }

note "run_all.sh $B threads=$THREADS host=$(uname -n) cpus=$(nproc)" \
     "cpu=\"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')\""
note "libllm $(git -C "$HERE" rev-parse --short HEAD 2>/dev/null)$(git -C "$HERE" diff --quiet 2>/dev/null || echo +dirty)"
for t in bench_model bench_train bench_quant bench_sample bench_tokenizer bench_generate; do
  cmake --build "$B" --target "$t" -j2 >/dev/null 2>&1 || note "warning: could not build $t"
done

run roofline rc sh "$HERE/roofline.sh" "$B" "$MAXT"

for t in $THREADS; do
  run model rc /usr/bin/python3 "$HERE/bench_model.py" "$B" "$t"
done

for t in $THREADS; do
  for cfg in "gpt2_6l384 gpt2 6 384 6 50257 8 256" "gpt2_124m gpt2 12 768 12 50257 4 64"; do
    # shellcheck disable=SC2086
    run train rc "$B/tests/train/bench_train" $cfg "$STEPS" "$t"
    # shellcheck disable=SC2086
    run train rc /usr/bin/python3 "$HERE/bench_train.py" $cfg "$STEPS" "$t"
  done
done

# shellcheck disable=SC2086
run llamacpp rc sh "$HERE/bench_llamacpp.sh" "$B" $THREADS

if [ -f "$HERE/bench_quant.sh" ]; then
  # shellcheck disable=SC2086
  run quant rc sh "$HERE/bench_quant.sh" "$B" $THREADS
fi

if [ -z "$BENCH_QUICK" ]; then
  run tokenizer rc sh "$HERE/bench_tokenizer.sh" "$B"
  run sample rc sh "$HERE/bench_sample.sh" "$B"
  for t in $THREADS; do
    run generate rc sh "$HERE/bench_generate.sh" "$B" all "$t"
  done
  if [ -f "$HERE/bench_mpi.sh" ] && command -v mpirun >/dev/null 2>&1; then
    run mpi rc sh "$HERE/bench_mpi.sh" "$B"
  fi
fi

run roofline rc sh "$HERE/roofline.sh" "$B" "$MAXT"

note "derived figures (report.py)"
/usr/bin/python3 "$HERE/report.py" "$OUT" | tee "$OUT.report"
cat "$OUT.report" >>"$OUT"
rm -f "$OUT.report" "$B/bench-stderr.txt"
note "done; lines in $OUT"
