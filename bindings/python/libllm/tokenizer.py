"""Tokenizer: byte-level BPE (llm_tokenizer_*, llm_tok_stream_*)."""
import ctypes
import os
from typing import Iterable, List, Optional, Sequence, Union

from . import _lib
from ._base import Handle, bytes_arg, call, check_u32, path_arg, progress_callback, tokens_arg, _int32
from .errors import BufferTooSmall, check

PATTERN_DEFAULT, PATTERN_GPT2, PATTERN_CL100K, PATTERN_O200K = 0, 1, 2, 3
BOS, EOS, UNK, PAD = 1, 2, 3, 4
PARSE_SPECIAL, ADD_BOS = 0x1, 0x2
SKIP_SPECIAL = 0x1
STREAM_REPLACE, STREAM_SKIP_SPECIAL = 0x1, 0x2
FORMAT_HF, FORMAT_GGUF = 1, 2

_PATTERNS = {None: 0, "default": 0, "gpt2": 1, "cl100k": 2, "o200k": 3}


def _pattern(p: Union[int, str, None]) -> int:
    if isinstance(p, str) or p is None:
        try:
            return _PATTERNS[p]
        except KeyError:
            raise ValueError(f"unknown pattern {p!r}: use gpt2, cl100k or o200k") from None
    return _int32(p, "pattern")


def _cstrings(items: Optional[Iterable[Union[str, bytes]]], what: str):
    if items is None:
        return None, 0, []
    enc = [bytes_arg(s, what) for s in items]
    arr = (ctypes.c_char_p * (len(enc) + 1))(*enc, None)
    return arr, len(enc), enc


def _grow(call_fn, first: int) -> bytes:
    """Calls call_fn(buf, cap, &n) with a growing buffer until it fits."""
    cap = max(first, 16)
    n = ctypes.c_size_t(0)
    for _ in range(3):
        buf = ctypes.create_string_buffer(cap)
        rc = call_fn(buf, cap, ctypes.byref(n))
        if rc == -7:  # LLM_ERR_BUFFER_TOO_SMALL: n holds the size needed
            cap = n.value
            continue
        check(rc)
        return buf.raw[:n.value]
    raise BufferTooSmall(-7, "buffer size kept growing")


