"""Parsed traces kept across processes (``accelsim.sim.traces``, issue 18): keyed by the
trace's content, read back as the very arrays parsing gives; a changed trace is parsed again,
a corrupt stored copy is ignored."""

from __future__ import annotations

import numpy as np
import pytest

from accelsim.sim import traces


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ACCELSIM_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _azure(path, rows):
    path.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n" + "".join(rows))


def _columns(tr):
    return [(k, getattr(tr, k)) for k in traces._COLUMNS]


def _equal(a, b):
    for (k, x), (_, y) in zip(_columns(a), _columns(b), strict=True):
        assert (x is None) == (y is None), k
        if x is not None:
            assert x.dtype == y.dtype and np.array_equal(x, y), k


def test_a_stored_trace_is_what_parsing_gives(cache, tmp_path, monkeypatch):
    path = tmp_path / "t.csv"
    _azure(path, ["2023-11-16 18:15:46.6,374,44\n", "2023-11-16 18:15:47.25,10,2\n"])
    first = traces._cached_trace(str(path), None, 1.0)
    assert first.arrived_at.tolist() == [0.0, pytest.approx(0.65, abs=1e-6)]
    assert len(list(cache.glob("trace-*.npz"))) == 1

    def refuse(*args, **kwargs):
        raise AssertionError("parsed although stored")

    with monkeypatch.context() as m:
        m.setattr(traces, "read_trace", refuse)
        again = traces._cached_trace(str(path), None, 2.0)  # a new mtime: past the lru cache
    _equal(again, first)
    _equal(again, traces.read_trace(path))
    _azure(path, ["2023-11-16 18:15:46.6,374,45\n"])  # new bytes: parsed again
    assert traces._cached_trace(str(path), None, 3.0).output_tokens.tolist() == [45]


def test_a_corrupt_stored_trace_is_parsed_again(cache, tmp_path):
    path = tmp_path / "t.csv"
    _azure(path, ["2023-11-16 18:15:46.6,374,44\n"])
    traces._cached_trace(str(path), None, 1.0)
    (stored,) = cache.glob("trace-*.npz")
    for junk in (b"", b"not a zip", stored.read_bytes()[:40]):
        stored.write_bytes(junk)
        got = traces._cached_trace(str(path), None, 1.5 + len(junk))
        _equal(got, traces.read_trace(path))
    np.savez(stored.open("wb"), prompt_tokens=np.array([1.5]), output_tokens=np.array([1]))
    _equal(traces._cached_trace(str(path), None, 9.0), traces.read_trace(path))
