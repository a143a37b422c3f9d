"""Per-request records, the typed run summary built from them, and the metric registry.

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
prompt_tokens     int64     prompt length
output_tokens     int64     output length
cached_tokens     int64     prompt tokens served from the prefix cache (no prefill compute)
preemptions       int32     times its KV was dropped and recomputed
replica           int32     replica it was routed to (-1 when rejected on arrival); with P/D
                            disaggregation the decode replica (prefill replicas come first)
outcome           str       ``completed`` or ``rejected``
reason            str       why it was rejected (empty when completed)
================  ========  ==========================================================

Summary definitions (``summarize`` builds a frozen ``Summary``; ``Summary.as_dict`` is its JSON
form, the ``summary.json`` of ``accelsim run --out``):

- ``duration_s``: from the first arrival to the last completion (the makespan); throughputs
  divide completed work by it;
- ``ttft_s`` = first_token_at - arrived_at; ``e2e_s`` = finished_at - arrived_at;
  ``queue_s`` = scheduled_at - arrived_at; ``tpot_s`` = (finished_at - first_token_at) /
  (output - 1) over requests with more than one output token;
- ``itl_s``: the duration of each decode iteration as seen by each sequence in it (a
  histogram with 2 % bins, so percentiles are good to about 2 %);
- goodput: requests that completed with TTFT <= ``slo_ttft`` and TPOT <= ``slo_tpot`` (a missing
  SLO always passes), as a share of arrived requests and as requests/s;
- ``activity``: the share of the run the cards' compute or HBM work at peak rate,
  ``max(mfu, mbu)`` (capped at 1), when the timing model reports its work; else the busy
  fraction. An iteration that runs is not a card at full power: a light decode batch moves a
  fraction of peak bytes and FLOPs (``accelsim.model.cost`` prices energy on this share);
- energy: each card draws ``idle + a * (tdp - idle)`` watts over ``duration_s``, ``a`` the
  ``activity`` (each replica's busy fraction when no work is reported); a linear power model
  between the card's idle power and its TDP (no host, network or PUE — those belong to tco);
- KV utilization and queue length are time-weighted over the per-bin timeline;
- ``mfu`` (model FLOPs utilization) and ``mbu`` (memory-bandwidth utilization), when the timing
  model reports each iteration's work (``work = (FLOPs, HBM bytes, peak FLOP/s, peak bytes/s)``
  summed over replicas): ``mfu`` = FLOPs of all iterations / ``duration_s`` / (dense peak
  FLOP/s of the compute dtype x cards); ``mbu`` = HBM bytes read and written / ``duration_s`` /
  (HBM bandwidth x cards). The FLOPs and bytes are those the roofline charges (weights, KV
  cache, activations; replicated ops counted on every rank that runs them), so both are
  hardware utilizations of the whole run, idle time included.

The metric registry ``METRICS`` names every figure of a summary once: its getter (a path in the
summary), label, unit and which direction is better. A metric's name is the key the sweep
evaluators flatten the summary to (``ttft_s.p99`` -> ``ttft_p99``, ``throughput.x`` -> ``x``,
other groups joined with ``_``), so a name reads the same from a ``Summary``, a
``summary.json`` mapping (``Metric.read``) and a sweep row. Questions (compare, what-if,
sizing), the validation cases and the tables look metrics up here instead of keeping key
tables of their own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any, Literal

import numpy as np

__all__ = [
    "HIGHER",
    "LOWER",
    "METRICS",
    "OUTCOMES",
    "REASONS",
    "RECORD_DTYPE",
    "Energy",
    "Goodput",
    "KVUtilization",
    "Metric",
    "Percentiles",
    "QueueLength",
    "RequestRecords",
    "SimResult",
    "Summary",
    "Throughput",
    "Timeline",
    "percentiles",
    "summarize",
]

OUTCOMES = ("pending", "completed", "rejected")
ITL_BINS = 400  # the ITL histogram: 50 bins a decade from 1 us (8 decades)
REASONS = ("", "exceeds_kv_capacity")

RECORD_DTYPE = np.dtype(
    [
        ("id", np.int64),
        ("arrived_at", np.float64),
        ("scheduled_at", np.float64),
        ("first_token_at", np.float64),
        ("finished_at", np.float64),
        ("prompt_tokens", np.int64),
        ("output_tokens", np.int64),
        ("cached_tokens", np.int64),
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

    @classmethod
    def pending(cls, arrived_at: np.ndarray, **columns: np.ndarray) -> RequestRecords:
        """Records of requests not yet served: instants NaN, ``replica`` -1, outcome pending,
        ``columns`` as given. The engine fills them in place through the column views
        (``records["finished_at"]``), so a run keeps one table, not columns and a copy."""
        nan = np.full(len(arrived_at), np.nan)
        return cls(
            arrived_at=arrived_at,
            scheduled_at=nan,
            first_token_at=nan,
            finished_at=nan,
            replica=np.full(len(arrived_at), -1, dtype=np.int32),
            **columns,
        )

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
    itl_hist: list[float] = field(default_factory=lambda: [0.0] * ITL_BINS)
    replicas: int = 1

    ITL_MIN_LOG10 = -6.0
    ITL_BINS_PER_DECADE = 50

    def add(self, t0: float, dt: float, waiting: int, kv_frac: float, n_dec: int) -> None:
        """Charge one iteration of ``dt`` seconds starting at ``t0`` to its bin (the engine's
        decode loop does the same sums inline, in the same order)."""
        b = int(t0 / self.width)
        busy = self.busy
        if b >= len(busy):
            self.grow(b)
        busy[b] += dt
        if waiting:
            self.queue[b] += waiting * dt
        self.kv[b] += kv_frac * dt
        kv_peak = self.kv_peak
        if kv_frac > kv_peak[b]:
            kv_peak[b] = kv_frac
        if n_dec:
            self.decoding[b] += n_dec * dt
            self.itl_hist[self.itl_index(dt)] += n_dec

    def grow(self, b: int) -> None:
        """Add empty bins up to bin ``b``."""
        grow = b + 1 - len(self.busy)
        if grow > 0:
            zeros = [0.0] * grow
            self.busy.extend(zeros)
            self.queue.extend(zeros)
            self.kv.extend(zeros)
            self.kv_peak.extend(zeros)
            self.decoding.extend(zeros)

    def itl_index(self, dt: float) -> int:
        """The ``itl_hist`` bin of a decode iteration of ``dt`` seconds."""
        i = int((math.log10(dt) - self.ITL_MIN_LOG10) * self.ITL_BINS_PER_DECADE)
        top = len(self.itl_hist) - 1
        return 0 if i < 0 else (i if i < top else top)

    def itl_percentiles(self) -> Percentiles:
        h = np.asarray(self.itl_hist)
        total = h.sum()
        if total <= 0:
            return Percentiles(math.nan, math.nan, math.nan, math.nan)
        centers = 10 ** (self.ITL_MIN_LOG10 + (np.arange(len(h)) + 0.5) / self.ITL_BINS_PER_DECADE)
        cdf = np.cumsum(h) / total
        p50, p90, p99 = (float(centers[int(np.searchsorted(cdf, q / 100))]) for q in (50, 90, 99))
        return Percentiles(float((h * centers).sum() / total), p50, p90, p99)

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


# ---- the summary ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Percentiles:
    """mean, p50, p90 and p99 of a per-request (or per-sequence) figure; NaN when none."""

    mean: float
    p50: float
    p90: float
    p99: float


@dataclass(frozen=True, slots=True)
class Throughput:
    """Completed work over ``duration_s``."""

    requests_per_s: float
    input_tokens_per_s: float
    output_tokens_per_s: float
    total_tokens_per_s: float
    output_tokens_per_s_per_card: float
    total_tokens_per_s_per_card: float


@dataclass(frozen=True, slots=True)
class Goodput:
    """Requests meeting both SLOs (a missing SLO passes): share of arrived, and per second."""

    slo_ttft_s: float | None
    slo_tpot_s: float | None
    share: float
    requests_per_s: float


@dataclass(frozen=True, slots=True)
class KVUtilization:
    """KV blocks in use over capacity: busy-time mean and peak."""

    mean_busy: float
    peak: float


@dataclass(frozen=True, slots=True)
class QueueLength:
    """Waiting requests, summed over replicas: time mean and the busiest bin's mean."""

    mean: float
    max_bin_mean: float


