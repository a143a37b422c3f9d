"""Replications: one scenario simulated on several seeds, in parallel, and every figure's
confidence interval across those seeds.

A serving simulation's percentiles depend on its random draws (arrivals, lengths, routing): on
the default scenario TTFT p99 moves about 20 % between seeds (six seeds measured on this
commit: 1.15-2.10 s, coefficient of variation 22 %). ``run``, ``compare`` and ``size``
therefore simulate ``DEFAULT_SEEDS`` replications and report each figure's mean with its
across-seed interval.

- **Seeds** (``replica_seeds``): the first replication keeps the scenario's own ``seed``, so one
  replication is exactly the single run of before; replication ``i >= 1`` takes the first word
  of ``numpy.random.SeedSequence(seed).spawn(n)[i].generate_state(1)`` — deterministic, and
  statistically independent streams (numpy's documented way to derive child seeds).
- **Interval** (``SeedInterval``): the 90 % two-sided Student-t confidence interval of the mean,
  ``mean +- t(0.95, n - 1) s / sqrt(n)`` with ``s`` the sample standard deviation, assuming the
  per-seed figures are independent draws of a roughly normal quantity (the mean of a few
  percentiles; the t quantile makes the interval honest for small ``n``). One seed gives a
  degenerate interval (``lo = hi = mean``).
- **Pessimistic bound** (``SeedInterval.pessimistic``): the interval's worse end for a figure
  (``hi`` for a latency, ``lo`` for a throughput), never better than the worst seed, so a size
  that fails on any seed fails on the bound too. Sizing uses it.
- **Why three seeds by default** (``DEFAULT_SEEDS``): three is the fewest with a usable
  interval — with two, ``t(0.95, 1) = 6.31`` puts the pessimistic bound of TTFT p99 near twice
  its mean (with the 22 % spread above), so sizing would buy cards for noise; with three the
  90 % interval is about +-40 % of the mean (``2.92 * 0.22 / sqrt(3)``) and five seeds narrow
  it to about +-20 % (``--seeds 5``). Time grows with the seeds (each size that passes on the
  first seed runs ``seeds - 1`` more), and issue 18 gives ``compare`` and ``size`` a 10 s
  budget on the 2-core machine, so the default is the smallest usable count;
  ``benchmarks/bench_commands.py`` measures both commands against that budget.
- **Parallel**: ``Replicator`` runs the replications of one or more scenarios on local worker
  processes (``accelsim.sweep.lanes``: a caller's runs stay on one lane, ``Replicator.on``, so
  they share its timing model, ``accelsim.sweep.timing_memo``; without a lane they spread
  round robin) or on Ray (``accelsim.sweep.executors``) — each as a task whose
  evaluator (``replica``) simulates the scenario on the worker and returns its summary's JSON
  form (``Summary.as_dict``, exact for floats), rebuilt here (``summary_from_dict``). Results do
  not depend on the executor or the order tasks finish in (each replication carries its seed),
  so the local pool, Ray and the serial path agree byte for byte. ``Replicator.run`` may be
  called from several threads at once (``compare`` sizes its devices concurrently on one pool).
"""

from __future__ import annotations

import concurrent.futures as cf
import copy
import functools
import json
import math
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

import numpy as np

from accelsim.catalog.loader import Catalog
from accelsim.errors import AccelsimError
from accelsim.run.scenario import Scenario
from accelsim.run.simulate import run_scenario
from accelsim.sim.metrics import HIGHER, LOWER, METRICS, Summary
from accelsim.sweep.context import EvalContext, Task, _catalog, catalog_inputs
from accelsim.sweep.evaluators import deployment
from accelsim.sweep.executors import (
    LocalExecutor,
    RayExecutor,
    SerialExecutor,
    default_workers,
    make_executor,
)
from accelsim.sweep.lanes import Lanes
from accelsim.sweep.timing_memo import shared_deployment

__all__ = [
    "CONFIDENCE",
    "DEFAULT_SEEDS",
    "Replicated",
    "Replicator",
    "SeedInterval",
    "across_seeds",
    "pool_size",
    "replica",
    "replica_seeds",
    "replicate",
    "summary_from_dict",
]

#: Replications per answer of ``run``, ``compare`` and ``size`` (module docstring: why three).
DEFAULT_SEEDS = 3
#: The two-sided confidence of the across-seed interval.
CONFIDENCE = 0.90
#: The evaluator name a replication task carries (``accelsim.sweep.worker`` imports it).
EVALUATOR = "accelsim.sweep.replicate:replica"


def replica_seeds(seed: int, n: int) -> list[int]:
    """The ``n`` seeds of ``n`` replications of a scenario seeded ``seed`` (module docstring)."""
    if n < 1:
        raise AccelsimError(f"--seeds {n}: give at least 1 seed")
    children = np.random.SeedSequence(seed).spawn(n)
    return [seed] + [int(c.generate_state(1)[0]) for c in children[1:]]


