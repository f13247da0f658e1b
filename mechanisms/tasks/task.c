/*
 * task.c — the task queue of tasks/task.h (Celery/RQ semantics) over two
 * ipcplay channels, the public API only.
 *
 * Processes.  The caller (the "client") enqueues and reads events.
 * ipc_task_work forks a supervisor, which forks nworkers workers; the
 * supervisor is single-threaded, so forking workers from it is safe even
 * when the client has threads.
 *
 *   client --jobs--> worker --events--> client
 *                      |  ^
 *              held    v  | jobs (when due)
 *                    supervisor
 *
 * Shared state (one MAP_SHARED mapping made before the supervisor's fork):
 *   stopping          set by ipc_task_stop
 *   slot[i]           worker i: its pid, the job it runs (received straight
 *                     into the slot), its length (0: none), when it started,
 *                     whether the supervisor killed it for its timeout
 * Invariant: a job taken from `jobs` is always in exactly one of: a slot
 * with len > 0, the `held` channel, the supervisor's heap, or `jobs` again;
 * or it is finished/dead (an event was sent).  The one window this cannot
 * close: a worker killed inside ipc_recv itself, after the channel gave the
 * message up and before the library stored its length.
 *
 * Memory orders: slot.len and slot.state are written by the worker and read
 * by the supervisor after waitpid (which orders everything the dead worker
 * did), so their atomics are for the live reads (timeouts): RELEASE when a
 * worker publishes "running since t", ACQUIRE where the supervisor looks.
 */
#define _GNU_SOURCE
#include "tasks/task.h"
#include "../ipc_internal.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { MAX_HANDLERS = 64, NAME_LEN = 63, MAX_WORKERS = 64, JOB_HDR = 48, EV_HDR = 20 };
enum { KIND_JOB = 1 };
enum { EV_STARTED = 1, EV_FINISHED = 2, EV_RETRY = 3, EV_DEAD = 4 };
#define JOB_MAGIC "IPTJ"
#define EV_MAGIC  "IPTE"
#define WIRE_VERSION 1

/* ---- the wire format (task.h) -------------------------------------------- */

typedef struct job {
    uint64_t id;
    int64_t  not_before;   /* CLOCK_REALTIME ns, 0 = now */
    uint32_t backoff_ms, timeout_ms, args_len;
    int32_t  priority;
    uint16_t attempt, retries, name_len;
    const char *name;      /* into the message */
    const unsigned char *args;
} job;

