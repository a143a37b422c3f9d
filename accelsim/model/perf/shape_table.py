"""The simulator's price of a new batch shape (``ShapeTable``): what reads only the batch's token
counts tabulated per exact token key, the attention priced per shape in closed form — the very
floats of ``PerfModel.step``'s breakdown (issue 18).

``PerfModel.shape_work`` prices a shape ``(n, ctx, pseq, ptok, pairs, pctx)`` (its sums rounded
to 3 significant digits) on its busiest attention-DP group (``Group.of``, then
``Group.context_split`` under context parallelism). The group's token fields (tokens, decode
and prefill sequences, prefill tokens, the routed experts' replica tokens) are functions of
``(n, pseq, ptok)`` alone; its context fields (decode context sum, prefill pairs, prefill prior
context) are ``ctx``, ``pairs`` and ``pctx`` times the busiest group's shares (``Group.shares``),
split ``cp`` ways. Every op of an iteration except the attention and the draft passes (which
read the decode context) reads only token fields: the layers' rest (``Layer.add_rest``), the LM
head, the PP and CP transfers, the overhead and the host's dispatch time. So the table keeps,
per token key ``(n, pseq, ptok)``, those ops' per-class seconds, FLOPs and HBM bytes, priced
once by the very calls of ``PerfModel._accumulate`` on a probe group whose context fields are
NaN, with the attention's token-only terms (``Attention.token_terms``). A shape then prices
only its attention per layer kind (once per attention object: consecutive kinds that share one
reuse its floats; ``Attention.lean``: the float operations of
``Attention.add`` into a fresh ``LeanOps``, in their order; another family, DeepSeek's sparse
and compressed attention, through its own ``add`` into accumulators of the attention classes,
as ``accelsim.model.perf.layer_table`` does), the draft passes when there are any (the
drafter's own ``add``), the host wait, and the three sums over ``OP_CLASSES``.

Why the floats are ``step``'s: each op class's total is the same sequence of float operations
(``accelsim.model.perf.layer_table`` gives the argument): the attention classes are summed over
the layer kinds times their counts, starting from zero; the draft class is the drafter's total
(no other op writes it); every other class is its tabulated total (the attention and the
drafter write none of them); the iteration's seconds sum the classes in ``OP_CLASSES`` order,
and the host wait, ``max(0, host - that sum)``, is added to ``overhead`` before the final sum.
Checked, not assumed: a token record must come out finite with its attention, indexer and
draft classes zero (a context field read anywhere shows as NaN), a generic attention writes
into accumulators that hold only its classes, a drafter writes only ``draft``, and the first
``VERIFIED`` records' first shapes are priced by the full loop as well and must agree to the
last bit (a change in a family's formula that ``Attention.lean`` does not mirror shows there).
A failed check switches the table off for good (``ok``) and ``PerfModel`` prices through its
full loop: the same figures, slower. Not built for plans with ``micro_batch_overlap`` (the
overlap mixes attention time into each layer's exposed communication).

The layers' part of a record is the layer table's token-only part per busiest-group token
count (``LayerTable.token_rest_for``: ``Layer.add_token_rest`` of every kind — on a dense model
the whole rest), copied, so records of many shapes share one; on a model with MoE layers each
MoE kind's routed part (``Layer.add_routed``: the routed experts and the EP dispatch and
combine, which read the decode share and the replica's tokens too) is priced per record into
accumulators that hold only ``ROUTED_CLASSES`` (another class written switches the table off)
and added as ``LeanOps.merge`` adds it: the token-only part leaves those classes zero, so each
class is the same sequence of additions as the full loop's.

Cost (``benchmarks/bench_perf.py``, Llama-2-70B TP4 on the Vidur workload's stream): a shape
whose token key is known costs about a fifth of the layer table's path (``PerfModel._work``), a
new token key about one and a half times it. On a model with MoE layers, whose token key
(``n``, ``pseq``, ``ptok``) often never comes back (the default scenario's traffic on 2
replicas at 50k requests: 22,827 keys for 36,466 new shapes, 15,117 met once), a record costs
about half the full loop (its layers' token-only part shared per token count), so the first
shape of a key is priced through a record that is not kept, and the key is recorded the second
time it is met (the records hold the keys that come back). Bounded: at most ``TABLE_SIZE`` token
keys recorded and as many met once (each emptied when full; a figure is a pure function of its
shape, so results never depend on the bound).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from accelsim.model.perf.attention import Attention
from accelsim.model.perf.draft import Drafter
from accelsim.model.perf.layer import ROUTED_CLASSES, Layer
from accelsim.model.perf.layer_table import LayerTable, attention_sums
from accelsim.model.perf.ops import OP_CLASSES, Group, LeanOps

__all__ = ["TABLE_SIZE", "VERIFIED", "ShapeTable"]

#: Most token keys a ``ShapeTable`` holds (about 1.8 KB a key: at most about 15 MB; the
#: Vidur workload of ``bench_engine`` reaches 4,062 keys at 10k requests, 9,232 at 50k).
TABLE_SIZE = 1 << 13
#: Token records whose first shape is checked against the full loop (module docstring).
VERIFIED = 64

_NAN = math.nan
_DRAFT = OP_CLASSES.index("draft")
#: the attention classes lead ``OP_CLASSES``; the draft and overhead classes end it
assert OP_CLASSES[:2] == ("attention", "indexer") and OP_CLASSES[-2:] == ("draft", "overhead")
_NOT_DRAFT = tuple(c for c in OP_CLASSES if c != "draft")
_ROUTED = dict.fromkeys(ROUTED_CLASSES, 0.0)  # copied: accumulators of the routed classes

Work = tuple[float, float, float]


class ShapeTable:
    """``PerfModel.shape_work``'s pricing of a new shape (see the module docstring).

    ``groups``: the model's ``(count, is_moe, ratio, layer)`` per layer kind; ``dp``, ``cp``,
    ``qps`` (query tokens per decode sequence) and ``ranks`` (``plan.stage_ranks``) as the
    ``PerfModel`` has them; ``token_ops(total, g, whole)`` adds the ops after the layers that
    read only token counts and returns the host's seconds (``PerfModel._token_ops``);
    ``drafter`` prices the draft passes; ``full(group)`` is the full loop (``PerfModel._work``)
    the first records are checked against; ``layers`` the ``PerfModel``'s layer table, whose
    rest parts the records take (None: priced here, the same floats)."""

    __slots__ = (
        "attention",
        "cp",
        "dp",
        "drafter",
        "full",
        "groups",
        "layers",
        "lean_kinds",
        "ok",
        "qps",
        "ranks",
        "records",
        "routed",
        "seen",
        "token_ops",
        "verified",
    )

    def __init__(
        self,
        groups: tuple[tuple[int, bool, int, Layer], ...],
        dp: int,
        cp: int,
        qps: float,
        ranks: int,
        token_ops: Callable[[LeanOps, Group, Group], float | None],
        drafter: Drafter | None,
        full: Callable[[Group], Work],
        layers: LayerTable | None = None,
    ) -> None:
        self.groups, self.layers = groups, layers
        self.dp, self.cp, self.qps, self.ranks = dp, cp, qps, ranks
        self.token_ops, self.drafter, self.full = token_ops, drafter, full
        # per kind: count, ratio, layer, and the attention when ``Attention.lean`` prices it
        kinds = []
        for count, _, ratio, layer in groups:
            att = layer.attention_of(ratio)
            kinds.append((float(count), ratio, layer, att if type(att) is Attention else None))
        #: (count, ratio, layer) per kind, for ``attention_sums``
        self.attention = tuple((m, ratio, layer) for m, ratio, layer, _ in kinds)
        #: (count, attention) per kind when every kind's attention is closed-form, else None
        self.lean_kinds = (
            tuple((m, att) for m, _, _, att in kinds)
            if all(att is not None for *_, att in kinds)
            else None
        )
        self.records: dict[tuple[int, int, int], tuple] = {}
        #: token keys met once and not recorded yet; None: record at the first meeting (the
        #: records take the layer table's token-only parts, see the module docstring)
        self.seen: set[tuple[int, int, int]] | None = (
            set() if layers is None or layers.moe else None
        )
        #: (count, layer) of the MoE layer kinds, whose routed part each record prices
        self.routed = tuple((float(c), layer) for c, is_moe, _, layer in groups if is_moe)
        self.verified = 0
        self.ok = True

    def price(
        self, n: int, ctx: float, pseq: int, ptok: int, pairs: float, pctx: float
    ) -> Work | None:
        """``(seconds, FLOPs, HBM bytes)`` of the shape, the floats of ``PerfModel._work`` of
        its busiest group; None when the table is off or the token key is met for the first
        time on a table that records at the second meeting (the caller prices it)."""
        if not self.ok:
            return None
        key = (n, pseq, ptok)
        rec = self.records.get(key)
        if rec is not None:
            return self._price(rec, ctx, pairs, pctx)
        seen = self.seen
        keep = True
        if seen is not None and key not in seen:
            if len(seen) >= TABLE_SIZE:
                seen.clear()
            seen.add(key)
            keep = False
        return self._first(n, ctx, pseq, ptok, pairs, pctx, keep)

    def _first(
        self, n: int, ctx: float, pseq: int, ptok: int, pairs: float, pctx: float, keep: bool
    ) -> Work | None:
        """``price`` of a shape whose token key is not recorded: its record made (kept when
        ``keep``) and, for the first ``VERIFIED`` records, the shape checked against the full
        loop."""
        rec = self._record(n, pseq, ptok, keep)
        if rec is None:
            return None
        w = self._price(rec, ctx, pairs, pctx)
        if self.verified < VERIFIED and w is not None:
            self.verified += 1
            whole = Group.of(n, ctx, pseq, ptok, pairs, pctx, self.dp, self.qps)
            if self.full(whole) != w:
                self._off()
                return None
        return w

    def _record(self, n: int, pseq: int, ptok: int, keep: bool = True) -> tuple | None:
        """The token record of ``(n, pseq, ptok)`` (module docstring), kept in ``records``
        when ``keep``, or None after switching the table off when its check fails."""
        cp = self.cp
        whole = Group.of(n, _NAN, pseq, ptok, _NAN, _NAN, self.dp, self.qps)
        g = whole.context_split(cp) if cp > 1 else whole
        rest = None
        if g.tokens > 0 and self.layers is not None:
            # the layers' token-only part per token count serves the records of many shapes
            # (a dense model's whole rest; an MoE layer's routed part is priced here)
            rest = self.layers.token_rest_for(g)
        if rest is not None:  # the layer table's, copied (the same floats)
            acc = LeanOps.__new__(LeanOps)
            acc.t, acc.f, acc.b = rest[0].copy(), rest[1].copy(), rest[2].copy()
            if self.routed and not self._add_routed(acc, g):
                return None
        else:
            acc = LeanOps()
            if g.tokens > 0:
                for count, is_moe, _, layer in self.groups:
                    part = LeanOps()
                    layer.add_rest(part, g, is_moe)
                    acc.merge(part, float(count))
        host = self.token_ops(acc, g, whole)
        t = tuple(acc.t.values())
        f = tuple(acc.f.values())
        b = tuple(acc.b.values())
        # one sum: a NaN or an infinity anywhere makes it non-finite (the terms are >= 0)
        d = _DRAFT
        if (
            not math.isfinite(sum(t) + sum(f) + sum(b) + (host or 0.0))
            or t[0] or t[1] or t[d] or f[0] or f[1] or f[d] or b[0] or b[1] or b[d]
        ):  # fmt: skip
            self._off()
            return None
        d_sh, p_sh = Group.shares(n, pseq, self.dp)
        shift = whole.pre_tokens * (cp - 1) / (2 * cp) if cp > 1 else 0.0
        # (count, attention, its token terms, whether the kind before has that attention) per
        # kind, when all are closed-form: a shape prices each attention once
        lean = None
        if g.tokens > 0 and self.lean_kinds is not None:
            tokens, kinds, prev = g.tokens, [], None
            for m, att in self.lean_kinds:
                if att is not prev:
                    terms = att.token_terms(tokens)
                kinds.append((m, att, terms, att is prev))
                prev = att
            lean = tuple(kinds)
        # per sum: the non-zero classes between the attention ones and ``draft`` (a zero adds
        # nothing to a sum of non-negative terms, compensated or not), and ``overhead``
        rt = (tuple(filter(None, t[2:_DRAFT])), t[-1])
        rf = (tuple(filter(None, f[2:_DRAFT])), f[-1])
        rb = (tuple(filter(None, b[2:_DRAFT])), b[-1])
        rec = (g, d_sh, p_sh, shift, lean, rt, rf, rb, host)
        if keep:
            if len(self.records) >= TABLE_SIZE:
                self.records.clear()
            self.records[(n, pseq, ptok)] = rec
        return rec

    def _add_routed(self, acc: LeanOps, g: Group) -> bool:
        """The MoE layer kinds' routed parts over group ``g`` (``Layer.add_routed``) merged
        into ``acc``, whose routed classes are zero, as ``LeanOps.merge`` adds them; False,
        after switching the table off, when a routed part writes another class (its
        accumulators hold only the routed classes: not separable)."""
        t, f, b = acc.t, acc.f, acc.b
        for mult, layer in self.routed:
            part = LeanOps.__new__(LeanOps)
            part.t, part.f, part.b = _ROUTED.copy(), _ROUTED.copy(), _ROUTED.copy()
            try:
                layer.add_routed(part, g)
            except KeyError:
                self._off()
                return False
            pt, pf, pb = part.t, part.f, part.b
            for c in ROUTED_CLASSES:
                if pt[c] == 0.0 and pf[c] == 0.0 and pb[c] == 0.0:
                    continue
                t[c] += pt[c] * mult
                f[c] += pf[c] * mult
                b[c] += pb[c] * mult
        return True

    def _price(self, rec: tuple, ctx: float, pairs: float, pctx: float) -> Work | None:
        """The shape of token record ``rec`` with these context sums (module docstring)."""
        g0, d_sh, p_sh, shift, lean, rt, rf, rb, host = rec
        # ``Group.of``'s context fields, then ``Group.context_split``'s
        dec_ctx = ctx * d_sh
        pre_pairs = pairs * p_sh
        pre_ctx = pctx * p_sh
        cp = self.cp
        if cp > 1:
            dec_ctx = dec_ctx / cp
            pre_pairs = pre_pairs / cp
            pre_ctx = pre_ctx + shift
        g: Group | None = None
        t_a = t_i = f_a = f_i = b_a = b_i = 0.0
        if lean is not None:  # every kind's attention in closed form (no indexer)
            q, pre_tokens = g0.q_per_seq, g0.pre_tokens
            for mult, att, term, again in lean:
                if not again:  # else the kind before's figures: the same call, the same floats
                    at, af, ab = att.lean(term, dec_ctx, q, pre_tokens, pre_pairs, pre_ctx)
                t_a += at * mult
                f_a += af * mult
                b_a += ab * mult
        elif g0.tokens > 0:
            g = self._group(g0, dec_ctx, pre_pairs, pre_ctx)
            sums = attention_sums(self.attention, g)
            if sums is None:  # an attention family wrote another class: not separable
                self._off()
                return None
            t_a, t_i, f_a, f_i, b_a, b_i = sums
        # the classes' sums in ``OP_CLASSES`` order, one ``sum`` each as ``PerfModel._work``
        # (attention, indexer, the tabulated classes up to ``draft``, ``draft``, ``overhead``)
        dt = df = db = 0.0
        if self.drafter is not None and g0.tokens > 0 and g0.dec_seqs > 0:
            if g is None:
                g = self._group(g0, dec_ctx, pre_pairs, pre_ctx)
            d = LeanOps()
            self.drafter.add(d, g)
            if any(d.t[c] or d.f[c] or d.b[c] for c in _NOT_DRAFT):
                self._off()
                return None
            dt, df, db = d.t["draft"], d.f["draft"], d.b["draft"]
        mid, t_over = rt
        t = sum((t_a, t_i, *mid, dt, t_over))
        if host is not None:
            wait = max(0.0, host - t)
            if wait > 0:  # the host wait, added to ``overhead``
                t = sum((t_a, t_i, *mid, dt, t_over + wait))
        ranks = self.ranks
        return (
            t,
            sum((f_a, f_i, *rf[0], df, rf[1])) * ranks,
            sum((b_a, b_i, *rb[0], db, rb[1])) * ranks,
        )

    @staticmethod
    def _group(g0: Group, dec_ctx: float, pre_pairs: float, pre_ctx: float) -> Group:
        """The priced group: record ``g0``'s token fields with these context fields."""
        return Group(
            g0.tokens,
            g0.dec_seqs,
            dec_ctx,
            g0.q_per_seq,
            g0.pre_tokens,
            pre_pairs,
            pre_ctx,
            g0.pre_seqs,
            g0.replica_tokens,
            g0.replica_dec_seqs,
        )

    def _off(self) -> None:
        self.ok = False
        self.records.clear()
        if self.seen is not None:
            self.seen.clear()
