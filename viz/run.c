/*
 * run.c — producers and consumers on a real channel, recorded.
 *
 * One channel is opened with ipc_open() and one observer is attached with
 * ipc_observe().  The observer runs synchronously in whichever thread made
 * the call, so a thread-local pointer tells it which actor that is, and it
 * appends one record to the shared trace ring (trace.c).  With
 * --processes every actor is a forked child instead: the channel handle,
 * the observer and the trace ring are inherited by fork(), and because the
 * ring and the control block are MAP_SHARED the children's events and
 * counters land where the visualizer reads them.
 *
 * Actors wait in slices (SLICE_MS) so that a stop request is noticed
 * quickly; a timed-out wait is simply retried, and the trace shows the
 * retries, which the model folds into one long "blocked".
 */
#define _GNU_SOURCE
#include "run.h"

#include "toyq.h"
#include "pipes/stream_info.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SLICE_MS     200   /* longest wait before an actor re-checks "stop"      */
#define TRACE_ORDER  16    /* 65536 records in flight between two frames         */
#define STOP_GRACE_S 3     /* a child process that ignores "stop" is killed then */

/* Everything the actors and the visualizer share, in MAP_SHARED memory so
 * forked actors see the same controls and update the same counters. */
typedef struct control {
    atomic_int   delay_ms[2];      /* by role: work between messages          */
    atomic_int   burst, pause_ms;
    atomic_long  messages;         /* total to carry, 0 = endless             */
    atomic_long  next_ticket;      /* producers claim message numbers here    */
    atomic_bool  stop_all, closed;
    atomic_ulong sent, received;
    atomic_flag  error_claimed;    /* the first failing actor writes error[] */
    atomic_bool  error_ready;      /* ... and then sets this                  */
    char         error[200];
    struct actor_ctl {
        atomic_bool  stop;         /* asked to leave                          */
        atomic_bool  live;         /* its loop is running                     */
        atomic_uint  next_seq;     /* producers: number of its next message   */
        atomic_llong cpu_ns;       /* the CPU time it has used (publish_cpu)  */
    } actor[VIZ_MAX_ACTORS];
} control;

typedef struct worker {
    viz_run     *run;
    int          id;
    enum viz_role role;
    bool         started;          /* thread or process not yet reaped        */
    pthread_t    thread;
    pid_t        pid;
    viz_token    sending;          /* the message in ipc_send (observer reads) */
} worker;

struct viz_run {
    viz_run_info  info;
    ipc_channel  *ch;
    toyq         *toy;
    viz_trace    *trace;
    control      *ctl;
    worker        workers[VIZ_MAX_ACTORS];
    bool          stopped;
    bool          stream;          /* a byte stream: record its kernel bytes  */
};

/* The actor this thread (or process) is; NULL in the visualizer's thread. */
static _Thread_local worker *tls_worker;

/* ---- recording --------------------------------------------------------- */

static void put(viz_run *r, int64_t t, int kind, int result, long depth, size_t len, viz_token tok)
{
    const worker *w = tls_worker;
    viz_rec rec = {
        .t_ns = t, .kind = (uint8_t)kind, .actor = w ? (uint8_t)w->id : VIZ_ACTOR_MAIN,
        .result = (int16_t)result, .depth = (int32_t)(depth < INT32_MAX ? depth : INT32_MAX),
        .len = (uint32_t)len, .tok = tok,
    };
    viz_trace_put(r->trace, &rec);
}

static const viz_token no_token = { .producer = VIZ_NO_PRODUCER };

/* An event of the visualizer's own (actor start/exit, burst pause...). */
static void record(viz_run *r, int kind, int result, long depth, size_t len, viz_token tok)
{
    put(r, ipc_now_ns(), kind, result, depth, len, tok);
}

/* The observer: called inside ipc_send/ipc_recv/ipc_close, in the caller's
 * thread, so it must be quick — one record into the ring, no locks. */
