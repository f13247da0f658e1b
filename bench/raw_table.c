/*
 * raw_table.c — which raw baseline each ipcplay mechanism is measured
 * against.  One line per mechanism; a mechanism not listed here (or listed
 * with NULL) is reported with "no raw baseline", and the benchmark needs
 * no other change when new mechanisms land in the registry.
 */
#include "bench.h"

#include <string.h>

static const struct {
    const char       *mechanism;
    const bench_impl *raw;
    const char       *note;
} table[] = {
    { "queue",      &raw_condvar,    "the same monitor without the interface" },
    { "lifo",       &raw_condvar,    "a FIFO ring: the monitor's cost, not the order's" },
    { "priority",   &raw_condvar,    "a FIFO ring: the monitor's cost, not the heap's" },
    { "procq",      &raw_condvar,    "process-shared, but not robust" },
    { "pipe",       &raw_pipe,       "writev + one readv per message" },
    { "fifo",       &raw_pipe,       "a FIFO is a pipe with a name: the same kernel path" },
    { "socketpair", &raw_socketpair, "sendmsg + one readv per message" },
    { "unix",       &raw_socketpair, "a connected AF_UNIX stream, like a named one" },
    { "unix_seqpacket", &raw_seqpacket, "one send + one recv per message" },
    { "unix_dgram", &raw_dgram,      "one send + one recv per message" },
    { "tcp",        &raw_tcp,        "loopback, TCP_NODELAY" },
    { "posix_mq",   &raw_posix_mq,   "blocking mq_send/mq_receive" },
    { "sysv_mq",    &raw_sysv_mq,    "blocking msgsnd/msgrcv" },
    { "eventfd",    &raw_eventfd,    "the bare counter: merges messages, keeps no payload" },
    { "signal",     &raw_signal,     "sigqueue + sigwaitinfo" },
    { "shm",        NULL,            "no raw baseline: compare with limit:cacheline and limit:memcpy" },
    { "shm_spsc",   NULL,            "no raw baseline: compare with limit:cacheline and limit:memcpy" },
    { "spsc",       NULL,            "no raw baseline: compare with limit:cacheline and limit:memcpy" },
};

const bench_impl *bench_raw_for(const char *mechanism, const char **why)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].mechanism, mechanism) == 0) {
            *why = table[i].note;
            return table[i].raw;
        }
    *why = "no raw baseline";
    return NULL;
}
