/*
 * test_pipes_named.c — the named members of the pipes family: fifo, unix,
 * unix_seqpacket, unix_dgram and tcp.  What the conformance suite cannot ask
 * of every mechanism: attach by a truly unrelated process (this binary
 * exec'd again, sharing nothing but the name), names gone after free, tcp's
 * port 0, bad names, message boundaries on message sockets, no SIGPIPE
 * death, and ipc_free never hanging on a busy relay.
 *
 *   build/tests/test_pipes_named
 *   build/tests/test_pipes_named --child ROLE ...   (what the tests exec)
 */
#define _GNU_SOURCE
#include "testlib.h"

#include "pipes/fifo.h"
#include "pipes/tcp.h"
#include "pipes/unix.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- names ------------------------------------------------------------ */

static char dir[96]; /* this run's private directory, made in main(); short: socket paths live here */

static const char *prefix(void)
{
    const char *p = getenv("IPCPLAY_NAME_PREFIX");
    return p && *p ? p : "ipcplay";
}

/* A path in the private directory; it must not exist yet. */
static const char *path_for(const char *leaf)
{
    static char buf[4][PATH_MAX];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, PATH_MAX, "%s/%s", dir, leaf);
    return p;
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* How many /dev/shm objects carry the fifo state of this run
 * ("<prefix>.<pid>.<n>.fifo.<dev>.<ino>", fifo.c). */
static int fifo_states(void)
{
    char lead[128];
    snprintf(lead, sizeof lead, "%s.", prefix());
    DIR *d = opendir("/dev/shm");
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strncmp(e->d_name, lead, strlen(lead)) == 0 && strstr(e->d_name, ".fifo.") != NULL;
    closedir(d);
    return n;
}

static bool is_tcp(const char *mech) { return strcmp(mech, "tcp") == 0; }

static ipc_config attach_cfg(const char *mech, const char *name)
{
    return is_tcp(mech) ? (ipc_config){ .endpoint = name, .flags = IPC_ATTACH }
                        : (ipc_config){ .name = name, .flags = IPC_ATTACH };
}

static ipc_channel *open_named(const char *mech, const char *name)
{
    ipc_channel *ch = NULL;
    ipc_config cfg = is_tcp(mech) ? (ipc_config){ .endpoint = name } : (ipc_config){ .name = name };
    int rc = ipc_open(mech, &cfg, &ch);
    if (rc != IPC_OK) fail_msg("ipc_open(%s, '%s') = %s: %s", mech, name, ipc_strerror(rc), ipc_last_error());
    return ch;
}

static ipc_channel *attach(const char *mech, const char *name)
{
    ipc_channel *ch = NULL;
    ipc_config cfg = attach_cfg(mech, name);
    int rc = ipc_open(mech, &cfg, &ch);
    if (rc != IPC_OK) fail_msg("attach %s '%s' = %s: %s", mech, name, ipc_strerror(rc), ipc_last_error());
    return ch;
}

/* The name an attacher uses: the path, or "127.0.0.1:port" for tcp. */
static const char *name_of(const char *mech, ipc_channel *ch, const char *path)
{
    static char ep[64];
    if (!is_tcp(mech)) return path;
    snprintf(ep, sizeof ep, "127.0.0.1:%d", ipc_tcp_port(ch));
    return ep;
}

/* ---- the exec'd children ----------------------------------------------- */

static size_t msg_len(uint32_t i) { return 1 + i * 613 % 3000; }

/* The children's exit codes say which step failed; 10 = attach. */
static ipc_channel *child_attach(const char *mech, const char *name)
{
    ipc_channel *ch = NULL;
    ipc_config cfg = attach_cfg(mech, name);
    if (ipc_open(mech, &cfg, &ch) != IPC_OK) {
        fprintf(stderr, "child: attach %s '%s': %s\n", mech, name, ipc_last_error());
        _exit(10);
    }
    return ch;
}

