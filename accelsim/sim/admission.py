"""Batching, admission and preemption policies, by name: what a replica's scheduler may do.

No timing math lives here. A batching policy (``Policy``, by ``SchedulerConfig.policy``) is a
small declarative record the engine (``accelsim.sim.engine``) interprets at every iteration
boundary; adding one is one entry in ``POLICIES``:

- ``continuous`` — vLLM-style continuous batching with prefill priority (vLLM v0 default):
  when waiting requests can be admitted (free sequence slots, KV blocks for the whole prompt
  plus a watermark, prompt tokens within ``max_batched_tokens`` — a single longer prompt is
  admitted alone), the iteration prefills them and running decodes pause; otherwise every
  running sequence decodes.
- ``chunked_prefill`` — Sarathi-Serve / vLLM v1: every iteration carries all running decodes
  plus prefill chunks that fill the token budget ``max_batched_tokens``; partially prefilled
  prompts continue first (FCFS), then new requests are admitted while blocks for their first
  chunk are free; one prompt's chunk is at most ``chunk_tokens`` (a DP rank's own budget).
- ``static`` — fixed-batch benchmarking: when the replica is empty, up to ``batch_size``
  waiting requests are admitted (KV reserved for prompt + output), prefilled together, and
  decoded until the last one finishes; nothing joins a running batch.

KV cache (all policies): paged, ``block_size`` tokens per block (``accelsim.sim.kv``). A request
whose prompt + output cannot fit in an empty cache is rejected on arrival with reason
``exceeds_kv_capacity``. What happens under KV pressure is the scheduler's ``preemption``, a
class in ``PREEMPTIONS`` (each class's docstring gives its rules and their sources):

- ``recompute`` (``Recompute``, the default): vLLM's recompute preemption;
- ``retract-sglang`` (``RetractSGLang``): SGLang's reserving admission and retraction;
- ``no-evict`` (``NoEvict``): TensorRT-LLM's ``GUARANTEED_NO_EVICT``.

A preemption policy is made per replica over its ``PagedKV``; the engine asks it at every
iteration boundary: ``open_round`` before an admission round, ``admits`` for each request
whose blocks fit (the policy may reserve more, or refuse), ``watermark`` whether the free-block
watermark gates new admissions, ``make_room`` before a decode step (evict until the step's
blocks fit), ``idle`` when the replica runs out of work and ``finished`` when a request ends.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from accelsim.catalog.schema import Frozen
from accelsim.errors import suggest
from accelsim.sim.kv import PagedKV, RequestState

__all__ = [
    "POLICIES",
    "PREEMPTIONS",
    "NoEvict",
    "Policy",
    "Preemption",
    "Recompute",
    "RetractSGLang",
    "SchedulerConfig",
    "policy",
]

# SGLang scheduler constants (sglang/srt/environ.py defaults; schedule_policy.py)
SGLANG_INIT_NEW_TOKEN_RATIO = 0.7  # x schedule_conservativeness (default 1.0)
SGLANG_MIN_NEW_TOKEN_RATIO_FACTOR = 0.14
SGLANG_NEW_TOKEN_RATIO_DECAY_STEPS = 600
SGLANG_RETRACT_DECODE_STEPS = 20
SGLANG_CLIP_MAX_NEW_TOKENS = 4096
SGLANG_IGNORE_EOS_RESERVE_TOKENS = 1


@dataclass(frozen=True)
class Policy:
    """What a scheduler policy allows (interpreted by the engine)."""

    name: str
    mixed: bool  # decodes and prefill chunks share an iteration (chunked prefill)
    chunked: bool  # a prompt may be split over iterations
    admit_while_running: bool  # new requests join a running batch
    reserve_output: bool  # admission reserves KV for prompt + output (no preemption)
    description: str


POLICIES: dict[str, Policy] = {
    p.name: p
    for p in (
        Policy(
            "continuous",
            mixed=False,
            chunked=False,
            admit_while_running=True,
            reserve_output=False,
            description="continuous batching, prefill first (vLLM v0)",
        ),
        Policy(
            "chunked_prefill",
            mixed=True,
            chunked=True,
            admit_while_running=True,
            reserve_output=False,
            description="decodes + prefill chunks in a token budget (Sarathi-Serve, vLLM v1)",
        ),
        Policy(
            "static",
            mixed=False,
            chunked=False,
            admit_while_running=False,
            reserve_output=True,
            description="fixed batches run to completion",
        ),
    )
}

_ALIASES = {"vllm": "continuous", "chunked": "chunked_prefill", "sarathi": "chunked_prefill"}


def policy(name: str) -> Policy:
    """The policy called ``name`` (aliases: vllm, chunked, sarathi)."""
    key = _ALIASES.get(name, name)
    if key not in POLICIES:
        raise suggest(name, list(POLICIES), "scheduler policy")
    return POLICIES[key]


# ---- preemption policies ---------------------------------------------------------------------


class Preemption:
    """What a replica does under KV pressure (see the module docstring for the protocol).

    Made per replica over its ``kv`` and the shared request state ``req``; ``prefill_only``
    is true on a P/D prefill pool, where requests leave after prefill."""

    name: ClassVar[str]

    def __init__(self, kv: PagedKV, req: RequestState, prefill_only: bool) -> None:
        self.kv = kv
        self.req = req
        self.prefill_only = prefill_only

    @property
    def watermark(self) -> bool:
        """Whether the free-block watermark gates new admissions (while any request runs);
        fixed for a policy object (the engine reads it once per replica)."""
        return True

    def open_round(self) -> None:
        """An admission round starts (requests are then offered to ``admits`` in order)."""

    def admits(self, sid: int, need: int, free: int, ready: bool) -> bool:
        """Whether request ``sid`` may join: its ``need`` blocks fit the ``free`` ones
        (watermark included); ``ready``: its KV is already in place (no prefill)."""
        return True

    def make_room(self, waiting: deque[int]) -> None:
        """Before a decode step: evict the latest admitted sequences (to the front of
        ``waiting``) until the step's blocks fit."""
        kv = self.kv
        x = (kv.step + 1) * kv.kn // kv.kd - 1  # tokens held past the offsets after the step
        if kv.surely_fits_at(x):
            return
        while kv.n and not kv.fits_at(x):
            waiting.appendleft(kv.evict_latest())

    def idle(self) -> None:
        """The replica has nothing to run."""

    def finished(self, sid: int) -> None:
        """Request ``sid`` emitted its last token on this replica."""


