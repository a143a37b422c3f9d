"""What a claimed cluster cost implies, against the price books (``accelsim cluster-cost``).

A claim gives a total price for ``cards`` cards of one device — the press claim "1,000 cards:
$4.5M with Ascend 910B vs $7.2M with A100" lives in ``workloads/scenarios/seed-claims.yaml``
(its ``cluster_cost`` claims, labelled by the scenario's ``cluster_claim``;
``scenario_cluster_claim`` reads them). ``cluster_cost_claim`` prices the same cards with every
price book that knows the device or its server, two ways:

- *cards only*: the book's bare card price x cards;
- *all-in capex*: whole servers (or bare cards plus NICs when the book has no server price) +
  scale-out network + storage + installation, sized and priced by the same rules as
  ``accelsim.run.pricing.estimate_tco``. Power, facility and opex are part of neither.

``verdicts`` says, per claim, whether it is below even the bare cards, below every all-in figure
only, or within what the books give (``accelsim.report.cluster_cost`` writes it up;
``accelsim.questions.claims`` checks a scenario's ``cluster_cost`` claims with the same rows).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

from accelsim.catalog.loader import Catalog
from accelsim.catalog.prices import units_per_usd
from accelsim.errors import AccelsimError
from accelsim.model.cost import evaluate
from accelsim.run.pricing import cost_inputs
from accelsim.run.scenario import read_scenario

__all__ = [
    "PRESS_SCENARIO",
    "ClaimRow",
    "ClaimVerdict",
    "cluster_cost_claim",
    "scenario_cluster_claim",
    "verdicts",
]

#: The scenario whose ``cluster_claim`` ``accelsim cluster-cost`` checks by default.
PRESS_SCENARIO = "seed-claims"


def scenario_cluster_claim(
    catalog: Catalog, cards: int, scenario: str = PRESS_SCENARIO
) -> dict[str, tuple[str, float]]:
    """The cluster-cost claim of ``scenario`` for a ``cards``-card cluster: device -> (label,
    USD), as ``cluster_cost_claim`` takes it.

    Each claim id of the scenario's ``cluster_claim`` names one of its ``cluster_cost`` claims;
    the claimed total scales with the card count (``value x cards / claim cards``) and the label
    gains the card count (``"A100, 1,000 cards"``)."""
    sc = read_scenario(scenario, catalog)
    claims = {c.id: c for c in sc.claims}
    out: dict[str, tuple[str, float]] = {}
    for claim_id, label in sc.cluster_claim.items():
        c = claims.get(claim_id)
        if c is None or c.kind != "cluster_cost" or c.cards is None:
            raise AccelsimError(
                f"scenario {sc.name}: cluster_claim {claim_id!r} names no cluster_cost claim "
                f"(its cluster_cost claims: "
                f"{', '.join(c.id for c in sc.claims if c.kind == 'cluster_cost') or 'none'})"
            )
        out[c.device] = (f"{label}, {cards:,} cards", c.value * cards / c.cards)
    return out


@dataclass(frozen=True)
class ClaimRow:
    """One device priced by one book, against a claimed cluster cost (USD)."""

    device: str
    claim_label: str
    claim_usd: float
    cards: int
    prices: str
    currency: str
    fx_per_usd: float
    card_price_usd: float | None
    server: str
    server_price_usd: float | None
    cards_only_usd: float | None
    servers_usd: float | None
    network_usd: float
    storage_usd: float
    installation_usd: float
    all_in_usd: float | None

    @property
    def implied_per_card_usd(self) -> float:
        return self.claim_usd / self.cards

    def as_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["implied_per_card_usd"] = self.implied_per_card_usd
        return out


def cluster_cost_claim(
    catalog: Catalog,
    claims: Mapping[str, tuple[str, float]],
    cards: int = 1000,
    prices: list[str] | None = None,
) -> list[ClaimRow]:
    """Price ``cards`` cards of each claimed device with every price book that knows it.

    ``claims`` maps a device name to (label, claimed total USD). For each book with a card or
    server price: cards only and all-in capex (see the module docstring).
    """
    books = prices if prices is not None else catalog.names("prices")
    facility = next(iter(catalog.names("facility")), None)
    rows: list[ClaimRow] = []
    for device, (label, claim) in claims.items():
        card = catalog.device(device)
        srv = catalog.server_for(card)
        for book_name in books:
            book = catalog.prices(book_name)
            fx = units_per_usd(book)
            card_p = book.cards.get(card.name)
            server_p = book.servers.get(srv.name)
            if card_p is None and server_p is None and srv.name not in book.hosts:
                continue
            all_in, composed = _claim_capex(
                catalog, card.name, srv.name, book_name, facility, cards
            )
            rows.append(
                ClaimRow(
                    device=card.name,
                    claim_label=label,
                    claim_usd=float(claim),
                    cards=cards,
                    prices=book.name,
                    currency=book.currency,
                    fx_per_usd=fx,
                    card_price_usd=None if card_p is None else card_p / fx,
                    server=srv.name,
                    server_price_usd=composed,
                    cards_only_usd=None if card_p is None else card_p / fx * cards,
                    servers_usd=all_in["capex_compute"],
                    network_usd=all_in["capex_network"],
                    storage_usd=all_in["capex_storage"],
                    installation_usd=all_in["capex_installation"],
                    all_in_usd=all_in["capex"],
                )
            )
    return rows


def _claim_capex(
    catalog: Catalog, device: str, server: str, prices: str, facility: str | None, cards: int
) -> tuple[dict[str, float], float | None]:
    """All-in capex outputs, and the server price the book gives (a bundle, or host + cards;
    None when the cards are priced bare)."""
    if facility is None:
        raise AccelsimError("the catalog has no facility profile (tco/facilities/)")
    inputs = cost_inputs(
        catalog, device, cards, utilization=1.0, prices=prices, facility=facility, server=server
    )
    return dict(evaluate(inputs).values), inputs.server_price


@dataclass(frozen=True)
class ClaimVerdict:
    """One claim against every book's figures for it."""

    label: str
    claim_usd: float
    #: the bare cards' cost and the all-in capex of each book that has the figure
    cards_only_usd: tuple[float, ...]
    all_in_usd: tuple[float, ...]

    @property
    def below(self) -> Literal["bare cards", "all-in capex", "nothing"]:
        """What the claim is below in every book: even the bare cards' cost, only the all-in
        capex, or neither (within the range the books give)."""
        if self.cards_only_usd and min(self.cards_only_usd) > self.claim_usd:
            return "bare cards"
        if self.all_in_usd and min(self.all_in_usd) > self.claim_usd:
            return "all-in capex"
        return "nothing"


def verdicts(rows: list[ClaimRow]) -> list[ClaimVerdict]:
    """One verdict per claim label of ``rows``, in the order the labels first appear."""
    out = []
    for label in dict.fromkeys(r.claim_label for r in rows):
        mine = [r for r in rows if r.claim_label == label]
        out.append(
            ClaimVerdict(
                label,
                mine[0].claim_usd,
                tuple(r.cards_only_usd for r in mine if r.cards_only_usd is not None),
                tuple(r.all_in_usd for r in mine if r.all_in_usd is not None),
            )
        )
    return out
