"""Per-request records and the summaries built from them.

One flat record per request (completed or rejected with a reason), kept as numpy columns so a
million requests cost about 60 MB. Instants end in ``_at`` (seconds on the simulation clock),
durations in ``_s``:

================  ========  ==========================================================
field             dtype     meaning
================  ========  ==========================================================
id                int64     request index in arrival-table order
arrived_at        float64   arrival at the router
scheduled_at      float64   first admission into a batch (NaN if never)
first_token_at    float64   end of the iteration that finished its prefill (NaN if never)
finished_at       float64   end of the iteration that emitted its last token (NaN if never)
prompt_tokens     int32     prompt length
output_tokens     int32     output length
cached_tokens     int32     prompt tokens served from the prefix cache (no prefill compute)
preemptions       int32     times its KV was dropped and recomputed
replica           int32     replica it was routed to (-1 when rejected on arrival); with P/D
                            disaggregation the decode replica (prefill replicas come first)
outcome           str       ``completed`` or ``rejected``
reason            str       why it was rejected (empty when completed)
================  ========  ==========================================================

Summary definitions (``summarize``):

- ``duration_s``: from the first arrival to the last completion (the makespan); throughputs
  divide completed work by it;
- ``ttft_s`` = first_token_at - arrived_at; ``e2e_s`` = finished_at - arrived_at;
  ``queue_s`` = scheduled_at - arrived_at; ``tpot_s`` = (finished_at - first_token_at) /
  (output - 1) over requests with more than one output token;
- ``itl_s``: the duration of each decode iteration as seen by each sequence in it (a
  histogram with 2 % bins, so percentiles are good to about 2 %);
- goodput: requests that completed with TTFT <= ``slo_ttft`` and TPOT <= ``slo_tpot`` (a missing
  SLO always passes), as a share of arrived requests and as requests/s;
- energy: each card draws ``idle + u * (tdp - idle)`` watts, ``u`` its replica's busy fraction
  over ``duration_s`` (a linear power model; no host, network or PUE — those belong to tco);
- KV utilization and queue length are time-weighted over the per-bin timeline;
- ``mfu`` (model FLOPs utilization) and ``mbu`` (memory-bandwidth utilization), when the timing
  model reports each iteration's work (``work = (FLOPs, HBM bytes, peak FLOP/s, peak bytes/s)``
  summed over replicas): ``mfu`` = FLOPs of all iterations / ``duration_s`` / (dense peak
  FLOP/s of the compute dtype x cards); ``mbu`` = HBM bytes read and written / ``duration_s`` /
  (HBM bandwidth x cards). The FLOPs and bytes are those the roofline charges (weights, KV
  cache, activations; replicated ops counted on every rank that runs them), so both are
  hardware utilizations of the whole run, idle time included.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "OUTCOMES",
    "REASONS",
    "RECORD_DTYPE",
    "RequestRecords",
    "SimResult",
    "Timeline",
    "percentiles",
    "summarize",
]

OUTCOMES = ("pending", "completed", "rejected")
REASONS = ("", "exceeds_kv_capacity")

RECORD_DTYPE = np.dtype(
    [
        ("id", np.int64),
        ("arrived_at", np.float64),
        ("scheduled_at", np.float64),
        ("first_token_at", np.float64),
        ("finished_at", np.float64),
        ("prompt_tokens", np.int32),
        ("output_tokens", np.int32),
        ("cached_tokens", np.int32),
        ("preemptions", np.int32),
        ("replica", np.int32),
        ("outcome", np.int8),
        ("reason", np.int8),
    ]
)


class RequestRecords:
    """The per-request table (a numpy structured array; see the module docstring)."""

    def __init__(self, **columns: np.ndarray) -> None:
        n = len(columns["arrived_at"])
        arr = np.zeros(n, dtype=RECORD_DTYPE)
        arr["id"] = np.arange(n)
        for name, col in columns.items():
            arr[name] = col
        self.array = arr

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.array[name]

    @property
    def outcome(self) -> np.ndarray:
        return np.asarray(OUTCOMES, dtype=object)[self.array["outcome"]]

    @property
    def reason(self) -> np.ndarray:
        return np.asarray(REASONS, dtype=object)[self.array["reason"]]

    def tobytes(self) -> bytes:
        return self.array.tobytes()

    def to_frame(self) -> Any:
        """A pandas DataFrame with one row per request (outcome/reason as text)."""
        import pandas as pd

        df = pd.DataFrame(self.array)
        df["outcome"] = self.outcome
        df["reason"] = self.reason
        return df

    def write_csv(self, path: Any) -> None:
        """Write the records as CSV (floats with 9 significant digits; NaN as empty)."""
        names = RECORD_DTYPE.names or ()
        outcome, reason = self.outcome, self.reason
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(",".join(names) + "\n")
            a = self.array
            cols = []
            for name in names:
                if name == "outcome":
                    cols.append(outcome.tolist())
                elif name == "reason":
                    cols.append(reason.tolist())
                elif a.dtype[name].kind == "f":
                    cols.append(["" if v != v else f"{v:.9g}" for v in a[name].tolist()])
                else:
                    cols.append(a[name].tolist())
            for row in zip(*cols, strict=True):
                fh.write(",".join(map(str, row)) + "\n")


@dataclass
class Timeline:
    """Per-time-bin aggregates over all replicas (bins of ``width`` seconds; an iteration is
    charged to the bin it starts in), plus a histogram of decode-iteration durations."""

    width: float
    busy: list[float] = field(default_factory=list)
    queue: list[float] = field(default_factory=list)  # sum of waiting * dt
    kv: list[float] = field(default_factory=list)  # sum of kv fraction * dt
    kv_peak: list[float] = field(default_factory=list)
    decoding: list[float] = field(default_factory=list)  # sum of decode seqs * dt
    itl_hist: list[float] = field(default_factory=lambda: [0.0] * 400)
    replicas: int = 1

    ITL_MIN_LOG10 = -6.0
    ITL_BINS_PER_DECADE = 50

    def add(self, t0: float, dt: float, waiting: int, kv_frac: float, n_dec: int) -> None:
        b = int(t0 / self.width)
        busy = self.busy
        if b >= len(busy):
            grow = b + 1 - len(busy)
            busy.extend([0.0] * grow)
            self.queue.extend([0.0] * grow)
            self.kv.extend([0.0] * grow)
            self.kv_peak.extend([0.0] * grow)
            self.decoding.extend([0.0] * grow)
        busy[b] += dt
        if waiting:
            self.queue[b] += waiting * dt
        self.kv[b] += kv_frac * dt
        if kv_frac > self.kv_peak[b]:
            self.kv_peak[b] = kv_frac
        if n_dec:
            self.decoding[b] += n_dec * dt
            i = int((math.log10(dt) - self.ITL_MIN_LOG10) * self.ITL_BINS_PER_DECADE)
            i = min(max(i, 0), len(self.itl_hist) - 1)
            self.itl_hist[i] += n_dec

    def itl_percentiles(self) -> dict[str, float]:
        h = np.asarray(self.itl_hist)
        total = h.sum()
        if total <= 0:
            return {k: math.nan for k in ("mean", "p50", "p90", "p99")}
        centers = 10 ** (self.ITL_MIN_LOG10 + (np.arange(len(h)) + 0.5) / self.ITL_BINS_PER_DECADE)
        cdf = np.cumsum(h) / total
        out = {"mean": float((h * centers).sum() / total)}
        for q in (50, 90, 99):
            out[f"p{q}"] = float(centers[int(np.searchsorted(cdf, q / 100))])
        return out

    def to_frame(self) -> Any:
        """Columns: ``t`` (bin start), ``busy_replicas``, ``queue_len``, ``kv_util``,
        ``kv_peak``, ``decoding_seqs`` (time averages over the bin, summed over replicas
        except kv_util, which is averaged)."""
        import pandas as pd

        return pd.DataFrame(self.columns())

    def columns(self) -> dict[str, np.ndarray]:
        w = self.width
        n = len(self.busy)
        return {
            "t": np.arange(n) * w,
            "busy_replicas": np.asarray(self.busy) / w,
            "queue_len": np.asarray(self.queue) / w,
            "kv_util": np.asarray(self.kv) / (w * self.replicas),
            "kv_peak": np.asarray(self.kv_peak),
            "decoding_seqs": np.asarray(self.decoding) / w,
        }


@dataclass
class SimResult:
    """What ``simulate`` returns: per-request records, the summary dict, the timeline and the
    resolved scenario (when run from one)."""

    records: RequestRecords
    summary: dict[str, Any]
    timeline: Timeline
    scenario: Any = None

    def to_frame(self) -> Any:
        return self.records.to_frame()


def percentiles(values: np.ndarray) -> dict[str, float]:
    """mean, p50, p90, p99 of the finite values (NaN when there are none)."""
    v = values[np.isfinite(values)]
    if not len(v):
        return {"mean": math.nan, "p50": math.nan, "p90": math.nan, "p99": math.nan}
    p50, p90, p99 = np.percentile(v, [50, 90, 99])
    return {"mean": float(v.mean()), "p50": float(p50), "p90": float(p90), "p99": float(p99)}


def summarize(
    records: RequestRecords,
    *,
    cards: float = 1,
    replica_busy: list[tuple[float, float]] | None = None,
    slo_ttft: float | None = None,
    slo_tpot: float | None = None,
    card_power: tuple[float, float] | None = None,
    timeline: Timeline | None = None,
    work: tuple[float, float, float, float] | None = None,
) -> dict[str, Any]:
    """The run's summary (see the module docstring for every definition)."""
    a = records.array
    outcome = a["outcome"]
    done = outcome == 1
    rejected = outcome == 2
    arrived = len(a)
    first = float(np.nanmin(a["arrived_at"])) if arrived else 0.0
    last = float(np.nanmax(a["finished_at"][done])) if done.any() else first
    duration = max(last - first, 1e-12)
    d = a[done]
    inp = float(d["prompt_tokens"].sum())
    out = float(d["output_tokens"].sum())
    ttft = d["first_token_at"] - d["arrived_at"]
    e2e = d["finished_at"] - d["arrived_at"]
    queue = d["scheduled_at"] - d["arrived_at"]
    multi = d["output_tokens"] > 1
    tpot = np.full(len(d), np.nan)
    tpot[multi] = (d["finished_at"][multi] - d["first_token_at"][multi]) / (
        d["output_tokens"][multi] - 1
    )
    ok = np.ones(len(d), dtype=bool)
    if slo_ttft is not None:
        ok &= ttft <= slo_ttft
    if slo_tpot is not None:
        ok &= ~(tpot > slo_tpot)  # NaN (single-token outputs) passes
    good = int(ok.sum())
    reasons: dict[str, int] = {}
    for code in np.unique(a["reason"][rejected]):
        reasons[REASONS[int(code)]] = int((a["reason"][rejected] == code).sum())
    summary: dict[str, Any] = {
        "arrived": arrived,
        "completed": int(done.sum()),
        "rejected": int(rejected.sum()),
        "rejected_by_reason": reasons,
        "preemptions": int(a["preemptions"].sum()),
        "cards": cards,
        "duration_s": duration,
        "throughput": {
            "requests_per_s": len(d) / duration,
            "input_tokens_per_s": inp / duration,
            "output_tokens_per_s": out / duration,
            "total_tokens_per_s": (inp + out) / duration,
            "output_tokens_per_s_per_card": out / duration / cards,
            "total_tokens_per_s_per_card": (inp + out) / duration / cards,
        },
        "cached_token_share": float(d["cached_tokens"].sum() / inp) if inp else 0.0,
        "ttft_s": percentiles(ttft),
        "tpot_s": percentiles(tpot),
        "e2e_s": percentiles(e2e),
        "queue_s": percentiles(queue),
        "goodput": {
            "slo_ttft_s": slo_ttft,
            "slo_tpot_s": slo_tpot,
            "share": good / arrived if arrived else math.nan,
            "requests_per_s": good / duration,
        },
    }
    if timeline is not None:
        cols = timeline.columns()
        summary["itl_s"] = timeline.itl_percentiles()
        w_busy = float(np.sum(timeline.busy))
        summary["kv_utilization"] = {
            "mean_busy": float(np.sum(timeline.kv) / w_busy) if w_busy else 0.0,
            "peak": float(np.max(cols["kv_peak"])) if len(cols["kv_peak"]) else 0.0,
        }
        ql = cols["queue_len"]
        summary["queue_len"] = {
            "mean": float(ql.mean()) if len(ql) else 0.0,
            "max_bin_mean": float(ql.max()) if len(ql) else 0.0,
        }
    if work is not None:
        flops, hbm, peak_flops, peak_bw = work
        summary["mfu"] = flops / duration / peak_flops
        summary["mbu"] = hbm / duration / peak_bw
    if replica_busy:
        util = [min(b / duration, 1.0) for b, _c in replica_busy]
        summary["busy_fraction"] = float(
            sum(u * c for u, (_b, c) in zip(util, replica_busy, strict=True))
            / sum(c for _b, c in replica_busy)
        )
        if card_power is not None:
            idle, tdp = card_power
            joules = sum(
                c * (idle + u * (tdp - idle)) * duration
                for u, (_b, c) in zip(util, replica_busy, strict=True)
            )
            summary["energy"] = {
                "joules": joules,
                "mean_power_w": joules / duration,
                "joules_per_output_token": joules / out if out else math.nan,
                "joules_per_token": joules / (inp + out) if inp + out else math.nan,
            }
    return summary
