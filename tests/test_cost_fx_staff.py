"""The exchange rate of CNY-quoted prices, financing and operations staff as cost inputs
(``accelsim.model.cost``, ``accelsim.run.pricing``), each drawn by the Monte Carlo."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.errors import AccelsimError
from accelsim.model.cost import BREAKDOWN, COST_FIGURES, OUTPUTS, CostInputs, evaluate
from accelsim.model.uncertainty import Dist, monte_carlo
from accelsim.run.pricing import estimate_tco


def _quoted(**kw: object) -> CostInputs:
    """One 8-card server of $100,000 quoted in CNY at 7.2 CNY/USD (720,000 CNY)."""
    base = dict(
        cards=8,
        server_price=100_000.0,
        nics_per_card=0.0,
        quote_fx_per_usd=7.2,
        fx_quoted=("server_price",),
        quote_currency="CNY",
    )
    base.update(kw)
    return CostInputs(**base)  # type: ignore[arg-type]


def test_a_drawn_exchange_rate_moves_only_the_quoted_inputs():
    """At 8 CNY/USD the 720,000 CNY server is $90,000; at the base rate it is $100,000. A
    storage adder in USD does not move."""
    inputs = _quoted(storage_per_node=2_500.0)
    assert evaluate(inputs).values["capex_compute"] == pytest.approx(100_000)
    mc = monte_carlo(inputs, {"quote_fx_per_usd": Dist.fixed(8.0)}, n=4)
    assert mc.quantiles["capex_compute"][1] == pytest.approx(90_000)
    assert mc.quantiles["capex_storage"][1] == pytest.approx(2_500)
    with pytest.raises(AccelsimError, match="only money inputs"):
        _quoted(fx_quoted=("pue",))


def test_the_catalog_cost_of_a_cny_quoted_server_ranges_its_rate(catalog):
    """The USD book quotes the HGX H800 at 2.0M CNY: its cost carries the book's CNY rate with
    its catalog range [7.0, 7.3]; a bundle priced in USD (Atlas 800I A2) has no rate to draw;
    presented in CNY, the CNY book's prices do not move with the rate."""
    h800 = estimate_tco(catalog, "h800", 16, utilization=0.5, throughput=5000.0)
    assert h800.inputs.fx_quoted == ("server_price",)
    fx = h800.ranges["quote_fx_per_usd"]
    assert (fx.low, fx.base, fx.high) == (7.0, 7.2, 7.3)
    ascend = estimate_tco(catalog, "ascend-910b2", 16, utilization=0.5, throughput=5000.0)
    assert ascend.inputs.fx_quoted == () and "quote_fx_per_usd" not in ascend.ranges
    china = dict(prices="china-2025", facility="china-2025", throughput=5000.0)
    usd = estimate_tco(catalog, "ascend-910b2", 16, utilization=0.5, **china)
    assert {"server_price", "power_price_per_kwh"} <= set(usd.inputs.fx_quoted)
    assert "quote_fx_per_usd" in usd.ranges
    cny = estimate_tco(catalog, "ascend-910b2", 16, utilization=0.5, currency="CNY", **china)
    assert "quote_fx_per_usd" not in cny.ranges


def test_financing_and_staff_have_sourced_defaults_ranges_and_one_label(catalog):
    """us-2025: 8 %/yr cost of capital, 0.005 operations FTE per server at $200,000 a year,
    each with a catalog range the Monte Carlo draws; 16 A100 = 2 servers -> $2,000 of staff.
    The financing of 2 x $132,000 servers (+ network, storage, installation) over 4 years is
    the annuity less straight line: capex x (CRF(8 %, 4) - 1/4) for the part with no residual."""
    r = estimate_tco(catalog, "a100-sxm4-80gb", 16, utilization=0.5, throughput=5000.0)
    assert r.inputs.cost_of_capital == 0.08 and r.inputs.amortization == "annuity"
    assert r.values["staff"] == pytest.approx(2 * 0.005 * 200_000)
    crf = 0.08 / (1 - 1.08**-4)
    assert r.values["financing"] == pytest.approx(r.values["capex"] * (crf - 0.25))
    for name in ("cost_of_capital", "ops_fte_per_node", "ops_fte_cost_per_year"):
        assert name in r.ranges and r.ranges[name].low < r.ranges[name].high, name
    assert OUTPUTS["financing"][0] == COST_FIGURES["financing_per_year"][0]
    assert OUTPUTS["staff"][0] == COST_FIGURES["staff_per_year"][0]
    mc = r.monte_carlo(n=400, seed=3)
    low, _mid, high = mc.quantiles["financing"]
    assert low < r.values["financing"] < high


def test_a_file_cannot_write_quoted_in():
    """``quoted_in`` is derived from the amounts as written: a book that states it is refused
    with the field named."""
    from pydantic import ValidationError

    from accelsim.catalog.prices import PriceBook

    with pytest.raises(ValidationError, match="quoted_in: derived"):
        PriceBook.model_validate(
            {"name": "u", "currency": "USD", "as_of": "2025", "quoted_in": {"cards.h20": "CNY"}}
        )
    book = PriceBook.model_validate(
        {
            "name": "u",
            "currency": "USD",
            "as_of": "2025",
            "quote_fx_per_usd": {"CNY": 8.0},
            "cards": {"h20": "CNY 80,000", "h200": 30000},
            "network": {"switch": {"ib-ndr": "CNY 16,000"}},
        }
    )
    assert book.cards == {"h20": 10_000.0, "h200": 30_000.0}
    assert book.quoted_in == {"cards.h20": "CNY", "network.switch.ib-ndr": "CNY"}


@settings(max_examples=40, deadline=None)
@given(
    rate=st.floats(min_value=5.0, max_value=10.0),
    server=st.floats(min_value=1e4, max_value=1e6),
    staff=st.floats(min_value=0.0, max_value=0.05),
)
def test_quoted_prices_scale_inversely_with_the_rate(rate, server, staff):
    """For any drawn rate, a CNY-quoted server costs base x 7.2 / rate in USD, and the yearly
    cost stays the sum of its breakdown (financing and staff included)."""
    inputs = _quoted(
        server_price=server,
        ops_fte_per_node=staff,
        ops_fte_cost_per_year=1e5,
        cost_of_capital=0.08,
    )
    mc = monte_carlo(inputs, {"quote_fx_per_usd": Dist.fixed(rate)}, n=2)
    assert mc.quantiles["capex_compute"][1] == pytest.approx(server * 7.2 / rate)
    parts = sum(mc.samples[k][0] for k in BREAKDOWN)
    assert parts == pytest.approx(mc.samples["per_year"][0])


@pytest.mark.parametrize("rate", [0, -1, "abc", "inf"])
def test_a_quote_rate_must_be_a_positive_number(rate):
    from pydantic import ValidationError

    from accelsim.catalog.prices import PriceBook

    with pytest.raises(ValidationError, match=r"quote_fx_per_usd\.CNY: .* not a positive number"):
        PriceBook.model_validate(
            {"name": "u", "currency": "USD", "as_of": "2025", "quote_fx_per_usd": {"CNY": rate}}
        )
