"""Placing a cluster's servers in a facility's racks: racks, kW per rack, and whether the
facility can host it.

Inputs are plain numbers (``RackInputs``: the node's power at load, its rack units, cooling, a
rack-scale system's nodes per rack; ``RackLimits``: the facility's power per rack, cooling,
usable rack units, racks on offer). A rack holds ``min(floor(rack_power / node_power),
floor(rack_units / node_units))`` nodes, or a rack-scale system's ``nodes_per_rack`` (its racks
are built for it: the facility must supply that rack's whole power). The cluster takes
``ceil(nodes / per_rack)`` racks; the fullest draws ``per_rack * node_power``, the figure a
facility's per-rack limit is checked against.

The node's power at load is the server's rated ``max_power`` (nameplate: what a colocation
provisions) when the catalog gives it, else its host power plus its cards' TDP (the same
provisioned power ``accelsim.model.cost`` bills colocation on). Assumption: racks hold servers
only — top-of-rack switches, PDUs and cable management share the rack units the facility calls
usable.

A cluster is not hostable when one node draws more than a rack supplies, when the facility
lacks the node's cooling (a liquid-cooled system in an air-only hall), or when it takes more
racks than the facility offers; ``place`` then says why and the nearest option that is
feasible (the largest cluster the racks on offer hold, or the power per rack and cooling a
facility would need)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from accelsim.errors import AccelsimError

__all__ = ["RackInputs", "RackLimits", "RackPlacement", "place"]


@dataclass(frozen=True)
class RackInputs:
    """The cluster: ``nodes`` servers of ``cards_per_node`` cards, each drawing ``node_power``
    watts at load, ``rack_units`` high, cooled by ``cooling`` (None: not stated), or
    ``nodes_per_rack`` to a rack for a rack-scale system."""

    server: str
    nodes: int
    cards_per_node: int
    node_power: float
    rack_units: float | None
    cooling: str | None = None
    nodes_per_rack: float | None = None

    def __post_init__(self) -> None:
        if self.nodes < 0 or self.cards_per_node < 1 or self.node_power <= 0:
            raise AccelsimError("racks: nodes, cards per node and node power must be positive")


@dataclass(frozen=True)
class RackLimits:
    """The facility: ``rack_power`` watts per rack (None: no limit stated), the cooling kinds
    it offers, usable rack units per rack, racks on offer (None: unlimited)."""

    facility: str
    rack_power: float | None
    cooling: tuple[str, ...] = ("air",)
    rack_units: float = 42.0
    racks_available: int | None = None


@dataclass(frozen=True)
class RackPlacement:
    """Where the cluster goes: ``per_rack`` nodes to a rack, ``racks`` racks, the fullest
    rack's draw (``rack_kw``), the cluster's total (``total_kw``), and, when ``hostable`` is
    false, ``reason`` and ``nearest`` (the nearest feasible option)."""

    facility: str
    server: str
    nodes: int
    per_rack: int
    racks: int
    rack_kw: float
    total_kw: float
    limit_kw: float | None
    hostable: bool
    reason: str = ""
    nearest: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "facility": self.facility,
            "server": self.server,
            "nodes": self.nodes,
            "nodes_per_rack": self.per_rack,
            "racks": self.racks,
            "kw_per_rack": self.rack_kw,
            "total_kw": self.total_kw,
            "facility_kw_per_rack": self.limit_kw,
            "hostable": self.hostable,
            "reason": self.reason,
            "nearest": self.nearest,
        }


def _refused(c: RackInputs, f: RackLimits, reason: str, nearest: str, **k: float) -> RackPlacement:
    return RackPlacement(
        facility=f.facility,
        server=c.server,
        nodes=c.nodes,
        per_rack=int(k.get("per_rack", 0)),
        racks=int(k.get("racks", 0)),
        rack_kw=k.get("rack_kw", 0.0),
        total_kw=c.nodes * c.node_power / 1000.0,
        limit_kw=None if f.rack_power is None else f.rack_power / 1000.0,
        hostable=False,
        reason=reason,
        nearest=nearest,
    )


def place(c: RackInputs, f: RackLimits) -> RackPlacement:
    """Place cluster ``c`` in facility ``f`` (see the module docstring)."""
    kw = c.node_power / 1000.0
    if c.cooling is not None and c.cooling not in f.cooling:
        return _refused(
            c,
            f,
            f"{c.server} is {c.cooling}-cooled; {f.facility} offers {'/'.join(f.cooling)} cooling",
            f"a facility with {c.cooling} cooling",
        )
    if c.nodes_per_rack is not None:
        per_rack = math.floor(c.nodes_per_rack + 1e-9)
        if per_rack < 1:
            raise AccelsimError(f"racks: {c.server} nodes_per_rack must be at least 1")
        rack_w = c.nodes_per_rack * c.node_power
        if f.rack_power is not None and rack_w > f.rack_power * (1 + 1e-9):
            return _refused(
                c,
                f,
                f"one {c.server} rack draws {rack_w / 1000:.1f} kW; {f.facility} racks supply "
                f"{f.rack_power / 1000:.1f} kW",
                f"a facility with at least {rack_w / 1000:.1f} kW per rack",
            )
    else:
        if c.rack_units is None:
            raise AccelsimError(f"racks: server {c.server} has no rack_units in the catalog")
        by_space = math.floor(f.rack_units / c.rack_units + 1e-9)
        by_power = (
            by_space if f.rack_power is None else math.floor(f.rack_power / c.node_power + 1e-9)
        )
        per_rack = min(by_space, by_power)
        if per_rack < 1:
            if by_space < 1:
                why = (
                    f"one {c.server} is {c.rack_units:g}U; {f.facility} racks hold "
                    f"{f.rack_units:g}U"
                )
                need = f"racks of at least {c.rack_units:g}U"
            else:
                assert f.rack_power is not None
                why = (
                    f"one {c.server} draws {kw:.1f} kW at load; {f.facility} racks supply "
                    f"{f.rack_power / 1000:.1f} kW"
                )
                need = f"a facility with at least {kw:.1f} kW per rack"
            return _refused(c, f, why, need)
    racks = math.ceil(c.nodes / per_rack) if c.nodes else 0
    rack_kw = min(per_rack, c.nodes) * kw
    if f.racks_available is not None and racks > f.racks_available:
        most = f.racks_available * per_rack * c.cards_per_node
        return _refused(
            c,
            f,
            f"{c.nodes} x {c.server} take {racks} racks; {f.facility} offers {f.racks_available}",
            f"at most {most} cards ({f.racks_available} racks of {per_rack} node(s))",
            per_rack=per_rack,
            racks=racks,
            rack_kw=rack_kw,
        )
    return RackPlacement(
        facility=f.facility,
        server=c.server,
        nodes=c.nodes,
        per_rack=per_rack,
        racks=racks,
        rack_kw=rack_kw,
        total_kw=c.nodes * kw,
        limit_kw=None if f.rack_power is None else f.rack_power / 1000.0,
        hostable=True,
    )
