"""The serving simulation: replicas, router, paged KV cache, P/D links — ``simulate()``.

This is the only module that imports simpy. Replicas are simpy processes that run iterations
back to back; each iteration's duration comes from an ``accelsim.model.batch.IterationModel`` for
the batch the scheduler policy (``accelsim.sim.admission``) formed. The engine knows nothing about
hardware. Time is in seconds.

Model of one replica (assumptions):

- An iteration that completes a prompt's prefill emits that request's first output token
  (TTFT ends there). Each decode iteration emits ``tokens_per_decode_step`` tokens per
  sequence (speculative decoding / MTP); a fractional rate is realised deterministically: the
  replica's decode step ``s`` emits ``floor((s+1)k) - floor(sk)`` tokens for every sequence, with
  ``k`` held as a fraction of denominator <= 1000.
- Paged KV cache of ``kv_tokens // block_size`` blocks (``accelsim.sim.kv.PagedKV``: what a
  sequence holds, and prefix-cache hits, which skip prefill compute but still occupy blocks).
- With DP attention (``kv_tokens_per_seq`` below the replica total), the replica's cache is
  treated as one pool, and a request must fit in one group's share.
- The batch is formed by the scheduler policy (``accelsim.sim.admission.Policy``: continuous,
  chunked prefill or static); what happens under KV pressure — which requests admission
  lets in beyond free blocks and whom a decode step evicts — is asked of the scheduler's
  preemption policy (``accelsim.sim.admission.Preemption``: ``recompute``, ``retract-sglang``,
  ``no-evict``), one object per replica. Preemptions are counted per request.

Performance (why an iteration costs O(log n), not O(n)): decoding sequences are never looped
over. ``PagedKV`` keeps aggregates (exact paged block count in O(block_size)) and a heap of
(decode step at which a sequence finishes). Iteration times are cached: the ``BatchStats``
passed to the model has its context sums quantized to 8 significant bits (a relative error
below 0.4 %), so equal quantized batches hit the cache; a model with ``cacheable = False``
(random-service stubs) is called every iteration. (``retract-sglang`` walks the running set at
each admission attempt and ``no-evict`` once per admission round: O(n), only there.)

Event skipping: when arrivals are known in advance (open loop, co-located serving), a replica
computes iterations without yielding to simpy while they end before the next arrival, and
yields once; the router never observes a replica inside such a window, so results equal the
step-by-step run (``event_skipping=False``), which the tests check. Decode-only iterations in
such a window run in ``accelsim.sim.decode_loop`` (one inlined loop, and shorter runs of steps
that share a batch), a chunked-prefill replica's iterations with prefill work in
``accelsim.sim.mixed_loop`` (which also applies the iteration a replica yielded for).

Memory: the per-request record table (``RequestRecords``) is allocated once, at the start,
and filled in place through its column views; per request the engine keeps only that table,
the scheduling columns of ``RequestState`` and the routed work, so memory beyond the records
is flat in the number of requests (the pricing caches are bounded).

Pipeline parallelism (a model with ``pipeline_stages`` ``pp`` > 1): a replica keeps ``pp``
micro-batches in flight, one per stage, as vLLM's pipeline-parallel engine does with one
scheduler per "virtual engine" (vLLM V0 ``LLMEngine``: ``pipeline_parallel_size`` schedulers,
each with its own share of the KV blocks). So each replica is simulated as ``pp`` micro-batch
streams, each a scheduler of its own over ``1/pp`` of the replica's KV cache (a request must fit
in one share), each iteration paying the whole pipeline (the model prices all stages and the
hops between them: the latency of one micro-batch). Assumptions: balanced stages, so in steady
state every stage works on a different micro-batch and the streams run concurrently without
waiting for each other (no bubble is charged; with fewer busy streams than stages, stages sit
idle, which the per-stream busy time shows); the router sees every stream as a replica (the
streams of replica ``r`` are ``r, r + R, r + 2R, ...`` of the pool's ``R`` replicas, so round
robin spreads requests over replicas first) and records name the physical replica; each stream
counts ``1/pp`` of the replica's cards in busy time and energy, and the timeline's busy and
KV columns are over streams. ``pp = 1`` is the plain replica.

P/D disaggregation: a prefill-pool replica hands each prefilled request to a decode-pool
replica (chosen by the router); the KV (``prompt * kv_bytes_per_token``) crosses the prefill
replica's link FIFO at ``link_bandwidth`` after ``link_latency``; the prefill replica holds the
blocks until the transfer ends; the request then waits in the decode replica's queue for
blocks (its KV assumed parked in host memory meanwhile).
"""

