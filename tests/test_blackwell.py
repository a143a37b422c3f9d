"""NVFP4 and the Blackwell ground truth: bytes per element and the NVFP4 presets
(accelsim.dtypes), W4A4 GEMMs at the FP4 rate (accelsim.model.perf.roofline), the GB300 card and
server, and the two vLLM blog cases of workloads/validation/blackwell.yaml (hand-computed
values on toy cards; the catalog's figures as their sources give them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from accelsim.catalog.devices import Card
from accelsim.catalog.loader import Catalog
from accelsim.dtypes import BYTES, UnsupportedDtypeError, precision
from accelsim.model.perf.ops import Ops
from accelsim.model.perf.roofline import Rates, Roofline
from accelsim.model.plan import fit, parse_plan
from accelsim.validate.cases import load_cases
from accelsim.validate.predict import perf_model_for, predict

BLACKWELL = Path(__file__).resolve().parents[1] / "workloads" / "validation" / "blackwell.yaml"
MLP = ("routed_experts", "shared_experts", "dense_ffn")


def toy_card(fp4: bool = True, **eff: object) -> Card:
    """BF16 1e14, FP8 2e14, FP4 4e14 FLOP/s, 1 TB/s, full fractions, no launch cost, no floor."""
    peaks = {"bf16": 1e14, "fp8": 2e14} | ({"fp4": 4e14} if fp4 else {})
    efficiency = {
        "gemm_fraction": 1.0,
        "gemm_m_half": 100.0,
        "hbm_fraction": 1.0,
        "collective_fraction": 1.0,
        "kernel_launch": 0.0,
        "iteration_overhead": 0.0,
    } | eff
    return Card.model_validate(
        {
            "name": "toy",
            "vendor": "test",
            "display_name": "Toy card",
            "compute_units": 1,
            "peak_flops": peaks,
            "hbm_capacity": 80e9,
            "hbm_bandwidth": 1e12,
            "tdp": 400.0,
            "idle_power": 50.0,
            "efficiency": efficiency,
        }
    )


# ---- accelsim.dtypes ----------------------------------------------------------------------------
def test_nvfp4_bytes_are_e2m1_plus_one_fp8_scale_per_16():
    """4 bits per value and one E4M3 byte per 16 values: 0.5 + 1/16; NVIDIA's 3.5x vs FP16 and
    1.8x vs FP8 follow (2 / 0.5625 = 3.56, 1 / 0.5625 = 1.78)."""
    assert BYTES["nvfp4"] == 0.5 + 1 / 16 == 0.5625
    assert BYTES["mxfp4"] == 0.5 + 1 / 32  # OCP MXFP4: one E8M0 byte per 32
    assert BYTES["bf16"] / BYTES["nvfp4"] == pytest.approx(3.56, abs=0.01)
    assert BYTES["fp8"] / BYTES["nvfp4"] == pytest.approx(1.78, abs=0.01)


@pytest.mark.parametrize(("name", "rest"), [("fp8-nvfp4", "fp8"), ("bf16-nvfp4", "bf16")])
def test_nvfp4_presets_store_every_mlp_layer_in_nvfp4(name, rest):
    p = precision(name)
    assert p.label == name
    for cls in MLP:
        assert p.weights_for(cls) == "nvfp4"
        assert p.compute_for(cls) == "fp4"  # W4A4: the FP4 tensor cores
    assert p.weights_for("attention") == rest and p.compute_for("attention") == rest
    assert p.weights_for("router") == "bf16"
    assert p.weights_for("embedding") == p.weights_for("lm_head") == "bf16"
    assert p.kv == "bf16"
    assert precision(name, kv="fp8").label == f"{name},kv=fp8"


def test_other_formats_compute_in_the_precision_compute_dtype():
    """MXFP4 experts of DeepSeek-V4's checkpoint are not W4A4: they run in the preset's math."""
    assert precision("fp8-mxfp4").compute_for("routed_experts") == "fp8"
    assert precision("w4a16").compute_for("dense_ffn") == "bf16"


# ---- accelsim.model.perf.roofline -------------------------------------------------------------
def test_w4a4_gemm_runs_at_the_fp4_rate_with_nvfp4_bytes():
    """1e9 weights over m = 100 rows (hidden 4096): 2e11 FLOPs. Shared experts in NVFP4 run at
    4e14 x 100 / 200 = 2e14 FLOP/s -> 1 ms, and read 5.625e8 B + 2 x 100 x 4096 x 2 B of
    activations = 0.564 ms; attention (FP8) at 2e14 x 0.5 = 1e14 -> 2 ms."""
    prec = precision("fp8-nvfp4")
    rates = Rates.of(toy_card(), prec)
    assert rates.fp4_gemm_flops == pytest.approx(4e14)
    roof = Roofline(rates, prec, hidden=4096)
    assert roof.fp4 == frozenset(MLP)
    ops = Ops()
    roof.gemm(ops, "shared_experts", 1e9, 100.0, kernels=1)
    roof.gemm(ops, "attention", 1e9, 100.0, kernels=1)
    acts = 2.0 * 100 * 4096 * 2.0
    assert ops.t["shared_experts"] == pytest.approx(2e11 / 2e14)
    assert ops.b["shared_experts"] == pytest.approx(1e9 * 0.5625 + acts)
    assert ops.t["attention"] == pytest.approx(2e11 / 1e14)
    assert ops.b["attention"] == pytest.approx(1e9 + acts)


def test_a_gemm_with_its_own_weight_bytes_keeps_the_compute_rate():
    """A draft model's BF16 FFN (``wbytes=2``) under an NVFP4 target is not W4A4: 8e11 FLOPs
    over m = 400 at the FP8 rate 2e14 x 400 / 500 take 5 ms (2.5 ms at FP4), above its 2 GB of
    weights at 1 TB/s."""
    prec = precision("fp8-nvfp4")
    roof = Roofline(Rates.of(toy_card(), prec), prec, hidden=4096)
    ops = Ops()
    roof.gemm(ops, "dense_ffn", 1e9, 400.0, kernels=1, wbytes=2.0)
    assert ops.t["dense_ffn"] == pytest.approx(8e11 / 1.6e14)
    assert ops.b["dense_ffn"] == pytest.approx(2e9 + 2.0 * 400 * 4096 * 2.0)


def test_nvfp4_experts_stream_without_a_dequant_penalty():
    """A card's weight-only INT4 fraction (0.5) slows MXFP4 experts under FP8 math (the 4-bit
    unpack), not NVFP4 ones, which the FP4 cores read as stored."""
    card = toy_card(dequant_hbm_fraction={"int4": 0.5})
    assert Rates.of(card, precision("fp8-mxfp4")).hbm_experts == pytest.approx(0.5e12)
    assert Rates.of(card, precision("fp8-nvfp4")).hbm_experts == pytest.approx(1e12)
    assert Rates.of(card, precision("fp8")).fp4_gemm_flops == 0.0


def test_nvfp4_on_a_card_without_fp4_is_refused():
    with pytest.raises(UnsupportedDtypeError, match="fp4"):
        Rates.of(toy_card(fp4=False), precision("fp8-nvfp4"))


# ---- the catalog ------------------------------------------------------------------------------
def test_gb300_card_and_server_as_their_source_gives_them(catalog: Catalog):
    """reference/hardware.md 'Additions, 2026-12': 2,500 / 5,000 / 15,000 dense, 284,208 MiB,
    8 TB/s, 1,400 W; the Blackwell efficiency profile inherited through gb200 from b200."""
    card = catalog.device("gb300")
    assert card.peak("bf16") == pytest.approx(2500e12)
    assert card.peak("fp8") == pytest.approx(5000e12)
    assert card.peak("fp4") == pytest.approx(15000e12)
    assert card.hbm_capacity == pytest.approx(284208 * 2**20)
    assert card.hbm_bandwidth == pytest.approx(8e12)
    assert card.tdp == pytest.approx(1400.0)
    assert card.efficiency == catalog.device("gb200").efficiency
    server = catalog.server_for(card)
    assert (server.name, server.scale_up_domain_cards, server.cards_per_node) == (
        "gb300-nvl72",
        72,
        4,
    )
    assert server.max_power == pytest.approx(4 * 1400.0 + 3300.0)
    for kind, name in (("device", "gb300"), ("server", "gb300-nvl72")):
        assert not catalog.provenance_problems(kind, name), name


def test_nvfp4_routed_experts_take_0_5625_of_their_fp8_bytes(catalog: Catalog):
    model, card = catalog.model("deepseek-r1"), catalog.device("gb200")
    plan = parse_plan("tp=1,dp=8,ep=8")
    nv = fit(model, card, plan, precision("fp8-nvfp4"))
    f8 = fit(model, card, plan, precision("fp8"))
    assert nv.weights_routed == pytest.approx(0.5625 * f8.weights_routed)
    assert nv.weights_shared < f8.weights_shared
    assert nv.weights_attention == pytest.approx(f8.weights_attention)


# ---- the cases --------------------------------------------------------------------------------
def test_blackwell_cases_load_as_checks_and_predict(catalog: Catalog):
    cases = {c.id: c for c in load_cases(BLACKWELL, catalog)}
    assert set(cases) == {"vllm-gb200-dsr1-pd-2k2k-decode", "vllm-gb300-dsr1-nvfp4-ep2-prefill-2k"}
    for case in cases.values():
        assert case.status == "active" and case.split == "check"
        result = predict(case, catalog)
        assert result.predicted > 0 and result.step is not None
        assert result.step.tokens == case.batch_stats().tokens
        # the simulator's tabulated path prices the W4A4 classes with the same floats
        assert perf_model_for(case, catalog).work(case.batch_stats())[0] == result.step.total_s
    # the GB300 conversion: total tokens (2,048 in + 1 out per request) -> prefill tokens
    assert cases["vllm-gb300-dsr1-nvfp4-ep2-prefill-2k"].measured == pytest.approx(
        22476 * 2048 / 2049, abs=0.01
    )


def test_gb200_decode_batch_is_the_one_that_fills_vllm_kv_pool_at_4k(catalog: Catalog):
    """The case's stated assumption: 3,200 sequences of 2,048 + 2,048 tokens fill the KV pool
    accelsim's fit leaves at vLLM's default 0.9 of HBM (covering weights, activations and KV)."""
    case = next(c for c in load_cases(BLACKWELL, catalog) if c.mode == "decode")
    assert case.plan is not None
    got = fit(
        catalog.model("deepseek-r1"),
        catalog.device("gb200"),
        case.plan,
        precision(case.dtype),
        context=4096,
        reserve_fraction=0.1,
        memory_fraction_covers="all",
    )
    assert got.max_batch_at_context == case.batch["decode_seqs"] == 3200
    assert case.batch["context"] == (2048 + 4096) / 2


def test_the_converted_records_are_no_longer_skipped(catalog: Catalog):
    every = load_cases(None, catalog)
    ids = [c.id for c in every]
    assert len(ids) == len(set(ids))
    skipped = {c.id for c in every if c.status == "skipped"}
    assert not skipped & {"vllm-gb200-dsr1-pd-2k2k-decode", "vllm-gb300-dsr1-nvfp4-ep2-prefill-2k"}
