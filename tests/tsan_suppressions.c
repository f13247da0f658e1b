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
 *
 * libstdc++ too: libzmq formats addresses with C++ streams, in the caller's
 * thread and in ZMQbg/IO, and TSan's unwinder stops at libstdc++ (libzmq's
 * frames below it are not found), so such a report names no libzmq frame
 * and the rule above misses it: tsan-5 of 2026-12-05, test_crosshost's zmq
 * case, "ThreadSanitizer: data race ... std::basic_streambuf::xsputn" with
 * the other access "failed to restore the stack", the object allocated in
 * zmq_socket().  Our code is C: only libzmq (and ipcbench's Google
 * Benchmark shim, whose own races this would also hide) calls libstdc++.
 *
 * die_after_fork=0: a channel handle works across fork() (IPC_CAP_FORK),
 * and a forked child of a multi-threaded process may start threads of its
 * own — websocket's child starts its lws service thread, after the parent's
 * fork handler parked its own ones outside lws and malloc (websocket.c).
 * TSan's default kills such a child at its first pthread_create ("starting
 * new threads after multi-threaded fork is not supported", exit 66): 8 of
 * websocket/block's conformance cases failed that way, none of them a race.
 * This only lets the child live; every race is still reported
 * (halt_on_error comes from run-tests' TSAN_OPTIONS, which adds to these
 * defaults).  With it, websocket/block passes 32 of 32 under TSan.
 */
#if defined(__SANITIZE_THREAD__)
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void) { return "race:libzmq.so\nrace:libstdc++.so\n"; }
const char *__tsan_default_options(void);
const char *__tsan_default_options(void) { return "die_after_fork=0"; }
#else
typedef int ipc__tsan_suppressions_unused; /* ISO C: no empty translation unit */
#endif
