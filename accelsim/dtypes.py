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

Bytes per element: 4 (fp32/tf32), 2 (bf16/fp16), 1 (fp8/int8), 0.5 (int4 and fp4 e2m1,
packed), 0.53125 (``mxfp4``: OCP microscaling FP4, 4-bit e2m1 values plus one E8M0 scale byte
per block of 32, 0.5 + 1/32), 0.5625 (``nvfp4``: NVIDIA's NVFP4, 4-bit e2m1 values plus one FP8
E4M3 scale byte per block of 16, 0.5 + 1/16, and one FP32 scale per tensor, not counted; NVIDIA
technical blog "Introducing NVFP4 for Efficient and Accurate Low-Precision Inference", 2025-06:
"per-block scaling using FP8 (E4M3) across 16-value microblocks" and "per-tensor scaling using
FP32", about 3.5x less memory than FP16 and 1.8x less than FP8 — 2 / 0.5625 = 3.56 and
1 / 0.5625 = 1.78). Block scales of FP8 checkpoints (one scale per 128 x 128 weights,
FP32 in DeepSeek-V3, E8M0 in DeepSeek-V4: at most 4/16384 B per parameter) and the per-channel
or per-group scales of INT8/INT4 are not counted.

Weights by tensor class. A model is more than one tensor kind: its routed experts, attention,
shared experts, router, embedding, LM head (``accelsim.catalog.workloads.TENSOR_CLASSES``).
``Precision.weights_for`` gives the stored format of one class: a class the precision names in
``by_class`` is stored so; the embedding and the LM head stay 16-bit whatever narrower weight
dtype the rest uses (no quantizer touches them: DeepSeek-V3's FP8 checkpoint keeps them BF16,
README_WEIGHTS.md; ``accelsim.model.plan`` charges them ``max(weight_bytes, 2)`` the same way);
every other class uses ``weights``. The uniform presets above name no class.

Mixed presets (``MIXED_PRESETS``, also resolved by ``precision``): the deployments people run a
DeepSeek-V4 checkpoint with (MXFP4 routed experts, FP8 block-scaled rest, BF16 embedding and LM
head, ``reference/models.md`` section 6), as shipped or on cards without FP4 math. The memory fit
(``accelsim.model.plan.fit``) and the step time (``accelsim.model.perf``) read every tensor
class's bytes from ``weights_for``.

============  ==============  =====  =======  ===============================================
preset        routed experts  rest   compute  deployment
============  ==============  =====  =======  ===============================================
fp8-mxfp4     mxfp4           fp8    fp8      the checkpoint as shipped (vLLM
                                              ``DeepseekV4FP8Config`` on Hopper/Blackwell)
w4a16-mxfp4   mxfp4           bf16   bf16     weight-only dequant: the checkpoint's MXFP4
                                              experts dequantized inside the GEMM, the rest
                                              BF16 (community A100 ports; no FP8/FP4 math)
w8a8-mixed    int8            int8   int8     W8A8: every linear layer INT8, experts included
                                              (vLLM-Ascend ``DeepSeek-V4-Flash-w8a8-mtp``)
w4a8-mixed    int4            int8   int8     W4A8: INT4 routed experts, INT8 rest and math
                                              (vLLM-Ascend ``DeepSeek-V4-Pro-w4a8-mtp``)
w4a16-int4    int4            bf16   bf16     INT4 routed experts, BF16 rest: Kimi-K2-Thinking
                                              as shipped (compressed-tensors INT4 experts)
============  ==============  =====  =======  ===============================================

In all five the tensors the checkpoint ships unquantized keep their format: the router and the
KV compressors BF16, the hyper-connection mixers FP32 (vLLM ``deepseek_v4.py`` builds them
without a quantization config).

NVFP4 presets (Blackwell): every MLP linear layer (routed experts, shared experts, the dense FFN
layers) stored as ``nvfp4``, the way NVIDIA's TensorRT Model Optimizer recipe for DeepSeek-V3/R1
quantizes it (``examples/deepseek/ptq.py``: NVFP4_DEFAULT_CFG on every linear layer except
``*attn*`` and ``*head*``; ``quantize_to_nvfp4.py`` dequantizes every FP8 weight to BF16 and
writes NVFP4 only for the quantized ones, so the attention projections stay BF16), the router
BF16 as shipped:

============  ==============  =====  =======  ===============================================
preset        MLP layers      rest   compute  deployment
============  ==============  =====  =======  ===============================================
bf16-nvfp4    nvfp4           bf16   bf16     nvidia/DeepSeek-R1-0528-NVFP4 as the recipe
                                              writes it (vLLM GB300 blog, 2026-02-13)
