"""Price books (``tco/pricebooks/``), facility profiles (``tco/facilities/``), the default
spreads (``tco/spreads.yaml``) and the structured ``range: [low, high]`` of a sourced value.

Checks that the shipped files load, that money in a foreign currency is converted with the
book's own ``fx_per_usd`` and never silently, that units of facility prices are enforced, that a
range is parsed like its value and must hold it (one clear error otherwise), and that every
number carries its provenance.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from accelsim.catalog.loader import Catalog, load_catalog
from accelsim.catalog.prices import FacilityProfile, PriceBook, Spread, output_fx, units_per_usd
from accelsim.errors import AccelsimError, CatalogError

CARD_IDS = {
    "ascend-910b1", "ascend-910b2", "ascend-910b3", "ascend-910b4", "ascend-910c",
    "a100-sxm4-40gb", "a100-sxm4-80gb", "a100-pcie-80gb", "a800", "h100-sxm5", "h800",
    "h20", "h200", "mi300x", "b200", "gb200",
}  # fmt: skip
SERVER_IDS = {
    "atlas-800t-a2", "atlas-800i-a2", "atlas-800i-a3", "cloudmatrix384", "dgx-a100",
    "dgx-a100-320gb", "hgx-a800", "hgx-h100", "hgx-h800", "hgx-h20", "hgx-h200", "mi300x-platform",
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
    assert set(book.hosts) <= SERVER_IDS
    assert set(book.unpriced) <= set(cat.names("device"))
    assert not set(book.unpriced) & set(book.cards)  # a card is priced or says why not
    net = book.network
    assert set(net.nic_per_port) | set(net.switch) | set(net.switch_radix) <= FABRIC_IDS
    assert set(net.switch) == set(net.switch_radix)  # a switch price needs its port count


def test_international_book(cat: Catalog) -> None:
    book = cat.prices("international-2025")
    assert (book.currency, book.as_of, book.fx_per_usd) == ("USD", "2025-06", None)
    assert book.servers["dgx-a100-320gb"] == 199000  # the 2020 launch price: 40 GB cards
    assert "dgx-a100" not in book.servers  # the 640 GB system is host + 8 x 80 GB cards
    assert book.hosts["dgx-a100"] == 32000
    assert book.quote_fx_per_usd == {"CNY": 7.2}
    assert book.source_of("quote_fx_per_usd.CNY").range == (7.0, 7.3)
    assert book.cards["ascend-910b2"] == pytest.approx(120000 / 7.2)
    assert book.servers["hgx-h800"] == pytest.approx(2.0e6 / 7.2)
    assert book.source_of("servers.hgx-h20").range == pytest.approx((1.2e6 / 7.2, 1.4e6 / 7.2))
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
    folders = (("prices", "tco/pricebooks"), ("facility", "tco/facilities"), ("spreads", "tco"))
    for kind, folder in folders:
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


# ---- the FX rule --------------------------------------------------------------------------
def test_units_per_usd_and_output_fx(cat: Catalog) -> None:
    book, us = cat.prices("china-2025"), cat.facility("us-2025")
    assert (units_per_usd(book), units_per_usd(us)) == (7.2, 1.0)
    assert output_fx("cny", us, book) == 7.2  # the first entry in that currency
    assert output_fx("CNY", us, fx_per_usd=7.0) == 7.0
    with pytest.raises(AccelsimError, match="no exchange rate for EUR"):
        output_fx("EUR", book, us)


# ---- default spreads ----------------------------------------------------------------------
def test_spreads_load_with_their_basis(cat: Catalog) -> None:
    table = cat.spreads()
    assert table.file and table.file.endswith("spreads.yaml")
    assert table.spreads["card_price"] == Spread(minus=0.25, plus=0.25)
    assert table.spreads["power_price_per_kwh"] == Spread(minus=0.25, plus=0.5)
    assert table.basis("pue").startswith("assumption -10%/+15%")
    assert table.source_of("spreads.pue").conf == "A"


def test_bad_spread_names_file_and_field(tmp_path: Path) -> None:
    (tmp_path / "tco").mkdir()
    (tmp_path / "tco" / "spreads.yaml").write_text(
        "name: spreads\nspreads:\n  pue: {value: 10%, conf: A, note: n}\n", encoding="utf-8"
    )
    with pytest.raises(CatalogError, match=r"spreads.yaml: field spreads.pue: .*'±25%'"):
        load_catalog([str(tmp_path)]).spreads()


# ---- range: [low, high] -------------------------------------------------------------------
def _user_file(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _book_with(root: Path, card: str) -> Catalog:
    _user_file(
        root,
        "tco/pricebooks/r.yaml",
        "name: r\ncurrency: CNY\nfx_per_usd: 7.2\nas_of: '2024'\nsources: {T1: {title: t}}\n"
        f"cards: {{h20: {card}}}\n",
    )
    return load_catalog([str(root)])


def test_range_is_parsed_like_the_value(tmp_path: Path) -> None:
    """Each bound goes through the schema in the value's place: money written in USD inside a
    CNY book is converted at the book's rate, a quantity takes its units."""
    cat = _book_with(tmp_path, "{value: 110000, conf: M, src: T1, range: [USD 12000, 130000]}")
    assert cat.prices("r").source_of("cards.h20").range == pytest.approx((86_400, 130_000))
    _user_file(
        tmp_path,
        "devices/cards/hot.yaml",
        "extends: ascend-910b2\nname: hot\n"
        "tdp: {value: 400 W, conf: E, src: A1, range: [0.31 kW, 450 W]}\n",
    )
    hot = load_catalog([str(tmp_path)]).device("hot")
    assert hot.source_of("tdp").range == pytest.approx((310.0, 450.0))
    assert load_catalog().device("ascend-910b2").source_of("tdp").range == (310.0, 400.0)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("[0.5 GB, 130000]", "'0.5 GB'"),  # not money
        ("[130000, 100000]", "must hold the value"),  # low > high
        ("[111000, 130000]", "must hold the value (low 111000 <= value 110000"),
        ("[-1, 130000]", "negative"),  # the field's own limit
        ("[100000]", "expected [low, high]"),
        ("100000", "expected [low, high]"),
    ],
)
def test_bad_range_is_one_clear_error(tmp_path: Path, spec: str, message: str) -> None:
    cat = _book_with(tmp_path, f"{{value: 110000, conf: M, src: T1, range: {spec}}}")
    with pytest.raises(CatalogError) as info:
        cat.prices("r")
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(f"{tmp_path / 'tco' / 'pricebooks' / 'r.yaml'}: field cards.h20.range")
    assert message in text


