/*
 * sem_sysv.c — System V semaphores, and SEM_UNDO when a holder dies.
 *
 * The older API (svipc(7), semget(2), semop(2)): a semaphore SET identified
 * by a key, living in the kernel until IPC_RMID (ipcs -s lists them).  One
 * semop() call changes several semaphores of a set atomically, and each
 * operation may carry SEM_UNDO: the kernel remembers the adjustment and
 * reverses it when the process exits — however it exits, SIGKILL included.
 * That is what a POSIX semaphore cannot do: a process killed while holding
 * a POSIX semaphore leaves it taken for ever.
 *
 * The demo uses one set of two semaphores, both started at 1 (a lock each):
 *   1. a child takes semaphore 0 WITHOUT SEM_UNDO and is SIGKILLed while
 *      holding it: the parent's semtimedop() waits in vain (EAGAIN after
 *      300 ms) — the lock is lost for good;
 *   2. a child takes semaphore 1 WITH SEM_UNDO and is SIGKILLed: the kernel
 *      gives it back and the parent gets it at once;
 *   3. semctl(IPC_RMID) removes the set (no name left behind).
 *
 * Mirrors: the "a worker died holding the lock" question every course on
 * multiprocessing.Lock meets.  TLPI chapter 47.
 *
 * Usage: sem_sysv [--help]
 */
#define _GNU_SOURCE
#include "demo.h"

#include <signal.h>
#include <sys/ipc.h>
#include <sys/sem.h>

/* The caller must define it (semctl(2)): glibc does not. */
union semun {
    int              val;
    struct semid_ds *buf;
    unsigned short  *array;
};

/* Take semaphore `num` (wait for it to be >= 1, subtract 1), giving up
 * after timeout_ms.  Returns 1 if taken, 0 on timeout. */
static int take(int semid, unsigned short num, short flags, int timeout_ms)
{
    struct sembuf op = { .sem_num = num, .sem_op = -1, .sem_flg = flags };
    struct timespec t = { .tv_sec = timeout_ms / 1000, .tv_nsec = (timeout_ms % 1000) * 1000000L };
    for (;;) {
        if (semtimedop(semid, &op, 1, &t) == 0) return 1;
        if (errno == EAGAIN) return 0;
        if (errno != EINTR) demo_sys(-1, "semtimedop");
        /* EINTR: retry (a demo can afford restarting the timeout) */
    }
}

/* Fork a child that takes semaphore `num` (with `flags`), tells the parent
 * through a pipe, and waits to be killed; the parent kills it. */
static void die_holding(int semid, unsigned short num, short flags)
{
    int ready[2];
    demo_sys(pipe(ready), "pipe");
    pid_t kid = demo_fork();
    if (kid == 0) {
        close(ready[0]);
        if (!take(semid, num, flags, 2000)) _exit(3);
        if (write(ready[1], "x", 1) != 1) _exit(4);
        pause(); /* hold it until SIGKILL */
        _exit(5);
    }
    close(ready[1]);
    char c;
    if (read(ready[0], &c, 1) != 1) {
        fprintf(stderr, "the child could not take semaphore %u\n", num);
        exit(1);
    }
    close(ready[0]);
    demo_sys(kill(kid, SIGKILL), "kill");
    int status;
    while (waitpid(kid, &status, 0) == -1)
        if (errno != EINTR) demo_sys(-1, "waitpid");
    printf("   child %d took semaphore %u%s and was killed (%s)\n", (int)kid, num,
           flags & SEM_UNDO ? " with SEM_UNDO" : " without SEM_UNDO",
           WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "exited?");
}

int main(int argc, char **argv)
{
    demo_start(argc, argv,
               "usage: sem_sysv\n"
               "A child killed while holding a System V semaphore: without SEM_UNDO the\n"
               "semaphore stays taken; with SEM_UNDO the kernel gives it back.\n");

    int semid = demo_sys(semget(IPC_PRIVATE, 2, IPC_CREAT | 0600), "semget");
    unsigned short ones[2] = { 1, 1 };
    demo_sys(semctl(semid, 0, SETALL, (union semun){ .array = ones }), "semctl(SETALL)");
    printf("semget(IPC_PRIVATE, 2): set %d, both semaphores at 1 (see it: ipcs -s)\n", semid);

    printf("1. without SEM_UNDO\n");
    die_holding(semid, 0, 0);
    int got0 = take(semid, 0, 0, 300);
    printf("   parent: semtimedop on semaphore 0: %s\n",
           got0 ? "taken" : "EAGAIN after 300 ms: the dead child still holds it");

    printf("2. with SEM_UNDO\n");
    die_holding(semid, 1, SEM_UNDO);
    int got1 = take(semid, 1, 0, 300);
    printf("   parent: semtimedop on semaphore 1: %s\n",
           got1 ? "taken at once: the kernel undid the dead child's -1" : "EAGAIN?!");

    printf("3. semctl(IPC_RMID)\n");
    demo_sys(semctl(semid, 0, IPC_RMID), "semctl(IPC_RMID)");
    int gone = semctl(semid, 0, GETVAL) == -1 && (errno == EINVAL || errno == EIDRM);
    printf("   set %d %s\n", semid, gone ? "removed" : "still there?!");

    if (got0 || !got1 || !gone) return 1;
    printf("lesson: only SEM_UNDO survives a holder's death; POSIX semaphores have no undo\n");
    return 0;
}
