/*
 * shared_value.c — multiprocessing.Value and Array: numbers in one
 * MAP_SHARED|MAP_ANONYMOUS mapping that fork() hands to every child (the
 * pages are shared, not copied on write), plus an optional lock.
 *
 * The mapping holds a small header, the lock, and the elements, each one
 * 64-bit atomic cell ('d' values keep the bits of their double there).  The
 * handle IS the mapping: after fork the child's pointer is the same address
 * in its own copy of the address space, mapped to the same pages.
 *
 * The lock is a pthread mutex with three attributes:
 *   PTHREAD_PROCESS_SHARED  it lives in memory shared by processes;
 *   PTHREAD_MUTEX_ROBUST    a holder killed with it locked does not hang
 *                           everyone else (the next locker gets EOWNERDEAD);
 *   PTHREAD_MUTEX_RECURSIVE like Python's RLock, so "add" works inside a
 *                           section already holding get_lock().
 *
 * What a dead process can and cannot break: no condition variable and no
 * waiter list live here, only the robust mutex and 64-bit cells.  A holder
 * killed inside its section leaves every cell at its old or new value (one
 * atomic store each); the next locker gets the lock back and is told
 * (ipc_value_lock returns 1) that a multi-cell update may be half done —
 * only the program knows its own invariant, so we keep the robust mutex and
 * report the death instead of hiding it (test_shm kills a lock holder).
 */
#define _GNU_SOURCE
#include "shm/shared_value.h"
#include "../ipc_internal.h"

#include <string.h>

_Static_assert(sizeof(long) == 8 && sizeof(double) == 8 && ATOMIC_LONG_LOCK_FREE == 2,
               "an element is one lock-free 64-bit atomic cell");

#define VALUE_MAGIC 0x56414c31u /* "VAL1" */

struct ipc_value {
    uint32_t        magic;
    char            typecode;   /* 'l' or 'd'                              */
    bool            has_lock;
    size_t          n;          /* elements                                */
    size_t          mapped;     /* bytes, for munmap                       */
    pthread_mutex_t lock;       /* used only if has_lock                   */
    atomic_long     cell[];     /* n elements; a double is kept as its bits */
};

static long bits_of(double d) { long b; memcpy(&b, &d, sizeof b); return b; }
static double double_of(long b) { double d; memcpy(&d, &b, sizeof d); return d; }

static int mutex_init(pthread_mutex_t *m)
{
    pthread_mutexattr_t a;
    int err = pthread_mutexattr_init(&a);
    if (err) goto fail;
    err = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    if (!err) err = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (!err) err = pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    if (!err) err = pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
    if (!err) return IPC_OK;
fail: /* pthread calls return the error number; errno is ours to set */
    errno = err;
    return ipc__fail(IPC_ESYS, "value: pthread_mutex_init (shared, robust, recursive)");
}

int ipc_array_open(ipc_value **out, char typecode, size_t n, bool lock)
{
    if (!out) return ipc__fail(IPC_EINVAL, "value: out is NULL");
    *out = NULL;
    if (typecode != 'l' && typecode != 'd')
        return ipc__fail(IPC_EINVAL, "value: typecode '%c' is not 'l' (long) or 'd' (double)", typecode);
    if (n == 0 || n > ((size_t)1 << 27))
        return ipc__fail(IPC_EINVAL, "value: %zu elements (1 .. 2^27)", n);
    size_t size = sizeof(ipc_value) + n * sizeof(atomic_long);
    ipc_value *v = ipc__shared_alloc(size); /* zeroed: every element starts at 0 (0.0 too) */
    if (!v) return IPC_ESYS;
    v->typecode = typecode;
    v->has_lock = lock;
    v->n = n;
    v->mapped = size;
    if (lock) {
        int rc = mutex_init(&v->lock);
        if (rc != IPC_OK) {
            ipc__shared_free(v, size);
            return rc;
        }
    }
    v->magic = VALUE_MAGIC;
    *out = v;
    return IPC_OK;
}

int ipc_value_open(ipc_value **out, char typecode, bool lock)
{
    return ipc_array_open(out, typecode, 1, lock);
}

void ipc_value_free(ipc_value *v)
{
    if (!v || v->magic != VALUE_MAGIC) return;
    /* No pthread_mutex_destroy: other processes may still hold the pages. */
    ipc__shared_free(v, v->mapped);
}

static bool valid(const ipc_value *v) { return v && v->magic == VALUE_MAGIC; }

/* The queries answer 0/false on a bad handle, with a message (ipc.h). */
static bool valid_or_say(const ipc_value *v, const char *what)
{
    if (valid(v)) return true;
    ipc__fail(IPC_EINVAL, "%s: not an open value or array", what);
    return false;
}
size_t ipc_array_len(const ipc_value *v) { return valid_or_say(v, "ipc_array_len") ? v->n : 0; }
char ipc_value_typecode(const ipc_value *v) { return valid_or_say(v, "ipc_value_typecode") ? v->typecode : 0; }
bool ipc_value_has_lock(const ipc_value *v) { return valid_or_say(v, "ipc_value_has_lock") && v->has_lock; }

/* Element i of a value of kind `type`, or NULL after saying why. */
static atomic_long *element(ipc_value *v, size_t i, char type)
{
    if (!valid(v)) return ipc__fail(IPC_EINVAL, "value: not an open value"), NULL;
    if (i >= v->n) return ipc__fail(IPC_EINVAL, "value: index %zu out of range (%zu elements)", i, v->n), NULL;
    if (v->typecode != type)
        return ipc__fail(IPC_EINVAL, "value: a '%c' value used as '%c' (use the %s functions)",
                         v->typecode, type, v->typecode == 'd' ? "_d" : "plain"), NULL;
    return &v->cell[i];
}

