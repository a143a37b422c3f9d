"""The engine's hot path: decode-only iterations of one replica back to back (``run_decodes``,
bound to a replica by ``decode_runner``).

While a replica has sequences decoding and nothing waiting or prefilling, each iteration is
the same few steps of ``accelsim.sim.engine``'s ``form`` and ``apply`` (which observes it);
this loop runs them inline, for as long as that holds and each iteration ends before the skip
bound (the next arrival or KV hand-over, when known in advance: nothing else can change the
replica meanwhile). It returns the first iteration that must be yielded for, as ``form`` would,
or None when the state calls for ``form``. Nothing is priced that does not run, and every
floating-point sum (clock, busy time, FLOPs and bytes, the timeline's bins) is made once per
iteration, as ``apply`` makes it, so the records and model calls equal the step-by-step run's
(``event_skipping=False``) bit for bit; a timeline bin that several replicas add to may differ
from it in the last digits only, since a replica running ahead adds its iterations before the
others' (floating-point sums in another order).

What makes a step cheap (each an exact shortcut, not an approximation):

- the preemption check before a step is skipped when the cache surely has room for it
  (``PagedKV.surely_fits_at``, the first test of ``Preemption.make_room``) and the policy uses
  that plain ``make_room``; otherwise the policy is asked as ``form`` asks it;
- the iteration time is looked up again only when the batch size or the quantization bucket
  of its context (``decode_bucket``, the range of contexts ``quantize`` maps to one value)
  changes: between two steps of this loop nothing else prices, so the cache would return the
  figure just read;
- the next finishing step (the top of the finish heap) is read once and again after a finish;
- counters (clock, busy seconds, FLOPs, bytes, tokens, iterations) are locals written back on
  the way out; the timeline's bins are updated inline (``Timeline.add``'s sums);
- runs: with one token per decode step and the plain ``make_room``, the steps before the next
  finish and before the room check could fail all decode the same batch, so they go through
  a shorter loop that keeps only what changes from step to step (the clock and the
  per-iteration sums, the current timeline bin's sums held in locals; the paged block count,
  one block residue a step); a step that enters the next context bucket is priced inside the
  run, exactly where the step-by-step loop would price it (so the cache sees the same
  look-ups); token, iteration and ITL-histogram counts, whole numbers, are added once per run
  and price. Inside a run the block count only grows (a whole number kept step by step), so
  a bin's KV peak is its last step's fraction, taken when the run leaves the bin. Not with
  ``check_invariants`` (the recount runs after every step), and a run stops short of the next
  progress report;
- an iteration time's ITL bin (a logarithm) is remembered in a bounded memo shared by the
  engine's loops (``itl_binner``): a time repeats whenever a price is read from the cache;
- what stays fixed through a simulation (the replica's cache, policy, limits, the timeline's
  columns) is bound once per replica (``decode_runner`` returns its ``run_decodes``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from accelsim.sim.iteration_cache import QUANT_BITS

__all__ = ["ITL_MEMO", "decode_bucket", "decode_runner", "itl_binner"]

_NEVER = 1 << 62  # a decode step no run reaches
ITL_MEMO = 8192  # iteration times whose ITL bin the loops remember (``itl_binner``)


def decode_bucket(ctx: int) -> tuple[int, int]:
    """The range ``[lo, hi)`` of context sums that ``accelsim.sim.iteration_cache.quantize``
    maps to the same value as ``ctx`` (exact below 256: a range of one)."""
    if ctx < 256:
        return ctx, ctx + 1
    shift = ctx.bit_length() - QUANT_BITS
    lo = (ctx >> shift) << shift
    return lo, lo + (1 << shift)


def itl_binner(tl: Any, bins: dict[float, int]) -> Callable[[float], int]:
    """``tl.itl_index`` (the ITL histogram bin of an iteration time) that also records its
    answer in ``bins``, the engine's memo the loops read first (``bins.get(dt) or
    itl_bin(dt)``: an iteration time repeats whenever a price is read again from the cache;
    bin 0, a time under a microsecond, is simply computed again); at most ``ITL_MEMO`` times
    are kept, then the memo starts afresh."""
    itl_index = tl.itl_index

    def itl_bin(dt: float) -> int:
        i = itl_index(dt)
        if len(bins) >= ITL_MEMO:
            bins.clear()
        bins[dt] = i
        return i

    return itl_bin


def decode_runner(rep: Any) -> Callable[[], tuple[float, Any] | None]:
    """``run_decodes`` for the engine replica ``rep``: what stays fixed through a simulation
    (its cache, policy, scheduler limits, the timeline's columns) is bound once, here."""
    kv = rep.kv
    waiting = rep.waiting
    cache = rep.cache
    eng = rep.eng
    policy = rep.policy
    mixed = rep.rules.mixed
    make_room = policy.make_room
    plain_room = rep.plain_room  # the policy's ``make_room`` is ``Preemption.make_room``
    skip_bound = rep.skip_bound
    finish_due = rep._finish_due
    heap = kv.heap
    kn, kd, B, cap = kv.kn, kv.kd, kv.B, kv.cap
    cacheable = cache.cacheable
    decode_time = cache.decode_time
    decode_blocks = kv.decode_blocks
    cnt = kv.cnt
    check = eng.check
    progress = eng.progress
    tl = eng.timeline
    width = tl.width
    t_busy, t_queue, t_kv, t_peak, t_dec, itl = (
        tl.busy,
        tl.queue,
        tl.kv,
        tl.kv_peak,
        tl.decoding,
        tl.itl_hist,
    )
    itl_bins = eng.itl_bins
    itl_bin = itl_binner(tl, itl_bins)
    runs = kn == kd and plain_room and not check  # runs of steps may apply (module docstring)

    def run_decodes() -> tuple[float, Any] | None:
        """Decode-only iterations of ``rep`` (see the module docstring)."""
        if not kv.n or waiting or kv.prefilling:
            return None
        other = kv.prefill_blocks + kv.handoff_blocks  # nothing in this loop changes them
        bins = len(t_busy)
        bound = skip_bound()
        clock, busy, flops, hbm = rep.clock, rep.busy, rep.flops, rep.hbm_bytes
        tokens = eng.tokens_out
        it = eng.iterations
        next_finish = heap[0][0] if heap else _NEVER
        wn = -1  # batch size, context bucket and figure of the last priced step
        lo = hi = 0
        w: tuple[float, float, float] = (0.0, 0.0, 0.0)
        last_dt = -1.0
        last_i = 0
        planned = None
        while kv.n and not waiting:
            n = kv.n
            s = kv.step
            if runs and n == wn and lo <= kv.S + n * s < hi:
                # a run: the steps up to ``stop`` need no finish or room check; a step past the
                # context bucket (``edge``) is priced as the step-by-step loop prices it
                S = kv.S
                stop = min(next_finish - 1, B * ((cap - other - kv.Q) // n) - 1)
                if progress is not None:  # stop short of the next progress report
                    stop = min(stop, s + 4094 - (it & 4095))
                edge = (hi - S - 1) // n
                last = min(stop, edge)
                if last > s:
                    dt, wf, wh = w
                    ndt = n * dt
                    X, y = divmod(s, B)
                    decode_blocks(s)  # moves the suffix sum to the first step's residue
                    base = kv.Q + other
                    used = base + n * X + kv.ext  # the step's blocks, kept step by step
                    j = s
                    seg = s  # first step at the current price
                    cb = -1  # the timeline bin held in locals (``ab``, ``ak``, ``ap``, ``ad``)
                    ab = ak = ap = ad = frac = 0.0
                    while True:
                        end = clock + dt
                        if not end < bound:
                            planned = (dt, None)
                            break
                        b = int((end - dt) / width)
                        if b != cb:
                            if cb >= 0:
                                if frac > ap:  # the bin's last step: its highest fraction
                                    ap = frac
                                t_busy[cb], t_kv[cb], t_peak[cb], t_dec[cb] = ab, ak, ap, ad
                            if b >= bins:
                                tl.grow(b)
                                bins = len(t_busy)
                            cb = b
                            ab, ak, ap, ad = t_busy[b], t_kv[b], t_peak[b], t_dec[b]
                        clock = end
                        busy += dt
                        flops += wf
                        hbm += wh
                        frac = used / cap
                        ab += dt
                        ak += frac * dt
                        ad += ndt
                        j += 1
                        if j > last:
                            if j > stop:
                                break
                            # the next bucket of context sums: its price, as the loop below asks
                            if dt != last_dt:
                                last_dt, last_i = dt, itl_bins.get(dt) or itl_bin(dt)
                            itl[last_i] += n * (j - seg)  # whole numbers: the same sum at once
                            seg = j
                            ctx = S + n * j
                            decode_time(n, ctx)
                            w = cache.last
                            lo, hi = decode_bucket(ctx)
                            dt, wf, wh = w
                            ndt = n * dt
                            edge = (hi - S - 1) // n
                            last = min(stop, edge)
                        y += 1  # the next step's blocks: one more token per sequence
                        if y == B:
                            y = 0
                            X += 1
                            used = base + n * X
                        else:
                            used += cnt[B - y]
                    if cb >= 0:
                        if frac > ap:
                            ap = frac
                        t_busy[cb], t_kv[cb], t_peak[cb], t_dec[cb] = ab, ak, ap, ad
                    kv.ext, kv.ey = used - base - n * X, y
                    steps = j - s
                    kv.step = j
                    tokens += n * steps  # one token per sequence a step
                    it += steps
                    if j > seg:
                        if dt != last_dt:
                            last_dt, last_i = dt, itl_bins.get(dt) or itl_bin(dt)
                        itl[last_i] += n * (j - seg)
                    if planned is not None:
                        break
                    continue
            x = (s + 1) * kn // kd - 1  # tokens held past the offsets after the step
            if not (plain_room and kv.Q + n * (x // B + 1) + other <= cap):
                if mixed:  # ``_form``: room for the step before any prefill is considered
                    make_room(waiting)
                    if waiting:
                        break
                make_room(waiting)
                n = kv.n
            cum = s * kn // kd
            ctx = kv.S + n * cum
            if not (n == wn and lo <= ctx < hi):
                decode_time(n, ctx)
                w = cache.last
                if cacheable:
                    wn = n
                    lo, hi = decode_bucket(ctx)
            dt = w[0]
            end = clock + dt
            if not end < bound:
                planned = (dt, None)
                break
            clock = end
            # ``apply`` of a decode-only iteration
            busy += dt
            flops += w[1]
            hbm += w[2]
            tokens += n * (x + 1 - cum)
            kv.step = s + 1
            if next_finish <= s:
                finish_due(s, end)
                next_finish = heap[0][0] if heap else _NEVER
            # ``apply``'s observation: the timeline's sums as ``Timeline.add`` makes them
            if check:
                kv.check()
            if kv.n:  # ``PagedKV.decode_blocks(x)``; its suffix sum moves one bin a step
                X, y = divmod(x, B)
                ey = kv.ey
                if y == ey + 1:
                    kv.ext += cnt[B - y]
                    kv.ey = y
                elif y != ey:
                    decode_blocks(x)
                frac = (kv.Q + kv.n * X + kv.ext + other) / cap
            else:
                frac = other / cap
            t0 = end - dt
            b = int(t0 / width)
            if b >= bins:
                tl.grow(b)
                bins = len(t_busy)
            t_busy[b] += dt
            if waiting:
                t_queue[b] += len(waiting) * dt
            t_kv[b] += frac * dt
            if frac > t_peak[b]:
                t_peak[b] = frac
            if n:
                t_dec[b] += n * dt
                if dt != last_dt:
                    last_dt, last_i = dt, itl_bins.get(dt) or itl_bin(dt)
                itl[last_i] += n
            it += 1
            if progress is not None and not it & 4095:
                eng.iterations = it
                progress(end, eng.done, eng.N, eng.span)
        rep.clock, rep.busy, rep.flops, rep.hbm_bytes = clock, busy, flops, hbm
        eng.tokens_out = tokens
        eng.iterations = it
        return planned

    return run_decodes
