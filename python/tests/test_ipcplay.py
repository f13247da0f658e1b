"""test_ipcplay.py -- the Python binding's contract (standard library unittest).

Run against the installed library by tests/outside.sh (make test), or in the
tree with: PYTHONPATH=python python3 -m unittest discover -s python/tests

IPCPLAY_EXPECT_LIBDIR, when set, is where the loaded library must come from
(the installed prefix, not the tree's build/).
"""
import json
import multiprocessing
import os
import pickle
import queue
import subprocess
import sys
import threading
import time
import unittest

import ipcplay

MECHS = ["procq", "shm", "queue", "pipe", "socketpair", "posix_mq", "unix"]


class LibraryTest(unittest.TestCase):
    def test_loaded_from_expected_place(self):
        want = os.environ.get("IPCPLAY_EXPECT_LIBDIR")
        if want:
            self.assertEqual(os.path.dirname(ipcplay.library_path), want)
        self.assertTrue(os.path.exists(ipcplay.library_path))

    def test_registry(self):
        names = [m.name for m in ipcplay.mechanisms()]
        for n in ("procq", "shm", "pipe", "queue"):
            self.assertIn(n, names)
        self.assertTrue(ipcplay.find("shm").has("unrelated"))
        self.assertFalse(ipcplay.find("procq").has("unrelated"))
        self.assertIsNone(ipcplay.find("no-such"))
        for m in ipcplay.mechanisms():  # family and carrier are registry data
            self.assertEqual(ipcplay.lib.ipc_family_name(m.family_id).decode(), m.family)
            self.assertNotEqual(m.carrier, "?")
        self.assertEqual(ipcplay.find("fifo").carrier, ipcplay.find("pipe").carrier)

    def test_timeout_code(self):
        self.assertEqual(ipcplay.ETIMEDOUT, -9)
        self.assertTrue(issubclass(ipcplay.Timeout, TimeoutError))
        self.assertNotEqual(ipcplay.strerror(ipcplay.ETIMEDOUT), ipcplay.strerror(-1000))

    def test_strerror(self):
        self.assertEqual(ipcplay.strerror(ipcplay.EFULL), ipcplay.lib.ipc_strerror(-1).decode())
        self.assertNotEqual(ipcplay.strerror(ipcplay.EEMPTY), "")


