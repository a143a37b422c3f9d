"""Unit parsing at the edge: text with units -> SI floats, money with currency."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accelsim.units import UnitError, format_quantity, parse_money, parse_quantity


@pytest.mark.parametrize(
    ("text", "dimension", "expected"),
    [
        ("1.6 TB/s", "bandwidth", 1.6e12),
        ("2,039 GB/s", "bandwidth", 2.039e12),
        ("200 Gb/s", "bandwidth", 25e9),  # 200 gigabit per second = 25 GB/s
        ("64 GiB", "bytes", 64 * 2**30),
        ("80 GB", "bytes", 80e9),
        ("192 MiB", "bytes", 192 * 2**20),
        ("353.9 TFLOPS", "flop_rate", 353.9e12),
        ("624 TOPS", "flop_rate", 624e12),  # integer OPs count as FLOP-equivalents
        ("256TFLOPS", "flop_rate", 256e12),  # shorthand units glued to the number
        ("400Gbps", "bit_rate", 400e9),
        ("5us", "time", 5e-6),
        ("8 us", "time", 8e-6),
        ("2 ms", "time", 2e-3),
        ("400 W", "power", 400.0),
        ("6.5 kW", "power", 6500.0),
        ("40/s", "rate", 40.0),
        (3.5, "bandwidth", 3.5),  # bare numbers are SI already
        ("12", "bytes", 12.0),
    ],
)
def test_parse_quantity(text, dimension, expected):
    assert parse_quantity(text, dimension) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("text", "dimension"),
    [("1.6 TB", "bandwidth"), ("3 parsecs", "bytes"), ("fast", "time"), ("400 W", "bytes")],
)
def test_wrong_dimension_or_garbage_is_a_clear_error(text, dimension):
    with pytest.raises(UnitError, match=repr(text).replace("(", r"\(").replace(")", r"\)")[:8]):
        parse_quantity(text, dimension)


def test_money_forms():
    # 0.05 USD per kWh = 0.05 / 3.6e6 USD per joule
    m = parse_money("0.05 USD/kWh", per="energy")
    assert m.currency == "USD"
    assert m.amount == pytest.approx(0.05 / 3.6e6)
    assert parse_money("USD 199,000").amount == 199000.0
    assert parse_money("120000 CNY").currency == "CNY"
    assert parse_money(7, default_currency="CNY").amount == 7.0
    with pytest.raises(UnitError):
        parse_money("12 XYZ")
    with pytest.raises(UnitError):
        parse_money(12)  # no currency


@given(st.floats(min_value=1e-3, max_value=1e6, allow_nan=False))
def test_round_trip_through_text(x):
    assert parse_quantity(f"{x!r} GB/s", "bandwidth") == pytest.approx(x * 1e9, rel=1e-9)


def test_format_quantity():
    assert format_quantity(1.6e12, "bandwidth") == "1.6 TB/s"
    assert format_quantity(2e-3, "time") == "2 ms"