static int child_echo(const char *mech, const char *name, int n)
{
    ipc_channel *ch = child_attach(mech, name);
    unsigned char buf[3000];
    for (int i = 0; i < n; i++) {
        size_t got;
        int rc = ipc_recv(ch, buf, sizeof buf, &got, NULL, 10000);
        if (rc != IPC_OK) {
            fprintf(stderr, "child: recv %d: %s\n", i, ipc_last_error());
            return 11;
        }
        if (got != msg_len((uint32_t)i) || !tl_check(buf, got, (uint32_t)i)) return 12;
    }
    for (int i = 0; i < n; i++) {
        tl_fill(buf, msg_len((uint32_t)i), 1000u + (uint32_t)i);
        if (ipc_send(ch, buf, msg_len((uint32_t)i), 0, 10000) != IPC_OK) return 13;
    }
    ipc_free(ch);
    return 0;
}

static int child_send(const char *mech, const char *name, int n)
{
    ipc_channel *ch = child_attach(mech, name);
    unsigned char buf[3000];
    for (int i = 0; i < n; i++) {
        tl_fill(buf, msg_len((uint32_t)i), (uint32_t)i);
        if (ipc_send(ch, buf, msg_len((uint32_t)i), 0, 10000) != IPC_OK) {
            fprintf(stderr, "child: send %d: %s\n", i, ipc_last_error());
            return 21;
        }
    }
    size_t got;
    if (is_tcp(mech) && ipc_recv(ch, buf, sizeof buf, &got, NULL, 0) != IPC_ENOTSUP) return 22;
    ipc_free(ch);
    return 0;
}

static void tell(int fd)
{
    if (write(fd, "r", 1) != 1) _exit(90);
}

/* Attach, say so on fd, then block in recv until the owner closes. */
static int child_wait_close(const char *mech, const char *name, int fd)
{
    ipc_channel *ch = child_attach(mech, name);
    tell(fd);
    char buf[16];
    size_t got;
    int rc = ipc_recv(ch, buf, sizeof buf, &got, NULL, -1);
    ipc_free(ch);
    return rc == IPC_ECLOSED ? 0 : 31;
}

/* A tcp attacher with SIGPIPE at its default (death): sends until the
 * owner's disappearance is reported as IPC_ECLOSED. */
static int child_sigpipe(const char *endpoint, int fd)
{
    signal(SIGPIPE, SIG_DFL); /* an ignored signal stays ignored across exec */
    ipc_channel *ch = child_attach("tcp", endpoint);
    tell(fd);
    int64_t t0 = ipc_now_ns();
    while (tl_ms_since(t0) < 10000) {
        int rc = ipc_send(ch, "ping", 4, 0, 1000);
        if (rc == IPC_ECLOSED) {
            ipc_free(ch);
            return 0;
        }
        if (rc != IPC_OK && rc != IPC_EFULL) return 41;
        tl_sleep_ms(5);
    }
    return 42;
}

static int child_main(int argc, char **argv)
{
    const char *role = argv[2];
    if (strcmp(role, "echo") == 0 && argc == 6) return child_echo(argv[3], argv[4], atoi(argv[5]));
    if (strcmp(role, "send") == 0 && argc == 6) return child_send(argv[3], argv[4], atoi(argv[5]));
    if (strcmp(role, "wait-close") == 0 && argc == 6) return child_wait_close(argv[3], argv[4], atoi(argv[5]));
    if (strcmp(role, "sigpipe") == 0 && argc == 5) return child_sigpipe(argv[3], atoi(argv[4]));
    fprintf(stderr, "test_pipes_named: bad child arguments\n");
    return 99;
}

/* fork + exec this binary with "--child" and up to four arguments. */
static pid_t spawn(const char *role, const char *a, const char *b, const char *c)
{
    pid_t pid = tl_fork(40);
    if (pid == 0) {
        char *argv[] = { "test_pipes_named", "--child", (char *)role, (char *)a, (char *)b, (char *)c, NULL };
        execv("/proc/self/exe", argv);
        _exit(98);
    }
    return pid;
}

/* A pipe whose write end the exec'd child inherits (no O_CLOEXEC). */
static void ready_pipe(int p[2], char *wfd, size_t size)
{
    assert_int_equal(pipe(p), 0);
    snprintf(wfd, size, "%d", p[1]);
}

