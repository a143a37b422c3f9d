"""Timing model: hand-computed rooflines, monotonicity properties, the DeepSeek-V3 golden step."""

from __future__ import annotations

import ast
import json
import math
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import accelsim
from accelsim.catalog.devices import Card, Fabric
from accelsim.catalog.loader import load_catalog
from accelsim.catalog.workloads import ModelArch
from accelsim.dtypes import UnsupportedDtypeError, precision
from accelsim.errors import AccelsimError
from accelsim.model.batch import BatchStats, IterationModel
from accelsim.model.perf import overlap
from accelsim.model.perf.collectives import Link, all_reduce, all_to_all
from accelsim.model.perf.draft import SpecDecode
from accelsim.model.perf.model import PerfModel
from accelsim.model.perf.ops import (
    BOUNDS,
    MODEL_SPECIFIC_CLASSES,
    OP_CLASSES,
    Group,
    Ops,
    StepTime,
)
from accelsim.model.perf.roofline import Rates
from accelsim.model.plan import ParallelPlan
from accelsim.model.routing import RoutingModel
from accelsim.run.timing import perf_model_from_catalog

GOLDEN = Path(__file__).parent / "golden"


def make_card(**changes) -> Card:
    data = {
        "name": "toy",
        "vendor": "test",
        "display_name": "Toy card",
        "compute_units": 1,
        "peak_flops": {"bf16": 1e14, "fp16": 1e14, "int8": 2e14},
        "hbm_capacity": 80e9,
        "hbm_bandwidth": 1e12,
        "tdp": 400.0,
        "idle_power": 50.0,
        "efficiency": {
            "gemm_fraction": 1.0,
            "gemm_m_half": 0.0,
            "hbm_fraction": 1.0,
            "collective_fraction": 1.0,
            "kernel_launch": 0.0,
            "iteration_overhead": 0.0,
        },
    }
    eff = changes.pop("efficiency", {})
    data["efficiency"].update(eff)
    data.update(changes)
    return Card.model_validate(data)


def make_fabric(name="up", tier="scale_up", topology="switch", bw=100e9, latency=0.0) -> Fabric:
    return Fabric.model_validate(
        {
            "name": name,
            "display_name": name,
            "tier": tier,
            "topology": topology,
            "bandwidth_per_card": bw,
            "latency": latency,
        }
    )


DENSE = ModelArch.model_validate(
    {
        "name": "toy-dense",
        "family": "toy",
        "hidden_size": 1024,
        "num_layers": 2,
        "dense_layers": 2,
        "dense_intermediate": 4096,
        "vocab_size": 1000,
        "max_context": 4096,
        "attention": {"kind": "mha", "num_heads": 8, "num_kv_heads": 8, "head_dim": 128},
    }
)
MOE = ModelArch.model_validate(
    {
        "name": "toy-moe",
        "family": "toy",
        "hidden_size": 512,
        "num_layers": 4,
        "dense_layers": 0,
        "vocab_size": 1000,
        "max_context": 4096,
        "attention": {"kind": "gqa", "num_heads": 8, "num_kv_heads": 2, "head_dim": 64},
        "moe": {"num_experts": 16, "top_k": 2, "expert_intermediate": 256},
    }
)


def model_for(card=None, model=DENSE, plan=None, prec="bf16", **kw) -> PerfModel:
    return PerfModel(
        card or make_card(),
        model,
        plan or ParallelPlan(),
        precision(prec),
        scale_up=make_fabric(),
        scale_out=make_fabric("out", "scale_out", "network", 10e9),
        node_cards=8,
        **kw,
    )


# ---- rates and single ops -------------------------------------------------------------------
def test_gemm_rate_falls_at_small_m():
    card = make_card(efficiency={"gemm_fraction": 0.8, "gemm_m_half": 64})
    r = Rates.of(card, precision("bf16"))
    assert r.gemm_rate(64) == pytest.approx(1e14 * 0.8 * 0.5)
    assert r.gemm_rate(1) == pytest.approx(1e14 * 0.8 / 65)
    assert r.gemm_rate(1e9) == pytest.approx(1e14 * 0.8, rel=1e-6)


def test_single_gemm_roofline_to_the_flop_and_byte():
    """One 4096x4096 weight GEMM over 256 tokens on the toy card (100 TFLOP/s, 1 TB/s)."""
    pm = model_for(card=make_card(efficiency={"kernel_launch": 5e-6}))
    ops = Ops()
    params, m = 4096 * 4096, 256
    pm.roofline.gemm(ops, "dense_ffn", params, m, kernels=1)
    flops = 2 * params * m
    hbm = params * 2 + 2 * m * 1024 * 2  # weights in BF16 + activations in and out (H=1024)
    assert ops.f["dense_ffn"] == flops
    assert ops.b["dense_ffn"] == hbm
    assert ops.t["dense_ffn"] == pytest.approx(max(flops / 1e14, hbm / 1e12) + 5e-6)
    assert ops.bounds()["dense_ffn"] == "compute"  # 8.6 GFLOP at 100 T vs 34 MB at 1 TB/s


