#!/usr/bin/env python3
"""Train a tiny GPT-2-style model on a text file, from scratch: learn a BPE
tokenizer, train with AdamW (one step per call, the host drives the loop),
and save a GGUF file that carries its tokenizer.

usage: train.py TEXT OUT.gguf [--steps N] [--vocab-size V]
"""
import argparse
import time

import libllm


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("text")
    ap.add_argument("out")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--vocab-size", type=int, default=512)
    ap.add_argument("--n-embd", type=int, default=64)
    ap.add_argument("--n-layer", type=int, default=2)
    ap.add_argument("--seq", type=int, default=64)
    a = ap.parse_args()

    tok = libllm.Tokenizer.train([a.text], a.vocab_size)
    with open(a.text, "rb") as f:
        ids = tok.encode(f.read())
    split = len(ids) * 9 // 10
    train_ids, val_ids = ids[:split], ids[split:]
    cfg = libllm.ModelConfig(arch=libllm.ARCH_GPT2, n_vocab=tok.n_vocab, n_ctx=a.seq,
                             n_embd=a.n_embd, n_layer=a.n_layer, n_head=max(1, a.n_embd // 32))
    model = libllm.Model.create(cfg, seed=1)
    print(f"{len(ids)} tokens, model of {model.n_params:,} parameters")

    def progress(phase, done, total):
        return False  # return True to stop the step (a UI's cancel button)

    t0 = time.time()
    with libllm.Trainer(model, batch=8, seq_len=a.seq, lr=3e-3, min_lr=3e-4, warmup_steps=10,
                        total_steps=a.steps, weight_decay=0.1, grad_clip=1.0, shuffle=True,
                        seed=1, progress=progress) as tr:
        val = tr.next_batch(val_ids) if len(val_ids) > tr.tokens_per_step else None
        for step in range(a.steps):
            loss = tr.step(*tr.next_batch(train_ids))
            if step % 50 == 0 or step == a.steps - 1:
                msg = f"step {step:4d}  loss {loss:.3f}  lr {tr.lr(step):.2e}  |g| {tr.grad_norm:.2f}"
                if val:
                    msg += f"  val {tr.eval(*val):.3f}"
                print(msg)
    dt = time.time() - t0
    print(f"{a.steps} steps in {dt:.1f} s ({a.steps * 8 * a.seq / dt:,.0f} tokens/s)")
    model.set_tokenizer(tok)  # the GGUF file carries the tokenizer
    model.save(a.out)
    print("saved", a.out)
    model.close()


if __name__ == "__main__":
    main()
