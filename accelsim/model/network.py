"""The scale-out network of a cluster: switch tiers, switches and links (pure: counts in).

``nics_per_node = ceil(cards_per_node * nics_per_card)`` ports per node. One node needs no
switch; two nodes are cabled back to back (reference/tco.md [T9]: "<=2 nodes direct"). If all
NIC ports fit one switch it is one switch; otherwise the fabric is *rail-optimized* (one plane
per NIC position, ``nodes`` endpoints per plane) and each plane is a non-blocking folded Clos of
``radix``-port switches: ``t`` tiers serve up to ``radix * (radix/2)**(t-1)`` endpoints; every
tier below the top has ``ceil(E / (radix/2))`` switches, the top ``ceil(E / radix)``; every tier
carries ``E`` links. Check ([T9]): 128 nodes x 8 NICs, 64-port switches -> 2 tiers,
8 x (4 + 2) = 48 switches, 2,048 links. ``accelsim.model.cost`` prices the result (optics per
link end, cables per link).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from accelsim.errors import AccelsimError

__all__ = ["DEFAULT_SWITCH_RADIX", "NetworkSizing", "size_network"]

#: Switch radix used when the price book names a switch price but no radix (a 64-port
#: 400G InfiniBand/Ethernet switch, reference/tco.md section 2); an assumption.
DEFAULT_SWITCH_RADIX = 64


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
