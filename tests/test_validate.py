"""Validation cases: the shipped file parses, every active case predicts, the CLI reports."""

from __future__ import annotations

import json
import math
import statistics
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.catalog.loader import KINDS, load_catalog, read_yaml, split_provenance
from accelsim.cli import main
from accelsim.dtypes import precision
from accelsim.errors import AccelsimError, CatalogError
from accelsim.model.batch import BatchStats
from accelsim.model.perf.draft import SpecDecode
from accelsim.model.plan import ParallelPlan
from accelsim.model.routing import RoutingModel
from accelsim.run.timing import perf_model_from_catalog
from accelsim.validate.calibrate import CALIBRATED
from accelsim.validate.cases import METRICS, Case, load_cases, source_key
from accelsim.validate.crossval import cross_validate
from accelsim.validate.intervals import (
    Residual,
    group_intervals,
    interval_for,
    intervals_file,
    order_interval,
    speed_error,
)
from accelsim.validate.predict import CaseResult, predict, routing_model, run_validation
from accelsim.validate.tables import accuracy_sentences, cv_summary_markdown, intervals_markdown


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(scope="module")
def report(catalog):
    return run_validation(catalog)


def test_shipped_cases_parse_and_cover_every_source_case(catalog):
    cases = load_cases(catalog=catalog)
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)) >= 40
    active = [c for c in cases if c.status == "active"]
    assert len(active) >= 15
    assert {c.split for c in active} == {"fit", "check"}
    assert all(c.metric in METRICS for c in active)
    assert sum(c.mode == "serving" for c in active) >= 10
    assert all(c.scenario is not None for c in active if c.mode == "serving")
    # nothing waits without saying on what
    assert all(c.reason for c in cases if c.status in ("pending", "skipped"))
    # calibration cases are fit cases, parsed like active ones
    calibration = [c for c in cases if c.status == "calibration"]
    assert len(calibration) == 4
    assert all(c.split == "fit" and c.metric in METRICS and c.plan for c in calibration)
    assert [c.id for c in cases if c.status == "pending"] == []
    # the PD32 case runs with a scheduler per pool (prefill max_seqs 8, decode 832)
    pd32 = next(c for c in cases if c.id == "sgl-a3-r1-pd32-3.5k1.5k-50ms")
    assert pd32.status == "active" and pd32.cards == 32
    pools = pd32.scenario.disaggregation
    assert pools.prefill.scheduler.max_seqs == 8 and pools.decode.scheduler.max_seqs == 832


def test_every_active_case_predicts_a_finite_positive_value(report):
    for r in report.results:
        assert math.isfinite(r.predicted) and r.predicted > 0, r.case.id
        # a loose sanity band, not an accuracy target (see benchmarks/bench_validation.py)
        assert 0.1 < r.predicted / r.case.measured < 10, r.case.id


def test_report_json_shape(report):
    d = report.as_dict()
    assert {"cases", "median_abs_error_pct", "max_abs_error_pct", "by_hardware"} <= set(d)
    row = d["cases"][0]
    assert {"id", "metric", "unit", "measured", "predicted", "error_pct", "mode"} <= set(row)
    assert d["max_abs_error_pct"] >= d["median_abs_error_pct"]
    assert set(d["by_split"]) == {"fit", "check"}
    assert set(d["by_mode"]) == {"prefill", "decode", "serving"}
    serving = [r for r in d["cases"] if r["mode"] == "serving"]
    assert serving and all(r["bound"] == "serving" for r in serving)
    assert d["by_mode"]["serving"]["n"] == len(serving)
    assert sum(v["n"] for v in d["by_mode"].values()) == len(d["cases"])


def test_serving_case_is_predicted_from_the_simulated_run(catalog):
    """lmdeploy's bs1 2048/128 run: one request, so the summary's output tokens/s is 128 over
    its end-to-end time, which is one 2,048-token prefill plus 127 decode iterations of the
    case's timing model at growing context."""
    case = {c.id: c for c in load_cases(catalog=catalog)}["lmdeploy-a100-llama2-7b-bs1-2048-128"]
    assert case.mode == "serving" and case.metric == "output_tokens_per_s_total"
    r = predict(case, catalog)
    s = r.summary
    assert s.completed == s.arrived == 1
    assert r.predicted == s.throughput.output_tokens_per_s == pytest.approx(128 / s.e2e_s.mean)
    pm = perf_model_from_catalog(
        catalog, "llama-2-7b", "a100-sxm4-80gb", ParallelPlan(), precision("fp16")
    )
    by_hand = pm.step(BatchStats.prefill_chunk(2048)).total_s + sum(
        pm.step(BatchStats.decode(1, 2048 + i)).total_s for i in range(1, 128)
    )
    assert s.e2e_s.mean == pytest.approx(by_hand, rel=0.005)
    assert r.predicted == pytest.approx(128 / by_hand, rel=0.005)
    assert 0 < s.mbu < 1 and 0 < s.mfu < s.mbu  # batch-1 decode: memory-bound


