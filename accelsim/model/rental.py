"""Cloud rental: ``rate x cards x hours`` and its $/M tokens (pure: numbers in).

With a throughput, $/M tokens charge *all* of the rental to the tokens named (DeepSeek's day-6
convention, reference/tco.md section 7): output, input, or input + output (blended); three
views of one cost, not a split.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from accelsim.errors import AccelsimError
from accelsim.units import HOURS_PER_YEAR

__all__ = ["RentalCost", "rental_cost"]


@dataclass(frozen=True)
class RentalCost:
    """Renting ``cards`` cards at ``rate_per_card_hour`` USD for ``hours`` hours."""

    rate_per_card_hour: float
    cards: float
    hours: float
    output_tokens_per_s: float | None = None
    input_tokens_per_s: float | None = None

    @property
    def per_hour_usd(self) -> float:
        return self.rate_per_card_hour * self.cards

    @property
    def total_usd(self) -> float:
        return self.per_hour_usd * self.hours

    @property
    def per_day_usd(self) -> float:
        return self.per_hour_usd * 24.0

    @property
    def per_year_usd(self) -> float:
        return self.per_hour_usd * HOURS_PER_YEAR

    def _per_mtok(self, tokens_per_s: float | None) -> float:
        if not tokens_per_s:
            return math.nan
        return self.per_hour_usd / (tokens_per_s * 3600.0) * 1e6

    @property
    def usd_per_mtok_output(self) -> float:
        """All rental cost over output tokens."""
        return self._per_mtok(self.output_tokens_per_s)

    @property
    def usd_per_mtok_input(self) -> float:
        return self._per_mtok(self.input_tokens_per_s)

    @property
    def usd_per_mtok_blended(self) -> float:
        if not (self.output_tokens_per_s and self.input_tokens_per_s):
            return math.nan
        return self._per_mtok(self.output_tokens_per_s + self.input_tokens_per_s)

    def as_dict(self) -> dict[str, Any]:
        out = {
            "rate_per_card_hour": self.rate_per_card_hour,
            "cards": self.cards,
            "hours": self.hours,
            "per_hour": self.per_hour_usd,
            "total": self.total_usd,
            "per_day": self.per_day_usd,
            "per_year": self.per_year_usd,
            "usd_per_mtok_output": self.usd_per_mtok_output,
            "usd_per_mtok_input": self.usd_per_mtok_input,
            "usd_per_mtok_blended": self.usd_per_mtok_blended,
        }
        return {k: v for k, v in out.items() if not (isinstance(v, float) and math.isnan(v))}


def rental_cost(
    rate_per_card_hour: float,
    cards: float,
    *,
    hours: float = 24.0,
    output_tokens_per_s: float | None = None,
    input_tokens_per_s: float | None = None,
) -> RentalCost:
    """Cloud rental: ``rate x cards x hours``; with throughput, $/M tokens (all cost per token).

    ``cards`` may be fractional (an average fleet, e.g. DeepSeek's 226.75 nodes x 8).
    """
    for name, value in (("rental rate", rate_per_card_hour), ("cards", cards), ("hours", hours)):
        if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise AccelsimError(f"{name} cannot be negative (got {value!r})")
    for name, value in (
        ("output tokens/s", output_tokens_per_s),
        ("input tokens/s", input_tokens_per_s),
    ):
        if value is not None and (not math.isfinite(value) or value < 0):
            raise AccelsimError(f"{name} cannot be negative (got {value!r})")
    return RentalCost(
        float(rate_per_card_hour),
        float(cards),
        float(hours),
        output_tokens_per_s,
        input_tokens_per_s,
    )
