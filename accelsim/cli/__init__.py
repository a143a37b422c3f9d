"""The ``accelsim`` command line: parse, call the public API, render with rich.

Command modules (``catalog_cmds``, ``perf_cmds``, ...) register their commands on the app of
``accelsim.cli.options``; importing them here builds the whole command tree. Every command that
reads the catalog takes ``--catalog DIR`` and ``--set KIND.NAME.FIELD=VALUE``; every command that
prints takes ``--json``. Errors from bad input (``AccelsimError``) print one red line and exit
with status 2 — never a traceback.
"""

from __future__ import annotations

import importlib
import math
import os
import signal
import sys

import typer
from rich.markup import escape

# The import order is the registration order, which is the order of ``accelsim --help``.
# isort: off
from accelsim.cli import catalog_cmds, perf_cmds, run_cmds, tco_cmds  # noqa: F401
from accelsim.cli import compare_cmds, sweep_cmds, report_cmds  # noqa: F401
from accelsim.cli import whatif_cmds, tune_cmds  # noqa: F401

# isort: on
from accelsim.cli.options import app, err_console
from accelsim.errors import AccelsimError

__all__ = ["app", "main"]


class _Terminated(Exception):
    """SIGTERM, raised in the main thread so that every ``finally`` (temp files) runs."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the app; bad input (``AccelsimError``, usage errors) is
    one line and exit 2, Ctrl-C is "interrupted" and exit 130, SIGTERM exit 143; a command's
    own exit code is passed on."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        _check_numbers(sys.argv[1:] if argv is None else argv)
        code = app(args=argv, prog_name="accelsim", standalone_mode=False)
    except AccelsimError as exc:
        err_console.print(
            f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt, *_click_errors("Abort")):
        _interrupted("interrupted", 130)
    except _Terminated:
        _interrupted("interrupted (terminated)", 143)
    except _click_errors("ClickException") as exc:  # unknown option, extra argument, bad value
        err_console.print(
            f"[bold red]error:[/] {escape(_usage_line(exc))}", highlight=False, soft_wrap=True
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
    err_console.print(message)
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
