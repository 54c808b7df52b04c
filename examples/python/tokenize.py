#!/usr/bin/env python3
"""Tokenize text: load a tokenizer (directory, tokenizer.json, .tiktoken or
GGUF) or learn one from a text file, then show ids and pieces.

usage: tokenize.py (--tokenizer PATH | --train FILE [--vocab-size V] [--save DIR]) TEXT
"""
import argparse

import libllm


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokenizer")
    ap.add_argument("--train", help="learn a BPE vocabulary from this text file")
    ap.add_argument("--vocab-size", type=int, default=512)
    ap.add_argument("--save", help="write the learned tokenizer to this directory")
    ap.add_argument("text")
    a = ap.parse_args()
    if a.tokenizer:
        tok = libllm.Tokenizer(a.tokenizer)
    elif a.train:
        tok = libllm.Tokenizer.train([a.train], a.vocab_size)
        if a.save:
            tok.save(a.save)
    else:
        ap.error("give --tokenizer or --train")
    with tok:
        ids = tok.encode(a.text)
        print(f"{len(a.text.encode())} bytes -> {len(ids)} tokens (vocabulary {tok.n_vocab})")
        print("ids:   ", ids)
        print("pieces:", [tok.token_to_piece(i).decode("utf-8", "replace") for i in ids])
        assert tok.decode(ids) == a.text.encode()


if __name__ == "__main__":
    main()
