"""``accelsim run``: simulate one scenario, show its summary, optionally write the results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import TextColumn
from rich.table import Table

import accelsim.cli.options as opt
from accelsim.files import atomic_path, atomic_write, check_output_dir
from accelsim.run.resolve import load_scenario
from accelsim.run.scenario import dump_scenario
from accelsim.run.simulate import run_scenario
from accelsim.sim.metrics import METRICS, Summary
from accelsim.units import format_value
from accelsim.validate.intervals import interval_for

#: The latency rows: run-summary metric groups (``accelsim.sim.metrics.METRICS`` names
#: ``{group}_mean``, ``_p50``, ``_p99``) and their labels.
_LATENCY_ROWS = (
    ("ttft", "TTFT"),
    ("tpot", "TPOT"),
    ("itl", "ITL"),
    ("e2e", "end-to-end"),
    ("queue", "queueing"),
)


def summary_table(s: Summary, what_if: bool = False) -> Table:
    """The summary of one run as a rich table (stable text for golden tests); a run under
    what-if overrides (``what_if``) says so in the title (``opt.print_overrides`` lists them)."""
    t = Table(
        title=f"{s.scenario if s.scenario is not None else 'run'}: {s.model or ''} on "
        f"{s.cards} x {s.device or ''}" + (" (what-if)" if what_if else ""),
        show_header=True,
    )
    t.add_column("metric")
    t.add_column("value", justify="right")
    t.add_row(
        "requests arrived / completed / rejected", f"{s.arrived} / {s.completed} / {s.rejected}"
    )
    if s.cut_by_horizon is not None:
        t.add_row("requests cut by the horizon (never served)", str(s.cut_by_horizon))
    th = s.throughput
    t.add_row("duration", format_value(s.duration_s, "s"))
    t.add_row("requests/s", f"{th.requests_per_s:.3g}")
    t.add_row("input tokens/s", f"{th.input_tokens_per_s:.4g}")
    t.add_row("output tokens/s", f"{th.output_tokens_per_s:.4g}")
    t.add_row("output tokens/s per card", f"{th.output_tokens_per_s_per_card:.4g}")
    for group, label in _LATENCY_ROWS:
        values = [METRICS[f"{group}_{q}"].get(s) for q in ("mean", "p50", "p99")]
        if values[0] is not None:
            t.add_row(f"{label} mean / p50 / p99", " / ".join(format_value(v, "s") for v in values))
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
            help="Write records.csv, summary.json and scenario.yaml into DIR (summary.json "
            "leaves out the wall time, so reruns write identical files).",
        ),
    ] = None,
    catalog: opt.CatalogOpt = None,
    set_: opt.SetOpt = None,
    json_out: opt.JsonOpt = False,
) -> None:
    """Simulate a serving scenario and print its summary (throughput, latency, goodput)."""
    if out is not None:
        check_output_dir(out, "--out")
    cat = opt.open_catalog(catalog, set_)
    sc = load_scenario(scenario, cat)
    if json_out:
        result = run_scenario(sc, cat)
    else:
        with opt.progress_bar(
            TextColumn("[bold]simulating[/]"), TextColumn("{task.fields[info]}")
        ) as bar:
            task = bar.add_task("run", total=1.0, info="")

            def progress(now: float, done: int, total: int, span: float) -> None:
                frac = done / total if total else 1.0
                bar.update(task, completed=frac, info=f"t={now:,.0f} s  {done}/{total} requests")

            result = run_scenario(sc, cat, progress=progress)
    summary = result.summary.as_dict()
    s = result.summary
    interval = interval_for(
        cat, result.scenario.device, "serving", s.throughput.output_tokens_per_s
    )
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
        opt.emit_json({**summary, "interval": interval.as_dict()})
        return
    opt.console.print(summary_table(result.summary, what_if and bool(summary["overrides"])))
    opt.console.print(
        f"output tokens/s {s.throughput.output_tokens_per_s:,.0f} {interval.label()}: "
        f"P10–P90 from cross-validated residuals, {interval.basis}"
    )
    opt.print_overrides(summary.get("overrides", []))
    if out is not None:
        opt.console.print(f"wrote {out}/records.csv, summary.json, scenario.yaml")
