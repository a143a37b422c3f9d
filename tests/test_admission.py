"""The paged KV state and the preemption policies, one by one, on hand-checked numbers."""

from __future__ import annotations

import typing
from collections import deque
from fractions import Fraction

import numpy as np
import pytest

from accelsim.sim.admission import (
    PREEMPTIONS,
    SGLANG_INIT_NEW_TOKEN_RATIO,
    SGLANG_MIN_NEW_TOKEN_RATIO_FACTOR,
    SGLANG_NEW_TOKEN_RATIO_DECAY_STEPS,
    NoEvict,
    Recompute,
    RetractSGLang,
    SchedulerConfig,
)
from accelsim.sim.kv import PagedKV, RequestState


def state(prompts: list[int], outputs: list[int]) -> RequestState:
    p = np.array(prompts, dtype=np.int32)
    return RequestState.of(p, np.zeros_like(p), np.array(outputs, dtype=np.int32))


def cache(req: RequestState, kv_tokens: int, block: int, k: Fraction = Fraction(1)) -> PagedKV:
    return PagedKV(req, kv_tokens, block, 0.0, k)


def test_every_preemption_name_has_its_class():
    names = typing.get_args(SchedulerConfig.model_fields["preemption"].annotation)
    assert set(names) == set(PREEMPTIONS)
    assert SchedulerConfig(preemption="no-evict").preemption_policy is NoEvict
    assert SchedulerConfig().preemption_policy is Recompute


def test_paged_blocks_of_joined_sequences():
    """Block 4: a sequence that joined with 5 tokens of context holds ceil(5 / 4) = 2 blocks,
    one with 8 holds 2; one decode step later (6 and 9 tokens) 2 and 3."""
    req = state([5, 8], [4, 4])
    kv = cache(req, 64, 4)
    kv.join(0, 5, 3)
    kv.join(1, 8, 3)
    assert kv.running[0].offset == 6 and kv.running[0].context == 5
    assert kv.used_blocks() == 2 + 2
    kv.step = 1
    assert kv.used_blocks() == 2 + 3
    kv.check()


def test_evicting_a_decoding_sequence_rewrites_what_it_re_prefills():
    """After 2 steps a sequence that joined with 5 tokens and 3 left re-prefills 5 + 1 + 2 = 8
    tokens and has 1 left; a partial prefill only gives its blocks back."""
    req = state([5, 12], [4, 4])
    kv = cache(req, 64, 4)
    kv.join(0, 5, 3)
    kv.step = 2
    kv.running[1] = None
    kv.prefilling[1] = 8
    kv.prefill_blocks = 2
    assert kv.evict_latest() == 1 and kv.prefill_blocks == 0 and not kv.prefilling
    kv.evict(0)
    assert (req.prompt_eff[0], req.out_left[0], kv.n) == (8, 1, 0)
    assert req.preemptions.tolist() == [1, 1]


def test_recompute_evicts_the_latest_to_the_front():
    """Cap 3 blocks of 4: two sequences at 4 tokens hold 2 blocks; the next step takes each to
    5 tokens (2 blocks each, 4 > 3), so the later one goes back to the queue's front; the
    earlier one then fits (2 <= 3)."""
    req = state([4, 4, 9], [6, 6, 6])
    kv = cache(req, 12, 4)
    kv.join(0, 4, 5)
    kv.join(1, 4, 5)
    pol = Recompute(kv, req, prefill_only=False)
    assert pol.watermark and pol.admits(2, 99, 0, False)
    waiting = deque([2])
    pol.make_room(waiting)
    assert list(waiting) == [1, 2] and list(kv.running) == [0]
    assert (req.prompt_eff[1], req.out_left[1], req.preemptions[1]) == (5, 5, 1)
    pol.make_room(waiting)  # fits now: nothing more goes
    assert list(waiting) == [1, 2]


def test_no_evict_reserves_every_request_to_its_last_token():
    """Cap 10 blocks of 4. Request 0 (8 + 9 - 1 = 16 tokens) reserves 4 blocks, request 1
    (12 + 13 - 1 = 24) 6: together 10, they fit; request 2 (1 block) does not."""
    req = state([8, 12, 1, 40], [9, 13, 1, 40])
    kv = cache(req, 40, 4)
    pol = NoEvict(kv, req, prefill_only=False)
    assert not pol.watermark
    pol.open_round()
    assert pol.admits(0, 2, 10, False)
    kv.running[0] = None
    assert pol.admits(1, 3, 8, False)
    kv.running[1] = None
    assert not pol.admits(2, 1, 5, False)
    assert pol.reserved == {0: 4, 1: 6}
    # a new round sums the running requests' reservations; a finished one gives its back
    del kv.running[0]
    pol.finished(0)
    pol.open_round()
    assert pol.final == 6 and pol.admits(2, 1, 5, False)