static void await_ready(int p[2])
{
    close(p[1]);
    struct pollfd pf = { .fd = p[0], .events = POLLIN };
    if (poll(&pf, 1, 15000) != 1) fail_msg("the child never said it was ready");
    char c;
    assert_int_equal(read(p[0], &c, 1), 1);
    close(p[0]);
}

/* ---- cmocka plumbing ---------------------------------------------------- */

#define CASE_ON(f, mech) { #f "/" mech, f, tl_setup, tl_teardown, (void *)(mech) }

/* ---- attach by an unrelated process -------------------------------------- */

enum { ECHO_N = 30 }; /* queued with nobody receiving: fits a dgram socket buffer */

static void send_numbered(ipc_channel *ch, int n, uint32_t base)
{
    unsigned char buf[3000];
    for (int i = 0; i < n; i++) {
        tl_fill(buf, msg_len((uint32_t)i), base + (uint32_t)i);
        assert_ipc(ipc_send(ch, buf, msg_len((uint32_t)i), 0, 5000), IPC_OK);
    }
}

static void recv_numbered(ipc_channel *ch, int n, uint32_t base)
{
    unsigned char buf[3000];
    for (int i = 0; i < n; i++) {
        size_t got;
        assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 10000), IPC_OK);
        if (got != msg_len((uint32_t)i) || !tl_check(buf, got, base + (uint32_t)i))
            fail_msg("message %d: %zu bytes, or wrong content", i, got);
    }
}

/* The exec'd child attaches by name, receives what the owner sent, and
 * answers on the same channel: an attacher is a full holder. */
static void unrelated_echo(const char *mech, ipc_channel *ch, const char *name)
{
    send_numbered(ch, ECHO_N, 0);
    char n[16];
    snprintf(n, sizeof n, "%d", ECHO_N);
    pid_t pid = spawn("echo", mech, name, n);
    assert_int_equal(tl_wait(pid, 40), 0);
    recv_numbered(ch, ECHO_N, 1000);
    size_t got;
    char buf[8];
    assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 0), IPC_EEMPTY);
}

static void test_unrelated_process_echoes(void **state)
{
    const char *mech = *state;
    const char *path = path_for("echo");
    ipc_channel *ch = open_named(mech, path);
    unrelated_echo(mech, ch, path);
    ipc_free(ch);
    assert_false(exists(path));
}

static void test_fifo_generated_path_attach(void **state)
{
    (void)state;
    ipc_channel *ch = NULL;
    assert_ipc(ipc_open("fifo", NULL, &ch), IPC_OK);
    char path[PATH_MAX];
    assert_non_null(ipc_fifo_path(ch));
    snprintf(path, sizeof path, "%s", ipc_fifo_path(ch));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_non_null(strstr(path, prefix())); /* leftovers are detectable */
    unrelated_echo("fifo", ch, path);
    ipc_free(ch);
    assert_false(exists(path));
    *strrchr(path, '/') = '\0';
    assert_false(exists(path)); /* the private directory too */
}

/* tcp attachers are senders: 2000 messages (about 3 MB) from an exec'd
 * process arrive complete and in order while the owner receives. */
static void test_tcp_unrelated_sender(void **state)
{
    (void)state;
    ipc_channel *ch = NULL;
    assert_ipc(ipc_open("tcp", NULL, &ch), IPC_OK);
    pid_t pid = spawn("send", "tcp", name_of("tcp", ch, NULL), "2000");
    recv_numbered(ch, 2000, 0);
    assert_int_equal(tl_wait(pid, 40), 0);
    ipc_free(ch);
}

