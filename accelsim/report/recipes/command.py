"""A launch command as text: each flag with why it is set, the documentation named once.

``Flag`` is one option (``value`` ``None`` for a switch) with ``why`` (the plan value it
realises); ``render_command`` checks every flag against the framework's stored option list
(``accelsim.report.recipes.options``) and writes a comment block, one line per flag
(``# --flag value: why``), then the shell command, one flag a line; ``recipe_header`` names the
documentation and the option list once. Values are quoted with ``shlex.quote`` (a shell
variable such as ``$HEAD_IP`` is left bare) so that the command reads back with
``shlex.split``. ``pool_header`` is the one machine-readable line per pool
(``# accelsim-pool: role=... replicas=... nodes=...``) saying how many times the commands below
it run."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass

from accelsim.report.recipes.launch import LaunchSpec, PoolLaunch
from accelsim.report.recipes.options import OptionList

__all__ = [
    "Flag",
    "NodeRef",
    "assemble_recipe",
    "plan_text",
    "pool_header",
    "recipe_header",
    "render_command",
]

#: a value naming a shell variable (``$HEAD_IP``) stays unquoted so that the shell expands it
_VARIABLE = re.compile(r"\$[A-Z_]+(:[0-9]+)?|\$\(\([A-Z_]+\*[0-9]+\)\)")


@dataclass(frozen=True)
class Flag:
    flag: str
    value: str | None
    why: str


@dataclass(frozen=True)
class NodeRef:
    """The node of a replica a command runs on: ``index`` (0: the head), or, in a manifest's
    worker template, the worker's index in the shell variable ``var`` (``index`` None);
    ``head`` is the head node's address."""

    index: int | None
    head: str = "$HEAD_IP"
    var: str = ""

    @property
    def is_head(self) -> bool:
        return self.index == 0

    def times(self, n: int) -> str:
        """This node's index times ``n``, as a number or a shell arithmetic expansion."""
        if self.index is not None:
            return str(self.index * n)
        return f"${self.var}" if n == 1 else f"$(({self.var}*{n}))"

    @property
    def label(self) -> str:
        return f"node {self.index}" if self.index is not None else "each worker node"


def render_command(program: str, flags: list[Flag], options: OptionList, seen: set[str]) -> str:
    """The comment block and the command (see the module docstring); a flag already explained
    above (its text in ``seen``, which this adds to) is not explained again."""
    for f in flags:
        options.check(f.flag, f.value)
    lines = []
    for f in flags:
        shown = f.flag if f.value is None else f"{f.flag} {f.value}"
        if shown not in seen:
            seen.add(shown)
            lines.append(f"# {shown}: {f.why}")
    parts = [program]
    for f in flags:
        if f.value is None:
            parts.append(f.flag)
        else:
            value = f.value if _VARIABLE.fullmatch(f.value) else shlex.quote(f.value)
            parts.append(f"{f.flag} {value}")
    lines.append(" \\\n    ".join(parts))
    return "\n".join(lines)


def recipe_header(
    options: OptionList, doc: str, what: str, simulated_as: str | None = None
) -> list[str]:
    """The recipe's first lines: what it launches, the framework version, where its flags are
    documented and the option list they were checked against; a note when the run was
    simulated as another framework (``simulated_as``; None: vLLM's defaults)."""
    out = [
        f"# accelsim launch recipe: {options.framework} {options.version}, {what}",
        f"# flags: {doc}; each checked against the stored option list {options.file}",
        "# HEAD_IP: the address of each replica's node 0",
    ]
    base = options.framework.removesuffix("-ascend")
    ran = simulated_as or "vllm"
    if ran.split("-")[0] != base:
        out.append(
            f"# note: the run was simulated as {ran} (its memory fraction's meaning, its "
            f"scheduler); these flags carry its plan and limits to {options.framework}"
        )
    return out


def pool_header(role: str, replicas: int, nodes: int, ranks_per_node: int, plan: str) -> str:
    """The pool's machine-readable line and a sentence for a reader."""
    return (
        f"# accelsim-pool: role={role} replicas={replicas} nodes={nodes} "
        f"ranks_per_node={ranks_per_node} plan={plan}\n"
        f"# {role} pool: {replicas} replica(s) of plan {plan}, each on {nodes} node(s) of "
        f"{ranks_per_node} rank(s); run the command(s) below once per replica, on its own nodes"
    )


def plan_text(p: PoolLaunch) -> str:
    """Pool ``p``'s plan as the recipes print it."""
    return f"tp={p.tp},dp={p.dp},ep={p.ep},pp={p.pp}"


def assemble_recipe(
    s: LaunchSpec,
    options: OptionList,
    doc: str,
    preemption: tuple[str, str],
    pd_note: str,
    commands: Callable[[PoolLaunch, list[NodeRef], set[str]], list[str]],
) -> str:
    """A whole recipe: the header, a note when the run preempted otherwise than the framework
    does (``preemption``: the framework's policy and what it does instead), the P/D routing note
    of a disaggregated deployment, then each pool's header and the command of each of its
    nodes (``commands(pool, nodes, seen)``, one text per node)."""
    what = (
        f"scenario {s.scenario}: {s.model} on {s.device} ({s.server}, "
        f"{s.ranks_per_server} ranks per node)"
    )
    out = recipe_header(options, doc, what, s.framework)
    seen: set[str] = set()
    policy, instead = preemption
    if s.preemption != policy:
        out.append(f"# note: the run assumed preemption {s.preemption}; {instead}")
    if s.disaggregated:
        out.append(pd_note)
    for p in s.pools:
        out.append("")
        out.append(pool_header(p.role, p.replicas, p.nodes, p.ranks_per_node, plan_text(p)))
        nodes = [NodeRef(i) for i in range(p.nodes)]
        for node, text in zip(nodes, commands(p, nodes, seen), strict=True):
            out.append(f"# node {node.index} of {p.nodes}")
            out.append(text)
    return "\n".join(out) + "\n"