@dataclass(frozen=True, slots=True)
class Energy:
    """The cards' energy under the linear power model (see the module docstring)."""

    joules: float
    mean_power_w: float
    joules_per_output_token: float
    joules_per_token: float


@dataclass(frozen=True, slots=True)
class Summary:
    """One run's summary (see the module docstring for every definition).

    The optional groups are ``None`` when the run did not measure them (no timeline, no
    reported iteration work, no card power); ``wall_s`` and ``iteration_model_calls`` describe
    the simulation itself; ``scenario``, ``digest``, ``device`` and ``model`` name what ran
    (set by ``accelsim.run``)."""

    arrived: int
    completed: int
    rejected: int
    rejected_by_reason: Mapping[str, int]
    preemptions: int
    cards: float
    duration_s: float
    throughput: Throughput
    cached_token_share: float
    ttft_s: Percentiles
    tpot_s: Percentiles
    e2e_s: Percentiles
    queue_s: Percentiles
    goodput: Goodput
    itl_s: Percentiles | None = None
    kv_utilization: KVUtilization | None = None
    queue_len: QueueLength | None = None
    mfu: float | None = None
    mbu: float | None = None
    busy_fraction: float | None = None
    activity: float | None = None
    energy: Energy | None = None
    wall_s: float | None = None
    iteration_model_calls: int | None = None
    scenario: str | None = None
    digest: str | None = None
    device: str | None = None
    model: str | None = None
    #: Requests of the traffic that arrive after the scenario's ``horizon`` and are never
    #: served (set by ``accelsim.run`` when a horizon is set): with ``arrived`` (= completed +
    #: rejected) they count every request the traffic drew.
    cut_by_horizon: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON form: groups as mappings, in field order; fields left ``None`` omitted."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if f.name == "rejected_by_reason":
                value = dict(value)
            elif hasattr(value, "__dataclass_fields__"):
                value = {g.name: getattr(value, g.name) for g in fields(value)}
            out[f.name] = value
        return out


