"""libllm: Transformer language models from an embeddable C library.

Thin ctypes bindings over the stable C ABI of libllm.so; every number they
return comes from the C library, so results match the C API and the CLI.
"""
import ctypes

from . import _lib
from .errors import (ABIError, BadFile, BufferTooSmall, Cancelled, Error, InternalError,
                     InvalidArgument, IOFailure, NoConvergence, NoMemory, NotFound,
                     OutOfRange, StateError, Unsupported, check)

__all__ = [
    "version", "version_number", "status_str",
    "Error", "InvalidArgument", "IOFailure", "BadFile", "Unsupported", "NoMemory",
    "OutOfRange", "BufferTooSmall", "Cancelled", "InternalError", "StateError",
    "ABIError", "NotFound", "NoConvergence",
]


class _ModelOpts(ctypes.Structure):
    # Mirror of llm_model_opts, used for the ABI check's size argument.
    _fields_ = [("struct_size", ctypes.c_uint32), ("flags", ctypes.c_uint32),
                ("alloc", ctypes.c_void_p), ("alloc_ud", ctypes.c_void_p),
                ("progress", ctypes.c_void_p), ("progress_ud", ctypes.c_void_p)]


check(_lib.llm_abi_check(_lib.HEADER_VERSION, ctypes.sizeof(_ModelOpts)))


def version() -> str:
    """Version of the loaded libllm, "MAJOR.MINOR.PATCH"."""
    return _lib.llm_version_string().decode()


def version_number() -> int:
    """MAJOR*10000 + MINOR*100 + PATCH of the loaded libllm."""
    return int(_lib.llm_version_number())


def status_str(status: int) -> str:
    """Name and meaning of a C status code."""
    return _lib.llm_status_str(status).decode()
