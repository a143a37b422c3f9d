"""``emit_recipe``: the launch recipe of a resolved deployment in one of ``RECIPE_FORMATS``,
written by ``vllm``, ``sglang`` or ``k8s`` from ``launch.launch_spec``. Kept apart from the
package's ``__init__`` so that a command that only checks an ``--emit`` format (``accelsim run``
without ``--emit``) does not import the recipe writers (issue 18's start-up)."""

from __future__ import annotations

from accelsim.catalog.loader import Catalog
from accelsim.errors import AccelsimError
from accelsim.report.recipes import RECIPE_FORMATS
from accelsim.report.recipes.k8s import k8s_recipe
from accelsim.report.recipes.launch import launch_spec
from accelsim.report.recipes.sglang import sglang_recipe
from accelsim.report.recipes.vllm import vllm_recipe
from accelsim.run.resolve import Deployment

__all__ = ["emit_recipe"]


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
