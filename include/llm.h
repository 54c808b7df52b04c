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
#define LLM_VERSION_MINOR 2
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
#define LLM_DONE                  2   /* not an error: finished, nothing more to do */
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
 * handle: model, tokenizer, ctx, sampler, trainer, gen), or "" when no call on
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
#define LLM_PHASE_FIT         8  /* fitting a scaling law; units: starting points done */

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
 *   llm_gen        a generation turn over a ctx, a sampler and a
 *                  tokenizer, which must outlive it; one thread at a time.
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
    /* Caps on the sizes a file may declare. 0 means the default given
     * here, which no published model reaches; lower them to bound what an
     * untrusted file can make libllm do. A file or config beyond a cap is
     * refused with LLM_ERR_RANGE before anything is sized by it, with a
     * message naming the cap's field, its value and where the number is
     * (file and byte offset, tensor or key). They apply to llm_model_load,
     * llm_model_load_mem, llm_model_import and llm_model_create, and to the
     * tokenizer a model file or checkpoint directory brings along. */
    uint64_t max_tensors; /* tensors in the file or model (0: 65536) */
    uint64_t max_dim;     /* largest tensor dimension, and n_ctx, n_embd,
                             n_ff, n_head and n_layer (0: 16777216 = 2^24) */
    uint64_t max_vocab;   /* vocabulary size of the model and of its
                             tokenizer (0: 4194304 = 2^22) */
    uint64_t max_string;  /* bytes of one string in the file: metadata key
                             or value, string-array element, token text
                             (0: 1073741824 = 1 GiB) */
} llm_model_opts;

/* Read the whole file into memory instead of mapping it. With the default
 * allocator (no alloc hook) the buffer is given to the kernel as a
 * candidate for transparent huge pages (Linux madvise, when THP is
 * "always" or "madvise"), which makes decoding read the weights faster
 * (about 15% for GPT-2 124M F32 here); the cost is a slower load and the
 * weights counted as private memory. */
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

/* ------------------------------------------------------------------------
 * Tokenizer: byte-level BPE exactly as OpenAI's tiktoken / GPT-2 encoder
 * (schemes gpt2 = r50k, cl100k_base, o200k_base), and SentencePiece-style
 * BPE (Llama 1/2, llama2.c) exactly as SentencePiece.
 *
 * A tokenizer is immutable after loading and safe for concurrent use by
 * any number of threads (encode/decode keep their state on the caller's
 * stack or in per-call scratch memory from the tokenizer's allocator).
 * Because calls on a shared tokenizer may fail on several threads at once,
 * failures after loading are reported in the calling thread's
 * llm_last_errmsg() only; llm_errmsg(tok) is not updated by them.
 *
 * Text is bytes: any byte sequence can be encoded, and decode(encode(x))
 * gives back x exactly. Runs of bytes that are not valid UTF-8 cannot be
 * matched by the split pattern and become pre-tokens of their own.
 * ------------------------------------------------------------------------ */

/* Pre-tokenization (split) schemes, with the exact regexes of formats.md
 * 5.1. Values are frozen. */
#define LLM_TOK_PATTERN_DEFAULT 0 /* from the file, or inferred (see load) */
#define LLM_TOK_PATTERN_GPT2    1 /* GPT-2, r50k_base, p50k_base */
#define LLM_TOK_PATTERN_CL100K  2 /* cl100k_base (GPT-3.5/4) */
#define LLM_TOK_PATTERN_O200K   3 /* o200k_base (GPT-4o) */

/* Options for loading a tokenizer. */
typedef struct llm_tokenizer_opts {
    uint32_t struct_size;
    uint32_t flags;               /* reserved, must be 0 */
    llm_alloc_fn alloc;           /* NULL: the process default allocator */
    void *alloc_ud;
    int32_t pattern;              /* LLM_TOK_PATTERN_*; overrides the file's */
    uint32_t n_special;           /* number of extra special tokens below */
    /* Extra user-defined special tokens (NUL-terminated UTF-8 texts, not
     * empty), given ids n_vocab, n_vocab+1, ... in this order. A text that
     * is already a special token keeps its id. Copied during the call. */
    const char *const *special;
    /* Caps on what the file may declare (as in llm_model_opts; 0 means the
     * default; beyond a cap the load fails with LLM_ERR_RANGE naming the
     * field, its value and the file): */
    uint64_t max_vocab;   /* token ids, special ones included (0: 4194304) */
    uint64_t max_string;  /* bytes of one token text or GGUF string
                             (0: 1073741824 = 1 GiB) */
} llm_tokenizer_opts;

/* Fills *o with defaults for a struct of `struct_size` bytes. Returns
 * LLM_ERR_INVALID for NULL or a size too small to hold struct_size. */
LLM_API int llm_tokenizer_opts_init(llm_tokenizer_opts *o, size_t struct_size);
#define LLM_TOKENIZER_OPTS_INIT(o) llm_tokenizer_opts_init((o), sizeof *(o))

/* Loads a tokenizer from `path`, which is one of:
 *   - a directory holding encoder.json + vocab.bpe (OpenAI GPT-2 files) or
 *     vocab.json + merges.txt (Hugging Face), with an optional
 *     tokenizer_config.json (add_bos_token, bos_token, eos_token); a
 *     tokenizer.json, else a tokenizer.model, in the directory is used
 *     when neither pair exists;
 *   - a Hugging Face tokenizer.json (model type BPE with a ByteLevel
 *     pre-tokenizer; added_tokens become special tokens);
 *   - a tiktoken rank file (*.tiktoken: "base64 rank" lines). The scheme
 *     comes from opts->pattern, or else from the vocabulary size (50256:
 *     gpt2, 100256: cl100k, 199998: o200k); the scheme also supplies the
 *     special tokens (<|endoftext|> ...) with tiktoken's ids;
 *   - a GGUF file (*.gguf, or the "GGUF" magic) holding tokenizer.ggml.*
 *     keys (formats.md 2.2), e.g. a model file: model "gpt2" (byte-level
 *     BPE) or "llama" (SentencePiece BPE); opts->special is not supported;
 *   - a llama2.c tokenizer.bin (*.bin, formats.md 6.2) or a SentencePiece
 *     model file (*.model, e.g. Llama 2's tokenizer.model): SentencePiece
 *     BPE (see below); opts->pattern/special do not apply. .model files
 *     must be BPE (unigram: LLM_ERR_UNSUPPORTED) with identity
 *     normalisation and remove_extra_whitespaces off, as Llama's are.
 * SentencePiece-style BPE (tokenizer.bin, GGUF "llama") encodes exactly as
 * SentencePiece's BPE model with identity normalisation: a space is put in
 * front of the text (dummy prefix), the pair of characters/pieces whose
 * concatenation is the piece with the highest score is merged first
 * (leftmost on ties), and characters without a piece become their bytes'
 * <0xNN> pieces (byte fallback) or <unk>. Decoding drops that leading
 * space again. BOS is "<s>", EOS "</s>"; llm_tokenizer_add_bos gives 1.
 * Byte-level merging: the adjacent pair of lowest rank first, leftmost on
 * ties; ranks are tiktoken's (a piece that is a token is that token) for
 * .tiktoken files and for encoder.json + vocab.bpe whose ids are ranks,
 * and the merge list's order (as Hugging Face) for the other formats. On
 * GPT-2's vocabulary both give tiktoken's ids (tested on the KJV Bible).
 * Split scheme when opts->pattern is DEFAULT: gpt2 for GPT-2/HF files.
 * BOS and EOS are <|endoftext|> when the vocabulary has it, unless a
 * tokenizer_config.json names others.
 * On failure *out is NULL and llm_last_errmsg() names the file, the line or
 * byte offset and what was wrong. Errors: LLM_ERR_INVALID (NULL out/path,
 * bad opts), LLM_ERR_IO (cannot read), LLM_ERR_NOT_FOUND (no known
 * tokenizer files in the directory), LLM_ERR_BAD_FILE (malformed JSON,
 * merges naming unknown tokens, duplicate tokens, ranks out of order,
 * missing byte tokens), LLM_ERR_UNSUPPORTED (other tokenizer models),
 * LLM_ERR_RANGE (more tokens or a longer token than opts->max_vocab /
 * max_string allow; the message names the cap), LLM_ERR_NOMEM. */
LLM_API int llm_tokenizer_load(llm_tokenizer **out, const char *path,
                               const llm_tokenizer_opts *opts);

/* Frees a tokenizer. NULL is a no-op. */
LLM_API void llm_tokenizer_free(llm_tokenizer *tok);

/* Number of token ids, i.e. one more than the largest id (special tokens
 * included; some ids below it may be unassigned). 0 for NULL. */
LLM_API size_t llm_tokenizer_n_vocab(const llm_tokenizer *tok);

