"""Published claims checked against accelsim: the tolerance policy and each kind's verdicts.

A scenario lists ``claims:`` (``accelsim.run.scenario.Claim``, part of the scenario schema):
each names *what* it says (``kind``), the value, the device, where it matters the card count,
where it stands in its source (``row``, ``column``) and the models it may be about
(``readings``; default: the scenario's model). Every claim gives one ``ClaimCheck`` per reading
— a model for the performance and cost claims (``accelsim.questions.claims_readings`` resolves
each once, with one load sweep), a SKU for a peak, an accounting for a cluster cost. Verdicts:
``consistent``, ``inconsistent`` or ``not checkable``, always with the reason and accelsim's
number; a claim with ``not_checkable`` (a closed model) gets that verdict and reason only.

Kinds and what accelsim compares them with:

- ``throughput`` (output tokens/s on ``cards`` cards): the *saturation* throughput of the
  reading's load sweep — the article states no latency target, so the claim is read as "this
  much is achievable"; the capacity under the scenario's SLOs is given beside it. Consistent
  when claim <= saturation x (1 + tol).
- ``ttft``: the lowest-load p50 TTFT of the same sweep; consistent when claim >= it x (1 - tol).
- ``usd_per_mtok`` ($ per million tokens, accounting unstated): four figures per reading, each
  with its Monte Carlo P10-P90 (``COST_DRAWS`` draws of ``tco/spreads.yaml``'s ranges): output
  tokens only and blended (input + output), at saturation and at the capacity under the SLOs,
  of the reading's deployment at its busy power. Any load between those two is a fair operating
  point and the claim names no accounting, so it is consistent when inside the span of either
  accounting, from its lowest P10 to its highest P90; the claim's ``references`` (API list
  prices) are printed beside.
- ``peak_flops``: one verdict per SKU of the device's card family (``extends``; same die
  count, no hypothetical variants): within ``SPEC_TOLERANCE`` of that SKU's catalog peak.
- ``cluster_cost`` (a total for ``cards`` cards): four accountings, over every price book that
  prices the device: *capex* (consistent between the cheapest book's bare cards and the
  dearest all-in capex, each widened by ``PRICE_TOLERANCE``), *TCO per year*, *TCO over the
  life* (the facility's depreciation years) and *rental for a year* (the book's rental rate x
  cards x 8,766 h), each consistent within ``PRICE_TOLERANCE`` of the books' range.
- ``cost_advantage`` (device is ``value``-``high`` cheaper than ``versus``): the joint Monte
  Carlo (``accelsim.questions.verdict.device_verdict``) of $ per M output tokens of both
  readings at saturation, and for the scenario's model also ``accelsim compare``'s verdict on
  the clusters it sizes under the SLOs. Consistent when the claimed cost-ratio band
  ``[1 - high, 1 - value]`` overlaps the ratio's P10-P90; P(device cheaper) is given.
- ``cheaper_than_dense`` (the MoE is ``value`` cheaper than a dense model "of equivalent
  capability"): $ per M output tokens at saturation (P50 of its Monte Carlo) of the reading
  against its two dense stand-ins (``dense_equivalents``: the same total, the same active
  parameters; HYPOTHETICAL ``workloads/models/dense-*.yaml``), each on the claimed cards or its
  smallest deployment. "Equivalent capability" lies between the two, so the claim is
  consistent when the claimed saving lies between the two savings.

Tolerance of a performance claim (``perf_tolerance``): the P90 (``TOLERANCE_QUANTILE``) of the
absolute cross-validated speed errors (``workloads/validation/intervals.yaml``) of the cases
on the card's family; when the card itself has no case the basis says "no case for this
card"; with no case on the family either, its vendor's cases; never below
``MIN_PERF_TOLERANCE``.

A performance claim about a configuration on which the model does **not fit** at any precision
the card supports is *inconsistent*: the configuration cannot exist (memory fit depends on the
parameter count and bytes per weight much more than on modelling details). Its reason gives
accelsim's figures at the smallest deployment that fits. A cost claim is judged on that
smallest deployment and says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from accelsim.catalog.loader import Catalog
from accelsim.errors import AccelsimError
from accelsim.model.uncertainty import RangedTco
from accelsim.questions.claims_readings import LoadPoint, LoadSweep, Reading, Readings
from accelsim.questions.cluster_cost import cluster_cost_claim
from accelsim.questions.compare import ComparisonResult
from accelsim.questions.verdict import device_verdict, priced
from accelsim.run.pricing import estimate_tco, rental_rate, unpriced
from accelsim.run.scenario import Claim, Scenario
from accelsim.validate.cases import load_cases
from accelsim.validate.intervals import intervals_file

__all__ = [
    "COST_DRAWS",
    "HOURS_PER_YEAR",
    "MIN_PERF_TOLERANCE",
    "PRICE_TOLERANCE",
    "SPEC_TOLERANCE",
    "TOLERANCE_QUANTILE",
    "ClaimCheck",
    "card_family",
    "check_claims",
    "cluster_tco_readings",
    "perf_tolerance",
]

Verdict = Literal["consistent", "inconsistent", "not checkable"]

#: Relative tolerance of a peak-rate claim against the catalog (vendor peaks differ by boost
#: clock and rounding by a few percent, not more).
SPEC_TOLERANCE = 0.10
#: Floor of the performance tolerance.
MIN_PERF_TOLERANCE = 0.10
#: The quantile of the family's absolute cross-validated errors taken as the tolerance.
TOLERANCE_QUANTILE = 0.90
#: Cluster-cost tolerance: the card-price spread of ``tco/spreads.yaml``.
PRICE_TOLERANCE = 0.25
#: Monte Carlo draws of each reading's cost (the report's own Monte Carlo is separate).
COST_DRAWS = 500
#: Hours in a year (365.25 days), for the rental reading.
HOURS_PER_YEAR = 8766.0


@dataclass(frozen=True)
class ClaimCheck:
    """The verdict on one reading of one claim, accelsim's number and why."""

    claim: Claim
    verdict: Verdict
    predicted: float | None
    predicted_text: str
    tolerance: str
    reason: str
    reading: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.claim.id,
            "kind": self.claim.kind,
            "row": self.claim.row,
            "column": self.claim.column,
            "reading": self.reading,
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


