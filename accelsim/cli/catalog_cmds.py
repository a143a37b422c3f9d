"""``accelsim catalog``, ``accelsim show`` and ``accelsim fit``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.table import Table

import accelsim.cli.options as opt
from accelsim.catalog.loader import KINDS, Catalog, kind_key
from accelsim.dtypes import MIXED_PRESETS, PRESETS, precision
from accelsim.errors import AccelsimError
from accelsim.model.plan import MemoryFit, fit, fit_best, minimum_cards, parse_plan
from accelsim.units import format_quantity

GB = 1e9


def _gb(x: float) -> str:
    return f"{x / GB:,.1f}"


def _mark(entry: Any, field: str) -> str:
    prov = entry.source_of(field)
    return " [yellow](what-if)[/]" if prov is not None and prov.conf == "O" else ""


def _peak(d: Any, dtype: str, fmt: str) -> str:
    pf = d.peak_flops
    return format(pf[dtype] / 1e12, fmt) if dtype in pf else "-"


def _named(e: Any) -> str:
    return e.name + (" [dim](hypothetical)[/]" if e.hypothetical else "")


def _experts(m: Any) -> str:
    moe = m.moe
    return f"{moe.num_experts}+{moe.num_shared_experts}s ({moe.top_k})" if moe else "dense"


def _cost_fit_cases(f: Any) -> str:
    return str(len(getattr(f.source_of("decode_token_layer_cost"), "fit_cases", ())))


#: The columns ``accelsim catalog KIND`` shows for every kind but devices and models: a header
#: and the text of one entry's cell.
_COLUMNS: dict[str, tuple[tuple[str, Callable[[Any], str]], ...]] = {
    "device": (
        ("name", _named),
        ("vendor", lambda d: d.vendor),
        ("bf16 TFLOP/s", lambda d: _peak(d, "bf16", ",.1f")),
        ("fp8", lambda d: _peak(d, "fp8", ",.0f")),
        ("int8 TOP/s", lambda d: _peak(d, "int8", ",.0f")),
        ("HBM GB", lambda d: _gb(d.hbm_capacity) + _mark(d, "hbm_capacity")),
        ("HBM TB/s", lambda d: f"{d.hbm_bandwidth / 1e12:.2f}" + _mark(d, "hbm_bandwidth")),
        ("TDP W", lambda d: f"{d.tdp:.0f}"),
        ("server", lambda d: d.default_server or "-"),
    ),
    "model": (
        ("name", _named),
        ("attention", lambda m: m.attention.kind.upper()),
        ("layers", lambda m: str(m.num_layers)),
        ("experts (top-k)", _experts),
        ("total B", lambda m: f"{m.total_params / 1e9:,.1f}"),
        ("active B", lambda m: f"{m.active_params / 1e9:,.1f}"),
        ("KV KiB/token (bf16)", lambda m: f"{m.kv_bytes_per_token(2) / 1024:,.1f}"),
    ),
    "server": (
        ("name", lambda s: s.name),
        ("card", lambda s: s.card),
        ("cards/node", lambda s: str(s.cards_per_node)),
        ("scale-up", lambda s: s.scale_up_fabric),
        ("scale-out", lambda s: s.scale_out_fabric),
        ("NICs/card", lambda s: f"{s.nics_per_card:g}"),
        ("host W", lambda s: f"{s.host_power:.0f}"),
    ),
    "fabric": (
        ("name", lambda f: f.name),
        ("tier", lambda f: f.tier),
        ("topology", lambda f: f.topology),
        ("GB/s per card (1 dir)", lambda f: f"{f.bandwidth_per_card / 1e9:,.1f}"),
        ("latency", lambda f: format_quantity(f.latency, "time")),
    ),
    "prices": (
        ("name", lambda p: p.name),
        ("currency", lambda p: p.currency),
        ("as of", lambda p: p.as_of),
        ("cards", lambda p: str(len(p.cards))),
        ("servers", lambda p: str(len(p.servers))),
        ("rentals", lambda p: str(len(p.rental_per_card_hour))),
    ),
    "framework": (
        ("name", lambda f: f.name),
        ("framework", lambda f: f.framework),
        ("vendor", lambda f: f.vendor or "any"),
        ("memory", lambda f: f.memory.covers if f.memory else "-"),
        ("graph", lambda f: f.execution.graph if f.execution else "-"),
        ("decode token-layer cost", lambda f: format_quantity(f.decode_token_layer_cost, "time")),
        ("fit cases", _cost_fit_cases),
    ),
    "routing": (
        ("name", lambda r: r.name),
        ("kind", lambda r: r.kind),
        ("skew", lambda r: f"{r.skew:g}"),
        ("drift", lambda r: f"{r.drift:g}"),
        ("seed", lambda r: str(r.seed)),
    ),
    "facility": (
        ("name", lambda f: f.name),
        ("currency", lambda f: f.currency),
        ("power /kWh", lambda f: f"{f.power_price_per_kwh:.4g}"),
        ("PUE", lambda f: f"{f.pue:g}"),
        ("colo /kW-month", lambda f: f"{f.colocation_per_kw_month:g}"),
        ("years", lambda f: f"{f.depreciation_years:g}"),
    ),
}


def _device_rows(cat: Catalog) -> tuple[list[str], list[list[str]], list[dict[str, Any]]]:
    devices = cat.all("device")
    columns = _COLUMNS["device"]
    rows = [[cell(d) for _, cell in columns] for d in devices]
    fields = ("name", "vendor", "hypothetical", "hbm_capacity", "hbm_bandwidth", "tdp")
    data = [
        {
            **{f: getattr(d, f) for f in (*fields, "idle_power", "default_server")},
            "peak_flops": dict(d.peak_flops),
            "overridden": sorted(d.overridden()),
        }
        for d in devices
    ]
    return [header for header, _ in columns], rows, data


def _model_rows(cat: Catalog) -> tuple[list[str], list[list[str]], list[dict[str, Any]]]:
    models = cat.all("model")
    columns = _COLUMNS["model"]
    rows = [[cell(m) for _, cell in columns] for m in models]
    data = [
        {
            "name": m.name,
            "hypothetical": m.hypothetical,
            "attention": m.attention.kind,
            "layers": m.num_layers,
            "total_params": m.total_params,
            "active_params": m.active_params,
            "kv_bytes_per_token_bf16": m.kv_bytes_per_token(2),
            "experts": m.moe.num_experts if m.moe else 0,
            "top_k": m.moe.top_k if m.moe else 0,
        }
        for m in models
    ]
    return [header for header, _ in columns], rows, data


def _generic_rows(
    cat: Catalog, kind: str
) -> tuple[list[str], list[list[str]], list[dict[str, Any]]]:
    entries = cat.all(kind)
    if kind == "spreads":
        cols = ["name", "input", "minus", "plus", "basis"]
        rows = [
            [t.name, key, f"{s.minus:.0%}", f"{s.plus:.0%}", t.basis(key)]
            for t in entries
            for key, s in t.spreads.items()
        ]
    else:
        columns = _COLUMNS[kind]
        cols = [header for header, _ in columns]
        rows = [[cell(e) for _, cell in columns] for e in entries]
    data = [e.model_dump(exclude={"sources", "provenance"}) for e in entries]
    return cols, rows, data


@opt.app.command()
def catalog(
    kind: Annotated[
        str,
        typer.Argument(
            help="devices | servers | fabrics | frameworks | models | prices | facilities | "
            "spreads | routing"
        ),
    ] = "devices",
    catalog_dirs: opt.CatalogOpt = None,
    overrides: opt.SetOpt = None,
    as_json: opt.JsonOpt = False,
) -> None:
    """List the catalog's devices, servers, fabrics, framework profiles, models, price books or
    facilities."""
    cat = opt.open_catalog(catalog_dirs, overrides)
    key = kind_key(kind)
    if key == "device":
        cols, rows, data = _device_rows(cat)
    elif key == "model":
        cols, rows, data = _model_rows(cat)
    else:
        cols, rows, data = _generic_rows(cat, key)
    if as_json:
        opt.emit_json(data)
        return
    table = Table(title=f"accelsim catalog: {KINDS[key].label}s")
    for c in cols:
        table.add_column(c, justify="left" if c in ("name", "vendor", "card") else "right")
    for r in rows:
        table.add_row(*r)
    opt.console.print(table)


def _flatten(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(data, dict):
        out: list[tuple[str, Any]] = []
        for k, v in data.items():
            out.extend(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return [(prefix, data)]


@opt.app.command()
def show(
    kind: Annotated[
        str,
        typer.Argument(help="device | server | fabric | framework | model | prices | facility"),
    ],
    name: Annotated[str, typer.Argument(help="Entry name, e.g. ascend-910b2")],
    catalog_dirs: opt.CatalogOpt = None,
    overrides: opt.SetOpt = None,
    as_json: opt.JsonOpt = False,
) -> None:
    """Every field of one catalog entry with its source and confidence."""
    cat = opt.open_catalog(catalog_dirs, overrides)
    entry = cat.get(kind, name)
    values = entry.model_dump(exclude={"sources", "provenance", "file"})
    rows = []
    for path, value in _flatten(values):
        prov = entry.source_of(path)
        rows.append(
            {
                "field": path,
                "value": value,
                "conf": prov.conf if prov else None,
                "src": list(prov.src) if prov else [],
                "note": prov.note if prov else None,
                "alternatives": list(prov.alternatives) if prov else [],
                "override_of": prov.override_of if prov else None,
            }
        )
    derived = _derived(entry)
    if as_json:
        opt.emit_json(
            {
                "kind": kind_key(kind),
                "name": entry.name,
                "file": entry.file,
                "fields": rows,
                "derived": derived,
                "sources": {k: s.model_dump() for k, s in entry.sources.items()},
            }
        )
        return
    table = Table(title=f"{KINDS[kind_key(kind)].label} {entry.name}  ({entry.file})")
    for c in ("field", "value", "conf", "source", "note"):
        table.add_column(c, overflow="fold")
    for r in rows:
        note = r["note"] or ""
        if r["alternatives"]:
            note += ("; " if note else "") + "alternatives: " + "; ".join(r["alternatives"])
        if r["override_of"] is not None:
            note = f"[yellow]what-if override (catalog value: {r['override_of']})[/]"
        table.add_row(
            r["field"],
            _fmt_value(r["field"], r["value"]),
            r["conf"] or "",
            ", ".join(r["src"]),
            note,
        )
    for k, v in derived.items():
        table.add_row(f"[dim]{k}[/]", f"{v:,.6g}", "D", "computed", "derived in code")
    opt.console.print(table)
    if entry.sources:
        src = Table(title="sources")
        src.add_column("id")
        src.add_column("title", overflow="fold")
        src.add_column("where", overflow="fold")
        src.add_column("date")
        for key, s in entry.sources.items():
            src.add_row(key, s.title, s.url or s.document or "", s.date or "")
        opt.console.print(src)


def _fmt_value(field: str, value: Any) -> str:
    if isinstance(value, float):
        leaf = field.rsplit(".", 1)[-1]
        if "bandwidth" in leaf:
            return format_quantity(value, "bandwidth")
        if field.startswith("peak_flops"):
            return format_quantity(value, "flop_rate")
        if leaf in ("hbm_capacity", "l2_cache"):
            return format_quantity(value, "bytes")
        if leaf in ("tdp", "idle_power", "host_power", "max_power"):
            return format_quantity(value, "power")
        if leaf in ("latency", "kernel_launch", "iteration_overhead"):
            return format_quantity(value, "time")
        return f"{value:,.6g}"
    return str(value)


def _derived(entry: Any) -> dict[str, float]:
    if not hasattr(entry, "total_params"):
        return {}
    return {
        "total_params": float(entry.total_params),
        "active_params": float(entry.active_params),
        "routed_params": float(entry.routed_params),
        "mtp_params": float(entry.mtp_params),
        "kv_bytes_per_token_bf16": entry.kv_bytes_per_token(2),
        "linear_flops_per_token": entry.linear_flops_per_token,
    }


@opt.app.command("fit")
def fit_cmd(
    model: Annotated[str, typer.Argument(help="Model name, e.g. deepseek-v3")],
    device: Annotated[str, typer.Option("--device", "-d", help="Card, e.g. ascend-910b2")],
    cards: Annotated[int, typer.Option("--cards", "-n", help="Cards for one replica")] = 8,
    dtype: Annotated[
        str,
        typer.Option(
            "--dtype",
            help="|".join(PRESETS | MIXED_PRESETS)
            + " (on a mixed checkpoint such as DeepSeek-V4, w8a8 means w8a8-mixed)",
        ),
    ] = "bf16",
    kv_dtype: Annotated[str | None, typer.Option("--kv-dtype", help="KV-cache dtype")] = None,
    plan: Annotated[
        str | None,
        typer.Option("--plan", help="e.g. tp=8,ep=8 (default: best of the candidate plans)"),
    ] = None,
    context: Annotated[int, typer.Option("--context", help="Tokens per sequence")] = 4096,
    mtp: Annotated[bool, typer.Option("--mtp/--no-mtp", help="Also hold the MTP module")] = False,
    draft_model: Annotated[
        str | None,
        typer.Option("--draft-model", help="EAGLE draft model held next to MODEL (weights + KV)"),
    ] = None,
    catalog_dirs: opt.CatalogOpt = None,
    overrides: opt.SetOpt = None,
    as_json: opt.JsonOpt = False,
) -> None:
    """Does MODEL fit on CARDS cards of DEVICE? Weights, KV capacity, max batch, min cards."""
    if cards < 1:
        raise AccelsimError("--cards must be at least 1")
    cat = opt.open_catalog(catalog_dirs, overrides)
    m = cat.model(model)
    if context > m.max_context:
        raise AccelsimError(f"--context {context:,}: over {m.name}'s max_context {m.max_context:,}")
    card = cat.device(device)
    server = cat.server_for(card)
    prec = precision(dtype, kv_dtype)
    extra: dict[str, Any] = {"include_mtp": mtp}
    if draft_model:
        extra["draft"] = cat.model(draft_model)
        if extra["draft"].draft is None or extra["draft"].draft.target != m.name:
            raise AccelsimError(f"--draft-model {draft_model!r} is not a draft model for {m.name}")
    if plan:
        result = fit(m, card, parse_plan(plan, cards * card.dies), prec, context, **extra)
    else:
        result = fit_best(m, card, cards, prec, context, server.scale_up_domain_cards, **extra)
    minimum = None
    if not result.fits:
        minimum = minimum_cards(
            m,
            card,
            prec,
            context,
            server.cards_per_node,
            server.scale_up_domain_cards,
            **extra,
        )
    payload = {
        **result.as_dict(),
        "cards": cards,
        "node_cards": server.cards_per_node,
        "server": server.name,
        "weights_total_model": (
            sum(m.weight_bytes_by_class(m.deployed_precision(prec)).values())
            if m.mixed_native
            else m.weight_bytes(prec.weight_bytes)
        ),
        "minimum_cards": minimum.plan.ranks // card.dies if minimum else None,
        "minimum_plan": minimum.plan.label() if minimum else None,
        "overridden": {
            f"device.{card.name}.{k}": p.override_of for k, p in card.overridden().items()
        }
        | {f"model.{m.name}.{k}": p.override_of for k, p in m.overridden().items()},
    }
    if as_json:
        opt.emit_json(payload)
        return
    _render_fit(result, cards, server.cards_per_node, minimum, payload["overridden"], card.dies)


def _render_fit(
    r: MemoryFit,
    cards: int,
    node_cards: int,
    minimum: MemoryFit | None,
    overridden: dict[str, Any],
    dies: int = 1,
) -> None:
    title = f"{r.model} on {cards} x {r.device} ({r.precision}, plan {r.plan.label()})"
    table = Table(title=title, show_header=True)
    table.add_column("per card" if dies == 1 else f"per die ({dies} per card)", justify="left")
    table.add_column("GB", justify="right")
    for label, value in (
        ("HBM capacity", r.hbm_capacity),
        ("framework reserve", r.reserve),
        ("weights: attention", r.weights_attention),
        ("weights: dense FFN", r.weights_dense_ffn),
        ("weights: shared experts + router", r.weights_shared),
        ("weights: routed experts", r.weights_routed),
        ("weights: embedding + LM head", r.weights_embedding),
        ("weights: MTP module", r.weights_mtp),
        ("weights: hyper-connections", r.weights_hyper_connections),
        ("activation workspace", r.activations),
        ("KV cache capacity", r.kv_capacity),
    ):
        if value or label != "weights: hyper-connections":
            table.add_row(label, _gb(value))
    opt.console.print(table)
    for key, old in overridden.items():
        opt.console.print(f"[yellow]what-if:[/] {key} overridden (catalog value {old})")
    if r.fits:
        opt.console.print(
            f"[bold green]fits[/]: KV cache holds {r.max_kv_tokens:,} tokens per replica "
            f"({r.kv_bytes_per_token / 1024:,.1f} KiB per token per card) -> max batch "
            f"{r.max_batch_at_context:,} sequences at {r.context:,} tokens"
        )
        return
    opt.console.print(
        f"[bold red]does not fit[/]: short by {r.shortfall / GB:,.1f} GB per card "
        f"for one {r.context:,}-token sequence"
    )
    if minimum is None:
        opt.console.print("no whole-node card count up to 8192 cards fits")
    else:
        opt.console.print(
            f"minimum: {minimum.plan.ranks // dies} cards "
            f"({minimum.plan.ranks // dies // node_cards} nodes of "
            f"{node_cards}), plan {minimum.plan.label()}, KV {minimum.max_kv_tokens:,} tokens"
        )