/* Kinds of special token for llm_tokenizer_special_id. */
#define LLM_TOK_BOS 1 /* beginning of sequence */
#define LLM_TOK_EOS 2 /* end of sequence / end of text */
#define LLM_TOK_UNK 3 /* unknown */
#define LLM_TOK_PAD 4 /* padding */

/* Id of the BOS/EOS/UNK/PAD token, or -1 when the tokenizer has none (or
 * for NULL tok or an unknown kind). */
LLM_API llm_token llm_tokenizer_special_id(const llm_tokenizer *tok, int32_t kind);

/* 1 when the vocabulary's configuration asks for a BOS token at the start
 * of each document (pass LLM_TOK_ADD_BOS to encode then), else 0. */
LLM_API int32_t llm_tokenizer_add_bos(const llm_tokenizer *tok);

/* 1 when `id` is a special (control or user-defined) token, 0 when it is
 * an ordinary token, -1 when it is out of range or unassigned. */
LLM_API int32_t llm_tokenizer_is_special(const llm_tokenizer *tok, llm_token id);

/* Encode flags. */
#define LLM_TOK_PARSE_SPECIAL 0x1u /* special-token text in the input becomes
                                      its special token (else plain text) */
#define LLM_TOK_ADD_BOS       0x2u /* prepend the BOS token (error if none) */

/* Encodes text[0..len) (any bytes; need not be NUL-terminated) into ids.
 * Writes at most max_ids ids to `ids` and the total count to *n_ids.
 * When max_ids is too small it returns LLM_ERR_BUFFER_TOO_SMALL with the
 * needed count in *n_ids (the first max_ids ids are written). `ids` may be
 * NULL when max_ids is 0 (to ask for the count). The result never has more
 * ids than len + 2 (len + 1 for byte-level BPE). Errors: LLM_ERR_INVALID
 * (NULL arguments, unknown flags), LLM_ERR_UNSUPPORTED (ADD_BOS without a
 * BOS token; a SentencePiece character with neither a piece, a byte piece
 * nor <unk>), LLM_ERR_NOMEM. Thread-safe. */
LLM_API int llm_tokenizer_encode(llm_token *ids, size_t max_ids, size_t *n_ids,
                                 const llm_tokenizer *tok, const void *text, size_t len,
                                 uint32_t flags);

/* Decode flags. */
#define LLM_TOK_SKIP_SPECIAL 0x1u /* leave out special tokens' text */

/* Decodes ids into their bytes, concatenated (no NUL is added). Writes at
 * most max_bytes bytes to `out` and the total to *n_bytes; when max_bytes
 * is too small, returns LLM_ERR_BUFFER_TOO_SMALL with the needed size in
 * *n_bytes. Errors: LLM_ERR_INVALID (NULL arguments), LLM_ERR_RANGE (an id
 * out of range or unassigned; the message gives its index). Thread-safe. */
LLM_API int llm_tokenizer_decode(char *out, size_t max_bytes, size_t *n_bytes,
                                 const llm_tokenizer *tok, const llm_token *ids,
                                 size_t n, uint32_t flags);

/* The bytes of token `id` (special tokens: their text). Same buffer rules
 * as decode. Errors: LLM_ERR_INVALID, LLM_ERR_RANGE. Thread-safe. */
LLM_API int llm_tokenizer_token_to_piece(char *out, size_t max_bytes, size_t *n_bytes,
                                         const llm_tokenizer *tok, llm_token id);

/* The token whose bytes are exactly piece[0..len) (ordinary or special),
 * into *id. Errors: LLM_ERR_INVALID, LLM_ERR_NOT_FOUND (no such token;
 * *id = -1). Thread-safe. */
LLM_API int llm_tokenizer_piece_to_token(llm_token *id, const llm_tokenizer *tok,
                                         const void *piece, size_t len);

/* ---- Streaming decode ----
 * Turns ids into text piece by piece (as a generator produces them) without
 * ever emitting part of a UTF-8 sequence: the bytes of an incomplete
 * sequence at the end of a call are held in the state and emitted when
 * the next ids complete them (or by the flush). Bytes that can never form
 * valid UTF-8 are passed through unchanged, or replaced by U+FFFD (one per
 * maximal invalid subpart, as Unicode and WHATWG recommend) with
 * LLM_TOK_STREAM_REPLACE. For SentencePiece tokenizers the leading space
 * of the stream's first text piece is dropped, as in llm_tokenizer_decode.
 * The state is held by the caller (its fields are the library's; only
 * init, decode and flush may change them); one state per stream; a
 * tokenizer may serve many streams at once. */
typedef struct llm_tok_stream {
    uint32_t struct_size;
    uint32_t flags;      /* LLM_TOK_STREAM_* given to init */
    uint32_t n_pending;  /* bytes held back (0..3) */
    uint8_t pending[4];  /* the start of an incomplete UTF-8 sequence */
    uint64_t reserved[2]; /* internal; zeroed by init */
} llm_tok_stream;

#define LLM_TOK_STREAM_REPLACE      0x1u /* invalid UTF-8 -> U+FFFD */
#define LLM_TOK_STREAM_SKIP_SPECIAL 0x2u /* leave out special tokens' text */

/* Starts a stream in *s (struct_size: sizeof *s). Errors: LLM_ERR_INVALID
 * for NULL, a bad size or unknown flags. */
LLM_API int llm_tok_stream_init(llm_tok_stream *s, size_t struct_size, uint32_t flags);
#define LLM_TOK_STREAM_INIT(s, flags) llm_tok_stream_init((s), sizeof *(s), (flags))

/* Decodes the next n ids of the stream: writes the text that is complete
 * so far to out and its length to *n_bytes. Never more than
 * 3 * (held bytes + token bytes) + 3 bytes are written (the U+FFFD case).
 * When max_bytes is too small, returns LLM_ERR_BUFFER_TOO_SMALL with the
 * needed size in *n_bytes and leaves the stream unchanged. Errors:
 * LLM_ERR_INVALID, LLM_ERR_RANGE (an id out of range; stream unchanged).
 * Thread-safe for distinct streams. */
LLM_API int llm_tok_stream_decode(char *out, size_t max_bytes, size_t *n_bytes,
                                  const llm_tokenizer *tok, llm_tok_stream *s,
                                  const llm_token *ids, size_t n);

/* Ends the stream: writes the held bytes (raw, or one U+FFFD with
 * LLM_TOK_STREAM_REPLACE; at most 4 bytes) and resets the state for
 * reuse. Same buffer rules as llm_tok_stream_decode. */
LLM_API int llm_tok_stream_flush(char *out, size_t max_bytes, size_t *n_bytes,
                                 llm_tok_stream *s);

/* ---- Saving and training ---- */

#define LLM_TOK_FORMAT_HF   1 /* directory with vocab.json + merges.txt
                                 (+ tokenizer_config.json naming BOS/EOS) */
#define LLM_TOK_FORMAT_GGUF 2 /* one GGUF file with tokenizer.ggml.* keys */

/* Writes the tokenizer to `path` in `format`: for HF, path is a directory
 * (created if missing; the files in it are replaced); for GGUF, a file.
 * Every file is written atomically (temporary file, fsync, rename), so a
 * crash leaves either the old or the new file. The files load back with
 * llm_tokenizer_load. A tiktoken rank vocabulary gets the merge list that
 * Hugging Face's conversion derives (merge of token t = the pair BPE
 * reaches on t's bytes with ranks below t). Errors: LLM_ERR_INVALID,
 * LLM_ERR_IO (naming the file), LLM_ERR_UNSUPPORTED (GGUF not built in),
 * LLM_ERR_NOMEM. Thread-safe. */
LLM_API int llm_tokenizer_save(const llm_tokenizer *tok, const char *path, int32_t format);

/* Options for training a byte-level BPE vocabulary. */
typedef struct llm_tokenizer_train_opts {
    uint32_t struct_size;
    uint32_t flags;               /* reserved, must be 0 */
    llm_alloc_fn alloc;           /* NULL: the process default allocator */
    void *alloc_ud;
    int32_t pattern;              /* LLM_TOK_PATTERN_* split (0: gpt2) */
    uint32_t vocab_size;          /* target size: 256 byte tokens + merges +
                                     special tokens; required, >= 256 + n_special */
    uint32_t min_frequency;       /* pairs seen fewer times are never merged
                                     (0: 2) */
    uint32_t n_special;           /* special tokens, appended after the merges */
    const char *const *special;   /* NUL-terminated texts; NULL/0: one,
                                     "<|endoftext|>" (also BOS/EOS) */
    llm_progress_fn progress;     /* LLM_PHASE_TOKENIZER_TRAIN: done/total
                                     merges; NULL: none */
    void *progress_ud;
} llm_tokenizer_train_opts;

