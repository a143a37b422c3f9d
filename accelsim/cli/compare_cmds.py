"""``accelsim compare`` (the main job) and ``accelsim size`` (capacity planning)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import TextColumn
from rich.table import Table

from accelsim.cli.options import (
    DEFAULT_FACILITY,
    DEFAULT_PRICES,
    CatalogOpt,
    DevicesOpt,
    FacilityOpt,
    JsonOpt,
    MonteCarloOpt,
    PricesOpt,
    ReplicaPlanOpt,
    SeedOpt,
    SetOpt,
    app,
    console,
    emit_json,
    open_catalog,
    print_overrides,
    progress_bar,
)
from accelsim.errors import AccelsimError, suggest
from accelsim.questions.compare import compare, sized_cost
from accelsim.questions.sizing import SLO_METRICS, size_cluster
from accelsim.run.pricing import unpriced
from accelsim.run.resolve import load_scenario, resolve_scenario
from accelsim.run.scenario import TRAFFIC_FOLDER, Scenario, read_scenario
from accelsim.units import format_value, parse_quantity


@app.command("compare")
def compare_cmd(
    scenario: Annotated[str, typer.Argument(help="Scenario name or file")] = "default",
    device: DevicesOpt = None,
    prices: PricesOpt = DEFAULT_PRICES,
    facility: FacilityOpt = DEFAULT_FACILITY,
    monte_carlo: MonteCarloOpt = 2000,
    seed: SeedOpt = 0,
    plan: ReplicaPlanOpt = None,
    catalog_dirs: CatalogOpt = None,
    overrides: SetOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Devices side by side on one model and traffic: fit, smallest deployment, simulated
    throughput and latency, cards needed under the SLOs, and cost with uncertainty."""
    cat = open_catalog(catalog_dirs, overrides)
    sc = load_scenario(scenario, cat)
    options = {
        "prices": prices,
        "facility": facility,
        "monte_carlo": monte_carlo,
        "seed": seed,
        "plan": plan,
    }
    devices = list(device) if device else None
    if as_json:
        emit_json(compare(sc, cat, devices, **options).as_dict())
        return
    with progress_bar(
        TextColumn("[progress.description]{task.description}"),
        TextColumn("{task.completed} simulation(s)"),
    ) as bar:
        task = bar.add_task("simulating", total=None)

        def tick(dev: str, replicas: int) -> None:
            bar.update(task, advance=1, description=f"simulated {dev} x{replicas} replica(s)")

        result = compare(sc, cat, devices, progress=tick, **options)
    rs = resolve_scenario(sc, cat)
    what_if = " (what-if)" if result.overrides else ""
    table = Table(title=f"accelsim compare: {rs.model} ({rs.dtype}) — scenario {rs.name}{what_if}")
    table.add_column("metric")
    marked = set(result.overridden_devices)
    for d in result.devices:
        table.add_column(f"{d} (what-if)" if d in marked else d, justify="right")
    table.add_column("winner (ratio)", justify="left")
    for row in result.rows:
        cells = []
        for d in result.devices:
            text = format_value(row["values"][d], row["unit"])
            cells.append(f"[bold green]{text}[/]" if row["winner"] == d else text)
        win = f"{row['winner']} ({row['ratio']:.2f}x)" if row["winner"] and row["ratio"] else ""
        table.add_row(row["label"], *cells, win)
    console.print(table)
    for o in result.outcomes:
        for note in o.notes:
            console.print(f"[yellow]{o.device}:[/] {note}")
    print_overrides(result.overrides)
    console.print(
        f"SLOs: p99 TTFT <= {rs.slo.ttft} s, p99 TPOT <= {rs.slo.tpot} s; prices {prices}, "
        f"facility {facility}; $/M output tokens charge all cost to output tokens."
    )


