"""Configuration search (``accelsim tune``): candidates, pruning, ranking, determinism, CLI, Ray."""

from __future__ import annotations

import json
import math

import pytest
from clirun import run_cli
from test_sweep import ray_local  # noqa: F401  (the serialized local-Ray fixture)

from accelsim.errors import AccelsimError
from accelsim.model.plan import ParallelPlan, replica_plans
from accelsim.questions.tune import (
    _rank_key,
    _ratios,
    enumerate_candidates,
    parse_slo,
    slo_margin,
    tune,
)
from accelsim.run.resolve import load_scenario
from accelsim.run.scenario import Scenario, read_scenario
from accelsim.sweep.context import EvalContext
from accelsim.sweep.evaluators import analytic


def _tiny(catalog, **update):
    sc = read_scenario("tiny", catalog)
    return sc.model_copy(update=update) if update else sc


# ---- candidates ---------------------------------------------------------------------------


def test_candidates_for_two_cards(catalog):
    # 2 ranks, scale-up domain 8: replicas of 1 rank (tp=1; two replicas -> also one 1:1 P/D
    # split) and of 2 ranks (tp=1,dp=2 with ep 1|2; tp=2 with ep 1|2): 6 layouts x 4 schedulers
    ok, pruned = enumerate_candidates(_tiny(catalog), catalog, 2)
    assert pruned == [] and len(ok) == 24
    labels = {c.plan_label for c in ok}
    assert labels == {
        "tp=1,ep=1,replicas=2",
        "P:tp=1,ep=1 | D:tp=1,ep=1",
        "tp=1,ep=1,dp=2",
        "tp=1,ep=2,dp=2",
        "tp=2,ep=1",
        "tp=2,ep=2",
    }
    assert [c.index for c in ok] == list(range(24))
    for c in ok:
        used = (
            c.prefill.ranks + c.decode.ranks if c.disaggregated else c.plan.ranks  # all ranks used
        )
        assert used == 2
    grid = {(c.max_batched_tokens, c.max_seqs) for c in ok}
    assert grid == {(2048, 64), (2048, 256), (8192, 64), (8192, 256)}


def test_candidates_that_do_not_fit_are_pruned_with_reason(catalog):
    # DeepSeek-V3 at int8 (~671 GB of weights) cannot fit on 8 x A100-80GB in any plan
    sc = read_scenario("default", catalog)
    sc = sc.model_copy(update={"device": "a100-sxm4-80gb", "plan": None})
    ok, pruned = enumerate_candidates(sc, catalog, 8, batched_tokens=[8192], max_seqs=[256])
    assert ok == [] and pruned
    assert all(reason.startswith("does not fit: short by") for _c, reason in pruned)
    res = tune(
        "default",
        device="a100-sxm4-80gb",
        cards=8,
        catalog=catalog,
        batched_tokens=[8192],
        max_seqs=[256],
        workers=0,
    )
    assert res.best is None and not res.meets_slo
    assert res.counts["pruned"] == res.counts["candidates"] == len(pruned)
    with pytest.raises(AccelsimError, match="no candidate"):
        res.best_scenario()


def test_candidate_shapes_come_from_the_one_plan_enumerator(catalog):
    """Every colocated candidate's replica is one of ``replica_plans`` with every expert layout,
    and its sweep axis value is the plan's recorded text (replicas always written)."""
    sc = _tiny(catalog)
    ok, _ = enumerate_candidates(sc, catalog, 4, batched_tokens=[2048], max_seqs=[64])
    model = catalog.model(sc.model)
    for c in ok:
        if c.disaggregated:
            continue
        assert c.shape.replicas * c.shape.ranks_per_replica == 4
        one = ParallelPlan(c.shape.tp, c.shape.dp, c.shape.pp, c.shape.ep)
        assert one in replica_plans(model, c.shape.ranks_per_replica, 8, expert_layouts=True)
        assert c.axis_value()[1] == c.plan.text()


def test_prefill_ratios():
    assert _ratios(2) == [1]
    assert _ratios(6) == [1, 2, 3, 4, 5]
    # 12 replicas: 1/6, 1/4, 1/3, 1/2, 2/3 of them prefill
    assert _ratios(12) == [2, 3, 4, 6, 8]


