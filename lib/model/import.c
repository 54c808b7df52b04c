/*
 * import.c - building a model from other formats: a Hugging Face
 * checkpoint directory (config.json + model.safetensors, or shards +
 * model.safetensors.index.json) for GPT2LMHeadModel and LlamaForCausalLM
 * (formats.md sections 2-4), or a llama2.c checkpoint (section 6.1).
 *
 * Layout conversions, applied while copying into the model's arena:
 *   - GPT-2 Conv1D weights are stored (in, out): transposed to (out, in);
 *   - Llama q_proj/k_proj rows are in HF's rotate-half order: permuted to
 *     GGUF's interleaved order, new_row[h*D + 2i + s] = old_row[h*D +
 *     s*D/2 + i] (formats.md 2.5), with n_head for Q and n_head_kv for K;
 *   - F16 and BF16 are widened to F32.
 * Every expected tensor must be found exactly once with the expected
 * shape; unknown tensors are refused, except buffers HF saves that carry
 * no parameters (attn.bias / attn.masked_bias masks, rotary inv_freq).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format/gguf.h"
#include "format/json.h"
#include "format/limits.h"
#include "format/safetensors.h"
#include "model/model.h"

/* A read-only mapping of a whole file. */
typedef struct mapped {
    void *p;
    size_t n;
} mapped;

static int map_file(mapped *f, const char *path, llm__obj *err) {
    struct stat st;
    int fd = open(path, O_RDONLY), saved;
    f->p = NULL;
    f->n = 0;
    if (fd < 0) {
        saved = errno;
        return llm__err(err, saved == ENOENT ? LLM_ERR_NOT_FOUND : LLM_ERR_IO,
                        "%s: cannot open: %s", path, strerror(saved));
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
        close(fd);
        return llm__err(err, LLM_ERR_BAD_FILE, "%s: not a regular non-empty file", path);
    }
    f->p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    saved = errno;
    close(fd);
    if (f->p == MAP_FAILED) {
        f->p = NULL;
        return llm__err(err, LLM_ERR_IO, "%s: mmap failed: %s", path, strerror(saved));
    }
    f->n = (size_t)st.st_size;
    return LLM_OK;
}

static void unmap_file(mapped *f) {
    if (f->p)
        munmap(f->p, f->n);
    f->p = NULL;
}

/* Joins dir and name into buf (size cap); returns buf or NULL if too long. */
static char *join(char *buf, size_t cap, const char *dir, const char *name) {
    int k = snprintf(buf, cap, "%s/%s", dir, name);
    return k > 0 && (size_t)k < cap ? buf : NULL;
}

/* ------------------------------------------------------------------------
 * config.json
 * ------------------------------------------------------------------------ */

typedef struct jcfg {
    const llm__json *doc;
    llm__json_val root;
    const char *path;
    llm__obj *err;
} jcfg;

/* Integer field (first of the names present); *out unchanged if none. */
static int j_u32(jcfg *j, const char *name, const char *alt, uint32_t *out, int required) {
    llm__json_val v = llm__json_get(j->doc, j->root, name);
    int64_t x;
    if (llm__json_type(j->doc, v) == LLM__JSON_INVALID && alt)
        v = llm__json_get(j->doc, j->root, name = alt);
    if (llm__json_type(j->doc, v) == LLM__JSON_INVALID || llm__json_type(j->doc, v) == LLM__JSON_NULL) {
        if (required)
            return llm__err(j->err, LLM_ERR_BAD_FILE, "%s: field '%s' is missing", j->path, name);
        return LLM_OK;
    }
    if (!llm__json_int64(j->doc, v, &x) || x < 0 || x > (int64_t)UINT32_MAX)
        return llm__err(j->err, LLM_ERR_BAD_FILE,
                        "%s: offset %zu: field '%s' is not a non-negative 32-bit integer", j->path,
                        llm__json_offset(j->doc, v), name);
    *out = (uint32_t)x;
    return LLM_OK;
}

static int j_f32(jcfg *j, const char *name, float *out) {
    llm__json_val v = llm__json_get(j->doc, j->root, name);
    if (llm__json_type(j->doc, v) == LLM__JSON_INVALID || llm__json_type(j->doc, v) == LLM__JSON_NULL)
        return LLM_OK;
    if (llm__json_type(j->doc, v) != LLM__JSON_NUMBER)
        return llm__err(j->err, LLM_ERR_BAD_FILE, "%s: offset %zu: field '%s' is not a number",
                        j->path, llm__json_offset(j->doc, v), name);
    *out = (float)llm__json_num(j->doc, v);
    return LLM_OK;
}

