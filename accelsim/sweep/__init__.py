"""Design-space sweeps and configuration search.

A sweep file names a base scenario, axes over its fields and over catalog what-if overrides
(grids, ranges, random or Latin-hypercube samples), constraints and SLOs (``spec``). Its points
run on an executor — local worker processes, each keeping to a replica shape (``affinity``), or
Ray (``executors``) — each seeded from the sweep seed and its own digest, so results never
depend on where or in which order points ran. Rows
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

from accelsim.lazy import lazy_attributes

# Everything imports on first use: ``accelsim run --seeds`` needs only ``replicate`` (and what
# it imports), not the runner, the spec parser, the store or the charts (issue 18's start-up).
_LAZY = {
    "RESULTS_FILE": "runner",
    "Axis": "spec",
    "EvalContext": "context",
    "Point": "spec",
    "PointSkipped": "context",
    "ResultStore": "store",
    "SweepRun": "runner",
    "SweepSpec": "spec",
    "best_per_group": "pareto",
    "dominates": "pareto",
    "expand": "spec",
    "load_rows": "store",
    "load_sweep": "spec",
    "meets_slo": "pareto",
    "pareto_front": "pareto",
    "parse_axis_values": "spec",
    "plot_pareto": "pareto",
    "resolve_base": "spec",
    "run_sweep": "runner",
    "sample_rows": "spec",
    "sweep_from_mapping": "spec",
}
__all__ = sorted(_LAZY)


__getattr__ = lazy_attributes(
    "accelsim.sweep", {name: f"accelsim.sweep.{module}" for name, module in _LAZY.items()}
)
