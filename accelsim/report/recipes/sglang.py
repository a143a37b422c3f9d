"""``python -m sglang.launch_server`` commands (SGLang 0.5.4, on GPUs and, with
``--device npu``, on Huawei NPUs) realising a ``LaunchSpec``.

How the plan maps (SGLang's server arguments, ``DOC``): SGLang's ``--tp-size`` counts every
attention rank of a pipeline stage, ``tp * dp``; with ``dp > 1`` on an MoE model
``--enable-dp-attention --dp-size dp`` splits them into ``dp`` attention groups of ``tp`` ranks
(a dense model's ``--dp-size`` runs ``dp`` data-parallel workers). ``--ep-size`` is the plan's
``ep`` (SGLang's MoE tensor split is ``tp_size / ep_size``, the plan's ``moe_tp``). The LM head
splits over the attention group with ``--enable-dp-lm-head`` (``lm_head_tp = tp``) or over all
``tp * dp`` ranks without it; another split is an error naming ``--enable-dp-lm-head``
(``accelsim.model.launchable``). Redundant experts are ``--ep-num-redundant-experts``,
micro-batch overlap ``--enable-two-batch-overlap``, ``pp`` ``--pp-size``. The memory fraction
is ``--mem-fraction-static``, ``max_seqs`` ``--max-running-requests``; chunked prefill's budget
is ``--chunked-prefill-size`` (``-1`` turns it off, then ``--max-prefill-tokens`` caps a
prefill batch). Speculative decoding: DeepSeek's MTP and EAGLE run as ``EAGLE``, EAGLE-3 as
``EAGLE3``, with ``--speculative-num-steps k``, ``--speculative-eagle-topk 1`` and
``--speculative-num-draft-tokens k+1`` (one chain of ``k`` drafts, as the plan's). A replica
wider than a node runs one command per node (``--nnodes``, ``--node-rank``,
``--dist-init-addr``). P/D pools run with ``--disaggregation-mode prefill|decode`` over the
``mooncake`` transfer backend (``ascend`` on NPUs), behind SGLang's router in P/D mode."""

from __future__ import annotations

from accelsim.errors import AccelsimError
from accelsim.model.launchable import unlaunchable
from accelsim.report.recipes.command import (
    Flag,
    NodeRef,
    assemble_recipe,
    render_command,
)
from accelsim.report.recipes.launch import LaunchSpec, PoolLaunch
from accelsim.report.recipes.options import option_list

__all__ = ["DOC", "sglang_commands", "sglang_recipe"]

DOC = "https://docs.sglang.ai/advanced_features/server_arguments.html"
_PORT = "30000"
_DIST_PORT = "5000"
_SPEC = {"mtp": "EAGLE", "eagle": "EAGLE", "eagle3": "EAGLE3"}


def _parallel(s: LaunchSpec, p: PoolLaunch) -> list[Flag]:
    reason = unlaunchable("sglang", p.plan, s.moe)
    if reason is not None:
        raise AccelsimError(reason)
    group = p.tp * p.dp
    flags = [Flag("--tp-size", str(group), f"plan tp*dp={group} (SGLang's tp counts all)")]
    if p.dp > 1:
        flags.append(Flag("--dp-size", str(p.dp), f"plan dp={p.dp}"))
        if s.moe:
            flags.append(Flag("--enable-dp-attention", None, f"plan dp={p.dp}: DP attention"))
    if p.ep > 1:
        flags.append(Flag("--ep-size", str(p.ep), f"plan ep={p.ep}"))
    if p.pp > 1:
        flags.append(Flag("--pp-size", str(p.pp), f"plan pp={p.pp}"))
    if p.dp > 1 and p.lm_head_tp == p.tp:
        flags.append(Flag("--enable-dp-lm-head", None, f"LM head split over tp={p.tp}"))
    if p.redundant_experts:
        flags.append(
            Flag(
                "--ep-num-redundant-experts",
                str(p.redundant_experts),
                f"plan redundant={p.redundant_experts}",
            )
        )
    if p.micro_batch_overlap:
        flags.append(Flag("--enable-two-batch-overlap", None, "plan overlap"))
    return flags


