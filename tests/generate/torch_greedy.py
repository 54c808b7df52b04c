"""
torch_greedy.py CLI WORKDIR - greedy generation of `libllm generate`
against PyTorch's arg-max continuation, for gpt2 and llama models.

The references are tests/model/llmref.py's independent PyTorch modules
(float64 math from the published formulas), written to GGUF files with a
byte-level tokenizer (256 byte tokens, <|endoftext|> = 256 as EOS). For
each architecture: the prompt's ids must be the bytes' tokens (no BOS:
the vocabulary does not ask for one), the generated ids must equal the
arg-max continuation of the reference model re-run on the whole growing
sequence (stopping at EOS), and the text must be those tokens' bytes.
Then --stop with a piece of that text must cut the text exactly before
it, with reason "stop", and --interactive's second turn (a line on stdin)
must continue the same context: the arg-max continuation of prompt, first
turn and line. Run with /usr/bin/python3 (Debian's python3-torch).
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "model"))
import llmref  # noqa: E402
import torch  # noqa: E402

N_NEW = 24
PROMPT = "In the beginning"


def token_bytes(t):
    _, bs = llmref.gpt2_byte_tokens()
    if t < 256:
        return bytes([bs[t]])
    return b"<|endoftext|>" if t == 256 else ("<unused%d>" % (t - 257)).encode()


def torch_greedy(ref, ids, n_new=N_NEW):
    ids = list(ids)
    out = []
    with torch.no_grad():
        for _ in range(n_new):
            logits = ref.forward(torch.tensor([ids]))[0, -1]
            t = int(torch.argmax(logits))
            if t == 256:
                break
            out.append(t)
            ids.append(t)
    return out


def run_cli(cli, path, *extra):
    cmd = [cli, "generate", "--model", path, "--prompt", PROMPT, "--temp", "0",
           "-n", str(N_NEW), "--json"] + list(extra)
    r = subprocess.run(cmd, capture_output=True, check=True)
    return json.loads(r.stdout)


def main():
    cli, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    refs = [("gpt2", llmref.GPT2Ref(V=300, T=64, C=32, L=2, NH=4, seed=5)),
            ("llama", llmref.LlamaRef(V=300, T=64, C=32, L=2, NH=4, NKV=2, F=64, seed=6))]
    fails = 0
    for name, ref in refs:
        path = os.path.join(work, name + ".gguf")
        llmref.write_gguf(path, ref.gguf_kv() + llmref.byte_tokenizer_kv(ref.V), ref.gguf_tensors())
        prompt_ids = llmref.byte_token_ids(PROMPT.encode())
        want = torch_greedy(ref, prompt_ids)
        got = run_cli(cli, path)
        text = b"".join(token_bytes(t) for t in want).decode("utf-8", errors="replace")
        ok = (got["prompt_tokens"] == prompt_ids and got["tokens"] == want and
              got["text"] == text and
              got["reason"] == ("max_tokens" if len(want) == N_NEW else "eos"))
        print("%s: %s: torch %s, libllm %s (%s)" % ("ok" if ok else "FAIL", name, want,
                                                   got["tokens"], got["reason"]))
        fails += not ok
        if len(set(want)) < 3:
            print("FAIL: %s: the continuation is degenerate, the test would be weak" % name)
            fails += 1
        # A stop string from the text (3 printable ASCII bytes after the
        # first token, so that it spans tokens or starts inside one).
        raw = b"".join(token_bytes(t) for t in want)
        starts = [i for i in range(len(token_bytes(want[0])), len(raw) - 3)
                  if all(32 <= c < 127 for c in raw[i:i + 3]) and raw.index(raw[i:i + 3]) == i]
        if not starts:
            print("FAIL: %s: no printable stop string in %r" % (name, raw))
            fails += 1
            continue
        stop = raw[starts[0]:starts[0] + 3]
        cut = raw[:raw.index(stop)].decode("utf-8", errors="replace")
        got = run_cli(cli, path, "--stop", stop.decode())
        ok = got["text"] == cut and got["reason"] == "stop"
        print("%s: %s: --stop %r gives %r (want %r)" % ("ok" if ok else "FAIL", name, stop,
                                                      got["text"], cut))
        fails += not ok
        # --interactive: a second turn continues the same context (the
        # first turn's last token is decoded before the new line).
        line = b"And God said\n"
        first = torch_greedy(ref, prompt_ids, 8)
        second = torch_greedy(ref, prompt_ids + first + llmref.byte_token_ids(line), 8)
        r = subprocess.run([cli, "generate", "--model", path, "--prompt", PROMPT, "--temp", "0",
                            "-n", "8", "--interactive"], input=line, capture_output=True,
                           check=True)
        expect = b"".join(token_bytes(t) for t in first) + b"\n" + \
            b"".join(token_bytes(t) for t in second) + b"\n"
        ok = r.stdout == expect
        print("%s: %s: --interactive second turn %r (want %r)" % ("ok" if ok else "FAIL", name,
                                                                 r.stdout, expect))
        fails += not ok
    if fails:
        sys.exit("%d failure(s)" % fails)
    print("OK: greedy generation equals PyTorch's arg-max continuation")


if __name__ == "__main__":
    main()
