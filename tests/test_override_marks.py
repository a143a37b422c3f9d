"""Every command that reads the catalog marks the what-if overrides it ran under (issue #8):
``--json`` carries ``overrides`` (key, value, catalog value) and the table prints a what-if line,
so nobody mistakes a what-if for the catalog value. Without ``--set`` nothing is marked."""

from __future__ import annotations

import json

import pytest
from clirun import run_cli

BW = "device.a100-sxm4-80gb.hbm_bandwidth=3TB/s"
POWER = "facility.us-2025.power_price_per_kwh=0.05USD/kWh"

COMMANDS = {
    "step": (
        ["step", "deepseek-v2-lite", "-d", "a100-sxm4-80gb", "--decode-batch", "16"],
        BW,
    ),
    "tco": (["tco", "-d", "a100-sxm4-80gb", "--cards", "8", "-u", "0.5"], POWER),
    "cluster-cost": (["cluster-cost"], "prices.china-2025.fx_per_usd=7.0"),
    "size": (["size", "--scenario", "tiny", "-d", "a100-sxm4-80gb"], BW),
    "run": (["run", "tiny"], BW),
}


def _catalog_value(key: str) -> str | None:
    from accelsim.catalog.loader import load_catalog

    marks = load_catalog(overrides=[f"{key}=0"]).overrides_in_effect()
    return marks[0]["catalog_value"]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_json_carries_the_overrides(capsys, name):
    args, override = COMMANDS[name]
    key, _, value = override.partition("=")
    code, out, err = run_cli(capsys, *args, "--set", override, "--json")
    assert code == 0, err
    marks = json.loads(out)["overrides"]
    assert [m["key"] for m in marks] == [key]
    assert marks[0]["value"] == value
    assert marks[0]["catalog_value"] == _catalog_value(key)
    code, out, _ = run_cli(capsys, *args, "--json")
    assert code == 0 and "overrides" not in json.loads(out)


@pytest.mark.parametrize("name", ["step", "tco", "size"])
def test_table_prints_the_what_if_line(capsys, name):
    args, override = COMMANDS[name]
    code, out, _ = run_cli(capsys, *args, "--set", override)
    assert code == 0
    line = next(t for t in out.splitlines() if t.startswith("what-if:"))
    was = _catalog_value(override.partition("=")[0])
    assert override in line and f"catalog value: {was}" in " ".join(out.split())
    code, out, _ = run_cli(capsys, *args)
    assert code == 0 and "what-if" not in out


def test_a_bad_exchange_rate_override_is_one_line(capsys):
    code, out, err = run_cli(capsys, "cluster-cost", "--set", "prices.china-2025.fx_per_usd=seven")
    assert code == 2 and out == ""
    assert "fx_per_usd 'seven' is not a number" in err and "Traceback" not in err
