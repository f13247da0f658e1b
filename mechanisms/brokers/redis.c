/*
 * redis.c — "redis" and "redis-prio": a channel that lives in a Redis server.
 *
 * The first mechanism in the course whose queue is not in any of the
 * processes that use it: every send and receive is a request to a server
 * (over a Unix socket, or TCP to another machine), and the messages stay in
 * the server when the processes come and go — or, with the append-only file,
 * even when the server itself restarts.
 *
 * Data layout, for a channel named N (the key name is cfg->name, so
 * `redis-cli LRANGE N 0 -1` shows the queue):
 *
 *   N          the messages: a list (FIFO: LPUSH at the head, pop at the
 *              tail; LIFO: pop at the head) or, for priority order, a sorted
 *              set with score -prio and member "<14 hex digits of a sequence
 *              number><payload>", so ZRANGE N 0 0 is the highest priority
 *              and, among equals, the oldest (PriorityQueue's tie-break);
 *   N:meta     a hash: order, capacity, max_msg, the sequence counter, and
 *              "closed" once ipc_close was called;
 *   N:delayed  the delay queue: a sorted set scored by due time (ms);
 *   N:bell     a list that is non-empty exactly while a receive can succeed
 *              (messages are ready, or the channel is closed);
 *   N:space    the same for senders on a bounded channel (room, or closed).
 *
 * Atomicity.  Every change of state is one Lua script, and Redis runs a
 * script as a single step: "check closed, check the capacity, push, ring
 * the bell" cannot interleave with another client.  So capacity is exact
 * (IPC_CAP_BOUNDED), and a receive can look at the next message, see that it
 * does not fit the caller's buffer and leave it where it is — the EMSGSIZE
 * rule with no race.  (The alternative, BRPOP and push it back with RPUSH on
 * EMSGSIZE, has two races: another consumer can take the message behind it,
 * and a crash between the two commands loses it.)
 *
 * Waiting.  A script cannot block, and a blocking pop (BRPOP, BZPOPMAX) takes
 * the message before we can check its size.  So a caller that found nothing
 * to do sleeps on the bell instead: BLMOVE N:bell N:bell RIGHT RIGHT timeout
 * moves the bell's only element onto itself — it changes nothing, but it
 * blocks until the list is non-empty.  Because that move is itself a write,
 * Redis hands the bell on to the next blocked client, so every sleeper wakes
 * (a thundering herd: the losers find nothing and sleep again).  The bell is
 * state, not an event, so a wake-up can never be lost between "found
 * nothing" and "sleep".  The retry is pipelined behind the BLMOVE, so Redis
 * runs it the moment the bell rings: a woken receiver gets its message in
 * the same round trip.  Redis's timeout is in seconds (a float since 6.0)
 * and is checked hz times a second: the embedded server runs with --hz 100
 * for 10 ms resolution; an external server's default hz 10 may be 100 ms
 * late.  BLMOVE needs Redis >= 6.2.
 *
 * Closing.  ipc_close sets N:meta closed and rings both bells, which wakes
 * every sleeper in every process on every host.  Sends fail from then on;
 * receives drain what is queued (delayed messages become due at once) and
 * then answer IPC_ECLOSED.
 *
 * The delay queue.  ipc_redis_send_at puts a message into N:delayed.  There
 * is no mover process: every receive first moves the due messages over (in
 * the same script, using the server's clock), and a receiver never sleeps
 * past the earliest due time, so someone is always awake to move it.
 *
 * The embedded server.  With no endpoint, the first channel of a process
 * starts a private redis-server on a Unix socket in a fresh temp dir, and
 * the last channel (or exit) stops it.  It is a child of a "sitter" thread
 * that only waits for it, and it is started with PR_SET_PDEATHSIG: if our
 * process dies, even by SIGKILL, the kernel sends the server SIGTERM, so it
 * does not outlive us.  (The death signal fires when the *thread* that
 * forked it ends; that is why a dedicated thread forks it.)  The sitter,
 * the readiness wait and the stop by pid are core/sitter.h's, shared with
 * amqp.c.  So the server's lifetime is its creator's: when the creator
 * dies, a fork()ed holder whose call then fails on the connection is told
 * IPC_ECLOSED, not IPC_ESYS (ended(), core/process.h): the channel ended
 * with its creator, and the messages it held went with it.
 *
 * fork().  A hiredis connection is a socket plus a half-read reply buffer:
 * two processes using one would interleave their requests.  core/pool.h's
 * fork handler drops the child's copies of all pooled connections; the child
 * opens its own on first use.  Our own fork handler (core/process.h) only
 * keeps g_lock and g_server_lock usable in the child.  A child never stops
 * its parent's server and never deletes the keys of a channel its parent
 * created.
 *
 * Threads.  A connection serves one request at a time, and a receiver may
 * sit in BLMOVE for a long time, so each handle keeps a small pool: a call
 * takes an idle connection (or opens one) and gives it back when done
 * (core/pool.h; an idle connection the server closed is dropped on take).
 */
#define _GNU_SOURCE
#include "brokers/ipc_redis.h"
#include "brokers/redis_reply.h"
#include "../ipc_internal.h"


#include <hiredis.h>

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

extern const ipc_mechanism ipc_mech_redis, ipc_mech_redis_prio;

/* ---- the scripts ------------------------------------------------------- *
 * KEYS: the queue, meta, bell, space, delayed.  ARGV[1] order, ARGV[2]
 * capacity (0 = unbounded), then per script.  Integer codes in the replies
 * are the IPC_E* values; -9 means "the keys are gone: the owner freed it". */
#define LUA_PRELUDE                                                                  \
    "local q, meta, bell, space, delayed = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]\n" \
    "local order, capacity = tonumber(ARGV[1]), tonumber(ARGV[2])\n"                 \
    "local function ready()\n"                                                       \
    "  if order == 2 then return redis.call('ZCARD', q) end\n"                      \
    "  return redis.call('LLEN', q)\n"                                               \
    "end\n"                                                                          \
    "local function total() return ready() + redis.call('ZCARD', delayed) end\n"    \
    "local function ring(k)\n"                                                       \
    "  if redis.call('EXISTS', k) == 0 then redis.call('RPUSH', k, '1') end\n"      \
    "end\n"                                                                          \
    "local function enqueue(seq, prio, msg)\n"                                       \
    "  if order == 2 then redis.call('ZADD', q, -prio, string.format('%014x', seq) .. msg)\n" \
    "  else redis.call('LPUSH', q, msg) end\n"                                       \
    "  ring(bell)\n"                                                                 \
    "end\n"                                                                          \
    "local function now_ms()\n"                                                      \
    "  local t = redis.call('TIME')\n"                                               \
    "  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"           \
    "end\n"

/* CREATE (ARGV[3] max_msg): 0, or -1 if a channel of that name exists. */
static const char lua_create[] = LUA_PRELUDE
    "if redis.call('EXISTS', meta) == 1 then return -1 end\n"
    "redis.call('DEL', q, bell, space, delayed)\n"
    "redis.call('HSET', meta, 'order', order, 'capacity', capacity, 'max_msg', ARGV[3], 'seq', 0)\n"
    "if capacity > 0 then ring(space) end\n"
    "return 0\n";

/* PUSH (ARGV[3] prio, ARGV[4] message, ARGV[5] due time or absent):
 * 0, -1 full, -3 closed, -9 gone. */
static const char lua_push[] = LUA_PRELUDE
    "local st = redis.call('HMGET', meta, 'seq', 'closed')\n"
    "if not st[1] then return -9 end\n"
    "if st[2] then return -3 end\n"
    "if capacity > 0 and total() >= capacity then redis.call('DEL', space) return -1 end\n"
    "local seq, prio = redis.call('HINCRBY', meta, 'seq', 1), tonumber(ARGV[3])\n"
    "if ARGV[5] then\n"
    "  redis.call('ZADD', delayed, ARGV[5], string.format('%014x%+011d', seq, prio) .. ARGV[4])\n"
    "else enqueue(seq, prio, ARGV[4]) end\n"
    "if capacity > 0 and total() >= capacity then redis.call('DEL', space) end\n"
    "return 0\n";