def _scheduler(s: LaunchSpec, p: PoolLaunch) -> list[Flag]:
    if p.static_batching:
        raise AccelsimError(
            "sglang: scheduler policy static cannot be launched: SGLang batches continuously "
            "(--chunked-prefill-size on or -1, no static batches)"
        )
    flags = [
        Flag(
            "--mem-fraction-static",
            f"{p.memory_fraction:g}",
            "the memory fraction the memory fit used",
        ),
        Flag("--max-running-requests", str(p.max_seqs), f"scheduler max_seqs={p.max_seqs}"),
    ]
    budget = f"scheduler max_batched_tokens={p.max_batched_tokens}"
    if p.chunked_prefill:
        flags.append(Flag("--chunked-prefill-size", str(p.max_batched_tokens), budget))
    else:
        flags.append(Flag("--chunked-prefill-size", "-1", "scheduler policy continuous"))
        flags.append(Flag("--max-prefill-tokens", str(p.max_batched_tokens), budget))
    flags.append(Flag("--page-size", str(p.block_size), f"scheduler block_size={p.block_size}"))
    flags.append(Flag("--context-length", str(s.context), f"scenario context={s.context}"))
    return flags


def _speculative(s: LaunchSpec) -> list[Flag]:
    if s.speculative is None:
        return []
    sp = s.speculative
    k = sp.draft_tokens
    why = f"speculative {sp.method}, {k} draft token(s)"
    flags = [
        Flag("--speculative-algorithm", _SPEC[sp.method], why),
        Flag("--speculative-num-steps", str(k), why),
        Flag("--speculative-eagle-topk", "1", "one chain of drafts"),
        Flag("--speculative-num-draft-tokens", str(k + 1), why),
    ]
    if sp.draft_checkpoint is not None:
        flags.append(Flag("--speculative-draft-model-path", sp.draft_checkpoint, "draft model"))
    return flags


def _device(s: LaunchSpec, p: PoolLaunch) -> list[Flag]:
    huawei = s.vendor.lower() == "huawei"
    flags = [Flag("--device", "npu", f"{s.device} is an Ascend NPU")] if huawei else []
    if p.role != "serving":
        flags.append(
            Flag("--disaggregation-mode", p.role, f"the {p.role} pool of a P/D deployment")
        )
        flags.append(
            Flag(
                "--disaggregation-transfer-backend",
                "ascend" if huawei else "mooncake",
                "KV transfer between the pools",
            )
        )
    return flags


def _nodes(p: PoolLaunch, node: NodeRef) -> list[Flag]:
    if p.nodes == 1:
        return []
    return [
        Flag("--nnodes", str(p.nodes), f"a replica's {p.ranks_per_replica} ranks span nodes"),
        Flag("--node-rank", node.times(1), node.label),
        Flag("--dist-init-addr", f"{node.head}:{_DIST_PORT}", "the replica's node 0"),
    ]


def sglang_commands(
    s: LaunchSpec, p: PoolLaunch, nodes: list[NodeRef], seen: set[str]
) -> list[str]:
    """The commented SGLang launch command of pool ``p`` on each of ``nodes``."""
    opts = option_list("sglang")
    common = _parallel(s, p) + _scheduler(s, p) + _speculative(s) + _device(s, p)
    out = []
    for node in nodes:
        flags = [
            Flag("--model-path", s.checkpoint, f"model {s.model}"),
            *common,
            *_nodes(p, node),
            Flag("--port", _PORT, "API port"),
        ]
        out.append(render_command("python -m sglang.launch_server", flags, opts, seen))
    return out


def sglang_recipe(s: LaunchSpec) -> str:
    """The SGLang launch commands of every pool and node (see the module docstring)."""
    return assemble_recipe(
        s,
        option_list("sglang"),
        DOC,
        ("retract-sglang", "SGLang retracts"),
        "# P/D: route through SGLang's router in P/D mode (sglang_router.launch_router "
        "--pd-disaggregation, with the prefill and decode servers); not part of this recipe",
        lambda p, nodes, seen: sglang_commands(s, p, nodes, seen),
    )