static void on_event(void *arg, const ipc_channel *ch, const ipc_event *ev)
{
    const worker *w = tls_worker;
    viz_token tok = no_token;
    bool send_kind = ev->kind == IPC_EV_SEND_BEGIN || ev->kind == IPC_EV_SEND_BLOCKED
                     || ev->kind == IPC_EV_SEND_DONE;
    if (send_kind && w)
        tok = w->sending;               /* the same thread set it just before */
    else if (ev->kind == IPC_EV_RECV_DONE && ev->result == IPC_OK) {
        tok = viz_token_decode(ev->msg, ev->len);
        tok.prio = (int16_t)ev->prio;
    }
    put(arg, ev->t_ns, ev->kind, ev->result, ev->depth, ev->len, tok);
    /* A byte stream: also what the kernel holds now (one ioctl, no lock),
     * so the picture can tell the kernel's buffer from the reader's own. */
    const viz_run *r = arg;
    if (r->stream && (ev->kind == IPC_EV_SEND_DONE || ev->kind == IPC_EV_RECV_DONE)) {
        long bytes = ipc_stream_kernel_bytes(ch);
        if (bytes >= 0) put(arg, ev->t_ns, VIZ_EV_FILL, 0, -1, (size_t)bytes, no_token);
    }
}

static void on_overwritten(void *arg, viz_token lost)
{
    viz_run *r = arg;
    record(r, VIZ_EV_LOST, 0, toyq_depth(r->toy), VIZ_TOKEN_BYTES, lost);
}

static void note_error(control *c, const char *who, int rc)
{
    if (atomic_flag_test_and_set(&c->error_claimed)) return;
    snprintf(c->error, sizeof c->error, "%s: %s (%s)", who, ipc_strerror(rc), ipc_last_error());
    atomic_store_explicit(&c->error_ready, true, memory_order_release);
}

/* ---- the actors ------------------------------------------------------- */

static int chan_send(viz_run *r, const void *msg, size_t len, int prio)
{
    return r->toy ? toyq_send(r->toy, msg, len, SLICE_MS) : ipc_send(r->ch, msg, len, prio, SLICE_MS);
}

static int chan_recv(viz_run *r, void *buf, size_t cap, size_t *len)
{
    int prio;
    return r->toy ? toyq_recv(r->toy, buf, cap, len, SLICE_MS)
                  : ipc_recv(r->ch, buf, cap, len, &prio, SLICE_MS);
}

/* What this actor's thread has burnt so far, for the picture's CPU%: the
 * actor's own clock (in a forked actor, its only thread), published after
 * every call, so a spinning wait shows within one slice. */
static void publish_cpu(const worker *w)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0)
        atomic_store_explicit(&w->run->ctl->actor[w->id].cpu_ns,
                              (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec, memory_order_relaxed);
}

static bool stopping(const worker *w)
{
    const control *c = w->run->ctl;
    return atomic_load(&c->stop_all) || atomic_load(&c->actor[w->id].stop);
}

/* Sleep ms milliseconds of "work", waking early for a stop request. */
static void work(const worker *w, int ms)
{
    int64_t end = ipc_now_ns() + (int64_t)ms * 1000000;
    for (int64_t now = ipc_now_ns(); now < end && !stopping(w); now = ipc_now_ns()) {
        int64_t step = end - now < 50000000 ? end - now : 50000000;
        struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)step };
        nanosleep(&ts, NULL); /* EINTR only shortens one slice */
    }
}

static void producer(worker *w, unsigned char *buf)
{
    viz_run *r = w->run;
    control *c = r->ctl;
    bool prio = r->info.caps & IPC_CAP_PRIORITY;
    for (int in_burst = 0; !stopping(w);) {
        long limit = atomic_load(&c->messages);
        if (limit && atomic_fetch_add(&c->next_ticket, 1) >= limit) break;
        uint32_t seq = atomic_fetch_add(&c->actor[w->id].next_seq, 1);
        w->sending = (viz_token){ .producer = (uint16_t)w->id, .seq = seq,
                                  .prio = (int16_t)(prio ? viz_prio_for(seq) : 0) };
        viz_token_encode(&w->sending, buf, r->info.msg_size);
        int rc;
        do {
            rc = chan_send(r, buf, r->info.msg_size, w->sending.prio);
            publish_cpu(w);
        } while (rc == IPC_EFULL && !stopping(w));
        if (rc != IPC_OK) {
            if (rc != IPC_EFULL && rc != IPC_ECLOSED) note_error(c, "send", rc);
            break;
        }
        atomic_fetch_add(&c->sent, 1);
        work(w, atomic_load(&c->delay_ms[VIZ_PRODUCER]));
        int burst = atomic_load(&c->burst);
        if (burst > 0 && ++in_burst >= burst) {
            in_burst = 0;
            record(r, VIZ_EV_IDLE, 0, -1, 0, no_token);
            work(w, atomic_load(&c->pause_ms));
        }
    }
}

