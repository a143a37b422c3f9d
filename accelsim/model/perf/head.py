"""The LM head and sampling of one iteration on one rank.

- **embedding / LM head** — a ``vocab x H`` GEMM split ``tp`` ways, its weights 16-bit, over
  the logit rows: every decode query (``1 + draft tokens`` per sequence) and the last token of
  each prefill chunk; it reads the group's activations once;
- **sampling** — reads the rank's FP32 logits (``4 B x rows x vocab / tp``).
"""

from __future__ import annotations

from accelsim.model.perf.ops import K_LM, K_SAMPLE, Group, Ops
from accelsim.model.perf.roofline import Roofline

__all__ = ["LMHead"]


class LMHead:
    """The LM head and sampling over a ``vocab``-row vocabulary on one rank of a ``tp``-way
    group."""

    __slots__ = ("roof", "tp", "vocab")

    def __init__(self, vocab: int, tp: int, roof: Roofline) -> None:
        self.vocab, self.tp, self.roof = vocab, tp, roof

    def add(self, ops: Ops, g: Group) -> None:
        """Logits and sampling for group ``g``'s logit rows."""
        roof, tp = self.roof, self.tp
        r = roof.rates
        rows = g.logit_rows
        lm = self.vocab * roof.h / tp
        flops = 2.0 * lm * rows
        hbm = lm * roof.embed_bytes + g.tokens * roof.h * roof.act
        ops.add(
            "embedding_lm_head",
            compute_s=flops / r.gemm_rate(rows),
            memory_s=hbm / r.hbm,
            kernels=K_LM,
            launch_s=r.launch_s,
            flops=flops,
            hbm=hbm,
        )
        logits = rows * self.vocab / tp * 4.0
        ops.add(
            "sampling", memory_s=logits / r.hbm, kernels=K_SAMPLE, launch_s=r.launch_s, hbm=logits
        )
