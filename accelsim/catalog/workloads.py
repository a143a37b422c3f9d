"""Schema of ``workloads/models/``: MoE and dense transformer architectures, and their math.

Model files hold only what a released ``config.json`` says (dimensions, layer and expert counts);
every derived quantity — parameters by part, total and active parameters, bytes by dtype, KV
bytes per token, FLOPs per token — is computed here, never typed into a file. Formulas follow
``reference/models.md`` section 5:

- SwiGLU FFN: ``3*H*I`` parameters, ``2*3*H*I`` FLOPs per token.
- GQA/MHA projections: ``H*nh*hd + 2*H*nkv*hd + nh*hd*H``.
- MLA projections: ``H*q_lora + q_lora*nh*(nope+rope)`` (or ``H*nh*(nope+rope)`` without q LoRA)
  plus ``H*(kv_lora+rope) + kv_lora*nh*(nope+v) + nh*v*H`` plus LoRA norms.
- MoE layer: attention + (E + s) experts + router ``E*H``; active uses (k + s) experts.
- KV bytes per token: GQA ``2*nkv*hd*L*bytes``; MLA latent cache ``(kv_lora+rope)*L*bytes``.
- Attention FLOPs per (query token, context token): GQA/MHA ``4*nh*hd`` per layer; MLA absorbed
  (decode) ``2*nh*(kv_lora+rope) + 2*nh*kv_lora``; MLA expanded (prefill) ``2*nh*(nope+rope) +
  2*nh*v``.

Assumptions: RMSNorm weights (two per layer, one final, MLA LoRA norms) are counted; biases are
absent (true for every model in the catalog); an MTP module is one extra decoder layer of the
MoE kind plus a ``2H x H`` projection and two norms, sharing embedding and LM head (DeepSeek-V3).
Router correction biases (``e_score_correction_bias``, E per layer) and the hash-routing tables
(token id to experts, an index, not a weight) are not counted.

Attention kinds and one layer's attention math (MLA, GQA, MHA, DeepSeek sparse attention,
DeepSeek-V4's compressed per-layer kinds): ``accelsim.catalog.attention``. Hyper-connections
(``HyperConnectionSpec``, DeepSeek-V4's mHC; vLLM ``DeepseekV4DecoderLayer``): the residual
stream is ``n`` copies of ``H``; each layer mixes them before attention and before the FFN with
an FP32 map of ``(2+n)*n x n*H`` weights, ``(2+n)*n`` biases and 3 scales (Sinkhorn-normalized),
and the model head collapses them with ``n x n*H`` weights, ``n`` biases and 1 scale. A V4 MTP
module adds its own head map; its attention is the kind its ``compress_ratios`` entry gives.

Weights by tensor class (``TENSOR_CLASSES``, ``params_by_class``): routed experts, shared
experts, dense FFNs, attention (projections, indexers, sinks and the layers' norms), KV
compressors, router, hyper-connections, embedding, LM head, other (the final norm, MTP input
projections and norms, a draft's fusion projection); a checkpoint's native format per class is
``weight_formats`` and ``weight_bytes_by_class`` prices them for a ``Precision``.

Draft models (a ``draft:`` section, ``DraftSpec``): an EAGLE/EAGLE3 draft is a separate small
decoder loaded next to its target for speculative decoding. Its parameters follow SGLang's
``LlamaForCausalLMEagle3`` (``python/sglang/srt/models/llama_eagle3.py``): a ``fc`` projection
fusing ``fused_hidden_states`` target hidden states (``3 * H_target x H``, no bias), one decoder
layer whose q/k/v projections read ``attention_input_factor * H`` inputs (EAGLE3: the token
embedding concatenated with the fused hidden state, ``2H``; three RMSNorms instead of two), and
an LM head over ``draft_vocab_size`` rows (EAGLE3's reduced vocabulary, 32,000). The input
embedding is the target's (SGLang's EAGLE worker calls ``set_embed`` with the target's table:
"most cases EAGLE3 models don't share lm_head"), so a draft with ``shares_target_embedding``
counts no embedding parameters of its own.
"""

