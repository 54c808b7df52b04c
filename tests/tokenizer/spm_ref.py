#!/usr/bin/python3
"""spm_ref.py TOK_BATCH CORPUS WORKDIR - SentencePiece parity.

libllm reads the model as llama2.c's tokenizer.bin, as SentencePiece's own
.model file, and through its GGUF form.

Trains a BPE model with Debian's python3-sentencepiece (the oracle) using
Llama 2's settings (identity normalisation, dummy prefix, no whitespace
collapsing, byte fallback, split digits), exports it as a llama2.c
tokenizer.bin (formats.md 6.2: U+2581 written as a space, BOS/EOS as
"\\n<s>\\n" / "\\n</s>\\n"), and checks that libllm's ids equal
SentencePiece's encode() for edge cases and corpus lines, and that
libllm's decode gives the input back (tok_batch checks the round trip).
"""
import os
import struct
import subprocess
import sys

import sentencepiece as spm

batch, corpus, work = sys.argv[1:4]
os.makedirs(work, exist_ok=True)

lines = open(corpus, encoding="utf-8", errors="replace").read().split("\n")
lines = [l for l in lines if l.strip()][:6000]
extra = [
    "Grüße aus Köln, schöne Straße! Ça va? Élève naïve.",
    "日本語のテキストと中文文本。한국어 문장입니다.",
    "Привет, мир! Как дела? Ελληνικά γράμματα.",
    "emoji 👍🏽 and 👨‍👩‍👧 and ❤️ here",
    "numbers 1234567 and 3.14159 and 2024-01-01",
] * 20
train_txt = os.path.join(work, "spm_train.txt")
with open(train_txt, "w", encoding="utf-8") as f:
    f.write("\n".join(lines + extra) + "\n")

prefix = os.path.join(work, "spm")
spm.SentencePieceTrainer.train(
    input=train_txt, model_prefix=prefix, model_type="bpe", vocab_size=2000,
    character_coverage=0.9995, byte_fallback=True, normalization_rule_name="identity",
    remove_extra_whitespaces=False, add_dummy_prefix=True, split_digits=True,
    allow_whitespace_only_pieces=True, num_threads=1, minloglevel=2,
    max_sentence_length=100000)
sp = spm.SentencePieceProcessor(model_file=prefix + ".model")

# llama2.c's tokenizer.py export
tokens, scores = [], []
for i in range(sp.get_piece_size()):
    t = sp.id_to_piece(i)
    if i == sp.bos_id():
        t = "\n<s>\n"
    elif i == sp.eos_id():
        t = "\n</s>\n"
    tokens.append(t.replace("\u2581", " ").encode("utf-8"))
    scores.append(sp.get_score(i))
bin_path = os.path.join(work, "tokenizer.bin")
with open(bin_path, "wb") as f:
    f.write(struct.pack("I", max(len(t) for t in tokens)))
    for t, s in zip(tokens, scores):
        f.write(struct.pack("fI", s, len(t)))
        f.write(t)

cases = [
    "", " ", "  ", "a", " a", "  leading", "trailing  ", "hello world", "Hello  World",
    "tabs\tand\nnewlines\n\n", "In the beginning God created the heaven and the earth.",
    "unseen characters: \u0416\u00df\u00e6 \u2603 \U0001F600 \u0915\u094d\u0937",
    "digits 0123456789 99 1000000", "mixed CJK 日本 and text", "x" * 300,
    "The LORD is my shepherd; I shall not want.", "a  b   c    d", "\u00a0nbsp\u3000ideo",
    "Grüße aus Köln", "Ελληνικά", "👍🏽👍🏽👍🏽", "<s> and </s> as text", "é" * 50,
] + lines[100:400] + lines[-200:]
case_dir = os.path.join(work, "spm_cases")
os.makedirs(case_dir, exist_ok=True)
files = []
for i, c in enumerate(cases):
    p = os.path.join(case_dir, f"c{i:04d}.txt")
    with open(p, "w", encoding="utf-8") as f:
        f.write(c)
    files.append(p)

fails = 0
# directly from tokenizer.bin, and through the GGUF form ("llama" model,
# U+2581 pieces, <0xNN> byte tokens, scores) that a model file stores
gguf = os.path.join(work, "spm.gguf")
for src, extra_args, label in ((bin_path, [], "tokenizer.bin"),
                               (prefix + ".model", [], "SentencePiece .model"),
                               (bin_path, ["--via-spec"], "GGUF form"),
                               (bin_path, ["--via-gguf", gguf], "GGUF file")):
    res = subprocess.run([batch, src] + extra_args + files, capture_output=True)
    if res.returncode != 0:
        sys.exit("tok_batch failed: " + res.stderr.decode())
    got = res.stdout.decode().split("\n")
    bad = 0
    for i, c in enumerate(cases):
        want = sp.encode(c)
        mine = [int(x) for x in got[i].split()] if got[i] else []
        if mine != want:
            bad += 1
            if bad <= 5:
                print(f"FAIL {label} case {i} {c[:40]!r}:\n  sentencepiece {want[:20]}\n"
                      f"  libllm        {mine[:20]}", file=sys.stderr)
    fails += bad
    print(f"sentencepiece parity ({label}): {len(cases) - bad}/{len(cases)} texts equal "
          f"(vocab {sp.get_piece_size()})")

# models libllm must refuse cleanly: unigram (SentencePiece's default) and
# NFKC normalisation
uni = os.path.join(work, "uni")
spm.SentencePieceTrainer.train(input=train_txt, model_prefix=uni, vocab_size=500,
                               num_threads=1, minloglevel=2)
res = subprocess.run([batch, uni + ".model", files[0]], capture_output=True)
if res.returncode != 1 or b"model type 1" not in res.stderr:
    fails += 1
    print("FAIL: a unigram model is not refused cleanly:", res.returncode, res.stderr,
          file=sys.stderr)
nfkc = os.path.join(work, "nfkc")
spm.SentencePieceTrainer.train(input=train_txt, model_prefix=nfkc, model_type="bpe",
                               vocab_size=500, num_threads=1, minloglevel=2)
res = subprocess.run([batch, nfkc + ".model", files[0]], capture_output=True)
if res.returncode != 1 or b"normalization" not in res.stderr:
    fails += 1
    print("FAIL: an NFKC model is not refused cleanly:", res.returncode, res.stderr,
          file=sys.stderr)

# damaged .model files: a clean error or a working tokenizer, never a crash
import random
rng = random.Random(1)
good = open(prefix + ".model", "rb").read()
bad_path = os.path.join(work, "damaged.model")
crashes = 0
for k in range(150):
    b = bytearray(good)
    if k % 3 == 0:
        b = b[: rng.randrange(len(b))]
    for _ in range(rng.randrange(1, 6)):
        if b:
            b[rng.randrange(len(b))] = rng.randrange(256)
    open(bad_path, "wb").write(bytes(b))
    res = subprocess.run([batch, bad_path, files[10]], capture_output=True)
    # (a sanitizer build also exits 1: look for its report too)
    if res.returncode not in (0, 1) or b"Sanitizer" in res.stderr or \
            b"runtime error" in res.stderr:
        crashes += 1
        if crashes <= 3:
            print(f"FAIL: damaged model {k}: exit {res.returncode} {res.stderr[-200:]}",
                  file=sys.stderr)
fails += crashes
print(f"refusals checked; {150 - crashes}/150 damaged .model files handled")
sys.exit(1 if fails else 0)
