"""Host dispatch by execution mode: what the host costs an iteration that does not run as one
captured graph.

A serving framework runs a forward pass either as a captured graph (CUDA graph; ACL graph,
npugraph or torchair on Ascend), which the host launches once, or eagerly, the host dispatching
every op in turn; vLLM's ``piecewise`` mode captures the pass between the attention ops, which
stay eager. The host runs ahead of the device, so an iteration takes the longer of the two:
``max(device seconds, host seconds)`` — a host-bound iteration leaves the device idle for the
difference (vLLM-Ascend issue #9404, K14 in ``devices/frameworks/vllm-ascend.yaml``: one
transformer block 832 us on the device timeline, 591 us of it idle, under the default
piecewise graph; fixed by ``cudagraph_mode: FULL_DECODE_ONLY``).

Which regime a batch gets (``HostDispatch.regime``), for ``tokens`` the busiest attention-DP
group holds (vLLM pads every DP rank to the same shape) and whether it holds a prefill:

- ``none``: eager;
- ``full``: graph up to the largest captured batch (``max_tokens``), eager above;
- ``full_decode_only``: graph for decode-only batches up to ``max_tokens``, eager otherwise;
- ``piecewise``: piecewise up to ``max_tokens``, eager above;
- ``full_and_piecewise``: graph for decode-only batches, piecewise for the other batches up
  to ``max_tokens``, eager above.

Host seconds: 0 under a graph (the card's per-kernel launch, ``efficiency.kernel_launch``, is
already in every op's device time); ``attention ops x eager_op_s`` piecewise; ``all ops x
eager_op_s`` eager. The op counts are the timing model's own kernel counts per layer
(``accelsim.model.perf.ops``: ``K_ATTN`` and the rest, norms, rope and cache writes folded into
them), so they are a floor on what a framework dispatches (an assumption: a per-framework count
of dispatched ops was not found). The largest captured batch follows the framework's default
rule when a launch line lists no capture sizes (``capture_limit``): vLLM's in tokens, SGLang's in
sequences (``cuda_graph_max_bs`` by ``tp_size``, each sequence carrying its draft tokens).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from accelsim.catalog.devices import GRAPH_MODES, FrameworkExecution
from accelsim.errors import AccelsimError

__all__ = ["REGIMES", "HostDispatch", "capture_limit"]

#: What a batch runs as: one captured graph, graphs between eager attention ops, or eager.
REGIMES = ("graph", "piecewise", "eager")


def capture_limit(
    execution: FrameworkExecution,
    *,
    max_seqs_per_group: float | None = None,
    draft_tokens: int = 0,
    max_batched_tokens: float | None = None,
    ranks: int | None = None,
) -> float:
    """The largest captured batch, tokens per attention-DP group, by the framework's default
    rule (``FrameworkExecution``): vLLM's ``min(2 x max_num_seqs x (1 + draft tokens), 512)``,
    at most ``max_num_batched_tokens``; ``graph_max_tokens`` where the rule has no factor or the
    scheduler's limits are unknown. A framework that caps its capture in sequences by the
    replica's ``ranks`` (``graph_max_seqs_by_ranks``, SGLang) captures ``min(that cap,
    max_seqs_per_group)`` sequences of ``1 + draft_tokens`` query tokens each, whatever the
    prefill token budget (SGLang's capture list stops at ``cuda_graph_max_bs`` and at the
    request pool's size)."""
    seqs = execution.max_graph_seqs(ranks) if ranks is not None else None
    if seqs is not None:
        if max_seqs_per_group is not None:
            seqs = min(float(seqs), max_seqs_per_group)
        return float(seqs) * (1 + draft_tokens)
    limit = float(execution.graph_max_tokens)
    factor = execution.graph_tokens_per_seq_factor
    if factor > 0 and max_seqs_per_group is not None:
        limit = min(limit, factor * max_seqs_per_group * (1 + draft_tokens))
    if max_batched_tokens is not None:
        limit = min(limit, float(max_batched_tokens))
    return limit


@dataclass(frozen=True)
class HostDispatch:
    """The execution ``mode`` (``accelsim.catalog.devices.GRAPH_MODES``), the largest captured
    batch ``max_tokens`` (tokens per attention-DP group) and the host's seconds per op
    dispatched outside a graph, ``eager_op_s``."""

    mode: str
    max_tokens: float
    eager_op_s: float

    def __post_init__(self) -> None:
        if self.mode not in GRAPH_MODES:
            raise AccelsimError(
                f"graph mode {self.mode!r}: expected one of {', '.join(GRAPH_MODES)}"
            )
        if not (self.max_tokens >= 0 and math.isfinite(self.eager_op_s) and self.eager_op_s >= 0):
            raise AccelsimError("graph max tokens and eager op dispatch cannot be negative")

    def regime(self, tokens: float, prefill: bool) -> str:
        """``graph``, ``piecewise`` or ``eager`` for a batch of ``tokens`` per attention-DP
        group (``prefill``: it holds prefill tokens)."""
        mode, fits = self.mode, tokens <= self.max_tokens
        if mode == "none" or not fits:
            return "eager"
        if mode == "full":
            return "graph"
        if mode == "piecewise":
            return "piecewise"
        if not prefill:
            return "graph"
        return "eager" if mode == "full_decode_only" else "piecewise"

    def host_s(self, tokens: float, prefill: bool, ops: float, attention_ops: float) -> float:
        """Host seconds to dispatch one iteration: ``ops`` kernels in all, ``attention_ops`` of
        them the attention ops a piecewise graph leaves eager."""
        regime = self.regime(tokens, prefill)
        if regime == "graph":
            return 0.0
        return (attention_ops if regime == "piecewise" else ops) * self.eager_op_s