def _t_quantile(df: int) -> float:
    from scipy.special import stdtrit

    return float(stdtrit(df, 0.5 + CONFIDENCE / 2.0))


@dataclass(frozen=True)
class SeedInterval:
    """One figure over the seeds: its mean, the 90 % confidence interval of the mean, the
    per-seed values, and which direction is better (``accelsim.sim.metrics`` ``better``)."""

    mean: float
    lo: float
    hi: float
    values: tuple[float, ...]
    better: int = 0

    @classmethod
    def of(cls, values: Sequence[float], better: int = 0) -> SeedInterval:
        vals = tuple(float(v) for v in values)
        n = len(vals)
        mean = math.fsum(vals) / n
        if n < 2 or not all(math.isfinite(v) for v in vals):
            return cls(mean, mean, mean, vals, better)
        sd = math.sqrt(math.fsum((v - mean) ** 2 for v in vals) / (n - 1))
        half = _t_quantile(n - 1) * sd / math.sqrt(n)
        return cls(mean, mean - half, mean + half, vals, better)

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def half_width(self) -> float:
        return (self.hi - self.lo) / 2.0

    @property
    def pessimistic(self) -> float:
        """The worse end of the interval, never better than the worst seed."""
        if self.better == HIGHER:
            return min(self.lo, *self.values)
        return max(self.hi, *self.values)

    def as_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "ci_low": self.lo, "ci_high": self.hi, "n": self.n}


def across_seeds(summaries: Sequence[Summary]) -> dict[str, SeedInterval]:
    """Every numeric figure of the registry (``accelsim.sim.metrics.METRICS``) that all
    ``summaries`` report, over the seeds. A latency figure's better direction is LOWER, which
    makes its pessimistic end the high one."""
    out: dict[str, SeedInterval] = {}
    for name, m in METRICS.items():
        values = [m.get(s) for s in summaries]
        if any(v is None or isinstance(v, bool) for v in values):
            continue
        better = m.better if m.better else (LOWER if m.unit == "s" else 0)
        out[name] = SeedInterval.of(values, better)
    return out


@dataclass(frozen=True)
class Replicated:
    """The replications of one scenario: the seeds, their summaries (in seed order) and each
    figure across them. ``first`` is the scenario's own seed's run."""

    seeds: tuple[int, ...]
    summaries: tuple[Summary, ...]

    @property
    def first(self) -> Summary:
        return self.summaries[0]

    @functools.cached_property
    def across(self) -> dict[str, SeedInterval]:
        """Every figure over the seeds (``across_seeds``), computed once."""
        return across_seeds(self.summaries)

    def mean(self, metric: str) -> float | None:
        iv = self.across.get(metric)
        return iv.mean if iv is not None else None

    def as_dict(self) -> dict[str, Any]:
        """``{"seeds": [...], "across_seeds": {metric: {mean, ci_low, ci_high, n}}}``."""
        return {
            "seeds": list(self.seeds),
            "confidence": CONFIDENCE,
            "across_seeds": {k: v.as_dict() for k, v in self.across.items()},
        }


_NESTED: dict[str, type] | None = None


def _nested() -> dict[str, type]:
    """The ``Summary`` fields that are dataclasses (``Throughput``, ``Percentiles``, ...)."""
    global _NESTED
    if _NESTED is None:
        hints = typing.get_type_hints(Summary)
        nested = {}
        for f in fields(Summary):
            kinds = typing.get_args(hints[f.name]) or (hints[f.name],)
            for k in kinds:
                if is_dataclass(k):
                    nested[f.name] = k
        _NESTED = nested
    return _NESTED


def summary_from_dict(data: dict[str, Any]) -> Summary:
    """The ``Summary`` whose ``as_dict()`` is ``data`` (the inverse of ``Summary.as_dict``)."""
    nested = _nested()
    kwargs = {}
    for f in fields(Summary):
        if f.name not in data:
            continue
        value = data[f.name]
        if f.name in nested and isinstance(value, dict):
            value = nested[f.name](**value)
        kwargs[f.name] = value
    return Summary(**kwargs)


def replica(ctx: EvalContext) -> dict[str, Any]:
    """The sweep evaluator of one replication: the scenario mapping simulated at the task's
    seed; its summary as JSON (``Summary.as_dict``)."""
    summary = run_scenario(deployment(ctx), ctx.catalog).summary
    return {"summary": json.dumps(summary.as_dict(), sort_keys=True)}