def test_no_evict_lets_an_empty_replica_take_its_head_and_ignores_prefill_pools():
    req = state([40], [40])  # 79 tokens: 20 blocks of 4 on a 10-block cache
    kv = cache(req, 40, 4)
    pol = NoEvict(kv, req, prefill_only=False)
    pol.open_round()
    assert pol.admits(0, 10, 10, False)
    pre = NoEvict(cache(req, 40, 4), req, prefill_only=True)
    pre.open_round()
    assert pre.watermark and pre.admits(0, 10, 10, False) and pre.reserved == {}


def test_no_evict_reserves_what_a_speculative_last_step_writes_past():
    """1.5 tokens per step: a last step may write ceil(1.5) - 1 = 1 token past the output."""
    req = state([4, 4], [4, 4])
    kv = cache(req, 400, 4, Fraction(3, 2))
    pol = NoEvict(kv, req, prefill_only=False)
    pol.open_round()
    assert pol.admits(0, 1, 100, False)
    assert pol.reserved[0] == 2  # 4 + 4 - 1 + 1 = 8 tokens


def test_retract_sglang_admits_only_what_can_grow_to_completion():
    """Block 1 (a block is a token), cap 100. A running request holds 10 tokens with 20 left:
    free 90, the ratio budget 90 - 0.7 * 20 = 76.

    - prompt 30, output 30: 30 <= 76; finishing by tokens left, the running one (20 left) needs
      2 x 20 while 60 are free (20 > 2 in reserve), then the new one 30 of 60 + 10 freed: in.
    - prompt 30, output 75: the new one needs 75 of the 70 left: out.
    - prompt 80, output 1: would grow fine, but 80 > 76 of the ratio budget: out."""
    req = state([10, 30, 30, 80], [21, 30, 75, 1])
    kv = cache(req, 100, 1)
    kv.join(0, 10, 20)
    pol = RetractSGLang(kv, req, prefill_only=False)
    assert not pol.watermark
    pol.open_round()
    assert not pol.admits(2, 30, 90, False)
    assert not pol.admits(3, 80, 90, False)
    assert pol.admits(1, 30, 90, False)
    assert pol.admitted == [(1, 30, 30)]
    # a request whose KV is already here, and any request on a prefill pool, just fit
    assert pol.admits(2, 30, 90, True)
    assert RetractSGLang(kv, req, prefill_only=True).admits(2, 30, 90, False)


def test_retract_sglang_takes_the_head_of_an_empty_replica_unrecorded():
    req = state([100], [100])
    pol = RetractSGLang(cache(req, 10, 1), req, prefill_only=False)
    pol.open_round()
    assert pol.admits(0, 100, 10, False) and pol.admitted == []


def test_retract_sglang_retracts_the_least_decoded_to_the_back():
    """Block 1, cap 14: three sequences of 4 tokens (12) grow to 15 at the next step. Outputs of
    1000 with 999, 995, 997 left: 1, 5 and 3 decoded, so the one with 1 goes (to the back of
    the queue) and 10 tokens fit. The ratio becomes (5 + 3 + 20 x 2) / (2000 + 1)."""
    req = state([4, 4, 4, 9], [1000, 1000, 1000, 5])
    kv = cache(req, 14, 1)
    for sid, left in ((0, 999), (1, 995), (2, 997)):
        kv.join(sid, 4, left)
    pol = RetractSGLang(kv, req, prefill_only=False)
    waiting = deque([3])
    pol.make_room(waiting)
    assert list(waiting) == [3, 0] and list(kv.running) == [1, 2]
    assert (req.prompt_eff[0], req.out_left[0], req.preemptions[0]) == (5, 999, 1)
    assert pol.ratio == pytest.approx(48 / 2001)
    pol.idle()
    assert pol.ratio == SGLANG_INIT_NEW_TOKEN_RATIO


def test_retract_sglang_with_speculative_decoding_retracts_the_latest_joined():
    req = state([4, 4, 4], [1000, 1000, 1000])
    kv = cache(req, 14, 1, Fraction(2))  # 2 tokens per step: 12 -> 18 blocks
    for sid, left in ((0, 999), (1, 995), (2, 997)):
        kv.join(sid, 4, left)
    waiting: deque[int] = deque()
    RetractSGLang(kv, req, prefill_only=False).make_room(waiting)
    assert list(waiting) == [2] and list(kv.running) == [0, 1]


def test_retract_sglang_decays_its_ratio_once_per_step_when_nothing_goes():
    req = state([4], [100])
    kv = cache(req, 100, 1)
    kv.join(0, 4, 99)
    pol = RetractSGLang(kv, req, prefill_only=False)
    waiting: deque[int] = deque()
    pol.make_room(waiting)
    pol.make_room(waiting)  # same step: no second decay
    init = SGLANG_INIT_NEW_TOKEN_RATIO
    floor = init * SGLANG_MIN_NEW_TOKEN_RATIO_FACTOR
    assert pol.ratio == pytest.approx(init - (init - floor) / SGLANG_NEW_TOKEN_RATIO_DECAY_STEPS)
    kv.step = 1
    pol.make_room(waiting)
    assert pol.ratio == pytest.approx(
        init - 2 * (init - floor) / SGLANG_NEW_TOKEN_RATIO_DECAY_STEPS
    )
    assert not waiting