static int j_bool(jcfg *j, const char *name, int *out) {
    llm__json_val v = llm__json_get(j->doc, j->root, name);
    int b = llm__json_bool(j->doc, v);
    if (b >= 0)
        *out = b;
    return LLM_OK;
}

static const char *j_str(jcfg *j, const char *name) {
    return llm__json_str(j->doc, llm__json_get(j->doc, j->root, name), NULL);
}

static int read_hf_config(llm_model_config *c, const char *dir, const llm__mem *mem,
                          llm__obj *err) {
    char path[4096];
    mapped f;
    llm__json *doc = NULL;
    jcfg j;
    const char *arch = NULL, *mt, *act;
    llm__json_val archs;
    int rc, b;
    if (!join(path, sizeof path, dir, "config.json"))
        return llm__err(err, LLM_ERR_INVALID, "%s: path too long", dir);
    if ((rc = map_file(&f, path, err)) != LLM_OK)
        return rc;
    rc = llm__json_parse(&doc, err, mem, f.p, f.n, path);
    unmap_file(&f);
    if (rc)
        return rc;
    j.doc = doc;
    j.root = llm__json_root(doc);
    j.path = path;
    j.err = err;
    if (llm__json_type(doc, j.root) != LLM__JSON_OBJECT) {
        llm__json_free(doc);
        return llm__err(err, LLM_ERR_BAD_FILE, "%s: not a JSON object", path);
    }
    archs = llm__json_get(doc, j.root, "architectures");
    if (llm__json_type(doc, archs) == LLM__JSON_ARRAY && llm__json_count(doc, archs) > 0)
        arch = llm__json_str(doc, llm__json_at(doc, archs, 0), NULL);
    mt = j_str(&j, "model_type");
    llm_model_config_init(c, sizeof *c);
    c->n_head_kv = 0;
    c->n_ff = 0;
    if ((arch && strcmp(arch, "GPT2LMHeadModel") == 0) || (!arch && mt && strcmp(mt, "gpt2") == 0)) {
        c->arch = LLM_ARCH_GPT2;
        c->norm_eps = 1e-5f;
        act = j_str(&j, "activation_function");
        if (act && strcmp(act, "gelu_new") != 0)
            rc = llm__err(err, LLM_ERR_UNSUPPORTED, "%s: activation_function '%s' (only gelu_new)",
                          path, act);
        if (!rc)
            rc = j_u32(&j, "vocab_size", NULL, &c->n_vocab, 1);
        if (!rc)
            rc = j_u32(&j, "n_positions", "n_ctx", &c->n_ctx, 1);
        if (!rc)
            rc = j_u32(&j, "n_embd", NULL, &c->n_embd, 1);
        if (!rc)
            rc = j_u32(&j, "n_layer", NULL, &c->n_layer, 1);
        if (!rc)
            rc = j_u32(&j, "n_head", NULL, &c->n_head, 1);
        if (!rc)
            rc = j_u32(&j, "n_inner", NULL, &c->n_ff, 0);
        if (!rc)
            rc = j_f32(&j, "layer_norm_epsilon", &c->norm_eps);
    } else if ((arch && strcmp(arch, "LlamaForCausalLM") == 0) ||
               (!arch && mt && strcmp(mt, "llama") == 0)) {
        llm__json_val rs = llm__json_get(doc, j.root, "rope_scaling");
        uint32_t head_dim = 0;
        c->arch = LLM_ARCH_LLAMA;
        c->norm_eps = 1e-6f; /* LlamaConfig's default */
        c->rope_base = 10000.0f;
        act = j_str(&j, "hidden_act");
        if (act && strcmp(act, "silu") != 0)
            rc = llm__err(err, LLM_ERR_UNSUPPORTED, "%s: hidden_act '%s' (only silu)", path, act);
        if (!rc && llm__json_type(doc, rs) != LLM__JSON_INVALID && llm__json_type(doc, rs) != LLM__JSON_NULL)
            rc = llm__err(err, LLM_ERR_UNSUPPORTED, "%s: rope_scaling is not supported", path);
        if (!rc)
            rc = j_u32(&j, "vocab_size", NULL, &c->n_vocab, 1);
        if (!rc)
            rc = j_u32(&j, "max_position_embeddings", NULL, &c->n_ctx, 1);
        if (!rc)
            rc = j_u32(&j, "hidden_size", NULL, &c->n_embd, 1);
        if (!rc)
            rc = j_u32(&j, "num_hidden_layers", NULL, &c->n_layer, 1);
        if (!rc)
            rc = j_u32(&j, "num_attention_heads", NULL, &c->n_head, 1);
        if (!rc)
            rc = j_u32(&j, "num_key_value_heads", NULL, &c->n_head_kv, 0);
        if (!rc)
            rc = j_u32(&j, "intermediate_size", NULL, &c->n_ff, 1);
        if (!rc)
            rc = j_u32(&j, "head_dim", NULL, &head_dim, 0);
        if (!rc && head_dim && c->n_head && head_dim * c->n_head != c->n_embd)
            rc = llm__err(err, LLM_ERR_UNSUPPORTED, "%s: head_dim %u != hidden_size/heads", path,
                          (unsigned)head_dim);
        if (!rc)
            rc = j_f32(&j, "rms_norm_eps", &c->norm_eps);
        if (!rc)
            rc = j_f32(&j, "rope_theta", &c->rope_base);
        b = 0;
        j_bool(&j, "tie_word_embeddings", &b);
        if (!b)
            c->flags |= LLM_CFG_UNTIED_OUTPUT;
        b = 0;
        j_bool(&j, "attention_bias", &b);
        if (b)
            c->flags |= LLM_CFG_QKV_BIAS;
    } else {
        rc = llm__err(err, LLM_ERR_UNSUPPORTED,
                      "%s: architecture '%s' is not supported (GPT2LMHeadModel, LlamaForCausalLM)",
                      path, arch ? arch : (mt ? mt : "?"));
    }
    llm__json_free(doc);
    return rc;
}

