"""The Python binding end to end, against independent oracles: the C CLI
(`libllm tokenize/eval/generate/plan/info`, LLM_CLI), plain-Python math
(log-softmax, arg-max, the Chinchilla formulas) and cross-checks between
C entry points (forward vs decode vs loss). A tiny model and tokenizer are
made in setUpModule from tests/bindings/data/genesis.txt."""
import array
import ctypes
import gc
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

import libllm
from libllm import _lib

DATA = os.environ.get("LLM_TEST_DATA", os.path.join(os.path.dirname(__file__), "data"))
CLI = os.environ.get("LLM_CLI") or None
TEXT_PATH = os.path.join(DATA, "genesis.txt")
with open(TEXT_PATH, "rb") as _f:
    TEXT = _f.read()

tmp = tok_dir = model_path = None
N_VOCAB = 0


def setUpModule():
    global tmp, tok_dir, model_path, N_VOCAB
    tmp = tempfile.mkdtemp(prefix="llm-bind-")
    tok = libllm.Tokenizer.train([TEXT_PATH], 320)
    tok_dir = os.path.join(tmp, "tok")
    tok.save(tok_dir)
    N_VOCAB = tok.n_vocab
    m = libllm.Model.create(libllm.ModelConfig(arch=libllm.ARCH_GPT2, n_vocab=N_VOCAB, n_ctx=64,
                                               n_embd=32, n_layer=2, n_head=2), 7)
    # a few training steps so that the model is not uniform noise
    ids = tok.encode(TEXT)
    with libllm.Trainer(m, batch=2, seq_len=32, lr=3e-3) as tr:
        for _ in range(12):
            tr.step(*tr.next_batch(ids))
    m.set_tokenizer(tok)
    model_path = os.path.join(tmp, "model.gguf")
    m.save(model_path)
    m.close()
    assert tok.closed  # owned by the model, closed with it


def tearDownModule():
    shutil.rmtree(tmp, ignore_errors=True)


def cli(*args, stdin=None):
    r = subprocess.run([CLI, *args], input=stdin, capture_output=True, check=True)
    return r.stdout


def log_softmax_at(z, t):
    mx = max(z)
    return z[t] - mx - math.log(math.fsum(math.exp(v - mx) for v in z))


def argmax(z):
    best = 0
    for i, v in enumerate(z):
        if v > z[best]:
            best = i
    return best


