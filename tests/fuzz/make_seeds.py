#!/usr/bin/python3
"""make_seeds.py SEEDS_DIR - writes the fuzz seeds made outside libllm.

Run it, then `fuzz_make_seeds SEEDS_DIR` (make_seeds.c, which reads
tok_bin/spm.bin), then this script again (it derives the GPT-2,
tokenizer.json and tiktoken forms from tok_hfdir/bpe.txt, which the C
program writes). Writes:
  tok_bin/spm.bin, tok_model/spm.model  SentencePiece BPE (Debian's
        python3-sentencepiece; Llama 2 settings, byte fallback)
  safetensors/*.safetensors             tiny GPT-2 and Llama weights
  import_hf/*.txt                       config.json SEP model.safetensors
                                        [SEP vocab.json SEP merges.txt]
  import_sharded/*.txt                  config.json SEP index.json SEP 2 shards
  llama2c/*.bin                         llama2.c checkpoints (v0, v1)
  roundtrip/*                           selector byte + text
  tok_gpt2dir, tok_json, tok_tiktoken   from tok_hfdir/bpe.txt
Every number is drawn from a fixed-seed generator, so reruns give the
same bytes.
"""
import base64
import json
import os
import random
import struct
import sys

SEP = b"\n--8<--\n"
seeds = sys.argv[1]
rng = random.Random(1234)


def out(sub, name, data):
    os.makedirs(os.path.join(seeds, sub), exist_ok=True)
    with open(os.path.join(seeds, sub, name), "wb") as f:
        f.write(data)


def floats(n):
    return [rng.gauss(0, 0.02) for _ in range(n)]


def safetensors(tensors):
    """tensors: list of (name, shape, float list) -> F32 safetensors bytes."""
    header, blob = {}, b""
    for name, shape, vals in tensors:
        data = struct.pack("<%df" % len(vals), *vals)
        header[name] = {"dtype": "F32", "shape": list(shape),
                        "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + blob


def gpt2(V=16, T=8, C=8, L=1):
    t = [("wte.weight", (V, C), floats(V * C)), ("wpe.weight", (T, C), floats(T * C))]
    for l in range(L):
        p = "h.%d." % l
        t += [(p + "ln_1.weight", (C,), [1.0] * C), (p + "ln_1.bias", (C,), [0.0] * C),
              (p + "attn.c_attn.weight", (C, 3 * C), floats(3 * C * C)),
              (p + "attn.c_attn.bias", (3 * C,), floats(3 * C)),
              (p + "attn.c_proj.weight", (C, C), floats(C * C)),
              (p + "attn.c_proj.bias", (C,), floats(C)),
              (p + "ln_2.weight", (C,), [1.0] * C), (p + "ln_2.bias", (C,), [0.0] * C),
              (p + "mlp.c_fc.weight", (C, 4 * C), floats(4 * C * C)),
              (p + "mlp.c_fc.bias", (4 * C,), floats(4 * C)),
              (p + "mlp.c_proj.weight", (4 * C, C), floats(4 * C * C)),
              (p + "mlp.c_proj.bias", (C,), floats(C))]
    t += [("ln_f.weight", (C,), [1.0] * C), ("ln_f.bias", (C,), [0.0] * C)]
    cfg = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": V,
           "n_positions": T, "n_embd": C, "n_layer": L, "n_head": 2,
           "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5}
    return cfg, t


def llama(V=16, T=8, C=8, L=1, H=2, KV=1, F=12, tied=False):
    hs = C // H
    t = [("model.embed_tokens.weight", (V, C), floats(V * C))]
    for l in range(L):
        p = "model.layers.%d." % l
        t += [(p + "input_layernorm.weight", (C,), [1.0] * C),
              (p + "self_attn.q_proj.weight", (C, C), floats(C * C)),
              (p + "self_attn.k_proj.weight", (KV * hs, C), floats(KV * hs * C)),
              (p + "self_attn.v_proj.weight", (KV * hs, C), floats(KV * hs * C)),
              (p + "self_attn.o_proj.weight", (C, C), floats(C * C)),
              (p + "post_attention_layernorm.weight", (C,), [1.0] * C),
              (p + "mlp.gate_proj.weight", (F, C), floats(F * C)),
              (p + "mlp.up_proj.weight", (F, C), floats(F * C)),
              (p + "mlp.down_proj.weight", (C, F), floats(F * C))]
    t += [("model.norm.weight", (C,), [1.0] * C)]
    if not tied:
        t += [("lm_head.weight", (V, C), floats(V * C))]
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": V,
           "max_position_embeddings": T, "hidden_size": C, "num_hidden_layers": L,
           "num_attention_heads": H, "num_key_value_heads": KV, "intermediate_size": F,
           "hidden_act": "silu", "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
           "tie_word_embeddings": tied}
    return cfg, t


