"""The simulator's price of a new shape (``accelsim.model.perf.shape_table``, issue 18).

``PerfModel.shape_work`` prices a shape from a record of its token counts and the attention's
closed form (``Attention.lean``); the figures must be the very floats of ``step``'s full
breakdown, on every kind of model and plan (dense GQA, MLA + MoE with MTP, V4's compressed
attention, PP, CP, a host-bound eager framework, an EAGLE draft model), for shapes that share
their token counts (record hits) and new ones; plans it cannot price (micro-batch overlap) and
parts it cannot split fall back to the full loop, keeping the figures.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from perf_cases import CASES, from_step, perf_model

from accelsim.model.batch import BatchStats
from accelsim.model.perf import shape_table
from accelsim.model.perf.attention import Attention
from accelsim.model.perf.head import LMHead
from accelsim.model.perf.model import _sig3
from accelsim.model.perf.ops import Group, LeanOps
from accelsim.sim.iteration_cache import IterationCache, quantize

MODELS = {name: perf_model(name) for name in CASES}


def _rounded(shape: tuple) -> BatchStats:
    """The batch ``shape_work`` prices: its sums to 3 significant digits."""
    n, ctx, pseq, ptok, pairs, pctx = shape
    return BatchStats(n, _sig3(ctx), pseq, int(_sig3(ptok)), _sig3(pairs), _sig3(pctx))


@settings(max_examples=80, deadline=None)
@given(
    name=st.sampled_from(list(CASES)),
    n=st.integers(0, 300),
    pseq=st.integers(0, 6),
    ptok=st.integers(1, 3000),
    ctxs=st.lists(st.integers(1, 9000), min_size=3, max_size=3),
    priors=st.lists(st.integers(0, 7000), min_size=3, max_size=3),
)
def test_shape_price_is_the_step_breakdown_to_the_last_bit(name, n, pseq, ptok, ctxs, priors):
    pm = MODELS[name]
    ptok = ptok if pseq else 0
    if not n and not pseq:
        n = 1
    # the same token counts with different contexts: the first makes the record, the rest hit it
    for ctx, prior in zip(ctxs, priors, strict=True):
        pairs = float(ptok * (prior + (ptok + 1) / 2)) if pseq else 0.0
        shape = (n, float(n * ctx), pseq, ptok, pairs, float(prior * pseq))
        assert pm.shape_work(*shape) == from_step(pm, _rounded(shape)), (name, shape)
    table = pm._shapes
    if pm.plan.micro_batch_overlap:
        assert table is None  # the overlap mixes attention into the exposed communication
    else:
        # the table did the pricing: the key is recorded, or (an MoE model's table records a
        # key the second time it is met) met once and left to the full loop
        key = (n, pseq, int(_sig3(ptok)))  # the rounded token count (``_rounded``)
        assert table is not None and table.ok
        assert key in table.records or key in (table.seen or ())


@settings(max_examples=200, deadline=None)
@given(
    tokens=st.floats(1.0, 5e4),
    dec_ctx=st.floats(0.0, 1e7),
    q=st.sampled_from([1.0, 2.0, 4.0]),
    pre_tokens=st.floats(0.0, 4e3),
    pre_pairs=st.floats(0.0, 1e7),
    pre_ctx=st.floats(0.0, 3e4),
    name=st.sampled_from(["llama70b-gqa-tp4", "dsv3-mla-moe-dp8-mtp", "qwen3-32b-eagle-draft"]),
)
def test_attention_lean_is_add_to_the_last_bit(
    tokens, dec_ctx, q, pre_tokens, pre_pairs, pre_ctx, name
):
    """``Attention.lean`` is ``Attention.add`` into a fresh ``LeanOps``, float for float, on
    GQA (TP4), MLA (int8, whose quantisation and dequant terms are non-zero) and a TP2 GQA."""
    att = MODELS[name].layer.attention
    assert type(att) is Attention
    g = Group(tokens, 1.0, dec_ctx, q, pre_tokens, pre_pairs, pre_ctx, 1.0)
    ops = LeanOps()
    att.add(ops, g)
    want = (ops.t["attention"], ops.f["attention"], ops.b["attention"])
    got = att.lean(att.token_terms(tokens), dec_ctx, q, pre_tokens, pre_pairs, pre_ctx)
    assert got == want


def test_records_are_per_token_key_and_hand_checked_on_a_small_shape() -> None:
    """Shapes sharing ``(n, pseq, ptok)`` share a record; a hand-computed decode shape on
    Llama-2-70B TP4: its attention seconds are ``max(compute, memory)`` plus six launches,
    plus the elementwise bytes' seconds (``accelsim.model.perf.attention``)."""
    pm = perf_model("llama70b-gqa-tp4")
    table = pm._shapes
    assert table is not None
    pm.shape_work(8, 8000.0, 0, 0, 0.0, 0.0)
    pm.shape_work(8, 16000.0, 0, 0, 0.0, 0.0)
    pm.shape_work(8, 16000.0, 1, 100, 5050.0, 0.0)
    assert set(table.records) == {(8, 0, 0), (8, 1, 100)}
    att, r, roof = pm.layer.attention, pm.rates, pm.roofline
    params = pm.model.attention_params_per_layer / 4
    flops = 2.0 * params * 8
    hbm = params * roof.wb + 2.0 * 8 * roof.h * roof.act
    dec_f = att.f_dec * 8000.0 / 4
    compute = flops / r.gemm_rate(8) + dec_f / r.attn_dec_flops
    core_b = att.kv_elems * att.kv_bytes * 8000.0 / att.kv_split
    memory = (hbm + core_b + params * roof.wb * roof.dequant_extra) / r.hbm
    ew = att.ew_attn * 8
    want = max(compute, memory) + 6 * r.launch_s + ew / r.hbm
    rec = table.records[(8, 0, 0)]
    t, f, b = att.lean(rec[4][0][2], 8000.0, 1.0, 0.0, 0.0, 0.0)
    assert t == pytest.approx(want, rel=1e-12)
    assert f == pytest.approx(flops + dec_f, rel=1e-12)
    assert b == pytest.approx(hbm + core_b + ew, rel=1e-12)