/* POP (ARGV[3] the caller's buffer size): {0, prio, message}, {-4, size}
 * (left queued), {-2, ms until the next delayed message or -1}, {-3}, {-9}. */
static const char lua_pop[] = LUA_PRELUDE
    "local st = redis.call('HMGET', meta, 'seq', 'closed')\n"
    "if not st[1] then return {-9} end\n"
    "local closed = st[2] ~= false\n"
    "local moving = redis.call('ZRANGEBYSCORE', delayed, '-inf', closed and '+inf' or now_ms(), 'LIMIT', 0, 256)\n"
    "for _, m in ipairs(moving) do\n"
    "  redis.call('ZREM', delayed, m)\n"
    "  enqueue(tonumber(m:sub(1, 14), 16), tonumber(m:sub(15, 25)), m:sub(26))\n"
    "end\n"
    "local v, prio, member = false, 0, nil\n"
    "if order == 2 then\n"
    "  local r = redis.call('ZRANGE', q, 0, 0, 'WITHSCORES')\n"
    "  if r[1] then member = r[1]; v = member:sub(15); prio = -tonumber(r[2]) end\n"
    "elseif order == 1 then v = redis.call('LINDEX', q, 0)\n"
    "else v = redis.call('LINDEX', q, -1) end\n"
    "if not v then\n"
    "  if closed then return {-3} end\n"
    "  redis.call('DEL', bell)\n"
    "  local nxt = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')\n"
    "  if nxt[1] then return {-2, math.max(1, tonumber(nxt[2]) - now_ms())} end\n"
    "  return {-2, -1}\n"
    "end\n"
    "if #v > tonumber(ARGV[3]) then return {-4, #v} end\n"
    "if order == 2 then redis.call('ZREM', q, member)\n"
    "elseif order == 1 then redis.call('LPOP', q)\n"
    "else redis.call('RPOP', q) end\n"
    "if not closed and ready() == 0 then redis.call('DEL', bell) end\n"
    "if capacity > 0 then ring(space) end\n"
    "return {0, prio, v}\n";

/* CLOSE: mark closed and wake every sleeper.  0. */
static const char lua_close[] = LUA_PRELUDE
    "if redis.call('EXISTS', meta) == 0 then return 0 end\n"
    "redis.call('HSET', meta, 'closed', '1')\n"
    "ring(bell)\n"
    "ring(space)\n"
    "return 0\n";

/* PUSHN (ARGV[3..] the messages, prio 0): one script for a whole batch,
 * all or nothing.  0, -1 no room for all, -3 closed, -9 gone. */
static const char lua_pushn[] = LUA_PRELUDE
    "local st = redis.call('HMGET', meta, 'seq', 'closed')\n"
    "if not st[1] then return -9 end\n"
    "if st[2] then return -3 end\n"
    "local n = #ARGV - 2\n"
    "if capacity > 0 and total() + n > capacity then return -1 end\n"
    "local seq = redis.call('HINCRBY', meta, 'seq', n) - n\n"
    "if order == 2 then\n"
    "  for i = 3, #ARGV do seq = seq + 1; redis.call('ZADD', q, 0, string.format('%014x', seq) .. ARGV[i]) end\n"
    "else\n"
    "  for i = 3, #ARGV, 1000 do redis.call('LPUSH', q, unpack(ARGV, i, math.min(i + 999, #ARGV))) end\n"
    "end\n"
    "ring(bell)\n"
    "if capacity > 0 and total() >= capacity then redis.call('DEL', space) end\n"
    "return 0\n";

/* POPN (ARGV[3] the size of each slot, ARGV[4] how many at most): the
 * messages that are ready, in order, up to the first that does not fit
 * (which stays queued).  {0, m1, m2, ...} (maybe none), {-9}. */
static const char lua_popn[] = LUA_PRELUDE
    "local st = redis.call('HMGET', meta, 'seq', 'closed')\n"
    "if not st[1] then return {-9} end\n"
    "local closed = st[2] ~= false\n"
    "local moving = redis.call('ZRANGEBYSCORE', delayed, '-inf', closed and '+inf' or now_ms(), 'LIMIT', 0, 256)\n"
    "for _, m in ipairs(moving) do\n"
    "  redis.call('ZREM', delayed, m)\n"
    "  enqueue(tonumber(m:sub(1, 14), 16), tonumber(m:sub(15, 25)), m:sub(26))\n"
    "end\n"
    "local out, each = {0}, tonumber(ARGV[3])\n"
    "for i = 1, tonumber(ARGV[4]) do\n"
    "  local v, member = false, nil\n"
    "  if order == 2 then\n"
    "    local r = redis.call('ZRANGE', q, 0, 0)\n"
    "    if r[1] then member = r[1]; v = member:sub(15) end\n"
    "  elseif order == 1 then v = redis.call('LINDEX', q, 0)\n"
    "  else v = redis.call('LINDEX', q, -1) end\n"
    "  if not v or #v > each then break end\n"
    "  if order == 2 then redis.call('ZREM', q, member)\n"
    "  elseif order == 1 then redis.call('LPOP', q)\n"
    "  else redis.call('RPOP', q) end\n"
    "  out[#out + 1] = v\n"
    "end\n"
    "if not closed and ready() == 0 then redis.call('DEL', bell) end\n"
    "if capacity > 0 and #out > 1 then ring(space) end\n"
    "return out\n";

enum script_id { S_CREATE, S_PUSH, S_POP, S_CLOSE, S_PUSHN, S_POPN, S_COUNT };

/* EVALSHA sends 40 bytes instead of the script; the SHA1 comes from SCRIPT
 * LOAD the first time.  A restarted server has forgotten its scripts and
 * answers NOSCRIPT: then EVAL sends the text (and caches it again). */
static struct {
    const char *lua;
    char        sha[41];
    atomic_bool known;
} scripts[S_COUNT] = {
    [S_CREATE] = { .lua = lua_create }, [S_PUSH] = { .lua = lua_push },
    [S_POP] = { .lua = lua_pop },       [S_CLOSE] = { .lua = lua_close },
    [S_PUSHN] = { .lua = lua_pushn },   [S_POPN] = { .lua = lua_popn },
};

/* ---- process-wide state ------------------------------------------------ */

typedef struct redis_channel redis_channel;

/* g_lock guards the script SHAs (the fork handlers hold it across fork).
 * g_server_lock guards the embedded server and its
 * reference count; it is held while the server starts — and starting it
 * forks, which runs our fork handlers: so those never take it. */
static pthread_mutex_t   g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t   g_server_lock = PTHREAD_MUTEX_INITIALIZER;
static ipc_redis_server *g_embedded;
static unsigned          g_embedded_refs;

/* ---- servers ----------------------------------------------------------- */

struct ipc_redis_server {
    ipc_sitter      sitter;    /* the redis-server process, child 0 (core/sitter.h) */
    pid_t           owner;     /* the process that started it: only it stops it */
    bool            made_dir;  /* dir is a temp dir of ours: remove on stop    */
    char            exe[PATH_MAX];
    char           *argv[32];
    char            port_arg[16];
    char            dir[PATH_MAX], sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char            log[PATH_MAX + 16], endpoint[PATH_MAX + 16];
    char            conf[PATH_MAX + 16]; /* with bind: holds requirepass (0600) */
    char            password[33];        /* with bind: 128 random bits, hex     */
};



static bool ping(const char *sock, const char *password)
{
    redisContext *c = redisConnectUnixWithTimeout(sock, (struct timeval){ .tv_usec = 200000 });
    bool ok = false;
    if (c && !c->err) {
        if (password[0]) {
            redisReply *a = redisCommand(c, "AUTH %s", password);
            if (a) freeReplyObject(a);
        }
        redisReply *r = redisCommand(c, "PING");
        ok = r && r->type == REDIS_REPLY_STATUS; /* -LOADING while replaying the AOF */
        if (r) freeReplyObject(r);
    }
    if (c) redisFree(c);
    return ok;
}