class Tokenizer(Handle):
    """A byte-level BPE tokenizer (immutable, thread-safe).

    ``Tokenizer(path)`` loads a GPT-2/HF directory, tokenizer.json,
    .tiktoken or GGUF file (llm_tokenizer_load). Text is bytes: ``encode``
    accepts str (encoded as UTF-8) or bytes; ``decode`` returns bytes."""

    _kind = "Tokenizer"

    def __init__(self, path: Union[str, os.PathLike], *, pattern: Union[int, str, None] = None,
                 special: Optional[Sequence[Union[str, bytes]]] = None):
        o = _lib.new_struct(_lib.llm_tokenizer_opts, _lib.llm_tokenizer_opts_init)
        o.pattern = _pattern(pattern)
        arr, n, keep = _cstrings(special, "special token")
        if arr is not None:
            o.special, o.n_special = ctypes.cast(arr, ctypes.POINTER(ctypes.c_char_p)), n
        out = ctypes.c_void_p()
        check(_lib.llm_tokenizer_load(ctypes.byref(out), path_arg(path), ctypes.byref(o)))
        super().__init__(out.value, _lib.llm_tokenizer_free)

    @classmethod
    def _from_ptr(cls, ptr: int, owner: Optional[Handle]) -> "Tokenizer":
        t = cls.__new__(cls)
        if owner is None:
            Handle.__init__(t, ptr, _lib.llm_tokenizer_free)
        else:  # borrowed from a model: not freed, closed with it
            Handle.__init__(t, ptr, None, parents=(owner,))
        return t

    @classmethod
    def train(cls, files: Sequence[Union[str, os.PathLike]], vocab_size: int, *,
              pattern: Union[int, str, None] = None, min_frequency: int = 0,
              special: Optional[Sequence[Union[str, bytes]]] = None,
              progress=None) -> "Tokenizer":
        """Learns BPE merges from text files (llm_tokenizer_train).
        progress(phase, done, total) -> truthy stops (Cancelled)."""
        if isinstance(files, (str, bytes, os.PathLike)):
            files = [files]
        paths = [path_arg(f) for f in files]
        o = _lib.new_struct(_lib.llm_tokenizer_train_opts, _lib.llm_tokenizer_train_opts_init)
        o.pattern = _pattern(pattern)
        o.vocab_size = check_u32(vocab_size, "vocab_size")
        o.min_frequency = check_u32(min_frequency, "min_frequency")
        arr, n, keep = _cstrings(special, "special token")
        if arr is not None:
            o.special, o.n_special = ctypes.cast(arr, ctypes.POINTER(ctypes.c_char_p)), n
        cb = progress_callback(progress)
        if cb is not None:
            o.progress = cb.c
        farr = (ctypes.c_char_p * max(len(paths), 1))(*paths)
        out = ctypes.c_void_p()
        call(lambda: _lib.llm_tokenizer_train(ctypes.byref(out), farr, len(paths), ctypes.byref(o)),
             None, cb)
        return cls._from_ptr(out.value, None)

    @property
    def n_vocab(self) -> int:
        """Number of token ids (llm_tokenizer_n_vocab)."""
        return int(_lib.llm_tokenizer_n_vocab(self._h))

    def special_id(self, kind: int) -> int:
        """Id of the BOS/EOS/UNK/PAD token (BOS, EOS, UNK, PAD), -1 if none."""
        return int(_lib.llm_tokenizer_special_id(self._h, _int32(kind, "kind")))

    @property
    def bos(self) -> int:
        return self.special_id(BOS)

    @property
    def eos(self) -> int:
        return self.special_id(EOS)

    @property
    def add_bos(self) -> bool:
        """True when documents should start with BOS (llm_tokenizer_add_bos)."""
        return bool(_lib.llm_tokenizer_add_bos(self._h))

    def is_special(self, token: int) -> int:
        """1 special, 0 ordinary, -1 out of range or unassigned."""
        return int(_lib.llm_tokenizer_is_special(self._h, _int32(token, "token")))

    def encode(self, text: Union[str, bytes], *, parse_special: bool = False,
               add_bos: bool = False) -> List[int]:
        """Token ids of `text` (llm_tokenizer_encode)."""
        data = bytes_arg(text)
        flags = (PARSE_SPECIAL if parse_special else 0) | (ADD_BOS if add_bos else 0)
        cap = len(data) + 1
        buf = (ctypes.c_int32 * cap)()
        n = ctypes.c_size_t(0)
        check(_lib.llm_tokenizer_encode(buf, cap, ctypes.byref(n), self._h, data, len(data), flags))
        return buf[:n.value]

    def decode(self, ids: Iterable[int], *, skip_special: bool = False) -> bytes:
        """The bytes of `ids` concatenated (llm_tokenizer_decode)."""
        arr = tokens_arg(ids)
        h = self._h
        flags = SKIP_SPECIAL if skip_special else 0
        return _grow(lambda b, c, n: _lib.llm_tokenizer_decode(b, c, n, h, arr, len(arr), flags),
                     8 * len(arr) + 16)

    def token_to_piece(self, token: int) -> bytes:
        """The bytes of one token (llm_tokenizer_token_to_piece)."""
        t, h = _int32(token, "token"), self._h
        return _grow(lambda b, c, n: _lib.llm_tokenizer_token_to_piece(b, c, n, h, t), 64)

    def piece_to_token(self, piece: Union[str, bytes]) -> int:
        """The id whose bytes are exactly `piece` (NotFound otherwise)."""
        data = bytes_arg(piece, "piece")
        out = ctypes.c_int32(-1)
        check(_lib.llm_tokenizer_piece_to_token(ctypes.byref(out), self._h, data, len(data)))
        return out.value

    def stream(self, *, replace: bool = False, skip_special: bool = False) -> "TokenStream":
        """A streaming decoder that never splits a UTF-8 character."""
        return TokenStream(self, replace=replace, skip_special=skip_special)

    def save(self, path: Union[str, os.PathLike], format: int = FORMAT_HF) -> None:
        """Writes the tokenizer (FORMAT_HF: a directory; FORMAT_GGUF: a file)."""
        check(_lib.llm_tokenizer_save(self._h, path_arg(path), _int32(format, "format")))


class TokenStream:
    """Incremental decoding (llm_tok_stream_*): decode(ids) -> the complete
    text so far, flush() -> the held-back bytes at the end."""

    def __init__(self, tok: Tokenizer, *, replace: bool = False, skip_special: bool = False):
        tok._h  # ClosedError for a closed tokenizer
        self._tok = tok
        self._s = _lib.llm_tok_stream()
        flags = (STREAM_REPLACE if replace else 0) | (STREAM_SKIP_SPECIAL if skip_special else 0)
        check(_lib.llm_tok_stream_init(ctypes.byref(self._s), ctypes.sizeof(self._s), flags))

    def decode(self, ids: Iterable[int]) -> bytes:
        arr = tokens_arg(ids)
        h, s = self._tok._h, ctypes.byref(self._s)
        return _grow(lambda b, c, n: _lib.llm_tok_stream_decode(b, c, n, h, s, arr, len(arr)),
                     3 * (8 * len(arr) + 4) + 3)

    def flush(self) -> bytes:
        s = ctypes.byref(self._s)
        return _grow(lambda b, c, n: _lib.llm_tok_stream_flush(b, c, n, s), 8)

    @property
    def n_pending(self) -> int:
        return int(self._s.n_pending)
