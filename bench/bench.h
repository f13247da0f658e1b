/*
 * bench.h — the inside of ipcbench, the benchmark harness.
 *
 * Everything that is measured — an ipcplay mechanism, the raw system calls
 * it wraps, a physical limit — is a bench_impl that opens bench_chans: a
 * blocking send, a blocking receive, and a free.  The workloads (ping-pong
 * latency, one-way throughput, fan-in/fan-out, the one-thread send+receive
 * pair) are written once against bench_chan, so an ipcplay channel and its
 * raw baseline run exactly the same code around them.
 *
 * Files: main.c (options, registration, the Python baseline, the JSON),
 * workloads.c (the measurements), peers.c (threads/processes, CPU pinning,
 * CPU time, the watchdog), histogram.c (percentiles), chan_ipc.c (the
 * ipc.h adapter), raw_*.c (the raw baselines and their table).
 */
#ifndef IPCPLAY_BENCH_H
#define IPCPLAY_BENCH_H

#include "gbench_shim.h"
#include "ipc.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <pthread.h>
#include <sys/types.h>

/* ---- errors: one thread-local message, like ipc_last_error() ---------- */

/* Record a message (printf-style) and return -1. */
int         bench_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same, with ": strerror(errno)" appended. */
int         bench_fail_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *bench_error(void);

/* ---- channels and the things that open them ---------------------------- */

typedef struct bench_chan bench_chan;
struct bench_chan {
    /* Blocking send and receive, the way a plain user calls them (no
     * timeout).  0 on success, -1 with bench_error() set. */
    int  (*send)(bench_chan *c, const void *msg, size_t len);
    int  (*recv)(bench_chan *c, void *buf, size_t cap, size_t *len);
    /* Optional: run by the thread or process that will receive on c, before
     * it reports ready (a signal channel learns its target pid here). */
    int  (*bind_receiver)(bench_chan *c);
    /* Optional: wake callers blocked on c (used by the watchdog only). */
    void (*shutdown)(bench_chan *c);
    /* Optional: a batching channel hands over what send() has buffered;
     * the throughput workload calls it after each turn's last send. */
    int  (*flush)(bench_chan *c);
    /* Release this handle (in the process that opened it). */
    void (*free)(bench_chan *c);
};

typedef struct bench_impl bench_impl;
struct bench_impl {
    const char *name;       /* "pipe", "raw:pipe", "limit:cacheline"       */
    const char *wait;       /* the wait strategy, printed beside figures    */
    const char *about;      /* one line for --list and the report           */
    unsigned    caps;       /* IPC_CAP_THREADS, IPC_CAP_FORK, IPC_CAP_MPMC   */
    size_t      max_msg;    /* largest message it can carry                 */
    const ipc_mechanism *mech;  /* the ipcplay mechanism, NULL for baselines */
    int         strategy;   /* ipcplay only: the enum ipc_wait it opens with */
    bool        observed;   /* ipcplay only: with a no-op observer attached */
    const void *user;       /* the implementation's own data (batch.c: its ops) */
    /* Open a channel for messages of up to max_msg bytes; it must work
     * between threads and, with IPC_CAP_FORK, across fork(). */
    int (*open)(const bench_impl *impl, size_t max_msg, bench_chan **out);
    /* Optional: slow one-time set-up before a case's session, under a
     * watchdog of its own (PREPARE_S): e.g. an embedded RabbitMQ broker,
     * whose start (6-30 s on a loaded machine) must not eat the session's
     * 30 s setup budget.  0 or -1 with bench_error(). */
    int (*prepare)(const bench_impl *impl);
};

/* chan_ipc.c: the ipcplay mechanism m, waiting by `strategy` (an enum
 * ipc_wait it supports), as a bench_impl named "MECH@STRATEGY" (observed =
 * with a no-op observer, to measure the hook).  -1 if out of memory. */
int bench_impl_from_mechanism(bench_impl *impl, const ipc_mechanism *m, bool observed, int strategy);
/* The prepare step of a broker mechanism: open and free one channel. */
int  bench_ipc_prepare(const bench_impl *impl);

/* raw_table.c: the raw baseline of an ipcplay mechanism, chosen by its
 * carrier (registry data), or NULL ("no raw baseline"); *why gets a short
 * note either way. */
const bench_impl *bench_raw_for(const ipc_mechanism *m, const char **why);

/* The raw baselines (raw_streams.c, raw_queues.c, raw_events.c). */
extern const bench_impl raw_pipe, raw_socketpair, raw_tcp, raw_seqpacket, raw_dgram;
extern const bench_impl raw_condvar, raw_posix_mq, raw_sysv_mq;
extern const bench_impl raw_eventfd, raw_signal;

/* batch.c: the batched path of a broker mechanism ("batch:amqp" for
 * "amqp": confirm batches; "batch:redis": pipelined scripts), or NULL.
 * Measured for 1x1 throughput only, beside the mechanism's own rows. */
const bench_impl *bench_batch_for(const ipc_mechanism *m);

/* Physical limits (workloads.c): not channels, measured by their own loops. */
extern const bench_impl limit_cacheline, limit_memcpy, limit_spsc;

/* context.c: the machine and the build, into the JSON's "context". */
void bench_context_add(void);
/* A context entry: into Google Benchmark's JSON, and kept for
 * bench_context_write(), which prints them all as one JSON object (for a
 * result file Google Benchmark did not write). */
void bench_context_set(const char *key, const char *value);
/* Kept for bench_context_write() only (after Google Benchmark has shut down). */
void bench_context_keep(const char *key, const char *value);
void bench_context_write(FILE *f);

/* ---- placement, peers, CPU time (peers.c) ------------------------------ */