static void put16(unsigned char *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }
static uint16_t get16(const unsigned char *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t get32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static size_t job_size(const job *j) { return JOB_HDR + j->name_len + j->args_len; }

static void job_encode(const job *j, unsigned char *m)
{
    memcpy(m, JOB_MAGIC, 4);
    m[4] = WIRE_VERSION;
    m[5] = KIND_JOB;
    put16(m + 6, j->attempt);
    put16(m + 8, j->retries);
    put16(m + 10, j->name_len);
    put32(m + 12, j->backoff_ms);
    put32(m + 16, j->timeout_ms);
    put32(m + 20, (uint32_t)j->priority);
    put32(m + 24, j->args_len);
    put64(m + 28, j->id);
    put64(m + 36, (uint64_t)j->not_before);
    put32(m + 44, 0); /* reserved */
    memcpy(m + JOB_HDR, j->name, j->name_len);
    if (j->args_len) memcpy(m + JOB_HDR + j->name_len, j->args, j->args_len);
}

/* RETURNS 0, or IPC_EINVAL: not a version-1 job, or lengths that do not add up. */
static int job_decode(const unsigned char *m, size_t len, job *j)
{
    if (len < JOB_HDR || memcmp(m, JOB_MAGIC, 4) != 0 || m[4] != WIRE_VERSION || m[5] != KIND_JOB)
        return ipc__fail(IPC_EINVAL, "task queue: not a version-%d job message", WIRE_VERSION);
    j->attempt = get16(m + 6);
    j->retries = get16(m + 8);
    j->name_len = get16(m + 10);
    j->backoff_ms = get32(m + 12);
    j->timeout_ms = get32(m + 16);
    j->priority = (int32_t)get32(m + 20);
    j->args_len = get32(m + 24);
    j->id = get64(m + 28);
    j->not_before = (int64_t)get64(m + 36);
    if (j->name_len == 0 || j->name_len > NAME_LEN || (size_t)JOB_HDR + j->name_len + j->args_len != len)
        return ipc__fail(IPC_EINVAL, "task queue: a job whose lengths do not add up");
    j->name = (const char *)m + JOB_HDR;
    j->args = m + JOB_HDR + j->name_len;
    return IPC_OK;
}

/* ---- the queue ------------------------------------------------------------- */

typedef struct slot {
    _Atomic pid_t   pid;
    _Atomic int64_t started;   /* CLOCK_MONOTONIC ns of the current run */
    _Atomic int     timed_out; /* the supervisor killed it for its timeout */
    size_t          len;       /* bytes of the job in `msg`; 0: none (written by ipc_recv) */
    unsigned char   msg[];     /* max_msg bytes */
} slot;

typedef struct shared {
    _Atomic bool stopping;
    size_t       slot_size;
} shared;

typedef struct handler { char name[NAME_LEN + 1]; ipc_task_fn fn; void *user; } handler;

typedef struct record {
    uint64_t id;
    enum ipc_task_state state;
    int      attempts;
    unsigned char *result;
    size_t   result_len;
    char     error[128];
} record;

struct ipc_task_queue {
    ipc_channel *jobs, *events;
    size_t       max_msg;        /* of a job message                   */
    handler      handlers[MAX_HANDLERS];
    int          nhandlers;
    uint64_t     next_seq;
    record      *recs;           /* jobs this process enqueued or heard of */
    size_t       nrecs, arecs;
    uint64_t    *dead;
    size_t       ndead, adead;
    pid_t        supervisor;     /* 0: no pool */
    shared      *sh;             /* the pool's shared mapping */
    size_t       sh_size;
    int          nworkers;
    unsigned char *evbuf;        /* one event, max_msg + EV_HDR bytes */
};

static int64_t realtime_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static slot *slot_at(const ipc_task_queue *tq, int i)
{
    return (slot *)((char *)tq->sh + sizeof(shared) + (size_t)i * tq->sh->slot_size);
}

int ipc_task_open(const char *mechanism, const ipc_config *cfg, ipc_task_queue **out)
{
    if (!out) return ipc__fail(IPC_EINVAL, "ipc_task_open: out is NULL");
    *out = NULL;
    const ipc_mechanism *m = ipc_find(mechanism);
    if (!m) return ipc__fail(IPC_ENOMECH, "ipc_task_open: unknown mechanism '%s'", mechanism ? mechanism : "(null)");
    if ((m->caps & (IPC_CAP_FORK | IPC_CAP_MPMC)) != (IPC_CAP_FORK | IPC_CAP_MPMC))
        return ipc__fail(IPC_ENOTSUP, "ipc_task_open: '%s' cannot carry jobs between processes "
                         "(needs IPC_CAP_FORK and IPC_CAP_MPMC)", m->name);
    ipc_task_queue *tq = calloc(1, sizeof *tq);
    if (!tq) return ipc__fail(IPC_ESYS, "ipc_task_open: calloc");
    ipc_config jc = cfg ? *cfg : (ipc_config){ 0 };
    int rc = ipc_open(mechanism, &jc, &tq->jobs);
    if (rc != IPC_OK) goto fail;
    /* The events channel: the same mechanism, its own name where named, and
     * room for many events (results pile up until the client reads them). */
    ipc_config ec = jc;
    char evname[256];
    if (jc.name) {
        snprintf(evname, sizeof evname, "%s.events", jc.name);
        ec.name = evname;
    }
    if (ec.capacity && ec.capacity < 1024 && m->max_msg_limit > 0) ec.capacity = 1024;
    rc = ipc_open(mechanism, &ec, &tq->events);
    if (rc != IPC_OK) goto fail;
    tq->max_msg = ipc_max_msg(tq->jobs) < ipc_max_msg(tq->events) ? ipc_max_msg(tq->jobs) : ipc_max_msg(tq->events);
    if (tq->max_msg < JOB_HDR + NAME_LEN + 1) {
        rc = ipc__fail(IPC_EINVAL, "ipc_task_open: max_msg %zu is too small for a job", tq->max_msg);
        goto fail;
    }
    tq->evbuf = malloc(tq->max_msg + EV_HDR);
    if (!tq->evbuf) {
        rc = ipc__fail(IPC_ESYS, "ipc_task_open: malloc");
        goto fail;
    }
    tq->next_seq = 1;
    *out = tq;
    return IPC_OK;
fail:
    ipc_free(tq->events);
    ipc_free(tq->jobs);
    free(tq);
    return rc;
}

int ipc_task_register(ipc_task_queue *tq, const char *name, ipc_task_fn fn, void *user)
{
    if (!tq || !name || !fn || !*name || strlen(name) > NAME_LEN)
        return ipc__fail(IPC_EINVAL, "ipc_task_register: a queue, a name of 1..%d bytes and a function", NAME_LEN);
    for (int i = 0; i < tq->nhandlers; i++)
        if (!strcmp(tq->handlers[i].name, name)) {
            tq->handlers[i].fn = fn;
            tq->handlers[i].user = user;
            return IPC_OK;
        }
    if (tq->nhandlers == MAX_HANDLERS) return ipc__fail(IPC_EFULL, "ipc_task_register: %d handlers already", MAX_HANDLERS);
    handler *h = &tq->handlers[tq->nhandlers++];
    snprintf(h->name, sizeof h->name, "%s", name);
    h->fn = fn;
    h->user = user;
    return IPC_OK;
}

static record *find_rec(ipc_task_queue *tq, uint64_t id, bool create)
{
    for (size_t i = 0; i < tq->nrecs; i++)
        if (tq->recs[i].id == id) return &tq->recs[i];
    if (!create) return NULL;
    if (tq->nrecs == tq->arecs) {
        size_t n = tq->arecs ? 2 * tq->arecs : 64;
        record *r = realloc(tq->recs, n * sizeof *r);
        if (!r) return NULL;
        tq->recs = r;
        tq->arecs = n;
    }
    record *r = &tq->recs[tq->nrecs++];
    *r = (record){ .id = id };
    return r;
}

/* Send a job message to `ch`: blocking up to 1 s (a full queue is an error
 * the caller sees, not a hang). */
static int send_job(ipc_channel *ch, const job *j, unsigned char *buf, int timeout_ms)
{
    job_encode(j, buf);
    return ipc_send(ch, buf, job_size(j), j->priority, timeout_ms);
}

int ipc_task_enqueue(ipc_task_queue *tq, const char *name, const void *args, size_t len,
                     const ipc_task_opts *opts, uint64_t *id)
{
    if (!tq || !name || !*name || strlen(name) > NAME_LEN || (len && !args))
        return ipc__fail(IPC_EINVAL, "ipc_task_enqueue: a queue, a name of 1..%d bytes, args", NAME_LEN);
    ipc_task_opts o = opts ? *opts : (ipc_task_opts){ 0 };
    if (o.retries < 0 || o.retries > 1000 || o.backoff_ms < 0 || o.timeout_ms < 0 || o.countdown_ms < 0 || o.eta_ns < 0)
        return ipc__fail(IPC_EINVAL, "ipc_task_enqueue: negative (or absurd) options");
    size_t need = JOB_HDR + strlen(name) + len;
    if (need > tq->max_msg)
        return ipc__fail(IPC_EMSGSIZE, "ipc_task_enqueue: %zu bytes of args do not fit a %zu-byte job", len, tq->max_msg);
    int64_t nb = o.eta_ns;
    if (o.countdown_ms) {
        int64_t c = realtime_ns() + (int64_t)o.countdown_ms * 1000000;
        if (c > nb) nb = c;
    }
    job j = { .id = (uint64_t)getpid() << 32 | tq->next_seq++, .not_before = nb,
              .backoff_ms = (uint32_t)(o.backoff_ms ? o.backoff_ms : 100), .timeout_ms = (uint32_t)o.timeout_ms,
              .args_len = (uint32_t)len, .priority = o.priority, .attempt = 1, .retries = (uint16_t)o.retries,
              .name_len = (uint16_t)strlen(name), .name = name, .args = args };
    unsigned char *buf = malloc(need);
    if (!buf) return ipc__fail(IPC_ESYS, "ipc_task_enqueue: malloc");
    int rc = send_job(tq->jobs, &j, buf, 1000);
    free(buf);
    if (rc != IPC_OK) return rc;
    record *r = find_rec(tq, j.id, true);
    if (r) r->state = IPC_TASK_QUEUED;
    if (id) *id = j.id;
    return IPC_OK;
}

/* ---- events ------------------------------------------------------------------ */

static int send_event(ipc_task_queue *tq, int kind, uint64_t id, int attempt, const void *data, size_t len)
{
    unsigned char *m = tq->evbuf;
    if (len > tq->max_msg) len = tq->max_msg; /* a result too large is cut: say so in the header note */
    memcpy(m, EV_MAGIC, 4);
    m[4] = WIRE_VERSION;
    m[5] = (unsigned char)kind;
    put16(m + 6, (uint16_t)attempt);
    put32(m + 8, (uint32_t)len);
    put64(m + 12, id);
    if (len) memcpy(m + EV_HDR, data, len);
    /* Blocking, bounded: a client that never reads results must not hang a
     * worker for ever; after 5 s the event is dropped (status then stays
     * where it was — documented in task.h). */
    return ipc_send(tq->events, m, EV_HDR + len, 0, 5000);
}

static void apply_event(ipc_task_queue *tq, const unsigned char *m, size_t len)
{
    if (len < EV_HDR || memcmp(m, EV_MAGIC, 4) != 0 || m[4] != WIRE_VERSION || EV_HDR + get32(m + 8) != len)
        return; /* not ours: ignored */
    int kind = m[5], attempt = get16(m + 6);
    size_t dlen = get32(m + 8);
    record *r = find_rec(tq, get64(m + 12), true);
    if (!r) return;
    if (r->state == IPC_TASK_FINISHED || r->state == IPC_TASK_DEAD) return; /* terminal: late news changes nothing */
    if (attempt > r->attempts) r->attempts = attempt;
    switch (kind) {
    case EV_STARTED: r->state = IPC_TASK_STARTED; break;
    case EV_RETRY:
        r->state = IPC_TASK_QUEUED;
        snprintf(r->error, sizeof r->error, "%.*s", (int)dlen, (const char *)m + EV_HDR);
        break;
    case EV_DEAD:
        r->state = IPC_TASK_DEAD;
        snprintf(r->error, sizeof r->error, "%.*s", (int)dlen, (const char *)m + EV_HDR);
        if (tq->ndead == tq->adead) {
            size_t n = tq->adead ? 2 * tq->adead : 16;
            uint64_t *d = realloc(tq->dead, n * sizeof *d);
            if (!d) return;
            tq->dead = d;
            tq->adead = n;
        }
        tq->dead[tq->ndead++] = r->id;
        break;
    case EV_FINISHED:
        free(r->result);
        r->result = malloc(dlen ? dlen : 1);
        if (!r->result) return;
        memcpy(r->result, m + EV_HDR, dlen);
        r->result_len = dlen;
        r->state = IPC_TASK_FINISHED;
        break;
    default: break;
    }
}

/* Read the events that have arrived; with a deadline, wait for at least one. */
static int drain_events(ipc_task_queue *tq, int timeout_ms)
{
    for (;;) {
        size_t len;
        int rc = ipc_recv(tq->events, tq->evbuf, tq->max_msg + EV_HDR, &len, NULL, timeout_ms);
        if (rc == IPC_EEMPTY || rc == IPC_ECLOSED) return IPC_OK;
        if (rc != IPC_OK) return rc;
        apply_event(tq, tq->evbuf, len);
        timeout_ms = 0; /* one waited for; now take what else is there */
    }
}

enum ipc_task_state ipc_task_status(ipc_task_queue *tq, uint64_t id)
{
    if (!tq) return IPC_TASK_UNKNOWN;
    drain_events(tq, 0);
    record *r = find_rec(tq, id, false);
    return r ? r->state : IPC_TASK_UNKNOWN;
}

int ipc_task_result(ipc_task_queue *tq, uint64_t id, void *buf, size_t cap, ipc_task_info *info, int timeout_ms)
{
    if (!tq || (cap && !buf))
        return ipc__fail(IPC_EINVAL, "ipc_task_result: a queue and a buffer for cap bytes");
    int bad = ipc__timeout_check("ipc_task_result", timeout_ms);
    if (bad != IPC_OK) return bad;
    int64_t deadline = timeout_ms > 0 ? ipc_now_ns() + (int64_t)timeout_ms * 1000000 : 0;
    for (;;) {
        record *r = find_rec(tq, id, false);
        if (r && (r->state == IPC_TASK_FINISHED || r->state == IPC_TASK_DEAD)) {
            if (info) {
                info->state = r->state;
                info->attempts = r->attempts;
                info->result_len = r->result_len;
                snprintf(info->error, sizeof info->error, "%s", r->state == IPC_TASK_DEAD ? r->error : "");
            }
            if (r->state == IPC_TASK_FINISHED) {
                if (r->result_len > cap)
                    return ipc__fail(IPC_EMSGSIZE, "ipc_task_result: the result has %zu bytes, the buffer %zu",
                                     r->result_len, cap);
                if (r->result_len) memcpy(buf, r->result, r->result_len);
            }
            return IPC_OK;
        }
        int wait = timeout_ms < 0 ? 200 : 0;
        if (timeout_ms > 0) {
            int64_t left = (deadline - ipc_now_ns()) / 1000000;
            if (left <= 0) break;
            wait = left < 200 ? (int)left + 1 : 200;
        }
        int rc = drain_events(tq, wait);
        if (rc != IPC_OK) return rc;
        if (timeout_ms == 0) {
            record *again = find_rec(tq, id, false);
            if (!again || (again->state != IPC_TASK_FINISHED && again->state != IPC_TASK_DEAD)) break;
        }
    }
    if (info) {
        record *r = find_rec(tq, id, false);
        info->state = r ? r->state : IPC_TASK_UNKNOWN;
        info->attempts = r ? r->attempts : 0;
        info->result_len = 0;
        info->error[0] = '\0';
    }
    return ipc__fail(IPC_ETIMEDOUT, "ipc_task_result: job %llu not done within %d ms", (unsigned long long)id, timeout_ms);
}

long ipc_task_dead(ipc_task_queue *tq, uint64_t *ids, size_t max)
{
    if (!tq || (max && !ids)) return ipc__fail(IPC_EINVAL, "ipc_task_dead: a queue and room for ids");
    drain_events(tq, 0);
    size_t n = tq->ndead < max ? tq->ndead : max;
    if (n) memcpy(ids, tq->dead, n * sizeof *ids);
    return (long)n;
}

/* ---- a failed attempt: retry later, or dead ------------------------------------ */

/* Called by a worker (the handler failed) or the supervisor (the worker died,
 * or ran past its timeout).  held: where a retry waits until due. */
static void failed_attempt(ipc_task_queue *tq, ipc_channel *held, const job *j, const char *why, unsigned char *buf)
{
    if (j->attempt <= j->retries) {
        job next = *j;
        next.attempt = (uint16_t)(j->attempt + 1);
        uint64_t delay_ms = (uint64_t)j->backoff_ms << (j->attempt - 1 < 20 ? j->attempt - 1 : 20);
        next.not_before = realtime_ns() + (int64_t)delay_ms * 1000000;
        char note[128];
        snprintf(note, sizeof note, "attempt %d: %s; retry in %llu ms", j->attempt, why, (unsigned long long)delay_ms);
        if (send_job(held, &next, buf, -1) == IPC_OK) {
            send_event(tq, EV_RETRY, j->id, j->attempt, note, strlen(note));
            return;
        }
        why = "could not hold the retry"; /* fall through: dead, with the reason */
    }
    char note[128];
    snprintf(note, sizeof note, "attempt %d of %d: %s", j->attempt, j->retries + 1, why);
    send_event(tq, EV_DEAD, j->id, j->attempt, note, strlen(note));
}

/* ---- a worker ------------------------------------------------------------------- */

static const handler *find_handler(const ipc_task_queue *tq, const job *j)
{
    for (int i = 0; i < tq->nhandlers; i++)
        if (strlen(tq->handlers[i].name) == j->name_len && !memcmp(tq->handlers[i].name, j->name, j->name_len))
            return &tq->handlers[i];
    return NULL;
}

static void worker_loop(ipc_task_queue *tq, ipc_channel *held, slot *s)
{
    unsigned char *result = malloc(tq->max_msg), *buf = malloc(tq->max_msg);
    if (!result || !buf) _exit(1);
    /* ACQUIRE: a stop request from the client (RELEASE there) is seen */
    while (!atomic_load_explicit(&tq->sh->stopping, memory_order_acquire)) {
        s->len = 0;
        int rc = ipc_recv(tq->jobs, s->msg, tq->max_msg, &s->len, NULL, 200); /* straight into the slot */
        if (rc == IPC_EEMPTY) continue;
        if (rc == IPC_ECLOSED) break;
        if (rc != IPC_OK) _exit(2);
        job j;
        if (job_decode(s->msg, s->len, &j) != IPC_OK) { /* not a job: dropped, said on stderr */
            fprintf(stderr, "ipc_task worker %d: %s\n", (int)getpid(), ipc_last_error());
            s->len = 0;
            continue;
        }
        if (j.not_before > realtime_ns()) { /* not due: the supervisor holds it */
            if (ipc_send(held, s->msg, s->len, j.priority, -1) == IPC_OK) s->len = 0;
            else _exit(3); /* the supervisor re-sends it from the slot */
            continue;
        }
        /* RELEASE: the supervisor's timeout check sees a start time that
         * belongs to this job */
        atomic_store_explicit(&s->started, ipc_now_ns(), memory_order_release);
        send_event(tq, EV_STARTED, j.id, j.attempt, NULL, 0);
        const handler *h = find_handler(tq, &j);
        size_t rlen = 0;
        int hr = h ? h->fn(h->user, j.args, j.args_len, result, tq->max_msg, &rlen) : -1;
        if (hr == 0 && rlen <= tq->max_msg) {
            send_event(tq, EV_FINISHED, j.id, j.attempt, result, rlen);
        } else {
            char why[96];
            if (!h) snprintf(why, sizeof why, "no handler '%.*s' in this worker", (int)j.name_len, j.name);
            else snprintf(why, sizeof why, "the handler returned %d", hr);
            failed_attempt(tq, held, &j, why, buf);
        }
        s->len = 0; /* first: a death after this point re-runs nothing */
        atomic_store_explicit(&s->started, 0, memory_order_release); /* RELEASE: pairs with the supervisor's check */
    }
    free(result);
    free(buf);
    _exit(0);
}

/* ---- the supervisor -------------------------------------------------------------- */

typedef struct pending { int64_t due; size_t len; unsigned char *msg; } pending;

static pid_t spawn_worker(ipc_task_queue *tq, ipc_channel *held, int i)
{
    slot *s = slot_at(tq, i);
    s->len = 0;
    atomic_store(&s->started, 0);
    atomic_store(&s->timed_out, 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) worker_loop(tq, held, s);
    if (pid > 0) atomic_store(&s->pid, pid);
    return pid;
}

static void supervise(ipc_task_queue *tq, ipc_channel *held)
{
    unsigned char *buf = malloc(tq->max_msg);
    pending *heap = NULL;
    size_t n = 0, cap = 0;
    int live = 0;
    if (!buf) _exit(1);
    for (int i = 0; i < tq->nworkers; i++) live += spawn_worker(tq, held, i) > 0;
    for (;;) {
        bool stopping = atomic_load_explicit(&tq->sh->stopping, memory_order_acquire);
        /* reap: a worker that died with a job in its slot fails that attempt */
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            for (int i = 0; i < tq->nworkers; i++) {
                slot *s = slot_at(tq, i);
                if (atomic_load(&s->pid) != pid) continue;
                live--;
                atomic_store(&s->pid, 0);
                job j;
                if (s->len && job_decode(s->msg, s->len, &j) == IPC_OK) {
                    char why[96];
                    if (atomic_load(&s->timed_out)) snprintf(why, sizeof why, "timed out after %u ms", j.timeout_ms);
                    else if (WIFSIGNALED(status)) snprintf(why, sizeof why, "the worker died (%s)", strsignal(WTERMSIG(status)));
                    else snprintf(why, sizeof why, "the worker exited with status %d", WEXITSTATUS(status));
                    if (j.not_before > realtime_ns() || !atomic_load(&s->started)) /* taken, never started: just again */
                        ipc_send(tq->jobs, s->msg, s->len, j.priority, -1);
                    else
                        failed_attempt(tq, held, &j, why, buf);
                }
                s->len = 0;
                if (!stopping) live += spawn_worker(tq, held, i) > 0;
            }
        }
        /* timeouts */
        int64_t now = ipc_now_ns();
        for (int i = 0; i < tq->nworkers; i++) {
            slot *s = slot_at(tq, i);
            /* ACQUIRE: pairs with the worker's RELEASE of `started` */
            int64_t t = atomic_load_explicit(&s->started, memory_order_acquire);
            job j;
            pid_t wp = atomic_load(&s->pid);
            if (!t || !wp || !s->len || job_decode(s->msg, s->len, &j) != IPC_OK || !j.timeout_ms) continue;
            if (now - t > (int64_t)j.timeout_ms * 1000000 && !atomic_exchange(&s->timed_out, 1)) kill(wp, SIGKILL);
        }
        /* held jobs: in; due ones: out to the jobs channel */
        size_t len;
        int rc;
        while ((rc = ipc_recv(held, buf, tq->max_msg, &len, NULL, 0)) == IPC_OK) {
            job j;
            if (job_decode(buf, len, &j) != IPC_OK) continue;
            if (n == cap) {
                size_t c2 = cap ? 2 * cap : 16;
                pending *h2 = realloc(heap, c2 * sizeof *h2);
                if (!h2) break;
                heap = h2;
                cap = c2;
            }
            heap[n].msg = malloc(len);
            if (!heap[n].msg) break;
            memcpy(heap[n].msg, buf, len);
            heap[n].len = len;
            heap[n].due = j.not_before;
            n++;
        }
        int64_t wall = realtime_ns();
        for (size_t k = 0; k < n;) {
            if (heap[k].due <= wall || stopping) { /* on stop: back to the queue, never lost */
                job j;
                job_decode(heap[k].msg, heap[k].len, &j);
                /* at or past its time: the next worker runs it (on stop it waits there, not due) */
                if (ipc_send(tq->jobs, heap[k].msg, heap[k].len, j.priority, stopping ? -1 : 0) == IPC_OK) {
                    free(heap[k].msg);
                    heap[k] = heap[--n];
                    continue;
                }
            }
            k++;
        }
        if (stopping && live == 0) break;
        struct timespec nap = { 0, 10 * 1000000L };
        nanosleep(&nap, NULL);
    }
    free(heap);
    free(buf);
    _exit(0);
}

