/* quickstart.c MODEL.gguf: load a model (with its tokenizer), generate a
 * continuation of a prompt, and print the model's perplexity on it. The
 * README's C quick start is this file. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <llm.h>

#define CHECK(call)                                                                \
    do {                                                                           \
        int rc_ = (call);                                                          \
        if (rc_ < 0) {                                                             \
            fprintf(stderr, "%s: %s: %s\n", #call, llm_status_str(rc_),            \
                    llm_last_errmsg());                                            \
            return 1;                                                              \
        }                                                                          \
    } while (0)

int main(int argc, char **argv) {
    llm_model *model = NULL;
    llm_ctx *ctx = NULL;
    llm_sampler *smpl = NULL;
    llm_ctx_opts co;
    llm_sampler_opts so;
    llm_gen_opts go;
    llm_gen_result res;
    const llm_tokenizer *tok;
    const char *prompt = "And God said";
    llm_token ids[256];
    char text[4096];
    size_t n_ids = 0, n_text = 0;
    double nll = 0.0;
    uint64_t n_pred = 0;
    if (argc < 2) {
        fprintf(stderr, "usage: quickstart MODEL.gguf\n");
        return 2;
    }
    CHECK(llm_abi_check(LLM_VERSION_NUMBER, sizeof(llm_model_opts)));
    CHECK(llm_model_load(&model, argv[1], NULL));   /* NULL opts: defaults */
    tok = llm_model_tokenizer(model);              /* borrowed from the model */
    if (!tok) {
        fprintf(stderr, "%s has no tokenizer\n", argv[1]);
        return 1;
    }

    LLM_CTX_OPTS_INIT(&co);
    co.n_threads = 2;                              /* 1 would start no thread */
    CHECK(llm_ctx_create(&ctx, model, &co));

    LLM_SAMPLER_OPTS_INIT(&so);
    so.n_vocab = (uint32_t)llm_tokenizer_n_vocab(tok);
    so.temperature = 0.8f;
    so.top_k = 40;
    so.seed = 42;
    CHECK(llm_sampler_create(&smpl, &so));

    LLM_GEN_OPTS_INIT(&go);
    go.max_tokens = 40;
    LLM_GEN_RESULT_INIT(&res);
    CHECK(llm_generate(ids, sizeof ids / sizeof ids[0], &n_ids, text, sizeof text - 1, &n_text,
                       &res, ctx, smpl, tok, prompt, strlen(prompt), &go));
    text[n_text] = '\0';
    printf("%s%s\n", prompt, text);

    /* Perplexity of the model on its own output: tokenize, then score. */
    CHECK(llm_ctx_reset(ctx));
    CHECK(llm_tokenizer_encode(ids, sizeof ids / sizeof ids[0], &n_ids, tok, text, n_text, 0));
    CHECK(llm_ctx_eval(&nll, &n_pred, ctx, ids, n_ids, 0, 0));
    if (n_pred)
        printf("%llu tokens, loss %.4f nats, perplexity %.2f\n", (unsigned long long)n_pred,
               nll / (double)n_pred, exp(nll / (double)n_pred));

    llm_sampler_free(smpl);
    llm_ctx_free(ctx);
    llm_model_free(model);
    return 0;
}
