"""Locating and loading libllm.so, and the ctypes signatures of its functions.

Every function is declared with argtypes/restype before use (abi.md rule
11); handles are kept as c_void_p. The ABI check runs once, at import.
"""
import ctypes
import ctypes.util
import os

SONAME = "libllm.so.0"
ABI_MAJOR = 0
# The header version these bindings were written against (MAJOR*10000+MINOR*100+PATCH).
HEADER_VERSION = 100


def _candidates():
    env = os.environ.get("LIBLLM_LIBRARY")
    if env:
        yield env
        return
    here = os.path.dirname(os.path.abspath(__file__))
    yield os.path.join(here, SONAME)
    # <prefix>/lib/python3/dist-packages/libllm -> <prefix>/lib
    yield os.path.normpath(os.path.join(here, "..", "..", "..", SONAME))
    yield os.path.normpath(os.path.join(here, "..", "..", "..", "..", "lib", SONAME))
    found = ctypes.util.find_library("llm")
    yield found or SONAME


def _load():
    errors = []
    for path in _candidates():
        if os.path.sep in path and not os.path.exists(path):
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            errors.append(f"{path}: {e}")
    raise ImportError("libllm: cannot load the shared library (set LIBLLM_LIBRARY to its path): "
                      + "; ".join(errors))


lib = _load()

c_int, c_int32, c_uint32, c_size_t = ctypes.c_int, ctypes.c_int32, ctypes.c_uint32, ctypes.c_size_t
c_char_p, c_void_p = ctypes.c_char_p, ctypes.c_void_p


def fn(name, restype, *argtypes):
    """Declare and return a library function."""
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


llm_version_number = fn("llm_version_number", c_uint32)
llm_version_string = fn("llm_version_string", c_char_p)
llm_abi_check = fn("llm_abi_check", c_int, c_uint32, c_size_t)
llm_status_str = fn("llm_status_str", c_char_p, c_int)
llm_errmsg = fn("llm_errmsg", c_char_p, c_void_p)
llm_last_errmsg = fn("llm_last_errmsg", c_char_p)
llm_free = fn("llm_free", None, c_void_p)
