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
- ``iteration_overhead``: fixed host-side cost per forward iteration (scheduling, sampling,
  graph replay bubble).

A *framework profile* (``devices/frameworks/*.yaml``) holds what one serving framework costs on
one vendor's cards beyond the roofline of the card: a cost the published measurements of that
software stack show and the card's microbenchmarks do not. Its numbers are calibrated (confidence
``C``) on named ``split: fit`` validation cases and judged on the ``check`` ones
(``accelsim.validate.calibrate``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from accelsim.catalog.schema import Bandwidth, Bytes, CatalogEntry, FlopRate, Frozen, Power, Time
from accelsim.dtypes import BYTES, UnsupportedDtypeError

__all__ = [
    "DTYPES",
    "Card",
    "EfficiencyProfile",
    "Fabric",
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

    @model_validator(mode="after")
    def _check_by_dtype(self) -> EfficiencyProfile:
        for field in ("gemm_fraction_by_dtype", "dequant_hbm_fraction"):
            for dtype, frac in getattr(self, field).items():
                if not 0.0 < frac <= 1.0:
                    raise ValueError(f"{field}[{dtype}] must be in (0, 1], got {frac}")
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
    cards_per_node: int = Field(gt=0)
    scale_up_fabric: str
    scale_out_fabric: str
    scale_up_domain_cards: int = Field(gt=0)
    nics_per_card: float = Field(ge=0)
    host_power: Power
    max_power: Power | None = None


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


class FrameworkProfile(CatalogEntry):
    """Calibrated costs of one serving framework on one vendor's cards.

    It applies to a scenario whose ``framework.name`` is ``framework`` on a card whose ``vendor``
    is ``vendor`` (``accelsim.run.resolve``).

    ``decode_token_layer_cost`` is seconds per decode query token per layer, paid by the busiest
    attention group and divided by the attention TP degree. A query token is a decoding
    sequence's new token plus its draft tokens under speculative decoding. The term is
    serialized with the rest of the iteration. It stands for a cost that grows with the decode
    batch and that the card's roofline does not price. Its mechanism is not identified: it is a
    calibration (``conf: C``); its provenance's ``fit_cases`` names the validation cases it was
    fitted on (``accelsim.validate.calibrate``).
    """

    framework: str
    vendor: str
    display_name: str
    decode_token_layer_cost: Time = 0.0
