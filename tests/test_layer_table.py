"""The simulator's tabulated pricing path (``accelsim.model.perf.layer_table``, issue 18).

``PerfModel.work`` / ``shape_work`` take the layers' token-only part from a table keyed by the
exact token counts and price only the attention of each batch; the figures must be the very
floats of ``step``'s full breakdown, on every kind of model and plan, for batches that share
their token counts but not their contexts (table hits) as well as new ones (table misses).
The table switches itself off, keeping the figures, when a part cannot be split.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from perf_cases import CASES, from_step, perf_model

from accelsim.model.batch import BatchStats
from accelsim.model.perf import layer_table
from accelsim.model.perf.layer import ATTENTION_CLASSES, Layer
from accelsim.model.perf.model import PerfModel, _sig3
from accelsim.model.perf.ops import OP_CLASSES, Group
from accelsim.sim.iteration_cache import IterationCache

MODELS = {name: perf_model(name) for name in CASES}


def _shapes(n: int, pseq: int, ptok: int, ctxs: list[int], priors: list[int]) -> list[tuple]:
    """Batches with the same token counts and different contexts (the table's hits)."""
    out = []
    for ctx, prior in zip(ctxs, priors, strict=True):
        pairs = float(ptok * (prior + (ptok + 1) / 2)) if pseq else 0.0
        shape = (n, float(n * ctx), pseq, ptok if pseq else 0, pairs, float(prior * pseq))
        out.append(shape if n or pseq else (1, float(ctx), 0, 0, 0.0, 0.0))
    return out


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(list(CASES)),
    n=st.integers(0, 300),
    pseq=st.integers(0, 6),
    ptok=st.integers(1, 3000),
    ctxs=st.lists(st.integers(1, 9000), min_size=3, max_size=3),
    priors=st.lists(st.integers(0, 7000), min_size=3, max_size=3),
)
def test_tabulated_path_is_the_step_breakdown_to_the_last_bit(name, n, pseq, ptok, ctxs, priors):
    pm = MODELS[name]
    for shape in _shapes(n, pseq, ptok, ctxs, priors):
        b = BatchStats(*shape)
        assert pm.work(b) == from_step(pm, b), (name, b)  # the same floats
        # the simulator's path: the batch rounded to 3 significant digits, then priced
        n_, ctx, pseq_, ptok_, pairs, pctx = shape
        rounded = BatchStats(n_, _sig3(ctx), pseq_, int(_sig3(ptok_)), _sig3(pairs), _sig3(pctx))
        assert pm.shape_work(*shape) == pm.iteration_work(b) == from_step(pm, rounded)
    table = pm._table
    if pm.plan.micro_batch_overlap:
        assert table is None  # the overlap mixes attention into the exposed communication
    else:
        assert table is not None and table.ok and table.rest  # the table did the pricing


def test_a_batch_priced_from_the_table_equals_the_full_loop():
    """A table hit (same tokens, new context sums) against a fresh model's full breakdown."""
    pm, fresh = perf_model("llama70b-gqa-tp4"), perf_model("llama70b-gqa-tp4")
    first = BatchStats(16, 16_096.0, 1, 391, 76_544.0, 0.0)
    pm.work(first)
    assert not pm._table.rest and pm._table.seen == {(407.0,)}  # met once: the full loop
    assert pm.work(first) == from_step(fresh, first)  # met again: tabulated
    assert list(pm._table.rest) == [(407.0,)]
    b = BatchStats(16, 40_000.0, 2, 391, 300_000.0, 2_048.0)  # tokens 407 again
    assert pm.work(b) == from_step(fresh, b)
    assert len(pm._table.rest) == 1  # a hit


def test_dense_key_is_the_token_count_and_moe_key_adds_decode_and_replica_tokens():
    dense, moe = perf_model("llama70b-gqa-tp4"), perf_model("dsv3-mla-moe-dp8-mtp")
    dense.work(BatchStats(16, 16_000.0, 1, 100, 5_050.0, 0.0))
    dense.work(BatchStats(6, 6_000.0, 1, 110, 6_105.0, 0.0))  # 116 tokens both times
    assert list(dense._table.rest) == [(116.0,)]
    b = BatchStats(16, 16_000.0, 1, 100, 5_050.0, 0.0)
    moe.work(b)
    moe.work(b)
    g = moe._group(b)
    assert list(moe._table.rest) == [(g.tokens, g.dec_seqs, g.q_per_seq, g.replica_tokens)]
    # 16 decode sequences over dp=8: the busiest group holds 2, with 2 query tokens each
    assert (g.dec_seqs, g.q_per_seq, g.replica_tokens) == (2.0, 2.0, 132.0)


