"""The ``accelsim`` command line: parse, call the public API, render with rich.

Command modules (``catalog_cmds``, ``perf_cmds``, ...) register their commands on the app of
``accelsim.cli.options``. The command tree is lazy: ``main`` imports only the module of the
command named on the line (``COMMANDS``), so ``accelsim step ...`` never imports the simulator,
the sweep engine or the report builder; ``accelsim`` and ``accelsim --help`` render the listing
from ``COMMANDS`` (each command's name and the first paragraph of its docstring) without
importing any command module; anything else (an unknown command or option) loads the whole tree
so that typer's message is the usual one. ``accelsim.cli.app`` (tests, notebooks) is the whole
tree. ``tests/test_startup.py`` checks that the listing equals the whole tree's help. Every
command that reads the catalog takes ``--catalog DIR`` and ``--set KIND.NAME.FIELD=VALUE``;
every command that prints takes ``--json``. Errors from bad input (``AccelsimError``) print one
red line and exit with status 2 — never a traceback.
"""

from __future__ import annotations

import gc
import importlib
import math
import os
import signal
import sys
from typing import Any

import typer

from accelsim.errors import AccelsimError
from accelsim.lazy import lazy_module

__all__ = ["COMMANDS", "HELP", "app", "main"]

#: The app's own help (``accelsim.cli.options.app``), for the listing.
HELP = "Simulate and cost AI accelerator clusters serving sparse MoE LLMs."

#: Every command, in the order of ``accelsim --help``: its module in ``accelsim.cli`` and the
#: first paragraph of its docstring (what the listing shows).
COMMANDS: dict[str, tuple[str, str]] = {
    "catalog": (
        "catalog_cmds",
        "List the catalog's devices, servers, fabrics, framework profiles, models, price books or"
        "\nfacilities.",
    ),
    "show": ("catalog_cmds", "Every field of one catalog entry with its source and confidence."),
    "fit": (
        "catalog_cmds",
        "Does MODEL fit on CARDS cards of DEVICE? Weights, KV capacity, max batch, min cards.",
    ),
    "step": (
        "perf_cmds",
        "Price one forward iteration: time per op class, share, bound, tokens/s per card.",
    ),
    "validate": (
        "validate_cmds",
        "Predict every published validation case and print the signed errors.",
    ),
    "run": (
        "run_cmds",
        "Simulate a serving scenario on several seeds and print its summary (throughput, latency,"
        "\ngoodput), each figure with its spread across seeds and its prediction interval.",
    ),
    "tco": (
        "tco_cmds",
        "Cost of owning (or renting) N cards: $/card-hour, $/cluster-year, $/M tokens.",
    ),
    "cluster-cost": (
        "tco_cmds",
        "What a claimed cluster cost implies per card, against the price books (cards only and"
        "\nall-in capex: servers + network + storage + installation).",
    ),
    "compare": (
        "compare_cmds",
        "Devices side by side on one model and traffic: fit, smallest deployment, simulated"
        "\nthroughput and latency, cards needed under the SLOs, and cost with uncertainty.",
    ),
    "size": (
        "compare_cmds",
        "The fewest cards of each device that meet the SLOs at a load, and what they cost.",
    ),
    "sweep": (
        "sweep_cmds",
        "Run a design-space sweep; results stream into OUT/results.sqlite (resumable).",
    ),
    "report": (
        "report_cmds",
        "Comparison report: summary, claims, load sweep, cost with uncertainty, TCO, sensitivity,"
        "\nmemory fit, validation error and every assumption with its source.",
    ),
    "whatif": (
        "whatif_cmds",
        "Vary one catalog or scenario field and show how throughput, latency and cost move"
        "\nagainst the baseline (the catalog value).",
    ),
    "tune": (
        "tune_cmds",
        "Search plans (TP/EP/DP attention, P/D pools, scheduler limits) for a card budget:"
        "\nthe analytic model prunes, the simulator confirms; prints the best with its evidence.",
    ),
}
_MODULES = list(dict.fromkeys(module for module, _ in COMMANDS.values()))

