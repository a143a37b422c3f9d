"""Request streams: arrival processes, length models and trace readers.

A traffic profile (``TrafficSpec``, one YAML mapping in ``workloads/traffic/`` or inline in a
scenario) says *when* requests arrive and *how long* their prompts and outputs are. ``generate``
turns it into a ``Requests`` table (numpy columns) with a seeded ``numpy.random.Generator`` —
never the global RNG — so the same spec and seed give the same requests.

Arrival processes (``arrival``):

- ``poisson``: exponential gaps at ``rate``;
- ``gamma``: Gamma gaps with mean ``1/rate`` and coefficient of variation ``cv`` (burstiness;
  ``cv = 1`` is Poisson, ``cv > 1`` bursty, ``cv < 1`` smoother);
- ``constant``: gaps of exactly ``1/rate``;
- ``closed_loop``: ``clients`` users, each sending its next request ``think_time`` after its last
  one returns (arrival times are decided by the engine; here only lengths are drawn). With a
  ``rate`` as well, requests are also released at Poisson times of that rate and a free client
  waits for the next release — a benchmark client with a request rate *and* a concurrency cap
  (SGLang/vLLM ``bench_serving --request-rate R --max-concurrency N``);
- ``trace``: replay a trace's arrival times (``time_scale`` stretches them; a ``rate`` rescales
  them to that mean rate instead) with the trace's own lengths;
- ``servegen``: a ServeGen per-client workload model: per 600 s window a rate, a Gamma or
  Weibull inter-arrival family rescaled to the window's rate, and length PDFs per 6 h window.

Length models (``lengths.kind``): ``fixed``, ``uniform`` (inclusive integer ranges),
``lognormal`` (median and log-space sigma, clipped to ``[1, max]``), ``empirical`` (joint
(prompt, output) pairs drawn with replacement from a trace).

Trace readers (each rejects a bad row with ``file:line`` — nothing is skipped silently):

- ``read_azure_csv``: Azure LLM inference 2023 (``TIMESTAMP,ContextTokens,GeneratedTokens``);
- ``read_mooncake_jsonl``: Mooncake FAST'25 (``timestamp`` ms, lengths, ``hash_ids`` of 512-token
  prefix blocks -> prefix-cache hits, see below);
- ``read_lengths_csv``: a length-only CSV (vidur's ``num_prefill_tokens,num_decode_tokens``);
- ``read_servegen``: ServeGen ``chunk-N-trace.csv`` + ``chunk-N-dataset.json``.

Prefix-cache hits: a Mooncake request's leading ``hash_ids`` blocks already seen earlier in the
trace count as cached (one cluster-wide prefix cache of unlimited size — the upper bound the
trace README calls "re-seen"); elsewhere ``prefix_hit_rate`` marks that share of every prompt
as cached. Cached tokens are capped at ``prompt - 1`` (the last prompt token is always computed
to produce the first output token).
"""

from __future__ import annotations

import ast
import csv
import datetime as _dt
import hashlib
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import BeforeValidator, Field, field_validator, model_validator

from accelsim.catalog.schema import Frozen, Time
from accelsim.errors import AccelsimError
from accelsim.units import parse_quantity

__all__ = [
    "ArrivalKind",
    "EmpiricalLengths",
    "FixedLengths",
    "LengthModel",
    "LognormalLengths",
    "Requests",
    "ServeGenClient",
    "Trace",
    "TraceError",
    "TraceFormat",
    "TrafficSpec",
    "UniformLengths",
    "check_context",
    "generate",
    "parse_rate",
    "read_azure_csv",
    "read_lengths_csv",
    "read_mooncake_jsonl",
    "read_servegen",
    "read_trace",
]

MOONCAKE_BLOCK_TOKENS = 512  # Mooncake FAST'25 README: hash_ids are 512-token blocks
#: The most requests one traffic spec may draw (a bound checked before allocating: ten
#: million requests are about a gigabyte of columns and hours of simulation).
MAX_REQUESTS = 10_000_000
#: The most tokens one prompt or output may have (no model reads a billion tokens).
MAX_TOKENS = 1_000_000_000
#: The longest field a trace row may have (csv's own default limit is 131,072 characters).
MAX_TRACE_FIELD = 100_000
_ASCII_INT = re.compile(r"^\s*\+?[0-9]{1,18}\s*$")


