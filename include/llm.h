/*
 * llm.h - the public interface of libllm, an embeddable library for
 * decoder-only Transformer language models: tokenization, forward passes,
 * loss evaluation, training, sampling and scaling-law planning.
 *
 * This header is the reference documentation. Every declaration says what
 * it does, its units, who owns what, how long returned pointers live, which
 * thread may call it and which status codes it returns.
 *
 * ------------------------------------------------------------------------
 * ABI rules (what a release may change)
 * ------------------------------------------------------------------------
 * The shared library is libllm.so.<MAJOR> (SONAME). Within one MAJOR:
 *   - functions, status codes, enum-like constants, option fields and
 *     handle types may be ADDED; nothing is removed, renamed or re-typed;
 *   - the numeric value of every LLM_* constant is frozen forever (status
 *     codes included: a negative code never changes meaning);
 *   - option structs only grow at their end; a zero field always means
 *     "default", so a caller built against an older header (smaller
 *     struct_size) keeps the old behaviour;
 *   - handles stay opaque: their layout is never part of the ABI;
 *   - no struct, enum, union, bitfield or bool is passed by value; every
 *     integer in the ABI has a fixed width (or is size_t for sizes).
 * A MINOR release adds; a PATCH release fixes bugs only. Removing or
 * changing anything above needs a new MAJOR and a new SONAME.
 * Declarations under #ifdef LLM_EXPERIMENTAL are outside this promise and
 * may change in any release.
 *
 * ------------------------------------------------------------------------
 * Conventions
 * ------------------------------------------------------------------------
 * - Every fallible function returns an int status: LLM_OK (0), LLM_AGAIN
 *   (1, "not finished, call again") or a negative LLM_ERR_* code.
 * - Out-parameters come first, then the handle, then inputs.
 * - Constructors write the new handle to *out only on success (on failure
 *   *out is set to NULL). Every llm_*_free(NULL) is a no-op.
 * - Detail for a failure: llm_errmsg(handle) for calls on a handle,
 *   llm_last_errmsg() for the calling thread's latest failure (this covers
 *   constructors that produced no handle).
 * - Buffers are provided by the caller. When one is too small the call
 *   returns LLM_ERR_BUFFER_TOO_SMALL and stores the needed count in the
 *   function's n_needed out-parameter.
 * - The library never prints, never calls abort() or exit(), and starts no
 *   thread unless an option asks for more than one thread.
 */
#ifndef LLM_H
#define LLM_H

#include <stddef.h>
#include <stdint.h>

/* LLM_API marks the exported symbols. Define LLM_BUILD when building the
 * library; on Windows define LLM_SHARED when linking against the DLL. */
#if defined(_WIN32)
#  if defined(LLM_BUILD)
#    define LLM_API __declspec(dllexport)
#  elif defined(LLM_SHARED)
#    define LLM_API __declspec(dllimport)
#  else
#    define LLM_API
#  endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#  define LLM_API __attribute__((visibility("default")))
#else
#  define LLM_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ========================================================================
 * Version
 * ======================================================================== */

#define LLM_VERSION_MAJOR 0
#define LLM_VERSION_MINOR 1
#define LLM_VERSION_PATCH 0
/* MAJOR*10000 + MINOR*100 + PATCH, e.g. 1.2.3 -> 10203. */
#define LLM_VERSION_NUMBER \
    (LLM_VERSION_MAJOR * 10000 + LLM_VERSION_MINOR * 100 + LLM_VERSION_PATCH)
#define LLM_VERSION_STR_(a, b, c) #a "." #b "." #c
#define LLM_VERSION_STR(a, b, c) LLM_VERSION_STR_(a, b, c)
#define LLM_VERSION_STRING \
    LLM_VERSION_STR(LLM_VERSION_MAJOR, LLM_VERSION_MINOR, LLM_VERSION_PATCH)

/* Version of the library actually loaded (may differ from the header's). */
LLM_API uint32_t llm_version_number(void);
/* "MAJOR.MINOR.PATCH"; static storage, never NULL. */
LLM_API const char *llm_version_string(void);

/* Checks that the loaded library can serve a caller compiled against
 * header version `header_version` (pass LLM_VERSION_NUMBER) whose
 * llm_model_opts is `model_opts_size` bytes (pass sizeof(llm_model_opts)).
 * Bindings call this once at load time.
 * Returns LLM_OK, or LLM_ERR_ABI when the MAJOR differs or the caller is
 * newer than the library (a newer header may use functions or option
 * fields this library does not have). Thread-safe. */
LLM_API int llm_abi_check(uint32_t header_version, size_t model_opts_size);

/* ========================================================================
 * Status codes and error messages
 * ======================================================================== */

