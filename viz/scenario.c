/*
 * scenario.c — defaults, the scenario file and the command-line keys, with
 * one table of keys so the file and the flags accept exactly the same words
 * and ranges.
 */
#define _GNU_SOURCE
#include "scenario.h"

#include "ipc.h"

#include <ctype.h>
#include <limits.h>
#include <unistd.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void viz_scenario_default(viz_scenario *s)
{
    *s = (viz_scenario){
        .mech = "queue", .producers = 2, .consumers = 1, .capacity = 4,
        .send_delay_ms = 60, .recv_delay_ms = 300, .messages = 0,
        .msg_size = VIZ_MSG_MIN, .burst = 8, .pause_ms = 2500, .processes = false,
    };
}

enum key_type { K_STR, K_INT, K_LONG, K_SIZE, K_BOOL, K_WAIT };

static const struct key {
    const char   *name;
    enum key_type type;
    size_t        offset;
    long          min, max;
} keys[] = {
    { "mech",          K_STR,  offsetof(viz_scenario, mech),          0, 0 },
    { "producers",     K_INT,  offsetof(viz_scenario, producers),     1, VIZ_MAX_PRODUCERS },
    { "consumers",     K_INT,  offsetof(viz_scenario, consumers),     1, VIZ_MAX_CONSUMERS },
    { "capacity",      K_SIZE, offsetof(viz_scenario, capacity),      0, 1 << 20 },
    { "send-delay-ms", K_INT,  offsetof(viz_scenario, send_delay_ms), 0, 60000 },
    { "recv-delay-ms", K_INT,  offsetof(viz_scenario, recv_delay_ms), 0, 60000 },
    { "messages",      K_LONG, offsetof(viz_scenario, messages),      0, 1L << 40 },
    { "msg-size",      K_SIZE, offsetof(viz_scenario, msg_size),      VIZ_MSG_MIN, VIZ_MSG_MAX },
    { "burst",         K_INT,  offsetof(viz_scenario, burst),         0, 1 << 20 },
    { "pause-ms",      K_INT,  offsetof(viz_scenario, pause_ms),      0, 600000 },
    { "processes",     K_BOOL, offsetof(viz_scenario, processes),     0, 1 },
    { "wait",          K_WAIT, offsetof(viz_scenario, wait),          0, 0 },
};

const char viz_scenario_keys[] =
    "mech, producers, consumers, capacity, send-delay-ms, recv-delay-ms, "
    "messages, msg-size, burst, pause-ms, processes, wait";

/* "send_delay_ms" and "send-delay-ms" name the same key. */
static bool same_key(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (*a != *b && !((*a == '_' || *a == '-') && (*b == '_' || *b == '-'))) return false;
    return *a == *b;
}

int viz_scenario_set(viz_scenario *s, const char *key, const char *value, char *err, size_t errlen)
{
    const struct key *k = NULL;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (same_key(keys[i].name, key)) k = &keys[i];
    if (!k) {
        snprintf(err, errlen, "unknown key '%s' (known: %s)", key, viz_scenario_keys);
        return -1;
    }
    char *field = (char *)s + k->offset;
    if (k->type == K_STR) {
        if (!*value || strlen(value) >= sizeof s->mech) {
            snprintf(err, errlen, "%s: give a mechanism name (see --list)", k->name);
            return -1;
        }
        snprintf(field, sizeof s->mech, "%s", value);
        return 0;
    }
    if (k->type == K_BOOL) {
        if (!strcmp(value, "1") || !strcmp(value, "yes") || !strcmp(value, "true")) *(bool *)field = true;
        else if (!strcmp(value, "0") || !strcmp(value, "no") || !strcmp(value, "false")) *(bool *)field = false;
        else {
            snprintf(err, errlen, "%s: '%s' is not yes/no", k->name, value);
            return -1;
        }
        return 0;
    }
    if (k->type == K_WAIT) {
        int w = ipc_wait_parse(value);
        if (w < 0) {
            snprintf(err, errlen, "%s: '%s' is not default, block, spin or adaptive", k->name, value);
            return -1;
        }
        *(int *)field = w;
        return 0;
    }
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno || end == value || *end || v < k->min || v > k->max) {
        snprintf(err, errlen, "%s: '%s' is not a whole number from %ld to %ld", k->name, value, k->min, k->max);
        return -1;
    }
    switch (k->type) {
    case K_INT:  *(int *)field = (int)v; break;
    case K_LONG: *(long *)field = v; break;
    case K_SIZE: *(size_t *)field = (size_t)v; break;
    default: break;
    }
    return 0;
}

static char *trim(char *p)
{
    while (isspace((unsigned char)*p)) p++;
    char *e = p + strlen(p);
    while (e > p && isspace((unsigned char)e[-1])) *--e = '\0';
    return p;
}

/* A bare name ("unlocked-race", with or without ".scn") is looked up where
 * the lessons live: $IPCVIZ_SCENARIOS, then beside the executable — installed
 * (<prefix>/bin/ipcviz -> <prefix>/share/ipcplay/scenarios) or in the tree
 * (build/ipcviz, build/<dir>/ipcviz -> viz/scenarios).  A path with a '/' or
 * a file that exists is used as it is.  Returns the FILE or NULL (errno). */