# ---- tolerance --------------------------------------------------------------------------------
def card_family(catalog: Catalog, device: str) -> list[str]:
    """The cards sharing ``device``'s root of ``extends`` (its family), sorted."""

    def root(name: str) -> str:
        seen = {name}
        card = catalog.device(name)
        while card.extends and card.extends not in seen:
            seen.add(card.extends)
            card = catalog.device(card.extends)
        return card.name

    top = root(device)
    return sorted(n for n in catalog.names("device") if root(n) == top)


def perf_tolerance(catalog: Catalog, device: str) -> tuple[float, str]:
    """The performance tolerance for ``device`` and where it comes from (module docstring)."""
    try:
        residuals = intervals_file(catalog).residuals
    except AccelsimError:
        residuals = ()
    on = {c.id: c.device for c in load_cases(catalog=catalog)}
    family = set(card_family(catalog, device))
    vendor = catalog.device(device).vendor
    own = [r for r in residuals if on.get(r.id) == device]
    fam = [r for r in residuals if on.get(r.id) in family]
    q = f"P{TOLERANCE_QUANTILE * 100:.0f}"
    if fam:
        chosen = fam
        cards = sorted({on[r.id] for r in fam})
        basis = (
            f"{q} |error| of {len(fam)} cross-validated case(s) on the family ({', '.join(cards)})"
        )
        if not own:
            basis = f"no case for this card; {basis}"
    else:
        chosen = [r for r in residuals if r.vendor == vendor] or list(residuals)
        scope = f"{vendor} cards" if any(r.vendor == vendor for r in residuals) else "all cards"
        basis = (
            f"no case for this card or its family; {q} |error| of {len(chosen)} case(s) on {scope}"
        )
    if not chosen:
        return MIN_PERF_TOLERANCE, f"no cross-validated case at all: floor {MIN_PERF_TOLERANCE:.0%}"
    tail = float(np.quantile([abs(r.speed_error) for r in chosen], TOLERANCE_QUANTILE))
    tol = max(tail, MIN_PERF_TOLERANCE)
    if tol > tail:
        basis += f" ({tail:.0%}), floored at {MIN_PERF_TOLERANCE:.0%}"
    return tol, basis