/* ------------------------------------------------------------------------
 * Tensor name mapping and copying
 * ------------------------------------------------------------------------ */

enum { COPY_PLAIN, COPY_TRANSPOSE, COPY_PERMUTE };

/* Maps an HF tensor name to a GGUF name and a copy mode. Returns 1 when
 * mapped, 0 for a parameter-free buffer to skip, -1 when unknown. */
static int map_name(const llm_model *m, const char *hf, char *gg, size_t cap, int *mode,
                    uint32_t *n_heads) {
    unsigned l;
    int pos = -1;
    const char *r;
    *mode = COPY_PLAIN;
    *n_heads = 0;
    if (m->cfg.arch == LLM_ARCH_GPT2) {
        static const struct { const char *hf, *gg; int mode; } blk[] = {
            {"ln_1.weight", "attn_norm.weight", COPY_PLAIN},
            {"ln_1.bias", "attn_norm.bias", COPY_PLAIN},
            {"attn.c_attn.weight", "attn_qkv.weight", COPY_TRANSPOSE},
            {"attn.c_attn.bias", "attn_qkv.bias", COPY_PLAIN},
            {"attn.c_proj.weight", "attn_output.weight", COPY_TRANSPOSE},
            {"attn.c_proj.bias", "attn_output.bias", COPY_PLAIN},
            {"ln_2.weight", "ffn_norm.weight", COPY_PLAIN},
            {"ln_2.bias", "ffn_norm.bias", COPY_PLAIN},
            {"mlp.c_fc.weight", "ffn_up.weight", COPY_TRANSPOSE},
            {"mlp.c_fc.bias", "ffn_up.bias", COPY_PLAIN},
            {"mlp.c_proj.weight", "ffn_down.weight", COPY_TRANSPOSE},
            {"mlp.c_proj.bias", "ffn_down.bias", COPY_PLAIN},
        };
        size_t i;
        if (strncmp(hf, "transformer.", 12) == 0)
            hf += 12;
        if (strcmp(hf, "wte.weight") == 0)
            return snprintf(gg, cap, "token_embd.weight"), 1;
        if (strcmp(hf, "wpe.weight") == 0)
            return snprintf(gg, cap, "position_embd.weight"), 1;
        if (strcmp(hf, "ln_f.weight") == 0)
            return snprintf(gg, cap, "output_norm.weight"), 1;
        if (strcmp(hf, "ln_f.bias") == 0)
            return snprintf(gg, cap, "output_norm.bias"), 1;
        if (strcmp(hf, "lm_head.weight") == 0)
            return 0; /* tied to wte in GPT2LMHeadModel */
        if (sscanf(hf, "h.%u.%n", &l, &pos) != 1 || pos <= 0)
            return -1;
        r = hf + pos;
        if (strcmp(r, "attn.bias") == 0 || strcmp(r, "attn.masked_bias") == 0)
            return 0; /* causal-mask buffers */
        for (i = 0; i < sizeof blk / sizeof blk[0]; i++)
            if (strcmp(r, blk[i].hf) == 0) {
                *mode = blk[i].mode;
                snprintf(gg, cap, "blk.%u.%s", l, blk[i].gg);
                return 1;
            }
        return -1;
    } else {
        static const struct { const char *hf, *gg; int mode; } blk[] = {
            {"input_layernorm.weight", "attn_norm.weight", COPY_PLAIN},
            {"self_attn.q_proj.weight", "attn_q.weight", COPY_PERMUTE},
            {"self_attn.q_proj.bias", "attn_q.bias", COPY_PERMUTE},
            {"self_attn.k_proj.weight", "attn_k.weight", COPY_PERMUTE},
            {"self_attn.k_proj.bias", "attn_k.bias", COPY_PERMUTE},
            {"self_attn.v_proj.weight", "attn_v.weight", COPY_PLAIN},
            {"self_attn.v_proj.bias", "attn_v.bias", COPY_PLAIN},
            {"self_attn.o_proj.weight", "attn_output.weight", COPY_PLAIN},
            {"post_attention_layernorm.weight", "ffn_norm.weight", COPY_PLAIN},
            {"mlp.gate_proj.weight", "ffn_gate.weight", COPY_PLAIN},
            {"mlp.up_proj.weight", "ffn_up.weight", COPY_PLAIN},
            {"mlp.down_proj.weight", "ffn_down.weight", COPY_PLAIN},
        };
        size_t i;
        if (strcmp(hf, "lm_head.weight") == 0) {
            if (!(m->cfg.flags & LLM_CFG_UNTIED_OUTPUT))
                return 0; /* a tied copy some exporters still write */
            return snprintf(gg, cap, "output.weight"), 1;
        }
        if (strncmp(hf, "model.", 6) == 0)
            hf += 6;
        if (strcmp(hf, "embed_tokens.weight") == 0)
            return snprintf(gg, cap, "token_embd.weight"), 1;
        if (strcmp(hf, "norm.weight") == 0)
            return snprintf(gg, cap, "output_norm.weight"), 1;
        if (sscanf(hf, "layers.%u.%n", &l, &pos) != 1 || pos <= 0)
            return -1;
        r = hf + pos;
        if (strcmp(r, "self_attn.rotary_emb.inv_freq") == 0)
            return 0;
        for (i = 0; i < sizeof blk / sizeof blk[0]; i++)
            if (strcmp(r, blk[i].hf) == 0) {
                *mode = blk[i].mode;
                *n_heads = strstr(r, "q_proj") ? m->cfg.n_head : m->cfg.n_head_kv;
                snprintf(gg, cap, "blk.%u.%s", l, blk[i].gg);
                return 1;
            }
        return -1;
    }
}

