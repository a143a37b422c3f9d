"""SGLang's reserving admission and retraction (``preemption: retract-sglang``).

Hand-checked admission: with 1-token blocks and a 64-token cache, requests of 10 prompt and 20
output tokens reserve ``10 + 20`` tokens each plus one spare (SGLang's
``IGNORE_EOS_RESERVE_TOKENS``): two fit (``64 - 2 * 30 = 4 > 2``), a third does not
(``64 - 90 < 3``), so it waits for the first two to finish — where vLLM's recompute policy
admits it at once and preempts when the three outgrow the cache (``3 * (10 + g) > 64`` at the
12th generated token).
"""

from __future__ import annotations

import numpy as np
import pytest

from accelsim.sim.admission import SchedulerConfig
from accelsim.sim.engine import KVTransfer, Pool, simulate
from accelsim.sim.traffic import Requests


class Const:
    """Every iteration takes ``s`` seconds; ``k`` tokens per decode step."""

    def __init__(self, s: float = 0.01, k: float = 1.0) -> None:
        self.s = s
        self.tokens_per_decode_step = k

    def iteration_time(self, batch) -> float:
        return self.s


def _three(preemption: str):
    req = Requests.from_arrays(np.zeros(3), np.full(3, 10), np.full(3, 20))
    sc = SchedulerConfig(block_size=1, kv_watermark=0.0, preemption=preemption)
    return simulate(req, Pool(Const(), kv_tokens=64, scheduler=sc), check_invariants=True)


def test_reserving_admission_holds_the_third_request_back():
    res = _three("retract-sglang")
    rec = res.records
    assert res.summary.completed == 3
    assert int(rec["preemptions"].sum()) == 0
    first_two = rec["finished_at"][:2]
    assert rec["scheduled_at"][0] == rec["scheduled_at"][1] == 0.0
    # one prefill iteration + 19 decode steps, then the third is admitted
    assert first_two[0] == first_two[1] == pytest.approx(20 * 0.01)
    assert rec["scheduled_at"][2] == first_two.max()


def test_recompute_admits_the_third_request_and_preempts():
    res = _three("recompute")
    assert res.summary.completed == 3
    assert res.records["scheduled_at"][2] == 0.0
    assert int(res.records["preemptions"].sum()) > 0


def _decode_pressure(k: float, preemption: str = "retract-sglang", n: int = 40):
    """P/D: the decode pool's arrivals are already prefilled (no reservation), so its
    sequences outgrow the small cache and must be retracted."""
    rng = np.random.default_rng(5)
    req = Requests.from_arrays(
        np.sort(rng.uniform(0, 0.5, n)), rng.integers(50, 400, n), rng.integers(20, 300, n)
    )
    sc = SchedulerConfig(block_size=16, preemption=preemption, max_batched_tokens=4096)
    pre = Pool(Const(0.002, k), kv_tokens=50_000, scheduler=sc)
    dec = Pool(Const(0.01, k), kv_tokens=2_048, scheduler=sc)
    return simulate(
        req,
        pre,
        decode_pool=dec,
        transfer=KVTransfer(1000.0, 1e12, 0.0),
        check_invariants=True,
    )


def test_retracted_requests_still_finish_with_all_their_tokens():
    for k in (1.0, 2.5):
        res = _decode_pressure(k)
        rec = res.records
        s = res.summary
        assert s.completed + s.rejected == s.arrived == 40
        assert s.rejected == 0
        retracted = rec["preemptions"] > 0
        assert retracted.any()
        assert np.all(rec.outcome[retracted] == "completed")
        assert np.all(np.isfinite(rec["finished_at"][retracted]))
        assert np.all(rec["finished_at"] >= rec["first_token_at"])


def test_retraction_is_deterministic():
    a = _decode_pressure(1.5)
    b = _decode_pressure(1.5)
    assert a.records.tobytes() == b.records.tobytes()


def test_default_preemption_is_recompute_and_left_out_of_the_digest():
    from accelsim.run.scenario import Scenario

    assert SchedulerConfig().preemption == "recompute"
    base = {"model": "m", "device": "d", "cards": 1, "traffic": "t"}
    plain = Scenario.model_validate(base)
    same = Scenario.model_validate({**base, "scheduler": {"preemption": "recompute"}})
    other = Scenario.model_validate({**base, "scheduler": {"preemption": "retract-sglang"}})
    assert "preemption" not in plain.canonical()["scheduler"]
    assert plain.digest == same.digest != other.digest


def test_no_evict_reserves_whole_requests_and_never_preempts():
    """TensorRT-LLM's GUARANTEED_NO_EVICT: each request reserves its 10 + 20 tokens (30 of the
    64 one-token blocks), so two run at once and the third waits for them, with no spare token
    as SGLang keeps; nothing is preempted."""
    res = _three("no-evict")
    rec = res.records
    assert res.summary.completed == 3
    assert int(rec["preemptions"].sum()) == 0
    assert rec["scheduled_at"][0] == rec["scheduled_at"][1] == 0.0
    assert rec["scheduled_at"][2] == rec["finished_at"][:2].max()


def test_no_evict_on_a_pd_decode_pool_never_preempts():
    res = _decode_pressure(1.0, preemption="no-evict")
    s = res.summary
    assert s.completed == s.arrived == 40
    assert int(res.records["preemptions"].sum()) == 0
