"""Generation (llm_gen_*, llm_generate): the prompt -> tokens -> text loop."""
import ctypes
from typing import Any, Callable, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

from . import _lib
from ._base import (Callback, Handle, busy, bytes_arg, check_nonneg, progress_callback,
                    raise_pending, tokens_arg)
from .errors import check
from .model import Context
from .sampler import Sampler
from .tokenizer import Tokenizer

OK, AGAIN, DONE = 0, 1, 2
RUNNING, EOS, STOP, MAX_TOKENS, CTX_FULL, CANCELLED = 0, 1, 2, 3, 4, 5
IGNORE_EOS, PARSE_SPECIAL, SKIP_SPECIAL, REPLACE_INVALID, NO_PROMPT_PENALTY = \
    0x01, 0x02, 0x04, 0x08, 0x10


def reason_str(reason: int) -> str:
    """"running", "eos", "stop", "max_tokens", "ctx_full", "cancelled"."""
    return _lib.llm_gen_reason_str(int(reason)).decode()


class GenResult(NamedTuple):
    """Counters of a turn (llm_gen_result)."""
    reason: str
    n_prompt: int
    n_tokens: int
    n_text: int
    n_past: int
    prompt_seconds: float
    gen_seconds: float
    last_pass_seconds: float


def _result(r) -> GenResult:
    return GenResult(reason_str(r.reason), r.n_prompt, r.n_tokens, r.n_text, r.n_past,
                     r.prompt_seconds, r.gen_seconds, r.last_pass_seconds)


def _gen_opts(max_tokens=0, n_ubatch=0, stop=(), stop_tokens=(), ignore_eos=False,
              parse_special=False, skip_special=False, replace_invalid=False,
              prompt_penalty=True, on_token=None, progress=None):
    o = _lib.new_struct(_lib.llm_gen_opts, _lib.llm_gen_opts_init)
    o.flags = ((IGNORE_EOS if ignore_eos else 0) | (PARSE_SPECIAL if parse_special else 0) |
               (SKIP_SPECIAL if skip_special else 0) |
               (REPLACE_INVALID if replace_invalid else 0) |
               (0 if prompt_penalty else NO_PROMPT_PENALTY))
    o.max_tokens = check_nonneg(max_tokens, "max_tokens", 32)
    o.n_ubatch = check_nonneg(n_ubatch, "n_ubatch", 32)
    keep: list = []
    if isinstance(stop, (str, bytes)):
        stop = [stop]
    if stop:
        enc = [bytes_arg(s, "stop sequence") for s in stop]
        arr = (ctypes.c_char_p * len(enc))(*enc)
        keep += [enc, arr]
        o.stop, o.n_stop = ctypes.cast(arr, ctypes.POINTER(ctypes.c_char_p)), len(enc)
    if stop_tokens:
        st = tokens_arg(stop_tokens, "stop_tokens")
        keep.append(st)
        o.stop_tokens, o.n_stop_tokens = ctypes.cast(st, ctypes.POINTER(ctypes.c_int32)), len(st)
    tcb = None
    if on_token is not None:
        tcb = Callback(_lib.GEN_TOKEN_FN, on_token,
                       lambda f, ud, tok, text, n: f(tok, ctypes.string_at(text, n)))
        o.on_token = tcb.c
    pcb = progress_callback(progress)
    if pcb is not None:
        o.progress = pcb.c
    return o, keep, tcb, pcb


