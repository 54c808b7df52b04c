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

/*
 * A sampler turns one vector of logits (one float per vocabulary entry)
 * into one token id. It owns a seeded PRNG and the window of recent tokens
 * that the penalties look at. One thread at a time; it may move between
 * threads. It does not depend on a model: any float logits will do.
 *
 * The chain, in this fixed order (each stage is off unless set, so any one
 * can be used alone; math.md section 7 gives the formulas):
 *   1. logit bias:   z[t] += bias for each (t, bias) pair of the options
 *                    (pairs naming the same token add up; bias -INFINITY
 *                    bans the token).
 *   2. penalties:    over the distinct tokens t of the window (the last
 *                    `penalty_last_n` accepted tokens), with c = the count
 *                    of t in the window:
 *                      repetition (CTRL/HF): z[t] = z[t] > 0 ? z[t] / r : z[t] * r
 *                      then        z[t] -= c * frequency + presence
 *                    (float arithmetic in exactly this order).
 *   3. temperature:  z / T. T == 0 is greedy: the arg-max of the penalized
 *                    logits, ties to the lowest id; stages 4-6 are then
 *                    moot and the draw uses no random number.
 *   4. top-k:        keep the k largest logits (ties to the lower id).
 *   5. top-p:        keep the shortest prefix of the survivors, in the
 *                    order logit descending then id ascending (that is,
 *                    probability descending), whose probability sums to
 *                    >= p of what survived top-k (p * total is rounded up
 *                    to the integer weight scale below).
 *   6. min-p:        keep tokens with probability >= min_p * (largest).
 *   7. draw:         one token from the survivors, with probabilities
 *                    proportional to exp(z/T): with x the next 64-bit PRNG
 *                    output and W the survivors' total integer weight, the
 *                    first survivor in id order at which the running sum
 *                    of weights exceeds floor(x * W / 2^64).
 * Top-p and min-p therefore see the tempered distribution (as in Hugging
 * Face's warpers, unlike llama.cpp, which applies temperature last).
 *
 * Numbers: probabilities are exp((z - z_max)/T) held as integers, scaled
 * so that the most likely token weighs 2^s with s = 64 - bitlength(n_vocab)
 * (capped at 62; s = 48 for 50257 tokens), rounded down; sums, the top-p
 * cut and the draw are exact integer arithmetic, so the result does not
 * depend on summation order, threads or SIMD width. Consequently a token
 * whose probability is below 2^-s of the most likely one's is never
 * drawn. The exponential is libllm's own (no libm; relative error below
 * 1e-6, monotone in z), and the PRNG is xoshiro256** seeded through
 * splitmix64: the same seed, options and logits give the same tokens on
 * every IEEE-754 platform (tests/sample/golden.py transcribes the
 * algorithm and pins exact sequences).
 *
 * Logits: -INFINITY masks a token. NaN or +INFINITY in the input, or a
 * logit that the bias or penalties push to +INFINITY, is LLM_ERR_INVALID
 * (the message names the token), as is a vector in which every token is
 * masked.
 *
 * Cost: nothing is allocated per call (all scratch, O(n_vocab), is made by
 * llm_sampler_create). Every call makes a few O(V) passes (copy and
 * check, maximum, weights). Top-k selects with a bounded heap, O(V) plus
 * O(log k) per heap replacement, and sorts only the k survivors. Top-p
 * without top-k is a radix select on the weights (per-exponent, then
 * per-mantissa-byte sums) and sorts only the few tokens that share the
 * cut's leading 16 weight bits. No path sorts the whole vocabulary.
 */

/* A logit bias entry: z[token] += bias before anything else. */
typedef struct llm_logit_bias {
    llm_token token;  /* in [0, n_vocab) */
    float bias;       /* finite, or -INFINITY to ban the token */
} llm_logit_bias;