class Recompute(Preemption):
    """vLLM's recompute preemption (docs.vllm.ai "Optimization and Tuning", Preemption: "vLLM
    can preempt requests to free up KV cache space for other requests. Preempted requests are
    recomputed when sufficient KV cache space becomes available again"): admission only needs
    blocks for the prompt (plus the watermark); decode growth that runs out of blocks preempts
    the most recently admitted sequence, one at a time, until the next step fits; the victim's
    blocks are freed, it goes back to the *front* of the queue and later re-prefills its prompt
    plus the tokens it already generated."""

    name = "recompute"


class RetractSGLang(Preemption):
    """SGLang's scheduler (``python/sglang/srt/managers/schedule_policy.py``
    ``PrefillAdder.add_one_req_ignore_eos`` and ``schedule_batch.py``
    ``ScheduleBatch.retract_decode``, sgl-project/sglang): *admission reserves future KV*.

    A waiting request is admitted only if, with every running and newly admitted request growing
    to its full output, the cache never overflows when they finish in order of tokens left (each
    finish frees its tokens) — SGLang's check for requests sent with ``ignore_eos``, which
    ``bench_serving`` does by default and which a simulated request, always generating its full
    output, is; SGLang keeps one token per request in reserve (``IGNORE_EOS_RESERVE_TOKENS``).
    No free-block watermark. When a decode step still cannot grow (``check_decode_mem``), SGLang
    *retracts*: it sorts the batch by (output tokens, -input tokens), keeping those with the
    most output, and frees requests from the other end — at least one, then until the next step
    fits, always keeping one (with speculative decoding it does not sort and retracts from the
    back of the batch, i.e. the latest joined). A retracted request goes to the *back* of the
    waiting queue (``Scheduler._add_request_to_queue``) and is re-prefilled (prompt + generated
    tokens) when admission lets it in again (a P/D decode server offloads the retracted KV to
    host memory instead, ``ScheduleBatch.release_req``; the simulation recomputes it as for
    ``recompute``). The admission reservation applies to requests that need a prefill, and not
    on a prefill pool; one whose KV arrives from a prefill pool is admitted when its blocks fit.

    SGLang's ``new_token_ratio`` estimate (0.7 at start, decaying to 0.098 over 600 decode
    steps, reset when idle, re-estimated as ``(decoded + 20 n) / max_new`` over the survivors
    of a retraction) discounts the running requests' remaining outputs in a first, coarser
    budget check; it applies fully to requests without ``ignore_eos`` (whose ``max_new_tokens``
    exceeds the real output), which a simulated request, having no separate
    ``max_new_tokens``, is not. Each admission check walks the running set, O(n) per attempt."""

    name = "retract-sglang"

    def __init__(self, kv: PagedKV, req: RequestState, prefill_only: bool) -> None:
        super().__init__(kv, req, prefill_only)
        self.ratio = SGLANG_INIT_NEW_TOKEN_RATIO
        self.ratio_min = SGLANG_INIT_NEW_TOKEN_RATIO * SGLANG_MIN_NEW_TOKEN_RATIO_FACTOR
        self.ratio_decay = (self.ratio - self.ratio_min) / SGLANG_NEW_TOKEN_RATIO_DECAY_STEPS
        self.ratio_step = -1
        self.admitted: list[tuple[int, int, int]] = []  # this round: (id, tokens left, held)

    @property
    def watermark(self) -> bool:
        return False

    def open_round(self) -> None:
        self.admitted = []

    def admits(self, sid: int, need: int, free: int, ready: bool) -> bool:
        if ready or self.prefill_only:
            return True
        if not (self.kv.running or self.admitted):
            # an empty replica takes its head request whatever the estimate: a lone request
            # that passed the arrival check always fits
            return True
        if not self._fits_to_completion(sid, need, free):
            return False
        self.admitted.append((sid, int(self.req.out_left[sid]), int(self.req.prompt_eff[sid])))
        return True

    def _decoding_states(self) -> tuple[list[int], list[int], list[int]]:
        """Tokens left, tokens held and output tokens so far of every decoding sequence."""
        kv = self.kv
        kn, kd = kv.kn, kv.kd
        cum = kv.step * kn // kd
        out_total = self.req.output
        left, held, done = [], [], []
        for sid, st in kv.running.items():
            if st is None:
                continue
            rest = st.left - (cum - st.joined_step * kn // kd)  # tokens left to generate
            left.append(rest)
            held.append(st.offset + cum - 1)
            done.append(int(out_total[sid]) - rest)
        return left, held, done

    def _fits_to_completion(self, sid: int, need: int, free: int) -> bool:
        """SGLang's ``PrefillAdder.add_one_req_ignore_eos`` for ``sid``, whose prefill takes
        ``need`` of the ``free`` blocks left after this round's admitted requests took theirs:
        the prompt fits the ratio-discounted budget, and every running and admitted request can
        grow to its full output when they finish in order of tokens left."""
        req = self.req
        B = self.kv.B
        admitted = self.admitted
        prompt = int(req.prompt_eff[sid])
        out = int(req.out_left[sid])
        left, held, _done = self._decoding_states()
        this_round = {x[0] for x in admitted}
        for psid in self.kv.prefilling:  # partially prefilled: the whole prompt will be held
            if psid in this_round:
                continue
            left.append(int(req.out_left[psid]))
            held.append(int(req.prompt_eff[psid]))
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

    def make_room(self, waiting: deque[int]) -> None:
        """Retract as SGLang does when the next step does not fit (then evict the latest, as
        ``recompute``, should it still not fit); decay the ratio when nothing had to go."""
        kv = self.kv
        x = (kv.step + 1) * kv.kn // kv.kd - 1  # tokens held past the offsets after the step
        if kv.surely_fits_at(x) or kv.fits_at(x):
            self._decay_ratio()
            return
        self._retract(lambda: kv.fits_at(x), waiting)
        while kv.n and not kv.fits_at(x):
            waiting.appendleft(kv.evict_latest())

    def _decay_ratio(self) -> None:
        """One decode step without retraction lowers the estimate (once per step)."""
        if self.ratio_step != self.kv.step:
            self.ratio_step = self.kv.step
            self.ratio = max(self.ratio - self.ratio_decay, self.ratio_min)

    def _retract(self, fits: Callable[[], bool], waiting: deque[int]) -> None:
        """SGLang's ``ScheduleBatch.retract_decode``: free at least one decoding sequence, then
        more until ``fits()``, always keeping one; victims are those with the fewest output
        tokens (then the longest prompt) — with speculative decoding the latest joined. The
        ratio estimate becomes ``(decoded + 20 n) / (max_new + 1)`` of the survivors."""
        kv = self.kv
        decoding = [(sid, st) for sid, st in kv.running.items() if st is not None]
        if kv.kn != kv.kd:  # speculative decoding: retract from the back of the batch
            decoding.sort(key=lambda x: x[1].serial)
        else:
            _left, _held, done = self._decoding_states()
            prompt = self.req.prompt
            keys = [
                (d, -int(prompt[sid]), -st.serial)
                for (sid, st), d in zip(decoding, done, strict=True)
            ]
            order = sorted(range(len(decoding)), key=lambda i: keys[i], reverse=True)
            decoding = [decoding[i] for i in order]
        first = True
        while len(decoding) > 1 and (first or not fits()):
            first = False
            sid, _st = decoding.pop()
            kv.evict(sid)
            waiting.append(sid)
        _left, _held, done = self._decoding_states()
        out_total = self.req.output
        total = sum(int(out_total[sid]) for sid, _st in decoding)
        self.ratio = min(1.0, (sum(done) + SGLANG_RETRACT_DECODE_STEPS * len(done)) / (total + 1))

    def idle(self) -> None:
        self.ratio = SGLANG_INIT_NEW_TOKEN_RATIO  # SGLang resets its estimate when idle


class NoEvict(Preemption):
    """TensorRT-LLM's default capacity scheduler (``CapacitySchedulerPolicy.
    GUARANTEED_NO_EVICT``: "guarantee that a started request is never paused", TensorRT-LLM
    performance-tuning guide, "Useful Runtime Options"): admission reserves every request's KV
    to its last token — a waiting request is admitted only if the blocks of all running and
    admitted requests at their full prompt + output, plus its own, fit the cache at once — and
    nothing is ever preempted. No free-block watermark. On a P/D prefill pool, where requests
    leave after prefill, admission needs only the prompt's blocks (as for ``recompute``).

    Each request's reservation is kept from its admission (its final length never changes
    while it runs), so an admission round sums them once, O(n)."""

    name = "no-evict"

    def __init__(self, kv: PagedKV, req: RequestState, prefill_only: bool) -> None:
        super().__init__(kv, req, prefill_only)
        self.reserved: dict[int, int] = {}  # id -> blocks reserved at admission
        self.final = 0  # blocks the running and this round's requests hold at their last step
        # tokens a last decode step may write past the output (speculative decoding)
        self.overshoot = -(-kv.kn // kv.kd) - 1

    @property
    def watermark(self) -> bool:
        return self.prefill_only

    def open_round(self) -> None:
        if not self.prefill_only:
            kv = self.kv
            self.final = sum(map(self.reserved.__getitem__, kv.running)) + kv.handoff_blocks

    def admits(self, sid: int, need: int, free: int, ready: bool) -> bool:
        """Reserve the blocks ``sid`` holds at its last step on top of those already reserved
        (an empty replica takes its head request: one that passed the arrival check always
        fits alone)."""
        if self.prefill_only:
            return True
        kv = self.kv
        tokens = int(self.req.prompt_eff[sid]) + int(self.req.out_left[sid]) - 1 + self.overshoot
        whole = kv.blocks_for(tokens)
        if self.final + whole > kv.cap and (kv.running or self.final):
            return False
        self.reserved[sid] = whole
        self.final += whole
        return True

    def finished(self, sid: int) -> None:
        self.reserved.pop(sid, None)


#: The preemption policies by ``SchedulerConfig.preemption`` name.
PREEMPTIONS: dict[str, type[Preemption]] = {p.name: p for p in (Recompute, RetractSGLang, NoEvict)}


class SchedulerConfig(Frozen):
    """Per-replica scheduler limits. Defaults follow vLLM (``max_num_seqs`` 256,
    ``max_num_batched_tokens`` 8192, 16-token blocks, 1 % free-block watermark); chunked
    prefill's budget defaults to the same ``max_batched_tokens``."""

    policy: Literal["continuous", "chunked_prefill", "static"] = "continuous"
    max_seqs: int = Field(default=256, ge=1)
    max_batched_tokens: int = Field(default=8192, ge=1)
    block_size: int = Field(default=16, ge=1)
    batch_size: int = Field(default=8, ge=1)
    kv_watermark: float = Field(default=0.01, ge=0, lt=1)
    #: ``recompute`` (vLLM), ``retract-sglang`` (SGLang's reserving admission and retraction) or
    #: ``no-evict`` (TensorRT-LLM's GUARANTEED_NO_EVICT: full reservation, never preempts).
    preemption: Literal["recompute", "retract-sglang", "no-evict"] = "recompute"
    #: The most prompt tokens one sequence computes in one chunked-prefill iteration; None: the
    #: whole ``max_batched_tokens``. A replica whose DP ranks each run their own scheduler
    #: (vLLM's data-parallel "core engine" per rank, docs/serving/data_parallel_deployment.md)
    #: has a budget of dp ranks' together, and one prompt never takes more than its rank's
    #: share (``accelsim.run.resolve`` records it for vLLM), so long prompts prefill on
    #: several ranks at once instead of one after another.
    chunk_tokens: int | None = Field(default=None, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _alias(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("policy"), str):
            data = dict(data)
            data["policy"] = _ALIASES.get(data["policy"], data["policy"])
        return data

    @property
    def rules(self) -> Policy:
        return POLICIES[self.policy]

    @property
    def preemption_policy(self) -> type[Preemption]:
        return PREEMPTIONS[self.preemption]
