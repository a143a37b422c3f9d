"""Racks (``accelsim.model.racks``) and spares (``accelsim.model.spares``), by hand, and their
catalog wiring (``accelsim.run.placement``) and ``size`` output."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from clirun import run_cli
from hypothesis import given
from hypothesis import strategies as st

from accelsim.catalog.loader import load_catalog
from accelsim.errors import AccelsimError
from accelsim.model.cost import evaluate
from accelsim.model.racks import RackInputs, RackLimits, place
from accelsim.model.spares import (
    SECONDS_PER_YEAR,
    SpareInputs,
    capacity_availability,
    spares_for,
)
from accelsim.report.deployment import deployment_section
from accelsim.report.recipes import emit_recipe
from accelsim.run.placement import (
    colocation_billed_w,
    deployment_figures,
    node_power,
    rack_placement,
    spare_plan,
)
from accelsim.run.pricing import cost_inputs
from accelsim.run.resolve import deploy
from accelsim.run.scenario import read_scenario

DAY = 86400.0


def _hgx(nodes: int, **kw) -> RackInputs:
    return RackInputs("hgx", nodes, 8, 10_200.0, 8.0, "air", **kw)


# ---- racks ---------------------------------------------------------------------------------


def test_power_bound_rack():
    # 12 kW racks hold one 10.2 kW node (space would allow 42 // 8 = 5): 4 nodes, 4 racks
    p = place(_hgx(4), RackLimits("colo", 12_000.0))
    assert (p.per_rack, p.racks, p.hostable) == (1, 4, True)
    assert p.rack_kw == pytest.approx(10.2) and p.total_kw == pytest.approx(40.8)


def test_space_bound_rack():
    # 60 kW racks: power allows 5 (60 / 10.2 = 5.9), space 42 // 8 = 5; 11 nodes -> 3 racks
    p = place(_hgx(11), RackLimits("hall", 60_000.0))
    assert (p.per_rack, p.racks) == (5, 3)
    assert p.rack_kw == pytest.approx(51.0)
    q = place(_hgx(11), RackLimits("hall", 60_000.0, rack_units=48))  # 48 // 8 = 6 by space
    assert (q.per_rack, q.racks) == (5, 3)  # now power binds: floor(60 / 10.2) = 5


def test_node_over_rack_power_is_refused_with_the_power_needed():
    p = place(_hgx(4), RackLimits("old", 8_000.0))
    assert not p.hostable
    assert "10.2 kW" in p.reason and "8.0 kW" in p.reason
    assert p.nearest == "a facility with at least 10.2 kW per rack"


def test_cooling_and_rack_scale_and_racks_on_offer():
    liquid = RackInputs("nvl72", 36, 4, 8_060.0, 1.0, "liquid", nodes_per_rack=18)
    assert "liquid" in place(liquid, RackLimits("air-hall", 200_000.0)).reason
    hall = RackLimits("ai-hall", 150_000.0, cooling=("air", "liquid"))
    p = place(liquid, hall)
    assert (p.per_rack, p.racks, p.hostable) == (18, 2, True)
    assert p.rack_kw == pytest.approx(18 * 8.06)
    small = place(liquid, RackLimits("ai-hall", 140_000.0, cooling=("liquid",)))
    assert not small.hostable and "145.1 kW" in small.reason
    few = place(_hgx(11), RackLimits("hall", 60_000.0, racks_available=2))
    # 2 racks of 5 nodes of 8 cards: 80 cards at most
    assert not few.hostable and few.nearest.startswith("at most 80 cards")


@given(st.integers(0, 500), st.floats(1_000, 200_000))
def test_racks_hold_the_cluster(nodes, rack_power):
    p = place(_hgx(nodes), RackLimits("f", rack_power))
    if p.hostable:
        assert p.racks * p.per_rack >= nodes > (p.racks - 1) * p.per_rack
        assert p.rack_kw * 1000 <= rack_power + 1e-6
    else:
        assert rack_power < 10_200.0


# ---- spares --------------------------------------------------------------------------------


def test_spares_by_hand():
    # 4 nodes of 8 cards; 0.10 failures per card-year, 0.07 per node-year: 0.87 per node-year,
    # out 5 days: x = 0.87 * 5 / 365.25 = 0.011910, p = x / (1 + x) = 0.011770
    s = SpareInputs(4, 8, 0.10, 0.07, 5 * DAY, 0.999)
    x = 0.87 * 5 / 365.25
    assert s.down_probability == pytest.approx(x / (1 + x))
    p = x / (1 + x)
    q = 1 - p
    assert capacity_availability(4, 0, p) == pytest.approx(q**4)  # 0.9537
    # one spare: (1-p)^5 + 5 p (1-p)^4 = 0.99863 < 0.999
    one = q**5 + 5 * p * q**4
    assert capacity_availability(4, 1, p) == pytest.approx(one) and one < 0.999
    # two spares: (1-p)^6 + 6 p (1-p)^5 + 15 p^2 (1-p)^4 = 0.99995
    two = q**6 + 6 * p * q**5 + 15 * p**2 * q**4
    plan = spares_for(s)
    assert (plan.spares, plan.spare_cards) == (2, 16)
    assert plan.availability == pytest.approx(two)
    assert plan.expected_down == pytest.approx(4 * p)
    assert spares_for(SpareInputs(4, 8, 0.10, 0.07, 5 * DAY, 0.99)).spares == 1


def test_spares_edge_cases():
    assert spares_for(SpareInputs(100, 8, 0.0, 0.0, 5 * DAY, 0.999)).spares == 0
    assert capacity_availability(0, 0, 0.5) == 1.0
    with pytest.raises(AccelsimError, match="availability"):
        SpareInputs(4, 8, 0.1, 0.07, DAY, 1.0)
    assert SECONDS_PER_YEAR == 365.25 * 86400


@given(st.integers(1, 2000), st.floats(1e-4, 0.2), st.sampled_from([0.9, 0.99, 0.999]))
def test_spares_meet_the_target_and_no_fewer_would(nodes, p, target):
    rate = p / (1 - p) * SECONDS_PER_YEAR / DAY  # failures per node-year giving down prob. p
    plan = spares_for(SpareInputs(nodes, 1, 0.0, rate, DAY, target))
    assert plan.availability >= target
    if plan.spares:
        assert capacity_availability(nodes, plan.spares - 1, plan.down_probability) < target
    # more spares never lower the availability
    assert capacity_availability(nodes, plan.spares + 1, plan.down_probability) >= (
        plan.availability - 1e-12
    )


# ---- catalog wiring and size ----------------------------------------------------------------


def test_placement_from_the_catalog(catalog):
    server = catalog.server("hgx-h800")
    assert node_power(server, catalog.device("h800")) == pytest.approx(10_200.0)  # max_power
    p = rack_placement(catalog, "h800", 32, "us-2025")
    assert (p.nodes, p.per_rack, p.racks, p.hostable) == (4, 1, 4, True)
    gb = rack_placement(catalog, "gb200", 72, "us-2025")
    assert not gb.hostable and "us-modern-ai-hall" in gb.nearest
    plan = spare_plan(catalog, "h800", 32, 0.999)
    assert plan.spares == 2  # as test_spares_by_hand: 4 nodes, the same catalog rates
    figs = deployment_figures(catalog, "h800", 32, "us-2025", 0.999)
    assert figs["racks"]["nodes"] == 6 and figs["racks"]["racks"] == 6


def test_facility_that_cannot_power_a_node():
    cat = load_catalog(None, ["facility.us-2025.rack_power=8 kW"])
    p = rack_placement(cat, "h800", 32, "us-2025")
    assert not p.hostable and "10.2 kW" in p.reason
    assert "at least 10.2 kW per rack" in p.nearest and "us-modern-ai-hall" in p.nearest


def test_size_reports_racks_spares_and_refuses_what_the_facility_cannot_power(capsys):
    args = ["size", "--device", "h800", "--facility", "us-2025", "--seeds", "1", "--json"]
    over = ["--set", "facility.us-2025.rack_power=8 kW", "--availability", "0.999"]
    code, out, err = run_cli(capsys, *args, *over)
    assert code == 0, err
    (row,) = json.loads(out)["devices"]
    racks, spares = row["deployment"]["racks"], row["deployment"]["spares"]
    assert racks["hostable"] is False and "10.2 kW" in racks["reason"]
    assert racks["nearest"].startswith("a facility with at least 10.2 kW per rack")
    nodes = row["nodes"]
    assert spares["nodes"] == nodes and racks["nodes"] == nodes + spares["spare_nodes"]
    assert spares["availability"] >= 0.999
    # the spares are costed: the capex is that of the cards plus the spare nodes' cards
    sized = evaluate(cost_inputs(load_catalog(), "h800", row["cards"], utilization=0.5))
    spared = evaluate(
        cost_inputs(load_catalog(), "h800", row["cards"] + spares["spare_cards"], utilization=0.5)
    )
    assert row["capex_usd"] == pytest.approx(spared.capex_usd)
    assert row["capex_usd"] > sized.capex_usd


def test_report_deployment_section(catalog):
    sc = read_scenario("default", catalog)
    run = SimpleNamespace(scenario=sc)
    ok = SimpleNamespace(attainable=True, chosen=run, cards=32)
    none = SimpleNamespace(attainable=False, chosen=None, cards=0)
    result = SimpleNamespace(
        outcomes=[
            SimpleNamespace(device="ascend-910b2", sizing=ok),
            SimpleNamespace(device="h800", sizing=none),
        ]
    )
    section = deployment_section(result, catalog, "us-2025")
    assert section.id == "deployment"
    (row,) = section.tables[0].rows
    # 32 x 910B2 in 4 Atlas 800I A2 nodes of 5 kW (rated): 2 per 12 kW rack; 2 spares at 99.9 %
    assert row[:8] == ("ascend-910b2", "32", "4", "2", "3", "2", "10.0 of 12", "30.0")
    (block,) = section.code
    assert "(vllm-ascend)" in block.title and block.text == emit_recipe(
        deploy(sc, catalog), "vllm-ascend", catalog
    )
    assert any("h800: no size meets the SLOs" in p for p in section.paragraphs)


def test_colocation_is_billed_by_the_racks_taken(catalog):
    # 32 x H800: 4 HGX nodes rated 10.2 kW, one to a 12 kW rack: 4 racks billed 40.8 kW,
    # where the provisioned IT power is 32 x 700 W + 4 x 3.0 kW = 34.4 kW
    assert colocation_billed_w(catalog, "h800", 32, "us-2025", "hgx-h800") == pytest.approx(40_800)
    inputs = cost_inputs(catalog, "h800", 32, utilization=0.5)
    colo = evaluate(inputs).values["colocation"]
    assert colo == pytest.approx(40.8 * 184.06 * 12)
    # a facility without rack limits bills the provisioned power
    cat = load_catalog(None, ["facility.us-2025.rack_power=1 kW"])  # not hostable: provisioned
    assert colocation_billed_w(cat, "h800", 32, "us-2025", "hgx-h800") is None
    colo = evaluate(cost_inputs(cat, "h800", 32, utilization=0.5)).values["colocation"]
    assert colo == pytest.approx(34.4 * 184.06 * 12)