def spm_seeds():
    try:
        import sentencepiece as spm
    except ImportError:
        print("note: python3-sentencepiece missing; SentencePiece seeds not written")
        return
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        txt = os.path.join(d, "t.txt")
        with open(txt, "w", encoding="utf-8") as f:
            f.write("In the beginning God created the heaven and the earth.\n"
                    "And the earth was without form, and void 1234.\n"
                    "Grüße aus Köln, naïve café. 日本語 Привет\n" * 3)
        spm.SentencePieceTrainer.train(
            input=txt, model_prefix=os.path.join(d, "s"), model_type="bpe", vocab_size=360,
            byte_fallback=True, normalization_rule_name="identity",
            remove_extra_whitespaces=False, add_dummy_prefix=True, split_digits=True,
            num_threads=1, minloglevel=2, hard_vocab_limit=False)
        model = open(os.path.join(d, "s.model"), "rb").read()
        sp = spm.SentencePieceProcessor(model_file=os.path.join(d, "s.model"))
    out("tok_model", "spm.model", model)
    toks, scores = [], []
    for i in range(sp.get_piece_size()):
        t = sp.id_to_piece(i)
        if i == sp.bos_id():
            t = "\n<s>\n"
        elif i == sp.eos_id():
            t = "\n</s>\n"
        toks.append(t.replace("\u2581", " ").encode())
        scores.append(sp.get_score(i))
    b = struct.pack("<I", max(len(t) for t in toks))
    for t, s in zip(toks, scores):
        b += struct.pack("<fI", s, len(t)) + t
    out("tok_bin", "spm.bin", b)


def llama2c(version, V=16, C=8, F=12, L=1, H=2, KV=1, T=8, shared=True):
    hs = C // H
    n = V * C + L * (2 * C + C * C + 2 * KV * hs * C + C * C + 3 * F * C) + C
    if not shared:
        n += V * C
    if version == 0:
        n += T * hs  # freq_cis_real and _imag, T * hs/2 each
        hdr = struct.pack("<7i", C, F, L, H, KV, V if shared else -V, T)
    else:
        hdr = struct.pack("<I i 7i B", 0x616b3432, 1, C, F, L, H, KV, V, T, 1 if shared else 0)
        hdr += b"\0" * (256 - len(hdr))
    return hdr + struct.pack("<%df" % n, *floats(n))


def byte_alphabet():
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def derived():
    p = os.path.join(seeds, "tok_hfdir", "bpe.txt")
    if not os.path.exists(p):
        print("note: tok_hfdir/bpe.txt missing; run fuzz_make_seeds, then this again")
        return
    parts = open(p, "rb").read().split(SEP)
    vocab, merges = parts[0], parts[1]
    v = json.loads(vocab)
    # GPT-2 directory: encoder.json + vocab.bpe (with its version line)
    mlines = [l for l in merges.decode().split("\n") if l and not l.startswith("#")]
    out("tok_gpt2dir", "bpe.txt", vocab + SEP + b"#version: 0.2\n" + "\n".join(mlines).encode()
        + b"\n")
    # tokenizer.json (BPE, ByteLevel, one added token)
    tj = {"version": "1.0", "added_tokens": [
        {"id": v["<|endoftext|>"], "content": "<|endoftext|>", "single_word": False,
         "lstrip": False, "rstrip": False, "normalized": False, "special": True}]
        if "<|endoftext|>" in v else [],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                          "use_regex": True},
        "decoder": {"type": "ByteLevel"},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": "", "end_of_word_suffix": "",
                  "fuse_unk": False, "byte_fallback": False,
                  "vocab": {k: i for k, i in v.items() if k != "<|endoftext|>"},
                  "merges": mlines}}
    out("tok_json", "tokenizer.json", json.dumps(tj, ensure_ascii=False).encode())
    # tiktoken ranks: bytes of each ordinary token, rank = id
    alpha = byte_alphabet()
    lines = []
    for k, i in sorted(v.items(), key=lambda kv: kv[1]):
        if k == "<|endoftext|>":
            continue
        lines.append(base64.b64encode(bytes(alpha[ch] for ch in k)).decode() + " " + str(i))
    out("tok_tiktoken", "bpe.tiktoken", ("\n".join(lines) + "\n").encode())
    # HF import with the tokenizer: a gpt2 of the tokenizer's vocabulary size
    cfg, t = gpt2(V=len(v), T=8, C=8, L=1)
    out("import_hf", "gpt2_tok.txt", json.dumps(cfg).encode() + SEP + safetensors(t) + SEP +
        vocab + SEP + merges)


def main():
    spm_seeds()
    for name, (cfg, t) in {"gpt2": gpt2(), "llama": llama(),
                           "llama_tied": llama(tied=True, L=2, KV=2)}.items():
        st = safetensors(t)
        out("safetensors", name + ".safetensors", st)
        out("import_hf", name + ".txt", json.dumps(cfg).encode() + SEP + st)
    out("safetensors", "empty.safetensors", struct.pack("<Q", 8) + b"{}      ")
    out("llama2c", "v0_shared.bin", llama2c(0))
    out("llama2c", "v0_untied.bin", llama2c(0, shared=False))
    out("llama2c", "v1.bin", llama2c(1))
    for i, text in enumerate([b"Hello, world! 123", "Grüße, naïve café 日本語 👍🏽".encode(),
                              b"<|endoftext|>a<|endoftext|>  \t\n\n", b"\xff\xfe\x80abc\xc3",
                              b"don't I'll   spaces\r\n", b"x" * 200]):
        for sel in (0, 1, 2, 3, 4 | 0, 4 | 3):
            out("roundtrip", "t%d_%d" % (i, sel), bytes([sel]) + text)
    # sharded: the llama tensors split over two files, with the index
    cfg, t = llama()
    half = len(t) // 2
    names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    index = {"metadata": {"total_size": 0},
             "weight_map": {n: names[0 if i < half else 1] for i, (n, _, _) in enumerate(t)}}
    out("import_sharded", "llama.txt", json.dumps(cfg).encode() + SEP +
        json.dumps(index).encode() + SEP + safetensors(t[:half]) + SEP + safetensors(t[half:]))
    derived()


main()
