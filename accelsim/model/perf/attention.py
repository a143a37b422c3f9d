"""One layer's attention on one rank: the projections, the core and its elementwise kernels.

- **projections** — GEMMs over the group's tokens (``attention_params_per_layer``, split ``tp``
  ways);
- **core** — decode reads each sequence's whole KV cache (MLA latent cache replicated over the
  ``tp`` ranks of a group, GQA split over ``min(tp, kv_heads)``) and runs the absorbed-latent
  (MLA) or per-head (GQA/MHA) math at the card's decode attention rate; prefill runs the
  expanded form over the causal (query, key) pairs and, with cached prior context, re-expands
  the MLA latent of that context, at the attention rate (``accelsim.model.perf.roofline``).

Elementwise kernels (conventions in ``accelsim.model.perf.roofline``: ``a`` = 2 B per
activation, ``q`` bytes per quantised element), per token on one rank, all into ``attention``:

- the attention input's **residual add + RMSNorm** (``4 H a``) and its **quantisation**
  (``H q``); an EAGLE draft layer norms and quantises each of its ``attention_input_factor``
  inputs;
- **quantisation** of MLA's ``q_b_proj`` input (``q_lora q``) and of ``o_proj``'s input
  (``heads/tp x head_dim x q``; MLA: ``v_head_dim``);
- **RoPE** in place on the rotary part of the query and key heads of the rank: read + write
  ``2 a (heads/tp + kv_heads/kv_split) x rotary_dim`` (GQA/MHA: the whole head; MLA: the
  ``qk_rope`` slice of every query head and the one shared ``k_pe``);
- **MLA**: the ``q_a``/``kv_a`` RMSNorms on the latents (``2 a (q_lora + kv_lora)``); for every
  expanded token of the prefill MHA form (new prefill tokens and re-expanded cached context),
  assembling ``k = [k_nope, k_pe]`` for the attention kernel (read ``k_nope``, write ``k``:
  ``a heads/tp (2 nope + rope)``) and quantising the ``kv_b_proj`` input (``kv_lora q``)
  (SGLang ``python/sglang/srt/models/deepseek_common/attention_forward_methods/forward_mha.py``,
  ``forward_normal_prepare``: ``q_a_layernorm``, ``kv_a_layernorm``, ``rotary_emb``,
  ``_concat_and_cast_mha_k``).
"""

from __future__ import annotations

from accelsim.catalog.workloads import ModelArch
from accelsim.dtypes import Precision
from accelsim.model.perf.ops import K_ATTN, Group, Ops
from accelsim.model.perf.roofline import Roofline

__all__ = ["Attention", "attention_elementwise"]