# ---- formatting -------------------------------------------------------------------------------
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


# ---- peak: one verdict per SKU ----------------------------------------------------------------
def _check_peak(c: Claim, catalog: Catalog) -> list[ClaimCheck]:
    assert c.dtype is not None
    tol = f"±{SPEC_TOLERANCE:.0%} (spec)"
    dies = catalog.device(c.device).dies
    skus = [
        n
        for n in card_family(catalog, c.device)
        if catalog.device(n).dies == dies and not catalog.device(n).hypothetical
    ]
    if c.device not in skus:
        skus.insert(0, c.device)
    out = []
    for name in skus:
        card = catalog.device(name)
        if not card.supports(c.dtype):
            why = f"{name} has no {c.dtype} peak in the catalog"
            out.append(ClaimCheck(c, "inconsistent", None, "—", tol, why, name))
            continue
        value = card.peak(c.dtype)
        prov = card.source_of(f"peak_flops.{c.dtype}")
        conf = f", conf {prov.conf}" if prov else ""
        if prov is not None and prov.conf == "O":
            conf = f", a WHAT-IF override (catalog value {prov.override_of})"
        rel = c.value / value - 1.0
        verdict: Verdict = "consistent" if abs(rel) <= SPEC_TOLERANCE else "inconsistent"
        reason = (
            f"catalog {c.dtype} peak of {name} is {_fmt(value, 'FLOP/s')}{conf}; the claim is "
            f"{rel:+.0%} off"
        )
        out.append(ClaimCheck(c, verdict, value, _fmt(value, "FLOP/s"), tol, reason, name))
    return out


# ---- cluster cost: capex, yearly and lifetime TCO, rental ---------------------------------------
def _check_cluster(c: Claim, catalog: Catalog, facility: str) -> list[ClaimCheck]:
    assert c.cards is not None
    tol = f"-{PRICE_TOLERANCE:.0%} / +{PRICE_TOLERANCE:.0%} (card-price spread)"
    rows = cluster_cost_claim(catalog, {c.device: (c.says or c.id, c.value)}, cards=c.cards)
    cards_only = [r.cards_only_usd for r in rows if r.cards_only_usd is not None]
    all_in = [r.all_in_usd for r in rows if r.all_in_usd is not None]
    if not cards_only and not all_in:
        why = f"no price book prices {c.device} or its server"
        return [ClaimCheck(c, "not checkable", None, "—", tol, why, "capex")]
    books = sorted({r.prices for r in rows})
    low = min(cards_only or all_in)
    high = max(all_in or cards_only)
    text = f"cards only {_fmt(low, 'USD')}; all-in capex up to {_fmt(high, 'USD')}"
    if c.value < low * (1 - PRICE_TOLERANCE):
        verdict: Verdict = "inconsistent"
        reason = (
            f"the claim implies ${c.value / c.cards:,.0f} per card; the bare cards alone cost "
            f"{_fmt(low, 'USD')} ({low / c.value:.1f}x the claim) in the books ({', '.join(books)})"
        )
    elif c.value > high * (1 + PRICE_TOLERANCE):
        verdict = "inconsistent"
        reason = f"above the dearest all-in capex {_fmt(high, 'USD')} ({', '.join(books)})"
    else:
        verdict = "consistent"
        reason = f"between the bare cards and the all-in capex of {c.cards:,} cards"
    out = [ClaimCheck(c, verdict, low, text, tol, reason, "capex")]
    tcos = [
        (b, estimate_tco(catalog, c.device, c.cards, utilization=1.0, prices=b, facility=facility))
        for b in books
    ]
    years = tcos[0][1].inputs.years
    spans = (
        ("TCO per year", [t.per_year_usd for _, t in tcos], "per year at full power"),
        (
            f"TCO over the life ({years:g} years)",
            [t.per_year_usd * t.inputs.years for _, t in tcos],
            f"TCO per year x {years:g} years ({facility} depreciation)",
        ),
    )
    rentals = []
    for b in books:
        try:
            rentals.append((b, rental_rate(catalog, c.device, b)))
        except AccelsimError:
            continue
    for label, values, how in spans:
        out.append(_band(c, label, values, f"{how}; {', '.join(books)}", tol))
    if rentals:
        values = [rate * c.cards * HOURS_PER_YEAR for _, rate in rentals]
        rates = ", ".join(f"${r:,.2f}/card-hour ({b})" for b, r in rentals)
        out.append(_band(c, "rental for a year", values, f"{rates} x 8,766 h", tol))
    else:
        why = f"no price book has a rental rate for {c.device} ({', '.join(books)})"
        out.append(ClaimCheck(c, "not checkable", None, "—", tol, why, "rental for a year"))
    return out


