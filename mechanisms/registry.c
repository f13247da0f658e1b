/*
 * registry.c — every mechanism, listed once, in the order the course
 * teaches them.  Adding a mechanism = one extern line and one table line;
 * the conformance suite, the benchmarks and the visualizer pick it up.  A
 * broker's lines sit under #ifdef IPC_WITH_<NAME>: the Makefile defines it
 * only when the broker is in BROKERS (its library is then required).
 */
#include "ipc_internal.h"

#include <string.h>

/* queues/ */
extern const ipc_mechanism ipc_mech_queue, ipc_mech_lifo, ipc_mech_priority;
extern const ipc_mechanism ipc_mech_procq;
extern const ipc_mechanism ipc_mech_posix_mq, ipc_mech_sysv_mq;
/* pipes/ */
extern const ipc_mechanism ipc_mech_pipe, ipc_mech_socketpair;
extern const ipc_mechanism ipc_mech_fifo;
extern const ipc_mechanism ipc_mech_unix, ipc_mech_unix_seqpacket, ipc_mech_unix_dgram;
extern const ipc_mechanism ipc_mech_tcp;
/* signals/ */
extern const ipc_mechanism ipc_mech_signal;
/* shm/ */
extern const ipc_mechanism ipc_mech_shm, ipc_mech_shm_spsc, ipc_mech_spsc;
/* events/ */
extern const ipc_mechanism ipc_mech_eventfd;
/* brokers/: each only in a build with it (make BROKERS=..., IPC_WITH_<NAME>) */
extern const ipc_mechanism ipc_mech_zmq;
extern const ipc_mechanism ipc_mech_redis, ipc_mech_redis_prio;
extern const ipc_mechanism ipc_mech_websocket;
extern const ipc_mechanism ipc_mech_amqp, ipc_mech_amqp_prio;

static const ipc_mechanism *const registry[] = {
    &ipc_mech_queue,
    &ipc_mech_lifo,
    &ipc_mech_priority,
    &ipc_mech_procq,
    &ipc_mech_posix_mq,
    &ipc_mech_sysv_mq,
    &ipc_mech_pipe,
    &ipc_mech_socketpair,
    &ipc_mech_fifo,
    &ipc_mech_unix,
    &ipc_mech_unix_seqpacket,
    &ipc_mech_unix_dgram,
    &ipc_mech_tcp,
    &ipc_mech_signal,
    &ipc_mech_shm,
    &ipc_mech_shm_spsc,
    &ipc_mech_spsc,
    &ipc_mech_eventfd,
#ifdef IPC_WITH_ZMQ
    &ipc_mech_zmq,
#endif
#ifdef IPC_WITH_REDIS
    &ipc_mech_redis,
    &ipc_mech_redis_prio,
#endif
#ifdef IPC_WITH_WEBSOCKET
    &ipc_mech_websocket,
#endif
#ifdef IPC_WITH_AMQP
    &ipc_mech_amqp,
    &ipc_mech_amqp_prio,
#endif
};

const ipc_mechanism *const *ipc_mechanisms(size_t *count)
{
    if (count) *count = sizeof registry / sizeof registry[0];
    return registry;
}

const char *ipc_family_name(int family)
{
    static const char *const names[] = {
        [IPC_FAMILY_QUEUES] = "queues", [IPC_FAMILY_PIPES] = "pipes", [IPC_FAMILY_SIGNALS] = "signals",
        [IPC_FAMILY_SHM] = "shm", [IPC_FAMILY_EVENTS] = "events", [IPC_FAMILY_BROKERS] = "brokers",
    };
    return family > 0 && (size_t)family < sizeof names / sizeof names[0] ? names[family] : NULL;
}

const char *ipc_carrier_name(int carrier)
{
    static const char *const names[] = {
        [IPC_CARRIER_MONITOR] = "monitor", [IPC_CARRIER_PIPE] = "pipe",
        [IPC_CARRIER_UNIX_STREAM] = "unix_stream", [IPC_CARRIER_UNIX_SEQPACKET] = "unix_seqpacket",
        [IPC_CARRIER_UNIX_DGRAM] = "unix_dgram", [IPC_CARRIER_TCP] = "tcp",
        [IPC_CARRIER_POSIX_MQ] = "posix_mq", [IPC_CARRIER_SYSV_MQ] = "sysv_mq",
        [IPC_CARRIER_EVENTFD] = "eventfd", [IPC_CARRIER_SIGNAL] = "signal",
        [IPC_CARRIER_SHM_RING] = "shm_ring", [IPC_CARRIER_BROKER] = "broker",
    };
    return carrier > 0 && (size_t)carrier < sizeof names / sizeof names[0] ? names[carrier] : NULL;
}

const ipc_mechanism *ipc_find(const char *name)
{
    if (!name) return NULL;
    for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++)
        if (strcmp(registry[i]->name, name) == 0) return registry[i];
    return NULL;
}
