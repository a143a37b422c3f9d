"""Replications across seeds (``accelsim.sweep.replicate``), the sizing rule on their
pessimistic bound, and the prediction intervals attached to every predicted figure."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.catalog.loader import load_catalog
from accelsim.questions.sizing import slo_check, slo_check_seeds
from accelsim.run.resolve import load_scenario
from accelsim.run.simulate import run_scenario
from accelsim.sim.metrics import HIGHER, LOWER, Percentiles
from accelsim.sweep.lanes import Lanes
from accelsim.sweep.replicate import (
    Replicated,
    Replicator,
    SeedInterval,
    replica_seeds,
    replicate,
    summary_from_dict,
)
from accelsim.units import format_figure
from accelsim.validate.intervals import (
    GroupInterval,
    Residual,
    figure_interval,
    group_intervals,
    intervals_file,
)
from tests.clirun import run_cli


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(scope="module")
def tiny(catalog):
    return load_scenario("tiny", catalog)


def _result(summary) -> dict:
    """A summary's JSON form without the wall time (the one field that is not a result)."""
    return {k: v for k, v in summary.as_dict().items() if k != "wall_s"}


def test_seeds_are_derived_deterministically():
    seeds = replica_seeds(7, 4)
    assert seeds[0] == 7  # one replication is the scenario's own run
    assert seeds == replica_seeds(7, 4)
    assert len(set(seeds)) == 4
    assert replica_seeds(7, 2) == seeds[:2]  # more seeds extend, never reshuffle
    assert replica_seeds(8, 4)[1:] != seeds[1:]


def test_seed_interval_by_hand():
    # values 1, 2, 3: mean 2, sample sd 1, t(0.95, 2 df) = 2.919986 -> half width 2.919986/sqrt 3
    iv = SeedInterval.of([1.0, 2.0, 3.0], LOWER)
    half = 2.919985580355516 / math.sqrt(3)
    assert iv.mean == pytest.approx(2.0)
    assert iv.lo == pytest.approx(2.0 - half, rel=1e-9)
    assert iv.hi == pytest.approx(2.0 + half, rel=1e-9)
    assert iv.pessimistic == iv.hi  # a latency: the high end
    assert SeedInterval.of([1.0, 2.0, 3.0], HIGHER).pessimistic == pytest.approx(2.0 - half)
    one = SeedInterval.of([5.0])
    assert (one.lo, one.mean, one.hi, one.half_width) == (5.0, 5.0, 5.0, 0.0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.01, 100.0), min_size=1, max_size=8), st.sampled_from([LOWER, HIGHER]))
def test_pessimistic_bound_never_better_than_the_worst_seed(values, better):
    iv = SeedInterval.of(values, better)
    assert iv.lo <= iv.mean + 1e-9 and iv.mean <= iv.hi + 1e-9
    if better == LOWER:
        assert iv.pessimistic >= max(values)
    else:
        assert iv.pessimistic <= min(values)


def test_summary_round_trips_through_its_json_form(catalog, tiny):
    s = run_scenario(tiny, catalog).summary
    back = summary_from_dict(json.loads(json.dumps(s.as_dict())))
    assert back == s


def test_pool_and_serial_replications_agree_byte_for_byte(catalog, tiny):
    serial = replicate(tiny, catalog, 3, workers=0)
    pooled = replicate(tiny, catalog, 3, workers=2)
    assert serial.seeds == pooled.seeds
    assert [_result(s) for s in serial.summaries] == [_result(s) for s in pooled.summaries]
    assert json.dumps(serial.as_dict()) == json.dumps(pooled.as_dict())
    # each replication is the scenario at its seed
    second = run_scenario(tiny.model_copy(update={"seed": serial.seeds[1]}), catalog).summary
    assert _result(second) == _result(serial.summaries[1])


