"""A Scenario: every input of one serving run — the schema, load/dump YAML, overrides, digest.

A scenario file (``workloads/scenarios/*.yaml``) names the model, the device, the card count and
plan (or disaggregated prefill/decode pools), the dtypes, the scheduler, the router, the traffic
(a profile name from ``workloads/traffic/`` or an inline mapping), the SLOs, the horizon, the
seed, speculative decoding, the expert-routing skew and the published claims to check
(``Claim``). ``accelsim.run.resolve`` fills every default from the catalog and *writes it into
the scenario* — the plan picked for the card count, the KV capacity per replica, the traffic
profile inlined, the trace file's SHA-256, the P/D link from the server's scale-out fabric — so
the resolved scenario saved next to the results reproduces the run, and its ``digest`` (SHA-256
of its canonical JSON) identifies it.

Defaults (recorded in the resolved scenario): dtype ``bf16`` with the preset's KV dtype;
context 4096 tokens for the memory-fit check; router ``least_outstanding_tokens``; no
speculative decoding; uniform expert routing; scheduler defaults of ``SchedulerConfig``;
``horizon`` (arrivals accepted before it) unset: every generated request is served; no
``framework`` (iteration overhead from the card's efficiency profile, memory fraction 0.9 of HBM
for weights, activations and KV — vLLM's default ``gpu_memory_utilization``); each
disaggregated pool uses the scenario's ``scheduler`` and ``framework.memory_fraction`` unless it
names its own.

Plans: a ``plan`` (the scenario's, or a pool's) is written in the plan grammar of
``accelsim.model.plan`` — text (``"tp=8,ep=8"``) or the same keys as a mapping — and kept as
written until resolution, which replaces it with the ``ParallelPlan`` it resolves to (code may
also set a ``ParallelPlan`` directly). Dumps write a ``ParallelPlan`` as its ``text()``
(``replicas`` always written): that text is the file format, read once, when a resolved
scenario (``resolved: true``) is validated.

Cards and ranks: ``cards`` (and a pool's ``cards``) counts cards — packages — everywhere, as the
cost model does (capex is per card); plan degrees count *ranks*, dies on a multi-die card (a
910C package holds two, and its published plans count dies). A plan therefore occupies
``cards * dies`` ranks: without ``replicas`` it is repeated to fill them, with ``replicas`` its
``tp * dp * pp * replicas`` must equal them (a 910C scenario with ``cards: 16`` takes
``plan: tp=1,dp=32,ep=32``), and a plan given without ``cards`` must fill whole cards. Without a
plan, ``fit_best`` lays one over the ``cards * dies`` ranks. The resolved scenario records the
cards and the plan with its replicas; the run summary's ``cards`` (and every per-card
throughput and the energy) counts the same packages. On single-die cards rank and card coincide.

Claims (``Claim``, checked by ``accelsim.questions.claims``) are part of the file but not a run
input: they are left out of dumps and of the digest.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import pickle
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    model_validator,
)

from accelsim.catalog.devices import GraphMode
from accelsim.catalog.entry_cache import validated
from accelsim.catalog.file_cache import read_cached
from accelsim.catalog.loader import Catalog, Override, format_validation_error
from accelsim.catalog.schema import Bandwidth, Frozen, Time
from accelsim.errors import AccelsimError, CatalogError, suggest
from accelsim.lazy import lazy_module
from accelsim.model.plan import ParallelPlan, parse_plan
from accelsim.sim.admission import SchedulerConfig
from accelsim.sim.traffic import TrafficSpec
from accelsim.units import parse_quantity

yaml = lazy_module("yaml")  # at first use: a scenario file read before needs no parser

__all__ = [
    "SCENARIO_FOLDER",
    "TRAFFIC_FOLDER",
    "Claim",
    "ClaimReference",
    "DisaggSpec",
    "FrameworkSpec",
    "PlanSpec",
    "PoolSpec",
    "RoutingSkewSpec",
    "Scenario",
    "SloSpec",
    "SpeculativeSpec",
    "apply_scenario_overrides",
    "dump_scenario",
    "read_scenario",
    "scenario_path",
    "traffic_profile",
    "write_atomic",
]

SCENARIO_FOLDER = "workloads/scenarios"
TRAFFIC_FOLDER = "workloads/traffic"


def _plan_in(value: Any) -> Any:
    if value is None or isinstance(value, ParallelPlan | str):
        return value
    if isinstance(value, Mapping):
        return dict(value)
    raise ValueError("a plan is text in the plan grammar (tp=8,ep=8) or a mapping of its keys")


def _plan_out(value: Any) -> Any:
    return value.text() if isinstance(value, ParallelPlan) else value


#: A plan field: as written (grammar text or mapping) until resolution, then the
#: ``ParallelPlan``; dumped as text (see the module docstring).
PlanSpec = Annotated[
    ParallelPlan | str | dict[str, Any] | None, PlainValidator(_plan_in), PlainSerializer(_plan_out)
]

ClaimKind = Literal[
    "throughput",
    "ttft",
    "usd_per_mtok",
    "peak_flops",
    "cluster_cost",
    "cost_advantage",
    "cheaper_than_dense",
]
_CLAIM_DIMENSION = {"throughput": "token_rate", "ttft": "time", "peak_flops": "flop_rate"}
_CLAIM_UNIT = {
    "throughput": "tok/s",
    "ttft": "s",
    "usd_per_mtok": "USD/Mtok",
    "peak_flops": "FLOP/s",
    "cluster_cost": "USD",
    "cost_advantage": "fraction",
    "cheaper_than_dense": "fraction",
}


class ClaimReference(Frozen):
    """A published price printed next to a cost claim (e.g. an API list price): USD per
    million tokens of ``basis``, for the reading ``model`` (any when absent), with its source."""

    label: str
    value: float = Field(gt=0)
    basis: Literal["output", "input", "blended"] = "output"
    model: str | None = None
    src: str


class Claim(Frozen):
    """One published claim a scenario lists (``claims:``): *what* it says (``kind``), the value,
    the device and, where it matters, the card count; ``accelsim.questions.claims`` describes
    the kinds and checks them."""

    id: str
    kind: ClaimKind
    value: float = Field(gt=0)
    device: str
    cards: int | None = Field(default=None, ge=1)
    dtype: str | None = None
    says: str = ""
    source: str = ""
    #: Where the claim stands in the source: the row (model and hardware as it names them) and
    #: the column (or sentence).
    row: str = ""
    column: str = ""
    #: The models the claim is checked against, one verdict each (default: the scenario's).
    readings: list[str] = Field(default_factory=list)
    #: Why accelsim cannot check the claim at all (e.g. a closed model); its verdict is then
    #: ``not checkable`` with this reason.
    not_checkable: str | None = None
    #: The upper end of a claimed range (``value`` is the lower end), e.g. 30-40 %.
    high: float | None = Field(default=None, gt=0)
    #: The device a ``cost_advantage`` claim is against.
    versus: str | None = None
    #: Published prices printed next to a cost claim's verdict.
    references: list[ClaimReference] = Field(default_factory=list)
    #: A ``cheaper_than_dense`` claim's dense stand-ins per reading: (the model of the same
    #: total parameters, the model of the same active parameters).
    dense_equivalents: dict[str, tuple[str, str]] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _units(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("kind") in _CLAIM_DIMENSION and "value" in data:
            data = {**data, "value": parse_quantity(data["value"], _CLAIM_DIMENSION[data["kind"]])}
        return data

    @model_validator(mode="after")
    def _needs(self) -> Claim:
        if self.kind in ("throughput", "ttft", "cluster_cost") and self.cards is None:
            raise ValueError(f"a {self.kind} claim needs cards")
        if self.kind == "peak_flops" and self.dtype is None:
            raise ValueError("a peak_flops claim needs dtype (e.g. fp16)")
        if self.kind == "cost_advantage" and self.versus is None:
            raise ValueError("a cost_advantage claim needs versus (the other device)")
        if self.kind in ("cost_advantage", "cheaper_than_dense") and self.value >= 1:
            raise ValueError(f"a {self.kind} claim is a fraction below 1 (0.3 for 30 %)")
        if self.kind == "cheaper_than_dense" and self.not_checkable is None:
            missing = [m for m in self.readings if m not in self.dense_equivalents]
            if not self.readings or missing:
                raise ValueError(
                    "a cheaper_than_dense claim needs readings and dense_equivalents for each "
                    f"(missing: {', '.join(missing) or 'readings'})"
                )
        if self.high is not None and self.high < self.value:
            raise ValueError("high is the upper end of the claimed range: at least value")
        return self

    @property
    def unit(self) -> str:
        return _CLAIM_UNIT[self.kind]


class PoolSpec(Frozen):
    """One pool of a disaggregated deployment: its cards and plan (``replicas`` fills the
    cards when absent), and optionally its own scheduler (default: the scenario's), e.g. a
    prefill pool with a small ``max_seqs`` next to a decode pool with a large one.

    ``cards`` counts cards (packages); the plan's degrees count ranks, ``cards * dies`` of
    them (a 910C pool of ``cards: 16`` holds ``tp=1,dp=32,ep=32``)."""

    cards: int = Field(ge=1)
    plan: PlanSpec = None
    kv_tokens: int | None = Field(default=None, ge=1)
    kv_tokens_per_seq: int | None = Field(default=None, ge=1)
    scheduler: SchedulerConfig | None = None
    #: This pool's framework memory fraction (default: ``framework.memory_fraction``).
    memory_fraction: float | None = Field(default=None, gt=0, le=1)
    #: This pool's execution mode and largest captured batch (default: ``framework.graph`` and
    #: ``framework.graph_max_tokens``): the prefill and decode servers are launched separately.
    graph: GraphMode | None = None
    graph_max_tokens: int | None = Field(default=None, ge=1)


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
    the memory fit charges its weights and KV pool on every rank (``accelsim.model.plan.fit``)
    and the timing model its forward passes (``accelsim.model.perf``). Without it an EAGLE draft
    is priced by the timing model's generic one-layer estimate and takes no memory."""

    method: Literal["mtp", "eagle", "eagle3"] = "mtp"
    draft_tokens: int = Field(default=1, ge=0)
    acceptance: float = Field(default=0.7, ge=0, le=1)
    draft_model: str | None = None


class RoutingSkewSpec(Frozen):
    """Expert-popularity skew handed to the timing model (``accelsim.model.routing``): long-run
    popularity (``kind``, ``skew``) and the per-batch ``drift`` from it that an EPLB placement
    cannot see (``accelsim.validate``'s ``production`` profile is ``zipf`` with skew 0, i.e.
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
    reserves the rest, so the KV capacity follows it (default: the framework profile's default,
    ``FrameworkProfile.memory``, else ``accelsim.model.plan``'s 0.9, vLLM's default).
    ``memory_fraction_covers`` says what the fraction holds: ``all`` (weights, activations and
    KV cache — vLLM), ``static`` (weights and KV pool, the activation workspace in the
    remainder — SGLang) or ``free`` (the KV cache's share of the memory that weights and
    activations leave — TensorRT-LLM ``kv_cache_free_gpu_mem_fraction``); by default what the
    named framework's profile says, else ``all``. A disaggregated pool may set its own
    ``memory_fraction`` (the prefill and decode servers are launched separately).

    ``graph`` is the execution mode the launch line sets (vLLM ``cudagraph_mode``, one of
    ``accelsim.catalog.devices.GRAPH_MODES``) and ``graph_max_tokens`` its largest captured
    batch in tokens per attention-DP group (the largest ``cudagraph_capture_sizes`` entry);
    either absent: the framework profile's default (``accelsim.model.perf.launch``)."""

    name: str
    iteration_overhead: Time | None = None
    memory_fraction: float | None = Field(default=None, gt=0, le=1)
    memory_fraction_covers: Literal["all", "static", "free"] | None = None
    graph: GraphMode | None = None
    graph_max_tokens: int | None = Field(default=None, ge=1)
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
    #: Cards (packages; ``cards * dies`` ranks for the plan — a 910C card holds two dies),
    #: at most ``MAX_CARDS`` (a bound checked before any plan is laid out).
    cards: int | None = Field(default=None, ge=1, le=1_000_000)
    plan: PlanSpec = None
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
    #: dumps and of the digest.
    claims: list[Claim] = Field(default_factory=list, exclude=True)
    #: The cluster-cost claim of ``accelsim cluster-cost`` (``accelsim.questions.cluster_cost``):
    #: the ids of its ``cluster_cost`` claims, each with its label; left out like ``claims``.
    cluster_claim: dict[str, str] = Field(default_factory=dict, exclude=True)
    resolved: bool = False

    @model_validator(mode="before")
    @classmethod
    def _recorded_plans(cls, data: Any) -> Any:
        """A resolved scenario records its plans with their replicas: read them here, once."""
        if not isinstance(data, dict) or not data.get("resolved"):
            return data
        data = dict(data)
        if isinstance(data.get("plan"), str | Mapping):
            data["plan"] = parse_plan(data["plan"])
        pools = data.get("disaggregation")
        if isinstance(pools, Mapping):
            pools = dict(pools)
            for role in ("prefill", "decode"):
                pool = pools.get(role)
                if isinstance(pool, Mapping) and isinstance(pool.get("plan"), str | Mapping):
                    pools[role] = {**pool, "plan": parse_plan(pool["plan"])}
            data["disaggregation"] = pools
        return data

    @model_validator(mode="after")
    def _check(self) -> Scenario:
        if self.disaggregation is None and self.cards is None and self.plan is None:
            raise ValueError("give cards (and optionally plan), or disaggregation pools")
        return self

    def canonical(self) -> dict[str, Any]:
        """The JSON-ready fields of this scenario, without the optional fields added after
        the first scenario files (``framework``, its ``memory_fraction`` and
        ``memory_fraction_covers``, ``server``, a pool's ``scheduler`` and ``memory_fraction``,
        ``routing_skew.drift``, a scheduler's ``preemption`` and ``chunk_tokens``,
        ``speculative.draft_model``) when
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
            if fw.get("memory_fraction_covers") in ("all", None):
                fw.pop("memory_fraction_covers", None)
            for key in ("graph", "graph_max_tokens"):
                if fw.get(key) is None:
                    fw.pop(key, None)
        if data["routing_skew"].get("drift") == 0.0:
            data["routing_skew"].pop("drift")
        _drop_default_preemption(data.get("scheduler"))
        pools = data.get("disaggregation") or {}
        for role in ("prefill", "decode"):
            if role not in pools:
                continue
            for key in ("scheduler", "memory_fraction", "graph", "graph_max_tokens"):
                if pools[role].get(key) is None:
                    pools[role].pop(key, None)
            _drop_default_preemption(pools[role].get("scheduler"))
        return data

    @property
    def digest(self) -> str:
        """SHA-256 of the canonical JSON of this scenario (resolve it first). While the schema
        is not built in this process (``accelsim run FILE``: its scenario came from the
        validated-entry cache), from that cache, keyed by this scenario's pickled state (equal
        bytes are an equal state; other bytes only a miss) and ``SCENARIO_CODE``, so that one
        digest does not build the serializer (0.03-0.06 s); a miss computes it, which builds
        the schema, so a process keeps at most one such file and computes every later digest."""
        if type(self).__pydantic_complete__:
            return self._computed_digest()
        buffer = io.BytesIO()
        try:
            _StatePickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(self)
        except (pickle.PicklingError, TypeError, AttributeError):
            return self._computed_digest()
        parts = ("scenario-digest", hashlib.sha256(buffer.getvalue()).hexdigest())
        return validated(parts, str, self._computed_digest, SCENARIO_CODE)

    def _computed_digest(self) -> str:
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def replanned(
        self, device: str, cards: int, plan: ParallelPlan | str, **fields: Any
    ) -> Scenario:
        """This scenario colocated on ``cards`` cards of ``device`` under ``plan``, to be
        resolved again: what resolution recorded for the old deployment (its KV capacity,
        pools) is dropped; ``fields`` set other fields (``dtype``, ``scheduler``, ``traffic``).
        Validated like a scenario file, the field values kept as objects."""
        data = {
            **dict(self),
            "device": device,
            "cards": cards,
            "plan": plan,
            "disaggregation": None,
            "kv_tokens": None,
            "kv_tokens_per_seq": None,
            "resolved": False,
            **fields,
        }
        return Scenario.model_validate(data)

    @property
    def traffic_spec(self) -> TrafficSpec:
        if isinstance(self.traffic, str):
            raise AccelsimError("scenario: traffic profile not resolved (use resolve_scenario)")
        return self.traffic


def _drop_default_preemption(sched: dict[str, Any] | None) -> None:
    """Drop a scheduler's fields added after the first scenario files while they hold their
    defaults (``preemption`` recompute, ``chunk_tokens`` None)."""
    if sched is not None and sched.get("preemption") == "recompute":
        sched.pop("preemption")
    if sched is not None and sched.get("chunk_tokens", 0) is None:
        sched.pop("chunk_tokens")


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
            data["traffic"] = traffic_profile(data["traffic"], catalog)
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


def traffic_profile(name: str, catalog: Catalog) -> dict[str, Any]:
    """The raw mapping of traffic profile ``name`` (``workloads/traffic/``), named."""
    files = catalog.folder_files(TRAFFIC_FOLDER)
    if name not in files:
        raise suggest(name, sorted(files), "traffic profile")
    data = read_cached(files[name])
    if not isinstance(data, dict):
        raise CatalogError(f"{files[name]}: expected a mapping of fields at top level")
    data.setdefault("name", name)
    return data


_HERE = Path(__file__).resolve().parent.parent
#: The source files beside ``catalog/`` and the vocabulary whose code decides what a scenario
#: mapping validates to: this module and every module it imports, directly or not, outside
#: ``catalog/`` (``tests/test_scenario_cache.py`` checks this list against the imports).
SCENARIO_CODE = tuple(
    str(_HERE / m)
    for m in (
        "run/scenario.py",
        "lazy.py",
        "model/plan.py",
        "sim/admission.py",
        "sim/kv.py",
        "sim/traces.py",
        "sim/traffic.py",
    )
)


class _StatePickler(pickle.Pickler):
    """Pickles sets in sorted order (a pydantic model's ``__pydantic_fields_set__`` is a set of
    field names, whose order follows the process's string-hash seed), so that equal states are
    equal bytes in every process; the bytes are only hashed, never read back. A set is written
    as a persistent id (its own opcode, so never the same bytes as a tuple): the C pickler
    writes sets itself before it would consult ``reducer_override``."""

    def persistent_id(self, obj: Any) -> Any:
        if type(obj) not in (set, frozenset):
            return None
        try:
            items = sorted(obj)
        except TypeError:
            items = sorted(obj, key=repr)
        return type(obj).__name__, tuple(items)


def _plain(value: Any) -> bool:
    """Whether ``value`` holds only what YAML text reads to (mappings with text keys, lists,
    text, numbers, booleans, null), which ``json.dumps`` writes one way each."""
    if value is None or isinstance(value, str | bool | int | float):
        return True
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def _content_key(raw: dict[str, Any]) -> str | None:
    """SHA-256 of a scenario mapping's content (JSON with sorted keys keeps ``1``, ``1.0`` and
    ``true`` apart and writes every float exactly), or None when it holds anything else: then
    it is validated without the validated-entry cache."""
    if not _plain(raw):
        return None
    text = json.dumps(raw, sort_keys=True, ensure_ascii=True, allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


def read_scenario(
    source: str | Path | dict[str, Any], catalog: Catalog, overrides: Any = None
) -> Scenario:
    """Read a scenario (path, name in ``workloads/scenarios/`` or raw dict) and apply overrides
    (default: the catalog's ``scenario.*`` overrides); not resolved
    (``accelsim.run.resolve.load_scenario`` reads and resolves). A scenario read from a file
    comes from the validated-entry cache (``accelsim.catalog.entry_cache``: keyed by the
    content of the mapping after the overrides and by ``SCENARIO_CODE``) when the same mapping
    was validated before, so ``accelsim run FILE`` does not build the schema's validator; a raw
    dict (a sweep's points, what-if variants) is validated as it is, keeping no files."""
    if isinstance(source, dict):
        raw, where = source, "scenario"
    else:
        path = scenario_path(source, catalog)
        raw = read_cached(path)  # parsed data by content hash: no PyYAML when seen before
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
        key = None if isinstance(source, dict) else _content_key(raw)
        if key is None:
            return Scenario.model_validate(raw)
        return validated(
            ("scenario", key), Scenario, lambda: Scenario.model_validate(raw), SCENARIO_CODE
        )
    except ValidationError as exc:
        if overrides:
            where += " with --set " + ", ".join(str(o) for o in overrides)
        err = format_validation_error(where, exc, raw)
        raise (AccelsimError(err) if overrides else CatalogError(err)) from None


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