/* ipc_close by the owner wakes an unrelated process blocked in recv. */
static void test_close_wakes_unrelated_receiver(void **state)
{
    const char *mech = *state;
    const char *path = path_for("wake");
    ipc_channel *ch = open_named(mech, path);
    int p[2];
    char wfd[16];
    ready_pipe(p, wfd, sizeof wfd);
    pid_t pid = spawn("wait-close", mech, path, wfd);
    await_ready(p);
    tl_sleep_ms(100); /* let it reach its wait */
    int64_t t0 = ipc_now_ns();
    assert_ipc(ipc_close(ch), IPC_OK);
    assert_int_equal(tl_wait(pid, 10), 0);
    if (tl_ms_since(t0) > 5000) fail_msg("the attacher woke %lld ms after close", (long long)tl_ms_since(t0));
    ipc_free(ch);
}

/* ---- peers gone --------------------------------------------------------- */

/* The owner of a tcp channel goes away: an attacher (SIGPIPE at its default
 * action, which kills) is told IPC_ECLOSED instead of dying. */
static void test_tcp_owner_gone_no_sigpipe(void **state)
{
    (void)state;
    ipc_channel *ch = NULL;
    assert_ipc(ipc_open("tcp", NULL, &ch), IPC_OK);
    int p[2];
    char wfd[16];
    ready_pipe(p, wfd, sizeof wfd);
    pid_t pid = spawn("sigpipe", name_of("tcp", ch, NULL), wfd, NULL);
    await_ready(p);
    tl_sleep_ms(50);
    ipc_free(ch);
    int status = tl_wait(pid, 20);
    if (status == 128 + SIGPIPE) fail_msg("the attacher was killed by SIGPIPE");
    assert_int_equal(status, 0);
}

/* After the owner's ipc_close, an attacher's send fails and a new attacher
 * is turned away; the owner's side still drains what was queued. */
static void test_tcp_shutdown_reaches_attachers(void **state)
{
    (void)state;
    ipc_channel *ch = NULL;
    assert_ipc(ipc_open("tcp", NULL, &ch), IPC_OK);
    char ep[64];
    snprintf(ep, sizeof ep, "%s", name_of("tcp", ch, NULL));
    ipc_channel *a = attach("tcp", ep);
    assert_int_equal(ipc_tcp_port(a), ipc_tcp_port(ch));
    assert_int_equal(ipc_pollfd(a), -1); /* an attacher never receives */
    char buf[16];
    size_t got;
    assert_ipc(ipc_recv(a, buf, sizeof buf, &got, NULL, 0), IPC_ENOTSUP);
    assert_ipc(ipc_send(a, "before", 6, 0, 5000), IPC_OK);
    assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 5000), IPC_OK);
    assert_int_equal(got, 6);
    assert_memory_equal(buf, "before", 6);

    assert_ipc(ipc_send(ch, "queued", 6, 0, 5000), IPC_OK);
    assert_ipc(ipc_close(ch), IPC_OK);
    int rc = IPC_OK;
    int64_t t0 = ipc_now_ns();
    while (rc == IPC_OK && tl_ms_since(t0) < 5000) {
        rc = ipc_send(a, "after", 5, 0, 1000);
        if (rc == IPC_OK) tl_sleep_ms(5);
    }
    assert_ipc(rc, IPC_ECLOSED);
    ipc_channel *late = NULL;
    ipc_config cfg = attach_cfg("tcp", ep);
    assert_ipc(ipc_open("tcp", &cfg, &late), IPC_ECLOSED);
    assert_null(late);
    assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 5000), IPC_OK); /* drains */
    assert_memory_equal(buf, "queued", 6);
    assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 5000), IPC_ECLOSED);
    ipc_free(a);
    ipc_free(ch);
}

/* A unix attacher holds the channel's own kernel objects: it keeps working
 * after the owner is gone; a new attacher cannot find the name any more. */
static void test_unix_attacher_outlives_owner(void **state)
{
    const char *mech = *state;
    const char *path = path_for("outlive");
    ipc_channel *ch = open_named(mech, path);
    ipc_channel *a = attach(mech, path);
    assert_int_equal(ipc_max_msg(a), ipc_max_msg(ch));
    ipc_free(ch);
    assert_false(exists(path));
    assert_ipc(ipc_send(a, "still", 5, 0, 1000), IPC_OK);
    char buf[8];
    size_t got;
    assert_ipc(ipc_recv(a, buf, sizeof buf, &got, NULL, 1000), IPC_OK);
    assert_int_equal(got, 5);
    ipc_channel *late = NULL;
    ipc_config cfg = attach_cfg(mech, path);
    assert_ipc(ipc_open(mech, &cfg, &late), IPC_ESYS);
    assert_int_equal(errno, ENOENT);
    ipc_free(a);
}