def test_table_switches_off_when_the_rest_reads_a_context_field(monkeypatch):
    """A rest part that reads a field outside its key turns the table off; figures stay."""
    original = Layer.add_rest

    def reads_context(self, ops, g, is_moe):
        original(self, ops, g, is_moe)
        ops.add("dense_ffn", memory_s=g.pre_ctx * 1e-12, hbm=g.pre_ctx)

    monkeypatch.setattr(Layer, "add_rest", reads_context)
    pm = perf_model("llama70b-gqa-tp4")
    b = BatchStats(8, 8_000.0, 1, 200, 220_100.0, 1_000.0)
    for _ in range(3):  # met once, tabulated (refused), then the full loop
        assert pm.work(b) == from_step(pm, b)
    assert not pm._table.ok and not pm._table.rest


def test_table_switches_off_when_attention_writes_another_class(monkeypatch):
    original = Layer.add_attention

    def spills(self, ops, g, ratio=None):
        original(self, ops, g, ratio)
        ops.add("router", memory_s=g.dec_ctx * 1e-12)

    monkeypatch.setattr(Layer, "add_attention", spills)
    pm = perf_model("llama70b-gqa-tp4")
    b = BatchStats(8, 8_000.0, 1, 200, 20_100.0, 0.0)
    for _ in range(3):
        assert pm.work(b) == from_step(pm, b)
    assert not pm._table.ok


def test_table_is_bounded_and_the_bound_changes_no_figure(monkeypatch):
    monkeypatch.setattr(layer_table, "TABLE_SIZE", 3)
    pm, ref = perf_model("dsv4-flash-compressed"), perf_model("dsv4-flash-compressed")
    ref._table = None  # the full loop
    for k in range(24):
        b = BatchStats(4 + k // 2, 4_000.0 + 97 * k, 1, 50 + 13 * (k // 2), 1_400.0 + k, 0.0)
        assert pm.work(b) == ref.work(b)  # each token key twice: met, then tabulated
        assert len(pm._table.rest) <= 3 and len(pm._table.seen) <= 3
    assert pm._table.rest


def test_the_attention_classes_are_op_classes():
    """``LayerTable.price`` names the attention classes ``ATTENTION_CLASSES`` lists."""
    assert ATTENTION_CLASSES == ("attention", "indexer")
    assert set(ATTENTION_CLASSES) <= set(OP_CLASSES)


@settings(max_examples=80, deadline=None)
@given(
    n=st.integers(0, 500),
    ctx=st.floats(0, 1e6),
    pseq=st.integers(0, 40),
    ptok=st.integers(0, 9000),
    pairs=st.floats(0, 1e8),
    pctx=st.floats(0, 1e5),
    dp=st.sampled_from([1, 2, 3, 8, 32]),
    qps=st.sampled_from([1.0, 2.0, 4.0]),
)
def test_group_of_fields_is_busiest_of_the_batch(n, ctx, pseq, ptok, pairs, pctx, dp, qps):
    b = BatchStats(n, ctx, pseq, ptok, pairs, pctx)
    assert Group.of(n, ctx, pseq, ptok, pairs, pctx, dp, qps) == Group.busiest(b, dp, qps)


class _BatchOnly:
    """A ``PerfModel`` seen through ``iteration_work`` alone (no ``shape_work``)."""

    cacheable = True

    def __init__(self, pm: PerfModel) -> None:
        self.iteration_work = pm.iteration_work


@pytest.mark.parametrize("name", ["llama70b-gqa-tp4", "dsv3-mla-moe-dp8-mtp"])
def test_iteration_cache_prices_shapes_as_it_priced_batches(name):
    """``IterationCache`` through ``shape_work`` gives the figures and model calls it gave
    through ``iteration_work`` of a ``BatchStats``."""
    fast, slow = IterationCache(perf_model(name)), IterationCache(_BatchOnly(perf_model(name)))
    assert fast.shape is not None and slow.shape is None
    for k in range(200):
        n, ctx = 1 + k % 37, (1 + k % 37) * (300 + 41 * k)
        if k % 3:
            args = (n, ctx, 1 + k % 2, 17 + 29 * k % 480, 17.0 * (1000 + k) + 0.5, 100 * (k % 5))
            assert fast.time(*args) == slow.time(*args)
        else:
            assert fast.decode_time(n, ctx) == slow.decode_time(n, ctx)
        assert fast.last == slow.last
    assert fast.calls == slow.calls > 0
