"""What an evaluator is handed for one sweep point: the point's task, its context (the scenario
mapping, the seed, the catalog built lazily with the point's what-if overrides and cached per
process) and ``PointSkipped``, the one exception that marks a point infeasible rather than failed.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from accelsim.catalog.loader import Catalog, load_catalog
from accelsim.errors import AccelsimError

__all__ = ["EvalContext", "PointSkipped", "Task", "catalog_inputs"]


class PointSkipped(AccelsimError):
    """The point is infeasible (e.g. the plan does not fit in memory); not an error."""


@dataclass(frozen=True)
class Task:
    """Everything a worker needs for one point (picklable, small)."""

    digest: str
    index: int
    seed: int
    params: dict[str, Any]
    scenario: dict[str, Any]
    overrides: dict[str, Any]
    evaluator: str
    catalog_dirs: tuple[str, ...] = ()
    require_fit: bool = True
    keep: tuple[str, ...] | None = None
    cost: tuple[tuple[str, Any], ...] = ()


@dataclass
class EvalContext:
    scenario: dict[str, Any]
    seed: int
    require_fit: bool
    overrides: dict[str, Any]
    catalog_dirs: tuple[str, ...] = ()
    cost: dict[str, Any] = field(default_factory=dict)
    _catalog: Any = field(default=None, repr=False)

    @property
    def catalog(self) -> Any:
        if self._catalog is None:
            self._catalog = _catalog(self.catalog_dirs, tuple(sorted(self.overrides.items())))
        return self._catalog


@functools.lru_cache(maxsize=64)
def _catalog(dirs: tuple[str, ...], overrides: tuple[tuple[str, Any], ...]) -> Any:
    return load_catalog(list(dirs) or None, {k: str(v) for k, v in overrides} or None)


def catalog_inputs(catalog: Catalog) -> tuple[tuple[str, ...], dict[str, str]]:
    """The user folders and the catalog overrides (a sweep ``set`` mapping) from which a worker
    rebuilds ``catalog`` (``EvalContext.catalog``)."""
    dirs = tuple(str(r) for r in catalog.roots[1:])
    sets = {}
    for o in catalog.overrides:
        key, _, value = str(o).partition("=")
        sets[key] = value
    return dirs, sets
