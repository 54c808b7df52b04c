#!/bin/sh
# bench_generate.sh BUILD_DIR [small|gpt2|all] [threads] - per-token latency
# of llm_gen_next (decode + sampling + text) and allocations per token,
# beside a PyTorch KV-cache loop of the same shapes (OMP_WAIT_POLICY=PASSIVE).
set -e
B=${1:?usage: bench_generate.sh BUILD_DIR [small|gpt2|all] [threads]}
W=${2:-all}
T=${3:-1}
HERE=$(cd "$(dirname "$0")" && pwd)
cmake --build "$B" --target bench_generate -j2 >/dev/null
"$B/tests/generate/bench_generate" "$W" "$T"
OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 "$HERE/bench_generate.py" "$W" "$T"
