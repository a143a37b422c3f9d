"""Run a sweep: expand, skip finished points, evaluate on an executor, stream rows to disk, and
summarize (Pareto fronts, best configuration per group under the SLOs, chart)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accelsim.catalog.loader import load_catalog, parse_override
from accelsim.errors import AccelsimError
from accelsim.files import atomic_write, os_error
from accelsim.run.scenario import read_scenario
from accelsim.sweep.context import Task
from accelsim.sweep.executors import make_executor
from accelsim.sweep.pareto import best_per_group, pareto_front, plot_pareto
from accelsim.sweep.spec import SweepSpec, expand, load_sweep, resolve_base
from accelsim.sweep.store import ResultStore, flatten
from accelsim.sweep.worker import auto_evaluator, resolve_evaluator
from accelsim.version import __version__

__all__ = ["RESULTS_FILE", "SweepRun", "run_sweep", "summarize"]

RESULTS_FILE = "results.sqlite"


class Progress:
    """What ``run_sweep`` reports to (the CLI draws a rich progress bar from it)."""

    def start(self, total: int, done: int) -> None:  # pragma: no cover - interface
        pass

    def advance(self, result: dict[str, Any]) -> None:  # pragma: no cover - interface
        pass


@dataclass
class SweepRun:
    """The outcome of ``run_sweep``: every row of this sweep, and where the files are."""

    spec: SweepSpec
    out_dir: Path
    db_path: Path
    evaluator: str
    executor: str
    workers: int
    total: int
    resumed: int
    evaluated: int
    excluded: int
    elapsed_s: float
    rows: list[dict[str, Any]] = field(repr=False)
    chart: Path | None = None

    @property
    def counts(self) -> dict[str, int]:
        out = {"ok": 0, "skipped": 0, "error": 0}
        for r in self.rows:
            out[r["status"]] = out.get(r["status"], 0) + 1
        return out

    @property
    def points_per_minute(self) -> float:
        return 60.0 * self.evaluated / self.elapsed_s if self.elapsed_s > 0 else float("nan")

    def fronts(self) -> dict[str, list[dict[str, Any]]]:
        ok = [r for r in self.rows if r["status"] == "ok"]
        p = self.spec.pareto
        return {lat: list(pareto_front(ok, p.cost, lat)) for lat in p.latency}  # type: ignore[misc]

    def best(self) -> dict[str, dict[str, Any]]:
        p = self.spec.pareto
        return best_per_group(  # type: ignore[return-value]
            self.rows, p.group, p.cost, self.spec.slo_bounds(), tiebreak=p.latency
        )

    def to_frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame(
            [{k: v for k, v in r.items() if k not in ("_params", "_metrics")} for r in self.rows]
        )

    def summary(self) -> dict[str, Any]:
        keep = ["digest", "index", *self._param_keys(), *self._metric_keys()]

        def slim(r: dict[str, Any]) -> dict[str, Any]:
            return {k: r.get(k) for k in keep if k in r}

        return {
            "sweep": self.spec.name,
            "results": str(self.db_path),
            "chart": str(self.chart) if self.chart else None,
            "evaluator": self.evaluator,
            "set": dict(self.spec.set),
            "executor": self.executor,
            "workers": self.workers,
            "points": self.total,
            "resumed": self.resumed,
            "evaluated": self.evaluated,
            "excluded_by_constraints": self.excluded,
            "counts": self.counts,
            "elapsed_s": self.elapsed_s,
            "points_per_minute": self.points_per_minute,
            "slo": {k: {"min": lo, "max": hi} for k, (lo, hi) in self.spec.slo_bounds().items()},
            "pareto": {
                f"{self.spec.pareto.cost}_vs_{lat}": [slim(r) for r in front]
                for lat, front in self.fronts().items()
            },
            "best_per_" + self.spec.pareto.group: {g: slim(r) for g, r in self.best().items()},
            "errors": [
                {"digest": r["digest"], "message": r["message"]}
                for r in self.rows
                if r["status"] == "error"
            ][:20],
        }

    def _param_keys(self) -> list[str]:
        keys: dict[str, None] = {}
        for r in self.rows:
            for k in r.get("_params", ()):
                keys[k] = None
        return list(keys)

    def _metric_keys(self) -> list[str]:
        keys: dict[str, None] = {}
        for r in self.rows:
            for k in r.get("_metrics", ()):
                keys[k] = None
        return list(keys)


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    out = flatten(row)
    out["_params"] = tuple(row["params"])
    out["_metrics"] = tuple(row["metrics"])
    return out


def run_sweep(
    spec: SweepSpec | str | Path,
    out_dir: str | Path | None = None,
    *,
    executor: str = "local",
    workers: int | None = None,
    address: str | None = None,
    resume: bool = False,
    retry_errors: bool = False,
    catalog_dirs: list[str] | None = None,
    progress: Progress | None = None,
    chart: bool = True,
    evaluator: str | None = None,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> SweepRun:
    """Run (or resume) a sweep and return its rows and summaries.

    Results stream into ``out_dir/results.sqlite`` one transaction per point. Without
    ``resume`` a results file that already holds points is an error (nothing is overwritten);
    with it, points already recorded are skipped (``retry_errors`` re-runs those that failed).
    """
    if not isinstance(spec, SweepSpec):
        spec = load_sweep(spec)
    where = Path(spec.source).name if spec.source else "sweep"
    try:
        base = resolve_base(
            spec, load_catalog(catalog_dirs) if not isinstance(spec.base, dict) else None
        )
    except AccelsimError as exc:
        raise AccelsimError(f"{where}: field base: {exc}") from None
    ev = evaluator or spec.evaluator
    if ev == "auto":
        ev = auto_evaluator()
    try:
        exp = expand(spec, base, ev)
    except AccelsimError as exc:
        raise AccelsimError(f"{where}: {exc}") from None
    check_points(spec, exp.points, ev, catalog_dirs, "--evaluator" if evaluator else None)
    out = Path(out_dir) if out_dir is not None else Path("sweep-results") / spec.name
    db_path = out / RESULTS_FILE
    ex = make_executor(executor, workers, address)
    t0 = time.perf_counter()
    with _folder_lock(out), ResultStore(db_path) as store:
        if store.count() and not resume:
            raise AccelsimError(
                f"{db_path} already holds {store.count()} points; pass --resume to continue "
                "that sweep, or choose another --out"
            )
        statuses = ("ok", "skipped") if retry_errors else ("ok", "skipped", "error")
        done = store.finished(statuses)
        store.set_meta(
            {
                "sweep": spec.model_dump(mode="json"),
                "base": base,
                "evaluator": ev,
                "points": len(exp.points),
                "accelsim_version": _version(),
            }
        )
        keep = spec.kept_metrics()
        todo = [p for p in exp.points if p.digest not in done]
        resumed = len(exp.points) - len(todo)
        tasks = (
            Task(
                digest=p.digest,
                index=p.index,
                seed=p.seed,
                params=p.params,
                scenario=p.scenario,
                overrides=p.overrides,
                evaluator=ev,
                catalog_dirs=tuple(catalog_dirs or ()),
                require_fit=spec.constraints.fit,
                keep=tuple(keep) if keep is not None else None,
                cost=tuple(sorted(spec.cost.items())),
            )
            for p in todo
        )
        evaluated = 0
        with ex, contextlib.closing(ex.run(tasks)) as results:
            if progress is not None:
                progress.start(len(exp.points), resumed)
            for result in results:
                store.write(result)
                evaluated += 1
                if progress is not None:
                    progress.advance(result)
                if on_result is not None:
                    on_result(result)
        elapsed = time.perf_counter() - t0
        rows = [_flat(r) for r in store.rows({p.digest for p in exp.points})]
    run = SweepRun(
        spec=spec,
        out_dir=out,
        db_path=db_path,
        evaluator=ev,
        executor=ex.name,
        workers=ex.workers or 0,
        total=len(exp.points),
        resumed=resumed,
        evaluated=evaluated,
        excluded=len(exp.excluded),
        elapsed_s=elapsed,
        rows=rows,
    )
    if chart and any(r["status"] == "ok" for r in rows):
        try:
            run.chart = plot_pareto(
                rows,
                spec.pareto.cost,
                spec.pareto.latency,
                out / "pareto.svg",
                group=spec.pareto.group,
                slo=spec.slo_bounds(),
                title=spec.name,
            )
        except (KeyError, ValueError):  # metrics absent: no chart, the table is still there
            run.chart = None
    atomic_write(
        out / "summary.json",
        json.dumps(summarize(run), indent=2, sort_keys=True, default=str) + "\n",
    )
    return run


#: The built-in evaluators that read each point as a scenario.
_SCENARIO_EVALUATORS = ("simulate", "analytic")


def check_points(
    spec: SweepSpec,
    points: list[Any],
    evaluator: str,
    catalog_dirs: list[str] | None,
    flag: str | None = None,
) -> None:
    """What would make every point fail, checked once before any runs: the evaluator, the
    catalog overrides (every ``set`` key names a known entry; the first point's values
    validate) and the first point's scenario (its axes address real fields)."""
    where = Path(spec.source).name if spec.source else "sweep"
    try:
        resolve_evaluator(evaluator)
    except AccelsimError as exc:
        named = f"{flag} {evaluator}" if flag else f"{where}: field evaluator"
        raise AccelsimError(f"{named}: {exc}") from None
    if not points:
        return
    first = points[0]
    try:
        catalog = load_catalog(catalog_dirs, first.overrides)
        known = catalog.known_names()
        for key in sorted({k for p in points for k in p.overrides}):
            parse_override(f"{key}=0", known)
        for o in catalog.overrides:
            catalog.get(o.kind, o.name)  # type: ignore[arg-type]
        if evaluator in _SCENARIO_EVALUATORS:
            read_scenario(first.scenario, catalog)
    except AccelsimError as exc:
        raise AccelsimError(f"{where}: every point would fail: {exc}") from None


@contextlib.contextmanager
def _folder_lock(out: Path):
    """Hold ``out/.lock`` (an exclusive ``flock``) while a sweep writes into ``out``: a second
    sweep on the same folder is refused instead of evaluating every point again."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        fh = (out / ".lock").open("w")
    except OSError as exc:
        raise os_error(out, exc) from None
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AccelsimError(
                f"{out}: another sweep is writing into this folder (wait for it, or choose "
                "another --out)"
            ) from None
        yield
    finally:
        fh.close()


def summarize(run: SweepRun) -> dict[str, Any]:
    return run.summary()


def _version() -> str:
    return __version__
