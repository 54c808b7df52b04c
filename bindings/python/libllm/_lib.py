"""Locating and loading libllm.so, the ctypes mirrors of its option/result
structs, and the ctypes signature of every function it exports.

Every function is declared with argtypes/restype before use (abi.md rule
11); handles are kept as c_void_p. Struct mirrors follow include/llm.h
field by field; tests/bindings/test_structs.py compiles a C program that
prints sizeof/offsetof of every field and compares. The ABI check runs once,
at import (libllm/__init__.py).
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
c_uint64, c_uint8, c_float, c_double = ctypes.c_uint64, ctypes.c_uint8, ctypes.c_float, ctypes.c_double
c_char_p, c_void_p = ctypes.c_char_p, ctypes.c_void_p
P = ctypes.POINTER
c_token = ctypes.c_int32

# ---- callback types ----
ALLOC_FN = ctypes.CFUNCTYPE(c_void_p, c_void_p, c_void_p, c_size_t, c_size_t)
LOG_FN = ctypes.CFUNCTYPE(None, c_void_p, c_int32, c_char_p)


class llm_progress(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("phase", c_int32),
                ("done", c_uint64), ("total", c_uint64)]


PROGRESS_FN = ctypes.CFUNCTYPE(c_int, c_void_p, P(llm_progress))
# text is declared as a pointer (not c_char_p) so that its length is n_text
GEN_TOKEN_FN = ctypes.CFUNCTYPE(c_int, c_void_p, c_int32, P(ctypes.c_char), c_size_t)


# ---- option and result structs (mirrors of include/llm.h) ----
class llm_model_opts(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("flags", c_uint32),
                ("alloc", ALLOC_FN), ("alloc_ud", c_void_p),
                ("progress", PROGRESS_FN), ("progress_ud", c_void_p),
                ("max_tensors", c_uint64), ("max_dim", c_uint64),
                ("max_vocab", c_uint64), ("max_string", c_uint64)]


class llm_quantize_opts(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("type", c_uint32), ("flags", c_uint32),
                ("alloc", ALLOC_FN), ("alloc_ud", c_void_p),
                ("progress", PROGRESS_FN), ("progress_ud", c_void_p)]


class llm_model_config(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("arch", c_int32), ("n_vocab", c_uint32),
                ("n_ctx", c_uint32), ("n_embd", c_uint32), ("n_layer", c_uint32),
                ("n_head", c_uint32), ("n_head_kv", c_uint32), ("n_ff", c_uint32),
                ("norm_eps", c_float), ("rope_base", c_float), ("flags", c_uint32)]


class llm_tokenizer_opts(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("flags", c_uint32),
                ("alloc", ALLOC_FN), ("alloc_ud", c_void_p),
                ("pattern", c_int32), ("n_special", c_uint32), ("special", P(c_char_p)),
                ("max_vocab", c_uint64), ("max_string", c_uint64)]


class llm_tok_stream(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("flags", c_uint32), ("n_pending", c_uint32),
                ("pending", c_uint8 * 4), ("reserved", c_uint64 * 2)]


class llm_tokenizer_train_opts(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("flags", c_uint32),
                ("alloc", ALLOC_FN), ("alloc_ud", c_void_p),
                ("pattern", c_int32), ("vocab_size", c_uint32), ("min_frequency", c_uint32),
                ("n_special", c_uint32), ("special", P(c_char_p)),
                ("progress", PROGRESS_FN), ("progress_ud", c_void_p)]


class llm_ctx_opts(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("n_ctx", c_uint32), ("n_batch", c_uint32),
                ("n_threads", c_uint32), ("alloc", ALLOC_FN), ("alloc_ud", c_void_p),
                ("progress", PROGRESS_FN), ("progress_ud", c_void_p), ("flags", c_uint32)]


class llm_logit_bias(ctypes.Structure):
    _fields_ = [("token", c_token), ("bias", c_float)]


class llm_sampler_opts(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("flags", c_uint32),
                ("alloc", ALLOC_FN), ("alloc_ud", c_void_p), ("seed", c_uint64),
                ("n_vocab", c_uint32), ("top_k", c_int32), ("temperature", c_float),
                ("top_p", c_float), ("min_p", c_float), ("repeat_penalty", c_float),
                ("presence_penalty", c_float), ("frequency_penalty", c_float),
                ("penalty_last_n", c_int32), ("reserved0", c_uint32),
                ("logit_bias", P(llm_logit_bias)), ("n_logit_bias", c_size_t)]


class llm_sampler_param_info(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("type", c_int32), ("flags", c_uint32),
                ("reserved", c_uint32), ("min", c_double), ("max", c_double),
                ("def", c_double), ("name", c_char_p)]


class llm_trainer_opts(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("flags", c_uint32),
                ("alloc", ALLOC_FN), ("alloc_ud", c_void_p),
                ("n_threads", c_uint32), ("batch", c_uint32), ("seq_len", c_uint32),
                ("grad_accum", c_uint32), ("schedule", c_int32), ("warmup_steps", c_uint32),
                ("total_steps", c_uint64), ("lr", c_double), ("min_lr", c_double),
                ("beta1", c_double), ("beta2", c_double), ("eps", c_double),
                ("weight_decay", c_double), ("grad_clip", c_double), ("seed", c_uint64),
                ("progress", PROGRESS_FN), ("progress_ud", c_void_p)]


class llm_gen_opts(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("flags", c_uint32),
                ("alloc", ALLOC_FN), ("alloc_ud", c_void_p),
                ("max_tokens", c_uint32), ("n_ubatch", c_uint32),
                ("stop", P(c_char_p)), ("n_stop", c_size_t),
                ("stop_tokens", P(c_token)), ("n_stop_tokens", c_size_t),
                ("on_token", GEN_TOKEN_FN), ("on_token_ud", c_void_p),
                ("progress", PROGRESS_FN), ("progress_ud", c_void_p)]


class llm_gen_result(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("reason", c_int32), ("n_prompt", c_uint64),
                ("n_tokens", c_uint64), ("n_text", c_uint64), ("n_past", c_uint64),
                ("prompt_seconds", c_double), ("gen_seconds", c_double),
                ("last_pass_seconds", c_double)]


class llm_count(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("reserved0", c_uint32), ("n_params", c_uint64),
                ("n_params_embedding", c_uint64), ("n_params_non_embedding", c_uint64),
                ("flops_fwd_kaplan", c_double), ("flops_fwd_chinchilla", c_double),
                ("flops_fwd_chinchilla_embed", c_double), ("flops_train_kaplan", c_double),
                ("flops_train_chinchilla", c_double), ("flops_train_6n", c_double)]


class llm_plan_constants(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("preset", c_int32), ("E", c_double),
                ("A", c_double), ("B", c_double), ("alpha", c_double), ("beta", c_double),
                ("approach1_a", c_double), ("approach1_coef", c_double),
                ("approach2_a", c_double), ("approach2_coef", c_double)]


class llm_plan(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("approach", c_int32), ("compute", c_double),
                ("params", c_double), ("tokens", c_double), ("tokens_per_param", c_double),
                ("loss", c_double)]


class llm_fit_opts(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("max_iter", c_uint32), ("huber_delta", c_double),
                ("grad_tol", c_double), ("grid", c_int32), ("reserved0", c_uint32),
                ("progress", PROGRESS_FN), ("progress_ud", c_void_p),
                ("alloc", ALLOC_FN), ("alloc_ud", c_void_p)]


class llm_fit_result(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("converged", c_int32), ("E", c_double),
                ("A", c_double), ("B", c_double), ("alpha", c_double), ("beta", c_double),
                ("objective", c_double), ("frontier_a", c_double), ("frontier_b", c_double),
                ("frontier_G", c_double), ("n_starts", c_uint32), ("n_converged", c_uint32),
                ("iterations", c_uint64)]


# Every mirrored struct, by its C name (used by the layout test).
STRUCTS = [llm_progress, llm_model_opts, llm_model_config, llm_tokenizer_opts, llm_tok_stream,
           llm_tokenizer_train_opts, llm_ctx_opts, llm_logit_bias, llm_sampler_opts,
           llm_sampler_param_info, llm_trainer_opts, llm_gen_opts, llm_gen_result, llm_count,
           llm_plan_constants, llm_plan, llm_fit_opts, llm_fit_result]


def new_struct(cls, init=None):
    """A zeroed instance of an option/result struct with struct_size set
    (through its C *_init function when it has one)."""
    s = cls()
    if init is not None:
        rc = init(ctypes.byref(s), ctypes.sizeof(cls))
        if rc < 0:
            raise RuntimeError(f"{cls.__name__}: init failed ({rc})")
    else:
        s.struct_size = ctypes.sizeof(cls)
    return s


# ---- functions ----
DECLARED = []


def fn(name, restype, *argtypes):
    """Declare and return a library function."""
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    DECLARED.append(name)
    return f


H = c_void_p          # any handle
PH = P(c_void_p)      # out-handle
Ptok = P(c_token)
Pf = P(c_float)
Pcf = P(P(c_float))   # const float ** (lent pointer out)
Psz = P(c_size_t)

# core
llm_version_number = fn("llm_version_number", c_uint32)
llm_version_string = fn("llm_version_string", c_char_p)
llm_abi_check = fn("llm_abi_check", c_int, c_uint32, c_size_t)
llm_status_str = fn("llm_status_str", c_char_p, c_int)
llm_errmsg = fn("llm_errmsg", c_char_p, c_void_p)
llm_last_errmsg = fn("llm_last_errmsg", c_char_p)
llm_set_allocator = fn("llm_set_allocator", c_int, ALLOC_FN, c_void_p)
llm_free = fn("llm_free", None, c_void_p)
llm_set_log = fn("llm_set_log", c_int, LOG_FN, c_void_p, c_int32)
llm_model_opts_init = fn("llm_model_opts_init", c_int, P(llm_model_opts), c_size_t)
llm_model_config_init = fn("llm_model_config_init", c_int, P(llm_model_config), c_size_t)

# tokenizer
llm_tokenizer_opts_init = fn("llm_tokenizer_opts_init", c_int, P(llm_tokenizer_opts), c_size_t)
llm_tokenizer_load = fn("llm_tokenizer_load", c_int, PH, c_char_p, P(llm_tokenizer_opts))
llm_tokenizer_free = fn("llm_tokenizer_free", None, H)
llm_tokenizer_n_vocab = fn("llm_tokenizer_n_vocab", c_size_t, H)
llm_tokenizer_special_id = fn("llm_tokenizer_special_id", c_token, H, c_int32)
llm_tokenizer_add_bos = fn("llm_tokenizer_add_bos", c_int32, H)
llm_tokenizer_is_special = fn("llm_tokenizer_is_special", c_int32, H, c_token)
llm_tokenizer_encode = fn("llm_tokenizer_encode", c_int, Ptok, c_size_t, Psz, H, c_void_p,
                          c_size_t, c_uint32)
llm_tokenizer_decode = fn("llm_tokenizer_decode", c_int, c_void_p, c_size_t, Psz, H, Ptok,
                          c_size_t, c_uint32)
llm_tokenizer_token_to_piece = fn("llm_tokenizer_token_to_piece", c_int, c_void_p, c_size_t,
                                  Psz, H, c_token)
llm_tokenizer_piece_to_token = fn("llm_tokenizer_piece_to_token", c_int, Ptok, H, c_void_p,
                                  c_size_t)
llm_tok_stream_init = fn("llm_tok_stream_init", c_int, P(llm_tok_stream), c_size_t, c_uint32)
llm_tok_stream_decode = fn("llm_tok_stream_decode", c_int, c_void_p, c_size_t, Psz, H,
                           P(llm_tok_stream), Ptok, c_size_t)
llm_tok_stream_flush = fn("llm_tok_stream_flush", c_int, c_void_p, c_size_t, Psz,
                          P(llm_tok_stream))
llm_tokenizer_save = fn("llm_tokenizer_save", c_int, H, c_char_p, c_int32)
llm_tokenizer_train_opts_init = fn("llm_tokenizer_train_opts_init", c_int,
                                   P(llm_tokenizer_train_opts), c_size_t)
llm_tokenizer_train = fn("llm_tokenizer_train", c_int, PH, P(c_char_p), c_size_t,
                         P(llm_tokenizer_train_opts))

# model
llm_model_load = fn("llm_model_load", c_int, PH, c_char_p, P(llm_model_opts))
llm_model_load_mem = fn("llm_model_load_mem", c_int, PH, c_void_p, c_size_t, P(llm_model_opts))
llm_model_import = fn("llm_model_import", c_int, PH, c_char_p, P(llm_model_opts))
llm_model_create = fn("llm_model_create", c_int, PH, P(llm_model_config), c_uint64,
                      P(llm_model_opts))
llm_model_free = fn("llm_model_free", None, H)
llm_model_save = fn("llm_model_save", c_int, H, c_char_p)
llm_model_get_config = fn("llm_model_get_config", c_int, P(llm_model_config), H)
llm_model_n_params = fn("llm_model_n_params", c_int, P(c_uint64), H)
llm_model_file_type = fn("llm_model_file_type", c_int, P(c_uint32), H)
llm_model_n_tensors = fn("llm_model_n_tensors", c_int, Psz, H)
llm_model_tensor_name = fn("llm_model_tensor_name", c_int, P(c_char_p), H, c_size_t)
llm_model_tensor_shape = fn("llm_model_tensor_shape", c_int, P(c_uint32), P(c_uint64), H,
                            c_char_p)
llm_model_tensor_data = fn("llm_model_tensor_data", c_int, Pcf, Psz, H, c_char_p)
llm_model_tensor_copy = fn("llm_model_tensor_copy", c_int, Pf, c_size_t, Psz, H, c_char_p)
llm_model_tensor_type = fn("llm_model_tensor_type", c_int, P(c_uint32), H, c_char_p)
llm_quantize_opts_init = fn("llm_quantize_opts_init", c_int, P(llm_quantize_opts), c_size_t)
llm_model_quantize = fn("llm_model_quantize", c_int, c_char_p, c_char_p, P(llm_quantize_opts))
llm_model_tokenizer = fn("llm_model_tokenizer", c_void_p, H)
llm_model_set_tokenizer = fn("llm_model_set_tokenizer", c_int, H, H)

# context
llm_ctx_opts_init = fn("llm_ctx_opts_init", c_int, P(llm_ctx_opts), c_size_t)
llm_ctx_estimate_bytes = fn("llm_ctx_estimate_bytes", c_int, Psz, H, P(llm_ctx_opts))
llm_ctx_create = fn("llm_ctx_create", c_int, PH, H, P(llm_ctx_opts))
llm_ctx_free = fn("llm_ctx_free", None, H)
llm_ctx_interrupt = fn("llm_ctx_interrupt", None, H)
llm_ctx_forward = fn("llm_ctx_forward", c_int, Pf, c_size_t, Psz, H, Ptok, c_size_t, c_size_t,
                     c_uint32)
llm_ctx_decode = fn("llm_ctx_decode", c_int, Pcf, H, Ptok, c_size_t)
llm_ctx_logits = fn("llm_ctx_logits", c_int, Pcf, H)
llm_ctx_n_past = fn("llm_ctx_n_past", c_int, Psz, H)
llm_ctx_n_ctx = fn("llm_ctx_n_ctx", c_int, Psz, H)
llm_ctx_truncate = fn("llm_ctx_truncate", c_int, H, c_size_t)
llm_ctx_reset = fn("llm_ctx_reset", c_int, H)
llm_ctx_capture_attention = fn("llm_ctx_capture_attention", c_int, H, c_int32, c_int32)
llm_ctx_attention = fn("llm_ctx_attention", c_int, Pcf, Psz, Psz, H)
llm_cross_entropy = fn("llm_cross_entropy", c_int, P(c_double), Pf, Pf, Ptok, c_size_t,
                       c_size_t)
llm_ctx_loss = fn("llm_ctx_loss", c_int, P(c_double), Pf, H, Ptok, Ptok, c_size_t, c_size_t)
llm_ctx_eval = fn("llm_ctx_eval", c_int, P(c_double), P(c_uint64), H, Ptok, c_size_t,
                  c_size_t, c_size_t)

# sampler
llm_sampler_opts_init = fn("llm_sampler_opts_init", c_int, P(llm_sampler_opts), c_size_t)
llm_sampler_create = fn("llm_sampler_create", c_int, PH, P(llm_sampler_opts))
llm_sampler_free = fn("llm_sampler_free", None, H)
llm_sampler_sample = fn("llm_sampler_sample", c_int, Ptok, H, Pf, c_size_t)
llm_sampler_probs = fn("llm_sampler_probs", c_int, Pf, Psz, H, Pf, c_size_t)
llm_sampler_accept = fn("llm_sampler_accept", c_int, H, c_token)
llm_sampler_reset = fn("llm_sampler_reset", c_int, H, c_uint64)
llm_sampler_param_bounds = fn("llm_sampler_param_bounds", c_int, P(llm_sampler_param_info),
                              c_int32)
llm_sampler_set_f32 = fn("llm_sampler_set_f32", c_int, H, c_int32, c_float)
llm_sampler_set_i32 = fn("llm_sampler_set_i32", c_int, H, c_int32, c_int32)
llm_sampler_get_f32 = fn("llm_sampler_get_f32", c_int, Pf, H, c_int32)
llm_sampler_get_i32 = fn("llm_sampler_get_i32", c_int, P(c_int32), H, c_int32)

# trainer
llm_trainer_opts_init = fn("llm_trainer_opts_init", c_int, P(llm_trainer_opts), c_size_t)
llm_trainer_create = fn("llm_trainer_create", c_int, PH, H, P(llm_trainer_opts))
llm_trainer_free = fn("llm_trainer_free", None, H)
llm_trainer_step = fn("llm_trainer_step", c_int, Pf, H, Ptok, Ptok, c_size_t)
llm_trainer_eval = fn("llm_trainer_eval", c_int, Pf, H, Ptok, Ptok, c_size_t)
llm_trainer_lr = fn("llm_trainer_lr", c_int, P(c_double), H, c_uint64)
llm_trainer_n_steps = fn("llm_trainer_n_steps", c_int, P(c_uint64), H)
llm_trainer_grad_norm = fn("llm_trainer_grad_norm", c_int, P(c_double), H)
llm_trainer_grad_copy = fn("llm_trainer_grad_copy", c_int, Pf, c_size_t, Psz, H, c_char_p)
llm_tokens_load = fn("llm_tokens_load", c_int, P(Ptok), Psz, c_char_p, c_int32)
llm_trainer_next_batch = fn("llm_trainer_next_batch", c_int, Ptok, Ptok, H, Ptok, c_size_t)
llm_trainer_save = fn("llm_trainer_save", c_int, H, c_char_p)
llm_trainer_load = fn("llm_trainer_load", c_int, H, c_char_p)

# generation
llm_gen_opts_init = fn("llm_gen_opts_init", c_int, P(llm_gen_opts), c_size_t)
llm_gen_create = fn("llm_gen_create", c_int, PH, H, H, H, P(llm_gen_opts))
llm_gen_free = fn("llm_gen_free", None, H)
llm_gen_feed_text = fn("llm_gen_feed_text", c_int, H, c_void_p, c_size_t)
llm_gen_feed_tokens = fn("llm_gen_feed_tokens", c_int, H, Ptok, c_size_t)
llm_gen_next = fn("llm_gen_next", c_int, Ptok, P(P(ctypes.c_char)), Psz, H)
llm_gen_step = fn("llm_gen_step", c_int, Ptok, c_size_t, Psz, c_void_p, c_size_t, Psz, H,
                  c_uint64)
llm_gen_cancel = fn("llm_gen_cancel", c_int, H)
llm_gen_reset = fn("llm_gen_reset", c_int, H)
llm_gen_reason = fn("llm_gen_reason", c_int, P(c_int32), H)
llm_gen_reason_str = fn("llm_gen_reason_str", c_char_p, c_int32)
llm_gen_max_piece = fn("llm_gen_max_piece", c_int, Psz, H)
llm_gen_result_init = fn("llm_gen_result_init", c_int, P(llm_gen_result), c_size_t)
llm_gen_get_result = fn("llm_gen_get_result", c_int, P(llm_gen_result), H)
llm_generate = fn("llm_generate", c_int, Ptok, c_size_t, Psz, c_void_p, c_size_t, Psz,
                  P(llm_gen_result), H, H, H, c_void_p, c_size_t, P(llm_gen_opts))

# planning
llm_count_init = fn("llm_count_init", c_int, P(llm_count), c_size_t)
llm_count_model = fn("llm_count_model", c_int, P(llm_count), P(llm_model_config))
llm_count_train_flops = fn("llm_count_train_flops", c_int, P(c_double), P(llm_model_config),
                           c_double, c_int32)
llm_plan_constants_init = fn("llm_plan_constants_init", c_int, P(llm_plan_constants), c_size_t)
llm_plan_constants_preset = fn("llm_plan_constants_preset", c_int, P(llm_plan_constants),
                               c_size_t, c_int32)
llm_plan_init = fn("llm_plan_init", c_int, P(llm_plan), c_size_t)
llm_plan_for_compute = fn("llm_plan_for_compute", c_int, P(llm_plan), P(llm_plan_constants),
                          c_int32, c_double)
llm_plan_for_params = fn("llm_plan_for_params", c_int, P(llm_plan), P(llm_plan_constants),
                         c_int32, c_double)
llm_plan_for_tokens = fn("llm_plan_for_tokens", c_int, P(llm_plan), P(llm_plan_constants),
                         c_int32, c_double)
llm_plan_loss = fn("llm_plan_loss", c_int, P(c_double), P(llm_plan_constants), c_double,
                   c_double)
llm_plan_seconds = fn("llm_plan_seconds", c_int, P(c_double), c_double, c_double, c_double,
                      c_double)
llm_plan_budget = fn("llm_plan_budget", c_int, P(c_double), c_double, c_double, c_double)
llm_plan_suggest_config = fn("llm_plan_suggest_config", c_int, P(llm_model_config),
                             P(c_uint64), P(llm_model_config), c_double)
llm_fit_opts_init = fn("llm_fit_opts_init", c_int, P(llm_fit_opts), c_size_t)
llm_fit_result_init = fn("llm_fit_result_init", c_int, P(llm_fit_result), c_size_t)
llm_fit_scaling_law = fn("llm_fit_scaling_law", c_int, P(llm_fit_result), P(c_double),
                         P(c_double), P(c_double), c_size_t, P(llm_fit_opts))
