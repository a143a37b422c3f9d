"""Resolution: a scenario and the catalog in, its ``Deployment`` out — built once per scenario.

``deploy`` is the only place that turns a scenario's names into model objects: the card, the
model, the precision, the server and its fabrics, the draft model, and per pool (one colocated
pool, or the prefill and decode pools) the ``ParallelPlan``, its memory fit
(``accelsim.model.plan.fit``), KV capacity, scheduler and timing model (``PerfModel``, wired by
``perf_model_from_catalog``). The run (``accelsim.run.simulate``), the sweep evaluators and the
questions (compare, sizing, tune, the report) read these objects; no plan is read again as text
inside a run.

Resolving fills every default from the catalog and records it in the scenario (see
``accelsim.run.scenario``): the plan picked for the card count (``fit_best`` over
``cards * dies`` ranks when the scenario names none), the KV capacity per replica from the
memory fit (capped by ``kv_tokens`` when given), the traffic profile inlined, the trace file's
SHA-256, the P/D link from the server's scale-out fabric (``bandwidth_per_card`` x cards of one
prefill replica), and for a framework whose DP ranks each schedule their own share of the
budget (``per_rank_chunks``) a chunked-prefill pool's ``chunk_tokens``, and SGLang's
running-request limit per DP rank (``sglang_rank_requests``). A scenario already resolved
(``resolved: true``, e.g. one read back from the ``scenario.yaml`` next to a run's results)
keeps what it records; its plan text is read once here, at the edge.

Cards count packages and plan degrees ranks (dies on a multi-die card): ``plan_on_cards`` lays a
plan over ``cards * dies`` ranks and names both in its errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from accelsim.catalog.devices import Card, Fabric, FrameworkProfile, Server, packages
from accelsim.catalog.loader import Catalog, format_validation_error
from accelsim.catalog.workloads import ModelArch
from accelsim.dtypes import Precision, precision
from accelsim.errors import AccelsimError, CatalogError
from accelsim.model.perf.draft import SpecDecode
from accelsim.model.perf.model import PerfModel
from accelsim.model.plan import MemoryFit, ParallelPlan, fit, fit_best, parse_plan
from accelsim.model.routing import RoutingModel
from accelsim.run.scenario import DisaggSpec, PoolSpec, Scenario, read_scenario, traffic_profile
from accelsim.run.timing import perf_model_from_catalog
from accelsim.sim.admission import SchedulerConfig
from accelsim.sim.engine import KVTransfer
from accelsim.sim.traces import file_sha256
from accelsim.sim.traffic import TrafficSpec

__all__ = [
    "DeployedPool",
    "Deployment",
    "deploy",
    "draft_model",
    "file_resolver",
    "framework_profile",
    "load_scenario",
    "memory_options",
    "per_rank_chunks",
    "plan_on_cards",
    "resolve_scenario",
    "sglang_rank_requests",
]

#: SGLang's framework names (the scenario's ``framework.name``; ``sglang-ascend`` is SGLang's
#: profile on Ascend cards, devices/frameworks/sglang-ascend.yaml).
SGLANG = frozenset({"sglang", "sglang-ascend"})

#: Frameworks whose DP ranks each run a scheduler of their own, so that one prompt's chunk is at
#: most the replica's budget / dp:
#:
#: - vLLM deploys "each DP rank ... as a separate core engine process" (vLLM docs,
#:   serving/data_parallel_deployment.md), and every engine core builds its scheduler from the
#:   launch line's ``max_num_batched_tokens``. A scenario gives the replica's budget (the per-rank
#:   flag times dp).
#: - SGLang with DP attention (accelsim's dp > 1) launches one ``Scheduler`` process per attention
#:   DP rank (``managers/data_parallel_controller.py``
#:   ``DataParallelController.launch_dp_attention_schedulers``), each with its own waiting queue,
#:   ``PrefillAdder`` and running batch, and ``ServerArgs._handle_data_parallelism``
#:   (``server_args.py``) sets ``chunked_prefill_size = chunked_prefill_size // dp_size``: the
#:   launch line's ``--chunked-prefill-size`` is the replica's budget and a rank chunks a prompt
#:   at its share. ``--max-prefill-tokens`` is not divided (each rank's ``PrefillAdder`` starts
#:   from the whole flag), so a scenario gives dp x the flag for it, the replica's budget again.
#:   Read in the sglang 0.5.6 and 0.5.13 wheels (PyPI, sglang-0.5.6-py3-none-any.whl,
#:   sglang-0.5.13-cp311-cp311-manylinux_2_34_x86_64.whl), the releases that bracket the cases'
#:   sources (late 2025 docs, 2026 CI files); both read the same.
PER_RANK_SCHEDULERS = frozenset({"vllm"}) | SGLANG


def per_rank_chunks(sc: Scenario, plan: ParallelPlan, sched: SchedulerConfig) -> SchedulerConfig:
    """``sched`` with ``chunk_tokens`` = ``max_batched_tokens // dp`` (at least 1) when ``sc``'s
    framework schedules per DP rank (``PER_RANK_SCHEDULERS``: vLLM, SGLang), the pool chunks its
    prefills and its plan has dp > 1 and no ``chunk_tokens`` is given; else ``sched`` as it is."""
    fw = sc.framework
    if (
        fw is None
        or fw.name not in PER_RANK_SCHEDULERS
        or plan.dp == 1
        or not sched.rules.chunked
        or sched.chunk_tokens is not None
    ):
        return sched
    return sched.model_copy(update={"chunk_tokens": max(1, sched.max_batched_tokens // plan.dp)})


def sglang_rank_requests(
    sc: Scenario, plan: ParallelPlan, sched: SchedulerConfig, where: str = "scheduler"
) -> SchedulerConfig:
    """``sched`` with ``max_seqs`` = ``dp * (max_seqs // dp)`` when ``sc``'s framework is SGLang
    (``SGLANG``) and its plan has dp > 1; else ``sched`` as it is.

    SGLang's ``--max-running-requests`` is the server's: under DP attention each rank's scheduler
    gets ``max_running_requests // dp_size`` (``managers/tp_worker.py`` ``TpModelWorker.__init__``
    in sglang 0.5.6; ``model_executor/model_runner_kv_cache_mixin.py`` ``_resolve_max_num_reqs``
    in 0.5.13), and ``Scheduler.get_num_allocatable_reqs`` stops a rank's prefill batch there.
    accelsim spreads a replica's sequences evenly over its DP groups, so the replica holds dp
    times the rank's share; below one request per rank SGLang fails to start ("max_running_request
    is zero"), an error here naming ``where`` (the scenario's field). A scenario that gives no
    ``max_seqs`` keeps accelsim's default (256): SGLang's own default is sized from the KV pool."""
    fw = sc.framework
    if fw is None or fw.name not in SGLANG or plan.dp == 1:
        return sched
    per_rank = sched.max_seqs // plan.dp
    if per_rank == 0:
        raise AccelsimError(
            f"scenario {sc.name}: {where}.max_seqs {sched.max_seqs} is under the plan's dp="
            f"{plan.dp}: SGLang gives each DP-attention rank max_running_requests // dp_size = 0 "
            f"requests; give at least {plan.dp}"
        )
    if per_rank * plan.dp == sched.max_seqs:
        return sched
    return sched.model_copy(update={"max_seqs": per_rank * plan.dp})


@dataclass(frozen=True)
class DeployedPool:
    """One pool of identical replicas as the run uses it: ``role`` (``serving`` when colocated,
    else ``prefill`` or ``decode``), its plan (degrees count ranks; ``replicas`` copies), the
    memory fit of one rank, the KV capacity per replica (tokens; ``kv_tokens_per_seq`` for one
    sequence), its scheduler, the cards (packages) of one replica and its timing model."""

    role: str
    plan: ParallelPlan
    fit: MemoryFit
    kv_tokens: int
    kv_tokens_per_seq: int | None
    scheduler: SchedulerConfig
    cards_per_replica: int | float
    perf: PerfModel


@dataclass(frozen=True)
class Deployment:
    """A resolved scenario and every object its run needs (see the module docstring):
    ``pools`` is one colocated pool, or the prefill and decode pools, then ``transfer`` is the
    KV link of each prefill replica."""

    scenario: Scenario
    card: Card
    model: ModelArch
    precision: Precision
    server: Server
    scale_up: Fabric
    scale_out: Fabric
    draft: ModelArch | None
    pools: tuple[DeployedPool, ...]
    transfer: KVTransfer | None = None

    @property
    def disaggregated(self) -> bool:
        return len(self.pools) == 2

    @property
    def main(self) -> DeployedPool:
        """The colocated pool, or the prefill pool of a disaggregated deployment."""
        return self.pools[0]

    @property
    def decode(self) -> DeployedPool | None:
        """The decode pool of a disaggregated deployment (``None`` when colocated)."""
        return self.pools[1] if self.disaggregated else None

    @property
    def cards(self) -> int:
        """Cards (packages) of the whole deployment."""
        assert self.scenario.cards is not None
        return self.scenario.cards


def file_resolver(catalog: Catalog):
    """A function mapping a path a scenario names (a trace) to a file: absolute as is, else
    under the last catalog root that has it (the first root when none has)."""

    def resolve(path: str) -> Path:
        p = Path(path)
        if p.is_absolute():
            return p
        for root in reversed(catalog.roots):
            if (root / p).exists():
                return root / p
        return catalog.roots[0] / p

    return resolve


def _plan_shown(spec: Any) -> str:
    if isinstance(spec, ParallelPlan):
        return spec.text()
    if isinstance(spec, str):
        return spec
    return ",".join(f"{k}={v}" for k, v in spec.items())


def plan_on_cards(
    spec: str | dict[str, Any] | ParallelPlan,
    cards: int | None,
    dies: int,
    where: str = "",
    device: str = "card",
) -> ParallelPlan:
    """The plan ``spec`` (grammar text, mapping or ``ParallelPlan``) laid over ``cards`` cards
    of ``dies`` dies each (``cards * dies`` ranks; ``replicas`` fills them when absent); without
    ``cards`` the plan must fill whole cards.

    A mismatch is one error naming the cards, the dies per card and the ranks, e.g.
    ``plan 'tp=1,dp=32,ep=32,replicas=1' uses 32 ranks but cards: 8 x 2 dies (ascend-910c)
    hold 16 ranks``.
    """
    shown = _plan_shown(spec)
    alone = parse_plan(spec)
    if cards is None:
        if alone.ranks % dies:
            raise AccelsimError(
                f"{where}plan {shown!r} uses {alone.ranks} ranks: not whole cards of "
                f"{dies} dies ({device}); give cards, or a plan of a multiple of {dies} ranks"
            )
        return alone
    ranks = cards * dies
    have = f"cards: {cards}" if dies == 1 else f"cards: {cards} x {dies} dies ({device})"
    try:
        return parse_plan(spec, ranks)
    except AccelsimError:
        why = "plan degrees count ranks: dies on a multi-die card"
        given = isinstance(spec, ParallelPlan) or "replicas" in (
            spec if isinstance(spec, str) else {str(k) for k in spec}
        )
        if given:
            raise AccelsimError(
                f"{where}plan {shown!r} uses {alone.ranks} ranks but {have} hold "
                f"{ranks} ranks ({why})"
            ) from None
        raise AccelsimError(
            f"{where}plan {shown!r}: a replica of tp*dp*pp={alone.ranks_per_replica} ranks "
            f"does not divide the {ranks} ranks of {have} ({why})"
        ) from None


def framework_profile(sc: Scenario, catalog: Catalog) -> FrameworkProfile | None:
    """The profile of the serving framework ``sc`` names on its card's vendor (or the
    framework's vendor-free profile), None when it names none or the catalog has none."""
    if sc.framework is None:
        return None
    return catalog.framework_profile(sc.framework.name, catalog.device(sc.device).vendor)


