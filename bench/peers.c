/*
 * peers.c — where the two sides of a benchmark run, and what they cost.
 *
 * Placement.  On a 2-vCPU virtual machine a blocking round trip between two
 * cores costs ~30 µs (waking a sleeping vCPU), the same round trip on one
 * core ~1-3 µs (a context switch).  Where the sides run matters more than
 * which mechanism carries the bytes, so every figure names its placement:
 * "same" pins both sides to the first CPU this process may use, "cross"
 * puts them on the first two, "none" leaves it to the scheduler.
 * Threads are pinned with pthread_attr_setaffinity_np before they start, a
 * forked child with sched_setaffinity right after fork.
 *
 * CPU time.  Google Benchmark's default timer is the CPU time of the main
 * thread, which says nothing about a peer blocked in read().  We report the
 * CPU of both sides: getrusage(RUSAGE_SELF) covers this process and every
 * thread in it; a forked peer's time is read from its CPU clock
 * (clock_getcpuclockid), because getrusage cannot look into another live
 * process (RUSAGE_CHILDREN only counts children already waited for).
 *
 * The watchdog.  A mechanism under test can be broken (that is why one
 * benchmarks and tests it): a lost wakeup would hang the whole sweep.  One
 * thread, with every signal blocked (a signal-based mechanism must never
 * have its signals delivered here), sleeps until the armed deadline and
 * then kills process peers and shuts channels down.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- errors ------------------------------------------------------------ */

static _Thread_local char error_text[512];

static int vfail(bool with_errno, const char *fmt, va_list ap)
{
    int saved = errno;
    int n = vsnprintf(error_text, sizeof error_text, fmt, ap);
    if (with_errno && n >= 0 && (size_t)n < sizeof error_text)
        snprintf(error_text + n, sizeof error_text - (size_t)n, ": %s", strerror(saved));
    errno = saved;
    return -1;
}

int bench_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(false, fmt, ap);
    va_end(ap);
    return -1;
}

int bench_fail_errno(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(true, fmt, ap);
    va_end(ap);
    return -1;
}

const char *bench_error(void) { return error_text; }

/* ---- CPUs and placement ------------------------------------------------ */

const char *const bench_mode_name[] = { "single", "threads", "procs" };
const char *const bench_pin_name[] = { "same", "cross", "none" };

static cpu_set_t startup_set;   /* the CPUs we were allowed at startup */
static int       cpus[2] = { -1, -1 };
static char      same_text[32], cross_text[32];  /* "cpu 0/0", "cpu 0/1" */
static double    t_start;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double bench_elapsed(void) { return now_s() - t_start; }

void bench_cpus_init(void)
{
    t_start = now_s();
    CPU_ZERO(&startup_set);
    if (sched_getaffinity(0, sizeof startup_set, &startup_set) < 0) {
        perror("ipcbench: sched_getaffinity");
        CPU_SET(0, &startup_set);
    }
    for (int c = 0, found = 0; c < CPU_SETSIZE && found < 2; c++)
        if (CPU_ISSET(c, &startup_set)) cpus[found++] = c;
    snprintf(same_text, sizeof same_text, "cpu %d/%d", cpus[0], cpus[0]);
    snprintf(cross_text, sizeof cross_text, "cpu %d/%d", cpus[0], cpus[1]);
}

int bench_cpu(int which) { return which == 0 || which == 1 ? cpus[which] : -1; }

int bench_placement_cpu(enum bench_pin pin, int side)
{
    switch (pin) {
    case PIN_SAME:  return cpus[0];
    case PIN_CROSS: return cpus[side ? 1 : 0];
    default:        return -1;
    }
}

const char *bench_placement_text(enum bench_pin pin)
{
    static const char *const text[] = { [PIN_SAME] = same_text, [PIN_CROSS] = cross_text, [PIN_NONE] = "unpinned" };
    return text[pin];
}