int ipc_task_work(ipc_task_queue *tq, int nworkers)
{
    if (!tq || nworkers < 1 || nworkers > MAX_WORKERS)
        return ipc__fail(IPC_EINVAL, "ipc_task_work: a queue and 1..%d workers", MAX_WORKERS);
    if (tq->supervisor) return ipc__fail(IPC_EINVAL, "ipc_task_work: a pool is already running");
    size_t slot_size = (sizeof(slot) + tq->max_msg + 63) & ~(size_t)63;
    size_t size = sizeof(shared) + (size_t)nworkers * slot_size;
    shared *sh = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) return ipc__fail(IPC_ESYS, "ipc_task_work: mmap");
    sh->slot_size = slot_size;
    atomic_init(&sh->stopping, false);
    /* where jobs that are not yet due wait: the supervisor's own channel */
    ipc_channel *held;
    size_t held_cap = ((size_t)256 << 20) / tq->max_msg; /* at most 256 MiB reserved (untouched pages cost nothing) */
    held_cap = held_cap > 1024 ? 1024 : held_cap < 16 ? 16 : held_cap; /* full: a worker waits for the supervisor */
    int rc = ipc_open("procq", &(ipc_config){ .capacity = held_cap, .max_msg = tq->max_msg }, &held);
    if (rc != IPC_OK) {
        munmap(sh, size);
        return rc;
    }
    tq->sh = sh;
    tq->sh_size = size;
    tq->nworkers = nworkers;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        rc = ipc__fail(IPC_ESYS, "ipc_task_work: fork");
        ipc_free(held);
        munmap(sh, size);
        tq->sh = NULL;
        return rc;
    }
    if (pid == 0) supervise(tq, held);
    ipc_free(held); /* the supervisor and workers hold it */
    tq->supervisor = pid;
    return IPC_OK;
}

int ipc_task_stop(ipc_task_queue *tq)
{
    if (!tq) return ipc__fail(IPC_EINVAL, "ipc_task_stop: NULL");
    if (!tq->supervisor) return IPC_OK;
    /* RELEASE: workers and the supervisor see it with ACQUIRE */
    atomic_store_explicit(&tq->sh->stopping, true, memory_order_release);
    int status;
    while (waitpid(tq->supervisor, &status, 0) < 0 && errno == EINTR) {
    }
    munmap(tq->sh, tq->sh_size);
    tq->sh = NULL;
    tq->supervisor = 0;
    return IPC_OK;
}

void ipc_task_free(ipc_task_queue *tq)
{
    if (!tq) return;
    ipc_task_stop(tq);
    for (size_t i = 0; i < tq->nrecs; i++) free(tq->recs[i].result);
    free(tq->recs);
    free(tq->dead);
    free(tq->evbuf);
    ipc_free(tq->events);
    ipc_free(tq->jobs);
    free(tq);
}