def memory_options(
    sc: Scenario,
    draft: ModelArch | None,
    memory_fraction: float | None = None,
    *,
    profile: FrameworkProfile | None = None,
    ranks: int | None = None,
) -> dict[str, Any]:
    """Keyword arguments of ``plan.fit`` / ``fit_best`` that the scenario fixes: the serving
    framework's memory fraction (``memory_fraction`` overrides it, e.g. a pool's own) and what
    it covers — where the scenario states neither, what the framework's ``profile`` says
    (``FrameworkProfile.memory``: its meaning and default, SGLang's by the ``ranks`` of one
    replica) — and the speculative ``draft`` model (``draft_model``) whose weights and KV share
    the rank."""
    fw = sc.framework
    rule = profile.memory if profile is not None else None
    if memory_fraction is None and fw is not None:
        memory_fraction = fw.memory_fraction
    if memory_fraction is None and rule is not None:
        memory_fraction = rule.default_fraction(ranks or 1)
    memory: dict[str, Any] = {}
    if memory_fraction is not None:
        memory["reserve_fraction"] = 1.0 - memory_fraction
    covers = fw.memory_fraction_covers if fw is not None else None
    if covers is None and rule is not None:
        covers = rule.covers
    if covers is not None:
        memory["memory_fraction_covers"] = covers
    if draft is not None:
        memory["draft"] = draft
    return memory


