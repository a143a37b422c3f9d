"""Claims against accelsim: the schema (accelsim.run.scenario.Claim, part of the scenario), the
seed article's claim table in workloads/scenarios/seed-claims.yaml and, in
accelsim.questions.claims, the tolerance policy and each kind's verdicts per reading."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from accelsim.catalog.loader import load_catalog
from accelsim.dtypes import precision
from accelsim.model.plan import fit_best
from accelsim.questions import claims as claims_mod
from accelsim.questions.claims import (
    HOURS_PER_YEAR,
    MIN_PERF_TOLERANCE,
    PRICE_TOLERANCE,
    SPEC_TOLERANCE,
    card_family,
    check_claims,
    cluster_tco_readings,
    perf_tolerance,
)
from accelsim.questions.claims_readings import (
    LoadPoint,
    LoadSweep,
    Reading,
    precision_fits,
    supported_presets,
)
from accelsim.run.pricing import estimate_tco
from accelsim.run.resolve import load_scenario
from accelsim.run.scenario import Claim, dump_scenario


def claim(**kw) -> Claim:
    base = {"id": "c", "device": "ascend-910b2"}
    return Claim.model_validate({**base, **kw})


def test_values_with_units_become_si():
    assert claim(kind="throughput", value="1200 tok/s", cards=8).value == pytest.approx(1200)
    assert claim(kind="ttft", value="210 ms", cards=8).value == pytest.approx(0.21)
    assert claim(kind="peak_flops", value="256 TFLOPS", dtype="fp16").value == pytest.approx(
        2.56e14
    )
    assert claim(kind="cluster_cost", value=4.5e6, cards=1000).value == 4.5e6


def test_claims_need_their_fields():
    with pytest.raises(ValidationError, match="needs cards"):
        claim(kind="throughput", value=1200)
    with pytest.raises(ValidationError, match="needs dtype"):
        claim(kind="peak_flops", value="256 TFLOPS")
    with pytest.raises(ValidationError):
        claim(kind="bandwidth", value=1)


def _one(c: Claim, catalog, **kw):
    return _all(c, catalog, **kw)[0]


def _all(c: Claim, catalog, **kw):
    kw.setdefault("comparison", SimpleNamespace(outcomes=[], verdict=None))
    kw.setdefault("sweeps", {})
    return check_claims([c], kw.pop("sc", None), catalog, **kw)


def test_new_claim_fields_are_checked():
    with pytest.raises(ValidationError, match="needs versus"):
        claim(kind="cost_advantage", value=0.3)
    with pytest.raises(ValidationError, match="fraction below 1"):
        claim(kind="cost_advantage", value=30, versus="a100-sxm4-80gb")
    with pytest.raises(ValidationError, match="upper end"):
        claim(kind="cost_advantage", value=0.4, high=0.3, versus="a100-sxm4-80gb")
    with pytest.raises(ValidationError, match="dense_equivalents"):
        claim(kind="cheaper_than_dense", value=0.4, readings=["deepseek-v3"])


# ---- the article's claim table ------------------------------------------------------------
SCENARIO = Path(__file__).resolve().parent.parent / "workloads" / "scenarios" / "seed-claims.yaml"


@pytest.fixture(scope="module")
def table():
    raw = yaml.safe_load(SCENARIO.read_text(encoding="utf-8"))
    return {c["id"]: Claim.model_validate(c) for c in raw["claims"]}


V4 = ["seed-moe-1.2t", "deepseek-v4-flash", "deepseek-v4-pro"]


def test_every_claim_stands_where_the_article_puts_it(table):
    """Each claim names its row and column; a claim about DeepSeek V4 has the three readings."""
    assert all(c.row and c.column for c in table.values())
    for c in table.values():
        if c.row.startswith("DeepSeek V4") and c.kind != "peak_flops":
            assert c.readings == V4, c.id
    assert table["throughput-910b"].value == pytest.approx(1200)
    assert table["ttft-910b"].value == pytest.approx(0.210)
    assert table["cost-910b"].value == 0.85 and table["cost-910b"].device == "ascend-910b2"


def test_the_a100_claims_the_article_makes_and_no_other(table):
    """DeepSeek V3 on 8 x A100 at 240 ms and $1.20/M are checked against deepseek-v3; the
    180 ms and $5.00 are GPT-4o's (closed: not checkable); no $0.85 claim on the A100."""
    a100 = [c for c in table.values() if c.device == "a100-sxm4-80gb"]
    assert not any(c.kind == "usd_per_mtok" and c.value == 0.85 for c in a100)
    v3 = {c.kind: c for c in a100 if c.row == "DeepSeek V3 on 8 x A100"}
    assert v3["ttft"].value == pytest.approx(0.240) and v3["ttft"].readings == ["deepseek-v3"]
    assert v3["usd_per_mtok"].value == 1.20 and v3["usd_per_mtok"].cards == 8
    gpt = [c for c in a100 if c.row.startswith("GPT-4o")]
    assert {c.kind for c in gpt} == {"ttft", "usd_per_mtok"}
    assert all("closed model" in (c.not_checkable or "") for c in gpt)
    assert sorted(c.value for c in gpt) == pytest.approx([0.180, 5.00])


