/*
 * amqp.c — "amqp" and "amqp-prio": a channel that lives in a RabbitMQ broker,
 * spoken to through rabbitmq-c (AMQP 0-9-1).
 *
 * Where redis.c builds a queue out of Lua scripts, AMQP has queues as its
 * native object, with the delivery guarantees the course's sources send
 * readers to RabbitMQ for: durable queues and persistent messages survive a
 * broker restart, publisher confirms say when the broker holds a message,
 * manual acknowledgements return a dead consumer's message to the queue.
 *
 * Topology, for a channel named N (the queue name is cfg->name, so
 * `rabbitmqctl list_queues` shows it):
 *
 *   queue N          durable; the messages, persistent (delivery-mode 2).
 *                    Bounded: x-max-length = capacity with x-overflow =
 *                    reject-publish, so the broker refuses (nacks) a publish
 *                    into a full queue: IPC_EFULL, never a silent drop (the
 *                    default overflow, drop-head, would lose the oldest).
 *                    amqp-prio: x-max-priority 9 (RabbitMQ keeps FIFO order
 *                    within a priority).
 *   exchange N       direct, durable: senders publish here, key "" -> queue N,
 *                    key "delay" -> queue N.delay.  Its existence IS the
 *                    channel's open state: ipc_close deletes it, and every
 *                    later publish fails with 404 -> IPC_ECLOSED, in every
 *                    process on every host.
 *   queue N.delay    durable; delayed messages with a per-message TTL;
 *                    x-dead-letter-exchange "" with routing key N moves an
 *                    expired message into queue N.
 *   exchange N.close fanout: every connection that receives binds an
 *                    exclusive, auto-deleted "wake queue" to it; ipc_close
 *                    publishes one message there, which wakes every blocked
 *                    receiver everywhere.
 *   exchange N/T     fanout, one per publish/subscribe topic T.
 *
 * Sending.  Every connection's AMQP channel is in confirm mode: a send
 * publishes (mandatory) and waits for the broker's ack, so ipc_send returns
 * only when the broker holds the message (written to disk for a persistent
 * message on a durable queue before the ack).  A nack means reject-publish
 * refused it: the queue is full.  There is no "room again" event in AMQP, so
 * a blocked sender retries with a backoff of 1..32 ms until its deadline
 * (and notices ipc_close at its next retry, within 32 ms).  A basic.return
 * means no queue is bound: the owner freed the channel -> IPC_ECLOSED.
 *
 * Receiving, and "nothing lost".  A receive first asks basic.get (one round
 * trip: the message, or "empty").  A message that does not fit the caller's
 * buffer is rejected with requeue: RabbitMQ puts it back at its original
 * position, so it stays first, *len says its size, and no other receiver is
 * kept from it meanwhile (holding it unacked for our next call would hide it
 * from everyone).  The message is acknowledged only after it has been copied
 * out, so a receiver killed in between loses nothing either: the broker
 * requeues every unacknowledged message of a dead connection.
 * An empty queue: check that exchange N still exists (a passive declare; 404
 * = closed and drained -> IPC_ECLOSED), then basic.consume with prefetch 1
 * (basic.qos) and sleep on the socket until a delivery, the wake queue, or
 * the deadline.  Prefetch 1 matters: without it the broker would push every
 * queued message to the first blocked consumer.  The consumer is cancelled
 * before the delivery is acknowledged; a delivery that raced the cancel is
 * taken (the call returns it), never dropped.
 *
 * Closing.  ipc_close moves pending delayed messages into N (so the drain
 * sees them), deletes exchange N (sends fail from now on), then publishes
 * to N.close.  A receiver's wake queue is bound before its first "is it
 * closed?" check, so a close after that check always wakes it.
 *
 * The broker.  With no endpoint, the first channel of a process starts a
 * private RabbitMQ node: its own temp dir (owned by the rabbitmq user when
 * we are root, since Debian's scripts refuse to run a node as root), node
 * name, free AMQP port, an epmd of its own on a free port bound to
 * 127.0.0.1 (ERL_EPMD_PORT/ERL_EPMD_ADDRESS; erl is told -start_epmd false,
 * so it can never daemonize a stray one), the distribution port bound to
 * 127.0.0.1 (inet_dist_use_interface), and a generated user and password.
 * Both processes are children of a "sitter" thread (core/sitter.h, shared
 * with redis.c), started after the uid change with PR_SET_PDEATHSIG (a uid
 * change clears the death signal, so it is set after it): if this process
 * dies, even by SIGKILL, they get SIGKILL.  Not SIGTERM: a node still
 * booting ignores it (rabbit_prelaunch_sighandler drops sigterm until the
 * broker is up), and once our epmd is gone its boot (ensure_epmd) runs
 * `erl -sname`, which daemonizes an `epmd -daemon` on our port — a node
 * and an epmd nobody owns, seen once in a loaded ASan run (beam alive 100 s
 * after its owner's SIGKILL).  Nothing is lost by SIGKILL: the node's data
 * dir goes with its owner anyway (see IPC_CAP_PERSISTENT below).  Our own
 * stop still sends SIGTERM first and waits (ipc__sitter_stop).
 * Start-up costs 6-12 s, so the broker lingers 30 s after its last channel
 * (ipc_amqp_embedded_linger_ms), and exit stops it at once.  Its lifetime is
 * therefore its creator's: IPC_CAP_PERSISTENT means a broker restarted on
 * its data dir keeps every acknowledged message, which an embedded broker
 * never is.  When the creator dies, a fork()ed holder whose call then fails
 * on the connection is told IPC_ECLOSED (ended_with_creator), the way redis's
 * holders learn that their embedded server went with its creator.
 *
 * fork().  An AMQP connection is a socket with protocol state (channel,
 * confirm sequence numbers): core/pool.h's fork handler drops the child's
 * copies of the pooled connections, and the child opens its own.  A child
 * never stops its parent's broker and never deletes its parent's queues.
 *
 * Threads.  A connection serves one call at a time; each handle keeps a
 * small pool (core/pool.h), as redis.c does.
 */
#define _GNU_SOURCE
#include "brokers/ipc_amqp.h"
#include "ipc_internal.h" /* the core: names, helper threads, fork/exit hooks */

#include <amqp.h>
#include <amqp_tcp_socket.h>

#include <arpa/inet.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

extern const ipc_mechanism ipc_mech_amqp, ipc_mech_amqp_prio;

#define RABBITMQ_SERVER "/usr/lib/rabbitmq/bin/rabbitmq-server" /* Debian: the script, not the su wrapper */
#define MAX_PRIORITY    9      /* x-max-priority of amqp-prio                       */
#define CONFIRM_MS      30000  /* a broker that neither acks nor nacks: broken link */
#define START_MS        120000 /* a loaded 2-core machine: 6-12 s, allow much more  */
#define NAME_MAX_LEN    240    /* AMQP short strings are <= 255 bytes; + ".delay"   */

/* ---- process-wide state ------------------------------------------------ */

typedef struct amqp_chan amqp_chan;

/* g_server_lock guards the embedded broker, its reference count and linger
 * thread; it is held while the broker starts, which forks: so the fork
 * handlers never take it. */
static pthread_mutex_t  g_server_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t   g_server_cond;     /* on CLOCK_MONOTONIC, like every deadline: server_cond_init */
static ipc_amqp_server *g_embedded;
static unsigned         g_embedded_refs;
static int64_t          g_stop_at_ns;      /* refs reached 0: stop then (0: not scheduled) */
static int              g_linger_ms = 30000;
static pthread_once_t   g_once = PTHREAD_ONCE_INIT; /* server_cond_init */
static bool             g_linger_running;  /* the linger thread exists (joinable)          */
static pthread_t        g_linger_thread;

/* ---- servers ----------------------------------------------------------- */

enum { EPMD, BEAM }; /* the sitter's children, in their order of start */

struct ipc_amqp_server {
    ipc_sitter      sitter;           /* epmd, then the broker (core/sitter.h)       */
    pid_t           owner;            /* the process that started it: only it stops it */
    bool            made_dir;
    uid_t           uid;              /* run as (the rabbitmq user when we are root)  */
    gid_t           gid;
    bool            change_uid;
    int             port, dist_port, epmd_port;
    char            bind[64], user[64], password[64];
    char            dir[PATH_MAX], out[PATH_MAX + 16];
    char            endpoint[256];
    char           *env[32];
    char            envbuf[24][PATH_MAX + 64];
    char           *beam_argv[2], *epmd_argv[8];
    char            epmd_port_arg[16];
    char            epmd_exe[PATH_MAX];
};



/* A port nobody listens on right now (the kernel's choice for port 0). */
static int free_port(const char *addr)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return ipc__fail(IPC_ESYS, "amqp: socket");
    struct sockaddr_in sa = { .sin_family = AF_INET };
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        close(fd);
        return ipc__fail(IPC_EINVAL, "amqp: bind address '%s' is not an IPv4 address", addr);
    }
    socklen_t len = sizeof sa;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
        int rc = ipc__fail(IPC_ESYS, "amqp: finding a free port on %s", addr);
        close(fd);
        return rc;
    }
    close(fd);
    return ntohs(sa.sin_port);
}

