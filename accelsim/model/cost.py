"""The cost formula: capex, opex, $/card-hour, $/M tokens of one deployment (pure: numbers in).

``CostInputs`` holds every number the formula uses, resolved (money in USD, power in watts); it
knows no catalog: ``accelsim.run.pricing`` builds it from a price book, a facility profile, a card
and its server. Uncertainty (ranges, Monte Carlo, sensitivity) is ``accelsim.model.uncertainty``,
which evaluates the same vectorized core (``cost_values``) on arrays of draws.

The model, in the order it is computed (all money in USD inside; results convert to the output
currency at the end at a rate the caller gives, ``accelsim.catalog.prices.output_fx``):

**Capex.**

- *Compute*: whole servers (``server_price``, per node: a server price includes its cards and, as
  DGX/HGX quotes do, its NICs) or bare cards (``card_price``, then NICs are charged separately at
  ``nic_price`` x NIC ports). ``nodes = ceil(cards / cards_per_node)``; whole
  servers are bought for a partly filled last node.
- *Scale-out network*: switches, links and NIC ports of ``accelsim.model.network.size_network``
  (rail-optimized non-blocking Clos); optics are charged per link end (``optics_per_port`` x 2 x
  links), cables per link (``cable_per_port`` x links).
- *Storage*: ``storage_per_node`` x nodes. *Installation*: ``installation_fraction`` x
  (compute + network + storage).
- *Residual value*: ``residual_fraction`` of the hardware (not of installation) comes back at the
  end of the life.

**Amortization** over ``years`` (``HOURS_PER_YEAR`` = 8,766 h): ``straight_line`` charges
``(C - R) / Y`` a year; ``annuity`` charges the level payment that repays ``C`` at the cost of
capital ``r``, less the residual's present value: ``(C - R (1+r)^-Y) * r / (1 - (1+r)^-Y)``
(equal to straight line when ``r = 0``); ``annuity`` is the default, so the financing cost of
the capex (the facility's ``cost_of_capital``: a WACC or loan rate) is part of every yearly
figure. Each capex component is amortized on its own; the breakdown shows each component's
straight-line share (``amortization_*``) and, apart, ``financing``: the annuity less the
straight-line charge (0 when ``r = 0``), so it sums exactly to the total.

**Opex per year.**

- *Energy*: card power = ``idle + utilization x (tdp - idle)``: a linear power model between the
  card's idle power and its TDP (both card data: TDP sourced, idle an assumption marked in each
  card file). ``utilization`` is the card *activity* the simulation measured, the share of the
  run the cards' compute or HBM work at peak rate (``max(MFU, MBU)``,
  ``accelsim.sim.metrics``), not the share of time an iteration is running (the busy fraction
  is ~1 at any load, so energy would not follow load; reference/tco.md section 10: max-power
  figures overstate average draw); the linear form is an assumption, not fitted.
  Plus ``host_power`` per node (constant: CPUs, fans, NICs do not follow accelerator load, an
  assumption); times PUE, times the power price.
- *Colocation*: ``colocation_per_kw_month`` x 12 on the *provisioned* IT power
  (cards' TDP + host power), not on the average draw: colo contracts bill reserved kW; when
  the facility is priced by the racks the cluster takes (``colocation_billed_w``: every rack
  reserved at its fullest rack's draw, ``accelsim.run.placement``), on that.
- *Maintenance*: ``maintenance_fraction_per_year`` x hardware capex. *Operations staff*:
  nodes x ``ops_fte_per_node`` (operations staff, full-time equivalents per server) x
  ``ops_fte_cost_per_year`` (loaded cost of one FTE). Network switches' own power is ignored.

**Outputs.** ``per_year`` (total cost of one cluster-year), ``per_card_hour``, ``per_day``, a
breakdown by component, and with a throughput:

- ``usd_per_mtok_output``: *all* cost divided by output tokens (DeepSeek's day-6 convention, the
  $0.52/M figure); ``usd_per_mtok_input``: all cost divided by input tokens (the prefill-pool
  view); ``usd_per_mtok_blended``: all cost divided by input + output tokens. These are three
  views of one cost, not a split: do not add them.
- ``usd_per_request`` (with a request rate), ``tokens_per_joule`` (input + output tokens per joule
  of IT energy, cards + hosts, before PUE) and ``output_tokens_per_joule``.

**Rental** is ``accelsim.model.rental`` (``TcoResult.rental`` prices the same cards there).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from accelsim.errors import AccelsimError
from accelsim.model.network import DEFAULT_SWITCH_RADIX, NetworkSizing, size_network
from accelsim.model.rental import RentalCost, rental_cost
from accelsim.units import HOURS_PER_YEAR

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "AMORTIZATIONS",
    "BREAKDOWN",
    "COST_FIGURES",
    "FX_INPUTS",
    "INPUT_BOUNDS",
    "INPUT_LABELS",
    "OUTPUTS",
    "UNCERTAIN_INPUTS",
    "CostInputs",
    "DiscreteInputs",
    "TcoResult",
    "check_input",
    "convert_output",
    "cost_values",
    "discrete_inputs",
    "evaluate",
    "opex_per_year",
]

AMORTIZATIONS = ("straight_line", "annuity")
MONTHS_PER_YEAR = 12.0
SECONDS_PER_YEAR = HOURS_PER_YEAR * 3600.0
DAYS_PER_YEAR = HOURS_PER_YEAR / 24.0

#: Bounds of the continuous inputs: (lower, upper); None = unbounded.
INPUT_BOUNDS: dict[str, tuple[float | None, float | None]] = {
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
    "ops_fte_per_node": (0.0, None),
    "ops_fte_cost_per_year": (0.0, None),
    "cost_of_capital": (0.0, 1.0),
    "output_tokens_per_s": (0.0, None),
    "input_tokens_per_s": (0.0, None),
    "requests_per_s": (0.0, None),
    "quote_fx_per_usd": (1e-9, None),
}
#: The continuous inputs: those a range (``accelsim.model.uncertainty.Dist``) may be given.
UNCERTAIN_INPUTS = tuple(INPUT_BOUNDS)

#: How tables name each continuous input.
INPUT_LABELS = {
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
    "utilization": "card activity",
    "pue": "PUE",
    "power_price_per_kwh": "power price per kWh",
    "colocation_per_kw_month": "colocation per kW-month",
    "years": "life (years)",
    "residual_fraction": "residual fraction",
    "maintenance_fraction_per_year": "maintenance per year",
    "ops_fte_per_node": "operations FTE per server",
    "ops_fte_cost_per_year": "loaded cost per operations FTE",
    "cost_of_capital": "cost of capital",
    "output_tokens_per_s": "output tokens/s",
    "input_tokens_per_s": "input tokens/s",
    "requests_per_s": "requests/s",
    "quote_fx_per_usd": "exchange rate (units per USD)",
}
#: The money inputs a price book or facility may quote in another currency (``fx_quoted``).
FX_INPUTS = (
    "card_price",
    "server_price",
    "nic_price",
    "switch_price",
    "optics_per_port",
    "cable_per_port",
    "storage_per_node",
    "power_price_per_kwh",
    "colocation_per_kw_month",
    "ops_fte_cost_per_year",
)


@dataclass(frozen=True)
class CostInputs:
    """Every number the cost model uses, resolved; money in USD, power in watts.

    Build one by hand (tests, notebooks) or with ``accelsim.run.pricing.cost_inputs(catalog,
    ...)``. ``server_price`` (per node, cards included) wins over ``card_price`` when set.
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
    #: Watts the colocation bills when priced by racks (``accelsim.run.placement``); None:
    #: the provisioned IT power.
    colocation_billed_w: float | None = None
    years: float = 4.0
    residual_fraction: float = 0.0
    maintenance_fraction_per_year: float = 0.0
    ops_fte_per_node: float = 0.0
    ops_fte_cost_per_year: float = 0.0
    cost_of_capital: float = 0.0
    amortization: str = "annuity"
    output_tokens_per_s: float | None = None
    input_tokens_per_s: float | None = None
    requests_per_s: float | None = None
    #: Units of ``quote_currency`` per USD, and the money inputs quoted in that currency (given
    #: here in USD at that rate): a draw of the rate moves them by ``base rate / drawn rate``.
    quote_fx_per_usd: float = 1.0
    fx_quoted: tuple[str, ...] = ()
    quote_currency: str = ""
    rental_per_card_hour: float | None = None
    device: str = ""
    prices: str = ""
    facility: str = ""
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
                check_input(name, value)
        if self.tdp_w < self.idle_power_w:
            raise AccelsimError(f"idle power {self.idle_power_w:g} W exceeds TDP {self.tdp_w:g} W")
        if self.rental_per_card_hour is not None and self.rental_per_card_hour < 0:
            raise AccelsimError("rental price per card-hour cannot be negative")
        unknown = set(self.fx_quoted) - set(FX_INPUTS)
        if unknown:
            raise AccelsimError(
                f"fx_quoted names {', '.join(sorted(unknown))}: only money inputs are quoted "
                f"({', '.join(FX_INPUTS)})"
            )

    @property
    def nodes(self) -> int:
        return math.ceil(self.cards / self.cards_per_node)

    @property
    def nics_per_node(self) -> int:
        return math.ceil(self.cards_per_node * self.nics_per_card - 1e-9)

    def base_values(self) -> dict[str, float]:
        """The continuous inputs as floats (None -> 0.0 except ``server_price``)."""
        out = {}
        for name in UNCERTAIN_INPUTS:
            value = getattr(self, name)
            out[name] = float(value) if value is not None else 0.0
        return out