def test_the_cost_sentences_are_in_the_table(table):
    adv = table["ascend-advantage"]
    assert (adv.value, adv.high, adv.versus) == (0.30, 0.40, "a100-sxm4-80gb")
    dense = table["cheaper-than-dense"]
    assert dense.value == 0.40 and set(dense.dense_equivalents) == set(V4)
    assert table["peak-910b"].value == pytest.approx(256e12)
    assert (table["cluster-910b"].value, table["cluster-a100"].value) == (4.5e6, 7.2e6)
    assert "total cost of ownership" in table["cluster-910b"].column
    prices = {r.label: r.value for r in table["cost-910b"].references}
    assert prices["DeepSeek-V4-Pro API, output (75%-off promo to 2026-05-31)"] == 0.87
    assert prices["DeepSeek-V4-Flash API, output"] == 0.28


def test_dense_stand_ins_have_the_parameters_they_stand_in_for(catalog, table):
    """Each dense stand-in is within 0.5 % of its MoE's total (or active) parameter count."""
    for moe, (same_total, same_active) in table["cheaper-than-dense"].dense_equivalents.items():
        m = catalog.model(moe)
        for name, target in ((same_total, m.total_params), (same_active, m.active_params)):
            d = catalog.model(name)
            assert d.moe is None and d.hypothetical
            assert d.total_params == pytest.approx(target, rel=0.005)


# ---- peak: per SKU ------------------------------------------------------------------------
def test_peak_flops_claim_per_sku(catalog):
    """256 TFLOPS FP16 against each 910B SKU: 910B4 245.8 (+4%, inside 10%), 910B3 294.9
    (-13%), 910B2 353.9 (-28%), 910B1 363.7 (-30%); the seed-claim variant (hypothetical) and
    the two-die 910C are not SKUs of the 910B."""
    checks = _all(claim(kind="peak_flops", value="256 TFLOPS", dtype="fp16"), catalog)
    by = {c.reading: c for c in checks}
    assert set(by) == {"ascend-910b1", "ascend-910b2", "ascend-910b3", "ascend-910b4"}
    assert by["ascend-910b4"].verdict == "consistent" and "+4%" in by["ascend-910b4"].reason
    assert by["ascend-910b2"].predicted == pytest.approx(353.9e12)
    assert "-28%" in by["ascend-910b2"].reason and "-13%" in by["ascend-910b3"].reason
    assert all(by[n].verdict == "inconsistent" for n in ("ascend-910b1", "ascend-910b2"))
    none = _one(claim(kind="peak_flops", value="256 TFLOPS", dtype="fp8"), catalog)
    assert none.verdict == "inconsistent" and "no fp8 peak" in none.reason


