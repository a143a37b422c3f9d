"""Schema of a model's attention (``attention:`` in ``workloads/models/``) and one layer's math.

Kinds: ``mla`` (DeepSeek/Kimi latent), ``gqa``, ``mha``, ``dsa`` (DeepSeek Sparse Attention,
V3.2) and ``compressed`` (DeepSeek-V4's per-layer kinds). Formulas of the first three follow
``reference/models.md`` section 5 (see ``accelsim.catalog.workloads``); the last two follow its
section 6, with layer shapes from vLLM ``vllm/model_executor/models/deepseek_v4.py``,
``layers/deepseek_v4_attention.py`` and ``layers/deepseek_compressor.py`` and DeepSeek-V3.2's
``inference/model.py``:

- ``dsa``: MLA on every layer plus a lightning indexer (``IndexerSpec``) that scores every cached
  token with ``n`` heads of width ``d`` (``2*n*d`` FLOPs per scored entry) and lets attention
  read the ``top_k`` best. Indexer weights: ``wq_b`` ``q_lora x n*d``, ``wk`` ``H x d``, a
  LayerNorm ``2d``, ``weights_proj`` ``H x n``; its key cache holds ``d`` elements per token.
- ``compressed``: one shared K = V latent of ``head_dim`` per cached entry (MQA, one KV head):
  ``wq_a`` ``H x q_lora`` and its norm, ``wq_b`` ``q_lora x nh*hd``, ``wkv`` ``H x hd`` and its
  norm, a grouped low-rank output (``wo_a`` ``nh*hd x o_lora`` over ``o_groups`` groups, ``wo_b``
  ``o_groups*o_lora x H``) and one FP32 attention sink per head. Every layer attends a sliding
  window of ``sliding_window`` uncompressed tokens. ``compress_ratios`` (one per layer, then one
  per MTP layer, as ``config.json`` lists them) gives each layer's compression ``r``: ``r <= 1``
  window only (``swa``); ``r`` equal to the indexer's ``compress_ratio`` compressed sparse
  (``csa``: one entry per ``r`` tokens, scored by the indexer, attention over the top-k); any
  other ``r`` heavily compressed (``hca``: one entry per ``r`` tokens, all attended). A
  compressed layer has a KV compressor: an ``H x 2*c*hd`` key/gate projection, an FP32 position
  bias ``r x c*hd`` and a norm ``hd``, with ``c = 2`` on CSA layers (overlapping windows: each
  entry a weighted sum of ``2r`` tokens at stride ``r``) and ``c = 1`` on HCA layers. A CSA
  layer's indexer has ``wq_b``, ``weights_proj``, a LayerNorm and a compressor of its own at
  width ``d`` in place of ``wk``.

Score + value FLOPs per (query, attended entry) of a V4 layer: ``4*nh*hd`` (scores and output
both over the ``hd``-wide shared latent).

KV cache of one layer at context ``c`` (``cache_bytes``): MLA/GQA/MHA ``c`` tokens; DSA ``c``
tokens of latent plus indexer key; a V4 layer ``min(c, window)`` window entries plus ``c // r``
compressed entries (as many indexer keys on a CSA layer; the last ``c % r`` tokens wait in the
compressor). The indexer cache has its own dtype. Not in that figure: vLLM's FP8 V4 entry layout
(584 B: 448 FP8 + 64 BF16 rope + scales, against 512 at 1 B per element) and the compressors'
FP32 states (``compressor_state_bytes``: ``c*r`` token slots of ``2*c*width`` FP32 values per
compressor, vLLM ``CompressorStateCache``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import Field, model_validator

from accelsim.catalog.schema import Frozen

__all__ = ["AttentionSpec", "IndexerSpec", "LayerKind", "is_unset"]

LayerKind = Literal["mla", "gqa", "mha", "dsa", "swa", "csa", "hca"]


def is_unset(value: object) -> bool:
    """A field added for sparse/compressed attention is left out of a dump while unset, so an
    entry that does not use it dumps as it did before the field existed."""
    return value is None or value == 0


class IndexerSpec(Frozen):
    """DeepSeek's lightning indexer: ``num_heads`` x ``head_dim`` scores per cached entry, the
    ``top_k`` best attended. It serves the layers compressed at ``compress_ratio`` (1: every
    layer of a ``dsa`` model, V3.2; 4: the CSA layers of V4)."""

    num_heads: int = Field(gt=0)
    head_dim: int = Field(gt=0)
    top_k: int = Field(gt=0)
    compress_ratio: int = Field(default=1, ge=1)

    @property
    def flops_per_entry(self) -> int:
        """FLOPs to score one cached entry for one query (a dot product per head)."""
        return 2 * self.num_heads * self.head_dim


class AttentionSpec(Frozen):
    """Attention of a model's layers (see the module docstring for the kinds)."""

    kind: Literal["mla", "gqa", "mha", "dsa", "compressed"]
    num_heads: int = Field(gt=0)
    num_kv_heads: int | None = Field(default=None, gt=0)
    head_dim: int | None = Field(default=None, gt=0)
    q_lora_rank: int | None = Field(default=None, gt=0)
    kv_lora_rank: int | None = Field(default=None, gt=0)
    qk_nope_head_dim: int | None = Field(default=None, gt=0)
    qk_rope_head_dim: int | None = Field(default=None, gt=0)
    v_head_dim: int | None = Field(default=None, gt=0)
    chunk_size: int | None = Field(default=None, gt=0)
    o_lora_rank: int | None = Field(default=None, gt=0, exclude_if=is_unset)
    o_groups: int | None = Field(default=None, gt=0, exclude_if=is_unset)
    sliding_window: int | None = Field(default=None, gt=0, exclude_if=is_unset)
    compress_ratios: tuple[int, ...] | None = Field(default=None, exclude_if=is_unset)
    indexer: IndexerSpec | None = Field(default=None, exclude_if=is_unset)

    @model_validator(mode="after")
    def _check(self) -> AttentionSpec:
        latent = ("kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim")
        need = {
            "mla": latent,
            "dsa": (*latent, "indexer"),
            "compressed": (
                "num_kv_heads",
                "head_dim",
                "q_lora_rank",
                "qk_rope_head_dim",
                "o_lora_rank",
                "o_groups",
                "sliding_window",
                "compress_ratios",
            ),
        }.get(self.kind, ("num_kv_heads", "head_dim"))
        missing = [n for n in need if getattr(self, n) is None]
        if missing:
            raise ValueError(f"{self.kind} attention needs {', '.join(missing)}")
        if self.kind == "mha" and self.num_kv_heads != self.num_heads:
            raise ValueError("mha attention needs num_kv_heads == num_heads (use gqa otherwise)")
        if self.indexer is not None and self.kind not in ("dsa", "compressed"):
            raise ValueError(f"{self.kind} attention has no indexer (use dsa or compressed)")
        if self.kind == "dsa" and self.indexer.compress_ratio != 1:
            raise ValueError("dsa attention indexes every token (indexer.compress_ratio 1)")
        if self.kind == "compressed":
            if self.num_kv_heads != 1:
                raise ValueError("compressed attention has one shared K = V head (num_kv_heads 1)")
            if self.num_heads % self.o_groups:
                raise ValueError("num_heads must be a multiple of o_groups")
            if any(r < 0 for r in self.compress_ratios):
                raise ValueError("compress_ratios cannot be negative")
            if self.indexer is not None and self.indexer.compress_ratio == 1:
                raise ValueError(
                    "a compressed model's indexer serves compressed layers (ratio > 1)"
                )
        return self

    # ---- layer kinds ------------------------------------------------------------------------
    def layer_kind(self, ratio: int = 0) -> LayerKind:
        """Kind of a layer compressed at ``ratio`` (only ``compressed`` models tell them apart)."""
        if self.kind != "compressed":
            return self.kind
        if ratio <= 1:
            return "swa"
        if self.indexer is not None and ratio == self.indexer.compress_ratio:
            return "csa"
        return "hca"

    def indexed(self, ratio: int = 0) -> bool:
        """Whether a layer compressed at ``ratio`` runs the indexer."""
        return self.kind == "dsa" or self.layer_kind(ratio) == "csa"

    # ---- parameters -------------------------------------------------------------------------
    def projection_params(self, h: int, ratio: int = 0, f: int = 1) -> int:
        """Weights of one layer's attention without its two block norms and without the KV
        compressors: projections, LoRA norms, sinks and the indexer's own projections. ``f``:
        q/k/v read ``f * h`` inputs (an EAGLE3 draft)."""
        if self.kind == "compressed":
            hd, heads = self.head_dim, self.num_heads
            q = h * self.q_lora_rank + self.q_lora_rank + self.q_lora_rank * heads * hd
            o = heads * hd * self.o_lora_rank + self.o_groups * self.o_lora_rank * h
            return q + h * hd + hd + o + heads + self._indexer_params(h, ratio)
        if self.kind in ("mla", "dsa"):
            qk = self.qk_nope_head_dim + self.qk_rope_head_dim
            if self.q_lora_rank:
                q = h * self.q_lora_rank + self.q_lora_rank * self.num_heads * qk + self.q_lora_rank
            else:
                q = h * self.num_heads * qk
            kv = (
                h * (self.kv_lora_rank + self.qk_rope_head_dim)
                + self.kv_lora_rank * self.num_heads * (self.qk_nope_head_dim + self.v_head_dim)
                + self.kv_lora_rank
            )
            o = self.num_heads * self.v_head_dim * h
            return q + kv + o + self._indexer_params(h, ratio)
        return (
            f * h * self.num_heads * self.head_dim
            + 2 * f * h * self.num_kv_heads * self.head_dim
            + self.num_heads * self.head_dim * h
        )

    def _indexer_params(self, h: int, ratio: int) -> int:
        if not self.indexed(ratio):
            return 0
        ix = self.indexer
        own = self.q_lora_rank * ix.num_heads * ix.head_dim + h * ix.num_heads + 2 * ix.head_dim
        return own + (h * ix.head_dim if self.kind == "dsa" else 0)

    def compressor_params(self, h: int, ratio: int) -> int:
        """Weights of a V4 layer's KV compressor and, on a CSA layer, its indexer's compressor."""
        if self.layer_kind(ratio) not in ("csa", "hca"):
            return 0
        widths = [self.head_dim] + ([self.indexer.head_dim] if self.indexed(ratio) else [])
        c = 2 if self.indexed(ratio) else 1
        return sum(h * 2 * c * w + ratio * c * w + w for w in widths)

    # ---- KV cache -----------------------------------------------------------------------------
    @property
    def entry_elements(self) -> int:
        """Cached elements per token (per entry for V4) per layer, indexer keys aside: MLA/DSA
        latent (kv_lora + rope), 2 x nkv x hd, or V4's shared latent hd."""
        if self.kind in ("mla", "dsa"):
            return self.kv_lora_rank + self.qk_rope_head_dim
        if self.kind == "compressed":
            return self.head_dim
        return 2 * self.num_kv_heads * self.head_dim

    def cache_bytes(self, context: int, ratio: int, kv_bytes: float, indexer_bytes: float) -> float:
        """KV-cache bytes of one layer for one sequence of ``context`` tokens."""
        ix = self.indexer.head_dim * indexer_bytes if self.indexed(ratio) else 0.0
        if self.kind != "compressed":
            return context * (self.entry_elements * kv_bytes + ix)
        entry = self.entry_elements * kv_bytes
        window = min(context, self.sliding_window) * entry
        return window + (context // ratio * (entry + ix) if ratio > 1 else 0.0)

    def cache_bytes_per_token(self, ratio: int, kv_bytes: float, indexer_bytes: float) -> float:
        """Bytes one more token of context adds to one layer's cache (window entries aside)."""
        ix = self.indexer.head_dim * indexer_bytes if self.indexed(ratio) else 0.0
        per_entry = self.entry_elements * kv_bytes + ix
        if self.kind != "compressed":
            return per_entry
        return per_entry / ratio if ratio > 1 else 0.0

    def compressor_state_bytes(self, ratio: int) -> int:
        """FP32 compressor states one sequence keeps in one layer (see the module docstring)."""
        if self.layer_kind(ratio) not in ("csa", "hca"):
            return 0
        widths = [self.head_dim] + ([self.indexer.head_dim] if self.indexed(ratio) else [])
        c = 2 if self.indexed(ratio) else 1
        return sum(c * ratio * 2 * c * w * 4 for w in widths)

    # ---- entries read and FLOPs ------------------------------------------------------------------
    def attended_entries(self, context: int, ratio: int = 0) -> int:
        """Cached entries one query attends in one layer at ``context`` tokens."""
        kind = self.layer_kind(ratio)
        if kind in ("mla", "gqa", "mha"):
            return context
        if kind == "dsa":
            return min(context, self.indexer.top_k)
        window = min(context, self.sliding_window)
        if kind == "swa":
            return window
        if kind == "csa":
            return window + min(context // ratio, self.indexer.top_k)
        return window + context // ratio

    def indexed_entries(self, context: int, ratio: int = 0) -> int:
        """Cached entries the indexer scores for one query in one layer (0 without one)."""
        if not self.indexed(ratio):
            return 0
        return context // self.indexer.compress_ratio

    def attended_in_chunk(self, prior: int, tokens: int, ratio: int = 0) -> int:
        """Attended entries summed over the ``tokens`` queries of a prefill chunk after
        ``prior`` cached tokens (query ``p`` sees ``p`` tokens, causal), exact:
        ``sum(attended_entries(p, ratio) for p in prior+1 .. prior+tokens)``."""
        return _chunk(lambda n: self._attended_upto(n, ratio), prior, tokens)

    def indexed_in_chunk(self, prior: int, tokens: int, ratio: int = 0) -> int:
        """Indexer scores summed over the queries of a prefill chunk (as ``attended_in_chunk``)."""
        if not self.indexed(ratio):
            return 0
        return _chunk(lambda n: _floor_sum(n, self.indexer.compress_ratio), prior, tokens)

    def _attended_upto(self, n: int, ratio: int) -> int:
        """``sum(attended_entries(p, ratio) for p in 1 .. n)``."""
        kind = self.layer_kind(ratio)
        if kind in ("mla", "gqa", "mha"):
            return n * (n + 1) // 2
        if kind == "dsa":
            return _capped_sum(n, self.indexer.top_k)
        window = _capped_sum(n, self.sliding_window)
        if kind == "swa":
            return window
        if kind == "hca":
            return window + _floor_sum(n, ratio)
        k = self.indexer.top_k  # floor(p / r) reaches k at p = k * r
        if n < k * ratio:
            return window + _floor_sum(n, ratio)
        return window + _floor_sum(k * ratio - 1, ratio) + (n - k * ratio + 1) * k

    def flops_per_attended_entry(self, mode: Literal["prefill", "decode"]) -> int:
        """Score + value FLOPs of one layer for one query and one attended entry: MLA/DSA decode
        absorbed (latent), prefill expanded; GQA/MHA ``4*nh*hd``; V4 ``4*nh*hd`` over the
        shared latent."""
        if self.kind in ("mla", "dsa"):
            if mode == "decode":
                return 2 * self.num_heads * (self.kv_lora_rank + self.qk_rope_head_dim) + (
                    2 * self.num_heads * self.kv_lora_rank
                )
            return 2 * self.num_heads * (self.qk_nope_head_dim + self.qk_rope_head_dim) + (
                2 * self.num_heads * self.v_head_dim
            )
        return 4 * self.num_heads * self.head_dim


def _capped_sum(n: int, cap: int) -> int:
    """``sum(min(p, cap) for p in 1 .. n)``."""
    if n <= cap:
        return n * (n + 1) // 2
    return cap * (cap + 1) // 2 + (n - cap) * cap


def _floor_sum(n: int, r: int) -> int:
    """``sum(p // r for p in 1 .. n)``."""
    q, rem = divmod(n, r)
    return r * q * (q - 1) // 2 + q * (rem + 1)


def _chunk(upto: Callable[[int], int], prior: int, tokens: int) -> int:
    return upto(prior + tokens) - upto(prior)