def cluster_tco_readings(
    catalog: Catalog,
    claims: Mapping[str, tuple[str, float]],
    cards: int,
    facility: str = "us-2025",
) -> list[ClaimCheck]:
    """The readings of a claimed cluster cost other than capex (TCO per year, over the life,
    a year's rental; module docstring): ``claims`` maps a device to (label, claimed USD) as
    ``accelsim.questions.cluster_cost.cluster_cost_claim`` takes it."""
    out = []
    for device, (label, usd) in claims.items():
        c = Claim(id=label, kind="cluster_cost", value=usd, device=device, cards=cards, says=label)
        out += [r for r in _check_cluster(c, catalog, facility) if r.reading != "capex"]
    return out


def _band(c: Claim, label: str, values: list[float], how: str, tol: str) -> ClaimCheck:
    low, high = min(values), max(values)
    text = _fmt(low, "USD") if low == high else f"{_fmt(low, 'USD')}–{_fmt(high, 'USD')}"
    inside = low * (1 - PRICE_TOLERANCE) <= c.value <= high * (1 + PRICE_TOLERANCE)
    verdict: Verdict = "consistent" if inside else "inconsistent"
    ratio = (low if c.value < low else high) / c.value
    reason = f"{how}: {text}" + ("" if inside else f" ({ratio:.1f}x the claim)")
    return ClaimCheck(c, verdict, low, text, tol, reason, label)


# ---- performance: per reading -----------------------------------------------------------------
def _check_perf(c: Claim, r: Reading, catalog: Catalog) -> ClaimCheck:
    tol, basis = perf_tolerance(catalog, c.device)
    tol_text = f"±{tol:.0%} ({basis})"
    sweep = r.sweep
    why = _unswept(r)
    if why or sweep is None:
        return ClaimCheck(c, "not checkable", None, "—", tol_text, why or "", r.model)
    if c.kind == "throughput":
        figure: float | None = sweep.saturation
        slo = sweep.capacity
        text = (
            f"saturation on {r.where} is {'' if sweep.bounded else 'at least '}"
            f"{_fmt(figure, 'tok/s')} ({figure / r.cards:,.0f} tok/s per card); under the "
            f"scenario's SLOs {_fmt(slo, 'tok/s') if slo else 'no swept load meets them'}"
        )
    else:
        figure = sweep.best_ttft_p50_s
        text = f"lowest-load p50 TTFT on {r.where} is {_fmt(figure, 's')}"
    shown = _fmt(figure, c.unit)
    if not r.fits_claimed:
        return ClaimCheck(
            c,
            "inconsistent",
            figure,
            shown,
            tol_text,
            f"{r.shortfall_text()}; the smallest deployment: {text}",
            r.model,
        )
    assert figure is not None
    ratio = f"; the claim is {c.value / figure:.2f}x that"
    if c.kind == "throughput":
        if c.value <= figure * (1 + tol):
            verdict: Verdict = "consistent"
        elif sweep.bounded:
            verdict = "inconsistent"
        else:
            verdict = "not checkable"
            text += " (the highest swept load still met the SLOs)"
        if not sweep.bounded:
            shown = "≥ " + shown
    else:
        verdict = "consistent" if c.value >= figure * (1 - tol) else "inconsistent"
    return ClaimCheck(c, verdict, figure, shown, tol_text, text + ratio, r.model)