def check_input(name: str, value: float, what: str = "") -> None:
    """Raise unless ``value`` is a finite number within the bounds of input ``name``."""
    label = INPUT_LABELS.get(name, name) + (f" {what}" if what else "")
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise AccelsimError(f"{label}: {value!r} is not a finite number")
    lo, hi = INPUT_BOUNDS[name]
    if name == "years" and value <= 0:
        raise AccelsimError(f"{label} must be positive (got {value:g})")
    if lo is not None and value < lo:
        if lo == 0.0:
            raise AccelsimError(f"{label} cannot be negative (got {value:g})")
        raise AccelsimError(f"{label} must be at least {lo:g} (got {value:g})")
    if hi is not None and value > hi:
        raise AccelsimError(f"{label} must be between {lo:g} and {hi:g} (got {value:g})")


# --------------------------------------------------------------------------------------------
# The vectorized core
# --------------------------------------------------------------------------------------------

#: Every output of ``evaluate``: key -> (label, unit). Money keys are USD; the headline figures
#: carry the labels of ``COST_FIGURES`` (one label per figure across commands).
OUTPUTS: dict[str, tuple[str, str]] = {
    "capex_compute": ("capex: cards/servers", "USD"),
    "capex_network": ("capex: network", "USD"),
    "capex_storage": ("capex: storage", "USD"),
    "capex_installation": ("capex: installation", "USD"),
    "capex": ("capex", "USD"),
    "residual": ("residual value", "USD"),
    "amortization_compute": ("cards/servers (amortized)", "USD/yr"),
    "amortization_network": ("network (amortized)", "USD/yr"),
    "amortization_storage": ("storage (amortized)", "USD/yr"),
    "amortization_installation": ("installation (amortized)", "USD/yr"),
    "financing": ("financing per year", "USD/yr"),
    "energy": ("energy", "USD/yr"),
    "colocation": ("colocation", "USD/yr"),
    "maintenance": ("maintenance", "USD/yr"),
    "staff": ("operations staff", "USD/yr"),
    "opex_per_year": ("opex per year", "USD/yr"),
    "per_year": ("TCO per year", "USD/yr"),
    "per_day": ("cost per day", "USD/day"),
    "per_card_hour": ("cost per card-hour", "USD/card-h"),
    "it_power_w": ("average IT power", "W"),
    "facility_power_w": ("average facility power", "W"),
    "provisioned_power_w": ("provisioned IT power", "W"),
    "usd_per_mtok_output": ("$/M output", "USD/Mtok"),
    "usd_per_mtok_input": ("per M input tokens (all cost)", "USD/Mtok"),
    "usd_per_mtok_blended": ("$/M blended", "USD/Mtok"),
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
    "financing",
    "energy",
    "colocation",
    "maintenance",
    "staff",
)
#: The one label and definition of each headline cost figure, for every command and report:
#: key -> (label, unit, definition).
COST_FIGURES: dict[str, tuple[str, str, str]] = {
    "capex": (
        "capex",
        "USD",
        "purchase of servers (or cards), scale-out network, storage and installation",
    ),
    "opex_per_year": (
        "opex per year",
        "USD/yr",
        "running cost per year: energy, colocation, maintenance and operations staff (no "
        "capex, no financing)",
    ),
    "financing_per_year": (
        "financing per year",
        "USD/yr",
        "the cost of capital on the capex: the level (annuity) payment at the facility's "
        "cost of capital less the straight-line charge",
    ),
    "staff_per_year": (
        "operations staff",
        "USD/yr",
        "operations FTE per server x servers x the loaded yearly cost of one FTE (part of opex)",
    ),
    "tco_per_year": (
        "TCO per year",
        "USD/yr",
        "capex amortized over the life (less the residual value), its financing, plus opex per "
        "year",
    ),
    "usd_per_mtok_output": (
        "$/M output",
        "USD/Mtok",
        "TCO per year over the year's output tokens: all cost charged to output tokens",
    ),
    "usd_per_mtok_blended": (
        "$/M blended",
        "USD/Mtok",
        "TCO per year over the year's input + output tokens",
    ),
}