def test_bad_inputs(catalog):
    with pytest.raises(AccelsimError, match="--cards"):
        enumerate_candidates(_tiny(catalog), catalog, 0)
    with pytest.raises(AccelsimError, match="objective"):
        tune("tiny", cards=2, objective="latency", catalog=catalog)
    with pytest.raises(AccelsimError, match="top-k"):
        tune("tiny", cards=2, top_k=0, catalog=catalog)


# ---- SLOs and ranking ---------------------------------------------------------------------


def test_parse_slo(catalog):
    assert parse_slo("ttft_p99=2s,tpot_p99=100ms") == {"ttft_p99": 2.0, "tpot_p99": 0.1}
    assert parse_slo({"ttft_p50": "250 ms"}) == {"ttft_p50": 0.25}
    assert parse_slo(None, _tiny(catalog)) == {"ttft_p99": 0.5, "tpot_p99": 0.05}
    for bad in ("e2e_p99=1s", "ttft_p99", "ttft_p99=-1s"):
        with pytest.raises(AccelsimError):
            parse_slo(bad)


def test_slo_margin():
    targets = {"ttft_p99": 2.0, "tpot_p99": 0.1}
    assert slo_margin({"ttft_p99": 1.0, "tpot_p99": 0.08}, targets) == pytest.approx(1.25)
    assert slo_margin({"ttft_p99": None, "tpot_p99": 0.05}, targets) == 0.0  # saturated
    assert slo_margin({}, {}) == math.inf


def _row(i, meets, obj, margin, usd=1.0, raw=None):
    return {
        "candidate": i,
        "meets_slo": meets,
        "objective": obj,
        "raw": obj if raw is None else raw,
        "slo_margin": margin,
        "usd_per_mtok": usd,
    }


def test_ranking_order():
    rows = [
        _row(0, False, 0.0, 0.9, raw=50.0),  # misses: ranked by margin
        _row(1, True, 10.0, 1.2),
        _row(2, True, 10.05, 3.0),  # within 1 % of 10: a tie, the larger margin wins
        _row(3, True, 12.0, 1.1),  # clearly higher objective
        _row(4, False, 0.0, 0.5, raw=90.0),
        _row(5, True, 10.0, 1.2, usd=0.5),  # ties 1 on objective and margin, cheaper
    ]
    assert [r["candidate"] for r in sorted(rows, key=_rank_key)] == [3, 2, 5, 1, 0, 4]


# ---- the search ---------------------------------------------------------------------------


def test_tune_tiny_is_deterministic_and_confirms_top_k(catalog, tmp_path):
    a = tune("tiny", cards=2, top_k=2, catalog=catalog, workers=0, seed=5)
    b = tune("tiny", cards=2, top_k=2, catalog=catalog, workers=0, seed=5, out_dir=tmp_path)
    assert a.evidence == b.evidence
    c = a.counts
    assert c == {"candidates": 24, "pruned": 0, "analytic": 22, "simulated": 2}
    sims = a.top(10)
    assert [r["rank"] for r in sims] == [1, 2]
    assert a.best is sims[0] and a.meets_slo and a.best["sim_meets_slo"]
    assert a.best["sim_ttft_p99"] <= 0.5 and a.best["sim_tpot_p99"] <= 0.05
    assert a.best["sim_rejected"] == 0
    # every analytic point scored, disaggregated ones included
    for row in a.evidence:
        assert row["analytic_ttft_p99"] > 0 and row["analytic_requests_per_s"] > 0
        if row["stage"] == "analytic":
            assert row["reason"] == "not in the analytic top 2"
    # the best plan's scenario runs as-is, with the tuned scheduler limits
    sc = load_scenario(a.best_scenario(), catalog, overrides={})
    assert sc.scheduler.max_batched_tokens == a.best["max_batched_tokens"]
    assert sc.cards == 2
    frame = a.to_frame()
    assert len(frame) == 24 and {"stage", "plan", "sim_goodput_requests_per_s"} <= set(frame)
    assert json.loads(json.dumps(a.as_dict(), default=str))["best"]["plan"] == a.best_plan
    # a rerun into the same folder reuses both stages' points
    again = tune("tiny", cards=2, top_k=2, catalog=catalog, workers=0, seed=5, out_dir=tmp_path)
    assert again.evidence == a.evidence