/* Values are frozen forever; new codes only get new numbers. */
#define LLM_OK                    0   /* success */
#define LLM_AGAIN                 1   /* not an error: budget used up, call again */
#define LLM_ERR_INVALID         (-1)  /* invalid argument (NULL, out of domain) */
#define LLM_ERR_IO              (-2)  /* the operating system refused an I/O call */
#define LLM_ERR_BAD_FILE        (-3)  /* malformed or truncated file or buffer */
#define LLM_ERR_UNSUPPORTED     (-4)  /* valid but not supported (arch, type, option) */
#define LLM_ERR_NOMEM           (-5)  /* an allocation failed */
#define LLM_ERR_RANGE           (-6)  /* index, id or size out of range */
#define LLM_ERR_BUFFER_TOO_SMALL (-7) /* caller buffer too small; see n_needed */
#define LLM_ERR_CANCELLED       (-8)  /* a progress/abort callback asked to stop */
#define LLM_ERR_INTERNAL        (-9)  /* a bug in libllm; please report it */
#define LLM_ERR_STATE           (-10) /* call not valid in the handle's state */
#define LLM_ERR_ABI             (-11) /* header and library versions incompatible */
#define LLM_ERR_NOT_FOUND       (-12) /* named item (tensor, key, file) not found */
#define LLM_ERR_NO_CONVERGENCE  (-13) /* an iterative solver did not converge */

/* Short static name of a status code, e.g. "LLM_ERR_BAD_FILE: malformed
 * file". Unknown codes give "unknown status". Never NULL. Thread-safe. */
LLM_API const char *llm_status_str(int status);

/* Detail message of the latest failed call on `handle` (any libllm
 * handle: model, tokenizer, ctx, sampler, trainer), or "" when no call on
 * it has failed. It names what was wrong and where (file, offset, tensor,
 * argument). With handle == NULL it is llm_last_errmsg(). The string is
 * owned by the handle and valid until the next call on that handle. */
LLM_API const char *llm_errmsg(const void *handle);

/* Detail message of the calling thread's latest failed libllm call, or ""
 * if none failed yet. Thread-local; valid until this thread's next failed
 * call. Use it after a constructor failed and returned no handle. */
LLM_API const char *llm_last_errmsg(void);

/* ========================================================================
 * Memory
 * ======================================================================== */

/* Allocator hook, same contract as Lua's lua_Alloc:
 *   nsize == 0: free ptr (which may be NULL), return NULL;
 *   ptr == NULL: allocate nsize bytes (osize is 0);
 *   otherwise: resize ptr from osize to nsize bytes.
 * Return NULL on failure (libllm then returns LLM_ERR_NOMEM and leaves
 * the old block untouched). Blocks must be aligned for any C type; libllm
 * aligns its large buffers itself. The hook may be called from any thread
 * that uses a handle built with it. */
typedef void *(*llm_alloc_fn)(void *ud, void *ptr, size_t osize, size_t nsize);

/* Sets the process-wide default allocator used by handles whose options
 * name none (fn == NULL restores malloc/realloc/free). Call it before the
 * first handle is created: returns LLM_ERR_STATE while any handle is live.
 * Memory that OpenBLAS and the C library allocate internally does not go
 * through this hook. */
LLM_API int llm_set_allocator(llm_alloc_fn fn, void *ud);

/* Frees memory that libllm allocated for the caller (the functions that
 * do so say "release with llm_free"). NULL is a no-op. */
LLM_API void llm_free(void *ptr);

/* ========================================================================
 * Logging
 * ======================================================================== */

#define LLM_LOG_ERROR 1
#define LLM_LOG_WARN  2
#define LLM_LOG_INFO  3
#define LLM_LOG_DEBUG 4

/* Log hook: `msg` is one line without a trailing newline, valid only
 * during the call. It may be called from any thread that uses libllm, so
 * it must be thread-safe, and it must not call back into libllm. */
typedef void (*llm_log_fn)(void *ud, int32_t level, const char *msg);

/* Sets the process-wide log hook; messages with level <= max_level are
 * delivered. fn == NULL (the default) silences the library completely.
 * Call it before the first handle is created: returns LLM_ERR_STATE while
 * any handle is live, LLM_ERR_INVALID for a max_level outside
 * [0, LLM_LOG_DEBUG]. */
LLM_API int llm_set_log(llm_log_fn fn, void *ud, int32_t max_level);

/* ========================================================================
 * Progress and cancellation
 * ======================================================================== */

#define LLM_PHASE_LOAD        1  /* reading a model file; units: bytes */
#define LLM_PHASE_PREFILL     2  /* processing a prompt; units: tokens */
#define LLM_PHASE_DECODE      3  /* generating; units: tokens */
#define LLM_PHASE_TRAIN_STEP  4  /* training; units: optimizer steps */
#define LLM_PHASE_EVAL        5  /* scoring text; units: tokens */
#define LLM_PHASE_TOKENIZER_TRAIN 6 /* learning BPE merges; units: merges */
#define LLM_PHASE_CONVERT     7  /* converting a model file; units: tensors */
#define LLM_PHASE_FIT         8  /* fitting a scaling law; units: iterations */

typedef struct llm_progress {
    uint32_t struct_size; /* sizeof(llm_progress) of the library */
    int32_t phase;        /* LLM_PHASE_* */
    uint64_t done;        /* units completed so far */
    uint64_t total;       /* units in all, 0 when unknown */
} llm_progress;

