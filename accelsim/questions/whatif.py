"""One-parameter what-if: vary one catalog or scenario field and watch the answers move.

``whatif("default", vary="device.ascend-910b2.hbm_bandwidth=1.2TB/s..3.2TB/s", steps=5)``
evaluates the scenario once with the value in effect (the *baseline*: the catalog's, or the
``--set`` one) and once per varied value, and returns a ``WhatIfResult`` whose rows hold the
chosen metrics (``METRICS``) per value. The vary key is either a catalog field
(``KIND.NAME.FIELD``, exactly as ``--set`` takes it) or a scenario field
(``scenario.traffic.rate``). Values are a range ``LOW..HIGH`` split into ``steps`` values
(linear, or geometric with ``log=True``) or a list (``a,b,c`` or a Python list).

Assumptions and choices:

* every listed value, and both ends of a range, are read by the same schema as the catalog
  or scenario file (a bad field or unit is an ``AccelsimError`` before anything runs); a range
  is interpolated in the unit of its low end (``1.2TB/s..3.2TB/s`` -> ``1.7 TB/s``, ...)
  and whole-number fields are rounded;
* points run on the sweep machinery (``accelsim.sweep``: ``expand`` makes the points,
  ``run_task`` evaluates them with the ``simulate`` or ``analytic`` evaluator on an executor),
  without a results file;
* *common random numbers*: every point runs with the scenario's own seed (a sweep derives a
  seed per point from its digest), so the traffic is the same draw at every value and only
  the varied field moves the answers — except ``--vary scenario.seed``, whose points run at
  the seed they name (the spread of an answer over seeds);
* every predicted throughput and latency of a row carries its prediction interval
  (``accelsim.validate.intervals.figure_interval``, kind ``serving``, for the point's
  device): ``<metric>_p10``, ``<metric>_p90`` and ``<metric>_basis``;
* a point whose plan does not fit in memory is reported (``status: skipped`` and why), never
  silently simulated.
"""

from __future__ import annotations

import copy
import math
import os
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from accelsim.catalog.loader import Catalog, parse_override, read_yaml, with_overrides
from accelsim.errors import AccelsimError, CatalogError
from accelsim.run.scenario import Scenario, apply_scenario_overrides, read_scenario, scenario_path
from accelsim.sim.metrics import LOWER, Metric
from accelsim.sim.metrics import METRICS as RUN_METRICS
from accelsim.sweep.context import Task, catalog_inputs
from accelsim.sweep.executors import make_executor
from accelsim.sweep.spec import apply_assignment, expand, resolve_base, sweep_from_mapping
from accelsim.validate.intervals import figure_interval

__all__ = ["METRICS", "Vary", "WhatIfResult", "parse_vary", "whatif"]


#: Metric names accepted by ``whatif(metrics=...)`` and ``accelsim whatif --metric``: run-summary
#: metrics (``accelsim.sim.metrics.METRICS``; a metric's ``name`` is the evaluators' flat key)
#: and the evaluators' cost figures.
METRICS: dict[str, Metric] = {
    "throughput": RUN_METRICS["output_tokens_per_s"],
    "throughput_per_card": RUN_METRICS["output_tokens_per_s_per_card"],
    "requests_per_s": RUN_METRICS["requests_per_s"],
    "ttft_p50": RUN_METRICS["ttft_p50"],
    "ttft_p99": RUN_METRICS["ttft_p99"],
    "tpot_p50": RUN_METRICS["tpot_p50"],
    "tpot_p99": RUN_METRICS["tpot_p99"],
    "tpot_mean": RUN_METRICS["tpot_mean"],
    "goodput": RUN_METRICS["goodput_share"],
    "busy_fraction": RUN_METRICS["busy_fraction"],
    "usd_per_mtok": Metric("usd_per_mtok", "$ per M output tokens", "USD/Mtok", LOWER),
    "usd_per_card_hour": Metric("usd_per_card_hour", "$ per card-hour", "USD/h", LOWER),
}
DEFAULT_METRICS = ("throughput", "ttft_p99", "tpot_p99", "usd_per_mtok")
EVALUATORS = ("simulate", "analytic")

_QUANTITY = re.compile(
    r"^\s*(?P<pre>[A-Z]{3}\s*)?(?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?P<sep>\s*)"
    r"(?P<unit>.*?)\s*$"
)


