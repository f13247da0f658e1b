/*
 * event_loop.c — one thread serving several channels and an event.
 *
 * Event-driven programming: instead of one thread per input, blocked in its
 * own receive, a single loop asks the kernel "which of these is ready?" and
 * serves only those.  That is select(2)/poll(2)/epoll(7) — and Python's
 * selectors module and the heart of asyncio.  ipcplay's ipc_poller
 * (mechanisms/include/ipcplay/events/poll.h) is such a loop over epoll: add channels that
 * have a pollfd (IPC_CAP_POLL) and plain fds, then wait.
 *
 * Here the loop watches:
 *   - one channel per producer process, each of a different mechanism:
 *     pipe, socketpair, fifo, unix, posix_mq and tcp (those of the list that
 *     are built in, have a pollfd and work across fork); each producer sends
 *     five readings at its own pace and then "bye";
 *   - an event object's pollfd: a "report" button that another process
 *     presses (ipc_event_set) half-way; the loop prints a status line and
 *     clears it.
 *
 * The drain rule of poll.h is the one thing to copy: after "ready", receive
 * with timeout 0 until IPC_EEMPTY, because stream mechanisms may already
 * hold parsed messages in their buffer while their fd is empty.
 * (ipc_poll() is the one-shot form of the same wait; a loop keeps a poller.)
 *
 * Mirrors: seed 002 §4 (event-driven programming "for applications that
 * must respond to several input events") and §4.1 (asyncio.Event).
 *
 * Usage: event_loop [--help]
 */
#define _GNU_SOURCE
#include "demo.h"
#include "events/event.h"
#include "events/poll.h"

#include <stdbool.h>

enum { MAX_SOURCES = 6, READINGS = 5 };

typedef struct source {
    const char  *mech;
    ipc_channel *ch;
    pid_t        pid;
    int          got;
    bool         done;
} source;

static void producer(source *s, int index)
{
    for (int i = 1; i <= READINGS; i++) {
        demo_sleep_ms(20 + 15 * index); /* each at its own pace */
        char msg[32];
        int n = snprintf(msg, sizeof msg, "reading %d", i);
        demo_ok(ipc_send(s->ch, msg, (size_t)n, 0, 1000), "producer: ipc_send");
    }
    demo_ok(ipc_send(s->ch, "bye", 3, 0, 1000), "producer: ipc_send(bye)");
}

/* Open one channel per mechanism of the list that is built in and can be
 * polled across fork(); returns how many. */
static int open_sources(source *src)
{
    static const char *const wanted[] = { "pipe", "socketpair", "fifo", "unix", "posix_mq", "tcp" };
    int n = 0;
    for (size_t i = 0; i < sizeof wanted / sizeof wanted[0] && n < MAX_SOURCES; i++) {
        const ipc_mechanism *m = ipc_find(wanted[i]);
        unsigned need = IPC_CAP_POLL | IPC_CAP_FORK;
        if (!m || (m->caps & need) != need || m->max_msg_limit < 32) continue;
        ipc_config cfg = { .max_msg = 32 };
        demo_ok(ipc_open(m->name, &cfg, &src[n].ch), m->name);
        src[n].mech = m->name;
        n++;
    }
    return n;
}

int main(int argc, char **argv)
{
    demo_start(argc, argv,
               "usage: event_loop\n"
               "One loop (ipc_poller over epoll) serves producer processes on different\n"
               "mechanisms plus an event's pollfd, draining each ready channel.\n");
    source src[MAX_SOURCES] = { 0 };
    int n = open_sources(src);
    ipc_event_obj *report;
    demo_ok(ipc_event_open(&report), "ipc_event_open");

    for (int i = 0; i < n; i++) {
        src[i].pid = demo_fork();
        if (src[i].pid == 0) {
            producer(&src[i], i);
            _exit(0);
        }
    }
    pid_t presser = demo_fork();
    if (presser == 0) {
        demo_sleep_ms(60);
        demo_ok(ipc_event_set(report), "ipc_event_set");
        _exit(0);
    }

    /* The poller belongs to this process: created after the forks. */
    ipc_poller *loop;
    demo_ok(ipc_poller_open(&loop), "ipc_poller_open");
    for (int i = 0; i < n; i++) demo_ok(ipc_poller_add(loop, src[i].ch, &src[i]), "ipc_poller_add");
    demo_ok(ipc_poller_add_fd(loop, ipc_event_pollfd(report), NULL), "ipc_poller_add_fd");
    printf("loop: one thread watching %d channels (", n);
    for (int i = 0; i < n; i++) printf("%s%s", i ? ", " : "", src[i].mech);
    printf(") and one event\n");

    int open_sources_left = n, wakeups = 0;
    while (open_sources_left > 0) {
        ipc_ready ready[MAX_SOURCES + 1];
        int k = demo_ok(ipc_poller_wait(loop, ready, MAX_SOURCES + 1, 5000), "ipc_poller_wait");
        wakeups++;
        for (int r = 0; r < k; r++) {
            if (!ready[r].ch) { /* the event's fd: someone pressed "report" */
                printf("loop: report requested:");
                for (int i = 0; i < n; i++) printf(" %s=%d", src[i].mech, src[i].got);
                printf("\n");
                demo_ok(ipc_event_clear(report), "ipc_event_clear");
                continue;
            }
            source *s = ready[r].user;
            char msg[32];
            size_t len;
            int rc;
            while ((rc = ipc_recv(s->ch, msg, sizeof msg, &len, NULL, 0)) == IPC_OK) { /* drain */
                if (len == 3 && memcmp(msg, "bye", 3) == 0) {
                    printf("loop: %-10s says bye\n", s->mech);
                    s->done = true;
                    open_sources_left--;
                    demo_ok(ipc_poller_remove(loop, s->ch), "ipc_poller_remove");
                    break;
                }
                s->got++;
                printf("loop: %-10s %.*s\n", s->mech, (int)len, msg);
            }
            if (rc != IPC_OK && rc != IPC_EEMPTY) demo_ok(rc, "ipc_recv");
        }
    }
    ipc_poller_free(loop);

    int total = 0;
    for (int i = 0; i < n; i++) {
        demo_reap(src[i].pid, src[i].mech);
        total += src[i].got;
        ipc_free(src[i].ch);
    }
    demo_reap(presser, "presser");
    ipc_event_free(report);
    printf("loop: %d readings from %d producers in %d wake-ups of one thread\n", total, n, wakeups);
    return total == n * READINGS ? 0 : 1;
}
