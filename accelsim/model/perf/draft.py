"""Speculative decoding: ``SpecDecode`` and the price of its draft passes (into ``draft``).

Each decode sequence verifies ``draft_tokens + 1`` tokens per iteration (attention over its
context for each) and emits ``tokens_per_step`` on average; the draft costs ``draft_tokens``
sequential passes:

- ``mtp``: one MTP module per pass (one MoE layer of the model plus a ``2H x H`` projection)
  plus the model's LM head;
- ``eagle``/``eagle3`` with a draft model (``SpecDecode.draft_model``, a ``workloads/models/``
  file with a ``draft:`` section): the draft's own weights, read in its dtype (BF16), split
  ``tp`` ways like the target's attention. As SGLang's EAGLE worker runs it (topk 1), the first
  pass is the draft extend after verification — the ``draft_tokens + 1`` verified positions of
  each sequence through the ``fc`` fusion of the target hidden states and the draft layer —
  and the other ``draft_tokens - 1`` passes one token per sequence through the draft layer;
  every pass reads the draft's KV cache over the sequence's context, computes logits over the
  draft vocabulary for one row per sequence, and, with ``tp > 1``, all-reduces twice. The draft
  runs in BF16: its elementwise kernels (``accelsim.model.perf.attention`` for its attention
  inputs, plus its FFN's residual add + RMSNorm and SiLU-and-mul) quantise nothing;
- ``eagle``/``eagle3`` without a draft model: a generic estimate, one dense layer of the
  model's width (the widest FFN) in BF16 with the model's attention, plus the model's LM head.
"""

from __future__ import annotations

from dataclasses import dataclass

from accelsim.catalog.workloads import ModelArch
from accelsim.dtypes import BYTES, Precision
from accelsim.errors import AccelsimError
from accelsim.model.perf.attention import attention_elementwise
from accelsim.model.perf.collectives import Fabrics, all_reduce
from accelsim.model.perf.head import LMHead
from accelsim.model.perf.layer import Layer
from accelsim.model.perf.ops import K_ATTN, K_COLL, K_FFN, K_LM, K_SAMPLE, Group, Ops
from accelsim.model.perf.roofline import Roofline

__all__ = ["Drafter", "SpecDecode", "checked_draft"]


@dataclass(frozen=True)
class SpecDecode:
    """Speculative decoding: ``draft_tokens`` proposals per step, each accepted with
    probability ``accept_rate`` given the previous ones were (``method``: ``mtp`` for a
    DeepSeek-style MTP module, ``eagle``/``eagle3`` for a one-layer draft). ``draft_model``
    names the separate EAGLE draft model in the catalog (``accelsim.run.timing`` looks it up;
    see the module docstring)."""

    method: str = "mtp"
    draft_tokens: int = 1
    accept_rate: float = 0.7
    draft_model: str | None = None

    def __post_init__(self) -> None:
        if self.draft_tokens < 0:
            raise AccelsimError("speculative draft_tokens cannot be negative")
        if not 0.0 <= self.accept_rate <= 1.0:
            raise AccelsimError("speculative accept_rate must be in [0, 1]")

    @property
    def tokens_per_step(self) -> float:
        """Expected tokens emitted per verify step: ``sum_{i=0..k} a**i``."""
        return float(sum(self.accept_rate**i for i in range(self.draft_tokens + 1)))

    @staticmethod
    def from_accept_length(
        method: str, draft_tokens: int, accept_length: float, draft_model: str | None = None
    ) -> SpecDecode:
        """The ``SpecDecode`` whose ``tokens_per_step`` equals a published accept length."""
        lo, hi = 0.0, 1.0
        if accept_length >= draft_tokens + 1:
            return SpecDecode(method, draft_tokens, 1.0, draft_model)
        for _ in range(60):
            mid = (lo + hi) / 2
            if SpecDecode(method, draft_tokens, mid).tokens_per_step < accept_length:
                lo = mid
            else:
                hi = mid
        return SpecDecode(method, draft_tokens, (lo + hi) / 2, draft_model)


def checked_draft(spec: SpecDecode | None, draft: ModelArch | None) -> ModelArch | None:
    """The draft model ``spec`` runs: ``draft`` when ``spec`` names it (an error when it is
    missing, another model or not a draft, or when ``spec`` is MTP), else None."""
    if spec is None or spec.draft_model is None:
        return None
    if spec.method == "mtp":
        raise AccelsimError("speculative method mtp takes no draft_model (use eagle3)")
    if draft is None or draft.name != spec.draft_model or draft.draft is None:
        raise AccelsimError(
            f"speculative draft_model {spec.draft_model!r}: give its draft architecture "
            "(perf_model_from_catalog looks it up)"
        )
    return draft


