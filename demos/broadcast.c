/*
 * broadcast.c — publish/subscribe through a broker: every subscriber gets
 * every message.
 *
 * A queue hands each message to ONE receiver: that is what you want for
 * jobs.  Broadcast hands each message to EVERY subscriber: news, price
 * ticks, cache invalidations, "configuration changed".  Redis does it with
 * PUBLISH and SUBSCRIBE: the server forwards a published message to every
 * connection subscribed to its topic at that moment, and stores nothing.
 * mechanisms/include/ipcplay/brokers/ipc_redis.h gives it as ipc_redis_publish and
 * ipc_redis_subscribe (each subscriber on its own connection).
 *
 * The channel opened without an endpoint runs on a private redis-server
 * that the library starts on a Unix socket in a temporary directory and
 * stops at the end: nothing to set up, nothing touches the network.
 *
 *   part 1  a message published before anyone subscribed reaches nobody
 *           (PUBLISH answers 0 receivers): pub/sub keeps no history;
 *   part 2  three subscriber processes subscribe, tell the parent they are
 *           ready, and the parent publishes three headlines: each
 *           subscriber prints all three;
 *   part 3  the same three messages sent on the channel as a QUEUE, with
 *           three receiver processes: each message is taken by exactly one;
 *   part 4  ZeroMQ's PUB/SUB (ipc_zmq.h), which has no server at all: the
 *           publisher binds a socket, subscribers connect.  Connecting takes
 *           a moment and nothing confirms it, so a publisher that starts at
 *           once loses the first messages — the "slow joiner".  The demo
 *           publishes "ping 1", "ping 2" ... every 10 ms until the subscriber
 *           reports (on a side queue) the first one it got: the ones before
 *           it were lost.
 *
 * Mirrors: seed 000 ("broadcasting" with Celery / ZeroMQ / Redis) and the
 * seed 002 FAQ (message queues with Redis).
 *
 * Usage: broadcast [--help]
 */
#define _GNU_SOURCE
#include "demo.h"
#include "brokers/ipc_redis.h"
#include "brokers/ipc_zmq.h"

enum { SUBSCRIBERS = 3, HEADLINES = 3 };

/* A subscriber process: subscribe, say "ready" on the ready queue, print
 * HEADLINES messages, exit. */
static void subscriber(int id, ipc_channel *ch, ipc_channel *ready)
{
    ipc_redis_sub *sub;
    demo_ok(ipc_redis_subscribe(ch, "news", &sub), "ipc_redis_subscribe");
    demo_ok(ipc_send(ready, "", 0, 0, 5000), "ipc_send(ready)");
    for (int i = 0; i < HEADLINES; i++) {
        char msg[64];
        size_t len;
        demo_ok(ipc_redis_sub_recv(sub, msg, sizeof msg, &len, 5000), "ipc_redis_sub_recv");
        printf("  subscriber %d (pid %d) got \"%.*s\"\n", id, (int)getpid(), (int)len, msg);
    }
    ipc_redis_sub_free(sub);
}

/* A receiver process for part 3: take messages from the queue until it is
 * closed; report how many it took as its exit status. */
static int receiver(int id, ipc_channel *ch)
{
    int taken = 0;
    for (;;) {
        char msg[64];
        size_t len;
        int rc = ipc_recv(ch, msg, sizeof msg, &len, NULL, 5000);
        if (rc == IPC_ECLOSED) return taken;
        demo_ok(rc, "ipc_recv");
        printf("  receiver %d (pid %d) took \"%.*s\"\n", id, (int)getpid(), (int)len, msg);
        taken++;
    }
}

/* Part 4's subscriber: report the number of the first ping that arrives,
 * then print the headlines (ignoring any pings still in flight). */
static void zmq_subscriber(const char *endpoint, ipc_channel *ready)
{
    ipc_zmq_sub *sub;
    demo_ok(ipc_zmq_sub_open(endpoint, "news", &sub), "ipc_zmq_sub_open");
    int headlines = 0, reported = 0;
    while (headlines < HEADLINES) {
        char msg[64];
        size_t len;
        demo_ok(ipc_zmq_sub_recv(sub, msg, sizeof msg, &len, 5000), "ipc_zmq_sub_recv");
        if (len > 5 && memcmp(msg, "ping ", 5) == 0) { /* report the number of the first one */
            if (!reported++) demo_ok(ipc_send(ready, msg + 5, len - 5, 0, 5000), "ipc_send(ready)");
            continue;
        }
        printf("  zmq subscriber (pid %d) got \"%.*s\"\n", (int)getpid(), (int)len, msg);
        headlines++;
    }
    ipc_zmq_sub_free(sub);
}

