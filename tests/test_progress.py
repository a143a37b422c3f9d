"""Progress bars (``accelsim.cli.progress``): on stderr only, when it is a terminal or forced."""

from __future__ import annotations

import json

from clirun import run_cli

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
    assert progress.progress_bar(progress.TextColumn("x")).disable


def test_a_forced_bar_draws_on_stderr_and_never_in_json_stdout(capsys, monkeypatch):
    monkeypatch.setenv(progress.FORCE_ENV, "1")
    code, out, err = run_cli(
        capsys, "size", "--scenario", "tiny", "-d", "a100-sxm4-80gb", "--seeds", "1", "--json"
    )
    assert code == 0, err
    json.loads(out)  # stdout is the JSON and nothing else
    assert "simulated a100-sxm4-80gb" in err
