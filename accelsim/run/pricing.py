"""Catalog wiring of the cost model: price book + facility + card + server -> ``CostInputs``.

The only place the cost model meets the catalog. ``cost_inputs`` reads a card, its server, a
price book and a facility profile into the numbers of ``accelsim.model.cost.CostInputs`` (money
divided by each entry's ``units_per_usd``, the one FX rule of ``accelsim.catalog.prices``);
``estimate_tco`` evaluates them with the ranges of their inputs (``accelsim.model.uncertainty``):
the spreads of ``tco/spreads.yaml``, replaced by the structured ``range: [low, high]`` a value
states in its catalog file (``_catalog_ranges``). ``rental_rate`` and ``unpriced`` answer the
price book's rental rate and whether a book can cost a device at all.

Pricing rules: ``pricing="auto"`` prices whole servers when the book has the server (a bundle a
source priced), else host + cards when the book prices the server's host (``hosts:``, its
non-card content) and the card, else bare cards. A bundle's implied non-card content (bundle -
cards x card price) is noted beside those of the book's other bundles, and a what-if on the card
price moves the bundle by cards x the change (``catalog_card_price`` is the file's value). A card
costed in a server built for another card (inherited through ``extends:``) gets a warning
(``server_warning``) in the notes of every cost. NIC and switch prices are looked up by the
server's scale-out fabric (then ``default``, then the book's only entry, noted); a book
without a switch radix assumes ``DEFAULT_SWITCH_RADIX``; ``years`` defaults to the facility's
``depreciation_years``.

Exchange rate: an amount the book or facility wrote in another currency than USD (its
``quoted_in``: every amount of a CNY book, a ``"CNY 2,000,000"`` in the USD book) is converted
at the entry's sourced rate (``fx_per_usd``, ``quote_fx_per_usd``). The inputs made only of
such amounts are the cost's ``fx_quoted`` and the rate its ``quote_fx_per_usd`` input, so the
Monte Carlo draws the rate (from its catalog ``range``, else ``tco/spreads.yaml``) as one
assumption every device shares, and moves those inputs by base rate / drawn rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from accelsim.catalog.devices import Card, Server
from accelsim.catalog.loader import Catalog
from accelsim.catalog.prices import FacilityProfile, PriceBook, output_fx, units_per_usd
from accelsim.catalog.schema import CatalogEntry
from accelsim.errors import AccelsimError
from accelsim.model.cost import CostInputs, evaluate
from accelsim.model.network import DEFAULT_SWITCH_RADIX
from accelsim.model.uncertainty import Dist, RangedTco, clip_to_bounds, default_ranges
from accelsim.run.placement import colocation_billed_w

__all__ = [
    "catalog_card_price",
    "cost_inputs",
    "estimate_tco",
    "holds",
    "input_keys",
    "rental_rate",
    "server_warning",
    "unpriced",
]


def unpriced(catalog: Catalog, device: str, prices: str) -> str | None:
    """Why ``prices`` cannot cost ``device`` (it prices neither the card nor its server), or
    ``None``. Callers keep their performance figures and show this reason instead of a cost."""
    book = catalog.prices(prices)
    card = catalog.device(device)
    server = catalog.server_for(card)
    if card.name in book.cards or server.name in book.servers:
        return None
    if server.name in book.hosts and card.name in book.cards:
        return None
    why = f"price book {book.name!r} prices neither {card.name} nor its server {server.name}"
    return f"{why}: {book.unpriced[card.name]}" if card.name in book.unpriced else why


def _usd(amount: float) -> str:
    return f"${amount:,.0f}"


def catalog_card_price(catalog: Catalog, book: PriceBook, card: str) -> float:
    """The price of ``card`` in ``book`` as its file states it (before a what-if override), in
    the book's currency."""
    key = f"prices.{book.name}.cards.{card}"
    for o in catalog.overrides_in_effect():
        if o["key"] == key and o["catalog_value"] is not None:
            return book.amount(o["catalog_value"])
    return book.cards[card]


