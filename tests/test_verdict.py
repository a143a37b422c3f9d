"""The verdict of `compare`: joint Monte Carlo, P(A cheaper), the cost ratio, break-evens."""

from __future__ import annotations

import json

import numpy as np
import pytest
from clirun import run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.errors import AccelsimError
from accelsim.model.cost import CostInputs
from accelsim.model.joint import Priced, joint_verdict
from accelsim.model.uncertainty import Dist, monte_carlo


def _inputs(device: str, server: float, tokens: float = 1000.0, **kw) -> CostInputs:
    """One 8-card node whose only cost is its server, amortized over 4 years."""
    return CostInputs(
        cards=8, server_price=server, years=4.0, output_tokens_per_s=tokens, device=device, **kw
    )


def test_p_winner_matches_a_hand_computed_case():
    # A's server ~ U(100k, 300k), B's ~ U(200k, 300k), drawn independently; the cost is
    # proportional to the server price, so P(A cheaper) = E_Y[P(X < Y)] = E_Y[(Y - 100k)/200k]
    # = (250k - 100k) / 200k = 0.75.
    a = Priced("a", _inputs("a", 200e3), {"server_price": Dist.uniform(100e3, 300e3)})
    b = Priced("b", _inputs("b", 250e3), {"server_price": Dist.uniform(200e3, 300e3)})
    v = joint_verdict([a, b], n=40_000, seed=3)
    assert v.winner == "a" and v.runner_up == "b"
    assert v.p_winner == pytest.approx(0.75, abs=0.01)
    # the ratio B/A exceeds 1 exactly in the draws where A is cheaper
    assert float(np.mean(v.ratio > 1.0)) == pytest.approx(v.p_winner)
    p10, p50, p90 = v.ratio_quantiles
    assert p10 < 1.0 < p50 < p90


def test_a_shared_assumption_has_one_break_even_for_both():
    # A: a 400k server, no power (100k/yr); B: a 200k server (50k/yr) drawing 8 x 1 kW all
    # year (70,128 kWh) at $1/kWh (70,128/yr). They tie when 70,128 x p = 50,000:
    # p = 0.71298 $/kWh, and B wins below it
    def node(device: str, server: float, watts: float) -> CostInputs:
        return _inputs(
            device,
            server,
            tdp_w=watts,
            idle_power_w=watts,
            power_price_per_kwh=1.0,
        )

    price = {"power_price_per_kwh": Dist.triangular(0.5, 1.0, 1.5)}
    v = joint_verdict(
        [Priced("a", node("a", 400e3, 0.0), price), Priced("b", node("b", 200e3, 1000.0), price)],
        n=200,
    )
    assert v.winner == "a"
    (flip,) = v.flips
    assert flip.device is None and flip.unit == "USD/kWh"
    assert flip.break_even == pytest.approx(50_000 / (8 * 8766), rel=1e-9)
    assert flip.flips_when == "below"


def test_device_server_prices_draw_independently():
    same = {"server_price": Dist.uniform(100e3, 300e3)}
    a = monte_carlo(_inputs("a", 200e3), same, 20_000, 0).samples["capex"]
    b = monte_carlo(_inputs("b", 200e3), same, 20_000, 0).samples["capex"]
    assert abs(float(np.corrcoef(a, b)[0, 1])) < 0.03
    v = joint_verdict(
        [Priced("a", _inputs("a", 200e3), same), Priced("b", _inputs("b", 200e3), same)],
        n=20_000,
    )
    assert v.p_winner == pytest.approx(0.5, abs=0.02)


def test_a_shared_assumption_is_one_draw_for_both():
    # all cost is energy; B draws twice A's power at the same, shared, power price: the ratio
    # is 2 in every draw (independent draws would spread it)
    def energy(device: str, watts: float) -> CostInputs:
        return CostInputs(
            cards=8,
            tdp_w=watts,
            idle_power_w=watts,
            power_price_per_kwh=0.08,
            output_tokens_per_s=1000.0,
            device=device,
        )

    price = {"power_price_per_kwh": Dist.triangular(0.05, 0.08, 0.12)}
    v = joint_verdict(
        [Priced("a", energy("a", 500.0), price), Priced("b", energy("b", 1000.0), price)], n=500
    )
    assert v.winner == "a" and v.p_winner == 1.0
    assert np.allclose(v.ratio, 2.0)
    # the shared power price moves both costs alike: no bar of the tornado, nothing flips
    assert v.flips == ()


