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


class Linear:
    """A roofline-shaped stub: fixed cost + per sequence + per context token + per prefill
    token + per prefill attention pair (seconds each)."""

    def __init__(
        self,
        k: float = 1.0,
        coefficients: tuple[float, float, float, float, float] = (0.005, 2e-4, 2e-8, 2e-5, 1e-9),
    ) -> None:
        self.tokens_per_decode_step = k
        self.c = coefficients

    def iteration_time(self, b) -> float:
        fixed, per_seq, per_ctx, per_prefill, per_pair = self.c
        return (
            fixed
            + per_seq * b.decode_seqs
            + per_ctx * b.decode_context_tokens
            + per_prefill * b.prefill_tokens
            + per_pair * b.prefill_attention_pairs
        )
