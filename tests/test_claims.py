"""Claims against accelsim: the schema (accelsim.run.scenario.Claim, part of the scenario) and,
in accelsim.questions.claims, the tolerance policy and each kind's verdict."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from accelsim.catalog.loader import load_catalog
from accelsim.model.plan import parse_plan
from accelsim.questions.claims import (
    MIN_PERF_TOLERANCE,
    SPEC_TOLERANCE,
    LoadPoint,
    LoadSweep,
    check_claims,
    perf_tolerance,
    precision_fits,
    supported_presets,
)
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
    kw.setdefault("comparison", SimpleNamespace(outcomes=[]))
    kw.setdefault("sweeps", {})
    kw.setdefault("validation", None)
    return check_claims([c], kw.pop("sc", None), catalog, **kw)[0]


def test_peak_flops_claim_against_the_catalog(catalog):
    """910B2 fp16 is 353.9 TFLOPS in the catalog: 256 is 256/353.9 - 1 = -27.7%, outside 10%;
    the catalog's seed-claim variant carries exactly 256."""
    r = _one(claim(kind="peak_flops", value="256 TFLOPS", dtype="fp16"), catalog)
    assert r.verdict == "inconsistent"
    assert r.predicted == pytest.approx(353.9e12)
    assert "-28%" in r.reason
    assert "ascend-910b2-seed-claim" in r.reason
    ok = _one(claim(kind="peak_flops", value="340 TFLOPS", dtype="fp16"), catalog)
    assert ok.verdict == "consistent"  # 340 / 353.9 - 1 = -3.9%
    none = _one(claim(kind="peak_flops", value="256 TFLOPS", dtype="fp8"), catalog)
    assert none.verdict == "inconsistent" and "no fp8 peak" in none.reason


@settings(max_examples=40, deadline=None)
@given(rel=st.floats(min_value=-0.5, max_value=0.5))
def test_peak_verdict_is_the_tolerance_band(catalog, rel):
    value = 353.9e12 * (1 + rel)
    r = _one(claim(kind="peak_flops", value=value, dtype="bf16"), catalog)
    inside = abs(value / 353.9e12 - 1) <= SPEC_TOLERANCE
    assert (r.verdict == "consistent") == inside


def test_cluster_cost_claim(catalog):
    """1,000 x 910B2 at ~120k CNY / 7.2 = $16.67M of bare cards: $4.5M is below even that."""
    r = _one(claim(kind="cluster_cost", value=4.5e6, cards=1000), catalog)
    assert r.verdict == "inconsistent"
    assert r.predicted == pytest.approx(1000 * 120_000 / 7.2)
    assert "3.7x" in r.reason
    fair = _one(claim(kind="cluster_cost", value=20e6, cards=1000), catalog)
    assert fair.verdict == "consistent"
    dear = _one(claim(kind="cluster_cost", value=500e6, cards=1000), catalog)
    assert dear.verdict == "inconsistent" and "above" in dear.reason


def _outcome(device, p10, p50, p90):
    values = {
        "usd_per_mtok_p10": p10,
        "usd_per_mtok_p50": p50,
        "usd_per_mtok_p90": p90,
        "cards_needed": 16,
        "min_cards": 8,
        "min_plan": "tp=1,ep=8,dp=8",
    }
    return SimpleNamespace(device=device, values=values, uncertainty=object(), notes=[])


def test_cost_claim_inside_p10_p90(catalog):
    comp = SimpleNamespace(outcomes=[_outcome("ascend-910b2", 2.0, 3.0, 4.0)])
    c = claim(kind="usd_per_mtok", value=2.5)
    assert _one(c, catalog, comparison=comp).verdict == "consistent"
    low = _one(claim(kind="usd_per_mtok", value=0.85), catalog, comparison=comp)
    assert low.verdict == "inconsistent" and "below P10" in low.reason
    assert "0.28x" in low.reason  # 0.85 / 3.0
    missing = _one(claim(kind="usd_per_mtok", value=1.0, device="h100-sxm5"), catalog)
    assert missing.verdict == "not checkable"


