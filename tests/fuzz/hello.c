/*
 * hello.c — libFuzzer target: the owner's answer to an attacher (the hello
 * of pipes/named.c that tcp and the Unix sockets interpret themselves).
 *
 * The input is what "the owner" writes on the connection: any bytes, cut
 * anywhere, from a hostile server or one killed mid-answer.  The attacher's
 * side runs as in an attach: ipc__hello_recv (here with no wait), then
 * ipc__hello_check against each kind and limit.  It must answer an IPC_E*
 * code (never crash, never hang), and whatever it accepts must carry the
 * magic, the right kind and a max_msg the mechanism can carry.
 */
#define _GNU_SOURCE
#include "pipes/named.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHECK(c) do { if (!(c)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return 0;
    if (size > 4096) size = 4096;
    /* the owner's bytes, then its hang-up (or, for odd sizes, silence) */
    if (size && write(sv[1], data, size) < 0) abort();
    if (!(size & 1)) close(sv[1]);
    ipc_hello h;
    ipc_deadline d;
    ipc__deadline_start(&d, 0); /* silence: answered at once, not after a wait */
    int rc = ipc__hello_recv(sv[0], &h, NULL, 0, &d);
    CHECK(rc == IPC_OK || rc == IPC_ECLOSED || rc == IPC_EINVAL || rc == IPC_ESYS);
    if (rc == IPC_OK) {
        static const uint32_t kinds[] = { 0x544350u, SOCK_STREAM, SOCK_SEQPACKET, SOCK_DGRAM };
        for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
            int c = ipc__hello_check(&h, kinds[i], (size_t)1 << 30, "fuzz");
            CHECK(c == IPC_OK || c == IPC_EINVAL);
            if (c == IPC_OK) CHECK(h.magic == IPC_HELLO_MAGIC && h.kind == kinds[i] && h.max_msg >= 1
                                   && h.max_msg <= (size_t)1 << 30);
        }
    }
    close(sv[0]);
    if (size & 1) close(sv[1]);
    return 0;
}