def draft_model(sc: Scenario, catalog: Catalog) -> ModelArch | None:
    """The draft model ``sc.speculative.draft_model`` names, checked: it must exist, be a draft
    (a ``draft:`` section), draft for the scenario's model, and go with method eagle/eagle3.
    ``None`` when the scenario names none."""
    spec = sc.speculative
    if spec is None or spec.draft_model is None:
        return None
    at = f"scenario {sc.name}: speculative.draft_model"
    if spec.method == "mtp":
        raise AccelsimError(
            f"{at} {spec.draft_model!r}: method mtp uses the model's own MTP module; "
            "a separate draft model needs method eagle or eagle3"
        )
    try:
        draft = catalog.model(spec.draft_model)
    except AccelsimError as exc:
        raise AccelsimError(f"{at}: {exc}") from None
    if draft.draft is None:
        raise AccelsimError(
            f"{at} {spec.draft_model!r} is not a draft model (its file has no draft: section)"
        )
    if draft.draft.target != sc.model:
        raise AccelsimError(
            f"{at} {spec.draft_model!r} drafts for {draft.draft.target}, not for {sc.model}"
        )
    return draft


@dataclass(frozen=True)
class _Objects:
    """The catalog objects of one scenario, looked up once."""

    card: Card
    model: ModelArch
    precision: Precision
    server: Server
    draft: ModelArch | None
    profile: FrameworkProfile | None


