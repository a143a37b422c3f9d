"""Cost model: hand-computed expectations (derivations in each docstring), properties, CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from clirun import exit_code
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.catalog.loader import load_catalog
from accelsim.catalog.prices import FacilityProfile, PriceBook
from accelsim.errors import AccelsimError
from accelsim.model.cost import CostInputs, evaluate, opex_per_year
from accelsim.model.network import size_network
from accelsim.model.rental import rental_cost
from accelsim.model.uncertainty import (
    Dist,
    RangedTco,
    default_ranges,
    monte_carlo,
    parse_dist,
    sensitivity,
)
from accelsim.run.pricing import estimate_tco, rental_rate
from accelsim.run.summary_file import read_run_summary
from accelsim.units import HOURS_PER_YEAR


def _bare(**kw: object) -> CostInputs:
    """One 8-card node priced at $80k of cards, nothing else unless given."""
    base = dict(cards=8, cards_per_node=8, card_price=10_000.0, nics_per_card=0.0, years=4.0)
    base.update(kw)
    return CostInputs(**base)  # type: ignore[arg-type]


# ---- amortization --------------------------------------------------------------------------


def test_straight_line_amortization():
    """8 cards x $10,000 = $80,000 over 4 years, no residual: $20,000/yr.
    Per card-hour: 20,000 / (8 x 8,766) = $0.28519."""
    r = evaluate(_bare())
    assert r.capex_usd == 80_000
    assert r.breakdown["amortization_compute"] == pytest.approx(20_000)
    assert r.per_year_usd == pytest.approx(20_000)
    assert r.per_card_hour_usd == pytest.approx(20_000 / (8 * 8766))


def test_straight_line_with_residual():
    """Residual 25%: (80,000 - 20,000) / 4 = $15,000/yr."""
    assert evaluate(_bare(residual_fraction=0.25)).per_year_usd == pytest.approx(15_000)


def test_annuity_amortization():
    """Annuity at r = 8% over 4 y: CRF = 0.08 / (1 - 1.08^-4) = 0.3019208;
    80,000 x 0.3019208 = $24,153.66/yr. With residual 25% ($20,000 back after 4 years):
    (80,000 - 20,000 x 1.08^-4) x CRF = 65,299.40 x 0.3019208 = $19,715.25/yr."""
    r = evaluate(_bare(amortization="annuity", cost_of_capital=0.08))
    assert r.per_year_usd == pytest.approx(24_153.66, abs=0.01)
    r2 = evaluate(_bare(amortization="annuity", cost_of_capital=0.08, residual_fraction=0.25))
    assert r2.per_year_usd == pytest.approx(19_715.25, abs=0.01)


def test_annuity_at_zero_rate_is_straight_line():
    """r = 0: the level payment is C / Y = 80,000 / 4 = $20,000 (no division by zero)."""
    r = evaluate(_bare(amortization="annuity", cost_of_capital=0.0))
    assert r.per_year_usd == pytest.approx(20_000, rel=1e-9)


# ---- energy, colocation, maintenance ----------------------------------------------------------


def test_energy_with_utilization():
    """8 cards, idle 100 W, TDP 700 W, utilization 0.5: 100 + 0.5 x 600 = 400 W per card;
    + host 2,000 W -> IT 5,200 W; x PUE 1.25 = 6,500 W; x 8,766 h = 56,979 kWh/yr;
    x $0.10 = $5,697.90/yr. Tokens per joule at 5,200 tok/s: 1.0."""
    r = evaluate(
        _bare(
            card_price=0.0,
            idle_power_w=100,
            tdp_w=700,
            host_power_w=2000,
            utilization=0.5,
            pue=1.25,
            power_price_per_kwh=0.10,
            output_tokens_per_s=5200.0,
        )
    )
    assert r.values["it_power_w"] == pytest.approx(5200)
    assert r.breakdown["energy"] == pytest.approx(5697.9)
    assert r.tokens_per_joule == pytest.approx(1.0)


def test_colocation_on_provisioned_power():
    """Colocation bills provisioned IT power, not the average draw: 8 x 700 W + 2,000 W = 7.6 kW
    (at any utilization); x $184.06/kW-month x 12 = $16,786.27/yr."""
    for u in (0.0, 0.5, 1.0):
        r = evaluate(
            _bare(
                card_price=0.0,
                idle_power_w=100,
                tdp_w=700,
                host_power_w=2000,
                utilization=u,
                colocation_per_kw_month=184.06,
            )
        )
        assert r.breakdown["colocation"] == pytest.approx(7.6 * 184.06 * 12)


def test_maintenance_and_staff():
    """Maintenance 5%/yr of $80,000 hardware = $4,000; staff 0.015 FTE per server x 1 server x
    $200,000 per FTE-year = $3,000; both are opex."""
    r = evaluate(
        _bare(maintenance_fraction_per_year=0.05, ops_fte_per_node=0.015, ops_fte_cost_per_year=2e5)
    )
    assert r.breakdown["maintenance"] == pytest.approx(4000)
    assert r.breakdown["staff"] == pytest.approx(3000)
    assert opex_per_year(r.values) == pytest.approx(7000)
    assert sum(r.breakdown.values()) == pytest.approx(r.per_year_usd)


def test_annuity_financing_is_its_own_line():
    """At 8% over 4 y the annuity is $24,153.66/yr (above); the breakdown keeps the
    straight-line $20,000 under amortization and shows the $4,153.66 difference as financing,
    which is neither opex nor capex."""
    r = evaluate(_bare(amortization="annuity", cost_of_capital=0.08))
    assert r.breakdown["amortization_compute"] == pytest.approx(20_000)
    assert r.breakdown["financing"] == pytest.approx(4_153.66, abs=0.01)
    assert opex_per_year(r.values) == pytest.approx(0.0)
    assert evaluate(_bare(cost_of_capital=0.08, amortization="straight_line")).breakdown[
        "financing"
    ] == pytest.approx(0.0)


# ---- network ---------------------------------------------------------------------------------


def test_network_128_nodes_two_tiers():
    """128 nodes x 8 NICs, 64-port switches (reference/tco.md, T9's 1,024-H100 sheet): rail-
    optimized, 8 planes of 128 endpoints; 128 > 64 needs 2 tiers (<= 64 x 32 = 2,048);
    per plane 128/32 = 4 leaves + 128/64 = 2 spines = 6; x 8 = 48 switches (T9: 48).
    Links: 2 tiers x 128 x 8 = 2,048; optics at both ends = 4,096 transceivers."""
    net = size_network(128, 8, 64)
    assert (net.tiers, net.switches, net.links) == (2, 48, 2048)


def test_network_small_and_large():
    """1 node: no fabric. 2 nodes: back to back, 8 links. 4 nodes x 8 = 32 ports <= 64: one
    switch. 64 nodes: 8 rail planes of one switch. 2,049 nodes: > 2,048, 3 tiers:
    per plane 2 x ceil(2049/32) + ceil(2049/64) = 2 x 65 + 33 = 163; x 8 = 1,304."""
    assert size_network(1, 8, 64).switches == 0
    two = size_network(2, 8, 64)
    assert (two.switches, two.links) == (0, 8)
    assert (size_network(4, 8, 64).tiers, size_network(4, 8, 64).switches) == (1, 1)
    assert (size_network(64, 8, 64).tiers, size_network(64, 8, 64).switches) == (1, 8)
    big = size_network(2049, 8, 64)
    assert (big.tiers, big.switches) == (3, 1304)


def test_network_cost_matches_t9_sheet():
    """T9 prices 48 switches at $36k = $1.728M; optics at $640 per link end x 4,096 ends =
    $2.621M; total $4.349M, NICs inside the $310k node price (not charged)."""
    r = evaluate(
        CostInputs(
            cards=1024,
            cards_per_node=8,
            server_price=310_000.0,
            nic_price=999.0,
            switch_price=36_000.0,
            optics_per_port=640.0,
        )
    )
    assert r.values["capex_network"] == pytest.approx(1_728_000 + 2_621_440)
    assert r.values["capex_compute"] == pytest.approx(128 * 310_000)


def test_bare_cards_pay_for_nics():
    """Bare cards: NICs are charged, 16 cards x 1 NIC x $1,000 = $16,000 (2 nodes back to back,
    8 links, cable $50 each = $400)."""
    r = evaluate(_bare(cards=16, nics_per_card=1.0, nic_price=1000.0, cable_per_port=50.0))
    assert r.values["capex_network"] == pytest.approx(16_000 + 400)


def test_installation_and_storage():
    """Storage $2,500 per node; installation 10% of (80,000 + 2,500) = $8,250."""
    r = evaluate(_bare(storage_per_node=2500.0, installation_fraction=0.1))
    assert r.values["capex_installation"] == pytest.approx(8250)
    assert r.capex_usd == pytest.approx(90_750)


# ---- tokens ---------------------------------------------------------------------------------


def test_per_million_tokens_rules():
    """$20,000/yr over 8,766 h = $2.28154/h. At 1,000 output tok/s (3.6M tok/h): $0.63376/M
    output; at 3,000 input tok/s: $0.21125/M input; over 4,000 tok/s: $0.15844/M blended.
    Each charges all cost to the tokens it names. 0.5 requests/s: $0.00063376/request."""
    r = evaluate(_bare(output_tokens_per_s=1000.0, input_tokens_per_s=3000.0, requests_per_s=0.5))
    per_h = 20_000 / 8766
    assert r.usd_per_mtok_output == pytest.approx(per_h / 3.6)
    assert r.usd_per_mtok_input == pytest.approx(per_h / 10.8)
    assert r.usd_per_mtok_blended == pytest.approx(per_h / 14.4)
    assert r.usd_per_request == pytest.approx(per_h / 1800)
    assert math.isnan(evaluate(_bare()).usd_per_mtok_output)


# ---- DeepSeek day 6 ---------------------------------------------------------------------------


def test_deepseek_day6_daily_cost():
    """DeepSeek day 6 (reference/tco.md section 7): 226.75 nodes x 8 H800 x 24 h x $2/GPU-h =
    $87,072/day. 168B output tokens/day = 1,944,444 tok/s -> 87,072 / 168,000 M = $0.5183/M."""
    rent = rental_cost(2.0, 226.75 * 8, hours=24, output_tokens_per_s=168e9 / 86400)
    assert rent.total_usd == pytest.approx(87_072)
    assert rent.usd_per_mtok_output == pytest.approx(0.518, abs=0.001)


def test_deepseek_decode_node():
    """Decode node: 8 x $2 = $16/node-h at 14.8k output tok/s: 16 / (14,800 x 3,600) x 1e6 =
    $0.3003/M. Prefill node at 73.7k input tok/s: 16 / (73,700 x 3,600) x 1e6 = $0.0603/M."""
    decode = rental_cost(2.0, 8, output_tokens_per_s=14_800)
    assert decode.per_hour_usd == 16
    assert decode.usd_per_mtok_output == pytest.approx(0.300, abs=0.001)
    prefill = rental_cost(2.0, 8, input_tokens_per_s=73_700)
    assert prefill.usd_per_mtok_input == pytest.approx(0.060, abs=0.001)


def test_deepseek_with_price_book(catalog):
    """The same $87,072/day from the price book's h800 rental rate ($2, DeepSeek's own)."""
    if "h800" not in catalog.names("device"):
        pytest.skip("no h800 card in the catalog")
    rate = rental_rate(catalog, "h800", "international-2025")
    assert rate == pytest.approx(2.0)
    assert rental_cost(rate, 226.75 * 8).total_usd == pytest.approx(87_072)
    # the CNY book states "USD 2.00", stored as 14.4 CNY, back to $2 with its own rate
    assert rental_rate(catalog, "h800", "china-2025") == pytest.approx(2.0)


def test_deepseek_cli_json(capsys):
    """`accelsim tco --rental --rental-rate 2 --cards 1814 --tokens-per-s 1944444.4`."""
    code = exit_code(
        [
            "tco",
            "--rental",
            "--rental-rate",
            "2",
            "--cards",
            "1814",
            "--tokens-per-s",
            str(168e9 / 86400),
            "--json",
        ]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)["rental"]
    assert data["total"] == pytest.approx(87_072)
    assert data["usd_per_mtok_output"] == pytest.approx(0.5183, abs=1e-4)


# ---- FX -------------------------------------------------------------------------------------


def test_fx_conversion_of_books():
    """A CNY book at 7.2 CNY/USD: 120,000 CNY -> $16,666.67; "USD 43,000" written in it is
    stored as 309,600 CNY. A CNY facility at 0.63 CNY/kWh -> $0.0875/kWh."""
    book = PriceBook.model_validate(
        {
            "name": "t",
            "currency": "CNY",
            "fx_per_usd": 7.2,
            "as_of": "2024",
            "cards": {"x": 120_000},
            "network": {"switch": {"ib": "USD 43,000"}},
        }
    )
    assert book.to_usd(book.cards["x"]) == pytest.approx(16_666.67, abs=0.01)
    assert book.network.switch["ib"] == pytest.approx(309_600)
    fac = FacilityProfile.model_validate(
        {
            "name": "f",
            "currency": "CNY",
            "fx_per_usd": 7.2,
            "power_price_per_kwh": "0.63 CNY/kWh",
            "pue": 1.25,
            "depreciation_years": 4,
        }
    )
    assert fac.to_usd(fac.power_price_per_kwh) == pytest.approx(0.0875)


def test_cny_book_without_fx_is_rejected():
    with pytest.raises(ValueError, match="fx_per_usd"):
        PriceBook.model_validate({"name": "t", "currency": "CNY", "as_of": "2024"})


def test_output_currency(catalog):
    """China book prices in CNY; the result in CNY is the USD result x 7.2."""
    usd = estimate_tco(
        catalog, "ascend-910b2", 64, utilization=0.5, prices="china-2025", facility="china-2025"
    )
    cny = estimate_tco(
        catalog,
        "ascend-910b2",
        64,
        utilization=0.5,
        prices="china-2025",
        facility="china-2025",
        currency="CNY",
    )
    assert cny.value("per_year") == pytest.approx(usd.per_year_usd * 7.2)
    assert cny.per_year_usd == pytest.approx(usd.per_year_usd)
    with pytest.raises(AccelsimError, match="EUR"):
        estimate_tco(
            catalog,
            "ascend-910b2",
            64,
            utilization=0.5,
            prices="china-2025",
            facility="china-2025",
            currency="EUR",
        )


# ---- the catalog path ---------------------------------------------------------------------------


def test_estimate_tco_from_catalog(catalog):
    """A100 80GB in dgx-a100 (640 GB) servers, priced as host $32,000 + 8 x $12,500 cards =
    $132,000: 16 cards = 2 servers = $264,000. Two nodes are cabled back to back (no switch):
    8 links x 2 optics x $750 = $12,000. Storage 2 x $2,500. Installation 10%:
    capex = 1.1 x (264,000 + 12,000 + 5,000) = $309,100."""
    r = estimate_tco(catalog, "a100-sxm4-80gb", 16, utilization=0.5, throughput=5000.0)
    assert r.values["capex_compute"] == pytest.approx(264_000)
    assert r.capex_usd == pytest.approx(309_100)
    # us-2025's 8% cost of capital is charged as its own line, and 0.005 FTE per server x
    # 2 servers x $200,000 = $2,000 of operations staff
    assert r.values["financing"] > 0
    assert r.values["staff"] == pytest.approx(2_000)
    assert r.usd_per_mtok_output > 0
    frame = r.to_frame()
    assert set(frame.columns) == {"output", "label", "value", "unit"}
    assert r.as_dict()["cards"] == 16
    assert "years" in r.ranges  # from us-2025's depreciation range


# ---- uncertainty ------------------------------------------------------------------------------


def _ranged() -> CostInputs:
    return _bare(
        idle_power_w=100,
        tdp_w=700,
        host_power_w=2000,
        utilization=0.6,
        pue=1.3,
        power_price_per_kwh=0.08,
        colocation_per_kw_month=184,
        output_tokens_per_s=10_000.0,
    )


def _spread(inputs: CostInputs) -> dict[str, Dist]:
    """The built-in catalog's default spreads (tco/spreads.yaml) around ``inputs``."""
    return default_ranges(inputs, load_catalog().spreads())