def opex_per_year(values: Mapping[str, Any]) -> Any:
    """Opex per year (``COST_FIGURES``): the yearly breakdown less amortized capex and its
    financing."""
    return sum(values[k] for k in BREAKDOWN if k in _OPEX)


_OPEX = ("energy", "colocation", "maintenance", "staff")
_MONEY_UNITS = ("USD", "USD/yr", "USD/day", "USD/card-h", "USD/Mtok", "USD/req")


@dataclass(frozen=True)
class DiscreteInputs:
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
    fx_quoted: tuple[str, ...] = ()
    quote_fx_base: float = 1.0
    colocation_billed_w: float | None = None


def discrete_inputs(inputs: CostInputs) -> DiscreteInputs:
    """Counts, the network and the switches of the formula (what a draw never changes)."""
    use_server = inputs.server_price is not None
    return DiscreteInputs(
        cards=inputs.cards,
        nodes=inputs.nodes,
        network=size_network(inputs.nodes, inputs.nics_per_node, inputs.switch_radix),
        use_server_price=use_server,
        charge_nics=not (use_server and inputs.nics_in_server_price),
        annuity=inputs.amortization == "annuity",
        has_output=bool(inputs.output_tokens_per_s),
        has_input=bool(inputs.input_tokens_per_s),
        has_requests=bool(inputs.requests_per_s),
        fx_quoted=inputs.fx_quoted,
        quote_fx_base=inputs.quote_fx_per_usd,
        colocation_billed_w=inputs.colocation_billed_w,
    )


