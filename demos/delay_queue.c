/*
 * delay_queue.c — messages delivered no earlier than a due time.
 *
 * "Send this reminder in ten minutes", "retry this job in 30 s": a delay
 * queue holds each message until its due time and then releases it in due
 * order, whatever order it was sent in.  Task queues built on brokers
 * (Celery's countdown/eta, RQ's enqueue_in) offer it; Redis makes it with a
 * sorted set scored by due time.  ipc_redis_send_at (ipc_redis.h) puts a
 * message into the channel's sorted set; every receive first moves the due
 * messages into the queue (one Lua script, so it cannot race with another
 * receiver), and a receiver never sleeps past the earliest due time.
 *
 * The demo sends four reminders, out of order — due in 600, 200 and 400 ms,
 * and one plain message due now — then receives and prints when each one
 * arrived.  They come out in due order, none early.  Then it sends one due
 * in an hour and closes the channel: on close, pending delayed messages
 * become due at once, so the drain delivers it instead of losing it.
 *
 * The channel has no endpoint, so the library runs a private redis-server
 * on a Unix socket in a temporary directory for the length of the demo.
 *
 * Mirrors: seed 000 ("delay queueing" with Celery / RQ on a broker).
 *
 * Usage: delay_queue [--help]
 */
#define _GNU_SOURCE
#include "demo.h"
#include "brokers/ipc_redis.h"

int main(int argc, char **argv)
{
    demo_start(argc, argv,
               "usage: delay_queue\n"
               "Sends reminders due in 600, 200, 400 ms and one due now through a Redis\n"
               "delay queue; they arrive in due order and none early.\n");
    ipc_channel *ch;
    demo_ok(ipc_open("redis", NULL, &ch), "ipc_open(redis)");

    static const struct { long delay_ms; const char *text; } sends[] = {
        { 600, "reminder due in 600 ms" }, { 200, "reminder due in 200 ms" },
        { 400, "reminder due in 400 ms" }, { 0, "plain message, due now" },
    };
    enum { N = sizeof sends / sizeof sends[0] };
    int64_t t0 = ipc_redis_wall_ms();
    for (int i = 0; i < N; i++) {
        const char *t = sends[i].text;
        if (sends[i].delay_ms == 0)
            demo_ok(ipc_send(ch, t, strlen(t), 0, 1000), "ipc_send");
        else
            demo_ok(ipc_redis_send_at(ch, t, strlen(t), t0 + sends[i].delay_ms), "ipc_redis_send_at");
        printf("sent: %s\n", t);
    }

    long last_due = -1;
    int bad = 0;
    for (int i = 0; i < N; i++) {
        char msg[64];
        size_t len;
        demo_ok(ipc_recv(ch, msg, sizeof msg - 1, &len, NULL, 5000), "ipc_recv");
        msg[len] = '\0';
        long at = (long)(ipc_redis_wall_ms() - t0);
        long due = 0;
        for (int k = 0; k < N; k++)
            if (strcmp(sends[k].text, msg) == 0) due = sends[k].delay_ms;
        printf("at %4ld ms received: %s%s\n", at, msg, at < due ? "  (EARLY!)" : "");
        bad += at < due || due < last_due;
        last_due = due;
    }

    demo_ok(ipc_redis_send_at(ch, "due in an hour", 14, ipc_redis_wall_ms() + 3600 * 1000),
            "ipc_redis_send_at");
    printf("sent one more, due in an hour; now ipc_close()\n");
    demo_ok(ipc_close(ch), "ipc_close");
    char msg[64];
    size_t len;
    int rc, drained = 0;
    while ((rc = ipc_recv(ch, msg, sizeof msg, &len, NULL, 1000)) == IPC_OK) {
        printf("drained after close: %.*s (pending messages become due at close)\n", (int)len, msg);
        drained++;
    }
    bad += drained != 1;
    if (rc != IPC_ECLOSED) demo_ok(rc, "ipc_recv");
    printf("then: %s\n", ipc_strerror(rc));
    ipc_free(ch);
    return bad ? 1 : 0;
}
