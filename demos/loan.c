/*
 * loan.c — the copy a zero-copy loan saves: ipc_send/ipc_recv against
 * ipc_loan_reserve/commit and ipc_loan_peek/release (shm/loan.h) on the
 * shared-memory ring "shm_spsc", between a parent and a forked child.
 *
 * With ipc_send the sender builds the message in its own buffer and the
 * library copies it into a slot of the ring; with ipc_recv the library
 * copies it out of the slot into the receiver's buffer.  Two copies of
 * every byte, on top of the work the two programs do anyway (here: the
 * sender writes every 8-byte word, the receiver adds them all up and checks
 * the sum).  A loan lends the slot itself: the sender builds the message in
 * the ring, the receiver reads it there, and the copies are gone.  That is
 * the idea of iceoryx's loan and of Aeron's claim/commit; the price is that
 * the slot is busy while the program works in it, and that a receiver
 * reads memory the sender can write (check what you read).
 *
 * For 64 KiB and 1 MiB messages the demo times turns of messages both ways,
 * interleaved (copy, loan, copy, loan, ...) so that a busy machine slows
 * both alike, and prints the median over the turns of the time per message
 * (the same statistic on both sides), the ratio copy / loan, and what one
 * memcpy of that size costs here for scale.  Figures are noisy on a shared
 * machine: compare within one run.
 *
 * Usage: loan [--help]
 */
#define _GNU_SOURCE
#include "demo.h"
#include "shm/loan.h"

#include <stdbool.h>
#include <stdint.h>

enum { TURNS = 7, CAPACITY = 8 };

static const struct { size_t size; int per_turn; } sizes[] = {
    { 64 * 1024, 200 },
    { 1024 * 1024, 24 },
};

/* The work both ways do: write every word of message i, sum every word. */
static void build(void *p, size_t size, uint64_t i)
{
    uint64_t *w = p;
    for (size_t k = 0; k < size / 8; k++) w[k] = i + k;
}

static uint64_t sum(const void *p, size_t size)
{
    const uint64_t *w = p;
    uint64_t s = 0;
    for (size_t k = 0; k < size / 8; k++) s += w[k];
    return s;
}

static uint64_t expected_sum(size_t size, uint64_t i)
{
    uint64_t n = size / 8;
    return n * i + n * (n - 1) / 2;
}

static void put_byte(int fd, char c) { demo_sys((int)write(fd, &c, 1), "write(pipe)"); }

static char get_byte(int fd)
{
    char c;
    ssize_t r;
    while ((r = read(fd, &c, 1)) == -1 && errno == EINTR) {}
    if (r != 1) demo_sys(-1, "read(pipe)");
    return c;
}

/* The child: for each turn, the mode ('c' copy, 'l' loan, 'q' quit), then
 * `count` messages of `size` bytes; answers 'r' (ready) and 'd' (done, sums
 * right) or 'x'. */