def _other_hosts(catalog: Catalog, book: PriceBook, server: str) -> str:
    """The non-card content the book's other bundles imply (bundle - cards x card price), to
    check a bundle's against."""
    implied = []
    for name, price in sorted(book.servers.items()):
        if name == server or name not in catalog.names("server"):
            continue
        other = catalog.server(name)
        if other.card in book.cards:
            implied.append(
                price - other.cards_per_node * catalog_card_price(catalog, book, other.card)
            )
    if not implied:
        return "no other bundle of the book to check it against"
    fx = units_per_usd(book)
    return (
        f"the book's other {len(implied)} bundle(s) imply {_usd(min(implied) / fx)} to "
        f"{_usd(max(implied) / fx)}"
    )


def holds(server: Server, card: Card) -> bool:
    """Whether ``server`` is built for ``card``: it is the server's card, a SKU the server's
    ``also_holds`` lists (sourced in the server file), or a hypothetical what-if variant
    (``hypothetical: true``) of the server's card, which is the same part in the same chassis."""
    if server.card == card.name or card.name in server.also_holds:
        return True
    return card.hypothetical and card.extends == server.card


def server_warning(catalog: Catalog, card: Card, server: Server) -> str | None:
    """A warning when ``card`` is costed in a server built for another card (a card that
    ``extends:`` another and inherits its ``default_server``), else None."""
    if holds(server, card):
        return None
    how = f" (inherited from {card.extends} via extends:)" if card.extends else ""
    return (
        f"{card.name} uses server {server.name}{how}, which holds {server.card} cards: its "
        f"chassis, host power and bundle price are {server.card}'s; name the card's own "
        "default_server"
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
    amortization: str = "annuity",
    cost_of_capital: float | None = None,
    output_tokens_per_s: float | None = None,
    input_tokens_per_s: float | None = None,
    requests_per_s: float | None = None,
) -> CostInputs:
    """Resolve a card, its server, a price book and a facility profile into ``CostInputs``
    (see the module docstring for the pricing rules)."""
    card = catalog.device(device)
    srv: Server = catalog.server(server) if server else catalog.server_for(card)
    book = catalog.prices(prices)
    fac = catalog.facility(facility)
    book_fx, fac_fx = units_per_usd(book), units_per_usd(fac)
    notes: list[str] = []

    server_price: float | None = None
    card_price = 0.0
    card_hit = book.cards.get(card.name)
    server_hit = book.servers.get(srv.name)
    if pricing not in ("auto", "server", "card"):
        raise AccelsimError(f"pricing {pricing!r}: expected auto, server or card")
    host_hit = book.hosts.get(srv.name)
    n = srv.cards_per_node
    if pricing in ("auto", "server") and server_hit is not None:
        server_price = server_hit / book_fx
        notes.append(f"priced as {srv.name} servers from {book.name} (cards and NICs included)")
        if card_hit is not None:
            was = catalog_card_price(catalog, book, card.name)
            host = (server_hit - n * was) / book_fx
            notes.append(
                f"{srv.name} is priced as a bundle; its implied non-card content is "
                f"{_usd(host)} per server (bundle {_usd(server_hit / book_fx)} - {n} x "
                f"{card.name} at {_usd(was / book_fx)}); {_other_hosts(catalog, book, srv.name)}"
            )
            if card_hit != was:
                server_price += n * (card_hit - was) / book_fx
                notes.append(
                    f"card-price what-if: {card.name} at {_usd(card_hit / book_fx)} moves the "
                    f"{srv.name} price to {_usd(server_price)} ({n} cards)"
                )
    elif pricing in ("auto", "server") and host_hit is not None and card_hit is not None:
        server_price = (host_hit + n * card_hit) / book_fx
        notes.append(
            f"{srv.name} priced as its host {_usd(host_hit / book_fx)} + {n} x {card.name} "
            f"at {_usd(card_hit / book_fx)} from {book.name}"
        )
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

    warning = server_warning(catalog, card, srv)
    if warning is not None:
        notes.append(warning)
    rental = book.rental_per_card_hour.get(card.name)
    life = fac.depreciation_years if years is None else years
    parts: dict[str, list[tuple[PriceBook | FacilityProfile, str]]] = {
        "nic_price": [(book, f"network.nic_per_port.{nic[0]}")] if nic else [],
        "switch_price": [(book, f"network.switch.{switch[0]}")] if switch else [],
        "optics_per_port": [(book, "network.optics_per_port")],
        "cable_per_port": [(book, "network.cable_per_port")],
        "storage_per_node": [(book, "storage_per_node")],
        "power_price_per_kwh": [(fac, "power_price_per_kwh")],
        "colocation_per_kw_month": [(fac, "colocation_per_kw_month")],
        "ops_fte_cost_per_year": [(fac, "ops_fte_cost_per_year")],
    }
    if server_price is None:
        parts["card_price"] = [(book, f"cards.{card.name}")]
    elif server_hit is not None and pricing in ("auto", "server"):
        parts["server_price"] = [(book, f"servers.{srv.name}")]
    else:
        parts["server_price"] = [(book, f"hosts.{srv.name}"), (book, f"cards.{card.name}")]
    quote = _quoted(parts, book, fac, notes)
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
        colocation_billed_w=colocation_billed_w(catalog, card.name, cards, fac.name, srv.name),
        years=life,
        residual_fraction=fac.residual_fraction,
        maintenance_fraction_per_year=fac.maintenance_fraction_per_year,
        ops_fte_per_node=fac.ops_fte_per_node,
        ops_fte_cost_per_year=fac.ops_fte_cost_per_year / fac_fx,
        cost_of_capital=fac.cost_of_capital if cost_of_capital is None else cost_of_capital,
        amortization=amortization,
        output_tokens_per_s=output_tokens_per_s,
        input_tokens_per_s=input_tokens_per_s,
        requests_per_s=requests_per_s,
        quote_fx_per_usd=quote[1],
        fx_quoted=quote[2],
        quote_currency=quote[0],
        rental_per_card_hour=None if rental is None else rental / book_fx,
        device=card.name,
        prices=book.name,
        facility=fac.name,
        notes=tuple(notes),
    )
    return inputs


