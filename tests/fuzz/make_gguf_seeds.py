#!/usr/bin/env python3
"""Writes small valid GGUF v3 files (formats.md section 1) as fuzz seeds:
metadata of every value type, string arrays, F32/F16 tensors, and the
default and a custom alignment. Run: make_gguf_seeds.py OUTDIR."""
import struct
import sys

T_U8, T_I8, T_U16, T_I16, T_U32, T_I32, T_F32, T_BOOL, T_STR, T_ARR, T_U64, T_I64, T_F64 = range(13)


def s(x):
    b = x.encode()
    return struct.pack("<Q", len(b)) + b


def kv(key, typ, val, arr_type=None):
    out = s(key) + struct.pack("<I", typ)
    fmt = {T_U8: "B", T_I8: "b", T_U16: "H", T_I16: "h", T_U32: "I", T_I32: "i",
           T_F32: "f", T_BOOL: "?", T_U64: "Q", T_I64: "q", T_F64: "d"}
    if typ == T_STR:
        out += s(val)
    elif typ == T_ARR:
        out += struct.pack("<IQ", arr_type, len(val))
        for v in val:
            out += s(v) if arr_type == T_STR else struct.pack("<" + fmt[arr_type], v)
    else:
        out += struct.pack("<" + fmt[typ], val)
    return out


def gguf(kvs, tensors, align=32):
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs)) + b"".join(kvs)
    infos, blob = b"", b""
    for name, ne, typ, data in tensors:
        blob += b"\0" * (-len(blob) % align)
        infos += s(name) + struct.pack("<I", len(ne)) + struct.pack("<%dQ" % len(ne), *ne)
        infos += struct.pack("<IQ", typ, len(blob))
        blob += data
    out = head + infos
    out += b"\0" * (-len(out) % align)
    return out + blob


def main(outdir):
    f32 = struct.pack("<6f", *[0.5 * i for i in range(6)])
    f16 = struct.pack("<4e", 1.0, -2.0, 0.5, 65504.0)
    kvs = [kv("general.architecture", T_STR, "gpt2"), kv("gpt2.block_count", T_U32, 1),
           kv("gpt2.context_length", T_U32, 8), kv("gpt2.embedding_length", T_U32, 2),
           kv("gpt2.attention.layer_norm_epsilon", T_F32, 1e-5),
           kv("tokenizer.ggml.add_bos_token", T_BOOL, False),
           kv("tokenizer.ggml.tokens", T_ARR, ["a", "b", "ab"], T_STR),
           kv("tokenizer.ggml.token_type", T_ARR, [1, 1, 1], T_I32),
           kv("x.u8", T_U8, 7), kv("x.i8", T_I8, -7), kv("x.u16", T_U16, 700),
           kv("x.i16", T_I16, -700), kv("x.i32", T_I32, -70000), kv("x.u64", T_U64, 1 << 40),
           kv("x.i64", T_I64, -(1 << 40)), kv("x.f64", T_F64, 3.25)]
    tensors = [("token_embd.weight", [2, 3], 0, f32), ("blk.0.attn_norm.weight", [4], 1, f16)]
    with open(f"{outdir}/small.gguf", "wb") as f:
        f.write(gguf(kvs, tensors))
    kvs2 = [kv("general.alignment", T_U32, 64), kv("general.name", T_STR, "aligned")]
    with open(f"{outdir}/aligned64.gguf", "wb") as f:
        f.write(gguf(kvs2, tensors, align=64))
    with open(f"{outdir}/empty.gguf", "wb") as f:
        f.write(gguf([], []))


if __name__ == "__main__":
    main(sys.argv[1])
