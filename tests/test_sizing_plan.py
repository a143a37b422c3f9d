"""Sizing with a chosen replica plan: a fixed plan text, or ``plan="auto"`` (tuned)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from accelsim.errors import AccelsimError
from accelsim.model.plan import ParallelPlan, parse_plan
from accelsim.questions.sizing import replica_shape, size_cluster, slo_check, slo_check_seeds
from accelsim.run.resolve import deploy, load_scenario

DEVICE = "a100-sxm4-80gb"


@pytest.fixture(scope="module")
def tiny(catalog):
    return load_scenario("tiny", catalog)


def test_fixed_plan_text_is_the_replica(catalog, tiny):
    shape = replica_shape(tiny, catalog, DEVICE, plan="tp=2,ep=2,replicas=7")
    assert shape.plan == parse_plan("tp=2,ep=2")  # replicas ignored: one replica
    res = size_cluster(tiny, catalog, DEVICE, plan="tp=2,ep=2")
    assert res.attainable and res.replica_plan == "tp=2,ep=2"
    assert res.cards == 2 * res.replicas and res.tuned is None


def test_fixed_plan_that_does_not_fit(catalog):
    sc = load_scenario("default", catalog)  # DeepSeek-V3: 671 B parameters
    res = size_cluster(sc, catalog, DEVICE, plan="tp=8,ep=8")
    assert not res.attainable and "does not fit" in res.reason and "tp=8,ep=8" in res.reason


def test_auto_plan_uses_the_tuned_replica(catalog, tiny):
    res = size_cluster(tiny, catalog, DEVICE, plan="auto", tune_options={"top_k": 2})
    tuned = res.tuned
    assert tuned is not None and tuned.meets_slo
    # the budget is the smallest whole-node deployment (8 cards); the tuned plan's replica
    # (colocated only) is the shape that sizing replicates
    assert tuned.cards == 8
    best = tuned.best_candidate
    assert not best.disaggregated
    assert res.shape == replace(best.plan, replicas=1)
    assert res.replica_plan == res.shape.label()
    assert res.cards_per_replica == best.plan.ranks_per_replica
    assert res.attainable and res.as_dict()["tuned"]["plan"] == tuned.best_plan
    assert res.as_dict()["tuned"]["max_seqs"] == tuned.best["max_seqs"]


def test_bad_plan_text(catalog, tiny):
    with pytest.raises(AccelsimError):
        size_cluster(tiny, catalog, DEVICE, plan="tp=two")


def test_the_scenario_plan_is_the_deployments(catalog, tiny):
    """With the scenario's own device, the replica is the deployment's plan (one replica); a
    plan may also be given as a ``ParallelPlan``."""
    dep = deploy(tiny, catalog)
    shape = replica_shape(dep, catalog, dep.scenario.device)
    assert shape.plan == replace(dep.main.plan, replicas=1)
    given = replica_shape(dep, catalog, DEVICE, plan=ParallelPlan(tp=2, ep=2, replicas=3))
    assert given.plan == ParallelPlan(tp=2, ep=2)


def test_sizing_replicates_passing_sizes_and_judges_their_bound(catalog, tiny):
    res = size_cluster(tiny, catalog, DEVICE, seeds=3, workers=0)
    chosen = res.chosen
    assert res.attainable and res.seeds == 3
    assert chosen is not None and chosen.replicated is not None
    assert len(chosen.replicated.seeds) == 3 and chosen.replicated.first is chosen.summary
    assert chosen.ok and slo_check_seeds(chosen.replicated, res.targets) == (True, chosen.margin)
    for r, run in res.runs.items():
        if r < res.replicas:
            assert not run.ok
        if run.replicated is None:  # only a size that fails on its first seed is not replicated
            assert not slo_check(run.summary, res.targets)[0]
    # the figures of a replicated size are the means over its seeds
    assert chosen.figure("ttft_p99") == pytest.approx(
        sum(s.ttft_s.p99 for s in chosen.replicated.summaries) / 3
    )
    single = size_cluster(tiny, catalog, DEVICE, seeds=1, workers=0)
    assert single.seeds == 1 and single.replicas <= res.replicas  # the bound is never looser


def test_sizing_on_workers_equals_sizing_in_this_process(catalog, tiny):
    # with ``smallest`` on workers one replica runs while this process finds the analytic
    # start: the same search, the same runs, the same figures
    pooled = size_cluster(tiny, catalog, DEVICE, seeds=2, workers=2, smallest=True)
    serial = size_cluster(tiny, catalog, DEVICE, seeds=2, workers=0, smallest=True)
    assert pooled.as_dict() == serial.as_dict()
    assert sorted(pooled.runs) == sorted(serial.runs) and 1 in pooled.runs
    # without it only the sizes the search needs: the same answer and the same figures of
    # every size both simulated
    lean = size_cluster(tiny, catalog, DEVICE, seeds=2, workers=0)
    full, part = serial.as_dict(), lean.as_dict()
    assert set(part["runs"]) <= set(full["runs"])
    assert all(full["runs"][r] == part["runs"][r] for r in part["runs"])
    assert {k: v for k, v in full.items() if k != "runs"} == {
        k: v for k, v in part.items() if k != "runs"
    }
