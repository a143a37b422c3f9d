"""The deployments a claim is checked on: load sweeps, memory fit over precisions, readings.

A *reading* of a claim is one model it may be about (a claim about "DeepSeek V4" has three: the
article's hypothetical 1.2T/120B stand-in and the real V4-Flash and V4-Pro) on one device and
card count. ``Readings.get`` resolves it once and keeps it: the precision and plan it runs at,
whether the model fits on the claimed cards, and one load sweep (``load_sweep``) that every
claim on that reading shares.

Choice of deployment: on the claimed cards, the scenario's precision when the model fits at it,
else the first supported precision that fits (``supported_presets`` order). When no precision
fits, the smallest whole-node deployment that does (``minimum_cards``; the fewest cards, the
scenario's precision first on a tie), so that the report can say what the model needs.

A load sweep simulates one replica of the plan at ``RATE_FACTORS`` x the scenario's arrival
rate, ``SWEEP_REQUESTS`` requests each (a reading's own sweep ``READING_REQUESTS``; a sweep the
report already made of the same deployment is reused). Its figures: the *saturation*
throughput (the highest output rate any swept load reaches), the *capacity* under the
scenario's SLOs (the highest output rate of a load whose p99 TTFT and TPOT meet them) and the
lowest-load p50 TTFT.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from accelsim.catalog.devices import Card
from accelsim.catalog.loader import Catalog
from accelsim.dtypes import PRESETS, Precision, precision
from accelsim.errors import AccelsimError
from accelsim.model.plan import MemoryFit, ParallelPlan, fit_best, minimum_cards
from accelsim.questions.sizing import slo_check, slo_targets
from accelsim.run.scenario import Scenario
from accelsim.run.simulate import run_scenario

__all__ = [
    "RATE_FACTORS",
    "READING_REQUESTS",
    "SWEEP_REQUESTS",
    "LoadPoint",
    "LoadSweep",
    "Reading",
    "Readings",
    "load_sweep",
    "precision_fits",
    "supported_presets",
    "sweepable",
]

#: Load sweep: multiples of the scenario's arrival rate.
RATE_FACTORS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
#: Load sweep: requests simulated per rate (the scenario's own count when smaller).
SWEEP_REQUESTS = 600
#: Requests per rate of a reading's own sweep (a small sample: a claims check runs a dozen).
READING_REQUESTS = 300


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
    input_tokens_per_s: float = 0.0


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
    model: str = ""

    @property
    def capacity_point(self) -> LoadPoint | None:
        """The point of highest output tokens/s among rates meeting the SLOs (None: none)."""
        ok = [p for p in self.points if p.meets_slo]
        return max(ok, key=lambda p: p.output_tokens_per_s) if ok else None

    @property
    def capacity(self) -> float | None:
        """Highest output tokens/s among rates meeting the SLOs (None: no rate does)."""
        point = self.capacity_point
        return point.output_tokens_per_s if point is not None else None

    @property
    def saturation_point(self) -> LoadPoint:
        """The point of highest output tokens/s of any swept rate."""
        return max(self.points, key=lambda p: p.output_tokens_per_s)

    @property
    def saturation(self) -> float:
        return self.saturation_point.output_tokens_per_s

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
    model: str | None = None,
    requests: int = SWEEP_REQUESTS,
) -> LoadSweep:
    """Simulate ``device`` with ``plan`` (one replica, over ``cards`` cards — packages, so
    ``cards * dies`` ranks) at ``RATE_FACTORS`` x the rate of resolved ``sc``, ``requests``
    requests each (fewer when the scenario has fewer); ``model`` replaces the scenario's
    model."""
    why = sweepable(sc)
    if why:
        raise AccelsimError(f"load sweep of scenario {sc.name}: {why}")
    traffic = sc.traffic_spec
    requests = min(traffic.requests or requests, requests)
    fields: dict[str, Any] = {} if dtype is None else {"dtype": dtype, "kv_dtype": None}
    if model is not None:
        fields["model"] = model
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
                input_tokens_per_s=s.throughput.input_tokens_per_s,
            )
        )
    return LoadSweep(
        device, cards, plan, dtype or sc.dtype, requests, tuple(points), model or sc.model
    )


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


# ---- readings -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Reading:
    """One model on one device and claimed card count, as checked (module docstring)."""

    model: str
    device: str
    claimed_cards: int
    fits: tuple[tuple[str, MemoryFit, int | None], ...]
    #: Whether the model fits on the claimed cards at some supported precision.
    fits_claimed: bool
    #: The deployment simulated: cards, plan and precision (None: none fits up to 8,192).
    cards: int | None
    plan: ParallelPlan | None
    dtype: str | None
    sweep: LoadSweep | None
    dies: int = 1

    @property
    def where(self) -> str:
        """``8 x ascend-910b2, tp=1,ep=8,dp=8, int8``."""
        if self.plan is None:
            return f"{self.model} on {self.device}: no deployment up to 8,192 cards"
        return f"{self.cards} x {self.device}, {self.plan.label()}, {self.dtype}"

    def shortfall_text(self) -> str:
        """Why the model does not fit on the claimed cards, precision by precision (short per
        rank: a card, or a die of a multi-die card)."""
        per = "card" if self.dies == 1 else "die"
        parts = [f"{n} short {f.shortfall / 2**30:,.0f} GiB/{per}" for n, f, _ in self.fits]
        return (
            f"{self.model} does not fit on {self.claimed_cards} x {self.device} at any "
            f"supported precision ({', '.join(parts)})"
        )


@dataclass
class Readings:
    """Every reading of a claims check, each resolved and swept once (``get``).

    ``known`` holds sweeps made elsewhere (the report's smallest deployments), reused when a
    reading runs the same deployment."""

    sc: Scenario
    catalog: Catalog
    known: dict[tuple[str, str, int, str, str], LoadSweep] = field(default_factory=dict)
    _cache: dict[tuple[str, str, int], Reading] = field(default_factory=dict)

    def add_known(self, sweep: LoadSweep) -> None:
        key = (sweep.model or self.sc.model, sweep.device, sweep.cards)
        self.known[(*key, sweep.plan.text(), sweep.dtype)] = sweep

    def get(self, model: str, device: str, cards: int) -> Reading:
        key = (model, device, cards)
        if key not in self._cache:
            self._cache[key] = self._resolve(model, device, cards)
        return self._cache[key]

    def _resolve(self, model: str, device: str, cards: int) -> Reading:
        sc, catalog = self.sc, self.catalog
        dies = catalog.device(device).dies
        fits = tuple(precision_fits(catalog, model, device, cards, sc.context))
        ok = [(n, f) for n, f, _ in fits if f.fits]
        names = [n for n, _, _ in fits]
        if ok:
            dtype, one = next(((n, f) for n, f in ok if n == sc.dtype), ok[0])
            use, plan = cards, one.plan
        else:
            least = [(m, n != sc.dtype, names.index(n), n) for n, _, m in fits if m is not None]
            if not least:
                return Reading(model, device, cards, fits, False, None, None, None, None, dies)
            use, _, _, dtype = min(least)
            card = catalog.device(device)
            server = catalog.server_for(card)
            plan = fit_best(
                catalog.model(model),
                card,
                use,
                precision(dtype),
                sc.context,
                server.scale_up_domain_cards,
            ).plan
        sweep = None
        if sweepable(sc) is None:
            sweep = self.known.get((model, device, use, plan.text(), dtype))
            if sweep is None:
                sweep = load_sweep(sc, catalog, device, plan, use, dtype, model, READING_REQUESTS)
        return Reading(model, device, cards, fits, bool(ok), use, plan, dtype, sweep, dies)