class Drafter:
    """The ``spec.draft_tokens`` draft passes of ``spec`` over a target ``model`` priced by
    ``layer`` and ``head``, with the separate ``draft`` model when ``spec`` names one (see the
    module docstring)."""

    def __init__(
        self,
        spec: SpecDecode,
        model: ModelArch,
        draft: ModelArch | None,
        prec: Precision,
        roof: Roofline,
        fabrics: Fabrics,
        layer: Layer,
        head: LMHead,
    ) -> None:
        self.spec, self.model, self.draft = spec, model, draft
        self.roof, self.fabrics, self.layer, self.head = roof, fabrics, layer, head
        tp = layer.tp
        if draft is not None:
            d = draft
            assert d.draft is not None
            self.d_wb = BYTES[d.draft.weight_dtype]
            kvh = d.attention.num_kv_heads or 1
            self.d_kv_split = 1 if d.attention.kind == "mla" else min(tp, kvh)
            self.d_f_dec = d.attention_flops_per_context_token("decode") / d.num_layers
            self.d_kv = d.kv_elements_per_token_per_layer * prec.kv_bytes / self.d_kv_split
            # the draft runs in BF16: no quantisation kernels
            width = (d.dense_intermediate or 0) / tp
            self.d_ew = attention_elementwise(d, tp, self.d_kv_split, roof.act, 0.0)[0]
            self.d_ew += 4.0 * d.hidden_size * roof.act + 3.0 * width * roof.act
        elif not (spec.method == "mtp" and model.is_moe):
            moe = model.moe
            width = model.dense_intermediate or 0
            if moe is not None:
                width = max(width, moe.shared_width + moe.top_k * moe.expert_intermediate)
            self.ffn_params = 3 * roof.h * width
            self.ffn_ew = roof.norm + 3.0 * width / tp * roof.act

    def add(self, ops: Ops, g: Group) -> None:
        """``draft_tokens`` sequential draft passes over group ``g``'s decode sequences."""
        if self.draft is not None:
            self._draft_model(ops, g)
            return
        spec, roof, tp = self.spec, self.roof, self.layer.tp
        d = Group(g.dec_seqs, g.dec_seqs, g.dec_ctx, 1.0, 0.0, 0.0, 0.0, 0.0, g.replica_dec_seqs)
        one = Ops()
        if spec.method == "mtp" and self.model.is_moe:
            one.merge(self.layer.price(d, True))
            roof.gemm(one, "draft", 2.0 * roof.h * roof.h / tp, d.tokens, 1)
        else:
            self.layer.attention.add(one, d)
            roof.gemm(one, "dense_ffn", self.ffn_params / tp, d.tokens, K_FFN, wbytes=2.0)
            roof.elementwise(one, "dense_ffn", self.ffn_ew * d.tokens)
        lm = Ops()
        self.head.add(lm, d)
        one.merge(lm)
        ops.merge(one, float(spec.draft_tokens), into="draft")

    def _draft_model(self, ops: Ops, g: Group) -> None:
        """The draft model's ``draft_tokens`` passes (see the module docstring), into ``draft``."""
        spec, d, roof, tp = self.spec, self.draft, self.roof, self.layer.tp
        assert d is not None
        r = roof.rates
        seqs, h, wb = g.dec_seqs, d.hidden_size, self.d_wb
        kv = self.d_kv
        out = Ops()
        for step in range(spec.draft_tokens):
            q = g.q_per_seq if step == 0 else 1.0  # the draft extend covers every verified token
            m = seqs * q
            if step == 0 and d.fusion_params:
                roof.gemm(out, "draft", d.fusion_params / tp, m, 1, wbytes=wb, width=h)
            for _ in range(d.num_layers):
                params = d.attention_params_per_layer / tp
                flops = 2.0 * params * m
                hbm = params * wb + 2.0 * m * h * roof.act
                core_f = self.d_f_dec * g.dec_ctx * q / tp
                core_b = kv * g.dec_ctx
                out.add(
                    "draft",
                    compute_s=flops / r.gemm_rate(m) + core_f / r.attn_dec_flops,
                    memory_s=(hbm + core_b) / r.hbm,
                    kernels=K_ATTN,
                    launch_s=r.launch_s,
                    flops=flops + core_f,
                    hbm=hbm + core_b,
                )
                roof.gemm(out, "draft", d.dense_ffn_params / tp, m, K_FFN, wbytes=wb, width=h)
                roof.elementwise(out, "draft", self.d_ew * m)
                if tp > 1:
                    size = m * h * roof.act
                    out.add(
                        "draft",
                        network_s=2 * all_reduce(self.fabrics.link(tp), size, tp),
                        kernels=2 * K_COLL,
                        launch_s=r.launch_s,
                        net=2 * 2 * size * (tp - 1) / tp,
                    )
            lm = d.lm_head_params / tp
            roof.gemm(out, "draft", lm, seqs, K_LM, wbytes=wb, width=h)
            logits = seqs * d.lm_head_vocab / tp * 4.0
            out.add(
                "draft", memory_s=logits / r.hbm, kernels=K_SAMPLE, launch_s=r.launch_s, hbm=logits
            )
        ops.merge(out)
