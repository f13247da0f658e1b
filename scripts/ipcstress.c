/*
 * ipcstress — fault and load campaigns over every registered mechanism
 * (issue 12), driven by the registry and the caps, with no per-mechanism
 * code:
 *
 *   kill    for every mechanism that works across fork(): producers and
 *           consumers exchange checksummed messages while the driver
 *           SIGKILLs random ones and starts replacements.  Afterwards every
 *           message acknowledged to a sender must have been received once;
 *           a consumer killed inside a receive may take the one message it
 *           was receiving (the allowance printed per mechanism).  Every
 *           survivor must end before its deadline (a hang is counted, then
 *           killed).  Names: ipcplay-clean's sweep must leave none.
 *   creator the same storm with the channel's creator in a process of its
 *           own (it forks the workers and replaces the killed ones), and
 *           SIGKILLed halfway.  The guarantee checked, from the caps (the
 *           table in docs/reliability.md): a message may be lost with the
 *           creator only if it was acknowledged before the API reported the
 *           end (a survivor's send or receive answered IPC_ECLOSED or an
 *           error); a channel that goes on working must lose nothing more.
 *           IPC_CAP_PERSISTENT changes nothing here: the creator opens the
 *           channel with no endpoint, so a broker is its embedded one, whose
 *           lifetime is the creator's (ipc.h); PERSISTENT is about a broker
 *           restarted on its data dir (test_amqp checks that).
 *           Afterwards the stale sweep removes the dead creator's names
 *           (SysV queues have no name: ipcstress removes those its workers
 *           used, found in /proc/sysvipc/msg) and a second sweep finds none.
 *   soak    4 producers x 4 consumers x N checksummed messages per MPMC
 *           mechanism (N = 10^6 by default), as threads and as processes:
 *           0 lost, 0 duplicated, per-producer order where the mechanism
 *           claims FIFO.  Receipts are counted per message in shared memory
 *           (one byte per producer and sequence number).
 *   fds     under a descriptor limit of 64, channels are opened until open
 *           fails: every failure is an error code at open (never a crash),
 *           every opened channel works, and freeing them leaves no name.
 *   many    10,000 channels of every in-process mechanism (the descriptor
 *           limit raised to its hard limit): the same checks.
 *   shmfull the same with /dev/shm a 1 MiB tmpfs (a private mount namespace,
 *           root only; names generated with IPC_ATTACHABLE where the
 *           mechanism can): an open that finds no room fails with a code,
 *           never a SIGBUS later; nothing of a failed open is left in
 *           /dev/shm or /dev/mqueue (an mqueue fs mounted privately to look).
 *   mqlimit every local mechanism under RLIMIT_MSGQUEUE 4096 bytes (never
 *           a sysctl; it binds the POSIX queues): the same checks.  After
 *           every one of these campaigns /proc/sysvipc/msg must not have
 *           grown (SysV limits are system-wide: `many` stops where the
 *           kernel's shmmni/msgmni say no, with an error at open).
 *
 * Usage: ipcstress [--short] [--only MECH[,MECH...]] [--kills N] [--soak N] [--soak-hosts N] [--max-msg N] [--inject K] [--guarantees]
 *   --short   the seconds-long version `make test` runs (test_stress_short)
 *   --inject  lose, dup, hang or leak: break that guarantee on purpose (the
 *             campaigns must fail; test_stress_short checks they do)
 *   default   the minutes-long campaign of `make stress`
 * Exit status: 0 when every check held, 1 otherwise, 2 on bad usage.
 */
#define _GNU_SOURCE
#include "ipc.h"
#include "core/stale.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- messages: producer id, sequence number, checksum ------------------- */

typedef struct msg {
    uint32_t producer, seq, check;
    uint32_t pad[5]; /* 32 bytes */
} msg;

static uint32_t checksum(uint32_t producer, uint32_t seq)
{
    uint32_t x = producer * 2654435761u ^ seq * 40503u ^ 0x9e3779b9u;
    x ^= x >> 15;
    return x * 2246822519u;
}

/* ---- shared bookkeeping (MAP_SHARED: every forked worker writes here) --- */

enum { MAX_PRODUCERS = 512, STORM_SEQ = 1 << 16, SLOTS = 6, MAX_PIDS = 4096 };

typedef struct book {
    atomic_uint acked[MAX_PRODUCERS];                   /* OK sends, in order */
    atomic_uint  bad;                                   /* corrupt or out of range */
    atomic_uint  order_violations;
    atomic_uint  reports;     /* sends/receives that answered ECLOSED or an error */
    atomic_uint  acked_at_report[MAX_PRODUCERS]; /* acked[] when the first report came */
    atomic_int   stop;                                  /* producers stop sending */
    uint32_t     nprod, nseq; /* the receipts' shape (set before the workers start) */
    /* the creator storm: the creator's workers, by slot (0 = none) */
    atomic_int   slot_pid[SLOTS];
    atomic_uint  next_id;
    atomic_int   ready, creator_rc;
    atomic_int   pids[MAX_PIDS]; /* every worker it started */
    atomic_uint  npids;
    atomic_int   last_exit_busy; /* 1 while a consumer writes last_exit (acq_rel exchange: orders the text) */
    char         last_exit[160]; /* the last consumer to end: what its last receive said */
    atomic_int   failure_noted;  /* first_failure written (once per book) */
    char         first_failure[200]; /* the first worker that failed: what its call said */
} book;

static book *B;
/* receipts per message: SEEN[producer * nseq + seq] (MAP_SHARED as well) */
static atomic_uchar *SEEN;
static size_t seen_size;

/* Count a receipt.  last (per consumer, or NULL): the next sequence number
 * each producer may show this consumer — one consumer must see one
 * producer's messages in send order where the mechanism claims FIFO. */
static void record(const msg *m, size_t len, uint32_t *last)
{
    if (len != sizeof *m || m->producer >= B->nprod || m->seq >= B->nseq
        || m->check != checksum(m->producer, m->seq)) {
        atomic_fetch_add(&B->bad, 1);
        return;
    }
    atomic_fetch_add(&SEEN[(size_t)m->producer * B->nseq + m->seq], 1);
    if (last) {
        if (m->seq + 1 <= last[m->producer]) atomic_fetch_add(&B->order_violations, 1);
        last[m->producer] = m->seq + 1;
    }
}

static unsigned seen(uint32_t p, uint32_t s) { return atomic_load(&SEEN[(size_t)p * B->nseq + s]); }

/* The book for nprod producers of up to nseq messages each. */
static void reset_book(uint32_t nprod, uint32_t nseq)
{
    memset(B, 0, sizeof *B);
    B->nprod = nprod;
    B->nseq = nseq;
    memset((void *)SEEN, 0, (size_t)nprod * nseq);
}