def test_a_pool_that_cannot_start_falls_back_to_this_process(catalog, tiny, monkeypatch):
    """A forkserver that refuses the connection (seen under pytest-xdist) costs speed, never
    the answer: the replications run in this process, with the pool's results."""

    def refuse(self):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(Lanes, "__enter__", refuse)
    with Replicator(catalog, workers=2) as rep:
        assert rep.fallback is not None and "Connection refused" in rep.fallback
        summaries = rep.run([tiny, tiny.model_copy(update={"seed": 5})])
    serial = [
        run_scenario(sc, catalog).summary for sc in (tiny, tiny.model_copy(update={"seed": 5}))
    ]
    assert [_result(s) for s in summaries] == [_result(s) for s in serial]


def test_ray_replications_agree_with_the_local_pool(catalog, tiny, tmp_path_factory):
    ray = pytest.importorskip("ray", reason="ray is not installed")
    from filelock import FileLock

    root = tmp_path_factory.getbasetemp().parent
    with FileLock(str(root / "accelsim-ray.lock")):  # one local Ray at a time (test_sweep)
        try:
            with Replicator(catalog, workers=2, executor="ray") as rep:
                remote = rep.replicate(tiny, 2)
        finally:
            if ray.is_initialized():
                ray.shutdown()
    local = replicate(tiny, catalog, 2, workers=2)
    assert [_result(s) for s in remote.summaries] == [_result(s) for s in local.summaries]


def test_sizing_judges_the_pessimistic_bound(catalog, tiny):
    base = run_scenario(tiny, catalog).summary

    def with_ttft(p99: float):
        return replace(base, ttft_s=Percentiles(p99 / 2, p99 / 2, p99 / 2, p99), rejected=0)

    # every seed meets a 1 s p99 TTFT target, but the mean's 90 % interval reaches past it:
    # mean 0.9, sd 0.1, half width 2.92 * 0.1 / sqrt(3) = 0.169 -> bound 1.069 s
    rep = Replicated((0, 1, 2), (with_ttft(0.8), with_ttft(0.9), with_ttft(1.0)))
    targets = {"ttft_p99": 1.0}
    assert all(slo_check(s, targets)[0] for s in rep.summaries)
    ok, margin = slo_check_seeds(rep, targets)
    assert not ok
    assert margin == pytest.approx(1.0 / (0.9 + 2.919985580355516 * 0.1 / math.sqrt(3)))
    tight = Replicated((0, 1, 2), (with_ttft(0.8), with_ttft(0.81), with_ttft(0.82)))
    assert slo_check_seeds(tight, targets)[0]
    rejecting = Replicated((0, 1), (with_ttft(0.5), replace(with_ttft(0.5), rejected=1)))
    assert not slo_check_seeds(rejecting, targets)[0]


def test_cli_run_reports_each_percentile_across_seeds(capsys):
    code, out, err = run_cli(capsys, "run", "tiny", "--seeds", "3", "--json")
    assert code == 0, err
    code2, again, _ = run_cli(capsys, "run", "tiny", "--seeds", "3", "--json")
    assert code2 == 0 and again == out  # byte-identical reruns
    data = json.loads(out)
    assert data["seeds"] == replica_seeds(0, 3)
    p99 = data["across_seeds"]["ttft_p99"]
    assert p99["n"] == 3 and p99["ci_low"] <= p99["mean"] <= p99["ci_high"]
    assert set(p99["interval"]) == {"p10", "p90", "basis"}
    assert "interval" in data["across_seeds"]["output_tokens_per_s"]
    assert "interval" not in data["across_seeds"]["goodput_share"]  # not a predicted speed
    assert "wall_s" not in data


# ---- prediction intervals from the cross-validated residuals --------------------------------


def _residual(i: int, vendor: str, kind: str, speed_error: float) -> Residual:
    return Residual(
        id=f"{vendor}-{kind}-{i}",
        source=f"source {i}",
        vendor=vendor,
        kind=kind,
        metric="output_tokens_per_s",
        error_pct=speed_error * 100,
        speed_error=speed_error,
    )


