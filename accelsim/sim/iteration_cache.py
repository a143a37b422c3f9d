"""Iteration times per quantized batch shape, for the engine (``IterationCache``).

A replica prices each iteration it runs through its pool's ``IterationModel``; equal batches
recur (a decode batch grows by one context token per sequence a step), so the figure is kept
per shape. The ``BatchStats`` passed to the model has its context sums quantized to 8
significant bits (``quantize``: a relative error below 0.4 %), so equal quantized batches hit
the cache; a model with ``cacheable = False`` (random-service stubs) is called every iteration.
A new shape is priced from its six fields through the model's ``shape_work`` when it has one
(``accelsim.model.perf.model.PerfModel``: no ``BatchStats`` built), else through
``iteration_work`` / ``iteration_time`` of a ``BatchStats``: the same figures either way. The
lookups run every iteration, so ``quantize`` is inlined in them (the same integers).
"""

from __future__ import annotations

from accelsim.errors import AccelsimError
from accelsim.model.batch import BatchStats, IterationModel

__all__ = ["CACHE_SIZE", "QUANT_BITS", "IterationCache", "quantize"]

QUANT_BITS = 8
CACHE_SIZE = 1 << 16  # shapes per table of an ``IterationCache`` (see there)


def quantize(x: float) -> int:
    """Round ``x`` to 8 significant bits (bucket midpoint); exact below 256."""
    v = int(x)
    if v < 256:
        return v
    shift = v.bit_length() - QUANT_BITS
    return ((v >> shift) << shift) | (1 << (shift - 1))


class IterationCache:
    """Iteration times (and, when the model reports them, FLOPs and HBM bytes) per quantized
    batch. ``last`` holds the (seconds, FLOPs, bytes) of the latest priced iteration.

    Bounded, in two generations: each table (decode-only, mixed) fills a new generation of
    at most ``CACHE_SIZE`` shapes; when it is full it becomes the old one and the previous old
    one is dropped, and a shape found only in the old one moves back to the new (the shapes a
    run keeps reaching stay; the rest age out). A figure is a pure function of its quantized
    batch, so results never depend on the bound — only ``calls``, the model calls a summary
    reports, can grow. Memory stays flat in the number of requests: at most ``2 x CACHE_SIZE``
    shapes a table, about 0.25 KB each."""

    def __init__(self, model: IterationModel) -> None:
        self.model = model
        self.cacheable = bool(getattr(model, "cacheable", True))
        self.work = getattr(model, "iteration_work", None)
        #: a model that prices a batch from its six fields (``PerfModel.shape_work``)
        self.shape = getattr(model, "shape_work", None)
        self.decode: dict[tuple[int, int], tuple[float, float, float]] = {}
        self.mixed: dict[tuple, tuple[float, float, float]] = {}
        self.decode_old: dict[tuple[int, int], tuple[float, float, float]] = {}
        self.mixed_old: dict[tuple, tuple[float, float, float]] = {}
        self.calls = 0
        self.last = (0.0, 0.0, 0.0)

    def _price(self, b: BatchStats) -> tuple[float, float, float]:
        self.calls += 1
        if self.work is not None:
            dt, f, by = self.work(b)
            w = (float(dt), float(f), float(by))
        else:
            w = (float(self.model.iteration_time(b)), 0.0, 0.0)
        if not w[0] > 0:
            raise AccelsimError(f"iteration model returned {w[0]!r} s for {b}")
        return w

    def _price_shape(
        self, n: int, ctx: float, pseq: int, ptok: int, pairs: float, pctx: float
    ) -> tuple[float, float, float]:
        """``_price`` of ``BatchStats(n, ctx, pseq, ptok, pairs, pctx)`` through the model's
        ``shape_work`` (the same figures, no ``BatchStats`` built unless it is refused)."""
        self.calls += 1
        dt, f, by = self.shape(n, ctx, pseq, ptok, pairs, pctx)
        w = (float(dt), float(f), float(by))
        if not w[0] > 0:
            b = BatchStats(n, ctx, pseq, ptok, pairs, pctx)
            raise AccelsimError(f"iteration model returned {w[0]!r} s for {b}")
        return w

    def decode_time(self, n: int, ctx: int) -> float:
        if not self.cacheable:
            w = self._price(BatchStats(n, float(ctx)))
        else:
            qc = int(ctx)  # ``quantize(ctx)``, inlined (called every iteration)
            if qc >= 256:
                sh = qc.bit_length() - QUANT_BITS
                qc = ((qc >> sh) << sh) | (1 << (sh - 1))
            key = (n, qc)
            w = self.decode.get(key)
            if w is None:
                w = self.decode_old.get(key)
                if w is None:
                    if self.shape is not None:
                        w = self._price_shape(n, float(qc), 0, 0, 0.0, 0.0)
                    else:
                        w = self._price(BatchStats(n, float(qc)))
                if len(self.decode) >= CACHE_SIZE:
                    self.decode_old, self.decode = self.decode, {}
                self.decode[key] = w
        self.last = w
        return w[0]

    def time(self, n: int, ctx: int, pseq: int, ptok: int, ppairs: float, pctx: int) -> float:
        if not self.cacheable:
            w = self._price(BatchStats(n, float(ctx), pseq, ptok, float(ppairs), float(pctx)))
        else:
            # ``quantize`` of the four sums, inlined (called every iteration)
            qc, qt, qp, qx = int(ctx), int(ptok), int(ppairs), int(pctx)
            if qc >= 256:
                sh = qc.bit_length() - QUANT_BITS
                qc = ((qc >> sh) << sh) | (1 << (sh - 1))
            if qt >= 256:
                sh = qt.bit_length() - QUANT_BITS
                qt = ((qt >> sh) << sh) | (1 << (sh - 1))
            if qp >= 256:
                sh = qp.bit_length() - QUANT_BITS
                qp = ((qp >> sh) << sh) | (1 << (sh - 1))
            if qx >= 256:
                sh = qx.bit_length() - QUANT_BITS
                qx = ((qx >> sh) << sh) | (1 << (sh - 1))
            key = (n, qc, pseq, qt, qp, qx)
            w = self.mixed.get(key)
            if w is None:
                w = self.mixed_old.get(key)
                if w is None:
                    if self.shape is not None:
                        w = self._price_shape(n, float(qc), pseq, qt, float(qp), float(qx))
                    else:
                        w = self._price(BatchStats(n, float(qc), pseq, qt, float(qp), float(qx)))
                if len(self.mixed) >= CACHE_SIZE:
                    self.mixed_old, self.mixed = self.mixed, {}
                self.mixed[key] = w
        self.last = w
        return w[0]
