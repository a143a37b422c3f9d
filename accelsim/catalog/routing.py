"""Schema of ``workloads/routing/``: named expert-routing profiles.

A profile holds the parameters of ``accelsim.model.routing.RoutingModel`` as sourced catalog
data: the long-run popularity (``kind`` and ``skew``), the per-batch ``drift`` that an EPLB
placement built on history cannot see, and the ``seed`` of the drift draws. Validation cases name
a profile (``routing: production``); ``accelsim.run.timing.routing_model`` turns it into a
``RoutingModel``. A fitted parameter carries ``conf: C`` and its ``fit_cases`` (the
``production`` drift, refitted by ``accelsim.validate.calibrate``).

Assumption: a profile never names ``counts`` (measured per-expert counts belong to one run, not
to a reusable profile), so ``kind`` is ``uniform``, ``zipf`` or ``dirichlet``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from accelsim.catalog.schema import CatalogEntry

__all__ = ["RoutingProfile"]


class RoutingProfile(CatalogEntry):
    """One named routing profile (see the module docstring)."""

    kind: Literal["uniform", "zipf", "dirichlet"] = "uniform"
    skew: float = Field(default=0.0, ge=0)
    drift: float = Field(default=0.0, ge=0)
    seed: int = 0