def test_monte_carlo_deterministic_for_a_seed():
    ranges = _spread(_ranged())
    a = monte_carlo(_ranged(), ranges, 2000, seed=7)
    b = monte_carlo(_ranged(), ranges, 2000, seed=7)
    c = monte_carlo(_ranged(), ranges, 2000, seed=8)
    assert a.quantiles == b.quantiles
    assert a.quantiles != c.quantiles
    assert np.array_equal(a.samples["per_year"], b.samples["per_year"])


def test_monte_carlo_stream_per_input():
    """Adding a range for one input leaves the other inputs' draws unchanged."""
    one = {"card_price": Dist.triangular(8000, 10_000, 14_000)}
    two = {**one, "pue": Dist.uniform(1.1, 1.5)}
    a = monte_carlo(_ranged(), one, 500, 3)
    b = monte_carlo(_ranged(), two, 500, 3)
    assert np.array_equal(a.samples["capex"], b.samples["capex"])


def test_monte_carlo_fixed_ranges_equal_point():
    """With no spread, every percentile is the point estimate."""
    inp = _ranged()
    mc = monte_carlo(inp, {"pue": Dist.fixed(1.3)}, 100, 0)
    p = evaluate(inp).per_year_usd
    assert mc.p10["per_year"] == pytest.approx(p) and mc.p90["per_year"] == pytest.approx(p)


