"""Achievable rates of one rank and the roofline of one op.

A *rank* is what a plan degree counts: one card, or one die of a multi-die package (an Ascend
910C package holds two dies, and its published plans count dies). Per-rank peak FLOP/s, HBM
bandwidth and link bandwidth are the card's divided by ``card.dies``.

Roofline of one op: ``max(FLOPs / achievable FLOP/s, bytes / achievable HBM bandwidth)``, then
``kernels * kernel_launch`` on top. Achievable FLOP/s of a GEMM with ``M`` rows (tokens):
``peak * gemm_fraction * M / (M + gemm_m_half)`` — large GEMMs reach the card's measured
large-M fraction, small-M GEMMs (decode, few tokens per expert) far less: a tensor-core tile is
64-128 rows tall, so a GEMM with few rows wastes most of each MMA. That rate never falls below
the card's vector (non-tensor FP32 FMA) peak, ``peak_flops.fp32`` where the card lists it
(``Rates.vector_flops``; 0, no floor, where it does not): at a few rows a GEMV runs on the CUDA
cores, not the tensor cores (cuBLAS's gemv kernels, torch.compile's Triton reductions), so its
math is never the bound it would be under the tile term — on an A100 (``gemm_m_half`` 142) the
floor takes over below M = 11 and keeps a weight-only INT8 GEMV (1 B per weight, BF16 math)
memory-bound as gpt-fast measures it (assumption: the raw FP32 peak, no efficiency factor;
only its being far above the tile term's rate at M = 1 matters). The routed experts' grouped
GEMM (``accelsim.model.perf.moe``) takes M as tokens per expert and the card's
``routed_m_half_by_dtype`` constant where its fused-MoE kernel was measured apart from the dense
GEMMs (``Rates.routed_m_half``), else ``gemm_m_half``. The fraction is
the one measured for the compute dtype (``gemm_fraction_by_dtype``, e.g. FP8 on Hopper) when
the card lists it, else ``gemm_fraction``. Attention kernels use ``attention_fraction`` when the
card gives one, else the GEMM fraction of the attention dtype, without the small-M term (their
M is heads x queries, not tokens); decode attention uses ``decode_attention_fraction`` when the
card gives one. HBM streams at ``hbm_fraction`` of peak, except the weight
reads of a weight-only quantized deployment (weights narrower than the compute dtype: W8A16,
W4A16), which stream at the card's ``dequant_hbm_fraction`` for the weight dtype when it lists
one (``EfficiencyProfile.weight_hbm_fraction``): the kernel unpacks and scales every weight
before the 16-bit multiply.

``Roofline`` prices the ops every family shares on one rank of one model and precision: a
weight GEMM (``gemm``) and the memory-bound elementwise kernels between GEMMs
(``elementwise``). Weights are read in the deployment's weight dtype, except the embedding, LM
head and router, which stay 16-bit (``embed_bytes``); activations between ops are BF16/FP16
(``act`` = 2 B). The extra time of weight-only quantized weights is ``dequant_extra`` x their
bytes at the full HBM rate (``hbm / hbm_weights - 1``; 0 whenever weights are as wide as the
math). Under a mixed preset (``accelsim.dtypes.MIXED_PRESETS``) ``wb`` is the dtype of the
classes it names no other format for; the routed experts, KV compressors and hyper-connection
maps read ``wb_of[class]`` bytes, and the routed experts' own dequant cost is
``dequant_routed`` (MXFP4 experts under BF16 math stream at the card's ``int4`` dequant
fraction when it lists no ``mxfp4`` one: the same 4-bit unpack and scale). A class stored in
``nvfp4`` (routed experts, shared experts, dense FFN: the NVFP4 presets) is W4A4
(``Precision.compute_for``): its GEMMs run at the card's FP4 rate (``Rates.fp4_gemm_flops``,
peak FP4 x the card's ``gemm_fraction_for("fp4")``), its weights stream at ``hbm_fraction``
(no dequant: the FP4 tensor cores read them as stored), its ``wb_of`` bytes per weight
(0.5625); ``fp4`` names those classes. Their inputs' NVFP4 quantisation kernels are priced as
the preset's (``quant``): none under a 16-bit preset (``bf16-nvfp4``), an omission.

Elementwise kernels: the memory-bound kernels every layer runs between its GEMMs on the same
stream — norms, RoPE, the SwiGLU activation, activation quantisation, MoE permute/unpermute,
top-k — move activations through HBM and cannot overlap the GEMMs around them, so their bytes
are priced at the card's achievable HBM bandwidth and *added* to the op class they serve
(``attention``, ``dense_ffn``, ``shared_experts``, ``routed_experts``, ``router``; ``draft``
for a draft model), never max'ed with a GEMM roofline. Their launches stay in the per-op
kernel counts (``accelsim.model.perf.ops``). Bytes per token and layer on one rank, with ``a``
= 2 B (BF16 activations) and ``q`` = ``a + 1`` B per element of a separate quantisation kernel
(``quant``: read BF16, write FP8/INT8; 0 when the compute dtype is 16-bit; scales, at most 4 B
per 128 elements, are left out), as SGLang's CUDA path runs them (its DeepSeek/Qwen3 code is
what most validation cases serve; vLLM's kernels move the same bytes). Shared by every family:

- **residual add + RMSNorm**, twice per layer, one fused kernel each (SGLang
  ``python/sglang/srt/layers/layernorm.py`` ``RMSNorm.forward_cuda`` calls FlashInfer's in-place
  ``fused_add_rmsnorm(x, residual, ...)``; vLLM ``fused_add_rms_norm``): reads ``x`` and the
  residual, writes both, ``4 H a`` (``norm``); not fused with the quantisation that follows;
- **quantisation** of each quantised GEMM input that is not already 8-bit (``H q`` for an input
  of hidden size; the per-family inputs are listed in their modules).

All of these run on every rank of a TP group over the full hidden size (hidden states are
replicated between the all-reduces) except the per-head and FFN-width terms, which split like
their GEMMs. Each family's module lists its own terms and the op class they go to.

Ignored (named so nobody is surprised): fusions beyond the ones listed (TensorRT-LLM and
Ascend's CANN fuse norm + quantisation and all-reduce + norm), QK-norm (Qwen3), the final norm
and the embedding gather (once per iteration, not per layer), KV-cache writes, host/device
overlap.
"""

