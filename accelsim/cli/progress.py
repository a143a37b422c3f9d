"""Progress bars of the commands that can take more than two seconds (run, compare, size, tune,
sweep, validate --cv, report, whatif): rich bars on **stderr**, drawn only when stderr is a
terminal, or when ``ACCELSIM_PROGRESS=1`` forces them (``0`` turns them off). Standard output
never carries a bar, so ``--json`` output and pipes stay clean.

The questions layer reports progress through plain callbacks (``progress(...)`` arguments);
``counter`` turns a bar into such a callback.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn

__all__ = ["FORCE_ENV", "bar_console", "counter", "enabled", "progress_bar"]

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
    return Console(stderr=True, force_terminal=True if _forced() else None)


def enabled(console: Console | None = None) -> bool:
    """Whether a bar is drawn: forced by ``ACCELSIM_PROGRESS``, else when stderr is a terminal."""
    forced = _forced()
    if forced is not None:
        return forced
    return (console or bar_console()).is_terminal


def progress_bar(label: ProgressColumn, *columns: ProgressColumn) -> Progress:
    """A transient bar on stderr: ``label``, the bar, ``columns``, the elapsed time."""
    console = bar_console()
    return Progress(
        label,
        BarColumn(),
        *columns,
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not enabled(console),
    )


@contextmanager
def counter(what: str, total: int | None = None) -> Iterator[Callable[[str], None]]:
    """A bar counting ``what`` (e.g. "simulation(s)"); yields ``tick(description)``, which
    advances it by one and shows ``description``. Safe to call from several threads."""
    with progress_bar(
        TextColumn("[progress.description]{task.description}"),
        TextColumn(f"{{task.completed}} {what}"),
    ) as bar:
        task = bar.add_task("working", total=total)

        def tick(description: str) -> None:
            bar.update(task, advance=1, description=description)

        yield tick