def test_range_with_a_bad_unit_on_a_card(tmp_path: Path) -> None:
    _user_file(
        tmp_path,
        "devices/cards/odd.yaml",
        "extends: ascend-910b2\nname: odd\n"
        "tdp: {value: 400 W, conf: E, src: A1, range: [310 GB, 400 W]}\n",
    )
    with pytest.raises(CatalogError, match=r"odd.yaml: field tdp.range: '310 GB'"):
        load_catalog([str(tmp_path)]).device("odd")


# ---- prices that compose ----------------------------------------------------------------


def test_relative_what_if_scales_the_catalog_value():
    from accelsim.catalog.relative import relative_value

    assert relative_value(16667, "-30%", "k") == pytest.approx(11666.9)
    assert relative_value(2.0, "+10%", "k") == pytest.approx(2.2)
    assert relative_value("1.6 TB/s", "x0.5", "k") == "0.8 TB/s"
    assert relative_value("USD 199,000", "*2", "k") == "USD 398000"
    assert relative_value(3, "5", "k") == "5"  # not relative: the value as given
    with pytest.raises(AccelsimError, match="needs a number"):
        relative_value(None, "-30%", "k")


def test_a_card_price_what_if_moves_the_bundle_it_sits_in(cat):
    from accelsim.catalog.loader import with_overrides
    from accelsim.run.pricing import cost_inputs

    base = cost_inputs(cat, "ascend-910b2", 16, utilization=0.5)
    assert base.server_price == pytest.approx(309150.0)
    # the Atlas 800I A2 bundle less 8 x $16,666.67 cards: $175,817 of non-card content, shown
    assert any("implied non-card content is $175,817" in n for n in base.notes)
    cut = with_overrides(cat, ["prices.international-2025.cards.ascend-910b2=-30%"])
    moved = cost_inputs(cut, "ascend-910b2", 16, utilization=0.5)
    assert moved.server_price == pytest.approx(309150.0 - 8 * 0.3 * 120000 / 7.2)
    assert any("card-price what-if" in n for n in moved.notes)