static void part4_zmq(ipc_channel *ready)
{
    printf("\npart 4: ZeroMQ PUB/SUB, no server: the slow joiner\n");
    /* Fork first: a ZeroMQ context must not be carried across fork(), so
     * the publisher is made afterwards and its address sent to the child. */
    ipc_channel *address;
    demo_ok(ipc_open("procq", NULL, &address), "ipc_open(procq)");
    pid_t child = demo_fork();
    if (child == 0) {
        char endpoint[256];
        size_t len;
        demo_ok(ipc_recv(address, endpoint, sizeof endpoint - 1, &len, NULL, 5000), "ipc_recv(endpoint)");
        endpoint[len] = '\0';
        zmq_subscriber(endpoint, ready);
        _exit(0);
    }
    ipc_zmq_pub *pub;
    demo_ok(ipc_zmq_pub_open(NULL, &pub), "ipc_zmq_pub_open");
    const char *ep = ipc_zmq_pub_endpoint(pub);
    printf("main: publisher bound at %s\n", ep);
    demo_ok(ipc_send(address, ep, strlen(ep), 0, 5000), "ipc_send(endpoint)");
    int pings = 0, rc;
    char first[16];
    size_t len;
    do { /* publish "ping N" every 10 ms until the subscriber reports the first it got */
        char ping[32];
        int n = snprintf(ping, sizeof ping, "ping %d", ++pings);
        demo_ok(ipc_zmq_publish(pub, "news", ping, (size_t)n), "ipc_zmq_publish");
        rc = ipc_recv(ready, first, sizeof first - 1, &len, NULL, 10);
    } while (rc == IPC_EEMPTY && pings < 500);
    demo_ok(rc, "ipc_recv(first ping)");
    first[len] = '\0';
    printf("main: the first ping the subscriber saw was ping %s: %d published before were lost\n"
           "      (its connection was not up yet — the slow joiner)\n", first, atoi(first) - 1);
    for (int h = 1; h <= HEADLINES; h++) {
        char msg[64];
        int n = snprintf(msg, sizeof msg, "zmq headline %d", h);
        demo_ok(ipc_zmq_publish(pub, "news", msg, (size_t)n), "ipc_zmq_publish");
    }
    demo_reap(child, "zmq subscriber");
    printf("main: the subscriber got every headline sent after it had joined\n");
    ipc_zmq_pub_free(pub);
    ipc_free(address);
}

int main(int argc, char **argv)
{
    demo_start(argc, argv,
               "usage: broadcast\n"
               "Redis publish/subscribe: every subscriber process gets every headline; the\n"
               "same messages sent as a queue go to one receiver each; ZeroMQ PUB/SUB and its\n"
               "slow joiner.\n");
    ipc_channel *ch, *ready;
    demo_ok(ipc_open("redis", NULL, &ch), "ipc_open(redis)");
    demo_ok(ipc_open("procq", NULL, &ready), "ipc_open(procq)");
    printf("a private redis-server is running for this demo\n");

    printf("part 1: publish before anyone subscribed\n");
    int n = demo_ok(ipc_redis_publish(ch, "news", "too early", 9), "ipc_redis_publish");
    printf("  publish \"too early\": %d receivers — pub/sub keeps nothing for later\n", n);

    printf("\npart 2: %d subscriber processes, %d headlines published once each\n", SUBSCRIBERS, HEADLINES);
    pid_t pids[SUBSCRIBERS];
    for (int i = 0; i < SUBSCRIBERS; i++) {
        pids[i] = demo_fork();
        if (pids[i] == 0) {
            subscriber(i, ch, ready);
            _exit(0);
        }
    }
    for (int i = 0; i < SUBSCRIBERS; i++) { /* wait until all are subscribed */
        size_t len;
        demo_ok(ipc_recv(ready, NULL, 0, &len, NULL, 10000), "ipc_recv(ready)");
    }
    int reached = 0;
    for (int h = 1; h <= HEADLINES; h++) {
        char msg[64];
        int len = snprintf(msg, sizeof msg, "headline %d", h);
        n = demo_ok(ipc_redis_publish(ch, "news", msg, (size_t)len), "ipc_redis_publish");
        printf("main: published \"%s\" to %d subscribers\n", msg, n);
        reached += n;
    }
    for (int i = 0; i < SUBSCRIBERS; i++) demo_reap(pids[i], "subscriber");
    printf("main: %d deliveries for %d publishes\n", reached, HEADLINES);

    printf("\npart 3: the same %d messages as a queue, %d receiver processes\n", HEADLINES, SUBSCRIBERS);
    for (int i = 0; i < SUBSCRIBERS; i++) {
        pids[i] = demo_fork();
        if (pids[i] == 0) _exit(receiver(i, ch));
    }
    for (int h = 1; h <= HEADLINES; h++) {
        char msg[64];
        int len = snprintf(msg, sizeof msg, "job %d", h);
        demo_ok(ipc_send(ch, msg, (size_t)len, 0, 5000), "ipc_send");
    }
    demo_ok(ipc_close(ch), "ipc_close");
    int taken = 0;
    for (int i = 0; i < SUBSCRIBERS; i++) {
        int status;
        while (waitpid(pids[i], &status, 0) == -1)
            if (errno != EINTR) demo_sys(-1, "waitpid");
        if (!WIFEXITED(status)) return 1;
        taken += WEXITSTATUS(status);
    }
    printf("main: %d messages taken in all: each by exactly one receiver\n", taken);
    ipc_free(ch);

    part4_zmq(ready);
    ipc_free(ready);
    return reached == SUBSCRIBERS * HEADLINES && taken == HEADLINES ? 0 : 1;
}