LLM_API int llm_tokenizer_train_opts_init(llm_tokenizer_train_opts *o, size_t struct_size);
#define LLM_TOKENIZER_TRAIN_OPTS_INIT(o) llm_tokenizer_train_opts_init((o), sizeof *(o))

/* Learns BPE merges from the text files files[0..n_files) (plain or gzip,
 * read in pieces, never whole) and builds a tokenizer from them: ids
 * 0..255 are the bytes in GPT-2's order, 256+k is merge k, then the
 * special tokens. Each step merges the most frequent adjacent pair (pairs
 * counted inside pre-tokens, weighted by pre-token frequency, updated
 * incrementally after each merge); ties go to the pair of smaller (left,
 * right) ids, so the result is deterministic. Training stops early when no
 * pair occurs min_frequency times (the vocabulary is then smaller). The
 * progress hook is called every 64 merges; a non-zero answer stops with
 * LLM_ERR_CANCELLED. *out is NULL on failure. Errors: LLM_ERR_INVALID
 * (bad options), LLM_ERR_IO (naming the file), LLM_ERR_CANCELLED,
 * LLM_ERR_NOMEM. */
LLM_API int llm_tokenizer_train(llm_tokenizer **out, const char *const *files, size_t n_files,
                                const llm_tokenizer_train_opts *opts);

/* ==== end tokenizer API ==== */

/* ==== model API (issue: model core) ==== */

/* ---- Model handle ----
 * A model is a config plus named F32 tensors (llama.cpp's GGUF names, e.g.
 * "token_embd.weight", "blk.0.attn_q.weight"). It is immutable after load
 * or create: any number of threads and contexts may use it at once. It must
 * outlive every context created from it. */

/* Loads a GGUF v3 model file (architectures gpt2 and llama, tensors F32, F16,
 * BF16 or Q8_0; F16/BF16 are converted to F32 at load, F32 and Q8_0 data
 * are used in place from a read-only memory mapping unless opts->flags has
 * LLM_MODEL_NO_MMAP). Q8_0 (llama.cpp's type 8) is accepted for the weight
 * matrices and kept quantized: products with them use integer dot
 * products, see llm_model_quantize. When the file has tokenizer.ggml.*
 * keys and the tokenizer is built in, the model owns that tokenizer
 * (llm_model_tokenizer).
 * The file is validated completely; errors name the file and the byte
 * offset or tensor. opts may be NULL. Progress (LLM_PHASE_LOAD, units:
 * tensors) is reported through opts->progress.
 * Errors: LLM_ERR_INVALID (NULL out/path), LLM_ERR_NOT_FOUND (no such file),
 * LLM_ERR_IO, LLM_ERR_BAD_FILE (malformed, truncated, shapes disagreeing
 * with the metadata, missing or unexpected tensors), LLM_ERR_UNSUPPORTED
 * (architecture, tensor type, RoPE scaling), LLM_ERR_RANGE (a size above
 * one of the caps of llm_model_opts: max_tensors, max_dim, max_vocab,
 * max_string; the message names the cap and its value), LLM_ERR_NOMEM,
 * LLM_ERR_CANCELLED. Thread-safe. */
LLM_API int llm_model_load(llm_model **out, const char *path, const llm_model_opts *opts);

/* Like llm_model_load for a GGUF image in memory. buf[0..size) is read
 * during the call only (every tensor is copied); the caller keeps it. */
LLM_API int llm_model_load_mem(llm_model **out, const void *buf, size_t size,
                               const llm_model_opts *opts);

/* Imports a model from another format into memory (save it with
 * llm_model_save to get a GGUF file). `path` is a Hugging Face checkpoint
 * directory: config.json of a GPT2LMHeadModel or LlamaForCausalLM plus
 * model.safetensors, or sharded model-*.safetensors with
 * model.safetensors.index.json (F32, F16 or BF16). GPT-2's Conv1D weights
 * are transposed and Llama's q/k rows permuted to GGUF's RoPE layout. The
 * directory's tokenizer files, when present and the tokenizer is built in,
 * become the model's tokenizer. A llama2.c checkpoint file (legacy
 * version 0 or "ak42" version 1, F32; its tokenizer.bin is not read) is
 * imported as a llama model (RMSNorm eps 1e-5, RoPE base 10000 as run.c).
 * A GGUF file path is loaded as by llm_model_load. Progress:
 * LLM_PHASE_CONVERT (units: tensors).
 * Errors: as llm_model_load; LLM_ERR_UNSUPPORTED names the architecture,
 * activation, dtype or RoPE scaling that is not supported. */
LLM_API int llm_model_import(llm_model **out, const char *path, const llm_model_opts *opts);

/* Creates a model with fresh weights for `config` (validated as
 * llm_model_config documents; zero fields take defaults): GPT-2 style
 * initialisation, matrices and embeddings ~ N(0, 0.02) except the residual
 * output projections (attn_output, ffn_down) ~ N(0, 0.02/sqrt(2*n_layer)),
 * biases 0, norm gains 1. The same seed gives the same weights on every
 * platform. The model has no tokenizer. Errors: LLM_ERR_INVALID /
 * LLM_ERR_UNSUPPORTED naming the config field, LLM_ERR_NOMEM. */
LLM_API int llm_model_create(llm_model **out, const llm_model_config *config, uint64_t seed,
                             const llm_model_opts *opts);

/* Frees the model, its weights and its tokenizer. NULL is a no-op. No
 * context of the model may be used afterwards. */
LLM_API void llm_model_free(llm_model *model);

/* Writes the model as a GGUF v3 file with llama.cpp's tensor names, tensor
 * order and metadata for its architecture (each tensor in its storage type:
 * F32, or Q8_0 for matrices loaded quantized, general.file_type 0 or 7),
 * plus its tokenizer if it has one. The file is written to a temporary
 * file in the same directory, synced and renamed over `path`, so `path`
 * never holds a partial file. Errors: LLM_ERR_INVALID, LLM_ERR_IO,
 * LLM_ERR_NOMEM. Thread-safe (the model is only read). */
LLM_API int llm_model_save(const llm_model *model, const char *path);

/* ---- Quantization ---- */

/* Tensor storage types: ggml's type codes, as stored in GGUF files. */
#define LLM_TYPE_F32  0u
#define LLM_TYPE_Q8_0 8u /* llama.cpp's Q8_0: each row is blocks of 32 weights,
                            a block is an IEEE fp16 scale d then 32 int8 q
                            (34 bytes), weight j = d * q[j] */

typedef struct llm_quantize_opts {
    uint32_t struct_size;
    uint32_t type;            /* LLM_TYPE_Q8_0 (0: Q8_0, the only type so far) */
    uint32_t flags;           /* none defined yet; must be 0 */
    llm_alloc_fn alloc;       /* NULL: the process default allocator */
    void *alloc_ud;
    llm_progress_fn progress; /* LLM_PHASE_CONVERT, units: tensors written */
    void *progress_ud;
} llm_quantize_opts;

LLM_API int llm_quantize_opts_init(llm_quantize_opts *o, size_t struct_size);
#define LLM_QUANTIZE_OPTS_INIT(o) llm_quantize_opts_init((o), sizeof *(o))

/* Kernels. Matrix-vector products (decoding) and all Q8_0 products run
 * libllm's own kernels, chosen once per process for the CPU at hand:
 * AVX-512 (with VNNI integer dot products when present), AVX2+FMA, or
 * portable C; the library itself is built for the baseline instruction
 * set. The environment variable LLM_CPU=scalar|avx2|avx512, read once
 * at the first product, caps the choice (for tests and comparisons; it
 * never enables instructions the CPU lacks). Results differ between
 * levels only by float rounding, and never depend on n_threads. */

/* Reads the model file in_path (any file llm_model_load reads) and writes
 * it to out_path with its weight matrices quantized to opts->type, as
 * llama.cpp's `llama-quantize ... Q8_0` does: every 2-D weight matrix
 * whose rows are a multiple of 32 values (token embedding and output
 * included) becomes Q8_0; the position embedding, norms and biases stay
 * F32; matrices already Q8_0 are copied unchanged. Rounding is exactly
 * llama.cpp's reference quantizer: per block of 32, d = max|x| / 127,
 * q = roundf(x / d) (half away from zero; q = 0 when d = 0), d stored as
 * fp16 rounded to nearest even; so both programs write the same bytes.
 * Metadata and the tokenizer are kept; general.file_type becomes 7
 * (MOSTLY_Q8_0). The file is written atomically (temporary file in the
 * same directory, fsync, rename). opts may be NULL.
 * Errors: as llm_model_load for in_path; LLM_ERR_INVALID (NULL path),
 * LLM_ERR_UNSUPPORTED (type or flags), LLM_ERR_IO, LLM_ERR_NOMEM,
 * LLM_ERR_CANCELLED. Details: llm_last_errmsg(). Thread-safe. */
