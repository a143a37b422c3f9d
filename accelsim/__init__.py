"""accelsim: simulate and cost AI accelerator clusters serving sparse Mixture-of-Experts LLMs.

The public API (notebook use) is re-exported here; see README.md for a tour.
"""

from accelsim.errors import AccelsimError
from accelsim.version import __version__ as __version__

__all__ = ["AccelsimError"]


# Everything else imports on first use: ``import accelsim.cli`` (every command) runs this file,
# and the catalog's schemas alone take about 0.3 s to build (issue 18's start-up targets).
_LAZY = {
    "Catalog": ("accelsim.catalog.loader", "Catalog"),
    "load_catalog": ("accelsim.catalog.loader", "load_catalog"),
    "Precision": ("accelsim.dtypes", "Precision"),
    "precision": ("accelsim.dtypes", "precision"),
    "MemoryFit": ("accelsim.model.plan", "MemoryFit"),
    "ParallelPlan": ("accelsim.model.plan", "ParallelPlan"),
    "fit": ("accelsim.model.plan", "fit"),
    "fit_best": ("accelsim.model.plan", "fit_best"),
    "minimum_cards": ("accelsim.model.plan", "minimum_cards"),
    "parse_plan": ("accelsim.model.plan", "parse_plan"),
    "compare": ("accelsim.questions.compare", "compare"),
    "estimate_tco": ("accelsim.run.pricing", "estimate_tco"),
    "size_cluster": ("accelsim.questions.sizing", "size_cluster"),
    "load_scenario": ("accelsim.run.resolve", "load_scenario"),
    "simulate": ("accelsim.run.simulate", "run_scenario"),
    "whatif": ("accelsim.questions.whatif", "whatif"),
}
__all__ += list(_LAZY)


def __getattr__(name: str):
    """The catalog, the plans and the heavier entry points (simulator, cost model) import on
    first use."""
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'accelsim' has no attribute {name!r}")
