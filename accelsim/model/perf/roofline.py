"""Achievable rates of one rank and the roofline of one op.

A *rank* is what a plan degree counts: one card, or one die of a multi-die package (an Ascend
910C package holds two dies, and its published plans count dies). Per-rank peak FLOP/s, HBM
bandwidth and link bandwidth are the card's divided by ``card.dies``.

Roofline of one op: ``max(FLOPs / achievable FLOP/s, bytes / achievable HBM bandwidth)``, then
``kernels * kernel_launch`` on top. Achievable FLOP/s of a GEMM with ``M`` rows (tokens):
``peak * gemm_fraction * M / (M + gemm_m_half)`` — large GEMMs reach the card's measured
best ("MAMF") fraction, small-M GEMMs (decode, few tokens per expert) far less. The fraction is
the one measured for the compute dtype (``gemm_fraction_by_dtype``, e.g. FP8 on Hopper) when
the card lists it, else ``gemm_fraction``. Attention kernels use ``attention_fraction`` when the
card gives one, else the GEMM fraction of the attention dtype, without the small-M term (their
M is heads x queries, not tokens); decode attention uses ``decode_attention_fraction`` when the
card gives one. HBM streams at ``hbm_fraction`` of peak, except the weight
reads of a weight-only quantized deployment (weights narrower than the compute dtype: W8A16,
W4A16), which stream at the card's ``dequant_hbm_fraction`` for the weight dtype when it lists
one (``EfficiencyProfile.weight_hbm_fraction``): the kernel unpacks and scales every weight
before the 16-bit multiply.
"""

from __future__ import annotations

from dataclasses import dataclass

from accelsim.catalog.devices import Card
from accelsim.dtypes import Precision

__all__ = ["Rates", "attention_dtype"]


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

    @staticmethod
    def of(card: Card, prec: Precision) -> Rates:
        eff = card.efficiency
        d = card.dies
        peak = card.peak(prec.compute) / d  # raises UnsupportedDtypeError naming card + dtype
        attn_dtype = attention_dtype(card, prec)
        attn_frac = eff.attention_fraction or eff.gemm_fraction_for(attn_dtype)
        weight_frac = eff.weight_hbm_fraction(prec.weights, prec.compute)
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
        )

    def gemm_rate(self, m: float) -> float:
        """Achievable FLOP/s of a GEMM with ``m`` rows."""
        if m <= 0:
            return self.gemm_flops
        return self.gemm_flops * m / (m + self.m_half)
