"""Report charts as deterministic SVG text (matplotlib, Agg backend, no fonts fetched).

Every function takes plain data (lists and dicts of floats) and returns an SVG document as a
string, so reports can inline it (HTML) or write it beside a Markdown file. Output is
byte-stable for the same input: the SVG hash salt is fixed and the date metadata dropped.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

__all__ = [
    "cost_uncertainty_chart",
    "load_curve_chart",
    "memory_fit_chart",
    "tco_breakdown_chart",
    "tornado_chart",
]

_COLORS = ["#c0392b", "#2c7fb8", "#27ae60", "#8e44ad", "#e67e22", "#16a085", "#7f8c8d"]


def _svg(fig) -> str:
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "accelsim", "svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]


def memory_fit_chart(rows: Mapping[str, Mapping[str, float]]) -> str:
    """Stacked bars per device of GB per card: weights, activations, reserve, KV, (short)."""
    parts = ("weights", "activations", "reserve", "kv_cache")
    labels = list(rows)
    fig, ax = plt.subplots(figsize=(6.4, 0.9 + 0.6 * len(labels)))
    left = [0.0] * len(labels)
    for i, part in enumerate(parts):
        vals = [max(rows[d].get(part, 0.0), 0.0) / 1e9 for d in labels]
        ax.barh(labels, vals, left=left, color=_COLORS[i], label=part.replace("_", " "))
        left = [a + b for a, b in zip(left, vals, strict=True)]
    caps = [rows[d]["capacity"] / 1e9 for d in labels]
    ax.scatter(caps, labels, marker="|", s=400, color="black", label="HBM capacity", zorder=3)
    ax.set_xlabel("GB per card")
    ax.set_title("Memory per card on the deployment")
    ax.legend(loc="lower right", fontsize=7)
    return _svg(fig)


def cost_uncertainty_chart(rows: Mapping[str, tuple[float, float, float]], unit: str) -> str:
    """P50 bars with P10-P90 whiskers per device."""
    labels = list(rows)
    p10 = [rows[d][0] for d in labels]
    p50 = [rows[d][1] for d in labels]
    p90 = [rows[d][2] for d in labels]
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    err = [
        [m - lo for m, lo in zip(p50, p10, strict=True)],
        [hi - m for m, hi in zip(p50, p90, strict=True)],
    ]
    ax.bar(labels, p50, yerr=err, capsize=8, color=_COLORS[: len(labels)])
    ax.set_ylabel(unit)
    ax.set_title("Cost with uncertainty (bar P50, whiskers P10-P90)")
    return _svg(fig)


def tco_breakdown_chart(rows: Mapping[str, Mapping[str, float]], unit: str) -> str:
    """Stacked bars of yearly cost components per device."""
    labels = list(rows)
    parts = sorted({k for r in rows.values() for k in r})
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    bottom = [0.0] * len(labels)
    for i, part in enumerate(parts):
        vals = [rows[d].get(part, 0.0) for d in labels]
        ax.bar(labels, vals, bottom=bottom, color=_COLORS[i % len(_COLORS)], label=part)
        bottom = [a + b for a, b in zip(bottom, vals, strict=True)]
    ax.set_ylabel(unit)
    ax.set_title("Cost per year by component")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _svg(fig)


def tornado_chart(rows: Sequence[tuple[str, float, float]], base: float, unit: str) -> str:
    """One-at-a-time sensitivity: (input label, output at low, output at high) around base."""
    rows = list(rows)[:10][::-1]
    fig, ax = plt.subplots(figsize=(6.4, 0.8 + 0.35 * max(len(rows), 1)))
    for i, (_label, low, high) in enumerate(rows):
        ax.barh(i, low - base, left=base, color=_COLORS[1])
        ax.barh(i, high - base, left=base, color=_COLORS[0])
    ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=7)
    ax.axvline(base, color="black", linewidth=0.8)
    ax.set_xlabel(unit)
    ax.set_title("Sensitivity (blue: input at low, red: input at high)")
    return _svg(fig)


def load_curve_chart(curves: Mapping[str, Sequence[Mapping[str, float]]]) -> str:
    """Throughput versus p99 TPOT and p99 TTFT as offered load rises, one line per device."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8.0, 3.2))
    for i, (device, points) in enumerate(curves.items()):
        xs = [p["output_tokens_per_s"] for p in points]
        ax1.plot(xs, [p["tpot_p99_s"] * 1e3 for p in points], "o-", color=_COLORS[i], label=device)
        ax2.plot(xs, [p["ttft_p99_s"] for p in points], "o-", color=_COLORS[i], label=device)
    ax1.set_xlabel("output tokens/s (whole deployment)")
    ax1.set_ylabel("p99 TPOT (ms)")
    ax2.set_xlabel("output tokens/s (whole deployment)")
    ax2.set_ylabel("p99 TTFT (s)")
    ax1.legend(fontsize=7)
    fig.suptitle("Throughput versus latency over a load sweep")
    fig.tight_layout()
    return _svg(fig)
