/*
 * core/segment.h — a named shared-memory segment, created and attached one
 * way (the rules shm, fifo, posix_mq and the event object used to write four
 * times, differently).
 *
 * The lifecycle:
 *   creator   ipc__segment_create: shm_open(O_CREAT|O_EXCL|O_CLOEXEC, 0600)
 *             — never adopts an object someone else made —, ftruncate to
 *             the size, mmap, close the fd; the pages read as zeros.  It
 *             initialises its structure, then ipc__segment_ready stores the
 *             ready magic with RELEASE: an attacher that sees the magic sees
 *             everything written before it.
 *   attacher  ipc__segment_attach: shm_open(O_RDWR|O_CLOEXEC), then waits (up
 *             to IPC_SEGMENT_SETTLE_MS) until the object has at least its
 *             minimum size and the magic reads right (ACQUIRE): the window
 *             between the creator's shm_open and ftruncate, and between
 *             ftruncate and the magic, is a wait, never an error and never a
 *             read of half-made state.  The object's owner must be the
 *             caller's uid (ipc__check_owner, core/stale.h).
 *   release   ipc__segment_release unmaps; the creating process (only it: a
 *             forked child's copy must not pull the name from under its
 *             parent, an attacher never unlinks) also unlinks the name.
 * Names follow core/names.h's object rule ("/word").  A segment created
 * with name NULL is anonymous (MAP_SHARED|MAP_ANONYMOUS, reachable by
 * fork() only).  Every path that fails leaves nothing behind.
 *
 * Tagged segments, for state named after something an attacher can see but
 * whose creator it cannot know (fifo: the FIFO's device and inode).  The
 * creator passes a tag (".fifo.<dev>.<ino>") with IPC_SEGMENT_TAGGED and
 * gets a generated name "/<prefix>.<pid>.<n><tag>": it says whose it is, so
 * the stale sweep (core/stale.h) and ipcplay-clean can judge it once its
 * creator is killed.  Any older segment with the same tag is a dead
 * creator's leftover from an earlier identity (the identity is brand new,
 * e.g. a just-made inode): the creator unlinks it.  An attacher resolves the
 * tag to the name with ipc__segment_find (a listing of /dev/shm, waiting
 * like an attach for a creator still setting up), then attaches as usual.
 */
#ifndef IPCPLAY_CORE_SEGMENT_H
#define IPCPLAY_CORE_SEGMENT_H

#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* How long an attacher waits for a creator that is still setting up. */
#define IPC_SEGMENT_SETTLE_MS 1000

enum ipc_segment_flags {
    /* create: `name` is a tag ('.'-suffix), not a name: see "Tagged" above. */
    IPC_SEGMENT_TAGGED = 1u << 0,
};

typedef struct ipc_segment {
    void  *addr;               /* the mapping; NULL when not mapped            */
    size_t size;               /* bytes mapped                                  */
    pid_t  unlinker;           /* the creating process; 0: never unlink         */
    char   name[NAME_MAX + 1]; /* "/word", or "" for an anonymous segment       */
} ipc_segment;

/* Create (name NULL: anonymous) a zeroed segment of size bytes; with
 * IPC_SEGMENT_TAGGED, name is a tag and s->name the generated name.  IPC_OK,
 * or IPC_EINVAL (bad name or tag), IPC_ESYS (EEXIST: the name is taken). */
int  ipc__segment_create(ipc_segment *s, const char *name, size_t size, unsigned flags);
/* Mark it ready: RELEASE-store magic into *word (inside the segment). */
void ipc__segment_ready(_Atomic uint32_t *word, uint32_t magic);
/* Attach to name: at least min_size bytes, and the uint32 at magic_offset
 * holding magic.  Maps the object's whole size (s->size).  IPC_OK, or
 * IPC_ESYS (no such object: errno ENOENT), IPC_EINVAL (not ready within
 * IPC_SEGMENT_SETTLE_MS: not an ipcplay object, or of another version). */
int  ipc__segment_attach(ipc_segment *s, const char *name, size_t min_size,
                         size_t magic_offset, uint32_t magic);
/* The name ("/<prefix>.<pid>.<n><tag>") of the tagged segment of a live
 * creator (else of any creator) into out, waiting up to
 * IPC_SEGMENT_SETTLE_MS for one to appear.  IPC_OK, IPC_EINVAL (a tag
 * without a leading '.' or with '/'; too long), IPC_ESYS (none: errno
 * ENOENT). */
int  ipc__segment_find(char *out, size_t size, const char *tag);
/* Unmap; the creating process also unlinks.  Idempotent; zeroes *s. */
void ipc__segment_release(ipc_segment *s);

#endif /* IPCPLAY_CORE_SEGMENT_H */
