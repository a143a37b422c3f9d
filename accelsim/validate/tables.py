"""The generated accuracy text of ``docs/validation.md`` and the README.

``tests/test_validate.py`` keeps each block between its HTML-comment markers equal to what these
functions return for the shipped cases (regenerate with ``ACCELSIM_REGEN_GOLDEN=1``): the
cross-validated summary per kind and per device beside the fitted one (``cv_summary_markdown``),
the prediction-interval groups (``intervals_markdown``) and the README's accuracy sentences
(``accuracy_sentences``). The cross-validated errors come from the residuals stored in
``workloads/validation/intervals.yaml`` (``accelsim validate --cv --write-intervals``).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence

from accelsim.validate.intervals import GroupInterval
from accelsim.validate.predict import CaseResult, ValidationReport

__all__ = ["accuracy_sentences", "cv_summary_markdown", "intervals_markdown"]

_KINDS = ("prefill", "decode", "serving")


def _agg(errors: Sequence[float]) -> tuple[float, float]:
    a = [abs(e) for e in errors]
    return statistics.median(a), max(a)


def _groups(report: ValidationReport) -> list[tuple[str, list[CaseResult]]]:
    out: list[tuple[str, list[CaseResult]]] = [("all", list(report.results))]
    for kind in _KINDS:
        rs = [r for r in report.results if r.case.mode == kind]
        if rs:
            out.append((kind if kind != "decode" else "decode (fixed batch)", rs))
    devices: dict[str, list[CaseResult]] = {}
    for r in report.results:
        devices.setdefault(r.case.device, []).append(r)
    out += sorted(devices.items())
    return out


def cv_summary_markdown(report: ValidationReport, cv_errors: Mapping[str, float]) -> str:
    """Cross-validated and fitted median/max |error| overall, per kind and per device."""
    lines = [
        "| cases | CV median \\|error\\| | CV max \\|error\\| | fitted median | fitted max |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, rs in _groups(report):
        cm, cx = _agg([cv_errors[r.case.id] for r in rs])
        fm, fx = _agg([r.error_pct for r in rs])
        bold = "**" if name == "all" else ""
        lines.append(
            f"| {name} {len(rs)} | {bold}{cm:.1f} %{bold} | {bold}{cx:.1f} %{bold} | "
            f"{fm:.1f} % | {fx:.1f} % |"
        )
    return "\n".join(lines) + "\n"


def intervals_markdown(groups: Sequence[GroupInterval]) -> str:
    """The interval of each (vendor, kind) group, as speed errors."""
    lines = [
        "| vendor | kind | cases | speed error low | high | basis |",
        "|---|---|---:|---:|---:|---|",
    ]
    for g in groups:
        lines.append(
            f"| {g.vendor} | {g.kind} | {g.n} | {g.lo * 100:+.1f} % | {g.hi * 100:+.1f} % | "
            f"{g.basis} |"
        )
    return "\n".join(lines) + "\n"


def accuracy_sentences(report: ValidationReport, cv_errors: Mapping[str, float]) -> str:
    """The README's two accuracy sentences: cross-validated, then fitted."""
    n = len(report.results)

    def line(label: str, err: Mapping[str, float]) -> str:
        m, x = _agg([err[r.case.id] for r in report.results])
        parts = []
        for kind in ("decode", "prefill", "serving"):
            rs = [r for r in report.results if r.case.mode == kind]
            if rs:
                km, kx = _agg([err[r.case.id] for r in rs])
                name = "fixed-batch decode" if kind == "decode" else kind
                parts.append(f"{name} {km:.1f} % / {kx:.1f} %")
        return (
            f"{label}: {n} active cases, median absolute error {m:.1f} %, maximum {x:.1f} % "
            f"({', '.join(parts)})."
        )

    fitted = {r.case.id: r.error_pct for r in report.results}
    return (
        line("Cross-validated", cv_errors)
        + "\n"
        + line("Fitted (each case scored with the shipped numbers, some fitted on it)", fitted)
        + "\n"
    )