class TestTokenizer(unittest.TestCase):
    def setUp(self):
        self.tok = libllm.Tokenizer(tok_dir)

    def tearDown(self):
        self.tok.close()

    def test_roundtrip_and_queries(self):
        t = self.tok
        ids = t.encode(TEXT)
        self.assertEqual(t.decode(ids), TEXT)
        self.assertEqual(t.n_vocab, N_VOCAB)
        self.assertEqual(t.eos, t.special_id(2))
        self.assertEqual(t.is_special(t.eos), 1)
        self.assertEqual(t.is_special(ids[0]), 0)
        self.assertEqual(t.is_special(10 ** 6), -1)
        self.assertIsInstance(t.add_bos, bool)
        self.assertEqual(b"".join(t.token_to_piece(i) for i in ids), TEXT)
        self.assertEqual(t.piece_to_token(t.token_to_piece(ids[3])), ids[3])
        with self.assertRaises(libllm.NotFound):
            t.piece_to_token(b"\xff\xfe no such token")
        self.assertEqual(t.encode("<|endoftext|>", parse_special=True), [t.eos])
        self.assertEqual(t.encode("x", add_bos=True)[0], t.bos)
        self.assertEqual(t.decode([t.eos] + t.encode("hi"), skip_special=True), b"hi")
        # str and bytes give the same ids; array('i') and lists too
        self.assertEqual(t.encode("In the beginning"), t.encode(b"In the beginning"))
        self.assertEqual(t.decode(array.array("i", ids[:20])), t.decode(ids[:20]))

    def test_stream_never_splits_utf8(self):
        t = self.tok
        text = "é ü — ✓ God".encode()
        ids = t.encode(text)
        s = t.stream()
        out = b""
        for i in ids:
            piece = s.decode([i])
            piece.decode("utf-8")  # every piece is valid UTF-8 on its own
            out += piece
        out += s.flush()
        self.assertEqual(out, text)
        self.assertEqual(s.n_pending, 0)

    @unittest.skipUnless(CLI, "LLM_CLI not set")
    def test_ids_equal_cli_tokenize(self):
        cli_ids = [int(x) for x in cli("tokenize", "--tokenizer", tok_dir, "--file",
                                       TEXT_PATH).split()]
        self.assertEqual(self.tok.encode(TEXT), cli_ids)
        j = json.loads(cli("tokenize", "--tokenizer", tok_dir, "--json", stdin=b"In the beginning"))
        self.assertEqual(self.tok.encode("In the beginning"), j["ids"])
        self.assertEqual(cli("detokenize", "--tokenizer", tok_dir,
                             stdin=" ".join(map(str, cli_ids)).encode()), TEXT)

    def test_user_special_tokens(self):
        with libllm.Tokenizer(tok_dir, special=["<|user|>", b"<|bot|>"]) as t:
            self.assertEqual(t.n_vocab, N_VOCAB + 2)
            ids = t.encode("<|user|>hi<|bot|>", parse_special=True)
            self.assertEqual((ids[0], ids[-1]), (N_VOCAB, N_VOCAB + 1))
            self.assertEqual(t.is_special(N_VOCAB), 1)
            self.assertEqual(t.decode(ids), b"<|user|>hi<|bot|>")
            self.assertNotIn(N_VOCAB, t.encode("<|user|>"))  # plain text without the flag
        with self.assertRaises(TypeError):
            libllm.Tokenizer(tok_dir, special=[1])
        with self.assertRaises(libllm.InvalidArgument):
            libllm.Tokenizer(tok_dir, special=[""])

    def test_save_gguf_and_reload(self):
        p = os.path.join(tmp, "t.gguf")
        self.tok.save(p, 2)
        with libllm.Tokenizer(p) as t2:
            self.assertEqual(t2.encode(TEXT[:500]), self.tok.encode(TEXT[:500]))

    def test_bad_input(self):
        t = self.tok
        with self.assertRaises(TypeError):
            t.encode(123)
        with self.assertRaises(TypeError):
            t.decode("abc")
        with self.assertRaises(TypeError):
            t.decode([1, "x"])
        with self.assertRaises(OverflowError):
            t.decode([2 ** 40])
        with self.assertRaises(libllm.OutOfRange) as cm:
            t.decode([1, 2, 10 ** 6])
        self.assertIn("2", cm.exception.message)  # names the index
        os.makedirs(os.path.join(tmp, "empty-dir"), exist_ok=True)
        with self.assertRaises(libllm.NotFound):
            libllm.Tokenizer(os.path.join(tmp, "empty-dir"))
        with self.assertRaises(libllm.Error) as cm:
            libllm.Tokenizer("/nonexistent/tokenizer.json")
        self.assertTrue(cm.exception.message)
        with self.assertRaises(TypeError):
            libllm.Tokenizer(42)
        with self.assertRaises(ValueError):
            libllm.Tokenizer(tok_dir, pattern="nope")

    def test_train_progress_exception_propagates(self):
        seen = []

        class Boom(Exception):
            pass

        def progress(phase, done, total):
            seen.append((phase, done, total))
            raise Boom("stop here")

        with self.assertRaises(Boom):
            libllm.Tokenizer.train([TEXT_PATH], 600, progress=progress)
        self.assertEqual(len(seen), 1)
        self.assertEqual(seen[0][0], 6)  # LLM_PHASE_TOKENIZER_TRAIN
        # a truthy return cancels cleanly
        with self.assertRaises(libllm.Cancelled):
            libllm.Tokenizer.train([TEXT_PATH], 600, progress=lambda *a: True)

    def test_closed(self):
        t = libllm.Tokenizer(tok_dir)
        t.close()
        t.close()  # idempotent
        for call in (lambda: t.encode("x"), lambda: t.n_vocab, lambda: t.decode([1]),
                     lambda: t.stream(), lambda: t.save(tmp)):
            with self.assertRaises(libllm.ClosedError):
                call()
        with libllm.Tokenizer(tok_dir) as t2:
            s = t2.stream()
        with self.assertRaises(libllm.ClosedError):
            s.decode([1])


