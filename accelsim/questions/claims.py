"""Published claims checked against accelsim: schema, load sweep and verdicts.

A scenario may list ``claims:`` (``Scenario.claims``): each names *what* it says (``kind``), the
value, the device and, where it matters, the card count::

    claims:
      - {id: tput-910b, kind: throughput, value: 1200 tok/s, device: ascend-910b2, cards: 8,
         says: "1,200 tok/s on an 8-card Ascend 910B server"}

Kinds and what accelsim compares them with:

- ``throughput`` (output tokens/s on ``cards`` cards): the *capacity* of that deployment — the
  highest output token rate of a load sweep (``load_sweep``) whose p99 TTFT/TPOT still meet the
  scenario's SLOs. The claim is read as "this much is achievable".
- ``ttft`` (time to first token on ``cards`` cards): the best (lowest-load) p50 TTFT of the same
  sweep. Read as "this latency is achievable".
- ``usd_per_mtok`` ($ per million output tokens on ``device``): the Monte Carlo P10–P90 of
  $/M output tokens of the cluster ``accelsim compare`` sizes for the scenario's load and SLOs.
- ``peak_flops`` (dense peak of one card in ``dtype``): the catalog's value for ``device``.
- ``cluster_cost`` (capex of ``cards`` cards): ``accelsim.questions.cluster_cost`` over every
  price book that prices the device: bare cards and all-in capex.

The claim schema (``accelsim.run.scenario.Claim``) is part of the scenario schema.

Verdicts: ``consistent``, ``inconsistent`` or ``not checkable``, always with the reason and
accelsim's number. Tolerance policy (stated in every report):

- *spec* (``peak_flops``): within ``SPEC_TOLERANCE`` = 10% of the catalog value (vendor peaks
  differ by boost clock and rounding by a few percent, not more).
- *performance* (``throughput``, ``ttft``): the claim is consistent when it is no better than
  accelsim's figure widened by the tolerance — throughput <= capacity x (1 + tol), TTFT >=
  best TTFT x (1 - tol). ``tol`` is how far accelsim itself is from measurements on that card:
  the median absolute error of ``accelsim validate``'s cases for the device; with no case for the
  device, those of its vendor's cards; with none either, all cases — never below
  ``MIN_PERF_TOLERANCE`` = 10%.
- *cost per token* (``usd_per_mtok``): consistent when inside the Monte Carlo P10–P90 (which
  already carries the price and ±15% throughput spreads of ``tco/spreads.yaml``).
- *cluster cost*: consistent when between the cheapest book's bare cards x (1 - 25%) and the
  dearest book's all-in capex x (1 + 25%); 25% is the card-price spread of
  ``tco/spreads.yaml``. Below the bare cards is inconsistent (cannot even buy the cards).

A performance claim about a configuration on which the model does **not fit** at any precision
the card supports is *inconsistent*: the configuration cannot exist, so no throughput or latency
on it can be true (memory fit depends on the parameter count and bytes per weight, which the
claim itself fixes, much more than on modelling details). The reason then gives accelsim's
figures at the smallest deployment that fits, for reference. When the model fits only at a
precision other than the scenario's, the claimed configuration is simulated at that precision
and the reason says so. ``not checkable`` is kept for claims accelsim cannot price or simulate
(a device with no price, traffic that cannot be swept, no deployment up to the size limit).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from accelsim.catalog.devices import Card
from accelsim.catalog.loader import Catalog
from accelsim.dtypes import PRESETS, Precision, precision
from accelsim.errors import AccelsimError
from accelsim.model.plan import MemoryFit, ParallelPlan, fit_best, minimum_cards
from accelsim.questions.cluster_cost import cluster_cost_claim
from accelsim.questions.compare import ComparisonResult
from accelsim.questions.sizing import slo_check, slo_targets
from accelsim.run.scenario import Claim, Scenario
from accelsim.run.simulate import run_scenario

__all__ = [
    "MIN_PERF_TOLERANCE",
    "PRICE_TOLERANCE",
    "RATE_FACTORS",
    "SPEC_TOLERANCE",
    "ClaimCheck",
    "LoadPoint",
    "LoadSweep",
    "check_claims",
    "load_sweep",
    "perf_tolerance",
    "precision_fits",
    "supported_presets",
]

Verdict = Literal["consistent", "inconsistent", "not checkable"]

#: Relative tolerance of a peak-rate claim against the catalog (see the module docstring).
SPEC_TOLERANCE = 0.10
#: Floor of the performance tolerance (validation error of the card, see the module docstring).
MIN_PERF_TOLERANCE = 0.10
#: Cluster-cost tolerance: the card-price spread of ``tco/spreads.yaml``.
PRICE_TOLERANCE = 0.25
#: Load sweep: multiples of the scenario's arrival rate.
RATE_FACTORS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
#: Load sweep: requests simulated per rate (the scenario's own count when smaller).
SWEEP_REQUESTS = 600


@dataclass(frozen=True)
class ClaimCheck:
    """The verdict on one claim, accelsim's number and why."""

    claim: Claim
    verdict: Verdict
    predicted: float | None
    predicted_text: str
    tolerance: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.claim.id,
            "kind": self.claim.kind,
            "device": self.claim.device,
            "cards": self.claim.cards,
            "claimed": self.claim.value,
            "unit": self.claim.unit,
            "verdict": self.verdict,
            "predicted": self.predicted,
            "predicted_text": self.predicted_text,
            "tolerance": self.tolerance,
            "reason": self.reason,
        }


