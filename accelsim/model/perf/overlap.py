"""Micro-batch overlap (``plan.micro_batch_overlap``): two half batches hide each other's
communication.

The batch is split in two halves; each half's compute hides the other's communication:
``C_h + M_h + max(M_h, C_h + s M_h)`` per layer, with both halves reading the weights. ``s`` is
the share of the card's compute units the communication kernels occupy while they run (compute
overlapped with them proceeds at ``1 - s`` of its rate until the communication ends): on
SM-based GPUs the EP dispatch/combine of prefill tokens runs DeepEP's "normal" kernels, which
take ``COMM_SMS`` = 24 SMs (DeepEP README, "Example use in model training or inference
prefilling": ``Buffer.set_num_sms(24)``; DeepSeek-V3 technical report, arXiv 2412.19437, sec.
3.2.2: 20 SMs suffice to saturate IB and NVLink), so ``s = 24 / 132`` on Hopper; decode tokens
use DeepEP's low-latency kernels, which occupy no SMs (hook-based receive, same README), and
``s`` scales by the prefill share of the tokens. On Ascend the dispatch/combine run on the
vector (AIV) cores and the DMA engines, not on the cube (AIC) cores the GEMMs use
(``compute_unit_kind`` other than ``SM``: ``s = 0``). The breakdown then shows the exposed part
of communication; ``StepTime.hidden_comm_s`` says how much was hidden.
"""

from __future__ import annotations

from accelsim.catalog.devices import Card
from accelsim.model.perf.ops import Group, Ops

__all__ = ["COMM_SMS", "comm_unit_share", "overlapped"]

#: SMs DeepEP's normal (prefill) dispatch/combine kernels occupy (see the module docstring).
COMM_SMS = 24


def comm_unit_share(card: Card, ep: int, g: Group) -> float:
    """Share of compute units the EP communication kernels hold while they run (see the
    module docstring): ``COMM_SMS / SMs`` for the prefill share of an SM-GPU's tokens."""
    if card.compute_unit_kind != "SM" or ep <= 1 or g.tokens <= 0:
        return 0.0
    return min(COMM_SMS / card.compute_units, 1.0) * g.pre_tokens / g.tokens


def overlapped(half: Ops, s_comm: float) -> tuple[Ops, float]:
    """One layer run as two micro-batches of cost ``half`` each, communication kernels holding
    ``s_comm`` of the compute units: the layer with only its exposed communication, and the
    communication seconds hidden."""
    c_h, m_h = half.compute_time(), half.comm_time()
    layer = Ops()
    layer.merge(half, 2.0)
    exposed = c_h + m_h + max(m_h, c_h + s_comm * m_h) - 2.0 * c_h
    if m_h > 0:
        layer.scale_comm(exposed / (2.0 * m_h))
    return layer, 2.0 * m_h - exposed