static void cpu_set_for(int cpu, cpu_set_t *set)
{
    if (cpu < 0) {
        *set = startup_set;
    } else {
        CPU_ZERO(set);
        CPU_SET(cpu, set);
    }
}

int bench_pin_self(int cpu)
{
    cpu_set_t set;
    cpu_set_for(cpu, &set);
    int err = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    if (err) {
        errno = err; /* pthread calls return the error instead of setting errno */
        return bench_fail_errno("pthread_setaffinity_np(cpu %d)", cpu);
    }
    return 0;
}

/* ---- peers --------------------------------------------------------------- */

static void *thread_main(void *arg)
{
    bench_peer *p = arg;
    p->result = p->fn(p->arg);
    return NULL;
}

int bench_peer_start(bench_peer *p, bool process, int cpu, int (*fn)(void *), void *arg)
{
    *p = (bench_peer){ .process = process, .cpu = cpu, .fn = fn, .arg = arg, .pid = -1 };
    cpu_set_t set;
    cpu_set_for(cpu, &set);
    if (process) {
        fflush(NULL); /* or the child's exit would print our buffered output twice */
        pid_t pid = fork();
        if (pid < 0) return bench_fail_errno("fork");
        if (pid == 0) {
            /* The child does its work and _exits: it never returns into
             * Google Benchmark's loop, and never runs our atexit handlers. */
            if (sched_setaffinity(0, sizeof set, &set) < 0) {
                perror("ipcbench peer: sched_setaffinity");
                _exit(120);
            }
            _exit(fn(arg) == 0 ? 0 : 1);
        }
        p->pid = pid;
        p->running = true;
        return 0;
    }
    pthread_attr_t attr;
    int err = pthread_attr_init(&attr);
    if (!err) {
        err = pthread_attr_setaffinity_np(&attr, sizeof set, &set);
        if (!err) err = pthread_create(&p->thread, &attr, thread_main, p);
        pthread_attr_destroy(&attr);
    }
    if (err) {
        errno = err;
        return bench_fail_errno("pthread_create (pinned to cpu %d)", cpu);
    }
    p->running = true;
    return 0;
}

int bench_peer_join(bench_peer *p, int timeout_ms)
{
    if (!p->running) return 0;
    struct timespec until;
    if (!p->process) {
        clock_gettime(CLOCK_REALTIME, &until); /* pthread_timedjoin_np's clock */
        until.tv_sec += timeout_ms / 1000;
        until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) { until.tv_sec++; until.tv_nsec -= 1000000000L; }
        int err = pthread_timedjoin_np(p->thread, NULL, &until);
        if (err == ETIMEDOUT)
            return bench_fail("peer thread still busy after %d ms: left running", timeout_ms);
        p->running = false;
        if (err) {
            errno = err;
            return bench_fail_errno("pthread_timedjoin_np");
        }
        return p->result == 0 ? 0 : bench_fail("peer thread failed");
    }
    /* A child: poll waitpid, then SIGKILL once the deadline has passed. */
    double deadline = now_s() + timeout_ms / 1000.0;
    int status = 0;
    for (;;) {
        pid_t r = waitpid(p->pid, &status, WNOHANG);
        if (r == p->pid) break;
        if (r < 0 && errno != EINTR) {
            p->running = false;
            return bench_fail_errno("waitpid(%ld)", (long)p->pid);
        }
        if (now_s() > deadline) {
            kill(p->pid, SIGKILL);
            while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR) {}
            p->running = false;
            return bench_fail("peer process %ld still busy after %d ms: killed", (long)p->pid, timeout_ms);
        }
        struct timespec nap = { .tv_nsec = 1000000 };
        nanosleep(&nap, NULL);
    }
    p->running = false;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    if (WIFSIGNALED(status)) return bench_fail("peer process killed by signal %d", WTERMSIG(status));
    return bench_fail("peer process exited with status %d", WEXITSTATUS(status));
}

