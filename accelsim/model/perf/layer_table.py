"""The layers of one iteration priced from a table of their token-only part (``LayerTable``):
the simulator's fast path (``PerfModel.work``), exact to the last bit.

A layer is its attention (``Layer.add_attention``, into ``ATTENTION_CLASSES``: the only part
that reads the group's decode context sum, prefill pairs and prefill prior context) and the
rest (``Layer.add_rest``: hyper-connections, dense FFN or MoE block, TP all-reduces), which
reads only the group's token counts: ``tokens`` on a dense model; on a model with MoE layers
also ``dec_seqs``, ``q_per_seq`` (the low-latency share of the EP dispatch) and
``replica_tokens`` (the routed experts' load). Those counts are the key, exact floats (no
rounding, no interpolation: the grid is the set of shapes a run reaches), so a mixed batch
whose context sums are new but whose token counts were seen before prices only its attention.

Why the floats are the very ones of the full loop (``PerfModel._accumulate``): each op class
takes its terms from one part only, each part adds its terms to a fresh accumulator in
``Layer.price``'s order, and the attention classes are added up over the layer kinds, times
their counts, as ``LeanOps.merge`` adds them, so each class's total is the same sequence of
float operations; what follows the layers (LM head, PP and CP transfers, draft passes, overhead,
host wait) is priced on that total as before, and the totals sum over ``OP_CLASSES`` in the
same order. Checked, not assumed: the attention part writes into accumulators that hold only
its classes (another class raises), and a rest part is tabulated with the fields outside its
key set to NaN and must come out finite and leave the attention classes zero. When a check
fails the table switches itself off and every iteration takes the full loop (same figures,
slower). A plan with ``micro_batch_overlap`` never uses the table (the overlap mixes attention
time into each layer's exposed communication).

A key is tabulated the second time it is met (the first time, the full loop prices the
layers: tabulating costs a little more than the full loop, so a stream of shapes that never
repeat their token counts costs no more than before). Bounded: at most ``TABLE_SIZE`` keys
tabulated and as many met once (each emptied when full; a figure is a pure function of its
key, so results never depend on the bound).

For ``accelsim.model.perf.shape_table`` the table also keeps, on a model with MoE layers, the
layers' token-only part (``Layer.add_token_rest``: everything but the attention and an MoE
layer's routed part, a function of ``tokens`` alone) per token count (``token_rest_for``, at
most ``TOKENS_SIZE``, tabulated at the first meeting: the same probe and checks, and the routed
classes must stay zero).
"""

from __future__ import annotations

import math

from accelsim.model.perf.layer import ATTENTION_CLASSES, ROUTED_CLASSES, Layer
from accelsim.model.perf.ops import Group, LeanOps

__all__ = ["TABLE_SIZE", "TOKENS_SIZE", "LayerTable", "attention_sums"]

#: Most token keys a ``LayerTable`` holds (three dicts of 16 floats each, about 2.5 KB a key).
TABLE_SIZE = 1 << 13
#: Most token counts an MoE model's ``LayerTable.token_rest_for`` holds (about 1.8 KB each).
TOKENS_SIZE = 1 << 12

_NAN = math.nan