@dataclass(frozen=True)
class _Pool:
    """One resolved pool before its timing model."""

    role: str
    plan: ParallelPlan
    fit: MemoryFit
    kv_tokens: int
    kv_tokens_per_seq: int | None
    scheduler: SchedulerConfig


def _objects(sc: Scenario, catalog: Catalog) -> _Objects:
    if not sc.resolved:
        for name in (sc.device, *sc.devices):
            catalog.device(name)
        if sc.server:
            catalog.server(sc.server)
    card = catalog.device(sc.device)
    arch = catalog.model(sc.model)
    if not sc.resolved and arch.draft is not None:
        raise AccelsimError(
            f"scenario {sc.name}: model {sc.model!r} is a draft model; serve its target "
            f"{arch.draft.target!r} and name the draft in speculative.draft_model"
        )
    draft = draft_model(sc, catalog)
    server = catalog.server(sc.server) if sc.server else catalog.server_for(card)
    return _Objects(
        card, arch, precision(sc.dtype, sc.kv_dtype), server, draft, framework_profile(sc, catalog)
    )


def _fit(
    sc: Scenario,
    obj: _Objects,
    plan: ParallelPlan,
    scheduler: SchedulerConfig,
    memory_fraction: float | None,
) -> MemoryFit:
    return fit(
        obj.model,
        obj.card,
        plan,
        obj.precision,
        sc.context,
        max_batched_tokens=scheduler.max_batched_tokens,
        max_seqs=scheduler.max_seqs,
        include_mtp=bool(sc.speculative and sc.speculative.method == "mtp"),
        **memory_options(
            sc, obj.draft, memory_fraction, profile=obj.profile, ranks=plan.ranks_per_replica
        ),
    )


