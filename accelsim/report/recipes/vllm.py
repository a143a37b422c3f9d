"""``vllm serve`` commands (vLLM 0.13.0 on NVIDIA/AMD GPUs, vLLM-Ascend 0.13.0 on Huawei NPUs)
realising a ``LaunchSpec``.

How the plan maps (vLLM's documentation, ``DOC``): ``--tensor-parallel-size`` is ``tp``,
``--data-parallel-size`` the attention data-parallel ``dp``, ``--pipeline-parallel-size``
``pp``, ``--enable-expert-parallel`` an ``ep`` of ``tp * dp``; the plans vLLM cannot launch
(``ep`` neither 1 nor ``tp * dp``, an LM head split other than ``tp``) are
``accelsim.model.launchable``'s, an error naming the flag. Redundant
experts are EPLB's (``--enable-eplb``, ``--eplb-config``), micro-batch overlap is dual-batch
overlap (``--enable-dbo``). A replica wider than a server runs one command per node: the
data-parallel ranks split over nodes (``--data-parallel-size-local``, the head's
``--data-parallel-address``, ``--data-parallel-start-rank`` and ``--headless`` on the others),
or, when one data-parallel rank's ``tp * pp`` spans nodes and ``dp`` is 1, ``--nnodes``,
``--node-rank`` and ``--master-addr``; a replica that needs both is an error naming
``--data-parallel-size-local``. Static batching has no vLLM equivalent (an error naming
``--enable-chunked-prefill``). P/D pools each run with ``--kv-transfer-config``: the NIXL
connector on GPUs (``kv_both``, as vLLM's NIXL guide), vLLM-Ascend's Mooncake connector on
NPUs (``kv_producer`` / ``kv_consumer``), behind a proxy that sends each request to a prefill
then a decode instance."""

from __future__ import annotations

import json

from accelsim.errors import AccelsimError
from accelsim.model.launchable import unlaunchable
from accelsim.report.recipes.command import (
    Flag,
    NodeRef,
    assemble_recipe,
    plan_text,
    render_command,
)
from accelsim.report.recipes.launch import LaunchSpec, PoolLaunch
from accelsim.report.recipes.options import OptionList, option_list

__all__ = ["DOC", "IMAGE", "vllm_commands", "vllm_recipe"]

#: where each framework's flags are documented
DOC = {
    "vllm": "https://docs.vllm.ai/en/v0.13.0/configuration/engine_args.html",
    "vllm-ascend": "https://vllm-ascend.readthedocs.io/en/v0.13.0/ (vllm serve engine args)",
}
#: the container image of each release (vLLM's and vLLM-Ascend's published images)
IMAGE = {"vllm": "vllm/vllm-openai:v0.13.0", "vllm-ascend": "quay.io/ascend/vllm-ascend:v0.13.0"}
_RPC_PORT = "13345"
_PORT = "8000"


def _parallel(fw: str, p: PoolLaunch, moe: bool) -> list[Flag]:
    flags = [Flag("--tensor-parallel-size", str(p.tp), f"plan tp={p.tp}")]
    if p.pp > 1:
        flags.append(Flag("--pipeline-parallel-size", str(p.pp), f"plan pp={p.pp}"))
    if p.dp > 1:
        flags.append(Flag("--data-parallel-size", str(p.dp), f"plan dp={p.dp} (DP attention)"))
    reason = unlaunchable(fw, p.plan, moe)
    if reason is not None:
        raise AccelsimError(reason)
    if moe and p.ep > 1:
        flags.append(Flag("--enable-expert-parallel", None, f"plan ep={p.ep} = tp*dp"))
    if p.redundant_experts:
        cfg = json.dumps({"num_redundant_experts": p.redundant_experts}, separators=(",", ":"))
        flags.append(Flag("--enable-eplb", None, "plan redundant experts need EPLB"))
        flags.append(Flag("--eplb-config", cfg, f"plan redundant={p.redundant_experts}"))
    if p.micro_batch_overlap:
        flags.append(Flag("--enable-dbo", None, "plan overlap (micro-batch overlap)"))
    return flags


def _scheduler(fw: str, s: LaunchSpec, p: PoolLaunch) -> list[Flag]:
    if p.static_batching:
        raise AccelsimError(
            f"{fw}: scheduler policy static cannot be launched: vLLM batches continuously "
            "(--enable-chunked-prefill on or off, no static batches)"
        )
    chunked = "--enable-chunked-prefill" if p.chunked_prefill else "--no-enable-chunked-prefill"
    return [
        Flag(
            "--gpu-memory-utilization",
            f"{p.memory_fraction:g}",
            "the memory fraction the memory fit used",
        ),
        Flag("--max-num-seqs", str(p.max_seqs), f"scheduler max_seqs={p.max_seqs}"),
        Flag(
            "--max-num-batched-tokens",
            str(p.max_batched_tokens),
            f"scheduler max_batched_tokens={p.max_batched_tokens}",
        ),
        Flag(
            chunked,
            None,
            f"scheduler policy {'chunked_prefill' if p.chunked_prefill else 'continuous'}",
        ),
        Flag("--block-size", str(p.block_size), f"scheduler block_size={p.block_size}"),
        Flag("--max-model-len", str(s.context), f"scenario context={s.context}"),
    ]


