"""What a launch recipe must realise: a resolved ``Deployment`` reduced to the settings a serving
framework is launched with (``LaunchSpec``), one ``PoolLaunch`` per pool.

Everything here is read from the deployment the answer assumed, never re-derived: the plan of
each pool (``tp``, attention data-parallel ``dp``, ``ep``, ``pp``, ``replicas``, redundant
experts, micro-batch overlap, the LM head's split), the memory fraction the memory fit used
(``accelsim.run.resolve.memory_options``: the pool's own, the scenario framework's, the
framework profile's default, else ``accelsim.model.plan.RESERVE_FRACTION``'s complement,
vLLM's 0.9 default), the scheduler's caps (``max_seqs``, ``max_batched_tokens``, the
chunked-prefill policy, the KV block size) and speculative decoding. A replica's ranks are
packed onto whole servers: ``nodes`` servers of ``ranks_per_node`` ranks each (a plan of fewer
ranks than a server holds runs on one).

The model's checkpoint is the Hugging Face repository the catalog's model file cites (the first
``huggingface.co/ORG/NAME`` source), else the catalog name."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from accelsim.catalog.loader import Catalog
from accelsim.catalog.workloads import ModelArch
from accelsim.model.plan import RESERVE_FRACTION, ParallelPlan
from accelsim.run.resolve import DeployedPool, Deployment, framework_profile, memory_options

__all__ = ["LaunchSpec", "PoolLaunch", "SpecLaunch", "launch_spec"]

_HF = re.compile(r"https?://huggingface\.co/([^/\s]+/[^/\s]+)")


@dataclass(frozen=True)
class SpecLaunch:
    """Speculative decoding as launched: ``method`` (``mtp``, ``eagle``, ``eagle3``),
    ``draft_tokens`` proposals per step and the separate draft model's checkpoint, if any."""

    method: str
    draft_tokens: int
    draft_checkpoint: str | None


@dataclass(frozen=True)
class PoolLaunch:
    """One pool's launch settings (``role``: ``serving``, ``prefill`` or ``decode``)."""

    role: str
    plan: ParallelPlan
    replicas: int
    tp: int
    dp: int
    ep: int
    pp: int
    redundant_experts: int
    micro_batch_overlap: bool
    lm_head_tp: int
    memory_fraction: float
    max_seqs: int
    max_batched_tokens: int
    chunked_prefill: bool
    static_batching: bool
    block_size: int
    nodes: int
    ranks_per_node: int

    @property
    def ranks_per_replica(self) -> int:
        return self.tp * self.dp * self.pp


@dataclass(frozen=True)
class LaunchSpec:
    """The whole deployment as launched: the model checkpoint, the card and its vendor, the
    server's ranks, the pools (one colocated, or prefill then decode) and speculative decoding."""

    scenario: str
    model: str
    family: str
    moe: bool
    checkpoint: str
    context: int
    device: str
    vendor: str
    server: str
    ranks_per_server: int
    dies: int
    dtype: str
    pools: tuple[PoolLaunch, ...]
    speculative: SpecLaunch | None
    preemption: str
    #: the serving framework the run was simulated as (``framework.name``; None: vLLM defaults)
    framework: str | None = None

    @property
    def disaggregated(self) -> bool:
        return len(self.pools) == 2


def _checkpoint(model: ModelArch) -> str:
    for src in model.sources.values():
        m = _HF.match(str(src.url or ""))
        if m:
            return m.group(1)
    return model.name


def _memory_fraction(d: Deployment, p: DeployedPool, catalog: Catalog) -> float:
    """The fraction the pool's memory fit used: ``memory_options`` as ``deploy`` calls it."""
    sc = d.scenario
    own = None
    if d.disaggregated and sc.disaggregation is not None:
        own = getattr(sc.disaggregation, p.role).memory_fraction
    options = memory_options(
        sc,
        None,
        own,
        profile=framework_profile(sc, catalog),
        ranks=p.plan.ranks_per_replica,
    )
    return 1.0 - options.get("reserve_fraction", RESERVE_FRACTION)


def _pool(d: Deployment, p: DeployedPool, ranks_per_server: int, catalog: Catalog) -> PoolLaunch:
    plan, sched = p.plan, p.scheduler
    per = plan.ranks_per_replica
    nodes = max(1, math.ceil(per / ranks_per_server))
    return PoolLaunch(
        role=p.role,
        plan=plan,
        replicas=plan.replicas,
        tp=plan.tp,
        dp=plan.dp,
        ep=plan.ep,
        pp=plan.pp,
        redundant_experts=plan.redundant_experts,
        micro_batch_overlap=plan.micro_batch_overlap,
        lm_head_tp=plan.head_tp,
        memory_fraction=_memory_fraction(d, p, catalog),
        max_seqs=sched.max_seqs,
        max_batched_tokens=sched.max_batched_tokens,
        chunked_prefill=sched.policy == "chunked_prefill",
        static_batching=sched.policy == "static",
        block_size=sched.block_size,
        nodes=nodes,
        ranks_per_node=min(per, ranks_per_server),
    )


def launch_spec(d: Deployment, catalog: Catalog) -> LaunchSpec:
    """The launch settings of deployment ``d`` (see the module docstring; ``catalog`` gives the
    framework profile whose default memory fraction the fit used)."""
    ranks_per_server = d.server.cards_per_node * d.card.dies
    spec = d.scenario.speculative
    return LaunchSpec(
        scenario=d.scenario.name,
        model=d.model.name,
        family=d.model.family,
        moe=d.model.moe is not None,
        checkpoint=_checkpoint(d.model),
        context=d.scenario.context,
        device=d.card.name,
        vendor=d.card.vendor,
        server=d.server.name,
        ranks_per_server=ranks_per_server,
        dies=d.card.dies,
        dtype=d.scenario.dtype,
        pools=tuple(_pool(d, p, ranks_per_server, catalog) for p in d.pools),
        speculative=(
            None
            if spec is None or spec.draft_tokens == 0
            else SpecLaunch(
                spec.method,
                spec.draft_tokens,
                None if d.draft is None else _checkpoint(d.draft),
            )
        ),
        preemption=d.scenario.scheduler.preemption,
        framework=None if d.scenario.framework is None else d.scenario.framework.name,
    )