class QueueTest(unittest.TestCase):
    def test_round_trip_every_mechanism(self):
        for mech in MECHS:
            with self.subTest(mech=mech), ipcplay.Queue(mech) as q:
                q.put(b"hello")
                q.put(bytearray(b"\x00\xff"))         # any bytes-like object
                q.put(memoryview(b"mv"))
                self.assertEqual(q.get(timeout=5), b"hello")
                self.assertEqual(q.get(timeout=5), b"\x00\xff")
                self.assertEqual(q.get(timeout=5), b"mv")

    def test_empty_message_and_large_message(self):
        with ipcplay.Queue("procq", max_msg=200000) as q:
            big = os.urandom(150000)                   # beyond any default buffer
            q.put(b"")
            q.put(big)
            self.assertEqual(q.get(), b"")
            self.assertEqual(q.get(), big)

    def test_str_is_refused(self):
        with ipcplay.Queue("procq") as q:
            with self.assertRaises(TypeError):
                q.put("text")

    def test_full_and_empty(self):
        with ipcplay.Queue("shm", maxsize=3) as q:
            self.assertEqual(q.maxsize, 3)
            self.assertTrue(q.empty())
            with self.assertRaises(ipcplay.Empty) as cm:
                q.get_nowait()
            self.assertIsInstance(cm.exception, queue.Empty)   # Python's own except clause works
            self.assertEqual(cm.exception.code, ipcplay.EEMPTY)
            for i in range(3):
                q.put_nowait(b"%d" % i)
            self.assertTrue(q.full())
            self.assertEqual(q.qsize(), 3)
            with self.assertRaises(queue.Full) as cm:
                q.put_nowait(b"x")
            self.assertIsInstance(cm.exception, ipcplay.Full)
            self.assertIn("full", str(cm.exception))
            self.assertTrue(cm.exception.detail)              # ipc_last_error()'s text
            t0 = time.monotonic()
            with self.assertRaises(ipcplay.Full):
                q.put(b"x", timeout=0.05)
            self.assertGreaterEqual(time.monotonic() - t0, 0.05)
            with self.assertRaises(ipcplay.Full):
                q.put(b"x", block=False)
            self.assertEqual([q.get() for _ in range(3)], [b"0", b"1", b"2"])
            t0 = time.monotonic()
            with self.assertRaises(ipcplay.Empty):
                q.get(timeout=0.05)
            self.assertGreaterEqual(time.monotonic() - t0, 0.05)

    def test_negative_timeout_is_an_error(self):
        with ipcplay.Queue("procq") as q:
            with self.assertRaises(ValueError):
                q.get(timeout=-1)

    def test_close_drains_then_closed(self):
        with ipcplay.Queue("procq") as q:
            q.put(b"a")
            q.close()
            with self.assertRaises(ipcplay.Closed):
                q.put(b"b")
            self.assertEqual(q.get(), b"a")
            with self.assertRaises(ipcplay.Closed) as cm:
                q.get()
            self.assertIsInstance(cm.exception, EOFError)
            q.close()                                           # idempotent

    def test_close_wakes_a_blocked_getter(self):
        with ipcplay.Queue("procq") as q:
            got = []

            def getter():
                try:
                    q.get()
                except ipcplay.Closed as e:
                    got.append(e)

            t = threading.Thread(target=getter)
            t.start()
            time.sleep(0.1)
            q.close()
            t.join(5)
            self.assertFalse(t.is_alive())
            self.assertEqual(len(got), 1)

    def test_message_too_large_and_bad_mechanism(self):
        with ipcplay.Queue("procq", max_msg=16) as q:
            with self.assertRaises(ipcplay.MessageTooLarge):
                q.put(b"x" * 17)
        with self.assertRaises(ipcplay.UnknownMechanism) as cm:
            ipcplay.Queue("pip")
        self.assertIn("pipe", cm.exception.detail)             # lists the known ones
        with self.assertRaises(ipcplay.NotSupported):
            ipcplay.Queue("procq", attachable=True)

    def test_freed_handle(self):
        q = ipcplay.Queue("procq")
        q.free()
        q.free()
        with self.assertRaises(ValueError):
            q.put(b"x")

    def test_threads_share_a_queue(self):
        with ipcplay.Queue("queue", maxsize=8) as q:
            n = 2000
            out = []

            def consumer():
                for _ in range(n // 2):
                    out.append(q.get(timeout=10))

            cs = [threading.Thread(target=consumer) for _ in range(2)]
            for c in cs:
                c.start()
            for i in range(n):
                q.put(b"%d" % i)
            for c in cs:
                c.join(20)
            self.assertEqual(sorted(out, key=int), [b"%d" % i for i in range(n)])

    def test_priority(self):
        with ipcplay.Queue("priority", order=ipcplay.PRIORITY) as q:
            q.put(b"low", prio=1)
            q.put(b"high", prio=9)
            self.assertEqual(q.get_with_prio(), (b"high", 9))
            self.assertEqual(q.get(), b"low")


def _producer(q, n):
    for i in range(n):
        q.put(b"m%d" % i)


def _child_attach_and_put(cfg):
    q = ipcplay.Queue.attach(cfg)
    q.put(b"from spawn")


class ProcessTest(unittest.TestCase):
    def test_multiprocessing_fork(self):
        ctx = multiprocessing.get_context("fork")
        with ipcplay.Queue("procq", maxsize=4) as q:
            p = ctx.Process(target=_producer, args=(q, 200))
            p.start()
            got = [q.get(timeout=10) for _ in range(200)]
            p.join(10)
            self.assertEqual(p.exitcode, 0)
            self.assertEqual(got, [b"m%d" % i for i in range(200)])

    def test_unrelated_process_by_attach_config(self):
        with ipcplay.Queue("shm", maxsize=4, attachable=True) as q:
            cfg = q.attach_config()
            self.assertEqual(pickle.loads(pickle.dumps(cfg)), cfg)
            code = ("import ipcplay, json, sys\n"
                    "q = ipcplay.Queue.attach(json.load(sys.stdin))\n"
                    "print(q.get(timeout=10).decode()); q.put(b'pong')\n")
            child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=os.environ.copy())
            q.put(b"ping")
            out, _ = child.communicate(json.dumps(cfg).encode(), timeout=30)
            self.assertEqual(child.returncode, 0)
            self.assertEqual(out.decode().strip(), "ping")
            self.assertEqual(q.get(timeout=10), b"pong")

    def test_pickle_and_spawn(self):
        with ipcplay.Queue("shm", attachable=True) as q:
            q2 = pickle.loads(pickle.dumps(q))                 # travels as its attach config
            q2.put(b"via pickle")
            self.assertEqual(q.get(timeout=5), b"via pickle")
            q2.free()
            ctx = multiprocessing.get_context("spawn")
            p = ctx.Process(target=_child_attach_and_put, args=(q.attach_config(),))
            p.start()
            self.assertEqual(q.get(timeout=30), b"from spawn")
            p.join(30)
            self.assertEqual(p.exitcode, 0)

    def test_private_queue_does_not_pickle(self):
        with ipcplay.Queue("procq") as q:
            with self.assertRaises(ipcplay.IpcError):
                pickle.dumps(q)


class PipeTest(unittest.TestCase):
    def test_duplex(self):
        a, b = ipcplay.Pipe()
        pid = os.fork()
        if pid == 0:
            try:
                a.close()
                b.send_bytes(b.recv_bytes() + b"!")
            finally:
                os._exit(0)
        b.close()
        a.send_bytes(b"hi")
        self.assertEqual(a.recv_bytes(), b"hi!")
        os.waitpid(pid, 0)
        with self.assertRaises(EOFError):                      # every copy of b is gone
            a.recv_bytes()
        a.close()

    def test_one_way(self):
        r, w = ipcplay.Pipe(duplex=False)
        with self.assertRaises(OSError):
            r.send_bytes(b"x")
        with self.assertRaises(OSError):
            w.recv_bytes()
        w.send_bytes(b"abcdef", 2, 3)
        self.assertTrue(r.poll(1.0))
        self.assertEqual(r.recv_bytes(), b"cde")
        self.assertFalse(r.poll(0))
        w.close()
        self.assertTrue(w.closed)
        with self.assertRaises(ipcplay.Closed):
            r.recv_bytes()
        r.close()


if __name__ == "__main__":
    unittest.main()
