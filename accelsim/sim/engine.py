"""The serving simulation: replicas, router, paged KV cache, P/D links — ``simulate()``.

This is the only module that imports simpy. Replicas are simpy processes that run iterations
back to back; each iteration's duration comes from an ``accelsim.model.batch.IterationModel`` for
the
batch the scheduler policy (``accelsim.sim.admission``) formed. The engine knows nothing about
hardware. Time is in seconds.

Model of one replica (assumptions):

- An iteration that completes a prompt's prefill emits that request's first output token
  (TTFT ends there). Each decode iteration emits ``tokens_per_decode_step`` tokens per
  sequence (speculative decoding / MTP); a fractional rate is realised deterministically: the
  replica's decode step ``s`` emits ``floor((s+1)k) - floor(sk)`` tokens for every sequence, with
  ``k`` held as a fraction of denominator <= 1000.
- Paged KV cache of ``kv_tokens // block_size`` blocks. A decoding sequence with ``g`` tokens
  generated holds ``ceil((prompt + g - 1) / block)`` blocks. Cached prefix tokens (prefix-cache
  hits) skip prefill compute but still occupy blocks of the request (no cross-request block
  sharing is modelled — conservative for memory, exact for compute).
- With DP attention (``kv_tokens_per_seq`` below the replica total), the replica's cache is
  treated as one pool, and a request must fit in one group's share.
- Preemption follows the scheduler's ``preemption`` (``accelsim.sim.admission``): vLLM's recompute
  (default), SGLang's reserving admission and retraction (``retract-sglang``: each admission
  checks, over the running sequences sorted by tokens left, that the cache holds them all to
  completion, and the replica keeps SGLang's ``new_token_ratio``; both walk the running set,
  O(n) per admission attempt, so only this option pays for it) or TensorRT-LLM's
  ``no-evict`` (admission reserves every running request's blocks at its last token, summed
  once per admission round, O(n); nothing is preempted). Counted per request.

Performance (why an iteration costs O(log n), not O(n)): decoding sequences are never looped
over. The replica keeps aggregates — count, the sum of ``a_i`` with context ``c_i(s) = a_i +
cum(s)`` (``cum`` = tokens emitted per sequence by the first ``s`` decode steps), block
quotients and a histogram of block residues (exact paged block count in O(block_size)) — and a
heap of (decode step at which a sequence finishes). Iteration times are cached: the
``BatchStats`` passed to the model has its context sums quantized to 8 significant bits (a
relative error below 0.4 %), so equal quantized batches hit the cache; a model with
``cacheable = False`` (random-service stubs) is called every iteration.

Event skipping: when arrivals are known in advance (open loop, co-located serving), a replica
computes iterations without yielding to simpy while they end before the next arrival, and
yields once; the router never observes a replica inside such a window, so results equal the
step-by-step run (``event_skipping=False``), which the tests check.

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
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import simpy

from accelsim.errors import AccelsimError
from accelsim.model.batch import BatchStats, IterationModel
from accelsim.sim.admission import SchedulerConfig
from accelsim.sim.metrics import REASONS, RequestRecords, SimResult, Timeline, summarize
from accelsim.sim.traffic import Requests

__all__ = ["ROUTERS", "KVTransfer", "Pool", "SimResult", "simulate"]

ROUTERS = ("round_robin", "least_outstanding_tokens", "power_of_two")
QUANT_BITS = 8
_INF = math.inf

# SGLang scheduler constants (sglang/srt/environ.py defaults; schedule_policy.py)
SGLANG_INIT_NEW_TOKEN_RATIO = 0.7  # x schedule_conservativeness (default 1.0)
SGLANG_MIN_NEW_TOKEN_RATIO_FACTOR = 0.14
SGLANG_NEW_TOKEN_RATIO_DECAY_STEPS = 600
SGLANG_RETRACT_DECODE_STEPS = 20
SGLANG_CLIP_MAX_NEW_TOKENS = 4096
SGLANG_IGNORE_EOS_RESERVE_TOKENS = 1


def quantize(x: float) -> int:
    """Round ``x`` to 8 significant bits (bucket midpoint); exact below 256."""
    v = int(x)
    if v < 256:
        return v
    shift = v.bit_length() - QUANT_BITS
    return ((v >> shift) << shift) | (1 << (shift - 1))


@dataclass(frozen=True)
class Pool:
    """A group of identical replicas: their timing model, count and KV capacity."""

    model: IterationModel
    replicas: int = 1
    kv_tokens: int = 1 << 30
    kv_tokens_per_seq: int | None = None
    cards_per_replica: float = 1  # cards (packages) of one replica: ranks / dies per card
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)


@dataclass(frozen=True)
class KVTransfer:
    """The prefill -> decode link of one prefill replica."""

    kv_bytes_per_token: float
    link_bandwidth: float
    link_latency: float = 0.0


class _IterCache:
    """Iteration times (and, when the model reports them, FLOPs and HBM bytes) per quantized
    batch. ``last`` holds the (seconds, FLOPs, bytes) of the latest priced iteration."""

    def __init__(self, model: IterationModel) -> None:
        self.model = model
        self.cacheable = bool(getattr(model, "cacheable", True))
        self.work = getattr(model, "iteration_work", None)
        self.decode: dict[tuple[int, int], tuple[float, float, float]] = {}
        self.mixed: dict[tuple, tuple[float, float, float]] = {}
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

    def decode_time(self, n: int, ctx: int) -> float:
        if not self.cacheable:
            w = self._price(BatchStats(n, float(ctx)))
        else:
            qc = quantize(ctx)
            key = (n, qc)
            w = self.decode.get(key)
            if w is None:
                w = self._price(BatchStats(n, float(qc)))
                self.decode[key] = w
        self.last = w
        return w[0]

    def time(self, n: int, ctx: int, pseq: int, ptok: int, ppairs: float, pctx: int) -> float:
        if not self.cacheable:
            w = self._price(BatchStats(n, float(ctx), pseq, ptok, float(ppairs), float(pctx)))
        else:
            key = (n, quantize(ctx), pseq, quantize(ptok), quantize(ppairs), quantize(pctx))
            w = self.mixed.get(key)
            if w is None:
                b = BatchStats(key[0], float(key[1]), pseq, key[3], float(key[4]), float(key[5]))
                w = self._price(b)
                self.mixed[key] = w
        self.last = w
        return w[0]


class _Replica:
    """One replica's scheduler state and simpy process (see the module docstring)."""

    def __init__(self, eng: _Engine, idx: int, pool: Pool, role: str) -> None:
        self.eng = eng
        self.idx = idx  # index in the record's ``replica`` column
        self.role = role  # "both", "prefill", "decode"
        sc = pool.scheduler
        self.sc = sc
        self.rules = sc.rules
        self.B = sc.block_size
        self.cap = pool.kv_tokens // sc.block_size
        self.watermark = int(self.cap * sc.kv_watermark)
        self.cache = eng.caches[id(pool)]
        k = Fraction(float(pool.model.tokens_per_decode_step)).limit_denominator(1000)
        if k < 1:
            raise AccelsimError(f"tokens_per_decode_step must be >= 1 (got {float(k)})")
        self.kn, self.kd = k.numerator, k.denominator
        self.waiting: deque[int] = deque()
        self.running: dict[int, list] = {}  # admission order (LIFO preemption)
        self.prefilling: dict[int, int] = {}  # sid -> prompt tokens in KV so far
        self.prefill_blocks = 0
        self.handoff_blocks = 0  # prefill role: blocks held until the KV transfer ends
        self.n = 0
        self.S = 0
        self.Q = 0
        self.cnt = [0] * self.B
        self.heap: list[tuple[int, int, int]] = []
        self.step = 0
        self.joins = 0
        self.loads: list[int] = [0]  # outstanding tokens of the pool's replicas (shared)
        self.pos = 0
        self.busy = 0.0
        self.flops = 0.0  # FLOPs and HBM bytes of the iterations run (MFU / MBU)
        self.hbm_bytes = 0.0
        self.clock = 0.0
        self.link_free_at = 0.0
        self.pending_transfers: deque[float] = deque()
        self.wake: Any = None
        self.sleeping = False
        # SGLang retraction (``preemption: retract-sglang``)
        self.retract = sc.preemption == "retract-sglang"
        self.noevict = sc.preemption == "no-evict"
        self.overshoot = -(-self.kn // self.kd) - 1  # tokens a last decode step may write past
        self.reserved: dict[int, int] = {}  # no-evict: sid -> blocks reserved at admission
        self.ratio = SGLANG_INIT_NEW_TOKEN_RATIO
        self.ratio_min = SGLANG_INIT_NEW_TOKEN_RATIO * SGLANG_MIN_NEW_TOKEN_RATIO_FACTOR
        self.ratio_decay = (self.ratio - self.ratio_min) / SGLANG_NEW_TOKEN_RATIO_DECAY_STEPS
        self.ratio_step = -1

    # ---- KV accounting --------------------------------------------------------------------
    def decode_blocks(self, x: int) -> int:
        """Exact blocks of the decoding set when every sequence holds ``a_i + x`` tokens."""
        B = self.B
        X, y = divmod(x, B)
        extra = sum(self.cnt[B - y :]) if y else 0
        return self.Q + self.n * X + extra

    def used_blocks(self) -> int:
        cum = self.step * self.kn // self.kd
        dec = self.decode_blocks(cum - 1) if self.n else 0
        return dec + self.prefill_blocks + self.handoff_blocks

    def blocks_for(self, tokens: int) -> int:
        return -(-tokens // self.B)

    # ---- sequences entering / leaving the decoding set ------------------------------------
    def join_decode(self, sid: int, prompt: int, left: int) -> None:
        """``sid`` has ``prompt`` tokens of context and emitted its first token; ``left``
        tokens remain (>= 1)."""
        D = self.step
        cumD = D * self.kn // self.kd
        a = prompt + 1 - cumD
        qq, rr = divmod(a + self.B - 1, self.B)
        self.n += 1
        self.S += a
        self.Q += qq
        self.cnt[rr] += 1
        self.joins += 1
        T = left + cumD
        finish = -(-T * self.kd // self.kn) - 1
        st = [a, qq, rr, self.joins, D, left, prompt]
        self.running[sid] = st
        heapq.heappush(self.heap, (finish, self.joins, sid))

    def _leave_decode(self, st: list) -> None:
        self.n -= 1
        self.S -= st[0]
        self.Q -= st[1]
        self.cnt[st[2]] -= 1

    def preempt_one(self) -> bool:
        """Preempt the most recently admitted sequence; False when none is left."""
        if not self.running:
            return False
        sid, st = self.running.popitem()
        eng = self.eng
        eng.preemptions[sid] += 1
        if st is _PREFILLING:
            done = self.prefilling.pop(sid)
            self.prefill_blocks -= self.blocks_for(done)
        else:
            self._requeue(sid, st)
        self.waiting.appendleft(sid)
        return True

    def _requeue(self, sid: int, st: list) -> None:
        """Free a decoding sequence's blocks; it will re-prefill prompt + generated tokens."""
        eng = self.eng
        self._leave_decode(st)
        emitted = self.step * self.kn // self.kd - (st[4] * self.kn // self.kd)
        eng.prompt_eff[sid] = st[6] + 1 + emitted
        eng.out_left[sid] = st[5] - emitted
        eng.ready[sid] = False

    # ---- SGLang: reserving admission and retraction (``retract-sglang``) -------------------
    def _decoding_states(self) -> tuple[list[int], list[int], list[int]]:
        """Tokens left, tokens held and output tokens so far of every decoding sequence."""
        cum = self.step * self.kn // self.kd
        out_total = self.eng.requests.output_tokens
        left, held, done = [], [], []
        for sid, st in self.running.items():
            if st is _PREFILLING:
                continue
            rest = st[5] - (cum - st[4] * self.kn // self.kd)
            left.append(rest)
            held.append(st[0] + cum - 1)
            done.append(int(out_total[sid]) - rest)
        return left, held, done

    def _sglang_admits(
        self, sid: int, need: int, admitted: list[tuple[int, int, int]], free: int
    ) -> bool:
        """SGLang's ``PrefillAdder.add_one_req_ignore_eos`` for ``sid``, whose prefill takes
        ``need`` of the ``free`` blocks left after this round's ``admitted`` (sid, tokens left,
        tokens held) requests took theirs:
        the prompt fits the ratio-discounted budget, and every running and admitted request can
        grow to its full output when they finish in order of tokens left."""
        eng = self.eng
        B = self.B
        prompt = int(eng.prompt_eff[sid])
        out = int(eng.out_left[sid])
        left, held, _done = self._decoding_states()
        this_round = {x[0] for x in admitted}
        for psid in self.prefilling:  # partially prefilled: the whole prompt will be held
            if psid in this_round:
                continue
            left.append(int(eng.out_left[psid]))
            held.append(int(eng.prompt_eff[psid]))
        clip = SGLANG_CLIP_MAX_NEW_TOKENS
        cur_rem = free * B
        rem_total = cur_rem - self.ratio * sum(min(x, clip) for x in left)
        rem_total -= sum(min(x, clip) for _s, x, _h in admitted)
        paged = need * B
        if paged > min(cur_rem, rem_total):
            return False
        tl = np.array(left + [x for _s, x, _h in admitted] + [out], dtype=np.float64)
        occ = np.array(held + [h for _s, _x, h in admitted] + [prompt], dtype=np.float64)
        keep = tl > 0
        tl, occ = tl[keep], occ[keep]
        order = np.argsort(tl, kind="stable")
        tl, occ = tl[order], occ[order]
        bs = np.arange(len(tl), 0, -1, dtype=np.float64)
        freed = np.cumsum(occ) - occ
        min_free = cur_rem - paged + freed - tl * bs
        return bool(np.all(min_free > SGLANG_IGNORE_EOS_RESERVE_TOKENS * bs))

    def _decay_ratio(self) -> None:
        """One decode step without retraction lowers the estimate (once per step)."""
        if self.ratio_step != self.step:
            self.ratio_step = self.step
            self.ratio = max(self.ratio - self.ratio_decay, self.ratio_min)

    def _retract(self, fits: Callable[[], bool]) -> None:
        """SGLang's ``ScheduleBatch.retract_decode``: free at least one decoding sequence, then
        more until ``fits()``, always keeping one; victims are those with the fewest output
        tokens (then the longest prompt) — with speculative decoding the latest joined. The
        ratio estimate becomes ``(decoded + 20 n) / (max_new + 1)`` of the survivors."""
        eng = self.eng
        decoding = [(sid, st) for sid, st in self.running.items() if st is not _PREFILLING]
        if self.kn != self.kd:  # speculative decoding: retract from the back of the batch
            decoding.sort(key=lambda x: x[1][3])
        else:
            _left, _held, done = self._decoding_states()
            prompt = eng.prompt
            keys = [
                (d, -int(prompt[sid]), -st[3]) for (sid, st), d in zip(decoding, done, strict=True)
            ]
            order = sorted(range(len(decoding)), key=lambda i: keys[i], reverse=True)
            decoding = [decoding[i] for i in order]
        first = True
        while len(decoding) > 1 and (first or not fits()):
            first = False
            sid, st = decoding.pop()
            del self.running[sid]
            eng.preemptions[sid] += 1
            self._requeue(sid, st)
            self.waiting.append(sid)
        _left, _held, done = self._decoding_states()
        out_total = eng.requests.output_tokens
        total = sum(int(out_total[sid]) for sid, st in decoding)
        self.ratio = min(1.0, (sum(done) + SGLANG_RETRACT_DECODE_STEPS * len(done)) / (total + 1))

    # ---- TensorRT-LLM: guaranteed no evict (``no-evict``) ---------------------------------
    def _final_blocks(self) -> int:
        """Blocks the running sequences hold at their last step: the sum of what each reserved
        when admitted (``_reserve``; a sequence's final length never changes while it
        runs)."""
        return sum(map(self.reserved.__getitem__, self.running))

    def _reserve(self, sid: int, final: int) -> int:
        """Reserve the blocks request ``sid`` holds at its last step on top of the ``final``
        blocks already reserved: the new total, or -1 when it does not fit (an empty replica
        takes its head request: one that passed the arrival check always fits alone)."""
        eng = self.eng
        tokens = int(eng.prompt_eff[sid]) + int(eng.out_left[sid]) - 1 + self.overshoot
        whole = self.blocks_for(tokens)
        if final + whole > self.cap and (self.running or final):
            return -1
        self.reserved[sid] = whole
        return final + whole

    # ---- admission -----------------------------------------------------------------------
    def _admit_blocks(self, sid: int) -> int:
        eng = self.eng
        if self.rules.reserve_output:
            return self.blocks_for(int(eng.prompt_eff[sid]) + int(eng.out_left[sid]) - 1)
        return self.blocks_for(int(eng.prompt_eff[sid]))

    def _admit_ready(self, sid: int, t: float) -> None:  # KV already here (P/D decode pool)
        eng = self.eng
        if eng.scheduled_at[sid] != eng.scheduled_at[sid]:  # NaN: first admission
            eng.scheduled_at[sid] = t
        self.join_decode(sid, int(eng.prompt_eff[sid]), int(eng.out_left[sid]))

    # ---- forming and applying one iteration ------------------------------------------------
    def form(self) -> tuple[float, Any] | None:
        """Choose the next iteration; returns (seconds, plan) or None when idle."""
        while True:
            planned = self._form()
            if planned is not None or not self.prefilling or self.n:
                return planned
            # partial prefills hold blocks that block each other: free the latest (vLLM v1)
            self.preempt_one()

    def _form(self) -> tuple[float, Any] | None:
        rules = self.rules
        eng = self.eng
        waiting = self.waiting
        if rules.mixed and self.n:
            self._make_room()
        if (waiting or self.prefilling) and (rules.admit_while_running or not self.running):
            t = self.clock
            cum_next = (self.step + 1) * self.kn // self.kd
            if rules.mixed and self.n:
                dec = self.decode_blocks(cum_next - 1)
            else:
                dec = self.decode_blocks(self.step * self.kn // self.kd - 1) if self.n else 0
            used = dec + self.prefill_blocks + self.handoff_blocks
            free = self.cap - used
            # the watermark keeps room for running sequences: it only gates new admissions
            noevict = self.noevict and self.role != "prefill"
            wm = self.watermark if self.running and not (self.retract or noevict) else 0
            reserve = self.retract and self.role != "prefill"
            # no-evict: blocks every running request holds at its last token
            final = self._final_blocks() + self.handoff_blocks if noevict else 0
            admitted: list[tuple[int, int, int]] = []  # SGLang: (sid, tokens left, held)
            max_seqs = self.sc.max_seqs if rules.admit_while_running else self.sc.batch_size
            budget = self.sc.max_batched_tokens
            if rules.mixed:
                budget -= self.n
            grow = cum_next - self.step * self.kn // self.kd if rules.mixed else 0
            chunks: list[tuple[int, int, int]] = []  # (sid, prior, tokens)
            for sid, done in self.prefilling.items():
                if budget <= 0:
                    break
                tok = min(int(eng.prompt_eff[sid]) - done, budget)
                need = self.blocks_for(done + tok) - self.blocks_for(done)
                if need > free:
                    break
                free -= need
                budget -= tok
                chunks.append((sid, done, tok))
            while waiting and len(self.running) < max_seqs:
                sid = waiting[0]
                if eng.ready[sid]:
                    # in a mixed iteration it decodes at once: count that step's growth
                    need = self.blocks_for(int(eng.prompt_eff[sid]) + grow)
                    if need > free - wm:
                        break
                    if noevict:
                        final = self._reserve(sid, final)
                        if final < 0:
                            break
                    free -= need
                    waiting.popleft()
                    self._admit_ready(sid, t)
                    continue
                total = int(eng.prompt_eff[sid])
                prior = int(eng.cached[sid])
                if rules.chunked:
                    if budget <= 0:
                        break
                    tok = min(total - prior, budget)
                    need = self.blocks_for(prior + tok)
                else:
                    tok = total - prior
                    if tok > budget and chunks:
                        break
                    need = self._admit_blocks(sid)
                if need > free - wm:
                    break
                if noevict:
                    final = self._reserve(sid, final)
                    if final < 0:
                        break
                if reserve and (self.running or admitted):
                    # an empty replica takes its head request whatever the estimate: a lone
                    # request that passed the arrival check always fits
                    if not self._sglang_admits(sid, need, admitted, free):
                        break
                    admitted.append((sid, int(eng.out_left[sid]), total))
                free -= need
                budget -= tok
                waiting.popleft()
                if eng.scheduled_at[sid] != eng.scheduled_at[sid]:
                    eng.scheduled_at[sid] = t
                self.running[sid] = _PREFILLING
                self.prefilling[sid] = prior
                self.prefill_blocks += self.blocks_for(prior)
                chunks.append((sid, prior, tok))
            if chunks:
                pt = 0
                pairs = 0.0
                pctx = 0
                for sid, prior, tok in chunks:
                    # the chunk's blocks are allocated while it computes
                    self.prefill_blocks += self.blocks_for(prior + tok) - self.blocks_for(prior)
                    self.prefilling[sid] = prior + tok
                    pt += tok
                    pairs += tok * (prior + (tok + 1) / 2)
                    pctx += prior
                with_decode = rules.mixed and self.n > 0
                n = self.n if with_decode else 0
                ctx = self.S + n * (self.step * self.kn // self.kd) if n else 0
                dt = self.cache.time(n, ctx, len(chunks), pt, pairs, pctx)
                return dt, (chunks, with_decode)
        if self.n:
            self._make_room()
            n = self.n
            ctx = self.S + n * (self.step * self.kn // self.kd)
            return self.cache.decode_time(n, ctx), None
        return None

    def _make_room(self) -> None:
        """Preempt (LIFO) until the next decode step's blocks fit (``retract-sglang``: retract
        as SGLang does, and decay its ratio estimate when nothing had to go)."""
        x = ((self.step + 1) * self.kn // self.kd) - 1
        other = self.prefill_blocks + self.handoff_blocks
        if self.Q + self.n * (x // self.B + 1) + other <= self.cap:
            if self.retract:
                self._decay_ratio()
            return

        def fits() -> bool:
            return self.decode_blocks(x) + self.prefill_blocks + self.handoff_blocks <= self.cap

        if self.retract:
            if fits():
                self._decay_ratio()
                return
            self._retract(fits)
        while self.n and not fits():
            self.preempt_one()

    def apply(
        self, dt: float, plan: Any, work: tuple[float, float, float] = (0.0, 0.0, 0.0)
    ) -> None:
        """Account one iteration that ended at ``self.clock`` (``work``: the priced iteration's
        seconds, FLOPs and HBM bytes, ``_IterCache.last``)."""
        eng = self.eng
        t = self.clock
        self.busy += dt
        self.flops += work[1]
        self.hbm_bytes += work[2]
        n_dec = 0
        if plan is None or plan[1]:
            n_dec = self.n
            s = self.step
            emitted = ((s + 1) * self.kn // self.kd) - (s * self.kn // self.kd)
            eng.tokens_out += n_dec * emitted
            self.step = s + 1
            heap = self.heap
            running = self.running
            while heap and heap[0][0] <= s:
                _, join, sid = heapq.heappop(heap)
                st = running.get(sid)
                if st is None or st is _PREFILLING or st[3] != join:
                    continue  # stale entry of a preempted sequence
                del running[sid]
                self._leave_decode(st)
                eng.out_left[sid] = 0
                self.finish(sid, t)
        if plan is not None:
            for sid, _prior, _tok in plan[0]:
                done = self.prefilling[sid]
                if done < int(eng.prompt_eff[sid]):
                    continue  # more chunks to go
                del self.prefilling[sid]
                del self.running[sid]
                self.prefill_blocks -= self.blocks_for(done)
                if eng.first_token_at[sid] != eng.first_token_at[sid]:
                    eng.first_token_at[sid] = t
                eng.tokens_out += 1
                left = int(eng.out_left[sid]) - 1
                eng.out_left[sid] = left
                if left == 0:
                    self.finish(sid, t)
                elif self.role == "prefill":
                    self.handoff(sid, done, left, t)
                else:
                    self.join_decode(sid, done, left)
        eng.observe(self, t - dt, dt, n_dec)

    def finish(self, sid: int, t: float) -> None:
        eng = self.eng
        self.reserved.pop(sid, None)
        eng.finished_at[sid] = t
        eng.outcome[sid] = 1
        self.loads[self.pos] -= int(eng.work[sid])
        eng.done += 1
        eng.on_done(sid, t)

    def handoff(self, sid: int, done: int, left: int, t: float) -> None:
        """Send the prefilled request's KV to a decode replica (prefill pool only)."""
        eng = self.eng
        xfer = eng.transfer
        blocks = self.blocks_for(done)
        self.handoff_blocks += blocks
        self.loads[self.pos] -= int(eng.work[sid])
        start = max(t, self.link_free_at)
        busy = done * xfer.kv_bytes_per_token / xfer.link_bandwidth
        self.link_free_at = start + busy
        arrive = start + busy + xfer.link_latency
        self.pending_transfers.append(arrive)
        eng.prompt_eff[sid] = done
        eng.ready[sid] = True
        ev = eng.env.timeout(max(arrive - eng.env.now, 0.0))
        ev.callbacks.append(
            lambda _ev, sid=sid, blocks=blocks, arrive=arrive: self._transfer_done(
                sid, blocks, arrive
            )
        )

    def _transfer_done(self, sid: int, blocks: int, t: float) -> None:
        self.pending_transfers.popleft()
        self.handoff_blocks -= blocks
        if self.sleeping:
            self.clock = max(self.clock, t)
        self.poke()
        self.eng.route(sid, self.eng.decode_replicas, t)

    def skip_bound(self) -> float:
        bound = self.eng.skip_bound
        if self.pending_transfers:
            bound = min(bound, self.pending_transfers[0])
        return bound

    def check(self) -> None:
        """Recount blocks sequence by sequence and compare with the aggregates (tests)."""
        cum = self.step * self.kn // self.kd
        dec = 0
        for sid, st in self.running.items():
            if st is _PREFILLING:
                continue
            dec += self.blocks_for(st[0] + cum - 1)
            assert st[0] + cum - 1 >= st[6], (sid, "context shrank")
        pre = sum(self.blocks_for(d) for d in self.prefilling.values())
        assert pre == self.prefill_blocks, (pre, self.prefill_blocks)
        assert dec == (self.decode_blocks(cum - 1) if self.n else 0), "block aggregate drifted"
        used = dec + pre + self.handoff_blocks
        assert used <= self.cap, f"KV blocks {used} exceed capacity {self.cap}"

    def poke(self) -> None:
        if self.sleeping and not self.wake.triggered:
            self.wake.succeed()

    def process(self):
        env = self.eng.env
        while True:
            planned = self.form()
            if planned is None:
                if self.retract:  # SGLang resets its estimate when the scheduler idles
                    self.ratio = SGLANG_INIT_NEW_TOKEN_RATIO
                self.sleeping = True
                self.wake = env.event()
                yield self.wake
                self.sleeping = False
                continue
            dt, plan = planned
            work = self.cache.last  # the pool's cache is shared: read it before yielding
            end = self.clock + dt
            if end < self.skip_bound():
                self.clock = end
                self.apply(dt, plan, work)
                continue
            yield env.timeout(max(end - env.now, 0.0))
            self.clock = end
            self.apply(dt, plan, work)


_PREFILLING: list = ["prefilling"]  # sentinel state of a sequence still prefilling


class _Engine:
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
        self.prompt = requests.prompt_tokens
        self.cached = requests.cached_tokens
        self.prompt_eff = requests.prompt_tokens.copy()
        self.out_left = requests.output_tokens.copy()
        self.work = (requests.prompt_tokens - requests.cached_tokens) + requests.output_tokens
        self.ready = np.zeros(N, dtype=bool)
        self.arrived_at = requests.arrived_at.copy()
        self.scheduled_at = np.full(N, np.nan)
        self.first_token_at = np.full(N, np.nan)
        self.finished_at = np.full(N, np.nan)
        self.preemptions = np.zeros(N, dtype=np.int32)
        self.replica = np.full(N, -1, dtype=np.int32)
        self.outcome = np.zeros(N, dtype=np.int8)  # 0 pending, 1 completed, 2 rejected
        self.reason = np.zeros(N, dtype=np.int8)
        self.done = 0
        self.tokens_out = 0
        self.transfer = transfer
        self.caches = {id(pool): _IterCache(pool.model)}
        if decode_pool is not None:
            self.caches[id(decode_pool)] = _IterCache(decode_pool.model)
        role = "prefill" if decode_pool is not None else "both"
        self.replicas = [_Replica(self, i, pool, role) for i in range(pool.replicas)]
        self.entry_replicas = self.replicas
        self.decode_replicas: list[_Replica] = []
        if decode_pool is not None:
            base = pool.replicas
            self.decode_replicas = [
                _Replica(self, base + i, decode_pool, "decode") for i in range(decode_pool.replicas)
            ]
            self.replicas = self.replicas + self.decode_replicas
        self.pools = [(pool, self.entry_replicas)]
        if decode_pool is not None:
            self.pools.append((decode_pool, self.decode_replicas))
        for _p, reps in self.pools:
            loads = [0] * len(reps)
            for i, r in enumerate(reps):
                r.loads, r.pos = loads, i
        self.closed = requests.clients is not None
        # closed loop: a request is sent when a client is free *and* its release time (its
        # rate-limited arrival, 0 without a rate) has come
        self.release = np.where(np.isfinite(requests.arrived_at), requests.arrived_at, 0.0)
        self.skip_bound = -_INF
        self.event_skipping = event_skipping and not self.closed
        if decode_pool is not None:
            for r in self.decode_replicas:
                r.skip_bound = lambda: -_INF  # type: ignore[method-assign]
        self.rr: dict[int, int] = {}
        self.timeline = Timeline(timeline_bin, replicas=len(self.replicas))
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
            B = p.scheduler.block_size
            self.limits.append((per_seq // B) * B)
        if decode_pool is not None:
            # the prefill pool only needs the prompt; the decode pool prompt + output
            self.limit_prefill_only = True
        else:
            self.limit_prefill_only = False

    # ---- arrivals and routing ----------------------------------------------------------
    def observe(self, rep: _Replica, t0: float, dt: float, n_dec: int) -> None:
        if self.check:
            rep.check()
        self.timeline.add(t0, dt, len(rep.waiting), rep.used_blocks() / rep.cap, n_dec)
        self.iterations += 1
        if self.progress is not None and not self.iterations & 4095:
            self.progress(rep.clock, self.done, self.N, self.span)

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
            return pool[loads.index(min(loads))]  # ties: the lowest index
        a, b = (int(x) for x in self.rng.choice(len(pool), 2, replace=False))
        return pool[a] if (loads[a], a) <= (loads[b], b) else pool[b]

    def route(self, sid: int, pool: list[_Replica], t: float) -> None:
        """Queue ``sid`` at a replica of ``pool`` at time ``t`` (exact, not ``env.now``)."""
        rep = self.pick(pool, sid)
        self.replica[sid] = rep.idx
        rep.loads[rep.pos] += int(self.work[sid])
        rep.waiting.append(sid)
        if rep.sleeping:
            rep.clock = max(rep.clock, t)
            rep.poke()

    def admit(self, sid: int, t: float) -> None:
        """A request arrives at ``t``: reject it if it can never fit, else route it."""
        p = int(self.prompt[sid])
        o = int(self.out_left[sid])
        total = p + o - 1
        if self.limit_prefill_only:
            too_big = p > self.limits[0] or total > self.limits[1]
        else:
            too_big = total > self.limits[0]
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
        order = np.argsort(times, kind="stable")
        tl = times[order].tolist()
        ol = order.tolist()
        skip = self.event_skipping
        for j in range(N):
            t = tl[j]
            if skip:
                self.skip_bound = t
            if t > env.now:
                yield env.timeout(t - env.now)
            self.admit(ol[j], t)
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
    records = RequestRecords(
        arrived_at=eng.arrived_at,
        scheduled_at=eng.scheduled_at,
        first_token_at=eng.first_token_at,
        finished_at=eng.finished_at,
        prompt_tokens=requests.prompt_tokens,
        output_tokens=requests.output_tokens,
        cached_tokens=requests.cached_tokens,
        preemptions=eng.preemptions,
        replica=eng.replica,
        outcome=eng.outcome,
        reason=eng.reason,
    )
    cards = sum(p.replicas * p.cards_per_replica for p, _ in eng.pools)
    busy = [(r.busy, pool_of.cards_per_replica) for pool_of, reps in eng.pools for r in reps]
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
    )
    summary["wall_s"] = wall
    summary["iteration_model_calls"] = sum(c.calls for c in eng.caches.values())
    return SimResult(records=records, summary=summary, timeline=eng.timeline, scenario=scenario)
