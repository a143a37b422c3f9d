"""One layer's sparse or compressed attention on one rank (DeepSeek-V3.2 DSA, DeepSeek-V4's
sliding-window / CSA / HCA layers), and its lightning indexer as a term of its own.

Layer math (entries attended and scored, cache layout, FLOPs per entry) is
``accelsim.catalog.attention``; shapes and kinds follow ``reference/models.md`` section 6. On
one rank of a ``tp``-way group, for a layer compressed at ratio ``r``:

- **projections** — GEMMs over the group's tokens of the layer's attention weights
  (``ModelArch.attention_params_at``: q/kv/o projections, LoRA norms, sinks and the indexer's
  own projections) split ``tp`` ways, as MLA's are; on a V4 CSA/HCA layer the **KV
  compressors** (and the indexer's) are one more GEMM over every token, replicated on each rank
  (they produce the one shared latent, which every rank holds) and read in their own dtype
  (``Roofline.wb_of["compressors"]``, BF16 in every mixed preset);
- **core** — each query attends ``attended_entries(context, r)`` entries: DSA the indexer's
  ``top_k``; V4 a ``sliding_window`` of uncompressed tokens plus the CSA top-k or every HCA
  entry. Decode: per sequence, at the group's mean decode context, ``q_per_seq`` queries (MTP
  verification) over those entries; FLOPs ``flops_per_attended_entry("decode")`` each (DSA:
  MLA's absorbed latent form; V4: ``4 nh hd``) over ``tp`` ranks. Bytes (``entry_elements``
  x the KV dtype per entry): the sliding window and the HCA entries are read once per
  sequence (its queries share them), but the indexer's top-k entries are gathered once per
  query, ``q_per_seq`` times per sequence, because each query token selects its own set.
  Source: cann-recipes-infer (hicann/cann-recipes-infer), ``docs/models/deepseek-v3.2/
  deepseek_v3.2_inference_guide.md`` at 094b7bd, section MTP: Sparse Flash Attention's KV
  moved for 4 sequences at 64K is 4.5 MB without MTP and 9 MB with MTP1, while MLA's stays
  144 MB and the indexer's 32 MB; ``docs/models/deepseek-v4/deepseek_v4_inference_guide.md``
  at 13b0b7c, section MTP: CSA's attention moves up to ``next_n + 1`` times the KV of a step
  without MTP, while SWA, HCA and the indexer move about the same. Huawei counts the worst
  case (no overlap between the queries' sets) and so does this term: a repeated entry that
  hits in L2 is not credited (assumption). Prefill: ``attended_in_chunk(prior, tokens, r)``
  (query, entry) pairs per sequence at the group's mean chunk, at the expanded form's FLOPs
  (DSA: MLA's expanded MHA form, plus re-expanding the prior context's latent as MLA does),
  reading the layer's cached entries at the chunk's end once. Decode at the card's decode
  attention rate, prefill at its attention rate (``accelsim.model.perf.roofline``);
- **indexer** (op class ``indexer``, on DSA layers and V4 CSA layers only) — every query scores
  every compressed entry of its context (``indexed_entries``: ``context / 4`` on V4 CSA layers,
  ``context`` on V3.2): ``2 x heads x dim`` FLOPs per entry at the attention rate, the key
  cache read once per sequence in ``Precision.indexer_bytes``, and one FP32 score per
  (query, entry) written by the scoring kernel and read by the top-k selection (``8 B``). The
  indexer is replicated on the ranks of a group (its 64 heads are not split; assumption, as
  its weights are small and its output, the top-k indices, is needed whole on every rank).
  This is the term that grows linearly with context per decode step (quadratically per
  prefill) while the core stays bounded by ``top_k + window (+ HCA entries)``.

Elementwise kernels per token on one rank (conventions in ``accelsim.model.perf.roofline``,
into ``attention``): the attention input's residual add + RMSNorm (``4 H a``) and quantisation
(``H q``); the query LoRA norm and quantisation (``2 q_lora a + q_lora q``) and the latent norm
(``2 a x latent``); RoPE on the rotary slice of the rank's query heads and the shared key
(``2 a (heads/tp + 1) rope``); the quantisation of the output projection's input
(``heads/tp x v`` elements; V4 also its grouped low-rank output, ``o_groups x o_lora / tp``).

Ignored (named so nobody is surprised): vLLM's FP8 V4 entry layout (584 B against 512 at 1 B
per element), the overlap of the top-k sets of one sequence's queries (see **core**), the
compressors' FP32 state updates, and the top-k sort's own work on the vector cores (the Ascend
C kernel's merge sort makes ``4.36 S_k + 3.32 k`` element passes per query, per
``deepseek_v3.2_ascendc_operator_guide.md``, but no per-element rate is published).
"""

from __future__ import annotations

from accelsim.catalog.workloads import ModelArch
from accelsim.dtypes import Precision
from accelsim.model.perf.ops import K_ATTN, K_INDEXER, Group, Ops
from accelsim.model.perf.roofline import Roofline

__all__ = ["SparseAttention"]


