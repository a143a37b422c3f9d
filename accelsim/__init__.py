"""accelsim: simulate and cost AI accelerator clusters serving sparse Mixture-of-Experts LLMs.

The public API (notebook use) is re-exported here; see README.md for a tour.
"""

import sys
import types

from accelsim.catalog import Catalog, load_catalog
from accelsim.dtypes import Precision, precision
from accelsim.errors import AccelsimError
from accelsim.plan import MemoryFit, ParallelPlan, fit, fit_best, minimum_cards, parse_plan

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

__version__ = "0.1.0"

_LAZY = {
    "compare": ("accelsim.compare", "compare"),
    "estimate_tco": ("accelsim.tco", "estimate_tco"),
    "size_cluster": ("accelsim.sizing", "size_cluster"),
    "load_scenario": ("accelsim.scenario", "load_scenario"),
    "simulate": ("accelsim.scenario", "run_scenario"),
    "whatif": ("accelsim.whatif", "whatif"),
}
__all__ += list(_LAZY)


def __getattr__(name: str):
    """Heavier entry points (simulator, cost model) import on first use."""
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'accelsim' has no attribute {name!r}")


class _Package(types.ModuleType):
    """``accelsim.compare`` and ``accelsim.whatif`` name both a submodule and its entry function.
    Importing a submodule normally binds it as the package attribute, which would shadow the
    lazily exported function; this package keeps the function (the submodule stays importable
    through ``sys.modules``)."""

    def __setattr__(self, name: str, value: object) -> None:
        if name in _LAZY and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