static bool port_listens(const char *addr, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    inet_pton(AF_INET, addr, &sa.sin_addr);
    bool ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

static void random_hex(char *out, size_t nbytes)
{
    unsigned char raw[32];
    if (nbytes > sizeof raw) nbytes = sizeof raw;
    if (getrandom(raw, nbytes, 0) != (ssize_t)nbytes) { /* never on Linux >= 3.17; still unguessable enough */
        uint64_t x = (uint64_t)ipc_now_ns() ^ ((uint64_t)getpid() << 32);
        for (size_t i = 0; i < nbytes; i++) x = x * 6364136223846793005ULL + 1442695040888963407ULL, raw[i] = (unsigned char)(x >> 56);
    }
    for (size_t i = 0; i < nbytes; i++) snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

/* The sitter starts the broker only once epmd listens, so that erl never
 * starts one of its own. */
static bool epmd_listens(int i, void *arg)
{
    (void)i;
    return port_listens("127.0.0.1", ((const ipc_amqp_server *)arg)->epmd_port);
}

static int set_env(ipc_amqp_server *s, int *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int set_env(ipc_amqp_server *s, int *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(s->envbuf[*n], sizeof s->envbuf[*n], fmt, ap);
    va_end(ap);
    if (len < 0 || (size_t)len >= sizeof s->envbuf[*n]) return ipc__fail(IPC_EINVAL, "amqp: broker dir path too long");
    s->env[*n] = s->envbuf[*n];
    (*n)++;
    s->env[*n] = NULL;
    return IPC_OK;
}

/* The broker's environment and config file: everything points into dir. */
static int prepare(ipc_amqp_server *s)
{
    const char *d = s->dir;
    const char *path = getenv("PATH");
    int n = 0, rc = IPC_OK;
    char cfg[PATH_MAX + 32];
    snprintf(cfg, sizeof cfg, "%s/rabbitmq.config", d);
    rc |= set_env(s, &n, "PATH=%s", path && *path ? path : "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");
    rc |= set_env(s, &n, "HOME=%s", d); /* the Erlang cookie lands here, not in /var/lib/rabbitmq */
    rc |= set_env(s, &n, "LANG=C.UTF-8");
    rc |= set_env(s, &n, "RABBITMQ_NODENAME=ipcplay@localhost"); /* unique per epmd: ours is private */
    rc |= set_env(s, &n, "RABBITMQ_NODE_IP_ADDRESS=%s", s->bind);
    rc |= set_env(s, &n, "RABBITMQ_NODE_PORT=%d", s->port);
    rc |= set_env(s, &n, "RABBITMQ_DIST_PORT=%d", s->dist_port);
    rc |= set_env(s, &n, "RABBITMQ_MNESIA_BASE=%s/mnesia", d);
    rc |= set_env(s, &n, "RABBITMQ_MNESIA_DIR=%s/mnesia/node", d);
    rc |= set_env(s, &n, "RABBITMQ_QUORUM_DIR=%s/mnesia/quorum", d);
    rc |= set_env(s, &n, "RABBITMQ_STREAM_DIR=%s/mnesia/stream", d);
    rc |= set_env(s, &n, "RABBITMQ_FEATURE_FLAGS_FILE=%s/feature_flags", d);
    rc |= set_env(s, &n, "RABBITMQ_PLUGINS_EXPAND_DIR=%s/plugins", d);
    rc |= set_env(s, &n, "RABBITMQ_ENABLED_PLUGINS_FILE=%s/enabled_plugins", d);
    rc |= set_env(s, &n, "RABBITMQ_LOG_BASE=%s/log", d);
    rc |= set_env(s, &n, "RABBITMQ_PID_FILE=%s/pid", d);
    rc |= set_env(s, &n, "RABBITMQ_CONFIG_FILE=%s", cfg);
    rc |= set_env(s, &n, "RABBITMQ_CONF_ENV_FILE=%s/rabbitmq-env.conf", d); /* not /etc's */
    rc |= set_env(s, &n, "RABBITMQ_ALLOW_INPUT=1"); /* the script execs erl: our child IS the broker */
    rc |= set_env(s, &n, "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-noinput -start_epmd false "
                         "-kernel inet_dist_use_interface {127,0,0,1}");
    rc |= set_env(s, &n, "ERL_EPMD_ADDRESS=127.0.0.1");
    rc |= set_env(s, &n, "ERL_EPMD_PORT=%d", s->epmd_port);
    if (rc != IPC_OK) return IPC_EINVAL;

    FILE *f = fopen(cfg, "w");
    if (!f) return ipc__fail(IPC_ESYS, "amqp: writing %s", cfg);
    /* Classic Erlang-term config: no cuttlefish schema pass at boot. */
    fprintf(f, "[{rabbit, [{tcp_listeners, [{\"%s\", %d}]},\n"
               "  {default_user, <<\"%s\">>}, {default_pass, <<\"%s\">>},\n"
               "  {loopback_users, []}, {disk_free_limit, 10000000},\n"
               "  {vm_memory_high_watermark, 0.8}]}].\n",
            s->bind, s->port, s->user, s->password);
    bool ok = fclose(f) == 0;
    char plugins[PATH_MAX + 32];
    snprintf(plugins, sizeof plugins, "%s/enabled_plugins", d);
    if (ok && (f = fopen(plugins, "w"))) {
        ok = fputs("[].\n", f) >= 0;
        ok &= fclose(f) == 0;
    } else {
        ok = false;
    }
    if (!ok) return ipc__fail(IPC_ESYS, "amqp: writing the broker's config in %s", d);
    if (s->change_uid && chown(d, s->uid, s->gid) < 0) return ipc__fail(IPC_ESYS, "amqp: chown %s to rabbitmq", d);
    if (s->change_uid && (chown(cfg, s->uid, s->gid) < 0 || chown(plugins, s->uid, s->gid) < 0))
        return ipc__fail(IPC_ESYS, "amqp: chown the config files to rabbitmq");

    snprintf(s->epmd_port_arg, sizeof s->epmd_port_arg, "%d", s->epmd_port);
    s->epmd_argv[0] = s->epmd_exe;
    s->epmd_argv[1] = "-port";
    s->epmd_argv[2] = s->epmd_port_arg;
    s->epmd_argv[3] = "-address";
    s->epmd_argv[4] = "127.0.0.1";
    s->epmd_argv[5] = NULL;
    s->beam_argv[0] = RABBITMQ_SERVER;
    s->beam_argv[1] = NULL;
    return IPC_OK;
}

static int conn_login(const char *host, int port, const char *user, const char *pass, const char *vhost,
                      int timeout_ms, amqp_connection_state_t *out);

static bool login_ready(void *arg)
{
    const ipc_amqp_server *s = arg;
    amqp_connection_state_t c;
    if (!port_listens(s->bind, s->port) || conn_login(s->bind, s->port, s->user, s->password, "/", 2000, &c) != IPC_OK)
        return false;
    amqp_connection_close(c, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(c);
    return true;
}

int ipc_amqp_server_start(const ipc_amqp_server_opts *opts, ipc_amqp_server **out)
{
    static const ipc_amqp_server_opts defaults = { 0 };
    if (!out) return ipc__fail(IPC_EINVAL, "ipc_amqp_server_start: out is NULL");
    *out = NULL;
    const ipc_amqp_server_opts *o = opts ? opts : &defaults;
    if (o->port < 0 || o->port > 65535) return ipc__fail(IPC_EINVAL, "amqp: port %d out of range", o->port);
    ipc_amqp_server *s = calloc(1, sizeof *s);
    if (!s) return ipc__fail(IPC_ESYS, "calloc");
    /* The script runs erl from $PATH, and epmd sits beside it. */
    if (access(RABBITMQ_SERVER, X_OK) < 0 || !ipc__find_in_path("epmd", s->epmd_exe, sizeof s->epmd_exe)) {
        free(s);
        errno = ENOENT;
        return ipc__fail(IPC_ESYS, "rabbitmq-server not found (%s, epmd in $PATH): apt-get install rabbitmq-server",
                         RABBITMQ_SERVER);
    }
    int rc = IPC_OK;
    snprintf(s->bind, sizeof s->bind, "%s", o->bind ? o->bind : "127.0.0.1");
    if (o->user) snprintf(s->user, sizeof s->user, "%s", o->user);
    else {
        memcpy(s->user, "ipcplay-", 8);
        random_hex(s->user + 8, 6);
    }
    if (o->password) snprintf(s->password, sizeof s->password, "%s", o->password);
    else random_hex(s->password, 16);
    if (strpbrk(s->user, "\"\\:@/") || strpbrk(s->password, "\"\\:@/")) {
        free(s);
        return ipc__fail(IPC_EINVAL, "amqp: user and password must not contain \" \\ : @ /");
    }
    if (geteuid() == 0) {
        /* Debian's scripts will not run a node as root; neither do we. */
        struct passwd pw, *p = NULL;
        char buf[1024];
        int e = getpwnam_r("rabbitmq", &pw, buf, sizeof buf, &p);
        if (e != 0 || !p) {
            free(s);
            /* "not found" only if the lookup could run: out of descriptors,
             * /etc/passwd cannot even be opened */
            if (e == 0 && ipc__fds_left(1) == 0) e = EMFILE;
            if (e != 0 && e != ENOENT && e != ESRCH) {
                errno = e;
                return ipc__fail(IPC_ESYS, "amqp: looking up the 'rabbitmq' user");
            }
            errno = ENOENT;
            return ipc__fail(IPC_ESYS, "amqp: no 'rabbitmq' user: apt-get install rabbitmq-server");
        }
        s->uid = p->pw_uid, s->gid = p->pw_gid, s->change_uid = true;
    }
    int port = o->port ? o->port : free_port(s->bind);
    int dist = free_port("127.0.0.1"), epmd = free_port("127.0.0.1");
    if (port < 0 || dist < 0 || epmd < 0) {
        free(s);
        return port < 0 ? port : dist < 0 ? dist : epmd;
    }
    s->port = port, s->dist_port = dist, s->epmd_port = epmd;
    if (o->dir) {
        if (snprintf(s->dir, sizeof s->dir, "%s", o->dir) >= (int)sizeof s->dir) {
            rc = ipc__fail(IPC_EINVAL, "amqp: dir too long");
            goto fail_free;
        }
    } else {
        /* Named with the run's prefix: a leaked broker or epmd is found by
         * this path in its command line or working directory. */
        if ((rc = ipc__named_tempdir(s->dir, sizeof s->dir, "amqp")) != IPC_OK) goto fail_free;
        s->made_dir = true;
    }
    snprintf(s->out, sizeof s->out, "%s/output", s->dir);
    snprintf(s->endpoint, sizeof s->endpoint, "amqp://%s:%s@%s:%d", s->user, s->password, s->bind, s->port);
    if ((rc = prepare(s)) != IPC_OK) goto fail_dir;
    s->owner = getpid();

    /* Both children of a sitter thread (core/sitter.h), started after the
     * uid change with their death signal (SIGKILL: see the file's note);
     * their output goes to s->out. */
    const ipc_spawn spec[2] = {
        [EPMD] = { .argv = s->epmd_argv, .env = s->env, .dir = s->dir, .out = s->out,
                   .change_uid = s->change_uid, .uid = s->uid, .gid = s->gid, .death_signal = SIGKILL },
        [BEAM] = { .argv = s->beam_argv, .env = s->env, .dir = s->dir, .out = s->out,
                   .change_uid = s->change_uid, .uid = s->uid, .gid = s->gid, .death_signal = SIGKILL },
    };
    if ((rc = ipc__sitter_start(&s->sitter, spec, 2, epmd_listens, s, 5000)) != IPC_OK) goto fail_dir;

    /* Ready when it accepts our login (6-12 s here). */
    if ((rc = ipc__sitter_await(&s->sitter, BEAM, login_ready, s, 100, START_MS, s->out, "rabbitmq-server",
                                "did not accept a login")) != IPC_OK) {
        int saved = errno;
        ipc_amqp_server_stop(s); /* reaps both and removes our temp dir */
        errno = saved;
        return rc;
    }
    *out = s;
    return IPC_OK;

fail_dir:
    if (s->made_dir) ipc__remove_tree(s->dir);
fail_free:
    free(s);
    return rc;
}

int ipc_amqp_server_stop(ipc_amqp_server *s)
{
    if (!s) return IPC_OK;
    int rc = IPC_OK;
    if (s->owner == getpid()) { /* a forked child leaves its parent's broker alone */
        /* the broker first (it syncs its queues: up to 15 s), then epmd */
        bool clean = ipc__sitter_stop(&s->sitter, 15000);
        if (s->made_dir) ipc__remove_tree(s->dir);
        if (!clean) {
            errno = ETIMEDOUT;
            rc = ipc__fail(IPC_ESYS, "amqp: broker %ld or epmd %ld ignored SIGTERM: killed",
                           (long)ipc__sitter_pid(&s->sitter, BEAM), (long)ipc__sitter_pid(&s->sitter, EPMD));
        }
    }
    free(s);
    return rc;
}

#define NO_SERVER(what) ipc__fail(IPC_EINVAL, what ": server is NULL")
const char *ipc_amqp_server_endpoint(const ipc_amqp_server *s) { return s ? s->endpoint : (NO_SERVER("ipc_amqp_server_endpoint"), NULL); }
const char *ipc_amqp_server_dir(const ipc_amqp_server *s) { return s ? s->dir : (NO_SERVER("ipc_amqp_server_dir"), NULL); }
int         ipc_amqp_server_port(const ipc_amqp_server *s) { return s ? s->port : NO_SERVER("ipc_amqp_server_port"); }
const char *ipc_amqp_server_user(const ipc_amqp_server *s) { return s ? s->user : (NO_SERVER("ipc_amqp_server_user"), NULL); }
const char *ipc_amqp_server_password(const ipc_amqp_server *s) { return s ? s->password : (NO_SERVER("ipc_amqp_server_password"), NULL); }
pid_t       ipc_amqp_server_pid(const ipc_amqp_server *s) { return s ? ipc__sitter_pid(&s->sitter, BEAM) : NO_SERVER("ipc_amqp_server_pid"); }
pid_t       ipc_amqp_server_epmd_pid(const ipc_amqp_server *s) { return s ? ipc__sitter_pid(&s->sitter, EPMD) : NO_SERVER("ipc_amqp_server_epmd_pid"); }
#undef NO_SERVER

/* ---- the embedded broker: one per process, shared by its channels ----- */

/* core/sync.h's private condvar: on CLOCK_MONOTONIC, like every deadline
 * (ipc__cond_wait's deadlines would be 1970 on the default clock). */
static int g_server_cond_rc = IPC_OK; /* server_cond_init's answer */
static void server_cond_init(void) { g_server_cond_rc = ipc__cond_init(&g_server_cond, false); }

/* Stops the idle broker when its linger time is up.  Started with the
 * broker, it ends when the broker is gone (stopped here, or at exit). */
static void *linger_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&g_server_lock);
    while (g_embedded) {
        if (g_embedded_refs == 0 && g_stop_at_ns && ipc_now_ns() >= g_stop_at_ns) {
            ipc_amqp_server *s = g_embedded;
            g_embedded = NULL;
            g_stop_at_ns = 0;
            pthread_mutex_unlock(&g_server_lock);
            ipc_amqp_server_stop(s);
            pthread_mutex_lock(&g_server_lock);
            break;
        }
        ipc_deadline d;
        int64_t left_ms = g_embedded_refs == 0 && g_stop_at_ns ? (g_stop_at_ns - ipc_now_ns()) / 1000000 + 1 : -1;
        ipc__deadline_start(&d, left_ms > INT32_MAX ? INT32_MAX : (int)left_ms);
        if (ipc__cond_wait(&g_server_cond, &g_server_lock, &d, NULL) < 0) return NULL;
    }
    pthread_mutex_unlock(&g_server_lock);
    return NULL;
}

static void embedded_at_exit(void)
{
    pthread_mutex_lock(&g_server_lock);
    ipc_amqp_server *s = g_embedded;
    g_embedded = NULL;
    bool join = g_linger_running;
    g_linger_running = false;
    pthread_cond_broadcast(&g_server_cond);
    pthread_mutex_unlock(&g_server_lock);
    if (join) pthread_join(g_linger_thread, NULL);
    ipc_amqp_server_stop(s);
}

/* Take a reference on the embedded broker (starting it) and copy its
 * endpoint.  Started under g_server_lock so two first channels make one. */
static int embedded_acquire(char *endpoint, size_t size)
{
    int rc = IPC_OK;
    pthread_mutex_lock(&g_server_lock);
    if (g_embedded && g_embedded->owner != getpid()) g_embedded = NULL; /* a forked child's copy */
    if (!g_embedded) {
        if (g_linger_running) { /* a finished linger thread of an earlier broker */
            pthread_mutex_unlock(&g_server_lock);
            pthread_join(g_linger_thread, NULL);
            pthread_mutex_lock(&g_server_lock);
            g_linger_running = false;
        }
        if (!g_embedded) rc = ipc_amqp_server_start(NULL, &g_embedded);
        if (rc == IPC_OK && !g_linger_running) {
            ipc_helper h = { .stop_fd = -1 };
            if ((rc = ipc__helper_start(&h, linger_main, NULL)) == IPC_OK) {
                g_linger_thread = h.thread;
                g_linger_running = true;
            } else {
                ipc_amqp_server_stop(g_embedded);
                g_embedded = NULL;
            }
        }
    }
    if (rc == IPC_OK) {
        g_embedded_refs++;
        g_stop_at_ns = 0;
        snprintf(endpoint, size, "%s", g_embedded->endpoint);
        ipc__atexit(embedded_at_exit); /* once: a second registration is a no-op */
    }
    pthread_mutex_unlock(&g_server_lock);
    return rc;
}

static void embedded_release(void)
{
    ipc_amqp_server *stop = NULL;
    pthread_mutex_lock(&g_server_lock);
    if (g_embedded_refs > 0 && --g_embedded_refs == 0 && g_embedded) {
        if (g_embedded->owner != getpid()) {
            g_embedded = NULL; /* a forked child: the parent's broker is not ours */
        } else if (g_linger_ms <= 0) {
            stop = g_embedded;
            g_embedded = NULL;
        } else {
            g_stop_at_ns = ipc_now_ns() + (int64_t)g_linger_ms * 1000000;
        }
        pthread_cond_broadcast(&g_server_cond);
    }
    pthread_mutex_unlock(&g_server_lock);
    ipc_amqp_server_stop(stop);
}

static int process_setup(void);

int ipc_amqp_embedded_linger_ms(int ms)
{
    if (ms < 0) return ipc__fail(IPC_EINVAL, "ipc_amqp_embedded_linger_ms: %d ms (0 or more)", ms);
    int rc = process_setup();
    if (rc != IPC_OK) return rc;
    pthread_mutex_lock(&g_server_lock);
    int old = g_linger_ms;
    g_linger_ms = ms;
    ipc_amqp_server *stop = NULL;
    if (g_embedded && g_embedded_refs == 0 && g_embedded->owner == getpid()) {
        if (g_linger_ms == 0) {
            stop = g_embedded;
            g_embedded = NULL;
        } else {
            g_stop_at_ns = ipc_now_ns() + (int64_t)g_linger_ms * 1000000;
        }
    }
    pthread_cond_broadcast(&g_server_cond);
    pthread_mutex_unlock(&g_server_lock);
    ipc_amqp_server_stop(stop);
    return old;
}

pid_t ipc_amqp_embedded_pid(void)
{
    pthread_mutex_lock(&g_server_lock);
    pid_t pid = g_embedded && g_embedded->owner == getpid() ? ipc__sitter_pid(&g_embedded->sitter, BEAM) : 0;
    pthread_mutex_unlock(&g_server_lock);
    return pid;
}

/* ---- connections ------------------------------------------------------- */

enum { CH = 1 }; /* the one AMQP channel of every connection */

typedef struct conn {
    amqp_connection_state_t st;
    uint64_t next_tag;   /* delivery tag of our next publish (confirm mode counts from 1) */
    bool     wake_ready; /* wake queue bound to N.close and consumed (tag "w")            */
    bool     broken;     /* the socket or the protocol failed: do not pool it             */
} conn;

struct amqp_chan {
    ipc_channel     base;
    int             order;
    pid_t           owner;     /* declared the topology: deletes it at free; 0 = attached */
    bool            embedded;  /* holds a reference on the embedded broker                */
    pid_t           creator;   /* embedded: the process whose broker it is (ended_with_creator) */
    atomic_bool     gone;      /* learned that exchange N is gone (closed or removed).
                                  Relaxed: a hint that saves a round trip; the broker is
                                  the authority, and it only ever goes false -> true.     */
    _Atomic int64_t settled_ns; /* once gone: from this CLOCK_MONOTONIC time an empty
                                  queue means "closed and drained" (see learned_gone).
                                  Relaxed like gone: it only moves earlier.              */
    char            endpoint[256];
    char            host[128], user[64], pass[64], vhost[64];
    int             port;
    char            name[NAME_MAX_LEN + 1], delay_q[NAME_MAX_LEN + 8], close_x[NAME_MAX_LEN + 8];
    ipc_pool        pool;      /* idle connections (core/pool.h) */
};

static amqp_chan *as_amqp(ipc_channel *ch) { return (amqp_chan *)ch; }

/* Closing races routing.  A publish that another channel routed through
 * exchange N just before ipc_close deleted it is still on its way to the
 * queue (RabbitMQ orders messages per channel, not across channels), and its
 * sender gets the confirm once it lands.  So an empty queue means "closed
 * and drained" only CLOSE_SETTLE_MS after the delete: the closer waits that
 * long before it publishes the wake (a woken receiver is settled at once),
 * and a receiver that found the exchange gone by itself (404) waits that
 * long from then.  A settle time is a bound on in-flight routing, not a
 * proof; 250 ms is three orders of magnitude above it on an idle broker. */
#define CLOSE_SETTLE_MS 250

static void learned_gone(amqp_chan *a, bool settled)
{
    int64_t at = settled ? 1 : ipc_now_ns() + (int64_t)CLOSE_SETTLE_MS * 1000000;
    int64_t cur = atomic_load_explicit(&a->settled_ns, memory_order_relaxed);
    while ((cur == 0 || at < cur)
           && !atomic_compare_exchange_weak_explicit(&a->settled_ns, &cur, at, memory_order_relaxed, memory_order_relaxed)) {}
    atomic_store_explicit(&a->gone, true, memory_order_relaxed);
}
static amqp_bytes_t B(const char *s) { return amqp_cstring_bytes(s); }

static int lib_fail(int status, const char *what)
{
    errno = status == AMQP_STATUS_TIMEOUT ? ETIMEDOUT : ECONNRESET;
    return ipc__fail(IPC_ESYS, "amqp %s: %s", what, amqp_error_string2(status));
}

static int conn_login(const char *host, int port, const char *user, const char *pass, const char *vhost,
                      int timeout_ms, amqp_connection_state_t *out)
{
    amqp_connection_state_t st = amqp_new_connection();
    if (!st) return ipc__fail(IPC_ESYS, "amqp_new_connection");
    amqp_socket_t *sock = amqp_tcp_socket_new(st);
    struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
    int status = sock ? amqp_socket_open_noblock(sock, host, port, &tv) : AMQP_STATUS_NO_MEMORY;
    if (status != AMQP_STATUS_OK) {
        amqp_destroy_connection(st);
        errno = status == AMQP_STATUS_TIMEOUT ? ETIMEDOUT : ECONNREFUSED;
        return ipc__fail(IPC_ESYS, "amqp: cannot connect to %s:%d: %s", host, port, amqp_error_string2(status));
    }
    amqp_set_handshake_timeout(st, &tv);
    amqp_rpc_reply_t r = amqp_login(st, vhost, 0, AMQP_DEFAULT_FRAME_SIZE, 0, AMQP_SASL_METHOD_PLAIN, user, pass);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        amqp_destroy_connection(st);
        errno = EACCES;
        return ipc__fail(IPC_ESYS, "amqp: login as '%s' on %s:%d refused (%s)", user, host, port,
                         r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION ? amqp_error_string2(r.library_error)
                                                                         : "wrong user or password?");
    }
    struct timeval rpc = { .tv_sec = CONFIRM_MS / 1000 }; /* a broker that never answers is a broken link */
    amqp_set_rpc_timeout(st, &rpc);
    *out = st;
    return IPC_OK;
}

/* The result of the last synchronous call on c.  A channel error (e.g. 404
 * NOT_FOUND from a passive declare) closes the AMQP channel: we acknowledge
 * it, open it again, and report the code in *code. */
static int channel_setup(conn *c);

static int rpc_result(conn *c, const char *what, int *code)
{
    if (code) *code = 0;
    amqp_rpc_reply_t r = amqp_get_rpc_reply(c->st);
    if (r.reply_type == AMQP_RESPONSE_NORMAL) return IPC_OK;
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        const amqp_channel_close_t *m = r.reply.decoded;
        int reply_code = m->reply_code;
        char text[160];
        snprintf(text, sizeof text, "%.*s", (int)m->reply_text.len, (const char *)m->reply_text.bytes);
        amqp_channel_close_ok_t ok = { 0 };
        if (amqp_send_method(c->st, CH, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok) != AMQP_STATUS_OK) c->broken = true;
        else if (channel_setup(c) != IPC_OK) c->broken = true;
        if (code) *code = reply_code;
        errno = EPROTO;
        return ipc__fail(IPC_ESYS, "amqp %s: %s", what, text);
    }
    c->broken = true;
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) return lib_fail(r.library_error, what);
    errno = ECONNRESET;
    return ipc__fail(IPC_ESYS, "amqp %s: the broker closed the connection", what);
}

