/*
 * batch.c — the batched paths of the brokers and of the byte streams,
 * measured beside their one-message-at-a-time rows in the same run.
 *
 * A broker channel pays a round trip per call: amqp waits for a publisher
 * confirm on every send and asks basic.get for every receive; redis runs
 * one Lua script per send and per receive.  The batched path is what a
 * real producer or worker does instead: publish BATCH (256) messages and wait for
 * one confirm for them all (amqp), or push them with one script (redis:
 * one LPUSH of the whole batch); receive the first message the ordinary way,
 * then up to BATCH-1 more in one round trip (pipelined basic.get / one pop
 * script).  A batch holds at most ~1 MiB: 256 messages of 100 bytes, 16 of
 * 64 KiB.  The guarantees stay: the
 * broker holds every message of a batch before the batch's send returns,
 * and a message is acknowledged only once copied out.
 *
 * The bench_chan below buffers sends until BATCH are waiting or the
 * workload calls flush (at the end of each turn's quota), and hands out
 * received messages from the last batch.  One producer and one consumer
 * per channel (the buffers are not shared): registered for 1x1 throughput
 * only, and never for latency (a ping-pong would wait on a buffered
 * message).  "batch:amqp" is compared with "amqp", "batch:redis" with
 * "redis", by the report's usual throughput columns.
 *
 * The byte streams (pipe, fifo, socketpair, unix, tcp; issue 13 item 4):
 * "batch:pipe@adaptive" sends each batch of 256 with ipc_stream_send_batch
 * (as many whole frames per writev as the kernel takes) and receives with
 * plain ipc_recv, since one read already takes every frame the kernel
 * holds; both ends wait ADAPTIVE, the "batching and ADAPTIVE"
 * target, against the raw one-read-per-message loop (raw:pipe, ...).
 */
#include "bench.h"
#include "pipes/stream_info.h"
/* Each broker's rows exist only in a build with it (make BROKERS=...). */
#ifdef IPC_WITH_AMQP
#include "brokers/ipc_amqp.h"
#endif
#ifdef IPC_WITH_REDIS
#include "brokers/ipc_redis.h"
#endif

#include <stdlib.h>
#include <string.h>

#define BATCH       256
#define BATCH_BYTES (1u << 20) /* and at most ~1 MiB per batch: 16 of 64 KiB */

typedef struct batch_ops {
    const char *mechanism;
    int (*send_batch)(ipc_channel *ch, const void *const *msgs, const size_t *lens, size_t n);
    int (*recv_batch)(ipc_channel *ch, void *buf, size_t each, size_t *lens, size_t max, int timeout_ms);
} batch_ops;

typedef struct batch_chan {
    bench_chan       base;
    const batch_ops *ops;
    ipc_channel     *ch;
    size_t           each;              /* bytes per slot: the largest message      */
    size_t           batch;             /* messages per batch: BATCH, fewer if large */
    /* producer side */
    unsigned char   *out;
    const void      *msgs[BATCH];
    size_t           out_lens[BATCH], out_n;
    /* consumer side */
    unsigned char   *in;
    size_t           in_lens[BATCH], in_n, in_next;
} batch_chan;

static int failed(const char *call, int rc)
{
    return bench_fail("%s: %s (%s)", call, ipc_strerror(rc), ipc_last_error());
}

static int bt_flush(bench_chan *c)
{
    batch_chan *b = (batch_chan *)c;
    if (b->out_n == 0) return 0;
    int rc = b->ops->send_batch(b->ch, b->msgs, b->out_lens, b->out_n);
    if (rc != (int)b->out_n) return failed("send_batch", rc < 0 ? rc : IPC_ESYS);
    b->out_n = 0;
    return 0;
}

static int bt_send(bench_chan *c, const void *msg, size_t len)
{
    batch_chan *b = (batch_chan *)c;
    memcpy(b->out + b->out_n * b->each, msg, len);
    b->msgs[b->out_n] = b->out + b->out_n * b->each;
    b->out_lens[b->out_n++] = len;
    /* a control message (STOP) is never held back */
    if (b->out_n == b->batch || (len && ((const unsigned char *)msg)[0] != MSG_DATA)) return bt_flush(c);
    return 0;
}

static int bt_recv(bench_chan *c, void *buf, size_t cap, size_t *len)
{
    batch_chan *b = (batch_chan *)c;
    if (b->in_next == b->in_n) {
        int rc = b->ops->recv_batch(b->ch, b->in, b->each, b->in_lens, b->batch, -1);
        if (rc < 1) return failed("recv_batch", rc < 0 ? rc : IPC_ESYS);
        b->in_n = (size_t)rc;
        b->in_next = 0;
    }
    size_t n = b->in_lens[b->in_next];
    if (n > cap) return bench_fail("recv_batch: a %zu-byte message for a %zu-byte buffer", n, cap);
    memcpy(buf, b->in + b->in_next * b->each, n);
    *len = n;
    b->in_next++;
    return 0;
}

static void bt_shutdown(bench_chan *c) { ipc_close(((batch_chan *)c)->ch); }

static void bt_free(bench_chan *c)
{
    batch_chan *b = (batch_chan *)c;
    ipc_free(b->ch);
    free(b->out);
    free(b->in);
    free(b);
}

/* A stream batch: every message sent (blocking), or the error. */
static int stream_send_batch(ipc_channel *ch, const void *const *msgs, const size_t *lens, size_t n)
{
    size_t sent = 0;
    int rc = ipc_stream_send_batch(ch, msgs, lens, n, -1, &sent);
    return rc == IPC_OK ? (int)sent : rc;
}

