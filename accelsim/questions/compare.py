"""Side-by-side comparison of devices on one model and traffic — the main job.

For each device of a scenario (``devices:``, or the ones asked for) ``compare``:

1. checks the memory fit on one server of the device (``accelsim.model.plan.fit_best``);
2. finds the smallest feasible deployment (whole nodes;
   ``accelsim.questions.sizing.replica_shape``) and sizes the cluster for the scenario's load
   under its SLOs (``accelsim.questions.sizing.size_cluster``), simulating the scenario's
   traffic on each size tried (``accelsim.run.simulate.run_scenario``);
   — every size on ``seeds`` seeds (``accelsim.sweep.replicate``; a size meets the SLOs on the
   pessimistic bound across them), all devices at once on one process pool;
3. reports the *sized cluster*: its cards, plan, throughput, TTFT/TPOT p50/p99 and goodput at the
   scenario's load (``ROWS``; the serving figures are means over the seeds, each with its
   across-seed interval, ``across_seeds``, and its prediction interval from the cross-validated
   residuals, ``interval``: ``accelsim.validate.intervals.figure_interval``), and the smallest
   deployment's figures as a section of their own (``SMALLEST_ROWS``);
4. costs the sized cluster (``accelsim.run.pricing.estimate_tco`` with the simulated utilization
   and throughput) and draws every priced device in one joint Monte Carlo
   (``accelsim.questions.verdict``): P10/P50/P90 of $ per million output tokens per device, the
   verdict (winner, P(winner cheaper), the cost ratio's P10/P50/P90, what flips it) and its
   sentence (``ComparisonResult.answer``).

The scenario is deployed once (``accelsim.run.resolve.deploy``): its model and precision serve
every device. The result is a table of rows (``ComparisonResult.rows``) with the winner per row
and the ratio of the best to the next; ``to_frame()`` gives a pandas DataFrame. What-if
overrides (the catalog's, plus ``overrides=`` given here) are listed in
``ComparisonResult.overrides`` with the catalog value each replaced, and devices an override
touches are in ``overridden_devices``, so a what-if is never mistaken for the catalog.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from accelsim.catalog.loader import Catalog, with_overrides
from accelsim.errors import AccelsimError
from accelsim.model.cost import COST_FIGURES, TcoResult, opex_per_year
from accelsim.model.joint import JointVerdict, Priced
from accelsim.model.plan import MemoryFit, fit_best
from accelsim.model.uncertainty import RangedTco
from accelsim.model.uncertainty import monte_carlo as monte_carlo_draws
from accelsim.questions.sizing import SizingResult, size_devices
from accelsim.questions.verdict import VERDICT_METRIC, device_verdict, priced, sentence
from accelsim.run.placement import spare_cards
from accelsim.run.pricing import estimate_tco, server_warning, unpriced
from accelsim.run.resolve import Deployment, deploy, load_scenario
from accelsim.run.scenario import Scenario
from accelsim.sim.metrics import HIGHER, LOWER, METRICS, Metric
from accelsim.sweep.replicate import DEFAULT_SEEDS, Replicator, SeedInterval
from accelsim.validate.intervals import Interval, figure_interval

__all__ = [
    "ROWS",
    "SERVING_SOURCES",
    "SMALLEST_ROWS",
    "ComparisonResult",
    "DeviceOutcome",
    "compare",
    "interval_columns",
    "sized_cost",
]


#: The run-summary metric (``accelsim.sim.metrics.METRICS`` name) behind each serving row key.
SERVING_SOURCES: dict[str, str] = {}


def _serving(key: str, metric: str, label: str | None = None) -> Metric:
    """The run-summary metric ``metric`` (``accelsim.sim.metrics.METRICS``) as the row ``key``,
    labelled ``label`` here when given."""
    m = METRICS[metric]
    SERVING_SOURCES[key] = metric
    return replace(m, name=key, label=label or m.label)


#: The comparison rows, by the key of a device's ``values``: all for the *sized cluster* (the
#: fewest cards that meet the SLOs at the scenario's load): its cards, plan, simulated run
#: (run-summary metrics) and cost. Empty for a device whose load is not attainable (its note
#: says why). Cost figures carry the one label and definition of ``COST_FIGURES``.
ROWS: tuple[Metric, ...] = (
    Metric("cards_needed", "cards needed for the load under the SLOs", "cards", LOWER),
    Metric("nodes_needed", "nodes needed", "nodes", LOWER),
    Metric("plan", "plan (per replica x replicas)", "", 0),
    _serving("output_tokens_per_s", "output_tokens_per_s", "throughput at the scenario load"),
    _serving("output_tokens_per_s_per_card", "output_tokens_per_s_per_card", "throughput per card"),
    _serving("ttft_p50_s", "ttft_p50"),
    _serving("ttft_p99_s", "ttft_p99"),
    _serving("tpot_p50_s", "tpot_p50"),
    _serving("tpot_p99_s", "tpot_p99"),
    _serving("goodput_share", "goodput_share", "goodput (share meeting SLOs)"),
    Metric("capex_usd", COST_FIGURES["capex"][0], "USD", LOWER),
    Metric("opex_usd_per_year", COST_FIGURES["opex_per_year"][0], "USD/yr", LOWER),
    Metric("staff_usd_per_year", COST_FIGURES["staff_per_year"][0], "USD/yr", LOWER),
    Metric("financing_usd_per_year", COST_FIGURES["financing_per_year"][0], "USD/yr", LOWER),
    Metric("tco_usd_per_year", COST_FIGURES["tco_per_year"][0], "USD/yr", LOWER),
    Metric("usd_per_mtok_p10", f"{COST_FIGURES['usd_per_mtok_output'][0]} P10", "USD/Mtok", LOWER),
    Metric("usd_per_mtok_p50", f"{COST_FIGURES['usd_per_mtok_output'][0]} P50", "USD/Mtok", LOWER),
    Metric("usd_per_mtok_p90", f"{COST_FIGURES['usd_per_mtok_output'][0]} P90", "USD/Mtok", LOWER),
    Metric("usd_per_mtok_blended", COST_FIGURES["usd_per_mtok_blended"][0], "USD/Mtok", LOWER),
)

ROW_KEYS = tuple(m.name for m in ROWS)

#: The smallest deployment (one replica of the sized cluster's shape, whole nodes): a separate
#: section, never mixed with the sized cluster's rows. Keys are the ``smallest_`` ones of a
#: device's ``values`` (and the one-server memory fit).
SMALLEST_ROWS: tuple[Metric, ...] = (
    Metric("fits_one_server", "fits on one server", "", 0),
    Metric("one_server_kv_tokens", "KV tokens on one server", "tokens", HIGHER),
    Metric("min_cards", "smallest deployment", "cards", LOWER),
    Metric("min_plan", "plan of the smallest deployment", "", 0),
    _serving("smallest_output_tokens_per_s", "output_tokens_per_s", "throughput at the load"),
    _serving("smallest_ttft_p99_s", "ttft_p99"),
    _serving("smallest_tpot_p99_s", "tpot_p99"),
    _serving("smallest_goodput_share", "goodput_share", "goodput (share meeting SLOs)"),
)


@dataclass
class DeviceOutcome:
    """Everything ``compare`` learned about one device."""

    device: str
    values: dict[str, Any]
    one_server_fit: MemoryFit
    sizing: SizingResult
    tco: TcoResult | None
    uncertainty: Any
    notes: list[str] = field(default_factory=list)
    #: Each predicted throughput and latency (row key) over the seeds of its run.
    spreads: dict[str, SeedInterval] = field(default_factory=dict)
    #: Each predicted throughput and latency's prediction interval (row key).
    intervals: dict[str, Interval] = field(default_factory=dict)


@dataclass
class ComparisonResult:
    """The outcome per device of ``compare`` on one deployed scenario."""

    deployment: Deployment
    outcomes: list[DeviceOutcome]
    overrides: list[dict[str, Any]] = field(default_factory=list)
    #: The joint Monte Carlo's verdict on $ per M output tokens (two or more priced devices).
    verdict: JointVerdict | None = None
    #: The verdict in one sentence (``accelsim.questions.verdict.sentence``).
    answer: str = ""

    @property
    def scenario(self) -> Scenario:
        """The resolved scenario compared."""
        return self.deployment.scenario

    @property
    def devices(self) -> list[str]:
        return [o.device for o in self.outcomes]

    @property
    def overridden_devices(self) -> list[str]:
        """Compared devices whose own catalog entry a what-if override changed."""
        return [
            d
            for d in self.devices
            if any(o["key"].startswith(f"device.{d}.") for o in self.overrides)
        ]

    @property
    def rows(self) -> list[dict[str, Any]]:
        """One row per metric of the sized cluster: values by device, the winner and the
        best/next ratio."""
        return self._rows(ROWS)

    @property
    def smallest_rows(self) -> list[dict[str, Any]]:
        """The smallest deployment's rows (a separate section)."""
        return self._rows(SMALLEST_ROWS)

    def _rows(self, metrics: Sequence[Metric]) -> list[dict[str, Any]]:
        out = []
        for m in metrics:
            values = {o.device: o.values.get(m.name) for o in self.outcomes}
            winner, ratio = _winner(values, m.better)
            row = {
                "metric": m.name,
                "label": m.label,
                "unit": m.unit,
                "values": values,
                "winner": winner,
                "ratio": ratio,
            }
            if m.name in SERVING_SOURCES:
                row["interval"] = {
                    o.device: (iv.as_dict() if (iv := o.intervals.get(m.name)) else None)
                    for o in self.outcomes
                }
                row["across_seeds"] = {
                    o.device: (sp.as_dict() if (sp := o.spreads.get(m.name)) else None)
                    for o in self.outcomes
                }
            out.append(row)
        return out

    def device_rows(self) -> list[dict[str, Any]]:
        """One flat record per device (the ``--json`` form)."""
        marked = set(self.overridden_devices)
        return [
            {
                "device": o.device,
                **o.values,
                "what_if": o.device in marked,
                "notes": o.notes,
                "intervals": {k: iv.as_dict() for k, iv in o.intervals.items()},
                "across_seeds": {k: sp.as_dict() for k, sp in o.spreads.items()},
            }
            for o in self.outcomes
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario.name,
            "digest": self.scenario.digest,
            "model": self.scenario.model,
            "answer": self.answer,
            "verdict": self.verdict.as_dict() if self.verdict is not None else None,
            "devices": self.device_rows(),
            "rows": self.rows,
            "smallest": self.smallest_rows,
            "overrides": self.overrides,
        }

    def to_frame(self):
        """One row per device (``what_if`` marks devices an override changed); the overrides
        in effect are in ``frame.attrs["overrides"]``."""
        import pandas as pd

        rows = []
        for row in self.device_rows():
            flat = {k: v for k, v in row.items() if k not in ("intervals", "across_seeds")}
            flat.update(interval_columns(row["intervals"]))
            rows.append(flat)
        frame = pd.DataFrame(rows).set_index("device")
        frame.attrs["overrides"] = self.overrides
        return frame

    def plot(
        self,
        metrics: Sequence[str] = (
            "output_tokens_per_s_per_card",
            "tpot_p99_s",
            "cards_needed",
            "usd_per_mtok_p50",
        ),
    ) -> Any:
        """Bars per device, one panel per metric (``ROWS`` keys); $ per M tokens carries its
        P10-P90 whiskers and the winner's bar is outlined. Returns a matplotlib ``Figure`` made
        outside pyplot's registry, so a notebook shows it once, as the cell's value."""
        from matplotlib.figure import Figure

        known = {m.name: (m.label, m.unit) for m in ROWS}
        unknown = [m for m in metrics if m not in known]
        if unknown:
            raise AccelsimError(f"plot: unknown metric(s) {unknown}; known: {', '.join(known)}")
        fig = Figure(figsize=(3.2 * len(metrics), 3.0), layout="constrained")
        axes = fig.subplots(1, len(metrics), squeeze=False)[0]
        rows = {r["metric"]: r for r in self.rows}
        for ax, key in zip(axes, metrics, strict=True):
            label, unit = known[key]
            values = [rows[key]["values"][d] for d in self.devices]
            heights = [v if isinstance(v, int | float) else 0.0 for v in values]
            err = None
            if key == "usd_per_mtok_p50":
                lo = [o.values.get("usd_per_mtok_p10") for o in self.outcomes]
                hi = [o.values.get("usd_per_mtok_p90") for o in self.outcomes]
                err = [
                    [h - (a if a is not None else h) for a, h in zip(lo, heights, strict=True)],
                    [(b if b is not None else h) - h for b, h in zip(hi, heights, strict=True)],
                ]
            bars = ax.bar(self.devices, heights, yerr=err, capsize=4, color="#4c72b0")
            for bar, device in zip(bars, self.devices, strict=True):
                if device == rows[key]["winner"]:
                    bar.set_edgecolor("black")
                    bar.set_linewidth(2)
            ax.set_title(label, fontsize=9)
            ax.set_ylabel(unit)
            ax.tick_params(axis="x", labelrotation=20, labelsize=8)
        return fig


