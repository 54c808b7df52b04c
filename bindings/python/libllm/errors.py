"""The libllm.Error hierarchy: one class per C status code."""
from . import _lib

OK = 0
AGAIN = 1


class Error(Exception):
    """A libllm call failed. ``status`` is the C status code (negative),
    ``message`` the library's detail message."""

    status = None

    def __init__(self, status, message):
        self.status = status
        self.message = message
        name = _lib.llm_status_str(status).decode()
        super().__init__(f"{name}: {message}" if message else name)


class InvalidArgument(Error, ValueError): pass
class IOFailure(Error, OSError): pass
class BadFile(Error): pass
class Unsupported(Error): pass
class NoMemory(Error, MemoryError): pass
class OutOfRange(Error, IndexError): pass
class BufferTooSmall(Error): pass
class Cancelled(Error): pass
class InternalError(Error): pass
class StateError(Error): pass
class ABIError(Error, ImportError): pass
class NotFound(Error, LookupError): pass
class NoConvergence(Error): pass


class ClosedError(StateError):
    """A method was called on a handle after close() (or after the handle it
    depends on was closed). Raised by the binding, before any C call."""

    def __init__(self, what):
        super().__init__(-10, f"{what} is closed")

# Frozen C codes (include/llm.h) -> classes.
_BY_STATUS = {
    -1: InvalidArgument, -2: IOFailure, -3: BadFile, -4: Unsupported, -5: NoMemory,
    -6: OutOfRange, -7: BufferTooSmall, -8: Cancelled, -9: InternalError, -10: StateError,
    -11: ABIError, -12: NotFound, -13: NoConvergence,
}


def check(status, handle=None):
    """Raise the Error subclass for a negative status; return status otherwise."""
    if status >= 0:
        return status
    # Calls on a handle leave their detail in llm_errmsg(handle); calls that
    # report per thread (tokenizer after load, generator, planning) in
    # llm_last_errmsg(), which is the fallback.
    msg = (_lib.llm_errmsg(handle) if handle else b"") or _lib.llm_last_errmsg() or b""
    cls = _BY_STATUS.get(status, Error)
    raise cls(status, msg.decode("utf-8", "replace"))
