"""One decoder layer on one rank: attention, then the dense FFN or the MoE block, then the TP
all-reduces.

- **attention** — ``accelsim.model.perf.attention`` (MLA, GQA, MHA), or
  ``accelsim.model.perf.sparse`` for DeepSeek's sparse and compressed kinds (DSA, V4's
  window/CSA/HCA layers, one object per compression ratio: ``price(g, is_moe, ratio)``) with the
  lightning indexer as its own op class;
- **hyper-connections** — ``accelsim.model.perf.hyper`` on a model that has them (DeepSeek-V4);
- **dense FFN** — SwiGLU GEMMs (``dense_ffn_params``) split ``tp`` ways; its elementwise kernels
  per token (conventions in ``accelsim.model.perf.roofline``): the FFN input's residual add +
  RMSNorm (``4 H a``) and quantisation (``H q``), SiLU-and-mul over the rank's width ``w``
  (read ``2 w a``, write ``w a``) and the quantisation of its output (``w q``), all into
  ``dense_ffn``;
- **MoE block** — ``accelsim.model.perf.moe``;
- **TP collectives** — two all-reduces of the group's activations per layer when ``tp > 1``
  (after attention and after the FFN/MoE), over the fabric the ``tp`` ranks share.
"""

from __future__ import annotations

from accelsim.catalog.workloads import ModelArch
from accelsim.dtypes import Precision
from accelsim.model.perf.attention import Attention
from accelsim.model.perf.collectives import Fabrics, all_reduce
from accelsim.model.perf.hyper import HyperConnections
from accelsim.model.perf.moe import MoE
from accelsim.model.perf.ops import K_COLL, K_FFN, Group, LeanOps, Ops
from accelsim.model.perf.roofline import Roofline
from accelsim.model.perf.sparse import SparseAttention
from accelsim.model.plan import ParallelPlan
from accelsim.model.routing import RoutingModel

__all__ = ["ATTENTION_CLASSES", "ROUTED_CLASSES", "Layer"]

#: The op classes a layer's attention family writes (``Layer.add_attention``); the rest of
#: the layer (``Layer.add_rest``) writes none of them.
ATTENTION_CLASSES = ("attention", "indexer")
#: The op classes an MoE layer's routed part writes (``Layer.add_routed``); its token-only
#: part (``Layer.add_token_rest``) writes none of them.
ROUTED_CLASSES = ("routed_experts", "ep_dispatch", "ep_combine")


class Layer:
    """The layers of ``model`` on one rank of ``plan``: ``price(g, is_moe, ratio)`` is one
    dense or MoE layer compressed at ``ratio`` over group ``g`` (see the module docstring)."""

    def __init__(
        self,
        model: ModelArch,
        plan: ParallelPlan,
        prec: Precision,
        roof: Roofline,
        fabrics: Fabrics,
        routing: RoutingModel,
    ) -> None:
        self.roof, self.fabrics, self.tp = roof, fabrics, plan.tp
        self.attention: Attention | SparseAttention
        self._by_ratio: dict[int, SparseAttention] = {}
        if model.attention.kind in ("dsa", "compressed"):
            ratios = model.attention.compress_ratios or (0,)
            self._by_ratio = {
                r: SparseAttention(model, plan.tp, prec, roof, r) for r in sorted(set(ratios))
            }
            self.attention = self._by_ratio[ratios[-1] if model.mtp_modules else ratios[0]]
        else:
            self.attention = Attention(model, plan.tp, prec, roof)
        hc = model.hyper_connections
        self.hyper = HyperConnections(hc, roof) if hc is not None else None
        self.moe = MoE(model, plan, prec, roof, fabrics, routing) if model.moe is not None else None
        self.ffn_params = model.dense_ffn_params
        width = (model.dense_intermediate or 0) / plan.tp
        self.ffn_ew = roof.norm + roof.h * roof.quant + width * (3.0 * roof.act + roof.quant)

    def price(self, g: Group, is_moe: bool, ratio: int | None = None, lean: bool = False) -> Ops:
        """One layer over group ``g``: an MoE layer when ``is_moe``, else a dense one, its
        attention compressed at ``ratio`` (``None``: ``self.attention``, the MTP layer's kind
        on a model with compression); ``lean``: into a ``LeanOps`` (totals only)."""
        ops = LeanOps() if lean else Ops()
        self.add_attention(ops, g, ratio)
        self.add_rest(ops, g, is_moe)
        return ops

    def add_attention(self, ops: Ops, g: Group, ratio: int | None = None) -> None:
        """The layer's attention (``ATTENTION_CLASSES``: the only part that reads the group's
        context sums and pairs) over group ``g``, compressed at ``ratio`` (see ``price``)."""
        self.attention_of(ratio).add(ops, g)

    def attention_of(self, ratio: int | None = None) -> Attention | SparseAttention:
        """The attention object of a layer compressed at ``ratio`` (see ``price``)."""
        return self.attention if ratio is None else self._by_ratio.get(ratio, self.attention)

    def add_rest(self, ops: Ops, g: Group, is_moe: bool) -> None:
        """Everything of the layer after its attention (hyper-connections, dense FFN or MoE
        block, TP all-reduces): a function of the group's token counts only (``tokens``; an MoE
        block also ``dec_seqs``, ``q_per_seq`` and ``replica_tokens``), never of its context
        sums or pairs (``accelsim.model.perf.layer_table``): ``add_token_rest``, then on an
        MoE layer ``add_routed`` (disjoint classes, so each class's terms keep their order)."""
        self.add_token_rest(ops, g, is_moe)
        if is_moe:
            self.add_routed(ops, g)

    def add_routed(self, ops: Ops, g: Group) -> None:
        """An MoE layer's routed experts and their EP collectives (``MoE.add_routed``: the
        part of ``add_rest`` that reads more than ``tokens``)."""
        assert self.moe is not None
        self.moe.add_routed(ops, g)

    def add_token_rest(self, ops: Ops, g: Group, is_moe: bool) -> None:
        """The part of ``add_rest`` that reads only the group's ``tokens``: hyper-connections,
        the dense FFN or the MoE block's router and shared experts (``MoE.add_tokens``), the
        TP all-reduces."""
        if self.hyper is not None:
            self.hyper.add(ops, g)
        roof, tp = self.roof, self.tp
        r = roof.rates
        if is_moe:
            assert self.moe is not None
            self.moe.add_tokens(ops, g.tokens)
        else:
            roof.gemm(ops, "dense_ffn", self.ffn_params / tp, g.tokens, K_FFN)
            roof.elementwise(ops, "dense_ffn", self.ffn_ew * g.tokens)
        if tp > 1:
            size = g.tokens * roof.h * roof.act
            t = all_reduce(self.fabrics.link(tp), size, tp)
            ops.add(
                "tp_collectives",
                network_s=2 * t,
                kernels=2 * K_COLL,
                launch_s=r.launch_s,
                net=2 * 2 * size * (tp - 1) / tp,
            )
