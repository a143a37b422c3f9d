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

from typing import Literal

from pydantic import Field, model_validator

from accelsim.catalog.schema import CatalogEntry, Frozen

__all__ = ["AttentionSpec", "DraftSpec", "MoESpec", "ModelArch"]


class AttentionSpec(Frozen):
    """Attention of every layer: MLA (DeepSeek/Kimi latent), GQA or MHA."""

    kind: Literal["mla", "gqa", "mha"]
    num_heads: int = Field(gt=0)
    num_kv_heads: int | None = Field(default=None, gt=0)
    head_dim: int | None = Field(default=None, gt=0)
    q_lora_rank: int | None = Field(default=None, gt=0)
    kv_lora_rank: int | None = Field(default=None, gt=0)
    qk_nope_head_dim: int | None = Field(default=None, gt=0)
    qk_rope_head_dim: int | None = Field(default=None, gt=0)
    v_head_dim: int | None = Field(default=None, gt=0)
    chunk_size: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _check(self) -> AttentionSpec:
        if self.kind == "mla":
            need = ("kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim")
        else:
            need = ("num_kv_heads", "head_dim")
        missing = [n for n in need if getattr(self, n) is None]
        if missing:
            raise ValueError(f"{self.kind} attention needs {', '.join(missing)}")
        if self.kind == "mha" and self.num_kv_heads != self.num_heads:
            raise ValueError("mha attention needs num_kv_heads == num_heads (use gqa otherwise)")
        return self


class MoESpec(Frozen):
    """The sparse FFN of MoE layers.

    ``routing``: ``topk`` (plain top-k over all experts), ``group_limited`` (DeepSeek: experts in
    ``n_group`` groups, a token picks ``topk_group`` groups first), ``moge`` (Pangu: exactly
    ``top_k / n_group`` experts per group, so every group — and an EP rank holding one group —
    gets equal load).
    """

    num_experts: int = Field(gt=0)
    top_k: int = Field(gt=0)
    expert_intermediate: int = Field(gt=0)
    num_shared_experts: int = Field(default=0, ge=0)
    shared_intermediate: int | None = Field(default=None, gt=0)
    routing: Literal["topk", "group_limited", "moge"] = "topk"
    n_group: int = Field(default=1, gt=0)
    topk_group: int = Field(default=1, gt=0)

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

    @model_validator(mode="after")
    def _check(self) -> ModelArch:
        if self.dense_layers > self.num_layers:
            raise ValueError("dense_layers cannot exceed num_layers")
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
        """Projection weights of one attention block plus its norms (two RMSNorms per layer; an
        EAGLE3 draft's q/k/v read ``attention_input_factor * H`` inputs and it has one more
        norm per extra input)."""
        a, h = self.attention, self.hidden_size
        f = self.draft.attention_input_factor if self.draft else 1
        norms = (1 + f) * h
        if a.kind == "mla":
            qk = a.qk_nope_head_dim + a.qk_rope_head_dim
            if a.q_lora_rank:
                q = h * a.q_lora_rank + a.q_lora_rank * a.num_heads * qk + a.q_lora_rank
            else:
                q = h * a.num_heads * qk
            kv = (
                h * (a.kv_lora_rank + a.qk_rope_head_dim)
                + a.kv_lora_rank * a.num_heads * (a.qk_nope_head_dim + a.v_head_dim)
                + a.kv_lora_rank
            )
            o = a.num_heads * a.v_head_dim * h
            return q + kv + o + norms
        return (
            f * h * a.num_heads * a.head_dim
            + 2 * f * h * a.num_kv_heads * a.head_dim
            + a.num_heads * a.head_dim * h
            + norms
        )

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

    @property
    def mtp_params(self) -> int:
        """Multi-token-prediction modules (not part of ``total_params``)."""
        if not self.mtp_modules:
            return 0
        ffn = (
            self.moe.num_experts * self.expert_params
            + self.shared_expert_params
            + self.router_params
            if self.moe
            else self.dense_ffn_params
        )
        h = self.hidden_size
        return self.mtp_modules * (self.attention_params_per_layer + ffn + 2 * h * h + 3 * h)

    @property
    def nonrouted_params(self) -> int:
        """Everything except routed experts: attention, dense FFNs, shared experts, router,
        embedding, LM head, final norm."""
        return self.total_params - self.routed_params

    @property
    def total_params(self) -> int:
        moe_layer = self.shared_expert_params + self.router_params
        return (
            self.num_layers * self.attention_params_per_layer
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
        """Parameters touched per token, including the embedding row and the LM head."""
        k = self.moe.top_k if self.moe else 0
        moe_layer = self.shared_expert_params + self.router_params + k * self.expert_params
        return (
            self.num_layers * self.attention_params_per_layer
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

    @property
    def kv_elements_per_token_per_layer(self) -> int:
        """Cached elements per token per layer: MLA latent (kv_lora + rope) or 2 x nkv x hd."""
        a = self.attention
        if a.kind == "mla":
            return a.kv_lora_rank + a.qk_rope_head_dim
        return 2 * a.num_kv_heads * a.head_dim

    def kv_bytes_per_token(self, bytes_per_elem: float) -> float:
        """KV-cache bytes one token occupies across all layers."""
        return self.kv_elements_per_token_per_layer * self.num_layers * bytes_per_elem

    @property
    def linear_flops_per_token(self) -> float:
        """Matmul FLOPs per token excluding attention scores: 2 x active params without the
        input embedding (a lookup, not a matmul)."""
        return 2.0 * (self.active_params - self.embedding_params)

    def attention_flops_per_context_token(self, mode: Literal["prefill", "decode"]) -> float:
        """Score + value FLOPs for one query token attending to one context token, all layers.

        MLA decode uses the absorbed latent form; MLA prefill the expanded MHA form.
        """
        a = self.attention
        if a.kind == "mla":
            if mode == "decode":
                per_layer = 2 * a.num_heads * (a.kv_lora_rank + a.qk_rope_head_dim) + (
                    2 * a.num_heads * a.kv_lora_rank
                )
            else:
                per_layer = 2 * a.num_heads * (a.qk_nope_head_dim + a.qk_rope_head_dim) + (
                    2 * a.num_heads * a.v_head_dim
                )
        else:
            per_layer = 4 * a.num_heads * a.head_dim
        return float(per_layer * self.num_layers)
