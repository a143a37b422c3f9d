"""Leave-one-source-out cross-validation of the validation cases.

The fitted error table (``accelsim.validate.predict``) scores each case with the catalog's
calibrated numbers, some of which were fitted on that very case or on its siblings. This module
scores each active case with numbers that never saw its source: for every source (``Case.source``:
the blog, paper or CI file a case cites; cases of one publication are held out together) each
number of the refit registry (``accelsim.validate.calibrate.CALIBRATED``) is refit on its fit
cases of the *other* sources, and the source's cases are predicted with those refits as catalog
overrides (``with_overrides``), exactly as a what-if would set them.

Assumptions and rules:

- The numbers are refit in registry order, each on a catalog that already carries the held-out
  refits of the numbers before it, so no number sees the held-out source through another.
  (No number's fit cases depend on a later one: drift on fixed-batch H100 prefill, the
  SGLang-on-Ascend cost on Huawei serving cases with uniform routing, the dequant fractions on
  A100 weight-only decode.)
- A number whose fit cases all belong to the held-out source cannot be refit: it takes its
  ``prior`` (the mechanism's neutral value, ``Calibrated.prior``), and the fold says so.
- Refits are cached by (number, fit cases left, values of the numbers before it), so a number
  that a source does not inform is refit once for all such sources; a fold whose values all
  equal the shipped ones reuses the fitted predictions (the same catalog numbers give the same
  prediction).
- Functional forms (which cases a number's formula was chosen on) are not refit: the docs say
  which cases informed each form (``docs/validation.md``, "Cross-validation").

Deterministic: the folds are sorted by source and every refit is a fixed bisection, so the
result is the same on every run and for any number of worker processes.

Parallel (``workers``, ``executor``): each source's fold is one task on an executor of
``accelsim.sweep.executors`` (the local process pool, or Ray). A task rebuilds the catalog from
its user folders and overrides, refits and predicts its source's cases on the worker
(``fold_task``) and returns them pickled (the worker's own objects, exact); the folds are put
back in source order, so the result equals the serial one byte for byte whatever order tasks
finish in. Each worker process keeps its own refit cache, so a number a source does not inform
is refit once per worker instead of once.
"""

from __future__ import annotations

import base64
import pickle
import weakref
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accelsim.catalog.loader import Catalog, with_overrides
from accelsim.errors import AccelsimError
from accelsim.sweep.context import EvalContext, Task, catalog_inputs
from accelsim.sweep.executors import make_executor
from accelsim.validate.calibrate import CALIBRATED
from accelsim.validate.cases import Case, load_cases
from accelsim.validate.predict import (
    CaseResult,
    ErrorTable,
    ValidationReport,
    predict,
    run_validation,
)

__all__ = ["CrossValidation", "Fold", "cross_validate", "fold_task", "fold_values"]

#: (number key, fit cases left, values of the numbers before it) -> refit value
RefitCache = dict[tuple[str, tuple[str, ...], tuple[tuple[str, float], ...]], float]


@dataclass(frozen=True)
class Fold:
    """One held-out source: its active cases and the value each calibrated number took."""

    source: str
    case_ids: tuple[str, ...]
    values: dict[str, float]
    #: Keys of the numbers that fell back to their prior (every fit case held out).
    priors: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "cases": list(self.case_ids),
            "values": dict(self.values),
            "priors": list(self.priors),
        }


@dataclass(frozen=True)
class CrossValidation(ErrorTable):
    """Cross-validated predictions of the active cases (in the fitted report's order)."""

    results: list[CaseResult]
    folds: list[Fold]

    def error_of(self) -> dict[str, float]:
        """Case id -> cross-validated signed error (%)."""
        return {r.case.id: r.error_pct for r in self.results}

    def as_dict(self) -> dict[str, Any]:
        return {
            "median_abs_error_pct": self.median_abs_error_pct,
            "max_abs_error_pct": self.max_abs_error_pct,
            "cases": [
                {
                    "id": r.case.id,
                    "error_pct": r.error_pct,
                    "predicted": r.predicted,
                    "source": r.case.source,
                }
                for r in self.results
            ],
            "by_hardware": self.by("device"),
            "by_mode": self.by("mode"),
            "folds": [f.as_dict() for f in self.folds],
        }


def fold_values(
    catalog: Catalog,
    cases: Mapping[str, Case],
    held_out: frozenset[str],
    cache: RefitCache | None = None,
) -> tuple[dict[str, float], tuple[str, ...]]:
    """Each calibrated number refit without the ``held_out`` cases (registry order, each on the
    catalog carrying the ones before it), or its prior when none of its fit cases is left:
    ``(key -> value, keys that took their prior)``."""
    cache = {} if cache is None else cache
    cat = catalog
    values: dict[str, float] = {}
    priors: list[str] = []
    for n in CALIBRATED:
        left = tuple(cid for cid in n.fit_cases(catalog) if cid not in held_out)
        if not left:
            value = n.prior(catalog)
            priors.append(n.key)
        else:
            ck = (n.key, left, tuple(values.items()))
            if ck not in cache:
                cache[ck] = n.refit(cat, cases, held_out)
            value = cache[ck]
        values[n.key] = value
        cat = with_overrides(cat, n.override(value))
    return values, tuple(priors)


def _source_of(case: Case) -> str:
    return case.source or f"case {case.id}"


def _case_pool(catalog: Catalog, source: str | Path | None) -> dict[str, Case]:
    """The cases refits draw on: the catalog's, plus those of ``source``."""
    pool = {c.id: c for c in load_cases(None, catalog)}
    if source is not None:
        pool.update({c.id: c for c in load_cases(source, catalog)})
    return pool


