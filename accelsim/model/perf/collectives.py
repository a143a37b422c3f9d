"""Alpha-beta collectives over one fabric level.

A ``Link`` is one fabric as seen from one rank: achievable bandwidth per direction
(``fabric.bandwidth_per_card / dies * fraction``, the fraction being the fabric's measured
``achievable_fraction`` when set, else the card's ``collective_fraction``) and a per-step latency
(``fabric.latency``). Topology matters for scale-up fabrics: on a ``switch`` (NVSwitch) or a
``supernode`` (UB) a rank reaches any peer set at full per-card bandwidth; on a ``full_mesh``
(HCCS) each peer is one link, so a collective among ``n`` ranks of the mesh uses only ``n - 1``
links: ``min(bandwidth_per_card, (n - 1) * link_bandwidth)``.

Formulas (``S`` bytes per rank, ``n`` ranks, ``B`` link bandwidth, ``a`` latency):

- all-reduce: ring bandwidth term ``2 (n-1)/n * S / B`` plus ``2 ceil(log2 n) * a`` (the
  latency of a tree/recursive-doubling small-message algorithm);
- all-gather / reduce-scatter: ``(n-1)/n * S / B + ceil(log2 n) * a`` (``S`` = full output);
- all-to-all and point-to-point: ``bytes / B + a``, bytes as sent by the busiest rank.

``Fabrics`` holds a rank's two levels: ``n`` consecutive ranks talk over the scale-up fabric
when they fit its domain (``domain_ranks``), else over the scale-out fabric.

Ignored: congestion between concurrent collectives, NIC-rail topology, SHARP/NVLS in-network
reduction (which the measured collective_fraction partly absorbs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from accelsim.catalog.devices import Fabric

__all__ = ["Fabrics", "Link", "all_gather", "all_reduce", "all_to_all", "p2p", "reduce_scatter"]


@dataclass(frozen=True)
class Link:
    """One fabric level from one rank's point of view."""

    name: str
    bandwidth: float  # bytes/s per direction per rank, peak over the whole card's links
    link_bandwidth: float | None  # per peer link on a full mesh
    topology: str
    latency: float
    fraction: float  # achievable share (fabric's achievable_fraction or card's default)

    @staticmethod
    def of(fabric: Fabric, dies: int, fraction: float) -> Link:
        """``fabric`` seen from one of ``dies`` ranks of a card whose default achievable share
        is ``fraction`` (the fabric's own ``achievable_fraction`` wins when set)."""
        lb = fabric.link_bandwidth
        return Link(
            name=fabric.name,
            bandwidth=fabric.bandwidth_per_card / dies,
            link_bandwidth=None if lb is None else lb / dies,
            topology=fabric.topology,
            latency=fabric.latency,
            fraction=fabric.fraction(fraction),
        )

    def rate(self, peers: int) -> float:
        """Achievable bytes/s from one rank to ``peers`` other ranks together."""
        bw = self.bandwidth
        if self.topology == "full_mesh" and self.link_bandwidth and peers > 0:
            bw = min(bw, peers * self.link_bandwidth)
        return bw * self.fraction


@dataclass(frozen=True)
class Fabrics:
    """The scale-up and scale-out fabrics of one rank, and the ranks one scale-up domain joins."""

    up: Link
    out: Link
    domain_ranks: int

    def link(self, n: int) -> Link:
        """The fabric ``n`` consecutive ranks talk over (scale-up when they fit its domain)."""
        return self.up if n <= self.domain_ranks else self.out


def _log2(n: int) -> int:
    return math.ceil(math.log2(n)) if n > 1 else 0


def all_reduce(link: Link, size: float, n: int) -> float:
    if n <= 1 or size <= 0:
        return 0.0
    return 2.0 * (n - 1) / n * size / link.rate(n - 1) + 2 * _log2(n) * link.latency


def all_gather(link: Link, size: float, n: int) -> float:
    if n <= 1 or size <= 0:
        return 0.0
    return (n - 1) / n * size / link.rate(n - 1) + _log2(n) * link.latency


reduce_scatter = all_gather


def all_to_all(link: Link, sent: float, peers: int) -> float:
    """Seconds for one rank to exchange ``sent`` bytes with ``peers`` other ranks."""
    if peers <= 0 or sent <= 0:
        return 0.0
    return sent / link.rate(peers) + link.latency


def p2p(link: Link, size: float) -> float:
    if size <= 0:
        return 0.0
    return size / link.rate(1) + link.latency