static bool ping_ready(void *arg)
{
    const ipc_redis_server *s = arg;
    return ping(s->sock, s->password);
}

static void server_args(ipc_redis_server *s, const ipc_redis_server_opts *o)
{
    int n = 0;
    char **a = s->argv;
    a[n++] = s->exe;
    if (o->bind) a[n++] = s->conf; /* a config file must come first: requirepass */
    a[n++] = "--port";       a[n++] = s->port_arg;
    if (o->bind) {
        /* Reachable from other hosts: protected mode stays on (redis's
         * default) and every client must AUTH with the generated password,
         * which the endpoint carries (see write_conf). */
        a[n++] = "--bind";          a[n++] = (char *)o->bind;
    }
    a[n++] = "--unixsocket";     a[n++] = s->sock;
    a[n++] = "--unixsocketperm"; a[n++] = "700";
    a[n++] = "--dir";            a[n++] = s->dir;
    a[n++] = "--logfile";        a[n++] = s->log;
    a[n++] = "--save";           a[n++] = "";
    a[n++] = "--appendonly";     a[n++] = o->appendonly ? "yes" : "no";
    a[n++] = "--daemonize";      a[n++] = "no";
    a[n++] = "--hz";             a[n++] = "100"; /* 10 ms blocking-timeout resolution */
    a[n] = NULL;
}

/* A server other hosts can reach needs a password: 128 random bits, hex,
 * written to a 0600 config file in the server's dir (not on its command
 * line, which every user can read in /proc). */
static int write_conf(ipc_redis_server *s)
{
    unsigned char r[16];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) return ipc__fail(IPC_ESYS, "getrandom");
    for (size_t i = 0; i < sizeof r; i++) snprintf(s->password + 2 * i, 3, "%02x", r[i]);
    snprintf(s->conf, sizeof s->conf, "%s/redis.conf", s->dir);
    int fd = open(s->conf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return ipc__fail(IPC_ESYS, "redis: open(%s)", s->conf);
    char line[64];
    int n = snprintf(line, sizeof line, "requirepass %s\n", s->password);
    bool ok = write(fd, line, (size_t)n) == n;
    if (close(fd) < 0 || !ok) return ipc__fail(IPC_ESYS, "redis: write(%s)", s->conf);
    return IPC_OK;
}

