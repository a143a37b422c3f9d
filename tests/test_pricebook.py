"""Price books (``tco/pricebooks/``) and facility profiles (``tco/facilities/``).

Checks that the shipped files load, that money in a foreign currency is converted with the
book's own ``fx_per_usd`` and never silently, that units of facility prices are enforced, and
that every number carries its provenance.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from accelsim.catalog.loader import Catalog, load_catalog
from accelsim.catalog.prices import FacilityProfile, PriceBook
from accelsim.errors import AccelsimError

CARD_IDS = {
    "ascend-910b1", "ascend-910b2", "ascend-910b3", "ascend-910b4", "ascend-910c",
    "a100-sxm4-40gb", "a100-sxm4-80gb", "a100-pcie-80gb", "a800", "h100-sxm5", "h800",
    "h20", "h200", "mi300x",
}  # fmt: skip
SERVER_IDS = {
    "atlas-800t-a2", "atlas-800i-a2", "atlas-800i-a3", "cloudmatrix384", "dgx-a100",
    "hgx-a800", "hgx-h100", "hgx-h800", "hgx-h20", "hgx-h200", "mi300x-platform",
}  # fmt: skip
FABRIC_IDS = {"roce-200g", "roce-400g", "ib-hdr", "ib-ndr"}


@pytest.fixture
def cat(catalog: Catalog) -> Catalog:
    """The built-in catalog (the session fixture of conftest.py)."""
    return catalog


def _book(**extra: object) -> PriceBook:
    data: dict[str, object] = {"name": "x", "currency": "CNY", "as_of": "2024-06"}
    data.update(extra)
    return PriceBook.model_validate(data)


def _facility(**extra: object) -> FacilityProfile:
    data: dict[str, object] = {
        "name": "f",
        "currency": "USD",
        "power_price_per_kwh": 0.05,
        "pue": 1.3,
        "depreciation_years": 4,
    }
    data.update(extra)
    return FacilityProfile.model_validate(data)


# ---- shipped files ------------------------------------------------------------------------
def test_expected_books_and_profiles_load(cat: Catalog) -> None:
    assert {"international-2025", "china-2025"} <= set(cat.names("prices"))
    assert {"us-2025", "china-2025", "us-modern-ai-hall"} <= set(cat.names("facility"))
    for book in cat.all("prices"):
        assert book.as_of and book.sources
        if book.currency != "USD":
            assert book.fx_per_usd
    for prof in cat.all("facility"):
        assert prof.sources
        if prof.currency != "USD":
            assert prof.fx_per_usd


@pytest.mark.parametrize("name", ["international-2025", "china-2025"])
def test_book_keys_are_catalog_ids(cat: Catalog, name: str) -> None:
    book = cat.prices(name)
    assert set(book.cards) <= CARD_IDS, set(book.cards) - CARD_IDS
    assert set(book.servers) <= SERVER_IDS, set(book.servers) - SERVER_IDS
    assert set(book.rental_per_card_hour) <= CARD_IDS
    net = book.network
    assert set(net.nic_per_port) | set(net.switch) | set(net.switch_radix) <= FABRIC_IDS
    assert set(net.switch) == set(net.switch_radix)  # a switch price needs its port count


def test_international_book(cat: Catalog) -> None:
    book = cat.prices("international-2025")
    assert (book.currency, book.as_of, book.fx_per_usd) == ("USD", "2025-06", None)
    assert book.servers["dgx-a100"] == 199000
    assert book.cards["ascend-910b2"] == pytest.approx(120000 / 7.2, abs=1)
    assert book.servers["atlas-800t-a2"] == pytest.approx(61.83e6 / 200)
    assert book.rental_per_card_hour["h800"] == 2.0
    assert book.network.switch_radix["ib-ndr"] == 64
    assert book.network.optics_per_port == 750
    assert book.installation_fraction == pytest.approx(0.10)
    assert book.source_of("cards.h100-sxm5").alternatives  # a range is kept as alternatives


def test_china_book_converts_usd_amounts(cat: Catalog) -> None:
    book = cat.prices("china-2025")
    assert (book.currency, book.fx_per_usd) == ("CNY", 7.2)
    assert book.rental_per_card_hour["h800"] == pytest.approx(2.0 * 7.2)  # "USD 2.00"
    assert book.network.switch["ib-ndr"] == pytest.approx(43000 * 7.2)
    assert book.servers["hgx-h20"] == 1.2e6
    assert book.to_usd(book.servers["hgx-h800"]) == pytest.approx(
        cat.prices("international-2025").servers["hgx-h800"], rel=1e-4
    )


def test_facility_profiles(cat: Catalog) -> None:
    us = cat.facility("us-2025")
    assert us.power_price_per_kwh == pytest.approx(0.0806)
    assert us.pue == 1.3 and us.depreciation_years == 4
    assert us.colocation_per_kw_month == pytest.approx(184.06)
    hall = cat.facility("us-modern-ai-hall")
    assert hall.extends == "us-2025" and hall.pue == 1.2
    assert hall.power_price_per_kwh == us.power_price_per_kwh
    cn = cat.facility("china-2025")
    assert (cn.currency, cn.fx_per_usd, cn.pue) == ("CNY", 7.2, 1.25)
    assert cn.to_usd(cn.power_price_per_kwh) == pytest.approx(0.0875, abs=0.001)
    assert cn.colocation_per_kw_month == pytest.approx(184.06 * 7.2)
    assert cn.source_of("colocation_per_kw_month").conf == "A"


# ---- money rules --------------------------------------------------------------------------
def test_cny_book_without_fx_is_rejected() -> None:
    with pytest.raises(ValidationError, match="fx_per_usd"):
        _book(cards={"h20": 110000})


def test_cny_book_without_fx_in_a_user_catalog(tmp_path: Path) -> None:
    folder = tmp_path / "tco" / "pricebooks"
    folder.mkdir(parents=True)
    (folder / "x.yaml").write_text(
        "name: x\ncurrency: CNY\nas_of: '2024-06'\ncards: {h20: 110000}\n", encoding="utf-8"
    )
    cat = load_catalog([str(tmp_path)])
    with pytest.raises(AccelsimError, match="fx_per_usd") as info:
        cat.prices("x")
    assert "x.yaml" in str(info.value)


def test_usd_amount_in_cny_book_uses_the_rate() -> None:
    book = _book(fx_per_usd=7.2, cards={"h20": "USD 100", "ascend-910b2": "120,000"})
    assert book.cards["h20"] == pytest.approx(720.0)
    assert book.cards["ascend-910b2"] == 120000.0
    assert book.to_usd(720.0) == pytest.approx(100.0)


def test_foreign_amount_in_usd_book_is_rejected() -> None:
    with pytest.raises(ValidationError, match="fx_per_usd"):
        _book(currency="USD", cards={"h20": "CNY 110000"})


def test_negative_prices_rejected() -> None:
    with pytest.raises(ValidationError, match="negative"):
        _book(fx_per_usd=7.2, cards={"h20": -1})
    with pytest.raises(ValidationError):
        _book(currency="USD", network={"optics_per_port": -5})
    with pytest.raises(ValidationError):
        _book(currency="USD", installation_fraction=1.5)


def test_facility_power_price_units() -> None:
    assert _facility(power_price_per_kwh="0.05 USD/kWh").power_price_per_kwh == 0.05
    assert _facility(colocation_per_kw_month="150 USD/kW-month").colocation_per_kw_month == 150
    with pytest.raises(ValidationError, match="kWh"):
        _facility(power_price_per_kwh="0.05 USD/MWh")
    with pytest.raises(ValidationError, match="kW-month"):
        _facility(colocation_per_kw_month="150 USD/kW-year")
    with pytest.raises(ValidationError, match="fx_per_usd"):
        _facility(currency="CNY", power_price_per_kwh="0.63 CNY/kWh")


def test_facility_pue_bounds() -> None:
    with pytest.raises(ValidationError):
        _facility(pue=0.9)


# ---- provenance ---------------------------------------------------------------------------
def test_every_price_has_provenance(cat: Catalog) -> None:
    problems = []
    for kind, folder in (("prices", "tco/pricebooks"), ("facility", "tco/facilities")):
        for name in cat.folder_files(folder):
            problems += cat.provenance_problems(kind, name)
    assert not problems, "\n".join(problems)


def test_provenance_check_catches_unsourced_numbers(tmp_path: Path) -> None:
    folder = tmp_path / "tco" / "pricebooks"
    folder.mkdir(parents=True)
    path = folder / "bad.yaml"
    path.write_text(
        "name: bad\ncurrency: USD\nas_of: '2025-06'\n"
        "sources: {T1: {title: t}}\n"
        "cards: {h20: 13500, h200: {value: 35000, conf: A}, mi300x: {value: 1, src: T9}}\n",
        encoding="utf-8",
    )
    cat = load_catalog([str(tmp_path)])
    problems = "\n".join(cat.provenance_problems("prices", "bad"))
    assert "cards.h20: no provenance" in problems
    assert "cards.h200: assumption without a note" in problems
    assert "cards.mi300x: unknown source T9" in problems
