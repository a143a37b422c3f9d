"""``accelsim sweep``: design-space sweeps on a local pool or a Ray cluster (``tune_cmds`` holds
``accelsim tune``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

import accelsim.cli.options as opt
from accelsim.errors import AccelsimError
from accelsim.files import check_output_dir
from accelsim.sweep.runner import run_sweep
from accelsim.sweep.spec import load_sweep


class _RichProgress:
    """Points done, failures and ETA, drawn by rich while the sweep runs."""

    def __init__(self, quiet: bool) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]sweep[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[red]{task.fields[failed]} failed[/]"),
            TextColumn("[yellow]{task.fields[skipped]} skipped[/]"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=opt.err_console if quiet else opt.console,
            transient=False,
        )
        self.task: Any = None
        self.failed = 0
        self.skipped = 0

    def start(self, total: int, done: int) -> None:
        self.progress.start()
        self.task = self.progress.add_task("sweep", total=total, failed=0, skipped=0)
        # resumed points count as done but do not feed the ETA's rate estimate
        self.progress.update(self.task, completed=done)
        self.progress.reset(self.task, total=total, completed=done, failed=0, skipped=0)

    def advance(self, result: dict[str, Any]) -> None:
        if result["status"] == "error":
            self.failed += 1
        elif result["status"] == "skipped":
            self.skipped += 1
        self.progress.update(self.task, advance=1, failed=self.failed, skipped=self.skipped)

    def stop(self) -> None:
        self.progress.stop()


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


@opt.app.command("sweep")
def sweep_cmd(
    sweep_file: Annotated[Path, typer.Argument(help="Sweep file (YAML): base scenario + axes.")],
    executor: Annotated[
        str, typer.Option("--executor", "-e", help="local (process pool) or ray.")
    ] = "local",
    address: Annotated[
        str | None,
        typer.Option("--address", help="Ray cluster to join (default: start a local instance)."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", "-w", help="Parallel workers (default: CPU count; 0: serial)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output folder (default: sweep-results/NAME)."),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Skip points already recorded in --out.")
    ] = False,
    retry_errors: Annotated[
        bool, typer.Option("--retry-errors", help="With --resume, re-run points that failed.")
    ] = False,
    evaluator: Annotated[
        str | None,
        typer.Option("--evaluator", help="Override the file's evaluator (simulate, analytic, …)."),
    ] = None,
    no_chart: Annotated[bool, typer.Option("--no-chart", help="Skip the SVG chart.")] = False,
    catalog: opt.CatalogOpt = None,
    set_: opt.SetOpt = None,
    json_: opt.JsonOpt = False,
) -> None:
    """Run a design-space sweep; results stream into OUT/results.sqlite (resumable)."""
    opt.check_executor(executor, workers)
    if out is not None:
        check_output_dir(out, "--out")
    spec = load_sweep(sweep_file)
    if set_:
        extra = {}
        for item in set_:
            key, sep, value = item.partition("=")
            if not sep:
                raise AccelsimError(f"--set {item!r}: expected KIND.NAME.FIELD=VALUE")
            extra[key.strip()] = value.strip()
        spec = spec.model_copy(update={"set": {**spec.set, **extra}})
    progress = _RichProgress(quiet=json_)
    try:
        run = run_sweep(
            spec,
            out,
            executor=executor,
            workers=workers,
            address=address,
            resume=resume,
            retry_errors=retry_errors,
            catalog_dirs=catalog,
            progress=progress,  # type: ignore[arg-type]
            chart=not no_chart,
            evaluator=evaluator,
        )
    finally:
        if progress.task is not None:
            progress.stop()
    summary = run.summary()
    if json_:
        opt.emit_json(summary)
    else:
        _render(run, summary)
    failed = summary["counts"].get("error", 0)
    if failed:  # a sweep with failed points is not a success: say how many and why
        first = summary["errors"][0]["message"] if summary["errors"] else "see the results"
        opt.err_console.print(
            f"[bold red]error:[/] {failed} of {run.total} points failed; first: {first}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1)


def _render(run: Any, summary: dict[str, Any]) -> None:
    c = summary["counts"]
    opt.console.print(
        f"[bold]{run.spec.name}[/]: {run.total} points ({run.resumed} resumed, "
        f"{run.evaluated} evaluated, {run.excluded} excluded by constraints) — "
        f"[green]{c.get('ok', 0)} ok[/], [yellow]{c.get('skipped', 0)} skipped[/], "
        f"[red]{c.get('error', 0)} failed[/]; evaluator {run.evaluator}, {run.executor} "
        f"x{run.workers}, {run.elapsed_s:.1f} s ({run.points_per_minute:,.0f} points/min)",
        highlight=False,
    )
    for key, value in run.spec.set.items():
        opt.console.print(f"[yellow]what-if:[/] {key}={value} (on every point)", highlight=False)
    p = run.spec.pareto
    params = run._param_keys()
    best = run.best()
    parts = []
    for k, (lo, hi) in run.spec.slo_bounds().items():
        if hi is not None:
            parts.append(f"{k} <= {_fmt(hi)}")
        if lo is not None:
            parts.append(f"{k} >= {_fmt(lo)}")
    slo = ", ".join(parts)
    t = Table(title=f"Best per {p.group} under SLOs" + (f" ({slo})" if slo else ""))
    cols = [p.group, *[k for k in params if k != p.group], p.cost, *p.latency]
    for col in cols:
        t.add_column(col)
    for g, row in best.items():
        t.add_row(g, *[_fmt(row.get(k)) for k in cols[1:]])
    if best:
        opt.console.print(t)
    else:
        opt.console.print("[yellow]no point meets the SLOs[/]")
    for lat, front in run.fronts().items():
        ft = Table(title=f"Pareto front: {p.cost} vs {lat} ({len(front)} points)")
        fcols = [p.cost, lat, *params]
        for col in fcols:
            ft.add_column(col)
        for row in front[:15]:
            ft.add_row(*[_fmt(row.get(k)) for k in fcols])
        if len(front) > 15:
            ft.caption = f"first 15 of {len(front)}; all in summary.json"
        opt.console.print(ft)
    errors = summary["errors"]
    if errors:
        opt.console.print(
            f"[red]{c.get('error', 0)} points failed[/]; first: {errors[0]['message']}"
        )
    opt.console.print(f"results: {run.db_path}")
    opt.console.print(f"summary: {run.out_dir / 'summary.json'}")
    if run.chart:
        opt.console.print(f"chart:   {run.chart}")