static void consumer(worker *w, unsigned char *buf)
{
    viz_run *r = w->run;
    control *c = r->ctl;
    while (!stopping(w)) {
        size_t len = 0;
        int rc = chan_recv(r, buf, r->info.msg_size, &len);
        publish_cpu(w);
        if (rc == IPC_OK) {
            atomic_fetch_add(&c->received, 1);
            work(w, atomic_load(&c->delay_ms[VIZ_CONSUMER]));
        } else if (rc == IPC_EEMPTY) {
            /* The close came after the last send had returned: an empty
             * channel now is a drained one, even where close cannot wake. */
            if (atomic_load(&c->closed)) break;
        } else {
            if (rc != IPC_ECLOSED) note_error(c, "recv", rc);
            break;
        }
    }
}

static void actor_main(worker *w)
{
    tls_worker = w;
    viz_run *r = w->run;
    record(r, VIZ_EV_ACTOR_START, w->role, -1, 0, no_token);
    unsigned char *buf = malloc(r->info.msg_size);
    if (!buf) {
        errno = ENOMEM;
        note_error(r->ctl, "malloc", IPC_ESYS);
    } else if (w->role == VIZ_PRODUCER) {
        producer(w, buf);
    } else {
        consumer(w, buf);
    }
    free(buf);
    record(r, VIZ_EV_ACTOR_EXIT, w->role, -1, 0, no_token);
    atomic_store(&r->ctl->actor[w->id].live, false);
}

static void *actor_thread(void *arg)
{
    actor_main(arg);
    return NULL;
}

static int launch(viz_run *r, int id, char *err, size_t errlen)
{
    worker *w = &r->workers[id];
    *w = (worker){ .run = r, .id = id, .role = viz_actor_role(id) };
    atomic_store(&r->ctl->actor[id].stop, false);
    atomic_store(&r->ctl->actor[id].live, true);
    atomic_store(&r->ctl->actor[id].cpu_ns, 0); /* a new actor in this slot */
    if (r->info.processes) {
        pid_t pid = fork();
        if (pid < 0) {
            atomic_store(&r->ctl->actor[id].live, false);
            snprintf(err, errlen, "fork: %s", strerror(errno));
            return -1;
        }
        if (pid == 0) {
            /* The child owns nothing but its actor: it never returns into
             * the visualizer, and leaves without ipc_free (which would let a
             * copied "owner" flag unlink a name the parent still uses). */
            actor_main(w);
            _exit(0);
        }
        w->pid = pid;
    } else {
        int e = pthread_create(&w->thread, NULL, actor_thread, w);
        if (e) { /* pthread calls return the error */
            atomic_store(&r->ctl->actor[id].live, false);
            snprintf(err, errlen, "pthread_create: %s", strerror(e));
            return -1;
        }
    }
    w->started = true;
    return 0;
}

/* Wait for a stopped actor.  block = false: only if it already left. */
static void reap(viz_run *r, worker *w, bool block)
{
    if (!w->started) return;
    if (!r->info.processes) {
        if (!block && atomic_load(&r->ctl->actor[w->id].live)) return;
        pthread_join(w->thread, NULL);
        w->started = false;
        return;
    }
    int status;
    pid_t got = waitpid(w->pid, &status, WNOHANG);
    for (int i = 0; block && got == 0 && i < STOP_GRACE_S * 100; i++) {
        struct timespec ts = { .tv_nsec = 10000000 };
        nanosleep(&ts, NULL);
        got = waitpid(w->pid, &status, WNOHANG);
    }
    if (got == 0 && block) {
        kill(w->pid, SIGKILL);
        got = waitpid(w->pid, &status, 0);
    }
    if (got != 0) w->started = false; /* exited, or not our child any more */
}

/* ---- the run ------------------------------------------------------------ */

