"""
bench_llamacpp.py OUT_DIR [NAME...] - writes the random-weight F32 GGUF
models that bench_llamacpp.sh runs through both libllm and llama.cpp:
  gpt2-124M.gguf   GPT-2 small dims (bench_model.py's weights, seed 1)
  llama-110M.gguf  stories110M dims: dim 768, 12 layers, 12 heads, hidden 2048, vocab 32000
  llama-15M.gguf   stories15M dims: dim 288, 6 layers, 6 heads, hidden 768, vocab 32000
The tensors and keys are bench_model.py's (so libllm loads them as in that
benchmark), plus what llama.cpp needs to load a model without a tokenizer:
tokenizer.ggml.model = "none" and <arch>.vocab_size (libllm checks the
latter against token_embd.weight and builds no tokenizer without
tokenizer.ggml.tokens). Prints one line per file: NAME PATH.
Run with /usr/bin/python3 (needs torch).

bench_llamacpp.py parse NAME TYPE WHAT WEIGHT_BYTES LOAD1 < llama-bench.jsonl
turns llama-bench's JSON lines into this project's bench lines (WHAT is
prefill or decode), e.g.
  bench=model_decode impl=llamacpp model=NAME type=q8_0 threads=2 tokens=128
        depth=128 tok_s=<fastest repetition> tok_s_mean=<llama-bench's mean>
        weight_bytes=<WEIGHT_BYTES> weight_gb_s=<weight_bytes x tok_s> load1=
WEIGHT_BYTES is the GGUF file's size (tensor data plus a header of a few
KB), the bytes a decode step reads, for both implementations.
"""
import json
import os
import sys


def write_models(out, only):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import bench_model  # sets OMP_WAIT_POLICY, imports torch and llmref

    llmref = bench_model.llmref
    write = llmref.write_gguf

    def write_with_vocab(path, kv, tensors, *a, **k):
        arch = next(v for key, _, v in kv if key == "general.architecture")
        vocab = next(t.shape[0] for n, t in tensors if n == "token_embd.weight")
        kv = [x for x in kv if x[0] != arch + ".vocab_size"]
        kv = kv + [("tokenizer.ggml.model", "str", "none"), (arch + ".vocab_size", "u32", vocab)]
        return write(path, kv, tensors, *a, **k)

    llmref.write_gguf = write_with_vocab
    models = (
        ("gpt2-124M", bench_model.gpt2_weights, bench_model.gpt2_gguf),
        ("llama-110M", bench_model.llama_weights, bench_model.llama_gguf),
        ("llama-15M", lambda: bench_model.llama_weights(V=32000, C=288, L=6, F=768, seed=3),
         lambda w, p: bench_model.llama_gguf(w, p, NH=6)),
    )
    os.makedirs(out, exist_ok=True)
    for name, mk, save in models:
        if only and name not in only:
            continue
        path = os.path.join(out, name + ".gguf")
        save(mk(), path)
        print(name, path, flush=True)


def parse(name, typ, what, wbytes, load1):
    wbytes = int(wbytes)
    for line in sys.stdin:
        line = line.strip()
        if not line.startswith("{"):
            continue
        r = json.loads(line)
        n = r["n_prompt"] if what == "prefill" else r["n_gen"]
        best = max(r["samples_ts"])
        extra = ""
        if what == "decode":
            extra = " weight_bytes=%d weight_gb_s=%.2f" % (wbytes, wbytes * best / 1e9)
        lm = {"none": "read"}.get(str(r.get("load_mode", "mmap")), str(r.get("load_mode", "mmap")))
        print("bench=model_%s impl=llamacpp model=%s type=%s load=%s threads=%d tokens=%d depth=%d "
              "tok_s=%.2f tok_s_mean=%.2f%s build=%s load1=%s"
              % (what, name, typ, lm, r["n_threads"], n, r["n_depth"], best, r["avg_ts"], extra,
                 r["build_commit"], load1))


def main():
    if sys.argv[1] == "parse":
        parse(*sys.argv[2:7])
        return
    write_models(sys.argv[1], set(sys.argv[2:]))


if __name__ == "__main__":
    main()
