"""Which deployment is cheaper, with what probability, and what would flip it (pure math).

One joint Monte Carlo over several devices' cost inputs (``accelsim.model.cost.CostInputs``
with the ranges of ``accelsim.model.uncertainty``): every device is drawn by
``accelsim.model.uncertainty.monte_carlo`` with the same seed, whose streams make the draws
joint — an assumption both devices share (power price, PUE, colocation, life, financing,
network parts) is the *same* uniform draw for both, mapped through each device's own range
(so equal ranges give equal values), while a device-specific input (``DEVICE_INPUTS``: card or
server price, power, utilization, throughput) draws from a stream of its own device. The
verdict is read off the draws:

- ``winner``: the device most often cheapest; ``p_winner`` the share of draws in which it is
  (for two devices, P(A cheaper than B));
- the *cost ratio* ``runner_up / winner`` per draw (``runner_up``: the other device of two, else
  the one of lowest median cost among the rest) and its P10/P50/P90; ``ratio > 1`` is a draw in
  which the winner is cheaper;
- ``flips``, a tornado of the ratio: each ranged input is moved alone (others at base) to its
  low and high value (``Dist.low``/``high``), a shared assumption for both devices at once;
  the inputs are ranked by the swing of ``log(ratio)``, and for each of the largest the
  break-even value at which the ratio is 1 (the winner at base values changes) is found by
  bisection between the base value and the input's bound (``INPUT_BOUNDS``; ``BRACKET`` x the
  base where it has none). The cost is monotone in each input, so there is at most one. A
  flip whose break-even lies outside those bounds has ``break_even`` None.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from accelsim.errors import AccelsimError
from accelsim.model.cost import INPUT_BOUNDS, INPUT_LABELS, CostInputs, cost_values, discrete_inputs
from accelsim.model.uncertainty import DEVICE_INPUTS, Dist, TcoUncertainty, monte_carlo

__all__ = ["BRACKET", "Flip", "JointVerdict", "Priced", "joint_verdict"]

#: Upper end of the break-even search for an input without an upper bound: this many times its
#: base value (a price 100x the catalog's is no longer a what-if a buyer meets).
BRACKET = 100.0
#: Bisection steps (the bracket shrinks by 2**-60: far below any figure printed).
_STEPS = 60

_UNITS = {
    "card_price": "USD",
    "server_price": "USD",
    "nic_price": "USD",
    "switch_price": "USD",
    "optics_per_port": "USD",
    "cable_per_port": "USD",
    "storage_per_node": "USD",
    "installation_fraction": "",
    "idle_power_w": "W",
    "tdp_w": "W",
    "host_power_w": "W",
    "utilization": "",
    "pue": "",
    "power_price_per_kwh": "USD/kWh",
    "colocation_per_kw_month": "USD/kW-month",
    "years": "years",
    "residual_fraction": "",
    "maintenance_fraction_per_year": "1/yr",
    "ops_fte_per_node": "FTE/server",
    "ops_fte_cost_per_year": "USD/FTE-yr",
    "cost_of_capital": "1/yr",
    "quote_fx_per_usd": "per USD",
    "output_tokens_per_s": "tokens/s",
    "input_tokens_per_s": "tokens/s",
    "requests_per_s": "req/s",
}


@dataclass(frozen=True)
class Priced:
    """One device's cost inputs, the ranges drawn for them, and (optionally) the what-if key
    each input is set by (``{"server_price": "prices.international-2025.servers.x"}``)."""

    device: str
    inputs: CostInputs
    ranges: Mapping[str, Dist]
    keys: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Flip:
    """One bar of the ratio's tornado and the value of its input at which the winner changes.

    ``device`` is None for an assumption both devices share. ``flips_when`` says on which side
    of ``break_even`` the runner-up becomes the cheaper (``"below"``/``"above"``)."""

    key: str
    input: str
    device: str | None
    base: float
    low: float
    high: float
    ratio_at_low: float
    ratio_at_high: float
    break_even: float | None
    flips_when: str | None
    unit: str

    @property
    def swing(self) -> float:
        return abs(math.log(self.ratio_at_high) - math.log(self.ratio_at_low))

    @property
    def label(self) -> str:
        who = f"{self.device} " if self.device else ""
        return who + INPUT_LABELS.get(self.input, self.input)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "input": self.input,
            "device": self.device,
            "label": self.label,
            "base": self.base,
            "low": self.low,
            "high": self.high,
            "ratio_at_low": self.ratio_at_low,
            "ratio_at_high": self.ratio_at_high,
            "break_even": self.break_even,
            "flips_when": self.flips_when,
            "unit": self.unit,
        }


@dataclass(frozen=True)
class JointVerdict:
    """The joint Monte Carlo's answer (see the module docstring)."""

    output: str
    n: int
    seed: int
    devices: tuple[str, ...]
    draws: Mapping[str, TcoUncertainty]
    p_cheapest: Mapping[str, float]
    winner: str
    runner_up: str
    ratio: np.ndarray = field(repr=False)
    base_ratio: float = math.nan
    flips: tuple[Flip, ...] = ()

    @property
    def p_winner(self) -> float:
        return self.p_cheapest[self.winner]

    @property
    def ratio_quantiles(self) -> tuple[float, float, float]:
        p = np.percentile(self.ratio, [10, 50, 90])
        return float(p[0]), float(p[1]), float(p[2])

    def quantiles(self, device: str) -> tuple[float, float, float]:
        """P10/P50/P90 of ``device``'s output over the joint draws (USD)."""
        q = self.draws[device].quantiles[self.output]
        return q[0], q[1], q[2]

    def as_dict(self) -> dict[str, Any]:
        p10, p50, p90 = self.ratio_quantiles
        return {
            "metric": self.output,
            "winner": self.winner,
            "runner_up": self.runner_up,
            "p_winner": self.p_winner,
            "p_cheapest": dict(self.p_cheapest),
            "ratio_of": [self.runner_up, self.winner],
            "ratio_base": self.base_ratio,
            "ratio_p10": p10,
            "ratio_p50": p50,
            "ratio_p90": p90,
            "n": self.n,
            "seed": self.seed,
            "flips": [f.as_dict() for f in self.flips],
        }