/* Progress hook for long operations, called at bounded granularity (per
 * layer, per batch, per step; never per element). Return 0 to continue;
 * any other value stops the operation, which returns LLM_ERR_CANCELLED and
 * leaves its handles in a consistent, reusable state. `p` is valid only
 * during the call. */
typedef int (*llm_progress_fn)(void *ud, const llm_progress *p);

/* ========================================================================
 * Handles
 *
 * Object graph and thread safety:
 *   llm_model      immutable after load; safe for concurrent use by many
 *                  threads and contexts. Must outlive its contexts and
 *                  trainers.
 *   llm_tokenizer  immutable after load; safe for concurrent use.
 *   llm_ctx        KV cache and scratch memory for one model; one thread
 *                  at a time (it may move between threads).
 *   llm_sampler    sampling chain with RNG and penalty state; one thread at
 *                  a time.
 *   llm_trainer    gradients and optimizer state; locks its model for
 *                  writing while it exists; one thread at a time.
 * ======================================================================== */

typedef struct llm_model llm_model;
typedef struct llm_tokenizer llm_tokenizer;
typedef struct llm_ctx llm_ctx;
typedef struct llm_sampler llm_sampler;
typedef struct llm_trainer llm_trainer;

/* Token id. */
typedef int32_t llm_token;

/* ========================================================================
 * Option structs
 *
 * Every option struct starts with `uint32_t struct_size`. Fill one with its
 * init function (or the *_INIT macro, which passes sizeof *(o)); then set
 * the fields you care about. The library reads only the first struct_size
 * bytes; later fields count as zero, and zero always means "default".
 * Passing NULL instead of a struct means all defaults. A struct larger than
 * the library knows is accepted if the unknown tail is all zero, and
 * rejected with LLM_ERR_UNSUPPORTED otherwise.
 * ======================================================================== */

/* Options for loading a model. */
typedef struct llm_model_opts {
    uint32_t struct_size;
    uint32_t flags;               /* LLM_MODEL_* bits */
    llm_alloc_fn alloc;           /* NULL: the process default allocator */
    void *alloc_ud;
    llm_progress_fn progress;     /* NULL: no progress reports */
    void *progress_ud;
} llm_model_opts;

/* Read the whole file into memory instead of mapping it. */
#define LLM_MODEL_NO_MMAP 0x1u

/* Fills *o with defaults for a struct of `struct_size` bytes (normally
 * sizeof *o). Returns LLM_ERR_INVALID for NULL or a size too small to hold
 * struct_size. */
LLM_API int llm_model_opts_init(llm_model_opts *o, size_t struct_size);
#define LLM_MODEL_OPTS_INIT(o) llm_model_opts_init((o), sizeof *(o))

/* ========================================================================
 * Model configuration (shared by model files, accounting and training)
 * ======================================================================== */

#define LLM_ARCH_GPT2  1  /* LayerNorm+bias, GELU(tanh), learned positions */
#define LLM_ARCH_LLAMA 2  /* RMSNorm, RoPE, SwiGLU, grouped-query attention */

/* Hyper-parameters of a decoder-only Transformer. */
typedef struct llm_model_config {
    uint32_t struct_size;
    int32_t arch;          /* LLM_ARCH_* */
    uint32_t n_vocab;      /* vocabulary size V */
    uint32_t n_ctx;        /* maximum sequence length T (learned positions for gpt2) */
    uint32_t n_embd;       /* model width C */
    uint32_t n_layer;      /* number of blocks L */
    uint32_t n_head;       /* query heads NH; head size C/NH */
    uint32_t n_head_kv;    /* key/value heads; divides n_head (0: = n_head) */
    uint32_t n_ff;         /* MLP hidden width (0: 4*C for gpt2) */
    float norm_eps;        /* LayerNorm/RMSNorm epsilon (0: 1e-5) */
    float rope_base;       /* RoPE theta (0: 10000); llama only */
    uint32_t flags;        /* LLM_CFG_* bits */
} llm_model_config;

#define LLM_CFG_UNTIED_OUTPUT 0x1u /* separate output matrix (else tied to the token embedding) */
#define LLM_CFG_QKV_BIAS      0x2u /* bias on Q/K/V projections (always on for gpt2) */

/* Fills *c with defaults of a struct of `struct_size` bytes: arch gpt2 with
 * GPT-2 small's sizes (V=50257, T=1024, C=768, L=12, NH=12). */
LLM_API int llm_model_config_init(llm_model_config *c, size_t struct_size);
#define LLM_MODEL_CONFIG_INIT(c) llm_model_config_init((c), sizeof *(c))

/* ==== tokenizer API (issue: tokenizer) ==== */
/* ==== end tokenizer API ==== */

/* ==== model API (issue: model core) ==== */
/* ==== end model API ==== */

/* ==== sampler API (issue: generation and sampling) ==== */
/* ==== end sampler API ==== */

/* ==== planning API (issue: scaling laws) ==== */
/* ==== end planning API ==== */

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* LLM_H */
