"""libllm: Transformer language models from an embeddable C library.

Thin ctypes bindings over the stable C ABI of libllm.so; every number they
return comes from the C library, so results match the C API and the CLI.

One-to-one classes: Model, Context, Tokenizer, Sampler, Trainer, Generator
and the planning functions. Convenience layer::

    m = libllm.Model("model.gguf")                  # tokenizer=PATH if none inside
    ids = m.tokenize("Hello")                        # list[int]
    m.detokenize(ids)                                # str
    g = m.generate("Once", max_tokens=20, temperature=0)   # .tokens, .text, .reason
    e = m.evaluate(text, ctx=256)                    # .loss, .ppl, .tokens

Handles are freed by close(), `with` blocks or their finalizer; using a
closed handle raises ClosedError. Failed calls raise a subclass of
libllm.Error with .status and the library's detail message.
"""
import ctypes
from typing import Callable, Optional

from . import _lib
from .errors import (ABIError, BadFile, BufferTooSmall, Cancelled, ClosedError, Error,
                     InternalError, InvalidArgument, IOFailure, NoConvergence, NoMemory, NotFound,
                     OutOfRange, StateError, Unsupported, check)
from .tokenizer import Tokenizer, TokenStream
from .model import (ARCH_GPT2, ARCH_LLAMA, CFG_QKV_BIAS, CFG_UNTIED_OUTPUT, TYPE_F32, TYPE_Q8_0,
                    Context, Evaluation, Generation, Model, ModelConfig, cross_entropy, quantize)
from .sampler import Sampler, param_bounds
from .trainer import SCHEDULE_CONSTANT, SCHEDULE_COSINE, Trainer, load_tokens
from .generate import GenResult, Generated, Generator, generate, reason_str
from .plan import (Constants, Count, FitResult, Plan, count_model, count_train_flops,
                   fit_scaling_law, plan_budget, plan_for_compute, plan_for_params,
                   plan_for_tokens, plan_loss, plan_seconds, suggest_config)

__all__ = [
    "version", "version_number", "status_str", "set_log", "set_allocator",
    "Model", "ModelConfig", "Context", "Tokenizer", "TokenStream", "Sampler", "Trainer",
    "Generator", "Generation", "Generated", "GenResult", "Evaluation",
    "generate", "reason_str", "cross_entropy", "load_tokens", "param_bounds",
    "quantize", "TYPE_F32", "TYPE_Q8_0",
    "Constants", "Count", "Plan", "FitResult", "count_model", "count_train_flops",
    "plan_for_compute", "plan_for_params", "plan_for_tokens", "plan_loss", "plan_seconds",
    "plan_budget", "suggest_config", "fit_scaling_law",
    "Error", "InvalidArgument", "IOFailure", "BadFile", "Unsupported", "NoMemory",
    "OutOfRange", "BufferTooSmall", "Cancelled", "InternalError", "StateError",
    "ABIError", "NotFound", "NoConvergence", "ClosedError", "check",
]

# Kept for compatibility with the first version of the package.
_ModelOpts = _lib.llm_model_opts

check(_lib.llm_abi_check(_lib.HEADER_VERSION, ctypes.sizeof(_lib.llm_model_opts)))

LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG = 1, 2, 3, 4


def version() -> str:
    """Version of the loaded libllm, "MAJOR.MINOR.PATCH"."""
    return _lib.llm_version_string().decode()


def version_number() -> int:
    """MAJOR*10000 + MINOR*100 + PATCH of the loaded libllm."""
    return int(_lib.llm_version_number())


def status_str(status: int) -> str:
    """Name and meaning of a C status code."""
    return _lib.llm_status_str(status).decode()


_log_cb = None  # the live ctypes callback (C keeps calling it)


def set_log(fn: Optional[Callable[[int, str], None]], max_level: int = LOG_WARN) -> None:
    """Routes libllm's log lines to fn(level, message) (None silences it).
    Call it before creating any handle (StateError otherwise). Exceptions
    raised by fn are ignored: a log hook cannot stop the library. fn may be
    called from libllm's worker threads."""
    global _log_cb
    if fn is None:
        check(_lib.llm_set_log(_lib.LOG_FN(), None, max_level))
        _log_cb = None
        return
    if not callable(fn):
        raise TypeError("fn must be callable or None")

    def hook(ud, level, msg):
        try:
            fn(int(level), (msg or b"").decode("utf-8", "replace"))
        except BaseException:  # noqa: BLE001 - a log hook must not unwind into C
            pass

    cb = _lib.LOG_FN(hook)
    check(_lib.llm_set_log(cb, None, max_level))
    _log_cb = cb


_alloc_cb = None


def set_allocator(fn=None) -> None:
    """Sets the process-wide default allocator (llm_set_allocator): a
    ctypes ALLOC_FN instance (or None for malloc/realloc/free). Call it
    before creating any handle (StateError otherwise). The instance is kept
    alive here. An allocator written in Python is slow and runs on
    libllm's worker threads; it is meant for accounting in tests."""
    global _alloc_cb
    if fn is None:
        check(_lib.llm_set_allocator(_lib.ALLOC_FN(), None))
        _alloc_cb = None
        return
    if not isinstance(fn, _lib.ALLOC_FN):
        raise TypeError("fn must be a libllm._lib.ALLOC_FN callback or None")
    check(_lib.llm_set_allocator(fn, None))
    _alloc_cb = fn
