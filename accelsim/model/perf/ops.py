"""The vocabulary every op family prices into: op classes, bounds, kernel counts, the ``Ops``
accumulator, the ``StepTime`` result and the ``Group`` of work one attention-DP group holds.

An op adds ``max(compute_s, memory_s, network_s)`` plus ``kernels x launch_s`` to its class
(``Ops.add``); its bound is ``overhead`` when the fixed cost exceeds the body, else the largest
of network, compute and memory. A class's bound in a ``StepTime`` is the bound that holds most
of its time.

Plan conventions (see ``accelsim.model.plan``): a ``BatchStats`` describes the whole replica; its
sequences go whole to the ``dp`` attention groups (a sequence's KV cache lives in one group),
so the busiest group holds ``ceil(n / dp)`` of ``n`` decode (and of the prefill) sequences and
sets the attention, dense and shared-expert time (then ``1/tp`` within a group); one prefill
prompt on a DP16 replica keeps one group busy while fifteen idle (``Group.busiest``). Routed
experts see the replica's total tokens (``Group.replica_tokens``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from accelsim.model.batch import BatchStats

__all__ = [
    "BOUNDS",
    "COMM_CLASSES",
    "K_ATTN",
    "K_COLL",
    "K_FFN",
    "K_HC",
    "K_INDEXER",
    "K_LM",
    "K_ROUTED",
    "K_ROUTER",
    "K_SAMPLE",
    "MODEL_SPECIFIC_CLASSES",
    "OP_CLASSES",
    "Group",
    "LeanOps",
    "Ops",
    "StepTime",
]

OP_CLASSES = (
    "attention",
    "indexer",
    "hyper_connections",
    "dense_ffn",
    "shared_experts",
    "routed_experts",
    "router",
    "tp_collectives",
    "ep_dispatch",
    "ep_combine",
    "pp_transfer",
    "cp_kv_exchange",
    "embedding_lm_head",
    "sampling",
    "draft",
    "overhead",
)
COMM_CLASSES = ("tp_collectives", "ep_dispatch", "ep_combine", "pp_transfer", "cp_kv_exchange")
#: Classes only some models or plans have (DeepSeek's lightning indexer, V4's
#: hyper-connections, a context-parallel plan's KV exchange): a ``StepTime.as_dict`` lists them
#: only when they hold work, so other records are as they were before the classes existed.
MODEL_SPECIFIC_CLASSES = ("indexer", "hyper_connections", "cp_kv_exchange")
BOUNDS = ("compute", "memory", "network", "overhead")
_ZEROS = dict.fromkeys(OP_CLASSES, 0.0)  # copied by ``LeanOps`` (faster than ``fromkeys``)

# Kernels per op and layer (norms, rope, cache writes and activations folded in: their launches
# are counted here, their bytes by the elementwise terms).
K_ATTN = 6
K_FFN = 3
K_ROUTED = 5
K_ROUTER = 2
K_COLL = 1
K_LM = 2
K_SAMPLE = 2
K_INDEXER = 2  # score (fp8_mqa_logits-style) and top-k selection
K_HC = 2  # per hyper-connection site: the pre-mix (map, Sinkhorn, mix) and the post-mix


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
                if c not in MODEL_SPECIFIC_CLASSES
                or self.times[c]
                or self.flops[c]
                or self.hbm_bytes[c]
            },
            "notes": list(self.notes),
        }


class Ops:
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

    def merge(self, other: Ops, mult: float = 1.0, into: str | None = None) -> None:
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


class LeanOps(Ops):
    """An ``Ops`` that keeps only what an iteration's total needs — per-class seconds, FLOPs and
    HBM bytes, added in the same order as ``Ops`` adds them, so every total is the same float —
    without the bound bookkeeping, network bytes and launch total a ``StepTime`` reports (the
    simulator's fast path, ``PerfModel.iteration_work``). ``merge`` takes either kind."""

    __slots__ = ()

    def __init__(self) -> None:
        self.t = _ZEROS.copy()
        self.f = _ZEROS.copy()
        self.b = _ZEROS.copy()
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
        self.t[cls] += max(compute_s, memory_s, network_s) + kernels * launch_s
        self.f[cls] += flops
        self.b[cls] += hbm

    def merge(self, other: Ops, mult: float = 1.0, into: str | None = None) -> None:
        t, f, b = self.t, self.f, self.b
        ot, of, ob = other.t, other.f, other.b
        for c in OP_CLASSES:
            if ot[c] == 0.0 and of[c] == 0.0 and ob[c] == 0.0:
                continue
            dst = into or c
            t[dst] += ot[c] * mult
            f[dst] += of[c] * mult
            b[dst] += ob[c] * mult

    def scale_comm(self, factor: float) -> None:
        for c in COMM_CLASSES:
            self.t[c] *= factor

    def bounds(self) -> dict[str, str]:
        raise TypeError("LeanOps keeps no bounds: price with Ops for a StepTime")


@dataclass(slots=True)
class Group:
    """The work of one attention-DP group in one iteration (or one micro-batch of it). Never
    modified once built; not ``frozen`` because a frozen dataclass takes several times as long
    to build (``object.__setattr__`` per field), and one is built per priced iteration."""

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

    @staticmethod
    def busiest(batch: BatchStats, dp: int, qps: float) -> Group:
        """The busiest of ``dp`` groups when ``batch``'s sequences go whole to one group each
        and every decode sequence carries ``qps`` query tokens (see the module docstring)."""
        return Group.of(
            batch.decode_seqs,
            batch.decode_context_tokens,
            batch.prefill_seqs,
            batch.prefill_tokens,
            batch.prefill_attention_pairs,
            batch.prefill_context_tokens,
            dp,
            qps,
        )

    @staticmethod
    def of(
        n: int, ctx: float, pseq: int, ptok: int, pairs: float, pctx: float, dp: int, qps: float
    ) -> Group:
        """``busiest`` of the batch ``BatchStats(n, ctx, pseq, ptok, pairs, pctx)``, from its
        fields (the simulator's pricing path builds no ``BatchStats``)."""
        d_sh, p_sh = Group.shares(n, pseq, dp)
        return Group(
            n * qps * d_sh + ptok * p_sh,
            n * d_sh,
            ctx * d_sh,
            qps,
            ptok * p_sh,
            pairs * p_sh,
            pctx * p_sh,
            pseq * p_sh,
            n * qps + ptok,
            float(n),
        )

    @staticmethod
    def shares(n: int, pseq: int, dp: int) -> tuple[float, float]:
        """The busiest group's shares of a batch's ``n`` decode and ``pseq`` prefill sequences
        (``of`` multiplies the batch's sums by them)."""
        if dp == 1:  # ``_busiest_share``'s value, without the calls
            return 1.0, 1.0
        return _busiest_share(n, dp), _busiest_share(pseq, dp) if pseq else 1.0 / dp

    @property
    def logit_rows(self) -> float:
        return self.dec_seqs * self.q_per_seq + self.pre_seqs

    def context_split(self, cp: int) -> Group:
        """One of ``cp`` context-parallel ranks' share of the group (``accelsim.model.plan``).

        A prefill of ``T`` new tokens after ``P`` cached ones splits into ``cp`` chunks of
        ``T / cp``, dealt out load-balanced (each rank one early and one late half-chunk, as
        ring attention's zig-zag layout does), so a rank's chunk sits on average after
        ``P + T (cp - 1) / (2 cp)`` tokens: its causal pairs are then ``T P / cp + T^2 / (2 cp)``,
        exactly ``1 / cp`` of the prefill's. A decode sequence's cached context splits ``cp``
        ways. Decode tokens and logit rows run on every rank; the routed experts still see each
        token once (``replica_tokens``)."""
        pre = self.pre_tokens / cp
        return Group(
            self.tokens - self.pre_tokens + pre,
            self.dec_seqs,
            self.dec_ctx / cp,
            self.q_per_seq,
            pre,
            self.pre_pairs / cp,
            self.pre_ctx + self.pre_tokens * (cp - 1) / (2 * cp),
            self.pre_seqs,
            self.replica_tokens,
            self.replica_dec_seqs,
        )

    def half(self) -> Group:
        """One of two equal micro-batches."""
        return Group(
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


def _busiest_share(n: float, dp: int) -> float:
    """Share of ``n`` sequences on the busiest of ``dp`` attention-DP groups: ``ceil(n/dp)/n``
    (``1/dp`` when ``n`` is 0 or fractional averages make ``n < 1``)."""
    if n < 1 or dp == 1:
        return 1.0 / dp
    return math.ceil(n / dp - 1e-9) / n
