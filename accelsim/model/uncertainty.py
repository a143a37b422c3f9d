"""Uncertainty of the cost: input ranges, Monte Carlo percentiles, one-at-a-time sensitivity.

Any continuous input of ``accelsim.model.cost.CostInputs`` (``UNCERTAIN_INPUTS``) can carry a
``Dist`` (triangular low/base/high, uniform, lognormal, or a frozen ``scipy.stats``
distribution). ``monte_carlo`` samples all of them at once (numpy ``Generator``, one independent
stream per input name so adding a range does not move the others' draws), evaluates the cost
formula (``accelsim.model.cost.cost_values``) on the arrays of draws and reports P10/P50/P90 of
every output; ``sensitivity`` moves one input at a time to its low and high value (the stated
bounds of a triangular or uniform range, P10/P90 of a lognormal or scipy distribution) and ranks
inputs by the swing of one output (a tornado chart).

Where ranges come from is the caller's business (pure: objects in, numbers out):
``default_ranges`` makes the documented assumption spreads of a ``SpreadTable``
(``tco/spreads.yaml``, read by the catalog) into relative triangular ranges around the base
values; ``accelsim.run.pricing`` replaces them with the catalog's own ``range: [low, high]``
where a price book, facility, card or server states one, and a user range replaces either.
``RangedTco`` is a point estimate with the ranges of its inputs (what ``estimate_tco`` returns).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from accelsim.catalog.prices import SpreadTable
from accelsim.errors import AccelsimError
from accelsim.model.cost import (
    INPUT_BOUNDS,
    INPUT_LABELS,
    OUTPUTS,
    UNCERTAIN_INPUTS,
    CostInputs,
    TcoResult,
    check_input,
    convert_output,
    cost_values,
    discrete_inputs,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DEVICE_INPUTS",
    "Dist",
    "RangedTco",
    "SensitivityRow",
    "TcoUncertainty",
    "check_ranges",
    "clip_to_bounds",
    "default_output",
    "default_ranges",
    "draw_stream",
    "monte_carlo",
    "parse_dist",
    "sensitivity",
]

DistKind = Literal["fixed", "triangular", "uniform", "lognormal", "scipy"]


@dataclass(frozen=True)
class Dist:
    """A range for one input: what Monte Carlo samples and what sensitivity swings between.

    ``low``/``base``/``high`` are the swing points of ``sensitivity`` (bounds for triangular and
    uniform, P10 and P90 for lognormal and scipy distributions). ``basis`` says where the range
    comes from (``"user"``, ``"assumption: ±25%"``, ``"catalog alternatives"``).
    """

    kind: DistKind
    low: float
    base: float
    high: float
    sigma: float = 0.0
    frozen: Any = None
    basis: str = "user"

    @classmethod
    def fixed(cls, value: float, basis: str = "user") -> Dist:
        return cls("fixed", value, value, value, basis=basis)

    @classmethod
    def triangular(cls, low: float, mode: float, high: float, basis: str = "user") -> Dist:
        """Triangular on ``[low, high]`` with its peak at ``mode`` (the base value)."""
        _finite(low, mode, high)
        if not low <= mode <= high:
            raise AccelsimError(
                f"triangular range needs low <= base <= high (got {low:g}, {mode:g}, {high:g})"
            )
        return cls("triangular", float(low), float(mode), float(high), basis=basis)

    @classmethod
    def uniform(cls, low: float, high: float, basis: str = "user") -> Dist:
        _finite(low, high)
        if not low <= high:
            raise AccelsimError(f"uniform range needs low <= high (got {low:g}, {high:g})")
        return cls("uniform", float(low), (low + high) / 2.0, float(high), basis=basis)

    @classmethod
    def lognormal(cls, median: float, sigma: float, basis: str = "user") -> Dist:
        """Lognormal with ``median`` and log-space standard deviation ``sigma``."""
        _finite(median, sigma)
        if median <= 0 or sigma <= 0:
            raise AccelsimError(
                f"lognormal range needs median > 0 and sigma > 0 (got {median:g}, {sigma:g})"
            )
        z = 1.2815515655446004  # standard normal P90
        return cls(
            "lognormal",
            median * math.exp(-z * sigma),
            float(median),
            median * math.exp(z * sigma),
            sigma=float(sigma),
            basis=basis,
        )

    @classmethod
    def from_scipy(cls, frozen: Any, basis: str = "user") -> Dist:
        """A frozen ``scipy.stats`` distribution (``scipy.stats.triang(...)`` etc.)."""
        try:
            low, base, high = (float(frozen.ppf(q)) for q in (0.1, 0.5, 0.9))
        except Exception as exc:
            raise AccelsimError(f"not a usable scipy.stats distribution ({exc})") from None
        if not all(math.isfinite(v) for v in (low, base, high)):
            raise AccelsimError("scipy.stats distribution has invalid parameters (NaN quantiles)")
        return cls("scipy", low, base, high, frozen=frozen, basis=basis)

    @classmethod
    def relative(
        cls, base: float, minus: float, plus: float | None = None, basis: str = ""
    ) -> Dist:
        """Triangular ``base * (1 - minus) .. base .. base * (1 + plus)``."""
        plus = minus if plus is None else plus
        return cls.triangular(base * (1 - minus), base, base * (1 + plus), basis=basis)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` independent draws (the quantiles of ``n`` uniform draws, ``ppf``)."""
        return self.ppf(rng.random(n))

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """The quantile function at ``u`` (0-1): draws made from shared uniforms are
        comonotone, which is how ``monte_carlo`` and ``accelsim.model.joint`` give two devices
        the same draw of an assumption they share."""
        u = np.asarray(u, dtype=float)
        if self.kind == "fixed" or self.low == self.high:
            return np.full(u.shape, self.base)
        if self.kind == "triangular":
            a, c, b = self.low, self.base, self.high
            cut = (c - a) / (b - a)
            left = a + np.sqrt(u * (b - a) * (c - a))
            right = b - np.sqrt((1.0 - u) * (b - a) * (b - c))
            return np.where(u < cut, left, right)
        if self.kind == "uniform":
            return self.low + u * (self.high - self.low)
        if self.kind == "lognormal":
            from scipy.special import ndtri  # its one scipy function: off the start-up path

            return np.exp(math.log(self.base) + self.sigma * ndtri(u))
        return np.asarray(self.frozen.ppf(u), dtype=float)

    def describe(self) -> str:
        if self.kind == "lognormal":
            return f"lognormal(median {self.base:g}, sigma {self.sigma:g})"
        if self.kind in ("scipy",):
            return f"scipy P10/P50/P90 {self.low:g}/{self.base:g}/{self.high:g}"
        return f"{self.kind} {self.low:g} / {self.base:g} / {self.high:g}"


