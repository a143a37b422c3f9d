"""``PerfModel``: one forward iteration of one replica -> a ``StepTime``, composed from the op
families of this package.

One iteration, on the busiest attention-DP group (``accelsim.model.perf.ops.Group``):

- the layers (``accelsim.model.perf.layer``), computed once per layer *kind* — dense or MoE —
  and multiplied by the layer count; with ``plan.micro_batch_overlap`` each kind as two
  micro-batches (``accelsim.model.perf.overlap``);
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
"""

from __future__ import annotations

from dataclasses import replace

from accelsim.catalog.devices import Card, Fabric
from accelsim.catalog.workloads import ModelArch
from accelsim.dtypes import Precision
from accelsim.errors import AccelsimError
from accelsim.model.batch import BatchStats
from accelsim.model.perf.collectives import Fabrics, Link, p2p
from accelsim.model.perf.draft import Drafter, SpecDecode, checked_draft
from accelsim.model.perf.head import LMHead
from accelsim.model.perf.layer import Layer
from accelsim.model.perf.ops import K_COLL, Group, Ops, StepTime
from accelsim.model.perf.overlap import comm_unit_share, overlapped
from accelsim.model.perf.roofline import Rates, Roofline
from accelsim.model.plan import ParallelPlan
from accelsim.model.routing import RoutingModel

__all__ = ["PerfModel"]


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
        roof = Roofline(self.rates, prec, model.hidden_size)
        self.roofline = roof
        self.layer = Layer(model, plan, prec, roof, self.fabrics, self.routing)
        self.head = LMHead(model.vocab_size, plan.tp, roof)
        self.drafter: Drafter | None = None
        if self.spec is not None:
            self.drafter = Drafter(
                self.spec, model, self.draft, prec, roof, self.fabrics, self.layer, self.head
            )

    # ---- public API ------------------------------------------------------------------------
    def step(self, batch: BatchStats) -> StepTime:
        """The breakdown of one iteration of ``batch`` (replica-level aggregates)."""
        plan, r = self.plan, self.rates
        qps = 1.0 + (self.spec.draft_tokens if self.spec else 0)
        # whole sequences go to one DP group: the busiest holds ceil(n / dp) of them
        g = Group.busiest(batch, plan.dp, qps)
        total = Ops()
        hidden = 0.0
        notes: list[str] = []
        if g.tokens > 0:
            kinds = ((self.model.dense_layers, False), (self.model.moe_layers, True))
            for count, is_moe in kinds:
                if count == 0:
                    continue
                if plan.micro_batch_overlap and g.tokens >= 2:
                    half = self.layer.price(g.half(), is_moe)
                    layer, hid = overlapped(half, comm_unit_share(self.card, plan.ep, g))
                    hidden += count * hid
                else:
                    layer = self.layer.price(g, is_moe)
                total.merge(layer, float(count))
            self.head.add(total, g)
            if plan.pp > 1:
                self._pp_transfer(total, g)
            if self.drafter is not None and g.dec_seqs > 0:
                self.drafter.add(total, g)
        framework_s = self.token_layer_s * g.dec_seqs * qps * self.model.num_layers / plan.tp
        total.add("overhead", kernels=1.0, launch_s=r.iteration_s + framework_s)
        total.launch -= r.iteration_s + framework_s
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

    def iteration_time(self, batch: BatchStats) -> float:
        """Seconds for one iteration; cached on the batch rounded to 3 significant digits
        (the serving engine's fast path)."""
        return self.iteration_work(batch)[0]

    def iteration_work(self, batch: BatchStats) -> tuple[float, float, float]:
        """``(seconds, FLOPs, HBM bytes)`` of one iteration of the whole replica, cached like
        ``iteration_time``. FLOPs and bytes are the ``StepTime`` totals of one rank (the
        critical-path rank, all pipeline stages) times the ranks of one stage
        (``tp * dp``): the work the replica's chips execute, replicated ops included."""
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
            rounded = BatchStats(key[0], key[1], key[2], int(key[3]), key[4], key[5])
            st = self.step(rounded)
            ranks = self.plan.tp * self.plan.dp
            w = (st.total_s, sum(st.flops.values()) * ranks, sum(st.hbm_bytes.values()) * ranks)
            if len(self._iter_cache) > 200_000:
                self._iter_cache.clear()
            self._iter_cache[key] = w
        return w

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


def _sig3(x: float) -> float:
    if x == 0:
        return 0.0
    return float(f"{x:.3g}")