LLM_API int llm_model_quantize(const char *in_path, const char *out_path,
                               const llm_quantize_opts *opts);

/* Fills *out (whose struct_size the caller has set, e.g. with
 * LLM_MODEL_CONFIG_INIT) with the model's configuration, defaults
 * resolved (n_head_kv, n_ff, norm_eps, rope_base are never 0). */
LLM_API int llm_model_get_config(llm_model_config *out, const llm_model *model);

/* Number of parameters: the sum of the element counts of all tensors (a
 * tied output matrix is counted once; gpt2's position embedding counts). */
LLM_API int llm_model_n_params(uint64_t *out, const llm_model *model);

/* The file type of the weights as stored (llama.cpp's general.file_type:
 * 0 all F32, 1 mostly F16, 7 mostly Q8_0, 32 mostly BF16), 0 for created or
 * imported models. Weights in memory are F32 except Q8_0 matrices, which
 * stay quantized (llm_model_tensor_type). */
LLM_API int llm_model_file_type(uint32_t *out, const llm_model *model);

/* Tensors, for bindings and tests. Names are listed in file order by
 * index 0 .. n-1; the name string lives as long as the model. */
LLM_API int llm_model_n_tensors(size_t *out, const llm_model *model);
LLM_API int llm_model_tensor_name(const char **out, const llm_model *model, size_t index);

/* Shape of the tensor `name` in row-major (PyTorch) order: dims[0] is the
 * outermost, e.g. "token_embd.weight" is (n_vocab, n_embd) and a linear
 * weight is (out, in). `dims` must have room for 4 values (unused ones are
 * set to 1). Errors: LLM_ERR_NOT_FOUND for an unknown name. */
LLM_API int llm_model_tensor_shape(uint32_t *n_dims, uint64_t *dims, const llm_model *model,
                                   const char *name);

/* Borrowed read-only pointer to the tensor's F32 data (row-major, n
 * elements), valid while the model lives. Do not write through it.
 * LLM_ERR_UNSUPPORTED for a tensor stored quantized (use
 * llm_model_tensor_copy, which dequantizes). */
LLM_API int llm_model_tensor_data(const float **data, size_t *n_elements,
                                  const llm_model *model, const char *name);

/* Copies the tensor's n elements into dst[0..cap) as F32 (Q8_0 tensors
 * dequantized: d * q); LLM_ERR_BUFFER_TOO_SMALL with *n_needed = n when
 * cap < n (n_needed may be NULL). */
LLM_API int llm_model_tensor_copy(float *dst, size_t cap, size_t *n_needed,
                                  const llm_model *model, const char *name);

/* Storage type of the tensor `name` in memory: LLM_TYPE_F32 or
 * LLM_TYPE_Q8_0. Errors: LLM_ERR_INVALID, LLM_ERR_NOT_FOUND. */
LLM_API int llm_model_tensor_type(uint32_t *type, const llm_model *model, const char *name);

/* The tokenizer embedded in the model file, or NULL when it has none (or
 * for a NULL/invalid model). Borrowed: owned by the model, valid until
 * llm_model_free; do not free it. */
LLM_API const llm_tokenizer *llm_model_tokenizer(const llm_model *model);

/* Gives the model a tokenizer, e.g. a llama2.c tokenizer.bin before saving
 * an imported checkpoint. On success the model owns `tok` (it frees it, and
 * any tokenizer it had before; tok NULL just drops the old one); on failure
 * the caller keeps it. Not thread-safe: call before the model is shared.
 * Errors: LLM_ERR_INVALID, LLM_ERR_RANGE (the tokenizer has more ids than
 * the model's vocabulary). */
LLM_API int llm_model_set_tokenizer(llm_model *model, llm_tokenizer *tok);

/* ---- Context: KV cache and scratch memory ----
 * One context serves one thread at a time. All of its memory is allocated
 * by llm_ctx_create; no later call allocates. */

typedef struct llm_ctx_opts {
    uint32_t struct_size;
    uint32_t n_ctx;      /* KV cache positions and longest sequence (0:
                            the model's n_ctx, but at most
                            LLM_CTX_DEFAULT_N_CTX; gpt2 cannot exceed the
                            model's) */
    uint32_t n_batch;    /* most tokens in one forward step, i.e. n_seq *
                            n_tokens of llm_ctx_forward/llm_ctx_loss and the
                            chunk size of llm_ctx_decode (0: n_ctx) */
    uint32_t n_threads;  /* threads computing this context's calls (0: 1):
                            the context starts n_threads - 1 worker threads
                            of its own at creation (none for 1) and shares
                            out attention heads, norms, activations and
                            matrix-vector products (decoding); products of
                            several rows run as one OpenBLAS call, which
                            is serialised process-wide because the serial
                            OpenBLAS is not thread-safe. Results do not
                            depend on n_threads. */
    llm_alloc_fn alloc;  /* NULL: the process default allocator */
    void *alloc_ud;
    llm_progress_fn progress; /* LLM_PHASE_PREFILL (long decodes), LLM_PHASE_EVAL */
    void *progress_ud;
    uint32_t flags;      /* LLM_CTX_* bits */
} llm_ctx_opts;

/* Most positions a context gets when llm_ctx_opts.n_ctx is 0, whatever
 * the model declares: a model file's context length alone (up to 2^24)
 * must not decide how much memory a default context takes. Pass a larger
 * n_ctx explicitly to use more of a long-context model. */
#define LLM_CTX_DEFAULT_N_CTX 4096

/* Reserve n_ctx * n_ctx floats for attention introspection
 * (llm_ctx_capture_attention). */
#define LLM_CTX_ATTENTION 0x1u

LLM_API int llm_ctx_opts_init(llm_ctx_opts *o, size_t struct_size);
#define LLM_CTX_OPTS_INIT(o) llm_ctx_opts_init((o), sizeof *(o))

/* Bytes llm_ctx_create would allocate for these options: the KV cache
 * (2 * n_layer * n_ctx * n_head_kv * head_dim floats), activations for
 * n_batch tokens (about n_batch * (4 * n_embd + 2 * kv width + 2 * n_ff)
 * floats), one row of logits plus, for losses, a chunk of logits of at
 * most 2^20 floats (F32 output matrix; with a Q8_0 one, logits for
 * min(n_batch, 256) rows), and, with LLM_CTX_ATTENTION, n_threads * n_ctx
 * attention scores and n_ctx * n_ctx probabilities (attention itself is
 * tiled and needs no scores); for a
 * model with Q8_0 weights and n_batch >= 16, 4 MiB more (tiles of weights
 * dequantized for products of many rows). Memory that the worker threads'
 * stacks and OpenBLAS use internally is not counted. opts may be NULL. */
LLM_API int llm_ctx_estimate_bytes(size_t *out, const llm_model *model,
                                   const llm_ctx_opts *opts);

/* Creates a context for `model` (borrowed; it must outlive the context).
 * Errors: LLM_ERR_INVALID, LLM_ERR_RANGE (n_ctx beyond gpt2's positions,
 * absurd sizes), LLM_ERR_NOMEM. */
LLM_API int llm_ctx_create(llm_ctx **out, const llm_model *model, const llm_ctx_opts *opts);
/* NULL is a no-op. */
LLM_API void llm_ctx_free(llm_ctx *ctx);

/* Asks the running (or next) computing call on ctx to stop: it returns
 * LLM_ERR_CANCELLED at the next layer boundary, leaving the context as it
 * was before that call. The only function that may be called from another
 * thread while ctx is in use (it sets an atomic flag). */
LLM_API void llm_ctx_interrupt(llm_ctx *ctx);

/* Only the logits of each sequence's last position. */
#define LLM_FORWARD_LAST 0x1u

/* Forward pass without the KV cache over n_seq independent sequences of
 * n_tokens each (tokens[n_seq * n_tokens], sequence-major), positions
 * 0..n_tokens-1. Writes logits (n_seq, n_tokens, n_vocab), or with
 * LLM_FORWARD_LAST (n_seq, n_vocab), into logits[0..logits_cap); when cap
 * is too small returns LLM_ERR_BUFFER_TOO_SMALL with *n_needed (may be
 * NULL) set. The KV cache is not touched. Errors: LLM_ERR_RANGE for a token
 * id outside [0, n_vocab) (message names the position) or n_tokens > n_ctx
 * or n_seq * n_tokens > n_batch; LLM_ERR_CANCELLED. */
LLM_API int llm_ctx_forward(float *logits, size_t logits_cap, size_t *n_needed, llm_ctx *ctx,
                            const llm_token *tokens, size_t n_seq, size_t n_tokens,
                            uint32_t flags);