def test_malformed_serving_case_names_file_and_case(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "- id: s\n  mode: serving\n  metric: output_tokens_per_s_total\n  measured: 1\n"
        "  scenario: {model: llama-2-7b, device: a100-sxm4-80gb, cards: 1, traffic: 7}\n"
    )
    with pytest.raises(CatalogError, match=r"bad.yaml: case s: scenario"):
        load_cases(bad)


_SERVING_HEAD = (
    "- id: s\n  mode: serving\n  metric: output_tokens_per_s_total\n  measured: 1\n"
    "  scenario: {model: llama-2-7b, device: a100-sxm4-80gb, cards: 1, "
    "traffic: {arrival: closed_loop, clients: 1, requests: 1, "
    "lengths: {kind: fixed, prompt: 8, output: 4}}}\n"
)


def test_serving_case_reported_values_parse(tmp_path):
    ok = tmp_path / "ok.yaml"
    ok.write_text(_SERVING_HEAD + "  reported: {mean_tpot_s: 0.05, concurrency: 12}\n")
    (case,) = load_cases(ok)
    assert case.reported == {"mean_tpot_s": 0.05, "concurrency": 12.0}


@pytest.mark.parametrize(
    ("reported", "match"),
    [
        ("{tpot_ms: 50}", r"reported.tpot_ms is unknown"),
        ("{mean_tpot_s: 0}", r"reported.mean_tpot_s must be a positive number"),
        ("{mean_ttft_s: fast}", r"reported.mean_ttft_s must be a positive number"),
        ("[1, 2]", r"reported must be a mapping"),
    ],
)
def test_malformed_reported_names_file_case_and_field(tmp_path, reported, match):
    bad = tmp_path / "bad.yaml"
    bad.write_text(_SERVING_HEAD + f"  reported: {reported}\n")
    with pytest.raises(CatalogError, match=r"bad.yaml: case s: " + match):
        load_cases(bad)


def test_serving_decomposition_by_hand():
    """Source: 1,000 output tok/s, 101-token outputs, TPOT 50 ms, accept length 2 -> Little's
    law gives 1000 / 101 * 0.05 * 100 = 49.505 decoding sequences and a 100 ms iteration.
    Simulated: 60 sequences, 80 ms iterations -> batch ratio 1.212, iteration ratio 0.8 (the
    throughput error factor 1.212 / 0.8 = 1.515)."""
    case = Case(
        id="s",
        status="active",
        mode="serving",
        metric="output_tokens_per_s_total",
        measured=1000.0,
        device="d",
        spec=SpecDecode.from_accept_length("mtp", 1, 2.0),
        reported={"mean_tpot_s": 0.05, "mean_ttft_s": 2.0},
    )
    summary = SimpleNamespace(  # the groups of a run ``Summary`` the decomposition reads
        completed=1200,
        duration_s=101.0,
        throughput=SimpleNamespace(output_tokens_per_s=1200.0),
        itl_s=SimpleNamespace(mean=0.08),
        tpot_s=SimpleNamespace(mean=0.04),
        ttft_s=SimpleNamespace(mean=1.5),
    )
    d = CaseResult(case, 1515.0, summary=summary, decode_seqs_mean=60.0).decomposition()
    assert d["src_decode_seqs"] == pytest.approx(1000 / 101 * 0.05 * 100)
    assert d["src_iteration_s"] == pytest.approx(0.1)
    assert d["batch_ratio"] == pytest.approx(60 / 49.50495, rel=1e-6)
    assert d["iteration_ratio"] == pytest.approx(0.8)
    assert (d["ttft_s"], d["src_ttft_s"], d["tpot_s"]) == (1.5, 2.0, 0.04)
    no_source = Case(**{**case.__dict__, "reported": {}})
    d2 = CaseResult(no_source, 1.0, summary=summary, decode_seqs_mean=60.0).decomposition()
    assert "batch_ratio" not in d2 and d2["decode_seqs"] == 60.0
    assert CaseResult(case, 1.0).decomposition() == {}


