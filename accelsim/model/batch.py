"""What one forward iteration computes, as aggregates — the seam between engine and perf.

The serving engine forms batches; the timing model prices them. Neither knows the other's
internals: the engine describes an iteration with a ``BatchStats`` (aggregates only, so building
it costs O(1) per iteration however many sequences run), and an ``IterationModel`` prices it —
the roofline model (``accelsim.model.perf.model.PerfModel``) or a constant-time stub in
queueing-theory tests. ``IterationModel`` lists every member the simulator reads from its
timing model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["BatchStats", "IterationModel"]


@dataclass(frozen=True)
class BatchStats:
    """One iteration of one replica.

    - ``decode_seqs``: sequences generating their next token(s) this iteration;
    - ``decode_context_tokens``: sum of those sequences' context lengths (KV tokens read);
    - ``prefill_seqs``: sequences with a prefill chunk in this iteration;
    - ``prefill_tokens``: new prompt tokens computed (after prefix-cache hits);
    - ``prefill_attention_pairs``: causal (query, key) pairs of the prefill chunks,
      ``sum(t * (prior + (t + 1) / 2))`` over chunks of ``t`` new tokens after ``prior``
      cached/earlier tokens;
    - ``prefill_context_tokens``: sum of prior context read by prefill chunks.
    """

    decode_seqs: int = 0
    decode_context_tokens: float = 0.0
    prefill_seqs: int = 0
    prefill_tokens: int = 0
    prefill_attention_pairs: float = 0.0
    prefill_context_tokens: float = 0.0

    @property
    def tokens(self) -> int:
        """Tokens that pass through the layers (one per decode sequence, all prefill tokens)."""
        return self.decode_seqs + self.prefill_tokens

    @property
    def empty(self) -> bool:
        return self.tokens == 0

    @staticmethod
    def prefill_chunk(tokens: int, prior: int = 0) -> BatchStats:
        """A batch holding one prefill chunk of ``tokens`` new tokens after ``prior``."""
        return BatchStats(
            prefill_seqs=1,
            prefill_tokens=tokens,
            prefill_attention_pairs=tokens * (prior + (tokens + 1) / 2),
            prefill_context_tokens=float(prior),
        )

    @staticmethod
    def decode(seqs: int, context: float) -> BatchStats:
        """``seqs`` decode sequences, each with ``context`` tokens of KV cache."""
        return BatchStats(decode_seqs=seqs, decode_context_tokens=seqs * float(context))

    def __add__(self, other: BatchStats) -> BatchStats:
        return BatchStats(
            self.decode_seqs + other.decode_seqs,
            self.decode_context_tokens + other.decode_context_tokens,
            self.prefill_seqs + other.prefill_seqs,
            self.prefill_tokens + other.prefill_tokens,
            self.prefill_attention_pairs + other.prefill_attention_pairs,
            self.prefill_context_tokens + other.prefill_context_tokens,
        )


@runtime_checkable
class IterationModel(Protocol):
    """What the serving simulator (``accelsim.sim``) asks of the timing model of one replica.

    - ``tokens_per_decode_step``: the mean number of tokens a decode sequence emits per
      iteration (1 without speculative decoding; 1 + accepted drafts with MTP/EAGLE);
    - ``cacheable``: whether the simulator may price a batch once per quantized shape and reuse
      the figure (False for a stub with random service times, priced every iteration);
    - ``pipeline_stages`` (optional, 1 when absent): pipeline-parallel stages of the replica;
      the simulator then runs that many micro-batches at once, each iteration priced over all
      stages (``accelsim.sim.engine``);
    - ``peak_flops`` / ``peak_hbm_bandwidth``: of the replica's cards, the MFU and MBU
      denominators (None, or 0, when the model has none: the run then reports no MFU/MBU);
    - ``iteration_work`` and ``shape_work`` (optional): the work of a batch, given as a
      ``BatchStats`` or as its six fields (``accelsim.sim.iteration_cache``).
    """

    tokens_per_decode_step: float
    cacheable: bool
    pipeline_stages: int  # optional: the simulator reads it with a default of 1

    @property
    def peak_flops(self) -> float | None: ...

    @property
    def peak_hbm_bandwidth(self) -> float | None: ...

    def iteration_time(self, batch: BatchStats) -> float:
        """Seconds one iteration of ``batch`` takes on one replica."""
        ...

    def iteration_work(self, batch: BatchStats) -> tuple[float, float, float]:
        """``(seconds, FLOPs, HBM bytes)`` of one iteration of ``batch`` on one replica (FLOPs
        and bytes 0 when the model does not count them)."""
        ...

    def shape_work(
        self, n: int, ctx: float, pseq: int, ptok: int, pairs: float, pctx: float
    ) -> tuple[float, float, float]:
        """Optional (the simulator reads it with ``getattr``): ``iteration_work`` of
        ``BatchStats(n, ctx, pseq, ptok, pairs, pctx)``, the same figures, from the fields
        (the simulator's iteration cache then builds no ``BatchStats`` per priced shape)."""
        ...
