"""The one place where text such as ``"1.6 TB/s"`` or ``"64 GiB"`` becomes an SI float.

Conventions (see ``design.md``): inside accelsim every quantity is a plain float in SI units —
seconds, bytes, FLOP/s, watts, joules — and money is a plain float in a named currency. Catalog
files, scenario files and command-line overrides may write quantities with units; they are
converted here, once, at load time, with pint. A bare number is taken to be already in SI units.
Conversions are kept across processes in the user cache folder (``cache_dir``; see
``_Conversions``), so a command that reads no new unit text never imports pint.

Decimal prefixes are decimal (``TB/s`` = 1e12 B/s, ``TFLOP/s`` = 1e12 FLOP/s); binary prefixes
are binary (``GiB`` = 2**30 B). Vendor "TFLOPS" are decimal, so ``"989 TFLOPS"`` is 9.89e14.

Money is kept outside pint's unit algebra on purpose (exchange rates belong to a price book, not
to a global registry; see pint's own currency advice): ``parse_money`` splits a currency code off
the front or back of the text and converts the rest (``"0.05 USD/kWh"`` -> 0.05 USD per kWh ->
1.39e-8 USD per joule).
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import importlib.util
import json
import math
import os
import re
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from accelsim.errors import AccelsimError
from accelsim.files import atomic_write

if TYPE_CHECKING:
    import pint

__all__ = [
    "CURRENCIES",
    "DIMENSIONS",
    "HOURS_PER_YEAR",
    "UnitError",
    "UserText",
    "cache_dir",
    "check_finite",
    "format_figure",
    "format_quantity",
    "format_value",
    "parse_money",
    "parse_quantity",
    "pint_version",
]

#: Hours in a year (365.25 days), the convention of ``reference/tco.md``.
HOURS_PER_YEAR = 8766.0
#: Currency codes understood by ``parse_money``.
CURRENCIES = ("USD", "CNY", "EUR")


class UnitError(AccelsimError, ValueError):
    """A text could not be read as a quantity of the expected dimension."""


class UserText(str):
    """Text a user typed for one value (a ``--set`` override): unlike a file's bare number,
    which the catalog convention takes as SI, a bare number here must carry its unit where a
    dimension is expected (``--set device.X.hbm_capacity=64`` is refused, not 64 bytes)."""


def check_finite(value: float, text: object) -> float:
    """``value`` when it is a finite number; else a ``UnitError`` quoting ``text`` as written
    (``.inf``, ``1e400 TB/s``, ``nan``): every quantity inside accelsim is finite."""
    if not math.isfinite(value):
        raise UnitError(f"must be a finite number (got {text!r})")
    return value


@functools.cache
def _registry() -> pint.UnitRegistry:
    """pint's registry with accelsim's units, built (and pint imported) when a first text is
    parsed: a command that parses none (``accelsim --help``) never pays for it."""
    import pint

    ureg = pint.UnitRegistry(on_redefinition="ignore")
    ureg.define("FLOP = [flop] = flop = FLOPs")
    ureg.define("OP = FLOP = op = OPS_unit")
    ureg.define("token = [token] = tok = tokens")
    ureg.define("request = [request] = req = requests")
    ureg.define("card = [] = cards")
    return ureg


#: Named dimensions and their SI base unit (what ``parse_quantity`` returns magnitudes in).
DIMENSIONS: dict[str, str] = {
    "bytes": "byte",
    "bandwidth": "byte / second",
    "flop_rate": "FLOP / second",
    "flops": "FLOP",
    "time": "second",
    "power": "watt",
    "energy": "joule",
    "frequency": "hertz",
    "rate": "1 / second",
    "token_rate": "token / second",
    "bit_rate": "bit / second",
    "dimensionless": "dimensionless",
}

#: Unit spellings pint does not know, rewritten before parsing (a word not inside a longer one).
_SHORTHAND = [
    *(
        (re.compile(rf"(?<![A-Za-z]){word}\b"), unit)
        for word, unit in (
            ("TFLOPS", "TFLOP/s"),
            ("PFLOPS", "PFLOP/s"),
            ("GFLOPS", "GFLOP/s"),
            ("TOPS", "TFLOP/s"),
            ("FLOPS", "FLOP/s"),
            ("Gbps", "Gbit/s"),
            ("Gb/s", "Gbit/s"),
            ("Mbps", "Mbit/s"),
            ("Tbps", "Tbit/s"),
            ("us", "microsecond"),
        )
    ),
    (re.compile(r"µs"), "microsecond"),
    (re.compile(r"%"), " percent"),
]


def _normalise(text: str) -> str:
    out = text.strip().replace(",", "")
    for pattern, repl in _SHORTHAND:
        out = pattern.sub(repl, out)
    return out


#: pint evaluates ``**``: one small power (``m**2``) is a unit, ``10**10**10`` is a hang.
_POWER = re.compile(r"\*\*|\^")
_BIG_POWER = re.compile(r"(?:\*\*|\^)\s*\(?\s*[-+]?\d{3,}")


def cache_dir() -> Path:
    """Where accelsim keeps what it can rebuild: ``$ACCELSIM_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/accelsim``, else ``~/.cache/accelsim`` (the XDG base-directory rule)."""
    own = os.environ.get("ACCELSIM_CACHE_DIR")
    if own:
        return Path(own)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg if xdg else Path.home() / ".cache") / "accelsim"


def pint_version() -> str:
    """Which pint is installed, without importing it or parsing its metadata (about 5 ms of
    ``step``'s start-up): the name of its one ``pint-VERSION.dist-info`` folder beside the
    package, as pip installs it; else (no such folder, or several) its metadata's version;
    ``"none"`` when pint is not installed."""
    spec = importlib.util.find_spec("pint")
    if spec is None or not spec.origin:
        return "none"
    site = Path(spec.origin).parent.parent
    try:
        found = [e.name for e in os.scandir(site) if _PINT_DIST.fullmatch(e.name)]
    except OSError:
        found = []
    if len(found) == 1:
        return found[0]
    try:
        return version("pint")
    except PackageNotFoundError:
        return "none"


#: pip's metadata folder of an installed pint (``pint-0.25.3.dist-info``).
_PINT_DIST = re.compile(r"pint-[^-]+\.dist-info")


def _cache_file() -> Path:
    """The conversion cache of this ``units.py`` and this pint: its name carries a hash of both
    (the registry's definitions above and pint's own), so editing either starts a new file."""
    digest = hashlib.sha256(Path(__file__).read_bytes() + pint_version().encode()).hexdigest()
    return cache_dir() / f"units-{digest[:16]}.json"


class _Conversions:
    """Texts already converted, kept across processes so that a command that reads no new
    unit text never imports pint (about 0.6 s: issue 18's start-up targets). A conversion is a
    pure function of the text, the dimension, this module and pint's version, and the file is
    keyed by the last two, so a hit returns exactly what pint would (floats are stored as
    their shortest repr, which reads back bit for bit). A missing, unreadable or corrupt file
    is an empty cache; new conversions are written once, at exit, whole or not at all
    (``accelsim.files.atomic_write``); a cache that cannot be written is skipped silently."""

    def __init__(self) -> None:
        self.path: Path | None = None
        self.known: dict[str, float] = {}
        self.new = 0

    @staticmethod
    def key(text: str, dimension: str) -> str:
        return f"{dimension}\t{text}"

    def load(self) -> None:
        self.path = _cache_file()
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if isinstance(data, dict):
            self.known = {
                k: float(v)
                for k, v in data.items()
                if isinstance(k, str) and type(v) in (int, float) and math.isfinite(v)
            }

    def get(self, text: str, dimension: str) -> float | None:
        if self.path is None:
            self.load()
            atexit.register(self.save)
        return self.known.get(self.key(text, dimension))

    def put(self, text: str, dimension: str, value: float) -> None:
        self.known[self.key(text, dimension)] = value
        self.new += 1

    def save(self) -> None:
        if not self.new or self.path is None:
            return
        try:
            atomic_write(self.path, json.dumps(self.known, sort_keys=True, indent=0))
        except AccelsimError:
            return
        self.new = 0


_CONVERSIONS = _Conversions()


@functools.lru_cache(maxsize=4096)
def _parse(text: str, dimension: str) -> float:
    cached = _CONVERSIONS.get(text, dimension)
    if cached is not None:
        return cached
    value = _parse_with_pint(text, dimension)
    _CONVERSIONS.put(text, dimension, value)
    return value


def _parse_with_pint(text: str, dimension: str) -> float:
    import pint

    ureg = _registry()
    if len(_POWER.findall(text)) > 1 or _BIG_POWER.search(text):
        raise UnitError(f"cannot read {text!r} as a quantity (exponent too large)")
    try:
        q = ureg.Quantity(_normalise(text))
    except Exception as exc:  # pint raises several unrelated exception types
        raise UnitError(f"cannot read {text!r} as a quantity ({exc})") from None
    target = DIMENSIONS[dimension]
    if not isinstance(q, pint.Quantity):
        q = ureg.Quantity(float(q), "dimensionless")
    if dimension == "bit_rate" and q.check("[]/[time]"):
        q = q * ureg.bit
    try:
        value = q.to(target).magnitude
    except pint.DimensionalityError:
        raise UnitError(
            f"{text!r} is not a {dimension.replace('_', ' ')} (expected units like {target!r})"
        ) from None
    return float(value)


def parse_quantity(value: object, dimension: str) -> float:
    """Convert ``value`` (number or text with units) to an SI float of ``dimension``.

    ``dimension`` is a key of ``DIMENSIONS``. Numbers are returned unchanged (assumed SI).
    Raises ``UnitError`` with the offending text when the unit does not parse or has the
    wrong dimension (``"1.6 TB"`` where a bandwidth is expected).
    """
    if dimension not in DIMENSIONS:
        raise KeyError(dimension)
    if isinstance(value, bool):
        raise UnitError(f"{value!r} is not a quantity")
    if isinstance(value, int | float):
        try:
            return check_finite(float(value), value)
        except OverflowError:
            raise UnitError(f"must be a finite number (got {value!r})") from None
    if not isinstance(value, str):
        raise UnitError(f"{value!r} is not a number or a quantity text")
    stripped = value.strip()
    if len(stripped) > _MAX_QUANTITY_CHARS:
        raise UnitError(f"a quantity text of {len(stripped):,} characters is too long")
    try:
        number = float(stripped.replace(",", ""))
    except ValueError:
        return check_finite(_parse(stripped, dimension), value)
    if isinstance(value, UserText) and dimension != "dimensionless" and number != 0:
        raise UnitError(
            f"{value!r} has no unit; write the unit, e.g. '{stripped} {_EXAMPLE_UNIT[dimension]}'"
        )
    return check_finite(number, value)


#: The longest quantity text read (a quantity is a number and a unit; anything longer is not).
_MAX_QUANTITY_CHARS = 200
#: A unit to suggest per dimension when a user's bare number lacks one.
_EXAMPLE_UNIT = {
    "bytes": "GB",
    "bandwidth": "TB/s",
    "flop_rate": "TFLOPS",
    "flops": "TFLOP",
    "time": "ms",
    "power": "W",
    "energy": "J",
    "frequency": "GHz",
    "rate": "/s",
    "token_rate": "tok/s",
    "bit_rate": "Gb/s",
}


_MONEY = re.compile(
    r"^\s*(?:(?P<pre>[A-Z]{3})\s*)?(?P<num>[-+]?[0-9][0-9,]*\.?[0-9]*(?:[eE][-+]?\d+)?)"
    r"\s*(?P<post>[A-Z]{3})?\s*(?:/\s*(?P<per>.+?))?\s*$"
)


@dataclass(frozen=True)
class Money:
    """An amount in a currency, optionally per some SI quantity (per joule, per second, ...)."""

    amount: float
    currency: str


def parse_money(
    value: object, per: str | None = None, default_currency: str | None = None
) -> Money:
    """Read ``"0.05 USD/kWh"``, ``"USD 199,000"`` or ``"120k CNY"``-free plain forms.

    ``per`` names the dimension of the denominator (``"energy"``, ``"time"``, ``"power_time"``
    for ``kW-month`` style colocation prices), and the amount is returned per SI unit of it
    (USD/kWh -> USD/J). Without ``per`` no denominator is allowed. A bare number takes
    ``default_currency``.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        if default_currency is None:
            raise UnitError(f"{value!r} has no currency (write e.g. '{value} USD')")
        return Money(check_finite(float(value), value), default_currency)
    if not isinstance(value, str):
        raise UnitError(f"{value!r} is not a money amount")
    m = _MONEY.match(value)
    if not m:
        raise UnitError(f"cannot read {value!r} as money (expected e.g. '0.05 USD/kWh')")
    currency = m.group("pre") or m.group("post") or default_currency
    if currency is None:
        raise UnitError(f"{value!r} has no currency (write e.g. 'USD 199000' or '0.05 USD/kWh')")
    if currency not in CURRENCIES:
        raise UnitError(
            f"unknown currency {currency!r} in {value!r} (known: {', '.join(CURRENCIES)})"
        )
    amount = check_finite(float(m.group("num").replace(",", "")), value)
    per_text = m.group("per")
    if per_text and per is None:
        raise UnitError(f"{value!r}: expected a plain amount, not a price per {per_text!r}")
    if per is not None:
        if not per_text:
            raise UnitError(f"{value!r}: expected a price per {per.replace('_', ' ')}")
        if per == "power_time":
            denom = _power_time(per_text)
        else:
            denom = parse_quantity("1 " + per_text.strip(), per)
        amount = amount / denom
    return Money(check_finite(amount, value), currency)


def _power_time(text: str) -> float:
    """``kW-month`` or ``kW*month`` -> joules (a month is 730.5 h, tco.md's convention)."""
    cleaned = text.replace("-", "*").replace("month", "(730.5 * hour)")
    return parse_quantity("1 " + cleaned, "energy")


def format_quantity(value: float, dimension: str, digits: int = 3) -> str:
    """Render an SI float for people: 1.6e12 bandwidth -> ``"1.6 TB/s"``."""
    unit = {
        "bytes": "B",
        "bandwidth": "B/s",
        "flop_rate": "FLOP/s",
        "flops": "FLOP",
        "time": "s",
        "power": "W",
        "energy": "J",
        "frequency": "Hz",
        "rate": "/s",
        "token_rate": "tok/s",
        "bit_rate": "bit/s",
    }.get(dimension, "")
    if value == 0:
        return f"0 {unit}".strip()
    if dimension == "time" and abs(value) < 1:
        for factor, prefix in ((1e-3, "m"), (1e-6, "µ"), (1e-9, "n")):
            if abs(value) >= factor:
                return f"{value / factor:.{digits}g} {prefix}s"
    for factor, prefix in (
        (1e18, "E"),
        (1e15, "P"),
        (1e12, "T"),
        (1e9, "G"),
        (1e6, "M"),
        (1e3, "k"),
    ):
        if abs(value) >= factor:
            return f"{value / factor:.{digits}g} {prefix}{unit}"
    return f"{value:.{digits}g} {unit}".strip()


def format_value(value: Any, unit: str = "", missing: str = "-") -> str:
    """A result value with its display unit, as tables show it: seconds (``unit`` ``"s"``) as
    ms below 1 s, money (``"USD..."``) with cents below 1,000, whole numbers with separators,
    three significant digits below 100; ``missing`` for ``None`` and non-finite floats."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return missing
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    if unit == "s":
        return f"{value * 1e3:,.1f} ms" if value < 1 else f"{value:,.2f} s"
    if unit.startswith("USD"):
        return f"{value:,.2f} {unit}" if abs(value) < 1000 else f"{value:,.0f} {unit}"
    if isinstance(value, int):
        return f"{value:,} {unit}".strip()
    text = f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return f"{text} {unit}".strip()


def format_figure(
    value: Any,
    unit: str = "",
    *,
    p10: float | None = None,
    p90: float | None = None,
    interval: Any = None,
    half_width: float | None = None,
    missing: str = "-",
) -> str:
    """A predicted figure as tables print it: ``1,234 tok/s ±31 (P10–P90 1,050–1,390)`` — the
    value (``format_value``), the half width of its confidence interval across seeds and its
    P10–P90 prediction interval (``p10``/``p90``, or ``interval``: an object with those
    attributes or its JSON form, a mapping); the half width and bounds drop the unit they
    share with the value."""
    if interval is not None:
        get = interval.get if isinstance(interval, dict) else lambda k: getattr(interval, k)
        p10, p90 = get("p10"), get("p90")
    text = format_value(value, unit, missing)
    if text == missing:
        return text
    suffix = text.rsplit(" ", 1)[1] if " " in text else ""

    def bare(x: float) -> str:
        t = format_value(x, unit, missing)
        return t[: -len(suffix) - 1] if suffix and t.endswith(" " + suffix) else t

    if half_width:
        text += f" ±{bare(half_width)}"
    if p10 is not None and p90 is not None:
        text += f" (P10–P90 {bare(p10)}–{bare(p90)})"
    return text
