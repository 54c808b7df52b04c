"""
test_parity.py - libllm's forward pass, KV-cache decode, loss and windowed
evaluation against independent PyTorch references (llmref.py), for GPT-2
and Llama (GQA, untied, tied with QKV bias). Also: F16/BF16 loading, GGUF
save -> load bit-exactness. Fails (exit 1) on any mismatch.

usage: /usr/bin/python3 test_parity.py path/to/libllm.so [path/to/libllm-cli]
"""
import ctypes
import math
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llmref  # noqa: E402

TOL = 1e-4
failures = []


def rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def check(name, err, tol=TOL):
    ok = err <= tol
    print("%-58s rel err %.3e %s" % (name, err, "ok" if ok else "FAIL"))
    if not ok:
        failures.append(name)


def ref_eval(logits_fn, toks, window, stride):
    """Windowed evaluation exactly as the issue defines it, from full forwards."""
    n_targets = len(toks) - 1
    nll, n, s = 0.0, 0, 0
    while s < n_targets:
        e = min(s + stride, n_targets)
        a = max(0, e - window)
        lg = logits_fn(torch.tensor([toks[a:e]]))[0]
        lp = torch.log_softmax(lg, -1)
        for j in range(s + 1, e + 1):  # target t[j] predicted by input t[j-1] at row j-1-a
            nll -= lp[j - 1 - a, toks[j]].item()
            n += 1
        s = e
    return nll, n


