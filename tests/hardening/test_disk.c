/*
 * test_disk.c - disk faults during saves (issue 9). llm.h promises that
 * llm_model_save, llm_tokenizer_save and llm_trainer_save write a
 * temporary file, sync it and rename it over the destination, so the
 * destination always holds the previous or the new complete file.
 * Checked here:
 *   - full disk: RLIMIT_FSIZE makes write() fail with EFBIG part-way
 *     (works without privileges), and, when running as root and mount(2)
 *     is permitted, a 64 KiB tmpfs that fills up (ENOSPC): the save
 *     returns LLM_ERR_IO naming the file, the previous file is intact and
 *     no temporary file is left behind;
 *   - read-only location: a read-only tmpfs remount as root, or a 0555
 *     directory otherwise: LLM_ERR_IO, previous file intact;
 *   - SIGKILL at random points of a save loop (fork, kill, repeat): the
 *     destination is always byte-identical to one of the two complete
 *     files the loop alternates between.
 * Oracle: the bytes of files saved without faults.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "llm.h"

static char tmpdir[256];
static llm_model *small, *big;    /* two different models */
static llm_tokenizer *tok_a, *tok_b; /* trained tokenizers of two sizes */
static llm_trainer *tr_a;         /* a trainer on its own model */
static llm_model *tr_model;

/* ---- helpers ---- */

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
    if (fread(b, 1, (size_t)sz, f) != (size_t)sz) {
        fclose(f);
        free(b);
        return NULL;
    }
    fclose(f);
    *n = (size_t)sz;
    return b;
}

static int same_file(const char *a, const char *b) {
    size_t na = 0, nb = 0;
    char *x = slurp(a, &na), *y = slurp(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

/* Number of directory entries other than . and .. */
static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!d)
        return -1;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static llm_model *make_model(uint32_t n_layer, uint32_t n_embd) {
    llm_model_config c;
    llm_model *m = NULL;
    LLM_MODEL_CONFIG_INIT(&c);
    c.arch = LLM_ARCH_LLAMA;
    c.n_vocab = 64;
    c.n_ctx = 16;
    c.n_embd = n_embd;
    c.n_layer = n_layer;
    c.n_head = 2;
    c.n_head_kv = 2;
    c.n_ff = 2 * n_embd;
    assert_int_equal(llm_model_create(&m, &c, n_layer, NULL), LLM_OK);
    return m;
}

/* The kinds of save under test. which: 0 = the small/first object,
 * 1 = the big/second one (a different file). */
enum { K_MODEL, K_TOK_GGUF, K_CKPT, N_KINDS };
static const char *kind_name[N_KINDS] = {"model", "tokenizer (GGUF)", "checkpoint"};

static int do_save(int kind, int which, const char *path) {
    switch (kind) {
    case K_MODEL:
        return llm_model_save(which ? big : small, path);
    case K_TOK_GGUF:
        /* second file: the model with the tokenizer attached is another GGUF
         * with tokenizer keys, so use the model save of `big` for variety */
        return which ? llm_model_save(big, path) : llm_tokenizer_save(tok_a, path,
                                                                       LLM_TOK_FORMAT_GGUF);
    default:
        /* second file: a checkpoint of another trainer state would need a
         * step between saves; any other complete GGUF serves as "B" */
        if (which)
            return llm_model_save(big, path);
        return llm_trainer_save(tr_a, path);
    }
}

/* ---- full disk via RLIMIT_FSIZE ---- */

static void check_fault(int kind, const char *dir, const char *what) {
    char path[400], ref[400];
    int before, rc;
    snprintf(path, sizeof path, "%s/out.gguf", dir);
    snprintf(ref, sizeof ref, "%s/ref-%d.gguf", tmpdir, kind);
    assert_true(same_file(path, ref));
    before = count_entries(dir);
    rc = do_save(kind, 1, path);
    if (rc != LLM_ERR_IO)
        fail_msg("%s, %s: status %d (%s), want LLM_ERR_IO", kind_name[kind], what, rc,
                 llm_last_errmsg());
    assert_non_null(strstr(llm_last_errmsg(), dir)); /* the message names the file */
    assert_true(same_file(path, ref));               /* the old file survived */
    assert_int_equal(count_entries(dir), before);    /* no temporary file left */
}

static void test_fsize_limit(void **state) {
    char dir[320], path[400], ref[400];
    int kind;
    (void)state;
    snprintf(dir, sizeof dir, "%s/fsize", tmpdir);
    mkdir(dir, 0700);
    signal(SIGXFSZ, SIG_IGN);
    for (kind = 0; kind < N_KINDS; kind++) {
        struct rlimit old, lim;
        size_t n = 0;
        char *b;
        snprintf(path, sizeof path, "%s/out.gguf", dir);
        snprintf(ref, sizeof ref, "%s/ref-%d.gguf", tmpdir, kind);
        assert_int_equal(do_save(kind, 0, ref), LLM_OK);
        assert_int_equal(do_save(kind, 0, path), LLM_OK);
        b = slurp(ref, &n);
        free(b);
        getrlimit(RLIMIT_FSIZE, &old);
        lim = old;
        lim.rlim_cur = (rlim_t)(n / 2 > 4096 ? n / 2 : 4096); /* the new file is larger */
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
        check_fault(kind, dir, "RLIMIT_FSIZE");
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
        printf("%s: save beyond RLIMIT_FSIZE fails cleanly, old file intact\n",
               kind_name[kind]);
    }
    signal(SIGXFSZ, SIG_DFL);
}

/* The Hugging Face form is a directory of files, each replaced atomically:
 * a save that fails part-way leaves every old file intact. */
static void test_fsize_limit_hf_dir(void **state) {
    static const char *names[2] = {"vocab.json", "merges.txt"};
    char dir[320], ref[320], a[400], b[400];
    struct rlimit old, lim;
    int i, rc;
    (void)state;
    snprintf(dir, sizeof dir, "%s/hf", tmpdir);
    snprintf(ref, sizeof ref, "%s/hf-ref", tmpdir);
    assert_int_equal(llm_tokenizer_save(tok_a, ref, LLM_TOK_FORMAT_HF), LLM_OK);
    assert_int_equal(llm_tokenizer_save(tok_a, dir, LLM_TOK_FORMAT_HF), LLM_OK);
    signal(SIGXFSZ, SIG_IGN);
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 1024; /* smaller than the new vocab.json */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    rc = llm_tokenizer_save(tok_b, dir, LLM_TOK_FORMAT_HF);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, SIG_DFL);
    assert_int_equal(rc, LLM_ERR_IO);
    for (i = 0; i < 2; i++) {
        snprintf(a, sizeof a, "%s/%s", dir, names[i]);
        snprintf(b, sizeof b, "%s/%s", ref, names[i]);
        assert_true(same_file(a, b));
    }
    assert_int_equal(count_entries(dir), count_entries(ref));
    printf("tokenizer (HF directory): save beyond RLIMIT_FSIZE fails cleanly, old files "
           "intact\n");
}