def _rate(entry: PriceBook | FacilityProfile, currency: str) -> float | None:
    """Units of ``currency`` per USD by ``entry``'s FX rule (its own rate or a quote rate)."""
    if entry.currency == currency:
        return entry.fx_per_usd
    return entry.quote_fx_per_usd.get(currency) if isinstance(entry, PriceBook) else None


def _quoted(
    parts: Mapping[str, list[tuple[PriceBook | FacilityProfile, str]]],
    book: PriceBook,
    fac: FacilityProfile,
    notes: list[str],
) -> tuple[str, float, tuple[str, ...]]:
    """The quoting currency, its rate (units per USD, the book's where it has one) and the
    money inputs every part of which is written in that currency at that rate: those whose USD
    value moves with the exchange rate. One currency per cost: the first in name order."""
    currency_of: dict[str, str] = {}
    for name, where in parts.items():
        written = {entry.quoted_in.get(path, "USD") for entry, path in where}
        if len(written) == 1 and where:
            currency_of[name] = written.pop()
    foreign = sorted({c for c in currency_of.values() if c != "USD"})
    if not foreign:
        return "", 1.0, ()
    currency = foreign[0]
    rate = _rate(book, currency) or _rate(fac, currency)
    assert rate is not None  # the entry converted the amount at it
    quoted = []
    for name, c in currency_of.items():
        if c != currency:
            continue
        if all(_rate(entry, c) == rate for entry, _ in parts[name]):
            quoted.append(name)
        else:
            notes.append(f"{name} is quoted in {c} at another rate than {rate:g}; not varied")
    return currency, float(rate), tuple(sorted(quoted))