/* Options of llm_sampler_create. Zero means default in every field. */
typedef struct llm_sampler_opts {
    uint32_t struct_size;
    uint32_t flags;             /* LLM_SAMPLER_FLAG_* bits */
    llm_alloc_fn alloc;         /* NULL: the process default allocator */
    void *alloc_ud;
    uint64_t seed;              /* PRNG seed; every value, 0 included, is a
                                 * valid fixed seed (0 is the default) */
    uint32_t n_vocab;           /* required: length of the logit vectors */
    int32_t top_k;              /* 0: off; else >= 1 */
    float temperature;          /* 0: default 1.0; > 0. For greedy set
                                 * LLM_SAMPLER_FLAG_GREEDY */
    float top_p;                /* 0: default 1.0 (off); else in (0, 1] */
    float min_p;                /* 0: off; else in [0, 1] */
    float repeat_penalty;       /* 0: default 1.0 (off); else in [1e-3, 1e3] */
    float presence_penalty;     /* 0: off; finite, |x| <= 1e6 */
    float frequency_penalty;    /* 0: off; finite, |x| <= 1e6 */
    int32_t penalty_last_n;     /* window length; 0: default 64; [1, 2^20] */
    uint32_t reserved0;         /* must be 0 */
    const llm_logit_bias *logit_bias; /* n_logit_bias entries, copied at
                                       * create; NULL when n_logit_bias == 0 */
    size_t n_logit_bias;
} llm_sampler_opts;

/* Greedy decoding: temperature 0 (arg-max, ties to the lowest id). */
#define LLM_SAMPLER_FLAG_GREEDY 0x1u
/* llm_sampler_sample does not record the token it returns; the caller
 * records tokens with llm_sampler_accept. Without this flag every sampled
 * token is accepted automatically. */
#define LLM_SAMPLER_FLAG_NO_AUTO_ACCEPT 0x2u

/* Fills *o with the defaults (all zero) for a struct of `struct_size`
 * bytes. Returns LLM_ERR_INVALID for NULL or a size below 4. */
LLM_API int llm_sampler_opts_init(llm_sampler_opts *o, size_t struct_size);
#define LLM_SAMPLER_OPTS_INIT(o) llm_sampler_opts_init((o), sizeof *(o))

/* Creates a sampler. opts must not be NULL (n_vocab is required). All
 * memory (about 20 bytes per vocabulary entry, plus 4 per window slot and
 * 8 per logit bias entry) is allocated here, through opts->alloc. Errors: LLM_ERR_INVALID for a NULL
 * out/opts or a field out of range (the message names the field and its
 * valid range), LLM_ERR_UNSUPPORTED for unknown flags or a larger struct
 * with a non-zero tail, LLM_ERR_NOMEM. On failure *out = NULL and
 * llm_last_errmsg() has the detail. */
LLM_API int llm_sampler_create(llm_sampler **out, const llm_sampler_opts *opts);

/* Releases the sampler. NULL is a no-op. */
LLM_API void llm_sampler_free(llm_sampler *s);

/* Samples one token from `logits` (n_vocab floats, which must equal the
 * sampler's n_vocab) through the chain above and writes it to *out. Unless
 * LLM_SAMPLER_FLAG_NO_AUTO_ACCEPT is set, the token is also accepted
 * (llm_sampler_accept). Consumes exactly one 64-bit PRNG output per call
 * unless greedy (none). No allocation. Errors: LLM_ERR_INVALID (NULL
 * argument, n_vocab mismatch, NaN/+inf logits, every token masked); on
 * failure *out is left unchanged and the sampler's state (PRNG, window)
 * is not modified. */
LLM_API int llm_sampler_sample(llm_token *out, llm_sampler *s,
                               const float *logits, size_t n_vocab);

/* Runs the chain without drawing or accepting and writes the final
 * distribution to probs[0..n_vocab) (0 for filtered tokens; it sums to 1
 * within float rounding; greedy gives a one-hot vector). `probs` may not
 * alias `logits`. If n_kept is not NULL it receives the number of tokens
 * with non-zero weight. Leaves the PRNG and the window untouched. Errors
 * as llm_sampler_sample. */
LLM_API int llm_sampler_probs(float *probs, size_t *n_kept, llm_sampler *s,
                              const float *logits, size_t n_vocab);

/* Records `token` as generated (or as part of the prompt, to penalize
 * repeating it): it enters the penalty window, evicting the oldest entry
 * when the window is full. LLM_ERR_INVALID for a NULL sampler, a token
 * outside [0, n_vocab). No allocation. */
LLM_API int llm_sampler_accept(llm_sampler *s, llm_token token);