from __future__ import annotations

from dataclasses import dataclass

from accelsim.catalog.devices import Card
from accelsim.dtypes import BYTES, Precision
from accelsim.model.perf.ops import Ops

__all__ = ["Rates", "Roofline", "attention_dtype"]

#: The tensor classes ``Roofline.wb_of`` prices apart from ``wb`` (mixed presets).
_CLASSES = ("routed_experts", "shared_experts", "dense_ffn", "compressors", "hyper_connections")
#: The classes whose weight GEMMs may run at a math dtype of their own (``Precision.compute_for``).
_OWN_MATH_CLASSES = ("routed_experts", "shared_experts", "dense_ffn")


def attention_dtype(card: Card, prec: Precision) -> str:
    """The dtype attention math runs in: FP8 when the KV cache is FP8 and the card has FP8
    (FlashMLA/FA3 FP8), FP16 for an FP16 deployment, else BF16 (INT8/INT4 KV is dequantised)."""
    if prec.kv == "fp8" and card.supports("fp8"):
        return "fp8"
    if prec.compute == "fp16" or prec.kv == "fp16":
        return "fp16" if card.supports("fp16") else "bf16"
    return "bf16" if card.supports("bf16") else prec.compute


@dataclass(frozen=True)
class Rates:
    """Achievable per-rank rates (SI floats) of one card under one precision."""

    gemm_flops: float  # peak x GEMM fraction of the compute dtype, per rank
    m_half: float
    attn_flops: float  # attention math rate per rank
    attn_dec_flops: float  # decode attention math rate per rank
    hbm: float  # achievable bytes/s per rank
    hbm_weights: float  # achievable bytes/s per rank for the deployment's weight reads
    launch_s: float
    iteration_s: float
    collective_fraction: float
    dies: int
    hbm_experts: float = 0.0  # bytes/s for the routed experts' weight reads (0: hbm_weights)
    ep_dispatch_s: float = 0.0  # fixed device time of one EP dispatch kernel
    ep_combine_s: float = 0.0  # fixed device time of one EP combine kernel
    ep_doubling_s: float = 0.0  # extra device time of either per doubling of the EP degree
    all_to_all_fraction: float = 0.0  # EP all-to-all share of the scale-up link (0: collective)
    routed_flops: float = 0.0  # ceiling on the routed-expert kernel's rate (0: none)
    routed_fixed_s: float = 0.0  # fixed device time of the routed-expert kernel per MoE layer
    ep_normal: tuple[tuple[tuple[int, float], ...], tuple[tuple[int, float], ...]] = ((), ())
    vector_flops: float = 0.0  # floor of a small-M GEMM's rate: the FP32 vector peak (0: none)
    routed_m_half: float = 0.0  # m_half of the routed-expert kernel, in tokens per expert
    fp4_gemm_flops: float = 0.0  # FP4 GEMM rate per rank for W4A4 (nvfp4) classes (0: none)

    @staticmethod
    def of(card: Card, prec: Precision) -> Rates:
        eff = card.efficiency
        d = card.dies
        peak = card.peak(prec.compute) / d  # raises UnsupportedDtypeError naming card + dtype
        attn_dtype = attention_dtype(card, prec)
        attn_frac = eff.attention_fraction or eff.gemm_fraction_for(attn_dtype)
        weight_frac = eff.weight_hbm_fraction(prec.weights, prec.compute)
        experts = prec.weights_for("routed_experts")
        if experts not in eff.dequant_hbm_fraction and experts in ("mxfp4", "fp4"):
            experts = "int4"  # the same 4-bit unpack and scale (module docstring)
        expert_math = prec.compute_for("routed_experts")
        expert_frac = eff.weight_hbm_fraction(experts, expert_math)
        narrow = BYTES[experts] < BYTES[expert_math]
        own = {prec.compute_for(c) for c in _OWN_MATH_CLASSES} - {prec.compute}
        fp4 = card.peak("fp4") / d * eff.gemm_fraction_for("fp4") if "fp4" in own else 0.0
        routed_frac = eff.routed_gemm_fraction_by_dtype.get(experts) if narrow else None  # type: ignore[call-overload]
        routed_fixed = eff.routed_fixed_by_dtype.get(experts, 0.0) if narrow else 0.0  # type: ignore[call-overload]
        routed_mh = eff.routed_m_half_by_dtype.get(experts) if narrow else None  # type: ignore[call-overload]
        return Rates(
            gemm_flops=peak * eff.gemm_fraction_for(prec.compute),
            m_half=eff.gemm_m_half,
            attn_flops=card.peak(attn_dtype) / d * attn_frac,
            attn_dec_flops=card.peak(attn_dtype) / d * (eff.decode_attention_fraction or attn_frac),
            hbm=card.hbm_bandwidth / d * eff.hbm_fraction,
            hbm_weights=card.hbm_bandwidth / d * weight_frac,
            launch_s=eff.kernel_launch,
            iteration_s=eff.iteration_overhead,
            collective_fraction=eff.collective_fraction,
            dies=d,
            hbm_experts=card.hbm_bandwidth / d * expert_frac,
            ep_dispatch_s=eff.ep_dispatch_latency,
            ep_combine_s=eff.ep_combine_latency,
            ep_doubling_s=eff.ep_doubling_latency,
            all_to_all_fraction=eff.all_to_all_fraction or 0.0,
            routed_flops=peak * routed_frac if routed_frac else 0.0,
            routed_fixed_s=routed_fixed,
            ep_normal=(
                tuple(sorted(eff.ep_normal_dispatch_fraction.items())),
                tuple(sorted(eff.ep_normal_combine_fraction.items())),
            ),
            vector_flops=card.peak("fp32") / d if card.supports("fp32") else 0.0,
            routed_m_half=eff.gemm_m_half if routed_mh is None else routed_mh,
            fp4_gemm_flops=fp4,
        )

    def gemm_rate(self, m: float) -> float:
        """Achievable FLOP/s of a GEMM with ``m`` rows: the tile term, never below the vector
        floor (module docstring)."""
        if m <= 0:
            return self.gemm_flops
        return max(self.gemm_flops * m / (m + self.m_half), self.vector_flops)

    def fp4_gemm_rate(self, m: float) -> float:
        """``gemm_rate`` of a W4A4 (nvfp4) GEMM: the same tile term at the FP4 rate."""
        if m <= 0:
            return self.fp4_gemm_flops
        return max(self.fp4_gemm_flops * m / (m + self.m_half), self.vector_flops)


