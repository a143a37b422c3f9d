"""Which task a free worker runs next: tasks of one replica shape stay on one worker
(``AffinityQueue``).

A worker process keeps the timing model of each replica shape it ran
(``accelsim.sweep.timing_memo``): the first point of a shape in a process pays for building it
and for pricing the batch shapes every point reaches, the next points of that shape on the same
process mostly do not (a point of ``workloads/sweeps/dsv3-devices.yaml``, DeepSeek-V3 on 16
910B2 cards at 11 requests/s: 0.36 s of CPU in a fresh process, 0.13 s after another point of
its shape, 2026-12-03). A pool that hands each task to whichever worker is free builds every
shape in every worker; ``AffinityQueue`` hands a worker the next task of the shape it ran
last, a new shape when that one has no task left, and only when every shape left is another
worker's, a task of the shape with the most tasks left (so no worker waits while tasks
remain).

- The *affinity key* (``affinity_key``) is the task's evaluator, catalog folders, what-if
  overrides and its scenario mapping less the fields no timing model is built from
  (``accelsim.sweep.timing_memo.RUN_FIELDS``: seed, traffic, SLOs, ...), keeping ``cards``
  and ``plan``, which choose the replica's plan when the scenario names none. It only decides
  where a task runs: every point carries its own seed and a timing model's figures do not
  depend on what it priced before, so results are the same byte for byte on any worker, in
  any order (``tests/test_sweep.py``).
- Bounded: the queue reads at most ``lookahead`` tasks ahead of the ones it handed out (a
  million-point sweep holds only that many task objects); within that window tasks are grouped
  by key, each group in the order it was read.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Hashable, Iterable

from accelsim.sweep.context import Task
from accelsim.sweep.timing_memo import RUN_FIELDS

__all__ = ["LOOKAHEAD", "AffinityQueue", "affinity_key"]

#: Tasks read ahead per worker: a sweep's points come shape by shape (the grid's last axes and
#: the samples vary fastest, ``accelsim.sweep.spec.expand``), so a window of a few shapes'
#: points per worker lets every worker find one of its own.
LOOKAHEAD = 64
#: Scenario fields left out of the key: ``RUN_FIELDS`` less the two that can choose the plan.
_FREE = RUN_FIELDS - {"cards", "plan"}


def affinity_key(task: Task) -> str:
    """The replica shape a task prices (module docstring), as text."""
    scenario = task.scenario
    if isinstance(scenario, dict):
        scenario = {k: v for k, v in scenario.items() if k not in _FREE}
    return json.dumps(
        [task.evaluator, list(task.catalog_dirs), task.overrides, scenario],
        sort_keys=True,
        default=repr,
    )


class AffinityQueue:
    """The tasks of ``tasks`` for ``workers`` workers, each task handed out once
    (``next(worker)``; module docstring)."""

    def __init__(
        self,
        tasks: Iterable[Task],
        workers: int,
        *,
        lookahead: int = LOOKAHEAD,
        key: Callable[[Task], Hashable] = affinity_key,
    ) -> None:
        self._it = iter(tasks)
        self._key = key
        self._limit = max(lookahead, 1) * max(workers, 1)
        self._groups: dict[Hashable, deque[Task]] = {}  # in the order each key was first read
        self._held = 0
        self._exhausted = False
        self._last: list[Hashable | None] = [None] * max(workers, 1)

    def _fill(self) -> None:
        while not self._exhausted and self._held < self._limit:
            try:
                task = next(self._it)
            except StopIteration:
                self._exhausted = True
                return
            self._groups.setdefault(self._key(task), deque()).append(task)
            self._held += 1

    def next(self, worker: int) -> Task | None:
        """The task ``worker`` runs next, None when none is left."""
        self._fill()
        if not self._groups:
            return None
        key = self._last[worker]
        group = self._groups.get(key)
        if group is not None:
            task = group.popleft()
        else:
            others = {k for i, k in enumerate(self._last) if i != worker}
            key = next((k for k in self._groups if k not in others), None)
            if key is not None:
                group = self._groups[key]
                task = group.popleft()
            else:  # every shape left is another worker's: share the largest
                key = max(self._groups, key=lambda k: len(self._groups[k]))
                group = self._groups[key]
                task = group.pop()
            self._last[worker] = key
        if not group:
            del self._groups[key]
        self._held -= 1
        return task
