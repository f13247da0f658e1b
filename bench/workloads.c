/*
 * workloads.c — what ipcbench measures, written once for every bench_impl.
 *
 *   latency     ping-pong over two channels: main sends a message of `size`
 *               bytes on A, the peer echoes the FULL payload back on B.  One
 *               iteration = one round trip, timed with CLOCK_MONOTONIC from
 *               right before the send to right after the receive, given to
 *               Google Benchmark as manual time and added to a log-linear
 *               histogram for p50/p99/p99.9/max.  Each run starts with a
 *               warm-up whose samples are discarded.
 *   throughput  N producers (main and N-1 peers) send `size`-byte messages
 *               as fast as the channel takes them, M consumers receive them
 *               (1x1 is one-way throughput; N,M in {1,2,4} is fan-in/out),
 *               timed from "go" until a consumer has counted the last one.
 *   pair        one thread: send, then receive, on one channel.  No peer, no
 *               wakeup: what is left is the CPU cost of the calls, where the
 *               interface's overhead (and the observer hook's) shows.
 *   cacheline   the floor of latency: two threads bounce a counter on one
 *               shared cache line (spinning; yielding now and then so that
 *               the same-core placement can finish at all).
 *   memcpy      the ceiling of throughput: memory bandwidth.
 *
 * Interleaving.  On a shared 2-vCPU machine the same figure moves by 10-40 %
 * from one second to the next, far more than the 10 % the interface may
 * cost.  So a mechanism and its raw baseline are never measured one after
 * the other: each is a "lane" (its own channels and peers), and the lanes
 * take turns inside every run — 64 round trips each, a quarter of the
 * messages each, 256 pairs each — so both see the same machine.  The raw
 * lane's figures are reported as raw_* counters and the ratio as vs_raw
 * (mechanism time / raw time: 1.05 = 5 % slower than the bare calls).
 *
 * The lanes of a case are set up at its first run and kept for the next
 * runs of the same case (Google Benchmark calls a benchmark several times
 * while it finds the iteration count; a Redis mechanism that starts a
 * server per channel would otherwise be measured starting servers).
 * Control between main and the peers goes through plain pipes and a shared
 * page, never through the channel under test — except the STOP message
 * that ends a peer's loop the way a user's sentinel would.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_SIDE     4         /* up to 4 producers and 4 consumers         */
#define READY_MS     20000     /* a peer has this long to say it is ready   */
#define PREPARE_S    180       /* an impl's one-time set-up (a broker start) */
#define JOIN_MS      10000     /* and this long to finish once told         */
#define WARMUP_MAX   200       /* round trips discarded before measuring    */
#define WARMUP_NS    50000000  /* ... or 50 ms of them, whichever is first  */
#define LAT_BLOCK    64        /* round trips per lane turn                 */
#define THR_CHUNKS   8         /* turns per throughput run                  */
#define PAIR_BLOCK   256       /* send+receive pairs per lane turn          */

const char *const bench_kind_name[] = { "latency", "throughput", "pair", "latency", "throughput", "throughput" };

/* The physical limits are measured by their own loops below; these entries
 * give them a name, a wait strategy and the caps that say where they run. */
const bench_impl limit_cacheline = {
    .name = "limit:cacheline", .wait = "spin (yield every 256 spins)",
    .about = "two threads bounce a counter on one shared cache line: the floor of any latency",
    .caps = IPC_CAP_THREADS | IPC_CAP_FORK, .max_msg = sizeof(long),
};
const bench_impl limit_spsc = {
    .name = "limit:spsc", .wait = "spin (yield every 256 spins)",
    .about = "a minimal lock-free SPSC ring of 8-byte items (cached indices, rigtorp's SPSCQueue): "
             "the ceiling of any queue between two threads",
    .caps = IPC_CAP_THREADS, .max_msg = sizeof(uint64_t),
};
const bench_impl limit_memcpy = {
    .name = "limit:memcpy", .wait = "none (one thread)",
    .about = "memcpy of the message: the ceiling of any throughput that copies it",
    .caps = IPC_CAP_THREADS, .max_msg = SIZE_MAX,
};

/* ---- lanes: one implementation's channels and peers --------------------- */

/* limit:spsc's ring (Lamport; the producer alone writes tail, the consumer
 * alone head; each keeps a private copy of the other's index and re-reads
 * the shared one only when the copy says full or empty, so a cache line
 * crosses cores about once per batch, not once per item). */
#define LIMIT_RING 1024
typedef struct limit_ring {
    _Alignas(64) atomic_size_t tail;     /* producer's line */
    size_t      head_cache;
    _Alignas(64) atomic_size_t head;     /* consumer's line */
    size_t      tail_cache;
    _Alignas(64) uint64_t slot[LIMIT_RING];
} limit_ring;

/* Shared with forked peers (MAP_SHARED): plain memory would be copied. */
typedef struct ctrl {
    _Alignas(64) atomic_long ball;       /* cacheline ping-pong: alone on its line */
    limit_ring  ring;                    /* limit:spsc                             */
    /* The consumers' line: every message counted is a locked add here. */
    _Alignas(64) atomic_long received;   /* data messages consumed this turn */
    atomic_long total;                   /* data messages this turn carries   */
    /* Written by main before "go", read by the producers: never on the
     * consumers' line (main read its quota there once per message and
     * pulled the line back from the consumer's core every time: the
     * spsc rows moved 2.0 M msg/s where the same loop outside the
     * harness moves 5.1 M). */
    _Alignas(64) long quota[MAX_SIDE];   /* per producer, this turn           */
    atomic_int  quit;                    /* producers: leave at the next "go" */
    atomic_flag error_taken;
    char        error[400];              /* the first error a peer met        */
} ctrl;
_Static_assert(offsetof(ctrl, quota) / 64 != offsetof(ctrl, total) / 64,
               "the producers' quota must not share the consumers' counting line");

