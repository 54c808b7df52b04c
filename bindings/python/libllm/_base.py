"""Shared machinery of the one-to-one classes: handle lifetime, argument
conversion, callbacks that survive Python exceptions, zero-copy views.

Lifetime rules (they mirror include/llm.h's object graph):
- every handle object owns one C handle (or borrows one, e.g. the model's
  tokenizer) and frees it exactly once: on close(), on leaving a `with`
  block, or by its finalizer when it is garbage collected;
- a child (Context, Trainer, Generator, borrowed Tokenizer) keeps a strong
  reference to its parents, so a parent is never freed by the garbage
  collector while a child lives; closing a parent explicitly first closes
  its children, so C never sees a freed parent;
- any method on a closed handle raises ClosedError before calling C.
"""
import array
import ctypes
import weakref
from typing import Any, Callable, Iterable, Optional, Sequence

from . import _lib
from .errors import ClosedError, Error, StateError, check

INT32_MIN, INT32_MAX = -(2 ** 31), 2 ** 31 - 1


class Handle:
    """Base of every libllm handle object."""

    _kind = "handle"

    def __init__(self, ptr: int, free: Optional[Callable], parents: Sequence["Handle"] = ()):
        self._ptr: Optional[int] = ptr
        self._parents = tuple(parents)
        self._children: "weakref.WeakSet[Handle]" = weakref.WeakSet()
        for p in self._parents:
            p._children.add(self)
        self._callbacks: list = []  # ctypes callback objects C may still call
        self._views: list = []      # weak refs to memoryviews lent over C memory
        self._busy = 0              # > 0 inside a C call that may run callbacks
        self._fin = weakref.finalize(self, free, ptr) if free is not None else None

    @property
    def _h(self) -> int:
        """The C handle; ClosedError after close()."""
        if self._ptr is None:
            raise ClosedError(self._kind)
        return self._ptr

    @property
    def closed(self) -> bool:
        return self._ptr is None

    def _check_closable(self) -> None:
        if self._ptr is None:
            return
        if self._busy:
            raise StateError(-10, f"cannot close this {self._kind} from inside one of its own "
                                  "calls (a callback)")
        for c in list(self._children):
            c._check_closable()

    def _enter(self) -> "_Busy":
        """`with h._enter():` marks a C call that may run Python callbacks."""
        return _Busy(self)

    def close(self) -> None:
        """Frees the C handle now (children first). Idempotent. Refused
        (StateError) from a callback of a call running on this handle or on
        one of its children."""
        if self._ptr is None:
            return
        self._check_closable()
        for c in list(self._children):
            c.close()
        self._ptr = None
        # views of memory this handle lent become unusable (ValueError) instead
        # of reading freed memory; a view with exports of its own (e.g. a numpy
        # array made from it) cannot be released and must not be used after close
        for ref in self._views:
            v = ref()
            if v is not None:
                try:
                    v.release()
                except BufferError:
                    pass
        self._views = []
        if self._fin is not None:
            self._fin()
        self._callbacks = []

    def __enter__(self):
        self._h
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _check(self, rc: int) -> int:
        return check(rc, self._ptr)

    def __repr__(self) -> str:
        state = "closed" if self._ptr is None else hex(self._ptr)
        return f"<libllm.{type(self).__name__} {state}>"


class _Busy:
    __slots__ = ("hs",)

    def __init__(self, *hs: Handle):
        self.hs = hs

    def __enter__(self):
        for h in self.hs:
            h._busy += 1

    def __exit__(self, *exc):
        for h in self.hs:
            h._busy -= 1


def busy(*hs: Handle) -> _Busy:
    """Marks handles as inside a C call that may run callbacks."""
    return _Busy(*hs)


class Callback:
    """A Python callable wrapped as a C callback of type `ctype`.

    An exception raised by the callable is stored, the C side is told to
    stop (`stop_value`), and raise_pending() re-raises it after the C call
    returned (the C library never sees a Python exception)."""

    def __init__(self, ctype, fn: Callable, adapt: Callable, stop_value: Any = 1,
                 ok_value: Any = 0):
        if not callable(fn):
            raise TypeError(f"callback must be callable, not {type(fn).__name__}")
        self.fn = fn
        self.error: Optional[BaseException] = None

        def trampoline(*args):
            if self.error is not None:
                return stop_value
            try:
                r = adapt(fn, *args)
            except BaseException as e:  # noqa: BLE001 - re-raised after the C call
                self.error = e
                return stop_value
            return stop_value if r else ok_value

        self.c = ctype(trampoline)

    def raise_pending(self) -> None:
        if self.error is not None:
            e, self.error = self.error, None
            raise e


def progress_callback(fn: Optional[Callable]) -> Optional[Callback]:
    """fn(phase, done, total) -> truthy to stop."""
    if fn is None:
        return None
    return Callback(_lib.PROGRESS_FN, fn,
                    lambda f, ud, p: f(p.contents.phase, p.contents.done, p.contents.total))


def raise_pending(*cbs: Optional[Callback]) -> None:
    for cb in cbs:
        if cb is not None:
            cb.raise_pending()