def joint_verdict(
    priced: Sequence[Priced],
    output: str = "usd_per_mtok_output",
    n: int = 2000,
    seed: int = 0,
    top: int = 5,
) -> JointVerdict:
    """The joint Monte Carlo of ``priced`` (two or more devices with distinct names), its
    winner on ``output`` (lower is better), the ratio's percentiles and the ``top`` flips."""
    names = [p.device for p in priced]
    if len(names) < 2 or len(set(names)) != len(names) or not all(names):
        raise AccelsimError(f"a verdict needs two or more distinct named devices (got {names})")
    for p in priced:
        if p.inputs.device != p.device:
            raise AccelsimError(
                f"cost inputs of {p.inputs.device!r} given as {p.device!r}: the device-specific"
                " draws are keyed by the inputs' device"
            )
    draws = {p.device: monte_carlo(p.inputs, p.ranges, n, seed) for p in priced}
    cost = np.vstack([np.asarray(draws[d].samples[output], dtype=float) for d in names])
    if np.isnan(cost).any():
        raise AccelsimError(f"a verdict on {output} needs it for every device and draw")
    cheapest = np.argmin(cost, axis=0)
    p_cheapest = {d: float(np.mean(cheapest == i)) for i, d in enumerate(names)}
    winner = max(names, key=lambda d: (p_cheapest[d], -names.index(d)))
    rest = [d for d in names if d != winner]
    runner_up = min(rest, key=lambda d: (draws[d].quantiles[output][1], names.index(d)))
    by = {p.device: p for p in priced}
    ratio = cost[names.index(runner_up)] / cost[names.index(winner)]
    base = _ratio(by[runner_up], by[winner], output, {}, {})
    flips = _flips(by[winner], by[runner_up], output, base)[: max(top, 0)]
    return JointVerdict(
        output, n, seed, tuple(names), draws, p_cheapest, winner, runner_up, ratio, base, flips
    )


