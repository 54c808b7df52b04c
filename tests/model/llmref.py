"""
llmref.py - independent PyTorch references for the model-core tests.

Small GPT-2 and Llama modules written from the published math (math.md,
formats.md) in Hugging Face's parameter layouts: GPT-2 Conv1D weights are
(in, out) and Llama uses rotate-half RoPE on un-permuted q/k rows. The
helpers turn their state dicts into GGUF files (our own writer, following
the GGUF v3 spec and ggml's layout rules) or HF safetensors directories,
and a thin ctypes wrapper drives libllm.so. Run with /usr/bin/python3.
"""
import ctypes
import json
import math
import os
import struct

import numpy as np
import torch

# ---------------------------------------------------------------- models


def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


class GPT2Ref:
    """HF GPT2LMHeadModel math with HF names; weights float64 for the reference."""

    def __init__(self, V, T, C, L, NH, seed, std=0.2):
        g = torch.Generator().manual_seed(seed)
        r = lambda *s, sd=std: torch.randn(*s, generator=g, dtype=torch.float64) * sd
        self.V, self.T, self.C, self.L, self.NH = V, T, C, L, NH
        self.eps = 1e-5
        sd = {"transformer.wte.weight": r(V, C), "transformer.wpe.weight": r(T, C)}
        for l in range(L):
            p = "transformer.h.%d." % l
            sd[p + "ln_1.weight"] = 1 + r(C, sd=0.1)
            sd[p + "ln_1.bias"] = r(C, sd=0.1)
            sd[p + "attn.c_attn.weight"] = r(C, 3 * C)  # Conv1D: (in, out)
            sd[p + "attn.c_attn.bias"] = r(3 * C, sd=0.1)
            sd[p + "attn.c_proj.weight"] = r(C, C)
            sd[p + "attn.c_proj.bias"] = r(C, sd=0.1)
            sd[p + "ln_2.weight"] = 1 + r(C, sd=0.1)
            sd[p + "ln_2.bias"] = r(C, sd=0.1)
            sd[p + "mlp.c_fc.weight"] = r(C, 4 * C)
            sd[p + "mlp.c_fc.bias"] = r(4 * C, sd=0.1)
            sd[p + "mlp.c_proj.weight"] = r(4 * C, C)
            sd[p + "mlp.c_proj.bias"] = r(C, sd=0.1)
        sd["transformer.ln_f.weight"] = 1 + r(C, sd=0.1)
        sd["transformer.ln_f.bias"] = r(C, sd=0.1)
        # Round to float32 once: libllm computes with exactly these values.
        self.sd = {k: v.float().double() for k, v in sd.items()}
        self.att = {}  # layer -> attention probabilities (B, NH, T, T) of the last forward

    def forward(self, ids):  # ids: (B, T) long -> logits (B, T, V) float64
        sd, C, NH = self.sd, self.C, self.NH
        D = C // NH
        B, T = ids.shape
        x = sd["transformer.wte.weight"][ids] + sd["transformer.wpe.weight"][:T]
        mask = torch.full((T, T), float("-inf"), dtype=torch.float64).triu(1)
        ln = lambda x, w, b: torch.nn.functional.layer_norm(x, (C,), w, b, self.eps)
        for l in range(self.L):
            p = "transformer.h.%d." % l
            h = ln(x, sd[p + "ln_1.weight"], sd[p + "ln_1.bias"])
            qkv = h @ sd[p + "attn.c_attn.weight"] + sd[p + "attn.c_attn.bias"]
            q, k, v = qkv.split(C, dim=-1)
            q = q.view(B, T, NH, D).transpose(1, 2)
            k = k.view(B, T, NH, D).transpose(1, 2)
            v = v.view(B, T, NH, D).transpose(1, 2)
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D) + mask, dim=-1)
            self.att[l] = att
            o = (att @ v).transpose(1, 2).reshape(B, T, C)
            x = x + o @ sd[p + "attn.c_proj.weight"] + sd[p + "attn.c_proj.bias"]
            h = ln(x, sd[p + "ln_2.weight"], sd[p + "ln_2.bias"])
            h = gelu_tanh(h @ sd[p + "mlp.c_fc.weight"] + sd[p + "mlp.c_fc.bias"])
            x = x + h @ sd[p + "mlp.c_proj.weight"] + sd[p + "mlp.c_proj.bias"]
        x = ln(x, sd["transformer.ln_f.weight"], sd["transformer.ln_f.bias"])
        return x @ sd["transformer.wte.weight"].T

    def gguf_tensors(self):
        """(name, float32 numpy array in row-major (out, in)) in llama.cpp naming."""
        sd = self.sd
        out = [("token_embd.weight", sd["transformer.wte.weight"]),
               ("position_embd.weight", sd["transformer.wpe.weight"])]
        for l in range(self.L):
            p, b = "transformer.h.%d." % l, "blk.%d." % l
            out += [(b + "attn_norm.weight", sd[p + "ln_1.weight"]),
                    (b + "attn_norm.bias", sd[p + "ln_1.bias"]),
                    (b + "attn_qkv.weight", sd[p + "attn.c_attn.weight"].T),
                    (b + "attn_qkv.bias", sd[p + "attn.c_attn.bias"]),
                    (b + "attn_output.weight", sd[p + "attn.c_proj.weight"].T),
                    (b + "attn_output.bias", sd[p + "attn.c_proj.bias"]),
                    (b + "ffn_norm.weight", sd[p + "ln_2.weight"]),
                    (b + "ffn_norm.bias", sd[p + "ln_2.bias"]),
                    (b + "ffn_up.weight", sd[p + "mlp.c_fc.weight"].T),
                    (b + "ffn_up.bias", sd[p + "mlp.c_fc.bias"]),
                    (b + "ffn_down.weight", sd[p + "mlp.c_proj.weight"].T),
                    (b + "ffn_down.bias", sd[p + "mlp.c_proj.bias"])]
        out += [("output_norm.weight", sd["transformer.ln_f.weight"]),
                ("output_norm.bias", sd["transformer.ln_f.bias"])]
        return [(n, t.float().contiguous().numpy()) for n, t in out]

    def gguf_kv(self):
        return [("general.architecture", "str", "gpt2"),
                ("gpt2.context_length", "u32", self.T),
                ("gpt2.embedding_length", "u32", self.C),
                ("gpt2.block_count", "u32", self.L),
                ("gpt2.feed_forward_length", "u32", 4 * self.C),
                ("gpt2.attention.head_count", "u32", self.NH),
                ("gpt2.attention.layer_norm_epsilon", "f32", self.eps)]

    def hf_config(self):
        return {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
                "vocab_size": self.V, "n_positions": self.T, "n_ctx": self.T,
                "n_embd": self.C, "n_layer": self.L, "n_head": self.NH,
                "layer_norm_epsilon": self.eps, "activation_function": "gelu_new"}


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class LlamaRef:
    """HF LlamaForCausalLM math (rotate-half RoPE, repeat_kv) with HF names."""

    def __init__(self, V, T, C, L, NH, NKV, F, seed, tied=False, qkv_bias=False,
                 theta=10000.0, eps=1e-5, std=0.2):
        g = torch.Generator().manual_seed(seed)
        r = lambda *s, sd=std: torch.randn(*s, generator=g, dtype=torch.float64) * sd
        self.V, self.T, self.C, self.L, self.NH, self.NKV, self.F = V, T, C, L, NH, NKV, F
        self.tied, self.qkv_bias, self.theta, self.eps = tied, qkv_bias, theta, eps
        D = C // NH
        sd = {"model.embed_tokens.weight": r(V, C)}
        for l in range(L):
            p = "model.layers.%d." % l
            sd[p + "input_layernorm.weight"] = 1 + r(C, sd=0.1)
            sd[p + "self_attn.q_proj.weight"] = r(NH * D, C)
            sd[p + "self_attn.k_proj.weight"] = r(NKV * D, C)
            sd[p + "self_attn.v_proj.weight"] = r(NKV * D, C)
            if qkv_bias:
                sd[p + "self_attn.q_proj.bias"] = r(NH * D, sd=0.1)
                sd[p + "self_attn.k_proj.bias"] = r(NKV * D, sd=0.1)
                sd[p + "self_attn.v_proj.bias"] = r(NKV * D, sd=0.1)
            sd[p + "self_attn.o_proj.weight"] = r(C, NH * D)
            sd[p + "post_attention_layernorm.weight"] = 1 + r(C, sd=0.1)
            sd[p + "mlp.gate_proj.weight"] = r(F, C)
            sd[p + "mlp.up_proj.weight"] = r(F, C)
            sd[p + "mlp.down_proj.weight"] = r(C, F)
        sd["model.norm.weight"] = 1 + r(C, sd=0.1)
        if not tied:
            sd["lm_head.weight"] = r(V, C)
        self.sd = {k: v.float().double() for k, v in sd.items()}
        self.att = {}  # layer -> attention probabilities (B, NH, T, T) of the last forward

    def forward(self, ids):
        sd, C, NH, NKV = self.sd, self.C, self.NH, self.NKV
        D = C // NH
        B, T = ids.shape
        x = sd["model.embed_tokens.weight"][ids]
        inv = 1.0 / (self.theta ** (torch.arange(0, D, 2, dtype=torch.float64) / D))
        ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
        emb = torch.cat((ang, ang), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        mask = torch.full((T, T), float("-inf"), dtype=torch.float64).triu(1)

        def rms(x, w):
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * w

        for l in range(self.L):
            p = "model.layers.%d." % l
            h = rms(x, sd[p + "input_layernorm.weight"])
            lin = lambda n: h @ sd[p + n + ".weight"].T + (sd[p + n + ".bias"] if self.qkv_bias else 0)
            q = lin("self_attn.q_proj").view(B, T, NH, D).transpose(1, 2)
            k = lin("self_attn.k_proj").view(B, T, NKV, D).transpose(1, 2)
            v = lin("self_attn.v_proj").view(B, T, NKV, D).transpose(1, 2)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            k = k.repeat_interleave(NH // NKV, dim=1)
            v = v.repeat_interleave(NH // NKV, dim=1)
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D) + mask, dim=-1)
            self.att[l] = att
            o = (att @ v).transpose(1, 2).reshape(B, T, C)
            x = x + o @ sd[p + "self_attn.o_proj.weight"].T
            h = rms(x, sd[p + "post_attention_layernorm.weight"])
            a = h @ sd[p + "mlp.gate_proj.weight"].T
            u = h @ sd[p + "mlp.up_proj.weight"].T
            x = x + (torch.nn.functional.silu(a) * u) @ sd[p + "mlp.down_proj.weight"].T
        x = rms(x, sd["model.norm.weight"])
        head = sd["model.embed_tokens.weight"] if self.tied else sd["lm_head.weight"]
        return x @ head.T

    @staticmethod
    def permute(w, n_head):
        """HF rotate-half rows -> GGUF interleaved rows (formats.md 2.5)."""
        shape = w.shape
        return (w.reshape(n_head, 2, shape[0] // n_head // 2, *shape[1:])
                .swapaxes(1, 2).reshape(shape))

    def gguf_tensors(self):
        sd = self.sd
        out = [("token_embd.weight", sd["model.embed_tokens.weight"])]
        for l in range(self.L):
            p, b = "model.layers.%d." % l, "blk.%d." % l
            out += [(b + "attn_norm.weight", sd[p + "input_layernorm.weight"]),
                    (b + "attn_q.weight", self.permute(sd[p + "self_attn.q_proj.weight"], self.NH)),
                    (b + "attn_k.weight", self.permute(sd[p + "self_attn.k_proj.weight"], self.NKV)),
                    (b + "attn_v.weight", sd[p + "self_attn.v_proj.weight"])]
            if self.qkv_bias:
                out += [(b + "attn_q.bias", self.permute(sd[p + "self_attn.q_proj.bias"], self.NH)),
                        (b + "attn_k.bias", self.permute(sd[p + "self_attn.k_proj.bias"], self.NKV)),
                        (b + "attn_v.bias", sd[p + "self_attn.v_proj.bias"])]
            out += [(b + "attn_output.weight", sd[p + "self_attn.o_proj.weight"]),
                    (b + "ffn_norm.weight", sd[p + "post_attention_layernorm.weight"]),
                    (b + "ffn_gate.weight", sd[p + "mlp.gate_proj.weight"]),
                    (b + "ffn_up.weight", sd[p + "mlp.up_proj.weight"]),
                    (b + "ffn_down.weight", sd[p + "mlp.down_proj.weight"])]
        out.append(("output_norm.weight", sd["model.norm.weight"]))
        if not self.tied:
            out.append(("output.weight", sd["lm_head.weight"]))
        return [(n, t.float().contiguous().numpy()) for n, t in out]

    def gguf_kv(self):
        return [("general.architecture", "str", "llama"),
                ("llama.context_length", "u32", self.T),
                ("llama.embedding_length", "u32", self.C),
                ("llama.block_count", "u32", self.L),
                ("llama.feed_forward_length", "u32", self.F),
                ("llama.attention.head_count", "u32", self.NH),
                ("llama.attention.head_count_kv", "u32", self.NKV),
                ("llama.attention.layer_norm_rms_epsilon", "f32", self.eps),
                ("llama.rope.freq_base", "f32", self.theta),
                ("llama.rope.dimension_count", "u32", self.C // self.NH),
                ("llama.vocab_size", "u32", self.V)]

    def hf_config(self):
        return {"architectures": ["LlamaForCausalLM"], "model_type": "llama",
                "vocab_size": self.V, "max_position_embeddings": self.T,
                "hidden_size": self.C, "num_hidden_layers": self.L,
                "num_attention_heads": self.NH, "num_key_value_heads": self.NKV,
                "intermediate_size": self.F, "rms_norm_eps": self.eps,
                "rope_theta": self.theta, "tie_word_embeddings": self.tied,
                "attention_bias": self.qkv_bias, "hidden_act": "silu"}


# ---------------------------------------------------------------- files

GGML_F32, GGML_F16, GGML_BF16 = 0, 1, 30


def to_bf16_bits(a):
    """float32 -> bf16 bit patterns, round to nearest even (ggml's rule)."""
    b = a.astype(np.float32).view(np.uint32).astype(np.uint64)
    r = ((b + 0x7FFF + ((b >> 16) & 1)) >> 16).astype(np.uint16)
    return r


def write_gguf(path, kv, tensors, ttype=GGML_F32, align=32, raw_types=None):
    """Minimal GGUF v3 writer (spec: ggml docs/gguf.md); tensors packed in order."""
    def s(x):
        b = x.encode() if isinstance(x, str) else x
        return struct.pack("<Q", len(b)) + b
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kv)))
    for key, typ, val in kv:
        out += s(key)
        if typ == "str":
            out += struct.pack("<I", 8) + s(val)
        elif typ == "u32":
            out += struct.pack("<II", 4, val)
        elif typ == "f32":
            out += struct.pack("<If", 6, val)
        elif typ == "bool":
            out += struct.pack("<IB", 7, 1 if val else 0)
        elif typ == "strs":
            out += struct.pack("<IIQ", 9, 8, len(val)) + b"".join(s(v) for v in val)
        elif typ == "i32s":
            out += struct.pack("<IIQ", 9, 5, len(val)) + np.asarray(val, "<i4").tobytes()
        elif typ == "f32s":
            out += struct.pack("<IIQ", 9, 6, len(val)) + np.asarray(val, "<f4").tobytes()
        else:
            raise ValueError(typ)
    blobs, off = [], 0
    for name, a in tensors:
        tt = ttype
        if raw_types and name in raw_types:  # (type code, bytes per 32 elements)
            tt, per_block = raw_types[name]
            data = b"\0" * (a.size // 32 * per_block)
        elif ttype == GGML_F32:
            data = a.astype("<f4").tobytes()
        elif ttype == GGML_F16:
            data = a.astype("<f2").tobytes()
        else:
            data = to_bf16_bits(a).astype("<u2").tobytes()
        dims = list(reversed(a.shape))
        out += s(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", tt, off)
        pad = (-len(data)) % align
        blobs.append(data + b"\0" * pad)
        off += len(data) + pad
    out += b"\0" * ((-len(out)) % align)
    for b in blobs:
        out += b
    with open(path, "wb") as f:
        f.write(out)


def tensor_nbytes(ne, t):
    """Bytes of a GGUF tensor of shape ne and ggml type t: F32, F16, BF16,
    or Q8_0 (blocks of 32 values along a row, 2-byte scale + 32 int8)."""
    n = int(np.prod(ne))
    if t == 8:
        return n // 32 * 34
    return n * {0: 4, 1: 2, 30: 2}[t]


def read_gguf(path):
    """Independent strict GGUF v3 reader (ggml's layout rules, formats.md 1.6):
    returns (kv {key: (type, value)}, [(name, ne, type, offset)], data_start,
    alignment, raw bytes). Raises ValueError on any violation."""
    b = open(path, "rb").read()
    pos = [0]

    def take(fmt):
        v = struct.unpack_from("<" + fmt, b, pos[0])
        pos[0] += struct.calcsize("<" + fmt)
        return v[0] if len(v) == 1 else v

    def string():
        n = take("Q")
        s_ = b[pos[0]:pos[0] + n].decode()
        pos[0] += n
        return s_
    scal = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
    if b[:4] != b"GGUF" or struct.unpack_from("<I", b, 4)[0] != 3:
        raise ValueError("magic/version")
    pos[0] = 8
    n_t, n_kv = take("Q"), take("Q")
    kv = {}
    for _ in range(n_kv):
        k = string()
        t = take("I")
        if t == 8:
            v = string()
        elif t == 9:
            et, n = take("I"), take("Q")
            v = [string() if et == 8 else take(scal[et]) for _ in range(n)]
            t = (9, et)
        else:
            v = take(scal[t])
        if k in kv:
            raise ValueError("duplicate key " + k)
        kv[k] = (t, v)
    align = kv.get("general.alignment", (4, 32))[1]
    infos = []
    for _ in range(n_t):
        name = string()
        nd = take("I")
        ne = [take("Q") for _ in range(nd)]
        infos.append((name, ne, take("I"), take("Q")))
    data_start = (pos[0] + align - 1) // align * align
    expect = 0
    for name, ne, t, off in infos:
        if off != expect:
            raise ValueError("offset of %s: %d != %d" % (name, off, expect))
        expect += (tensor_nbytes(ne, t) + align - 1) // align * align
    if data_start + expect != len(b):
        raise ValueError("file size %d != %d" % (len(b), data_start + expect))
    return kv, infos, data_start, align, b


def write_safetensors(path, tensors):
    """safetensors by hand: u64 header length, JSON header, raw LE data."""
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        a = t.float().contiguous().numpy().astype("<f4")
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header).encode()
    h += b" " * ((-len(h)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for b in blobs:
            f.write(b)


def write_hf_dir(d, ref, shards=1, conv1d=True):
    """HF checkpoint directory: config.json + model.safetensors (or shards + index)."""
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(ref.hf_config(), f)
    names = list(ref.sd.keys())
    if shards == 1:
        write_safetensors(os.path.join(d, "model.safetensors"), ref.sd)
        return
    per = (len(names) + shards - 1) // shards
    wmap = {}
    for i in range(shards):
        fn = "model-%05d-of-%05d.safetensors" % (i + 1, shards)
        part = {n: ref.sd[n] for n in names[i * per:(i + 1) * per]}
        write_safetensors(os.path.join(d, fn), part)
        for n in part:
            wmap[n] = fn
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": wmap}, f)


def write_llama2c(path, ref, version=0):
    """llama2.c checkpoint (formats.md 6.1): legacy v0 or "ak42" v1, F32."""
    assert isinstance(ref, LlamaRef) and ref.theta == 10000.0 and ref.eps == 1e-5
    sd, L, C = ref.sd, ref.L, ref.C
    D = C // ref.NH
    f32 = lambda t: t.float().contiguous().numpy().astype("<f4").tobytes()
    lay = lambda n: [sd["model.layers.%d.%s" % (l, n)] for l in range(L)]
    q = [LlamaRef.permute(w, ref.NH) for w in lay("self_attn.q_proj.weight")]
    k = [LlamaRef.permute(w, ref.NKV) for w in lay("self_attn.k_proj.weight")]
    cat = lambda ts: b"".join(f32(t) for t in ts)
    V = ref.V if ref.tied else -ref.V
    params = [C, ref.F, L, ref.NH, ref.NKV, V if version == 0 else ref.V, ref.T]
    with open(path, "wb") as f:
        if version == 0:
            f.write(struct.pack("<7i", *params))
            f.write(f32(sd["model.embed_tokens.weight"]) + cat(lay("input_layernorm.weight")) +
                    cat(q) + cat(k) + cat(lay("self_attn.v_proj.weight")) +
                    cat(lay("self_attn.o_proj.weight")) + cat(lay("post_attention_layernorm.weight")) +
                    cat(lay("mlp.gate_proj.weight")) + cat(lay("mlp.down_proj.weight")) +
                    cat(lay("mlp.up_proj.weight")) + f32(sd["model.norm.weight"]))
            f.write(np.zeros(ref.T * D, "<f4").tobytes())  # freq_cis_real/imag (unused)
        else:
            hdr = struct.pack("<Ii7iB", 0x616b3432, 1, *params, 1 if ref.tied else 0)
            f.write(hdr + b"\0" * (256 - len(hdr)))
            f.write(cat(lay("input_layernorm.weight")) + cat(lay("post_attention_layernorm.weight")) +
                    f32(sd["model.norm.weight"]) + f32(sd["model.embed_tokens.weight"]) +
                    cat(q) + cat(k) + cat(lay("self_attn.v_proj.weight")) +
                    cat(lay("self_attn.o_proj.weight")) + cat(lay("mlp.gate_proj.weight")) +
                    cat(lay("mlp.down_proj.weight")) + cat(lay("mlp.up_proj.weight")))
        if not ref.tied:
            f.write(f32(sd["lm_head.weight"]))


def gpt2_byte_tokens():
    """GPT-2's byte-level alphabet (openai/gpt-2 encoder.py bytes_to_unicode):
    returns (token strings, byte of each token); token i stands for byte bs[i]."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) + \
        list(range(ord("\xae"), ord("\xff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs], bs


def byte_tokenizer_kv(n_vocab):
    """tokenizer.ggml.* keys of a byte-level BPE with no merges: 256 byte
    tokens, <|endoftext|> = 256, and unused filler tokens up to n_vocab."""
    toks, _ = gpt2_byte_tokens()
    toks = toks + ["<|endoftext|>"] + ["<unused%d>" % i for i in range(n_vocab - 257)]
    types = [1] * 256 + [3] + [5] * (n_vocab - 257)
    return [("tokenizer.ggml.model", "str", "gpt2"), ("tokenizer.ggml.pre", "str", "gpt-2"),
            ("tokenizer.ggml.tokens", "strs", toks), ("tokenizer.ggml.token_type", "i32s", types),
            ("tokenizer.ggml.merges", "strs", []),
            ("tokenizer.ggml.bos_token_id", "u32", 256), ("tokenizer.ggml.eos_token_id", "u32", 256)]


def byte_token_ids(data):
    """Ids of bytes under byte_tokenizer_kv (no merges: one token per byte)."""
    _, bs = gpt2_byte_tokens()
    inv = {b: i for i, b in enumerate(bs)}
    return [inv[b] for b in data]


def spm_vocab(text, n_vocab):
    """A SentencePiece-style vocabulary as llama2.c's tokenizer.bin holds it
    (formats.md 6.2): <unk>, BOS, EOS, the 256 <0xNN> byte pieces, the
    characters of `text` (not all: 'z' and non-ASCII fall back to bytes) and
    merged pieces with decreasing scores. Returns [(piece, score)]."""
    toks = [("<unk>", 0.0), ("\n<s>\n", 0.0), ("\n</s>\n", 0.0)]
    toks += [("<0x%02X>" % b, 0.0) for b in range(256)]
    chars = sorted(set(c for c in text if ord(c) < 128 and c != "z"))
    toks += [(c, -100.0 - i) for i, c in enumerate(chars)]
    merged = [" t", "he", " the", "at", " c", " cat", " s", " sat", "on", " on", " m",
              " mat", "be", "ca", "us", "e ", "it", " it", " w", "as", " was", " so", "ft"]
    toks += [(p, -1.0 - i) for i, p in enumerate(merged)]
    assert len(toks) <= n_vocab
    return toks


def write_tokenizer_bin(path, toks):
    with open(path, "wb") as f:
        f.write(struct.pack("<I", max(len(p.encode()) for p, _ in toks)))
        for p, sc in toks:
            b = p.encode()
            f.write(struct.pack("<fI", sc, len(b)) + b)


def spm_encode(text, toks, bos=True):
    """Reference SentencePiece BPE (run.c / SentencePiece semantics): dummy
    prefix space, characters (byte fallback <0xNN> = id byte+3), then
    repeatedly merge the adjacent pair whose concatenation is the piece with
    the highest score, leftmost on ties."""
    vocab = {p: i for i, (p, _) in enumerate(toks)}
    ids = []
    for ch in " " + text:
        if ch in vocab:
            ids.append(vocab[ch])
        else:
            ids += [b + 3 for b in ch.encode()]
    while True:
        best, at = None, -1
        for i in range(len(ids) - 1):
            a, b = toks[ids[i]][0], toks[ids[i + 1]][0]
            if ids[i] < 259 and ids[i] >= 3 or ids[i + 1] < 259 and ids[i + 1] >= 3:
                continue  # byte pieces are never merged
            m = vocab.get(a + b)
            if m is not None and (best is None or toks[m][1] > toks[best][1]):
                best, at = m, i
        if best is None:
            break
        ids[at:at + 2] = [best]
    return ([1] if bos else []) + ids


# ---------------------------------------------------------------- ctypes


class CtxOpts(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("n_ctx", ctypes.c_uint32),
                ("n_batch", ctypes.c_uint32), ("n_threads", ctypes.c_uint32),
                ("alloc", ctypes.c_void_p), ("alloc_ud", ctypes.c_void_p),
                ("progress", ctypes.c_void_p), ("progress_ud", ctypes.c_void_p),
                ("flags", ctypes.c_uint32)]


class Lib:
    def __init__(self, path):
        L = self.L = ctypes.CDLL(path)
        vp, sz, f = ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_float)
        i32p = ctypes.POINTER(ctypes.c_int32)
        sig = {
            "llm_model_load": ([ctypes.POINTER(vp), ctypes.c_char_p, vp], ctypes.c_int),
            "llm_model_free": ([vp], None),
            "llm_model_import": ([ctypes.POINTER(vp), ctypes.c_char_p, vp], ctypes.c_int),
            "llm_model_tokenizer": ([vp], vp),
            "llm_model_save": ([vp, ctypes.c_char_p], ctypes.c_int),
            "llm_model_n_params": ([ctypes.POINTER(ctypes.c_uint64), vp], ctypes.c_int),
            "llm_model_tensor_data": ([ctypes.POINTER(f), ctypes.POINTER(sz), vp, ctypes.c_char_p], ctypes.c_int),
            "llm_ctx_create": ([ctypes.POINTER(vp), vp, ctypes.POINTER(CtxOpts)], ctypes.c_int),
            "llm_ctx_free": ([vp], None),
            "llm_ctx_forward": ([f, sz, ctypes.POINTER(sz), vp, i32p, sz, sz, ctypes.c_uint32], ctypes.c_int),
            "llm_ctx_decode": ([ctypes.POINTER(f), vp, i32p, sz], ctypes.c_int),
            "llm_ctx_truncate": ([vp, sz], ctypes.c_int),
            "llm_ctx_reset": ([vp], ctypes.c_int),
            "llm_ctx_loss": ([ctypes.POINTER(ctypes.c_double), f, vp, i32p, i32p, sz, sz], ctypes.c_int),
            "llm_ctx_eval": ([ctypes.POINTER(ctypes.c_double), ctypes.POINTER(ctypes.c_uint64), vp, i32p, sz, sz, sz], ctypes.c_int),
            "llm_errmsg": ([vp], ctypes.c_char_p),
            "llm_ctx_capture_attention": ([vp, ctypes.c_int32, ctypes.c_int32], ctypes.c_int),
            "llm_ctx_attention": ([ctypes.POINTER(f), ctypes.POINTER(sz), ctypes.POINTER(sz), vp], ctypes.c_int),
            "llm_last_errmsg": ([], ctypes.c_char_p),
        }
        for name, (a, r) in sig.items():
            fn = getattr(L, name)
            fn.argtypes, fn.restype = a, r

    def check(self, rc, h=None):
        if rc != 0:
            msg = (self.L.llm_errmsg(h) if h else self.L.llm_last_errmsg()).decode()
            raise RuntimeError("libllm status %d: %s" % (rc, msg))

    def load(self, path):
        m = ctypes.c_void_p()
        rc = self.L.llm_model_load(ctypes.byref(m), path.encode(), None)
        return rc, m

    def ctx(self, model, n_ctx=0, n_batch=0, n_threads=1, flags=0):
        o = CtxOpts(ctypes.sizeof(CtxOpts), n_ctx, n_batch, n_threads, None, None, None, None, flags)
        c = ctypes.c_void_p()
        self.check(self.L.llm_ctx_create(ctypes.byref(c), model, ctypes.byref(o)))
        return c

    @staticmethod
    def ids(a):
        a = np.ascontiguousarray(a, dtype=np.int32)
        return a, a.ctypes.data_as(ctypes.POINTER(ctypes.c_int32))

    def forward(self, ctx, ids, V, last=False):
        B, T = ids.shape
        a, p = self.ids(ids)
        out = np.zeros((B, V) if last else (B, T, V), dtype=np.float32)
        need = ctypes.c_size_t()
        self.check(self.L.llm_ctx_forward(out.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                                          out.size, ctypes.byref(need), ctx, p, B, T,
                                          1 if last else 0), ctx)
        return out

    def decode(self, ctx, toks, V):
        a, p = self.ids(np.asarray(toks))
        lp = ctypes.POINTER(ctypes.c_float)()
        self.check(self.L.llm_ctx_decode(ctypes.byref(lp), ctx, p, len(a)), ctx)
        return np.ctypeslib.as_array(lp, shape=(V,)).copy()

    def loss(self, ctx, inputs, targets):
        B, T = inputs.shape
        a, p = self.ids(inputs)
        b, q = self.ids(targets)
        lp = np.zeros((B, T), dtype=np.float32)
        loss = ctypes.c_double()
        self.check(self.L.llm_ctx_loss(ctypes.byref(loss), lp.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                                       ctx, p, q, B, T), ctx)
        return loss.value, lp

    def attention(self, ctx):
        p = ctypes.POINTER(ctypes.c_float)()
        n, stride = ctypes.c_size_t(), ctypes.c_size_t()
        self.check(self.L.llm_ctx_attention(ctypes.byref(p), ctypes.byref(n), ctypes.byref(stride), ctx), ctx)
        a = np.ctypeslib.as_array(p, shape=(max(n.value, 1) * stride.value,)).reshape(-1, stride.value)
        return a[:n.value, :n.value].copy()

    def eval(self, ctx, toks, window, stride=0):
        a, p = self.ids(np.asarray(toks))
        nll, n = ctypes.c_double(), ctypes.c_uint64()
        self.check(self.L.llm_ctx_eval(ctypes.byref(nll), ctypes.byref(n), ctx, p, len(a),
                                       window, stride), ctx)
        return nll.value, n.value