/* ipc_free of a tcp owner returns promptly even while its relay is in the
 * middle of forwarding big messages into a channel nobody drains. */
static void test_tcp_free_with_busy_relay(void **state)
{
    (void)state;
    ipc_channel *ch = NULL;
    assert_ipc(ipc_open("tcp", NULL, &ch), IPC_OK);
    ipc_channel *a = attach("tcp", name_of("tcp", ch, NULL));
    size_t len = 256 * 1024;
    unsigned char *msg = calloc(1, len);
    assert_non_null(msg);
    int sent = 0;
    while (sent < 200 && ipc_send(a, msg, len, 0, 300) == IPC_OK) sent++;
    assert_true(sent > 0);
    int64_t t0 = ipc_now_ns();
    ipc_free(ch);
    int64_t ms = tl_ms_since(t0);
    print_message("busy relay: %d messages of 256 KiB accepted, ipc_free took %lld ms\n", sent, (long long)ms);
    if (ms > 5000) fail_msg("ipc_free took %lld ms", (long long)ms);
    ipc_free(a);
    free(msg);
}

/* ---- names ---------------------------------------------------------------- */

static void test_names_removed_after_free(void **state)
{
    const char *mech = *state;
    bool fifo = strcmp(mech, "fifo") == 0;
    const char *path = path_for("gone");
    int states = fifo_states();
    ipc_channel *ch = open_named(mech, path);
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(fifo ? S_ISFIFO(st.st_mode) : S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);
    if (fifo) assert_int_equal(fifo_states(), states + 1);
    else assert_string_equal(ipc_unix_path(ch), path);
    /* a fork()ed child's free releases its copy only: the name stays */
    pid_t pid = tl_fork(20);
    if (pid == 0) {
        ipc_free(ch);
        _exit(0);
    }
    assert_int_equal(tl_wait(pid, 20), 0);
    assert_true(exists(path));
    ipc_channel *a = attach(mech, path); /* and still works */
    ipc_free(a);
    assert_true(exists(path)); /* an attacher never unlinks */
    ipc_free(ch);
    assert_false(exists(path));
    if (fifo) assert_int_equal(fifo_states(), states);
}

static void test_unix_private_has_no_name(void **state)
{
    (void)state;
    ipc_channel *ch = NULL;
    assert_ipc(ipc_open("unix", NULL, &ch), IPC_OK);
    assert_null(ipc_unix_path(ch));
    assert_null(ipc_unix_path(NULL));
    assert_null(ipc_fifo_path(ch));
    assert_ipc(ipc_tcp_port(ch), IPC_EINVAL);
    ipc_free(ch);
}

/* ---- tcp: port 0 ------------------------------------------------------------ */

static void test_tcp_port_zero(void **state)
{
    (void)state;
    ipc_channel *a = NULL, *b = NULL, *c = NULL;
    assert_ipc(ipc_open("tcp", NULL, &a), IPC_OK);
    assert_ipc(ipc_open("tcp", &(ipc_config){ .endpoint = "127.0.0.1:0" }, &b), IPC_OK);
    assert_ipc(ipc_open("tcp", &(ipc_config){ .endpoint = "tcp://localhost:0" }, &c), IPC_OK);
    int pa = ipc_tcp_port(a), pb = ipc_tcp_port(b), pc = ipc_tcp_port(c);
    assert_true(pa > 0 && pb > 0 && pc > 0);
    assert_true(pa != pb && pb != pc && pa != pc);
    /* the chosen port is the real one: an attacher reaches the owner by it */
    ipc_channel *s = attach("tcp", name_of("tcp", b, NULL));
    assert_ipc(ipc_send(s, "via port", 8, 0, 5000), IPC_OK);
    char buf[16];
    size_t got;
    assert_ipc(ipc_recv(b, buf, sizeof buf, &got, NULL, 5000), IPC_OK);
    assert_int_equal(got, 8);
    assert_ipc(ipc_recv(a, buf, sizeof buf, &got, NULL, 0), IPC_EEMPTY); /* not elsewhere */
    ipc_free(s);
    ipc_free(a);
    ipc_free(b);
    ipc_free(c);
}

