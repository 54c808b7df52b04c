"""
test_quant.py - Q8_0 weights end to end, against independent oracles.

  (b) `libllm quantize` writes, tensor for tensor, the bytes of a numpy
      implementation of llama.cpp's reference Q8_0 quantizer (written here
      from formats.md 1.5: amax/127, x*(1/d) rounded half away from zero,
      d as IEEE fp16 by numpy's round-to-nearest-even), including crafted
      blocks (ties, zeros, fp16-subnormal, zero and large scales); which
      tensors are quantized follows llama.cpp (2-D matrices, not the
      position embedding); metadata (general.file_type 7) is checked.
  (c) Logits of the Q8_0 model match an independent float64 numpy forward
      that uses the dequantized weights and rounds each product's input
      rows through Q8_0 (llama.cpp's scheme); the F32 model matches it
      without rounding. For a model trained here on real text (KJV, or the
      GPL-3 text) the Q8_0 logits are close to the F32 ones and held-out
      perplexity differs by less than 1%.
  (d) A Q8_0 GGUF written by this script (its own writer) loads and gives
      exactly the logits of the file `libllm quantize` wrote; tensor_copy
      dequantizes it like numpy does.
  (e) Bad Q8_0 tensors (rows not a multiple of 32, data of the wrong size)
      are refused with LLM_ERR_BAD_FILE naming the tensor; Q8_0 norms with
      LLM_ERR_UNSUPPORTED; a trainer on a Q8_0 model with UNSUPPORTED.
  With llama.cpp's llama-quantize installed (LLAMACPP_DIR, default
  ~/.cache/libllm-llamacpp, see tests/bench/llamacpp_setup.sh) its Q8_0
  output must equal ours byte for byte, else that check is skipped.
  Also: every instruction-set level the CPU has (LLM_CPU=scalar|avx2|
  avx512, one subprocess each) gives the same logits within float
  rounding, and 1 and 2 threads give the same bits.

usage: /usr/bin/python3 test_quant.py libllm.so libllm-cli [TEXT...]
"""
import ctypes
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llmref  # noqa: E402

GGML_F32, GGML_Q8_0 = 0, 8
failures = []


def check(name, ok, detail=""):
    print("%-62s %s %s" % (name, "ok" if ok else "FAIL", detail))
    if not ok:
        failures.append(name)


def rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))

# ------------------------------------------------------------ Q8_0 in numpy


def q8_quantize(a):
    """float32 (rows, cols) -> Q8_0 bytes, llama.cpp's quantize_row_q8_0_ref."""
    a = np.ascontiguousarray(a, dtype=np.float32)
    assert a.shape[-1] % 32 == 0
    blk = a.reshape(-1, 32)
    amax = np.max(np.abs(blk), axis=1)                        # float32, exact
    d = (amax / np.float32(127)).astype(np.float32)           # one float32 division
    with np.errstate(divide="ignore"):
        idv = np.where(d != 0, np.float32(1) / d, np.float32(0)).astype(np.float32)
    v = (blk * idv[:, None]).astype(np.float32)               # float32 product
    v64 = v.astype(np.float64)
    q = np.sign(v64) * np.floor(np.abs(v64) + 0.5)            # roundf: half away from zero
    out = np.zeros(blk.shape[0], dtype=[("d", "<f2"), ("q", "i1", 32)])
    out["d"] = d.astype(np.float16)                           # IEEE round to nearest even
    out["q"] = q.astype(np.int8)
    return out.tobytes()


def q8_dequantize(raw, shape):
    b = np.frombuffer(raw, dtype=[("d", "<f2"), ("q", "i1", 32)])
    return (b["d"].astype(np.float32)[:, None] * b["q"].astype(np.float32)).reshape(shape)


