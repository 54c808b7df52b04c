"""Trainer (llm_trainer_*) and token files (llm_tokens_load)."""
import array
import ctypes
import os
from typing import Callable, List, Optional, Sequence, Tuple, Union

from . import _lib
from ._base import Handle, busy, bytes_arg, check_nonneg, set_fields, path_arg, progress_callback, tokens_arg, _int32
from .errors import check
from .model import Model

SCHEDULE_COSINE, SCHEDULE_CONSTANT = 0, 1
TRAIN_SHUFFLE = 0x1
TOKENS_AUTO, TOKENS_U16, TOKENS_U32, TOKENS_I32, TOKENS_BYTES = 0, 1, 2, 3, 4


def load_tokens(path: Union[str, os.PathLike], format: int = TOKENS_AUTO) -> "array.array":
    """Reads a token file (llm_tokens_load) into array('i'); the C buffer is
    released with llm_free."""
    p = ctypes.POINTER(ctypes.c_int32)()
    n = ctypes.c_size_t()
    check(_lib.llm_tokens_load(ctypes.byref(p), ctypes.byref(n), path_arg(path),
                               _int32(format, "format")))
    try:
        out = array.array("i")
        if n.value:
            out.frombytes(ctypes.string_at(p, 4 * n.value))
        return out
    finally:
        _lib.llm_free(p)


class Trainer(Handle):
    """Next-token training with AdamW (llm_trainer_*). Keyword arguments are
    the llm_trainer_opts fields (0 = default); shuffle sets LLM_TRAIN_SHUFFLE;
    progress(phase, done, total) -> truthy stops the step (Cancelled).
    The model is locked for writing while the trainer exists; closing the
    model closes the trainer."""

    _kind = "Trainer"

    def __init__(self, model: Model, *, n_threads: int = 0, batch: int = 0, seq_len: int = 0,
                 grad_accum: int = 0, schedule: int = SCHEDULE_COSINE, warmup_steps: int = 0,
                 total_steps: int = 0, lr: float = 0.0, min_lr: float = 0.0, beta1: float = 0.0,
                 beta2: float = 0.0, eps: float = 0.0, weight_decay: float = 0.0,
                 grad_clip: float = 0.0, seed: int = 0, shuffle: bool = False,
                 progress: Optional[Callable[[int, int, int], object]] = None):
        if not isinstance(model, Model):
            raise TypeError(f"model must be a libllm.Model, not {type(model).__name__}")
        o = _lib.new_struct(_lib.llm_trainer_opts, _lib.llm_trainer_opts_init)
        o.flags = TRAIN_SHUFFLE if shuffle else 0
        set_fields(o, dict(n_threads=n_threads, batch=batch, seq_len=seq_len,
                           grad_accum=grad_accum, warmup_steps=warmup_steps,
                           total_steps=total_steps, seed=seed, schedule=schedule, lr=lr,
                           min_lr=min_lr, beta1=beta1, beta2=beta2, eps=eps,
                           weight_decay=weight_decay, grad_clip=grad_clip))
        cb = progress_callback(progress)
        if cb is not None:
            o.progress = cb.c
        out = ctypes.c_void_p()
        check(_lib.llm_trainer_create(ctypes.byref(out), model._h, ctypes.byref(o)))
        super().__init__(out.value, _lib.llm_trainer_free, parents=(model,))
        self.model = model
        self._cb = cb
        if cb is not None:
            self._callbacks.append(cb)
        cfg = model.config
        self.batch = batch or 4
        self.seq_len = seq_len or min(cfg.n_ctx, 64)
        self.grad_accum = grad_accum or 1

    @property
    def tokens_per_step(self) -> int:
        """K*B*T: the inputs/targets length of step()."""
        return self.batch * self.seq_len * self.grad_accum

    def _call(self, fn) -> int:
        with busy(self):
            rc = fn()
        if self._cb is not None:
            self._cb.raise_pending()
        return self._check(rc)

    def step(self, inputs: Sequence[int], targets: Sequence[int]) -> float:
        """One optimizer step; returns the batch's loss before the update."""
        a, t = tokens_arg(inputs), tokens_arg(targets, "targets")
        if len(a) != len(t):
            raise ValueError(f"inputs ({len(a)}) and targets ({len(t)}) differ in length")
        loss, h = ctypes.c_float(), self._h
        self._call(lambda: _lib.llm_trainer_step(ctypes.byref(loss), h, a, t, len(a)))
        return loss.value

    def eval(self, inputs: Sequence[int], targets: Sequence[int]) -> float:
        """Mean cross-entropy of the current weights (nothing changes)."""
        a, t = tokens_arg(inputs), tokens_arg(targets, "targets")
        if len(a) != len(t):
            raise ValueError(f"inputs ({len(a)}) and targets ({len(t)}) differ in length")
        loss, h = ctypes.c_float(), self._h
        self._call(lambda: _lib.llm_trainer_eval(ctypes.byref(loss), h, a, t, len(a)))
        return loss.value

    def lr(self, step: int) -> float:
        """Learning rate of 0-based step `step` under the schedule."""
        v = ctypes.c_double()
        self._check(_lib.llm_trainer_lr(ctypes.byref(v), self._h, check_nonneg(step, "step")))
        return v.value

    @property
    def n_steps(self) -> int:
        v = ctypes.c_uint64()
        self._check(_lib.llm_trainer_n_steps(ctypes.byref(v), self._h))
        return v.value

    @property
    def grad_norm(self) -> float:
        v = ctypes.c_double()
        self._check(_lib.llm_trainer_grad_norm(ctypes.byref(v), self._h))
        return v.value

    def grad(self, name: str) -> "array.array":
        """Copy of tensor `name`'s latest gradient (array('f'))."""
        key = bytes_arg(name, "name")
        need = ctypes.c_size_t()
        rc = _lib.llm_trainer_grad_copy(None, 0, ctypes.byref(need), self._h, key)
        if rc != -7:
            self._check(rc)
        out = array.array("f", bytes(4 * need.value))
        if need.value:
            buf = (ctypes.c_float * need.value).from_buffer(out)
            self._check(_lib.llm_trainer_grad_copy(buf, need.value, ctypes.byref(need),
                                                   self._h, key))
        return out

    def next_batch(self, stream: Sequence[int]) -> Tuple[List[int], List[int]]:
        """(inputs, targets) of the next step from a token stream, by the
        trainer's data cursor (llm_trainer_next_batch)."""
        s = stream if isinstance(stream, ctypes.Array) else tokens_arg(stream, "stream")
        n = self.tokens_per_step
        a, t = (ctypes.c_int32 * n)(), (ctypes.c_int32 * n)()
        self._check(_lib.llm_trainer_next_batch(a, t, self._h, s, len(s)))
        return a[:], t[:]

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Writes a training checkpoint (atomically)."""
        self._check(_lib.llm_trainer_save(self._h, path_arg(path)))

    def load(self, path: Union[str, os.PathLike]) -> None:
        """Restores a checkpoint (weights, moments, step, RNG, cursor)."""
        self._check(_lib.llm_trainer_load(self._h, path_arg(path)))
