/*
 * shared_value.h — multiprocessing.Value and multiprocessing.Array in C:
 * numbers in shared memory that every process forked after the open sees
 * and changes.
 *
 *   Python                               C
 *   v = Value('l', 0)                    ipc_value_open(&v, 'l', true)
 *   v = Value('d', 0.0, lock=False)      ipc_value_open(&v, 'd', false)
 *   a = Array('l', 10)                   ipc_array_open(&a, 'l', 10, true)
 *   x = v.value / v.value = 5            ipc_value_get(v, &x) / ipc_value_set(v, 5)
 *   with v.get_lock(): v.value += 1      ipc_value_add(v, 1, NULL)
 *   v.get_lock().acquire() / release()   ipc_value_lock(v) / ipc_value_unlock(v)
 *   a[3] / a[3] = 7                      ipc_array_get(a, 3, &x) / ipc_array_set(a, 3, 7)
 *
 * Type codes: 'l' (long, 64 bits) and 'd' (double); every element starts at 0.
 * The _d functions work on 'd' values, the others on 'l' ones; the wrong
 * kind answers IPC_EINVAL.
 *
 * A single get or set is atomic by itself (each element is one 64-bit
 * atomic cell).  What needs the lock is a read-modify-write: "v.value += 1"
 * is a load, an add and a store, and two processes doing it at once can both
 * load 41 and both store 42 — one increment lost.  That is the lesson of
 * ipc_value_add_racy; ipc_value_add on a value opened with lock=true wraps
 * the very same three steps in the lock; ipc_value_add_atomic shows the C11
 * answer Python does not have: one atomic fetch-and-add, no lock at all.
 *
 * The lock is recursive (Python's Value uses an RLock), so ipc_value_add
 * may be called while holding ipc_value_lock, and robust: if a process dies
 * holding it, the next ipc_value_lock returns 1 (locked, but the previous
 * holder died inside its critical section) instead of hanging forever.
 *
 * Errors: every function returns IPC_OK (or 1 as said) or a negative
 * IPC_E* code; NULL, a bad index or the wrong kind answer IPC_EINVAL; a
 * lock operation on a value opened with lock=false answers IPC_ENOTSUP.
 * After ipc_value_free the pointer must not be used, exactly like free().
 */
#ifndef IPCPLAY_SHARED_VALUE_H
#define IPCPLAY_SHARED_VALUE_H

#include "../ipc.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ipc_value ipc_value; /* a Value is an Array of one element */

/* Open n elements of `typecode` ('l' or 'd') in shared memory, all 0.
 * lock: give them a robust, recursive, process-shared lock (Python's
 * lock=True).  Inherited by fork(); ipc_value_free in each process. */
int    ipc_array_open(ipc_value **out, char typecode, size_t n, bool lock);
int    ipc_value_open(ipc_value **out, char typecode, bool lock);
/* Unmap this process's view.  NULL is a no-op. */
void   ipc_value_free(ipc_value *v);

size_t ipc_array_len(const ipc_value *v);   /* 0 if v is not a value       */
char   ipc_value_typecode(const ipc_value *v); /* 'l', 'd' or 0            */
bool   ipc_value_has_lock(const ipc_value *v);

/* get_lock(): hold the lock across several operations.  ipc_value_lock
 * returns IPC_OK, 1 (locked; the previous holder died holding it), or
 * IPC_ENOTSUP (opened with lock=false). */
int    ipc_value_lock(ipc_value *v);
int    ipc_value_unlock(ipc_value *v);

/* One element, one atomic load or store. */
int    ipc_array_get(ipc_value *a, size_t i, long *x);
int    ipc_array_set(ipc_value *a, size_t i, long x);
int    ipc_array_get_d(ipc_value *a, size_t i, double *x);
int    ipc_array_set_d(ipc_value *a, size_t i, double x);

/* a[i] += delta.  With a lock: under it, exact.  Without: the racy
 * load/add/store, exactly like Python's Value(lock=False).value += 1.
 * *result (may be NULL) gets the value this call stored. */
int    ipc_array_add(ipc_value *a, size_t i, long delta, long *result);
int    ipc_array_add_d(ipc_value *a, size_t i, double delta, double *result);
/* a[i] += delta as three separate steps and never locked, whatever the
 * value was opened with: the lost-update race, on purpose, for the demo. */
int    ipc_array_add_racy(ipc_value *a, size_t i, long delta);
/* a[i] += delta as one atomic read-modify-write ('l' only): exact, no lock. */
int    ipc_array_add_atomic(ipc_value *a, size_t i, long delta, long *result);

/* The Value spelling: element 0. */
static inline int ipc_value_get(ipc_value *v, long *x) { return ipc_array_get(v, 0, x); }
static inline int ipc_value_set(ipc_value *v, long x) { return ipc_array_set(v, 0, x); }
static inline int ipc_value_get_d(ipc_value *v, double *x) { return ipc_array_get_d(v, 0, x); }
static inline int ipc_value_set_d(ipc_value *v, double x) { return ipc_array_set_d(v, 0, x); }
static inline int ipc_value_add(ipc_value *v, long delta, long *result)
{
    return ipc_array_add(v, 0, delta, result);
}
static inline int ipc_value_add_d(ipc_value *v, double delta, double *result)
{
    return ipc_array_add_d(v, 0, delta, result);
}
static inline int ipc_value_add_racy(ipc_value *v, long delta) { return ipc_array_add_racy(v, 0, delta); }
static inline int ipc_value_add_atomic(ipc_value *v, long delta, long *result)
{
    return ipc_array_add_atomic(v, 0, delta, result);
}

#ifdef __cplusplus
}
#endif
#endif /* IPCPLAY_SHARED_VALUE_H */
