"""Schema of ``tco/``: price books, facility profiles, the default spreads, and the FX rule.

The cost formula lives in ``accelsim.model.cost``, its uncertainty in
``accelsim.model.uncertainty``; ``accelsim.run.pricing`` turns the entries below into their
inputs.

Money is explicit, and this module holds its one FX rule: every book and profile names its
``currency``; a book not in USD must state ``fx_per_usd`` (units of its currency per US dollar,
e.g. 7.2 CNY/USD), and a book quoting prices in a third currency states its rate as a sourced
value of ``quote_fx_per_usd`` (the USD book's ``CNY: 7.2``, reference/tco.md's convention).
Amounts written in another currency inside a book (``"USD 199,000"`` in a CNY book, ``"CNY
2,000,000"`` in the USD book) are converted with those rates at load time, and ``quoted_in``
records which amounts were written in a currency other than USD, so that the cost model can
move them with a drawn exchange rate (``accelsim.run.pricing``). ``units_per_usd`` is the rate
the cost model divides a book's amounts by (1.0 for USD), ``output_fx`` the rate results are
presented at.

A facility's financing and staff are inputs like its power price: ``cost_of_capital`` (a WACC
or loan rate, charged by the annuity), ``ops_fte_per_node`` (operations full-time equivalents
per server) and ``ops_fte_cost_per_year`` (the loaded cost of one).
Amounts keep their unit in the field name when it is not SI (``power_price_per_kwh``,
``colocation_per_kw_month``, ``rental_per_card_hour``).

``tco/spreads.yaml`` (``SpreadTable``) holds the relative spreads the Monte Carlo gives an input
that has no catalog ``range``: modelling assumptions, each a sourced value (``±25%`` or
``-10% / +15%``) whose note says why and is shown as the range's basis.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from pydantic import Field, model_validator

from accelsim.catalog.schema import CatalogEntry, Frozen, Power
from accelsim.errors import AccelsimError
from accelsim.units import parse_money

__all__ = [
    "FacilityProfile",
    "NetworkPrices",
    "PriceBook",
    "Spread",
    "SpreadTable",
    "output_fx",
    "units_per_usd",
]

Currency = Literal["USD", "CNY", "EUR"]


def _convert_money(
    value: Any,
    currency: str,
    fx_per_usd: float | None,
    where: str,
    quote_fx: dict[str, float] | None = None,
) -> Any:
    """A money text or number in the book's currency, converted via USD if written otherwise
    (``quote_fx``: units of another currency per USD, for amounts written in it)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    money = parse_money(value, default_currency=currency)
    if money.currency == currency:
        return money.amount
    rates = {**(quote_fx or {}), currency: fx_per_usd, "USD": 1.0}
    if rates.get(money.currency) is None or rates.get(currency) is None:
        raise ValueError(
            f"{where}: {value!r} is in {money.currency} but the book is in {currency} "
            f"with no fx_per_usd (or quote_fx_per_usd.{money.currency}) to convert it"
        )
    return money.amount / rates[money.currency] * rates[currency]


def _written_in(value: Any, currency: str) -> str:
    """The currency an amount is written in: a number is in the entry's own currency."""
    if isinstance(value, str):
        return parse_money(value, default_currency=currency).currency
    return currency


def _money_fields(
    data: dict[str, Any], fields: tuple[str, ...], maps: tuple[str, ...], prefix: str = ""
) -> dict[str, str]:
    """Convert the money ``fields`` and ``maps`` of ``data`` in place; returns the path and
    currency of every amount written in a currency other than USD (``quoted_in``)."""
    quoted: dict[str, str] = {}
    currency = data.get("currency", "USD")
    fx = data.get("fx_per_usd")
    if isinstance(fx, str):  # a what-if override arrives as text
        try:
            fx = data["fx_per_usd"] = float(fx)
        except ValueError:
            raise ValueError(
                f"fx_per_usd {fx!r} is not a number (units of {currency} per USD)"
            ) from None
    if currency != "USD" and fx is None:
        raise ValueError(f"a book in {currency} needs fx_per_usd (units of {currency} per USD)")
    quote = data.get("quote_fx_per_usd")
    quote = (
        {str(k): _rate_number(k, v) for k, v in quote.items()} if isinstance(quote, dict) else None
    )
    items = [((name,), data[name]) for name in fields if name in data]
    for name in maps:
        if isinstance(data.get(name), dict):
            items += [((name, k), v) for k, v in data[name].items()]
    for keys, value in items:
        path = ".".join(keys)
        converted = _convert_money(value, currency, fx, path, quote)
        if converted is not None and not isinstance(value, bool):
            written = _written_in(value, currency)
            if written != "USD":
                quoted[prefix + path] = written
        if len(keys) == 1:
            data[keys[0]] = converted
        else:
            data[keys[0]] = {**data[keys[0]], keys[1]: converted}
    return quoted


