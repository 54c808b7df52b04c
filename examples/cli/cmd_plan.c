/*
 * cmd_plan.c - `libllm plan`: compute-optimal model size and token count
 * for a budget (Chinchilla's three approaches), the inverse questions,
 * the predicted loss, a concrete model shape, and wall-clock time.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f) {
    fputs("Usage: libllm plan (--compute C | --params N | --tokens D | --seconds S)\n"
          "                   [options]\n"
          "\n"
          "Compute-optimal training plan after Hoffmann et al. 2022 (Chinchilla):\n"
          "for a budget of C training FLOPs, the model size N and token count D with\n"
          "C = 6ND; or the budget for which N (or D) is optimal. The loss is always\n"
          "the parametric law L(N, D) = E + A/N^alpha + B/D^beta of Approach 3.\n"
          "\n"
          "Options:\n"
          "  --compute C            training budget in FLOPs (e.g. 1e21)\n"
          "  --params N             model size: the budget for which N is optimal\n"
          "  --tokens D             token count: the budget for which D is optimal\n"
          "  --seconds S            wall-clock time: the budget this machine computes in\n"
          "                         S seconds, C = 6 M R S (needs --tokens-per-second R\n"
          "                         and --measured-params M from a calibration run)\n"
          "  --approach 1|2|3       1 training-curve envelope, 2 IsoFLOP profiles,\n"
          "                         3 parametric loss (default 3)\n"
          "  --constants NAME       hoffmann2022 (default; as printed in the paper),\n"
          "                         hoffmann2022-unrounded, besiroglu2024\n"
          "  --law E,A,B,alpha,beta your own parametric law (e.g. from 'libllm fit')\n"
          "  --suggest-config       propose n_layer, n_embd, n_head for the plan's N\n"
          "  --arch gpt2|llama      architecture of the proposal (default gpt2 with\n"
          "                         GPT-2's vocabulary; llama: Llama-2's proportions)\n"
          "  --vocab V, --ctx T     vocabulary size and context of the proposal\n"
          "  --tokens-per-second R  measured training throughput: adds wall-clock time\n"
          "  --measured-params M    size of the model R was measured on (default: the\n"
          "                         plan's N); R is rescaled at constant FLOP/s\n"
          "  --json                 one JSON object: compute, params, tokens,\n"
          "                         tokens_per_param, loss (+ seconds, config)\n"
          "  -h, --help             show this help\n",
          f);
}

/* The options that take a value. */
static int takes_value(const char *a) {
    static const char *const names[] = {
        "--compute", "--params", "--tokens", "--seconds", "--approach", "--constants", "--law", "--arch",
        "--vocab", "--ctx", "--tokens-per-second", "--measured-params"};
    size_t i;
    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(a, names[i]) == 0)
            return 1;
    return 0;
}

static int parse_positive(const char *opt, const char *s, double *out) {
    if (cli_parse_double(s, out) != 0 || !(*out > 0.0))
        return cli_usage_error("plan", "plan: %s expects a positive number, got '%s'", opt, s);
    return CLI_OK;
}

static int parse_law(const char *s, llm_plan_constants *k) {
    double v[5];
    char buf[256], *p, *save = NULL;
    int i = 0;
    if (strlen(s) >= sizeof buf)
        return -1;
    strcpy(buf, s);
    for (p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        if (i == 5 || cli_parse_double(p, &v[i]) != 0 || !(v[i] > 0.0))
            return -1;
        i++;
    }
    if (i != 5)
        return -1;
    k->E = v[0];
    k->A = v[1];
    k->B = v[2];
    k->alpha = v[3];
    k->beta = v[4];
    k->preset = 0;
    return 0;
}