static int open_channel(viz_run *r, const viz_scenario *s, char *err, size_t errlen)
{
    if (r->info.toy) {
        r->info.capacity = s->capacity ? s->capacity : 4;
        r->info.msg_size = VIZ_TOKEN_BYTES;
        toyq_hooks hooks = { .event = on_event, .overwritten = on_overwritten, .arg = r };
        r->toy = toyq_create(r->info.capacity, &hooks);
        if (!r->toy) {
            snprintf(err, errlen, "toy queue: out of memory");
            return -1;
        }
        return 0;
    }
    ipc_config cfg = { .capacity = s->capacity, .max_msg = s->msg_size, .wait = s->wait };
    int rc = ipc_open(s->mech, &cfg, &r->ch);
    if (rc != IPC_OK) {
        snprintf(err, errlen, "ipc_open(\"%s\"): %s", s->mech, ipc_last_error());
        return -1;
    }
    /* a capacity the mechanism does not enforce exactly is not shown as one */
    r->info.capacity = r->info.caps & IPC_CAP_BOUNDED ? ipc_capacity(r->ch) : 0;
    r->info.wait_strategy = ipc_wait_strategy(r->ch);
    r->stream = ipc_stream_kernel_bytes(r->ch) >= 0; /* asked once: not a stream leaves an error text */
    if (ipc_observe(r->ch, on_event, r) != IPC_OK) { /* e.g. a -DIPC_NO_OBSERVER build */
        snprintf(err, errlen, "ipc_observe: %s: the visualizer needs the observer hook", ipc_last_error());
        return -1;
    }
    return 0;
}