/* Empties the penalty window and reseeds the PRNG with `seed`, keeping the
 * parameters and all memory. Afterwards the sampler behaves exactly like a
 * freshly created one with that seed and its current parameters.
 * LLM_ERR_INVALID for NULL. */
LLM_API int llm_sampler_reset(llm_sampler *s, uint64_t seed);

/* Runtime parameters (keys are never renumbered or reused). The value
 * given to a setter is the parameter itself, not "0 means default":
 * LLM_SAMPLER_TEMP 0 means greedy, TOP_P 1 and MIN_P 0 and TOP_K 0 mean
 * off. llm_sampler_param_bounds gives each key's type and range. */
#define LLM_SAMPLER_TEMP              1 /* f32, [0, 1e6]; 0 = greedy */
#define LLM_SAMPLER_TOP_K             2 /* i32, [0, 2^31-1]; 0 = off */
#define LLM_SAMPLER_TOP_P             3 /* f32, (0, 1]; 1 = off */
#define LLM_SAMPLER_MIN_P             4 /* f32, [0, 1]; 0 = off */
#define LLM_SAMPLER_REPEAT_PENALTY    5 /* f32, [1e-3, 1e3]; 1 = off */
#define LLM_SAMPLER_PRESENCE_PENALTY  6 /* f32, [-1e6, 1e6]; 0 = off */
#define LLM_SAMPLER_FREQUENCY_PENALTY 7 /* f32, [-1e6, 1e6]; 0 = off */
#define LLM_SAMPLER_PENALTY_LAST_N    8 /* i32, [1, 2^20]; window length */

#define LLM_PARAM_F32 1 /* a float parameter: llm_sampler_set_f32/get_f32 */
#define LLM_PARAM_I32 2 /* an int32 parameter: llm_sampler_set_i32/get_i32 */
#define LLM_PARAM_MIN_OPEN 0x1u /* `min` itself is not allowed */

/* Type and range of a parameter key, filled by llm_sampler_param_bounds. */
typedef struct llm_sampler_param_info {
    uint32_t struct_size;  /* set by the caller: sizeof(llm_sampler_param_info) */
    int32_t type;          /* LLM_PARAM_F32 or LLM_PARAM_I32 */
    uint32_t flags;        /* LLM_PARAM_MIN_OPEN */
    uint32_t reserved;
    double min;            /* smallest valid value (see LLM_PARAM_MIN_OPEN) */
    double max;            /* largest valid value */
    double def;            /* value of a sampler created with zeroed options */
    const char *name;      /* "LLM_SAMPLER_TOP_P" etc.; static storage */
} llm_sampler_param_info;

/* Describes `key`. The caller sets out->struct_size; only that many bytes
 * are written (struct_size is kept). Errors: LLM_ERR_INVALID for NULL or
 * struct_size < 4, LLM_ERR_UNSUPPORTED for an unknown key. Thread-safe. */
LLM_API int llm_sampler_param_bounds(llm_sampler_param_info *out, int32_t key);

/* Set a parameter; it applies from the next sample/probs call. Errors:
 * LLM_ERR_INVALID for NULL, a value out of range or NaN (the message names
 * the key and its range), or a key of the other type; LLM_ERR_UNSUPPORTED
 * for an unknown key; LLM_ERR_NOMEM when a larger PENALTY_LAST_N needs a
 * larger window (the only setter that may allocate; the most recent tokens
 * are kept when the window shrinks or grows). On error nothing changes. */
LLM_API int llm_sampler_set_f32(llm_sampler *s, int32_t key, float value);
LLM_API int llm_sampler_set_i32(llm_sampler *s, int32_t key, int32_t value);
/* Current value of a parameter (errors as the setters). */
LLM_API int llm_sampler_get_f32(float *out, llm_sampler *s, int32_t key);
LLM_API int llm_sampler_get_i32(int32_t *out, llm_sampler *s, int32_t key);

/* ==== end sampler API ==== */

/* ==== planning API (issue: scaling laws) ==== */

