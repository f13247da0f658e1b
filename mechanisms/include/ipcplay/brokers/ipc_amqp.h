/*
 * ipc_amqp.h — the extras of the "amqp" and "amqp-prio" mechanisms: what a
 * RabbitMQ broker can do that a plain channel cannot.  Send/receive/close go
 * through ipc.h; see amqp.c for how a channel maps onto queues and exchanges.
 *
 * The shapes mirror ipc_redis.h (delay queue, publish/subscribe, explicit
 * servers) so that a lesson can swap one broker for the other.
 */
#ifndef IPCPLAY_IPC_AMQP_H
#define IPCPLAY_IPC_AMQP_H

#include "../ipc.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- delayed delivery ---------------------------------------------------
 * Deliver msg no earlier than delay_ms from now.  The message waits in the
 * channel's delay queue with a per-message TTL ("expiration"); when the TTL
 * runs out RabbitMQ dead-letters it into the channel.  RabbitMQ expires
 * messages only at the head of a queue: a message with a long delay holds
 * back a shorter one sent after it (the classic TTL+DLX pitfall; the
 * delayed-message plugin, not used here, sorts by due time).  Refused on a
 * bounded channel: a message dead-lettered into a full queue with
 * reject-publish is dropped by the broker, and nothing here is ever lost.
 * After ipc_close, pending delayed messages are moved into the channel at
 * once, so that the drain delivers them.  It never blocks.  RETURNS 0,
 * IPC_ECLOSED, IPC_EMSGSIZE, IPC_EINVAL (not an amqp channel, delay < 0),
 * IPC_ENOTSUP (bounded channel), IPC_ESYS. */
int ipc_amqp_send_after(ipc_channel *ch, const void *msg, size_t len, int prio, int64_t delay_ms);

/* ---- publisher-confirm batches ------------------------------------------
 * Publish n messages back to back, then wait once for the broker to confirm
 * them all (one round trip per batch instead of one per message).  Only on
 * an unbounded channel (a bounded one could refuse a message in the middle).
 * RETURNS n (every message is held by the broker), or IPC_ECLOSED,
 * IPC_EMSGSIZE, IPC_EINVAL, IPC_ENOTSUP (bounded), IPC_ESYS — after a
 * failure some prefix of the batch may have been accepted. */
int ipc_amqp_send_batch(ipc_channel *ch, const void *const *msgs, const size_t *lens, size_t n);

/* The receiving side of a batch: wait for one message like ipc_recv
 * (timeout_ms), then take up to max-1 more that are already queued, in one
 * round trip (pipelined basic.get).  Message i is copied to buf + i*each,
 * its size to lens[i].  RETURNS how many (1..max), or like ipc_recv:
 * IPC_EEMPTY, IPC_ECLOSED, IPC_EMSGSIZE (the first is larger than each:
 * lens[0] says its size, it stays queued; a later one that does not fit
 * ends the batch and stays queued), IPC_EINVAL, IPC_ESYS. */
int ipc_amqp_recv_batch(ipc_channel *ch, void *buf, size_t each, size_t *lens, size_t max, int timeout_ms);

/* ---- late acknowledgement ------------------------------------------------
 * ipc_recv acknowledges a message as soon as it is copied out.  For work
 * that must survive the worker (Celery's acks_late), take the message
 * unacknowledged: the broker keeps it, invisible to other receivers, until
 * ipc_amqp_ack; if this process dies (even by SIGKILL) or calls
 * ipc_amqp_requeue, the broker delivers it to another receiver.  The
 * delivery holds one connection of the channel until it is settled.
 * RETURNS like ipc_recv, plus *out on success. */
typedef struct ipc_amqp_delivery ipc_amqp_delivery;
int ipc_amqp_recv_unacked(ipc_channel *ch, void *buf, size_t cap, size_t *len, int *prio,
                          int timeout_ms, ipc_amqp_delivery **out);
/* Settle and free d.  RETURNS 0, IPC_EINVAL (NULL), IPC_ESYS (the connection
 * broke: the broker has requeued the message itself). */
int ipc_amqp_ack(ipc_amqp_delivery *d);
int ipc_amqp_requeue(ipc_amqp_delivery *d);

/* ---- publish/subscribe broadcast ----------------------------------------
 * One fanout exchange per topic, "<channel name>/<topic>": every subscriber
 * has its own exclusive queue bound to it, so each gets a copy.  Nothing is
 * stored for absent subscribers, but there is no slow-joiner window: the
 * binding exists when ipc_amqp_subscribe returns. */
typedef struct ipc_amqp_sub ipc_amqp_sub;