/* Incremental decoding: appends tokens[0..n_tokens) to the KV cache (at
 * positions n_past ..) and sets *logits (may be NULL) to the n_vocab
 * next-token logits after the last of them. The pointer is lent by ctx and
 * valid until the next call that computes on or resets ctx. Long inputs are
 * processed in chunks of n_batch. On failure the cache is as before the
 * call. Errors: LLM_ERR_RANGE (bad token id, n_past + n_tokens > n_ctx),
 * LLM_ERR_CANCELLED. */
LLM_API int llm_ctx_decode(const float **logits, llm_ctx *ctx, const llm_token *tokens,
                           size_t n_tokens);
/* The logits of the latest decode again; LLM_ERR_STATE when there are none
 * (after create, reset, truncate, or a forward/loss/eval call). */
LLM_API int llm_ctx_logits(const float **logits, const llm_ctx *ctx);
/* Tokens in the KV cache / positions it holds. */
LLM_API int llm_ctx_n_past(size_t *out, const llm_ctx *ctx);
LLM_API int llm_ctx_n_ctx(size_t *out, const llm_ctx *ctx);
/* Keeps the first n_keep cached tokens (n_keep <= n_past), so decoding
 * continues from position n_keep. LLM_ERR_RANGE when n_keep > n_past. */
LLM_API int llm_ctx_truncate(llm_ctx *ctx, size_t n_keep);
/* Empties the KV cache and clears a pending interrupt. */
LLM_API int llm_ctx_reset(llm_ctx *ctx);

/* ---- Attention introspection ---- */

/* Chooses the layer and query head (0-based) whose attention
 * probabilities later calls record; layer -1 stops recording. Needs a
 * context created with LLM_CTX_ATTENTION (else LLM_ERR_STATE).
 * LLM_ERR_RANGE for a layer or head out of range. */
LLM_API int llm_ctx_capture_attention(llm_ctx *ctx, int32_t layer, int32_t head);

/* The recorded probabilities: row p (query position p, p < *n_rows) holds
 * the softmax weights over key positions 0..p at p * *row_stride (the rest
 * of the row is 0). After llm_ctx_forward the rows are those of its first
 * sequence; after decoding they cover every position in the KV cache
 * (rows of earlier calls are kept). Lent by ctx, valid until it is freed;
 * contents change with each computing call. */
LLM_API int llm_ctx_attention(const float **probs, size_t *n_rows, size_t *row_stride,
                              const llm_ctx *ctx);

/* ---- Loss ---- */

/* Cross-entropy of given logits (n_rows, n_vocab) against targets[n_rows]:
 * *loss = mean over rows with target >= 0 of LSE(z) - z[target] in nats
 * (a negative target, e.g. -100, is ignored; NaN when all are). logprobs
 * (may be NULL) receives log p(target) per row (0 for ignored rows).
 * Computed with log-sum-exp in double: finite for any finite logits.
 * Errors: LLM_ERR_INVALID, LLM_ERR_RANGE (target >= n_vocab). Thread-safe. */
LLM_API int llm_cross_entropy(double *loss, float *logprobs, const float *logits,
                              const llm_token *targets, size_t n_rows, size_t n_vocab);

/* Forward pass of n_seq sequences of n_tokens inputs (as llm_ctx_forward)
 * scored against targets of the same shape: *loss is the mean cross-entropy
 * in nats/token over targets >= 0, logprobs (may be NULL, else n_seq *
 * n_tokens floats) the per-position log p(target). For next-token
 * prediction pass targets[i] = inputs[i + 1]. */
LLM_API int llm_ctx_loss(double *loss, float *logprobs, llm_ctx *ctx, const llm_token *inputs,
                         const llm_token *targets, size_t n_seq, size_t n_tokens);

/* Scores a whole token stream: every token except the first is predicted
 * exactly once. With stride 0 (or = window), window k scores targets
 * t[k*window+1 .. (k+1)*window] from inputs t[k*window .. (k+1)*window-1]
 * (the window's first token is context only). With 0 < stride < window
 * (sliding windows), each step scores the next `stride` targets using up
 * to `window` preceding tokens as context. window 0 means min(n_ctx,
 * n_batch). Outputs the summed negative log-likelihood in nats and the
 * number of predictions (n_tokens - 1, or 0 for n_tokens < 2): loss =
 * nll_sum / n_predicted, ppl = exp(loss), bits per byte = nll_sum / (ln 2 *
 * bytes of text). Reports LLM_PHASE_EVAL progress (units: predictions). */
LLM_API int llm_ctx_eval(double *nll_sum, uint64_t *n_predicted, llm_ctx *ctx,
                         const llm_token *tokens, size_t n_tokens, size_t window,
                         size_t stride);

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

/* ==== trainer API (issue: training) ==== */

/* ------------------------------------------------------------------------
 * Training: next-token cross-entropy, full backward pass, AdamW.
 *
 * A trainer owns the gradients, the AdamW moments, the activations of one
 * micro-batch, a thread pool, an RNG and a data cursor for one model. It
 * writes the model's weights in place at each step, so while a trainer
 * exists the model is locked for writing: do not run contexts on it, or
 * create a second trainer for it, while a step may run (between steps,
 * on the trainer's thread, reading the model is fine: llm_model_save,
 * llm_ctx_* calls). One thread at a time; the model must outlive the
 * trainer.
 *
 * Exactness: the same model, options, thread count and batches give the
 * same bits on every run (every reduction runs in a fixed order), and a
 * run resumed from a checkpoint continues bit for bit.
 * ------------------------------------------------------------------------ */

/* Learning-rate schedules. */
#define LLM_SCHEDULE_COSINE   0 /* linear warmup then cosine decay (default) */
#define LLM_SCHEDULE_CONSTANT 1 /* lr at every step (warmup_steps ignored) */

/* Trainer flags. */
#define LLM_TRAIN_SHUFFLE 0x1u /* llm_trainer_next_batch draws windows at random */

typedef struct llm_trainer_opts {
    uint32_t struct_size;
    uint32_t flags;           /* LLM_TRAIN_* bits */
    llm_alloc_fn alloc;       /* NULL: the process default allocator */
    void *alloc_ud;
    uint32_t n_threads;       /* threads of the trainer's pool (0: 1) */
    uint32_t batch;           /* B, sequences per micro-batch (0: 4) */
    uint32_t seq_len;         /* T, tokens per sequence (0: min(n_ctx, 64));
                                 at most the model's n_ctx */
    uint32_t grad_accum;      /* K, micro-batches per optimizer step (0: 1);
                                 the gradient is their mean */
    int32_t schedule;         /* LLM_SCHEDULE_* */
    uint32_t warmup_steps;    /* W (0: no warmup) */
    uint64_t total_steps;     /* S, the cosine schedule's lr_decay_iters (0: the
                                 schedule is constant at lr after warmup) */
    double lr;                /* peak learning rate (0: 6e-4) */
    double min_lr;            /* floor of the cosine (0 is 0) */
    double beta1;             /* AdamW beta1 (0: 0.9) */
    double beta2;             /* AdamW beta2 (0: 0.999, torch's default) */
    double eps;               /* AdamW eps (0: 1e-8) */
    double weight_decay;      /* decoupled decay of tensors with >= 2 dims (0: none) */
    double grad_clip;         /* global L2 norm threshold (0: no clipping) */
    uint64_t seed;            /* RNG of llm_trainer_next_batch with SHUFFLE */
    llm_progress_fn progress; /* LLM_PHASE_TRAIN_STEP after each micro-batch:
                                 done = steps completed, total = total_steps */
    void *progress_ud;
} llm_trainer_opts;

LLM_API int llm_trainer_opts_init(llm_trainer_opts *o, size_t struct_size);
#define LLM_TRAINER_OPTS_INIT(o) llm_trainer_opts_init((o), sizeof *(o))

/* Creates a trainer for `model` (borrowed; see the lock above). Weights
 * mapped from a file are first copied into memory so they can be
 * written. All memory (gradients and two AdamW moments: 3 floats per
 * parameter; activations of one micro-batch) is allocated here; a step
 * allocates nothing. Errors: LLM_ERR_INVALID (NULL, options out of range:
 * the message names the field), LLM_ERR_RANGE (seq_len > n_ctx),
 * LLM_ERR_NOMEM. On failure *out = NULL and llm_last_errmsg() explains. */
LLM_API int llm_trainer_create(llm_trainer **out, llm_model *model,
                               const llm_trainer_opts *opts);
/* Frees the trainer (not the model, whose weights keep the training).
 * NULL is a no-op. */
LLM_API void llm_trainer_free(llm_trainer *tr);