/* ---- workers ------------------------------------------------------------- */

/* A send or receive answered that the channel ended (ECLOSED or an error):
 * the API's report.  The first one also notes how far every producer had
 * been acknowledged then: what was lost before it was lost with the end. */
static void report_end(void)
{
    if (atomic_fetch_add(&B->reports, 1) == 0)
        for (int p = 0; p < MAX_PRODUCERS; p++) atomic_store(&B->acked_at_report[p], atomic_load(&B->acked[p]));
}

/* A worker ends on an answer that is neither the channel's end (ECLOSED)
 * nor "nothing now" (EFULL/EEMPTY): say what, once per book, so a "workers
 * failed" count comes with its reason. */
static void note_failure(const char *call, int rc)
{
    if (atomic_exchange(&B->failure_noted, 1) == 0)
        snprintf(B->first_failure, sizeof B->first_failure, "%s: %s: %s", call, ipc_strerror(rc), ipc_last_error());
}

static int producer(ipc_channel *ch, uint32_t id, uint32_t count)
{
    msg m = { .producer = id };
    for (uint32_t s = 0; s < count && !atomic_load(&B->stop); s++) {
        m.seq = s;
        m.check = checksum(id, s);
        int rc;
        do rc = ipc_send(ch, &m, sizeof m, 0, 200);
        while (rc == IPC_EFULL && !atomic_load(&B->stop));
        if (rc != IPC_OK) {
            if (rc != IPC_EFULL) report_end();
            if (rc != IPC_EFULL && rc != IPC_ECLOSED) note_failure("send", rc);
            return rc == IPC_EFULL || rc == IPC_ECLOSED ? 0 : 3;
        }
        atomic_store(&B->acked[id], s + 1);
    }
    return 0;
}

/* --inject: break a guarantee on purpose, to prove the campaigns catch it
 * (test_stress_short runs each and wants a failure).  Each consumer
 * process (or the soak's threads together) breaks it at its 10th message:
 * lose drops it unrecorded, and every 100th after it (one drop per
 * consumer could hide in the storms' allowance of one per killed
 * consumer; a storm must fail on a loss while consumers live, and
 * test_stress_short checks that each storm does); dup records it twice,
 * hang stops there and never returns (the storms' worker processes only:
 * they are reaped with a deadline, where the soak waits an hour for its
 * producers); leak keeps one channel of each limits campaign open past its
 * check (its names stay). */
enum inject { INJ_NONE, INJ_LOSE, INJ_DUP, INJ_HANG, INJ_LEAK };
static enum inject g_inject;
static pid_t g_driver;          /* the ipcstress process itself */
static atomic_uint g_received;  /* this process's receipts, for --inject */
static bool g_storm;            /* a kill storm is running (its workers may hang) */

static int consumer(ipc_channel *ch, bool fifo, int idle_ms)
{
    msg m;
    size_t got;
    uint32_t *last = fifo ? calloc(MAX_PRODUCERS, sizeof *last) : NULL;
    for (;;) {
        int rc = ipc_recv(ch, &m, sizeof m, &got, NULL, idle_ms);
        unsigned nth = rc == IPC_OK && g_inject != INJ_NONE ? atomic_fetch_add(&g_received, 1) + 1 : 0;
        if (nth == 10 || (g_inject == INJ_LOSE && nth > 10 && (nth - 10) % 100 == 0)) {
            if (g_inject == INJ_LOSE) continue;
            if (g_inject == INJ_DUP) record(&m, got, NULL);
            if (g_inject == INJ_HANG && g_storm && getpid() != g_driver)
                for (;;) pause();
        }
        if (rc == IPC_OK) record(&m, got, last);
        else if (rc == IPC_EEMPTY && !atomic_load(&B->stop)) continue;
        else {
            if (rc != IPC_EEMPTY) report_end();
            /* consumer threads end together: one writes at a time, and one
             * that finds it taken skips (a holder SIGKILLed there leaves it
             * taken: the text stops changing, nobody waits) */
            if (atomic_exchange(&B->last_exit_busy, 1) == 0) {
                snprintf(B->last_exit, sizeof B->last_exit, "%s: %s", ipc_strerror(rc), ipc_last_error());
                atomic_store(&B->last_exit_busy, 0);
            }
            if (rc != IPC_EEMPTY && rc != IPC_ECLOSED) note_failure("receive", rc);
            free(last);
            return rc == IPC_EEMPTY || rc == IPC_ECLOSED ? 0 : 4;
        }
    }
}

/* The storms' and the soak's channels: max_msg (--max-msg; default one
 * message).  Receivers always pass a buffer of one message, so a larger
 * max_msg drives them through the paths for buffers smaller than max_msg
 * (where a mechanism looks at a message's size before taking it). */
static size_t g_max_msg = sizeof(msg);

/* How long a worker may live: a stuck one dies instead of lingering.  The
 * soak's workers get an hour (10^6 messages through a broker take minutes;
 * 120 s killed them halfway, which read as losses). */
static unsigned g_worker_s = 120;

static pid_t spawn(ipc_channel *ch, bool is_producer, uint32_t id, uint32_t count, bool fifo)
{
    fflush(stdout); /* a child must not print our buffer again */
    pid_t pid = fork();
    if (pid == 0) {
        alarm(g_worker_s);
        atomic_store(&g_received, 0);
        _exit(is_producer ? producer(ch, id, count) : consumer(ch, fifo, 300));
    }
    return pid;
}

/* Wait for pid up to ms; a process still running then is a hang: kill it.
 * Returns 0 exited normally with 0, 1 other exit/signal, 2 hung; *status
 * its wait status. */
static int reap_status(pid_t pid, int ms, int *status)
{
    for (int waited = 0;; waited += 10) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            *status = st;
            return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
        }
        if (r < 0) return 1;
        if (waited >= ms) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            *status = st;
            return 2;
        }
        usleep(10000);
    }
}

static int reap(pid_t pid, int ms)
{
    int st;
    return reap_status(pid, ms, &st);
}

/* Reap a storm's worker: count it hung (r 2) or failed (r 1); the first
 * failure's wait status goes to *first. */
static void reap_worker(pid_t pid, long *hung, long *broken, int *first)
{
    int st = 0, r = reap_status(pid, 5000, &st);
    *hung += r == 2;
    if (r == 1 && (*broken)++ == 0) *first = st;
}

/* After a storm's line: why its first failed worker ended. */
static void say_failed(long broken, int st)
{
    if (!broken) return;
    char how[80];
    if (WIFSIGNALED(st)) snprintf(how, sizeof how, "killed by signal %d, %s", WTERMSIG(st), strsignal(WTERMSIG(st)));
    else snprintf(how, sizeof how, "exit %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    printf("    the first worker that failed: %s%s%.*s\n", how, B->first_failure[0] ? "; it was told " : "",
           (int)sizeof B->first_failure, B->first_failure);
}