static float st_elem(const llm__st_tensor *t, size_t j) {
    const uint8_t *p;
    if (t->dtype[1] == '3') { /* F32 */
        float f;
        memcpy(&f, t->data + 4 * j, 4);
        return f;
    }
    p = t->data + 2 * j;
    {
        uint16_t h = (uint16_t)(p[0] | (p[1] << 8));
        if (t->dtype[0] == 'B') {
            uint32_t bits = (uint32_t)h << 16;
            float f;
            memcpy(&f, &bits, 4);
            return f;
        } else {
            uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, man = h & 0x3ffu;
            uint32_t bits;
            float f;
            if (e == 0) {
                f = (float)man * 5.9604644775390625e-8f;
                return sign ? -f : f;
            }
            bits = e == 31 ? (sign | 0x7f800000u | (man << 13)) : (sign | ((e + 112u) << 23) | (man << 13));
            memcpy(&f, &bits, 4);
            return f;
        }
    }
}

static int copy_tensor(llm_model *m, llm__tensor *dst, const llm__st_tensor *src, int mode,
                       uint32_t n_heads, const char *path) {
    uint64_t R = dst->dims[0], K = dst->n_dims == 2 ? dst->dims[1] : 1;
    uint64_t s0, s1;
    size_t r, k;
    if (strcmp(src->dtype, "F32") != 0 && strcmp(src->dtype, "F16") != 0 &&
        strcmp(src->dtype, "BF16") != 0)
        return llm__err(&m->obj, LLM_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype %s (F32, F16, BF16)",
                        path, src->name, src->dtype);
    s0 = src->n_dims >= 1 ? src->shape[0] : 1;
    s1 = src->n_dims >= 2 ? src->shape[1] : 1;
    if (mode == COPY_TRANSPOSE ? (src->n_dims != 2 || s0 != K || s1 != R)
                               : (src->n_dims != dst->n_dims || s0 != R || (dst->n_dims == 2 && s1 != K)))
        return llm__err(&m->obj, LLM_ERR_BAD_FILE,
                        "%s: tensor '%s' has shape (%llu, %llu), the config needs %s(%llu, %llu) "
                        "for %s",
                        path, src->name, (unsigned long long)s0, (unsigned long long)s1,
                        mode == COPY_TRANSPOSE ? "the transpose of " : "",
                        (unsigned long long)(mode == COPY_TRANSPOSE ? K : R),
                        (unsigned long long)(mode == COPY_TRANSPOSE ? R : K), dst->name);
    if (mode == COPY_TRANSPOSE) {
        for (r = 0; r < R; r++)
            for (k = 0; k < K; k++)
                dst->data[r * K + k] = st_elem(src, k * R + r);
    } else if (mode == COPY_PERMUTE) {
        const size_t D = (size_t)(R / n_heads), half = D / 2;
        for (r = 0; r < R; r++) {
            size_t h = r / D, w = r % D, i = w / 2, s = w % 2;
            size_t from = h * D + s * half + i;
            for (k = 0; k < K; k++)
                dst->data[r * K + k] = st_elem(src, from * K + k);
        }
    } else {
        for (r = 0; r < R * K; r++)
            dst->data[r] = st_elem(src, r);
    }
    return LLM_OK;
}

