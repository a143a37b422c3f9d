"""One MoE block on one rank: router, shared experts, routed experts and their collectives.

- **router** — ``E x H`` GEMM, replicated, its weights 16-bit;
- **shared experts** — SwiGLU GEMMs split ``tp`` ways;
- **routed experts** — grouped GEMM per EP rank: FLOPs from the rank's (token, expert)
  assignments, weight bytes from the local experts the batch touches (each read once), GEMM
  efficiency at the mean tokens per touched expert; the slowest rank (``accelsim.model.routing``)
  sets the time;
- with ``dp > 1`` and ``ep = 1`` the MoE gathers tokens over all ``tp*dp`` ranks and
  reduce-scatters them back (``ep_dispatch``);
- **EP dispatch / combine** — all-to-all when ``ep > 1``: each rank sends its tokens to the
  distinct ranks their experts live on; traffic to ranks outside the scale-up domain crosses the
  scale-out fabric, deduplicated per destination domain for prefill tokens (DeepEP "normal"
  mode, Ascend hierarchical dispatch) and not for decode tokens (DeepEP "low-latency" mode);
  within the domain a prefill token goes once to each distinct destination rank (normal mode)
  and a decode token once per selected expert, ``top_k`` copies whatever ranks they share
  (low-latency mode: one buffer slot per expert; DeepEP-Ascend's A3 low-latency table, M11 in
  ``devices/cards/ascend-910c.yaml``, reports its bandwidth on ``128 x 8 x 7168`` dispatched
  elements per rank: 139 us dispatch + 135 us combine at EP16 and 153 + 151 us at EP32, which
  these ``top_k`` copies at the card's collective fraction reproduce within 5 %);
  the busiest receiving rank stretches it by its load over the mean load; dispatch payload is
  1 B/element for FP8/INT8 compute, 2 B otherwise, combine is BF16.

Elementwise kernels (conventions in ``accelsim.model.perf.roofline``: ``a`` = 2 B per
activation, ``q`` bytes per quantised element), per token on one rank:

- the FFN input's **residual add + RMSNorm** (``4 H a``, into ``routed_experts``);
- **quantisation** of the routed-expert input, once per token before a DeepEP normal dispatch
  (SGLang ``_DeepEPDispatcherImplNormal.dispatch_a``: ``sglang_per_token_group_quant_fp8``) or
  a fused-MoE call, while DeepEP's low-latency dispatch casts to FP8 inside the communication
  kernel (``H q``, into ``routed_experts``); the shared experts' input (``H q``) and SwiGLU
  output before the down projection (``width x q``), into ``shared_experts``;
- **SiLU-and-mul** over the FFN width of the rank (shared, and each routed assignment): read
  ``2 w a``, write ``w a``;
- **routed experts**, per (token, expert) assignment on the busiest EP rank (``load``, into
  ``routed_experts``), after SGLang's ``DeepEPMoE``
  (``python/sglang/srt/layers/moe/ep_moe/layer.py``): tokens of a DeepEP *normal* dispatch
  (prefill, ``ep > 1``) are permuted to the expert-contiguous layout (``ep_scatter``: read +
  write ``H`` at the dispatch width), activated, quantised, and gathered back with their
  routing weights (``ep_gather``: read ``H a`` per assignment, write ``H a`` per received
  token, ``load x n_dest / top_k`` of them); tokens of a *low-latency* dispatch (decode,
  ``ep > 1``) land in the expert-major buffer the masked grouped GEMM reads, run the fused
  ``silu_and_mul_masked_post_quant_fwd`` (read ``2 w a``, write ``w`` at 1 B; at ``w a`` when
  nothing is quantised) and are reduced with their weights inside DeepEP's combine; with
  ``ep = 1`` the fused-MoE GEMM gathers its input rows itself (vLLM/SGLang ``fused_moe``: no
  permute copy) and ``moe_sum`` reduces the ``top_k`` outputs (read ``H a`` per assignment,
  write ``H a`` per token);
- **MoE combine with shared experts**: ``routed + shared`` (read ``2 H a``, write ``H a``, into
  ``routed_experts``);
- **top-k** (``router``): read the FP32 router logits (``4 E``), write ids and weights
  (``8 top_k``).

Ignored: congestion between ranks (the busiest receiving rank's load is the only imbalance).
"""

