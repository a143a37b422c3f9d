"""The ``accelsim`` command line: parse, call the public API, render with rich.

Command modules (``catalog_cmds``, ``perf_cmds``, ...) register their commands on the app of
``accelsim.cli.options``; importing them here builds the whole command tree. Every command that
reads the catalog takes ``--catalog DIR`` and ``--set KIND.NAME.FIELD=VALUE``; every command that
prints takes ``--json``. Errors from bad input (``AccelsimError``) print one red line and exit
with status 2 — never a traceback.
"""

from __future__ import annotations

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
        code = app(args=argv, prog_name="accelsim", standalone_mode=False)
    except AccelsimError as exc:
        err_console.print(
            f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt, *_aborts()):
        err_console.print("interrupted")
        sys.exit(130)
    except _Terminated:
        err_console.print("interrupted (terminated)")
        sys.exit(143)
    except _usage_errors() as exc:  # unknown option, extra argument, bad option value
        exc.show()
        sys.exit(getattr(exc, "exit_code", 2) or 2)
    if isinstance(code, int) and code:
        sys.exit(code)


def _aborts() -> tuple[type[BaseException], ...]:
    """Click's ``Abort`` (what a Ctrl-C inside a command becomes), vendored or not."""
    found: list[type[BaseException]] = []
    try:
        from typer._click.exceptions import Abort as Vendored
    except ImportError:
        pass
    else:
        found.append(Vendored)
    try:
        from click.exceptions import Abort
    except ImportError:
        pass
    else:
        found.append(Abort)
    return tuple(found)


def _usage_errors() -> tuple[type[Exception], ...]:
    """Click's usage-error classes: typer >= 0.2x vendors click (its errors derive from
    ``typer.exceptions.TyperException``); older typer raises ``click.ClickException``."""
    found: list[type[Exception]] = []
    try:
        from typer._click.exceptions import ClickException as Vendored
    except ImportError:
        pass
    else:
        found.append(Vendored)
    try:
        from click import ClickException
    except ImportError:
        pass
    else:
        found.append(ClickException)
    return tuple(found)
