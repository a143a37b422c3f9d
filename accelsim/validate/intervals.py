"""Prediction intervals from the cross-validated residuals.

``accelsim validate --cv --write-intervals`` computes the leave-one-source-out residual of every
active case (``accelsim.validate.crossval``) and writes them, with the intervals derived from
them, to ``workloads/validation/intervals.yaml`` (``conf: C``: it is fitted on the cases, with
the date and commit it was computed at). ``interval_for`` reads that file and attaches an
interval to a predicted throughput or latency.

The residual of a case is its *speed error* ``s = predicted speed / measured speed - 1``: the
signed error itself for a throughput metric, ``1 / (1 + e) - 1`` for a latency metric (a
latency predicted 20 % low is a speed predicted 25 % high), so throughput and latency cases
pool. Residuals are grouped by (vendor family — the card's ``vendor`` —, kind: ``prefill``,
``decode``, ``serving``: the case's mode).

The interval of a group is distribution-free: for ``n`` exchangeable residuals the ``k``-th
smallest and ``k``-th largest, ``k = floor(0.1 (n + 1))``, bound one more residual with
probability at least ``(n + 1 - 2k) / (n + 1) >= 0.8`` (order statistics, as split conformal
prediction uses them). That needs ``k >= 1``, i.e. ``n >= 9``. A group with fewer cases is
widened honestly: its interval is the union of its own range (min to max) and the interval of
its kind pooled over every vendor (or of all cases, when the kind has fewer than 9 too). A
vendor with no case at all takes the widest group of its kind, and its basis says so.

An interval on a value ``v`` predicted by the model: for a throughput the true value lies in
``[v / (1 + s_hi), v / (1 + s_lo)]``, for a latency in ``[v (1 + s_lo), v (1 + s_hi)]``.
"""

from __future__ import annotations

import datetime
import math
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from accelsim.catalog.entry_cache import validated
from accelsim.catalog.file_cache import read_cached_keyed
from accelsim.catalog.loader import INTERVALS_STEM, Catalog, format_validation_error
from accelsim.errors import AccelsimError, CatalogError

if TYPE_CHECKING:  # annotations only: keeps the fold machinery off `step`'s start-up
    from accelsim.validate.crossval import CrossValidation

__all__ = [
    "COVERAGE",
    "KINDS",
    "LATENCY_GROUPS",
    "THROUGHPUT_FIGURES",
    "TIME_METRICS",
    "GroupInterval",
    "Interval",
    "IntervalsFile",
    "Residual",
    "figure_interval",
    "group_intervals",
    "interval_for",
    "intervals_file",
    "order_interval",
    "residuals_of",
    "speed_error",
    "write_intervals",
]

#: The nominal coverage of an interval: P10 to P90.
COVERAGE = 0.8
#: The kinds of prediction an interval is grouped by.
KINDS = ("prefill", "decode", "serving")
#: Metrics that are times (a higher value is slower).
TIME_METRICS = frozenset({"tpot_s", "ttft_s", "mean_ttft_s", "mean_tpot_s"})
#: The fewest residuals whose order statistics give an 80 % interval (k = floor(0.1 (n+1)) >= 1).
MIN_CASES = 9


class _Frozen(BaseModel):
    # built at first validation: `step` takes the file validated from the entry cache
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class Residual(_Frozen):
    """One case's cross-validated residual."""

    id: str
    source: str
    vendor: str
    kind: Literal["prefill", "decode", "serving"]
    metric: str
    error_pct: float
    speed_error: float


class GroupInterval(_Frozen):
    """The interval of the speed error of one (vendor, kind) group."""

    vendor: str
    kind: Literal["prefill", "decode", "serving"]
    n: int
    lo: float
    hi: float
    basis: str


class Generated(_Frozen):
    date: str
    commit: str
    command: str


class IntervalsFile(_Frozen):
    """``workloads/validation/intervals.yaml``."""

    conf: Literal["C"]
    note: str
    generated: Generated
    coverage: float
    residuals: tuple[Residual, ...]
    groups: tuple[GroupInterval, ...]