static int channel_setup(conn *c)
{
    amqp_channel_open(c->st, CH);
    int rc = rpc_result(c, "channel.open", NULL);
    if (rc == IPC_OK) {
        amqp_confirm_select(c->st, CH);
        rc = rpc_result(c, "confirm.select", NULL);
    }
    if (rc == IPC_OK) { /* prefetch 1: a blocked consumer holds at most one message */
        amqp_basic_qos(c->st, CH, 0, 1, 0);
        rc = rpc_result(c, "basic.qos", NULL);
    }
    c->next_tag = 1;
    c->wake_ready = false;
    if (rc != IPC_OK) c->broken = true;
    return rc;
}

static void conn_free(conn *c, bool polite)
{
    if (!c) return;
    if (polite && !c->broken) amqp_connection_close(c->st, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(c->st);
    free(c);
}

static int conn_open(const amqp_chan *a, conn **out)
{
    conn *c = calloc(1, sizeof *c);
    if (!c) return ipc__fail(IPC_ESYS, "calloc");
    int rc = conn_login(a->host, a->port, a->user, a->pass, a->vhost, 5000, &c->st);
    if (rc != IPC_OK) {
        free(c);
        return rc;
    }
    if ((rc = channel_setup(c)) != IPC_OK) {
        conn_free(c, false);
        return rc;
    }
    *out = c;
    return IPC_OK;
}

static void conn_drop(void *c, bool polite) { conn_free(c, polite); }

/* No liveness check on take: a dead pooled connection fails its first call
 * with a library error, and WITH_RETRY runs the call again on a fresh one. */
static int conn_get(amqp_chan *a, conn **out)
{
    conn *c = ipc__pool_take(&a->pool);
    if (c) {
        *out = c;
        return IPC_OK;
    }
    return conn_open(a, out);
}

static void conn_put(amqp_chan *a, conn *c)
{
    if (!c) return;
    if (c->broken) {
        conn_free(c, true);
        return;
    }
    amqp_maybe_release_buffers(c->st);
    ipc__pool_give(&a->pool, c);
}

/* A fork()ed holder whose call failed on the embedded broker's connection
 * after the creator died is told IPC_ECLOSED (core/process.h). */
static int ended_with_creator(const amqp_chan *a, int rc)
{
    return a->embedded ? ipc__ended_with_creator(rc, a->creator, "amqp", a->name) : rc;
}

/* A pooled connection whose broker restarted (or whose socket died) fails
 * its first call with a library error: run `op` again once on a fresh one. */
#define WITH_RETRY(a, c, rc, op)                                          \
    do {                                                                  \
        for (int try_ = 0; try_ < 2; try_++) {                            \
            if ((rc = conn_get(a, &c)) != IPC_OK) break;                  \
            rc = (op);                                                    \
            bool again_ = c->broken && try_ == 0 && rc == IPC_ESYS;       \
            conn_put(a, c);                                               \
            c = NULL;                                                     \
            if (!again_) break;                                           \
        }                                                                 \
        rc = ended_with_creator(a, rc);                                   \
    } while (0)

/* ---- frames -------------------------------------------------------------- */

static struct timeval *tv_left(const ipc_deadline *d, struct timeval *tv)
{
    int ms = ipc__deadline_poll_ms(d);
    if (ms < 0) return NULL;
    tv->tv_sec = ms / 1000;
    tv->tv_usec = (ms % 1000) * 1000;
    return tv;
}

/* The next frame, or 0 when the deadline passes first. */
static int next_frame(conn *c, amqp_frame_t *f, const ipc_deadline *d)
{
    struct timeval tv;
    for (;;) {
        int st = amqp_simple_wait_frame_noblock(c->st, f, tv_left(d, &tv));
        if (st == AMQP_STATUS_OK) return 1;
        if (st == AMQP_STATUS_TIMEOUT) return 0;
        c->broken = true;
        return lib_fail(st, "waiting for the broker");
    }
}

/* Read the content (header + body frames) that follows a deliver, get-ok or
 * return method.  The caller destroys *m. */
static int read_content(conn *c, amqp_message_t *m)
{
    amqp_rpc_reply_t r = amqp_read_message(c->st, CH, m, 0);
    if (r.reply_type == AMQP_RESPONSE_NORMAL) return IPC_OK;
    c->broken = true;
    return lib_fail(r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION ? r.library_error : AMQP_STATUS_UNEXPECTED_STATE,
                    "reading a message");
}

/* A method frame nobody asked for: channel.close (acknowledge, reopen and
 * report its code), connection.close (broken).  Returns 0 or the code. */
static int unexpected_close(conn *c, const amqp_frame_t *f)
{
    if (f->payload.method.id == AMQP_CHANNEL_CLOSE_METHOD) {
        const amqp_channel_close_t *m = f->payload.method.decoded;
        int code = m->reply_code;
        amqp_channel_close_ok_t ok = { 0 };
        if (amqp_send_method(c->st, CH, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok) != AMQP_STATUS_OK || channel_setup(c) != IPC_OK)
            c->broken = true;
        return code ? code : 1;
    }
    if (f->payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
        c->broken = true;
        return 320;
    }
    return 0;
}

/* ---- sending ------------------------------------------------------------- */

enum { PUB_OK, PUB_FULL, PUB_RETURNED, PUB_CLOSED };

static void fill_props(amqp_basic_properties_t *p, int prio, const char *expiration)
{
    memset(p, 0, sizeof *p);
    p->_flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
    p->delivery_mode = 2; /* persistent */
    if (prio > 0) {
        p->_flags |= AMQP_BASIC_PRIORITY_FLAG;
        p->priority = (uint8_t)(prio > MAX_PRIORITY ? MAX_PRIORITY : prio);
    }
    if (expiration) {
        p->_flags |= AMQP_BASIC_EXPIRATION_FLAG;
        p->expiration = B(expiration);
    }
}

/* Publish n messages and wait until the broker has confirmed every one.
 * *outcome gets PUB_FULL if any was nacked, PUB_RETURNED if any came back
 * unroutable, PUB_CLOSED on 404 (the exchange is gone). */
static int publish_confirmed(amqp_chan *a, conn *c, const char *exchange, const char *key,
                             const amqp_basic_properties_t *props, const void *const *msgs,
                             const size_t *lens, size_t n, int *outcome)
{
    (void)a;
    *outcome = PUB_OK;
    uint64_t first = c->next_tag, last = first + n - 1;
    for (size_t i = 0; i < n; i++) {
        amqp_bytes_t body = { .len = lens[i], .bytes = (void *)(lens[i] ? msgs[i] : "") };
        int st = amqp_basic_publish(c->st, CH, B(exchange), B(key), 1, 0, props, body);
        if (st != AMQP_STATUS_OK) {
            c->broken = true;
            return lib_fail(st, "basic.publish");
        }
        c->next_tag++;
    }
    ipc_deadline d;
    ipc__deadline_start(&d, CONFIRM_MS);
    /* RabbitMQ confirms one channel's publishes to one queue in order, one
     * tag at a time or "multiple" = every tag up to this one. */
    uint64_t confirmed = first - 1;
    while (confirmed < last) {
        amqp_frame_t f;
        int w = next_frame(c, &f, &d);
        if (w < 0) return w;
        if (w == 0) {
            c->broken = true;
            errno = ETIMEDOUT;
            return ipc__fail(IPC_ESYS, "amqp: no publisher confirm within %d ms", CONFIRM_MS);
        }
        if (f.frame_type != AMQP_FRAME_METHOD) continue;
        switch (f.payload.method.id) {
        case AMQP_BASIC_ACK_METHOD: {
            const amqp_basic_ack_t *m = f.payload.method.decoded;
            if (m->delivery_tag > confirmed) confirmed = m->delivery_tag;
            break;
        }
        case AMQP_BASIC_NACK_METHOD: {
            const amqp_basic_nack_t *m = f.payload.method.decoded;
            if (m->delivery_tag > confirmed) confirmed = m->delivery_tag;
            *outcome = PUB_FULL;
            break;
        }
        case AMQP_BASIC_RETURN_METHOD: {
            amqp_message_t m;
            int rc = read_content(c, &m);
            if (rc != IPC_OK) return rc;
            amqp_destroy_message(&m);
            if (*outcome == PUB_OK) *outcome = PUB_RETURNED;
            break;
        }
        case AMQP_BASIC_DELIVER_METHOD: { /* a wake delivery: the channel closed */
            amqp_message_t m;
            int rc = read_content(c, &m);
            if (rc != IPC_OK) return rc;
            amqp_destroy_message(&m);
            learned_gone(a, true);
            break;
        }
        default: {
            int code = unexpected_close(c, &f);
            if (code == 404) {
                *outcome = PUB_CLOSED;
                return IPC_OK;
            }
            if (code) {
                errno = EPROTO;
                return ipc__fail(IPC_ESYS, "amqp: the broker closed the channel (%d) during a publish", code);
            }
        }
        }
    }
    return IPC_OK;
}

static int closed_error(amqp_chan *a, bool removed)
{
    learned_gone(a, removed);
    if (removed) return ipc__fail(IPC_ECLOSED, "amqp: channel '%s' was removed by its owner", a->name);
    return ipc__fail(IPC_ECLOSED, "amqp: channel '%s' is closed", a->name);
}

/* Sleep until the deadline or ms, whichever comes first, restarting after
 * EINTR on an absolute clock (a signal never stretches the wait). */
static void backoff_sleep(const ipc_deadline *d, int ms)
{
    int left = ipc__deadline_poll_ms(d);
    if (left >= 0 && left < ms) ms = left;
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_nsec += (long)ms * 1000000;
    until.tv_sec += until.tv_nsec / 1000000000;
    until.tv_nsec %= 1000000000;
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR) {}
}