class TraceError(AccelsimError):
    """A trace file has a bad row; the message names file and line."""


def parse_rate(value: object) -> float:
    """Requests per second from ``40``, ``"40/s"``, ``"40 req/s"`` or ``"2400/min"``."""
    if isinstance(value, str):
        text = value
        for word in ("requests", "request", "reqs", "req"):
            text = text.replace(word, "")
        text = text.strip()
        if text.startswith("/"):
            text = "1" + text
        return parse_quantity(text, "rate")
    return parse_quantity(value, "rate")


Rate = Annotated[
    float, BeforeValidator(lambda v: None if v is None else parse_rate(v)), Field(gt=0)
]

TraceFormat = Literal["azure", "mooncake", "lengths_csv", "servegen"]
ArrivalKind = Literal["poisson", "gamma", "constant", "closed_loop", "trace", "servegen"]


# ---- traces ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Trace:
    """Per-request columns read from a trace file (``arrived_at`` is ``None`` for length-only
    traces); times are seconds from the first request."""

    path: str
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray
    cached_tokens: np.ndarray
    arrived_at: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.prompt_tokens)


def _int_field(path: Path, line: int, name: str, text: object, minimum: int) -> int:
    """A token count: a JSON integer or ASCII digits (never ``true``, ``10.9``, ``"12"`` in
    JSON, non-ASCII digits or a number over ``MAX_TOKENS``)."""
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    elif isinstance(text, str) and _ASCII_INT.match(text) and not text.isspace():
        value = int(text)
    else:
        shown = text if not isinstance(text, str) or len(text) <= 40 else text[:40] + "..."
        raise TraceError(f"{path}:{line}: field {name}: not a whole number ({shown!r})")
    if value > MAX_TOKENS:
        raise TraceError(f"{path}:{line}: field {name}: {value} is over {MAX_TOKENS:,} tokens")
    if value < minimum:
        raise TraceError(f"{path}:{line}: field {name}: must be >= {minimum} (got {value})")
    return value


@lru_cache(maxsize=64)
def _day_seconds(date_text: str) -> float:
    day = _dt.date.fromisoformat(date_text)
    return (day - _dt.date(1970, 1, 1)).days * 86400.0


def _azure_time(path: Path, line: int, text: str) -> float:
    try:
        date_text, clock = text.strip().split(" ")
        hh, mm, ss = clock.split(":")
        if not (hh.isascii() and hh.isdigit() and mm.isascii() and mm.isdigit()):
            raise ValueError(clock)
        if not re.fullmatch(r"[0-9]+(?:\.[0-9]*)?", ss):
            raise ValueError(ss)
        return _day_seconds(date_text) + int(hh) * 3600 + int(mm) * 60 + float(ss)
    except (ValueError, TypeError):
        raise TraceError(
            f"{path}:{line}: field TIMESTAMP: expected 'YYYY-MM-DD HH:MM:SS.fff' (got {text!r})"
        ) from None


def read_azure_csv(path: str | Path) -> Trace:
    """Azure LLM inference trace 2023: ``TIMESTAMP,ContextTokens,GeneratedTokens`` with a header.

    Times become seconds after the first row; rows must be in time order.
    """
    path = Path(path)
    times: list[float] = []
    prompts: list[int] = []
    outputs: list[int] = []
    with _open(path) as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        expected = ["TIMESTAMP", "ContextTokens", "GeneratedTokens"]
        if header is None or [h.strip() for h in header] != expected:
            raise TraceError(f"{path}:1: expected header {','.join(expected)} (got {header})")
        last = -math.inf
        for row in reader:
            line = reader.line_num
            if len(row) != 3:
                raise TraceError(f"{path}:{line}: expected 3 fields, got {len(row)}")
            t = _azure_time(path, line, row[0])
            if t < last:
                raise TraceError(f"{path}:{line}: field TIMESTAMP: earlier than the row before")
            last = t
            times.append(t)
            prompts.append(_int_field(path, line, "ContextTokens", row[1], 1))
            outputs.append(_int_field(path, line, "GeneratedTokens", row[2], 1))
    if not times:
        raise TraceError(f"{path}: no requests")
    arrived = np.asarray(times, dtype=np.float64)
    arrived -= arrived[0]
    p = np.asarray(prompts, dtype=np.int64)
    return Trace(str(path), p, np.asarray(outputs, dtype=np.int64), np.zeros_like(p), arrived)