@settings(max_examples=25, deadline=None)
@given(rel=st.floats(min_value=-0.5, max_value=0.5))
def test_peak_verdict_is_the_tolerance_band(catalog, rel):
    value = 353.9e12 * (1 + rel)
    r = next(
        c
        for c in _all(claim(kind="peak_flops", value=value, dtype="bf16"), catalog)
        if c.reading == "ascend-910b2"
    )
    inside = abs(value / 353.9e12 - 1) <= SPEC_TOLERANCE
    assert (r.verdict == "consistent") == inside


def test_card_family_follows_extends(catalog):
    fam = card_family(catalog, "ascend-910b4")
    assert {"ascend-910b1", "ascend-910b2", "ascend-910c", "ascend-910b2-seed-claim"} <= set(fam)
    assert "a100-sxm4-80gb" in card_family(catalog, "a800")


# ---- cluster cost: four accountings -------------------------------------------------------
def test_cluster_cost_capex_reading(catalog):
    """1,000 x 910B2 at ~120k CNY / 7.2 = $16.67M of bare cards: $4.5M is below even that."""
    by = {c.reading: c for c in _all(claim(kind="cluster_cost", value=4.5e6, cards=1000), catalog)}
    r = by["capex"]
    assert r.verdict == "inconsistent"
    assert r.predicted == pytest.approx(1000 * 120_000 / 7.2)
    assert "3.7x" in r.reason
    assert by["rental for a year"].verdict == "not checkable"  # no book rents a 910B
    fair = _one(claim(kind="cluster_cost", value=20e6, cards=1000), catalog)
    assert fair.verdict == "consistent"


def test_cluster_cost_tco_and_rental_readings(catalog):
    """A100: TCO per year from estimate_tco on 1,000 cards; over the life x its years; rental
    $1.30 per card-hour x 1,000 x 8,766 h = $11.40M."""
    year = estimate_tco(catalog, "a100-sxm4-80gb", 1000, utilization=1.0).per_year_usd
    years = estimate_tco(catalog, "a100-sxm4-80gb", 1000, utilization=1.0).inputs.years
    a100 = {"device": "a100-sxm4-80gb", "cards": 1000}
    by = {c.reading: c for c in _all(claim(kind="cluster_cost", value=year, **a100), catalog)}
    assert by["TCO per year"].verdict == "consistent"
    assert by["TCO per year"].predicted == pytest.approx(year)
    life = f"TCO over the life ({years:g} years)"
    assert by[life].predicted == pytest.approx(year * years)
    assert by[life].verdict == ("consistent" if years <= 1 + PRICE_TOLERANCE else "inconsistent")
    rental = 1.30 * 1000 * HOURS_PER_YEAR
    assert by["rental for a year"].predicted == pytest.approx(rental)
    r = {c.reading: c for c in _all(claim(kind="cluster_cost", value=7.2e6, **a100), catalog)}
    assert (
        r["rental for a year"].verdict == "inconsistent" and "1.6x" in r["rental for a year"].reason
    )
    ok = {c.reading: c for c in _all(claim(kind="cluster_cost", value=rental, **a100), catalog)}
    assert ok["rental for a year"].verdict == "consistent"


def test_cluster_tco_readings_for_the_cluster_cost_doc(catalog):
    """`accelsim cluster-cost --markdown` reads the claim as a TCO: every reading but capex,
    per device, the TCO per year equal to estimate_tco's on the same cards."""
    rows = cluster_tco_readings(catalog, {"a100-sxm4-80gb": ("A100", 7.2e6)}, 1000)
    readings = [r.reading for r in rows]
    assert readings[0] == "TCO per year" and "capex" not in readings
    year = estimate_tco(catalog, "a100-sxm4-80gb", 1000, utilization=1.0).per_year_usd
    assert rows[0].predicted == pytest.approx(year) and rows[0].claim.says == "A100"


