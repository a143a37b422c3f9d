"""Memory fit: hand-computed budgets, plan parsing, and invariants (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.catalog.devices import Card
from accelsim.catalog.workloads import ModelArch
from accelsim.dtypes import UnsupportedDtypeError, precision
from accelsim.errors import AccelsimError
from accelsim.model.plan import (
    ParallelPlan,
    divisors,
    fit,
    fit_best,
    minimum_cards,
    parse_plan,
    replica_plans,
)

TINY_CARD = Card.model_validate(
    {
        "name": "tiny-card",
        "vendor": "test",
        "display_name": "Tiny",
        "compute_units": 10,
        "peak_flops": {"bf16": "100 TFLOPS", "int8": "200 TOPS"},
        "hbm_capacity": 16e9,
        "hbm_bandwidth": "1 TB/s",
        "tdp": "300 W",
        "idle_power": "50 W",
        "efficiency": {
            "gemm_fraction": 0.8,
            "gemm_m_half": 64,
            "hbm_fraction": 0.8,
            "collective_fraction": 0.7,
            "kernel_launch": "5 us",
            "iteration_overhead": "1 ms",
        },
    }
)

TINY_GQA = ModelArch.model_validate(
    {
        "name": "tiny-gqa",
        "family": "test",
        "hidden_size": 1024,
        "num_layers": 4,
        "dense_layers": 4,
        "dense_intermediate": 4096,
        "vocab_size": 1000,
        "max_context": 8192,
        "attention": {"kind": "gqa", "num_heads": 8, "num_kv_heads": 2, "head_dim": 128},
    }
)


def test_tiny_gqa_parameter_count():
    """attention/layer = H*nh*hd + 2*H*nkv*hd + nh*hd*H + 2H
    = 1,048,576 + 524,288 + 1,048,576 + 2,048 = 2,623,488; FFN = 3*1024*4096 = 12,582,912;
    total = 4*(2,623,488 + 12,582,912) + 2*1,024,000 (embedding + untied head) + 1,024 (final
    norm) = 62,874,624."""
    assert TINY_GQA.attention_params_per_layer == 2_623_488
    assert TINY_GQA.dense_ffn_params == 12_582_912
    assert TINY_GQA.total_params == 62_874_624


def test_hand_computed_fit():
    """tp=2, bf16, 16e9 B card, 1,024 batched tokens, 8 sequences:
    attention 4*2,623,488/2*2 = 10,493,952 B; FFN 4*12,582,912/2*2 = 50,331,648 B;
    embedding+head 2,048,000/2*2 = 2,048,000 B;
    activations 1024*(8*1024 + 3*4096/2)*2 + 8*1000/2*4 = 29,360,128 + 16,000 = 29,376,128 B;
    reserve 0.1*16e9 = 1.6e9 B; KV = 16e9 - 1.6e9 - 92,249,728 = 14,307,750,272 B.
    KV per token per card: 2*2*128 elems * 4 layers * 2 B / min(tp, nkv)=2 -> 2,048 B, so
    14,307,750,272 // 2,048 = 6,986,206 tokens; at 4,096 tokens that is 1,705 sequences."""
    f = _tp2_fit()
    assert f.weights_attention == 10_493_952
    assert f.weights_dense_ffn == 50_331_648
    assert f.weights_embedding == 2_048_000
    assert f.activations == 29_376_128
    assert f.kv_capacity == pytest.approx(14_307_750_272)
    assert f.kv_bytes_per_token == 2048
    assert f.max_kv_tokens == 6_986_206
    assert f.max_batch_at_context == 1705
    assert f.fits and f.shortfall == 0


def _tp2_fit(**kw):
    return fit(
        TINY_GQA,
        TINY_CARD,
        ParallelPlan(tp=2),
        precision("bf16"),
        4096,
        max_batched_tokens=1024,
        max_seqs=8,
        **kw,
    )


