"""``accelsim run``: simulate one scenario, show its summary, optionally write the results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import TextColumn
from rich.table import Table

from accelsim.cli.options import (
    CatalogOpt,
    JsonOpt,
    SetOpt,
    app,
    console,
    emit_json,
    open_catalog,
    print_overrides,
    progress_bar,
)
from accelsim.run.resolve import load_scenario
from accelsim.run.scenario import dump_scenario, write_atomic
from accelsim.run.simulate import run_scenario
from accelsim.sim.metrics import METRICS, Summary
from accelsim.units import format_value

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
    what-if overrides (``what_if``) says so in the title (``print_overrides`` lists them)."""
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


@app.command()
def run(
    scenario: Annotated[
        str, typer.Argument(help="Scenario file or name in workloads/scenarios/.")
    ] = "default",
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write records.csv, summary.json and scenario.yaml into DIR."),
    ] = None,
    catalog: CatalogOpt = None,
    set_: SetOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Simulate a serving scenario and print its summary (throughput, latency, goodput)."""
    cat = open_catalog(catalog, set_)
    sc = load_scenario(scenario, cat)
    if json_out:
        result = run_scenario(sc, cat)
    else:
        with progress_bar(
            TextColumn("[bold]simulating[/]"), TextColumn("{task.fields[info]}")
        ) as bar:
            task = bar.add_task("run", total=1.0, info="")

            def progress(now: float, done: int, total: int, span: float) -> None:
                frac = done / total if total else 1.0
                bar.update(task, completed=frac, info=f"t={now:,.0f} s  {done}/{total} requests")

            result = run_scenario(sc, cat, progress=progress)
    summary = result.summary.as_dict()
    what_if = bool(cat.overrides or cat.scenario_overrides)
    if what_if:
        summary["overrides"] = cat.overrides_in_effect()
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        tmp = out / ".records.csv.tmp"
        result.records.write_csv(tmp)
        tmp.replace(out / "records.csv")
        write_atomic(
            out / "summary.json", json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n"
        )
        write_atomic(out / "scenario.yaml", dump_scenario(result.scenario))
    if json_out:
        emit_json(summary)
        return
    console.print(summary_table(result.summary, what_if and bool(summary["overrides"])))
    print_overrides(summary.get("overrides", []))
    if out is not None:
        console.print(f"wrote {out}/records.csv, summary.json, scenario.yaml")
