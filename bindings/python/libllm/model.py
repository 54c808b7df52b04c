"""Model and Context (llm_model_*, llm_ctx_*, llm_cross_entropy), and the
convenience layer Model.tokenize/detokenize/generate/evaluate."""
import array
import ctypes
import math
import os
from typing import Any, Callable, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

from . import _lib
from ._base import (Handle, busy, bytes_arg, call, check_nonneg, check_u32, set_fields, float_view, floats_arg, path_arg,
                    progress_callback, tokens_arg, _int32)
from .errors import check
from .tokenizer import Tokenizer

ARCH_GPT2, ARCH_LLAMA = 1, 2
CFG_UNTIED_OUTPUT, CFG_QKV_BIAS = 0x1, 0x2
MODEL_NO_MMAP = 0x1
CTX_ATTENTION = 0x1
FORWARD_LAST = 0x1
PHASE_LOAD, PHASE_PREFILL, PHASE_DECODE, PHASE_TRAIN_STEP, PHASE_EVAL = 1, 2, 3, 4, 5
PHASE_TOKENIZER_TRAIN, PHASE_CONVERT, PHASE_FIT = 6, 7, 8


def _struct_repr(s) -> str:
    return f"{type(s).__name__}(" + ", ".join(
        f"{n}={getattr(s, n)!r}" for n, _ in s._fields_ if n not in ("struct_size",)
        and not n.startswith("reserved")) + ")"


def _struct_dict(s) -> dict:
    return {n: getattr(s, n) for n, _ in s._fields_
            if n != "struct_size" and not n.startswith("reserved")}


class ModelConfig(_lib.llm_model_config):
    """llm_model_config: ModelConfig(arch=ARCH_GPT2, n_vocab=..., ...).
    Unset fields keep llm_model_config_init's defaults (GPT-2 small),
    except that derived sizes follow the fields given: n_head_kv defaults
    to n_head when n_head is given, n_ff to the library's default (4*C for
    gpt2) when n_embd is given."""

    def __init__(self, **fields: Any):
        super().__init__()
        check(_lib.llm_model_config_init(ctypes.byref(self), ctypes.sizeof(self)))
        if fields:
            if "n_head" in fields and "n_head_kv" not in fields:
                self.n_head_kv = 0
            if ("n_embd" in fields or "arch" in fields) and "n_ff" not in fields:
                self.n_ff = 0
        set_fields(self, fields)

    __repr__ = _struct_repr
    as_dict = _struct_dict


TYPE_F32, TYPE_Q8_0 = 0, 8
_QUANT_TYPES = {"q8_0": TYPE_Q8_0}


def quantize(in_path: Union[str, os.PathLike], out_path: Union[str, os.PathLike], *,
             type: Union[str, int] = "q8_0", progress: Optional[Callable] = None) -> None:
    """Writes in_path's model to out_path with its weight matrices quantized
    (llm_model_quantize; llama.cpp's Q8_0 layout, written atomically)."""
    if isinstance(type, str):
        if type.lower() not in _QUANT_TYPES:
            raise ValueError("type must be one of %s, not %r" % (sorted(_QUANT_TYPES), type))
        type = _QUANT_TYPES[type.lower()]
    o = _lib.new_struct(_lib.llm_quantize_opts, _lib.llm_quantize_opts_init)
    o.type = check_u32(type, "type")
    cb = progress_callback(progress)
    if cb is not None:
        o.progress = cb.c
    call(lambda: _lib.llm_model_quantize(path_arg(in_path), path_arg(out_path), ctypes.byref(o)),
         None, cb)


def _model_opts(no_mmap: bool, progress: Optional[Callable]):
    o = _lib.new_struct(_lib.llm_model_opts, _lib.llm_model_opts_init)
    o.flags = MODEL_NO_MMAP if no_mmap else 0
    cb = progress_callback(progress)
    if cb is not None:
        o.progress = cb.c
    return o, cb


def _is_gguf(p: bytes) -> bool:
    """True for a GGUF file (llm_model_load); False for a directory or another
    file (llm_model_import: HF checkpoint, llama2.c); a missing path goes to
    llm_model_load, which reports it."""
    if os.path.isdir(p):
        return False
    try:
        with open(p, "rb") as f:
            return f.read(4) == b"GGUF"
    except OSError:
        return True


