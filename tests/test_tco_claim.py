"""The "1,000-card cluster costs ~$4.5M with Ascend 910B vs ~$7.2M with A100" press claim."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clirun import exit_code

from accelsim.errors import AccelsimError
from accelsim.questions.cluster_cost import cluster_cost_claim, scenario_cluster_claim, verdicts

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


def test_the_press_claim_lives_in_its_scenario(catalog, tmp_path):
    """seed-claims.yaml: its cluster_cost claims, labelled by cluster_claim, scaled to the card
    count the command asks for."""
    assert scenario_cluster_claim(catalog, 1000) == {
        "ascend-910b2": ("Ascend 910B, 1,000 cards", 4.5e6),
        "a100-sxm4-80gb": ("A100, 1,000 cards", 7.2e6),
    }
    assert scenario_cluster_claim(catalog, 500)["a100-sxm4-80gb"] == ("A100, 500 cards", 3.6e6)
    with pytest.raises(AccelsimError, match="names no cluster_cost claim"):
        scenario_cluster_claim(catalog, 1000, str(_bad(tmp_path)))


def _bad(tmp_path: Path) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: bad\nmodel: qwen3-32b\ndevice: a100-sxm4-80gb\ncards: 8\ntraffic: chat-poisson\n"
        "claims: [{id: t, kind: throughput, value: 1 tok/s, device: a100-sxm4-80gb, cards: 8}]\n"
        "cluster_claim: {t: A100}\n",
        encoding="utf-8",
    )
    return path


def test_verdicts_per_claim(catalog):
    """Both press claims are below even the bare cards in every book."""
    rows = cluster_cost_claim(catalog, CLAIMS, cards=1000)
    found = {v.label: v for v in verdicts(rows)}
    assert [v.below for v in found.values()] == ["bare cards", "bare cards"]
    assert found["A100"].claim_usd == 7.2e6 and len(found["Ascend 910B"].all_in_usd) == 2
    assert verdicts(cluster_cost_claim(catalog, {"a100-sxm4-80gb": ("x", 20e6)}))[0].below == (
        "all-in capex"
    )


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
