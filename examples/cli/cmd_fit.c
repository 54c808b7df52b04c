/*
 * cmd_fit.c - `libllm fit runs.csv`: fits the parametric scaling law
 * L(N, D) = E + A/N^alpha + B/D^beta to your own runs (Hoffmann et al.
 * 2022, Approach 3) and prints the fit and its compute-optimal frontier.
 *
 * CSV: a header line, then one run per line: N,D,loss (parameters,
 * training tokens, final loss in nats/token). Blank lines and lines
 * starting with '#' are skipped. A bad row is reported with its line
 * number.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f) {
    fputs("Usage: libllm fit RUNS.csv [--json] [--grid paper|coarse]\n"
          "\n"
          "Fit L(N, D) = E + A/N^alpha + B/D^beta to training runs as Hoffmann et\n"
          "al. 2022 did: Huber loss (delta 1e-3) on log-loss, L-BFGS from a grid of\n"
          "initialisations. RUNS.csv has a header line and rows N,D,loss (parameters,\n"
          "training tokens, final loss in nats/token); at least 5 rows.\n"
          "\n"
          "Options:\n"
          "  --json         one JSON object: E, A, B, alpha, beta, objective, converged,\n"
          "                 n_runs, and the frontier N_opt = G (C/6)^a, D_opt = (C/6)^b / G\n"
          "  --grid NAME    paper (default; 4500 starts) or coarse (108 starts)\n"
          "  -h, --help     show this help\n"
          "\n"
          "Exit status 1 when the file is bad or no start converged (the best fit\n"
          "found is still printed).\n",
          f);
}

/* Trims spaces and tabs in place; returns the start. */
static char *trim(char *s) {
    char *e;
    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        *--e = '\0';
    return s;
}

/* Splits "a,b,c" into exactly three fields; -1 otherwise. */
static int split3(char *s, char **f) {
    int n = 0;
    char *p = s;
    f[n++] = p;
    while ((p = strchr(p, ',')) != NULL) {
        if (n == 3)
            return -1;
        *p++ = '\0';
        f[n++] = p;
    }
    if (n != 3)
        return -1;
    f[0] = trim(f[0]);
    f[1] = trim(f[1]);
    f[2] = trim(f[2]);
    return 0;
}

typedef struct runs {
    double *n, *d, *l;
    size_t count, cap;
} runs;

static int push(runs *r, double n, double d, double l) {
    if (r->count == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 64;
        double *nn, *nd, *nl;
        /* each array is replaced as soon as it has grown, so a failure
         * leaves every pointer valid (and freed by runs_free) */
        if (!(nn = realloc(r->n, cap * sizeof *nn)))
            return -1;
        r->n = nn;
        if (!(nd = realloc(r->d, cap * sizeof *nd)))
            return -1;
        r->d = nd;
        if (!(nl = realloc(r->l, cap * sizeof *nl)))
            return -1;
        r->l = nl;
        r->cap = cap;
    }
    r->n[r->count] = n;
    r->d[r->count] = d;
    r->l[r->count] = l;
    r->count++;
    return 0;
}

static void runs_free(runs *r) {
    free(r->n);
    free(r->d);
    free(r->l);
}

/* Reads the CSV; on a bad line prints "path:line: ..." and returns CLI_FAIL. */
static int read_csv(const char *path, runs *r) {
    static const char *names[3] = {"N", "D", "loss"};
    FILE *f = fopen(path, "r");
    char *line = NULL, *fields[3];
    size_t cap = 0, lineno = 0;
    int header = 0, rc = CLI_OK, k;
    if (!f)
        return cli_error("fit: cannot open '%s': %s", path, strerror(errno));
    while (getline(&line, &cap, f) != -1) {
        char *s;
        double v[3];
        lineno++;
        s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        if (split3(s, fields) != 0) {
            rc = cli_error("fit: %s:%zu: expected 3 comma-separated fields N,D,loss", path,
                           lineno);
            break;
        }
        if (!header) { /* the header: any three names, not numbers */
            header = 1;
            if (cli_parse_double(fields[0], &v[0]) == 0) {
                rc = cli_error("fit: %s:%zu: expected a header line (e.g. N,D,loss) before "
                               "the data", path, lineno);
                break;
            }
            continue;
        }
        for (k = 0; k < 3; k++) {
            if (cli_parse_double(fields[k], &v[k]) != 0) {
                rc = cli_error("fit: %s:%zu: %s '%s' is not a number", path, lineno, names[k],
                               fields[k]);
                break;
            }
            if (!(v[k] > 0.0)) {
                rc = cli_error("fit: %s:%zu: %s = %g must be positive", path, lineno, names[k],
                               v[k]);
                break;
            }
        }
        if (rc != CLI_OK)
            break;
        if (push(r, v[0], v[1], v[2]) != 0) {
            rc = cli_error("fit: out of memory after %zu runs", r->count);
            break;
        }
    }
    if (rc == CLI_OK && ferror(f))
        rc = cli_error("fit: error reading '%s': %s", path, strerror(errno));
    if (rc == CLI_OK && !header)
        rc = cli_error("fit: %s: empty file (expected a header line and rows N,D,loss)", path);
    free(line);
    fclose(f);
    return rc;
}

