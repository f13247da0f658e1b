/*
 * futex_count.h — a test program's syscall(2) interposer that counts the
 * library's futex calls (test_wait, test_queues).
 *
 * Every futex call of the library goes through syscall() (core/futex.c),
 * and the executable's definition of syscall interposes libc's: this one
 * counts each SYS_futex (futex_calls) and each FUTEX_WAKE (futex_wakes),
 * then passes the call on unchanged.  Six long arguments: the most any
 * system call takes, and what the library's futex calls pass.
 *
 * Include it in exactly one file of a test program: it defines syscall()
 * and its two counters.
 */
#ifndef IPCPLAY_TESTS_FUTEX_COUNT_H
#define IPCPLAY_TESTS_FUTEX_COUNT_H

#include <dlfcn.h>
#include <linux/futex.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/syscall.h>

static atomic_long futex_wakes;
static atomic_long futex_calls; /* every SYS_futex, whatever the operation */

long syscall(long number, ...)
{
    typedef long (*syscall_fn)(long, ...);
    /* RELAXED: every thread that looks it up stores the same value. */
    static _Atomic(syscall_fn) real_syscall;
    syscall_fn real = atomic_load_explicit(&real_syscall, memory_order_relaxed);
    if (!real) {
        real = (syscall_fn)dlsym(RTLD_NEXT, "syscall");
        atomic_store_explicit(&real_syscall, real, memory_order_relaxed);
    }
    va_list ap;
    va_start(ap, number);
    long a[6];
    for (int i = 0; i < 6; i++) a[i] = va_arg(ap, long);
    va_end(ap);
    if (number == SYS_futex) atomic_fetch_add(&futex_calls, 1);
    if (number == SYS_futex && ((int)a[1] & FUTEX_CMD_MASK) == FUTEX_WAKE)
        atomic_fetch_add(&futex_wakes, 1);
    return real(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}

#endif
