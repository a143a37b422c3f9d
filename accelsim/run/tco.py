"""Total cost of ownership: capex, opex, $/card-hour, $/M tokens, uncertainty.

The model, in the order it is computed (all money in USD inside; results convert to the output
currency at the end with the price book's or facility's stated ``fx_per_usd``):

**Capex.**

- *Compute*: whole servers (``PriceBook.servers[server]``, a server price includes its cards and,
  as DGX/HGX quotes do, its NICs) or bare cards (``PriceBook.cards[card]``, then NICs are charged
  separately at ``nic_per_port`` x NIC ports). ``nodes = ceil(cards / cards_per_node)``; whole
  servers are bought for a partly filled last node.
- *Scale-out network* (``size_network``): ``nics_per_node = ceil(cards_per_node * nics_per_card)``
  ports per node. One node needs no switch; two nodes are cabled back to back (reference/tco.md
  [T9]: "<=2 nodes direct"). If all NIC ports fit one switch it is one switch; otherwise the
  fabric is *rail-optimized* (one plane per NIC position, ``nodes`` endpoints per plane) and each
  plane is a non-blocking folded Clos of ``radix``-port switches: ``t`` tiers serve up to
  ``radix * (radix/2)**(t-1)`` endpoints; every tier below the top has ``ceil(E / (radix/2))``
  switches, the top ``ceil(E / radix)``; every tier carries ``E`` links. Check ([T9]): 128 nodes x
  8 NICs, 64-port switches -> 2 tiers, 8 x (4 + 2) = 48 switches, 2,048 links.
  Optics are charged per link end (``optics_per_port`` x 2 x links), cables per link
  (``cable_per_port`` x links).
- *Storage*: ``storage_per_node`` x nodes. *Installation*: ``installation_fraction`` x
  (compute + network + storage).
- *Residual value*: ``residual_fraction`` of the hardware (not of installation) comes back at the
  end of the life.

**Amortization** over ``years`` (``HOURS_PER_YEAR`` = 8,766 h): ``straight_line`` charges
``(C - R) / Y`` a year; ``annuity`` charges the level payment that repays ``C`` at the cost of
capital ``r``, less the residual's present value: ``(C - R (1+r)^-Y) * r / (1 - (1+r)^-Y)``
(equal to straight line when ``r = 0``). Each capex component is amortized on its own, so the
breakdown sums exactly to the total.

**Opex per year.**

- *Energy*: card power = ``idle + utilization x (tdp - idle)`` (utilization from the simulation,
  the busy fraction of the cards, not nameplate); plus ``host_power`` per node (constant: CPUs,
  fans, NICs do not follow accelerator load, an assumption); times PUE, times the power price.
- *Colocation*: ``colocation_per_kw_month`` x 12 on the *provisioned* IT power
  (cards' TDP + host power), not on the average draw: colo contracts bill reserved kW.
- *Maintenance*: ``maintenance_fraction_per_year`` x hardware capex. *Staff/software*:
  ``staff_per_node_year`` x nodes. Network switches' own power is ignored.

**Outputs.** ``per_year`` (total cost of one cluster-year), ``per_card_hour``, ``per_day``, a
breakdown by component, and with a throughput:

- ``usd_per_mtok_output``: *all* cost divided by output tokens (DeepSeek's day-6 convention, the
  $0.52/M figure); ``usd_per_mtok_input``: all cost divided by input tokens (the prefill-pool
  view); ``usd_per_mtok_blended``: all cost divided by input + output tokens. These are three
  views of one cost, not a split: do not add them.
- ``usd_per_request`` (with a request rate), ``tokens_per_joule`` (input + output tokens per joule
  of IT energy, cards + hosts, before PUE) and ``output_tokens_per_joule``.

**Uncertainty.** Any numeric input can carry a ``Dist`` (triangular low/base/high, uniform,
lognormal, or a frozen ``scipy.stats`` distribution). ``monte_carlo`` samples all of them at once
(numpy ``Generator``, one independent stream per input name so adding a range does not move the
others' draws) and reports P10/P50/P90 of every output; ``sensitivity`` moves one input at a time
to its low and high value (the stated bounds of a triangular or uniform range, P10/P90 of a
lognormal or scipy distribution) and ranks inputs by the swing of one output (a tornado chart).
``default_ranges`` supplies documented assumption spreads (``DEFAULT_SPREADS``) and, where a
card's catalog entry lists ``alternatives`` for its TDP, a range spanning them.

Capacity planning (``size``) will call ``estimate_tco`` once per candidate deployment; the
result's ``per_year_usd`` and ``usd_per_mtok_output`` are what it minimises.
"""

from __future__ import annotations

import json
import math
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from accelsim.errors import AccelsimError
from accelsim.units import HOURS_PER_YEAR, UnitError, parse_quantity

if TYPE_CHECKING:
    import pandas as pd

    from accelsim.catalog.devices import Card, Server
    from accelsim.catalog.loader import Catalog
    from accelsim.catalog.prices import FacilityProfile, PriceBook

__all__ = [
    "AMORTIZATIONS",
    "DEFAULT_SPREADS",
    "OUTPUTS",
    "ClaimRow",
    "CostInputs",
    "Dist",
    "NetworkSizing",
    "RentalCost",
    "RunFigures",
    "SensitivityRow",
    "TcoResult",
    "TcoUncertainty",
    "cluster_cost_claim",
    "cost_inputs",
    "default_output",
    "default_ranges",
    "estimate_tco",
    "evaluate",
    "monte_carlo",
    "parse_dist",
    "read_run_summary",
    "rental_cost",
    "rental_rate",
    "sensitivity",
    "size_network",
    "unpriced",
]

AMORTIZATIONS = ("straight_line", "annuity")
MONTHS_PER_YEAR = 12.0
SECONDS_PER_YEAR = HOURS_PER_YEAR * 3600.0
DAYS_PER_YEAR = HOURS_PER_YEAR / 24.0
#: Switch radix used when the price book names a switch price but no radix (a 64-port
#: 400G InfiniBand/Ethernet switch, reference/tco.md section 2); an assumption.
DEFAULT_SWITCH_RADIX = 64


def unpriced(catalog: Any, device: str, prices: str) -> str | None:
    """Why ``prices`` cannot cost ``device`` (it prices neither the card nor its server), or
    ``None``. Callers keep their performance figures and show this reason instead of a cost."""
    book = catalog.prices(prices)
    card = catalog.device(device)
    server = catalog.server_for(card)
    if card.name in book.cards or server.name in book.servers:
        return None
    return f"price book {book.name!r} prices neither {card.name} nor its server {server.name}"


# --------------------------------------------------------------------------------------------
# Distributions
# --------------------------------------------------------------------------------------------

DistKind = Literal["fixed", "triangular", "uniform", "lognormal", "scipy"]


