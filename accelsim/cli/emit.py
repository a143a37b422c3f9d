"""The deployment side of an answer: ``--emit FORMAT`` on ``run``, ``compare``, ``size`` and
``tune`` prints the launch recipe of the deployment the answer assumed
(``accelsim.report.recipes``) instead of the answer's tables, so that ``accelsim tune ...
--emit sglang > launch.sh`` writes a script; ``print_racks`` is ``size``'s racks table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

import accelsim.cli.options as opt
import accelsim.report.recipes as recipes
from accelsim.catalog.loader import Catalog
from accelsim.errors import AccelsimError
from accelsim.lazy import lazy_module
from accelsim.report.recipes import RECIPE_FORMATS
from accelsim.run.resolve import Deployment, deploy
from accelsim.run.scenario import Scenario, read_scenario

if TYPE_CHECKING:  # annotations only: ``run --emit`` does not import the sizing question
    from accelsim.questions.sizing import SizingResult

__all__ = ["EmitOpt", "check_emit", "print_racks", "print_recipe", "print_sized_recipes"]

_table = lazy_module("rich.table")  # at the first racks table: `run` without --emit needs none

EmitOpt = Annotated[
    str | None,
    typer.Option(
        "--emit",
        help=f"Print the launch recipe of the deployment instead: {', '.join(RECIPE_FORMATS)}.",
    ),
]


def check_emit(fmt: str | None) -> None:
    """Refuse an unknown ``--emit`` format before any work."""
    if fmt is not None and fmt not in RECIPE_FORMATS:
        raise AccelsimError(f"--emit {fmt!r}: expected one of {', '.join(RECIPE_FORMATS)}")


def _recipe(d: Deployment | Scenario | dict[str, Any], fmt: str, catalog: Catalog) -> str:
    if isinstance(d, dict):
        d = read_scenario(d, catalog)
    if isinstance(d, Scenario):
        d = deploy(d, catalog)
    return recipes.emit_recipe(d, fmt, catalog)  # the recipe writers load here, on first use


def print_recipe(
    deployment: Deployment | Scenario | dict[str, Any], fmt: str, catalog: Catalog
) -> None:
    """Print the recipe of ``deployment`` (or of the scenario, or mapping, it resolves from)."""
    typer.echo(_recipe(deployment, fmt, catalog), nl=False)


def print_sized_recipes(sizings: list[SizingResult], fmt: str, catalog: Catalog) -> None:
    """Print the recipe of each device's sized cluster (the size that meets the SLOs); a device
    with no such size has nothing to launch, an error naming it."""
    texts = []
    for s in sizings:
        run = s.chosen
        if not s.attainable or run is None or run.scenario is None:
            raise AccelsimError(
                f"--emit {fmt}: no size of {s.device} meets the SLOs, so there is no deployment "
                f"to launch ({s.reason or 'unattainable'})"
            )
        texts.append(_recipe(run.scenario, fmt, catalog))
    typer.echo("\n".join(texts), nl=False)


def print_racks(rows: list[dict[str, Any]], facility: str) -> None:
    """The racks table of ``size``: per device its racks in ``facility``, the fullest rack's
    kW against the facility's, its spares, and whether the facility can host it (a "not
    hostable" row names the reason and the nearest feasible option)."""
    placed = [r for r in rows if (r.get("deployment") or {}).get("racks")]
    if not placed:
        return
    table = _table.Table(title=f"racks at {facility}")
    for col in ("device", "nodes", "spare nodes", "racks", "nodes/rack", "kW/rack", "total kW"):
        table.add_column(col, justify="left" if col == "device" else "right")
    table.add_column("hostable", justify="left")
    for r in placed:
        racks, spares = r["deployment"]["racks"], r["deployment"]["spares"]
        limit = racks["facility_kw_per_rack"]
        kw = f"{racks['kw_per_rack']:.1f} of {limit:g}" if racks["hostable"] else "-"
        extra = 0 if spares is None else int(spares["spare_nodes"])
        table.add_row(
            r["device"],
            str(racks["nodes"] - extra),
            "-" if spares is None else str(extra),
            str(racks["racks"]) if racks["hostable"] else "-",
            str(racks["nodes_per_rack"]) if racks["hostable"] else "-",
            kw,
            f"{racks['total_kw']:.1f}",
            "yes" if racks["hostable"] else "[red]not hostable[/]",
        )
    opt.console.print(table)
    for r in placed:
        racks = r["deployment"]["racks"]
        if not racks["hostable"]:
            opt.console.print(
                f"[red]{r['device']}: not hostable at {facility}:[/] {racks['reason']}; "
                f"nearest feasible: {racks['nearest']}",
                highlight=False,
            )