def _amortize(capex: Any, residual: Any, years: Any, rate: Any, annuity: bool) -> Any:
    """Yearly charge for ``capex`` returning ``residual`` after ``years``."""
    if not annuity:
        return (capex - residual) / years
    r = np.maximum(rate, 1e-12)
    discount = np.exp(-years * np.log1p(r))  # (1 + r) ** -years
    return (capex - residual * discount) * r / -np.expm1(-years * np.log1p(r))


def cost_values(v: Mapping[str, Any], fx: DiscreteInputs) -> dict[str, Any]:
    """All outputs from the continuous input values (floats or equal-length arrays); USD.

    The inputs quoted in another currency (``fx.fx_quoted``) are scaled by the base rate over
    the rate drawn (``quote_fx_per_usd``): a dearer dollar makes them cheaper in USD."""
    if fx.fx_quoted:
        scale = fx.quote_fx_base / v["quote_fx_per_usd"]
        v = {**v, **{k: v[k] * scale for k in fx.fx_quoted}}
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
    financing = 0.0 * years
    parts = (
        ("compute", compute, res * compute),
        ("network", network, res * network),
        ("storage", storage, res * storage),
        ("installation", installation, 0.0),
    )
    for key, amount, back in parts:
        straight = (amount - back) / years
        out[f"amortization_{key}"] = straight
        financing = financing + _amortize(amount, back, years, rate, fx.annuity) - straight
    out["financing"] = financing

    card_w = v["idle_power_w"] + v["utilization"] * (v["tdp_w"] - v["idle_power_w"])
    it_w = cards * card_w + nodes * v["host_power_w"]
    provisioned_w = cards * v["tdp_w"] + nodes * v["host_power_w"]
    out["it_power_w"] = it_w
    out["facility_power_w"] = it_w * v["pue"]
    out["provisioned_power_w"] = provisioned_w
    out["energy"] = it_w / 1000.0 * v["pue"] * HOURS_PER_YEAR * v["power_price_per_kwh"]
    billed_w = provisioned_w if fx.colocation_billed_w is None else fx.colocation_billed_w
    out["colocation"] = billed_w / 1000.0 * v["colocation_per_kw_month"] * MONTHS_PER_YEAR
    out["maintenance"] = v["maintenance_fraction_per_year"] * hardware
    out["staff"] = v["ops_fte_per_node"] * nodes * v["ops_fte_cost_per_year"] + 0.0 * years
    per_year = sum(out[k] for k in BREAKDOWN)
    out["opex_per_year"] = opex_per_year(out)
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


def convert_output(key: str, value: float, fx_per_usd: float) -> float:
    """Output ``key`` presented at ``fx_per_usd`` units per USD (money outputs only)."""
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
        return convert_output(key, self.values[key], self.fx_per_usd)

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


def _inputs_dict(inputs: CostInputs) -> dict[str, Any]:
    return {f.name: getattr(inputs, f.name) for f in fields(inputs) if f.name != "notes"}


def evaluate(inputs: CostInputs, currency: str = "USD", fx_per_usd: float = 1.0) -> TcoResult:
    """The point estimate for resolved ``inputs``."""
    fx = discrete_inputs(inputs)
    raw = cost_values({k: np.float64(v) for k, v in inputs.base_values().items()}, fx)
    values = {k: float(raw[k]) for k in OUTPUTS}
    return TcoResult(inputs, values, fx.network, currency, fx_per_usd)