def interval_columns(intervals: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """``{metric: {p10, p90, basis}}`` as the frame columns ``<metric>_p10``, ``<metric>_p90``
    and ``<metric>_basis``."""
    out: dict[str, Any] = {}
    for key, iv in intervals.items():
        out.update({f"{key}_p10": iv["p10"], f"{key}_p90": iv["p90"], f"{key}_basis": iv["basis"]})
    return out


def _winner(values: dict[str, Any], direction: int) -> tuple[str | None, float | None]:
    nums = {
        d: v for d, v in values.items() if isinstance(v, int | float) and not isinstance(v, bool)
    }
    if direction == 0 or len(nums) < 2:
        return None, None
    ranked = sorted(nums.items(), key=lambda kv: kv[1], reverse=direction > 0)
    (best, bv), (_, nv) = ranked[0], ranked[1]
    if bv == nv:
        return None, 1.0
    if direction > 0:
        return best, (bv / nv) if nv else None
    return best, (nv / bv) if bv else None


def compare(
    sc: Scenario | Deployment | str | Path,
    catalog: Catalog | None = None,
    devices: list[str] | None = None,
    *,
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
    prices: str = "international-2025",
    facility: str = "us-2025",
    monte_carlo: int = 2000,
    seed: int = 0,
    max_cards: int = 4096,
    plan: str | None = None,
    progress: Any = None,
    seeds: int = DEFAULT_SEEDS,
    workers: int | None = None,
    replicator: Replicator | None = None,
    availability: float | None = None,
) -> ComparisonResult:
    """Compare ``devices`` (default: the scenario's ``devices``) on ``sc`` (a ``Scenario``, or
    a scenario name or file read with ``catalog``).

    ``overrides`` — ``{"device.ascend-910b2.hbm_bandwidth": "3.2 TB/s"}`` or
    ``KIND.NAME.FIELD=VALUE`` texts — apply on top of ``catalog``'s (default: the built-in
    catalog); ``scenario.*`` keys change the scenario. A ``Scenario`` already resolved keeps
    its plan and KV capacity: pass its name to re-resolve it under the overrides. A
    ``Deployment`` is used as it is (deployed again when ``overrides`` are given).

    ``plan``: the replica plan each device is sized with — ``None`` (the smallest feasible
    whole-node replica, ``accelsim.questions.sizing``), a plan text, or ``"auto"`` (searched by
    ``accelsim.questions.tune`` on the smallest whole-node budget).

    ``seeds``: replications of every size tried (``accelsim.questions.sizing``: a size meets the
    SLOs on the pessimistic bound across seeds); the serving rows are means over the seeds of
    the sized cluster, with their across-seed interval and prediction interval. The devices
    are sized at once on ``replicator`` (default: a local pool of ``workers`` processes, one
    per CPU; 0: in this process); a ``replicator`` built on another catalog is not used.

    ``availability``: cost each sized cluster with the spare nodes that keep its capacity whole
    that share of the time (``accelsim.run.placement.spare_cards``); they enter the capex and
    the Monte Carlo. ``None``: no spares."""
    if catalog is None or overrides:
        catalog = with_overrides(catalog, overrides)
    if isinstance(sc, Deployment) and overrides:
        sc = sc.scenario  # deployed again under the overrides
    if isinstance(sc, Scenario):
        if overrides and catalog.scenario_overrides:
            raw = sc.model_dump(mode="json")
            raw["resolved"] = False
            sc = load_scenario(raw, catalog)
    elif not isinstance(sc, Deployment):
        sc = load_scenario(sc, catalog)
    dep = deploy(sc, catalog)
    sc = dep.scenario
    names = devices or sc.devices or [sc.device]
    for name in names:
        catalog.device(name)
    if replicator is not None and replicator.catalog is not catalog:
        replicator = None
    sizings = size_devices(
        dep,
        catalog,
        names,
        seeds=seeds,
        replicator=replicator,
        workers=workers,
        max_cards=max_cards,
        use_scenario_plan=False,
        plan=plan,
        progress=progress,
        smallest=True,  # the smallest deployment's figures are reported
    )
    outcomes = []
    costs: dict[str, Priced] = {}
    for name, sizing in zip(names, sizings, strict=True):
        card = catalog.device(name)
        server = catalog.server_for(card)
        one = fit_best(
            dep.model,
            card,
            server.cards_per_node,
            dep.precision,
            sc.context,
            server.scale_up_domain_cards,
        )
        values: dict[str, Any] = {
            "fits_one_server": one.fits,
            "one_server_kv_tokens": one.max_kv_tokens if one.fits else 0,
            "one_server_shortfall_gb": one.shortfall / 1e9,
            "min_cards": sizing.cards_per_replica or None,
            "min_plan": sizing.replica_plan,
            "attainable": sizing.attainable,
        }
        notes = [sizing.reason] if sizing.reason else []
        warning = server_warning(catalog, card, server)
        if warning is not None:
            notes.append(warning)
        tco = unc = None
        if sizing.runs:
            s = sizing.runs[min(sizing.runs)].summary
            values.update(
                smallest_output_tokens_per_s=s.throughput.output_tokens_per_s,
                smallest_ttft_p99_s=s.ttft_s.p99,
                smallest_tpot_p99_s=s.tpot_s.p99,
                smallest_goodput_share=s.goodput.share,
            )
        spreads: dict[str, SeedInterval] = {}
        chosen = sizing.chosen
        if sizing.attainable and chosen is not None:
            values["plan"] = f"{sizing.replica_plan} x {sizing.replicas}"
            for key in ROW_KEYS:
                if key in SERVING_SOURCES:
                    values[key] = chosen.figure(SERVING_SOURCES[key])
                    spread = chosen.spread(SERVING_SOURCES[key])
                    if spread is not None:
                        spreads[key] = spread
            values["seeds"] = sizing.seeds
        no_price = unpriced(catalog, name, prices)
        if no_price is not None:
            notes.append(f"{no_price}: no cost figures")
        if sizing.attainable:
            values.update(
                cards_needed=sizing.cards, nodes_needed=sizing.nodes, slo_margin=sizing.margin
            )
        if sizing.attainable and no_price is None:
            spares = spare_cards(catalog, name, sizing.cards, availability)
            tco = sized_cost(catalog, sizing, prices=prices, facility=facility, spare_cards=spares)
            costs[name] = priced(catalog, tco, prices=prices, facility=facility)
            notes.extend(n for n in tco.inputs.notes if n not in notes)
            values.update(
                capex_usd=tco.capex_usd,
                opex_usd_per_year=opex_per_year(tco.values),
                staff_usd_per_year=tco.values["staff"],
                financing_usd_per_year=tco.values["financing"],
                tco_usd_per_year=tco.per_year_usd,
                usd_per_mtok_base=tco.usd_per_mtok_output,
                usd_per_mtok_blended=tco.usd_per_mtok_blended,
            )
        intervals = {
            key: iv
            for key, metric in SERVING_SOURCES.items()
            if (iv := figure_interval(catalog, name, metric, values.get(key))) is not None
        }
        outcomes.append(
            DeviceOutcome(name, values, one, sizing, tco, unc, notes, spreads, intervals)
        )
    verdict = None
    if len(costs) >= 2:
        verdict = device_verdict(list(costs.values()), n=monte_carlo, seed=seed)
    for o in outcomes:
        if o.device not in costs:
            continue
        p = costs[o.device]
        o.uncertainty = (
            verdict.draws[o.device]
            if verdict is not None
            else monte_carlo_draws(p.inputs, p.ranges, monte_carlo, seed)
        )
        q = o.uncertainty.quantiles[VERDICT_METRIC]
        o.values.update(usd_per_mtok_p10=q[0], usd_per_mtok_p50=q[1], usd_per_mtok_p90=q[2])
    missing = [
        f"{o.device}: {o.notes[0] if o.notes else 'no cost'}"
        for o in outcomes
        if o.device not in costs
    ]
    answer = sentence(
        verdict, model=_model_text(dep), load=_load_text(sc), slos=_slo_text(sc), missing=missing
    )
    return ComparisonResult(dep, outcomes, catalog.overrides_in_effect(), verdict, answer)


def _model_text(dep: Deployment) -> str:
    return f"{dep.scenario.model} ({dep.scenario.dtype})"


def _load_text(sc: Scenario) -> str:
    """The scenario's load in words: its request rate, or its traffic's name."""
    spec = sc.traffic_spec
    name = spec.name or "traffic"
    if spec.rate:
        return f"{spec.rate:g} req/s {spec.arrival} ({name})"
    return name


def _slo_text(sc: Scenario) -> dict[str, str]:
    out = {}
    if sc.slo.ttft is not None:
        out["p99 TTFT"] = f"{sc.slo.ttft:g} s"
    if sc.slo.tpot is not None:
        out["p99 TPOT"] = f"{sc.slo.tpot * 1e3:g} ms"
    return out


def sized_cost(
    catalog: Catalog, sizing: SizingResult, *, prices: str, facility: str, spare_cards: int = 0
) -> RangedTco:
    """Cost of an attainable ``size_cluster`` answer at the card activity (energy) and
    throughput its simulation measured (the means over its seeds when replicated; the
    activity of the scenario's own seed). ``spare_cards`` (whole spare nodes,
    ``accelsim.model.spares``) are bought, racked and powered as hot spares: they add to the
    cards costed, not to the throughput."""
    s = sizing.summary
    chosen = sizing.chosen
    assert s is not None and chosen is not None
    busy = s.activity if s.activity is not None else 1.0
    return estimate_tco(
        catalog,
        sizing.device,
        sizing.cards + spare_cards,
        utilization=min(max(busy, 0.0), 1.0),
        prices=prices,
        facility=facility,
        throughput=chosen.figure("output_tokens_per_s"),
        input_tokens_per_s=chosen.figure("input_tokens_per_s"),
        requests_per_s=chosen.figure("requests_per_s"),
    )