def test_shipped_sglang_ascend_decomposition_matches_the_throughput_error(report):
    """For the shipped SGLang cases the error factor is the batch ratio over the iteration
    ratio (output tokens/s = decoding sequences x tokens per step / iteration on both sides)."""
    seen = 0
    for r in report.results:
        d = r.decomposition()
        if "batch_ratio" not in d:
            continue
        seen += 1
        factor = r.predicted / r.case.measured
        assert factor == pytest.approx(d["batch_ratio"] / d["iteration_ratio"], rel=0.03)
    assert seen >= 5


def test_fit_case_reproduces_its_target_ratio(catalog):
    """The production drift was fitted on the fit pair's ratio: it should still close."""
    by_id = {c.id: c for c in load_cases(catalog=catalog)}
    fit = by_id["sglang-h100-ep32-prefill-4k"]
    ref = by_id[fit.reference]
    ratio = predict(fit, catalog).predicted / predict(ref, catalog).predicted
    assert ratio == pytest.approx(fit.measured / ref.measured, rel=0.03)
    assert routing_model(catalog, "production").drift > 0


def test_malformed_case_file_names_file_and_case(tmp_path, catalog):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "- id: x\n  mode: decode\n  metric: tokens_per_fortnight\n  measured: 1\n"
        "  device: h800\n  model: deepseek-v3\n"
    )
    with pytest.raises(CatalogError, match=r"bad.yaml: case x: metric"):
        load_cases(bad)


def test_cli_validate_json(capsys):
    main(["validate", "--json"])
    d = json.loads(capsys.readouterr().out)
    assert d["cases"] and "by_hardware" in d and "serving" in d["by_mode"]


def test_cli_validate_table_lists_serving_cases(capsys):
    main(["validate"])
    out = capsys.readouterr().out
    assert "mode serving" in out  # the by-mode aggregate row
    assert out.count("serving") > 10  # the mode column of each serving case


def test_cli_step_table_and_json(capsys):
    main(
        [
            "step",
            "mixtral-8x7b",
            "--device",
            "a100-sxm4-80gb",
            "--cards",
            "2",
            "--plan",
            "tp=2",
            "--decode-batch",
            "1",
            "--context",
            "100",
        ]
    )
    out = capsys.readouterr().out
    assert "routed_experts" in out and "tokens/s per card" in out
    main(
        [
            "step",
            "deepseek-v3",
            "--device",
            "h800",
            "--cards",
            "16",
            "--plan",
            "tp=1,dp=16,ep=16",
            "--dtype",
            "fp8",
            "--decode-batch",
            "512",
            "--context",
            "2000",
            "--mtp",
            "1",
            "--accept",
            "0.7",
            "--json",
        ]
    )
    d = json.loads(capsys.readouterr().out)
    assert d["tokens_per_decode_step"] == pytest.approx(1.7)
    assert d["ops"]["ep_dispatch"]["time_s"] > 0


def test_cli_bad_dtype_exits_2_with_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "step",
                "deepseek-v3",
                "--device",
                "ascend-910b2",
                "--dtype",
                "fp8",
                "--decode-batch",
                "1",
            ]
        )
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "ascend-910b2" in err and "fp8" in err


def test_eagle3_cases_name_their_draft_model(catalog):
    """Every shipped case with an EAGLE3 spec names the draft model of its target, and the
    scenario carries it."""
    eagle = [c for c in load_cases(catalog=catalog) if c.spec and c.spec.method == "eagle3"]
    assert len(eagle) >= 5
    for c in eagle:
        draft = catalog.model(c.spec.draft_model)
        assert draft.draft is not None and draft.draft.target == c.model, c.id
        assert c.scenario.speculative.draft_model == c.spec.draft_model


def test_case_spec_draft_model_parses_and_mtp_refuses_one(tmp_path):
    ok = tmp_path / "ok.yaml"
    ok.write_text(
        _SERVING_HEAD.replace("llama-2-7b", "qwen3-32b").replace("cards: 1", "cards: 2")
        + "  spec: {method: eagle3, draft_tokens: 3, accept_length: 2.0, "
        "draft_model: qwen3-32b-eagle3}\n"
    )
    (case,) = load_cases(ok)
    assert case.spec.draft_model == "qwen3-32b-eagle3"
    assert case.scenario.speculative.draft_model == "qwen3-32b-eagle3"
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        _SERVING_HEAD + "  spec: {method: mtp, accept_rate: 0.7, draft_model: qwen3-32b-eagle3}\n"
    )
    with pytest.raises(CatalogError, match=r"bad.yaml: case s: spec.draft_model must name"):
        load_cases(bad)


