/*
 * stream.h — messages over a byte stream (pipe, socketpair, FIFO, Unix
 * stream socket, TCP): what those mechanisms share, written once.
 *
 * Wire format: a 4-byte length in host byte order, then the payload, sent
 * with one writev/sendmsg.  (TCP between hosts of different byte order is
 * out of scope for a playground on one machine kind; say so if you port it.)
 *
 * State shared by every holder of the channel (locks, the read buffer, the
 * shutdown flag) lives in an ipc_stream_shared placed in shared memory: an
 * anonymous mapping for channels inherited by fork(), a named shm object for
 * channels attached by name.
 */
#ifndef IPCPLAY_STREAM_H
#define IPCPLAY_STREAM_H

#include "../ipc_internal.h"

#include <stdint.h>

#define IPC_STREAM_HEADER  sizeof(uint32_t)
#define IPC_STREAM_RBUF    (64 * 1024)        /* one read(2) takes up to this much */
#define IPC_STREAM_SENTINEL 0xFFFFFFFFu       /* never a header: sizes stay below 2^30 */
#define IPC_STREAM_MAX_MSG ((size_t)1 << 30)  /* fits the 32-bit length prefix     */

/* ipc_stream.room_kind */
enum { IPC_STREAM_ROOM_NONE = 0, IPC_STREAM_ROOM_PIPE = 1, IPC_STREAM_ROOM_UNIX = 2 };

typedef struct ipc_stream_shared {
    pthread_mutex_t write_lock; /* held by every sender while it checks "shut" and
                                   writes (non-blocking calls only, except for a
                                   frame larger than the kernel buffer)       */
    pthread_mutex_t read_lock;  /* held by the one receiver parsing the stream  */
    atomic_bool     shut;       /* ipc_close() was called by some holder        */
    atomic_bool     broken;     /* a holder died mid-frame: stream unparseable  */
    atomic_bool     long_hold;  /* write_lock is held across waits (a frame
                                   larger than the kernel buffer): a nowait
                                   sender does not wait for it              */
    bool            in_large_read; /* a frame is being read past the buffer */
    bool            mid_frame;     /* write_lock holder has sent part of a frame */
    _Atomic uint64_t sent;      /* bytes of whole frames written (write_lock)   */
    /* The window (read_lock): rbuf[rd_start, rd_end) holds bytes taken out
     * of the kernel and not yet handed out.  Before each read, the read's
     * record (pend_*) and a sentinel where the next header will land say
     * how to finish the read's bookkeeping if the reader dies in it. */
    bool            pend;       /* a read is recorded: pend_from, pend_n, pend_at */
    size_t          pend_from;  /* rd_end before the read                        */
    size_t          pend_n;     /* bytes it takes (all that FIONREAD counted)    */
    size_t          pend_at;    /* where IPC_STREAM_SENTINEL was written         */
    size_t          rd_start;
    size_t          rd_end;
    unsigned char   rbuf[IPC_STREAM_RBUF];
} ipc_stream_shared;

typedef struct ipc_stream {
    ipc_channel        base;
    int                rfd, wfd;   /* the same fd for a socket used both ways   */
    int                shut_fd;    /* eventfd shared by all holders (-1: none):
                                      readable once the channel is shut down    */
    bool               is_socket;  /* send with MSG_NOSIGNAL                     */
    bool               is_tcp;     /* bytes may be in flight after a send       */
    bool               holds_reader; /* a pipe whose read end we hold too: a
                                      write can never raise SIGPIPE           */
    int                room_kind;  /* how to tell a frame fits the kernel buffer
                                      whole: IPC_STREAM_ROOM_* (0: cannot tell) */
    size_t             atomic_max; /* frames up to this size go in whole or not
                                      at all in one call (PIPE_BUF; one skb)    */
    atomic_int         pollset;    /* epoll fd over rfd + shut_fd, plus one; made
                                      at the first ipc_pollfd (0: none, so a
                                      zeroed struct is valid)                   */
    ipc_stream_shared *shared;
    bool               shared_is_mapped; /* ours to munmap (anonymous mapping)  */
    /* A batch's room rule where the engine has none of its own (TCP: tcp.c
     * sets it on the owner's and attachers' handles; NULL elsewhere).  With
     * write_lock held: how many bytes of the `want` the next frames take may
     * start in one write now with every frame going in whole (*room, may be
     * 0: the batch then sends its next frame through the ops' send), or an
     * IPC_E* code that ends the batch. */
    int              (*batch_room)(struct ipc_stream *s, size_t want, size_t *room);
} ipc_stream;

