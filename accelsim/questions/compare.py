"""Side-by-side comparison of devices on one model and traffic — the main job.

For each device of a scenario (``devices:``, or the ones asked for) ``compare``:

1. checks the memory fit on one server of the device (``accelsim.model.plan.fit_best``);
2. finds the smallest feasible deployment (whole nodes;
   ``accelsim.questions.sizing.replica_shape``);
3. simulates the scenario's traffic on it (``accelsim.run.simulate.run_scenario``): throughput,
   TTFT/TPOT p50/p99, goodput under the scenario's SLOs;
4. sizes the cluster for the scenario's load under its SLOs
   (``accelsim.questions.sizing.size_cluster``);
5. costs that cluster (``accelsim.run.pricing.estimate_tco`` with the simulated utilization and
   throughput) and carries price/spec uncertainty through Monte Carlo (P10/P50/P90 of $ per
   million output tokens).

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
from accelsim.model.cost import TcoResult
from accelsim.model.plan import MemoryFit, fit_best
from accelsim.model.uncertainty import RangedTco
from accelsim.questions.sizing import SizingResult, size_cluster
from accelsim.run.pricing import estimate_tco, unpriced
from accelsim.run.resolve import Deployment, deploy, load_scenario
from accelsim.run.scenario import Scenario
from accelsim.sim.metrics import HIGHER, LOWER, METRICS, Metric

__all__ = ["ROWS", "ComparisonResult", "DeviceOutcome", "compare", "sized_cost"]


def _serving(key: str, metric: str, label: str | None = None) -> Metric:
    """The run-summary metric ``metric`` (``accelsim.sim.metrics.METRICS``) as the row ``key``
    of the smallest deployment's run, labelled ``label`` here when given."""
    m = METRICS[metric]
    return replace(m, name=key, label=label or m.label)


