#!/bin/sh
# bench_quant.sh BUILD_DIR [THREADS...] - F32 vs Q8_0 decode of GPT-2 124M
# dims (random weights) and the 50257 x 768 matrix-vector product, as
# tokens/s and GB/s with their share of the memory read bandwidth measured
# in the same run (tests/bench/bench_quant.c). One `bench=...` line per
# figure. Kernels: the CPU's best; set LLM_CPU=scalar|avx2|avx512 to
# compare levels (this script runs the best and, when the CPU has it, avx2).
set -e
B=${1:?usage: bench_quant.sh BUILD_DIR [THREADS...]}
shift
cmake --build "$B" --target bench_quant -j2 > /dev/null
W=$(mktemp -d /tmp/bench_quant.XXXXXX)
trap 'rm -rf "$W"' EXIT
"$B/tests/model/bench_quant" "$W" "$@"
if grep -q ' avx512f' /proc/cpuinfo 2>/dev/null; then
  LLM_CPU=avx2 "$B/tests/model/bench_quant" "$W" "$@" | grep -v '^bench=read'
fi