/* RETURNS 1 if at least one subscriber's queue took it, 0 if none did, or
 * IPC_EINVAL, IPC_EMSGSIZE, IPC_ESYS. */
int  ipc_amqp_publish(ipc_channel *ch, const char *topic, const void *msg, size_t len);
/* A subscriber on its own connection.  RETURNS 0 and *out, IPC_EINVAL, IPC_ESYS. */
int  ipc_amqp_subscribe(ipc_channel *ch, const char *topic, ipc_amqp_sub **out);
/* Next published message, with the ipc_recv conventions: IPC_EEMPTY on
 * timeout; IPC_EMSGSIZE (*len = size) keeps it for the next call. */
int  ipc_amqp_sub_recv(ipc_amqp_sub *s, void *buf, size_t cap, size_t *len, int timeout_ms);
void ipc_amqp_sub_free(ipc_amqp_sub *s);

/* ---- servers -------------------------------------------------------------
 * A channel opened without an endpoint uses the process's private embedded
 * broker.  Its lifetime is its creator's: it runs in a private temp dir, as
 * a child with a death signal, so when the process that opened the channel
 * dies (even by SIGKILL) the broker stops and the channel ends, taking the
 * messages it held, acknowledged or not (IPC_CAP_PERSISTENT promises
 * survival of a broker RESTART on its data dir, which an embedded broker
 * never gets: its dir is removed by the stale sweep).  The other holders —
 * fork()ed workers — are then told IPC_ECLOSED by their next call (an
 * attacher by endpoint sees IPC_ESYS, ECONNREFUSED: it cannot tell an
 * embedded broker from one that will be restarted).  These calls start and
 * stop brokers explicitly: for persistence
 * (a data dir that survives a restart) and for a broker bound to a network
 * address (another host).  Every broker gets its own epmd on a free port,
 * bound to 127.0.0.1 like the Erlang distribution port, its own generated
 * user and password (never guest/guest), and runs as the "rabbitmq" user
 * when started by root.  Starting one takes ~6-12 s. */
typedef struct ipc_amqp_server ipc_amqp_server;

typedef struct ipc_amqp_server_opts {
    const char *dir;   /* data dir (mnesia, logs); NULL = a fresh private temp
                          dir, removed by stop.  Reuse a dir (with the same
                          port, user and password) to restart a broker with its
                          durable queues and persistent messages.           */
    const char *bind;  /* the AMQP listener's address; NULL = 127.0.0.1     */
    int         port;  /* AMQP port; 0 = a free one                          */
    const char *user, *password; /* NULL = generated                        */
} ipc_amqp_server_opts;

/* Start a broker and wait until it accepts a login.  RETURNS 0 and *out, or
 * IPC_ESYS ("rabbitmq-server not found: apt-get install rabbitmq-server", or
 * the broker's last output line if it exited), IPC_EINVAL. */
int ipc_amqp_server_start(const ipc_amqp_server_opts *opts, ipc_amqp_server **out);
/* "amqp://user:password@127.0.0.1:port": what to put in ipc_config.endpoint. */
const char *ipc_amqp_server_endpoint(const ipc_amqp_server *s);
const char *ipc_amqp_server_dir(const ipc_amqp_server *s);
int         ipc_amqp_server_port(const ipc_amqp_server *s);
const char *ipc_amqp_server_user(const ipc_amqp_server *s);
const char *ipc_amqp_server_password(const ipc_amqp_server *s);
pid_t       ipc_amqp_server_pid(const ipc_amqp_server *s);   /* the beam.smp process */
pid_t       ipc_amqp_server_epmd_pid(const ipc_amqp_server *s);
/* SIGTERM the broker (it syncs its queues and exits in ~2 s; SIGKILL after
 * 15 s), then its epmd; remove the temp dir if start made it; free s.  In a
 * forked child that did not start it this only frees the handle.  NULL is a
 * no-op.  RETURNS 0, or IPC_ESYS if something had to be killed. */
int ipc_amqp_server_stop(ipc_amqp_server *s);

/* The embedded broker outlives the last channel that uses it by this many
 * milliseconds (default 30000: a restart costs seconds, and a program that
 * frees its last channel often opens another), then stops; exit stops it at
 * once, and so does the death of this process (PR_SET_PDEATHSIG).  0 stops
 * it with the last channel.  RETURNS the previous value, or IPC_EINVAL
 * (ms < 0). */
int ipc_amqp_embedded_linger_ms(int ms);
/* The embedded broker's pid, or 0 if none runs in this process (until 2026-12: -1). */
pid_t ipc_amqp_embedded_pid(void);

#ifdef __cplusplus
}
#endif
#endif /* IPCPLAY_IPC_AMQP_H */