def test_memory_fraction_covering_everything_moves_only_the_reserve():
    """vLLM --gpu-memory-utilization 0.75 (reserve 0.25 * 16e9 = 4e9 B), same weights and
    activations as the hand-computed fit (92,249,728 B together): KV = 16e9 - 4e9 -
    92,249,728 = 11,907,750,272 B, i.e. 11,907,750,272 // 2,048 = 5,814,331 tokens."""
    f = _tp2_fit(reserve_fraction=0.25)
    assert f.reserve == pytest.approx(4e9)
    assert f.kv_capacity == pytest.approx(11_907_750_272)
    assert f.max_kv_tokens == 5_814_331
    assert f.used == pytest.approx(16e9)


def test_static_memory_fraction_leaves_activations_outside():
    """SGLang --mem-fraction-static 0.75: weights + KV = 0.75 * 16e9 = 12e9 B, so KV = 12e9 -
    62,873,600 (weights) = 11,937,126,400 B = 5,828,675 tokens; the 29,376,128 B workspace
    lives in the other 4e9 B, which leaves a reserve of 3,970,623,872 B."""
    f = _tp2_fit(reserve_fraction=0.25, memory_fraction_covers="static")
    assert f.kv_capacity == pytest.approx(11_937_126_400)
    assert f.max_kv_tokens == 5_828_675
    assert f.reserve == pytest.approx(3_970_623_872)
    assert f.used == pytest.approx(16e9)


def test_static_fraction_too_large_for_the_workspace_shrinks_the_kv_pool():
    """mem-fraction-static 0.999: the 0.001 * 16e9 = 16e6 B left cannot hold the 29,376,128 B
    workspace, so KV = 16e9 - weights - activations = 15,907,750,272 B and no reserve."""
    f = _tp2_fit(reserve_fraction=0.001, memory_fraction_covers="static")
    assert f.kv_capacity == pytest.approx(16e9 - 62_873_600 - 29_376_128)
    assert f.reserve == 0.0


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"reserve_fraction": 1.0}, "memory fraction"),
        ({"reserve_fraction": -0.1}, "memory fraction"),
        ({"memory_fraction_covers": "kv"}, "memory_fraction_covers"),
    ],
)
def test_bad_memory_fraction(kw, message):
    with pytest.raises(AccelsimError, match=message):
        _tp2_fit(**kw)


def test_weight_only_int4_halves_int8_weights_but_keeps_embedding_16bit():
    w8 = fit(TINY_GQA, TINY_CARD, ParallelPlan(), precision("w8a16"))
    w4 = fit(TINY_GQA, TINY_CARD, ParallelPlan(), precision("w4a16"))
    assert w4.weights_dense_ffn == pytest.approx(w8.weights_dense_ffn / 2)
    assert w4.weights_embedding == w8.weights_embedding == 2 * 2_048_000


def test_unsupported_compute_dtype_names_card_and_dtype():
    with pytest.raises(UnsupportedDtypeError, match="tiny-card.*fp8"):
        fit(TINY_GQA, TINY_CARD, ParallelPlan(), precision("fp8"))


@pytest.mark.parametrize(
    ("text", "cards", "expected"),
    [
        ("tp=8,ep=8", 8, ParallelPlan(tp=8, ep=8)),
        ("tp=8", 16, ParallelPlan(tp=8, replicas=2)),
        ("tp=2,dp=4,ep=8", 8, ParallelPlan(tp=2, dp=4, ep=8)),
        ("tp=4,pp=2,replicas=1", 8, ParallelPlan(tp=4, pp=2)),
    ],
)
def test_parse_plan(text, cards, expected):
    assert parse_plan(text, cards) == expected


@pytest.mark.parametrize(
    ("text", "cards", "message"),
    [
        ("tp=8", 12, "does not divide"),
        ("tp=8,replicas=2", 8, "uses 16 ranks"),
        ("tp=2,ep=4", 2, "must divide"),
        ("tq=2", 2, "cannot read"),
        ("tp=x", 2, "integer"),
        ("tp=0", 2, "positive"),
    ],
)
def test_bad_plans(text, cards, message):
    with pytest.raises(AccelsimError, match=message):
        parse_plan(text, cards)