/* ---- campaign: kill storm ------------------------------------------------- */

typedef struct totals { long messages, kills, lost, dup, hung, bad, allowance, broken, reported_lost; } totals;
static totals T_kill, T_creator, T_soak;
static int g_fail;

/* Lost and duplicated among the acknowledged messages of producers [0, n). */
static void count_receipts(uint32_t n, long *acked, long *lost, long *dup)
{
    *acked = *lost = *dup = 0;
    for (uint32_t p = 0; p < n && p < MAX_PRODUCERS; p++) {
        unsigned a = atomic_load(&B->acked[p]);
        *acked += a;
        for (unsigned s = 0; s < a && s < B->nseq; s++) {
            unsigned k = seen(p, s);
            if (k == 0) (*lost)++;
            if (k > 1) *dup += k - 1;
        }
    }
}

static void kill_storm(const ipc_mechanism *mech, int kills, unsigned *seed)
{
    enum { P = 3, C = 3 };
    reset_book(MAX_PRODUCERS, STORM_SEQ);
    ipc_channel *ch = NULL;
    if (ipc_open(mech->name, &(ipc_config){ .max_msg = g_max_msg }, &ch) != IPC_OK) {
        printf("  %-15s skipped: %s\n", mech->name, ipc_last_error());
        return;
    }
    bool fifo = (mech->caps & IPC_CAP_FIFO) != 0;
    pid_t prod[P], cons[C];
    uint32_t next_id = 0;
    for (int i = 0; i < P; i++) prod[i] = spawn(ch, true, next_id++, STORM_SEQ, fifo);
    for (int i = 0; i < C; i++) cons[i] = spawn(ch, false, 0, 0, fifo);
    long consumer_kills = 0;
    for (int k = 0; k < kills; k++) {
        usleep(2000 + rand_r(seed) % 8000);
        int who = rand_r(seed) % (P + C);
        pid_t victim = who < P ? prod[who] : cons[who - P];
        kill(victim, SIGKILL);
        waitpid(victim, NULL, 0);
        if (who < P) {
            if (next_id >= MAX_PRODUCERS) next_id = MAX_PRODUCERS - 1; /* reuse the last slot */
            prod[who] = spawn(ch, true, next_id++, STORM_SEQ, fifo);
        } else {
            consumer_kills++;
            cons[who - P] = spawn(ch, false, 0, 0, fifo);
        }
    }
    atomic_store(&B->stop, 1);
    long hung = 0, broken = 0;
    int first_st = 0;
    for (int i = 0; i < P; i++) reap_worker(prod[i], &hung, &broken, &first_st);
    for (int i = 0; i < C; i++) reap_worker(cons[i], &hung, &broken, &first_st);
    /* drain what is still queued */
    msg m;
    size_t got;
    while (ipc_recv(ch, &m, sizeof m, &got, NULL, 200) == IPC_OK) record(&m, got, NULL);
    ipc_free(ch);
    long acked, lost, dup;
    count_receipts(next_id, &acked, &lost, &dup);
    long unexplained = lost > consumer_kills ? lost - consumer_kills : 0;
    bool ok = unexplained == 0 && dup == 0 && hung == 0 && atomic_load(&B->bad) == 0;
    printf("  %-15s %7ld acked, %3d kills (%2ld consumers): %ld lost (allowance %ld: one per killed consumer),"
           " %ld duplicated, %ld hung, %u corrupt, %ld workers failed%s\n",
           mech->name, acked, kills, consumer_kills, lost, consumer_kills, dup, hung, atomic_load(&B->bad), broken,
           ok ? "" : "   <-- FAIL");
    say_failed(broken, first_st);
    T_kill.messages += acked;
    T_kill.kills += kills;
    T_kill.lost += lost;
    T_kill.allowance += consumer_kills;
    T_kill.dup += dup;
    T_kill.hung += hung;
    T_kill.bad += atomic_load(&B->bad);
    T_kill.broken += broken;
    if (!ok) g_fail = 1;
}

/* ---- campaign: kill storm with the creator killed ------------------------
 * The creator opens the channel, starts P producers and C consumers (slots
 * 0..P-1 and P..P+C-1) and replaces each one that dies, until it is killed
 * itself.  Its orphans then belong to the driver (PR_SET_CHILD_SUBREAPER).
 * A slot's pid is cleared before that pid is reaped (waitid WNOWAIT first),
 * so the driver never signals a pid that may have been reused. */

static void note_pid(pid_t pid)
{
    unsigned i = atomic_fetch_add(&B->npids, 1);
    if (i < MAX_PIDS) atomic_store(&B->pids[i], pid);
}

static pid_t creator_spawn(ipc_channel *ch, int slot, bool fifo)
{
    enum { P = 3 };
    pid_t pid;
    if (slot < P) {
        uint32_t id = atomic_fetch_add(&B->next_id, 1);
        if (id >= MAX_PRODUCERS) id = MAX_PRODUCERS - 1;
        pid = spawn(ch, true, id, STORM_SEQ, fifo);
    } else {
        pid = spawn(ch, false, 0, 0, fifo);
    }
    if (pid > 0) note_pid(pid);
    atomic_store(&B->slot_pid[slot], pid > 0 ? pid : 0);
    return pid;
}

static int creator_main(const ipc_mechanism *mech)
{
    alarm(300);
    ipc_channel *ch = NULL;
    int rc = ipc_open(mech->name, &(ipc_config){ .max_msg = g_max_msg }, &ch);
    if (rc != IPC_OK) {
        fprintf(stderr, "  %-15s creator: %s\n", mech->name, ipc_last_error());
        atomic_store(&B->creator_rc, rc);
        atomic_store(&B->ready, 1);
        return 5;
    }
    bool fifo = (mech->caps & IPC_CAP_FIFO) != 0;
    for (int i = 0; i < SLOTS; i++) creator_spawn(ch, i, fifo);
    atomic_store(&B->ready, 1);
    for (;;) {
        siginfo_t si = { 0 };
        if (waitid(P_ALL, 0, &si, WEXITED | WNOWAIT) < 0) break;
        int slot = -1;
        for (int i = 0; i < SLOTS; i++)
            if (atomic_load(&B->slot_pid[i]) == si.si_pid) slot = i;
        if (slot >= 0) atomic_store(&B->slot_pid[slot], 0);
        waitpid(si.si_pid, NULL, 0);
        if (slot >= 0 && !atomic_load(&B->stop)) creator_spawn(ch, slot, fifo);
    }
    ipc_free(ch);
    return 0;
}

/* SysV queues have no name a sweep could read: remove those whose last
 * sender or receiver was one of this storm's processes.  RETURNS how many. */
