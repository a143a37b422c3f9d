"""A Scenario: every input of one serving run, resolved — load/dump YAML, digest, run.

A scenario file (``workloads/scenarios/*.yaml``) names the model, the device, the card count and
plan (or disaggregated prefill/decode pools), the dtypes, the scheduler, the router, the traffic
(a profile name from ``workloads/traffic/`` or an inline mapping), the SLOs, the horizon, the
seed, speculative decoding and the expert-routing skew. ``resolve_scenario`` fills every default
from the catalog and *writes it into the scenario* — the plan picked for the card count, the KV
capacity per replica from ``accelsim.model.plan.fit``, the traffic profile inlined, the trace file's
SHA-256, the P/D link from the server's scale-out fabric — so the resolved scenario saved next
to the results reproduces the run, and its ``digest`` (SHA-256 of its canonical JSON)
identifies it.

Defaults (recorded in the resolved scenario): dtype ``bf16`` with the preset's KV dtype;
context 4096 tokens for the memory-fit check; router ``least_outstanding_tokens``; no
speculative decoding; uniform expert routing; scheduler defaults of ``SchedulerConfig``;
``horizon`` (arrivals accepted before it) unset: every generated request is served; no
``framework`` (iteration overhead from the card's efficiency profile, memory fraction 0.9 of HBM
for weights, activations and KV — vLLM's default ``gpu_memory_utilization``); each
disaggregated pool uses the scenario's ``scheduler`` and ``framework.memory_fraction`` unless it
names its own.

Cards and ranks: ``cards`` (and a pool's ``cards``) counts cards — packages — everywhere, as the
cost model does (capex is per card); plan degrees count *ranks*, dies on a multi-die card (a
910C package holds two, and its published plans count dies). A plan therefore occupies
``cards * dies`` ranks: without ``replicas`` it is repeated to fill them, with ``replicas`` its
``tp * dp * pp * replicas`` must equal them (a 910C scenario with ``cards: 16`` takes
``plan: tp=1,dp=32,ep=32``), and a plan given without ``cards`` must fill whole cards. Without a
plan, ``fit_best`` lays one over the ``cards * dies`` ranks. The resolved scenario records the
cards and the plan with its replicas; the run summary's ``cards`` (and every per-card
throughput and the energy) counts the same packages. On single-die cards rank and card coincide.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import Field, ValidationError, model_validator

from accelsim.catalog.devices import Server, packages
from accelsim.catalog.loader import Catalog, Override, format_validation_error, read_yaml
from accelsim.catalog.schema import Bandwidth, Frozen, Time
from accelsim.catalog.workloads import ModelArch
from accelsim.dtypes import precision
from accelsim.errors import AccelsimError, CatalogError, suggest
from accelsim.model.plan import ParallelPlan, fit, fit_best, parse_plan
from accelsim.questions.claims import Claim
from accelsim.sim.admission import SchedulerConfig
from accelsim.sim.traffic import TrafficSpec, file_sha256, generate

__all__ = [
    "DisaggSpec",
    "FrameworkSpec",
    "PoolSpec",
    "RoutingSkewSpec",
    "Scenario",
    "SloSpec",
    "SpeculativeSpec",
    "apply_scenario_overrides",
    "draft_model",
    "dump_scenario",
    "load_scenario",
    "memory_options",
    "plan_on_cards",
    "resolve_scenario",
    "run_scenario",
    "scenario_path",
    "scenario_perf_model",
]

SCENARIO_FOLDER = "workloads/scenarios"
TRAFFIC_FOLDER = "workloads/traffic"


class PoolSpec(Frozen):
    """One pool of a disaggregated deployment: its cards and plan (``replicas`` fills the
    cards when absent), and optionally its own scheduler (default: the scenario's), e.g. a
    prefill pool with a small ``max_seqs`` next to a decode pool with a large one.

    ``cards`` counts cards (packages); the plan's degrees count ranks, ``cards * dies`` of
    them (a 910C pool of ``cards: 16`` holds ``tp=1,dp=32,ep=32``)."""

    cards: int = Field(ge=1)
    plan: str | None = None
    kv_tokens: int | None = Field(default=None, ge=1)
    kv_tokens_per_seq: int | None = Field(default=None, ge=1)
    scheduler: SchedulerConfig | None = None
    #: This pool's framework memory fraction (default: ``framework.memory_fraction``).
    memory_fraction: float | None = Field(default=None, gt=0, le=1)


class DisaggSpec(Frozen):
    """Prefill/decode disaggregation: two pools and the KV link of each prefill replica
    (default: the server's scale-out fabric, ``bandwidth_per_card`` x cards per replica)."""

    prefill: PoolSpec
    decode: PoolSpec
    link_bandwidth: Bandwidth | None = None
    link_latency: Time | None = None


class SloSpec(Frozen):
    ttft: Time | None = None
    tpot: Time | None = None


class SpeculativeSpec(Frozen):
    """Speculative decoding / MTP: ``draft_tokens`` proposals per step, each accepted with
    probability ``acceptance`` given the previous ones were.

    ``draft_model`` (methods ``eagle``/``eagle3``) names the separate draft model in
    ``workloads/models/`` (a file with a ``draft:`` section drafting for the scenario's model):
    the memory fit charges its weights and KV pool on every rank (``accelsim.model.plan.fit``) and
    the
    timing model its forward passes (``accelsim.model.perf``). Without it an EAGLE draft is priced
    by
    the timing model's generic one-layer estimate and takes no memory."""

    method: Literal["mtp", "eagle", "eagle3"] = "mtp"
    draft_tokens: int = Field(default=1, ge=0)
    acceptance: float = Field(default=0.7, ge=0, le=1)
    draft_model: str | None = None


class RoutingSkewSpec(Frozen):
    """Expert-popularity skew handed to the timing model (``accelsim.model.routing``): long-run
    popularity (``kind``, ``skew``) and the per-batch ``drift`` from it that an EPLB placement
    cannot see (``accelsim.validate.cases``'s ``production`` profile is ``zipf`` with skew 0, i.e.
    uniform, plus the fitted drift)."""

    kind: Literal["uniform", "zipf", "dirichlet"] = "uniform"
    skew: float = Field(default=0.0, ge=0)
    drift: float = Field(default=0.0, ge=0)
    seed: int = 0


class FrameworkSpec(Frozen):
    """The serving framework's own settings, when a source states them.

    ``iteration_overhead`` (seconds per forward iteration: scheduling, batch preparation,
    sampling, graph launch) replaces the card's ``efficiency.iteration_overhead`` in every
    pool's timing model; ``name`` says which framework (and backend) the figure belongs to and
    ``source`` where it comes from. ``name`` also brings in the framework's calibrated profile
    on the card's vendor when ``devices/frameworks`` has one (``sglang`` on Huawei cards:
    ``accelsim.catalog.devices.FrameworkProfile``).

    ``memory_fraction`` is the share of each rank's HBM the framework may use (vLLM
    ``--gpu-memory-utilization``, SGLang ``--mem-fraction-static``); ``accelsim.model.plan.fit``
    reserves the rest, so the KV capacity follows it (default: ``accelsim.model.plan``'s 0.9, vLLM's
    default). ``memory_fraction_covers`` says what the fraction holds: ``all`` (weights,
    activations and KV cache — vLLM) or ``static`` (weights and KV pool, the activation
    workspace in the remainder — SGLang). A disaggregated pool may set its own
    ``memory_fraction`` (the prefill and decode servers are launched separately)."""

    name: str
    iteration_overhead: Time | None = None
    memory_fraction: float | None = Field(default=None, gt=0, le=1)
    memory_fraction_covers: Literal["all", "static"] = "all"
    source: str = ""


class Scenario(Frozen):
    """Every input of one run (see the module docstring)."""

    name: str = "scenario"
    description: str = ""
    model: str
    device: str
    devices: list[str] = Field(default_factory=list)
    #: The server the cards sit in (default: the card's ``default_server``): its scale-up
    #: domain, fabrics and node size. E.g. ``cloudmatrix384`` for Atlas A3 nodes joined by UB.
    server: str | None = None
    #: Cards (packages; ``cards * dies`` ranks for the plan — a 910C card holds two dies).
    cards: int | None = Field(default=None, ge=1)
    plan: str | None = None
    disaggregation: DisaggSpec | None = None
    dtype: str = "bf16"
    kv_dtype: str | None = None
    context: int = Field(default=4096, ge=1)
    kv_tokens: int | None = Field(default=None, ge=1)
    kv_tokens_per_seq: int | None = Field(default=None, ge=1)
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)
    router: Literal["round_robin", "least_outstanding_tokens", "power_of_two"] = (
        "least_outstanding_tokens"
    )
    traffic: TrafficSpec | str
    slo: SloSpec = Field(default_factory=SloSpec)
    horizon: Time | None = None
    seed: int = 0
    speculative: SpeculativeSpec | None = None
    routing_skew: RoutingSkewSpec = Field(default_factory=RoutingSkewSpec)
    framework: FrameworkSpec | None = None
    #: Published claims to check (``accelsim.questions.claims``); not a run input, so left out of
    # dumps
    #: and of the digest.
    claims: list[Claim] = Field(default_factory=list, exclude=True)
    resolved: bool = False

    @model_validator(mode="after")
    def _check(self) -> Scenario:
        if self.disaggregation is None and self.cards is None and self.plan is None:
            raise ValueError("give cards (and optionally plan), or disaggregation pools")
        return self

    def canonical(self) -> dict[str, Any]:
        """The JSON-ready fields of this scenario, without the optional fields added after
        the first scenario files (``framework``, its ``memory_fraction`` and
        ``memory_fraction_covers``, ``server``, a pool's ``scheduler`` and ``memory_fraction``,
        ``routing_skew.drift``, a scheduler's ``preemption``, ``speculative.draft_model``) when
        they hold their defaults — so the digest of a scenario that does not use them stays what
        it was."""
        data = self.model_dump(mode="json")
        spec = data.get("speculative")
        if spec is not None and spec.get("draft_model") is None:
            spec.pop("draft_model", None)
        for key in ("framework", "server"):
            if data.get(key) is None:
                data.pop(key, None)
        fw = data.get("framework")
        if fw is not None:
            if fw.get("memory_fraction") is None:
                fw.pop("memory_fraction", None)
            if fw.get("memory_fraction_covers") == "all":
                fw.pop("memory_fraction_covers", None)
        if data["routing_skew"].get("drift") == 0.0:
            data["routing_skew"].pop("drift")
        _drop_default_preemption(data.get("scheduler"))
        pools = data.get("disaggregation") or {}
        for role in ("prefill", "decode"):
            if role not in pools:
                continue
            for key in ("scheduler", "memory_fraction"):
                if pools[role].get(key) is None:
                    pools[role].pop(key, None)
            _drop_default_preemption(pools[role].get("scheduler"))
        return data

    @property
    def digest(self) -> str:
        """SHA-256 of the canonical JSON of this scenario (resolve it first)."""
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def traffic_spec(self) -> TrafficSpec:
        if isinstance(self.traffic, str):
            raise AccelsimError("scenario: traffic profile not resolved (use resolve_scenario)")
        return self.traffic


def _drop_default_preemption(sched: dict[str, Any] | None) -> None:
    if sched is not None and sched.get("preemption") == "recompute":
        sched.pop("preemption")


# ---- loading, overrides, dumping --------------------------------------------------------
def scenario_path(name_or_path: str | Path, catalog: Catalog) -> Path:
    """A scenario file: an existing path, or a name in ``workloads/scenarios/``."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") and p.is_file():
        return p
    files = catalog.folder_files(SCENARIO_FOLDER)
    if str(name_or_path) in files:
        return files[str(name_or_path)]
    if p.is_file():
        return p
    raise suggest(str(name_or_path), sorted(files), "scenario")


def _value(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def apply_scenario_overrides(
    raw: dict[str, Any], overrides: Any, catalog: Catalog | None = None
) -> dict[str, Any]:
    """Set dotted fields (``traffic.rate=40/s``) on raw scenario data before validation.

    ``overrides`` holds ``Override`` objects (``.field``/``.value``), ``"FIELD=VALUE"`` strings
    or is a ``{field: value}`` dict; text values are read as YAML scalars (``40`` -> 40). With
    ``catalog``, a traffic profile named by the scenario is inlined first, so its fields can
    be overridden.
    """
    data = copy.deepcopy(raw)
    items: list[tuple[str, Any]] = []
    if isinstance(overrides, dict):
        items = list(overrides.items())
    else:
        for o in overrides or ():
            if isinstance(o, Override):
                items.append((o.field, _value(o.value)))
            else:
                key, sep, val = str(o).partition("=")
                if not sep:
                    raise AccelsimError(f"--set {o!r}: expected scenario.FIELD=VALUE")
                items.append((key.removeprefix("scenario."), _value(val)))
    for path, value in items:
        keys = path.split(".")
        if keys[0] == "traffic" and isinstance(data.get("traffic"), str) and catalog is not None:
            data["traffic"] = _traffic_raw(data["traffic"], catalog)
        node = data
        for key in keys[:-1]:
            child = node.get(key)
            if child is None:
                child = {}
                node[key] = child
            if not isinstance(child, dict):
                raise AccelsimError(f"--set scenario.{path}: {key!r} is not a group of fields")
            node = child
        node[keys[-1]] = value
    return data


def _traffic_raw(name: str, catalog: Catalog) -> dict[str, Any]:
    files = catalog.folder_files(TRAFFIC_FOLDER)
    if name not in files:
        raise suggest(name, sorted(files), "traffic profile")
    data = read_yaml(files[name])
    if not isinstance(data, dict):
        raise CatalogError(f"{files[name]}: expected a mapping of fields at top level")
    data.setdefault("name", name)
    return data


def load_scenario(
    source: str | Path | dict[str, Any],
    catalog: Catalog,
    overrides: Any = None,
    *,
    resolve: bool = True,
) -> Scenario:
    """Read a scenario (path, name in ``workloads/scenarios/`` or raw dict), apply overrides
    (default: the catalog's ``scenario.*`` overrides) and resolve it."""
    if isinstance(source, dict):
        raw, where = source, "scenario"
    else:
        path = scenario_path(source, catalog)
        raw = read_yaml(path)
        where = str(path)
        if not isinstance(raw, dict):
            raise CatalogError(f"{path}: expected a mapping of fields at top level")
        raw.setdefault("name", path.stem)
    if overrides is None:
        overrides = catalog.scenario_overrides
    if overrides:
        raw = apply_scenario_overrides(raw, overrides, catalog)
        raw["resolved"] = False  # re-resolve what the overrides may have changed
    try:
        sc = Scenario.model_validate(raw)
    except ValidationError as exc:
        err = format_validation_error(where, exc)
        raise (AccelsimError(err) if overrides else CatalogError(err)) from None
    return resolve_scenario(sc, catalog) if resolve else sc


def dump_scenario(scenario: Scenario) -> str:
    """YAML text of the scenario (with its digest as a comment on the first line)."""
    body = yaml.safe_dump(scenario.canonical(), sort_keys=False)
    return f"# digest: {scenario.digest}\n{body}"


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# ---- resolution -------------------------------------------------------------------------
def _resolver(catalog: Catalog):
    def resolve(path: str) -> Path:
        p = Path(path)
        if p.is_absolute():
            return p
        for root in reversed(catalog.roots):
            if (root / p).exists():
                return root / p
        return catalog.roots[0] / p

    return resolve


def _server(sc: Scenario, catalog: Catalog) -> Server:
    """The scenario's server: the one it names, else the card's default server."""
    return catalog.server(sc.server) if sc.server else catalog.server_for(catalog.device(sc.device))


def plan_on_cards(
    plan_text: str, cards: int | None, dies: int, where: str = "", device: str = "card"
) -> ParallelPlan:
    """``plan_text`` laid over ``cards`` cards of ``dies`` dies each (``cards * dies`` ranks;
    ``replicas`` fills them when absent); without ``cards`` the plan must fill whole cards.

    A mismatch is one error naming the cards, the dies per card and the ranks, e.g.
    ``plan 'tp=1,dp=32,ep=32,replicas=1' uses 32 ranks but cards: 8 x 2 dies (ascend-910c)
    hold 16 ranks``.
    """
    alone = parse_plan(plan_text)
    if cards is None:
        if alone.cards % dies:
            raise AccelsimError(
                f"{where}plan {plan_text!r} uses {alone.cards} ranks: not whole cards of "
                f"{dies} dies ({device}); give cards, or a plan of a multiple of {dies} ranks"
            )
        return alone
    ranks = cards * dies
    have = f"cards: {cards}" if dies == 1 else f"cards: {cards} x {dies} dies ({device})"
    try:
        return parse_plan(plan_text, ranks)
    except AccelsimError:
        why = "plan degrees count ranks: dies on a multi-die card"
        if "replicas" in plan_text:
            raise AccelsimError(
                f"{where}plan {plan_text!r} uses {alone.cards} ranks but {have} hold "
                f"{ranks} ranks ({why})"
            ) from None
        raise AccelsimError(
            f"{where}plan {plan_text!r}: a replica of tp*dp*pp={alone.cards_per_replica} ranks "
            f"does not divide the {ranks} ranks of {have} ({why})"
        ) from None


def _resolve_pool(
    sc: Scenario,
    catalog: Catalog,
    cards: int | None,
    plan_text: str | None,
    kv_tokens: int | None,
    kv_per_seq: int | None,
    what: str,
    scheduler: SchedulerConfig | None = None,
    memory_fraction: float | None = None,
) -> dict[str, Any]:
    sched = scheduler or sc.scheduler
    memory = memory_options(sc, catalog, memory_fraction)
    arch = catalog.model(sc.model)
    card = catalog.device(sc.device)
    prec = precision(sc.dtype, sc.kv_dtype)
    if plan_text is None:
        assert cards is not None
        srv = _server(sc, catalog)
        best = fit_best(arch, card, cards, prec, sc.context, srv.scale_up_domain_cards, **memory)
        plan = best.plan
    else:
        plan = plan_on_cards(plan_text, cards, card.dies, f"scenario {sc.name}: {what}", sc.device)
    mf = fit(
        arch,
        card,
        plan,
        prec,
        sc.context,
        max_batched_tokens=sched.max_batched_tokens,
        max_seqs=sched.max_seqs,
        include_mtp=bool(sc.speculative and sc.speculative.method == "mtp"),
        **memory,
    )
    if not mf.fits:
        per, dies = plan.cards_per_replica, card.dies
        on = f"{per}" if dies == 1 else f"{packages(per, dies):g} ({per} dies)"
        raise AccelsimError(
            f"scenario {sc.name}: {what}{sc.model} does not fit on {on} x "
            f"{sc.device} with plan {plan.label()} at {sc.dtype} (short by "
            f"{mf.shortfall / 2**30:.1f} GiB per {'card' if dies == 1 else 'die'} for one "
            f"{sc.context}-token sequence)"
        )
    kv = mf.max_kv_tokens if kv_tokens is None else min(kv_tokens, mf.max_kv_tokens)
    per_seq = mf.max_kv_tokens // plan.dp if kv_per_seq is None else kv_per_seq
    return {
        "cards": plan.cards // card.dies,
        "plan": plan.label() if plan.replicas > 1 else plan.label() + ",replicas=1",
        "kv_tokens": kv,
        "kv_tokens_per_seq": min(per_seq, kv),
    }


def memory_options(
    sc: Scenario, catalog: Catalog, memory_fraction: float | None = None
) -> dict[str, Any]:
    """Keyword arguments of ``plan.fit`` / ``fit_best`` that the scenario fixes: the serving
    framework's memory fraction (``memory_fraction`` overrides it, e.g. a pool's own) and what
    it covers, and the speculative draft model whose weights and KV share the rank."""
    fw = sc.framework
    if memory_fraction is None and fw is not None:
        memory_fraction = fw.memory_fraction
    memory: dict[str, Any] = {}
    if memory_fraction is not None:
        memory["reserve_fraction"] = 1.0 - memory_fraction
    if fw is not None:
        memory["memory_fraction_covers"] = fw.memory_fraction_covers
    draft = draft_model(sc, catalog)
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


def resolve_scenario(sc: Scenario, catalog: Catalog) -> Scenario:
    """Fill every default from the catalog and record it (see the module docstring)."""
    if sc.resolved:
        return sc
    for name in (sc.device, *sc.devices):
        catalog.device(name)
    if sc.server:
        catalog.server(sc.server)
    if catalog.model(sc.model).draft is not None:
        raise AccelsimError(
            f"scenario {sc.name}: model {sc.model!r} is a draft model; serve its target "
            f"{catalog.model(sc.model).draft.target!r} and name the draft in "
            "speculative.draft_model"
        )
    draft_model(sc, catalog)
    prec = precision(sc.dtype, sc.kv_dtype)
    update: dict[str, Any] = {"kv_dtype": prec.kv, "resolved": True}
    if not sc.devices:
        update["devices"] = [sc.device]
    traffic = sc.traffic
    if isinstance(traffic, str):
        try:
            traffic = TrafficSpec.model_validate(_traffic_raw(traffic, catalog))
        except ValidationError as exc:
            raise CatalogError(format_validation_error(f"traffic profile {traffic}", exc)) from None
    if traffic.trace is not None and traffic.trace_sha256 is None:
        path = _resolver(catalog)(traffic.trace)
        if not path.is_file():
            raise AccelsimError(f"traffic: trace file {traffic.trace} not found")
        traffic = traffic.model_copy(update={"trace_sha256": file_sha256(path)})
    update["traffic"] = traffic
    if sc.disaggregation is None:
        pool = _resolve_pool(sc, catalog, sc.cards, sc.plan, sc.kv_tokens, sc.kv_tokens_per_seq, "")
        update.update(pool)
    else:
        d = sc.disaggregation
        pools = {}
        for role in ("prefill", "decode"):
            p: PoolSpec = getattr(d, role)
            resolved = _resolve_pool(
                sc,
                catalog,
                p.cards,
                p.plan,
                p.kv_tokens,
                p.kv_tokens_per_seq,
                f"{role} pool: ",
                p.scheduler,
                p.memory_fraction,
            )
            pools[role] = PoolSpec(
                **resolved, scheduler=p.scheduler, memory_fraction=p.memory_fraction
            )
        card = catalog.device(sc.device)
        fabric = catalog.fabric(_server(sc, catalog).scale_out_fabric)
        ranks = parse_plan(pools["prefill"].plan or "").cards_per_replica
        bw = d.link_bandwidth or fabric.bandwidth_per_card * ranks / card.dies
        lat = d.link_latency if d.link_latency is not None else fabric.latency
        update["disaggregation"] = DisaggSpec(
            prefill=pools["prefill"], decode=pools["decode"], link_bandwidth=bw, link_latency=lat
        )
        update["cards"] = pools["prefill"].cards + pools["decode"].cards
    return sc.model_copy(update=update)


# ---- running ----------------------------------------------------------------------------
def scenario_perf_model(sc: Scenario, catalog: Catalog, plan: ParallelPlan):
    """The timing model (``accelsim.model.perf.PerfModel``) of one replica of resolved ``sc`` under
    ``plan``: its precision, routing skew (with drift), speculative decoding (with its draft
    model), server, framework iteration overhead and the framework's calibrated profile on the
    card's vendor (``accelsim.catalog.devices.FrameworkProfile``). The simulator and the analytic
    sweep
    evaluator both price iterations with it."""
    from accelsim.model.perf import SpecDecode, perf_model_from_catalog
    from accelsim.model.routing import RoutingModel

    rs = sc.routing_skew
    spec = None
    if sc.speculative is not None and sc.speculative.draft_tokens > 0:
        s = sc.speculative
        spec = SpecDecode(s.method, s.draft_tokens, s.acceptance, s.draft_model)
    return perf_model_from_catalog(
        catalog,
        sc.model,
        sc.device,
        plan,
        precision(sc.dtype, sc.kv_dtype),
        routing=RoutingModel(kind=rs.kind, skew=rs.skew, drift=rs.drift, seed=rs.seed),
        spec=spec,
        server=sc.server,
        iteration_overhead=sc.framework.iteration_overhead if sc.framework is not None else None,
        framework=sc.framework.name if sc.framework is not None else None,
    )


def run_scenario(sc: Scenario, catalog: Catalog, *, progress=None, event_skipping: bool = True):
    """Resolve ``sc``, build the timing model(s) from the catalog and simulate it."""
    from accelsim.sim.engine import KVTransfer, Pool, simulate

    sc = resolve_scenario(sc, catalog)
    prec = precision(sc.dtype, sc.kv_dtype)
    arch = catalog.model(sc.model)
    card = catalog.device(sc.device)

    def pool(
        plan_text: str, kv: int, per_seq: int | None, sched: SchedulerConfig | None = None
    ) -> Pool:
        plan = parse_plan(plan_text)
        cards = packages(plan.cards_per_replica, card.dies)
        model = scenario_perf_model(sc, catalog, plan)
        return Pool(model, plan.replicas, kv, per_seq, cards, sched or sc.scheduler)

    seeds = np.random.SeedSequence(sc.seed).spawn(2)
    requests = generate(sc.traffic_spec, np.random.default_rng(seeds[0]), _resolver(catalog))
    if sc.horizon is not None:
        keep = ~(requests.arrived_at >= sc.horizon)
        if not keep.all():
            from accelsim.sim.traffic import Requests

            requests = Requests(
                requests.arrived_at[keep],
                requests.prompt_tokens[keep],
                requests.output_tokens[keep],
                requests.cached_tokens[keep],
                requests.clients,
                requests.think_time,
            )
    decode_pool = transfer = None
    if sc.disaggregation is None:
        main = pool(sc.plan or "", sc.kv_tokens or 0, sc.kv_tokens_per_seq)
    else:
        d = sc.disaggregation
        pre, dec = d.prefill, d.decode
        main = pool(pre.plan or "", pre.kv_tokens or 0, pre.kv_tokens_per_seq, pre.scheduler)
        decode_pool = pool(dec.plan or "", dec.kv_tokens or 0, dec.kv_tokens_per_seq, dec.scheduler)
        transfer = KVTransfer(
            arch.kv_bytes_per_token(prec.kv_bytes), d.link_bandwidth or 1.0, d.link_latency or 0.0
        )
    result = simulate(
        requests,
        main,
        decode_pool=decode_pool,
        transfer=transfer,
        router=sc.router,
        seed=np.random.default_rng(seeds[1]),
        event_skipping=event_skipping,
        slo_ttft=sc.slo.ttft,
        slo_tpot=sc.slo.tpot,
        card_power=(card.idle_power, card.tdp),
        progress=progress,
        scenario=sc,
    )
    cards = result.summary.get("cards")
    if isinstance(cards, float) and cards.is_integer():  # 2 one-die replicas of a 910C: 1 card
        result.summary["cards"] = int(cards)
    result.summary["scenario"] = sc.name
    result.summary["digest"] = sc.digest
    result.summary["device"] = sc.device
    result.summary["model"] = sc.model
    return result