def test_plan_grammar_reads_text_mappings_and_plans():
    """One grammar: text, the same keys as a mapping (a validation case, a sweep axis), or a
    plan; micro_batch_overlap and redundant_experts included, and both written forms read
    back to the same plan."""
    full = ParallelPlan(tp=1, dp=32, ep=32, redundant_experts=32, micro_batch_overlap=True)
    text = "tp=1,dp=32,ep=32,redundant=32,overlap=1"
    assert parse_plan(text) == full
    mapping = {"tp": 1, "dp": 32, "ep": 32, "redundant_experts": 32, "micro_batch_overlap": True}
    assert parse_plan(mapping) == full
    assert parse_plan({**mapping, "micro_batch_overlap": "true"}) == full
    assert parse_plan(full) is not None and parse_plan(full, 32) == full
    assert parse_plan(full.label()) == full and parse_plan(full.text()) == full
    assert full.text().endswith(",replicas=1") and "overlap=1" in full.label()
    assert parse_plan("tp=2", 8) == ParallelPlan(tp=2, replicas=4)
    assert parse_plan(ParallelPlan(tp=2, replicas=4).text(), 8).replicas == 4
    with pytest.raises(AccelsimError, match="uses 32 ranks"):
        parse_plan(full, 16)
    with pytest.raises(AccelsimError, match="unknown key"):
        parse_plan({"tq": 2})
    with pytest.raises(AccelsimError, match="true or false"):
        parse_plan("tp=1,overlap=maybe")


def test_plans_count_ranks():
    plan = ParallelPlan(tp=2, dp=4, ep=8, replicas=3)
    assert plan.ranks_per_replica == 8 and plan.ranks == 24


def test_one_enumerator_for_planner_and_search():
    """``fit_best`` searches the wide-EP plans; the search also every expert layout."""
    moe = ModelArch.model_validate(
        {
            **TINY_GQA.model_dump(exclude={"provenance"}),
            "moe": {"num_experts": 8, "top_k": 2, "expert_intermediate": 512},
            "dense_layers": 1,
        }
    )
    wide = replica_plans(moe, 8, 4)
    assert [p.label() for p in wide] == ["tp=1,ep=8,dp=8", "tp=2,ep=8,dp=4", "tp=4,ep=8,dp=2"]
    every = replica_plans(moe, 8, 4, expert_layouts=True)
    assert set(wide) < set(every) and ParallelPlan(tp=2, dp=4, ep=2) in every
    assert [p.label() for p in replica_plans(TINY_GQA, 4, 2)] == [
        "tp=1,ep=1,pp=4",
        "tp=2,ep=1,pp=2",
    ]
    assert divisors(12) == [1, 2, 3, 4, 6, 12]


moe_models = st.builds(
    lambda experts, topk, width, layers, hidden: ModelArch.model_validate(
        {
            "name": "prop-moe",
            "family": "test",
            "hidden_size": hidden,
            "num_layers": layers,
            "dense_layers": 1,
            "dense_intermediate": 4 * hidden,
            "vocab_size": 32000,
            "max_context": 32768,
            "attention": {"kind": "gqa", "num_heads": 16, "num_kv_heads": 4, "head_dim": 128},
            "moe": {
                "num_experts": experts,
                "top_k": topk,
                "expert_intermediate": width,
                "num_shared_experts": 1,
            },
        }
    ),
    st.sampled_from([8, 16, 64, 128, 256]),
    st.integers(1, 8),
    st.sampled_from([512, 1024, 2048, 4096]),
    st.integers(4, 64),
    st.sampled_from([1024, 2048, 4096, 7168]),
)


@settings(max_examples=60, deadline=None)
@given(
    model=moe_models,
    nodes=st.integers(1, 16),
    context=st.sampled_from([1024, 4096, 32768]),
    dtype=st.sampled_from(["bf16", "int8", "w4a16"]),
)
def test_fitting_plans_never_exceed_capacity(model, nodes, context, dtype):
    f = fit_best(model, TINY_CARD, 8 * nodes, precision(dtype), context, 8)
    if f.fits:
        assert f.used <= f.hbm_capacity * (1 + 1e-12)
        assert f.max_batch_at_context * context <= f.max_kv_tokens


