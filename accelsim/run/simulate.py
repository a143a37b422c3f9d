"""Running a scenario: its ``Deployment``'s pools in the serving simulator, one summary out.

``run_scenario`` deploys the scenario (``accelsim.run.resolve.deploy``, unless it is handed a
``Deployment``), draws its traffic (``accelsim.sim.traffic.generate``; the traffic and the
router each get their own stream spawned from the scenario's ``seed``), keeps the arrivals
before ``horizon`` when one is set, and simulates the pools (``accelsim.sim.engine.simulate``).
The summary names the scenario, its digest, device and model; its ``cards`` counts packages,
a whole number when the deployment fills whole cards.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from accelsim.catalog.loader import Catalog
from accelsim.run.resolve import Deployment, deploy, file_resolver
from accelsim.run.scenario import Scenario
from accelsim.sim.engine import Pool, simulate
from accelsim.sim.metrics import SimResult
from accelsim.sim.traffic import Requests, check_context, generate

__all__ = ["run_scenario"]


def run_scenario(
    sc: Scenario | Deployment,
    catalog: Catalog,
    *,
    progress: Any = None,
    event_skipping: bool = True,
) -> SimResult:
    """Simulate ``sc`` (a scenario, deployed here, or its ``Deployment``)."""
    dep = deploy(sc, catalog)
    sc = dep.scenario
    pools = [
        Pool(p.perf, p.plan.replicas, p.kv_tokens, p.kv_tokens_per_seq, p.cards_per_replica,
             p.scheduler)
        for p in dep.pools
    ]  # fmt: skip
    seeds = np.random.SeedSequence(sc.seed).spawn(2)
    requests = generate(sc.traffic_spec, np.random.default_rng(seeds[0]), file_resolver(catalog))
    traffic = sc.traffic_spec
    where = f"traffic trace {traffic.trace}" if traffic.trace else f"scenario {sc.name}: traffic"
    check_context(requests, dep.model.max_context, sc.model, where)
    cut = None
    if sc.horizon is not None:
        keep = ~(requests.arrived_at >= sc.horizon)
        cut = int((~keep).sum())
        if not keep.all():
            requests = Requests(
                requests.arrived_at[keep],
                requests.prompt_tokens[keep],
                requests.output_tokens[keep],
                requests.cached_tokens[keep],
                requests.clients,
                requests.think_time,
            )
    result = simulate(
        requests,
        pools[0],
        decode_pool=pools[1] if dep.disaggregated else None,
        transfer=dep.transfer,
        router=sc.router,
        seed=np.random.default_rng(seeds[1]),
        event_skipping=event_skipping,
        slo_ttft=sc.slo.ttft,
        slo_tpot=sc.slo.tpot,
        card_power=(dep.card.idle_power, dep.card.tdp),
        progress=progress,
        scenario=sc,
    )
    cards = result.summary.cards
    if isinstance(cards, float) and cards.is_integer():  # 2 one-die replicas of a 910C: 1 card
        cards = int(cards)
    result.summary = replace(
        result.summary,
        cards=cards,
        scenario=sc.name,
        digest=sc.digest,
        device=sc.device,
        model=sc.model,
        cut_by_horizon=cut,
    )
    return result