int cmd_fit(int argc, char **argv) {
    const char *path = NULL;
    int json = 0, i, rc, status;
    runs r = {NULL, NULL, NULL, 0, 0};
    llm_fit_opts o;
    llm_fit_result fit;

    LLM_FIT_OPTS_INIT(&o);
    LLM_FIT_RESULT_INIT(&fit);
    for (i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return CLI_OK;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--grid") == 0) {
            if (i + 1 >= argc)
                return cli_usage_error("fit", "fit: --grid needs a value");
            i++;
            if (strcmp(argv[i], "paper") == 0)
                o.grid = LLM_FIT_GRID_PAPER;
            else if (strcmp(argv[i], "coarse") == 0)
                o.grid = LLM_FIT_GRID_COARSE;
            else
                return cli_usage_error("fit", "fit: --grid expects paper or coarse, got '%s'",
                                       argv[i]);
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return cli_usage_error("fit", "fit: unknown option '%s'", argv[i]);
        } else if (path) {
            return cli_usage_error("fit", "fit: expected one CSV file, got '%s' and '%s'", path,
                                   argv[i]);
        } else {
            path = argv[i];
        }
    }
    if (!path)
        return cli_usage_error("fit", "fit: missing the CSV file of runs");
    if ((rc = read_csv(path, &r)) != CLI_OK) {
        runs_free(&r);
        return rc;
    }
    status = llm_fit_scaling_law(&fit, r.n, r.d, r.l, r.count, &o);
    if (status != LLM_OK && status != LLM_ERR_NO_CONVERGENCE) {
        rc = cli_status_error(status, NULL, "fit: %s (%zu runs)", path, r.count);
        runs_free(&r);
        return rc;
    }
    if (json) {
        printf("{\"E\": %.17g, \"A\": %.17g, \"B\": %.17g, \"alpha\": %.17g, \"beta\": %.17g, "
               "\"objective\": %.17g, \"converged\": %s, \"n_runs\": %zu, \"starts\": %u, "
               "\"converged_starts\": %u, \"frontier\": {\"a\": %.17g, \"b\": %.17g, "
               "\"G\": %.17g}}\n",
               fit.E, fit.A, fit.B, fit.alpha, fit.beta, fit.objective,
               fit.converged ? "true" : "false", r.count, (unsigned)fit.n_starts,
               (unsigned)fit.n_converged, fit.frontier_a, fit.frontier_b, fit.frontier_G);
    } else {
        printf("runs:       %zu\n"
               "fit:        L(N, D) = %.4f + %.4g / N^%.4f + %.4g / D^%.4f\n"
               "objective:  %.6g (Huber, delta %g)\n"
               "converged:  %s (%u of %u starts)\n",
               r.count, fit.E, fit.A, fit.alpha, fit.B, fit.beta, fit.objective,
               o.huber_delta != 0.0 ? o.huber_delta : 1e-3, fit.converged ? "yes" : "no",
               (unsigned)fit.n_converged, (unsigned)fit.n_starts);
        if (fit.frontier_G > 0.0) {
            double c;
            printf("frontier:   N_opt = %.4g (C/6)^%.4f, D_opt = (C/6)^%.4f / %.4g\n",
                   fit.frontier_G, fit.frontier_a, fit.frontier_b, fit.frontier_G);
            printf("%12s %12s %12s %10s\n", "C (FLOPs)", "N_opt", "D_opt", "D/N");
            for (c = 1e18; c <= 1e24; c *= 100.0) {
                double n = fit.frontier_G * pow(c / 6.0, fit.frontier_a);
                double d = c / (6.0 * n);
                printf("%12.3g %12.4g %12.4g %10.2f\n", c, n, d, d / n);
            }
        }
        printf("use:        libllm plan --law %.17g,%.17g,%.17g,%.17g,%.17g --compute C\n",
               fit.E, fit.A, fit.B, fit.alpha, fit.beta);
    }
    runs_free(&r);
    if (status == LLM_ERR_NO_CONVERGENCE)
        return cli_status_error(status, NULL, "fit: %s", path);
    return CLI_OK;
}
