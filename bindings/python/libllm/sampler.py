"""Sampler (llm_sampler_*): logits -> token ids, seeded and exact."""
import array
import ctypes
from typing import Dict, Optional, Sequence, Tuple, Union

from . import _lib
from ._base import Handle, check_nonneg, floats_arg, set_fields, _int32
from .errors import check

FLAG_GREEDY, FLAG_NO_AUTO_ACCEPT = 0x1, 0x2
TEMP, TOP_K, TOP_P, MIN_P, REPEAT_PENALTY, PRESENCE_PENALTY, FREQUENCY_PENALTY, \
    PENALTY_LAST_N = 1, 2, 3, 4, 5, 6, 7, 8
PARAM_F32, PARAM_I32, PARAM_MIN_OPEN = 1, 2, 0x1

_KEYS = {"temperature": TEMP, "temp": TEMP, "top_k": TOP_K, "top_p": TOP_P, "min_p": MIN_P,
         "repeat_penalty": REPEAT_PENALTY, "presence_penalty": PRESENCE_PENALTY,
         "frequency_penalty": FREQUENCY_PENALTY, "penalty_last_n": PENALTY_LAST_N}


def _key(k: Union[int, str]) -> int:
    if isinstance(k, str):
        try:
            return _KEYS[k]
        except KeyError:
            raise ValueError(f"unknown sampler parameter {k!r}") from None
    return _int32(k, "key")


def param_bounds(key: Union[int, str]) -> dict:
    """Type, range and default of a parameter (llm_sampler_param_bounds):
    dict(name, type ('f32'/'i32'), min, max, min_open, default)."""
    info = _lib.llm_sampler_param_info()
    info.struct_size = ctypes.sizeof(info)
    check(_lib.llm_sampler_param_bounds(ctypes.byref(info), _key(key)))
    return {"name": info.name.decode(), "type": "f32" if info.type == PARAM_F32 else "i32",
            "min": info.min, "max": info.max, "min_open": bool(info.flags & PARAM_MIN_OPEN),
            "default": getattr(info, "def")}


class Sampler(Handle):
    """Sampling chain with its own PRNG and penalty window.

    temperature=0 selects greedy decoding (LLM_SAMPLER_FLAG_GREEDY); other
    keyword arguments are the llm_sampler_opts fields (0 = default/off).
    logit_bias maps token -> bias (float('-inf') bans)."""

    _kind = "Sampler"

    def __init__(self, n_vocab: int, *, seed: int = 0, temperature: Optional[float] = None,
                 top_k: int = 0, top_p: float = 0.0, min_p: float = 0.0,
                 repeat_penalty: float = 0.0, presence_penalty: float = 0.0,
                 frequency_penalty: float = 0.0, penalty_last_n: int = 0,
                 logit_bias: Optional[Dict[int, float]] = None, greedy: bool = False,
                 auto_accept: bool = True):
        o = _lib.new_struct(_lib.llm_sampler_opts, _lib.llm_sampler_opts_init)
        if temperature is not None and temperature == 0:
            greedy = True
        elif temperature is not None:
            set_fields(o, {"temperature": temperature})
        o.flags = (FLAG_GREEDY if greedy else 0) | (0 if auto_accept else FLAG_NO_AUTO_ACCEPT)
        set_fields(o, dict(n_vocab=n_vocab, seed=seed, top_k=top_k, top_p=top_p, min_p=min_p,
                           repeat_penalty=repeat_penalty, presence_penalty=presence_penalty,
                           frequency_penalty=frequency_penalty, penalty_last_n=penalty_last_n))
        bias = None
        if logit_bias is not None and not isinstance(logit_bias, dict):
            raise TypeError(f"logit_bias must be a dict token -> bias, not "
                            f"{type(logit_bias).__name__}")
        if logit_bias:
            items = list(logit_bias.items())
            for _, b in items:
                if isinstance(b, bool) or not isinstance(b, (int, float)):
                    raise TypeError(f"logit_bias values must be numbers, not {type(b).__name__}")
            bias = (_lib.llm_logit_bias * len(items))(
                *[_lib.llm_logit_bias(_int32(t, "logit_bias token"), float(b)) for t, b in items])
            o.logit_bias = ctypes.cast(bias, ctypes.POINTER(_lib.llm_logit_bias))
            o.n_logit_bias = len(items)
        out = ctypes.c_void_p()
        check(_lib.llm_sampler_create(ctypes.byref(out), ctypes.byref(o)))
        super().__init__(out.value, _lib.llm_sampler_free)
        self.n_vocab = n_vocab

    def sample(self, logits) -> int:
        """One token from logits (n_vocab float32 values: memoryview,
        array('f'), numpy array or list)."""
        z = floats_arg(logits)
        out = ctypes.c_int32(-1)
        self._check(_lib.llm_sampler_sample(ctypes.byref(out), self._h, z, len(z)))
        return out.value

    def probs(self, logits) -> Tuple["array.array", int]:
        """(final distribution as array('f'), number of tokens kept)."""
        z = floats_arg(logits)
        out = array.array("f", bytes(4 * len(z)))
        kept = ctypes.c_size_t()
        pb = (ctypes.c_float * len(z)).from_buffer(out) if len(z) else None
        self._check(_lib.llm_sampler_probs(pb, ctypes.byref(kept), self._h, z, len(z)))
        return out, kept.value

    def accept(self, token: int) -> None:
        """Records a token in the penalty window."""
        self._check(_lib.llm_sampler_accept(self._h, _int32(token, "token")))

    def reset(self, seed: int = 0) -> None:
        """Empties the window and reseeds the PRNG."""
        self._check(_lib.llm_sampler_reset(self._h, check_nonneg(seed, "seed")))

    def set(self, key: Union[int, str], value: Union[int, float]) -> None:
        """Sets a runtime parameter by key (TEMP, TOP_K...) or name."""
        k = _key(key)
        if param_bounds(k)["type"] == "i32":
            self._check(_lib.llm_sampler_set_i32(self._h, k, _int32(value, "value")))
        else:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"value must be a number, not {type(value).__name__}")
            self._check(_lib.llm_sampler_set_f32(self._h, k, float(value)))

    def get(self, key: Union[int, str]) -> Union[int, float]:
        """Current value of a runtime parameter."""
        k = _key(key)
        if param_bounds(k)["type"] == "i32":
            v = ctypes.c_int32()
            self._check(_lib.llm_sampler_get_i32(ctypes.byref(v), self._h, k))
        else:
            v = ctypes.c_float()
            self._check(_lib.llm_sampler_get_f32(ctypes.byref(v), self._h, k))
        return v.value

    # explicit typed setters/getters, one-to-one with C
    def set_f32(self, key: int, value: float) -> None:
        self._check(_lib.llm_sampler_set_f32(self._h, _key(key), float(value)))

    def set_i32(self, key: int, value: int) -> None:
        self._check(_lib.llm_sampler_set_i32(self._h, _key(key), _int32(value, "value")))

    def get_f32(self, key: int) -> float:
        v = ctypes.c_float()
        self._check(_lib.llm_sampler_get_f32(ctypes.byref(v), self._h, _key(key)))
        return v.value

    def get_i32(self, key: int) -> int:
        v = ctypes.c_int32()
        self._check(_lib.llm_sampler_get_i32(ctypes.byref(v), self._h, _key(key)))
        return v.value