fp8-nvfp4     nvfp4           fp8    fp8      the vLLM GB200 deployment (blog "Driving vLLM
                                              WideEP ... on Blackwell (Part I)", 2026-02-03):
                                              NVFP4 MoE GEMMs, FP8 GEMMs for MLA
============  ==============  =====  =======  ===============================================

NVFP4 is W4A4: a class stored in ``nvfp4`` runs its GEMMs on the FP4 tensor cores whatever
``compute`` says (``Precision.compute_for``; the recipe writes an ``input_scale`` for every
quantized linear layer, whose input is quantized to NVFP4 at run time, and vLLM runs them with
FlashInfer's TRTLLM-Gen FP4 GEMMs, the GB200 blog). Not expressed: the blog's NVFP4 output
projection (``o_proj``), which accelsim's ``attention`` class holds together with the FP8
q/kv projections, so it is priced at 1 B per weight instead of 0.5625.

Uniform names on a mixed checkpoint (``mixed_form``, ``MIXED_FORM_OF``). A model whose checkpoint
stores its routed experts otherwise than the rest (``ModelArch.mixed_native``: DeepSeek-V4)
is never deployed with one weight dtype for every tensor, so a uniform preset name resolves to
its per-class form: ``fp8`` -> ``fp8-mxfp4`` (as shipped), ``w8a8``/``int8`` -> ``w8a8-mixed``
(what vLLM-Ascend's ``DeepSeek-V4-Flash-w8a8-mtp`` is), ``w4a8`` -> ``w4a8-mixed``
(``DeepSeek-V4-Pro-w4a8-mtp``), ``w4a16`` -> ``w4a16-mxfp4`` (the A100 ports); ``bf16``,
``fp16`` and ``w8a16`` stay uniform (every class dequantized to, or stored at, that width). The
resolved label (``w8a8-mixed``) is what ``accelsim fit`` and ``accelsim step`` report; every
other model keeps its uniform preset unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from accelsim.errors import AccelsimError

__all__ = [
    "BYTES",
    "MIXED_FORM_OF",
    "MIXED_PRESETS",
    "PRESETS",
    "Precision",
    "UnsupportedDtypeError",
    "mixed_form",
    "precision",
]

BYTES: dict[str, float] = {
    "fp32": 4.0,
    "tf32": 4.0,
    "bf16": 2.0,
    "fp16": 2.0,
    "fp8": 1.0,
    "int8": 1.0,
    "int4": 0.5,
    "fp4": 0.5,
    "mxfp4": 0.53125,
    "nvfp4": 0.5625,
}

#: Weight formats whose GEMMs run in a math dtype of their own (W4A4): NVFP4 on the FP4 cores.
_OWN_MATH = {"nvfp4": "fp4"}

#: Tensor classes that no quantizer narrows below 16 bits (see the module docstring).
_SIXTEEN_BIT_FLOOR = ("embedding", "lm_head")


class UnsupportedDtypeError(AccelsimError):
    """A card was asked to compute in a dtype it has no hardware for."""


@dataclass(frozen=True)
class Precision:
    """Weights, compute and KV-cache dtypes of a deployment."""

    weights: str
    compute: str
    kv: str
    #: ``(tensor class, weight dtype)`` pairs stored otherwise than ``weights`` (mixed presets).
    by_class: tuple[tuple[str, str], ...] = ()
    #: dtype of a lightning indexer's key cache (DeepSeek-V3.2/V4); ``None``: the KV dtype.
    indexer_kv: str | None = None

    @property
    def weight_bytes(self) -> float:
        return BYTES[self.weights]

    def weights_for(self, tensor_class: str) -> str:
        """Stored weight dtype of one tensor class (see the module docstring): its ``by_class``
        entry, else 16 bits for the embedding and LM head when ``weights`` is narrower, else
        ``weights``."""
        named = dict(self.by_class)
        if tensor_class in named:
            return named[tensor_class]
        if tensor_class in _SIXTEEN_BIT_FLOOR and BYTES[self.weights] < 2.0:
            return "bf16"
        return self.weights

    def compute_for(self, tensor_class: str) -> str:
        """Math dtype of one tensor class's GEMMs: FP4 for a class stored in ``nvfp4`` (W4A4,
        module docstring), else ``compute``."""
        return _OWN_MATH.get(self.weights_for(tensor_class), self.compute)

    @property
    def kv_bytes(self) -> float:
        return BYTES[self.kv]

    @property
    def indexer_bytes(self) -> float:
        """Bytes per element of an indexer key cache (``indexer_kv``, else the KV dtype)."""
        return BYTES[self.indexer_kv or self.kv]

    @property
    def act_bytes(self) -> float:
        """Bytes per activation element moved between ops (at least 1: int4 math is rare)."""
        return max(BYTES[self.compute], 1.0)

    @property
    def label(self) -> str:
        for name, p in (PRESETS | MIXED_PRESETS).items():
            if p == self:
                return name
        for name, p in (PRESETS | MIXED_PRESETS).items():
            if replace(p, kv=self.kv, indexer_kv=self.indexer_kv) == self and p.by_class:
                return f"{name},kv={self.kv}"
        named = "".join(f",{c}={d}" for c, d in self.by_class)
        ix = f",indexer={self.indexer_kv}" if self.indexer_kv else ""
        return f"w={self.weights},a={self.compute},kv={self.kv}{named}{ix}"


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

#: The checkpoint's unquantized tensors that the mixed presets leave as shipped (vLLM
#: ``vllm/model_executor/models/deepseek_v4.py``: router gate, KV compressors and
#: hyper-connection mixers are built without a quantization config).
_AS_SHIPPED = (("router", "bf16"), ("compressors", "bf16"), ("hyper_connections", "fp32"))

#: The MLP linear layers an NVFP4 recipe quantizes (module docstring).
_NVFP4_MLP = (("routed_experts", "nvfp4"), ("shared_experts", "nvfp4"), ("dense_ffn", "nvfp4"))

MIXED_PRESETS: dict[str, Precision] = {
    # The DeepSeek-V4 checkpoint as shipped (reference/models.md section 6; vLLM
    # DeepseekV4FP8Config: FP8 block-quantized linear layers, MXFP4 experts with E8M0 scales).
    "fp8-mxfp4": Precision("fp8", "fp8", "bf16", (("routed_experts", "mxfp4"), *_AS_SHIPPED)),
    # Weight-only dequant of the MXFP4 experts on a card without FP4/FP8 math: "community A100
    # ports run the MXFP4 experts with BF16 for the rest" (reference/models.md section 6).
    "w4a16-mxfp4": Precision("bf16", "bf16", "bf16", (("routed_experts", "mxfp4"), *_AS_SHIPPED)),
    # W8A8 on Ascend 910B/910C: vLLM-Ascend serves DeepSeek-V4-Flash as the converted
    # Eco-Tech/DeepSeek-V4-Flash-w8a8-mtp checkpoint (vllm-ascend
    # docs/source/tutorials/models/DeepSeek-V4-Flash.md: "requires 1 Atlas 800 A3 (128G x 8)
    # node or 1 Atlas 800 A2 (64G x 8) node"); every linear layer INT8, experts included.
    "w8a8-mixed": Precision("int8", "int8", "bf16", (("routed_experts", "int8"), *_AS_SHIPPED)),
    # W4A8 on Ascend: Eco-Tech/DeepSeek-V4-Pro-w4a8-mtp (vllm-ascend
    # docs/source/tutorials/models/DeepSeek-V4-Pro.md: "require 2 Atlas 800 A3 (128G x 8) node
    # or 4 Atlas 800 A2 (64G x 8) node"); INT4 routed experts, INT8 attention and shared experts.
    "w4a8-mixed": Precision("int8", "int8", "bf16", (("routed_experts", "int4"), *_AS_SHIPPED)),
    # INT4 routed experts, BF16 rest and math: moonshotai/Kimi-K2-Thinking as shipped
    # ("native INT4 MoE weights (compressed-tensors) with BF16 attention", the vLLM-Ascend
    # Kimi-K2-Thinking tutorial), experts dequantized inside the GEMM.
    "w4a16-int4": Precision("bf16", "bf16", "bf16", (("routed_experts", "int4"), *_AS_SHIPPED)),
    # NVIDIA's NVFP4 DeepSeek-R1 checkpoint as TensorRT Model Optimizer's DeepSeek recipe
    # writes it: every MLP linear layer NVFP4, the attention projections BF16 (module docstring).
    "bf16-nvfp4": Precision("bf16", "bf16", "bf16", (*_NVFP4_MLP, ("router", "bf16"))),
    # vLLM on GB200 (blog 2026-02-03, "Lower-Precision Operations"): NVFP4 MoE GEMMs, FP8 GEMMs
    # for MLA ("FP8 GEMM for MLA").
    "fp8-nvfp4": Precision("fp8", "fp8", "bf16", (*_NVFP4_MLP, ("router", "bf16"))),
}


#: Uniform preset -> its per-class form on a mixed checkpoint (module docstring).
MIXED_FORM_OF: dict[str, str] = {
    "fp8": "fp8-mxfp4",
    "int8": "w8a8-mixed",
    "w8a8": "w8a8-mixed",
    "w4a8": "w4a8-mixed",
    "w4a16": "w4a16-mxfp4",
}


def mixed_form(p: Precision) -> Precision:
    """The per-class form of uniform preset ``p`` for a checkpoint with mixed weight formats
    (``MIXED_FORM_OF``; its KV dtype kept); ``p`` itself when it is mixed already or has none."""
    if p.by_class:
        return p
    for name, uniform in PRESETS.items():
        same = (uniform.weights, uniform.compute) == (p.weights, p.compute)
        if same and name in MIXED_FORM_OF:
            m = MIXED_PRESETS[MIXED_FORM_OF[name]]
            return Precision(m.weights, m.compute, p.kv, m.by_class, p.indexer_kv)
    return p


def precision(preset: str, kv: str | None = None) -> Precision:
    """The ``Precision`` for a preset name, optionally with another KV-cache dtype."""
    try:
        p = (PRESETS | MIXED_PRESETS)[preset]
    except KeyError:
        raise AccelsimError(
            f"unknown dtype {preset!r} (choose from {', '.join(PRESETS | MIXED_PRESETS)})"
        ) from None
    if kv is not None:
        if kv not in BYTES:
            raise AccelsimError(f"unknown KV dtype {kv!r} (choose from {', '.join(BYTES)})")
        p = Precision(p.weights, p.compute, kv, p.by_class, p.indexer_kv)
    return p