static void print_config(FILE *f, const llm_model_config *c, uint64_t n, int json) {
    llm_count k;
    LLM_COUNT_INIT(&k);
    if (llm_count_model(&k, c) != LLM_OK) /* cannot fail for a suggested config */
        memset(&k, 0, sizeof k);
    if (json) {
        fprintf(f,
                ", \"config\": {\"arch\": \"%s\", \"n_vocab\": %u, \"n_ctx\": %u, "
                "\"n_layer\": %u, \"n_embd\": %u, \"n_head\": %u, \"n_head_kv\": %u, "
                "\"n_ff\": %u, \"n_params\": %llu, \"n_params_non_embedding\": %llu, "
                "\"train_flops_per_token\": {\"6n\": %.17g, \"kaplan\": %.17g, "
                "\"chinchilla\": %.17g}}",
                c->arch == LLM_ARCH_LLAMA ? "llama" : "gpt2", (unsigned)c->n_vocab,
                (unsigned)c->n_ctx, (unsigned)c->n_layer, (unsigned)c->n_embd,
                (unsigned)c->n_head, (unsigned)c->n_head_kv, (unsigned)c->n_ff,
                (unsigned long long)n, (unsigned long long)k.n_params_non_embedding,
                k.flops_train_6n, k.flops_train_kaplan, k.flops_train_chinchilla);
    } else {
        fprintf(f,
                "config:            %s, n_layer %u, n_embd %u, n_head %u, n_head_kv %u, "
                "n_ff %u, n_vocab %u, n_ctx %u\n"
                "config params:     %llu (aspect ratio n_embd/n_layer %.1f)\n",
                c->arch == LLM_ARCH_LLAMA ? "llama" : "gpt2", (unsigned)c->n_layer,
                (unsigned)c->n_embd, (unsigned)c->n_head, (unsigned)c->n_head_kv,
                (unsigned)c->n_ff, (unsigned)c->n_vocab, (unsigned)c->n_ctx,
                (unsigned long long)n, (double)c->n_embd / c->n_layer);
        fprintf(f,
                "train FLOPs/token: 6N %.4g, Kaplan %.4g, Chinchilla App. F %.4g\n",
                k.flops_train_6n, k.flops_train_kaplan, k.flops_train_chinchilla);
    }
}

