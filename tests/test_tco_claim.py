"""The "1,000-card cluster costs ~$4.5M with Ascend 910B vs ~$7.2M with A100" press claim."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clirun import exit_code

from accelsim.run.tco import cluster_cost_claim

DOC = Path(__file__).resolve().parent.parent / "docs" / "cluster-cost-claim.md"
CLAIMS = {"ascend-910b2": ("Ascend 910B", 4.5e6), "a100-sxm4-80gb": ("A100", 7.2e6)}


def test_claim_implies_per_card_prices(catalog):
    """$4.5M / 1,000 = $4,500 per 910B card; $7.2M / 1,000 = $7,200 per A100. The books' bare
    cards: 910B 120,000 CNY / 7.2 = $16,667 (3.7x the claim per card), A100 80GB $12,500
    (1.7x). All-in capex (servers + network + storage + installation) is higher still."""
    rows = cluster_cost_claim(catalog, CLAIMS, cards=1000)
    by = {(r.device, r.prices): r for r in rows}
    ascend = by[("ascend-910b2", "china-2025")]
    assert ascend.implied_per_card_usd == pytest.approx(4500)
    assert ascend.card_price_usd == pytest.approx(120_000 / 7.2)
    assert ascend.cards_only_usd == pytest.approx(1000 * 120_000 / 7.2)
    a100 = by[("a100-sxm4-80gb", "international-2025")]
    assert a100.implied_per_card_usd == pytest.approx(7200)
    assert a100.cards_only_usd == pytest.approx(12.5e6)
    for r in rows:
        assert r.all_in_usd is not None and r.all_in_usd > r.claim_usd
        parts = r.servers_usd + r.network_usd + r.storage_usd + r.installation_usd
        assert r.all_in_usd == pytest.approx(parts)


def test_cluster_cost_json(capsys):
    assert exit_code(["cluster-cost", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["cards"] == 1000
    assert {r["device"] for r in data["rows"]} == {"ascend-910b2", "a100-sxm4-80gb"}


def test_committed_doc_is_current(tmp_path):
    """docs/cluster-cost-claim.md is what `accelsim cluster-cost --markdown` writes now.
    Regenerate it with: accelsim cluster-cost --markdown docs/cluster-cost-claim.md"""
    out = tmp_path / "claim.md"
    assert exit_code(["cluster-cost", "--markdown", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == DOC.read_text(encoding="utf-8")