def call(status_fn: Callable[[], int], handle: Optional[int], *cbs: Optional[Callback]) -> int:
    """Runs a C call, re-raises a callback's exception first, then checks the status."""
    rc = status_fn()
    raise_pending(*cbs)
    return check(rc, handle)


def _int32(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        try:
            import operator
            v = operator.index(v)
        except TypeError:
            raise TypeError(f"{what} must be integers, not {type(v).__name__}") from None
    if v < INT32_MIN or v > INT32_MAX:
        raise OverflowError(f"{what}: {v} does not fit a 32-bit token id")
    return v


def tokens_arg(ids: Iterable[int], what: str = "token ids"):
    """A ctypes int32 array copy of `ids` (a sequence of ints, array('i'),
    a 32-bit buffer such as a numpy int32 array)."""
    if isinstance(ids, (str, bytes)):
        raise TypeError(f"{what} must be a sequence of integers, not {type(ids).__name__}")
    try:
        mv = memoryview(ids)
    except TypeError:
        mv = None
    if mv is not None and mv.ndim == 1 and mv.itemsize == 4 and mv.format.lstrip("<=@") in ("i", "l") and mv.c_contiguous:
        return (ctypes.c_int32 * len(mv)).from_buffer_copy(mv)
    try:
        seq = list(ids)
    except TypeError:
        raise TypeError(f"{what} must be a sequence of integers, not {type(ids).__name__}") from None
    return (ctypes.c_int32 * len(seq))(*[_int32(v, what) for v in seq])


def floats_arg(x: Any, what: str = "logits"):
    """A ctypes float array over (writable float32 buffers) or copied from `x`."""
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{what} must be float32 values, not {type(x).__name__}")
    try:
        mv = memoryview(x)
    except TypeError:
        mv = None
    if mv is not None and mv.itemsize == 4 and mv.format.lstrip("<=@") == "f" and mv.c_contiguous:
        n = mv.nbytes // 4
        base = mv.obj
        if isinstance(base, ctypes.Array) and ctypes.sizeof(base) == mv.nbytes:
            # a view lent by libllm (logits, tensors): pass the C memory itself
            return (ctypes.c_float * n).from_address(ctypes.addressof(base))
        flat = mv.cast("B")
        if not flat.readonly:
            return (ctypes.c_float * n).from_buffer(flat)
        return (ctypes.c_float * n).from_buffer_copy(flat)
    try:
        seq = [float(v) for v in x]
    except TypeError:
        raise TypeError(f"{what} must be a sequence of numbers, not {type(x).__name__}") from None
    return (ctypes.c_float * len(seq))(*seq)


def bytes_arg(x: Any, what: str = "text") -> bytes:
    if isinstance(x, str):
        return x.encode("utf-8")
    if isinstance(x, (bytes, bytearray, memoryview)):
        return bytes(x)
    raise TypeError(f"{what} must be str or bytes, not {type(x).__name__}")


def path_arg(p: Any) -> bytes:
    import os
    if not isinstance(p, (str, bytes, os.PathLike)):
        raise TypeError(f"path must be str, bytes or os.PathLike, not {type(p).__name__}")
    return os.fsencode(p)


def float_view(addr: int, shape: Sequence[int], owner: Any = None) -> memoryview:
    """A read-only memoryview of float32 over C memory at `addr` (no copy),
    cast to `shape`. `owner` is kept alive by the view's base object."""
    n = 1
    for d in shape:
        n *= d
    if n == 0:
        return memoryview(array.array("f")).toreadonly()
    arr = (ctypes.c_float * n).from_address(addr)
    arr._owner = owner  # the view keeps arr alive, arr keeps the lender alive
    view = memoryview(arr).cast("B").cast("f", list(shape)).toreadonly()
    if isinstance(owner, Handle):
        if len(owner._views) > 64:
            owner._views = [r for r in owner._views if r() is not None]
        owner._views.append(weakref.ref(view))
    return view


def ids_list(buf, n: int) -> list:
    return list(buf[:n])


def check_nonneg(v: Any, what: str, bits: int = 64) -> int:
    """v as an unsigned integer of `bits` bits (ctypes would wrap it silently)."""
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{what} must be an int, not {type(v).__name__}")
    if v < 0:
        raise ValueError(f"{what} must not be negative ({v})")
    if v >= 1 << bits:
        raise OverflowError(f"{what} ({v}) does not fit {bits} bits")
    return v


def check_u32(v: Any, what: str) -> int:
    return check_nonneg(v, what, 32)


def set_fields(struct, fields: dict) -> None:
    """Sets ctypes struct fields by name with range checks (no silent wrap)."""
    types = dict(struct._fields_)
    for k, v in fields.items():
        t = types.get(k)
        if t is None or k == "struct_size" or k.startswith("reserved"):
            raise TypeError(f"{type(struct).__name__} has no field {k!r}")
        if t in (ctypes.c_uint32, ctypes.c_uint64):
            v = check_nonneg(v, k, 8 * ctypes.sizeof(t))
        elif t is ctypes.c_int32:
            v = _int32(v, k)
        elif t in (ctypes.c_float, ctypes.c_double):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise TypeError(f"{k} must be a number, not {type(v).__name__}")
            v = float(v)
        setattr(struct, k, v)


__all__ = ["Handle", "Callback", "Error"]
