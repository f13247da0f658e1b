/*
 * toyq.h — a deliberately BROKEN queue: a ring buffer with no lock.
 *
 * Not a registry mechanism and never to be copied: it exists so a learner
 * can watch what the mutex in the real queues prevents — two producers
 * writing the same slot (a message lost) and two consumers taking the same
 * slot (a message delivered twice).
 */
#ifndef IPCVIZ_TOYQ_H
#define IPCVIZ_TOYQ_H

#include "trace.h"


typedef struct toyq toyq;

/* How the toy reports what it does: the same ipc_event the library's
 * observer gets (with ch == NULL), plus the god's-eye view of an overwrite
 * that a real program would never notice. */
typedef struct toyq_hooks {
    ipc_observer_fn event;
    void          (*overwritten)(void *arg, viz_token lost);
    void           *arg;
} toyq_hooks;

/* A ring of `capacity` slots of VIZ_TOKEN_BYTES-byte messages; NULL when
 * out of memory. */
toyq *toyq_create(size_t capacity, const toyq_hooks *hooks);
void  toyq_destroy(toyq *q);

/* Like ipc_send/ipc_recv with a timeout in ms (>= 0; the toy polls, it has
 * no condition variable either).  len must be VIZ_TOKEN_BYTES. */
int   toyq_send(toyq *q, const void *msg, size_t len, int timeout_ms);
int   toyq_recv(toyq *q, void *buf, size_t cap, size_t *len, int timeout_ms);
long  toyq_depth(toyq *q);
void  toyq_close(toyq *q);

#endif