struct lane;
typedef struct peer_arg {
    struct lane *l;
    int          index;  /* which producer or consumer */
} peer_arg;

typedef struct lane {
    const bench_impl *impl;    /* NULL: this lane is not used            */
    ctrl          *ctrl;
    bench_chan    *ch[2];      /* latency: [0] main->peer, [1] peer->main */
    bench_peer     peer[2 * MAX_SIDE];
    peer_arg       arg[2 * MAX_SIDE];
    int            npeers;
    int            ack[2];           /* pipe: peers -> main, one byte each */
    int            go[MAX_SIDE][2];  /* pipes: main -> producer i          */
    int            nprod, ncons;
    size_t         size;
    unsigned char *buf, *echo;       /* main's message and receive buffer  */
    bench_hist     hist;             /* latency: round trips; throughput and
                                        pair: ns per message of each turn    */
    double         time_s;           /* measured this run: as timed,       */
    double         wall_s, cpu_s;    /* the wall around it, both sides' CPU */
    double         vcsw;             /* both sides' voluntary context switches */
    int64_t        ops;
} lane;

enum { LANE_IMPL, LANE_RAW, LANE_OBSERVED, LANES };

typedef struct session {
    const bench_case *owner;  /* the case these lanes serve              */
    bool  broken;             /* a peer may be stuck: leak, do not free  */
    lane  lane[LANES];
} session;

static session S;
static double run_budget_s = 120;

void bench_set_run_budget(double seconds) { run_budget_s = seconds; }

/* ---- talking to peers ---------------------------------------------------- */

static void tell(lane *l, char what)
{
    /* A one-byte write to a pipe is atomic; if it fails, main times out and
     * reports that the peer did not answer. */
    while (write(l->ack[1], &what, 1) < 0 && errno == EINTR) {}
}

/* Called in a peer: keep the first error for main, say 'E', return 1. */
static int peer_failed(lane *l, const char *what)
{
    if (!atomic_flag_test_and_set(&l->ctrl->error_taken))
        snprintf(l->ctrl->error, sizeof l->ctrl->error, "%s peer %s: %s", l->impl->name, what, bench_error());
    tell(l, 'E');
    return 1;
}

/* Wait until the peers have sent exactly the bytes in `expect`, in any
 * order ("D" plus one "P" per producer peer...); an 'E' is their error. */
