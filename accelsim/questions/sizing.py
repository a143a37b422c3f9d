"""Capacity planning: the fewest cards of a device that meet the SLOs at a load.

Method (issue "TCO and capacity planning"):

1. the *replica shape* is the smallest whole-node deployment whose best candidate plan holds the
   model with KV room for ``min_batch`` sequences of the scenario's context
   (``accelsim.model.plan.minimum_cards``), unless the scenario names a plan for this device, or
   ``plan`` names one (``"tp=4,dp=8,ep=32"``; its ``replicas`` is ignored), or ``plan="auto"``:
   then ``accelsim.questions.tune`` searches colocated plans and scheduler limits on a budget of
   that smallest deployment's card count, at the scenario's traffic and SLOs, and the best
   plan's replica (with its scheduler limits) becomes the shape — a budget of 32 cards may
   come back as two 16-card replicas;
2. the serving simulator runs the scenario's traffic on ``r`` replicas of that shape; ``r``
   doubles from 1 until the SLOs hold (p99 TTFT <= ``slo.ttft``, p99 TPOT <= ``slo.tpot``, and no
   request rejected), then bisects between the last failing and first passing ``r``; every run is
   kept, so no size is simulated twice. Cards count packages and plans ranks (dies on a
   multi-die card): a replica of an odd number of 910C dies is added two at a time, so every
   size is whole cards;
3. a load no size up to ``max_cards`` can meet is an answer (``attainable`` False, with the best
   figures achieved), not an error.

Assumption: SLO attainment is monotone in the replica count (more replicas never worsen the
p99s), which holds for the routers here up to simulation noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from accelsim.catalog.devices import packages
from accelsim.catalog.loader import Catalog
from accelsim.errors import AccelsimError
from accelsim.model.plan import MemoryFit, ParallelPlan, fit, minimum_cards, parse_plan
from accelsim.questions.tune import TUNE_SLO_METRICS, TuneResult, tune
from accelsim.run.resolve import Deployment, deploy
from accelsim.run.scenario import Scenario
from accelsim.run.simulate import run_scenario
from accelsim.sim.admission import SchedulerConfig
from accelsim.sim.metrics import METRICS, Summary

__all__ = [
    "SLO_METRICS",
    "SizedRun",
    "SizingResult",
    "replica_shape",
    "size_cluster",
    "slo_check",
    "tuned_shape",
]

#: SLO keys ``size`` understands: names of latency metrics (``accelsim.sim.metrics.METRICS``).
SLO_METRICS = ("ttft_p50", "ttft_p90", "ttft_p99", "tpot_p50", "tpot_p90", "tpot_p99", "e2e_p99")


def slo_targets(sc: Scenario, extra: dict[str, float] | None = None) -> dict[str, float]:
    """The scenario's SLOs as ``{metric: seconds}`` (p99 by default), plus ``extra``."""
    targets: dict[str, float] = {}
    if sc.slo.ttft is not None:
        targets["ttft_p99"] = sc.slo.ttft
    if sc.slo.tpot is not None:
        targets["tpot_p99"] = sc.slo.tpot
    for key, value in (extra or {}).items():
        if key not in SLO_METRICS:
            raise AccelsimError(f"unknown SLO metric {key!r} (known: {', '.join(SLO_METRICS)})")
        targets[key] = value
    return targets


def slo_check(summary: Summary, targets: dict[str, float]) -> tuple[bool, float]:
    """Whether ``summary`` meets ``targets``; the margin is min(target / achieved) (>= 1 ok)."""
    margin = float("inf")
    for key, target in targets.items():
        achieved = METRICS[key].get(summary)
        if achieved is None:
            return False, 0.0
        margin = min(margin, target / achieved if achieved > 0 else float("inf"))
    ok = margin >= 1.0 and summary.rejected == 0
    return ok, margin