@dataclass
class _Case:
    device: str


@dataclass
class _Result:
    case: _Case
    error_pct: float


def test_perf_tolerance_policy(catalog):
    """Own cases first, else the vendor's cards, else all; never below 10%."""
    v = SimpleNamespace(
        results=[
            _Result(_Case("a100-sxm4-80gb"), -20.0),
            _Result(_Case("a100-sxm4-80gb"), 40.0),
            _Result(_Case("ascend-910c"), 50.0),
            _Result(_Case("h100-sxm5"), 2.0),
        ]
    )
    tol, basis = perf_tolerance(catalog, "a100-sxm4-80gb", v)
    assert tol == pytest.approx(0.30) and "2 validation case" in basis
    tol, basis = perf_tolerance(catalog, "ascend-910b2", v)
    assert tol == pytest.approx(0.50) and "Huawei" in basis
    tol, basis = perf_tolerance(catalog, "h100-sxm5", v)
    assert tol == MIN_PERF_TOLERANCE and "floored" in basis


def test_supported_presets(catalog):
    assert "fp8" not in supported_presets(catalog.device("ascend-910b2"))
    assert "fp8" in supported_presets(catalog.device("h100-sxm5"))
    assert "w8a8" not in supported_presets(catalog.device("h100-sxm5"))  # alias of int8


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


def test_perf_claim_on_a_config_that_does_not_fit_is_inconsistent(catalog, seed):
    sweep = LoadSweep(
        "ascend-910b2",
        24,
        parse_plan("tp=8,ep=24,dp=3"),
        "int8",
        600,
        (LoadPoint(1.0, 250.0, 0.12, 0.3, 0.05, 0.07, True),),
    )
    r = _one(
        claim(kind="throughput", value="1200 tok/s", cards=8),
        catalog,
        sc=seed,
        sweeps={"ascend-910b2": sweep},
    )
    assert r.verdict == "inconsistent"
    assert "does not fit on 8 x ascend-910b2 at any supported precision" in r.reason
    assert r.predicted == 250.0 and "smallest deployment is 16 cards" in r.reason


def test_seed_scenario_claims_are_not_run_inputs(catalog, seed):
    assert len(seed.claims) == 9
    assert "\nclaims:" not in dump_scenario(seed)
    bare = seed.model_copy(update={"claims": []})
    assert bare.digest == seed.digest


@pytest.fixture(scope="module")
def tiny(catalog):
    return load_scenario("tiny", catalog)


def test_perf_claims_on_a_fitting_config_are_simulated(catalog, tiny):
    """DeepSeek-V2-Lite fits on one A100 node: the claimed config is simulated at the tiny
    scenario's rates; a modest throughput is achievable, a 1 ms TTFT is not."""
    a100 = {"device": "a100-sxm4-80gb", "cards": 8}
    checks = check_claims(
        [
            claim(id="t", kind="throughput", value="100 tok/s", **a100),
            claim(id="f", kind="ttft", value="1 ms", **a100),
            claim(id="s", kind="ttft", value="2 s", **a100),
            claim(id="h", kind="throughput", value="1e9 tok/s", **a100),
        ],
        tiny,
        catalog,
        comparison=SimpleNamespace(outcomes=[]),
        sweeps={},
        validation=None,
    )
    by = {c.claim.id: c for c in checks}
    assert by["t"].verdict == "consistent" and by["t"].predicted > 100
    assert by["f"].verdict == "inconsistent"
    assert by["s"].verdict == "consistent"
    assert by["h"].verdict in ("inconsistent", "not checkable")
    assert "x that" in by["h"].reason


def test_peak_claim_against_an_override_says_so():
    cat = load_catalog(overrides=["device.ascend-910b2.peak_flops.fp16=256 TFLOPS"])
    r = _one(claim(kind="peak_flops", value="256 TFLOPS", dtype="fp16"), cat)
    assert r.verdict == "consistent"
    assert "WHAT-IF override" in r.reason and "353.9 TFLOPS" in r.reason