def run_model(lib, tmp, name, ref, seed):
    V, T = ref.V, ref.T
    path = os.path.join(tmp, name + ".gguf")
    llmref.write_gguf(path, ref.gguf_kv(), ref.gguf_tensors())
    rc, m = lib.load(path)
    lib.check(rc)
    ctx = lib.ctx(m, n_ctx=T, n_batch=4 * T, n_threads=2)
    g = np.random.default_rng(seed)
    B, Tq = 3, 21
    ids = g.integers(0, V, size=(B, Tq))
    want = ref.forward(torch.tensor(ids)).numpy()

    got = lib.forward(ctx, ids, V)
    check("%s: forward logits (B=%d, T=%d)" % (name, B, Tq), rel(got, want))
    got_last = lib.forward(ctx, ids, V, last=True)
    check("%s: forward last-position logits" % name, rel(got_last, want[:, -1]))

    # Incremental decode, token by token, must equal the full forward.
    lib.check(lib.L.llm_ctx_reset(ctx), ctx)
    errs = [rel(lib.decode(ctx, [int(t)], V), want[0, i]) for i, t in enumerate(ids[0])]
    check("%s: decode token by token through the KV cache" % name, max(errs))
    # Prefill of 8 then single tokens.
    lib.check(lib.L.llm_ctx_reset(ctx), ctx)
    e1 = rel(lib.decode(ctx, ids[1, :8], V), want[1, 7])
    e2 = max(rel(lib.decode(ctx, [int(ids[1, i])], V), want[1, i]) for i in range(8, Tq))
    check("%s: decode prefill(8) then tokens" % name, max(e1, e2))
    # Truncate to 5 and continue with another sequence's tokens.
    lib.check(lib.L.llm_ctx_truncate(ctx, 5), ctx)
    alt = np.concatenate([ids[1, :5], ids[2, 5:12]])
    want_alt = ref.forward(torch.tensor(alt[None])).numpy()[0]
    check("%s: truncate(5) then decode a new continuation" % name,
          rel(lib.decode(ctx, alt[5:], V), want_alt[-1]))
    # Decode up to the full context length.
    full = g.integers(0, V, size=(1, T))
    want_full = ref.forward(torch.tensor(full)).numpy()[0]
    lib.check(lib.L.llm_ctx_reset(ctx), ctx)
    lib.decode(ctx, full[0, :T - 1], V)
    check("%s: decode at the last position (n_ctx=%d)" % (name, T),
          rel(lib.decode(ctx, full[0, T - 1:], V), want_full[-1]))

    # Loss and per-token log-probs vs torch cross_entropy.
    inputs, targets = ids[:, :-1], ids[:, 1:].copy()
    targets[0, 3] = -100  # ignored position
    lg = ref.forward(torch.tensor(inputs))
    t_loss = torch.nn.functional.cross_entropy(lg.reshape(-1, V), torch.tensor(targets).reshape(-1),
                                               ignore_index=-100).item()
    t_lp = torch.log_softmax(lg, -1).gather(-1, torch.tensor(targets).clamp(min=0)[..., None])[..., 0]
    t_lp[0, 3] = 0
    loss, lp = lib.loss(ctx, inputs, targets)
    check("%s: mean cross-entropy vs torch" % name, abs(loss - t_loss) / t_loss)
    check("%s: per-token log-probs vs torch" % name, rel(lp, t_lp.numpy()))

    # Windowed evaluation: non-overlapping windows and a stride.
    stream = [int(x) for x in g.integers(0, V, size=3 * T + 7)]
    fn = lambda x: ref.forward(x)
    for window, stride in ((T, 0), (16, 0), (16, 5), (T, T // 2)):
        nll, n = lib.eval(ctx, stream, window, stride)
        r_nll, r_n = ref_eval(fn, stream, window, stride if stride else window)
        if n != r_n or n != len(stream) - 1:
            failures.append("%s eval count" % name)
            print("eval count mismatch", n, r_n)
        check("%s: eval window=%d stride=%d (%d predictions)" % (name, window, stride, n),
              abs(nll - r_nll) / r_nll)

    # Attention introspection: a chosen layer/head's probabilities, from a
    # forward pass and from token-by-token decoding.
    cctx = lib.ctx(m, n_ctx=T, n_batch=T, flags=1)
    layer, head = ref.L - 1, ref.NH - 1
    lib.check(lib.L.llm_ctx_capture_attention(cctx, layer, head), cctx)
    lib.forward(cctx, ids[:1], V)
    ref.forward(torch.tensor(ids[:1]))
    want_att = ref.att[layer][0, head].numpy()
    check("%s: attention probs layer %d head %d (forward)" % (name, layer, head),
          rel(lib.attention(cctx), want_att))
    for t in ids[0]:
        lib.decode(cctx, [int(t)], V)
    check("%s: attention probs layer %d head %d (decode)" % (name, layer, head),
          rel(lib.attention(cctx), want_att))
    lib.L.llm_ctx_free(cctx)

    # Save -> load: every tensor bit-exact and identical logits.
    path2 = os.path.join(tmp, name + ".saved.gguf")
    lib.check(lib.L.llm_model_save(m, path2.encode()), m)
    rc, m2 = lib.load(path2)
    lib.check(rc)
    bad = 0
    for tname, arr in ref.gguf_tensors():
        for mm in (m, m2):
            p = ctypes.POINTER(ctypes.c_float)()
            n = ctypes.c_size_t()
            lib.check(lib.L.llm_model_tensor_data(ctypes.byref(p), ctypes.byref(n), mm,
                                                  tname.encode()), mm)
            got_t = np.ctypeslib.as_array(p, shape=(n.value,))
            if not np.array_equal(got_t.view(np.uint32), arr.reshape(-1).view(np.uint32)):
                bad += 1
    print("%-58s %s" % (name + ": loaded and re-saved tensors bit-exact", "ok" if bad == 0 else "FAIL"))
    if bad:
        failures.append(name + " save/load")
    # The saved file, read by an independent strict reader: llama.cpp's
    # metadata keys with their types, the same tensor names/shapes/order as
    # the reference writer (formats.md 2.1-2.4), and bit-exact data.
    kv, infos, start, align, raw = llmref.read_gguf(path2)
    arch = kv["general.architecture"][1]
    codes = {"str": 8, "u32": 4, "f32": 6}
    ok = all(k in kv and kv[k][0] == codes[t] and
             (kv[k][1] == v if t != "f32" else abs(kv[k][1] - v) <= 1e-7 * abs(v))
             for k, t, v in ref.gguf_kv())
    ok = ok and kv["general.file_type"] == (4, 0) and arch == ref.gguf_kv()[0][2]
    ok = ok and [i[0] for i in infos] == [n for n, _ in ref.gguf_tensors()]
    for (tn, ne, tt, off), (rn, arr) in zip(infos, ref.gguf_tensors()):
        data = np.frombuffer(raw[start + off:start + off + arr.size * 4], dtype="<f4")
        ok = ok and tt == 0 and ne == list(reversed(arr.shape)) and np.array_equal(
            data.view(np.uint32), arr.reshape(-1).view(np.uint32))
    print("%-58s %s" % (name + ": saved GGUF passes an independent strict reader", "ok" if ok else "FAIL"))
    if not ok:
        failures.append(name + " gguf layout")
    ctx2 = lib.ctx(m2, n_ctx=T, n_batch=4 * T)
    got2 = lib.forward(ctx2, ids, V)
    same = np.array_equal(got2, lib.forward(ctx, ids, V))
    print("%-58s %s" % (name + ": re-saved model gives identical logits", "ok" if same else "FAIL"))
    if not same:
        failures.append(name + " saved logits")

    # F16 and BF16 files: loaded values equal the converted float32 values.
    for ttype, tn in ((llmref.GGML_F16, "f16"), (llmref.GGML_BF16, "bf16")):
        p3 = os.path.join(tmp, "%s.%s.gguf" % (name, tn))
        llmref.write_gguf(p3, ref.gguf_kv(), ref.gguf_tensors(), ttype=ttype)
        rc, m3 = lib.load(p3)
        lib.check(rc)
        bad = 0
        for tname, arr in ref.gguf_tensors():
            if ttype == llmref.GGML_F16:
                exp = arr.astype(np.float16).astype(np.float32)
            else:
                exp = (llmref.to_bf16_bits(arr).astype(np.uint32) << 16).view(np.float32)
            p = ctypes.POINTER(ctypes.c_float)()
            n = ctypes.c_size_t()
            lib.check(lib.L.llm_model_tensor_data(ctypes.byref(p), ctypes.byref(n), m3,
                                                  tname.encode()), m3)
            if not np.array_equal(np.ctypeslib.as_array(p, shape=(n.value,)), exp.reshape(-1)):
                bad += 1
        print("%-58s %s" % ("%s: %s tensors converted exactly" % (name, tn), "ok" if not bad else "FAIL"))
        if bad:
            failures.append(name + " " + tn)
        lib.L.llm_model_free(m3)

    lib.L.llm_ctx_free(ctx2)
    lib.L.llm_model_free(m2)
    lib.L.llm_ctx_free(ctx)
    lib.L.llm_model_free(m)
    return path


def main():
    lib = llmref.Lib(sys.argv[1])
    cli = sys.argv[2] if len(sys.argv) > 2 else None
    torch.manual_seed(0)
    refs = [
        ("gpt2", llmref.GPT2Ref(V=97, T=48, C=48, L=2, NH=4, seed=1)),
        ("llama-gqa", llmref.LlamaRef(V=101, T=48, C=64, L=2, NH=8, NKV=2, F=96, seed=2,
                                      theta=500.0)),
        ("llama-tied-qkvbias", llmref.LlamaRef(V=89, T=40, C=32, L=3, NH=4, NKV=4, F=80,
                                               seed=3, tied=True, qkv_bias=True)),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, ref) in enumerate(refs):
            path = run_model(lib, tmp, name, ref, seed=10 + i)
            if cli:
                import json
                # CLI: info --json and eval --tokens --json against the reference.
                r = subprocess.run([cli, "info", path, "--json"], capture_output=True, text=True)
                info = json.loads(r.stdout) if r.returncode == 0 else {}
                n_params = sum(a.size for _, a in ref.gguf_tensors())
                ok = (info.get("n_params") == n_params and info.get("vocab_size") == ref.V and
                      info.get("n_layer") == ref.L and info.get("arch") == name.split("-")[0])
                print("%-58s %s" % (name + ": libllm info --json", "ok" if ok else "FAIL " + r.stdout + r.stderr))
                if not ok:
                    failures.append(name + " info")
                stream = [int(x) for x in np.random.default_rng(7).integers(0, ref.V, size=2 * ref.T + 5)]
                tf = os.path.join(tmp, name + ".tokens")
                with open(tf, "w") as f:
                    f.write(" ".join(map(str, stream)) + "\n")
                # libllm attention --tokens ... --json --png: probabilities and a valid PNG.
                toks = stream[:9]
                png = os.path.join(tmp, name + ".png")
                r = subprocess.run([cli, "attention", "--model", path, "--tokens", ",".join(map(str, toks)),
                                    "--layer", "0", "--head", "1", "--json", "--png", png],
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    print(r.stdout, r.stderr)
                    failures.append(name + " attention cli")
                else:
                    import zlib
                    res = json.loads(r.stdout)
                    ref.forward(torch.tensor([toks]))
                    want = ref.att[0][0, 1].numpy()
                    got = np.zeros_like(want)
                    for i_, row in enumerate(res["probs"]):
                        got[i_, :len(row)] = row
                    check("%s: libllm attention --json" % name, rel(got, want), tol=1e-5)
                    data = open(png, "rb").read()
                    w_, h_ = struct.unpack(">II", data[16:24])
                    idat = data[33 + 8:33 + 8 + struct.unpack(">I", data[33:37])[0]]
                    ok = (data[:8] == b"\x89PNG\r\n\x1a\n" and w_ == h_ and w_ % 9 == 0 and
                          len(zlib.decompress(idat)) == h_ * (1 + 3 * w_) and data[-8:-4] == b"IEND")
                    print("%-58s %s" % (name + ": attention heat map is a valid PNG", "ok" if ok else "FAIL"))
                    if not ok:
                        failures.append(name + " png")
                for args, window, stride in ((["--ctx", "16"], 16, 16), ([], ref.T, ref.T),
                                             (["--ctx", "16", "--stride", "4"], 16, 4)):
                    r = subprocess.run([cli, "eval", "--model", path, "--tokens", tf, "--json",
                                        "--threads", "2"] + args, capture_output=True, text=True)
                    if r.returncode != 0:
                        print(r.stdout, r.stderr)
                        failures.append(name + " eval cli")
                        continue
                    res = json.loads(r.stdout)
                    r_nll, r_n = ref_eval(lambda x: ref.forward(x), stream, window, stride)
                    if res["tokens"] != r_n or res["bpb"] is not None:
                        failures.append(name + " eval cli count")
                    check("%s: libllm eval --tokens %s" % (name, " ".join(args)),
                          max(abs(res["loss"] - r_nll / r_n) / (r_nll / r_n),
                              abs(res["ppl"] - math.exp(r_nll / r_n)) / math.exp(r_nll / r_n)))
                # Import path: HF directory -> libllm convert -> GGUF -> same logits.
                for shards in (1, 3):
                    d = os.path.join(tmp, "%s-hf%d" % (name, shards))
                    llmref.write_hf_dir(d, ref, shards=shards)
                    out = os.path.join(tmp, "%s-conv%d.gguf" % (name, shards))
                    r = subprocess.run([cli, "convert", d, out], capture_output=True, text=True)
                    if r.returncode != 0:
                        print(r.stdout, r.stderr)
                        failures.append(name + " convert")
                        continue
                    rc, m = lib.load(out)
                    lib.check(rc)
                    ctx = lib.ctx(m)
                    ids = np.random.default_rng(5).integers(0, ref.V, size=(2, 17))
                    check("%s: HF (%d shard(s)) -> convert -> logits" % (name, shards),
                          rel(lib.forward(ctx, ids, ref.V), ref.forward(torch.tensor(ids)).numpy()))
                    lib.L.llm_ctx_free(ctx)
                    lib.L.llm_model_free(m)
        # Embedded tokenizer: a GPT-2 model whose GGUF carries tokenizer.ggml.*
        # keys (byte-level, no merges); load, save -> reload keeps it, and
        # `libllm eval --file` scores the text's bytes with bits per byte.
        ref = llmref.GPT2Ref(V=300, T=32, C=32, L=2, NH=4, seed=31)
        p = os.path.join(tmp, "gpt2-tok.gguf")
        llmref.write_gguf(p, ref.gguf_kv() + llmref.byte_tokenizer_kv(ref.V), ref.gguf_tensors())
        rc, m = lib.load(p)
        lib.check(rc)
        has_tok = bool(lib.L.llm_model_tokenizer(m))
        p2 = os.path.join(tmp, "gpt2-tok.saved.gguf")
        lib.check(lib.L.llm_model_save(m, p2.encode()), m)
        rc, m2 = lib.load(p2)
        lib.check(rc)
        has_tok2 = bool(lib.L.llm_model_tokenizer(m2))
        print("%-58s %s" % ("embedded tokenizer loaded, saved and reloaded",
                            "ok" if has_tok and has_tok2 else "FAIL"))
        if not (has_tok and has_tok2):
            failures.append("embedded tokenizer")
        lib.L.llm_model_free(m2)
        lib.L.llm_model_free(m)
        if cli and has_tok:
            import json
            text = ("The cat sat on the mat because it was soft. " * 3 + "caf\u00e9 \u2603\n").encode()
            tf = os.path.join(tmp, "text.txt")
            with open(tf, "wb") as f:
                f.write(text)
            ids = llmref.byte_token_ids(text)
            for path_ in (p, p2):
                r = subprocess.run([cli, "eval", "--model", path_, "--file", tf, "--ctx", "24", "--json"],
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    print(r.stdout, r.stderr)
                    failures.append("eval --file")
                    continue
                res = json.loads(r.stdout)
                r_nll, r_n = ref_eval(lambda x: ref.forward(x), ids, 24, 24)
                want_bpb = r_nll / (math.log(2) * len(text))
                if res["tokens"] != len(ids) - 1:
                    failures.append("eval --file count")
                check("libllm eval --file (%s): loss and bpb" % os.path.basename(path_),
                      max(abs(res["loss"] - r_nll / r_n) / (r_nll / r_n),
                          abs(res["bpb"] - want_bpb) / want_bpb))

        # HF directory with tokenizer files (vocab.json + merges.txt, byte-level,
        # no merges) -> convert -> the GGUF carries the tokenizer -> eval --file.
        if cli:
            import json
            ref = llmref.GPT2Ref(V=300, T=32, C=32, L=2, NH=4, seed=32)
            d = os.path.join(tmp, "gpt2-hf-tok")
            llmref.write_hf_dir(d, ref)
            btoks, _ = llmref.gpt2_byte_tokens()
            with open(os.path.join(d, "vocab.json"), "w") as f:
                json.dump({t: i for i, t in enumerate(btoks + ["<|endoftext|>"])}, f)
            with open(os.path.join(d, "merges.txt"), "w") as f:
                f.write("#version: 0.2\n")
            out = os.path.join(tmp, "gpt2-hf-tok.gguf")
            r = subprocess.run([cli, "convert", d, out], capture_output=True, text=True)
            if r.returncode != 0 or "with tokenizer" not in r.stderr:
                print(r.stdout, r.stderr)
                failures.append("convert HF tokenizer")
            else:
                text = "Hello, world! The cat sat.\n".encode()
                tf = os.path.join(tmp, "hf.txt")
                with open(tf, "wb") as f:
                    f.write(text)
                r = subprocess.run([cli, "eval", "--model", out, "--file", tf, "--json"],
                                   capture_output=True, text=True)
                res = json.loads(r.stdout) if r.returncode == 0 else {"tokens": -1, "loss": 0, "bpb": 0}
                ids = llmref.byte_token_ids(text)
                r_nll, r_n = ref_eval(lambda x: ref.forward(x), ids, ref.T, ref.T)
                if res["tokens"] != len(ids) - 1:
                    failures.append("HF tokenizer count")
                check("HF dir + vocab.json/merges.txt -> convert -> eval --file",
                      max(abs(res["loss"] - r_nll / r_n) / (r_nll / r_n),
                          abs(res["bpb"] - r_nll / (math.log(2) * len(text))) / (r_nll / (math.log(2) * len(text)))))

        # llama2.c checkpoints (legacy untied, v1 tied) -> import -> logits.
        for version, tied, seed in ((0, False, 21), (1, True, 22), (0, True, 23)):
            ref = llmref.LlamaRef(V=71, T=32, C=32, L=2, NH=4, NKV=2, F=48, seed=seed, tied=tied)
            p = os.path.join(tmp, "l2c-%d-%d.bin" % (version, tied))
            llmref.write_llama2c(p, ref, version)
            m = ctypes.c_void_p()
            lib.check(lib.L.llm_model_import(ctypes.byref(m), p.encode(), None))
            ctx = lib.ctx(m)
            ids = np.random.default_rng(seed).integers(0, ref.V, size=(2, 13))
            check("llama2.c v%d %s: import -> logits" % (version, "tied" if tied else "untied"),
                  rel(lib.forward(ctx, ids, ref.V), ref.forward(torch.tensor(ids)).numpy()))
            lib.L.llm_ctx_free(ctx)
            lib.L.llm_model_free(m)
            # Truncated or padded checkpoints are refused, cleanly.
            data = open(p, "rb").read()
            bad = 0
            for cut in list(range(0, 300, 7)) + [len(data) - 4, len(data) - 1]:
                with open(p, "wb") as f:
                    f.write(data[:cut])
                mm = ctypes.c_void_p()
                rc = lib.L.llm_model_import(ctypes.byref(mm), p.encode(), None)
                bad += rc not in (-3, -4)
            with open(p, "wb") as f:
                f.write(data + b"\0\0\0\0")
            bad += lib.L.llm_model_import(ctypes.byref(mm), p.encode(), None) != -3
            print("%-58s %s" % ("llama2.c v%d: truncated/padded files refused" % version,
                                "ok" if not bad else "FAIL"))
            if bad:
                failures.append("llama2.c hostile")

        # llama2.c model + tokenizer.bin -> convert --tokenizer -> GGUF with a
        # SentencePiece tokenizer -> eval --file against a reference encoder.
        if cli:
            import json
            ref = llmref.LlamaRef(V=320, T=64, C=32, L=2, NH=4, NKV=2, F=48, seed=41)
            text = "The cat sat on the mat because it was soft. Zebra caf\u00e9"
            toks = llmref.spm_vocab(text, ref.V)
            pb, pt, out = (os.path.join(tmp, n) for n in ("sp.bin", "tokenizer.bin", "sp.gguf"))
            llmref.write_llama2c(pb, ref, 0)
            llmref.write_tokenizer_bin(pt, toks)
            r = subprocess.run([cli, "convert", pb, out, "--tokenizer", pt], capture_output=True, text=True)
            if r.returncode != 0:
                print(r.stdout, r.stderr)
                failures.append("convert --tokenizer")
            else:
                tf = os.path.join(tmp, "sp.txt")
                with open(tf, "wb") as f:
                    f.write(text.encode())
                r = subprocess.run([cli, "eval", "--model", out, "--file", tf, "--ctx", "16", "--json"],
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    print(r.stdout, r.stderr)
                    failures.append("eval --file spm")
                else:
                    res = json.loads(r.stdout)
                    ids = llmref.spm_encode(text, toks)
                    r_nll, r_n = ref_eval(lambda x: ref.forward(x), ids, 16, 16)
                    want_bpb = r_nll / (math.log(2) * len(text.encode()))
                    print("reference SentencePiece ids: %d tokens, libllm scored %d" % (len(ids), res["tokens"]))
                    if res["tokens"] != len(ids) - 1:
                        failures.append("spm token count")
                    check("llama2.c + tokenizer.bin -> convert -> eval --file",
                          max(abs(res["loss"] - r_nll / r_n) / (r_nll / r_n),
                              abs(res["bpb"] - want_bpb) / want_bpb))

        # A well-formed GGUF with a quantized (Q8_0) norm: only weight
        # matrices may be Q8_0 (tests/quant covers those), so it is refused
        # as unsupported, naming the tensor.
        ref = llmref.GPT2Ref(V=31, T=16, C=32, L=1, NH=2, seed=9)
        p = os.path.join(tmp, "q8.gguf")
        llmref.write_gguf(p, ref.gguf_kv(), ref.gguf_tensors(),
                          raw_types={"blk.0.attn_norm.weight": (8, 34)})
        rc, m = lib.load(p)
        msg = lib.L.llm_last_errmsg().decode()
        ok = rc == -4 and "blk.0.attn_norm.weight" in msg and "Q8_0" in msg
        print("%-58s %s" % ("Q8_0 norm refused as unsupported", "ok" if ok else "FAIL: %d %s" % (rc, msg)))
        if not ok:
            failures.append("q8_0")

        # Hostile safetensors: truncations and a corrupted header length.
        ref = llmref.GPT2Ref(V=31, T=16, C=16, L=1, NH=2, seed=9)
        d = os.path.join(tmp, "hostile-hf")
        llmref.write_hf_dir(d, ref)
        st = os.path.join(d, "model.safetensors")
        data = open(st, "rb").read()
        bad = 0
        cuts = list(range(0, 200)) + list(range(200, len(data), max(1, len(data) // 300)))
        for cut in cuts:
            with open(st, "wb") as f:
                f.write(data[:cut])
            mm = ctypes.c_void_p()
            rc = lib.L.llm_model_import(ctypes.byref(mm), d.encode(), None)
            bad += rc != -3
        for patch in (struct.pack("<Q", 2 ** 63), struct.pack("<Q", len(data))):
            with open(st, "wb") as f:
                f.write(patch + data[8:])
            bad += lib.L.llm_model_import(ctypes.byref(mm), d.encode(), None) != -3
        print("%-58s %s" % ("safetensors: %d truncations and bad header lengths refused" % len(cuts),
                            "ok" if not bad else "FAIL (%d)" % bad))
        if bad:
            failures.append("safetensors hostile")
    if failures:
        print("FAILED:", ", ".join(failures))
        sys.exit(1)
    print("all parity checks passed")


if __name__ == "__main__":
    main()
