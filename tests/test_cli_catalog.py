"""``accelsim catalog KIND`` lists every catalog kind, as a table and as JSON."""

from __future__ import annotations

import json

import pytest
from clirun import run_cli

from accelsim.catalog.loader import KINDS


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_lists(capsys, kind: str) -> None:
    code, out, err = run_cli(capsys, "catalog", kind)
    assert code == 0, err
    assert "accelsim catalog" in out
    code, out, err = run_cli(capsys, "catalog", kind, "--json")
    assert code == 0, err
    entries = json.loads(out)
    assert entries and all("name" in e for e in entries)


def test_spreads_and_routing_show_their_values(capsys) -> None:
    _, out, _ = run_cli(capsys, "catalog", "routing", "--json")
    drift = {e["name"]: e["drift"] for e in json.loads(out)}
    assert drift["uniform"] == 0.0 and drift["production"] > 0
    _, out, _ = run_cli(capsys, "catalog", "spreads", "--json")
    (table,) = json.loads(out)
    assert table["spreads"]["card_price"] == {"minus": 0.25, "plus": 0.25}