def _speculative(opts: OptionList, s: LaunchSpec) -> list[Flag]:
    if s.speculative is None:
        return []
    sp = s.speculative
    method = sp.method
    if method == "mtp":
        method = "deepseek_mtp" if s.family == "deepseek" else "mtp"
    opts.check_value("speculative_config.method", method)
    cfg: dict[str, object] = {"method": method, "num_speculative_tokens": sp.draft_tokens}
    if sp.draft_checkpoint is not None:
        cfg["model"] = sp.draft_checkpoint
    why = f"speculative {sp.method}, {sp.draft_tokens} draft token(s)"
    return [Flag("--speculative-config", json.dumps(cfg, separators=(",", ":")), why)]


def _kv_transfer(fw: str, opts: OptionList, role: str) -> list[Flag]:
    if role == "serving":
        return []
    if fw == "vllm-ascend":
        cfg = {
            "kv_connector": "MooncakeConnectorV1",
            "kv_role": "kv_producer" if role == "prefill" else "kv_consumer",
        }
    else:
        cfg = {"kv_connector": "NixlConnector", "kv_role": "kv_both"}
    opts.check_value("kv_transfer_config.kv_connector", cfg["kv_connector"])
    opts.check_value("kv_transfer_config.kv_role", cfg["kv_role"])
    return [
        Flag(
            "--kv-transfer-config",
            json.dumps(cfg, separators=(",", ":")),
            f"the {role} pool of a P/D deployment sends/receives KV",
        )
    ]


def _quantization(fw: str, s: LaunchSpec) -> list[Flag]:
    if fw == "vllm-ascend" and s.dtype in ("int8", "w8a8"):
        return [Flag("--quantization", "ascend", f"dtype {s.dtype}: msModelSlim W8A8 weights")]
    return []


def _nodes(fw: str, p: PoolLaunch, node: NodeRef) -> list[Flag]:
    if p.nodes == 1:
        return []
    stage = p.tp * p.pp
    if stage <= p.ranks_per_node and p.ranks_per_node % stage == 0:
        local = p.ranks_per_node // stage
        flags = [
            Flag("--data-parallel-size-local", str(local), f"{local} DP rank(s) per node"),
            Flag("--data-parallel-address", node.head, "the replica's node 0"),
            Flag("--data-parallel-rpc-port", _RPC_PORT, "DP coordination port"),
        ]
        if not node.is_head:
            flags.append(Flag("--data-parallel-start-rank", node.times(local), node.label))
            flags.append(Flag("--headless", None, "no API server on nodes past the first"))
        return flags
    if p.dp == 1:
        return [
            Flag("--nnodes", str(p.nodes), f"tp*pp={stage} spans {p.nodes} nodes"),
            Flag("--node-rank", node.times(1), node.label),
            Flag("--master-addr", node.head, "the replica's node 0"),
        ]
    raise AccelsimError(
        f"{fw}: plan {plan_text(p)} cannot be launched: one DP rank's tp*pp={stage} does not "
        f"pack whole onto {p.ranks_per_node}-rank nodes (--data-parallel-size-local)"
    )


def _check_vendor(s: LaunchSpec, fw: str) -> None:
    huawei = s.vendor.lower() == "huawei"
    if fw == "vllm" and huawei:
        raise AccelsimError(f"vllm: {s.device} is a Huawei NPU; use --emit vllm-ascend")
    if fw == "vllm-ascend" and not huawei:
        raise AccelsimError(f"vllm-ascend: {s.device} is not a Huawei NPU; use --emit vllm")


def vllm_commands(
    s: LaunchSpec, fw: str, p: PoolLaunch, nodes: list[NodeRef], seen: set[str]
) -> list[str]:
    """The commented ``vllm serve`` command of pool ``p`` on each of ``nodes``."""
    _check_vendor(s, fw)
    opts = option_list(fw)
    common = (
        _parallel(fw, p, s.moe)
        + _scheduler(fw, s, p)
        + _speculative(opts, s)
        + _kv_transfer(fw, opts, p.role)
        + _quantization(fw, s)
    )
    out = []
    for node in nodes:
        flags = [*common, *_nodes(fw, p, node), Flag("--port", _PORT, "API port")]
        out.append(render_command(f"vllm serve {s.checkpoint}", flags, opts, seen))
    return out


def vllm_recipe(s: LaunchSpec, fw: str = "vllm") -> str:
    """The ``vllm serve`` commands of every pool and node (see the module docstring)."""
    _check_vendor(s, fw)
    return assemble_recipe(
        s,
        option_list(fw),
        DOC[fw],
        ("recompute", "vLLM recomputes"),
        "# P/D: a proxy sends each request to a prefill instance, then a decode instance "
        "(vLLM's disaggregated-serving proxy examples); not part of this recipe",
        lambda p, nodes, seen: vllm_commands(s, fw, p, nodes, seen),
    )