# ---- the varied field ------------------------------------------------------------------------


@dataclass(frozen=True)
class Vary:
    """The varied field and its values: ``texts`` as handed to the schema, ``values`` as it
    holds them (SI floats, unless the field's name carries a unit such as ``_per_kwh``),
    ``labels`` in the unit the values were written in, for tables and charts."""

    key: str
    kind: str
    name: str | None
    field: str
    texts: tuple[str, ...]
    values: tuple[Any, ...]
    labels: tuple[str, ...]
    unit: str
    scale: float
    log: bool = False

    def label(self, value: Any) -> str:
        """``value`` (as the schema holds it) in the unit the values were written in."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return str(value)
        shown = value / self.scale if self.scale else value
        text = f"{shown:,.0f}" if 1e4 <= abs(shown) < 1e15 else f"{shown:.4g}"
        return f"{text} {self.unit}".strip() if not self.unit.startswith("/") else text + self.unit


def _walk(obj: Any, path: str) -> Any:
    """Dotted ``path`` of a schema object (attributes) or of mappings (keys)."""
    node = obj
    for part in path.split("."):
        if isinstance(node, Mapping):
            if part not in node:
                return None
            node = node[part]
        else:
            node = getattr(node, part, None)
        if node is None:
            return None
    return node


class _Checker:
    """Reads a text for the varied field through the schema that owns it (catalog entry or
    scenario) and returns the value it holds."""

    def __init__(self, catalog: Catalog, base: dict[str, Any], key: str) -> None:
        self.catalog, self.base, self.key = catalog, base, key
        o = parse_override(f"{key}=0", catalog.known_names())
        self.kind, self.name, self.field = o.kind, o.name, o.field

    def read(self, text: str) -> Any:
        try:
            if self.kind == "scenario":
                data = copy.deepcopy(self.base)
                apply_assignment(data, self.field, text)
                sc = read_scenario(data, self.catalog, overrides={})
                value = _walk(sc, self.field)
            else:
                entry = with_overrides(self.catalog, {self.key: text}).get(self.kind, self.name)
                value = _walk(entry, self.field)
        except AccelsimError as exc:
            raise AccelsimError(f"--vary {self.key}={text}: {exc}") from None
        if value is None:
            raise AccelsimError(f"--vary {self.key}: field {self.field!r} holds no value")
        return value

    def baseline(self) -> Any:
        if self.kind == "scenario":
            return _walk(read_scenario(self.base, self.catalog, {}), self.field)
        return _walk(self.catalog.get(self.kind, self.name), self.field)


def _split_spec(vary: Any) -> tuple[str, str | list[Any]]:
    if isinstance(vary, Mapping):
        if len(vary) != 1:
            raise AccelsimError("vary: give exactly one field, e.g. {'scenario.traffic.rate': ...}")
        ((key, spec),) = vary.items()
        return str(key).strip(), spec if isinstance(spec, str) else list(spec)
    if isinstance(vary, tuple) and len(vary) == 2:
        return str(vary[0]).strip(), list(vary[1]) if not isinstance(vary[1], str) else vary[1]
    key, sep, spec = str(vary).partition("=")
    if not sep or not key.strip() or not spec.strip():
        raise AccelsimError(
            f"--vary {vary!r}: expected KIND.NAME.FIELD=LOW..HIGH or KIND.NAME.FIELD=A,B,C"
        )
    return key.strip(), spec.strip()


def parse_vary(
    vary: Any,
    catalog: Catalog,
    base: dict[str, Any],
    *,
    steps: int = 5,
    log: bool = False,
) -> Vary:
    """The varied field and its values from ``"KEY=LOW..HIGH"``, ``"KEY=A,B,C"``,
    ``{KEY: "LOW..HIGH"}`` or ``{KEY: [A, B, C]}``; every value is checked by the schema."""
    key, spec = _split_spec(vary)
    check = _Checker(catalog, base, key)
    if isinstance(spec, str) and ".." in spec:
        lo_text, _, hi_text = spec.partition("..")
        if steps < 2:
            raise AccelsimError(f"--steps {steps}: a range needs at least 2 steps")
        m = _QUANTITY.match(lo_text)
        if m is None:
            raise AccelsimError(
                f"--vary {key}: cannot read {lo_text.strip()!r} as a number "
                "(a range needs a numeric field; list values instead: A,B,C)"
            )
        lo, hi = check.read(lo_text.strip()), check.read(hi_text.strip())
        if (
            isinstance(lo, bool)
            or not isinstance(lo, int | float)
            or not isinstance(hi, int | float)
        ):
            raise AccelsimError(f"--vary {key}: a range needs a numeric field; list values instead")
        lo_mag = float(m["num"])
        scale = lo / lo_mag if lo_mag else 1.0
        if log and (lo <= 0 or hi <= 0):
            raise AccelsimError(f"--vary {key}: --log needs positive bounds")
        grid = (np.geomspace if log else np.linspace)(lo / scale, hi / scale, steps)
        whole = isinstance(lo, int) and isinstance(hi, int) and scale == 1.0
        mags = list(dict.fromkeys(round(g) for g in grid)) if whole else [float(g) for g in grid]
        pre, sep, unit = m["pre"] or "", m["sep"], m["unit"]
        texts = [f"{pre}{g if whole else f'{g:.10g}'}{sep}{unit}".strip() for g in mags]
        # the schema read both ends; values between them are the same unit scaled
        values = [g if whole else float(f"{g * scale:.10g}") for g in mags]
        unit = unit or pre.strip()
    else:
        items = spec if isinstance(spec, list) else [t for t in spec.split(",") if t.strip()]
        if not items:
            raise AccelsimError(f"--vary {key}: no values")
        texts = [str(t).strip() for t in items]
        values = [check.read(t) for t in texts]
        m = _QUANTITY.match(texts[0])
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        unit, scale = "", 1.0
        if m is not None and numeric and float(m["num"]):
            unit = (m["pre"] or "").strip() + m["unit"]
            scale = values[0] / float(m["num"])
    vary_obj = Vary(
        key=key,
        kind=check.kind,
        name=check.name,
        field=check.field,
        texts=tuple(texts),
        values=tuple(values),
        labels=(),
        unit=unit,
        scale=scale,
        log=log,
    )
    labels = tuple(vary_obj.label(v) for v in values)
    return Vary(**{**vary_obj.__dict__, "labels": labels})


# ---- the result ------------------------------------------------------------------------------


@dataclass
class WhatIfResult:
    """Rows of a what-if: the baseline first (``what_if: False``), then one per varied value
    (``what_if: True``), each with ``value``, ``label``, ``status`` (ok / skipped / error),
    ``message`` and one column per metric. ``overrides`` lists the other what-if overrides in
    effect (``Catalog.overrides_in_effect``)."""

    scenario: str
    vary: Vary
    evaluator: str
    metrics: list[str]
    baseline_value: Any
    baseline_source: str
    rows: list[dict[str, Any]]
    overrides: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> str:
        return self.vary.key

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "vary": self.vary.key,
            "evaluator": self.evaluator,
            "metrics": {
                m: {"key": METRICS[m].name, "label": METRICS[m].label, "unit": METRICS[m].unit}
                for m in self.metrics
            },
            "baseline": {
                "value": self.baseline_value,
                "label": self.vary.label(self.baseline_value),
                "source": self.baseline_source,
            },
            "rows": self.rows,
            "overrides": self.overrides,
        }

    def to_frame(self) -> Any:
        """One row per evaluated value (baseline included), metrics as columns."""
        import pandas as pd

        return pd.DataFrame(self.rows)

    def series(self, metric: str) -> tuple[list[Any], list[float | None]]:
        """``(values, metric)`` of the what-if rows, in the order they were asked for."""
        rows = [r for r in self.rows if r["what_if"]]
        return [r["value"] for r in rows], [r.get(metric) for r in rows]

    def plot(self, ax: Any = None, metrics: Sequence[str] | None = None) -> Any:
        """One panel per metric against the varied value; the baseline is a star with a dotted
        line. ``ax``: an Axes (one metric) or a sequence of Axes; default a new figure, made
        outside pyplot's figure registry so that a notebook shows it once, as the returned
        value, and a loop of what-ifs keeps no figures alive."""
        from matplotlib.figure import Figure

        names = list(metrics or self.metrics)
        if ax is None:
            fig = Figure(figsize=(6.4, 2.4 * len(names) + 0.6))
            grid = fig.subplots(len(names), 1, sharex=True, squeeze=False)
            axes = list(grid[:, 0])
        else:
            axes = list(ax) if isinstance(ax, Sequence | np.ndarray) else [ax]
            if len(axes) != len(names):
                raise AccelsimError(f"plot: {len(names)} metric(s) need {len(names)} axes")
            fig = axes[0].figure
        numeric = all(isinstance(v, int | float) for v in self.vary.values)
        scale = self.vary.scale or 1.0

        def x_of(value: Any, i: int) -> float:
            return value / scale if numeric else float(i)

        for a, name in zip(axes, names, strict=True):
            m = METRICS[name]
            pts = [
                (x_of(r["value"], i), r.get(name))
                for i, r in enumerate(r for r in self.rows if r["what_if"])
                if r.get(name) is not None
            ]
            if pts:
                xs, ys = zip(*pts, strict=True)
                a.plot(xs, ys, "o-", label="what-if")
            base = next((r for r in self.rows if not r["what_if"]), None)
            if base is not None and base.get(name) is not None and numeric:
                bx = x_of(base["value"], 0)
                a.plot([bx], [base[name]], "*", ms=12, color="C3", label="baseline")
                a.axvline(bx, ls=":", color="C3", lw=1)
            a.set_ylabel(f"{m.label}" + (f" ({m.unit})" if m.unit else ""))
            if self.vary.log and numeric:
                a.set_xscale("log")
            a.grid(True, alpha=0.3)
        if not numeric:
            axes[-1].set_xticks(range(len(self.vary.labels)), self.vary.labels)
        axes[-1].set_xlabel(self.vary.key + (f" ({self.vary.unit})" if self.vary.unit else ""))
        axes[0].legend(loc="best", fontsize="small")
        axes[0].set_title(f"what-if on {self.scenario} ({self.evaluator})")
        fig.tight_layout()
        return fig

    def save_plot(self, path: str | Path) -> Path:
        """Write the chart to ``path`` (format from the suffix: .svg, .png, .pdf) atomically."""
        p = Path(path)
        fmt = p.suffix.lstrip(".").lower()
        if fmt not in ("svg", "png", "pdf"):
            raise AccelsimError(f"--plot {path}: use a .svg, .png or .pdf file name")
        p.parent.mkdir(parents=True, exist_ok=True)
        fig = self.plot()
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fig.savefig(fh, format=fmt)
            os.replace(tmp, p)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return p


# ---- running ---------------------------------------------------------------------------------


def _metric_names(metrics: str | Sequence[str] | None) -> list[str]:
    if metrics is None:
        return list(DEFAULT_METRICS)
    names = [m.strip() for m in metrics.split(",")] if isinstance(metrics, str) else list(metrics)
    names = [m for m in names if m]
    bad = [m for m in names if m not in METRICS]
    if bad or not names:
        raise AccelsimError(
            f"--metric {','.join(bad) or '(none)'}: unknown metric (known: {', '.join(METRICS)})"
        )
    return names


def _scenario_mapping(scenario: Any, catalog: Catalog) -> tuple[str, dict[str, Any]]:
    if isinstance(scenario, Scenario):
        raw = scenario.model_dump(mode="json")
        raw["resolved"] = False
    elif isinstance(scenario, Mapping):
        raw = copy.deepcopy(dict(scenario))
    else:
        path = scenario_path(scenario, catalog)
        raw = read_yaml(path)
        if not isinstance(raw, dict):
            raise CatalogError(f"{path}: expected a mapping of fields at top level")
        raw.setdefault("name", path.stem)
    if catalog.scenario_overrides:
        raw = apply_scenario_overrides(raw, catalog.scenario_overrides, catalog)
    return str(raw.get("name", "scenario")), raw


def whatif(
    scenario: Any = "default",
    vary: Any = None,
    *,
    steps: int = 5,
    metrics: str | Sequence[str] | None = None,
    evaluator: str = "simulate",
    catalog: Catalog | None = None,
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
    log: bool = False,
    prices: str = "international-2025",
    facility: str = "us-2025",
    workers: int = 0,
    progress: Callable[[int, int, dict[str, Any]], None] | None = None,
) -> WhatIfResult:
    """Vary one field of ``scenario`` (name, file, mapping or ``Scenario``) and report
    ``metrics`` at the baseline and at each value (see the module docstring).

    ``overrides`` (a dict or ``KIND.NAME.FIELD=VALUE`` texts) apply to every point on top of
    ``catalog``'s; ``workers`` > 0 runs points on that many processes; ``progress(done, total,
    row)`` is called after each point."""
    if vary is None:
        raise AccelsimError("--vary: give the field to vary, e.g. scenario.traffic.rate=2/s..10/s")
    if evaluator not in EVALUATORS:
        raise AccelsimError(f"--evaluator {evaluator!r}: use {' or '.join(EVALUATORS)}")
    names = _metric_names(metrics)
    cat = with_overrides(catalog, overrides)
    sc_name, raw = _scenario_mapping(scenario, cat)
    spec = sweep_from_mapping({"name": "whatif", "base": raw})
    base = resolve_base(spec, cat)
    v = parse_vary(vary, cat, base, steps=steps, log=log)
    check = _Checker(cat, base, v.key)
    baseline = check.baseline()
    in_effect = cat.overrides_in_effect()
    varied_set = any(o["key"] == v.key for o in in_effect)
    sets = {f"{o.kind}.{o.name}.{o.field}": o.value for o in cat.overrides}
    axis = f"set {v.key}" if v.kind != "scenario" else v.field
    cost = {"prices": prices, "facility": facility}
    common = {"name": "whatif", "base": base, "evaluator": evaluator, "set": sets, "cost": cost}
    base_pts = expand(sweep_from_mapping(common), base).points
    vary_pts = expand(sweep_from_mapping({**common, "axes": {axis: list(v.texts)}}), base).points
    seed = int(base.get("seed", 0) or 0)
    dirs, _ = catalog_inputs(cat)

    def task(p: Any, index: int) -> Task:
        return Task(
            digest=p.digest,
            index=index,
            # the point's own seed: the scenario's, or the varied one (--vary scenario.seed)
            seed=int(p.scenario.get("seed", seed) or 0),
            params=p.params,
            scenario=p.scenario,
            overrides=p.overrides,
            evaluator=evaluator,
            catalog_dirs=dirs,
            cost=tuple(sorted(cost.items())),
        )

    by_text = dict(zip(v.texts, v.values, strict=True))
    param = f"set:{v.key}" if v.kind != "scenario" else v.field
    shown = [(baseline, False)] + [(by_text[p.params[param]], True) for p in vary_pts]
    tasks = [task(p, i) for i, p in enumerate([*base_pts, *vary_pts])]
    results: dict[int, dict[str, Any]] = {}
    ex = make_executor("local", workers) if workers else make_executor("serial")
    with ex:
        for res in ex.run(tasks):
            results[res["index"]] = res
            if progress is not None:
                progress(len(results), len(tasks), res)
    rows = []
    for t, (value, is_whatif) in zip(tasks, shown, strict=True):
        res = results[t.index]
        row: dict[str, Any] = {
            "value": value,
            "label": v.label(value),
            "what_if": is_whatif,
            "status": res["status"],
            "message": res["message"],
        }
        got = res.get("metrics") or {}
        device = str(t.scenario.get("device", ""))
        for n in names:
            x = got.get(METRICS[n].name)
            row[n] = None if isinstance(x, float) and math.isnan(x) else x
            iv = figure_interval(cat, device, METRICS[n].name, row[n]) if device else None
            if iv is not None:
                row.update({f"{n}_p10": iv.p10, f"{n}_p90": iv.p90, f"{n}_basis": iv.basis})
        rows.append(row)
    failed = [r for r in rows if r["what_if"] and r["status"] == "error"]
    if failed and len(failed) == len(rows) - 1:
        raise AccelsimError(f"--vary {v.key}: every what-if point failed: {failed[0]['message']}")
    return WhatIfResult(
        scenario=sc_name,
        vary=v,
        evaluator=evaluator,
        metrics=names,
        baseline_value=baseline,
        baseline_source="override" if varied_set else v.kind if v.kind == "scenario" else "catalog",
        rows=rows,
        overrides=in_effect,
    )
