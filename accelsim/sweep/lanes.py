"""Lanes: worker processes that keep a caller's tasks together (``Lanes``).

A process pool hands each task to whichever worker is free, so the timing models one worker
built (``accelsim.sweep.timing_memo``) serve only the tasks that happen to land on it. A lane is
one worker process that runs the tasks sent to it in order: ``size`` and ``compare`` send all
of one device's sizes and seeds down one lane, so its timing model is built and its batch
shapes priced once, while the other devices' searches run on the other lanes at the same time.
Measured on the 2-core machine (``benchmarks/bench_commands.py``): ``compare`` on the default
scenario took 23.4 s on the 2-process pool against 15.0 s in one process with the memo, because
the pool re-priced every shape in both workers; two lanes keep the memo and use both cores.

- Tasks and results are those of ``accelsim.sweep.worker.run_task`` (the same function Ray's
  tasks run), so results are the same byte for byte whichever lane ran a task.
- ``run(tasks, lane=k)`` runs every task on lane ``k`` (modulo the lane count); ``lane=None``
  spreads them round robin over all lanes, each lane running its share in order. Results come
  back as each task ends. Thread-safe: a call holds the lanes it uses until it returns (threads
  on different lanes run at once).
- ``stream(next_task)`` runs on every lane, as it frees, the task ``next_task(lane)`` picks
  (the local executor of sweeps, ``accelsim.sweep.executors.LocalExecutor``, picks by replica
  shape: ``accelsim.sweep.affinity``) and yields the results as they end; it holds all lanes.
- The lanes start when entered, all before any thread of theirs exists (they have none): forked
  when this process has a single thread, else started by a forkserver (``start_method``), each
  set up by ``_die_with_parent``. Leaving the context ends them (terminated on an error or an
  interrupt); ``cancel`` ends them at once, from any thread, so that callers waiting on them
  stop (``size_devices`` on Ctrl-C), and so does a ``stream`` left before its end with tasks
  still running.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

from accelsim.errors import AccelsimError
from accelsim.sweep.context import Task
from accelsim.sweep.worker import run_task

__all__ = ["Lanes", "start_method"]


def start_method() -> str:
    """How worker processes start: ``ACCELSIM_START_METHOD`` when set, else fork (fastest;
    works from notebooks, stdin and unguarded scripts) while this process has a single thread,
    which is when forking is safe, else a clean forkserver."""
    method = os.environ.get("ACCELSIM_START_METHOD")
    if method is None:
        fork_ok = "fork" in multiprocessing.get_all_start_methods()
        method = "fork" if fork_ok and threading.active_count() == 1 else "forkserver"
    return method


def _die_with_parent() -> None:
    """Worker set-up: the worker is killed when the sweep's process dies, even by SIGKILL
    (Linux ``prctl(PR_SET_PDEATHSIG)``), and leaves Ctrl-C to the parent, which stops the
    workers."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # a forked worker inherits the command line's SIGTERM handler: terminate() must end it
    # quietly
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() == 1:  # the parent died before prctl took effect
            os._exit(1)


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _serve(conn: Connection) -> None:
    """A lane's loop: run each task received, send its result; a ``None`` (or a closed
    pipe) ends it."""
    _die_with_parent()
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        conn.send(run_task(task))


