"""Schema of ``devices/``: accelerator cards, servers (nodes), fabrics and framework profiles.

One YAML file per item (``devices/cards/ascend-910b2.yaml`` ...), every number with a source and
a confidence mark (see ``accelsim.catalog.schema``). Peak rates are *dense* (no 2:4 sparsity) and
keyed by
dtype; a dtype the hardware cannot run is simply absent (no ``fp8`` on Ascend 910B).

The *efficiency profile* of a card turns peaks into achievable rates for the timing model:

- ``gemm_fraction``: best achievable fraction of the dense peak for large GEMMs (a "MAMF"
  measurement, e.g. 271.2/312 = 0.869 on A100 SXM, stas00/ml-engineering);
- ``gemm_fraction_by_dtype``: optional per-dtype override of ``gemm_fraction`` where a GEMM in
  that dtype was measured separately (H100 FP8 e4m3 reaches 0.709 of its peak against 0.803 in
  BF16); a dtype not listed falls back to ``gemm_fraction``
  (``EfficiencyProfile.gemm_fraction_for``);
- ``gemm_m_half``: rows (tokens) at which a GEMM reaches half of that — small-M GEMMs (decode,
  few tokens per expert) run far below peak; efficiency(M) = gemm_fraction * M / (M + m_half);
- ``attention_fraction``: optional achievable fraction of the attention dtype's peak for attention
  math (a flash-attention or MLA kernel measurement); ``decode_attention_fraction`` optionally
  overrides it for decode attention (queries over a KV cache: absorbed MLA, paged GQA) where the
  card's decode kernel was measured apart from its prefill kernel (910C: AMLA);
- ``hbm_fraction``: achievable fraction of HBM peak bandwidth for streaming reads;
- ``dequant_hbm_fraction``: optional fraction of HBM peak that a weight-only quantized GEMM
  reaches on its weight reads, keyed by the stored weight dtype: weights narrower than the
  compute dtype (INT8 or INT4 weights with BF16/FP16 math, ``w8a16``/``w4a16``) are unpacked,
  converted and scaled inside the kernel before the 16-bit multiply, and those kernels stream
  their weights below a 16-bit kernel's share (gpt-fast on A100: INT8 Llama-2-7B at 1,069 GB/s
  against 1,397 GB/s in BF16). A dtype not listed, or weights as wide as the math (BF16, FP8
  with FP8 math, W8A8), use ``hbm_fraction`` (``EfficiencyProfile.weight_hbm_fraction``);
- ``collective_fraction``: achievable NCCL/HCCL bus bandwidth over the fabric's link peak (a
  fabric's own ``Fabric.achievable_fraction``, when set, takes precedence on that fabric);
- ``kernel_launch``: fixed cost per kernel (launch + tail), charged per op per layer;
- ``ep_dispatch_latency`` / ``ep_combine_latency`` / ``ep_doubling_latency``: optional fixed
  device time of one expert-parallel dispatch / combine kernel beyond its bytes and the
  fabric's latency (DeepEP-style kernels: count exchange, signalling, the in-kernel cast), and
  the extra per doubling of the EP degree (``log2 ep`` steps); 0 where the card's EP kernels
  were never measured;
- ``routed_fixed_by_dtype`` / ``routed_gemm_fraction_by_dtype``: optional measured cost of the
  card's routed-expert (fused MoE) kernel for experts stored in a dtype narrower than the math,
  keyed like ``dequant_hbm_fraction`` (MXFP4/FP4 experts read the ``int4`` entry): fixed device
  time per MoE layer beyond bytes, FLOPs and launches (routing, padding, activation
  quantisation, reduction kernels), and the fraction of the compute dtype's peak its grouped
  GEMM never exceeds, whatever its tokens per expert (a kernel that unpacks 4-bit weights into
  another format before the multiply, A100 MXFP4 x INT8); else none;
- ``routed_m_half_by_dtype``: optional ``gemm_m_half`` of that same kernel, in tokens per expert,
  where its small-M behaviour was measured apart from the card's dense GEMMs (keyed and applied
  like the two above); else the card's ``gemm_m_half``;
- ``all_to_all_fraction``: optional measured share of the scale-up link that an EP all-to-all
  reaches, where it was measured apart from the card's other collectives (910C: DeepEP-Ascend);
  else ``collective_fraction``;
- ``ep_normal_dispatch_fraction`` / ``ep_normal_combine_fraction``: optional measured share of
  the scale-up link that a *normal-mode* (prefill) EP dispatch / combine reaches, keyed by EP
  degree (interpolated in ``log2`` of the degree, held beyond the ends); where absent the
  all-to-all fraction applies;
- ``iteration_overhead``: fixed host-side cost per forward iteration (scheduling, sampling,
  graph replay bubble).

A *framework profile* (``devices/frameworks/*.yaml``) holds what one serving framework does on
one vendor's cards (or on any vendor's, ``vendor`` absent) beyond the roofline of the card:

- ``memory`` (``FrameworkMemory``): what the framework's memory fraction covers (vLLM
  ``--gpu-memory-utilization``: all of it; SGLang ``--mem-fraction-static``: weights and KV
  pool; TensorRT-LLM ``kv_cache_free_gpu_mem_fraction``: the KV share of what is left after
  loading) and its default value when a scenario names the framework but no fraction;
- ``execution`` (``FrameworkExecution``): the graph mode a deployment runs by default, the rule
  for the largest captured batch, and the host's cost to dispatch one op outside a captured
  graph (``accelsim.model.perf.launch``);
- ``decode_token_layer_cost``: a calibrated cost per decode query token and layer (confidence
  ``C``, fitted on named ``split: fit`` validation cases and judged on the ``check`` ones,
  ``accelsim.validate.calibrate``).

Profiles chain with ``extends`` (``sglang-ascend`` extends ``sglang``); the catalog picks the
profile of the card's vendor first and the vendor-free one otherwise
(``accelsim.catalog.loader.Catalog.framework_profile``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from accelsim.catalog.schema import (
    Bandwidth,
    Bytes,
    CatalogEntry,
    FlopRate,
    Frozen,
    Power,
    Time,
)
from accelsim.dtypes import BYTES, UnsupportedDtypeError

__all__ = [
    "DTYPES",
    "GRAPH_MODES",
    "Card",
    "EfficiencyProfile",
    "Fabric",
    "FrameworkExecution",
    "FrameworkMemory",
    "FrameworkProfile",
    "Server",
    "packages",
]

#: Compute dtypes a card may list a dense peak for.
DTYPES = ("fp32", "tf32", "bf16", "fp16", "fp8", "int8", "int4", "fp4")

DType = Literal["fp32", "tf32", "bf16", "fp16", "fp8", "int8", "int4", "fp4"]


def packages(ranks: int, dies: int) -> int | float:
    """Cards (packages) holding ``ranks`` ranks of a ``dies``-die card: plan degrees count
    ranks, which are dies on a multi-die card (an int when whole, e.g. 32 ranks of a 910C are
    16 cards; one die is 0.5)."""
    return ranks // dies if ranks % dies == 0 else ranks / dies


class EfficiencyProfile(Frozen):
    """Achievable fractions of peak and fixed overheads of one card (see module docstring)."""

    gemm_fraction: float = Field(gt=0, le=1)
    gemm_m_half: float = Field(ge=0)
    hbm_fraction: float = Field(gt=0, le=1)
    collective_fraction: float = Field(gt=0, le=1)
    kernel_launch: Time
    iteration_overhead: Time
    attention_fraction: float | None = Field(default=None, gt=0, le=1)
    decode_attention_fraction: float | None = Field(default=None, gt=0, le=1)
    gemm_fraction_by_dtype: dict[DType, float] = Field(default_factory=dict)
    dequant_hbm_fraction: dict[DType, float] = Field(default_factory=dict)
    ep_dispatch_latency: Time = 0.0
    ep_combine_latency: Time = 0.0
    ep_doubling_latency: Time = 0.0
    all_to_all_fraction: float | None = Field(default=None, gt=0, le=1)
    routed_fixed_by_dtype: dict[DType, Time] = Field(default_factory=dict)
    routed_gemm_fraction_by_dtype: dict[DType, float] = Field(default_factory=dict)
    routed_m_half_by_dtype: dict[DType, float] = Field(default_factory=dict)
    ep_normal_dispatch_fraction: dict[int, float] = Field(default_factory=dict)
    ep_normal_combine_fraction: dict[int, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_by_dtype(self) -> EfficiencyProfile:
        for field in (
            "gemm_fraction_by_dtype",
            "dequant_hbm_fraction",
            "ep_normal_dispatch_fraction",
            "ep_normal_combine_fraction",
            "routed_gemm_fraction_by_dtype",
        ):
            for dtype, frac in getattr(self, field).items():
                if not 0.0 < frac <= 1.0:
                    raise ValueError(f"{field}[{dtype}] must be in (0, 1], got {frac}")
        for dtype, rows in self.routed_m_half_by_dtype.items():
            if rows < 0.0:
                raise ValueError(f"routed_m_half_by_dtype[{dtype}] must be >= 0, got {rows}")
        return self

    def gemm_fraction_for(self, dtype: str) -> float:
        """Large-GEMM fraction of peak in ``dtype``: its ``gemm_fraction_by_dtype`` entry when
        measured, else ``gemm_fraction``."""
        return self.gemm_fraction_by_dtype.get(dtype, self.gemm_fraction)  # type: ignore[call-overload]

    def weight_hbm_fraction(self, weights: str, compute: str) -> float:
        """Fraction of HBM peak at which a GEMM reads weights stored in ``weights`` for math in
        ``compute``: the ``dequant_hbm_fraction`` entry of ``weights`` when they are narrower
        than the math (weight-only quantization, dequantized in the kernel) and the card lists
        one, else ``hbm_fraction``."""
        if BYTES[weights] < BYTES[compute]:
            return self.dequant_hbm_fraction.get(weights, self.hbm_fraction)  # type: ignore[call-overload]
        return self.hbm_fraction


class Card(CatalogEntry):
    """One accelerator package (a 910C package holds two dies)."""

    vendor: str
    display_name: str
    dies: int = Field(default=1, ge=1)
    compute_units: int = Field(gt=0)
    compute_unit_kind: str = "SM"
    peak_flops: dict[DType, FlopRate]
    hbm_capacity: Bytes
    hbm_bandwidth: Bandwidth
    l2_cache: Bytes | None = None
    tdp: Power
    idle_power: Power
    efficiency: EfficiencyProfile
    default_server: str | None = None
    release_year: int | None = None

    @model_validator(mode="after")
    def _check(self) -> Card:
        if not self.peak_flops:
            raise ValueError("peak_flops must list at least one dtype")
        if self.idle_power > self.tdp:
            raise ValueError("idle_power cannot exceed tdp")
        return self

    def supports(self, dtype: str) -> bool:
        """Whether the card has a dense peak for compute dtype ``dtype``."""
        return dtype in self.peak_flops

    def peak(self, dtype: str) -> float:
        """Dense peak FLOP/s for ``dtype``; raises ``UnsupportedDtype`` when absent."""
        try:
            return self.peak_flops[dtype]  # type: ignore[index]
        except KeyError:
            have = ", ".join(self.peak_flops)
            raise UnsupportedDtypeError(
                f"device {self.name!r} cannot compute in {dtype} (it supports: {have})"
            ) from None


class Server(CatalogEntry):
    """A node: N cards, a scale-up fabric inside it, NICs to the scale-out fabric."""

    vendor: str
    display_name: str
    card: str
    #: Other cards (SKUs of the same family) a source says this chassis ships with; a card
    #: listed here may name the server as its ``default_server`` (``accelsim.run.pricing``).
    also_holds: tuple[str, ...] = ()
    cards_per_node: int = Field(gt=0)
    scale_up_fabric: str
    scale_out_fabric: str
    scale_up_domain_cards: int = Field(gt=0)
    nics_per_card: float = Field(ge=0)
    host_power: Power
    max_power: Power | None = None
    #: Rack placement (``accelsim.model.racks``): the node's height in rack units, how it is
    #: cooled (None: not stated, not checked), and, for a rack-scale system (GB200 NVL72,
    #: CloudMatrix 384), the nodes one rack holds whatever its power (its racks are built for
    #: it).
    rack_units: float | None = Field(default=None, gt=0)
    cooling: Literal["air", "liquid"] | None = None
    nodes_per_rack: float | None = Field(default=None, gt=0)
    #: Failures (``accelsim.model.spares``): failures per card-year of its cards, per node-year
    #: of the rest of the node (CPUs, memory, NICs, power supplies, boards), and the time a
    #: failed node is out of service until repaired or replaced.
    card_failures_per_year: float | None = Field(default=None, ge=0)
    node_failures_per_year: float | None = Field(default=None, ge=0)
    repair_time: Time | None = None


class Fabric(CatalogEntry):
    """A link technology between cards.

    ``bandwidth_per_card`` is the peak one card can send in one direction over this fabric
    (NVLink 3 on A100: 300 GB/s; a 200 Gb/s RoCE NIC: 25 GB/s). ``topology`` tells the
    collective model how traffic spreads: ``switch`` (NVSwitch, any pattern at full per-card
    bandwidth), ``full_mesh`` (HCCS: one link per peer, so a pattern that uses fewer peers uses
    fewer links), ``supernode`` (UB), ``network`` (RoCE/InfiniBand through switches).

    ``achievable_fraction`` is the measured share of ``bandwidth_per_card`` that collectives reach
    on this fabric (nccl-tests busbw per NIC, DeepEP RDMA bandwidth); when unset, the card's
    ``efficiency.collective_fraction`` applies. Scale-out NICs are the same part whatever card
    drives them, so their fraction belongs to the fabric.
    """

    display_name: str
    tier: Literal["scale_up", "scale_out"]
    topology: Literal["switch", "full_mesh", "supernode", "network", "pcie"]
    bandwidth_per_card: Bandwidth
    link_bandwidth: Bandwidth | None = None
    links_per_card: int | None = Field(default=None, gt=0)
    latency: Time
    achievable_fraction: float | None = Field(default=None, gt=0, le=1)

    def fraction(self, card_default: float) -> float:
        """Achievable share of peak on this fabric: ``achievable_fraction`` or ``card_default``."""
        return self.achievable_fraction if self.achievable_fraction is not None else card_default


#: Execution modes of a serving framework's forward pass (vLLM's ``CUDAGraphMode`` names):
#: ``none`` (eager), ``piecewise`` (graphs between the attention ops, which run eagerly),
#: ``full`` (one graph for the whole pass), ``full_decode_only`` (decode-only batches as one
#: graph, every other batch eager) and ``full_and_piecewise`` (decode-only batches full, mixed
#: batches piecewise). SGLang's and TensorRT-LLM's decode CUDA graphs are ``full_decode_only``.
GRAPH_MODES = ("none", "piecewise", "full", "full_decode_only", "full_and_piecewise")
GraphMode = Literal["none", "piecewise", "full", "full_decode_only", "full_and_piecewise"]


class FrameworkMemory(Frozen):
    """What a framework's memory fraction means (``covers``, ``accelsim.model.plan.fit``) and
    its default: ``fraction``, or by the ranks of one replica (``fraction_by_ranks``, pairs
    ``[ranks, fraction]``: the fraction of the largest ``ranks`` at most the replica's, SGLang's
    rule on its ``tp_size``)."""

    covers: Literal["all", "static", "free"]
    fraction: float | None = Field(default=None, gt=0, le=1)
    fraction_by_ranks: tuple[tuple[int, float], ...] = ()

    @model_validator(mode="after")
    def _check_fractions(self) -> FrameworkMemory:
        for ranks, frac in self.fraction_by_ranks:
            if ranks < 1 or not 0.0 < frac <= 1.0:
                raise ValueError(
                    f"fraction_by_ranks[{ranks}] needs ranks >= 1 and a fraction in (0, 1], "
                    f"got {frac}"
                )
        return self

    def default_fraction(self, ranks: int) -> float | None:
        """The fraction the framework takes when the launch line sets none (``None``: no
        default known, ``accelsim.model.plan``'s reserve applies)."""
        fitting = [(k, f) for k, f in self.fraction_by_ranks if k <= ranks]
        if fitting:
            return max(fitting)[1]
        return self.fraction


class FrameworkExecution(Frozen):
    """How a framework runs a forward pass (``accelsim.model.perf.launch``): its default
    ``graph`` mode; the largest captured batch, in tokens per attention-DP group, when the
    launch line gives no capture sizes: ``min(graph_tokens_per_seq_factor x max_seqs per DP
    group x (1 + draft tokens), graph_max_tokens, max_batched_tokens)`` (vLLM's
    ``VllmConfig._set_cudagraph_sizes``; ``graph_max_tokens`` alone where the factor is 0), or,
    where ``graph_max_seqs_by_ranks`` is given (pairs ``[ranks, sequences]``: the sequences of
    the largest ``ranks`` at most the replica's, SGLang's ``cuda_graph_max_bs`` rule on its
    ``tp_size``), ``min(those sequences, max_seqs per DP group) x (1 + draft tokens)``; and
    ``eager_op_dispatch``, the host's seconds to dispatch one op outside a captured graph."""

    graph: GraphMode = "full_decode_only"
    graph_max_tokens: int = Field(default=512, ge=1)
    graph_tokens_per_seq_factor: float = Field(default=0.0, ge=0)
    graph_max_seqs_by_ranks: tuple[tuple[int, int], ...] = ()
    eager_op_dispatch: Time = 0.0

    @model_validator(mode="after")
    def _check_seqs(self) -> FrameworkExecution:
        for ranks, seqs in self.graph_max_seqs_by_ranks:
            if ranks < 1 or seqs < 1:
                raise ValueError(
                    f"graph_max_seqs_by_ranks[{ranks}] needs ranks >= 1 and sequences >= 1, "
                    f"got {seqs}"
                )
        return self

    def max_graph_seqs(self, ranks: int) -> int | None:
        """The largest captured batch in sequences per DP group by ``graph_max_seqs_by_ranks``
        for a replica of ``ranks`` (``None``: no such rule, or no pair at most ``ranks``)."""
        fitting = [(k, n) for k, n in self.graph_max_seqs_by_ranks if k <= ranks]
        return max(fitting)[1] if fitting else None


class FrameworkProfile(CatalogEntry):
    """What one serving framework does on one vendor's cards (``vendor`` None: on any card).

    It applies to a scenario whose ``framework.name`` is ``framework`` on a card whose ``vendor``
    is ``vendor`` (``accelsim.run.resolve``). ``memory`` and ``execution``: see
    ``FrameworkMemory`` and ``FrameworkExecution`` (absent: the plan's default reserve, and no
    host dispatch cost beyond the card's).

    ``decode_token_layer_cost`` is seconds per decode query token per layer, paid by the busiest
    attention group and divided by the attention TP degree. A query token is a decoding
    sequence's new token plus its draft tokens under speculative decoding. The term is
    serialized with the rest of the iteration. It stands for a cost that grows with the decode
    batch and that the card's roofline does not price. Its mechanism is not identified: it is a
    calibration (``conf: C``); its provenance's ``fit_cases`` names the validation cases it was
    fitted on (``accelsim.validate.calibrate``).
    """

    framework: str
    vendor: str | None = None
    display_name: str
    memory: FrameworkMemory | None = None
    execution: FrameworkExecution | None = None
    decode_token_layer_cost: Time = 0.0