class SparseAttention:
    """The attention of one ``dsa`` or ``compressed`` layer of ``model`` compressed at
    ``ratio`` on one rank of a ``tp``-way group (see the module docstring)."""

    __slots__ = (
        "a",
        "comp_params",
        "entry_b",
        "ew",
        "f_dec",
        "f_expand",
        "f_pre",
        "ix_b",
        "params",
        "ratio",
        "roof",
        "tp",
    )

    def __init__(
        self, model: ModelArch, tp: int, prec: Precision, roof: Roofline, ratio: int = 0
    ) -> None:
        a = model.attention
        assert a.kind in ("dsa", "compressed")
        self.a, self.roof, self.tp, self.ratio = a, roof, tp, ratio
        h = model.hidden_size
        self.comp_params = a.compressor_params(h, ratio)
        self.params = model.attention_params_at(ratio) - self.comp_params
        self.entry_b = a.entry_elements * prec.kv_bytes
        self.ix_b = a.indexer.head_dim * prec.indexer_bytes if a.indexed(ratio) else 0.0
        self.f_dec = float(a.flops_per_attended_entry("decode"))
        self.f_pre = float(a.flops_per_attended_entry("prefill"))
        act, quant = roof.act, roof.quant
        heads = a.num_heads / tp
        q_lora = a.q_lora_rank or 0
        ew = h * (4.0 * act + quant) + q_lora * (2.0 * act + quant)
        ew += 2.0 * act * (heads + 1.0) * a.qk_rope_head_dim
        if a.kind == "dsa":
            assert a.kv_lora_rank and a.v_head_dim and a.qk_nope_head_dim
            ew += 2.0 * act * a.kv_lora_rank + heads * a.v_head_dim * quant
            self.f_expand = 2.0 * a.kv_lora_rank * a.num_heads * (a.qk_nope_head_dim + a.v_head_dim)
        else:
            assert a.head_dim and a.o_groups and a.o_lora_rank
            ew += 2.0 * act * a.head_dim + heads * a.head_dim * quant
            ew += a.o_groups * a.o_lora_rank / tp * quant
            self.f_expand = 0.0
        self.ew = ew

    def _cached_entries(self, context: int) -> int:
        """Latent entries one sequence holds in this layer at ``context`` tokens."""
        a, r = self.a, self.ratio
        if a.kind == "dsa":
            return context
        return min(context, a.sliding_window) + (context // r if r > 1 else 0)

    def _selected(self, context: int) -> int:
        """Top-k entries the indexer selects for one query at ``context`` tokens (0 on a layer
        without an indexer): the part of ``attended_entries`` gathered per query."""
        a, r = self.a, self.ratio
        if not a.indexed(r):
            return 0
        return min(a.indexed_entries(context, r), a.indexer.top_k)

    def add(self, ops: Ops, g: Group) -> None:
        """The attention of group ``g``'s tokens, into ``attention``; the indexer into
        ``indexer``."""
        roof, a, ratio, tp = self.roof, self.a, self.ratio, self.tp
        r = roof.rates
        params = self.params / tp
        flops = 2.0 * params * g.tokens
        hbm = params * roof.wb + 2.0 * g.tokens * roof.h * roof.act
        compute = flops / r.gemm_rate(g.tokens)
        slow = params * roof.wb * roof.dequant_extra
        if self.comp_params:
            c_flops = 2.0 * self.comp_params * g.tokens
            flops += c_flops
            hbm += self.comp_params * roof.wb_of["compressors"]
            compute += c_flops / r.gemm_rate(g.tokens)
        dec_ctx = round(g.dec_ctx / g.dec_seqs) if g.dec_seqs > 0 else 0
        attended = a.attended_entries(dec_ctx, ratio) if g.dec_seqs > 0 else 0
        dec_f = self.f_dec * attended * g.dec_seqs * g.q_per_seq / tp
        gathered = attended + (g.q_per_seq - 1.0) * self._selected(dec_ctx)
        core_b = gathered * g.dec_seqs * self.entry_b
        pre_f = 0.0
        prior = tokens = end = 0
        if g.pre_tokens > 0:
            seqs = g.pre_seqs if g.pre_seqs > 0 else 1.0
            prior, tokens = round(g.pre_ctx / seqs), max(round(g.pre_tokens / seqs), 1)
            end = prior + tokens
            pairs = a.attended_in_chunk(prior, tokens, ratio) * seqs
            pre_f = (self.f_pre * pairs + self.f_expand * g.pre_ctx) / tp
            core_b += self._cached_entries(end) * seqs * self.entry_b
        compute += dec_f / r.attn_dec_flops + pre_f / r.attn_flops
        ops.add(
            "attention",
            compute_s=compute,
            memory_s=(hbm + core_b + slow) / r.hbm,
            kernels=K_ATTN,
            launch_s=r.launch_s,
            flops=flops + dec_f + pre_f,
            hbm=hbm + core_b,
        )
        ew = self.ew * g.tokens
        if self.f_expand:
            ew += (
                roof.act * a.num_heads / tp * (2.0 * a.qk_nope_head_dim + a.qk_rope_head_dim)
                + a.kv_lora_rank * roof.quant
            ) * (g.pre_tokens + g.pre_ctx)
        roof.elementwise(ops, "attention", ew)
        if not self.ix_b:
            return
        per_entry = float(a.indexer.flops_per_entry)
        scored_dec = a.indexed_entries(dec_ctx, ratio) * g.dec_seqs if g.dec_seqs > 0 else 0
        ix_f_dec = per_entry * scored_dec * g.q_per_seq
        keys = scored_dec * self.ix_b
        scores = 8.0 * scored_dec * g.q_per_seq
        ix_f_pre = 0.0
        if g.pre_tokens > 0:
            seqs = g.pre_seqs if g.pre_seqs > 0 else 1.0
            pairs = a.indexed_in_chunk(prior, tokens, ratio) * seqs
            ix_f_pre = per_entry * pairs
            keys += a.indexed_entries(end, ratio) * seqs * self.ix_b
            scores += 8.0 * pairs
        ops.add(
            "indexer",
            compute_s=ix_f_dec / r.attn_dec_flops + ix_f_pre / r.attn_flops,
            memory_s=keys / r.hbm,
            kernels=K_INDEXER,
            launch_s=r.launch_s,
            flops=ix_f_dec + ix_f_pre,
            hbm=keys,
        )
        roof.elementwise(ops, "indexer", scores)
