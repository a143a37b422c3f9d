"""The report's charts: matplotlib figures rendered to inline SVG text.

Deterministic by construction, so the same report data gives byte-identical SVG: the Agg
backend (no display), a fixed ``svg.hashsalt`` (element ids are hashes salted with it instead
of random), ``metadata={'Date': None}`` (no timestamp), text kept as ``<text>`` elements
(``svg.fonttype = 'none'``: smaller files, selectable text, no per-run glyph ids). The XML
prolog and DOCTYPE are stripped so the SVG can sit inside HTML.

matplotlib is imported when the first chart is drawn (``_mpl``), not with this module: every
command imports the report layer, few draw a chart (start-up, issue 18).
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "cost_chart",
    "memory_chart",
    "ratio_chart",
    "sweep_chart",
    "tco_chart",
    "tornado_chart",
]

_STYLE = {
    "svg.hashsalt": "accelsim-report",
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
#: Ten distinct colours (matplotlib's tab10, ``matplotlib.colormaps["tab10"].colors``) for
#: stacked components.
_STACK = (
    (0.12156862745098039, 0.4666666666666667, 0.7058823529411765),
    (1.0, 0.4980392156862745, 0.054901960784313725),
    (0.17254901960784313, 0.6274509803921569, 0.17254901960784313),
    (0.8392156862745098, 0.15294117647058825, 0.1568627450980392),
    (0.5803921568627451, 0.403921568627451, 0.7411764705882353),
    (0.5490196078431373, 0.33725490196078434, 0.29411764705882354),
    (0.8901960784313725, 0.4666666666666667, 0.7607843137254902),
    (0.4980392156862745, 0.4980392156862745, 0.4980392156862745),
    (0.7372549019607844, 0.7411764705882353, 0.13333333333333333),
    (0.09019607843137255, 0.7450980392156863, 0.8117647058823529),
)
_COLORS = ("#c0392b", "#2471a3", "#229954", "#b9770e", "#7d3c98", "#17a589", "#616a6b")


def _mpl() -> ModuleType:
    """matplotlib on the Agg backend, imported on first use (with ``pyplot``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot

    return matplotlib


def _plt() -> Any:
    return _mpl().pyplot


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": "accelsim"})
    _plt().close(fig)
    text = buf.getvalue()
    text = re.sub(r"^<\?xml[^>]*\?>\s*", "", text)
    text = re.sub(r"^<!DOCTYPE[^>]*>\s*", "", text, flags=re.S)
    return text.strip()


def _figure(width: float, height: float) -> Figure:
    fig = _plt().figure(figsize=(width, height), layout="constrained")
    return fig


def sweep_chart(curves: Mapping[str, Sequence[tuple[float, float, float]]], slo: tuple) -> str:
    """Throughput (x) against p99 TTFT and p50 TPOT (y), one line per device.

    ``curves[device]`` holds (output tok/s, TTFT p99 s, TPOT p50 s) per swept rate; ``slo`` is
    (TTFT target s or None, TPOT target s or None), drawn as dashed lines."""
    with _mpl().rc_context(_STYLE):
        fig = _figure(8.0, 3.2)
        ax1, ax2 = fig.subplots(1, 2)
        for i, (device, pts) in enumerate(curves.items()):
            color = _COLORS[i % len(_COLORS)]
            xs = [p[0] for p in pts]
            ax1.plot(xs, [p[1] for p in pts], "o-", color=color, label=device)
            ax2.plot(xs, [p[2] * 1e3 for p in pts], "o-", color=color, label=device)
        if slo[0] is not None:
            ax1.axhline(slo[0], color="#555", ls="--", lw=1, label="SLO")
        if slo[1] is not None:
            ax2.axhline(slo[1] * 1e3, color="#555", ls="--", lw=1, label="SLO")
        ax1.set_yscale("log")
        ax1.set_xlabel("output tokens/s (one replica)")
        ax1.set_ylabel("TTFT p99 (s, log)")
        ax2.set_xlabel("output tokens/s (one replica)")
        ax2.set_ylabel("TPOT p50 (ms)")
        ax1.legend(fontsize=8)
        return _svg(fig)


def cost_chart(rows: Sequence[tuple[str, float, float, float]]) -> str:
    """$ per M output tokens: P50 bars with P10–P90 error bars, one bar per device."""
    with _mpl().rc_context(_STYLE):
        fig = _figure(6.0, 2.8)
        ax = fig.subplots()
        names = [r[0] for r in rows]
        p50 = [r[2] for r in rows]
        err = [[r[2] - r[1] for r in rows], [r[3] - r[2] for r in rows]]
        ax.bar(names, p50, color=[_COLORS[i % len(_COLORS)] for i in range(len(rows))])
        ax.errorbar(names, p50, yerr=err, fmt="none", ecolor="black", capsize=6, lw=1.2)
        for x, v in enumerate(p50):
            ax.annotate(f"{v:,.2f}", (x, v), textcoords="offset points", xytext=(8, 2))
        ax.set_ylabel("USD per M output tokens (P50, P10–P90)")
        return _svg(fig)


def ratio_chart(ratio: Sequence[float], of: tuple[str, str], quantiles: Sequence[float]) -> str:
    """The joint Monte Carlo's cost ratio ``of[0] / of[1]``: a histogram (log scale, 40 bins
    between the 1st and 99th percentile) with the tie at 1 and the P10/P50/P90 marked; the
    draws right of 1 are those in which ``of[1]`` is cheaper."""
    values = np.asarray(ratio, dtype=float)
    lo, hi = np.percentile(values, [1, 99])
    lo, hi = min(lo, 0.95), max(hi, 1.05)
    with _mpl().rc_context(_STYLE):
        fig = _figure(7.0, 2.6)
        ax = fig.subplots()
        bins = np.geomspace(lo, hi, 41)
        inside = values[(values >= lo) & (values <= hi)]
        ax.hist(inside[inside < 1.0], bins=bins, color=_COLORS[0], label=f"{of[0]} cheaper")
        ax.hist(inside[inside >= 1.0], bins=bins, color=_COLORS[2], label=f"{of[1]} cheaper")
        ax.axvline(1.0, color="black", lw=1.2)
        for q, name in zip(quantiles, ("P10", "P50", "P90"), strict=True):
            ax.axvline(q, color="#555", ls="--", lw=0.8)
            ax.annotate(name, (q, 1.0), xycoords=("data", "axes fraction"), fontsize=7)
        ax.set_xscale("log")
        ax.set_xlabel(f"cost ratio {of[0]} / {of[1]} ($ per M output tokens, log)")
        ax.set_ylabel("draws")
        ax.legend(fontsize=7)
        return _svg(fig)


def tco_chart(devices: Sequence[str], parts: Mapping[str, Sequence[float]]) -> str:
    """Yearly cost of each device's sized cluster as stacked bars (``parts[label]`` per device,
    USD per year)."""
    with _mpl().rc_context(_STYLE):
        fig = _figure(7.0, 3.2)
        ax = fig.subplots()
        bottom = [0.0] * len(devices)
        for i, (label, values) in enumerate(parts.items()):
            scaled = [v / 1e3 for v in values]
            ax.bar(devices, scaled, bottom=bottom, label=label, color=_STACK[i % len(_STACK)])
            bottom = [b + v for b, v in zip(bottom, scaled, strict=True)]
        ax.set_ylabel("thousand USD per year")
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(
            handles[::-1], labels[::-1], fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5)
        )
        return _svg(fig)