def _generated_block(path, name, content):
    """The text between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` of ``path`` is
    ``content`` (rewritten first with ACCELSIM_REGEN_GOLDEN=1)."""
    import os
    import re

    text = path.read_text(encoding="utf-8")
    start, end = f"<!-- {name}:start -->\n", f"<!-- {name}:end -->"
    if os.environ.get("ACCELSIM_REGEN_GOLDEN") == "1":
        text = re.sub(
            re.escape(start) + r".*?" + re.escape(end),
            lambda _: start + content + end,
            text,
            flags=re.S,
        )
        path.write_text(text, encoding="utf-8")
    assert start + content + end in text, f"{path.name}: block {name} is not current"


def test_readme_and_docs_state_the_current_accuracy(report, catalog):
    """The README's accuracy sentences and docs/validation.md's cross-validation summary and
    interval table are generated from the shipped validation (the CV errors from the stored
    residuals of workloads/validation/intervals.yaml), so a change to the timing model cannot
    leave an outdated accuracy claim behind; regenerate with ``accelsim validate --cv
    --write-intervals`` and then ACCELSIM_REGEN_GOLDEN=1."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    data = intervals_file(catalog)
    cv = {r.id: r.error_pct for r in data.residuals}
    _generated_block(root / "README.md", "accuracy", accuracy_sentences(report, cv))
    doc = root / "docs" / "validation.md"
    _generated_block(doc, "cv-summary", cv_summary_markdown(report, cv))
    _generated_block(doc, "intervals", intervals_markdown(data.groups))
    readme = " ".join((root / "README.md").read_text(encoding="utf-8").split())
    assert (
        f"Cross-validated: {len(report.results)} active cases, median absolute error "
        f"{round(statistics.median(abs(e) for e in cv.values()), 1):.1f} %" in readme
    )


def test_docs_error_table_is_current(report, catalog):
    """docs/validation.md's error table is ``accelsim validate --cv --markdown`` of the shipped
    cases, its CV column the residuals of the shipped workloads/validation/intervals.yaml (which
    ``test_shipped_residuals_are_the_cross_validation`` keeps current); regenerate with
    ``accelsim validate --cv --write-intervals`` and then ACCELSIM_REGEN_GOLDEN=1 when the timing
    model or cases change."""
    from pathlib import Path

    doc = Path(__file__).resolve().parents[1] / "docs" / "validation.md"
    cv = {r.id: r.error_pct for r in intervals_file(catalog).residuals}
    _generated_block(doc, "error-table", report.markdown(cv))


def test_every_calibrated_number_is_its_refit(catalog, capsys):
    """Every fitted number of the registry is what its refit returns on its fit cases today
    (``accelsim validate --refit`` shows the same table): ``conf: C`` in its catalog file, its
    fit cases ``split: fit``, the shipped value equal to the refit to its rounding."""
    by_id = {c.id: c for c in load_cases(catalog=catalog)}
    for number in CALIBRATED:
        entry = catalog.get(number.kind, number.name)
        assert entry.provenance[number.field].conf == "C", number.key
        assert all(by_id[c].split == "fit" for c in number.fit_cases(catalog)), number.key
    main(["validate", "--refit", "--json"])
    rows = json.loads(capsys.readouterr().out)["calibrations"]
    assert [r["key"] for r in rows] == [n.key for n in CALIBRATED]
    for number, row in zip(CALIBRATED, rows, strict=True):
        assert row["shipped"] == number.shipped(catalog), number.key
        assert row["refit"] == pytest.approx(row["shipped"], abs=0.5 * 10**-number.digits)
        assert row["fit_cases"] == list(number.fit_cases(catalog)), number.key
    assert catalog.device("a100-sxm4-80gb").efficiency.dequant_hbm_fraction == {
        "int8": 0.66,
        "int4": 0.45,
    }


def test_the_registry_holds_every_fitted_number_of_the_catalog(catalog):
    """Every ``conf: C`` number a shipped catalog file states is a registry entry, and back
    (numbers a card inherits through ``extends`` are its parent's entry)."""
    found = set()
    for kind in KINDS:
        for name in catalog.names(kind):
            own = read_yaml(catalog.raw(kind, name)[1])
            _, prov = split_provenance(own, own.get("provenance_default"))
            found |= {f"{kind}.{name}.{f}" for f, p in prov.items() if p.conf == "C"}
    assert found == {n.key for n in CALIBRATED}


def test_routing_profiles_are_sourced(catalog):
    assert set(catalog.names("routing")) >= {"uniform", "production"}
    for name in catalog.names("routing"):
        assert catalog.provenance_problems("routing", name) == []
    prod = routing_model(catalog, "production")
    assert (prod.kind, prod.skew, prod.seed) == ("zipf", 0.0, 0)
    assert routing_model(catalog, "uniform") == RoutingModel()


def test_a_refit_refuses_a_check_case(tmp_path, catalog):
    (tmp_path / "devices" / "frameworks").mkdir(parents=True)
    (tmp_path / "devices" / "frameworks" / "sglang-ascend.yaml").write_text(
        "name: sglang-ascend\ndisplay_name: x\nframework: sglang\nvendor: Huawei\n"
        "decode_token_layer_cost: {value: 1 us, conf: C, src: S1, note: test,\n"
        "  fit_cases: [sgl-a2-qwen3-32b-tp8-4k1.5k-bs1]}\n"
        "sources: {S1: {title: test, date: '2025'}}\n"
    )
    cat = load_catalog([str(tmp_path)])
    cost = next(n for n in CALIBRATED if n.kind == "framework")
    cases = {c.id: c for c in load_cases(catalog=cat)}
    with pytest.raises(AccelsimError, match="must be an active or calibration split: fit serving"):
        cost.refit(cat, cases)


def test_calibration_cases_are_fit_cases_and_never_scored(tmp_path, catalog, report):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "- id: x\n  status: calibration\n  split: check\n  mode: decode\n"
        "  metric: tpot_s\n  measured: 1\n  device: h800\n  model: deepseek-v3\n"
    )
    with pytest.raises(CatalogError, match=r"bad.yaml: case x: a calibration case is a fit case"):
        load_cases(bad)
    calibration = {c.id for c in load_cases(catalog=catalog) if c.status == "calibration"}
    assert calibration and not calibration & {r.case.id for r in report.results}


