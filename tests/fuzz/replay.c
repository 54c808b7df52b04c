/*
 * replay.c - runs a fuzz target without libFuzzer: on every seed file
 * given (files or directories), then on `-runs=N` deterministic mutations
 * of them (bit flips, byte sets, truncations, duplications, splices).
 * CTest uses it so every build, sanitized or not, exercises the parsers on
 * hostile input; clang builds with LLM_FUZZ=ON get real libFuzzer binaries.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input being run, written to ./replay-crash.bin when the target
 * aborts or a sanitizer reports (so a finding can be added to regress/). */
static const uint8_t *cur_data;
static size_t cur_size;

static void dump_input(void) {
    int fd = open("replay-crash.bin", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        if (cur_size && write(fd, cur_data, cur_size) < 0) {
            /* nothing to do in a dying process */
        }
        close(fd);
    }
}

static void on_signal(int sig) {
    static const char msg[] = "replay: input written to replay-crash.bin\n";
    dump_input();
    if (write(2, msg, sizeof msg - 1) < 0) {
        /* ignore */
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Weak: present only in sanitizer builds. */
void __sanitizer_set_death_callback(void (*cb)(void)) __attribute__((weak));

static void run_one(const uint8_t *data, size_t size) {
    cur_data = data;
    cur_size = size;
    LLVMFuzzerTestOneInput(data, size);
}

typedef struct blob {
    uint8_t *data;
    size_t size;
} blob;

static blob seeds[4096];
static size_t n_seeds;

static void add_file(const char *path) {
    FILE *f = fopen(path, "rb");
    blob b;
    long n;
    if (!f || n_seeds == sizeof seeds / sizeof seeds[0]) {
        if (f)
            fclose(f);
        return;
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b.size = n > 0 ? (size_t)n : 0;
    b.data = malloc(b.size + 1);
    if (b.data && fread(b.data, 1, b.size, f) == b.size)
        seeds[n_seeds++] = b;
    else
        free(b.data);
    fclose(f);
}

static void add_path(const char *path) {
    struct stat st;
    DIR *d;
    struct dirent *e;
    char sub[4096];
    if (stat(path, &st) != 0)
        return;
    if (!S_ISDIR(st.st_mode)) {
        add_file(path);
        return;
    }
    d = opendir(path);
    if (!d)
        return;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        add_path(sub);
    }
    closedir(d);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void) { /* splitmix64: fixed sequence, reproducible runs */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

int main(int argc, char **argv) {
    long runs = 0;
    long r;
    int i;
    uint8_t *buf;
    static const uint8_t interesting[] = {0x00, 0xff, 0x7f, 0x80, 0x01, '"', '\\', '{', '[', ']', '}'};
    for (i = 1; i < argc; i++) {
        if (strncmp(argv[i], "-runs=", 6) == 0)
            runs = atol(argv[i] + 6);
        else
            add_path(argv[i]);
    }
    signal(SIGABRT, on_signal);
    signal(SIGSEGV, on_signal);
    if (__sanitizer_set_death_callback)
        __sanitizer_set_death_callback(dump_input);
    if (n_seeds == 0) {
        fprintf(stderr, "replay: no seed files\n");
        return 1;
    }
    for (i = 0; i < (int)n_seeds; i++)
        run_one(seeds[i].data, seeds[i].size);
    buf = malloc(1 << 20);
    for (r = 0; r < runs; r++) {
        const blob *s = &seeds[rnd() % n_seeds];
        size_t n = s->size < (1 << 19) ? s->size : (1 << 19);
        int k, edits = 1 + (int)(rnd() % 4);
        memcpy(buf, s->data, n);
        for (k = 0; k < edits; k++) {
            size_t at = n ? rnd() % n : 0;
            switch (rnd() % 6) {
            case 0: if (n) buf[at] ^= (uint8_t)(1u << (rnd() % 8)); break;
            case 1: if (n) buf[at] = interesting[rnd() % sizeof interesting]; break;
            case 2: n = at; break; /* truncate */
            case 3: if (n) buf[at] = (uint8_t)rnd(); break;
            case 4: { /* duplicate a chunk */
                size_t len = n ? rnd() % (n - at + 1) : 0;
                if (n + len < (1 << 20)) {
                    memmove(buf + at + len, buf + at, n - at);
                    n += len;
                }
                break;
            }
            default: { /* splice the tail of another seed */
                const blob *o = &seeds[rnd() % n_seeds];
                size_t from = o->size ? rnd() % o->size : 0;
                size_t len = o->size - from;
                if (at + len < (1 << 20)) {
                    memcpy(buf + at, o->data + from, len);
                    n = at + len;
                }
            }
            }
        }
        run_one(buf, n);
    }
    free(buf);
    for (i = 0; i < (int)n_seeds; i++)
        free(seeds[i].data);
    printf("replay: %zu seeds, %ld mutations: no crash\n", n_seeds, runs);
    return 0;
}