/* ---- tmpfs (root): full and read-only ---- */

static void test_tmpfs(void **state) {
    char dir[320], path[400], ref[400];
    int kind;
    (void)state;
    snprintf(dir, sizeof dir, "%s/tmpfs", tmpdir);
    mkdir(dir, 0700);
    if (geteuid() != 0) {
        printf("tmpfs: not root: skipped (the read-only directory test runs instead)\n");
        skip();
    }
    if (mount("llmtest", dir, "tmpfs", 0, "size=64k") != 0) {
        printf("tmpfs: mount not permitted (%s): skipped\n", strerror(errno));
        skip();
    }
    for (kind = 0; kind < N_KINDS; kind++) {
        snprintf(path, sizeof path, "%s/out.gguf", dir);
        snprintf(ref, sizeof ref, "%s/ref-%d.gguf", tmpdir, kind);
        assert_int_equal(do_save(kind, 0, ref), LLM_OK);
        assert_int_equal(do_save(kind, 0, path), LLM_OK);
        /* full: the big file does not fit in what is left of 64 KiB */
        check_fault(kind, dir, "full tmpfs");
        /* read-only */
        assert_int_equal(mount(NULL, dir, NULL, MS_REMOUNT | MS_RDONLY, NULL), 0);
        check_fault(kind, dir, "read-only tmpfs");
        assert_int_equal(mount(NULL, dir, NULL, MS_REMOUNT, "size=64k"), 0);
        unlink(path);
        printf("%s: full and read-only tmpfs fail cleanly, old file intact\n",
               kind_name[kind]);
    }
    umount(dir);
}

static void test_readonly_dir(void **state) {
    char dir[320], path[400], ref[400];
    int kind;
    (void)state;
    if (geteuid() == 0) {
        printf("read-only directory: root ignores permissions (covered by tmpfs): skipped\n");
        skip();
    }
    snprintf(dir, sizeof dir, "%s/ro", tmpdir);
    mkdir(dir, 0700);
    for (kind = 0; kind < N_KINDS; kind++) {
        snprintf(path, sizeof path, "%s/out.gguf", dir);
        snprintf(ref, sizeof ref, "%s/ref-%d.gguf", tmpdir, kind);
        chmod(dir, 0700);
        assert_int_equal(do_save(kind, 0, ref), LLM_OK);
        assert_int_equal(do_save(kind, 0, path), LLM_OK);
        chmod(dir, 0555);
        check_fault(kind, dir, "read-only directory");
        chmod(dir, 0700);
    }
}

