/*
 * raw_table.c — which raw baseline each ipcplay mechanism is measured
 * against, chosen by what carries its bytes (ipc_mechanism.carrier, registry
 * data), never by its name: a new mechanism built on a pipe is measured
 * against raw:pipe with no edit here.  A carrier listed with NULL (or not
 * listed) is reported with its note, and the benchmark needs no other
 * change when new mechanisms land in the registry.
 */
#include "bench.h"

static const struct {
    const bench_impl *raw;
    const char       *note;
} table[] = {
    [IPC_CARRIER_MONITOR]        = { &raw_condvar,    "the same monitor (a FIFO ring) without the interface" },
    [IPC_CARRIER_PIPE]           = { &raw_pipe,       "writev + one readv per message (a FIFO is a pipe with a name)" },
    [IPC_CARRIER_UNIX_STREAM]    = { &raw_socketpair, "a connected AF_UNIX stream: sendmsg + one readv per message" },
    [IPC_CARRIER_UNIX_SEQPACKET] = { &raw_seqpacket,  "one send + one recv per message" },
    [IPC_CARRIER_UNIX_DGRAM]     = { &raw_dgram,      "one send + one recv per message" },
    [IPC_CARRIER_TCP]            = { &raw_tcp,        "loopback, TCP_NODELAY" },
    [IPC_CARRIER_POSIX_MQ]       = { &raw_posix_mq,   "blocking mq_send/mq_receive" },
    [IPC_CARRIER_SYSV_MQ]        = { &raw_sysv_mq,    "blocking msgsnd/msgrcv" },
    [IPC_CARRIER_EVENTFD]        = { &raw_eventfd,    "the bare counter: merges messages, keeps no payload" },
    [IPC_CARRIER_SIGNAL]         = { &raw_signal,     "sigqueue + sigwaitinfo" },
    [IPC_CARRIER_SHM_RING]       = { NULL,            "no raw baseline: compare with limit:cacheline and limit:memcpy" },
    [IPC_CARRIER_BROKER]         = { NULL,            "no raw baseline: a server between the peers" },
};

const bench_impl *bench_raw_for(const ipc_mechanism *m, const char **why)
{
    unsigned c = (unsigned)m->carrier;
    if (c < sizeof table / sizeof table[0] && table[c].note) {
        *why = table[c].note;
        return table[c].raw;
    }
    *why = "no raw baseline";
    return NULL;
}
