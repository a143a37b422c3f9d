"""Expert routing: touched experts, busiest-rank load, EPLB, MoGE, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from accelsim.catalog.workloads import MoESpec
from accelsim.errors import AccelsimError
from accelsim.model.plan import ParallelPlan
from accelsim.model.routing import RoutingModel, busiest_touched, expected_max_normal

MOE = MoESpec(num_experts=64, top_k=6, expert_intermediate=128)
MOGE = MoESpec(num_experts=64, top_k=8, expert_intermediate=128, routing="moge", n_group=8)


@pytest.mark.parametrize("tokens", [1, 4, 16, 64, 256])
def test_touched_experts_uniform_formula_and_monte_carlo(tokens):
    e, k = MOE.num_experts, MOE.top_k
    formula = e * (1 - (1 - k / e) ** tokens)
    r = RoutingModel()
    assert r.expected_touched_experts(MOE, tokens) == pytest.approx(formula)
    rng = np.random.default_rng(1234)
    trials = 400
    seen = [
        len(np.unique(np.argsort(rng.random((tokens, e)), axis=1)[:, :k])) for _ in range(trials)
    ]
    assert np.mean(seen) == pytest.approx(formula, rel=0.03, abs=0.1)


def test_max_rank_load_analytic_close_to_monte_carlo():
    r = RoutingModel()
    for ep, tokens in ((8, 512), (16, 2048), (64, 4096)):
        analytic = r.rank_loads(MOE, ep, 0, tokens).max_load
        sampled = r.sample_rank_loads(MOE, ep, 0, tokens, np.random.default_rng(7), trials=30)
        assert analytic == pytest.approx(sampled.mean(), rel=0.06)
        assert analytic >= tokens * MOE.top_k / ep


def test_skew_makes_the_busiest_rank_busier_and_eplb_helps():
    skewed = RoutingModel("zipf", skew=1.2, seed=3)
    flat = RoutingModel()
    tokens = 4096
    base = flat.rank_loads(MOE, 8, 0, tokens).max_load
    hot = skewed.rank_loads(MOE, 8, 0, tokens).max_load
    balanced = skewed.rank_loads(MOE, 8, 8, tokens).max_load
    assert hot > 1.2 * base
    assert balanced < hot
    plan = ParallelPlan(tp=1, dp=8, ep=8, redundant_experts=8)
    assert skewed.max_rank_load(MOE, plan, tokens) == pytest.approx(balanced)


def test_moge_whole_groups_per_rank_are_exactly_balanced():
    r = RoutingModel("zipf", skew=1.0)
    loads = r.rank_loads(MOGE, 4, 0, 1000)  # 2 whole groups per rank
    assert np.allclose(loads.load, 1000 * 8 / 4)
    sampled = r.sample_rank_loads(MOGE, 4, 0, 500, np.random.default_rng(0), trials=4)
    assert np.allclose(sampled, 500 * 8 / 4)


def test_deterministic_for_a_seed_and_different_across_seeds():
    a = RoutingModel("dirichlet", skew=0.5, seed=11).popularity(64)
    b = RoutingModel("dirichlet", skew=0.5, seed=11).popularity(64)
    c = RoutingModel("dirichlet", skew=0.5, seed=12).popularity(64)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.allclose(a.sum(axis=1), 1.0)


def test_counts_from_a_file_and_drift():
    counts = tuple(float(i + 1) for i in range(64))
    r = RoutingModel("counts", counts=counts)
    p = r.popularity(64)
    assert p[0, -1] == pytest.approx(64 / sum(counts))
    drifted = RoutingModel("zipf", skew=1.0, drift=0.3)
    assert (
        drifted.rank_loads(MOE, 8, 8, 4096).max_load
        > RoutingModel("zipf", skew=1.0).rank_loads(MOE, 8, 8, 4096).max_load
    )


def test_bad_routing_is_an_error():
    with pytest.raises(AccelsimError):
        RoutingModel("pareto")
    with pytest.raises(AccelsimError):
        RoutingModel("counts")
    with pytest.raises(AccelsimError):
        RoutingModel("counts", counts=(1.0, 2.0)).popularity(64)


def test_expected_max_normal():
    assert expected_max_normal(1) == 0.0
    assert expected_max_normal(2) == pytest.approx(0.564, abs=0.03)  # exact 1/sqrt(pi); Blom 0.589
    assert expected_max_normal(100) == pytest.approx(2.508, abs=0.03)


def test_busiest_touched_by_hand():
    """Two slots touched with probability 1/2 each: X ~ Binomial(2, 1/2), F(0) = 1/4,
    F(1) = 3/4; the busiest of 2 ranks touches (1 - 1/16) + (1 - 9/16) = 1.375 experts; one
    rank is the mean, 1."""
    p = np.array([[0.5, 0.5]])
    assert busiest_touched(p, 2)[0] == pytest.approx(1.375)
    assert busiest_touched(p, 1)[0] == pytest.approx(1.0)
    assert busiest_touched(np.array([[1.0, 0.0, 1.0]]), 64)[0] == pytest.approx(2.0)


@pytest.mark.parametrize(("ep", "tokens"), [(8, 4), (8, 16), (16, 8)])
def test_busiest_rank_touched_experts_match_monte_carlo(ep, tokens):
    """The rank that reads the most expert weights, not the mean rank: at small decode batches
    the busiest of ``ep`` ranks touches well above the mean, within 5 % of sampled routing."""
    r = RoutingModel()
    analytic = r.rank_loads(MOE, ep, 0, tokens).touched.max()
    mean = r.expected_touched_experts(MOE, tokens) / ep
    sampled = r.sample_touched(MOE, ep, tokens, np.random.default_rng(3), trials=300).mean()
    assert analytic == pytest.approx(sampled, rel=0.05)
    assert analytic > mean * 1.1