def crafted_rows(cols, rng):
    """Rows that exercise the corners of the quantizer."""
    rows = []
    r = np.zeros(cols, np.float32)                    # all-zero blocks: d = 0, q = 0
    rows.append(r)
    r = np.zeros(cols, np.float32)
    r[0::32] = 127.0                                  # d = 1 exactly: x*id = x, ties at .5
    for j in range(1, 32):
        r[j::32] = (j - 16) + 0.5
    rows.append(r)
    rows.append((rng.standard_normal(cols) * 1e-6).astype(np.float32))   # fp16-subnormal d
    rows.append((rng.standard_normal(cols) * 3e-9).astype(np.float32))   # d rounds to 0 in fp16
    rows.append((rng.standard_normal(cols) * 1e6).astype(np.float32))    # large d (~2e4) in fp16
    r = rng.standard_normal(cols).astype(np.float32)
    r[5::32] = -np.abs(r[5::32]) * 40                 # negative amax
    rows.append(r)
    return np.stack(rows)

# ------------------------------------------------------------ GGUF (own writer / reader)


def write_gguf_q8(path, kv, tensors, q8_names):
    """GGUF v3 with the named 2-D tensors stored as Q8_0 (numpy quantizer),
    alignment 32, ggml's packing (an independent writer)."""
    def s(x):
        b = x.encode()
        return struct.pack("<Q", len(b)) + b
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kv) + 2))
    for key, typ, val in kv + [("general.file_type", "u32", 7),
                               ("general.quantization_version", "u32", 2)]:
        out += s(key)
        if typ == "str":
            out += struct.pack("<I", 8) + s(val)
        elif typ == "u32":
            out += struct.pack("<II", 4, val)
        elif typ == "f32":
            out += struct.pack("<If", 6, val)
        else:
            raise ValueError(typ)
    blobs, off = [], 0
    for name, a in tensors:
        if name in q8_names:
            data, tt = q8_quantize(a), GGML_Q8_0
        else:
            data, tt = a.astype("<f4").tobytes(), GGML_F32
        dims = list(reversed(a.shape))
        out += s(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", tt, off)
        pad = (-len(data)) % 32
        blobs.append(data + b"\0" * pad)
        off += len(data) + pad
    out += b"\0" * ((-len(out)) % 32)
    for b in blobs:
        out += b
    with open(path, "wb") as f:
        f.write(out)


def read_gguf(path):
    """llmref's strict GGUF reader, for F32/Q8_0 files only:
    (kv {key: value}, {name: (type, ne, bytes)})."""
    kv, infos, start, _, b = llmref.read_gguf(path)
    out = {}
    for name, ne, t, off in infos:
        assert t in (GGML_F32, GGML_Q8_0), (name, t)
        out[name] = (t, ne, b[start + off:start + off + llmref.tensor_nbytes(ne, t)])
    return {k: v for k, (_, v) in kv.items()}, out

# ------------------------------------------------------------ libllm via ctypes


def open_lib(path):
    lib = llmref.Lib(path)
    L = lib.L
    vp = ctypes.c_void_p
    L.llm_model_tensor_type.argtypes = [ctypes.POINTER(ctypes.c_uint32), vp, ctypes.c_char_p]
    L.llm_model_tensor_type.restype = ctypes.c_int
    L.llm_model_tensor_copy.argtypes = [ctypes.POINTER(ctypes.c_float), ctypes.c_size_t,
                                        ctypes.POINTER(ctypes.c_size_t), vp, ctypes.c_char_p]
    L.llm_model_tensor_copy.restype = ctypes.c_int
    L.llm_trainer_create.argtypes = [ctypes.POINTER(vp), vp, vp]
    L.llm_trainer_create.restype = ctypes.c_int
    L.llm_model_quantize.argtypes = [ctypes.c_char_p, ctypes.c_char_p, vp]
    L.llm_model_quantize.restype = ctypes.c_int
    return lib


def logits_of(lib, path, ids, V, threads=1):
    rc, m = lib.load(path)
    lib.check(rc)
    ctx = lib.ctx(m, n_ctx=ids.shape[1], n_batch=ids.size, n_threads=threads)
    full = lib.forward(ctx, ids, V)
    lib.check(lib.L.llm_ctx_reset(ctx), ctx)
    dec = np.stack([lib.decode(ctx, [int(t)], V) for t in ids[0]])
    lib.L.llm_ctx_free(ctx)
    lib.L.llm_model_free(m)
    return full, dec


def isa_child(libpath, model, ids_path, out_path, V):
    """Subprocess body: logits with the LLM_CPU level of the environment."""
    lib = open_lib(libpath)
    ids = np.load(ids_path)
    full, dec = logits_of(lib, model, ids, V)
    np.save(out_path, np.concatenate([full.reshape(-1), dec.reshape(-1)]))


def cpu_levels():
    flags = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
    levels = ["scalar"]
    if " avx2" in flags and " fma" in flags:
        levels.append("avx2")
    if all(" " + f in flags for f in ("avx512f", "avx512bw", "avx512vl", "avx512dq")):
        levels.append("avx512")
    return levels

# ------------------------------------------------------------ the checks


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "--isa-child":
        isa_child(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]))
        return 0
    libpath, cli = sys.argv[1], sys.argv[2]
    texts = [t for t in sys.argv[3:] if os.path.isfile(t) and os.path.getsize(t) > 20000]
    lib = open_lib(libpath)
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as tmp:
        # ---- (b) byte-exact quantization of a GPT-2 and a Llama model
        for name, ref in [("gpt2", llmref.GPT2Ref(V=96, T=32, C=64, L=2, NH=4, seed=3)),
                          ("llama", llmref.LlamaRef(V=80, T=32, C=64, L=2, NH=4, NKV=2, F=96,
                                                    seed=4))]:
            tensors = ref.gguf_tensors()
            te = dict(tensors)["token_embd.weight"]
            cr = crafted_rows(te.shape[1], rng)
            te[:cr.shape[0]] = cr            # crafted rows in the token embedding
            f32 = os.path.join(tmp, name + "-f32.gguf")
            q8 = os.path.join(tmp, name + "-q8.gguf")
            llmref.write_gguf(f32, ref.gguf_kv(), tensors)
            r = subprocess.run([cli, "quantize", f32, q8, "--type", "q8_0", "--json"],
                               capture_output=True, text=True)
            check("%s: libllm quantize exits 0" % name, r.returncode == 0, r.stderr.strip())
            if r.returncode:
                continue
            info = json.loads(r.stdout)
            kv, got = read_gguf(q8)
            want_q8 = {n for n, a in tensors if a.ndim == 2 and n != "position_embd.weight"}
            bad = []
            for n, a in tensors:
                t, ne, data = got[n]
                if n in want_q8:
                    if t != GGML_Q8_0 or data != q8_quantize(a):
                        bad.append(n)
                elif t != GGML_F32 or data != a.astype("<f4").tobytes():
                    bad.append(n)
            check("%s: Q8_0 bytes == numpy reference quantizer (%d matrices)" % (name, len(want_q8)),
                  not bad and set(got) == {n for n, _ in tensors}, str(bad[:3]))
            check("%s: file_type 7, quantization_version 2, sizes reported" % name,
                  kv.get("general.file_type") == 7 and kv.get("general.quantization_version") == 2
                  and info["bytes_out"] == os.path.getsize(q8))
            # llama.cpp's own quantizer, when installed (tests/bench/
            # llamacpp_setup.sh): the same bytes in every tensor
            lq = os.path.join(os.environ.get("LLAMACPP_DIR", os.path.expanduser(
                "~/.cache/libllm-llamacpp")), "bin", "llama-quantize")
            if os.access(lq, os.X_OK):
                ours = os.path.join(tmp, name + "-llamacpp.gguf")
                r = subprocess.run([lq, f32, ours, "Q8_0"], capture_output=True, text=True)
                check("%s: llama-quantize writes the same tensors, byte for byte" % name,
                      r.returncode == 0 and read_gguf(ours)[1] == got)
            else:
                print("%-62s skipped (no %s)" % ("%s: llama.cpp's llama-quantize" % name, lq))
            # (d) our own Q8_0 writer: same logits, bit for bit
            own = os.path.join(tmp, name + "-own.gguf")
            write_gguf_q8(own, ref.gguf_kv(), tensors, want_q8)
            ids = rng.integers(0, ref.V, size=(2, 17))
            a_full, a_dec = logits_of(lib, q8, ids, ref.V)
            b_full, b_dec = logits_of(lib, own, ids, ref.V)
            check("%s: numpy-written Q8_0 GGUF gives identical logits" % name,
                  np.array_equal(a_full, b_full) and np.array_equal(a_dec, b_dec))
            # threads do not change the bits
            c_full, c_dec = logits_of(lib, q8, ids, ref.V, threads=2)
            check("%s: 2 threads give the same bits as 1" % name,
                  np.array_equal(a_full, c_full) and np.array_equal(a_dec, c_dec))
            check("%s: decode through the KV cache == forward" % name,
                  rel(a_dec, a_full[0]) < 1e-4, "%.2e" % rel(a_dec, a_full[0]))
            # (c) against PyTorch in float64 with the dequantized weights
            deq = {n: (q8_dequantize(q8_quantize(a), a.shape) if n in want_q8 else a)
                   for n, a in tensors}
            want = np_forward(ref, deq, ids, want_q8)
            e = rel(a_full, want)
            check("%s: Q8_0 logits vs float64 numpy, Q8_0 weights and activations" % name,
                  e < 1e-3, "rel %.2e" % e)
            # the F32 path against the same reference without quantization
            f_full, _ = logits_of(lib, f32, ids, ref.V)
            e2 = rel(f_full, np_forward(ref, dict(tensors), ids, set()))
            check("%s: F32 logits vs the same float64 reference" % name, e2 < 1e-4,
                  "rel %.2e" % e2)
            # tensor queries on the Q8_0 model
            rc, m = lib.load(q8)
            lib.check(rc)
            ty = ctypes.c_uint32()
            lib.check(lib.L.llm_model_tensor_type(ctypes.byref(ty), m, b"token_embd.weight"), m)
            t8 = ty.value
            lib.check(lib.L.llm_model_tensor_type(ctypes.byref(ty), m, b"output_norm.weight"), m)
            buf = np.zeros(te.size, np.float32)
            need = ctypes.c_size_t()
            lib.check(lib.L.llm_model_tensor_copy(buf.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                                                  buf.size, ctypes.byref(need), m,
                                                  b"token_embd.weight"), m)
            check("%s: tensor_type Q8_0/F32, tensor_copy dequantizes as numpy" % name,
                  t8 == 8 and ty.value == 0 and np.array_equal(buf.reshape(te.shape),
                                                               deq["token_embd.weight"]))
            p = ctypes.POINTER(ctypes.c_float)()
            n = ctypes.c_size_t()
            rc = lib.L.llm_model_tensor_data(ctypes.byref(p), ctypes.byref(n), m, b"token_embd.weight")
            check("%s: tensor_data refuses a Q8_0 tensor" % name, rc == -4)
            tr = ctypes.c_void_p()
            rc = lib.L.llm_trainer_create(ctypes.byref(tr), m, None)
            msg = lib.L.llm_last_errmsg().decode()
            check("%s: trainer on a Q8_0 model: LLM_ERR_UNSUPPORTED" % name,
                  rc == -4 and "Q8_0" in msg and not tr.value, msg)
            lib.L.llm_model_free(m)
            # re-quantizing a Q8_0 file copies it unchanged; saving keeps Q8_0
            q8b = os.path.join(tmp, name + "-q8b.gguf")
            rc = lib.L.llm_model_quantize(q8.encode(), q8b.encode(), None)
            check("%s: quantize of a Q8_0 file keeps its bytes" % name,
                  rc == 0 and read_gguf(q8b)[1] == got)
            # every instruction-set level of this CPU: same logits within rounding
            ids_path = os.path.join(tmp, "ids.npy")
            np.save(ids_path, ids)
            outs = {}
            for lv in cpu_levels():
                o = os.path.join(tmp, "isa-%s.npy" % lv)
                env = dict(os.environ, LLM_CPU=lv)
                r = subprocess.run([sys.executable, os.path.abspath(__file__), "--isa-child",
                                    libpath, q8, ids_path, o, str(ref.V)], env=env,
                                   capture_output=True, text=True)
                if r.returncode == 0:
                    outs[lv] = np.load(o)
                else:
                    print(r.stdout, r.stderr)
            errs = {lv: rel(v, outs["scalar"]) for lv, v in outs.items() if "scalar" in outs}
            check("%s: ISA levels %s agree with the scalar kernels" % (name, "/".join(outs)),
                  len(outs) == len(cpu_levels()) and max(errs.values()) < 1e-5,
                  " ".join("%s %.1e" % kv_ for kv_ in errs.items()))

        # ---- (e) malformed Q8_0 tensors
        ref = llmref.GPT2Ref(V=40, T=16, C=64, L=1, NH=2, seed=5)
        tensors = ref.gguf_tensors()
        bad_cases = []
        # rows of 48 values are not whole blocks: written by hand with a
        # width-48 embedding in a model whose n_embd is 48
        ref48 = llmref.GPT2Ref(V=40, T=16, C=48, L=1, NH=2, seed=5)
        p = os.path.join(tmp, "cols48.gguf")
        write_raw_q8(p, ref48.gguf_kv(), ref48.gguf_tensors(), "blk.0.ffn_up.weight", 34)
        bad_cases.append(("cols not a multiple of 32", p, "blk.0.ffn_up.weight", -3))
        # data 32 bytes per block instead of 34: the next offset disagrees
        p = os.path.join(tmp, "short.gguf")
        write_raw_q8(p, ref.gguf_kv(), tensors, "blk.0.attn_qkv.weight", 32)
        bad_cases.append(("data of the wrong size", p, "blk.0.attn_qkv.weight", -3))
        # the last tensor truncated
        p = os.path.join(tmp, "trunc.gguf")
        q8n = {n for n, a in tensors if a.ndim == 2 and n != "position_embd.weight"}
        write_gguf_q8(p, ref.gguf_kv(), tensors, q8n)
        raw = open(p, "rb").read()
        open(p, "wb").write(raw[:-200])
        bad_cases.append(("file truncated inside Q8_0 data", p, "output_norm.bias", -3))
        p = os.path.join(tmp, "norm.gguf")
        write_raw_q8(p, ref.gguf_kv(), tensors, "blk.0.ffn_norm.weight", 34)
        bad_cases.append(("Q8_0 norm", p, "blk.0.ffn_norm.weight", -4))
        for what, p, tname, want_rc in bad_cases:
            rc, m = lib.load(p)
            msg = lib.L.llm_last_errmsg().decode()
            check("bad Q8_0 (%s): status %d naming the tensor" % (what, want_rc),
                  rc == want_rc and tname in msg, "%d %s" % (rc, msg))
            if rc == 0:
                lib.L.llm_model_free(m)

        # ---- the command line: usage errors exit 2, failures 1
        rs = [subprocess.run([cli, "quantize"] + a, capture_output=True, text=True)
              for a in (["x.gguf"], ["a", "b", "--type", "q4_0"], ["a", "b", "--bogus"],
                        [os.path.join(tmp, "missing.gguf"), os.path.join(tmp, "o.gguf")])]
        check("libllm quantize: exit 2 on bad usage, 1 with a message on failure",
              [r.returncode for r in rs] == [2, 2, 2, 1] and "missing.gguf" in rs[3].stderr
              and not os.path.exists(os.path.join(tmp, "o.gguf")),
              str([r.returncode for r in rs]))

        # ---- (c) perplexity of a trained model on real text, F32 vs Q8_0
        if not texts:
            check("perplexity: a text of >= 20 kB to train on", False)
        else:
            ppl_check(lib, cli, texts[0], tmp)
    if failures:
        print("FAILED: %s" % ", ".join(failures))
        return 1
    print("test_quant: all ok")
    return 0


