/*
 * blas_lock.c - one process-wide lock around calls into OpenBLAS that may
 * run concurrently.
 *
 * Why: Debian's serial OpenBLAS (libopenblas0-serial, which LlmBlas.cmake
 * links so that loading libllm starts no thread) is built without
 * USE_LOCKING, so its internal work-buffer allocator is not thread-safe:
 * two threads calling cblas_sgemm at once can receive the same packing
 * buffer and produce wrong results (reproduced with two threads running
 * random-size sgemms: dozens of wrong products per 40000 calls; the
 * threaded OpenBLAS build gives none). Contexts used from different
 * threads, and pool workers of one context, therefore take this lock
 * around every OpenBLAS call that may allocate a buffer.
 *
 * This is the only mutable process-wide state the lock adds; it is
 * initialised statically, so no setup call is needed.
 */
#include <pthread.h>

#include "llm_blas_lock.h"

static pthread_mutex_t g_blas_lock = PTHREAD_MUTEX_INITIALIZER;

void llm__blas_lock(void) { pthread_mutex_lock(&g_blas_lock); }

void llm__blas_unlock(void) { pthread_mutex_unlock(&g_blas_lock); }
