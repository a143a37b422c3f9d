"""Trace readers (good files and bad rows with file:line) and traffic generators."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from accelsim.sim.traces import (
    TraceError,
    read_azure_csv,
    read_lengths_csv,
    read_mooncake_jsonl,
    read_servegen,
)
from accelsim.sim.traffic import TrafficSpec, generate, parse_rate

ROOT = Path(__file__).resolve().parents[1]
TRACES = ROOT / "workloads" / "traces"


def resolve(p: str) -> Path:
    return ROOT / p


def test_azure_conv_whole_trace():
    tr = read_azure_csv(TRACES / "azure_conv_2023.csv")
    assert len(tr) == 19_366
    assert tr.arrived_at[0] == 0.0
    assert tr.arrived_at[-1] == pytest.approx(3502, abs=1)  # traces/README: 3,502 s span
    assert int(tr.prompt_tokens.max()) == 14_050 and int(tr.output_tokens.max()) == 1_000
    assert np.all(np.diff(tr.arrived_at) >= 0)


def test_mooncake_slice_prefix_hits():
    tr = read_mooncake_jsonl(TRACES / "mooncake_conversation_head2000.jsonl")
    assert len(tr) == 2_000
    assert tr.cached_tokens[0] == 0  # nothing seen before the first request
    assert tr.cached_tokens.sum() > 0
    assert np.all(tr.cached_tokens <= tr.prompt_tokens - 1)
    assert np.all(tr.cached_tokens % 512 == 0) or np.any(tr.cached_tokens == tr.prompt_tokens - 1)


def test_vidur_lengths_and_servegen():
    tr = read_lengths_csv(TRACES / "vidur_arxiv_lengths_head2000.csv")
    assert len(tr) == 2_000 and tr.arrived_at is None
    client = read_servegen(TRACES / "servegen_r1_chunk1_trace.csv")
    assert len(client.windows) == 144 and sorted(client.lengths) == [0, 21600, 43200, 64800]


@pytest.mark.parametrize(
    ("name", "text", "line", "what"),
    [
        (
            "a.csv",
            "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.68,10,5\n"
            "2023-11-16 18:15:47.00,-3,5\n",
            3,
            "ContextTokens",
        ),
        (
            "b.csv",
            "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.68,10,5\n"
            "2023-11-16 18:15:45.00,3,5\n",
            3,
            "earlier",
        ),
        (
            "c.csv",
            "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.68,10\n",
            2,
            "3 fields",
        ),
        ("d.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\nyesterday,1,1\n", 2, "TIMESTAMP"),
    ],
)
def test_azure_bad_rows(tmp_path, name, text, line, what):
    p = tmp_path / name
    p.write_text(text)
    with pytest.raises(TraceError, match=rf"{name}:{line}: .*{what}"):
        read_azure_csv(p)


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        (
            '{"timestamp": 0, "input_length": 5, "output_length": 1}\n{"timestamp": 1}\n',
            2,
            "missing field input_length",
        ),
        (
            '{"timestamp": 5, "input_length": 5, "output_length": 1}\n'
            '{"timestamp": 1, "input_length": 5, "output_length": 1}\n',
            2,
            "earlier",
        ),
        ('{"timestamp": 0, "input_length": 0, "output_length": 1}\n', 1, "input_length"),
        ("not json\n", 1, "not JSON"),
    ],
)
def test_mooncake_bad_rows(tmp_path, text, line, what):
    p = tmp_path / "m.jsonl"
    p.write_text(text)
    with pytest.raises(TraceError, match=rf"m.jsonl:{line}: .*{what}"):
        read_mooncake_jsonl(p)


def test_lengths_csv_bad_row(tmp_path):
    p = tmp_path / "l.csv"
    p.write_text("num_prefill_tokens,num_decode_tokens\n10,2\n5,\n")
    with pytest.raises(TraceError, match=r"l.csv:3: field num_decode_tokens"):
        read_lengths_csv(p)


def test_servegen_bad_row(tmp_path):
    (tmp_path / "x-trace.csv").write_text("0,1,1,Gamma,1,1\n600,1,1,Poisson,1,1\n")
    (tmp_path / "x-dataset.json").write_text("{}")
    with pytest.raises(TraceError, match=r"x-trace.csv:2: field pattern"):
        read_servegen(tmp_path / "x-trace.csv", tmp_path / "x-dataset.json")


def test_rates_parse():
    assert parse_rate("40/s") == 40.0
    assert parse_rate("40 req/s") == 40.0
    assert parse_rate("120/min") == pytest.approx(2.0)
    assert parse_rate(3) == 3.0


def spec(**kw) -> TrafficSpec:
    base = {"lengths": {"kind": "fixed", "prompt": 10, "output": 2}}
    base.update(kw)
    return TrafficSpec.model_validate(base)


@pytest.mark.parametrize(
    ("arrival", "cv"), [("poisson", 1.0), ("gamma", 3.0), ("gamma", 0.5), ("constant", 0.0)]
)
def test_arrival_processes_rate_and_burstiness(arrival, cv):
    s = spec(arrival=arrival, rate="10/s", cv=cv if cv else 1.0, requests=20_000)
    req = generate(s, np.random.default_rng(1), resolve)
    gaps = np.diff(req.arrived_at)
    assert 1 / gaps.mean() == pytest.approx(10, rel=0.05)
    assert gaps.std() / gaps.mean() == pytest.approx(cv, abs=0.08)


def test_duration_bound_and_determinism():
    s = spec(arrival="poisson", rate=50, duration="60 s")
    a = generate(s, np.random.default_rng(3), resolve)
    b = generate(s, np.random.default_rng(3), resolve)
    assert a.arrived_at.max() < 60 and len(a) == pytest.approx(3000, rel=0.1)
    assert a.arrived_at.tobytes() == b.arrived_at.tobytes()


@pytest.mark.parametrize(
    "lengths",
    [
        {"kind": "uniform", "prompt": [5, 9], "output": [1, 3]},
        {
            "kind": "lognormal",
            "prompt_median": 1000,
            "prompt_sigma": 1.0,
            "output_median": 100,
            "output_sigma": 0.5,
            "max_prompt": 4000,
        },
        {"kind": "empirical", "trace": "workloads/traces/vidur_arxiv_lengths_head2000.csv"},
    ],
)
def test_length_models(lengths):
    s = spec(rate=5, requests=5_000, lengths=lengths)
    req = generate(s, np.random.default_rng(0), resolve)
    assert req.prompt_tokens.min() >= 1 and req.output_tokens.min() >= 1
    if lengths["kind"] == "uniform":
        assert set(np.unique(req.prompt_tokens)) == {5, 6, 7, 8, 9}
    if lengths["kind"] == "lognormal":
        assert np.median(req.prompt_tokens) == pytest.approx(1000, rel=0.06)
        assert req.prompt_tokens.max() <= 4000


def test_trace_replay_time_scale_and_rate():
    s = TrafficSpec(
        arrival="trace", trace="workloads/traces/azure_conv_2023.csv", time_scale=0.5, requests=1000
    )
    req = generate(s, np.random.default_rng(0), resolve)
    full = read_azure_csv(TRACES / "azure_conv_2023.csv")
    assert len(req) == 1000
    assert np.allclose(req.arrived_at, full.arrived_at[:1000] * 0.5)
    s2 = TrafficSpec(arrival="trace", trace="workloads/traces/azure_conv_2023.csv", rate=40)
    req2 = generate(s2, np.random.default_rng(0), resolve)
    assert (len(req2) - 1) / req2.arrived_at[-1] == pytest.approx(40)


def test_servegen_client_day():
    s = TrafficSpec(
        arrival="servegen", trace="workloads/traces/servegen_r1_chunk1_trace.csv", duration="6 h"
    )
    req = generate(s, np.random.default_rng(0), resolve)
    client = read_servegen(TRACES / "servegen_r1_chunk1_trace.csv")
    expected = sum(w.rate * 600 for w in client.windows if w.start < 6 * 3600)
    assert len(req) == pytest.approx(expected, rel=0.15)
    assert np.all(np.diff(req.arrived_at) >= 0)


def test_prefix_hit_rate_and_closed_loop():
    s = spec(
        rate=5,
        requests=100,
        prefix_hit_rate=0.5,
        lengths={"kind": "fixed", "prompt": 100, "output": 2},
    )
    req = generate(s, np.random.default_rng(0), resolve)
    assert np.all(req.cached_tokens == 50)
    c = spec(arrival="closed_loop", clients=8, requests=50)
    req = generate(c, np.random.default_rng(0), resolve)
    assert req.clients == 8 and np.isnan(req.arrived_at).all()
    capped = spec(arrival="closed_loop", clients=8, requests=2000, rate=4)
    req = generate(capped, np.random.default_rng(0), resolve)
    assert req.clients == 8 and np.all(np.diff(req.arrived_at) > 0)  # Poisson release times
    assert len(req) / req.arrived_at[-1] == pytest.approx(4, rel=0.1)


def test_spec_validation():
    with pytest.raises(ValueError, match="need a rate"):
        spec(arrival="poisson", requests=5)
    with pytest.raises(ValueError, match="trace file"):
        TrafficSpec(arrival="trace")