# ---- tolerance: P90 of the family's cross-validated errors --------------------------------
def _intervals_root(tmp_path: Path, errors: dict[str, float]) -> Path:
    root = tmp_path / "cat"
    (root / "workloads" / "validation").mkdir(parents=True)
    (root / "workloads" / "scenarios").mkdir()
    residuals = [
        {
            "id": case,
            "source": "test",
            "vendor": "NVIDIA",
            "kind": "serving",
            "metric": "output_tokens_per_s",
            "error_pct": 100 * e,
            "speed_error": e,
        }
        for case, e in errors.items()
    ]
    data = {
        "conf": "C",
        "note": "test",
        "generated": {"date": "2026-12-03", "commit": "test", "command": "test"},
        "coverage": 0.8,
        "residuals": residuals,
        "groups": [],
    }
    path = root / "workloads" / "validation" / "intervals.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return root


def test_perf_tolerance_is_the_p90_of_the_family(tmp_path):
    """Three A100 cases with speed errors -0.1, 0.2, 0.5: |e| sorted 0.1, 0.2, 0.5; the P90 by
    linear interpolation sits at 0.9 x 2 = 1.8 -> 0.2 + 0.8 x 0.3 = 0.44. The A800 (same
    family, no case of its own) takes the same with "no case for this card"; a 910B card has
    no case on its family: its vendor has none either, so all cases."""
    root = _intervals_root(
        tmp_path,
        {
            "trtllm05-a100-llama7b-ttft-128": -0.1,
            "trtllm05-a100-llama7b-ttft-2048": 0.2,
            "trtllm05-a100-llama70b-tp4-ttft-128": 0.5,
        },
    )
    cat = load_catalog([str(root)])
    tol, basis = perf_tolerance(cat, "a100-sxm4-80gb")
    assert tol == pytest.approx(0.44) and "3 cross-validated case(s) on the family" in basis
    assert "no case for this card" not in basis
    tol, basis = perf_tolerance(cat, "a800")
    assert tol == pytest.approx(0.44) and basis.startswith("no case for this card;")
    tol, basis = perf_tolerance(cat, "ascend-910b2")
    assert tol == pytest.approx(0.44) and "no case for this card or its family" in basis


def test_perf_tolerance_floor(tmp_path):
    root = _intervals_root(tmp_path, {"trtllm05-a100-llama7b-ttft-128": 0.02})
    tol, basis = perf_tolerance(load_catalog([str(root)]), "a100-sxm4-80gb")
    assert tol == MIN_PERF_TOLERANCE and "floored at 10%" in basis


def test_supported_presets(catalog):
    assert "fp8" not in supported_presets(catalog.device("ascend-910b2"))
    assert "fp8" in supported_presets(catalog.device("h100-sxm5"))
    assert "w8a8" not in supported_presets(catalog.device("h100-sxm5"))  # alias of int8


# ---- performance per reading --------------------------------------------------------------
@pytest.fixture(scope="module")
def seed(catalog):
    return load_scenario("seed-claims", catalog)


def test_seed_model_does_not_fit_on_eight_cards(catalog, seed):
    """~1.2T parameters at 4 bits are ~600 GB of weights: more than 8 x 64 GB (910B2) and, with
    workspace and KV, than 8 x 80 GB (A100); 16 cards is the least at w4a16."""
    for device in ("ascend-910b2", "a100-sxm4-80gb"):
        rows = precision_fits(catalog, "seed-moe-1.2t", device, 8, 4096)
        assert rows and not any(f.fits for _, f, _ in rows)
        assert min(m for _, _, m in rows if m is not None) == 16


def _sweep(catalog, model, device, cards, dtype, points, context=4096):
    card = catalog.device(device)
    server = catalog.server_for(card)
    plan = fit_best(
        catalog.model(model), card, cards, precision(dtype), context, server.scale_up_domain_cards
    ).plan
    return LoadSweep(device, cards, plan, dtype, 300, tuple(points), model)


