"""Predicting validation cases, and the error report.

A fixed-batch case (``mode: prefill`` or ``decode``) is predicted from one ``PerfModel.step`` of
its batch on the timing model its device, model, precision, plan, routing profile, server and
framework describe; a serving case (``mode: serving``) from the run summary of its simulated
scenario (``run_scenario``). ``run_validation`` predicts every active case; ``ValidationReport``
holds the signed errors, their aggregates (overall, per split, per device, per mode) and the
Markdown error table of ``docs/validation.md``.

Routing profiles are catalog data (``workloads/routing/``, ``accelsim.catalog.routing``);
``routing_model`` (``accelsim.run.timing``, re-exported here) turns one into the
``RoutingModel`` the timing model prices. Fitted numbers are refitted by
``accelsim.validate.calibrate``, never here.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accelsim.catalog.loader import Catalog
from accelsim.dtypes import precision
from accelsim.errors import AccelsimError, CatalogError
from accelsim.model.perf.model import PerfModel
from accelsim.model.perf.ops import StepTime
from accelsim.run.simulate import run_scenario
from accelsim.run.timing import perf_model_from_catalog, routing_model
from accelsim.sim.metrics import METRICS, Summary
from accelsim.validate.cases import SERVING_METRICS, Case, load_cases

__all__ = [
    "CaseResult",
    "ErrorTable",
    "ValidationReport",
    "perf_model_for",
    "predict",
    "predict_serving",
    "routing_model",
    "run_validation",
]


@dataclass(frozen=True)
class CaseResult:
    """Measured against predicted for one active case: the ``step`` of a fixed-batch case or
    the run ``summary`` of a serving case."""

    case: Case
    predicted: float
    step: StepTime | None = None
    summary: Summary | None = None
    decode_seqs_mean: float | None = None  # simulated, time-averaged over the run

    def decomposition(self) -> dict[str, float]:
        """A serving error split into the batch the scheduler formed and the iteration time.

        Simulated: ``decode_seqs`` (decoding sequences, time-averaged over the makespan, all
        replicas), ``iteration_s`` (mean duration of decode iterations, weighted by their
        sequences: the run's ``itl_s`` mean), ``tpot_s``, ``ttft_s``. Source-implied, for an
        ``output_tokens_per_s_total`` case with ``reported.mean_tpot_s`` (Little's law on the
        decode phase): ``src_decode_seqs = T / L * TPOT * (L - 1)`` for measured output tokens/s
        ``T`` and mean output length ``L``, ``src_iteration_s = TPOT * tokens_per_step`` (the
        published accept length; 1 without speculative decoding). Output tokens/s over the
        makespan is ``decode_seqs * tokens_per_step / iteration`` on both sides (prefill stalls,
        ramp-up and tail lower the time-averaged ``decode_seqs``), so the throughput error factor
        is ``batch_ratio / iteration_ratio``: a scheduler that forms a different batch shows in
        ``batch_ratio``, a timing model that prices the iteration wrong in ``iteration_ratio``.
        Empty for fixed-batch cases.
        """
        s, c = self.summary, self.case
        if s is None or self.decode_seqs_mean is None:
            return {}
        out = {
            "decode_seqs": self.decode_seqs_mean,
            "iteration_s": float(s.itl_s.mean if s.itl_s is not None else math.nan),
            "tpot_s": float(s.tpot_s.mean),
            "ttft_s": float(s.ttft_s.mean),
        }
        tpot = c.reported.get("mean_tpot_s")
        if c.metric != "output_tokens_per_s_total" or tpot is None or not s.completed:
            return out
        length = s.throughput.output_tokens_per_s * s.duration_s / s.completed
        step = c.spec.tokens_per_step if c.spec is not None else 1.0
        measured = c.measured or 0.0
        out["src_decode_seqs"] = measured / length * tpot * (length - 1.0)
        out["src_iteration_s"] = tpot * step
        out["batch_ratio"] = out["decode_seqs"] / out["src_decode_seqs"]
        out["iteration_ratio"] = out["iteration_s"] / out["src_iteration_s"]
        if "mean_ttft_s" in c.reported:
            out["src_ttft_s"] = c.reported["mean_ttft_s"]
        return out

    @property
    def bound(self) -> str:
        """The fixed-batch step's bound; ``serving`` for a simulated run."""
        return self.step.bound if self.step is not None else "serving"

    @property
    def error_pct(self) -> float:
        m = self.case.measured or 0.0
        return (self.predicted - m) / m * 100.0

    def as_dict(self) -> dict[str, Any]:
        c = self.case
        return {
            "id": c.id,
            "metric": c.metric,
            "unit": c.unit,
            "measured": c.measured,
            "predicted": self.predicted,
            "error_pct": self.error_pct,
            "split": c.split,
            "mode": c.mode,
            "device": c.device,
            "model": c.model,
            "bound": self.bound,
        }


def _agg(errors: list[float]) -> dict[str, float | int]:
    a = [abs(e) for e in errors]
    return {
        "n": len(a),
        "median_abs_error_pct": statistics.median(a) if a else math.nan,
        "max_abs_error_pct": max(a) if a else math.nan,
    }


class ErrorTable:
    """The aggregates of a list of case results (``results``): signed errors, median and
    maximum absolute error, and the same per value of a case field (device, split, mode)."""

    results: list[CaseResult]

    @property
    def errors(self) -> list[float]:
        return [r.error_pct for r in self.results]

    @property
    def median_abs_error_pct(self) -> float:
        return float(_agg(self.errors)["median_abs_error_pct"])

    @property
    def max_abs_error_pct(self) -> float:
        return float(_agg(self.errors)["max_abs_error_pct"])

    def by(self, key: str) -> dict[str, dict[str, float | int]]:
        groups: dict[str, list[float]] = {}
        for r in self.results:
            groups.setdefault(getattr(r.case, key), []).append(r.error_pct)
        return {k: _agg(v) for k, v in sorted(groups.items())}


@dataclass(frozen=True)
class ValidationReport(ErrorTable):
    """Results of active cases plus the pending and skipped ones."""

    results: list[CaseResult]
    pending: list[Case]
    skipped: list[Case]

    def as_dict(self) -> dict[str, Any]:
        return {
            "cases": [r.as_dict() for r in self.results],
            "median_abs_error_pct": self.median_abs_error_pct,
            "max_abs_error_pct": self.max_abs_error_pct,
            "by_hardware": self.by("device"),
            "by_split": self.by("split"),
            "by_mode": self.by("mode"),
            "pending": [{"id": c.id, "mode": c.mode, "reason": c.reason} for c in self.pending],
            "skipped": [{"id": c.id, "reason": c.reason} for c in self.skipped],
        }

    def markdown(self, cv_errors: Mapping[str, float] | None = None) -> str:
        """The error table as Markdown: every active case (sorted by signed error), then the
        aggregates overall and by mode, split and device. With ``cv_errors`` (case id ->
        cross-validated signed error, ``accelsim.validate.crossval``) each row and aggregate
        shows the cross-validated error beside the fitted one. Deterministic for the same
        cases."""
        cv = cv_errors
        head = "| case | mode | split | device | metric | measured | predicted | error |"
        rule = "|---|---|---|---|---|---:|---:|---:|"
        if cv is not None:
            head += " CV error |"
            rule += "---:|"
        lines = [head, rule]
        for r in sorted(self.results, key=lambda r: (r.error_pct, r.case.id)):
            c = r.case
            row = (
                f"| {c.id} | {c.mode} | {c.split} | {c.device} | {c.metric} [{c.unit}] | "
                f"{c.measured:.4g} | {r.predicted:.4g} | {r.error_pct:+.1f} % |"
            )
            if cv is not None:
                row += f" {cv[c.id]:+.1f} % |"
            lines.append(row)
        lines.append("")
        if cv is None:
            lines += [
                "| group | cases | median \\|error\\| | max \\|error\\| |",
                "|---|---:|---:|---:|",
            ]
        else:
            lines += [
                "| group | cases | CV median \\|error\\| | CV max \\|error\\| | "
                "fitted median \\|error\\| | fitted max \\|error\\| |",
                "|---|---:|---:|---:|---:|---:|",
            ]
        groups = [("all", self.results)]
        for key in ("mode", "split", "device"):
            members: dict[str, list[CaseResult]] = {}
            for r in self.results:
                members.setdefault(getattr(r.case, key), []).append(r)
            groups += [(f"{key} {k}", v) for k, v in sorted(members.items())]
        for name, rs in groups:
            g = _agg([r.error_pct for r in rs])
            fitted = f"{g['median_abs_error_pct']:.1f} % | {g['max_abs_error_pct']:.1f} %"
            if cv is None:
                lines.append(f"| {name} | {g['n']} | {fitted} |")
                continue
            h = _agg([cv[r.case.id] for r in rs])
            lines.append(
                f"| {name} | {g['n']} | {h['median_abs_error_pct']:.1f} % | "
                f"{h['max_abs_error_pct']:.1f} % | {fitted} |"
            )
        return "\n".join(lines) + "\n"


# ---- predicting -----------------------------------------------------------------------------
def perf_model_for(case: Case, catalog: Catalog) -> PerfModel:
    """The ``PerfModel`` a case describes."""
    assert case.plan is not None and case.model is not None
    prec = precision(case.dtype, case.kv_dtype)
    fw = case.framework
    pm = perf_model_from_catalog(
        catalog,
        case.model,
        case.device,
        case.plan,
        prec,
        routing=routing_model(catalog, case.routing),
        spec=case.spec,
        server=case.server,
        iteration_overhead=fw.iteration_overhead if fw is not None else None,
        framework=fw.name if fw is not None else None,
        graph=fw.graph if fw is not None else None,
        graph_max_tokens=fw.graph_max_tokens if fw is not None else None,
    )
    if case.cards is not None and not math.isclose(pm.cards, float(case.cards)):
        raise CatalogError(
            f"{case.file}: case {case.id}: plan uses {pm.cards:g} cards but cards is {case.cards}"
        )
    return pm


def predict_serving(case: Case, catalog: Catalog) -> CaseResult:
    """Simulate a serving case's scenario and read its metric from the run summary."""
    assert case.scenario is not None and case.metric is not None
    result = run_scenario(case.scenario, catalog)
    summary = result.summary
    at = f"{case.file}: case {case.id}"
    if summary.completed != summary.arrived:
        raise CatalogError(
            f"{at}: {summary.arrived - summary.completed} of {summary.arrived} requests "
            f"did not complete ({dict(summary.rejected_by_reason)}); the scenario cannot serve "
            "them"
        )
    cards = summary.cards  # packages (the scenario's plans count ranks)
    if case.cards is not None and not math.isclose(cards, float(case.cards)):
        raise CatalogError(f"{at}: the scenario uses {cards:g} cards but cards is {case.cards}")
    value = METRICS[SERVING_METRICS[case.metric][1]].get(summary)
    decoding = float(sum(result.timeline.decoding)) / summary.duration_s
    return CaseResult(case, float(value) * case.scale, summary=summary, decode_seqs_mean=decoding)


def predict(case: Case, catalog: Catalog) -> CaseResult:
    """Predict the case's metric: one iteration of its batch, or a simulated serving run."""
    if case.mode == "serving":
        return predict_serving(case, catalog)
    pm = perf_model_for(case, catalog)
    step = pm.step(case.batch_stats())
    t = step.total_s
    metric = case.metric
    if metric in ("prefill_tokens_per_s_per_card", "decode_tokens_per_s_per_card"):
        value = step.tokens / t / pm.cards
    elif metric == "decode_tokens_per_s_per_user":
        value = pm.tokens_per_decode_step / t
    elif metric == "tpot_s":
        value = t / pm.tokens_per_decode_step
    elif metric == "ttft_s":
        value = t
    else:  # pragma: no cover - guarded by _case
        raise AccelsimError(f"metric {metric!r} cannot be predicted")
    return CaseResult(case, value * case.scale, step=step)


def run_validation(catalog: Catalog, source: str | Path | None = None) -> ValidationReport:
    """Predict every active case; list pending and skipped ones (calibration cases are
    predicted only by their refits, ``accelsim.validate.calibrate``)."""
    cases = load_cases(source, catalog)
    results = [predict(c, catalog) for c in cases if c.status == "active"]
    return ValidationReport(
        results=results,
        pending=[c for c in cases if c.status == "pending"],
        skipped=[c for c in cases if c.status == "skipped"],
    )