def _members(pool: Mapping[str, Case]) -> dict[str, list[Case]]:
    members: dict[str, list[Case]] = {}
    for c in pool.values():
        if c.status in ("active", "calibration"):
            members.setdefault(_source_of(c), []).append(c)
    return members


def _fold(
    catalog: Catalog,
    pool: Mapping[str, Case],
    members: Mapping[str, list[Case]],
    src: str,
    scored: list[Case],
    cache: RefitCache,
) -> tuple[Fold, dict[str, CaseResult] | None]:
    """Source ``src`` held out: its fold, and the predictions of its ``scored`` cases (None
    when every refit equals the shipped value: the fitted predictions stand)."""
    held = frozenset(c.id for c in members[src])
    values, priors = fold_values(catalog, pool, held, cache)
    fold = Fold(src, tuple(c.id for c in scored), values, priors)
    if values == {n.key: n.shipped(catalog) for n in CALIBRATED}:
        return fold, None
    by_key = {n.key: n for n in CALIBRATED}
    overrides: dict[str, str] = {}
    for key, value in values.items():
        overrides.update(by_key[key].override(value))
    cat = with_overrides(catalog, overrides)
    return fold, {c.id: predict(c, cat) for c in scored}


#: Refit caches of a worker process, one per catalog it was handed (``fold_task``).
_WORKER_CACHES: weakref.WeakKeyDictionary[Catalog, RefitCache] = weakref.WeakKeyDictionary()


def fold_task(ctx: EvalContext) -> dict[str, Any]:
    """The executor task of one fold (``ctx.scenario``: the held-out ``source``, the ids of its
    ``scored`` cases and the ``case_file``): the fold and its predictions, pickled."""
    catalog = ctx.catalog
    job = ctx.scenario
    pool = _case_pool(catalog, job["case_file"])
    members = _members(pool)
    scored = [pool[cid] for cid in job["scored"]]
    cache = _WORKER_CACHES.setdefault(catalog, {})
    done = _fold(catalog, pool, members, job["source"], scored, cache)
    return {"fold": base64.b64encode(pickle.dumps(done)).decode("ascii")}


def cross_validate(
    catalog: Catalog,
    source: str | Path | None = None,
    report: ValidationReport | None = None,
    only: Collection[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    *,
    workers: int = 0,
    executor: str = "local",
) -> CrossValidation:
    """Leave-one-source-out predictions of every active case of ``source`` (default: the
    catalog's cases; see the module docstring). The refits always draw on the catalog's fit
    cases (a case file's own cases join them). ``report`` is the fitted validation of the same
    cases, when already computed; ``only`` (case ids) predicts just those cases' folds.
    ``progress(done, total)`` is called after each source's fold. ``workers`` > 0 runs the
    folds as tasks on ``executor`` (``"local"``: a process pool of that many workers;
    ``"ray"``), with the same result as in this process (0)."""
    pool = _case_pool(catalog, source)
    report = run_validation(catalog, source) if report is None else report
    scored_ids = {r.case.id for r in report.results}
    if only is not None:
        scored_ids &= set(only)
    fitted = {r.case.id: r for r in report.results}
    members = _members(pool)
    jobs = []
    for src in sorted(members):
        scored = [c for c in members[src] if c.id in scored_ids]
        if scored:
            jobs.append((src, scored))
    if workers > 0:
        done = _parallel_folds(catalog, source, jobs, workers, executor, progress)
    else:
        cache: RefitCache = {}
        done = []
        for i, (src, scored) in enumerate(jobs):
            if progress is not None:
                progress(i, len(jobs))
            done.append(_fold(catalog, pool, members, src, scored, cache))
    cv: dict[str, CaseResult] = {}
    for (_src, scored), (_, predicted) in zip(jobs, done, strict=True):
        cv.update(predicted if predicted is not None else {c.id: fitted[c.id] for c in scored})
    folds = [fold for fold, _ in done]
    return CrossValidation([cv[r.case.id] for r in report.results if r.case.id in cv], folds)


def _parallel_folds(
    catalog: Catalog,
    source: str | Path | None,
    jobs: list[tuple[str, list[Case]]],
    workers: int,
    executor: str,
    progress: Callable[[int, int], None] | None,
) -> list[tuple[Fold, dict[str, CaseResult] | None]]:
    """``_fold`` of every job, as tasks on ``executor``, in the jobs' order."""
    dirs, sets = catalog_inputs(catalog)
    case_file = None if source is None else str(Path(source).resolve())
    tasks = [
        Task(
            digest=f"cv-{i}",
            index=i,
            seed=0,
            params={},
            scenario={"source": src, "scored": [c.id for c in scored], "case_file": case_file},
            overrides=sets,
            evaluator="accelsim.validate.crossval:fold_task",
            catalog_dirs=dirs,
            require_fit=False,
        )
        for i, (src, scored) in enumerate(jobs)
    ]
    got: list[tuple[Fold, dict[str, CaseResult] | None] | None] = [None] * len(tasks)
    with make_executor(executor, workers) as ex:
        for n, result in enumerate(ex.run(tasks), 1):
            if result["status"] != "ok":
                raise AccelsimError(f"cross-validation fold {result['index']}: {result['message']}")
            got[result["index"]] = pickle.loads(base64.b64decode(result["metrics"]["fold"]))
            if progress is not None:
                progress(n, len(tasks))
    return [g for g in got if g is not None]