/* ------------------------------------------------------------------------
 * Scaling laws: parameter and FLOP accounting, Chinchilla compute-optimal
 * planning (Hoffmann et al. 2022, arXiv:2203.15556), configuration
 * suggestion and fitting L(N, D) = E + A/N^alpha + B/D^beta to your runs.
 *
 * Result structs (llm_count, llm_plan, llm_fit_result) start with
 * `uint32_t struct_size` like option structs: fill them with their init
 * function (or *_INIT macro), then pass a pointer. The library writes only
 * the first struct_size bytes, so a caller built against an older header
 * keeps working. On failure the result struct is left unchanged, except
 * where a function says otherwise.
 *
 * None of these functions takes a handle: details of a failure are in
 * llm_last_errmsg(). All are pure computations: thread-safe, no global
 * state, no allocation (except llm_fit_scaling_law's scratch, through its
 * options' allocator). FLOPs are floating-point operations (a multiply
 * and an add count as two), as doubles; counts are uint64_t.
 * ------------------------------------------------------------------------ */

/* Parameter and FLOP counts of one model configuration. */
typedef struct llm_count {
    uint32_t struct_size;
    uint32_t reserved0;         /* always 0 */
    /* Exact parameter counts (every weight, bias and norm gain).
     * n_params = n_params_embedding + n_params_non_embedding. */
    uint64_t n_params;          /* all parameters; a tied output matrix counts once */
    uint64_t n_params_embedding; /* token embedding, learned positions (gpt2) and an
                                    untied output matrix */
    uint64_t n_params_non_embedding; /* everything else: blocks and final norm
                                        (Kaplan et al.'s N, with biases and norms) */
    /* Forward FLOPs per token. Kaplan et al. 2020 eq. 2.2:
     *   2*n_params_non_embedding + 2*n_layer*n_ctx*n_embd. */
    double flops_fwd_kaplan;
    /* Forward FLOPs per token, Chinchilla Appendix F for a sequence of
     * s = n_ctx tokens, divided by s:
     *   embeddings 2*V*C + final logits 2*C*V
     *   + n_layer * ( Q,K,V projections 2*C*(q + 2*kv)
     *                 + key@query logits 2*s*q + softmax 3*NH*s
     *                 + softmax@value 2*s*q + output projection 2*q*C
     *                 + dense block 2*m*C*F )
     * with q = NH*head size, kv = n_head_kv*head size (q for plain
     * multi-head attention, as in the appendix: grouped-query attention is
     * our generalisation), F = n_ff and m = 2 matrices (gpt2 MLP) or 3
     * (llama SwiGLU; the appendix has m = 2). Biases, norms and
     * non-linearities are not counted (the appendix lists only the items
     * above). */
    double flops_fwd_chinchilla;
    /* The part of flops_fwd_chinchilla due to embeddings and final logits
     * (4*V*C). nanoGPT notes that the paper's Table A4 is reproduced only
     * without it. */
    double flops_fwd_chinchilla_embed;
    /* Training FLOPs per token (forward + backward = 3 x forward, the
     * backward pass costing twice the forward in both papers). */
    double flops_train_kaplan;      /* 3 * flops_fwd_kaplan */
    double flops_train_chinchilla;  /* 3 * flops_fwd_chinchilla */
    double flops_train_6n;          /* 6 * n_params (the C = 6ND rule) */
} llm_count;

/* Fills *c for a struct of `struct_size` bytes (all counts zero).
 * LLM_ERR_INVALID for NULL or a bad size. */
LLM_API int llm_count_init(llm_count *c, size_t struct_size);
#define LLM_COUNT_INIT(c) llm_count_init((c), sizeof *(c))

/* Counts the parameters and per-token FLOPs of `cfg` (read with the same
 * defaults and validation as the model loader). Per-layer parameters:
 *   gpt2:  2 LayerNorms 4C, c_attn 3C^2+3C, c_proj C^2+C,
 *          MLP C*F+F + F*C+C;
 *          plus wte V*C, wpe n_ctx*C, ln_f 2C (GPT-2 small: 124,439,808)
 *   llama: 2 RMSNorms 2C, q C*q, k and v 2*C*kv, o q*C, SwiGLU 3*C*F,
 *          Q/K/V biases q+2kv with LLM_CFG_QKV_BIAS;
 *          plus embedding V*C, final norm C
 *   and an untied output matrix V*C with LLM_CFG_UNTIED_OUTPUT.
 * Errors: LLM_ERR_INVALID (NULL, bad struct_size, invalid config naming
 * the field), LLM_ERR_UNSUPPORTED (unknown arch or flags), LLM_ERR_RANGE
 * (a count that does not fit 64 bits). */