def test_a_fitted_number_needs_conf_c_and_fit_cases(tmp_path):
    (tmp_path / "workloads" / "routing").mkdir(parents=True)
    (tmp_path / "workloads" / "routing" / "production.yaml").write_text(
        "name: production\nkind: zipf\ndrift: {value: 0.3, conf: A, note: guessed}\n"
    )
    cat = load_catalog([str(tmp_path)])
    drift = next(n for n in CALIBRATED if n.key == "routing.production.drift")
    with pytest.raises(AccelsimError, match="needs conf C and fit_cases"):
        drift.fit_cases(cat)


def test_framework_profile_reaches_the_serving_timing_model(catalog):
    """A scenario naming framework sglang on a Huawei card is priced with the profile; the same
    scenario on an NVIDIA card, or without the framework, is not."""
    by_id = {c.id: c for c in load_cases(catalog=catalog)}
    sc = by_id["sgl-a2-qwen3-32b-tp8-6k1.5k-18ms"].scenario
    from accelsim.run.resolve import deploy

    prof = catalog.get("framework", "sglang-ascend")
    on = deploy(sc, catalog).main.perf
    off = deploy(sc.model_copy(update={"framework": None}), catalog).main.perf
    assert on.token_layer_s == prof.decode_token_layer_cost > 0
    assert off.token_layer_s == 0.0
    # on NVIDIA cards the vendor-free sglang profile applies: its memory rule, no per-token cost
    assert catalog.framework_profile("sglang", "NVIDIA").decode_token_layer_cost == 0.0


