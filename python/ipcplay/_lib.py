"""_lib.py -- finding libipcplay.so and declaring its C calls for ctypes.

Where the library comes from, first match wins:
  1. $IPCPLAY_LIB: the path of a libipcplay.so (any version suffix);
  2. the prefix this package was installed into (make install writes
     _installed.py with LIBDIR next to this file);
  3. the source tree this package sits in: <tree>/build/libipcplay.so.0
     ($IPCPLAY_BUILD overrides "build");
  4. the dynamic loader's own search (libipcplay.so.0 in ld.so.conf paths).

Every prototype is declared (argtypes and restype), so ctypes converts and
checks arguments instead of guessing; calls release the GIL while they run
(ctypes.CDLL), so a blocked get() never stops the other Python threads.

ipc_config's layout is mirrored in Config.  A struct that grows at its end
(a new field with 0 as its default) stays compatible thanks to the zeroed
reserve at the end; tests/outside.sh compares these offsets with the installed
header's, so a change elsewhere in the struct fails the tests, not a user.
"""
import ctypes
import os

SONAME = "libipcplay.so.0"


class Config(ctypes.Structure):
    _fields_ = [
        ("capacity", ctypes.c_size_t),
        ("max_msg", ctypes.c_size_t),
        ("order", ctypes.c_int),
        ("name", ctypes.c_char_p),
        ("endpoint", ctypes.c_char_p),
        ("flags", ctypes.c_uint),
        ("_reserve", ctypes.c_char * 64),  # room for fields a newer ipc.h appends
    ]


class Mechanism(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("family", ctypes.c_char_p),
        ("summary", ctypes.c_char_p),
        ("caps", ctypes.c_uint),
        ("max_msg_limit", ctypes.c_size_t),
        ("default_max_msg", ctypes.c_size_t),
        ("default_capacity", ctypes.c_size_t),
        ("wait_strategy", ctypes.c_char_p),
        ("ops", ctypes.c_void_p),
        ("waits", ctypes.c_uint),
        ("wait_default", ctypes.c_int),
        ("family_id", ctypes.c_int),   # enum ipc_family
        ("carrier", ctypes.c_int),     # enum ipc_carrier
        ("variant", ctypes.c_int),
    ]


def _candidates():
    env = os.environ.get("IPCPLAY_LIB")
    if env:
        return [env]  # asked for explicitly: no silent fallback to another copy
    here = os.path.dirname(os.path.abspath(__file__))
    out = []
    try:
        from . import _installed  # written by make install
        out.append(os.path.join(_installed.LIBDIR, SONAME))
    except ImportError:
        pass
    tree = os.path.dirname(os.path.dirname(here))  # python/ipcplay -> the tree
    out.append(os.path.join(tree, os.environ.get("IPCPLAY_BUILD", "build"), SONAME))
    out.append(SONAME)
    return out


def load():
    errors = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            errors.append(f"{path}: no such file")
            continue
        try:
            return ctypes.CDLL(path, use_errno=True), path
        except OSError as e:
            errors.append(str(e))
    raise ImportError("ipcplay: libipcplay.so not found (set IPCPLAY_LIB, install with make install, "
                      "or build it with make in the source tree): " + "; ".join(errors))


lib, path = load()

P = ctypes.c_void_p
SZ = ctypes.c_size_t
_protos = {
    "ipc_strerror": (ctypes.c_char_p, [ctypes.c_int]),
    "ipc_last_error": (ctypes.c_char_p, []),
    "ipc_open": (ctypes.c_int, [ctypes.c_char_p, ctypes.POINTER(Config), ctypes.POINTER(P)]),
    "ipc_send": (ctypes.c_int, [P, ctypes.c_char_p, SZ, ctypes.c_int, ctypes.c_int]),
    "ipc_recv": (ctypes.c_int, [P, P, SZ, ctypes.POINTER(SZ), ctypes.POINTER(ctypes.c_int), ctypes.c_int]),
    "ipc_close": (ctypes.c_int, [P]),
    "ipc_free": (None, [P]),
    "ipc_pollfd": (ctypes.c_int, [P]),
    "ipc_depth": (ctypes.c_long, [P]),
    "ipc_attach_config": (ctypes.c_int, [P, ctypes.POINTER(Config)]),
    "ipc_max_msg": (SZ, [P]),
    "ipc_capacity": (SZ, [P]),
    "ipc_channel_mechanism": (ctypes.POINTER(Mechanism), [P]),
    "ipc_mechanisms": (ctypes.POINTER(ctypes.POINTER(Mechanism)), [ctypes.POINTER(SZ)]),
    "ipc_find": (ctypes.POINTER(Mechanism), [ctypes.c_char_p]),
    "ipc_now_ns": (ctypes.c_int64, []),
    "ipc_family_name": (ctypes.c_char_p, [ctypes.c_int]),
    "ipc_carrier_name": (ctypes.c_char_p, [ctypes.c_int]),
    "ipc_duplex_open": (ctypes.c_int, [ctypes.POINTER(Config), ctypes.POINTER(P), ctypes.POINTER(P)]),
}
for _name, (_res, _args) in _protos.items():
    _fn = getattr(lib, _name)
    _fn.restype, _fn.argtypes = _res, _args