static int remove_sysv_of_workers(pid_t creator)
{
    FILE *f = fopen("/proc/sysvipc/msg", "r");
    if (!f) return 0;
    char line[512];
    int removed = 0;
    if (!fgets(line, sizeof line, f)) { fclose(f); return 0; }
    while (fgets(line, sizeof line, f)) {
        long key, id, perms, cbytes, qnum, lspid, lrpid;
        if (sscanf(line, "%ld %ld %lo %ld %ld %ld %ld", &key, &id, &perms, &cbytes, &qnum, &lspid, &lrpid) != 7) continue;
        bool ours = lspid == creator || lrpid == creator;
        unsigned n = atomic_load(&B->npids);
        for (unsigned i = 0; i < n && i < MAX_PIDS && !ours; i++) {
            pid_t p = atomic_load(&B->pids[i]);
            ours = p && (lspid == p || lrpid == p);
        }
        if (ours && msgctl((int)id, IPC_RMID, NULL) == 0) removed++;
    }
    fclose(f);
    return removed;
}

static void count_stale(void *arg, const char *kind, const char *name, int pid, bool removed)
{
    (void)kind, (void)name, (void)pid;
    if (removed) ++*(int *)arg;
}

/* Consumers in their slots that we have not killed (a killed one stays in
 * its slot until the creator reaps and replaces it). */
static int live_consumers(int first, const pid_t *killed, int nkilled)
{
    int live = 0;
    for (int i = first; i < SLOTS; i++) {
        pid_t p = atomic_load(&B->slot_pid[i]);
        bool dead = false;
        for (int j = 0; j < nkilled; j++) dead |= killed[j] == p;
        live += p != 0 && !dead;
    }
    return live;
}

/* Kill the creator once it has a live consumer (slots first..SLOTS-1):
 * after its death nobody replaces a worker, and a channel left with no
 * consumer cannot be drained, so what it holds would read as lost though
 * no receive ever failed (unix: 281 lost with 0 consumers live at the end,
 * make stress of 2026-12-05 09:14, when the storm had just killed all
 * three).  Waiting for the creator's replacement hides no loss: a message
 * a live consumer cannot get still counts.  Waits up to 10 s; RETURNS the
 * live consumers it saw (0: killed all the same, and the line says so). */
static int kill_creator(pid_t creator, int first, const pid_t *killed, int nkilled)
{
    int live = 0;
    for (int i = 0; i < 1000 && (live = live_consumers(first, killed, nkilled)) == 0; i++) usleep(10000);
    kill(creator, SIGKILL);
    waitpid(creator, NULL, 0);
    return live;
}

static void creator_storm(const ipc_mechanism *mech, int kills, unsigned *seed)
{
    enum { P = 3 };
    reset_book(MAX_PRODUCERS, STORM_SEQ);
    fflush(stdout);
    pid_t creator = fork();
    if (creator == 0) _exit(creator_main(mech));
    if (creator < 0) { perror("fork"); g_fail = 1; return; }
    for (int i = 0; i < 6000 && !atomic_load(&B->ready); i++) usleep(10000); /* a broker may take a while */
    if (!atomic_load(&B->ready) || atomic_load(&B->creator_rc) != 0) {
        printf("  %-15s skipped: the creator could not open it\n", mech->name);
        kill(creator, SIGKILL);
        waitpid(creator, NULL, 0);
        return;
    }
    static unsigned acked_at_death[MAX_PRODUCERS];
    static pid_t killed[MAX_PIDS]; /* by us: their end is no failure */
    int nkilled = 0;
    long consumer_kills = 0;
    bool creator_dead = false;
    int live_at_death = 0;
    for (int k = 0; k < kills; k++) {
        usleep(2000 + rand_r(seed) % 8000);
        if (k == kills / 2) {
            live_at_death = kill_creator(creator, P, killed, nkilled);
            creator_dead = true;
            for (int p = 0; p < MAX_PRODUCERS; p++) acked_at_death[p] = atomic_load(&B->acked[p]);
            continue;
        }
        int slot = rand_r(seed) % SLOTS;
        pid_t victim = atomic_load(&B->slot_pid[slot]);
        if (!victim) continue;
        bool again = false; /* killed already, not yet replaced: no second allowance */
        for (int j = 0; j < nkilled; j++) again |= killed[j] == victim;
        if (again) continue;
        if (creator_dead && slot >= P) { /* keep one consumer: nobody replaces them now */
            /* A slot may still name a consumer we killed just before the
             * creator died (it had no time to reap and replace it): that
             * one is no consumer.  Counting it let the storm kill the last
             * live one, and a full ring nobody could drain read as lost
             * (shm: 64 lost, allowance 3, in 1 of 6 short runs). */
            if (live_consumers(P, killed, nkilled) <= 1) continue;
        }
        kill(victim, SIGKILL);
        if (nkilled < MAX_PIDS) killed[nkilled++] = victim;
        if (slot >= P) consumer_kills++;
        if (creator_dead) { /* ours now (the subreaper): no replacement */
            atomic_store(&B->slot_pid[slot], 0);
            waitpid(victim, NULL, 0);
        }
    }
    if (!creator_dead) {
        live_at_death = kill_creator(creator, P, killed, nkilled);
        for (int p = 0; p < MAX_PRODUCERS; p++) acked_at_death[p] = atomic_load(&B->acked[p]);
    }
    int live = live_consumers(P, killed, nkilled); /* at the stop: who can still drain it */
    atomic_store(&B->stop, 1);
    long hung = 0, broken = 0;
    int first_st = 0;
    for (int i = 0; i < SLOTS; i++) {
        pid_t pid = atomic_load(&B->slot_pid[i]);
        if (!pid) continue;
        bool by_us = false;
        for (int j = 0; j < nkilled; j++) by_us |= killed[j] == pid;
        if (by_us) { /* ours: its end is no failure */
            long h = 0, b = 0;
            int st;
            reap_worker(pid, &h, &b, &st);
        } else {
            reap_worker(pid, &hung, &broken, &first_st);
        }
    }
    while (waitpid(-1, NULL, WNOHANG) > 0) {} /* orphans the creator had not reaped */
    uint32_t nprod = atomic_load(&B->next_id);
    long acked, lost, dup, lost_before = 0, lost_after = 0, lost_reported = 0;
    count_receipts(nprod, &acked, &lost, &dup);
    unsigned reports = atomic_load(&B->reports);
    for (uint32_t p = 0; p < nprod && p < MAX_PRODUCERS; p++) {
        unsigned a = atomic_load(&B->acked[p]);
        for (unsigned s = 0; s < a && s < B->nseq; s++)
            if (seen(p, s) == 0) {
                if (s < acked_at_death[p]) lost_before++;
                else lost_after++;
                if (reports && s < atomic_load(&B->acked_at_report[p])) lost_reported++;
            }
    }
    /* What may be lost: one message per killed consumer, plus what was
     * acknowledged before the API reported that the channel ended (a
     * survivor's ECLOSED or error): it ended with its creator, and said so.
     * A channel that goes on working after its creator died (no report) must
     * lose nothing more.  The same with IPC_CAP_PERSISTENT: the channel was
     * opened with no endpoint, and an embedded broker's lifetime is its
     * creator's (ipc.h); persistence is a broker restart on its data dir. */
    long allowed = consumer_kills + lost_reported;
    long unexplained = lost > allowed ? lost - allowed : 0;
    bool ok = unexplained == 0 && dup == 0 && hung == 0 && atomic_load(&B->bad) == 0;
    int swept = 0;
    ipc__stale_sweep(NULL, false, count_stale, &swept);
    int sysv = remove_sysv_of_workers(creator);
    int left = ipc__stale_sweep(NULL, true, NULL, NULL);
    if (left != 0) ok = false;
    printf("  %-15s %7ld acked, %3d kills (creator + %2ld consumers): %ld lost (%ld acked before the creator died,"
           " %ld after; %ld before the API reported the end; allowance %ld), %u API reports, %ld duplicated, %ld hung,"
           " %u corrupt, %ld workers failed, %d consumers live at the end; names: %d swept, %d SysV queues removed,"
           " %d left%s\n",
           mech->name, acked, kills, consumer_kills, lost, lost_before, lost_after, lost_reported, allowed, reports,
           dup, hung,
           atomic_load(&B->bad), broken, live, swept, sysv, left,
           ok ? "" : "   <-- FAIL");
    say_failed(broken, first_st);
    if (live_at_death == 0)
        printf("    the creator was killed with no live consumer (none replaced the killed ones in 10 s)\n");
    if (lost > allowed) printf("    the last consumer to end was told: %.*s\n", (int)sizeof B->last_exit, B->last_exit);
    T_creator.messages += acked;
    T_creator.kills += kills;
    T_creator.lost += lost;
    T_creator.allowance += allowed;
    T_creator.reported_lost += lost_reported;
    T_creator.dup += dup;
    T_creator.hung += hung;
    T_creator.bad += atomic_load(&B->bad);
    T_creator.broken += broken;
    if (!ok) g_fail = 1;
}