def replica_shape(
    sc: Scenario | Deployment,
    catalog: Catalog,
    device: str,
    *,
    use_scenario_plan: bool = True,
    plan: str | ParallelPlan | None = None,
) -> MemoryFit | None:
    """The one-replica deployment used for ``device`` (see the module docstring; ``plan`` here
    is a plan in the grammar of ``accelsim.model.plan`` — ``"auto"`` is handled by
    ``tuned_shape``)."""
    dep = deploy(sc, catalog)
    card = catalog.device(device)
    context = dep.scenario.context
    if plan is not None:
        one = replace(parse_plan(plan), replicas=1)
        return fit(dep.model, card, one, dep.precision, context)
    if use_scenario_plan and device == dep.scenario.device and not dep.disaggregated:
        one = replace(dep.main.plan, replicas=1)
        return fit(dep.model, card, one, dep.precision, context)
    server = catalog.server_for(card)
    return minimum_cards(
        dep.model,
        card,
        dep.precision,
        context,
        server.cards_per_node,
        server.scale_up_domain_cards,
    )


def tuned_shape(
    sc: Scenario | Deployment,
    catalog: Catalog,
    device: str,
    targets: dict[str, float],
    **tune_options: Any,
) -> tuple[MemoryFit | None, TuneResult | None]:
    """``plan="auto"``: tune colocated plans on the smallest deployment's card budget; the
    best plan's replica and the ``TuneResult`` (``(None, None)`` when nothing fits)."""
    dep = deploy(sc, catalog)
    smallest = replica_shape(dep, catalog, device, use_scenario_plan=False)
    if smallest is None or not smallest.fits:
        return None, None
    card = catalog.device(device)
    budget = max(smallest.plan.ranks_per_replica // card.dies, 1)
    options: dict[str, Any] = {"workers": 0, "disaggregation": False, "top_k": 3}
    options.update(tune_options)
    result = tune(
        dep.scenario,
        device=device,
        cards=budget,
        slo={k: v for k, v in targets.items() if k in TUNE_SLO_METRICS} or None,
        catalog=catalog,
        **options,
    )
    best = result.best_candidate
    if best is None or best.plan is None:
        return None, result
    one = replace(best.plan, replicas=1)
    mf = fit(
        dep.model,
        card,
        one,
        dep.precision,
        dep.scenario.context,
        max_batched_tokens=best.max_batched_tokens,
        max_seqs=best.max_seqs,
    )
    return mf, result


@dataclass(frozen=True)
class SizedRun:
    """One simulated replica count of the search: its summary and SLO check."""

    summary: Summary
    ok: bool
    margin: float


@dataclass
class SizingResult:
    """The answer of ``size_cluster`` with the runs that support it (``summary``: the chosen
    run's, or the best-margin run's when not attainable; ``None`` when nothing was run)."""

    device: str
    attainable: bool
    shape: ParallelPlan | None  # one replica
    cards_per_replica: int | float  # packages: ranks / dies
    replicas: int
    node_cards: int
    margin: float
    summary: Summary | None
    targets: dict[str, float]
    runs: dict[int, SizedRun] = field(default_factory=dict)
    reason: str = ""
    tuned: TuneResult | None = None  # the TuneResult behind plan="auto"

    @property
    def replica_plan(self) -> str | None:
        """The replica's plan, as a label."""
        return self.shape.label() if self.shape is not None else None

    @property
    def cards(self) -> int | float:
        """Cards (packages) of the deployment: whole (an int), as ``size_cluster`` adds replicas
        of a multi-die card's odd-rank shape in pairs (``cards_per_replica`` 0.5 on a 910C)."""
        total = self.replicas * self.cards_per_replica
        return round(total) if abs(total - round(total)) < 1e-9 else total

    @property
    def nodes(self) -> int:
        return -(-self.cards // self.node_cards)

    def as_dict(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "attainable": self.attainable,
            "replica_plan": self.replica_plan,
            "cards_per_replica": self.cards_per_replica,
            "replicas": self.replicas,
            "cards": self.cards,
            "nodes": self.nodes,
            "slo_margin": self.margin,
            "targets": self.targets,
            "reason": self.reason,
            "tuned": _tuned_summary(self.tuned),
            "runs": {
                str(r): {
                    "ok": run.ok,
                    "margin": run.margin,
                    "ttft_p99_s": run.summary.ttft_s.p99,
                    "tpot_p99_s": run.summary.tpot_s.p99,
                }
                for r, run in sorted(self.runs.items())
            },
        }

    def to_frame(self) -> Any:
        """One row per simulated replica count (the search's evidence): cards, p99 TTFT/TPOT,
        SLO margin and whether the SLOs were met; the chosen size is marked ``chosen``."""
        import pandas as pd

        rows = [
            {
                "replicas": r,
                "cards": r * self.cards_per_replica,
                "ttft_p99_s": run.summary.ttft_s.p99,
                "tpot_p99_s": run.summary.tpot_s.p99,
                "output_tokens_per_s": run.summary.throughput.output_tokens_per_s,
                "slo_margin": run.margin,
                "meets_slo": run.ok,
                "chosen": self.attainable and r == self.replicas,
            }
            for r, run in sorted(self.runs.items())
        ]
        return pd.DataFrame(rows).set_index("replicas")


def _tuned_summary(result: TuneResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    best = result.best or {}
    return {
        "budget_cards": result.cards,
        "objective": result.objective,
        "plan": result.best_plan,
        "max_batched_tokens": best.get("max_batched_tokens"),
        "max_seqs": best.get("max_seqs"),
        "meets_slo": result.meets_slo,
        "counts": result.counts,
    }


def _scenario_for(
    sc: Scenario,
    device: str,
    shape: ParallelPlan,
    replicas: int,
    scheduler: dict[str, int] | None = None,
    dies: int = 1,
) -> Scenario:
    """``sc`` on ``replicas`` replicas of ``shape`` on ``device``: ``cards`` counts packages
    (``ranks / dies``, whole by construction in ``size_cluster``), the plan ranks."""
    plan = replace(shape, replicas=replicas)
    if plan.ranks % dies:
        raise AccelsimError(f"{device}: {plan.ranks} ranks are not whole cards of {dies} dies")
    fields: dict[str, Any] = {}
    if scheduler:
        fields["scheduler"] = SchedulerConfig.model_validate({**dict(sc.scheduler), **scheduler})
    return sc.replanned(device, plan.ranks // dies, plan, **fields)


def unattainable_reason(
    runs: dict[int, SizedRun], targets: dict[str, float], max_cards: int, plan: str | None
) -> str:
    """Why no size up to ``max_cards`` meets ``targets`` (each SLO missed at the largest size
    tried, rejections) and what would make it attainable: a limit the largest size reaches, more
    cards when the figure still falls with replicas, or another plan (``--plan auto``)."""
    sizes = sorted(runs)
    first, last = runs[sizes[0]].summary, runs[sizes[-1]].summary
    missed, fixes = [], []
    for key, target in targets.items():
        achieved = METRICS[key].get(last)
        if achieved is None or achieved <= target:
            continue
        start = METRICS[key].get(first)
        falling = start is not None and achieved < 0.9 * start
        missed.append(f"{key} {achieved:.3g} s against {target:.3g} s")
        fixes.append(
            f"more cards (--max-cards above {max_cards}: {key} still falls with replicas)"
            if falling
            else f"a {key} limit of {achieved:.3g} s (it does not fall with more replicas)"
        )
    if last.rejected:
        missed.append(f"{last.rejected} request(s) rejected")
        fixes.append("a longer context limit or more KV memory per replica")
    if plan != "auto":
        fixes.append("another plan or scheduler limits (--plan auto)")
    why = "; ".join(missed) or "the SLOs are missed"
    return (
        f"not attainable up to {max_cards} cards: at {max_cards} cards {why}; attainable with "
        + " or ".join(dict.fromkeys(fixes))
    )


def size_cluster(
    sc: Scenario | Deployment,
    catalog: Catalog,
    device: str,
    *,
    max_cards: int = 4096,
    slo: dict[str, float] | None = None,
    use_scenario_plan: bool = True,
    progress: Any = None,
    plan: str | None = None,
    tune_options: dict[str, Any] | None = None,
) -> SizingResult:
    """The fewest replicas (whole nodes) of ``device`` meeting the SLOs at ``sc``'s traffic.

    ``plan``: ``None`` (the module docstring's shape), a plan text for the replica, or
    ``"auto"`` to tune it (``tune_options`` go to ``accelsim.questions.tune.tune``, e.g.
    ``{"workers": 2, "top_k": 4}``; the default runs serially)."""
    dep = deploy(sc, catalog)
    sc = dep.scenario
    targets = slo_targets(sc, slo)
    server = catalog.server_for(catalog.device(device))
    tuned = None
    scheduler: dict[str, int] | None = None
    if plan == "auto":
        shape, tuned = tuned_shape(dep, catalog, device, targets, **(tune_options or {}))
        if tuned is not None and tuned.best is not None:
            scheduler = {
                "max_batched_tokens": tuned.best["max_batched_tokens"],
                "max_seqs": tuned.best["max_seqs"],
            }
    else:
        shape = replica_shape(dep, catalog, device, use_scenario_plan=use_scenario_plan, plan=plan)
    if shape is None or not shape.fits:
        return SizingResult(
            device,
            False,
            None,
            0,
            0,
            server.cards_per_node,
            0.0,
            None,
            targets,
            reason=(
                f"{sc.model} does not fit on {device} with plan {plan}: the weights leave no KV "
                f"room for one {sc.context}-token sequence; a plan over more cards or a smaller "
                "precision (--dtype) would make it fit"
                if plan not in (None, "auto")
                else f"{sc.model} does not fit on up to 8192 {device} cards at {sc.dtype}: a "
                f"smaller precision (--dtype) or a shorter context than {sc.context} tokens "
                "would make it fit"
            ),
            tuned=tuned,
        )
    # cards (packages) per replica: a plan counts ranks, dies on a multi-die card; a replica
    # of a fraction of a card (one die of a 910C) is deployed ``step`` replicas at a time, so
    # every size tried fills whole cards
    ranks, dies = shape.plan.ranks_per_replica, catalog.device(device).dies
    per = packages(ranks, dies)
    step = dies // math.gcd(ranks, dies)
    runs: dict[int, SizedRun] = {}

    def evaluate(r: int) -> SizedRun:
        if r not in runs:
            one = _scenario_for(sc, device, shape.plan, r, scheduler, dies)
            summary = run_scenario(one, catalog).summary
            runs[r] = SizedRun(summary, *slo_check(summary, targets))
            if progress is not None:
                progress(device, r)
        return runs[r]

    max_r = max(int(max_cards // (per * step)), 1) * step
    r, last_fail = step, 0
    while True:
        if evaluate(r).ok:
            break
        last_fail = r
        if r >= max_r:
            best = max(runs.values(), key=lambda run: run.margin)
            return SizingResult(
                device,
                False,
                shape.plan,
                per,
                r,
                server.cards_per_node,
                best.margin,
                best.summary,
                targets,
                runs,
                reason=unattainable_reason(runs, targets, round(max_r * per), plan),
                tuned=tuned,
            )
        r = min(r * 2, max_r)
    lo, hi = last_fail, r
    while hi - lo > step:
        mid = (lo + hi) // (2 * step) * step
        if evaluate(mid).ok:
            hi = mid
        else:
            lo = mid
    best = runs[hi]
    return SizingResult(
        device,
        True,
        shape.plan,
        per,
        hi,
        server.cards_per_node,
        best.margin,
        best.summary,
        targets,
        runs,
        tuned=tuned,
    )
