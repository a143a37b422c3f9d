"""Executors: run tasks somewhere and yield their results as they finish (any order).

- ``LocalExecutor`` — ``workers`` local worker processes (default: the CPU count;
  ``accelsim.sweep.lanes``), each running one task at a time and, when it frees, the next
  task of the replica shape it ran last (``accelsim.sweep.affinity``), so each worker builds
  and prices a shape's timing model once instead of every worker building every shape
  (``benchmarks/bench_sweep.py``'s 100-point subset on the 2-core machine: 26.4 -> 19.7 s of
  CPU against the ``concurrent.futures.ProcessPoolExecutor`` it replaced, which handed each
  task to whichever worker was free; the same figures). All workers start when the executor
  is entered, before any progress-bar thread: they are forked when the process has a single
  thread (fast; works from notebooks and unguarded scripts), else they come from a
  *forkserver* that preloads ``accelsim.sweep.lanes`` (``ACCELSIM_START_METHOD`` forces a
  start method).
- ``RayExecutor`` — Ray tasks (``pip install 'accelsim[ray]'``). Without ``address`` it starts a
  local Ray instance with ``num_cpus=workers`` and stops it afterwards; with ``address`` (e.g.
  ``ray://head:10001`` or ``auto``) it joins an existing cluster, whose nodes must have accelsim
  (and any user catalog folders the sweep names) installed.
- ``SerialExecutor`` — in-process, for debugging and tiny sweeps (``--workers 0``).

The local executor runs ``workers`` tasks at a time and reads at most
``accelsim.sweep.affinity.LOOKAHEAD * workers`` ahead, Ray keeps at most ``2 * workers`` in
flight, so a million-point sweep holds only a few hundred task objects, and a killed sweep loses
at most the points that were running. Results do not depend on the executor: each point
carries its own seed. Use an executor as a context manager (``with ex: for r in
ex.run(tasks)``); ``run`` alone also works.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from typing import Any

from accelsim.errors import AccelsimError
from accelsim.sweep.affinity import AffinityQueue
from accelsim.sweep.context import Task
from accelsim.sweep.lanes import Lanes
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


class LocalExecutor:
    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or default_workers()
        self.lanes: Lanes | None = None
        self.start_method = ""

    def __enter__(self) -> LocalExecutor:
        lanes = Lanes(self.workers)
        lanes.__enter__()  # every worker starts now, before the caller starts a progress bar
        self.lanes, self.start_method = lanes, lanes.start_method
        return self

    def __exit__(self, kind: object, *exc: object) -> None:
        if self.lanes is not None:
            # an error or an interrupt: stop the workers, do not wait
            self.lanes.__exit__(kind, *exc)
            self.lanes = None

    def run(self, tasks: Iterable[Task]) -> Iterator[dict[str, Any]]:
        if self.lanes is None:
            with self:
                yield from self.run(tasks)
            return
        queue = AffinityQueue(tasks, self.workers)
        yield from self.lanes.stream(queue.next)


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