/* Copies every tensor of one safetensors file; `done` flags model tensors. */
static int import_shard(llm_model *m, const char *path, unsigned char *done,
                        const llm_model_opts *opts, size_t *n_done) {
    mapped f;
    llm__st st;
    size_t i;
    int rc = map_file(&f, path, &m->obj);
    if (rc)
        return rc;
    rc = llm__st_parse(&st, f.p, f.n, path, &m->obj.mem, &m->obj);
    if (rc == LLM_OK) {
        /* the caps of llm_model_opts (format/limits.h) */
        llm__limits lim;
        uint32_t d;
        llm__limits_model(&lim, opts);
        if (st.n > lim.max_tensors)
            rc = llm__err(&m->obj, LLM_ERR_RANGE,
                          "%s: %zu tensors exceed the cap max_tensors = %llu", path, st.n,
                          (unsigned long long)lim.max_tensors);
        for (i = 0; rc == LLM_OK && i < st.n; i++)
            for (d = 0; rc == LLM_OK && d < st.t[i].n_dims; d++)
                if (st.t[i].shape[d] > lim.max_dim)
                    rc = llm__err(&m->obj, LLM_ERR_RANGE,
                                  "%s: tensor '%s' dimension %u is %llu, above the cap "
                                  "max_dim = %llu",
                                  path, st.t[i].name, (unsigned)d,
                                  (unsigned long long)st.t[i].shape[d],
                                  (unsigned long long)lim.max_dim);
    }
    for (i = 0; rc == LLM_OK && i < st.n; i++) {
        char gg[64];
        int mode, k;
        uint32_t nh;
        llm__tensor *t;
        k = map_name(m, st.t[i].name, gg, sizeof gg, &mode, &nh);
        if (k == 0)
            continue;
        t = k > 0 ? llm__model_find(m, gg) : NULL;
        if (!t) {
            rc = llm__err(&m->obj, LLM_ERR_BAD_FILE,
                          "%s: unexpected tensor '%s' for this %s config", path, st.t[i].name,
                          m->cfg.arch == LLM_ARCH_GPT2 ? "GPT2LMHeadModel" : "LlamaForCausalLM");
            break;
        }
        if (done[t - m->tensors]) {
            rc = llm__err(&m->obj, LLM_ERR_BAD_FILE, "%s: tensor '%s' appears twice", path,
                          st.t[i].name);
            break;
        }
        rc = copy_tensor(m, t, &st.t[i], mode, nh, path);
        done[t - m->tensors] = 1;
        ++*n_done;
        if (rc == LLM_OK)
            rc = llm__progress(&m->obj, opts->progress, opts->progress_ud, LLM_PHASE_CONVERT,
                               *n_done, m->n_tensors);
    }
    if (st.t)
        llm__st_release(&st);
    unmap_file(&f);
    return rc;
}