def _resolve_pool(
    sc: Scenario,
    obj: _Objects,
    role: str,
    spec: PoolSpec | None,
) -> _Pool:
    """Plan, fit and KV capacity of the colocated pool (``spec`` None) or of a disaggregated
    pool; a plan that does not fit is an error naming the shortfall."""
    if spec is None:
        cards, plan_spec, what = sc.cards, sc.plan, ""
        kv_tokens, kv_per_seq = sc.kv_tokens, sc.kv_tokens_per_seq
        scheduler, memory_fraction = None, None
    else:
        cards, plan_spec, what = spec.cards, spec.plan, f"{role} pool: "
        kv_tokens, kv_per_seq = spec.kv_tokens, spec.kv_tokens_per_seq
        scheduler, memory_fraction = spec.scheduler, spec.memory_fraction
    sched = scheduler or sc.scheduler
    card = obj.card
    if plan_spec is None:
        assert cards is not None
        best = fit_best(
            obj.model,
            card,
            cards,
            obj.precision,
            sc.context,
            obj.server.scale_up_domain_cards,
            **memory_options(
                sc, obj.draft, memory_fraction, profile=obj.profile, ranks=cards * card.dies
            ),
        )
        plan = best.plan
    else:
        plan = plan_on_cards(plan_spec, cards, card.dies, f"scenario {sc.name}: {what}", sc.device)
    sched = per_rank_chunks(sc, plan, sched)
    field = (
        "scheduler"
        if spec is None or spec.scheduler is None
        else f"disaggregation.{role}.scheduler"
    )
    sched = sglang_rank_requests(sc, plan, sched, field)
    mf = _fit(sc, obj, plan, sched, memory_fraction)
    if not mf.fits:
        per, dies = plan.ranks_per_replica, card.dies
        on = f"{per}" if dies == 1 else f"{packages(per, dies):g} ({per} dies)"
        raise AccelsimError(
            f"scenario {sc.name}: {what}{sc.model} does not fit on {on} x "
            f"{sc.device} with plan {plan.label()} at {sc.dtype} (short by "
            f"{mf.shortfall / 2**30:.1f} GiB per {'card' if dies == 1 else 'die'} for one "
            f"{sc.context}-token sequence)"
        )
    kv = mf.max_kv_tokens if kv_tokens is None else min(kv_tokens, mf.max_kv_tokens)
    per_seq = mf.max_kv_tokens // plan.dp if kv_per_seq is None else kv_per_seq
    return _Pool(role, plan, mf, kv, min(per_seq, kv), sched)


def _recorded_pool(sc: Scenario, obj: _Objects, role: str, spec: PoolSpec | None) -> _Pool:
    """A pool as a resolved scenario records it (its plan read once, here)."""
    if spec is None:
        plan_spec, kv, per_seq = sc.plan, sc.kv_tokens, sc.kv_tokens_per_seq
        scheduler, fraction = None, None
    else:
        plan_spec, kv, per_seq = spec.plan, spec.kv_tokens, spec.kv_tokens_per_seq
        scheduler, fraction = spec.scheduler, spec.memory_fraction
    if plan_spec is None:
        raise AccelsimError(f"scenario {sc.name}: resolved, but records no plan for {role}")
    plan = parse_plan(plan_spec)
    sched = scheduler or sc.scheduler
    return _Pool(role, plan, _fit(sc, obj, plan, sched, fraction), kv or 0, per_seq, sched)


