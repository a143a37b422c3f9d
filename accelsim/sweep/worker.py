"""What runs on a worker (a pool process or a Ray task): evaluate one point, never raise.

An *evaluator* turns one resolved scenario mapping into a flat dict of metrics::

    def evaluator(ctx: EvalContext) -> dict[str, float | int | str | None]

``ctx`` carries the scenario mapping, the catalog (built lazily, with the point's what-if
overrides, cached per process), the point seed and whether plans that do not fit must be skipped.
An evaluator raises ``PointSkipped(reason)`` for an infeasible point (recorded as ``skipped``);
any other exception is recorded as ``error`` with its message, and the sweep goes on.

Evaluators are named in the sweep file: ``auto`` (the simulator), ``simulate``, ``analytic``,
``toy`` (a cheap deterministic function for tests and benchmarks of the sweep machinery), or
``package.module:function``.
They are looked up by name on the worker, so they must be importable there.
"""

from __future__ import annotations

import functools
import importlib
import os
import socket
import time
import traceback
from collections.abc import Callable
from typing import Any

from accelsim.errors import AccelsimError
from accelsim.sweep.context import EvalContext, PointSkipped, Task
from accelsim.sweep.evaluators import analytic, simulate, toy

__all__ = ["resolve_evaluator", "run_batch", "run_task"]

BUILTIN_EVALUATORS: dict[str, Callable[[EvalContext], dict[str, Any]]] = {
    "toy": toy,
    "analytic": analytic,
    "simulate": simulate,
}


def auto_evaluator() -> str:
    """``auto`` is the simulator: the evaluator that runs the serving simulation."""
    return "simulate"


@functools.lru_cache(maxsize=32)
def resolve_evaluator(name: str) -> Callable[[EvalContext], dict[str, Any]]:
    """The evaluator function named ``name`` (a built-in name or ``module:function``)."""
    if name == "auto":
        name = auto_evaluator()
    if name in BUILTIN_EVALUATORS:
        return BUILTIN_EVALUATORS[name]
    mod_name, sep, fn_name = name.partition(":")
    if not sep:
        raise AccelsimError(
            f"evaluator {name!r}: use one of {', '.join(['auto', *BUILTIN_EVALUATORS])} "
            "or package.module:function"
        )
    try:
        mod = importlib.import_module(mod_name)
        return getattr(mod, fn_name)
    except (ImportError, AttributeError) as exc:
        raise AccelsimError(f"evaluator {name!r}: cannot import ({exc})") from None


def _scalar_metrics(metrics: dict[str, Any], keep: tuple[str, ...] | None) -> dict[str, Any]:
    out = {}
    for k, v in metrics.items():
        if keep is not None and k not in keep:
            continue
        if hasattr(v, "item") and not isinstance(v, str):
            v = v.item()
        if v is None or isinstance(v, bool | int | float | str):
            out[k] = v
    return out


def run_task(task: Task) -> dict[str, Any]:
    """Evaluate one point; always returns a result dict (status ok / skipped / error)."""
    t0 = time.perf_counter()
    result: dict[str, Any] = {
        "digest": task.digest,
        "index": task.index,
        "seed": task.seed,
        "params": task.params,
        "worker": f"{socket.gethostname()}:{os.getpid()}",
    }
    try:
        fn = resolve_evaluator(task.evaluator)
        ctx = EvalContext(
            scenario=task.scenario,
            seed=task.seed,
            require_fit=task.require_fit,
            overrides=task.overrides,
            catalog_dirs=task.catalog_dirs,
            cost=dict(task.cost),
        )
        metrics = fn(ctx)
        if not isinstance(metrics, dict):
            raise TypeError(f"evaluator returned {type(metrics).__name__}, expected a dict")
        result.update(status="ok", metrics=_scalar_metrics(metrics, task.keep), message=None)
    except PointSkipped as exc:
        result.update(status="skipped", metrics=None, message=str(exc))
    except AccelsimError as exc:
        result.update(status="error", metrics=None, message=f"{type(exc).__name__}: {exc}")
    except Exception as exc:
        tb = traceback.extract_tb(exc.__traceback__)
        where = f" (at {tb[-1].filename}:{tb[-1].lineno})" if tb else ""
        result.update(status="error", metrics=None, message=f"{type(exc).__name__}: {exc}{where}")
    result["elapsed_s"] = time.perf_counter() - t0
    return result


def run_batch(tasks: list[Task]) -> list[dict[str, Any]]:
    return [run_task(t) for t in tasks]
