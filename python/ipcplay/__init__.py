"""ipcplay -- the ipcplay channels from Python, shaped like queue and multiprocessing.

    import ipcplay
    q = ipcplay.Queue("shm", maxsize=3)     # any mechanism: "procq", "pipe", "posix_mq" ...
    q.put(b"job")                           # blocks while full; put_nowait / timeout=
    q.get(timeout=1.0)                      # -> b"job"; raises ipcplay.Empty on timeout
    q.close()                               # shutdown for every holder: gets drain, then Closed

    r, w = ipcplay.Pipe(duplex=False)       # Connection objects: send_bytes / recv_bytes

Messages are bytes in and bytes out (pickle them yourself if you want objects,
as with multiprocessing's Connection.send_bytes).  A Queue or a Connection
made before os.fork() (multiprocessing's "fork" start method) works in both
processes.  An unrelated process attaches with the dict that attach_config()
returns (open the queue with attachable=True, on a mechanism that can be
attached by name: "shm", "posix_mq", "fifo", "unix", "tcp", ...):

    cfg = q.attach_config()                 # picklable dict
    q2 = ipcplay.Queue.attach(cfg)          # in the other process

Such a Queue also pickles (through its attach config), so it can be passed to
a "spawn" child or through a multiprocessing Pool.

Errors: every negative code of ipc.h becomes an exception carrying the code
and ipc_last_error()'s text: Full (also a queue.Full), Empty (also a
queue.Empty), Closed (also an EOFError, what a closed multiprocessing pipe
raises), MessageTooLarge and InvalidArgument (also ValueError),
UnknownMechanism, NotSupported, SystemError_ (also an OSError, with errno).

close() is ipcplay's ipc_close, i.e. Python 3.13's Queue.shutdown(): puts
fail at once, gets return what is queued and then raise Closed, blocked
callers wake, for every holder in every process.  free() releases only this
process's handle (also done by the garbage collector and by "with").
Connection.close() is multiprocessing's: it releases this end only; the
other end sees Closed (EOFError) once every copy of this end is gone.
"""
import ctypes
import math
import queue as _queue
import threading

from . import _lib
from ._lib import Config, lib

__all__ = ["Queue", "Pipe", "Connection", "IpcError", "Full", "Empty", "Closed", "MessageTooLarge",
           "InvalidArgument", "UnknownMechanism", "SystemError_", "NotSupported", "Timeout", "mechanisms",
           "find", "strerror", "last_error", "now_ns", "library_path"]

library_path = _lib.path

# ---- error codes (ipc.h) ------------------------------------------------------------
OK, EFULL, EEMPTY, ECLOSED, EMSGSIZE, EINVAL, ENOMECH, ESYS, ENOTSUP, ETIMEDOUT = 0, -1, -2, -3, -4, -5, -6, -7, -8, -9
FIFO, LIFO, PRIORITY = 0, 1, 2
ATTACH, ATTACHABLE = 1, 2
CAPS = {"threads": 1 << 0, "fork": 1 << 1, "unrelated": 1 << 2, "hosts": 1 << 3, "mpmc": 1 << 4,
        "priority": 1 << 5, "bounded": 1 << 6, "persistent": 1 << 7, "broadcast": 1 << 8, "poll": 1 << 9,
        "fifo": 1 << 10, "lifo": 1 << 11, "close_wakes": 1 << 12}


class IpcError(Exception):
    """An ipc_* call failed: .code is the IPC_E* value, .detail ipc_last_error()."""

    def __init__(self, code, detail, what=""):
        self.code, self.detail = code, detail
        text = strerror(code) + (f": {detail}" if detail else "")
        super().__init__(f"{what}: {text}" if what else text)


class Full(IpcError, _queue.Full):
    pass


class Empty(IpcError, _queue.Empty):
    pass


class Closed(IpcError, EOFError):
    pass


class MessageTooLarge(IpcError, ValueError):
    pass


class InvalidArgument(IpcError, ValueError):
    pass


class UnknownMechanism(IpcError, ValueError):
    pass


class NotSupported(IpcError):
    pass