class Replicator:
    """Runs scenarios' replications on ``workers`` local lanes (``accelsim.sweep.lanes``; 0 or
    1: in this process, where runs of one shape share a timing model too) or on Ray. Use as a
    context manager; ``run`` is thread-safe."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        workers: int | None = None,
        executor: str = "local",
        address: str | None = None,
    ) -> None:
        self.catalog = catalog
        self.fallback: str | None = None  # why the replications ran in this process, if so
        self.serial = workers == 0 or (executor == "local" and workers == 1)
        self.dirs, self.sets = catalog_inputs(catalog)
        #: the lane every run of this replicator goes down (``on``); None: spread over all
        self.lane: int | None = None
        self._executor: Lanes | SerialExecutor | LocalExecutor | RayExecutor | None = None
        if not self.serial:
            self._executor = (
                Lanes(workers or default_workers())
                if executor == "local"
                else make_executor(executor, workers, address)
            )

    def __enter__(self) -> Replicator:
        if self._executor is not None:
            # forked workers inherit the parsed catalog (``accelsim.sweep.context._catalog``)
            _catalog(self.dirs, tuple(sorted(self.sets.items())))
            # and scipy.special, which this process loads for the interval (``_t_quantile``)
            # and each worker would load again on its first run of an MoE model (the routing
            # terms of ``accelsim.model.routing``: 0.26 s a worker on the 2-core machine)
            import scipy.special  # noqa: F401

            try:
                self._executor.__enter__()
            except (OSError, EOFError, cf.BrokenExecutor) as exc:
                # no pool could start (a forkserver gone, no process slots): the replications
                # run in this process, with the same results byte for byte, only slower
                self.fallback = f"replications run in this process: no worker pool ({exc!r})"
                self._executor = None
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._executor is not None:
            self._executor.__exit__(*exc)

    def cancel(self) -> None:
        """Stop the local lanes now (``accelsim.sweep.lanes.Lanes.cancel``): runs waiting on
        them, in any thread, raise at once. In this process or on Ray: nothing to stop."""
        if isinstance(self._executor, Lanes):
            self._executor.cancel()

    def on(self, lane: int) -> Replicator:
        """This replicator with all its runs sent down lane ``lane`` of its local workers
        (``accelsim.sweep.lanes``: one worker process, whose timing models the runs share);
        in this process or on Ray, runs go where they would anyway. Used by ``size_devices``:
        one lane per device."""
        view = copy.copy(self)
        view.lane = lane
        return view

    def run(
        self,
        scenarios: Sequence[Scenario],
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[Summary]:
        """The summary of each scenario (at its own ``seed``), in order;
        ``progress(done, total)`` as each ends."""
        total = len(scenarios)
        if self._executor is None:
            out = []
            for sc in scenarios:
                out.append(run_scenario(shared_deployment(sc, self.catalog), self.catalog).summary)
                if progress is not None:
                    progress(len(out), total)
            return out
        tasks = [
            Task(
                digest=sc.digest,
                index=i,
                seed=sc.seed,
                params={},
                scenario=sc.model_dump(mode="json"),
                overrides=self.sets,
                evaluator=EVALUATOR,
                catalog_dirs=self.dirs,
                require_fit=False,
            )
            for i, sc in enumerate(scenarios)
        ]
        got: list[Summary | None] = [None] * total
        failed: list[str] = []

        def take(result: dict[str, Any]) -> None:
            if result["status"] != "ok":
                failed.append(f"replication {result['index']}: {result['message']}")
                return
            got[result["index"]] = summary_from_dict(json.loads(result["metrics"]["summary"]))
            if progress is not None:
                progress(sum(s is not None for s in got), total)

        if isinstance(self._executor, Lanes):
            self._executor.run(tasks, self.lane, done=take)
        else:
            for result in self._executor.run(tasks):
                take(result)
                if failed:
                    break
        if failed:
            raise AccelsimError(failed[0])
        return [s for s in got if s is not None]

    def replicate(
        self,
        sc: Scenario,
        seeds: int,
        *,
        first: Summary | None = None,
    ) -> Replicated:
        """``sc`` on ``seeds`` seeds (``replica_seeds``); ``first``, when given, is the run of
        the scenario's own seed, already simulated."""
        all_seeds = replica_seeds(sc.seed, seeds)
        todo = [sc.model_copy(update={"seed": s}) for s in all_seeds[1 if first else 0 :]]
        done = self.run(todo)
        return Replicated(tuple(all_seeds), tuple([first, *done] if first else done))


def replicate(
    sc: Scenario,
    catalog: Catalog,
    seeds: int = DEFAULT_SEEDS,
    *,
    workers: int | None = None,
    executor: str = "local",
    progress: Callable[[int, int], None] | None = None,
) -> Replicated:
    """``sc`` simulated on ``seeds`` seeds in parallel (``workers`` processes, default one per
    CPU up to one per seed; 0: in this process; ``executor`` ``"ray"``: on Ray).
    ``progress(done, total)`` is called as each replication ends."""
    all_seeds = replica_seeds(sc.seed, seeds)
    with Replicator(catalog, workers=pool_size(workers, len(all_seeds)), executor=executor) as rep:
        todo = [sc.model_copy(update={"seed": s}) for s in all_seeds]
        return Replicated(tuple(all_seeds), tuple(rep.run(todo, progress=progress)))


def pool_size(workers: int | None, tasks: int) -> int:
    """Workers for ``tasks`` replications: ``workers`` when given, else one per CPU up to one
    per task; a single task runs in this process (0)."""
    if workers is not None:
        return workers
    return 0 if tasks <= 1 else min(default_workers(), tasks)
