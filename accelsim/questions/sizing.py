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
2. the serving simulator runs the scenario's traffic on ``r`` replicas of that shape until it
   finds the fewest that meet the SLOs (p99 TTFT <= ``slo.ttft``, p99 TPOT <= ``slo.tpot``, and
   no request rejected). The search starts where the closed-form model says they are first
   met (``accelsim.sweep.evaluators.analytic``, milliseconds a size; its own fewest ``r_a``,
   found by doubling and bisection over its estimates): ``r_a`` is simulated first; from a
   passing ``r_a`` the search steps down by doubling distances until a size fails (one
   replica when the steps pass below it), from a failing one up likewise until one passes,
   then bisects between the last failing and first passing ``r`` (``_bracket``). With
   ``smallest`` (``compare``, which reports the smallest deployment's figures) one replica is
   simulated before ``r_a`` whatever the start, and on a pool it runs on its worker while this
   process finds the start. Without an analytic answer (no size up to ``max_cards`` meets the
   SLOs there, or it cannot price the scenario) ``r`` doubles from 1, then bisects
   (``_doubling``). The start only decides where to look: under the assumption below the
   answer is the size the doubling search from 1 finds, with fewer sizes simulated (the
   README's ``size`` line: 4 sizes and 8 runs instead of the doubling search's 14 and 20 —
   its 1, 2, 4, 8, 16 and its bisection were the cost; 6 and 10 with ``smallest``), so the
   evidence (``runs``) lists only the sizes it needed. Every run is kept, so no size is
   simulated twice. A search that finds no size up to ``max_cards`` also simulates one
   replica (the reason compares the largest size's figures with it). Cards count packages
   and plans ranks (dies on a multi-die card): a replica of an odd number of 910C dies is
   added two at a time, so every size is whole cards;
3. a load no size up to ``max_cards`` can meet is an answer (``attainable`` False, with the best
   figures achieved), not an error.

Replications (``seeds``, default ``accelsim.sweep.replicate.DEFAULT_SEEDS``): a size meets the
SLOs when every SLO figure's *pessimistic bound* across seeds does (the worse end of its 90 %
confidence interval, never better than the worst seed; ``accelsim.sweep.replicate``) and no
seed rejects a request. A size is first simulated on the scenario's own seed; only a size that
passes there is simulated on the other seeds (a size that fails on one seed fails on the
bound), so the search costs ``seeds - 1`` extra runs per passing size. The seeds run on a
``Replicator`` (local worker processes or Ray); ``size_devices`` sizes several devices at once,
each device's runs on one worker process (``Replicator.on``), where they share one timing model
(``accelsim.sweep.timing_memo``).

Assumption: SLO attainment is monotone in the replica count (more replicas never worsen the
p99s), which holds for the routers here up to simulation noise.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from accelsim.catalog.devices import packages
from accelsim.catalog.loader import Catalog
from accelsim.errors import AccelsimError
from accelsim.model.plan import MemoryFit, ParallelPlan, fit, minimum_cards, parse_plan
from accelsim.questions.tune import TUNE_SLO_METRICS, TuneResult, tune
from accelsim.run.resolve import Deployment, deploy
from accelsim.run.scenario import Scenario
from accelsim.sim.admission import SchedulerConfig
from accelsim.sim.metrics import METRICS, Summary
from accelsim.sweep.context import EvalContext
from accelsim.sweep.evaluators import analytic
from accelsim.sweep.replicate import DEFAULT_SEEDS, Replicated, Replicator, SeedInterval, pool_size
from accelsim.validate.intervals import Interval, figure_interval

__all__ = [
    "FIGURES",
    "SLO_METRICS",
    "SizedRun",
    "SizingResult",
    "replica_shape",
    "size_cluster",
    "size_devices",
    "slo_check",
    "slo_check_seeds",
    "tuned_shape",
]

#: The predicted figures of each simulated size (``SizingResult.to_frame`` columns, each with its
#: ``_p10``, ``_p90`` and ``_basis``): column -> run-summary metric.
FIGURES = {
    "output_tokens_per_s": "output_tokens_per_s",
    "ttft_p99_s": "ttft_p99",
    "tpot_p99_s": "tpot_p99",
}

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


def slo_check_seeds(rep: Replicated, targets: dict[str, float]) -> tuple[bool, float]:
    """``slo_check`` on the pessimistic bound across seeds (``SeedInterval.pessimistic``); no
    seed may reject a request."""
    across = rep.across
    margin = float("inf")
    for key, target in targets.items():
        iv = across.get(key)
        if iv is None:
            return False, 0.0
        worst = iv.pessimistic
        margin = min(margin, target / worst if worst > 0 else float("inf"))
    ok = margin >= 1.0 and all(s.rejected == 0 for s in rep.summaries)
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
    """One simulated replica count of the search: the scenario's own seed's summary, the SLO
    check (on the pessimistic bound across seeds when replicated) and the replications (None
    when only the first seed ran: it failed there)."""

    summary: Summary
    ok: bool
    margin: float
    replicated: Replicated | None = None
    #: the scenario this size ran (its deployment is what ``--emit`` launches)
    scenario: Scenario | None = None

    def figure(self, metric: str) -> float | None:
        """A run-summary figure: its mean across seeds when replicated, else the first seed's."""
        if self.replicated is not None:
            iv = self.replicated.across.get(metric)
            return iv.mean if iv is not None else None
        value = METRICS[metric].get(self.summary)
        return None if value is None else float(value)

    def spread(self, metric: str) -> SeedInterval | None:
        """The figure's interval across seeds (None when not replicated)."""
        return self.replicated.across.get(metric) if self.replicated is not None else None


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
    seeds: int = 1  # replications per size (``SizedRun.replicated``)
    #: Per simulated replica count, the prediction interval of each figure of ``FIGURES``.
    intervals: dict[int, dict[str, Interval]] = field(default_factory=dict)

    @property
    def chosen(self) -> SizedRun | None:
        """The run of the answer: the chosen size's, or the best-margin one when not
        attainable."""
        for run in self.runs.values():
            if run.summary is self.summary:
                return run
        return None

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
            "seeds": self.seeds,
            "runs": {
                str(r): {
                    "ok": run.ok,
                    "margin": run.margin,
                    "ttft_p99_s": run.figure("ttft_p99"),
                    "tpot_p99_s": run.figure("tpot_p99"),
                    "seeds_run": len(run.replicated.seeds) if run.replicated else 1,
                }
                for r, run in sorted(self.runs.items())
            },
        }

    def to_frame(self) -> Any:
        """One row per simulated replica count (the search's evidence): cards, p99 TTFT/TPOT,
        SLO margin and whether the SLOs were met; the chosen size is marked ``chosen``."""
        import pandas as pd

        rows = []
        for r, run in sorted(self.runs.items()):
            row: dict[str, Any] = {"replicas": r, "cards": r * self.cards_per_replica}
            for key, metric in FIGURES.items():
                row[key] = run.figure(metric)
                iv = self.intervals.get(r, {}).get(key)
                row.update(
                    {
                        f"{key}_p10": iv.p10 if iv else None,
                        f"{key}_p90": iv.p90 if iv else None,
                        f"{key}_basis": iv.basis if iv else None,
                    }
                )
            row.update(
                seeds_run=len(run.replicated.seeds) if run.replicated else 1,
                slo_margin=run.margin,
                meets_slo=run.ok,
                chosen=self.attainable and r == self.replicas,
            )
            rows.append(row)
        return pd.DataFrame(rows).set_index("replicas")


