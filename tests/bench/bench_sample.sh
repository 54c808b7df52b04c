#!/bin/sh
# bench_sample.sh BUILD_DIR - sampler benchmark, libllm beside PyTorch.
# Builds bench_sample in BUILD_DIR (a Release build of libllm), runs it,
# then times PyTorch's equivalent on the same logits with
# OMP_WAIT_POLICY=PASSIVE. Prints one line per (configuration, impl).
set -e
B=${1:?usage: bench_sample.sh BUILD_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
cmake --build "$B" --target bench_sample -j2 >/dev/null
T=$(mktemp /tmp/bench_sample.XXXXXX)
trap 'rm -f "$T"' EXIT
"$B/tests/sample/bench_sample" "$T"
OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 "$HERE/bench_sample.py" "$T"