def test_break_even_found_by_bisection():
    # A makes twice B's tokens; B's server costs 250k: the costs tie when A's server costs
    # 2 x 250k = 500k, and B wins above that
    a = Priced(
        "a",
        _inputs("a", 300e3, tokens=2000.0),
        {"server_price": Dist.uniform(250e3, 350e3)},
        keys={"server_price": "prices.book.servers.a-box"},
    )
    b = Priced("b", _inputs("b", 250e3), {})
    v = joint_verdict([a, b], n=200)
    assert v.winner == "a"
    assert v.base_ratio == pytest.approx(250e3 / (300e3 / 2))
    (flip,) = v.flips
    assert flip.key == "prices.book.servers.a-box" and flip.unit == "USD"
    assert flip.break_even == pytest.approx(500e3, rel=1e-9)
    assert flip.flips_when == "above"


def test_verdict_needs_two_distinct_devices():
    a = Priced("a", _inputs("a", 1.0), {})
    with pytest.raises(AccelsimError, match="two or more"):
        joint_verdict([a, a])
    with pytest.raises(AccelsimError, match="keyed by"):
        joint_verdict([a, Priced("b", _inputs("c", 1.0), {})])


def test_compare_json_has_the_verdict(capsys):
    code, out, _ = run_cli(capsys, "compare", "--json", "--monte-carlo", "400", "--seeds", "1")
    assert code == 0
    r = json.loads(out)
    v = r["verdict"]
    assert v["metric"] == "usd_per_mtok_output"
    assert v["winner"] in ("ascend-910b2", "a100-sxm4-80gb")
    assert 0.5 <= v["p_winner"] <= 1.0
    assert v["ratio_p10"] <= v["ratio_p50"] <= v["ratio_p90"]
    assert v["flips"] and all({"key", "break_even", "unit"} <= set(f) for f in v["flips"])
    keys = {f["key"] for f in v["flips"]}
    assert "prices.international-2025.servers.atlas-800i-a2" in keys
    assert r["answer"].startswith("For deepseek-v3 (int8) at 5 req/s")
    assert f"cheaper with probability {v['p_winner']:.2f}" in r["answer"]
    for row in r["devices"]:
        assert row["usd_per_mtok_p10"] <= row["usd_per_mtok_p50"] <= row["usd_per_mtok_p90"]


@settings(max_examples=40, deadline=None)
@given(
    low=st.floats(1.0, 1e6),
    width=st.floats(0.0, 1e6),
    at=st.floats(0.0, 1.0),
    u=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=20),
)
def test_triangular_quantiles_are_monotone_and_bounded(low, width, at, u):
    dist = Dist.triangular(low, low + at * width, low + width)
    q = dist.ppf(np.sort(np.asarray(u)))
    assert np.all(np.diff(q) >= -1e-9 * (1 + abs(low + width)))
    assert np.all(q >= low - 1e-9 * low) and np.all(q <= low + width + 1e-9 * (low + width))


@settings(max_examples=15, deadline=None)
@given(
    a=st.floats(1e4, 1e6),
    b=st.floats(1e4, 1e6),
    spread=st.floats(0.01, 0.5),
    seed=st.integers(0, 9),
)
def test_p_cheapest_is_a_distribution_and_the_ratio_agrees(a, b, spread, seed):
    ranges_a = {"server_price": Dist.relative(a, spread)}
    ranges_b = {"server_price": Dist.relative(b, spread)}
    v = joint_verdict(
        [Priced("a", _inputs("a", a), ranges_a), Priced("b", _inputs("b", b), ranges_b)],
        n=300,
        seed=seed,
    )
    assert sum(v.p_cheapest.values()) == pytest.approx(1.0)
    assert v.p_winner >= 0.5
    assert float(np.mean(v.ratio > 1.0)) == pytest.approx(v.p_winner)
