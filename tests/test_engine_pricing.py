"""The simulator's pricing fast path and its caches (issue 18).

``PerfModel.work`` prices a batch into a ``LeanOps`` (totals only) instead of building the
``StepTime`` breakdown; it must give the very floats ``step`` gives, for every kind of model
and plan the timing model knows (dense GQA, MoE with EP, MLA, pipeline stages, micro-batch
overlap, MTP and EAGLE drafts, DeepSeek-V4's compressed attention). The engine's iteration
cache and the model's own are bounded, and a bound never changes a figure.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.catalog.loader import load_catalog
from accelsim.dtypes import precision
from accelsim.model.batch import BatchStats
from accelsim.model.perf import model as perf_model_module
from accelsim.model.perf.draft import SpecDecode
from accelsim.model.perf.model import PerfModel
from accelsim.model.perf.ops import OP_CLASSES, LeanOps, Ops
from accelsim.model.plan import ParallelPlan
from accelsim.run.timing import perf_model_from_catalog
from accelsim.sim import iteration_cache
from accelsim.sim.engine import Pool, simulate
from accelsim.sim.loads import ReplicaLoads
from accelsim.sim.traffic import Requests

CAT = load_catalog()

#: (model, device, plan, dtype, speculative decoding): one of each kind the timing model prices
CASES = {
    "llama70b-a100-tp4": ("llama-2-70b", "a100-sxm4-80gb", ParallelPlan(tp=4), "fp16", None),
    "llama70b-a100-tp2pp2": (
        "llama-2-70b",
        "a100-sxm4-80gb",
        ParallelPlan(tp=2, pp=2),
        "fp16",
        None,
    ),
    "dsv3-910b-ep32": (
        "deepseek-v3",
        "ascend-910b2",
        ParallelPlan(tp=4, dp=8, ep=32),
        "int8",
        SpecDecode("mtp", 1, 0.8),
    ),
    "dsv3-h800-overlap": (
        "deepseek-v3",
        "h800",
        ParallelPlan(tp=1, dp=32, ep=32, micro_batch_overlap=True),
        "fp8",
        None,
    ),
    "qwen3-32b-eagle": (
        "qwen3-32b",
        "h100-sxm5",
        ParallelPlan(tp=2),
        "bf16",
        SpecDecode("eagle3", 3, 0.7, draft_model="qwen3-32b-eagle3"),
    ),
    "mixtral-a100-ep": ("mixtral-8x7b", "a100-sxm4-80gb", ParallelPlan(tp=2, ep=2), "bf16", None),
    "dsv4-flash-h200": ("deepseek-v4-flash", "h200", ParallelPlan(tp=8), "fp8", None),
}


def _pm(name: str) -> PerfModel:
    model, device, plan, dtype, spec = CASES[name]
    return perf_model_from_catalog(CAT, model, device, plan, precision(dtype), spec=spec)


MODELS = {name: _pm(name) for name in CASES}

BATCHES = [
    BatchStats(decode_seqs=1, decode_context_tokens=1.0),
    BatchStats.decode(64, 1500.0),
    BatchStats.decode(257, 3000.0),
    BatchStats.prefill_chunk(512),
    BatchStats.prefill_chunk(300, prior=2048),
    BatchStats(37, 41_000.0, 3, 475, 91_234.5, 2_900.0),
    BatchStats(128, 250_000.0, 1, 384, 300_000.0, 1_000.0),
    BatchStats(0, 0.0, 16, 8192, 2.1e6, 0.0),
]


def _from_step(pm: PerfModel, b: BatchStats) -> tuple[float, float, float]:
    st_ = pm.step(b)
    ranks = pm.plan.tp * pm.plan.dp
    return st_.total_s, sum(st_.flops.values()) * ranks, sum(st_.hbm_bytes.values()) * ranks


@pytest.mark.parametrize("name", list(CASES))
def test_fast_path_is_the_step_breakdown_to_the_last_bit(name):
    pm = MODELS[name]
    for b in BATCHES:
        assert pm.work(b) == _from_step(pm, b), (name, b)  # the same floats, not approximately


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(list(CASES)),
    n=st.integers(0, 400),
    ctx=st.integers(1, 8000),
    pseq=st.integers(0, 8),
    ptok=st.integers(1, 4096),
    prior=st.integers(0, 6000),
)
def test_fast_path_equals_step_on_random_batches(name, n, ctx, pseq, ptok, prior):
    pm = MODELS[name]
    pairs = ptok * (prior + (ptok + 1) / 2) if pseq else 0.0
    b = BatchStats(n, float(n * ctx), pseq, ptok if pseq else 0, pairs, float(prior * pseq))
    if b.empty:
        b = BatchStats.decode(1, ctx)
    assert pm.work(b) == _from_step(pm, b)
    assert pm.iteration_work(b)[0] == pm.iteration_time(b)


def test_lean_ops_keeps_the_same_totals_as_ops():
    """Hand case: the same adds and merges into both accumulators give equal per-class sums."""
    full, lean = Ops(), LeanOps()
    for acc in (full, lean):
        acc.add("attention", compute_s=2e-3, memory_s=3e-3, kernels=6, launch_s=5e-6, flops=7.0)
        acc.add("tp_collectives", network_s=1e-4, kernels=2, launch_s=5e-6, hbm=3.0, net=9.0)
        inner = Ops()
        inner.add("dense_ffn", compute_s=1e-3, memory_s=2e-4, flops=11.0, hbm=13.0)
        acc.merge(inner, 61.0)
        acc.merge(inner, 2.0, into="draft")
    assert lean.t == full.t and lean.f == full.f and lean.b == full.b
    # 3 ms + 6 x 5 us launches; 0.1 ms + 2 x 5 us; 61 x 1 ms; 2 x 1 ms into draft
    assert lean.t["attention"] == pytest.approx(3.03e-3)
    assert lean.t["tp_collectives"] == pytest.approx(1.1e-4)
    assert lean.t["dense_ffn"] == pytest.approx(61e-3)
    assert lean.t["draft"] == pytest.approx(2e-3)
    assert set(lean.t) == set(OP_CLASSES)
    with pytest.raises(TypeError):
        lean.bounds()


def test_model_cache_is_bounded_and_a_clear_changes_nothing(monkeypatch):
    pm = _pm("llama70b-a100-tp4")
    monkeypatch.setattr(perf_model_module, "ITER_CACHE_SIZE", 4)
    first = [pm.iteration_work(BatchStats.decode(n, 1000.0)) for n in range(1, 30)]
    assert len(pm._iter_cache) <= 4
    again = [pm.iteration_work(BatchStats.decode(n, 1000.0)) for n in range(1, 30)]
    assert again == first
    assert first == [pm.work(BatchStats.decode(n, 1000.0)) for n in range(1, 30)]


def _requests(n: int) -> Requests:
    rng = np.random.default_rng(3)
    return Requests.from_arrays(
        np.cumsum(rng.exponential(0.05, n)), rng.integers(50, 1500, n), rng.integers(1, 200, n)
    )


def test_engine_cache_bound_never_changes_a_result(monkeypatch):
    """A tiny engine cache (emptied every 8 shapes) gives the same records as the default."""
    pool = Pool(_pm("llama70b-a100-tp4"), replicas=2, kv_tokens=400_000)
    reqs = _requests(300)
    ref = simulate(reqs, pool)
    monkeypatch.setattr(iteration_cache, "CACHE_SIZE", 8)
    small = simulate(reqs, Pool(_pm("llama70b-a100-tp4"), replicas=2, kv_tokens=400_000))
    assert small.records.array.tobytes() == ref.records.array.tobytes()
    assert small.summary.iteration_model_calls > ref.summary.iteration_model_calls


# ---- O(log R) least-loaded routing ---------------------------------------------------------


def test_loads_tree_by_hand():
    loads = ReplicaLoads(20, tree=True)
    assert loads.tree is not None and loads.least() == 0  # all 0: the lowest index
    for i in range(20):
        loads.add(i, 100 - i)  # replica 19 holds the fewest tokens
    assert loads.least() == 19
    loads.add(19, 50)  # 81 + 50: now replica 18 (82)
    assert loads.least() == 18
    loads.add(3, -97)  # 0
    assert loads.least() == 3 and loads[3] == 0


@settings(max_examples=30, deadline=None)
@given(
    replicas=st.integers(1, 70),
    moves=st.lists(st.tuples(st.integers(0, 69), st.integers(-50, 50)), max_size=200),
)
def test_loads_tree_equals_a_scan(replicas, moves):
    tree, scan = ReplicaLoads(replicas, tree=True), ReplicaLoads(replicas, tree=False)
    for i, d in moves:
        i %= replicas
        tree.add(i, d)
        scan.add(i, d)
        assert tree.least() == scan.least() == scan.loads.index(min(scan.loads))


def test_least_loaded_router_on_many_replicas_matches_the_scan(monkeypatch):
    """The tree router (more than TREE_MIN replicas) routes exactly as the linear scan."""
    reqs = _requests(400)

    def run():
        pool = Pool(_pm("llama70b-a100-tp4"), replicas=24, kv_tokens=400_000)
        return simulate(reqs, pool, router="least_outstanding_tokens")

    tree = run()
    monkeypatch.setattr(ReplicaLoads, "TREE_MIN", 1 << 30)
    scan = run()
    assert tree.records.array.tobytes() == scan.records.array.tobytes()
    assert len(set(tree.records["replica"].tolist())) > 1