def test_small_dense_decode_step_by_hand():
    """Decode of 4 sequences with 100 tokens of context each through the 2-layer toy model.
    Elementwise kernels (BF16, nothing quantised), per token and layer: attention's residual
    add + RMSNorm 4 x 1024 x 2 B and RoPE read + write over 8 query + 8 key heads of 128,
    2 x 2 B x 16 x 128; the FFN's add + RMSNorm and SiLU-and-mul (read 2 x 4096, write 4096)."""
    pm = model_for()
    st = pm.step(BatchStats.decode(4, 100))
    h, layers, b = 1024, 2, 4
    attn_params = 4 * h * h + 2 * h  # q, k, v, o (MHA) + two norms
    attn_flops = 2 * attn_params * b + 4 * 8 * 128 * 400  # projections + QK/AV over 400 ctx
    attn_bytes = attn_params * 2 + 2 * b * h * 2 + 2 * 8 * 128 * 2 * 400  # weights, acts, KV
    attn_ew = b * (4 * h * 2 + 2 * 2 * 16 * 128)
    ffn_params = 3 * h * 4096
    ffn_flops, ffn_bytes = 2 * ffn_params * b, ffn_params * 2 + 2 * b * h * 2
    ffn_ew = b * (4 * h * 2 + 3 * 4096 * 2)
    assert st.flops["attention"] == layers * attn_flops
    assert st.hbm_bytes["attention"] == layers * (attn_bytes + attn_ew)
    assert st.flops["dense_ffn"] == layers * ffn_flops
    assert st.hbm_bytes["dense_ffn"] == layers * (ffn_bytes + ffn_ew)
    lm_flops, lm_bytes = 2 * 1000 * h * b, 1000 * h * 2 + b * h * 2
    assert st.flops["embedding_lm_head"] == lm_flops
    assert st.hbm_bytes["embedding_lm_head"] == lm_bytes
    assert st.hbm_bytes["sampling"] == b * 1000 * 4
    expect = (
        layers * (max(attn_flops / 1e14, attn_bytes / 1e12) + attn_ew / 1e12)
        + layers * (max(ffn_flops / 1e14, ffn_bytes / 1e12) + ffn_ew / 1e12)
        + max(lm_flops / 1e14, lm_bytes / 1e12)
        + b * 1000 * 4 / 1e12
    )
    assert st.total_s == pytest.approx(expect, rel=1e-12)
    assert st.bounds["attention"] == "memory"
    assert st.tokens == 4 and st.cards == 1
    assert st.tokens_per_s_per_card == pytest.approx(4 / expect)


def test_prefill_attention_counts_causal_pairs():
    pm = model_for()
    st = pm.step(BatchStats.prefill_chunk(512))
    pairs = 512 * 513 / 2
    attn_params = 4 * 1024 * 1024 + 2048
    assert st.flops["attention"] == pytest.approx(2 * (2 * attn_params * 512 + 4 * 8 * 128 * pairs))


def test_collectives_alpha_beta():
    link = Link.of(make_fabric(bw=100e9, latency=2e-6), dies=1, fraction=0.5)
    assert all_reduce(link, 1e6, 8) == pytest.approx(2 * 7 / 8 * 1e6 / 50e9 + 6 * 2e-6)
    assert all_reduce(link, 1e6, 1) == 0.0
    assert all_to_all(link, 1e6, 7) == pytest.approx(1e6 / 50e9 + 2e-6)
    mesh = Fabric.model_validate(
        {
            "name": "m",
            "display_name": "m",
            "tier": "scale_up",
            "topology": "full_mesh",
            "bandwidth_per_card": 196e9,
            "link_bandwidth": 28e9,
            "latency": 0.0,
        }
    )
    ml = Link.of(mesh, dies=1, fraction=1.0)
    assert ml.rate(1) == 28e9 and ml.rate(7) == 196e9  # a pair uses one HCCS link


def test_tensor_parallel_adds_all_reduces():
    st1 = model_for(plan=ParallelPlan(tp=1)).step(BatchStats.decode(8, 100))
    st2 = model_for(plan=ParallelPlan(tp=2)).step(BatchStats.decode(8, 100))
    assert st1.times["tp_collectives"] == 0.0
    assert st2.times["tp_collectives"] > 0.0
    assert st2.cards == 2


def test_unsupported_dtype_names_card_and_dtype():
    with pytest.raises(UnsupportedDtypeError, match="toy.*fp8"):
        model_for(prec="fp8")


def test_weight_only_int8_reads_half_the_bytes_and_computes_in_bf16():
    st16 = model_for().step(BatchStats.decode(1, 10))
    st8 = model_for(prec="w8a16").step(BatchStats.decode(1, 10))
    assert st8.hbm_bytes["dense_ffn"] < 0.51 * st16.hbm_bytes["dense_ffn"]
    assert st8.flops["dense_ffn"] == st16.flops["dense_ffn"]


def test_weight_only_weights_stream_at_the_dequant_fraction_by_hand():
    """W8A16 on a card whose INT8 dequantizing kernels read weights at half its HBM rate: the
    weight bytes of attention, dense FFN and routed experts take twice as long, activations,
    KV and the 16-bit LM head keep the full rate, and the bytes themselves do not change."""
    card = make_card(efficiency={"dequant_hbm_fraction": {"int8": 0.5}})
    assert Rates.of(card, precision("w8a16")).hbm_weights == pytest.approx(0.5e12)
    for prec in ("bf16", "int8"):  # 16-bit weights, or INT8 weights with INT8 math (W8A8)
        assert Rates.of(card, precision(prec)).hbm_weights == Rates.of(card, precision(prec)).hbm
    b, ctx, h, layers = 1, 100, 1024, 2
    st = model_for(card=card, prec="w8a16").step(BatchStats.decode(b, ctx))
    plain = model_for(prec="w8a16").step(BatchStats.decode(b, ctx))
    assert st.hbm_bytes == plain.hbm_bytes
    attn_params, ffn_params = 4 * h * h + 2 * h, 3 * h * 4096
    slower = 1 / 0.5e12 - 1 / 1e12  # only the INT8 weight bytes (1 B each) slow down
    for cls, params in (("attention", attn_params), ("dense_ffn", ffn_params)):
        extra = st.times[cls] - plain.times[cls]
        assert extra == pytest.approx(layers * params * slower)
    assert st.times["embedding_lm_head"] == plain.times["embedding_lm_head"]
    moe = model_for(card=card, model=MOE, prec="w8a16").step(BatchStats.decode(1, 10))
    moe_plain = model_for(model=MOE, prec="w8a16").step(BatchStats.decode(1, 10))
    weights = 2 * MOE.expert_params * MOE.num_layers  # top-2 experts read once, 1 B each
    extra = moe.times["routed_experts"] - moe_plain.times["routed_experts"]
    assert extra == pytest.approx(weights / 0.5e12 - weights / 1e12)