class Timeout(IpcError, TimeoutError):
    """IPC_ETIMEDOUT: a wait for a state (not for a message or room) timed out."""


class SystemError_(IpcError, OSError):
    """IPC_ESYS: a system call failed; .errno is what it set."""

    def __init__(self, code, detail, what="", errno_=0):
        IpcError.__init__(self, code, detail, what)
        self.errno = errno_


_EXC = {EFULL: Full, EEMPTY: Empty, ECLOSED: Closed, EMSGSIZE: MessageTooLarge, EINVAL: InvalidArgument,
        ENOMECH: UnknownMechanism, ESYS: SystemError_, ENOTSUP: NotSupported, ETIMEDOUT: Timeout}


def strerror(code):
    return lib.ipc_strerror(code).decode()


def last_error():
    return lib.ipc_last_error().decode(errors="replace")


def _raise(code, what):
    """Raise the exception for a negative code; right after the failing call,
    in the same thread, so ipc_last_error() still describes it."""
    cls = _EXC.get(code, IpcError)
    detail = last_error()
    if cls is SystemError_:
        raise SystemError_(code, detail, what, ctypes.get_errno())
    raise cls(code, detail, what)


def now_ns():
    """CLOCK_MONOTONIC in ns: the clock of every timestamp in ipcplay."""
    return lib.ipc_now_ns()


class MechanismInfo:
    """One registry entry (struct ipc_mechanism)."""

    def __init__(self, m):
        self.name = m.name.decode()
        self.family = m.family.decode()
        self.summary = m.summary.decode()
        self.caps = m.caps
        self.max_msg_limit = m.max_msg_limit
        self.default_max_msg = m.default_max_msg
        self.default_capacity = m.default_capacity
        self.wait_strategy = m.wait_strategy.decode()
        # what the mechanism is, as data (ipc.h): choose by these, not by name
        self.family_id = m.family_id
        self.carrier = (lib.ipc_carrier_name(m.carrier) or b"?").decode()
        self.variant = m.variant

    def has(self, cap):
        return bool(self.caps & CAPS[cap])

    def __repr__(self):
        return f"<ipcplay mechanism {self.name} ({self.family})>"


def mechanisms():
    """Every registered mechanism, in course order."""
    n = _lib.SZ()
    arr = lib.ipc_mechanisms(ctypes.byref(n))
    return [MechanismInfo(arr[i].contents) for i in range(n.value)]


def find(name):
    """The MechanismInfo of name, or None."""
    m = lib.ipc_find(name.encode())
    return MechanismInfo(m.contents) if m else None


def _timeout_ms(block, timeout):
    """queue.Queue's block/timeout to ipc.h's timeout_ms (-1, 0, >0)."""
    if not block:
        return 0
    if timeout is None:
        return -1
    if timeout < 0:
        raise ValueError("'timeout' must be a non-negative number")
    ms = math.ceil(timeout * 1000)  # never wait less than asked
    return min(ms, 2**31 - 1)


def _bytes(obj):
    if isinstance(obj, bytes):
        return obj
    try:
        return bytes(memoryview(obj))
    except TypeError:
        raise TypeError(f"ipcplay sends bytes-like objects, not {type(obj).__name__} "
                        "(pickle.dumps it first)") from None


