"""Batching and admission policies, chosen by name — what a replica's scheduler may do.

A policy is a small declarative record; the engine (``accelsim.engine``) interprets it at every
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

KV cache (all policies): paged, ``block_size`` tokens per block. Decode growth that runs out of
blocks preempts the most recently admitted sequence (vLLM's recompute preemption: its blocks
are freed, it goes back to the front of the queue and later re-prefills its prompt plus the
tokens it already generated). A request whose prompt + output cannot fit in an empty cache is
rejected on arrival with reason ``exceeds_kv_capacity``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field, model_validator

from accelsim.errors import suggest
from accelsim.schema import Frozen

__all__ = ["POLICIES", "Policy", "SchedulerConfig", "policy"]


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