def test_sensitivity_ranks_by_swing():
    """Life 3..6 y moves $/M output tokens more than PUE 1.2..1.4 when capex dominates."""
    rows = sensitivity(
        _ranged(), {"years": Dist.triangular(3, 4, 6), "pue": Dist.triangular(1.2, 1.3, 1.4)}
    )
    assert [r.input for r in rows] == ["years", "pue"]
    assert rows[0].low_output > rows[0].base_output > rows[0].high_output
    assert rows[0].swing >= rows[1].swing


def test_scipy_and_lognormal_distributions():
    """A scipy.stats frozen triangular and a lognormal sample inside their support."""
    from scipy import stats

    dists = {
        "card_price": Dist.from_scipy(stats.triang(0.5, loc=8000, scale=4000)),
        "utilization": Dist.lognormal(0.6, 0.5),
    }
    mc = monte_carlo(_ranged(), dists, 1000, 1)
    assert 8 * 8000 <= mc.p10["capex"] <= mc.p90["capex"] <= 8 * 12_000
    assert dists["utilization"].low < 0.6 < dists["utilization"].high


def test_parse_dist_forms():
    assert parse_dist("0.06:0.08:0.12") == Dist.triangular(0.06, 0.08, 0.12)
    assert parse_dist("uniform:1:2").kind == "uniform"
    assert parse_dist("lognormal:10:0.2").sigma == 0.2
    d = parse_dist("±20%", base=100.0)
    assert (d.low, d.base, d.high) == pytest.approx((80, 100, 120))
    for bad in ("1:2", "lognormal:-1:0.2", "uniform:3:1", "0.3:0.1:0.2", "nonsense", "20%"):
        with pytest.raises(AccelsimError):
            parse_dist(bad)