@dataclass(frozen=True)
class Dist:
    """A range for one input: what Monte Carlo samples and what sensitivity swings between.

    ``low``/``base``/``high`` are the swing points of ``sensitivity`` (bounds for triangular and
    uniform, P10 and P90 for lognormal and scipy distributions). ``basis`` says where the range
    comes from (``"user"``, ``"assumption: ±25%"``, ``"catalog alternatives"``).
    """

    kind: DistKind
    low: float
    base: float
    high: float
    sigma: float = 0.0
    frozen: Any = None
    basis: str = "user"

    @classmethod
    def fixed(cls, value: float, basis: str = "user") -> Dist:
        return cls("fixed", value, value, value, basis=basis)

    @classmethod
    def triangular(cls, low: float, mode: float, high: float, basis: str = "user") -> Dist:
        """Triangular on ``[low, high]`` with its peak at ``mode`` (the base value)."""
        _finite(low, mode, high)
        if not low <= mode <= high:
            raise AccelsimError(
                f"triangular range needs low <= base <= high (got {low:g}, {mode:g}, {high:g})"
            )
        return cls("triangular", float(low), float(mode), float(high), basis=basis)

    @classmethod
    def uniform(cls, low: float, high: float, basis: str = "user") -> Dist:
        _finite(low, high)
        if not low <= high:
            raise AccelsimError(f"uniform range needs low <= high (got {low:g}, {high:g})")
        return cls("uniform", float(low), (low + high) / 2.0, float(high), basis=basis)

    @classmethod
    def lognormal(cls, median: float, sigma: float, basis: str = "user") -> Dist:
        """Lognormal with ``median`` and log-space standard deviation ``sigma``."""
        _finite(median, sigma)
        if median <= 0 or sigma <= 0:
            raise AccelsimError(
                f"lognormal range needs median > 0 and sigma > 0 (got {median:g}, {sigma:g})"
            )
        z = 1.2815515655446004  # standard normal P90
        return cls(
            "lognormal",
            median * math.exp(-z * sigma),
            float(median),
            median * math.exp(z * sigma),
            sigma=float(sigma),
            basis=basis,
        )

    @classmethod
    def from_scipy(cls, frozen: Any, basis: str = "user") -> Dist:
        """A frozen ``scipy.stats`` distribution (``scipy.stats.triang(...)`` etc.)."""
        try:
            low, base, high = (float(frozen.ppf(q)) for q in (0.1, 0.5, 0.9))
        except Exception as exc:
            raise AccelsimError(f"not a usable scipy.stats distribution ({exc})") from None
        if not all(math.isfinite(v) for v in (low, base, high)):
            raise AccelsimError("scipy.stats distribution has invalid parameters (NaN quantiles)")
        return cls("scipy", low, base, high, frozen=frozen, basis=basis)

    @classmethod
    def relative(
        cls, base: float, minus: float, plus: float | None = None, basis: str = ""
    ) -> Dist:
        """Triangular ``base * (1 - minus) .. base .. base * (1 + plus)``."""
        plus = minus if plus is None else plus
        return cls.triangular(base * (1 - minus), base, base * (1 + plus), basis=basis)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` independent draws."""
        if self.kind == "fixed" or self.low == self.high:
            return np.full(n, self.base)
        if self.kind == "triangular":
            return rng.triangular(self.low, self.base, self.high, n)
        if self.kind == "uniform":
            return rng.uniform(self.low, self.high, n)
        if self.kind == "lognormal":
            return rng.lognormal(math.log(self.base), self.sigma, n)
        return np.asarray(self.frozen.rvs(size=n, random_state=rng), dtype=float)

    def describe(self) -> str:
        if self.kind == "lognormal":
            return f"lognormal(median {self.base:g}, sigma {self.sigma:g})"
        if self.kind in ("scipy",):
            return f"scipy P10/P50/P90 {self.low:g}/{self.base:g}/{self.high:g}"
        return f"{self.kind} {self.low:g} / {self.base:g} / {self.high:g}"


def _finite(*values: float) -> None:
    for v in values:
        if not isinstance(v, int | float) or not math.isfinite(v):
            raise AccelsimError(f"range bound {v!r} is not a finite number")


def parse_dist(text: str, base: float | None = None) -> Dist:
    """Read a range from text (the CLI's ``--range NAME=SPEC``).

    Forms: ``LOW:BASE:HIGH`` (triangular), ``triangular:LOW:MODE:HIGH``, ``uniform:LOW:HIGH``,
    ``lognormal:MEDIAN:SIGMA``, and ``±20%`` / ``20%`` / ``-10%:+30%`` relative to ``base``.
    """
    spec = text.strip().replace(",", "")
    parts = [p.strip() for p in spec.split(":")]
    try:
        if spec.endswith("%"):
            if base is None:
                raise AccelsimError(f"range {text!r}: a relative range needs a base value")
            pcts = [float(p.lstrip("±+-").rstrip("%")) / 100.0 for p in parts]
            if any(p < 0 for p in pcts):
                raise ValueError
            return Dist.relative(base, pcts[0], pcts[-1], basis="user")
        kind = parts[0].lower()
        if kind in ("triangular", "tri"):
            return (
                Dist.triangular(*map(float, parts[1:4]), basis="user")
                if len(parts) == 4
                else _bad_dist(text)
            )
        if kind == "uniform":
            return Dist.uniform(*map(float, parts[1:3])) if len(parts) == 3 else _bad_dist(text)
        if kind == "lognormal":
            return Dist.lognormal(*map(float, parts[1:3])) if len(parts) == 3 else _bad_dist(text)
        if len(parts) == 3:
            return Dist.triangular(*map(float, parts))
    except ValueError:
        pass
    return _bad_dist(text)


def _bad_dist(text: str) -> Dist:
    raise AccelsimError(
        f"range {text!r}: expected LOW:BASE:HIGH, uniform:LOW:HIGH, lognormal:MEDIAN:SIGMA or ±PCT%"
    )


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------

#: Bounds of the inputs that may carry a range: (lower, upper); None = unbounded.
_BOUNDS: dict[str, tuple[float | None, float | None]] = {
    "card_price": (0.0, None),
    "server_price": (0.0, None),
    "nic_price": (0.0, None),
    "switch_price": (0.0, None),
    "optics_per_port": (0.0, None),
    "cable_per_port": (0.0, None),
    "storage_per_node": (0.0, None),
    "installation_fraction": (0.0, 1.0),
    "idle_power_w": (0.0, None),
    "tdp_w": (0.0, None),
    "host_power_w": (0.0, None),
    "utilization": (0.0, 1.0),
    "pue": (1.0, 3.0),
    "power_price_per_kwh": (0.0, None),
    "colocation_per_kw_month": (0.0, None),
    "years": (1e-9, None),
    "residual_fraction": (0.0, 1.0),
    "maintenance_fraction_per_year": (0.0, 1.0),
    "staff_per_node_year": (0.0, None),
    "cost_of_capital": (0.0, 1.0),
    "output_tokens_per_s": (0.0, None),
    "input_tokens_per_s": (0.0, None),
    "requests_per_s": (0.0, None),
}
#: The inputs a ``Dist`` may be attached to (the continuous ones).
UNCERTAIN_INPUTS = tuple(_BOUNDS)

_LABELS = {
    "card_price": "card price",
    "server_price": "server price",
    "nic_price": "NIC price per port",
    "switch_price": "switch price",
    "optics_per_port": "optics per port",
    "cable_per_port": "cable per link",
    "storage_per_node": "storage per node",
    "installation_fraction": "installation fraction",
    "idle_power_w": "card idle power (W)",
    "tdp_w": "card TDP (W)",
    "host_power_w": "host power per node (W)",
    "utilization": "utilization",
    "pue": "PUE",
    "power_price_per_kwh": "power price per kWh",
    "colocation_per_kw_month": "colocation per kW-month",
    "years": "life (years)",
    "residual_fraction": "residual fraction",
    "maintenance_fraction_per_year": "maintenance per year",
    "staff_per_node_year": "staff per node-year",
    "cost_of_capital": "cost of capital",
    "output_tokens_per_s": "output tokens/s",
    "input_tokens_per_s": "input tokens/s",
    "requests_per_s": "requests/s",
}


@dataclass(frozen=True)
class CostInputs:
    """Every number the cost model uses, resolved; money in USD, power in watts.

    Build one by hand (tests, notebooks) or with ``cost_inputs(catalog, ...)``. ``ranges`` maps
    input names (``UNCERTAIN_INPUTS``) to a ``Dist``; the point estimate always uses the plain
    field value. ``server_price`` (per node, cards included) wins over ``card_price`` when set.
    ``notes`` records the choices made while resolving (which price, which assumption).
    """

    cards: int
    cards_per_node: int = 8
    card_price: float = 0.0
    server_price: float | None = None
    nics_per_card: float = 1.0
    nic_price: float = 0.0
    nics_in_server_price: bool = True
    switch_price: float = 0.0
    switch_radix: int = DEFAULT_SWITCH_RADIX
    optics_per_port: float = 0.0
    cable_per_port: float = 0.0
    storage_per_node: float = 0.0
    installation_fraction: float = 0.0
    idle_power_w: float = 0.0
    tdp_w: float = 0.0
    host_power_w: float = 0.0
    utilization: float = 1.0
    pue: float = 1.0
    power_price_per_kwh: float = 0.0
    colocation_per_kw_month: float = 0.0
    years: float = 4.0
    residual_fraction: float = 0.0
    maintenance_fraction_per_year: float = 0.0
    staff_per_node_year: float = 0.0
    cost_of_capital: float = 0.0
    amortization: str = "straight_line"
    output_tokens_per_s: float | None = None
    input_tokens_per_s: float | None = None
    requests_per_s: float | None = None
    rental_per_card_hour: float | None = None
    device: str = ""
    prices: str = ""
    facility: str = ""
    ranges: Mapping[str, Dist] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.cards, int) or self.cards < 1:
            raise AccelsimError(f"cards must be a positive whole number (got {self.cards!r})")
        if not isinstance(self.cards_per_node, int) or self.cards_per_node < 1:
            raise AccelsimError(
                f"cards_per_node must be a positive whole number (got {self.cards_per_node!r})"
            )
        if not isinstance(self.switch_radix, int) or self.switch_radix < 2:
            raise AccelsimError(
                f"switch radix must be a whole number >= 2 (got {self.switch_radix!r})"
            )
        if self.nics_per_card < 0:
            raise AccelsimError(f"nics_per_card cannot be negative (got {self.nics_per_card:g})")
        if self.amortization not in AMORTIZATIONS:
            raise AccelsimError(
                f"amortization {self.amortization!r}: expected one of {', '.join(AMORTIZATIONS)}"
            )
        for name in UNCERTAIN_INPUTS:
            value = getattr(self, name)
            if value is not None:
                _check_bounds(name, value)
        if self.tdp_w < self.idle_power_w:
            raise AccelsimError(f"idle power {self.idle_power_w:g} W exceeds TDP {self.tdp_w:g} W")
        if self.rental_per_card_hour is not None and self.rental_per_card_hour < 0:
            raise AccelsimError("rental price per card-hour cannot be negative")
        for name, dist in self.ranges.items():
            if name not in _BOUNDS:
                raise AccelsimError(
                    f"range for unknown input {name!r} (inputs that take a range: "
                    f"{', '.join(UNCERTAIN_INPUTS)})"
                )
            if not isinstance(dist, Dist):
                raise AccelsimError(f"range for {name!r} is not a Dist")
            if dist.kind in ("triangular", "uniform", "fixed"):
                _check_bounds(name, dist.low, what="range low")
                _check_bounds(name, dist.high, what="range high")
            if getattr(self, name) is None:
                raise AccelsimError(f"range for {name!r}, but it has no base value")

    @property
    def nodes(self) -> int:
        return math.ceil(self.cards / self.cards_per_node)

    @property
    def nics_per_node(self) -> int:
        return math.ceil(self.cards_per_node * self.nics_per_card - 1e-9)

    def with_ranges(self, ranges: Mapping[str, Dist]) -> CostInputs:
        """A copy whose ``ranges`` are extended (and overridden) by ``ranges``."""
        return replace(self, ranges={**self.ranges, **ranges})

    def base_values(self) -> dict[str, float]:
        """The continuous inputs as floats (None -> 0.0 except ``server_price``)."""
        out = {}
        for name in UNCERTAIN_INPUTS:
            value = getattr(self, name)
            out[name] = float(value) if value is not None else 0.0
        return out


def _check_bounds(name: str, value: float, what: str = "") -> None:
    label = _LABELS.get(name, name) + (f" {what}" if what else "")
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise AccelsimError(f"{label}: {value!r} is not a finite number")
    lo, hi = _BOUNDS[name]
    if name == "years" and value <= 0:
        raise AccelsimError(f"{label} must be positive (got {value:g})")
    if lo is not None and value < lo:
        if lo == 0.0:
            raise AccelsimError(f"{label} cannot be negative (got {value:g})")
        raise AccelsimError(f"{label} must be at least {lo:g} (got {value:g})")
    if hi is not None and value > hi:
        raise AccelsimError(f"{label} must be between {lo:g} and {hi:g} (got {value:g})")


# --------------------------------------------------------------------------------------------
# Network sizing
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NetworkSizing:
    """The scale-out fabric for ``nodes`` nodes (see the module docstring for the rule)."""

    nodes: int
    nics_per_node: int
    radix: int
    tiers: int
    switches: int
    links: int
    topology: str

    @property
    def nic_ports(self) -> int:
        return self.nodes * self.nics_per_node


def size_network(
    nodes: int, nics_per_node: int, radix: int = DEFAULT_SWITCH_RADIX
) -> NetworkSizing:
    """Switch tiers, switch count and link count of a rail-optimized non-blocking Clos."""
    if nodes < 1 or nics_per_node < 0 or radix < 2:
        raise AccelsimError(
            f"network: need nodes >= 1, NICs >= 0, radix >= 2 (got {nodes}, {nics_per_node}, "
            f"{radix})"
        )
    ports = nodes * nics_per_node
    if nodes == 1 or nics_per_node == 0:
        return NetworkSizing(nodes, nics_per_node, radix, 0, 0, 0, "single node")
    if nodes == 2:
        return NetworkSizing(nodes, nics_per_node, radix, 0, 0, nics_per_node, "back to back")
    if ports <= radix:
        return NetworkSizing(nodes, nics_per_node, radix, 1, 1, ports, "one switch")
    half = radix // 2
    endpoints = nodes  # per rail plane
    tiers, capacity = 1, radix
    while endpoints > capacity:
        tiers += 1
        capacity *= half
        if tiers > 6:
            raise AccelsimError(
                f"network: {nodes} nodes need more than 6 tiers of {radix}-port switches"
            )
    per_plane = (tiers - 1) * math.ceil(endpoints / half) + math.ceil(endpoints / radix)
    return NetworkSizing(
        nodes,
        nics_per_node,
        radix,
        tiers,
        per_plane * nics_per_node,
        tiers * endpoints * nics_per_node,
        f"rail-optimized, {tiers}-tier Clos",
    )


# --------------------------------------------------------------------------------------------
# The vectorized core
# --------------------------------------------------------------------------------------------

#: Every output of ``evaluate``: key -> (label, unit). Money keys are USD.
OUTPUTS: dict[str, tuple[str, str]] = {
    "capex_compute": ("capex: cards/servers", "USD"),
    "capex_network": ("capex: network", "USD"),
    "capex_storage": ("capex: storage", "USD"),
    "capex_installation": ("capex: installation", "USD"),
    "capex": ("capex total", "USD"),
    "residual": ("residual value", "USD"),
    "amortization_compute": ("cards/servers (amortized)", "USD/yr"),
    "amortization_network": ("network (amortized)", "USD/yr"),
    "amortization_storage": ("storage (amortized)", "USD/yr"),
    "amortization_installation": ("installation (amortized)", "USD/yr"),
    "energy": ("energy", "USD/yr"),
    "colocation": ("colocation", "USD/yr"),
    "maintenance": ("maintenance", "USD/yr"),
    "staff": ("staff/software", "USD/yr"),
    "per_year": ("cost per cluster-year", "USD/yr"),
    "per_day": ("cost per day", "USD/day"),
    "per_card_hour": ("cost per card-hour", "USD/card-h"),
    "it_power_w": ("average IT power", "W"),
    "facility_power_w": ("average facility power", "W"),
    "provisioned_power_w": ("provisioned IT power", "W"),
    "usd_per_mtok_output": ("per M output tokens (all cost)", "USD/Mtok"),
    "usd_per_mtok_input": ("per M input tokens (all cost)", "USD/Mtok"),
    "usd_per_mtok_blended": ("per M tokens, input+output", "USD/Mtok"),
    "usd_per_request": ("per request", "USD/req"),
    "tokens_per_joule": ("tokens per joule (IT)", "tok/J"),
    "output_tokens_per_joule": ("output tokens per joule (IT)", "tok/J"),
}
#: The yearly components that sum to ``per_year`` (the cost breakdown).
BREAKDOWN = (
    "amortization_compute",
    "amortization_network",
    "amortization_storage",
    "amortization_installation",
    "energy",
    "colocation",
    "maintenance",
    "staff",
)
_MONEY_UNITS = ("USD", "USD/yr", "USD/day", "USD/card-h", "USD/Mtok", "USD/req")


@dataclass(frozen=True)
class _Fixed:
    """The discrete part of the inputs (never sampled)."""

    cards: int
    nodes: int
    network: NetworkSizing
    use_server_price: bool
    charge_nics: bool
    annuity: bool
    has_output: bool
    has_input: bool
    has_requests: bool


def _fixed(inputs: CostInputs) -> _Fixed:
    use_server = inputs.server_price is not None
    return _Fixed(
        cards=inputs.cards,
        nodes=inputs.nodes,
        network=size_network(inputs.nodes, inputs.nics_per_node, inputs.switch_radix),
        use_server_price=use_server,
        charge_nics=not (use_server and inputs.nics_in_server_price),
        annuity=inputs.amortization == "annuity",
        has_output=bool(inputs.output_tokens_per_s),
        has_input=bool(inputs.input_tokens_per_s),
        has_requests=bool(inputs.requests_per_s),
    )


def _amortize(capex: Any, residual: Any, years: Any, rate: Any, annuity: bool) -> Any:
    """Yearly charge for ``capex`` returning ``residual`` after ``years``."""
    if not annuity:
        return (capex - residual) / years
    r = np.maximum(rate, 1e-12)
    discount = np.exp(-years * np.log1p(r))  # (1 + r) ** -years
    return (capex - residual * discount) * r / -np.expm1(-years * np.log1p(r))


def _core(v: Mapping[str, Any], fx: _Fixed) -> dict[str, Any]:
    """All outputs from input values (floats or equal-length arrays); USD."""
    cards, nodes, net = fx.cards, fx.nodes, fx.network
    compute = v["server_price"] * nodes if fx.use_server_price else v["card_price"] * cards
    nics = v["nic_price"] * net.nic_ports if fx.charge_nics else 0.0
    network = (
        nics
        + v["switch_price"] * net.switches
        + v["optics_per_port"] * 2 * net.links
        + v["cable_per_port"] * net.links
    )
    storage = v["storage_per_node"] * nodes
    hardware = compute + network + storage
    installation = v["installation_fraction"] * hardware
    capex = hardware + installation
    res = v["residual_fraction"]
    years, rate = v["years"], v["cost_of_capital"]
    out: dict[str, Any] = {
        "capex_compute": compute + 0.0 * years,
        "capex_network": network + 0.0 * years,
        "capex_storage": storage + 0.0 * years,
        "capex_installation": installation + 0.0 * years,
        "capex": capex,
        "residual": res * hardware,
    }
    for key, amount in (("compute", compute), ("network", network), ("storage", storage)):
        out[f"amortization_{key}"] = _amortize(amount, res * amount, years, rate, fx.annuity)
    out["amortization_installation"] = _amortize(installation, 0.0, years, rate, fx.annuity)

    card_w = v["idle_power_w"] + v["utilization"] * (v["tdp_w"] - v["idle_power_w"])
    it_w = cards * card_w + nodes * v["host_power_w"]
    provisioned_w = cards * v["tdp_w"] + nodes * v["host_power_w"]
    out["it_power_w"] = it_w
    out["facility_power_w"] = it_w * v["pue"]
    out["provisioned_power_w"] = provisioned_w
    out["energy"] = it_w / 1000.0 * v["pue"] * HOURS_PER_YEAR * v["power_price_per_kwh"]
    out["colocation"] = provisioned_w / 1000.0 * v["colocation_per_kw_month"] * MONTHS_PER_YEAR
    out["maintenance"] = v["maintenance_fraction_per_year"] * hardware
    out["staff"] = v["staff_per_node_year"] * nodes + 0.0 * years
    per_year = sum(out[k] for k in BREAKDOWN)
    out["per_year"] = per_year
    out["per_day"] = per_year / DAYS_PER_YEAR
    out["per_card_hour"] = per_year / (cards * HOURS_PER_YEAR)
    per_s = per_year / SECONDS_PER_YEAR
    nan = math.nan
    tok_out, tok_in = v["output_tokens_per_s"], v["input_tokens_per_s"]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["usd_per_mtok_output"] = per_s / tok_out * 1e6 if fx.has_output else nan
        out["usd_per_mtok_input"] = per_s / tok_in * 1e6 if fx.has_input else nan
        tokens = tok_out + tok_in
        any_tokens = fx.has_output or fx.has_input
        both = fx.has_output and fx.has_input
        out["usd_per_mtok_blended"] = per_s / tokens * 1e6 if both else nan
        out["usd_per_request"] = per_s / v["requests_per_s"] if fx.has_requests else nan
        out["tokens_per_joule"] = tokens / it_w if any_tokens else nan
        out["output_tokens_per_joule"] = tok_out / it_w if fx.has_output else nan
    return out


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


def _convert(key: str, value: float, fx_per_usd: float) -> float:
    return value * fx_per_usd if OUTPUTS[key][1] in _MONEY_UNITS else value


@dataclass(frozen=True)
class TcoResult:
    """The point estimate of one deployment's cost. Values are USD inside; ``currency`` and
    ``fx_per_usd`` say how ``as_dict``/``to_frame``/``value`` present money."""

    inputs: CostInputs
    values: Mapping[str, float]
    network: NetworkSizing
    currency: str = "USD"
    fx_per_usd: float = 1.0

    # -- headline figures (USD) -----------------------------------------------------------
    @property
    def per_card_hour_usd(self) -> float:
        return self.values["per_card_hour"]

    @property
    def per_year_usd(self) -> float:
        return self.values["per_year"]

    @property
    def per_day_usd(self) -> float:
        return self.values["per_day"]

    @property
    def capex_usd(self) -> float:
        return self.values["capex"]

    @property
    def usd_per_mtok_output(self) -> float:
        return self.values["usd_per_mtok_output"]

    @property
    def usd_per_mtok_input(self) -> float:
        return self.values["usd_per_mtok_input"]

    @property
    def usd_per_mtok_blended(self) -> float:
        return self.values["usd_per_mtok_blended"]

    @property
    def usd_per_request(self) -> float:
        return self.values["usd_per_request"]

    @property
    def tokens_per_joule(self) -> float:
        return self.values["tokens_per_joule"]

    @property
    def breakdown(self) -> dict[str, float]:
        """USD per year by component; sums to ``per_year_usd``."""
        return {k: self.values[k] for k in BREAKDOWN}

    @property
    def capex_breakdown(self) -> dict[str, float]:
        return {
            k: self.values[k]
            for k in ("capex_compute", "capex_network", "capex_storage", "capex_installation")
        }

    def value(self, key: str) -> float:
        """Output ``key`` in the result's currency (money) or its own unit."""
        if key not in OUTPUTS:
            raise AccelsimError(f"unknown TCO output {key!r} (known: {', '.join(OUTPUTS)})")
        return _convert(key, self.values[key], self.fx_per_usd)

    def unit(self, key: str) -> str:
        return OUTPUTS[key][1].replace("USD", self.currency)

    def in_currency(self, currency: str, fx_per_usd: float) -> TcoResult:
        return replace(self, currency=currency, fx_per_usd=fx_per_usd)

    def rental(self, hours: float = 24.0) -> RentalCost | None:
        """The same cards rented at the price book's rate (None when no rate is known)."""
        rate = self.inputs.rental_per_card_hour
        if rate is None:
            return None
        return rental_cost(
            rate,
            self.inputs.cards,
            hours=hours,
            output_tokens_per_s=self.inputs.output_tokens_per_s,
            input_tokens_per_s=self.inputs.input_tokens_per_s,
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: outputs in ``currency`` (NaN outputs omitted), inputs, network, notes."""
        outputs = {}
        for key in OUTPUTS:
            val = self.value(key)
            if not math.isnan(val):
                outputs[key] = val
        rental = self.rental()
        return {
            "currency": self.currency,
            "fx_per_usd": self.fx_per_usd,
            "device": self.inputs.device,
            "prices": self.inputs.prices,
            "facility": self.inputs.facility,
            "cards": self.inputs.cards,
            "nodes": self.inputs.nodes,
            "amortization": self.inputs.amortization,
            "outputs": outputs,
            "breakdown": {k: self.value(k) for k in BREAKDOWN},
            "network": {
                "tiers": self.network.tiers,
                "switches": self.network.switches,
                "links": self.network.links,
                "nic_ports": self.network.nic_ports,
                "radix": self.network.radix,
                "topology": self.network.topology,
            },
            "inputs": _inputs_dict(self.inputs),
            "rental": rental.as_dict() if rental else None,
            "notes": list(self.inputs.notes),
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per output: ``output``, ``label``, ``value``, ``unit``."""
        import pandas as pd

        rows = [
            {"output": k, "label": OUTPUTS[k][0], "value": self.value(k), "unit": self.unit(k)}
            for k in OUTPUTS
        ]
        return pd.DataFrame(rows)

    def monte_carlo(
        self, n: int = 2000, seed: int = 0, ranges: Mapping[str, Dist] | None = None
    ) -> TcoUncertainty:
        """P10/P50/P90 of every output; ranges default to the inputs' own, else
        ``default_ranges``."""
        out = monte_carlo(self.inputs, n, seed, ranges)
        return replace(out, currency=self.currency, fx_per_usd=self.fx_per_usd)

    def sensitivity(
        self, output: str | None = None, ranges: Mapping[str, Dist] | None = None
    ) -> list[SensitivityRow]:
        return sensitivity(self.inputs, output, ranges)


def _inputs_dict(inputs: CostInputs) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(inputs):
        if f.name in ("ranges", "notes"):
            continue
        out[f.name] = getattr(inputs, f.name)
    out["ranges"] = {
        k: d.describe() + (f" ({d.basis})" if d.basis else "")
        for k, d in sorted(inputs.ranges.items())
    }
    return out


def evaluate(inputs: CostInputs, currency: str = "USD", fx_per_usd: float = 1.0) -> TcoResult:
    """The point estimate for resolved ``inputs``."""
    fx = _fixed(inputs)
    raw = _core({k: np.float64(v) for k, v in inputs.base_values().items()}, fx)
    values = {k: float(raw[k]) for k in OUTPUTS}
    return TcoResult(inputs, values, fx.network, currency, fx_per_usd)


@dataclass(frozen=True)
class TcoUncertainty:
    """Monte Carlo percentiles of every output (USD inside, like ``TcoResult``)."""

    n: int
    seed: int
    ranges: Mapping[str, Dist]
    quantiles: Mapping[str, tuple[float, float, float]]
    samples: Mapping[str, np.ndarray] = field(repr=False, default_factory=dict)
    currency: str = "USD"
    fx_per_usd: float = 1.0

    def _q(self, i: int) -> dict[str, float]:
        return {k: _convert(k, q[i], self.fx_per_usd) for k, q in self.quantiles.items()}

    @property
    def p10(self) -> dict[str, float]:
        return self._q(0)

    @property
    def p50(self) -> dict[str, float]:
        return self._q(1)

    @property
    def p90(self) -> dict[str, float]:
        return self._q(2)

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "seed": self.seed,
            "currency": self.currency,
            "ranges": {
                k: {"dist": d.describe(), "basis": d.basis} for k, d in sorted(self.ranges.items())
            },
            "percentiles": {
                k: {"p10": p10, "p50": p50, "p90": p90}
                for k, (p10, p50, p90) in zip(
                    self.quantiles,
                    zip(self.p10.values(), self.p50.values(), self.p90.values(), strict=True),
                    strict=True,
                )
                if not math.isnan(p50)
            },
        }

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        p10, p50, p90 = self.p10, self.p50, self.p90
        return pd.DataFrame(
            [
                {
                    "output": k,
                    "label": OUTPUTS[k][0],
                    "p10": p10[k],
                    "p50": p50[k],
                    "p90": p90[k],
                    "unit": OUTPUTS[k][1].replace("USD", self.currency),
                }
                for k in self.quantiles
            ]
        )


@dataclass(frozen=True)
class SensitivityRow:
    """One bar of a tornado chart: ``output`` with ``input`` at its low and its high value."""

    input: str
    low_output: float
    high_output: float
    low_input: float
    high_input: float
    base_output: float

    @property
    def swing(self) -> float:
        return abs(self.high_output - self.low_output)

    @property
    def label(self) -> str:
        return _LABELS.get(self.input, self.input)


#: Assumption spreads of ``default_ranges`` (relative minus, plus, and why). They are modelling
#: assumptions, not sourced ranges; a user range or a catalog range replaces them.
DEFAULT_SPREADS: dict[str, tuple[float, float, str]] = {
    "card_price": (
        0.25,
        0.25,
        "assumption ±25%: card street prices moved 2-3x within a year "
        "(reference/tco.md); A100 80GB $10k-15k is ±20% around $12.5k",
    ),
    "server_price": (0.25, 0.25, "assumption ±25%, as card prices"),
    "nic_price": (
        0.3,
        0.3,
        "assumption ±30%: network list vs third-party prices (T9: $36k vs $50k)",
    ),
    "switch_price": (0.3, 0.3, "assumption ±30%: FS.com $36k vs NVIDIA ~$50k 64-port (T9)"),
    "optics_per_port": (0.3, 0.3, "assumption ±30%: OSFP $500-1,000 (T25)"),
    "cable_per_port": (0.3, 0.3, "assumption ±30%"),
    "storage_per_node": (0.5, 0.5, "assumption ±50%: no solid storage figure (tco.md section 2)"),
    "installation_fraction": (0.5, 0.5, "assumption ±50%: hidden costs +10-15% (T20)"),
    "tdp_w": (0.1, 0.1, "assumption ±10% (no catalog alternatives)"),
    "host_power_w": (0.25, 0.25, "assumption ±25%: host power is a placeholder (hardware.md)"),
    "utilization": (0.2, 0.2, "assumption ±20% of the simulated busy fraction, capped at 1"),
    "pue": (0.1, 0.15, "assumption -10%/+15%: new AI halls 1.1-1.3, survey average 1.58 (T6)"),
    "power_price_per_kwh": (0.25, 0.5, "assumption -25%/+50%: TCO band $0.06-0.12/kWh (T20)"),
    "colocation_per_kw_month": (0.2, 0.35, "assumption -20%/+35%: $150-250/kW-month (T20, T7)"),
    "years": (0.25, 0.5, "assumption -25%/+50%: 3 to 6 years around 4 (tco.md section 4)"),
    "maintenance_fraction_per_year": (0.5, 0.5, "assumption ±50%"),
    "staff_per_node_year": (0.5, 0.5, "assumption ±50%"),
    "cost_of_capital": (0.5, 0.5, "assumption ±50%"),
    "output_tokens_per_s": (0.15, 0.15, "assumption ±15% on the simulated throughput"),
    "input_tokens_per_s": (0.15, 0.15, "assumption ±15% on the simulated throughput"),
}


def _clip_dist(name: str, dist: Dist) -> Dist:
    """Clip a triangular range to the input's bounds (utilization <= 1, PUE >= 1)."""
    lo, hi = _BOUNDS[name]
    low, high, base = dist.low, dist.high, dist.base
    if lo is not None:
        low = max(low, lo)
    if hi is not None:
        high = min(high, hi)
    base = min(max(base, low), high)
    return replace(dist, low=low, high=high, base=base)


def default_ranges(inputs: CostInputs, card: Card | None = None) -> dict[str, Dist]:
    """Documented default ranges for the inputs that have a non-zero base value.

    The TDP range spans the card's catalog ``alternatives`` when it lists any (e.g. 910B: 310 W
    vs 400 W); every other range is ``DEFAULT_SPREADS`` (relative, triangular around the base).
    The server price replaces the card price when set (only the one in use is ranged).
    """
    out: dict[str, Dist] = {}
    for name, (minus, plus, why) in DEFAULT_SPREADS.items():
        if name == "card_price" and inputs.server_price is not None:
            continue
        if name == "server_price" and inputs.server_price is None:
            continue
        if name == "nic_price" and inputs.server_price is not None and inputs.nics_in_server_price:
            continue
        base = getattr(inputs, name)
        if not base:
            continue
        out[name] = _clip_dist(name, Dist.relative(float(base), minus, plus, basis=why))
    if card is not None and inputs.tdp_w:
        alts = _alternative_values(card, "tdp", "power")
        if alts:
            values = [inputs.tdp_w, *alts]
            low, high = min(values), max(values)
            if low >= inputs.idle_power_w and low < high:
                out["tdp_w"] = Dist.triangular(
                    low,
                    inputs.tdp_w,
                    high,
                    basis=f"catalog alternatives of {card.name} tdp: "
                    + ", ".join(f"{a:g} W" for a in alts),
                )
    return out


def _alternative_values(entry: Any, field_name: str, dimension: str) -> list[float]:
    prov = entry.source_of(field_name) if hasattr(entry, "source_of") else None
    values = []
    for alt in getattr(prov, "alternatives", ()) or ():
        m = re.match(r"\s*([0-9][0-9.,]*\s*[A-Za-z/]+)", alt)
        if not m:
            continue
        try:
            values.append(parse_quantity(m.group(1), dimension))
        except UnitError:
            continue
    return values


_ALT = re.compile(
    r"^\s*[~≈]?\s*(?:(?P<pre>USD|CNY|EUR)\s*)?(?P<a>[0-9][0-9,]*(?:\.[0-9]+)?)\s*(?P<ak>[kM])?"
    r"(?:\s*[-–]\s*(?P<b>[0-9][0-9,]*(?:\.[0-9]+)?)\s*(?P<bk>[kM])?)?\s*(?P<post>USD|CNY|EUR)?"
    r"(?=\s|\(|$|,)"
)
_SCALE = {None: 1.0, "k": 1e3, "M": 1e6}


def alternative_numbers(
    text: str, currency: str | None = None, fx_per_usd: float | None = None
) -> list[float]:
    """Numbers a catalog ``alternatives`` entry states: ``"10000-15000 (T23)"`` -> [1e4, 1.5e4],
    ``"~30000 MSRP"`` -> [3e4], ``"USD 12,000-15,000"`` in a CNY book -> converted with
    ``fx_per_usd``. Entries that do not start with a number (or name a currency that cannot be
    converted) give nothing."""
    m = _ALT.match(text)
    if not m:
        return []
    named = m.group("pre") or m.group("post")
    factor = 1.0
    if named is not None and currency is not None and named != currency:
        if named == "USD" and fx_per_usd:
            factor = fx_per_usd
        else:
            return []
    out = [float(m.group("a").replace(",", "")) * _SCALE[m.group("ak")] * factor]
    if m.group("b"):
        out.append(float(m.group("b").replace(",", "")) * _SCALE[m.group("bk")] * factor)
    return out


def catalog_range(entry: Any, path: str, base: float, scale: float = 1.0) -> Dist | None:
    """A triangular range spanning ``base`` and the ``alternatives`` of ``entry``'s field
    ``path`` (each divided by ``scale``, e.g. the book's FX rate); None without alternatives."""
    prov = entry.provenance.get(path) if hasattr(entry, "provenance") else None
    if prov is None or not prov.alternatives:
        return None
    currency = getattr(entry, "currency", None)
    fx = getattr(entry, "fx_per_usd", None)
    found = []
    for alt in prov.alternatives:
        found.extend(alternative_numbers(alt, currency, fx))
    values = [v / scale for v in found]
    if not values:
        return None
    low, high = min(base, *values), max(base, *values)
    if low == high:
        return None
    shown = "; ".join(prov.alternatives)
    return Dist.triangular(
        low, base, high, basis=f"catalog alternatives of {entry.name} {path}: {shown}"
    )


def _effective_ranges(inputs: CostInputs, ranges: Mapping[str, Dist] | None) -> dict[str, Dist]:
    if ranges is not None:
        chosen = dict(ranges)
    elif inputs.ranges:
        chosen = dict(inputs.ranges)
    else:
        chosen = default_ranges(inputs)
    if ranges is not None:
        replace(inputs, ranges=chosen)  # validates names and bounds
    return chosen


def monte_carlo(
    inputs: CostInputs, n: int = 2000, seed: int = 0, ranges: Mapping[str, Dist] | None = None
) -> TcoUncertainty:
    """Sample every ranged input ``n`` times and report P10/P50/P90 of each output.

    Ranges: ``ranges`` if given, else ``inputs.ranges``, else ``default_ranges(inputs)``. Each
    input draws from its own stream ``SeedSequence(seed, spawn_key=(crc32(name),))``, so results
    are identical for a seed and one input's draws do not depend on which others are ranged.
    Samples are clipped to each input's bounds (a lognormal utilization stays <= 1).
    """
    if not isinstance(n, int) or n < 1:
        raise AccelsimError(f"Monte Carlo needs a positive number of draws (got {n!r})")
    chosen = _effective_ranges(inputs, ranges)
    fx = _fixed(inputs)
    values: dict[str, Any] = dict(inputs.base_values())
    for name in sorted(chosen):
        ss = np.random.SeedSequence(seed, spawn_key=(zlib.crc32(name.encode()),))
        draws = chosen[name].sample(np.random.default_rng(ss), n)
        lo, hi = _BOUNDS[name]
        values[name] = np.clip(
            draws, lo if lo is not None else -np.inf, hi if hi is not None else np.inf
        )
    if "tdp_w" in chosen or "idle_power_w" in chosen:
        values["idle_power_w"] = np.minimum(values["idle_power_w"], values["tdp_w"])
    raw = _core(values, fx)
    quantiles: dict[str, tuple[float, float, float]] = {}
    samples: dict[str, np.ndarray] = {}
    for key in OUTPUTS:
        arr = np.broadcast_to(np.asarray(raw[key], dtype=float), (n,))
        samples[key] = arr
        if np.isnan(arr).all():
            quantiles[key] = (math.nan, math.nan, math.nan)
        else:
            p = np.percentile(arr, [10, 50, 90])
            quantiles[key] = (float(p[0]), float(p[1]), float(p[2]))
    return TcoUncertainty(n, seed, chosen, quantiles, samples)


def default_output(inputs: CostInputs) -> str:
    """The output sensitivity ranks by: $/M output tokens, else $/M input, else $/card-hour."""
    if inputs.output_tokens_per_s:
        return "usd_per_mtok_output"
    if inputs.input_tokens_per_s:
        return "usd_per_mtok_input"
    return "per_card_hour"


def sensitivity(
    inputs: CostInputs, output: str | None = None, ranges: Mapping[str, Dist] | None = None
) -> list[SensitivityRow]:
    """One-at-a-time swings of ``output`` (default $/M output tokens, else $/card-hour),
    largest first: each ranged input at its low and its high value, the others at base."""
    output = output or default_output(inputs)
    if output not in OUTPUTS:
        raise AccelsimError(f"unknown TCO output {output!r} (known: {', '.join(OUTPUTS)})")
    chosen = _effective_ranges(inputs, ranges)
    names = sorted(chosen)
    if not names:
        return []
    base = inputs.base_values()
    m = len(names)
    values: dict[str, Any] = {k: np.full(2 * m + 1, v) for k, v in base.items()}
    for i, name in enumerate(names):
        values[name][2 * i] = chosen[name].low
        values[name][2 * i + 1] = chosen[name].high
    values["idle_power_w"] = np.minimum(values["idle_power_w"], values["tdp_w"])
    res = np.broadcast_to(
        np.asarray(_core(values, _fixed(inputs))[output], dtype=float), (2 * m + 1,)
    )
    rows = [
        SensitivityRow(
            name,
            float(res[2 * i]),
            float(res[2 * i + 1]),
            chosen[name].low,
            chosen[name].high,
            float(res[-1]),
        )
        for i, name in enumerate(names)
    ]
    rows.sort(key=lambda r: (-r.swing if not math.isnan(r.swing) else 0.0, r.input))
    return rows


# --------------------------------------------------------------------------------------------
# From the catalog
# --------------------------------------------------------------------------------------------


def _fx(entry: PriceBook | FacilityProfile) -> float:
    """Units of the entry's currency per USD (1.0 for USD)."""
    if entry.currency == "USD":
        return 1.0
    if not entry.fx_per_usd:
        raise AccelsimError(
            f"{entry.name}: amounts are in {entry.currency} but it states no fx_per_usd"
        )
    return float(entry.fx_per_usd)


def output_fx(currency: str, *entries: Any, fx_per_usd: float | None = None) -> float:
    """Units of ``currency`` per USD, from an explicit rate or the first entry in that currency."""
    currency = currency.upper()
    if currency == "USD":
        return 1.0
    if fx_per_usd is not None:
        if not fx_per_usd > 0:
            raise AccelsimError(f"fx_per_usd must be positive (got {fx_per_usd:g})")
        return float(fx_per_usd)
    for entry in entries:
        if entry is not None and entry.currency == currency and entry.fx_per_usd:
            return float(entry.fx_per_usd)
    raise AccelsimError(
        f"no exchange rate for {currency}: none of the price book/facility is in {currency}; "
        "give --fx-per-usd"
    )


def _lookup(table: Mapping[str, Any], keys: list[str]) -> tuple[str, Any] | None:
    for key in keys:
        if key in table:
            return key, table[key]
    if len(table) == 1:
        return next(iter(table.items()))
    return None


def cost_inputs(
    catalog: Catalog,
    device: str,
    cards: int,
    *,
    utilization: float,
    prices: str = "international-2025",
    facility: str = "us-2025",
    server: str | None = None,
    pricing: Literal["auto", "server", "card"] = "auto",
    years: float | None = None,
    amortization: str = "straight_line",
    cost_of_capital: float | None = None,
    output_tokens_per_s: float | None = None,
    input_tokens_per_s: float | None = None,
    requests_per_s: float | None = None,
    ranges: Mapping[str, Dist] | None = None,
    default_ranged: bool = False,
) -> CostInputs:
    """Resolve a card, its server, a price book and a facility profile into ``CostInputs``.

    ``pricing="auto"`` prices whole servers when the book has the server, else bare cards.
    ``years`` defaults to the facility's ``depreciation_years``. With ``default_ranged`` the
    result carries ``default_ranges`` (user ``ranges`` still win).
    """
    card = catalog.device(device)
    srv: Server = catalog.server(server) if server else catalog.server_for(card)
    book = catalog.prices(prices)
    fac = catalog.facility(facility)
    book_fx, fac_fx = _fx(book), _fx(fac)
    notes: list[str] = []

    server_price: float | None = None
    card_price = 0.0
    card_hit = _lookup_exact(book.cards, card.name)
    server_hit = _lookup_exact(book.servers, srv.name)
    if pricing not in ("auto", "server", "card"):
        raise AccelsimError(f"pricing {pricing!r}: expected auto, server or card")
    if pricing in ("auto", "server") and server_hit is not None:
        server_price = server_hit / book_fx
        notes.append(f"priced as {srv.name} servers from {book.name} (cards and NICs included)")
    elif pricing == "server":
        raise AccelsimError(
            f"price book {book.name!r} has no price for server {srv.name!r} "
            f"(it prices: {', '.join(book.servers) or 'none'})"
        )
    elif card_hit is not None:
        card_price = card_hit / book_fx
        notes.append(f"priced as bare {card.name} cards from {book.name}; no server chassis cost")
    else:
        raise AccelsimError(
            f"price book {book.name!r} has no price for device {card.name!r} or server "
            f"{srv.name!r} (cards: {', '.join(book.cards) or 'none'}; servers: "
            f"{', '.join(book.servers) or 'none'})"
        )

    net = book.network
    fabric_keys = [srv.scale_out_fabric, "default"]
    nic = _lookup(net.nic_per_port, fabric_keys)
    switch = _lookup(net.switch, fabric_keys)
    for part, hit in (("switch", switch), ("NIC", nic)):
        if hit is not None and hit[0] not in fabric_keys:
            notes.append(
                f"{book.name} has no {part} price for {srv.scale_out_fabric}; its only "
                f"{part} price ({hit[0]}) is used"
            )
    radix_hit = _lookup(net.switch_radix, [switch[0]] if switch else fabric_keys)
    radix = int(radix_hit[1]) if radix_hit else DEFAULT_SWITCH_RADIX
    if switch is None:
        notes.append(
            f"{book.name} has no switch price for {srv.scale_out_fabric}; switches not costed"
        )
    if not radix_hit:
        notes.append(f"switch radix {DEFAULT_SWITCH_RADIX} assumed (none in {book.name})")
    if nic is None and server_price is None:
        notes.append(f"{book.name} has no NIC price for {srv.scale_out_fabric}; NICs not costed")

    rental = book.rental_per_card_hour.get(card.name)
    life = fac.depreciation_years if years is None else years
    inputs = CostInputs(
        cards=cards,
        cards_per_node=srv.cards_per_node,
        card_price=card_price,
        server_price=server_price,
        nics_per_card=srv.nics_per_card,
        nic_price=(nic[1] / book_fx) if nic else 0.0,
        switch_price=(switch[1] / book_fx) if switch else 0.0,
        switch_radix=radix,
        optics_per_port=net.optics_per_port / book_fx,
        cable_per_port=net.cable_per_port / book_fx,
        storage_per_node=book.storage_per_node / book_fx,
        installation_fraction=book.installation_fraction,
        idle_power_w=card.idle_power,
        tdp_w=card.tdp,
        host_power_w=srv.host_power,
        utilization=utilization,
        pue=fac.pue,
        power_price_per_kwh=fac.power_price_per_kwh / fac_fx,
        colocation_per_kw_month=fac.colocation_per_kw_month / fac_fx,
        years=life,
        residual_fraction=fac.residual_fraction,
        maintenance_fraction_per_year=fac.maintenance_fraction_per_year,
        staff_per_node_year=fac.staff_per_node_year / fac_fx,
        cost_of_capital=fac.cost_of_capital if cost_of_capital is None else cost_of_capital,
        amortization=amortization,
        output_tokens_per_s=output_tokens_per_s,
        input_tokens_per_s=input_tokens_per_s,
        requests_per_s=requests_per_s,
        rental_per_card_hour=None if rental is None else rental / book_fx,
        device=card.name,
        prices=book.name,
        facility=fac.name,
        notes=tuple(notes),
    )
    chosen: dict[str, Dist] = {}
    if default_ranged:
        chosen = default_ranges(inputs, card)
        price_path = (
            (f"servers.{srv.name}", inputs.server_price)
            if server_price is not None
            else (f"cards.{card.name}", card_price)
        )
        sourced = [
            (
                "server_price" if server_price is not None else "card_price",
                book,
                *price_path,
                book_fx,
            ),
            (
                "switch_price",
                book,
                f"network.switch.{switch[0]}" if switch else "",
                inputs.switch_price,
                book_fx,
            ),
            ("optics_per_port", book, "network.optics_per_port", inputs.optics_per_port, book_fx),
            ("storage_per_node", book, "storage_per_node", inputs.storage_per_node, book_fx),
            (
                "installation_fraction",
                book,
                "installation_fraction",
                inputs.installation_fraction,
                1.0,
            ),
            ("pue", fac, "pue", inputs.pue, 1.0),
            ("power_price_per_kwh", fac, "power_price_per_kwh", inputs.power_price_per_kwh, fac_fx),
            (
                "colocation_per_kw_month",
                fac,
                "colocation_per_kw_month",
                inputs.colocation_per_kw_month,
                fac_fx,
            ),
            ("residual_fraction", fac, "residual_fraction", inputs.residual_fraction, 1.0),
        ]
        if years is None:
            sourced.append(("years", fac, "depreciation_years", inputs.years, 1.0))
        host_alts = _alternative_values(srv, "host_power", "power")
        if host_alts and inputs.host_power_w:
            values = [inputs.host_power_w, *host_alts]
            if min(values) < max(values):
                chosen["host_power_w"] = Dist.triangular(
                    min(values),
                    inputs.host_power_w,
                    max(values),
                    basis=f"catalog alternatives of {srv.name} host_power: "
                    + "; ".join(srv.source_of("host_power").alternatives),  # type: ignore[union-attr]
                )
        for name, entry, path, base, scale in sourced:
            if base is None or not path:
                continue
            dist = catalog_range(entry, path, float(base), scale)
            if dist is not None:
                chosen[name] = _clip_dist(name, dist)
    chosen.update(ranges or {})
    return inputs.with_ranges(chosen) if chosen else inputs


def _lookup_exact(table: Mapping[str, float], key: str) -> float | None:
    return table.get(key)


def estimate_tco(
    catalog: Catalog,
    device: str,
    cards: int,
    *,
    utilization: float,
    prices: str = "international-2025",
    facility: str = "us-2025",
    years: float | None = None,
    throughput: float | None = None,
    input_tokens_per_s: float | None = None,
    requests_per_s: float | None = None,
    server: str | None = None,
    pricing: Literal["auto", "server", "card"] = "auto",
    amortization: str = "straight_line",
    cost_of_capital: float | None = None,
    currency: str = "USD",
    fx_per_usd: float | None = None,
    ranges: Mapping[str, Dist] | None = None,
) -> TcoResult:
    """Cost of ``cards`` cards of ``device`` at ``utilization`` (busy fraction, 0-1).

    ``throughput`` is the cluster's output tokens/s (from a simulation); ``input_tokens_per_s``
    and ``requests_per_s`` add $/M input tokens and $/request. The result carries the default
    ranges (``default_ranges``, overridden by ``ranges``) for ``.monte_carlo()`` and
    ``.sensitivity()``. ``currency`` selects how money is presented (USD default; another
    currency needs a book/facility in it or ``fx_per_usd``).
    """
    inputs = cost_inputs(
        catalog,
        device,
        cards,
        utilization=utilization,
        prices=prices,
        facility=facility,
        server=server,
        pricing=pricing,
        years=years,
        amortization=amortization,
        cost_of_capital=cost_of_capital,
        output_tokens_per_s=throughput,
        input_tokens_per_s=input_tokens_per_s,
        requests_per_s=requests_per_s,
        ranges=ranges,
        default_ranged=True,
    )
    rate = output_fx(
        currency, catalog.prices(prices), catalog.facility(facility), fx_per_usd=fx_per_usd
    )
    return evaluate(inputs, currency.upper(), rate)


# --------------------------------------------------------------------------------------------
# Rental
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RentalCost:
    """Renting ``cards`` cards at ``rate_per_card_hour`` USD for ``hours`` hours."""

    rate_per_card_hour: float
    cards: float
    hours: float
    output_tokens_per_s: float | None = None
    input_tokens_per_s: float | None = None

    @property
    def per_hour_usd(self) -> float:
        return self.rate_per_card_hour * self.cards

    @property
    def total_usd(self) -> float:
        return self.per_hour_usd * self.hours

    @property
    def per_day_usd(self) -> float:
        return self.per_hour_usd * 24.0

    @property
    def per_year_usd(self) -> float:
        return self.per_hour_usd * HOURS_PER_YEAR

    def _per_mtok(self, tokens_per_s: float | None) -> float:
        if not tokens_per_s:
            return math.nan
        return self.per_hour_usd / (tokens_per_s * 3600.0) * 1e6

    @property
    def usd_per_mtok_output(self) -> float:
        """All rental cost over output tokens."""
        return self._per_mtok(self.output_tokens_per_s)

    @property
    def usd_per_mtok_input(self) -> float:
        return self._per_mtok(self.input_tokens_per_s)

    @property
    def usd_per_mtok_blended(self) -> float:
        if not (self.output_tokens_per_s and self.input_tokens_per_s):
            return math.nan
        return self._per_mtok(self.output_tokens_per_s + self.input_tokens_per_s)

    def as_dict(self) -> dict[str, Any]:
        out = {
            "rate_per_card_hour": self.rate_per_card_hour,
            "cards": self.cards,
            "hours": self.hours,
            "per_hour": self.per_hour_usd,
            "total": self.total_usd,
            "per_day": self.per_day_usd,
            "per_year": self.per_year_usd,
            "usd_per_mtok_output": self.usd_per_mtok_output,
            "usd_per_mtok_input": self.usd_per_mtok_input,
            "usd_per_mtok_blended": self.usd_per_mtok_blended,
        }
        return {k: v for k, v in out.items() if not (isinstance(v, float) and math.isnan(v))}


def rental_cost(
    rate_per_card_hour: float,
    cards: float,
    *,
    hours: float = 24.0,
    output_tokens_per_s: float | None = None,
    input_tokens_per_s: float | None = None,
) -> RentalCost:
    """Cloud rental: ``rate x cards x hours``; with throughput, $/M tokens (all cost per token).

    ``cards`` may be fractional (an average fleet, e.g. DeepSeek's 226.75 nodes x 8).
    """
    for name, value in (("rental rate", rate_per_card_hour), ("cards", cards), ("hours", hours)):
        if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise AccelsimError(f"{name} cannot be negative (got {value!r})")
    for name, value in (
        ("output tokens/s", output_tokens_per_s),
        ("input tokens/s", input_tokens_per_s),
    ):
        if value is not None and (not math.isfinite(value) or value < 0):
            raise AccelsimError(f"{name} cannot be negative (got {value!r})")
    return RentalCost(
        float(rate_per_card_hour),
        float(cards),
        float(hours),
        output_tokens_per_s,
        input_tokens_per_s,
    )


def rental_rate(catalog: Catalog, device: str, prices: str = "international-2025") -> float:
    """The price book's rental rate for ``device`` in USD per card-hour."""
    book = catalog.prices(prices)
    card = catalog.device(device)
    if card.name not in book.rental_per_card_hour:
        raise AccelsimError(
            f"price book {book.name!r} has no rental rate for {card.name!r} (it has: "
            f"{', '.join(book.rental_per_card_hour) or 'none'}); give the rate explicitly"
        )
    return book.rental_per_card_hour[card.name] / _fx(book)


# --------------------------------------------------------------------------------------------
# Simulation results
# --------------------------------------------------------------------------------------------

_RUN_KEYS = {
    "device": ("device", "card"),
    "cards": ("cards", "num_cards", "total_cards"),
    "utilization": ("utilization", "busy_fraction", "mean_utilization", "card_utilization"),
    "output_tokens_per_s": (
        "output_tokens_per_s",
        "output_throughput",
        "output_tok_s",
        "decode_tokens_per_s",
    ),
    "input_tokens_per_s": (
        "input_tokens_per_s",
        "input_throughput",
        "input_tok_s",
        "prefill_tokens_per_s",
    ),
    "requests_per_s": ("requests_per_s", "request_throughput", "completed_per_s"),
}


@dataclass(frozen=True)
class RunFigures:
    """What the cost model needs from a simulation summary."""

    device: str | None
    cards: int | None
    utilization: float | None
    output_tokens_per_s: float | None
    input_tokens_per_s: float | None
    requests_per_s: float | None
    source: str


def read_run_summary(path: str | Path) -> RunFigures:
    """Read the summary JSON of ``accelsim run --out DIR`` (a file or the DIR holding
    ``summary.json``). Keys are looked up at top level, then one level down (``summary``,
    ``throughput``, ``scenario``...), under several spellings (``_RUN_KEYS``)."""
    p = Path(path)
    if p.is_dir():
        p = p / "summary.json"
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AccelsimError(f"{path}: cannot read ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise AccelsimError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise AccelsimError(f"{path}: expected a JSON object")
    scopes = [data] + [v for v in data.values() if isinstance(v, dict)]

    def find(key: str) -> Any:
        for scope in scopes:
            for alias in _RUN_KEYS[key]:
                if alias in scope and scope[alias] is not None:
                    return scope[alias]
        return None

    def number(key: str) -> float | None:
        value = find(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise AccelsimError(f"{path}: {key} should be a number (got {value!r})")
        return float(value)

    device = find("device")
    if isinstance(device, dict):
        device = device.get("name")
    cards = number("cards")
    return RunFigures(
        device=str(device) if device is not None else None,
        cards=int(cards) if cards is not None else None,
        utilization=number("utilization"),
        output_tokens_per_s=number("output_tokens_per_s"),
        input_tokens_per_s=number("input_tokens_per_s"),
        requests_per_s=number("requests_per_s"),
        source=str(p),
    )


# --------------------------------------------------------------------------------------------
# The "1,000-card cluster" press claim
# --------------------------------------------------------------------------------------------

#: The press claim checked by ``cluster_cost_claim`` (reference/tco.md section 9): USD for a
#: 1,000-card cluster, keyed by the device family it names.
PRESS_CLAIM = {"Ascend 910B": 4.5e6, "A100": 7.2e6}


@dataclass(frozen=True)
class ClaimRow:
    """One device priced by one book, against a claimed cluster cost (USD)."""

    device: str
    claim_label: str
    claim_usd: float
    cards: int
    prices: str
    currency: str
    fx_per_usd: float
    card_price_usd: float | None
    server: str
    server_price_usd: float | None
    cards_only_usd: float | None
    servers_usd: float | None
    network_usd: float
    storage_usd: float
    installation_usd: float
    all_in_usd: float | None

    @property
    def implied_per_card_usd(self) -> float:
        return self.claim_usd / self.cards

    def as_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["implied_per_card_usd"] = self.implied_per_card_usd
        return out


def cluster_cost_claim(
    catalog: Catalog,
    claims: Mapping[str, tuple[str, float]],
    cards: int = 1000,
    prices: list[str] | None = None,
) -> list[ClaimRow]:
    """Price ``cards`` cards of each claimed device with every price book that knows it.

    ``claims`` maps a device name to (label, claimed total USD). For each book with a card or
    server price: cards only (bare card price x cards), and all-in capex (servers — or bare cards
    plus NICs when the book has no server price — plus scale-out network, storage and
    installation, sized by the same rules as ``estimate_tco``). Power, facility and opex are
    not part of either figure.
    """
    books = prices if prices is not None else catalog.names("prices")
    facility = next(iter(catalog.names("facility")), None)
    rows: list[ClaimRow] = []
    for device, (label, claim) in claims.items():
        card = catalog.device(device)
        srv = catalog.server_for(card)
        for book_name in books:
            book = catalog.prices(book_name)
            fx = _fx(book)
            card_p = book.cards.get(card.name)
            server_p = book.servers.get(srv.name)
            if card_p is None and server_p is None:
                continue
            all_in = _claim_capex(catalog, card.name, srv.name, book_name, facility, cards)
            rows.append(
                ClaimRow(
                    device=card.name,
                    claim_label=label,
                    claim_usd=float(claim),
                    cards=cards,
                    prices=book.name,
                    currency=book.currency,
                    fx_per_usd=fx,
                    card_price_usd=None if card_p is None else card_p / fx,
                    server=srv.name,
                    server_price_usd=None if server_p is None else server_p / fx,
                    cards_only_usd=None if card_p is None else card_p / fx * cards,
                    servers_usd=all_in["capex_compute"],
                    network_usd=all_in["capex_network"],
                    storage_usd=all_in["capex_storage"],
                    installation_usd=all_in["capex_installation"],
                    all_in_usd=all_in["capex"],
                )
            )
    return rows


def _claim_capex(
    catalog: Catalog, device: str, server: str, prices: str, facility: str | None, cards: int
) -> dict[str, float]:
    if facility is None:
        raise AccelsimError("the catalog has no facility profile (tco/facilities/)")
    inputs = cost_inputs(
        catalog, device, cards, utilization=1.0, prices=prices, facility=facility, server=server
    )
    return dict(evaluate(inputs).values)


def _span(values: list[float], claim: float) -> str:
    low, high = f"{min(values) / claim:.1f}x", f"{max(values) / claim:.1f}x"
    return low if low == high else f"{low}-{high}"


def claim_markdown(rows: list[ClaimRow], cards: int) -> str:
    """The Markdown report of ``cluster_cost_claim`` (docs/cluster-cost-claim.md)."""

    def usd(v: float | None) -> str:
        return "—" if v is None else f"${v / 1e6:,.2f}M"

    def per(v: float | None) -> str:
        return "—" if v is None else f"${v:,.0f}"

    def ratio(v: float | None, claim: float) -> str:
        return "—" if v is None else f"{v / claim:.1f}x"

    lines = [
        f'# The "{cards:,}-card cluster" cost claim',
        "",
        "<!-- Generated by `accelsim cluster-cost --markdown docs/cluster-cost-claim.md`; do not "
        "edit by hand. tests/test_tco_claim.py checks it is current. -->",
        "",
        "A press article claimed that a 1,000-card cluster costs about **$4.5M with Huawei Ascend "
        "910B** and about **$7.2M with NVIDIA A100** (reference/tco.md section 9). Below: what "
        "per-card price each claim implies, and what accelsim's price books give for the same "
        "number of cards.",
        "",
        "- *cards only*: the book's bare card price x cards.",
        "- *all-in capex*: whole servers (cards, hosts and NICs; or bare cards plus NICs when the "
        "book has no server price) + scale-out network (switches sized for the node count, "
        "optics, cables) + storage + installation. No power, facility or operating cost.",
        "- Prices in CNY books are converted at the book's stated `fx_per_usd`.",
        "",
        "## Implied by the claim",
        "",
        "| claim | total | cards | implied per card |",
        "|---|---:|---:|---:|",
    ]
    seen = set()
    for r in rows:
        if r.claim_label in seen:
            continue
        seen.add(r.claim_label)
        lines.append(
            f"| {r.claim_label} | {usd(r.claim_usd)} | {r.cards:,} | "
            f"{per(r.implied_per_card_usd)} |"
        )
    lines += [
        "",
        "## What the price books give",
        "",
        "| device | price book | card price | server | server price | cards only | "
        "network | all-in capex | all-in per card | all-in / claim |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        book = r.prices + (f" ({r.currency}, {r.fx_per_usd:g}/USD)" if r.currency != "USD" else "")
        all_in_card = None if r.all_in_usd is None else r.all_in_usd / r.cards
        lines.append(
            f"| {r.device} | {book} | {per(r.card_price_usd)} | {r.server} | "
            f"{per(r.server_price_usd)} | {usd(r.cards_only_usd)} | {usd(r.network_usd)} | "
            f"{usd(r.all_in_usd)} | {per(all_in_card)} | {ratio(r.all_in_usd, r.claim_usd)} |"
        )
    lines += ["", "## Reading", ""]
    for r in rows:
        parts = [
            f"**{r.device}** ({r.prices}): the claim implies {per(r.implied_per_card_usd)} per card"
        ]
        if r.cards_only_usd is not None:
            parts.append(
                f"the bare cards alone cost {usd(r.cards_only_usd)} "
                f"({ratio(r.cards_only_usd, r.claim_usd)} the claim)"
            )
        if r.all_in_usd is not None:
            parts.append(
                f"all-in capex is {usd(r.all_in_usd)} "
                f"({ratio(r.all_in_usd, r.claim_usd)} the claim)"
            )
        lines.append("- " + "; ".join(parts) + ".")
    lines += ["", "## Verdict", ""]
    for label in dict.fromkeys(r.claim_label for r in rows):
        mine = [r for r in rows if r.claim_label == label]
        claim = mine[0].claim_usd
        bare = [r.cards_only_usd for r in mine if r.cards_only_usd is not None]
        full = [r.all_in_usd for r in mine if r.all_in_usd is not None]
        if bare and min(bare) > claim:
            verdict = (
                f"below even the bare cards' price in the books (cards alone are "
                f"{_span(bare, claim)} the claim)"
            )
        elif full and min(full) > claim:
            verdict = "below every all-in capex figure, though not below bare-card cost"
        else:
            verdict = "within the range the price books give"
        if full:
            verdict += f"; all-in capex is {_span(full, claim)} the claim"
        lines.append(f"- {label} claim ({usd(claim)}): {verdict}.")
    lines += [
        "",
        "A claimed figure below capex can only be some partial or yearly cost, which the "
        "article does not state.",
        "",
    ]
    return "\n".join(lines)