/* A stream receives one message per call with no system call while the
 * window holds frames: the first waits, the rest are taken while there. */
static int stream_recv_batch(ipc_channel *ch, void *buf, size_t each, size_t *lens, size_t max, int timeout_ms)
{
    size_t n = 0;
    int rc = ipc_recv(ch, buf, each, &lens[0], NULL, timeout_ms);
    while (rc == IPC_OK && ++n < max) rc = ipc_recv(ch, (unsigned char *)buf + n * each, each, &lens[n], NULL, 0);
    return n > 0 ? (int)n : rc;
}

static const batch_ops stream_ops[] = {
    { "pipe", stream_send_batch, stream_recv_batch },       { "fifo", stream_send_batch, stream_recv_batch },
    { "socketpair", stream_send_batch, stream_recv_batch }, { "unix", stream_send_batch, stream_recv_batch },
    { "tcp", stream_send_batch, stream_recv_batch },
};
#define STREAM_BATCH(i, mech)                                                                                  \
    { .name = "batch:" mech "@adaptive", .wait = "adaptive: up to 256 whole frames per writev; plain ipc_recv", \
      .about = mech " with ipc_stream_send_batch (batches of 256) and ipc_recv, both ends ADAPTIVE",        \
      .caps = IPC_CAP_THREADS, .max_msg = 1u << 20, .open = bt_open, .user = &stream_ops[i],                \
      .strategy = IPC_WAIT_ADAPTIVE }

#ifdef IPC_WITH_AMQP
static const batch_ops amqp_ops = { "amqp", ipc_amqp_send_batch, ipc_amqp_recv_batch };
#endif
#ifdef IPC_WITH_REDIS
static const batch_ops redis_ops = { "redis", ipc_redis_send_batch, ipc_redis_recv_batch };
#endif

#if defined(IPC_WITH_AMQP) || defined(IPC_WITH_REDIS)
static int bt_prepare(const bench_impl *impl)
{
    const batch_ops *ops = impl->user;
    bench_impl as_mech = *impl;
    as_mech.mech = ipc_find(ops->mechanism);
    return as_mech.mech ? bench_ipc_prepare(&as_mech) : bench_fail("%s: mechanism not registered", impl->name);
}
#endif

static int bt_open(const bench_impl *impl, size_t max_msg, bench_chan **out)
{
    const batch_ops *ops = impl->user;
    batch_chan *b = calloc(1, sizeof *b);
    if (!b) return bench_fail_errno("calloc");
    b->ops = ops;
    b->each = max_msg ? max_msg : 1;
    b->batch = BATCH_BYTES / b->each < BATCH ? BATCH_BYTES / b->each : BATCH;
    if (b->batch < 1) b->batch = 1;
    b->out = malloc(b->batch * b->each);
    b->in = malloc(b->batch * b->each);
    const ipc_mechanism *m = ipc_find(ops->mechanism);
    ipc_config cfg = { .max_msg = m && max_msg < m->default_max_msg ? m->default_max_msg : max_msg,
                       .wait = impl->strategy };
    int rc = b->out && b->in ? ipc_open(ops->mechanism, &cfg, &b->ch) : IPC_ESYS;
    if (rc != IPC_OK) {
        free(b->out);
        free(b->in);
        free(b);
        return failed("ipc_open", rc);
    }
    b->base = (bench_chan){
        .send = bt_send, .recv = bt_recv, .flush = bt_flush,
        .shutdown = bt_shutdown, .free = bt_free,
    };
    *out = &b->base;
    return 0;
}

#ifdef IPC_WITH_AMQP
const bench_impl batch_amqp = {
    .name = "batch:amqp", .wait = "confirm batches of 256; pipelined basic.get",
    .about = "amqp with 256 publishes per publisher confirm and 256 basic.get per round trip",
    .caps = IPC_CAP_THREADS, .max_msg = 1u << 20, .open = bt_open, .prepare = bt_prepare,
    .user = &amqp_ops,
};
#endif
#ifdef IPC_WITH_REDIS
const bench_impl batch_redis = {
    .name = "batch:redis", .wait = "one script per batch of 256 (LPUSH of them all; pops)",
    .about = "redis with one push script (one LPUSH) per batch of 256 and one pop script per 256",
    .caps = IPC_CAP_THREADS, .max_msg = 1u << 20, .open = bt_open, .prepare = bt_prepare,
    .user = &redis_ops,
};

#endif

static const bench_impl batch_streams[] = {
    STREAM_BATCH(0, "pipe"), STREAM_BATCH(1, "fifo"), STREAM_BATCH(2, "socketpair"), STREAM_BATCH(3, "unix"),
    STREAM_BATCH(4, "tcp"),
};

/* The batched path belongs to the mechanism whose extras it calls (ipc_amqp_*
 * for the mechanism "amqp"): the one descriptor ipc_find gives for it, not
 * its -prio variant. */
const bench_impl *bench_batch_for(const ipc_mechanism *m)
{
    for (size_t i = 0; i < sizeof batch_streams / sizeof batch_streams[0]; i++)
        if (m == ipc_find(stream_ops[i].mechanism)) return &batch_streams[i];
#ifdef IPC_WITH_AMQP
    if (m == ipc_find(amqp_ops.mechanism)) return &batch_amqp;
#endif
#ifdef IPC_WITH_REDIS
    if (m == ipc_find(redis_ops.mechanism)) return &batch_redis;
#endif
    (void)m;
    return NULL;
}