LLM_API int llm_count_model(llm_count *out, const llm_model_config *cfg);

/* Training FLOPs method for llm_count_train_flops. */
#define LLM_FLOPS_6N         1  /* 6 * n_params per token */
#define LLM_FLOPS_KAPLAN     2  /* 3 * Kaplan forward per token */
#define LLM_FLOPS_CHINCHILLA 3  /* 3 * Chinchilla Appendix F forward per token */

/* *out_flops = training FLOPs of `cfg` over `n_tokens` tokens (a double:
 * token counts beyond 2^53 are fine as approximations) by `method`.
 * Errors: LLM_ERR_INVALID for NULL, a non-positive or non-finite n_tokens,
 * an unknown method, or an invalid config. */
LLM_API int llm_count_train_flops(double *out_flops, const llm_model_config *cfg,
                                  double n_tokens, int32_t method);

/* Constants of the planner: the three approaches of Hoffmann et al. 2022
 * and the parametric loss of Approach 3. Approaches 1 and 2 are power laws
 * N_opt = coef * C^a with D_opt = C / (6 N_opt), i.e. D_opt ~ C^(1-a)
 * (the published b = 1 - a for both). Approach 3 is the closed form of
 * minimising L(N, D) subject to C = 6ND:
 *   N_opt = G (C/6)^(beta/(alpha+beta)), D_opt = G^-1 (C/6)^(alpha/(alpha+beta)),
 *   G = (alpha A / (beta B))^(1/(alpha+beta)).
 * Every field must be positive and finite (exponents a in (0, 1)); a zero
 * field means "the value of LLM_CONSTANTS_HOFFMANN2022". */
typedef struct llm_plan_constants {
    uint32_t struct_size;
    int32_t preset;         /* LLM_CONSTANTS_* the values came from; 0 = custom */
    double E;               /* irreducible loss, nats/token */
    double A;
    double B;
    double alpha;           /* exponent of N */
    double beta;            /* exponent of D */
    double approach1_a;     /* N_opt = approach1_coef * C^approach1_a */
    double approach1_coef;
    double approach2_a;
    double approach2_coef;
} llm_plan_constants;

/* Built-in constant sets. The values and their sources are listed in one
 * table in lib/plan/constants.c. */
#define LLM_CONSTANTS_HOFFMANN2022           1 /* as printed (App. D.2, Table 2) */
#define LLM_CONSTANTS_HOFFMANN2022_UNROUNDED 2 /* unrounded App. D.2 fit */
#define LLM_CONSTANTS_BESIROGLU2024          3 /* replication, arXiv:2404.10102 */

/* Fills *k (a struct of `struct_size` bytes) with LLM_CONSTANTS_HOFFMANN2022. */
LLM_API int llm_plan_constants_init(llm_plan_constants *k, size_t struct_size);
#define LLM_PLAN_CONSTANTS_INIT(k) llm_plan_constants_init((k), sizeof *(k))
/* Fills *k with a built-in set; LLM_ERR_INVALID for an unknown `preset`. */
LLM_API int llm_plan_constants_preset(llm_plan_constants *k, size_t struct_size,
                                      int32_t preset);

/* A training plan: compute C, parameters N and tokens D with C = 6 N D. */
typedef struct llm_plan {
    uint32_t struct_size;
    int32_t approach;        /* 1, 2 or 3 */
    double compute;          /* C, training FLOPs */
    double params;           /* N, parameters */
    double tokens;           /* D, training tokens */
    double tokens_per_param; /* D / N */
    double loss;             /* L(N, D) by the constants' parametric law, nats/token */
} llm_plan;

LLM_API int llm_plan_init(llm_plan *p, size_t struct_size);
#define LLM_PLAN_INIT(p) llm_plan_init((p), sizeof *(p))

