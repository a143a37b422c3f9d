"""Timing-model stubs for engine tests: each prices an iteration by a simple closed form, so
that queueing theory or hand arithmetic gives the expected result."""

from __future__ import annotations

import numpy as np


class Const:
    """Every iteration takes ``s`` seconds."""

    tokens_per_decode_step = 1.0

    def __init__(self, s: float) -> None:
        self.s = s

    def iteration_time(self, batch) -> float:
        return self.s


class Expo:
    """Exponential service times from a seeded generator (never cached)."""

    tokens_per_decode_step = 1.0
    cacheable = False

    def __init__(self, mean: float, seed: int) -> None:
        self.mean = mean
        self.rng = np.random.default_rng(seed)

    def iteration_time(self, batch) -> float:
        return float(self.rng.exponential(self.mean))
