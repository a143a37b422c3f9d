"""Pareto fronts, SLO filters and the best configuration per group — pure functions over rows.

A *row* is a flat mapping (``accelsim.sweep.store.flatten`` of a stored point). Both objectives
are minimized (cost per million tokens, a latency percentile). Rows where either value is
missing or not finite are left out of the front.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["best_per_group", "dominates", "meets_slo", "pareto_front", "plot_pareto"]


def _value(row: Mapping[str, Any], key: str) -> float | None:
    v = row.get(key)
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def dominates(a: Mapping[str, Any], b: Mapping[str, Any], x: str, y: str) -> bool:
    """``a`` is no worse than ``b`` in both ``x`` and ``y`` and better in one (minimizing)."""
    ax, ay, bx, by = _value(a, x), _value(a, y), _value(b, x), _value(b, y)
    if None in (ax, ay, bx, by):
        return False
    return ax <= bx and ay <= by and (ax < bx or ay < by)  # type: ignore[operator]


def pareto_front(rows: Iterable[Mapping[str, Any]], x: str, y: str) -> list[Mapping[str, Any]]:
    """The rows no other row dominates when minimizing ``x`` and ``y``, sorted by ``x``.

    Rows with equal ``(x, y)`` are all kept (neither dominates the other). O(n log n).
    """
    valid = [(r, _value(r, x), _value(r, y)) for r in rows]
    pts = sorted(
        ((r, vx, vy) for r, vx, vy in valid if vx is not None and vy is not None),
        key=lambda t: (t[1], t[2]),
    )
    front: list[Mapping[str, Any]] = []
    best_y = math.inf  # lowest y among rows with strictly smaller x
    i = 0
    while i < len(pts):
        j = i
        while j < len(pts) and pts[j][1] == pts[i][1]:
            j += 1
        group_min = pts[i][2]  # sorted by y within equal x
        if group_min < best_y:
            front.extend(r for r, _, vy in pts[i:j] if vy == group_min)
        best_y = min(best_y, group_min)
        i = j
    return front


def meets_slo(
    row: Mapping[str, Any], bounds: Mapping[str, tuple[float | None, float | None]]
) -> bool:
    """Whether ``row`` is ``ok`` and every SLO metric is present and within its bounds."""
    if row.get("status", "ok") != "ok":
        return False
    for key, (lo, hi) in bounds.items():
        v = _value(row, key)
        if v is None or (lo is not None and v < lo) or (hi is not None and v > hi):
            return False
    return True


def best_per_group(
    rows: Iterable[Mapping[str, Any]],
    group: str,
    cost: str,
    bounds: Mapping[str, tuple[float | None, float | None]] | None = None,
    tiebreak: Sequence[str] = (),
) -> dict[str, Mapping[str, Any]]:
    """``group value -> row`` with the lowest ``cost`` among rows meeting ``bounds``.

    Ties on cost go to the lower values of ``tiebreak`` metrics, then the lower point index.
    """
    best: dict[str, tuple[tuple[float, ...], Mapping[str, Any]]] = {}
    for r in rows:
        if not meets_slo(r, bounds or {}):
            continue
        c = _value(r, cost)
        if c is None:
            continue
        key = (c, *((_value(r, t) if _value(r, t) is not None else math.inf) for t in tiebreak))
        key = (*key, float(r.get("index", 0) or 0))
        g = str(r.get(group, "-"))
        if g not in best or key < best[g][0]:
            best[g] = (key, r)
    return {g: v[1] for g, v in sorted(best.items())}


def plot_pareto(
    rows: Sequence[Mapping[str, Any]],
    cost: str,
    latencies: Sequence[str],
    path: str | Path,
    group: str = "device",
    slo: Mapping[str, tuple[float | None, float | None]] | None = None,
    title: str | None = None,
) -> Path:
    """An SVG with one panel per latency metric: every ``ok`` point (coloured by ``group``), the
    Pareto front as a step line, and the SLO limit as a dashed line."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    ok = [r for r in rows if r.get("status", "ok") == "ok"]
    groups = sorted({str(r.get(group, "-")) for r in ok})
    n = max(len(latencies), 1)
    fig, axes = plt.subplots(1, n, figsize=(5.2 * n, 4.0), squeeze=False)
    cmap = plt.get_cmap("tab10")
    for ax, lat in zip(axes[0], latencies, strict=False):
        for gi, g in enumerate(groups):
            pts = [
                (_value(r, lat), _value(r, cost))
                for r in ok
                if str(r.get(group, "-")) == g
                and _value(r, lat) is not None
                and _value(r, cost) is not None
            ]
            if pts:
                xs, ys = zip(*pts, strict=True)
                ax.scatter(xs, ys, s=12, alpha=0.45, color=cmap(gi % 10), label=g)
        front = pareto_front(ok, lat, cost)
        if front:
            fx = [_value(r, lat) for r in front]
            fy = [_value(r, cost) for r in front]
            ax.step(fx, fy, where="post", color="black", linewidth=1.2, label="Pareto front")
            ax.scatter(fx, fy, s=22, color="black", zorder=3)
        if slo and lat in slo and slo[lat][1] is not None:
            ax.axvline(slo[lat][1], color="red", linestyle="--", linewidth=1, label="SLO")
        ax.set_xlabel(_label(lat))
        ax.set_ylabel(_label(cost))
        ax.set_xscale("log")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="svg")
    plt.close(fig)
    return out


def _label(key: str) -> str:
    labels = {
        "usd_per_mtok": "$ per million tokens",
        "tpot_p99": "p99 TPOT (s)",
        "ttft_p99": "p99 TTFT (s)",
    }
    return labels.get(key, key)