def test_multi_die_rank_is_half_a_card():
    two = make_card(dies=2, peak_flops={"bf16": 2e14}, hbm_bandwidth=2e12)
    pm = model_for(card=two, plan=ParallelPlan(tp=1, dp=2))
    one = model_for(plan=ParallelPlan(tp=1, dp=1))
    b = BatchStats.decode(8, 100)
    assert pm.cards == 1.0
    # two dies each serving half the sequences at the toy card's rates: same time as one toy
    # card serving half, i.e. strictly faster than one toy card serving all 8
    assert pm.step(b).total_s < one.step(b).total_s


# ---- MoE, overlap, speculative decoding ------------------------------------------------------
def test_moe_reads_only_touched_experts_at_batch_one():
    pm = model_for(model=MOE)
    st = pm.step(BatchStats.decode(1, 10))
    expert_bytes = MOE.expert_params * 2
    per_layer = st.hbm_bytes["routed_experts"] / MOE.num_layers
    assert 1.9 * expert_bytes < per_layer < 2.1 * expert_bytes  # top-2 of 16 experts


def test_expert_parallel_adds_dispatch_and_combine():
    pm = model_for(model=MOE, plan=ParallelPlan(tp=1, dp=8, ep=8))
    st = pm.step(BatchStats.decode(256, 100))
    assert st.times["ep_dispatch"] > 0 and st.times["ep_combine"] > st.times["ep_dispatch"] * 0.99
    assert st.bounds["ep_combine"] == "network"


def test_micro_batch_overlap_hides_communication():
    plan = ParallelPlan(tp=1, dp=8, ep=8)
    b = BatchStats.decode(2048, 500)
    plain = model_for(model=MOE, plan=plan).step(b)
    over = model_for(model=MOE, plan=ParallelPlan(tp=1, dp=8, ep=8, micro_batch_overlap=True))
    st = over.step(b)
    assert st.hidden_comm_s > 0
    assert st.total_s < plain.total_s


def test_spec_decode_tokens_per_step():
    assert SpecDecode("mtp", 1, 0.7).tokens_per_step == pytest.approx(1.7)
    assert SpecDecode("mtp", 3, 0.5).tokens_per_step == pytest.approx(1 + 0.5 + 0.25 + 0.125)
    s = SpecDecode.from_accept_length("eagle3", 3, 2.82)
    assert s.tokens_per_step == pytest.approx(2.82, abs=1e-6)


def test_spec_decode_emits_more_tokens_and_charges_the_draft():
    b = BatchStats.decode(64, 1000)
    base = model_for(model=MOE).step(b)
    pm = model_for(model=MOE, spec=SpecDecode("mtp", 1, 0.8))
    st = pm.step(b)
    assert pm.tokens_per_decode_step == pytest.approx(1.8)
    assert st.tokens == pytest.approx(64 * 1.8)
    assert st.times["draft"] > 0
    assert st.total_s > base.total_s


def test_iteration_time_matches_step_and_is_cached():
    pm = model_for(model=MOE)
    b = BatchStats.decode(100, 1000)
    assert pm.iteration_time(b) == pytest.approx(pm.step(b).total_s)
    assert pm.iteration_time(b) == pm.iteration_time(b)


def _simulator_reads() -> set[str]:
    """Members the simulator reads from a timing model: ``<...>.model.NAME`` and
    ``getattr(<...>.model, "NAME", ...)`` in ``accelsim/sim``."""

    def is_model(e: ast.expr) -> bool:
        return (isinstance(e, ast.Name) and e.id == "model") or (
            isinstance(e, ast.Attribute) and e.attr == "model"
        )

    names = set()
    for path in (Path(accelsim.__file__).parent / "sim").rglob("*.py"):
        for n in ast.walk(ast.parse(path.read_text())):
            if isinstance(n, ast.Attribute) and is_model(n.value):
                names.add(n.attr)
            elif (
                isinstance(n, ast.Call)
                and isinstance(n.func, ast.Name)
                and n.func.id == "getattr"
                and len(n.args) >= 2
                and is_model(n.args[0])
                and isinstance(n.args[1], ast.Constant)
            ):
                names.add(n.args[1].value)
    return names


def test_iteration_model_protocol_is_complete_and_perf_model_implements_it():
    """``IterationModel`` names every member the simulator reads from its timing model, and
    ``PerfModel`` has each of them (``runtime_checkable``: an attribute check)."""
    members = set(IterationModel.__annotations__) | {
        n for n, v in vars(IterationModel).items() if callable(v) or isinstance(v, property)
    }
    members = {n for n in members if not n.startswith("_")}
    reads = _simulator_reads()
    assert reads, "found no timing-model reads in accelsim/sim"
    assert reads <= members, f"IterationModel lacks {sorted(reads - members)}"
    pm = model_for(model=MOE, spec=SpecDecode("mtp", 1, 0.8))
    assert isinstance(pm, IterationModel)
    for name in members:
        assert hasattr(pm, name), name
    b = BatchStats.decode(8, 100)
    assert pm.iteration_work(b)[0] == pm.iteration_time(b) > 0
    assert pm.cacheable is True and pm.peak_flops > 0 and pm.peak_hbm_bandwidth > 0


def test_step_time_dict_lists_every_op_class():
    st = model_for(model=MOE).step(BatchStats.decode(10, 10))
    d = st.as_dict()
    # a model without an indexer or hyper-connections lists every other class
    assert set(d["ops"]) == set(OP_CLASSES) - set(MODEL_SPECIFIC_CLASSES)
    assert d["total_s"] == pytest.approx(sum(v["time_s"] for v in d["ops"].values()))
    assert isinstance(st, StepTime)
    assert set(st.bounds.values()) <= {*BOUNDS, "-"}  # "-": a class with no op this step


# ---- monotonicity (hypothesis) ----------------------------------------------------------------
batches = st.builds(
    lambda seqs, ctx, pre: (
        BatchStats.decode(seqs, ctx) + (BatchStats.prefill_chunk(pre) if pre else BatchStats())
    ),
    st.integers(1, 512),
    st.integers(1, 8192),
    st.integers(0, 4096),
)


