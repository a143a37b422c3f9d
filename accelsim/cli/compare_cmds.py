"""``accelsim compare`` (the main job) and ``accelsim size`` (capacity planning)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

import accelsim.cli.options as opt
import accelsim.cli.progress as bars
from accelsim.cli.emit import EmitOpt, check_emit, print_racks, print_sized_recipes
from accelsim.errors import AccelsimError, suggest
from accelsim.model.cost import COST_FIGURES, opex_per_year
from accelsim.model.joint import JointVerdict
from accelsim.questions.compare import ComparisonResult, compare, sized_cost
from accelsim.questions.sizing import FIGURES, SLO_METRICS, size_devices, slo_targets
from accelsim.run.placement import deployment_figures
from accelsim.run.pricing import server_warning, unpriced
from accelsim.run.resolve import load_scenario, resolve_scenario
from accelsim.run.scenario import TRAFFIC_FOLDER, Scenario, read_scenario
from accelsim.sweep.replicate import CONFIDENCE, DEFAULT_SEEDS, Replicator, pool_size
from accelsim.units import format_value, parse_quantity


@opt.app.command("compare")
def compare_cmd(
    scenario: Annotated[str, typer.Argument(help="Scenario name or file")] = "default",
    device: opt.DevicesOpt = None,
    prices: opt.PricesOpt = opt.DEFAULT_PRICES,
    facility: opt.FacilityOpt = opt.DEFAULT_FACILITY,
    monte_carlo: opt.MonteCarloOpt = 2000,
    seed: opt.SeedOpt = 0,
    plan: opt.ReplicaPlanOpt = None,
    seeds: opt.SeedsOpt = DEFAULT_SEEDS,
    catalog_dirs: opt.CatalogOpt = None,
    overrides: opt.SetOpt = None,
    as_json: opt.JsonOpt = False,
    emit: EmitOpt = None,
    availability: opt.AvailabilityOpt = None,
) -> None:
    """Devices side by side on one model and traffic: fit, smallest deployment, simulated
    throughput and latency, cards needed under the SLOs, and cost with uncertainty."""
    check_emit(emit)
    cat = opt.open_catalog(catalog_dirs, overrides)
    sc = load_scenario(scenario, cat)
    options = {
        "prices": prices,
        "facility": facility,
        "monte_carlo": monte_carlo,
        "seed": seed,
        "plan": plan,
        "seeds": seeds,
        "availability": availability,
    }
    devices = list(device) if device else None
    n_devices = len(devices or sc.devices or [sc.device])
    # the pool starts before the bar's thread, so its workers are forked (fast)
    with (
        Replicator(cat, workers=pool_size(None, max(n_devices, seeds - 1))) as rep,
        bars.counter("size(s) simulated") as tick,
    ):
        result = compare(
            sc,
            cat,
            devices,
            progress=lambda dev, r: tick(f"simulated {dev} x{r} replica(s), {seeds} seed(s)"),
            replicator=rep,
            **options,
        )
    if emit is not None:
        print_sized_recipes([o.sizing for o in result.outcomes], emit, cat)
        return
    if as_json:
        opt.emit_json(result.as_dict())
        return
    rs = resolve_scenario(sc, cat)
    opt.console.print(result.answer, highlight=False)
    what_if = " (what-if)" if result.overrides else ""
    title = f"accelsim compare: {rs.model} ({rs.dtype}) — scenario {rs.name}{what_if}"
    opt.console.print(_rows_table(f"{title}: the cluster sized for the load", result, result.rows))
    opt.console.print(
        _rows_table("smallest deployment (one replica, whole nodes)", result, result.smallest_rows)
    )
    for label, _unit, definition in COST_FIGURES.values():
        opt.console.print(f"[dim]{label}: {definition}[/]", highlight=False)
    opt.console.print(
        f"[dim]Throughput and latency of the sized cluster: means over {seeds} seed(s) ± the "
        f"half width of their {CONFIDENCE:.0%} confidence interval across seeds (a size meets "
        "the SLOs on its pessimistic bound); P10–P90: the prediction interval from "
        "cross-validated residuals ("
        + "; ".join(
            f"{o.device}: {next(iter(o.intervals.values())).basis}"
            for o in result.outcomes
            if o.intervals
        )
        + ").[/]",
        highlight=False,
    )
    for o in result.outcomes:
        for note in o.notes:
            opt.console.print(f"[yellow]{o.device}:[/] {note}")
    for o in result.outcomes:
        if o.tco is None or o.uncertainty is None:
            continue
        perf = o.uncertainty.ranges.get("output_tokens_per_s")
        tok = o.tco.inputs.output_tokens_per_s
        why = (
            "the P50 draws every range, and skewed ones (life, power price) are not "
            "centred on the base"
        )
        if perf is not None and tok:
            why += (
                f"; the throughput's median draw is {perf.base / tok:.2f}x the simulated one "
                f"({perf.basis})"
            )
        opt.console.print(
            f"{o.device}: base case (catalog values, simulated throughput) "
            f"{format_value(o.values['usd_per_mtok_base'], 'USD/Mtok')}, P50 "
            f"{format_value(o.values['usd_per_mtok_p50'], 'USD/Mtok')}: {why}",
            highlight=False,
        )
    if result.verdict is not None:
        _print_flips(result.verdict)
    opt.print_overrides(result.overrides)
    opt.console.print(
        f"SLOs: p99 TTFT <= {rs.slo.ttft} s, p99 TPOT <= {rs.slo.tpot} s; prices {prices}, "
        f"facility {facility}; $/M output tokens charge all cost to output tokens."
    )


def _rows_table(title: str, result: ComparisonResult, rows: list[dict[str, Any]]) -> Table:
    """One comparison table: a row per metric, a column per device, the winner with its ratio."""
    table = Table(title=title)
    table.add_column("metric")
    marked = set(result.overridden_devices)
    for d in result.devices:
        table.add_column(f"{d} (what-if)" if d in marked else d, justify="right")
    table.add_column("winner (ratio)", justify="left")
    outcomes = {o.device: o for o in result.outcomes}
    for row in rows:
        cells = []
        for d in result.devices:
            key, o = row["metric"], outcomes[d]
            spread = o.spreads.get(key)
            text = opt.with_interval(
                row["values"][d],
                row["unit"],
                o.intervals.get(key),
                spread.half_width if spread is not None else None,
            )
            cells.append(f"[bold green]{text}[/]" if row["winner"] == d else text)
        win = f"{row['winner']} ({row['ratio']:.2f}x)" if row["winner"] and row["ratio"] else ""
        table.add_row(row["label"], *cells, win)
    return table


def _print_flips(verdict: JointVerdict) -> None:
    """The tornado of the cost ratio with each input's break-even value."""
    w, r = verdict.winner, verdict.runner_up
    table = Table(title=f"What flips it: cost ratio {r} / {w} (1 = a tie), one input at a time")
    for col in ("input (what-if key)", "base", "ratio at low .. high", "break-even"):
        table.add_column(
            col, justify="left" if col.startswith("input") else "right", overflow="fold"
        )
    for f in verdict.flips:
        if f.break_even is None:
            flip = "none in range"
        else:
            flip = f"{r} wins {f.flips_when} {format_value(f.break_even, f.unit)}"
        table.add_row(
            f"{f.label}\n[dim]{f.key}[/]",
            format_value(f.base, f.unit),
            f"{f.ratio_at_low:.2f} .. {f.ratio_at_high:.2f}",
            flip,
        )
    opt.console.print(table)