def _stated(
    inputs: CostInputs,
    card: Card,
    srv: Server,
    book: PriceBook,
    fac: FacilityProfile,
    *,
    years_from_facility: bool,
) -> dict[str, tuple[CatalogEntry, str, float]]:
    """Where each input read from the catalog lives: input -> (entry, field path, units per
    USD of the entry). The life is the facility's only when ``years_from_facility``."""
    book_fx, fac_fx = units_per_usd(book), units_per_usd(fac)
    out: dict[str, tuple[CatalogEntry, str, float]] = {
        "tdp_w": (card, "tdp", 1.0),
        "idle_power_w": (card, "idle_power", 1.0),
        "host_power_w": (srv, "host_power", 1.0),
    }
    if inputs.server_price is not None:
        out["server_price"] = (book, f"servers.{srv.name}", book_fx)
    else:
        out["card_price"] = (book, f"cards.{card.name}", book_fx)
    switch_hit = _lookup(book.network.switch, [srv.scale_out_fabric, "default"])
    if switch_hit:
        out["switch_price"] = (book, f"network.switch.{switch_hit[0]}", book_fx)
    out.update(
        optics_per_port=(book, "network.optics_per_port", book_fx),
        cable_per_port=(book, "network.cable_per_port", book_fx),
        storage_per_node=(book, "storage_per_node", book_fx),
        installation_fraction=(book, "installation_fraction", 1.0),
        pue=(fac, "pue", 1.0),
        power_price_per_kwh=(fac, "power_price_per_kwh", fac_fx),
        colocation_per_kw_month=(fac, "colocation_per_kw_month", fac_fx),
        residual_fraction=(fac, "residual_fraction", 1.0),
        maintenance_fraction_per_year=(fac, "maintenance_fraction_per_year", 1.0),
        ops_fte_per_node=(fac, "ops_fte_per_node", 1.0),
        ops_fte_cost_per_year=(fac, "ops_fte_cost_per_year", fac_fx),
        cost_of_capital=(fac, "cost_of_capital", 1.0),
    )
    if years_from_facility:
        out["years"] = (fac, "depreciation_years", 1.0)
    c = inputs.quote_currency
    if inputs.fx_quoted:
        entry: PriceBook | FacilityProfile = book if _rate(book, c) else fac
        path = "fx_per_usd" if entry.currency == c else f"quote_fx_per_usd.{c}"
        out["quote_fx_per_usd"] = (entry, path, 1.0)
    return out


#: The inputs whose catalog ``range`` the Monte Carlo draws (the others keep their spread).
_RANGED_FROM_CATALOG = frozenset(
    {
        "tdp_w",
        "host_power_w",
        "server_price",
        "card_price",
        "switch_price",
        "optics_per_port",
        "storage_per_node",
        "installation_fraction",
        "pue",
        "power_price_per_kwh",
        "colocation_per_kw_month",
        "residual_fraction",
        "years",
        "cost_of_capital",
        "ops_fte_per_node",
        "ops_fte_cost_per_year",
        "quote_fx_per_usd",
    }
)
_KIND_OF = {Card: "device", Server: "server", PriceBook: "prices", FacilityProfile: "facility"}


def input_keys(
    catalog: Catalog,
    inputs: CostInputs,
    *,
    prices: str,
    facility: str,
    server: str | None = None,
    years_from_facility: bool = True,
) -> dict[str, str]:
    """The what-if key (``--set KEY=VALUE``) of each input read from the catalog:
    ``{"server_price": "prices.international-2025.servers.atlas-800i-a2", "pue":
    "facility.us-2025.pue", "tdp_w": "device.ascend-910b2.tdp", ...}``. Values in a book not
    kept in USD are set in its own currency."""
    card = catalog.device(inputs.device)
    srv = catalog.server(server) if server else catalog.server_for(card)
    book, fac = catalog.prices(prices), catalog.facility(facility)
    stated = _stated(inputs, card, srv, book, fac, years_from_facility=years_from_facility)
    return {
        name: f"{_KIND_OF[type(entry)]}.{entry.name}.{path}"
        for name, (entry, path, _) in stated.items()
    }