def test_a_context_read_outside_the_attention_switches_the_table_off(monkeypatch) -> None:
    """A token-only op that reads a context field (NaN in the probe) turns the table off; the
    figures stay the full loop's."""
    real = LMHead.add

    def reads_context(self, ops, g):
        real(self, ops, g)
        ops.add("sampling", memory_s=g.dec_ctx * 1e-15, hbm=g.dec_ctx * 1e-3)

    monkeypatch.setattr(LMHead, "add", reads_context)
    pm = perf_model("llama70b-gqa-tp4")
    shape = (4, 4000.0, 0, 0, 0.0, 0.0)
    assert pm.shape_work(*shape) == pm._work(Group.of(*shape, pm.plan.dp, pm._qps))
    assert pm._shapes is not None and not pm._shapes.ok and not pm._shapes.records


def test_a_formula_the_closed_form_does_not_mirror_is_caught(monkeypatch) -> None:
    """The first records are checked against the full loop: an ``Attention.add`` changed
    without ``Attention.lean`` switches the table off, and the figure is the full loop's."""
    pm = perf_model("llama70b-gqa-tp4")
    real = Attention.add

    def changed(self, ops, g):
        real(self, ops, g)
        ops.add("attention", memory_s=1e-6)

    monkeypatch.setattr(Attention, "add", changed)
    shape = (4, 4000.0, 0, 0, 0.0, 0.0)
    w = pm.shape_work(*shape)
    assert pm._shapes is not None and not pm._shapes.ok
    assert w == from_step(pm, BatchStats(*shape))


def test_the_table_is_bounded(monkeypatch) -> None:
    monkeypatch.setattr(shape_table, "TABLE_SIZE", 3)
    pm = perf_model("llama70b-gqa-tp4")
    table = pm._shapes
    assert table is not None
    first = [pm.shape_work(n, 1000.0 * n, 0, 0, 0.0, 0.0) for n in range(1, 12)]
    assert len(table.records) <= 3
    fresh = perf_model("llama70b-gqa-tp4")
    assert first == [
        fresh._work(Group.of(n, 1000.0 * n, 0, 0, 0.0, 0.0, 1, 1.0)) for n in range(1, 12)
    ]
    assert all(math.isfinite(w[0]) and w[0] > 0 for w in first)


class _Recorder:
    """An iteration model that records the shapes it is asked to price."""

    cacheable = True

    def __init__(self) -> None:
        self.seen: list[tuple] = []

    def shape_work(self, *shape):
        self.seen.append(shape)
        return 1.0 + len(self.seen), 0.0, 0.0

    def iteration_time(self, b):  # pragma: no cover - the cache prices through shape_work
        raise AssertionError


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 500),
    ctx=st.integers(0, 10**9),
    pseq=st.integers(1, 8),
    ptok=st.integers(1, 70_000),
    pairs=st.floats(0.0, 1e12),
    pctx=st.integers(0, 10**7),
)
def test_iteration_cache_keys_are_quantize(n, ctx, pseq, ptok, pairs, pctx) -> None:
    """The inlined quantization of ``IterationCache`` prices the shapes ``quantize`` gives."""
    rec = _Recorder()
    cache = IterationCache(rec)
    cache.time(n, ctx, pseq, ptok, pairs, pctx)
    cache.decode_time(n, ctx)
    q = quantize
    assert rec.seen == [
        (n, float(q(ctx)), pseq, q(ptok), float(q(pairs)), float(q(pctx))),
        (n, float(q(ctx)), 0, 0, 0.0, 0.0),
    ]
    cache.time(n, ctx, pseq, ptok, pairs, pctx)  # a hit: no new call
    assert cache.calls == 2 and cache.last == (2.0, 0.0, 0.0)


