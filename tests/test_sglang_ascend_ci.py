"""The SGLang-on-Ascend nightly CI cases (workloads/validation/sglang-ascend-ci.yaml): a second
source of SGLang-on-Ascend serving figures next to the SGLang docs' sgl-* cases, so that the
calibrated ``sglang-ascend.decode_token_layer_cost`` keeps fit cases in every cross-validation
fold."""

from __future__ import annotations

import math
import re
from pathlib import Path

import yaml

from accelsim.catalog.loader import Catalog
from accelsim.validate.calibrate import CALIBRATED
from accelsim.validate.cases import load_cases
from accelsim.validate.predict import predict_serving

CI_FILE = Path(__file__).resolve().parents[1] / "workloads" / "validation" / "sglang-ascend-ci.yaml"
#: A CI test file at one commit of sgl-project/sglang.
PINNED = re.compile(
    r"^https://github\.com/sgl-project/sglang/blob/[0-9a-f]{40}/"
    r"test/registered/ascend/performance/[a-z0-9_]+/test_(ascend|npu)_[a-z0-9_]+\.py$"
)


def _raw() -> list[dict]:
    return yaml.safe_load(CI_FILE.read_text())


def test_ci_cases_parse_and_cite_a_pinned_ci_file(catalog: Catalog) -> None:
    cases = load_cases(CI_FILE, catalog)
    assert len(cases) == 11
    assert len({c.source for c in cases}) == 11  # one CI file, one source (one CV fold) each
    for c in cases:
        assert c.status == "active" and c.mode == "serving", c.id
        assert c.metric == "output_tokens_per_s_total" and c.scenario is not None, c.id
        assert c.scenario.framework is not None and c.scenario.framework.name == "sglang", c.id
        assert catalog.device(c.device).vendor == "Huawei", c.id
        assert c.source is not None and c.source.startswith("github.com/sgl-project/sglang/")
    measured = {c.id: c.measured for c in cases}
    for r in _raw():
        assert PINNED.match(r["source"]["url"]), r["id"]
        # the figure is the file's asserted floor, quoted as written
        assert f"output_token_throughput = {measured[r['id']]:.0f}" in r["quote"], r["id"]


def test_ci_cases_are_not_the_docs_measurements(catalog: Catalog) -> None:
    """Independence: no CI figure repeats an SGLang-docs figure of the same model and card."""
    docs = [c for c in load_cases(catalog=catalog) if c.id.startswith("sgl-")]
    assert len(docs) == 8
    for c in load_cases(CI_FILE, catalog):
        for d in docs:
            assert c.source != d.source
            if (c.model, c.device) == (d.model, d.device):
                assert not math.isclose(c.measured or 0, d.measured or 0, rel_tol=1e-3), (
                    c.id,
                    d.id,
                )


def test_the_sglang_ascend_cost_is_fitted_on_two_sources(catalog: Catalog) -> None:
    """Every source's CV fold keeps a fit case of the SGLang-on-Ascend cost from another
    source: the cost no longer falls back to its prior on the docs' cases."""
    cost = next(n for n in CALIBRATED if n.key.startswith("framework.sglang-ascend."))
    by_id = {c.id: c for c in load_cases(catalog=catalog)}
    fit = [by_id[cid] for cid in cost.fit_cases(catalog)]
    sources = {c.source for c in fit}
    assert len(sources) >= 2
    for held_out in sources:
        assert any(c.source != held_out for c in fit), held_out
    # the fit cases are of one kind: P/D-disaggregated decode pools (no prefill in a decode batch)
    assert all(c.scenario is not None and c.scenario.disaggregation is not None for c in fit)


def test_graph_capture_matches_the_running_requests_per_rank() -> None:
    """Each case's captured batch (graph_max_tokens) is the launch line's largest
    --cuda-graph-bs times the query tokens per sequence (1 + draft tokens), and holds the
    running requests per attention-DP rank times that, so every decode batch replays a graph
    (hand values from the CI files: 26 x 3, 14 x 4, 34 x 3, 27 x 4, 24 x 4, 101 x 4, 101 x 4,
    22 x 3, 39 x 4, 10 x 3, 6 x 4; every one but the last equals the running requests per rank,
    the last holds its 2)."""
    expected = {
        "sglci-a3-r1-w4a8-pd16-3.5k1.5k-c416": (78, 16),
        "sglci-a3-r1-w4a8-mixed8-3.5k1.5k-c224": (56, 16),
        "sglci-a3-r1-w8a8-pd24-2k2k-c1088": (102, 32),
        "sglci-a3-qwen3-235b-w8a8-mixed8-3.5k1.5k-c432": (108, 16),
        "sglci-a3-qwen3-235b-w8a8-pd24-3.5k1.5k-c860": (96, 32),
        "sglci-a3-qwen3-32b-w8a8-tp4-3.5k1.5k-c100": (404, 1),
        "sglci-a2-qwen3-32b-w8a8-tp4-3.5k1.5k-c100": (404, 1),
        "sglci-a3-r1-w4a8-mixed8-2k2k-c352": (66, 16),
        "sglci-a3-qwen3-235b-w8a8-mixed8-2k2k-c624": (156, 16),
        "sglci-a3-dsv4flash-w8a8-mixed8-8k1k-c160": (30, 16),
        "sglci-a3-r1-w8a8-2p1d32-3.5k1.5k-c32": (24, 16),
    }
    for r in _raw():
        sc, per_seq = r["scenario"], 1 + r["spec"]["draft_tokens"]
        pool = sc["disaggregation"]["decode"] if "disaggregation" in sc else None
        graph = pool["graph_max_tokens"] if pool else sc["framework"]["graph_max_tokens"]
        seqs = (pool or sc)["scheduler"]["max_seqs"]
        tokens, ranks = expected[r["id"]]
        assert graph == tokens, r["id"]
        assert graph >= math.ceil(seqs / ranks) * per_seq, r["id"]
        assert graph % per_seq == 0, r["id"]


def test_a_ci_case_predicts_a_finite_positive_throughput(catalog: Catalog) -> None:
    case = next(
        c
        for c in load_cases(CI_FILE, catalog)
        if c.id == "sglci-a2-qwen3-32b-w8a8-tp4-3.5k1.5k-c100"
    )
    r = predict_serving(case, catalog)
    assert math.isfinite(r.predicted) and r.predicted > 0
