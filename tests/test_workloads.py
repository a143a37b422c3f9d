"""Model architecture files (``workloads/models/``) and the derived math of
``accelsim.catalog.workloads``.

Reference values are the "Derived sizes" table (section 4) of the model reference, computed there
from the same ``config.json`` numbers; a model that drifts from it by more than the tolerance
means a wrong config value in its file or a wrong formula.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from accelsim.catalog.loader import Catalog
from accelsim.catalog.workloads import ModelArch

EXPECTED_MODELS = {
    "deepseek-v3",
    "deepseek-r1",
    "kimi-k2",
    "deepseek-v2-lite",
    "deepseek-v2",
    "qwen3-235b-a22b",
    "qwen3-30b-a3b",
    "mixtral-8x7b",
    "mixtral-8x22b",
    "llama-4-maverick",
    "pangu-pro-moe",
    "llama-2-7b",
    "llama-2-70b",
    "llama-3-70b",
    "llama-3.3-70b",
    "qwen3-32b",
    "seed-moe-1.2t",
    "deepseek-v3.2",
    "deepseek-v4-flash",
    "deepseek-v4-pro",
}
DENSE = {"llama-2-7b", "llama-2-70b", "llama-3-70b", "llama-3.3-70b", "qwen3-32b"}

KIB = 1024


@pytest.fixture
def cat(catalog: Catalog) -> Catalog:
    """The built-in catalog (the session fixture of conftest.py)."""
    return catalog


def _rel(actual: float, expected: float) -> float:
    return abs(actual / expected - 1.0)


# ---- loading ----------------------------------------------------------------------------------
def test_every_expected_model_exists_and_loads(cat: Catalog) -> None:
    names = set(cat.names("model"))
    assert names >= EXPECTED_MODELS, sorted(EXPECTED_MODELS - names)
    for name in names:
        model = cat.model(name)
        assert model.name == name
        assert model.sources, f"{name}: no sources"


@pytest.mark.parametrize("name", sorted(DENSE))
def test_dense_models_have_no_moe(cat: Catalog, name: str) -> None:
    m = cat.model(name)
    assert not m.is_moe
    assert m.dense_layers == m.num_layers
    assert m.active_params == m.total_params
    assert m.routed_params == 0


def test_deepseek_r1_is_deepseek_v3_architecture(cat: Catalog) -> None:
    meta = {"name", "description", "extends", "sources", "provenance", "file"}
    v3 = cat.model("deepseek-v3").model_dump(exclude=meta)
    r1 = cat.model("deepseek-r1").model_dump(exclude=meta)
    assert r1 == v3
    assert cat.model("deepseek-r1").extends == "deepseek-v3"


def test_llama_33_extends_llama_3_with_long_context(cat: Catalog) -> None:
    base, new = cat.model("llama-3-70b"), cat.model("llama-3.3-70b")
    assert new.extends == "llama-3-70b"
    assert base.max_context == 8192
    assert new.max_context == 131072
    assert new.vocab_size == base.vocab_size == 128256
    assert new.total_params == base.total_params
    assert new.source_of("max_context").src == ("C10b",)


# ---- derived numbers vs the reference table (models.md section 4) ---------------------------
# name: (total B, active B, routed-expert M params or None, KV KiB per token at 2 B/elem,
#        linear GFLOP per token, attention MFLOP per context token (decode))
REFERENCE = {
    "deepseek-v3": (671.0, 37.5, 44.0, 68.6, 73.2, 17.0),
    "kimi-k2": (1026.0, 32.9, 44.0, 68.6, 63.4, 8.5),
    "deepseek-v2-lite": (15.7, 2.66, 8.7, 30.4, 4.9, 0.94),
    "deepseek-v2": (235.7, 21.4, 23.6, 67.5, 41.7, 16.7),
    "qwen3-235b-a22b": (235.1, 22.2, 18.9, 188.0, 43.1, 3.08),
    "qwen3-30b-a3b": (30.5, 3.35, 4.7, 96.0, 6.1, 0.79),
    "mixtral-8x7b": (46.7, 12.9, 176.2, 128.0, 25.5, 0.52),
    "mixtral-8x22b": (140.6, 39.2, 302.0, 224.0, 77.9, 1.38),
    "llama-4-maverick": (400.7, 17.2, 125.8, 192.0, 32.3, 0.98),
    "pangu-pro-moe": (72.0, 16.5, 20.6, 192.0, 31.4, 0.98),
    "llama-3-70b": (70.6, 70.6, None, 320.0, 139.0, 2.62),
    "llama-2-7b": (6.74, 6.74, None, 512.0, 13.2, 0.52),
}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_params_match_reference(cat: Catalog, name: str) -> None:
    total_b, active_b, expert_m, *_ = REFERENCE[name]
    m = cat.model(name)
    assert _rel(m.total_params / 1e9, total_b) < 0.005
    assert _rel(m.active_params / 1e9, active_b) < 0.01
    if expert_m is not None:
        # the table rounds to 0.1M (V2-Lite: 8.65M printed as 8.7M)
        assert abs(m.expert_params / 1e6 - expert_m) <= 0.05 + 1e-9


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_kv_and_flops_match_reference(cat: Catalog, name: str) -> None:
    *_, kv_kib, linear_gflop, attn_mflop = REFERENCE[name]
    m = cat.model(name)
    assert _rel(m.kv_bytes_per_token(2) / KIB, kv_kib) < 0.005
    assert _rel(m.linear_flops_per_token / 1e9, linear_gflop) < 0.01
    assert _rel(m.attention_flops_per_context_token("decode") / 1e6, attn_mflop) < 0.01


def test_deepseek_v3_exact_numbers(cat: Catalog) -> None:
    m = cat.model("deepseek-v3")
    assert m.kv_elements_per_token_per_layer == 576
    assert m.kv_bytes_per_token(2) == 70272  # 61 x 576 x 2
    assert _rel(m.total_params / 1e9, 671.0) < 0.005
    assert _rel(m.mtp_params / 1e9, 11.6) < 0.01
    assert _rel(m.linear_flops_per_token / 1e9, 73.2) < 0.005
    assert _rel(m.attention_flops_per_context_token("decode") / 1e6, 17.0) < 0.005
    assert _rel(m.attention_flops_per_context_token("prefill") / 1e6, 5.0) < 0.005
    assert m.moe_layers == 58


def test_qwen3_235b_kv_elements(cat: Catalog) -> None:
    m = cat.model("qwen3-235b-a22b")
    assert m.kv_elements_per_token_per_layer * m.num_layers == 96256  # 2 x 4 x 128 x 94
    assert m.kv_bytes_per_token(2) == 188 * KIB


def test_exact_kv_for_gqa_and_mha(cat: Catalog) -> None:
    assert cat.model("mixtral-8x7b").kv_bytes_per_token(2) == 128 * KIB  # 2 x 8 x 128 x 32 x 2
    assert cat.model("llama-2-7b").kv_bytes_per_token(2) == 512 * KIB  # 2 x 32 x 128 x 32 x 2


def test_llama_2_70b_and_qwen3_32b(cat: Catalog) -> None:
    # Not in the reference table: checked against the published sizes (69B / 32.8B).
    l2 = cat.model("llama-2-70b")
    assert _rel(l2.total_params / 1e9, 68.98) < 0.002
    assert l2.kv_bytes_per_token(2) == 320 * KIB  # 2 x 8 x 128 x 80 x 2
    q = cat.model("qwen3-32b")
    assert _rel(q.total_params / 1e9, 32.8) < 0.005
    assert q.kv_bytes_per_token(2) == 256 * KIB  # 2 x 8 x 128 x 64 x 2


@pytest.mark.parametrize("name", sorted(EXPECTED_MODELS - {"seed-moe-1.2t"}))
def test_published_totals_close_to_derived(cat: Catalog, name: str) -> None:
    m = cat.model(name)
    assert m.published_total_params is not None
    # Marketing totals are rounded (Kimi "1T" vs 1,026B; Llama "70B" vs 69.0B).
    assert _rel(m.total_params, m.published_total_params) < 0.05


def test_maverick_structure(cat: Catalog) -> None:
    m = cat.model("llama-4-maverick")
    assert (m.dense_layers, m.moe_layers) == (24, 24)
    assert m.moe.top_k == 1 and m.moe.num_experts == 128
    assert m.moe.shared_width == 8192
    assert m.dense_intermediate == 16384
    assert m.attention.chunk_size == 8192


def test_pangu_moge_routing(cat: Catalog) -> None:
    m = cat.model("pangu-pro-moe")
    assert m.moe.routing == "moge"
    assert m.moe.n_group == 8 and m.moe.top_k == 8
    assert m.moe.top_k // m.moe.n_group == 1  # one expert per group per token
    assert m.moe.shared_width == 4 * m.moe.expert_intermediate == 5376


# ---- the hypothetical seed model ----------------------------------------------------------
def test_seed_moe_hits_press_targets(cat: Catalog) -> None:
    m = cat.model("seed-moe-1.2t")
    assert m.hypothetical is True
    assert _rel(m.total_params, 1.2e12) < 0.02
    assert _rel(m.active_params, 1.2e11) < 0.05
    assert 0.09 < m.active_params / m.total_params < 0.11
    assert m.attention.kind == "mla" and m.moe.num_experts == 256
    raw, _ = cat.raw("model", "seed-moe-1.2t")
    default = raw["provenance_default"]
    assert default["conf"] == "A" and default["note"]
    assert "1.2T" in m.description


# ---- hand-computed synthetic models -------------------------------------------------------
def _tiny(**extra: object) -> ModelArch:
    data: dict[str, object] = {
        "name": "tiny",
        "family": "test",
        "hidden_size": 64,
        "num_layers": 2,
        "dense_layers": 2,
        "dense_intermediate": 128,
        "vocab_size": 100,
        "max_context": 1024,
        "attention": {"kind": "gqa", "num_heads": 4, "num_kv_heads": 2, "head_dim": 16},
    }
    data.update(extra)
    return ModelArch.model_validate(data)


def test_hand_computed_dense_gqa() -> None:
    """H=64, L=2, nh=4, nkv=2, hd=16, I=128, V=100, untied.

    attention/layer = H*nh*hd + 2*H*nkv*hd + nh*hd*H + 2H (norms)
                    = 4096 + 4096 + 4096 + 128 = 12416
    FFN/layer       = 3*H*I = 3*64*128 = 24576
    total           = 2*(12416 + 24576) + V*H (emb 6400) + V*H (head 6400) + H (final norm 64)
                    = 73984 + 12864 = 86848
    KV              = 2*nkv*hd*L*2 B = 2*2*16*2*2 = 256 B per token
    linear FLOPs    = 2*(86848 - 6400) = 160896 per token
    attention FLOPs = 4*nh*hd*L = 4*4*16*2 = 512 per context token
    """
    m = _tiny()
    assert m.attention_params_per_layer == 12416
    assert m.dense_ffn_params == 24576
    assert m.total_params == 86848
    assert m.active_params == 86848
    assert m.kv_bytes_per_token(2) == 256
    assert m.linear_flops_per_token == 160896
    assert m.attention_flops_per_context_token("decode") == 512
    assert m.attention_flops_per_context_token("prefill") == 512
    assert m.weight_bytes(2) == 2 * 86848


def test_hand_computed_moe() -> None:
    """The tiny model with layer 2 made MoE: E=4 experts of width 32, top-2, 1 shared.

    expert          = 3*64*32 = 6144; shared = 6144; router = E*H = 256
    MoE FFN total   = 4*6144 + 6144 + 256 = 30976
    MoE FFN active  = 2*6144 + 6144 + 256 = 18688
    total           = 2*12416 + 24576 (dense layer) + 30976 + 12864 = 93248
    active          = 2*12416 + 24576 + 18688 + 12864 = 80960
    routed          = 1 layer * 4 * 6144 = 24576
    """
    m = _tiny(
        dense_layers=1,
        moe={"num_experts": 4, "top_k": 2, "expert_intermediate": 32, "num_shared_experts": 1},
    )
    assert m.expert_params == 6144
    assert m.shared_expert_params == 6144
    assert m.router_params == 256
    assert m.total_params == 93248
    assert m.active_params == 80960
    assert m.routed_params == 24576
    assert m.nonrouted_params == 93248 - 24576


def test_sparse_attention_fields_stay_out_of_older_entries(cat: Catalog) -> None:
    """Fields added for DeepSeek sparse/compressed attention, hyper-connections, hash routing and
    weight formats are left out of a dump while unset: entries that do not use them dump (and
    ``show model`` prints) as before."""
    new = {"o_lora_rank", "o_groups", "sliding_window", "compress_ratios", "indexer"}
    for name in EXPECTED_MODELS - {"deepseek-v3.2", "deepseek-v4-flash", "deepseek-v4-pro"}:
        dump = cat.model(name).model_dump()
        assert not new & set(dump["attention"]), name
        assert "hyper_connections" not in dump and "weight_formats" not in dump, name
        assert dump["moe"] is None or "hash_layers" not in dump["moe"], name
    v4 = cat.model("deepseek-v4-pro").model_dump()
    assert new <= set(v4["attention"]) and v4["moe"]["hash_layers"] == 3


def test_hand_computed_dsa_layer() -> None:
    """The tiny model with MLA plus a lightning indexer (DSA): H=64, 4 heads, q_lora 16,
    kv_lora 8, nope 8, rope 4, v 8; indexer 2 heads x 8, top-3.

    MLA/layer       = q 64*16 + 16*4*12 + 16 = 1808; kv 64*12 + 8*4*16 + 8 = 1288;
                      o 4*8*64 = 2048; norms 128 -> 5272
    indexer/layer   = wq_b 16*2*8 + wk 64*8 + LayerNorm 2*8 + weights_proj 64*2 = 912
    KV per token    = 2 layers x (12 latent + 8 indexer key) x 2 B = 80
    """
    attention = {
        "kind": "dsa",
        "num_heads": 4,
        "q_lora_rank": 16,
        "kv_lora_rank": 8,
        "qk_nope_head_dim": 8,
        "qk_rope_head_dim": 4,
        "v_head_dim": 8,
        "indexer": {"num_heads": 2, "head_dim": 8, "top_k": 3},
    }
    m = _tiny(attention=attention)
    assert m.attention_params_per_layer == 5272 + 912
    assert m.kv_bytes_per_token(2) == 80
    assert m.kv_bytes_per_sequence(10, 2, 1) == 2 * 10 * (12 * 2 + 8)
    assert m.attention.attended_entries(10) == 3
    assert m.layer_kinds == ("dsa", "dsa")


def test_invalid_architectures_rejected() -> None:
    with pytest.raises(ValidationError, match="dense_layers"):
        _tiny(dense_layers=1)  # no moe but not every layer dense
    with pytest.raises(ValidationError, match="num_kv_heads == num_heads"):
        _tiny(attention={"kind": "mha", "num_heads": 4, "num_kv_heads": 2, "head_dim": 16})
    gqa = {"kind": "gqa", "num_heads": 4, "num_kv_heads": 2, "head_dim": 16}
    with pytest.raises(ValidationError, match="gqa attention has no indexer"):
        _tiny(attention={**gqa, "indexer": {"num_heads": 2, "head_dim": 8, "top_k": 3}})
    dsa = {"kind": "dsa", "num_heads": 4, "kv_lora_rank": 8, "v_head_dim": 8}
    with pytest.raises(ValidationError, match="dsa attention needs indexer"):
        _tiny(attention={**dsa, "qk_nope_head_dim": 8, "qk_rope_head_dim": 4})


# ---- provenance of every number ----------------------------------------------------------
def test_every_model_number_has_provenance(cat: Catalog) -> None:
    problems = []
    for name in cat.names("model"):
        problems += cat.provenance_problems("model", name)
    assert not problems, "\n".join(problems)


# ---- EAGLE3 draft models ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "target", "params"),
    [
        # fc 3*4096^2 = 50,331,648; layer: q/k/v over 2H 2*4096*(64+2*4)*128 = 75,497,472,
        # o 64*128*4096 = 33,554,432, 3 norms 12,288; SwiGLU 3*4096*24576 = 301,989,888;
        # LM head 32000*4096 = 131,072,000; final norm 4,096 -> 592,461,824
        ("qwen3-235b-a22b-eagle3", "qwen3-235b-a22b", 592_461_824),
        # fc 3*5120^2 = 78,643,200; layer: 2*5120*(64+2*8)*80 = 65,536,000, o 64*80*5120 =
        # 26,214,400, 3 norms 15,360; SwiGLU 3*5120*25600 = 393,216,000; LM head 32000*5120 =
        # 163,840,000; final norm 5,120 -> 727,470,080
        ("qwen3-32b-eagle3", "qwen3-32b", 727_470_080),
    ],
)
def test_eagle3_draft_files(cat: Catalog, name: str, target: str, params: int) -> None:
    draft = cat.model(name)
    assert draft.is_draft and draft.draft.method == "eagle3"
    assert draft.draft.target == target and not cat.model(target).is_draft
    assert draft.embedding_params == 0  # the target's embedding (SGLang set_embed)
    assert draft.lm_head_vocab == 32_000
    assert draft.total_params == params
    assert (
        draft.kv_bytes_per_token(2)
        == 2 * draft.attention.num_kv_heads * draft.attention.head_dim * 2
    )


def test_draft_section_needs_a_dense_model() -> None:
    with pytest.raises(ValidationError, match="a draft model is dense"):
        _tiny(
            dense_layers=0,
            moe={"num_experts": 4, "top_k": 1, "expert_intermediate": 64},
            draft={"method": "eagle3", "target": "x"},
        )