/* One optimizer step on n_tokens = K*B*T inputs and targets (K
 * micro-batches of B sequences of T tokens, sequence-major; targets[i] is
 * the token that should follow inputs[i] in its sequence). Runs forward
 * and backward of each micro-batch, averages the gradients, clips them to
 * grad_clip (torch.nn.utils.clip_grad_norm_), applies AdamW with this
 * step's learning rate (torch.optim.AdamW), and counts the step.
 * *loss_out (may be NULL) receives the mean cross-entropy (nats/token) of
 * the batch before the update. Errors (weights, moments and step count
 * then unchanged): LLM_ERR_INVALID (NULL, n_tokens != K*B*T),
 * LLM_ERR_RANGE (a token id outside [0, n_vocab); the message names the
 * array and index), LLM_ERR_NO_CONVERGENCE (the loss or the gradient
 * norm is NaN or infinite), LLM_ERR_CANCELLED (the progress callback). */
LLM_API int llm_trainer_step(float *loss_out, llm_trainer *tr, const llm_token *inputs,
                             const llm_token *targets, size_t n_tokens);

/* Mean cross-entropy (nats/token) of the current weights on n_tokens
 * inputs/targets, a multiple of B*T, without changing anything (for
 * validation). Errors as llm_trainer_step. */
LLM_API int llm_trainer_eval(float *loss_out, llm_trainer *tr, const llm_token *inputs,
                             const llm_token *targets, size_t n_tokens);

/* Learning rate of (0-based) step `step` under the trainer's schedule:
 * while step < W: lr*(step+1)/(W+1); cosine: if step > S min_lr, else
 * min_lr + 0.5*(1 + cos(pi*(step-W)/(S-W)))*(lr - min_lr) (nanoGPT's
 * get_lr with lr_decay_iters = S); constant: lr. */
LLM_API int llm_trainer_lr(double *out, const llm_trainer *tr, uint64_t step);
/* Optimizer steps done so far (the next step's index). */
LLM_API int llm_trainer_n_steps(uint64_t *out, const llm_trainer *tr);
/* Global L2 norm of the gradient of the latest step, before clipping
 * (0 before the first step). */
LLM_API int llm_trainer_grad_norm(double *out, const llm_trainer *tr);
/* Copies the accumulated gradient of tensor `name` (as llm_model_tensor_copy;
 * after a step it is the clipped mean gradient that step used). */
LLM_API int llm_trainer_grad_copy(float *dst, size_t cap, size_t *n_needed,
                                  const llm_trainer *tr, const char *name);

/* ---- Data ---- */

/* Token file formats for llm_tokens_load. */
#define LLM_TOKENS_AUTO  0 /* by extension: .bin uint16, .u32 uint32, .i32 int32 */
#define LLM_TOKENS_U16   1 /* raw little-endian uint16 (nanoGPT/llm.c .bin) */
#define LLM_TOKENS_U32   2 /* raw little-endian uint32 */
#define LLM_TOKENS_I32   3 /* raw little-endian int32 */
#define LLM_TOKENS_BYTES 4 /* any file: each byte is a token 0..255 */

/* Reads a whole token file (plain, or gzip-compressed: detected by its
 * magic) into a new array *out of *n_out tokens; release it with
 * llm_free. Errors: LLM_ERR_INVALID (NULL, unknown format or extension),
 * LLM_ERR_NOT_FOUND, LLM_ERR_IO, LLM_ERR_BAD_FILE (a size that is not a
 * multiple of the token size, a negative int32), LLM_ERR_NOMEM. */
LLM_API int llm_tokens_load(llm_token **out, size_t *n_out, const char *path, int32_t format);

/* Fills inputs and targets (K*B*T tokens each) from stream[0..n_stream)
 * with the trainer's data cursor, K micro-batches in order. Sequential
 * (default): each micro-batch takes B*T+1 consecutive tokens at the
 * cursor (inputs the first B*T as B rows of T, targets the same shifted
 * by one); the cursor advances by B*T and returns to 0 when fewer than
 * B*T+1 tokens remain. With LLM_TRAIN_SHUFFLE each row's window of T+1
 * tokens starts at a position drawn uniformly by the seeded RNG. The
 * cursor and RNG are part of checkpoints. Errors: LLM_ERR_INVALID (NULL),
 * LLM_ERR_RANGE (n_stream < B*T+1). */
LLM_API int llm_trainer_next_batch(llm_token *inputs, llm_token *targets, llm_trainer *tr,
                                   const llm_token *stream, size_t n_stream);

/* ---- Checkpoints ---- */

/* Writes a training checkpoint: a GGUF file with the model's tensors and
 * config (the file is not a model file: use llm_model_save for that), the AdamW moments
 * ("adam.m.<name>", "adam.v.<name>"), step, RNG state, data cursor, the
 * options that shape the run, and a CRC-32 of all tensor data. Written to
 * a temporary file beside `path`, synced and renamed, so `path` always
 * holds either the previous or the new complete checkpoint. Errors:
 * LLM_ERR_INVALID, LLM_ERR_IO, LLM_ERR_NOMEM. */
LLM_API int llm_trainer_save(llm_trainer *tr, const char *path);

/* Restores a checkpoint into a trainer created for a model of the same
 * configuration with the same B, T, K: weights, moments, step, RNG and
 * cursor, so training continues exactly where the checkpoint was taken
 * (hyper-parameters such as lr come from the trainer's own options).
 * Errors (nothing changed): LLM_ERR_INVALID, LLM_ERR_NOT_FOUND, LLM_ERR_IO,
 * LLM_ERR_BAD_FILE (not a checkpoint, CRC mismatch, truncated; the
 * message names the file), LLM_ERR_STATE (config, tensor shapes, B, T or
 * K differ from the trainer's: the message names the field). */
LLM_API int llm_trainer_load(llm_trainer *tr, const char *path);

/* ---- Data-parallel training: the gradient all-reduce hook ---- */

/* R workers (processes, machines, or trainers in one process) train one
 * model together: each holds a full copy of the weights and optimizer
 * state and a trainer with the same options, computes the gradient of
 * its share of every global batch, and the hook sums the gradients
 * across workers, so every worker applies the same AdamW update. The
 * trainer knows no transport; libllm_mpi (include/llm_mpi.h) is one
 * implementation of the hook, a test may plug in another.
 *
 * With hooks set (world_size R, rank r), on every worker:
 *   - llm_trainer_next_batch takes rows [r*B, (r+1)*B) of each global
 *     micro-batch of R*B sequences that a single trainer with batch R*B
 *     would take (sequential or shuffled): the data order does not depend
 *     on R;
 *   - llm_trainer_step scales the local gradients by 1/(K*R*B*T), hands
 *     them to `reduce` bucket by bucket during the backward pass of the
 *     last micro-batch (a bucket as soon as its gradients are final: the
 *     final norm and untied output first, then each block from the last
 *     to the first, the embeddings last), calls `finish`, then sums the
 *     loss with `reduce_f64`; the gradient is then the mean over all
 *     R*K*B*T positions, clipping uses its global norm, and *loss_out is
 *     the global mean loss. R workers with batch B therefore follow a
 *     single trainer with batch R*B (same losses up to float rounding of
 *     the different summation order);
 *   - checkpoints record the global batch R*B, so a checkpoint written
 *     by R workers resumes on R' workers whose R'*B' is the same.
 * Every worker must make the same calls in the same order (the hook
 * functions are collectives); a worker whose step fails before the
 * backward (bad tokens, cancellation) leaves the others waiting in the
 * hooks, which the transport must end with an error (libllm_mpi: a
 * timeout). llm_trainer_eval stays local (each worker scores what it is
 * given).
 *
 * Hook contract (all return LLM_OK or a negative LLM_ERR_* status; the
 * trainer calls them on the thread that called llm_trainer_step):
 *   reduce(ud, buf, n, bucket): replace buf[0..n) by the element-wise sum
 *     of the buffers that all workers pass for the same bucket. It may
 *     only start the reduction and return; the trainer does not touch
 *     buf again before `finish` returned. The sum must be bitwise the
 *     same on every worker (so the weights stay identical). Buckets of
 *     one step are numbered 0, 1, ... in the order they are passed;
 *   finish(ud): wait until every reduction started by `reduce` in this
 *     step is complete. NULL when `reduce` is synchronous;
 *   reduce_f64(ud, buf, n): synchronous sum of n doubles across workers
 *     (the loss; n is small);
 *   errmsg(ud): optional, a message describing the latest failure (the
 *     trainer copies it into its own message), NULL or "" if none.
 * A hook that fails (e.g. a peer died or a collective timed out) makes
 * the step fail with its status before any weight changes. */
typedef int (*llm_reduce_f32_fn)(void *ud, float *buf, size_t n, uint32_t bucket);
typedef int (*llm_reduce_finish_fn)(void *ud);
typedef int (*llm_reduce_f64_fn)(void *ud, double *buf, size_t n);
typedef const char *(*llm_reduce_errmsg_fn)(void *ud);