def test_default_spreads_from_the_catalog():
    """tco/spreads.yaml: card price ±25% around the base, PUE -10% / +15% clipped at 1, each
    with its note as the basis; the card price is not ranged when servers are priced."""
    spreads = load_catalog().spreads()
    assert (spreads.spreads["pue"].minus, spreads.spreads["pue"].plus) == (0.1, 0.15)
    ranges = default_ranges(_bare(pue=1.05), spreads)
    card = ranges["card_price"]
    assert (card.low, card.base, card.high) == pytest.approx((7500, 10_000, 12_500))
    assert card.basis.startswith("assumption ±25%: card street prices")
    assert ranges["pue"].low == 1.0  # 1.05 x 0.9 clipped to the bound
    assert "card_price" not in default_ranges(_bare(server_price=90_000.0), spreads)


def test_monte_carlo_draws_the_catalog_ranges(catalog):
    """estimate_tco ranges the values whose catalog entry states a range (triangular low / value
    / high, each bound in USD like the value) and spreads the others."""
    r = estimate_tco(catalog, "ascend-910b2", 64, utilization=0.5, throughput=5000.0)
    years, pue, tdp = r.ranges["years"], r.ranges["pue"], r.ranges["tdp_w"]
    assert (years.low, years.base, years.high) == (3.0, 4.0, 6.0)  # us-2025: range [3, 6]
    assert (pue.low, pue.high) == (1.2, 1.58)
    assert (tdp.kind, tdp.low, tdp.high) == ("triangular", 310.0, 400.0)  # range [310 W, 400 W]
    assert r.ranges["storage_per_node"].basis.startswith("assumption ±50%")
    mc = r.monte_carlo(400, seed=2)
    assert mc.ranges == r.ranges
    # the CNY book's range [USD 12000, 110000] for the H20 card, back in USD at 7.2
    h20 = estimate_tco(
        catalog,
        "h20",
        8,
        utilization=0.5,
        prices="china-2025",
        facility="china-2025",
        pricing="card",
    )
    price = h20.ranges["card_price"]
    assert (price.low, price.high) == pytest.approx((12_000, 110_000 / 7.2))
    # a what-if override drops the file's range: the spread applies again
    tdp_set = estimate_tco(
        load_catalog(overrides=["device.ascend-910b2.tdp=380W"]),
        "ascend-910b2",
        64,
        utilization=0.5,
    ).ranges["tdp_w"]
    assert (tdp_set.low, tdp_set.high) == pytest.approx((342, 418))