class _Handle:
    """One ipc_channel of this process; freed once (free(), with, or garbage collection)."""

    __slots__ = ("ch", "max_msg", "_local", "__weakref__")

    def __init__(self, ch):
        self.ch = ch
        self.max_msg = lib.ipc_max_msg(ch)
        self._local = threading.local()  # a receive buffer per thread (calls release the GIL)

    def buffer(self, size):
        buf = getattr(self._local, "buf", None)
        if buf is None or len(buf) < size:
            buf = self._local.buf = ctypes.create_string_buffer(max(size, 64))
        return buf

    def send(self, data, prio, timeout_ms):
        data = _bytes(data)
        rc = lib.ipc_send(self.live(), data, len(data), prio, timeout_ms)
        if rc < 0:
            _raise(rc, "send")

    def recv(self, timeout_ms, want_prio=False):
        ch = self.live()
        n = _lib.SZ()
        prio = ctypes.c_int()
        size = self.max_msg or 65536
        while True:
            buf = self.buffer(size)
            rc = lib.ipc_recv(ch, buf, len(buf), ctypes.byref(n), ctypes.byref(prio), timeout_ms)
            if rc == EMSGSIZE and n.value > len(buf):  # the message stays queued: grow and retry
                size = n.value
                continue
            if rc < 0:
                _raise(rc, "recv")
            data = ctypes.string_at(buf, n.value)
            return (data, prio.value) if want_prio else data

    def live(self):
        if not self.ch:
            raise ValueError("ipcplay: this handle was freed")
        return self.ch

    def free(self):
        ch, self.ch = self.ch, None
        if ch:
            lib.ipc_free(ch)

    def __del__(self):
        try:
            self.free()
        except Exception:
            pass


def _cfg_dict(cfg, mechanism):
    return {"mechanism": mechanism, "capacity": cfg.capacity, "max_msg": cfg.max_msg, "order": cfg.order,
            "name": cfg.name.decode() if cfg.name else None,
            "endpoint": cfg.endpoint.decode() if cfg.endpoint else None, "flags": cfg.flags}


def _open(mechanism, capacity=0, max_msg=0, order=FIFO, name=None, endpoint=None, flags=0):
    name_b = name.encode() if name is not None else None
    endpoint_b = endpoint.encode() if endpoint is not None else None
    cfg = Config(capacity=capacity, max_msg=max_msg, order=order, name=name_b, endpoint=endpoint_b,
                 flags=flags)
    ch = _lib.P()
    rc = lib.ipc_open(mechanism.encode(), ctypes.byref(cfg), ctypes.byref(ch))
    if rc < 0:
        _raise(rc, f"ipc_open({mechanism!r})")
    return _Handle(ch)


class Queue:
    """A message queue over any ipcplay mechanism, with queue.Queue's calls.

    Queue(mechanism="procq", maxsize=0, max_msg=0, *, order=FIFO, name=None,
          endpoint=None, attachable=False)

    maxsize: messages in flight before put blocks (0 = the mechanism's default,
    as for every ipc_open); max_msg: the largest message in bytes (0 = default).
    """

    def __init__(self, mechanism="procq", maxsize=0, max_msg=0, *, order=FIFO, name=None, endpoint=None,
                 attachable=False, _flags=None):
        if maxsize < 0 or max_msg < 0:
            raise ValueError("maxsize and max_msg must be >= 0")
        flags = _flags if _flags is not None else (ATTACHABLE if attachable and name is None else 0)
        self.mechanism = mechanism
        self._h = _open(mechanism, maxsize, max_msg, order, name, endpoint, flags)

    @classmethod
    def attach(cls, cfg):
        """Attach to the queue another process described with attach_config()."""
        return cls(cfg["mechanism"], cfg.get("capacity", 0), cfg.get("max_msg", 0), order=cfg.get("order", 0),
                   name=cfg.get("name"), endpoint=cfg.get("endpoint"), _flags=cfg.get("flags", ATTACH) | ATTACH)

    def attach_config(self):
        """A picklable dict that Queue.attach() turns into a handle on this queue,
        in any process (ipc_attach_config)."""
        cfg = Config()
        rc = lib.ipc_attach_config(self._h.live(), ctypes.byref(cfg))
        if rc < 0:
            _raise(rc, "attach_config (open the queue with attachable=True, on a mechanism with the "
                       "'unrelated' capability)")
        return _cfg_dict(cfg, self.mechanism)

    def __reduce__(self):
        # Pickling (a "spawn" child, a Pool) travels as the attach config.
        return (Queue.attach, (self.attach_config(),))

    # -- queue.Queue's calls
    def put(self, item, block=True, timeout=None, prio=0):
        """Send bytes; Full when the queue stays full past the timeout, Closed after close()."""
        self._h.send(item, prio, _timeout_ms(block, timeout))

    def get(self, block=True, timeout=None):
        """The next message as bytes; Empty on timeout, Closed once closed and drained."""
        return self._h.recv(_timeout_ms(block, timeout))

    def get_with_prio(self, block=True, timeout=None):
        """(bytes, priority) of the next message."""
        return self._h.recv(_timeout_ms(block, timeout), want_prio=True)

    def put_nowait(self, item, prio=0):
        return self.put(item, False, prio=prio)

    def get_nowait(self):
        return self.get(False)

    def qsize(self):
        """Messages queued now: a hint, as in Python.  NotImplementedError if the
        mechanism cannot tell (as multiprocessing.Queue.qsize on macOS)."""
        n = lib.ipc_depth(self._h.live())
        if n < 0:
            raise NotImplementedError(f"{self.mechanism} cannot count its messages")
        return n

    def empty(self):
        return self.qsize() == 0

    def full(self):
        cap = self.maxsize
        return cap > 0 and self.qsize() >= cap

    @property
    def maxsize(self):
        """The effective capacity (0 = unbounded)."""
        return lib.ipc_capacity(self._h.live())

    @property
    def max_msg(self):
        return self._h.max_msg

    def info(self):
        """The MechanismInfo this queue runs on."""
        return MechanismInfo(lib.ipc_channel_mechanism(self._h.live()).contents)

    def fileno(self):
        """An fd that polls readable when a get may succeed (select/selectors), or -1."""
        return lib.ipc_pollfd(self._h.live())

    def close(self):
        """Shut the queue down for every holder (Queue.shutdown(immediate=False))."""
        rc = lib.ipc_close(self._h.live())
        if rc < 0:
            _raise(rc, "close")

    shutdown = close

    def free(self):
        """Release this process's handle (the queue stays for the others)."""
        self._h.free()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.free()

    def __repr__(self):
        state = "freed" if not self._h.ch else f"maxsize={self.maxsize} max_msg={self.max_msg}"
        return f"<ipcplay.Queue {self.mechanism} {state}>"


