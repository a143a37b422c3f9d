"""Batching and admission policies, chosen by name — what a replica's scheduler may do.

A policy is a small declarative record; the engine (``accelsim.sim.engine``) interprets it at every
iteration boundary. No timing math lives here. Adding a policy is one entry in ``POLICIES``.

- ``continuous`` — vLLM-style continuous batching with prefill priority (vLLM v0 default):
  when waiting requests can be admitted (free sequence slots, KV blocks for the whole prompt
  plus a watermark, prompt tokens within ``max_batched_tokens`` — a single longer prompt is
  admitted alone), the iteration prefills them and running decodes pause; otherwise every
  running sequence decodes.
- ``chunked_prefill`` — Sarathi-Serve / vLLM v1: every iteration carries all running decodes
  plus prefill chunks that fill the token budget ``max_batched_tokens``; partially prefilled
  prompts continue first (FCFS), then new requests are admitted while blocks for their first
  chunk are free.
- ``static`` — fixed-batch benchmarking: when the replica is empty, up to ``batch_size``
  waiting requests are admitted (KV reserved for prompt + output), prefilled together, and
  decoded until the last one finishes; nothing joins a running batch.

KV cache (all policies): paged, ``block_size`` tokens per block. A request whose prompt + output
cannot fit in an empty cache is rejected on arrival with reason ``exceeds_kv_capacity``. What
happens under KV pressure is the scheduler's ``preemption`` (by name, ``PREEMPTIONS``):

- ``recompute`` (default; vLLM's recompute preemption, docs.vllm.ai "Optimization and Tuning",
  Preemption: "vLLM can preempt requests to free up KV cache space for other requests.
  Preempted requests are recomputed when sufficient KV cache space becomes available again"):
  admission only needs blocks for the prompt (plus the watermark); decode growth that
  runs out of blocks preempts the most recently admitted sequence, one at a time, until the
  next step fits; the victim's blocks are freed, it goes back to the *front* of the queue and
  later re-prefills its prompt plus the tokens it already generated.
- ``retract-sglang`` (SGLang's scheduler, ``python/sglang/srt/managers/schedule_policy.py``
  ``PrefillAdder.add_one_req_ignore_eos`` and ``schedule_batch.py``
  ``ScheduleBatch.retract_decode``, sgl-project/sglang): *admission reserves future KV*. A
  waiting request is admitted only if, with every running and newly admitted request growing
  to its full output, the cache never overflows when they finish in order of tokens left
  (each finish frees its tokens) — SGLang's check for requests sent with ``ignore_eos``, which
  ``bench_serving`` does by default and which a simulated request, always generating its full
  output, is; SGLang keeps one token per request in reserve (``IGNORE_EOS_RESERVE_TOKENS``). When
  a decode step still cannot grow (``check_decode_mem``), SGLang *retracts*: it sorts the batch
  by (output tokens, -input tokens), keeping those with the most output, and frees requests from the
  other end — at least one, then until the next step fits, always keeping one (with
  speculative decoding it does not sort and retracts from the back of the batch, i.e. the
  latest joined). A retracted request goes to the *back* of the waiting queue
  (``Scheduler._add_request_to_queue``) and is re-prefilled (prompt + generated tokens) when
  admission lets it in again (a P/D decode server offloads the retracted KV to host memory
  instead, ``ScheduleBatch.release_req``; the simulation recomputes it as for ``recompute``).
  The admission reservation applies to requests that need a prefill; one whose KV arrives from
  a prefill pool is admitted when its blocks fit. SGLang's ``new_token_ratio`` estimate (0.7
  at start, decaying to 0.098 over 600 decode steps, reset when idle, re-estimated as
  ``(decoded + 20 n) / max_new`` over the survivors of a retraction) discounts the running
  requests' remaining outputs in a first, coarser budget check; it applies fully to requests
  without ``ignore_eos`` (whose ``max_new_tokens`` exceeds the real output), which a simulated
  request, having no separate ``max_new_tokens``, is not.
- ``no-evict`` (TensorRT-LLM's default capacity scheduler, ``CapacitySchedulerPolicy.
  GUARANTEED_NO_EVICT``: "guarantee that a started request is never paused", TensorRT-LLM
  performance-tuning guide, "Useful Runtime Options"): admission reserves every request's KV to
  its last token — a waiting request is admitted only if the blocks of all running and admitted
  requests at their full prompt + output, plus its own, fit the cache at once — and nothing is
  ever preempted. No free-block watermark. On a P/D prefill pool, where requests leave after
  prefill, admission needs only the prompt's blocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field, model_validator

from accelsim.catalog.schema import Frozen
from accelsim.errors import suggest

__all__ = ["POLICIES", "PREEMPTIONS", "Policy", "SchedulerConfig", "policy"]

#: What a replica does under KV pressure (see the module docstring).
PREEMPTIONS = ("recompute", "retract-sglang", "no-evict")


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