from __future__ import annotations

import heapq
import math
import time as _time
from collections import deque
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np
import simpy

from accelsim.errors import AccelsimError
from accelsim.sim.admission import Preemption
from accelsim.sim.decode_loop import decode_runner
from accelsim.sim.iteration_cache import IterationCache
from accelsim.sim.kv import PagedKV, RequestState
from accelsim.sim.loads import ReplicaLoads
from accelsim.sim.metrics import REASONS, RequestRecords, SimResult, Timeline, summarize
from accelsim.sim.mixed_loop import IDLE, mixed_runner
from accelsim.sim.pools import KVTransfer, Pool, stages_of, stream_cards
from accelsim.sim.traffic import Requests

__all__ = ["ROUTERS", "KVTransfer", "Pool", "simulate"]

ROUTERS = ("round_robin", "least_outstanding_tokens", "power_of_two")
_INF = math.inf


class _Replica:
    """One replica's scheduler and simpy process (see the module docstring)."""

    def __init__(self, eng: _Engine, idx: int, pool: Pool, role: str) -> None:
        self.eng = eng
        self.req = eng.req
        self.idx = idx  # index in the record's ``replica`` column
        self.role = role  # "both", "prefill", "decode"
        sc = pool.scheduler
        self.sc = sc
        self.rules = sc.rules
        self.chunk_cap = sc.chunk_tokens or sc.max_batched_tokens  # one prompt's chunk, at most
        self.cache = eng.caches[id(pool)]
        k = Fraction(float(pool.model.tokens_per_decode_step)).limit_denominator(1000)
        if k < 1:
            raise AccelsimError(f"tokens_per_decode_step must be >= 1 (got {float(k)})")
        kv_tokens = pool.kv_tokens // stages_of(pool)  # this micro-batch stream's share
        self.kv = PagedKV(eng.req, kv_tokens, sc.block_size, sc.kv_watermark, k)
        self.policy = sc.preemption_policy(self.kv, eng.req, prefill_only=role == "prefill")
        # the hooks the policy leaves as ``Preemption``'s are skipped on the hot paths: no-ops,
        # and a ``make_room`` that returns at once while the step surely fits
        kind = type(self.policy)
        self.plain_room = kind.make_room is Preemption.make_room
        self.opens_round = kind.open_round is not Preemption.open_round
        self.on_finish = kind.finished is not Preemption.finished
        self.asks_admits = kind.admits is not Preemption.admits
        self.uses_watermark = self.policy.watermark  # fixed per policy and pool role
        self.waiting: deque[int] = deque()
        self.loads = ReplicaLoads(1, False)  # outstanding tokens of the pool's replicas (shared)
        self.pos = 0
        self.busy = 0.0
        self.flops = 0.0  # FLOPs and HBM bytes of the iterations run (MFU / MBU)
        self.hbm_bytes = 0.0
        self.clock = 0.0
        self.link_free_at = 0.0
        self.pending_transfers: deque[float] = deque()
        self.wake: Any = None
        self.sleeping = False

    # ---- forming one iteration ---------------------------------------------------------
    def form(self) -> tuple[float, Any] | None:
        """Choose the next iteration; returns (seconds, plan) or None when idle."""
        kv = self.kv
        while True:
            planned = self._form()
            if planned is not None or not kv.prefilling or kv.n:
                return planned
            # partial prefills hold blocks that block each other: free the latest (vLLM v1)
            self.waiting.appendleft(kv.evict_latest())

    def _form(self) -> tuple[float, Any] | None:
        rules = self.rules
        kv = self.kv
        waiting = self.waiting
        if rules.mixed and kv.n:
            x = (kv.step + 1) * kv.kn // kv.kd - 1  # ``make_room``'s first check, inline
            if not (self.plain_room and kv.surely_fits_at(x)):
                self.policy.make_room(waiting)
        if (waiting or kv.prefilling) and (rules.admit_while_running or not kv.running):
            planned = self._prefill()
            if planned is not None:
                return planned
        if kv.n:
            self.policy.make_room(waiting)
            n = kv.n
            ctx = kv.S + n * (kv.step * kv.kn // kv.kd)
            return self.cache.decode_time(n, ctx), None
        return None

    def _prefill(self) -> tuple[float, Any] | None:
        """An iteration with prefill chunks — partial prefills continue first (FCFS), then
        waiting requests join — or None when no chunk fits."""
        rules = self.rules
        kv = self.kv
        cum = kv.step * kv.kn // kv.kd  # kv.cum(step), inline on this hot path
        cum_next = (kv.step + 1) * kv.kn // kv.kd
        if rules.mixed and kv.n:
            dec = kv.decode_blocks(cum_next - 1)
        else:
            dec = kv.decode_blocks(cum - 1) if kv.n else 0
        free = kv.cap - (dec + kv.prefill_blocks + kv.handoff_blocks)
        budget = self.sc.max_batched_tokens
        if rules.mixed:
            budget -= kv.n
        chunks: list[tuple[int, int, int]] = []  # (sid, prior, tokens)
        prompt_eff = self.req.prompt_eff
        for sid, done in kv.prefilling.items():
            if budget <= 0:
                break
            tok = min(int(prompt_eff[sid]) - done, budget, self.chunk_cap)
            need = kv.blocks_for(done + tok) - kv.blocks_for(done)
            if need > free:
                break
            free -= need
            budget -= tok
            chunks.append((sid, done, tok))
        # in a mixed iteration a request whose KV is here decodes at once: count that growth
        self._admit(chunks, free, budget, cum_next - cum if rules.mixed else 0)
        if not chunks:
            return None
        pt = 0
        pairs = 0.0
        pctx = 0
        prefilling = kv.prefilling
        for sid, prior, tok in chunks:
            # the chunk's blocks are allocated while it computes (``blocks_for``, inline)
            kv.prefill_blocks += kv.blocks_for(prior + tok) - kv.blocks_for(prior)
            prefilling[sid] = prior + tok
            pt += tok
            pairs += tok * (prior + (tok + 1) / 2)
            pctx += prior
        with_decode = rules.mixed and kv.n > 0
        n = kv.n if with_decode else 0
        ctx = kv.S + n * cum if n else 0
        dt = self.cache.time(n, ctx, len(chunks), pt, pairs, pctx)
        return dt, (chunks, with_decode)

    def _admit(self, chunks: list[tuple[int, int, int]], free: int, budget: int, grow: int) -> None:
        """Admit waiting requests, in order, while their blocks fit ``free`` (less the
        watermark), their prompt tokens the ``budget`` and the preemption policy agrees; a
        request needing a prefill gets a chunk in ``chunks``."""
        rules = self.rules
        kv = self.kv
        req = self.req
        policy = self.policy
        waiting = self.waiting
        running = kv.running
        scheduled_at = self.eng.scheduled_at
        t = self.clock
        # the watermark keeps room for running sequences: it only gates new admissions
        wm = kv.watermark if running and self.uses_watermark else 0
        if self.opens_round:
            policy.open_round()
        max_seqs = self.sc.max_seqs if rules.admit_while_running else self.sc.batch_size
        asks = self.asks_admits
        while waiting and len(running) < max_seqs:
            sid = waiting[0]
            if req.ready[sid]:  # KV already here (P/D decode pool): it joins the decodes
                need = kv.blocks_for(int(req.prompt_eff[sid]) + grow)
                if need > free - wm or not policy.admits(sid, need, free, True):
                    break
                free -= need
                waiting.popleft()
                if scheduled_at[sid] != scheduled_at[sid]:  # NaN: first admission
                    scheduled_at[sid] = t
                kv.join(sid, int(req.prompt_eff[sid]), int(req.out_left[sid]))
                continue
            total = int(req.prompt_eff[sid])
            prior = int(req.cached[sid])
            if rules.chunked:
                if budget <= 0:
                    break
                tok = min(total - prior, budget, self.chunk_cap)
                need = kv.blocks_for(prior + tok)
            else:
                tok = total - prior
                if tok > budget and chunks:
                    break
                if rules.reserve_output:
                    need = kv.blocks_for(total + int(req.out_left[sid]) - 1)
                else:
                    need = kv.blocks_for(total)
            if need > free - wm or (asks and not policy.admits(sid, need, free, False)):
                break
            free -= need
            budget -= tok
            waiting.popleft()
            if scheduled_at[sid] != scheduled_at[sid]:
                scheduled_at[sid] = t
            running[sid] = None
            kv.prefilling[sid] = prior
            kv.prefill_blocks += kv.blocks_for(prior)
            chunks.append((sid, prior, tok))

    # ---- applying one iteration --------------------------------------------------------
    def _finish_due(self, step: int, t: float) -> None:
        """Finish, at ``t``, every running sequence whose last token decode step ``step``
        emitted (the heap of expected finishing steps; stale entries of preempted sequences
        are skipped)."""
        kv = self.kv
        heap, running = kv.heap, kv.running
        while heap and heap[0][0] <= step:
            _, join, sid = heapq.heappop(heap)
            st = running.get(sid)
            if st is None or st.serial != join:
                continue  # stale entry of a preempted sequence
            del running[sid]
            kv.leave(st)
            self.req.out_left[sid] = 0
            self.finish(sid, t)

    def apply(
        self, dt: float, plan: Any, work: tuple[float, float, float] = (0.0, 0.0, 0.0)
    ) -> None:
        """Account one iteration that ended at ``self.clock`` (``work``: the priced iteration's
        seconds, FLOPs and HBM bytes, ``IterationCache.last``), then observe it: the timeline
        (``Timeline.add``), the invariants when checked, the progress callback."""
        eng = self.eng
        kv = self.kv
        t = self.clock
        self.busy += dt
        self.flops += work[1]
        self.hbm_bytes += work[2]
        n_dec = 0
        if plan is None or plan[1]:
            n_dec = kv.n
            s = kv.step
            emitted = ((s + 1) * kv.kn // kv.kd) - (s * kv.kn // kv.kd)
            eng.tokens_out += n_dec * emitted
            kv.step = s + 1
            heap = kv.heap
            if heap and heap[0][0] <= s:
                self._finish_due(s, t)
        if plan is not None:
            req = self.req
            prompt_eff, out_left = req.prompt_eff, req.out_left
            prefilling, running = kv.prefilling, kv.running
            first_token_at = eng.first_token_at
            for sid, _prior, _tok in plan[0]:
                done = prefilling[sid]
                if done < prompt_eff[sid]:
                    continue  # more chunks to go
                del prefilling[sid]
                del running[sid]
                kv.prefill_blocks -= kv.blocks_for(done)
                if first_token_at[sid] != first_token_at[sid]:
                    first_token_at[sid] = t
                eng.tokens_out += 1
                left = int(out_left[sid]) - 1
                out_left[sid] = left
                if left == 0:
                    self.finish(sid, t)
                elif self.role == "prefill":
                    self.handoff(sid, done, left, t)
                else:
                    kv.join(sid, done, left)
        if eng.check:
            kv.check()
        used = kv.prefill_blocks + kv.handoff_blocks
        if kv.n:
            used += kv.decode_blocks(kv.step * kv.kn // kv.kd - 1)
        eng.timeline.add(t - dt, dt, len(self.waiting), used / kv.cap, n_dec)
        eng.iterations += 1
        if eng.progress is not None and not eng.iterations & 4095:
            eng.progress(t, eng.done, eng.N, eng.span)

    def finish(self, sid: int, t: float) -> None:
        eng = self.eng
        if self.on_finish:
            self.policy.finished(sid)
        eng.finished_at[sid] = t
        eng.outcome[sid] = 1
        self.loads.add(self.pos, -int(eng.work[sid]))
        eng.done += 1
        if eng.closed or eng.done == eng.N:
            eng.on_done(sid, t)

    # ---- P/D hand-over -----------------------------------------------------------------
    def handoff(self, sid: int, done: int, left: int, t: float) -> None:
        """Send the prefilled request's KV to a decode replica (prefill pool only)."""
        eng = self.eng
        xfer = eng.transfer
        blocks = self.kv.blocks_for(done)
        self.kv.handoff_blocks += blocks
        self.loads.add(self.pos, -int(eng.work[sid]))
        start = max(t, self.link_free_at)
        busy = done * xfer.kv_bytes_per_token / xfer.link_bandwidth
        self.link_free_at = start + busy
        arrive = start + busy + xfer.link_latency
        self.pending_transfers.append(arrive)
        self.req.prompt_eff[sid] = done
        self.req.ready[sid] = True
        ev = eng.env.timeout(max(arrive - eng.env.now, 0.0))
        ev.callbacks.append(
            lambda _ev, sid=sid, blocks=blocks, arrive=arrive: self._transfer_done(
                sid, blocks, arrive
            )
        )

    def _transfer_done(self, sid: int, blocks: int, t: float) -> None:
        self.pending_transfers.popleft()
        self.kv.handoff_blocks -= blocks
        if self.sleeping:
            self.clock = max(self.clock, t)
        self.poke()
        self.eng.route(sid, self.eng.decode_replicas, t)

    # ---- the simpy process -------------------------------------------------------------
    def skip_bound(self) -> float:
        bound = self.eng.skip_bound
        if self.pending_transfers:
            bound = min(bound, self.pending_transfers[0])
        return bound

    def poke(self) -> None:
        if self.sleeping and not self.wake.triggered:
            self.wake.succeed()

    def process(self):
        env = self.eng.env
        kv = self.kv
        waiting = self.waiting
        # iterations with prefill work run in ``run_mixed`` (not in the step-by-step run, which
        # forms and applies each through ``form`` and ``apply``: the reference)
        mixed = self.rules.mixed and self.role == "both" and self.eng.event_skipping
        done = None  # the iteration just waited for, which ``run_mixed`` applies first
        run_decodes = decode_runner(self)
        run_mixed = mixed_runner(self)
        while True:
            planned = None
            if done is not None:
                planned = run_mixed(done)
                done = None
                if planned is None:
                    continue  # nothing waits or prefills now: decode-only or idle
            elif kv.n and not waiting and not kv.prefilling:  # ``run_decodes``'s first test
                planned = run_decodes()
            elif mixed and (waiting or kv.prefilling):
                planned = run_mixed()
                if planned is None:
                    continue
            if planned is None:
                planned = self.form()
                # the loops return only iterations that end at or past the skip bound (they run
                # the others); one of ``form``'s that ends before it is applied at once
                if planned is not None and self.clock + planned[0] < self.skip_bound():
                    dt, plan = planned
                    self.clock += dt
                    self.apply(dt, plan, self.cache.last)
                    continue
            if planned is None or planned is IDLE:
                self.policy.idle()
                self.sleeping = True
                self.wake = env.event()
                yield self.wake
                self.sleeping = False
                continue
            dt, plan = planned
            work = self.cache.last  # the pool's cache is shared: read it before yielding
            end = self.clock + dt
            yield env.timeout(max(end - env.now, 0.0))
            self.clock = end
            if mixed:
                done = (dt, plan, work)
            else:
                self.apply(dt, plan, work)


class _Engine:
    """One simulation: the requests' scheduling state (``RequestState``) and record columns,
    the replicas of both pools, arrivals and the router."""

    def __init__(
        self,
        requests: Requests,
        pool: Pool,
        decode_pool: Pool | None,
        transfer: KVTransfer | None,
        router: str,
        rng: np.random.Generator,
        event_skipping: bool,
        timeline_bin: float,
    ) -> None:
        if router not in ROUTERS:
            raise AccelsimError(f"unknown router {router!r} (choose from {', '.join(ROUTERS)})")
        if decode_pool is not None and transfer is None:
            raise AccelsimError("disaggregated serving needs a KVTransfer (link bandwidth)")
        self.env = simpy.Environment()
        self.requests = requests
        self.router = router
        self.rng = rng
        N = len(requests)
        self.N = N
        # the records are filled in place: these are views of their columns
        self.records = RequestRecords.pending(
            requests.arrived_at,
            prompt_tokens=requests.prompt_tokens,
            output_tokens=requests.output_tokens,
            cached_tokens=requests.cached_tokens,
        )
        rec = self.records.array
        self.req = RequestState.of(
            requests.prompt_tokens,
            requests.cached_tokens,
            requests.output_tokens,
            preemptions=rec["preemptions"],
        )
        self.work = (requests.prompt_tokens - requests.cached_tokens) + requests.output_tokens
        self.arrived_at = rec["arrived_at"]
        self.scheduled_at = rec["scheduled_at"]
        self.first_token_at = rec["first_token_at"]
        self.finished_at = rec["finished_at"]
        self.replica = rec["replica"]
        self.outcome = rec["outcome"]  # 0 pending, 1 completed, 2 rejected
        self.reason = rec["reason"]
        self.done = 0
        self.tokens_out = 0
        self.transfer = transfer
        self.caches = {id(pool): IterationCache(pool.model)}
        if decode_pool is not None:
            self.caches[id(decode_pool)] = IterationCache(decode_pool.model)
        role = "prefill" if decode_pool is not None else "both"
        self.replicas = self._streams(pool, 0, role)
        self.entry_replicas = self.replicas
        self.decode_replicas: list[_Replica] = []
        if decode_pool is not None:
            self.decode_replicas = self._streams(decode_pool, pool.replicas, "decode")
            self.replicas = self.replicas + self.decode_replicas
        self.pools = [(pool, self.entry_replicas)]
        if decode_pool is not None:
            self.pools.append((decode_pool, self.decode_replicas))
        for _p, reps in self.pools:
            loads = ReplicaLoads(len(reps), router == "least_outstanding_tokens")
            for i, r in enumerate(reps):
                r.loads, r.pos = loads, i
        self.closed = requests.clients is not None
        # closed loop: a request is sent when a client is free *and* its release time (its
        # rate-limited arrival, 0 without a rate) has come
        self.release = (
            np.where(np.isfinite(requests.arrived_at), requests.arrived_at, 0.0)
            if self.closed
            else None
        )
        self.skip_bound = -_INF
        self.event_skipping = event_skipping and not self.closed
        if decode_pool is not None:
            for r in self.decode_replicas:
                r.skip_bound = lambda: -_INF  # type: ignore[method-assign]
        self.rr: dict[int, int] = {}
        self.timeline = Timeline(timeline_bin, replicas=len(self.replicas))
        self.itl_bins: dict[float, int] = {}  # the loops' memo of ITL bins (``itl_binner``)
        self.issued = 0
        self.iterations = 0
        self.progress: Callable[[float, int, int, float], None] | None = None
        self.span = 0.0
        self.all_done = self.env.event()
        self.check = False
        # limits for rejection at arrival
        self.limits = []
        for p, _reps in self.pools:
            per_seq = p.kv_tokens if p.kv_tokens_per_seq is None else p.kv_tokens_per_seq
            per_seq //= stages_of(p)  # one micro-batch stream's share
            B = p.scheduler.block_size
            self.limits.append((per_seq // B) * B)
        if decode_pool is not None:
            # the prefill pool only needs the prompt; the decode pool prompt + output
            self.limit_prefill_only = True
        else:
            self.limit_prefill_only = False

    def _streams(self, pool: Pool, base: int, role: str) -> list[_Replica]:
        """The micro-batch streams of ``pool`` (one per replica and pipeline stage; see the
        module docstring), stream ``j`` on replica ``base + j % replicas``."""
        n = pool.replicas
        return [_Replica(self, base + j % n, pool, role) for j in range(n * stages_of(pool))]

    # ---- arrivals and routing ----------------------------------------------------------
    def pick(self, pool: list[_Replica], sid: int) -> _Replica:
        if len(pool) == 1:
            return pool[0]
        if self.router == "round_robin":
            key = id(pool)
            i = self.rr.get(key, 0)
            self.rr[key] = i + 1
            return pool[i % len(pool)]
        loads = pool[0].loads
        if self.router == "least_outstanding_tokens":
            return pool[loads.least()]  # ties: the lowest index
        a, b = (int(x) for x in self.rng.choice(len(pool), 2, replace=False))
        return pool[a] if (loads[a], a) <= (loads[b], b) else pool[b]

    def route(self, sid: int, pool: list[_Replica], t: float) -> None:
        """Queue ``sid`` at a replica of ``pool`` at time ``t`` (exact, not ``env.now``)."""
        if self.router == "least_outstanding_tokens" and len(pool) > 1:
            rep = pool[pool[0].loads.least()]  # ties: the lowest index
        else:
            rep = self.pick(pool, sid)
        self.replica[sid] = rep.idx
        rep.loads.add(rep.pos, int(self.work[sid]))
        rep.waiting.append(sid)
        if rep.sleeping:
            rep.clock = max(rep.clock, t)
            rep.poke()

    def admit(self, sid: int, t: float) -> None:
        """A request arrives at ``t``: reject it if it can never fit, else route it."""
        p = int(self.req.prompt[sid])
        total = p + int(self.req.out_left[sid]) - 1
        limits = self.limits
        if self.limit_prefill_only:
            too_big = p > limits[0] or total > limits[1]
        else:
            too_big = total > limits[0]
        if too_big:
            self.outcome[sid] = 2
            self.reason[sid] = REASONS.index("exceeds_kv_capacity")
            self.done += 1
            self.on_done(sid, t)
            return
        self.route(sid, self.entry_replicas, t)

    def on_done(self, sid: int, t: float) -> None:
        if self.done == self.N and not self.all_done.triggered:
            self.all_done.succeed()
        if self.closed and self.issued < self.N:
            nxt = self.issued
            self.issued += 1
            when = max(t + self.requests.think_time, float(self.release[nxt]))
            ev = self.env.timeout(max(when - self.env.now, 0.0))
            ev.callbacks.append(lambda _ev, nxt=nxt, when=when: self._issue(nxt, when))

    def _issue(self, sid: int, t: float) -> None:
        self.arrived_at[sid] = t
        self.admit(sid, t)

    def arrivals(self):
        env = self.env
        times = self.arrived_at
        N = self.N
        if self.closed:
            first = min(self.requests.clients or 0, N)
            self.issued = first
            for sid in range(first):
                when = float(self.release[sid])
                if when > env.now:
                    yield env.timeout(when - env.now)
                self._issue(sid, when)
            return
        # generated arrivals come sorted: then the stable order is the identity (no copies)
        ordered = N < 2 or bool(np.all(times[1:] >= times[:-1]))
        order = None if ordered else np.argsort(times, kind="stable")
        sorted_times = times if order is None else times[order]
        skip = self.event_skipping
        # Python lists of a few thousand at a time: a million requests as lists would hold
        # about 70 MB of boxed floats and ints for the whole run
        for start in range(0, N, 4096):
            tl = sorted_times[start : start + 4096].tolist()
            stop = min(start + 4096, N)
            ol = range(start, stop) if order is None else order[start:stop].tolist()
            for t, sid in zip(tl, ol, strict=True):
                if skip:
                    self.skip_bound = t
                if t > env.now:
                    yield env.timeout(t - env.now)
                self.admit(sid, t)
        self.skip_bound = _INF if skip else -_INF


def simulate(
    requests: Requests,
    pool: Pool,
    *,
    decode_pool: Pool | None = None,
    transfer: KVTransfer | None = None,
    router: str = "round_robin",
    seed: int | np.random.Generator = 0,
    event_skipping: bool = True,
    slo_ttft: float | None = None,
    slo_tpot: float | None = None,
    card_power: tuple[float, float] | None = None,
    progress: Callable[[float, int, int, float], None] | None = None,
    scenario: Any = None,
    timeline_bin: float | None = None,
    check_invariants: bool = False,
) -> SimResult:
    """Serve ``requests`` on ``pool`` (and ``decode_pool`` when disaggregated).

    ``seed`` drives only the router's random choices (power of two). ``card_power`` is
    ``(idle_w, tdp_w)`` per card for the energy estimate. ``progress(now, done, total,
    expected_end)`` is called every 4096 iterations. ``check_invariants`` recounts KV blocks
    sequence by sequence after every iteration (slow; for tests). Returns records, a summary
    and the per-time-bin timeline.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    finite = requests.arrived_at[np.isfinite(requests.arrived_at)]
    span = float(finite.max()) if len(finite) else 0.0
    if timeline_bin is None:
        timeline_bin = max(span, 1.0) / 200.0
    eng = _Engine(requests, pool, decode_pool, transfer, router, rng, event_skipping, timeline_bin)
    env = eng.env
    eng.progress = progress
    eng.check = check_invariants
    eng.span = span
    wall0 = _time.perf_counter()
    for r in eng.replicas:
        env.process(r.process())
    env.process(eng.arrivals())
    if eng.N:
        env.run(until=eng.all_done)
    if progress is not None:
        progress(env.now, eng.done, eng.N, span)
    wall = _time.perf_counter() - wall0
    records = eng.records
    cards = sum(p.replicas * p.cards_per_replica for p, _ in eng.pools)
    busy = [(r.busy, stream_cards(pool_of)) for pool_of, reps in eng.pools for r in reps]
    peaks = [
        (getattr(p.model, "peak_flops", None), getattr(p.model, "peak_hbm_bandwidth", None))
        for p, _ in eng.pools
    ]
    work = None
    if all(f and b for f, b in peaks):
        work = (
            sum(r.flops for r in eng.replicas),
            sum(r.hbm_bytes for r in eng.replicas),
            sum(p.replicas * f for (p, _), (f, _b) in zip(eng.pools, peaks, strict=True)),
            sum(p.replicas * b for (p, _), (_f, b) in zip(eng.pools, peaks, strict=True)),
        )
    summary = summarize(
        records,
        cards=cards,
        replica_busy=busy,
        slo_ttft=slo_ttft,
        slo_tpot=slo_tpot,
        card_power=card_power,
        timeline=eng.timeline,
        work=work,
        wall_s=wall,
        iteration_model_calls=sum(c.calls for c in eng.caches.values()),
    )
    return SimResult(records=records, summary=summary, timeline=eng.timeline, scenario=scenario)