static int send_one(amqp_chan *a, conn *c, const void *msg, size_t len, int prio, const ipc_deadline *d)
{
    amqp_basic_properties_t props;
    fill_props(&props, a->order == IPC_PRIORITY ? prio : 0, NULL);
    const void *msgs[1] = { msg };
    for (int pause_ms = 1;; pause_ms = pause_ms < 32 ? pause_ms * 2 : 32) {
        int outcome, rc = publish_confirmed(a, c, a->name, "", &props, msgs, &len, 1, &outcome);
        if (rc != IPC_OK) return rc;
        if (outcome == PUB_OK) return IPC_OK;
        if (outcome == PUB_CLOSED) return closed_error(a, false);
        if (outcome == PUB_RETURNED) return closed_error(a, true);
        /* PUB_FULL: reject-publish refused it; no event says "room again" */
        if (ipc__deadline_passed(d))
            return ipc__fail(IPC_EFULL, "amqp: channel '%s' is full (%zu messages)", a->name, a->base.capacity);
        ipc__blocked(&a->base, IPC_EV_SEND_BLOCKED);
        backoff_sleep(d, pause_ms);
    }
}

static int am_send(ipc_channel *ch, const void *msg, size_t len, int prio, const ipc_deadline *d)
{
    amqp_chan *a = as_amqp(ch);
    conn *c;
    int rc;
    WITH_RETRY(a, c, rc, send_one(a, c, msg, len, prio, d));
    return rc;
}

