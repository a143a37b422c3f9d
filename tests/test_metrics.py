"""Summary definitions on hand-made records; the summary's JSON form; the metric registry."""

from __future__ import annotations

import math

import numpy as np
import pytest

from accelsim.sim.metrics import (
    HIGHER,
    LOWER,
    METRICS,
    RequestRecords,
    Summary,
    Timeline,
    percentiles,
    summarize,
)


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
    assert (s.arrived, s.completed, s.rejected) == (4, 3, 1)
    assert s.rejected_by_reason == {"exceeds_kv_capacity": 1}
    assert s.duration_s == 4.0
    assert s.throughput.output_tokens_per_s == pytest.approx(33 / 4)
    assert s.throughput.input_tokens_per_s == pytest.approx(350 / 4)
    assert s.throughput.output_tokens_per_s_per_card == pytest.approx(33 / 16)
    assert s.ttft_s.mean == pytest.approx((0.5 + 1.0 + 0.5) / 3)
    # TPOT: (1.5-0.5)/10 = 0.1, (4-2)/20 = 0.1; the single-token request has none
    assert s.tpot_s.mean == pytest.approx(0.1)
    assert s.queue_s.p50 == pytest.approx(0.0)
    # goodput: TTFT <= 0.6 and TPOT <= 0.09 -> only the single-token request passes
    assert s.goodput.share == pytest.approx(1 / 4)
    # energy: two replicas of 2 cards, busy 50 % and 100 % of 4 s
    joules = 2 * (100 + 0.5 * 300) * 4 + 2 * (100 + 1.0 * 300) * 4
    assert s.energy.joules == pytest.approx(joules)
    assert s.energy.joules_per_output_token == pytest.approx(joules / 33)
    assert s.preemptions == 2


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
    assert itl.p50 == pytest.approx(0.5, rel=0.05) and itl.p99 == pytest.approx(0.5, rel=0.05)
    p = percentiles(np.array([1.0, 2.0, np.nan, 3.0]))
    assert p.mean == 2.0 and p.p50 == 2.0


def test_summary_json_form_keeps_field_order_and_omits_what_was_not_measured():
    s = summarize(records(), cards=4, replica_busy=[(2.0, 2), (4.0, 2)])
    d = s.as_dict()
    head = ["arrived", "completed", "rejected", "rejected_by_reason", "preemptions", "cards"]
    assert list(d)[:6] == head
    assert d["throughput"]["output_tokens_per_s"] == s.throughput.output_tokens_per_s
    assert d["ttft_s"] == {"mean": s.ttft_s.mean, "p50": s.ttft_s.p50, "p90": s.ttft_s.p90,
                           "p99": s.ttft_s.p99}  # fmt: skip
    assert d["goodput"]["slo_ttft_s"] is None  # an SLO left unset is written as null
    assert "busy_fraction" in d and not {"energy", "mfu", "itl_s", "scenario"} & set(d)
    assert isinstance(s, Summary) and s.energy is None


_GROUPS = [(f"{g}_s.", f"{g}_") for g in ("ttft", "tpot", "e2e", "queue", "itl")]
_GROUPS.append(("throughput.", ""))


def _flat(d: dict, prefix: str = "") -> dict:
    """The sweep rows' flattening of a summary (``accelsim.sim.metrics`` docstring)."""
    out = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict):
            out.update(_flat(v, key))
            continue
        for old, new in _GROUPS:
            if key.startswith(old):
                key = new + key[len(old) :]
                break
        out[key.replace(".", "_")] = v
    return out


def test_registry_names_read_the_same_from_a_summary_its_json_and_a_sweep_row():
    t = Timeline(1.0)
    t.add(0.0, 0.5, 1, 0.5, 2)
    s = summarize(
        records(),
        cards=4,
        replica_busy=[(2.0, 2), (4.0, 2)],
        card_power=(100.0, 400.0),
        timeline=t,
        work=(1e12, 1e9, 1e15, 1e12),
    )
    d = s.as_dict()
    row = _flat(d)
    for name, m in METRICS.items():
        assert m.name == name and m.better in (HIGHER, LOWER, 0) and m.label
        got = m.get(s)
        assert got == m.read(d) and (got == row[name] or (got != got and row[name] != row[name]))
    assert METRICS["ttft_p99"].get(s) == s.ttft_s.p99 and METRICS["ttft_p99"].unit == "s"
    assert METRICS["output_tokens_per_s"].better == HIGHER
    assert METRICS["tpot_mean"].better == LOWER


def test_a_metric_the_run_did_not_measure_reads_none():
    s = summarize(records())
    assert METRICS["itl_p99"].get(s) is None and METRICS["itl_p99"].read(s.as_dict()) is None
    assert METRICS["energy_joules"].get(s) is None