def test_a_card_inheriting_its_server_through_extends_is_warned(cat, tmp_path):
    import yaml

    from accelsim.run.pricing import cost_inputs

    # a user's card that extends ascend-910b2 and names no server of its own
    root = tmp_path / "cat"
    (root / "devices" / "cards").mkdir(parents=True)
    card = {"name": "my-910b", "extends": "ascend-910b2", "display_name": "my 910B"}
    (root / "devices" / "cards" / "my-910b.yaml").write_text(yaml.safe_dump(card))
    mine = load_catalog([root])
    notes = cost_inputs(mine, "my-910b", 8, utilization=0.5).notes
    assert any("inherited from ascend-910b2 via extends:" in n for n in notes)
    # ascend-910b4 extends ascend-910b2 in the Atlas 800I A2, which lists it (also_holds)
    notes = cost_inputs(cat, "ascend-910b4", 8, utilization=0.5).notes
    assert not any("extends:" in n for n in notes)
    # h200 extends h100-sxm5 but names its own hgx-h200: no warning
    notes = cost_inputs(cat, "h200", 8, utilization=0.5).notes
    assert not any("extends:" in n for n in notes)


def test_a_host_price_composes_the_server(cat, tmp_path):
    import yaml

    from accelsim.run.pricing import cost_inputs

    book = {
        "name": "hosts-only",
        "currency": "USD",
        "as_of": "2025-06",
        "cards": {"ascend-910b2": {"value": 10000, "conf": "A", "note": "test"}},
        "hosts": {"atlas-800i-a2": {"value": 30000, "conf": "A", "note": "test"}},
    }
    root = tmp_path / "cat"
    (root / "tco" / "pricebooks").mkdir(parents=True)
    (root / "tco" / "pricebooks" / "hosts-only.yaml").write_text(yaml.safe_dump(book))
    mine = load_catalog([root])
    inputs = cost_inputs(mine, "ascend-910b2", 8, utilization=0.5, prices="hosts-only")
    assert inputs.server_price == pytest.approx(30000 + 8 * 10000)


def test_every_card_default_server_holds_that_card(cat):
    """Each shipped card's default server is built for it: the server's card, a SKU its
    ``also_holds`` lists with a source, or a hypothetical variant of the server's card. A
    listed SKU is a card of the server card's family (one extends the other)."""
    from accelsim.run.pricing import holds, server_warning

    for card in cat.all("device"):
        server = cat.server_for(card)
        assert holds(server, card), (card.name, server.name, server.card)
        assert server_warning(cat, card, server) is None
    for server in cat.all("server"):
        if server.also_holds:
            assert server.source_of("also_holds").src, server.name
        for sku in server.also_holds:
            other = cat.device(sku)
            assert (
                server.card in (other.extends, other.name)
                or other.name == cat.device(server.card).extends
            ), (server.name, sku)


def test_cny_quotes_follow_the_books_exchange_rate(cat):
    """The USD book writes CNY quotes in CNY: a what-if on its rate moves them, and only
    them (the Atlas 800T A2 bundle has the source's own USD figure)."""
    from accelsim.catalog.loader import with_overrides

    book = with_overrides(cat, ["prices.international-2025.quote_fx_per_usd.CNY=8"]).prices(
        "international-2025"
    )
    assert book.servers["hgx-h800"] == pytest.approx(2.0e6 / 8)
    assert book.cards["ascend-910b2"] == pytest.approx(120000 / 8)
    assert book.servers["atlas-800t-a2"] == pytest.approx(61.83e6 / 200)
    with pytest.raises(ValueError, match="quote_fx_per_usd.EUR"):
        PriceBook.model_validate(
            {"name": "u", "currency": "USD", "as_of": "2025", "cards": {"h20": "EUR 10,000"}}
        )


def test_2026_cards_have_rental_quotes_or_say_why_unpriced(cat):
    """B200 $6.03/h and GB200 $9.08 per superchip-hour = $4.54 per GPU (2 per superchip), from
    reference/tco.md 'Additions, 2026-12'; neither has a purchase price, nor do the Ascend 950s,
    and ``unpriced`` gives the book's reason."""
    from accelsim.run.pricing import rental_rate, unpriced

    assert rental_rate(cat, "b200") == pytest.approx(6.03)
    assert rental_rate(cat, "gb200") == pytest.approx(9.08 / 2)
    for device in ("b200", "gb200", "ascend-950pr", "ascend-950dt"):
        why = unpriced(cat, device, "international-2025")
        assert why is not None and "reference/tco.md" in why, device
    assert cat.prices("china-2025").servers["hgx-h200"] == 1.4e6
    assert unpriced(cat, "h200", "china-2025") is None