enum bench_mode { MODE_SINGLE, MODE_THREADS, MODE_PROCS };
enum bench_pin  { PIN_SAME, PIN_CROSS, PIN_NONE };

extern const char *const bench_mode_name[]; /* "single", "threads", "procs" */
extern const char *const bench_pin_name[];  /* "same", "cross", "none"      */

/* The two CPUs the placements use: the first two this process may run on
 * (-1 when there is no second one).  Call once at startup. */
void bench_cpus_init(void);
int  bench_cpu(int which);           /* which = 0 or 1 */
/* CPU for the "main" side (0) or the "peer" side (1) of a placement, -1 =
 * unpinned. */
int  bench_placement_cpu(enum bench_pin pin, int side);
/* "cpu 0/1", "cpu 0/0", "unpinned" */
const char *bench_placement_text(enum bench_pin pin);

/* Pin the calling thread to cpu (-1: every CPU this process started with). */
int  bench_pin_self(int cpu);

typedef struct bench_peer {
    bool      process;
    bool      running;
    pid_t     pid;
    pthread_t thread;
    int       cpu;
    int     (*fn)(void *arg);
    void     *arg;
    int       result;    /* thread peers: fn's return value */
} bench_peer;

/* Run fn(arg) in a new thread or a forked child, pinned to cpu (-1: not).
 * A child _exit()s with fn's return value. */
int    bench_peer_start(bench_peer *p, bool process, int cpu, int (*fn)(void *), void *arg);
/* Wait up to timeout_ms for it; 0 if it ended and fn returned 0.  A child
 * still running at the deadline is killed; a thread cannot be, and stays
 * (returns -1: the caller must then leak what the thread uses). */
int    bench_peer_join(bench_peer *p, int timeout_ms);
/* CPU seconds consumed so far by a process peer (its CPU clock); 0 for a
 * thread peer, whose time is part of our own getrusage(RUSAGE_SELF). */
double bench_peer_cpu(const bench_peer *p);
/* CPU seconds (user + system) of this whole process, from getrusage. */
double bench_self_cpu(void);
/* Voluntary context switches (the thread slept) so far: of this whole
 * process (getrusage), of a process peer (/proc/PID/status; 0 for a thread
 * peer, counted in bench_self_vcsw). */
double bench_self_vcsw(void);
double bench_peer_vcsw(const bench_peer *p);

/* The watchdog: if the armed section is not disarmed within `seconds`, it
 * prints what hung, calls on_expiry(arg) (kill peers, shut channels down),
 * and if that does not free us within 10 s more, ends the program. */
void bench_watchdog_start(void);
void bench_watchdog_arm(double seconds, const char *what, void (*on_expiry)(void *), void *arg);
void bench_watchdog_disarm(void);

/* ---- latency histogram (histogram.c) ----------------------------------- */

/* Log-linear: exact below 64 ns, then 64 linear steps per power of two, so
 * any percentile is within 1.6 % of the true value; fixed size, no malloc
 * in the measured loop. */
#define BENCH_HIST_SUB_BITS 6
#define BENCH_HIST_BUCKETS  ((64 - BENCH_HIST_SUB_BITS + 1) << BENCH_HIST_SUB_BITS)

typedef struct bench_hist {
    uint64_t count, sum, min, max;
    uint64_t bucket[BENCH_HIST_BUCKETS];
} bench_hist;

void     bench_hist_reset(bench_hist *h);
void     bench_hist_add(bench_hist *h, uint64_t ns);
/* The value below which a fraction q (0..1) of the samples fall. */
uint64_t bench_hist_quantile(const bench_hist *h, double q);

/* ---- the benchmark cases (workloads.c) --------------------------------- */

enum bench_kind { KIND_LATENCY, KIND_THROUGHPUT, KIND_PAIR, KIND_CACHELINE, KIND_MEMCPY, KIND_SPSC };
extern const char *const bench_kind_name[]; /* "latency", "throughput", "pair", ... */

typedef struct bench_case {
    enum bench_kind   kind;
    const bench_impl *impl;
    const bench_impl *raw;        /* its raw baseline, measured interleaved  */
    const bench_impl *observed;   /* pair only: impl with a no-op observer   */
    enum bench_mode   mode;
    enum bench_pin    pin;
    size_t            size;       /* message size in bytes                     */
    int               producers;  /* throughput: N producers x M consumers     */
    int               consumers;
    int               group;      /* index of its impl, for the progress line  */
    int               groups;     /* how many impls in all                     */
    char              na[96];     /* not applicable: skip with this message    */
    char              name[160];  /* KIND/IMPL/MODE/PLACEMENT/SIZE[/NxM]        */
    /* The label of its figures: named fields "key=value;key=value", always
     * workload, mechanism, mode, placement, cpus, size, shape, wait, raw (a
     * new dimension is one more field here and in the name: main.c's
     * describe_case; report.py keys every row by these fields). */
    char              label[400];
} bench_case;

/* The longest one run of a case may take before the watchdog steps in. */
void bench_set_run_budget(double seconds);
/* The Google Benchmark callback: user is a bench_case. */
void bench_case_run(gb_state *st, void *user);
/* Tear down the peers and channels kept alive between the runs of a case. */
void bench_session_end(void);
/* The first case whose peer thread was left stuck inside its mechanism
 * (its channels leaked), or NULL.  Such a thread may still be using the
 * mechanism when the library's exit handlers tear it down. */
const char *bench_stuck_peer(void);
/* Wall-clock seconds since the harness started (for the progress line). */
double bench_elapsed(void);

/* Payload byte 0 says what a message is; the rest is filler. */
enum { MSG_DATA = 'D', MSG_STOP = 'S' };

#endif /* IPCPLAY_BENCH_H */
