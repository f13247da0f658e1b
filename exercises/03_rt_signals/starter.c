/*
 * 03_rt_signals (starter: complete the TODOs) — standard signals merge; real-time signals
 * queue and carry a value.
 *
 * Chapter 4 of TUTORIAL.md, exercise 2.  A child notifies its parent of
 * 500 "messages" with one signal each.  With SIGUSR1 (the starter), signals
 * sent while one is pending merge and the parent counts fewer than 500.
 * With a real-time signal (SIGRTMIN) sent by sigqueue(), each one is queued
 * and carries an int (here: the message number), so the parent gets all 500
 * and can check their sum.
 *
 * The parent blocks the signal and takes it with sigwaitinfo(); the child
 * retries sigqueue() on EAGAIN (the queue of pending real-time signals is
 * limited by RLIMIT_SIGPENDING).  It prints PASS or FAIL.
 *
 *   make exercises && build/exercises/03_rt_signals/starter
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { MESSAGES = 500 };

/* TODO: choose a signal that queues (a real-time one) */
#define NOTIFY_SIG SIGUSR1

/* Send notification number i to pid; return 0 or -1. */
static int notify(pid_t pid, int i)
{
    /* TODO: send NOTIFY_SIG carrying i as its value (sigqueue), retrying on EAGAIN */
    (void)i; return kill(pid, NOTIFY_SIG);
}

int main(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, NOTIFY_SIG);
    if (sigprocmask(SIG_BLOCK, &set, NULL) == -1) { perror("sigprocmask"); return 1; }
    pid_t parent = getpid();

    pid_t child = fork();
    if (child == -1) { perror("fork"); return 1; }
    if (child == 0) {
        for (int i = 1; i <= MESSAGES; i++)
            if (notify(parent, i) == -1) { perror("notify"); _exit(1); }
        _exit(0);
    }

    long got = 0, sum = 0;
    struct timespec quiet = { 0, 300 * 1000000L }; /* stop after 300 ms without a signal */
    siginfo_t info;
    while (sigtimedwait(&set, &info, &quiet) == NOTIFY_SIG) {
        got++;
        sum += info.si_value.sival_int; /* 0 for a signal sent by kill() */
    }
    int status;
    waitpid(child, &status, 0);
    long want_sum = (long)MESSAGES * (MESSAGES + 1) / 2;
    printf("notifications received: %ld of %d, values sum to %ld (want %ld)\n", got, MESSAGES, sum, want_sum);
    int ok = got == MESSAGES && sum == want_sum && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    printf("%s\n", ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}
