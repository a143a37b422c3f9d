"""Sweeps: axis expansion, determinism, Pareto fronts, the results store, kill-and-resume, Ray."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.errors import AccelsimError
from accelsim.sweep import (
    best_per_group,
    dominates,
    expand,
    load_rows,
    meets_slo,
    pareto_front,
    parse_axis_values,
    run_sweep,
    sample_rows,
    sweep_from_mapping,
)
from accelsim.sweep.spec import SampleSpec, point_digest

BASE = {"device": "a", "cards": 8, "traffic": {"rate": 5.0}}


def toy_spec(**extra):
    data = {"name": "t", "base": BASE, "evaluator": "toy", "seed": 3}
    data.update(extra)
    return sweep_from_mapping(data)


# ---- axes ---------------------------------------------------------------------------------


def test_axis_forms():
    assert parse_axis_values("x", [1, "a"]) == [1, "a"]
    assert parse_axis_values("x", {"values": [3]}) == [3]
    assert parse_axis_values("x", {"range": [8, 64, 8]}) == [8, 16, 24, 32, 40, 48, 56, 64]
    assert parse_axis_values("x", {"range": [1, 4]}) == [1, 2, 3, 4]
    assert parse_axis_values("x", {"range": [0.5, 1.0, 0.25]}) == [0.5, 0.75, 1.0]
    assert parse_axis_values("x", {"linspace": [0.0, 1.0, 3]}) == [0.0, 0.5, 1.0]
    assert parse_axis_values("x", {"geomspace": [1, 64, 7]}) == [1, 2, 4, 8, 16, 32, 64]
    for bad in ([], {"range": [1, 0, 1]}, {"nope": [1]}, {"linspace": [0, 1]}, 3):
        with pytest.raises(AccelsimError):
            parse_axis_values("x", bad)


def test_product_order_and_targets():
    spec = toy_spec(
        axes={
            "device": ["a", "b"],
            "cards": {"range": [8, 24, 8]},
            "plan.tp,plan.ep": [[1, 8], [2, 16]],
            "set device.a.tdp": ["700 W"],
        }
    )
    exp = expand(spec, BASE)
    assert len(exp.points) == 2 * 3 * 2 * 1
    first, second, last = exp.points[0], exp.points[1], exp.points[-1]
    assert first.params == {
        "device": "a",
        "cards": 8,
        "plan.tp": 1,
        "plan.ep": 8,
        "set:device.a.tdp": "700 W",
    }
    assert second.params["plan.tp"] == 2  # the last axis varies fastest
    assert last.params["device"] == "b" and last.params["cards"] == 24
    assert first.scenario["plan"] == {"tp": 1, "ep": 8}
    assert first.overrides == {"device.a.tdp": "700 W"}
    assert "set" not in first.scenario
    assert [p.index for p in exp.points] == list(range(len(exp.points)))


def test_text_plan_is_opened_by_dotted_axes():
    base = {**BASE, "plan": "tp=8,ep=8"}
    spec = toy_spec(base=base, axes={"plan.dp": [1, 2]})
    pts = expand(spec, base).points
    assert pts[1].scenario["plan"] == {"tp": 8, "ep": 8, "dp": 2}


def test_where_constraints_exclude_points():
    spec = toy_spec(
        axes={"cards": [8, 12, 16], "plan.tp": [1, 8]},
        constraints={"where": ["cards % (plan.tp * plan.dp) == 0"]},
    )
    exp = expand(spec, BASE)
    kept = {(p.params["cards"], p.params["plan.tp"]) for p in exp.points}
    assert kept == {(8, 1), (8, 8), (12, 1), (16, 1), (16, 8)}
    assert len(exp.excluded) == 1
    with pytest.raises(AccelsimError):
        toy_spec(constraints={"where": ["__import__('os')"]})


def test_digests_and_seeds_are_content_addressed():
    spec = toy_spec(axes={"cards": [8, 16]})
    a = expand(spec, BASE).points
    b = expand(toy_spec(axes={"cards": [16, 8]}), BASE).points  # other order, same points
    assert {p.digest: p.seed for p in a} == {p.digest: p.seed for p in b}
    assert a[0].digest == point_digest(a[0].scenario, a[0].overrides, "toy", 3)
    other_seed = expand(toy_spec(axes={"cards": [8, 16]}, seed=4), BASE).points
    assert {p.digest for p in other_seed}.isdisjoint(p.digest for p in a)
    dup = expand(toy_spec(axes={"cards": [8, 8, 16]}), BASE).points
    assert len(dup) == 2


def test_lhs_is_deterministic_and_stratified():
    s = SampleSpec(
        method="lhs",
        n=16,
        axes={"a": [0.0, 1.0], "b": {"low": 1, "high": 100, "log": True}, "c": [0, 15]},
    )
    r1, r2 = sample_rows(s, 7), sample_rows(s, 7)
    assert r1 == r2
    assert r1 != sample_rows(s, 8)
    strata = sorted(int(row["a"] * 16) for row in r1)
    assert strata == list(range(16))  # one sample per stratum in each dimension
    assert all(1 <= row["b"] <= 100 for row in r1)
    ints = SampleSpec(n=8, axes={"k": {"low": 1, "high": 8, "integer": True}})
    ks = [row["k"] for row in sample_rows(ints, 0)]
    assert sorted(ks) == list(range(1, 9))
    unit = SampleSpec(method="random", n=3, axes={"bw": {"low": 1, "high": 2, "unit": "TB/s"}})
    assert all(str(row["bw"]).endswith(" TB/s") for row in sample_rows(unit, 0))


def test_samples_cross_the_grid():
    spec = toy_spec(axes={"device": ["a", "b"]}, samples={"n": 4, "axes": {"traffic.rate": [1, 9]}})
    exp = expand(spec, BASE)
    assert len(exp.points) == 8
    rates_a = [p.params["traffic.rate"] for p in exp.points if p.params["device"] == "a"]
    rates_b = [p.params["traffic.rate"] for p in exp.points if p.params["device"] == "b"]
    assert rates_a == rates_b


def test_bad_sweep_files_name_the_field(tmp_path):
    with pytest.raises(AccelsimError, match="unknown field"):
        sweep_from_mapping({"base": BASE, "axez": {}})
    with pytest.raises(AccelsimError, match="samples.axes.r"):
        sweep_from_mapping({"base": BASE, "samples": {"n": 2, "axes": {"r": [2, 1]}}})
    with pytest.raises(AccelsimError, match="slo.tpot_p99"):
        sweep_from_mapping({"base": BASE, "slo": {"tpot_p99": "fast"}})
    spec = sweep_from_mapping({"base": BASE, "slo": {"tpot_p99": "50 ms", "x": {"min": 2}}})
    assert spec.slo_bounds() == {"tpot_p99": (None, pytest.approx(0.05)), "x": (2.0, None)}


# ---- Pareto ---------------------------------------------------------------------------------

coords = st.lists(
    st.tuples(st.integers(0, 20), st.integers(0, 20)).map(lambda t: {"x": t[0], "y": t[1]}),
    max_size=40,
)


@given(coords)
@settings(max_examples=200, deadline=None)
def test_pareto_front_property(rows):
    front = pareto_front(rows, "x", "y")
    ids = {id(r) for r in front}
    for f in front:
        assert not any(dominates(r, f, "x", "y") for r in rows)
    for r in rows:
        if id(r) not in ids:
            assert any(dominates(f, r, "x", "y") for f in front)
    assert [f["x"] for f in front] == sorted(f["x"] for f in front)


def test_pareto_skips_missing_values_and_keeps_ties():
    rows = [{"x": 1, "y": 2}, {"x": 1, "y": 2}, {"x": None, "y": 0}, {"x": float("nan"), "y": 0}]
    assert len(pareto_front(rows, "x", "y")) == 2


def test_best_per_group_under_slo():
    rows = [
        {"status": "ok", "device": "a", "cost": 1.0, "lat": 0.2, "index": 0},
        {"status": "ok", "device": "a", "cost": 2.0, "lat": 0.05, "index": 1},
        {"status": "error", "device": "a", "cost": 0.1, "lat": 0.01, "index": 2},
        {"status": "ok", "device": "b", "cost": 3.0, "lat": None, "index": 3},
    ]
    bounds = {"lat": (None, 0.1)}
    assert not meets_slo(rows[0], bounds) and meets_slo(rows[1], bounds)
    best = best_per_group(rows, "device", "cost", bounds)
    assert list(best) == ["a"] and best["a"]["index"] == 1


# ---- running ---------------------------------------------------------------------------------


def test_run_records_errors_and_goes_on(tmp_path):
    spec = toy_spec(
        axes={"device": ["a", "b"], "fail": [0, 1], "fits": [True, False]},
        slo={"tpot_p99": 1.0},
    )
    run = run_sweep(spec, tmp_path, executor="local", workers=0)
    assert run.counts == {"ok": 2, "skipped": 2, "error": 4}
    errs = [r for r in run.rows if r["status"] == "error"]
    assert all("asked to fail" in r["message"] for r in errs)
    assert run.chart is not None and run.chart.read_text().lstrip().startswith("<?xml")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["counts"] == run.counts and set(summary["best_per_device"]) == {"a", "b"}
    flat = load_rows(tmp_path / "results.sqlite")
    assert len(flat) == 8 and {"device", "status", "digest"} <= set(flat[0])
    with pytest.raises(AccelsimError, match="--resume"):
        run_sweep(spec, tmp_path, workers=0)
    again = run_sweep(spec, tmp_path, workers=0, resume=True)
    assert again.evaluated == 0 and again.resumed == 8
    retried = run_sweep(spec, tmp_path, workers=0, resume=True, retry_errors=True)
    assert retried.evaluated == 4


def _metrics_by_digest(run):
    return {
        r["digest"]: (r["status"], json.dumps(r, sort_keys=True, default=str))
        for r in [
            {
                k: v
                for k, v in row.items()
                if k not in ("worker", "elapsed_s", "_params", "_metrics")
            }
            for row in run.rows
        ]
    }


def test_local_pool_equals_serial(tmp_path):
    spec = toy_spec(
        axes={"device": ["a", "b", "c"]}, samples={"n": 4, "axes": {"traffic.rate": [1, 90]}}
    )
    serial = run_sweep(spec, tmp_path / "s", workers=0, chart=False)
    pooled = run_sweep(spec, tmp_path / "p", workers=2, chart=False)
    assert _metrics_by_digest(serial) == _metrics_by_digest(pooled)
    assert pooled.executor == "local" and pooled.workers == 2


@pytest.fixture
def ray_local(tmp_path_factory):
    """Ray, with this test the only one among pytest-xdist workers running a local instance.

    A file lock in the run's temp root (shared by ``pytest -n 2`` workers) serializes the Ray
    tests: two local instances starting at once on a 2-core CI machine compete for CPUs and
    ports. Each test's instance has ``num_cpus=2``, no dashboard, no log forwarding (the
    executor's ``ray.init``), and is shut down after the test even when it fails.
    """
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'accelsim[ray]')")
    from filelock import FileLock

    root = tmp_path_factory.getbasetemp().parent
    with FileLock(str(root / "accelsim-ray.lock")):
        try:
            yield ray
        finally:
            if ray.is_initialized():
                ray.shutdown()


def test_ray_executor_matches_local(tmp_path, ray_local):
    ray = ray_local
    spec = toy_spec(
        axes={"device": ["a", "b"], "fail": [0, 1]},
        samples={"n": 3, "axes": {"traffic.rate": [1, 90]}},
    )
    local = run_sweep(spec, tmp_path / "local", workers=2, chart=False)
    remote = run_sweep(spec, tmp_path / "ray", executor="ray", workers=2, chart=False)
    assert not ray.is_initialized()  # the local instance it started is stopped again
    assert remote.executor == "ray"
    assert _metrics_by_digest(local) == _metrics_by_digest(remote)
    assert remote.counts == {"ok": 6, "skipped": 0, "error": 6}


def _count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1.0)
        try:
            return conn.execute("SELECT COUNT(*) FROM points").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return 0


def test_sigkill_then_resume(tmp_path):
    sweep = {
        "name": "kill",
        "base": {**BASE, "sleep": 0.04},
        "evaluator": "toy",
        "axes": {"device": ["a", "b", "c", "d"], "cards": {"range": [8, 80, 8]}},
    }
    path = tmp_path / "kill.yaml"
    path.write_text(yaml.safe_dump(sweep, sort_keys=False))
    out = tmp_path / "out"
    db = out / "results.sqlite"
    cmd = [sys.executable, "-c", "from accelsim.cli import main; main()", "sweep", str(path)]
    proc = subprocess.Popen(
        [*cmd, "--out", str(out), "--workers", "2", "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 30
        while _count(db) < 8 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.02)
        assert proc.poll() is None, "the sweep finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # its pool workers, if still alive
    before = {r["digest"] for r in load_rows(db)}
    assert 8 <= len(before) < 40
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    spec = sweep_from_mapping(sweep)
    run = run_sweep(spec, out, workers=2, resume=True, chart=False)
    assert run.resumed == len(before) and run.evaluated == 40 - len(before)
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    digests = [r[0] for r in conn.execute("SELECT digest FROM points")]
    conn.close()
    assert len(digests) == len(set(digests)) == 40
    assert before <= set(digests)
    fresh = run_sweep(spec, tmp_path / "fresh", workers=0, chart=False)
    assert _metrics_by_digest(fresh) == _metrics_by_digest(run)


def test_cli_sweep(tmp_path):
    from typer.testing import CliRunner

    from accelsim.cli import app

    path = tmp_path / "s.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "c",
                "base": BASE,
                "evaluator": "toy",
                "axes": {"cards": [8, 16]},
                "slo": {"tpot_p99": "1 s"},
            }
        )
    )
    runner = CliRunner()
    res = runner.invoke(app, ["sweep", str(path), "--out", str(tmp_path / "o"), "-w", "0"])
    assert res.exit_code == 0, res.output
    assert "Best per device" in res.output
    res = runner.invoke(
        app, ["sweep", str(path), "--out", str(tmp_path / "o"), "--json", "-w", "0", "--resume"]
    )
    assert res.exit_code == 0
    assert json.loads(res.output[res.output.index("{") :])["resumed"] == 2
    missing = subprocess.run(
        [sys.executable, "-c", "from accelsim.cli import main; main()", "sweep", "nope.yaml"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_analytic_evaluator_on_deepseek(tmp_path, catalog):
    spec = sweep_from_mapping(
        {
            "name": "a",
            "base": "default",
            "evaluator": "analytic",
            "axes": {
                "device,dtype,cards,plan": [
                    ["h800", "fp8", 32, "tp=8,dp=4,ep=32"],
                    ["h800", "fp8", 8, "tp=8,ep=8"],
                    ["h20", "fp8", 16, "tp=8,dp=2,ep=16"],
                ],
                "traffic.rate": [2],
            },
        }
    )
    run = run_sweep(spec, tmp_path, workers=0, chart=False)
    by = {(r["device"], r["cards"]): r for r in run.rows}
    assert by[("h800", 8)]["status"] == "skipped"  # 671B parameters do not fit in 8 x 80 GB
    assert "does not fit" in by[("h800", 8)]["message"]
    for key in (("h800", 32), ("h20", 16)):
        ok = by[key]
        assert ok["status"] == "ok", ok["message"]
        assert ok["usd_per_mtok"] > 0 and 0 < ok["tpot_p99"] < 1 and ok["ttft_p99"] > 0
        assert ok["output_tokens_per_s"] > 0


def test_analytic_overload_serves_capacity_not_less(tmp_path, catalog):
    """Past saturation the analytic replica serves its capacity: the served request rate stops
    growing with the offered rate but never falls below what a lighter load got served."""
    spec = sweep_from_mapping(
        {
            "name": "sat",
            "base": "default",
            "evaluator": "analytic",
            "axes": {"traffic.rate": [1, 2, 4, 8, 16, 32, 64]},
        }
    )
    run = run_sweep(spec, tmp_path, workers=0, chart=False)
    rows = sorted(run.rows, key=lambda r: r["traffic.rate"])
    served = [r["requests_per_s"] for r in rows]
    assert [r["status"] for r in rows] == ["ok"] * len(rows)
    assert rows[-1]["saturated"] and not rows[0]["saturated"]
    for lighter, heavier in itertools.pairwise(served):
        assert heavier >= 0.97 * lighter  # 3%: mean lengths are resampled at each rate
    capacity = served[-1]
    for r in rows:
        if r["saturated"]:
            assert r["requests_per_s"] == pytest.approx(capacity, rel=0.05)
            assert r["requests_per_s"] <= r["traffic.rate"]


def test_simulate_evaluator_on_tiny(tmp_path, catalog):
    spec = sweep_from_mapping(
        {
            "name": "s",
            "base": "tiny",
            "evaluator": "simulate",
            "axes": {"traffic.rate": ["10/s", "20/s"], "traffic.requests": [60]},
            "slo": {"tpot_p99": "1 s"},
        }
    )
    run = run_sweep(spec, tmp_path, workers=0, chart=False)
    assert run.counts["ok"] == 2, [r["message"] for r in run.rows]
    for r in run.rows:
        assert r["completed"] == 60 and r["usd_per_mtok"] > 0 and r["tpot_p99"] > 0
    again = run_sweep(spec, tmp_path / "again", workers=0, chart=False)
    assert _metrics_by_digest(again) == _metrics_by_digest(run)  # seeded from the digest


@pytest.mark.parametrize(
    "path", sorted((Path(__file__).parents[1] / "workloads" / "sweeps").glob("*.yaml"))
)
def test_example_sweep_files_expand(path, catalog):
    from accelsim.sweep import load_sweep, resolve_base

    spec = load_sweep(path)
    exp = expand(spec, resolve_base(spec, catalog))
    assert exp.points


def test_analytic_prices_iterations_with_the_simulators_timing_model(tmp_path, catalog):
    """The analytic evaluator reads its timing model from the Deployment, as the simulator:
    a framework iteration overhead from the scenario slows its TPOT as it slows the engine."""
    rows = {}
    for overhead in ("1 ms", "20 ms"):
        spec = sweep_from_mapping(
            {
                "name": f"fw-{overhead}",
                "base": "tiny",
                "evaluator": "analytic",
                "axes": {
                    "framework.name": ["test"],
                    "framework.iteration_overhead": [overhead],
                },
            }
        )
        (row,) = run_sweep(spec, tmp_path / overhead.replace(" ", ""), workers=0, chart=False).rows
        assert row["status"] == "ok", row["message"]
        rows[overhead] = row
    assert rows["20 ms"]["tpot_mean"] > rows["1 ms"]["tpot_mean"] + 0.015