def test_perf_claim_on_a_config_that_does_not_fit_is_inconsistent(catalog, seed):
    """The reading runs the smallest deployment (16 cards, w4a16); a sweep already made of it
    is reused, so its saturation (the highest swept throughput, 250) is the figure."""
    pts = [
        LoadPoint(1.0, 200.0, 0.12, 0.3, 0.05, 0.07, True),
        LoadPoint(2.0, 250.0, 1, 9, 1, 2, False),
    ]
    sweep = _sweep(catalog, "seed-moe-1.2t", "ascend-910b2", 16, "w4a16", pts)
    c = claim(kind="throughput", value="1200 tok/s", cards=8, readings=["seed-moe-1.2t"])
    r = _one(c, catalog, sc=seed, sweeps={"x": sweep})
    assert r.verdict == "inconsistent" and r.reading == "seed-moe-1.2t"
    assert "does not fit on 8 x ascend-910b2 at any supported precision" in r.reason
    assert r.predicted == 250.0 and "16 x ascend-910b2" in r.reason
    assert "under the scenario's SLOs 200 tok/s" in r.reason


def test_perf_claims_per_reading_on_a_fitting_config(tmp_path):
    """V4-Flash fits on 8 x 910B2 at int8: the throughput claim is judged against the
    saturation widened by the tolerance, TTFT against the lowest-load p50 narrowed by it. The
    tolerance: three 910B3 cases (the 910B2's family) at speed error 0.2 -> P90 0.2."""
    cases = (
        "pangu-910b-decode-bs456",
        "pangu-910b-decode-bs1",
        "sgl-a2-qwen3-32b-tp4-3.5k1.5k-50ms",
    )
    catalog = load_catalog([str(_intervals_root(tmp_path, dict.fromkeys(cases, 0.2)))])
    seed = load_scenario("seed-claims", catalog)
    tol, _ = perf_tolerance(catalog, "ascend-910b2")
    assert tol == pytest.approx(0.2)
    pts = [
        LoadPoint(1.0, 300.0, 0.100, 0.2, 0.03, 0.05, True),
        LoadPoint(2.0, 1000.0, 0.400, 3.0, 0.09, 0.3, False),
    ]
    sweep = _sweep(catalog, "deepseek-v4-flash", "ascend-910b2", 8, "int8", pts, seed.context)
    kw = {"sc": seed, "sweeps": {"x": sweep}}
    flash = {"cards": 8, "readings": ["deepseek-v4-flash"]}
    ok = _one(claim(kind="throughput", value=1000 * (1 + tol) * 0.99, **flash), catalog, **kw)
    assert ok.verdict == "consistent" and ok.predicted == 1000.0
    high = _one(claim(kind="throughput", value=1000 * (1 + tol) * 1.01, **flash), catalog, **kw)
    assert high.verdict == "inconsistent"
    fast = _one(claim(kind="ttft", value=0.100 * (1 - tol) * 0.99, **flash), catalog, **kw)
    assert fast.verdict == "inconsistent" and fast.predicted == 0.100
    slow = _one(claim(kind="ttft", value=0.210, **flash), catalog, **kw)
    assert slow.verdict == "consistent"


def test_not_checkable_claims_say_why(catalog, seed):
    c = claim(kind="ttft", value="180 ms", cards=8, not_checkable="GPT-4o is a closed model")
    r = _one(c, catalog, sc=seed)
    assert r.verdict == "not checkable" and r.reason == "GPT-4o is a closed model"


def test_seed_scenario_claims_are_not_run_inputs(catalog, seed):
    assert len(seed.claims) == 13
    assert "\nclaims:" not in dump_scenario(seed)
    bare = seed.model_copy(update={"claims": []})
    assert bare.digest == seed.digest


# ---- cost per reading ---------------------------------------------------------------------
def _reading(catalog, model, device, sweep):
    return Reading(model, device, 8, (), True, sweep.cards, sweep.plan, sweep.dtype, sweep)