def test_ranged_result_validates_its_ranges(catalog):
    r = estimate_tco(catalog, "a100-sxm4-80gb", 16, utilization=0.5)
    assert isinstance(r, RangedTco)
    with pytest.raises(AccelsimError, match="unknown input"):
        r.with_ranges({"bogus": Dist.fixed(1.0)})
    assert "ranges" not in evaluate(r.inputs).as_dict()["inputs"]
    assert r.as_dict()["inputs"]["ranges"]["pue"].startswith("triangular 1.2 / 1.3 / 1.58")


# ---- properties -----------------------------------------------------------------------------


_money = st.floats(0, 1e6, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    u1=st.floats(0, 1),
    u2=st.floats(0, 1),
    idle=st.floats(0, 500),
    extra=st.floats(0, 1000),
    price=st.floats(0, 1),
    pue=st.floats(1, 3),
)
def test_higher_utilization_never_lowers_energy(u1, u2, idle, extra, price, pue):
    lo, hi = sorted((u1, u2))
    kw = dict(
        idle_power_w=idle,
        tdp_w=idle + extra,
        power_price_per_kwh=price,
        pue=pue,
        host_power_w=1000.0,
    )
    assert (
        evaluate(_bare(utilization=hi, **kw)).breakdown["energy"]
        >= evaluate(_bare(utilization=lo, **kw)).breakdown["energy"]
    )


