"""Launch recipes: the serving framework's launch commands that realise a resolved deployment's
plan (``accelsim run|compare|size|tune --emit FORMAT``).

``launch.launch_spec`` reduces a ``Deployment`` to its launch settings; ``vllm`` (vLLM and
vLLM-Ascend) and ``sglang`` write the commands, ``k8s`` a LeaderWorkerSet manifest around
vLLM's, each flag checked against the framework's
stored option list (``options``, data in ``options/``) and commented with the plan value it
realises and the documentation it follows; ``command`` is the shared text form. A plan a
framework cannot express is an ``AccelsimError`` naming the flag (exit 2)."""

from __future__ import annotations

from accelsim.catalog.loader import Catalog
from accelsim.errors import AccelsimError
from accelsim.report.recipes.k8s import k8s_recipe
from accelsim.report.recipes.launch import launch_spec
from accelsim.report.recipes.sglang import sglang_recipe
from accelsim.report.recipes.vllm import vllm_recipe
from accelsim.run.resolve import Deployment

__all__ = ["RECIPE_FORMATS", "emit_recipe"]

RECIPE_FORMATS = ("vllm", "sglang", "vllm-ascend", "k8s")


def emit_recipe(deployment: Deployment, fmt: str, catalog: Catalog) -> str:
    """The launch recipe of ``deployment`` in format ``fmt`` (one of ``RECIPE_FORMATS``)."""
    if fmt not in RECIPE_FORMATS:
        raise AccelsimError(f"--emit {fmt!r}: expected one of {', '.join(RECIPE_FORMATS)}")
    spec = launch_spec(deployment, catalog)
    if fmt == "sglang":
        return sglang_recipe(spec)
    if fmt == "k8s":
        return k8s_recipe(spec)
    return vllm_recipe(spec, fmt)
