"""The engine's other hot path: iterations of a chunked-prefill replica with prefill work, back
to back (``mixed_runner``, which binds a replica's ``run_mixed``).

While a replica under a mixed policy (``accelsim.sim.admission.Policy.mixed``: decodes and
prefill chunks share an iteration) has requests waiting or prefilling, each iteration is
``accelsim.sim.engine``'s ``_form`` (room for the decodes, the running prefills' chunks, then
admissions, then the price), then ``apply`` (tokens, finishes, first tokens, joins) and
``Timeline.add``. This loop runs them inline, for as long as that holds and each iteration
ends before the skip bound (the next arrival, when known in advance: nothing else can change
the replica meanwhile), keeping the counters (clock, busy seconds, FLOPs, bytes, tokens,
iterations) in locals written back on the way out; what stays fixed through a simulation is
bound once per replica (``mixed_runner``), not at every call. It makes the same decisions in
the same order as ``form`` and ``apply`` (the preemption policy's hooks are called where
``_form`` and ``_admit`` call them, under the same flags) and every floating-point sum once per
iteration as ``apply`` and ``Timeline.add`` make it, so the records, the ITL histogram and the
model calls equal the step-by-step run's (``event_skipping=False``, which forms and applies
every iteration through the engine's own methods: the reference the tests compare with); a
timeline bin several replicas add to may differ from it in the last digits only (a replica
running ahead adds its iterations before the others').

``run_mixed(waited)`` first applies ``waited``, the iteration the replica has just yielded
for (seconds, plan, priced work), as ``apply`` would; it returns the first iteration that must
be yielded for, as ``form`` would (the pool's cache ``last`` then holds its price), ``IDLE``
when nothing can run (``form`` would return None), or None once nothing waits or prefills (the
decode-only loop, ``accelsim.sim.decode_loop``, or ``form`` takes over). Used on replicas that
serve both phases (``role == "both"``; a P/D prefill replica hands requests over, which
``apply`` does) and only with event skipping.

The shortcuts (each exact): the room check before the decodes is skipped when the cache surely
has room (``PagedKV.surely_fits_at``) and the policy uses the plain ``make_room``; the decoding
set's block count moves its residue suffix one bin inline when that is all a step needs (as
``PagedKV.decode_blocks`` does); the ITL bin is recomputed only when the iteration time
changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from accelsim.sim.decode_loop import itl_binner

__all__ = ["IDLE", "mixed_runner"]

#: ``run_mixed``'s answer when the replica has nothing to run (``form`` would return None).
IDLE: Final = (0.0, "idle")
_NO_CHUNKS: Final[tuple[()]] = ()


def mixed_runner(
    rep: Any,
) -> Callable[[tuple[float, Any, tuple[float, float, float]] | None], tuple[float, Any] | None]:
    """``run_mixed`` for the engine replica ``rep``: what stays fixed through a simulation
    (its cache, policy, scheduler limits, the timeline's columns) is bound once, here."""
    kv = rep.kv
    waiting = rep.waiting
    prefilling = kv.prefilling
    skip_bound = rep.skip_bound
    eng = rep.eng
    req = rep.req
    cache = rep.cache
    policy = rep.policy
    sc = rep.sc
    make_room = policy.make_room
    plain_room = rep.plain_room
    opens_round = rep.opens_round
    asks = rep.asks_admits
    uses_watermark = rep.uses_watermark
    max_tokens = sc.max_batched_tokens
    chunk_cap = rep.chunk_cap  # one prompt's chunk, at most (``SchedulerConfig.chunk_tokens``)
    max_seqs = sc.max_seqs
    running = kv.running
    heap = kv.heap
    kn, kd, B, cap = kv.kn, kv.kd, kv.B, kv.cap
    cnt = kv.cnt
    decode_blocks = kv.decode_blocks
    price = cache.time
    decode_time = cache.decode_time
    prompt_eff, out_left, cached, ready = req.prompt_eff, req.out_left, req.cached, req.ready
    scheduled_at = eng.scheduled_at
    first_token_at = eng.first_token_at
    finish = rep.finish
    finish_due = rep._finish_due
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

    def run_mixed(
        waited: tuple[float, Any, tuple[float, float, float]] | None = None,
    ) -> tuple[float, Any] | None:
        """Iterations with prefill work of ``rep``, after applying ``waited`` (seconds, plan,
        priced work) when given: the iteration it waited for, as ``apply`` would (see the
        module docstring)."""
        if waited is None and not (waiting or prefilling):
            return None
        bins = len(t_busy)
        bound = skip_bound()
        clock, busy, flops, hbm = rep.clock, rep.busy, rep.flops, rep.hbm_bytes
        tokens = eng.tokens_out
        it = eng.iterations
        last_dt = -1.0
        last_i = 0
        planned: tuple[float, Any] | None = None
        applying = waited is not None
        if applying:  # the iteration ``rep`` waited for, ending at its clock
            dt, plan, w = waited
            chunks, with_decode = (_NO_CHUNKS, True) if plan is None else plan
            s = kv.step
            cum = s * kn // kd
            cum_next = (s + 1) * kn // kd
            end = clock
        while True:
            if applying:
                # ---- ``apply``
                busy += dt
                flops += w[1]
                hbm += w[2]
                n_dec = 0
                if with_decode:
                    n_dec = kv.n
                    tokens += n_dec * (cum_next - cum)
                    kv.step = s + 1
                    if heap and heap[0][0] <= s:
                        finish_due(s, end)
                for sid, _prior, _tok in chunks:
                    done = prefilling[sid]
                    if done < prompt_eff[sid]:
                        continue  # more chunks to go
                    del prefilling[sid]
                    del running[sid]
                    kv.prefill_blocks -= -(-done // B)
                    if first_token_at[sid] != first_token_at[sid]:
                        first_token_at[sid] = end
                    tokens += 1
                    left = int(out_left[sid]) - 1
                    out_left[sid] = left
                    if left == 0:
                        finish(sid, end)
                    else:
                        kv.join(sid, done, left)
                if check:
                    kv.check()
                used = kv.prefill_blocks + kv.handoff_blocks
                n = kv.n
                if n:
                    x = (cum_next if with_decode else cum) - 1  # ``kv.step``'s tokens, less one
                    X, y = divmod(x, B)
                    ey = kv.ey
                    if y == ey + 1:
                        kv.ext += cnt[B - y]
                        kv.ey = y
                    elif y != ey:
                        decode_blocks(x)
                    used += kv.Q + n * X + kv.ext
                # ``Timeline.add``
                frac = used / cap
                b = int((end - dt) / width)
                if b >= bins:
                    tl.grow(b)
                    bins = len(t_busy)
                t_busy[b] += dt
                if waiting:
                    t_queue[b] += len(waiting) * dt
                t_kv[b] += frac * dt
                if frac > t_peak[b]:
                    t_peak[b] = frac
                if n_dec:
                    t_dec[b] += n_dec * dt
                    if dt != last_dt:
                        last_dt, last_i = dt, itl_bins.get(dt) or itl_bin(dt)
                    itl[last_i] += n_dec
                it += 1
                if progress is not None and not it & 4095:
                    eng.iterations = it
                    eng.tokens_out = tokens
                    progress(end, eng.done, eng.N, eng.span)
                applying = False
            if not (waiting or prefilling):
                break
            # ---- ``_form``: room for this step's decodes first
            n = kv.n
            s = kv.step
            cum = s * kn // kd
            cum_next = (s + 1) * kn // kd
            if n:
                x = cum_next - 1
                if not (
                    plain_room
                    and kv.Q + n * (x // B + 1) + kv.prefill_blocks + kv.handoff_blocks <= cap
                ):
                    make_room(waiting)
                    n = kv.n
            # ---- ``_prefill``: the running prefills' chunks (FCFS), then admissions
            if n:
                X, y = divmod(cum_next - 1, B)
                ey = kv.ey
                if y == ey + 1:
                    kv.ext += cnt[B - y]
                    kv.ey = y
                elif y != ey:
                    decode_blocks(cum_next - 1)
                dec = kv.Q + n * X + kv.ext
            else:
                dec = 0
            free = cap - (dec + kv.prefill_blocks + kv.handoff_blocks)
            budget = max_tokens - n
            chunks: list[tuple[int, int, int]] = []
            for sid, done in prefilling.items():
                if budget <= 0:
                    break
                tok = min(int(prompt_eff[sid]) - done, chunk_cap)
                if tok > budget:
                    tok = budget
                need = -(-(done + tok) // B) + -done // B  # ``blocks_for`` of both ends
                if need > free:
                    break
                free -= need
                budget -= tok
                chunks.append((sid, done, tok))
            # ``_admit`` (chunked, admitting while running: the ``max_seqs`` limit)
            wm = kv.watermark if running and uses_watermark else 0
            if opens_round:
                policy.open_round()
            grow = cum_next - cum
            while waiting and len(running) < max_seqs:
                sid = waiting[0]
                if ready[sid]:  # KV already here: it joins the decodes
                    need = -(-(int(prompt_eff[sid]) + grow) // B)
                    if need > free - wm or not policy.admits(sid, need, free, True):
                        break
                    free -= need
                    waiting.popleft()
                    if scheduled_at[sid] != scheduled_at[sid]:
                        scheduled_at[sid] = clock
                    kv.join(sid, int(prompt_eff[sid]), int(out_left[sid]))
                    continue
                if budget <= 0:
                    break
                prior = int(cached[sid])
                tok = min(int(prompt_eff[sid]) - prior, chunk_cap)
                if tok > budget:
                    tok = budget
                need = -(-(prior + tok) // B)
                if need > free - wm or (asks and not policy.admits(sid, need, free, False)):
                    break
                free -= need
                budget -= tok
                waiting.popleft()
                if scheduled_at[sid] != scheduled_at[sid]:  # NaN: first admission
                    scheduled_at[sid] = clock
                running[sid] = None
                prefilling[sid] = prior
                kv.prefill_blocks += -(-prior // B)
                chunks.append((sid, prior, tok))
            if chunks:
                pt = 0
                pairs = 0.0
                pctx = 0
                for sid, prior, tok in chunks:
                    kv.prefill_blocks += -(-(prior + tok) // B) + -prior // B
                    prefilling[sid] = prior + tok
                    pt += tok
                    pairs += tok * (prior + (tok + 1) / 2)
                    pctx += prior
                n = kv.n
                with_decode = n > 0
                dt = price(n, kv.S + n * cum if n else 0, len(chunks), pt, pairs, pctx)
            elif kv.n:  # ``_form``'s decode-only iteration
                make_room(waiting)
                n = kv.n
                s = kv.step
                cum = s * kn // kd
                cum_next = (s + 1) * kn // kd
                dt = decode_time(n, kv.S + n * cum)
                with_decode = True
            elif prefilling:  # ``form``: partial prefills block each other: free the latest
                waiting.appendleft(kv.evict_latest())
                continue
            else:
                planned = IDLE
                break
            w = cache.last
            end = clock + dt
            if not end < bound:
                planned = (dt, (chunks, with_decode) if chunks else None)
                break
            clock = end
            applying = True
        rep.clock, rep.busy, rep.flops, rep.hbm_bytes = clock, busy, flops, hbm
        eng.tokens_out = tokens
        eng.iterations = it
        return planned

    return run_mixed