/* ---- receiving ------------------------------------------------------------ */

/* Bind this connection's wake queue to N.close and consume it (no-ack).
 * Done before the connection's first "is it closed?" check. */
static int wake_setup(amqp_chan *a, conn *c)
{
    if (c->wake_ready) return IPC_OK;
    amqp_queue_declare_ok_t *q = amqp_queue_declare(c->st, CH, amqp_empty_bytes, 0, 0, 1, 1, amqp_empty_table);
    int code, rc = rpc_result(c, "queue.declare (wake queue)", &code);
    if (rc != IPC_OK) return rc;
    char wq[256];
    snprintf(wq, sizeof wq, "%.*s", (int)q->queue.len, (const char *)q->queue.bytes);
    amqp_queue_bind(c->st, CH, B(wq), B(a->close_x), amqp_empty_bytes, amqp_empty_table);
    if ((rc = rpc_result(c, "queue.bind (wake queue)", &code)) != IPC_OK)
        return code == 404 ? closed_error(a, true) : rc;
    amqp_basic_consume(c->st, CH, B(wq), B("w"), 0, 1, 0, amqp_empty_table);
    if ((rc = rpc_result(c, "basic.consume (wake queue)", NULL)) != IPC_OK) return rc;
    c->wake_ready = true;
    return IPC_OK;
}

/* Is exchange N still there?  1 open, 0 closed (the channel was reopened). */
static int still_open(amqp_chan *a, conn *c)
{
    if (atomic_load_explicit(&a->gone, memory_order_relaxed)) return 0;
    amqp_exchange_declare(c->st, CH, B(a->name), B("direct"), 1, 0, 0, 0, amqp_empty_table);
    int code, rc = rpc_result(c, "exchange.declare (passive)", &code);
    if (rc == IPC_OK) return 1;
    if (code == 404) {
        learned_gone(a, false);
        return 0;
    }
    return rc;
}

/* What a received message turns into for the caller. */
typedef struct take {
    void   *buf;
    size_t  cap, *len;
    int    *prio;
    bool    hold;      /* ipc_amqp_recv_unacked: neither ack nor requeue here */
    uint64_t tag;      /* the delivery tag, when held                        */
} take;

/* Copy the message out and settle it: ack (or keep it unacked for the
 * caller), or requeue it when it does not fit (IPC_EMSGSIZE). */
static int deliver(amqp_chan *a, conn *c, amqp_message_t *m, uint64_t tag, take *t)
{
    size_t n = m->body.len;
    *t->len = n;
    int rc = IPC_OK;
    if (n > t->cap) {
        if (amqp_basic_reject(c->st, CH, tag, 1) != AMQP_STATUS_OK) c->broken = true; /* the broker requeues it anyway */
        rc = ipc__fail(IPC_EMSGSIZE, "amqp: message of %zu bytes does not fit a %zu-byte buffer", n, t->cap);
    } else {
        if (n) memcpy(t->buf, m->body.bytes, n);
        if (t->prio)
            *t->prio = a->order == IPC_PRIORITY && (m->properties._flags & AMQP_BASIC_PRIORITY_FLAG) ? m->properties.priority : 0;
        if (t->hold) t->tag = tag;
        else if (amqp_basic_ack(c->st, CH, tag, 0) != AMQP_STATUS_OK) {
            c->broken = true;
            rc = lib_fail(AMQP_STATUS_SOCKET_ERROR, "basic.ack"); /* unacked: the broker requeues it */
        }
    }
    amqp_destroy_message(m);
    return rc;
}

/* One basic.get: 1 took a message (or EMSGSIZE in *rc), 0 empty, <0 error. */
static int try_get(amqp_chan *a, conn *c, take *t, int *result)
{
    amqp_rpc_reply_t r = amqp_basic_get(c->st, CH, B(a->name), 0);
    (void)r;
    int code, rc = rpc_result(c, "basic.get", &code);
    if (rc != IPC_OK) return code == 404 ? closed_error(a, true) : rc;
    if (r.reply.id == AMQP_BASIC_GET_EMPTY_METHOD) return 0;
    uint64_t tag = ((amqp_basic_get_ok_t *)r.reply.decoded)->delivery_tag;
    amqp_message_t m;
    if ((rc = read_content(c, &m)) != IPC_OK) return rc;
    *result = deliver(a, c, &m, tag, t);
    return 1;
}

/* Wait for a delivery on consumer "c" (prefetch 1), a wake, or the
 * deadline; then cancel the consumer.  1 took a message (result in
 * *result), 0 nothing (timed out or woken), <0 error. */
static int consume_wait(amqp_chan *a, conn *c, take *t, const ipc_deadline *d, int *result)
{
    amqp_basic_consume(c->st, CH, B(a->name), B("c"), 0, 0, 0, amqp_empty_table);
    int code, rc = rpc_result(c, "basic.consume", &code);
    if (rc != IPC_OK) return code == 404 ? closed_error(a, true) : rc;
    ipc__blocked(&a->base, IPC_EV_RECV_BLOCKED);
    bool have = false, cancelled = false;
    amqp_message_t held;
    uint64_t tag = 0;
    /* Until a delivery or a wake, then until cancel-ok. */
    while (!cancelled) {
        bool stop = have || atomic_load_explicit(&a->gone, memory_order_relaxed);
        if (stop || ipc__deadline_passed(d)) {
            amqp_basic_cancel(c->st, CH, B("c"));
            if ((rc = rpc_result(c, "basic.cancel", NULL)) != IPC_OK) break;
            cancelled = true;
            if (!amqp_frames_enqueued(c->st)) break;
        }
        amqp_frame_t f;
        int w = cancelled ? next_frame(c, &f, &ipc__nowait) : next_frame(c, &f, d);
        if (w < 0) {
            rc = w;
            break;
        }
        if (w == 0) {
            if (cancelled) break;
            continue; /* the deadline: cancel at the top */
        }
        if (f.frame_type != AMQP_FRAME_METHOD) continue;
        if (f.payload.method.id == AMQP_BASIC_DELIVER_METHOD) {
            const amqp_basic_deliver_t *m = f.payload.method.decoded;
            bool wake = m->consumer_tag.len == 1 && *(const char *)m->consumer_tag.bytes == 'w';
            uint64_t dtag = m->delivery_tag;
            amqp_message_t msg;
            if ((rc = read_content(c, &msg)) != IPC_OK) break;
            if (wake) {
                amqp_destroy_message(&msg);
                learned_gone(a, true);
            } else if (!have) {
                held = msg, tag = dtag, have = true;
            } else { /* cannot happen with prefetch 1; requeue rather than lose it */
                amqp_destroy_message(&msg);
                if (amqp_basic_reject(c->st, CH, dtag, 1) != AMQP_STATUS_OK) c->broken = true;
            }
        } else if (f.payload.method.id == AMQP_BASIC_CANCEL_METHOD) {
            cancelled = true; /* the broker cancelled us: the queue was deleted */
            learned_gone(a, true);
        } else if ((code = unexpected_close(c, &f)) != 0) {
            errno = EPROTO;
            rc = ipc__fail(IPC_ESYS, "amqp: the broker closed the channel (%d) during a receive", code);
            break;
        }
    }
    if (have) {
        if (rc == IPC_OK && !c->broken) {
            *result = deliver(a, c, &held, tag, t);
            return 1;
        }
        amqp_destroy_message(&held); /* unacked on a broken link: requeued by the broker */
    }
    return rc;
}

static int recv_on(amqp_chan *a, conn *c, take *t, const ipc_deadline *d)
{
    for (;;) {
        int result = IPC_OK, got = try_get(a, c, t, &result);
        if (got < 0) return got;
        if (got == 1) return result;
        if (atomic_load_explicit(&a->gone, memory_order_relaxed)) {
            int64_t left_ns = atomic_load_explicit(&a->settled_ns, memory_order_relaxed) - ipc_now_ns();
            if (left_ns <= 0) return ipc__fail(IPC_ECLOSED, "amqp: channel '%s' is closed and drained", a->name);
            if (ipc__deadline_passed(d)) return ipc__fail(IPC_EEMPTY, "amqp: channel '%s' is empty (closing)", a->name);
            backoff_sleep(d, (int)(left_ns / 1000000) + 1); /* until settled, then one more look */
            continue;
        }
        int rc = wake_setup(a, c);
        if (rc != IPC_OK) return rc;
        int open = still_open(a, c);
        if (open < 0) return open;
        if (open == 0) continue; /* closed just now: one more look, then ECLOSED */
        if (ipc__deadline_passed(d)) return ipc__fail(IPC_EEMPTY, "amqp: channel '%s' is empty", a->name);
        got = consume_wait(a, c, t, d, &result);
        if (got < 0) return got;
        if (got == 1) return result;
        if (ipc__deadline_passed(d) && !atomic_load_explicit(&a->gone, memory_order_relaxed)) {
            /* one last look, as redis.c gives one: a message may have come
             * right at the deadline */
            got = try_get(a, c, t, &result);
            if (got < 0) return got;
            if (got == 1) return result;
            return ipc__fail(IPC_EEMPTY, "amqp: channel '%s' is empty", a->name);
        }
    }
}