def test_cli_step_framework_adds_the_calibrated_cost(capsys, catalog):
    """``step --framework sglang`` on an Ascend card adds the profile's cost per decode token
    and layer: 16 sequences x 64 layers / tp 8 of it."""
    args = ["step", "qwen3-32b", "-d", "ascend-910b3", "--cards", "8", "--plan", "tp=8"]
    args += ["--decode-batch", "16", "--context", "4000", "--json"]
    main(args)
    plain = json.loads(capsys.readouterr().out)
    main([*args, "--framework", "sglang"])
    with_fw = json.loads(capsys.readouterr().out)
    cost = catalog.get("framework", "sglang-ascend").decode_token_layer_cost
    extra = with_fw["ops"]["overhead"]["time_s"] - plain["ops"]["overhead"]["time_s"]
    assert extra == pytest.approx(cost * 16 * 64 / 8)
    main([*args[:-1], "--framework", "sglang"])
    assert "calibrated" in capsys.readouterr().out


def test_fixed_batch_case_names_its_framework(tmp_path, catalog):
    """A fixed-batch case's framework overhead replaces the card's; a bad one is named."""
    case = (
        "- id: fw\n  mode: decode\n  metric: decode_tokens_per_s_per_user\n  measured: 100\n"
        "  device: a100-sxm4-80gb\n  model: llama-2-7b\n  cards: 1\n"
        "  batch: {decode_seqs: 1, context: 100}\n"
    )
    plain = tmp_path / "plain.yaml"
    plain.write_text(case)
    fw = tmp_path / "fw.yaml"
    fw.write_text(case + "  framework: {name: gpt-fast, iteration_overhead: 0 s}\n")
    card_s = catalog.device("a100-sxm4-80gb").efficiency.iteration_overhead
    a = predict(load_cases(plain, catalog)[0], catalog).step
    b = predict(load_cases(fw, catalog)[0], catalog).step
    assert a.times["overhead"] - b.times["overhead"] == pytest.approx(card_s)
    bad = tmp_path / "bad.yaml"
    bad.write_text(case + "  framework: {name: gpt-fast, iteration_overhead: fast}\n")
    with pytest.raises(CatalogError, match=r"bad.yaml: case fw: framework.*iteration_overhead"):
        load_cases(bad, catalog)


# ---- cross-validation and prediction intervals -----------------------------------------------
def test_source_key_is_the_publication():
    """Two commits of one GitHub file are one source; the scheme and a trailing slash go; a
    source without a url is its title."""
    a = {"url": "https://github.com/o/r/blob/0f925b5/README.md", "title": "x"}
    b = {"url": "https://github.com/o/r/blob/main/README.md"}
    assert source_key(a) == source_key(b) == "github.com/o/r/README.md"
    assert source_key({"url": "https://lmsys.org/blog/x/"}) == "lmsys.org/blog/x"
    assert source_key({"title": "A paper"}) == "A paper"
    assert source_key(None) is None


def test_order_interval_by_hand():
    """k = floor(0.1 (n + 1)): n = 9 -> the extremes, n = 19 -> the 2nd from each end, n = 8 ->
    no 80 % interval from the group alone."""
    assert order_interval(range(1, 10)) == (1, 9)
    assert order_interval(range(1, 20)) == (2, 18)
    assert order_interval(range(8)) is None


def test_speed_error_turns_latency_errors_into_speed_errors():
    assert speed_error("tpot_s", -20.0) == pytest.approx(0.25)
    assert speed_error("output_tokens_per_s_total", 10.0) == pytest.approx(0.10)


def _res(i, vendor, kind, s):
    return Residual(
        id=f"c{i}",
        source="s",
        vendor=vendor,
        kind=kind,
        metric="decode_tokens_per_s_per_card",
        error_pct=100 * s,
        speed_error=s,
    )


def test_a_small_group_is_widened_to_its_kind_pool():
    """Nine NVIDIA decode residuals -0.4..0.4 (step 0.1) give their own extremes; two Huawei
    decode residuals (0.5, 0.6) are widened to the decode pool of all 11 (k = 1: -0.4..0.6)."""
    res = [_res(i, "NVIDIA", "decode", (i - 4) / 10) for i in range(9)]
    res += [_res(9, "Huawei", "decode", 0.5), _res(10, "Huawei", "decode", 0.6)]
    groups = {(g.vendor, g.kind): g for g in group_intervals(res)}
    nv, hw = groups["NVIDIA", "decode"], groups["Huawei", "decode"]
    assert (nv.lo, nv.hi, nv.n) == (pytest.approx(-0.4), pytest.approx(0.4), 9)
    assert (hw.lo, hw.hi, hw.n) == (pytest.approx(-0.4), pytest.approx(0.6), 2)
    assert "widened to decode over all vendors (11 cases)" in hw.basis