int ipc_redis_server_start(const ipc_redis_server_opts *opts, ipc_redis_server **out)
{
    static const ipc_redis_server_opts defaults = { 0 };
    if (!out) return ipc__fail(IPC_EINVAL, "ipc_redis_server_start: out is NULL");
    *out = NULL;
    const ipc_redis_server_opts *o = opts ? opts : &defaults;
    if (o->bind && (o->port < 0 || o->port > 65535))
        return ipc__fail(IPC_EINVAL, "redis: port %d out of range", o->port);

    ipc_redis_server *s = calloc(1, sizeof *s);
    if (!s) return ipc__fail(IPC_ESYS, "calloc");
    int rc = IPC_OK;
    if (!ipc__find_in_path("redis-server", s->exe, sizeof s->exe)) {
        errno = ENOENT;
        rc = ipc__fail(IPC_ESYS, "redis-server not found: apt-get install redis-server");
        goto fail_free;
    }
    if (o->dir) {
        if (snprintf(s->dir, sizeof s->dir, "%s", o->dir) >= (int)sizeof s->dir) {
            rc = ipc__fail(IPC_EINVAL, "redis: dir too long");
            goto fail_free;
        }
    } else {
        /* The name starts with the run's prefix: a leaked server is found by
         * its command line, which contains this path. */
        if ((rc = ipc__named_tempdir(s->dir, sizeof s->dir, "redis")) != IPC_OK) goto fail_free;
        s->made_dir = true;
    }
    if (snprintf(s->sock, sizeof s->sock, "%s/redis.sock", s->dir) >= (int)sizeof s->sock) {
        rc = ipc__fail(IPC_EINVAL, "redis: socket path in %s exceeds %zu bytes", s->dir, sizeof s->sock);
        goto fail_dir;
    }
    snprintf(s->log, sizeof s->log, "%s/redis.log", s->dir);
    snprintf(s->port_arg, sizeof s->port_arg, "%d", o->bind ? (o->port ? o->port : 6379) : 0);
    if (o->bind && (rc = write_conf(s)) != IPC_OK) goto fail_dir;
    if (o->bind)
        snprintf(s->endpoint, sizeof s->endpoint, "redis://:%s@%s:%s", s->password, o->bind, s->port_arg);
    else
        snprintf(s->endpoint, sizeof s->endpoint, "unix://%s", s->sock);
    server_args(s, o);
    s->owner = getpid();

    /* The sitter (core/sitter.h) blocks every signal: a test's SIGALRM must
     * reach the thread that armed it, not ours.  redis-server logs to its
     * --logfile; its stdout and stderr go to /dev/null. */
    const ipc_spawn spec = { .argv = s->argv };
    if ((rc = ipc__sitter_start(&s->sitter, &spec, 1, NULL, NULL, 0)) != IPC_OK) goto fail_dir;

    /* Ready when it answers PING (about 70 ms; longer while an AOF loads). */
    if ((rc = ipc__sitter_await(&s->sitter, 0, ping_ready, s, 2, 10000, s->log, "redis-server",
                                "did not answer PING")) != IPC_OK) {
        int saved = errno;
        ipc_redis_server_stop(s); /* reaps it and removes our temp dir */
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

int ipc_redis_server_stop(ipc_redis_server *s)
{
    if (!s) return IPC_OK;
    int rc = IPC_OK;
    if (s->owner == getpid()) { /* a forked child leaves its parent's server alone */
        /* SIGTERM: redis writes its AOF and removes its socket. */
        if (!ipc__sitter_stop(&s->sitter, 5000)) {
            errno = ETIMEDOUT;
            rc = ipc__fail(IPC_ESYS, "redis-server %ld ignored SIGTERM for 5 s: killed",
                           (long)ipc__sitter_pid(&s->sitter, 0));
        }
        if (s->made_dir) ipc__remove_tree(s->dir);
    }
    free(s);
    return rc;
}

#define NO_SERVER(what) ipc__fail(IPC_EINVAL, what ": server is NULL")
const char *ipc_redis_server_endpoint(const ipc_redis_server *s) { return s ? s->endpoint : (NO_SERVER("ipc_redis_server_endpoint"), NULL); }
const char *ipc_redis_server_dir(const ipc_redis_server *s) { return s ? s->dir : (NO_SERVER("ipc_redis_server_dir"), NULL); }
pid_t       ipc_redis_server_pid(const ipc_redis_server *s) { return s ? ipc__sitter_pid(&s->sitter, 0) : NO_SERVER("ipc_redis_server_pid"); }
#undef NO_SERVER

/* ---- the embedded server: one per process, shared by its channels ----- */

static void embedded_at_exit(void)
{
    pthread_mutex_lock(&g_server_lock);
    ipc_redis_server *s = g_embedded;
    g_embedded = NULL;
    pthread_mutex_unlock(&g_server_lock);
    ipc_redis_server_stop(s);
}

/* Take a reference on the embedded server (starting it), copy its endpoint
 * and (owner not NULL) its owner's pid.  Started under g_server_lock so two first channels make one server. */
static int embedded_acquire(char *endpoint, size_t size, pid_t *owner)
{
    /* core/process.h's table, once; outside g_server_lock, which a thread
     * holds while the server starts (and forks) */
    int rc = ipc__atexit(embedded_at_exit);
    if (rc != IPC_OK) return rc;
    pthread_mutex_lock(&g_server_lock);
    if (!g_embedded) rc = ipc_redis_server_start(NULL, &g_embedded);
    if (rc == IPC_OK) {
        g_embedded_refs++;
        snprintf(endpoint, size, "%s", g_embedded->endpoint);
        if (owner) *owner = g_embedded->owner; /* a fork()ed child's channels use its parent's */
    }
    pthread_mutex_unlock(&g_server_lock);
    return rc;
}

static void embedded_release(void)
{
    ipc_redis_server *stop = NULL;
    pthread_mutex_lock(&g_server_lock);
    if (g_embedded_refs > 0 && --g_embedded_refs == 0) {
        stop = g_embedded;
        g_embedded = NULL;
    }
    pthread_mutex_unlock(&g_server_lock);
    ipc_redis_server_stop(stop);
}

/* ---- connections ------------------------------------------------------- */

#define KEY_MAX  256

enum { K_QUEUE, K_META, K_BELL, K_SPACE, K_DELAYED, K_COUNT };

struct redis_channel {
    ipc_channel     base;
    int             order;     /* IPC_FIFO, IPC_LIFO (a list) or IPC_PRIORITY (a zset) */
    pid_t           owner;     /* created the keys: removes them at free; 0 = attached */
    bool            embedded;  /* holds a reference on the embedded server      */
    pid_t           creator;   /* embedded: the process whose server it is (ended) */
    char            endpoint[PATH_MAX + 16];
    char            key[K_COUNT][KEY_MAX];
    size_t          key_len[K_COUNT];
    char            order_arg[4], capacity_arg[24]; /* ARGV[1], ARGV[2]            */
    ipc_pool        pool;      /* idle connections (core/pool.h)              */
};

static redis_channel *as_redis(ipc_channel *ch) { return (redis_channel *)ch; }

/* "unix:///path" or "redis://[:password@]host:port" (the password of a
 * server that binds a TCP address: ipc_redis_server_endpoint gives it).
 * false on a bad endpoint. */
static bool parse_endpoint(const char *ep, char *host, size_t size, int *port, char *pw, size_t pw_size)
{
    pw[0] = '\0';
    if (strncmp(ep, "unix://", 7) == 0) {
        *port = -1;
        return ep[7] == '/' && snprintf(host, size, "%s", ep + 7) < (int)size;
    }
    if (strncmp(ep, "redis://", 8) != 0) return false;
    const char *hp = ep + 8, *at = strrchr(hp, '@');
    if (at) {
        if (hp[0] != ':' || (size_t)(at - hp - 1) >= pw_size) return false; /* no ACL users here */
        snprintf(pw, pw_size, "%.*s", (int)(at - hp - 1), hp + 1);
        hp = at + 1;
    }
    const char *colon = strrchr(hp, ':');
    if (!colon || colon == hp || (size_t)(colon - hp) >= size) return false;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p <= 0 || p > 65535) return false;
    snprintf(host, size, "%.*s", (int)(colon - hp), hp);
    *port = (int)p;
    return true;
}

/* A broken connection: say why (errno as the socket call left it, or
 * ECONNRESET when the server closed it). */
static int conn_error(const redisContext *c, const char *what)
{
    if (!c) {
        errno = ENOMEM;
        return ipc__fail(IPC_ESYS, "redis %s", what);
    }
    if (c->err != REDIS_ERR_IO) errno = ECONNRESET;
    return ipc__fail(IPC_ESYS, "redis %s: %s", what, c->errstr);
}

static int conn_open(const char *endpoint, redisContext **out)
{
    char host[PATH_MAX], pw[128];
    int port;
    if (!parse_endpoint(endpoint, host, sizeof host, &port, pw, sizeof pw))
        return ipc__fail(IPC_EINVAL, "redis: bad endpoint (want redis://[:password@]host:port or unix:///path)");
    const struct timeval tv = { .tv_sec = 2 };
    redisContext *c = port < 0 ? redisConnectUnixWithTimeout(host, tv) : redisConnectWithTimeout(host, port, tv);
    if (!c || c->err) {
        int rc = conn_error(c, "connect");
        /* (host and port only: the endpoint may carry the password) */
        ipc__fail(rc, "redis: cannot connect to %s%s%.0d: %s", host, port < 0 ? "" : ":", port < 0 ? 0 : port,
                  c ? c->errstr : "out of memory");
        if (c) redisFree(c);
        return rc;
    }
    if (pw[0]) {
        redisReply *a = redisCommand(c, "AUTH %s", pw);
        int rc = a ? (a->type == REDIS_REPLY_ERROR ? (errno = EACCES, ipc__fail(IPC_ESYS, "redis AUTH at %s:%d: %s", host, port, a->str)) : IPC_OK)
                   : conn_error(c, "AUTH");
        if (a) freeReplyObject(a);
        if (rc != IPC_OK) {
            redisFree(c);
            return rc;
        }
    }
    *out = c;
    return IPC_OK;
}

/* The endpoint for a message: host and port, never the password. */
static const char *shown(const char *ep)
{
    const char *at = strncmp(ep, "redis://", 8) == 0 ? strrchr(ep, '@') : NULL;
    return at ? at + 1 : ep;
}

/* An idle connection never has anything to read: if poll says readable, the
 * server closed it (restarted, or timed it out).  Drop it and use another. */
static bool conn_alive(const redisContext *c)
{
    struct pollfd p = { .fd = c->fd, .events = POLLIN };
    return poll(&p, 1, 0) == 0;
}

static void conn_drop(void *c, bool polite)
{
    (void)polite; /* redisFree closes our descriptor; redis needs no goodbye */
    redisFree(c);
}

static bool conn_idle_alive(void *c) { return conn_alive(c); }

static int conn_get(redis_channel *r, redisContext **out)
{
    redisContext *c = ipc__pool_take(&r->pool);
    if (!c) return conn_open(r->endpoint, out);
    *out = c;
    return IPC_OK;
}

static void conn_put(redis_channel *r, redisContext *c)
{
    if (c->err) redisFree(c);
    else ipc__pool_give(&r->pool, c);
}

/* Check a reply: NULL (connection broken) or an error reply become IPC_E*. */
static int reply_check(redisContext *c, const redisReply *rep, const char *what)
{
    if (!rep) return conn_error(c, what);
    if (rep->type == REDIS_REPLY_ERROR) {
        errno = EPROTO;
        return ipc__fail(IPC_ESYS, "redis %s: %s", what, rep->str);
    }
    return IPC_OK;
}

/* ---- running a script -------------------------------------------------- */

static int script_sha(redisContext *c, enum script_id id, const char **sha)
{
    if (!atomic_load_explicit(&scripts[id].known, memory_order_acquire)) {
        redisReply *rep = redisCommand(c, "SCRIPT LOAD %s", scripts[id].lua);
        int rc = reply_check(c, rep, "SCRIPT LOAD");
        if (rc == IPC_OK && (rep->type != REDIS_REPLY_STRING || rep->len != 40)) {
            errno = EPROTO;
            rc = ipc__fail(IPC_ESYS, "redis SCRIPT LOAD: unexpected reply");
        }
        if (rc == IPC_OK) {
            pthread_mutex_lock(&g_lock);
            memcpy(scripts[id].sha, rep->str, 41);
            atomic_store_explicit(&scripts[id].known, true, memory_order_release);
            pthread_mutex_unlock(&g_lock);
        }
        if (rep) freeReplyObject(rep);
        if (rc != IPC_OK) return rc;
    }
    *sha = scripts[id].sha;
    return IPC_OK;
}

/* Before a script, optionally: sleep on a bell until it rings or the
 * deadline (or cap_ms, if >= 0: when the next delayed message falls due). */
typedef struct bell_wait {
    int                 bell;   /* K_BELL or K_SPACE */
    const ipc_deadline *d;
    long long           cap_ms;
} bell_wait;

/* EVALSHA sha with this channel's keys, ARGV[1..2] = order, capacity, and
 * up to 3 more arguments, into argv/len; returns the count. */
#define SCRIPT_ARGC (3 + K_COUNT + 2 + 3)
static int script_argv(const redis_channel *r, const char *sha, int nextra, const char *const *extra,
                       const size_t *extra_len, const char **argv, size_t *len)
{
    int n = 0;
    argv[n] = "EVALSHA", len[n++] = 7;
    argv[n] = sha, len[n++] = 40;
    argv[n] = "5", len[n++] = 1;
    for (int k = 0; k < K_COUNT; k++) argv[n] = r->key[k], len[n++] = r->key_len[k];
    argv[n] = r->order_arg, len[n++] = strlen(r->order_arg);
    argv[n] = r->capacity_arg, len[n++] = strlen(r->capacity_arg);
    for (int i = 0; i < nextra; i++) argv[n] = extra[i], len[n++] = extra_len[i];
    return n;
}

/* Run script id with this channel's keys, ARGV[1..2] = order, capacity, and
 * up to 3 more arguments; *out is the reply (the caller frees it).
 *
 * With w, BLMOVE on the bell goes out first and the script right behind it
 * on the same connection: Redis runs the script the moment the bell rings
 * (or the wait times out) and both replies come back together, so a woken
 * caller pays no second round trip.  A caller whose deadline has just
 * passed gets one last look (the script alone). */
static int run_script(redis_channel *r, redisContext *c, enum script_id id, int nextra,
                      const char *const *extra, const size_t *extra_len, const bell_wait *w,
                      redisReply **out)
{
    const char *sha;
    int rc = script_sha(c, id, &sha);
    if (rc != IPC_OK) return rc;
    const char *argv[SCRIPT_ARGC];
    size_t len[SCRIPT_ARGC];
    int n = script_argv(r, sha, nextra, extra, extra_len, argv, len);

    long long ms = w ? ipc__deadline_poll_ms(w->d) : 0; /* -1 forever */
    if (w && w->cap_ms >= 0 && (ms < 0 || w->cap_ms < ms)) ms = w->cap_ms;
    if (ms != 0) {
        char secs[32]; /* Redis takes seconds; 0 means forever */
        snprintf(secs, sizeof secs, "%.3f", ms < 0 ? 0.0 : (double)ms / 1000.0);
        const char *bargv[] = { "BLMOVE", r->key[w->bell], r->key[w->bell], "RIGHT", "RIGHT", secs };
        size_t blen[] = { 6, r->key_len[w->bell], r->key_len[w->bell], 5, 5, strlen(secs) };
        if (redisAppendCommandArgv(c, 6, bargv, blen) != REDIS_OK) return conn_error(c, "BLMOVE");
    }
    if (redisAppendCommandArgv(c, n, argv, len) != REDIS_OK) return conn_error(c, "EVALSHA");
    void *rep = NULL;
    if (ms != 0) {
        if (redisGetReply(c, &rep) != REDIS_OK) return conn_error(c, "BLMOVE");
        rc = reply_check(c, rep, "BLMOVE");
        freeReplyObject(rep);
        rep = NULL;
        if (rc != IPC_OK) { /* keep the connection in step: take the script's reply too */
            if (redisGetReply(c, &rep) == REDIS_OK) freeReplyObject(rep);
            return rc;
        }
    }
    if (redisGetReply(c, &rep) != REDIS_OK) rep = NULL;
    redisReply *reply = rep;
    if (reply && reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(reply); /* a restarted server: send the text once more */
        argv[0] = "EVAL", len[0] = 4;
        argv[1] = scripts[id].lua, len[1] = strlen(scripts[id].lua);
        reply = redisCommandArgv(c, n, argv, len);
    }
    if ((rc = reply_check(c, reply, "EVALSHA")) != IPC_OK) {
        if (reply) freeReplyObject(reply);
        return rc;
    }
    *out = reply;
    return IPC_OK;
}

static int closed_or_gone(long long code, const redis_channel *r)
{
    if (code == -9) return ipc__fail(IPC_ECLOSED, "redis: channel '%s' was removed by its owner", r->key[K_QUEUE]);
    return ipc__fail(IPC_ECLOSED, "redis: channel '%s' is closed", r->key[K_QUEUE]);
}

/* A fork()ed holder whose call failed on the embedded server's connection
 * after the server's creator died is told IPC_ECLOSED: the server died with
 * it, and the channel with what it held (core/process.h). */
static int ended(const redis_channel *r, int rc)
{
    return r->embedded ? ipc__ended_with_creator(rc, r->creator, "redis", r->key[K_QUEUE]) : rc;
}

/* ---- reading the scripts' replies (redis_reply.h) ---------------------- */

static bool is_int(const redisReply *e) { return e->type == REDIS_REPLY_INTEGER; }

long long ipc__redis_pop_reply(const redisReply *rep, void *buf, size_t cap, size_t *len, int *prio, long long *arg)
{
    *arg = -1;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 || !is_int(rep->element[0])) return IPC_REPLY_BAD;
    long long code = rep->element[0]->integer;
    if (rep->elements >= 2) {
        if (!is_int(rep->element[1])) return IPC_REPLY_BAD;
        *arg = rep->element[1]->integer;
    }
    if (code != 0) return code;
    const redisReply *m = rep->elements == 3 ? rep->element[2] : NULL;
    if (!m || m->type != REDIS_REPLY_STRING || m->len > cap || *arg < INT_MIN || *arg > INT_MAX) return IPC_REPLY_BAD;
    *len = m->len;
    *prio = (int)*arg;
    if (m->len) memcpy(buf, m->str, m->len);
    return 0;
}

