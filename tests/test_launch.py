"""Host dispatch by execution mode (``accelsim.model.perf.launch``) and the framework profiles'
memory rules (``FrameworkMemory``, ``accelsim.run.resolve.memory_options``)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.catalog.devices import FrameworkExecution, FrameworkMemory
from accelsim.catalog.loader import load_catalog
from accelsim.dtypes import precision
from accelsim.errors import AccelsimError
from accelsim.model.batch import BatchStats
from accelsim.model.perf.draft import SpecDecode
from accelsim.model.perf.launch import HostDispatch, capture_limit
from accelsim.model.perf.ops import K_ATTN
from accelsim.model.plan import parse_plan
from accelsim.run.resolve import deploy, memory_options
from accelsim.run.scenario import Scenario
from accelsim.run.timing import host_dispatch, perf_model_from_catalog


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


# ---- regimes and host seconds ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("mode", "tokens", "prefill", "regime"),
    [
        ("none", 8, False, "eager"),
        ("full", 48, True, "graph"),
        ("full", 49, False, "eager"),
        ("full_decode_only", 48, False, "graph"),
        ("full_decode_only", 8, True, "eager"),
        ("full_decode_only", 64, False, "eager"),
        ("piecewise", 48, False, "piecewise"),
        ("piecewise", 49, True, "eager"),
        ("full_and_piecewise", 16, False, "graph"),
        ("full_and_piecewise", 16, True, "piecewise"),
        ("full_and_piecewise", 100, True, "eager"),
    ],
)
def test_regime_by_mode(mode, tokens, prefill, regime):
    assert HostDispatch(mode, 48, 1e-4).regime(tokens, prefill) == regime


def test_host_seconds_by_regime():
    host = HostDispatch("full_and_piecewise", 48, 100e-6)
    # 1,000 ops of which 120 attention ops, 100 us each
    assert host.host_s(16, False, 1000, 120) == 0.0
    assert host.host_s(16, True, 1000, 120) == pytest.approx(120 * 100e-6)
    assert host.host_s(64, False, 1000, 120) == pytest.approx(1000 * 100e-6)


def test_bad_mode_and_negative_cost():
    with pytest.raises(AccelsimError, match="graph mode 'fast'"):
        HostDispatch("fast", 48, 1e-4)
    with pytest.raises(AccelsimError, match="cannot be negative"):
        HostDispatch("none", 48, -1.0)


def test_capture_limit_follows_vllm_rule():
    ex = FrameworkExecution(
        graph="full_decode_only", graph_max_tokens=512, graph_tokens_per_seq_factor=2
    )
    # min(2 x 64 x (1 + 1), 512) = 256, below the 10,240-token budget
    assert capture_limit(ex, max_seqs_per_group=64, draft_tokens=1, max_batched_tokens=10240) == 256
    # 2 x 512 > 512: the cap
    assert capture_limit(ex, max_seqs_per_group=512) == 512
    # the token budget cuts it
    assert capture_limit(ex, max_seqs_per_group=128, max_batched_tokens=120) == 120
    # no factor or no scheduler: the cap
    assert capture_limit(FrameworkExecution(graph_max_tokens=160), max_seqs_per_group=8) == 160
    assert capture_limit(ex) == 512


def test_host_dispatch_from_profile(catalog):
    prof = catalog.framework_profile("vllm", "Huawei")
    plan = parse_plan("tp=4,dp=4,ep=16")
    h = host_dispatch(prof, plan, max_seqs=256, max_batched_tokens=40960, draft_tokens=1)
    assert (h.mode, h.max_tokens) == ("piecewise", 256)  # 256 / 4 = 64 seqs per DP rank
    assert h.eager_op_s == pytest.approx(100e-6)
    h = host_dispatch(prof, plan, graph="full_decode_only", graph_max_tokens=48)
    assert (h.mode, h.max_tokens) == ("full_decode_only", 48)
    assert host_dispatch(catalog.framework_profile("sglang", "NVIDIA"), plan) is None
    assert host_dispatch(None, plan) is None


def test_capture_limit_follows_sglang_rule():
    ex = FrameworkExecution(graph_max_seqs_by_ranks=((1, 64), (4, 128)))
    # 16 ranks: cuda_graph_max_bs 128, cut to the 24 running per DP rank; 24 x (1 + 3) = 96
    assert capture_limit(ex, max_seqs_per_group=24, draft_tokens=3, ranks=16) == 96
    # 2 ranks: 64 sequences; no scheduler limit: 64 x 1
    assert capture_limit(ex, ranks=2) == 64
    # 4 ranks, 200 running, 3 drafts: 128 x 4 = 512; the prefill budget does not cut it
    assert capture_limit(ex, max_seqs_per_group=200, draft_tokens=3, ranks=4) == 512
    assert capture_limit(ex, max_seqs_per_group=200, max_batched_tokens=50, ranks=4) == 128
    # ranks unknown: the token rule (graph_max_tokens, 512 by default)
    assert capture_limit(ex, max_seqs_per_group=24) == 512
    assert ex.max_graph_seqs(3) == 64 and ex.max_graph_seqs(32) == 128


def test_graph_seqs_by_ranks_checked():
    with pytest.raises(ValueError, match="graph_max_seqs_by_ranks"):
        FrameworkExecution(graph_max_seqs_by_ranks=((0, 64),))
    with pytest.raises(ValueError, match="graph_max_seqs_by_ranks"):
        FrameworkExecution(graph_max_seqs_by_ranks=((4, 0),))
    assert FrameworkExecution().max_graph_seqs(8) is None


def test_sglang_on_ascend_captures_decode_and_dispatches_prefill_eagerly(catalog):
    prof = catalog.framework_profile("sglang", "Huawei")
    plan = parse_plan("tp=1,dp=16,ep=16")
    # R1 PD16 decode pool: 384 running over 16 DP ranks, NEXTN 3 steps -> 24 x 4 = 96 tokens
    h = host_dispatch(prof, plan, max_seqs=384, max_batched_tokens=16384, draft_tokens=3)
    assert (h.mode, h.max_tokens) == ("full_decode_only", 96)
    assert h.eager_op_s == pytest.approx(100e-6)
    assert h.regime(96, False) == "graph"
    assert h.regime(100, False) == "eager"  # above the largest captured batch
    assert h.regime(1500, True) == "eager"  # extend batches are never captured
    # 1,000 ops dispatched eagerly at 100 us each; none under the graph
    assert h.host_s(96, False, 1000, 120) == 0.0
    assert h.host_s(1500, True, 1000, 120) == pytest.approx(0.1)
    # TP4 without DP attention (4 ranks): 128 sequences x (1 + 3) unless fewer run
    tp4 = parse_plan("tp=4")
    assert host_dispatch(prof, tp4, draft_tokens=3).max_tokens == 512
    assert host_dispatch(prof, tp4, max_seqs=78, draft_tokens=3).max_tokens == 312
    assert host_dispatch(prof, parse_plan("tp=2"), max_seqs=78).max_tokens == 64


# ---- the timing model: max(device, host) ------------------------------------------------------
def _pm(catalog, host_graph, **kw):
    return perf_model_from_catalog(
        catalog,
        "llama-2-7b",
        "ascend-910b3",
        parse_plan("tp=1"),
        precision("bf16"),
        framework="vllm",
        graph=host_graph,
        **kw,
    )


def test_eager_iteration_waits_for_host(catalog):
    eager = _pm(catalog, "none")
    graph = _pm(catalog, "full")
    batch = BatchStats.decode(4, 1024.0)
    device = graph.step(batch).total_s
    host = eager.host.host_s(4, False, eager._host_ops, eager._host_attention_ops)
    # 32 layers of at least K_ATTN kernels each, 100 us per op
    assert eager._host_attention_ops == 32 * K_ATTN
    assert eager._host_ops > eager._host_attention_ops
    assert host == pytest.approx(eager._host_ops * 100e-6)
    st_ = eager.step(batch)
    assert st_.total_s == pytest.approx(max(device, host))
    assert host > device  # a 7B decode of 4 sequences is host bound when eager on Ascend
    assert any("host-bound" in n for n in st_.notes)
    # the simulator's lean path gives the very same seconds
    assert eager.work(batch)[0] == pytest.approx(st_.total_s, rel=1e-12)


def test_graph_within_capture_costs_no_host(catalog):
    pm = _pm(catalog, "full_decode_only", graph_max_tokens=8)
    plain = perf_model_from_catalog(
        catalog, "llama-2-7b", "ascend-910b3", parse_plan("tp=1"), precision("bf16")
    )
    batch = BatchStats.decode(8, 1024.0)
    assert pm.step(batch).total_s == plain.step(batch).total_s
    assert (
        pm.step(BatchStats.decode(9, 1024.0)).total_s
        > plain.step(BatchStats.decode(9, 1024.0)).total_s
    )


@settings(max_examples=25, deadline=None)
@given(
    seqs=st.integers(min_value=1, max_value=256),
    ctx=st.floats(min_value=1.0, max_value=8192.0),
    mode=st.sampled_from(["none", "piecewise", "full", "full_decode_only"]),
)
def test_host_never_shortens_an_iteration(catalog, seqs, ctx, mode):
    pm = _pm(catalog, mode, graph_max_tokens=64)
    plain = perf_model_from_catalog(
        catalog, "llama-2-7b", "ascend-910b3", parse_plan("tp=1"), precision("bf16")
    )
    batch = BatchStats.decode(seqs, ctx)
    assert pm.step(batch).total_s >= plain.step(batch).total_s * (1 - 1e-12)


@pytest.mark.parametrize(
    ("model", "device", "plan", "spec"),
    [
        ("deepseek-v3", "ascend-910c", "tp=1,dp=16,ep=16,overlap=1", SpecDecode("mtp", 1, 0.8)),
        ("qwen3-32b", "ascend-910b3", "tp=4,pp=2", None),
        ("deepseek-v3.2", "ascend-910c", "tp=8,dp=4,ep=32", SpecDecode("mtp", 3, 0.8)),
    ],
)
def test_eager_count_and_lean_path_agree_on_every_plan(catalog, model, device, plan, spec):
    kw = {"spec": spec} if spec is not None else {}
    pm = perf_model_from_catalog(
        catalog,
        model,
        device,
        parse_plan(plan),
        precision("int8"),
        framework="vllm",
        graph="none",
        **kw,
    )
    assert pm._host_ops >= pm._host_attention_ops > 0
    for batch in (BatchStats.decode(64, 4000.0), BatchStats(8, 8 * 2000.0, 1, 4096, 4096**2 / 2)):
        st_ = pm.step(batch)
        assert pm.work(batch)[0] == pytest.approx(st_.total_s, rel=1e-12)
        assert st_.launch_s >= 0


# ---- memory rules ---------------------------------------------------------------------------
def test_sglang_default_fraction_by_ranks(catalog):
    rule = catalog.framework_profile("sglang", "NVIDIA").memory
    assert rule.covers == "static"
    expected = {1: 0.88, 2: 0.87, 3: 0.87, 4: 0.85, 8: 0.81, 15: 0.81, 16: 0.79, 64: 0.79}
    assert {r: rule.default_fraction(r) for r in expected} == expected


def test_fraction_by_ranks_checked():
    with pytest.raises(ValueError, match="fraction_by_ranks"):
        FrameworkMemory(covers="static", fraction_by_ranks=((0, 0.8),))


def test_profile_lookup_prefers_vendor(catalog):
    assert catalog.framework_profile("vllm", "Huawei").name == "vllm-ascend"
    assert catalog.framework_profile("vllm", "NVIDIA").name == "vllm"
    assert catalog.framework_profile("sglang", "Huawei").name == "sglang-ascend"
    assert catalog.framework_profile("sglang", "Huawei").memory.covers == "static"  # extends
    assert catalog.framework_profile("gpt-fast", "NVIDIA") is None


TRAFFIC = {
    "arrival": "poisson",
    "rate": "1/s",
    "requests": 1,
    "lengths": {"kind": "fixed", "prompt": 16, "output": 16},
}


def _scenario(framework):
    return Scenario(
        model="llama-2-7b", device="h100-sxm5", cards=8, traffic=TRAFFIC, framework=framework
    )


@pytest.mark.parametrize(
    ("framework", "ranks", "reserve", "covers"),
    [
        ({"name": "sglang"}, 8, 1 - 0.81, "static"),
        ({"name": "sglang"}, 2, 1 - 0.87, "static"),
        ({"name": "sglang", "memory_fraction": 0.7}, 8, 1 - 0.7, "static"),
        ({"name": "vllm"}, 8, 1 - 0.9, "all"),
        ({"name": "tensorrt-llm"}, 8, 1 - 0.9, "free"),
        ({"name": "tensorrt-llm", "memory_fraction_covers": "all"}, 8, 1 - 0.9, "all"),
    ],
)
def test_memory_fit_follows_framework(catalog, framework, ranks, reserve, covers):
    sc = _scenario(framework)
    prof = catalog.framework_profile(framework["name"], "NVIDIA")
    opts = memory_options(sc, None, profile=prof, ranks=ranks)
    assert opts["reserve_fraction"] == pytest.approx(reserve)
    assert opts["memory_fraction_covers"] == covers


def test_unknown_framework_keeps_plan_defaults(catalog):
    sc = _scenario({"name": "gpt-fast"})
    assert memory_options(sc, None, profile=None, ranks=8) == {}


# ---- wiring: scenario -> deployment -------------------------------------------------------------
def _ascend_scenario(framework):
    return Scenario(
        model="qwen3-32b",
        device="ascend-910b3",
        cards=8,
        plan="tp=8",
        traffic=TRAFFIC,
        scheduler={"policy": "chunked_prefill", "max_seqs": 64, "max_batched_tokens": 4096},
        framework=framework,
    )


def test_deployment_takes_the_launch_line_graph(catalog):
    perf = deploy(_ascend_scenario({"name": "vllm"}), catalog).main.perf
    # vLLM-Ascend's default: piecewise, largest capture min(2 x 64, 512, 4096) = 128 tokens
    assert (perf.host.mode, perf.host.max_tokens) == ("piecewise", 128)
    fw = {"name": "vllm", "graph": "full_decode_only", "graph_max_tokens": 48}
    perf = deploy(_ascend_scenario(fw), catalog).main.perf
    assert (perf.host.mode, perf.host.max_tokens) == ("full_decode_only", 48)
    assert deploy(_ascend_scenario(None), catalog).main.perf.host is None
    # SGLang on Ascend: decode graphs up to min(128 at 8 ranks, 64 running) sequences
    perf = deploy(_ascend_scenario({"name": "sglang"}), catalog).main.perf
    assert (perf.host.mode, perf.host.max_tokens) == ("full_decode_only", 64)


def test_canonical_scenario_omits_unset_framework_fields():
    fw = _ascend_scenario({"name": "vllm"}).canonical()["framework"]
    assert set(fw) == {"name", "iteration_overhead", "source"}
    fw = _ascend_scenario({"name": "vllm", "graph": "none"}).canonical()["framework"]
    assert fw["graph"] == "none"


def test_disaggregated_pools_take_their_own_graph(catalog):
    sc = Scenario(
        model="qwen3-32b",
        device="ascend-910b3",
        traffic=TRAFFIC,
        framework={"name": "vllm", "graph": "full"},
        disaggregation={
            "prefill": {"cards": 4, "plan": "tp=4", "graph": "none"},
            "decode": {"cards": 4, "plan": "tp=4", "graph_max_tokens": 32},
        },
    )
    pools = {p.role: p.perf.host for p in deploy(sc, catalog).pools}
    assert pools["prefill"].mode == "none"
    assert (pools["decode"].mode, pools["decode"].max_tokens) == ("full", 32)
