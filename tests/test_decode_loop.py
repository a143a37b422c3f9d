"""The engine's inlined decode loop (``accelsim.sim.decode_loop``) and the in-place records:
the shortcuts are exact, so a run with event skipping (decode iterations back to back) equals
the step-by-step run in every record, the ITL histogram, the model calls and every summary
figure not read from the timeline; a timeline bin several replicas add to is the same sum in
another order (equal to about 1e-12)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stub_models import Expo, Linear

from accelsim.sim.admission import SchedulerConfig
from accelsim.sim.decode_loop import ITL_MEMO, decode_bucket, itl_binner
from accelsim.sim.engine import Pool, simulate
from accelsim.sim.iteration_cache import quantize
from accelsim.sim.metrics import RequestRecords, Timeline, summarize
from accelsim.sim.traffic import Requests


@settings(max_examples=200, deadline=None)
@given(ctx=st.integers(0, 1 << 40))
def test_decode_bucket_is_the_range_quantize_maps_together(ctx):
    lo, hi = decode_bucket(ctx)
    assert lo <= ctx < hi
    q = quantize(ctx)
    assert quantize(lo) == quantize(hi - 1) == q
    assert quantize(hi) != q
    assert lo == 0 or quantize(lo - 1) != q


def test_decode_bucket_by_hand():
    assert decode_bucket(255) == (255, 256)  # exact below 256
    assert decode_bucket(256) == (256, 258)  # 9 bits: buckets of 2
    assert decode_bucket(257) == (256, 258)
    assert decode_bucket(1000) == (1000, 1004)  # 10 bits: buckets of 4, 1000 = 250 * 4


def _requests(n: int, seed: int) -> Requests:
    rng = np.random.default_rng(seed)
    times = np.cumsum(rng.exponential(1 / 25, n))
    return Requests.from_arrays(times, rng.integers(20, 2500, n), rng.integers(1, 400, n))


TIMELINE_FIGURES = ("itl_s", "kv_utilization", "queue_len")


def _same(fast, slow) -> None:
    assert fast.records.tobytes() == slow.records.tobytes()
    assert fast.timeline.itl_hist == slow.timeline.itl_hist  # whole numbers: exact
    a, b = fast.summary.as_dict(), slow.summary.as_dict()
    for key in ("wall_s", *TIMELINE_FIGURES):
        a.pop(key), b.pop(key)
    assert a == b
    ca, cb = fast.timeline.columns(), slow.timeline.columns()
    for name in ca:
        np.testing.assert_allclose(ca[name], cb[name], rtol=1e-12, atol=1e-12, err_msg=name)


@pytest.mark.parametrize(
    ("policy", "preemption", "k"),
    [
        ("chunked_prefill", "recompute", 1.0),
        ("continuous", "recompute", 1.0),
        ("continuous", "retract-sglang", 1.0),
        ("chunked_prefill", "no-evict", 1.0),
        ("chunked_prefill", "recompute", 1.7),  # speculative: fractional tokens per step
        ("static", "recompute", 1.0),
    ],
)
def test_decode_loop_equals_the_step_by_step_run(policy, preemption, k):
    """Under KV pressure (preemptions happen), on three replicas: the same run with and
    without skipping (see the module docstring)."""
    req = _requests(700, 3)
    sc = SchedulerConfig(
        policy=policy, preemption=preemption, max_batched_tokens=2048, block_size=16
    )
    pool = Pool(Linear(k), replicas=3, kv_tokens=16_000, scheduler=sc)
    fast = simulate(req, pool, event_skipping=True, router="least_outstanding_tokens")
    slow = simulate(req, pool, event_skipping=False, router="least_outstanding_tokens")
    _same(fast, slow)
    assert fast.summary.completed == 700
    if policy != "static" and preemption != "no-evict":
        assert fast.summary.preemptions > 0  # the pressure path ran


def test_decode_loop_with_an_uncached_model_and_invariant_checks():
    """A model that must be called every iteration (random service; one replica, so both runs
    draw in the same order) and the KV recount after every iteration: both paths agree."""
    req = _requests(300, 5)
    sc = SchedulerConfig(policy="chunked_prefill", max_batched_tokens=1024)

    def run(skip: bool):
        pool = Pool(Expo(0.02, seed=9), replicas=1, kv_tokens=30_000, scheduler=sc)
        return simulate(req, pool, event_skipping=skip, check_invariants=True)

    fast, slow = run(True), run(False)
    _same(fast, slow)
    assert fast.summary.iteration_model_calls == slow.summary.iteration_model_calls


def test_pending_records_start_unserved():
    rec = RequestRecords.pending(
        np.array([0.5, 1.5]),
        prompt_tokens=np.array([10, 20]),
        output_tokens=np.array([3, 4]),
        cached_tokens=np.array([0, 5]),
    )
    a = rec.array
    assert a["id"].tolist() == [0, 1]
    assert np.isnan(a["scheduled_at"]).all() and np.isnan(a["finished_at"]).all()
    assert a["replica"].tolist() == [-1, -1] and a["outcome"].tolist() == [0, 0]
    assert a["cached_tokens"].tolist() == [0, 5] and a["preemptions"].tolist() == [0, 0]
    col = rec["finished_at"]
    col[1] = 9.0  # a column is a view: the engine fills the table in place
    assert a["finished_at"][1] == 9.0


def test_summary_over_completed_rows_by_hand():
    """Two completed requests and one rejected: the figures are over the completed rows only."""
    rec = RequestRecords(
        arrived_at=np.array([0.0, 1.0, 2.0]),
        scheduled_at=np.array([0.0, 1.5, np.nan]),
        first_token_at=np.array([1.0, 2.0, np.nan]),
        finished_at=np.array([3.0, 2.0, np.nan]),
        prompt_tokens=np.array([100, 200, 50]),
        output_tokens=np.array([5, 1, 7]),
        cached_tokens=np.array([20, 0, 0]),
        outcome=np.array([1, 1, 2], dtype=np.int8),
        reason=np.array([0, 0, 1], dtype=np.int8),
    )
    s = summarize(rec)
    assert (s.completed, s.rejected, s.arrived) == (2, 1, 3)
    assert s.duration_s == 3.0  # first arrival 0 to last completion 3
    assert s.ttft_s.mean == pytest.approx(1.0)  # (1 - 0) and (2 - 1)
    assert s.e2e_s.mean == pytest.approx(2.0)  # 3 and 1
    assert s.queue_s.mean == pytest.approx(0.25)  # 0 and 0.5
    assert s.tpot_s.mean == pytest.approx(0.5)  # (3 - 1) / 4; one output token: no TPOT
    assert s.throughput.input_tokens_per_s == pytest.approx(300 / 3)
    assert s.cached_token_share == pytest.approx(20 / 300)
    assert s.rejected_by_reason == {"exceeds_kv_capacity": 1}
    assert not math.isnan(s.goodput.share) and s.goodput.share == pytest.approx(2 / 3)


def test_progress_reports_are_those_of_the_step_by_step_run():
    """One replica (so iterations are counted in the same order either way): the progress
    callback sees the same (clock, done) every 4096 iterations with runs of decode steps."""
    rng = np.random.default_rng(8)
    n = 600
    times = np.cumsum(rng.exponential(1.0, n))  # sparse: long decode-only stretches
    req = Requests.from_arrays(times, rng.integers(20, 400, n), rng.integers(50, 400, n))
    sc = SchedulerConfig(policy="chunked_prefill", max_batched_tokens=1024)

    def run(skip: bool) -> list[tuple[float, int, int, float]]:
        seen: list[tuple[float, int, int, float]] = []
        pool = Pool(Linear(), replicas=1, kv_tokens=200_000, scheduler=sc)
        simulate(req, pool, event_skipping=skip, progress=lambda *a: seen.append(a))
        return seen

    fast, slow = run(True), run(False)
    # every 4096 iterations, then once at the end (at the kernel's clock, which differs)
    assert fast[:-1] == slow[:-1]
    assert len(fast) > 3  # several reports: the runs stopped short of each


def test_itl_binner_is_itl_index_with_a_bounded_memo():
    tl = Timeline(1.0)
    memo: dict[float, int] = {}
    itl_bin = itl_binner(tl, memo)
    assert itl_bin(0.05) == tl.itl_index(0.05) == int((math.log10(0.05) + 6.0) * 50)
    assert memo == {0.05: tl.itl_index(0.05)}
    for i in range(ITL_MEMO + 5):
        dt = 1e-3 * (1 + i / 1000)
        assert itl_bin(dt) == tl.itl_index(dt)
    assert 0 < len(memo) <= ITL_MEMO  # started afresh once full


@pytest.mark.parametrize("width", [0.013, 0.4])
def test_one_replica_timeline_equals_the_step_by_step_run_exactly(width):
    """On one replica no other replica's sums interleave, so the fast loops' timeline equals
    the step-by-step run's bit for bit (bins short enough that decode runs cross many: the KV
    peak taken at a bin's last step of a run, the block count kept step by step)."""
    req = _requests(400, 7)
    sc = SchedulerConfig(policy="chunked_prefill", max_batched_tokens=2048, block_size=16)
    pool = Pool(Linear(1.0), replicas=1, kv_tokens=60_000, scheduler=sc)
    fast = simulate(req, pool, event_skipping=True, timeline_bin=width)
    slow = simulate(req, pool, event_skipping=False, timeline_bin=width)
    assert fast.records.tobytes() == slow.records.tobytes()
    assert len(fast.timeline.busy) > 50
    assert fast.timeline == slow.timeline  # every bin of every column, exactly