#: rich, imported when an error or interruption is printed: a command that succeeds and
#: prints only JSON never loads it (``accelsim.cli.options`` makes its consoles at first use)
_rich_console = lazy_module("rich.console")
_markup = lazy_module("rich.markup")


def _say(message: str, **how: Any) -> None:
    """Print ``message`` (rich markup) on stderr."""
    _rich_console.Console(stderr=True).print(message, **how)


def _load(modules: list[str]) -> typer.Typer:
    """Import the command ``modules`` (registering their commands) and return the app, its
    commands in ``COMMANDS`` order whatever order earlier calls loaded them in."""
    for module in modules:
        importlib.import_module(f"accelsim.cli.{module}")
    full = importlib.import_module("accelsim.cli.options").app
    full.registered_commands.sort(
        key=lambda info: _MODULES.index(info.callback.__module__.rsplit(".", 1)[1])
    )
    return full


def _listing() -> typer.Typer:
    """An app that only lists the commands (``accelsim``, ``accelsim --help``): the same
    settings as ``accelsim.cli.options.app``, each command's help from ``COMMANDS``."""
    listing = typer.Typer(
        name="accelsim",
        help=HELP,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    for name, (_module, text) in COMMANDS.items():
        listing.command(name, help=text)(_load_and_run)
    return listing


def _load_and_run() -> None:
    """Never reached from the listing (a command on the line loads its module first); if it
    is, run the line on the whole tree."""
    _load(_MODULES)(args=sys.argv[1:], prog_name="accelsim", standalone_mode=False)


def _app_for(args: list[str]) -> Any:
    """The command group that runs ``args``: the named command's module only, the listing, or
    (unknown command or option) the whole tree. Always a group: typer would run an app of one
    registered command as that command (``accelsim run FILE`` would read ``run`` as FILE)."""
    if args and not args[0].startswith("-") and args[0] in COMMANDS:
        chosen = _load([COMMANDS[args[0]][0]])
    elif args in ([], ["--help"]):
        chosen = _listing()
    else:
        chosen = _load(_MODULES)
    return typer.main.get_group(chosen)


def _loaded(args: list[str], entry: bool) -> Any:
    """``_app_for(args)``; as the process's entry point (``entry``: ``main()`` reading
    ``sys.argv``, as the console script calls it) with the cyclic garbage collector paused
    while the command's modules load, then every object alive moved out of its reach
    (``gc.freeze``): importing creates some 50,000 tracked objects that live as long as the
    process, and tracing them in about 45 collections, and again in every later one, only costs
    time (GC time of ``accelsim step`` 0.06-0.09 -> 0.03-0.045 s on the loaded 2-core machine).
    Called with ``argv`` (tests, notebooks) nothing changes: a long session's garbage is never
    frozen."""
    if not entry:
        return _app_for(args)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _app_for(args)
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def __getattr__(name: str) -> Any:
    """``accelsim.cli.app``: the whole command tree."""
    if name == "app":
        return _load(_MODULES)
    raise AttributeError(f"module 'accelsim.cli' has no attribute {name!r}")


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so that every ``finally`` (temp files) runs; a
    ``BaseException`` like ``KeyboardInterrupt``, so that no library's ``except Exception``
    (pint's registry loader turned it into a TypeError) can swallow or convert it."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the app; bad input (``AccelsimError``, usage errors) is
    one line and exit 2, Ctrl-C is "interrupted" and exit 130, SIGTERM exit 143; a command's
    own exit code is passed on."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        args = list(sys.argv[1:] if argv is None else argv)
        _check_numbers(args)
        group = _loaded(args, entry=argv is None)
        code = group(args=argv, prog_name="accelsim", standalone_mode=False)
    except AccelsimError as exc:
        _say(f"[bold red]error:[/] {_markup.escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt, *_click_errors("Abort")):
        _interrupted("interrupted", 130)
    except _Terminated:
        _interrupted("interrupted (terminated)", 143)
    except _click_errors("ClickException") as exc:  # unknown option, extra argument, bad value
        _say(
            f"[bold red]error:[/] {_markup.escape(_usage_line(exc))}",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(getattr(exc, "exit_code", 2) or 2)
    if code == 130:  # typer turns a Ctrl-C inside a command into exit code 130, silently
        _interrupted("interrupted", 130)
    if isinstance(code, int) and code:
        sys.exit(code)


def _usage_line(exc: BaseException) -> str:
    """A usage error on one line: click's message and the command's usage."""
    message = " ".join(exc.format_message().split())  # type: ignore[attr-defined]
    ctx = getattr(exc, "ctx", None)
    if ctx is None:
        return message
    pieces = " ".join(ctx.command.collect_usage_pieces(ctx))
    return f"{message} (Usage: {ctx.command_path} {pieces}; see --help)"


#: Bounds of the sizes and fractions options take, the same in every command (``-n`` is
#: ``--cards`` wherever it exists): checked before any work, so ``fit --cards 1e20`` is one
#: line, not a hang. A million cards is beyond any cluster built; a million Monte Carlo draws
#: is minutes; the rest are what the options mean (fractions, counts).
_BOUNDS: dict[str, tuple[float, float]] = {
    "--cards": (0, 1_000_000),
    "-n": (0, 1_000_000),
    "--max-cards": (1, 1_000_000),
    "--monte-carlo": (0, 1_000_000),
    "--context": (1, 1_000_000_000),
    "--decode-batch": (1, 10_000_000),
    "--prefill-tokens": (1, 1_000_000_000),
    "--prefill-seqs": (1, 10_000_000),
    "--mtp": (0, 64),
    "--accept": (0, 1),
    "--utilization": (0, 1),
    "-u": (0, 1),
    "--years": (0, 100),
    "--steps": (1, 10_000),
    "--workers": (0, 4096),
    "-w": (0, 4096),
    "--top-k": (1, 100_000),
    "-k": (1, 100_000),
}


def _check_numbers(argv: list[str]) -> None:
    """Every number given to an option is finite, and a size or fraction within its bounds
    (``_BOUNDS``): ``--cards inf``, ``--accept nan``, ``--years 1e400`` and ``fit --cards
    1e20`` are refused here, once, for every command (the option parsers would take them)."""
    for i, token in enumerate(argv):
        if token.startswith("--") and "=" in token:
            flag, _, value = token.partition("=")
        elif i > 0 and argv[i - 1].startswith("-") and "=" not in argv[i - 1]:
            flag, value = argv[i - 1], token
        else:
            continue
        try:
            number = float(value)
        except ValueError:
            continue
        if not math.isfinite(number):
            raise AccelsimError(f"{flag}: must be a finite number (got {value!r})")
        low, high = _BOUNDS.get(flag, (-math.inf, math.inf))
        if not low <= number <= high:
            raise AccelsimError(f"{flag}: must be between {low:g} and {high:g} (got {value})")


def _interrupted(message: str, status: int) -> None:
    """Say so and end the process now. Every ``finally`` has run (temp files are gone); exit
    handlers are skipped on purpose: a process pool whose workers were just stopped can keep
    ``concurrent.futures``' exit handler waiting for ever."""
    _say(message)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def _click_errors(name: str) -> tuple[type[BaseException], ...]:
    """Click's exception class ``name`` from every click in use: typer >= 0.2x vendors click
    (``typer._click``), older typer raises ``click``'s own. ``Abort`` is what a Ctrl-C inside a
    command becomes; ``ClickException`` covers usage errors."""
    found: list[type[BaseException]] = []
    for module in ("typer._click.exceptions", "click.exceptions"):
        try:
            found.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            continue
    return tuple(found)
