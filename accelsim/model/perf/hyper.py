"""DeepSeek-V4's manifold-constrained hyper-connections on one rank, per decoder layer (op class
``hyper_connections``).

The residual stream is ``n`` copies of ``H`` (``HyperConnectionSpec.streams``). Each layer has
two hyper-connection *sites*, one around attention and one around the FFN (vLLM
``DeepseekV4DecoderLayer``); at each, per token:

- the **map**: an FP32 projection of the flattened streams, ``(2+n) n x n H`` weights
  (``HyperConnectionSpec.layer_params``, half per site), ``2 (2+n) n n H`` FLOPs, its weights
  read once per site in ``Roofline.wb_of["hyper_connections"]`` (FP32 as shipped) at the
  card's GEMM rate for the compute dtype (optimistic for FP32 math; the map is a few hundred
  thousand weights, under 1 % of a layer's FLOPs);
- the **Sinkhorn** normalization of the ``n x n`` mixing matrix: ``sinkhorn_iters`` passes,
  each priced as elementwise HBM traffic (read + write ``n x n`` FP32: ``8 n^2`` B per pass, an
  unfused upper bound);
- the **mixing**: the pre-mix reads the ``n`` streams to form the sublayer's input, the
  post-mix reads the ``n`` streams and writes them back updated with the sublayer's output:
  ``3 n H a`` (the sublayer input's write and output's read are the residual add + RMSNorm
  term every layer already carries, ``accelsim.model.perf.roofline``).

Kernels: ``K_HC`` per site (a fused pre-mix and a post-mix; assumption). Hidden states are
replicated on the ``tp`` ranks of a group between the all-reduces, so every rank does all of
it. Not priced: the head's map that collapses the streams once per iteration (``n x n H``, one
per model) and the per-stream RMSNorm statistics inside the map (folded into its read).
"""

from __future__ import annotations

from accelsim.catalog.workloads import HyperConnectionSpec
from accelsim.model.perf.ops import K_HC, Group, Ops
from accelsim.model.perf.roofline import Roofline

__all__ = ["HyperConnections"]


class HyperConnections:
    """The two hyper-connection sites of one layer on one rank (see the module docstring)."""

    __slots__ = ("flops_tok", "params", "roof", "traffic_tok")

    def __init__(self, spec: HyperConnectionSpec, roof: Roofline) -> None:
        n, h = spec.streams, roof.h
        self.roof = roof
        mix = (2 + n) * n
        self.params = 2.0 * mix * n * h  # both sites
        self.flops_tok = 2.0 * self.params
        sinkhorn = spec.sinkhorn_iters * 8.0 * n * n
        self.traffic_tok = 2.0 * (3.0 * n * h * roof.act + sinkhorn)

    def add(self, ops: Ops, g: Group) -> None:
        """Both sites over group ``g``'s tokens, into ``hyper_connections``."""
        roof = self.roof
        r = roof.rates
        flops = self.flops_tok * g.tokens
        weights = self.params * roof.wb_of["hyper_connections"]
        ops.add(
            "hyper_connections",
            compute_s=flops / r.gemm_rate(g.tokens),
            memory_s=weights / r.hbm,
            kernels=2 * K_HC,
            launch_s=r.launch_s,
            flops=flops,
            hbm=weights,
        )
        roof.elementwise(ops, "hyper_connections", self.traffic_tok * g.tokens)
