"""Energy follows what the cards do: card power between idle and TDP by the run's activity
(``max(MFU, MBU)``), not by the share of time an iteration runs (``accelsim.sim.metrics``,
``accelsim.model.cost``)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.catalog.loader import load_catalog
from accelsim.model.cost import CostInputs, evaluate
from accelsim.run.pricing import estimate_tco
from accelsim.run.resolve import load_scenario
from accelsim.run.simulate import run_scenario


def _tiny(rate: str):
    cat = load_catalog(None, [f"scenario.traffic.rate={rate}", "scenario.traffic.requests=100"])
    return cat, run_scenario(load_scenario("tiny", cat), cat).summary


@pytest.fixture(scope="module")
def light_and_heavy():
    return _tiny("1/s"), _tiny("20/s")


def test_card_power_is_idle_plus_activity_share_of_the_dynamic_range(light_and_heavy):
    """2 x A100 80GB (idle 60 W, TDP 400 W): mean power = 2 x (60 + a x 340) W, with a the
    activity max(MFU, MBU) of the run, at both loads; an iteration running is not full power
    (the activity is below the busy fraction)."""
    for _cat, s in light_and_heavy:
        assert s.activity == pytest.approx(min(max(s.mfu, s.mbu), 1.0))
        assert s.activity < s.busy_fraction
        assert s.energy.mean_power_w == pytest.approx(2 * (60 + s.activity * 340))


def test_energy_per_m_tokens_differs_between_loads(light_and_heavy):
    """At 1 req/s the cards idle most of the time: less power, more energy per token (idle
    power spread over fewer tokens) than at 20 req/s, in the simulation and in the cost model's
    energy dollars per M output tokens."""
    (cat, light), (_, heavy) = light_and_heavy
    assert light.activity < 0.5 * heavy.activity
    assert light.energy.mean_power_w < heavy.energy.mean_power_w
    assert light.energy.joules_per_output_token > 2 * heavy.energy.joules_per_output_token

    def energy_usd_per_mtok(s) -> float:
        tco = estimate_tco(
            cat,
            "a100-sxm4-80gb",
            2,
            utilization=s.activity,
            throughput=s.throughput.output_tokens_per_s,
        )
        tokens_per_year = s.throughput.output_tokens_per_s * 8766 * 3600
        return tco.values["energy"] / tokens_per_year * 1e6

    assert energy_usd_per_mtok(light) > 2 * energy_usd_per_mtok(heavy)


@settings(max_examples=50, deadline=None)
@given(low=st.floats(0.0, 1.0), high=st.floats(0.0, 1.0))
def test_energy_cost_is_monotone_in_activity_and_bounded_by_idle_and_tdp(low, high):
    """For any two activities, the more active cards cost more energy, and the energy of 8
    cards (idle 100 W, TDP 700 W, no host) lies between 8 x idle and 8 x TDP for a year at
    PUE 1 and $0.10/kWh: 8 x 100 W x 8,766 h x $0.10/kWh = $701.28 .. 8 x 700 W -> $4,908.96."""
    low, high = sorted((low, high))

    def energy(activity: float) -> float:
        inputs = CostInputs(
            cards=8,
            idle_power_w=100.0,
            tdp_w=700.0,
            utilization=activity,
            power_price_per_kwh=0.10,
        )
        return evaluate(inputs).values["energy"]

    assert energy(low) <= energy(high) + 1e-9
    assert energy(low) >= 701.28 - 1e-6 and energy(high) <= 4908.96 + 1e-6