def _finite(*values: float) -> None:
    for v in values:
        if not isinstance(v, int | float) or not math.isfinite(v):
            raise AccelsimError(f"range bound {v!r} is not a finite number")


def parse_dist(text: str, base: float | None = None) -> Dist:
    """Read a range from text (the CLI's ``--range NAME=SPEC``).

    Forms: ``LOW:BASE:HIGH`` (triangular), ``triangular:LOW:MODE:HIGH``, ``uniform:LOW:HIGH``,
    ``lognormal:MEDIAN:SIGMA``, and ``±20%`` / ``20%`` / ``-10%:+30%`` relative to ``base``.
    """
    spec = text.strip().replace(",", "")
    parts = [p.strip() for p in spec.split(":")]
    try:
        if spec.endswith("%"):
            if base is None:
                raise AccelsimError(f"range {text!r}: a relative range needs a base value")
            pcts = [float(p.lstrip("±+-").rstrip("%")) / 100.0 for p in parts]
            if any(p < 0 for p in pcts):
                raise ValueError
            return Dist.relative(base, pcts[0], pcts[-1], basis="user")
        kind = parts[0].lower()
        if kind in ("triangular", "tri"):
            return (
                Dist.triangular(*map(float, parts[1:4]), basis="user")
                if len(parts) == 4
                else _bad_dist(text)
            )
        if kind == "uniform":
            return Dist.uniform(*map(float, parts[1:3])) if len(parts) == 3 else _bad_dist(text)
        if kind == "lognormal":
            return Dist.lognormal(*map(float, parts[1:3])) if len(parts) == 3 else _bad_dist(text)
        if len(parts) == 3:
            return Dist.triangular(*map(float, parts))
    except ValueError:
        pass
    return _bad_dist(text)