@settings(max_examples=60, deadline=None)
@given(
    model=moe_models,
    nodes=st.integers(1, 15),
    context=st.sampled_from([1024, 4096, 32768]),
    dtype=st.sampled_from(["bf16", "int8"]),
)
def test_more_cards_never_turn_a_fit_into_a_non_fit(model, nodes, context, dtype):
    prec = precision(dtype)
    small = fit_best(model, TINY_CARD, 8 * nodes, prec, context, 8)
    big = fit_best(model, TINY_CARD, 8 * (nodes + 1), prec, context, 8)
    if small.fits:
        assert big.fits
        assert big.max_kv_tokens >= small.max_kv_tokens


def test_minimum_cards_is_the_first_fitting_node_multiple():
    big = ModelArch.model_validate(
        {**TINY_GQA.model_dump(exclude={"provenance"}), "num_layers": 400, "dense_layers": 400}
    )
    m = minimum_cards(big, TINY_CARD, precision("bf16"), 4096, 8, 8)
    assert m is not None and m.fits
    if m.plan.ranks > 8:
        below = fit_best(big, TINY_CARD, m.plan.ranks - 8, precision("bf16"), 4096, 8)
        assert not below.fits


def test_multi_die_card_budgets_one_die_per_rank(catalog):
    """Plan ranks are dies on a multi-die card (as in accelsim.model.perf): a 910C rank holds one
    die's 64 GB, not the package's 128 GB."""
    card = catalog.device("ascend-910c")
    assert card.dies == 2
    f = fit(catalog.model("deepseek-v3"), card, ParallelPlan(tp=1, dp=32, ep=32), precision("int8"))
    assert f.hbm_capacity == pytest.approx(64e9)
    assert f.reserve == pytest.approx(0.1 * 64e9)
    assert f.used <= f.hbm_capacity * (1 + 1e-12)


def test_two_die_card_equals_a_single_die_card_of_half_the_memory():
    two_die = Card.model_validate(
        {**TINY_CARD.model_dump(exclude={"provenance"}), "dies": 2, "hbm_capacity": 32e9}
    )
    plan, prec = ParallelPlan(tp=2), precision("bf16")
    a = fit(TINY_GQA, two_die, plan, prec, 4096, max_batched_tokens=1024, max_seqs=8)
    b = fit(TINY_GQA, TINY_CARD, plan, prec, 4096, max_batched_tokens=1024, max_seqs=8)
    assert a.hbm_capacity == b.hbm_capacity == 16e9
    assert a.kv_capacity == pytest.approx(b.kv_capacity)
    assert a.max_kv_tokens == b.max_kv_tokens


def test_mtp_routed_experts_spread_over_ep_ranks(catalog):
    """DeepSeek-V3's MTP module on tp=1, dp=16, ep=16 at INT8 (1 B per weight):
    attention 187,121,664 + shared expert 44,040,192 + router 1,835,008 + projection
    2 * 7168**2 = 102,760,448 + norms 3 * 7168 = 21,504 -> 335,778,816 B on every rank;
    routed experts 256 / 16 = 16 slots of 44,040,192 = 704,643,072 B per rank (not all 256:
    11,274,289,152 B). MTP total 1,040,421,888 B per rank."""
    v3 = catalog.model("deepseek-v3")
    card = catalog.device("a100-sxm4-80gb")
    plan = ParallelPlan(tp=1, dp=16, ep=16)
    with_mtp = fit(v3, card, plan, precision("int8"), include_mtp=True)
    without = fit(v3, card, plan, precision("int8"))
    assert with_mtp.weights_mtp == 1_040_421_888
    assert without.weights_mtp == 0
    assert with_mtp.kv_capacity == pytest.approx(without.kv_capacity - 1_040_421_888)
    # redundant slots add to the MTP layer as to every MoE layer: ceil(288 / 16) = 18 slots
    red = fit(
        v3,
        card,
        ParallelPlan(tp=1, dp=16, ep=16, redundant_experts=32),
        precision("int8"),
        include_mtp=True,
    )
    assert red.weights_mtp == 335_778_816 + 18 * 44_040_192