from __future__ import annotations

import math

import numpy as np

from accelsim.catalog.workloads import ModelArch
from accelsim.dtypes import Precision
from accelsim.model.perf.collectives import Fabrics, all_gather, all_to_all
from accelsim.model.perf.ops import K_COLL, K_FFN, K_ROUTED, K_ROUTER, Group, Ops
from accelsim.model.perf.roofline import Roofline
from accelsim.model.plan import ParallelPlan
from accelsim.model.routing import RoutingModel

__all__ = ["MoE"]

_Routed = tuple[float, float, float, float, float, float]


class MoE:
    """The MoE block of one layer of ``model`` on one rank of ``plan`` (see the module
    docstring); ``routing`` sets the busiest EP rank's load."""

    def __init__(
        self,
        model: ModelArch,
        plan: ParallelPlan,
        prec: Precision,
        roof: Roofline,
        fabrics: Fabrics,
        routing: RoutingModel,
    ) -> None:
        moe = model.moe
        assert moe is not None
        self.model, self.plan, self.roof = model, plan, roof
        self.fabrics, self.routing = fabrics, routing
        self._routed_cache: dict[float, _Routed] = {}
        self.dispatch_b = 1.0 if prec.compute in ("fp8", "int8") else 2.0
        self.e_params = model.expert_params
        self.shared_params = model.shared_expert_params
        self.router_params = model.router_params
        e, k = moe.num_experts, moe.top_k
        ep = plan.ep
        per_rank = e / ep
        self.n_dest = float(k if ep >= e else ep * (1 - (1 - k / e) ** per_rank))
        self.top_k = float(k)
        domain = min(ep, fabrics.domain_ranks)
        self.ep_domain = domain
        self.ep_domains = max(1, math.ceil(ep / domain))
        nn = self.ep_domains
        nodes = nn * (1 - (1 - k / e) ** (e / nn)) if nn > 1 else 1.0
        if moe.routing == "group_limited" and moe.n_group >= nn:
            nodes = min(nodes, float(moe.topk_group))
        self.dest_domains = nodes
        a, quant, h = roof.act, roof.quant, roof.h
        w = moe.expert_intermediate / plan.moe_tp
        act_separate = w * (3.0 * a + quant)  # SiLU-and-mul, then quantisation
        act_fused = w * (2.0 * a + (1.0 if quant else a))  # one kernel, 8-bit out
        if ep > 1:
            # normal dispatch: ep_scatter, act, ep_gather (per received token: n_dest / k)
            self.ew_assign = 2.0 * h * self.dispatch_b + act_separate + h * a
            self.ew_assign += h * a * self.n_dest / k
            self.ew_assign_ll = act_fused  # low-latency dispatch: combine reduces
        else:
            # fused MoE reads rows in place; moe_sum writes one row per token (load / k)
            self.ew_assign = act_separate + h * a + h * a / k
            self.ew_assign_ll = self.ew_assign
        self.ew_moe_in = h * quant  # routed input quantised (not in low-latency dispatch)
        self.ew_shared = 0.0
        self.ew_combine = 0.0
        if self.shared_params:
            ws = moe.shared_width / plan.tp
            self.ew_shared = h * quant + ws * (3.0 * a + quant)
            self.ew_combine = 3.0 * h * a
        self.ew_topk = 4.0 * e + 8.0 * k

    def add(self, ops: Ops, g: Group) -> None:
        """The MoE block over group ``g``'s tokens (routed experts over the replica's)."""
        plan, roof = self.plan, self.roof
        r = roof.rates
        tp, dp, ep = plan.tp, plan.dp, plan.ep
        moe = self.model.moe
        assert moe is not None
        m = g.tokens
        roof.gemm(ops, "router", self.router_params, m, K_ROUTER, wbytes=roof.embed_bytes)
        roof.elementwise(ops, "router", self.ew_topk * m)
        if self.shared_params:
            roof.gemm(ops, "shared_experts", self.shared_params / tp, m, K_FFN)
            roof.elementwise(ops, "shared_experts", self.ew_shared * m)
        t_all = g.replica_tokens if g.replica_tokens >= 0 else m * dp
        compute_s, memory_s, flops, hbm, max_load, load = self.routed(t_all)
        ops.add(
            "routed_experts",
            compute_s=compute_s,
            memory_s=memory_s,
            kernels=K_ROUTED,
            launch_s=r.launch_s,
            flops=flops,
            hbm=hbm,
        )
        dec_share = (g.dec_seqs * g.q_per_seq) / m if m > 0 else 0.0
        ll = dec_share if ep > 1 else 0.0  # share of tokens in DeepEP low-latency mode
        per_token = roof.norm + (1.0 - ll) * self.ew_moe_in + self.ew_combine
        per_assign = (1.0 - ll) * self.ew_assign + ll * self.ew_assign_ll
        roof.elementwise(ops, "routed_experts", per_token * m + per_assign * load)
        if ep > 1:
            mean_load = t_all * moe.top_k / ep
            imb = max_load / mean_load if mean_load > 0 else 1.0
            per_rank = m / tp
            for cls, b in (("ep_dispatch", self.dispatch_b), ("ep_combine", 2.0)):
                t, sent = self._all_to_all(per_rank, dec_share, b, imb)
                ops.add(cls, network_s=t, kernels=K_COLL, launch_s=r.launch_s, net=sent)
        elif dp > 1:
            n = tp * dp
            size = t_all * roof.h * roof.act
            t = all_gather(self.fabrics.link(n), size, n) * 2.0
            ops.add(
                "ep_dispatch",
                network_s=t,
                kernels=2 * K_COLL,
                launch_s=r.launch_s,
                net=2 * size * (n - 1) / n,
            )

    def routed(self, t_all: float) -> _Routed:
        """Busiest EP rank's grouped-GEMM time terms for ``t_all`` replica tokens: compute and
        memory seconds, FLOPs, bytes, the mean busiest-rank load over popularity draws, and the
        (token, expert) assignments on the rank that sets the time."""
        key = round(t_all, 3)
        hit = self._routed_cache.get(key)
        if hit is not None:
            return hit
        plan, roof = self.plan, self.roof
        r = roof.rates
        loads = self.routing.rank_loads(self.model, plan.ep, plan.redundant_experts, t_all)
        split = plan.moe_tp
        params = self.e_params / split
        load, touched = loads.load, loads.touched
        flops = 2.0 * params * load
        m = np.divide(load, touched, out=np.zeros_like(load), where=touched > 0)
        rate = r.gemm_flops * m / (m + r.m_half)
        compute = np.divide(flops, rate, out=np.zeros_like(flops), where=rate > 0)
        weights = touched * params * roof.wb_of["routed_experts"]
        hbm = weights + load * (2.0 * roof.h + 3.0 * params / roof.h) * roof.act
        memory = (hbm + weights * roof.dequant_routed) / r.hbm
        t = np.maximum(compute, memory)
        idx = t.argmax(axis=1)
        rows = np.arange(t.shape[0])
        out = (
            float(compute[rows, idx].mean()),
            float(memory[rows, idx].mean()),
            float(flops[rows, idx].mean()),
            float(hbm[rows, idx].mean()),
            loads.max_load,
            float(load[rows, idx].mean()),
        )
        if len(self._routed_cache) > 100_000:
            self._routed_cache.clear()
        self._routed_cache[key] = out
        return out

    def _all_to_all(
        self, tokens: float, dec_share: float, b: float, imb: float
    ) -> tuple[float, float]:
        """Seconds and bytes sent by one rank dispatching ``tokens`` tokens of ``b`` B/elem."""
        ep = self.plan.ep
        row = self.roof.h * b
        dom = self.ep_domain
        up, out = self.fabrics.up, self.fabrics.out
        # copies of a token: one per destination rank (normal mode, prefill) or one per
        # selected expert (low-latency mode, decode)
        copies = dec_share * self.top_k + (1.0 - dec_share) * self.n_dest
        intra = tokens * copies * (dom - 1) / ep * row
        t = all_to_all(up, intra * imb, dom - 1)
        sent = intra
        if self.ep_domains > 1:
            nn = self.ep_domains
            dedup = tokens * self.dest_domains * (nn - 1) / nn * row
            direct = tokens * self.top_k * (ep - dom) / ep * row
            inter = dec_share * direct + (1.0 - dec_share) * dedup
            t = max(t, all_to_all(out, inter * imb, ep - dom))
            sent += inter
        return t, sent