class Roofline:
    """Weight GEMMs and elementwise kernels of one rank of a model of ``hidden`` size under
    ``prec`` at ``rates`` (see the module docstring)."""

    __slots__ = (
        "act",
        "dequant_extra",
        "dequant_routed",
        "embed_bytes",
        "fp4",
        "h",
        "norm",
        "quant",
        "rates",
        "wb",
        "wb_of",
    )

    def __init__(self, rates: Rates, prec: Precision, hidden: int) -> None:
        self.rates = rates
        self.h = hidden
        self.wb = prec.weight_bytes
        self.embed_bytes = max(prec.weight_bytes, 2.0)  # embedding / LM head / router: 16-bit
        # weight-only quantized weights stream at the card's dequant fraction, not hbm_fraction:
        # their bytes cost hbm / hbm_weights times a 16-bit stream's
        self.dequant_extra = rates.hbm / rates.hbm_weights - 1.0
        self.dequant_routed = rates.hbm / (rates.hbm_experts or rates.hbm_weights) - 1.0
        self.wb_of = {c: BYTES[prec.weights_for(c)] for c in _CLASSES}
        own = [c for c in _OWN_MATH_CLASSES if prec.compute_for(c) != prec.compute]
        self.fp4 = frozenset(c for c in own if prec.compute_for(c) == "fp4")
        self.act = 2.0  # activations between ops in BF16/FP16
        self.quant = self.act + 1.0 if prec.compute in ("fp8", "int8") else 0.0
        self.norm = 4.0 * self.h * self.act  # residual add + RMSNorm per token

    def gemm(
        self,
        ops: Ops,
        cls: str,
        params: float,
        m: float,
        kernels: int,
        wbytes: float | None = None,
        width: float | None = None,
    ) -> None:
        """A weight GEMM of ``params`` weights (this rank's share) over ``m`` tokens whose
        activations are ``width`` wide (default: the model's hidden size), into ``cls``;
        ``wbytes`` per weight overrides the deployment's weight dtype (and its dequant cost)."""
        r = self.rates
        flops = 2.0 * params * m
        h = self.h if width is None else width
        own = wbytes is None and cls in self.fp4  # a W4A4 class at its own bytes and FP4 rate
        wb = self.wb_of[cls] if own else self.wb
        weights = params * (wb if wbytes is None else wbytes)
        hbm = weights + 2.0 * m * h * self.act
        slow = weights * self.dequant_extra if wbytes is None and not own else 0.0
        ops.add(
            cls,
            compute_s=flops / (r.fp4_gemm_rate(m) if own else r.gemm_rate(m)),
            memory_s=(hbm + slow) / r.hbm,
            kernels=kernels,
            launch_s=r.launch_s,
            flops=flops,
            hbm=hbm,
        )

    def elementwise(self, ops: Ops, cls: str, nbytes: float) -> None:
        """Memory-bound elementwise kernels moving ``nbytes`` through HBM, serialised with the
        GEMMs of ``cls``; their launches are in the op's kernels."""
        if nbytes > 0:
            ops.add(cls, memory_s=nbytes / self.rates.hbm, hbm=nbytes)
