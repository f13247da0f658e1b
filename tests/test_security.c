/*
 * test_security.c — issue 12, Security:
 *   - a redis server other hosts can reach requires a password: a client
 *     without it is refused (NOAUTH), the password is not on the server's
 *     command line, and the endpoint (what ipc_attach_config hands on)
 *     carries it so attachers work;
 *   - attach reaches only the caller's own objects: for every mechanism
 *     that attaches by name and does not cross hosts (driven by caps), a
 *     channel created by another uid is refused even to root, which file
 *     modes would not stop (needs root: skipped otherwise);
 *   - private temp dirs (where Unix sockets and FIFOs are bound) are 0700.
 */
#define _GNU_SOURCE
#include "testlib.h"

#ifdef IPC_WITH_REDIS /* the redis case only in a build with it (make BROKERS=...) */
#include "brokers/ipc_redis.h"
#endif

#ifdef IPC_WITH_REDIS
#include <hiredis.h>
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef IPC_WITH_REDIS
/* ---- redis ------------------------------------------------------------- */

static bool cmdline_contains(pid_t pid, const char *needle)
{
    char path[64], buf[8192];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return false;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return false;
    for (ssize_t i = 0; i < n; i++)
        if (!buf[i]) buf[i] = ' ';
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

static void test_redis_on_tcp_requires_a_password(void **state)
{
    (void)state;
    int port = 20000 + (int)(getpid() % 20000);
    ipc_redis_server *srv = NULL;
    int rc = ipc_redis_server_start(&(ipc_redis_server_opts){ .bind = "127.0.0.1", .port = port }, &srv);
    if (rc != IPC_OK) fail_msg("redis server on 127.0.0.1:%d: %s", port, ipc_last_error());
    const char *ep = ipc_redis_server_endpoint(srv);

    /* a client that knows only host and port */
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, (struct timeval){ .tv_sec = 2 });
    assert_true(c && !c->err);
    redisReply *r = redisCommand(c, "PING");
    bool refused = r && r->type == REDIS_REPLY_ERROR && strstr(r->str, "NOAUTH");
    if (r) freeReplyObject(r);
    redisFree(c);
    if (!refused) {
        ipc_redis_server_stop(srv);
        fail_msg("a client without the password got an answer from the TCP-bound server");
    }

    /* the endpoint carries the password; the command line does not */
    const char *at = strrchr(ep, '@');
    assert_non_null(at);
    char pw[64];
    snprintf(pw, sizeof pw, "%.*s", (int)(at - (ep + 9)), ep + 9); /* redis://:PW@ */
    assert_true(strlen(pw) >= 32);
    assert_false(cmdline_contains(ipc_redis_server_pid(srv), pw));

    /* a channel on it, and an attacher in another process through the
     * attach config */
    ipc_channel *ch = tl_open("redis", &(ipc_config){ .endpoint = ep, .flags = IPC_ATTACHABLE });
    ipc_config ac;
    assert_ipc(ipc_attach_config(ch, &ac), IPC_OK);
    assert_non_null(strstr(ac.endpoint, pw));
    pid_t pid = tl_fork(30);
    if (pid == 0) {
        ipc_channel *a = NULL;
        if (ipc_open("redis", &ac, &a) != IPC_OK) _exit(1);
        _exit(ipc_send(a, "hi", 2, 0, 3000) == IPC_OK ? 0 : 2);
    }
    assert_int_equal(tl_wait(pid, 30), 0);
    char buf[8];
    size_t got;
    assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 3000), IPC_OK);
    assert_true(got == 2 && memcmp(buf, "hi", 2) == 0);
    /* a wrong password is refused, and no message shows the password */
    char bad[512];
    snprintf(bad, sizeof bad, "redis://:%s@127.0.0.1:%d", "not-the-password", port);
    ipc_channel *b = NULL;
    assert_int_not_equal(ipc_open("redis", &(ipc_config){ .endpoint = bad, .name = ac.name, .flags = IPC_ATTACH }, &b), IPC_OK);
    assert_null(strstr(ipc_last_error(), "not-the-password"));
    ipc_free(ch);
    assert_ipc(ipc_redis_server_stop(srv), IPC_OK);
}

#endif

/* ---- attach checks the owner -------------------------------------------- */

enum { NOBODY = 65534 };

/* As uid NOBODY: open an attachable channel of mech, write its attach
 * config (name\nendpoint\n) to fd, and wait to be killed. */
