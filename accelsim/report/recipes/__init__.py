"""Launch recipes: the serving framework's launch commands that realise a resolved deployment's
plan (``accelsim run|compare|size|tune --emit FORMAT``).

``launch.launch_spec`` reduces a ``Deployment`` to its launch settings; ``vllm`` (vLLM and
vLLM-Ascend) and ``sglang`` write the commands, ``k8s`` a LeaderWorkerSet manifest around
vLLM's, each flag checked against the framework's
stored option list (``options``, data in ``options/``) and commented with the plan value it
realises and the documentation it follows; ``command`` is the shared text form. A plan a
framework cannot express is an ``AccelsimError`` naming the flag (exit 2). ``emit.emit_recipe``
(here as ``emit_recipe``, imported on first use) dispatches on the format."""

from __future__ import annotations

__all__ = ["RECIPE_FORMATS", "emit_recipe"]

RECIPE_FORMATS = ("vllm", "sglang", "vllm-ascend", "k8s")


def __getattr__(name: str):
    """``emit_recipe``, imported from ``emit`` on first use (``emit`` module docstring)."""
    if name == "emit_recipe":
        import importlib

        return importlib.import_module("accelsim.report.recipes.emit").emit_recipe
    raise AttributeError(f"module 'accelsim.report.recipes' has no attribute {name!r}")
