/*
 * testlib.h — what every ipcplay test program shares: cmocka, a watchdog so
 * a hang becomes a failure, and fork/thread helpers that keep children out of
 * the cmocka runner (a child that returned into it would re-run the suite).
 */
#ifndef IPCPLAY_TESTLIB_H
#define IPCPLAY_TESTLIB_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#include "ipc.h"

/* 1 in a build under ASan or TSan (make test SANITIZE=address|thread): a
 * test may run fewer messages there, where the sanitizer makes it crawl. */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
enum { TL_SANITIZED = 1 };
#else
enum { TL_SANITIZED = 0 };
#endif

/* Fail the running test (instead of hanging the whole run) if it lasts more
 * than `seconds`.  tl_watchdog(0) disarms it. */
void tl_watchdog(unsigned seconds);

/* fork() for tests: the child gets its own kill timer (alarm with the default
 * action) so a stuck child dies instead of lingering; it must end with
 * _exit().  Fails the test if fork fails. */
pid_t tl_fork(unsigned child_seconds);

/* Wait for pid up to `seconds`, then SIGKILL it.  Returns its exit code, or
 * 128+signal if it was killed by one (as the shell reports it). */
int tl_wait(pid_t pid, unsigned seconds);

/* Run argv (argv[0] a path) in a child with stdout and stderr on one pipe;
 * collect at most 256 KiB of output into *out (malloc'ed, NUL-terminated),
 * kill the child if it outlives `seconds`, and return its exit code as
 * tl_wait does.  For tests that check what a program prints. */
int tl_run(char *const argv[], unsigned seconds, char **out);

/* cmocka fixtures: a watchdog (TL_WATCHDOG_S seconds) around every test.
 * TL_CASE(f) is cmocka_unit_test_setup_teardown(f, tl_setup, tl_teardown). */
#define TL_WATCHDOG_S 180
int tl_setup(void **state);
int tl_teardown(void **state);
#define TL_CASE(f) cmocka_unit_test_setup_teardown(f, tl_setup, tl_teardown)

/* ipc_open that fails the test (with ipc_last_error) instead of returning. */
ipc_channel *tl_open(const char *mech, const ipc_config *cfg);

/* mkdtemp of "$TMPDIR/<run prefix>.<what>.XXXXXX" into buf, so a directory a
 * failed test leaves behind is found by test_zz_leftovers.  Fails the test
 * if it cannot. */
void tl_tempdir(char *buf, size_t size, const char *what);
/* The run's name prefix (IPCPLAY_NAME_PREFIX, set by scripts/run-tests), or
 * "ipcplay": what the library's names and temp dirs begin with. */
const char *tl_name_prefix(void);

/* Start a thread; fails the test if it cannot. */
pthread_t tl_thread(void *(*fn)(void *), void *arg);

/* Deterministic payload bytes for message `id`, and their check. */
void tl_fill(void *buf, size_t len, uint32_t id);
bool tl_check(const void *buf, size_t len, uint32_t id);

int64_t tl_ms_since(int64_t start_ns);
void    tl_sleep_ms(unsigned ms);

/* Send message `id` (tl_fill bytes) of len bytes (<= 256), or fail the test;
 * receive one and check it is message `id` of len bytes, returning its prio. */
void tl_send_id(ipc_channel *ch, uint32_t id, size_t len, int prio);
int  tl_recv_id(ipc_channel *ch, uint32_t id, size_t len, int timeout_ms);

/* Processes the brokers start: is pid running (not a zombie), wait up to ms
 * for it to be gone, and the first process named `comm` whose command line,
 * working directory or environment contains `needle` (0 if none: a daemon
 * such as `epmd -daemon` runs in / with a bare command line, but its HOME
 * names the dir it came from).  tl_proc_strings reads /proc/PID/<file>
 * (cmdline, environ) into buf as one line, its NUL separators as spaces,
 * trailing spaces cut ("" if unreadable). */
bool  tl_pid_alive(pid_t pid);
bool  tl_wait_gone(pid_t pid, int ms);
pid_t tl_find_process(const char *comm, const char *needle);
void  tl_proc_strings(const char *pid, const char *file, char *buf, size_t size);

/* An embedded server's lifetime is its creator's (ipc.h, IPC_CAP_PERSISTENT;
 * ipc_redis.h, ipc_amqp.h).  A creator opens `mechanism` with no endpoint
 * (its own embedded server, a process named server_comm) and forks a sender
 * and a receiver, which stream until their first error; the creator is
 * SIGKILLed, and held at its exit by ptrace until the workers have their
 * answer (the window where its sitter thread is gone, the server with it,
 * but /proc still shows the creator).  The server stops with it (the death
 * signal), so the channel has ended: both workers must be told IPC_ECLOSED,
 * not a bare connection error, within seconds, and neither may hang. */
void  tl_creator_killed_workers_told_closed(const char *mechanism, const char *server_comm);

/* Open `mechanism` (NULL config) in a child whose descriptor table
 * (RLIMIT_NOFILE 64) is full but for `left` descriptors.  RETURNS what
 * ipc_open returned; why gets ipc_last_error() ("" on success).  For the
 * rule that an open failing for want of descriptors says so. */
int   tl_open_with_fds_left(const char *mechanism, int left, char *why, size_t size);
/* The rule itself: opened with 0..max_left-1 descriptors left, every open
 * that fails names RLIMIT_NOFILE (or EMFILE's text) and no other limit; at
 * least one fails and one, with enough left, succeeds. */
void  tl_out_of_descriptors_is_named(const char *mechanism, int max_left);
/* Does an error text name the descriptor limit (RLIMIT_NOFILE, or EMFILE's
 * strerror) and no other limit (RLIMIT_MSGQUEUE)? */
bool  tl_names_fd_limit(const char *why);

/* Remove a directory tree; and every entry of $TMPDIR (or /tmp) whose name
 * starts with prefix (what a SIGKILLed broker owner could not remove). */
void tl_rmtree(const char *path);
void tl_rmtree_prefixed(const char *prefix);

/* assert that an ipc_* call returned `want`, printing ipc_last_error() if not */
#define assert_ipc(call, want) do { \
        int rc_ = (call); \
        if (rc_ != (want)) \
            fail_msg("%s = %d (%s), want %d (%s); last error: %s", #call, rc_, ipc_strerror(rc_), \
                     (want), ipc_strerror(want), ipc_last_error()); \
    } while (0)

#endif