@settings(max_examples=60, deadline=None)
@given(
    n1=st.integers(1, 5000),
    n2=st.integers(1, 5000),
    card=_money,
    server=_money,
    switch=_money,
    optics=_money,
    use_server=st.booleans(),
    radix=st.sampled_from([16, 32, 64]),
)
def test_more_cards_never_lowers_capex(n1, n2, card, server, switch, optics, use_server, radix):
    lo, hi = sorted((n1, n2))
    kw = dict(
        cards_per_node=8,
        card_price=card,
        server_price=server if use_server else None,
        nics_per_card=1.0,
        nic_price=100.0,
        switch_price=switch,
        optics_per_port=optics,
        switch_radix=radix,
        storage_per_node=10.0,
        installation_fraction=0.1,
    )
    assert (
        evaluate(CostInputs(cards=hi, **kw)).capex_usd
        >= evaluate(CostInputs(cards=lo, **kw)).capex_usd - 1e-6
    )


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), spread=st.floats(0.01, 0.9))
def test_percentiles_ordered(seed, spread):
    inp = _ranged()
    ranges = {
        "card_price": Dist.relative(10_000, spread),
        "utilization": Dist.relative(0.6, min(spread, 0.99), 0.5),
        "power_price_per_kwh": Dist.lognormal(0.08, spread),
    }
    mc = monte_carlo(inp, ranges, 200, seed)
    for key, (p10, p50, p90) in mc.quantiles.items():
        if not math.isnan(p50):
            assert p10 <= p50 <= p90, key