def read_mooncake_jsonl(path: str | Path, block_tokens: int = MOONCAKE_BLOCK_TOKENS) -> Trace:
    """Mooncake FAST'25 JSON Lines: ``timestamp`` (ms), ``input_length``, ``output_length``,
    ``hash_ids``. Cached tokens are the leading blocks seen earlier in the trace (an unlimited,
    cluster-wide prefix cache), capped at ``input_length - 1``."""
    path = Path(path)
    times: list[float] = []
    prompts: list[int] = []
    outputs: list[int] = []
    cached: list[int] = []
    seen: set[int] = set()
    last = -math.inf
    with _open(path) as fh:
        for line, text in enumerate(fh, start=1):
            if not text.strip():
                raise TraceError(f"{path}:{line}: empty line")
            if len(text) > MAX_TRACE_FIELD * 10:
                raise TraceError(f"{path}:{line}: a line of {len(text):,} characters is too long")
            try:
                row = json.loads(text, parse_constant=_no_constant)
            except json.JSONDecodeError as exc:
                raise TraceError(f"{path}:{line}: not JSON ({exc.msg})") from None
            except ValueError as exc:
                raise TraceError(f"{path}:{line}: {exc}") from None
            if not isinstance(row, dict):
                raise TraceError(f"{path}:{line}: expected a JSON object")
            for key in ("timestamp", "input_length", "output_length"):
                if key not in row:
                    raise TraceError(f"{path}:{line}: missing field {key}")
            t = row["timestamp"]
            if (
                isinstance(t, bool)
                or not isinstance(t, int | float)
                or not math.isfinite(t)
                or t < 0
            ):
                raise TraceError(f"{path}:{line}: field timestamp: not a time in ms ({t!r})")
            if t < last:
                raise TraceError(f"{path}:{line}: field timestamp: earlier than the row before")
            last = t
            for key in ("input_length", "output_length"):
                if isinstance(row[key], str):
                    raise TraceError(f"{path}:{line}: field {key}: not a JSON integer")
            p = _int_field(path, line, "input_length", row["input_length"], 1)
            o = _int_field(path, line, "output_length", row["output_length"], 1)
            hashes = row.get("hash_ids", [])
            if not isinstance(hashes, list) or not all(
                isinstance(h, int | str) and not isinstance(h, bool) for h in hashes
            ):
                raise TraceError(f"{path}:{line}: field hash_ids: expected a list of block ids")
            hits = 0
            for h in hashes:
                if h in seen:
                    hits += 1
                else:
                    break
            seen.update(hashes)
            times.append(t / 1000.0)
            prompts.append(p)
            outputs.append(o)
            cached.append(min(hits * block_tokens, p - 1))
    if not times:
        raise TraceError(f"{path}: no requests")
    arrived = np.asarray(times, dtype=np.float64)
    arrived -= arrived[0]
    return Trace(
        str(path),
        np.asarray(prompts, dtype=np.int64),
        np.asarray(outputs, dtype=np.int64),
        np.asarray(cached, dtype=np.int64),
        arrived,
    )