static void receiver(ipc_channel *ch, int in, int out, size_t size, int count)
{
    void *buf = malloc(size);
    if (!buf) demo_sys(-1, "malloc");
    for (uint64_t seq = 0;;) {
        char mode = get_byte(in);
        if (mode == 'q') break;
        put_byte(out, 'r');
        bool ok = true;
        for (int i = 0; i < count; i++, seq++) {
            if (mode == 'c') {
                size_t len = 0;
                demo_ok(ipc_recv(ch, buf, size, &len, NULL, -1), "ipc_recv");
                ok &= len == size && sum(buf, len) == expected_sum(size, seq);
            } else {
                ipc_loan l = { 0 };
                demo_ok(ipc_loan_peek(ch, &l, -1), "ipc_loan_peek");
                ok &= l.len == size && sum(l.data, l.len) == expected_sum(size, seq);
                demo_ok(ipc_loan_release(ch, &l), "ipc_loan_release");
            }
        }
        put_byte(out, ok ? 'd' : 'x');
    }
    free(buf);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double median_ns(int64_t *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_i64);
    return n % 2 ? (double)v[n / 2] : (double)(v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One size: fork the receiver, time TURNS turns each way. */
static void measure(size_t size, int count)
{
    ipc_channel *ch;
    demo_ok(ipc_open("shm_spsc", &(ipc_config){ .max_msg = size, .capacity = CAPACITY }, &ch), "ipc_open");
    int to_child[2], from_child[2];
    demo_sys(pipe(to_child), "pipe");
    demo_sys(pipe(from_child), "pipe");
    pid_t pid = demo_fork();
    if (pid == 0) {
        close(to_child[1]);
        close(from_child[0]);
        receiver(ch, to_child[0], from_child[1], size, count);
        ipc_free(ch);
        _exit(0);
    }
    close(to_child[0]);
    close(from_child[1]);

    void *buf = malloc(size), *copy = malloc(size);
    if (!buf || !copy) demo_sys(-1, "malloc");
    int64_t t_copy[TURNS], t_loan[TURNS], t_memcpy[TURNS];
    uint64_t seq = 0;
    for (int turn = 0; turn < TURNS; turn++) {
        for (int loan = 0; loan <= 1; loan++) {
            put_byte(to_child[1], loan ? 'l' : 'c');
            if (get_byte(from_child[0]) != 'r') demo_ok(IPC_EINVAL, "receiver not ready");
            int64_t t0 = ipc_now_ns();
            for (int i = 0; i < count; i++, seq++) {
                if (!loan) {
                    build(buf, size, seq);
                    demo_ok(ipc_send(ch, buf, size, 0, -1), "ipc_send");
                } else {
                    ipc_loan l = { 0 };
                    demo_ok(ipc_loan_reserve(ch, size, &l, -1), "ipc_loan_reserve");
                    build(l.data, size, seq);
                    demo_ok(ipc_loan_commit(ch, &l, size, 0), "ipc_loan_commit");
                }
            }
            if (get_byte(from_child[0]) != 'd') {
                fprintf(stderr, "the receiver found a wrong sum\n");
                exit(1);
            }
            (loan ? t_loan : t_copy)[turn] = (ipc_now_ns() - t0) / count;
        }
        /* For scale: one plain memcpy of the message, the cost of each of
         * the two copies ipc_send + ipc_recv make. */
        int64_t t0 = ipc_now_ns();
        for (int i = 0; i < count; i++) {
            memcpy(copy, buf, size);
            __asm__ __volatile__("" : : "r"(copy) : "memory"); /* keep the copy */
        }
        t_memcpy[turn] = (ipc_now_ns() - t0) / count;
    }
    put_byte(to_child[1], 'q');
    demo_reap(pid, "receiver");
    close(to_child[1]);
    close(from_child[0]);
    free(buf);
    free(copy);
    ipc_free(ch);

    double c = median_ns(t_copy, TURNS), l = median_ns(t_loan, TURNS), m = median_ns(t_memcpy, TURNS);
    printf("%5zu KiB  %10.1f  %10.1f  %8.1f   copy / loan = %.2f  (the loan saves %.1f us a message)\n",
           size / 1024, c / 1000, l / 1000, m / 1000, c / l, (c - l) / 1000);
}

int main(int argc, char **argv)
{
    demo_start(argc, argv,
               "usage: loan [--help]\n"
               "Sends 64 KiB and 1 MiB messages over shm_spsc to a forked child, with\n"
               "ipc_send/ipc_recv (two copies) and with loans (none), and prints the\n"
               "median time per message of each and their ratio.\n");
    printf("shm_spsc between two processes, unpinned; median over %d turns of the time\n"
           "per message (the sender writes every word, the receiver sums them):\n\n", TURNS);
    printf("   size   copy (us)   loan (us)  memcpy (us)\n");
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) measure(sizes[i].size, sizes[i].per_turn);
    double load[3];
    if (getloadavg(load, 3) == 3) printf("\nload average while measuring: %.2f %.2f %.2f\n", load[0], load[1], load[2]);
    printf("every message arrived with the right sum, both ways\n");
    return 0;
}
