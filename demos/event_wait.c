/*
 * event_wait.c — an event: set, clear, wait, between threads and processes.
 *
 * An event is a flag, not a queue.  set() raises it and wakes EVERY waiter;
 * clear() lowers it; wait() returns at once while it is up and blocks while
 * it is down.  Nothing is consumed: ten waiters all see one set(), whereas
 * one message in a queue wakes exactly one receiver.
 *
 * The event object (mechanisms/include/ipcplay/events/event.h) is one 32-bit word in shared
 * memory — the flag plus a generation count — and waiters sleep on it with
 * futex(2), so it works between threads and between fork()ed processes
 * alike, with no lock on the waiting side.
 *
 *   part 1  the seed's asyncio example with a thread as the task: the task
 *           waits, the main thread sets the event after 200 ms, the task
 *           prints "Event received!" and clears it; a second wait with a
 *           100 ms timeout then times out, because the flag is down again.
 *   part 2  a starting gun: three child processes wait on one event, the
 *           parent sets it once, and all three wake.
 *
 * (asyncio.Event runs coroutines on ONE thread that take turns at each
 * await; C has no coroutines, so the task is a thread here.  The event_loop
 * demo shows the one-thread way: one loop serving many channels.)
 *
 * Mirrors: seed 002 §4.1 (asyncio.Event: handle_event waits, main sets it
 * after asyncio.sleep(1), the handler prints and clears).
 *
 * Usage: event_wait [--help]
 */
#define _GNU_SOURCE
#include "demo.h"
#include "events/event.h"

#include <pthread.h>

enum { RUNNERS = 3 };

static void *handle_event(void *arg)
{
    ipc_event_obj *ev = arg;
    printf("  task: waiting for the event\n");
    demo_ok(ipc_event_wait(ev, -1), "ipc_event_wait");
    printf("  task: Event received!\n");
    demo_ok(ipc_event_clear(ev), "ipc_event_clear");
    printf("  task: cleared it\n");
    return NULL;
}

static void part1_threads(void)
{
    printf("part 1: a task waits, main sets the event after 200 ms\n");
    ipc_event_obj *ev;
    demo_ok(ipc_event_open(&ev), "ipc_event_open");
    pthread_t task;
    demo_pthread(pthread_create(&task, NULL, handle_event, ev), "pthread_create");
    demo_sleep_ms(200); /* asyncio.sleep(1) */
    printf("main: set()\n");
    demo_ok(ipc_event_set(ev), "ipc_event_set");
    demo_pthread(pthread_join(task, NULL), "pthread_join");

    int rc = ipc_event_wait(ev, 100);
    printf("main: is_set() = %d; wait(100 ms) -> %s\n", demo_ok(ipc_event_is_set(ev), "is_set"),
           rc == IPC_OK ? "set" : rc == IPC_ETIMEDOUT ? "timed out (IPC_ETIMEDOUT): nobody set it again" : ipc_strerror(rc));
    ipc_event_free(ev);
    if (rc != IPC_ETIMEDOUT) exit(1);
}

static void part2_processes(void)
{
    printf("\npart 2: %d processes wait on one event; one set() wakes them all\n", RUNNERS);
    ipc_event_obj *gun;
    demo_ok(ipc_event_open(&gun), "ipc_event_open");
    pid_t runners[RUNNERS];
    for (int i = 0; i < RUNNERS; i++) {
        runners[i] = demo_fork();
        if (runners[i] == 0) {
            printf("  runner %d (pid %d): on the line, waiting\n", i, (int)getpid());
            demo_ok(ipc_event_wait(gun, 5000), "runner: ipc_event_wait");
            printf("  runner %d: go!\n", i);
            ipc_event_free(gun);
            _exit(0);
        }
    }
    demo_sleep_ms(200); /* let them reach the line; a late one just sees the flag up */
    printf("main: set() once\n");
    demo_ok(ipc_event_set(gun), "ipc_event_set");
    for (int i = 0; i < RUNNERS; i++) demo_reap(runners[i], "runner");
    printf("main: all %d runners started on one set(); the flag is still up (is_set() = %d)\n", RUNNERS,
           demo_ok(ipc_event_is_set(gun), "is_set"));
    ipc_event_free(gun);
}

int main(int argc, char **argv)
{
    demo_start(argc, argv,
               "usage: event_wait\n"
               "Event set/clear/wait: a thread waits for main's set() and clears it (the\n"
               "asyncio.Event seed); then three processes start on one set().\n");
    part1_threads();
    part2_processes();
    printf("done\n");
    return 0;
}
