"""``PerfModel``: one forward iteration of one replica -> a ``StepTime``, composed from the op
families of this package.

One iteration, on the busiest attention-DP group (``accelsim.model.perf.ops.Group``):

- the layers (``accelsim.model.perf.layer``), computed once per layer *kind* — dense or MoE,
  and on DeepSeek-V4 its attention's compression ratio (``ModelArch.layer_groups``) — and
  multiplied by the layer count; with ``plan.micro_batch_overlap`` each kind as two
  micro-batches (``accelsim.model.perf.overlap``);
- the precision as the model is deployed with it (``ModelArch.deployed_precision``: a uniform
  preset on a mixed checkpoint is its per-class form, ``accelsim.dtypes.mixed_form``);
- the LM head and sampling (``accelsim.model.perf.head``);
- **PP transfer**: ``pp - 1`` hops of the group's activations (split ``tp`` ways) over the
  fabric the replica's ranks share; pipeline stages run one batch in sequence (no inter-batch
  pipelining: the returned time is the batch latency);
- the draft passes of speculative decoding (``accelsim.model.perf.draft``);
- **overhead**: the card's fixed cost per iteration (or a serving framework's own figure), plus
  a serving framework's calibrated cost per decode query token and layer
  (``accelsim.catalog.devices.FrameworkProfile.decode_token_layer_cost``, zero without a
  profile): ``cost x query tokens of the busiest attention group x layers / tp``.

Ranks are dies on multi-die cards (910C), with the card's rates divided by ``card.dies``
(``accelsim.model.perf.roofline``); per-card throughput multiplies back (``StepTime.cards``).

Two entry points add the same terms in the same order (``_accumulate``): ``step`` into an
``Ops``, for the ``StepTime`` breakdown that ``accelsim step``, reports and validation read;
``work`` / ``iteration_work`` into a ``LeanOps`` that keeps only the per-class totals — the
simulator's path, about half the cost (37 vs 73 us a call on Llama-2-70B TP4), and equal to
``step``'s figures to the last bit (``tests/test_engine_pricing.py``).
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from accelsim.catalog.devices import Card, Fabric
from accelsim.catalog.workloads import ModelArch
from accelsim.dtypes import Precision
from accelsim.errors import AccelsimError
from accelsim.model.batch import BatchStats
from accelsim.model.perf.collectives import Fabrics, Link, p2p
from accelsim.model.perf.draft import Drafter, SpecDecode, checked_draft
from accelsim.model.perf.head import LMHead
from accelsim.model.perf.layer import Layer
from accelsim.model.perf.ops import K_COLL, Group, LeanOps, Ops, StepTime
from accelsim.model.perf.overlap import comm_unit_share, overlapped
from accelsim.model.perf.roofline import Rates, Roofline
from accelsim.model.plan import ParallelPlan
from accelsim.model.routing import RoutingModel

__all__ = ["ITER_CACHE_SIZE", "PerfModel"]

#: Most batch shapes ``PerfModel.iteration_work`` keeps (about 0.3 KB each).
ITER_CACHE_SIZE = 200_000


class PerfModel:
    """Roofline timing model of one replica (implements ``accelsim.model.batch.IterationModel``).

    ``scale_up``/``scale_out`` are the fabrics inside and between scale-up domains;
    ``node_cards`` the cards per server and ``scale_up_cards`` the cards one scale-up fabric
    joins (a CloudMatrix384 supernode: 384; default ``node_cards``). ``routing`` defaults to
    uniform; ``spec`` to no speculative decoding; ``draft`` is the draft model ``spec`` names
    (required when it names one). ``iteration_overhead`` (seconds) replaces the
    card's per-iteration host cost (``efficiency.iteration_overhead``) when a serving framework's
    own figure is known (``accelsim.run.scenario.FrameworkSpec``). ``decode_token_layer_cost``
    (seconds per decode query token per layer) is the serving framework's calibrated cost on
    this card (``accelsim.catalog.devices.FrameworkProfile``; 0: none).
    """

    #: the serving engine may cache iteration times per quantized batch
    cacheable = True

    def __init__(
        self,
        card: Card,
        model: ModelArch,
        plan: ParallelPlan,
        prec: Precision,
        *,
        scale_up: Fabric,
        scale_out: Fabric,
        node_cards: int,
        scale_up_cards: int | None = None,
        routing: RoutingModel | None = None,
        spec: SpecDecode | None = None,
        iteration_overhead: float | None = None,
        draft: ModelArch | None = None,
        decode_token_layer_cost: float = 0.0,
    ) -> None:
        prec = model.deployed_precision(prec)  # a mixed checkpoint's per-class form
        self.card, self.model, self.plan, self.prec = card, model, plan, prec
        self.draft = checked_draft(spec, draft)
        self.rates = Rates.of(card, prec)
        if iteration_overhead is not None:
            if iteration_overhead < 0:
                raise AccelsimError("iteration_overhead cannot be negative")
            self.rates = replace(self.rates, iteration_s=float(iteration_overhead))
        if decode_token_layer_cost < 0:
            raise AccelsimError("decode_token_layer_cost cannot be negative")
        self.token_layer_s = float(decode_token_layer_cost)
        self.routing = routing or RoutingModel()
        self.spec = spec if spec is not None and spec.draft_tokens > 0 else None
        self.tokens_per_decode_step = self.spec.tokens_per_step if self.spec else 1.0
        dies = card.dies
        frac = card.efficiency.collective_fraction
        self.fabrics = Fabrics(
            up=Link.of(scale_up, dies, frac),
            out=Link.of(scale_out, dies, frac),
            domain_ranks=(scale_up_cards or node_cards) * dies,
        )
        self.cards = plan.ranks_per_replica / dies
        if plan.pp > model.num_layers:
            raise AccelsimError(f"plan pp={plan.pp} exceeds the model's {model.num_layers} layers")
        self._iter_cache: dict[tuple[float, ...], tuple[float, float, float]] = {}
        # the layer kinds (ModelArch is frozen: computed once, not per iteration)
        self._groups = tuple(g for g in model.layer_groups() if g[0] != 0)
        self._qps = 1.0 + (self.spec.draft_tokens if self.spec else 0)
        roof = Roofline(self.rates, prec, model.hidden_size)
        self.roofline = roof
        self.layer = Layer(model, plan, prec, roof, self.fabrics, self.routing)
        self.head = LMHead(model.vocab_size, plan.tp, roof, plan.head_tp, self.fabrics)
        self.drafter: Drafter | None = None
        if self.spec is not None:
            self.drafter = Drafter(
                self.spec, model, self.draft, prec, roof, self.fabrics, self.layer, self.head
            )

    # ---- public API ------------------------------------------------------------------------
    def step(self, batch: BatchStats) -> StepTime:
        """The breakdown of one iteration of ``batch`` (replica-level aggregates)."""
        plan = self.plan
        total = Ops()
        hidden, framework_s = self._accumulate(batch, total)
        total.launch -= self.rates.iteration_s + framework_s
        notes: list[str] = []
        if framework_s > 0:
            notes.append(f"framework cost per decode token and layer: {framework_s * 1e3:.3g} ms")
        if plan.micro_batch_overlap:
            notes.append("two micro-batches overlap communication with compute")
        emitted = batch.decode_seqs * self.tokens_per_decode_step
        return StepTime(
            times=dict(total.t),
            flops=dict(total.f),
            hbm_bytes=dict(total.b),
            net_bytes=dict(total.n),
            bounds=total.bounds(),
            decode_tokens=float(emitted),
            prefill_tokens=float(batch.prefill_tokens),
            cards=self.cards,
            hidden_comm_s=hidden,
            launch_s=total.launch,
            notes=tuple(notes),
        )

    def work(self, batch: BatchStats) -> tuple[float, float, float]:
        """``(seconds, FLOPs, HBM bytes)`` of one iteration of ``batch``, uncached and without
        the ``StepTime`` breakdown: the same op families add the same terms in the same order
        into a ``LeanOps``, so the figures are the very floats ``step`` gives (``total_s``,
        FLOPs and bytes summed over classes, times ``tp * dp`` ranks; a test checks)."""
        total = LeanOps()
        self._accumulate(batch, total)
        ranks = self.plan.tp * self.plan.dp
        return (
            float(sum(total.t.values())),
            sum(total.f.values()) * ranks,
            sum(total.b.values()) * ranks,
        )

    def iteration_time(self, batch: BatchStats) -> float:
        """Seconds for one iteration; cached on the batch rounded to 3 significant digits
        (the serving engine's fast path)."""
        return self.iteration_work(batch)[0]

    def iteration_work(self, batch: BatchStats) -> tuple[float, float, float]:
        """``(seconds, FLOPs, HBM bytes)`` of one iteration of the whole replica (``work``),
        cached on the batch rounded to 3 significant digits. FLOPs and bytes are the
        ``StepTime`` totals of one rank (the critical-path rank, all pipeline stages) times the
        ranks of one stage (``tp * dp``): the work the replica's chips execute, replicated ops
        included. The cache holds at most ``ITER_CACHE_SIZE`` shapes (emptied when full: the
        figures are a pure function of the rounded batch, so results never depend on it)."""
        key = (
            batch.decode_seqs,
            _sig3(batch.decode_context_tokens),
            batch.prefill_seqs,
            _sig3(batch.prefill_tokens),
            _sig3(batch.prefill_attention_pairs),
            _sig3(batch.prefill_context_tokens),
        )
        w = self._iter_cache.get(key)
        if w is None:
            w = self.work(BatchStats(key[0], key[1], key[2], int(key[3]), key[4], key[5]))
            if len(self._iter_cache) >= ITER_CACHE_SIZE:
                self._iter_cache.clear()
            self._iter_cache[key] = w
        return w

    def _accumulate(self, batch: BatchStats, total: Ops) -> tuple[float, float]:
        """Price ``batch`` into ``total`` (an ``Ops`` for ``step``, a ``LeanOps`` for ``work``);
        returns the communication seconds hidden by micro-batch overlap and the framework's
        per-token cost."""
        plan, r = self.plan, self.rates
        lean = isinstance(total, LeanOps)
        qps = self._qps
        # whole sequences go to one DP group: the busiest holds ceil(n / dp) of them
        g = Group.busiest(batch, plan.dp, qps)
        hidden = 0.0
        if g.tokens > 0:
            for count, is_moe, ratio in self._groups:
                if plan.micro_batch_overlap and g.tokens >= 2:
                    half = self.layer.price(g.half(), is_moe, ratio)
                    layer, hid = overlapped(half, comm_unit_share(self.card, plan.ep, g))
                    hidden += count * hid
                else:
                    layer = self.layer.price(g, is_moe, ratio, lean)
                total.merge(layer, float(count))
            self.head.add(total, g)
            if plan.pp > 1:
                self._pp_transfer(total, g)
            if self.drafter is not None and g.dec_seqs > 0:
                self.drafter.add(total, g)
        framework_s = self.token_layer_s * g.dec_seqs * qps * self.model.num_layers / plan.tp
        total.add("overhead", kernels=1.0, launch_s=r.iteration_s + framework_s)
        return hidden, framework_s

    @property
    def peak_flops(self) -> float:
        """Dense peak FLOP/s of the replica's cards in the compute dtype (the MFU denominator)."""
        return self.card.peak(self.prec.compute) * self.cards

    @property
    def peak_hbm_bandwidth(self) -> float:
        """HBM bandwidth of the replica's cards, bytes/s (the MBU denominator)."""
        return self.card.hbm_bandwidth * self.cards

    def _pp_transfer(self, ops: Ops, g: Group) -> None:
        """``pp - 1`` hops of group ``g``'s activations between pipeline stages."""
        plan, r, roof = self.plan, self.rates, self.roofline
        size = g.tokens * roof.h * roof.act / plan.tp
        link = self.fabrics.link(plan.ranks_per_replica)
        ops.add(
            "pp_transfer",
            network_s=(plan.pp - 1) * p2p(link, size),
            kernels=(plan.pp - 1) * K_COLL,
            launch_s=r.launch_s,
            net=(plan.pp - 1) * size,
        )


@lru_cache(maxsize=1 << 14)
def _sig3(x: float) -> float:
    """``x`` to 3 significant digits (remembered: the engine's quantized sums repeat)."""
    if x == 0:
        return 0.0
    return float(f"{x:.3g}")