# ---- the metric registry ----------------------------------------------------------------------

HIGHER: Literal[1] = 1  # higher is better
LOWER: Literal[-1] = -1  # lower is better


@dataclass(frozen=True, slots=True)
class Metric:
    """One figure: its name, label and display unit (``accelsim.units.format_value`` units:
    ``"s"``, ``"tok/s"``, ``""`` for a fraction...), which direction is better (``HIGHER``,
    ``LOWER`` or 0, neither) and its ``path`` in a ``Summary`` (empty for a figure a question
    computes beyond the summary, such as a cost)."""

    name: str
    label: str
    unit: str
    better: Literal[1, -1, 0]
    path: tuple[str, ...] = ()
    _get: Callable[[Summary], Any] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.path:
            object.__setattr__(self, "_get", attrgetter(".".join(self.path)))

    def get(self, summary: Summary) -> Any:
        """The metric's value in ``summary`` (``None`` when the run did not measure it)."""
        if self._get is None:
            raise KeyError(f"metric {self.name!r} is not a run-summary figure")
        try:
            return self._get(summary)
        except AttributeError:  # an optional group the run did not measure
            return None

    def read(self, data: Mapping[str, Any]) -> Any:
        """The metric's value in a summary's JSON form (``Summary.as_dict``, ``summary.json``);
        ``None`` when absent."""
        node: Any = data
        for key in self.path:
            if not isinstance(node, Mapping) or key not in node:
                return None
            node = node[key]
        return node


def _percentile_metrics(group: str, short: str, label: str) -> list[Metric]:
    return [
        Metric(f"{short}_{q}", f"{label} {q}", "s", LOWER, (group, q))
        for q in ("mean", "p50", "p90", "p99")
    ]


