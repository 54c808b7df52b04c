#!/bin/sh
# bench_train.sh BUILD_DIR [STEPS] - training throughput, libllm beside
# PyTorch (same model sizes and batch, 2 threads each,
# OMP_WAIT_POLICY=PASSIVE). Builds bench_train in BUILD_DIR (a Release
# build). Prints one line per (model, implementation):
#   gpt2_6l384: 6 layers, 384 wide, 6 heads, vocabulary 50257, B=8, T=256
#   gpt2_124m:  GPT-2 small (12 layers, 768 wide, 12 heads), B=4, T=64
set -e
B=${1:?usage: bench_train.sh BUILD_DIR [STEPS]}
STEPS=${2:-5}
HERE=$(cd "$(dirname "$0")" && pwd)
cmake --build "$B" --target bench_train -j2 >/dev/null
for cfg in "gpt2_6l384 gpt2 6 384 6 50257 8 256" "gpt2_124m gpt2 12 768 12 50257 4 64"; do
  set -- $cfg
  "$B/tests/train/bench_train" "$@" "$STEPS" 2
  OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 "$HERE/bench_train.py" "$@" "$STEPS" 2
done
