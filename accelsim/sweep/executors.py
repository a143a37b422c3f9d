"""Executors: run tasks somewhere and yield their results as they finish (any order).

- ``LocalExecutor`` — a ``concurrent.futures.ProcessPoolExecutor`` of ``workers`` processes
  (default: the CPU count). All workers start when the executor is entered, before any
  progress-bar thread: they are forked when the process has a single thread (fast; works from
  notebooks and unguarded scripts), else they come from a *forkserver* that preloads
  ``accelsim.sweep.worker`` (``ACCELSIM_START_METHOD`` forces a start method).
- ``RayExecutor`` — Ray tasks (``pip install 'accelsim[ray]'``). Without ``address`` it starts a
  local Ray instance with ``num_cpus=workers`` and stops it afterwards; with ``address`` (e.g.
  ``ray://head:10001`` or ``auto``) it joins an existing cluster, whose nodes must have accelsim
  (and any user catalog folders the sweep names) installed.
- ``SerialExecutor`` — in-process, for debugging and tiny sweeps (``--workers 0``).

Both parallel executors keep at most ``2 * workers`` tasks in flight, so a million-point sweep
holds only a few thousand task objects, and a killed sweep loses at most the points that were
running. Results do not depend on the executor: each point carries its own seed. Use an
executor as a context manager (``with ex: for r in ex.run(tasks)``); ``run`` alone also works.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from accelsim.errors import AccelsimError
from accelsim.sweep.context import Task
from accelsim.sweep.worker import run_task

__all__ = ["LocalExecutor", "RayExecutor", "SerialExecutor", "make_executor"]


def default_workers() -> int:
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # pragma: no cover - not Linux
        return max(os.cpu_count() or 1, 1)


class SerialExecutor:
    name = "serial"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = 1

    def __enter__(self) -> SerialExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def run(self, tasks: Iterable[Task]) -> Iterator[dict[str, Any]]:
        for t in tasks:
            yield run_task(t)


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
    """Pool-worker initializer: the worker is killed when the sweep's process dies, even by
    SIGKILL (Linux ``prctl(PR_SET_PDEATHSIG)``), and leaves Ctrl-C to the parent, which stops
    the pool."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # a forked worker inherits the command line's SIGTERM handler: the pool's terminate()
    # must end it quietly
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() == 1:  # the parent died before prctl took effect
            os._exit(1)


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


class LocalExecutor:
    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or default_workers()
        self.pool: cf.ProcessPoolExecutor | None = None
        self.start_method = ""

    def __enter__(self) -> LocalExecutor:
        self.pool = cf.ProcessPoolExecutor(
            max_workers=self.workers, mp_context=self._context(), initializer=_die_with_parent
        )
        # start every worker now, before the caller starts a progress-bar thread
        self.pool.submit(int).result()
        return self

    def __exit__(self, kind: object, *exc: object) -> None:
        if self.pool is not None:
            if kind is not None:  # an error or an interrupt: stop the workers, do not wait
                for proc in list((getattr(self.pool, "_processes", None) or {}).values()):
                    proc.terminate()
            self.pool.shutdown(wait=kind is None, cancel_futures=True)
            self.pool = None

    def _context(self) -> multiprocessing.context.BaseContext:
        method = start_method()
        ctx = multiprocessing.get_context(method)
        if method == "forkserver":
            ctx.set_forkserver_preload(["accelsim.sweep.worker"])
        self.start_method = method
        return ctx

    def run(self, tasks: Iterable[Task]) -> Iterator[dict[str, Any]]:
        if self.pool is None:
            with self:
                yield from self.run(tasks)
            return
        pool = self.pool
        pending: set[cf.Future[dict[str, Any]]] = set()
        it = iter(tasks)
        limit = 2 * self.workers
        try:
            exhausted = False
            while True:
                while not exhausted and len(pending) < limit:
                    try:
                        pending.add(pool.submit(run_task, next(it)))
                    except StopIteration:
                        exhausted = True
                if not pending:
                    break
                done, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                for fut in done:
                    yield fut.result()
        finally:
            for fut in pending:
                fut.cancel()


class RayExecutor:
    name = "ray"

    def __init__(self, workers: int | None = None, address: str | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise AccelsimError(
                "--executor ray needs Ray: pip install 'accelsim[ray]' (or 'ray>=2.30')"
            ) from None
        self.ray = ray
        self.address = address
        self.workers = workers or (None if address else default_workers())
        self._started = False

    def _start(self) -> bool:
        ray = self.ray
        if ray.is_initialized():
            return False
        kwargs: dict[str, Any] = dict(
            include_dashboard=False, log_to_driver=False, configure_logging=False
        )
        try:
            if self.address:
                ray.init(address=self.address, **kwargs)
            else:
                ray.init(num_cpus=self.workers, **kwargs)
        except Exception as exc:
            where = self.address or "a local instance"
            raise AccelsimError(f"cannot start Ray ({where}): {exc}") from None
        return True

    def __enter__(self) -> RayExecutor:
        self._started = self._start()
        if self.workers is None:
            self.workers = max(int(self.ray.cluster_resources().get("CPU", 1)), 1)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._started:
            self.ray.shutdown()
            self._started = False

    def run(self, tasks: Iterable[Task]) -> Iterator[dict[str, Any]]:
        ray = self.ray
        if not ray.is_initialized():
            with self:
                yield from self.run(tasks)
            return
        remote = ray.remote(num_cpus=1, max_retries=2)(run_task)
        pending: list[Any] = []
        it = iter(tasks)
        limit = 2 * (self.workers or 1)
        try:
            exhausted = False
            while True:
                while not exhausted and len(pending) < limit:
                    try:
                        pending.append(remote.remote(next(it)))
                    except StopIteration:
                        exhausted = True
                if not pending:
                    break
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    yield ray.get(ref)
        finally:
            for ref in pending:
                with contextlib.suppress(Exception):  # best effort
                    ray.cancel(ref, force=True)


def make_executor(
    kind: str, workers: int | None = None, address: str | None = None
) -> SerialExecutor | LocalExecutor | RayExecutor:
    if address and kind != "ray":
        raise AccelsimError("--address only applies to --executor ray")
    if kind == "local":
        if workers == 0:
            return SerialExecutor()
        return LocalExecutor(workers)
    if kind == "serial":
        return SerialExecutor()
    if kind == "ray":
        return RayExecutor(workers, address)
    raise AccelsimError(f"unknown executor {kind!r} (use local or ray)")