def read_lengths_csv(path: str | Path) -> Trace:
    """A length-only CSV with a header naming ``num_prefill_tokens`` and ``num_decode_tokens``
    (vidur's processed traces); no arrival times."""
    path = Path(path)
    prompts: list[int] = []
    outputs: list[int] = []
    with _open(path) as fh:
        reader = csv.DictReader(fh)
        fields = reader.fieldnames or []
        for need in ("num_prefill_tokens", "num_decode_tokens"):
            if need not in fields:
                raise TraceError(f"{path}:1: header lacks column {need}")
        for row in reader:
            line = reader.line_num
            prompts.append(
                _int_field(path, line, "num_prefill_tokens", row["num_prefill_tokens"], 1)
            )
            outputs.append(_int_field(path, line, "num_decode_tokens", row["num_decode_tokens"], 1))
    if not prompts:
        raise TraceError(f"{path}: no requests")
    p = np.asarray(prompts, dtype=np.int64)
    return Trace(str(path), p, np.asarray(outputs, dtype=np.int64), np.zeros_like(p))


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number a trace may hold")


class _TraceText:
    """A trace file opened for reading as strict UTF-8: a bad byte, a UTF-16 file, a NUL
    byte or an over-long CSV field is one ``TraceError`` naming the file (and the line)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            with path.open("rb") as fh:
                head = fh.read(4)
            self.fh = path.open(encoding="utf-8", errors="strict", newline="")
        except OSError as exc:
            raise TraceError(f"{path}: cannot read ({exc.strerror})") from None
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):
            self.fh.close()
            raise TraceError(f"{path}: is UTF-16 text; save it as UTF-8")

    def __enter__(self):
        return self._lines()

    def _lines(self):
        for text in self.fh:
            if "\x00" in text:
                raise TraceError(f"{self.path}: holds NUL bytes (a binary file?)")
            yield text

    def __exit__(self, kind, exc, tb) -> bool:
        self.fh.close()
        if isinstance(exc, UnicodeDecodeError):
            raise TraceError(f"{self.path}: not UTF-8 text; save it as UTF-8") from None
        if isinstance(exc, csv.Error):
            raise TraceError(f"{self.path}: not a CSV file ({exc})") from None
        return False


def _open(path: Path) -> _TraceText:
    return _TraceText(path)


@dataclass(frozen=True)
class ServeGenWindow:
    start: float
    rate: float
    cv: float
    pattern: str  # "Gamma", "Weibull" or "" (inactive)
    shape: float
    scale: float


@dataclass(frozen=True)
class ServeGenClient:
    """One ServeGen client: 600 s rate windows and per-6-h-window length PDFs."""

    path: str
    windows: tuple[ServeGenWindow, ...]
    # window start -> (input values, input probs, output values, output probs)
    lengths: dict[float, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]

    def length_window(self, t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        starts = sorted(self.lengths)
        key = starts[0]
        for s in starts:
            if s <= t:
                key = s
        return self.lengths[key]


def _pdf(path: Path, key: str, text: object) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(text, str):
        raise TraceError(f"{path}: window {key}: expected a string holding a {{value: prob}} dict")
    try:
        pdf = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise TraceError(f"{path}: window {key}: cannot read the PDF literal") from None
    if not isinstance(pdf, dict) or not pdf:
        raise TraceError(f"{path}: window {key}: expected a non-empty {{value: prob}} dict")
    values = np.asarray([int(v) for v in pdf], dtype=np.int64)
    probs = np.asarray([float(p) for p in pdf.values()], dtype=np.float64)
    if (values < 1).any() or (probs < 0).any() or probs.sum() <= 0:
        raise TraceError(f"{path}: window {key}: lengths must be >= 1 and probabilities >= 0")
    return values, probs / probs.sum()


def read_servegen(trace_csv: str | Path, dataset_json: str | Path | None = None) -> ServeGenClient:
    """A ServeGen client: ``chunk-N-trace.csv`` (``window_start,rate,cv,pattern,shape,scale``,
    no header) and its ``chunk-N-dataset.json`` (found beside it when not given)."""
    trace_csv = Path(trace_csv)
    if dataset_json is None:
        dataset_json = trace_csv.with_name(trace_csv.name.replace("trace.csv", "dataset.json"))
    dataset_json = Path(dataset_json)
    windows = []
    with _open(trace_csv) as fh:
        for line, row in enumerate(csv.reader(fh), start=1):
            if len(row) != 6:
                raise TraceError(f"{trace_csv}:{line}: expected 6 fields, got {len(row)}")
            try:
                start, rate, cv = float(row[0]), float(row[1]), float(row[2])
                shape, scale = float(row[4]), float(row[5])
            except ValueError:
                raise TraceError(f"{trace_csv}:{line}: a numeric field is not a number") from None
            pattern = row[3].strip()
            if pattern not in ("", "Gamma", "Weibull"):
                raise TraceError(f"{trace_csv}:{line}: field pattern: unknown {pattern!r}")
            if rate < 0 or (pattern and (rate <= 0 or shape <= 0 or scale <= 0)):
                raise TraceError(f"{trace_csv}:{line}: rate, shape and scale must be positive")
            if windows and start <= windows[-1].start:
                raise TraceError(f"{trace_csv}:{line}: window start not after the row before")
            windows.append(ServeGenWindow(start, rate, cv, pattern, shape, scale))
    try:
        data = json.loads(dataset_json.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TraceError(f"{dataset_json}: cannot read ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise TraceError(f"{dataset_json}:{exc.lineno}: not JSON ({exc.msg})") from None
    lengths = {}
    for key, entry in data.items():
        if (
            not isinstance(entry, dict)
            or "input_tokens" not in entry
            or "output_tokens" not in entry
        ):
            raise TraceError(f"{dataset_json}: window {key}: needs input_tokens and output_tokens")
        lengths[float(key)] = (
            *_pdf(dataset_json, key, entry["input_tokens"]),
            *_pdf(dataset_json, key, entry["output_tokens"]),
        )
    if not windows or not lengths:
        raise TraceError(f"{trace_csv}: no windows")
    return ServeGenClient(str(trace_csv), tuple(windows), lengths)


def read_trace(path: str | Path, fmt: TraceFormat | None = None) -> Trace:
    """Read a per-request trace; ``fmt`` defaults from the extension (.jsonl -> mooncake; .csv:
    Azure when the header says TIMESTAMP, else a length-only CSV)."""
    path = Path(path)
    if fmt is None:
        fmt = guess_format(path)
    if fmt == "azure":
        return read_azure_csv(path)
    if fmt == "mooncake":
        return read_mooncake_jsonl(path)
    if fmt == "lengths_csv":
        return read_lengths_csv(path)
    raise TraceError(f"{path}: format {fmt!r} is not a per-request trace")


def guess_format(path: Path) -> TraceFormat:
    if path.suffix == ".jsonl":
        return "mooncake"
    if path.name.endswith("trace.csv") and "servegen" in path.name:
        return "servegen"
    with _open(path) as lines:
        first = next(lines, "")
    return "azure" if first.startswith("TIMESTAMP") else "lengths_csv"


@lru_cache(maxsize=16)
def _cached_trace(path: str, fmt: str | None, mtime: float) -> Trace:
    return read_trace(path, fmt)  # type: ignore[arg-type]


def load_trace(path: Path, fmt: TraceFormat | None = None) -> Trace:
    """``read_trace`` memoised on (path, format, mtime) — traces are read once per process."""
    try:
        mtime = path.stat().st_mtime
    except OSError as exc:
        raise TraceError(f"{path}: cannot read ({exc.strerror})") from None
    return _cached_trace(str(path), fmt, mtime)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB chunks (a trace may be gigabytes)."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(2**20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise TraceError(f"{path}: cannot read ({exc.strerror})") from None
    return digest.hexdigest()


# ---- length models -----------------------------------------------------------------------
class FixedLengths(Frozen):
    kind: Literal["fixed"] = "fixed"
    prompt: int = Field(ge=1, le=MAX_TOKENS)
    output: int = Field(ge=1, le=MAX_TOKENS)

    def sample(self, n: int, rng: np.random.Generator, resolve: Resolver) -> tuple[np.ndarray, ...]:
        return np.full(n, self.prompt, np.int64), np.full(n, self.output, np.int64)


class UniformLengths(Frozen):
    """Integers drawn uniformly from the inclusive ranges ``[lo, hi]``."""

    kind: Literal["uniform"] = "uniform"
    prompt: tuple[int, int]
    output: tuple[int, int]

    @model_validator(mode="after")
    def _check(self) -> UniformLengths:
        for name in ("prompt", "output"):
            lo, hi = getattr(self, name)
            if lo < 1 or hi < lo or hi > MAX_TOKENS:
                raise ValueError(f"{name}: need 1 <= lo <= hi <= {MAX_TOKENS:,}")
        return self

    def sample(self, n: int, rng: np.random.Generator, resolve: Resolver) -> tuple[np.ndarray, ...]:
        p = rng.integers(self.prompt[0], self.prompt[1], n, endpoint=True, dtype=np.int64)
        o = rng.integers(self.output[0], self.output[1], n, endpoint=True, dtype=np.int64)
        return p, o


class LognormalLengths(Frozen):
    """``round(median * exp(sigma * N(0,1)))`` clipped to ``[1, max]``, prompt and output
    independent."""

    kind: Literal["lognormal"] = "lognormal"
    prompt_median: float = Field(gt=0)
    prompt_sigma: float = Field(ge=0)
    output_median: float = Field(gt=0)
    output_sigma: float = Field(ge=0)
    max_prompt: int = Field(default=32768, ge=1, le=MAX_TOKENS)
    max_output: int = Field(default=4096, ge=1, le=MAX_TOKENS)

    def sample(self, n: int, rng: np.random.Generator, resolve: Resolver) -> tuple[np.ndarray, ...]:
        p = self.prompt_median * np.exp(self.prompt_sigma * rng.standard_normal(n))
        o = self.output_median * np.exp(self.output_sigma * rng.standard_normal(n))
        p = np.clip(np.rint(p), 1, self.max_prompt).astype(np.int64)
        o = np.clip(np.rint(o), 1, self.max_output).astype(np.int64)
        return p, o


class EmpiricalLengths(Frozen):
    """(prompt, output) pairs drawn with replacement from a trace's rows."""

    kind: Literal["empirical"] = "empirical"
    trace: str
    format: TraceFormat | None = None

    def sample(self, n: int, rng: np.random.Generator, resolve: Resolver) -> tuple[np.ndarray, ...]:
        tr = load_trace(resolve(self.trace), self.format)
        idx = rng.integers(0, len(tr), n)
        return tr.prompt_tokens[idx], tr.output_tokens[idx]


