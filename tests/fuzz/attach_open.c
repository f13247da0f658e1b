/*
 * attach_open.c — libFuzzer target: the real attach path, ipc_open with
 * IPC_ATTACH (and, for contrast, without) given fuzzed names, endpoints,
 * capacities and sizes.  Each execution makes system calls (about 300 µs):
 * `make fuzz` gives it a budget of its own (tests/fuzz/attach_open/options);
 * the pure checks every open runs first are fuzzed at full count by
 * attach_config.c.
 *
 * The input picks a mechanism among those that attach by a local name
 * (posix_mq, sysv_mq, shm, shm_spsc, fifo, unix, unix_seqpacket,
 * unix_dgram) and supplies cfg.name, cfg.endpoint, capacity, max_msg, order
 * and flags.  Names nobody created must be refused with an IPC_E* code and
 * nothing created; a name that does exist — one real channel of each kind
 * is opened first, its attach name offered to the fuzzer in the corpus —
 * may attach, and then one message must go through.  Network mechanisms
 * (tcp, zmq, redis, websocket) are left out: a fuzzed endpoint would
 * connect to whatever listens on this machine.  Paths are kept in a sandbox
 * (a fuzzed path is appended to it) and every path is put
 * under a fresh temporary directory, so it never opens a file of the system.
 */
#define _GNU_SOURCE
#include "ipc.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static const char *const mechs[] = { "posix_mq", "sysv_mq", "shm", "shm_spsc", "fifo", "unix", "unix_seqpacket",
                                     "unix_dgram" };
enum { NMECH = sizeof mechs / sizeof mechs[0] };
static ipc_channel *real[NMECH];

static char dir[] = "/tmp/ipcplay-fuzz.XXXXXX";

/* At exit (libFuzzer returns from main when its time or run budget is
 * spent): free the channels setup made, so their names — a SysV queue
 * above all, which no stale sweep can recognise — and temp dirs go with
 * them.  test_zz_leftovers found the queue after every make test. */
static void teardown(void)
{
    for (int i = 0; i < NMECH; i++) ipc_free(real[i]);
    rmdir(dir);
}

static void setup(void)
{
    if (!mkdtemp(dir)) abort();
    atexit(teardown);
    setenv("IPCPLAY_NAME_PREFIX", "ipcfuzz", 1);
    for (int i = 0; i < NMECH; i++) {
        ipc_config cfg = { .flags = IPC_ATTACHABLE, .capacity = 4, .max_msg = 64 };
        if (ipc_open(mechs[i], &cfg, &real[i]) != IPC_OK) real[i] = NULL;
        ipc_config a;
        if (real[i] && ipc_attach_config(real[i], &a) == IPC_OK)
            fprintf(stderr, "attach_open: %s attaches as name '%s'\n", mechs[i], a.name ? a.name : "");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int once;
    if (!once++) setup();
    if (size < 12) return 0;
    int m = data[0] % NMECH;
    ipc_config cfg = { 0 };
    cfg.flags = data[1] & 7u; /* IPC_ATTACH, IPC_ATTACHABLE and an unknown bit */
    cfg.order = (int)(data[2] % 4) - (data[2] >> 7);
    uint32_t capacity, max_msg;
    memcpy(&capacity, data + 3, 4);
    memcpy(&max_msg, data + 7, 4);
    cfg.capacity = capacity % 4 == 0 ? capacity : capacity % 64;
    cfg.max_msg = max_msg % 4 == 0 ? max_msg : max_msg % 70000;
    bool with_endpoint = data[11] & 1, real_name = data[11] & 2;
    /* the rest: name, then (after a 0 byte) the endpoint */
    /* text = [room for the sandbox directory] name \0 endpoint */
    enum { ROOM = sizeof dir };
    char text[ROOM + 512];
    size_t n = size - 12 < 510 ? size - 12 : 510;
    memcpy(text + ROOM, data + 12, n);
    text[ROOM + n] = '\0';
    text[ROOM + n + 1] = '\0';
    char *name = text + ROOM;
    char *endpoint = name + strlen(name) + 1 <= text + ROOM + n ? name + strlen(name) + 1 : NULL;
    if (m >= 4 && name[0]) { /* a path: keep it inside the sandbox directory */
        name -= ROOM;
        memcpy(name, dir, ROOM - 1);
        name[ROOM - 1] = '/';
    }
    ipc_config real_cfg;
    if (real_name && real[m] && ipc_attach_config(real[m], &real_cfg) == IPC_OK && real_cfg.name) {
        cfg.name = real_cfg.name;
        cfg.flags |= IPC_ATTACH;
    } else {
        cfg.name = name[0] || (data[11] & 4) ? name : NULL;
    }
    cfg.endpoint = with_endpoint ? endpoint : NULL;
    if (!(cfg.flags & IPC_ATTACH) && cfg.name) cfg.name = NULL; /* never create under a fuzzed name */
    ipc_channel *ch = NULL;
    int rc = ipc_open(mechs[m], &cfg, &ch);
    CHECK(rc <= 0 && rc >= IPC_ENOTSUP);
    CHECK((rc == IPC_OK) == (ch != NULL));
    if (ch) {
        char buf[8];
        size_t got;
        if (ipc_max_msg(ch) >= 2 && ipc_send(ch, "hi", 2, 0, 0) == IPC_OK)
            CHECK(ipc_recv(ch, buf, sizeof buf, &got, NULL, 1000) == IPC_OK);
        ipc_free(ch);
    }
    return 0;
}
