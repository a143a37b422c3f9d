"""``accelsim report``: the comparison report of a scenario as HTML, Markdown or PDF."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

import accelsim.cli.options as opt
import accelsim.cli.progress as bars
from accelsim.report import build_report, check_output, write_report
from accelsim.run.resolve import load_scenario
from accelsim.sweep.replicate import DEFAULT_SEEDS


@opt.app.command("report")
def report_cmd(
    scenario: Annotated[str, typer.Argument(help="Scenario name or file")] = "default",
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="Report file: .html, .md or .pdf (PDF needs WeasyPrint)"
        ),
    ] = Path("report.html"),
    device: opt.DevicesOpt = None,
    prices: opt.PricesOpt = opt.DEFAULT_PRICES,
    facility: opt.FacilityOpt = opt.DEFAULT_FACILITY,
    monte_carlo: opt.MonteCarloOpt = 2000,
    seed: opt.SeedOpt = 0,
    plan: opt.ReplicaPlanOpt = None,
    seeds: opt.SeedsOpt = DEFAULT_SEEDS,
    catalog_dirs: opt.CatalogOpt = None,
    overrides: opt.SetOpt = None,
) -> None:
    """Comparison report: summary, claims, load sweep, cost with uncertainty, TCO, sensitivity,
    memory fit, validation error and every assumption with its source."""
    check_output(output)
    cat = opt.open_catalog(catalog_dirs, overrides)
    sc = load_scenario(scenario, cat)
    with bars.counter("size(s) simulated") as tick:
        report = build_report(
            sc,
            cat,
            list(device) if device else None,
            prices=prices,
            facility=facility,
            monte_carlo=monte_carlo,
            seed=seed,
            plan=plan,
            seeds=seeds,
            progress=lambda dev, r: tick(f"building the report: simulated {dev} x{r} replica(s)"),
        )
    path = write_report(report, output)
    opt.console.print(
        f"wrote {path} ({len(report.charts)} charts, {len(report.sections)} sections)"
    )
