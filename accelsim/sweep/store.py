"""The sweep's results table on disk: one SQLite file, one row per point, streamed as points finish.

Why SQLite rather than Parquet (or CSV/JSON lines):

- **Atomic per-row commits.** Each finished point is one transaction. In WAL mode a committed
  transaction is in the write-ahead log before ``commit()`` returns, so a sweep killed at any
  moment — SIGKILL included — loses no finished point, and the file is never left half-written:
  the next open replays or discards the WAL tail atomically (``PRAGMA integrity_check`` stays
  ``ok``). Parquet files are immutable once their footer is written; streaming means either
  rewriting the file per point or juggling many part files, and a kill mid-write leaves a file
  without a footer that no reader opens.
- **Resume is a primary-key lookup.** The key is the point digest (a hash of the point's whole
  input), so ``--resume`` reads the finished keys and skips them; re-running the same point
  replaces its row (``INSERT OR REPLACE``), never duplicates it.
- **No extra dependency**: ``sqlite3`` is in the standard library (Parquet needs pyarrow).
- **Readable everywhere**: ``pandas.read_sql("SELECT * FROM points", sqlite3.connect(path))``,
  the ``sqlite3`` shell, DuckDB; ``load_rows`` below flattens params and metrics into dicts.

``synchronous=NORMAL`` with WAL keeps every commit safe against a process crash (the OS holds
the written pages); only an OS crash or power loss can drop the last few commits, and even then
the file stays consistent. Only the coordinating process writes; workers return results to it.

Schema: ``points(digest PK, idx, status, params JSON, metrics JSON, message, seed, elapsed_s,
worker, finished_at)`` and ``meta(key PK, value)`` (the sweep file, base scenario, versions).
``status`` is ``ok``, ``skipped`` (the plan does not fit, with the reason) or ``error`` (the
point raised; ``message`` holds the exception).
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from accelsim.errors import AccelsimError

__all__ = ["ResultStore", "load_rows"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
    digest      TEXT PRIMARY KEY,
    idx         INTEGER NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('ok', 'skipped', 'error')),
    params      TEXT NOT NULL,
    metrics     TEXT,
    message     TEXT,
    seed        INTEGER,
    elapsed_s   REAL,
    worker      TEXT,
    finished_at REAL
);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT
);
"""


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    return str(o)


def _clean(value: Any) -> Any:
    """JSON has no NaN/inf: store them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _dumps(obj: Any) -> str:
    return json.dumps(_clean(obj), sort_keys=True, default=_json_default, allow_nan=False)


class ResultStore:
    """Append-only (per point) results table of one sweep."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise AccelsimError(f"{self.path}: not a readable sweep results file ({exc})") from None

    # ---- writing --------------------------------------------------------------------------
    def set_meta(self, items: dict[str, Any]) -> None:
        with self._tx():
            self.conn.executemany(
                "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                [(k, v if isinstance(v, str) else _dumps(v)) for k, v in items.items()],
            )

    def write(self, result: dict[str, Any]) -> None:
        """Record one finished point (one transaction)."""
        with self._tx():
            self.conn.execute(
                "INSERT OR REPLACE INTO points(digest, idx, status, params, metrics, message, "
                "seed, elapsed_s, worker, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    result["digest"],
                    int(result["index"]),
                    result["status"],
                    _dumps(result.get("params", {})),
                    None if result.get("metrics") is None else _dumps(result["metrics"]),
                    result.get("message"),
                    int(result["seed"]) if result.get("seed") is not None else None,
                    result.get("elapsed_s"),
                    result.get("worker"),
                    time.time(),
                ),
            )

    def _tx(self) -> _Tx:
        return _Tx(self.conn)

    # ---- reading --------------------------------------------------------------------------
    def finished(self, statuses: Iterable[str] = ("ok", "skipped", "error")) -> set[str]:
        marks = ",".join("?" for _ in statuses)
        cur = self.conn.execute(
            f"SELECT digest FROM points WHERE status IN ({marks})", (*statuses,)
        )
        return {r[0] for r in cur}

    def count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM points").fetchone()[0])

    def meta(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT key, value FROM meta"))

    def rows(self, digests: Iterable[str] | None = None) -> list[dict[str, Any]]:
        return _rows(self.conn, digests)

    def integrity(self) -> str:
        return str(self.conn.execute("PRAGMA integrity_check").fetchone()[0])

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Tx:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


def _rows(conn: sqlite3.Connection, digests: Iterable[str] | None) -> list[dict[str, Any]]:
    cur = conn.execute(
        "SELECT digest, idx, status, params, metrics, message, seed, elapsed_s, worker "
        "FROM points ORDER BY idx, digest"
    )
    wanted = None if digests is None else set(digests)
    out = []
    for digest, idx, status, params, metrics, message, seed, elapsed, worker in cur:
        if wanted is not None and digest not in wanted:
            continue
        out.append(
            {
                "digest": digest,
                "index": idx,
                "status": status,
                "params": json.loads(params),
                "metrics": json.loads(metrics) if metrics else {},
                "message": message,
                "seed": seed,
                "elapsed_s": elapsed,
                "worker": worker,
            }
        )
    return out


def load_rows(path: str | Path, flat: bool = True) -> list[dict[str, Any]]:
    """Rows of a results file (read-only); ``flat`` merges params and metrics into each row
    (``pandas.DataFrame(load_rows(path))`` is the usual next step)."""
    p = Path(path)
    if not p.is_file():
        raise AccelsimError(f"sweep results {str(path)!r} do not exist")
    conn = sqlite3.connect(f"file:{p}?mode=ro", uri=True, timeout=30.0)
    try:
        rows = _rows(conn, None)
    finally:
        conn.close()
    if not flat:
        return rows
    return [flatten(r) for r in rows]


def flatten(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k not in ("params", "metrics")}
    out.update(row["params"])
    out.update(row["metrics"])
    return out
