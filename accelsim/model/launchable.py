"""Which parallel plans a serving framework can launch: the one rule that ``accelsim tune
--emit FRAMEWORK`` prunes its candidates by and the launch recipes
(``accelsim.report.recipes``) refuse a plan by, so that a tuned plan can always be written.

- **vLLM** (and vLLM-Ascend, the same engine arguments; vLLM 0.13.0
  ``FusedMoEParallelConfig``, documented in its data-parallel deployment guide): an MoE layer
  spans all ``tp * dp`` ranks of a pipeline stage, expert-parallel over all of them with
  ``--enable-expert-parallel`` or tensor-parallel over all of them without, so an MoE plan's
  ``ep`` is 1 or ``tp * dp``; the LM head splits over ``--tensor-parallel-size``, so
  ``lm_head_tp`` is ``tp``.
- **SGLang** (0.5.4 server arguments): ``--ep-size`` divides ``--tp-size`` (= ``tp * dp``),
  which every plan satisfies; the LM head splits over the attention group
  (``--enable-dp-lm-head``) or over all ``tp * dp`` ranks, so ``lm_head_tp`` is ``tp`` or
  ``tp * dp``.

``unlaunchable`` returns the reason (naming the flag) or ``None``; ``partition_launchable``
splits candidates (each with its pools' plans) into those a framework can launch and the others
with their reasons."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from accelsim.errors import AccelsimError
from accelsim.model.plan import ParallelPlan

__all__ = ["LAUNCH_FRAMEWORKS", "partition_launchable", "unlaunchable"]

T = TypeVar("T")

LAUNCH_FRAMEWORKS = ("vllm", "vllm-ascend", "sglang")


def unlaunchable(framework: str, plan: ParallelPlan, moe: bool) -> str | None:
    """Why ``framework`` cannot launch ``plan`` (``moe``: the model has expert layers), or
    ``None`` when it can (see the module docstring)."""
    group = plan.tp * plan.dp
    if framework in ("vllm", "vllm-ascend"):
        if moe and plan.ep not in (1, group):
            return (
                f"{framework}: plan ep={plan.ep} cannot be launched: --enable-expert-parallel "
                f"spans all tp*dp={group} ranks (vLLM's ep is 1 or tp*dp)"
            )
        if plan.head_tp != plan.tp:
            return (
                f"{framework}: plan lm_head_tp={plan.head_tp} cannot be launched: vLLM splits "
                f"the LM head over --tensor-parallel-size={plan.tp}"
            )
        return None
    if framework == "sglang":
        if plan.head_tp not in (plan.tp, group):
            return (
                f"sglang: plan lm_head_tp={plan.head_tp} cannot be launched: the LM head splits "
                f"over tp={plan.tp} (--enable-dp-lm-head) or tp*dp={group}"
            )
        return None
    raise AccelsimError(f"framework {framework!r}: expected one of {', '.join(LAUNCH_FRAMEWORKS)}")


def partition_launchable(
    items: Iterable[T], plans: Callable[[T], Iterable[ParallelPlan]], framework: str, moe: bool
) -> tuple[list[T], list[tuple[T, str]]]:
    """``(launchable, [(item, reason)])``: each item whose every plan (``plans(item)``: one per
    pool) ``framework`` can launch, and the others with the first reason."""
    ok: list[T] = []
    out: list[tuple[T, str]] = []
    for item in items:
        reasons = [r for plan in plans(item) if (r := unlaunchable(framework, plan, moe))]
        if reasons:
            out.append((item, reasons[0]))
        else:
            ok.append(item)
    return ok, out
