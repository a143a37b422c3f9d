"""``accelsim whatif``: vary one catalog or scenario field and show how the answers move."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import MofNCompleteColumn, TextColumn
from rich.table import Table

import accelsim.cli.options as opt
import accelsim.cli.progress as bars
from accelsim.errors import AccelsimError
from accelsim.files import check_output_file
from accelsim.questions.whatif import DEFAULT_METRICS, METRICS, WhatIfResult, whatif


def _fmt(value: Any, unit: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not isinstance(value, int | float):
        return str(value)
    if unit == "s":
        return f"{value * 1e3:,.1f}"
    if unit == "":
        return f"{value * 100:.1f}"
    return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"


def _header(name: str) -> str:
    m = METRICS[name]
    unit = {"s": "ms", "": "%"}.get(m.unit, m.unit)
    return f"{m.label} ({unit})"


def _change(value: Any, base: Any) -> str:
    ok = all(isinstance(x, int | float) and not isinstance(x, bool) for x in (value, base))
    if not ok or not base:
        return ""
    return f" ({(value / base - 1) * 100:+.0f}%)"


def whatif_table(result: WhatIfResult) -> Table:
    """The what-if as a rich table: the baseline row, then one row per varied value with each
    metric and its change against the baseline."""
    v = result.vary
    table = Table(
        title=f"accelsim whatif: {v.key} on scenario {result.scenario} ({result.evaluator})"
    )
    table.add_column(v.key.rsplit(".", 1)[-1], justify="right", no_wrap=True)
    table.add_column("row")
    table.caption = "P10–P90: prediction interval from cross-validated residuals"
    for name in result.metrics:
        table.add_column(_header(name), justify="right")
    base = next((r for r in result.rows if not r["what_if"]), None)
    for r in result.rows:
        mark = "[cyan]what-if[/]" if r["what_if"] else f"[bold]{result.baseline_source}[/]"
        if r["status"] != "ok":
            reason = r["message"] or r["status"]
            table.add_row(r["label"], mark, f"[yellow]{r['status']}: {reason}[/]")
            continue
        cells = []
        for name in result.metrics:
            unit = METRICS[name].unit
            text = _fmt(r.get(name), unit)
            if r["what_if"] and base is not None and base["status"] == "ok":
                text += _change(r.get(name), base.get(name))
            if r.get(f"{name}_p10") is not None:
                text += f" (P10–P90 {_fmt(r[f'{name}_p10'], unit)}–{_fmt(r[f'{name}_p90'], unit)})"
            cells.append(text)
        table.add_row(r["label"], mark, *cells)
    return table


@opt.app.command("whatif")
def whatif_cmd(
    scenario: Annotated[str, typer.Argument(help="Scenario name or file.")] = "default",
    vary: Annotated[
        str | None,
        typer.Option(
            "--vary",
            help="Field and values: KIND.NAME.FIELD=LOW..HIGH (e.g. "
            "device.ascend-910b2.hbm_bandwidth=1.2TB/s..3.2TB/s) or =A,B,C; also "
            "scenario.FIELD (scenario.traffic.rate=2/s..10/s).",
        ),
    ] = None,
    steps: Annotated[int, typer.Option("--steps", help="Values in a LOW..HIGH range.")] = 5,
    log: Annotated[bool, typer.Option("--log", help="Geometric instead of linear steps.")] = False,
    metric: Annotated[
        str,
        typer.Option("--metric", help=f"Comma-separated metrics; known: {', '.join(METRICS)}."),
    ] = ",".join(DEFAULT_METRICS),
    evaluator: Annotated[
        str,
        typer.Option("--evaluator", help="simulate (discrete-event) or analytic (closed form)."),
    ] = "simulate",
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Also draw the chart into FILE (.svg/.png/.pdf).")
    ] = None,
    prices: opt.PricesOpt = opt.DEFAULT_PRICES,
    facility: opt.FacilityOpt = opt.DEFAULT_FACILITY,
    workers: Annotated[
        int, typer.Option("--workers", help="Processes to run points on (0: in this one).")
    ] = 0,
    catalog_dirs: opt.CatalogOpt = None,
    overrides: opt.SetOpt = None,
    as_json: opt.JsonOpt = False,
) -> None:
    """Vary one catalog or scenario field and show how throughput, latency and cost move
    against the baseline (the catalog value)."""
    if workers < 0:
        raise AccelsimError(f"--workers {workers}: cannot be negative (0 runs in this process)")
    if plot is not None:
        check_output_file(plot, "--plot", (".svg", ".png", ".pdf"))
    cat = opt.open_catalog(catalog_dirs, overrides)
    kwargs: dict[str, Any] = dict(
        vary=vary,
        steps=steps,
        log=log,
        metrics=metric,
        evaluator=evaluator,
        catalog=cat,
        prices=prices,
        facility=facility,
        workers=workers,
    )
    with bars.progress_bar(
        TextColumn("[bold]what-if[/]"), MofNCompleteColumn(), TextColumn("{task.fields[info]}")
    ) as bar:
        task = bar.add_task("whatif", total=None, info="")

        def tick(done: int, total: int, row: dict[str, Any]) -> None:
            bar.update(task, completed=done, total=total, info=row["status"])

        result = whatif(scenario, progress=tick, **kwargs)
    chart = result.save_plot(plot) if plot is not None else None
    if as_json:
        payload = result.as_dict()
        if chart is not None:
            payload["chart"] = str(chart)
        opt.emit_json(payload)
        return
    opt.console.print(whatif_table(result))
    base = result.baseline_value
    opt.console.print(
        f"baseline {result.vary.key} = {result.vary.label(base)} ({result.baseline_source}); "
        "what-if rows are not catalog values."
    )
    opt.print_overrides(result.overrides)
    if chart is not None:
        opt.console.print(f"wrote {chart}")