# ---- cost per token: per reading --------------------------------------------------------------
def _tco_at(
    catalog: Catalog, device: str, cards: int, point: LoadPoint, prices: str, facility: str
) -> RangedTco:
    """The cost of ``cards`` of ``device`` serving ``point``'s throughput, busy all the time."""
    return estimate_tco(
        catalog,
        device,
        cards,
        utilization=1.0,
        prices=prices,
        facility=facility,
        throughput=point.output_tokens_per_s,
        input_tokens_per_s=point.input_tokens_per_s,
    )


def _costs(
    catalog: Catalog, r: Reading, point: LoadPoint, prices: str, facility: str, seed: int
) -> dict[str, tuple[float, float, float]]:
    assert r.cards is not None
    tco = _tco_at(catalog, r.device, r.cards, point, prices, facility)
    q = tco.monte_carlo(COST_DRAWS, seed).quantiles
    return {
        "output": tuple(q["usd_per_mtok_output"][:3]),
        "blended": tuple(q["usd_per_mtok_blended"][:3]),
    }


def _unswept(r: Reading) -> str | None:
    """Why reading ``r`` has no load sweep to cost (None when it has one)."""
    if r.plan is None:
        return f"{r.shortfall_text()}; no deployment of it up to 8,192 cards"
    if r.sweep is None:
        return f"the scenario's traffic cannot be swept over rates (on {r.where})"
    return None


def _check_cost(
    c: Claim, r: Reading, catalog: Catalog, prices: str, facility: str, seed: int
) -> ClaimCheck:
    tol = "inside P10 at saturation – P90 under the SLOs, output-only or blended"
    why = unpriced(catalog, c.device, prices) or _unswept(r)
    if why or r.sweep is None or r.cards is None:
        return ClaimCheck(c, "not checkable", None, "—", tol, why or "", r.model)
    points = [("at saturation", r.sweep.saturation_point)]
    if r.sweep.capacity_point is not None:
        points.append(("under the SLOs", r.sweep.capacity_point))
    figures = []
    bands: dict[str, tuple[float, float]] = {}
    for load, point in points:
        for basis, (p10, p50, p90) in _costs(catalog, r, point, prices, facility, seed).items():
            figures.append((f"{basis} {load}", p10, p50, p90))
            low, high = bands.get(basis, (p10, p90))
            bands[basis] = (min(low, p10), max(high, p90))
    inside = [b for b, (low, high) in bands.items() if low <= c.value <= high]
    parts = "; ".join(
        f"{n} ${p50:,.2f} (P10–P90 {p10:,.2f}–{p90:,.2f})" for n, p10, p50, p90 in figures
    )
    refs = [x for x in c.references if x.model in (None, r.model)]
    ref_text = "; ".join(f"{x.label} ${x.value:,.3g}" for x in refs)
    where = (
        r.where if r.fits_claimed else f"{r.where} (the smallest deployment; {r.shortfall_text()})"
    )
    reason = f"on {where}: {parts}"
    if ref_text:
        reason += f". Published prices: {ref_text}"
    best = min(figures, key=lambda f: abs(np.log(c.value / f[2])))
    if inside:
        verdict: Verdict = "consistent"
        spans = ", ".join(f"{b} ${bands[b][0]:,.2f}–{bands[b][1]:,.2f}" for b in inside)
        reason = f"inside the {spans} span " + reason
    else:
        verdict = "inconsistent"
        reason = f"the claim is {c.value / best[2]:.2f}x the nearest P50 ({best[0]}) " + reason
    text = f"P50 {_fmt(best[2], 'USD/Mtok')} ({best[0]})"
    return ClaimCheck(c, verdict, best[2], text, tol, reason, r.model)