class Generation(NamedTuple):
    """Result of Model.generate: token ids, their text, why it ended."""
    tokens: List[int]
    text: str
    reason: str


class Evaluation(NamedTuple):
    """Result of Model.evaluate (same numbers as `libllm eval --json`)."""
    loss: float       # nats per predicted token
    ppl: float        # exp(loss)
    tokens: int       # predictions scored
    nll_sum: float    # summed negative log-likelihood, nats
    bpb: Optional[float]  # bits per byte of the text


class Model(Handle):
    """A Transformer model (immutable after load; thread-safe).

    ``Model(path)`` loads a GGUF file (llm_model_load) or, for a Hugging
    Face directory or llama2.c checkpoint, imports it (llm_model_import).
    ``tokenizer`` (a path or Tokenizer) replaces the file's own tokenizer
    for the convenience methods."""

    _kind = "Model"

    def __init__(self, path: Union[str, os.PathLike], *, tokenizer: Union[None, str, os.PathLike,
                 Tokenizer] = None, no_mmap: bool = False,
                 progress: Optional[Callable[[int, int, int], Any]] = None):
        p = path_arg(path)
        o, cb = _model_opts(no_mmap, progress)
        out = ctypes.c_void_p()
        loader = _lib.llm_model_load if _is_gguf(p) else _lib.llm_model_import
        call(lambda: loader(ctypes.byref(out), p, ctypes.byref(o)), None, cb)
        self._init(out.value, tokenizer)

    def _init(self, ptr: int, tokenizer=None) -> None:
        Handle.__init__(self, ptr, _lib.llm_model_free)
        self._tok: Optional[Tokenizer] = None
        self._own_tok = None
        if tokenizer is not None:
            self._own_tok = tokenizer if isinstance(tokenizer, Tokenizer) else Tokenizer(tokenizer)
            self._tok = self._own_tok
        else:
            tp = _lib.llm_model_tokenizer(ptr)
            if tp:
                self._tok = Tokenizer._from_ptr(tp, self)

    @classmethod
    def _new(cls, ptr: int, tokenizer=None) -> "Model":
        m = cls.__new__(cls)
        m._init(ptr, tokenizer)
        return m

    @classmethod
    def load(cls, path: Union[str, os.PathLike], *, tokenizer=None, no_mmap: bool = False,
             progress: Optional[Callable[[int, int, int], Any]] = None) -> "Model":
        """llm_model_load of a GGUF file (mapped unless no_mmap)."""
        o, cb = _model_opts(no_mmap, progress)
        out = ctypes.c_void_p()
        p = path_arg(path)
        call(lambda: _lib.llm_model_load(ctypes.byref(out), p, ctypes.byref(o)), None, cb)
        return cls._new(out.value, tokenizer)

    @classmethod
    def load_mem(cls, data: Union[bytes, bytearray, memoryview], *, tokenizer=None,
                 progress=None) -> "Model":
        """llm_model_load_mem: a GGUF image in memory (copied)."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be bytes-like, not {type(data).__name__}")
        buf = bytes(data)
        o, cb = _model_opts(False, progress)
        out = ctypes.c_void_p()
        call(lambda: _lib.llm_model_load_mem(ctypes.byref(out), buf, len(buf), ctypes.byref(o)),
             None, cb)
        return cls._new(out.value, tokenizer)

    @classmethod
    def import_checkpoint(cls, path, *, tokenizer=None, progress=None) -> "Model":
        """llm_model_import: HF directory, llama2.c checkpoint or GGUF file."""
        o, cb = _model_opts(False, progress)
        out = ctypes.c_void_p()
        p = path_arg(path)
        call(lambda: _lib.llm_model_import(ctypes.byref(out), p, ctypes.byref(o)), None, cb)
        return cls._new(out.value, tokenizer)

    @classmethod
    def create(cls, config: Optional[_lib.llm_model_config] = None, seed: int = 0, *,
               tokenizer=None, **fields) -> "Model":
        """llm_model_create: fresh GPT-2-style initialised weights.
        Pass a ModelConfig or its fields as keywords."""
        if config is None:
            config = ModelConfig(**fields)
        elif fields:
            raise TypeError("give either a config or fields, not both")
        if not isinstance(config, _lib.llm_model_config):
            raise TypeError("config must be a libllm.ModelConfig")
        out = ctypes.c_void_p()
        check(_lib.llm_model_create(ctypes.byref(out), ctypes.byref(config),
                                    check_nonneg(seed, "seed"), None))
        return cls._new(out.value, tokenizer)

    def close(self) -> None:
        super().close()
        self._tok = None

    # ---- one-to-one ----
    def save(self, path) -> None:
        """llm_model_save: GGUF v3, written atomically."""
        self._check(_lib.llm_model_save(self._h, path_arg(path)))

    @property
    def config(self) -> ModelConfig:
        c = ModelConfig()
        self._check(_lib.llm_model_get_config(ctypes.byref(c), self._h))
        return c

    @property
    def n_params(self) -> int:
        v = ctypes.c_uint64()
        self._check(_lib.llm_model_n_params(ctypes.byref(v), self._h))
        return v.value

    def tensor_type(self, name: str) -> int:
        """Storage type of a tensor: TYPE_F32 or TYPE_Q8_0 (llm_model_tensor_type)."""
        v = ctypes.c_uint32()
        self._check(_lib.llm_model_tensor_type(ctypes.byref(v), self._h, bytes_arg(name, "name")))
        return v.value

    @property
    def file_type(self) -> int:
        v = ctypes.c_uint32()
        self._check(_lib.llm_model_file_type(ctypes.byref(v), self._h))
        return v.value

    @property
    def n_vocab(self) -> int:
        return self.config.n_vocab

    def tensor_names(self) -> List[str]:
        """Tensor names in file order (llm_model_n_tensors / tensor_name)."""
        n = ctypes.c_size_t()
        self._check(_lib.llm_model_n_tensors(ctypes.byref(n), self._h))
        out, name = [], ctypes.c_char_p()
        for i in range(n.value):
            self._check(_lib.llm_model_tensor_name(ctypes.byref(name), self._h, i))
            out.append(name.value.decode())
        return out

    def tensor_shape(self, name: str) -> Tuple[int, ...]:
        """Row-major shape, e.g. token_embd.weight -> (n_vocab, n_embd)."""
        nd, dims = ctypes.c_uint32(), (ctypes.c_uint64 * 4)()
        self._check(_lib.llm_model_tensor_shape(ctypes.byref(nd), dims, self._h,
                                                bytes_arg(name, "name")))
        return tuple(dims[:nd.value])

    def tensor(self, name: str) -> memoryview:
        """Zero-copy read-only float32 view of a tensor, shaped as
        tensor_shape (llm_model_tensor_data); valid while the model lives
        (the view keeps the Model object alive, but close() frees it)."""
        shape = self.tensor_shape(name)
        p, n = ctypes.POINTER(ctypes.c_float)(), ctypes.c_size_t()
        self._check(_lib.llm_model_tensor_data(ctypes.byref(p), ctypes.byref(n), self._h,
                                               bytes_arg(name, "name")))
        return float_view(ctypes.addressof(p.contents), shape, self)

    def tensor_copy(self, name: str) -> "array.array":
        """A copy of a tensor's data as array('f') (llm_model_tensor_copy)."""
        key = bytes_arg(name, "name")
        need = ctypes.c_size_t()
        rc = _lib.llm_model_tensor_copy(None, 0, ctypes.byref(need), self._h, key)
        if rc != -7:
            self._check(rc)
        out = array.array("f", bytes(4 * need.value))
        if need.value:
            buf = (ctypes.c_float * need.value).from_buffer(out)
            self._check(_lib.llm_model_tensor_copy(buf, need.value, ctypes.byref(need),
                                                   self._h, key))
        return out

    @property
    def tokenizer(self) -> Optional[Tokenizer]:
        """The tokenizer given at load, else the file's own (borrowed), or None."""
        self._h
        return self._tok

    def set_tokenizer(self, tok: Optional[Tokenizer]) -> None:
        """Gives the model a tokenizer (llm_model_set_tokenizer), e.g. to save
        it into the GGUF file. On success the model owns it: the Tokenizer
        object stays usable until the model is closed, and closing it no
        longer frees it. The previous embedded tokenizer (and anything using
        it) is closed. None drops the embedded tokenizer."""
        if tok is not None:
            if not isinstance(tok, Tokenizer):
                raise TypeError(f"tok must be a libllm.Tokenizer, not {type(tok).__name__}")
            if tok._fin is None or not tok._fin.alive:
                raise ValueError("this tokenizer is owned by a model already")
        h = self._h
        self._check(_lib.llm_model_set_tokenizer(h, tok._h if tok is not None else None))
        old = self._tok if (self._tok is not None and self._tok._fin is None) else None
        if old is not None and old is not tok:
            old.close()  # freed by C: only marks it (and its users) closed
        if tok is not None:
            tok._fin.detach()
            tok._fin = None
            tok._parents = (self,)
            self._children.add(tok)
        if self._own_tok is None or self._own_tok is tok:
            self._tok = tok
            self._own_tok = None

    def context(self, **opts) -> "Context":
        """A new Context for this model (see Context)."""
        return Context(self, **opts)

    def estimate_ctx_bytes(self, **opts) -> int:
        """Bytes a Context with these options would allocate."""
        o, _ = _ctx_opts(**opts)
        v = ctypes.c_size_t()
        self._check(_lib.llm_ctx_estimate_bytes(ctypes.byref(v), self._h, ctypes.byref(o)))
        return v.value

    # ---- convenience layer ----
    def _need_tok(self) -> Tokenizer:
        t = self.tokenizer
        if t is None:
            raise ValueError("this model has no tokenizer: pass tokenizer=PATH to Model()")
        return t

    def tokenize(self, text: Union[str, bytes], *, special: bool = False,
                 bos: Optional[bool] = None) -> List[int]:
        """Token ids of text; BOS is prepended when the tokenizer asks for it
        (bos=None) or when bos=True."""
        t = self._need_tok()
        return t.encode(text, parse_special=special, add_bos=t.add_bos if bos is None else bos)

    def detokenize(self, ids: Sequence[int], *, skip_special: bool = False) -> str:
        """Text of ids (invalid UTF-8 replaced by U+FFFD)."""
        return self._need_tok().decode(ids, skip_special=skip_special).decode("utf-8", "replace")

    def generate(self, prompt: Union[str, bytes], *, max_tokens: int = 64,
                 temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
                 min_p: float = 0.0, repeat_penalty: float = 1.0, seed: int = 0,
                 stop: Sequence[Union[str, bytes]] = (), ctx: int = 0,
                 on_token: Optional[Callable[[int, bytes], Any]] = None,
                 n_threads: int = 1) -> Generation:
        """One turn from a fresh context (llm_generate). temperature 0 is
        greedy. on_token(token, piece_bytes) is called per token; a truthy
        return stops. Returns Generation(tokens, text, reason)."""
        from .generate import generate as _generate
        from .sampler import Sampler
        tok = self._need_tok()
        with Context(self, n_ctx=ctx, n_threads=n_threads) as c, \
                Sampler(self.n_vocab, seed=seed, temperature=temperature, top_k=top_k,
                        top_p=top_p, min_p=min_p, repeat_penalty=repeat_penalty) as s:
            r = _generate(c, s, tok, prompt, max_tokens=max_tokens, stop=stop, on_token=on_token)
        return Generation(r.tokens, r.text.decode("utf-8", "replace"), r.reason)

    def stream(self, prompt: Union[str, bytes], *, max_tokens: int = 64,
               temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0, seed: int = 0,
               stop: Sequence[Union[str, bytes]] = (), ctx: int = 0) -> Iterator[Tuple[int, str]]:
        """Generator of (token, text piece) pairs, one per forward pass;
        the final piece has token -1."""
        from .generate import Generator
        from .sampler import Sampler
        tok = self._need_tok()
        with Context(self, n_ctx=ctx) as c, \
                Sampler(self.n_vocab, seed=seed, temperature=temperature, top_k=top_k,
                        top_p=top_p) as s, \
                Generator(c, s, tok, max_tokens=max_tokens, stop=stop) as g:
            g.feed(prompt)
            for token, piece in g:
                yield token, piece.decode("utf-8", "replace")

    def evaluate(self, text: Union[str, bytes, Sequence[int]], *, ctx: int = 0,
                 stride: int = 0, n_threads: int = 1) -> Evaluation:
        """Loss, perplexity and bits per byte of a text (or token ids), as
        `libllm eval --json`: BOS first when the tokenizer asks for it,
        windows of `ctx` tokens (0: the model's n_ctx)."""
        if isinstance(text, (str, bytes)):
            data = bytes_arg(text)
            ids, n_bytes = self.tokenize(data), len(data)
        else:
            ids, n_bytes = list(text), 0
        window = ctx or self.config.n_ctx
        n_batch = window if window >= 2048 else (
            2048 // window * window if window * 4 > 2048 else window * 4)
        with Context(self, n_ctx=window, n_batch=n_batch, n_threads=n_threads) as c:
            nll, n = c.eval(ids, window=window, stride=stride)
        loss = nll / n if n else math.nan
        bpb = nll / (math.log(2.0) * n_bytes) if n_bytes else None
        return Evaluation(loss, math.exp(loss) if n else math.nan, n, nll, bpb)


def _ctx_opts(n_ctx: int = 0, n_batch: int = 0, n_threads: int = 0, attention: bool = False,
              progress: Optional[Callable] = None):
    o = _lib.new_struct(_lib.llm_ctx_opts, _lib.llm_ctx_opts_init)
    o.n_ctx = check_u32(n_ctx, "n_ctx")
    o.n_batch = check_u32(n_batch, "n_batch")
    o.n_threads = check_u32(n_threads, "n_threads")
    o.flags = CTX_ATTENTION if attention else 0
    cb = progress_callback(progress)
    if cb is not None:
        o.progress = cb.c
    return o, cb


class Context(Handle):
    """KV cache and scratch memory for one model (llm_ctx_*); one thread at
    a time. The Model must stay open while the Context is used (closing the
    Model closes its Contexts). progress(phase, done, total) -> truthy stops."""

    _kind = "Context"

    def __init__(self, model: Model, *, n_ctx: int = 0, n_batch: int = 0, n_threads: int = 0,
                 attention: bool = False, progress: Optional[Callable] = None):
        if not isinstance(model, Model):
            raise TypeError(f"model must be a libllm.Model, not {type(model).__name__}")
        o, cb = _ctx_opts(n_ctx, n_batch, n_threads, attention, progress)
        out = ctypes.c_void_p()
        check(_lib.llm_ctx_create(ctypes.byref(out), model._h, ctypes.byref(o)))
        super().__init__(out.value, _lib.llm_ctx_free, parents=(model,))
        self.model = model
        self._cb = cb
        if cb is not None:
            self._callbacks.append(cb)
        self._n_vocab = model.config.n_vocab

    def _call(self, fn: Callable[[], int]) -> int:
        with busy(self):
            rc = fn()
        if self._cb is not None:
            self._cb.raise_pending()
        return self._check(rc)

    def interrupt(self) -> None:
        """Asks the running (or next) call to stop with Cancelled (thread-safe)."""
        _lib.llm_ctx_interrupt(self._h)

    def forward(self, tokens: Sequence[int], n_seq: int = 1, *, last_only: bool = False) -> memoryview:
        """Forward pass without the KV cache (llm_ctx_forward) over n_seq
        sequences; returns float32 logits shaped (n_seq, n_tokens, n_vocab)
        or, with last_only, (n_seq, n_vocab), in a buffer owned by Python."""
        arr = tokens_arg(tokens)
        if n_seq <= 0 or len(arr) % n_seq:
            raise ValueError(f"{len(arr)} tokens do not split into {n_seq} sequences")
        n_tok = len(arr) // n_seq
        rows = n_seq if last_only else n_seq * n_tok
        out = array.array("f", bytes(4 * rows * self._n_vocab))
        buf = (ctypes.c_float * len(out)).from_buffer(out) if len(out) else None
        h = self._h
        self._call(lambda: _lib.llm_ctx_forward(buf, len(out), None, h, arr, n_seq, n_tok,
                                                FORWARD_LAST if last_only else 0))
        shape = [n_seq, self._n_vocab] if last_only else [n_seq, n_tok, self._n_vocab]
        return memoryview(out).cast("B").cast("f", shape)

    def decode(self, tokens: Sequence[int]) -> memoryview:
        """Appends tokens to the KV cache (llm_ctx_decode); returns the next-
        token logits as a zero-copy read-only view, valid until the next
        computing call on this context."""
        arr = tokens_arg(tokens)
        p = ctypes.POINTER(ctypes.c_float)()
        h = self._h
        self._call(lambda: _lib.llm_ctx_decode(ctypes.byref(p), h, arr, len(arr)))
        return float_view(ctypes.addressof(p.contents), [self._n_vocab], self)

    def logits(self) -> memoryview:
        """The latest decode's logits again (zero-copy; StateError if none)."""
        p = ctypes.POINTER(ctypes.c_float)()
        self._check(_lib.llm_ctx_logits(ctypes.byref(p), self._h))
        return float_view(ctypes.addressof(p.contents), [self._n_vocab], self)

    @property
    def n_past(self) -> int:
        v = ctypes.c_size_t()
        self._check(_lib.llm_ctx_n_past(ctypes.byref(v), self._h))
        return v.value

    @property
    def n_ctx(self) -> int:
        v = ctypes.c_size_t()
        self._check(_lib.llm_ctx_n_ctx(ctypes.byref(v), self._h))
        return v.value

    def truncate(self, n_keep: int) -> None:
        self._check(_lib.llm_ctx_truncate(self._h, check_nonneg(n_keep, "n_keep")))

    def reset(self) -> None:
        self._check(_lib.llm_ctx_reset(self._h))

    def capture_attention(self, layer: int, head: int = 0) -> None:
        """Record one layer/head's attention (needs attention=True); layer -1 stops."""
        self._check(_lib.llm_ctx_capture_attention(self._h, _int32(layer, "layer"),
                                                   _int32(head, "head")))

    def attention(self) -> memoryview:
        """Recorded probabilities, zero-copy, shaped (n_rows, row_stride)."""
        p = ctypes.POINTER(ctypes.c_float)()
        rows, stride = ctypes.c_size_t(), ctypes.c_size_t()
        self._check(_lib.llm_ctx_attention(ctypes.byref(p), ctypes.byref(rows),
                                           ctypes.byref(stride), self._h))
        if not p:
            return memoryview(array.array("f")).toreadonly()
        return float_view(ctypes.addressof(p.contents), [rows.value, stride.value], self)

    def loss(self, inputs: Sequence[int], targets: Sequence[int], n_seq: int = 1, *,
             logprobs: bool = False):
        """Mean cross-entropy (nats/token) of targets given inputs
        (llm_ctx_loss); with logprobs=True returns (loss, array('f'))."""
        a, t = tokens_arg(inputs), tokens_arg(targets, "targets")
        if len(a) != len(t):
            raise ValueError(f"inputs ({len(a)}) and targets ({len(t)}) differ in length")
        if n_seq <= 0 or len(a) % n_seq:
            raise ValueError(f"{len(a)} tokens do not split into {n_seq} sequences")
        out = ctypes.c_double()
        lp = array.array("f", bytes(4 * len(a))) if logprobs else None
        lpb = (ctypes.c_float * len(a)).from_buffer(lp) if logprobs and len(a) else None
        h = self._h
        self._call(lambda: _lib.llm_ctx_loss(ctypes.byref(out), lpb, h, a, t, n_seq,
                                             len(a) // n_seq))
        return (out.value, lp) if logprobs else out.value

    def eval(self, tokens: Sequence[int], *, window: int = 0, stride: int = 0) -> Tuple[float, int]:
        """Scores a token stream (llm_ctx_eval): (nll_sum, n_predicted)."""
        a = tokens_arg(tokens)
        nll, n = ctypes.c_double(), ctypes.c_uint64()
        h = self._h
        self._call(lambda: _lib.llm_ctx_eval(ctypes.byref(nll), ctypes.byref(n), h, a, len(a),
                                             check_nonneg(window, "window"),
                                             check_nonneg(stride, "stride")))
        return nll.value, n.value


def cross_entropy(logits, targets: Sequence[int], n_vocab: int, *, logprobs: bool = False):
    """llm_cross_entropy of logits (n_rows * n_vocab float32 values, any
    buffer or sequence) against targets (negative = ignored)."""
    z = floats_arg(logits)
    t = tokens_arg(targets, "targets")
    if n_vocab <= 0 or len(z) != len(t) * n_vocab:
        raise ValueError(f"logits have {len(z)} values, expected {len(t)} rows x {n_vocab}")
    out = ctypes.c_double()
    lp = array.array("f", bytes(4 * len(t))) if logprobs else None
    lpb = (ctypes.c_float * len(t)).from_buffer(lp) if logprobs and len(t) else None
    check(_lib.llm_cross_entropy(ctypes.byref(out), lpb, z, t, len(t), n_vocab))
    return (out.value, lp) if logprobs else out.value
