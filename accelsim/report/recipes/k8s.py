"""A Kubernetes manifest realising a ``LaunchSpec``: one LeaderWorkerSet per pool
(``leaderworkerset.x-k8s.io/v1``, the multi-node API vLLM's Kubernetes guide deploys with).

Each pool is ``replicas`` groups of ``size = nodes`` pods, one pod per node holding all its
accelerators (``nvidia.com/gpu`` on NVIDIA, ``huawei.com/Ascend910`` from Huawei's Ascend
device plugin on Ascend); the leader pod runs the node-0 command, each worker the command of
its index (``LWS_WORKER_INDEX``) with the leader's address (``LWS_LEADER_ADDRESS``), both set
by LeaderWorkerSet. The commands are ``accelsim.report.recipes.vllm``'s (vLLM on NVIDIA in
``vllm/vllm-openai``, vLLM-Ascend on Huawei in ``quay.io/ascend/vllm-ascend``), so the same
flags, checked against the same option lists; a card of another vendor has no image recorded
here, an error. The flag explanations are YAML comments above each pool."""

from __future__ import annotations

from accelsim.errors import AccelsimError
from accelsim.report.recipes.command import NodeRef
from accelsim.report.recipes.launch import LaunchSpec, PoolLaunch
from accelsim.report.recipes.options import option_list
from accelsim.report.recipes.vllm import IMAGE, vllm_commands

__all__ = ["DOC", "k8s_recipe"]

DOC = (
    "https://lws.sigs.k8s.io/docs/ (LeaderWorkerSet v1), "
    "https://docs.vllm.ai/en/v0.13.0/deployment/frameworks/lws.html"
)
_RESOURCE = {"nvidia": "nvidia.com/gpu", "huawei": "huawei.com/Ascend910"}
_LEADER = NodeRef(0, head="$LWS_LEADER_ADDRESS")
_WORKER = NodeRef(None, head="$LWS_LEADER_ADDRESS", var="LWS_WORKER_INDEX")


def _framework(s: LaunchSpec) -> str:
    vendor = s.vendor.lower()
    if vendor not in _RESOURCE:
        raise AccelsimError(f"k8s: no container image or device resource recorded for {s.vendor}")
    return "vllm-ascend" if vendor == "huawei" else "vllm"


def _container(role: str, image: str, resource: str, count: int, text: str) -> list[str]:
    body = [line for line in text.splitlines() if not line.startswith("#")]
    return [
        "        containers:",
        f"        - name: {role}",
        f"          image: {image}",
        "          command: [sh, -c]",
        "          args:",
        "          - |",
        *(f"            {line}" for line in body),
        "          resources:",
        f"            limits: {{{resource}: {count}}}",
        "          ports:",
        "          - containerPort: 8000",
    ]


def _pool(s: LaunchSpec, fw: str, p: PoolLaunch, seen: set[str]) -> list[str]:
    resource = _RESOURCE[s.vendor.lower()]
    cards = -(-p.ranks_per_node // s.dies)  # the device plugin counts cards, a plan ranks
    nodes = [_LEADER] + ([_WORKER] if p.nodes > 1 else [])
    texts = vllm_commands(s, fw, p, nodes, seen)
    comments = [line for t in texts for line in t.splitlines() if line.startswith("#")]
    name = f"{s.scenario}-{p.role}".lower().replace("_", "-")
    out = [
        "---",
        f"# accelsim-pool: role={p.role} replicas={p.replicas} nodes={p.nodes} "
        f"ranks_per_node={p.ranks_per_node}",
        *comments,
        "apiVersion: leaderworkerset.x-k8s.io/v1",
        "kind: LeaderWorkerSet",
        "metadata:",
        f"  name: {name}",
        "spec:",
        f"  replicas: {p.replicas}  # pool replicas",
        "  leaderWorkerTemplate:",
        f"    size: {p.nodes}  # nodes per replica",
        "    leaderTemplate:" if p.nodes > 1 else "    workerTemplate:",
        "      spec:",
        *_container("leader", IMAGE[fw], resource, cards, texts[0]),
    ]
    if p.nodes > 1:
        out += [
            "    workerTemplate:",
            "      spec:",
            *_container("worker", IMAGE[fw], resource, cards, texts[1]),
        ]
    return out


def k8s_recipe(s: LaunchSpec) -> str:
    """The LeaderWorkerSet manifest of every pool (see the module docstring)."""
    fw = _framework(s)
    opts = option_list(fw)
    out = [
        f"# accelsim launch manifest: {opts.framework} {opts.version} on LeaderWorkerSet, "
        f"scenario {s.scenario}: {s.model} on {s.device} ({s.server})",
        f"# manifest: {DOC}; flags checked against the stored option list {opts.file}",
    ]
    seen: set[str] = set()
    for p in s.pools:
        out += _pool(s, fw, p, seen)
    return "\n".join(out) + "\n"
