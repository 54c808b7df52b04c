#!/bin/sh
# run_fuzzers.sh BUILD_DIR SECONDS [TARGET...] - runs each libFuzzer target
# (built with -DLLM_FUZZ=ON and clang, see CMakeLists.txt) for SECONDS
# seconds on a copy of its seed corpus, one after another, and prints one
# line per target: bench-style key=value with executions, coverage (cov)
# and features (ft) from libFuzzer's final stats. Findings are written to
# $FUZZ_OUT/<target>/ (default /tmp/llm-fuzz) as crash-*, leak-*, timeout-*
# files; add each to regress/<target>/ once fixed. Exit status 1 when any
# target found something.
set -u
build=$1
secs=$2
shift 2
src=$(cd "$(dirname "$0")" && pwd)
out=${FUZZ_OUT:-/tmp/llm-fuzz}
targets=${*:-"fuzz_json fuzz_gguf fuzz_safetensors fuzz_model fuzz_import_hf
  fuzz_import_llama2c fuzz_checkpoint fuzz_tok_roundtrip fuzz_tok_gpt2dir fuzz_tok_hfdir
  fuzz_tok_tokjson fuzz_tok_tiktoken fuzz_tok_bin fuzz_tok_model fuzz_tok_gguf fuzz_tokens fuzz_import_sharded"}
seeds_of() {
  case $1 in
    fuzz_json) echo json ;; fuzz_gguf) echo gguf ;; fuzz_safetensors) echo safetensors ;;
    fuzz_model) echo "model gguf" ;; fuzz_import_hf) echo import_hf ;;
    fuzz_import_llama2c) echo llama2c ;; fuzz_checkpoint) echo checkpoint ;;
    fuzz_tok_roundtrip) echo roundtrip ;; fuzz_tok_gpt2dir) echo tok_gpt2dir ;;
    fuzz_tok_hfdir) echo tok_hfdir ;; fuzz_tok_tokjson) echo tok_json ;;
    fuzz_tok_tiktoken) echo tok_tiktoken ;; fuzz_tok_bin) echo tok_bin ;;
    fuzz_tok_model) echo tok_model ;; fuzz_tok_gguf) echo tok_gguf ;;
    fuzz_tokens) echo tokens ;; fuzz_import_sharded) echo import_sharded ;;
  esac
}
export FUZZ_SPM_BIN="$src/seeds/tok_bin/spm.bin"
fail=0
for t in $targets; do
  bin=$build/tests/fuzz/$t
  [ -x "$bin" ] || { echo "fuzz=$t status=missing"; fail=1; continue; }
  mkdir -p "$out/$t/corpus"
  for s in $(seeds_of "$t"); do cp -n "$src/seeds/$s"/* "$out/$t/corpus/" 2>/dev/null; done
  [ -d "$src/regress/$t" ] && cp -n "$src/regress/$t"/* "$out/$t/corpus/" 2>/dev/null
  "$bin" "$out/$t/corpus" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="$out/$t/" \
    > "$out/$t/log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out/$t/log" | grep -o '[0-9]*$')
  last=$(grep -E '^#[0-9]+' "$out/$t/log" | tail -1)
  cov=$(echo "$last" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*')
  ft=$(echo "$last" | grep -o 'ft: [0-9]*' | grep -o '[0-9]*')
  corp=$(echo "$last" | grep -o 'corp: [0-9]*' | grep -o '[0-9]*')
  echo "fuzz=$t seconds=$secs execs=${execs:-?} cov=${cov:-?} ft=${ft:-?} corpus=${corp:-?} rc=$rc"
  [ $rc -eq 0 ] || fail=1
done
exit $fail
