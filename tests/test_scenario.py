"""Scenario loading, resolution, the Deployment, digest, overrides; run_scenario, the CLI and the
golden run."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from accelsim.catalog.loader import load_catalog
from accelsim.cli import app
from accelsim.dtypes import precision
from accelsim.errors import AccelsimError, CatalogError
from accelsim.model.plan import ParallelPlan, fit, parse_plan
from accelsim.model.routing import RoutingModel
from accelsim.run.resolve import deploy, load_scenario
from accelsim.run.scenario import Scenario, apply_scenario_overrides, dump_scenario, read_scenario
from accelsim.run.simulate import run_scenario
from accelsim.validate.predict import routing_model

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def test_shipped_scenarios_resolve(catalog):
    for name in ("default", "azure-conv-deepseek-v3", "tiny"):
        sc = load_scenario(name, catalog)
        assert sc.resolved and sc.kv_tokens and isinstance(sc.plan, ParallelPlan)
        assert "replicas=" in sc.canonical()["plan"]
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
    assert res.summary.completed + res.summary.rejected == res.summary.arrived


def _tiny_raw(catalog):
    return yaml.safe_load((Path(catalog.roots[0]) / "workloads/scenarios/tiny.yaml").read_text())


def test_new_optional_fields_keep_old_digests(catalog):
    """framework, a pool's scheduler and routing_skew.drift at their defaults are left out of
    the canonical form, so a scenario that does not use them keeps its digest; set, they
    change it."""
    raw = _tiny_raw(catalog)
    base = load_scenario(raw, catalog)
    data = base.canonical()
    assert "framework" not in data and "drift" not in data["routing_skew"]
    assert "framework" in base.model_dump() and "drift" in base.model_dump()["routing_skew"]
    same = load_scenario({**raw, "routing_skew": {"kind": "uniform", "drift": 0.0}}, catalog)
    assert same.digest == base.digest
    drift = load_scenario({**raw, "routing_skew": {"kind": "zipf", "skew": 1.0}}, catalog)
    drift2 = load_scenario(
        {**raw, "routing_skew": {"kind": "zipf", "skew": 1.0, "drift": 0.3}}, catalog
    )
    assert drift2.digest != drift.digest
    fw = load_scenario({**raw, "framework": {"name": "x", "iteration_overhead": "5 ms"}}, catalog)
    assert fw.framework.iteration_overhead == pytest.approx(5e-3)
    assert fw.digest != base.digest
    again = Scenario.model_validate(yaml.safe_load(dump_scenario(fw)))
    assert again == fw and again.digest == fw.digest


def test_framework_overhead_slows_every_iteration(catalog):
    """One client at a time: every decode iteration emits one token, so a 20 ms framework
    overhead per iteration (tiny's card charges 2 ms) adds 18 ms to every TPOT."""
    raw = _tiny_raw(catalog)
    raw["traffic"] = {
        "arrival": "closed_loop",
        "clients": 1,
        "requests": 2,
        "lengths": {"kind": "fixed", "prompt": 64, "output": 16},
    }
    base = run_scenario(load_scenario(raw, catalog), catalog).summary
    fw = {"name": "x", "iteration_overhead": "20 ms"}
    slow = run_scenario(load_scenario({**raw, "framework": fw}, catalog), catalog).summary
    assert slow.tpot_s.mean - base.tpot_s.mean == pytest.approx(18e-3, rel=1e-6)


def test_production_drift_reaches_the_timing_model(catalog):
    """routing_skew.drift builds the same RoutingModel as validate's production profile."""
    prod = catalog.get("routing", "production")
    raw = _tiny_raw(catalog)
    raw["routing_skew"] = {"kind": prod.kind, "skew": prod.skew, "drift": prod.drift}
    sc = load_scenario(raw, catalog)
    rs = sc.routing_skew
    assert deploy(sc, catalog).main.perf.routing == routing_model(catalog, "production")
    assert RoutingModel(kind=rs.kind, skew=rs.skew, drift=rs.drift, seed=rs.seed) == (
        routing_model(catalog, "production")
    )


def test_each_pool_can_have_its_own_scheduler(catalog):
    """A decode pool's own max_seqs caps its batch (the prefill pool keeps the scenario's)."""
    raw = _tiny_raw(catalog)
    raw.pop("cards"), raw.pop("plan")
    raw["traffic"] = {**raw["traffic"], "requests": 60, "rate": "200/s"}
    raw["disaggregation"] = {
        "prefill": {"cards": 1, "plan": "tp=1"},
        "decode": {"cards": 1, "plan": "tp=1", "scheduler": {"max_seqs": 2}},
    }
    sc = load_scenario(raw, catalog)
    assert sc.disaggregation.decode.scheduler.max_seqs == 2
    assert sc.disaggregation.prefill.scheduler is None
    narrow = run_scenario(sc, catalog).summary
    raw["disaggregation"]["decode"].pop("scheduler")
    wide = run_scenario(load_scenario(raw, catalog), catalog).summary
    assert narrow.completed == wide.completed == 60
    assert narrow.duration_s > wide.duration_s


def test_summary_counts_packages_of_a_multi_die_card(catalog):
    """A 910C plan of 2 ranks (tp=2) is one package: ``cards: 1`` holds it, the summary's cards
    is 1, so per-card throughput is per package."""
    raw = _tiny_raw(catalog)
    raw.update(device="ascend-910c", cards=1, plan="tp=2", dtype="int8")
    raw["traffic"] = {**raw["traffic"], "requests": 20}
    s = run_scenario(load_scenario(raw, catalog), catalog).summary
    assert s.cards == 1
    t = s.throughput
    assert t.output_tokens_per_s_per_card == pytest.approx(t.output_tokens_per_s)


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
    # the label may wrap in a narrow terminal; the counts are one cell
    assert "requests arrived /" in r.output and "20 / 20 / 0" in r.output


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
    data = res.summary.as_dict()
    s = {k: v for k, v in data.items() if k not in ("wall_s", "iteration_model_calls")}
    got = _rounded(s)
    path = GOLDEN / "run_default.json"
    if os.environ.get("ACCELSIM_REGEN_GOLDEN") == "1":
        path.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n")
    assert path.exists(), f"{path} missing: run with ACCELSIM_REGEN_GOLDEN=1 to create it"
    want = json.loads(path.read_text())
    assert got == want


def test_framework_memory_fraction_sets_the_kv_capacity(catalog):
    """framework.memory_fraction f is the fit's reserve 1 - f: the resolved kv_tokens equal
    ``fit``'s at that reserve (and at 0.9, the default, nothing changes); ``static`` (SGLang)
    leaves the activation workspace outside the fraction, so it holds more KV than ``all``."""
    raw = _tiny_raw(catalog)
    base = load_scenario(raw, catalog)
    at_default = load_scenario({**raw, "framework": {"name": "v", "memory_fraction": 0.9}}, catalog)
    assert at_default.kv_tokens == base.kv_tokens
    sc = load_scenario({**raw, "framework": {"name": "v", "memory_fraction": 0.5}}, catalog)
    sched = sc.scheduler
    expected = fit(
        catalog.model(sc.model),
        catalog.device(sc.device),
        parse_plan("tp=1"),
        precision("bf16"),
        sc.context,
        reserve_fraction=0.5,
        max_batched_tokens=sched.max_batched_tokens,
        max_seqs=sched.max_seqs,
    ).max_kv_tokens
    assert sc.kv_tokens == expected < base.kv_tokens
    static = load_scenario(
        {
            **raw,
            "framework": {"name": "s", "memory_fraction": 0.5, "memory_fraction_covers": "static"},
        },
        catalog,
    )
    assert sc.kv_tokens < static.kv_tokens
    data = static.canonical()["framework"]
    assert data["memory_fraction"] == 0.5 and data["memory_fraction_covers"] == "static"
    plain = load_scenario({**raw, "framework": {"name": "v"}}, catalog).canonical()["framework"]
    assert "memory_fraction" not in plain and "memory_fraction_covers" not in plain
    with pytest.raises(CatalogError, match="memory_fraction"):
        load_scenario({**raw, "framework": {"name": "v", "memory_fraction": 1.5}}, catalog)


def test_pool_memory_fraction_overrides_the_framework_one(catalog):
    """Each disaggregated pool may carry its own launch flag; a pool without one uses the
    framework's. The pool field is left out of the digest when unset."""
    raw = _tiny_raw(catalog)
    raw.pop("cards"), raw.pop("plan")
    raw["framework"] = {"name": "sglang", "memory_fraction": 0.8}
    raw["disaggregation"] = {
        "prefill": {"cards": 1, "plan": "tp=1", "memory_fraction": 0.6},
        "decode": {"cards": 1, "plan": "tp=1"},
    }
    sc = load_scenario(raw, catalog)
    d = sc.disaggregation
    assert d.prefill.memory_fraction == 0.6 and d.decode.memory_fraction is None
    assert d.prefill.kv_tokens < d.decode.kv_tokens
    assert "memory_fraction" not in sc.canonical()["disaggregation"]["decode"]
    assert sc.canonical()["disaggregation"]["prefill"]["memory_fraction"] == 0.6


def _qwen32_raw(**speculative):
    return {
        "name": "qwen32-eagle",
        "model": "qwen3-32b",
        "device": "a100-sxm4-80gb",
        "cards": 2,
        "plan": "tp=2",
        "traffic": {
            "arrival": "closed_loop",
            "clients": 2,
            "requests": 4,
            "lengths": {"kind": "fixed", "prompt": 64, "output": 16},
        },
        "speculative": {"method": "eagle3", "draft_tokens": 3, "acceptance": 0.6, **speculative},
    }


def test_draft_model_takes_memory_and_runs(catalog):
    """vLLM-style fraction (covers all): the EAGLE3 draft's weights and KV pool come out of the
    KV capacity; the run prices the draft from its file."""
    generic = load_scenario(_qwen32_raw(), catalog)
    drafted = load_scenario(_qwen32_raw(draft_model="qwen3-32b-eagle3"), catalog)
    assert drafted.kv_tokens < generic.kv_tokens
    assert "draft_model" not in generic.canonical()["speculative"]
    assert drafted.canonical()["speculative"]["draft_model"] == "qwen3-32b-eagle3"
    assert drafted.digest != generic.digest
    again = Scenario.model_validate(yaml.safe_load(dump_scenario(drafted)))
    assert again.digest == drafted.digest
    summary = run_scenario(drafted, catalog).summary
    assert summary.completed == 4


@pytest.mark.parametrize(
    ("speculative", "message"),
    [
        ({"draft_model": "qwen3-32b-eagle"}, "speculative.draft_model: unknown model"),
        ({"draft_model": "qwen3-235b-a22b-eagle3"}, "drafts for qwen3-235b-a22b, not for"),
        ({"draft_model": "qwen3-32b"}, "is not a draft model"),
        ({"method": "mtp", "draft_model": "qwen3-32b-eagle3"}, "method mtp uses the model"),
    ],
)
def test_bad_draft_model_is_one_clear_error(catalog, speculative, message):
    with pytest.raises(AccelsimError, match=message):
        load_scenario(_qwen32_raw(**speculative), catalog)


def test_a_draft_model_cannot_be_served(catalog):
    raw = {**_qwen32_raw(), "model": "qwen3-32b-eagle3", "speculative": None}
    with pytest.raises(AccelsimError, match="is a draft model; serve its target 'qwen3-32b'"):
        load_scenario(raw, catalog)


def test_the_deployment_is_built_once_from_the_resolved_scenario(catalog):
    """deploy resolves the scenario and keeps its objects: the plan the scenario records (a
    ``ParallelPlan``, written as text only in dumps), its fit, KV capacity and timing model;
    a resolved scenario read back from its YAML deploys to the same pools."""
    sc = read_scenario("tiny", catalog)
    dep = deploy(sc, catalog)
    assert deploy(dep, catalog) is dep
    pool = dep.main
    assert dep.scenario.plan is pool.plan and pool.plan.replicas == 2 and not dep.disaggregated
    assert pool.kv_tokens == dep.scenario.kv_tokens == pool.fit.max_kv_tokens
    assert pool.perf.plan is pool.plan and dep.precision == precision("bf16")
    assert dump_scenario(dep.scenario).count("plan: tp=1,ep=1,replicas=2") == 1
    again = deploy(Scenario.model_validate(yaml.safe_load(dump_scenario(dep.scenario))), catalog)
    assert again.main.plan == pool.plan and again.main.kv_tokens == pool.kv_tokens
    assert again.scenario.digest == dep.scenario.digest


def test_micro_batch_overlap_survives_resolution(catalog):
    """The plan grammar carries micro_batch_overlap (text ``overlap=1`` or a mapping key), so a
    serving scenario's overlap reaches its timing model and its resolved file."""
    raw = {**_tiny_raw(catalog), "plan": "tp=1,overlap=1"}
    dep = deploy(load_scenario(raw, catalog), catalog)
    assert dep.main.plan.micro_batch_overlap and dep.main.perf.plan.micro_batch_overlap
    text = dump_scenario(dep.scenario)
    assert "overlap=1" in text
    back = Scenario.model_validate(yaml.safe_load(text))
    assert back.plan == dep.main.plan
    as_mapping = load_scenario({**raw, "plan": {"tp": 1, "micro_batch_overlap": True}}, catalog)
    assert as_mapping.plan == dep.main.plan
