/*
 * attach_config.c — libFuzzer target: the checks every ipc_open (and so
 * every attach) runs before it touches the system: ipc__resolve_config (the
 * config against the mechanism's caps and limits, ipc.c) for every
 * registered mechanism, and the name rules of core/names.h (the object-name
 * rule, the creator pid read back from a generated name, paths in a temp
 * dir).  Pure functions: no channel is opened, so it runs at libFuzzer speed
 * (the real attach path, with its system calls, is attach_open.c).
 *
 * The input: a 34-byte header (mechanism, which fields are set, order, wait,
 * flags, capacity, max_msg, spin_ns, an output size for the names) and then
 * "name\0endpoint\0prefix".  What must hold, whatever the bytes:
 *   - resolve answers IPC_OK, IPC_EINVAL or IPC_ENOTSUP; what it accepts is
 *     within the mechanism's caps and limits (core/backend.h's list: max_msg
 *     1..max_msg_limit, capacity <= 2^30, no unknown flag, an order the caps
 *     allow, IPC_ATTACH only with a name or an endpoint, names and attach only
 *     with IPC_CAP_UNRELATED, a wait the mechanism has, spin_ns in 0..1e9);
 *     and resolving the result again gives the same config (a resolved
 *     config is a fixed point: an attacher handed it is not refused);
 *   - ipc__object_name accepts exactly "/word" or "word" (no other '/',
 *     non-empty), writes "/word" NUL-terminated within the size it is given,
 *     at most NAME_MAX bytes;
 *   - ipc__generated_pid says a pid only for "<prefix>.<digits>.<digits>"
 *     followed by nothing or a '.': the pid is positive and fits an int;
 *   - ipc__unique_name's names fit the size given and read back (through
 *     ipc__generated_pid) as this process's;
 *   - ipc__named_path writes "dir/leaf" whole or answers IPC_EINVAL.
 * ASan watches every write: the output buffers are allocated at exactly the
 * size the functions are told.
 */
#define _GNU_SOURCE
#include "ipc_internal.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK(c) do { if (!(c)) abort(); } while (0)

enum { HEADER = 34 };

static void check_resolve(const ipc_mechanism *m, const ipc_config *cfg)
{
    ipc_config c;
    int rc = ipc__resolve_config(m, cfg, &c);
    CHECK(rc == IPC_OK || rc == IPC_EINVAL || rc == IPC_ENOTSUP);
    if (rc != IPC_OK) return;
    CHECK(c.max_msg >= 1 && c.max_msg <= m->max_msg_limit);
    CHECK(c.capacity <= (size_t)1 << 30);
    CHECK(!(c.flags & ~(unsigned)(IPC_ATTACH | IPC_ATTACHABLE)));
    CHECK(c.order == IPC_FIFO || (c.order == IPC_LIFO && (m->caps & IPC_CAP_LIFO))
          || (c.order == IPC_PRIORITY && (m->caps & IPC_CAP_PRIORITY)));
    if (c.flags & IPC_ATTACH) CHECK(c.name || c.endpoint);
    if ((c.flags & (IPC_ATTACH | IPC_ATTACHABLE)) || c.name || c.endpoint) CHECK(m->caps & IPC_CAP_UNRELATED);
    CHECK(c.wait == IPC_WAIT_BLOCK || c.wait == IPC_WAIT_SPIN || c.wait == IPC_WAIT_ADAPTIVE);
    unsigned waits = m->waits ? m->waits : IPC_WAIT_BIT(IPC_WAIT_BLOCK);
    CHECK(waits & IPC_WAIT_BIT(c.wait));
    CHECK(c.spin_ns >= 0 && c.spin_ns <= 1000000000L);
    ipc_config again;
    CHECK(ipc__resolve_config(m, &c, &again) == IPC_OK);
    CHECK(memcmp(&again, &c, sizeof c) == 0);
}

static void check_object_name(const char *name, size_t size)
{
    char *out = malloc(size);
    CHECK(out);
    int rc = ipc__object_name(out, size, name, "fuzz");
    CHECK(rc == IPC_OK || rc == IPC_EINVAL);
    const char *bare = name[0] == '/' ? name + 1 : name;
    if (rc == IPC_OK) {
        size_t n = strlen(out); /* ASan: NUL inside the size-byte buffer */
        CHECK(n < size && n <= NAME_MAX);
        CHECK(out[0] == '/' && !strchr(out + 1, '/') && out[1]);
        CHECK(strcmp(out + 1, bare) == 0);
    } else {
        CHECK(!bare[0] || strchr(bare, '/') || strlen(bare) + 1 >= size || strlen(bare) + 1 > NAME_MAX);
    }
    free(out);
}

