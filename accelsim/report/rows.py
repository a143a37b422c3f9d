"""The report's tables: text formatting, the comparison rows (each predicted throughput and
latency with its across-seed half width and prediction interval) and the assumptions table
(every catalog number a report rests on, with its confidence, sources and note).
"""

from __future__ import annotations

from typing import Any

from accelsim.catalog.loader import KINDS, Catalog, iter_numbers
from accelsim.questions.compare import ComparisonResult
from accelsim.report.model import Section, Table
from accelsim.run.scenario import Scenario
from accelsim.units import format_figure, format_value

__all__ = ["assumptions", "fmt", "rows_table", "table", "used_entries", "with_interval"]

_CONF = {
    "V": "vendor spec",
    "M": "measured/reported",
    "D": "derived",
    "E": "estimate",
    "R": "rumour/press",
    "A": "assumption",
    "C": "calibrated on published runs",
    "O": "WHAT-IF override",
}


# ---- formatting -------------------------------------------------------------------------------
def fmt(value: Any, unit: str = "") -> str:
    """A value as report text (``accelsim.units.format_value``, an em dash when missing)."""
    return format_value(value, unit, missing="—")


def table(columns: list[str], rows: list[list[str]], align: str = "", caption: str = "") -> Table:
    a = tuple("r" if ch == "r" else "l" for ch in (align or "l" * len(columns)))
    return Table(tuple(columns), tuple(tuple(r) for r in rows), a, caption)  # type: ignore[arg-type]


def with_interval(value: Any, unit: str, interval: Any = None, half_width: Any = None) -> str:
    """A predicted figure as report text: ``1,234 tok/s ±31 (P10–P90 1,050–1,390)`` (the
    value, its across-seed confidence half width, its prediction interval;
    ``accelsim.units.format_figure``)."""
    return format_figure(value, unit, interval=interval, half_width=half_width, missing="—")


def rows_table(result: ComparisonResult, rows: list[dict[str, Any]], heads: list[str]) -> Table:
    out = []
    for row in rows:
        cells = []
        for d, o in zip(result.devices, result.outcomes, strict=True):
            spread = o.spreads.get(row["metric"])
            text = with_interval(
                row["values"][d],
                row["unit"],
                o.intervals.get(row["metric"]),
                spread.half_width if spread is not None else None,
            )
            cells.append(f"**{text}**" if row["winner"] == d else text)
        win = f"{row['winner']} ({row['ratio']:.2f}x)" if row["winner"] and row["ratio"] else ""
        out.append([row["label"], *cells, win])
    n = len(result.devices)
    return table(["metric", *heads, "winner (ratio)"], out, "l" + "r" * n + "l")


def raw_value(data: Any, path: str) -> Any:
    node = data
    for key in path.split("."):
        if isinstance(node, dict) and "value" in node and key not in node:
            node = node["value"]
        if isinstance(node, list):
            node = node[int(key)]
        elif isinstance(node, dict):
            node = node.get(key)
        else:
            return None
    if isinstance(node, dict) and "value" in node:
        node = node["value"]
    return node


def used_entries(
    result: ComparisonResult,
    sc: Scenario,
    catalog: Catalog,
    prices: str,
    facility: str,
    extra: list[str],
) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for d in [*result.devices, *(e for e in extra if e not in result.devices)]:
        card = catalog.device(d)
        out.append(("device", d))
        if card.extends:
            out.append(("device", card.extends))
        srv = catalog.server_for(card)
        out.append(("server", srv.name))
        out += [("fabric", srv.scale_up_fabric), ("fabric", srv.scale_out_fabric)]
        prof = catalog.framework_profile(sc.framework.name, card.vendor) if sc.framework else None
        if prof is not None:
            out.append(("framework", prof.name))
    out += [("model", sc.model), ("prices", prices), ("facility", facility)]
    seen: set[tuple[str, str]] = set()
    return [e for e in out if not (e in seen or seen.add(e))]


def assumptions(entries: list[tuple[str, str]], catalog: Catalog) -> Section:
    devices = {n for k, n in entries if k == "device"}
    servers = {n for k, n in entries if k == "server"}
    known = set(catalog.names("device")) | set(catalog.names("server"))
    rows = []
    src_rows = []
    for kind, name in entries:
        entry = catalog.get(kind, name)
        raw, _ = catalog.raw(kind, name)
        paths = list(iter_numbers(raw))
        overrides = {o.field: o for o in catalog.overrides if o.kind == kind and o.name == name}
        paths += [f for f in overrides if f not in paths]
        used_src: set[str] = set()
        for path in paths:
            parts = path.split(".")
            if len(parts) > 1 and parts[1] in known and parts[1] not in devices | servers:
                continue
            prov = entry.source_of(path)
            if path in overrides:
                value = f"{overrides[path].value} (WHAT-IF; catalog: {raw_value(raw, path)})"
            else:
                value = str(raw_value(raw, path))
            conf = prov.conf if prov else "?"
            src = ", ".join(prov.src) if prov else ""
            used_src.update(prov.src if prov else ())
            note = (prov.note or "") if prov else "no provenance"
            if prov and prov.alternatives:
                note += ("; " if note else "") + "alternatives: " + "; ".join(prov.alternatives)
            rows.append([f"{KINDS[kind].label} {name}", path, value, conf, src, note])
        for sid in sorted(used_src):
            s = entry.sources.get(sid)
            if s is None:
                continue
            title = s.title + (f" ({s.date})" if s.date else "")
            src_rows.append([f"{KINDS[kind].label} {name}", sid, title, s.url or ""])
    legend = "; ".join(f"{k} = {v}" for k, v in _CONF.items())
    return Section(
        "assumptions",
        "Assumptions",
        (
            "Every catalog number this report rests on, with its confidence, sources and note. "
            f"Confidence: {legend}.",
        ),
        tables=(
            table(["entry", "field", "value", "conf", "sources", "note"], rows, "llrlll"),
            table(["entry", "source", "title", "url"], src_rows, caption="Sources"),
        ),
    )
