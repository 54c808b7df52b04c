#!/usr/bin/env python3
"""Load a model, score a text and generate with streaming.

usage: generate.py MODEL.gguf [--prompt TEXT] [--score FILE] [-n N] [--temp T]
"""
import argparse
import sys

import libllm


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--tokenizer", help="tokenizer, when the model file has none")
    ap.add_argument("--prompt", default="And God said")
    ap.add_argument("--score", help="a text file to score (loss, perplexity, bits per byte)")
    ap.add_argument("-n", type=int, default=40)
    ap.add_argument("--temp", type=float, default=0.8)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    with libllm.Model(a.model, tokenizer=a.tokenizer) as m:
        if a.score:
            with open(a.score, "rb") as f:
                e = m.evaluate(f.read())
            print(f"loss {e.loss:.4f} nats/token, perplexity {e.ppl:.2f}, "
                  f"{e.bpb:.3f} bits/byte over {e.tokens} predictions")
        # 1. the convenience call, with a streaming callback
        sys.stdout.write(a.prompt)
        g = m.generate(a.prompt, max_tokens=a.n, temperature=a.temp, top_k=40, seed=a.seed,
                       on_token=lambda tok, piece: sys.stdout.write(
                           piece.decode("utf-8", "replace")) and False)
        print(f"\n[{len(g.tokens)} tokens, {g.reason}]")
        # 2. the one-to-one classes: a generator is a Python iterator
        with m.context() as ctx, libllm.Sampler(m.n_vocab, temperature=0) as smp, \
                libllm.Generator(ctx, smp, m.tokenizer, max_tokens=a.n, stop=["\n\n"]) as gen:
            gen.feed(a.prompt)
            sys.stdout.write(a.prompt)
            for token, piece in gen:
                sys.stdout.write(piece.decode("utf-8", "replace"))
            print(f"\n[greedy: {gen.result().n_tokens} tokens, {libllm.reason_str(gen.reason)}]")
            # logits are a zero-copy memoryview (numpy.asarray works on it)
            z = ctx.logits() if ctx.n_past else ctx.decode(m.tokenize(a.prompt))
            best = max(range(len(z)), key=z.__getitem__)
            print("most likely next piece:", repr(m.detokenize([best])))


if __name__ == "__main__":
    main()