class Attention:
    """The attention of one layer of ``model`` on one rank of a ``tp``-way group."""

    __slots__ = (
        "ew_attn",
        "ew_expand",
        "f_dec",
        "f_expand",
        "f_pre",
        "kv_bytes",
        "kv_elems",
        "kv_split",
        "lean_k",
        "params",
        "roof",
        "tp",
    )

    def __init__(self, model: ModelArch, tp: int, prec: Precision, roof: Roofline) -> None:
        a = model.attention
        self.roof, self.tp = roof, tp
        self.params = model.attention_params_per_layer
        self.kv_elems = model.kv_elements_per_token_per_layer
        self.kv_bytes = prec.kv_bytes
        self.kv_split = 1 if a.kind == "mla" else min(tp, a.num_kv_heads)
        self.ew_attn, self.ew_expand = attention_elementwise(
            model, tp, self.kv_split, roof.act, roof.quant
        )
        self.f_dec = model.attention_flops_per_context_token("decode") / model.num_layers
        self.f_pre = model.attention_flops_per_context_token("prefill") / model.num_layers
        if a.kind == "mla":
            self.f_expand = 2.0 * a.kv_lora_rank * a.num_heads * (a.qk_nope_head_dim + a.v_head_dim)
        else:
            self.f_expand = 0.0
        r = roof.rates
        #: the constants of ``lean``, each the very float ``add`` computes (its order of
        #: operations: ``kv_elems * kv_bytes`` and ``params * wb * dequant_extra`` first)
        self.lean_k = (
            self.f_dec,
            self.f_pre,
            self.f_expand,
            tp,
            self.kv_elems * self.kv_bytes,
            self.kv_split,
            r.attn_dec_flops,
            r.attn_flops,
            self.params / tp * roof.wb * roof.dequant_extra,
            r.hbm,
            K_ATTN * r.launch_s,
            self.ew_expand,
        )

    def token_terms(self, tokens: float) -> tuple[float, float, float, float]:
        """The terms of ``add`` over ``tokens`` that read no context: the projections' FLOPs,
        HBM bytes and compute seconds, and the per-token elementwise bytes (for ``lean``)."""
        roof = self.roof
        params = self.params / self.tp
        flops = 2.0 * params * tokens
        hbm = params * roof.wb + 2.0 * tokens * roof.h * roof.act
        return flops, hbm, flops / roof.rates.gemm_rate(tokens), self.ew_attn * tokens

    def lean(
        self,
        terms: tuple[float, float, float, float],
        dec_ctx: float,
        q_per_seq: float,
        pre_tokens: float,
        pre_pairs: float,
        pre_ctx: float,
    ) -> tuple[float, float, float]:
        """``(seconds, FLOPs, HBM bytes)`` that ``add`` puts into a fresh ``LeanOps``'s
        ``attention`` for a group with these context fields and ``token_terms`` ``terms``: the
        same float operations in the same order (``max(compute, memory, 0)`` plus the
        launches, then the elementwise bytes' seconds), so the very floats
        (``tests/test_shape_table.py``); the simulator's price of a new shape
        (``accelsim.model.perf.shape_table``)."""
        flops, hbm, compute, ew_tok = terms
        f_dec, f_pre, f_expand, tp, kvb, kv_split, dec_rate, rate, slow, bw, fixed, ew_x = (
            self.lean_k
        )
        dec_f = f_dec * dec_ctx * q_per_seq / tp
        pre_f = (f_pre * pre_pairs + f_expand * pre_ctx) / tp
        core_b = kvb * (dec_ctx + pre_tokens + pre_ctx) / kv_split
        compute += dec_f / dec_rate + pre_f / rate
        memory = (hbm + core_b + slow) / bw
        body = memory if memory > compute else compute  # max(compute, memory, 0.0)
        if body < 0.0:
            body = 0.0
        t = body + fixed
        ew = ew_tok + ew_x * (pre_tokens + pre_ctx)
        b = hbm + core_b
        if ew > 0:
            m = ew / bw
            t += (m if m > 0.0 else 0.0) + 0.0  # LeanOps.add of Roofline.elementwise
            b += ew
        return t, flops + (dec_f + pre_f), b

    def add(self, ops: Ops, g: Group) -> None:
        """The attention of group ``g``'s tokens, into ``attention``."""
        roof = self.roof
        r, tp = roof.rates, self.tp
        params = self.params / tp
        flops = 2.0 * params * g.tokens
        hbm = params * roof.wb + 2.0 * g.tokens * roof.h * roof.act
        compute = flops / r.gemm_rate(g.tokens)
        kv_b = self.kv_bytes
        dec_f = self.f_dec * g.dec_ctx * g.q_per_seq / tp
        pre_f = (self.f_pre * g.pre_pairs + self.f_expand * g.pre_ctx) / tp
        core_f = dec_f + pre_f
        core_b = self.kv_elems * kv_b * (g.dec_ctx + g.pre_tokens + g.pre_ctx) / self.kv_split
        compute += dec_f / r.attn_dec_flops + pre_f / r.attn_flops
        slow = params * roof.wb * roof.dequant_extra
        ops.add(
            "attention",
            compute_s=compute,
            memory_s=(hbm + core_b + slow) / r.hbm,
            kernels=K_ATTN,
            launch_s=r.launch_s,
            flops=flops + core_f,
            hbm=hbm + core_b,
        )
        ew = self.ew_attn * g.tokens + self.ew_expand * (g.pre_tokens + g.pre_ctx)
        roof.elementwise(ops, "attention", ew)


def attention_elementwise(
    arch: ModelArch, tp: int, kv_split: int, act: float, quant: float
) -> tuple[float, float]:
    """Bytes per token of one layer's attention elementwise kernels on one rank, and the extra
    bytes per token of MLA's expanded (prefill MHA) form (see the module docstring): ``act``
    bytes per activation, ``quant`` bytes per element quantised (0: 16-bit GEMM inputs)."""
    at, h = arch.attention, arch.hidden_size
    inputs = arch.draft.attention_input_factor if arch.draft else 1
    per_token = inputs * h * (4.0 * act + quant)  # residual add + RMSNorm, quantised input
    heads = at.num_heads / tp
    if at.kind == "mla":
        assert at.kv_lora_rank and at.qk_rope_head_dim and at.qk_nope_head_dim and at.v_head_dim
        q_lora = at.q_lora_rank or 0
        rope, nope = at.qk_rope_head_dim, at.qk_nope_head_dim
        per_token += 2.0 * act * (q_lora + at.kv_lora_rank) + q_lora * quant  # latent norms
        per_token += 2.0 * act * (heads + 1.0) * rope  # RoPE on q_pe and the shared k_pe
        per_token += heads * at.v_head_dim * quant  # o_proj input
        expand = act * heads * (2.0 * nope + rope) + at.kv_lora_rank * quant
        return per_token, expand
    assert at.head_dim and at.num_kv_heads
    per_token += 2.0 * act * (heads + at.num_kv_heads / kv_split) * at.head_dim  # RoPE
    per_token += heads * at.head_dim * quant  # o_proj input
    return per_token, 0.0