@settings(max_examples=40, deadline=None)
@given(batch=batches, factor=st.floats(1.0, 8.0))
def test_more_hbm_bandwidth_never_slower(batch, factor):
    slow = model_for(model=MOE, plan=ParallelPlan(tp=1, dp=4, ep=4))
    fast = model_for(
        card=make_card(hbm_bandwidth=1e12 * factor), model=MOE, plan=ParallelPlan(tp=1, dp=4, ep=4)
    )
    assert fast.step(batch).total_s <= slow.step(batch).total_s * (1 + 1e-12)


@settings(max_examples=40, deadline=None)
@given(batch=batches, factor=st.floats(1.0, 8.0))
def test_more_flops_never_slower(batch, factor):
    peaks = {"bf16": 1e14 * factor, "fp16": 1e14 * factor, "int8": 2e14 * factor}
    slow = model_for(model=MOE, plan=ParallelPlan(tp=2, dp=2, ep=4))
    fast = model_for(
        card=make_card(peak_flops=peaks), model=MOE, plan=ParallelPlan(tp=2, dp=2, ep=4)
    )
    assert fast.step(batch).total_s <= slow.step(batch).total_s * (1 + 1e-12)


@settings(max_examples=40, deadline=None)
@given(seqs=st.integers(1, 512), ctx=st.integers(1, 8192), extra=st.integers(1, 8192))
def test_more_decode_context_never_faster(seqs, ctx, extra):
    pm = model_for(model=MOE, plan=ParallelPlan(tp=1, dp=2, ep=2))
    short = pm.step(BatchStats.decode(seqs, ctx)).total_s
    long = pm.step(BatchStats.decode(seqs, ctx + extra)).total_s
    assert long >= short


@settings(max_examples=30, deadline=None)
@given(tokens=st.integers(1, 4096), s1=st.floats(0.0, 2.0), ds=st.floats(0.0, 1.0))
def test_more_skew_never_faster_at_fixed_tokens(tokens, s1, ds):
    """One expert per EP rank: the busiest rank holds the hottest expert, whose share grows
    with the Zipf skew."""
    plan = ParallelPlan(tp=1, dp=16, ep=16)
    b = BatchStats.decode(tokens, 100)
    t1 = model_for(model=MOE, plan=plan, routing=RoutingModel("zipf", skew=s1)).step(b)
    t2 = model_for(model=MOE, plan=plan, routing=RoutingModel("zipf", skew=s1 + ds)).step(b)
    assert t2.total_s >= t1.total_s * (1 - 1e-9)


# ---- golden: DeepSeek-V3 decode iteration ----------------------------------------------------
H800_LIKE = {
    "name": "golden-h800",
    "vendor": "test",
    "display_name": "H800-like (pinned for golden)",
    "compute_units": 132,
    "peak_flops": {"bf16": 989e12, "fp16": 989e12, "fp8": 1979e12, "int8": 1979e12},
    "hbm_capacity": 80e9,
    "hbm_bandwidth": 3.35e12,
    "tdp": 700.0,
    "idle_power": 100.0,
    "efficiency": {
        "gemm_fraction": 0.8,
        "gemm_m_half": 64,
        "hbm_fraction": 0.8,
        "collective_fraction": 0.8,
        "kernel_launch": 4e-6,
        "iteration_overhead": 2e-3,
    },
}


