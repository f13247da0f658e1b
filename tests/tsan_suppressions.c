/*
 * tsan_suppressions.c — ThreadSanitizer's suppressions, linked into the
 * programs of a `make SANITIZE=thread` build only (the tests through
 * TEST_HELPERS; demos, ipcbench, ipcviz and ipcstress through the
 * Makefile's TSAN_OBJ), never into the shipped library (issue 11: no test
 * machinery in libipcplay).  Empty in every other build.
 *
 * libzmq is not built with -fsanitize=thread.  It hands sockets and
 * messages to its I/O threads through its own lock-free mailboxes, which
 * TSan cannot see, so TSan reports "races" whose both stacks are inside
 * libzmq (e.g. socket() in the caller's thread, epoll_ctl() in ZMQbg/IO).
 * This hook, which TSan calls at start-up, silences exactly those reports:
 * a race with one of our own frames on a stack still shows.  One hook per
 * program: every suppression goes here.
 */
#if defined(__SANITIZE_THREAD__)
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void) { return "race:libzmq.so\n"; }
#else
typedef int ipc__tsan_suppressions_unused; /* ISO C: no empty translation unit */
#endif