from __future__ import annotations

from collections import Counter
from typing import Literal

from pydantic import Field, model_validator

from accelsim.catalog.attention import AttentionSpec, LayerKind, is_unset
from accelsim.catalog.schema import CatalogEntry, Frozen
from accelsim.dtypes import BYTES, Precision, mixed_form
from accelsim.errors import AccelsimError

__all__ = [
    "TENSOR_CLASSES",
    "DraftSpec",
    "HyperConnectionSpec",
    "MoESpec",
    "ModelArch",
    "WeightFormats",
]

#: Classes of weight tensors (see the module docstring); ``params_by_class`` sums to the total.
TENSOR_CLASSES = (
    "routed_experts",
    "shared_experts",
    "dense_ffn",
    "attention",
    "compressors",
    "router",
    "hyper_connections",
    "embedding",
    "lm_head",
    "other",
)


class HyperConnectionSpec(Frozen):
    """Manifold-constrained hyper-connections (DeepSeek-V4): ``streams`` residual copies mixed
    per layer by Sinkhorn-normalized maps (``sinkhorn_iters`` iterations)."""

    streams: int = Field(gt=1)
    sinkhorn_iters: int = Field(ge=0)

    def layer_params(self, h: int) -> int:
        """FP32 mixing weights of one decoder layer (a map before attention, one before the
        FFN; see the module docstring)."""
        mix = (2 + self.streams) * self.streams
        return 2 * (mix * self.streams * h + mix + 3)

    def head_params(self, h: int) -> int:
        """The map that collapses the streams before the final norm (one per model and one per
        MTP module)."""
        return self.streams * self.streams * h + self.streams + 1


class WeightFormats(Frozen):
    """Storage dtype of each tensor class as the checkpoint ships it (``default`` for a class
    not named); dtypes are those of ``accelsim.dtypes.BYTES`` (``mxfp4`` counts its scales)."""

    default: str
    routed_experts: str | None = None
    shared_experts: str | None = None
    dense_ffn: str | None = None
    attention: str | None = None
    compressors: str | None = None
    router: str | None = None
    hyper_connections: str | None = None
    embedding: str | None = None
    lm_head: str | None = None
    other: str | None = None

    @model_validator(mode="after")
    def _known(self) -> WeightFormats:
        for cls in ("default", *TENSOR_CLASSES):
            fmt = getattr(self, cls)
            if fmt is not None and fmt not in BYTES:
                raise ValueError(f"{cls}: unknown dtype {fmt!r} (choose from {', '.join(BYTES)})")
        return self

    def of(self, tensor_class: str) -> str:
        """The stored dtype of ``tensor_class``."""
        return getattr(self, tensor_class) or self.default


class MoESpec(Frozen):
    """The sparse FFN of MoE layers.

    ``routing``: ``topk`` (plain top-k over all experts), ``group_limited`` (DeepSeek: experts in
    ``n_group`` groups, a token picks ``topk_group`` groups first), ``moge`` (Pangu: exactly
    ``top_k / n_group`` experts per group, so every group — and an EP rank holding one group —
    gets equal load). ``hash_layers``: the first MoE layers route by a fixed table from token id
    to ``top_k`` experts instead of the router's scores (DeepSeek-V4 ``num_hash_layers``); their
    load follows the token mix, not learned balance.
    """

    num_experts: int = Field(gt=0)
    top_k: int = Field(gt=0)
    expert_intermediate: int = Field(gt=0)
    num_shared_experts: int = Field(default=0, ge=0)
    shared_intermediate: int | None = Field(default=None, gt=0)
    routing: Literal["topk", "group_limited", "moge"] = "topk"
    n_group: int = Field(default=1, gt=0)
    topk_group: int = Field(default=1, gt=0)
    hash_layers: int = Field(default=0, ge=0, exclude_if=is_unset)

    @model_validator(mode="after")
    def _check(self) -> MoESpec:
        if self.top_k > self.num_experts:
            raise ValueError("top_k cannot exceed num_experts")
        if self.num_experts % self.n_group:
            raise ValueError("num_experts must be a multiple of n_group")
        if self.routing == "moge" and self.top_k % self.n_group:
            raise ValueError("moge routing needs top_k to be a multiple of n_group")
        return self

    @property
    def shared_width(self) -> int:
        """Total FFN width of the shared experts (``shared_intermediate`` or s x expert width)."""
        if self.shared_intermediate is not None:
            return self.shared_intermediate
        return self.num_shared_experts * self.expert_intermediate