/* ---- campaign: soak ------------------------------------------------------- */

typedef struct soak_arg { ipc_channel *ch; uint32_t id, count; bool fifo; int rc; char why[200]; } soak_arg;
static void *soak_producer(void *a)
{
    soak_arg *s = a;
    s->rc = producer(s->ch, s->id, s->count);
    if (atomic_load(&B->acked[s->id]) < s->count) { /* it stopped early: say why */
        snprintf(s->why, sizeof s->why, "%s", ipc_last_error());
        s->rc = s->rc ? s->rc : 6;
    }
    return NULL;
}
static void *soak_consumer(void *a) { soak_arg *s = a; s->rc = consumer(s->ch, s->fifo, 200); return NULL; }

static void soak(const ipc_mechanism *mech, uint32_t per_producer, bool threads)
{
    enum { P = 4, C = 4 };
    reset_book(P, per_producer);
    ipc_channel *ch = NULL;
    if (ipc_open(mech->name, &(ipc_config){ .max_msg = g_max_msg }, &ch) != IPC_OK) {
        printf("  %-15s %-9s skipped: %s\n", mech->name, threads ? "threads" : "processes", ipc_last_error());
        return;
    }
    bool fifo = (mech->caps & IPC_CAP_FIFO) != 0;
    int64_t t0 = ipc_now_ns();
    long hung = 0, failed = 0;
    if (threads) {
        pthread_t tp[P], tc[C];
        soak_arg ap[P], ac[C];
        for (int i = 0; i < C; i++) {
            ac[i] = (soak_arg){ .ch = ch, .fifo = fifo };
            pthread_create(&tc[i], NULL, soak_consumer, &ac[i]);
        }
        for (int i = 0; i < P; i++) {
            ap[i] = (soak_arg){ .ch = ch, .id = (uint32_t)i, .count = per_producer };
            pthread_create(&tp[i], NULL, soak_producer, &ap[i]);
        }
        for (int i = 0; i < P; i++) {
            pthread_join(tp[i], NULL);
            failed += ap[i].rc != 0;
            if (ap[i].why[0]) printf("    producer %d stopped after %u of %u: %s\n", i, atomic_load(&B->acked[i]),
                                     per_producer, ap[i].why);
        }
        atomic_store(&B->stop, 1);
        for (int i = 0; i < C; i++) pthread_join(tc[i], NULL), failed += ac[i].rc != 0;
    } else {
        pid_t pp[P], pc[C];
        g_worker_s = 3700;
        for (int i = 0; i < C; i++) pc[i] = spawn(ch, false, 0, 0, fifo);
        for (int i = 0; i < P; i++) pp[i] = spawn(ch, true, (uint32_t)i, per_producer, fifo);
        g_worker_s = 120;
        for (int i = 0; i < P; i++) {
            int r = reap(pp[i], 3600000);
            hung += r == 2, failed += r == 1;
            if (r == 0 && atomic_load(&B->acked[i]) < per_producer) { /* a send said ECLOSED */
                failed++;
                printf("    producer %d stopped after %u of %u (a send answered IPC_ECLOSED)\n", i,
                       atomic_load(&B->acked[i]), per_producer);
            }
        }
        atomic_store(&B->stop, 1);
        for (int i = 0; i < C; i++) {
            int r = reap(pc[i], 10000);
            hung += r == 2, failed += r == 1;
        }
    }
    /* Drain what is still queued.  After a long soak give it seconds: a
     * mechanism whose sends only queue locally (zmq: a send is done when its
     * I/O thread has written it) may still have a backlog in flight when the
     * consumers' 200 ms receives come back empty. */
    msg m;
    size_t got;
    int drain_ms = per_producer > 10000 ? 3000 : 100;
    long drained = 0;
    while (ipc_recv(ch, &m, sizeof m, &got, NULL, drain_ms) == IPC_OK) record(&m, got, NULL), drained++;
    if (drained) printf("    %ld received by the final drain, after the consumers had stopped\n", drained);
    ipc_free(ch);
    long lost = 0, dup = 0, total = 0;
    for (uint32_t p = 0; p < P; p++)
        for (uint32_t s = 0; s < per_producer; s++) {
            unsigned n = seen(p, s);
            total += n > 0;
            lost += n == 0;
            dup += n > 1 ? n - 1 : 0;
        }
    double secs = (double)(ipc_now_ns() - t0) / 1e9;
    bool ok = lost == 0 && dup == 0 && hung == 0 && failed == 0 && atomic_load(&B->bad) == 0
              && (!fifo || atomic_load(&B->order_violations) == 0);
    printf("  %-15s %-9s %8ld received of %8ld in %7.2f s: %ld lost, %ld duplicated, %u out of order%s,"
           " %ld hung, %ld failed%s\n",
           mech->name, threads ? "threads" : "processes", total, (long)P * per_producer, secs, lost, dup,
           atomic_load(&B->order_violations), fifo ? "" : " (not FIFO)", hung, failed, ok ? "" : "   <-- FAIL");
    T_soak.messages += total;
    T_soak.lost += lost;
    T_soak.dup += dup;
    T_soak.hung += hung;
    if (!ok) g_fail = 1;
}

