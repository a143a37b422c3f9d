"""A sized cluster's racks and spares, from the catalog: the server's rack units, cooling,
power at load and failure rates, and the facility's rack limits, handed to the pure models
``accelsim.model.racks`` and ``accelsim.model.spares``; ``colocation_billed_w`` is the
rack-priced colocation ``accelsim.run.pricing`` bills.

The node's power at load is the server's rated ``max_power`` when the catalog gives it, else
its ``host_power`` plus ``cards_per_node`` x the card's TDP (see ``accelsim.model.racks``)."""

from __future__ import annotations

import math
from dataclasses import replace

from accelsim.catalog.devices import Card, Server
from accelsim.catalog.loader import Catalog
from accelsim.catalog.prices import FacilityProfile
from accelsim.errors import AccelsimError
from accelsim.model.racks import RackInputs, RackLimits, RackPlacement, place
from accelsim.model.spares import SpareInputs, SparePlan, spares_for

__all__ = [
    "DEFAULT_AVAILABILITY",
    "colocation_billed_w",
    "deployment_figures",
    "node_power",
    "rack_placement",
    "spare_cards",
    "spare_plan",
]

#: The share of time the sized capacity must be whole (assumption: "three nines" of
#: capacity, a common serving target; ``--availability`` changes it).
DEFAULT_AVAILABILITY = 0.999


def node_power(server: Server, card: Card) -> float:
    """Watts one node draws at load: rated ``max_power``, else host + cards' TDP."""
    if server.max_power is not None:
        return server.max_power
    return server.host_power + server.cards_per_node * card.tdp


def _limits(fac: FacilityProfile) -> RackLimits:
    return RackLimits(
        facility=fac.name,
        rack_power=fac.rack_power,
        cooling=tuple(fac.cooling),
        rack_units=fac.rack_units_per_rack,
        racks_available=fac.racks_available,
    )


def rack_placement(
    catalog: Catalog,
    device: str,
    cards: int | float,
    facility: str,
    extra_nodes: int = 0,
    server: str | None = None,
) -> RackPlacement:
    """The racks ``cards`` cards of ``device`` (in ``server``, default the card's, plus
    ``extra_nodes`` spare nodes) take in ``facility``; when a single node or rack cannot go
    there at all, the nearest option names the catalog's facilities that could host it."""
    card = catalog.device(device)
    srv = catalog.server(server) if server else catalog.server_for(card)
    fac = catalog.facility(facility)
    if fac.rack_power is None:
        raise AccelsimError(f"facility {facility}: no rack_power in the catalog (kW per rack)")
    nodes = math.ceil(cards / srv.cards_per_node - 1e-9) + extra_nodes
    inputs = RackInputs(
        server=srv.name,
        nodes=nodes,
        cards_per_node=srv.cards_per_node,
        node_power=node_power(srv, card),
        rack_units=srv.rack_units,
        cooling=srv.cooling,
        nodes_per_rack=srv.nodes_per_rack,
    )
    out = place(inputs, _limits(fac))
    if out.hostable or out.per_rack:
        return out
    hosts = [
        f.name
        for f in catalog.all("facility")
        if f.name != facility and f.rack_power is not None and place(inputs, _limits(f)).hostable
    ]
    where = f" ({', '.join(hosts)} in the catalog)" if hosts else " (none in the catalog)"
    return replace(out, nearest=out.nearest + where)


def spare_plan(
    catalog: Catalog, device: str, cards: int | float, availability: float = DEFAULT_AVAILABILITY
) -> SparePlan:
    """The spare nodes that keep ``cards`` cards of ``device`` whole at ``availability``."""
    card = catalog.device(device)
    server = catalog.server_for(card)
    missing = [
        f
        for f in ("card_failures_per_year", "node_failures_per_year", "repair_time")
        if getattr(server, f) is None
    ]
    if missing:
        raise AccelsimError(f"server {server.name}: no {', '.join(missing)} in the catalog")
    assert server.card_failures_per_year is not None and server.node_failures_per_year is not None
    assert server.repair_time is not None
    return spares_for(
        SpareInputs(
            nodes=math.ceil(cards / server.cards_per_node - 1e-9),
            cards_per_node=server.cards_per_node,
            card_failures_per_year=server.card_failures_per_year,
            node_failures_per_year=server.node_failures_per_year,
            repair_time=server.repair_time,
            availability=availability,
        )
    )


def deployment_figures(
    catalog: Catalog,
    device: str,
    cards: int | float,
    facility: str,
    availability: float | None = None,
) -> dict[str, object]:
    """What ``size`` and the report print for a sized cluster: its spares at ``availability``
    (none when ``None``) and the racks the cluster and its spares take in ``facility``
    (``None`` with a note when the facility states no power per rack)."""
    out: dict[str, object] = {"spares": None, "racks": None, "note": ""}
    extra = 0
    if availability is not None:
        plan = spare_plan(catalog, device, cards, availability)
        out["spares"] = plan.as_dict()
        extra = plan.spares
    if catalog.facility(facility).rack_power is None:
        out["note"] = f"facility {facility} states no power per rack: racks not placed"
        return out
    out["racks"] = rack_placement(catalog, device, cards, facility, extra_nodes=extra).as_dict()
    return out


def colocation_billed_w(
    catalog: Catalog, device: str, cards: int | float, facility: str, server: str
) -> float | None:
    """The power a colocation bills for the cluster when priced by the racks it takes (watts):
    each rack reserved at its fullest rack's draw, racks x nodes per rack x the node's power
    at load — an assumption of how a contract sizes its racks (a part-filled last rack is
    billed as full, the rated power rather than the cards' TDP). ``None`` (bill the
    provisioned IT power) when the facility states no power per rack, the server no rack
    units, or the cluster is not hostable there (``size`` says why)."""
    fac = catalog.facility(facility)
    srv = catalog.server(server)
    if fac.rack_power is None or (srv.rack_units is None and srv.nodes_per_rack is None):
        return None
    placed = rack_placement(catalog, device, cards, facility, server=server)
    return placed.racks * placed.rack_kw * 1000.0 if placed.hostable else None


def spare_cards(
    catalog: Catalog, device: str, cards: int | float, availability: float | None
) -> int:
    """Cards in the spare nodes ``spare_plan`` gives at ``availability`` (0 when ``None``)."""
    if availability is None:
        return 0
    return spare_plan(catalog, device, cards, availability).spare_cards
