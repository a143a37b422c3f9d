"""Parallel plans: their grammar, the plan enumerator, and the memory-fit check.

A ``ParallelPlan`` places one *replica* of a model on ``tp * dp * cp * pp`` ranks:

- attention (and dense FFN, shared experts, embedding/LM head) is split ``tp`` ways and
  replicated over ``dp`` attention-data-parallel groups (DeepSeek/SGLang "DP attention"); each
  group serves its own sequences, so it holds its own KV cache;
- routed experts are spread over ``ep`` expert-parallel ranks drawn from the same ``tp * dp``
  ranks, each expert further split ``moe_tp = tp * dp / ep`` ways (``ep = tp * dp`` is the usual
  wide-EP deployment, ``ep = 1`` is plain tensor parallelism of the experts);
- ``pp`` pipeline stages split the layers; the fit below charges the heaviest stage
  (``ceil(L / pp)`` layers plus the embedding and LM head);
- ``cp`` context-parallel ranks per attention group (default 1) split every sequence's context
  — vLLM's ``--prefill-context-parallel-size`` / ``--decode-context-parallel-size``
  (``accelsim/report/recipes/options/vllm-0.13.0.yaml``), which long-context DeepSeek-V3.2/V4
  deployments on Ascend use; the split below is this model's reading, not a recipe's: each of
  the ``cp`` ranks holds a whole ``tp``-way copy of the attention side, a load-balanced ``1/cp``
  chunk of each prefill and ``1/cp`` of each sequence's KV cache; the KV of the other chunks
  reaches a rank over the fabric (``accelsim.model.perf`` prices that all-gather). A stage then
  has ``tp * dp * cp`` ranks (``stage_ranks``), which the experts' ``ep`` ranks are drawn from;
- ``redundant_experts`` extra expert slots per replica (EPLB) hold copies of hot experts;
- ``micro_batch_overlap``: two micro-batches overlap one's communication with the other's
  compute (DeepSeek's two-batch overlap; priced by ``accelsim.model.perf``);
- ``replicas`` independent copies make up the deployment;
- ``lm_head_tp`` (when set, a multiple of ``tp`` dividing ``tp * dp``): the LM head is split
  over that many ranks instead of attention's ``tp`` — the ``lmhead_tp`` setting of Ascend's
  DeepSeek recipes, where DP attention leaves each group a ``tp``-way (often whole) copy of the
  head otherwise. Its ``lm_head_tp / tp`` groups pool their logit rows: the hidden states are
  all-gathered over the ``lm_head_tp`` ranks, each computes its ``vocab / lm_head_tp`` slice for
  all pooled rows, and the logits go back to their groups by an all-to-all
  (``accelsim.model.perf.head``). Each rank holds ``1 / lm_head_tp`` of the LM head; the input
  embedding stays split ``tp`` ways.

Plan degrees count *ranks*, as in ``accelsim.model.perf``: a rank is one card, or one die of a
multi-die package (an Ascend 910C holds two dies, each with its own 64 GB of HBM, and its
published plans count dies). ``ParallelPlan.ranks_per_replica`` and ``ranks`` say so. ``fit``
therefore budgets one rank with ``hbm_capacity / dies`` (64 GB on a 910C), and a plan of
``tp * dp * pp`` ranks occupies ``tp * dp * pp / dies`` packages. On single-die cards rank and
card coincide. ``fit_best`` and ``minimum_cards`` take *cards* (packages) and search plans over
``cards * dies`` ranks; the plans they return count ranks.

The plan grammar (``parse_plan``, the only reader): comma-separated ``KEY=VALUE`` text
(``"tp=8,ep=8"``) or the same keys as a mapping (a validation case's ``plan:``, a sweep axis
``plan.tp``): ``tp``, ``dp``, ``pp``, ``ep``, ``cp``, ``replicas``, ``redundant_experts``
(text alias ``redundant``), ``micro_batch_overlap`` (alias ``overlap``; ``1``/``0``,
``true``/``false``) and ``lm_head_tp``.
Missing sizes default to 1; without ``replicas`` the plan fills the ranks it is laid over.
``ParallelPlan.label`` writes the short form (``replicas`` only when above one) and
``ParallelPlan.text`` the form a resolved scenario records (``replicas`` always); both read
back to the same plan.

The plan enumerator (``replica_plans``, the only one): the single-replica plans of a rank count
that the planner (``fit_best``) and the configuration search (``accelsim.questions.tune``)
consider.

Memory per rank = weights + activation workspace + KV cache + a framework reserve. Assumptions
(each a documented default, changeable per call):

- ``reserve_fraction`` = 0.10 of HBM for the runtime, allocator fragmentation and graphs — vLLM's
  default ``gpu_memory_utilization`` is 0.9. A scenario sets it from the serving framework's
  memory fraction ``f`` (``reserve_fraction = 1 - f``) in one of two meanings
  (``memory_fraction_covers``):

  - ``"all"`` (vLLM ``--gpu-memory-utilization``: "the fraction of GPU memory to be used for the
    model executor", weights, activations and KV cache): KV = ``f * HBM - weights -
    activations``;
  - ``"static"`` (SGLang ``--mem-fraction-static``: "fraction of the free GPU memory used for
    static memory like model weights and KV cache pools"; ``ModelRunner.profile_max_num_token``
    sizes the pool as ``available_after_load - total * (1 - f)``): KV = ``f * HBM - weights``,
    the activation workspace living in the ``1 - f`` left over; when the workspace does not fit
    there, the KV pool shrinks so that weights + KV + activations stay within HBM;
  - ``"free"`` (TensorRT-LLM ``KvCacheConfig.free_gpu_memory_fraction``,
    ``kv_cache_free_gpu_mem_fraction``: "the fraction of free GPU memory" after the model is
    loaded that the KV cache takes, default 0.9): KV = ``f * (HBM - weights - activations)``;
- the embedding and LM head stay in 16-bit whatever the weight dtype (DeepSeek-V3's FP8
  checkpoint keeps them BF16, README_WEIGHTS.md), so they cost ``max(weight_bytes, 2)``;
- every tensor class is stored as the precision says for it (``Precision.weights_for``): one
  dtype for all but the embedding and LM head under a uniform preset; on a checkpoint with mixed
  formats (DeepSeek-V4: ``ModelArch.mixed_native``) the preset first resolves to its per-class
  form (``ModelArch.deployed_precision``: ``w8a8`` -> ``w8a8-mixed``, see ``accelsim.dtypes``),
  which ``MemoryFit.precision`` reports;
- a model whose layers differ in attention kind (DeepSeek-V4's ``compress_ratios``) is charged
  its heaviest stage's own layers (attention and KV each at its heaviest stage); its KV
  compressors (BF16) and hyper-connection maps (FP32, ``weights_hyper_connections``) are
  replicated on every rank of the stage (they produce the one shared latent and mix the
  replicated residual streams), the head's map with the LM head; the other ``streams - 1``
  residual copies add ``T * (n - 1) * H * 2 B`` of workspace;
- KV cache per sequence of ``context`` tokens by layer kind (``ModelArch.cache_bytes_of_layers``,
  ``accelsim.catalog.attention``): MLA/GQA/MHA ``context`` tokens; DSA (V3.2) the latent plus
  the indexer key per token; V4 a window of at most ``sliding_window`` entries on every layer
  plus ``context / r`` compressed entries (and as many indexer keys on CSA layers) plus the FP32
  compressor states. The indexer keys are in ``Precision.indexer_kv`` (default the KV dtype).
  ``kv_bytes_per_token`` of a V4 fit is that sequence's bytes per token at the fit's
  ``context`` (a mean: the window and compressor states do not grow with context), so
  ``max_kv_tokens`` holds for sequences of about that length;
- activation workspace for a forward pass of the replica's ``max_batched_tokens`` tokens and
  ``max_seqs`` sequences, spread over the ``dp`` attention groups and a group's ``cp`` context
  ranks (a rank works on ``T = ceil(max_batched_tokens / (dp * cp))`` tokens):
  ``T * (8H + 3 I) * 2 B`` for the hidden states,
  residuals and the widest local FFN intermediate (``I``), plus FP32 logits for
  ``ceil(max_seqs / dp)`` rows over ``V / tp`` vocabulary entries;
- MTP modules (``include_mtp``): the routed experts of each MTP layer are spread over the EP
  ranks like a main MoE layer's (with the same redundant slots), the rest splits ``tp`` ways;
- an MLA/DSA latent cache and V4's shared K = V latent are replicated over the ``tp`` ranks of
  a group (one latent "head"); a GQA cache splits over ``min(tp, n_kv_heads)`` ranks; with
  ``cp`` every cache (the target's and a draft's, windows and compressor states included, a
  slight overstatement of the saving for those) splits ``cp`` ways more;
- a separate draft model (``draft``: an EAGLE/EAGLE3 file of ``workloads/models/``) is loaded on
  every rank next to the target, in its own dtype (``DraftSpec.weight_dtype``, unquantized BF16),
  split ``tp`` ways and replicated over the ``dp`` attention groups and the ``pp`` stages' budget
  (it is charged to the heaviest stage, the conservative reading; SGLang runs the draft with the
  target's attention-TP layout and, with DP attention, every DP rank holds a whole copy); its KV
  pool holds as many tokens as the target's (SGLang sizes the draft runner's pool to the target's
  ``max_total_num_tokens`` and the two share token indices), so each token costs the target's KV
  bytes plus the draft's (its GQA cache split over ``min(tp, draft kv heads)``). Where the
  draft lives follows the fraction's meaning: ``"all"`` (vLLM loads the drafter with the model
  before profiling and counts its attention layers in the KV-cache spec) — inside the fraction,
  so the KV capacity drops by its weights and every token costs both caches; ``"static"``
  (SGLang: ``ModelRunner.profile_max_num_token`` sizes the target's pool from the memory left
  after the *target's* weights, ``available - total * (1 - f)`` over the target's cell size, and
  the EAGLE worker then loads the draft and gives it a pool of the same token count) — in the
  ``1 - f`` rest next to the activation workspace, and only what overflows the rest shrinks the
  pool. The draft's own activation workspace is not charged (a few MB).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from accelsim.catalog.devices import Card
from accelsim.catalog.workloads import ModelArch
from accelsim.dtypes import BYTES, Precision
from accelsim.errors import AccelsimError

__all__ = [
    "PLAN_KEYS",
    "MemoryFit",
    "ParallelPlan",
    "divisors",
    "fit",
    "fit_best",
    "indivisible",
    "minimum_cards",
    "parse_plan",
    "replica_plans",
]

RESERVE_FRACTION = 0.10
MEMORY_FRACTION_COVERS = ("all", "static", "free")
MAX_BATCHED_TOKENS = 8192
MAX_SEQS = 256


@dataclass(frozen=True)
class ParallelPlan:
    """How one replica is laid over ranks, and how many replicas there are.

    Every degree counts *ranks*: a card, or a die of a multi-die card (a 910C package holds
    two); ``ranks_per_replica`` and ``ranks`` are rank counts, never packages."""

    tp: int = 1
    dp: int = 1
    pp: int = 1
    ep: int = 1
    replicas: int = 1
    redundant_experts: int = 0
    micro_batch_overlap: bool = False
    #: ranks the LM head splits over (0: ``tp``, as attention); see the module docstring
    lm_head_tp: int = 0
    #: context-parallel ranks per attention group; see the module docstring
    cp: int = 1

    def __post_init__(self) -> None:
        for name in ("tp", "dp", "pp", "ep", "replicas", "cp"):
            if getattr(self, name) < 1:
                raise AccelsimError(f"plan: {name} must be a positive integer")
        if self.redundant_experts < 0:
            raise AccelsimError("plan: redundant_experts cannot be negative")
        if self.stage_ranks % self.ep:
            what = "tp*dp" if self.cp == 1 else "tp*dp*cp"
            raise AccelsimError(
                f"plan: ep={self.ep} must divide {what}={self.stage_ranks} "
                "(expert ranks are drawn from the attention ranks)"
            )
        if self.lm_head_tp < 0:
            raise AccelsimError("plan: lm_head_tp cannot be negative")
        if self.lm_head_tp and (self.lm_head_tp % self.tp or (self.tp * self.dp) % self.lm_head_tp):
            raise AccelsimError(
                f"plan: lm_head_tp={self.lm_head_tp} must be a multiple of tp={self.tp} that "
                f"divides tp*dp={self.tp * self.dp} (it pools whole attention groups)"
            )

    @property
    def head_tp(self) -> int:
        """Ranks the LM head splits over: ``lm_head_tp``, else ``tp``."""
        return self.lm_head_tp or self.tp

    @property
    def stage_ranks(self) -> int:
        """Ranks of one pipeline stage: ``tp * dp * cp``."""
        return self.tp * self.dp * self.cp

    @property
    def ranks_per_replica(self) -> int:
        """Ranks of one replica: ``tp * dp * cp * pp``."""
        return self.stage_ranks * self.pp

    @property
    def ranks(self) -> int:
        """Ranks of the whole deployment: ``ranks_per_replica * replicas``."""
        return self.ranks_per_replica * self.replicas

    @property
    def moe_tp(self) -> int:
        """Tensor-parallel split of each expert: ``tp * dp * cp / ep``."""
        return self.stage_ranks // self.ep

    def label(self) -> str:
        """The plan in the grammar, short: ``replicas`` only when above one."""
        parts = [f"tp={self.tp}", f"ep={self.ep}"]
        if self.dp > 1:
            parts.append(f"dp={self.dp}")
        if self.pp > 1:
            parts.append(f"pp={self.pp}")
        if self.cp > 1:
            parts.append(f"cp={self.cp}")
        if self.replicas > 1:
            parts.append(f"replicas={self.replicas}")
        if self.redundant_experts:
            parts.append(f"redundant={self.redundant_experts}")
        if self.micro_batch_overlap:
            parts.append("overlap=1")
        if self.lm_head_tp:
            parts.append(f"lm_head_tp={self.lm_head_tp}")
        return ",".join(parts)

    def text(self) -> str:
        """The plan in the grammar with its replica count always written (a resolved
        scenario records this form: read back it never fills other ranks)."""
        return self.label() if self.replicas > 1 else self.label() + ",replicas=1"


#: The plan grammar: every key a plan text or mapping may use -> the ``ParallelPlan`` field.
PLAN_KEYS = {
    "tp": "tp",
    "dp": "dp",
    "pp": "pp",
    "ep": "ep",
    "replicas": "replicas",
    "redundant_experts": "redundant_experts",
    "redundant": "redundant_experts",
    "micro_batch_overlap": "micro_batch_overlap",
    "overlap": "micro_batch_overlap",
    "lm_head_tp": "lm_head_tp",
    "cp": "cp",
}
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _plan_value(field: str, raw: Any, where: str, key: str) -> int | bool:
    if field == "micro_batch_overlap":
        if isinstance(raw, bool):
            return raw
        word = str(raw).strip().lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        raise AccelsimError(f"{where}: {key} must be true or false (1 or 0)")
    if isinstance(raw, bool):
        raise AccelsimError(f"{where}: {key} must be an integer")
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise AccelsimError(f"{where}: {key} must be an integer") from None
    if isinstance(raw, float) and raw != value:
        raise AccelsimError(f"{where}: {key} must be an integer")
    return value


def parse_plan(
    spec: str | Mapping[str, Any] | ParallelPlan, ranks: int | None = None
) -> ParallelPlan:
    """Read a plan in the grammar (module docstring): ``"tp=8,ep=8"``, the same keys as a
    mapping, or a ``ParallelPlan`` (taken as is, its replica count given).

    With ``ranks`` the plan must use them all: ``replicas`` defaults to
    ``ranks / (tp*dp*pp)``, and a plan whose sizes do not divide ``ranks`` is an error.
    """
    values: dict[str, Any] = {}
    if isinstance(spec, ParallelPlan):
        where = f"--plan {spec.text()!r}"
        values = asdict(spec)
    elif isinstance(spec, Mapping):
        where = f"plan {dict(spec)}"
        for key, raw in spec.items():
            field = PLAN_KEYS.get(str(key))
            if field is None:
                raise AccelsimError(
                    f"{where}: unknown key {key!r} (use {', '.join(sorted(PLAN_KEYS))})"
                )
            values[field] = _plan_value(field, raw, where, str(key))
    else:
        where = f"--plan {spec!r}"
        for part in filter(None, (p.strip() for p in spec.split(","))):
            key, sep, raw = part.partition("=")
            key = key.strip()
            if not sep or key not in PLAN_KEYS:
                raise AccelsimError(
                    f"{where}: cannot read {part!r} (use tp=, ep=, dp=, pp=, cp=, replicas=, "
                    "redundant=, overlap=, lm_head_tp=)"
                )
            values[PLAN_KEYS[key]] = _plan_value(PLAN_KEYS[key], raw, where, key)
    plan = ParallelPlan(**values)
    if ranks is not None:
        per = plan.ranks_per_replica
        if "replicas" not in values:
            if ranks % per:
                what = "tp*dp*pp" if plan.cp == 1 else "tp*dp*cp*pp"
                raise AccelsimError(f"{where}: {what}={per} does not divide {ranks} ranks")
            plan = replace(plan, replicas=ranks // per)
        elif plan.ranks != ranks:
            raise AccelsimError(f"{where}: uses {plan.ranks} ranks, not the {ranks} given")
    return plan


@dataclass(frozen=True)
class MemoryFit:
    """Per-rank memory budget of one plan (bytes), and what it leaves for the KV cache.

    A rank is a card, or a die of a multi-die card (``hbm_capacity`` is then the die's share).
    """

    model: str
    device: str
    plan: ParallelPlan
    precision: str
    context: int
    hbm_capacity: float
    reserve: float
    weights_attention: float
    weights_dense_ffn: float
    weights_shared: float
    weights_routed: float
    weights_embedding: float
    weights_mtp: float
    activations: float
    kv_bytes_per_token: float  # per rank, per token of its group (draft model's KV included)
    kv_capacity: float  # per rank
    max_kv_tokens: int  # per replica
    max_batch_at_context: int  # per replica
    weights_draft: float = 0.0  # a separate draft model (EAGLE/EAGLE3), per rank
    kv_bytes_per_token_draft: float = 0.0  # the draft's share of ``kv_bytes_per_token``
    weights_hyper_connections: float = 0.0  # DeepSeek-V4's FP32 mixing maps, per rank

    @property
    def weights(self) -> float:
        return (
            self.weights_attention
            + self.weights_dense_ffn
            + self.weights_shared
            + self.weights_routed
            + self.weights_embedding
            + self.weights_mtp
            + self.weights_draft
            + self.weights_hyper_connections
        )

    @property
    def used(self) -> float:
        return self.reserve + self.weights + self.activations + max(self.kv_capacity, 0.0)

    @property
    def fits(self) -> bool:
        """Weights and workspace fit, with KV room for at least one sequence of ``context``."""
        return self.kv_capacity > 0 and self.max_batch_at_context >= 1

    @property
    def shortfall(self) -> float:
        """Bytes per rank missing for one sequence of ``context`` (0 when it fits)."""
        if self.fits:
            return 0.0
        need = self.context * self.kv_bytes_per_token / max(self.plan.dp, 1)
        return max(need - self.kv_capacity, 0.0)

    def as_dict(self) -> dict[str, object]:
        d = asdict(self)
        if not self.weights_draft and not self.kv_bytes_per_token_draft:
            del d["weights_draft"], d["kv_bytes_per_token_draft"]
        if not self.weights_hyper_connections:
            del d["weights_hyper_connections"]
        d["plan"] = self.plan.label()
        d.update(weights=self.weights, fits=self.fits, shortfall=self.shortfall)
        return d


def _layers_on_stage(n: int, pp: int) -> int:
    return math.ceil(n / pp) if n else 0


def _stages(n: int, pp: int) -> list[range]:
    """The main layers of each of ``pp`` contiguous stages of ``ceil(n / pp)`` layers."""
    per = _layers_on_stage(n, pp)
    return [range(s * per, min((s + 1) * per, n)) for s in range(pp) if s * per < n]


def fit(
    model: ModelArch,
    card: Card,
    plan: ParallelPlan,
    prec: Precision,
    context: int = 4096,
    *,
    reserve_fraction: float = RESERVE_FRACTION,
    memory_fraction_covers: str = "all",
    max_batched_tokens: int = MAX_BATCHED_TOKENS,
    max_seqs: int = MAX_SEQS,
    include_mtp: bool = False,
    draft: ModelArch | None = None,
) -> MemoryFit:
    """Memory budget of one rank of ``model`` on ``card`` under ``plan`` (heaviest pipeline
    stage). Plan degrees count ranks; a rank of a multi-die card is a die and holds
    ``card.hbm_capacity / card.dies`` (see the module docstring). ``reserve_fraction`` is
    ``1 - f`` for a framework memory fraction ``f`` whose meaning ``memory_fraction_covers``
    gives: ``"all"`` (weights + activations + KV, vLLM), ``"static"`` (weights + KV, SGLang) or
    ``"free"`` (KV only, of what weights and activations leave: TensorRT-LLM).
    ``draft``: a separate draft model (EAGLE/EAGLE3) whose weights and KV pool share the rank."""
    if context < 1:
        raise AccelsimError("context must be at least 1 token")
    if not 0 <= reserve_fraction < 1:
        raise AccelsimError(
            f"memory fraction must be in (0, 1] (reserve_fraction {reserve_fraction} given)"
        )
    if memory_fraction_covers not in MEMORY_FRACTION_COVERS:
        raise AccelsimError(
            f"memory_fraction_covers {memory_fraction_covers!r}: expected one of "
            f"{', '.join(MEMORY_FRACTION_COVERS)}"
        )
    card.peak(prec.compute)  # unsupported compute dtype -> clear error naming card and dtype
    if draft is not None and draft.draft is None:
        raise AccelsimError(f"draft model {draft.name!r} has no draft section (not a draft model)")
    prec = model.deployed_precision(prec)

    def wb(cls: str) -> float:
        return BYTES[prec.weights_for(cls)]

    tp, pp = plan.tp, plan.pp
    layers = _layers_on_stage(model.num_layers, pp)
    dense = min(_layers_on_stage(model.dense_layers, pp), layers)
    moe_layers = min(_layers_on_stage(model.moe_layers, pp), layers)
    stages = _stages(model.num_layers, pp)

    a = model.attention
    if a.compress_ratios is None:
        attention = layers * model.attention_params_per_layer / tp * wb("attention")
    else:
        # per-layer kinds differ: the heaviest stage's own layers; compressors replicated
        h, ratios = model.hidden_size, model.layer_ratios()

        def stage_attention(stage: range) -> float:
            comp = sum(a.compressor_params(h, ratios[i]) for i in stage)
            proj = sum(model.attention_params_at(ratios[i]) for i in stage) - comp
            return proj / tp * wb("attention") + comp * wb("compressors")

        attention = max(stage_attention(st) for st in stages)
    hc = model.hyper_connections
    hyper = 0.0
    if hc is not None:  # FP32 mixing maps, replicated on every rank of the stage, and the head's
        h = model.hidden_size
        hyper = (layers * hc.layer_params(h) + hc.head_params(h)) * wb("hyper_connections")
    dense_ffn = dense * model.dense_ffn_params / tp * wb("dense_ffn")
    b_shared, b_router = wb("shared_experts"), wb("router")
    if b_shared == b_router:
        shared = moe_layers * (model.shared_expert_params / tp + model.router_params) * b_shared
    else:
        shared = moe_layers * (
            model.shared_expert_params / tp * b_shared + model.router_params * b_router
        )
    slots = 0
    b_routed = wb("routed_experts")
    if model.moe:
        slots = math.ceil((model.moe.num_experts + plan.redundant_experts) / plan.ep)
        routed = moe_layers * slots * model.expert_params / plan.moe_tp * b_routed
    else:
        routed = 0.0
    b_emb, b_head = wb("embedding"), wb("lm_head")
    if b_emb == b_head and plan.head_tp == tp:
        embedding = (model.embedding_params + model.lm_head_params) / tp * b_emb
    else:
        embedding = (
            model.embedding_params / tp * b_emb + model.lm_head_params / plan.head_tp * b_head
        )
    mtp = 0.0
    if include_mtp and model.mtp_modules:
        # the MTP layer's routed experts are spread over the EP ranks like a main MoE layer's;
        # the rest of the module (attention, shared expert, router, projection) splits tp ways
        mtp_slots = (
            model.mtp_modules * slots * model.expert_params / plan.moe_tp if model.moe else 0.0
        )
        rest: dict[float, int] = {}
        for cls, n in model.mtp_params_by_class().items():
            if cls != "routed_experts" and n:
                rest[wb(cls)] = rest.get(wb(cls), 0) + n
        if set(rest) <= {b_routed}:
            mtp = (sum(rest.values()) / tp + mtp_slots) * b_routed
        else:
            mtp = sum(n / tp * b for b, n in rest.items()) + mtp_slots * b_routed

    widest = max(
        (model.dense_intermediate or 0) / tp,
        (model.moe.shared_width / tp + model.moe.top_k * model.moe.expert_intermediate)
        if model.moe
        else 0,
    )
    # the replica's token and sequence budgets spread over its dp attention groups (and a
    # group's tokens over its cp context-parallel ranks)
    group_tokens = math.ceil(max_batched_tokens / (plan.dp * plan.cp))
    group_seqs = math.ceil(max_seqs / plan.dp)
    activations = group_tokens * (8 * model.hidden_size + 3 * widest) * 2.0 + (
        group_seqs * model.vocab_size / tp * 4.0
    )
    if hc is not None:  # the other streams of the hyper-connected residual, BF16
        activations += group_tokens * (hc.streams - 1) * model.hidden_size * 2.0
    hbm = card.hbm_capacity / card.dies  # per rank: a die of a multi-die card
    reserve = hbm * reserve_fraction
    draft_w = 0.0
    if draft is not None and draft.draft is not None:
        draft_w = draft.total_params / tp * BYTES[draft.draft.weight_dtype]
    kv_split = 1 if a.kind in ("mla", "dsa", "compressed") else min(tp, a.num_kv_heads)
    if a.kind in ("mla", "gqa", "mha"):
        target_kv = model.kv_elements_per_token_per_layer * layers * prec.kv_bytes / kv_split
    else:
        # DSA: latent + indexer key per token; V4: window-capped + compressed entries and the
        # compressor states of one sequence of ``context`` tokens, per token of it
        seq = max(
            model.cache_bytes_of_layers(st, context, prec.kv_bytes, prec.indexer_bytes)
            for st in stages
        )
        target_kv = seq / context / kv_split
    draft_kv = 0.0
    if draft is not None:
        d_split = 1 if draft.attention.kind == "mla" else min(tp, draft.attention.num_kv_heads)
        draft_kv = draft.kv_bytes_per_token(prec.kv_bytes) / d_split
    # context parallelism: each of a group's cp ranks holds 1/cp of every sequence's cache
    target_kv /= plan.cp
    draft_kv /= plan.cp
    kv_per_token = target_kv + draft_kv
    target_w = attention + dense_ffn + shared + routed + embedding + mtp + hyper
    if memory_fraction_covers == "static":
        # SGLang profiles the target's pool from the fraction alone; the workspace, and the draft
        # model's weights and its pool of as many tokens, are allocated after it, in the rest;
        # only what overflows the rest comes out of the pool
        pool = hbm - reserve - target_w
        after = activations + draft_w + pool / target_kv * draft_kv
        if after <= reserve:
            kv_capacity = pool / target_kv * kv_per_token
            reserve -= after
        else:
            kv_capacity = hbm - target_w - activations - draft_w
            reserve = 0.0
    elif memory_fraction_covers == "free":
        free = max(0.0, hbm - target_w - draft_w - activations)
        kv_capacity = (1.0 - reserve_fraction) * free
        reserve = free - kv_capacity
    else:
        kv_capacity = hbm - reserve - target_w - draft_w - activations
    per_group = int(kv_capacity // kv_per_token) if kv_capacity > 0 else 0
    max_tokens = per_group * plan.dp
    return MemoryFit(
        model=model.name,
        device=card.name,
        plan=plan,
        precision=prec.label,
        context=context,
        hbm_capacity=hbm,
        reserve=reserve,
        weights_attention=attention,
        weights_dense_ffn=dense_ffn,
        weights_shared=shared,
        weights_routed=routed,
        weights_embedding=embedding,
        weights_mtp=mtp,
        activations=activations,
        kv_bytes_per_token=kv_per_token,
        kv_capacity=kv_capacity,
        max_kv_tokens=max_tokens,
        max_batch_at_context=(per_group // context) * plan.dp,
        weights_draft=draft_w,
        kv_bytes_per_token_draft=draft_kv,
        weights_hyper_connections=hyper,
    )


def divisors(n: int) -> list[int]:
    """The divisors of ``n``, ascending."""
    return [d for d in range(1, n + 1) if n % d == 0]


def replica_plans(
    model: ModelArch, ranks: int, scale_up_ranks: int, *, expert_layouts: bool = False
) -> list[ParallelPlan]:
    """The single-replica plans of ``ranks`` ranks, in a fixed order (``tp`` ascending).

    MoE: attention ``tp`` in the divisors of ``ranks`` that fit in one scale-up domain, the rest
    as DP attention (``dp = ranks / tp``), experts over all ranks (``ep = ranks``); with
    ``expert_layouts`` also over ``ep = tp`` (and ``ep = 1`` when ``dp = 1``), ascending. Dense:
    ``tp`` within the scale-up domain, pipeline stages ``pp = ranks / tp`` for the rest. Only
    plans a framework can shard are listed (``indivisible``): experts spread over all ranks
    that do not divide them get the fewest redundant expert slots that make them divide (EPLB,
    as DeepSeek's 256 + 32 on EP 144 or SGLang's ``--ep-num-redundant-experts``).
    """
    plans = []
    for tp in divisors(ranks):
        if tp > scale_up_ranks:
            continue
        if model.is_moe:
            dp = ranks // tp
            eps = sorted({tp, ranks} | ({1} if dp == 1 else set())) if expert_layouts else [ranks]
            plans.extend(
                ParallelPlan(tp=tp, dp=dp, ep=ep, redundant_experts=_padding(model, ep, ranks))
                for ep in eps
            )
        else:
            plans.append(ParallelPlan(tp=tp, pp=ranks // tp))
    return [p for p in plans if indivisible(model, p) is None]


def _padding(model: ModelArch, ep: int, ranks: int) -> int:
    """Redundant expert slots that make ``ep = ranks`` divide the routed experts (0 else)."""
    if model.moe is None or ep != ranks or ep <= 1:
        return 0
    return -model.moe.num_experts % ep


def indivisible(model: ModelArch, plan: ParallelPlan) -> str | None:
    """Why ``plan`` cannot shard ``model``, or None: tensor parallelism splits the attention
    heads (``tp`` must divide them) and the KV heads (``tp`` divides them, or is a multiple of
    them and each KV head is replicated, as vLLM and SGLang do); expert parallelism places
    whole experts (``ep`` divides the routed experts plus the redundant ones)."""
    att = model.attention
    if att.num_heads % plan.tp:
        return f"tp={plan.tp} does not divide the {att.num_heads} attention heads"
    kv = att.num_kv_heads
    if kv is not None and kv % plan.tp and plan.tp % kv:
        return f"tp={plan.tp} neither divides nor is a multiple of the {kv} KV heads"
    if model.moe is not None and plan.ep > 1:
        experts = model.moe.num_experts + plan.redundant_experts
        if experts % plan.ep:
            return f"ep={plan.ep} does not divide the {experts} experts"
    return None


def fit_best(
    model: ModelArch,
    card: Card,
    cards: int,
    prec: Precision,
    context: int,
    scale_up_cards: int,
    **kwargs: object,
) -> MemoryFit:
    """The candidate plan on ``cards`` packages (``cards * dies`` ranks) with the most KV-cache
    tokens (ties: the smaller ``tp``)."""
    ranks, domain = cards * card.dies, scale_up_cards * card.dies
    fits = [
        fit(model, card, p, prec, context, **kwargs)  # type: ignore[arg-type]
        for p in replica_plans(model, ranks, domain)
    ]
    if not fits:
        raise AccelsimError(
            f"no plan of {ranks} ranks can shard {model.name} (tensor parallelism must divide "
            f"its {model.attention.num_heads} attention heads)"
        )
    return max(fits, key=lambda f: (f.max_kv_tokens, f.kv_capacity, -f.plan.tp))


def minimum_cards(
    model: ModelArch,
    card: Card,
    prec: Precision,
    context: int,
    node_cards: int,
    scale_up_cards: int,
    *,
    min_batch: int = 1,
    max_cards: int = 8192,
    **kwargs: object,
) -> MemoryFit | None:
    """The smallest whole-node card count whose best plan holds ``min_batch`` sequences of
    ``context`` tokens; ``None`` when nothing up to ``max_cards`` does."""
    cards = node_cards
    while cards <= max_cards:
        if not replica_plans(model, cards * card.dies, scale_up_cards * card.dies):
            cards += node_cards
            continue
        best = fit_best(model, card, cards, prec, context, scale_up_cards, **kwargs)
        if best.fits and best.max_batch_at_context >= min_batch:
            return best
        cards += node_cards
    return None
