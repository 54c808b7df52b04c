#!/usr/bin/python3
"""train_ref.py LIBLLM CORPUS WORKDIR - checks `libllm tokenizer-train`
against an independent, deliberately naive BPE trainer written here.

The reference recounts every pair from scratch before each merge (no
incremental updates, no heap), with the documented rule: merge the pair
with the highest count (pairs counted inside pre-tokens, weighted by the
pre-token's frequency), ties to the smaller (left id, right id); stop at the
target size or when the best count is below 2. Byte ids follow GPT-2's
order. The corpus must be ASCII, for which Python's `re` with ASCII classes
spells the GPT-2 split pattern exactly.

Also checked: the vocabulary size is reached, every merge is made of
earlier tokens, two runs give identical files, a gzip copy of the corpus
trains to the same files, the result loads back and round-trips the corpus.
"""
import gzip
import json
import os
import re
import subprocess
import sys

cli, corpus, work = sys.argv[1:4]
os.makedirs(work, exist_ok=True)
VOCAB = 256 + 400 + 1  # bytes, 400 merges, <|endoftext|>

raw = open(corpus, "rb").read()
if any(b > 127 for b in raw[:400000]):
    sys.exit("train_ref.py: the corpus must be ASCII")
text = raw[:300000]
text = text[: text.rindex(b"\n") + 1]
train_txt = os.path.join(work, "train.txt")
open(train_txt, "wb").write(text)
with gzip.open(train_txt + ".gz", "wb") as f:
    f.write(text)

# GPT-2 byte alphabet and byte order (formats.md 5.2)
printable = [b for b in range(256) if 33 <= b <= 126 or 161 <= b <= 172 or 174 <= b <= 255]
order = printable + [b for b in range(256) if b not in printable]
cp = {}
n = 0
for b in range(256):
    if b in printable:
        cp[b] = chr(b)
    else:
        cp[b] = chr(256 + n)
        n += 1
def alpha(bs):
    return "".join(cp[b] for b in bs)

# --- the naive reference trainer ---
pat = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+""",
                 re.ASCII)
counts = {}
for m in pat.finditer(text.decode("ascii")):
    w = m.group(0).encode("ascii")
    counts[w] = counts.get(w, 0) + 1
tok_bytes = [bytes([b]) for b in order]
byte_id = {b: i for i, b in enumerate(order)}
words = [[byte_id[b] for b in w] for w in counts]
freqs = list(counts.values())
merges = []
target = VOCAB - 256 - 1
while len(tok_bytes) - 256 < target:
    pc = {}
    for w, f in zip(words, freqs):
        for a, b in zip(w, w[1:]):
            pc[(a, b)] = pc.get((a, b), 0) + f
    if not pc:
        break
    best = min(pc.items(), key=lambda kv: (-kv[1], kv[0]))
    if best[1] < 2:
        break
    (a, b) = best[0]
    nb = tok_bytes[a] + tok_bytes[b]
    if nb in tok_bytes:
        z = tok_bytes.index(nb)
    else:
        z = len(tok_bytes)
        tok_bytes.append(nb)
    if (a, b) not in merges:
        merges.append((a, b))
    for w in words:
        i, out = 0, []
        while i < len(w):
            if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                out.append(z)
                i += 2
            else:
                out.append(w[i])
                i += 1
        w[:] = out
ref_merges = [alpha(tok_bytes[a]) + " " + alpha(tok_bytes[b]) for a, b in merges]
ref_vocab = {alpha(t): i for i, t in enumerate(tok_bytes)}
ref_vocab["<|endoftext|>"] = len(tok_bytes)

# --- libllm ---
def train(src, out):
    subprocess.run([cli, "tokenizer-train", "--file", src, "--vocab-size", str(VOCAB),
                    "--out", out, "--quiet"], check=True)
    merges_txt = open(os.path.join(out, "merges.txt"), encoding="utf-8").read().split("\n")
    assert merges_txt[0].startswith("#version"), "merges.txt header"
    return ([m for m in merges_txt[1:] if m],
            json.load(open(os.path.join(out, "vocab.json"), encoding="utf-8")),
            open(os.path.join(out, "merges.txt"), "rb").read() +
            open(os.path.join(out, "vocab.json"), "rb").read())

fails = 0
def check(cond, msg):
    global fails
    if not cond:
        fails += 1
        print("FAIL: " + msg, file=sys.stderr)

got_merges, got_vocab, files1 = train(train_txt, os.path.join(work, "run1"))
check(len(got_vocab) == VOCAB, f"vocab size {len(got_vocab)} != {VOCAB}")
for i, (g, r) in enumerate(zip(got_merges, ref_merges)):
    if g != r:
        check(False, f"merge {i}: libllm {g!r} != reference {r!r}")
        break
check(len(got_merges) == len(ref_merges),
      f"{len(got_merges)} merges, reference {len(ref_merges)}")
check(got_vocab == ref_vocab, "vocab.json differs from the reference")
# every merge is made of tokens that exist before it
seen = set(alpha(bytes([b])) for b in range(256))
for i, m in enumerate(got_merges):
    l, r = m.split(" ")
    if l not in seen or r not in seen:
        check(False, f"merge {i} uses a later token: {m!r}")
        break
    seen.add(l + r)
_, _, files2 = train(train_txt, os.path.join(work, "run2"))
check(files1 == files2, "two runs differ")
_, _, files3 = train(train_txt + ".gz", os.path.join(work, "run_gz"))
check(files1 == files3, "gzip input trains differently")
ids = subprocess.run([cli, "tokenize", "--tokenizer", os.path.join(work, "run1"),
                      "--file", train_txt], check=True, capture_output=True).stdout
back = subprocess.run([cli, "detokenize", "--tokenizer", os.path.join(work, "run1")],
                      input=ids, check=True, capture_output=True).stdout
check(back == text, "the trained tokenizer does not round-trip the corpus")
print(f"training: {len(got_merges)} merges equal to the naive reference; "
      f"deterministic; gzip ok; round trip ok" if not fails else f"{fails} failure(s)")
sys.exit(1 if fails else 0)