@dataclass(frozen=True)
class Interval:
    """P10 and P90 of a predicted value and the group they come from."""

    p10: float
    p90: float
    basis: str

    def as_dict(self) -> dict[str, Any]:
        return {"p10": self.p10, "p90": self.p90, "basis": self.basis}

    def label(self, fmt: str = ",.0f") -> str:
        """``(P10–P90 1,050–1,390)``."""
        return f"(P10–P90 {self.p10:{fmt}}–{self.p90:{fmt}})"


def speed_error(metric: str, error_pct: float) -> float:
    """A case's signed error as an error of speed (see the module docstring)."""
    e = error_pct / 100.0
    return 1.0 / (1.0 + e) - 1.0 if metric in TIME_METRICS else e


def order_interval(values: Iterable[float]) -> tuple[float, float] | None:
    """``(k-th smallest, k-th largest)``, ``k = floor(0.1 (n + 1))``; ``None`` when ``k < 1``."""
    s = sorted(values)
    n = len(s)
    k = math.floor((1.0 - COVERAGE) / 2.0 * (n + 1) + 1e-9)
    if k < 1:
        return None
    return s[k - 1], s[n - k]


def residuals_of(catalog: Catalog, cv: CrossValidation) -> list[Residual]:
    """The cross-validated residual of every active case."""
    out = []
    for r in cv.results:
        c = r.case
        assert c.metric is not None
        out.append(
            Residual(
                id=c.id,
                source=c.source or f"case {c.id}",
                vendor=catalog.device(c.device).vendor,
                kind=c.mode,  # type: ignore[arg-type]
                metric=c.metric,
                error_pct=r.error_pct,
                speed_error=speed_error(c.metric, r.error_pct),
            )
        )
    return out


def _pooled(values: list[float], label: str) -> tuple[float, float, str]:
    iv = order_interval(values)
    if iv is None:
        return min(values), max(values), f"{label} range ({len(values)} cases)"
    return iv[0], iv[1], f"{label} ({len(values)} cases)"


def group_intervals(residuals: Iterable[Residual]) -> list[GroupInterval]:
    """Every (vendor, kind) group's interval, sorted by vendor and kind (module docstring)."""
    res = list(residuals)
    every = [r.speed_error for r in res]
    by_kind = {k: [r.speed_error for r in res if r.kind == k] for k in KINDS}
    groups: dict[tuple[str, str], list[float]] = {}
    for r in res:
        groups.setdefault((r.vendor, r.kind), []).append(r.speed_error)
    out = []
    for (vendor, kind), vals in sorted(
        groups.items(), key=lambda kv: (kv[0][0], KINDS.index(kv[0][1]))
    ):
        own = order_interval(vals)
        basis = f"{vendor} {kind}, {len(vals)} cases"
        if own is not None:
            lo, hi = own
        else:
            pool = by_kind[kind] if len(by_kind[kind]) >= MIN_CASES else every
            label = f"{kind} over all vendors" if pool is by_kind[kind] else "all cases"
            plo, phi, pbasis = _pooled(pool, label)
            lo, hi = min(min(vals), plo), max(max(vals), phi)
            basis += f", widened to {pbasis}"
        out.append(GroupInterval(vendor=vendor, kind=kind, n=len(vals), lo=lo, hi=hi, basis=basis))  # type: ignore[arg-type]
    return out


def _commit(root: Path) -> str:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip() or "unknown"


def write_intervals(catalog: Catalog, cv: CrossValidation, path: Path) -> IntervalsFile:
    """Write the residuals of ``cv`` and their intervals to ``path`` (whole or not at all;
    PyYAML imported here: ``interval_for`` reads the file through the parsed-file cache)."""
    import yaml

    residuals = residuals_of(catalog, cv)
    data = IntervalsFile(
        conf="C",
        note=(
            "Prediction intervals: leave-one-source-out residuals of the active validation "
            "cases and the P10-P90 interval of each (vendor, kind) group "
            "(accelsim.validate.intervals says how; regenerate with accelsim validate --cv "
            "--write-intervals)."
        ),
        generated=Generated(
            date=datetime.date.today().isoformat(),
            commit=_commit(path.resolve().parent),
            command="accelsim validate --cv --write-intervals",
        ),
        coverage=COVERAGE,
        residuals=tuple(residuals),
        groups=tuple(group_intervals(residuals)),
    )
    text = "# Generated by `accelsim validate --cv --write-intervals`; do not edit.\n"
    text += yaml.safe_dump(data.model_dump(mode="json"), sort_keys=False, width=100)
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    _CACHE.pop(str(path), None)
    return data