class TestModel(unittest.TestCase):
    def setUp(self):
        self.m = libllm.Model(model_path)

    def tearDown(self):
        self.m.close()

    def test_metadata(self):
        m = self.m
        c = m.config
        self.assertEqual((c.arch, c.n_vocab, c.n_ctx, c.n_embd, c.n_layer, c.n_head),
                         (1, N_VOCAB, 64, 32, 2, 2))
        names = m.tensor_names()
        self.assertIn("token_embd.weight", names)
        total = 0
        for n in names:
            shape = m.tensor_shape(n)
            total += math.prod(shape)
        # n_params counts every tensor once
        self.assertEqual(m.n_params, total)
        self.assertEqual(m.file_type, 0)
        self.assertEqual(libllm.count_model(c).n_params, m.n_params)
        self.assertIsNotNone(m.tokenizer)
        self.assertGreater(m.estimate_ctx_bytes(n_ctx=64), 2 * 2 * 64 * 32 * 4)

    def test_quantize_q8_0(self):
        out = os.path.join(tmp, "model-q8.gguf")
        libllm.quantize(model_path, out)
        q = libllm.Model.load(out)
        try:
            self.assertEqual(q.file_type, 7)
            self.assertEqual(q.tensor_type("token_embd.weight"), libllm.TYPE_Q8_0)
            self.assertEqual(q.tensor_type("output_norm.weight"), libllm.TYPE_F32)
            self.assertEqual(self.m.tensor_type("token_embd.weight"), libllm.TYPE_F32)
            # Q8_0 rounds each weight to the nearest step d = max|block| / 127,
            # and d itself to fp16 (relative error 2^-11, times |q| <= 127)
            a = self.m.tensor_copy("token_embd.weight")
            b = q.tensor_copy("token_embd.weight")
            for i in range(0, len(a), 32):
                d = max(abs(x) for x in a[i:i + 32]) / 127
                self.assertLessEqual(max(abs(x - y) for x, y in zip(a[i:i + 32], b[i:i + 32])),
                                     d * (0.5 + 127 / 2048) + 1e-12)
        finally:
            q.close()
        with self.assertRaises(ValueError):
            libllm.quantize(model_path, out, type="q4_0")
        with self.assertRaises(libllm.Error):
            libllm.quantize(os.path.join(tmp, "missing.gguf"), out)
        with self.assertRaises(libllm.Error):
            self.m.tensor_type("no.such.tensor")

    @unittest.skipUnless(CLI, "LLM_CLI not set")
    def test_info_equals_cli(self):
        j = json.loads(cli("info", model_path, "--json"))
        self.assertEqual(j["n_params"], self.m.n_params)
        self.assertEqual(j["n_embd"], self.m.config.n_embd)

    def test_tensor_views_are_zero_copy(self):
        m = self.m
        v = m.tensor("token_embd.weight")
        self.assertEqual(v.shape, m.tensor_shape("token_embd.weight"))
        self.assertTrue(v.readonly)
        self.assertEqual(v.format, "f")
        copy = m.tensor_copy("token_embd.weight")
        self.assertEqual(v.tobytes(), copy.tobytes())
        # the view points into the library's memory, not a Python copy
        p = ctypes.POINTER(ctypes.c_float)()
        n = ctypes.c_size_t()
        _lib.llm_model_tensor_data(ctypes.byref(p), ctypes.byref(n), m._h, b"token_embd.weight")
        arr = v.obj
        self.assertEqual(ctypes.addressof(arr), ctypes.addressof(p.contents))
        with self.assertRaises(libllm.NotFound):
            m.tensor("nope")
        with libllm.Model(model_path) as m2:
            v2 = m2.tensor("output_norm.weight")
            c2 = m2.context(n_ctx=8)
            z2 = c2.decode([1, 2])
        with self.assertRaises(ValueError):  # released at close, never a read of freed memory
            v2[0]
        with self.assertRaises(ValueError):
            z2[0]
        try:
            import numpy
        except ImportError:
            return
        a = numpy.asarray(v)
        self.assertEqual(a.shape, v.shape)
        self.assertEqual(float(a[1, 2]), v[1, 2])
        self.assertEqual(a.ctypes.data, ctypes.addressof(p.contents))  # no copy
        with m.context(n_ctx=8) as c:
            z = c.decode([1, 2])
            az = numpy.asarray(z)
            self.assertEqual(int(az.argmax()), argmax(z.tolist()))
            self.assertEqual(az.dtype, numpy.float32)
            self.assertFalse(az.flags.writeable)
            del az

    def test_load_mem_and_import_give_the_same_model(self):
        with open(model_path, "rb") as f:
            data = f.read()
        with libllm.Model.load_mem(data) as m2, libllm.Model.import_checkpoint(model_path) as m3:
            for m in (m2, m3):
                self.assertEqual(m.tensor("blk.1.ffn_up.weight").tobytes(),
                                 self.m.tensor("blk.1.ffn_up.weight").tobytes())

    def test_progress_on_load(self):
        seen = []
        with libllm.Model.load(model_path, progress=lambda ph, d, t: seen.append((ph, d, t))):
            pass
        self.assertTrue(seen and all(ph == 1 and d <= t for ph, d, t in seen))

        def boom(*a):
            raise KeyError("from progress")

        with self.assertRaises(KeyError):
            libllm.Model.load(model_path, progress=boom)

    def test_bad_files(self):
        bad = os.path.join(tmp, "bad.gguf")
        with open(bad, "wb") as f:
            f.write(b"GGUF" + b"\x03\x00\x00\x00" + b"\x00" * 7)
        with self.assertRaises(libllm.BadFile) as cm:
            libllm.Model(bad)
        self.assertIn("bad.gguf", cm.exception.message)
        with self.assertRaises(libllm.NotFound):
            libllm.Model(os.path.join(tmp, "missing.gguf"))
        with self.assertRaises(TypeError):
            libllm.Model.load_mem("not bytes")
        with self.assertRaises(libllm.InvalidArgument) as cm:
            libllm.Model.create(n_vocab=100, n_embd=30, n_head=4)
        self.assertIn("n_head", str(cm.exception))
        # values ctypes would wrap silently are refused before the C call
        with self.assertRaises(ValueError):
            libllm.ModelConfig(n_embd=-1)
        with self.assertRaises(OverflowError):
            libllm.ModelConfig(n_layer=2 ** 32)
        with self.assertRaises(TypeError):
            libllm.ModelConfig(norm_eps="small")
        with self.assertRaises(TypeError):
            libllm.ModelConfig(bogus=1)
        with self.assertRaises(OverflowError):
            libllm.Sampler(3, top_k=2 ** 31)
        with self.assertRaises(OverflowError):
            self.m.context(n_ctx=2 ** 32)

    def test_closing_the_model_closes_its_children(self):
        m = libllm.Model(model_path)
        c = m.context(n_ctx=16)
        tok = m.tokenizer
        m.close()
        self.assertTrue(c.closed and tok.closed)
        for call in (lambda: c.decode([1]), lambda: m.n_params, lambda: tok.encode("x"),
                     lambda: m.tensor("token_embd.weight"), lambda: libllm.Context(m)):
            with self.assertRaises(libllm.ClosedError):
                call()
        # finalizers free what was never closed, children first
        m2 = libllm.Model(model_path)
        c2 = m2.context()
        del m2
        gc.collect()
        self.assertEqual(c2.n_ctx, 64)  # the context keeps its model alive
        del c2
        gc.collect()

    def test_save_roundtrip(self):
        p = os.path.join(tmp, "resaved.gguf")
        self.m.save(p)
        with libllm.Model(p) as m2:
            self.assertEqual(m2.tensor("output_norm.weight").tobytes(),
                             self.m.tensor("output_norm.weight").tobytes())
            self.assertEqual(m2.tokenizer.encode(TEXT[:300]), self.m.tokenizer.encode(TEXT[:300]))


