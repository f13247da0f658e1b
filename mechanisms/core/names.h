/*
 * core/names.h — every name the library makes up or accepts, under one rule.
 *
 *   generated  "<prefix>.<pid>.<counter><suffix>": the prefix is "ipcplay" or
 *              $IPCPLAY_NAME_PREFIX (tests use a per-run prefix so they can
 *              prove they left nothing behind), the pid says whose it is.
 *   objects    POSIX shm and mq names: "/word" — one leading slash, no other,
 *              at most NAME_MAX bytes; "word" is accepted and gets the slash.
 *   temp dirs  "$TMPDIR/<generated>.XXXXXX", mode 0700 (mkdtemp), for the
 *              paths of fifos, Unix sockets and broker servers.
 * Only the creating process removes a name (ipc.h: "the creator unlinks").
 */
#ifndef IPCPLAY_CORE_NAMES_H
#define IPCPLAY_CORE_NAMES_H

#include <stddef.h>

/* "ipcplay" or $IPCPLAY_NAME_PREFIX. */
const char *ipc__name_prefix(void);
/* A unique name "<lead><prefix>.<pid>.<counter><suffix>" (lead/suffix may be
 * NULL).  IPC_OK, or IPC_EINVAL if it does not fit in size. */
int ipc__unique_name(char *buf, size_t size, const char *lead, const char *suffix);
/* The creator's pid of a generated name: leaf is "<prefix>.<pid>.<n>"
 * followed by nothing or a '.'-suffix; -1 if it is not one (prefix NULL:
 * ipc__name_prefix()). */
int ipc__generated_pid(const char *leaf, const char *prefix);
/* The object-name rule: name ("word" or "/word") as "/word" into out.
 * IPC_OK, or IPC_EINVAL naming `what` (empty, another '/', too long). */
int ipc__object_name(char *out, size_t size, const char *name, const char *what);
/* Make a private directory "$TMPDIR/<generated>.XXXXXX" (mode 0700, /tmp when
 * TMPDIR is unset) for generated names.  IPC_OK, IPC_ESYS, or IPC_EINVAL
 * (does not fit in size); `mech` names the caller in messages. */
int ipc__named_tempdir(char *dir, size_t size, const char *mech);
/* Remove a temp dir and everything below it (best effort: what cannot be
 * removed stays, and a leftover check will name it). */
void ipc__remove_tree(const char *dir);
/* "dir/leaf" into out, or IPC_EINVAL naming `what` if it does not fit. */
int ipc__named_path(char *out, size_t size, const char *dir, const char *leaf, const char *what);

#endif /* IPCPLAY_CORE_NAMES_H */
