"""Progress bars (``accelsim.cli.progress``): on stderr only, when it is a terminal or forced."""

from __future__ import annotations

import io
import json
import sys

from clirun import run_cli
from rich.progress import TextColumn

from accelsim.cli import progress


def test_bars_follow_the_terminal_unless_forced(monkeypatch):
    monkeypatch.delenv(progress.FORCE_ENV, raising=False)
    console = progress.bar_console()
    assert console.stderr
    assert progress.enabled(console) == console.is_terminal
    monkeypatch.setenv(progress.FORCE_ENV, "1")
    assert progress.enabled() and progress.bar_console().is_terminal
    monkeypatch.setenv(progress.FORCE_ENV, "0")
    assert not progress.enabled()
    assert progress.progress_bar(TextColumn("x")).disable


def test_a_forced_bar_draws_on_stderr_and_never_in_json_stdout(capsys, monkeypatch):
    monkeypatch.setenv(progress.FORCE_ENV, "1")
    code, out, err = run_cli(
        capsys, "size", "--scenario", "tiny", "-d", "a100-sxm4-80gb", "--seeds", "1", "--json"
    )
    assert code == 0, err
    json.loads(out)  # stdout is the JSON and nothing else
    assert "simulated a100-sxm4-80gb" in err


def test_a_bar_that_is_surely_off_is_decided_without_rich(monkeypatch):
    """``surely_off`` never says off where rich would draw: forced on or off wins; with
    ``TTY_COMPATIBLE`` or ``FORCE_COLOR`` set rich decides; else stderr's ``isatty``. When it
    says off, ``text_bar`` is a ``NoBar`` whose tasks and updates do nothing."""
    monkeypatch.delenv(progress.FORCE_ENV, raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    for stream, off in ((io.StringIO(), True), (Tty(), False)):
        monkeypatch.setattr(sys, "stderr", stream)
        assert progress.surely_off() is off
        assert not progress.enabled() if off else progress.enabled()
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    for env, value in (("FORCE_COLOR", "1"), ("TTY_COMPATIBLE", "1")):
        monkeypatch.setenv(env, value)
        assert not progress.surely_off() and progress.enabled()
        monkeypatch.delenv(env)
    monkeypatch.setenv(progress.FORCE_ENV, "1")
    assert not progress.surely_off()
    monkeypatch.setenv(progress.FORCE_ENV, "0")
    assert progress.surely_off()
    with progress.text_bar("[bold]x[/]", "{task.fields[info]}") as bar:
        assert isinstance(bar, progress.NoBar)
        task = bar.add_task("run", total=1.0, info="")
        assert bar.update(task, completed=1.0, info="done") is None
    monkeypatch.setenv(progress.FORCE_ENV, "1")
    drawn = progress.text_bar("[bold]x[/]", "{task.fields[info]}")
    assert not isinstance(drawn, progress.NoBar) and not drawn.disable