static int am_recv(ipc_channel *ch, void *buf, size_t cap, size_t *len, int *prio, const ipc_deadline *d)
{
    amqp_chan *a = as_amqp(ch);
    take t = { .buf = buf, .cap = cap, .len = len, .prio = prio };
    conn *c;
    int rc;
    WITH_RETRY(a, c, rc, recv_on(a, c, &t, d));
    return rc;
}

/* ---- close, depth, free ---------------------------------------------------- */

/* Move every delayed message into the channel now (ipc_close: the drain must
 * see them).  Each is confirmed in N before it is acked in N.delay. */
static int shovel_delayed(amqp_chan *a, conn *c)
{
    for (int moved = 0; moved < 100000; moved++) {
        amqp_rpc_reply_t r = amqp_basic_get(c->st, CH, B(a->delay_q), 0);
        int code, rc = rpc_result(c, "basic.get (delay queue)", &code);
        if (rc != IPC_OK) return code == 404 ? IPC_OK : rc;
        if (r.reply.id == AMQP_BASIC_GET_EMPTY_METHOD) return IPC_OK;
        uint64_t tag = ((amqp_basic_get_ok_t *)r.reply.decoded)->delivery_tag;
        amqp_message_t m;
        if ((rc = read_content(c, &m)) != IPC_OK) return rc;
        amqp_basic_properties_t props;
        int prio = (m.properties._flags & AMQP_BASIC_PRIORITY_FLAG) ? m.properties.priority : 0;
        fill_props(&props, prio, NULL);
        const void *msgs[1] = { m.body.bytes };
        size_t lens[1] = { m.body.len };
        int outcome;
        rc = publish_confirmed(a, c, "", a->name, &props, msgs, lens, 1, &outcome);
        amqp_destroy_message(&m);
        if (rc != IPC_OK) return rc;
        if (outcome == PUB_OK) amqp_basic_ack(c->st, CH, tag, 0);
        else amqp_basic_reject(c->st, CH, tag, 1); /* keep it where it was */
        if (outcome != PUB_OK) return IPC_OK;
    }
    return IPC_OK;
}

static int close_on(amqp_chan *a, conn *c)
{
    int rc = shovel_delayed(a, c);
    if (rc != IPC_OK) return rc;
    amqp_exchange_delete(c->st, CH, B(a->name), 0);
    int code;
    if ((rc = rpc_result(c, "exchange.delete", &code)) != IPC_OK) return rc;
    learned_gone(a, false);
    if ((rc = shovel_delayed(a, c)) != IPC_OK) return rc; /* any that raced the delete */
    backoff_sleep(&ipc__forever, CLOSE_SETTLE_MS); /* what was routed before the delete lands */
    amqp_basic_properties_t props;
    fill_props(&props, 0, NULL);
    const void *msgs[1] = { "closed" };
    size_t lens[1] = { 6 };
    int outcome;
    rc = publish_confirmed(a, c, a->close_x, "", &props, msgs, lens, 1, &outcome);
    learned_gone(a, true);
    return rc;
}

static int am_close(ipc_channel *ch)
{
    amqp_chan *a = as_amqp(ch);
    conn *c;
    int rc;
    WITH_RETRY(a, c, rc, close_on(a, c));
    return rc;
}

static long depth_on(amqp_chan *a, conn *c)
{
    amqp_queue_declare_ok_t *q = amqp_queue_declare(c->st, CH, B(a->name), 1, 0, 0, 0, amqp_empty_table);
    return rpc_result(c, "queue.declare (passive)", NULL) == IPC_OK ? (long)q->message_count : -1;
}

static long am_depth(const ipc_channel *ch)
{
    amqp_chan *a = as_amqp((ipc_channel *)ch); /* the pool is internally locked */
    conn *c;
    if (conn_get(a, &c) != IPC_OK) return -1;
    long n = depth_on(a, c);
    conn_put(a, c);
    return n;
}

static int remove_topology(amqp_chan *a, conn *c)
{
    /* The owner removes the name, like unlink() after shm_open(). */
    const char *queues[] = { a->name, a->delay_q }, *exchanges[] = { a->name, a->close_x };
    for (int i = 0; i < 2; i++) {
        amqp_queue_delete(c->st, CH, B(queues[i]), 0, 0);
        if (rpc_result(c, "queue.delete", NULL) != IPC_OK && c->broken) return IPC_ESYS;
        amqp_exchange_delete(c->st, CH, B(exchanges[i]), 0);
        if (rpc_result(c, "exchange.delete", NULL) != IPC_OK && c->broken) return IPC_ESYS;
    }
    return IPC_OK;
}

static void am_free(ipc_channel *ch)
{
    amqp_chan *a = as_amqp(ch);
    if (a->owner == getpid()) {
        conn *c;
        int rc;
        WITH_RETRY(a, c, rc, remove_topology(a, c));
        (void)rc; /* nothing to report from free(); a dead broker has nothing left */
    }
    ipc__pool_destroy(&a->pool);
    if (a->embedded) embedded_release();
    free(a);
}

/* ---- fork: the child must not share its parent's connections ---------- */

static void fork_child(void)
{
    /* The pools drop the parent's connections themselves (core/pool.h).
     * g_server_lock: maybe held by a parent thread starting the broker. */
    pthread_mutex_init(&g_server_lock, NULL);
    server_cond_init();
    g_linger_running = false; /* threads do not cross fork */
}

/* Once per process: the broker's condvar, and the fork handler (core/process.h's
 * table; registering again is a no-op). */
static int process_setup(void)
{
    pthread_once(&g_once, server_cond_init);
    if (g_server_cond_rc != IPC_OK) return ipc__fail(IPC_ESYS, "amqp: pthread_cond_init (monotonic)");
    return ipc__atfork(NULL, NULL, fork_child);
}

/* ---- open -------------------------------------------------------------- */

static int parse_endpoint(amqp_chan *a, const char *endpoint)
{
    char copy[256];
    if (snprintf(copy, sizeof copy, "%s", endpoint) >= (int)sizeof copy)
        return ipc__fail(IPC_EINVAL, "amqp: endpoint too long");
    struct amqp_connection_info info;
    if (strncmp(copy, "amqp://", 7) != 0 || amqp_parse_url(copy, &info) != AMQP_STATUS_OK || info.ssl)
        return ipc__fail(IPC_EINVAL, "amqp: bad endpoint '%s' (want amqp://user:password@host:port/vhost)", endpoint);
    if (snprintf(a->host, sizeof a->host, "%s", info.host) >= (int)sizeof a->host
        || snprintf(a->user, sizeof a->user, "%s", info.user) >= (int)sizeof a->user
        || snprintf(a->pass, sizeof a->pass, "%s", info.password) >= (int)sizeof a->pass
        || snprintf(a->vhost, sizeof a->vhost, "%s", info.vhost) >= (int)sizeof a->vhost)
        return ipc__fail(IPC_EINVAL, "amqp: a part of endpoint '%s' is too long", endpoint);
    a->port = info.port;
    snprintf(a->endpoint, sizeof a->endpoint, "%s", endpoint);
    return IPC_OK;
}

static int declare(amqp_chan *a, conn *c)
{
    /* Refuse a name in use, as redis.c does: two owners would delete each other's queue. */
    amqp_queue_declare(c->st, CH, B(a->name), 1, 0, 0, 0, amqp_empty_table);
    int code, rc = rpc_result(c, "queue.declare (passive)", &code);
    if (rc == IPC_OK)
        return ipc__fail(IPC_EINVAL, "amqp: a queue named '%s' already exists (attach with IPC_ATTACH)", a->name);
    if (code != 404) return rc;

    amqp_table_entry_t e[4];
    int n = 0;
    if (a->base.capacity) {
        e[n].key = B("x-max-length"), e[n].value.kind = AMQP_FIELD_KIND_I64;
        e[n++].value.value.i64 = (int64_t)a->base.capacity;
        e[n].key = B("x-overflow"), e[n].value.kind = AMQP_FIELD_KIND_UTF8;
        e[n++].value.value.bytes = B("reject-publish");
    }
    if (a->order == IPC_PRIORITY) {
        e[n].key = B("x-max-priority"), e[n].value.kind = AMQP_FIELD_KIND_I32;
        e[n++].value.value.i32 = MAX_PRIORITY;
    }
    amqp_table_t args = { .num_entries = n, .entries = e };
    amqp_queue_declare(c->st, CH, B(a->name), 0, 1, 0, 0, args);
    if ((rc = rpc_result(c, "queue.declare", NULL)) != IPC_OK) return rc;

    amqp_table_entry_t de[2] = {
        { .key = B("x-dead-letter-exchange"), .value = { .kind = AMQP_FIELD_KIND_UTF8, .value.bytes = B("") } },
        { .key = B("x-dead-letter-routing-key"), .value = { .kind = AMQP_FIELD_KIND_UTF8, .value.bytes = B(a->name) } },
    };
    amqp_queue_declare(c->st, CH, B(a->delay_q), 0, 1, 0, 0, (amqp_table_t){ .num_entries = 2, .entries = de });
    if ((rc = rpc_result(c, "queue.declare (delay queue)", NULL)) != IPC_OK) return rc;
    amqp_exchange_declare(c->st, CH, B(a->name), B("direct"), 0, 1, 0, 0, amqp_empty_table);
    if ((rc = rpc_result(c, "exchange.declare", NULL)) != IPC_OK) return rc;
    amqp_exchange_declare(c->st, CH, B(a->close_x), B("fanout"), 0, 1, 0, 0, amqp_empty_table);
    if ((rc = rpc_result(c, "exchange.declare (close)", NULL)) != IPC_OK) return rc;
    amqp_queue_bind(c->st, CH, B(a->name), B(a->name), amqp_empty_bytes, amqp_empty_table);
    if ((rc = rpc_result(c, "queue.bind", NULL)) != IPC_OK) return rc;
    amqp_queue_bind(c->st, CH, B(a->delay_q), B(a->name), B("delay"), amqp_empty_table);
    return rpc_result(c, "queue.bind (delay queue)", NULL);
}

static int attach(amqp_chan *a, conn *c)
{
    amqp_queue_declare(c->st, CH, B(a->name), 1, 0, 0, 0, amqp_empty_table);
    int code, rc = rpc_result(c, "queue.declare (passive)", &code);
    if (code == 404) return ipc__fail(IPC_EINVAL, "amqp: no channel named '%s' at %s:%d", a->name, a->host, a->port);
    if (rc != IPC_OK) return rc;
    int open = still_open(a, c);
    if (open < 0) return open;
    if (!open) return ipc__fail(IPC_ECLOSED, "amqp: channel '%s' was shut down by its owner", a->name);
    return IPC_OK;
}