/* ---- SIGKILL during saves ---- */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void test_sigkill(void **state) {
    char dir[320], path[400], ref0[400], ref1[400];
    int kind;
    unsigned seed = 12345;
    (void)state;
    snprintf(dir, sizeof dir, "%s/kill", tmpdir);
    mkdir(dir, 0700);
    for (kind = 0; kind < N_KINDS; kind++) {
        double t0, per_save;
        int it, n_old = 0, n_new = 0, i;
        snprintf(path, sizeof path, "%s/out.gguf", dir);
        snprintf(ref0, sizeof ref0, "%s/kref0-%d.gguf", tmpdir, kind);
        snprintf(ref1, sizeof ref1, "%s/kref1-%d.gguf", tmpdir, kind);
        assert_int_equal(do_save(kind, 0, ref0), LLM_OK);
        assert_int_equal(do_save(kind, 1, ref1), LLM_OK);
        /* saves are deterministic: the same object gives the same bytes */
        assert_int_equal(do_save(kind, 0, path), LLM_OK);
        assert_true(same_file(path, ref0));
        t0 = now();
        for (i = 0; i < 4; i++)
            assert_int_equal(do_save(kind, i & 1, path), LLM_OK);
        per_save = (now() - t0) / 4;
        for (it = 0; it < 40; it++) {
            pid_t pid;
            int status;
            long delay;
            struct timespec ts;
            assert_int_equal(do_save(kind, it & 1, path), LLM_OK);
            pid = fork();
            assert_true(pid >= 0);
            if (pid == 0) {
                int w = 0;
                for (;;)
                    (void)do_save(kind, (w++ + it) & 1, path);
            }
            seed = seed * 1103515245u + 12345u;
            delay = (long)(per_save * 1e9 * 3 * ((seed >> 8) % 1000) / 1000.0); /* ns */
            ts.tv_sec = delay / 1000000000L;
            ts.tv_nsec = delay % 1000000000L;
            nanosleep(&ts, NULL);
            kill(pid, SIGKILL);
            assert_int_equal(waitpid(pid, &status, 0), pid);
            if (same_file(path, ref0))
                n_old++;
            else if (same_file(path, ref1))
                n_new++;
            else
                fail_msg("%s: iteration %d (killed after %ld ns): the destination is neither "
                         "complete file", kind_name[kind], it, delay);
        }
        printf("%s: 40 SIGKILLs during saves (%.2f ms each): file A %d times, file B %d "
               "times, never partial\n",
               kind_name[kind], per_save * 1e3, n_old, n_new);
    }
}

static int setup(void **state) {
    char corpus[400];
    const char *files[1];
    llm_tokenizer_train_opts to;
    llm_trainer_opts o;
    FILE *f;
    int i;
    (void)state;
    small = make_model(1, 16);
    big = make_model(3, 32);
    snprintf(corpus, sizeof corpus, "%s/corpus.txt", tmpdir);
    f = fopen(corpus, "w");
    for (i = 0; i < 30; i++)
        fputs("In the beginning God created the heaven and the earth. ", f);
    fclose(f);
    files[0] = corpus;
    LLM_TOKENIZER_TRAIN_OPTS_INIT(&to);
    to.vocab_size = 300;
    to.min_frequency = 1;
    assert_int_equal(llm_tokenizer_train(&tok_a, files, 1, &to), LLM_OK);
    to.vocab_size = 400;
    assert_int_equal(llm_tokenizer_train(&tok_b, files, 1, &to), LLM_OK);
    tr_model = make_model(1, 16);
    LLM_TRAINER_OPTS_INIT(&o);
    o.batch = 1;
    o.seq_len = 4;
    assert_int_equal(llm_trainer_create(&tr_a, tr_model, &o), LLM_OK);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    llm_trainer_free(tr_a);
    llm_model_free(tr_model);
    llm_tokenizer_free(tok_a);
    llm_tokenizer_free(tok_b);
    llm_model_free(small);
    llm_model_free(big);
    return 0;
}

int main(int argc, char **argv) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fsize_limit),
        cmocka_unit_test(test_fsize_limit_hf_dir),
        cmocka_unit_test(test_tmpfs),
        cmocka_unit_test(test_readonly_dir),
        cmocka_unit_test(test_sigkill),
    };
    int rc;
    char cmd[600];
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/llm-disk.XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    rc = cmocka_run_group_tests(tests, setup, teardown);
    snprintf(cmd, sizeof cmd, "umount '%s/tmpfs' 2>/dev/null; rm -rf '%s'", tmpdir, tmpdir);
    if (system(cmd) != 0)
        rc = rc ? rc : 1;
    return rc;
}