/* Set a stream up over rfd/wfd (made non-blocking here).  shared == NULL
 * allocates an anonymous shared mapping with fresh locks; otherwise the
 * caller provides (and later releases) an initialised one.  On failure the
 * fds are NOT closed: they stay the caller's. */
int  ipc__stream_init(ipc_stream *s, int rfd, int wfd, bool is_socket, ipc_stream_shared *shared);
int  ipc__stream_shared_init(ipc_stream_shared *sh);
/* Close the fds and release what ipc__stream_init created; not s itself. */
void ipc__stream_destroy(ipc_stream *s);

/* The frame parser, pure (no I/O): what the unparsed bytes rbuf[start, end)
 * of a read buffer of rbuf_size bytes hold, for a receiver with a cap-byte
 * buffer.  *size gets the frame's payload length once the header is there.
 * CORRUPT: the indices are out of range (shared memory a holder wrote
 * wrongly) and must not be followed.  tests/fuzz/stream_parse fuzzes it. */
enum { IPC_FRAME_NEED_MORE, IPC_FRAME_WHOLE, IPC_FRAME_LARGE, IPC_FRAME_TOO_BIG, IPC_FRAME_CORRUPT };
int  ipc__stream_parse(const unsigned char *rbuf, size_t rbuf_size, size_t start, size_t end, size_t cap,
                       uint32_t *size);

#ifdef IPC_TESTING
/* Fault injection, built only into the tests' copy of the library (the
 * Makefile's TEST_LIB).  fn runs inside ipc_recv right after a system call
 * took bytes out of the kernel buffer, before the receiver has recorded
 * anything: a test kills the process there (SIGKILL) to prove a killed
 * receiver takes at most the message it was receiving.  Process-wide;
 * NULL removes it. */
typedef void (*ipc__stream_take_hook_fn)(ipc_channel *ch);
void ipc__stream_set_take_hook(ipc__stream_take_hook_fn fn);
/* fn runs inside a batch send (ipc_stream_send_batch) right after each
 * write system call that the kernel took bytes from, write_lock still
 * held, before the sender has counted the frames: a test counts the calls
 * a batch makes, or kills the sender there (SIGKILL) to prove a killed
 * batch sender leaves only whole frames.  `frames`: whole frames the call
 * carried.  Process-wide; NULL removes it. */
typedef void (*ipc__stream_send_hook_fn)(ipc_channel *ch, size_t frames);
void ipc__stream_set_send_hook(ipc__stream_send_hook_fn fn);
#endif

/* ops a stream mechanism can put straight into its table */
int  ipc__stream_send(ipc_channel *ch, const void *msg, size_t len, int prio, const ipc_deadline *d);
int  ipc__stream_recv(ipc_channel *ch, void *buf, size_t cap, size_t *len, int *prio, const ipc_deadline *d);
int  ipc__stream_close(ipc_channel *ch);
int  ipc__stream_pollfd(ipc_channel *ch);
/* The engine half of ipc_stream_send_batch (pipes/stream_info.h): msgs
 * checked by the caller (lens <= max_msg), d from dispatch.  *sent gets the
 * number of leading messages the kernel holds; IPC_OK iff all n. */
int  ipc__stream_send_batch(ipc_channel *ch, const void *const *msgs, const size_t *lens, size_t n,
                            const ipc_deadline *d, size_t *sent);

#endif