class DraftSpec(Frozen):
    """What makes a model a speculative-decoding draft (EAGLE/EAGLE3) and how it is built.

    ``target``: the model it drafts for. ``draft_vocab_size``: rows of its LM head (default: the
    model's ``vocab_size``). ``fused_hidden_states``: target hidden states its ``fc`` projection
    fuses (EAGLE3: 3, low/middle/high layers; 0: no projection). ``target_hidden_size``: width
    of those hidden states (default: ``hidden_size``). ``attention_input_factor``: q/k/v read
    this many ``H``-wide inputs (EAGLE3: 2). ``weight_dtype``: the dtype the framework loads it
    in (drafts run unquantized: SGLang ``--speculative-draft-model-quantization unquant``).
    """

    method: Literal["eagle", "eagle3"]
    target: str
    draft_vocab_size: int | None = Field(default=None, gt=0)
    fused_hidden_states: int = Field(default=0, ge=0)
    target_hidden_size: int | None = Field(default=None, gt=0)
    attention_input_factor: int = Field(default=1, ge=1)
    shares_target_embedding: bool = True
    weight_dtype: Literal["bf16", "fp16"] = "bf16"


class ModelArch(CatalogEntry):
    """A decoder-only transformer, dense or MoE, as its ``config.json`` describes it."""

    family: str
    hidden_size: int = Field(gt=0)
    num_layers: int = Field(gt=0)
    dense_layers: int = Field(ge=0)
    dense_intermediate: int | None = Field(default=None, gt=0)
    moe: MoESpec | None = None
    attention: AttentionSpec
    vocab_size: int = Field(gt=0)
    tied_embeddings: bool = False
    mtp_modules: int = Field(default=0, ge=0)
    max_context: int = Field(gt=0)
    published_total_params: float | None = None
    published_active_params: float | None = None
    #: Set on speculative-decoding draft models (EAGLE/EAGLE3): see ``DraftSpec``.
    draft: DraftSpec | None = None
    hyper_connections: HyperConnectionSpec | None = Field(default=None, exclude_if=is_unset)
    #: The checkpoint's native storage dtype per tensor class (``weight_bytes_by_class``).
    weight_formats: WeightFormats | None = Field(default=None, exclude_if=is_unset)

    @model_validator(mode="after")
    def _check(self) -> ModelArch:
        if self.dense_layers > self.num_layers:
            raise ValueError("dense_layers cannot exceed num_layers")
        ratios = self.attention.compress_ratios
        if ratios is not None and len(ratios) != self.num_layers + self.mtp_modules:
            raise ValueError("compress_ratios needs one entry per layer and per MTP layer")
        if self.moe is not None and self.moe.hash_layers > self.moe_layers:
            raise ValueError("moe.hash_layers cannot exceed the MoE layers")
        if self.moe is None and self.dense_layers != self.num_layers:
            raise ValueError("a model without moe must have dense_layers == num_layers")
        if self.dense_layers and self.dense_intermediate is None:
            raise ValueError("dense layers need dense_intermediate")
        if self.draft is not None and (self.moe is not None or self.mtp_modules):
            raise ValueError("a draft model is dense and has no MTP modules")
        return self

    # ---- structure ------------------------------------------------------------------------
    @property
    def is_moe(self) -> bool:
        return self.moe is not None

    @property
    def moe_layers(self) -> int:
        return self.num_layers - self.dense_layers

    @property
    def is_draft(self) -> bool:
        """A speculative-decoding draft model (it has a ``draft`` section)."""
        return self.draft is not None

    # ---- parameters by part (counts, not bytes) -------------------------------------------
    @property
    def attention_params_per_layer(self) -> int:
        """Weights of one attention block plus its norms (two RMSNorms per layer; an EAGLE3
        draft's q/k/v read ``attention_input_factor * H`` inputs and it has one more norm per
        extra input). A DSA layer's includes its indexer; on a ``compressed`` model it is a
        window-only layer's, the part every layer has (``attention_params_of_layer``)."""
        f = self.draft.attention_input_factor if self.draft else 1
        h = self.hidden_size
        return self.attention.projection_params(h, 0, f) + (1 + f) * h

    def attention_params_at(self, ratio: int) -> int:
        """Attention weights (indexer and KV compressors included) of a layer compressed at
        ``ratio`` (``attention_params_per_layer`` on a model without compression)."""
        a, h = self.attention, self.hidden_size
        if a.kind != "compressed":
            return self.attention_params_per_layer
        return a.projection_params(h, ratio) + 2 * h + a.compressor_params(h, ratio)

    def layer_ratios(self) -> tuple[int, ...]:
        """Compression ratio of every main layer (0 everywhere without compression)."""
        ratios = self.attention.compress_ratios
        return tuple(ratios[: self.num_layers]) if ratios is not None else (0,) * self.num_layers

    def layer_groups(self) -> tuple[tuple[int, bool, int], ...]:
        """Main layers grouped by what prices them alike: ``(count, is_moe, ratio)``, dense
        layers first, then by ratio ascending. A model without compression has at most two
        groups, ``(dense_layers, False, 0)`` and ``(moe_layers, True, 0)``."""
        counts = Counter((i >= self.dense_layers, r) for i, r in enumerate(self.layer_ratios()))
        return tuple((n, moe, r) for (moe, r), n in sorted(counts.items()))

    @property
    def mixed_native(self) -> bool:
        """Whether the checkpoint stores its routed experts otherwise than the rest (DeepSeek-V4's
        MXFP4 experts next to FP8): a uniform preset then resolves to its per-class form
        (``deployed_precision``)."""
        f = self.weight_formats
        return f is not None and f.of("routed_experts") != f.default

    def deployed_precision(self, prec: Precision) -> Precision:
        """``prec`` as this model is deployed with it: on a ``mixed_native`` checkpoint a uniform
        preset becomes its per-class form (``accelsim.dtypes.mixed_form``), else ``prec``."""
        return mixed_form(prec) if self.mixed_native else prec

    def _ratio(self, layer: int) -> int:
        """Compression of layer ``layer`` (``num_layers + i``: MTP module ``i``); 0 if none."""
        ratios = self.attention.compress_ratios
        return ratios[layer] if ratios is not None else 0

    def _main_ratios(self) -> Counter[int]:
        """Main layers by compression ratio (all 0 for attention without compression)."""
        ratios = self.attention.compress_ratios
        return Counter(ratios[: self.num_layers] if ratios is not None else [0] * self.num_layers)

    def attention_params_of_layer(self, layer: int) -> int:
        """Attention weights of layer ``layer`` (``num_layers + i``: MTP module ``i``), its
        indexer and KV compressors included."""
        return self.attention_params_at(self._ratio(layer))

    @property
    def layer_kinds(self) -> tuple[LayerKind, ...]:
        """Attention kind of every main layer (``accelsim.catalog.attention.LayerKind``)."""
        return tuple(self.attention.layer_kind(self._ratio(i)) for i in range(self.num_layers))

    @property
    def attention_params_total(self) -> int:
        """Attention weights of all main layers (indexers and compressors included)."""
        if self.attention.compress_ratios is None:
            return self.num_layers * self.attention_params_per_layer
        return sum(n * self.attention_params_at(r) for r, n in self._main_ratios().items())

    @property
    def hyper_connection_params(self) -> int:
        """Hyper-connection maps of the main model: every layer's and the head's."""
        hc, h = self.hyper_connections, self.hidden_size
        return self.num_layers * hc.layer_params(h) + hc.head_params(h) if hc else 0

    @property
    def dense_ffn_params(self) -> int:
        """One dense SwiGLU FFN."""
        return 3 * self.hidden_size * (self.dense_intermediate or 0)

    @property
    def expert_params(self) -> int:
        """One routed expert (SwiGLU of width ``expert_intermediate``)."""
        return 3 * self.hidden_size * self.moe.expert_intermediate if self.moe else 0

    @property
    def shared_expert_params(self) -> int:
        """All shared experts of one MoE layer together."""
        return 3 * self.hidden_size * self.moe.shared_width if self.moe else 0

    @property
    def router_params(self) -> int:
        return self.moe.num_experts * self.hidden_size if self.moe else 0

    @property
    def embedding_params(self) -> int:
        """The model's own input embedding (0 for a draft that uses its target's)."""
        if self.draft is not None and self.draft.shares_target_embedding:
            return 0
        return self.vocab_size * self.hidden_size

    @property
    def lm_head_vocab(self) -> int:
        """Rows of the LM head: a draft's ``draft_vocab_size``, else ``vocab_size``."""
        if self.draft is not None and self.draft.draft_vocab_size:
            return self.draft.draft_vocab_size
        return self.vocab_size

    @property
    def lm_head_params(self) -> int:
        return 0 if self.tied_embeddings else self.lm_head_vocab * self.hidden_size

    @property
    def fusion_params(self) -> int:
        """A draft's ``fc`` projection of ``fused_hidden_states`` target hidden states."""
        d = self.draft
        if d is None or not d.fused_hidden_states:
            return 0
        return d.fused_hidden_states * (d.target_hidden_size or self.hidden_size) * self.hidden_size

    @property
    def routed_params(self) -> int:
        """Routed-expert weights over all MoE layers (what expert parallelism splits)."""
        return self.moe_layers * self.moe.num_experts * self.expert_params if self.moe else 0

    def _layer_params(self, layer: int, active: bool = False) -> dict[str, int]:
        """Weights of one decoder layer (``num_layers + i``: MTP module ``i``) by tensor class;
        ``active``: only the top-k routed experts."""
        a, h, hc = self.attention, self.hidden_size, self.hyper_connections
        out = dict.fromkeys(TENSOR_CLASSES, 0)
        compressors = a.compressor_params(h, self._ratio(layer))
        out["attention"] = self.attention_params_of_layer(layer) - compressors
        out["compressors"] = compressors
        out["hyper_connections"] = hc.layer_params(h) if hc else 0
        if self.moe is not None and layer >= self.dense_layers:
            experts = self.moe.top_k if active else self.moe.num_experts
            out["routed_experts"] = experts * self.expert_params
            out["shared_experts"] = self.shared_expert_params
            out["router"] = self.router_params
        else:
            out["dense_ffn"] = self.dense_ffn_params
        if layer >= self.num_layers:  # MTP: its 2H x H input projection, 3 norms, head map
            out["other"] = 2 * h * h + 3 * h
            out["hyper_connections"] += hc.head_params(h) if hc else 0
        return out

    def params_by_class(self, include_mtp: bool = False, active: bool = False) -> dict[str, int]:
        """Weights by tensor class (``TENSOR_CLASSES``): ``total_params`` split (``active``:
        ``active_params``), plus the MTP modules with ``include_mtp``."""
        out = dict.fromkeys(TENSOR_CLASSES, 0)
        layers = self.num_layers + (self.mtp_modules if include_mtp else 0)
        for layer in range(layers):
            for cls, n in self._layer_params(layer, active).items():
                out[cls] += n
        hc = self.hyper_connections
        out["hyper_connections"] += hc.head_params(self.hidden_size) if hc else 0
        out["embedding"] = self.embedding_params
        out["lm_head"] = self.lm_head_params
        out["other"] += self.fusion_params + self.hidden_size
        return out

    def mtp_params_by_class(self) -> dict[str, int]:
        """Weights of the MTP modules by tensor class (they share the embedding and LM head)."""
        out = dict.fromkeys(TENSOR_CLASSES, 0)
        for layer in range(self.num_layers, self.num_layers + self.mtp_modules):
            for cls, n in self._layer_params(layer).items():
                out[cls] += n
        return out

    def cache_bytes_of_layers(
        self, layers: range, context: int, kv_bytes: float, indexer_bytes: float
    ) -> float:
        """KV-cache bytes of one ``context``-token sequence in main layers ``layers`` (window-
        capped plus compressed entries on V4 layers, indexer keys in ``indexer_bytes``) plus
        their FP32 compressor states."""
        a, ratios = self.attention, self.layer_ratios()
        return sum(
            a.cache_bytes(context, ratios[i], kv_bytes, indexer_bytes)
            + a.compressor_state_bytes(ratios[i])
            for i in layers
        )

    @property
    def mtp_params(self) -> int:
        """Multi-token-prediction modules (not part of ``total_params``)."""
        layers = range(self.num_layers, self.num_layers + self.mtp_modules)
        return sum(sum(self._layer_params(layer).values()) for layer in layers)

    @property
    def nonrouted_params(self) -> int:
        """Everything except routed experts: attention, dense FFNs, shared experts, router,
        embedding, LM head, final norm."""
        return self.total_params - self.routed_params

    @property
    def total_params(self) -> int:
        """Weights of the main model: every layer (attention with its indexers and compressors,
        dense FFN or MoE with all experts and the router, hyper-connection maps), embedding, LM
        head and final norm; not the MTP modules (``mtp_params``), as DeepSeek counts its
        totals (671B for V3, 1.6T and 284B for V4)."""
        moe_layer = self.shared_expert_params + self.router_params
        return (
            self.attention_params_total
            + self.hyper_connection_params
            + self.dense_layers * self.dense_ffn_params
            + self.moe_layers * moe_layer
            + self.routed_params
            + self.embedding_params
            + self.lm_head_params
            + self.fusion_params
            + self.hidden_size
        )

    @property
    def active_params(self) -> int:
        """Parameters touched per token, including the embedding row and the LM head (DeepSeek's
        "activated" counts leave the input embedding out: ``active_params - embedding_params``
        is its 37B for V3 and 49B/13B for V4-Pro/Flash)."""
        k = self.moe.top_k if self.moe else 0
        moe_layer = self.shared_expert_params + self.router_params + k * self.expert_params
        return (
            self.attention_params_total
            + self.hyper_connection_params
            + self.dense_layers * self.dense_ffn_params
            + self.moe_layers * moe_layer
            + self.embedding_params
            + self.lm_head_params
            + self.fusion_params
            + self.hidden_size
        )

    # ---- bytes and FLOPs --------------------------------------------------------------------
    def weight_bytes(self, bytes_per_param: float) -> float:
        """All weights (``total_params``) stored at ``bytes_per_param``."""
        return self.total_params * bytes_per_param

    def weight_bytes_by_class(
        self, precision: Precision | None = None, include_mtp: bool = False
    ) -> dict[str, float]:
        """Weight bytes by tensor class, stored as ``precision`` says
        (``Precision.weights_for``) or, without one, in the checkpoint's ``weight_formats``."""
        if precision is None and self.weight_formats is None:
            raise AccelsimError(
                f"model {self.name!r} records no native weight formats; name a precision"
            )
        fmt = precision.weights_for if precision is not None else self.weight_formats.of
        return {c: n * BYTES[fmt(c)] for c, n in self.params_by_class(include_mtp).items()}

    @property
    def kv_elements_per_token_per_layer(self) -> int:
        """Cached elements per token per layer: MLA latent (kv_lora + rope) or 2 x nkv x hd; a
        DSA layer's latent without its indexer key; a V4 entry's shared latent (one entry per
        ``r`` tokens on a compressed layer)."""
        return self.attention.entry_elements

    def kv_bytes_per_token(
        self, bytes_per_elem: float, indexer_bytes_per_elem: float | None = None
    ) -> float:
        """KV-cache bytes one more token of context adds across all layers: DSA adds the indexer
        key (in ``indexer_bytes_per_elem``, default the KV dtype); a V4 model its compressed
        entries' share (the sliding windows are a fixed size, ``kv_bytes_per_sequence``)."""
        a = self.attention
        if a.kind in ("mla", "gqa", "mha"):
            return self.kv_elements_per_token_per_layer * self.num_layers * bytes_per_elem
        ib = bytes_per_elem if indexer_bytes_per_elem is None else indexer_bytes_per_elem
        return sum(
            n * a.cache_bytes_per_token(r, bytes_per_elem, ib)
            for r, n in self._main_ratios().items()
        )

    def kv_bytes_by_layer_kind(
        self, context: int, bytes_per_elem: float, indexer_bytes_per_elem: float | None = None
    ) -> dict[LayerKind, float]:
        """KV-cache bytes of one sequence of ``context`` tokens, by layer kind (window-capped plus
        compressed entries on V4 layers; indexer keys in ``indexer_bytes_per_elem``, default the
        KV dtype)."""
        a = self.attention
        ib = bytes_per_elem if indexer_bytes_per_elem is None else indexer_bytes_per_elem
        out: dict[LayerKind, float] = {}
        for r, n in self._main_ratios().items():
            kind = a.layer_kind(r)
            out[kind] = out.get(kind, 0.0) + n * a.cache_bytes(context, r, bytes_per_elem, ib)
        return out

    def kv_bytes_per_sequence(
        self, context: int, bytes_per_elem: float, indexer_bytes_per_elem: float | None = None
    ) -> float:
        """KV-cache bytes of one sequence of ``context`` tokens over all layers."""
        return sum(
            self.kv_bytes_by_layer_kind(context, bytes_per_elem, indexer_bytes_per_elem).values()
        )

    @property
    def compressor_state_bytes_per_sequence(self) -> int:
        """FP32 compressor states one sequence holds over all layers (V4; 0 otherwise)."""
        a = self.attention
        return sum(n * a.compressor_state_bytes(r) for r, n in self._main_ratios().items())

    @property
    def linear_flops_per_token(self) -> float:
        """Matmul FLOPs per token excluding attention scores: 2 x active params without the
        input embedding (a lookup, not a matmul)."""
        return 2.0 * (self.active_params - self.embedding_params)

    def attention_flops_per_context_token(self, mode: Literal["prefill", "decode"]) -> float:
        """Score + value FLOPs for one query token attending to one context token, all layers.

        MLA decode uses the absorbed latent form; MLA prefill the expanded MHA form. For DSA and
        V4 models this is per *attended* entry; how many a query attends at a context length,
        and what the indexer scan adds, is ``attention_flops_per_token``.
        """
        return float(self.attention.flops_per_attended_entry(mode) * self.num_layers)

    def attention_flops_per_token(
        self, context: int, mode: Literal["prefill", "decode"]
    ) -> dict[str, float]:
        """Attention FLOPs of one query token at ``context`` tokens, all layers: ``attention``
        (scores and values over the entries each layer attends) and ``indexer`` (the lightning
        indexer scoring every cached entry of the layers it serves, linear in context)."""
        a = self.attention
        ratios = self._main_ratios().items()
        attended = sum(n * a.attended_entries(context, r) for r, n in ratios)
        scored = sum(n * a.indexed_entries(context, r) for r, n in ratios)
        per_score = a.indexer.flops_per_entry if a.indexer is not None else 0
        return {
            "attention": float(attended * a.flops_per_attended_entry(mode)),
            "indexer": float(scored * per_score),
        }