#: The display unit of each figure ``size`` reports (``accelsim.questions.sizing.FIGURES``).
_SIZE_UNITS = {"output_tokens_per_s": "tok/s", "ttft_p99_s": "s", "tpot_p99_s": "s"}


def _figure(row: dict[str, Any], key: str, unit: str) -> str:
    """A sized cluster's figure with its across-seed half width and prediction interval."""
    spread = row.get(f"{key}_across_seeds")
    half = None if spread is None else (spread["ci_high"] - spread["ci_low"]) / 2.0
    return opt.with_interval(row[key], unit, (row.get("intervals") or {}).get(key), half)


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
        try:
            out[key] = parse_quantity(value, "time")
        except AccelsimError as exc:
            raise AccelsimError(f"--slo {key}: {exc}") from None
    return out


@opt.app.command("size")
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
    plan: opt.ReplicaPlanOpt = None,
    seeds: opt.SeedsOpt = DEFAULT_SEEDS,
    prices: opt.PricesOpt = opt.DEFAULT_PRICES,
    facility: opt.FacilityOpt = opt.DEFAULT_FACILITY,
    catalog_dirs: opt.CatalogOpt = None,
    overrides: opt.SetOpt = None,
    as_json: opt.JsonOpt = False,
    emit: EmitOpt = None,
    availability: opt.AvailabilityOpt = None,
) -> None:
    """The fewest cards of each device that meet the SLOs at a load, and what they cost.

    Also where the cluster goes in the facility's racks (racks, kW per rack). A cluster the
    facility cannot host (a server or rack drawing more than a rack supplies, cooling it lacks,
    more racks than it offers) is a "not hostable" row with the reason and the nearest
    feasible option."""
    check_emit(emit)
    cat = opt.open_catalog(catalog_dirs, overrides)
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
            try:
                traffic["rate"] = parse_quantity(rate, "rate")
            except AccelsimError as exc:
                raise AccelsimError(f"--rate: {exc}") from None
        if traffic.get("arrival") == "poisson" and traffic.get("rate") is None:
            raise AccelsimError("--lengths: give --rate for the synthetic Poisson arrivals")
        raw["traffic"] = traffic
    sc = Scenario.model_validate({**raw, "devices": list(device), "device": device[0]})
    targets = _parse_slo(slo)
    results = []
    with (
        Replicator(cat, workers=pool_size(None, max(len(device), seeds - 1))) as rep,
        bars.counter("size(s) simulated") as tick,
    ):
        sizings = size_devices(
            sc,
            cat,
            list(device),
            seeds=seeds,
            replicator=rep,
            max_cards=max_cards,
            slo=targets or None,
            use_scenario_plan=False,
            plan=plan,
            progress=lambda dev, r: tick(f"simulated {dev} x{r} replica(s), {seeds} seed(s)"),
        )
    if emit is not None:
        print_sized_recipes(sizings, emit, cat)
        return
    for d, sizing in zip(device, sizings, strict=True):
        row = sizing.as_dict()
        card = cat.device(d)
        row["server_warning"] = server_warning(cat, card, cat.server_for(card))
        no_price = unpriced(cat, d, prices)
        chosen = sizing.chosen
        if sizing.attainable and chosen is not None:
            intervals = sizing.intervals.get(sizing.replicas, {})
            for key, metric in FIGURES.items():
                row[key] = chosen.figure(metric)
                spread = chosen.spread(metric)
                row[f"{key}_across_seeds"] = spread.as_dict() if spread is not None else None
            row["intervals"] = {
                key: iv.as_dict() if (iv := intervals.get(key)) else None for key in FIGURES
            }
            row.update(
                capex_usd=None,
                opex_usd_per_year=None,
                tco_usd_per_year=None,
                usd_per_mtok_output=None,
            )
            placed = deployment_figures(cat, d, sizing.cards, facility, availability)
            row["deployment"] = placed
            spares = placed["spares"]
            spare_cards = int(spares["spare_cards"]) if isinstance(spares, dict) else 0
            if no_price is None:
                tco = sized_cost(
                    cat, sizing, prices=prices, facility=facility, spare_cards=spare_cards
                )
                row.update(
                    capex_usd=tco.capex_usd,
                    opex_usd_per_year=opex_per_year(tco.values),
                    tco_usd_per_year=tco.per_year_usd,
                    usd_per_mtok_output=tco.usd_per_mtok_output,
                )
            else:
                row["cost_note"] = no_price
        results.append(row)
    slos = [
        {"metric": k, "limit_s": v, "source": "--slo" if k in targets else f"scenario {sc.name}"}
        for k, v in slo_targets(sc, targets or None).items()
    ]
    if as_json:
        opt.emit_json(
            {"scenario": sc.name, "model": sc.model, "slos": slos, "devices": results}, cat
        )
        return
    what_if = " (what-if)" if cat.overrides_in_effect() else ""
    table = Table(title=f"accelsim size: {sc.model}{what_if}")
    for col in (
        "device",
        "cards",
        "nodes",
        "plan per replica",
        "output tokens/s",
        "p99 TTFT",
        "p99 TPOT",
        "SLO margin",
        *(
            f"{COST_FIGURES[k][0]} ({COST_FIGURES[k][1]})"
            for k in ("capex", "opex_per_year", "tco_per_year", "usd_per_mtok_output")
        ),
    ):
        table.add_column(col, justify="right" if col != "device" else "left")
    for r in results:
        if not r["attainable"]:
            table.add_row(r["device"], "-", "-", r["replica_plan"] or "-", *["-"] * 8)
            continue
        table.add_row(
            r["device"],
            str(r["cards"]),
            str(r["nodes"]),
            r["replica_plan"],
            *(_figure(r, key, unit) for key, unit in _SIZE_UNITS.items()),
            f"{r['slo_margin']:.2f}",
            *(
                "-" if r[k] is None else f"{r[k]:,.{digits}f}"
                for k, digits in (
                    ("capex_usd", 0),
                    ("opex_usd_per_year", 0),
                    ("tco_usd_per_year", 0),
                    ("usd_per_mtok_output", 2),
                )
            ),
        )
    opt.console.print(table)
    print_racks(results, facility)
    for r in results:
        if r.get("reason"):
            opt.console.print(f"[yellow]{r['device']}:[/] {r['reason']}", highlight=False)
        for key in ("cost_note", "server_warning"):
            if r.get(key):
                opt.console.print(f"[yellow]{r['device']}:[/] {r[key]}", highlight=False)
    applied = ", ".join(
        f"{s['metric']} <= {format_value(s['limit_s'], 's')} ({s['source']})" for s in slos
    )
    opt.console.print(f"SLOs applied: {applied}; no request rejected", highlight=False)
    opt.console.print(
        f"[dim]Throughput and p99s: means over {seeds} seed(s) ± the half width of their "
        f"{CONFIDENCE:.0%} confidence interval across seeds (each size is judged on the "
        "pessimistic bound: the interval's worse end, never better than the worst seed); "
        "P10–P90: the prediction interval from cross-validated residuals.[/]",
        highlight=False,
    )
    for label, _unit, definition in COST_FIGURES.values():
        opt.console.print(f"[dim]{label}: {definition}[/]", highlight=False)
    opt.print_overrides(cat)