def _bad_dist(text: str) -> Dist:
    raise AccelsimError(
        f"range {text!r}: expected LOW:BASE:HIGH, uniform:LOW:HIGH, lognormal:MEDIAN:SIGMA or ±PCT%"
    )


def check_ranges(inputs: CostInputs, ranges: Mapping[str, Dist]) -> None:
    """Raise unless every range names a continuous input of ``inputs`` that has a base value,
    and a bounded range (triangular, uniform, fixed) stays within the input's bounds."""
    for name, dist in ranges.items():
        if name not in INPUT_BOUNDS:
            raise AccelsimError(
                f"range for unknown input {name!r} (inputs that take a range: "
                f"{', '.join(UNCERTAIN_INPUTS)})"
            )
        if not isinstance(dist, Dist):
            raise AccelsimError(f"range for {name!r} is not a Dist")
        if dist.kind in ("triangular", "uniform", "fixed"):
            check_input(name, dist.low, what="range low")
            check_input(name, dist.high, what="range high")
        if getattr(inputs, name) is None:
            raise AccelsimError(f"range for {name!r}, but it has no base value")


def clip_to_bounds(name: str, dist: Dist) -> Dist:
    """Clip a triangular range to the input's bounds (utilization <= 1, PUE >= 1)."""
    lo, hi = INPUT_BOUNDS[name]
    low, high, base = dist.low, dist.high, dist.base
    if lo is not None:
        low = max(low, lo)
    if hi is not None:
        high = min(high, hi)
    base = min(max(base, low), high)
    return replace(dist, low=low, high=high, base=base)


def default_ranges(inputs: CostInputs, spreads: SpreadTable) -> dict[str, Dist]:
    """The documented assumption spreads as ranges, for the inputs with a non-zero base value.

    Each spread (``tco/spreads.yaml``) becomes a triangular range ``base x (1 - minus) .. base
    .. base x (1 + plus)``, clipped to the input's bounds, with the spread's note as its basis.
    The server price replaces the card price when set (only the one in use is ranged), and NICs
    inside the server price take no range of their own.
    """
    out: dict[str, Dist] = {}
    for name, spread in spreads.spreads.items():
        if name not in INPUT_BOUNDS:
            raise AccelsimError(
                f"{spreads.file or spreads.name}: spread for unknown input {name!r} (inputs "
                f"that take a range: {', '.join(UNCERTAIN_INPUTS)})"
            )
        if name == "card_price" and inputs.server_price is not None:
            continue
        if name == "server_price" and inputs.server_price is None:
            continue
        if name == "nic_price" and inputs.server_price is not None and inputs.nics_in_server_price:
            continue
        if name == "quote_fx_per_usd" and not inputs.fx_quoted:
            continue  # no amount is quoted in another currency: the rate moves nothing
        base = getattr(inputs, name)
        if not base:
            continue
        out[name] = clip_to_bounds(
            name, Dist.relative(float(base), spread.minus, spread.plus, basis=spreads.basis(name))
        )
    return out


@dataclass(frozen=True)
class TcoUncertainty:
    """Monte Carlo percentiles of every output (USD inside, like ``TcoResult``)."""

    n: int
    seed: int
    ranges: Mapping[str, Dist]
    quantiles: Mapping[str, tuple[float, float, float]]
    samples: Mapping[str, np.ndarray] = field(repr=False, default_factory=dict)
    currency: str = "USD"
    fx_per_usd: float = 1.0

    def _q(self, i: int) -> dict[str, float]:
        return {k: convert_output(k, q[i], self.fx_per_usd) for k, q in self.quantiles.items()}

    @property
    def p10(self) -> dict[str, float]:
        return self._q(0)

    @property
    def p50(self) -> dict[str, float]:
        return self._q(1)

    @property
    def p90(self) -> dict[str, float]:
        return self._q(2)

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "seed": self.seed,
            "currency": self.currency,
            "ranges": {
                k: {"dist": d.describe(), "basis": d.basis} for k, d in sorted(self.ranges.items())
            },
            "percentiles": {
                k: {"p10": p10, "p50": p50, "p90": p90}
                for k, (p10, p50, p90) in zip(
                    self.quantiles,
                    zip(self.p10.values(), self.p50.values(), self.p90.values(), strict=True),
                    strict=True,
                )
                if not math.isnan(p50)
            },
        }

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        p10, p50, p90 = self.p10, self.p50, self.p90
        return pd.DataFrame(
            [
                {
                    "output": k,
                    "label": OUTPUTS[k][0],
                    "p10": p10[k],
                    "p50": p50[k],
                    "p90": p90[k],
                    "unit": OUTPUTS[k][1].replace("USD", self.currency),
                }
                for k in self.quantiles
            ]
        )


