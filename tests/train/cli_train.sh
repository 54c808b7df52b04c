#!/bin/sh
# cli_train.sh LIBLLM TEXT - `libllm train` end to end, in separate
# processes: a run stopped after 4 of 8 steps and resumed from its
# checkpoint by a new process prints the same losses (all 9 digits) as an
# uninterrupted run; the saved model loads (`libllm info`); bad command
# lines exit 2 and bad data exits 1 with a message.
set -u
L=${1:?usage: cli_train.sh LIBLLM TEXT}
TEXT=${2:?usage: cli_train.sh LIBLLM TEXT}
D=$(mktemp -d /tmp/cli_train.XXXXXX)
trap 'rm -rf "$D"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
A="--config llama --n-layer 2 --n-embd 32 --n-head 4 --n-head-kv 2 --data $TEXT --steps 8
   --batch 4 --seq 32 --lr 1e-2 --warmup 2 --grad-accum 2 --threads 2 --shuffle --json --quiet"
$L train $A --out "$D/m.gguf" --plot "$D/loss.png" > "$D/straight.json" 2> /dev/null || fail "straight run"
[ "$(head -c 4 "$D/loss.png" | od -An -c | tr -d ' ')" = "211PNG" ] || fail "--plot did not write a PNG"
$L train $A --stop-at 4 --checkpoint "$D/c.ckpt" > "$D/first.json" || fail "first half"
$L train $A --resume "$D/c.ckpt" > "$D/second.json" || fail "resumed half"
cut -d, -f1-2 "$D/straight.json" > "$D/a"
cat "$D/first.json" "$D/second.json" | cut -d, -f1-2 > "$D/b"
cmp -s "$D/a" "$D/b" || { diff "$D/a" "$D/b"; fail "resumed losses differ"; }
[ "$(wc -l < "$D/a")" -eq 8 ] || fail "expected 8 steps"
$L info "$D/m.gguf" > /dev/null || fail "the saved model does not load"
# fine-tune the saved (memory-mapped) model; its file must stay as it was
cp "$D/m.gguf" "$D/m0.gguf"
$L train --model "$D/m.gguf" --data "$TEXT" --steps 3 --batch 2 --seq 16 --lr 1e-2 --json --quiet \
   --out "$D/m2.gguf" > "$D/ft.json" || fail "fine-tuning"
cmp -s "$D/m.gguf" "$D/m0.gguf" || fail "fine-tuning changed the input model file"
[ "$(wc -l < "$D/ft.json")" -eq 3 ] || fail "fine-tuning: expected 3 steps"
cmp -s "$D/m.gguf" "$D/m2.gguf" && fail "fine-tuning saved unchanged weights"
# a text through a BPE tokenizer trained here; the model keeps it
$L tokenizer-train --file "$TEXT" --vocab-size 300 --out "$D/tok" --quiet || fail "tokenizer-train"
$L train --config gpt2 --n-layer 1 --n-embd 32 --n-head 2 --tokenizer "$D/tok" --data "$TEXT" \
   --steps 2 --batch 2 --seq 16 --json --quiet --out "$D/t.gguf" > "$D/tok.json" || fail "--tokenizer"
[ "$(wc -l < "$D/tok.json")" -eq 2 ] || fail "--tokenizer: expected 2 steps"
$L tokenize --model "$D/t.gguf" --file "$TEXT" > /dev/null 2>&1 || fail "the model lost its tokenizer"
# usage errors: exit 2
$L train --data "$TEXT" > /dev/null 2>&1; [ $? -eq 2 ] || fail "missing --config: want exit 2"
$L train --config gpt2 --data "$TEXT" --lr x > /dev/null 2>&1; [ $? -eq 2 ] || fail "bad --lr"
$L train --config gpt3 --data "$TEXT" > /dev/null 2>&1; [ $? -eq 2 ] || fail "bad --config"
# data errors: exit 1 with a message
printf 'ab' > "$D/tiny.txt"
$L train --config gpt2 --data "$D/tiny.txt" --quiet 2> "$D/err" > /dev/null; [ $? -eq 1 ] || fail "tiny data: want exit 1"
grep -q "fewer than one batch" "$D/err" || fail "tiny data message: $(cat "$D/err")"
printf '\001\000\377\377' > "$D/big.bin"
$L train --config gpt2 --n-vocab 300 --data "$D/big.bin" --quiet 2> "$D/err" > /dev/null; [ $? -eq 1 ] || fail "token out of range: want exit 1"
grep -q "outside the model's vocabulary" "$D/err" || fail "range message: $(cat "$D/err")"
$L train --config gpt2 --data "$TEXT" --resume "$D/nonexistent" --quiet 2> "$D/err" > /dev/null; [ $? -eq 1 ] || fail "missing checkpoint: want exit 1"
echo "cli_train: ok"