# ---- load sweep ------------------------------------------------------------------------------
@dataclass(frozen=True)
class LoadPoint:
    """One simulated arrival rate of a load sweep."""

    rate: float
    output_tokens_per_s: float
    ttft_p50_s: float
    ttft_p99_s: float
    tpot_p50_s: float
    tpot_p99_s: float
    meets_slo: bool


@dataclass(frozen=True)
class LoadSweep:
    """Throughput against latency of one deployment over ``RATE_FACTORS`` x the scenario rate:
    ``plan`` (one replica) on ``cards`` cards of ``device``."""

    device: str
    cards: int
    plan: ParallelPlan
    dtype: str
    requests: int
    points: tuple[LoadPoint, ...]

    @property
    def capacity(self) -> float | None:
        """Highest output tokens/s among rates meeting the SLOs (None: no rate does)."""
        ok = [p.output_tokens_per_s for p in self.points if p.meets_slo]
        return max(ok) if ok else None

    @property
    def bounded(self) -> bool:
        """Whether the sweep reached a load that misses the SLOs (else ``capacity`` is only a
        lower bound)."""
        return not self.points[-1].meets_slo

    @property
    def best_ttft_p50_s(self) -> float:
        return min(p.ttft_p50_s for p in self.points)


def sweepable(sc: Scenario) -> str | None:
    """Why the scenario's traffic cannot be swept over rates (None when it can)."""
    t = sc.traffic_spec
    if t.arrival not in ("poisson", "gamma", "constant") or t.rate is None:
        return f"traffic arrivals are {t.arrival!r}: only rate-driven arrivals can be swept"
    return None


def load_sweep(
    sc: Scenario,
    catalog: Catalog,
    device: str,
    plan: ParallelPlan,
    cards: int,
    dtype: str | None = None,
) -> LoadSweep:
    """Simulate ``device`` with ``plan`` (one replica, over ``cards`` cards — packages, so
    ``cards * dies`` ranks) at ``RATE_FACTORS`` x the rate of resolved ``sc``,
    ``SWEEP_REQUESTS`` requests each (fewer when the scenario has fewer)."""
    why = sweepable(sc)
    if why:
        raise AccelsimError(f"load sweep of scenario {sc.name}: {why}")
    traffic = sc.traffic_spec
    requests = min(traffic.requests or SWEEP_REQUESTS, SWEEP_REQUESTS)
    fields: dict[str, Any] = {} if dtype is None else {"dtype": dtype, "kv_dtype": None}
    targets = slo_targets(sc)
    points = []
    for factor in RATE_FACTORS:
        t = traffic.model_copy(
            update={"rate": traffic.rate * factor, "requests": requests, "duration": None}
        )
        one = sc.replanned(device, cards, plan, traffic=t, **fields)
        s = run_scenario(one, catalog).summary
        ok, _ = slo_check(s, targets)
        points.append(
            LoadPoint(
                rate=traffic.rate * factor,
                output_tokens_per_s=s.throughput.output_tokens_per_s,
                ttft_p50_s=s.ttft_s.p50,
                ttft_p99_s=s.ttft_s.p99,
                tpot_p50_s=s.tpot_s.p50,
                tpot_p99_s=s.tpot_s.p99,
                meets_slo=ok,
            )
        )
    return LoadSweep(device, cards, plan, dtype or sc.dtype, requests, tuple(points))


