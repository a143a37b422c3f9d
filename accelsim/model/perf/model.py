"""``PerfModel``: one forward iteration of one replica -> a ``StepTime``, composed from the op
families of this package.

One iteration, on the busiest attention-DP group (``accelsim.model.perf.ops.Group``):

- the layers (``accelsim.model.perf.layer``), computed once per layer *kind* — dense or MoE,
  on DeepSeek-V4 its attention's compression ratio (``ModelArch.layer_groups``) and whether its
  experts are hash-routed (``moe.hash_layers``: their load follows the token mix,
  ``accelsim.model.routing.hash_routing``) — and multiplied by the layer count; with
  ``plan.micro_batch_overlap`` each kind as two micro-batches (``accelsim.model.perf.overlap``);
- the precision as the model is deployed with it (``ModelArch.deployed_precision``: a uniform
  preset on a mixed checkpoint is its per-class form, ``accelsim.dtypes.mixed_form``);
- the LM head and sampling (``accelsim.model.perf.head``);
- **PP transfer**: ``pp - 1`` hops of the group's activations (split ``tp`` ways) over the
  fabric the replica's ranks share; pipeline stages run one batch in sequence (no inter-batch
  pipelining: the returned time is the batch latency);
- **context parallelism** (``plan.cp > 1``, ``accelsim.model.plan``): the layers and head price
  one context rank's share of the group (``Group.context_split``), and ``cp_kv_exchange`` adds,
  per layer, over the fabric the group's ``tp * cp`` ranks share, the all-gather of the KV the
  prefill chunks write (each rank receives the other ``(cp - 1) / cp`` of it: ring attention's
  volume, not overlapped with compute) and the all-gather of decode's partial attention outputs
  (``H / tp`` FP32 values and a log-sum-exp per query token) that combines the ``cp`` shares of
  each sequence's KV;
- the draft passes of speculative decoding (``accelsim.model.perf.draft``);
- **overhead**: the card's fixed cost per iteration (or a serving framework's own figure), plus
  a serving framework's calibrated cost per decode query token and layer
  (``accelsim.catalog.devices.FrameworkProfile.decode_token_layer_cost``, zero without a
  profile): ``cost x query tokens of the busiest attention group x layers / tp``;
- **host dispatch** (``accelsim.model.perf.launch``, with a ``HostDispatch``): a batch that does
  not run as one captured graph waits for the host to dispatch its ops, so the iteration takes
  ``max(device seconds, host seconds)``; the difference, when the host is slower, is added to
  ``overhead``. The ops are the kernels this model counts for one iteration (counted once, on a
  two-sequence decode batch per group, at construction).

Ranks are dies on multi-die cards (910C), with the card's rates divided by ``card.dies``
(``accelsim.model.perf.roofline``); per-card throughput multiplies back (``StepTime.cards``).

Two entry points add the same terms in the same order (``_accumulate``): ``step`` into an
``Ops``, for the ``StepTime`` breakdown that ``accelsim step``, reports and validation read;
``work`` / ``iteration_work`` / ``shape_work`` into a ``LeanOps`` that keeps only the per-class
totals, with the layers' token-only part from a table per exact token count
(``accelsim.model.perf.layer_table``: a new batch shape whose token counts were seen prices
only its attention) — the simulator's path, equal to ``step``'s figures to the last bit
(``tests/test_engine_pricing.py``, ``tests/test_layer_table.py``). A new mixed shape costs
about 0.7 of the full loop's time on Llama-2-70B TP4 and about 0.6 on DeepSeek-V3 and V4
(``benchmarks/bench_perf.py``). ``shape_work`` (the simulator's iteration cache) goes further:
a ``ShapeTable`` (``accelsim.model.perf.shape_table``) keeps every op but the attention and the
draft passes per exact token counts and prices the attention of a new shape in closed form,
the same floats again (``tests/test_shape_table.py``); the full loop prices what it cannot
(micro-batch overlap, or after a failed check).
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from accelsim.catalog.devices import Card, Fabric
from accelsim.catalog.workloads import ModelArch
from accelsim.dtypes import Precision
from accelsim.errors import AccelsimError
from accelsim.model.batch import BatchStats
from accelsim.model.perf.collectives import Fabrics, Link, all_gather, p2p
from accelsim.model.perf.draft import Drafter, SpecDecode, checked_draft
from accelsim.model.perf.head import LMHead
from accelsim.model.perf.launch import HostDispatch
from accelsim.model.perf.layer import Layer
from accelsim.model.perf.layer_table import LayerTable
from accelsim.model.perf.ops import K_ATTN, K_COLL, Group, LeanOps, Ops, StepTime
from accelsim.model.perf.overlap import comm_unit_share, overlapped
from accelsim.model.perf.roofline import Rates, Roofline
from accelsim.model.perf.shape_table import ShapeTable
from accelsim.model.plan import ParallelPlan
from accelsim.model.routing import RoutingModel, hash_routing

__all__ = ["ITER_CACHE_SIZE", "PerfModel"]

#: Most batch shapes ``PerfModel.iteration_work`` keeps (about 0.3 KB each): few, because the
#: simulator's own cache (``accelsim.sim.iteration_cache``) keeps the shapes a run repeats.
ITER_CACHE_SIZE = 1 << 14


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
    this card (``accelsim.catalog.devices.FrameworkProfile``; 0: none). ``host`` is the
    framework's execution mode and host dispatch cost (``accelsim.model.perf.launch``; None:
    every iteration priced as a captured graph, the host never waits).
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
        host: HostDispatch | None = None,
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
        a = model.attention
        kv_split = 1 if a.kind in ("mla", "dsa", "compressed") else min(plan.tp, a.num_kv_heads)
        #: KV bytes one more token of context writes on one rank (all layers), for the CP terms
        self._kv_token_bytes = model.kv_bytes_per_token(prec.kv_bytes, prec.indexer_bytes) / (
            kv_split
        )
        if plan.pp > model.num_layers:
            raise AccelsimError(f"plan pp={plan.pp} exceeds the model's {model.num_layers} layers")
        self._iter_cache: dict[tuple[float, ...], tuple[float, float, float]] = {}
        # the layer kinds (ModelArch is frozen: computed once, not per iteration)
        self._qps = 1.0 + (self.spec.draft_tokens if self.spec else 0)
        roof = Roofline(self.rates, prec, model.hidden_size)
        self.roofline = roof
        self.layer = Layer(model, plan, prec, roof, self.fabrics, self.routing)
        self._groups = self._layer_groups(model, plan, prec, roof)  # (count, moe, ratio, layer)
        #: the layers' token-only part per exact token key (``work``); the overlap mixes parts
        self._table = None if plan.micro_batch_overlap else LayerTable(self._groups)
        self.head = LMHead(model.vocab_size, plan.tp, roof, plan.head_tp, self.fabrics)
        self.drafter: Drafter | None = None
        if self.spec is not None:
            self.drafter = Drafter(
                self.spec, model, self.draft, prec, roof, self.fabrics, self.layer, self.head
            )
        self.host: HostDispatch | None = None
        self._host_ops = self._host_attention_ops = 0.0
        if host is not None and host.eager_op_s > 0:
            self._host_ops = self._kernels_per_iteration()
            self._host_attention_ops = float(model.num_layers * K_ATTN)
            self.host = host
        #: ``shape_work``'s price of a new shape (``accelsim.model.perf.shape_table``)
        self._shapes: ShapeTable | None = None
        if not plan.micro_batch_overlap:
            self._shapes = ShapeTable(
                self._groups,
                plan.dp,
                plan.cp,
                self._qps,
                plan.stage_ranks,
                self._token_ops,
                self.drafter,
                self._work,
                self._table,
            )

    def _layer_groups(
        self, model: ModelArch, plan: ParallelPlan, prec: Precision, roof: Roofline
    ) -> tuple[tuple[int, bool, int, Layer], ...]:
        """``ModelArch.layer_groups`` with the layer object pricing each: the first
        ``moe.hash_layers`` MoE layers (DeepSeek-V4's hash-routed ones) apart, their experts
        loaded by ``accelsim.model.routing.hash_routing`` (seeded like the model's routing)."""
        groups = [(n, moe, r, self.layer) for n, moe, r in model.layer_groups() if n]
        hashed = model.moe.hash_layers if model.moe is not None else 0
        if not hashed:
            return tuple(groups)
        assert model.moe is not None
        routing = hash_routing(model.moe, model.vocab_size, hashed, seed=self.routing.seed)
        by_hash = Layer(model, plan, prec, roof, self.fabrics, routing)
        first = model.layer_ratios()[model.dense_layers : model.dense_layers + hashed]
        out = []
        for n, moe, r, layer in groups:
            h = sum(1 for x in first if x == r) if moe else 0
            if n - h:
                out.append((n - h, moe, r, layer))
            if h:
                out.append((h, moe, r, by_hash))
        return tuple(out)

    def _kernels_per_iteration(self) -> float:
        """Kernels one iteration launches (all layers, head, draft passes), counted on a
        decode batch of two sequences per attention-DP group (with the host term off)."""
        r = self.rates
        if r.launch_s <= 0:
            raise AccelsimError(
                f"card {self.card.name}: efficiency.kernel_launch must be positive to count the "
                "ops a host dispatches"
            )
        probe = Ops()
        batch = BatchStats.decode(2 * self.plan.dp, 1.0)
        _, framework_s, _ = self._accumulate(self._group(batch), probe)
        return (probe.launch - r.iteration_s - framework_s) / r.launch_s

    # ---- public API ------------------------------------------------------------------------
    def step(self, batch: BatchStats) -> StepTime:
        """The breakdown of one iteration of ``batch`` (replica-level aggregates)."""
        plan = self.plan
        total = Ops()
        hidden, framework_s, host_wait = self._accumulate(self._group(batch), total)
        total.launch -= self.rates.iteration_s + framework_s + host_wait
        notes: list[str] = []
        if framework_s > 0:
            notes.append(f"framework cost per decode token and layer: {framework_s * 1e3:.3g} ms")
        if host_wait > 0:
            notes.append(f"host-bound: the device waits {host_wait * 1e3:.3g} ms for op dispatch")
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
        """``(seconds, FLOPs, HBM bytes)`` of one iteration of ``batch``, without the
        ``StepTime`` breakdown: the same op families add the same terms in the same order into
        a ``LeanOps``, the layers' token-only part from a table per exact token key
        (``accelsim.model.perf.layer_table``), so the figures are the very floats ``step`` gives
        (``total_s``, FLOPs and bytes summed over classes, times ``tp * dp * cp`` ranks; tests
        check)."""
        return self._work(self._group(batch))

    def _work(self, g: Group) -> tuple[float, float, float]:
        """``work`` of the busiest group ``g`` (``_group``)."""
        total = LeanOps()
        self._accumulate(g, total, self._table)
        ranks = self.plan.stage_ranks
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
        ranks of one stage (``tp * dp * cp``): the work the replica's chips execute, replicated ops
        included. The cache holds at most ``ITER_CACHE_SIZE`` shapes (emptied when full: the
        figures are a pure function of the rounded batch, so results never depend on it)."""
        return self.shape_work(
            batch.decode_seqs,
            batch.decode_context_tokens,
            batch.prefill_seqs,
            batch.prefill_tokens,
            batch.prefill_attention_pairs,
            batch.prefill_context_tokens,
        )

    def shape_work(
        self, n: int, ctx: float, pseq: int, ptok: int, pairs: float, pctx: float
    ) -> tuple[float, float, float]:
        """``iteration_work`` of ``BatchStats(n, ctx, pseq, ptok, pairs, pctx)``, from the
        batch's fields (``accelsim.sim.iteration_cache`` prices its shapes so: no
        ``BatchStats`` built); a new shape through the ``ShapeTable`` when there is one (the
        same floats as ``_work``)."""
        key = (n, _sig3(ctx), pseq, _sig3(ptok), _sig3(pairs), _sig3(pctx))
        w = self._iter_cache.get(key)
        if w is None:
            c, t, p, x = key[1], int(key[3]), key[4], key[5]
            if self._shapes is not None:
                w = self._shapes.price(n, c, pseq, t, p, x)
            if w is None:
                w = self._work(Group.of(n, c, pseq, t, p, x, self.plan.dp, self._qps))
            if len(self._iter_cache) >= ITER_CACHE_SIZE:
                self._iter_cache.clear()
            self._iter_cache[key] = w
        return w

    def _group(self, batch: BatchStats) -> Group:
        """The busiest attention-DP group of ``batch``: whole sequences go to one group, the
        busiest holds ``ceil(n / dp)`` of them (``Group.busiest``)."""
        return Group.busiest(batch, self.plan.dp, self._qps)

    def _accumulate(
        self, g: Group, total: Ops, table: LayerTable | None = None
    ) -> tuple[float, float, float]:
        """Price the iteration whose busiest group is ``g`` (``_group``) into ``total`` (an
        ``Ops`` for ``step``, a ``LeanOps`` for ``work``, its layers from ``table`` when given
        and on); returns the communication seconds hidden by micro-batch overlap, the
        framework's per-token cost and the seconds the device waits for the host's op
        dispatch."""
        plan = self.plan
        lean = isinstance(total, LeanOps)
        whole = g
        if plan.cp > 1:
            g = g.context_split(plan.cp)
        hidden = 0.0
        if g.tokens > 0:
            if table is None or not table.price(g, total):
                for count, is_moe, ratio, kind in self._groups:
                    if plan.micro_batch_overlap and g.tokens >= 2:
                        half = kind.price(g.half(), is_moe, ratio)
                        layer, hid = overlapped(half, comm_unit_share(self.card, plan.ep, g))
                        hidden += count * hid
                    else:
                        layer = kind.price(g, is_moe, ratio, lean)
                    total.merge(layer, float(count))
            self._after_layers(total, g, whole)
            if self.drafter is not None and g.dec_seqs > 0:
                self.drafter.add(total, g)
        framework_s = self._overhead(total, g)
        host_wait = 0.0
        host = self._host_s(g)
        if host is not None:
            host_wait = max(0.0, host - sum(total.t.values()))
            if host_wait > 0:
                total.add("overhead", kernels=1.0, launch_s=host_wait)
        return hidden, framework_s, host_wait

    def _after_layers(self, total: Ops, g: Group, whole: Group) -> None:
        """The LM head and the PP and CP transfers of group ``g`` (``whole``: before its
        context split), into ``total``: they read only the group's token counts."""
        self.head.add(total, g)
        if self.plan.pp > 1:
            self._pp_transfer(total, g)
        if self.plan.cp > 1:
            self._cp_exchange(total, whole)

    def _overhead(self, total: Ops, g: Group) -> float:
        """The iteration's fixed cost and the framework's per-token cost (returned) for group
        ``g``, into ``total``'s ``overhead``."""
        plan = self.plan
        framework_s = self.token_layer_s * g.dec_seqs * self._qps * self.model.num_layers / plan.tp
        total.add("overhead", kernels=1.0, launch_s=self.rates.iteration_s + framework_s)
        return framework_s

    def _host_s(self, g: Group) -> float | None:
        """Seconds the host takes to dispatch group ``g``'s ops (None: the host never waits)."""
        if self.host is None or not g.tokens > 0:
            return None
        return self.host.host_s(
            g.tokens, g.pre_tokens > 0, self._host_ops, self._host_attention_ops
        )

    def _token_ops(self, total: LeanOps, g: Group, whole: Group) -> float | None:
        """Every op of ``_accumulate`` after the layers that reads only token counts (all but
        the draft passes), into ``total``; returns ``_host_s`` (``ShapeTable``'s records)."""
        if g.tokens > 0:
            self._after_layers(total, g, whole)
        self._overhead(total, g)
        return self._host_s(g)

    @property
    def pipeline_stages(self) -> int:
        """The plan's pipeline stages: the serving simulator keeps that many micro-batches in
        flight per replica, each iteration priced over all stages (``accelsim.sim.engine``)."""
        return self.plan.pp

    @property
    def peak_flops(self) -> float:
        """Dense peak FLOP/s of the replica's cards in the compute dtype (the MFU denominator)."""
        return self.card.peak(self.prec.compute) * self.cards

    @property
    def peak_hbm_bandwidth(self) -> float:
        """HBM bandwidth of the replica's cards, bytes/s (the MBU denominator)."""
        return self.card.hbm_bandwidth * self.cards

    def _cp_exchange(self, ops: Ops, g: Group) -> None:
        """Context parallelism's traffic for group ``g`` (before its split; module docstring)."""
        plan, r = self.plan, self.rates
        layers, cp = self.model.num_layers, plan.cp
        link = self.fabrics.link(plan.tp * cp)
        kv = g.pre_tokens * self._kv_token_bytes / layers
        part = g.dec_seqs * g.q_per_seq * (self.model.hidden_size / plan.tp + 1.0) * 4.0
        calls = layers * (int(kv > 0) + int(part > 0))
        ops.add(
            "cp_kv_exchange",
            network_s=layers * (all_gather(link, kv, cp) + all_gather(link, part, cp)),
            kernels=calls * K_COLL,
            launch_s=r.launch_s,
            net=layers * (kv + part) * (cp - 1) / cp,
        )

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
