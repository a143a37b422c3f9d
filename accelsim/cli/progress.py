"""Progress bars of the commands that can take more than two seconds (run, compare, size, tune,
sweep, validate --cv, report, whatif): rich bars on **stderr**, drawn only when stderr is a
terminal, or when ``ACCELSIM_PROGRESS=1`` forces them (``0`` turns them off). Standard output
never carries a bar, so ``--json`` output and pipes stay clean.

The questions layer reports progress through plain callbacks (``progress(...)`` arguments);
``counter`` turns a bar into such a callback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from accelsim.lazy import lazy_module

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, ProgressColumn

#: rich, imported when a bar or its console is made: ``run --json`` in a pipe draws no bar and
#: prints no table, so it never loads rich (about 0.05 s CPU on the loaded 2-core machine)
_console = lazy_module("rich.console")
_progress = lazy_module("rich.progress")

__all__ = [
    "FORCE_ENV",
    "NoBar",
    "bar_console",
    "counter",
    "enabled",
    "progress_bar",
    "surely_off",
    "text_bar",
]

#: ``1`` draws the bars even when stderr is not a terminal; ``0`` never draws them.
FORCE_ENV = "ACCELSIM_PROGRESS"


def _forced() -> bool | None:
    value = os.environ.get(FORCE_ENV, "").strip()
    if value in ("1", "true", "yes", "always"):
        return True
    if value in ("0", "false", "no", "never"):
        return False
    return None


def bar_console() -> Console:
    """The stderr console the bars draw on (a terminal one when forced)."""
    return _console.Console(stderr=True, force_terminal=True if _forced() else None)


def enabled(console: Console | None = None) -> bool:
    """Whether a bar is drawn: forced by ``ACCELSIM_PROGRESS``, else when stderr is a terminal."""
    forced = _forced()
    if forced is not None:
        return forced
    return (console or bar_console()).is_terminal


def surely_off() -> bool:
    """Whether no bar is drawn, decided without rich: not forced on (``FORCE_ENV``), and
    stderr no terminal by the rule of rich's ``Console.is_terminal`` — neither ``TTY_COMPATIBLE``
    nor ``FORCE_COLOR`` set (with either, rich decides: False here) and ``isatty()`` false.
    Whenever this is True, ``enabled()`` is False."""
    forced = _forced()
    if forced is not None:
        return not forced
    if "TTY_COMPATIBLE" in os.environ or "FORCE_COLOR" in os.environ:
        return False
    isatty = getattr(sys.stderr, "isatty", None)
    try:
        return isatty is None or not isatty()
    except ValueError:  # a closed stderr: rich says no terminal too
        return True


def progress_bar(label: ProgressColumn, *columns: ProgressColumn) -> Progress:
    """A transient bar on stderr: ``label``, the bar, ``columns``, the elapsed time."""
    console = bar_console()
    return _progress.Progress(
        label,
        _progress.BarColumn(),
        *columns,
        _progress.TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not enabled(console),
    )


class NoBar:
    """What ``text_bar`` gives when no bar is drawn: a context manager whose tasks and
    updates do nothing (``rich.progress.Progress``'s ``add_task`` and ``update``)."""

    def __enter__(self) -> NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add_task(self, description: str, **fields: Any) -> int:
        return 0

    def update(self, task: int, **fields: Any) -> None:
        return None


def text_bar(*templates: str) -> Progress | NoBar:
    """``progress_bar`` of text columns (``rich.progress.TextColumn`` of each template, the
    first as the label), or ``NoBar`` when ``surely_off``, without importing rich."""
    if surely_off():
        return NoBar()
    return progress_bar(*(_progress.TextColumn(t) for t in templates))


@contextmanager
def counter(what: str, total: int | None = None) -> Iterator[Callable[[str], None]]:
    """A bar counting ``what`` (e.g. "simulation(s)"); yields ``tick(description)``, which
    advances it by one and shows ``description``. Safe to call from several threads."""
    with progress_bar(
        _progress.TextColumn("[progress.description]{task.description}"),
        _progress.TextColumn(f"{{task.completed}} {what}"),
    ) as bar:
        task = bar.add_task("working", total=total)

        def tick(description: str) -> None:
            bar.update(task, advance=1, description=description)

        yield tick
