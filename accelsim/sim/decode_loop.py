"""The engine's hot path: decode-only iterations of one replica back to back (``run_decodes``).

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
  finish, before the room check could fail and inside one context bucket all decode the same
  batch at the same price, so they go through a shorter loop that keeps only what changes
  from step to step (the clock and the per-iteration sums; the paged block count, one block
  residue a step); token, iteration and ITL-histogram counts, whole numbers, are added once
  per run. Not with ``check_invariants`` (the recount runs after every step), and a run stops
  short of the next progress report.
"""

from __future__ import annotations

from typing import Any

from accelsim.sim.iteration_cache import QUANT_BITS

__all__ = ["decode_bucket", "run_decodes"]

_NEVER = 1 << 62  # a decode step no run reaches


def decode_bucket(ctx: int) -> tuple[int, int]:
    """The range ``[lo, hi)`` of context sums that ``accelsim.sim.iteration_cache.quantize``
    maps to the same value as ``ctx`` (exact below 256: a range of one)."""
    if ctx < 256:
        return ctx, ctx + 1
    shift = ctx.bit_length() - QUANT_BITS
    lo = (ctx >> shift) << shift
    return lo, lo + (1 << shift)


def run_decodes(rep: Any) -> tuple[float, Any] | None:
    """Decode-only iterations of the engine replica ``rep`` (see the module docstring)."""
    kv = rep.kv
    waiting = rep.waiting
    if not kv.n or waiting or kv.prefilling:
        return None
    cache = rep.cache
    eng = rep.eng
    policy = rep.policy
    mixed = rep.rules.mixed
    make_room = policy.make_room
    plain_room = rep.plain_room  # the policy's ``make_room`` is ``Preemption.make_room``
    heap = kv.heap
    kn, kd, B, cap = kv.kn, kv.kd, kv.B, kv.cap
    other = kv.prefill_blocks + kv.handoff_blocks  # nothing in this loop changes them
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
    itl_index = tl.itl_index
    bins = len(t_busy)
    bound = rep.skip_bound()
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
    runs = kn == kd and plain_room and not check  # runs of steps may apply (module docstring)
    while kv.n and not waiting:
        n = kv.n
        s = kv.step
        if runs and n == wn and lo <= kv.S + n * s < hi:
            # a run: the steps up to ``last`` need no finish, room check or new price
            last = min(next_finish - 1, B * ((cap - other - kv.Q) // n) - 1, (hi - kv.S - 1) // n)
            if progress is not None:  # stop short of the next progress report
                last = min(last, s + 4094 - (it & 4095))
            if last > s:
                dt, wf, wh = w
                ndt = n * dt
                X, y = divmod(s, B)
                decode_blocks(s)  # moves the suffix sum to the first step's residue
                ext = kv.ext
                base = kv.Q + other
                j = s
                while True:
                    end = clock + dt
                    if not end < bound:
                        planned = (dt, None)
                        break
                    clock = end
                    busy += dt
                    flops += wf
                    hbm += wh
                    frac = (base + n * X + ext) / cap
                    t0 = end - dt
                    b = int(t0 / width)
                    if b >= bins:
                        tl.grow(b)
                        bins = len(t_busy)
                    t_busy[b] += dt
                    t_kv[b] += frac * dt
                    if frac > t_peak[b]:
                        t_peak[b] = frac
                    t_dec[b] += ndt
                    j += 1
                    if j > last:
                        break
                    y += 1  # the next step's blocks: one more token per sequence
                    if y == B:
                        y = 0
                        X += 1
                        ext = 0
                    else:
                        ext += cnt[B - y]
                kv.ext, kv.ey = ext, y
                steps = j - s
                kv.step = j
                tokens += n * steps  # one token per sequence a step
                it += steps
                if steps:
                    if dt != last_dt:
                        last_dt, last_i = dt, itl_index(dt)
                    itl[last_i] += n * steps  # whole numbers: the same sum at once
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
            rep._finish_due(s, end)
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
                last_dt, last_i = dt, itl_index(dt)
            itl[last_i] += n
        it += 1
        if progress is not None and not it & 4095:
            eng.iterations = it
            progress(end, eng.done, eng.N, eng.span)
    rep.clock, rep.busy, rep.flops, rep.hbm_bytes = clock, busy, flops, hbm
    eng.tokens_out = tokens
    eng.iterations = it
    return planned
