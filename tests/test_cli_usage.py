"""Misused commands (unknown option, extra argument, bad option type) print click's usage line
and exit 2 — never a Python traceback."""

from __future__ import annotations

import pytest
from clirun import run_cli


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["size", "tiny", "-d", "a100-sxm4-80gb"], "unexpected extra argument"),
        (["compare", "--devices", "x"], "No such option: --devices"),
        (["tco", "-d", "a100-sxm4-80gb", "--cards", "many"], "Invalid value for '--cards'"),
    ],
)
def test_usage_errors_exit_2_with_one_message(capsys, args, message):
    code, out, err = run_cli(capsys, *args)
    assert code == 2
    assert message in err and "Usage: accelsim" in err
    assert "Traceback" not in err + out