def test_cost_claim_four_accountings(catalog, seed):
    """Output-only and blended, at saturation and under the SLOs: the claim is consistent when
    inside an accounting's span from saturation's P10 to the SLO point's P90; the published
    prices of its reading are printed beside."""
    pts = [
        LoadPoint(1.0, 500.0, 0.1, 0.2, 0.03, 0.05, True, 2500.0),
        LoadPoint(2.0, 1000.0, 0.4, 3.0, 0.09, 0.3, False, 5000.0),
    ]
    sweep = _sweep(catalog, "deepseek-v4-flash", "ascend-910b2", 8, "int8", pts, seed.context)
    r = _reading(catalog, "deepseek-v4-flash", "ascend-910b2", sweep)
    sat = estimate_tco(
        catalog, "ascend-910b2", 8, utilization=1.0, throughput=1000.0, input_tokens_per_s=5000.0
    )
    ref = {"label": "V4-Flash API", "value": 0.28, "src": "test", "model": "deepseek-v4-flash"}
    c = claim(kind="usd_per_mtok", value=sat.usd_per_mtok_output, cards=8, references=[ref])
    ok = claims_mod._check_cost(c, r, catalog, "international-2025", "us-2025", 0)
    assert ok.verdict == "consistent" and "output at saturation" in ok.reason
    assert "V4-Flash API $0.28" in ok.reason
    # half the throughput under the SLOs doubles the output cost: 1.5x the saturation cost
    # lies between the two loads, inside the output span
    mid = claim(kind="usd_per_mtok", value=1.5 * sat.usd_per_mtok_output, cards=8)
    between = claims_mod._check_cost(mid, r, catalog, "international-2025", "us-2025", 0)
    assert between.verdict == "consistent" and "inside the output $" in between.reason
    low = claim(kind="usd_per_mtok", value=sat.usd_per_mtok_blended / 10, cards=8)
    bad = claims_mod._check_cost(low, r, catalog, "international-2025", "us-2025", 0)
    assert bad.verdict == "inconsistent" and "blended at saturation" in bad.reason
    assert "under the SLOs" in bad.reason


# ---- cost advantage and cheaper than dense ------------------------------------------------
def test_cost_advantage_band_against_the_ratio():
    """30-40 % cheaper is a cost ratio of 0.60-0.70: consistent when it overlaps P10-P90."""
    c = claim(kind="cost_advantage", value=0.3, high=0.4, versus="a100-sxm4-80gb")
    ok = claims_mod._advantage_verdict(c, (0.5, 0.65, 0.8), 0.9, "x", "m")
    assert ok.verdict == "consistent" and "0.60–0.70" in ok.reason and "= 0.90" in ok.reason
    bad = claims_mod._advantage_verdict(c, (1.2, 1.5, 2.0), 0.1, "x", "m")
    assert bad.verdict == "inconsistent" and bad.predicted == 1.5


def test_joint_ratio_oriented_to_the_claimed_device():
    """The joint verdict's ratio is runner-up / winner: when the claimed device wins, its own
    ratio is the inverse (P10 of 1/x is 1/P90 of x)."""
    v = SimpleNamespace(
        ratio_quantiles=(1.25, 1.5, 2.0), winner="a", p_cheapest={"a": 0.8, "b": 0.2}
    )
    ratios, p = claims_mod._oriented(v, "a")
    assert ratios == pytest.approx((0.5, 1 / 1.5, 0.8)) and p == 0.8
    assert claims_mod._oriented(v, "b") == ((1.25, 1.5, 2.0), 0.2)


def test_cost_advantage_from_the_compare_verdict():
    """The scenario model's reading also takes `accelsim compare`'s joint verdict: A100 wins
    with ratio (910B / A100) P10-P90 1.3-2.6, P(910B cheaper) 0.05 -> inconsistent with a
    30-40 % Ascend advantage (0.60-0.70); a comparison without the two devices gives none."""
    c = claim(kind="cost_advantage", value=0.3, high=0.4, versus="a100-sxm4-80gb")
    verdict = SimpleNamespace(
        devices=("ascend-910b2", "a100-sxm4-80gb"),
        winner="a100-sxm4-80gb",
        ratio_quantiles=(1.3, 1.8, 2.6),
        p_cheapest={"ascend-910b2": 0.05, "a100-sxm4-80gb": 0.95},
    )
    outcomes = [
        SimpleNamespace(device="ascend-910b2", values={"cards_needed": 120}),
        SimpleNamespace(device="a100-sxm4-80gb", values={"cards_needed": 96}),
    ]
    comp = SimpleNamespace(
        verdict=verdict, outcomes=outcomes, scenario=SimpleNamespace(model="seed-moe-1.2t")
    )
    r = claims_mod._check_advantage_compared(c, comp)
    assert r is not None and r.verdict == "inconsistent" and r.predicted == 1.8
    assert r.reading == "seed-moe-1.2t, sized under the SLOs" and "120 cards" in r.reason
    other = SimpleNamespace(verdict=SimpleNamespace(devices=("h100-sxm5", "h200")))
    assert claims_mod._check_advantage_compared(c, other) is None


