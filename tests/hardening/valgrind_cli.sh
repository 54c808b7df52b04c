#!/bin/sh
# valgrind_cli.sh CLI SEEDS WORKDIR - memcheck of libllm CLI runs (issue 9):
# info, tokenize, eval, generate and a few training steps (with a
# checkpoint save and a resume) on the tiny fuzz-seed model. Each run must
# end with zero errors and no definitely/indirectly lost bytes (valgrind
# exits 99 otherwise). Skipped (exit 77) when valgrind is not installed.
set -u
cli=$1
seeds=$2
work=$3
command -v valgrind >/dev/null 2>&1 || { echo "valgrind not installed: skipped"; exit 77; }
mkdir -p "$work"
model=$seeds/model/gpt2_tok.gguf
text=$work/text.txt
printf 'In the beginning God created the heaven and the earth. And the earth was without form.\n%.0s' \
  1 2 3 4 5 6 7 8 > "$text"
# OpenBLAS keeps per-thread buffers until exit ("possibly lost" / "still
# reachable"): only definite and indirect leaks count.
vg="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect
    --show-leak-kinds=definite,indirect"
fail=0
run() {
  name=$1
  shift
  if $vg "$@" > "$work/$name.out" 2> "$work/$name.err"; then
    echo "valgrind $name: clean"
  else
    echo "valgrind $name: FAILED (exit $?)"; cat "$work/$name.err"; fail=1
  fi
}
run info "$cli" info "$model" --json
run tokenize "$cli" tokenize --model "$model" --file "$text" --count
run eval "$cli" eval --model "$model" --file "$text" --quiet --json
run generate "$cli" generate --model "$model" --prompt "In the" -n 8 --seed 3 --top-k 5
run train "$cli" train --model "$model" --data "$text" --steps 3 --batch 2 --seq 8 \
  --checkpoint "$work/ckpt.gguf" --out "$work/out.gguf" --quiet
run resume "$cli" train --model "$model" --data "$text" --steps 4 --batch 2 --seq 8 \
  --resume "$work/ckpt.gguf" --out "$work/out2.gguf" --quiet
exit $fail