def tornado_chart(
    title: str, base: float, rows: Sequence[tuple[str, float, float]], unit: str
) -> str:
    """One-at-a-time sensitivity: each input's output at its low and high value around the
    base (largest swing on top)."""
    with _mpl().rc_context(_STYLE):
        fig = _figure(7.0, 0.45 * max(len(rows), 2) + 1.0)
        ax = fig.subplots()
        labels = [r[0] for r in rows][::-1]
        for y, (_, low, high) in enumerate(rows[::-1]):
            for end, value, color in (("low", low, _COLORS[1]), ("high", high, _COLORS[0])):
                label = f"input at its {end} end" if y == 0 else None
                ax.barh(y, value - base, left=base, color=color, height=0.6, label=label)
        ax.legend(fontsize=7, loc="lower right")
        ax.set_yticks(range(len(labels)), labels)
        ax.axvline(base, color="black", lw=1)
        ax.set_xlabel(unit)
        ax.set_title(title, fontsize=9)
        ax.grid(axis="y", visible=False)
        return _svg(fig)


def memory_chart(rows: Sequence[tuple[str, Mapping[str, float], float]]) -> str:
    """Memory per card (GiB): stacked reserve / weights / activations / KV cache, and the
    shortfall beyond the card's HBM when the model does not fit. ``rows`` are (label, parts in
    bytes, HBM bytes)."""
    with _mpl().rc_context(_STYLE):
        fig = _figure(8.0, 0.55 * max(len(rows), 2) + 1.2)
        ax = fig.subplots()
        order = ("reserve", "weights", "activations", "KV cache", "shortfall")
        colors = {
            "reserve": "#aab7b8",
            "weights": _COLORS[1],
            "activations": _COLORS[3],
            "KV cache": _COLORS[2],
            "shortfall": _COLORS[0],
        }
        names = {"shortfall": "KV of one sequence (missing)"}
        labels = [r[0] for r in rows][::-1]
        seen: set[str] = set()
        for y, (_, parts, _hbm) in enumerate(rows[::-1]):
            left = 0.0
            for key in order:
                v = parts.get(key, 0.0) / 2**30
                if v <= 0 or not math.isfinite(v):
                    continue
                hatch = "//" if key == "shortfall" else None
                ax.barh(
                    y,
                    v,
                    left=left,
                    color=colors[key],
                    hatch=hatch,
                    height=0.6,
                    label=names.get(key, key) if key not in seen else None,
                )
                seen.add(key)
                left += v
        for y, (_, _, hbm) in enumerate(rows[::-1]):
            ax.plot([hbm / 2**30] * 2, [y - 0.4, y + 0.4], color="black", lw=1.5)
        ax.set_yticks(range(len(labels)), labels)
        ax.set_xlabel("GiB per card (black tick: HBM capacity)")
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
        ax.grid(axis="y", visible=False)
        return _svg(fig)