double bench_peer_cpu(const bench_peer *p)
{
    if (!p->process || !p->running) return 0;
    clockid_t clk;
    struct timespec ts;
    if (clock_getcpuclockid(p->pid, &clk) != 0 || clock_gettime(clk, &ts) != 0) return 0;
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double bench_self_cpu(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) < 0) return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)
         + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

double bench_self_vcsw(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) < 0 ? 0 : (double)ru.ru_nvcsw;
}

double bench_peer_vcsw(const bench_peer *p)
{
    if (!p->process || !p->running) return 0;
    char path[64], line[128];
    snprintf(path, sizeof path, "/proc/%ld/status", (long)p->pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    double n = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "voluntary_ctxt_switches: %lf", &n) == 1) break;
    fclose(f);
    return n;
}

/* ---- the watchdog ------------------------------------------------------ */

static struct {
    pthread_mutex_t lock;
    pthread_cond_t  changed;
    bool            armed;
    unsigned        generation;   /* bumped by every arm/disarm */
    struct timespec deadline;     /* CLOCK_MONOTONIC */
    double          seconds;
    char            what[200];
    void          (*on_expiry)(void *);
    void           *arg;
} dog = { .lock = PTHREAD_MUTEX_INITIALIZER };

static struct timespec mono_after(double seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long long ns = (long long)ts.tv_nsec + (long long)(seconds * 1e9);
    ts.tv_sec += (time_t)(ns / 1000000000LL);
    ts.tv_nsec = (long)(ns % 1000000000LL);
    return ts;
}

static void *watchdog_main(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&dog.lock);
    for (;;) {
        while (!dog.armed) pthread_cond_wait(&dog.changed, &dog.lock);
        unsigned gen = dog.generation;
        int rc = 0;
        while (dog.armed && dog.generation == gen && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&dog.changed, &dog.lock, &dog.deadline);
        if (!dog.armed || dog.generation != gen) continue;
        /* Expired: report, then try to free the main thread. */
        fprintf(stderr, "\nipcbench: watchdog: %s made no progress for %.0f s: killing its peers\n",
                dog.what, dog.seconds);
        void (*fn)(void *) = dog.on_expiry;
        void *arg = dog.arg;
        pthread_mutex_unlock(&dog.lock);
        if (fn) fn(arg);
        pthread_mutex_lock(&dog.lock);
        struct timespec grace = mono_after(10);
        rc = 0;
        while (dog.armed && dog.generation == gen && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&dog.changed, &dog.lock, &grace);
        if (dog.armed && dog.generation == gen) {
            fprintf(stderr, "ipcbench: watchdog: %s is still stuck: giving up (exit 3)\n", dog.what);
            _exit(3);
        }
    }
    return NULL;
}

void bench_watchdog_start(void)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&dog.changed, &ca);
    pthread_condattr_destroy(&ca);

    /* The new thread inherits our signal mask: block everything for it. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t t;
    int err = pthread_create(&t, NULL, watchdog_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err) {
        fprintf(stderr, "ipcbench: no watchdog (pthread_create: %s): a hung mechanism will hang the run\n",
                strerror(err));
        return;
    }
    pthread_detach(t);
}

void bench_watchdog_arm(double seconds, const char *what, void (*on_expiry)(void *), void *arg)
{
    pthread_mutex_lock(&dog.lock);
    dog.armed = true;
    dog.generation++;
    dog.seconds = seconds;
    dog.deadline = mono_after(seconds);
    snprintf(dog.what, sizeof dog.what, "%s", what);
    dog.on_expiry = on_expiry;
    dog.arg = arg;
    pthread_cond_signal(&dog.changed);
    pthread_mutex_unlock(&dog.lock);
}

void bench_watchdog_disarm(void)
{
    pthread_mutex_lock(&dog.lock);
    dog.armed = false;
    dog.generation++;
    pthread_cond_signal(&dog.changed);
    pthread_mutex_unlock(&dog.lock);
}