class Connection:
    """One end of a Pipe: multiprocessing.connection.Connection's bytes calls."""

    def __init__(self, handle, readable, writable):
        self._h, self.readable, self.writable = handle, readable, writable

    def send_bytes(self, buf, offset=0, size=None):
        if not self.writable:
            raise OSError("connection is read-only")
        data = memoryview(_bytes(buf))[offset:None if size is None else offset + size]
        self._h.send(bytes(data), 0, -1)

    def recv_bytes(self, maxlength=None):
        """The next message; EOFError (Closed) once the other end is gone and
        everything sent has been read."""
        if not self.readable:
            raise OSError("connection is write-only")
        data = self._h.recv(-1)
        if maxlength is not None and len(data) > maxlength:
            raise OSError("bad message length")
        return data

    def poll(self, timeout=0.0):
        """True if recv_bytes would not block (data, or the other end gone)."""
        import select
        fd = self.fileno()
        if fd < 0:
            raise NotSupported(ENOTSUP, "no pollfd", "poll")
        ms = -1 if timeout is None else math.ceil(timeout * 1000)
        p = select.poll()
        p.register(fd, select.POLLIN)
        return bool(p.poll(ms))

    def fileno(self):
        return lib.ipc_pollfd(self._h.live())

    @property
    def closed(self):
        return not self._h.ch

    def close(self):
        """Release this end in this process (the peer sees EOF once every copy is gone)."""
        self._h.free()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def Pipe(duplex=True, max_msg=0):
    """(conn1, conn2) like multiprocessing.Pipe: duplex=False gives (reader, writer).

    Both are ends of one "socketpair" channel pair (ipc_duplex_open), so each
    end is its own handle: closing one end in a process releases only that end."""
    cfg = Config(max_msg=max_msg)
    a, b = _lib.P(), _lib.P()
    rc = lib.ipc_duplex_open(ctypes.byref(cfg), ctypes.byref(a), ctypes.byref(b))
    if rc < 0:
        _raise(rc, "Pipe")
    ha, hb = _Handle(a), _Handle(b)
    if duplex:
        return Connection(ha, True, True), Connection(hb, True, True)
    return Connection(ha, True, False), Connection(hb, False, True)