def _catalog_ranges(
    inputs: CostInputs,
    card: Card,
    srv: Server,
    book: PriceBook,
    fac: FacilityProfile,
    *,
    years_from_facility: bool,
) -> dict[str, Dist]:
    """Triangular ranges low/base/high from the ``range`` the catalog states for the values
    ``inputs`` were read from (each bound divided by its entry's ``units_per_usd`` like the
    value), clipped to the input's bounds. A value without a range, or with an empty one,
    gives none; so does a TDP range reaching below the idle power. The life is ranged only when
    it is the facility's ``depreciation_years``."""
    out: dict[str, Dist] = {}
    for name, (entry, path, scale) in _stated(
        inputs, card, srv, book, fac, years_from_facility=years_from_facility
    ).items():
        if name not in _RANGED_FROM_CATALOG:
            continue
        prov = entry.provenance.get(path) if path else None
        base = getattr(inputs, name)
        if prov is None or prov.range is None or base is None:
            continue
        low, high = prov.range[0] / scale, prov.range[1] / scale
        if low == high or (name == "tdp_w" and low < inputs.idle_power_w):
            continue
        basis = f"catalog range of {entry.name} {path}"
        if prov.alternatives:
            basis = f"catalog alternatives of {entry.name} {path}: " + "; ".join(prov.alternatives)
        out[name] = clip_to_bounds(name, Dist.triangular(low, float(base), high, basis=basis))
    return out


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
    amortization: str = "annuity",
    cost_of_capital: float | None = None,
    currency: str = "USD",
    fx_per_usd: float | None = None,
    ranges: Mapping[str, Dist] | None = None,
) -> RangedTco:
    """Cost of ``cards`` cards of ``device`` at ``utilization`` (the cards' activity, 0-1:
    the share of time their compute or HBM work at peak, which sets their power).

    ``throughput`` is the cluster's output tokens/s (from a simulation); ``input_tokens_per_s``
    and ``requests_per_s`` add $/M input tokens and $/request. The result carries the ranges of
    its inputs for ``.monte_carlo()`` and ``.sensitivity()``: the catalog's spreads
    (``tco/spreads.yaml``), replaced by the catalog ``range`` of a value where the price book,
    facility, card or server states one (``_catalog_ranges``), replaced by ``ranges``.
    ``currency`` selects how money is presented (USD default; another currency needs a
    book/facility in it or ``fx_per_usd``).
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
    )
    card = catalog.device(device)
    srv = catalog.server(server) if server else catalog.server_for(card)
    book, fac = catalog.prices(prices), catalog.facility(facility)
    chosen = {
        **default_ranges(inputs, catalog.spreads()),
        **_catalog_ranges(inputs, card, srv, book, fac, years_from_facility=years is None),
        **(ranges or {}),
    }
    if currency.upper() == inputs.quote_currency and not (ranges and "quote_fx_per_usd" in ranges):
        # presented in the quoting currency, its quoted amounts do not move with the rate
        chosen.pop("quote_fx_per_usd", None)
    rate = output_fx(currency, book, fac, fx_per_usd=fx_per_usd)
    return RangedTco.of(evaluate(inputs, currency.upper(), rate), chosen)


def rental_rate(catalog: Catalog, device: str, prices: str = "international-2025") -> float:
    """The price book's rental rate for ``device`` in USD per card-hour."""
    book = catalog.prices(prices)
    card = catalog.device(device)
    if card.name not in book.rental_per_card_hour:
        raise AccelsimError(
            f"price book {book.name!r} has no rental rate for {card.name!r} (it has: "
            f"{', '.join(book.rental_per_card_hour) or 'none'}); give the rate explicitly"
        )
    return book.rental_per_card_hour[card.name] / units_per_usd(book)
