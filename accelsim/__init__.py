"""accelsim: simulate and cost AI accelerator clusters serving sparse Mixture-of-Experts LLMs.

The public API (notebook use) is re-exported here; see README.md for a tour.
"""

from accelsim.catalog.loader import Catalog, load_catalog
from accelsim.dtypes import Precision, precision
from accelsim.errors import AccelsimError
from accelsim.model.plan import MemoryFit, ParallelPlan, fit, fit_best, minimum_cards, parse_plan
from accelsim.version import __version__ as __version__

__all__ = [
    "AccelsimError",
    "Catalog",
    "MemoryFit",
    "ParallelPlan",
    "Precision",
    "fit",
    "fit_best",
    "load_catalog",
    "minimum_cards",
    "parse_plan",
    "precision",
]


_LAZY = {
    "compare": ("accelsim.questions.compare", "compare"),
    "estimate_tco": ("accelsim.run.pricing", "estimate_tco"),
    "size_cluster": ("accelsim.questions.sizing", "size_cluster"),
    "load_scenario": ("accelsim.run.resolve", "load_scenario"),
    "simulate": ("accelsim.run.simulate", "run_scenario"),
    "whatif": ("accelsim.questions.whatif", "whatif"),
}
__all__ += list(_LAZY)


def __getattr__(name: str):
    """Heavier entry points (simulator, cost model) import on first use."""
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'accelsim' has no attribute {name!r}")