def _traffic(sc: Scenario, catalog: Catalog) -> TrafficSpec:
    traffic = sc.traffic
    if isinstance(traffic, str):
        raw = traffic_profile(traffic, catalog)
        try:
            traffic = TrafficSpec.model_validate(raw)
        except ValidationError as exc:
            raise CatalogError(
                format_validation_error(f"traffic profile {traffic}", exc, raw)
            ) from None
    if traffic.trace is not None and traffic.trace_sha256 is None:
        path = file_resolver(catalog)(traffic.trace)
        if not path.is_file():
            raise AccelsimError(f"traffic: trace file {traffic.trace} not found")
        traffic = traffic.model_copy(update={"trace_sha256": file_sha256(path)})
    return traffic


def _resolve(sc: Scenario, catalog: Catalog) -> tuple[Scenario, _Objects, list[_Pool]]:
    """The scenario with every default recorded, its objects and its pools."""
    obj = _objects(sc, catalog)
    if sc.context > obj.model.max_context:
        raise AccelsimError(
            f"scenario {sc.name}: field context: {sc.context:,} tokens is over {sc.model}'s "
            f"max_context {obj.model.max_context:,}"
        )
    if sc.resolved:
        if sc.disaggregation is None:
            return sc, obj, [_recorded_pool(sc, obj, "serving", None)]
        d = sc.disaggregation
        pools = [_recorded_pool(sc, obj, role, getattr(d, role)) for role in ("prefill", "decode")]
        return sc, obj, pools
    update: dict[str, Any] = {"kv_dtype": obj.precision.kv, "resolved": True}
    if not sc.devices:
        update["devices"] = [sc.device]
    update["traffic"] = _traffic(sc, catalog)
    fw, rule = sc.framework, obj.profile.memory if obj.profile is not None else None
    if fw is not None and fw.memory_fraction_covers is None and rule is not None:
        # recorded, so that the digest tells apart what the framework's default meant
        update["framework"] = fw.model_copy(update={"memory_fraction_covers": rule.covers})
    if sc.disaggregation is None:
        pool = _resolve_pool(sc, obj, "serving", None)
        update.update(
            cards=pool.plan.ranks // obj.card.dies,
            plan=pool.plan,
            kv_tokens=pool.kv_tokens,
            kv_tokens_per_seq=pool.kv_tokens_per_seq,
            scheduler=pool.scheduler,
        )
        return sc.model_copy(update=update), obj, [pool]
    d = sc.disaggregation
    pools = [_resolve_pool(sc, obj, role, getattr(d, role)) for role in ("prefill", "decode")]
    specs = {
        p.role: PoolSpec(
            cards=p.plan.ranks // obj.card.dies,
            plan=p.plan,
            kv_tokens=p.kv_tokens,
            kv_tokens_per_seq=p.kv_tokens_per_seq,
            scheduler=(
                p.scheduler
                if p.scheduler is not (getattr(d, p.role).scheduler or sc.scheduler)
                else getattr(d, p.role).scheduler
            ),
            memory_fraction=getattr(d, p.role).memory_fraction,
            graph=getattr(d, p.role).graph,
            graph_max_tokens=getattr(d, p.role).graph_max_tokens,
        )
        for p in pools
    }
    fabric = catalog.fabric(obj.server.scale_out_fabric)
    ranks = pools[0].plan.ranks_per_replica
    bw = d.link_bandwidth or fabric.bandwidth_per_card * ranks / obj.card.dies
    lat = d.link_latency if d.link_latency is not None else fabric.latency
    update["disaggregation"] = DisaggSpec(
        prefill=specs["prefill"], decode=specs["decode"], link_bandwidth=bw, link_latency=lat
    )
    update["cards"] = specs["prefill"].cards + specs["decode"].cards
    return sc.model_copy(update=update), obj, pools