typedef struct llm_reduce_hooks {
    uint32_t struct_size;
    uint32_t rank;                /* this worker, in [0, world_size) */
    uint32_t world_size;          /* R, number of workers (0: 1) */
    uint32_t flags;               /* reserved, must be 0 */
    llm_reduce_f32_fn reduce;     /* required */
    llm_reduce_finish_fn finish;  /* NULL: reduce is synchronous */
    llm_reduce_f64_fn reduce_f64; /* required */
    llm_reduce_errmsg_fn errmsg;  /* optional */
    void *ud;                     /* passed to every hook */
} llm_reduce_hooks;

LLM_API int llm_reduce_hooks_init(llm_reduce_hooks *o, size_t struct_size);
#define LLM_REDUCE_HOOKS_INIT(o) llm_reduce_hooks_init((o), sizeof *(o))

/* Makes `tr` one worker of a data-parallel group (hooks copied; `ud` is
 * borrowed and must outlive the trainer or the next call), or, with
 * hooks == NULL, a single process again. Call it between steps (before
 * the first one, normally, and before llm_trainer_load). Errors:
 * LLM_ERR_INVALID (NULL trainer, reduce or reduce_f64 NULL, rank >=
 * world_size, flags not 0, world_size * batch * seq_len above 2^32). */
LLM_API int llm_trainer_set_reduce(llm_trainer *tr, const llm_reduce_hooks *hooks);

/* Number of gradient buckets a step passes to the reduce hook and the
 * floats of bucket `bucket` (*n_floats may be NULL). Each bucket holds
 * the gradients of whole tensors adjacent in memory (with the zero
 * padding between them); together they cover every parameter once. Errors: LLM_ERR_INVALID (NULL), LLM_ERR_RANGE (bucket >= count;
 * *n_buckets is still written). */
LLM_API int llm_trainer_buckets(size_t *n_buckets, size_t *n_floats, const llm_trainer *tr,
                                size_t bucket);

/* ==== end trainer API ==== */

/* ==== generation API (issue: generation and sampling) ==== */

/* ------------------------------------------------------------------------
 * Generation: the loop that feeds a prompt to a context, samples tokens
 * with a sampler and turns them into text.
 *
 * A generator (llm_gen) borrows one context, one sampler and (optionally)
 * one tokenizer, which must outlive it; it owns the prompt queue, the
 * stop-sequence matcher and the text buffers, all allocated by
 * llm_gen_create. After that, feeding token ids, llm_gen_next,
 * llm_gen_step, llm_gen_cancel and llm_gen_reset allocate nothing
 * (llm_gen_feed_text lets the tokenizer allocate its per-call scratch).
 * One thread at a time, like its context; from another thread use
 * llm_ctx_interrupt(ctx), which makes the running step end the turn with
 * LLM_GEN_CANCELLED.
 *
 * A turn: feed a prompt (text or ids), then call llm_gen_next until it
 * returns LLM_DONE. Each llm_gen_next call runs at most ONE forward pass:
 *   - while prompt tokens are queued it decodes the next chunk of at most
 *     n_ubatch tokens and returns LLM_AGAIN (no token), except that the
 *     call which decodes the last chunk samples the first token and
 *     returns it with LLM_OK;
 *   - otherwise it decodes the previously returned token, samples the
 *     next one and returns it with LLM_OK and its text piece;
 *   - when the turn is over it returns LLM_DONE (no token) with the rest
 *     of the text, and llm_gen_reason says why. The call whose sample is
 *     EOS, or whose pass is interrupted, returns LLM_DONE itself; after a
 *     call that returned a token and ended the turn (stop sequence,
 *     max_tokens, a callback), the LLM_DONE call computes nothing.
 * Every generated token is returned by exactly one LLM_OK call. The EOS
 * token (and any opts->stop_tokens id) ends the turn and is neither
 * returned nor put into the context. A stop sequence ends the turn on the
 * call whose token completes it: that call returns its token and the text
 * before the stop sequence (of those complete at that point, the one that
 * starts first); the stop sequence and anything after it are never
 * emitted.
 *
 * Text: pieces never split a UTF-8 character (the tokenizer's streaming
 * decode holds incomplete sequences back), and text that may be the start
 * of a stop sequence is held back until it is decided, so a piece can be
 * empty and a later piece can carry text of several tokens. The pieces of
 * a turn (LLM_DONE's text included) concatenated are the decode of its
 * tokens (llm_tokenizer_decode,
 * with the same special/replacement flags), cut before the first stop
 * sequence. Stop sequences are matched on this text, across token
 * boundaries, and never on the prompt.
 *
 * Context: a prompt is appended after what the context already holds
 * (call llm_gen_reset, or llm_ctx_reset before creating, for a fresh
 * start), so a new turn continues the conversation. The last token
 * returned in a turn is decoded at the start of the next turn (it is not
 * in the KV cache when the turn ends). Prompt tokens are also recorded in
 * the sampler's penalty window (llm_sampler_accept) unless
 * LLM_GEN_NO_PROMPT_PENALTY; generated tokens are recorded by the
 * sampler's own automatic accept.
 *
 * Errors on a generator are reported by llm_errmsg(gen) and, as for every
 * handle, by the calling thread's llm_last_errmsg().
 * ------------------------------------------------------------------------ */

typedef struct llm_gen llm_gen;

/* Why a turn ended (llm_gen_reason, llm_gen_result.reason). Frozen. */
#define LLM_GEN_RUNNING    0 /* not ended (or no turn yet) */
#define LLM_GEN_EOS        1 /* the model produced EOS or an opts->stop_tokens id */
#define LLM_GEN_STOP       2 /* the text reached a stop sequence */
#define LLM_GEN_MAX_TOKENS 3 /* max_tokens tokens were generated */
#define LLM_GEN_CTX_FULL   4 /* the context has no position left */
#define LLM_GEN_CANCELLED  5 /* llm_gen_cancel, llm_ctx_interrupt, or a callback */

/* Generator flags (llm_gen_opts.flags). */
#define LLM_GEN_IGNORE_EOS        0x01u /* mask the EOS token (logit -INFINITY)
                                           so it is never sampled */
#define LLM_GEN_PARSE_SPECIAL     0x02u /* special-token text in prompt text
                                           becomes its token */
#define LLM_GEN_SKIP_SPECIAL      0x04u /* leave special tokens' text out of
                                           the pieces */
#define LLM_GEN_REPLACE_INVALID   0x08u /* bytes that are not valid UTF-8 become
                                           U+FFFD in the pieces */
#define LLM_GEN_NO_PROMPT_PENALTY 0x10u /* do not record prompt tokens in the
                                           sampler's penalty window */

/* Streaming callback: called for every token returned with LLM_OK (token
 * >= 0, its piece) and for the final text returned with LLM_DONE (token
 * -1; only when that text is not empty). text[0..n_text) is valid only
 * during the call (NUL-terminated). A non-zero return ends the turn with
 * LLM_GEN_CANCELLED (the current token is still returned). It must not
 * call llm_gen_* functions on this generator. */
typedef int (*llm_gen_token_fn)(void *ud, llm_token token, const char *text, size_t n_text);

/* Options of a generator. Zero means default in every field. */
typedef struct llm_gen_opts {
    uint32_t struct_size;
    uint32_t flags;               /* LLM_GEN_* bits */
    llm_alloc_fn alloc;           /* NULL: the process default allocator */
    void *alloc_ud;
    uint32_t max_tokens;          /* tokens per turn (0: no limit but the context) */
    uint32_t n_ubatch;            /* prompt tokens per forward pass (0: the
                                     context's n_batch; larger values are
                                     clamped to it) */
    const char *const *stop;      /* n_stop stop sequences: NUL-terminated,
                                     non-empty byte strings; copied by create */
    size_t n_stop;
    const llm_token *stop_tokens; /* n_stop_tokens ids that end a turn like EOS
                                     (copied by create) */
    size_t n_stop_tokens;
    llm_gen_token_fn on_token;    /* NULL: none */
    void *on_token_ud;
    llm_progress_fn progress;     /* LLM_PHASE_PREFILL after each prompt chunk
                                     (units: prompt tokens of the turn) and
                                     LLM_PHASE_DECODE after each token (units:
                                     tokens; total = max_tokens or 0). A non-zero
                                     return ends the turn with LLM_GEN_CANCELLED */
    void *progress_ud;
} llm_gen_opts;

/* Fills *o with the defaults (all zero) for a struct of `struct_size`
 * bytes. LLM_ERR_INVALID for NULL or a size below 4. */
LLM_API int llm_gen_opts_init(llm_gen_opts *o, size_t struct_size);
#define LLM_GEN_OPTS_INIT(o) llm_gen_opts_init((o), sizeof *(o))

