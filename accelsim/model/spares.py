"""Spare nodes that keep a sized cluster's capacity whole at a chosen availability.

A node is out of service when any of its cards or the rest of it (CPUs, memory, NICs, power
supplies, boards) fails, until it is repaired or replaced: it fails at
``rate = cards_per_node * card_failures_per_year + node_failures_per_year`` per year and is out
for ``repair_time``. Assumptions: failures are independent and memoryless (a Poisson process
per node), a spare node takes over a failed one at once (hot spares, the serving stack routes
around the failed replica), and repairs do not queue. Each of the ``m = nodes + spares``
nodes is then down with the steady-state probability of an alternating renewal process,
``p = rate * r / (1 + rate * r)`` (``r``: repair time in years), independently, so the nodes
down at once are ``Binomial(m, p)``. The spares are the fewest ``s`` with
``P(Binomial(nodes + s, p) <= s) >= availability``: the sized capacity is whole at least that
share of the time. That probability never falls as ``s`` grows (one more node adds at most one
down while one more down is allowed), so the fewest is found by doubling then bisection. Spare
nodes are bought whole (cards included), so they enter capex.

The binomial terms are summed in log space (``math.lgamma``), exact for any cluster size."""

from __future__ import annotations

import math
from dataclasses import dataclass

from accelsim.errors import AccelsimError

__all__ = ["SECONDS_PER_YEAR", "SpareInputs", "SparePlan", "capacity_availability", "spares_for"]

#: 365.25 days of 86,400 s (a Julian year).
SECONDS_PER_YEAR = 365.25 * 86400.0
_MAX_SPARES = 100_000


@dataclass(frozen=True)
class SpareInputs:
    """The sized cluster and its failure figures (``repair_time`` in seconds)."""

    nodes: int
    cards_per_node: int
    card_failures_per_year: float
    node_failures_per_year: float
    repair_time: float
    availability: float

    def __post_init__(self) -> None:
        if self.nodes < 0 or self.cards_per_node < 1:
            raise AccelsimError("spares: nodes must be >= 0 and cards per node >= 1")
        if self.card_failures_per_year < 0 or self.node_failures_per_year < 0:
            raise AccelsimError("spares: failure rates cannot be negative")
        if self.repair_time < 0:
            raise AccelsimError("spares: repair time cannot be negative")
        if not 0 < self.availability < 1:
            raise AccelsimError(
                f"availability {self.availability:g}: expected a fraction in (0, 1), e.g. 0.999"
            )

    @property
    def node_rate(self) -> float:
        """Failures per node-year (cards and the rest of the node)."""
        return self.cards_per_node * self.card_failures_per_year + self.node_failures_per_year

    @property
    def down_probability(self) -> float:
        """Steady-state probability that one node is out of service."""
        x = self.node_rate * self.repair_time / SECONDS_PER_YEAR
        return x / (1.0 + x)


@dataclass(frozen=True)
class SparePlan:
    """``spares`` spare nodes (``spare_cards`` cards) for ``nodes`` sized nodes; the expected
    nodes down at once, and the availability of whole capacity with and without the spares."""

    nodes: int
    spares: int
    spare_cards: int
    down_probability: float
    expected_down: float
    availability_target: float
    availability: float
    availability_without: float

    def as_dict(self) -> dict[str, float | int]:
        return {
            "nodes": self.nodes,
            "spare_nodes": self.spares,
            "spare_cards": self.spare_cards,
            "node_down_probability": self.down_probability,
            "expected_nodes_down": self.expected_down,
            "availability_target": self.availability_target,
            "availability": self.availability,
            "availability_without_spares": self.availability_without,
        }


def capacity_availability(nodes: int, spares: int, p: float) -> float:
    """``P(Binomial(nodes + spares, p) <= spares)``: the share of time at most ``spares`` of
    the ``nodes + spares`` nodes are down."""
    m = nodes + spares
    if p <= 0.0 or m == 0:
        return 1.0
    if p >= 1.0:
        return 1.0 if m <= spares else 0.0
    lp, lq = math.log(p), math.log1p(-p)
    total = 0.0
    for j in range(min(spares, m) + 1):
        log_term = math.lgamma(m + 1) - math.lgamma(j + 1) - math.lgamma(m - j + 1)
        total += math.exp(log_term + j * lp + (m - j) * lq)
    return min(total, 1.0)


def spares_for(inputs: SpareInputs) -> SparePlan:
    """The fewest spare nodes meeting ``inputs.availability`` (see the module docstring)."""
    p = inputs.down_probability
    target = inputs.availability

    def enough(k: int) -> bool:
        return capacity_availability(inputs.nodes, k, p) >= target

    # the availability grows with the spares: double to a count that is enough, then bisect
    hi = 1
    while not enough(hi):
        hi *= 2
        if hi > _MAX_SPARES:  # pragma: no cover - p < 1 always converges well before this
            raise AccelsimError("spares: no spare count reaches the availability target")
    lo = -1  # not enough (no spares at all is checked by the bisection)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if mid >= 0 and enough(mid):
            hi = mid
        else:
            lo = mid
    s = hi
    return SparePlan(
        nodes=inputs.nodes,
        spares=s,
        spare_cards=s * inputs.cards_per_node,
        down_probability=p,
        expected_down=inputs.nodes * p,
        availability_target=target,
        availability=capacity_availability(inputs.nodes, s, p),
        availability_without=capacity_availability(inputs.nodes, 0, p),
    )
