"""Scenario loading, resolution, digest, overrides; run_scenario, the CLI and the golden run."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from accelsim.catalog import load_catalog
from accelsim.cli import app
from accelsim.errors import AccelsimError
from accelsim.scenario import (
    Scenario,
    apply_scenario_overrides,
    dump_scenario,
    load_scenario,
    run_scenario,
)

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def test_shipped_scenarios_resolve(catalog):
    for name in ("default", "azure-conv-deepseek-v3", "tiny"):
        sc = load_scenario(name, catalog)
        assert sc.resolved and sc.kv_tokens and sc.plan and "replicas=" in sc.plan
        assert len(sc.digest) == 64
    d = load_scenario("default", catalog)
    assert d.model == "deepseek-v3" and d.devices == ["ascend-910b2", "a100-sxm4-80gb"]
    assert d.device == d.devices[0]
    az = load_scenario("azure-conv-deepseek-v3", catalog)
    assert az.traffic_spec.trace_sha256 == (
        "2f1e5b666d4e3055fdbba98598ce2ec307767b9064e03e2fa46676dbcc7d0bf8"
    )


def test_resolved_scenario_round_trips_and_reproduces(catalog):
    sc = load_scenario("tiny", catalog)
    text = dump_scenario(sc)
    again = Scenario.model_validate(yaml.safe_load(text))
    assert again == sc and again.digest == sc.digest
    a = run_scenario(sc, catalog)
    b = run_scenario(again, catalog)
    assert a.records.tobytes() == b.records.tobytes()


def test_overrides_change_digest(catalog):
    base = load_scenario("tiny", catalog)
    faster = load_scenario("tiny", catalog, ["traffic.rate=40/s", "scheduler.max_seqs=8"])
    assert faster.traffic_spec.rate == 40 and faster.scheduler.max_seqs == 8
    assert faster.digest != base.digest
    raw = apply_scenario_overrides({"traffic": "chat-poisson"}, {"traffic.rate": "9/s"}, catalog)
    assert raw["traffic"]["rate"] == "9/s" and raw["traffic"]["arrival"] == "poisson"


def test_bad_override_names_field(catalog):
    with pytest.raises(AccelsimError, match="scheduler.max_seqs"):
        load_scenario("tiny", catalog, ["scheduler.max_seqs=-1"])


def test_plan_that_does_not_fit_is_an_error(catalog):
    with pytest.raises(AccelsimError, match="does not fit"):
        load_scenario("default", catalog, ["cards=8", "plan=tp=8,ep=8"])


def test_disaggregated_scenario_runs(catalog):
    raw = yaml.safe_load((Path(catalog.roots[0]) / "workloads/scenarios/tiny.yaml").read_text())
    raw.pop("cards"), raw.pop("plan")
    raw["disaggregation"] = {
        "prefill": {"cards": 1, "plan": "tp=1"},
        "decode": {"cards": 2, "plan": "tp=1"},
    }
    sc = load_scenario(raw, catalog)
    assert sc.cards == 3 and sc.disaggregation.link_bandwidth > 0
    res = run_scenario(sc, catalog)
    assert res.summary["completed"] + res.summary["rejected"] == res.summary["arrived"]


def test_cli_run_json_and_out(tmp_path):
    runner = CliRunner()
    r = runner.invoke(
        app,
        ["run", "tiny", "--json", "--set", "scenario.traffic.requests=50", "--out", str(tmp_path)],
    )
    assert r.exit_code == 0, r.output
    s = json.loads(r.output)
    assert s["arrived"] == 50 and s["completed"] + s["rejected"] == 50
    assert "output_tokens_per_s" in s["throughput"] and "p99" in s["ttft_s"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "records.csv",
        "scenario.yaml",
        "summary.json",
    ]
    assert (tmp_path / "scenario.yaml").read_text().startswith("# digest: ")
    assert len((tmp_path / "records.csv").read_text().splitlines()) == 51


def test_cli_table():
    r = CliRunner().invoke(app, ["run", "tiny", "--set", "scenario.traffic.requests=20"])
    assert r.exit_code == 0, r.output
    assert "requests arrived / completed / rejected" in r.output and "20 / 20 / 0" in r.output


def _rounded(x, digits=6):
    if isinstance(x, dict):
        return {k: _rounded(v, digits) for k, v in x.items()}
    if isinstance(x, float):
        if math.isnan(x):
            return None
        return float(f"{x:.{digits}g}")
    return x


def test_golden_default_summary(catalog):
    """The built-in default scenario's summary, checked in; regenerate with
    ACCELSIM_REGEN_GOLDEN=1 when a deliberate model change moves it."""
    res = run_scenario(load_scenario("default", catalog), catalog)
    s = {k: v for k, v in res.summary.items() if k not in ("wall_s", "iteration_model_calls")}
    got = _rounded(s)
    path = GOLDEN / "run_default.json"
    if os.environ.get("ACCELSIM_REGEN_GOLDEN") == "1":
        path.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n")
    assert path.exists(), f"{path} missing: run with ACCELSIM_REGEN_GOLDEN=1 to create it"
    want = json.loads(path.read_text())
    assert got == want