def _cost(p: Priced, output: str, changes: Mapping[str, float]) -> float:
    values: dict[str, Any] = {k: np.float64(v) for k, v in p.inputs.base_values().items()}
    values.update({k: np.float64(v) for k, v in changes.items()})
    values["idle_power_w"] = min(values["idle_power_w"], values["tdp_w"])
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(cost_values(values, discrete_inputs(p.inputs))[output])


def _ratio(
    runner: Priced,
    winner: Priced,
    output: str,
    runner_changes: Mapping[str, float],
    winner_changes: Mapping[str, float],
) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(
            np.float64(_cost(runner, output, runner_changes))
            / np.float64(_cost(winner, output, winner_changes))
        )


def _flips(winner: Priced, runner: Priced, output: str, base: float) -> tuple[Flip, ...]:
    """Every ranged input of the pair as a tornado bar with its break-even, largest first."""
    moves: list[tuple[str, str | None, Priced | None, float, float, float]] = []
    for owner in (winner, runner):
        for name, dist in sorted(owner.ranges.items()):
            other = runner if owner is winner else winner
            theirs = other.ranges.get(name)
            shared = (
                name not in DEVICE_INPUTS
                and theirs is not None
                and getattr(other.inputs, name) == getattr(owner.inputs, name)
            )
            if shared and owner is runner:
                continue  # counted once, from the winner's side
            moves.append(
                (
                    name,
                    None if shared else owner.device,
                    None if shared else owner,
                    float(getattr(owner.inputs, name)),
                    dist.low,
                    dist.high,
                )
            )

    def ratio_at(name: str, who: Priced | None, x: float) -> float:
        wc = {name: x} if who is None or who is winner else {}
        rc = {name: x} if who is None or who is runner else {}
        return _ratio(runner, winner, output, rc, wc)

    out = []
    for name, device, who, base_value, low, high in moves:
        r_low, r_high = ratio_at(name, who, low), ratio_at(name, who, high)
        if r_low == r_high:
            continue
        key = (who or winner).keys.get(name) or f"{device or 'shared'}.{name}"
        be, side = _break_even(lambda x, n=name, w=who: ratio_at(n, w, x) - 1.0, name, base_value)
        out.append(
            Flip(key, name, device, base_value, low, high, r_low, r_high, be, side, _UNITS[name])
        )
    out.sort(key=lambda f: (-f.swing, f.key))
    return tuple(out)


def _break_even(f: Any, name: str, base: float) -> tuple[float | None, str | None]:
    """The value of input ``name`` where ``f`` (ratio - 1, positive at ``base`` when the
    winner is cheaper there) crosses zero, by bisection toward each bound in turn; and on which
    side of it the runner-up is cheaper."""
    lo_bound, hi_bound = INPUT_BOUNDS[name]
    f0 = f(base)
    if f0 == 0.0:
        return base, None
    lo = lo_bound if lo_bound is not None else -BRACKET * abs(base)
    hi = hi_bound if hi_bound is not None else BRACKET * abs(base)
    for end, side in ((lo, "below"), (hi, "above")):
        if end == base:
            continue
        f_end = f(end)
        if math.isnan(f_end) or (f_end > 0) == (f0 > 0):
            continue
        a, b = base, end
        for _ in range(_STEPS):
            mid = 0.5 * (a + b)
            fm = f(mid)
            if not math.isnan(fm) and (fm > 0) == (f0 > 0):
                a = mid
            else:
                b = mid
        return 0.5 * (a + b), side if f0 > 0 else ("above" if side == "below" else "below")
    return None, None