def _with_intervals(result: SizingResult, catalog: Catalog) -> SizingResult:
    """``result`` with the prediction interval of each run's ``FIGURES``."""
    for r, run in result.runs.items():
        result.intervals[r] = {
            key: iv
            for key, metric in FIGURES.items()
            if (iv := figure_interval(catalog, result.device, metric, run.figure(metric)))
            is not None
        }
    return result


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
    seeds: int = DEFAULT_SEEDS,
    replicator: Replicator | None = None,
    workers: int | None = None,
    smallest: bool = False,
) -> SizingResult:
    """The fewest replicas (whole nodes) of ``device`` meeting the SLOs at ``sc``'s traffic.

    ``plan``: ``None`` (the module docstring's shape), a plan text for the replica, or
    ``"auto"`` to tune it (``tune_options`` go to ``accelsim.questions.tune.tune``, e.g.
    ``{"workers": 2, "top_k": 4}``; the default runs serially). ``seeds``: replications per
    size (module docstring), run on ``replicator`` (default: a local pool of ``workers``
    processes, one per CPU up to ``seeds``; 0: in this process). ``smallest``: also simulate
    one replica, whatever the start (its run is in ``runs``; ``compare`` reports it)."""
    if replicator is None:
        with Replicator(catalog, workers=pool_size(workers, seeds - 1)) as rep:
            return size_cluster(
                sc,
                catalog,
                device,
                max_cards=max_cards,
                slo=slo,
                use_scenario_plan=use_scenario_plan,
                progress=progress,
                plan=plan,
                tune_options=tune_options,
                seeds=seeds,
                replicator=rep,
                smallest=smallest,
            )
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
            summary = replicator.run([one])[0]
            ok, margin = slo_check(summary, targets)
            if ok and seeds > 1:
                rep = replicator.replicate(one, seeds, first=summary)
                runs[r] = SizedRun(summary, *slo_check_seeds(rep, targets), rep, scenario=one)
            else:
                runs[r] = SizedRun(summary, ok, margin, scenario=one)
            if progress is not None:
                progress(device, r)
        return runs[r]

    max_r = max(int(max_cards // (per * step)), 1) * step
    if replicator.serial or not smallest:
        start = _analytic_start(
            sc, catalog, device, shape.plan, scheduler, dies, targets, step, max_r
        )
    else:
        # the search simulates ``step`` first whatever the start (``_bracket``, ``_doubling``):
        # on its worker while this thread finds the start
        with ThreadPoolExecutor(max_workers=1) as first:
            pending = first.submit(evaluate, step)
            try:
                start = _analytic_start(
                    sc, catalog, device, shape.plan, scheduler, dies, targets, step, max_r
                )
                pending.result()
            except BaseException:
                replicator.cancel()  # Ctrl-C or an error: the first size's run stops now
                raise
    if start is None:
        hi = _doubling(lambda r: evaluate(r).ok, step, max_r)
    else:
        hi = _bracket(lambda r: evaluate(r).ok, step, max_r, start, smallest=smallest)
    if hi is None:
        evaluate(step)  # the reason compares the largest size with the smallest
        best = max((runs[r] for r in sorted(runs)), key=lambda run: run.margin)
        return _with_intervals(
            SizingResult(
                device,
                False,
                shape.plan,
                per,
                max_r,
                server.cards_per_node,
                best.margin,
                best.summary,
                targets,
                runs,
                reason=unattainable_reason(runs, targets, round(max_r * per), plan),
                tuned=tuned,
                seeds=seeds,
            ),
            catalog,
        )
    best = runs[hi]
    return _with_intervals(
        SizingResult(
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
            seeds=seeds,
        ),
        catalog,
    )


def _bisect(ok: Callable[[int], bool], lo: int, hi: int, step: int) -> int:
    """The smallest passing multiple of ``step`` in ``(lo, hi]``, ``lo`` failing and ``hi``
    passing."""
    while hi - lo > step:
        mid = (lo + hi) // (2 * step) * step
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


def _doubling(ok: Callable[[int], bool], step: int, max_r: int) -> int | None:
    """The search without a start: ``step``, doubling until a size passes (``max_r`` last),
    then bisection; None when ``max_r`` fails."""
    r, last_fail = step, 0
    while not ok(r):
        last_fail = r
        if r >= max_r:
            return None
        r = min(r * 2, max_r)
    return _bisect(ok, last_fail, r, step)


def _bracket(
    ok: Callable[[int], bool], step: int, max_r: int, start: int, *, smallest: bool = False
) -> int | None:
    """The search from ``start`` (the analytic model's answer, rounded up to a multiple of
    ``step``; with ``smallest``, ``step`` first — the smallest deployment, which ``compare``
    reports): from a passing ``start`` down by doubling distances until a size fails (zero
    replicas fail), from a failing one up likewise until one passes (``max_r`` last); then
    bisection. None when ``max_r`` fails. Unless ``step`` passes, the sizes asked are among
    those the search with ``smallest`` asks (a start at ``step`` is that search; a walk down
    to the bottom asks ``step`` there, then bisects as that search does)."""
    lo, floor = 0, step
    if smallest or start <= step:
        if ok(step):
            return step
        lo, floor = step, 2 * step
    r = min(max(-(-start // step) * step, floor), max_r)
    if ok(r):
        hi, d = r, step
        while hi - d > lo:
            if not ok(hi - d):
                lo = hi - d
                break
            hi, d = hi - d, d * 2
        else:
            if lo == 0 and hi > step:  # down to the bottom: ``step`` next, as with smallest
                if ok(step):
                    return step
                lo = step
        return _bisect(ok, lo, hi, step)
    lo, d = r, step
    while lo < max_r:
        r = min(lo + d, max_r)
        if ok(r):
            return _bisect(ok, lo, r, step)
        lo, d = r, d * 2
    return None


def _analytic_start(
    sc: Scenario,
    catalog: Catalog,
    device: str,
    shape: ParallelPlan,
    scheduler: dict[str, int] | None,
    dies: int,
    targets: dict[str, float],
    step: int,
    max_r: int,
) -> int | None:
    """Where the simulated search starts: the fewest replicas the closed-form model
    (``accelsim.sweep.evaluators.analytic``, milliseconds a size) says meet ``targets`` (the
    SLO figures it estimates; an unbounded TTFT fails), found by the same doubling and
    bisection; None when it meets them at no size up to ``max_r`` or cannot price the
    scenario (the search then starts at ``step``)."""

    def ok(r: int) -> bool:
        one = _scenario_for(sc, device, shape, r, scheduler, dies)
        ctx = EvalContext(
            scenario=one.model_dump(mode="json"),
            seed=one.seed,
            require_fit=False,
            overrides={},
            _catalog=catalog,
        )
        figures = analytic(ctx)
        for key, target in targets.items():
            if key in figures and (figures[key] is None or figures[key] > target):
                return False
        return True

    try:
        return _doubling(ok, step, max_r)
    except (AccelsimError, ArithmeticError, ValueError):
        return None


def size_devices(
    sc: Scenario | Deployment,
    catalog: Catalog,
    devices: Sequence[str],
    *,
    seeds: int = DEFAULT_SEEDS,
    replicator: Replicator | None = None,
    workers: int | None = None,
    **options: Any,
) -> list[SizingResult]:
    """``size_cluster`` for each of ``devices`` (``options`` are its keywords), all sized at
    once on one pool of replications (``replicator``, default: a local pool of ``workers``
    processes, one per CPU); in device order. Each device's runs go down a lane of its own
    (``Replicator.on``: one worker process, whose timing model its sizes and seeds share;
    devices beyond the lanes share them). On a serial ``Replicator`` they run one after the
    other."""
    if replicator is None:
        tasks = max(len(devices), seeds - 1)
        with Replicator(catalog, workers=pool_size(workers, tasks)) as rep:
            return size_devices(sc, catalog, devices, seeds=seeds, replicator=rep, **options)
    dep = deploy(sc, catalog)

    def one(device: str, lane: int | None = None) -> SizingResult:
        rep = replicator if lane is None else replicator.on(lane)
        return size_cluster(dep, catalog, device, seeds=seeds, replicator=rep, **options)

    if replicator.serial or len(devices) < 2:
        return [one(d) for d in devices]
    with ThreadPoolExecutor(max_workers=len(devices)) as threads:
        futures = [threads.submit(one, d, i) for i, d in enumerate(devices)]
        try:
            return [f.result() for f in futures]
        except BaseException:
            # Ctrl-C or a device's error: the other devices' searches stop now, not when done
            replicator.cancel()
            raise