# ---- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"card_price": -1.0}, "negative"),
        ({"years": -3.0}, "positive"),
        ({"years": 0.0}, "positive"),
        ({"utilization": 1.2}, "between 0 and 1"),
        ({"utilization": -0.1}, "negative"),
        ({"pue": 0.9}, "at least 1"),
        ({"amortization": "declining"}, "amortization"),
        ({"cards": 0}, "positive whole"),
    ],
)
def test_bad_inputs_raise(kw, match):
    with pytest.raises(AccelsimError, match=match):
        _bare(**kw)


@pytest.mark.parametrize(
    "ranges, match",
    [
        ({"bogus": Dist.fixed(1.0)}, "unknown input"),
        ({"card_price": Dist.triangular(-5, 1, 2)}, "negative"),
        ({"server_price": Dist.triangular(1, 2, 3)}, "no base value"),
    ],
)
def test_bad_ranges_raise(ranges, match):
    with pytest.raises(AccelsimError, match=match):
        monte_carlo(_bare(), ranges, 10)


def test_bad_rental_inputs():
    with pytest.raises(AccelsimError):
        rental_cost(-2.0, 8)
    with pytest.raises(AccelsimError):
        rental_cost(2.0, 8, output_tokens_per_s=-1.0)


@pytest.mark.parametrize(
    "line",
    [
        "tco --device a100-sxm4-80gb --cards 8 --utilization 1.5",
        "tco --device a100-sxm4-80gb --cards 8 --utilization 0.5 --years -1",
        "tco --device a100-sxm4-80gb --cards 8.5 --utilization 0.5",
        "tco --device a100-sxm4-80gb --cards 8 -u 0.5 --currency EUR",
        "tco --device a100-sxm4-80gb --cards 8 -u 0.5 --range pue=lognormal:-1:0.2",
        "tco --device a100-sxm4-80gb --cards 8 -u 0.5 --range pue=1.5:1.3:1.2",
        "tco --device a100-sxm4-80gb --cards 8 -u 0.5 --range nope=1:2:3",
        "tco --device a100-sxm4-80gb --cards "
        "8 -u 0.5 --set prices.international-2025.servers.dgx-a100=-5",
        "tco --device nonexistent-card --cards 8 -u 0.5",
        "tco --rental --rental-rate -2 --cards 8",
        "tco --rental --cards 8",
        "tco --cards 8",
        "tco --from /nonexistent/summary.json",
        "cluster-cost --claim ascend-910b2=cheap",
    ],
)
def test_cli_bad_input_exits_2(line, capsys):
    assert exit_code(line.split()) == 2
    err = capsys.readouterr().err
    assert "error" in err.lower()
    assert "Traceback" not in err


