/*
 * make_seeds.c - writes the fuzz seeds that the library itself makes:
 * GGUF models (gpt2 with an embedded trained tokenizer, llama with GQA and
 * an untied output), a trained byte-level BPE tokenizer as a GGUF file and
 * as a Hugging Face directory (joined with FUZZ_SEP into one input), a
 * SentencePiece tokenizer re-saved as GGUF (from seeds/tok_bin/spm.bin,
 * which make_seeds.py writes), and a training checkpoint of fuzz_ckpt.h's
 * trainer. Usage: fuzz_make_seeds <tests/fuzz/seeds dir>. The files are
 * committed; rerun after a format change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_ckpt.h"
#include "fuzz_common.h"

static const char *seeds;

static void ok(int rc, const char *what) {
    if (rc != LLM_OK) {
        fprintf(stderr, "%s: %s (%s)\n", what, llm_status_str(rc), llm_last_errmsg());
        exit(1);
    }
}

static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    char *b;
    long sz;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    b = malloc((size_t)sz + 1);
    if (fread(b, 1, (size_t)sz, f) != (size_t)sz)
        exit(1);
    fclose(f);
    *n = (size_t)sz;
    return b;
}

static const char *out(char *buf, const char *dir, const char *name) {
    snprintf(buf, 1024, "%s/%s", seeds, dir);
    mkdir(buf, 0755);
    snprintf(buf, 1024, "%s/%s/%s", seeds, dir, name);
    return buf;
}

int main(int argc, char **argv) {
    static const char text[] =
        "In the beginning God created the heaven and the earth. And the earth was without "
        "form, and void; and darkness was upon the face of the deep. And God said, Let there "
        "be light: and there was light. 1234 caf\xc3\xa9 <|endoftext|>\n";
    char p[1024], corpus[600], hf[600];
    const char *files[1];
    llm_tokenizer_train_opts to;
    llm_tokenizer *tok = NULL, *spm = NULL;
    llm_model_config c;
    llm_model *m = NULL;
    llm_trainer *tr = NULL;
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_make_seeds SEEDS_DIR\n");
        return 2;
    }
    seeds = argv[1];
    files[0] = fuzz_write(corpus, sizeof corpus, "corpus.txt", text, sizeof text - 1);
    LLM_TOKENIZER_TRAIN_OPTS_INIT(&to);
    to.vocab_size = 300;
    to.min_frequency = 1;
    ok(llm_tokenizer_train(&tok, files, 1, &to), "train");
    ok(llm_tokenizer_save(tok, out(p, "tok_gguf", "bpe.gguf"), LLM_TOK_FORMAT_GGUF), "save gguf");
    /* HF directory, joined: vocab.json SEP merges.txt SEP tokenizer_config.json */
    fuzz_path(hf, sizeof hf, "hf");
    ok(llm_tokenizer_save(tok, hf, LLM_TOK_FORMAT_HF), "save hf");
    {
        static const char *names[3] = {"vocab.json", "merges.txt", "tokenizer_config.json"};
        FILE *f = fopen(out(p, "tok_hfdir", "bpe.txt"), "wb");
        int i;
        for (i = 0; i < 3; i++) {
            char q[700];
            size_t n = 0;
            char *b;
            snprintf(q, sizeof q, "%s/%s", hf, names[i]);
            b = slurp(q, &n);
            if (!b)
                continue;
            if (i)
                fputs(FUZZ_SEP, f);
            fwrite(b, 1, n, f);
            free(b);
        }
        fclose(f);
    }
    /* gpt2 model with the tokenizer embedded */
    LLM_MODEL_CONFIG_INIT(&c);
    c.arch = LLM_ARCH_GPT2;
    c.n_vocab = (uint32_t)llm_tokenizer_n_vocab(tok);
    c.n_ctx = 16;
    c.n_embd = 8;
    c.n_layer = 1;
    c.n_head = 2;
    c.n_head_kv = 2;
    c.n_ff = 32;
    ok(llm_model_create(&m, &c, 1, NULL), "create gpt2");
    ok(llm_model_set_tokenizer(m, tok), "set tokenizer");
    ok(llm_model_save(m, out(p, "model", "gpt2_tok.gguf")), "save gpt2");
    llm_model_free(m);
    /* llama, GQA, untied output, q/k/v bias */
    LLM_MODEL_CONFIG_INIT(&c);
    c.arch = LLM_ARCH_LLAMA;
    c.n_vocab = 16;
    c.n_ctx = 8;
    c.n_embd = 8;
    c.n_layer = 2;
    c.n_head = 2;
    c.n_head_kv = 1;
    c.n_ff = 12;
    c.flags = LLM_CFG_UNTIED_OUTPUT | LLM_CFG_QKV_BIAS;
    ok(llm_model_create(&m, &c, 2, NULL), "create llama");
    ok(llm_model_save(m, out(p, "model", "llama_gqa.gguf")), "save llama");
    llm_model_free(m);
    /* SentencePiece tokenizer (from make_seeds.py's tokenizer.bin) as GGUF,
     * and in a llama model */
    snprintf(p, sizeof p, "%s/tok_bin/spm.bin", seeds);
    if (llm_tokenizer_load(&spm, p, NULL) == LLM_OK) {
        ok(llm_tokenizer_save(spm, out(p, "tok_gguf", "spm.gguf"), LLM_TOK_FORMAT_GGUF),
           "save spm gguf");
        c.n_vocab = (uint32_t)llm_tokenizer_n_vocab(spm);
        c.n_layer = 1;
        c.flags = 0;
        ok(llm_model_create(&m, &c, 3, NULL), "create llama spm");
        ok(llm_model_set_tokenizer(m, spm), "set spm");
        ok(llm_model_save(m, out(p, "model", "llama_spm.gguf")), "save llama spm");
        llm_model_free(m);
    } else {
        fprintf(stderr, "note: %s missing, run make_seeds.py first\n", p);
    }
    /* checkpoint after one step */
    ok(fuzz_ckpt_make(&m, &tr), "ckpt trainer");
    {
        llm_token in[4] = {1, 2, 3, 4}, tg[4] = {2, 3, 4, 5};
        ok(llm_trainer_step(NULL, tr, in, tg, 4), "step");
    }
    ok(llm_trainer_save(tr, out(p, "checkpoint", "ckpt.gguf")), "save ckpt");
    llm_trainer_free(tr);
    llm_model_free(m);
    return 0;
}