def test_interval_for_inverts_the_speed_error(catalog):
    """A throughput v is true within [v / (1 + hi), v / (1 + lo)], a latency within
    [v (1 + lo), v (1 + hi)]; a vendor with no case takes the widest group and says so."""
    data = intervals_file(catalog)
    g = next(g for g in data.groups if (g.vendor, g.kind) == ("NVIDIA", "decode"))
    iv = interval_for(catalog, "h100-sxm5", "decode", 1000.0)
    assert (iv.p10, iv.p90) == (pytest.approx(1000 / (1 + g.hi)), pytest.approx(1000 / (1 + g.lo)))
    assert iv.basis == g.basis
    lat = interval_for(catalog, "h100-sxm5", "decode", 0.05, time=True)
    assert (lat.p10, lat.p90) == (
        pytest.approx(0.05 * (1 + g.lo)),
        pytest.approx(0.05 * (1 + g.hi)),
    )
    amd = interval_for(catalog, "mi300x", "serving", 100.0)
    assert amd.basis.startswith("no case on AMD cards: widest serving group")
    assert iv.label() == f"(P10–P90 {iv.p10:,.0f}–{iv.p90:,.0f})"


def test_shipped_intervals_are_the_ones_of_their_residuals(catalog, report):
    """workloads/validation/intervals.yaml: one residual per active case, each the speed error
    of its stored CV error, and the groups recomputed from the residuals."""
    data = intervals_file(catalog)
    assert data.conf == "C"
    assert [r.id for r in data.residuals] == [r.case.id for r in report.results]
    for r in data.residuals:
        assert r.speed_error == pytest.approx(speed_error(r.metric, r.error_pct), abs=1e-12)
    assert list(data.groups) == group_intervals(data.residuals)


def test_shipped_residuals_are_the_cross_validation(catalog, report):
    """A case whose source informs no calibrated number is predicted in CV with the full refits,
    which equal the shipped values: its residual is its fitted error. A case of a source that
    informs one (the SGLang-on-Ascend docs: two fit cases of the framework cost) is recomputed:
    its fold refits the cost on the other source's fit cases (SGLang's Ascend CI files), so no
    prior is needed."""
    cases = load_cases(catalog=catalog)
    by_id = {c.id: c for c in cases}
    informing = {by_id[f].source for n in CALIBRATED for f in n.fit_cases(catalog)}
    stored = {r.id: r.error_pct for r in intervals_file(catalog).residuals}
    fitted = {r.case.id: r.error_pct for r in report.results}
    plain = [cid for cid in stored if by_id[cid].source not in informing]
    assert len(plain) >= 20
    for cid in plain:
        assert stored[cid] == pytest.approx(fitted[cid], rel=1e-9, abs=1e-9), cid
    probe = "sgl-a2-qwen3-32b-tp8-4k1.5k-bs1"
    cv = cross_validate(catalog, report=report, only=[probe])
    (fold,) = cv.folds
    assert fold.priors == ()
    assert fold.values["framework.sglang-ascend.decode_token_layer_cost"] > 0.0
    assert fold.values["routing.production.drift"] == routing_model(catalog, "production").drift
    assert cv.error_of()[probe] == pytest.approx(stored[probe], rel=1e-9)
    assert cv.error_of()[probe] != pytest.approx(fitted[probe], rel=1e-3)


def test_cv_never_uses_a_number_its_source_informed(catalog):
    """Holding out the sources of a number's fit cases leaves it nothing to refit on: it takes
    its prior (drift and framework cost 0, the dequant fraction the card's hbm_fraction)."""
    cases = {c.id: c for c in load_cases(catalog=catalog)}
    hbm = catalog.device("a100-sxm4-80gb").efficiency.hbm_fraction
    for n in CALIBRATED:
        src = {cases[f].source for f in n.fit_cases(catalog)}
        held = frozenset(c.id for c in cases.values() if c.source in src)
        assert not n.can_refit(catalog, held), n.key
        with pytest.raises(AccelsimError, match="every fit case is held out"):
            n.refit(catalog, cases, held)
        assert n.prior(catalog) == (hbm if n.kind == "device" else 0.0), n.key