def resolve_scenario(sc: Scenario, catalog: Catalog) -> Scenario:
    """Fill every default from the catalog and record it (see the module docstring); a resolved
    scenario is returned as it is."""
    if sc.resolved:
        return sc
    return _resolve(sc, catalog)[0]


def _perf_model(
    sc: Scenario,
    catalog: Catalog,
    plan: ParallelPlan,
    prec: Precision,
    scheduler: SchedulerConfig | None = None,
    pool: PoolSpec | None = None,
) -> PerfModel:
    """The timing model of one replica of resolved ``sc`` under ``plan``: its precision,
    routing skew (with drift), speculative decoding (with its draft model), server, framework
    iteration overhead, the framework's profile on the card's vendor and its graph settings
    (a disaggregated ``pool``'s own first; with the pool's ``scheduler`` limits for the default
    capture rule)."""
    rs, fw = sc.routing_skew, sc.framework
    graph = fw.graph if fw is not None else None
    graph_max_tokens = fw.graph_max_tokens if fw is not None else None
    if pool is not None:
        graph = pool.graph or graph
        graph_max_tokens = pool.graph_max_tokens or graph_max_tokens
    spec = None
    if sc.speculative is not None and sc.speculative.draft_tokens > 0:
        s = sc.speculative
        spec = SpecDecode(s.method, s.draft_tokens, s.acceptance, s.draft_model)
    return perf_model_from_catalog(
        catalog,
        sc.model,
        sc.device,
        plan,
        prec,
        routing=RoutingModel(kind=rs.kind, skew=rs.skew, drift=rs.drift, seed=rs.seed),
        spec=spec,
        server=sc.server,
        iteration_overhead=fw.iteration_overhead if fw is not None else None,
        framework=fw.name if fw is not None else None,
        graph=graph,
        graph_max_tokens=graph_max_tokens,
        max_seqs=scheduler.max_seqs if scheduler is not None else None,
        max_batched_tokens=scheduler.max_batched_tokens if scheduler is not None else None,
    )


def _pool_spec(sc: Scenario, role: str) -> PoolSpec | None:
    """The disaggregated pool ``role`` of ``sc`` as written, None for a colocated pool."""
    d = sc.disaggregation
    if d is None or role not in ("prefill", "decode"):
        return None
    return d.prefill if role == "prefill" else d.decode


def deploy(sc: Scenario | Deployment, catalog: Catalog) -> Deployment:
    """The ``Deployment`` of ``sc``, resolved once (a ``Deployment`` is returned as it is)."""
    if isinstance(sc, Deployment):
        return sc
    resolved, obj, pools = _resolve(sc, catalog)
    card, prec = obj.card, obj.precision
    deployed = tuple(
        DeployedPool(
            p.role,
            p.plan,
            p.fit,
            p.kv_tokens,
            p.kv_tokens_per_seq,
            p.scheduler,
            packages(p.plan.ranks_per_replica, card.dies),
            _perf_model(resolved, catalog, p.plan, prec, p.scheduler, _pool_spec(resolved, p.role)),
        )
        for p in pools
    )
    transfer = None
    d = resolved.disaggregation
    if d is not None:
        transfer = KVTransfer(
            obj.model.kv_bytes_per_token(prec.kv_bytes),
            d.link_bandwidth or 1.0,
            d.link_latency or 0.0,
        )
    return Deployment(
        resolved,
        card,
        obj.model,
        prec,
        obj.server,
        catalog.fabric(obj.server.scale_up_fabric),
        catalog.fabric(obj.server.scale_out_fabric),
        obj.draft,
        deployed,
        transfer,
    )


def load_scenario(
    source: str | Path | dict[str, Any], catalog: Catalog, overrides: Any = None
) -> Scenario:
    """Read a scenario (``accelsim.run.scenario.read_scenario``: path, name or raw dict, with
    the overrides) and resolve it."""
    return resolve_scenario(read_scenario(source, catalog, overrides), catalog)