def _rate_number(currency: Any, value: Any) -> float:
    """A quote rate as a number (a what-if override arrives as text)."""
    try:
        rate = float(value)
    except (TypeError, ValueError):
        rate = math.nan
    if not rate > 0 or math.isinf(rate):
        raise ValueError(
            f"quote_fx_per_usd.{currency}: {value!r} is not a positive number (units of "
            f"{currency} per USD)"
        )
    return rate


def _no_quoted_in(data: dict[str, Any]) -> None:
    if "quoted_in" in data:
        raise ValueError("quoted_in: derived from the amounts as written; do not write it")


class NetworkPrices(Frozen):
    """Scale-out network prices: NICs, switches (with their radix), optics and cables."""

    nic_per_port: dict[str, float] = Field(default_factory=dict)
    switch: dict[str, float] = Field(default_factory=dict)
    switch_radix: dict[str, int] = Field(default_factory=dict)
    optics_per_port: float = Field(default=0.0, ge=0)
    cable_per_port: float = Field(default=0.0, ge=0)


class PriceBook(CatalogEntry):
    """Purchase and rental prices in one currency, as of one date."""

    currency: Currency
    as_of: str
    fx_per_usd: float | None = Field(default=None, gt=0)
    #: Units of another currency per USD: amounts the book quotes in that currency (``"CNY
    #: 2,000,000"`` in a USD book) are converted at this sourced rate.
    quote_fx_per_usd: dict[Currency, float] = Field(default_factory=dict)
    #: The currency each amount was written in, where not USD (``"servers.hgx-h800": "CNY"``):
    #: the amounts whose USD value moves with the exchange rate (``accelsim.run.pricing``).
    #: Derived from the file; a file does not write it.
    quoted_in: dict[str, Currency] = Field(default_factory=dict)
    cards: dict[str, float] = Field(default_factory=dict)
    servers: dict[str, float] = Field(default_factory=dict)
    #: The non-card content of a server (chassis, CPUs, memory, NICs) where no source prices
    #: the bundle: the server then costs host + cards (``accelsim.run.pricing``).
    hosts: dict[str, float] = Field(default_factory=dict)
    rental_per_card_hour: dict[str, float] = Field(default_factory=dict)
    network: NetworkPrices = Field(default_factory=NetworkPrices)
    #: Cards the book cannot price, and why (the reason every command that needs the price
    #: shows).
    unpriced: dict[str, str] = Field(default_factory=dict)
    storage_per_node: float = Field(default=0.0, ge=0)
    installation_fraction: float = Field(default=0.0, ge=0, le=1)

    @model_validator(mode="before")
    @classmethod
    def _money(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            _no_quoted_in(data)
            quoted = _money_fields(
                data, ("storage_per_node",), ("cards", "servers", "hosts", "rental_per_card_hour")
            )
            net = data.get("network")
            if isinstance(net, dict):
                net = dict(net)
                sub = {
                    **net,
                    "currency": data.get("currency", "USD"),
                    "fx_per_usd": data.get("fx_per_usd"),
                    "quote_fx_per_usd": data.get("quote_fx_per_usd"),
                }
                quoted |= _money_fields(
                    sub,
                    ("optics_per_port", "cable_per_port"),
                    ("nic_per_port", "switch"),
                    prefix="network.",
                )
                for key in ("currency", "fx_per_usd", "quote_fx_per_usd"):
                    sub.pop(key)
                data["network"] = sub
            data["quoted_in"] = quoted
        return data

    @model_validator(mode="after")
    def _positive(self) -> PriceBook:
        for group in ("cards", "servers", "hosts", "rental_per_card_hour"):
            for key, value in getattr(self, group).items():
                if value < 0:
                    raise ValueError(f"{group}.{key}: a price cannot be negative")
        return self

    def to_usd(self, amount: float) -> float:
        """An amount of this book's currency in USD."""
        return amount / units_per_usd(self)

    def amount(self, value: Any) -> float:
        """A money value as written in this book (a number, or a text such as ``"USD 199,000"``)
        in the book's currency, by the book's FX rule."""
        try:
            return float(
                _convert_money(
                    value, self.currency, self.fx_per_usd, self.name, dict(self.quote_fx_per_usd)
                )
            )
        except ValueError as exc:
            raise AccelsimError(str(exc)) from None


class FacilityProfile(CatalogEntry):
    """Where the cluster runs: power price, PUE, colocation, depreciation, upkeep."""

    currency: Currency
    fx_per_usd: float | None = Field(default=None, gt=0)
    power_price_per_kwh: float = Field(ge=0)
    pue: float = Field(ge=1.0, le=3.0)
    colocation_per_kw_month: float = Field(default=0.0, ge=0)
    depreciation_years: float = Field(gt=0)
    residual_fraction: float = Field(default=0.0, ge=0, le=1)
    maintenance_fraction_per_year: float = Field(default=0.0, ge=0, le=1)
    #: Operations staff: full-time equivalents per server, and the loaded yearly cost of one.
    ops_fte_per_node: float = Field(default=0.0, ge=0)
    ops_fte_cost_per_year: float = Field(default=0.0, ge=0)
    #: The yearly financing rate of the capex (WACC or loan rate), charged by the annuity.
    cost_of_capital: float = Field(default=0.0, ge=0, le=1)
    #: As ``PriceBook.quoted_in``: amounts written in a currency other than USD.
    quoted_in: dict[str, Currency] = Field(default_factory=dict)
    #: Rack limits (``accelsim.model.racks``): the power one rack may draw (watts), the
    #: cooling it offers, usable rack units per rack, and the racks on offer (None: as many as
    #: the cluster needs).
    rack_power: Power | None = None
    cooling: tuple[Literal["air", "liquid"], ...] = ("air",)
    rack_units_per_rack: float = Field(default=42, gt=0)
    racks_available: int | None = Field(default=None, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _money(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for name, unit in (
                ("power_price_per_kwh", "kWh"),
                ("colocation_per_kw_month", "kW-month"),
            ):
                value = data.get(name)
                if isinstance(value, str) and "/" in value:
                    amount, _, per = value.rpartition("/")
                    if per.strip().replace(" ", "") != unit:
                        raise ValueError(f"{name}: expected a price per {unit}, got {value!r}")
                    data[name] = amount
            _no_quoted_in(data)
            data["quoted_in"] = _money_fields(
                data,
                ("power_price_per_kwh", "colocation_per_kw_month", "ops_fte_cost_per_year"),
                (),
            )
        return data

    def to_usd(self, amount: float) -> float:
        """An amount of this profile's currency in USD."""
        return amount / units_per_usd(self)


def units_per_usd(entry: PriceBook | FacilityProfile) -> float:
    """Units of the entry's currency per USD (1.0 for USD): what its amounts are divided by."""
    if entry.currency == "USD":
        return 1.0
    if not entry.fx_per_usd:
        raise AccelsimError(
            f"{entry.name}: amounts are in {entry.currency} but it states no fx_per_usd"
        )
    return float(entry.fx_per_usd)


def output_fx(currency: str, *entries: Any, fx_per_usd: float | None = None) -> float:
    """Units of ``currency`` per USD for presenting results: an explicit rate, else the rate of
    the first entry (price book, facility) in that currency."""
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


_PCT = r"([0-9]+(?:\.[0-9]+)?)\s*%"
_SPREAD = re.compile(rf"^\s*(?:±\s*{_PCT}|-\s*{_PCT}\s*/\s*\+\s*{_PCT})\s*$")


class Spread(Frozen):
    """A relative range around a base value: ``base x (1 - minus)`` to ``base x (1 + plus)``,
    written ``±25%`` or ``-10% / +15%``."""

    minus: float = Field(ge=0, le=1)
    plus: float = Field(ge=0)

    @model_validator(mode="before")
    @classmethod
    def _text(cls, data: Any) -> Any:
        if not isinstance(data, str):
            return data
        m = _SPREAD.match(data)
        if not m:
            raise ValueError(f"expected a spread like '±25%' or '-10% / +15%' (got {data!r})")
        both, minus, plus = m.groups()
        if both is not None:
            return {"minus": float(both) / 100.0, "plus": float(both) / 100.0}
        return {"minus": float(minus) / 100.0, "plus": float(plus) / 100.0}


class SpreadTable(CatalogEntry):
    """The default spreads of the cost model's inputs (``tco/spreads.yaml``), keyed by the
    input's name in ``accelsim.model.cost.CostInputs``. Each is a sourced value; its note is the
    basis a range made from it shows."""

    spreads: dict[str, Spread] = Field(default_factory=dict)

    def basis(self, name: str) -> str:
        """Why ``name`` has its spread (the note of its sourced value)."""
        prov = self.provenance.get(f"spreads.{name}")
        return (prov.note or "") if prov else ""