def test_cli_validate_cv_json_and_its_guards(tmp_path, capsys, catalog):
    """``validate FILE --cv --json`` on one SGLang-on-Ascend case: its fold refits on the
    catalog's other sources (the framework cost on SGLang's Ascend CI cases, no prior), and
    reports the CV error next to the fitted one; ``--write-intervals`` needs ``--cv`` and the
    shipped cases."""
    import yaml

    raw = read_yaml(catalog.folder_files("workloads/validation")["cases"])
    one = [c for c in raw if c["id"] == "sgl-a2-qwen3-32b-tp8-4k1.5k-bs1"]
    path = tmp_path / "one.yaml"
    path.write_text(yaml.safe_dump(one))
    main(["validate", str(path), "--cv", "--json"])
    d = json.loads(capsys.readouterr().out)
    (row,) = d["cv"]["cases"]
    stored = {r.id: r.error_pct for r in intervals_file(catalog).residuals}
    assert row["error_pct"] == pytest.approx(stored[row["id"]], rel=1e-9)
    assert d["cv"]["max_abs_error_pct"] == pytest.approx(abs(row["error_pct"]))
    assert d["cv"]["folds"][0]["priors"] == []
    assert d["cases"][0]["error_pct"] != pytest.approx(row["error_pct"], rel=1e-3)
    for args in (["--write-intervals"], [str(path), "--cv", "--write-intervals"]):
        with pytest.raises(SystemExit) as exc:
            main(["validate", *args])
        assert exc.value.code == 2
    capsys.readouterr()


def test_step_and_run_carry_the_interval(capsys, catalog):
    """``step --json`` and ``run --json`` attach the interval of their predicted throughput;
    the tables print it as ``(P10–P90 a–b)``."""
    args = ["step", "llama-2-7b", "-d", "h100-sxm5", "--decode-batch", "8", "--context", "512"]
    main([*args, "--json"])
    d = json.loads(capsys.readouterr().out)
    want = interval_for(catalog, "h100-sxm5", "decode", d["tokens_per_s_per_card"])
    assert d["interval"] == want.as_dict()
    assert d["interval"]["p10"] < d["tokens_per_s_per_card"] < d["interval"]["p90"]
    main(args)
    assert "P10–P90" in capsys.readouterr().out
    main(["run", "tiny", "--json"])
    r = json.loads(capsys.readouterr().out)
    # the interval is of the figure run reports: the mean over its seeds
    out_tps = r["across_seeds"]["output_tokens_per_s"]["mean"]
    assert r["interval"] == interval_for(catalog, r["device"], "serving", out_tps).as_dict()
    assert r["interval"] == r["across_seeds"]["output_tokens_per_s"]["interval"]
    assert r["interval"]["p10"] < out_tps < r["interval"]["p90"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-0.9, 5.0), min_size=1, max_size=40))
def test_order_interval_leaves_at_most_k_out_on_each_side(values):
    """Fewer than k = floor(0.1 (n + 1)) residuals lie below the low end, and fewer than k above
    the high end; a group too small for an interval is widened to hold all its residuals."""
    iv = order_interval(values)
    n, k = len(values), math.floor(0.1 * (len(values) + 1) + 1e-9)
    if k < 1:
        assert iv is None
        res = [_res(i, "X", "decode", v) for i, v in enumerate(values)]
        (g,) = group_intervals(res)
        assert g.lo <= min(values) and max(values) <= g.hi
        return
    lo, hi = iv
    assert lo <= hi
    assert sum(v < lo for v in values) <= k - 1 and sum(v > hi for v in values) <= k - 1
    assert n >= 9


def test_memory_fraction_free_is_a_share_of_what_weights_leave(catalog):
    """TensorRT-LLM's kv_cache_free_gpu_mem_fraction f: KV = f (HBM - weights - activations);
    vLLM's f of all HBM: KV = f HBM - weights - activations. The difference is (1 - f) of the
    weights and activations (Llama-3.3-70B FP8 on 2 x H100, f = 0.9)."""
    from accelsim.model.plan import fit

    args = (
        catalog.model("llama-3.3-70b"),
        catalog.device("h100-sxm5"),
        ParallelPlan(tp=2),
        precision("fp8"),
    )
    free = fit(*args, reserve_fraction=0.1, memory_fraction_covers="free")
    every = fit(*args, reserve_fraction=0.1, memory_fraction_covers="all")
    used = free.weights + free.activations
    assert free.kv_capacity == pytest.approx(0.9 * (free.hbm_capacity - used))
    assert free.kv_capacity - every.kv_capacity == pytest.approx(0.1 * used)
    assert free.reserve == pytest.approx(0.1 * (free.hbm_capacity - used))