def test_activation_budget_spreads_over_dp_groups():
    """tp=1 on TINY_GQA with 1,024 tokens and 8 sequences: dp=1 holds them all,
    1024*(8*1024 + 3*4096)*2 + 8*1000*4 = 41,943,040 + 32,000 = 41,975,040 B; dp=4 holds
    256 tokens and 2 sequences per rank: 10,485,760 + 8,000 = 10,493,760 B; dp=3 rounds up to
    342 tokens and 3 sequences: 14,008,320 + 12,000 = 14,020,320 B."""
    prec = precision("bf16")
    kw = {"max_batched_tokens": 1024, "max_seqs": 8}
    assert fit(TINY_GQA, TINY_CARD, ParallelPlan(), prec, **kw).activations == 41_975_040
    assert fit(TINY_GQA, TINY_CARD, ParallelPlan(dp=4), prec, **kw).activations == 10_493_760
    assert fit(TINY_GQA, TINY_CARD, ParallelPlan(dp=3), prec, **kw).activations == 14_020_320


# ---- separate draft models (EAGLE3) ------------------------------------------------------------
TINY_DRAFT = ModelArch.model_validate(
    {
        "name": "tiny-gqa-eagle3",
        "family": "test",
        "hidden_size": 1024,
        "num_layers": 1,
        "dense_layers": 1,
        "dense_intermediate": 2048,
        "vocab_size": 1000,
        "max_context": 8192,
        "attention": {"kind": "gqa", "num_heads": 8, "num_kv_heads": 2, "head_dim": 128},
        "draft": {
            "method": "eagle3",
            "target": "tiny-gqa",
            "draft_vocab_size": 500,
            "fused_hidden_states": 3,
            "attention_input_factor": 2,
        },
    }
)


def test_tiny_eagle3_draft_parameter_count():
    """q/k/v read 2H: 2*1024*8*128 + 2*2*1024*2*128 + o 8*128*1024 + 3 norms 3*1024
    = 2,097,152 + 1,048,576 + 1,048,576 + 3,072 = 4,197,376; FFN 3*1024*2048 = 6,291,456;
    fc 3*1024*1024 = 3,145,728; LM head 500*1024 = 512,000; no embedding (the target's);
    final norm 1,024: total 14,147,584."""
    d = TINY_DRAFT
    assert d.attention_params_per_layer == 4_197_376
    assert d.fusion_params == 3_145_728
    assert d.embedding_params == 0
    assert d.lm_head_params == 512_000
    assert d.total_params == 14_147_584


def test_draft_weights_and_kv_pool_shrink_the_target_kv_capacity():
    """The hand-computed tp=2 fit plus TINY_DRAFT on every rank: its weights 14,147,584 / 2 *
    2 B = 14,147,584 B, so KV = 14,307,750,272 - 14,147,584 = 14,293,602,688 B; its KV pool
    holds as many tokens as the target's, 2*2*128 elems * 1 layer * 2 B / 2 = 512 B per token
    on top of the target's 2,048: 14,293,602,688 // 2,560 = 5,583,438 tokens (6,986,206
    without the draft), 1,363 sequences of 4,096 (1,705)."""
    f = _tp2_fit(draft=TINY_DRAFT)
    assert f.weights_draft == 14_147_584
    assert f.weights == pytest.approx(62_873_600 + 14_147_584)
    assert f.kv_capacity == pytest.approx(14_293_602_688)
    assert f.kv_bytes_per_token_draft == 512
    assert f.kv_bytes_per_token == 2_560
    assert f.max_kv_tokens == 5_583_438
    assert f.max_batch_at_context == 1_363
    assert f.as_dict()["weights_draft"] == 14_147_584
    assert "weights_draft" not in _tp2_fit().as_dict()  # fits without a draft print as before


def test_static_fraction_puts_the_draft_in_the_rest():
    """SGLang (--mem-fraction-static 0.75, reserve 4e9 B): the target's pool is sized from the
    fraction alone, 11,937,126,400 B / 2,048 = 5,828,675 tokens, as without a draft; the draft's
    14,147,584 B of weights and its pool of as many tokens (5,828,675 * 512 = 2,984,281,600 B)
    join the 29,376,128 B workspace in the rest: 3,027,805,312 B <= 4e9, so the token count
    holds, the KV bytes are 5,828,675 * 2,560 = 14,921,408,000 and 972,194,688 B stay free."""
    f = _tp2_fit(reserve_fraction=0.25, memory_fraction_covers="static", draft=TINY_DRAFT)
    assert f.max_kv_tokens == 5_828_675
    assert f.kv_capacity == pytest.approx(14_921_408_000)
    assert f.reserve == pytest.approx(972_194_688)
    assert f.used == pytest.approx(16e9)


