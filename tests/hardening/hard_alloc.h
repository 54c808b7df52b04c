/*
 * hard_alloc.h - a checking allocator for the fault-injection tests: an
 * llm_alloc_fn that counts allocations, fails the k-th one on request,
 * keeps the live byte count, and checks every osize the library reports
 * against the size it really allocated (a 16-byte header per block), so
 * a wrong size passed to a free or a realloc is caught too.
 * Thread-safe (atomics), so it can serve handles used from several threads.
 */
#ifndef LLM_HARD_ALLOC_H
#define LLM_HARD_ALLOC_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm.h"

typedef struct hard_alloc {
    atomic_long n_allocs;    /* allocations (and growing reallocs) so far */
    long fail_at;            /* fail the allocation with this 1-based index (0: never) */
    atomic_long failed;      /* allocations refused */
    atomic_llong live;       /* bytes currently allocated */
    atomic_long bad_size;    /* frees/reallocs whose osize was wrong */
} hard_alloc;

#define HARD_HDR 16

static inline void hard_reset(hard_alloc *a, long fail_at) {
    atomic_store(&a->n_allocs, 0);
    a->fail_at = fail_at;
    atomic_store(&a->failed, 0);
    atomic_store(&a->live, 0);
    atomic_store(&a->bad_size, 0);
}

static inline void *hard_fn(void *ud, void *ptr, size_t osize, size_t nsize) {
    hard_alloc *a = ud;
    unsigned char *raw = ptr ? (unsigned char *)ptr - HARD_HDR : NULL;
    size_t real = 0; /* the block's true size: live counts use it, so a
                        wrong osize is reported once, as bad_size */
    if (raw) {
        memcpy(&real, raw, sizeof real);
        if (real != osize)
            atomic_fetch_add(&a->bad_size, 1);
    }
    if (nsize == 0) {
        if (raw) {
            atomic_fetch_sub(&a->live, (long long)real);
            free(raw);
        }
        return NULL;
    }
    if (!ptr || nsize > osize) { /* an allocation that may fail */
        long k = atomic_fetch_add(&a->n_allocs, 1) + 1;
        if (a->fail_at && k == a->fail_at) {
            atomic_fetch_add(&a->failed, 1);
            return NULL;
        }
    }
    if (nsize > SIZE_MAX - HARD_HDR)
        return NULL;
    {
        unsigned char *n = realloc(raw, nsize + HARD_HDR);
        if (!n)
            return NULL;
        memcpy(n, &nsize, sizeof nsize);
        atomic_fetch_add(&a->live, (long long)nsize - (long long)real);
        return n + HARD_HDR;
    }
}

#endif
