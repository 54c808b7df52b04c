/*
 * model.h - the llm_model handle as the model, context and trainer code
 * see it.
 *
 * A model is a config plus a table of named F32 tensors (llama.cpp's GGUF
 * names) and typed pointers into them. Tensor data lives either in one
 * weights arena allocated up front (llm_model_create, converted F16/BF16
 * tensors, NO_MMAP loads) or directly in the read-only mapping of a GGUF
 * file (F32 tensors, zero-copy). After load or create nothing changes, so
 * any number of contexts in any threads may read it.
 *
 * Layout of matrices: row-major (out, in) exactly as GGUF stores them
 * (GGUF ne = {in, out}), so y = x·Wᵀ is one sgemm with W transposed.
 * Llama Q/K rows are in GGUF's interleaved ("NORM") RoPE order.
 *
 * Storage types: every tensor is F32 except that the 2-D matrices (token
 * embedding, projections, output; never the position embedding) may be
 * Q8_0 (ggml type 8, lib/core/llm_matvec.h), kept quantized as in the
 * file. Their typed pointer then points at Q8_0 blocks, not floats, and
 * the matching *_type field says so: products and embedding rows go
 * through lib/model/qmat.c, which dispatches on it; save and tensor_copy
 * write or dequantize the blocks; the trainer refuses such a model.
 */
#ifndef LLM_MODEL_H
#define LLM_MODEL_H

#include "llm_core.h"

/* One block's weights. C = n_embd, Ekv = head_dim * n_head_kv, F = n_ff. */
typedef struct llm__layer {
    float *attn_norm;   /* (C) norm gain */
    float *attn_norm_b; /* (C) LayerNorm bias; gpt2 only */
    float *wqkv;        /* (C + 2*Ekv, C) fused Q|K|V; gpt2 only (wq/wk/wv view it) */
    float *bqkv;        /* (C + 2*Ekv) fused bias; gpt2 only */
    float *wq;          /* (C, C) */
    float *wk;          /* (Ekv, C) */
    float *wv;          /* (Ekv, C) */
    float *bq;          /* (C) or NULL without LLM_CFG_QKV_BIAS */
    float *bk;          /* (Ekv) or NULL */
    float *bv;          /* (Ekv) or NULL */
    float *wo;          /* (C, C) attention output projection */
    float *bo;          /* (C); gpt2 only */
    float *ffn_norm;    /* (C) */
    float *ffn_norm_b;  /* (C); gpt2 only */
    float *w_gate;      /* (F, C); llama only */
    float *w_up;        /* (F, C) */
    float *b_up;        /* (F); gpt2 only */
    float *w_down;      /* (C, F) */
    float *b_down;      /* (C); gpt2 only */
    /* Storage type (LLM__GGML_F32 or LLM__GGML_Q8_0) of each matrix above;
     * gpt2's wq/wk/wv views share wqkv's. */
    uint32_t wqkv_type, wq_type, wk_type, wv_type, wo_type;
    uint32_t w_gate_type, w_up_type, w_down_type;
} llm__layer;

/* A named tensor of the model. Shapes are row-major (PyTorch order):
 * dims[0] is the outermost; GGUF's ne is the reverse. */
typedef struct llm__tensor {
    char name[48];
    uint32_t n_dims;       /* 1 or 2 */
    uint64_t dims[2];
    size_t n;              /* element count */
    float *data;           /* n floats, or Q8_0 blocks when type is Q8_0 */
    float **slot;          /* the typed pointer in llm_model that names it */
    uint32_t type;         /* LLM__GGML_F32, or LLM__GGML_Q8_0 (2-D matrices only) */
    size_t nbytes;         /* bytes at data: 4n, or n / 32 * 34 */
    uint32_t *type_slot;   /* the *_type field of a matrix, NULL for F32-only tensors */
} llm__tensor;

struct llm_model {
    llm__obj obj;
    llm_model_config cfg;      /* validated, defaults filled */
    uint32_t head_dim;         /* C / n_head */
    uint32_t n_embd_kv;        /* head_dim * n_head_kv */
    float *tok_embd;           /* (V, C) */
    float *pos_embd;           /* (n_ctx, C); gpt2 only */
    float *out_norm;           /* (C) */
    float *out_norm_b;         /* (C); gpt2 only */
    float *output;             /* (V, C); == tok_embd when tied */
    uint32_t tok_embd_type;    /* LLM__GGML_F32 or LLM__GGML_Q8_0 */
    uint32_t output_type;      /* == tok_embd_type when tied */
    llm__layer *layers;        /* [n_layer] */
    llm__tensor *tensors;      /* [n_tensors], in file order */
    size_t n_tensors;
    float *arena;              /* weights not in the mapping; LLM__ALIGN-aligned */
    size_t arena_floats;
    void *map;                 /* mmap of the model file, or NULL */
    size_t map_size;
    void *file_buf;            /* whole file read into memory (NO_MMAP), or NULL */
    size_t file_buf_size;
    llm_tokenizer *tok;        /* embedded tokenizer, or NULL */
    uint32_t file_type;        /* general.file_type of the loaded file (0 = F32) */
};

/* A model for `config` (validated) whose tensors all live in a zeroed
 * arena; the caller fills them (import, create). */
LLM_INTERNAL int llm__model_alloc(llm_model **out, const llm_model_config *config,
                                  const llm_model_opts *opts);

/* Finds a tensor by name; NULL when absent. */
LLM_INTERNAL llm__tensor *llm__model_find(const llm_model *m, const char *name);

/* 1 when any tensor of m is stored quantized (not F32). */
LLM_INTERNAL int llm__model_is_quantized(const llm_model *m);

/* Copies every tensor that still lives in a file mapping into the arena,
 * so the weights may be written (the trainer calls this). */
LLM_INTERNAL int llm__model_make_writable(llm_model *m);

#endif