def test_static_fraction_draft_overflowing_the_rest_shrinks_the_pool():
    """--mem-fraction-static 0.9 (rest 1.6e9 B): the pool of 14,337,126,400 / 2,048 = 7,000,550
    tokens would need 3,627,805,312 B of the rest for workspace, draft weights and draft pool,
    more than 1.6e9, so everything left after weights, workspace and draft is shared by both
    caches: (16e9 - 62,873,600 - 29,376,128 - 14,147,584) // 2,560 = 6,208,438 tokens."""
    f = _tp2_fit(reserve_fraction=0.1, memory_fraction_covers="static", draft=TINY_DRAFT)
    without = _tp2_fit(reserve_fraction=0.1, memory_fraction_covers="static")
    assert without.max_kv_tokens == 7_000_550
    assert f.kv_capacity == pytest.approx(15_893_602_688)
    assert f.max_kv_tokens == 6_208_438
    assert f.reserve == 0.0


def test_draft_replicated_per_dp_group_split_by_attention_tp(catalog):
    """Qwen3-235B-A22B's EAGLE3 draft on 910C dies, tp=1 x dp=16: every die holds the whole
    draft, 592,461,824 params * 2 B (BF16 although the target is INT8) = 1,184,923,648 B, and
    its KV adds 2*4*128 elems * 2 B = 2,048 B per token to the target's 94 * 2,048 = 192,512."""
    target = catalog.model("qwen3-235b-a22b")
    draft = catalog.model("qwen3-235b-a22b-eagle3")
    card = catalog.device("ascend-910c")
    kw = {"reserve_fraction": 0.25}
    plan = ParallelPlan(tp=1, dp=16, ep=16)
    without = fit(target, card, plan, precision("int8", "bf16"), 2048, **kw)
    with_draft = fit(target, card, plan, precision("int8", "bf16"), 2048, draft=draft, **kw)
    assert draft.total_params == 592_461_824
    assert with_draft.weights_draft == 1_184_923_648
    assert with_draft.kv_capacity == pytest.approx(without.kv_capacity - 1_184_923_648)
    assert without.kv_bytes_per_token == 192_512
    assert with_draft.kv_bytes_per_token == 192_512 + 2_048
    assert with_draft.max_kv_tokens < without.max_kv_tokens
    tp4 = fit(
        target,
        card,
        ParallelPlan(tp=4, dp=4, ep=16),
        precision("int8", "bf16"),
        2048,
        draft=draft,
        **kw,
    )
    assert tp4.weights_draft == pytest.approx(1_184_923_648 / 4)
    assert tp4.kv_bytes_per_token_draft == 2_048 / 4


def test_fit_rejects_a_target_model_as_draft():
    with pytest.raises(AccelsimError, match="not a draft model"):
        _tp2_fit(draft=TINY_GQA)


# ---- an LM-head TP degree of its own -------------------------------------------------------
def test_lm_head_tp_in_the_grammar():
    p = parse_plan("tp=1,dp=16,ep=16,lm_head_tp=16")
    assert (p.lm_head_tp, p.head_tp, p.label()) == (16, 16, "tp=1,ep=16,dp=16,lm_head_tp=16")
    assert (
        parse_plan(p.text()) == p and parse_plan({"tp": 2, "dp": 4, "lm_head_tp": 8}).head_tp == 8
    )
    assert ParallelPlan(tp=4).head_tp == 4 and "lm_head_tp" not in ParallelPlan(tp=4).label()
    for bad in ("tp=2,dp=4,lm_head_tp=3", "tp=2,dp=4,lm_head_tp=16", "tp=1,lm_head_tp=-1"):
        with pytest.raises(AccelsimError, match="lm_head_tp"):
            parse_plan(bad)


