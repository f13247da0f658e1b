/*
 * ws_chat.c — a chat room and notifications over WebSocket, with C programs
 * and (if you like) your browser in the same room.
 *
 * WebSocket is full duplex over one TCP connection that starts life as an
 * HTTP request: a browser can open one with two lines of JavaScript, which
 * is why chat and live notifications are its classic uses.  The "websocket"
 * mechanism runs a small WebSocket server (libwebsockets) in the process
 * that opens the channel; every other process — and every browser — is a
 * client of it.  Two ways to talk:
 *
 *   the channel (ipc_send / ipc_recv)   a queue: each message to ONE receiver;
 *                                       here the "chat server" (the parent)
 *                                       receives every line people type
 *   broadcast (ipc_websocket_publish)   each message to EVERY subscriber of
 *                                       the topic: the room, and notifications
 *
 * The parent opens the channel and prints the page address: the server
 * itself serves a small HTML+JavaScript page that joins the room.  Then
 *   part 1  three consumer processes (fork()ed: their inherited handles
 *           connect as WebSocket clients on first use) subscribe to the room
 *           topic "chat", tell the parent they are ready, and each sends one
 *           line into the channel;
 *   part 2  the parent, the chat server, receives each line from the channel
 *           and publishes it to the room as "<who>: <text>", and publishes
 *           three notifications ("chat/notice" also matches subscribers of
 *           "chat": topics match by prefix);
 *   part 3  each consumer prints what it saw (every chat line and every
 *           notification, in the order published), then the parent closes
 *           the channel.
 *
 * With --browser the parent keeps the room open for 60 s before part 3 and
 * relays what you type in the page: open the printed address in a browser
 * (on this machine) and chat with the C programs.  Without it the demo ends
 * by itself.
 *
 * Mirrors: the seed's recommendation of WebSocket for "chat applications and
 * real-time notifications" (full duplex over one TCP connection).
 *
 * Usage: ws_chat [--browser] [--help]
 */
#define _GNU_SOURCE
#include "demo.h"
#include "brokers/ipc_websocket.h"

#include <stdbool.h>

enum { CONSUMERS = 3, NOTICES = 3 };

/* A consumer: subscribe to the room, say ready, send one line into the
 * channel, then print every message of the room until it has seen the
 * CONSUMERS chat lines and NOTICES notifications. */
static void consumer(int id, ipc_channel *ch, int ready_fd)
{
    ipc_websocket_sub *room;
    demo_ok(ipc_websocket_subscribe(ch, "chat", &room), "ipc_websocket_subscribe");
    demo_sys((int)write(ready_fd, "r", 1), "write(ready)");
    char line[64];
    int n = snprintf(line, sizeof line, "consumer %d|hello from process %ld", id, (long)getpid());
    demo_ok(ipc_send(ch, line, (size_t)n, 0, 5000), "ipc_send");
    int chats = 0, notices = 0;
    while (chats < CONSUMERS || notices < NOTICES) {
        char buf[256];
        size_t len;
        int rc = ipc_websocket_sub_recv(room, buf, sizeof buf - 1, &len, 20000);
        if (rc == IPC_ECLOSED) break;
        demo_ok(rc, "ipc_websocket_sub_recv");
        buf[len] = '\0';
        if (strncmp(buf, "notice", 6) == 0) notices++;
        else chats++;
        printf("  [consumer %d] %s\n", id, buf);
    }
    printf("consumer %d saw %d chat lines and %d notifications\n", id, chats, notices);
    ipc_websocket_sub_free(room);
    ipc_free(ch); /* its own connection; the channel lives on in the parent */
    _exit(chats == CONSUMERS && notices == NOTICES ? 0 : 1);
}

/* The chat server's one job: a line from the channel goes to the room. */
static bool relay_one(ipc_channel *ch, int timeout_ms)
{
    char buf[512], out[600];
    size_t len;
    int rc = ipc_recv(ch, buf, sizeof buf - 1, &len, NULL, timeout_ms);
    if (rc == IPC_EEMPTY) return false;
    demo_ok(rc, "ipc_recv");
    buf[len] = '\0';
    /* "who|text" from the C consumers; a browser sends plain text */
    char *bar = strchr(buf, '|');
    int n = bar ? snprintf(out, sizeof out, "%.*s: %s", (int)(bar - buf), buf, bar + 1)
                : snprintf(out, sizeof out, "browser: %s", buf);
    int got = ipc_websocket_publish(ch, "chat", out, (size_t)n);
    demo_ok(got < 0 ? got : IPC_OK, "ipc_websocket_publish");
    printf("chat server: relayed \"%s\" to %d subscribers\n", out, got);
    return true;
}

int main(int argc, char **argv)
{
    static const char *const opts[] = { "--browser", NULL };
    demo_start_opts(argc, argv,
                    "usage: ws_chat [--browser] [--help]\n"
                    "  a chat room over the websocket mechanism: C consumers and your browser\n"
                    "  --browser  keep the room open 60 s for a browser (open the printed page)\n",
                    opts);
    bool browser = demo_flag(argc, argv, "--browser");

    ipc_channel *ch;
    demo_ok(ipc_open("websocket", NULL, &ch), "ipc_open(websocket)");
    printf("chat server: listening at %s\n", ipc_websocket_endpoint(ch));
    printf("page for a browser: %s?topic=chat\n", ipc_websocket_page_url(ch));

    int ready[2];
    demo_sys(pipe(ready), "pipe");
    pid_t pid[CONSUMERS];
    for (int i = 0; i < CONSUMERS; i++) {
        pid[i] = demo_fork();
        if (pid[i] == 0) {
            close(ready[0]);
            consumer(i + 1, ch, ready[1]);
        }
    }
    close(ready[1]);
    for (int i = 0; i < CONSUMERS; i++) { /* every subscription is confirmed */
        char c;
        if (read(ready[0], &c, 1) != 1) {
            fprintf(stderr, "a consumer died before subscribing\n");
            exit(1);
        }
    }
    close(ready[0]);
    printf("part 1: %d consumers subscribed to \"chat\"\n", CONSUMERS);

    printf("part 2: relaying their lines, then %d notifications\n", NOTICES);
    for (int i = 0; i < CONSUMERS; i++)
        if (!relay_one(ch, 10000)) {
            fprintf(stderr, "chat server: a consumer's line never came\n");
            exit(1);
        }
    for (int i = 1; i <= NOTICES; i++) {
        char note[64];
        int n = snprintf(note, sizeof note, "notice %d of %d: the room is open", i, NOTICES);
        int got = ipc_websocket_publish(ch, "chat/notice", note, (size_t)n);
        demo_ok(got < 0 ? got : IPC_OK, "ipc_websocket_publish");
        printf("chat server: notification %d reached %d subscribers\n", i, got);
    }
    if (browser) {
        printf("open %s?topic=chat in a browser; the room stays open 60 s\n", ipc_websocket_page_url(ch));
        int64_t until = ipc_now_ns() + 60 * 1000000000LL;
        while (ipc_now_ns() < until) relay_one(ch, 500);
    }

    printf("part 3: the consumers report\n");
    int failed = 0;
    for (int i = 0; i < CONSUMERS; i++) failed |= demo_reap(pid[i], "consumer");
    demo_ok(ipc_close(ch), "ipc_close");
    ipc_free(ch);
    printf("every consumer saw every chat line and every notification%s\n", failed ? ": NO" : "");
    return failed ? 1 : 0;
}
