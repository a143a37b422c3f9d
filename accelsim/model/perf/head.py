"""The LM head and sampling of one iteration on one rank.

- **embedding / LM head** — a ``vocab x H`` GEMM split ``tp`` ways, its weights 16-bit, over
  the logit rows: every decode query (``1 + draft tokens`` per sequence) and the last token of
  each prefill chunk; it reads the group's activations once;
- with an LM-head TP degree of its own (``ParallelPlan.lm_head_tp`` = ``L``, a multiple of
  ``tp``): ``k = L / tp`` attention groups pool their rows (the busiest group's rows, ``k``
  times: the bound a balanced batch reaches), each of the ``L`` ranks holds ``vocab / L`` rows
  of the head and computes them for all pooled rows; the pooled hidden states are all-gathered
  over the ``L`` ranks first (``k x rows x H`` at 2 B) and each rank's FP32 logits go back to
  their groups by an all-to-all (it keeps ``1 / k``), into ``tp_collectives``;
- **sampling** — reads the rank's FP32 logits (``4 B x rows x vocab / tp``).
"""

from __future__ import annotations

from accelsim.errors import AccelsimError
from accelsim.model.perf.collectives import Fabrics, all_gather, all_to_all
from accelsim.model.perf.ops import K_COLL, K_LM, K_SAMPLE, Group, Ops
from accelsim.model.perf.roofline import Roofline

__all__ = ["LMHead"]


class LMHead:
    """The LM head and sampling over a ``vocab``-row vocabulary on one rank of a ``tp``-way
    group; ``head_tp`` ranks share the head (default ``tp``; ``fabrics`` then prices the
    collectives)."""

    __slots__ = ("fabrics", "head_tp", "roof", "tp", "vocab")

    def __init__(
        self,
        vocab: int,
        tp: int,
        roof: Roofline,
        head_tp: int | None = None,
        fabrics: Fabrics | None = None,
    ) -> None:
        self.vocab, self.tp, self.roof = vocab, tp, roof
        self.head_tp = head_tp or tp
        self.fabrics = fabrics
        if self.head_tp != tp and fabrics is None:
            raise AccelsimError("an LM head split otherwise than tp needs the fabrics")

    def add(self, ops: Ops, g: Group) -> None:
        """Logits and sampling for group ``g``'s logit rows."""
        roof, tp = self.roof, self.tp
        r = roof.rates
        k = self.head_tp // tp
        rows = g.logit_rows * k
        lm = self.vocab * roof.h / self.head_tp
        flops = 2.0 * lm * rows
        hbm = lm * roof.embed_bytes + g.tokens * k * roof.h * roof.act
        ops.add(
            "embedding_lm_head",
            compute_s=flops / r.gemm_rate(rows),
            memory_s=hbm / r.hbm,
            kernels=K_LM,
            launch_s=r.launch_s,
            flops=flops,
            hbm=hbm,
        )
        if k > 1:
            assert self.fabrics is not None
            n = self.head_tp
            link = self.fabrics.link(n)
            gathered = rows * roof.h * roof.act
            sent = rows * self.vocab / n * 4.0 * (k - 1) / k
            ops.add(
                "tp_collectives",
                network_s=all_gather(link, gathered, n) + all_to_all(link, sent, n - 1),
                kernels=2 * K_COLL,
                launch_s=r.launch_s,
                net=gathered * (n - 1) / n + sent,
            )
        logits = g.logit_rows * self.vocab / tp * 4.0
        ops.add(
            "sampling", memory_s=logits / r.hbm, kernels=K_SAMPLE, launch_s=r.launch_s, hbm=logits
        )
