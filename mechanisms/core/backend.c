/*
 * core/backend.c — what the contract (backend.h) provides to backends: the
 * channel allocation, and the registry's ops-versus-caps self-check.
 */
#define _GNU_SOURCE
#include "core/backend.h"
#include "core/error.h"

#include <stdlib.h>
#include <string.h>

void *ipc__channel_alloc(size_t size, const ipc_mechanism *m, const ipc_config *cfg)
{
    ipc_channel *ch = calloc(1, size);
    if (!ch) {
        ipc__fail(IPC_ESYS, "calloc(%zu)", size);
        return NULL;
    }
    ch->mech = m;
    ch->magic = IPC_CHANNEL_MAGIC;
    ch->max_msg = cfg->max_msg;
    ch->capacity = cfg->capacity;
    return ch;
}

int ipc__mechanism_check(const ipc_mechanism *m)
{
    if (!m || !m->name || !m->ops) return ipc__fail(IPC_EINVAL, "mechanism without a name or ops");
    const struct ipc_ops *o = m->ops;
    const char *n = m->name;
    if (!o->open || !o->send || !o->recv || !o->close || !o->free)
        return ipc__fail(IPC_EINVAL, "%s: open, send, recv, close and free are mandatory", n);
    if (!(m->caps & IPC_CAP_POLL) != !o->pollfd)
        return ipc__fail(IPC_EINVAL, "%s: IPC_CAP_POLL %s but ops.pollfd is %s", n,
                         m->caps & IPC_CAP_POLL ? "set" : "unset", o->pollfd ? "set" : "NULL");
    if (!(m->caps & IPC_CAP_UNRELATED) != !o->attach_config)
        return ipc__fail(IPC_EINVAL, "%s: IPC_CAP_UNRELATED %s but ops.attach_config is %s", n,
                         m->caps & IPC_CAP_UNRELATED ? "set" : "unset", o->attach_config ? "set" : "NULL");
    if ((m->caps & IPC_CAP_FIFO) && (m->caps & IPC_CAP_LIFO))
        return ipc__fail(IPC_EINVAL, "%s: claims both IPC_CAP_FIFO and IPC_CAP_LIFO", n);
    if (m->max_msg_limit == 0 || m->default_max_msg == 0 || m->default_max_msg > m->max_msg_limit)
        return ipc__fail(IPC_EINVAL, "%s: default_max_msg %zu must be in 1..max_msg_limit %zu", n,
                         m->default_max_msg, m->max_msg_limit);
    if (!m->family || !m->summary || !m->wait_strategy)
        return ipc__fail(IPC_EINVAL, "%s: family, summary and wait_strategy are required", n);
    const char *fam = ipc_family_name(m->family_id);
    if (!fam || strcmp(fam, m->family) != 0)
        return ipc__fail(IPC_EINVAL, "%s: family_id %d (%s) disagrees with family \"%s\"", n,
                         (int)m->family_id, fam ? fam : "not an enum ipc_family", m->family);
    if (!ipc_carrier_name(m->carrier))
        return ipc__fail(IPC_EINVAL, "%s: carrier %d is not an enum ipc_carrier", n, (int)m->carrier);
    if (m->variant < 0)
        return ipc__fail(IPC_EINVAL, "%s: variant %d is negative", n, m->variant);
    return IPC_OK;
}
