#!/bin/sh
# bench_llamacpp.sh BUILD_DIR [THREADS...] - libllm beside llama.cpp on the
# same weights: prefill of a 128-token prompt and decode of 128 tokens after
# it, F32 and Q8_0, for random-weight models of GPT-2 124M, stories110M and
# stories15M dimensions (bench_llamacpp.py writes them). THREADS defaults
# to "1 2".
#
# The peer is the prebuilt llama.cpp that the npm package node-llama-cpp
# ships, with llama-bench and llama-quantize compiled against it by
# tests/bench/llamacpp_setup.sh into $LLAMACPP_DIR (default
# $HOME/.cache/libllm-llamacpp). Without it, one line
#   bench=llamacpp status=skipped reason=...
# and exit 0. The Q8_0 files are written by llama.cpp's quantizer (the
# reference for the format); libllm's own figure on them needs Q8_0 support
# in its loader, else its line says status=unsupported.
#
# Per model, type and thread count, libllm (tests/model/bench_model ...
# noeval: best of 3 prefills, best of 2 decode runs) then llama-bench
# (-r 3, pp128 at depth 0, tg128 at depth 128 = after the prompt, its
# default f16 KV cache and thread polling; the fastest repetition is
# tok_s, the mean tok_s_mean). Lines (one per figure):
#   bench=model_prefill impl=libllm|llamacpp model= type=f32|q8_0 threads= tok_s= ... load1=
#   bench=model_decode  impl=libllm|llamacpp model= type= threads= tok_s= weight_bytes= weight_gb_s= load1=
# Models stay in BUILD_DIR/tests/bench/models (about 1.3 GB) for reruns.
set -e
B=${1:?usage: bench_llamacpp.sh BUILD_DIR [THREADS...]}
shift
THREADS=${*:-1 2}
HERE=$(cd "$(dirname "$0")" && pwd)
D=${LLAMACPP_DIR:-$HOME/.cache/libllm-llamacpp}
LB="$D/bin/llama-bench"
LQ="$D/bin/llama-quantize"
if [ ! -x "$LB" ] || [ ! -x "$LQ" ]; then
  echo "bench=llamacpp status=skipped reason=\"no llama-bench/llama-quantize in $D/bin (run tests/bench/llamacpp_setup.sh $D)\""
  exit 0
fi
if ! "$LB" --help >/dev/null 2>&1; then
  echo "bench=llamacpp status=skipped reason=\"$LB does not run\""
  exit 0
fi
if ! cmake --build "$B" --target bench_model -j2 >/dev/null 2>&1; then
  [ -x "$B/tests/model/bench_model" ] || { echo "bench_llamacpp.sh: cannot build bench_model" >&2; exit 1; }
  echo "bench_llamacpp.sh: warning: build failed, using the existing bench_model" >&2
fi
M="$B/tests/bench/models"
mkdir -p "$M"
load1() { cut -d' ' -f1 /proc/loadavg; }
for name in gpt2-124M llama-110M llama-15M; do
  f32="$M/$name.gguf"
  q8="$M/$name-q8_0.gguf"
  [ -s "$f32" ] || /usr/bin/python3 "$HERE/bench_llamacpp.py" "$M" "$name" >/dev/null
  if [ ! -s "$q8" ]; then
    "$LQ" "$f32" "$q8.tmp" Q8_0 >"$M/quantize.log" 2>&1 && mv "$q8.tmp" "$q8"
  fi
  for ty in f32 q8_0; do
    if [ "$ty" = f32 ]; then f=$f32; else f=$q8; fi
    wb=$(stat -c %s "$f")
    for t in $THREADS; do
      # libllm first, then the peer, alternating (the machine is shared).
      # Each in both ways of holding the weights: the file mapped (both
      # default) and read into memory (libllm LLM_MODEL_NO_MMAP, which asks
      # for huge pages; llama.cpp -lm none); lines say load=mmap|read and
      # report.py takes each one's best.
      for lm in mmap read; do
        if out=$(if [ $lm = read ]; then export BENCH_NO_MMAP=1; fi
                 "$B/tests/model/bench_model" "$f" "$name" "$t" noeval 2>&1); then
          echo "$out" | sed -e "s/ weight_gb_s=[0-9.]*//" \
            -e "s/impl=libllm model=$name /impl=libllm model=$name type=$ty load=$lm /" | while read -r l; do
            case "$l" in
              *model_decode*)
                tps=${l##*tok_s=}; tps=${tps%% *}
                echo "$l weight_bytes=$wb weight_gb_s=$(awk "BEGIN{printf \"%.2f\", $wb*$tps/1e9}") load1=$(load1)" ;;
              *) echo "$l load1=$(load1)" ;;
            esac
          done
        else
          echo "bench=model_decode impl=libllm model=$name type=$ty load=$lm threads=$t status=unsupported" \
               "reason=\"$(echo "$out" | tail -1 | tr '"' "'")\""
        fi
      done
      "$LB" -m "$f" -p 128 -n 0 -t "$t" -r 3 -lm mmap,none -o jsonl 2>/dev/null |
        /usr/bin/python3 "$HERE/bench_llamacpp.py" parse "$name" "$ty" prefill "$wb" "$(load1)"
      "$LB" -m "$f" -p 0 -n 128 -d 128 -t "$t" -r 3 -lm mmap,none -o jsonl 2>/dev/null |
        /usr/bin/python3 "$HERE/bench_llamacpp.py" parse "$name" "$ty" decode "$wb" "$(load1)"
    done
  done
done