# ---- memory fit over precisions ---------------------------------------------------------------
def supported_presets(card: Card) -> list[str]:
    """Precision presets whose compute dtype the card has (aliases dropped)."""
    seen: set[Precision] = set()
    out = []
    for name, p in PRESETS.items():
        if p in seen or not card.supports(p.compute):
            continue
        seen.add(p)
        out.append(name)
    return out


def precision_fits(
    catalog: Catalog, model: str, device: str, cards: int, context: int
) -> list[tuple[str, MemoryFit, int | None]]:
    """For every supported preset: the best fit on ``cards`` cards (packages; the fit is per
    rank, a die of a multi-die card) and the minimum whole-node card count that fits (None
    above 8,192)."""
    card = catalog.device(device)
    server = catalog.server_for(card)
    arch = catalog.model(model)
    out = []
    for name in supported_presets(card):
        prec = precision(name)
        one = fit_best(arch, card, cards, prec, context, server.scale_up_domain_cards)
        least = minimum_cards(
            arch, card, prec, context, server.cards_per_node, server.scale_up_domain_cards
        )
        # cards (packages): the plan counts ranks, dies on a multi-die card
        out.append((name, one, least.plan.ranks // card.dies if least is not None else None))
    return out


# ---- tolerance --------------------------------------------------------------------------------
def perf_tolerance(catalog: Catalog, device: str, validation: Any) -> tuple[float, str]:
    """The performance tolerance for ``device`` and where it comes from (module docstring)."""
    results = list(getattr(validation, "results", []) or [])
    own = [abs(r.error_pct) for r in results if r.case.device == device]
    basis = f"median |error| of {len(own)} validation case(s) on {device}"
    if not own:
        vendor = catalog.device(device).vendor
        own = [
            abs(r.error_pct)
            for r in results
            if r.case.device in catalog.names("device")
            and catalog.device(r.case.device).vendor == vendor
        ]
        basis = f"no case on {device}: median |error| of {len(own)} case(s) on {vendor} cards"
    if not own:
        own = [abs(r.error_pct) for r in results]
        basis = f"median |error| of all {len(own)} validation cases"
    med = statistics.median(own) / 100.0 if own else 0.0
    tol = max(med, MIN_PERF_TOLERANCE)
    if tol > med:
        basis += f" ({med:.0%}), floored at {MIN_PERF_TOLERANCE:.0%}"
    return tol, basis


# ---- checks -----------------------------------------------------------------------------------
def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "s":
        return f"{value * 1e3:,.0f} ms" if value < 10 else f"{value:,.1f} s"
    if unit == "FLOP/s":
        return f"{value / 1e12:,.1f} TFLOPS"
    if unit == "USD":
        return f"${value / 1e6:,.2f}M"
    if unit == "USD/Mtok":
        return f"${value:,.2f}/Mtok"
    return f"{value:,.0f} {unit}"


def _check_peak(c: Claim, catalog: Catalog) -> ClaimCheck:
    card = catalog.device(c.device)
    tol = f"±{SPEC_TOLERANCE:.0%} (spec)"
    assert c.dtype is not None
    if not card.supports(c.dtype):
        return ClaimCheck(
            c, "inconsistent", None, "—", tol, f"{c.device} has no {c.dtype} peak in the catalog"
        )
    value = card.peak(c.dtype)
    prov = card.source_of(f"peak_flops.{c.dtype}")
    conf = f", conf {prov.conf}" if prov else ""
    if prov is not None and prov.conf == "O":
        conf = f", a WHAT-IF override (catalog value {prov.override_of})"
    rel = c.value / value - 1.0
    near = [
        n
        for n in catalog.names("device")
        if n != c.device
        and catalog.device(n).supports(c.dtype)
        and abs(c.value / catalog.device(n).peak(c.dtype) - 1.0) <= SPEC_TOLERANCE
    ]
    verdict: Verdict = "consistent" if abs(rel) <= SPEC_TOLERANCE else "inconsistent"
    reason = (
        f"catalog {c.dtype} peak of {c.device} is {_fmt(value, 'FLOP/s')}{conf}; the claim is "
        f"{rel:+.0%} off"
    )
    if near:
        reason += f"; within tolerance of: {', '.join(near)}"
    return ClaimCheck(c, verdict, value, _fmt(value, "FLOP/s") + " (catalog)", tol, reason)


def _check_cluster(c: Claim, catalog: Catalog) -> ClaimCheck:
    assert c.cards is not None
    tol = f"-{PRICE_TOLERANCE:.0%} / +{PRICE_TOLERANCE:.0%} (card-price spread)"
    rows = cluster_cost_claim(catalog, {c.device: (c.says or c.id, c.value)}, cards=c.cards)
    cards_only = [r.cards_only_usd for r in rows if r.cards_only_usd is not None]
    all_in = [r.all_in_usd for r in rows if r.all_in_usd is not None]
    if not cards_only and not all_in:
        return ClaimCheck(
            c, "not checkable", None, "—", tol, f"no price book prices {c.device} or its server"
        )
    low = min(cards_only or all_in)
    high = max(all_in or cards_only)
    text = f"cards only {_fmt(low, 'USD')}; all-in capex up to {_fmt(high, 'USD')}"
    books = ", ".join(sorted({r.prices for r in rows}))
    if c.value < low * (1 - PRICE_TOLERANCE):
        verdict: Verdict = "inconsistent"
        reason = (
            f"the claim implies ${c.value / c.cards:,.0f} per card; the bare cards alone cost "
            f"{_fmt(low, 'USD')} ({low / c.value:.1f}x the claim) in the books ({books})"
        )
    elif c.value > high * (1 + PRICE_TOLERANCE):
        verdict = "inconsistent"
        reason = f"above the dearest all-in capex {_fmt(high, 'USD')} in the books ({books})"
    else:
        verdict = "consistent"
        reason = f"between the bare cards and the all-in capex of {c.cards:,} cards ({books})"
    return ClaimCheck(c, verdict, low, text, tol, reason)


def _check_cost(c: Claim, comparison: ComparisonResult) -> ClaimCheck:
    tol = "inside the Monte Carlo P10–P90"
    out = next((o for o in comparison.outcomes if o.device == c.device), None)
    if out is None or out.uncertainty is None:
        why = (
            f"{c.device} is not among the compared devices"
            if out is None
            else f"no attainable deployment of {c.device} to cost ({'; '.join(out.notes)})"
        )
        return ClaimCheck(c, "not checkable", None, "—", tol, why)
    v = out.values
    p10, p50, p90 = v["usd_per_mtok_p10"], v["usd_per_mtok_p50"], v["usd_per_mtok_p90"]
    text = f"P50 {_fmt(p50, 'USD/Mtok')} (P10 {p10:,.2f} – P90 {p90:,.2f})"
    where = (
        f"{v['cards_needed']} cards ({v['min_plan']} x {v['cards_needed'] // v['min_cards']}) "
        f"sized for the scenario's load and SLOs"
    )
    if p10 <= c.value <= p90:
        return ClaimCheck(c, "consistent", p50, text, tol, f"inside P10–P90 on {where}")
    side = "below P10" if c.value < p10 else "above P90"
    return ClaimCheck(
        c,
        "inconsistent",
        p50,
        text,
        tol,
        f"{side}: the claim is {c.value / p50:.2f}x accelsim's P50 on {where}",
    )


def _check_perf(
    c: Claim,
    sc: Scenario,
    catalog: Catalog,
    sweeps: Mapping[str, LoadSweep],
    validation: Any,
) -> ClaimCheck:
    assert c.cards is not None
    tol, basis = perf_tolerance(catalog, c.device, validation)
    tol_text = f"±{tol:.0%} ({basis})"
    fits = precision_fits(catalog, sc.model, c.device, c.cards, sc.context)
    ok = [(name, f) for name, f, _ in fits if f.fits]
    ref = sweeps.get(c.device)
    ref_text = ""
    if ref is not None:
        figure = ref.capacity if c.kind == "throughput" else ref.best_ttft_p50_s
        unit = "tok/s" if c.kind == "throughput" else "s"
        ref_text = (
            f"; at the smallest deployment ({ref.cards} cards, {ref.plan.label()}, {ref.dtype}) "
            "accelsim "
            f"predicts {_fmt(figure, unit)}"
        )
        if c.kind == "throughput" and figure is not None:
            ref_text += f" ({figure / ref.cards:,.0f} tok/s per card)"
    if not ok:
        per = "card" if catalog.device(c.device).dies == 1 else "die"  # a fit is per rank
        short = ", ".join(f"{n} short {f.shortfall / 2**30:,.0f} GiB/{per}" for n, f, _ in fits)
        least = [(m, n) for n, _, m in fits if m is not None]
        smallest = min(least) if least else None
        msg = (
            f"{sc.model} does not fit on {c.cards} x {c.device} at any supported precision "
            f"({short})"
        )
        if smallest:
            msg += f"; the smallest deployment is {smallest[0]} cards ({smallest[1]})"
        figure = None
        if ref is not None:
            figure = ref.capacity if c.kind == "throughput" else ref.best_ttft_p50_s
        return ClaimCheck(c, "inconsistent", figure, _fmt(figure, c.unit), tol_text, msg + ref_text)
    if sweepable(sc):
        return ClaimCheck(c, "not checkable", None, "—", tol_text, str(sweepable(sc)))
    chosen = next(((n, f) for n, f in ok if n == sc.dtype), ok[0])
    note = (
        "" if chosen[0] == sc.dtype else f" (does not fit at {sc.dtype}; simulated at {chosen[0]})"
    )
    plan = chosen[1].plan
    if ref is not None and ref.cards == c.cards and ref.plan == plan and ref.dtype == chosen[0]:
        sweep = ref
    else:
        sweep = load_sweep(sc, catalog, c.device, plan, c.cards, chosen[0])
    where = f"{c.cards} x {c.device}, {plan.label()}, {chosen[0]}{note}"
    if c.kind == "throughput":
        cap = sweep.capacity
        if cap is None:
            return ClaimCheck(
                c,
                "inconsistent",
                None,
                "—",
                tol_text,
                f"no swept load meets the SLOs on {where}",
            )
        bound = "" if sweep.bounded else "at least "
        text = f"capacity under the SLOs on {where} is {bound}{_fmt(cap, 'tok/s')}"
        if c.value <= cap * (1 + tol):
            verdict: Verdict = "consistent"
        elif sweep.bounded:
            verdict = "inconsistent"
        else:
            verdict = "not checkable"
            text += " (the highest swept load still met the SLOs)"
        return ClaimCheck(
            c,
            verdict,
            cap,
            ("≥ " if bound else "") + _fmt(cap, "tok/s"),
            tol_text,
            f"{text}; the claim is {c.value / cap:.2f}x that",
        )
    best = sweep.best_ttft_p50_s
    verdict = "consistent" if c.value >= best * (1 - tol) else "inconsistent"
    return ClaimCheck(
        c,
        verdict,
        best,
        _fmt(best, "s"),
        tol_text,
        f"lowest-load p50 TTFT on {where} is {_fmt(best, 's')}; the claim is "
        f"{c.value / best:.2f}x that",
    )


def check_claims(
    claims: list[Claim],
    sc: Scenario,
    catalog: Catalog,
    *,
    comparison: ComparisonResult,
    sweeps: Mapping[str, LoadSweep],
    validation: Any,
) -> list[ClaimCheck]:
    """Check every claim of a scenario (see the module docstring for the policy).

    ``sc`` is the resolved scenario, ``comparison`` ``accelsim.questions.compare.compare``'s
    result for it, ``sweeps`` the load sweeps of its smallest deployments by device,
    ``validation`` ``run_validation``'s report (for the performance tolerance)."""
    out = []
    for c in claims:
        catalog.device(c.device)
        if c.kind == "peak_flops":
            out.append(_check_peak(c, catalog))
        elif c.kind == "cluster_cost":
            out.append(_check_cluster(c, catalog))
        elif c.kind == "usd_per_mtok":
            out.append(_check_cost(c, comparison))
        else:
            out.append(_check_perf(c, sc, catalog, sweeps, validation))
    return out
