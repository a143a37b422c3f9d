"""The timing model: one forward iteration of one replica -> a ``StepTime`` breakdown.

Pure functions of (card, fabrics, model, plan, precision, batch); no simpy. Every op is a
roofline, ``max(FLOPs / achievable FLOP/s, HBM bytes / achievable bandwidth)`` plus a fixed
per-kernel cost, with the card's efficiency profile (``accelsim.model.perf.roofline``); every
collective an alpha-beta cost per fabric level (``accelsim.model.perf.collectives``).

What one iteration contains, per layer (computed once per layer *kind* — dense or MoE — and
multiplied by the layer count):

- **attention** — projections as GEMMs over the group's tokens (split ``tp`` ways); the core:
  decode reads each sequence's whole KV cache (MLA latent cache replicated over the ``tp`` ranks
  of a group, GQA split over ``min(tp, kv_heads)``) and runs the absorbed-latent (MLA) or
  per-head (GQA/MHA) math; prefill runs the expanded form over the causal (query, key) pairs
  and, with cached prior context, re-expands the MLA latent of that context;
- **dense FFN** / **shared experts** — SwiGLU GEMMs split ``tp`` ways;
- **router** — ``E x H`` GEMM, replicated;
- **routed experts** — grouped GEMM per EP rank: FLOPs from the rank's (token, expert)
  assignments, weight bytes from the local experts the batch touches (each read once), GEMM
  efficiency at the mean tokens per touched expert; the slowest rank (``accelsim.model.routing``)
  sets
  the time;
- **TP collectives** — two all-reduces per layer when ``tp > 1`` (after attention and after the
  FFN/MoE); with ``dp > 1`` and ``ep = 1`` the MoE gathers tokens over all ``tp*dp`` ranks and
  reduce-scatters them back;
- **EP dispatch / combine** — all-to-all when ``ep > 1``: each rank sends its tokens to the
  distinct ranks their experts live on; traffic to ranks outside the scale-up domain crosses the
  scale-out fabric, deduplicated per destination domain for prefill tokens (DeepEP "normal"
  mode, Ascend hierarchical dispatch) and not for decode tokens (DeepEP "low-latency" mode);
  within the domain a prefill token goes once to each distinct destination rank (normal mode)
  and a decode token once per selected expert, ``top_k`` copies whatever ranks they share
  (low-latency mode: one buffer slot per expert; DeepEP-Ascend's A3 low-latency table, M11 in
  ``devices/cards/ascend-910c.yaml``, reports its bandwidth on ``128 x 8 x 7168`` dispatched
  elements per rank: 139 us dispatch + 135 us combine at EP16 and 153 + 151 us at EP32, which
  these ``top_k`` copies at the card's collective fraction reproduce within 5 %);
  the busiest receiving rank stretches it by its load over the mean load; dispatch payload is
  1 B/element for FP8/INT8 compute, 2 B otherwise, combine is BF16;
- per iteration: **PP transfer** (``pp - 1`` hops of the group's activations), **embedding /
  LM head** (logits for every decode query and the last token of each prefill chunk),
  **sampling** (read the FP32 logits), **draft** (speculative decoding), and the card's fixed
  **overhead** per iteration; a serving framework's calibrated cost per decode query token and
  layer (``accelsim.catalog.devices.FrameworkProfile.decode_token_layer_cost``, zero without a
  profile)
  joins the overhead: ``cost x query tokens of the busiest attention group x layers / tp``.

Plan conventions (see ``accelsim.model.plan``): a ``BatchStats`` describes the whole replica; its
sequences go whole to the ``dp`` attention groups (a sequence's KV cache lives in one group),
so the busiest group holds ``ceil(n / dp)`` of ``n`` decode (and of the prefill) sequences and
sets the attention, dense and shared-expert time (then ``1/tp`` within a group); one prefill
prompt on a DP16 replica keeps one group busy while fifteen idle. Routed experts see the
replica's total tokens. Ranks are dies on multi-die cards (910C), with
the card's rates divided by ``card.dies``; per-card throughput multiplies back. Pipeline stages
run one batch in sequence (no inter-batch pipelining: the returned time is the batch latency).

Micro-batch overlap (``plan.micro_batch_overlap``): the batch is split in two halves; each
half's compute hides the other's communication: ``C_h + M_h + max(M_h, C_h + s M_h)`` per
layer, with both halves reading the weights. ``s`` is the share of the card's compute units the
communication kernels occupy while they run (compute overlapped with them proceeds at
``1 - s`` of its rate until the communication ends): on SM-based GPUs the EP dispatch/combine
of prefill tokens runs DeepEP's "normal" kernels, which take ``COMM_SMS`` = 24 SMs (DeepEP
README, "Example use in model training or inference prefilling": ``Buffer.set_num_sms(24)``;
DeepSeek-V3 technical report, arXiv 2412.19437, sec. 3.2.2: 20 SMs suffice to saturate IB and
NVLink), so ``s = 24 / 132`` on Hopper; decode tokens use DeepEP's low-latency kernels, which
occupy no SMs (hook-based receive, same README), and ``s`` scales by the prefill share of the
tokens. On Ascend the dispatch/combine run on the vector (AIV) cores and the DMA engines, not on
the cube (AIC) cores the GEMMs use (``compute_unit_kind`` other than ``SM``: ``s = 0``). The
breakdown then shows the exposed part of communication; ``hidden_comm_s`` says how much was
hidden.

Speculative decoding (``SpecDecode``): each decode sequence verifies ``draft_tokens + 1``
tokens per iteration (attention over its context for each) and emits ``tokens_per_step`` on
average; the draft costs ``draft_tokens`` sequential passes:

- ``mtp``: one MTP module per pass (one MoE layer of the model plus a ``2H x H`` projection)
  plus the model's LM head;
- ``eagle``/``eagle3`` with a draft model (``SpecDecode.draft_model``, a ``workloads/models/``
  file with a ``draft:`` section): the draft's own weights, read in its dtype (BF16), split
  ``tp`` ways like the target's attention. As SGLang's EAGLE worker runs it (topk 1), the first
  pass is the draft extend after verification — the ``draft_tokens + 1`` verified positions of
  each sequence through the ``fc`` fusion of the target hidden states and the draft layer —
  and the other ``draft_tokens - 1`` passes one token per sequence through the draft layer;
  every pass reads the draft's KV cache over the sequence's context, computes logits over the
  draft vocabulary for one row per sequence, and, with ``tp > 1``, all-reduces twice;
- ``eagle``/``eagle3`` without a draft model: a generic estimate, one dense layer of the
  model's width (the widest FFN) in BF16 with the model's attention, plus the model's LM head.

Elementwise kernels (``PerfModel._elementwise``): the memory-bound kernels every layer runs
between its GEMMs on the same stream — norms, RoPE, the SwiGLU activation, activation
quantisation, MoE permute/unpermute, top-k — move activations through HBM and cannot overlap the
GEMMs around them, so their bytes are priced at the card's achievable HBM bandwidth and *added*
to the op class they serve (``attention``, ``dense_ffn``, ``shared_experts``,
``routed_experts``, ``router``; ``draft`` for a draft model), never max'ed with a GEMM roofline.
Their launches stay in the per-op kernel counts. Bytes per token and layer on one rank, with
``a`` = 2 B (BF16 activations) and ``q`` = ``a + 1`` B per element of a separate quantisation
kernel (read BF16, write FP8/INT8; 0 when the compute dtype is 16-bit; scales, at most 4 B per
128 elements, are left out), as SGLang's CUDA path runs them (its DeepSeek/Qwen3 code is what
most validation cases serve; vLLM's kernels move the same bytes):

- **residual add + RMSNorm**, twice per layer, one fused kernel each (SGLang
  ``python/sglang/srt/layers/layernorm.py`` ``RMSNorm.forward_cuda`` calls FlashInfer's in-place
  ``fused_add_rmsnorm(x, residual, ...)``; vLLM ``fused_add_rms_norm``): reads ``x`` and the
  residual, writes both, ``4 H a``; not fused with the quantisation that follows;
- **quantisation** of each quantised GEMM input that is not already 8-bit: the attention
  input (``H q``), the FFN / shared-expert input (``H q`` each), MLA's ``q_b_proj`` input
  (``q_lora q``), ``o_proj``'s input (``heads/tp x head_dim x q``), the SwiGLU output before the
  down projection (``width x q``); the routed-expert input is quantised once per token before a
  DeepEP normal dispatch (SGLang ``_DeepEPDispatcherImplNormal.dispatch_a``:
  ``sglang_per_token_group_quant_fp8``) or a fused-MoE call, while DeepEP's low-latency dispatch
  casts to FP8 inside the communication kernel;
- **RoPE** in place on the rotary part of the query and key heads of the rank: read + write
  ``2 a (heads/tp + kv_heads/kv_split) x rotary_dim`` (GQA/MHA: the whole head; MLA: the
  ``qk_rope`` slice of every query head and the one shared ``k_pe``);
- **MLA**: the ``q_a``/``kv_a`` RMSNorms on the latents (``2 a (q_lora + kv_lora)``); for every
  expanded token of the prefill MHA form (new prefill tokens and re-expanded cached context),
  assembling ``k = [k_nope, k_pe]`` for the attention kernel (read ``k_nope``, write ``k``:
  ``a heads/tp (2 nope + rope)``) and quantising the ``kv_b_proj`` input (``kv_lora q``)
  (SGLang ``python/sglang/srt/models/deepseek_common/attention_forward_methods/forward_mha.py``,
  ``forward_normal_prepare``: ``q_a_layernorm``, ``kv_a_layernorm``, ``rotary_emb``,
  ``_concat_and_cast_mha_k``);
- **SiLU-and-mul** over the FFN width of the rank (dense, shared, and each routed assignment):
  read ``2 w a``, write ``w a``;
- **routed experts**, per (token, expert) assignment on the busiest EP rank (``load``), after
  SGLang's ``DeepEPMoE`` (``python/sglang/srt/layers/moe/ep_moe/layer.py``): tokens of a DeepEP
  *normal* dispatch (prefill, ``ep > 1``) are permuted to the expert-contiguous layout
  (``ep_scatter``: read + write ``H`` at the dispatch width), activated, quantised, and
  gathered back with their routing weights (``ep_gather``: read ``H a`` per assignment, write
  ``H a`` per received token, ``load x n_dest / top_k`` of them); tokens of a *low-latency*
  dispatch (decode, ``ep > 1``) land in the expert-major buffer the masked grouped GEMM reads,
  run the fused ``silu_and_mul_masked_post_quant_fwd`` (read ``2 w a``, write ``w`` at 1 B; at
  ``w a`` when nothing is quantised) and
  are reduced with their weights inside DeepEP's combine; with ``ep = 1`` the fused-MoE GEMM
  gathers its input rows itself (vLLM/SGLang ``fused_moe``: no permute copy) and ``moe_sum``
  reduces the ``top_k`` outputs (read ``H a`` per assignment, write ``H a`` per token);
- **MoE combine with shared experts**: ``routed + shared`` (read ``2 H a``, write ``H a``);
- **top-k** (``router``): read the FP32 router logits (``4 E``), write ids and weights
  (``8 top_k``).

The attention input's norm and quantisation, RoPE and the MLA terms go to ``attention``; the
FFN input's norm and quantisation to ``dense_ffn`` (dense layers) or ``routed_experts`` (MoE
layers, with the routed input's quantisation, the per-assignment terms and the combine add);
the shared experts' input quantisation and activation to ``shared_experts``. All of these run
on every rank of a TP group over the full hidden size (hidden states are replicated between
the all-reduces) except the per-head and FFN-width terms, which split like their GEMMs.

Ignored (named so nobody is surprised): fusions beyond the ones listed (TensorRT-LLM and
Ascend's CANN fuse norm + quantisation and all-reduce + norm), QK-norm (Qwen3), the final norm
and the embedding gather (once per iteration, not per layer), KV-cache writes, host/device
overlap, congestion between ranks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from accelsim.catalog.devices import Card, Fabric
from accelsim.catalog.workloads import ModelArch
from accelsim.dtypes import BYTES, Precision
from accelsim.errors import AccelsimError
from accelsim.model.batch import BatchStats
from accelsim.model.perf.collectives import Link, all_gather, all_reduce, all_to_all, p2p
from accelsim.model.perf.roofline import Rates
from accelsim.model.plan import ParallelPlan
from accelsim.model.routing import RoutingModel

if TYPE_CHECKING:
    from accelsim.catalog.loader import Catalog

__all__ = [
    "COMM_CLASSES",
    "COMM_SMS",
    "OP_CLASSES",
    "PerfModel",
    "SpecDecode",
    "StepTime",
    "perf_model_from_catalog",
]

OP_CLASSES = (
    "attention",
    "dense_ffn",
    "shared_experts",
    "routed_experts",
    "router",
    "tp_collectives",
    "ep_dispatch",
    "ep_combine",
    "pp_transfer",
    "embedding_lm_head",
    "sampling",
    "draft",
    "overhead",
)
COMM_CLASSES = ("tp_collectives", "ep_dispatch", "ep_combine", "pp_transfer")
BOUNDS = ("compute", "memory", "network", "overhead")

#: SMs DeepEP's normal (prefill) dispatch/combine kernels occupy (see the module docstring).
COMM_SMS = 24

# Kernels per op and layer (norms, rope, cache writes and activations folded in: their launches
# are counted here, their bytes by the elementwise terms).
_K_ATTN = 6
_K_FFN = 3
_K_ROUTED = 5
_K_ROUTER = 2
_K_COLL = 1
_K_LM = 2
_K_SAMPLE = 2


@dataclass(frozen=True)
class SpecDecode:
    """Speculative decoding: ``draft_tokens`` proposals per step, each accepted with
    probability ``accept_rate`` given the previous ones were (``method``: ``mtp`` for a
    DeepSeek-style MTP module, ``eagle``/``eagle3`` for a one-layer draft). ``draft_model``
    names the separate EAGLE draft model in the catalog (``perf_model_from_catalog`` looks it
    up; see the module docstring)."""

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


@dataclass(frozen=True)
class StepTime:
    """Seconds per op class for one iteration of one replica, with FLOPs and bytes.

    ``times`` (seconds), ``flops`` and ``hbm_bytes`` (per rank on the critical path: the
    busiest EP rank, summed over pipeline stages), ``net_bytes`` (sent per rank) and ``bounds``
    (``compute``/``memory``/``network``/``overhead``) are keyed by ``OP_CLASSES``.
    """

    times: dict[str, float]
    flops: dict[str, float]
    hbm_bytes: dict[str, float]
    net_bytes: dict[str, float]
    bounds: dict[str, str]
    decode_tokens: float  # tokens emitted by decode sequences (after speculative acceptance)
    prefill_tokens: float
    cards: float  # cards (packages) in the replica
    hidden_comm_s: float = 0.0
    launch_s: float = 0.0
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def total_s(self) -> float:
        return float(sum(self.times.values()))

    @property
    def tokens(self) -> float:
        """Tokens this iteration produces: decode tokens emitted plus prefill tokens."""
        return self.decode_tokens + self.prefill_tokens

    @property
    def tokens_per_s_per_card(self) -> float:
        t = self.total_s
        return self.tokens / t / self.cards if t > 0 else 0.0

    @property
    def bound(self) -> str:
        """The bound of the op class with the largest time."""
        cls = max(self.times, key=self.times.__getitem__)
        return self.bounds[cls]

    def share(self, cls: str) -> float:
        t = self.total_s
        return self.times[cls] / t if t > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "total_s": self.total_s,
            "tokens": self.tokens,
            "decode_tokens": self.decode_tokens,
            "prefill_tokens": self.prefill_tokens,
            "cards": self.cards,
            "tokens_per_s_per_card": self.tokens_per_s_per_card,
            "hidden_comm_s": self.hidden_comm_s,
            "launch_s": self.launch_s,
            "ops": {
                c: {
                    "time_s": self.times[c],
                    "share": self.share(c),
                    "bound": self.bounds[c],
                    "flops": self.flops[c],
                    "hbm_bytes": self.hbm_bytes[c],
                    "net_bytes": self.net_bytes[c],
                }
                for c in OP_CLASSES
            },
            "notes": list(self.notes),
        }


class _Ops:
    """Accumulates op costs per class: time, FLOPs, bytes and time per bound."""

    __slots__ = ("b", "bt", "f", "launch", "n", "t")

    def __init__(self) -> None:
        self.t = dict.fromkeys(OP_CLASSES, 0.0)
        self.f = dict.fromkeys(OP_CLASSES, 0.0)
        self.b = dict.fromkeys(OP_CLASSES, 0.0)
        self.n = dict.fromkeys(OP_CLASSES, 0.0)
        self.bt: dict[str, dict[str, float]] = {c: {} for c in OP_CLASSES}
        self.launch = 0.0

    def add(
        self,
        cls: str,
        compute_s: float = 0.0,
        memory_s: float = 0.0,
        network_s: float = 0.0,
        kernels: float = 0.0,
        launch_s: float = 0.0,
        flops: float = 0.0,
        hbm: float = 0.0,
        net: float = 0.0,
    ) -> None:
        fixed = kernels * launch_s
        body = max(compute_s, memory_s, network_s)
        if fixed > body:
            bound = "overhead"
        elif body == network_s and network_s > 0:
            bound = "network"
        elif compute_s >= memory_s:
            bound = "compute"
        else:
            bound = "memory"
        t = body + fixed
        self.t[cls] += t
        self.f[cls] += flops
        self.b[cls] += hbm
        self.n[cls] += net
        self.launch += fixed
        bt = self.bt[cls]
        bt[bound] = bt.get(bound, 0.0) + t

    def merge(self, other: _Ops, mult: float = 1.0, into: str | None = None) -> None:
        for c in OP_CLASSES:
            if other.t[c] == 0.0 and other.f[c] == 0.0 and other.b[c] == 0.0:
                continue
            dst = into or c
            self.t[dst] += other.t[c] * mult
            self.f[dst] += other.f[c] * mult
            self.b[dst] += other.b[c] * mult
            self.n[dst] += other.n[c] * mult
            for k, v in other.bt[c].items():
                self.bt[dst][k] = self.bt[dst].get(k, 0.0) + v * mult
        self.launch += other.launch * mult

    def comm_time(self) -> float:
        return sum(self.t[c] for c in COMM_CLASSES)

    def compute_time(self) -> float:
        return sum(self.t[c] for c in OP_CLASSES) - self.comm_time()

    def scale_comm(self, factor: float) -> None:
        for c in COMM_CLASSES:
            self.t[c] *= factor
            self.bt[c] = {k: v * factor for k, v in self.bt[c].items()}

    def bounds(self) -> dict[str, str]:
        out = {}
        for c in OP_CLASSES:
            bt = self.bt[c]
            out[c] = max(bt, key=bt.__getitem__) if bt else "-"
        return out


@dataclass(frozen=True)
class _Group:
    """The work of one attention-DP group in one iteration (or one micro-batch of it)."""

    tokens: float  # tokens through the layers
    dec_seqs: float
    dec_ctx: float  # sum of decode context tokens
    q_per_seq: float  # query tokens per decode sequence (1 + draft tokens)
    pre_tokens: float
    pre_pairs: float
    pre_ctx: float
    pre_seqs: float
    replica_tokens: float = -1.0  # tokens of all groups (routed experts); -1: tokens x dp
    replica_dec_seqs: float = -1.0  # decode sequences of all groups (draft passes)

    @property
    def logit_rows(self) -> float:
        return self.dec_seqs * self.q_per_seq + self.pre_seqs

    def half(self) -> _Group:
        """One of two equal micro-batches."""
        return _Group(
            self.tokens / 2,
            self.dec_seqs / 2,
            self.dec_ctx / 2,
            self.q_per_seq,
            self.pre_tokens / 2,
            self.pre_pairs / 2,
            self.pre_ctx / 2,
            self.pre_seqs / 2,
            self.replica_tokens / 2 if self.replica_tokens >= 0 else -1.0,
            self.replica_dec_seqs / 2 if self.replica_dec_seqs >= 0 else -1.0,
        )


class PerfModel:
    """Roofline timing model of one replica (implements ``accelsim.model.batch.IterationModel``).

    ``scale_up``/``scale_out`` are the fabrics inside and between scale-up domains;
    ``node_cards`` the cards per server and ``scale_up_cards`` the cards one scale-up fabric
    joins (a CloudMatrix384 supernode: 384; default ``node_cards``). ``routing`` defaults to
    uniform; ``spec`` to no speculative decoding; ``draft`` is the draft model ``spec`` names
    (required when it names one). ``iteration_overhead`` (seconds) replaces the
    card's per-iteration host cost (``efficiency.iteration_overhead``) when a serving framework's
    own figure is known (``accelsim.run.scenario.FrameworkSpec``). ``decode_token_layer_cost``
    (seconds per decode query token per layer) is the serving framework's calibrated cost on
    this card (``accelsim.catalog.devices.FrameworkProfile``; 0: none).
    """

    def __init__(
        self,
        card: Card,
        model: ModelArch,
        plan: ParallelPlan,
        prec: Precision,
        *,
        scale_up: Fabric,
        scale_out: Fabric,
        node_cards: int,
        scale_up_cards: int | None = None,
        routing: RoutingModel | None = None,
        spec: SpecDecode | None = None,
        iteration_overhead: float | None = None,
        draft: ModelArch | None = None,
        decode_token_layer_cost: float = 0.0,
    ) -> None:
        self.card, self.model, self.plan, self.prec = card, model, plan, prec
        if spec is not None and spec.draft_model is not None:
            if spec.method == "mtp":
                raise AccelsimError("speculative method mtp takes no draft_model (use eagle3)")
            if draft is None or draft.name != spec.draft_model or draft.draft is None:
                raise AccelsimError(
                    f"speculative draft_model {spec.draft_model!r}: give its draft architecture "
                    "(perf_model_from_catalog looks it up)"
                )
        self.draft = draft if spec is not None and spec.draft_model is not None else None
        self.rates = Rates.of(card, prec)
        if iteration_overhead is not None:
            if iteration_overhead < 0:
                raise AccelsimError("iteration_overhead cannot be negative")
            self.rates = replace(self.rates, iteration_s=float(iteration_overhead))
        if decode_token_layer_cost < 0:
            raise AccelsimError("decode_token_layer_cost cannot be negative")
        self.token_layer_s = float(decode_token_layer_cost)
        self.routing = routing or RoutingModel()
        self.spec = spec if spec is not None and spec.draft_tokens > 0 else None
        self.tokens_per_decode_step = self.spec.tokens_per_step if self.spec else 1.0
        dies = card.dies
        frac = card.efficiency.collective_fraction
        self.up = Link.of(scale_up, dies, frac)
        self.out = Link.of(scale_out, dies, frac)
        self.node_ranks = node_cards * dies
        self.domain_ranks = (scale_up_cards or node_cards) * dies
        self.cards = plan.cards_per_replica / dies
        if plan.pp > model.num_layers:
            raise AccelsimError(f"plan pp={plan.pp} exceeds the model's {model.num_layers} layers")
        self._routed_cache: dict[float, tuple[float, float, float, float, float, float]] = {}
        self._iter_cache: dict[tuple[float, ...], tuple[float, float, float]] = {}
        self._setup_constants()

    # ---- constants of the model on this plan ---------------------------------------------
    def _setup_constants(self) -> None:
        m, a, p = self.model, self.model.attention, self.prec
        self.h = m.hidden_size
        self.wb = p.weight_bytes
        self.eb = max(p.weight_bytes, 2.0)  # embedding / LM head / router stay 16-bit
        # weight-only quantized weights stream at the card's dequant fraction, not hbm_fraction
        # (roofline module docstring): their bytes cost hbm / hbm_weights times a 16-bit
        # stream's; 0.0 whenever weights are as wide as the math
        r = self.rates
        self.dequant_extra = r.hbm / r.hbm_weights - 1.0
        self.act = 2.0  # activations between ops in BF16/FP16
        self.dispatch_b = 1.0 if p.compute in ("fp8", "int8") else 2.0
        self.attn_params = m.attention_params_per_layer
        self.kv_elems = m.kv_elements_per_token_per_layer
        self.kv_split = 1 if a.kind == "mla" else min(self.plan.tp, a.num_kv_heads)
        quant = self.act + 1.0 if p.compute in ("fp8", "int8") else 0.0
        self.ew_quant = quant
        self.ew_attn, self.ew_expand = _attention_elementwise(
            m, self.plan.tp, self.kv_split, self.act, quant
        )
        self.ew_norm = 4.0 * self.h * self.act
        self.f_dec = m.attention_flops_per_context_token("decode") / m.num_layers
        self.f_pre = m.attention_flops_per_context_token("prefill") / m.num_layers
        if a.kind == "mla":
            self.f_expand = 2.0 * a.kv_lora_rank * a.num_heads * (a.qk_nope_head_dim + a.v_head_dim)
        else:
            self.f_expand = 0.0
        moe = m.moe
        if moe is not None:
            self.e_params = m.expert_params
            self.shared_params = m.shared_expert_params
            self.router_params = m.router_params
            e, k = moe.num_experts, moe.top_k
            ep = self.plan.ep
            per_rank = e / ep
            self.n_dest = float(k if ep >= e else ep * (1 - (1 - k / e) ** per_rank))
            self.top_k = float(k)
            domain = min(ep, self.domain_ranks)
            self.ep_domain = domain
            self.ep_domains = max(1, math.ceil(ep / domain))
            nn = self.ep_domains
            nodes = nn * (1 - (1 - k / e) ** (e / nn)) if nn > 1 else 1.0
            if moe.routing == "group_limited" and moe.n_group >= nn:
                nodes = min(nodes, float(moe.topk_group))
            self.dest_domains = nodes
            a, quant, h = self.act, self.ew_quant, self.h
            w = moe.expert_intermediate / self.plan.moe_tp
            act_separate = w * (3.0 * a + quant)  # SiLU-and-mul, then quantisation
            act_fused = w * (2.0 * a + (1.0 if quant else a))  # one kernel, 8-bit out
            if ep > 1:
                # normal dispatch: ep_scatter, act, ep_gather (per received token: n_dest / k)
                self.ew_assign = 2.0 * h * self.dispatch_b + act_separate + h * a
                self.ew_assign += h * a * self.n_dest / k
                self.ew_assign_ll = act_fused  # low-latency dispatch: combine reduces
            else:
                # fused MoE reads rows in place; moe_sum writes one row per token (load / k)
                self.ew_assign = act_separate + h * a + h * a / k
                self.ew_assign_ll = self.ew_assign
            self.ew_moe_in = h * quant  # routed input quantised (not in low-latency dispatch)
            self.ew_shared = 0.0
            self.ew_combine = 0.0
            if self.shared_params:
                ws = moe.shared_width / self.plan.tp
                self.ew_shared = h * quant + ws * (3.0 * a + quant)
                self.ew_combine = 3.0 * h * a
            self.ew_topk = 4.0 * e + 8.0 * k
        if self.draft is not None:
            d = self.draft
            assert d.draft is not None
            self.d_wb = BYTES[d.draft.weight_dtype]
            kvh = d.attention.num_kv_heads or 1
            self.d_kv_split = 1 if d.attention.kind == "mla" else min(self.plan.tp, kvh)
            self.d_f_dec = d.attention_flops_per_context_token("decode") / d.num_layers
            # the draft runs in BF16: no quantisation kernels
            width = (d.dense_intermediate or 0) / self.plan.tp
            self.d_ew = _attention_elementwise(d, self.plan.tp, self.d_kv_split, self.act, 0.0)[0]
            self.d_ew += 4.0 * d.hidden_size * self.act + 3.0 * width * self.act
        elif self.spec is not None and not (self.spec.method == "mtp" and m.is_moe):
            moe = m.moe
            width = m.dense_intermediate or 0
            if moe is not None:
                width = max(width, moe.shared_width + moe.top_k * moe.expert_intermediate)
            self.draft_ffn_params = 3 * self.h * width
            self.draft_ffn_ew = self.ew_norm + 3.0 * width / self.plan.tp * self.act

    # ---- public API ------------------------------------------------------------------------
    def step(self, batch: BatchStats) -> StepTime:
        """The breakdown of one iteration of ``batch`` (replica-level aggregates)."""
        plan, r = self.plan, self.rates
        dp = plan.dp
        qps = 1.0 + (self.spec.draft_tokens if self.spec else 0)
        # whole sequences go to one DP group: the busiest holds ceil(n / dp) of them
        d_sh = _busiest_share(batch.decode_seqs, dp)
        p_sh = _busiest_share(batch.prefill_seqs, dp) if batch.prefill_seqs else 1.0 / dp
        g = _Group(
            tokens=batch.decode_seqs * qps * d_sh + batch.prefill_tokens * p_sh,
            dec_seqs=batch.decode_seqs * d_sh,
            dec_ctx=batch.decode_context_tokens * d_sh,
            q_per_seq=qps,
            pre_tokens=batch.prefill_tokens * p_sh,
            pre_pairs=batch.prefill_attention_pairs * p_sh,
            pre_ctx=batch.prefill_context_tokens * p_sh,
            pre_seqs=batch.prefill_seqs * p_sh,
            replica_tokens=batch.decode_seqs * qps + batch.prefill_tokens,
            replica_dec_seqs=float(batch.decode_seqs),
        )
        total = _Ops()
        hidden = 0.0
        notes: list[str] = []
        if g.tokens > 0:
            kinds = ((self.model.dense_layers, False), (self.model.moe_layers, True))
            for count, is_moe in kinds:
                if count == 0:
                    continue
                if plan.micro_batch_overlap and g.tokens >= 2:
                    half = self._layer(g.half(), is_moe)
                    c_h, m_h = half.compute_time(), half.comm_time()
                    layer = _Ops()
                    layer.merge(half, 2.0)
                    s_comm = self._comm_unit_share(g)
                    exposed = c_h + m_h + max(m_h, c_h + s_comm * m_h) - 2.0 * c_h
                    if m_h > 0:
                        layer.scale_comm(exposed / (2.0 * m_h))
                    hidden += count * (2.0 * m_h - exposed)
                else:
                    layer = self._layer(g, is_moe)
                total.merge(layer, float(count))
            self._per_iteration(total, g)
            if self.spec is not None and g.dec_seqs > 0:
                self._draft(total, g)
        framework_s = self.token_layer_s * g.dec_seqs * qps * self.model.num_layers / plan.tp
        total.add("overhead", kernels=1.0, launch_s=r.iteration_s + framework_s)
        total.launch -= r.iteration_s + framework_s
        if framework_s > 0:
            notes.append(f"framework cost per decode token and layer: {framework_s * 1e3:.3g} ms")
        if plan.micro_batch_overlap:
            notes.append("two micro-batches overlap communication with compute")
        emitted = batch.decode_seqs * self.tokens_per_decode_step
        return StepTime(
            times=dict(total.t),
            flops=dict(total.f),
            hbm_bytes=dict(total.b),
            net_bytes=dict(total.n),
            bounds=total.bounds(),
            decode_tokens=float(emitted),
            prefill_tokens=float(batch.prefill_tokens),
            cards=self.cards,
            hidden_comm_s=hidden,
            launch_s=total.launch,
            notes=tuple(notes),
        )

    def iteration_time(self, batch: BatchStats) -> float:
        """Seconds for one iteration; cached on the batch rounded to 3 significant digits
        (the serving engine's fast path)."""
        return self.iteration_work(batch)[0]

    def iteration_work(self, batch: BatchStats) -> tuple[float, float, float]:
        """``(seconds, FLOPs, HBM bytes)`` of one iteration of the whole replica, cached like
        ``iteration_time``. FLOPs and bytes are the ``StepTime`` totals of one rank (the
        critical-path rank, all pipeline stages) times the ranks of one stage
        (``tp * dp``): the work the replica's chips execute, replicated ops included."""
        key = (
            batch.decode_seqs,
            _sig3(batch.decode_context_tokens),
            batch.prefill_seqs,
            _sig3(batch.prefill_tokens),
            _sig3(batch.prefill_attention_pairs),
            _sig3(batch.prefill_context_tokens),
        )
        w = self._iter_cache.get(key)
        if w is None:
            rounded = BatchStats(key[0], key[1], key[2], int(key[3]), key[4], key[5])
            st = self.step(rounded)
            ranks = self.plan.tp * self.plan.dp
            w = (st.total_s, sum(st.flops.values()) * ranks, sum(st.hbm_bytes.values()) * ranks)
            if len(self._iter_cache) > 200_000:
                self._iter_cache.clear()
            self._iter_cache[key] = w
        return w

    @property
    def peak_flops(self) -> float:
        """Dense peak FLOP/s of the replica's cards in the compute dtype (the MFU denominator)."""
        return self.card.peak(self.prec.compute) * self.cards

    @property
    def peak_hbm_bandwidth(self) -> float:
        """HBM bandwidth of the replica's cards, bytes/s (the MBU denominator)."""
        return self.card.hbm_bandwidth * self.cards

    def _comm_unit_share(self, g: _Group) -> float:
        """Share of compute units the EP communication kernels hold while they run (see the
        module docstring): ``COMM_SMS / SMs`` for the prefill share of an SM-GPU's tokens."""
        card = self.card
        if card.compute_unit_kind != "SM" or self.plan.ep <= 1 or g.tokens <= 0:
            return 0.0
        return min(COMM_SMS / card.compute_units, 1.0) * g.pre_tokens / g.tokens

    # ---- one layer -------------------------------------------------------------------------
    def _layer(self, g: _Group, is_moe: bool) -> _Ops:
        ops = _Ops()
        self._attention(ops, g)
        plan, r = self.plan, self.rates
        tp = plan.tp
        if is_moe:
            self._moe(ops, g)
        else:
            self._gemm(ops, "dense_ffn", self.model.dense_ffn_params / tp, g.tokens, _K_FFN)
            width = (self.model.dense_intermediate or 0) / tp
            per_token = (
                self.ew_norm + self.h * self.ew_quant + width * (3.0 * self.act + self.ew_quant)
            )
            self._elementwise(ops, "dense_ffn", per_token * g.tokens)
        if tp > 1:
            size = g.tokens * self.h * self.act
            t = all_reduce(self._link(tp), size, tp)
            ops.add(
                "tp_collectives",
                network_s=2 * t,
                kernels=2 * _K_COLL,
                launch_s=r.launch_s,
                net=2 * 2 * size * (tp - 1) / tp,
            )
        return ops

    def _gemm(
        self,
        ops: _Ops,
        cls: str,
        params: float,
        m: float,
        kernels: int,
        wbytes: float | None = None,
        width: float | None = None,
    ) -> None:
        """A weight GEMM of ``params`` weights (this rank's share) over ``m`` tokens whose
        activations are ``width`` wide (default: the model's hidden size)."""
        r = self.rates
        flops = 2.0 * params * m
        h = self.h if width is None else width
        weights = params * (self.wb if wbytes is None else wbytes)
        hbm = weights + 2.0 * m * h * self.act
        slow = weights * self.dequant_extra if wbytes is None else 0.0
        ops.add(
            cls,
            compute_s=flops / r.gemm_rate(m),
            memory_s=(hbm + slow) / r.hbm,
            kernels=kernels,
            launch_s=r.launch_s,
            flops=flops,
            hbm=hbm,
        )

    def _attention(self, ops: _Ops, g: _Group) -> None:
        r, tp = self.rates, self.plan.tp
        params = self.attn_params / tp
        flops = 2.0 * params * g.tokens
        hbm = params * self.wb + 2.0 * g.tokens * self.h * self.act
        compute = flops / r.gemm_rate(g.tokens)
        kv_b = self.prec.kv_bytes
        dec_f = self.f_dec * g.dec_ctx * g.q_per_seq / tp
        pre_f = (self.f_pre * g.pre_pairs + self.f_expand * g.pre_ctx) / tp
        core_f = dec_f + pre_f
        core_b = self.kv_elems * kv_b * (g.dec_ctx + g.pre_tokens + g.pre_ctx) / self.kv_split
        compute += dec_f / r.attn_dec_flops + pre_f / r.attn_flops
        slow = params * self.wb * self.dequant_extra
        ops.add(
            "attention",
            compute_s=compute,
            memory_s=(hbm + core_b + slow) / r.hbm,
            kernels=_K_ATTN,
            launch_s=r.launch_s,
            flops=flops + core_f,
            hbm=hbm + core_b,
        )
        ew = self.ew_attn * g.tokens + self.ew_expand * (g.pre_tokens + g.pre_ctx)
        self._elementwise(ops, "attention", ew)

    def _elementwise(self, ops: _Ops, cls: str, nbytes: float) -> None:
        """Memory-bound elementwise kernels moving ``nbytes`` through HBM, serialised with the
        GEMMs of ``cls`` (see the module docstring); their launches are in the op's kernels."""
        if nbytes > 0:
            ops.add(cls, memory_s=nbytes / self.rates.hbm, hbm=nbytes)

    def _moe(self, ops: _Ops, g: _Group) -> None:
        plan, r = self.plan, self.rates
        tp, dp, ep = plan.tp, plan.dp, plan.ep
        moe = self.model.moe
        assert moe is not None
        m = g.tokens
        self._gemm(ops, "router", self.router_params, m, _K_ROUTER, wbytes=self.eb)
        self._elementwise(ops, "router", self.ew_topk * m)
        if self.shared_params:
            self._gemm(ops, "shared_experts", self.shared_params / tp, m, _K_FFN)
            self._elementwise(ops, "shared_experts", self.ew_shared * m)
        t_all = g.replica_tokens if g.replica_tokens >= 0 else m * dp
        compute_s, memory_s, flops, hbm, max_load, load = self._routed(t_all)
        ops.add(
            "routed_experts",
            compute_s=compute_s,
            memory_s=memory_s,
            kernels=_K_ROUTED,
            launch_s=r.launch_s,
            flops=flops,
            hbm=hbm,
        )
        dec_share = (g.dec_seqs * g.q_per_seq) / m if m > 0 else 0.0
        ll = dec_share if ep > 1 else 0.0  # share of tokens in DeepEP low-latency mode
        per_token = self.ew_norm + (1.0 - ll) * self.ew_moe_in + self.ew_combine
        per_assign = (1.0 - ll) * self.ew_assign + ll * self.ew_assign_ll
        self._elementwise(ops, "routed_experts", per_token * m + per_assign * load)
        if ep > 1:
            mean_load = t_all * moe.top_k / ep
            imb = max_load / mean_load if mean_load > 0 else 1.0
            per_rank = m / tp
            for cls, b in (("ep_dispatch", self.dispatch_b), ("ep_combine", 2.0)):
                t, sent = self._all_to_all(per_rank, dec_share, b, imb)
                ops.add(cls, network_s=t, kernels=_K_COLL, launch_s=r.launch_s, net=sent)
        elif dp > 1:
            n = tp * dp
            size = t_all * self.h * self.act
            t = all_gather(self._link(n), size, n) * 2.0
            ops.add(
                "ep_dispatch",
                network_s=t,
                kernels=2 * _K_COLL,
                launch_s=r.launch_s,
                net=2 * size * (n - 1) / n,
            )

    def _routed(self, t_all: float) -> tuple[float, float, float, float, float, float]:
        """Busiest EP rank's grouped-GEMM time terms for ``t_all`` replica tokens: compute and
        memory seconds, FLOPs, bytes, the mean busiest-rank load over popularity draws, and the
        (token, expert) assignments on the rank that sets the time."""
        key = round(t_all, 3)
        hit = self._routed_cache.get(key)
        if hit is not None:
            return hit
        plan, r = self.plan, self.rates
        loads = self.routing.rank_loads(self.model, plan.ep, plan.redundant_experts, t_all)
        split = plan.moe_tp
        params = self.e_params / split
        load, touched = loads.load, loads.touched
        flops = 2.0 * params * load
        m = np.divide(load, touched, out=np.zeros_like(load), where=touched > 0)
        rate = r.gemm_flops * m / (m + r.m_half)
        compute = np.divide(flops, rate, out=np.zeros_like(flops), where=rate > 0)
        weights = touched * params * self.wb
        hbm = weights + load * (2.0 * self.h + 3.0 * params / self.h) * self.act
        memory = (hbm + weights * self.dequant_extra) / r.hbm
        t = np.maximum(compute, memory)
        idx = t.argmax(axis=1)
        rows = np.arange(t.shape[0])
        out = (
            float(compute[rows, idx].mean()),
            float(memory[rows, idx].mean()),
            float(flops[rows, idx].mean()),
            float(hbm[rows, idx].mean()),
            loads.max_load,
            float(load[rows, idx].mean()),
        )
        if len(self._routed_cache) > 100_000:
            self._routed_cache.clear()
        self._routed_cache[key] = out
        return out

    def _link(self, n: int) -> Link:
        """The fabric ``n`` consecutive ranks talk over (scale-up when they fit its domain)."""
        return self.up if n <= self.domain_ranks else self.out

    def _all_to_all(
        self, tokens: float, dec_share: float, b: float, imb: float
    ) -> tuple[float, float]:
        """Seconds and bytes sent by one rank dispatching ``tokens`` tokens of ``b`` B/elem."""
        ep = self.plan.ep
        row = self.h * b
        dom = self.ep_domain
        # copies of a token: one per destination rank (normal mode, prefill) or one per
        # selected expert (low-latency mode, decode)
        copies = dec_share * self.top_k + (1.0 - dec_share) * self.n_dest
        intra = tokens * copies * (dom - 1) / ep * row
        t = all_to_all(self.up, intra * imb, dom - 1)
        sent = intra
        if self.ep_domains > 1:
            nn = self.ep_domains
            dedup = tokens * self.dest_domains * (nn - 1) / nn * row
            direct = tokens * self.top_k * (ep - dom) / ep * row
            inter = dec_share * direct + (1.0 - dec_share) * dedup
            t = max(t, all_to_all(self.out, inter * imb, ep - dom))
            sent += inter
        return t, sent

    # ---- per iteration ---------------------------------------------------------------------
    def _per_iteration(self, ops: _Ops, g: _Group, pipeline: bool = True) -> None:
        plan, r, m = self.plan, self.rates, self.model
        tp = plan.tp
        rows = g.logit_rows
        lm = m.vocab_size * self.h / tp
        flops = 2.0 * lm * rows
        hbm = lm * self.eb + g.tokens * self.h * self.act
        ops.add(
            "embedding_lm_head",
            compute_s=flops / r.gemm_rate(rows),
            memory_s=hbm / r.hbm,
            kernels=_K_LM,
            launch_s=r.launch_s,
            flops=flops,
            hbm=hbm,
        )
        logits = rows * m.vocab_size / tp * 4.0
        ops.add(
            "sampling", memory_s=logits / r.hbm, kernels=_K_SAMPLE, launch_s=r.launch_s, hbm=logits
        )
        if pipeline and plan.pp > 1:
            size = g.tokens * self.h * self.act / tp
            link = self._link(plan.cards_per_replica)
            ops.add(
                "pp_transfer",
                network_s=(plan.pp - 1) * p2p(link, size),
                kernels=(plan.pp - 1) * _K_COLL,
                launch_s=r.launch_s,
                net=(plan.pp - 1) * size,
            )

    def _draft(self, ops: _Ops, g: _Group) -> None:
        """``draft_tokens`` sequential draft passes over the decode sequences."""
        spec = self.spec
        assert spec is not None
        if self.draft is not None:
            self._eagle_draft(ops, g)
            return
        d = _Group(g.dec_seqs, g.dec_seqs, g.dec_ctx, 1.0, 0.0, 0.0, 0.0, 0.0, g.replica_dec_seqs)
        one = _Ops()
        if spec.method == "mtp" and self.model.is_moe:
            one.merge(self._layer(d, True))
            self._gemm(one, "draft", 2.0 * self.h * self.h / self.plan.tp, d.tokens, 1)
        else:
            self._attention(one, d)
            self._gemm(
                one, "dense_ffn", self.draft_ffn_params / self.plan.tp, d.tokens, _K_FFN, wbytes=2.0
            )
            self._elementwise(one, "dense_ffn", self.draft_ffn_ew * d.tokens)
        lm = _Ops()
        self._per_iteration(lm, d, pipeline=False)
        one.merge(lm)
        ops.merge(one, float(spec.draft_tokens), into="draft")

    def _eagle_draft(self, ops: _Ops, g: _Group) -> None:
        """The draft model's ``draft_tokens`` passes (see the module docstring), into ``draft``."""
        spec, d, r, tp = self.spec, self.draft, self.rates, self.plan.tp
        assert spec is not None and d is not None
        seqs, h, wb = g.dec_seqs, d.hidden_size, self.d_wb
        kv = d.kv_elements_per_token_per_layer * self.prec.kv_bytes / self.d_kv_split
        out = _Ops()
        for step in range(spec.draft_tokens):
            q = g.q_per_seq if step == 0 else 1.0  # the draft extend covers every verified token
            m = seqs * q
            if step == 0 and d.fusion_params:
                self._gemm(out, "draft", d.fusion_params / tp, m, 1, wbytes=wb, width=h)
            for _ in range(d.num_layers):
                params = d.attention_params_per_layer / tp
                flops = 2.0 * params * m
                hbm = params * wb + 2.0 * m * h * self.act
                core_f = self.d_f_dec * g.dec_ctx * q / tp
                core_b = kv * g.dec_ctx
                out.add(
                    "draft",
                    compute_s=flops / r.gemm_rate(m) + core_f / r.attn_dec_flops,
                    memory_s=(hbm + core_b) / r.hbm,
                    kernels=_K_ATTN,
                    launch_s=r.launch_s,
                    flops=flops + core_f,
                    hbm=hbm + core_b,
                )
                self._gemm(out, "draft", d.dense_ffn_params / tp, m, _K_FFN, wbytes=wb, width=h)
                self._elementwise(out, "draft", self.d_ew * m)
                if tp > 1:
                    size = m * h * self.act
                    out.add(
                        "draft",
                        network_s=2 * all_reduce(self._link(tp), size, tp),
                        kernels=2 * _K_COLL,
                        launch_s=r.launch_s,
                        net=2 * 2 * size * (tp - 1) / tp,
                    )
            lm = d.lm_head_params / tp
            self._gemm(out, "draft", lm, seqs, _K_LM, wbytes=wb, width=h)
            logits = seqs * d.lm_head_vocab / tp * 4.0
            out.add(
                "draft", memory_s=logits / r.hbm, kernels=_K_SAMPLE, launch_s=r.launch_s, hbm=logits
            )
        ops.merge(out)


def _attention_elementwise(
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


def _busiest_share(n: float, dp: int) -> float:
    """Share of ``n`` sequences on the busiest of ``dp`` attention-DP groups: ``ceil(n/dp)/n``
    (``1/dp`` when ``n`` is 0 or fractional averages make ``n < 1``)."""
    if n < 1 or dp == 1:
        return 1.0 / dp
    return math.ceil(n / dp - 1e-9) / n


def _sig3(x: float) -> float:
    if x == 0:
        return 0.0
    return float(f"{x:.3g}")


def perf_model_from_catalog(
    catalog: Catalog,
    model: str,
    device: str,
    plan: ParallelPlan,
    prec: Precision,
    *,
    routing: RoutingModel | None = None,
    spec: SpecDecode | None = None,
    server: str | None = None,
    iteration_overhead: float | None = None,
    framework: str | None = None,
) -> PerfModel:
    """A ``PerfModel`` with the card, its server (default: the card's ``default_server``) and
    that server's scale-up and scale-out fabrics looked up in ``catalog``; ``framework`` (a
    serving framework's name) brings in its profile on the card's vendor, when the catalog has
    one (``Catalog.framework_profile``)."""
    card = catalog.device(device)
    profile = catalog.framework_profile(framework, card.vendor) if framework else None
    arch = catalog.model(model)
    srv = catalog.server(server) if server else catalog.server_for(card)
    draft = None
    if spec is not None and spec.draft_model is not None:
        draft = catalog.model(spec.draft_model)
        if draft.draft is None:
            raise AccelsimError(
                f"speculative draft_model {spec.draft_model!r} is not a draft model "
                "(its file has no draft: section)"
            )
    return PerfModel(
        card,
        arch,
        plan,
        prec,
        scale_up=catalog.fabric(srv.scale_up_fabric),
        scale_out=catalog.fabric(srv.scale_out_fabric),
        node_cards=srv.cards_per_node,
        scale_up_cards=srv.scale_up_domain_cards,
        routing=routing,
        spec=spec,
        iteration_overhead=iteration_overhead,
        draft=draft,
        decode_token_layer_cost=profile.decode_token_layer_cost if profile is not None else 0.0,
    )
