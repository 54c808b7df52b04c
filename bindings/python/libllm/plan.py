"""Scaling-law planning (llm_count_*, llm_plan_*, llm_fit_*): pure functions."""
import ctypes
from typing import Any, Callable, Optional, Sequence, Tuple, Union

from . import _lib
from ._base import call, progress_callback, set_fields, _int32
from .errors import check
from .model import ModelConfig, _struct_dict, _struct_repr

FLOPS_6N, FLOPS_KAPLAN, FLOPS_CHINCHILLA = 1, 2, 3
CONSTANTS_HOFFMANN2022, CONSTANTS_HOFFMANN2022_UNROUNDED, CONSTANTS_BESIROGLU2024 = 1, 2, 3
FIT_GRID_PAPER, FIT_GRID_COARSE = 0, 1

_PRESETS = {"hoffmann2022": 1, "hoffmann2022-unrounded": 2, "besiroglu2024": 3}


class Count(_lib.llm_count):
    """llm_count: parameter and FLOP counts of a configuration."""
    __repr__ = _struct_repr
    as_dict = _struct_dict


class Plan(_lib.llm_plan):
    """llm_plan: compute C, parameters N, tokens D (C = 6ND) and loss."""
    __repr__ = _struct_repr
    as_dict = _struct_dict


class Constants(_lib.llm_plan_constants):
    """llm_plan_constants: Constants() is Hoffmann et al. 2022 as printed;
    Constants(preset) a built-in set (1..3 or its name); keyword fields
    override (E, A, B, alpha, beta, approach1_a, ...)."""

    def __init__(self, preset: Union[int, str, None] = None, **fields: float):
        super().__init__()
        if preset is None:
            check(_lib.llm_plan_constants_init(ctypes.byref(self), ctypes.sizeof(self)))
        else:
            p = _PRESETS.get(preset) if isinstance(preset, str) else _int32(preset, "preset")
            if p is None:
                raise ValueError(f"unknown constants {preset!r}: {sorted(_PRESETS)}")
            check(_lib.llm_plan_constants_preset(ctypes.byref(self), ctypes.sizeof(self), p))
        if "preset" in fields:
            raise TypeError("give the preset as the first argument")
        set_fields(self, fields)
        if fields:
            self.preset = 0

    __repr__ = _struct_repr
    as_dict = _struct_dict


class FitResult(_lib.llm_fit_result):
    """llm_fit_result: E, A, B, alpha, beta, frontier, convergence."""
    __repr__ = _struct_repr
    as_dict = _struct_dict


def _cfg(config: Optional[_lib.llm_model_config], fields: dict) -> _lib.llm_model_config:
    if config is None:
        return ModelConfig(**fields)
    if fields:
        raise TypeError("give either a config or fields, not both")
    if not isinstance(config, _lib.llm_model_config):
        raise TypeError(f"config must be a libllm.ModelConfig, not {type(config).__name__}")
    return config


def count_model(config: Optional[_lib.llm_model_config] = None, **fields: Any) -> Count:
    """Exact parameter counts and per-token FLOPs (llm_count_model)."""
    c = _cfg(config, fields)
    out = Count()
    check(_lib.llm_count_init(ctypes.byref(out), ctypes.sizeof(out)))
    check(_lib.llm_count_model(ctypes.byref(out), ctypes.byref(c)))
    return out


def count_train_flops(n_tokens: float, method: int = FLOPS_6N,
                      config: Optional[_lib.llm_model_config] = None, **fields: Any) -> float:
    """Training FLOPs over n_tokens tokens by FLOPS_6N/KAPLAN/CHINCHILLA."""
    c = _cfg(config, fields)
    out = ctypes.c_double()
    check(_lib.llm_count_train_flops(ctypes.byref(out), ctypes.byref(c), float(n_tokens),
                                     _int32(method, "method")))
    return out.value


def _plan(fn, approach: int, value: float, constants: Optional[Constants]) -> Plan:
    if constants is not None and not isinstance(constants, _lib.llm_plan_constants):
        raise TypeError("constants must be a libllm.Constants")
    out = Plan()
    check(_lib.llm_plan_init(ctypes.byref(out), ctypes.sizeof(out)))
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"expected a number, not {type(value).__name__}")
    check(fn(ctypes.byref(out), ctypes.byref(constants) if constants is not None else None,
             _int32(approach, "approach"), float(value)))
    return out