_CACHE: dict[str, IntervalsFile] = {}


def intervals_file(catalog: Catalog) -> IntervalsFile:
    """The catalog's ``workloads/validation/intervals.yaml``, validated (read once per path,
    through the parsed-file cache, ``accelsim.catalog.file_cache.read_cached_keyed``, and the
    validated-entry cache, ``accelsim.catalog.entry_cache.validated``)."""
    path = catalog.folder_files("workloads/validation").get(INTERVALS_STEM)
    if path is None:
        raise AccelsimError(
            "no workloads/validation/intervals.yaml in the catalog: run "
            "`accelsim validate --cv --write-intervals`"
        )
    key = str(path)
    if key not in _CACHE:
        data, digest = read_cached_keyed(path)

        def build() -> IntervalsFile:
            try:
                return IntervalsFile.model_validate(data)
            except ValidationError as exc:
                raise CatalogError(format_validation_error(str(path), exc)) from None

        if digest is None:
            _CACHE[key] = build()
        else:
            parts = ("intervals", key, digest)
            _CACHE[key] = validated(parts, IntervalsFile, build, modules=(__file__,))
    return _CACHE[key]


def _group(
    groups: Mapping[tuple[str, str], GroupInterval], vendor: str, kind: str
) -> tuple[GroupInterval, str]:
    g = groups.get((vendor, kind))
    if g is not None:
        return g, g.basis
    same_kind = [g for (_v, k), g in groups.items() if k == kind] or list(groups.values())
    widest = max(same_kind, key=lambda g: (g.hi - g.lo, g.vendor))
    return widest, f"no case on {vendor} cards: widest {kind} group, {widest.basis}"


def interval_for(
    catalog: Catalog, device: str, kind: str, value: float, *, time: bool = False
) -> Interval:
    """The P10-P90 interval of ``value``, a throughput (or, with ``time``, a latency) that
    accelsim predicts for ``kind`` (prefill, decode or serving) on card ``device``."""
    if kind not in KINDS:
        raise AccelsimError(f"interval kind {kind!r}: use one of {', '.join(KINDS)}")
    vendor = catalog.device(device).vendor
    data = intervals_file(catalog)
    g, basis = _group({(g.vendor, g.kind): g for g in data.groups}, vendor, kind)
    if time:
        return Interval(value * (1.0 + g.lo), value * (1.0 + g.hi), basis)
    return Interval(value / (1.0 + g.hi), value / (1.0 + g.lo), basis)


#: Run-summary figures (``accelsim.sim.metrics.METRICS`` names) that are predicted throughputs.
THROUGHPUT_FIGURES = frozenset(
    {
        "requests_per_s",
        "input_tokens_per_s",
        "output_tokens_per_s",
        "total_tokens_per_s",
        "output_tokens_per_s_per_card",
        "total_tokens_per_s_per_card",
    }
)
#: Run-summary figures that are predicted latencies: every statistic of these groups.
LATENCY_GROUPS = ("ttft", "tpot", "itl", "e2e", "queue")


def figure_interval(
    catalog: Catalog, device: str, figure: str, value: Any, kind: str = "serving"
) -> Interval | None:
    """The interval of a predicted run-summary figure (a ``METRICS`` name such as
    ``output_tokens_per_s`` or ``ttft_p99``): ``interval_for`` with ``time`` for a latency;
    None for a figure that is neither a throughput nor a latency, or a missing value."""
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        return None
    if figure in THROUGHPUT_FIGURES:
        return interval_for(catalog, device, kind, float(value))
    group = figure.rsplit("_", 1)[0]
    if group in LATENCY_GROUPS and figure.rsplit("_", 1)[1] in ("mean", "p50", "p90", "p99"):
        return interval_for(catalog, device, kind, float(value), time=True)
    return None
