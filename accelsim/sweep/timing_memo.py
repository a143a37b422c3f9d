"""One timing model per (model, device, plan, framework) per process: ``shared_deployment``.

A sweep, the replications of a scenario and the sizes ``size`` and ``compare`` try simulate the
same replica again and again — the seeds, the replica count, the arrival rate change, the
replica does not. Each ``accelsim.run.resolve.deploy`` builds a fresh ``PerfModel``, whose per-shape
figures (its iteration cache, the layer tables behind it) start empty, so every run re-priced
the same batch shapes. ``shared_deployment`` deploys a scenario as ``deploy`` does and hands
each pool the ``PerfModel`` built first for the same key in this process, so the shapes one
run priced are free for the next.

The key, per pool: the catalog object (a what-if override builds another catalog, so another
model), the pool's role, its plan with ``replicas`` set to 1, and the resolved scenario as JSON
without the fields the timing model is never built from (``RUN_FIELDS``: the seed, the card
count and plan — the pool's plan stands for them —, the traffic, SLOs, horizon, router, names
and the devices list; ``accelsim.run.resolve._perf_model`` reads none of them). Everything it is
built from — model, device, server, precision, scheduler limits, framework, graph settings,
routing skew, speculative decoding, disaggregated pool specs — is in that key, and so is any
field added to scenarios later. Why sharing changes no number:

- a ``PerfModel``'s figures are a pure function of its construction and of the batch priced
  (its caches and tables hold exact results of that function; ``accelsim.model.perf.model``),
  so a model that priced other runs first returns the very floats a fresh one would;
- the timing model never reads the plan's ``replicas`` (the simulator takes the replica count
  from the pool, ``accelsim.run.simulate``), so one model serves every replica count of a
  shape (``tests/test_timing_memo.py`` checks both, on dense, MLA-MoE, Mixtral and DeepSeek-V4
  models);
- the engine's own per-run cache (``accelsim.sim.iteration_cache``) is still new each run, so a
  summary's ``iteration_model_calls`` is unchanged.

Bounded: at most ``MEMO_SIZE`` timing models per catalog, least recently used dropped first
(each holds at most its own bounded caches). Thread-safe (``compare`` sizes devices from
several threads).
"""

from __future__ import annotations

import json
import threading
import weakref
from collections import OrderedDict
from dataclasses import replace

from accelsim.catalog.loader import Catalog
from accelsim.model.perf.model import PerfModel
from accelsim.run.resolve import DeployedPool, Deployment, deploy
from accelsim.run.scenario import Scenario

__all__ = ["MEMO_SIZE", "RUN_FIELDS", "shared_deployment"]

#: Timing models kept per catalog: a lane of ``compare`` or ``size`` runs one device's shape,
#: a sweep the points of one shape one after the other, so a few suffice; each model's caches
#: are bounded (``accelsim.model.perf.model.ITER_CACHE_SIZE``, the layer table's
#: ``TABLE_SIZE``), so the memo's memory is too.
MEMO_SIZE = 4
#: Scenario fields left out of the key: what a run varies that no timing model is built from.
RUN_FIELDS = frozenset(
    {
        "seed",
        "cards",
        "plan",
        "traffic",
        "slo",
        "horizon",
        "router",
        "name",
        "description",
        "devices",
    }
)

_LOCK = threading.Lock()
_MEMO: weakref.WeakKeyDictionary[Catalog, OrderedDict[tuple[str, str, str], PerfModel]] = (
    weakref.WeakKeyDictionary()
)


def _key(dep: Deployment, pool: DeployedPool) -> tuple[str, str, str]:
    scenario = dep.scenario.model_dump(mode="json", exclude=set(RUN_FIELDS))
    return (
        pool.role,
        repr(replace(pool.plan, replicas=1)),
        json.dumps(scenario, sort_keys=True, default=repr),
    )


def _shared(catalog: Catalog, dep: Deployment, pool: DeployedPool) -> PerfModel:
    key = _key(dep, pool)
    with _LOCK:
        memo = _MEMO.get(catalog)
        if memo is None:
            memo = _MEMO[catalog] = OrderedDict()
        perf = memo.get(key)
        if perf is None:
            perf = memo[key] = pool.perf
            if len(memo) > MEMO_SIZE:
                memo.popitem(last=False)
        else:
            memo.move_to_end(key)
        return perf


def shared_deployment(sc: Scenario | Deployment, catalog: Catalog) -> Deployment:
    """``deploy(sc, catalog)`` with each pool's timing model the one this process built first
    for the same key (module docstring); a ``Deployment`` given is used as it is."""
    if isinstance(sc, Deployment):
        return sc
    dep = deploy(sc, catalog)
    pools = tuple(replace(p, perf=_shared(catalog, dep, p)) for p in dep.pools)
    return replace(dep, pools=pools)