#: Every figure of a run summary, by name (see the module docstring).
METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("arrived", "requests arrived", "", 0, ("arrived",)),
        Metric("completed", "requests completed", "", HIGHER, ("completed",)),
        Metric("rejected", "requests rejected", "", LOWER, ("rejected",)),
        Metric("preemptions", "preemptions", "", LOWER, ("preemptions",)),
        Metric("cards", "cards", "cards", 0, ("cards",)),
        Metric("duration_s", "duration", "s", 0, ("duration_s",)),
        Metric(
            "requests_per_s", "requests served", "req/s", HIGHER, ("throughput", "requests_per_s")
        ),
        Metric(
            "input_tokens_per_s",
            "input throughput",
            "tok/s",
            HIGHER,
            ("throughput", "input_tokens_per_s"),
        ),
        Metric(
            "output_tokens_per_s",
            "output throughput",
            "tok/s",
            HIGHER,
            ("throughput", "output_tokens_per_s"),
        ),
        Metric(
            "total_tokens_per_s",
            "total throughput",
            "tok/s",
            HIGHER,
            ("throughput", "total_tokens_per_s"),
        ),
        Metric(
            "output_tokens_per_s_per_card",
            "output throughput per card",
            "tok/s/card",
            HIGHER,
            ("throughput", "output_tokens_per_s_per_card"),
        ),
        Metric(
            "total_tokens_per_s_per_card",
            "total throughput per card",
            "tok/s/card",
            HIGHER,
            ("throughput", "total_tokens_per_s_per_card"),
        ),
        Metric("cached_token_share", "prefix-cache share", "", 0, ("cached_token_share",)),
        *_percentile_metrics("ttft_s", "ttft", "TTFT"),
        *_percentile_metrics("tpot_s", "tpot", "TPOT"),
        *_percentile_metrics("itl_s", "itl", "ITL"),
        *_percentile_metrics("e2e_s", "e2e", "end-to-end"),
        *_percentile_metrics("queue_s", "queue", "queueing"),
        Metric("goodput_share", "goodput (meets SLOs)", "", HIGHER, ("goodput", "share")),
        Metric(
            "goodput_requests_per_s",
            "goodput",
            "req/s",
            HIGHER,
            ("goodput", "requests_per_s"),
        ),
        Metric(
            "kv_utilization_mean_busy",
            "KV utilization mean",
            "",
            0,
            ("kv_utilization", "mean_busy"),
        ),
        Metric("kv_utilization_peak", "KV utilization peak", "", 0, ("kv_utilization", "peak")),
        Metric("queue_len_mean", "queue length mean", "", LOWER, ("queue_len", "mean")),
        Metric(
            "queue_len_max_bin_mean",
            "queue length, busiest bin",
            "",
            LOWER,
            ("queue_len", "max_bin_mean"),
        ),
        Metric("mfu", "model FLOPs utilization", "", HIGHER, ("mfu",)),
        Metric("mbu", "memory-bandwidth utilization", "", HIGHER, ("mbu",)),
        Metric("busy_fraction", "busy fraction", "", 0, ("busy_fraction",)),
        Metric("activity", "card activity (power)", "", 0, ("activity",)),
        Metric("energy_joules", "energy", "J", LOWER, ("energy", "joules")),
        Metric("energy_mean_power_w", "mean power", "W", LOWER, ("energy", "mean_power_w")),
        Metric(
            "energy_joules_per_output_token",
            "energy per output token",
            "J",
            LOWER,
            ("energy", "joules_per_output_token"),
        ),
        Metric(
            "energy_joules_per_token",
            "energy per token",
            "J",
            LOWER,
            ("energy", "joules_per_token"),
        ),
    )
}


@dataclass
class SimResult:
    """What ``simulate`` returns: per-request records, the summary, the timeline and the
    resolved scenario (when run from one)."""

    records: RequestRecords
    summary: Summary
    timeline: Timeline
    scenario: Any = None

    def to_frame(self) -> Any:
        return self.records.to_frame()