class Lanes:
    """``n`` lane processes (module docstring). Use as a context manager."""

    def __init__(self, n: int) -> None:
        if n < 1:
            raise AccelsimError(f"lanes: {n} lanes; give at least 1")
        self.n = n
        self.start_method = ""
        self._conns: list[Connection] = []
        self._procs: list[Any] = []
        self._locks = [threading.Lock() for _ in range(n)]
        self._cancelled = False

    def __enter__(self) -> Lanes:
        self.start_method = start_method()
        ctx = multiprocessing.get_context(self.start_method)
        if self.start_method == "forkserver":
            ctx.set_forkserver_preload(["accelsim.sweep.lanes"])
        try:
            for _ in range(self.n):
                mine, theirs = ctx.Pipe()
                proc = ctx.Process(target=_serve, args=(theirs,), daemon=True)
                proc.start()
                theirs.close()
                self._conns.append(mine)
                self._procs.append(proc)
        except BaseException:
            self._stop(terminate=True)
            raise
        return self

    def __exit__(self, kind: object, *exc: object) -> None:
        self._stop(terminate=kind is not None)

    def cancel(self) -> None:
        """End the lanes now (an interrupt): a call waiting on one raises ``AccelsimError``
        at once, and so does every later call."""
        self._cancelled = True
        for proc in list(self._procs):
            proc.terminate()

    def _stop(self, *, terminate: bool) -> None:
        for conn in self._conns:
            try:
                if not terminate:
                    conn.send(None)
            except OSError:
                pass
            conn.close()
        for proc in self._procs:
            if terminate:
                proc.terminate()
            proc.join(timeout=None if not terminate else 5.0)
        self._conns, self._procs = [], []

    def run(
        self,
        tasks: Sequence[Task],
        lane: int | None = None,
        done: Callable[[dict[str, Any]], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Every task's result (in the order they end), each also handed to ``done`` as it
        ends; on lane ``lane`` (modulo the lane count), or round robin over all (``None``)."""
        self._check()
        queues: dict[int, deque[Task]] = {}
        for i, task in enumerate(tasks):
            k = (lane if lane is not None else i) % self.n
            queues.setdefault(k, deque()).append(task)
        used = sorted(queues)
        for k in used:  # in index order: two calls never wait on each other's locks
            self._locks[k].acquire()
        try:
            return self._drain(queues, done)
        finally:
            for k in used:
                self._locks[k].release()

    def stream(self, next_task: Callable[[int], Task | None]) -> Iterator[dict[str, Any]]:
        """Run ``next_task(k)`` on each lane ``k`` as it frees (None: the lane has nothing
        left) and yield each result as it ends, until no lane has a task. Holds every lane
        while it runs; left before its end with tasks running, it ends the lanes (``cancel``)."""
        self._check()
        for lock in self._locks:
            lock.acquire()
        busy: dict[Connection, int] = {}
        try:
            for k, conn in enumerate(self._conns):
                task = next_task(k)
                if task is not None:
                    conn.send(task)
                    busy[conn] = k
            while busy:
                for conn in wait(list(busy)):
                    assert isinstance(conn, Connection)
                    k = busy.pop(conn)
                    result = self._receive(conn, k)
                    task = next_task(k)
                    if task is not None:
                        conn.send(task)
                        busy[conn] = k
                    yield result
        finally:
            if busy:
                self.cancel()
            for lock in self._locks:
                lock.release()

    def _check(self) -> None:
        if self._cancelled:
            raise AccelsimError("lanes: cancelled")
        if not self._conns:
            raise AccelsimError("lanes: not started (use as a context manager)")

    def _receive(self, conn: Connection, k: int) -> dict[str, Any]:
        """Lane ``k``'s result; an ``AccelsimError`` when its process died or was cancelled."""
        try:
            return conn.recv()
        except (EOFError, OSError):
            if self._cancelled:
                raise AccelsimError("lanes: cancelled") from None
            code = self._procs[k].exitcode
            raise AccelsimError(f"lane {k}: its worker process died (exit {code})") from None

    def _drain(
        self,
        queues: dict[int, deque[Task]],
        done: Callable[[dict[str, Any]], None] | None,
    ) -> list[dict[str, Any]]:
        busy: dict[Connection, int] = {}
        for k, queue in queues.items():
            self._conns[k].send(queue.popleft())
            busy[self._conns[k]] = k
        out: list[dict[str, Any]] = []
        while busy:
            for conn in wait(list(busy)):
                assert isinstance(conn, Connection)
                k = busy.pop(conn)
                result = self._receive(conn, k)
                out.append(result)
                if done is not None:
                    done(result)
                if queues[k]:
                    if self._cancelled:
                        raise AccelsimError("lanes: cancelled")
                    conn.send(queues[k].popleft())
                    busy[conn] = k
        return out
