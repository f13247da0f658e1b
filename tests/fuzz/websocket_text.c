/*
 * websocket_text.c — libFuzzer target: the text lines of the websocket
 * mechanism's wire protocol (brokers/websocket_proto.h), as a hostile
 * client sends them to the server and a hostile server to a client.
 *
 * The input is cut into lines at '\n' (a text frame each, as rx_add hands
 * them over: NUL-terminated, at most CTRL_MAX bytes on the server, any
 * length on the client).  Each line goes through both readers.  Whatever
 * the bytes, a line must be accepted only in its exact form: the word is
 * there, a number is what its digits say (re-printed, it gives the same
 * text), a topic is shorter than IPC_WS_TOPIC_MAX and lies inside the line,
 * a hello's max_msg is at least 1 and its closed flag 0 or 1.
 */
#define _GNU_SOURCE
#include "brokers/websocket_proto.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static void check_request(const char *t)
{
    ipc_ws_parsed p;
    char again[64];
    switch (ipc__ws_request_line(t, &p)) {
    case IPC_WS_PULL:
        snprintf(again, sizeof again, "pull %llu", p.a);
        CHECK(strcmp(again, t) == 0 || (strncmp(t, "pull 0", 6) == 0)); /* leading zeros */
        break;
    case IPC_WS_SUB: case IPC_WS_PUB:
        CHECK(p.topic == t + 4 && strlen(p.topic) < IPC_WS_TOPIC_MAX);
        break;
    case IPC_WS_CANCEL_PULL: CHECK(!strcmp(t, "cancel-pull")); break;
    case IPC_WS_GOT: CHECK(!strcmp(t, "got")); break;
    case IPC_WS_CANCEL_SEND: CHECK(!strcmp(t, "cancel-send")); break;
    case IPC_WS_CLOSE: CHECK(!strcmp(t, "close")); break;
    case IPC_WS_BAD: break;
    default: abort(); /* a reply word is not a request */
    }
}

static void check_reply(const char *t)
{
    ipc_ws_parsed p;
    int k = ipc__ws_reply_line(t, &p);
    CHECK(k == IPC_WS_BAD || k >= IPC_WS_HELLO);
    if (k == IPC_WS_HELLO) {
        CHECK(p.a >= 1 && p.a <= SIZE_MAX && p.b <= SIZE_MAX);
        CHECK(strncmp(t, "hello ", 6) == 0 && t[6] >= '0' && t[6] <= '9');
        size_t n = strlen(t);
        CHECK(t[n - 1] == (p.closed ? '1' : '0')); /* "01": leading zeros are digits too */
    }
    if (k == IPC_WS_R_TOOBIG) CHECK(strncmp(t, "r toobig ", 9) == 0 && t[9] >= '0' && t[9] <= '9');
    if (k == IPC_WS_P) CHECK(strncmp(t, "p ", 2) == 0 && p.a <= (unsigned long long)LONG_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *all = malloc(size + 1);
    if (!all) return 0;
    memcpy(all, data, size);
    all[size] = 0;
    for (char *line = all, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        /* each line in its own allocation of exactly its length + NUL: ASan
         * sees a read past it */
        size_t n = strlen(line);
        char *t = malloc(n + 1);
        if (!t) break;
        memcpy(t, line, n + 1);
        check_request(t);
        check_reply(t);
        free(t);
    }
    free(all);
    return 0;
}
