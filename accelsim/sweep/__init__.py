"""Design-space sweeps and configuration search.

A sweep file names a base scenario, axes over its fields and over catalog what-if overrides
(grids, ranges, random or Latin-hypercube samples), constraints and SLOs (``spec``). Its points
run on an executor — a local process pool or Ray (``executors``) — each seeded from the sweep
seed and its own digest, so results never depend on where or in which order points ran. Rows
stream into one SQLite table as points finish (``store``; the module docstring says why SQLite
rather than Parquet), which makes ``--resume`` and crash safety (SIGKILL included) free. The
summaries are pure functions over rows (``pareto``): Pareto fronts of cost vs latency, the best
configuration per device under the SLOs, an SVG chart. ``tune`` searches plans for a card budget
with two such sweeps: the analytic model scores every feasible candidate, the simulator confirms
the best few (``accelsim tune``; ``size_cluster(..., plan="auto")``).

Python use::

    from accelsim.sweep import run_sweep, load_rows, pareto_front
    run = run_sweep("workloads/sweeps/dsv3-devices.yaml", "out/dsv3", workers=2)
    front = pareto_front(run.rows, "tpot_p99", "usd_per_mtok")
    df = run.to_frame()
    best = tune("default", device="h800", cards=32, slo="ttft_p99=2s,tpot_p99=100ms").best
"""

from accelsim.sweep.context import EvalContext, PointSkipped
from accelsim.sweep.pareto import best_per_group, dominates, meets_slo, pareto_front, plot_pareto
from accelsim.sweep.runner import RESULTS_FILE, SweepRun, run_sweep
from accelsim.sweep.spec import (
    Axis,
    Point,
    SweepSpec,
    expand,
    load_sweep,
    parse_axis_values,
    resolve_base,
    sample_rows,
    sweep_from_mapping,
)
from accelsim.sweep.store import ResultStore, load_rows

__all__ = [
    "RESULTS_FILE",
    "Axis",
    "EvalContext",
    "Point",
    "PointSkipped",
    "ResultStore",
    "SweepRun",
    "SweepSpec",
    "best_per_group",
    "dominates",
    "expand",
    "load_rows",
    "load_sweep",
    "meets_slo",
    "pareto_front",
    "parse_axis_values",
    "plot_pareto",
    "resolve_base",
    "run_sweep",
    "sample_rows",
    "sweep_from_mapping",
]
