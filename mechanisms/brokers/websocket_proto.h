/*
 * websocket_proto.h — the text lines of websocket.c's wire protocol, read
 * by pure functions (private; tests/fuzz/websocket_text.c feeds them every
 * line a hostile client or server could send).
 *
 * Invariant: a line is accepted only in its exact form: the word, one space,
 * and for numbers decimal digits only (no sign, no blank, no trailing
 * junk, no overflow), for topics fewer than IPC_WS_TOPIC_MAX bytes.
 * Anything else is IPC_WS_BAD: the server closes that connection, the
 * client ignores it.
 */
#ifndef IPCPLAY_WEBSOCKET_PROTO_H
#define IPCPLAY_WEBSOCKET_PROTO_H

#include <stdbool.h>
#include <stddef.h>

#define IPC_WS_TOPIC_MAX 128

enum ipc_ws_line {
    IPC_WS_BAD = 0,
    /* client -> server */
    IPC_WS_PULL, IPC_WS_CANCEL_PULL, IPC_WS_GOT, IPC_WS_CANCEL_SEND, IPC_WS_CLOSE, IPC_WS_SUB, IPC_WS_PUB,
    /* server -> client */
    IPC_WS_HELLO, IPC_WS_S_OK, IPC_WS_S_CLOSED, IPC_WS_S_CANCELLED, IPC_WS_S_WAIT, IPC_WS_R_WAIT,
    IPC_WS_R_TOOBIG, IPC_WS_R_CLOSED, IPC_WS_R_CANCELLED, IPC_WS_C_OK, IPC_WS_SUB_OK, IPC_WS_P,
};

typedef struct ipc_ws_parsed {
    unsigned long long a, b; /* pull: cap; hello: max_msg, capacity; toobig: size; p: count */
    bool               closed;  /* hello */
    const char        *topic;   /* sub, pub: points into the line */
} ipc_ws_parsed;

/* A NUL-terminated request line from a client.  RETURNS IPC_WS_PULL ..
 * IPC_WS_PUB with *out filled, or IPC_WS_BAD. */
int ipc__ws_request_line(const char *t, ipc_ws_parsed *out);

/* A NUL-terminated reply line from the server.  RETURNS IPC_WS_HELLO ..
 * IPC_WS_P with *out filled, or IPC_WS_BAD. */
int ipc__ws_reply_line(const char *t, ipc_ws_parsed *out);

#endif