LengthModel = Annotated[
    FixedLengths | UniformLengths | LognormalLengths | EmpiricalLengths,
    Field(discriminator="kind"),
]
Resolver = Callable[[str], Path]


# ---- the traffic spec --------------------------------------------------------------------
class TrafficSpec(Frozen):
    """Arrivals plus lengths (see the module docstring). Count: ``requests`` (the first N) and
    / or ``duration`` (arrivals before it); a synthetic open-loop stream needs one of them."""

    name: str | None = None
    description: str = ""
    arrival: ArrivalKind = "poisson"
    rate: Rate | None = None
    cv: float = Field(default=1.0, gt=0)
    clients: int | None = Field(default=None, ge=1, le=MAX_REQUESTS)
    think_time: Time = 0.0
    trace: str | None = None
    format: TraceFormat | None = None
    time_scale: float = Field(default=1.0, gt=0)
    start: Time = 0.0
    lengths: LengthModel | None = None
    requests: int | None = Field(default=None, ge=1, le=MAX_REQUESTS)
    duration: Time | None = None
    prefix_hit_rate: float = Field(default=0.0, ge=0, lt=1)
    trace_sha256: str | None = None

    @field_validator("requests", "clients", mode="before")
    @classmethod
    def _whole(cls, value: object) -> object:
        if isinstance(value, bool):
            raise ValueError("expected a whole number, not true/false")
        return value

    @model_validator(mode="after")
    def _check(self) -> TrafficSpec:
        a = self.arrival
        if (
            a in ("poisson", "gamma", "constant")
            and self.requests is None
            and self.rate is not None
            and self.duration is not None
            and self.rate * self.duration > MAX_REQUESTS
        ):
            raise ValueError(
                f"rate x duration is {self.rate * self.duration:.3g} requests, over the "
                f"{MAX_REQUESTS:,} one run may draw (give requests, or a shorter duration)"
            )
        if a in ("poisson", "gamma", "constant") and self.rate is None:
            raise ValueError(f"{a} arrivals need a rate")
        if a == "closed_loop" and (self.clients is None or self.requests is None):
            raise ValueError("closed_loop arrivals need clients and requests")
        if a in ("trace", "servegen") and self.trace is None:
            raise ValueError(f"{a} arrivals need a trace file")
        if a not in ("trace", "servegen") and self.lengths is None:
            raise ValueError(f"{a} arrivals need a lengths model")
        if a in ("poisson", "gamma", "constant", "closed_loop") and (
            self.requests is None and self.duration is None
        ):
            raise ValueError(f"{a} arrivals need requests or duration")
        return self