static int am_open(const ipc_mechanism *m, const ipc_config *cfg, ipc_channel **out)
{
    int rc = process_setup();
    if (rc != IPC_OK) return rc;
    if (cfg->name && (!*cfg->name || strlen(cfg->name) > NAME_MAX_LEN))
        return ipc__fail(IPC_EINVAL, "amqp: name must be 1..%d bytes", NAME_MAX_LEN);
    if ((cfg->flags & IPC_ATTACH) && !cfg->name)
        return ipc__fail(IPC_EINVAL, "amqp: IPC_ATTACH needs the channel's name (the queue)");
    if (m->variant == IPC_PRIORITY ? cfg->order == IPC_LIFO : cfg->order != IPC_FIFO)
        return ipc__fail(IPC_EINVAL, "%s: order %d not offered (amqp is FIFO; amqp-prio is IPC_PRIORITY)", m->name, cfg->order);

    amqp_chan *a = ipc__channel_alloc(sizeof *a, m, cfg);
    if (!a) return IPC_ESYS;
    a->order = m->variant; /* the descriptor's order: IPC_FIFO or IPC_PRIORITY */
    if ((rc = ipc__pool_init(&a->pool, conn_drop, NULL)) != IPC_OK) {
        free(a);
        return rc;
    }
    char endpoint[256];
    if (cfg->endpoint) {
        rc = parse_endpoint(a, cfg->endpoint);
    } else {
        rc = embedded_acquire(endpoint, sizeof endpoint);
        a->embedded = rc == IPC_OK;
        a->creator = getpid(); /* embedded_acquire's broker is this process's */
        if (rc == IPC_OK) rc = parse_endpoint(a, endpoint);
    }
    if (rc == IPC_OK) {
        if (cfg->name) snprintf(a->name, sizeof a->name, "%s", cfg->name);
        else rc = ipc__unique_name(a->name, sizeof a->name, "", "");
        snprintf(a->delay_q, sizeof a->delay_q, "%s.delay", a->name);
        snprintf(a->close_x, sizeof a->close_x, "%s.close", a->name);
    }
    conn *c = NULL;
    if (rc == IPC_OK) rc = conn_get(a, &c);
    if (rc == IPC_OK) {
        rc = (cfg->flags & IPC_ATTACH) ? attach(a, c) : declare(a, c);
        conn_put(a, c);
    }
    if (rc != IPC_OK) {
        int saved = errno;
        ipc__pool_destroy(&a->pool);
        if (a->embedded) embedded_release();
        free(a);
        errno = saved;
        return rc;
    }
    a->owner = (cfg->flags & IPC_ATTACH) ? 0 : getpid();
    *out = &a->base;
    return IPC_OK;
}

/* ---- extras -------------------------------------------------------------- */

static bool is_amqp(const ipc_channel *ch)
{
    const ipc_mechanism *m = ipc_channel_mechanism(ch);
    return m == &ipc_mech_amqp || m == &ipc_mech_amqp_prio;
}

static int send_after_on(amqp_chan *a, conn *c, const void *msg, size_t len, int prio, int64_t delay_ms)
{
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%lld", (long long)delay_ms);
    amqp_basic_properties_t props;
    fill_props(&props, a->order == IPC_PRIORITY ? prio : 0, ttl);
    const void *msgs[1] = { msg };
    int outcome, rc = publish_confirmed(a, c, a->name, "delay", &props, msgs, &len, 1, &outcome);
    if (rc != IPC_OK) return rc;
    if (outcome == PUB_CLOSED) return closed_error(a, false);
    if (outcome == PUB_RETURNED) return closed_error(a, true);
    if (outcome == PUB_FULL) {
        errno = EIO;
        return ipc__fail(IPC_ESYS, "amqp: the broker refused a delayed message");
    }
    return IPC_OK;
}

int ipc_amqp_send_after(ipc_channel *ch, const void *msg, size_t len, int prio, int64_t delay_ms)
{
    if (!is_amqp(ch)) return ipc__fail(IPC_EINVAL, "ipc_amqp_send_after: not an amqp channel");
    if ((!msg && len) || delay_ms < 0) return ipc__fail(IPC_EINVAL, "ipc_amqp_send_after: msg is NULL or delay < 0");
    if (ch->closed) return ipc__fail(IPC_ECLOSED, "ipc_amqp_send_after: channel was closed");
    if (len > ch->max_msg)
        return ipc__fail(IPC_EMSGSIZE, "amqp: message of %zu bytes exceeds max_msg %zu", len, ch->max_msg);
    if (ch->capacity)
        return ipc__fail(IPC_ENOTSUP, "amqp: no delayed messages on a bounded channel (a dead-lettered message "
                                      "that meets a full queue is dropped by the broker)");
    amqp_chan *a = as_amqp(ch);
    conn *c;
    int rc;
    WITH_RETRY(a, c, rc, send_after_on(a, c, msg, len, prio, delay_ms));
    return rc;
}

static int batch_on(amqp_chan *a, conn *c, const void *const *msgs, const size_t *lens, size_t n)
{
    amqp_basic_properties_t props;
    fill_props(&props, 0, NULL);
    int outcome, rc = publish_confirmed(a, c, a->name, "", &props, msgs, lens, n, &outcome);
    if (rc != IPC_OK) return rc;
    if (outcome == PUB_CLOSED) return closed_error(a, false);
    if (outcome == PUB_RETURNED) return closed_error(a, true);
    if (outcome == PUB_FULL) {
        errno = EIO;
        return ipc__fail(IPC_ESYS, "amqp: the broker refused a message of the batch");
    }
    return (int)n;
}

int ipc_amqp_send_batch(ipc_channel *ch, const void *const *msgs, const size_t *lens, size_t n)
{
    if (!is_amqp(ch)) return ipc__fail(IPC_EINVAL, "ipc_amqp_send_batch: not an amqp channel");
    if (!msgs || !lens || n > INT32_MAX) return ipc__fail(IPC_EINVAL, "ipc_amqp_send_batch: NULL array or n too big");
    if (ch->closed) return ipc__fail(IPC_ECLOSED, "ipc_amqp_send_batch: channel was closed");
    if (ch->capacity) return ipc__fail(IPC_ENOTSUP, "amqp: batches only on an unbounded channel");
    for (size_t i = 0; i < n; i++) {
        if (!msgs[i] && lens[i]) return ipc__fail(IPC_EINVAL, "ipc_amqp_send_batch: message %zu is NULL", i);
        if (lens[i] > ch->max_msg)
            return ipc__fail(IPC_EMSGSIZE, "amqp: message %zu of %zu bytes exceeds max_msg %zu", i, lens[i], ch->max_msg);
    }
    if (n == 0) return 0;
    amqp_chan *a = as_amqp(ch);
    conn *c;
    int rc;
    WITH_RETRY(a, c, rc, batch_on(a, c, msgs, lens, n));
    return rc;
}

/* After the first message (taken the ordinary way, with the deadline),
 * up to max-1 more in one round trip: basic.get pipelined, replies read in
 * order.  Message i lands at buf + i*each.  A message larger than `each`
 * is rejected back to the queue (with requeue RabbitMQ restores its place)
 * and so is every one taken after it, to keep the order. */
static int recv_batch_on(amqp_chan *a, conn *c, unsigned char *buf, size_t each, size_t *lens, size_t max,
                         const ipc_deadline *d)
{
    take t = { .buf = buf, .cap = each, .len = &lens[0] };
    int rc = recv_on(a, c, &t, d);
    if (rc != IPC_OK) return rc;
    size_t more = max - 1;
    amqp_basic_get_t get = { .queue = B(a->name), .no_ack = 0 };
    for (size_t i = 0; i < more; i++)
        if (amqp_send_method(c->st, CH, AMQP_BASIC_GET_METHOD, &get) != AMQP_STATUS_OK) {
            c->broken = true;
            return lib_fail(AMQP_STATUS_SOCKET_ERROR, "basic.get (pipelined)");
        }
    size_t n = 1, replies = 0;
    bool stopped = false; /* a message did not fit: requeue the rest */
    ipc_deadline reply_d;
    ipc__deadline_start(&reply_d, CONFIRM_MS);
    while (replies < more) {
        amqp_frame_t f;
        int w = next_frame(c, &f, &reply_d);
        if (w <= 0) {
            c->broken = true; /* unread replies: the connection is out of step, and what
                                 it took unacked goes back to the queue when it closes */
            return (int)n;
        }
        if (f.frame_type != AMQP_FRAME_METHOD) continue;
        amqp_method_number_t id = f.payload.method.id;
        if (id == AMQP_BASIC_GET_EMPTY_METHOD) {
            replies++;
        } else if (id == AMQP_BASIC_GET_OK_METHOD) {
            uint64_t tag = ((amqp_basic_get_ok_t *)f.payload.method.decoded)->delivery_tag;
            replies++;
            amqp_message_t m;
            if ((rc = read_content(c, &m)) != IPC_OK) return rc;
            if (!stopped && m.body.len <= each) {
                lens[n] = m.body.len;
                if (m.body.len) memcpy(buf + n * each, m.body.bytes, m.body.len);
                if (amqp_basic_ack(c->st, CH, tag, 0) != AMQP_STATUS_OK) c->broken = true;
                n++;
            } else {
                stopped = true;
                if (amqp_basic_reject(c->st, CH, tag, 1) != AMQP_STATUS_OK) c->broken = true;
            }
            amqp_destroy_message(&m);
        } else if (id == AMQP_BASIC_DELIVER_METHOD) { /* a wake: closed, drain goes on */
            amqp_message_t m;
            if ((rc = read_content(c, &m)) != IPC_OK) return rc;
            amqp_destroy_message(&m);
            learned_gone(a, true);
        } else if (unexpected_close(c, &f)) {
            c->broken = true;
            break;
        }
    }
    return (int)n;
}

int ipc_amqp_recv_batch(ipc_channel *ch, void *buf, size_t each, size_t *lens, size_t max, int timeout_ms)
{
    if (!is_amqp(ch)) return ipc__fail(IPC_EINVAL, "ipc_amqp_recv_batch: not an amqp channel");
    if (!lens || !max || max > 4096 || (!buf && each)) return ipc__fail(IPC_EINVAL, "ipc_amqp_recv_batch: NULL argument or max not 1..4096");
    amqp_chan *a = as_amqp(ch);
    ipc_deadline d;
    int bad = ipc__deadline_begin(&d, timeout_ms, "ipc_amqp_recv_batch");
    if (bad != IPC_OK) return bad;
    conn *c;
    int rc;
    WITH_RETRY(a, c, rc, recv_batch_on(a, c, buf, each, lens, max, &d));
    return rc;
}

struct ipc_amqp_delivery {
    amqp_chan *a;
    conn      *c;   /* checked out of the pool until settled */
    uint64_t   tag;
};