def plan_for_compute(compute: float, approach: int = 3, constants: Optional[Constants] = None) -> Plan:
    """Compute-optimal N and D for a budget of `compute` FLOPs."""
    return _plan(_lib.llm_plan_for_compute, approach, compute, constants)


def plan_for_params(params: float, approach: int = 3, constants: Optional[Constants] = None) -> Plan:
    """The plan for which `params` parameters are compute-optimal."""
    return _plan(_lib.llm_plan_for_params, approach, params, constants)


def plan_for_tokens(tokens: float, approach: int = 3, constants: Optional[Constants] = None) -> Plan:
    """The plan for which `tokens` training tokens are compute-optimal."""
    return _plan(_lib.llm_plan_for_tokens, approach, tokens, constants)


def plan_loss(params: float, tokens: float, constants: Optional[Constants] = None) -> float:
    """L(N, D) = E + A/N^alpha + B/D^beta in nats/token."""
    out = ctypes.c_double()
    check(_lib.llm_plan_loss(ctypes.byref(out),
                             ctypes.byref(constants) if constants is not None else None,
                             float(params), float(tokens)))
    return out.value


def plan_seconds(tokens: float, tokens_per_second: float, params: float = 0.0,
                 measured_params: float = 0.0) -> float:
    """Wall-clock seconds to train on `tokens` at a measured throughput."""
    out = ctypes.c_double()
    check(_lib.llm_plan_seconds(ctypes.byref(out), float(tokens), float(tokens_per_second),
                                float(params), float(measured_params)))
    return out.value


def plan_budget(seconds: float, tokens_per_second: float, measured_params: float) -> float:
    """Training FLOPs that fit in `seconds` (6 * M * R * S)."""
    out = ctypes.c_double()
    check(_lib.llm_plan_budget(ctypes.byref(out), float(seconds), float(tokens_per_second),
                               float(measured_params)))
    return out.value


def suggest_config(target_params: float, base: Optional[_lib.llm_model_config] = None
                   ) -> Tuple[ModelConfig, int]:
    """A configuration of about target_params parameters: (config, exact count)."""
    if base is not None and not isinstance(base, _lib.llm_model_config):
        raise TypeError("base must be a libllm.ModelConfig")
    out = ModelConfig()
    n = ctypes.c_uint64()
    check(_lib.llm_plan_suggest_config(ctypes.byref(out), ctypes.byref(n),
                                       ctypes.byref(base) if base is not None else None,
                                       float(target_params)))
    return out, n.value


def fit_scaling_law(params: Sequence[float], tokens: Sequence[float], loss: Sequence[float], *,
                    grid: int = FIT_GRID_PAPER, max_iter: int = 0, huber_delta: float = 0.0,
                    grad_tol: float = 0.0,
                    progress: Optional[Callable[[int, int, int], Any]] = None) -> FitResult:
    """Fits L(N, D) to runs (llm_fit_scaling_law). Raises NoConvergence when
    no start converged (the best fit is then in the exception's .result)."""
    n = len(params)
    if len(tokens) != n or len(loss) != n:
        raise ValueError("params, tokens and loss must have the same length")
    arrs = [(ctypes.c_double * n)(*[float(v) for v in a]) for a in (params, tokens, loss)]
    o = _lib.new_struct(_lib.llm_fit_opts, _lib.llm_fit_opts_init)
    set_fields(o, dict(grid=grid, max_iter=max_iter, huber_delta=huber_delta, grad_tol=grad_tol))
    cb = progress_callback(progress)
    if cb is not None:
        o.progress = cb.c
    out = FitResult()
    check(_lib.llm_fit_result_init(ctypes.byref(out), ctypes.sizeof(out)))
    try:
        call(lambda: _lib.llm_fit_scaling_law(ctypes.byref(out), arrs[0], arrs[1], arrs[2], n,
                                              ctypes.byref(o)), None, cb)
    except Exception as e:
        e.result = out
        raise
    return out