class LayerTable:
    """The layer loop of ``PerfModel`` (``groups``: ``(count, is_moe, ratio, layer)`` per layer
    kind) with its token-only part tabulated per exact token key (see the module docstring)."""

    __slots__ = ("attention", "groups", "moe", "ok", "rest", "seen", "tokens")

    def __init__(self, groups: tuple[tuple[int, bool, int, Layer], ...]) -> None:
        self.groups = groups
        self.attention = tuple((float(count), ratio, layer) for count, _, ratio, layer in groups)
        self.moe = any(is_moe for _, is_moe, _, _ in groups)
        self.rest: dict[tuple[float, ...], tuple[dict, dict, dict]] = {}
        self.seen: set[tuple[float, ...]] = set()  # keys met once, not tabulated yet
        #: an MoE model's token-only parts per token count (``token_rest_for``)
        self.tokens: dict[float, tuple[dict, dict, dict]] = {}
        self.ok = True

    def price(self, g: Group, total: LeanOps) -> bool:
        """Add the layers over group ``g`` to ``total`` (fresh: nothing added yet); False,
        with ``total`` untouched, when the full loop is to price them: the first time a key
        is met (tabulating costs a little more than the full loop, so a key is tabulated when
        it comes back), and always once the table has switched itself off."""
        if not self.ok:
            return False
        key = self._key(g)
        rest = self.rest.get(key)
        if rest is None:
            if key not in self.seen:
                if len(self.seen) >= TABLE_SIZE:
                    self.seen.clear()
                self.seen.add(key)
                return False
            rest = self._tabulate(key)
            if rest is None:
                return False
        # the attention classes as ``LeanOps.merge`` adds them up over the layer kinds (the
        # rest part leaves them 0.0, so each total is the same sequence of additions)
        sums = attention_sums(self.attention, g)
        if sums is None:
            self._off()
            return False
        t_a, t_i, f_a, f_i, b_a, b_i = sums
        # the keys keep their order (``OP_CLASSES``): the totals sum in the same order
        total.t = {**rest[0], "attention": t_a, "indexer": t_i}
        total.f = {**rest[1], "attention": f_a, "indexer": f_i}
        total.b = {**rest[2], "attention": b_a, "indexer": b_i}
        return True

    def rest_for(self, g: Group) -> tuple[dict, dict, dict] | None:
        """The rest parts of all layer kinds over group ``g``'s token counts (per-class
        seconds, FLOPs and bytes, the attention classes zero), tabulated now when new (for
        ``accelsim.model.perf.shape_table``, which keeps it per token record); None when the
        table is off. The dicts are the table's: read them, never change them."""
        if not self.ok:
            return None
        key = self._key(g)
        rest = self.rest.get(key)
        if rest is None:
            self.seen.discard(key)
            rest = self._tabulate(key)
        return rest

    def token_rest_for(self, g: Group) -> tuple[dict, dict, dict] | None:
        """The token-only parts (``Layer.add_token_rest``) of all layer kinds over group
        ``g``'s ``tokens``, per-class seconds, FLOPs and bytes with the attention and routed
        classes zero, tabulated now when new: on a dense model the whole rest (``rest_for``);
        on a model with MoE layers a table of its own per token count, which an MoE layer's
        routed part (``Layer.add_routed``) completes (``accelsim.model.perf.shape_table``).
        None when the table is off. The dicts are the table's: read them, never change them."""
        if not self.moe:
            return self.rest_for(g)
        if not self.ok:
            return None
        rest = self.tokens.get(g.tokens)
        if rest is None:
            rest = self._tabulate((g.tokens,), tokens_only=True)
        return rest

    def _key(self, g: Group) -> tuple[float, ...]:
        """The token counts the rest parts read (module docstring)."""
        if self.moe:
            return (g.tokens, g.dec_seqs, g.q_per_seq, g.replica_tokens)
        return (g.tokens,)

    def _tabulate(
        self, key: tuple[float, ...], tokens_only: bool = False
    ) -> tuple[dict, dict, dict] | None:
        """The rest parts of all layer kinds for ``key`` (fields outside it NaN), or with
        ``tokens_only`` their token-only parts for ``key = (tokens,)``; None after switching
        the table off when a check of the module docstring fails (a token-only part must also
        leave the routed classes zero)."""
        if self.moe and not tokens_only:
            tokens, dec_seqs, q_per_seq, replica = key
        else:
            tokens, dec_seqs, q_per_seq, replica = key[0], _NAN, _NAN, _NAN
        probe = Group(tokens, dec_seqs, _NAN, q_per_seq, _NAN, _NAN, _NAN, _NAN, replica, _NAN)
        acc = LeanOps()
        for count, is_moe, _, layer in self.groups:
            part = LeanOps()
            if tokens_only:
                layer.add_token_rest(part, probe, is_moe)
            else:
                layer.add_rest(part, probe, is_moe)
            acc.merge(part, float(count))
        # one sum: a NaN or an infinity anywhere makes it non-finite (the terms are >= 0)
        total = sum(acc.t.values()) + sum(acc.f.values()) + sum(acc.b.values())
        zero = ATTENTION_CLASSES + ROUTED_CLASSES if tokens_only else ATTENTION_CLASSES
        if not math.isfinite(total) or any(acc.t[c] or acc.f[c] or acc.b[c] for c in zero):
            self._off()
            return None
        table, size = (self.tokens, TOKENS_SIZE) if tokens_only else (self.rest, TABLE_SIZE)
        if len(table) >= size:
            table.clear()
        out = (acc.t, acc.f, acc.b)
        table[key[0] if tokens_only else key] = out
        return out

    def _off(self) -> None:
        self.ok = False
        self.rest.clear()
        self.seen.clear()
        self.tokens.clear()


def attention_sums(
    kinds: tuple[tuple[float, int, Layer], ...], g: Group
) -> tuple[float, float, float, float, float, float] | None:
    """The attention and indexer classes' seconds, FLOPs and bytes of group ``g`` summed over
    the layer kinds ``(count, ratio, layer)`` times their counts, as ``LeanOps.merge`` adds
    them (so each total is the same sequence of float operations as the full loop's):
    ``(t_attention, t_indexer, f_attention, f_indexer, b_attention, b_indexer)``; None when an
    attention family writes another class (not separable: the caller switches its table off)."""
    t_a = t_i = f_a = f_i = b_a = b_i = 0.0
    try:
        for mult, ratio, layer in kinds:
            a = LeanOps.__new__(LeanOps)  # only the attention classes (module docstring)
            a.t = {"attention": 0.0, "indexer": 0.0}
            a.f = {"attention": 0.0, "indexer": 0.0}
            a.b = {"attention": 0.0, "indexer": 0.0}
            layer.add_attention(a, g, ratio)
            at, af, ab = a.t, a.f, a.b
            t_a += at["attention"] * mult
            t_i += at["indexer"] * mult
            f_a += af["attention"] * mult
            f_i += af["indexer"] * mult
            b_a += ab["attention"] * mult
            b_i += ab["indexer"] * mult
    except KeyError:
        return None
    return t_a, t_i, f_a, f_i, b_a, b_i