static int wait_for(lane *l, const char *expect, int timeout_ms)
{
    char left[2 * MAX_SIDE + 2];
    snprintf(left, sizeof left, "%s", expect);
    struct pollfd p = { .fd = l->ack[0], .events = POLLIN };
    int64_t deadline = ipc_now_ns() + (int64_t)timeout_ms * 1000000;
    while (left[0]) {
        int ms = (int)((deadline - ipc_now_ns()) / 1000000);
        int n = poll(&p, 1, ms > 0 ? ms : 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return bench_fail_errno("poll");
        if (n == 0) return bench_fail("%s: no answer from a peer within %d ms", l->impl->name, timeout_ms);
        char got;
        ssize_t r = read(l->ack[0], &got, 1);
        if (r < 0 && errno == EINTR) continue;
        if (r != 1) return bench_fail_errno("read(ack pipe)");
        if (got == 'E') return bench_fail("%s", l->ctrl->error);
        char *at = strchr(left, got);
        if (!at) return bench_fail("peer said '%c', expected one of \"%s\"", got, left);
        memmove(at, at + 1, strlen(at));
    }
    return 0;
}

/* "R" for each of n peers, or "D" and a "P" per producer peer. */
static const char *acks(char first, int n, char rest)
{
    static char buf[2 * MAX_SIDE + 2];
    int k = 0;
    if (first) buf[k++] = first;
    while (n-- > 0 && k < (int)sizeof buf - 1) buf[k++] = rest;
    buf[k] = '\0';
    return buf;
}

static void fill_payload(unsigned char *buf, size_t size, unsigned char op)
{
    for (size_t i = 0; i < size; i++) buf[i] = (unsigned char)(i * 7 + 1);
    if (size) buf[0] = op;
}

static int bind_receiver(bench_chan *ch)
{
    return ch->bind_receiver ? ch->bind_receiver(ch) : 0;
}

/* ---- the peers' loops ---------------------------------------------------- */

/* A peer's start: its buffer, the channel bound for receiving if it
 * receives, and "ready".  NULL (after reporting 'E') if that failed. */
static unsigned char *peer_begin(lane *l, bool receives, const char *what)
{
    unsigned char *buf = malloc(l->size);
    if (!buf) {
        bench_fail_errno("malloc");
        peer_failed(l, what);
        return NULL;
    }
    fill_payload(buf, l->size, MSG_DATA);
    if (receives && bind_receiver(l->ch[0]) < 0) {
        free(buf);
        peer_failed(l, what);
        return NULL;
    }
    tell(l, 'R');
    return buf;
}

/* A receiving peer's loop: every message on A goes to each(), until STOP. */
static int receive_until_stop(lane *l, unsigned char *buf, const char *what,
                              int (*each)(lane *l, const unsigned char *msg, size_t len))
{
    int rc = 0;
    for (;;) {
        size_t len = 0;
        if (l->ch[0]->recv(l->ch[0], buf, l->size, &len) < 0) { rc = peer_failed(l, what); break; }
        if (len >= 1 && buf[0] == MSG_STOP) break;
        if (each(l, buf, len) < 0) { rc = peer_failed(l, what); break; }
    }
    free(buf);
    return rc;
}

/* Latency: send every message straight back on B, the full payload. */
static int echo_back(lane *l, const unsigned char *msg, size_t len)
{
    return l->ch[1]->send(l->ch[1], msg, len);
}

/* Throughput: count; whoever counts the turn's last message says 'D'.
 * total is stored before "go", so it is visible once a message of this
 * turn has arrived (the channel orders the two). */
static int count_one(lane *l, const unsigned char *msg, size_t len)
{
    (void)msg, (void)len;
    if (atomic_fetch_add(&l->ctrl->received, 1) + 1 == atomic_load(&l->ctrl->total)) tell(l, 'D');
    return 0;
}

static int echo_peer(void *arg)
{
    lane *l = ((peer_arg *)arg)->l;
    unsigned char *buf = peer_begin(l, true, "echo");
    return buf ? receive_until_stop(l, buf, "echo", echo_back) : 1;
}

static int consumer_peer(void *arg)
{
    lane *l = ((peer_arg *)arg)->l;
    unsigned char *buf = peer_begin(l, true, "consumer");
    return buf ? receive_until_stop(l, buf, "consumer", count_one) : 1;
}

/* Throughput: at each "go" byte, send this turn's quota of messages. */
static int producer_peer(void *arg)
{
    peer_arg *a = arg;
    lane *l = a->l;
    unsigned char *buf = peer_begin(l, false, "producer");
    if (!buf) return 1;
    int rc = 0;
    for (;;) {
        char go;
        ssize_t r = read(l->go[a->index][0], &go, 1);
        if (r < 0 && errno == EINTR) continue;
        if (r != 1) { bench_fail_errno("read(go pipe)"); rc = peer_failed(l, "producer"); break; }
        if (atomic_load(&l->ctrl->quit)) break;
        long quota = l->ctrl->quota[a->index];
        for (long i = 0; i < quota && rc == 0; i++)
            if (l->ch[0]->send(l->ch[0], buf, l->size) < 0) rc = peer_failed(l, "producer send");
        if (rc == 0 && l->ch[0]->flush && l->ch[0]->flush(l->ch[0]) < 0) rc = peer_failed(l, "producer flush");
        if (rc) break;
        tell(l, 'P'); /* sent: main may now write the next turn's quota */
    }
    free(buf);
    return rc;
}

/* The other half of the cache-line ping-pong: answer every odd value with
 * the next even one.  Spinning is the point; the occasional sched_yield
 * lets a peer pinned to the same CPU run at all. */
static void spin_wait(unsigned *spins)
{
    if (++*spins % 256 == 0) sched_yield();
    else __builtin_ia32_pause();
}

static int cacheline_peer(void *arg)
{
    lane *l = ((peer_arg *)arg)->l;
    long expect = 1;
    for (unsigned spins = 0;;) {
        long v = atomic_load_explicit(&l->ctrl->ball, memory_order_acquire);
        if (v < 0) return 0;
        if (v == expect) {
            atomic_store_explicit(&l->ctrl->ball, v + 1, memory_order_release);
            expect += 2;
        } else {
            spin_wait(&spins);
        }
    }
}

/* limit:spsc's consumer: pop items, publish the count when the ring runs
 * dry (and every 4096), leave on quit. */
static int spsc_limit_peer(void *arg)
{
    lane *l = ((peer_arg *)arg)->l;
    limit_ring *r = &l->ctrl->ring;
    /* RELAXED: only this thread writes head. */
    size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    long count = 0;
    uint64_t sum = 0;
    for (unsigned spins = 0;;) {
        if (head == r->tail_cache) {
            /* ACQUIRE: pairs with the producer's RELEASE of tail: its slots are written. */
            r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
            if (head == r->tail_cache) {
                /* RELEASE: main reads the count, nothing else, after it. */
                atomic_store_explicit(&l->ctrl->received, count, memory_order_release);
                if (atomic_load(&l->ctrl->quit) || atomic_load(&l->ctrl->ball) < 0)
                    return sum == (uint64_t)-1; /* keeps the reads of the slots */
                spin_wait(&spins);
                continue;
            }
        }
        sum += r->slot[head % LIMIT_RING];
        /* RELEASE: the slot is read before the producer may reuse it. */
        atomic_store_explicit(&r->head, ++head, memory_order_release);
        if (++count % 4096 == 0) atomic_store_explicit(&l->ctrl->received, count, memory_order_release);
    }
}

/* ---- setting lanes up and down -------------------------------------------- */

static void close_fd(int *fd)
{
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

static void lane_reset(lane *l)
{
    *l = (lane){ .ack = { -1, -1 } };
    for (int i = 0; i < MAX_SIDE; i++) l->go[i][0] = l->go[i][1] = -1;
}

/* Watchdog expiry (or a failed run): kill what can be killed, wake what can
 * be woken. */
static void session_expire(void *arg)
{
    session *s = arg;
    s->broken = true;
    for (lane *l = s->lane; l < s->lane + LANES; l++) {
        for (int i = 0; i < l->npeers; i++)
            if (l->peer[i].process && l->peer[i].running) kill(l->peer[i].pid, SIGKILL);
        for (int i = 0; i < 2; i++)
            if (l->ch[i] && l->ch[i]->shutdown) l->ch[i]->shutdown(l->ch[i]);
        if (l->ctrl) atomic_store(&l->ctrl->ball, -1);
    }
}

/* Stop the lane's peers and release it.  Returns false if a peer thread is
 * stuck (what it uses is then leaked rather than freed under it). */
static bool lane_end(lane *l, const bench_case *c, bool broken)
{
    if (!l->impl) return true;
    bool stuck = false;
    if (l->ctrl) {
        atomic_store(&l->ctrl->quit, 1);
        atomic_store(&l->ctrl->ball, -1);
    }
    for (int i = 1; i < l->nprod; i++)   /* producers wake, see quit, leave */
        if (l->go[i][1] >= 0) while (write(l->go[i][1], "q", 1) < 0 && errno == EINTR) {}
    if (!broken && l->ch[0] && l->npeers > 0 && c->kind != KIND_CACHELINE) {
        /* One STOP per receiving peer: the sentinel a user would send, as
         * big as every other message (a raw reader may count on that). */
        fill_payload(l->buf, l->size, MSG_STOP);
        int receivers = c->kind == KIND_LATENCY ? 1 : l->ncons;
        for (int i = 0; i < receivers; i++)
            if (l->ch[0]->send(l->ch[0], l->buf, l->size) < 0) {
                fprintf(stderr, "ipcbench: %s: sending STOP: %s\n", c->name, bench_error());
                session_expire(&S);
                break;
            }
    }
    for (int i = 0; i < l->npeers; i++)
        if (bench_peer_join(&l->peer[i], JOIN_MS) < 0) {
            fprintf(stderr, "ipcbench: %s (%s): %s\n", c->name, l->impl->name, bench_error());
            if (!l->peer[i].process && l->peer[i].running) stuck = true;
        }
    for (int i = 0; i < 2; i++)
        if (l->ch[i] && !stuck) l->ch[i]->free(l->ch[i]);
    close_fd(&l->ack[0]);
    if (!stuck) close_fd(&l->ack[1]);
    for (int i = 0; i < MAX_SIDE; i++) { close_fd(&l->go[i][0]); close_fd(&l->go[i][1]); }
    if (l->ctrl && !stuck) munmap(l->ctrl, sizeof *l->ctrl);
    free(l->buf);
    free(l->echo);
    lane_reset(l);
    return !stuck;
}

/* A peer thread was left running inside a mechanism (see lane_end). */
static const char *stuck_case;

const char *bench_stuck_peer(void) { return stuck_case; }

void bench_session_end(void)
{
    session *s = &S;
    if (!s->owner) return;
    bench_watchdog_arm(JOIN_MS / 1000.0 * 3 + 20, "stopping the peers", session_expire, s);
    for (lane *l = s->lane; l < s->lane + LANES; l++)
        if (!lane_end(l, s->owner, s->broken)) {
            fprintf(stderr, "ipcbench: %s: a peer thread is stuck; its channels are leaked\n", s->owner->name);
            if (!stuck_case) stuck_case = s->owner->name;
        }
    bench_watchdog_disarm();
    bench_pin_self(-1);
    s->owner = NULL;
    s->broken = false;
}

static int start_peer(lane *l, const bench_case *c, int (*fn)(void *), int index, int cpu)
{
    int i = l->npeers;
    l->arg[i] = (peer_arg){ .l = l, .index = index };
    if (bench_peer_start(&l->peer[i], c->mode == MODE_PROCS, cpu, fn, &l->arg[i]) < 0) return -1;
    l->npeers++;
    return 0;
}

/* Phase 1: the lane's channels, pipes and buffers; no peer yet.  Every
 * lane opens its channels before any lane starts a peer: a channel that
 * blocks a signal in the opening thread must do so before threads exist
 * that would inherit the old mask. */
static int lane_open(lane *l, const bench_case *c, const bench_impl *impl)
{
    lane_reset(l);
    l->impl = impl;
    l->size = c->size;
    l->ctrl = mmap(NULL, sizeof *l->ctrl, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (l->ctrl == MAP_FAILED) {
        l->ctrl = NULL;
        return bench_fail_errno("mmap(control page)");
    }
    atomic_flag_clear(&l->ctrl->error_taken);
    if (pipe2(l->ack, O_CLOEXEC) < 0) return bench_fail_errno("pipe2(ack)");
    l->buf = malloc(c->size ? c->size : 1);
    l->echo = malloc(c->size ? c->size : 1);
    if (!l->buf || !l->echo) return bench_fail_errno("malloc(%zu)", c->size);
    fill_payload(l->buf, c->size, MSG_DATA);
    l->nprod = c->producers;
    l->ncons = c->consumers;

    switch (c->kind) {
    case KIND_MEMCPY:
    case KIND_CACHELINE:
    case KIND_SPSC:
        return 0;
    case KIND_PAIR:
        if (impl->open(impl, c->size, &l->ch[0]) < 0) return -1;
        return bind_receiver(l->ch[0]);
    case KIND_LATENCY:
        for (int i = 0; i < 2; i++)
            if (impl->open(impl, c->size, &l->ch[i]) < 0) return -1;
        return bind_receiver(l->ch[1]);
    case KIND_THROUGHPUT:
        if (impl->open(impl, c->size, &l->ch[0]) < 0) return -1;
        for (int i = 1; i < l->nprod; i++)
            if (pipe2(l->go[i], O_CLOEXEC) < 0) return bench_fail_errno("pipe2(go)");
        return 0;
    }
    return bench_fail("unknown benchmark kind %d", (int)c->kind);
}

/* Phase 2: the peers, and their "ready".  Main is one side of every
 * workload — the ping-pong's sender, the first producer — so that a
 * mechanism that only connects a parent with its children (a signal goes
 * to a process) is measured the way it is used. */
static int lane_start(lane *l, const bench_case *c)
{
    int main_cpu = bench_placement_cpu(c->pin, 0), peer_cpu = bench_placement_cpu(c->pin, 1);
    switch (c->kind) {
    case KIND_CACHELINE:
        return start_peer(l, c, cacheline_peer, 0, peer_cpu);
    case KIND_SPSC:
        return start_peer(l, c, spsc_limit_peer, 0, peer_cpu);
    case KIND_LATENCY:
        if (start_peer(l, c, echo_peer, 0, peer_cpu) < 0) return -1;
        return wait_for(l, "R", READY_MS);
    case KIND_THROUGHPUT:
        /* consumers on the "peer" CPU, producers with main on the "main" CPU */
        for (int i = 0; i < l->ncons; i++)
            if (start_peer(l, c, consumer_peer, i, peer_cpu) < 0) return -1;
        for (int i = 1; i < l->nprod; i++)
            if (start_peer(l, c, producer_peer, i, main_cpu) < 0) return -1;
        return wait_for(l, acks(0, l->nprod - 1 + l->ncons, 'R'), READY_MS);
    default:
        return 0;
    }
}

/* A baseline lane that cannot be set up costs its figures, not the case. */
static void drop_lane(session *s, int i)
{
    fprintf(stderr, "ipcbench: %s: %s baseline left out: %s\n", s->owner->name, s->lane[i].impl->name,
            bench_error());
    lane_end(&s->lane[i], s->owner, true);
}

static int session_begin(const bench_case *c)
{
    session *s = &S;
    s->owner = c;
    s->broken = false;
    const bench_impl *impls[LANES] = { c->impl, c->raw, c->observed };
    for (int i = 0; i < LANES; i++) {
        if (!impls[i] || lane_open(&s->lane[i], c, impls[i]) == 0) continue;
        if (i == LANE_IMPL) return -1;
        drop_lane(s, i); /* the mechanism is still measured without it */
    }
    if (bench_pin_self(bench_placement_cpu(c->pin, 0)) < 0) return -1;
    /* The mechanism's own peers last: for a mechanism whose sends from the
     * parent go to its newest child, that child must be ours. */
    for (int i = LANES - 1; i >= 0; i--) {
        if (!s->lane[i].impl || lane_start(&s->lane[i], c) == 0) continue;
        if (i == LANE_IMPL) return -1;
        drop_lane(s, i);
    }
    return 0;
}

/* ---- the measured runs -------------------------------------------------- */

/* What both sides have used so far: CPU seconds and voluntary context
 * switches (each one a sleep: the price BLOCK pays and SPIN avoids). */
typedef struct usage { double cpu, vcsw; } usage;

static usage lane_usage(const lane *l)
{
    usage u = { bench_self_cpu(), bench_self_vcsw() };
    for (int i = 0; i < l->npeers; i++) {
        u.cpu += bench_peer_cpu(&l->peer[i]);
        u.vcsw += bench_peer_vcsw(&l->peer[i]);
    }
    return u;
}

/* Add what l used since `from` to its run's totals. */
static void lane_add_usage(lane *l, usage from)
{
    usage now = lane_usage(l);
    l->cpu_s += now.cpu - from.cpu;
    l->vcsw += now.vcsw - from.vcsw;
}

static void lanes_reset_run(session *s)
{
    for (lane *l = s->lane; l < s->lane + LANES; l++) {
        bench_hist_reset(&l->hist);
        l->time_s = l->wall_s = l->cpu_s = l->vcsw = 0;
        l->ops = 0;
    }
}

static int round_trip(lane *l, int64_t *ns)
{
    size_t len = 0;
    int64_t t0 = ipc_now_ns();
    if (l->ch[0]->send(l->ch[0], l->buf, l->size) < 0) return -1;
    if (l->ch[1]->recv(l->ch[1], l->echo, l->size, &len) < 0) return -1;
    *ns = ipc_now_ns() - t0;
    if (len != l->size) return bench_fail("echo came back with %zu bytes instead of %zu", len, l->size);
    return 0;
}

static int warm_up(lane *l)
{
    int64_t ns, until = ipc_now_ns() + WARMUP_NS;
    for (int i = 0; i < WARMUP_MAX && ipc_now_ns() < until; i++) {
        if (round_trip(l, &ns) < 0) return -1;
        /* an ipcplay channel must deliver every byte as sent */
        if (i == 0 && l->impl->mech && memcmp(l->buf, l->echo, l->size) != 0)
            return bench_fail("%s: the echo differs from the message sent", l->impl->name);
    }
    return 0;
}

/* `count` round trips on lane l, into its histogram (and, for the lane of
 * the case, into Google Benchmark's clock: st != NULL). */
static int lane_round_trips(lane *l, int count, gb_state *st)
{
    usage cpu0 = lane_usage(l);
    int64_t w0 = ipc_now_ns();
    for (int i = 0; i < count; i++) {
        int64_t ns;
        if (round_trip(l, &ns) < 0) return -1;
        bench_hist_add(&l->hist, (uint64_t)ns);
        l->time_s += (double)ns * 1e-9;
        if (st) gb_set_iteration_time(st, (double)ns * 1e-9);
    }
    l->wall_s += (double)(ipc_now_ns() - w0) * 1e-9;
    lane_add_usage(l, cpu0);
    l->ops += count;
    return 0;
}

static int run_latency(gb_state *st, session *s)
{
    lane *mech = &s->lane[LANE_IMPL], *raw = s->lane[LANE_RAW].impl ? &s->lane[LANE_RAW] : NULL;
    if (warm_up(mech) < 0 || (raw && warm_up(raw) < 0)) return -1;
    lanes_reset_run(s);
    for (bool more = true; more;) {
        int n = 0;
        usage cpu0 = lane_usage(mech);
        int64_t w0 = ipc_now_ns();
        while (n < LAT_BLOCK && (more = gb_keep_running(st))) {
            int64_t ns;
            if (round_trip(mech, &ns) < 0) return -1;
            bench_hist_add(&mech->hist, (uint64_t)ns);
            mech->time_s += (double)ns * 1e-9;
            gb_set_iteration_time(st, (double)ns * 1e-9);
            n++;
        }
        mech->wall_s += (double)(ipc_now_ns() - w0) * 1e-9;
        lane_add_usage(mech, cpu0);
        mech->ops += n;
        if (raw && n > 0 && lane_round_trips(raw, n, NULL) < 0) return -1;
    }
    return 0;
}

static int run_cacheline(gb_state *st, session *s)
{
    lane *l = &s->lane[LANE_IMPL];
    long v = atomic_load(&l->ctrl->ball);
    lanes_reset_run(s);
    usage cpu0 = lane_usage(l);
    int64_t w0 = ipc_now_ns();
    for (int warm = WARMUP_MAX; warm > 0 || gb_keep_running(st); warm -= warm > 0) {
        int64_t t0 = ipc_now_ns();
        atomic_store_explicit(&l->ctrl->ball, ++v, memory_order_release); /* odd: "your turn" */
        for (unsigned spins = 0;;) {
            long got = atomic_load_explicit(&l->ctrl->ball, memory_order_acquire);
            if (got == v + 1) break;
            if (got < 0) return bench_fail("the ping-pong was stopped by the watchdog");
            spin_wait(&spins);
        }
        v++;
        int64_t ns = ipc_now_ns() - t0;
        if (warm > 0) continue;
        bench_hist_add(&l->hist, (uint64_t)ns);
        l->time_s += (double)ns * 1e-9;
        l->ops++;
        gb_set_iteration_time(st, (double)ns * 1e-9);
    }
    l->cpu_s = l->vcsw = 0;
    lane_add_usage(l, cpu0);
    l->wall_s = (double)(ipc_now_ns() - w0) * 1e-9;
    return 0;
}

/* A throughput or pair turn of `ops` operations took ns: its time per
 * operation goes into the lane's histogram (for the median), the rest into
 * the run's totals. */
static void account_turn(lane *l, int64_t ns, int64_t ops, usage cpu0)
{
    bench_hist_add(&l->hist, (uint64_t)((ns + ops / 2) / ops));
    l->time_s += (double)ns * 1e-9;
    l->wall_s = l->time_s;
    lane_add_usage(l, cpu0);
    l->ops += ops;
}

/* One turn: `total` messages from "go" until the last is counted.  Main is
 * producer 0 and sends its share itself; the other producers say 'P' when
 * they have sent theirs, so that main never writes the next turn's quota
 * while one of them may still be about to read this one. */
static int lane_turn(lane *l, int64_t total)
{
    for (int i = 0; i < l->nprod; i++)
        l->ctrl->quota[i] = total / l->nprod + (i < total % l->nprod);
    atomic_store(&l->ctrl->received, 0);
    atomic_store(&l->ctrl->total, total);
    usage cpu0 = lane_usage(l);
    int64_t t0 = ipc_now_ns();
    for (int i = 1; i < l->nprod; i++)
        if (write(l->go[i][1], "g", 1) != 1) return bench_fail_errno("write(go pipe)");
    const long quota = l->ctrl->quota[0]; /* read once, not per message */
    for (long i = 0; i < quota; i++)
        if (l->ch[0]->send(l->ch[0], l->buf, l->size) < 0) return -1;
    if (l->ch[0]->flush && l->ch[0]->flush(l->ch[0]) < 0) return -1;
    if (wait_for(l, acks('D', l->nprod - 1, 'P'), (int)(run_budget_s * 1000)) < 0) return -1;
    account_turn(l, ipc_now_ns() - t0, total, cpu0);
    return 0;
}

/* Per-message time of a lane as the median over its turns: a turn that the
 * scheduler (or another tenant of the machine) interrupted does not move
 * it, which the mean of the whole run would. */
static double median_ns(const lane *l)
{
    return (double)bench_hist_quantile(&l->hist, 0.5);
}

/* limit:spsc: main produces `total` 8-byte items per turn into the ring and
 * waits until the consumer has counted them all. */
static int spsc_limit_turn(lane *l, int64_t total, long *sent)
{
    limit_ring *r = &l->ctrl->ring;
    size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed); /* only we write it */
    usage cpu0 = lane_usage(l);
    int64_t t0 = ipc_now_ns();
    for (int64_t i = 0; i < total; i++) {
        while (tail - r->head_cache == LIMIT_RING) {
            /* ACQUIRE: pairs with the consumer's RELEASE of head: the slot is free. */
            r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
            if (tail - r->head_cache == LIMIT_RING) __builtin_ia32_pause();
        }
        r->slot[tail % LIMIT_RING] = (uint64_t)i;
        /* RELEASE: the slot is written before the consumer can see it. */
        atomic_store_explicit(&r->tail, ++tail, memory_order_release);
    }
    *sent += total;
    for (unsigned spins = 0; atomic_load_explicit(&l->ctrl->received, memory_order_acquire) < *sent;) {
        if (atomic_load(&l->ctrl->ball) < 0) return bench_fail("limit:spsc was stopped by the watchdog");
        spin_wait(&spins);
    }
    account_turn(l, ipc_now_ns() - t0, total, cpu0);
    return 0;
}

static int run_spsc_limit(gb_state *st, session *s)
{
    lane *l = &s->lane[LANE_IMPL];
    long sent = atomic_load(&l->ctrl->received);
    lanes_reset_run(s);
    while (gb_keep_running_batch(st, gb_max_iterations(st))) {
        int64_t total = gb_max_iterations(st);
        int64_t chunks = total >= THR_CHUNKS ? THR_CHUNKS : 1;
        for (int64_t k = 0; k < chunks; k++)
            if (spsc_limit_turn(l, total / chunks + (k < total % chunks), &sent) < 0) return -1;
        gb_set_iteration_time(st, l->time_s);
    }
    gb_set_items_processed(st, l->ops);
    gb_set_bytes_processed(st, l->ops * (int64_t)sizeof(uint64_t));
    gb_counter(st, "producers", 1, GB_COUNTER_PLAIN);
    gb_counter(st, "consumers", 1, GB_COUNTER_PLAIN);
    gb_counter(st, "msg_ns", median_ns(l), GB_COUNTER_PLAIN);
    return 0;
}

static int run_throughput(gb_state *st, session *s)
{
    lane *mech = &s->lane[LANE_IMPL], *raw = s->lane[LANE_RAW].impl ? &s->lane[LANE_RAW] : NULL;
    lanes_reset_run(s);
    while (gb_keep_running_batch(st, gb_max_iterations(st))) {
        int64_t total = gb_max_iterations(st);
        int64_t chunks = total >= THR_CHUNKS ? THR_CHUNKS : 1;
        for (int64_t k = 0; k < chunks; k++) {
            int64_t part = total / chunks + (k < total % chunks);
            if (lane_turn(mech, part) < 0 || (raw && lane_turn(raw, part) < 0)) return -1;
        }
        gb_set_iteration_time(st, mech->time_s);
    }
    gb_set_items_processed(st, mech->ops);
    gb_set_bytes_processed(st, mech->ops * (int64_t)s->owner->size);
    gb_counter(st, "producers", s->owner->producers, GB_COUNTER_PLAIN);
    gb_counter(st, "consumers", s->owner->consumers, GB_COUNTER_PLAIN);
    gb_counter(st, "msg_ns", median_ns(mech), GB_COUNTER_PLAIN);
    if (raw && raw->time_s > 0) {
        gb_counter(st, "raw_items_per_second", (double)raw->ops / raw->time_s, GB_COUNTER_PLAIN);
        gb_counter(st, "raw_bytes_per_second", (double)raw->ops * (double)s->owner->size / raw->time_s,
                   GB_COUNTER_PLAIN);
        gb_counter(st, "raw_msg_ns", median_ns(raw), GB_COUNTER_PLAIN);
        gb_counter(st, "vs_raw", median_ns(mech) / median_ns(raw), GB_COUNTER_PLAIN);
    }
    return 0;
}

/* `count` send+receive pairs on lane l. */
static int lane_pairs(lane *l, int count)
{
    bench_chan *ch = l->ch[0];
    usage cpu0 = lane_usage(l);
    int64_t t0 = ipc_now_ns();
    for (int i = 0; i < count; i++) {
        size_t len = 0;
        if (ch->send(ch, l->buf, l->size) < 0 || ch->recv(ch, l->echo, l->size, &len) < 0) return -1;
    }
    account_turn(l, ipc_now_ns() - t0, count, cpu0);
    return 0;
}

static int run_pair(gb_state *st, session *s)
{
    lanes_reset_run(s);
    for (unsigned turn = 0; gb_keep_running_batch(st, PAIR_BLOCK); turn++) {
        /* rotate who goes first, so no lane always inherits warm caches */
        for (int k = 0; k < LANES; k++) {
            lane *l = &s->lane[(turn + (unsigned)k) % LANES];
            if (!l->impl) continue;
            double before = l->time_s;
            if (lane_pairs(l, PAIR_BLOCK) < 0) return -1;
            if (l == &s->lane[LANE_IMPL]) gb_set_iteration_time(st, l->time_s - before);
        }
    }
    /* medians over the turns (see median_ns); Google Benchmark's own time is the mean */
    lane *mech = &s->lane[LANE_IMPL];
    double ns = median_ns(mech);
    gb_set_items_processed(st, mech->ops);
    gb_counter(st, "ns_per_op", ns, GB_COUNTER_PLAIN);
    for (int i = LANE_RAW; i < LANES; i++) {
        lane *l = &s->lane[i];
        if (!l->impl || l->ops == 0) continue;
        double other = median_ns(l);
        gb_counter(st, i == LANE_RAW ? "raw_ns_per_op" : "observed_ns_per_op", other, GB_COUNTER_PLAIN);
        /* raw: our cost over the bare calls; observed: the hook's over ours */
        gb_counter(st, i == LANE_RAW ? "vs_raw" : "observer_vs_plain", i == LANE_RAW ? ns / other : other / ns,
                   GB_COUNTER_PLAIN);
    }
    return 0;
}

static int run_memcpy(gb_state *st, session *s)
{
    lane *l = &s->lane[LANE_IMPL];
    while (gb_keep_running(st)) {
        memcpy(l->echo, l->buf, l->size);
        __asm__ volatile("" : : "r"(l->echo) : "memory"); /* the copy must happen */
    }
    gb_set_items_processed(st, gb_iterations(st));
    gb_set_bytes_processed(st, gb_iterations(st) * (int64_t)l->size);
    return 0;
}

static void report_latency(gb_state *st, const lane *l, const char *prefix)
{
    static const struct { const char *name; double q; } pct[] = {
        { "p50_ns", 0.50 }, { "p99_ns", 0.99 }, { "p999_ns", 0.999 }, { "max_ns", 1.0 },
    };
    for (size_t i = 0; i < sizeof pct / sizeof pct[0]; i++) {
        char name[40];
        snprintf(name, sizeof name, "%s%s", prefix, pct[i].name);
        gb_counter(st, name, (double)bench_hist_quantile(&l->hist, pct[i].q), GB_COUNTER_PLAIN);
    }
}

static void report(gb_state *st, const session *s)
{
    const bench_case *c = s->owner;
    const lane *mech = &s->lane[LANE_IMPL], *raw = &s->lane[LANE_RAW];
    if (c->kind == KIND_LATENCY || c->kind == KIND_CACHELINE) {
        report_latency(st, mech, "");
        if (raw->impl && raw->hist.count) {
            report_latency(st, raw, "raw_");
            gb_counter(st, "vs_raw", (double)bench_hist_quantile(&mech->hist, 0.5) /
                       (double)bench_hist_quantile(&raw->hist, 0.5), GB_COUNTER_PLAIN);
        }
    }
    if (c->kind != KIND_MEMCPY && mech->ops > 0) {
        /* both sides' CPU: over the measured time, and per operation */
        gb_counter(st, "cpu_util", mech->wall_s > 0 ? mech->cpu_s / mech->wall_s : 0, GB_COUNTER_PLAIN);
        gb_counter(st, "cpu_ns_per_op", mech->cpu_s * 1e9 / (double)mech->ops, GB_COUNTER_PLAIN);
        gb_counter(st, "vcsw_per_op", mech->vcsw / (double)mech->ops, GB_COUNTER_PLAIN);
    }
    gb_counter(st, "size", (double)c->size, GB_COUNTER_PLAIN);
    gb_set_label(st, c->label);
}

void bench_case_run(gb_state *st, void *user)
{
    const bench_case *c = user;
    static int last_group = -1;
    if (c->group != last_group) {
        last_group = c->group;
        fprintf(stderr, "[ipcbench] %d/%d %s (%.0f s elapsed)\n", c->group + 1, c->groups,
                c->impl->name, bench_elapsed());
    }
    if (c->na[0]) {
        gb_set_label(st, c->label);
        gb_skip_with_error(st, c->na);
        return;
    }
    if (S.owner != c) {
        bench_session_end();
        if (c->impl->prepare) {
            bench_watchdog_arm(PREPARE_S, c->name, session_expire, &S);
            int prc = c->impl->prepare(c->impl);
            bench_watchdog_disarm();
            if (prc < 0) {
                char msg[600];
                snprintf(msg, sizeof msg, "setup failed: %s", bench_error());
                gb_skip_with_error(st, msg);
                return;
            }
        }
        bench_watchdog_arm(READY_MS / 1000.0 + 10, c->name, session_expire, &S);
        int rc = session_begin(c);
        bench_watchdog_disarm();
        if (rc < 0) {
            char msg[600];
            snprintf(msg, sizeof msg, "setup failed: %s", bench_error());
            gb_skip_with_error(st, msg);
            bench_session_end();
            return;
        }
    }
    bench_watchdog_arm(run_budget_s, c->name, session_expire, &S);
    int rc;
    switch (c->kind) {
    case KIND_LATENCY:    rc = run_latency(st, &S); break;
    case KIND_CACHELINE:  rc = run_cacheline(st, &S); break;
    case KIND_SPSC:       rc = run_spsc_limit(st, &S); break;
    case KIND_THROUGHPUT: rc = run_throughput(st, &S); break;
    case KIND_PAIR:       rc = run_pair(st, &S); break;
    default:              rc = run_memcpy(st, &S); break;
    }
    bench_watchdog_disarm();
    if (rc < 0) {
        gb_skip_with_error(st, bench_error());
        session_expire(&S); /* peers may be mid-run: kill or wake, then join */
        bench_session_end();
        return;
    }
    report(st, &S);
}