static void check_generated_pid(const char *leaf, const char *prefix)
{
    int pid = ipc__generated_pid(leaf, prefix);
    CHECK(pid == -1 || pid > 0);
    if (pid > 0) {
        const char *p = prefix ? prefix : ipc__name_prefix();
        size_t n = strlen(p);
        CHECK(strncmp(leaf, p, n) == 0 && leaf[n] == '.');
        char *end;
        CHECK(strtol(leaf + n + 1, &end, 10) == pid && *end == '.');
    }
}

static void check_unique_name(const char *lead, const char *suffix, size_t size)
{
    char *buf = malloc(size);
    CHECK(buf);
    int rc = ipc__unique_name(buf, size, lead, suffix);
    CHECK(rc == IPC_OK || rc == IPC_EINVAL);
    if (rc == IPC_OK) {
        size_t n = strlen(buf);
        CHECK(n < size && strncmp(buf, lead, strlen(lead)) == 0);
        /* "<lead><prefix>.<pid>.<n><suffix>": with no suffix or a '.'-suffix it
         * reads back as ours, when the prefix itself has no '.' to confuse it */
        if ((!suffix[0] || suffix[0] == '.') && !strchr(ipc__name_prefix(), '.'))
            CHECK(ipc__generated_pid(buf + strlen(lead), NULL) == getpid());
    }
    free(buf);
}

static void check_named_path(const char *dir, const char *leaf, size_t size)
{
    char *out = malloc(size);
    CHECK(out);
    int rc = ipc__named_path(out, size, dir, leaf, "fuzz");
    CHECK(rc == IPC_OK || rc == IPC_EINVAL);
    if (rc == IPC_OK) {
        size_t d = strlen(dir);
        CHECK(strlen(out) < size && strncmp(out, dir, d) == 0 && out[d] == '/' && strcmp(out + d + 1, leaf) == 0);
    } else {
        CHECK(strlen(dir) + 1 + strlen(leaf) >= size);
    }
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < HEADER) return 0;
    size_t count;
    const ipc_mechanism *const *all = ipc_mechanisms(&count);
    const ipc_mechanism *m = all[data[0] % count];
    uint8_t sel = data[1];
    ipc_config cfg = { 0 };
    cfg.order = (int8_t)data[2];
    cfg.wait = (int8_t)data[3];
    uint32_t flags;
    uint64_t capacity, max_msg;
    int64_t spin;
    memcpy(&flags, data + 4, 4);
    memcpy(&capacity, data + 8, 8);
    memcpy(&max_msg, data + 16, 8);
    memcpy(&spin, data + 24, 8);
    /* small values are the interesting ones: the low bits of sel keep them small */
    cfg.flags = sel & 8 ? flags : flags & 7u;
    cfg.capacity = sel & 16 ? (size_t)capacity : (size_t)(capacity % 4096);
    cfg.max_msg = sel & 32 ? (size_t)max_msg : (size_t)(max_msg % 300000);
    cfg.spin_ns = sel & 64 ? (long)spin : (long)(spin % 2000000000);
    size_t out_size = 1 + (size_t)(data[32] | data[33] << 8) % 600;

    /* "name\0endpoint\0prefix", each NUL-terminated whatever the input */
    size_t n = size - HEADER;
    char *text = malloc(n + 3);
    CHECK(text);
    memcpy(text, data + HEADER, n);
    text[n] = text[n + 1] = text[n + 2] = '\0';
    char *name = text;
    char *endpoint = name + strlen(name) + 1;
    if (endpoint > text + n) endpoint = text + n + 1;
    char *prefix = endpoint + strlen(endpoint) + 1;
    if (prefix > text + n + 1) prefix = text + n + 2;
    if (sel & 1) cfg.name = name;
    if (sel & 2) cfg.endpoint = endpoint;

    check_resolve(m, sel & 4 ? NULL : &cfg);
    check_object_name(name, out_size);
    check_generated_pid(name, sel & 128 ? prefix : NULL);
    check_unique_name(endpoint, prefix, out_size);
    check_named_path(endpoint, name, out_size);
    free(text);
    return 0;
}