int cmd_plan(int argc, char **argv) {
    int json = 0, suggest = 0, i, rc, n_given = 0;
    int32_t approach = 3, arch = LLM_ARCH_GPT2;
    double compute = 0, params = 0, tokens = 0, tps = 0, measured = 0, seconds = 0;
    double vocab = 0, ctx = 0, budget_s = 0;
    const char *which = NULL;
    llm_plan_constants k;
    llm_plan plan;
    llm_model_config base, cfg;
    uint64_t cfg_params = 0;

    LLM_PLAN_CONSTANTS_INIT(&k);
    LLM_PLAN_INIT(&plan);
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (cli_is_help(a)) {
            usage(stdout);
            return CLI_OK;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
            continue;
        } else if (strcmp(a, "--suggest-config") == 0) {
            suggest = 1;
            continue;
        }
        if (a[0] != '-' || a[1] != '-')
            return cli_usage_error("plan", "plan: unexpected argument '%s'", a);
        if (!takes_value(a))
            return cli_usage_error("plan", "plan: unknown option '%s'", a);
        if (!v)
            return cli_usage_error("plan", "plan: %s needs a value", a);
        i++;
        if (strcmp(a, "--compute") == 0 || strcmp(a, "--params") == 0 ||
            strcmp(a, "--tokens") == 0 || strcmp(a, "--seconds") == 0) {
            double *dst = a[2] == 'c' ? &compute : a[2] == 'p' ? &params
                          : a[2] == 't' ? &tokens : &budget_s;
            if ((rc = parse_positive(a, v, dst)) != CLI_OK)
                return rc;
            which = a;
            n_given++;
        } else if (strcmp(a, "--approach") == 0) {
            if (strcmp(v, "1") != 0 && strcmp(v, "2") != 0 && strcmp(v, "3") != 0)
                return cli_usage_error("plan", "plan: --approach expects 1, 2 or 3, got '%s'", v);
            approach = v[0] - '0';
        } else if (strcmp(a, "--constants") == 0) {
            int32_t preset = strcmp(v, "hoffmann2022") == 0             ? LLM_CONSTANTS_HOFFMANN2022
                             : strcmp(v, "hoffmann2022-unrounded") == 0 ? LLM_CONSTANTS_HOFFMANN2022_UNROUNDED
                             : strcmp(v, "besiroglu2024") == 0          ? LLM_CONSTANTS_BESIROGLU2024
                                                                        : 0;
            if (!preset)
                return cli_usage_error("plan",
                                       "plan: --constants expects hoffmann2022, "
                                       "hoffmann2022-unrounded or besiroglu2024, got '%s'", v);
            if ((rc = llm_plan_constants_preset(&k, sizeof k, preset)) != LLM_OK)
                return cli_status_error(rc, NULL, "plan: constants");
        } else if (strcmp(a, "--law") == 0) {
            if (parse_law(v, &k) != 0)
                return cli_usage_error("plan",
                                       "plan: --law expects five positive numbers "
                                       "E,A,B,alpha,beta, got '%s'", v);
        } else if (strcmp(a, "--arch") == 0) {
            if (strcmp(v, "gpt2") == 0)
                arch = LLM_ARCH_GPT2;
            else if (strcmp(v, "llama") == 0)
                arch = LLM_ARCH_LLAMA;
            else
                return cli_usage_error("plan", "plan: --arch expects gpt2 or llama, got '%s'", v);
        } else if (strcmp(a, "--vocab") == 0 || strcmp(a, "--ctx") == 0) {
            unsigned long long u;
            if (cli_parse_u64(v, &u) != 0 || u == 0 || u > 2147483647ull)
                return cli_usage_error("plan", "plan: %s expects a positive integer, got '%s'",
                                       a, v);
            *(strcmp(a, "--vocab") == 0 ? &vocab : &ctx) = (double)u;
        } else if (strcmp(a, "--tokens-per-second") == 0) {
            if ((rc = parse_positive(a, v, &tps)) != CLI_OK)
                return rc;
        } else if (strcmp(a, "--measured-params") == 0) {
            if ((rc = parse_positive(a, v, &measured)) != CLI_OK)
                return rc;
        } else {
            return cli_usage_error("plan", "plan: unknown option '%s'", a);
        }
    }
    if (n_given != 1)
        return cli_usage_error("plan", "plan: give exactly one of --compute, --params, --tokens, "
                                       "--seconds");
    if (budget_s > 0 && (tps == 0 || measured == 0))
        return cli_usage_error("plan", "plan: --seconds needs --tokens-per-second and "
                                       "--measured-params (a calibration run's throughput "
                                       "and model size)");
    if (measured > 0 && tps == 0)
        return cli_usage_error("plan", "plan: --measured-params needs --tokens-per-second");
    if (!suggest && (vocab > 0 || ctx > 0))
        return cli_usage_error("plan", "plan: --vocab and --ctx need --suggest-config");

    if (strcmp(which, "--seconds") == 0) {
        rc = llm_plan_budget(&compute, budget_s, tps, measured);
        if (rc != LLM_OK)
            return cli_status_error(rc, NULL, "plan: budget for %g s", budget_s);
        which = "--compute";
    }
    if (strcmp(which, "--compute") == 0)
        rc = llm_plan_for_compute(&plan, &k, approach, compute);
    else if (strcmp(which, "--params") == 0)
        rc = llm_plan_for_params(&plan, &k, approach, params);
    else
        rc = llm_plan_for_tokens(&plan, &k, approach, tokens);
    if (rc != LLM_OK)
        return cli_status_error(rc, NULL, "plan");
    if (tps > 0) {
        rc = llm_plan_seconds(&seconds, plan.tokens, tps, plan.params, measured);
        if (rc != LLM_OK)
            return cli_status_error(rc, NULL, "plan: wall-clock time");
    }
    if (suggest) {
        LLM_MODEL_CONFIG_INIT(&base);
        if (arch == LLM_ARCH_LLAMA) {
            /* Llama-2-7B's proportions: n_ff/n_embd = 11008/4096 */
            base.arch = LLM_ARCH_LLAMA;
            base.n_vocab = 32000;
            base.n_ctx = 4096;
            base.n_embd = 4096;
            base.n_layer = 32;
            base.n_head = 32;
            base.n_head_kv = 32;
            base.n_ff = 11008;
            base.flags = LLM_CFG_UNTIED_OUTPUT;
        }
        if (vocab > 0)
            base.n_vocab = (uint32_t)vocab;
        if (ctx > 0)
            base.n_ctx = (uint32_t)ctx;
        LLM_MODEL_CONFIG_INIT(&cfg);
        rc = llm_plan_suggest_config(&cfg, &cfg_params, &base, plan.params);
        if (rc != LLM_OK)
            return cli_status_error(rc, NULL, "plan: suggesting a config for %.4g parameters",
                                    plan.params);
    }

    if (json) {
        printf("{\"compute\": %.17g, \"params\": %.17g, \"tokens\": %.17g, "
               "\"tokens_per_param\": %.17g, \"loss\": %.17g, \"approach\": %d",
               plan.compute, plan.params, plan.tokens, plan.tokens_per_param, plan.loss,
               (int)plan.approach);
        if (tps > 0)
            printf(", \"tokens_per_second\": %.17g, \"seconds\": %.17g", tps, seconds);
        if (suggest)
            print_config(stdout, &cfg, cfg_params, 1);
        printf("}\n");
    } else {
        printf("approach:          %d\n"
               "compute:           %.4g FLOPs\n"
               "params:            %.4g\n"
               "tokens:            %.4g\n"
               "tokens per param:  %.2f\n"
               "loss (Approach 3): %.4f nats/token\n",
               (int)plan.approach, plan.compute, plan.params, plan.tokens,
               plan.tokens_per_param, plan.loss);
        if (tps > 0)
            printf("wall-clock:        %.4g s (%.2f h, %.2f days) at %.4g tokens/s%s\n", seconds,
                   seconds / 3600.0, seconds / 86400.0,
                   measured > 0 ? tps * measured / plan.params : tps,
                   measured > 0 ? " (rescaled)" : "");
        if (suggest)
            print_config(stdout, &cfg, cfg_params, 0);
    }
    return CLI_OK;
}
