"""The engine's inlined chunked-prefill loop (``accelsim.sim.mixed_loop``): hand-computed
iterations of one replica, and, as a property, the run with event skipping (iterations with
prefill work back to back in ``run_mixed``) equal to the step-by-step run (every iteration
through ``_Replica.form`` and ``apply``) in every record, the ITL histogram, the model calls
and every summary figure not read from the timeline."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stub_models import Linear

from accelsim.sim.admission import SchedulerConfig
from accelsim.sim.engine import Pool, simulate
from accelsim.sim.traffic import Requests

TIMELINE_FIGURES = ("itl_s", "kv_utilization", "queue_len")


class OneSecond:
    """Every iteration takes one second; the batches priced are kept (never cached)."""

    tokens_per_decode_step = 1.0
    cacheable = False

    def __init__(self) -> None:
        self.batches: list = []

    def iteration_time(self, batch) -> float:
        self.batches.append(batch)
        return 1.0


@pytest.mark.parametrize("skipping", [True, False])
def test_two_requests_by_hand(skipping):
    # budget 512: iteration 1 (0-1 s) prefills 512 of request 0's 1,000 tokens; request 1
    # (100 tokens, at 0.5 s) joins iteration 2 (1-2 s) with the 24 tokens left of the budget
    # after request 0's last 488; iteration 3 (2-3 s) decodes request 0 (first token at 2 s)
    # and prefills request 1's last 76; iteration 4 (3-4 s) decodes both
    req = Requests.from_arrays(np.array([0.0, 0.5]), np.array([1000, 100]), np.array([3, 2]))
    model = OneSecond()
    sc = SchedulerConfig(policy="chunked_prefill", max_batched_tokens=512, max_seqs=8)
    res = simulate(req, Pool(model, kv_tokens=10_000, scheduler=sc), event_skipping=skipping)
    rec = res.records
    assert rec["scheduled_at"].tolist() == [0.0, 1.0]
    assert rec["first_token_at"].tolist() == [2.0, 3.0]
    assert rec["finished_at"].tolist() == [4.0, 4.0]
    shapes = [(b.decode_seqs, b.prefill_seqs, b.prefill_tokens) for b in model.batches]
    assert shapes == [(0, 1, 512), (0, 2, 512), (1, 1, 76), (2, 0, 0)]
    assert res.summary.completed == 2
    # busy 4 s, four iterations of 1 s; ITL: 3 decode tokens (0: two, 1: one) of 1 s each
    assert sum(res.timeline.busy) == 4.0
    assert sum(res.timeline.itl_hist) == 3


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


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    replicas=st.integers(1, 3),
    budget=st.sampled_from([64, 256, 1024]),
    block=st.sampled_from([1, 16]),
    preemption=st.sampled_from(["recompute", "retract-sglang", "no-evict"]),
    kv_tokens=st.sampled_from([3_000, 20_000]),
    k=st.sampled_from([1.0, 1.5]),
    rate=st.sampled_from([5.0, 50.0]),
)
def test_mixed_loop_equals_the_step_by_step_run(
    seed, replicas, budget, block, preemption, kv_tokens, k, rate
):
    rng = np.random.default_rng(seed)
    n = 120
    times = np.cumsum(rng.exponential(1 / rate, n))
    req = Requests.from_arrays(times, rng.integers(1, 1500, n), rng.integers(1, 200, n))
    sc = SchedulerConfig(
        policy="chunked_prefill",
        preemption=preemption,
        max_batched_tokens=budget,
        block_size=block,
        max_seqs=32,
    )
    pool = Pool(Linear(k), replicas=replicas, kv_tokens=kv_tokens, scheduler=sc)
    fast = simulate(req, pool, event_skipping=True, router="least_outstanding_tokens")
    slow = simulate(req, pool, event_skipping=False, router="least_outstanding_tokens")
    _same(fast, slow)
    assert fast.summary.arrived == n