def test_host_bound_shapes_add_the_host_wait_as_step_does() -> None:
    """On an eager framework a small batch waits for the host's op dispatch: the shape table
    adds that wait to ``overhead`` before the final sum, as ``step`` does."""
    pm = MODELS["llama7b-eager-host"]
    for shape in ((1, 100.0, 0, 0, 0.0, 0.0), (2, 300.0, 1, 16, 136.0, 0.0)):
        st_ = pm.step(BatchStats(*shape))
        assert any("host-bound" in note for note in st_.notes), shape
        assert pm.shape_work(*shape) == from_step(pm, BatchStats(*shape))


def test_an_moe_table_records_a_token_key_the_second_time_it_is_met() -> None:
    """On a model with MoE layers a token key's first shape is priced through a record that is
    not kept, and the key recorded when it comes back; the figures are the full loop's both
    times."""
    pm, ref = perf_model("dsv3-mla-moe-dp8-mtp"), perf_model("dsv3-mla-moe-dp8-mtp")
    table = pm._shapes
    assert table is not None and table.seen is not None
    first, again = (16, 4000.0, 0, 0, 0.0, 0.0), (16, 8000.0, 0, 0, 0.0, 0.0)
    assert pm.shape_work(*first) == from_step(ref, _rounded(first))
    assert (16, 0, 0) in table.seen and (16, 0, 0) not in table.records
    assert pm.shape_work(*again) == from_step(ref, _rounded(again))
    assert (16, 0, 0) in table.records


def test_an_moe_record_takes_the_token_part_per_token_count_and_prices_the_routed_part():
    """An MoE model's records share the layers' token-only part per busiest-group token count
    (``LayerTable.token_rest_for``) and price the routed experts' part per key: on DP8 with one
    MTP token, 9 and 16 decode sequences both put 2 on the busiest group (4 query tokens) but
    route 18 and 32 replica tokens; both are ``step``'s floats, and past the ``VERIFIED``
    full-loop checks the table is still on."""
    pm, ref = perf_model("dsv3-mla-moe-dp8-mtp"), perf_model("dsv3-mla-moe-dp8-mtp")
    table, layers = pm._shapes, pm._table
    assert table is not None and layers is not None and layers.moe
    for n in (9, 16):
        for ctx in (4000.0, 8000.0):  # a record made (not kept), then kept
            shape = (n, ctx, 0, 0, 0.0, 0.0)
            assert pm.shape_work(*shape) == from_step(ref, _rounded(shape))
    assert list(layers.tokens) == [4.0]
    assert {(9, 0, 0), (16, 0, 0)} <= set(table.records)
    for n in range(1, 40):  # more than ``VERIFIED`` new keys, mixed and decode-only
        for shape in ((n, 900.0 * n, 1, 300, 45_150.0, 0.0), (n, 700.0 * n, 0, 0, 0.0, 0.0)):
            assert pm.shape_work(*shape) == from_step(ref, _rounded(shape))
            assert pm.shape_work(*shape[:1], 2 * shape[1], *shape[2:]) == from_step(
                ref, _rounded((shape[0], 2 * shape[1], *shape[2:]))
            )
    assert table.ok and layers.ok and table.verified == shape_table.VERIFIED


def test_a_routed_part_that_writes_another_class_switches_the_table_off(monkeypatch):
    """The routed part's accumulators hold only the routed classes: a routed part that writes
    another class (its order of additions would change) turns the table off; the figures stay
    ``step``'s."""
    from accelsim.model.perf.layer import Layer

    real = Layer.add_routed

    def spills(self, ops, g):
        real(self, ops, g)
        ops.add("router", memory_s=1e-9)

    monkeypatch.setattr(Layer, "add_routed", spills)
    pm = perf_model("dsv3-mla-moe-dp8-mtp")
    shape = (16, 4000.0, 1, 200, 20_100.0, 0.0)
    assert pm.shape_work(*shape) == from_step(pm, _rounded(shape))
    assert pm._shapes is not None and not pm._shapes.ok


def test_the_token_only_table_of_an_moe_model_is_bounded(monkeypatch) -> None:
    """``LayerTable.token_rest_for`` keeps at most ``TOKENS_SIZE`` token counts (emptied when
    full); the figures are ``step``'s whatever the bound."""
    from accelsim.model.perf import layer_table

    monkeypatch.setattr(layer_table, "TOKENS_SIZE", 2)
    pm, ref = perf_model("dsv3-mla-moe-dp8-mtp"), perf_model("dsv3-mla-moe-dp8-mtp")
    assert pm._table is not None
    for n in range(1, 60, 7):  # busiest-group token counts 2, 4, ..., 16: more than two
        shape = (n, 500.0 * n, 1, 64, 2_080.0, 0.0)
        assert pm.shape_work(*shape) == from_step(ref, _rounded(shape))
        assert len(pm._table.tokens) <= 2
    assert pm._table.ok and pm._shapes is not None and pm._shapes.ok