@dataclass(frozen=True)
class SensitivityRow:
    """One bar of a tornado chart: ``output`` with ``input`` at its low and its high value."""

    input: str
    low_output: float
    high_output: float
    low_input: float
    high_input: float
    base_output: float

    @property
    def swing(self) -> float:
        return abs(self.high_output - self.low_output)

    @property
    def label(self) -> str:
        return INPUT_LABELS.get(self.input, self.input)


#: Inputs that belong to one device (its price, its power, its simulated load and speed): two
#: devices draw them independently. Every other input is an assumption both share (facility
#: power price, PUE, colocation, life, financing, network parts): one draw serves both.
DEVICE_INPUTS = frozenset(
    {
        "card_price",
        "server_price",
        "idle_power_w",
        "tdp_w",
        "host_power_w",
        "utilization",
        "output_tokens_per_s",
        "input_tokens_per_s",
        "requests_per_s",
    }
)
#: Inputs that draw from another input's stream: a device's input tokens/s and requests/s
#: scale with its output tokens/s (one performance draw moves all three).
STREAM_OF = {"input_tokens_per_s": "output_tokens_per_s", "requests_per_s": "output_tokens_per_s"}


def draw_stream(name: str, device: str, seed: int, n: int) -> np.ndarray:
    """``n`` uniform draws for input ``name``: the stream ``SeedSequence(seed,
    spawn_key=(crc32(name),))`` of a shared assumption, or ``(crc32(name), crc32(device))``
    for a device-specific input (``DEVICE_INPUTS``) of a named ``device``."""
    name = STREAM_OF.get(name, name)
    key: tuple[int, ...] = (zlib.crc32(name.encode()),)
    if device and name in DEVICE_INPUTS:
        key = (*key, zlib.crc32(device.encode()))
    ss = np.random.SeedSequence(seed, spawn_key=key)
    return np.random.default_rng(ss).random(n)


def monte_carlo(
    inputs: CostInputs, ranges: Mapping[str, Dist], n: int = 2000, seed: int = 0
) -> TcoUncertainty:
    """Sample every ranged input ``n`` times and report P10/P50/P90 of each output (USD).

    Inputs without a range keep their base value. Each input draws from its own stream
    (``draw_stream``): shared assumptions (facility, network, life) by the input's name alone,
    device-specific inputs (``DEVICE_INPUTS``: prices of cards and servers, power, utilization,
    throughput) by name and ``inputs.device``, so two devices' server prices draw independently
    while their power price is the same draw. Results are identical for a seed and one input's
    draws do not depend on which others are ranged. Samples are clipped to each input's bounds
    (a lognormal utilization stays <= 1).
    """
    if not isinstance(n, int) or n < 1:
        raise AccelsimError(f"Monte Carlo needs a positive number of draws (got {n!r})")
    check_ranges(inputs, ranges)
    chosen = dict(ranges)
    fx = discrete_inputs(inputs)
    values: dict[str, Any] = {k: np.float64(v) for k, v in inputs.base_values().items()}
    for name in sorted(chosen):
        draws = chosen[name].ppf(draw_stream(name, inputs.device, seed, n))
        lo, hi = INPUT_BOUNDS[name]
        values[name] = np.clip(
            draws, lo if lo is not None else -np.inf, hi if hi is not None else np.inf
        )
    if "tdp_w" in chosen or "idle_power_w" in chosen:
        values["idle_power_w"] = np.minimum(values["idle_power_w"], values["tdp_w"])
    raw = cost_values(values, fx)
    quantiles: dict[str, tuple[float, float, float]] = {}
    samples: dict[str, np.ndarray] = {}
    for key in OUTPUTS:
        arr = np.broadcast_to(np.asarray(raw[key], dtype=float), (n,))
        samples[key] = arr
        if np.isnan(arr).all():
            quantiles[key] = (math.nan, math.nan, math.nan)
        elif (arr == arr[0]).all():  # a constant (inf included: no draw moves it)
            quantiles[key] = (float(arr[0]),) * 3
        else:
            p = np.percentile(arr, [10, 50, 90])
            quantiles[key] = (float(p[0]), float(p[1]), float(p[2]))
    return TcoUncertainty(n, seed, chosen, quantiles, samples)


