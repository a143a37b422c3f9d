"""What a simulation is given to serve on: replica pools and the P/D link (``Pool``,
``KVTransfer``), and how a pool splits into micro-batch streams (``stages_of``).

Records only, no simulation: ``accelsim.sim.engine`` runs them. A pool with a pipeline-parallel
model (``pipeline_stages`` ``pp`` > 1) is simulated as ``pp`` micro-batch streams per replica,
each counting ``1/pp`` of the replica's cards (see the engine's module docstring).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from accelsim.errors import AccelsimError
from accelsim.model.batch import IterationModel
from accelsim.sim.admission import SchedulerConfig

__all__ = ["KVTransfer", "Pool", "stages_of", "stream_cards"]


@dataclass(frozen=True)
class Pool:
    """A group of identical replicas: their timing model, count and KV capacity."""

    model: IterationModel
    replicas: int = 1
    kv_tokens: int = 1 << 30
    kv_tokens_per_seq: int | None = None
    cards_per_replica: float = 1  # cards (packages) of one replica: ranks / dies per card
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)


@dataclass(frozen=True)
class KVTransfer:
    """The prefill -> decode link of one prefill replica."""

    kv_bytes_per_token: float
    link_bandwidth: float
    link_latency: float = 0.0


def stages_of(pool: Pool) -> int:
    """Pipeline stages of ``pool``'s model (``pipeline_stages``; 1 when it has none)."""
    stages = getattr(pool.model, "pipeline_stages", 1)
    if not (isinstance(stages, int) and stages >= 1):
        raise AccelsimError(f"pipeline_stages must be a whole number >= 1 (got {stages!r})")
    return stages


def stream_cards(pool: Pool) -> float:
    """Cards one micro-batch stream of ``pool`` counts for (busy time, energy)."""
    stages = stages_of(pool)
    return pool.cards_per_replica / stages if stages > 1 else pool.cards_per_replica