int ipc_amqp_recv_unacked(ipc_channel *ch, void *buf, size_t cap, size_t *len, int *prio, int timeout_ms,
                          ipc_amqp_delivery **out)
{
    if (!out) return ipc__fail(IPC_EINVAL, "ipc_amqp_recv_unacked: out is NULL");
    *out = NULL;
    if (!is_amqp(ch)) return ipc__fail(IPC_EINVAL, "ipc_amqp_recv_unacked: not an amqp channel");
    if (!len || (!buf && cap)) return ipc__fail(IPC_EINVAL, "ipc_amqp_recv_unacked: NULL argument");
    ipc_amqp_delivery *dl = calloc(1, sizeof *dl);
    if (!dl) return ipc__fail(IPC_ESYS, "calloc");
    amqp_chan *a = as_amqp(ch);
    ipc_deadline d;
    ipc__deadline_start(&d, timeout_ms);
    take t = { .buf = buf, .cap = cap, .len = len, .prio = prio, .hold = true };
    int rc = conn_get(a, &dl->c);
    if (rc == IPC_OK) rc = recv_on(a, dl->c, &t, &d);
    if (rc != IPC_OK) {
        if (dl->c) conn_put(a, dl->c);
        free(dl);
        return rc;
    }
    dl->a = a, dl->tag = t.tag;
    *out = dl;
    return IPC_OK;
}

static int settle(ipc_amqp_delivery *d, bool ack)
{
    if (!d) return ipc__fail(IPC_EINVAL, "ipc_amqp_ack/requeue: NULL delivery");
    int st = ack ? amqp_basic_ack(d->c->st, CH, d->tag, 0) : amqp_basic_reject(d->c->st, CH, d->tag, 1);
    int rc = IPC_OK;
    if (st != AMQP_STATUS_OK) {
        d->c->broken = true;
        rc = lib_fail(st, ack ? "basic.ack" : "basic.reject");
    }
    conn_put(d->a, d->c);
    free(d);
    return rc;
}

int ipc_amqp_ack(ipc_amqp_delivery *d) { return settle(d, true); }
int ipc_amqp_requeue(ipc_amqp_delivery *d) { return settle(d, false); }

static int topic_exchange(const amqp_chan *a, const char *topic, char *out, size_t size)
{
    if (!topic || snprintf(out, size, "%s/%s", a->name, topic) >= (int)size || strlen(out) > 255)
        return ipc__fail(IPC_EINVAL, "amqp: topic is NULL or too long");
    return IPC_OK;
}

static int publish_on(amqp_chan *a, conn *c, const char *x, const void *msg, size_t len)
{
    amqp_exchange_declare(c->st, CH, B(x), B("fanout"), 0, 0, 0, 0, amqp_empty_table);
    int rc = rpc_result(c, "exchange.declare (topic)", NULL);
    if (rc != IPC_OK) return rc;
    amqp_basic_properties_t props;
    fill_props(&props, 0, NULL);
    props.delivery_mode = 1; /* broadcast is not stored: transient */
    const void *msgs[1] = { msg };
    int outcome;
    if ((rc = publish_confirmed(a, c, x, "", &props, msgs, &len, 1, &outcome)) != IPC_OK) return rc;
    return outcome == PUB_RETURNED ? 0 : 1;
}

int ipc_amqp_publish(ipc_channel *ch, const char *topic, const void *msg, size_t len)
{
    if (!is_amqp(ch)) return ipc__fail(IPC_EINVAL, "ipc_amqp_publish: not an amqp channel");
    if (!msg && len) return ipc__fail(IPC_EINVAL, "ipc_amqp_publish: msg is NULL");
    if (len > ch->max_msg)
        return ipc__fail(IPC_EMSGSIZE, "amqp: message of %zu bytes exceeds max_msg %zu", len, ch->max_msg);
    amqp_chan *a = as_amqp(ch);
    char x[2 * NAME_MAX_LEN];
    int rc = topic_exchange(a, topic, x, sizeof x);
    if (rc != IPC_OK) return rc;
    conn *c;
    WITH_RETRY(a, c, rc, publish_on(a, c, x, msg, len));
    return rc;
}

struct ipc_amqp_sub {
    conn          *c;        /* its own connection                           */
    amqp_message_t held;     /* a message that did not fit the last buffer    */
    bool           holding, embedded;
};

int ipc_amqp_subscribe(ipc_channel *ch, const char *topic, ipc_amqp_sub **out)
{
    if (!out) return ipc__fail(IPC_EINVAL, "ipc_amqp_subscribe: out is NULL");
    *out = NULL;
    if (!is_amqp(ch)) return ipc__fail(IPC_EINVAL, "ipc_amqp_subscribe: not an amqp channel");
    amqp_chan *a = as_amqp(ch);
    char x[2 * NAME_MAX_LEN];
    int rc = topic_exchange(a, topic, x, sizeof x);
    if (rc != IPC_OK) return rc;
    ipc_amqp_sub *s = calloc(1, sizeof *s);
    if (!s) return ipc__fail(IPC_ESYS, "calloc");
    if (a->embedded) { /* keep the embedded broker alive for as long as the subscriber */
        char endpoint[256];
        if ((rc = embedded_acquire(endpoint, sizeof endpoint)) != IPC_OK) {
            free(s);
            return rc;
        }
        s->embedded = true;
    }
    if ((rc = conn_open(a, &s->c)) == IPC_OK) {
        amqp_exchange_declare(s->c->st, CH, B(x), B("fanout"), 0, 0, 0, 0, amqp_empty_table);
        rc = rpc_result(s->c, "exchange.declare (topic)", NULL);
    }
    char q[256] = "";
    if (rc == IPC_OK) {
        amqp_queue_declare_ok_t *r = amqp_queue_declare(s->c->st, CH, amqp_empty_bytes, 0, 0, 1, 1, amqp_empty_table);
        if ((rc = rpc_result(s->c, "queue.declare (subscriber)", NULL)) == IPC_OK)
            snprintf(q, sizeof q, "%.*s", (int)r->queue.len, (const char *)r->queue.bytes);
    }
    if (rc == IPC_OK) {
        amqp_queue_bind(s->c->st, CH, B(q), B(x), amqp_empty_bytes, amqp_empty_table);
        rc = rpc_result(s->c, "queue.bind (subscriber)", NULL);
    }
    if (rc == IPC_OK) { /* no-ack: a broadcast copy is this subscriber's alone */
        amqp_basic_consume(s->c->st, CH, B(q), B("s"), 0, 1, 1, amqp_empty_table);
        rc = rpc_result(s->c, "basic.consume (subscriber)", NULL);
    }
    if (rc != IPC_OK) {
        ipc_amqp_sub_free(s);
        return rc;
    }
    *out = s;
    return IPC_OK;
}

int ipc_amqp_sub_recv(ipc_amqp_sub *s, void *buf, size_t cap, size_t *len, int timeout_ms)
{
    if (!s || !len || (!buf && cap)) return ipc__fail(IPC_EINVAL, "ipc_amqp_sub_recv: NULL argument");
    ipc_deadline d;
    int bad = ipc__deadline_begin(&d, timeout_ms, "ipc_amqp_sub_recv");
    if (bad != IPC_OK) return bad;
    while (!s->holding) {
        amqp_frame_t f;
        int w = next_frame(s->c, &f, &d);
        if (w < 0) return w;
        if (w == 0) return ipc__fail(IPC_EEMPTY, "amqp: no message published before the deadline");
        if (f.frame_type != AMQP_FRAME_METHOD) continue;
        if (f.payload.method.id == AMQP_BASIC_DELIVER_METHOD) {
            int rc = read_content(s->c, &s->held);
            if (rc != IPC_OK) return rc;
            s->holding = true;
        } else if (unexpected_close(s->c, &f)) {
            errno = EPROTO;
            return ipc__fail(IPC_ESYS, "amqp: the broker closed the subscriber's channel");
        }
    }
    *len = s->held.body.len;
    if (s->held.body.len > cap)
        return ipc__fail(IPC_EMSGSIZE, "amqp: message of %zu bytes does not fit a %zu-byte buffer", s->held.body.len, cap);
    if (s->held.body.len) memcpy(buf, s->held.body.bytes, s->held.body.len);
    amqp_destroy_message(&s->held);
    s->holding = false;
    return IPC_OK;
}

void ipc_amqp_sub_free(ipc_amqp_sub *s)
{
    if (!s) return;
    if (s->holding) amqp_destroy_message(&s->held);
    conn_free(s->c, true); /* its exclusive queue goes with the connection */
    if (s->embedded) embedded_release();
    free(s);
}

/* ---- the mechanisms ---------------------------------------------------- */

/* The queue and the broker (with its credentials: they are what an
 * attacher needs, exactly as a redis:// endpoint is for redis). */
static int am_attach_config(const ipc_channel *ch, ipc_config *cfg)
{
    const amqp_chan *a = (const amqp_chan *)ch;
    cfg->name = a->name;
    cfg->endpoint = a->endpoint;
    return IPC_OK;
}

static const struct ipc_ops amqp_ops = {
    .open = am_open, .send = am_send, .recv = am_recv, .close = am_close,
    .free = am_free, .pollfd = NULL, /* waiting happens on a protocol socket */
    .depth = am_depth, .attach_config = am_attach_config,
};

#define AMQP_CAPS (IPC_CAP_THREADS | IPC_CAP_FORK | IPC_CAP_UNRELATED | IPC_CAP_HOSTS | IPC_CAP_MPMC \
                   | IPC_CAP_BOUNDED | IPC_CAP_PERSISTENT | IPC_CAP_BROADCAST | IPC_CAP_CLOSE_WAKES)

const ipc_mechanism ipc_mech_amqp = {
    .name = "amqp", .family = "brokers",
    .family_id = IPC_FAMILY_BROKERS, .carrier = IPC_CARRIER_BROKER, .variant = IPC_FIFO,
    .summary = "RabbitMQ durable queue, publisher confirms, manual acks; embedded broker by default (amqp:// to share)",
    .caps = AMQP_CAPS | IPC_CAP_FIFO,
    .max_msg_limit = 32u << 20, .default_max_msg = 1u << 20, .default_capacity = 0,
    .wait_strategy = "broker push (basic.consume, prefetch 1); full: retry 1-32 ms", .ops = &amqp_ops,
};

const ipc_mechanism ipc_mech_amqp_prio = {
    .name = "amqp-prio", .family = "brokers",
    .family_id = IPC_FAMILY_BROKERS, .carrier = IPC_CARRIER_BROKER, .variant = IPC_PRIORITY,
    .summary = "RabbitMQ priority queue (x-max-priority 9): higher first, ties first-in first-out",
    .caps = AMQP_CAPS | IPC_CAP_PRIORITY,
    .max_msg_limit = 32u << 20, .default_max_msg = 1u << 20, .default_capacity = 0,
    .wait_strategy = "broker push (basic.consume, prefetch 1); full: retry 1-32 ms", .ops = &amqp_ops,
};