#: The comparison rows, by the key of a device's ``values``: the memory fit, the smallest
#: deployment's simulated run (run-summary metrics), the sizing and the cost.
ROWS: tuple[Metric, ...] = (
    Metric("fits_one_server", "fits on one server", "", 0),
    Metric("one_server_kv_tokens", "KV tokens on one server", "tokens", HIGHER),
    Metric("min_cards", "smallest deployment", "cards", LOWER),
    Metric("min_plan", "plan of the smallest deployment", "", 0),
    _serving(
        "output_tokens_per_s",
        "output_tokens_per_s",
        "throughput at the scenario load (smallest deployment)",
    ),
    _serving("output_tokens_per_s_per_card", "output_tokens_per_s_per_card", "throughput per card"),
    _serving("ttft_p50_s", "ttft_p50"),
    _serving("ttft_p99_s", "ttft_p99"),
    _serving("tpot_p50_s", "tpot_p50"),
    _serving("tpot_p99_s", "tpot_p99"),
    _serving("goodput_share", "goodput_share", "goodput (share meeting SLOs)"),
    Metric("cards_needed", "cards needed for the load under SLOs", "cards", LOWER),
    Metric("nodes_needed", "nodes needed", "nodes", LOWER),
    Metric("capex_usd", "capex", "USD", LOWER),
    Metric("opex_usd_per_year", "opex per year", "USD/yr", LOWER),
    Metric("usd_per_mtok_p10", "$ per M output tokens P10", "USD/Mtok", LOWER),
    Metric("usd_per_mtok_p50", "$ per M output tokens P50", "USD/Mtok", LOWER),
    Metric("usd_per_mtok_p90", "$ per M output tokens P90", "USD/Mtok", LOWER),
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


@dataclass
class ComparisonResult:
    """The outcome per device of ``compare`` on one deployed scenario."""

    deployment: Deployment
    outcomes: list[DeviceOutcome]
    overrides: list[dict[str, Any]] = field(default_factory=list)

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
        """One row per metric: values by device, the winner and best/next ratio."""
        out = []
        for m in ROWS:
            values = {o.device: o.values.get(m.name) for o in self.outcomes}
            winner, ratio = _winner(values, m.better)
            out.append(
                {
                    "metric": m.name,
                    "label": m.label,
                    "unit": m.unit,
                    "values": values,
                    "winner": winner,
                    "ratio": ratio,
                }
            )
        return out

    def device_rows(self) -> list[dict[str, Any]]:
        """One flat record per device (the ``--json`` form)."""
        marked = set(self.overridden_devices)
        return [
            {"device": o.device, **o.values, "what_if": o.device in marked, "notes": o.notes}
            for o in self.outcomes
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario.name,
            "digest": self.scenario.digest,
            "model": self.scenario.model,
            "devices": self.device_rows(),
            "rows": self.rows,
            "overrides": self.overrides,
        }

    def to_frame(self):
        """One row per device (``what_if`` marks devices an override changed); the overrides
        in effect are in ``frame.attrs["overrides"]``."""
        import pandas as pd

        frame = pd.DataFrame(self.device_rows()).set_index("device")
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
    ``accelsim.questions.tune`` on the smallest whole-node budget)."""
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
    outcomes = []
    for name in names:
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
        sizing = size_cluster(
            dep,
            catalog,
            name,
            max_cards=max_cards,
            use_scenario_plan=False,
            plan=plan,
            progress=progress,
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
        tco = unc = None
        first = sizing.runs.get(1)
        if first is not None:
            s = first.summary
            values.update(
                output_tokens_per_s=s.throughput.output_tokens_per_s,
                output_tokens_per_s_per_card=s.throughput.output_tokens_per_s
                / sizing.cards_per_replica,
                ttft_p50_s=s.ttft_s.p50,
                ttft_p99_s=s.ttft_s.p99,
                tpot_p50_s=s.tpot_s.p50,
                tpot_p99_s=s.tpot_s.p99,
                goodput_share=s.goodput.share,
            )
        no_price = unpriced(catalog, name, prices)
        if no_price is not None:
            notes.append(f"{no_price}: no cost figures")
        if sizing.attainable:
            values.update(
                cards_needed=sizing.cards, nodes_needed=sizing.nodes, slo_margin=sizing.margin
            )
        if sizing.attainable and no_price is None:
            tco = sized_cost(catalog, sizing, prices=prices, facility=facility)
            unc = tco.monte_carlo(monte_carlo, seed)
            values.update(
                capex_usd=tco.capex_usd,
                opex_usd_per_year=_opex(tco),
                usd_per_mtok_p10=unc.p10["usd_per_mtok_output"],
                usd_per_mtok_p50=unc.p50["usd_per_mtok_output"],
                usd_per_mtok_p90=unc.p90["usd_per_mtok_output"],
                usd_per_mtok_base=tco.usd_per_mtok_output,
            )
        outcomes.append(DeviceOutcome(name, values, one, sizing, tco, unc, notes))
    return ComparisonResult(dep, outcomes, catalog.overrides_in_effect())


def sized_cost(catalog: Catalog, sizing: SizingResult, *, prices: str, facility: str) -> RangedTco:
    """Cost of an attainable ``size_cluster`` answer at the utilization and throughput its
    simulation measured."""
    s = sizing.summary
    assert s is not None
    busy = s.busy_fraction if s.busy_fraction is not None else 1.0
    return estimate_tco(
        catalog,
        sizing.device,
        sizing.cards,
        utilization=min(max(busy, 0.0), 1.0),
        prices=prices,
        facility=facility,
        throughput=s.throughput.output_tokens_per_s,
        input_tokens_per_s=s.throughput.input_tokens_per_s,
        requests_per_s=s.throughput.requests_per_s,
    )


def _opex(tco: TcoResult) -> float:
    """Yearly running cost: everything in the yearly breakdown that is not amortized capex."""
    return sum(v for k, v in tco.breakdown.items() if not k.startswith("amortization"))