def _parse_slo(text: str | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        key, sep, value = part.partition("=")
        if not sep:
            raise AccelsimError(f"--slo {text!r}: expected METRIC=VALUE, e.g. ttft_p99=2s")
        if key not in SLO_METRICS:
            raise AccelsimError(
                f"--slo: unknown SLO metric {key!r} (known: {', '.join(SLO_METRICS)})"
            )
        out[key] = parse_quantity(value, "time")
    return out


@app.command("size")
def size_cmd(
    device: Annotated[list[str], typer.Option("--device", "-d", help="Device; repeatable")],
    scenario: Annotated[str, typer.Option("--scenario", help="Base scenario")] = "default",
    model: Annotated[
        str | None, typer.Option("--model", help="Model (default: scenario's)")
    ] = None,
    rate: Annotated[str | None, typer.Option("--rate", help="Request rate, e.g. 20/s")] = None,
    lengths: Annotated[
        str | None,
        typer.Option(
            "--lengths", help="Traffic profile whose lengths to use, e.g. azure-conv-2023"
        ),
    ] = None,
    slo: Annotated[
        str | None,
        typer.Option("--slo", help="e.g. ttft_p99=2s,tpot_p99=50ms (default: the scenario's)"),
    ] = None,
    dtype: Annotated[str | None, typer.Option("--dtype", help="Precision preset")] = None,
    max_cards: Annotated[int, typer.Option("--max-cards", help="Largest cluster tried")] = 4096,
    plan: ReplicaPlanOpt = None,
    prices: PricesOpt = DEFAULT_PRICES,
    facility: FacilityOpt = DEFAULT_FACILITY,
    catalog_dirs: CatalogOpt = None,
    overrides: SetOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The fewest cards of each device that meet the SLOs at a load, and what they cost."""
    cat = open_catalog(catalog_dirs, overrides)
    # the file's own values: a plan resolved for the scenario's device need not suit another
    raw = read_scenario(scenario, cat).model_dump(exclude={"resolved"})
    if model:
        raw["model"] = model
    if dtype:
        raw["dtype"] = dtype
    if lengths or rate:
        profile = lengths or None
        if profile is not None:
            files = cat.folder_files(TRAFFIC_FOLDER)
            if profile not in files:
                raise suggest(profile, sorted(files), "traffic profile")
            raw["traffic"] = profile
        base = resolve_scenario(Scenario.model_validate(raw), cat).traffic_spec
        traffic = base.model_dump()
        if profile is not None:
            if base.lengths is None and base.trace is not None:
                traffic["lengths"] = {
                    "kind": "empirical",
                    "trace": base.trace,
                    "format": base.format,
                }
            traffic.update(
                arrival="poisson",
                trace=None,
                trace_sha256=None,
                format=None,
                requests=None,
                duration=traffic.get("duration") or 600.0,
            )
        if rate:
            traffic["rate"] = parse_quantity(rate, "rate")
        if traffic.get("arrival") == "poisson" and traffic.get("rate") is None:
            raise AccelsimError("--lengths: give --rate for the synthetic Poisson arrivals")
        raw["traffic"] = traffic
    sc = Scenario.model_validate({**raw, "devices": list(device), "device": device[0]})
    targets = _parse_slo(slo)
    results = []
    for d in device:
        sizing = size_cluster(
            sc,
            cat,
            d,
            max_cards=max_cards,
            slo=targets or None,
            use_scenario_plan=False,
            plan=plan,
        )
        row = sizing.as_dict()
        no_price = unpriced(cat, d, prices)
        if sizing.attainable:
            s = sizing.summary
            row.update(ttft_p99_s=s.ttft_s.p99, tpot_p99_s=s.tpot_s.p99)
            row.update(capex_usd=None, per_year_usd=None, usd_per_mtok_output=None)
            if no_price is None:
                tco = sized_cost(cat, sizing, prices=prices, facility=facility)
                row.update(
                    capex_usd=tco.capex_usd,
                    per_year_usd=tco.per_year_usd,
                    usd_per_mtok_output=tco.usd_per_mtok_output,
                )
            else:
                row["cost_note"] = no_price
        results.append(row)
    if as_json:
        emit_json({"scenario": sc.name, "model": sc.model, "devices": results}, cat)
        return
    what_if = " (what-if)" if cat.overrides_in_effect() else ""
    table = Table(title=f"accelsim size: {sc.model}{what_if}")
    for col in (
        "device",
        "cards",
        "nodes",
        "plan per replica",
        "p99 TTFT",
        "p99 TPOT",
        "SLO margin",
        "capex USD",
        "USD/yr",
        "USD/M out tok",
    ):
        table.add_column(col, justify="right" if col != "device" else "left")
    for r in results:
        if not r["attainable"]:
            table.add_row(
                r["device"],
                "-",
                "-",
                r["replica_plan"] or "-",
                "-",
                "-",
                "-",
                "-",
                "-",
                r["reason"],
            )
            continue
        table.add_row(
            r["device"],
            str(r["cards"]),
            str(r["nodes"]),
            r["replica_plan"],
            format_value(r["ttft_p99_s"], "s"),
            format_value(r["tpot_p99_s"], "s"),
            f"{r['slo_margin']:.2f}",
            *(
                "-" if r[k] is None else f"{r[k]:,.{digits}f}"
                for k, digits in (("capex_usd", 0), ("per_year_usd", 0), ("usd_per_mtok_output", 2))
            ),
        )
    console.print(table)
    for r in results:
        if r.get("cost_note"):
            console.print(f"[yellow]{r['device']}:[/] {r['cost_note']}", highlight=False)
    print_overrides(cat)
