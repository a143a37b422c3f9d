"""Summary definitions on hand-made records."""

from __future__ import annotations

import math

import numpy as np
import pytest

from accelsim.sim.metrics import RequestRecords, Timeline, percentiles, summarize


def records() -> RequestRecords:
    nan = math.nan
    return RequestRecords(
        arrived_at=np.array([0.0, 1.0, 2.0, 3.0]),
        scheduled_at=np.array([0.0, 1.5, 2.0, nan]),
        first_token_at=np.array([0.5, 2.0, 2.5, nan]),
        finished_at=np.array([1.5, 4.0, 2.5, nan]),
        prompt_tokens=np.array([100, 200, 50, 10**6]),
        output_tokens=np.array([11, 21, 1, 5]),
        cached_tokens=np.array([0, 100, 0, 0]),
        preemptions=np.array([0, 2, 0, 0]),
        replica=np.array([0, 1, 0, -1]),
        outcome=np.array([1, 1, 1, 2]),
        reason=np.array([0, 0, 0, 1]),
    )


def test_summary_definitions():
    s = summarize(
        records(),
        cards=4,
        slo_ttft=0.6,
        slo_tpot=0.09,
        replica_busy=[(2.0, 2), (4.0, 2)],
        card_power=(100.0, 400.0),
    )
    assert (s["arrived"], s["completed"], s["rejected"]) == (4, 3, 1)
    assert s["rejected_by_reason"] == {"exceeds_kv_capacity": 1}
    assert s["duration_s"] == 4.0
    assert s["throughput"]["output_tokens_per_s"] == pytest.approx(33 / 4)
    assert s["throughput"]["input_tokens_per_s"] == pytest.approx(350 / 4)
    assert s["throughput"]["output_tokens_per_s_per_card"] == pytest.approx(33 / 16)
    assert s["ttft_s"]["mean"] == pytest.approx((0.5 + 1.0 + 0.5) / 3)
    # TPOT: (1.5-0.5)/10 = 0.1, (4-2)/20 = 0.1; the single-token request has none
    assert s["tpot_s"]["mean"] == pytest.approx(0.1)
    assert s["queue_s"]["p50"] == pytest.approx(0.0)
    # goodput: TTFT <= 0.6 and TPOT <= 0.09 -> only the single-token request passes
    assert s["goodput"]["share"] == pytest.approx(1 / 4)
    # energy: two replicas of 2 cards, busy 50 % and 100 % of 4 s
    joules = 2 * (100 + 0.5 * 300) * 4 + 2 * (100 + 1.0 * 300) * 4
    assert s["energy"]["joules"] == pytest.approx(joules)
    assert s["energy"]["joules_per_output_token"] == pytest.approx(joules / 33)
    assert s["preemptions"] == 2


def test_frame_and_csv(tmp_path):
    pd = pytest.importorskip("pandas")
    df = records().to_frame()
    assert isinstance(df, pd.DataFrame) and list(df["outcome"]) == [
        "completed",
        "completed",
        "completed",
        "rejected",
    ]
    records().write_csv(tmp_path / "r.csv")
    back = pd.read_csv(tmp_path / "r.csv")
    assert back["reason"].fillna("").tolist()[-1] == "exceeds_kv_capacity"
    assert back["finished_at"].isna().tolist() == [False, False, False, True]


def test_million_records_are_small():
    n = 1_000_000
    z = np.zeros(n)
    r = RequestRecords(
        arrived_at=z,
        scheduled_at=z,
        first_token_at=z,
        finished_at=z,
        prompt_tokens=z,
        output_tokens=z,
        cached_tokens=z,
        preemptions=z,
        replica=z,
        outcome=z,
        reason=z,
    )
    assert r.array.nbytes < 80 * 2**20


def test_timeline_and_percentiles():
    t = Timeline(1.0, replicas=2)
    t.add(0.2, 0.5, 3, 0.5, 10)
    t.add(1.5, 0.1, 0, 1.0, 4)
    cols = t.columns()
    assert cols["queue_len"][0] == pytest.approx(1.5) and cols["kv_peak"][1] == 1.0
    itl = t.itl_percentiles()
    assert itl["p50"] == pytest.approx(0.5, rel=0.05) and itl["p99"] == pytest.approx(0.5, rel=0.05)
    p = percentiles(np.array([1.0, 2.0, np.nan, 3.0]))
    assert p["mean"] == 2.0 and p["p50"] == 2.0