/* ---- bad names ------------------------------------------------------------- */

/* ipc_open must fail with `want`, leave *out NULL, and say something
 * containing `says` (and, for IPC_ESYS, keep errno == want_errno). */
static void open_fails(const char *mech, ipc_config cfg, int want, int want_errno, const char *says)
{
    ipc_channel *ch = (ipc_channel *)0x1;
    int rc = ipc_open(mech, &cfg, &ch);
    int err = errno;
    if (rc != want)
        fail_msg("%s: got %s, want %s (%s)", mech, ipc_strerror(rc), ipc_strerror(want), ipc_last_error());
    assert_null(ch);
    if (want == IPC_ESYS && err != want_errno)
        fail_msg("%s: errno %d (%s), want %d; %s", mech, err, strerror(err), want_errno, ipc_last_error());
    if (!strstr(ipc_last_error(), says))
        fail_msg("%s: error '%s' does not mention '%s'", mech, ipc_last_error(), says);
}

static void test_bad_names_fifo(void **state)
{
    (void)state;
    char longer[PATH_MAX + 10];
    memset(longer, 'a', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    open_fails("fifo", (ipc_config){ .name = longer }, IPC_EINVAL, 0, "path");
    open_fails("fifo", (ipc_config){ .name = "" }, IPC_EINVAL, 0, "path");
    open_fails("fifo", (ipc_config){ .name = "/no-such-dir-ipcplay/f" }, IPC_ESYS, ENOENT, "/no-such-dir-ipcplay/f");
    open_fails("fifo", (ipc_config){ .endpoint = "127.0.0.1:1" }, IPC_EINVAL, 0, "endpoint");
    open_fails("fifo", (ipc_config){ .name = "/no-such-dir-ipcplay/f", .flags = IPC_ATTACH }, IPC_ESYS, ENOENT, "open");

    const char *file = path_for("plain-file");
    int fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "keep", 4), 4);
    close(fd);
    open_fails("fifo", (ipc_config){ .name = file }, IPC_ESYS, EEXIST, file); /* never clobbered */
    open_fails("fifo", (ipc_config){ .name = file, .flags = IPC_ATTACH }, IPC_EINVAL, 0, "not a FIFO");
    struct stat st;
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_size, 4);
    unlink(file);

    const char *foreign = path_for("foreign-fifo"); /* a FIFO ipcplay did not make */
    assert_int_equal(mkfifo(foreign, 0600), 0);
    open_fails("fifo", (ipc_config){ .name = foreign, .flags = IPC_ATTACH }, IPC_ESYS, ENOENT, "no channel state");
    unlink(foreign);
}

static void test_bad_names_unix(void **state)
{
    (void)state;
    char longer[151];
    memset(longer, 'a', sizeof longer - 1);
    longer[0] = '/';
    longer[sizeof longer - 1] = '\0';
    open_fails("unix", (ipc_config){ .name = longer }, IPC_EINVAL, 0, "sun_path");
    open_fails("unix_dgram", (ipc_config){ .name = longer, .flags = IPC_ATTACH }, IPC_EINVAL, 0, "sun_path");
    open_fails("unix", (ipc_config){ .name = "/no-such-dir-ipcplay/s" }, IPC_ESYS, ENOENT, "/no-such-dir-ipcplay/s");
    open_fails("unix", (ipc_config){ .name = "/no-such-dir-ipcplay/s", .flags = IPC_ATTACH }, IPC_ESYS, ENOENT, "connect");
    open_fails("unix_seqpacket", (ipc_config){ .endpoint = "x" }, IPC_EINVAL, 0, "endpoint");

    /* A socket file whose owner died: attach is refused, a new owner takes
     * the name over. */
    const char *stale = path_for("stale");
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    snprintf(a.sun_path, sizeof a.sun_path, "%s", stale);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    close(fd);
    open_fails("unix", (ipc_config){ .name = stale, .flags = IPC_ATTACH }, IPC_ESYS, ECONNREFUSED, stale);
    ipc_channel *ch = open_named("unix", stale);

    /* the wrong flavour at a live door */
    open_fails("unix_seqpacket", (ipc_config){ .name = stale, .flags = IPC_ATTACH }, IPC_EINVAL, 0, "is a unix channel");
    /* a live door cannot be taken over */
    open_fails("unix", (ipc_config){ .name = stale }, IPC_ESYS, EADDRINUSE, "bind");
    ipc_free(ch);
    assert_false(exists(stale));
}