/* ---- the lock ---------------------------------------------------------- */

int ipc_value_lock(ipc_value *v)
{
    if (!valid(v)) return ipc__fail(IPC_EINVAL, "value: not an open value");
    if (!v->has_lock) return ipc__fail(IPC_ENOTSUP, "value: opened with lock=false");
    bool died = false;
    int rc = ipc__lock(&v->lock, &ipc__forever, &died);
    if (rc < 0) return rc;
    return died ? 1 : IPC_OK;
}

int ipc_value_unlock(ipc_value *v)
{
    if (!valid(v)) return ipc__fail(IPC_EINVAL, "value: not an open value");
    if (!v->has_lock) return ipc__fail(IPC_ENOTSUP, "value: opened with lock=false");
    int err = pthread_mutex_unlock(&v->lock);
    if (err) { /* EPERM: this thread does not hold it */
        errno = err;
        return ipc__fail(IPC_ESYS, "value: pthread_mutex_unlock");
    }
    return IPC_OK;
}

/* ---- single loads and stores ------------------------------------------- */

/* SEQ_CST for the plain get/set: the least surprising order for a student
 * who uses a shared value as a flag next to other shared data. */
static int get_bits(ipc_value *v, size_t i, char type, long *x)
{
    atomic_long *c = element(v, i, type);
    if (!c) return IPC_EINVAL;
    if (!x) return ipc__fail(IPC_EINVAL, "value: x is NULL");
    *x = atomic_load(c);
    return IPC_OK;
}

static int set_bits(ipc_value *v, size_t i, char type, long x)
{
    atomic_long *c = element(v, i, type);
    if (!c) return IPC_EINVAL;
    atomic_store(c, x);
    return IPC_OK;
}

int ipc_array_get(ipc_value *a, size_t i, long *x) { return get_bits(a, i, 'l', x); }
int ipc_array_set(ipc_value *a, size_t i, long x) { return set_bits(a, i, 'l', x); }

int ipc_array_get_d(ipc_value *a, size_t i, double *x)
{
    long b = 0;
    int rc = get_bits(a, i, 'd', x ? &b : NULL);
    if (rc == IPC_OK) *x = double_of(b);
    return rc;
}

int ipc_array_set_d(ipc_value *a, size_t i, double x) { return set_bits(a, i, 'd', bits_of(x)); }

/* ---- read-modify-write -------------------------------------------------- */

static long plus(char type, long bits, long delta_bits)
{
    if (type == 'd') return bits_of(double_of(bits) + double_of(delta_bits));
    return (long)((unsigned long)bits + (unsigned long)delta_bits); /* wraps, no UB */
}

/* "cell += delta" the way every unsynchronised program does it: three
 * separate steps.  The load and the store are RELAXED atomics on purpose:
 * each step is a well-defined atomic access (no data race in the C11 sense,
 * so sanitizers and the optimiser leave it alone), yet nothing makes the
 * three steps one — another process can store between our load and our
 * store, and our store then overwrites its update.  That lost update is the
 * race of logic the demo shows.  Under the lock the same steps are exact:
 * the mutex orders them, so RELAXED is enough there too. */
static long three_steps(atomic_long *c, char type, long delta_bits)
{
    long x = atomic_load_explicit(c, memory_order_relaxed); /* 1. load           */
    x = plus(type, x, delta_bits);                          /* 2. add (privately) */
    atomic_store_explicit(c, x, memory_order_relaxed);      /* 3. store           */
    return x;
}

static int add_bits(ipc_value *v, size_t i, char type, long delta_bits, long *result, bool may_lock)
{
    atomic_long *c = element(v, i, type);
    if (!c) return IPC_EINVAL;
    bool locked = may_lock && v->has_lock;
    if (locked) {
        /* A holder that died mid-add either stored or did not: one atomic
         * store, so the cell is consistent and we just go on. */
        int rc = ipc_value_lock(v);
        if (rc < 0) return rc;
    }
    long x = three_steps(c, type, delta_bits);
    if (locked) pthread_mutex_unlock(&v->lock);
    if (result) *result = x;
    return IPC_OK;
}

int ipc_array_add(ipc_value *a, size_t i, long delta, long *result)
{
    return add_bits(a, i, 'l', delta, result, true);
}

int ipc_array_add_d(ipc_value *a, size_t i, double delta, double *result)
{
    long b;
    int rc = add_bits(a, i, 'd', bits_of(delta), &b, true);
    if (rc == IPC_OK && result) *result = double_of(b);
    return rc;
}

int ipc_array_add_racy(ipc_value *a, size_t i, long delta)
{
    return add_bits(a, i, 'l', delta, NULL, false);
}

int ipc_array_add_atomic(ipc_value *a, size_t i, long delta, long *result)
{
    atomic_long *c = element(a, i, 'l');
    if (!c) return IPC_EINVAL;
    /* One indivisible read-modify-write (LOCK XADD on x86): no update is
     * ever lost.  SEQ_CST like get/set.  Atomic signed arithmetic wraps by
     * definition (C11 7.17.7.5); our own sum is done unsigned for the same. */
    unsigned long old = (unsigned long)atomic_fetch_add(c, delta);
    if (result) *result = (long)(old + (unsigned long)delta);
    return IPC_OK;
}
