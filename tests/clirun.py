"""Run the ``accelsim`` command line in-process, as users do, and read its exit status."""

from __future__ import annotations

from accelsim.cli import main


def exit_code(argv: list[str]) -> int:
    """The exit status of ``accelsim ARGV`` (``main`` exits non-zero through SystemExit)."""
    try:
        main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of ``accelsim ARGS``."""
    code = exit_code(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def run_line(capsys, line: str) -> tuple[int, str, str]:
    """``run_cli`` on one command line as a user types it (split on whitespace)."""
    return run_cli(capsys, *line.split())