/* Creates a generator over ctx and smpl (borrowed, used exclusively by the
 * generator while a turn runs) and tok (borrowed; NULL: ids only, no text,
 * no EOS unless opts->stop_tokens, no stop sequences). opts may be NULL.
 * All buffers are allocated here: the prompt queue (n_ctx tokens) and
 * text buffers of about 4x the longest token plus the longest stop
 * sequence; a temporary 2 x n_vocab floats check the sampler. The EOS id
 * is the tokenizer's (llm_tokenizer_special_id). The context's n_batch and
 * n_vocab are read with bounds-only llm_ctx_forward calls (no computing),
 * which leave a LLM_ERR_BUFFER_TOO_SMALL/LLM_ERR_RANGE message in
 * llm_errmsg(ctx).
 * Errors: LLM_ERR_INVALID (NULL out/ctx/smpl, a sampler whose n_vocab is
 * not the model's, an empty stop sequence or one longer than the context
 * could ever produce, a stop token outside [0, n_vocab), stop sequences
 * without a tokenizer; the message names the field), LLM_ERR_UNSUPPORTED
 * (unknown flags, larger struct with a non-zero tail), LLM_ERR_NOMEM. On
 * failure *out = NULL. */
LLM_API int llm_gen_create(llm_gen **out, llm_ctx *ctx, llm_sampler *smpl,
                           const llm_tokenizer *tok, const llm_gen_opts *opts);
/* NULL is a no-op. Does not free the context, sampler or tokenizer. */
LLM_API void llm_gen_free(llm_gen *g);

/* Queues a prompt and starts a turn (or adds to the prompt of a turn that
 * has not generated yet). Text is encoded with the tokenizer (flags:
 * LLM_GEN_PARSE_SPECIAL), with the BOS token first when the tokenizer
 * asks for it (llm_tokenizer_add_bos) and the context is empty. Nothing
 * is computed until llm_gen_next. The previous turn's last token (see
 * above) is queued first. Errors: LLM_ERR_INVALID (NULL g, NULL text/ids
 * with a non-zero length, an empty prompt with nothing else queued, text
 * without a tokenizer), LLM_ERR_STATE (a turn is generating, or has
 * ended without its LLM_DONE collected: call llm_gen_cancel if needed,
 * then llm_gen_next until LLM_DONE), LLM_ERR_RANGE (a token id
 * outside [0, n_vocab), naming its index; the prompt does not fit the
 * context's free positions: nothing is truncated), LLM_ERR_NOMEM (the
 * tokenizer's scratch). On error nothing is queued. */
LLM_API int llm_gen_feed_text(llm_gen *g, const char *text, size_t len);
LLM_API int llm_gen_feed_tokens(llm_gen *g, const llm_token *ids, size_t n);

/* Advances the turn by at most one forward pass (see above). On LLM_OK
 * *token is the new token; on LLM_AGAIN and LLM_DONE *token is -1.
 * *text / *n_text (both may be NULL) receive the piece released by this
 * call: lent by the generator, NUL-terminated, valid until the next call
 * on g; at most llm_gen_max_piece bytes. Returns LLM_OK, LLM_AGAIN (a
 * prompt chunk was decoded), LLM_DONE (the turn is over; again on every
 * later call, with empty text) or an error: LLM_ERR_INVALID (NULL g),
 * LLM_ERR_STATE (no prompt was fed), LLM_ERR_RANGE (the context was
 * changed behind the generator's back), or the sampler's error (NaN
 * logits...). After an error the state is unchanged and the call may be
 * repeated. No allocation. */
LLM_API int llm_gen_next(llm_token *token, const char **text, size_t *n_text, llm_gen *g);

/* Budgeted stepping for a frame loop: calls llm_gen_next at least once,
 * then again while the turn is not over, the time used so far (monotonic
 * clock) plus the duration of the latest forward pass fits in budget_us
 * microseconds, and the buffers have room for one more call. Tokens
 * returned with LLM_OK go to tokens[0..max_tokens) (tokens may be NULL
 * with max_tokens 0: ids not collected) with their count in *n_tokens;
 * their text to text[0..text_cap) (text may be NULL: text not collected;
 * not NUL-terminated) with its length in *n_text. text_cap must be at
 * least llm_gen_max_piece (else LLM_ERR_BUFFER_TOO_SMALL with that size
 * in *n_text, nothing done). budget_us 0 makes one forward pass at most.
 * When a call ends the turn, the LLM_DONE call that follows (it computes
 * nothing) is made in the same step if its text fits.
 * Returns LLM_AGAIN when the turn is not over, LLM_DONE when it is (the
 * final text included), or llm_gen_next's error (what was produced
 * before it is in the buffers). n_tokens must not be NULL; n_text may be
 * NULL when text is. No allocation. */
LLM_API int llm_gen_step(llm_token *tokens, size_t max_tokens, size_t *n_tokens, char *text,
                         size_t text_cap, size_t *n_text, llm_gen *g, uint64_t budget_us);

/* Ends the running turn with LLM_GEN_CANCELLED: the next llm_gen_next
 * returns LLM_DONE with the held-back text. Queued prompt tokens not yet
 * decoded stay queued for the next turn. No-op when no turn runs.
 * LLM_ERR_INVALID for NULL. */
LLM_API int llm_gen_cancel(llm_gen *g);

/* Empties the context (llm_ctx_reset) and forgets the turn, the queue and
 * the held text, keeping all memory. The sampler is not touched (call
 * llm_sampler_reset to reseed it and empty its penalty window).
 * LLM_ERR_INVALID for NULL. */
LLM_API int llm_gen_reset(llm_gen *g);

/* *out = LLM_GEN_* reason the latest turn ended, LLM_GEN_RUNNING while it
 * runs or before the first turn. LLM_ERR_INVALID for NULL. */
LLM_API int llm_gen_reason(int32_t *out, const llm_gen *g);
/* "running", "eos", "stop", "max_tokens", "ctx_full", "cancelled", or
 * "unknown"; static storage. */
LLM_API const char *llm_gen_reason_str(int32_t reason);

/* *out = the most bytes one llm_gen_next call can return in *text. */
LLM_API int llm_gen_max_piece(size_t *out, const llm_gen *g);

/* Counters of the current (or latest) turn, like an options struct: the
 * caller sets struct_size (LLM_GEN_RESULT_INIT) and only that many bytes
 * are written. */
typedef struct llm_gen_result {
    uint32_t struct_size;
    int32_t reason;           /* LLM_GEN_* */
    uint64_t n_prompt;        /* prompt tokens decoded in this turn (BOS and
                                 the previous turn's last token included) */
    uint64_t n_tokens;        /* tokens returned in this turn (EOS not counted) */
    uint64_t n_text;          /* bytes of text released in this turn */
    uint64_t n_past;          /* tokens in the context's KV cache */
    double prompt_seconds;    /* time in prompt forward passes */
    double gen_seconds;       /* time in generating calls (forward + sampling) */
    double last_pass_seconds; /* duration of the latest forward pass */
} llm_gen_result;

LLM_API int llm_gen_result_init(llm_gen_result *r, size_t struct_size);
#define LLM_GEN_RESULT_INIT(r) llm_gen_result_init((r), sizeof *(r))

/* Fills *out with the counters of g's current or latest turn.
 * LLM_ERR_INVALID for NULL or struct_size < 4. */
LLM_API int llm_gen_get_result(llm_gen_result *out, const llm_gen *g);

/* Convenience: one whole turn. Creates a temporary generator over ctx,
 * smpl and tok with opts (so it allocates once, at the start), feeds
 * prompt[0..prompt_len) (text; the tokenizer is required) after what ctx
 * holds, and generates until EOS, a stop sequence, max_tokens tokens
 * (the smaller of max_tokens and a non-zero opts->max_tokens), a full
 * context or cancellation (opts->on_token, opts->progress,
 * llm_ctx_interrupt). Tokens go to tokens[0..max_tokens) with their count
 * in *n_tokens. The text (optional: text may be NULL with text_cap 0)
 * goes to text[0..text_cap), NUL-terminated when there is room, and its
 * length to *n_text (may be NULL); when text_cap is smaller than the
 * text, the first text_cap bytes are written and, after the whole turn,
 * LLM_ERR_BUFFER_TOO_SMALL is returned with the needed size in *n_text
 * (tokens and result are still complete). *result (may be NULL; set its
 * struct_size) receives the reason and counters. Returns LLM_OK when the
 * turn ended for any reason (cancellation included), else an error of
 * llm_gen_create, llm_gen_feed_text or llm_gen_next. */
LLM_API int llm_generate(llm_token *tokens, size_t max_tokens, size_t *n_tokens, char *text,
                         size_t text_cap, size_t *n_text, llm_gen_result *result,
                         llm_ctx *ctx, llm_sampler *smpl, const llm_tokenizer *tok,
                         const char *prompt, size_t prompt_len, const llm_gen_opts *opts);

/* ==== end generation API ==== */

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