def default_output(inputs: CostInputs) -> str:
    """The output sensitivity ranks by: $/M output tokens, else $/M input, else $/card-hour."""
    if inputs.output_tokens_per_s:
        return "usd_per_mtok_output"
    if inputs.input_tokens_per_s:
        return "usd_per_mtok_input"
    return "per_card_hour"


def sensitivity(
    inputs: CostInputs, ranges: Mapping[str, Dist], output: str | None = None
) -> list[SensitivityRow]:
    """One-at-a-time swings of ``output`` (default $/M output tokens, else $/card-hour),
    largest first: each ranged input at its low and its high value, the others at base."""
    output = output or default_output(inputs)
    if output not in OUTPUTS:
        raise AccelsimError(f"unknown TCO output {output!r} (known: {', '.join(OUTPUTS)})")
    check_ranges(inputs, ranges)
    chosen = dict(ranges)
    names = sorted(chosen)
    if not names:
        return []
    base = inputs.base_values()
    m = len(names)
    values: dict[str, Any] = {k: np.full(2 * m + 1, v) for k, v in base.items()}
    for i, name in enumerate(names):
        values[name][2 * i] = chosen[name].low
        values[name][2 * i + 1] = chosen[name].high
    values["idle_power_w"] = np.minimum(values["idle_power_w"], values["tdp_w"])
    res = np.broadcast_to(
        np.asarray(cost_values(values, discrete_inputs(inputs))[output], dtype=float), (2 * m + 1,)
    )
    rows = [
        SensitivityRow(
            name,
            float(res[2 * i]),
            float(res[2 * i + 1]),
            chosen[name].low,
            chosen[name].high,
            float(res[-1]),
        )
        for i, name in enumerate(names)
    ]
    rows.sort(key=lambda r: (-r.swing if not math.isnan(r.swing) else 0.0, r.input))
    return rows


@dataclass(frozen=True)
class RangedTco(TcoResult):
    """A point estimate (``TcoResult``) with the ranges of its inputs: what ``monte_carlo`` draws
    and ``sensitivity`` swings between (``accelsim.run.pricing.estimate_tco`` returns one)."""

    ranges: Mapping[str, Dist] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_ranges(self.inputs, self.ranges)

    @classmethod
    def of(cls, result: TcoResult, ranges: Mapping[str, Dist]) -> RangedTco:
        """``result`` with ``ranges``."""
        return cls(
            result.inputs, result.values, result.network, result.currency, result.fx_per_usd, ranges
        )

    def with_ranges(self, ranges: Mapping[str, Dist]) -> RangedTco:
        """A copy whose ``ranges`` are extended (and overridden) by ``ranges``."""
        return replace(self, ranges={**self.ranges, **ranges})

    def monte_carlo(
        self, n: int = 2000, seed: int = 0, ranges: Mapping[str, Dist] | None = None
    ) -> TcoUncertainty:
        """P10/P50/P90 of every output in the result's currency; ``ranges`` (default: the
        result's own) say what is drawn."""
        out = monte_carlo(self.inputs, self.ranges if ranges is None else ranges, n, seed)
        return replace(out, currency=self.currency, fx_per_usd=self.fx_per_usd)

    def sensitivity(
        self, output: str | None = None, ranges: Mapping[str, Dist] | None = None
    ) -> list[SensitivityRow]:
        """One-at-a-time swings of ``output`` (USD) over ``ranges`` (default: the result's own)."""
        return sensitivity(self.inputs, self.ranges if ranges is None else ranges, output)

    def as_dict(self) -> dict[str, Any]:
        """``TcoResult.as_dict`` with the ranges among the inputs."""
        out = super().as_dict()
        out["inputs"]["ranges"] = {
            k: d.describe() + (f" ({d.basis})" if d.basis else "")
            for k, d in sorted(self.ranges.items())
        }
        return out
