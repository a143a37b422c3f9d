"""One MoE block on one rank: router, shared experts, routed experts and their collectives.

- **router** — ``E x H`` GEMM, replicated, its weights 16-bit;
- **shared experts** — SwiGLU GEMMs split ``tp`` ways;
- **routed experts** — grouped GEMM per EP rank (at the FP4 rate when they are stored in
  ``nvfp4``, W4A4: ``accelsim.model.perf.roofline``; capped at the card's
  ``routed_gemm_fraction_by_dtype`` of peak, plus its ``routed_fixed_by_dtype`` per layer, when
  the card measured its fused-MoE kernel for the experts' narrow weight dtype): FLOPs from the
  rank's (token, expert)
  assignments, weight bytes from the local experts the batch touches (each read once; the count
  of the busiest of ``ep`` ranks, not the mean), GEMM efficiency at the mean tokens per touched
  expert; the slowest rank (``accelsim.model.routing``) sets the time;
- with ``dp > 1`` (or ``cp > 1``) and ``ep = 1`` the MoE gathers tokens over all
  ``tp*dp*cp`` ranks of the stage and reduce-scatters them back (``ep_dispatch``);
- **EP dispatch / combine** — all-to-all when ``ep > 1``: each rank sends its tokens to the
  distinct ranks their experts live on; traffic to ranks outside the scale-up domain crosses the
  scale-out fabric, deduplicated per destination domain for prefill tokens (DeepEP "normal"
  mode, Ascend hierarchical dispatch) and not for decode tokens (DeepEP "low-latency" mode);
  within the domain a prefill token goes once to each distinct destination rank (normal mode)
  and a decode token once per selected expert, ``top_k`` copies whatever ranks they share
  (low-latency mode: one buffer slot per expert);
  the busiest receiving rank stretches it by its load over the mean load. A dispatched row is
  ``H`` elements at 1 B plus its scales for FP8 (one FP32 per 128 channels, DeepSeek-V3's tile
  quantisation) and a 16 B header — the bytes DeepEP's ``tests/test_low_latency.py`` counts per
  dispatched copy (``hidden + hidden / 128 * 4 + 16``) — or 1 B plus one FP32 per-token scale
  and the header for INT8 (per-token dynamic quantisation, assumed for DeepEP-Ascend); BF16
  (2 B, no scales) otherwise; a combined row is BF16. Each call adds the card's measured fixed
  kernel time (``ep_dispatch_latency`` / ``ep_combine_latency``) and ``ep_doubling_latency``
  per doubling of the EP degree (``log2 ep``) to the fabric's alpha-beta time: DeepEP's H800
  low-latency table (EP8-EP256, ``devices/cards/h100-sxm5.yaml`` M25) and DeepEP-Ascend's A3
  one (EP8-EP32, ``ascend-910c.yaml`` M11) are reproduced within 15 %
  (``tests/test_ep_tables.py``). On the scale-up link the all-to-all runs at the card's
  ``all_to_all_fraction`` when it lists one (else the collective fraction), and the
  normal-mode share at the card's ``ep_normal_*_fraction`` for the EP degree when listed (the
  910C's normal-mode rate falls from 146 to 57 GB/s per rank from EP8 to EP128, M11);

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

from accelsim.catalog.workloads import ModelArch
from accelsim.dtypes import Precision
from accelsim.lazy import lazy_module
from accelsim.model.perf.collectives import Fabrics, all_gather, all_to_all
from accelsim.model.perf.ops import K_COLL, K_FFN, K_ROUTED, K_ROUTER, Group, Ops
from accelsim.model.perf.roofline import Roofline
from accelsim.model.plan import ParallelPlan
from accelsim.model.routing import RoutingModel

np = lazy_module("numpy")  # imported at first use: a dense model's `step` needs none

__all__ = ["MoE"]

_Routed = tuple[float, float, float, float, float, float]
#: Blocks of whole replica token counts ``MoE.routed`` prices at once: as many counts (a power
#: of two, at most ``2**_BLOCK_MAX``) as keep the routing recursion's arrays near
#: ``_BLOCK_NUMBERS`` float64 numbers (256 KB, a core's L2 cache). Speed settings only: the
#: figures do not depend on them.
_BLOCK_NUMBERS = 1 << 15
_BLOCK_MAX = 6
#: Most blocks ``MoE.routed`` holds (and as many met once); emptied when full.
_BLOCKS_HELD = 4096


def _by_degree(table: tuple[tuple[int, float], ...], ep: int) -> float:
    """``table``'s value at EP degree ``ep``: linear in ``log2`` of the degree between its
    points, its end values beyond them."""
    keys = [math.log2(k) for k, _ in table]
    return float(np.interp(math.log2(ep), keys, [v for _, v in table]))


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
        self._routed_blocks: dict[int, list[_Routed]] = {}
        self._blocks_met: set[int] = set()  # blocks one count of which was priced alone
        self._block = 0  # counts per block, set at the first block (``routed``)
        self.dispatch_b = 1.0 if prec.compute in ("fp8", "int8") else 2.0
        h = model.hidden_size
        # bytes per dispatched / combined row (module docstring: scales and header)
        self.dispatch_row = {"fp8": h + h / 128 * 4 + 16, "int8": h + 4 + 16}.get(
            prec.compute, 2.0 * h
        )
        self.combine_row = 2.0 * h
        # the card's measured all-to-all share of the scale-up link, and its normal-mode
        # (prefill) share by EP degree, as time factors on the link's collective fraction
        a2a = roof.rates.all_to_all_fraction or fabrics.up.fraction
        self.ll_slow = fabrics.up.fraction / a2a
        self.normal_slow = tuple(
            fabrics.up.fraction / (_by_degree(table, plan.ep) if table else a2a)
            for table in roof.rates.ep_normal
        )
        # per EP call: class, row bytes, the kernel's fixed seconds plus its per-doubling
        # term, the normal-mode slow-down
        rates = roof.rates
        fixed = rates.ep_doubling_s * math.log2(plan.ep)
        self.ep_calls = (
            ("ep_dispatch", self.dispatch_row, rates.ep_dispatch_s + fixed, self.normal_slow[0]),
            ("ep_combine", self.combine_row, rates.ep_combine_s + fixed, self.normal_slow[1]),
        )
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
        """The MoE block over group ``g``'s tokens (routed experts over the replica's):
        ``add_tokens``, then ``add_routed`` (they write disjoint classes)."""
        self.add_tokens(ops, g.tokens)
        self.add_routed(ops, g)

    def add_tokens(self, ops: Ops, m: float) -> None:
        """The router and the shared experts over the group's ``m`` tokens (all they read)."""
        roof = self.roof
        roof.gemm(ops, "router", self.router_params, m, K_ROUTER, wbytes=roof.embed_bytes)
        roof.elementwise(ops, "router", self.ew_topk * m)
        if self.shared_params:
            roof.gemm(ops, "shared_experts", self.shared_params / self.plan.tp, m, K_FFN)
            roof.elementwise(ops, "shared_experts", self.ew_shared * m)

    def add_routed(self, ops: Ops, g: Group) -> None:
        """The routed experts and their collectives over group ``g`` (``routed_experts``,
        ``ep_dispatch``, ``ep_combine``: the classes ``add_tokens`` leaves)."""
        plan, roof = self.plan, self.roof
        r = roof.rates
        tp, dp, ep = plan.tp, plan.dp, plan.ep
        moe = self.model.moe
        assert moe is not None
        m = g.tokens
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
        if r.routed_fixed_s > 0 and load > 0:
            ops.add("routed_experts", compute_s=r.routed_fixed_s)
        dec_share = (g.dec_seqs * g.q_per_seq) / m if m > 0 else 0.0
        ll = dec_share if ep > 1 else 0.0  # share of tokens in DeepEP low-latency mode
        per_token = roof.norm + (1.0 - ll) * self.ew_moe_in + self.ew_combine
        per_assign = (1.0 - ll) * self.ew_assign + ll * self.ew_assign_ll
        roof.elementwise(ops, "routed_experts", per_token * m + per_assign * load)
        if ep > 1:
            mean_load = t_all * moe.top_k / ep
            imb = max_load / mean_load if mean_load > 0 else 1.0
            per_rank = m / tp
            for cls, row, fixed, slow in self.ep_calls:
                t, sent = self._all_to_all(per_rank, dec_share, row, imb, slow)
                if t > 0:
                    t += fixed
                ops.add(cls, network_s=t, kernels=K_COLL, launch_s=r.launch_s, net=sent)
        elif plan.stage_ranks > tp:
            n = plan.stage_ranks
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
        (token, expert) assignments on the rank that sets the time.

        Memoised on ``t_all`` to 3 decimals (the first count met with a key prices it). Whole
        counts fall in aligned blocks (``_BLOCK_NUMBERS``): the first count met in a block is
        priced alone, the second prices the whole block at once (``_routed_many``: the same
        floats as one count at a time, vectorised), so a run that meets thousands of nearby
        counts prices a few dozen blocks, and one whose counts are far apart no more than
        one count each."""
        key = round(t_all, 3)
        hit = self._routed_cache.get(key)
        if hit is not None:
            return hit
        plan = self.plan
        if t_all >= 1 and float(t_all).is_integer():
            if not self._block:
                # as many counts as keep a block's arrays near ``_BLOCK_NUMBERS`` numbers
                per = self.routing.work_per_count(self.model, plan.ep, plan.redundant_experts)
                self._block = 1 << max(0, min(_BLOCK_MAX, (_BLOCK_NUMBERS // per).bit_length() - 1))
            n = int(t_all)
            start = n - n % self._block
            block = self._routed_blocks.get(start)
            if block is not None:
                out = block[n - max(start, 1)]
            elif start not in self._blocks_met:  # a block is priced when a second count needs it
                if len(self._blocks_met) > _BLOCKS_HELD:
                    self._blocks_met.clear()
                self._blocks_met.add(start)
                out = self._routed_many(np.array([t_all], dtype=float))[0]
            else:
                if len(self._routed_blocks) > _BLOCKS_HELD:
                    self._routed_blocks.clear()
                counts = np.arange(max(start, 1), start + self._block, dtype=float)
                block = self._routed_many(counts)
                self._routed_blocks[start] = block
                out = block[n - max(start, 1)]
        else:
            out = self._routed_many(np.array([t_all], dtype=float))[0]
        if len(self._routed_cache) > 100_000:
            self._routed_cache.clear()
        self._routed_cache[key] = out
        return out

    def _routed_many(self, tokens: np.ndarray) -> list[_Routed]:
        """``routed``'s terms for each replica token count of ``tokens``: every step is
        elementwise over (count, draw, rank) or along one count's ranks or draws, so each
        count's floats are those of pricing it alone."""
        plan, roof = self.plan, self.roof
        r = roof.rates
        load, touched = self.routing.rank_loads_many(
            self.model, plan.ep, plan.redundant_experts, tokens
        )
        split = plan.moe_tp
        params = self.e_params / split
        flops = 2.0 * params * load
        m = np.divide(load, touched, out=np.zeros_like(load), where=touched > 0)
        peak = r.fp4_gemm_flops if "routed_experts" in roof.fp4 else r.gemm_flops  # W4A4: FP4
        rate = np.maximum(peak * m / (m + r.routed_m_half), r.vector_flops)
        if r.routed_flops:
            rate = np.minimum(rate, r.routed_flops)
        compute = np.divide(flops, rate, out=np.zeros_like(flops), where=rate > 0)
        weights = touched * params * roof.wb_of["routed_experts"]
        hbm = weights + load * (2.0 * roof.h + 3.0 * params / roof.h) * roof.act
        memory = (hbm + weights * roof.dequant_routed) / r.hbm
        t = np.maximum(compute, memory)
        # the rank that sets the time, per count and draw; its figures averaged over draws
        count, draws, ep = t.shape
        at = (np.arange(count * draws) * ep + t.argmax(axis=2).ravel()).reshape(count, draws)

        def at_rank(x: np.ndarray) -> list[float]:
            return (np.add.reduce(x.ravel()[at], axis=1) / draws).tolist()

        cols = (
            at_rank(compute),
            at_rank(memory),
            at_rank(flops),
            at_rank(hbm),
            (np.add.reduce(load.max(axis=2), axis=1) / draws).tolist(),
            at_rank(load),
        )
        return list(zip(*cols, strict=True))

    def _all_to_all(
        self, tokens: float, dec_share: float, row: float, imb: float, slow: float = 1.0
    ) -> tuple[float, float]:
        """Seconds on the fabrics and bytes sent by one rank dispatching ``tokens`` tokens
        of ``row`` bytes each; ``slow`` stretches the normal-mode share on the scale-up link
        (the kernel's fixed terms are the caller's)."""
        ep = self.plan.ep
        dom = self.ep_domain
        up, out = self.fabrics.up, self.fabrics.out
        # copies of a token: one per destination rank (normal mode, prefill) or one per
        # selected expert (low-latency mode, decode)
        ll_copies, normal_copies = dec_share * self.top_k, (1.0 - dec_share) * self.n_dest
        per_copy = tokens * (dom - 1) / ep * row
        intra = per_copy * (ll_copies + normal_copies)
        weighted = ll_copies * self.ll_slow + normal_copies * slow
        t = all_to_all(up, per_copy * weighted * imb, dom - 1)
        sent = intra
        if self.ep_domains > 1:
            nn = self.ep_domains
            dedup = tokens * self.dest_domains * (nn - 1) / nn * row
            direct = tokens * self.top_k * (ep - dom) / ep * row
            inter = dec_share * direct + (1.0 - dec_share) * dedup
            t = max(t, all_to_all(out, inter * imb, ep - dom))
            sent += inter
        return t, sent