int viz_run_start(const viz_scenario *s, viz_run **out, char *err, size_t errlen)
{
    *out = NULL;
    if (viz_scenario_check(s, err, errlen) != 0) return -1;
    viz_run *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    r->ctl = mmap(NULL, sizeof *r->ctl, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    r->trace = viz_trace_create(TRACE_ORDER);
    if (r->ctl == MAP_FAILED || !r->trace) {
        snprintf(err, errlen, "mmap (trace and controls): %s", strerror(errno));
        if (r->ctl == MAP_FAILED) r->ctl = NULL;
        viz_run_free(r);
        return -1;
    }
    control *c = r->ctl; /* zeroed by mmap */
    atomic_store(&c->delay_ms[VIZ_PRODUCER], s->send_delay_ms);
    atomic_store(&c->delay_ms[VIZ_CONSUMER], s->recv_delay_ms);
    atomic_store(&c->burst, s->burst);
    atomic_store(&c->pause_ms, s->pause_ms);
    atomic_store(&c->messages, s->messages);

    viz_run_info *in = &r->info;
    in->toy = !strcmp(s->mech, VIZ_TOY_NAME);
    in->processes = s->processes;
    in->msg_size = s->msg_size;
    if (in->toy) {
        snprintf(in->name, sizeof in->name, "%s", VIZ_TOY_NAME);
        snprintf(in->family, sizeof in->family, "queues");
        in->family_id = IPC_FAMILY_QUEUES;
        in->carrier = IPC_CARRIER_MONITOR; /* a monitor without its lock */
        snprintf(in->wait, sizeof in->wait, "NO LOCK (polls)");
        snprintf(in->summary, sizeof in->summary, "a ring buffer without its mutex: loses and duplicates messages");
        in->caps = IPC_CAP_THREADS | IPC_CAP_MPMC | IPC_CAP_BOUNDED | IPC_CAP_FIFO;
    } else {
        const ipc_mechanism *m = ipc_find(s->mech);
        snprintf(in->name, sizeof in->name, "%s", m->name);
        snprintf(in->family, sizeof in->family, "%s", m->family);
        in->family_id = m->family_id;
        in->carrier = m->carrier;
        snprintf(in->wait, sizeof in->wait, "%s", m->wait_strategy ? m->wait_strategy : "?");
        snprintf(in->summary, sizeof in->summary, "%s", m->summary ? m->summary : "");
        in->caps = m->caps;
    }
    if (open_channel(r, s, err, errlen) != 0) {
        viz_run_free(r);
        return -1;
    }
    in->t0 = ipc_now_ns();
    record(r, VIZ_EV_RUN, 0, 0, 0, no_token);
    /* Consumers first, so the very first send already has a receiver. */
    for (int i = 0; i < s->consumers; i++)
        if (launch(r, viz_actor_id(VIZ_CONSUMER, i), err, errlen) != 0) goto fail;
    for (int i = 0; i < s->producers; i++)
        if (launch(r, viz_actor_id(VIZ_PRODUCER, i), err, errlen) != 0) goto fail;
    *out = r;
    return 0;
fail:
    viz_run_free(r);
    return -1;
}

static void shut_channel(viz_run *r)
{
    if (atomic_exchange(&r->ctl->closed, true)) return;
    if (r->toy) {
        toyq_close(r->toy);
        record(r, IPC_EV_CLOSE, 0, toyq_depth(r->toy), 0, no_token);
    } else {
        ipc_close(r->ch); /* the observer records IPC_EV_CLOSE */
    }
}

void viz_run_stop(viz_run *r)
{
    if (!r || r->stopped || !r->ctl) return;
    r->stopped = true;
    atomic_store(&r->ctl->stop_all, true);
    if (r->ch || r->toy) shut_channel(r); /* wakes whoever is blocked */
    for (int i = 0; i < VIZ_MAX_ACTORS; i++) reap(r, &r->workers[i], true);
}

void viz_run_free(viz_run *r)
{
    if (!r) return;
    viz_run_stop(r);
    ipc_free(r->ch);
    toyq_destroy(r->toy);
    viz_trace_destroy(r->trace);
    if (r->ctl) munmap(r->ctl, sizeof *r->ctl);
    free(r);
}

static int count_started(const viz_run *r, enum viz_role role)
{
    int n = 0;
    for (int i = 0; i < VIZ_MAX_ACTORS; i++)
        n += r->workers[i].started && r->workers[i].role == role;
    return n;
}

void viz_run_poll(viz_run *r)
{
    if (r->stopped) return;
    for (int i = 0; i < VIZ_MAX_ACTORS; i++) reap(r, &r->workers[i], false);
    long limit = atomic_load(&r->ctl->messages);
    if (limit && atomic_load(&r->ctl->next_ticket) >= limit && count_started(r, VIZ_PRODUCER) == 0)
        shut_channel(r);
}

viz_trace *viz_run_trace(viz_run *r) { return r->trace; }
const viz_run_info *viz_run_info_of(const viz_run *r) { return &r->info; }

void viz_run_counts_of(const viz_run *r, viz_run_counts *c)
{
    *c = (viz_run_counts){
        .sent = atomic_load(&r->ctl->sent), .received = atomic_load(&r->ctl->received),
        .producers = count_started(r, VIZ_PRODUCER), .consumers = count_started(r, VIZ_CONSUMER),
        .closed = atomic_load(&r->ctl->closed),
    };
    c->finished = c->closed && c->consumers == 0;
    for (int i = 0; i < VIZ_MAX_ACTORS; i++)
        c->cpu_ns[i] = atomic_load_explicit(&r->ctl->actor[i].cpu_ns, memory_order_relaxed);
    if (atomic_load_explicit(&r->ctl->error_ready, memory_order_acquire))
        snprintf(c->error, sizeof c->error, "%s", r->ctl->error);
}

static const char *role_name(enum viz_role role) { return role == VIZ_PRODUCER ? "producer" : "consumer"; }
static int role_max(enum viz_role role) { return role == VIZ_PRODUCER ? VIZ_MAX_PRODUCERS : VIZ_MAX_CONSUMERS; }

int viz_run_add(viz_run *r, enum viz_role role, char *err, size_t errlen)
{
    if (r->stopped || atomic_load(&r->ctl->closed)) {
        snprintf(err, errlen, "this run is over (channel closed): restart it to add a %s", role_name(role));
        return -1;
    }
    if (!(r->info.caps & IPC_CAP_MPMC) && count_started(r, role) > 0) {
        snprintf(err, errlen, "'%s' allows one %s (no IPC_CAP_MPMC)", r->info.name, role_name(role));
        return -1;
    }
    for (int i = 0; i < role_max(role); i++) {
        int id = viz_actor_id(role, i);
        reap(r, &r->workers[id], false); /* a slot whose actor has left is free again */
        if (!r->workers[id].started) return launch(r, id, err, errlen) == 0 ? id : -1;
    }
    snprintf(err, errlen, "at most %d %ss", role_max(role), role_name(role));
    return -1;
}

int viz_run_remove(viz_run *r, enum viz_role role, char *err, size_t errlen)
{
    for (int i = role_max(role) - 1; i >= 0; i--) {
        int id = viz_actor_id(role, i);
        if (r->workers[id].started && !atomic_exchange(&r->ctl->actor[id].stop, true)) return id;
    }
    snprintf(err, errlen, "no %s left to remove", role_name(role));
    return -1;
}

void viz_run_set_delay(viz_run *r, enum viz_role role, int ms)
{
    atomic_store(&r->ctl->delay_ms[role], ms < 0 ? 0 : ms > 60000 ? 60000 : ms);
}

int viz_run_delay(const viz_run *r, enum viz_role role) { return atomic_load(&r->ctl->delay_ms[role]); }