static int import_hf(llm_model **out, const char *dir, const llm_model_opts *opts) {
    llm_model_config cfg;
    llm_model *m = NULL;
    llm__obj tmp;
    char path[4096];
    unsigned char *done = NULL;
    size_t n_done = 0, i;
    struct stat sb;
    int rc;
    memset(&tmp, 0, sizeof tmp);
    llm__mem_init(&tmp.mem, opts->alloc, opts->alloc_ud);
    if ((rc = read_hf_config(&cfg, dir, &tmp.mem, NULL)) != LLM_OK)
        return rc;
    if ((rc = llm__model_alloc(&m, &cfg, opts)) != LLM_OK) {
        char msg[LLM__ERRMSG_MAX];
        snprintf(msg, sizeof msg, "%s", llm_last_errmsg());
        return llm__err(NULL, rc, "%s: %s", dir, msg); /* name the checkpoint */
    }
    done = llm__mem_calloc(&m->obj.mem, m->n_tensors, 1);
    if (!done) {
        rc = llm__err(&m->obj, LLM_ERR_NOMEM, "%s: out of memory", dir);
        goto fail;
    }
    if (join(path, sizeof path, dir, "model.safetensors") && stat(path, &sb) == 0) {
        rc = import_shard(m, path, done, opts, &n_done);
    } else if (join(path, sizeof path, dir, "model.safetensors.index.json") && stat(path, &sb) == 0) {
        /* The index maps tensor -> shard file; import each distinct file once. */
        mapped f;
        llm__json *doc = NULL;
        llm__json_val wm;
        size_t n_files;
        if ((rc = map_file(&f, path, &m->obj)) != LLM_OK)
            goto fail;
        rc = llm__json_parse(&doc, &m->obj, &m->obj.mem, f.p, f.n, path);
        unmap_file(&f);
        if (rc)
            goto fail;
        wm = llm__json_get(doc, llm__json_root(doc), "weight_map");
        if (llm__json_type(doc, wm) != LLM__JSON_OBJECT) {
            llm__json_free(doc);
            rc = llm__err(&m->obj, LLM_ERR_BAD_FILE, "%s: no 'weight_map' object", path);
            goto fail;
        }
        n_files = llm__json_count(doc, wm);
        for (i = 0; rc == LLM_OK && i < n_files; i++) {
            size_t len, k, dup = 0;
            const char *fn = llm__json_str(doc, llm__json_value_at(doc, wm, i), &len);
            char shard[4096];
            if (!fn || len == 0 || memchr(fn, '/', len) || memchr(fn, 0, len)) {
                rc = llm__err(&m->obj, LLM_ERR_BAD_FILE,
                              "%s: weight_map entry %zu is not a plain file name", path, i);
                break;
            }
            for (k = 0; k < i && !dup; k++) {
                const char *prev = llm__json_str(doc, llm__json_value_at(doc, wm, k), NULL);
                dup = prev && strcmp(prev, fn) == 0;
            }
            if (dup)
                continue;
            if (!join(shard, sizeof shard, dir, fn)) {
                rc = llm__err(&m->obj, LLM_ERR_INVALID, "%s: path too long", dir);
                break;
            }
            rc = import_shard(m, shard, done, opts, &n_done);
        }
        llm__json_free(doc);
    } else {
        rc = llm__err(&m->obj, LLM_ERR_NOT_FOUND,
                      "%s: neither model.safetensors nor model.safetensors.index.json found", dir);
    }
    if (rc)
        goto fail;
    for (i = 0; i < m->n_tensors; i++)
        if (!done[i]) {
            rc = llm__err(&m->obj, LLM_ERR_BAD_FILE, "%s: tensor for '%s' is missing", dir,
                          m->tensors[i].name);
            goto fail;
        }
    /* The tokenizer files of the directory. */
    {
        llm_tokenizer *tok = NULL;
        llm_tokenizer_opts to;
        /* the model's caps bound its tokenizer too */
        LLM_TOKENIZER_OPTS_INIT(&to);
        to.alloc = opts->alloc;
        to.alloc_ud = opts->alloc_ud;
        to.max_vocab = opts->max_vocab;
        to.max_string = opts->max_string;
        rc = llm_tokenizer_load(&tok, dir, &to);
        if (rc == LLM_OK)
            m->tok = tok;
        else if (rc != LLM_ERR_NOT_FOUND) {
            char msg[LLM__ERRMSG_MAX];
            snprintf(msg, sizeof msg, "%s", llm_last_errmsg());
            rc = llm__err(&m->obj, rc, "%s: tokenizer: %s", dir, msg);
            goto fail;
        }
        rc = LLM_OK;
    }
    llm__mem_free(&m->obj.mem, done, m->n_tensors);
    *out = m;
    return LLM_OK;
fail:
    if (done)
        llm__mem_free(&m->obj.mem, done, m->n_tensors);
    {
        char msg[LLM__ERRMSG_MAX];
        snprintf(msg, sizeof msg, "%s", m->obj.errmsg);
        llm_model_free(m);
        return llm__err(NULL, rc, "%s", msg);
    }
}