@dataclass
class _Readings:
    table: dict

    def get(self, model, device, cards):
        return self.table[model]


def test_cheaper_than_dense_between_the_two_stand_ins(catalog, seed):
    """Same device, cards and prices, so $ per M output tokens is inverse to throughput in
    every draw: MoE 1,000 tok/s, dense same-total 100, same-active 800 -> savings
    1 - 100/1000 = 90 % and 1 - 800/1000 = 20 %. 40 % lies between; 95 % does not."""
    models = {"moe": 1000.0, "dt": 100.0, "da": 800.0}
    sweep = _sweep(catalog, "deepseek-v4-flash", "ascend-910b2", 8, "int8", [], seed.context)
    table = {
        m: _reading(
            catalog,
            m,
            "ascend-910b2",
            LoadSweep(
                "ascend-910b2",
                8,
                sweep.plan,
                "int8",
                300,
                (LoadPoint(1.0, tok, 0.1, 0.2, 0.03, 0.05, False, 0.0),),
                m,
            ),
        )
        for m, tok in models.items()
    }
    eq = {"dense_equivalents": {"moe": ("dt", "da")}, "readings": ["moe"], "cards": 8}
    args = (8, _Readings(table), catalog, "international-2025", "us-2025", 0)
    ok = claims_mod._check_dense(claim(kind="cheaper_than_dense", value=0.4, **eq), "moe", *args)
    assert ok.verdict == "consistent" and ok.predicted == pytest.approx(0.9)
    assert "saves 90%" in ok.reason and "+20%" in ok.reason
    no = claims_mod._check_dense(claim(kind="cheaper_than_dense", value=0.95, **eq), "moe", *args)
    assert no.verdict == "inconsistent"


def test_peak_claim_against_an_override_says_so():
    cat = load_catalog(overrides=["device.ascend-910b2.peak_flops.fp16=256 TFLOPS"])
    r = next(
        c
        for c in _all(claim(kind="peak_flops", value="256 TFLOPS", dtype="fp16"), cat)
        if c.reading == "ascend-910b2"
    )
    assert r.verdict == "consistent"
    assert "WHAT-IF override" in r.reason and "353.9 TFLOPS" in r.reason


def test_readings_without_a_sweep_are_not_checkable(catalog):
    """No deployment up to 8,192 cards, or traffic that cannot be swept over rates: the
    performance and cost claims on that reading say which."""
    sweep = _sweep(catalog, "deepseek-v4-flash", "ascend-910b2", 8, "int8", [])
    none = Reading("m", "ascend-910b2", 8, (), False, None, None, None, None)
    trace = Reading("m", "ascend-910b2", 8, (), True, 8, sweep.plan, "int8", None)
    c = claim(kind="throughput", value="100 tok/s", cards=8)
    r = claims_mod._check_perf(c, none, catalog)
    assert r.verdict == "not checkable" and "up to 8,192 cards" in r.reason
    r = claims_mod._check_perf(c, trace, catalog)
    assert r.verdict == "not checkable" and "cannot be swept" in r.reason
    cost = claim(kind="usd_per_mtok", value=1.0, cards=8)
    r = claims_mod._check_cost(cost, trace, catalog, "international-2025", "us-2025", 0)
    assert r.verdict == "not checkable" and "cannot be swept" in r.reason