# ---- cost advantage ---------------------------------------------------------------------------
def _advantage_verdict(
    c: Claim, ratios: tuple[float, float, float], p_cheaper: float, where: str, reading: str
) -> ClaimCheck:
    assert c.versus is not None
    low = 1.0 - (c.high if c.high is not None else c.value)
    high = 1.0 - c.value
    p10, p50, p90 = ratios
    tol = "claimed cost-ratio band overlaps the ratio's P10–P90"
    verdict: Verdict = "consistent" if low <= p90 and high >= p10 else "inconsistent"
    reason = (
        f"{c.device} / {c.versus} $ per M output tokens {where}: P10–P90 {p10:.2f}–{p90:.2f} "
        f"(P50 {p50:.2f}); the claim is {low:.2f}–{high:.2f}; P({c.device} cheaper) = "
        f"{p_cheaper:.2f}"
    )
    return ClaimCheck(c, verdict, p50, f"ratio P50 {p50:.2f}", tol, reason, reading)


def _oriented(verdict: Any, device: str) -> tuple[tuple[float, float, float], float]:
    """The joint verdict's cost ratio as ``device`` / the other, and P(device cheapest)."""
    p10, p50, p90 = verdict.ratio_quantiles  # runner-up / winner
    if verdict.winner == device:
        return (1 / p90, 1 / p50, 1 / p10), verdict.p_cheapest[device]
    return (p10, p50, p90), verdict.p_cheapest[device]


def _check_advantage(
    c: Claim,
    model: str,
    readings: Readings,
    catalog: Catalog,
    prices: str,
    facility: str,
    seed: int,
) -> ClaimCheck:
    assert c.versus is not None
    tol = "claimed cost-ratio band overlaps the ratio's P10–P90"
    both = []
    for device in (c.device, c.versus):
        cards = c.cards or catalog.server_for(catalog.device(device)).cards_per_node
        r = readings.get(model, device, cards)
        why = unpriced(catalog, device, prices) or _unswept(r)
        if why or r.sweep is None or r.cards is None:
            return ClaimCheck(c, "not checkable", None, "—", tol, why or "", model)
        point = r.sweep.saturation_point
        tco = _tco_at(catalog, device, r.cards, point, prices, facility)
        both.append((r, priced(catalog, tco, prices=prices, facility=facility)))
    verdict = device_verdict([p for _, p in both], n=COST_DRAWS, seed=seed)
    ratios, p = _oriented(verdict, c.device)
    where = f"at saturation, priced from {prices}, on " + " vs ".join(r.where for r, _ in both)
    return _advantage_verdict(c, ratios, p, where, model)


def _check_advantage_compared(c: Claim, comparison: ComparisonResult) -> ClaimCheck | None:
    v = comparison.verdict
    if v is None or c.device not in v.devices or c.versus not in v.devices:
        return None
    ratios, p = _oriented(v, c.device)
    outs = {o.device: o.values for o in comparison.outcomes}
    where = (
        "on the clusters `accelsim compare` sizes for the scenario's load under its SLOs ("
        + ", ".join(f"{d} {outs[d].get('cards_needed')} cards" for d in (c.device, c.versus))
        + ")"
    )
    reading = f"{comparison.scenario.model}, sized under the SLOs"
    return _advantage_verdict(c, ratios, p, where, reading)


# ---- cheaper than dense ---------------------------------------------------------------------
def _saturation_cost(
    catalog: Catalog, r: Reading, prices: str, facility: str, seed: int
) -> tuple[float, float, float] | None:
    if r.sweep is None or r.cards is None:
        return None
    return _costs(catalog, r, r.sweep.saturation_point, prices, facility, seed)["output"]