def percentiles(values: np.ndarray) -> Percentiles:
    """mean, p50, p90, p99 of the finite values (NaN when there are none)."""
    v = values[np.isfinite(values)]
    if not len(v):
        return Percentiles(math.nan, math.nan, math.nan, math.nan)
    p50, p90, p99 = np.percentile(v, [50, 90, 99])
    return Percentiles(float(v.mean()), float(p50), float(p90), float(p99))


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
    wall_s: float | None = None,
    iteration_model_calls: int | None = None,
) -> Summary:
    """The run's summary (see the module docstring for every definition)."""
    a = records.array
    outcome = a["outcome"]
    done = outcome == 1
    rejected = outcome == 2
    arrived = len(a)
    first = float(np.nanmin(a["arrived_at"])) if arrived else 0.0
    last = float(np.nanmax(a["finished_at"][done])) if done.any() else first
    duration = max(last - first, 1e-12)
    # the completed rows, one column at a time (a million rows: no copy of the whole table)
    every = bool(done.all())

    def col(name: str) -> np.ndarray:
        return a[name] if every else a[name][done]

    n_done = int(done.sum())
    inp = float(col("prompt_tokens").sum())
    out_tokens = col("output_tokens")
    out = float(out_tokens.sum())
    arrived_at = col("arrived_at")
    first_token_at = col("first_token_at")
    finished_at = col("finished_at")
    ttft = first_token_at - arrived_at
    e2e = finished_at - arrived_at
    queue = col("scheduled_at") - arrived_at
    del arrived_at
    multi = out_tokens > 1
    tpot = np.full(n_done, np.nan)
    tpot[multi] = (finished_at[multi] - first_token_at[multi]) / (out_tokens[multi] - 1)
    del first_token_at, finished_at, out_tokens, multi
    ok = np.ones(n_done, dtype=bool)
    if slo_ttft is not None:
        ok &= ttft <= slo_ttft
    if slo_tpot is not None:
        ok &= ~(tpot > slo_tpot)  # NaN (single-token outputs) passes
    good = int(ok.sum())
    reasons: dict[str, int] = {}
    for code in np.unique(a["reason"][rejected]):
        reasons[REASONS[int(code)]] = int((a["reason"][rejected] == code).sum())
    itl = kv = queue_len = mfu = mbu = busy_fraction = activity = energy = None
    if timeline is not None:
        cols = timeline.columns()
        itl = timeline.itl_percentiles()
        w_busy = float(np.sum(timeline.busy))
        kv = KVUtilization(
            mean_busy=float(np.sum(timeline.kv) / w_busy) if w_busy else 0.0,
            peak=float(np.max(cols["kv_peak"])) if len(cols["kv_peak"]) else 0.0,
        )
        ql = cols["queue_len"]
        queue_len = QueueLength(
            mean=float(ql.mean()) if len(ql) else 0.0,
            max_bin_mean=float(ql.max()) if len(ql) else 0.0,
        )
    if work is not None:
        flops, hbm, peak_flops, peak_bw = work
        mfu = flops / duration / peak_flops
        mbu = hbm / duration / peak_bw
    if replica_busy:
        util = [min(b / duration, 1.0) for b, _c in replica_busy]
        busy_fraction = float(
            sum(u * c for u, (_b, c) in zip(util, replica_busy, strict=True))
            / sum(c for _b, c in replica_busy)
        )
        activity = busy_fraction if mfu is None or mbu is None else min(max(mfu, mbu), 1.0)
        if card_power is not None:
            idle, tdp = card_power
            shares = util if mfu is None or mbu is None else [activity] * len(util)
            joules = sum(
                c * (idle + u * (tdp - idle)) * duration
                for u, (_b, c) in zip(shares, replica_busy, strict=True)
            )
            energy = Energy(
                joules=joules,
                mean_power_w=joules / duration,
                joules_per_output_token=joules / out if out else math.nan,
                joules_per_token=joules / (inp + out) if inp + out else math.nan,
            )
    return Summary(
        arrived=arrived,
        completed=n_done,
        rejected=int(rejected.sum()),
        rejected_by_reason=reasons,
        preemptions=int(a["preemptions"].sum()),
        cards=cards,
        duration_s=duration,
        throughput=Throughput(
            requests_per_s=n_done / duration,
            input_tokens_per_s=inp / duration,
            output_tokens_per_s=out / duration,
            total_tokens_per_s=(inp + out) / duration,
            output_tokens_per_s_per_card=out / duration / cards,
            total_tokens_per_s_per_card=(inp + out) / duration / cards,
        ),
        cached_token_share=float(col("cached_tokens").sum() / inp) if inp else 0.0,
        ttft_s=percentiles(ttft),
        tpot_s=percentiles(tpot),
        e2e_s=percentiles(e2e),
        queue_s=percentiles(queue),
        goodput=Goodput(
            slo_ttft_s=slo_ttft,
            slo_tpot_s=slo_tpot,
            share=good / arrived if arrived else math.nan,
            requests_per_s=good / duration,
        ),
        itl_s=itl,
        kv_utilization=kv,
        queue_len=queue_len,
        mfu=mfu,
        mbu=mbu,
        busy_fraction=busy_fraction,
        activity=activity,
        energy=energy,
        wall_s=wall_s,
        iteration_model_calls=iteration_model_calls,
    )
