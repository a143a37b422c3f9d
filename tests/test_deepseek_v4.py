"""DeepSeek-V4 (Flash, Pro) and V3.2 in the catalog: parameters, KV cache, weight formats, FLOPs.

Every figure is pinned twice: to a layer-by-layer hand calculation written out here from the
``config.json`` numbers (independent of the generic formulas of ``accelsim.catalog.attention``
and ``accelsim.catalog.workloads``), and to the published figure it should approach
(``reference/models.md`` section 6):

- parameters: the V4 technical report (arXiv 2606.19348) "1.6T parameters (49B activated)" and
  "284B parameters (13B activated)", within 3 %. DeepSeek's totals are the main model (the MTP
  layer apart, as V3's 671B) and its activated counts leave the input embedding out (a lookup,
  not a matmul); accelsim's ``active_params`` counts the embedding row, so the announced figure
  is compared with ``active_params - embedding_params``;
- KV cache per 1M-token sequence in BF16: vLLM's blog, 9.62 GiB (V4-Pro) and 83.9 GiB (V3.2),
  within 2 %;
- native checkpoint bytes of V4-Flash: 160.0 GB read from the safetensors header (MTP layer
  included);
- single-token FLOPs at 1M tokens: V4-Pro "requires only 27% of single-token inference FLOPs"
  of V3.2 (technical report abstract).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from clirun import run_cli
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from accelsim.catalog.loader import Catalog, load_catalog
from accelsim.catalog.workloads import TENSOR_CLASSES, ModelArch, MoESpec
from accelsim.dtypes import MIXED_PRESETS, PRESETS, precision
from accelsim.errors import AccelsimError
from accelsim.model.batch import BatchStats
from accelsim.model.perf.ops import K_COLL
from accelsim.model.plan import ParallelPlan, fit, parse_plan
from accelsim.model.routing import RoutingModel, hash_routing
from accelsim.run.timing import perf_model_from_catalog
from accelsim.validate.calibrate import CALIBRATED
from accelsim.validate.cases import load_cases

GIB = 2**30
M1 = 1_048_576  # 1M tokens
V = 129_280  # vocabulary of all three models


def _rel(actual: float, expected: float) -> float:
    return abs(actual / expected - 1.0)


def _shown(capsys, name: str) -> dict:
    code, out, _ = run_cli(capsys, "show", "model", name, "--json")
    assert code == 0
    return json.loads(out)


# ---- hand calculations (config.json numbers, vLLM layer shapes) -----------------------------
def _v4_hand(h, nh, q_lora, o_groups, experts, width, csa, hca, swa):
    """Total and active parameters of a V4 model, layer by layer.

    head_dim 512 (K = V shared), rope 64, o_lora 1024, 1 shared expert, top-6, indexer 64 x 128,
    4 hyper-connection streams; ``csa``/``hca``/``swa`` layers by kind.
    """
    hd, o_lora, ix_heads, ix_dim = 512, 1024, 64, 128
    common = (
        h * q_lora  # wq_a
        + q_lora  # q_norm
        + q_lora * nh * hd  # wq_b
        + h * hd  # wkv (one shared K = V head)
        + hd  # kv_norm
        + nh * hd * o_lora  # wo_a, grouped: o_groups x (nh*hd/o_groups) x o_lora
        + o_groups * o_lora * h  # wo_b
        + nh  # attention sinks
        + 2 * h  # attention and FFN norms
    )
    csa_extra = (
        (h * 2 * 2 * hd + 4 * 2 * hd + hd)  # KV compressor, ratio 4, overlapping (x2)
        + q_lora * ix_heads * ix_dim  # indexer wq_b
        + h * ix_heads  # indexer weights_proj
        + 2 * ix_dim  # indexer LayerNorm
        + (h * 2 * 2 * ix_dim + 4 * 2 * ix_dim + ix_dim)  # indexer's compressor
    )
    hca_extra = h * 2 * hd + 128 * hd + hd  # KV compressor, ratio 128, no overlap
    mix = (2 + 4) * 4  # hyper-connection map rows for 4 streams
    hc_layer = 2 * (mix * 4 * h + mix + 3)
    expert = 3 * h * width
    moe_total = experts * expert + expert + experts * h  # routed + shared + router
    moe_active = 6 * expert + expert + experts * h
    layers = csa + hca + swa
    attention = layers * common + csa * csa_extra + hca * hca_extra
    rest = 2 * V * h + h + (4 * 4 * h + 4 + 1)  # embedding, LM head, final norm, hc head
    total = attention + layers * (hc_layer + moe_total) + rest
    active = attention + layers * (hc_layer + moe_active) + rest
    return total, active


PRO_TOTAL, PRO_ACTIVE = _v4_hand(7168, 128, 1536, 16, 384, 3072, csa=30, hca=31, swa=0)
FLASH_TOTAL, FLASH_ACTIVE = _v4_hand(4096, 64, 1024, 8, 256, 2048, csa=21, hca=20, swa=2)


def test_hand_calculation_values() -> None:
    """The hand calculation itself, as numbers (so that a formula change shows here)."""
    assert (PRO_TOTAL, PRO_ACTIVE) == (1_572_997_187_171, 49_779_066_467)
    assert (FLASH_TOTAL, FLASH_ACTIVE) == (284_332_235_607, 13_799_627_607)


@pytest.mark.parametrize(
    ("name", "total", "active", "h", "announced_total", "announced_active"),
    [
        ("deepseek-v4-pro", PRO_TOTAL, PRO_ACTIVE, 7168, 1.6e12, 49e9),
        ("deepseek-v4-flash", FLASH_TOTAL, FLASH_ACTIVE, 4096, 284e9, 13e9),
    ],
)
def test_show_model_parameters(capsys, name, total, active, h, announced_total, announced_active):
    """Pro: 1,573.0B / 48.85B (1.7 % / 0.3 % off 1.6T / 49B); Flash: 284.33B / 13.27B (0.1 % /
    2.1 % off 284B / 13B). Counted: every main layer (attention with its indexers, compressors
    and sinks; MoE with all experts, the shared expert and the router; hyper-connection maps),
    embedding, LM head and final norm. Not counted: the MTP layer (25.8B / 6.6B,
    ``mtp_params``), router correction biases and hash-routing tables."""
    derived = _shown(capsys, name)["derived"]
    assert derived["total_params"] == total
    assert derived["active_params"] == active
    assert _rel(derived["total_params"], announced_total) < 0.03
    assert _rel(derived["active_params"] - V * h, announced_active) < 0.03


def test_mtp_layer_is_apart(catalog: Catalog) -> None:
    """The MTP layer: window-only attention, one MoE layer, hyper-connections and head map,
    e/h projections (2 H x H) and 3 norms; with it V4-Pro is 1,598.8B (0.07 % off 1.6T)."""
    h = 7168
    hd, q_lora, nh = 512, 1536, 128
    attention = (
        (h * q_lora + q_lora + q_lora * nh * hd + h * hd + hd + nh * hd * 1024 + 16 * 1024 * h)
        + nh
        + 2 * h
    )
    hc = 2 * (24 * 4 * h + 24 + 3) + (16 * h + 5)
    moe = 385 * 3 * h * 3072 + 384 * h
    pro = catalog.model("deepseek-v4-pro")
    assert pro.mtp_params == attention + hc + moe + 2 * h * h + 3 * h
    assert _rel(pro.total_params + pro.mtp_params, 1.6e12) < 0.001


# ---- KV cache ---------------------------------------------------------------------------------
def test_kv_per_sequence_at_1m_tokens_bf16(capsys, catalog: Catalog) -> None:
    """V4-Pro: every layer keeps a 128-token window of 512-element entries; 30 CSA layers add
    1M/4 = 262,144 compressed entries plus as many 128-element indexer keys, 31 HCA layers add
    1M/128 = 8,192 entries: 10,334,371,840 B = 9.625 GiB (vLLM blog: 9.62).
    V3.2: 61 layers x 1M tokens x (576 latent + 128 indexer) x 2 B = 83.875 GiB (blog: 83.9)."""
    entry = 512 * 2
    csa = 128 * entry + (M1 // 4) * (entry + 128 * 2)
    hca = 128 * entry + (M1 // 128) * entry
    pro_hand = 30 * csa + 31 * hca
    v32_hand = 61 * M1 * (576 + 128) * 2
    assert pro_hand == 10_334_371_840 and v32_hand == 90_060_095_488
    pro, v32 = catalog.model("deepseek-v4-pro"), catalog.model("deepseek-v3.2")
    assert pro.kv_bytes_per_sequence(M1, 2) == pro_hand
    assert pro.kv_bytes_by_layer_kind(M1, 2) == {"csa": 30 * csa, "hca": 31 * hca}
    assert v32.kv_bytes_per_sequence(M1, 2) == v32_hand
    assert _rel(pro_hand / GIB, 9.62) < 0.02
    assert _rel(v32_hand / GIB, 83.9) < 0.02
    # show model's per-token figure: V3.2 1,408 B per layer; V4-Pro the compressed share only
    assert _shown(capsys, "deepseek-v3.2")["derived"]["kv_bytes_per_token_bf16"] == 61 * 1408
    assert pro.kv_bytes_per_token(2) == 30 * (entry + 256) / 4 + 31 * entry / 128


def test_kv_window_caps_and_indexer_dtype(catalog: Catalog) -> None:
    """Short contexts fill only the window; the indexer cache has its own dtype (FP4 keys: 64 B
    per entry) next to an FP8 latent."""
    flash = catalog.model("deepseek-v4-flash")
    # 100 tokens: 43 windows of 100 entries, nothing compressed on HCA; CSA has 25 entries
    assert flash.kv_bytes_per_sequence(100, 2) == 43 * 100 * 1024 + 21 * 25 * (1024 + 256)
    fp8_fp4 = flash.kv_bytes_per_sequence(M1, 1, 0.5)
    assert fp8_fp4 == 43 * 128 * 512 + 21 * (M1 // 4) * (512 + 64) + 20 * (M1 // 128) * 512
    # compressor states (FP32, vLLM CompressorStateCache): CSA 8 slots x 2,048 + indexer 8 x
    # 512, HCA 128 slots x 1,024 values, 4 B each
    assert flash.compressor_state_bytes_per_sequence == 21 * (8 * 2048 + 8 * 512) * 4 + 20 * (
        128 * 1024 * 4
    )
    assert catalog.model("deepseek-v3").compressor_state_bytes_per_sequence == 0


# ---- FLOPs --------------------------------------------------------------------------------------
def test_attention_flops_at_1m_tokens(catalog: Catalog) -> None:
    """Per query token at 1M: the indexer scores every compressed entry of a CSA layer (2 x 64
    x 128 FLOPs each) and every token of a DSA layer; attention reads window + top-k (CSA),
    window + all entries (HCA) or top-k (DSA). V4-Pro's whole token then costs 26 % of V3.2's
    (technical report: 27 %)."""
    pro, v32 = catalog.model("deepseek-v4-pro"), catalog.model("deepseek-v3.2")
    per_score = 2 * 64 * 128
    pro_f = pro.attention_flops_per_token(M1, "decode")
    assert pro_f["indexer"] == 30 * (M1 // 4) * per_score
    assert pro_f["attention"] == (30 * (128 + 1024) + 31 * (128 + 8192)) * 4 * 128 * 512
    v32_f = v32.attention_flops_per_token(M1, "decode")
    assert v32_f["indexer"] == 61 * M1 * per_score
    assert v32_f["attention"] == 61 * 2048 * (2 * 128 * 576 + 2 * 128 * 512)
    pro_token = pro.linear_flops_per_token + sum(pro_f.values())
    v32_token = v32.linear_flops_per_token + sum(v32_f.values())
    assert abs(pro_token / v32_token - 0.27) < 0.03
    # dense attention kinds: every context token attended, no indexer
    v3 = catalog.model("deepseek-v3").attention_flops_per_token(4096, "decode")
    assert v3 == {
        "attention": 4096
        * catalog.model("deepseek-v3").attention_flops_per_context_token("decode"),
        "indexer": 0.0,
    }


# ---- weights by tensor class --------------------------------------------------------------------
@pytest.mark.parametrize("name", ["deepseek-v3", "deepseek-v3.2", "deepseek-v4-flash", "kimi-k2"])
def test_params_by_class_add_up(catalog: Catalog, name: str) -> None:
    m = catalog.model(name)
    assert set(m.params_by_class()) == set(TENSOR_CLASSES)
    assert sum(m.params_by_class().values()) == m.total_params
    assert sum(m.params_by_class(active=True).values()) == m.active_params
    assert sum(m.params_by_class(include_mtp=True).values()) == m.total_params + m.mtp_params


def test_every_catalog_model_splits_by_class(catalog: Catalog) -> None:
    for name in catalog.names("model"):
        m = catalog.model(name)
        assert sum(m.params_by_class().values()) == m.total_params, name


def test_native_weight_bytes_of_v4_flash(catalog: Catalog) -> None:
    """MXFP4 experts (0.53125 B), FP8 rest, BF16 embedding/head/router/compressors, FP32
    hyper-connection maps: 156.0 GB for the main model, 159.6 GB with the MTP layer (a
    safetensors header reads 160.0 GB; models.md's 155.5 GB counts the compressors at FP8)."""
    flash = catalog.model("deepseek-v4-flash")
    by_class = flash.weight_bytes_by_class()
    experts = 43 * 256 * 3 * 4096 * 2048
    assert by_class["routed_experts"] == experts * 0.53125
    assert by_class["embedding"] == by_class["lm_head"] == V * 4096 * 2
    assert _rel(sum(by_class.values()) / 1e9, 156.0) < 0.005
    with_mtp = sum(flash.weight_bytes_by_class(include_mtp=True).values())
    assert _rel(with_mtp / 1e9, 160.0) < 0.01
    with pytest.raises(AccelsimError, match="no native weight formats"):
        catalog.model("deepseek-v3").weight_bytes_by_class()


def test_deployment_presets_on_cards_without_fp4(catalog: Catalog) -> None:
    """Weight bytes of the deployments run without FP4 math (their memory fit: ``test_fit_*``
    below): W8A8 V4-Flash 286 GB fits the 512 GB of one 8 x 64 GB Atlas 800 A2 (vLLM-Ascend:
    "requires ... 1 Atlas 800 A2 (64G x 8) node"); W4A8 V4-Pro 802 GB does not, and needs more
    than one node (vLLM-Ascend: 4 A2 nodes)."""
    flash, pro = catalog.model("deepseek-v4-flash"), catalog.model("deepseek-v4-pro")
    node = 8 * 64 * GIB
    w8a8 = sum(flash.weight_bytes_by_class(precision("w8a8-mixed")).values())
    w4a8 = sum(pro.weight_bytes_by_class(precision("w4a8-mixed")).values())
    assert 280e9 < w8a8 < node
    assert node < w4a8 < 4 * node
    dequant = precision("w4a16-mxfp4")
    assert dequant.weights_for("routed_experts") == "mxfp4"
    assert dequant.weights_for("attention") == "bf16" and dequant.compute == "bf16"
    assert precision("w4a8-mixed").weights_for("routed_experts") == "int4"
    assert precision("w4a8-mixed").weights_for("attention") == "int8"
    assert precision("w8a8-mixed").weights_for("hyper_connections") == "fp32"
    # uniform presets: one dtype, the embedding and LM head kept 16-bit
    assert precision("int8").weights_for("embedding") == "bf16"
    assert precision("int8").weights_for("routed_experts") == "int8"
    assert precision("bf16").weights_for("lm_head") == "bf16"


def test_uniform_presets_are_unchanged() -> None:
    """The mixed presets are extra names: ``PRESETS`` (what ``--dtype`` lists) is as before."""
    assert list(PRESETS) == ["bf16", "fp16", "fp8", "int8", "w8a8", "w8a16", "w4a16", "w4a8"]
    assert all(p.by_class == () for p in PRESETS.values())
    assert set(MIXED_PRESETS) == {
        "fp8-mxfp4", "w4a16-mxfp4", "w8a8-mixed", "w4a8-mixed", "w4a16-int4",
        "bf16-nvfp4", "fp8-nvfp4",  # wave 6: NVFP4 (Blackwell), tests/test_blackwell.py
    }  # fmt: skip
    assert precision("w4a8-mixed", kv="fp8").by_class == MIXED_PRESETS["w4a8-mixed"].by_class
    assert precision("w4a8-mixed").label == "w4a8-mixed"


# ---- catalog files --------------------------------------------------------------------------
def test_v4_and_v32_files_load(catalog: Catalog) -> None:
    pro, flash, v32 = (catalog.model(n) for n in ("deepseek-v4-pro", "deepseek-v4-flash",
                                                  "deepseek-v3.2"))  # fmt: skip
    assert pro.layer_kinds.count("csa") == 30 and pro.layer_kinds.count("hca") == 31
    assert flash.layer_kinds[:3] == ("swa", "swa", "csa") and flash.layer_kinds.count("hca") == 20
    assert set(v32.layer_kinds) == {"dsa"}
    assert pro.attention.indexer.top_k == 1024 and flash.attention.indexer.top_k == 512
    assert v32.attention.indexer.top_k == 2048
    assert pro.moe.hash_layers == flash.moe.hash_layers == 3
    assert pro.hyper_connections.streams == 4 and pro.hyper_connections.sinkhorn_iters == 20
    assert pro.weight_formats.of("routed_experts") == "mxfp4"
    assert pro.weight_formats.of("attention") == "fp8"
    assert pro.max_context == flash.max_context == M1
    for m in (pro, flash, v32):
        assert not catalog.provenance_problems("model", m.name)


def test_new_devices_load_and_are_listed(capsys, catalog: Catalog) -> None:
    code, out, _ = run_cli(capsys, "catalog", "devices", "--json")
    assert code == 0
    listed = {d["name"] for d in json.loads(out)}
    assert {"b200", "gb200", "ascend-950pr", "ascend-950dt"} <= listed
    assert catalog.device("b200").peak("fp4") == pytest.approx(9000e12)
    assert catalog.device("gb200").peak("fp4") == pytest.approx(10000e12)
    nvl72 = catalog.server_for(catalog.device("gb200"))
    assert (nvl72.name, nvl72.scale_up_domain_cards, nvl72.cards_per_node) == ("gb200-nvl72", 72, 4)
    dt = catalog.device("ascend-950dt")
    assert dt.hbm_capacity == pytest.approx(144e9) and dt.peak("fp8") == pytest.approx(1e15)
    alternatives = " ".join(dt.provenance["hbm_capacity"].alternatives)
    assert "96 GB" in alternatives  # the conflicting figure, with its source
    assert not dt.supports("int8")
    superpod = catalog.server("atlas-950-superpod")
    assert superpod.card == "ascend-950dt" and superpod.scale_up_domain_cards == 8192
    assert catalog.server("cloudmatrix384").scale_up_domain_cards == 384
    for kind, name in [("device", "b200"), ("device", "gb200"), ("device", "ascend-950pr"),
                       ("device", "ascend-950dt"), ("server", "gb200-nvl72"),
                       ("server", "atlas-950-superpod"), ("fabric", "ub-950"),
                       ("fabric", "nvlink-nvl72")]:  # fmt: skip
        assert not catalog.provenance_problems(kind, name), name


def test_prices_of_the_new_entries(catalog: Catalog) -> None:
    """CloudMatrix384 is priced from the one report (about $8M per system, R); the Blackwell and
    Ascend 950 cards have no purchase price and stay unpriced with the reason."""
    book = catalog.prices("international-2025")
    assert book.servers["cloudmatrix384"] == pytest.approx(8e6 / 48, rel=1e-4)
    assert book.provenance["servers.cloudmatrix384"].conf == "R"
    for card in ("b200", "gb200", "ascend-950pr", "ascend-950dt"):
        assert card not in book.cards
        assert catalog.server_for(catalog.device(card)).name not in book.servers


# ---- schema checks ----------------------------------------------------------------------------
def _v4_like(**attention: object) -> ModelArch:
    att: dict[str, object] = {
        "kind": "compressed",
        "num_heads": 4,
        "num_kv_heads": 1,
        "head_dim": 16,
        "qk_rope_head_dim": 4,
        "q_lora_rank": 8,
        "o_lora_rank": 8,
        "o_groups": 2,
        "sliding_window": 4,
        "compress_ratios": [0, 4, 8],
        "indexer": {"num_heads": 2, "head_dim": 8, "top_k": 2, "compress_ratio": 4},
    }
    att.update(attention)
    return ModelArch.model_validate(
        {
            "name": "v4ish",
            "family": "test",
            "hidden_size": 32,
            "num_layers": 3,
            "dense_layers": 3,
            "dense_intermediate": 64,
            "vocab_size": 10,
            "max_context": 64,
            "attention": att,
        }
    )


def test_tiny_compressed_model_by_hand() -> None:
    """H=32, nh=4, hd=16, q_lora=8, o_lora=8, 2 groups, window 4; layers: swa, csa (4), hca (8).

    common = 32*8 + 8 + 8*4*16 + 32*16 + 16 + 4*16*8 + 2*8*32 + 4 + 2*32 = 2396
    csa    = (32*64 + 4*32 + 16) + (8*2*8 + 32*2 + 16) + (32*32 + 4*16 + 8) = 2192 + 208 + 1096
    hca    = 32*32 + 8*16 + 16 = 1168
    KV at 20 tokens, 2 B: 3 windows of 4 x 32 B + csa 5 x (32 + 16) + hca 2 x 32 = 688
    """
    m = _v4_like()
    assert m.layer_kinds == ("swa", "csa", "hca")
    assert m.attention_params_of_layer(0) == 2396
    assert m.attention_params_of_layer(1) == 2396 + 2192 + 208 + 1096
    assert m.attention_params_of_layer(2) == 2396 + 1168
    assert m.kv_bytes_per_sequence(20, 2) == 3 * 4 * 32 + 5 * 48 + 2 * 32
    assert m.attention.attended_entries(20, 4) == 4 + 2  # window + top-2 of 5
    assert m.attention.attended_entries(20, 8) == 4 + 2  # window + all 2
    assert m.attention.indexed_entries(20, 4) == 5


def test_invalid_attention_rejected() -> None:
    with pytest.raises(ValidationError, match="compress_ratios needs one entry per layer"):
        _v4_like(compress_ratios=[0, 4])
    with pytest.raises(ValidationError, match="one shared K = V head"):
        _v4_like(num_kv_heads=2)
    with pytest.raises(ValidationError, match="compressed attention needs sliding_window"):
        _v4_like(sliding_window=None)
    with pytest.raises(ValidationError, match="serves compressed layers"):
        _v4_like(indexer={"num_heads": 2, "head_dim": 8, "top_k": 2})


# ---- memory fit: weights per tensor class, KV by layer kind (hand calculations) -------------
def _flash_fit_by_hand(context: int) -> dict[str, float]:
    """V4-Flash W8A8 (``w8a8-mixed``) on one rank of 8 x 64 GiB, plan tp=1, dp=8, ep=8, from
    the config numbers: INT8 linear layers and experts, BF16 compressors / router / embedding /
    LM head, FP32 hyper-connection maps; KV in BF16, every layer's window capped at 128, one
    compressed entry per 4 (CSA, plus a 128-wide indexer key) or 128 (HCA) tokens, FP32
    compressor states."""
    h, nh, q_lora, hd, o_lora, groups, experts, width = 4096, 64, 1024, 512, 1024, 8, 256, 2048
    common = (
        h * q_lora + q_lora + q_lora * nh * hd + h * hd + hd
        + nh * hd * o_lora + groups * o_lora * h + nh + 2 * h
    )  # fmt: skip
    csa_ix = q_lora * 64 * 128 + h * 64 + 2 * 128  # indexer wq_b, weights_proj, LayerNorm
    csa_comp = (h * 2 * 2 * hd + 4 * 2 * hd + hd) + (h * 2 * 2 * 128 + 4 * 2 * 128 + 128)
    hca_comp = h * 2 * hd + 128 * hd + hd
    attention = (43 * common + 21 * csa_ix) * 1 + (21 * csa_comp + 20 * hca_comp) * 2
    hyper = (43 * 2 * (24 * 4 * h + 24 + 3) + (16 * h + 4 + 1)) * 4
    shared = 43 * (3 * h * width * 1 + experts * h * 2)  # shared expert INT8, router BF16
    routed = 43 * (experts // 8) * 3 * h * width * 1  # 32 experts per EP rank
    embedding = 2 * V * h * 2
    tokens = 8192 // 8
    widest = width + 6 * width
    activations = tokens * (8 * h + 3 * widest) * 2 + 32 * V * 4 + tokens * 3 * h * 2
    hbm = 64 * GIB
    window = min(context, 128) * hd * 2
    seq = (
        2 * window
        + 21 * (window + context // 4 * (hd * 2 + 128 * 2) + (2 * 4 * 2 * 2 * (hd + 128) * 4))
        + 20 * (window + context // 128 * hd * 2 + 128 * 2 * hd * 4)
    )
    weights = attention + hyper + shared + routed + embedding
    kv = hbm - 0.1 * hbm - weights - activations
    per_token = seq / context
    batch = int(kv // per_token) // context * 8
    return {"weights": weights, "hyper": hyper, "kv": kv, "per_token": per_token, "batch": batch}


@pytest.mark.parametrize("context", [4096, M1])
def test_fit_v4_flash_w8a8_by_hand(catalog: Catalog, context: int) -> None:
    flash, card = catalog.model("deepseek-v4-flash"), catalog.device("ascend-910b2")
    got = fit(flash, card, ParallelPlan(tp=1, dp=8, ep=8), precision("w8a8"), context)
    want = _flash_fit_by_hand(context)
    assert got.precision == "w8a8-mixed"  # a mixed checkpoint resolves w8a8 per class
    assert got.weights == pytest.approx(want["weights"], rel=1e-12)
    assert got.weights_hyper_connections == pytest.approx(want["hyper"], rel=1e-12)
    assert got.kv_capacity == pytest.approx(want["kv"], rel=1e-12)
    assert got.kv_bytes_per_token == pytest.approx(want["per_token"], rel=1e-12)
    assert got.max_batch_at_context == want["batch"]
    assert got.fits
    # at 1M tokens a sequence is 6.74 GiB: two per 64 GiB rank after ~43 GB of weights
    assert context != M1 or want["batch"] == 16


def test_fit_cli_v4_flash_fits_and_pro_needs_four_nodes(capsys) -> None:
    """The issue's two commands. V4-Pro W8A8 needs 32 cards: at 24 (3 nodes) each EP rank holds
    384 / 24 = 16 experts x 61 layers x 3 x 7168 x 3072 B = 64.6 GB of routed experts alone,
    above the 57.9 GB a 64 GiB card has after its 10 % reserve; at 32 it holds 12 (48.4 GB)."""
    base = ("fit", "--device", "ascend-910b2", "--cards", "8", "--dtype", "w8a8", "--json")
    code, out, _ = run_cli(capsys, base[0], "deepseek-v4-flash", *base[1:])
    flash = json.loads(out)
    assert code == 0 and flash["fits"] and flash["precision"] == "w8a8-mixed"
    assert flash["minimum_cards"] is None
    code, out, _ = run_cli(capsys, base[0], "deepseek-v4-pro", *base[1:])
    pro = json.loads(out)
    assert code == 0 and not pro["fits"] and pro["minimum_cards"] == 32
    assert 16 * 61 * 3 * 7168 * 3072 > 0.9 * 64 * GIB > 12 * 61 * 3 * 7168 * 3072
    code, out, _ = run_cli(capsys, "fit", "deepseek-v4-flash", "-d", "ascend-910b2", "-n", "8",
                           "--dtype", "w8a8")  # fmt: skip
    assert code == 0 and "fits" in out and "hyper-connections" in out


def test_fit_v32_kv_is_latent_plus_indexer_key(catalog: Catalog) -> None:
    """V3.2 in BF16: 61 x (576 latent + 128 indexer key) x 2 B = 85,888 B per token per rank,
    replicated over tp (one latent head); an FP8 indexer cache halves the key's share."""
    v32, card = catalog.model("deepseek-v3.2"), catalog.device("h200")
    plan = ParallelPlan(tp=8, ep=8)
    got = fit(v32, card, plan, precision("fp8"), 8192)
    assert got.kv_bytes_per_token == pytest.approx(61 * (576 + 128) * 2)
    assert got.precision == "fp8"  # not a mixed checkpoint: the uniform preset stays
    fp8_keys = replace(precision("fp8"), indexer_kv="fp8")
    assert fit(v32, card, plan, fp8_keys, 8192).kv_bytes_per_token == pytest.approx(
        61 * (576 * 2 + 128)
    )
    assert fp8_keys.label == "w=fp8,a=fp8,kv=bf16,indexer=fp8"


def test_mixed_form_of_uniform_presets(catalog: Catalog) -> None:
    flash, v3 = catalog.model("deepseek-v4-flash"), catalog.model("deepseek-v3")
    assert flash.mixed_native and not v3.mixed_native
    assert not catalog.model("deepseek-v3.2").mixed_native  # FP8 throughout, router BF16
    for uniform, mixed in [("w8a8", "w8a8-mixed"), ("int8", "w8a8-mixed"), ("fp8", "fp8-mxfp4"),
                           ("w4a8", "w4a8-mixed"), ("w4a16", "w4a16-mxfp4")]:  # fmt: skip
        assert flash.deployed_precision(precision(uniform)) == MIXED_PRESETS[mixed]
        assert v3.deployed_precision(precision(uniform)) == precision(uniform)
    for kept in ("bf16", "fp16", "w8a16", "w8a8-mixed"):
        assert flash.deployed_precision(precision(kept)) == precision(kept)
    with_fp8_kv = flash.deployed_precision(precision("w8a8", "fp8"))
    assert with_fp8_kv.kv == "fp8" and with_fp8_kv.label == "w8a8-mixed,kv=fp8"


# ---- the step: indexer, sparse core, hyper-connections ---------------------------------------
def _flash_step(catalog: Catalog, context: int, batch: int = 16):
    plan = ParallelPlan(tp=1, dp=8, ep=8)
    pm = perf_model_from_catalog(
        catalog, "deepseek-v4-flash", "ascend-910b2", plan, precision("w8a8")
    )
    return pm, pm.step(BatchStats.decode(batch, context))


def test_step_v4_flash_indexer_by_hand(catalog: Catalog) -> None:
    """16 decode sequences over 8 DP groups: 2 per group. Indexer: 21 CSA layers x 2 sequences
    x 1M / 4 entries x 2 x 64 x 128 FLOPs; keys 128 x 2 B (BF16) per entry, read once; 8 B of
    FP32 scores written and read per (query, entry). It scales with context; the attention core
    on CSA layers stays at 128 + 512 entries."""
    pm, st = _flash_step(catalog, M1)
    assert pm.prec.label == "w8a8-mixed"
    entries = 2 * 21 * (M1 // 4)
    assert st.flops["indexer"] == pytest.approx(entries * 2 * 64 * 128, rel=1e-12)
    assert st.hbm_bytes["indexer"] == pytest.approx(entries * (128 * 2 + 8), rel=1e-12)
    _, half = _flash_step(catalog, M1 // 2)
    assert half.flops["indexer"] == pytest.approx(st.flops["indexer"] / 2, rel=1e-12)
    assert st.times["indexer"] > half.times["indexer"]
    a = catalog.model("deepseek-v4-flash").attention
    assert a.attended_entries(M1, 4) == a.attended_entries(M1 // 2, 4) == 128 + 512
    assert a.attended_entries(M1, 128) == 128 + M1 // 128


def test_step_v4_hyper_connections_by_hand(catalog: Catalog) -> None:
    """Two sites per layer, each a (2+4)*4 x 4H FP32 map: 2 x 2 x 24 x 4 x 4096 FLOPs per token
    and layer; per token and site 3 x 4 x 4096 x 2 B of stream traffic plus 20 Sinkhorn passes
    of 8 x 16 B; the maps' weights read once per site."""
    _, st = _flash_step(catalog, 4096)
    h, tokens = 4096, 2  # tokens of the busiest DP group
    assert st.flops["hyper_connections"] == pytest.approx(43 * 2 * 2 * 24 * 4 * h * tokens)
    per_token = 2 * (3 * 4 * h * 2 + 20 * 8 * 16)
    weights = 2 * 24 * 4 * h * 4
    want = 43 * (weights + per_token * tokens)
    assert st.hbm_bytes["hyper_connections"] == pytest.approx(want)


def test_step_cli_shows_the_indexer_at_1m(capsys) -> None:
    code, out, _ = run_cli(capsys, "step", "deepseek-v4-flash", "-d", "ascend-910b2", "--cards",
                           "8", "--plan", "tp=1,dp=8,ep=8", "--dtype", "w8a8", "--decode-batch",
                           "16", "--context", str(M1), "--json")  # fmt: skip
    d = json.loads(out)
    assert code == 0 and d["ops"]["indexer"]["time_s"] > 0
    assert d["ops"]["hyper_connections"]["time_s"] > 0
    assert d["total_s"] == pytest.approx(sum(v["time_s"] for v in d["ops"].values()))


def test_step_of_other_models_lists_no_indexer(catalog: Catalog) -> None:
    pm = perf_model_from_catalog(
        catalog, "deepseek-v3", "h200", ParallelPlan(tp=8, ep=8), precision("fp8")
    )
    d = pm.step(BatchStats.decode(8, 4096)).as_dict()
    assert "indexer" not in d["ops"] and "hyper_connections" not in d["ops"]
    pm = perf_model_from_catalog(
        catalog, "deepseek-v3.2", "h200", ParallelPlan(tp=8, ep=8), precision("fp8")
    )
    st = pm.step(BatchStats.decode(8, 131072))
    # V3.2: 61 DSA layers score every token: 8 x 61 x 131072 x 2 x 64 x 128 FLOPs
    assert st.flops["indexer"] == pytest.approx(8 * 61 * 131072 * 2 * 64 * 128, rel=1e-12)
    assert st.flops["hyper_connections"] == 0.0


def test_prefill_indexer_is_quadratic(catalog: Catalog) -> None:
    """A prefill chunk of T tokens after P cached: the indexer scores sum(p // 4) entries over
    its queries on each CSA layer."""
    pm = perf_model_from_catalog(
        catalog, "deepseek-v4-flash", "h200", ParallelPlan(tp=8, ep=8), precision("fp8")
    )
    prior, tokens = 65536, 8192
    st = pm.step(BatchStats.prefill_chunk(tokens, prior))
    pairs = sum(p // 4 for p in range(prior + 1, prior + tokens + 1))
    assert st.flops["indexer"] == pytest.approx(21 * pairs * 2 * 64 * 128, rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(["deepseek-v4-flash", "deepseek-v4-pro", "deepseek-v3.2"]),
    prior=st.integers(0, 9000),
    tokens=st.integers(1, 3000),
)
def test_chunk_sums_match_the_per_query_sums(
    catalog: Catalog, name: str, prior: int, tokens: int
) -> None:
    m = catalog.model(name)
    queries = range(prior + 1, prior + tokens + 1)
    for r in set(m.layer_ratios()):
        a = m.attention
        assert a.attended_in_chunk(prior, tokens, r) == sum(
            a.attended_entries(p, r) for p in queries
        )
        assert a.indexed_in_chunk(prior, tokens, r) == sum(a.indexed_entries(p, r) for p in queries)


# ---- validation cases -----------------------------------------------------------------------
def test_v4_validation_cases_are_checks_only(catalog: Catalog) -> None:
    """The V4 and V3.2 measurements of shared/validation/measurements-2.yaml are all in
    workloads/validation/deepseek-v4.yaml, with the three sibling rows of the two vLLM-Ascend
    PD config files (wave 4) and the two Atlas-A3 Pod decode rows of cann-recipes-infer's V4
    guide (wave 5), every one a check case: no fitted number of the registry names one of them
    among its fit cases."""
    path = Path(__file__).resolve().parents[1] / "workloads" / "validation" / "deepseek-v4.yaml"
    cases = load_cases(path, catalog)
    models = {c.model for c in cases}
    assert models == {"deepseek-v4-flash", "deepseek-v4-pro", "deepseek-v3.2"}
    assert len(cases) == 13 and all(c.status == "active" and c.split == "check" for c in cases)
    ids = {c.id for c in cases}
    # each sibling row shares its parent's source file (one cross-validation fold) and
    # deployment: only the traffic and the measured value differ
    siblings = {
        "va-a3-dsv4flash-pd2node-3.5k1.5k-c100": "va-a3-dsv4flash-pd2node-3.5k1.5k-c1024",
        "va-a3-dsv4pro-pd4node-3.5k1.5k-c4": "va-a3-dsv4pro-pd4node-3.5k1.5k-c256",
        "va-a3-dsv4pro-pd4node-64k1k-c16": "va-a3-dsv4pro-pd4node-3.5k1.5k-c256",
    }
    by_id = {c.id: c for c in cases}
    for sid, pid in siblings.items():
        row, parent = by_id[sid], by_id[pid]
        assert row.source == parent.source and row.source is not None
        assert row.scenario is not None and parent.scenario is not None
        assert row.scenario.disaggregation == parent.scenario.disaggregation
        assert row.measured != parent.measured
    b8, b7 = by_id["cann-a3-dsv4flash-decode-b8192"], by_id["cann-a3-dsv4flash-decode-b7168"]
    assert b8.source == b7.source and b8.plan == b7.plan and b8.batch != b7.batch
    for number in CALIBRATED:
        assert not ids & set(number.fit_cases(catalog)), number.label


@settings(max_examples=25, deadline=None)
@given(short=st.integers(1, M1), longer=st.integers(1, M1))
def test_v4_fit_holds_fewer_sequences_at_longer_context(
    catalog: Catalog, short: int, longer: int
) -> None:
    """Window-capped plus compressed KV still grows with context: a longer sequence never lets
    more of them fit, and the weights do not depend on the context."""
    short, longer = sorted((short, longer))
    flash, card = catalog.model("deepseek-v4-flash"), catalog.device("ascend-910b2")
    plan = ParallelPlan(tp=1, dp=8, ep=8)
    a = fit(flash, card, plan, precision("w8a8"), short)
    b = fit(flash, card, plan, precision("w8a8"), longer)
    assert a.weights == b.weights and a.kv_capacity == b.kv_capacity
    assert b.max_batch_at_context <= a.max_batch_at_context
    assert b.kv_bytes_per_token * longer >= a.kv_bytes_per_token * short


# ---- context parallelism ------------------------------------------------------------------------
def test_cp_kv_exchange_by_hand(catalog: Catalog) -> None:
    """Llama-2-7B prefill of 8,192 tokens on 2 x H100 with cp=2: each layer all-gathers the
    chunk KV, 8,192 x (2 x 32 x 128 x 2 B) = 134,217,728 B of it (MHA, tp=1: no split), of
    which a rank receives half: 32 x (0.5 x 134,217,728 / link rate + latency) plus one
    collective's launches per layer. The layers' FLOPs per rank halve."""
    one = perf_model_from_catalog(
        catalog, "llama-2-7b", "h100-sxm5", ParallelPlan(), precision("bf16")
    )
    two = perf_model_from_catalog(
        catalog, "llama-2-7b", "h100-sxm5", ParallelPlan(cp=2), precision("bf16")
    )
    batch = BatchStats.prefill_chunk(8192, 0)
    s1, s2 = one.step(batch), two.step(batch)
    link = two.fabrics.link(2)
    size = 8192 * 2 * 32 * 128 * 2
    want = 32 * (0.5 * size / link.rate(1) + link.latency) + 32 * K_COLL * two.rates.launch_s
    assert s2.times["cp_kv_exchange"] == pytest.approx(want, rel=1e-12)
    assert s2.net_bytes["cp_kv_exchange"] == pytest.approx(32 * size / 2)
    assert s1.times["cp_kv_exchange"] == 0.0
    assert "cp_kv_exchange" not in s1.as_dict()["ops"]
    for cls in ("attention", "dense_ffn"):
        assert s2.flops[cls] == pytest.approx(s1.flops[cls] / 2, rel=1e-9)


def test_cp_halves_the_v4_indexer_at_128k(catalog: Catalog) -> None:
    """A 128K-token V4-Flash prefill with cp=2: a rank's zig-zag chunk of 64K tokens after on
    average 32K of the others scores sum(p // 4) over p in (32K, 96K] entries per CSA layer,
    half the whole prefill's sum(p // 4) over p <= 128K (to the floor's rounding)."""
    t = 131072
    base = perf_model_from_catalog(
        catalog, "deepseek-v4-flash", "ascend-910b2", parse_plan("tp=8,ep=8"), precision("w8a8")
    )
    cp = perf_model_from_catalog(
        catalog,
        "deepseek-v4-flash",
        "ascend-910b2",
        parse_plan("tp=8,cp=2,ep=16"),
        precision("w8a8"),
    )
    batch = BatchStats.prefill_chunk(t, 0)
    whole, half = base.step(batch), cp.step(batch)
    chunk = sum(p // 4 for p in range(t // 4 + 1, 3 * t // 4 + 1))
    assert half.flops["indexer"] == pytest.approx(21 * chunk * 2 * 64 * 128, rel=1e-12)
    assert half.flops["indexer"] == pytest.approx(whole.flops["indexer"] / 2, rel=1e-4)
    assert half.times["cp_kv_exchange"] > 0
    assert half.total_s < whole.total_s


def test_step_cli_accepts_cp_at_1m(capsys) -> None:
    code, out, _ = run_cli(capsys, "step", "deepseek-v4-flash", "-d", "ascend-910b2", "--cards",
                           "16", "--plan", "tp=8,cp=2,ep=16", "--dtype", "w8a8", "--decode-batch",
                           "2", "--context", str(M1), "--json")  # fmt: skip
    d = json.loads(out)
    assert code == 0 and d["plan"] == "tp=8,ep=16,cp=2"
    assert d["ops"]["cp_kv_exchange"]["time_s"] > 0  # decode's partial outputs combine


# ---- hash-routed layers ---------------------------------------------------------------------
def test_hash_routing_load_follows_token_frequency() -> None:
    """Two tokens at Zipf frequencies 1 and 1/2 (2/3 and 1/3 of the text), top-1 of 4 experts:
    each token's table row holds one expert, so the experts' loads are 2/3 and 1/3 (or 1 when
    both rows hold the same expert) and 0 elsewhere."""
    moe = MoESpec(num_experts=4, top_k=1, expert_intermediate=8)
    r = hash_routing(moe, vocab_size=2, layers=2, seed=3)
    rows = np.array(r.counts).reshape(2, 4)
    assert r.kind == "counts" and rows.sum(axis=1) == pytest.approx([1.0, 1.0])
    for row in rows:
        assert sorted(x for x in row if x) in ([pytest.approx(1 / 3), pytest.approx(2 / 3)], [1.0])
    assert hash_routing(moe, 2, 2, seed=3) == r  # seeded


def test_v4_hash_layers_carry_the_imbalance(catalog: Catalog) -> None:
    """V4-Flash's first 3 MoE layers are priced apart: the layer groups still add up to the 43
    layers; over EP 64 their busiest rank carries more than uniform routing's (the frequent
    tokens' experts), so the routed-expert time exceeds that of the same model without hash
    layers."""
    flash = catalog.model("deepseek-v4-flash")
    plain = load_catalog(overrides=["model.deepseek-v4-flash.moe.hash_layers=0"])
    plan, prec = ParallelPlan(tp=1, dp=64, ep=64), precision("w8a8")
    pm = perf_model_from_catalog(catalog, "deepseek-v4-flash", "ascend-910b2", plan, prec)
    groups = pm._groups
    assert sum(n for n, *_ in groups) == flash.num_layers
    hashed = [n for n, moe, _, layer in groups if layer is not pm.layer]
    assert sum(hashed) == 3
    r = hash_routing(flash.moe, flash.vocab_size, 3)
    t = 64 * 64 * 1.0
    assert (
        r.rank_loads(flash, 64, 0, t).max_load > RoutingModel().rank_loads(flash, 64, 0, t).max_load
    )
    batch = BatchStats.decode(64 * 64, 8192)
    with_hash = pm.step(batch).times["routed_experts"]
    same = perf_model_from_catalog(plain, "deepseek-v4-flash", "ascend-910b2", plan, prec)
    assert len(same._groups) < len(groups)
    assert sum(n for n, *_ in same._groups) == flash.num_layers
    assert same.step(batch).times["routed_experts"] < with_hash


def test_fit_cli_accepts_cp_at_1m(capsys) -> None:
    """`accelsim fit` with a context-parallel plan at 1M tokens: V4-Pro on 32 x 910B2 holds two
    1M-token sequences with tp=8,dp=2,cp=2 (the KV per token per card halved)."""
    code, out, _ = run_cli(capsys, "fit", "deepseek-v4-pro", "--device", "ascend-910b2",
                           "--cards", "32", "--dtype", "w8a8", "--context", str(M1), "--plan",
                           "tp=8,dp=2,cp=2,ep=32", "--json")  # fmt: skip
    d = json.loads(out)
    assert code == 0 and d["fits"] and d["plan"] == "tp=8,ep=32,dp=2,cp=2"
    assert d["max_batch_at_context"] >= 1