static void test_bad_names_tcp(void **state)
{
    (void)state;
    static const char *const bad[] = { "nonsense", "127.0.0.1", "127.0.0.1:", ":80", "127.0.0.1:99999",
                                       "127.0.0.1:12ab", "[::1", "127.0.0.1:1234567" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        open_fails("tcp", (ipc_config){ .endpoint = bad[i] }, IPC_EINVAL, 0, bad[i]);
    open_fails("tcp", (ipc_config){ .name = "/tmp/x" }, IPC_EINVAL, 0, "endpoint");
    open_fails("tcp", (ipc_config){ .name = "/tmp/x", .flags = IPC_ATTACH }, IPC_EINVAL, 0, "endpoint");
    /* nobody listens on a port that was just released */
    ipc_channel *ch = NULL;
    assert_ipc(ipc_open("tcp", NULL, &ch), IPC_OK);
    char ep[64];
    snprintf(ep, sizeof ep, "%s", name_of("tcp", ch, NULL));
    ipc_free(ch);
    open_fails("tcp", (ipc_config){ .endpoint = ep, .flags = IPC_ATTACH }, IPC_ESYS, ECONNREFUSED, ep);
}

/* ---- message sockets: boundaries and sizes ----------------------------- */

static void test_message_boundaries(void **state)
{
    const char *mech = *state;
    ipc_channel *ch = NULL;
    assert_ipc(ipc_open(mech, NULL, &ch), IPC_OK);
    size_t max = ipc_max_msg(ch);
    const size_t sizes[] = { 0, 1, 7, 1000, max, 3, 0, 4096 };
    enum { N = sizeof sizes / sizeof sizes[0] };
    unsigned char *buf = malloc(max + 1);
    assert_non_null(buf);
    for (size_t i = 0; i < N; i++) {
        tl_fill(buf, sizes[i], (uint32_t)i);
        assert_ipc(ipc_send(ch, buf, sizes[i], 0, 5000), IPC_OK);
    }
    for (size_t i = 0; i < N; i++) { /* each receive takes exactly one send */
        size_t got = 12345;
        assert_ipc(ipc_recv(ch, buf, max + 1, &got, NULL, 5000), IPC_OK);
        assert_int_equal(got, sizes[i]);
        assert_true(tl_check(buf, got, (uint32_t)i));
    }
    /* too small a buffer: the size is reported and nothing is lost */
    tl_fill(buf, 1000, 7);
    assert_ipc(ipc_send(ch, buf, 1000, 0, 5000), IPC_OK);
    size_t got = 0;
    assert_ipc(ipc_recv(ch, buf, 10, &got, NULL, 5000), IPC_EMSGSIZE);
    assert_int_equal(got, 1000);
    assert_ipc(ipc_recv(ch, buf, 999, &got, NULL, 5000), IPC_EMSGSIZE);
    assert_ipc(ipc_recv(ch, buf, 1000, &got, NULL, 5000), IPC_OK);
    assert_int_equal(got, 1000);
    assert_true(tl_check(buf, got, 7));
    free(buf);
    ipc_free(ch);
}

struct big { ipc_channel *ch; size_t len; int rc; size_t got; };

static void *recv_big(void *arg)
{
    struct big *b = arg;
    unsigned char *buf = malloc(b->len);
    if (!buf) { b->rc = IPC_ESYS; return NULL; }
    b->rc = ipc_recv(b->ch, buf, b->len, &b->got, NULL, 10000);
    if (b->rc == IPC_OK && !tl_check(buf, b->got, 3)) b->rc = 999;
    free(buf);
    return NULL;
}

/* A max_msg above the default socket buffer: ipc_open grows SO_SNDBUF (or
 * says why it cannot), and such a message goes through as one. */
static void test_message_socket_large_max(void **state)
{
    const char *mech = *state;
    ipc_channel *ch = NULL;
    int rc = ipc_open(mech, &(ipc_config){ .max_msg = 1 << 20 }, &ch);
    if (rc == IPC_EINVAL) { /* net.core.wmem_max too small on this machine */
        assert_non_null(strstr(ipc_last_error(), "wmem_max"));
        skip();
        return;
    }
    assert_ipc(rc, IPC_OK);
    struct big b = { .ch = ch, .len = 1 << 20 };
    unsigned char *msg = malloc(b.len);
    assert_non_null(msg);
    tl_fill(msg, b.len, 3);
    pthread_t t = tl_thread(recv_big, &b);
    assert_ipc(ipc_send(ch, msg, b.len, 0, 10000), IPC_OK);
    pthread_join(t, NULL);
    free(msg);
    assert_ipc(b.rc, IPC_OK);
    assert_int_equal(b.got, b.len);
    ipc_free(ch);
}

/* ---- the runner ------------------------------------------------------------ */

static const struct CMUnitTest tests[] = {
    CASE_ON(test_unrelated_process_echoes, "fifo"),
    CASE_ON(test_unrelated_process_echoes, "unix"),
    CASE_ON(test_unrelated_process_echoes, "unix_seqpacket"),
    CASE_ON(test_unrelated_process_echoes, "unix_dgram"),
    TL_CASE(test_fifo_generated_path_attach),
    TL_CASE(test_tcp_unrelated_sender),
    CASE_ON(test_close_wakes_unrelated_receiver, "fifo"),
    CASE_ON(test_close_wakes_unrelated_receiver, "unix"),
    CASE_ON(test_close_wakes_unrelated_receiver, "unix_dgram"),
    TL_CASE(test_tcp_owner_gone_no_sigpipe),
    TL_CASE(test_tcp_shutdown_reaches_attachers),
    CASE_ON(test_unix_attacher_outlives_owner, "unix"),
    CASE_ON(test_unix_attacher_outlives_owner, "unix_seqpacket"),
    TL_CASE(test_tcp_free_with_busy_relay),
    CASE_ON(test_names_removed_after_free, "fifo"),
    CASE_ON(test_names_removed_after_free, "unix"),
    TL_CASE(test_unix_private_has_no_name),
    TL_CASE(test_tcp_port_zero),
    TL_CASE(test_bad_names_fifo),
    TL_CASE(test_bad_names_unix),
    TL_CASE(test_bad_names_tcp),
    CASE_ON(test_message_boundaries, "unix_seqpacket"),
    CASE_ON(test_message_boundaries, "unix_dgram"),
    CASE_ON(test_message_socket_large_max, "unix_seqpacket"),
    CASE_ON(test_message_socket_large_max, "unix_dgram"),
};

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "--child") == 0) return child_main(argc, argv);
    const char *tmp = getenv("TMPDIR");
    int n = snprintf(dir, sizeof dir, "%s/%s.pipes_named.XXXXXX", tmp && *tmp ? tmp : "/tmp", prefix());
    if (n < 0 || (size_t)n >= sizeof dir || !mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    int failures = cmocka_run_group_tests_name("pipes_named", tests, NULL, NULL);
    if (rmdir(dir) < 0) { /* every test removes what it made */
        fprintf(stderr, "test_pipes_named: %s not empty or not removable: %s\n", dir, strerror(errno));
        failures++;
    }
    return failures;
}
