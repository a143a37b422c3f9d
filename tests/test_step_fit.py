"""`accelsim step` flags a batch that cannot exist in memory and names the largest that can."""

from __future__ import annotations

import json

from clirun import run_cli

from accelsim.catalog.loader import load_catalog
from accelsim.dtypes import precision
from accelsim.model.plan import fit, parse_plan

ARGS = ("step", "deepseek-v3", "-d", "ascend-910b2", "--cards", "16", "--plan", "tp=2,dp=8,ep=16")
ARGS += ("--dtype", "int8", "--context", "4096")


def _largest() -> int:
    cat = load_catalog()
    model = cat.model("deepseek-v3")
    plan = parse_plan("tp=2,dp=8,ep=16", 16)
    mem = fit(
        model, cat.device("ascend-910b2"), plan, model.deployed_precision(precision("int8")), 4096
    )
    assert mem.fits
    return mem.max_batch_at_context


def test_step_on_a_batch_that_does_not_fit_exits_0_and_names_the_largest(capsys):
    largest = _largest()
    code, out, _ = run_cli(capsys, *ARGS, "--decode-batch", str(largest + 1))
    assert code == 0
    text = " ".join(out.split())
    assert "does not fit" in text
    assert f"the largest batch that fits is {largest}" in text
    code, out, _ = run_cli(capsys, *ARGS, "--decode-batch", str(largest + 1), "--json")
    r = json.loads(out)
    assert r["fits"] is False and r["largest_batch_that_fits"] == largest


def test_step_on_a_batch_that_fits_says_nothing(capsys):
    largest = _largest()
    code, out, _ = run_cli(capsys, *ARGS, "--decode-batch", str(largest), "--json")
    assert code == 0
    r = json.loads(out)
    assert r["fits"] is True and r["fit_note"] is None
