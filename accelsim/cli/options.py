"""What every ``accelsim`` command shares: the typer app, the consoles, the common options
(``--catalog``, ``--set``, ``--json``, prices, facility, devices, plan), JSON output and the
what-if banner (progress bars: ``accelsim.cli.progress``, imported only by the commands that draw
one). Command modules (``catalog_cmds``, ``perf_cmds``, ...) register their
commands on ``app``; ``accelsim.cli`` imports them all and runs the app.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import TYPE_CHECKING, Annotated, Any

import typer

from accelsim.catalog.loader import Catalog, load_catalog
from accelsim.errors import AccelsimError
from accelsim.lazy import lazy_module
from accelsim.units import format_figure

if TYPE_CHECKING:
    from rich.console import Console

#: rich, imported when a first console is made (``console``, ``err_console``): a command that
#: prints only JSON never loads it (about 0.04 s CPU on the loaded 2-core machine)
_rich_console = lazy_module("rich.console")

__all__ = [
    "DEFAULT_FACILITY",
    "DEFAULT_PRICES",
    "CatalogOpt",
    "DevicesOpt",
    "FacilityOpt",
    "JsonOpt",
    "MonteCarloOpt",
    "PricesOpt",
    "ReplicaPlanOpt",
    "SeedOpt",
    "SeedsOpt",
    "SetOpt",
    "app",
    "check_executor",
    "console",
    "emit_json",
    "open_catalog",
    "print_overrides",
    "with_interval",
]

app = typer.Typer(
    name="accelsim",
    help="Simulate and cost AI accelerator clusters serving sparse MoE LLMs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
#: stdout's and stderr's consoles: annotated only, made at first use (``__getattr__``)
console: Console
err_console: Console
_CONSOLES = ("console", "err_console")
_CONSOLE_LOCK = threading.Lock()


def _made(name: str) -> Console:
    """The console ``name`` (``console``: stdout; ``err_console``: stderr), made at its first
    use and then kept as the module's attribute (one per process, whatever threads race)."""
    with _CONSOLE_LOCK:
        made = globals().get(name)
        if made is None:
            made = globals()[name] = _rich_console.Console(stderr=name == "err_console")
    return made


def __getattr__(name: str) -> Any:
    """``console`` and ``err_console``: rich consoles made at first use (``_made``)."""
    if name in _CONSOLES:
        return _made(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


CatalogOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--catalog",
        help="Extra catalog folder (devices/, workloads/, tco/); repeatable. "
        "Default: $ACCELSIM_CATALOG.",
    ),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="What-if override KIND.NAME.FIELD=VALUE, e.g. "
        "device.ascend-910b2.hbm_bandwidth=3.2TB/s; repeatable.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
PricesOpt = Annotated[str, typer.Option("--prices", help="Price book.")]
FacilityOpt = Annotated[str, typer.Option("--facility", help="Facility profile.")]
MonteCarloOpt = Annotated[int, typer.Option("--monte-carlo", help="Monte Carlo draws.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Monte Carlo seed.")]
DevicesOpt = Annotated[
    list[str] | None, typer.Option("--device", "-d", help="Device to compare; repeatable.")
]
SeedsOpt = Annotated[
    int,
    typer.Option(
        "--seeds",
        help="Replications (simulation seeds, derived from the scenario's): figures are their "
        "means with a 90 % confidence interval across seeds.",
        min=1,
    ),
]
ReplicaPlanOpt = Annotated[
    str | None,
    typer.Option("--plan", help="Replica plan, e.g. tp=4,dp=8,ep=32, or auto (tuned)."),
]
AvailabilityOpt = Annotated[
    float | None,
    typer.Option(
        "--availability",
        help="Keep each sized cluster's capacity whole this share of the time, e.g. 0.999: adds "
        "the spare nodes it takes (bought, racked, powered) to the cluster and its cost "
        "(capex and Monte Carlo).",
    ),
]
#: Defaults shared by the commands that cost a deployment.
DEFAULT_PRICES = "international-2025"
DEFAULT_FACILITY = "us-2025"


def open_catalog(catalog: list[str] | None, overrides: list[str] | None) -> Catalog:
    """The catalog for a command: built-in + user folders + what-if overrides."""
    return load_catalog(catalog, overrides)


def _default(o: Any) -> Any:
    if hasattr(o, "as_dict"):
        return o.as_dict()
    if hasattr(o, "model_dump"):
        return o.model_dump()
    if hasattr(o, "tolist"):
        return o.tolist()
    if hasattr(o, "item"):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def emit_json(payload: Any, catalog: Catalog | None = None) -> None:
    """Print ``payload`` as JSON on stdout (sorted keys, stable for diffs). With ``catalog``, a
    dict payload gains ``"overrides"`` — the what-if overrides in effect — when there are any."""
    if catalog is not None and isinstance(payload, dict):
        marks = catalog.overrides_in_effect()
        if marks:
            payload = {**payload, "overrides": marks}
    sys.stdout.write(json.dumps(payload, indent=2, sort_keys=True, default=_default) + "\n")


def check_executor(executor: str, workers: int | None) -> None:
    """``--executor`` and ``--workers`` of the commands that run a sweep (sweep, tune)."""
    if executor not in ("local", "ray"):
        raise AccelsimError(f"--executor {executor!r}: use local or ray")
    if workers is not None and workers < 0:
        raise AccelsimError("--workers cannot be negative")


def with_interval(
    value: Any, unit: str, interval: Any = None, half_width: float | None = None
) -> str:
    """A predicted figure as tables print it (``accelsim.units.format_figure``):
    ``1,234 tok/s ±31 (P10–P90 1,050–1,390)`` — the value, the half width of its 90 %
    confidence interval across seeds (``half_width``) and its prediction interval
    (``interval``: an ``Interval`` or its JSON form, from the cross-validated residuals)."""
    return format_figure(value, unit, interval=interval, half_width=half_width)


def print_overrides(overrides: Catalog | list[dict[str, Any]]) -> None:
    """One yellow line per what-if override in effect (``Catalog.overrides_in_effect``), with
    the catalog value it replaced, so that a what-if is never mistaken for the catalog."""
    if isinstance(overrides, Catalog):
        overrides = overrides.overrides_in_effect()
    for o in overrides:
        was = o["catalog_value"]
        if o["key"].startswith("scenario."):
            was_text = "replaces the scenario file's value"
        else:
            was_text = f"catalog value: {was}" if was is not None else "not in the catalog file"
        _made("console").print(
            f"[yellow]what-if:[/] {o['key']}={o['value']} ({was_text})", highlight=False
        )