/* ---- campaigns: descriptors, many channels, full /dev/shm, mq limits ---- */

/* Entries of dir whose name starts with prefix (-1: cannot read dir). */
static int names_in(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    size_t len = strlen(prefix);
    while ((e = readdir(d)))
        if (strncmp(e->d_name, prefix, len) == 0) n++;
    closedir(d);
    return n;
}

/* SysV message queues of the whole system (-1: unknown). */
static int sysv_queues(void)
{
    FILE *f = fopen("/proc/sysvipc/msg", "r");
    if (!f) return -1;
    int n = -1, c;
    while ((c = fgetc(f)) != EOF) n += c == '\n';
    fclose(f);
    return n;
}

typedef struct exhaust {
    const char *why;      /* the campaign's name */
    int         nofile;   /* RLIMIT_NOFILE soft limit (0: raise to the hard one) */
    long        msgqueue; /* RLIMIT_MSGQUEUE bytes (0: 16 KiB; -1: leave it, in our
                             own IPC namespace, where queues_max (256) stops us) */
    int         max_channels;
    bool        attachable;  /* generate names where the mechanism can (IPC_ATTACHABLE) */
    const char *mq_dir;   /* a private mqueue mount to look into, or NULL */
    bool        own_ipc;  /* run in a new IPC namespace (root): SysV and POSIX queue
                             limits are the namespace's, not everyone's */
} exhaust;

static int exhaust_child(const ipc_mechanism *mech, const exhaust *x)
{
    /* SysV limits (shmmni, msgmni) and queues_max are per IPC namespace:
     * in our own, running them out troubles no other program, and
     * /proc/sysvipc shows only ours.  Without root, the shared one (and
     * the counts below may see other programs' queues come and go). */
    if (x->own_ipc) (void)unshare(CLONE_NEWIPC);
    struct rlimit rl;
    if (x->nofile > 0) {
        rl = (struct rlimit){ (rlim_t)x->nofile, (rlim_t)x->nofile };
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0) return 10;
    } else if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    /* POSIX queues count against the system-wide queues_max (256) that
     * every other program shares: the per-user RLIMIT_MSGQUEUE (bytes of
     * every queue of this uid) stops us long before that. */
    long mq_bytes = x->msgqueue ? x->msgqueue : 16384;
    rl = (struct rlimit){ (rlim_t)mq_bytes, (rlim_t)mq_bytes };
    if (mq_bytes > 0 && setrlimit(RLIMIT_MSGQUEUE, &rl) < 0) return 10;
    ipc_channel **ch = calloc((size_t)x->max_channels, sizeof *ch);
    if (!ch) return 11;
    const char *prefix = getenv("IPCPLAY_NAME_PREFIX");
    const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    int shm_before = names_in("/dev/shm", prefix), tmp_before = names_in(tmp, prefix), sysv_before = sysv_queues();
    unsigned flags = x->attachable && (mech->caps & IPC_CAP_UNRELATED) ? IPC_ATTACHABLE : 0;
    int n = 0, rc = IPC_OK;
    char why[256] = "";
    for (; n < x->max_channels; n++) {
        ch[n] = NULL;
        if ((rc = ipc_open(mech->name, &(ipc_config){ .max_msg = sizeof(msg), .flags = flags }, &ch[n])) != IPC_OK) {
            snprintf(why, sizeof why, "%s", ipc_last_error());
            break;
        }
    }
    int code = 0;
    if (n < x->max_channels && (rc >= 0 || ch[n] != NULL)) code = 12; /* a failure must be an error, out NULL */
    for (int i = 0; i < n && !code; i++) {
        msg m = { .producer = 1, .seq = (uint32_t)i, .check = checksum(1, (uint32_t)i) }, r;
        size_t got;
        int s = ipc_send(ch[i], &m, sizeof m, 0, 2000);
        if (s == IPC_OK && (mech->caps & IPC_CAP_MPMC)) {
            s = ipc_recv(ch[i], &r, sizeof r, &got, NULL, 3000);
            if (s != IPC_OK || r.seq != m.seq) code = 13;
        } else if (s != IPC_OK && s != IPC_EFULL) {
            code = 14;
        }
        if (code) fprintf(stderr, "    %s: channel %d of %d (%s), then: %s\n", mech->name, i, n, x->why, ipc_last_error());
    }
    for (int i = g_inject == INJ_LEAK && n > 0; i < n; i++) ipc_free(ch[i]);
    free(ch);
    /* nothing of the failed open, nor of the freed ones, may stay */
    int shm_left = names_in("/dev/shm", prefix) - shm_before;
    int mq_left = x->mq_dir ? names_in(x->mq_dir, prefix) : 0;
    int tmp_left = names_in(tmp, prefix) - tmp_before;
    if (tmp_left < 0) tmp_left = 0; /* one of before's went away (a broker's own) */
    int sysv_left = sysv_queues() - sysv_before;
    if (shm_left > 0 || mq_left > 0 || tmp_left > 0) code = code ? code : 15;
    if (sysv_left > 0) { /* others' programs make queues too: look again */
        usleep(300000);
        sysv_left = sysv_queues() - sysv_before;
        if (sysv_left > 0) code = code ? code : 16;
    }
    printf("  %-15s %5d channels opened (%s), then: %s%s%s; left: %d in /dev/shm, %d POSIX queues, %d SysV queues,"
           " %d temp dirs%s\n",
           mech->name, n, x->why, n == x->max_channels ? "(all)" : ipc_strerror(rc), why[0] ? ": " : "",
           why, shm_left, mq_left, sysv_left, tmp_left, code ? "   <-- FAIL" : "");
    fflush(stdout);
    return code;
}

static void exhaust_campaign(const ipc_mechanism *mech, const exhaust *x)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(300);
        _exit(exhaust_child(mech, x));
    }
    int st = 0;
    int r = reap_status(pid, 330000, &st);
    if (r == 2) printf("  %-15s hung (%s)   <-- FAIL\n", mech->name, x->why);
    else if (WIFSIGNALED(st)) printf("  %-15s killed by signal %d (%s) while opening or using channels   <-- FAIL\n",
                                     mech->name, WTERMSIG(st), x->why);
    if (r != 0) g_fail = 1;
}