/* Compute-optimal plan for a budget of `compute` FLOPs by `approach`
 * (1: training-curve envelope, 2: IsoFLOP profiles, 3: parametric loss).
 * k == NULL means LLM_CONSTANTS_HOFFMANN2022.
 * Errors: LLM_ERR_INVALID for NULL out, an approach outside 1..3, a
 * non-positive or non-finite compute (the message names the argument),
 * or constants out of their domain (naming the field). */
LLM_API int llm_plan_for_compute(llm_plan *out, const llm_plan_constants *k,
                                 int32_t approach, double compute);
/* The plan for which `params` is compute-optimal: the budget C whose
 * N_opt(C) = params, and D = C / (6 params). Errors as above. */
LLM_API int llm_plan_for_params(llm_plan *out, const llm_plan_constants *k,
                                int32_t approach, double params);
/* The plan for which `tokens` is compute-optimal: the budget C whose
 * D_opt(C) = tokens, and N = C / (6 tokens). Errors as above. */
LLM_API int llm_plan_for_tokens(llm_plan *out, const llm_plan_constants *k,
                                int32_t approach, double tokens);
/* *out_loss = E + A / params^alpha + B / tokens^beta (nats/token).
 * Errors: LLM_ERR_INVALID for NULL out or a non-positive or non-finite
 * params or tokens. */
LLM_API int llm_plan_loss(double *out_loss, const llm_plan_constants *k,
                          double params, double tokens);

/* Wall-clock seconds to train on `tokens` tokens at a measured training
 * throughput of `tokens_per_second`. When that throughput was measured on
 * a model of `measured_params` parameters other than the planned
 * `params`, pass both: the throughput is rescaled by measured_params /
 * params (constant FLOP/s under C = 6ND). measured_params == 0 means the
 * throughput is for the planned model (params is then ignored and may be
 * 0). Errors: LLM_ERR_INVALID for NULL out, non-positive or non-finite
 * tokens or tokens_per_second, a negative or non-finite measured_params,
 * or measured_params > 0 with params not positive. */
LLM_API int llm_plan_seconds(double *out_seconds, double tokens, double tokens_per_second,
                             double params, double measured_params);

/* The inverse of llm_plan_seconds: *out_compute = the training FLOPs that
 * fit in `seconds` of wall-clock time on a machine that trains a model of
 * `measured_params` parameters at `tokens_per_second`, i.e.
 * 6 * measured_params * tokens_per_second * seconds (C = 6ND at the
 * measured FLOP/s). Pass the result to llm_plan_for_compute to ask "what
 * should I train in this time". Errors: LLM_ERR_INVALID for NULL out or
 * any argument not positive and finite (the message names it). */
LLM_API int llm_plan_budget(double *out_compute, double seconds, double tokens_per_second,
                            double measured_params);

/* Proposes a configuration with about `target_params` parameters (exact
 * count, as llm_count_model's n_params). `base` (NULL: GPT-2 small's)
 * supplies arch, n_vocab, n_ctx, flags, norm_eps, rope_base, the ratio
 * n_ff / n_embd (rounded to a multiple of the head size; llama: base n_ff
 * required) and the query-heads-per-kv-head ratio. The search picks
 * n_layer (1..256) and n_embd (n_head = n_embd / 64, head size 64; for
 * targets no such shape reaches within 2.5%, head size 32 or 16 if
 * closer) with aspect ratio n_embd / n_layer in [32, 256] (Kaplan et al.
 * 2020 find the loss changing only a few percent over a wide range of
 * shapes; GPT-2 small has 64, Chinchilla 70B 102, GPT-3 175B 128),
 * minimising the relative count error and, among
 * candidates within 1% of the target, preferring an aspect ratio in
 * [64, 128]. `out` is written like a result struct: initialise it with
 * LLM_MODEL_CONFIG_INIT (its struct_size is kept). *out_params receives
 * the exact count (may be NULL).
 * Errors: LLM_ERR_INVALID (NULL out, target not positive or not finite,
 * invalid base), LLM_ERR_RANGE (no candidate within a factor 1.5 of the
 * target: e.g. a target below the embedding's size). */
LLM_API int llm_plan_suggest_config(llm_model_config *out, uint64_t *out_params,
                                    const llm_model_config *base, double target_params);