def test_tune_objective_throughput(catalog):
    res = tune(
        _tiny(catalog),
        cards=2,
        top_k=3,
        objective="throughput",
        catalog=catalog,
        workers=0,
        disaggregation=False,
    )
    sims = [r for r in res.top(10) if r["sim_meets_slo"]]
    assert res.best is sims[0]
    best = res.best["sim_output_tokens_per_s"]
    assert all(best >= 0.99 * r["sim_output_tokens_per_s"] for r in sims)
    assert all(r["kind"] == "colocated" for r in res.evidence)


def test_tune_with_unmeetable_slo_returns_closest(catalog):
    res = tune("tiny", cards=2, top_k=2, slo="tpot_p99=1ms", catalog=catalog, workers=0)
    assert not res.meets_slo and res.best is not None
    margins = [r["sim_slo_margin"] for r in res.top(10)]
    assert margins == sorted(margins, reverse=True) and margins[0] < 1


def test_tune_scenario_object_and_overrides(catalog):
    sc = Scenario.model_validate(
        {**_tiny(catalog).model_dump(mode="json"), "plan": None, "cards": 4}
    )
    res = tune(sc, cards=2, top_k=1, overrides=["scenario.traffic.requests=50"], workers=0)
    assert res.best["sim_completed"] == 50


# ---- CLI ----------------------------------------------------------------------------------


def test_cli_tune(capsys):
    code, out, _ = run_cli(capsys, "tune", "tiny", "--cards", "2", "-w", "0", "-k", "2")
    assert code == 0, out
    assert "best:" in out and "meets the SLOs" in out and "Simulated candidates" in out
    code, out, _ = run_cli(
        capsys, "tune", "tiny", "--cards", "2", "-w", "0", "-k", "1", "--no-disagg", "--json"
    )
    assert code == 0
    data = json.loads(out)
    assert data["counts"]["simulated"] == 1 and data["best"]["kind"] == "colocated"
    for bad in (
        ["--cards", "0"],
        ["--cards", "2", "--slo", "e2e_p99=1s"],
        ["--cards", "2", "--objective", "x"],
        ["--cards", "2", "--max-seqs", "a"],
        ["--cards", "2", "--executor", "dask"],
    ):
        code, _, err = run_cli(capsys, "tune", "tiny", *bad)
        assert code == 2 and "error:" in err


# ---- Ray ----------------------------------------------------------------------------------


def test_tune_on_ray_equals_local(catalog, ray_local):  # noqa: F811
    kw = {"cards": 2, "top_k": 2, "catalog": catalog, "seed": 1}
    local = tune("tiny", workers=2, **kw)
    remote = tune("tiny", executor="ray", workers=2, **kw)
    assert not ray_local.is_initialized()
    assert remote.evidence == local.evidence


# ---- the analytic model of P/D pools --------------------------------------------------------


def test_analytic_disaggregated_pools_at_low_load(catalog):
    """At a vanishing load there is no prefill queue: TTFT is the prefill alone (p50 = p99), and
    the decode pool, free of prefill chunks, has a TPOT no worse than the colocated replica's."""
    base = read_scenario("tiny", catalog).model_dump(mode="json")
    base["traffic"] = {**base["traffic"], "rate": "0.01/s"}
    colo = {**base, "cards": 2, "plan": "tp=1,ep=1,replicas=2"}
    pd = {
        **base,
        "cards": None,
        "plan": None,
        "disaggregation": {
            "prefill": {"cards": 1, "plan": "tp=1,ep=1,replicas=1"},
            "decode": {"cards": 1, "plan": "tp=1,ep=1,replicas=1"},
        },
    }
    a = analytic(EvalContext(scenario=colo, seed=1, require_fit=True, overrides={}))
    b = analytic(EvalContext(scenario=pd, seed=1, require_fit=True, overrides={}))
    assert not b["saturated"] and b["requests_per_s"] == pytest.approx(0.01)
    assert b["ttft_p99"] == pytest.approx(b["ttft_p50"], rel=1e-3)
    assert b["ttft_p99"] < a["ttft_p99"]  # colocated adds one decode iteration to TTFT
    assert b["tpot_p99"] <= a["tpot_p99"]
    assert b["cards"] == 2 and b["plan"].startswith("prefill ")