def _check_dense(
    c: Claim,
    model: str,
    cards: int,
    readings: Readings,
    catalog: Catalog,
    prices: str,
    facility: str,
    seed: int,
) -> ClaimCheck:
    tol = "claimed saving between the savings against the same-active and same-total dense"
    why = unpriced(catalog, c.device, prices)
    if why:
        return ClaimCheck(c, "not checkable", None, "—", tol, why, model)
    same_total, same_active = c.dense_equivalents[model]
    rows = [(m, readings.get(m, c.device, cards)) for m in (model, same_total, same_active)]
    costs = [_saturation_cost(catalog, r, prices, facility, seed) for _, r in rows]
    if any(x is None for x in costs):
        missing = next(m for (m, _), x in zip(rows, costs, strict=True) if x is None)
        return ClaimCheck(c, "not checkable", None, "—", tol, f"no deployment of {missing}", model)
    moe, total, active = (x[1] for x in costs if x is not None)
    saving_total, saving_active = 1.0 - moe / total, 1.0 - moe / active
    low, high = sorted((saving_total, saving_active))
    verdict: Verdict = "consistent" if low <= c.value <= high else "inconsistent"
    parts = "; ".join(
        f"{m} ${x[1]:,.2f} on {r.where}" for (m, r), x in zip(rows, costs, strict=True) if x
    )
    reason = (
        f"$ per M output tokens at saturation (P50, {prices}): {parts}. {model} saves "
        f"{saving_total:.0%} against the dense model of the same total parameters and "
        f"{saving_active:+.0%} against the one of the same active parameters (negative: dearer)"
    )
    text = f"{saving_active:+.0%} to {saving_total:+.0%}"
    return ClaimCheck(c, verdict, saving_total, text, tol, reason, model)


# ---- all claims -------------------------------------------------------------------------------
def check_claims(
    claims: list[Claim],
    sc: Scenario,
    catalog: Catalog,
    *,
    comparison: ComparisonResult | None = None,
    sweeps: Mapping[str, LoadSweep] | None = None,
    prices: str = "international-2025",
    facility: str = "us-2025",
    seed: int = 0,
) -> list[ClaimCheck]:
    """Check every claim of a scenario, one ``ClaimCheck`` per reading (module docstring).

    ``sc`` is the resolved scenario, ``comparison`` ``accelsim.questions.compare.compare``'s
    result for it (for the cost-advantage claim), ``sweeps`` load sweeps already made of its
    model by device (reused where a reading runs the same deployment)."""
    readings = Readings(sc, catalog)
    for s in (sweeps or {}).values():
        readings.add_known(s)
    out: list[ClaimCheck] = []
    for c in claims:
        catalog.device(c.device)
        if c.not_checkable:
            out.append(ClaimCheck(c, "not checkable", None, "—", "—", c.not_checkable))
            continue
        models = c.readings or ([sc.model] if sc is not None else [])
        if c.kind == "peak_flops":
            out += _check_peak(c, catalog)
        elif c.kind == "cluster_cost":
            out += _check_cluster(c, catalog, facility)
        elif c.kind == "cheaper_than_dense":
            cards = c.cards or catalog.server_for(catalog.device(c.device)).cards_per_node
            for m in models:
                out.append(_check_dense(c, m, cards, readings, catalog, prices, facility, seed))
        elif c.kind == "cost_advantage":
            for m in models:
                out.append(_check_advantage(c, m, readings, catalog, prices, facility, seed))
                if m == sc.model and comparison is not None:
                    extra = _check_advantage_compared(c, comparison)
                    if extra is not None:
                        out.append(extra)
        else:
            cards = c.cards or catalog.server_for(catalog.device(c.device)).cards_per_node
            for m in models:
                r = readings.get(m, c.device, cards)
                if c.kind == "usd_per_mtok":
                    out.append(_check_cost(c, r, catalog, prices, facility, seed))
                else:
                    out.append(_check_perf(c, r, catalog))
    return out