/* /dev/shm as a 1 MiB tmpfs in a private mount namespace (and an mqueue fs
 * mounted beside it, to see the POSIX queues): every local mechanism opens
 * channels until it cannot.  Runs in a child (the namespace dies with it).
 * RETURNS 0, 1 (a check failed) or 2 (no namespace: not root). */
static int shm_full_campaign(const char *only, bool short_run, size_t count, const ipc_mechanism *const *all,
                             bool (*usable)(const ipc_mechanism *, const char *, bool))
{
    char mq_dir[] = "/tmp/ipcstress-mq.XXXXXX";
    if (!mkdtemp(mq_dir)) return 2;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0
            || mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=1M,mode=1777") < 0) {
            printf("  (no private mount namespace: %s; needs root)\n", strerror(errno));
            fflush(stdout);
            _exit(2);
        }
        bool own_ipc = unshare(CLONE_NEWIPC) == 0; /* before the mqueue mount: it shows this namespace's queues */
        bool mq = mount("mqueue", mq_dir, "mqueue", 0, NULL) == 0;
        exhaust x = { .why = "/dev/shm a 1 MiB tmpfs", .max_channels = short_run ? 300 : 10000, .attachable = true,
                      .mq_dir = mq ? mq_dir : NULL, .msgqueue = own_ipc ? -1 : 0 };
        for (size_t i = 0; i < count; i++) {
            const ipc_mechanism *m = all[i];
            if (!usable(m, only, short_run) || (m->caps & IPC_CAP_HOSTS)) continue;
            exhaust_campaign(m, &x);
        }
        if (mq) umount(mq_dir);
        fflush(stdout);
        _exit(g_fail);
    }
    int st;
    waitpid(pid, &st, 0);
    rmdir(mq_dir);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

static void show_stale(void *arg, const char *kind, const char *name, int pid, bool removed)
{
    (void)arg, (void)removed;
    printf("  stale %s %s (creator pid %d gone)%s\n", kind, name, pid, removed ? ": removed" : "");
}

/* ---- main ----------------------------------------------------------------- */

/* Is name one of the comma-separated list? */
static bool in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == '\0')) return true;
    return false;
}

/* Can the campaigns run on m?  Its messages must hold ours; --short leaves
 * out the mechanisms that reach over the network (brokers, tcp: a server
 * to start, seconds per channel).  --only names them (a comma list). */

static bool usable(const ipc_mechanism *m, const char *only, bool short_run)
{
    if (only) return in_list(only, m->name);
    if (m->max_msg_limit < sizeof(msg)) return false;
    return !(short_run && (m->caps & IPC_CAP_HOSTS));
}

/* What the campaigns hold each mechanism to, read from its caps alone (the
 * table of docs/reliability.md is this output). */
static void guarantees(size_t count, const ipc_mechanism *const *all)
{
    printf("| mechanism | kill storms (FORK+MPMC) | a consumer SIGKILLed | the creator SIGKILLed | order kept | limits |\n"
           "|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < count; i++) {
        const ipc_mechanism *m = all[i];
        unsigned c = m->caps;
        bool storms = (c & IPC_CAP_FORK) && (c & IPC_CAP_MPMC);
        printf("| %s | %s | %s | %s | %s | %s |\n", m->name,
               storms ? "yes" : (c & IPC_CAP_FORK) ? "no (not MPMC)" : "no (no FORK)",
               !storms ? "-" : "at most the 1 message it was receiving is lost",
               !storms ? "-"
               : (c & IPC_CAP_PERSISTENT)
                   ? "lost only what was acked before survivors got ECLOSED/an error: the embedded broker ends "
                     "with its creator (PERSISTENT: 0 lost across a broker restart on its data dir)"
                   : "lost only what was acked before survivors got ECLOSED/an error",
               (c & IPC_CAP_FIFO) ? "per producer (FIFO)" : (c & IPC_CAP_PRIORITY) ? "by priority" : "none",
               (c & IPC_CAP_HOSTS) ? "fd limit: open fails with a code"
                                   : "fds, 10,000 channels, /dev/shm full, mq limits: open fails with a code, "
                                     "nothing half-made");
    }
}

static void usage(FILE *to)
{
    fputs("usage: ipcstress [--short] [--only MECH[,MECH...]] [--kills N] [--soak N] [--soak-hosts N] [--max-msg N] [--inject K] [--guarantees]\n"
          "  kill storm (workers, then the creator too), soak, descriptor limit, 10,000 channels,\n"
          "  /dev/shm full and mq limits over every registered mechanism\n"
          "  --short    the seconds-long version (make test); default: the minutes-long one (make stress)\n"
          "  --only M   these mechanisms only (M: a name, or names separated by commas)\n"
          "  --kills N  SIGKILLs per mechanism (default 100; --short 8)\n"
          "  --short leaves out mechanisms that cross hosts (a server to start per channel)\n"
          "  --soak N   messages per producer in the soak (default 1000000; --short 500)\n"
          "  --soak-hosts N  the same for mechanisms that cross hosts (default: --soak's N)\n"
          "  --max-msg N  the storms' and soak's channels take messages up to N bytes (default 32, one\n"
          "             message; receivers pass 32-byte buffers, so N > 32 drives the small-buffer paths)\n"
          "  --guarantees  print what each mechanism is held to, from its caps (docs/reliability.md)\n"
          "  --inject K  break a guarantee on purpose (K: lose, dup, hang, leak) to see the campaigns fail\n", to);
}

