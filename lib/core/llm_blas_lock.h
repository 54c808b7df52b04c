/*
 * llm_blas_lock.h - the process-wide OpenBLAS lock (blas_lock.c): hold it
 * around cblas_* calls that can run concurrently with another thread's,
 * because the serial OpenBLAS build is not thread-safe.
 */
#ifndef LLM_BLAS_LOCK_H
#define LLM_BLAS_LOCK_H

#include "llm_core.h"

LLM_INTERNAL void llm__blas_lock(void);
LLM_INTERNAL void llm__blas_unlock(void);

#endif