def test_cli_cny_book_without_fx_exits_2(tmp_path, capsys):
    """A user price book in CNY with no fx_per_usd: one line, exit 2."""
    book = tmp_path / "tco" / "pricebooks"
    book.mkdir(parents=True)
    (book / "nofx.yaml").write_text(
        "name: nofx\ncurrency: CNY\nas_of: '2024'\ncards: {a100-sxm4-80gb: 90000}\n"
    )
    code = exit_code(
        [
            "tco",
            "--device",
            "a100-sxm4-80gb",
            "--cards",
            "8",
            "-u",
            "0.5",
            "--prices",
            "nofx",
            "--catalog",
            str(tmp_path),
        ]
    )
    assert code == 2
    assert "fx_per_usd" in capsys.readouterr().err


# ---- CLI -----------------------------------------------------------------------------------


def test_cli_tco_json_with_monte_carlo(capsys):
    code = exit_code(
        [
            "tco",
            "--device",
            "a100-sxm4-80gb",
            "--cards",
            "64",
            "-u",
            "0.6",
            "--tokens-per-s",
            "40000",
            "--monte-carlo",
            "500",
            "--seed",
            "3",
            "--json",
        ]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    pct = data["monte_carlo"]["percentiles"]["usd_per_mtok_output"]
    assert pct["p10"] <= pct["p50"] <= pct["p90"]
    rows = data["sensitivity"]["rows"]
    swings = [r["swing"] for r in rows]
    assert swings == sorted(swings, reverse=True)
    assert data["tco"]["outputs"]["per_card_hour"] > 0


def test_cli_tco_tables(capsys):
    code = exit_code(
        [
            "tco",
            "--device",
            "ascend-910b2",
            "--cards",
            "16",
            "-u",
            "0.5",
            "--prices",
            "china-2025",
            "--facility",
            "china-2025",
            "--currency",
            "CNY",
            "--tokens-per-s",
            "9000",
            "--sensitivity",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "cost per card-hour" in out and "CNY" in out and "Sensitivity" in out


def test_cli_from_result(tmp_path, capsys):
    """--from reads device, cards, busy_fraction and the throughput from a run summary, at the
    keys `accelsim run` writes them (the goodput's requests/s is not the throughput's)."""
    summary = {
        "device": "a100-sxm4-80gb",
        "cards": 16,
        "busy_fraction": 0.4,
        "goodput": {"requests_per_s": 2.0},
        "throughput": {
            "output_tokens_per_s": 8000.0,
            "input_tokens_per_s": 20000.0,
            "requests_per_s": 3.0,
        },
    }
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(summary, sort_keys=True))
    figures = read_run_summary(tmp_path)
    assert (figures.cards, figures.utilization, figures.input_tokens_per_s) == (16, 0.4, 20000.0)
    assert figures.requests_per_s == 3.0
    path.write_text(json.dumps({**summary, "busy_fraction": "high"}))
    with pytest.raises(AccelsimError, match="busy_fraction should be a number"):
        read_run_summary(path)
    path.write_text(json.dumps(summary))
    assert exit_code(["tco", "--from", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)["tco"]
    assert data["inputs"]["utilization"] == 0.4
    assert data["outputs"]["usd_per_mtok_output"] > 0


def test_hours_per_year_convention():
    assert HOURS_PER_YEAR == 8766.0
