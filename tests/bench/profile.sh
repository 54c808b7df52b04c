#!/bin/sh
# profile.sh BUILD_DIR train|decode [OUT_DIR] - where the time goes, with
# perf (Debian's linux-perf): `perf record --call-graph dwarf` of
#   train   3 training steps (after one warm-up) of the 6-layer, 384-wide
#           GPT-2, vocabulary 50257, B=8, T=256, 2 threads (bench_train)
#   decode  a 128-token prefill (x3) then 2 x 128 decode steps of GPT-2
#           124M dims, random weights, 2 threads (bench_model ... noeval;
#           decode is about 80% of the samples)
# then prints the top functions by self time and by inclusive time. The
# pool's workers run their share of each job outside the caller's stack,
# so inclusive figures of libllm functions count the calling thread's
# share only (about half of each parallel job at 2 threads). Software clock sampling (perf's cpu-clock) works in VMs
# without hardware counters. Needs root or kernel.perf_event_paranoid <= 1.
# The data stays in OUT_DIR (default BUILD_DIR/perf) as <what>.data;
# PROFILE_REPORT_ONLY=1 reprints the report of an existing one.
set -e
B=${1:?usage: profile.sh BUILD_DIR train|decode [OUT_DIR]}
W=${2:?usage: profile.sh BUILD_DIR train|decode [OUT_DIR]}
O=${3:-$B/perf}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$O"
case "$W" in
  train)
    cmake --build "$B" --target bench_train -j2 >/dev/null
    set -- "$B/tests/train/bench_train" gpt2_6l384 gpt2 6 384 6 50257 8 256 3 2 ;;
  decode)
    cmake --build "$B" --target bench_model -j2 >/dev/null
    M="$B/tests/bench/models/gpt2-124M.gguf"
    [ -s "$M" ] || /usr/bin/python3 "$HERE/bench_llamacpp.py" "$B/tests/bench/models" gpt2-124M >/dev/null
    set -- "$B/tests/model/bench_model" "$M" gpt2-124M 2 noeval ;;
  *) echo "profile.sh: unknown profile '$W' (train or decode)" >&2; exit 2 ;;
esac
if [ -z "$PROFILE_REPORT_ONLY" ]; then
  echo "# profile $W: $* (load $(cut -d' ' -f1-3 /proc/loadavg))"
  perf record -q -F 250 --call-graph dwarf,8192 -o "$O/$W.data" "$@"
fi
echo "# self time"
perf report -i "$O/$W.data" --no-children --sort dso,symbol --stdio -g none --percent-limit 0.5 \
  2>/dev/null | grep -v '^#' | grep -v '^$' | head -40
echo "# inclusive time"
perf report -i "$O/$W.data" --children --sort symbol --stdio -g none --percent-limit 2 2>/dev/null |
  grep -v '^#' | grep -v '^$' | head -50