size_t ipc__redis_popn_reply(const redisReply *rep, void *buf, size_t each, size_t *lens, size_t first, size_t max)
{
    size_t n = first;
    if (rep->type == REDIS_REPLY_ARRAY)
        for (size_t i = 1; i < rep->elements && n < max; i++) {
            const redisReply *m = rep->element[i];
            if (m->type != REDIS_REPLY_STRING || m->len > each) break;
            lens[n] = m->len;
            if (m->len) memcpy((unsigned char *)buf + n * each, m->str, m->len);
            n++;
        }
    return n;
}

/* A decimal in [lo, hi], all of the string. */
static int reply_number(const redisReply *e, unsigned long long lo, unsigned long long hi, unsigned long long *out)
{
    if (e->type != REDIS_REPLY_STRING || e->len == 0 || e->len > 20 || e->str[0] < '0' || e->str[0] > '9') return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(e->str, &end, 10);
    if (errno || end != e->str + e->len || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int ipc__redis_meta_reply(const redisReply *rep, int *order, size_t *capacity, size_t *max_msg)
{
    unsigned long long o, c, m;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 3 || reply_number(rep->element[0], 0, IPC_PRIORITY, &o)
        || reply_number(rep->element[1], 0, SIZE_MAX, &c) || reply_number(rep->element[2], 1, SIZE_MAX, &m))
        return -1;
    *order = (int)o;
    *capacity = (size_t)c;
    *max_msg = (size_t)m;
    return 0;
}

/* ---- the channel ops --------------------------------------------------- */

/* Send now or when due_ms (a decimal string, or NULL) comes. */
static int push(redis_channel *r, const void *msg, size_t len, int prio, const char *due, const ipc_deadline *d)
{
    redisContext *c;
    int rc = conn_get(r, &c);
    if (rc != IPC_OK) return ended(r, rc);
    char prio_s[16];
    snprintf(prio_s, sizeof prio_s, "%d", prio);
    const char *extra[] = { prio_s, msg ? msg : "", due };
    size_t extra_len[] = { strlen(prio_s), len, due ? strlen(due) : 0 };
    const bell_wait room = { .bell = K_SPACE, .d = d, .cap_ms = -1 }, *wait = NULL;
    for (;;) {
        redisReply *rep;
        if ((rc = run_script(r, c, S_PUSH, due ? 3 : 2, extra, extra_len, wait, &rep)) != IPC_OK) break;
        long long code = rep->type == REDIS_REPLY_INTEGER ? rep->integer : -9;
        freeReplyObject(rep);
        if (code == 0) break;
        if (code != IPC_EFULL) {
            rc = closed_or_gone(code, r);
            break;
        }
        if (ipc__deadline_passed(d)) {
            rc = ipc__fail(IPC_EFULL, "redis: channel '%s' is full (%zu messages)", r->key[K_QUEUE], r->base.capacity);
            break;
        }
        ipc__blocked(&r->base, IPC_EV_SEND_BLOCKED);
        wait = &room;
    }
    conn_put(r, c);
    return ended(r, rc);
}

static int rd_send(ipc_channel *ch, const void *msg, size_t len, int prio, const ipc_deadline *d)
{
    return push(as_redis(ch), msg, len, prio, NULL, d);
}

static int rd_recv(ipc_channel *ch, void *buf, size_t cap, size_t *len, int *prio, const ipc_deadline *d)
{
    redis_channel *r = as_redis(ch);
    redisContext *c;
    int rc = conn_get(r, &c);
    if (rc != IPC_OK) return ended(r, rc);
    char cap_s[24];
    snprintf(cap_s, sizeof cap_s, "%zu", cap);
    const char *extra[] = { cap_s };
    size_t extra_len[] = { strlen(cap_s) };
    bell_wait ready = { .bell = K_BELL, .d = d };
    const bell_wait *wait = NULL;
    for (;;) {
        redisReply *rep;
        if ((rc = run_script(r, c, S_POP, 1, extra, extra_len, wait, &rep)) != IPC_OK) break;
        long long arg;
        long long code = ipc__redis_pop_reply(rep, buf, cap, len, prio, &arg);
        freeReplyObject(rep);
        if (code == 0) break;
        if (code == IPC_REPLY_BAD) {
            errno = EPROTO;
            rc = ipc__fail(IPC_ESYS, "redis: malformed reply to a receive on '%s'", r->key[K_QUEUE]);
            break;
        }
        if (code == IPC_EMSGSIZE) {
            *len = (size_t)arg;
            rc = ipc__fail(IPC_EMSGSIZE, "redis: message of %lld bytes does not fit a %zu-byte buffer", arg, cap);
            break;
        }
        if (code != IPC_EEMPTY) {
            rc = closed_or_gone(code, r);
            break;
        }
        if (ipc__deadline_passed(d)) {
            rc = ipc__fail(IPC_EEMPTY, "redis: channel '%s' is empty", r->key[K_QUEUE]);
            break;
        }
        ipc__blocked(ch, IPC_EV_RECV_BLOCKED);
        ready.cap_ms = arg; /* never sleep past the next delayed message */
        wait = &ready;
    }
    conn_put(r, c);
    return ended(r, rc);
}

static int rd_close(ipc_channel *ch)
{
    redis_channel *r = as_redis(ch);
    redisContext *c;
    int rc = conn_get(r, &c);
    if (rc != IPC_OK) return ended(r, rc);
    redisReply *rep;
    if ((rc = run_script(r, c, S_CLOSE, 0, NULL, NULL, NULL, &rep)) == IPC_OK) freeReplyObject(rep);
    conn_put(r, c);
    return ended(r, rc);
}

static long rd_depth(const ipc_channel *ch)
{
    redis_channel *r = as_redis((ipc_channel *)ch); /* the pool is internally locked */
    redisContext *c;
    if (conn_get(r, &c) != IPC_OK) return -1;
    const char *argv[] = { r->order == IPC_PRIORITY ? "ZCARD" : "LLEN", r->key[K_QUEUE] };
    size_t len[] = { strlen(argv[0]), r->key_len[K_QUEUE] };
    redisReply *rep = redisCommandArgv(c, 2, argv, len);
    long n = rep && rep->type == REDIS_REPLY_INTEGER ? (long)rep->integer : -1;
    if (rep) freeReplyObject(rep);
    conn_put(r, c);
    return n;
}

static void rd_free(ipc_channel *ch)
{
    redis_channel *r = as_redis(ch);
    redisContext *c;
    if (r->owner == getpid() && conn_get(r, &c) == IPC_OK) {
        /* The owner removes the name, like unlink() after shm_open(). */
        const char *argv[1 + K_COUNT] = { "DEL" };
        size_t len[1 + K_COUNT] = { 3 };
        for (int k = 0; k < K_COUNT; k++) argv[1 + k] = r->key[k], len[1 + k] = r->key_len[k];
        redisReply *rep = redisCommandArgv(c, 1 + K_COUNT, argv, len);
        if (rep) freeReplyObject(rep);
        conn_put(r, c);
    }
    ipc__pool_destroy(&r->pool);
    if (r->embedded) embedded_release();
    free(r);
}

/* ---- fork: the child must not share its parent's connections ---------- */

static void fork_prepare(void) { pthread_mutex_lock(&g_lock); }
static void fork_parent(void) { pthread_mutex_unlock(&g_lock); }

static void fork_child(void)
{
    /* The pools drop the parent's connections themselves (core/pool.h). */
    pthread_mutex_unlock(&g_lock);
    /* Maybe held by a parent thread starting the server: a thread that does
     * not exist here would never release it. */
    pthread_mutex_init(&g_server_lock, NULL);
}

/* ---- open -------------------------------------------------------------- */

static int set_keys(redis_channel *r, const char *name)
{
    static const char *const suffix[K_COUNT] = { "", ":meta", ":bell", ":space", ":delayed" };
    for (int k = 0; k < K_COUNT; k++) {
        int n = snprintf(r->key[k], KEY_MAX, "%s%s", name, suffix[k]);
        if (n < 0 || n >= KEY_MAX)
            return ipc__fail(IPC_EINVAL, "redis: name '%s' too long (limit %d bytes)", name, KEY_MAX - 9);
        r->key_len[k] = (size_t)n;
    }
    return IPC_OK;
}

static void set_args(redis_channel *r)
{
    snprintf(r->order_arg, sizeof r->order_arg, "%d", r->order);
    snprintf(r->capacity_arg, sizeof r->capacity_arg, "%zu", r->base.capacity);
}

/* Attach: the creator's order, capacity and max_msg are the channel's. */
static int attach(redis_channel *r, redisContext *c)
{
    const char *argv[] = { "HMGET", r->key[K_META], "order", "capacity", "max_msg" };
    size_t len[] = { 5, r->key_len[K_META], 5, 8, 7 };
    redisReply *rep = redisCommandArgv(c, 5, argv, len);
    int rc = reply_check(c, rep, "HMGET");
    if (rc == IPC_OK) {
        if (ipc__redis_meta_reply(rep, &r->order, &r->base.capacity, &r->base.max_msg) != 0)
            rc = ipc__fail(IPC_EINVAL, "redis: no channel named '%s' at %s", r->key[K_QUEUE], shown(r->endpoint));
        else
            set_args(r);
    }
    if (rep) freeReplyObject(rep);
    return rc;
}

static int create(redis_channel *r, redisContext *c)
{
    char max_s[24];
    snprintf(max_s, sizeof max_s, "%zu", r->base.max_msg);
    const char *extra[] = { max_s };
    size_t extra_len[] = { strlen(max_s) };
    redisReply *rep;
    int rc = run_script(r, c, S_CREATE, 1, extra, extra_len, NULL, &rep);
    if (rc != IPC_OK) return rc;
    if (rep->type == REDIS_REPLY_INTEGER && rep->integer != 0)
        rc = ipc__fail(IPC_EINVAL, "redis: a channel named '%s' already exists at %s (attach with IPC_ATTACH)",
                       r->key[K_QUEUE], shown(r->endpoint));
    freeReplyObject(rep);
    return rc;
}

static int rd_open(const ipc_mechanism *m, const ipc_config *cfg, ipc_channel **out)
{
    int rc = ipc__atfork(fork_prepare, fork_parent, fork_child); /* once: core/process.h */
    if (rc != IPC_OK) return rc;
    if (cfg->name && (!*cfg->name || strlen(cfg->name) > KEY_MAX - 9))
        return ipc__fail(IPC_EINVAL, "redis: name must be 1..%d bytes", KEY_MAX - 9);
    if ((cfg->flags & IPC_ATTACH) && !cfg->name)
        return ipc__fail(IPC_EINVAL, "redis: IPC_ATTACH needs the channel's name (the key)");

    redis_channel *r = ipc__channel_alloc(sizeof *r, m, cfg);
    if (!r) return IPC_ESYS;
    r->order = m->variant == IPC_PRIORITY ? IPC_PRIORITY : cfg->order; /* variant: redis-prio's order */
    if ((rc = ipc__pool_init(&r->pool, conn_drop, conn_idle_alive)) != IPC_OK) {
        free(r);
        return rc;
    }
    if (cfg->endpoint) {
        int n = snprintf(r->endpoint, sizeof r->endpoint, "%s", cfg->endpoint);
        rc = n < (int)sizeof r->endpoint ? IPC_OK : ipc__fail(IPC_EINVAL, "redis: endpoint too long");
    } else {
        rc = embedded_acquire(r->endpoint, sizeof r->endpoint, &r->creator);
        r->embedded = rc == IPC_OK;
    }
    char generated[KEY_MAX];
    const char *name = cfg->name;
    if (rc == IPC_OK && !name) {
        rc = ipc__unique_name(generated, sizeof generated, "", "");
        name = generated;
    }
    if (rc == IPC_OK) rc = set_keys(r, name);
    set_args(r);

    redisContext *c = NULL;
    if (rc == IPC_OK) rc = conn_get(r, &c);
    if (rc == IPC_OK) {
        rc = (cfg->flags & IPC_ATTACH) ? attach(r, c) : create(r, c);
        conn_put(r, c);
    }
    if (rc != IPC_OK) {
        int saved = errno;
        ipc__pool_destroy(&r->pool);
        if (r->embedded) embedded_release();
        errno = saved;
        free(r);
        return rc;
    }
    r->owner = (cfg->flags & IPC_ATTACH) ? 0 : getpid();
    *out = &r->base;
    return IPC_OK;
}

/* ---- extras: the delay queue and publish/subscribe --------------------- */

static bool is_redis(const ipc_channel *ch)
{
    const ipc_mechanism *m = ipc_channel_mechanism(ch);
    return m == &ipc_mech_redis || m == &ipc_mech_redis_prio;
}

int64_t ipc_redis_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int send_at_op(ipc_channel *ch, const void *msg, size_t len, int prio, const ipc_deadline *d, void *due)
{
    return push(as_redis(ch), msg, len, prio, due, d);
}

/* Through dispatch (ipc__send_via): the same checks and observer events as
 * ipc_send, with a due time; never waits (timeout 0). */
int ipc_redis_send_at(ipc_channel *ch, const void *msg, size_t len, int64_t due_ms)
{
    if (!is_redis(ch)) return ipc__fail(IPC_EINVAL, "ipc_redis_send_at: not a redis channel");
    char due[24];
    snprintf(due, sizeof due, "%lld", (long long)due_ms);
    return ipc__send_via(ch, msg, len, 0, 0, send_at_op, due);
}

/* ---- batches: a whole batch in one script ------------------------------ */

/* Run script id with any number of extra arguments (the messages of a
 * batch); *out is the reply.  A server that forgot the script gets its text. */
static int run_script_many(redis_channel *r, redisContext *c, enum script_id id, size_t nextra,
                           const char *const *extra, const size_t *extra_len, redisReply **out)
{
    const char *sha;
    int rc = script_sha(c, id, &sha);
    if (rc != IPC_OK) return rc;
    size_t cap = 3 + K_COUNT + 2 + nextra;
    const char **argv = malloc(cap * sizeof *argv);
    size_t *len = malloc(cap * sizeof *len);
    if (!argv || !len) {
        free(argv);
        free(len);
        return ipc__fail(IPC_ESYS, "malloc");
    }
    int n = script_argv(r, sha, 0, NULL, NULL, argv, len);
    for (size_t i = 0; i < nextra; i++) argv[n] = extra[i], len[n++] = extra_len[i];
    redisReply *reply = redisCommandArgv(c, n, argv, len);
    if (reply && reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(reply);
        argv[0] = "EVAL", len[0] = 4;
        argv[1] = scripts[id].lua, len[1] = strlen(scripts[id].lua);
        reply = redisCommandArgv(c, n, argv, len);
    }
    free(argv);
    free(len);
    if ((rc = reply_check(c, reply, "EVALSHA")) != IPC_OK) {
        if (reply) freeReplyObject(reply);
        return rc;
    }
    *out = reply;
    return IPC_OK;
}

int ipc_redis_send_batch(ipc_channel *ch, const void *const *msgs, const size_t *lens, size_t n)
{
    if (!is_redis(ch)) return ipc__fail(IPC_EINVAL, "ipc_redis_send_batch: not a redis channel");
    if (!msgs || !lens || n > 4096) return ipc__fail(IPC_EINVAL, "ipc_redis_send_batch: NULL array or n > 4096");
    if (ch->closed) return ipc__fail(IPC_ECLOSED, "ipc_redis_send_batch: channel was closed");
    if (ch->capacity) return ipc__fail(IPC_ENOTSUP, "redis: batches only on an unbounded channel");
    for (size_t i = 0; i < n; i++) {
        if (!msgs[i] && lens[i]) return ipc__fail(IPC_EINVAL, "ipc_redis_send_batch: message %zu is NULL", i);
        if (lens[i] > ch->max_msg)
            return ipc__fail(IPC_EMSGSIZE, "redis: message %zu of %zu bytes exceeds max_msg %zu", i, lens[i], ch->max_msg);
    }
    if (n == 0) return 0;
    redis_channel *r = as_redis(ch);
    const char **extra = malloc(n * sizeof *extra);
    redisContext *c = NULL;
    int rc = extra ? conn_get(r, &c) : ipc__fail(IPC_ESYS, "malloc");
    if (rc == IPC_OK) {
        for (size_t i = 0; i < n; i++) extra[i] = msgs[i] ? msgs[i] : "";
        redisReply *rep;
        if ((rc = run_script_many(r, c, S_PUSHN, n, extra, lens, &rep)) == IPC_OK) {
            long long code = rep->type == REDIS_REPLY_INTEGER ? rep->integer : -9;
            freeReplyObject(rep);
            if (code != 0) rc = closed_or_gone(code, r);
        }
        conn_put(r, c);
    }
    free(extra);
    return rc == IPC_OK ? (int)n : ended(r, rc);
}

int ipc_redis_recv_batch(ipc_channel *ch, void *buf, size_t each, size_t *lens, size_t max, int timeout_ms)
{
    if (!is_redis(ch)) return ipc__fail(IPC_EINVAL, "ipc_redis_recv_batch: not a redis channel");
    if (!lens || !max || max > 4096 || (!buf && each))
        return ipc__fail(IPC_EINVAL, "ipc_redis_recv_batch: NULL argument or max not 1..4096");
    ipc_deadline d;
    int bad = ipc__deadline_begin(&d, timeout_ms, "ipc_redis_recv_batch");
    if (bad != IPC_OK) return bad;
    int prio, rc = rd_recv(ch, buf, each, &lens[0], &prio, &d); /* the first one waits */
    if (rc != IPC_OK || max == 1) return rc == IPC_OK ? 1 : rc;
    redis_channel *r = as_redis(ch);
    char each_s[24], max_s[24];
    snprintf(each_s, sizeof each_s, "%zu", each);
    snprintf(max_s, sizeof max_s, "%zu", max - 1);
    const char *extra[] = { each_s, max_s };
    size_t extra_len[] = { strlen(each_s), strlen(max_s) };
    size_t n = 1;
    redisContext *c;
    redisReply *rep;
    if (conn_get(r, &c) != IPC_OK) return 1; /* the first one is ours already */
    if (run_script_many(r, c, S_POPN, 2, extra, extra_len, &rep) == IPC_OK) {
        n = ipc__redis_popn_reply(rep, buf, each, lens, n, max);
        freeReplyObject(rep);
    }
    conn_put(r, c);
    return (int)n;
}

static int topic_name(const redis_channel *r, const char *topic, char *out, size_t size)
{
    if (!topic || snprintf(out, size, "%s/%s", r->key[K_QUEUE], topic) >= (int)size)
        return ipc__fail(IPC_EINVAL, "redis: topic is NULL or too long");
    return IPC_OK;
}

int ipc_redis_publish(ipc_channel *ch, const char *topic, const void *msg, size_t len)
{
    if (!is_redis(ch)) return ipc__fail(IPC_EINVAL, "ipc_redis_publish: not a redis channel");
    if (!msg && len) return ipc__fail(IPC_EINVAL, "ipc_redis_publish: msg is NULL");
    if (len > ch->max_msg)
        return ipc__fail(IPC_EMSGSIZE, "redis: message of %zu bytes exceeds max_msg %zu", len, ch->max_msg);
    redis_channel *r = as_redis(ch);
    char name[2 * KEY_MAX];
    int rc = topic_name(r, topic, name, sizeof name);
    redisContext *c;
    if (rc != IPC_OK || (rc = conn_get(r, &c)) != IPC_OK) return ended(r, rc);
    const char *argv[] = { "PUBLISH", name, msg ? msg : "" };
    size_t arglen[] = { 7, strlen(name), len };
    redisReply *rep = redisCommandArgv(c, 3, argv, arglen);
    if ((rc = reply_check(c, rep, "PUBLISH")) == IPC_OK) rc = (int)rep->integer;
    if (rep) freeReplyObject(rep);
    conn_put(r, c);
    return ended(r, rc);
}

struct ipc_redis_sub {
    redisContext *c;     /* its own connection, in subscribe mode        */
    redisReply   *held;  /* a message that did not fit the last buffer   */
    bool          embedded;
};

int ipc_redis_subscribe(ipc_channel *ch, const char *topic, ipc_redis_sub **out)
{
    if (!out) return ipc__fail(IPC_EINVAL, "ipc_redis_subscribe: out is NULL");
    *out = NULL;
    if (!is_redis(ch)) return ipc__fail(IPC_EINVAL, "ipc_redis_subscribe: not a redis channel");
    redis_channel *r = as_redis(ch);
    char name[2 * KEY_MAX];
    int rc = topic_name(r, topic, name, sizeof name);
    if (rc != IPC_OK) return rc;
    ipc_redis_sub *s = calloc(1, sizeof *s);
    if (!s) return ipc__fail(IPC_ESYS, "calloc");
    /* Keep the embedded server alive for as long as the subscriber. */
    char endpoint[sizeof r->endpoint];
    if (r->embedded) {
        if ((rc = embedded_acquire(endpoint, sizeof endpoint, NULL)) != IPC_OK) {
            free(s);
            return rc;
        }
        s->embedded = true;
    }
    if ((rc = conn_open(r->endpoint, &s->c)) == IPC_OK) {
        /* The server confirms the subscription before this returns. */
        const char *argv[] = { "SUBSCRIBE", name };
        size_t len[] = { 9, strlen(name) };
        redisReply *rep = redisCommandArgv(s->c, 2, argv, len);
        rc = reply_check(s->c, rep, "SUBSCRIBE");
        if (rep) freeReplyObject(rep);
    }
    if (rc != IPC_OK) {
        ipc_redis_sub_free(s);
        return ended(r, rc);
    }
    *out = s;
    return IPC_OK;
}

int ipc_redis_sub_recv(ipc_redis_sub *s, void *buf, size_t cap, size_t *len, int timeout_ms)
{
    if (!s || !len || (!buf && cap)) return ipc__fail(IPC_EINVAL, "ipc_redis_sub_recv: NULL argument");
    ipc_deadline d;
    int bad = ipc__deadline_begin(&d, timeout_ms, "ipc_redis_sub_recv");
    if (bad != IPC_OK) return bad;
    while (!s->held) {
        void *rep = NULL;
        if (redisGetReplyFromReader(s->c, &rep) != REDIS_OK) return conn_error(s->c, "subscriber");
        if (rep) {
            redisReply *m = rep; /* ["message", topic, payload] */
            if (m->type == REDIS_REPLY_ARRAY && m->elements == 3 && m->element[2]->type == REDIS_REPLY_STRING)
                s->held = m;
            else
                freeReplyObject(m);
            continue;
        }
        int w = ipc__wait_fd(s->c->fd, POLLIN, -1, &d);
        if (w < 0) return w;
        if (w == 0) return ipc__fail(IPC_EEMPTY, "redis: no message published before the deadline");
        if (redisBufferRead(s->c) != REDIS_OK) return conn_error(s->c, "subscriber");
    }
    const redisReply *payload = s->held->element[2];
    *len = payload->len;
    if (payload->len > cap)
        return ipc__fail(IPC_EMSGSIZE, "redis: message of %zu bytes does not fit a %zu-byte buffer", payload->len, cap);
    if (payload->len) memcpy(buf, payload->str, payload->len);
    freeReplyObject(s->held);
    s->held = NULL;
    return IPC_OK;
}

void ipc_redis_sub_free(ipc_redis_sub *s)
{
    if (!s) return;
    if (s->held) freeReplyObject(s->held);
    if (s->c) redisFree(s->c);
    if (s->embedded) embedded_release();
    free(s);
}

/* ---- the mechanisms ---------------------------------------------------- */

/* The key and the server: with the embedded server, its Unix socket, so an
 * attacher joins this server instead of starting its own. */
static int rd_attach_config(const ipc_channel *ch, ipc_config *cfg)
{
    const redis_channel *r = (const redis_channel *)ch;
    cfg->name = r->key[K_QUEUE];
    cfg->endpoint = r->endpoint;
    return IPC_OK;
}

static const struct ipc_ops redis_ops = {
    .open = rd_open, .send = rd_send, .recv = rd_recv, .close = rd_close,
    .free = rd_free, .pollfd = NULL, /* waiting happens inside the server */
    .depth = rd_depth, .attach_config = rd_attach_config,
};

#define REDIS_CAPS (IPC_CAP_THREADS | IPC_CAP_FORK | IPC_CAP_UNRELATED | IPC_CAP_HOSTS | IPC_CAP_MPMC \
                    | IPC_CAP_BOUNDED | IPC_CAP_BROADCAST | IPC_CAP_CLOSE_WAKES)

const ipc_mechanism ipc_mech_redis = {
    .name = "redis", .family = "brokers",
    .family_id = IPC_FAMILY_BROKERS, .carrier = IPC_CARRIER_BROKER, .variant = IPC_FIFO,
    .summary = "Redis list via Lua scripts; embedded redis-server by default (redis://, unix:// to share)",
    .caps = REDIS_CAPS | IPC_CAP_FIFO,
    .max_msg_limit = 32u << 20, .default_max_msg = 1u << 20, .default_capacity = 0,
    .wait_strategy = "server block (BLMOVE on a bell list)", .ops = &redis_ops,
};

const ipc_mechanism ipc_mech_redis_prio = {
    .name = "redis-prio", .family = "brokers",
    .family_id = IPC_FAMILY_BROKERS, .carrier = IPC_CARRIER_BROKER, .variant = IPC_PRIORITY,
    .summary = "Redis sorted set: priority order, ties first-in first-out",
    .caps = REDIS_CAPS | IPC_CAP_PRIORITY,
    .max_msg_limit = 32u << 20, .default_max_msg = 1u << 20, .default_capacity = 0,
    .wait_strategy = "server block (BLMOVE on a bell list)", .ops = &redis_ops,
};