def write_raw_q8(path, kv, tensors, name, per_block):
    """GGUF with tensor `name` typed Q8_0 and `per_block` bytes per 32
    values (34 is right) of zeros; the rest F32."""
    llmref.write_gguf(path, kv, tensors, raw_types={name: (GGML_Q8_0, per_block)})


def np_forward(ref, W, ids, qnames):
    """Independent float64 forward (numpy, GGUF layout and names, math.md):
    GPT-2 or Llama with interleaved RoPE. W: name -> float32 array (Q8_0
    matrices already dequantized); a product with a matrix in qnames first
    rounds its input rows through Q8_0 (numpy quantizer), as llama.cpp's
    and libllm's integer products do."""
    B, T = ids.shape
    W = {n: a.astype(np.float64) for n, a in W.items()}

    def lin(h, name, bias=None):
        if name in qnames:
            h32 = np.ascontiguousarray(h, dtype=np.float32)
            h = q8_dequantize(q8_quantize(h32.reshape(-1, h.shape[-1])), h32.shape).astype(np.float64)
        y = h @ W[name].T
        return y + W[bias] if bias else y

    def softmax(z):
        z = z - z.max(-1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(-1, keepdims=True)

    def attend(q, k, v, NH, NKV):  # (B,T,NH,D), (B,T,NKV,D) -> (B,T,NH*D)
        D = q.shape[-1]
        k = np.repeat(k, NH // NKV, axis=2)
        v = np.repeat(v, NH // NKV, axis=2)
        s = np.einsum("bthd,bshd->bhts", q, k) / np.sqrt(D)
        s = s + np.triu(np.full((T, T), -np.inf), 1)
        return np.einsum("bhts,bshd->bthd", softmax(s), v).reshape(B, T, NH * D)

    if isinstance(ref, llmref.GPT2Ref):
        C, NH = ref.C, ref.NH

        def ln(x, g, b):
            mu = x.mean(-1, keepdims=True)
            var = ((x - mu) ** 2).mean(-1, keepdims=True)
            return (x - mu) / np.sqrt(var + ref.eps) * W[g] + W[b]
        x = W["token_embd.weight"][ids] + W["position_embd.weight"][:T]
        for l in range(ref.L):
            b = "blk.%d." % l
            h = ln(x, b + "attn_norm.weight", b + "attn_norm.bias")
            qkv = lin(h, b + "attn_qkv.weight", b + "attn_qkv.bias")
            q, k, v = (qkv[..., i * C:(i + 1) * C].reshape(B, T, NH, C // NH) for i in range(3))
            x = x + lin(attend(q, k, v, NH, NH), b + "attn_output.weight", b + "attn_output.bias")
            h = ln(x, b + "ffn_norm.weight", b + "ffn_norm.bias")
            u = lin(h, b + "ffn_up.weight", b + "ffn_up.bias")
            u = 0.5 * u * (1 + np.tanh(np.sqrt(2 / np.pi) * (u + 0.044715 * u ** 3)))
            x = x + lin(u, b + "ffn_down.weight", b + "ffn_down.bias")
        x = ln(x, "output_norm.weight", "output_norm.bias")
        return lin(x, "token_embd.weight")
    C, NH, NKV = ref.C, ref.NH, ref.NKV
    D = C // NH

    def rms(x, g):
        return x / np.sqrt((x ** 2).mean(-1, keepdims=True) + ref.eps) * W[g]

    ang = np.arange(T)[:, None] * ref.theta ** (-np.arange(0, D, 2) / D)[None, :]  # (T, D/2)
    cos, sin = np.cos(ang)[None, :, None, :], np.sin(ang)[None, :, None, :]

    def rope(t):  # interleaved pairs (2i, 2i+1), GGUF's row order
        a, b_ = t[..., 0::2], t[..., 1::2]
        out = np.empty_like(t)
        out[..., 0::2] = a * cos - b_ * sin
        out[..., 1::2] = a * sin + b_ * cos
        return out
    x = W["token_embd.weight"][ids]
    for l in range(ref.L):
        b = "blk.%d." % l
        h = rms(x, b + "attn_norm.weight")
        q = rope(lin(h, b + "attn_q.weight").reshape(B, T, NH, D))
        k = rope(lin(h, b + "attn_k.weight").reshape(B, T, NKV, D))
        v = lin(h, b + "attn_v.weight").reshape(B, T, NKV, D)
        x = x + lin(attend(q, k, v, NH, NKV), b + "attn_output.weight")
        h = rms(x, b + "ffn_norm.weight")
        g = lin(h, b + "ffn_gate.weight")
        x = x + lin(g / (1 + np.exp(-g)) * lin(h, b + "ffn_up.weight"), b + "ffn_down.weight")
    x = rms(x, "output_norm.weight")
    return lin(x, "token_embd.weight" if ref.tied else "output.weight")


def ppl_check(lib, cli, text, tmp):
    """Train a small byte-level GPT-2 on the text, quantize it, and compare
    held-out perplexities (`libllm eval` on byte ids)."""
    data = open(text, "rb").read()
    cut = len(data) - 16000
    train_p, held_p = os.path.join(tmp, "train.txt"), os.path.join(tmp, "held.txt")
    open(train_p, "wb").write(data[:cut])
    open(held_p, "w").write(" ".join(str(b) for b in data[cut:]))
    m32, m8 = os.path.join(tmp, "t-f32.gguf"), os.path.join(tmp, "t-q8.gguf")
    r = subprocess.run([cli, "train", "--config", "gpt2", "--n-layer", "2", "--n-embd", "64",
                        "--n-head", "4", "--seq", "64", "--batch", "8", "--steps", "300",
                        "--lr", "3e-3", "--warmup", "20", "--threads", "2", "--data", train_p,
                        "--out", m32, "--quiet"], capture_output=True, text=True)
    check("perplexity: trained a byte-level GPT-2 on %s" % os.path.basename(text),
          r.returncode == 0, "exit %d: %s" % (r.returncode, r.stderr.strip()[-200:]))
    if r.returncode:
        return
    r = subprocess.run([cli, "quantize", m32, m8], capture_output=True, text=True)
    check("perplexity: quantized the trained model", r.returncode == 0, r.stderr.strip())
    held = np.frombuffer(data[cut:cut + 4 * 64], np.uint8).astype(np.int64).reshape(4, 64)
    a, _ = logits_of(lib, m32, held, 256)
    b, _ = logits_of(lib, m8, held, 256)
    pa = np.exp(a - a.max(-1, keepdims=True))
    pa /= pa.sum(-1, keepdims=True)
    pb = np.exp(b - b.max(-1, keepdims=True))
    pb /= pb.sum(-1, keepdims=True)
    tvs = 0.5 * np.abs(pa - pb).sum(-1)
    tv, tv_mean = tvs.max(), tvs.mean()
    # The model is trained here, so these move with every change to the
    # training arithmetic; the bounds are about 2x what runs give (max TV
    # 0.9e-2 to 1.1e-2 over 256 positions, mean 2.5e-3). The criterion of
    # issue #10 is the perplexity below.
    check("trained model: Q8_0 logits close to F32 (rel, max and mean TV of softmax)",
          rel(b, a) < 2e-2 and tv < 2.5e-2 and tv_mean < 5e-3,
          "rel %.2e TV max %.2e mean %.2e" % (rel(b, a), tv, tv_mean))
    res = {}
    for tag, mp in (("f32", m32), ("q8", m8)):
        r = subprocess.run([cli, "eval", "--model", mp, "--tokens", held_p, "--ctx", "64",
                            "--json", "--quiet", "--threads", "2"], capture_output=True, text=True)
        if r.returncode == 0:
            res[tag] = json.loads(r.stdout)
        else:
            print(r.stderr)
    if len(res) == 2:
        d = abs(res["q8"]["ppl"] - res["f32"]["ppl"]) / res["f32"]["ppl"]
        check("perplexity on held-out text: |Q8_0 - F32| / F32 < 1%",
              d < 0.01 and res["f32"]["ppl"] < 20,
              "F32 %.4f Q8_0 %.4f (%.3f%%)" % (res["f32"]["ppl"], res["q8"]["ppl"], 100 * d))
    else:
        check("perplexity: libllm eval ran on both models", False)


if __name__ == "__main__":
    sys.exit(main())