@pytest.fixture
def hand_catalog(tmp_path):
    """A catalog whose intervals.yaml holds hand-built residuals: nine NVIDIA serving cases
    (speed errors -0.30, -0.20, ..., +0.50) and three Huawei serving ones."""
    nvidia = [round(-0.3 + 0.1 * i, 10) for i in range(9)]
    residuals = [_residual(i, "NVIDIA", "serving", e) for i, e in enumerate(nvidia)]
    residuals += [_residual(i, "Huawei", "serving", e) for i, e in enumerate([-0.1, 0.0, 0.6])]
    data = {
        "conf": "C",
        "note": "hand-built residuals for a test",
        "generated": {"date": "2026-01-01", "commit": "test", "command": "test"},
        "coverage": 0.8,
        "residuals": [r.model_dump() for r in residuals],
        "groups": [g.model_dump() for g in group_intervals(residuals)],
    }
    folder = tmp_path / "workloads" / "validation"
    folder.mkdir(parents=True)
    (tmp_path / "workloads" / "scenarios").mkdir()
    (folder / "intervals.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_catalog([str(tmp_path)]), nvidia


def test_interval_comes_from_the_cross_validated_residuals(hand_catalog):
    cat, nvidia = hand_catalog
    # n = 9: k = floor(0.1 * 10) = 1, so P10 and P90 of the speed error are the extremes
    lo, hi = sorted(nvidia)[0], sorted(nvidia)[-1]
    groups = {(g.vendor, g.kind): g for g in intervals_file(cat).groups}
    assert isinstance(groups[("NVIDIA", "serving")], GroupInterval)
    assert (groups[("NVIDIA", "serving")].lo, groups[("NVIDIA", "serving")].hi) == (lo, hi)
    tok = figure_interval(cat, "a100-sxm4-80gb", "output_tokens_per_s", 1000.0)
    assert tok.p10 == pytest.approx(1000.0 / (1 + hi))
    assert tok.p90 == pytest.approx(1000.0 / (1 + lo))
    assert tok.basis == "NVIDIA serving, 9 cases"
    ttft = figure_interval(cat, "a100-sxm4-80gb", "ttft_p99", 2.0)
    assert (ttft.p10, ttft.p90) == (pytest.approx(2.0 * (1 + lo)), pytest.approx(2.0 * (1 + hi)))
    assert figure_interval(cat, "a100-sxm4-80gb", "goodput_share", 0.9) is None
    assert figure_interval(cat, "a100-sxm4-80gb", "ttft_p99", None) is None
    # three Huawei cases: their own range widened to the kind pooled over every vendor
    huawei = groups[("Huawei", "serving")]
    every = sorted([*nvidia, -0.1, 0.0, 0.6])  # 12 cases: k = 1
    assert (huawei.lo, huawei.hi) == (min(-0.1, every[0]), max(0.6, every[-1]))
    assert "widened" in huawei.basis


def test_a_vendor_with_no_case_says_so_and_takes_the_widest_group(hand_catalog, catalog):
    cat, _ = hand_catalog
    vendors = {catalog.device(d).vendor for d in catalog.names("device")}
    missing = sorted(vendors - {"NVIDIA", "Huawei"})
    if not missing:
        pytest.skip("every vendor of the catalog has a case")
    device = next(d for d in catalog.names("device") if catalog.device(d).vendor == missing[0])
    iv = figure_interval(cat, device, "output_tokens_per_s", 100.0)
    assert iv.basis.startswith(f"no case on {missing[0]} cards: widest serving group")
    widest = max(intervals_file(cat).groups, key=lambda g: g.hi - g.lo)
    assert iv.p10 == pytest.approx(100.0 / (1 + widest.hi))


def test_a_figure_prints_with_its_intervals():
    assert format_figure(1234.0, "tok/s", p10=1050.0, p90=1390.0) == (
        "1,234 tok/s (P10–P90 1,050–1,390)"
    )
    assert format_figure(1.5, "s", p10=1.2, p90=1.9, half_width=0.25) == (
        "1.50 s ±250.0 ms (P10–P90 1.20–1.90)"
    )
    assert format_figure(None, "s", p10=1.0, p90=2.0, missing="—") == "—"
