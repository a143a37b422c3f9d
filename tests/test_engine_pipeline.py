"""Pipeline-parallel replicas keep ``pipeline_stages`` micro-batches in flight (issue 16): each
replica is simulated as that many micro-batch streams over equal shares of its KV cache, each
iteration paying the whole pipeline. Expected values by hand."""

from __future__ import annotations

import numpy as np
import pytest

from accelsim.errors import AccelsimError
from accelsim.sim.engine import Pool, simulate
from accelsim.sim.traffic import Requests


class PerSequence:
    """An iteration takes 1 s plus 1 s per sequence in it (decoding or prefilling), over all
    ``stages`` of the pipeline."""

    tokens_per_decode_step = 1.0

    def __init__(self, stages: int) -> None:
        self.pipeline_stages = stages

    def iteration_time(self, b) -> float:
        return 1.0 + b.decode_seqs + b.prefill_seqs


def _two_requests(prompt: int = 4, output: int = 3) -> Requests:
    return Requests(
        np.zeros(2),
        np.full(2, prompt, np.int64),
        np.full(2, output, np.int64),
        np.zeros(2, np.int64),
    )


def test_two_stages_serve_two_requests_side_by_side():
    """Two requests at t = 0, 3 output tokens each. One stage: one batch of 2 — a prefill
    iteration of 1 + 2 = 3 s (first tokens at 3 s), two decode steps of 3 s, done at 9 s.
    Two stages: one request per micro-batch stream, 1 + 1 = 2 s a step, first token at 2 s,
    done at 6 s; both on replica 0, whose one card is busy 6 s of 6 s (two streams of half a
    card each)."""
    plain = simulate(_two_requests(), Pool(PerSequence(1)))
    assert plain.records["first_token_at"].tolist() == [3.0, 3.0]
    assert plain.records["finished_at"].tolist() == [9.0, 9.0]
    piped = simulate(_two_requests(), Pool(PerSequence(2)))
    assert piped.records["first_token_at"].tolist() == [2.0, 2.0]
    assert piped.records["finished_at"].tolist() == [6.0, 6.0]
    assert piped.records["replica"].tolist() == [0, 0]
    assert piped.summary.cards == 1
    assert piped.summary.busy_fraction == pytest.approx(1.0)


def test_streams_spread_over_replicas_first():
    """Round robin over 2 replicas x 2 stages: streams 0..3 sit on replicas 0, 1, 0, 1."""
    req = Requests(
        np.zeros(4), np.full(4, 4, np.int64), np.full(4, 2, np.int64), np.zeros(4, np.int64)
    )
    res = simulate(req, Pool(PerSequence(2), replicas=2))
    assert res.records["replica"].tolist() == [0, 1, 0, 1]
    assert res.records["finished_at"].tolist() == [4.0] * 4  # 2 steps of 1 + 1 s each


def test_a_request_must_fit_one_streams_share_of_the_cache():
    """64 KV tokens in 16-token blocks: a 40-token request fits a plain replica; with two
    stages each stream holds 32 tokens, so it can never be served and is rejected."""
    req = _two_requests(prompt=40, output=1)
    assert simulate(req, Pool(PerSequence(1), kv_tokens=64)).summary.completed == 2
    piped = simulate(req, Pool(PerSequence(2), kv_tokens=64)).summary
    assert piped.completed == 0
    assert dict(piped.rejected_by_reason) == {"exceeds_kv_capacity": 2}


def test_pipeline_stages_must_be_a_whole_number():
    with pytest.raises(AccelsimError, match="pipeline_stages"):
        simulate(_two_requests(), Pool(PerSequence(0)))
