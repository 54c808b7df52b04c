#!/bin/sh
# main-job.sh [BUILD_DIR]: the whole life of a small language model with
# the libllm CLI, on a real corpus (the King James Bible from Debian's
# bible-kjv):
#   1. learn a 4096-token byte-level BPE vocabulary from the text;
#   2. train a GPT-2-style model from scratch (4 layers, 128 wide) on the
#      first 98% of the verses, by next-token prediction with AdamW;
#   3. generate text from a prompt;
#   4. measure its cross-entropy and perplexity on the held-out verses;
#   5. ask the Chinchilla planner what the compute spent here and a larger
#      budget should buy.
# Everything goes to BUILD_DIR/demo. About 2-4 minutes on 2 cores.
set -eu
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
llm="$build/examples/cli/libllm"
out="$build/demo"
steps=${LLM_DEMO_STEPS:-500}
batch=16
seq=128
[ -x "$llm" ] || { echo "main-job.sh: $llm not found; build first" >&2; exit 1; }
mkdir -p "$out"

echo "== 1. corpus and tokenizer"
sh "$here/kjv-corpus.sh" "$out/kjv.txt"
lines=$(wc -l < "$out/kjv.txt")
keep=$((lines * 98 / 100))
head -n "$keep" "$out/kjv.txt" > "$out/train.txt"
tail -n +"$((keep + 1))" "$out/kjv.txt" > "$out/heldout.txt"
echo "corpus: $(wc -c < "$out/kjv.txt") bytes, $lines verses; held out: the last $((lines - keep)) verses"
"$llm" tokenizer-train --quiet --file "$out/train.txt" --vocab-size 4096 --pattern gpt2 --out "$out/tokenizer"

echo "== 2. train ($steps steps of $batch x $seq tokens)"
"$llm" train --config gpt2 --n-layer 4 --n-embd 128 --n-head 4 --seq "$seq" --batch "$batch" \
  --steps "$steps" --lr 3e-3 --warmup 30 --shuffle --seed 1 --threads 2 \
  --tokenizer "$out/tokenizer" --data "$out/train.txt" --eval-every "$steps" \
  --out "$out/model.gguf" --json > "$out/train.jsonl"
tail -n 2 "$out/train.jsonl"
"$llm" info "$out/model.gguf"

echo "== 3. generate"
"$llm" generate --model "$out/model.gguf" --prompt "And God said" --max-tokens 60 \
  --temp 0.8 --top-k 40 --seed 7
echo

echo "== 4. held-out loss and perplexity"
"$llm" eval --model "$out/model.gguf" --file "$out/heldout.txt" --quiet --json | tee "$out/eval.json"

echo "== 5. Chinchilla plan"
params=$("$llm" info --json "$out/model.gguf" | sed -n 's/.*"n_params": *\([0-9]*\).*/\1/p')
tokens=$((steps * batch * seq))
compute=$(awk -v n="$params" -v d="$tokens" 'BEGIN { printf "%.4g", 6 * n * d }')
echo "this run: N = $params parameters, D = $tokens tokens, C = 6ND = $compute FLOPs"
echo "(Chinchilla's law was fitted on 70M-16B-parameter models: at this tiny scale its"
echo " loss figures are an extrapolation far outside the fit, the N/D split less so.)"
echo "-- compute-optimal split of the same compute:"
"$llm" plan --compute "$compute"
echo "-- compute-optimal tokens for this model size:"
"$llm" plan --params "$params"
echo "-- and for 1e21 FLOPs, with a suggested config:"
"$llm" plan --compute 1e21 --suggest-config
