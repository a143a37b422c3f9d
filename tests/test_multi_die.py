"""Cards count packages, plan degrees count ranks (dies): an Ascend 910C package holds two dies.

Every place a user gives or reads ``cards`` — a scenario, a disaggregated pool, the run summary,
the cost, sizing, tune's budget and its candidates — counts packages; a plan of ``tp * dp * pp``
x ``replicas`` ranks occupies ``ranks / dies`` of them. The scenario here is the tiny one
(DeepSeek-V2-Lite, a few short requests) moved to the 910C, so each run is quick.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.catalog.loader import load_catalog
from accelsim.dtypes import precision
from accelsim.errors import AccelsimError
from accelsim.model.plan import minimum_cards, parse_plan
from accelsim.questions.claims_readings import precision_fits
from accelsim.questions.compare import sized_cost
from accelsim.questions.sizing import replica_shape, size_cluster
from accelsim.questions.tune import enumerate_candidates, tune
from accelsim.run.pricing import estimate_tco
from accelsim.run.resolve import load_scenario, plan_on_cards
from accelsim.run.scenario import Scenario, read_scenario
from accelsim.run.simulate import run_scenario
from accelsim.sweep.context import EvalContext
from accelsim.sweep.evaluators import analytic, simulate

DEVICE = "ascend-910c"
WIDE = "tp=1,dp=32,ep=32"  # SGLang's 910C decode instance: 32 dies = 16 packages
BOOK = "test-910c"
CARD_USD = 30000.0  # a test price (no sourced 910C price exists in the built-in books)


def _raw(catalog, **update):
    raw = read_scenario("tiny", catalog).model_dump(
        exclude={"resolved", "kv_tokens", "kv_tokens_per_seq"}
    )
    raw.update(device=DEVICE, devices=[DEVICE], dtype="int8", kv_dtype=None, server=None)
    raw["traffic"] = {**raw["traffic"], "requests": 12, "rate": "10/s"}
    raw["slo"] = {"ttft": "5 s", "tpot": "1 s"}
    raw.update(update)
    return raw


@pytest.fixture(scope="module")
def priced(tmp_path_factory):
    """The built-in catalog plus a price book that prices the 910C card (pricing by card)."""
    root = tmp_path_factory.mktemp("catalog")
    base = Path(__file__).resolve().parents[1] / "tco" / "pricebooks" / "international-2025.yaml"
    book = yaml.safe_load(base.read_text())
    book["name"] = BOOK
    book["cards"][DEVICE] = {"value": CARD_USD, "conf": "A", "note": "test price"}
    (root / "tco" / "pricebooks").mkdir(parents=True)
    (root / "tco" / "pricebooks" / f"{BOOK}.yaml").write_text(yaml.safe_dump(book))
    return load_catalog([str(root)])


# ---- the scenario ---------------------------------------------------------------------------


def test_sixteen_cards_hold_a_32_rank_plan_and_the_summary_says_16(catalog):
    sc = load_scenario(_raw(catalog, cards=16, plan=WIDE), catalog)
    assert sc.cards == 16
    assert parse_plan(sc.plan).ranks == 32  # the plan keeps counting dies
    assert parse_plan(sc.plan).replicas == 1
    s = run_scenario(sc, catalog).summary
    assert s.completed == s.arrived == 12
    assert s.cards == 16
    t = s.throughput
    assert t.output_tokens_per_s_per_card == pytest.approx(t.output_tokens_per_s / 16)


def test_resolved_scenario_reresolves_to_itself(catalog):
    sc = load_scenario(_raw(catalog, cards=16, plan=WIDE), catalog)
    again = load_scenario({**sc.model_dump(mode="json"), "resolved": False}, catalog)
    assert again.digest == sc.digest


def test_replicas_fill_the_ranks_of_the_cards(catalog):
    # 4 cards = 8 dies: tp=2 is 4 replicas of 2 dies; a plan alone must fill whole cards
    sc = load_scenario(_raw(catalog, cards=4, plan="tp=2"), catalog)
    assert sc.cards == 4 and parse_plan(sc.plan).replicas == 4
    alone = load_scenario(_raw(catalog, cards=None, plan="tp=2,replicas=3"), catalog)
    assert alone.cards == 3


def test_without_a_plan_cards_are_packages_too(catalog):
    sc = load_scenario(_raw(catalog, cards=2, plan=None), catalog)
    assert sc.cards == 2 and parse_plan(sc.plan).ranks == 4


def test_disaggregated_pools_count_packages(catalog):
    raw = _raw(catalog, cards=None, plan=None)
    raw["disaggregation"] = {
        "prefill": {"cards": 1, "plan": "tp=1"},  # 2 dies: two 1-die replicas
        "decode": {"cards": 2, "plan": "tp=1,dp=4,ep=4"},
    }
    sc = load_scenario(raw, catalog)
    d = sc.disaggregation
    assert (d.prefill.cards, d.decode.cards, sc.cards) == (1, 2, 3)
    assert parse_plan(d.prefill.plan).replicas == 2 and parse_plan(d.decode.plan).replicas == 1
    assert run_scenario(sc, catalog).summary.cards == 3


@pytest.mark.parametrize(
    ("cards", "plan", "message"),
    [
        (8, WIDE + ",replicas=1", r"uses 32 ranks but cards: 8 x 2 dies \(ascend-910c\) hold 16"),
        (3, "tp=4", r"tp\*dp\*pp=4 ranks does not divide the 6 ranks of cards: 3 x 2 dies"),
        (None, "tp=1", r"uses 1 ranks: not whole cards of 2 dies \(ascend-910c\)"),
    ],
)
def test_a_plan_with_the_wrong_rank_count_is_one_clear_error(catalog, cards, plan, message):
    with pytest.raises(AccelsimError, match=message) as err:
        load_scenario(_raw(catalog, cards=cards, plan=plan), catalog)
    assert "\n" not in str(err.value) and str(err.value).startswith("scenario tiny: plan")


def test_single_die_error_names_cards_and_ranks(catalog):
    raw = read_scenario("tiny", catalog).model_dump()
    raw.update(cards=3, plan="tp=2", resolved=False)
    with pytest.raises(AccelsimError, match=r"tp\*dp\*pp=2 ranks does not divide the 3 ranks of "):
        load_scenario(raw, catalog)


@settings(max_examples=60, deadline=None)
@given(
    tp=st.sampled_from([1, 2, 4, 8]),
    dp=st.sampled_from([1, 2, 4]),
    cards=st.integers(1, 16),
    dies=st.integers(1, 3),
)
def test_plan_on_cards_uses_exactly_cards_times_dies_ranks(tp, dp, cards, dies):
    text = f"tp={tp},dp={dp}"
    try:
        plan = plan_on_cards(text, cards, dies)
    except AccelsimError as exc:
        assert (cards * dies) % (tp * dp) != 0
        assert f"{cards * dies} ranks" in str(exc)
    else:
        assert plan.ranks == cards * dies and plan.ranks_per_replica == tp * dp
        if dies == 1:
            assert plan == parse_plan(text, cards)  # single-die cards: unchanged


# ---- cost -----------------------------------------------------------------------------------


def test_the_simulate_evaluator_charges_packages(priced):
    raw = _raw(priced, cards=16, plan=WIDE)
    ctx = EvalContext(
        Scenario.model_validate(raw).model_dump(mode="json"),
        seed=0,
        require_fit=True,
        overrides={},
        cost={"prices": BOOK},
        _catalog=priced,
    )
    row = simulate(ctx)
    assert row["cards"] == 16
    kwargs = {
        "utilization": row["activity"],  # energy follows the cards' activity
        "prices": BOOK,
        "throughput": row["output_tokens_per_s"],
        "input_tokens_per_s": row["input_tokens_per_s"],
        "requests_per_s": row["requests_per_s"],
    }
    sixteen = estimate_tco(priced, DEVICE, 16, **kwargs)
    ranks = estimate_tco(priced, DEVICE, 32, **kwargs)
    assert row["usd_per_mtok"] == pytest.approx(sixteen.usd_per_mtok_output)
    assert ranks.usd_per_mtok_output > 1.5 * sixteen.usd_per_mtok_output


def test_an_unpriced_device_keeps_its_figures_and_says_why_it_has_no_cost(catalog):
    """The built-in books price no 910C: the analytic point still scores (tune can rank it)."""
    raw = Scenario.model_validate(_raw(catalog, cards=1, plan="tp=2")).model_dump(mode="json")
    row = analytic(EvalContext(raw, seed=0, require_fit=True, overrides={}, _catalog=catalog))
    assert row["cards"] == 1 and row["output_tokens_per_s"] > 0
    assert row["usd_per_mtok"] is None and row["usd_per_card_hour"] is None
    assert "prices neither ascend-910c nor" in row["cost_note"]


# ---- sizing ---------------------------------------------------------------------------------


def test_sizing_a_910c_deployment_reports_packages_and_costs_them(priced):
    sc = load_scenario(_raw(priced, cards=16, plan=WIDE), priced)
    shape = replica_shape(sc, priced, DEVICE)  # the scenario's own plan, one replica
    assert shape.plan == parse_plan(WIDE)
    res = size_cluster(sc, priced, DEVICE, plan=WIDE)
    assert res.attainable and res.replicas == 1
    assert res.cards_per_replica == 16 and res.cards == 16 and res.nodes == 2
    assert res.summary.cards == 16
    tco = sized_cost(priced, res, prices=BOOK, facility="us-2025")
    assert tco.inputs.cards == 16
    assert tco.as_dict()["cards"] == 16


def test_sizing_a_one_die_replica_adds_whole_cards(catalog):
    sc = load_scenario(_raw(catalog, cards=1, plan="tp=1"), catalog)
    res = size_cluster(sc, catalog, DEVICE, plan="tp=1")
    assert res.attainable and res.cards_per_replica == 0.5
    assert res.replicas % 2 == 0 and all(r % 2 == 0 for r in res.runs)
    assert isinstance(res.cards, int) and res.cards == res.replicas // 2
    assert res.summary.cards == res.cards and isinstance(res.summary.cards, int)


def test_minimum_deployment_of_claims_counts_packages(catalog):
    card = catalog.device(DEVICE)
    server = catalog.server_for(card)
    arch, ctx = catalog.model("deepseek-v3"), 4096
    for name, _one, least in precision_fits(catalog, "deepseek-v3", DEVICE, 8, ctx):
        want = minimum_cards(
            arch, card, precision(name), ctx, server.cards_per_node, server.scale_up_domain_cards
        )
        assert least == (want.plan.ranks // 2 if want is not None else None)
        if least is not None:
            assert least % server.cards_per_node == 0  # whole nodes of packages


# ---- tune -----------------------------------------------------------------------------------


def test_tune_on_16_cards_enumerates_32_rank_plans(catalog):
    sc = Scenario.model_validate(_raw(catalog, cards=16, plan=None))
    ok, pruned = enumerate_candidates(sc, catalog, 16, batched_tokens=[2048], max_seqs=[64])
    assert ok and not pruned
    colocated = [c for c in ok if not c.disaggregated]
    assert {c.plan.ranks for c in colocated} == {32}
    assert "tp=1,ep=32,dp=32" in {c.plan_label for c in colocated}
    for c in ok:
        assert c.cards == 16 and c.ranks == 32
        if c.disaggregated:
            value = c.axis_value()[2]
            pools = [value["prefill"]["cards"], value["decode"]["cards"]]
            assert sum(pools) == 16 and all(isinstance(n, int) and n >= 1 for n in pools)
            assert c.prefill.ranks == 2 * pools[0] and c.decode.ranks == 2 * pools[1]
        else:
            assert c.axis_value()[0] == 16
    wide = next(c for c in colocated if c.plan_label == "tp=1,ep=32,dp=32")
    assert wide.describe()["replica_cards"] == 16
    one_die = next(c for c in colocated if c.plan.ranks_per_replica == 1)
    assert one_die.describe()["replica_cards"] == 0.5


def test_tune_best_scenario_resolves_on_its_card_budget(priced):
    """One card = 2 dies: every candidate's point resolves on ``cards: 1`` (the built-in books
    price no 910C, so the cost comes from the test book)."""
    sc = Scenario.model_validate(_raw(priced, cards=1, plan=None))
    res = tune(sc, cards=1, catalog=priced, workers=0, top_k=1, batched_tokens=[2048],
               max_seqs=[64], disaggregation=False, cost={"prices": BOOK})  # fmt: skip
    assert res.cards == 1 and res.best is not None
    assert all(r["reason"] is None or "top" in r["reason"] for r in res.evidence)
    best = load_scenario(res.best_scenario(), priced, overrides={})
    assert best.cards == 1 and parse_plan(best.plan).ranks == 2
