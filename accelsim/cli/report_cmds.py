"""``accelsim report``: the comparison report of a scenario as HTML, Markdown or PDF."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from accelsim.cli import (
    DEFAULT_FACILITY,
    DEFAULT_PRICES,
    CatalogOpt,
    DevicesOpt,
    FacilityOpt,
    MonteCarloOpt,
    PricesOpt,
    SeedOpt,
    SetOpt,
    app,
    console,
    open_catalog,
)
from accelsim.errors import AccelsimError
from accelsim.report import FORMATS, build_report, write_report
from accelsim.scenario import load_scenario


@app.command("report")
def report_cmd(
    scenario: Annotated[str, typer.Argument(help="Scenario name or file")] = "default",
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="Report file: .html, .md or .pdf (PDF needs WeasyPrint)"
        ),
    ] = Path("report.html"),
    device: DevicesOpt = None,
    prices: PricesOpt = DEFAULT_PRICES,
    facility: FacilityOpt = DEFAULT_FACILITY,
    monte_carlo: MonteCarloOpt = 2000,
    seed: SeedOpt = 0,
    catalog_dirs: CatalogOpt = None,
    overrides: SetOpt = None,
) -> None:
    """Comparison report: summary, claims, load sweep, cost with uncertainty, TCO, sensitivity,
    memory fit, validation error and every assumption with its source."""
    _report(scenario, output, device, prices, facility, monte_carlo, seed, catalog_dirs, overrides)


def _report(
    scenario: str,
    output: Path,
    device: list[str] | None,
    prices: str,
    facility: str,
    monte_carlo: int,
    seed: int,
    catalog_dirs: list[str] | None,
    overrides: list[str] | None,
) -> None:
    suffix = output.suffix.lower()
    if suffix not in FORMATS:
        raise AccelsimError(
            f"--output {output}: unknown format {suffix or '(none)'!r} (use {', '.join(FORMATS)})"
        )
    if suffix == ".pdf":
        try:
            import weasyprint  # noqa: F401
        except ImportError:
            raise AccelsimError(
                "PDF output needs WeasyPrint: pip install accelsim[pdf] (or write .html / .md)"
            ) from None
    if not output.parent.is_dir():
        raise AccelsimError(f"--output {output}: folder {output.parent} does not exist")
    cat = open_catalog(catalog_dirs, overrides)
    sc = load_scenario(scenario, cat)
    with console.status("building the report (simulations and Monte Carlo)"):
        report = build_report(
            sc,
            cat,
            list(device) if device else None,
            prices=prices,
            facility=facility,
            monte_carlo=monte_carlo,
            seed=seed,
        )
    path = write_report(report, output)
    console.print(f"wrote {path} ({len(report.charts)} charts, {len(report.sections)} sections)")
