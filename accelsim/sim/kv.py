"""Paged KV cache of one replica and the scheduling state of requests and sequences.

Three named records replace what the engine kept as positional lists and loose arrays:

- ``RequestState``: the scheduling columns of every request (numpy, indexed by request id),
  shared by all replicas: the prompt and output as sent, what is left to prefill and to
  generate (a preempted request re-prefills its prompt plus the tokens it already generated),
  whether its KV is already in place (handed over by a prefill pool) and its preemption count;
- ``Decoding``: one decoding sequence (its block aggregates, when it joined, what it had left);
- ``PagedKV``: one replica's cache of ``kv_tokens // block_size`` blocks and the sequences that
  hold them: running (admission order), prefilling, decoding, handed over.

Assumptions (see ``accelsim.sim.engine`` for the whole replica model):

- A decoding sequence with ``g`` tokens generated holds ``ceil((prompt + g - 1) / block)``
  blocks; a prefilling one the blocks of the prompt tokens in KV so far. Cached prefix tokens
  occupy blocks of their request (no cross-request block sharing).
- Decoding sequences advance in lockstep: decode step ``s`` of the replica emits
  ``floor((s+1)k) - floor(sk)`` tokens for every sequence (``k = kn / kd`` tokens per decode
  step, a fraction), so ``cum(s) = s * kn // kd`` tokens per sequence after ``s`` steps. A
  sequence that joined with context ``c`` at step ``D`` has ``offset = c + 1 - cum(D)`` and
  holds ``offset + cum(s) - 1`` tokens at step ``s``.
- Block counts are kept as aggregates — count, the sum of offsets, block quotients and a
  histogram of block residues — so the exact paged block count of the decoding set at any step
  never loops over sequences; ``check`` recounts one by one (tests). The histogram's suffix sum
  for the residue last asked (``ext`` for ``ey``) is kept up to date by joins and leaves and
  moved one bin at a time, so consecutive steps cost O(1), not O(block_size).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

__all__ = ["Decoding", "PagedKV", "RequestState"]


@dataclass(slots=True)
class RequestState:
    """Scheduling state of every request, one numpy column per field (index: request id)."""

    prompt: np.ndarray  # prompt tokens as sent
    cached: np.ndarray  # prompt tokens served from the prefix cache (no prefill compute)
    output: np.ndarray  # output tokens as sent
    prompt_eff: np.ndarray  # tokens in KV once prefilled: the prompt (+ generated, if preempted)
    out_left: np.ndarray  # output tokens still to generate
    ready: np.ndarray  # its KV is already in place (handed over by a prefill pool)
    preemptions: np.ndarray  # times its KV was dropped (recomputed later)

    @classmethod
    def of(
        cls,
        prompt: np.ndarray,
        cached: np.ndarray,
        output: np.ndarray,
        preemptions: np.ndarray | None = None,
    ) -> RequestState:
        """The state before any scheduling; ``preemptions``, when given, is the zeroed column
        to count into (the engine passes its records' column)."""
        n = len(prompt)
        return cls(
            prompt=prompt,
            cached=cached,
            output=output,
            prompt_eff=prompt.copy(),
            out_left=output.copy(),
            ready=np.zeros(n, dtype=bool),
            preemptions=np.zeros(n, dtype=np.int32) if preemptions is None else preemptions,
        )


@dataclass(slots=True)
class Decoding:
    """One decoding sequence: its context at step ``s`` is ``offset + cum(s)`` tokens."""

    offset: int  # context tokens minus the tokens emitted per sequence before it joined
    blocks_q: int  # (offset + block - 1) // block
    blocks_r: int  # (offset + block - 1) % block: its bin in the residue histogram
    serial: int  # the replica's join count when it joined: tells live heap entries from stale
    joined_step: int  # decode step at which it joined
    left: int  # output tokens left when it joined (>= 1)
    context: int  # context tokens when it joined (the prompt as prefilled)


class PagedKV:
    """One replica's paged KV cache and the sequences holding it (see the module docstring).

    ``running`` maps every admitted sequence, in admission order, to its ``Decoding`` state, or
    to ``None`` while it is still prefilling (``prefilling`` then holds its prompt tokens in KV
    so far). ``heap`` holds (decode step at which a sequence finishes, serial, id)."""

    __slots__ = (
        "B",
        "Q",
        "S",
        "cap",
        "cnt",
        "ext",
        "ey",
        "handoff_blocks",
        "heap",
        "joins",
        "kd",
        "kn",
        "n",
        "prefill_blocks",
        "prefilling",
        "req",
        "running",
        "step",
        "watermark",
    )

    def __init__(
        self,
        req: RequestState,
        kv_tokens: int,
        block_size: int,
        watermark: float,
        tokens_per_step: Fraction,
    ) -> None:
        self.req = req
        self.B = block_size
        self.cap = kv_tokens // block_size
        self.watermark = int(self.cap * watermark)  # free blocks new admissions leave alone
        self.kn, self.kd = tokens_per_step.numerator, tokens_per_step.denominator
        self.running: dict[int, Decoding | None] = {}
        self.prefilling: dict[int, int] = {}
        self.prefill_blocks = 0
        self.handoff_blocks = 0  # prefill pool: blocks held until the KV transfer ends
        self.n = 0  # decoding sequences
        self.S = 0  # sum of their offsets
        self.Q = 0  # sum of their block quotients
        self.cnt = [0] * block_size  # residue histogram
        self.ey = 0  # the residue ``ext`` is for
        self.ext = 0  # sum(cnt[B - ey:]) (0 when ey is 0)
        self.heap: list[tuple[int, int, int]] = []
        self.step = 0  # decode steps run
        self.joins = 0

    # ---- block counts ------------------------------------------------------------------
    def cum(self, step: int) -> int:
        """Tokens emitted per sequence by the first ``step`` decode steps."""
        return step * self.kn // self.kd

    def blocks_for(self, tokens: int) -> int:
        return -(-tokens // self.B)

    def decode_blocks(self, x: int) -> int:
        """Exact blocks of the decoding set when every sequence holds ``offset + x`` tokens."""
        B = self.B
        X, y = divmod(x, B)
        ey = self.ey
        if y != ey:  # move the suffix sum to y, one bin at a time
            cnt = self.cnt
            ext = self.ext
            if y == 0:
                ext = 0
            elif y > ey:
                for r in range(B - y, B - ey):
                    ext += cnt[r]
            else:
                for r in range(B - ey, B - y):
                    ext -= cnt[r]
            self.ext, self.ey = ext, y
        return self.Q + self.n * X + self.ext

    def used_blocks(self) -> int:
        dec = self.decode_blocks(self.step * self.kn // self.kd - 1) if self.n else 0
        return dec + self.prefill_blocks + self.handoff_blocks

    def fits_at(self, x: int) -> bool:
        """The decoding set at ``offset + x`` tokens, prefills and hand-overs fit the cache."""
        return self.decode_blocks(x) + self.prefill_blocks + self.handoff_blocks <= self.cap

    def surely_fits_at(self, x: int) -> bool:
        """A quick upper bound of ``fits_at`` (every sequence one block past its quotient)."""
        other = self.prefill_blocks + self.handoff_blocks
        return self.Q + self.n * (x // self.B + 1) + other <= self.cap

    # ---- sequences entering / leaving the decoding set ----------------------------------
    def join(self, sid: int, context: int, left: int) -> None:
        """``sid`` has ``context`` tokens in KV and emitted its first token; ``left`` tokens
        remain (>= 1)."""
        D = self.step
        cumD = D * self.kn // self.kd
        a = context + 1 - cumD
        qq, rr = divmod(a + self.B - 1, self.B)
        self.n += 1
        self.S += a
        self.Q += qq
        self.cnt[rr] += 1
        if self.ey and rr >= self.B - self.ey:
            self.ext += 1
        self.joins += 1
        T = left + cumD
        finish = -(-T * self.kd // self.kn) - 1
        self.running[sid] = Decoding(a, qq, rr, self.joins, D, left, context)
        heapq.heappush(self.heap, (finish, self.joins, sid))

    def leave(self, st: Decoding) -> None:
        """Take a finished or evicted sequence out of the aggregates."""
        self.n -= 1
        self.S -= st.offset
        self.Q -= st.blocks_q
        self.cnt[st.blocks_r] -= 1
        if self.ey and st.blocks_r >= self.B - self.ey:
            self.ext -= 1

    # ---- preemption ------------------------------------------------------------------------
    def evict(self, sid: int) -> None:
        """Drop decoding sequence ``sid``'s blocks; it will re-prefill prompt + generated."""
        st = self.running.pop(sid)
        assert st is not None
        self.req.preemptions[sid] += 1
        self._release(sid, st)

    def evict_latest(self) -> int:
        """Drop the most recently admitted sequence (prefilling or decoding); its id."""
        sid, st = self.running.popitem()
        self.req.preemptions[sid] += 1
        if st is None:
            self.prefill_blocks -= self.blocks_for(self.prefilling.pop(sid))
        else:
            self._release(sid, st)
        return sid

    def _release(self, sid: int, st: Decoding) -> None:
        req = self.req
        self.leave(st)
        emitted = self.cum(self.step) - self.cum(st.joined_step)
        req.prompt_eff[sid] = st.context + 1 + emitted
        req.out_left[sid] = st.left - emitted
        req.ready[sid] = False

    # ---- tests -----------------------------------------------------------------------------
    def check(self) -> None:
        """Recount blocks sequence by sequence and compare with the aggregates (tests)."""
        cum = self.cum(self.step)
        dec = 0
        for sid, st in self.running.items():
            if st is None:
                continue
            dec += self.blocks_for(st.offset + cum - 1)
            assert st.offset + cum - 1 >= st.context, (sid, "context shrank")
        pre = sum(self.blocks_for(d) for d in self.prefilling.values())
        assert pre == self.prefill_blocks, (pre, self.prefill_blocks)
        assert dec == (self.decode_blocks(cum - 1) if self.n else 0), "block aggregate drifted"
        assert self.ext == (sum(self.cnt[self.B - self.ey :]) if self.ey else 0), "suffix drifted"
        used = dec + pre + self.handoff_blocks
        assert used <= self.cap, f"KV blocks {used} exceed capacity {self.cap}"