def _round(obj):
    if isinstance(obj, float):
        return float(f"{obj:.6g}")
    if isinstance(obj, dict):
        return {k: _round(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_round(v) for v in obj]
    return obj


def test_deepseek_v3_decode_breakdown_golden():
    model = load_catalog().model("deepseek-v3")
    pm = PerfModel(
        Card.model_validate(H800_LIKE),
        model,
        ParallelPlan(tp=1, dp=72, ep=72, redundant_experts=32),
        precision("fp8"),
        scale_up=make_fabric("nvswitch", bw=200e9, latency=3e-6),
        scale_out=make_fabric("ib", "scale_out", "network", 50e9, 10e-6),
        node_cards=8,
        routing=RoutingModel("zipf", skew=1.0, drift=0.23),
        spec=SpecDecode("mtp", 1, 0.8),
    )
    got = _round(pm.step(BatchStats.decode(72 * 128, 4096)).as_dict())
    path = GOLDEN / "step_deepseek_v3_decode.json"
    if os.environ.get("ACCELSIM_REGEN_GOLDEN") == "1":
        path.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n")
    want = json.loads(path.read_text())
    assert got == want, "breakdown changed; regenerate with ACCELSIM_REGEN_GOLDEN=1 if intended"
    assert math.isclose(got["total_s"], sum(v["time_s"] for v in got["ops"].values()), rel_tol=1e-5)


def test_gemm_rate_uses_the_compute_dtype_fraction():
    card = make_card(
        peak_flops={"bf16": 1e14, "fp8": 2e14},
        efficiency={"gemm_fraction": 0.8, "gemm_fraction_by_dtype": {"fp8": 0.5}},
    )
    assert Rates.of(card, precision("fp8")).gemm_flops == pytest.approx(2e14 * 0.5)
    assert Rates.of(card, precision("bf16")).gemm_flops == pytest.approx(1e14 * 0.8)


def test_link_uses_the_fabric_fraction_when_set():
    fab = Fabric.model_validate(
        {**make_fabric(bw=100e9).model_dump(exclude={"provenance"}), "achievable_fraction": 0.9}
    )
    assert Link.of(fab, dies=2, fraction=0.5).rate(1) == pytest.approx(50e9 * 0.9)
    assert Link.of(make_fabric(bw=100e9), dies=1, fraction=0.5).rate(1) == pytest.approx(50e9)


def test_deepep_sms_slow_overlapped_prefill_compute_by_hand(monkeypatch):
    """Two-micro-batch overlap on an SM GPU: per layer, compute overlapped with prefill
    dispatch/combine runs on (132 - 24) of 132 SMs, so a layer costs
    C_h + M_h + max(M_h, C_h + s M_h) with s = 24/132; decode-only batches and AIC (Ascend)
    cards keep s = 0."""
    cat = load_catalog()
    plan = ParallelPlan(tp=1, dp=32, ep=32, micro_batch_overlap=True)
    pm = perf_model_from_catalog(cat, "deepseek-v3", "h800", plan, precision("fp8"))
    batch = BatchStats(
        prefill_seqs=32 * 4,
        prefill_tokens=32 * 4 * 4096,
        prefill_attention_pairs=32 * 4 * 4096 * 4097 / 2,
    )
    with_sms = pm.step(batch)
    g = Group(4 * 4096, 0, 0, 1.0, 4 * 4096, 4 * 4096 * 4097 / 2, 0, 4)
    half = pm.layer.price(g.half(), True)
    c_h, m_h = half.compute_time(), half.comm_time()
    s = 24 / 132
    extra = max(m_h, c_h + s * m_h) - max(m_h, c_h)
    monkeypatch.setattr(overlap, "COMM_SMS", 0)
    pm0 = perf_model_from_catalog(cat, "deepseek-v3", "h800", plan, precision("fp8"))
    without = pm0.step(batch)
    layers = pm.model.moe_layers
    assert extra > 0
    assert with_sms.total_s - without.total_s == pytest.approx(layers * extra, rel=0.05)
    monkeypatch.setattr(overlap, "COMM_SMS", 24)
    decode = BatchStats.decode(32 * 64, 2000)
    assert pm.step(decode).total_s == pytest.approx(pm0.step(decode).total_s)
    assert overlap.comm_unit_share(pm.card, plan.ep, g) == pytest.approx(s)
    ascend = perf_model_from_catalog(cat, "deepseek-v3", "ascend-910c", plan, precision("int8"))
    assert overlap.comm_unit_share(ascend.card, plan.ep, g) == 0.0


def test_whole_sequences_per_dp_group_the_busiest_sets_the_time():
    """A prompt is not split over attention-DP groups: one 2,048-token prompt on dp=4 costs the
    attention and FFN of the whole prompt on one group (as on dp=1), four prompts the same, and
    five prompts two per busiest group."""
    one = BatchStats.prefill_chunk(2048)
    solo = model_for().step(one)
    dp4 = model_for(plan=ParallelPlan(dp=4))

    def times(batch):
        st = dp4.step(batch)
        return st.times["attention"], st.times["dense_ffn"]

    def prompts(n):
        return BatchStats(
            prefill_seqs=n,
            prefill_tokens=n * 2048,
            prefill_attention_pairs=n * one.prefill_attention_pairs,
        )

    want = (solo.times["attention"], solo.times["dense_ffn"])
    assert times(one) == pytest.approx(want)
    assert times(prompts(4)) == pytest.approx(want)
    two = model_for().step(prompts(2))
    assert times(prompts(5)) == pytest.approx((two.times["attention"], two.times["dense_ffn"]))


def test_framework_iteration_overhead_replaces_the_cards():
    """The toy card has no per-iteration overhead; a framework's 5 ms is charged once per
    iteration (the ``overhead`` class), whatever the batch."""
    b = BatchStats.decode(4, 100)
    base = model_for().step(b)
    st = model_for(iteration_overhead=5e-3).step(b)
    assert base.times["overhead"] == 0.0
    assert st.times["overhead"] == pytest.approx(5e-3)
    assert st.total_s == pytest.approx(base.total_s + 5e-3)
    assert model_for(iteration_overhead=5e-3).step(BatchStats.decode(64, 100)).times[
        "overhead"
    ] == pytest.approx(5e-3)
    with pytest.raises(AccelsimError, match="iteration_overhead"):
        model_for(iteration_overhead=-1.0)


def test_low_latency_dispatch_sends_one_copy_per_expert():
    """toy-moe (16 experts, top-2, H=512, BF16 payload 2 B) on ep=4 (4 experts per rank):
    a decode token goes once per selected expert (DeepEP low-latency), 2 copies; a prefill
    token once per distinct destination rank (normal mode), 4 * (1 - (14/16)**4) =
    1.6552734375 ranks on average. 64 decode sequences over dp=4: 16 tokens per rank, 3/4 of
    the copies leave the rank: 16 * 2 * 3/4 * 512 * 2 B = 24,576 B per layer, x 4 layers."""
    plan = ParallelPlan(tp=1, dp=4, ep=4)
    pm = model_for(model=MOE, plan=plan)
    dec = pm.step(BatchStats.decode(64, 100))
    assert dec.net_bytes["ep_dispatch"] == pytest.approx(4 * 16 * 2 * 0.75 * 512 * 2)
    assert dec.net_bytes["ep_combine"] == pytest.approx(4 * 16 * 2 * 0.75 * 512 * 2)
    pre = pm.step(BatchStats(prefill_seqs=4, prefill_tokens=64, prefill_attention_pairs=4 * 136))
    n_dest = 4 * (1 - (14 / 16) ** 4)
    assert pre.net_bytes["ep_dispatch"] == pytest.approx(4 * 16 * n_dest * 0.75 * 512 * 2)


def test_moe_elementwise_kernels_by_hand():
    """toy-moe in BF16 (H=512, top-2 of 16 experts of width 256, no shared expert): per token
    and MoE layer, the FFN's add + RMSNorm (4 x 512 x 2 B) into routed_experts and top-k
    (FP32 logits 4 x 16 B, ids + weights 8 x 2 B) into router. Per (token, expert) assignment
    on the busiest rank: with ep=1 SiLU-and-mul (3 x 256 x 2 B) and moe_sum (read 512 x 2 B,
    write one row per token: 512 x 2 / 2 B); with ep=4 a prefill token's assignment adds
    ep_scatter (read + write 512 x 2 B) and ep_gather writes one row per received token
    (n_dest / top_k of the assignments); a decode token's (low-latency dispatch) runs only the
    fused activation, read 2 x 256 x 2 B and write 256 x 2 B. The bytes are added to the
    grouped GEMM's roofline, not max'ed with it."""
    pm = model_for(model=MOE)
    m, layers = 64, MOE.num_layers
    st = pm.step(BatchStats(prefill_seqs=1, prefill_tokens=m, prefill_attention_pairs=m * 65 / 2))
    compute, memory, _, hbm, _, load = pm.layer.moe.routed(m)
    assert load == pytest.approx(m * 2)
    ew = m * 4 * 512 * 2 + load * (3 * 256 * 2 + 512 * 2 + 512 * 2 / 2)
    assert st.hbm_bytes["routed_experts"] == pytest.approx(layers * (hbm + ew))
    assert st.times["routed_experts"] == pytest.approx(layers * (max(compute, memory) + ew / 1e12))
    assert st.hbm_bytes["router"] == pytest.approx(
        layers * (16 * 512 * 2 + 2 * m * 512 * 2 + m * 80)
    )
    ep = model_for(model=MOE, plan=ParallelPlan(tp=1, dp=4, ep=4)).layer.moe
    n_dest = 4 * (1 - (14 / 16) ** 4)
    assert ep.ew_assign == pytest.approx(2 * 512 * 2 + 3 * 256 * 2 + 512 * 2 + 512 * 2 * n_dest / 2)
    assert ep.ew_assign_ll == 2 * 256 * 2 + 256 * 2
    # INT8 activations: the routed input is quantised (read 2 B, write 1 B per element) and the
    # low-latency activation writes 1 B
    i8 = model_for(model=MOE, plan=ParallelPlan(tp=1, dp=4, ep=4), prec="int8").layer.moe
    assert i8.ew_moe_in == 512 * 3
    assert i8.ew_assign_ll == 2 * 256 * 2 + 256 * 1


def test_mla_attention_elementwise_by_hand(catalog):
    """DeepSeek-V3 attention on one FP8 rank (tp=1), per token: add + RMSNorm 4 x 7168 x 2 B
    and its quantisation 7168 x 3 B, the q/kv latent RMSNorms 2 x 2 x (1536 + 512) B, q_b_proj's
    quantised input 1536 x 3 B, RoPE on 128 q_pe heads and the shared k_pe (2 x 2 x 129 x 64 B),
    o_proj's quantised input 128 x 128 x 3 B; per expanded (prefill) token, k = [k_nope, k_pe]
    (2 B x 128 x (2 x 128 + 64)) and kv_b_proj's quantised input 512 x 3 B."""
    plan = ParallelPlan(tp=1, dp=8, ep=8)
    pm = perf_model_from_catalog(catalog, "deepseek-v3", "h800", plan, precision("fp8"))
    attn = pm.layer.attention
    per_token = 4 * 7168 * 2 + 7168 * 3 + 2 * 2 * 2048 + 1536 * 3 + 2 * 2 * 129 * 64
    assert attn.ew_attn == per_token + 128 * 128 * 3
    assert attn.ew_expand == 2 * 128 * (2 * 128 + 64) + 512 * 3


# ---- separate draft models (EAGLE3) ----------------------------------------------------------
TOY_DRAFT = ModelArch.model_validate(
    {
        "name": "toy-dense-eagle3",
        "family": "toy",
        "hidden_size": 1024,
        "num_layers": 1,
        "dense_layers": 1,
        "dense_intermediate": 2048,
        "vocab_size": 1000,
        "max_context": 4096,
        "attention": {"kind": "gqa", "num_heads": 8, "num_kv_heads": 2, "head_dim": 128},
        "draft": {
            "method": "eagle3",
            "target": "toy-dense",
            "draft_vocab_size": 500,
            "fused_hidden_states": 3,
            "attention_input_factor": 2,
        },
    }
)


def test_eagle3_draft_model_passes_by_hand():
    """2 draft passes over 4 sequences of 100 context tokens on the toy card (100 TFLOP/s,
    1 TB/s, no launch cost). Pass 1 is the draft extend over the 3 verified positions of each
    sequence (12 tokens): fc 3*1024*1024, the draft layer (q/k/v over 2H: 4,197,376 params;
    SwiGLU 3*1024*2048), reading the draft's KV, 2*2*128 elems * 2 B per context token; pass 2
    one token per sequence through the layer. Each pass: 500-row LM head for 4 rows and the
    FP32 logits. The draft layer's elementwise kernels (BF16) per token: add + RMSNorm of its
    two H-wide inputs 2 x 4 x 1024 x 2 B, RoPE over 8 query + 2 key heads of 128 (read +
    write, 2 B), the FFN's add + RMSNorm and SiLU-and-mul over 2048. Every op is memory-bound."""
    spec = SpecDecode("eagle3", 2, 0.5, "toy-dense-eagle3")
    pm = model_for(spec=spec, draft=TOY_DRAFT)
    st = pm.step(BatchStats.decode(4, 100))
    h, ctx = 1024, 400
    fc, attn, ffn, lm = 3 * h * h, 4_197_376, 3 * h * 2048, 500 * h
    core_f, kv_b = 4 * 8 * 128 * ctx, 512 * 2 * ctx

    def gemm(p, m):
        return 2 * p * m, p * 2 + 2 * m * h * 2

    ops = [gemm(fc, 12)]
    for m, q in ((12, 3), (4, 1)):
        f, b = gemm(attn, m)
        ops += [(f + core_f * q, b + kv_b), gemm(ffn, m), gemm(lm, 4), (0, 4 * 500 * 4)]
        ew = 2 * 4 * h * 2 + 2 * 2 * 10 * 128 + 4 * h * 2 + 3 * 2048 * 2
        ops.append((0, m * ew))
    assert st.flops["draft"] == sum(f for f, _ in ops)
    assert st.hbm_bytes["draft"] == sum(b for _, b in ops)
    assert st.times["draft"] == pytest.approx(sum(max(f / 1e14, b / 1e12) for f, b in ops))
    assert st.bounds["draft"] == "memory"


def test_draft_model_step_costs_more_than_no_draft_and_mtp_is_unchanged():
    b = BatchStats.decode(64, 1000)
    plain = model_for().step(b)
    spec = SpecDecode("eagle3", 3, 0.7, "toy-dense-eagle3")
    with_draft = model_for(spec=spec, draft=TOY_DRAFT).step(b)
    assert with_draft.times["draft"] > 0
    assert with_draft.total_s > plain.total_s
    # a bigger draft model costs more per step
    wide = TOY_DRAFT.model_copy(update={"dense_intermediate": 8192})
    assert model_for(spec=spec, draft=wide).step(b).times["draft"] > with_draft.times["draft"]
    # MTP keeps its own module: a draft_model field left unset changes nothing
    mtp = SpecDecode("mtp", 1, 0.8)
    assert model_for(model=MOE, spec=mtp).step(b).as_dict() == (
        model_for(model=MOE, spec=SpecDecode("mtp", 1, 0.8, None)).step(b).as_dict()
    )


def test_draft_model_needs_its_architecture_and_an_eagle_method():
    spec = SpecDecode("eagle3", 2, 0.5, "toy-dense-eagle3")
    with pytest.raises(AccelsimError, match="draft_model 'toy-dense-eagle3'"):
        model_for(spec=spec)
    with pytest.raises(AccelsimError, match="mtp takes no draft_model"):
        model_for(spec=SpecDecode("mtp", 1, 0.8, "toy-dense-eagle3"), draft=TOY_DRAFT)


def test_catalog_eagle3_draft_is_priced_from_its_file(catalog):
    """Qwen3-32B on 4 x 910B3 with its EAGLE3 draft: the perf model looks the draft up, and an
    unknown or non-draft name is one clear error."""
    plan, prec = ParallelPlan(tp=4), precision("int8", "bf16")
    spec = SpecDecode.from_accept_length("eagle3", 3, 2.05, "qwen3-32b-eagle3")
    pm = perf_model_from_catalog(catalog, "qwen3-32b", "ascend-910b3", plan, prec, spec=spec)
    assert pm.draft is not None and pm.draft.name == "qwen3-32b-eagle3"
    assert pm.step(BatchStats.decode(50, 4000)).times["draft"] > 0
    bad = SpecDecode("eagle3", 3, 0.5, "qwen3-32b")
    with pytest.raises(AccelsimError, match="not a draft model"):
        perf_model_from_catalog(catalog, "qwen3-32b", "ascend-910b3", plan, prec, spec=bad)
    with pytest.raises(AccelsimError, match="unknown model 'qwen3-32b-eagle'"):
        perf_model_from_catalog(
            catalog,
            "qwen3-32b",
            "ascend-910b3",
            plan,
            prec,
            spec=SpecDecode("eagle3", 3, 0.5, "qwen3-32b-eagle"),
        )


def test_framework_token_layer_cost_by_hand():
    """A framework profile's cost: per decode query token (1 + draft tokens) of the busiest
    attention group, per layer, divided by the attention TP degree."""
    cost = 10e-6
    cases = [  # plan, spec, decode sequences, query tokens of the busiest group per TP rank
        (ParallelPlan(), None, 4, 4.0),
        (ParallelPlan(tp=2), None, 4, 2.0),
        (ParallelPlan(dp=2), None, 3, 2.0),  # ceil(3 / 2) sequences in the busiest group
        (ParallelPlan(), SpecDecode("mtp", 2, 0.5), 4, 12.0),
    ]
    for plan, spec, seqs, tokens in cases:
        base = model_for(plan=plan, spec=spec).step(BatchStats.decode(seqs, 100))
        with_cost = model_for(plan=plan, spec=spec, decode_token_layer_cost=cost)
        st = with_cost.step(BatchStats.decode(seqs, 100))
        extra = cost * tokens * DENSE.num_layers
        assert st.times["overhead"] - base.times["overhead"] == pytest.approx(extra)
        assert st.total_s - base.total_s == pytest.approx(extra)
        assert any("framework cost" in n for n in st.notes)
    prefill = model_for(decode_token_layer_cost=cost).step(BatchStats.prefill_chunk(512))
    assert prefill.total_s == pytest.approx(model_for().step(BatchStats.prefill_chunk(512)).total_s)
    with pytest.raises(AccelsimError, match="decode_token_layer_cost"):
        model_for(decode_token_layer_cost=-1.0)


def test_decode_attention_fraction_prices_decode_attention_only():
    """A card's decode attention fraction sets the rate of decode attention math; prefill
    attention keeps ``attention_fraction``. On a card whose HBM is effectively free, the decode
    step's attention time falls by exactly the core FLOPs at the two rates."""
    eff = {"attention_fraction": 0.5}
    base = make_card(hbm_bandwidth=1e18, efficiency=eff)
    fast = make_card(hbm_bandwidth=1e18, efficiency={**eff, "decode_attention_fraction": 1.0})
    r = Rates.of(fast, precision("bf16"))
    assert r.attn_flops == pytest.approx(0.5e14) and r.attn_dec_flops == pytest.approx(1e14)
    assert Rates.of(base, precision("bf16")).attn_dec_flops == pytest.approx(0.5e14)
    batch = BatchStats.decode(4, 1000)
    a, b = model_for(card=base).step(batch), model_for(card=fast).step(batch)
    core = DENSE.num_layers * 4 * 8 * 128 * 4 * 1000  # QK and AV over 4 x 1000 context tokens
    assert a.times["attention"] - b.times["attention"] == pytest.approx(core / 0.5e14 - core / 1e14)
    pre = BatchStats.prefill_chunk(256)
    assert model_for(card=base).step(pre).total_s == model_for(card=fast).step(pre).total_s


def test_lm_head_tp_pools_rows_and_splits_the_head(catalog):
    """DeepSeek-V3 FP8 on 8 H200, tp=1 x dp=8, 64 decode sequences (8 rows per group). With
    lm_head_tp=8 the head's FLOPs per rank are unchanged (8x the rows over 1/8 of the
    vocabulary), its weight bytes drop 8x, the pooled activations grow 8x; an all-gather of the
    pooled hidden states and an all-to-all of the logits are added to tp_collectives."""
    vh = 129_280 * 7168

    def step(**kw):
        plan = ParallelPlan(tp=1, dp=8, ep=8, **kw)
        pm = perf_model_from_catalog(catalog, "deepseek-v3", "h200", plan, precision("fp8"))
        return pm.step(BatchStats.decode(64, 2048))

    plain, split = step(), step(lm_head_tp=8)
    assert split.flops["embedding_lm_head"] == pytest.approx(plain.flops["embedding_lm_head"])
    assert plain.hbm_bytes["embedding_lm_head"] == pytest.approx(vh * 2 + 8 * 7168 * 2)
    assert split.hbm_bytes["embedding_lm_head"] == pytest.approx(vh * 2 / 8 + 64 * 7168 * 2)
    assert plain.times["tp_collectives"] == 0.0 < split.times["tp_collectives"]
    gathered, logits = 64 * 7168 * 2, 64 * 129_280 / 8 * 4 * 7 / 8
    assert split.net_bytes["tp_collectives"] == pytest.approx(gathered * 7 / 8 + logits)
    assert split.hbm_bytes["sampling"] == plain.hbm_bytes["sampling"]


def test_int8_dispatch_carries_its_scale_and_header_bytes():
    """toy-moe in W8A8 on ep=4 (H=512): a dispatched row is 512 INT8 B + a 4 B per-token scale
    + DeepEP's 16 B header = 532 B; 16 decode tokens per rank x 2 copies x 3/4 off-rank per
    layer, x 4 layers. The combine stays BF16 (1,024 B per row)."""
    plan = ParallelPlan(tp=1, dp=4, ep=4)
    pm = model_for(model=MOE, plan=plan, prec="int8")
    dec = pm.step(BatchStats.decode(64, 100))
    assert dec.net_bytes["ep_dispatch"] == pytest.approx(4 * 16 * 2 * 0.75 * 532)
    assert dec.net_bytes["ep_combine"] == pytest.approx(4 * 16 * 2 * 0.75 * 1024)


def test_ep_fixed_latency_and_normal_mode_share_by_hand():
    """toy-moe BF16 decode on ep=4 over a switch with no latency: a card whose EP dispatch costs
    10 us plus 2 us per doubling of the EP degree adds 10 + 2 x log2(4) = 14 us per layer to the
    dispatch and 2 x 2 = 4 us to the combine. A prefill batch on a card
    whose normal-mode dispatch reaches 0.8 of the link at EP2 and 0.4 at EP8 runs at 0.6 at EP4
    (linear in log2 of the degree): its dispatch bytes take 1 / 0.6 as long."""
    plan = ParallelPlan(tp=1, dp=4, ep=4)
    base = model_for(model=MOE, plan=plan).step(BatchStats.decode(64, 100))
    card = make_card(efficiency={"ep_dispatch_latency": 10e-6, "ep_doubling_latency": 2e-6})
    slow = model_for(card=card, model=MOE, plan=plan).step(BatchStats.decode(64, 100))
    assert slow.times["ep_dispatch"] - base.times["ep_dispatch"] == pytest.approx(4 * 14e-6)
    assert slow.times["ep_combine"] - base.times["ep_combine"] == pytest.approx(4 * 4e-6)
    pre = BatchStats(prefill_seqs=4, prefill_tokens=64, prefill_attention_pairs=4 * 136)
    shared = make_card(efficiency={"ep_normal_dispatch_fraction": {2: 0.8, 8: 0.4}})
    a = model_for(model=MOE, plan=plan).step(pre).times["ep_dispatch"]
    b = model_for(card=shared, model=MOE, plan=plan).step(pre).times["ep_dispatch"]
    assert b == pytest.approx(a / 0.6)
    assert model_for(card=shared, model=MOE, plan=plan).step(pre).times[
        "ep_combine"
    ] == pytest.approx(model_for(model=MOE, plan=plan).step(pre).times["ep_combine"])


def test_measured_fused_moe_kernel_fixed_cost_and_ceiling_by_hand():
    """toy-moe with INT4 weight-only experts (w4a16): a card whose 4-bit fused-MoE kernel costs
    10 us per layer beyond its roofline makes a decode step 4 layers x 10 us longer; one whose
    kernel never exceeds 0.1 of the BF16 peak prices a 4,096-token prefill's expert GEMMs
    (2 x 3 x 512 x 256 FLOPs per assignment, 8,192 assignments per layer, 4 layers) at no less
    than their FLOPs over 1e13 FLOP/s, which the plain card beats."""
    eff = {"dequant_hbm_fraction": {"int4": 0.5}}
    base = make_card(efficiency=eff)
    fixed = make_card(efficiency={**eff, "routed_fixed_by_dtype": {"int4": 10e-6}})
    capped = make_card(efficiency={**eff, "routed_gemm_fraction_by_dtype": {"int4": 0.1}})
    dec = BatchStats.decode(64, 100)
    a = model_for(card=base, model=MOE, prec="w4a16").step(dec).times["routed_experts"]
    b = model_for(card=fixed, model=MOE, prec="w4a16").step(dec).times["routed_experts"]
    assert b - a == pytest.approx(4 * 10e-6, rel=1e-6)
    pre = BatchStats(prefill_seqs=1, prefill_tokens=4096, prefill_attention_pairs=4096 * 4097 / 2)
    gemm_flops = 4 * 8192 * 2 * 3 * 512 * 256
    slow = model_for(card=capped, model=MOE, prec="w4a16").step(pre)
    plain = model_for(card=base, model=MOE, prec="w4a16").step(pre)
    assert slow.flops["routed_experts"] == pytest.approx(gemm_flops)
    assert slow.times["routed_experts"] >= gemm_flops / 1e13
    assert plain.times["routed_experts"] < gemm_flops / 1e13
