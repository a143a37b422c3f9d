"""``accelsim run``: simulate one scenario on several seeds (``accelsim.sweep.replicate``), show
its summary — every predicted throughput and latency as the mean across seeds, its confidence
half width and its prediction interval — and optionally write the scenario's own seed's
results."""

from __future__ import annotations

import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

import accelsim.cli.options as opt
import accelsim.cli.progress as bars
from accelsim.cli.emit import EmitOpt, check_emit, print_recipe
from accelsim.files import atomic_path, atomic_write, check_output_dir
from accelsim.lazy import lazy_module
from accelsim.run.resolve import load_scenario
from accelsim.run.scenario import dump_scenario
from accelsim.run.simulate import run_scenario
from accelsim.sim.metrics import METRICS, Summary
from accelsim.sweep.replicate import (
    CONFIDENCE,
    DEFAULT_SEEDS,
    Replicated,
    Replicator,
    SeedInterval,
    pool_size,
    replica_seeds,
)
from accelsim.units import format_value
from accelsim.validate.intervals import Interval, figure_interval

if TYPE_CHECKING:
    from rich.table import Table

#: rich's tables, imported when a summary is drawn: ``run --json`` loads no rich
_table = lazy_module("rich.table")

#: The latency rows: run-summary metric groups (``accelsim.sim.metrics.METRICS`` names
#: ``{group}_mean``, ``_p50``, ``_p99``) and their labels.
_LATENCY_ROWS = (
    ("ttft", "TTFT"),
    ("tpot", "TPOT"),
    ("itl", "ITL"),
    ("e2e", "end-to-end"),
    ("queue", "queueing"),
)
#: The throughput rows of a replicated run: metric, label, unit.
_THROUGHPUT_ROWS = (
    ("requests_per_s", "requests/s", "req/s"),
    ("input_tokens_per_s", "input tokens/s", "tok/s"),
    ("output_tokens_per_s", "output tokens/s", "tok/s"),
    ("output_tokens_per_s_per_card", "output tokens/s per card", "tok/s"),
)


def summary_table(
    s: Summary,
    what_if: bool = False,
    *,
    spreads: Mapping[str, SeedInterval] | None = None,
    intervals: Mapping[str, Interval] | None = None,
) -> Table:
    """The summary of one run as a rich table (stable text for golden tests); a run under
    what-if overrides (``what_if``) says so in the title (``opt.print_overrides`` lists them).
    With ``spreads`` (figures across seeds, ``accelsim.sweep.replicate.across_seeds``) the
    predicted throughputs and latencies are the across-seed means with their confidence
    half width, and with ``intervals`` each carries its prediction interval."""
    spreads = spreads or {}
    intervals = intervals or {}
    n = max((v.n for v in spreads.values()), default=1)
    t = _table.Table(
        title=f"{s.scenario if s.scenario is not None else 'run'}: {s.model or ''} on "
        f"{s.cards} x {s.device or ''}" + (" (what-if)" if what_if else "")
        + (f", mean of {n} seeds" if n > 1 else ""),
        show_header=True,
    )  # fmt: skip

    def figure(name: str, unit: str) -> tuple[str, str]:
        sp = spreads.get(name)
        value = sp.mean if sp is not None else METRICS[name].get(s)
        text = opt.with_interval(value, unit, intervals.get(name))
        half = "" if sp is None or sp.n < 2 else "±" + format_value(sp.half_width, unit)
        return (text, half) if n > 1 else (text,)

    t.add_column("metric")
    t.add_column("value" + (" (P10–P90 prediction interval)" if intervals else ""), justify="right")
    if n > 1:
        t.add_column(f"{CONFIDENCE:.0%} CI, {n} seeds", justify="right")
    t.add_row(
        "requests arrived / completed / rejected", f"{s.arrived} / {s.completed} / {s.rejected}"
    )
    if s.cut_by_horizon is not None:
        t.add_row("requests cut by the horizon (never served)", str(s.cut_by_horizon))
    th = s.throughput
    t.add_row("duration", format_value(s.duration_s, "s"))
    if spreads or intervals:
        for name, label, unit in _THROUGHPUT_ROWS:
            t.add_row(label, *figure(name, unit))
        for group, label in _LATENCY_ROWS:
            if METRICS[f"{group}_mean"].get(s) is not None:
                for q in ("mean", "p50", "p99"):
                    t.add_row(f"{label} {q}", *figure(f"{group}_{q}", "s"))
    else:
        t.add_row("requests/s", f"{th.requests_per_s:.3g}")
        t.add_row("input tokens/s", f"{th.input_tokens_per_s:.4g}")
        t.add_row("output tokens/s", f"{th.output_tokens_per_s:.4g}")
        t.add_row("output tokens/s per card", f"{th.output_tokens_per_s_per_card:.4g}")
        for group, label in _LATENCY_ROWS:
            values = [METRICS[f"{group}_{q}"].get(s) for q in ("mean", "p50", "p99")]
            if values[0] is not None:
                t.add_row(
                    f"{label} mean / p50 / p99", " / ".join(format_value(v, "s") for v in values)
                )
    g = s.goodput
    t.add_row("goodput (TTFT & TPOT SLOs)", f"{g.share * 100:.1f} % ({g.requests_per_s:.3g} req/s)")
    if s.kv_utilization is not None:
        kv = s.kv_utilization
        t.add_row(
            "KV utilization mean / peak", f"{kv.mean_busy * 100:.1f} % / {kv.peak * 100:.1f} %"
        )
    t.add_row("preemptions", str(s.preemptions))
    if s.energy is not None:
        t.add_row("energy per output token", f"{s.energy.joules_per_output_token:.3g} J")
    return t