/* Options of llm_fit_scaling_law. */
typedef struct llm_fit_opts {
    uint32_t struct_size;
    uint32_t max_iter;        /* L-BFGS iterations per start (0: 1000) */
    double huber_delta;       /* Huber threshold on log-loss residuals (0: 1e-3) */
    double grad_tol;          /* converged when max |gradient| <= grad_tol (0: 1e-9) */
    /* Grid of starts (a = log A, b = log B, e = log E); 0: the grid of
     * Besiroglu et al.'s reproduction of the paper's fit: alpha, beta in
     * {0, 0.5, ..., 2}, e in {-1, -0.5, ..., 1}, a, b in {0, 5, ..., 25}
     * (4500 starts). LLM_FIT_GRID_COARSE: alpha, beta in {0.5, 1}, e in
     * {-1, 0, 1}, a, b in {0, 10, 20} (108 starts). */
    int32_t grid;
    uint32_t reserved0;       /* must be 0 */
    llm_progress_fn progress; /* LLM_PHASE_FIT, once per start: done = starts
                                 finished, total = starts (NULL: none) */
    void *progress_ud;
    llm_alloc_fn alloc;       /* scratch memory (3 doubles per run); NULL: the
                                 process default allocator */
    void *alloc_ud;
} llm_fit_opts;

#define LLM_FIT_GRID_PAPER  0
#define LLM_FIT_GRID_COARSE 1

LLM_API int llm_fit_opts_init(llm_fit_opts *o, size_t struct_size);
#define LLM_FIT_OPTS_INIT(o) llm_fit_opts_init((o), sizeof *(o))

/* Result of a fit and its compute-optimal frontier under C = 6ND:
 * N_opt(C) = G (C/6)^a, D_opt(C) = (C/6)^b / G. */
typedef struct llm_fit_result {
    uint32_t struct_size;
    int32_t converged;        /* 1 when the best start (lowest objective) met grad_tol */
    double E;                 /* irreducible loss (same units as the losses) */
    double A;
    double B;
    double alpha;             /* exponent of N */
    double beta;              /* exponent of D */
    double objective;         /* sum of Huber(log L_hat - log L) at the fit */
    /* frontier (all 0 unless alpha > 0 and beta > 0) */
    double frontier_a;        /* beta / (alpha + beta) */
    double frontier_b;        /* alpha / (alpha + beta) */
    double frontier_G;        /* (alpha A / (beta B))^(1/(alpha+beta)) */
    uint32_t n_starts;        /* initialisations tried */
    uint32_t n_converged;     /* of which converged */
    uint64_t iterations;      /* L-BFGS iterations over all starts */
} llm_fit_result;

LLM_API int llm_fit_result_init(llm_fit_result *r, size_t struct_size);
#define LLM_FIT_RESULT_INIT(r) llm_fit_result_init((r), sizeof *(r))

/* Fits E, A, B, alpha, beta to `n_runs` runs (params[i], tokens[i],
 * loss[i]) as Hoffmann et al. 2022 (section 3.3, App. D.2): minimise
 *   sum_i Huber_delta( LSE(a - alpha log N_i, b - beta log D_i, e) - log L_i )
 * over (a, b, e, alpha, beta) with A = e^a, B = e^b, E = e^e, by L-BFGS
 * (strong Wolfe line search) from every start of the grid, keeping the
 * lowest objective. Needs n_runs >= 5. `out` must be initialised with
 * llm_fit_result_init. Returns LLM_OK when at least one start converged
 * (out->converged says whether the best one did); LLM_ERR_NO_CONVERGENCE
 * when none did, with the best found still written to *out (converged =
 * 0); LLM_ERR_CANCELLED when the progress callback stopped it (best so
 * far written). LLM_ERR_NOMEM when the scratch allocation fails.
 * Errors (nothing written): LLM_ERR_INVALID for NULL pointers, n_runs < 5,
 * a non-positive or non-finite value (the message names the array and
 * index, e.g. "loss[7]"), bad options; LLM_ERR_UNSUPPORTED for an unknown
 * grid. The arrays are only read during the call. Thread-safe. */
LLM_API int llm_fit_scaling_law(llm_fit_result *out, const double *params,
                                const double *tokens, const double *loss, size_t n_runs,
                                const llm_fit_opts *opts);

/* ==== end planning API ==== */

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* LLM_H */