@dataclass(frozen=True)
class Requests:
    """The request table a run starts from. ``arrived_at`` is NaN for closed-loop requests
    (the engine sets it), or their release times when the closed loop also has a rate;
    ``clients`` and ``think_time`` are set only for closed loops."""

    arrived_at: np.ndarray
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray
    cached_tokens: np.ndarray
    clients: int | None = None
    think_time: float = 0.0

    def __len__(self) -> int:
        return len(self.prompt_tokens)

    @staticmethod
    def from_arrays(arrived_at, prompt, output, cached=None) -> Requests:
        p = np.asarray(prompt, dtype=np.int64)
        c = np.zeros_like(p) if cached is None else np.asarray(cached, dtype=np.int64)
        return Requests(
            np.asarray(arrived_at, dtype=np.float64), p, np.asarray(output, dtype=np.int64), c
        )


def _gaps(spec: TrafficSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    mean = 1.0 / spec.rate  # type: ignore[operator]
    if spec.arrival == "poisson":
        return rng.exponential(mean, n)
    if spec.arrival == "gamma":
        shape = 1.0 / spec.cv**2
        return rng.gamma(shape, mean / shape, n)
    return np.full(n, mean)


def _open_loop_times(spec: TrafficSpec, rng: np.random.Generator) -> np.ndarray:
    if spec.requests is not None:
        times = np.cumsum(_gaps(spec, spec.requests, rng))
        if spec.duration is not None:
            times = times[times < spec.duration]
        return times
    assert spec.duration is not None and spec.rate is not None
    parts = []
    t = 0.0
    chunk = max(int(spec.duration * spec.rate * 1.1) + 16, 16)
    while t < spec.duration:
        times = t + np.cumsum(_gaps(spec, chunk, rng))
        parts.append(times)
        t = float(times[-1])
    times = np.concatenate(parts)
    return times[times < spec.duration]


def _servegen_times(client: ServeGenClient, spec: TrafficSpec, rng: np.random.Generator):
    from scipy.special import gamma as gamma_fn

    out = []
    for i, w in enumerate(client.windows):
        if not w.pattern or w.rate <= 0:
            continue
        end = client.windows[i + 1].start if i + 1 < len(client.windows) else w.start + 600.0
        n = max(int((end - w.start) * w.rate * 2) + 8, 8)
        if w.pattern == "Gamma":
            raw = rng.gamma(w.shape, w.scale, n)
            fam_mean = w.shape * w.scale
        else:
            raw = w.scale * rng.weibull(w.shape, n)
            fam_mean = w.scale * float(gamma_fn(1 + 1 / w.shape))
        gaps = raw * (1.0 / w.rate) / fam_mean
        t = w.start + np.cumsum(gaps)
        while t[-1] < end:  # rare: draw more gaps
            more = (
                w.scale * rng.weibull(w.shape, n)
                if w.pattern == "Weibull"
                else rng.gamma(w.shape, w.scale, n)
            )
            t = np.concatenate([t, t[-1] + np.cumsum(more * (1.0 / w.rate) / fam_mean)])
        out.append(t[t < end])
    times = np.concatenate(out) if out else np.zeros(0)
    times = times[times >= spec.start] - spec.start
    return times


def generate(spec: TrafficSpec, rng: np.random.Generator, resolve: Resolver) -> Requests:
    """Draw the request table of ``spec``. ``resolve`` maps a trace path of the spec to a
    file (catalog roots); ``rng`` is used for arrivals first, then lengths, in a fixed order."""
    arrival_rng, length_rng = rng.spawn(2)
    clients = None
    if spec.arrival == "trace":
        tr = load_trace(resolve(spec.trace), spec.format)  # type: ignore[arg-type]
        if tr.arrived_at is None:
            raise AccelsimError(
                f"traffic: trace {spec.trace} has no arrival times; use arrival: poisson (or "
                "another process) with lengths: {kind: empirical, trace: ...}"
            )
        times = tr.arrived_at * spec.time_scale
        if spec.rate is not None and len(times) > 1 and times[-1] > 0:
            times = tr.arrived_at * ((len(times) - 1) / times[-1] / spec.rate) * spec.time_scale
        prompt, output, cached = tr.prompt_tokens, tr.output_tokens, tr.cached_tokens
        keep = len(times)
        if spec.duration is not None:
            keep = int(np.searchsorted(times, spec.duration, side="left"))
        if spec.requests is not None:
            keep = min(keep, spec.requests)
        times, prompt, output, cached = times[:keep], prompt[:keep], output[:keep], cached[:keep]
    elif spec.arrival == "servegen":
        client = read_servegen(resolve(spec.trace))  # type: ignore[arg-type]
        times = _servegen_times(client, spec, arrival_rng) * spec.time_scale
        if spec.duration is not None:
            times = times[times < spec.duration]
        if spec.requests is not None:
            times = times[: spec.requests]
        prompt = np.empty(len(times), np.int64)
        output = np.empty(len(times), np.int64)
        starts = sorted(client.lengths)
        window_of = (
            np.searchsorted(np.asarray(starts), times / spec.time_scale + spec.start, side="right")
            - 1
        )
        window_of = np.maximum(window_of, 0)
        for w_i, start in enumerate(starts):
            sel = np.nonzero(window_of == w_i)[0]
            if len(sel):
                iv, ip, ov, op = client.lengths[start]
                prompt[sel] = length_rng.choice(iv, len(sel), p=ip)
                output[sel] = length_rng.choice(ov, len(sel), p=op)
        cached = np.zeros_like(prompt)
    else:
        if spec.arrival == "closed_loop":
            assert spec.requests is not None
            if spec.rate is None:
                times = np.full(spec.requests, np.nan)
            else:
                times = np.cumsum(arrival_rng.exponential(1.0 / spec.rate, spec.requests))
            clients = spec.clients
        else:
            times = _open_loop_times(spec, arrival_rng)
        assert spec.lengths is not None
        prompt, output = spec.lengths.sample(len(times), length_rng, resolve)
        cached = np.zeros_like(prompt)
    prompt = np.asarray(prompt, dtype=np.int64)
    cached = np.asarray(cached, dtype=np.int64)
    if spec.prefix_hit_rate > 0:
        cached = np.maximum(cached, np.floor(prompt * spec.prefix_hit_rate).astype(np.int64))
    cached = np.minimum(cached, prompt - 1)
    return Requests(
        np.asarray(times, dtype=np.float64),
        prompt,
        np.asarray(output, dtype=np.int64),
        cached,
        clients=clients,
        think_time=spec.think_time if clients else 0.0,
    )


def check_context(requests: Requests, max_context: int, model: str, where: str) -> None:
    """Every request's prompt plus output must fit the model's ``max_context`` (a longer one
    would be served as if the model could read it): else an ``AccelsimError`` naming the
    first such request (``where``: the traffic's file or profile)."""
    if not len(requests):
        return
    total = requests.prompt_tokens + requests.output_tokens
    over = np.nonzero(total > max_context)[0]
    if len(over):
        i = int(over[0])
        raise AccelsimError(
            f"{where}: request {i} has {int(requests.prompt_tokens[i])} prompt + "
            f"{int(requests.output_tokens[i])} output tokens, over {model}'s max_context "
            f"{max_context:,} ({len(over):,} of {len(requests):,} requests are)"
        )
