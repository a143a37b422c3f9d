"""Trace files: per-request arrival times and lengths read from published traces.

Each reader rejects a bad row with ``file:line`` — nothing is skipped silently:

- ``read_azure_csv``: Azure LLM inference 2023 (``TIMESTAMP,ContextTokens,GeneratedTokens``);
  a file of plain rows is read with one regular expression a line, anything else (quotes,
  spaces, an error to name) field by field through ``csv``, with the same arithmetic;
- ``read_mooncake_jsonl``: Mooncake FAST'25 (``timestamp`` ms, lengths, ``hash_ids`` of 512-token
  prefix blocks -> prefix-cache hits: a request's leading blocks already seen earlier in the
  trace count as cached, one cluster-wide prefix cache of unlimited size — the upper bound the
  trace README calls "re-seen"; capped at ``prompt - 1``);
- ``read_lengths_csv``: a length-only CSV (vidur's ``num_prefill_tokens,num_decode_tokens``);
- ``read_servegen``: ServeGen ``chunk-N-trace.csv`` + ``chunk-N-dataset.json``.

``load_trace`` memoises ``read_trace`` per process; ``accelsim.sim.traffic`` turns a trace into
a request stream.
"""

from __future__ import annotations

import ast
import csv
import datetime as _dt
import hashlib
import json
import math
import re
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np

from accelsim.errors import AccelsimError
from accelsim.files import atomic_path
from accelsim.units import cache_dir

__all__ = [
    "MAX_TOKENS",
    "MOONCAKE_BLOCK_TOKENS",
    "ServeGenClient",
    "ServeGenWindow",
    "Trace",
    "TraceError",
    "TraceFormat",
    "file_sha256",
    "guess_format",
    "load_trace",
    "read_azure_csv",
    "read_lengths_csv",
    "read_mooncake_jsonl",
    "read_servegen",
    "read_trace",
]

MOONCAKE_BLOCK_TOKENS = 512  # Mooncake FAST'25 README: hash_ids are 512-token blocks
#: The most tokens one prompt or output may have (no model reads a billion tokens).
MAX_TOKENS = 1_000_000_000
#: The longest field a trace row may have (csv's own default limit is 131,072 characters).
MAX_TRACE_FIELD = 100_000
_ASCII_INT = re.compile(r"^\s*\+?[0-9]{1,18}\s*$")


class TraceError(AccelsimError):
    """A trace file has a bad row; the message names file and line."""


TraceFormat = Literal["azure", "mooncake", "lengths_csv", "servegen"]


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


_AZURE_ROW = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2}) ([0-9]+):([0-9]+):([0-9]+(?:\.[0-9]*)?)"
    r",([0-9]{1,18}),([0-9]{1,18})"
)


def _azure_plain(path: Path) -> list[tuple[float, int, int]] | None:
    """The rows of an Azure CSV that holds only plain rows (``2023-11-16 18:15:46.6,374,44``),
    read with one regular expression a line (about 10x the csv path); None at the first other
    line (quotes, spaces, an error), for ``read_azure_csv``'s field-by-field reader to read or
    name. The same arithmetic as that reader, so the same floats."""
    rows: list[tuple[float, int, int]] = []
    match = _AZURE_ROW.fullmatch
    with _open(path) as fh:
        if next(fh, "").rstrip("\r\n") != "TIMESTAMP,ContextTokens,GeneratedTokens":
            return None
        last = -math.inf
        for text in fh:
            m = match(text.rstrip("\r\n"))
            if m is None:
                return None
            date_text, hh, mm, ss, prompt, output = m.groups()
            try:
                t = _day_seconds(date_text) + int(hh) * 3600 + int(mm) * 60 + float(ss)
            except ValueError:
                return None
            p, o = int(prompt), int(output)
            if t < last or not (1 <= p <= MAX_TOKENS and 1 <= o <= MAX_TOKENS):
                return None
            last = t
            rows.append((t, p, o))
    return rows or None


def read_azure_csv(path: str | Path) -> Trace:
    """Azure LLM inference trace 2023: ``TIMESTAMP,ContextTokens,GeneratedTokens`` with a header.

    Times become seconds after the first row; rows must be in time order.
    """
    path = Path(path)
    plain = _azure_plain(path)
    if plain is not None:
        arrived = np.array([r[0] for r in plain], dtype=np.float64)
        arrived -= arrived[0]
        p = np.array([r[1] for r in plain], dtype=np.int64)
        o = np.array([r[2] for r in plain], dtype=np.int64)
        return Trace(str(path), p, o, np.zeros_like(p), arrived)
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


_COLUMNS = ("prompt_tokens", "output_tokens", "cached_tokens", "arrived_at")


def _stored_trace(path: Path, fmt: str | None) -> Path:
    """Where the parsed columns of the trace at ``path`` are kept across processes: a file in
    ``accelsim.units.cache_dir()`` named by the SHA-256 of the trace's bytes, its format and a
    hash of this module (its readers), so that a changed trace or reader is parsed
    afresh and an unchanged one is read back as the very arrays it parsed to (``.npz``)."""
    reader = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
    kind = fmt or guess_format(path)  # the format a path's name and first line say
    return cache_dir() / f"trace-{file_sha256(path)[:32]}-{kind}-{reader}.npz"


def _read_stored(stored: Path, path: str) -> Trace | None:
    """The trace kept at ``stored``; None when there is none or it cannot be read whole."""
    try:
        with np.load(stored, allow_pickle=False) as z:
            cols = {k: z[k] for k in _COLUMNS if k in z.files}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    n = len(cols.get("prompt_tokens", ()))
    kinds = {"prompt_tokens": "i", "output_tokens": "i", "cached_tokens": "i", "arrived_at": "f"}
    if not set(_COLUMNS[:3]) <= set(cols) or any(
        a.ndim != 1 or len(a) != n or a.dtype.kind != kinds[k] for k, a in cols.items()
    ):
        return None
    return Trace(path, **cols)


def _store(stored: Path, trace: Trace) -> None:
    """Keep ``trace``'s columns at ``stored``, whole or not at all; silently skipped when the
    cache folder cannot be written."""
    cols = {k: getattr(trace, k) for k in _COLUMNS if getattr(trace, k) is not None}
    try:
        with atomic_path(stored) as tmp, tmp.open("wb") as fh:
            np.savez(fh, **cols)
    except AccelsimError:
        return


@lru_cache(maxsize=16)
def _cached_trace(path: str, fmt: str | None, mtime: float) -> Trace:
    stored = _stored_trace(Path(path), fmt)
    trace = _read_stored(stored, path)
    if trace is None:
        trace = read_trace(path, fmt)  # type: ignore[arg-type]
        _store(stored, trace)
    return trace


def load_trace(path: Path, fmt: TraceFormat | None = None) -> Trace:
    """``read_trace`` memoised on (path, format, mtime) — traces are read once per process —
    and kept across processes by content (``_stored_trace``; a missing or corrupt stored copy
    is parsed again)."""
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