static FILE *open_scenario(const char *name, char *found, size_t size)
{
    FILE *f = fopen(name, "r");
    if (f || errno != ENOENT || strchr(name, '/')) return f;
    const char *ext = strlen(name) > 4 && !strcmp(name + strlen(name) - 4, ".scn") ? "" : ".scn";
    char dirs[4][PATH_MAX];
    int n = 0;
    const char *env = getenv("IPCVIZ_SCENARIOS");
    if (env && *env) snprintf(dirs[n++], sizeof dirs[0], "%s", env);
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';                       /* exe = the binary's directory */
        snprintf(dirs[n++], sizeof dirs[0], "%.*s/../share/ipcplay/scenarios", PATH_MAX - 40, exe);
        snprintf(dirs[n++], sizeof dirs[0], "%.*s/../viz/scenarios", PATH_MAX - 40, exe);
        snprintf(dirs[n++], sizeof dirs[0], "%.*s/../../viz/scenarios", PATH_MAX - 40, exe);
    }
    for (int i = 0; i < n; i++) {
        snprintf(found, size, "%.*s/%s%s", PATH_MAX, dirs[i], name, ext);
        if ((f = fopen(found, "r")) != NULL) return f;
    }
    errno = ENOENT;
    return NULL;
}

int viz_scenario_load(viz_scenario *s, const char *name, char *err, size_t errlen)
{
    char found[2 * PATH_MAX + 64];
    snprintf(found, sizeof found, "%s", name);
    FILE *f = open_scenario(name, found, sizeof found);
    const char *path = found;
    if (!f) {
        snprintf(err, errlen, "%s: %s%s", name, strerror(errno),
                 strchr(name, '/') ? "" : " (looked in $IPCVIZ_SCENARIOS, <prefix>/share/ipcplay/scenarios, viz/scenarios)");
        return -1;
    }
    char line[512], why[256];
    int rc = 0;
    for (int n = 1; fgets(line, sizeof line, f); n++) {
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        char *p = trim(line);
        if (!*p) continue;
        char *eq = strchr(p, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected 'key = value'", path, n);
            rc = -1;
            break;
        }
        *eq = '\0';
        if (viz_scenario_set(s, trim(p), trim(eq + 1), why, sizeof why) != 0) {
            snprintf(err, errlen, "%s:%d: %s", path, n, why);
            rc = -1;
            break;
        }
    }
    if (rc == 0 && ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        rc = -1;
    }
    fclose(f);
    return rc;
}

int viz_scenario_check(const viz_scenario *s, char *err, size_t errlen)
{
    if (!strcmp(s->mech, VIZ_TOY_NAME)) {
        if (s->processes) {
            snprintf(err, errlen, "the '%s' toy queue lives in one process: drop --processes", VIZ_TOY_NAME);
            return -1;
        }
        return 0;
    }
    const ipc_mechanism *m = ipc_find(s->mech);
    if (!m) {
        snprintf(err, errlen, "unknown mechanism '%s' (see --list)", s->mech);
        return -1;
    }
    if (s->processes && !(m->caps & IPC_CAP_FORK)) {
        snprintf(err, errlen, "'%s' cannot cross fork() (no IPC_CAP_FORK): drop --processes", m->name);
        return -1;
    }
    if (s->processes && (m->caps & IPC_CAP_PEER)) {
        snprintf(err, errlen, "'%s' sends to one peer process (a child's messages go to its parent, IPC_CAP_PEER): "
                 "forked producers and consumers are siblings and cannot reach each other: use --threads", m->name);
        return -1;
    }
    if (!(m->caps & IPC_CAP_MPMC) && (s->producers > 1 || s->consumers > 1)) {
        snprintf(err, errlen, "'%s' allows one sender and one receiver (no IPC_CAP_MPMC): "
                 "use --producers 1 --consumers 1", m->name);
        return -1;
    }
    if (m->max_msg_limit < VIZ_MSG_MIN) {
        snprintf(err, errlen, "'%s' carries at most %zu bytes; the visualizer needs %d per message",
                 m->name, m->max_msg_limit, VIZ_MSG_MIN);
        return -1;
    }
    unsigned waits = m->waits ? m->waits : IPC_WAIT_BIT(IPC_WAIT_BLOCK);
    if (s->wait != IPC_WAIT_DEFAULT && !(waits & IPC_WAIT_BIT(s->wait))) {
        snprintf(err, errlen, "'%s' cannot wait by '%s' (see ipcbench --list)", m->name, ipc_wait_name(s->wait));
        return -1;
    }
    if (s->msg_size > m->max_msg_limit) {
        snprintf(err, errlen, "msg-size %zu exceeds what '%s' can carry (%zu bytes)",
                 s->msg_size, m->name, m->max_msg_limit);
        return -1;
    }
    return 0;
}