@opt.app.command()
def run(
    scenario: Annotated[
        str, typer.Argument(help="Scenario file or name in workloads/scenarios/.")
    ] = "default",
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write records.csv, summary.json and scenario.yaml of the scenario's own seed "
            "into DIR (summary.json leaves out the wall time, so reruns write identical files).",
        ),
    ] = None,
    seeds: opt.SeedsOpt = DEFAULT_SEEDS,
    catalog: opt.CatalogOpt = None,
    set_: opt.SetOpt = None,
    json_out: opt.JsonOpt = False,
    emit: EmitOpt = None,
) -> None:
    """Simulate a serving scenario on several seeds and print its summary (throughput, latency,
    goodput), each figure with its spread across seeds and its prediction interval.

    With --emit, print the scenario's launch recipe instead (nothing is simulated)."""
    check_emit(emit)
    if out is not None:
        check_output_dir(out, "--out")
    cat = opt.open_catalog(catalog, set_)
    sc = load_scenario(scenario, cat)
    if emit is not None:
        print_recipe(sc, emit, cat)
        return
    all_seeds = replica_seeds(sc.seed, seeds)
    others = [sc.model_copy(update={"seed": s}) for s in all_seeds[1:]]
    # the other seeds run on the pool while this process simulates the scenario's own; on an
    # interrupt the pool's workers stop and the waiting thread is not joined
    side = ThreadPoolExecutor(max_workers=1)
    try:
        with (
            Replicator(cat, workers=pool_size(None, len(others))) as rep,
            bars.text_bar("[bold]simulating[/]", "{task.fields[info]}") as bar,
        ):
            task = bar.add_task("run", total=1.0, info="")

            def progress(now: float, done: int, total: int, span: float) -> None:
                frac = done / total if total else 1.0
                bar.update(
                    task,
                    completed=frac,
                    info=f"seed {sc.seed}: t={now:,.0f} s  {done}/{total} requests",
                )

            rest = side.submit(rep.run, others)
            result = run_scenario(sc, cat, progress=progress)
            replicated = Replicated(tuple(all_seeds), (result.summary, *rest.result()))
    finally:
        side.shutdown(wait=False, cancel_futures=True)
    summary = result.summary.as_dict()
    s = result.summary
    device = result.scenario.device
    spreads = replicated.across
    values = {k: v.mean for k, v in spreads.items()}
    intervals = {
        k: iv for k in spreads if (iv := figure_interval(cat, device, k, values[k])) is not None
    }
    interval = intervals["output_tokens_per_s"]
    what_if = bool(cat.overrides or cat.scenario_overrides)
    if what_if:
        summary["overrides"] = cat.overrides_in_effect()
    if out is not None:
        with atomic_path(out / "records.csv") as tmp:
            result.records.write_csv(tmp)
        # the wall time is not a result: summary.json is byte-identical across reruns
        recorded = {k: v for k, v in summary.items() if k != "wall_s"}
        atomic_write(
            out / "summary.json", json.dumps(recorded, indent=2, sort_keys=True, default=str) + "\n"
        )
        atomic_write(out / "scenario.yaml", dump_scenario(result.scenario))
    if json_out:
        payload = {k: v for k, v in summary.items() if k != "wall_s"}
        across = replicated.as_dict()
        for k, iv in intervals.items():
            across["across_seeds"][k]["interval"] = iv.as_dict()
        opt.emit_json({**payload, **across, "interval": interval.as_dict()})
        return
    opt.console.print(
        summary_table(
            s, what_if and bool(summary["overrides"]), spreads=spreads, intervals=intervals
        )
    )
    opt.console.print(
        f"Throughputs and latencies: means over seeds {', '.join(map(str, all_seeds))} with "
        f"the half width of their {CONFIDENCE:.0%} confidence interval across seeds; P10–P90: "
        f"the prediction interval from cross-validated residuals ({interval.basis}). Counts, "
        f"goodput, KV and energy: seed {sc.seed}.",
        highlight=False,
    )
    opt.print_overrides(summary.get("overrides", []))
    if out is not None:
        opt.console.print(f"wrote {out}/records.csv, summary.json, scenario.yaml (seed {sc.seed})")