int main(int argc, char **argv)
{
    bool short_run = false;
    const char *only = NULL;
    long kills = -1, soak_n = -1, soak_hosts = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { usage(stdout); return 0; }
        else if (!strcmp(argv[i], "--guarantees")) {
            size_t n;
            const ipc_mechanism *const *all = ipc_mechanisms(&n);
            guarantees(n, all);
            return 0;
        }
        else if (!strcmp(argv[i], "--short")) short_run = true;
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(argv[i], "--kills") && i + 1 < argc) kills = atol(argv[++i]);
        else if (!strcmp(argv[i], "--soak") && i + 1 < argc) soak_n = atol(argv[++i]);
        else if (!strcmp(argv[i], "--soak-hosts") && i + 1 < argc) soak_hosts = atol(argv[++i]);
        else if (!strcmp(argv[i], "--max-msg") && i + 1 < argc) {
            long n = atol(argv[++i]);
            if (n < (long)sizeof(msg) || n > 65536) {
                fprintf(stderr, "ipcstress: --max-msg must be %zu..65536\n", sizeof(msg));
                return 2;
            }
            g_max_msg = (size_t)n;
        }
        else if (!strcmp(argv[i], "--inject") && i + 1 < argc) {
            static const char *const kinds[] = { "", "lose", "dup", "hang", "leak" };
            const char *k = argv[++i];
            for (int j = 1; j < 5; j++)
                if (!strcmp(k, kinds[j])) g_inject = (enum inject)j;
            if (g_inject == INJ_NONE) {
                fprintf(stderr, "ipcstress: --inject wants lose, dup, hang or leak, not '%s'\n", k);
                return 2;
            }
        }
        else {
            fprintf(stderr, "ipcstress: unknown or incomplete argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (kills < 0) kills = short_run ? 8 : 100;
    if (soak_n < 0) soak_n = short_run ? 500 : 1000000;
    if (soak_hosts < 0) soak_hosts = soak_n;
    if (soak_n < 1 || soak_n > 100000000 || soak_hosts < 1 || soak_hosts > soak_n) {
        fprintf(stderr, "ipcstress: --soak must be 1..10^8, --soak-hosts 1..--soak\n");
        return 2;
    }
    for (const char *p = only; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)strcspn(p, ","), p);
        if (!ipc_find(name)) { fprintf(stderr, "ipcstress: unknown mechanism '%s'\n", name); return 2; }
    }
    g_driver = getpid();
    /* our own name prefix: the sweeps below see only this run's names */
    char prefix[32];
    snprintf(prefix, sizeof prefix, "ipcstress%d", (int)getpid());
    setenv("IPCPLAY_NAME_PREFIX", prefix, 1);
    B = mmap(NULL, sizeof *B, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    seen_size = (size_t)MAX_PRODUCERS * STORM_SEQ;
    if ((size_t)soak_n * 4 > seen_size) seen_size = (size_t)soak_n * 4;
    SEEN = mmap(NULL, seen_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (B == MAP_FAILED || SEEN == MAP_FAILED) { perror("mmap"); return 1; }
    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_CHILD_SUBREAPER, 1); /* a killed creator's workers come back to us */
    unsigned seed = (unsigned)getpid();
    size_t count;
    const ipc_mechanism *const *all = ipc_mechanisms(&count);

    g_storm = true;
    printf("== kill storm: %ld SIGKILLs per mechanism of producers and consumers (3 + 3 processes)\n", kills);
    for (size_t i = 0; i < count; i++) {
        const ipc_mechanism *m = all[i];
        if (!usable(m, only, short_run)) continue;
        if (!(m->caps & IPC_CAP_FORK) || !(m->caps & IPC_CAP_MPMC)) continue; /* many processes at once */
        kill_storm(m, (int)kills, &seed);
        fflush(stdout);
    }
    printf("== kill storm with the creator: %ld SIGKILLs per mechanism, the creator's halfway\n", kills);
    for (size_t i = 0; i < count; i++) {
        const ipc_mechanism *m = all[i];
        if (!usable(m, only, short_run)) continue;
        if (!(m->caps & IPC_CAP_FORK) || !(m->caps & IPC_CAP_MPMC)) continue;
        creator_storm(m, (int)kills, &seed);
        fflush(stdout);
    }
    g_storm = false;
    uint32_t per = (uint32_t)soak_n;
    printf("== soak: 4 producers x 4 consumers x %u messages per MPMC mechanism (%ld where it crosses hosts)\n", per,
           soak_hosts);
    for (size_t i = 0; i < count; i++) {
        const ipc_mechanism *m = all[i];
        if (!usable(m, only, short_run)) continue;
        if (!(m->caps & IPC_CAP_MPMC)) continue;
        uint32_t per = (m->caps & IPC_CAP_HOSTS) ? (uint32_t)soak_hosts : (uint32_t)soak_n;
        if (m->caps & IPC_CAP_THREADS) soak(m, per, true);
        if (m->caps & IPC_CAP_FORK) soak(m, per, false);
        fflush(stdout);
    }
    int many = short_run ? 100 : 10000;
    printf("== descriptors: RLIMIT_NOFILE 64, up to %d channels per mechanism\n", many);
    exhaust fds = { .why = "RLIMIT_NOFILE 64", .nofile = 64, .max_channels = many, .own_ipc = true };
    for (size_t i = 0; i < count; i++)
        if (usable(all[i], only, short_run)) exhaust_campaign(all[i], &fds);
    printf("== many channels: up to %d of every in-process mechanism (RLIMIT_NOFILE at its hard limit)\n", many);
    exhaust lots = { .why = "RLIMIT_NOFILE hard", .max_channels = many, .own_ipc = true, .msgqueue = -1 };
    for (size_t i = 0; i < count; i++) {
        const ipc_mechanism *m = all[i];
        if (!usable(m, only, short_run) || !(m->caps & IPC_CAP_THREADS) || (m->caps & IPC_CAP_HOSTS)) continue;
        exhaust_campaign(m, &lots);
    }
    printf("== /dev/shm full: a 1 MiB tmpfs in a private mount namespace, up to %d channels per local mechanism\n",
           short_run ? 300 : 10000);
    int r = shm_full_campaign(only, short_run, count, all, usable);
    if (r == 1) g_fail = 1;
    printf("== mq limits: RLIMIT_MSGQUEUE 4096 bytes, up to %d channels per local mechanism\n", short_run ? 100 : 1000);
    exhaust mql = { .why = "RLIMIT_MSGQUEUE 4096", .msgqueue = 4096, .max_channels = short_run ? 100 : 1000,
                    .own_ipc = true };
    for (size_t i = 0; i < count; i++)
        if (usable(all[i], only, short_run) && !(all[i]->caps & IPC_CAP_HOSTS)) exhaust_campaign(all[i], &mql);
    int stale = ipc__stale_sweep(NULL, false, show_stale, NULL); /* found = a check failed; removed all the same */
    printf("== totals: kill storm %ld messages acknowledged, %ld kills, %ld lost (allowance %ld), %ld duplicated,"
           " %ld hung, %ld corrupt; creator storm %ld acknowledged, %ld kills, %ld lost (allowance %ld, of which %ld"
           " reported by the API), %ld duplicated, %ld hung; soak %ld messages, %ld lost, %ld duplicated, %ld hung;"
           " stale names after: %d\n",
           T_kill.messages, T_kill.kills, T_kill.lost, T_kill.allowance, T_kill.dup, T_kill.hung, T_kill.bad,
           T_creator.messages, T_creator.kills, T_creator.lost, T_creator.allowance, T_creator.reported_lost,
           T_creator.dup, T_creator.hung, T_soak.messages, T_soak.lost, T_soak.dup, T_soak.hung, stale);
    if (stale > 0) g_fail = 1;
    printf("%s\n", g_fail ? "ipcstress: FAILED" : "ipcstress: all checks held");
    return g_fail;
}