class TestContext(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.m = libllm.Model(model_path)
        cls.ids = cls.m.tokenize(TEXT)[:40]

    @classmethod
    def tearDownClass(cls):
        cls.m.close()

    def test_decode_equals_forward_and_loss_equals_log_softmax(self):
        ids = self.ids[:12]
        with self.m.context(n_ctx=64) as c:
            full = c.forward(ids)                       # (1, 12, V)
            self.assertEqual(full.shape, (1, 12, N_VOCAB))
            last = c.forward(ids, last_only=True)
            self.assertEqual(last.shape, (1, N_VOCAB))
            z = c.decode(ids)                           # lent view
            self.assertTrue(z.readonly)
            self.assertEqual(c.n_past, 12)
            for a, b in zip(z.tolist(), [full[0, 11, j] for j in range(N_VOCAB)]):
                self.assertAlmostEqual(a, b, delta=1e-4)
            self.assertEqual(c.logits().tobytes(), z.tobytes())
            # loss vs an independent log-softmax in Python (double)
            rows = [[full[0, i, j] for j in range(N_VOCAB)] for i in range(11)]
            want = -math.fsum(log_softmax_at(rows[i], ids[i + 1]) for i in range(11)) / 11
            loss, lp = c.loss(ids[:-1], ids[1:], logprobs=True)
            self.assertAlmostEqual(loss, want, delta=1e-4)
            self.assertAlmostEqual(-sum(lp) / 11, want, delta=1e-4)
            flat = array.array("f", [v for r in rows for v in r])
            self.assertAlmostEqual(libllm.cross_entropy(flat, ids[1:], N_VOCAB), want, delta=1e-5)
            ce, lp2 = libllm.cross_entropy(flat, ids[1:], N_VOCAB, logprobs=True)
            self.assertEqual(len(lp2), 11)
            c.truncate(5)
            self.assertEqual(c.n_past, 5)
            c.reset()
            self.assertEqual(c.n_past, 0)
            with self.assertRaises(libllm.StateError):
                c.logits()

    def test_eval_and_attention(self):
        with self.m.context(n_ctx=64, attention=True) as c:
            nll, n = c.eval(self.ids, window=16)
            self.assertEqual(n, len(self.ids) - 1)
            self.assertGreater(nll, 0)
            c.capture_attention(1, 1)
            c.forward(self.ids[:8])
            a = c.attention()
            self.assertEqual(a.shape[0], 8)
            for r in range(8):
                self.assertAlmostEqual(sum(a[r, j] for j in range(r + 1)), 1.0, delta=1e-5)
            with self.assertRaises(libllm.OutOfRange):
                c.capture_attention(5, 0)
        with self.m.context(n_ctx=16) as c:
            with self.assertRaises(libllm.StateError):
                c.capture_attention(0, 0)

    def test_errors_and_callbacks(self):
        with self.m.context(n_ctx=16) as c:
            with self.assertRaises(libllm.OutOfRange) as cm:
                c.decode([1, N_VOCAB + 5])
            self.assertTrue(cm.exception.message)
            self.assertEqual(c.n_past, 0)  # unchanged on failure
            with self.assertRaises(libllm.OutOfRange):
                c.decode(list(range(17)))
            with self.assertRaises(ValueError):
                c.forward([1, 2, 3], n_seq=2)
            with self.assertRaises(ValueError):
                c.loss([1, 2], [1])
            with self.assertRaises(TypeError):
                c.decode([1.5])
            with self.assertRaises(TypeError):
                libllm.Context("model")
        calls = []

        def boom(phase, done, total):
            calls.append(phase)
            raise RuntimeError("user code failed")

        with self.m.context(n_ctx=16, n_batch=16, progress=boom) as c:
            with self.assertRaises(RuntimeError):
                c.eval(self.ids, window=8)
            self.assertEqual(calls, [5])  # LLM_PHASE_EVAL, once: the C side stopped
            calls.clear()
            with self.assertRaises(RuntimeError):
                c.eval(self.ids, window=8)  # the context is reusable
        with self.m.context(n_ctx=16, progress=lambda *a: True) as c:
            with self.assertRaises(libllm.Cancelled):
                c.eval(self.ids, window=8)

    def test_close_from_a_callback_is_refused(self):
        m = libllm.Model(model_path)
        holder = []
        c = m.context(n_ctx=16, n_batch=16, progress=lambda *a: holder[0].close())
        holder.append(m)  # closing the model would close the running context
        with self.assertRaises(libllm.StateError) as cm:
            c.eval(self.ids, window=8)
        self.assertIn("callback", str(cm.exception))
        holder[0] = c
        with self.assertRaises(libllm.StateError):
            c.eval(self.ids, window=8)
        self.assertFalse(c.closed or m.closed)
        g = m.generate("And", max_tokens=3, temperature=0)  # still usable
        self.assertEqual(len(g.tokens), 3)
        with self.assertRaises(libllm.StateError):
            m.generate("And", max_tokens=3, on_token=lambda t, p: m.close())
        m.close()
        self.assertTrue(c.closed)

    def test_interrupt_from_a_callback(self):
        holder = []
        with self.m.context(n_ctx=16, n_batch=16,
                            progress=lambda *a: holder[0].interrupt()) as c:
            holder.append(c)
            with self.assertRaises(libllm.Cancelled):
                c.eval(self.ids, window=8)

    def test_interrupt(self):
        with self.m.context(n_ctx=64) as c:
            c.interrupt()
            with self.assertRaises(libllm.Cancelled):
                c.decode(self.ids[:4])
            c.reset()  # clears the pending interrupt
            c.decode(self.ids[:4])


class TestSampler(unittest.TestCase):
    def test_greedy_probs_and_params(self):
        z = array.array("f", [0.5, 2.0, -1.0, 2.0, 0.0])
        with libllm.Sampler(5, temperature=0) as s:
            self.assertEqual(s.sample(z), 1)  # ties go to the lower id
            p, kept = s.probs(z)
            self.assertEqual(list(p), [0, 1, 0, 0, 0])
        with libllm.Sampler(5, seed=3) as s:
            p, kept = s.probs(z)
            self.assertEqual(kept, 5)
            ez = [math.exp(v - 2.0) for v in z]
            for a, b in zip(p, ez):
                self.assertAlmostEqual(a, b / sum(ez), delta=1e-5)
            s.set("top_k", 2)
            self.assertEqual(s.get("top_k"), 2)
            self.assertEqual(s.get_i32(2), 2)
            s.set_f32(1, 0.5)
            self.assertEqual(s.get("temperature"), 0.5)
            self.assertEqual(s.get_f32(1), 0.5)
            p, kept = s.probs(z)
            self.assertEqual(kept, 2)
            with self.assertRaises(libllm.InvalidArgument):
                s.set("top_p", 1.5)
            with self.assertRaises(libllm.InvalidArgument):
                s.set_i32(1, 3)  # TEMP is a float key
            with self.assertRaises(ValueError):
                s.get("nope")
            seq1 = [s.sample(z) for _ in range(20)]
            s.reset(3)
            s.set("top_k", 2)
            self.assertEqual(seq1, [s.sample(z) for _ in range(20)])
        b = libllm.param_bounds("top_p")
        self.assertEqual((b["name"], b["type"], b["max"], b["min_open"]),
                         ("LLM_SAMPLER_TOP_P", "f32", 1.0, True))

    def test_penalties_bias_and_errors(self):
        z = [1.0, 1.0, 0.0]
        with libllm.Sampler(3, temperature=0, logit_bias={0: float("-inf")}) as s:
            self.assertEqual(s.sample(z), 1)
        with libllm.Sampler(3, temperature=0, presence_penalty=5.0, auto_accept=False) as s:
            s.accept(0)
            self.assertEqual(s.sample(z), 1)
            self.assertEqual(s.sample(z), 1)  # not accepted automatically
            with self.assertRaises(libllm.InvalidArgument):
                s.sample([1.0, float("nan"), 0.0])
            with self.assertRaises(libllm.InvalidArgument):
                s.sample([1.0, 2.0])  # wrong n_vocab
            with self.assertRaises(libllm.InvalidArgument):
                s.accept(7)
        with self.assertRaises(libllm.InvalidArgument) as cm:
            libllm.Sampler(3, top_p=2.0)
        self.assertIn("top_p", cm.exception.message)
        s = libllm.Sampler(3)
        s.close()
        with self.assertRaises(libllm.ClosedError):
            s.sample(z)


class TestGeneration(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.m = libllm.Model(model_path)

    @classmethod
    def tearDownClass(cls):
        cls.m.close()

    def greedy_oracle(self, prompt, n):
        # an independent greedy loop: decode + arg-max in Python
        ids = self.m.tokenize(prompt)
        out = []
        with self.m.context() as c:
            z = c.decode(ids)
            for _ in range(n):
                t = argmax(z.tolist())
                if t == self.m.tokenizer.eos:
                    break
                out.append(t)
                z = c.decode([t])
        return out

    def test_greedy_generate_equals_decode_argmax(self):
        g = self.m.generate("And God said", max_tokens=20, temperature=0)
        self.assertEqual(g.tokens, self.greedy_oracle("And God said", 20))
        self.assertEqual(g.text, self.m.detokenize(g.tokens))
        self.assertIn(g.reason, ("max_tokens", "eos"))

    @unittest.skipUnless(CLI, "LLM_CLI not set")
    def test_generate_equals_cli(self):
        for temp, seed in (("0", "0"), ("0.9", "5")):
            j = json.loads(cli("generate", "--model", model_path, "--prompt", "And God said",
                               "-n", "24", "--temp", temp, "--seed", seed, "--top-k", "40",
                               "--json"))
            g = self.m.generate("And God said", max_tokens=24, temperature=float(temp),
                                seed=int(seed), top_k=40)
            self.assertEqual(g.tokens, j["tokens"], (temp, seed))
            self.assertEqual(g.text, j["text"])
            self.assertEqual(g.reason, j["reason"])

    @unittest.skipUnless(CLI, "LLM_CLI not set")
    def test_evaluate_equals_cli(self):
        for ctx in ("64", "16"):
            j = json.loads(cli("eval", "--model", model_path, "--file", TEXT_PATH, "--ctx", ctx,
                               "--json", "--quiet"))
            e = self.m.evaluate(TEXT, ctx=int(ctx))
            self.assertEqual(e.tokens, j["tokens"])
            self.assertEqual(float("%.9g" % e.loss), j["loss"])
            self.assertEqual(float("%.9g" % e.ppl), j["ppl"])
            self.assertEqual(float("%.9g" % e.bpb), j["bpb"])

    def test_generator_stepwise(self):
        m = self.m
        with m.context(n_ctx=64) as c, libllm.Sampler(m.n_vocab, seed=11) as s, \
                libllm.Generator(c, s, m.tokenizer, max_tokens=10) as g:
            with self.assertRaises(libllm.StateError):
                g.next()  # nothing fed
            g.feed("And God")
            pieces = list(g)
            toks = [t for t, _ in pieces if t >= 0]
            self.assertEqual(len(toks), 10)
            self.assertEqual(g.reason, 3)
            self.assertEqual(libllm.reason_str(g.reason), "max_tokens")
            r = g.result()
            self.assertEqual((r.reason, r.n_tokens), ("max_tokens", 10))
            self.assertEqual(b"".join(p for _, p in pieces), m.tokenizer.decode(toks))
            self.assertGreater(g.max_piece, 0)
            # same seed through llm_generate gives the same tokens
            g.reset()
            s.reset(11)
            out = libllm.generate(c, s, m.tokenizer, "And God", max_tokens=10)
            self.assertEqual(out.tokens, toks)
            # budgeted steps: budget 0 makes exactly one call
            g.reset()
            s.reset(11)
            g.feed_tokens(m.tokenize("And God"))
            got, calls = [], 0
            while True:
                st, ts, text = g.step(0)
                calls += 1
                got += ts
                if st == 2:
                    break
            self.assertEqual(got, toks)
            self.assertGreaterEqual(calls, 10)
            # a generous budget finishes the whole turn in one call
            g.reset()
            s.reset(11)
            g.feed("And God")
            st, ts, text = g.step(60_000_000, max_tokens=64)
            self.assertEqual((st, ts), (2, toks))
            self.assertEqual(text, m.tokenizer.decode(toks))
            g.reset()
            g.feed("And")
            g.next()
            g.cancel()
            st, tok, _ = g.next()
            self.assertEqual(st, 2)
            self.assertEqual(libllm.reason_str(g.reason), "cancelled")

    def test_stop_sequences_and_callbacks(self):
        m = self.m
        ref = m.generate("And God", max_tokens=16, temperature=0)
        stop = ref.text[4:7]
        g = m.generate("And God", max_tokens=16, temperature=0, stop=[stop])
        self.assertEqual(g.reason, "stop")
        self.assertTrue(ref.text.startswith(g.text))
        self.assertNotIn(stop, g.text)
        seen = []
        g2 = m.generate("And God", max_tokens=16, temperature=0,
                        on_token=lambda t, p: seen.append(t) or len(seen) == 3)
        self.assertEqual(g2.reason, "cancelled")
        self.assertEqual(seen, ref.tokens[:3])

        class Boom(Exception):
            pass

        def raising(t, p):
            raise Boom()

        with self.assertRaises(Boom):
            m.generate("And God", max_tokens=16, on_token=raising)
        with m.context() as c, libllm.Sampler(m.n_vocab) as s, \
                libllm.Generator(c, s, m.tokenizer, on_token=raising) as gen:
            gen.feed("And")
            with self.assertRaises(Boom):
                list(gen)
            gen.reset()  # still usable after the exception
        # bad arguments
        with m.context() as c, libllm.Sampler(m.n_vocab + 1) as s:
            with self.assertRaises(libllm.InvalidArgument):
                libllm.Generator(c, s, m.tokenizer)
            with self.assertRaises(TypeError):
                libllm.Generator(c, "sampler")

    def test_stream(self):
        pieces = list(self.m.stream("And God", max_tokens=8, temperature=0))
        ref = self.m.generate("And God", max_tokens=8, temperature=0)
        self.assertEqual([t for t, _ in pieces if t >= 0], ref.tokens)
        self.assertEqual("".join(p for _, p in pieces), ref.text)


class TestTrainer(unittest.TestCase):
    def make(self, **kw):
        m = libllm.Model.create(libllm.ModelConfig(arch=2, n_vocab=64, n_ctx=16, n_embd=16,
                                                   n_layer=1, n_head=2, n_ff=32), 3)
        return m, libllm.Trainer(m, batch=2, seq_len=8, **kw)

    def test_steps_schedule_checkpoint(self):
        stream = [(i * 7 + i // 5) % 64 for i in range(400)]
        m, tr = self.make(lr=1e-2, warmup_steps=2, total_steps=10, min_lr=1e-3)
        self.assertEqual(tr.tokens_per_step, 16)
        self.assertEqual(tr.lr(0), 1e-2 * 1 / 3)
        want = 1e-3 + 0.5 * (1 + math.cos(math.pi * (5 - 2) / (10 - 2))) * (1e-2 - 1e-3)
        self.assertAlmostEqual(tr.lr(5), want, places=15)
        self.assertEqual(tr.grad_norm, 0.0)
        a, t = tr.next_batch(stream)
        self.assertEqual((a[:8], t[:8]), (stream[:8], stream[1:9]))
        l0 = tr.eval(a, t)
        first = tr.step(a, t)
        self.assertEqual(first, l0)
        self.assertGreater(tr.grad_norm, 0)
        self.assertEqual(len(tr.grad("token_embd.weight")), 64 * 16)
        for _ in range(4):
            tr.step(a, t)
        self.assertLess(tr.eval(a, t), l0)
        self.assertEqual(tr.n_steps, 5)
        ck = os.path.join(tmp, "ck.gguf")
        tr.save(ck)
        b = tr.next_batch(stream)
        want = tr.step(*b)
        m2, tr2 = self.make(lr=1e-2, warmup_steps=2, total_steps=10, min_lr=1e-3)
        tr2.load(ck)
        self.assertEqual(tr2.n_steps, 5)
        self.assertEqual(tr2.next_batch(stream), b)  # the cursor was restored
        self.assertEqual(tr2.step(*b), want)          # bit for bit
        m.close()
        self.assertTrue(tr.closed)
        with self.assertRaises(libllm.ClosedError):
            tr.step(a, t)
        m2.close()

    def test_errors_and_progress(self):
        m, tr = self.make()
        with self.assertRaises(libllm.InvalidArgument):
            tr.step([1] * 15, [1] * 15)
        with self.assertRaises(libllm.OutOfRange) as cm:
            tr.step([1] * 15 + [99], [1] * 16)
        self.assertIn("15", cm.exception.message)
        with self.assertRaises(ValueError):
            tr.step([1] * 16, [1] * 15)
        with self.assertRaises(libllm.OutOfRange):
            tr.next_batch([1] * 10)
        with self.assertRaises(libllm.BadFile):
            tr.load(model_path)
        tr.close()

        def boom(*a):
            raise ZeroDivisionError()

        tr = libllm.Trainer(m, batch=2, seq_len=8, progress=boom)
        with self.assertRaises(ZeroDivisionError):
            tr.step([1] * 16, [2] * 16)
        self.assertEqual(tr.n_steps, 0)  # cancelled steps change nothing
        m.close()
        with self.assertRaises(TypeError):
            libllm.Trainer("model")

    def test_load_tokens(self):
        p = os.path.join(tmp, "toks.u32")
        with open(p, "wb") as f:
            f.write(struct.pack("<5I", 1, 2, 70000, 4, 5))
        self.assertEqual(list(libllm.load_tokens(p)), [1, 2, 70000, 4, 5])
        with open(os.path.join(tmp, "toks.bin"), "wb") as f:
            f.write(struct.pack("<3H", 9, 8, 65535))
        self.assertEqual(list(libllm.load_tokens(os.path.join(tmp, "toks.bin"))), [9, 8, 65535])
        self.assertEqual(list(libllm.load_tokens(p, 4))[:4], [1, 0, 0, 0])
        with self.assertRaises(libllm.NotFound):
            libllm.load_tokens(os.path.join(tmp, "none.bin"))


class TestPlan(unittest.TestCase):
    def test_formulas(self):
        k = libllm.Constants()
        self.assertEqual((k.E, k.A, k.B, k.alpha, k.beta), (1.69, 406.4, 410.7, 0.34, 0.28))
        n, d = 1e9, 2e10
        self.assertAlmostEqual(libllm.plan_loss(n, d), 1.69 + 406.4 / n ** 0.34 + 410.7 / d ** 0.28,
                               places=12)
        p = libllm.plan_for_compute(1e21)
        self.assertAlmostEqual(p.compute, 6 * p.params * p.tokens, delta=1e21 * 1e-12)
        self.assertAlmostEqual(p.loss, libllm.plan_loss(p.params, p.tokens), places=12)
        self.assertAlmostEqual(libllm.plan_for_params(p.params).compute, 1e21, delta=1e21 * 1e-9)
        self.assertAlmostEqual(libllm.plan_for_tokens(p.tokens).compute, 1e21, delta=1e21 * 1e-9)
        self.assertEqual(libllm.plan_seconds(1e9, 1e4), 1e5)
        self.assertEqual(libllm.plan_budget(10.0, 100.0, 1e6), 6 * 1e6 * 100 * 10)
        custom = libllm.Constants(E=1.8)
        self.assertEqual((custom.preset, custom.E, custom.A), (0, 1.8, 406.4))
        self.assertAlmostEqual(libllm.plan_loss(n, d, custom) - libllm.plan_loss(n, d), 0.11,
                               places=12)
        with self.assertRaises(TypeError):
            libllm.Constants(F=1.0)
        b = libllm.Constants("besiroglu2024")
        self.assertEqual(b.preset, 3)
        self.assertNotEqual(libllm.plan_for_compute(1e21, 3, b).params, p.params)
        with self.assertRaises(libllm.InvalidArgument) as cm:
            libllm.plan_for_compute(-1.0)
        self.assertIn("compute", cm.exception.message)
        with self.assertRaises(libllm.InvalidArgument):
            libllm.plan_for_compute(1e21, approach=4)
        with self.assertRaises(TypeError):
            libllm.plan_for_compute("1e21")

    @unittest.skipUnless(CLI, "LLM_CLI not set")
    def test_plan_equals_cli(self):
        for approach in ("1", "2", "3"):
            j = json.loads(cli("plan", "--compute", "1e21", "--approach", approach, "--json"))
            p = libllm.plan_for_compute(1e21, int(approach))
            for key in ("compute", "params", "tokens", "tokens_per_param", "loss"):
                self.assertAlmostEqual(getattr(p, key), j[key], delta=abs(j[key]) * 1e-8, msg=key)

    def test_counts_suggest_and_fit(self):
        c = libllm.count_model()  # GPT-2 small
        self.assertEqual(c.n_params, 124439808)
        self.assertEqual(c.n_params, c.n_params_embedding + c.n_params_non_embedding)
        self.assertEqual(libllm.count_train_flops(1e9), 6 * 124439808 * 1e9)
        self.assertAlmostEqual(libllm.count_train_flops(1e9, 2), c.flops_train_kaplan * 1e9,
                               delta=1e6)
        cfg, n = libllm.suggest_config(50e6)
        self.assertEqual(libllm.count_model(cfg).n_params, n)
        self.assertLess(abs(n - 50e6) / 50e6, 0.05)
        # synthetic runs from known constants are fitted back
        E, A, B, al, be = 1.8, 400.0, 300.0, 0.35, 0.3
        N = [1e7, 3e7, 1e8, 3e8, 1e9, 1e7, 1e8, 1e9, 3e7, 3e8]
        D = [1e9, 3e9, 1e10, 3e10, 1e11, 1e10, 1e9, 3e9, 3e10, 1e11]
        L = [E + A / n ** al + B / d ** be for n, d in zip(N, D)]
        calls = []
        r = libllm.fit_scaling_law(N, D, L, grid=1, progress=lambda *a: calls.append(a))
        self.assertTrue(r.converged)
        self.assertAlmostEqual(r.alpha, al, delta=0.02)
        self.assertAlmostEqual(r.E, E, delta=0.05)
        self.assertEqual(len(calls), 108)
        with self.assertRaises(libllm.InvalidArgument) as cm:
            libllm.fit_scaling_law(N[:4], D[:4], L[:4])
        with self.assertRaises(libllm.InvalidArgument) as cm:
            libllm.fit_scaling_law(N, D, L[:-1] + [-1.0])
        self.assertIn("loss[9]", cm.exception.message)

        def boom(*a):
            raise OSError("user")

        with self.assertRaises(OSError):
            libllm.fit_scaling_law(N, D, L, grid=1, progress=boom)


class TestProcessHooks(unittest.TestCase):
    def run_py(self, code):
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=dict(os.environ, MODEL=model_path))
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def test_allocator_and_log(self):
        out = self.run_py(r'''
import ctypes, os, libllm
from libllm import _lib
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p; libc.malloc.argtypes = [ctypes.c_size_t]
libc.realloc.restype = ctypes.c_void_p; libc.realloc.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
live = {"bytes": 0, "calls": 0}
def alloc(ud, ptr, osize, nsize):
    live["calls"] += 1
    if nsize == 0:
        if ptr: live["bytes"] -= osize
        libc.free(ptr); return None
    p = libc.realloc(ptr, nsize) if ptr else libc.malloc(nsize)
    if p: live["bytes"] += nsize - (osize if ptr else 0)
    return p
lines = []
libllm.set_log(lambda level, msg: lines.append((level, msg)), libllm.LOG_DEBUG)
cb = _lib.ALLOC_FN(alloc)
libllm.set_allocator(cb)
m = libllm.Model(os.environ["MODEL"], no_mmap=True)
try:
    libllm.set_allocator(None)
    raise SystemExit("set_allocator with a live handle must fail")
except libllm.StateError:
    pass
peak = live["bytes"]
m.close()
print(live["calls"] > 0, peak > 1000, live["bytes"])
libllm.set_allocator(None)
try:
    libllm.Model("/nonexistent/x.gguf")
except libllm.NotFound:
    pass
# failures are logged at LLM_LOG_DEBUG with their detail message
print(any(level == libllm.LOG_DEBUG and "/nonexistent/x.gguf" in msg for level, msg in lines))
''')
        self.assertEqual(out.split(), ["True", "True", "0", "True"])


if __name__ == "__main__":
    unittest.main()
