"""Bad input never crashes the interpreter: every public method of every
handle class is called with combinations of wrong or extreme arguments
(and again after close). The calls run in a child process, so a segfault
or abort fails the test instead of killing the test runner."""
import os
import subprocess
import sys
import tempfile
import unittest

import libllm

DATA = os.environ.get("LLM_TEST_DATA", os.path.join(os.path.dirname(__file__), "data"))

SCRIPT = r'''
import itertools, os, sys, libllm
text = os.path.join(sys.argv[1], "genesis.txt")
tok = libllm.Tokenizer.train([text], 300)
m = libllm.Model.create(libllm.ModelConfig(arch=1, n_vocab=tok.n_vocab, n_ctx=32, n_embd=16,
                                           n_layer=1, n_head=2), 1)
m.set_tokenizer(libllm.Tokenizer.train([text], 300))
ctx = m.context(n_ctx=32)
smp = libllm.Sampler(m.n_vocab, seed=1)
gen = libllm.Generator(ctx, smp, m.tokenizer, max_tokens=4)
m2 = libllm.Model.create(libllm.ModelConfig(arch=2, n_vocab=64, n_ctx=16, n_embd=16, n_layer=1,
                                            n_head=2, n_ff=32), 1)
tr = libllm.Trainer(m2, batch=1, seq_len=4)
stream = tok.stream()
pool = [None, "x", b"\xff", -1, 0, 3, 2 ** 40, 1.5, float("nan"), [1, 2], ["a"], [2 ** 40],
        [-5], object(), {}]
skip = {"close", "create", "train", "set_tokenizer"}
objs = [tok, m, ctx, smp, gen, tr, stream]
calls = errors = 0
def fuzz(objs):
    global calls, errors
    for obj in objs:
        for name in sorted(dir(obj)):
            if name.startswith("_") or name in skip:
                continue
            try:
                attr = getattr(obj, name)
            except libllm.Error:
                errors += 1
                continue
            if not callable(attr):
                continue
            for n in range(3):
                for args in itertools.product(pool, repeat=n):
                    calls += 1
                    try:
                        r = attr(*args)
                        if hasattr(r, "__next__"):  # generators: run them
                            for _ in zip(range(8), r):
                                pass
                    except (libllm.Error, TypeError, ValueError, OverflowError):
                        errors += 1
fuzz(objs)
# keyword options: every keyword of every constructor, set to each bad value
import inspect
ctors = [(lambda **k: libllm.Sampler(m.n_vocab, **k), libllm.Sampler),
         (lambda **k: m.context(**k), libllm.Context),
         (lambda **k: libllm.Trainer(m2, **k), libllm.Trainer),
         (lambda **k: libllm.Generator(ctx, smp, m.tokenizer, **k), libllm.generate),
         (lambda **k: m.generate("And", **dict(k, max_tokens=k.get("max_tokens", 2))),
          libllm.Model.generate),
         (lambda **k: m.evaluate("And God", **k), libllm.Model.evaluate),
         (lambda **k: tok.encode("x", **k), libllm.Tokenizer.encode),
         (lambda **k: libllm.plan_for_compute(1e20, **k), libllm.plan_for_compute),
         (lambda **k: libllm.fit_scaling_law([1e7] * 5, [1e9] * 5, [3.0] * 5, **k),
          libllm.fit_scaling_law)]
cfg_keys = [n for n, _ in libllm.ModelConfig._fields_ if n != "struct_size"]
for fn, sig_of in ctors:
    names = [p.name for p in inspect.signature(sig_of).parameters.values()
             if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name not in
             ("self", "ctx", "sampler", "tokenizer", "prompt", "model", "n_vocab", "text",
              "compute", "params", "tokens", "loss")]
    for name in names + ["bogus"]:
        for v in pool:
            calls += 1
            try:
                r = fn(**{name: v})
                if hasattr(r, "close"):
                    r.close()
            except (libllm.Error, TypeError, ValueError, OverflowError):
                errors += 1
for name in cfg_keys:
    for v in pool:
        calls += 1
        try:
            libllm.count_model(libllm.ModelConfig(**{name: v}))
        except (libllm.Error, TypeError, ValueError, OverflowError):
            errors += 1

for o in (gen, tr, smp, ctx, m, m2, tok):
    o.close()
fuzz(objs)  # everything closed: ClosedError (or a type error first)
# set_tokenizer with bad arguments, on a model of its own
m3 = libllm.Model.create(libllm.ModelConfig(arch=1, n_vocab=300, n_ctx=8, n_embd=8, n_layer=1,
                                            n_head=1), 1)
fuzz_one = [m3]
skip.discard("set_tokenizer")
for name in ("set_tokenizer",):
    for a in pool:
        calls += 1
        try:
            m3.set_tokenizer(a)
        except (libllm.Error, TypeError, ValueError):
            errors += 1
print("calls", calls, "errors", errors)
'''


class TestRobustness(unittest.TestCase):
    def test_bad_arguments_never_crash(self):
        with tempfile.TemporaryDirectory() as d:  # save("x") & co write here
            pkg = os.path.dirname(os.path.dirname(os.path.abspath(libllm.__file__)))
            env = dict(os.environ, PYTHONPATH=pkg,
                       LIBLLM_LIBRARY=os.path.abspath(libllm._lib.lib._name))
            r = subprocess.run([sys.executable, "-c", SCRIPT, os.path.abspath(DATA)], cwd=d,
                               env=env, capture_output=True, text=True, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        calls = int(r.stdout.split()[1])
        self.assertGreater(calls, 10000, r.stdout)


if __name__ == "__main__":
    unittest.main()