/* ------------------------------------------------------------------------
 * llama2.c checkpoints (formats.md 6.1): legacy (version 0) and "ak42"
 * version 1. Weights are F32, row-major (out, in), Q/K rows already in
 * Meta's interleaved RoPE order, which is GGUF's: no permutation.
 * ------------------------------------------------------------------------ */

static int32_t rd_i32(const unsigned char *p) {
    return (int32_t)((uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
                     ((uint32_t)p[3] << 24));
}

/* Copies `count` tensors of `each` floats, one per layer (or a single one
 * when fmt has no %u), from *src into the model; advances *src. */
static void l2c_take(llm_model *m, const unsigned char **src, const char *suffix, int per_layer) {
    uint32_t l, nl = per_layer ? m->cfg.n_layer : 1;
    for (l = 0; l < nl; l++) {
        char name[64];
        llm__tensor *t;
        if (per_layer)
            snprintf(name, sizeof name, "blk.%u.%s", (unsigned)l, suffix);
        else
            snprintf(name, sizeof name, "%s", suffix);
        t = llm__model_find(m, name);
        memcpy(t->data, *src, t->n * sizeof(float));
        *src += t->n * sizeof(float);
    }
}

static int import_llama2c(llm_model **out, const char *path, const llm_model_opts *opts) {
    mapped f;
    llm_model_config cfg;
    llm_model *m = NULL;
    const unsigned char *b, *p;
    int32_t h[7];
    int version = 0, shared, i, rc;
    size_t hdr, need, E, F, L, V, T, KV, hs;
    if ((rc = map_file(&f, path, NULL)) != LLM_OK)
        return rc;
    b = f.p;
    if (f.n >= 8 && rd_i32(b) == 0x616b3432) {
        if (f.n < 256 || rd_i32(b + 4) != 1) {
            int v = (int)rd_i32(b + 4);
            int status = f.n < 256 && v == 1 ? LLM_ERR_BAD_FILE : LLM_ERR_UNSUPPORTED;
            unmap_file(&f);
            if (status == LLM_ERR_BAD_FILE)
                return llm__err(NULL, status, "%s: too short for a llama2.c version 1 header", path);
            return llm__err(NULL, status,
                            "%s: llama2.c checkpoint version %d is not supported (0 or 1)", path, v);
        }
        version = 1;
        for (i = 0; i < 7; i++)
            h[i] = rd_i32(b + 8 + 4 * i);
        shared = b[36] != 0;
        hdr = 256;
    } else {
        if (f.n < 28) {
            unmap_file(&f);
            return llm__err(NULL, LLM_ERR_BAD_FILE, "%s: too short for a llama2.c header", path);
        }
        for (i = 0; i < 7; i++)
            h[i] = rd_i32(b + 4 * i);
        shared = h[5] > 0;
        if (h[5] < 0 && h[5] != INT32_MIN)
            h[5] = -h[5];
        hdr = 28;
    }
    for (i = 0; i < 7; i++)
        if (h[i] <= 0 || h[i] > (1 << 24)) {
            unmap_file(&f);
            return llm__err(NULL, LLM_ERR_BAD_FILE,
                            "%s: offset %d: header field %d = %ld is not a plausible size "
                            "(not a GGUF or llama2.c file?)",
                            path, (int)(version ? 8 + 4 * i : 4 * i), i, (long)h[i]);
        }
    E = (size_t)h[0]; F = (size_t)h[1]; L = (size_t)h[2]; V = (size_t)h[5]; T = (size_t)h[6];
    if (E % (size_t)h[3] != 0 || h[3] % h[4] != 0) {
        unmap_file(&f);
        return llm__err(NULL, LLM_ERR_BAD_FILE, "%s: dim %zu, n_heads %d, n_kv_heads %d disagree",
                        path, E, (int)h[3], (int)h[4]);
    }
    hs = E / (size_t)h[3];
    KV = hs * (size_t)h[4];
    /* Sizes in floats. Each factor is < 2^24, so a product of two fits
     * easily, but L times a layer's size (three factors) can wrap around:
     * check it against the file size first. */
    {
        size_t layer = 2 * E + E * E + 2 * KV * E + E * E + 3 * F * E;
        if (layer > f.n / 4 / L) {
            unmap_file(&f);
            return llm__err(NULL, LLM_ERR_BAD_FILE,
                            "%s: %zu bytes, but the header (dim %zu, hidden %zu, layers %zu) "
                            "needs more than that for its layers",
                            path, f.n, E, F, L);
        }
        need = V * E + L * layer + E + (shared ? 0 : V * E) + (version ? 0 : T * hs);
    }
    if (need > (SIZE_MAX - hdr) / 4 || f.n != hdr + need * 4) {
        unmap_file(&f);
        return llm__err(NULL, LLM_ERR_BAD_FILE,
                        "%s: %zu bytes, but the header (dim %zu, hidden %zu, layers %zu, vocab "
                        "%zu, seq_len %zu) needs %zu",
                        path, f.n, E, F, L, V, T, hdr + need * 4);
    }
    llm_model_config_init(&cfg, sizeof cfg);
    cfg.arch = LLM_ARCH_LLAMA;
    cfg.n_vocab = (uint32_t)V;
    cfg.n_ctx = (uint32_t)T;
    cfg.n_embd = (uint32_t)E;
    cfg.n_layer = (uint32_t)L;
    cfg.n_head = (uint32_t)h[3];
    cfg.n_head_kv = (uint32_t)h[4];
    cfg.n_ff = (uint32_t)F;
    cfg.norm_eps = 1e-5f;      /* run.c's rmsnorm */
    cfg.rope_base = 10000.0f;  /* run.c's RoPE */
    cfg.flags = shared ? 0 : LLM_CFG_UNTIED_OUTPUT;
    if ((rc = llm__model_alloc(&m, &cfg, opts)) != LLM_OK) {
        char msg[LLM__ERRMSG_MAX];
        snprintf(msg, sizeof msg, "%s", llm_last_errmsg());
        unmap_file(&f);
        return llm__err(NULL, rc, "%s: %s", path, msg); /* name the checkpoint */
    }
    p = b + hdr;
    if (version == 0) {
        l2c_take(m, &p, "token_embd.weight", 0);
        l2c_take(m, &p, "attn_norm.weight", 1);
        l2c_take(m, &p, "attn_q.weight", 1);
        l2c_take(m, &p, "attn_k.weight", 1);
        l2c_take(m, &p, "attn_v.weight", 1);
        l2c_take(m, &p, "attn_output.weight", 1);
        l2c_take(m, &p, "ffn_norm.weight", 1);
        l2c_take(m, &p, "ffn_gate.weight", 1);
        l2c_take(m, &p, "ffn_down.weight", 1);
        l2c_take(m, &p, "ffn_up.weight", 1);
        l2c_take(m, &p, "output_norm.weight", 0);
        p += T * hs * sizeof(float); /* freq_cis_real and _imag: (T, hs/2) each */
    } else {
        l2c_take(m, &p, "attn_norm.weight", 1);
        l2c_take(m, &p, "ffn_norm.weight", 1);
        l2c_take(m, &p, "output_norm.weight", 0);
        l2c_take(m, &p, "token_embd.weight", 0);
        l2c_take(m, &p, "attn_q.weight", 1);
        l2c_take(m, &p, "attn_k.weight", 1);
        l2c_take(m, &p, "attn_v.weight", 1);
        l2c_take(m, &p, "attn_output.weight", 1);
        l2c_take(m, &p, "ffn_gate.weight", 1);
        l2c_take(m, &p, "ffn_down.weight", 1);
        l2c_take(m, &p, "ffn_up.weight", 1);
    }
    if (!shared)
        l2c_take(m, &p, "output.weight", 0);
    unmap_file(&f);
    *out = m;
    return LLM_OK;
}

int llm_model_import(llm_model **out, const char *path, const llm_model_opts *opts_in) {
    llm_model_opts opts;
    struct stat sb;
    int rc;
    if (!out)
        return llm__err(NULL, LLM_ERR_INVALID, "llm_model_import: out is NULL");
    *out = NULL;
    if (!path)
        return llm__err(NULL, LLM_ERR_INVALID, "llm_model_import: path is NULL");
    if ((rc = llm__opts_read(NULL, &opts, sizeof opts, opts_in, "llm_model_opts")) != LLM_OK)
        return rc;
    if (stat(path, &sb) != 0)
        return llm__err(NULL, errno == ENOENT ? LLM_ERR_NOT_FOUND : LLM_ERR_IO,
                        "%s: cannot stat: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode))
        return import_hf(out, path, &opts);
    /* A single file: GGUF (re-read, e.g. to re-save as F32), else a
     * llama2.c checkpoint. */
    {
        unsigned char magic[4] = {0, 0, 0, 0};
        FILE *fp = fopen(path, "rb");
        size_t got = fp ? fread(magic, 1, 4, fp) : 0;
        if (fp)
            fclose(fp);
        if (got == 4 && memcmp(magic, "GGUF", 4) == 0)
            return llm_model_load(out, path, opts_in);
    }
    return import_llama2c(out, path, &opts);
}
