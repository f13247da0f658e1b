/*
 * named.h — what the named members of the pipes family (fifo, unix, tcp)
 * share, and nothing the anonymous ones need: a "shut down" fd that
 * unrelated processes can hold, the attach handshake, connecting with a
 * deadline.  Temp dirs (core/names.h) and the helper thread through which
 * an owner lets attachers in (core/thread.h) are the core's.
 */
#ifndef IPCPLAY_NAMED_H
#define IPCPLAY_NAMED_H

#include "engines/stream.h"

#include <pthread.h>
#include <sys/socket.h>
#include <sys/types.h>

/* How long ipc_open(IPC_ATTACH) waits for the owner to answer. */
#define IPC_ATTACH_TIMEOUT_MS 5000

/* stream.c gives every stream its own eventfd as the shut-down signal; an
 * eventfd reaches only processes that inherit it.  Replace it by fd (which
 * the stream now owns and closes): a FIFO or a passed fd that unrelated
 * processes can hold too.  stream.c writes 8 bytes to it on close and polls
 * it for POLLIN, so anything that stays readable once written will do. */
void ipc__named_adopt_shut_fd(ipc_stream *s, int fd);

/* ---- the attach handshake ----------------------------------------------
 * The owner (or its helper thread) answers every new connection with one
 * hello, plus file descriptors where the socket can carry them (SCM_RIGHTS
 * on Unix sockets).  The attacher checks magic and kind before trusting it. */
#define IPC_HELLO_MAGIC 0x1BC0FEEDu
#define IPC_HELLO_MAX_FDS 4

typedef struct ipc_hello {
    uint32_t magic;   /* IPC_HELLO_MAGIC                                 */
    uint32_t kind;    /* which mechanism answers (socket type, or 'tcp') */
    uint64_t max_msg; /* the channel's limit: attachers adopt it          */
} ipc_hello;

/* Send the hello (and nfds fds) on a fresh connection; never blocks. */
int  ipc__hello_send(int fd, const ipc_hello *h, const int *fds, int nfds);
/* Receive a hello and exactly nfds fds before the deadline.  RETURNS 0,
 * IPC_ECLOSED (the owner hung up: shut down, or gone), IPC_EINVAL (not an
 * ipcplay answer), IPC_ESYS (errno ETIMEDOUT: no answer in time).  On
 * failure no fd is left open. */
int  ipc__hello_recv(int fd, ipc_hello *h, int *fds, int nfds, const ipc_deadline *d);
/* Check a received hello before trusting it: the right kind, and a max_msg
 * the attacher can carry (1..limit; a bigger one would let sends past the
 * 32-bit frame length).  RETURNS 0 or IPC_EINVAL.  tests/fuzz/hello fuzzes
 * ipc__hello_recv + this. */
int  ipc__hello_check(const ipc_hello *h, uint32_t kind, size_t max_msg_limit, const char *mech);

/* connect(2) a socket (made non-blocking here) before the deadline.
 * RETURNS 0 or IPC_ESYS (errno from connect, or ETIMEDOUT). */
int  ipc__named_connect(int fd, const struct sockaddr *addr, socklen_t len, const ipc_deadline *d);

#endif
