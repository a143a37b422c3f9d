"""accelsim: simulate and cost AI accelerator clusters serving sparse Mixture-of-Experts LLMs.

The public API (notebook use) is re-exported here; see README.md for a tour.
"""

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