def test_fit_splits_the_lm_head_over_its_own_degree(catalog):
    """DeepSeek-V3 FP8 on 8 H200 at tp=1, dp=8: the BF16 embedding stays whole on each rank
    (V x H x 2 B), the LM head splits 8 ways; the activation workspace's logits are unchanged
    (8x the rows over 1/8 of the vocabulary)."""
    v3, card = catalog.model("deepseek-v3"), catalog.device("h200")
    plain = fit(v3, card, ParallelPlan(tp=1, dp=8, ep=8), precision("fp8"), 4096)
    split = fit(v3, card, ParallelPlan(tp=1, dp=8, ep=8, lm_head_tp=8), precision("fp8"), 4096)
    vh = 129_280 * 7168
    assert plain.weights_embedding == pytest.approx(2 * vh * 2)
    assert split.weights_embedding == pytest.approx(vh * 2 + vh / 8 * 2)
    assert split.activations == plain.activations
    assert split.kv_capacity - plain.kv_capacity == pytest.approx(vh * 2 * 7 / 8)


# ---- context parallelism ----------------------------------------------------------------------
def test_cp_in_the_plan_grammar():
    """cp multiplies a stage's ranks: tp=8,cp=2,ep=16 is 16 ranks, the experts over all of
    them; it reads back from its label and its text; ep must divide tp*dp*cp."""
    p = parse_plan("tp=8,cp=2,ep=16")
    assert (p.cp, p.stage_ranks, p.ranks_per_replica, p.moe_tp) == (2, 16, 16, 1)
    assert p.label() == "tp=8,ep=16,cp=2"
    assert parse_plan(p.label()) == p and parse_plan(p.text()) == p
    assert parse_plan({"tp": 4, "dp": 2, "cp": 4, "ep": 32}).ranks_per_replica == 32
    assert parse_plan("tp=4,cp=2,pp=2", ranks=32).replicas == 2  # 4*2*2 = 16 ranks each
    with pytest.raises(AccelsimError, match=r"ep=32 must divide tp\*dp\*cp=16"):
        parse_plan("tp=8,cp=2,ep=32")
    with pytest.raises(AccelsimError, match="cp must be a positive integer"):
        parse_plan("tp=8,cp=0")
    with pytest.raises(AccelsimError, match=r"tp\*dp\*cp\*pp=6 does not divide 8 ranks"):
        parse_plan("tp=3,cp=2", ranks=8)
    assert "cp=" not in ParallelPlan(tp=8).label()


def test_cp_splits_the_kv_cache_and_the_workspace():
    """The hand-computed tp=2 fit with cp=2 (4 ranks): weights per rank unchanged (attention
    and FFN replicated over the context ranks); KV per token per rank 2,048 / 2 = 1,024 B;
    the workspace's token term halves: ceil(1024 / 2) * (8*1024 + 3*4096/2) * 2 = 14,680,064
    plus the 16,000 B of logits = 14,696,064 B. KV = 16e9 - 1.6e9 - 62,873,600 - 14,696,064 =
    14,322,430,336 B -> 14,322,430,336 // 1,024 = 13,986,748 tokens in the group."""
    f = fit(
        TINY_GQA,
        TINY_CARD,
        ParallelPlan(tp=2, cp=2),
        precision("bf16"),
        4096,
        max_batched_tokens=1024,
        max_seqs=8,
    )
    base = _tp2_fit()
    assert f.weights == base.weights
    assert f.kv_bytes_per_token == 1024
    assert f.activations == 14_696_064
    assert f.kv_capacity == pytest.approx(14_322_430_336)
    assert f.max_kv_tokens == 13_986_748


def test_cp_lets_a_million_tokens_fit(catalog):
    """DeepSeek-V4-Pro at w8a8 on 32 x 910B2: tp=8,dp=4 leaves each group less room than one
    1M-token sequence; tp=8,dp=2,cp=2 (same weights per card) halves each rank's share of it."""
    card, arch = catalog.device("ascend-910b2"), catalog.model("deepseek-v4-pro")
    m1 = 1_048_576
    dp4 = fit(arch, card, parse_plan("tp=8,dp=4,ep=32"), precision("w8a8"), m1)
    cp2 = fit(arch, card, parse_plan("tp=8,dp=2,cp=2,ep=32"), precision("w8a8"), m1)
    assert cp2.weights == pytest.approx(dp4.weights)
    assert cp2.kv_bytes_per_token == pytest.approx(dp4.kv_bytes_per_token / 2)
    assert not dp4.fits and cp2.fits
