"""Numeric formats: bytes per element and the precision presets users name.

A *precision* is three dtypes: the weights as stored (what HBM reads), the math (which peak
FLOP/s applies) and the KV cache. Presets (``--dtype``):

==========  ========  ========  ======  ====================================================
preset      weights   compute   KV      meaning
==========  ========  ========  ======  ====================================================
bf16        bf16      bf16      bf16    plain half precision
fp16        fp16      fp16      fp16
fp8         fp8       fp8       bf16    FP8 GEMMs (DeepSeek's checkpoint); KV left in BF16
int8/w8a8   int8      int8      bf16    INT8 weights and activations (Ascend's W8A8)
w8a16       int8      bf16      bf16    weight-only INT8: weights read at 1 B, math in BF16
w4a16       int4      bf16      bf16    weight-only INT4 (AWQ/GPTQ style)
w4a8        int4      int8      bf16    INT4 weights, INT8 math (Ascend W4A8)
==========  ========  ========  ======  ====================================================

Bytes per element: 4 (fp32/tf32), 2 (bf16/fp16), 1 (fp8/int8), 0.5 (int4, packed).
"""

from __future__ import annotations

from dataclasses import dataclass

from accelsim.errors import AccelsimError

__all__ = ["BYTES", "PRESETS", "Precision", "UnsupportedDtypeError", "precision"]

BYTES: dict[str, float] = {
    "fp32": 4.0,
    "tf32": 4.0,
    "bf16": 2.0,
    "fp16": 2.0,
    "fp8": 1.0,
    "int8": 1.0,
    "int4": 0.5,
}


class UnsupportedDtypeError(AccelsimError):
    """A card was asked to compute in a dtype it has no hardware for."""


@dataclass(frozen=True)
class Precision:
    """Weights, compute and KV-cache dtypes of a deployment."""

    weights: str
    compute: str
    kv: str

    @property
    def weight_bytes(self) -> float:
        return BYTES[self.weights]

    @property
    def kv_bytes(self) -> float:
        return BYTES[self.kv]

    @property
    def act_bytes(self) -> float:
        """Bytes per activation element moved between ops (at least 1: int4 math is rare)."""
        return max(BYTES[self.compute], 1.0)

    @property
    def label(self) -> str:
        for name, p in PRESETS.items():
            if p == self:
                return name
        return f"w={self.weights},a={self.compute},kv={self.kv}"


PRESETS: dict[str, Precision] = {
    "bf16": Precision("bf16", "bf16", "bf16"),
    "fp16": Precision("fp16", "fp16", "fp16"),
    "fp8": Precision("fp8", "fp8", "bf16"),
    "int8": Precision("int8", "int8", "bf16"),
    "w8a8": Precision("int8", "int8", "bf16"),
    "w8a16": Precision("int8", "bf16", "bf16"),
    "w4a16": Precision("int4", "bf16", "bf16"),
    "w4a8": Precision("int4", "int8", "bf16"),
}


def precision(preset: str, kv: str | None = None) -> Precision:
    """The ``Precision`` for a preset name, optionally with another KV-cache dtype."""
    try:
        p = PRESETS[preset]
    except KeyError:
        raise AccelsimError(
            f"unknown dtype {preset!r} (choose from {', '.join(PRESETS)})"
        ) from None
    if kv is not None:
        if kv not in BYTES:
            raise AccelsimError(f"unknown KV dtype {kv!r} (choose from {', '.join(BYTES)})")
        p = Precision(p.weights, p.compute, kv)
    return p