static int nobody_creator(const char *mech, int fd)
{
    /* SIGTERM blocked before the parent can learn anything: it sends the
     * signal as soon as it has read the config, and a SIGTERM arriving
     * before the block killed the creator before its ipc_free (the names it
     * made were left behind, a SysV queue for good). */
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_BLOCK, &term, NULL);
    if (setgid(NOBODY) < 0 || setuid(NOBODY) < 0) return 10;
    ipc_channel *ch = NULL;
    if (ipc_open(mech, &(ipc_config){ .flags = IPC_ATTACHABLE }, &ch) != IPC_OK) {
        dprintf(fd, "!%s\n", ipc_last_error());
        return 11;
    }
    ipc_config ac;
    if (ipc_attach_config(ch, &ac) != IPC_OK) return 12;
    dprintf(fd, "%s\n%s\n", ac.name ? ac.name : "", ac.endpoint ? ac.endpoint : "");
    close(fd);
    int sig;
    sigwait(&term, &sig); /* then free: a SysV queue has no name to sweep */
    ipc_free(ch);
    return 0;
}

static void test_attach_refuses_another_users_channel(void **state)
{
    (void)state;
    if (geteuid() != 0) { skip(); return; }
    size_t count;
    const ipc_mechanism *const *all = ipc_mechanisms(&count);
    int checked = 0;
    for (size_t i = 0; i < count; i++) {
        const ipc_mechanism *m = all[i];
        /* attach by name on this machine; a mechanism that crosses hosts
         * authenticates by its endpoint (above), not by uid */
        if (!(m->caps & IPC_CAP_UNRELATED) || (m->caps & IPC_CAP_HOSTS)) continue;
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = tl_fork(30);
        if (pid == 0) {
            close(p[0]);
            _exit(nobody_creator(m->name, p[1]));
        }
        close(p[1]);
        char buf[1024] = "";
        size_t n = 0;
        ssize_t r;
        while (n < sizeof buf - 1 && (r = read(p[0], buf + n, sizeof buf - 1 - n)) > 0) {
            n += (size_t)r;
            if (memchr(buf, '\n', n) && strchr(strchr(buf, '\n') + 1, '\n')) break;
        }
        buf[n] = '\0';
        close(p[0]);
        if (buf[0] == '!' || n == 0) {
            kill(pid, SIGKILL);
            tl_wait(pid, 10);
            fail_msg("%s: uid %d could not create a channel: %s", m->name, NOBODY, buf);
        }
        char *name = buf, *ep = strchr(buf, '\n');
        *ep++ = '\0';
        *strchr(ep, '\n') = '\0';
        ipc_channel *ch = NULL;
        int rc = ipc_open(m->name, &(ipc_config){ .name = name[0] ? name : NULL, .endpoint = ep[0] ? ep : NULL,
                                                   .flags = IPC_ATTACH }, &ch);
        char why[256];
        snprintf(why, sizeof why, "%s", ipc_last_error());
        if (ch) ipc_free(ch);
        kill(pid, SIGTERM);
        tl_wait(pid, 10);
        if (rc == IPC_OK) fail_msg("%s: root attached to uid %d's channel '%s%s'", m->name, NOBODY, name, ep);
        if (!strstr(why, "belongs to uid")) fail_msg("%s: refused, but not for its owner: %s", m->name, why);
        checked++;
    }
    assert_true(checked >= 4);
}

/* ---- private directories ------------------------------------------------ */

static void test_private_dirs_are_0700(void **state)
{
    (void)state;
    size_t count;
    const ipc_mechanism *const *all = ipc_mechanisms(&count);
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp) tmp = "/tmp";
    char lead[128];
    snprintf(lead, sizeof lead, "%s.%d.", tl_name_prefix(),
             (int)getpid());
    for (size_t i = 0; i < count; i++) {
        const ipc_mechanism *m = all[i];
        if (!(m->caps & IPC_CAP_UNRELATED) || (m->caps & IPC_CAP_HOSTS)) continue;
        ipc_channel *ch = tl_open(m->name, &(ipc_config){ .flags = IPC_ATTACHABLE });
        DIR *d = opendir(tmp);
        assert_non_null(d);
        for (struct dirent *e; (e = readdir(d));) {
            if (strncmp(e->d_name, lead, strlen(lead)) != 0) continue;
            char path[4096];
            struct stat st;
            snprintf(path, sizeof path, "%s/%s", tmp, e->d_name);
            if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) != 0700)
                fail_msg("%s: %s has mode %o", m->name, path, st.st_mode & 0777);
        }
        closedir(d);
        ipc_free(ch);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#ifdef IPC_WITH_REDIS
        TL_CASE(test_redis_on_tcp_requires_a_password),
#endif
        TL_CASE(test_attach_refuses_another_users_channel),
        TL_CASE(test_private_dirs_are_0700),
    };
    return cmocka_run_group_tests_name("security", tests, NULL, NULL);
}
