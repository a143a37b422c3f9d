"""Expert routing: touched experts, busiest-rank load, EPLB, MoGE, determinism."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.catalog.loader import load_catalog
from accelsim.catalog.workloads import MoESpec
from accelsim.dtypes import precision
from accelsim.errors import AccelsimError
from accelsim.model import routing
from accelsim.model.plan import ParallelPlan
from accelsim.model.routing import RoutingModel, busiest_touched, expected_max_normal
from accelsim.run.timing import perf_model_from_catalog
from accelsim.validate.predict import routing_model

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


# ---- the vectorised, memoised path against the direct formula (issue 18: same floats) ----


def _direct_busiest(p: np.ndarray, n: int) -> np.ndarray:
    """``busiest_touched`` as first written: one call per batch, the recursion on
    ``(rows, slots)`` over every count, identical sorted rows priced once."""
    if n <= 1 or (p >= 1.0).all():
        return p.sum(axis=-1)
    s = p.shape[-1]
    rows = np.sort(p.reshape(-1, s), axis=1)
    back = np.arange(rows.shape[0])
    if (rows == rows[:1]).all():
        rows, back = rows[:1], np.zeros_like(back)
    pmf = np.zeros((rows.shape[0], s + 1))
    pmf[:, 0] = 1.0
    for j in range(s):
        pj = rows[:, j : j + 1]
        pmf[:, 1:] = pmf[:, 1:] * (1.0 - pj) + pmf[:, :-1] * pj
        pmf[:, :1] *= 1.0 - pj
    cdf = np.clip(np.cumsum(pmf[:, :-1], axis=1), 0.0, 1.0)
    return (1.0 - cdf**n).sum(axis=1)[back].reshape(p.shape[:-1])


def _direct_rank_loads(r, moe, ep, redundant, tokens):
    """``rank_loads``'s ``(load, touched)`` straight from the module docstring's formulas."""
    slot_q, _, slot_share = routing._placement(r, moe, ep, redundant)
    if tokens <= 0:
        return np.zeros(slot_q.shape[:2]), np.zeros(slot_q.shape[:2])
    mean = tokens * slot_q.sum(axis=2)
    sd = np.sqrt(tokens * routing._per_token_variance(moe, slot_q, slot_share))
    load = np.minimum(mean + sd * expected_max_normal(ep), tokens * (slot_share > 0).sum(axis=2))
    touched = _direct_busiest(1.0 - (1.0 - slot_q) ** tokens, ep)
    return load, np.where(slot_share.sum(axis=2) > 0, touched, 0.0)


ROUTINGS = [
    RoutingModel(),
    RoutingModel("zipf", skew=0.0, drift=0.3, layers=4),
    RoutingModel("zipf", skew=1.1, seed=5),
    RoutingModel("dirichlet", skew=0.5, seed=2, layers=3, drift=0.1),
]
SPECS = [MOE, MOGE, MoESpec(num_experts=8, top_k=2, expert_intermediate=64)]
COUNTS = st.one_of(
    st.integers(0, 6000).map(float),
    st.floats(0.001, 3000.0, allow_nan=False),
    st.sampled_from([1.0, 2.0, 0.5]),  # numpy's own x ** 2.0 / x ** 0.5 fast paths
)


@settings(max_examples=60, deadline=None)
@given(
    r=st.sampled_from(ROUTINGS),
    moe=st.sampled_from(SPECS),
    ep=st.sampled_from([1, 2, 4, 8, 16, 128]),
    redundant=st.sampled_from([0, 4, 8]),
    counts=st.lists(COUNTS, min_size=1, max_size=12),
)
def test_rank_loads_many_is_the_direct_formula_to_the_last_bit(r, moe, ep, redundant, counts):
    if ep > moe.num_experts:
        redundant = 0
    load, touched = r.rank_loads_many(moe, ep, redundant, np.array(counts))
    for i, t in enumerate(counts):
        want_load, want_touched = _direct_rank_loads(r, moe, ep, redundant, t)
        assert np.array_equal(load[i], want_load) and np.array_equal(touched[i], want_touched)
        one = r.rank_loads(moe, ep, redundant, t)
        assert np.array_equal(one.load, want_load) and np.array_equal(one.touched, want_touched)


def test_busiest_touched_is_the_direct_formula_to_the_last_bit():
    rng = np.random.default_rng(4)
    for shape, n in (((5, 7, 4), 8), ((3, 32), 72), ((1, 9), 2), ((6, 8), 1)):
        p = rng.random(shape) ** 3
        p[0, ..., :2] = 1.0  # certain slots and an all-certain batch take their own paths
        assert np.array_equal(busiest_touched(p, n), _direct_busiest(p, n))
        assert np.array_equal(
            busiest_touched(np.ones(shape), n), _direct_busiest(np.ones(shape), n)
        )
    same = np.tile(rng.random(6), (10, 1))  # identical rows: priced once
    assert np.array_equal(busiest_touched(same, 16), _direct_busiest(same, 16))


CAT = load_catalog()
#: (model, device, plan, dtype, routing profile or None)
MOE_PLANS = [
    ("deepseek-v3", "ascend-910b2", ParallelPlan(tp=4, dp=8, ep=32), "int8", None),
    (
        "deepseek-v3",
        "h800",
        ParallelPlan(tp=1, dp=8, ep=8, redundant_experts=8),
        "fp8",
        "production",
    ),
    ("pangu-pro-moe", "h200", ParallelPlan(tp=4, ep=4), "fp8", "production"),
    ("mixtral-8x7b", "h100-sxm5", ParallelPlan(tp=2, dp=2), "fp16", None),
]


def _direct_routed(block, t_all: float) -> tuple[float, ...]:
    """``MoE.routed``'s terms for one count, written out from the direct rank loads."""
    plan, roof = block.plan, block.roof
    r = roof.rates
    load, touched = _direct_rank_loads(
        block.routing, block.model.moe, plan.ep, plan.redundant_experts, float(t_all)
    )
    params = block.e_params / plan.moe_tp
    flops = 2.0 * params * load
    m = np.divide(load, touched, out=np.zeros_like(load), where=touched > 0)
    rate = np.maximum(r.gemm_flops * m / (m + r.routed_m_half), r.vector_flops)
    if r.routed_flops:
        rate = np.minimum(rate, r.routed_flops)
    compute = np.divide(flops, rate, out=np.zeros_like(flops), where=rate > 0)
    weights = touched * params * roof.wb_of["routed_experts"]
    hbm = weights + load * (2.0 * roof.h + 3.0 * params / roof.h) * roof.act
    memory = (hbm + weights * roof.dequant_routed) / r.hbm
    idx = np.maximum(compute, memory).argmax(axis=1)
    rows = np.arange(load.shape[0])
    at = (compute, memory, flops, hbm)
    return (
        *(float(x[rows, idx].mean()) for x in at),
        float(load.max(axis=1).mean()),
        float(load[rows, idx].mean()),
    )


@settings(max_examples=40, deadline=None)
@given(
    case=st.sampled_from(MOE_PLANS),
    counts=st.lists(
        st.one_of(st.integers(0, 9000).map(float), st.floats(0.5, 9000.0)), min_size=1, max_size=40
    ),
    near=st.lists(st.integers(-70, 70), max_size=40),
)
def test_moe_routed_blocks_are_the_direct_formula_to_the_last_bit(case, counts, near):
    """Counts priced alone, as a second count of a block, and from a block: the same floats as
    the direct formula for the first count met with each 3-decimal key."""
    model, device, plan, dtype, profile = case
    kw = {"routing": routing_model(CAT, profile)} if profile else {}
    pm = perf_model_from_catalog(CAT, model, device, plan, precision(dtype), **kw)
    block = pm.layer.moe
    counts = counts + [max(0.0, counts[0] + d) for d in near]  # neighbours fill blocks
    first: dict[float, float] = {}
    for t in counts:
        first.setdefault(round(t, 3), t)
        assert block.routed(t) == _direct_routed(block, first[round(t, 3)])
