/*
 * core/names.c — generated names, the object-name rule and temp dirs (names.h).
 * The only state is the counter of generated names (atomic: threads may
 * open channels at the same time).
 */
#define _GNU_SOURCE
#include "core/names.h"
#include "core/error.h"

#include <ctype.h>
#include <ftw.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *ipc__name_prefix(void)
{
    const char *p = getenv("IPCPLAY_NAME_PREFIX");
    return (p && *p) ? p : "ipcplay";
}

int ipc__unique_name(char *buf, size_t size, const char *lead, const char *suffix)
{
    static atomic_uint counter; /* RELAXED would do: only uniqueness matters */
    unsigned n = atomic_fetch_add(&counter, 1);
    int len = snprintf(buf, size, "%s%s.%ld.%u%s", lead ? lead : "", ipc__name_prefix(),
                       (long)getpid(), n, suffix ? suffix : "");
    if (len < 0 || (size_t)len >= size)
        return ipc__fail(IPC_EINVAL, "generated name does not fit in %zu bytes", size);
    return IPC_OK;
}

/* "<prefix>.<pid>.<n>" then end or '.' (names.h). */
int ipc__generated_pid(const char *name, const char *prefix)
{
    if (!prefix) prefix = ipc__name_prefix();
    size_t n = strlen(prefix);
    if (strncmp(name, prefix, n) != 0 || name[n] != '.') return -1;
    const char *p = name + n + 1;
    if (!isdigit((unsigned char)*p)) return -1;
    char *end;
    long pid = strtol(p, &end, 10);
    if (*end != '.' || pid <= 0 || pid > INT_MAX) return -1;
    p = end + 1;
    if (!isdigit((unsigned char)*p)) return -1;
    while (isdigit((unsigned char)*p)) p++;
    if (*p != '\0' && *p != '.') return -1;
    return (int)pid;
}

int ipc__object_name(char *out, size_t size, const char *name, const char *what)
{
    const char *bare = name[0] == '/' ? name + 1 : name;
    if (!bare[0] || strchr(bare, '/'))
        return ipc__fail(IPC_EINVAL, "%s: name '%s' must be \"/word\" with no other '/'", what, name);
    int n = snprintf(out, size, "/%s", bare);
    if (n < 0 || (size_t)n >= size || n > NAME_MAX)
        return ipc__fail(IPC_EINVAL, "%s: name '%.40s...' is longer than %d bytes", what, name,
                         (size < NAME_MAX + 1 ? (int)size : NAME_MAX + 1) - 2);
    return IPC_OK;
}

int ipc__named_tempdir(char *dir, size_t size, const char *mech)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp) tmp = "/tmp";
    char lead[4096];
    int n = snprintf(lead, sizeof lead, "%s/", tmp);
    if (n < 0 || (size_t)n >= sizeof lead)
        return ipc__fail(IPC_EINVAL, "%s: $TMPDIR is too long", mech);
    if (ipc__unique_name(dir, size, lead, ".XXXXXX") != IPC_OK)
        return ipc__fail(IPC_EINVAL, "%s: a directory name under '%s' does not fit in %zu bytes",
                         mech, tmp, size);
    if (!mkdtemp(dir)) return ipc__fail(IPC_ESYS, "%s: mkdtemp('%s')", mech, dir);
    return IPC_OK;
}

int ipc__named_path(char *out, size_t size, const char *dir, const char *leaf, const char *what)
{
    int n = snprintf(out, size, "%s/%s", dir, leaf);
    if (n < 0 || (size_t)n >= size)
        return ipc__fail(IPC_EINVAL, "%s: path '%s/%s' is longer than %zu bytes", what, dir, leaf, size - 1);
    return IPC_OK;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    remove(path);
    return 0; /* go on with the rest */
}

void ipc__remove_tree(const char *dir) { nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS); }