class Generator(Handle):
    """A generator over a Context, a Sampler and (optionally) a Tokenizer
    (llm_gen_*). Feed a prompt, then call next()/step() or iterate:
    ``for token, piece in g`` yields (token, bytes) per forward pass that
    produced a token (token -1 for the final held-back text).
    on_token(token, piece_bytes) -> truthy ends the turn; an exception in it
    (or in progress) ends the turn and is re-raised from the call."""

    _kind = "Generator"

    def __init__(self, ctx: Context, sampler: Sampler, tokenizer: Optional[Tokenizer] = None,
                 **opts: Any):
        if not isinstance(ctx, Context):
            raise TypeError(f"ctx must be a libllm.Context, not {type(ctx).__name__}")
        if not isinstance(sampler, Sampler):
            raise TypeError(f"sampler must be a libllm.Sampler, not {type(sampler).__name__}")
        if tokenizer is not None and not isinstance(tokenizer, Tokenizer):
            raise TypeError(f"tokenizer must be a libllm.Tokenizer, not "
                            f"{type(tokenizer).__name__}")
        o, keep, tcb, pcb = _gen_opts(**opts)
        out = ctypes.c_void_p()
        check(_lib.llm_gen_create(ctypes.byref(out), ctx._h, sampler._h,
                                  tokenizer._h if tokenizer is not None else None,
                                  ctypes.byref(o)))
        parents = (ctx, sampler) + ((tokenizer,) if tokenizer is not None else ())
        super().__init__(out.value, _lib.llm_gen_free, parents=parents)
        self._callbacks += [c for c in (tcb, pcb) if c is not None] + keep
        self._tcb, self._pcb = tcb, pcb
        self.ctx, self.sampler, self.tokenizer = ctx, sampler, tokenizer

    def _call(self, fn) -> int:
        with busy(self, self.ctx):  # the context's own progress callback may run too
            rc = fn()
        raise_pending(self._tcb, self._pcb, self.ctx._cb)
        return check(rc)  # generator errors are in llm_last_errmsg()

    def feed(self, prompt: Union[str, bytes, Sequence[int]]) -> None:
        """Queues text (str/bytes) or token ids."""
        if isinstance(prompt, (str, bytes, bytearray)):
            self.feed_text(prompt)
        else:
            self.feed_tokens(prompt)

    def feed_text(self, text: Union[str, bytes]) -> None:
        data = bytes_arg(text)
        h = self._h
        self._call(lambda: _lib.llm_gen_feed_text(h, data, len(data)))

    def feed_tokens(self, ids: Sequence[int]) -> None:
        a = tokens_arg(ids)
        h = self._h
        self._call(lambda: _lib.llm_gen_feed_tokens(h, a, len(a)))

    def next(self) -> Tuple[int, int, bytes]:
        """One forward pass at most: (status OK/AGAIN/DONE, token or -1, piece)."""
        tok = ctypes.c_int32(-1)
        text = ctypes.POINTER(ctypes.c_char)()
        n = ctypes.c_size_t()
        h = self._h
        st = self._call(lambda: _lib.llm_gen_next(ctypes.byref(tok), ctypes.byref(text),
                                                  ctypes.byref(n), h))
        piece = ctypes.string_at(text, n.value) if n.value else b""
        return st, tok.value, piece

    def step(self, budget_us: int, max_tokens: int = 256) -> Tuple[int, List[int], bytes]:
        """Budgeted stepping for frame loops (llm_gen_step): runs forward
        passes while they fit in budget_us microseconds; returns (status
        AGAIN/DONE, new tokens, new text)."""
        # a step cannot produce more tokens than the context has positions
        cap_tok = min(check_nonneg(max_tokens, "max_tokens"), self.ctx.n_ctx)
        cap_text = max(self.max_piece * max(cap_tok, 1), self.max_piece)
        toks = (ctypes.c_int32 * max(cap_tok, 1))()
        text = ctypes.create_string_buffer(cap_text)
        nt, nx = ctypes.c_size_t(), ctypes.c_size_t()
        h, b = self._h, check_nonneg(budget_us, "budget_us")
        st = self._call(lambda: _lib.llm_gen_step(toks, cap_tok, ctypes.byref(nt), text, cap_text,
                                                  ctypes.byref(nx), h, b))
        return st, toks[:nt.value], text.raw[:nx.value]

    def __iter__(self) -> Iterator[Tuple[int, bytes]]:
        while True:
            st, tok, piece = self.next()
            if st == OK:
                yield tok, piece
            elif st == DONE:
                if piece:
                    yield -1, piece
                return

    def cancel(self) -> None:
        self._call(lambda: _lib.llm_gen_cancel(self._h))

    def reset(self) -> None:
        """Empties the context and forgets the turn (the sampler is kept)."""
        self._call(lambda: _lib.llm_gen_reset(self._h))

    @property
    def reason(self) -> int:
        v = ctypes.c_int32()
        self._call(lambda: _lib.llm_gen_reason(ctypes.byref(v), self._h))
        return v.value

    @property
    def max_piece(self) -> int:
        v = ctypes.c_size_t()
        self._call(lambda: _lib.llm_gen_max_piece(ctypes.byref(v), self._h))
        return v.value

    def result(self) -> GenResult:
        r = _lib.new_struct(_lib.llm_gen_result, _lib.llm_gen_result_init)
        self._call(lambda: _lib.llm_gen_get_result(ctypes.byref(r), self._h))
        return _result(r)


class Generated(NamedTuple):
    tokens: List[int]
    text: bytes
    reason: str
    result: GenResult


def generate(ctx: Context, sampler: Sampler, tokenizer: Tokenizer, prompt: Union[str, bytes],
             *, max_tokens: int = 64, **opts: Any) -> Generated:
    """One whole turn (llm_generate) after what ctx holds. opts as Generator."""
    for a, t, n in ((ctx, Context, "ctx"), (sampler, Sampler, "sampler"),
                    (tokenizer, Tokenizer, "tokenizer")):
        if not isinstance(a, t):
            raise TypeError(f"{n} must be a libllm.{t.__name__}, not {type(a).__name__}")
    data = bytes_arg(prompt, "prompt")
    o, keep, tcb, pcb = _gen_opts(**opts)
    # a turn cannot produce more tokens than the context has positions
    cap = min(check_nonneg(max_tokens, "max_tokens"), ctx.n_ctx)
    toks = (ctypes.c_int32 * max(cap, 1))()
    nt, nx = ctypes.c_size_t(), ctypes.c_size_t()
    r = _lib.new_struct(_lib.llm_gen_result, _lib.llm_gen_result_init)
    text_cap = 64 * max(cap, 1) + 64
    for _ in range(2):
        text = ctypes.create_string_buffer(text_cap)
        with busy(ctx, sampler, tokenizer):
            rc = _lib.llm_generate(toks, cap, ctypes.byref(nt), text, text_cap,
                                   ctypes.byref(nx), ctypes.byref(r), ctx._h, sampler._h,
                                   tokenizer._h, data, len(data), ctypes.byref(o))
        raise_pending(tcb, pcb, ctx._cb)
        if rc == -7 and nx.value >= text_cap:  # text longer than guessed: the turn is done,
            # but its text is cut; tokens are complete, so decode them
            txt = tokenizer.decode(toks[:nt.value])
            return Generated(toks[:nt.value], txt, reason_str(r.reason), _result(r))
        check(rc, ctx._ptr)
        return Generated(toks[:nt.value], text.raw[:nx.value], reason_str(r.reason), _result(r))
    raise AssertionError("unreachable")
